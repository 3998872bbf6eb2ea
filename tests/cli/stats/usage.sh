# Usage errors exit 2; --help and --version exit 0.
u() {
    set +e; "$@" > out 2> err; rc=$?; set -e
    test $rc = 2 && grep -q '^usage: stats' err
}
u stats -k 0 /dev/null
u stats -k 4,2 /dev/null
u stats -t x /dev/null
u stats --bogus
stats --help | grep -q '^usage: stats'
stats --version | grep -q posttrain
printf 'not json\n' > bad.jsonl
if stats bad.jsonl 2> err; then exit 1; fi
grep -q '^stats: bad.jsonl:1: ' err
