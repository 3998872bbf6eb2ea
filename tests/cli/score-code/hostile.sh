# Hostile programs are contained and scored 0, the scorer ends in bounded
# time, and the host is untouched: no file written, the planted secret not
# read, the loopback server not reached, this shell not killed, nothing
# injected through the terminal, no file system mounted in a namespace of
# its own, no process left behind (the sandboxes run
# as uids 64100 and 64101, which no other test uses).
. "$TESTDIR/sandbox-probe"
HERE=$PWD
echo "the-secret-$$" > "$HERE/secret"

# A loopback HTTP server on a free port.
/usr/bin/python3 -u -m http.server 0 --bind 127.0.0.1 > server.log 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null' EXIT
i=0
until PORT=$(sed -n 's/.*port \([0-9]*\).*/\1/p' server.log) && [ -n "$PORT" ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "no server"; exit 1; }; sleep 0.1
done

mkdir progs
cat > progs/loop.py <<'P'
while True:
    pass
P
cat > progs/sleep.py <<'P'
import time
time.sleep(1000)
print("ok")
P
cat > progs/forkbomb.py <<'P'
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
P
cat > progs/alloc.py <<'P'
x = bytearray(8 << 30)
print("ok")
P
cat > progs/flood.py <<'P'
import sys
s = "x" * (1 << 20)
while True:
    sys.stdout.write(s)
P
cat > progs/errflood.py <<'P'
import sys
s = "x" * (1 << 20)
while True:
    sys.stderr.write(s)
P
cat > progs/diskfill.py <<'P'
i = 0
while True:
    with open("f%d" % i, "w") as f:
        f.write("x" * (1 << 20))
    i += 1
P
cat > progs/write.py <<P
import os
ok = 0
for p in ["$HERE/pwned", "/tmp/../pwned", "/pwned", "/usr/pwned", "/dev/shm/pwned"]:
    try:
        with open(p, "w") as f:
            f.write("x")
        ok += p == "$HERE/pwned"
    except OSError:
        pass
print("ok" if ok else "no")
P
cat > progs/secret.py <<P
print(open("$HERE/secret").read())
P
cat > progs/net.py <<P
import socket
s = socket.create_connection(("127.0.0.1", $PORT), timeout=2)
s.sendall(b"GET /pwned-by-sandbox HTTP/1.0\r\n\r\n")
print("ok")
P
cat > progs/kill.py <<P
import os, signal, time
for pid in (os.getppid(), 1, $$, -1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
time.sleep(0.2)
print("still here")
P
cat > progs/tiocsti.py <<P
import fcntl, os, termios
done = 0
fds = [0, 1, 2]
try:
    fds.append(os.open("/dev/tty", os.O_RDWR))
except OSError:
    pass
for fd in fds:
    try:
        for c in "touch $HERE/injected\n":
            fcntl.ioctl(fd, termios.TIOCSTI, c.encode())
        done = 1
    except OSError:
        pass
print("ok" if done else "no")
P
cat > progs/nested.py <<'P'
import subprocess
r = subprocess.run(["unshare", "-U", "-m", "--map-root-user", "sh", "-c",
                    "mount -t tmpfs none /tmp && echo mounted"],
                   capture_output=True, text=True)
print("ok" if "mounted" in r.stdout else "no")
P
cat > progs/forkbomb.c <<'P'
#include <unistd.h>
int main(void) { for (;;) fork(); }
P
cat > progs/alloc.c <<'P'
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    size_t n = (size_t)8 << 30, i;
    volatile char *p = malloc(n);
    long s = 0;
    for (i = 0; i < n; i += 4096)
        p[i] = 1;
    for (i = 0; i < n; i += 4096)
        s += p[i];
    printf("%s\n", s == (long)(n / 4096) ? "ok" : "no");
    return 0;
}
P

# Each program must print "ok" to pass its one stdin/stdout test (the
# secret test expects the secret itself): it passes only if it escaped.
for f in progs/*; do
    name=$(basename "$f"); lang=python
    case $name in *.c) lang=c ;; esac
    want=ok; [ "$name" = secret.py ] && want=$(cat "$HERE/secret")
    jq -nc --arg id "$name" --arg lang "$lang" --rawfile src "$f" --arg want "$want" \
        '{id: $id, domain: "code", lang: $lang,
          completion: ("```" + $lang + "\n" + $src + "```\n"),
          tests: [{input: "", output: $want}]}'
done > in.jsonl
echo '{"id":"other","domain":"math","completion":"4"}' >> in.jsonl

start=$(date +%s)
timeout 120 script -qec "score-code -j 2 -t 1 --wall 2 --uid 64100 in.jsonl > out.jsonl 2> err.txt" /dev/null \
    > /dev/null
end=$(date +%s)
cat err.txt
test $((end - start)) -lt 100
test "$(wc -l < out.jsonl)" = "$(wc -l < in.jsonl)"
# Every code record scored 0 with the verdict its attack earns.
jq -r 'select(.domain == "code") | "\(.id) \(.reward) \(.code_verdicts | join(","))"' out.jsonl \
    | sort > verdicts
cat > want <<'W'
alloc.c 0 crash
alloc.py 0 memory
diskfill.py 0 crash
errflood.py 0 output_limit
flood.py 0 output_limit
forkbomb.c 0 timeout
forkbomb.py 0 timeout
kill.py 0 wrong
loop.py 0 timeout
nested.py 0 wrong
net.py 0 crash
secret.py 0 crash
sleep.py 0 timeout
tiocsti.py 0 wrong
write.py 0 wrong
W
diff -u want verdicts
# The other domain passed through unchanged.
test "$(tail -n 1 out.jsonl)" = '{"id":"other","domain":"math","completion":"4"}'
# The host is untouched.
test ! -e "$HERE/pwned" && test ! -e /pwned && test ! -e "$HERE/injected"
! grep -q pwned-by-sandbox server.log
kill -0 $SERVER
left=$(awk '$1 == "Uid:" && ($2 == 64100 || $2 == 64101) { print FILENAME }' \
    /proc/[0-9]*/status 2>/dev/null || true)
test -z "$left"
