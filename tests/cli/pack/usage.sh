# Usage errors exit 2 with the usage line; --help and --version exit 0.
pack --help | head -1 &&
pack --version &&
{ pack -L 0; echo "exit $?"; } &&
{ pack -L x; echo "exit $?"; } &&
{ pack --window 4 --first-fit; echo "exit $?"; } &&
{ pack --open 3; echo "exit $?"; } &&
{ pack --check --truncate; echo "exit $?"; } &&
{ pack --bogus; echo "exit $?"; } &&
echo ok
