/*
 * fuzz_tokjson.c - the tokenizer.json loader: any input either loads or is
 * refused with a message, never a crash; a loaded tokenizer encodes and
 * decodes a fixed text with every id in range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tok.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char text[] = "Hello world <|im_end|> 12345  \n\n\xc3\xa9\xe2\x82\xac\xff x";
    int fd = memfd_create("tokenizer.json", 0);
    struct sbuf err = SBUF_INIT;
    char path[64];
    struct tok *t;
    size_t i;

    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    t = tok_load(path, &err);
    if (!t && !err.len)
        abort();   /* a refusal always says why */
    sbuf_release(&err);
    if (t) {
        struct tok_ids ids = TOK_IDS_INIT;
        struct sbuf sb = SBUF_INIT;
        int V = tok_vocab_size(t);

        tok_encode(t, text, sizeof(text) - 1, TOK_ADD_SPECIAL, &ids);
        tok_encode(t, text, sizeof(text) - 1, TOK_PLAIN, &ids);
        for (i = 0; i < ids.n; i++)
            if (ids.v[i] < 0 || ids.v[i] >= V)
                abort();
        tok_decode(t, ids.v, ids.n, 0, &sb);
        tok_decode(t, ids.v, ids.n, TOK_SKIP_SPECIAL, &sb);
        for (i = 0; i < 40 && (int)i < V; i++) {
            size_t n;
            (void)tok_piece(t, (int)i, &n);
            (void)tok_name(t, (int)i);
        }
        (void)tok_bos(t);
        (void)tok_eos(t);
        (void)tok_token_id(t, "<|im_end|>");
        sbuf_release(&sb);
        tok_ids_release(&ids);
        tok_free(t);
    }
    close(fd);
    return 0;
}
