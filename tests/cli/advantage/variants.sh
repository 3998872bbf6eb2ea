# Every variant against advantages worked out by hand (the formulas in the
# comments; decimals to 16 digits), compared within 1e-12.
#
# Group a: r = 2 4 4 4 5 5 7 9, mean 5, r - mean = -3 -1 -1 -1 0 0 2 4,
#   M2 = 32, population std 2, sample std sqrt(32/7) = 2.1380899352993950.
# Group b: r = 1 0, mean 0.5, population std 0.5, sample std sqrt(1/2).
# Group c: G = 1.  Group d: all equal.  Both: advantage 0 in every variant.
for r in 2 4 4 4 5 5 7 9; do echo "{\"group\":\"a\",\"reward\":$r}"; done > in.jsonl
printf '%s\n' '{"group":"b","reward":1}' '{"group":"b","reward":0}' \
    '{"group":"c","reward":3}' '{"group":"d","reward":0.5}' '{"group":"d","reward":0.5}' \
    '{"group":"d","reward":0.5}' >> in.jsonl

# expect FILE '[a1, a2, ...]': the advantages of FILE, in order, within 1e-12.
expect() {
    jq -e -n -s --argjson w "$2" --slurpfile got "$1" '
        [$got[].advantage] as $a
        | ($a | length) == ($w | length)
          and all(range($w | length); ($a[.] - $w[.]) as $d | $d < 1e-12 and $d > -1e-12)' \
        > /dev/null || { echo "$1: got $(jq -c -s 'map(.advantage)' "$1"), want $2"; exit 1; }
}

# GRPO, defaults (sample std, eps 1e-4): (r - mean) / (std + 1e-4).
#   a: (r - 5) / 2.1381899352993950; b: +-0.5 / (0.7071067811865476 + 1e-4)
advantage -q in.jsonl > out
expect out '[-1.4030558981094126, -0.4676852993698042, -0.4676852993698042,
    -0.4676852993698042, 0, 0, 0.9353705987396084, 1.8707411974792167,
    0.7070067953266834, -0.7070067953266834, 0, 0, 0, 0]'

# GRPO, population std, eps 0: a: (r - 5) / 2; b: +-0.5 / 0.5.
advantage -q --population --eps 0 in.jsonl > out
expect out '[-1.5, -0.5, -0.5, -0.5, 0, 0, 1, 2, 1, -1, 0, 0, 0, 0]'

# eps 0.5, population: a: (r - 5) / 2.5; b: +-0.5 / 1.
advantage -q --population --eps 0.5 in.jsonl > out
expect out '[-1.2, -0.4, -0.4, -0.4, 0, 0, 0.8, 1.6, 0.5, -0.5, 0, 0, 0, 0]'

# Dr. GRPO: r - mean.
advantage -q --dr-grpo in.jsonl > out
expect out '[-3, -1, -1, -1, 0, 0, 2, 4, 0.5, -0.5, 0, 0, 0, 0]'
advantage -q --baseline mean --scale none in.jsonl > out
expect out '[-3, -1, -1, -1, 0, 0, 2, 4, 0.5, -0.5, 0, 0, 0, 0]'

# RLOO: r_i - (sum - r_i) / (G - 1).  a: (8 r - 40) / 7; b: 1 - 0, 0 - 1.
advantage -q --rloo in.jsonl > out
expect out '[-3.4285714285714286, -1.1428571428571428, -1.1428571428571428,
    -1.1428571428571428, 0, 0, 2.2857142857142857, 4.5714285714285714, 1, -1, 0, 0, 0, 0]'

# Leave-one-out baseline over the population std: a: 4/7 (r - 5); b: +-1 / 0.5.
advantage -q --baseline loo --scale group --population --eps 0 in.jsonl > out
expect out '[-1.7142857142857143, -0.5714285714285714, -0.5714285714285714,
    -0.5714285714285714, 0, 0, 1.1428571428571428, 2.2857142857142857, 2, -2, 0, 0, 0, 0]'

# Batch std.  Groups {0, 1}, {0, 0, 0, 1}, {1, 1}: the eight rewards have
# mean 0.5 and M2 = 2, population std 0.5, sample std sqrt(2/7) =
# 0.5345224838248488.  A = (r - group mean) / batch std.
printf '%s\n' '{"group":"x","reward":0}' '{"group":"x","reward":1}' \
    '{"group":"y","reward":0}' '{"group":"y","reward":0}' '{"group":"y","reward":0}' \
    '{"group":"y","reward":1}' '{"group":"z","reward":1}' '{"group":"z","reward":1}' > batch.jsonl
advantage -q --scale batch --population --eps 0 batch.jsonl > out
expect out '[-1, 1, -0.5, -0.5, -0.5, 1.5, 0, 0]'
# Sample std, eps 1e-4: d = 0.5346224838248488; -+0.5/d, -0.25/d, 0.75/d.
advantage -q --scale batch batch.jsonl > out
expect out '[-0.9352393794268636, 0.9352393794268636, -0.4676196897134318,
    -0.4676196897134318, -0.4676196897134318, 1.4028590691402953, 0, 0]'
# Batches of 2 groups: {x, y} has rewards 0 1 0 0 0 1: mean 1/3, M2 = 4/3,
# population std sqrt(2)/3 = 0.4714045207910317; {z} is uniform.
# x: -+0.5 / s = -+1.0606601717798212; y: -0.25/s, 0.75/s.
advantage -q --batch 2 --population --eps 0 batch.jsonl > out
expect out '[-1.0606601717798212, 1.0606601717798212, -0.5303300858899106,
    -0.5303300858899106, -0.5303300858899106, 1.5909902576697317, 0, 0]'
# Whole input, uniform z dropped: the batch is {x, y}, as above.
advantage -q --scale batch --drop-uniform --population --eps 0 batch.jsonl > out
expect out '[-1.0606601717798212, 1.0606601717798212, -0.5303300858899106,
    -0.5303300858899106, -0.5303300858899106, 1.5909902576697317]'

# The records are carried whole, advantage added last.
advantage -q --dr-grpo --key score <<'X' > out
{"group":"g","k":0,"score":1,"extra":{"a":[1,2]},"completion":"x"}
{"group":"g","k":1,"score":0,"extra":null,"completion":"y"}
X
cat > want <<'X'
{"group":"g","k":0,"score":1,"extra":{"a":[1,2]},"completion":"x","advantage":0.5}
{"group":"g","k":1,"score":0,"extra":null,"completion":"y","advantage":-0.5}
X
cmp want out
# A dotted key reads a nested reward.
printf '%s\n' '{"group":"g","rewards":{"math":1}}' '{"group":"g","rewards":{"math":0}}' \
    | advantage -q --dr-grpo --key rewards.math | jq -c -s 'map(.advantage)' > out
echo '[0.5,-0.5]' | cmp - out
