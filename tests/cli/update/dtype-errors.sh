# A compute dtype other than f32 or bf16 is a usage error (exit 2) in every
# tool that takes one; --dtype is for a local model in gen and score-rm.
init -c "$TESTDIR/tiny.json" -o m0 &&
echo '{"id":"a","prompt":"1+1"}' >p.jsonl &&
{ gen -m m0 --dtype f16 p.jsonl 2>err; echo "exit $?: $(head -n 1 err)"; } &&
{ gen --server http://127.0.0.1:9 -m x --dtype bf16 p.jsonl 2>err; echo "exit $?: $(head -n 1 err)"; } &&
{ logp -m m0 --dtype int8 p.jsonl 2>err; echo "exit $?: $(head -n 1 err)"; } &&
{ score-rm -m m0 --dtype half p.jsonl 2>err; echo "exit $?: $(head -n 1 err)"; } &&
{ serve -m m0 --dtype f64 2>err; echo "exit $?: $(head -n 1 err)"; } &&
{ update -m m0 -o x --sft --compute-dtype bf32 p.jsonl 2>err; echo "exit $?: $(head -n 1 err)"; } &&
for tool in gen logp score-rm serve; do $tool --help | grep -c -- '--dtype NAME'; done &&
update --help | grep -c -- '--compute-dtype NAME'
