// gen-long-modernbert-pair.js — one query/document pair longer than 8,192
// tokens, encoded by Hugging Face's Rust tokenizers (npm `tokenizers`) with
// a ModernBERT tokenizer.json, truncated longest_first to 8,192: the input
// of the long end-to-end case of tests/suite_modernbert.sh.  The text is
// made from a formula (pseudo-words, digits, punctuation, runs of spaces),
// so nothing is copied from elsewhere.  scripts/modernbert_reference.py then
// adds the reference logit:
//
//   NODE_PATH=DIR/node_modules node scripts/gen-long-modernbert-pair.js \
//       ../shared/golden/tiny-ettin-ce/tokenizer.json > /tmp/pair.jsonl
//   scripts/modernbert_reference.py --source modeling_modernbert.py \
//       ../shared/golden/tiny-ettin-ce /tmp/pair.jsonl > testdata/long-ettin/pair.jsonl
'use strict';
const { Tokenizer } = require('tokenizers');

const syll = ['ka', 'lo', 'mi', 'nu', 're', 'sa', 'te', 'vi', 'po', 'du', 'ge', 'an', 'or', 'ing', 'tion'];
function words(seed, n) {
  const out = [];
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const k = 1 + (x >> 16) % 4;
    let w = '';
    for (let j = 0; j < k; j++) w += syll[(x >> (4 * j + 3)) % syll.length];
    if (x % 13 === 0) w += ',';
    if (x % 17 === 0) w = String(x % 10000);
    if (x % 29 === 0) w += '.';
    if (x % 31 === 0) w = w[0].toUpperCase() + w.slice(1);
    out.push(w);
  }
  return out.join(' ').replace(/\. /g, '.   ');
}

async function main() {
  const tok = Tokenizer.fromFile(process.argv[2]);
  const query = words(7, 40);
  const text = words(11, 9000);
  tok.setTruncation(8192, { strategy: 'LongestFirst' });
  const e = await tok.encode(query, text);
  process.stdout.write(JSON.stringify({ qid: 'long', query, docid: 'd', text, max_length: 8192,
                                        input_ids: e.getIds() }) + '\n');
}
main();
