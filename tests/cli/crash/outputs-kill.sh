# Record tools killed (SIGKILL) at random moments: the -o file is the
# complete output or absent, never a part of it.
awk 'BEGIN { for (i = 0; i < 6000; i++)
    printf "{\"id\":\"p%d\",\"group\":\"g%d\",\"k\":%d,\"domain\":\"math\",\"prompt\":\"q\",\"completion\":\"<think>x</think> \\\\boxed{%d}\",\"answer\":\"%d\",\"reward\":%d,\"prompt_ids\":[256,%d],\"completion_ids\":[%d,257]}\n",
        i, i / 4, i % 4, i % 7, i % 3, i % 2, 40 + i % 50, 40 + i % 60 }' >in.jsonl
kills=0
for cmd in "score-math" "score-format" "think --strip" "advantage" "pack -L 64" "tok -r -c" "stats -j"; do
    $cmd -q -o ref.out in.jsonl
    t0=$(date +%s%N); $cmd -q -o t.out in.jsonl; t1=$(date +%s%N)
    span=$(( (t1 - t0) / 1000 + 2000 ))
    for n in 0 1 2 3 4 5 6 7; do
        rm -f o.out
        timeout -s KILL "$(printf '0.%06d' $(( span * n / 8 )))" $cmd -q -o o.out in.jsonl 2>/dev/null || true
        if [ -e o.out ]; then cmp o.out ref.out; fi
        kills=$((kills + 1))
    done
done
echo "$kills kills, $(ls -A | grep -c '^\.o\.out\.tmp') within the output" >&2
rm -f o.out
test "$(ls | tr '\n' ' ')" = "in.jsonl ref.out t.out "
