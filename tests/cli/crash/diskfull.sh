# A full disk (a 64 KiB tmpfs): a record tool's -o and update's checkpoint
# give an error and leave nothing behind, neither the output nor a
# temporary.
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
grep -q "^update: .*No space left on device" err
test -z "$(ls -A full)"
set +e
init -c c.json -o full/ck 2>err; rc=$?
set -e
test $rc = 1
grep -q "^init: .*No space left on device" err
test -z "$(ls -A full)"
