# A record without the text field is a data error naming the field; a
# second mode is a usage error.
printf '%s\n' '{"group":"a","k":0}' > in.jsonl
set +e
think --strip in.jsonl > out 2> err; rc=$?
test $rc = 1 || exit 1
grep -qx "think: in.jsonl:1: field 'completion': missing" err || exit 1
think --strip --check in.jsonl > out 2> err; rc=$?
test $rc = 2 || exit 1
printf '%s\n' '{"completion":3}' | think --strip > out 2> err; rc=$?
test $rc = 1 || exit 1
grep -q "field 'completion': not a string" err || exit 1
set -e
think --help | grep -q '^usage: think'
think --version > /dev/null
