# DAPO's overlong term, the KL folded into the reward, GDPO's per-reward
# normalization (then over the batch) and the masking of truncated samples
# on 200 random groups, against shaping.py within 1e-9 relative; then the
# failure modes.
command -v python3 > /dev/null || { echo "skipped: python3 is missing"; exit 77; }
awk 'BEGIN { srand(7); for (g = 0; g < 200; g++) { n = 2 + int(rand() * 6)
    for (k = 0; k < n; k++) {
        L = 1 + int(rand() * 20); fin = (L >= 16 || rand() < 0.1) ? "length" : "stop"
        if (L > 16) L = 16
        a = (rand() < 0.4); f = (g % 3 == 0) ? 0.5 : (rand() < 0.8) * 0.5
        ids = ""; lp = ""; rp = ""
        for (t = 0; t < L; t++) { ids = ids (t ? "," : "") 40 + t
            lp = lp (t ? "," : "") sprintf("%.6f", -rand() * 3)
            rp = rp (t ? "," : "") sprintf("%.6f", -rand() * 3) }
        printf "{\"group\":\"g%d\",\"k\":%d,\"finish\":\"%s\",\"completion_ids\":[%s],", g, k, fin, ids
        printf "\"logprobs\":[%s],\"ref_logprobs\":[%s],", lp, rp
        printf "\"rewards\":{\"accuracy\":%d,\"format\":%g},\"reward\":%g}\n", a, f, a + f } } }' > in.jsonl
cmp_ref() {  # LC LMAX FACTOR KLCOEF KL PER MASK BATCH -- advantage options
    python3 "$TESTDIR/shaping.py" in.jsonl "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$8" > want
    shift 9
    advantage -q "$@" in.jsonl > out
    jq -r '"\(.advantage) \(.reward)"' out > got
    test "$(wc -l < want)" = "$(wc -l < got)" || { echo "advantage $*: line counts"; exit 1; }
    paste got want | awk '{ for (i = 1; i <= 2; i++) { d = $i - $(i + 2); if (d < 0) d = -d
        m = ($(i + 2) < 0 ? -$(i + 2) : $(i + 2))
        if (d > 1e-9 * (m > 1 ? m : 1)) { print "line " NR ": " $0; bad = 1 } } }
        END { exit bad }' || { echo "advantage $*"; exit 1; }
    echo "advantage $*: $(wc -l < got) records"
}
cmp_ref 4 16 1 0 k1 0 0 0 -- --overlong 4 --max-tokens 16
cmp_ref 8 16 0.5 0 k1 0 0 0 -- --overlong 8 --max-tokens 16 --overlong-penalty 0.5
cmp_ref 0 0 1 0.1 k1 0 0 0 -- --kl-coef 0.1
cmp_ref 0 0 1 0.05 k2 0 0 0 -- --kl-coef 0.05 --kl k2
cmp_ref 0 0 1 0.02 k3 0 0 0 -- --kl-coef 0.02 --kl k3
cmp_ref 0 0 1 0 k1 1 0 0 -- --per-reward
cmp_ref 4 16 1 0.1 k3 1 1 0 -- --per-reward --overlong 4 --max-tokens 16 --kl-coef 0.1 --kl k3 --mask-truncated
cmp_ref 0 0 1 0 k1 0 1 0 -- --mask-truncated
cmp_ref 0 0 1 0 k1 1 0 16 -- --per-reward --batch 16
cmp_ref 0 0 1 0 k1 1 1 7 -- --per-reward --mask-truncated --batch 7
# a constant format reward does not scale the accuracy signal down
head -n 3 in.jsonl | jq -c '.group = "x" | .rewards.format = 0.5 | .reward = .rewards.accuracy + 0.5' > one.jsonl
advantage -q --per-reward one.jsonl | jq -c '.advantage' | tr '\n' ' '; echo
# failure modes
advantage --overlong 4 in.jsonl 2>&1 | head -n 1
advantage --max-tokens 4 in.jsonl 2>&1 | head -n 1
advantage --overlong 8 --max-tokens 4 in.jsonl 2>&1 | head -n 1
advantage --overlong x --max-tokens 4 in.jsonl 2>&1 | head -n 1
advantage --kl-coef -1 in.jsonl 2>&1 | head -n 1
advantage --kl k5 in.jsonl 2>&1 | head -n 1
advantage --per-reward --scale batch in.jsonl 2>&1 | head -n 1
advantage --min-policy-step -2 in.jsonl 2>&1 | head -n 1
head -n 2 in.jsonl | jq -c 'del(.finish)' | advantage --mask-truncated 2>&1 | head -n 1
head -n 2 in.jsonl | jq -c 'del(.ref_logprobs)' | advantage --kl-coef 0.1 2>&1 | head -n 1
head -n 2 in.jsonl | jq -c 'if .k == 1 then .rewards.extra = 1 else . end' | advantage --per-reward 2>&1 | head -n 1
head -n 2 in.jsonl | advantage --min-policy-step 3 2>&1 | head -n 1
head -n 2 in.jsonl | jq -c '.policy_step = (.k + 2)' | advantage --min-policy-step 3 2>&1 | head -n 1
head -n 2 in.jsonl | jq -c '.policy_step = 3' | advantage -q --min-policy-step 3 | wc -l
