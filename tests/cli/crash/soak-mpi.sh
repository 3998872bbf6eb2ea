# The short soak under MPI: grpo.mk with update on "mpirun -np 2", killed
# 5 times at seeded moments (in gen, update computing, update writing its
# checkpoint, the run's metrics, the plots); in update only one rank is
# killed, and the run must stop by itself,
# leave no process behind and no file half-written.  Resumed each time,
# it ends with the checkpoint, metrics and step files of an uninterrupted
# run under the same MPIRUN, byte for byte, and no temporary left.
command -v mpirun >/dev/null || { echo "skipped: no mpirun (make deps installs openmpi-bin)"; exit 77; }
nm "$BIN/update" | grep -q MPI_Init || { echo "skipped: bin/update built without MPI (make MPI=1)"; exit 77; }
SOAK_DIR=$PWD/w SOAK_MODEL=$TESTDIR/../pipelines/tiny.json SOAK_STEPS=2 SOAK_KILLS=5 SOAK_SEED=5 SOAK_STAGES='gen update ckpt' \
    SOAK_MAXTOK=24 SOAK_PARALLEL= SOAK_MPI=1 sh "$TOP/bench/soak.sh" >log 2>&1 || { cat log >&2; exit 1; }
grep '^soak: kill' log | sed 's/ at step.*running: missed;.*/ (missed: killed in the next step)/; s/ at step.*//' >&2
test "$(grep -c '^soak: kill [0-9]*: one rank of update' log)" = 1
test "$(grep -c '^soak: kill [0-9]*: one rank of ckpt' log)" = 1
tail -n 1 log | grep -q 'byte-identical to the uninterrupted run; no temporary left'
