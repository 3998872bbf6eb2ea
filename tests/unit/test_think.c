/*
 * test_think.c - the reasoning block: status, answer and reasoning of
 * each shape of completion, written out by hand.
 */
#include <string.h>

#include "check.h"
#include "think.h"

struct tcase {
    const char *text;
    enum think_status status;
    const char *answer;
    const char *reasoning;
};

static const struct tcase cases[] = {
    { "just an answer\n", THINK_NONE, "just an answer\n", "" },
    { "", THINK_NONE, "", "" },
    { "<think>\nstep 1\nstep 2\n</think>\n\nThe answer is 4.", THINK_OK,
      "The answer is 4.", "step 1\nstep 2" },
    { "<think></think>42", THINK_OK, "42", "" },
    { "Sure. <think>hmm</think> 7", THINK_OK, "Sure. 7", "hmm" },
    { "<think>\nstill thinking when the tokens ran out", THINK_UNCLOSED, "",
      "still thinking when the tokens ran out" },
    { "pre <think> x", THINK_UNCLOSED, "pre ", "x" },
    { "reasoning whose opening was in the prompt\n</think>\n\nanswer", THINK_UNOPENED,
      "answer", "reasoning whose opening was in the prompt" },
    { "</think> x <think> y", THINK_UNOPENED, "x <think> y", "" },
    { "<think>a</think>b<think>c</think>d", THINK_REPEATED, "d", "a</think>b<think>c" },
    { "<think>a<think>b</think>c", THINK_REPEATED, "c", "a<think>b" },
    { "<think>a</think>b</think>c", THINK_REPEATED, "c", "a</think>b" },
    { "<think>a <think>b", THINK_REPEATED, "", "a <think>b" },
    { "<think></think", THINK_UNCLOSED, "", "</think" },
    { "hm</think>4", THINK_UNOPENED, "4", "hm" },
    { "<thinking>not a tag</thinking>", THINK_NONE, "<thinking>not a tag</thinking>", "" },
};

int
main(void)
{
    size_t i;

    for (i = 0; i < ARRAY_LEN(cases); i++) {
        const struct tcase *c = &cases[i];
        struct think_block b;
        struct sbuf ans = SBUF_INIT, rea = SBUF_INIT;
        size_t len = strlen(c->text);

        think_parse(c->text, len, &b);
        think_answer(c->text, len, &b, &ans);
        think_reasoning(c->text, len, &b, &rea);
        CHECK_MSG(b.status == c->status, "case %zu: status %s, want %s", i,
                  think_status_name(b.status), think_status_name(c->status));
        CHECK_MSG(strcmp(sbuf_str(&ans), c->answer) == 0, "case %zu: answer '%s'", i,
                  sbuf_str(&ans));
        CHECK_MSG(strcmp(sbuf_str(&rea), c->reasoning) == 0, "case %zu: reasoning '%s'", i,
                  sbuf_str(&rea));
        CHECK(b.start <= b.in0 && b.in0 <= b.in1 && b.in1 <= b.end && b.end <= len);
        sbuf_release(&ans);
        sbuf_release(&rea);
    }
    /* not NUL-terminated: the tag cut by the length is not seen */
    {
        struct think_block b;
        think_parse("<think>x</think>", 15, &b);
        CHECK(b.status == THINK_UNCLOSED && b.nclose == 0);
    }
    /* the final answer: what follows the last closing tag */
    {
        static const struct { const char *text; const char *tail; } t[] = {
            { "<think>a</think>b</think>c", "c" },
            { "<think>a<think>b</think>\n c", "c" },
            { "<think>a", "" },
            { "a</think>\n\nb", "b" },
            { "pre <think>x</think> ans", "ans" },
            { "no tags", "no tags" },
        };
        for (i = 0; i < ARRAY_LEN(t); i++) {
            struct think_block b;
            size_t len = strlen(t[i].text), off;

            think_parse(t[i].text, len, &b);
            off = think_tail(t[i].text, len, &b);
            CHECK_MSG(off <= len && strcmp(t[i].text + off, t[i].tail) == 0,
                      "tail %zu: '%s'", i, t[i].text + off);
        }
    }
    /* other tags: the same rule */
    {
        struct think_block b;
        const char *s = "<r>a</r>b</r>c <think>";
        size_t len = strlen(s);

        think_parse_tags(s, len, "<r>", "</r>", &b);
        CHECK(b.status == THINK_REPEATED && b.nopen == 1 && b.nclose == 2);
        CHECK(b.in0 == 3 && b.in1 == 9 && b.end == 13);
        CHECK_STREQ(s + think_tail(s, len, &b), "c <think>");
    }
    /* an embedded NUL is carried */
    {
        struct think_block b;
        struct sbuf ans = SBUF_INIT;

        think_parse("<think></think>a\0b", 18, &b);
        think_answer("<think></think>a\0b", 18, &b, &ans);
        CHECK(b.status == THINK_OK && ans.len == 3 && memcmp(ans.buf, "a\0b", 3) == 0);
        sbuf_release(&ans);
    }
    CHECK_STREQ(think_status_name(THINK_REPEATED), "repeated");
    return check_done();
}
