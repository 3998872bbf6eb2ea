/*
 * fuzz_records.c - the record reader: the input is a whole file (plain or
 * zstd) read line by line by lib/rec; each line's parse is checked against
 * jansson's json_loadb (they must agree on accept/reject and on the value),
 * and each accepted record must survive json_emit and a second parse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "json.h"
#include "rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz", 0);
    char path[64];
    struct rin *in;
    const char *line;
    size_t len;
    struct sbuf err = SBUF_INIT, out = SBUF_INIT;

    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    lseek(fd, 0, SEEK_SET);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    /* A truncated zstd input ends the process (by design): only replay plain ones. */
    if (size >= 4 && memcmp(data, "\x28\xb5\x2f\xfd", 4) == 0) {
        close(fd);
        return 0;
    }
    in = rin_open(path);
    while ((line = rin_line(in, &len)) != NULL) {
        json_t *a;
        json_t *b;

        sbuf_reset(&err);
        a = json_parse(line, len, &err);
        b = json_loadb(line, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
        if (a && b && !json_equal(a, b))
            abort();
        /* jansson accepts NUL in keys, which C strings cannot carry. */
        if (a && !b)
            abort();
        if (a) {
            json_t *c;
            sbuf_reset(&out);
            json_emit(&out, a);
            c = json_parse(out.buf, out.len, &err);
            if (!c || !json_equal(a, c))
                abort();
            json_decref(c);
        }
        json_decref(a);
        json_decref(b);
    }
    rin_close(in);
    close(fd);
    sbuf_release(&err);
    sbuf_release(&out);
    return 0;
}
