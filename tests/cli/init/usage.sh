# Usage errors exit 2 with the usage line; --help and --version exit 0.
init --help | head -2 &&
init --version &&
{ init; echo "exit $?"; } &&
{ init -p tiny -c x.json -o a; echo "exit $?"; } &&
{ init -p huge -o a; echo "exit $?"; } &&
{ init -s -1 -o a; echo "exit $?"; } &&
{ init --std abc -o a; echo "exit $?"; } &&
{ init -o a extra; echo "exit $?"; } &&
{ init --max-shard-size 5GiB -o a; echo "exit $?"; } &&
{ init --max-shard-size 0 -o a; echo "exit $?"; } &&
{ init --dtype int8 -o a; echo "exit $?"; } &&
init -o a && { init -o a; echo "exit $?"; } &&
init -f -s 3 -o a && echo replaced
