#!/bin/sh
# bench/soak.sh - kill-and-resume soak of pipelines/grpo.mk.
#
#   sh bench/soak.sh                       20 steps of the tiny preset,
#                                          24 kills, PARALLEL shards
#   SOAK_MPI=1 sh bench/soak.sh            update on mpirun -np 2; its
#                                          kills hit one rank
#
# Runs grpo.mk once without interruption (run "ref"), then again (run
# "soak") killing it with SIGKILL SOAK_KILLS times and starting "make"
# again after each kill.  Kill k waits until the run has reached step
# 1 + k * (STEPS - 1) / KILLS (the last step is left for a stage that
# was too quick to be seen in its step) and the stage named by k (in turn: gen, the
# scorers, advantage, logp, pack, update computing, update writing its
# checkpoint, stats; the run's metrics and its plots once at the end),
# watching the run in slow motion (soak_kill.py: it runs in slices of
# a fifth of a millisecond, stopped with SIGSTOP in between), lets it run a
# random 0 to SOAK_JITTER - 1 slices more (seeded: SOAK_SEED) and kills the
# whole session of the run (make, the tools, GNU parallel and its shards,
# mpirun and its ranks), or with SOAK_MPI=1 in update only one rank:
# then the run must stop by itself.  A target still not seen a step
# later is missed (a stage of a few ms on a loaded machine): that kill
# lands in whatever runs then, and the summary counts it apart.  After
# each kill, every file of the
# run is either absent or the same bytes as in "ref" (update's metrics
# but for tokens_per_s, a speed) and no temporary holds a dead writer's
# data beyond the one the next run reclaims.  At the end the checkpoint,
# the run's metrics and every step's files are byte-identical to "ref"
# and no temporary file (".NAME.tmp-*", "*.part") remains.
#
# Settings (environment): SOAK_STEPS (20), SOAK_KILLS (24), SOAK_SEED (1),
# SOAK_JITTER (8), SOAK_MODEL (an init config.json; default the tiny
# preset), SOAK_BATCH (4), SOAK_G (4), SOAK_MAXTOK (32), SOAK_PARALLEL
# (GNU parallel options; "" for none), SOAK_MPI (0), SOAK_STAGES (the
# targets in turn, as above), SOAK_DIR (a new
# temporary directory, removed at the end unless SOAK_KEEP=1).
# Prints one line per kill and a summary; exits 1 on the first failure.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
export PATH="$TOP/bin:$PATH"
STEPS=${SOAK_STEPS:-20}
KILLS=${SOAK_KILLS:-24}
SEED=${SOAK_SEED:-1}
JITTER=${SOAK_JITTER:-8}
MPI=${SOAK_MPI:-0}
PAR=${SOAK_PARALLEL-parallel --pipe --keep-order -N 2 -j 2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=
[ "$MPI" = 1 ] && MPIRUN='mpirun -np 2 --oversubscribe'
W=${SOAK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")}
mkdir -p "$W"
cd "$W"

fail() {
    echo "soak: $*" >&2
    exit 1
}

if [ -n "${SOAK_MODEL:-}" ]; then
    init -c "$SOAK_MODEL" -s 5 -o base 2>/dev/null
else
    init -p tiny -s 5 -o base 2>/dev/null
fi
tasks arithmetic -n 200 --seed 9 --ops + -o prompts.jsonl

run() { # RUN dir [stopped]: make in a new session, in the background; $!
    # is the session; "stopped": it stops itself (SIGSTOP) first, for
    # soak_kill.py to go on with, so nothing runs unwatched
    stop=:
    [ "${2:-}" = stopped ] && stop='kill -STOP $$'
    setsid sh -c "$stop"' && exec "$@"' sh make --no-print-directory -s -f "$TOP/pipelines/grpo.mk" INIT=base \
        PROMPTS=prompts.jsonl RUN="$1" STEPS="$STEPS" BATCH="${SOAK_BATCH:-4}" \
        G="${SOAK_G:-4}" MAXTOK="${SOAK_MAXTOK:-32}" L=256 LR=1e-3 BETA=0.04 \
        ACC_KEY=rewards.math PARALLEL="$PAR" MPIRUN="$MPIRUN" >>"$1.log" 2>&1 &
    n=0   # until the child has its session (or is gone: a quick run)
    while [ "$(ps -o sid= -p $! | tr -d ' ')" != $! ] && kill -0 $! 2>/dev/null; do
        n=$((n + 1))
        [ $n -lt 500 ] || fail "setsid forked: no session to watch"
        sleep 0.01
    done
}

t0=$(date +%s)
run ref
wait $! || fail "the uninterrupted run failed: $(tail -n 5 ref.log)"
t1=$(date +%s)
echo "soak: uninterrupted run of $STEPS steps: $((t1 - t0)) s"

# the seeded random delays, one per kill, in slices
awk -v s="$SEED" -v n="$KILLS" -v j="$JITTER" \
    'BEGIN { srand(s); for (i = 0; i < n; i++) print int(rand() * j) }' >delays

# same_as_ref: every file of run soak is absent or the bytes of ref's
same_as_ref() {
    (cd soak && find . -type f ! -name '*.part' ! -name '*.part.zst' ! -name .done \
        ! -name '.*.tmp-*' ! -path '*/.*.tmp-*/*') | sort >files
    while read -r f; do
        case $f in
        */step-*/metrics.jsonl)
            jq -c 'del(.tokens_per_s)' "ref/$f" >m1
            jq -c 'del(.tokens_per_s)' "soak/$f" >m2
            cmp -s m1 m2 || fail "after kill $k ($what): $f differs from the uninterrupted run's" ;;
        *)
            cmp -s "ref/$f" "soak/$f" || fail "after kill $k ($what): $f differs from the uninterrupted run's" ;;
        esac
    done <files
}

# cur_step: the number of the newest step directory of run soak (0: none)
cur_step() {
    ls soak 2>/dev/null | sed -n 's/^step-0*\([0-9][0-9]*\)$/\1/p' | sort -n | tail -n 1 | grep . || echo 0
}

# running SID NAME: whether a process NAME runs in session SID
running() {
    pgrep -s "$1" -x "$2" >/dev/null 2>&1
}

stages=${SOAK_STAGES:-gen score-math advantage logp pack update ckpt stats}
nst=$(echo $stages | wc -w)
k=0 done=0 restarts=0
: >hits
while [ $done = 0 ]; do
    if [ $k -ge "$KILLS" ]; then run soak; else run soak stopped; fi
    sid=$!
    restarts=$((restarts + 1))
    if [ $k -ge "$KILLS" ]; then
        wait $sid || fail "the run failed after the last kill: $(tail -n 5 soak.log)"
        break
    fi
    # the target of kill k: a step and a stage (the last two: the run's
    # metrics and its plots)
    if [ $k -eq $((KILLS - 2)) ]; then what=jq tstep=$STEPS
    elif [ $k -eq $((KILLS - 1)) ]; then what=gnuplot tstep=$STEPS
    else
        what=$(echo $stages | cut -d' ' -f $((k % nst + 1)))
        tstep=$((1 + k * (STEPS - 1) / KILLS))
    fi
    delay=$(sed -n "$((k + 1))p" delays)
    mode=
    [ "$MPI" = 1 ] && { [ $what = update ] || [ $what = ckpt ]; } && mode=rank
    set +e
    at=$(python3 "$HERE/soak_kill.py" $sid $what $tstep soak "$delay" $mode)
    rc=$?
    set -e
    if [ $rc = 3 ]; then
        # the run ended before the target came: the rest cannot be hit
        wait $sid || true
        fail "kill $k: the run ended before $what of step $tstep ran ($(tail -n 3 soak.log))"
    fi
    [ $rc = 0 ] || fail "kill $k: soak_kill.py failed"
    if [ -n "$mode" ]; then
        # one rank killed: the run must stop by itself
        n=0
        while kill -0 $sid 2>/dev/null && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
        kill -0 $sid 2>/dev/null && fail "kill $k: a rank killed, the run did not stop in 60 s"
        wait $sid && fail "kill $k: a rank killed, and make succeeded"
        # the other rank: ended by mpirun, reaped once mpirun is gone
        n=0
        while pgrep -s $sid >/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
        pgrep -s $sid >/dev/null && fail "kill $k: processes left 10 s after the run stopped: $(ps -s $sid -o pid,stat,comm --no-headers)"
        how="one rank of "
    else
        wait $sid || true
        how=
    fi
    k=$((k + 1))
    echo "soak: kill $k: $how$what at step ${at%%:*} (+$delay slices; running:${at#*:})"
    case $at in *missed*) echo "missed-$what" >>hits ;; *) echo "$what" >>hits ;; esac
    same_as_ref
done
t2=$(date +%s)

# the end: the same files as the uninterrupted run, and no temporaries
same_as_ref
for f in metrics.jsonl step-$(printf '%03d' "$STEPS")/ckpt/model.safetensors \
         step-$(printf '%03d' "$STEPS")/ckpt/optimizer.safetensors \
         step-$(printf '%03d' "$STEPS")/ckpt/trainer_state.json; do
    cmp "ref/$f" "soak/$f" || fail "$f differs from the uninterrupted run's"
done
(cd ref && find . -type f ! -name '*.part*' | sort) >want
(cd soak && find . -type f ! -name '*.part*' | sort) >got
cmp -s want got || fail "the runs hold different files: $(diff want got | head -n 5)"
left=$(find soak base -name '.*.tmp-*' -o -name '*.part' -o -name '*.part.zst' | head -n 5)
[ -z "$left" ] || fail "temporary files remain: $left"
echo "soak: $k kills ($(sort hits | uniq -c | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')), $restarts runs, $((t2 - t1)) s;" \
    "checkpoint, metrics and every step's files byte-identical to the uninterrupted run; no temporary left"
cd /
[ "${SOAK_KEEP:-0}" = 1 ] || [ -n "${SOAK_DIR:-}" ] || rm -rf "$W"
