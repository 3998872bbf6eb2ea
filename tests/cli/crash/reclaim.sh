# Writers killed (SIGKILL) while they write a big output and a checkpoint
# leave their temporaries, named after them; the next tool that writes
# into that directory, whichever it is, removes them, and leaves alone the
# temporary of a writer still at work, which then completes.
awk 'BEGIN { for (i = 0; i < 300000; i++)
    printf "{\"id\":\"p%d\",\"domain\":\"math\",\"completion\":\"<think>x</think> \\\\boxed{%d}\",\"answer\":\"1\"}\n", i, i }' >big.jsonl
head -n 10 big.jsonl >small.jsonl
printf '%s\n' '{"model_type": "llama", "hidden_size": 1024, "intermediate_size": 3072,' \
    '"num_hidden_layers": 8, "num_attention_heads": 8, "num_key_value_heads": 4,' \
    '"vocab_size": 264, "max_position_embeddings": 64, "tie_word_embeddings": true}' >big.json
printf '%s\n' '{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,' \
    '"num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,' \
    '"vocab_size": 264, "max_position_embeddings": 64, "tie_word_embeddings": true}' >small.json
mkdir out
# kill_when "PIDS" PATTERN...: SIGKILLs PIDS once out/ holds a file
# matching each PATTERN
kill_when() {
    pids=$1
    shift
    for pat; do
        n=0
        until ls -A out | grep -q "$pat"; do
            n=$((n + 1))
            if [ $n -gt 2000 ]; then echo "no $pat after 20 s" >&2; exit 1; fi
            sleep 0.01
        done
    done
    kill -KILL $pids
    for p in $pids; do wait $p || true; done
}
# both at once: each reclaims out/ when it starts, while the other lives
# (score-math reads a FIFO held open, so it cannot finish before the kill)
mkfifo bigfifo
exec 4<>bigfifo
cat big.jsonl >&4 &
score-math -q -o out/big.jsonl bigfifo 4>&- 2>/dev/null &
p1=$!
init -c big.json -o out/ck 2>/dev/null &
p2=$!
kill_when "$p1 $p2" '^\.big\.jsonl\.tmp-' '^\.ck\.tmp-'
exec 4>&-
ls -A out | grep -q "^\.big\.jsonl\.tmp-$p1-[0-9]*-[0-9a-f]\{8\}-......\$"
ls -A out | grep -q "^\.ck\.tmp-$p2-[0-9]*-[0-9a-f]\{8\}-......\$"
test ! -e out/big.jsonl && test ! -e out/ck
test "$(ls -A out | wc -l)" = 2
# a live writer: its input is a FIFO kept open, so it waits with its
# temporary open
mkfifo fifo
exec 3<>fifo
score-format -q -o out/live.jsonl fifo 3>&- &
lp=$!
n=0
until ls -A out | grep -q '^\.live\.jsonl\.tmp-'; do
    n=$((n + 1)); [ $n -lt 2000 ] || exit 1; sleep 0.01
done
cat small.jsonl >&3
# another tool writes into out/: a checkpoint
init -c small.json -o out/small 2>/dev/null
ls -A out >after
test "$(grep -v '^\.live\.jsonl\.tmp-' after)" = small
test "$(grep -c "^\.live\.jsonl\.tmp-$lp-" after)" = 1
# the live writer finishes, whole
exec 3>&-
wait $lp
test "$(wc -l <out/live.jsonl)" = 10
test "$(ls -A out | tr '\n' ' ')" = "live.jsonl small "
# and once more: a killed checkpoint writer, reclaimed by a record tool
init -c big.json -o out/ck 2>/dev/null &
p3=$!
kill_when $p3 '^\.ck\.tmp-'
test "$(ls -A out | grep -c "^\.ck\.tmp-$p3-")" = 1
score-math -q -o out/s.jsonl small.jsonl
test "$(ls -A out | tr '\n' ' ')" = "live.jsonl s.jsonl small "
