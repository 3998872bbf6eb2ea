// fuzz-corpus.js - N random strings (JSONL {"id", "text"}) drawn with a
// fixed linear congruential generator from pieces that are hard for a
// tokenizer: every kind of white space, combining marks, digits of several
// scripts, CJK, Hangul jamo, emoji with ZWJ, case-folding oddities, and
// whole or broken special tokens.   node fuzz-corpus.js N > fuzz.jsonl
const n = Number(process.argv[2] || 1000);
const pool = Array.from("aAbZ z\u00e9's'S'tLLdD0123456789.,!?;:-_()[]{}<>|/\\\"`~@#$%^&*+=\t\n\r").concat([
  '\u00a0', '\u2003', '\u3000', '\u180e', '\u200b', '\u0085', '\u2028', '\u000b', '\u000c',
  '\u001c', '\ufeff', '\u0301', '\u0308', '\u0323', '\u093f', '\u0e31', '\u0661', '\u0967',
  '\u00bd', '\u2163', '\uff11', '\u4e2d', '\u6587', '\u3042', '\u30ab', '\u3099', '\uac00',
  '\u11a8', '\u1100', '\u1161', '\u0627', '\u05d0', '\u0416', '\u03a3', '\u03c2',
  '\u{1F600}', '\u200d', '\u{1F468}', '\ufe0f', '\u{1F3FD}', '\u212b', '\u2126', '\ufb01',
  '\u017f', '\u0130', '\u1e9e', '<|im_start|>', '<|im_end|>', '<\uff5cUser\uff5c>',
  '<\uff5cAssistant\uff5c>', '<|eot_id|>', '<think>', '</think>', '<|begin_of_text|>',
  '<\uff5cbegin\u2581of\u2581sentence\uff5c>', '<|im_', '|>', '   ', '\n\n', '1234567']);
let state = 12345;
function next(k) {   // Numerical Recipes' LCG, high bits
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return Math.floor((state / 4294967296) * k);
}
for (let i = 0; i < n; i++) {
  const len = next(41);
  let s = '';
  for (let j = 0; j < len; j++) s += pool[next(pool.length)];
  process.stdout.write(JSON.stringify({ id: 'f' + i, text: s }) + '\n');
}
