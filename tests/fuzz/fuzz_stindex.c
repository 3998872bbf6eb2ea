/*
 * fuzz_stindex.c - the model.safetensors.index.json parser: any input
 * either parses (every entry then names one of the listed shards, each a
 * plain file name) or is rejected with a message; never a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sbuf err = SBUF_INIT;
    struct st_index ix;
    size_t i;

    if (st_index_parse((const char *)data, size, "fuzz", &ix, &err)) {
        if (!*sbuf_str(&err) || ix.js)
            abort();   /* a rejection always says why, and leaves nothing */
    } else {
        if (ix.n == 0 || ix.nshards == 0 || ix.nshards > ix.n)
            abort();
        for (i = 0; i < ix.n; i++)
            if (ix.shard_of[i] >= ix.nshards || !ix.names[i])
                abort();
        for (i = 0; i < ix.nshards; i++)
            if (strchr(ix.shards[i], '/') || ix.shards[i][0] == '.')
                abort();
    }
    st_index_release(&ix);
    sbuf_release(&err);
    return 0;
}
