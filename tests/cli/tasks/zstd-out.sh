# Output through the common options: a .zst name is compressed, and -n 0
# makes an empty file.
tasks arithmetic -n 100 -o a.jsonl.zst
tasks arithmetic -n 100 > a.jsonl
zstd -q -dc a.jsonl.zst | cmp - a.jsonl
tasks word -n 0 -o e.jsonl
test -e e.jsonl && test ! -s e.jsonl
