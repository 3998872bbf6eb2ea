# Free-form prompts and preference pairs: prefs record i asks what chat
# record i asks, its chosen answer is chat's reference response (on the
# topic, polite), its rejected one is rude or off the topic; update --rm
# reads the pairs through pack.
tasks chat -n 200 --seed 6 -r > c.jsonl
tasks prefs -n 200 --seed 6 > p.jsonl
jq -e -s 'all(.[]; .domain == "chat" and (.id | startswith("chat/6/")))' c.jsonl > /dev/null
jq -e -s 'all(.[]; .domain == "chat" and (.id | startswith("prefs/6/")) and (has("response") | not))' p.jsonl > /dev/null
jq -r '[.prompt, .response] | @tsv' c.jsonl > c.tsv
jq -r '[.prompt, .chosen] | @tsv' p.jsonl | cmp - c.tsv
jq -r '[.prompt, .chosen, .rejected] | @tsv' p.jsonl | awk -F '\t' '
{
    n = split($1, w, " "); t = w[n]; sub(/[.?]$/, "", t)
    T = toupper(substr(t, 1, 1)) substr(t, 2) " are "
    if (index($2, T) != 1 || $2 !~ /Thank you for asking!$/) { print "chosen: " $0; exit 1 }
    if ($3 == $2) { print "same: " $0; exit 1 }
    if (index($3, T) == 1) { if ($3 ~ /Thank you/) exit 1; rude++ }
    else { if ($3 !~ /Thank you for asking!$/) exit 1; off++ }
}
END { if (rude < 50 || off < 50) exit 1 }'
tasks chat -n 50 --seed 6 | jq -e -s 'all(.[]; has("response") | not)' > /dev/null
init -c "$TESTDIR/../pipelines/tiny.json" -s 1 -o m0 > /dev/null
pack -q -m m0 -L 256 -o packed.jsonl p.jsonl
jq -e -s 'map(.pair | length) | add == 400' packed.jsonl > /dev/null
# --garbled: that share of the rejected answers is the chosen one with
# one to three letters replaced or dropped; 0 keeps the pairs as they were
tasks prefs -n 200 --seed 6 --garbled 0 | cmp - p.jsonl
tasks prefs -n 400 --seed 6 --garbled 50 > g.jsonl
jq -r '[.prompt, .chosen] | @tsv' g.jsonl | head -200 | cmp - c.tsv
jq -r '[.chosen, .rejected] | @tsv' g.jsonl | awk -F '\t' '
{
    if ($1 == $2) exit 1
    rude = $1; sub(/Thank you for asking!$/, "Stop asking me.", rude)
    a = $1; sub(/^[A-Za-z]+ /, "", a); b = $2; sub(/^[A-Za-z]+ /, "", b)
    if ($2 == rude || a == b) next
    d = length($1) - length($2)
    if (d < 0 || d > 3) { print "garbled: " $0; exit 1 }
    garbled++
}
END { if (garbled < 150 || garbled > 250) { print garbled; exit 1 } }'
! tasks prefs -n 1 --garbled 101 2> err
grep -q 'garbled' err
