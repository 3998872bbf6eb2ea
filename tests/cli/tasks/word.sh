# The word problems read back by awk, which works out each answer from the
# sentences alone.
tasks word -n 400 --seed 4 --steps 1-6 > w.jsonl
jq -r '.prompt' w.jsonl | awk '
{
    n = split($0, s, /[.?] ?/)
    split(s[1], w, " "); x = w[3]
    for (i = 2; i < n; i++) {
        m = split(s[i], w, " ")
        if (s[i] ~ / finds [0-9]+ more /) x += w[3]
        else if (s[i] ~ / gives half of /) x /= 2
        else if (s[i] ~ / gives [0-9]+ /) x -= w[3]
        else if (s[i] ~ / buys [0-9]+ bags of [0-9]+ /) x += w[3] * w[6]
        else if (s[i] ~ / doubles /) x *= 2
        else if (s[i] ~ / equal piles and keeps one/) x /= w[6]
        else if (s[i] ~ /^How many /) break
        else { print "unknown: " s[i] > "/dev/stderr"; exit 1 }
    }
    print x
}' > want
jq -r .answer w.jsonl > got
cmp want got
jq -e -s 'all(.[]; (.answer | tonumber) > 0)' w.jsonl > /dev/null
