/*
 * fuzz_code.c - what score-code reads from a record: the code block found
 * in a completion (lib/codeblock), the "tests" array (code_tests_parse),
 * the whole task (code_task_parse: limits, checker, subtasks) and the
 * output comparisons (code_output_match, code_output_match_float).  The input is the
 * completion; it is also parsed as JSON and, when that gives an array or
 * an object with "tests", handed to the test parser.  A block must lie
 * inside the text; parsed tests must point into the JSON's strings.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codeblock.h"
#include "codeeval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const langs[] = { NULL, "python", "c", "cpp", "rust" };
    const char *text = (const char *)data;
    json_t *js, *arr;
    size_t i, off, len, half = size / 2;

    for (i = 0; i < sizeof(langs) / sizeof(langs[0]); i++) {
        off = len = (size_t)-1;
        if (codeblock_find(text, size, langs[i], &off, &len)
            && (off > size || len > size - off))
            abort();
    }
    (void)codeblock_lang_matches("python", text, size < 16 ? size : 16);
    if (code_output_match(text, half, text + half, size - half)
        != code_output_match(text + half, size - half, text, half))
        abort();
    if (!code_output_match(text, size, text, size))
        abort();
    if (!code_output_match_float(text, size, text, size, 1e-6))
        abort();
    (void)code_output_match_float(text, half, text + half, size - half, 1e-6);

    js = json_loadb(text, size, JSON_DECODE_ANY, NULL);
    arr = json_is_object(js) ? json_object_get(js, "tests") : js;
    if (arr) {
        struct code_test *tests = NULL;
        size_t n = 0;
        struct sbuf why = SBUF_INIT;

        if (code_tests_parse(arr, 1, &tests, &n, &why) == 0) {
            if (n == 0 || n != json_array_size(arr))
                abort();
            for (i = 0; i < n; i++)
                if (!tests[i].assert_src && (!tests[i].input || !tests[i].output))
                    abort();
            free(tests);
        } else if (!why.len) {
            abort();
        }
        if (json_is_object(js)) {
            struct code_opts o;
            struct code_task task;
            const char *field = NULL;

            code_opts_default(&o);
            o.subtasks = 1;
            sbuf_reset(&why);
            if (code_task_parse(js, &o, &task, &field, &why) == 0) {
                for (i = 0; i < task.ntests; i++)
                    if (task.subtasks ? (task.tests[i].subtask < 0
                                         || (size_t)task.tests[i].subtask >= task.nsubtasks)
                                      : task.tests[i].subtask != -1)
                        abort();
                code_task_release(&task);
            } else if (!why.len || !field) {
                abort();
            }
        }
        (void)code_lang_parse(json_string_value(json_object_get(js, "language")) ?
                              json_string_value(json_object_get(js, "language")) : "", &(enum code_lang){0});
        sbuf_release(&why);
    }
    json_decref(js);
    return 0;
}
