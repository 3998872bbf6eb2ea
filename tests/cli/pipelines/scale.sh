# grpo.mk with PARALLEL (gen, the scorers and logp in shards of 3
# prompts or records, 2 at a time) writes the same records and policies
# at every step as without; with MPIRUN (update on 2 ranks) the policy
# of a step is within 1e-6 of the one-process one (update(1): float
# summation order, so the next step samples from a policy a few ulps
# away).
command -v parallel >/dev/null || { echo "skipped: no GNU parallel (make deps)"; exit 77; }
command -v mpirun >/dev/null || { echo "skipped: no mpirun (make deps installs openmpi-bin)"; exit 77; }
nm "$BIN/update" | grep -q MPI_Init || { echo "skipped: bin/update built without MPI (make MPI=1)"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
init -c "$TESTDIR/tiny.json" -s 5 -o base
tasks arithmetic -n 40 --seed 9 --ops + -o prompts.jsonl
run() { # RUN dir, settings
    d=$1
    shift
    make --no-print-directory -s -f "$TOP/pipelines/grpo.mk" INIT=base PROMPTS=prompts.jsonl \
        RUN="$d" BATCH=6 G=4 MAXTOK=24 L=64 LR=1e-4 BETA=0.04 ACC_KEY=rewards.math \
        "$@" > "$d.log" 2>&1
}
run a STEPS=2
run b STEPS=2 PARALLEL='parallel --pipe --keep-order -N 3 -j 2'
for s in 001 002; do
    for f in samples scored adv packed; do
        zstd -dc a/step-$s/$f.jsonl.zst >x
        zstd -dc b/step-$s/$f.jsonl.zst >y
        test -s x
        cmp x y
    done
    cmp a/step-$s/ckpt/model.safetensors b/step-$s/ckpt/model.safetensors
done
run c STEPS=1 MPIRUN='mpirun -np 2 --oversubscribe'
test "$(zstd -dc c/step-001/packed.jsonl.zst | wc -l)" -gt 1
python3 "$TESTDIR/../update/stdiff.py" a/step-001/ckpt/model.safetensors \
    c/step-001/ckpt/model.safetensors >d.txt
awk '$2 >= 1e-6 { print "the policies differ: " $0; exit 1 }' d.txt >&2
python3 "$TESTDIR/../update/stdiff.py" base/model.safetensors c/step-001/ckpt/model.safetensors >d.txt
awk '$2 <= 1e-4 { print "the policy did not move: " $0; exit 1 }' d.txt >&2
