# Text modes on the built-in tokenizer: encode, plain, bos, count, inspect,
# decode (ids 0..255 are bytes, 256.. the specials).
printf 'hi<|user|>\n' >in.txt &&
tok in.txt &&
tok --plain in.txt &&
tok --bos in.txt &&
tok -c in.txt &&
tok -i in.txt &&
printf '256 104 105 10 263\n' >ids.txt &&
tok -d ids.txt &&
tok -d --skip-special ids.txt &&
printf '' >empty.txt &&
tok empty.txt &&
tok -c empty.txt &&
printf '228 184\n173' >split.txt &&
tok -d split.txt && echo
