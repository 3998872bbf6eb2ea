// reference.js - the Hugging Face tokenizers crate (Node binding) on the
// corpus: node reference.js NODE_MODULES_DIR CORPUS TOKENIZER_JSON
// prints one JSON line per corpus record: ids (no specials added), ids with
// the post-processor (add_special_tokens), and the decoded text of ids.
const path = require('path');
const fs = require('fs');
const [dir, corpus, tokfile] = process.argv.slice(2);
const { Tokenizer } = require(path.resolve(dir, '@anush008/tokenizers'));
(async () => {
  const t = Tokenizer.fromFile(tokfile);
  for (const line of fs.readFileSync(corpus, 'utf8').split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line);
    const e = await t.encode(r.text, null, { addSpecialTokens: false });
    const s = await t.encode(r.text, null, { addSpecialTokens: true });
    const ids = Array.from(e.getIds());
    const dec = await t.decode(ids, false);
    process.stdout.write(JSON.stringify({ id: r.id, ids, ids_bos: Array.from(s.getIds()),
      text: dec, nfc: r.text.normalize('NFC') }) + '\n');
  }
})().catch((e) => { console.error(e); process.exit(1); });
