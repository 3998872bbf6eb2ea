/*
 * test_think.c - the R1 format check on hand-made completions.
 */
#include <string.h>

#include "check.h"
#include "think.h"
#include "util.h"

struct tcase {
    const char *text;
    enum think_reason want;
};

static void
run(const struct think_opts *o, const struct tcase *c, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        enum think_reason r = think_check(o, c[i].text, NULL);

        CHECK_MSG(r == c[i].want, "'%s': got %s, want %s", c[i].text,
                  think_reason_name(r), think_reason_name(c[i].want));
    }
}

int
main(void)
{
    static const struct tcase plain[] = {
        {"<think>reason</think>42", THINK_OK},
        {"<think>\nreason\n</think>\n\nThe answer is 42.", THINK_OK},
        {"  \n<think>x</think> y", THINK_OK},
        {"<think></think>42", THINK_OK},
        {"<think>x</think>", THINK_EMPTY_ANSWER},
        {"<think>x</think>  \n\t", THINK_EMPTY_ANSWER},
        {"42", THINK_NO_THINK},
        {"", THINK_NO_THINK},
        {"</think>42", THINK_NO_THINK},
        {"Sure! <think>x</think>42", THINK_TEXT_BEFORE},
        {"<think>x</think>42<think>y</think>43", THINK_MULTIPLE},
        {"<think>x<think>y</think>42", THINK_MULTIPLE},
        {"<think>x</think></think>42", THINK_MULTIPLE},
        {"<think>x and never closed", THINK_UNCLOSED},
        {"<THINK>x</THINK>42", THINK_NO_THINK},
        {"<think>x</think>\\boxed{4}", THINK_OK},
    };
    static const struct tcase boxed[] = {
        {"<think>x</think>so \\boxed{4}.", THINK_OK},
        {"<think>x</think>so \\fbox{4}.", THINK_OK},
        {"<think>x</think>so 4.", THINK_NOT_BOXED},
        {"<think>\\boxed{4}</think>so 4.", THINK_NOT_BOXED},
        {"<think>x</think>", THINK_EMPTY_ANSWER},
    };
    static const struct tcase tagged[] = {
        {"<think>x</think><answer>4</answer>", THINK_OK},
        {"<think>x</think>\n<answer> 4 </answer>\n", THINK_OK},
        {"<think>x</think><answer></answer>", THINK_EMPTY_ANSWER},
        {"<think>x</think>4", THINK_NO_ANSWER_TAG},
        {"<think>x</think>so <answer>4</answer>", THINK_NO_ANSWER_TAG},
        {"<think>x</think><answer>4</answer> more", THINK_NO_ANSWER_TAG},
        {"<think>x</think><answer>4</answer><answer>5</answer>",
         THINK_NO_ANSWER_TAG},
        {"<think>x</think></answer>4<answer>", THINK_NO_ANSWER_TAG},
    };
    static const struct tcase open[] = {
        {"reasoning...</think>42", THINK_OK},
        {"</think>42", THINK_OK},
        {"<think>reasoning</think>42", THINK_MULTIPLE},
        {"reasoning, never closed", THINK_UNCLOSED},
        {"reasoning</think>", THINK_EMPTY_ANSWER},
    };
    static const struct tcase other[] = {
        {"<reasoning>x</reasoning>42", THINK_OK},
        {"<think>x</think>42", THINK_NO_THINK},
    };
    struct think_opts o;
    struct think_split sp;
    const char *text = "<think>ab</think>  42 ";

    think_opts_init(&o);
    run(&o, plain, ARRAY_LEN(plain));
    CHECK(think_check(&o, text, &sp) == THINK_OK);
    CHECK(sp.think_s == 7 && sp.think_e == 9);
    CHECK(sp.answer_s == 19 && sp.answer_e == 21);
    o.boxed = 1;
    run(&o, boxed, ARRAY_LEN(boxed));
    think_opts_init(&o);
    o.answer_tag = "answer";
    run(&o, tagged, ARRAY_LEN(tagged));
    think_opts_init(&o);
    o.open_in_prompt = 1;
    run(&o, open, ARRAY_LEN(open));
    think_opts_init(&o);
    o.tag = "reasoning";
    run(&o, other, ARRAY_LEN(other));
    CHECK(strcmp(think_reason_name(THINK_NOT_BOXED), "not_boxed") == 0);
    return check_done();
}
