# Usage errors exit 2 with the usage line; data errors exit 1 naming the
# file, line and field; --help and --version exit 0.
tok --help >help.txt && head -n 1 help.txt &&
tok --version >/dev/null &&
{ tok -f vicuna </dev/null; echo "exit $?"; } &&
{ tok -e -d </dev/null; echo "exit $?"; } &&
{ tok --bogus </dev/null; echo "exit $?"; } 2>&1 | head -n 1 &&
{ tok -t no-such.json </dev/null; echo "exit $?"; } &&
printf '12 999 3' >bad.txt &&
{ tok -d bad.txt; echo "exit $?"; } &&
printf '{"id": "a"}\n{"prompt": 5}\n' >bad.jsonl &&
{ tok -r bad.jsonl; echo "exit $?"; } &&
{ tok -r --max-errors 5 --rejects rej.jsonl bad.jsonl; echo "exit $?"; } &&
cat rej.jsonl
