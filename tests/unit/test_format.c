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

/* Language consistency, hand-counted: words are letter runs of one script, each Han character one. */
static void
test_language(void)
{
    static const char mixed[] = "Deux plus trois: \xe4\xba\x94 (five), \xd0\xbf\xd1\x8f\xd1\x82\xd1\x8c!";
    size_t nw;
    enum format_script sc;

    /* Deux plus trois five = 4 latin, one Han, one Cyrillic word: 6 */
    CHECK_NEAR(format_script_share(mixed, strlen(mixed), FORMAT_SCRIPT_LATIN, &nw), 4.0 / 6, 1e-12);
    CHECK(nw == 6);
    CHECK_NEAR(format_script_share(mixed, strlen(mixed), FORMAT_SCRIPT_HAN, &nw), 1.0 / 6, 1e-12);
    CHECK_NEAR(format_script_share(mixed, strlen(mixed), FORMAT_SCRIPT_CYRILLIC, &nw), 1.0 / 6,
               1e-12);
    /* digits, punctuation and spaces are no words */
    CHECK(format_script_share("12 + 7 = 19.", 12, FORMAT_SCRIPT_LATIN, &nw) == 0.0 && nw == 0);
    CHECK(format_main_script("12 + 7", 6) == FORMAT_SCRIPT_NONE);
    /* accents stay inside a Latin word: "na\u00efve caf\u00e9" is 2 words */
    CHECK_NEAR(format_script_share("na\xc3\xafve caf\xc3\xa9", 11, FORMAT_SCRIPT_LATIN, &nw), 1.0,
               1e-12);
    CHECK(nw == 2);
    /* two Han characters and a kana one: 3 words; the main script is Han */
    sc = format_main_script("\xe4\xba\x8c\xe5\x8a\xa0\xe3\x81\xae", 9);
    CHECK(sc == FORMAT_SCRIPT_HAN);
    CHECK(format_script_parse("hangul", &sc) == 0 && sc == FORMAT_SCRIPT_HANGUL);
    CHECK(format_script_parse("klingon", &sc) == -1);
    /* a truncated UTF-8 sequence is no word and no crash */
    CHECK(format_script_share("ab\xe4\xba", 4, FORMAT_SCRIPT_LATIN, &nw) == 1.0 && nw == 1);
}

int
main(void)
{
    test_language();
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
    /* min_think 3: words are runs of non-white-space, the tags not counted */
    static const struct tcase minthink[] = {
        {"<think>\n3 + 8\n= 11\n</think>\n\\boxed{11}", FORMAT_OK},
        {"<think>\nAdding up.\n</think>\n\\boxed{11}", FORMAT_SHORT_THINK},
        {"<think>\n</think>\n\\boxed{11}", FORMAT_SHORT_THINK},
        {"<think>a b</think> c d e", FORMAT_SHORT_THINK},
        {"<think>a\tb\nc</think>", FORMAT_EMPTY_ANSWER},
        {"<think>a b c d", FORMAT_UNCLOSED},
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
    o.min_think = 3;
    run(&o, minthink, ARRAY_LEN(minthink));
    o.open_in_prompt = 1;
    CHECK(format_check(&o, "one two</think>x", NULL) == FORMAT_SHORT_THINK);
    CHECK(format_check(&o, "one two three</think>x", NULL) == FORMAT_OK);
    format_opts_init(&o);
    o.tag = "reasoning";
    run(&o, other, ARRAY_LEN(other));
    CHECK(strcmp(format_reason_name(FORMAT_NOT_BOXED), "not_boxed") == 0);
    CHECK(strcmp(format_reason_name(FORMAT_SHORT_THINK), "short_think") == 0);
    return check_done();
}
