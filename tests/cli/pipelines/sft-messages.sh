# pipelines/sft.mk on conversations: the messages records are packed as
# multi-turn SFT (loss on both assistant turns, or with LAST_TURN_ONLY=1
# on the last) and trained for one epoch.
init -c "$TESTDIR/tiny.json" -o ck &&
printf '%s\n' \
    '{"id":"a","messages":[{"role":"user","content":"Q"},{"role":"assistant","content":"A"},{"role":"user","content":"R"},{"role":"assistant","content":"B"}]}' \
    '{"id":"b","messages":[{"role":"system","content":"S"},{"role":"user","content":"x"},{"role":"assistant","reasoning_content":"t","content":"y"}]}' \
    > conv.jsonl &&
make -s -f "$TOP/pipelines/sft.mk" INIT=ck DATA=conv.jsonl RUN=all EPOCHS=1 L=64 BATCH=2 >/dev/null &&
make -s -f "$TOP/pipelines/sft.mk" INIT=ck DATA=conv.jsonl RUN=last EPOCHS=1 L=64 BATCH=2 LAST_TURN_ONLY=1 >/dev/null &&
test -L all/final && test -s all/epoch-1/model.safetensors &&
zstd -dc all/packed.jsonl.zst | jq -c '[.segments, (.loss_mask | add)]' &&
zstd -dc last/packed.jsonl.zst | jq -c '[.segments, (.loss_mask | add)]' &&
echo "trained on conversations"
