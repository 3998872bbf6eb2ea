# --plot: one PNG per metric (nested names dotted), against step.
command -v gnuplot > /dev/null || { echo "gnuplot is not installed"; exit 77; }
printf '%s\n' '{"step":1,"reward":0.1,"kl":0.01,"len":{"mean":30},"note":"x"}' \
    '{"step":2,"reward":0.3,"kl":0.02,"len":{"mean":40}}' \
    '{"step":3,"reward":0.4,"kl":0.05,"len":{"mean":45}}' | zstd -q > m.jsonl.zst
stats --plot out m.jsonl.zst 2> err
grep -qx "stats: 3 plots in 'out'" err
test "$(ls out | tr '\n' ' ')" = "kl.png len.mean.png reward.png "
for f in out/*.png; do
    test "$(head -c 8 "$f" | od -An -c | tr -d ' ')" = '211PNG\r\n032\n'
done
