# Routing replay: gen --routes records each completion token's experts
# (one array per sparse layer, top-k each; the records are otherwise gen's
# own, whatever the batch and threads), logp and update --replay-routes
# choose them instead of the router.  For the checkpoint that sampled,
# replay changes nothing, bit for bit: logp's log-probs, update's
# recompute (zero mismatch) and a training step's checkpoint are those
# without it.  After a step has moved the routers, replay and routing
# afresh disagree (logp, update --eval, the next step).  A route moved in
# one record moves that token's log-prob first (token 2 here) and no
# other record's.
P="$TESTDIR/../gen/prompts.jsonl"
for preset in qwen3-moe-tiny deepseek-v3-tiny; do
    echo "$preset"
    rm -rf m m1 m1r m2 m2r && init -p $preset -s 3 --std 0.1 -o m &&
    gen -q -m m -T 1 -G 4 -n 40 --seed 1 --batch 1 --threads 1 --routes "$P" >g1 &&
    gen -q -m m -T 1 -G 4 -n 40 --seed 1 --batch 32 --threads 2 --routes "$P" >g32 &&
    cmp g1 g32 &&
    gen -q -m m -T 1 -G 4 -n 40 --seed 1 "$P" | jq -c . >plain &&
    jq -c 'del(.routes)' g1 | cmp - plain &&
    jq -c '[(.routes | length) == (.completion_ids | length),
            (.routes[0] | length), (.routes[0][0] | length)]' g1 | sort | uniq -c &&
    jq -c '. + {advantage: (if .k % 2 == 0 then 1 else -1 end)}' g1 >a.jsonl &&
    logp -q -m m --old --replay-routes --threads 1 --batch-tokens 1 a.jsonl >o1 &&
    logp -q -m m --old --threads 2 a.jsonl >o0 &&
    cmp o1 o0 &&
    for src in a.jsonl o1; do
        pack -q -L 128 $src >p.jsonl &&
        update -q -m m --grpo --eval --replay-routes p.jsonl |
            jq -c '[.logp_mismatch, .logp_mismatch_max, .logp_mismatch_frac]'
    done &&
    pack -q -L 128 a.jsonl >p.jsonl &&
    update -q -m m -o m1 --grpo --lr 3e-2 --threads 2 p.jsonl &&
    update -q -m m -o m1r --grpo --lr 3e-2 --threads 2 --replay-routes p.jsonl &&
    cmp m1/model.safetensors m1r/model.safetensors &&
    logp -q -m m1 --old --replay-routes a.jsonl | jq -c .old_logprobs >r1 &&
    logp -q -m m1 --old a.jsonl | jq -c .old_logprobs >r0 &&
    paste -d ' ' r1 r0 | awk '$1 != $2 { n++ } END { print (n > 0 ? "replay differs" : "replay same") }' &&
    update -q -m m1 --grpo --eval --replay-routes p.jsonl | jq -c .logp_mismatch >e1 &&
    update -q -m m1 --grpo --eval p.jsonl | jq -c .logp_mismatch >e0 &&
    if cmp -s e1 e0; then echo "eval same"; else echo "eval differs"; fi &&
    update -q -m m1 -o m2 --grpo --lr 3e-2 p.jsonl &&
    update -q -m m1 -o m2r --grpo --lr 3e-2 --replay-routes p.jsonl &&
    if cmp -s m2/model.safetensors m2r/model.safetensors; then echo "step same"; else
        echo "step differs"; fi &&
    E=$(jq '.num_experts // .n_routed_experts' m/config.json) &&
    jq -c --argjson E "$E" \
        'if .group == "p1" and .k == 0 then .routes[2][0] |= map((. + 1) % $E) else . end' \
        a.jsonl >t.jsonl &&
    logp -q -m m --old --replay-routes t.jsonl >ot &&
    jq -c 'select(.group == "p1" and .k == 0) | .old_logprobs' o1 ot |
        jq -s -c 'transpose | [to_entries[] | select(.value[0] != .value[1]) | .key] |
                  [.[0], length > 0]' &&
    jq -c 'select(.group != "p1" or .k != 0)' o1 >x1 &&
    jq -c 'select(.group != "p1" or .k != 0) | del(.routes)' ot >xt &&
    jq -c 'del(.routes)' x1 | cmp - xt
done
