# Scores in input order: Python stdin/stdout and asserts, C and C++, a
# completion without code, another domain passed through, and a record
# already holding another reward (reward is the sum); lang "c++" takes
# the ```c++ block, not the later ```text one nor the ```c one.
. "$TESTDIR/sandbox-probe"
cat > in.jsonl <<'J'
{"id":"py-io","domain":"code","lang":"python","tests":[{"input":"3\n","output":"9"},{"input":"4\n","output":"15"},{"input":"x\n","output":"0"}],"completion":"Square it:\n```python\nn = int(input())\nprint(n * n)\n```\n"}
{"id":"py-assert","domain":"code","rewards":{"format":1},"reward":1,"tests":[{"assert":"assert add(1, 2) == 3"},{"assert":"assert add(2, 2) == 5"}],"completion":"```py\ndef add(a, b):\n    return a + b\n```"}
{"id":"math","domain":"math","completion":"\\boxed{4}","answer":"4"}
{"id":"none","domain":"code","lang":"python","tests":[{"input":"","output":"1"}],"completion":"I cannot write this program."}
{"id":"c","domain":"code","lang":"c","tests":[{"input":"1 2\n","output":"3\n"},{"input":"5 5\n","output":"10"}],"completion":"```python\nprint('decoy')\n```\n```c\n#include <stdio.h>\nint main(void) { int a, b; if (scanf(\"%d %d\", &a, &b) != 2) return 1; printf(\"%d\\n\", a + b); return 0; }\n```"}
{"id":"cpp","domain":"code","lang":"cpp","tests":[{"input":"","output":"hi"}],"completion":"```cpp\n#include <iostream>\nint main() { std::cout << \"hi\" << std::endl; }\n```"}
{"id":"cpp-alias","domain":"code","lang":"c++","tests":[{"input":"","output":"hi"}],"completion":"```c\nint main(void) { return 1; }\n```\n```c++\n#include <iostream>\nint main() { std::cout << \"hi\"; }\n```\n```text\nnot code\n```"}
{"id":"cerr","domain":"code","lang":"c","tests":[{"input":"","output":""},{"input":"","output":""}],"completion":"```c\nint main(void) { return }\n```"}
J
score-code -j 3 in.jsonl
