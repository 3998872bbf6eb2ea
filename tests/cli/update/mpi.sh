# Data parallel: "mpirun -np N update" gives the single-process result up
# to float summation order (within 1e-6 of each tensor's largest
# magnitude, by an independent reader of the safetensors, stdiff.py), the
# same bytes on every run, and the same step metrics (SFT with 2 and 3
# ranks, one of them reading standard input; GRPO with a KL term, old
# log-probs recomputed by the rank that owns the row, and a second pass;
# a reward model).
command -v mpirun >/dev/null || { echo "skipped: no mpirun (make deps installs openmpi-bin)"; exit 77; }
nm "$BIN/update" | grep -q MPI_Init || { echo "skipped: bin/update built without MPI (make MPI=1)"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi() { mpirun --oversubscribe "$@"; }
close() {
    python3 "$TESTDIR/stdiff.py" "$1" "$2" >d.txt
    awk -v f="$2" '$2 >= 1e-6 { print f " is not close: " $0; exit 1 }' d.txt >&2
}
moved() {
    python3 "$TESTDIR/stdiff.py" "$1" "$2" >d.txt
    awk -v f="$2" '$2 <= 1e-4 { print f " did not move: " $0; exit 1 }' d.txt >&2
}
counts() { jq -c '[.step, .rows, .segments, .tokens, .targets]' "$1"; }
. "$TESTDIR/data.inc"
pack -q -m m0 -L 24 train.jsonl >p.jsonl
set -- -m m0 --sft --lr 1e-4 --batch 8 --epochs 2
update -q "$@" -o s1 --metrics m1.jsonl p.jsonl
mpi -np 2 update -q "$@" -o s2 --metrics m2.jsonl p.jsonl
mpi -np 2 update -q "$@" -o s2b p.jsonl
mpi -np 3 update -q "$@" -o s3 <p.jsonl
cmp s2/model.safetensors s2b/model.safetensors
moved m0/model.safetensors s1/model.safetensors
close s1/model.safetensors s2/model.safetensors
close s1/optimizer.safetensors s2/optimizer.safetensors
close s1/model.safetensors s3/model.safetensors
cmp s1/trainer_state.json s2/trainer_state.json
counts m1.jsonl >c1
counts m2.jsonl >c2
cmp c1 c2
jq .loss m1.jsonl >l1
jq .loss m2.jsonl >l2
paste l1 l2 | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d >= 1e-6 * $1) { print "loss differs: " $0; exit 1 } }' >&2
# GRPO: 6 groups of 4 samples of various lengths
awk 'BEGIN { for (g = 0; g < 6; g++) for (k = 0; k < 4; k++) {
    n = 2 + (g * 7 + k * 3) % 9; c = ""
    for (i = 0; i < n; i++) c = c (i ? "," : "") (40 + (g * 13 + k * 5 + i * 11) % 50)
    printf "{\"id\":\"%d-%d\",\"group\":\"g%d\",\"k\":%d,\"prompt_ids\":[256,%d,%d],\"completion_ids\":[%s,257],\"advantage\":%s}\n",
        g, k, g, k, 49 + g, 50 + k, c, (k % 2 ? "-1" : (k ? "0.5" : "1")) } }' >s.jsonl
logp -m m0 --old s.jsonl | logp -m m0 >s2.jsonl
pack -q -L 40 s2.jsonl >g.jsonl
set -- -m m0 --grpo --lr 1e-4 --beta 0.04 --mu 2 --old recompute
update -q "$@" -o g1 --metrics gm1.jsonl g.jsonl
mpi -np 2 update -q "$@" -o g2 --metrics gm2.jsonl g.jsonl
moved m0/model.safetensors g1/model.safetensors
close g1/model.safetensors g2/model.safetensors
jq -c '[.iter, .rows, .tokens, .targets, .clip_frac]' gm1.jsonl >c1
jq -c '[.iter, .rows, .tokens, .targets, .clip_frac]' gm2.jsonl >c2
cmp c1 c2
# A reward model: the pairs and their margins reach every rank
awk 'BEGIN { for (a = 0; a < 5; a++) for (b = 0; b < 4; b++)
    printf "{\"id\":\"%d+%d\",\"prompt\":\"%d+%d=\",\"chosen\":\"%d\",\"rejected\":\"%d\",\"margin\":%g}\n",
        a, b, a, b, a + b, (a + b + 3) % 10, b / 4 }' >pref.jsonl
pack -q -m m0 -L 24 pref.jsonl >r.jsonl
set -- --rm --lr 1e-4 --batch 6 --epochs 2 --no-shuffle
update -q -m m0 -o r1 "$@" --metrics rm1.jsonl r.jsonl
mpi -np 2 update -q -m m0 -o r2 "$@" --metrics rm2.jsonl r.jsonl
close r1/model.safetensors r2/model.safetensors
jq -c '[.step, .pairs, .accuracy]' rm1.jsonl >c1
jq -c '[.step, .pairs, .accuracy]' rm2.jsonl >c2
cmp c1 c2
