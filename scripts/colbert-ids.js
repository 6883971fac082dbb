#!/usr/bin/env node
// colbert-ids.js — PyLate's encoder inputs for the ColBERT cases of a PyLate
// model directory, tokenized by Hugging Face's Rust tokenizers (npm
// `tokenizers`), never by rerank.
//
// It follows pylate/models/colbert.py (ColBERT.tokenize and encode, PyLate
// 1.x as of April 2026) with sentence-transformers' Transformer.tokenize:
//   - each text is str.strip()ped (sentence-transformers), lowercased when
//     sentence_bert_config.json says do_lower_case;
//   - the tokenizer runs with its post-processor and truncation to
//     max_length - 1 (query_length or document_length, less the prefix)
//     or max_length when the prefix is "" (no prefix then);
//   - a query with do_query_expansion is padded to that length with the
//     tokenizer's pad token, which PyLate sets to mask_token_id, attention
//     0 on the padding unless attend_to_expansion_tokens;
//   - the prefix id (convert_tokens_to_ids(query_prefix / document_prefix))
//     is inserted at position 1, attention 1;
//   - documents: the skiplist mask, convert_tokens_to_ids of each
//     skiplist_words entry (unk_token_id for a word outside the
//     vocabulary), ANDed with the attention mask; queries keep every vector
//     with expansion, the attended ones without.
//
// Reads the cases (JSON Lines {"qid","query","docid","text"}) from stdin and
// writes each with KEY: {"query_ids", "query_keys" (tokens attended to as
// keys: a prefix of the query), "doc_ids", "doc_mask"} added.  The scores
// come from scripts/colbert-reference-hf.py.
//
// Usage: cd /tmp && npm install tokenizers
//        NODE_PATH=/tmp/node_modules node scripts/colbert-ids.js MODEL_DIR KEY < cases > ids
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');
const { Tokenizer } = require('tokenizers');

const [dir, key] = process.argv.slice(2);
if (!dir || !key) {
  console.error('usage: colbert-ids.js MODEL_DIR KEY < cases.jsonl');
  process.exit(2);
}
const json = (f, def) => {
  const p = path.join(dir, f);
  return fs.existsSync(p) ? JSON.parse(fs.readFileSync(p, 'utf8')) : def;
};
const st = json('config_sentence_transformers.json', {});
const sbert = json('sentence_bert_config.json', {});
const tc = json('tokenizer_config.json', {});
const smap = json('special_tokens_map.json', {});
const orDefault = (v, d) => (v === undefined || v === null ? d : v);
const qPrefix = orDefault(st.query_prefix, '[Q] ');
const dPrefix = orDefault(st.document_prefix, '[D] ');
const qLen = orDefault(st.query_length, 32);
const dLen = orDefault(st.document_length, 180);
const expand = orDefault(st.do_query_expansion, true);
const attend = expand && orDefault(st.attend_to_expansion_tokens, false);
const skipWords = orDefault(st.skiplist_words, Array.from('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'));
const special = (name) => {
  const v = orDefault(tc[name], smap[name]);
  return v && typeof v === 'object' ? v.content : v;
};

// Python's str.isspace() characters, for str.strip().
const PY_SPACE = '[\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const strip = (s) => s.replace(new RegExp('^' + PY_SPACE + '+'), '').replace(new RegExp(PY_SPACE + '+$'), '');

async function main() {
  const tok = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
  const id = (t) => tok.tokenToId(t);
  const unkId = id(special('unk_token'));
  const convert = (t) => { const i = id(t); return i === undefined || i === null ? unkId : i; };
  const maskId = id(special('mask_token'));
  if (maskId === undefined || maskId === null) throw new Error('no mask token');
  const skip = new Set(skipWords.map(convert));

  async function encode(text, isQuery) {
    const prefix = isQuery ? qPrefix : dPrefix;
    const maxLength = (isQuery ? qLen : dLen) - (prefix ? 1 : 0);
    let s = strip(text);
    if (sbert.do_lower_case) s = s.toLowerCase();
    tok.setTruncation(maxLength, { strategy: 'LongestFirst' });
    let ids = Array.from((await tok.encode(s)).getIds());
    let att = ids.map(() => 1);
    if (isQuery && expand) {
      while (ids.length < maxLength) { ids.push(maskId); att.push(0); }
    }
    if (prefix) {
      ids = [ids[0], convert(prefix), ...ids.slice(1)];
      att = [att[0], 1, ...att.slice(1)];
    }
    if (isQuery && attend) att = att.map(() => 1);
    return { ids, att };
  }

  const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  const out = [];
  for await (const line of rl) {
    if (!line.trim()) continue;
    const c = JSON.parse(line);
    const q = await encode(c.query, true);
    const d = await encode(c.text, false);
    const keys = q.att.reduce((a, b) => a + b, 0);
    for (let i = 0; i < keys; i++) if (!q.att[i]) throw new Error('attention is not a prefix');
    c[key] = {
      query_ids: q.ids,
      query_keys: keys,
      doc_ids: d.ids,
      doc_mask: d.ids.map((t, i) => (d.att[i] && !skip.has(t) ? 1 : 0)),
    };
    out.push(JSON.stringify(c));
  }
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
