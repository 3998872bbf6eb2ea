# Groups whose rewards are all equal (G = 1 included) get advantage 0 and
# are counted on stderr; --drop-uniform leaves them out and says how many.
printf '%s\n' '{"group":"p","reward":1}' '{"group":"p","reward":1}' '{"group":"p","reward":1}' \
    '{"group":"q","reward":0}' '{"group":"q","reward":1}' '{"group":"r","reward":5}' \
    '{"group":"s","reward":-2}' '{"group":"s","reward":-2}' > in.jsonl
advantage --dr-grpo in.jsonl > out 2> err
jq -c -s 'map([.group, .advantage])' out > got
echo '[["p",0],["p",0],["p",0],["q",-0.5],["q",0.5],["r",0],["s",0],["s",0]]' | cmp - got
grep -qx 'advantage: 4 groups, 8 records; 3 uniform groups (6 records) given advantage 0' err
test "$(wc -l < err)" = 1
# Zero is written as a real, never -0.0 or null.
grep -c '"advantage":0.0}' out | grep -qx 6
# Same counts and zeros in every variant, even with eps 0.
for v in "" --rloo "--scale batch" "--population --eps 0" "--baseline loo --scale group --eps 0"; do
    advantage $v in.jsonl > out 2> err
    test "$(jq -s '[.[] | select(.group != "q") | .advantage] | map(select(. != 0)) | length' out)" = 0
    grep -q '3 uniform groups (6 records) given advantage 0' err
done
advantage --drop-uniform in.jsonl > out 2> err
test "$(jq -r .group out | tr -d '\n')" = qq
grep -qx 'advantage: 4 groups, 8 records; 3 uniform groups (6 records) dropped' err
advantage --drop-uniform --scale batch --batch 1 in.jsonl > out 2> err
test "$(jq -r .group out | tr -d '\n')" = qq
grep -qx 'advantage: 4 groups in 1 batches, 8 records; 3 uniform groups (6 records) dropped' err
# -q silences the summary.
advantage -q --drop-uniform in.jsonl > out 2> err
test ! -s err
# Nothing but uniform groups, dropped: empty output, status 0.
printf '%s\n' '{"group":"a","reward":1}' | advantage --drop-uniform > out 2> err
test ! -s out
grep -qx 'advantage: 1 groups, 1 records; 1 uniform groups (1 records) dropped' err
# Empty input.
advantage < /dev/null > out 2> err
test ! -s out
grep -qx 'advantage: 0 groups, 0 records; 0 uniform groups (0 records) given advantage 0' err
