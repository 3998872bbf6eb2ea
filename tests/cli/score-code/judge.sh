# Contest-style judging, in one record stream per option set: every
# language's right, wrong and non-compiling program; a completion cut off
# inside its code fence; a program flooding stderr; a checker (special
# judge) accepting and rejecting, in Python and in C++; per-record time
# and memory limits; float tolerance; subtask scoring.
. "$TESTDIR/sandbox-probe"
. "$TESTDIR/compilers"

# rec ID LANG SRC-FILE [EXTRA-JSON]: a record whose completion is SRC in a fence.
rec() {
    jq -nc --arg id "$1" --arg lang "$2" --rawfile src "$3" --argjson x "${4:-{\}}" \
        '{id: $id, domain: "code", lang: $lang,
          completion: ("```" + $lang + "\n" + $src + "```\n"),
          tests: [{input: "1 2\n", output: "3"}, {input: "10 -4\n", output: "6"},
                  {input: "5 0\n", output: "5"}]} + $x'
}
mkdir src
# Each language: a + b (right), a - b (wrong on two tests of three), and
# a program that does not compile.
cat > src/ok.python <<'P'
a, b = map(int, input().split())
print(a + b)
P
cat > src/ok.c <<'P'
#include <stdio.h>
int main(void) { long a, b; if (scanf("%ld %ld", &a, &b) != 2) return 1; printf("%ld\n", a + b); return 0; }
P
cat > src/ok.cpp <<'P'
#include <iostream>
int main() { long a, b; std::cin >> a >> b; std::cout << a + b << "\n"; }
P
cat > src/ok.java <<'P'
import java.util.Scanner;

public class Solution {
    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        long a = in.nextLong(), b = in.nextLong();
        System.out.println(a + b);
    }
}
P
cat > src/ok.go <<'P'
package main

import "fmt"

func main() {
	var a, b int64
	fmt.Scan(&a, &b)
	fmt.Println(a + b)
}
P
cat > src/ok.rust <<'P'
use std::io::Read;
fn main() {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).unwrap();
    let v: Vec<i64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();
    println!("{}", v[0] + v[1]);
}
P
cat > src/ok.javascript <<'P'
const [a, b] = require('fs').readFileSync(0, 'utf8').trim().split(/\s+/).map(Number);
console.log(a + b);
P
for lang in python c cpp java go rust javascript; do
    sed 's/a + b/a - b/; s/v\[0\] + v\[1\]/v[0] - v[1]/' src/ok.$lang > src/wrong.$lang
    sed 's/a + b/a +/; s/v\[0\] + v\[1\]/v[0] +/' src/ok.$lang > src/cerr.$lang
    ! cmp -s src/ok.$lang src/wrong.$lang && ! cmp -s src/ok.$lang src/cerr.$lang
    for k in ok wrong cerr; do rec $lang-$k $lang src/$k.$lang; done
done > in.jsonl

# Cut off inside the fence: not a program, even though what came is valid.
jq -nc '{id: "cut", domain: "code", lang: "python", tests: [{input: "", output: "3"}],
         completion: "Here:\n```python\nprint(3)\n"}' >> in.jsonl
# Megabytes of warnings on stderr, the answer on stdout: correct.
printf 'import sys\nfor i in range(100):\n    sys.stderr.write("warning: " * 10000 + "\\n")\nprint(3)\n' \
    > src/flood.python
cat > src/flood.c <<'P'
#include <stdio.h>
#include <string.h>
int main(void) {
    static char w[65536];
    memset(w, 'w', sizeof(w));
    for (int i = 0; i < 256; i++)
        fwrite(w, 1, sizeof(w), stderr);
    puts("3");
    return 0;
}
P
rec flood-py python src/flood.python '{"tests": [{"input": "", "output": "3"}]}' >> in.jsonl
rec flood-c c src/flood.c '{"tests": [{"input": "", "output": "3"}]}' >> in.jsonl

# A checker: any order of the numbers 1..n is accepted (testlib's calling
# convention: checker input output answer; exit 0 accepts, 1 rejects).
cat > src/perm.cpp <<'P'
#include <iostream>
int main() { int n; std::cin >> n; for (int i = n; i >= 1; i--) std::cout << i << (i > 1 ? ' ' : '\n'); }
P
cat > src/check.py <<'P'
import sys
n = int(open(sys.argv[1]).read())
got = open(sys.argv[2]).read().split()
want = open(sys.argv[3]).read().split()
sys.exit(0 if sorted(got, key=int) == want and len(got) == n else 1)
P
cat > src/check.cpp <<'P'
#include <algorithm>
#include <fstream>
#include <vector>
int main(int argc, char **argv) {
    if (argc != 4) return 3;
    std::ifstream in(argv[1]), out(argv[2]), ans(argv[3]);
    int n, x;
    std::vector<int> got, want;
    in >> n;
    while (out >> x) got.push_back(x);
    while (ans >> x) want.push_back(x);
    std::sort(got.begin(), got.end());
    return got == want && (int)got.size() == n ? 0 : 1;
}
P
# Test 1 wants 1..3 (the reversed output is accepted); test 2 wants 1..3
# for n = 2 (rejected); test 3 has no "output" field at all.
tests='[{"input": "3\n", "output": "1 2 3\n"}, {"input": "2\n", "output": "1 2 3"}, {"input": "1\n"}]'
rec chk-py cpp src/perm.cpp "$(jq -nc --rawfile c src/check.py --argjson t "$tests" \
    '{checker: $c, tests: ($t | .[2].input = "0\n")}')" >> in.jsonl
rec chk-cpp cpp src/perm.cpp "$(jq -nc --rawfile c src/check.cpp --argjson t "$tests" \
    '{checker: {lang: "cpp", code: $c}, tests: ($t | .[2].input = "0\n")}')" >> in.jsonl

# Per-record limits: 1.5 s of CPU passes the default 5 s but not the
# record's time_limit of 0.5; 300 MB passes under memory_limit 1024, not 128.
printf 'import time\nt = time.process_time()\nwhile time.process_time() - t < 1.5:\n    pass\nprint(3)\n' \
    > src/slow.python
printf 'x = bytearray(300 << 20)\nprint(3)\n' > src/big.python
one='{"tests": [{"input": "", "output": "3"}]}'
rec slow python src/slow.python "$one" >> in.jsonl
rec slow-tl python src/slow.python "$(echo "$one" | jq -c '.time_limit = 0.5')" >> in.jsonl
rec big python src/big.python "$(echo "$one" | jq -c '.memory_limit = 1024')" >> in.jsonl
rec big-ml python src/big.python "$(echo "$one" | jq -c '.memory_limit = 128')" >> in.jsonl
rec big-java java src/ok.java "$(echo "$one" | jq -c '.memory_limit = 64 | .tests[0].input = "1 2"')" >> in.jsonl

score-code -j 2 in.jsonl > out.jsonl
test "$(wc -l < out.jsonl)" = "$(wc -l < in.jsonl)"
jq -r '"\(.id) \(.reward) \(.code_reason) \(.code_verdicts | join(","))"' out.jsonl > got
cat > want <<'W'
python-ok 1 correct correct,correct,correct
python-wrong 0.3333333333333333 wrong wrong,wrong,correct
python-cerr 0 compile_error compile_error,compile_error,compile_error
c-ok 1 correct correct,correct,correct
c-wrong 0.3333333333333333 wrong wrong,wrong,correct
c-cerr 0 compile_error compile_error,compile_error,compile_error
cpp-ok 1 correct correct,correct,correct
cpp-wrong 0.3333333333333333 wrong wrong,wrong,correct
cpp-cerr 0 compile_error compile_error,compile_error,compile_error
java-ok 1 correct correct,correct,correct
java-wrong 0.3333333333333333 wrong wrong,wrong,correct
java-cerr 0 compile_error compile_error,compile_error,compile_error
go-ok 1 correct correct,correct,correct
go-wrong 0.3333333333333333 wrong wrong,wrong,correct
go-cerr 0 compile_error compile_error,compile_error,compile_error
rust-ok 1 correct correct,correct,correct
rust-wrong 0.3333333333333333 wrong wrong,wrong,correct
rust-cerr 0 compile_error compile_error,compile_error,compile_error
javascript-ok 1 correct correct,correct,correct
javascript-wrong 0.3333333333333333 wrong wrong,wrong,correct
javascript-cerr 0 compile_error compile_error,compile_error,compile_error
cut 0 no_code 
flood-py 1 correct correct
flood-c 1 correct correct
chk-py 0.6666666666666666 wrong correct,wrong,correct
chk-cpp 0.6666666666666666 wrong correct,wrong,correct
slow 1 correct correct
slow-tl 0 timeout timeout
big 1 correct correct
big-ml 0 memory memory
big-java 1 correct correct
W
diff -u want got

# A checker that fails (exit 3, testlib's "judge failure") or does not
# compile is the record's fault: rejected whole, never a zero reward.
printf 'import sys\nsys.exit(3)\n' > src/fail.py
rec chk-fail cpp src/perm.cpp "$(jq -nc --rawfile c src/fail.py '{checker: $c, tests: [{input: "1\n"}]}')" \
    > bad.jsonl
rec chk-cerr cpp src/perm.cpp '{"checker": {"lang": "c", "code": "int main("}, "tests": [{"input": "1\n"}]}' \
    >> bad.jsonl
score-code --max-errors 2 --rejects rej.jsonl bad.jsonl > out2.jsonl 2> err.txt
test ! -s out2.jsonl
jq -r '"\(.record.id): \(.error)"' rej.jsonl | sed 's/\(compile error: \).*/\1.../' > rej.txt
cat > want <<'W'
chk-fail: field 'checker': test 0: exit status 3
chk-cerr: field 'checker': compile error: ...
W
diff -u want rej.txt

# Float tolerance: absolute or relative error 1e-6, token by token.
printf 'print(1 / 3, 2e6 / 3)\n' > src/third.python
rec float python src/third.python \
    '{"tests": [{"input": "", "output": "0.333333 666666.7\n"}, {"input": "", "output": "0.3334 666666.67"},
                {"input": "", "output": "0.333333 666667.5"}]}' > f.jsonl
score-code --float-tolerance 1e-6 f.jsonl | jq -c .code_verdicts > got
echo '["correct","wrong","wrong"]' | diff - got
score-code f.jsonl | jq -c .code_verdicts > got
echo '["wrong","wrong","wrong"]' | diff - got

# Subtasks: points 40 and 60; subtask 2 has a failing test, so 40 points
# of 100.  Without --subtasks the record is scored by tests (3 of 4).
rec sub python src/ok.python '{"subtasks": [{"id": 1, "points": 40}, {"id": "two", "points": 60}],
    "tests": [{"input": "1 2", "output": "3", "subtask": 1}, {"input": "2 2", "output": "4", "subtask": 1},
              {"input": "3 3", "output": "6", "subtask": "two"}, {"input": "3 4", "output": "8", "subtask": "two"}]}' \
    > s.jsonl
score-code --subtasks s.jsonl | jq -c '[.reward, .code_points, .code_verdicts]' > got
echo '[0.4,40,["correct","correct","correct","wrong"]]' | diff - got
score-code s.jsonl | jq -c '[.reward, .code_points]' > got
echo '[0.75,null]' | diff - got
