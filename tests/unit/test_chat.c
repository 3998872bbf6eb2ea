/*
 * test_chat.c - the chat formats, on the built-in tokenizer and on the
 * tiny tokenizer.json of tinytok.h (which has the special tokens of all
 * four formats), against ids written out by hand from each model's chat
 * template.
 */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "check.h"
#include "tinytok.h"

#define PROMPT(c, sys, prompt, ...)                                            \
    do {                                                                       \
        static const int want_[] = {__VA_ARGS__};                              \
        struct tok_ids ids_ = TOK_IDS_INIT;                                    \
        chat_prompt((c), (sys), (prompt), &ids_);                              \
        CHECK_MSG(ids_eq(&ids_, want_, sizeof(want_) / sizeof(int)), "%s",     \
                  prompt);                                                     \
        tok_ids_release(&ids_);                                                \
    } while (0)

#define RESPONSE(c, resp, ...)                                                 \
    do {                                                                       \
        static const int want_[] = {__VA_ARGS__};                              \
        struct tok_ids ids_ = TOK_IDS_INIT;                                    \
        chat_response((c), (resp), &ids_);                                     \
        CHECK_MSG(ids_eq(&ids_, want_, sizeof(want_) / sizeof(int)), "%s",     \
                  resp);                                                       \
        tok_ids_release(&ids_);                                                \
    } while (0)

/* the text a prompt renders to */
static void
render_is(struct chat *c, const char *sys, const char *prompt, const char *want)
{
    struct sbuf sb = SBUF_INIT;

    chat_render(c, sys, prompt, &sb);
    CHECK_STREQ(sbuf_str(&sb), want);
    sbuf_release(&sb);
}

static void
test_builtin(void)
{
    struct tok *t = tok_builtin();
    struct chat c;
    struct tok_ids ids = TOK_IDS_INIT, mask = TOK_IDS_INIT;
    struct sbuf err = SBUF_INIT;
    static const int sft[] = {256, 260, 'Q', 261, 'A', 257};
    static const int sftmask[] = {0, 0, 0, 0, 1, 1};

    CHECK(chat_init(&c, t, CHAT_AUTO, 0, &err) == 0);
    CHECK(c.format == CHAT_BUILTIN);
    CHECK(c.eos == 257 && chat_is_stop(&c, 257) && !chat_is_stop(&c, 256));
    /* <|bos|><|system|>SYS<|user|>PROMPT<|assistant|> */
    PROMPT(&c, "Be", "Hi", 256, 259, 'B', 'e', 260, 'H', 'i', 261);
    PROMPT(&c, NULL, "Hi", 256, 260, 'H', 'i', 261);
    PROMPT(&c, "", "", 256, 260, 261);
    /* special-token strings in content are specials, unless plain */
    PROMPT(&c, NULL, "<|eos|>", 256, 260, 257, 261);
    RESPONSE(&c, "ok", 'o', 'k', 257);
    RESPONSE(&c, "", 257);
    RESPONSE(&c, "<think>a</think>b", 262, 'a', 263, 'b', 257);
    render_is(&c, "S", "P", "<|bos|><|system|>S<|user|>P<|assistant|>");
    chat_sample(&c, NULL, "Q", "A", &ids, &mask);
    CHECK(ids_eq(&ids, sft, 6) && ids_eq(&mask, sftmask, 6));
    chat_release(&c);

    CHECK(chat_init(&c, t, CHAT_BUILTIN, CHAT_THINK | CHAT_PLAIN, &err) == 0);
    PROMPT(&c, NULL, "<|eos|>", 256, 260, '<', '|', 'e', 'o', 's', '|', '>',
           261, 262, '\n');
    RESPONSE(&c, "<think>", '<', 't', 'h', 'i', 'n', 'k', '>', 257);
    chat_release(&c);

    /* text: no markers, everything plain text, the turns on lines */
    CHECK(chat_init(&c, t, CHAT_TEXT, CHAT_THINK, &err) == 0);
    CHECK(c.eos == 257 && chat_is_stop(&c, 257));
    render_is(&c, "S", "P", "<|bos|>S\nUser: P\nAssistant: <think>\n");
    PROMPT(&c, NULL, "<|eos|>", 256, 'U', 's', 'e', 'r', ':', ' ', '<', '|', 'e', 'o',
           's', '|', '>', '\n', 'A', 's', 's', 'i', 's', 't', 'a', 'n', 't', ':', ' ',
           '<', 't', 'h', 'i', 'n', 'k', '>', '\n');
    RESPONSE(&c, "</think>", '<', '/', 't', 'h', 'i', 'n', 'k', '>', 257);
    chat_release(&c);
    {
        static const struct chat_msg conv2[] = {
            {CHAT_ROLE_USER, "a", NULL}, {CHAT_ROLE_ASSISTANT, "b", NULL},
            {CHAT_ROLE_USER, "c", NULL},
        };
        struct sbuf sb = SBUF_INIT;
        CHECK(chat_init(&c, t, CHAT_TEXT, 0, &err) == 0);
        chat_conv_render(&c, conv2, 3, 1, &sb, NULL);
        CHECK_STREQ(sbuf_str(&sb), "<|bos|>User: a\nAssistant: b<|eos|>\nUser: c\n"
                    "Assistant: ");
        sbuf_release(&sb);
        chat_release(&c);
    }

    /* the built-in tokenizer has none of the other formats' tokens */
    CHECK(chat_init(&c, t, CHAT_CHATML, 0, &err) == -1);
    CHECK_MSG(strstr(sbuf_str(&err), "<|im_start|>") != NULL, "%s", sbuf_str(&err));
    chat_release(&c);
    tok_ids_release(&ids);
    tok_ids_release(&mask);
    tok_free(t);
    sbuf_release(&err);
}

static void
test_formats(void)
{
    struct sbuf err = SBUF_INIT;
    struct tok *t;
    struct chat c;
    enum chat_format f;

    CHECK(tinytok_write("tiny", 0, 0, NULL) == 0);
    t = tok_load("tiny/tokenizer.json", &err);
    CHECK_MSG(t != NULL, "%s", sbuf_str(&err));
    if (!t)
        return;

    /* ChatML (Qwen): <|im_start|>system\nS<|im_end|>\n<|im_start|>user\n
     * hello<|im_end|>\n<|im_start|>assistant\n; "hello" is 258 111 */
    CHECK(chat_init(&c, t, CHAT_CHATML, 0, &err) == 0);
    PROMPT(&c, "S", "hello",
           300, 's', 'y', 's', 't', 'e', 'm', '\n', 'S', 301, '\n',
           300, 'u', 's', 'e', 'r', '\n', 258, 111, 301, '\n',
           300, 'a', 's', 's', 'i', 's', 't', 'a', 'n', 't', '\n');
    PROMPT(&c, NULL, "hello",
           300, 'u', 's', 'e', 'r', '\n', 258, 111, 301, '\n',
           300, 'a', 's', 's', 'i', 's', 't', 'a', 'n', 't', '\n');
    RESPONSE(&c, "hello", 258, 111, 301);
    CHECK(c.eos == 301 && chat_is_stop(&c, 301) && chat_is_stop(&c, 302));
    render_is(&c, "S", "P",
              "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nP<|im_end|>\n"
              "<|im_start|>assistant\n");
    chat_release(&c);

    /* ChatML with R1-style thinking: <think> is a token of this vocabulary */
    CHECK(chat_init(&c, t, CHAT_CHATML, CHAT_THINK, &err) == 0);
    PROMPT(&c, NULL, "",
           300, 'u', 's', 'e', 'r', '\n', 301, '\n',
           300, 'a', 's', 's', 'i', 's', 't', 'a', 'n', 't', '\n', 311, '\n');
    chat_release(&c);

    /* DeepSeek-V3: <｜begin▁of▁sentence｜>S<｜User｜>hello<｜Assistant｜> */
    CHECK(chat_init(&c, t, CHAT_DEEPSEEK3, 0, &err) == 0);
    PROMPT(&c, "S", "hello", 303, 'S', 305, 258, 111, 306);
    PROMPT(&c, NULL, "hello world", 303, 305, 258, 111, 262, 108, 100, 306);
    RESPONSE(&c, "hello", 258, 111, 304);
    CHECK(c.eos == 304 && chat_is_stop(&c, 304) && !chat_is_stop(&c, 301));
    chat_release(&c);
    CHECK(chat_init(&c, t, CHAT_DEEPSEEK3, CHAT_THINK, &err) == 0);
    PROMPT(&c, NULL, "hello", 303, 305, 258, 111, 306, 311, '\n');
    chat_release(&c);

    /* Llama 3: content trimmed; "\n\n" is two byte tokens here */
    CHECK(chat_init(&c, t, CHAT_LLAMA3, 0, &err) == 0);
    PROMPT(&c, " S\n", "  hello \n",
           307, 308, 's', 'y', 's', 't', 'e', 'm', 309, '\n', '\n', 'S', 310,
           308, 'u', 's', 'e', 'r', 309, '\n', '\n', 258, 111, 310,
           308, 'a', 's', 's', 'i', 's', 't', 'a', 'n', 't', 309, '\n', '\n');
    RESPONSE(&c, "hello", 258, 111, 310);
    chat_release(&c);

    /* detection: special tokens present (DeepSeek's first), or the
     * chat template; an R1 template turns thinking on */
    CHECK(chat_init(&c, t, CHAT_AUTO, 0, &err) == 0 &&
          c.format == CHAT_DEEPSEEK3);
    chat_release(&c);
    tok_free(t);
    CHECK(tinytok_write("qwen", 0, 0,
                        "{\"chat_template\": \"{{'<|im_start|>' + m}}\"}") ==
          0);
    t = tok_load("qwen/tokenizer.json", &err);
    CHECK(t && chat_init(&c, t, CHAT_AUTO, 0, &err) == 0 &&
          c.format == CHAT_CHATML);
    CHECK(!(c.flags & CHAT_THINK));
    chat_release(&c);
    tok_free(t);
    CHECK(tinytok_write("r1", 0, 0,
                        "{\"chat_template\": \"{{'<\xef\xbd\x9c"
                        "Assistant\xef\xbd\x9c><think>\\\\n'}}\"}") == 0);
    t = tok_load("r1/tokenizer.json", &err);
    CHECK(t && chat_init(&c, t, CHAT_AUTO, 0, &err) == 0 &&
          c.format == CHAT_DEEPSEEK3);
    CHECK(c.flags & CHAT_THINK);
    chat_release(&c);
    CHECK(chat_init(&c, t, CHAT_AUTO, CHAT_NO_THINK, &err) == 0);
    CHECK(!(c.flags & CHAT_THINK));
    chat_release(&c);
    tok_free(t);

    CHECK(chat_parse_format("llama3", &f) == 0 && f == CHAT_LLAMA3);
    CHECK(chat_parse_format("auto", &f) == 0 && f == CHAT_AUTO);
    CHECK(chat_parse_format("vicuna", &f) == -1);
    CHECK_STREQ(chat_format_name(CHAT_DEEPSEEK3), "deepseek3");
    sbuf_release(&err);
}

/* the text a conversation renders to, and its assistant spans */
static void
conv_is(struct chat *c, const struct chat_msg *m, size_t n, int gen,
        const char *want, const int *spans, size_t nspans)
{
    struct sbuf sb = SBUF_INIT;
    struct tok_ids sp = TOK_IDS_INIT;

    chat_conv_render(c, m, n, gen, &sb, &sp);
    CHECK_STREQ(sbuf_str(&sb), want);
    if (spans)
        CHECK(ids_eq(&sp, spans, nspans));
    sbuf_release(&sb);
    tok_ids_release(&sp);
}

static void
test_conv(void)
{
    static const struct chat_msg m[] = {
        {CHAT_ROLE_SYSTEM, "S", NULL},
        {CHAT_ROLE_USER, "Q", NULL},
        {CHAT_ROLE_ASSISTANT, "<think>x</think>A", NULL},
        {CHAT_ROLE_USER, "R", NULL},
        {CHAT_ROLE_ASSISTANT, "B", "t"},
    };
    static const struct chat_msg tool[] = {
        {CHAT_ROLE_USER, "Q", NULL},
        {CHAT_ROLE_TOOL, "r1", NULL},
        {CHAT_ROLE_TOOL, "r2", NULL},
    };
    /* <|bos|><|system|>S<|user|>Q<|assistant|>A... as in the builtin
     * section of chat.h; mask 1 on the outputs through <|eos|> */
    static const int ids_all[] = {256, 259, 'S', 260, 'Q', 261, 262, 'x', 263,
                                  'A', 257, 260, 'R', 261, 262, '\n', 't',
                                  '\n', 263, '\n', '\n', 'B', 257};
    static const int mask_all[] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0,
                                   1, 1, 1, 1, 1, 1, 1, 1, 1};
    static const int mask_last[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                    1, 1, 1, 1, 1, 1, 1, 1, 1};
    /* 31 + 29 + 22 bytes of prompt, 27 of output */
    static const int spans[] = {82, 109};
    struct tok *t = tok_builtin(), *tt;
    struct chat c;
    struct tok_ids ids = TOK_IDS_INIT, mask = TOK_IDS_INIT;
    struct sbuf sb = SBUF_INIT;
    struct sbuf err = SBUF_INIT;
    const char *why = NULL;
    enum chat_role r;

    CHECK(chat_init(&c, t, CHAT_BUILTIN, 0, &err) == 0);
    CHECK(chat_conv_sample(&c, m, 5, 0, &ids, &mask, &why) == 0);
    CHECK(ids_eq(&ids, ids_all, sizeof(ids_all) / sizeof(int)));
    CHECK(ids_eq(&mask, mask_all, sizeof(mask_all) / sizeof(int)));
    ids.n = mask.n = 0;
    CHECK(chat_conv_sample(&c, m, 5, 1, &ids, &mask, &why) == 0);
    CHECK(ids_eq(&mask, mask_last, sizeof(mask_last) / sizeof(int)));
    /* no final assistant turn: no sample */
    CHECK(chat_conv_sample(&c, m, 4, 0, &ids, &mask, &why) == -1);
    CHECK(strstr(why, "assistant") != NULL);
    chat_conv_sample_render(&c, m, 5, &sb, &why);
    CHECK_STREQ(sbuf_str(&sb), "<|bos|><|system|>S<|user|>Q<|assistant|>"
                "<think>x</think>A<|eos|><|user|>R<|assistant|><think>\nt\n"
                "</think>\n\nB<|eos|>");
    chat_release(&c);

    CHECK(tinytok_write("tiny", 0, 0, NULL) == 0);
    tt = tok_load("tiny/tokenizer.json", &err);
    CHECK(tt != NULL);
    /* Qwen3: the earlier turn's think block is dropped, the last kept;
     * enable_thinking false closes an empty block in the prompt */
    CHECK(chat_init(&c, tt, CHAT_QWEN3, 0, &err) == 0);
    conv_is(&c, m, 5, 0,
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n"
            "<|im_start|>assistant\nA<|im_end|>\n<|im_start|>user\nR<|im_end|>\n"
            "<|im_start|>assistant\n<think>\nt\n</think>\n\nB<|im_end|>\n",
            NULL, 0);
    conv_is(&c, m, 2, 1,
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n"
            "<|im_start|>assistant\n", NULL, 0);
    conv_is(&c, tool, 3, 1,
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>user\n<tool_response>\n"
            "r1\n</tool_response>\n<tool_response>\nr2\n</tool_response>"
            "<|im_end|>\n<|im_start|>assistant\n", NULL, 0);
    chat_release(&c);
    CHECK(chat_init(&c, tt, CHAT_QWEN3, CHAT_NO_THINK, &err) == 0);
    conv_is(&c, m + 1, 1, 1,
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
            "<think>\n\n</think>\n\n", NULL, 0);
    /* reasoning in the last turn without thinking is no sample */
    CHECK(chat_conv_sample(&c, m, 5, 0, &ids, &mask, &why) == -1);
    chat_release(&c);
    /* DeepSeek-R1 (an R1 template is not loaded: CHAT_THINK stands for
     * it): earlier think blocks dropped, systems joined */
    CHECK(chat_init(&c, tt, CHAT_DEEPSEEK3, CHAT_THINK, &err) == 0);
    conv_is(&c, m, 4, 1,
            "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>S"
            "<\xef\xbd\x9cUser\xef\xbd\x9c>Q<\xef\xbd\x9c" "Assistant\xef\xbd\x9c>A"
            "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>"
            "<\xef\xbd\x9cUser\xef\xbd\x9c>R<\xef\xbd\x9c" "Assistant\xef\xbd\x9c><think>\n",
            NULL, 0);
    chat_release(&c);
    /* Llama 3.1: the dated system turn, outputs trimmed; the spans are
     * the assistant output's bytes */
    CHECK(chat_init(&c, tt, CHAT_LLAMA31, 0, &err) == 0);
    conv_is(&c, m, 3, 0,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
            "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
            "S<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n"
            "<think>x</think>A<|eot_id|>", NULL, 0);
    chat_release(&c);
    CHECK(chat_init(&c, tt, CHAT_CHATML, 0, &err) == 0);
    conv_is(&c, m, 3, 0,
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n"
            "<|im_start|>assistant\n<think>x</think>A<|im_end|>\n",
            spans, 2);
    chat_release(&c);

    CHECK(chat_parse_role("tool", &r) == 0 && r == CHAT_ROLE_TOOL);
    CHECK(chat_parse_role("function", &r) == -1);
    tok_ids_release(&ids);
    tok_ids_release(&mask);
    sbuf_release(&sb);
    tok_free(tt);
    tok_free(t);
    sbuf_release(&err);
}

int
main(void)
{
    test_builtin();
    test_formats();
    test_conv();
    return check_done();
}
