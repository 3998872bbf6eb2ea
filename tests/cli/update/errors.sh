# Usage errors exit 2; records that do not fit the mode exit 1 with file,
# line and field.
init -c "$TESTDIR/tiny.json" -o m0 &&
echo '{"ids":[1,2,3],"segments":[3],"loss_mask":[0,1,1]}' >sft.jsonl &&
echo '{"ids":[1,2,300],"segments":[3],"loss_mask":[0,1,1]}' >big.jsonl &&
echo '{"ids":[1,2,3],"segments":[3],"loss_mask":[0,1,1],"advantage":[1]}' >noref.jsonl &&
{ update -m m0 -o x sft.jsonl; echo "exit $?"; } 2>&1 | head -n 1 &&
{ update -m m0 --sft sft.jsonl; echo "exit $?"; } 2>&1 | head -n 1 &&
{ update -m m0 -o m0 --sft sft.jsonl; echo "exit $?"; } 2>&1 | head -n 1 &&
{ update -m m0 -o x --sft --mu 2 sft.jsonl; echo "exit $?"; } 2>&1 | head -n 1 &&
{ update -m m0 -o x --sft --max-shard-size 1.5GB sft.jsonl; echo "exit $?"; } 2>&1 | head -n 1 &&
{ update -m m0 -o x --sft --dtype fp8 sft.jsonl; echo "exit $?"; } 2>&1 | head -n 1 &&
{ update -m m0 -o x --sft --batch 2 --batch-tokens 9 sft.jsonl; echo "exit $?"; } 2>&1 | head -n 1 &&
{ update -m m0 -o x --grpo --clip-low 2 sft.jsonl; echo "exit $?"; } 2>&1 | head -n 1 &&
{ update -m m0 -o x --grpo sft.jsonl; echo "exit $?"; } 2>&1 &&
{ update -m m0 -o x --grpo --beta 0.1 noref.jsonl; echo "exit $?"; } 2>&1 &&
{ update -m m0 -o x --rm sft.jsonl; echo "exit $?"; } 2>&1 &&
{ update -m m0 -o x --sft big.jsonl; echo "exit $?"; } 2>&1 &&
{ update -m m0 -o x --sft --resume sft.jsonl; echo "exit $?"; } 2>&1 &&
{ update -m nowhere -o x --sft sft.jsonl; echo "exit $?"; } 2>&1 &&
test ! -e x && update --help | head -n 1 && update --version
