# Hostile programs are contained and scored 0, the scorer ends in bounded
# time, and the host is untouched: no file written, the planted secret not
# read, the loopback server not reached, this shell not killed, nothing
# injected through the terminal, no file system mounted in a namespace of
# its own, no process left behind (the sandboxes run
# as uids 64100 to 64103, which no other test uses); in every language.
. "$TESTDIR/sandbox-probe"
. "$TESTDIR/compilers"
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

cat > progs/loop.c <<'P'
int main(void) { for (;;) ; }
P
cat > progs/write.c <<P
#include <stdio.h>
int main(void) {
    const char *p[] = { "$HERE/pwned", "/pwned", "/usr/pwned" };
    int ok = 0;
    for (int i = 0; i < 3; i++) { FILE *f = fopen(p[i], "w"); if (f && fputs("x", f) >= 0 && fclose(f) == 0) ok = 1; }
    puts(ok ? "ok" : "no");
    return 0;
}
P
cat > progs/net.c <<P
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons($PORT) };
    int s = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) { puts("no"); return 0; }
    if (write(s, "GET /pwned-by-sandbox HTTP/1.0\r\n\r\n", 34) < 0) return 1;
    puts("ok");
    return 0;
}
P
cat > progs/secret.c <<P
#include <stdio.h>
int main(void) {
    char b[256] = "";
    FILE *f = fopen("$HERE/secret", "r");
    if (!f || !fgets(b, sizeof(b), f)) { puts("no"); return 0; }
    fputs(b, stdout);
    return 0;
}
P
cat > progs/forkbomb.cpp <<'P'
#include <unistd.h>
int main() { for (;;) fork(); }
P
cat > progs/alloc.cpp <<'P'
#include <cstdio>
#include <vector>
int main() { std::vector<char> v((size_t)8 << 30, 1); std::printf("%d\n", v[12345]); }
P
cat > progs/loop.cpp <<'P'
int main() { volatile int x = 0; for (;;) x++; }
P
cp progs/write.c progs/write.cpp
cp progs/net.c progs/net.cpp
cp progs/secret.c progs/secret.cpp
sed -i 's/struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = \(.*\) };/struct sockaddr_in a = {}; a.sin_family = AF_INET; a.sin_port = \1;/' progs/net.cpp

cat > progs/forkbomb.java <<'P'
public class Main {
    public static void main(String[] a) {
        for (;;) {
            try { new ProcessBuilder("/bin/sleep", "100").start(); } catch (Exception e) { }
        }
    }
}
P
cat > progs/alloc.java <<'P'
public class Main {
    public static void main(String[] a) {
        long[] x = new long[1 << 30];
        x[12345] = 1;
        System.out.println(x[12345] == 1 ? "ok" : "no");
    }
}
P
cat > progs/loop.java <<'P'
public class Main { public static void main(String[] a) { for (;;) { } } }
P
cat > progs/write.java <<P
import java.io.*;
public class Main {
    public static void main(String[] a) {
        String[] p = { "$HERE/pwned", "/pwned", "/usr/pwned" };
        boolean ok = false;
        for (String f : p)
            try (FileWriter w = new FileWriter(f)) { w.write("x"); ok = true; } catch (IOException e) { }
        System.out.println(ok ? "ok" : "no");
    }
}
P
cat > progs/net.java <<P
import java.io.*;
import java.net.*;
public class Main {
    public static void main(String[] a) {
        try (Socket s = new Socket("127.0.0.1", $PORT)) {
            s.getOutputStream().write("GET /pwned-by-sandbox HTTP/1.0\r\n\r\n".getBytes());
            System.out.println("ok");
        } catch (IOException e) { System.out.println("no"); }
    }
}
P
cat > progs/secret.java <<P
import java.nio.file.*;
public class Main {
    public static void main(String[] a) {
        try { System.out.print(new String(Files.readAllBytes(Paths.get("$HERE/secret")))); }
        catch (Exception e) { System.out.println("no"); }
    }
}
P

cat > progs/forkbomb.go <<'P'
package main

import "os/exec"

func main() {
	for {
		exec.Command("/bin/sleep", "100").Start()
	}
}
P
cat > progs/alloc.go <<'P'
package main

import "fmt"

func main() {
	b := make([]byte, 8<<30)
	b[12345] = 1
	fmt.Println(b[12345])
}
P
cat > progs/loop.go <<'P'
package main

func main() {
	for {
	}
}
P
cat > progs/write.go <<P
package main

import (
	"fmt"
	"os"
)

func main() {
	ok := false
	for _, p := range []string{"$HERE/pwned", "/pwned", "/usr/pwned"} {
		if os.WriteFile(p, []byte("x"), 0644) == nil {
			ok = true
		}
	}
	if ok {
		fmt.Println("ok")
	} else {
		fmt.Println("no")
	}
}
P
cat > progs/net.go <<P
package main

import (
	"fmt"
	"net"
)

func main() {
	c, err := net.Dial("tcp", "127.0.0.1:$PORT")
	if err != nil {
		fmt.Println("no")
		return
	}
	c.Write([]byte("GET /pwned-by-sandbox HTTP/1.0\r\n\r\n"))
	fmt.Println("ok")
}
P
cat > progs/secret.go <<P
package main

import (
	"fmt"
	"os"
)

func main() {
	b, err := os.ReadFile("$HERE/secret")
	if err != nil {
		fmt.Println("no")
		return
	}
	fmt.Print(string(b))
}
P

cat > progs/forkbomb.rs <<'P'
fn main() {
    loop {
        let _ = std::process::Command::new("/bin/sleep").arg("100").spawn();
    }
}
P
cat > progs/alloc.rs <<'P'
fn main() {
    let v = vec![1u8; 8 << 30];
    println!("{}", v[12345]);
}
P
cat > progs/loop.rs <<'P'
fn main() {
    let mut x: u64 = 0;
    loop {
        unsafe { std::ptr::write_volatile(&mut x, x + 1) };
    }
}
P
cat > progs/write.rs <<P
fn main() {
    let mut ok = false;
    for p in ["$HERE/pwned", "/pwned", "/usr/pwned"] {
        ok |= std::fs::write(p, "x").is_ok();
    }
    println!("{}", if ok { "ok" } else { "no" });
}
P
cat > progs/net.rs <<P
use std::io::Write;
fn main() {
    match std::net::TcpStream::connect("127.0.0.1:$PORT") {
        Ok(mut s) => {
            let _ = s.write_all(b"GET /pwned-by-sandbox HTTP/1.0\r\n\r\n");
            println!("ok");
        }
        Err(_) => println!("no"),
    }
}
P
cat > progs/secret.rs <<P
fn main() {
    match std::fs::read_to_string("$HERE/secret") {
        Ok(s) => print!("{}", s),
        Err(_) => println!("no"),
    }
}
P

cat > progs/forkbomb.js <<'P'
const cp = require('child_process');
for (;;) {
    try { cp.spawn('/bin/sleep', ['100']).on('error', () => {}); } catch (e) { }
}
P
cat > progs/alloc.js <<'P'
const b = new ArrayBuffer(6 * 1024 * 1024 * 1024);
console.log(b.byteLength > 0 ? 'ok' : 'no');
P
cat > progs/loop.js <<'P'
for (;;) { }
P
cat > progs/write.js <<P
const fs = require('fs');
let ok = false;
for (const p of ['$HERE/pwned', '/pwned', '/usr/pwned']) {
    try { fs.writeFileSync(p, 'x'); ok = true; } catch (e) { }
}
console.log(ok ? 'ok' : 'no');
P
cat > progs/net.js <<P
const s = require('net').connect($PORT, '127.0.0.1', () => {
    s.write('GET /pwned-by-sandbox HTTP/1.0\r\n\r\n');
    console.log('ok');
    s.end();
});
s.on('error', () => console.log('no'));
P
cat > progs/secret.js <<P
try { process.stdout.write(require('fs').readFileSync('$HERE/secret', 'utf8')); }
catch (e) { console.log('no'); }
P

# Each program must print "ok" to pass its one stdin/stdout test (the
# secret test expects the secret itself): it passes only if it escaped.
for f in progs/*; do
    name=$(basename "$f"); lang=python
    case $name in
    *.c) lang=c ;; *.cpp) lang=cpp ;; *.java) lang=java ;; *.go) lang=go ;;
    *.rs) lang=rust ;; *.js) lang=javascript ;;
    esac
    want=ok; case $name in secret.*) want=$(cat "$HERE/secret") ;; esac
    jq -nc --arg id "$name" --arg lang "$lang" --rawfile src "$f" --arg want "$want" \
        '{id: $id, domain: "code", lang: $lang,
          completion: ("```" + $lang + "\n" + $src + "```\n"),
          tests: [{input: "", output: $want}]}'
done > in.jsonl
echo '{"id":"other","domain":"math","completion":"4"}' >> in.jsonl

start=$(date +%s)
timeout 120 script -qec "score-code -j 4 -t 1 --wall 2 --uid 64100 in.jsonl > out.jsonl 2> err.txt" /dev/null \
    > /dev/null
end=$(date +%s)
cat err.txt
test $((end - start)) -lt 100
test "$(wc -l < out.jsonl)" = "$(wc -l < in.jsonl)"
# Every code record scored 0 with the verdict its attack earns.
jq -r 'select(.domain == "code") | "\(.id) \(.reward) \(.code_verdicts | join(","))"' out.jsonl \
    | sort > verdicts
# Attacks whose verdict depends on which limit the kernel hits first
# are given as alternatives.
cat > want <<'W'
alloc.c 0 runtime_error
alloc.cpp 0 memory
alloc.go 0 memory
alloc.java 0 memory
alloc.js 0 (memory|timeout)
alloc.py 0 memory
alloc.rs 0 memory
diskfill.py 0 (runtime_error|timeout)
errflood.py 0 timeout
flood.py 0 output_limit
forkbomb.c 0 timeout
forkbomb.cpp 0 timeout
forkbomb.go 0 (timeout|runtime_error)
forkbomb.java 0 timeout
forkbomb.js 0 timeout
forkbomb.py 0 timeout
forkbomb.rs 0 timeout
kill.py 0 wrong
loop.c 0 timeout
loop.cpp 0 timeout
loop.go 0 timeout
loop.java 0 timeout
loop.js 0 timeout
loop.py 0 timeout
loop.rs 0 timeout
nested.py 0 wrong
net.c 0 wrong
net.cpp 0 wrong
net.go 0 wrong
net.java 0 wrong
net.js 0 wrong
net.py 0 runtime_error
net.rs 0 wrong
secret.c 0 wrong
secret.cpp 0 wrong
secret.go 0 wrong
secret.java 0 wrong
secret.js 0 wrong
secret.py 0 runtime_error
secret.rs 0 wrong
sleep.py 0 timeout
tiocsti.py 0 wrong
write.c 0 wrong
write.cpp 0 wrong
write.go 0 wrong
write.java 0 wrong
write.js 0 wrong
write.py 0 wrong
write.rs 0 wrong
W
paste -d' ' want verdicts | while read -r n1 r1 v1 n2 r2 v2; do
    [ "$n1 $r1" = "$n2 $r2" ] && echo "$v2" | grep -qxE "$v1" || echo "want $n1 $r1 $v1, got $n2 $r2 $v2"
done > mismatch
test "$(wc -l < want)" = "$(wc -l < verdicts)"
cat mismatch
test ! -s mismatch
# The other domain passed through unchanged.
test "$(tail -n 1 out.jsonl)" = '{"id":"other","domain":"math","completion":"4"}'
# The host is untouched.
test ! -e "$HERE/pwned" && test ! -e /pwned && test ! -e "$HERE/injected"
! grep -q pwned-by-sandbox server.log
kill -0 $SERVER
left=$(awk '$1 == "Uid:" && $2 >= 64100 && $2 <= 64103 { print FILENAME }' \
    /proc/[0-9]*/status 2>/dev/null || true)
test -z "$left"
