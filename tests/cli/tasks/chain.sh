# Chain sums: awk adds the terms of each prompt and checks the answer and
# every running-sum line of the worked response; the term counts cover
# --terms; the same seed gives the same records, and -n 5 is a prefix.
tasks chain -n 300 --seed 4 --terms 3-5 --max-term 20 -r > c.jsonl
jq -r '[.prompt, .answer, .response] | @tsv' c.jsonl | awk -F '\t' '
{
    e = $1; sub(/^What is /, "", e); sub(/\?$/, "", e)
    k = split(e, t, / \+ /); s = 0
    for (i = 1; i <= k; i++) { if (t[i] < 1 || t[i] > 20) exit 1; s += t[i] }
    if (s != $2) { print "wrong answer: " $0; exit 1 }
    n = split($3, l, /\\n/); x = t[1]; j = 2
    for (i = 2; i < n; i++) {
        if (l[i] == "</think>") break
        if (l[i] != x " + " t[j] " = " x + t[j]) { print "wrong step: " l[i]; exit 1 }
        x += t[j]; j++
    }
    if (j != k + 1) { print "steps missing: " $0; exit 1 }
    seen[k]++
}
END { for (k = 3; k <= 5; k++) if (seen[k] < 50) exit 1 }'
tasks chain -n 5 --seed 4 --terms 3-5 --max-term 20 -r | cmp - "$(head -n 5 c.jsonl > h; echo h)"
! tasks chain --terms 1 2> err
grep -q -- "--terms" err
