// tok_ref.js - encode throughput of Hugging Face's tokenizers crate (Node
// binding @anush008/tokenizers) on the same documents as tok_bench.c:
//     node tok_ref.js NODE_MODULES TOKENIZER_JSON TEXT_FILE CHUNK REPS
// prints "MB/s tokens" of the best repetition.  The binding's encode runs
// on libuv's thread pool: UV_THREADPOOL_SIZE=1 and RAYON_NUM_THREADS=1
// (set by bench/tok.sh) keep it on one thread, as tok_bench is.
const path = require('path');
const fs = require('fs');
const [dir, tokfile, textfile, chunkArg, repsArg] = process.argv.slice(2);
const { Tokenizer } = require(path.resolve(dir, '@anush008/tokenizers'));
(async () => {
  const t = Tokenizer.fromFile(tokfile);
  const buf = fs.readFileSync(textfile);
  const chunk = Number(chunkArg), reps = Number(repsArg);
  const docs = [];
  for (let i = 0; i < buf.length;) {
    let end = Math.min(i + chunk, buf.length);
    if (end < buf.length) {
      const p = buf.indexOf('\n\n', end);
      end = p >= 0 ? p + 2 : buf.length;
    }
    docs.push(buf.subarray(i, end).toString('utf8'));
    i = end;
  }
  let best = Infinity, ntok = 0;
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    ntok = 0;
    for (const d of docs) {
      const e = await t.encode(d, null, { addSpecialTokens: false });
      ntok += e.getIds().length;
    }
    const dt = Number(process.hrtime.bigint() - t0) / 1e9;
    best = Math.min(best, dt);
  }
  console.log((buf.length / best / 1e6).toFixed(2), ntok);
})().catch((e) => { console.error(e); process.exit(1); });
