// reference-chat.js - chat prompts rendered by the model's own Jinja chat
// template (the template engine of @lenml/tokenizers, transformers.js's)
// and encoded whole by the Hugging Face tokenizers crate:
//     node reference-chat.js NODE_MODULES RECORDS MODEL
// MODEL is deepseek_v3, qwen3 or llama3.  Qwen3's own template uses Jinja
// that engine cannot parse; the ChatML template of Qwen2 stands in for it
// (the same text for one system and one user turn without tools).
// Prints per record: prompt_ids, and response_ids = the crate's ids of the
// response (without the end-of-turn token).
const path = require('path');
const fs = require('fs');
const [dir, records, model] = process.argv.slice(2);
const { Tokenizer } = require(path.resolve(dir, '@anush008/tokenizers'));
const lenml = require(path.resolve(dir, '@lenml/tokenizer-' + model));
const chatml = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + " +
  "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
(async () => {
  const jinja = lenml.fromPreTrained(model === 'qwen3' ? { tokenizerConfig: { chat_template: chatml } } : undefined);
  const t = Tokenizer.fromFile(path.resolve(dir, '@lenml/tokenizer-' + model, 'models/tokenizer.json'));
  for (const line of fs.readFileSync(records, 'utf8').split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line);
    const msgs = [];
    if (r.system) msgs.push({ role: 'system', content: r.system });
    msgs.push({ role: 'user', content: r.prompt });
    const text = jinja.apply_chat_template(msgs, { add_generation_prompt: true, tokenize: false });
    const p = await t.encode(text, null, { addSpecialTokens: false });
    const out = { prompt_ids: Array.from(p.getIds()) };
    if (r.response !== undefined) {
      const e = await t.encode(r.response, null, { addSpecialTokens: false });
      out.response_ids = Array.from(e.getIds());
    }
    process.stdout.write(JSON.stringify(out) + '\n');
  }
})().catch((e) => { console.error(e); process.exit(1); });
