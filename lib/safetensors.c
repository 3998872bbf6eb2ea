/*
 * safetensors.c - the safetensors reader (mmap, jansson header, bounds
 * checks) and writer of safetensors.h.  Little-endian hosts only, as the
 * format itself.
 */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2},
    [ST_F64] = {"F64", 8}, [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4},
    [ST_I16] = {"I16", 2}, [ST_I8] = {"I8", 1}, [ST_U8] = {"U8", 1},
    [ST_BOOL] = {"BOOL", 1}, [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_F8_E5M2] = {"F8_E5M2", 1},
};

const char *
st_dtype_name(enum st_dtype d)
{
    return dtypes[d].name;
}

size_t
st_dtype_size(enum st_dtype d)
{
    return dtypes[d].size;
}

static int
dtype_parse(const char *s, enum st_dtype *d)
{
    size_t i;

    for (i = 0; i < ARRAY_LEN(dtypes); i++)
        if (strcmp(s, dtypes[i].name) == 0) {
            *d = (enum st_dtype)i;
            return 0;
        }
    return -1;
}

/* ---- scalar conversions ---- */

float
st_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;

    memcpy(&f, &u, 4);
    return f;
}

uint16_t
st_f32_to_bf16(float f)
{
    uint32_t u;

    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)   /* NaN: keep it quiet */
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);         /* round to nearest even */
    return (uint16_t)(u >> 16);
}

float
st_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    float f;

    if (e == 0x1f) {
        u = sign | 0x7f800000u | (m << 13);
    } else if (e == 0) {
        /* zero or subnormal: m * 2^-24 exactly */
        f = (float)m * 0x1p-24f;
        return sign ? -f : f;
    } else {
        u = sign | ((e + 112) << 23) | (m << 13);
    }
    memcpy(&f, &u, 4);
    return f;
}

uint16_t
st_f32_to_f16(float f)
{
    uint32_t u, sign, m;
    int e;

    memcpy(&u, &f, 4);
    sign = (u >> 16) & 0x8000;
    e = (int)((u >> 23) & 0xff) - 127 + 15;
    m = u & 0x7fffff;
    if (((u >> 23) & 0xff) == 0xff)
        return (uint16_t)(sign | 0x7c00 | (m ? 0x200 : 0));
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        /* subnormal half: shift in the implicit bit, round to nearest even */
        uint32_t mm, r, half;
        int sh;
        if (e < -10)
            return (uint16_t)sign;
        mm = m | 0x800000;
        sh = 14 - e;
        r = mm >> sh;
        half = 1u << (sh - 1);
        if ((mm & ((1u << sh) - 1)) > half || ((mm & ((1u << sh) - 1)) == half && (r & 1)))
            r++;
        return (uint16_t)(sign | r);
    }
    {
        uint32_t r = ((uint32_t)e << 10) | (m >> 13), rest = m & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (r & 1)))
            r++;   /* may carry into the exponent, up to inf: correct */
        return (uint16_t)(sign | r);
    }
}

/* ---- reading ---- */

static void
st_free_parts(struct safetensors *st)
{
    if (st->map && st->map != MAP_FAILED)
        munmap(st->map, st->size);
    json_decref(st->header);
    free(st->t);
    free(st);
}

struct safetensors *
safetensors_open(const char *path, struct sbuf *err)
{
    struct safetensors *st = xcalloc(1, sizeof(*st));
    struct stat sb;
    uint64_t hlen = 0;
    const unsigned char *p;
    json_error_t je;
    const char *key;
    json_t *val;
    size_t datasize, i = 0;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sbuf_addf(err, "%s: %s", path, strerror(errno));
        free(st);
        return NULL;
    }
    if (fstat(fd, &sb) < 0) {
        sbuf_addf(err, "%s: %s", path, strerror(errno));
        close(fd);
        free(st);
        return NULL;
    }
    st->size = (size_t)sb.st_size;
    if (st->size < 8) {
        sbuf_addf(err, "%s: truncated safetensors file (%zu bytes, no header)", path,
                  st->size);
        close(fd);
        free(st);
        return NULL;
    }
    st->map = mmap(NULL, st->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (st->map == MAP_FAILED) {
        sbuf_addf(err, "%s: mmap: %s", path, strerror(errno));
        free(st);
        return NULL;
    }
    p = st->map;
    for (i = 0; i < 8; i++)
        hlen |= (uint64_t)p[i] << (8 * i);
    if (hlen > st->size - 8 || hlen > (uint64_t)100 << 20 || hlen < 2) {
        sbuf_addf(err, "%s: truncated or corrupt safetensors file (header of %llu bytes "
                  "in a file of %zu)", path, (unsigned long long)hlen, st->size);
        goto fail;
    }
    st->header = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!st->header || !json_is_object(st->header)) {
        sbuf_addf(err, "%s: corrupt safetensors header: %s", path,
                  st->header ? "not a JSON object" : je.text);
        goto fail;
    }
    datasize = st->size - 8 - (size_t)hlen;
    st->t = xcalloc(json_object_size(st->header) + 1, sizeof(*st->t));
    json_object_foreach(st->header, key, val) {
        struct st_tensor *t = &st->t[st->n];
        json_t *dt = json_object_get(val, "dtype"), *sh = json_object_get(val, "shape");
        json_t *off = json_object_get(val, "data_offsets"), *d;
        json_int_t b, e;
        size_t k;

        if (strcmp(key, "__metadata__") == 0) {
            if (!json_is_object(val)) {
                sbuf_addf(err, "%s: corrupt header: '__metadata__' is not an object", path);
                goto fail;
            }
            st->metadata = val;
            continue;
        }
        if (!json_is_object(val) || !json_is_string(dt) || !json_is_array(sh) ||
            !json_is_array(off) || json_array_size(off) != 2 ||
            !json_is_integer(json_array_get(off, 0)) ||
            !json_is_integer(json_array_get(off, 1))) {
            sbuf_addf(err, "%s: corrupt header: tensor '%s' lacks dtype, shape or "
                      "data_offsets", path, key);
            goto fail;
        }
        if (dtype_parse(json_string_value(dt), &t->dtype)) {
            sbuf_addf(err, "%s: tensor '%s': unknown dtype '%s'", path, key,
                      json_string_value(dt));
            goto fail;
        }
        if (json_array_size(sh) > ST_MAX_DIMS) {
            sbuf_addf(err, "%s: tensor '%s': more than %d dimensions", path, key,
                      ST_MAX_DIMS);
            goto fail;
        }
        t->name = key;
        t->ndim = (int)json_array_size(sh);
        t->numel = 1;
        json_array_foreach(sh, k, d) {
            json_int_t v = json_is_integer(d) ? json_integer_value(d) : -1;
            if (v < 0 || (v > 0 && t->numel > ((size_t)1 << 50) / (size_t)v)) {
                sbuf_addf(err, "%s: tensor '%s': bad shape", path, key);
                goto fail;
            }
            t->shape[k] = v;
            t->numel *= (size_t)v;
        }
        t->nbytes = t->numel * st_dtype_size(t->dtype);
        b = json_integer_value(json_array_get(off, 0));
        e = json_integer_value(json_array_get(off, 1));
        if (b < 0 || e < b || (uint64_t)e > datasize) {
            sbuf_addf(err, "%s: truncated or corrupt: tensor '%s' at bytes [%lld, %lld) of "
                      "%zu bytes of data", path, key, (long long)b, (long long)e, datasize);
            goto fail;
        }
        if ((size_t)(e - b) != t->nbytes) {
            sbuf_addf(err, "%s: corrupt: tensor '%s' has %lld bytes, its shape needs %zu",
                      path, key, (long long)(e - b), t->nbytes);
            goto fail;
        }
        t->data = p + 8 + hlen + b;
        st->n++;
    }
    return st;
fail:
    st_free_parts(st);
    return NULL;
}

void
safetensors_close(struct safetensors *st)
{
    if (st)
        st_free_parts(st);
}

const struct st_tensor *
safetensors_find(const struct safetensors *st, const char *name)
{
    size_t i;

    for (i = 0; i < st->n; i++)
        if (strcmp(st->t[i].name, name) == 0)
            return &st->t[i];
    return NULL;
}

int
st_tensor_to_f32(const struct st_tensor *t, float *out, size_t n, struct sbuf *err)
{
    const unsigned char *p = t->data;
    size_t i;

    if (n != t->numel) {
        sbuf_addf(err, "tensor '%s' has %zu elements, expected %zu", t->name, t->numel, n);
        return -1;
    }
    switch (t->dtype) {
    case ST_F32:
        memcpy(out, p, n * 4);
        return 0;
    case ST_BF16:
    case ST_F16:
        for (i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
            out[i] = t->dtype == ST_BF16 ? st_bf16_to_f32(h) : st_f16_to_f32(h);
        }
        return 0;
    default:
        sbuf_addf(err, "tensor '%s': dtype %s does not convert to F32 (F32, BF16, F16 do)",
                  t->name, st_dtype_name(t->dtype));
        return -1;
    }
}

/* ---- writing ---- */

int
safetensors_write(const char *path, const struct st_out *t, size_t n, const json_t *metadata,
                  struct sbuf *err)
{
    json_t *hdr = json_object();
    char *js = NULL;
    size_t i, off = 0, hlen, pad;
    unsigned char len8[8];
    FILE *f = NULL;
    int fd = -1, rc = -1;

    if (metadata)
        json_object_set_new(hdr, "__metadata__", json_deep_copy(metadata));
    for (i = 0; i < n; i++) {
        json_t *sh = json_array();
        size_t numel = 1, nb;
        int k;
        for (k = 0; k < t[i].ndim; k++) {
            json_array_append_new(sh, json_integer(t[i].shape[k]));
            numel *= (size_t)t[i].shape[k];
        }
        nb = numel * st_dtype_size(t[i].dtype);
        json_object_set_new(hdr, t[i].name,
                            json_pack("{s:s, s:o, s:[I,I]}", "dtype",
                                      st_dtype_name(t[i].dtype), "shape", sh, "data_offsets",
                                      (json_int_t)off, (json_int_t)(off + nb)));
        off += nb;
    }
    js = json_dumps(hdr, JSON_COMPACT);
    hlen = strlen(js);
    pad = (8 - (8 + hlen) % 8) % 8;
    for (i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)(hlen + pad) >> (8 * i));
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || !(f = fdopen(fd, "wb"))) {
        sbuf_addf(err, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
        goto out;
    }
    fwrite(len8, 1, 8, f);
    fwrite(js, 1, hlen, f);
    for (i = 0; i < pad; i++)
        fputc(' ', f);
    for (i = 0; i < n; i++) {
        size_t numel = 1;
        int k;
        for (k = 0; k < t[i].ndim; k++)
            numel *= (size_t)t[i].shape[k];
        if (numel && fwrite(t[i].data, st_dtype_size(t[i].dtype), numel, f) != numel)
            break;
    }
    if (fflush(f) || ferror(f) || fsync(fileno(f))) {
        sbuf_addf(err, "%s: write: %s", path, strerror(errno));
        fclose(f);
        unlink(path);
        goto out;
    }
    if (fclose(f)) {
        sbuf_addf(err, "%s: close: %s", path, strerror(errno));
        unlink(path);
        goto out;
    }
    rc = 0;
out:
    free(js);
    json_decref(hdr);
    return rc;
}
