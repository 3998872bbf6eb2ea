# Same seed, same records; record i does not depend on -n; --start shards.
for g in arithmetic countdown word code chat prefs; do
    tasks $g -n 50 --seed 9 -r > a
    tasks $g -n 50 --seed 9 -r > b
    cmp a b
    tasks $g -n 50 --seed 10 -r > c
    ! cmp -s a c
    tasks $g -n 20 --seed 9 -r > d
    head -n 20 a | cmp - d
    tasks $g -n 30 --start 20 --seed 9 -r > e
    cat d e | cmp - a
done
