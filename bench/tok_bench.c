/*
 * tok_bench.c - encode throughput of lib/tok on one thread: loads a
 * tokenizer.json, reads a text file, cuts it into documents at blank-line
 * boundaries of about CHUNK bytes, and encodes them REPS times; prints
 * "MB/s tokens" of the best repetition.  Built and run by bench/tok.sh.
 *
 *     tok_bench TOKENIZER_JSON TEXT_FILE CHUNK REPS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok.h"

int
main(int argc, char **argv)
{
    struct tok *t;
    struct tok_ids ids = TOK_IDS_INIT;
    struct sbuf err = SBUF_INIT;
    char *text;
    size_t n, chunk, i, ntok = 0;
    long sz, reps, r;
    double best = 1e30;
    FILE *f;

    util_setprog(argv[0]);
    if (argc != 5)
        die("usage: tok_bench TOKENIZER_JSON TEXT_FILE CHUNK REPS");
    if ((t = tok_load(argv[1], &err)) == NULL)
        die("%s", sbuf_str(&err));
    if ((f = fopen(argv[2], "rb")) == NULL)
        die_errno("%s", argv[2]);
    fseek(f, 0, SEEK_END);
    sz = ftell(f);
    rewind(f);
    text = xmalloc((size_t)sz + 1);
    n = fread(text, 1, (size_t)sz, f);
    fclose(f);
    chunk = (size_t)atol(argv[3]);
    reps = atol(argv[4]);
    for (r = 0; r < reps; r++) {
        double t0 = now_sec(), dt;
        ntok = 0;
        for (i = 0; i < n;) {
            size_t end = i + chunk < n ? i + chunk : n;
            char *p;
            if (end < n && (p = memmem(text + end, n - end, "\n\n", 2)) != NULL)
                end = (size_t)(p - text) + 2;
            else if (end < n)
                end = n;
            ids.n = 0;
            tok_encode(t, text + i, end - i, 0, &ids);
            ntok += ids.n;
            i = end;
        }
        dt = now_sec() - t0;
        if (dt < best)
            best = dt;
    }
    printf("%.2f %zu\n", (double)n / best / 1e6, ntok);
    tok_ids_release(&ids);
    free(text);
    tok_free(t);
    return 0;
}
