# The same update twice, on two threads, writes the same bytes: the
# threads' share of the work never changes the order of any sum.
init -c "$TESTDIR/tiny.json" -s 8 -o m0
tasks arithmetic -n 200 --seed 2 --ops + --column -r -o sft.jsonl
pack -m m0 -L 128 -q sft.jsonl -o sft.packed
for i in 1 2 3 4 5 6; do
    POSTTRAIN_THREADS=2 update -m m0 -o r$i --sft --epochs 1 --batch 4 --lr 1e-3 -q sft.packed
done
for i in 2 3 4 5 6; do
    cmp r1/model.safetensors r$i/model.safetensors
    cmp r1/optimizer.safetensors r$i/optimizer.safetensors
done
