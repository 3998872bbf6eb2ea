/*
 * fuzz_safetensors.c - the safetensors reader: any input either opens
 * (every tensor then converts to F32 or is refused with a message) or is
 * rejected with a message; never a crash or an out-of-bounds read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz", 0);
    char path[64];
    struct sbuf err = SBUF_INIT;
    struct safetensors *st;
    size_t i;

    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    st = safetensors_open(path, &err);
    if (!st && !*sbuf_str(&err))
        abort();   /* a rejection always says why */
    for (i = 0; st && i < st->n; i++) {
        const struct st_tensor *t = &st->t[i];
        float *buf = malloc(t->numel ? t->numel * sizeof(float) : 1);
        sbuf_reset(&err);
        if (st_tensor_to_f32(t, buf, t->numel, &err) && !*sbuf_str(&err))
            abort();
        if (safetensors_find(st, t->name) == NULL)
            abort();
        free(buf);
    }
    safetensors_close(st);
    sbuf_release(&err);
    close(fd);
    return 0;
}
