// scripts/bench-llama.js — llama.cpp (through node-llama-cpp 3.21.1, its
// prebuilt CPU binaries) on the token ids rerank feeds a Qwen3-Reranker,
// for scripts/bench-llm.
//
//   NODE_LLAMA_DIR=DIR node scripts/bench-llama.js MODEL.gguf IDS.jsonl YES_ID NO_ID THREADS OUT.jsonl
//
// IDS.jsonl is `rerank --tokenize` output ({"qid","docid","input_ids"}).
// Timed pass: every pair is evaluated on one context sequence, reusing the
// KV cache of the tokens it shares with the previous pair (as rerank reuses
// a group's common prefix); the last token's logits are computed and the
// next token picked greedily (llama.cpp projects the whole vocabulary).
// Untimed pass: the same with the full next-token distribution, from which
// the score logit(yes) - logit(no) = log p(yes) - log p(no) is written to
// OUT.jsonl as {"qid","docid","score"}.  Prints one JSON line of timings.
"use strict";
const fs = require("fs");
const path = require("path");

async function main() {
    const [modelPath, idsPath, yesS, noS, threadsS, outPath] = process.argv.slice(2);
    if (!outPath) {
        console.error("usage: bench-llama.js MODEL.gguf IDS.jsonl YES_ID NO_ID THREADS OUT.jsonl");
        process.exit(2);
    }
    const yes = Number(yesS), no = Number(noS), threads = Number(threadsS);
    const rows = fs.readFileSync(idsPath, "utf8").split("\n").filter((l) => l.trim())
        .map((l) => JSON.parse(l));
    const maxLen = Math.max(...rows.map((r) => r.input_ids.length));
    // node-llama-cpp is ESM: imported by path from $NODE_LLAMA_DIR/node_modules
    const dir = process.env.NODE_LLAMA_DIR || ".";
    const entry = path.resolve(dir, "node_modules/node-llama-cpp/dist/index.js");
    const { getLlama } = await import(require("url").pathToFileURL(entry).href);

    const t0 = process.hrtime.bigint();
    const llama = await getLlama({ gpu: false, build: "never" });
    const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
    const context = await model.createContext({
        contextSize: Math.max(256, maxLen + 16), batchSize: Math.max(256, maxLen + 16),
        sequences: 1, threads,
    });
    const seq = context.getSequence();
    const loadS = Number(process.hrtime.bigint() - t0) / 1e9;

    let evaluated = 0; // tokens actually run (the rest came from the KV cache)
    // Evaluate ids on seq, keeping the cached prefix they share with it.
    // Returns the output at the last position.
    async function evalPair(ids, next) {
        const have = seq.contextTokens;
        let n = 0;
        while (n < have.length && n < ids.length - 1 && have[n] === ids[n]) n++;
        if (n < have.length) await seq.eraseContextTokenRanges([{ start: n, end: have.length }]);
        const input = ids.slice(n);
        input[input.length - 1] = [input[input.length - 1], { generateNext: next }];
        const out = await seq.controlledEvaluate(input);
        evaluated += input.length;
        return out[input.length - 1];
    }

    let tokens = 0;
    const t1 = process.hrtime.bigint();
    for (const r of rows) {
        await evalPair(r.input_ids, { token: true, options: { temperature: 0 } });
        tokens += r.input_ids.length;
    }
    const secs = Number(process.hrtime.bigint() - t1) / 1e9;
    const evaluatedTimed = evaluated;

    await seq.clearHistory();
    const out = [];
    for (const r of rows) {
        const o = await evalPair(r.input_ids, {
            probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 },
        });
        const p = o.next.probabilities;
        const py = p.get(yes), pn = p.get(no);
        if (py === undefined || pn === undefined || py <= 0 || pn <= 0)
            throw new Error("no probability for yes/no in " + r.qid + "/" + r.docid +
                " (" + p.size + " entries)");
        out.push(JSON.stringify({ qid: r.qid, docid: r.docid, score: Math.log(py) - Math.log(pn) }));
    }
    fs.writeFileSync(outPath, out.join("\n") + "\n");
    console.log(JSON.stringify({
        engine: "llama.cpp", build: llama.buildType,
        gguf: path.basename(modelPath), threads, pairs: rows.length, tokens, evaluated: evaluatedTimed, seconds: secs, load_seconds: loadS,
    }));
    await context.dispose();
    await model.dispose();
    await llama.dispose();
}

main().catch((e) => {
    console.error("bench-llama: " + (e && e.stack ? e.stack : e));
    process.exit(1);
});
