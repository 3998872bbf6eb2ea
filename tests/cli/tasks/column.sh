# --column: every line of the worked steps is a true one-digit fact (with
# its carry or borrow), and the boxed answer, read from the lines as
# tasks(1) describes, is the exact result, rechecked here by awk.
tasks arithmetic -n 3000 --seed 5 --digits 1-4 --ops +- --negative --column -r -o c.jsonl
jq -r '[.prompt, .answer, .response] | @tsv' c.jsonl > c.tsv
awk -F '\t' '
function fail(msg) { print "line " NR ": " msg ": " $0; bad++ }
{
    split($1, q, " "); a = q[3] + 0; op = q[4]; b = substr(q[5], 1, length(q[5]) - 1) + 0
    want = (op == "+") ? a + b : a - b
    if ($2 + 0 != want) { fail("answer"); next }
    resp = $3; gsub(/\\n/, "\n", resp)
    n = split(resp, L, "\n")
    neg = 0; digits = ""; last = ""; nl = 0
    for (i = 2; i < n; i++) {
        if (L[i] == "</think>") break
        if (L[i] ~ /= -\(/) { neg = 1; continue }
        m = split(L[i], t, " ")
        if (op == "+") {
            r = t[1] + t[3]; if (m == 7) r += 1
            if (r != t[m] + 0) { fail("step " L[i]); next }
        } else {
            if (m == 7) r = t[1] - 1 - t[5]; else r = t[1] - t[3]
            if (r != t[m] + 0 || r < 0 || r > 9) { fail("step " L[i]); next }
        }
        nl++; res[nl] = t[m]
    }
    s = res[nl]
    for (i = nl - 1; i >= 1; i--) s = s (res[i] % 10)
    s = s + 0; if (neg) s = -s
    if (s != want) { fail("assembled " s); next }
    if (index($3, "\\boxed{" want "}") == 0) fail("boxed")
}
END { if (bad) exit 1; print NR " checked" }' c.tsv
