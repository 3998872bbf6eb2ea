/*
 * fuzz_config.c - the checkpoint config loader (config.json): any file
 * either gives a config or is refused with a message naming why; a config
 * written back by ckpt_config_to_json must read back the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("config.json", 0);
    char path[64];
    struct model_config c, d;
    struct sbuf err = SBUF_INIT;
    json_t *js = NULL;

    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    memset(&c, 0, sizeof(c));
    if (ckpt_read_config(path, &c, &js, &err) == 0) {
        const char *why = NULL;
        json_t *back;

        (void)model_config_check(&c, &why);
        back = ckpt_config_to_json(&c, js);
        memset(&d, 0, sizeof(d));
        sbuf_reset(&err);
        if (ckpt_config_from_json(back, &d, &err) != 0)
            abort();
        if (c.arch != d.arch || c.dim != d.dim || c.hidden_dim != d.hidden_dim
            || c.n_layers != d.n_layers || c.n_heads != d.n_heads
            || c.n_kv_heads != d.n_kv_heads || c.head_dim != d.head_dim
            || c.vocab_size != d.vocab_size || c.max_pos != d.max_pos
            || c.tie_embeddings != d.tie_embeddings || c.attn_bias != d.attn_bias
            || strcmp(c.model_type, d.model_type) != 0)
            abort();
        json_decref(back);
    } else if (!*sbuf_str(&err)) {
        abort();   /* a refusal always says why */
    }
    json_decref(js);
    sbuf_release(&err);
    close(fd);
    return 0;
}
