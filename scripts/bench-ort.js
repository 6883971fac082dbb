// bench-ort.js — the onnxruntime side of scripts/bench, bench-modernbert
// and bench-families.
//
// Runs an ONNX cross-encoder on pre-tokenized pairs the way
// CrossEncoder.predict feeds a model: batches of BATCH pairs (in input order
// unless ORDER says otherwise), each padded to its longest pair, with an
// attention mask.  Tokenization is not timed (onnxruntime gets it for free
// here).  With ORDER "sorted" the
// pairs are first sorted by length (stable), so that each batch holds pairs
// of similar length and pads little; scores are reported in input order
// either way.  Prints one JSON object:
// {"seconds": ..., "cpu_seconds": ..., "pairs": ..., "scores": [...]}
// (cpu_seconds: the process's user + system time over the timed runs, all
// threads, which a loaded machine disturbs less than the wall time).
//
// usage: node bench-ort.js MODEL.onnx TOKENS.jsonl THREADS BATCH [input|sorted]
// TOKENS.jsonl holds {"input_ids": [...], "token_type_ids": [...]} per pair
// (the output of `rerank --tokenize`; token_type_ids may be absent).
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, tokens, threadsArg, batchArg, orderArg] = process.argv.slice(2);
  const threads = parseInt(threadsArg || '2', 10);
  const batch = parseInt(batchArg || '32', 10);
  const pairs = fs.readFileSync(tokens, 'utf8').split('\n').filter(Boolean)
    .map((l, i) => Object.assign(JSON.parse(l), { at: i }));
  if (orderArg === 'sorted') pairs.sort((a, b) => a.input_ids.length - b.input_ids.length);
  else if (orderArg && orderArg !== 'input') throw new Error(`order must be input or sorted: ${orderArg}`);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const names = session.inputNames;
  const scores = [];
  const run = async (from, to) => {
    const chunk = pairs.slice(from, to);
    const len = Math.max(...chunk.map((p) => p.input_ids.length));
    const n = chunk.length;
    const ids = new BigInt64Array(n * len);
    const types = new BigInt64Array(n * len);
    const mask = new BigInt64Array(n * len);
    chunk.forEach((p, i) => {
      p.input_ids.forEach((v, j) => {
        ids[i * len + j] = BigInt(v);
        if (p.token_type_ids) types[i * len + j] = BigInt(p.token_type_ids[j]);
        mask[i * len + j] = 1n;
      });
    });
    const feeds = {};
    const dims = [n, len];
    if (names.includes('input_ids')) feeds.input_ids = new ort.Tensor('int64', ids, dims);
    if (names.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', mask, dims);
    if (names.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', types, dims);
    const out = await session.run(feeds);
    const logits = out[session.outputNames[0]];
    const labels = logits.dims[1];
    for (let i = 0; i < n; i++) scores[chunk[i].at] = logits.data[i * labels + labels - 1];
  };
  await run(0, Math.min(batch, pairs.length)); // warm-up, not timed
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < pairs.length; i += batch) await run(i, Math.min(i + batch, pairs.length));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpu_seconds = (cpu.user + cpu.system) / 1e6;
  process.stdout.write(JSON.stringify({ seconds, cpu_seconds, pairs: pairs.length, scores }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`bench-ort: ${err.stack || err}\n`);
  process.exit(1);
});
