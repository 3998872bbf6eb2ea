#!/bin/sh
# pipelines/judge-sft.sh - SFT records for a generative judge, the
# chain-of-thought reward model of DeepSeek-V3 (arXiv:2412.19437, section
# 5.3: "the reward data includes the chain-of-thought leading to the
# reward"), from preference pairs with written rationales.
#
#   sh pipelines/judge-sft.sh [-a] [-t TEMPLATE] [FILE ...] > judge-sft.jsonl
#
# Input (FILEs or stdin, plain or zstd): preference records
#   {"id"?, "prompt", "chosen", "rejected", "rationale"?}
# or hh-rlhf pairs {"chosen", "rejected"} without prompt, whole dialogues:
# their question is the dialogue before the last "\n\nAssistant:" (the
# leading blank lines removed), their responses what follows it (leading
# white space removed).  A pair whose two dialogues differ before that
# point is left out, as is a pair whose responses are equal.
#
# Output: SFT records {"id", "domain": "judge", "prompt", "response"}.
# prompt is TEMPLATE (default prompts/judge-pairwise.txt) filled by
# `score-rm --render` with the question and the pair, so the judge is
# trained on exactly the text score-rm --judge shows it.  The chosen
# response is response A in the 1st, 3rd, ... pair and response B in the
# others, so the judge cannot learn a position.  response is the
# rationale, a blank line, and the verdict: [[A]] or [[B]], the one
# naming the chosen response.  A rationale names the responses as
# {chosen} and {rejected}; these become "Response A" and "Response B" as
# the order of that pair has them.
#
# A pair without a rationale is left out, unless -a: then its response is
# the verdict alone.  The counts go to standard error.  An id is the
# record's own, else "pair/N" with N its 0-based number in the input.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PATH="$HERE/../bin:$PATH"
template="$HERE/prompts/judge-pairwise.txt"
allow=false
while getopts at: o; do
    case $o in
    a) allow=true ;;
    t) template=$OPTARG ;;
    *) echo "usage: judge-sft.sh [-a] [-t TEMPLATE] [FILE ...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
tmp=$(mktemp -d "${TMPDIR:-/tmp}/judge-sft.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

# score-rm reads zstd itself; jq does not
cat_any() {
    if [ $# -eq 0 ]; then set -- -; fi
    for f in "$@"; do
        if [ "$f" = - ]; then cat; continue; fi
        if [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' ')" = 28b52ffd ]; then
            zstd -dcq "$f"; else cat "$f"; fi
    done
}

cat_any "$@" | jq -nc --argjson allow "$allow" '
    def split_dialogue:
        split("\n\nAssistant:") as $s
        | if ($s | length) < 2 then null
          else [($s[:-1] | join("\n\nAssistant:") | sub("^\\s+"; "")),
                ($s[-1] | sub("^\\s+"; ""))] end;
    foreach inputs as $r (-1; . + 1; . as $n | $r
        | (if has("prompt") then {q: .prompt, c: .chosen, j: .rejected}
           else (.chosen | split_dialogue) as $c | (.rejected | split_dialogue) as $j
               | if $c == null or $j == null then {skip: "no assistant turn"}
                 elif $c[0] != $j[0] then {skip: "dialogues differ before the last turn"}
                 else {q: $c[0], c: $c[1], j: $j[1]} end
           end) as $p
        | if $p.skip then {skip: $p.skip}
          elif $p.c == $p.j then {skip: "equal responses"}
          elif (.rationale | type) != "string" and ($allow | not) then {skip: "no rationale"}
          else ($n % 2 == 0) as $a_chosen
            | {id: (.id // "pair/\($n)"), prompt: $p.q,
               completion: (if $a_chosen then $p.c else $p.j end),
               second: (if $a_chosen then $p.j else $p.c end),
               verdict: (if $a_chosen then "[[A]]" else "[[B]]" end),
               rationale: ((.rationale // "")
                   | gsub("\\{chosen\\}"; if $a_chosen then "Response A" else "Response B" end)
                   | gsub("\\{rejected\\}"; if $a_chosen then "Response B" else "Response A" end))}
          end)' > "$tmp/pairs.jsonl"

grep '"skip"' "$tmp/pairs.jsonl" | jq -r .skip | sort | uniq -c \
    | sed 's/^ */judge-sft.sh: left out: /' >&2 || :
grep -v '"skip"' "$tmp/pairs.jsonl" > "$tmp/kept.jsonl" || :
score-rm -q --render --all-domains --template "$template" --second second "$tmp/kept.jsonl" \
    | jq -c '{id, domain: "judge", prompt: .judge_prompt,
              response: (if .rationale == "" then .verdict
                         else (.rationale | sub("\\s+$"; "")) + "\n\n" + .verdict end)}'
echo "judge-sft.sh: $(wc -l < "$tmp/kept.jsonl") SFT records" >&2
