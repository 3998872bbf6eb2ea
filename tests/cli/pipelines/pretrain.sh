# pretrain.mk on a small corpus of text records: the packed sequences hold
# whole documents with the loss on every token but each document's first,
# two epochs make one run, and the loss falls.
init -c "$TESTDIR/tiny.json" -s 3 -o base > /dev/null
tasks corpus -n 150 --seed 7 -o corpus.jsonl
make --no-print-directory -s -f "$TOP/pipelines/pretrain.mk" INIT=base DATA=corpus.jsonl RUN=pt \
    EPOCHS=2 L=512 BATCH=4 LR=1e-2 MIN_LR=1e-3 WARMUP=2 > log 2>&1
test -s pt/final/model.safetensors
test "$(readlink pt/final)" = epoch-2
zstd -dc pt/packed.jsonl.zst | jq -e -s '(map(.segments | length) | add) == 150
    and all(.[]; (.loss_mask | add) == (.ids | length) - (.segments | length))' > /dev/null
first=$(head -n 1 pt/epoch-1.metrics.jsonl | jq .loss)
last=$(tail -n 1 pt/epoch-2.metrics.jsonl | jq .loss)
jq -n -e --argjson a "$first" --argjson b "$last" '$b < $a * 0.7' > /dev/null
