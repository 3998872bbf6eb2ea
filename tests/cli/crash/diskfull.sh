# A full disk (a 64 KiB tmpfs): a record tool's -o (score-math, gen,
# pack), update's checkpoint and metrics give an error naming the file
# and leave nothing behind, neither the output nor a temporary (but
# update's metrics, written line by line as they come, hold the lines
# written before), and the files already there stay whole.
mkdir full
mount -t tmpfs -o size=64k tmpfs full 2>/dev/null || { echo "skipped: cannot mount a tmpfs"; exit 77; }
trap 'umount full' EXIT
awk 'BEGIN { for (i = 0; i < 3000; i++)
    printf "{\"id\":\"p%d\",\"domain\":\"math\",\"completion\":\"\\\\boxed{%d}\",\"answer\":\"1\"}\n", i, i }' >in.jsonl
set +e
score-math -o full/o.jsonl in.jsonl 2>err; rc=$?
set -e
test $rc = 1
grep -q "^score-math: .*full.*No space left on device" err
test -z "$(ls -A full)"
printf '%s\n' '{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,' \
    '"num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,' \
    '"vocab_size": 264, "max_position_embeddings": 64, "tie_word_embeddings": true}' >c.json
init -c c.json -o m0 2>/dev/null
printf '%s\n' '{"ids":[256,49,50,257],"segments":[4],"loss_mask":[0,0,1,1]}' >p.jsonl
set +e
update -m m0 -o full/ck --sft p.jsonl 2>err; rc=$?
set -e
test $rc = 1
grep -q "^update: full/ck/[a-z]*\.safetensors: write: No space left on device\$" err
test -z "$(ls -A full)"
# gen, pack and update's metrics, beside a file written before
tasks arithmetic -n 400 --seed 1 -o full/prompts.jsonl
cp full/prompts.jsonl prompts.jsonl
set +e
gen -m m0 -G 8 -n 8 -q -o full/samples.jsonl.zst full/prompts.jsonl 2>err; rc=$?
set -e
test $rc = 1
grep -q "^gen: full/samples.jsonl.zst: write error: No space left on device\$" err
gen -m m0 -G 2 -n 8 -q -o samples.jsonl prompts.jsonl
set +e
pack -L 64 -q -o full/packed.jsonl samples.jsonl 2>err; rc=$?
set -e
test $rc = 1
grep -q "^pack: full/packed.jsonl: write error: No space left on device\$" err
dd if=/dev/zero of=full/ballast bs=4k count=64 2>/dev/null || true
set +e
update -m m0 -o ck --sft --metrics full/m.jsonl p.jsonl 2>err; rc=$?
set -e
test $rc = 1
grep -q "^update: full/m.jsonl: No space left on device\$" err
test ! -s full/m.jsonl
rm -f full/ballast full/m.jsonl
test "$(ls -A full)" = prompts.jsonl
cmp prompts.jsonl full/prompts.jsonl
rm full/prompts.jsonl
set +e
init -c c.json -o full/ck 2>err; rc=$?
set -e
test $rc = 1
grep -q "^init: .*No space left on device" err
test -z "$(ls -A full)"
