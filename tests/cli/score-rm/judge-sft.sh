# pipelines/judge-sft.sh on a handful of hh-rlhf pairs: the dialogues are
# split into the question and the final assistant turns, the chosen answer
# alternates between positions A and B with the verdict naming it, the
# rationale's {chosen}/{rejected} follow the order, and the prompt is
# what score-rm --judge shows the judge
# (score-rm --render makes it).  Pairs without rationale
# are left out unless -a.  The record contents are checked by jq against
# the input, not printed (hh-rlhf's content is offensive).
f="$DATA/hh-rlhf-harmless/test.jsonl.zst"
test -e "$f" || { echo "skipped: $f is missing"; exit 77; }
zstd -dcq "$f" | head -n 8 | jq -c 'if input_line_number % 4 == 3 then .
    else . + {rationale: "{chosen} refuses; {rejected} does not."} end' > pairs.jsonl
zstd -q pairs.jsonl -o pairs.jsonl.zst
sh "$TOP/pipelines/judge-sft.sh" pairs.jsonl.zst > sft.jsonl 2> log
cat log
sh "$TOP/pipelines/judge-sft.sh" -a pairs.jsonl > all.jsonl 2> log2
cat log2
jq -c '[.id, .domain, (.response | sub("(?s)^.*\n\n"; "") | .[0:5])]' sft.jsonl
jq -r '.response' sft.jsonl | head -n 1
# each record against its source pair: question, both answers, the verdict
jq -n --slurpfile src pairs.jsonl --slurpfile out all.jsonl '
    def split: split("\n\nAssistant:") as $s
        | [($s[:-1] | join("\n\nAssistant:") | sub("^\\s+"; "")), ($s[-1] | sub("^\\s+"; ""))];
    [$out[] | (.id | ltrimstr("pair/") | tonumber) as $n | $src[$n] as $p
        | ($p.chosen | split) as $c | ($p.rejected | split) as $r
        | (.response | test("\\[\\[A\\]\\]$")) as $a_chosen
        | (.prompt | index("[Question]\n" + $c[0] + "\n\n[The Start of Response A]\n"
               + (if $a_chosen then $c[1] else $r[1] end)
               + "\n[The End of Response A]\n\n[The Start of Response B]\n"
               + (if $a_chosen then $r[1] else $c[1] end) + "\n[The End of Response B]")) != null
          and ($a_chosen == ($n % 2 == 0))]
    | "records matching their pair: \(map(select(.)) | length) of \(length)"' -r
# with -a a pair without rationale has the verdict alone
jq -c 'select(.id == "pair/2" or .id == "pair/6") | .response' all.jsonl
