#!/usr/bin/env node
// gen-xlmr-fast-cases.js — reference ids for the XLM-R (Unigram) tokenizer
// from Hugging Face's Rust `tokenizers` (npm `tokenizers`, 0.23.2), the fast
// tokenizer sentence-transformers' CrossEncoder runs.
//
// Writes, for the model of testdata/spm (made by scripts/gen-spm-tests.py):
//   testdata/spm/cases.jsonl    {"text", "ids"}: the fixed cases below
//   testdata/spm/stress.jsonl   {"text", "ids"} and {"query", "text",
//                               "max_length", "input_ids"}: generated ones
//   testdata/spm/stress-converter.jsonl  the same for the pipeline
//                               transformers' XLMRobertaConverter builds
//                               from the .model alone (SpmConverter:
//                               Precompiled, Strip right, Replace(" {2,}",
//                               "\u2581"); user-defined pieces unnormalized)
// and, when ../shared/golden/tiny-xlmr-ce/tokenizer.json is there, the same
// stress texts for that model (only ids, never the model's files):
//   testdata/xlmr-fast/tiny-xlmr-ce.jsonl, tiny-xlmr-ce-converter.jsonl
// tests/test_sentencepiece.c reads them; `make check` never runs this.
//
// Needs: cd /tmp && npm install tokenizers@0.23.2
// Run from the repository root:
//   NODE_PATH=/tmp/node_modules node scripts/gen-xlmr-fast-cases.js
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Tokenizer } = require('tokenizers');

// tokenizer.json rewritten with the converter's pipeline for a lone .model.
function converterTokenizer(file) {
  const j = JSON.parse(fs.readFileSync(file, 'utf8'));
  const pre = j.normalizer.normalizers.filter((n) => n.type === 'Precompiled');
  j.normalizer = { type: 'Sequence', normalizers: pre.concat([
    { type: 'Strip', strip_left: false, strip_right: true },
    { type: 'Replace', pattern: { Regex: ' {2,}' }, content: '\u2581' }]) };
  for (const a of j.added_tokens) if (!a.special) a.normalized = false;
  const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'xlmr-')), 'tokenizer.json');
  fs.writeFileSync(tmp, JSON.stringify(j));
  return Tokenizer.fromFile(tmp);
}

// Whitespace handling, normalization, unknown characters, user-defined and
// special-token text, the scripts the model was trained on.
const CASES = [
  '', ' ', '   ', '\t\n', 'hello', ' hello', 'hello ', '  hello   world  ',
  'hello\tworld\nnew line', 'a\u00a0b\u3000c', '\u2581', 'a\u2581', '\u2581a \u2581 b',
  'The quick brown fox jumps over the lazy dog.',
  'Supercalifragilisticexpialidocious antidisestablishmentarianism',
  'Donaudampfschifffahrtsgesellschaftskapitän',
  'Straße naß Bäume Frühling', 'crème brûlée à côté', 'e\u0301 a\u0308 o\u0302 n\u0303 é ä',
  'Съешь же ещё этих мягких французских булок', 'Η γρήγορη καφέ αλεπού',
  'العربية لغة جميلة', 'עברית נכתבת מימין לשמאל', '我们今天去公园散步，天气非常好。',
  '東京は日本の首都です', '한국어는 한글로 씁니다', 'ภาษาไทยไม่มีการเว้นวรรค',
  'हिन्दी भाषा', 'ქართული ენა', 'Հայերենը',
  '😀 😂 👍🏽 ❤️ 🎉 👩‍💻 🇫🇷', 'emoji😀inside', 'ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ ﬁ ﬂ',
  '𝐛𝐨𝐥𝐝 𝔣𝔯𝔞𝔨𝔱𝔲𝔯 x² ½', '3.14159 2024-06-01 1,000,000',
  'https://example.org/path?q=1 user@example.com',
  '[URL] link [URL][URL]x', '<s> </s> <unk> <pad> <mask>',
  'rare 龘 靐 𠀋 ᚠᛇᚻ ꙮ', 'zero\u200bwidth\u200dspace', 'bell\u0007 and \u0000 nul',
  '\ufffd replacement', 'x'.repeat(300), 'ab'.repeat(150) + ' ' + '語'.repeat(40),
  'MiXeD CaSe WORDS', 'İstanbul ǅ ﬃ Ⅻ ㎏ ℡',
  'hello\n', 'a <s> b', 'a<mask>b', 'a <mask> b', 'x  <mask>', '<mask>', '</s></s>',
  '\r\n', 'a\r\nb', '\u0000', 'a\u0000b', '\u0000\u0000', 'e\u0301\u0301\u0301x',
];

// Pieces the stress texts are made of.
const PARTS = [
  'hello', 'world', 'the', 'reranker', 'Straße', 'café', 'naïve', 'e\u0301',
  'a\u0308\u0323', 'Москва', 'столицей', 'καφέ', 'العربية', 'עברית', '我们', '天气非常好',
  '東京', 'ひらがな', '한국어', 'ภาษาไทย', 'हिन्दी', 'ქართული', '😀', '👍🏽', '👩‍💻',
  '🇫🇷', '❤️', 'ｆｕｌｌ', 'ＡＢＣ', '１２３', 'ﬁ', '½', 'x²', '𝐛𝐨𝐥𝐝', '龘', '𠀋',
  'supercalifragilisticexpialidocious', 'Donaudampfschifffahrtsgesellschaft',
  '<s>', '</s>', '<pad>', '<unk>', '<mask>', '[URL]', '<s', 's>', '<', '>',
  '\u0000', '\u0007', '\u001b', '\u007f', '\u200b', '\u200d', '\ufeff', '\u2581',
  '\u00a0', '\u3000', '\u2028', '\u0085', '.', ',', '!', '?', '-', '...', '"', "'",
  '1', '42', '3.14', 'https://example.org/a?b=c', 'MiXeD',
];
const SPACES = [' ', ' ', ' ', '', '', '  ', '   ', '\t', '\n', '\r\n', '\n\n', ' \n', '\t ', '\u3000', '\u00a0'];

// A small deterministic generator (mulberry32).
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function stressTexts() {
  const r = rng(20261202);
  const pick = (a) => a[Math.floor(r() * a.length)];
  const out = [];
  for (let i = 0; i < 300; i++) {
    let s = r() < 0.3 ? pick(SPACES) : '';
    const n = 1 + Math.floor(r() * 8);
    for (let k = 0; k < n; k++) s += (k ? pick(SPACES) : '') + pick(PARTS);
    if (r() < 0.4) s += pick(SPACES);
    out.push(s);
  }
  // Random code points from many blocks (combining marks, controls,
  // variation selectors, emoji parts, CJK, Hangul jamo, math letters).
  const blocks = [[0x20, 0x7e], [0, 0x20], [0x80, 0x24f], [0x300, 0x36f], [0x370, 0x4ff],
    [0x590, 0x6ff], [0x900, 0x97f], [0xe00, 0xe7f], [0x1100, 0x11ff], [0x2000, 0x206f],
    [0x2100, 0x24ff], [0x3000, 0x30ff], [0x3200, 0x33ff], [0x4e00, 0x4e80], [0xac00, 0xac40],
    [0xfe00, 0xfe0f], [0xff00, 0xffef], [0x1f300, 0x1f6ff], [0x1d400, 0x1d4ff]];
  for (let i = 0; i < 150; i++) {
    let s = '';
    for (let k = 1 + Math.floor(r() * 20); k > 0; k--) {
      if (r() < 0.2) { s += pick(PARTS.concat(SPACES)); continue; }
      const [a, b] = pick(blocks);
      s += String.fromCodePoint(a + Math.floor(r() * (b - a + 1)));
    }
    out.push(s);
  }
  // Whitespace-only texts and long words.
  for (const w of SPACES) out.push(w, w + w, w + 'a' + w);
  out.push('w'.repeat(500), 'абв'.repeat(100) + ' x', '😀'.repeat(60), ' '.repeat(50));
  return out;
}

async function ids(tok, text) {
  const e = await tok.encode(text, null, { addSpecialTokens: false });
  return Array.from(e.getIds());
}

async function pairIds(tok, q, d, max) {
  tok.setTruncation(max);
  const e = await tok.encode(q, d);
  tok.setTruncation(100000);
  return Array.from(e.getIds());
}

async function writeCases(path, tok, texts, pairs) {
  const lines = [];
  for (const t of texts) lines.push(JSON.stringify({ text: t, ids: await ids(tok, t) }));
  for (const [q, d, max] of pairs)
    lines.push(JSON.stringify({ query: q, text: d, max_length: max, input_ids: await pairIds(tok, q, d, max) }));
  fs.writeFileSync(path, lines.join('\n') + '\n');
  process.stderr.write(`${path}: ${lines.length} cases\n`);
}

(async () => {
  const texts = stressTexts();
  const r = rng(7);
  const pairs = [];
  for (let i = 0; i < 120; i++) {
    const q = texts[Math.floor(r() * texts.length)];
    const d = texts[Math.floor(r() * texts.length)];
    pairs.push([q, d, 5 + Math.floor(r() * 30)]);
  }
  const own = Tokenizer.fromFile('testdata/spm/tokenizer.json');
  await writeCases('testdata/spm/cases.jsonl', own, CASES, []);
  await writeCases('testdata/spm/stress.jsonl', own, texts, pairs);
  await writeCases('testdata/spm/stress-converter.jsonl',
                   converterTokenizer('testdata/spm/tokenizer.json'), texts, pairs);
  const shared = '../shared/golden/tiny-xlmr-ce/tokenizer.json';
  if (fs.existsSync(shared)) {
    fs.mkdirSync('testdata/xlmr-fast', { recursive: true });
    await writeCases('testdata/xlmr-fast/tiny-xlmr-ce.jsonl', Tokenizer.fromFile(shared), texts, pairs);
    await writeCases('testdata/xlmr-fast/tiny-xlmr-ce-converter.jsonl',
                     converterTokenizer(shared), texts, pairs);
  }
})();
