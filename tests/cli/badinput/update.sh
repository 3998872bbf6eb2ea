# update on bad input: stream errors, packed records that do not hold
# together, a checkpoint of the wrong shape; the output checkpoint is
# never left behind; under --max-errors every record is trained on or
# rejected.
. "$TESTDIR/common.inc"
ckpt ck
printf '%s\n' '{"ids":[256,49,50,257],"segments":[4],"loss_mask":[0,0,1,1]}' \
    '{"ids":[256,51,52,257,256,53],"segments":[4,2],"loss_mask":[0,1,1,1,0,1]}' >good.jsonl
nope() {   # the output checkpoint o.out must not exist after a failure
    fails "$@"
    test ! -e o.out
}
: >empty.jsonl
nope "^update: no packed records" update -m ck -o o.out --sft empty.jsonl
for i in 1 2 3 4 5 6 7 8; do cat good.jsonl; done | zstd -q -c >z.zst
head -c $(( $(wc -c <z.zst) - 9 )) z.zst >trunc.zst
nope "^update: trunc.zst: truncated zstd" update -m ck -o o.out --sft trunc.zst
{ cat good.jsonl; printf '{"ids":"\377"}\n'; } >utf.jsonl
nope "^update: utf.jsonl:3: column 9: invalid UTF-8" update -m ck -o o.out --sft utf.jsonl
for e in 'del(.ids)' '.ids = "x"' '.ids = [256, 49, 50, 1e3]' '.ids[1] = 1.5' \
         '.segments = [3]' '.segments = "4"' '.loss_mask = [0, 1]' '.loss_mask = 1'; do
    head -n 1 good.jsonl | jq -c "$e" >bad1.jsonl
    { head -n 1 good.jsonl; cat bad1.jsonl; } >f.jsonl
    nope "^update: f.jsonl:2: field '(ids|segments|loss_mask)': " update -m ck -o o.out --sft f.jsonl
done
jq -c '.advantage = [0.5] | .old_logprobs = [0, 0, -1, "x"]' good.jsonl | head -n 1 >f.jsonl
nope "^update: f.jsonl:1: field 'old_logprobs': " update -m ck -o o.out --grpo f.jsonl
jq -c '.advantage = [0.5] | .old_logprobs = [0, 0, -1, -1] | .advantage = ["NaN"]' good.jsonl | head -n 1 >f.jsonl
nope "^update: f.jsonl:1: field 'advantage': " update -m ck -o o.out --grpo f.jsonl
{ head -n 1 good.jsonl; echo '{"ids":[256,1e999],"segments":[2],"loss_mask":[0,1]}'; } >f.jsonl
nope "^update: f.jsonl:2: column 13: real number overflow" update -m ck -o o.out --sft f.jsonl
nope "^update: wrong/model.safetensors: tensor '[^']*' has shape" update -m wrong -o o.out --sft good.jsonl
{ cat good.jsonl; echo '{"ids":"x"}'; echo '{"ids":[256,1],"segments":[2],"loss_mask":[0,2]}'; } >m.jsonl
update -m ck -o o.out --sft --max-errors 2 --rejects rej.jsonl m.jsonl 2>err
clean_stderr err
test -e o.out/model.safetensors
grep -q "^update: 2 steps on 2 packed records" err
jq -e -s 'map([.line, .field]) == [[3, "ids"], [4, "loss_mask"]]' rej.jsonl >/dev/null
