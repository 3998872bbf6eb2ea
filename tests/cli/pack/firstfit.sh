# Streaming first-fit with one open sequence: a sample that does not fit
# closes it (input order kept); with two open, 3 tokens fill the first.
. "$TESTDIR/samples.inc"
pack -L 10 --first-fit --open 1 samples.jsonl | jq -c '[.segments, [.src[] | "\(.group)/\(.k)"]]' &&
pack -L 10 --first-fit --open 2 samples.jsonl | jq -c '[.segments, [.src[] | "\(.group)/\(.k)"]]' &&
pack -L 10 --window 2 samples.jsonl | jq -c '[.segments, [.src[] | "\(.group)/\(.k)"]]'
