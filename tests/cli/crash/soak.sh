# The short kill-and-resume soak (bench/soak.sh): grpo.mk on a tiny
# model for 3 steps with GNU parallel shards, killed (SIGKILL, the whole
# run) 10 times, once in each stage (gen, the scorers, advantage, logp,
# pack, update computing and writing its checkpoint, stats, the run's
# metrics, the plots) at seeded moments, and resumed each time: after each
# kill every file is absent or the uninterrupted run's bytes, and at the
# end the checkpoint, the metrics and every step's files are, with no
# temporary left.
command -v parallel >/dev/null || { echo "skipped: no GNU parallel (make deps)"; exit 77; }
SOAK_DIR=$PWD/w SOAK_MODEL=$TESTDIR/../pipelines/tiny.json SOAK_STEPS=3 SOAK_KILLS=10 SOAK_SEED=3 \
    SOAK_MAXTOK=24 sh "$TOP/bench/soak.sh" >log 2>&1 || { cat log >&2; exit 1; }
grep '^soak: kill' log | sed 's/ at step.*running: missed;.*/ (missed: killed in the next step)/; s/ at step.*//' >&2
test "$(grep -c '^soak: kill' log)" = 10
tail -n 1 log | grep -q 'byte-identical to the uninterrupted run; no temporary left'
