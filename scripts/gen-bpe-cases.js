#!/usr/bin/env node
// gen-bpe-cases.js — reference cases for the BPE tokenizer (tests/test_bpe.c).
//
// Expected ids come from npm `tokenizers` (Hugging Face's Rust tokenizers
// library with Node bindings), never from rerank.  Writes into testdata/bpe/:
//   {gpt2,llama,char,spm,drop}/tokenizer.json
//       five small BPE tokenizers this script builds (its own little merge
//       learner over an inline multilingual corpus), each exercising options
//       the golden tokenizers do not: ByteLevel add_prefix_space, NFKC +
//       Lowercase, Strip/Prepend/NFD normalizers, the Llama-3 regex, merges as
//       pairs and as strings, ignore_merges, unk with fuse_unk, byte_fallback,
//       continuing_subword_prefix / end_of_word_suffix, added tokens with
//       lstrip / rstrip / single_word / normalized, Roberta/Bert/Template
//       post-processors, the Llama-2 layout (Prepend + Replace, no
//       pre-tokenizer), characters dropped for want of an unk token;
//   {gpt2,llama,char,spm,drop}-cases.jsonl   single texts and truncated pairs;
//   modernbert-cases.jsonl, qwen3-cases.jsonl, mxbai-cases.jsonl
//       the same hard texts on the golden tokenizers in ../shared (read, never
//       copied: only texts and ids are written; the Qwen-style ones have no
//       pair template, so single texts only).
// Lines: {"text", "ids"} (one text, no special tokens) or
//        {"query", "text", "max_length", "input_ids"} (pair, longest_first).
//
// Usage: cd /tmp && npm install tokenizers
//        NODE_PATH=/tmp/node_modules node scripts/gen-bpe-cases.js [SHARED_DIR]
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const OUT = path.join(__dirname, '..', 'testdata', 'bpe');
const SHARED = process.argv[2] || path.join(__dirname, '..', '..', 'shared');

// ---- deterministic randomness ---------------------------------------------
let seed = 20261202;
function rand() { // mulberry32
  seed = (seed + 0x6D2B79F5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rand() * a.length)];
const randint = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

// ---- texts ----------------------------------------------------------------
const CORPUS = [
  'The quick brown fox jumps over the lazy dog. It\'s 12:45 and we\'re late!',
  'Boundary-layer flow over a flat plate at Mach 2.5: skin friction, heat transfer, and transition.',
  'I\'ve seen they\'ll say you\'d I\'m don\'t can\'t won\'t SHE\'S WE\'RE THEY\'VE',
  'Über die Grenzschicht: Wärmeübergang bei hohen Geschwindigkeiten und Strömungen.',
  'Les équations de Navier–Stokes décrivent l\'écoulement des fluides visqueux.',
  'La transición a la turbulencia en capas límite sigue siendo un problema abierto.',
  'Течение в пограничном слое при больших скоростях и теплообмен.',
  'Η ροή του ρευστού γύρω από το σώμα είναι τυρβώδης.',
  '境界層の流れと熱伝達について研究する。日本語のテキストです。',
  '边界层流动与传热的数值模拟研究，中文分词测试。',
  '경계층 유동과 열전달에 관한 연구입니다.',
  'تدفق الطبقة الحدية وانتقال الحرارة عند سرعات عالية',
  'זרימה בשכבת הגבול והעברת חום במהירויות גבוהות',
  'सीमा परत प्रवाह और ऊष्मा स्थानांतरण का अध्ययन',
  'การไหลในชั้นขอบเขตและการถ่ายเทความร้อน',
  'def f(x): return x ** 2 + 3 * x - 1  # comment\n\tif x > 0:\n\t\tprint("ok")',
  'Numbers: 3.14159, 2,718, 1e-10, 0xFF, 100%, $5.99, №42, ½ ¾ Ⅻ ٣٤٥ ３４５',
  'Emoji 😀 👍🏽 👨‍👩‍👧 🇫🇷 ❤️ and symbols © ® ™ § ¶ † ‡ • … ‰',
  'Ligatures ﬁ ﬂ ﬀ and fullwidth ＡＢＣ ａｂｃ and superscripts x² H₂O',
  'Combining: e\u0301 a\u0308 o\u0302\u0323 Z\u0324\u0354\u0367\u0311 n\u0303',
];
const FRAGMENTS = [
  'flow', 'boundary', 'layer', ' the', ' of', 'heat', 'Mach', 'ﬁne', 'ÉCOLE',
  'école', 'e\u0301cole', '\u00c5ngstr\u00f6m', 'A\u030angstro\u0308m', ' ', '  ',
  '   ', '     ', ' '.repeat(12), ' '.repeat(24), ' '.repeat(25), ' '.repeat(40),
  '\t', '\n', '\r\n', '\n\n', ' \n ', '\u00a0', '\u3000', '\u2028', '\u2009',
  '\u200b', '\u200d', '\u0000', '\u0007', '\u0085', '\ufeff',
  "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'RE", "'Ll", "'\u017f",
  "don't", "I'M", "''", "'", "'x", '"', '`',
  '0', '7', '42', '123', '2026', '12345678', '3.14', '1,000', '٣٤٥', '３４５',
  '½', 'Ⅻ', '²', '₂', '①',
  '日本語', '中文', '테스트', 'テキスト', 'カタカナ', '漢字かな', 'ｶﾀｶﾅ',
  'عربي', 'עברית', 'हिन्दी', 'ไทย', 'Ελληνικά', 'русский', 'ǅ', 'ß', 'İstanbul',
  'ΣΊΣΥΦΟΣ', 'ﬃ', 'Ⓐⓑ', '𝔘𝔫𝔦', '𝟙𝟚',
  '😀', '👍🏽', '👨‍👩‍👧', '🇫🇷', '❤️', '🤷\u200d♀️',
  '!', '?', '...', '—', '–', '(', ')', '[', ']', '{', '}', '<', '>', '/', '\\',
  '#', '##', '@', '&', '*', '_', '__init__', '-', '--', '+=', '->', '=>', ':)',
  'a\u0308', 'o\u0302\u0323', '\u0301', 'Z\u0324\u0354\u0367\u0311',
  'http://example.com/a?b=c&d=e', 'user@example.org',
];
function randomText(parts, added) {
  const n = randint(1, parts);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (added.length && r < 0.12) s += pick(added);
    else if (r < 0.45) s += Array.from(pick(CORPUS)).slice(0, randint(1, 40)).join('');
    else s += pick(FRAGMENTS);
  }
  return s;
}
function fixedTexts(added) {
  const t = ['', ' ', 'a', 'A', ' a', 'a ', '  a  ', '\n', '\r\n\r\n', ' \t\n x'];
  for (const c of CORPUS) t.push(c);
  for (const f of FRAGMENTS) t.push(f, ' ' + f, f + f, 'x' + f + 'y');
  for (const a of added) {
    t.push(a, ' ' + a, a + ' ', '  ' + a + '  ', 'x' + a + 'y', 'x ' + a + ' y',
      a + a, '\t' + a + '\n', 'word' + a, a + 'word', '\u3000' + a);
  }
  for (const a of added) { // strips meeting: "<x>  <y>" with rstrip / lstrip
    for (const b of added) t.push(a + '  ' + b, a + ' ' + b + ' ');
  }
  for (let k = 2; k <= 26; k++) t.push('a' + ' '.repeat(k) + 'b', ' '.repeat(k));
  return t;
}
function longText(words) {
  let s = '';
  for (let i = 0; i < words; i++) s += pick(pick(CORPUS).split(' ')) + pick([' ', ' ', ' ', ', ', '  ', '\n']);
  return s;
}

// ---- a small BPE learner (only to make vocabularies to test with) ---------
const BYTES = (() => { // GPT-2's bytes_to_unicode
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n++); }
  const m = {};
  bs.forEach((b, i) => { m[b] = String.fromCodePoint(cs[i]); });
  return m;
})();
const byteSymbols = (w) => Array.from(Buffer.from(w, 'utf8')).map((b) => BYTES[b]);
function charSymbols(w, prefix, suffix) {
  const cs = Array.from(w);
  return cs.map((c, i) => (i ? prefix : '') + c + (i === cs.length - 1 ? suffix : ''));
}
// Learns n merges over the words (symbol arrays); the merged token of (a, b)
// is a + b without the continuing prefix, as `tokenizers` builds it.
function learn(words, vocab, n, prefix) {
  const merges = [];
  words = words.filter((w) => w.every((s) => s in vocab));
  for (let k = 0; k < n; k++) {
    const count = new Map();
    for (const w of words) {
      for (let i = 0; i + 1 < w.length; i++) {
        const key = w[i] + '\u0001' + w[i + 1];
        count.set(key, (count.get(key) || 0) + 1);
      }
    }
    let best = null, bc = 0;
    for (const [key, c] of count) if (c > bc || (c === bc && key < best)) { best = key; bc = c; }
    if (!best || bc < 2) break;
    const [a, b] = best.split('\u0001');
    const m = a + b.slice(prefix.length);
    merges.push([a, b]);
    if (!(m in vocab)) vocab[m] = Object.keys(vocab).length;
    for (const w of words) {
      for (let i = 0; i + 1 < w.length; i++) {
        if (w[i] === a && w[i + 1] === b) w.splice(i, 2, m);
      }
    }
  }
  return merges;
}
const corpusWords = () => {
  const text = CORPUS.join(' ') + ' ' + FRAGMENTS.join(' ') + ' ' + longText(400);
  return text.split(/(?=\s)/u).filter((w) => w.length);
};

function addedEntry(id, content, o) {
  return { id, content, single_word: !!o.single_word, lstrip: !!o.lstrip,
    rstrip: !!o.rstrip, normalized: !!o.normalized, special: !!o.special };
}
function withAdded(vocab, list) { // ids after the model's vocabulary
  let next = Object.keys(vocab).length;
  return list.map(([c, o]) => addedEntry(c in vocab ? vocab[c] : next++, c, o));
}

// gpt2: byte-level with prefix space, NFKC + Lowercase, merges as strings,
// ignore_merges, RoBERTa post-processor.
function buildGpt2() {
  const vocab = {};
  for (let b = 0; b < 256; b++) vocab[BYTES[b]] = b;
  const words = corpusWords().map((w) => byteSymbols(w.toLowerCase().normalize('NFKC')));
  const merges = learn(words, vocab, 600, '');
  const added = withAdded(vocab, [
    ['<s>', { special: true }], ['</s>', { special: true }], ['<pad>', { special: true }],
    ['<mask>', { special: true, lstrip: true }],
    ['[WORD]', { single_word: true, normalized: true }],
    ['ﬁx', { normalized: true }],
    ['<RS>', { rstrip: true }],
    ['<BOTH>', { lstrip: true, rstrip: true, single_word: true }],
    ['  ', { normalized: true }],
    ['flow', { normalized: false }],
  ]);
  const id = (c) => added.find((a) => a.content === c).id;
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: added,
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', id('</s>')], cls: ['<s>', id('<s>')],
      trim_offsets: true, add_prefix_space: true },
    decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: true,
      vocab, merges: merges.map(([a, b]) => a + ' ' + b) },
  };
}

// llama: Split with the Llama-3 regex then ByteLevel without regex, NFC,
// merges as pairs, a template with one separator and type ids 0/1.
function buildLlama() {
  const vocab = {};
  for (let b = 0; b < 256; b++) vocab[BYTES[b]] = b;
  const words = corpusWords().map((w) => byteSymbols(w.normalize('NFC')));
  const merges = learn(words, vocab, 500, '');
  const added = withAdded(vocab, [
    ['<|begin|>', { special: true }], ['<|sep|>', { special: true }],
    ['<|eot|>', { special: true, rstrip: true }],
    ['<|l|>', { special: true, lstrip: true }],
    ['Ångström', { normalized: true }],
    ['<tool>', { normalized: false, single_word: true }],
  ]);
  const tok = (c) => added.find((a) => a.content === c).id;
  const re = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: added,
    normalizer: { type: 'NFC' },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [
      { type: 'Split', pattern: { Regex: re }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
    post_processor: { type: 'Sequence', processors: [
      { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      { type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<|begin|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: '<|begin|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: '<|sep|>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } },
          { SpecialToken: { id: '<|sep|>', type_id: 1 } }],
        special_tokens: {
          '<|begin|>': { id: '<|begin|>', ids: [tok('<|begin|>')], tokens: ['<|begin|>'] },
          '<|sep|>': { id: '<|sep|>', ids: [tok('<|sep|>')], tokens: ['<|sep|>'] } } }] },
    decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '',
      end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab, merges },
  };
}

// char: no byte level — Unicode characters are the symbols, with "##"
// continuations, a "</w>" word suffix, <unk> fused, byte fallback for the
// bytes 00-DF (so two-byte characters fall back, longer ones are unknown),
// NFD + Strip + Prepend, the GPT-2 regex through Split, Bert post-processor.
function buildChar() {
  const prefix = '##', suffix = '</w>';
  const vocab = { '<unk>': 0, '[CLS]': 1, '[SEP]': 2 };
  for (let b = 0; b < 0xE0; b++) vocab['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>'] = Object.keys(vocab).length;
  const words = corpusWords().map((w) => w.normalize('NFD'))
    .filter((w) => /^[\x00-\x7f\u0300-\u036f]+$/u.test(w))
    .map((w) => charSymbols(w, prefix, suffix));
  // (no U+0000 in a token: jansson, which reads tokenizer.json, cannot hold
  // it in an object key)
  for (const w of words) for (const s of w) if (!(s in vocab) && !s.includes('\u0000')) vocab[s] = Object.keys(vocab).length;
  const merges = learn(words, vocab, 300, prefix);
  const added = withAdded(vocab, [
    ['[CLS]', { special: true }], ['[SEP]', { special: true }],
    ['[RS]', { special: true, rstrip: true }],
  ]);
  const gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: added,
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' },
      { type: 'Strip', strip_left: true, strip_right: true }, { type: 'Prepend', prepend: '_' }] },
    pre_tokenizer: { type: 'Split', pattern: { Regex: gpt2 }, behavior: 'Isolated', invert: false },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', 2], cls: ['[CLS]', 1] },
    decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: prefix,
      end_of_word_suffix: suffix, fuse_unk: true, byte_fallback: true, ignore_merges: false,
      vocab, merges },
  };
}

// spm: the layout of Llama-2 / Mistral conversions from SentencePiece — no
// pre-tokenizer (a text is one word), Prepend("▁") + Replace(" ", "▁"),
// character symbols, byte fallback over all 256 <0xXX> tokens, <unk> fused,
// a template with one separator and type 0 throughout.
function buildSpm() {
  const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>'] = Object.keys(vocab).length;
  const norm = (t) => '\u2581' + t.replace(/ /g, '\u2581');
  const words = CORPUS.map((t) => Array.from(norm(t)));
  for (const w of words) for (const c of w) if (!(c in vocab)) vocab[c] = Object.keys(vocab).length;
  const merges = learn(words, vocab, 400, '');
  const added = withAdded(vocab, [['<unk>', { special: true }], ['<s>', { special: true }],
    ['</s>', { special: true }]]);
  const st = (id) => ({ SpecialToken: { id, type_id: 0 } });
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: added,
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' },
      { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] },
    pre_tokenizer: null,
    post_processor: { type: 'TemplateProcessing', single: [st('<s>'), { Sequence: { id: 'A', type_id: 0 } }],
      pair: [st('<s>'), { Sequence: { id: 'A', type_id: 0 } }, st('</s>'), { Sequence: { id: 'B', type_id: 0 } }, st('</s>')],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] }, '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] } } },
    decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false,
      vocab, merges: merges.map(([a, b]) => a + ' ' + b) },
  };
}

// drop: no unk token and no byte fallback, so characters outside the
// vocabulary (capitals, digits, most of Unicode) are dropped and a word can
// have no ids at all; Unicode characters as symbols, the GPT-2 regex.
function buildDrop() {
  const vocab = { '[CLS]': 0, '[SEP]': 1 };
  for (const c of ' abcdefghijklmnopqrstuvwxyz.,\'') vocab[c] = Object.keys(vocab).length;
  const words = corpusWords().map((w) => Array.from(w)).filter((w) => w.every((c) => c in vocab));
  const merges = learn(words, vocab, 150, '');
  const added = withAdded(vocab, [['[CLS]', { special: true }], ['[SEP]', { special: true }],
    ['<A>', { special: true }], ['<b>', { normalized: true }]]);
  const gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
  return {
    version: '1.0', truncation: null, padding: null, added_tokens: added, normalizer: null,
    pre_tokenizer: { type: 'Split', pattern: { Regex: gpt2 }, behavior: 'Isolated', invert: false },
    post_processor: { type: 'BertProcessing', sep: ['[SEP]', 1], cls: ['[CLS]', 0] },
    decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab, merges },
  };
}

// ---- cases --------------------------------------------------------------------
// Single texts, then (unless the tokenizer has no pair template: Qwen's)
// truncated pairs; `long` adds an 8,192-token pair.
async function cases(tok, added, file, nRandom, pairs, long) {
  const lines = [];
  const texts = fixedTexts(added);
  for (let i = 0; i < nRandom; i++) texts.push(randomText(12, added));
  tok.disableTruncation();
  for (const text of texts) {
    const e = await tok.encode(text, null, { addSpecialTokens: false });
    lines.push(JSON.stringify({ text, ids: e.getIds() }));
  }
  for (let i = 0; i < (pairs ? 80 : 0); i++) {
    pairs.push([randomText(6, added), randomText(20, added), randint(5, 40)]);
  }
  // Both texts past max_length with an added token near the limit: the
  // early exit of tokenizers 0.23 never stops right after an added token.
  for (const a of pairs ? added.slice(0, 3) : []) {
    for (const ml of [7, 10]) {
      for (let i = 0; i <= ml + 1; i++) {
        const q = ' the'.repeat(i) + a + ' the'.repeat(12);
        pairs.push([q, ' flow'.repeat(16), ml], [' flow'.repeat(16), q, ml]);
        // a word after the added token that may have no ids (drop)
        const z = ' the'.repeat(i) + a + 'ZZ the' + ' the'.repeat(12);
        pairs.push([z, ' flow'.repeat(16), ml]);
      }
    }
  }
  for (let i = 0; i < (pairs ? 3 : 0); i++) pairs.push([longText(randint(5, 100)), longText(randint(200, 500)), pick([64, 128, 512, 513])]);
  if (long) { // an 8,192-token window, both texts past it
    pairs.push([longText(1500), longText(9000), 8192]);
  }
  for (const [query, text, maxLength] of pairs || []) {
    tok.setTruncation(maxLength, { strategy: 'LongestFirst' });
    const e = await tok.encode(query, text);
    lines.push(JSON.stringify({ query, text, max_length: maxLength, input_ids: e.getIds() }));
  }
  fs.writeFileSync(path.join(OUT, file), lines.join('\n') + '\n');
  console.log(`${file}: ${lines.length} cases`);
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  for (const [name, build] of [['gpt2', buildGpt2], ['llama', buildLlama], ['char', buildChar],
    ['spm', buildSpm], ['drop', buildDrop]]) {
    const json = build();
    const dir = path.join(OUT, name);
    fs.mkdirSync(dir, { recursive: true });
    const text = JSON.stringify(json);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), text + '\n');
    const tok = Tokenizer.fromString(text);
    await cases(tok, json.added_tokens.map((a) => a.content), `${name}-cases.jsonl`, 150, [], false);
  }
  for (const [name, dir] of [['modernbert', 'tiny-modernbert-ce'], ['qwen3', 'tiny-qwen3-reranker'],
    ['mxbai', 'tiny-mxbai-rerank-v2']]) {
    const file = path.join(SHARED, 'golden', dir, 'tokenizer.json');
    if (!fs.existsSync(file)) {
      console.log(`${file} not found: ${name}-cases.jsonl not written`);
      continue;
    }
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    const added = json.added_tokens.map((a) => a.content).filter((c) => c.trim() !== '').slice(0, 12);
    added.push('[MASK]', '|||EMAIL_ADDRESS|||', '[unused0]');
    await cases(Tokenizer.fromFile(file), added, `${name}-cases.jsonl`, 200,
      name === 'modernbert' ? [] : null, name === 'modernbert');
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
