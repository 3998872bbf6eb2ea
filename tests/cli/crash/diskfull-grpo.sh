# grpo.mk on a file system that is too small (a tmpfs, grown a little
# after each failure): every failure is "No space left on device" naming
# the file of the stage, exit 1, with every file written before it whole
# (the same bytes as in a run that never failed) and no temporary left;
# "make" again, once there is room, resumes at that stage, and the run
# ends with the same files as the run that never failed.  The failures
# fall in every stage: samples, scores, advantages, packed records, the
# checkpoint, update's metrics, the run's metrics and plots.
if [ -z "${PT_UNSHARED:-}" ] && unshare -m true 2>/dev/null; then
    # a mount namespace of its own: the tmpfs never shows outside
    PT_UNSHARED=1 exec unshare -m sh -e "$0"
fi
mkdir full
mount -t tmpfs -o size=4k tmpfs full 2>/dev/null || { echo "skipped: cannot mount a tmpfs"; exit 77; }
trap 'umount full' EXIT
init -c "$TESTDIR/../pipelines/tiny.json" -s 5 -o base 2>/dev/null
tasks arithmetic -n 40 --seed 9 --ops + -o prompts.jsonl
run() { # RUN dir
    make --no-print-directory -s -f "$TOP/pipelines/grpo.mk" INIT=base PROMPTS=prompts.jsonl \
        RUN="$1" STEPS=2 BATCH=4 G=4 MAXTOK=24 L=256 LR=1e-3 BETA=0.04 ACC_KEY=rewards.math
}
run a >a.log 2>&1
# same_as_a: every file of the run in full/ is the one of run a (update's
# metrics but for their tokens_per_s, a speed)
same_as_a() {
    (cd full/b && find . -type f ! -name '*.part' ! -name '*.part.zst' ! -name .done) | sort >files
    while read -r f; do
        case $f in
        */step-*/metrics.jsonl)
            jq -c 'del(.tokens_per_s)' "a/$f" >x1 && jq -c 'del(.tokens_per_s)' "full/b/$f" >x2
            cmp x1 x2 ;;
        *) cmp "a/$f" "full/b/$f" ;;
        esac
    done <files
}
size=4 fails=0
: >stages
while :; do
    set +e
    run full/b >log 2>&1
    rc=$?
    set -e
    [ $rc = 0 ] && break
    fails=$((fails + 1))
    test $fails -lt 80
    # one error, from the tool of the stage, naming its file
    grep 'No space left on device' log >err
    test "$(wc -l <err)" = 1
    sed -n "s/.*'*\(full\/b\/[^':]*\)'*: .*No space left on device.*/\1/p" err >name
    test -s name
    echo "$(cat name)" >>stages
    same_as_a
    # nothing half-written under a hidden name
    test -z "$(find full -name '.*.tmp-*')"
    # some room, and again
    case $(cat name) in */ckpt/*|*/plots/*) size=$((size + 64)) ;; *) size=$((size + 4)) ;; esac
    mount -o remount,size=${size}k full
done
same_as_a
cmp a/metrics.jsonl full/b/metrics.jsonl
cmp a/step-002/ckpt/model.safetensors full/b/step-002/ckpt/model.safetensors
test -z "$(find full -name '.*.tmp-*' -o -name '*.part*')"
sed 's/step-00[0-9]/step-N/' stages | sort -u >kinds
for k in samples.jsonl.zst scored adv.jsonl.zst packed.jsonl.zst \
         'ckpt/' metrics.part 'b/metrics.jsonl' plots/; do
    grep -q "$k" kinds || { echo "no failure in $k: $(cat stages)" >&2; exit 1; }
done
echo "$fails failures, resumed: $(tr '\n' ' ' <kinds)" >&2
