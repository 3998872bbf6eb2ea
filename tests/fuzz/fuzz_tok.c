/*
 * fuzz_tok.c - encoding and decoding arbitrary bytes, with the built-in
 * tokenizer and with tests/cli/tok/tiny/tokenizer.json (found under $TOP,
 * else the current directory).  Every id must be in range, decoding the
 * ids of text without special-token strings (TOK_PLAIN) must give the text
 * back when it is valid UTF-8, tok_decode must always give valid UTF-8,
 * and the streaming decoder must agree with tok_decode.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
valid_utf8(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i,
                                              (utf8proc_ssize_t)(n - i), &c);
        if (k <= 0)
            return 0;
        i += (size_t)k;
    }
    return 1;
}

static void
check(struct tok *t, const char *text, size_t len)
{
    static const unsigned eflags[] = { 0, TOK_PLAIN, TOK_ADD_SPECIAL };
    struct tok_ids ids = TOK_IDS_INIT;
    struct sbuf a = SBUF_INIT, b = SBUF_INIT;
    struct tok_stream ts;
    size_t i, k;
    int V = tok_vocab_size(t);

    for (k = 0; k < sizeof(eflags) / sizeof(eflags[0]); k++) {
        ids.n = 0;
        tok_encode(t, text, len, eflags[k], &ids);
        for (i = 0; i < ids.n; i++)
            if (ids.v[i] < 0 || ids.v[i] >= V)
                abort();
        sbuf_reset(&a);
        tok_decode(t, ids.v, ids.n, 0, &a);
        if (!valid_utf8(a.buf, a.len))
            abort();
        if (eflags[k] == TOK_PLAIN && valid_utf8(text, len)
            && (a.len != len || memcmp(a.buf, text, len) != 0))
            abort();
        sbuf_reset(&b);
        tok_stream_init(&ts, t, 0);
        for (i = 0; i < ids.n; i++)
            tok_stream_push(&ts, ids.v[i], &b);
        tok_stream_finish(&ts, &b);
        tok_stream_release(&ts);
        if (a.len != b.len || memcmp(a.buf, b.buf, a.len) != 0)
            abort();
        sbuf_reset(&a);
        tok_decode(t, ids.v, ids.n, TOK_SKIP_SPECIAL, &a);
        if (!valid_utf8(a.buf, a.len))
            abort();
    }
    /* The input's bytes read as ids (out-of-range ones are skipped). */
    ids.n = 0;
    for (i = 0; i + 2 <= len; i += 2)
        tok_ids_push(&ids, (int)((unsigned char)text[i] | (unsigned char)text[i + 1] << 8) - 1000);
    sbuf_reset(&a);
    tok_decode(t, ids.v, ids.n, 0, &a);
    if (!valid_utf8(a.buf, a.len))
        abort();
    sbuf_reset(&a);
    utf8_lossy(&a, text, len);
    if (!valid_utf8(a.buf, a.len))
        abort();
    tok_ids_release(&ids);
    sbuf_release(&a);
    sbuf_release(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct tok *builtin, *tiny;
    char *text = malloc(size + 1);

    if (!builtin) {
        const char *top = getenv("TOP");
        struct sbuf err = SBUF_INIT;
        char path[4096];

        snprintf(path, sizeof(path), "%s/tests/cli/tok/tiny/tokenizer.json", top ? top : ".");
        builtin = tok_builtin();
        tiny = tok_load(path, &err);
        if (!tiny) {
            fprintf(stderr, "fuzz_tok: %s\n", sbuf_str(&err));
            abort();
        }
        sbuf_release(&err);
    }
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = 0;
    check(builtin, text, size);
    check(tiny, text, size);
    free(text);
    return 0;
}
