// reference-jinja.js - conversations rendered by a model's own chat
// template with Hugging Face's Jinja engine (npm @huggingface/jinja):
//     node reference-jinja.js NODE_MODULES TEMPLATE RECORDS BOS EOS [no-think]
// Prints per record {"id", "text"}: the template applied to its messages
// with add_generation_prompt true unless the last turn is the assistant's,
// and enable_thinking false when no-think is given.
const path = require('path');
const fs = require('fs');
const [dir, tpl, records, bos, eos, mode] = process.argv.slice(2);
const { Template } = require(path.resolve(dir, '@huggingface/jinja'));
const t = new Template(fs.readFileSync(tpl, 'utf8'));
for (const line of fs.readFileSync(records, 'utf8').split('\n')) {
  if (!line) continue;
  const r = JSON.parse(line);
  const m = r.messages;
  const data = {
    messages: m, bos_token: bos, eos_token: eos,
    add_generation_prompt: m[m.length - 1].role !== 'assistant',
  };
  if (mode === 'no-think') data.enable_thinking = false;
  process.stdout.write(JSON.stringify({ id: r.id, text: t.render(data) }) + '\n');
}
