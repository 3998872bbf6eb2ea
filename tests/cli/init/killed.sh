# A writer killed mid-way leaves the old checkpoint intact under its name:
# replace a tiny checkpoint with a SmolLM-135M-shaped one (seconds of
# work) and kill -9 it after a moment.
init -s 1 -o ck && cp -r ck before &&
{ init -f -p smollm-135m -o ck & pid=$!; } &&
sleep 1 && kill -9 $pid && { wait $pid || true; } &&
cmp before/config.json ck/config.json &&
cmp before/model.safetensors ck/model.safetensors && echo intact
