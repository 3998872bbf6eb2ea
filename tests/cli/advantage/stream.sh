# A stream of 1 M records (62 500 groups of 16) in constant memory: the
# peak RSS stays within 4 MiB of a 10 000-record run (the group-id set is
# the only growth: 8 bytes a group), in the group scale and (on a quarter
# of it) the batch scale.
# Every 5th group is all zeros; the others have 4 ones and 12 zeros:
# mean 0.25, sample std sqrt(3/15) = 0.4472135954999579, so
# A(1) = 0.75 / 0.4473135954999579 = 1.6766760669586458 and
# A(0) = -0.25 / 0.4473135954999579 = -0.5588920223195486.
command -v /usr/bin/time > /dev/null || { echo "skipped: /usr/bin/time (package time) is missing"; exit 77; }
[ "${ASAN:-}" != 1 ] || { echo "skipped: a memory bound means nothing under ASan (its quarantine holds freed memory)"; exit 77; }
gen() {
    awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) { j = int(i / 16)
        printf "{\"group\":\"g%d\",\"k\":%d,\"reward\":%d}\n", j, i % 16, (j % 5 != 0 && i % 16 < 4) } }'
}
gen 10000 | /usr/bin/time -f %M -o rss.small advantage -G 16 -q > /dev/null
gen 1000000 | /usr/bin/time -f %M -o rss.big advantage -G 16 > out 2> err
grep -qx 'advantage: 62500 groups, 1000000 records; 12500 uniform groups (200000 records) given advantage 0' err
test "$(wc -l < out)" = 1000000
awk -F'"advantage":' '{ c[$2]++ } END { for (k in c) print k, c[k] }' out | sort > got
printf '%s\n' '-0.5588920223195486} 600000' '0.0} 200000' '1.6766760669586458} 200000' | cmp - got
small=$(tail -n 1 rss.small) big=$(tail -n 1 rss.big)
echo "max RSS: 10k records $small KiB, 1M records $big KiB"
test "$big" -lt $((small + 4096))
# Batch scale on 250 000 records, 1000 groups (16 000 records) a batch,
# through a spool file: each batch has 3200 ones among 16 000 rewards (the
# last one, 625 groups, 2000 among 10 000): mean 0.2, population std 0.4,
# so A(1) = 0.75 / 0.4 = 1.875 and
# A(0) = -0.25 / 0.4 = -0.625, to 12 digits (the std of a batch, merged
# from its groups' moments, is 0.4 within a few ulps).
gen 250000 | /usr/bin/time -f %M -o rss.batch advantage -G 16 --batch 1000 --population --eps 0 > out 2> err
grep -qx 'advantage: 15625 groups in 16 batches, 250000 records; 3125 uniform groups (50000 records) given advantage 0' err
test "$(wc -l < out)" = 250000
awk -F'"advantage":' '{ c[sprintf("%.12g", $2 + 0)]++ } END { for (k in c) print k, c[k] }' out | sort > got
printf '%s\n' '-0.625 150000' '0 50000' '1.875 50000' | cmp - got
batch=$(tail -n 1 rss.batch)
echo "max RSS: 250k records in batches $batch KiB"
test "$batch" -lt $((small + 4096))
