#!/bin/sh
# bench/records.sh - record passthrough speed (zstd decompress + parse +
# compact write) beside its peers on the same file, in one run:
#   I/O limit   zstd -dc FILE | wc -l
#   posttrain   passthrough FILE > /dev/null       (lib/rec + lib/tool)
#   jq          zstd -dc FILE | jq -c . > /dev/null
# The input is sample records as gen writes them (text, token ids,
# log-probs), about 100 MB uncompressed.  Prints seconds, MB/s and ratios.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
OUT="$TOP/bench/out"
mkdir -p "$OUT"
make -s -C "$TOP" build/libposttrain.a
cc -std=c17 -D_GNU_SOURCE -O2 -I"$TOP/lib" -o "$OUT/passthrough" "$TOP/bench/passthrough.c" \
    "$TOP/build/libposttrain.a" -ljansson -lzstd -lm
F="$OUT/samples.jsonl.zst"
if [ ! -e "$F" ]; then
    awk 'BEGIN {
        srand(1);
        for (i = 0; i < 20000; i++) {
            ids = ""; lp = "";
            for (j = 0; j < 200; j++) {
                ids = ids (j ? "," : "") int(rand() * 50000);
                lp = lp (j ? "," : "") sprintf("%.7g", -rand() * 5);
            }
            printf "{\"id\":\"gsm8k-%d\",\"domain\":\"math\",\"prompt\":\"Natalia sold clips to %d of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether?\",\"answer\":\"%d\",\"group\":\"gsm8k-%d\",\"k\":%d,\"completion\":\"<think>\\nIn April she sold %d clips. In May half as many.\\n</think>\\nThe answer is \\\\boxed{%d}.\",\"finish\":\"stop\",\"completion_ids\":[%s],\"logprobs\":[%s],\"reward\":%d.0}\n",
                i, i, i * 3, int(i / 8), i % 8, i, i * 3, ids, lp, i % 2
        }
    }' | zstd -q -3 -o "$F"
fi
MB=$(zstd -dc "$F" | wc -c | awk '{ printf "%.1f", $1 / 1e6 }')
best() { # best of 3 wall-clock seconds of "sh -c CMD"
    b=
    for k in 1 2 3; do
        s=$(date +%s.%N); sh -c "$1" > /dev/null; e=$(date +%s.%N)
        b=$(echo "$s $e ${b:-1e9}" | awk '{ t = $2 - $1; print (t < $3 ? t : $3) }')
    done
    echo "$b"
}
io=$(best "zstd -dc '$F' | wc -l")
pt=$(best "'$OUT/passthrough' '$F'")
jqt=$(best "zstd -dc '$F' | jq -c . ")
echo "input: $F ($MB MB uncompressed, 20000 sample records)"
printf '%-34s %8s %8s\n' "command" "seconds" "MB/s"
for row in "zstd -dc | wc -l (I/O limit):$io" "passthrough (posttrain):$pt" "zstd -dc | jq -c .:$jqt"; do
    name=${row%:*}; t=${row##*:}
    printf '%-34s %8.2f %8.1f\n' "$name" "$t" "$(echo "$MB $t" | awk '{ print $1 / $2 }')"
done
echo "$pt $io $jqt" | awk '{ printf "posttrain / I/O limit: %.2fx the time (goal <= 3x)\njq / posttrain: %.1fx faster (goal >= 5x)\n", $1 / $2, $3 / $1 }'
