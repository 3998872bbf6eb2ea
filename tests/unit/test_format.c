/*
 * test_format.c - the R1 format check on hand-made completions.
 */
#include <string.h>

#include "check.h"
#include "format.h"
#include "util.h"

struct tcase {
    const char *text;
    enum format_reason want;
};

static void
run(const struct format_opts *o, const struct tcase *c, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        enum format_reason r = format_check(o, c[i].text, NULL);

        CHECK_MSG(r == c[i].want, "'%s': got %s, want %s", c[i].text,
                  format_reason_name(r), format_reason_name(c[i].want));
    }
}

int
main(void)
{
    static const struct tcase plain[] = {
        {"<think>reason</think>42", FORMAT_OK},
        {"<think>\nreason\n</think>\n\nThe answer is 42.", FORMAT_OK},
        {"  \n<think>x</think> y", FORMAT_OK},
        {"<think></think>42", FORMAT_OK},
        {"<think>x</think>", FORMAT_EMPTY_ANSWER},
        {"<think>x</think>  \n\t", FORMAT_EMPTY_ANSWER},
        {"42", FORMAT_NO_THINK},
        {"", FORMAT_NO_THINK},
        {"</think>42", FORMAT_NO_THINK},
        {"Sure! <think>x</think>42", FORMAT_TEXT_BEFORE},
        {"<think>x</think>42<think>y</think>43", FORMAT_MULTIPLE},
        {"<think>x<think>y</think>42", FORMAT_MULTIPLE},
        {"<think>x</think></think>42", FORMAT_MULTIPLE},
        {"<think>x and never closed", FORMAT_UNCLOSED},
        {"<THINK>x</THINK>42", FORMAT_NO_THINK},
        {"<think>x</think>\\boxed{4}", FORMAT_OK},
    };
    static const struct tcase boxed[] = {
        {"<think>x</think>so \\boxed{4}.", FORMAT_OK},
        {"<think>x</think>so \\fbox{4}.", FORMAT_OK},
        {"<think>x</think>so 4.", FORMAT_NOT_BOXED},
        {"<think>\\boxed{4}</think>so 4.", FORMAT_NOT_BOXED},
        {"<think>x</think>", FORMAT_EMPTY_ANSWER},
    };
    static const struct tcase tagged[] = {
        {"<think>x</think><answer>4</answer>", FORMAT_OK},
        {"<think>x</think>\n<answer> 4 </answer>\n", FORMAT_OK},
        {"<think>x</think><answer></answer>", FORMAT_EMPTY_ANSWER},
        {"<think>x</think>4", FORMAT_NO_ANSWER_TAG},
        {"<think>x</think>so <answer>4</answer>", FORMAT_NO_ANSWER_TAG},
        {"<think>x</think><answer>4</answer> more", FORMAT_NO_ANSWER_TAG},
        {"<think>x</think><answer>4</answer><answer>5</answer>",
         FORMAT_NO_ANSWER_TAG},
        {"<think>x</think></answer>4<answer>", FORMAT_NO_ANSWER_TAG},
    };
    static const struct tcase open[] = {
        {"reasoning...</think>42", FORMAT_OK},
        {"</think>42", FORMAT_OK},
        {"<think>reasoning</think>42", FORMAT_MULTIPLE},
        {"reasoning, never closed", FORMAT_UNCLOSED},
        {"reasoning</think>", FORMAT_EMPTY_ANSWER},
    };
    static const struct tcase other[] = {
        {"<reasoning>x</reasoning>42", FORMAT_OK},
        {"<think>x</think>42", FORMAT_NO_THINK},
    };
    struct format_opts o;
    struct format_split sp;
    const char *text = "<think>ab</think>  42 ";

    format_opts_init(&o);
    run(&o, plain, ARRAY_LEN(plain));
    CHECK(format_check(&o, text, &sp) == FORMAT_OK);
    CHECK(sp.think_s == 7 && sp.think_e == 9);
    CHECK(sp.answer_s == 19 && sp.answer_e == 21);
    o.boxed = 1;
    run(&o, boxed, ARRAY_LEN(boxed));
    format_opts_init(&o);
    o.answer_tag = "answer";
    run(&o, tagged, ARRAY_LEN(tagged));
    format_opts_init(&o);
    o.open_in_prompt = 1;
    run(&o, open, ARRAY_LEN(open));
    format_opts_init(&o);
    o.tag = "reasoning";
    run(&o, other, ARRAY_LEN(other));
    CHECK(strcmp(format_reason_name(FORMAT_NOT_BOXED), "not_boxed") == 0);
    return check_done();
}
