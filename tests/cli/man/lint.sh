# Every man page is clean mdoc, and every tool has a page in section 1.
cd "$TOP"
for m in man/man*/*.[157]; do
    mandoc -T lint -W warning "$m"
done
for t in tools/*.c; do
    [ -e "$t" ] || continue
    n=$(basename "$t" .c)
    test -e "man/man1/$n.1" || { echo "tools/$n.c has no man/man1/$n.1"; exit 1; }
done
