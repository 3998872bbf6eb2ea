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

/*
 * Position of each dtype in the reference implementation's Dtype enum
 * (safetensors/src/tensor.rs: BOOL, F4, F6_*, U8, I8, F8_E5M2, F8_E4M3,
 * ..., I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64): files are
 * laid out by descending rank, so the widest dtypes come first and every
 * tensor stays aligned to its element size.
 */
static const int dtype_rank[] = {
    [ST_BOOL] = 0, [ST_U8] = 4, [ST_I8] = 5, [ST_F8_E5M2] = 6, [ST_F8_E4M3] = 7,
    [ST_I16] = 11, [ST_F16] = 13, [ST_BF16] = 14, [ST_I32] = 15, [ST_F32] = 17,
    [ST_F64] = 19, [ST_I64] = 20,
};

static size_t
out_numel(const struct st_out *t)
{
    size_t numel = 1;
    int k;

    for (k = 0; k < t->ndim; k++)
        numel *= (size_t)t->shape[k];
    return numel;
}

static int
cmp_out(const void *a, const void *b)
{
    const struct st_out *x = *(const struct st_out *const *)a;
    const struct st_out *y = *(const struct st_out *const *)b;

    if (dtype_rank[x->dtype] != dtype_rank[y->dtype])
        return dtype_rank[y->dtype] - dtype_rank[x->dtype];
    return strcmp(x->name, y->name);
}

int
safetensors_write(const char *path, const struct st_out *t, size_t n, const json_t *metadata,
                  struct sbuf *err)
{
    json_t *hdr = json_object();
    const struct st_out **ord = xcalloc(n + 1, sizeof(*ord));
    char *js = NULL;
    size_t i, off = 0, hlen, pad;
    unsigned char len8[8];
    FILE *f = NULL;
    int fd = -1, rc = -1;

    for (i = 0; i < n; i++)
        ord[i] = &t[i];
    qsort(ord, n, sizeof(*ord), cmp_out);
    if (metadata)
        json_object_set_new(hdr, "__metadata__", json_deep_copy(metadata));
    for (i = 0; i < n; i++) {
        json_t *sh = json_array();
        size_t nb = out_numel(ord[i]) * st_dtype_size(ord[i]->dtype);
        int k;
        if (i && strcmp(ord[i]->name, ord[i - 1]->name) == 0) {
            sbuf_addf(err, "%s: tensor '%s' given twice", path, ord[i]->name);
            json_decref(sh);
            goto out;
        }
        for (k = 0; k < ord[i]->ndim; k++)
            json_array_append_new(sh, json_integer(ord[i]->shape[k]));
        json_object_set_new(hdr, ord[i]->name,
                            json_pack("{s:s, s:o, s:[I,I]}", "dtype",
                                      st_dtype_name(ord[i]->dtype), "shape", sh,
                                      "data_offsets", (json_int_t)off,
                                      (json_int_t)(off + nb)));
        off += nb;
    }
    js = json_dumps(hdr, JSON_COMPACT | JSON_ENSURE_ASCII);
    hlen = strlen(js);
    pad = (8 - hlen % 8) % 8;
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
        size_t numel = out_numel(ord[i]);
        if (numel && fwrite(ord[i]->data, st_dtype_size(ord[i]->dtype), numel, f) != numel)
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
    free(ord);
    json_decref(hdr);
    return rc;
}

/* ---- sharded checkpoints: the index ---- */

void
st_index_release(struct st_index *ix)
{
    json_decref(ix->js);
    free(ix->shards);
    free(ix->names);
    free(ix->shard_of);
    memset(ix, 0, sizeof(*ix));
}

/* A shard name an index may give: a file in the same directory. */
static int
shard_name_ok(const char *s)
{
    size_t n = strlen(s), sfx = strlen(".safetensors");

    return n > sfx && n < 256 && s[0] != '.' && !strchr(s, '/') &&
           strcmp(s + n - sfx, ".safetensors") == 0;
}

int
st_index_parse(const char *text, size_t len, const char *what, struct st_index *ix,
               struct sbuf *err)
{
    json_error_t je;
    json_t *wm, *md, *v;
    const char *key;
    size_t k;

    memset(ix, 0, sizeof(*ix));
    ix->js = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!ix->js) {
        sbuf_addf(err, "%s:%d: %s", what, je.line, je.text);
        return -1;
    }
    wm = json_object_get(ix->js, "weight_map");
    md = json_object_get(ix->js, "metadata");
    if (!json_is_object(ix->js) || !json_is_object(wm) || json_object_size(wm) == 0) {
        sbuf_addf(err, "%s: field 'weight_map': missing or not a non-empty object", what);
        goto fail;
    }
    if (md && !json_is_object(md) && !json_is_null(md)) {
        sbuf_addf(err, "%s: field 'metadata': not an object", what);
        goto fail;
    }
    v = json_object_get(md, "total_size");
    if (v && !(json_is_number(v) && json_number_value(v) >= 0)) {
        sbuf_addf(err, "%s: field 'metadata.total_size': not a byte count", what);
        goto fail;
    }
    ix->names = xcalloc(json_object_size(wm), sizeof(*ix->names));
    ix->shard_of = xcalloc(json_object_size(wm), sizeof(*ix->shard_of));
    ix->shards = xcalloc(json_object_size(wm), sizeof(*ix->shards));
    json_object_foreach(wm, key, v) {
        const char *f = json_string_value(v);
        if (!f || !shard_name_ok(f)) {
            sbuf_addf(err, "%s: field 'weight_map.%s': not a file name ending in "
                      "\".safetensors\" in the same directory", what, key);
            goto fail;
        }
        /* shards are few: a linear look-up over the distinct names */
        for (k = 0; k < ix->nshards; k++)
            if (strcmp(ix->shards[k], f) == 0)
                break;
        if (k == ix->nshards)
            ix->shards[ix->nshards++] = f;
        ix->names[ix->n] = key;
        ix->shard_of[ix->n++] = k;
    }
    return 0;
fail:
    st_index_release(ix);
    return -1;
}

/* ---- sharded checkpoints: reading a directory ---- */

static int
cmp_tensor_name(const void *a, const void *b)
{
    return strcmp((*(const struct st_tensor *const *)a)->name,
                  (*(const struct st_tensor *const *)b)->name);
}

static char *
join2(const char *dir, const char *name)
{
    struct sbuf sb = SBUF_INIT;

    sbuf_addf(&sb, "%s/%s", dir, name);
    return sb.buf;
}

/* Reads a whole (small) file into a new NUL-terminated buffer. */
static char *
slurp(const char *path, size_t *len, struct sbuf *err)
{
    FILE *f = fopen(path, "rb");
    struct sbuf sb = SBUF_INIT;
    char buf[1 << 16];
    size_t n;

    if (!f) {
        sbuf_addf(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        sbuf_add(&sb, buf, n);
        if (sb.len > (size_t)64 << 20) {
            sbuf_addf(err, "%s: over 64 MiB: not an index", path);
            goto fail;
        }
    }
    if (ferror(f)) {
        sbuf_addf(err, "%s: read: %s", path, strerror(errno));
        goto fail;
    }
    fclose(f);
    *len = sb.len;
    sbuf_addc(&sb, '\0');
    return sb.buf;
fail:
    fclose(f);
    sbuf_release(&sb);
    return NULL;
}

/* Position of name in the sorted table, or -1. */
static long
sorted_find(const struct st_tensor *const *tab, size_t n, const char *name)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(tab[mid]->name, name);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

void
st_set_close(struct st_set *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < s->nfiles; i++)
        safetensors_close(s->files[i]);
    free(s->files);
    free(s->sorted);
    st_index_release(&s->ix);
    free(s->path);
    free(s);
}

static int
cmp_map_entry(const void *a, const void *b, void *names)
{
    const char **nm = names;

    return strcmp(nm[*(const size_t *)a], nm[*(const size_t *)b]);
}

/* Checks every file's tensors against the weight_map and back. */
static int
set_check_index(struct st_set *s, struct sbuf *err)
{
    size_t *by = xcalloc(s->ix.n + 1, sizeof(*by)), i, k, found = 0;
    int rc = -1;

    for (i = 0; i < s->ix.n; i++)
        by[i] = i;
    qsort_r(by, s->ix.n, sizeof(*by), cmp_map_entry, s->ix.names);
    for (k = 0; k < s->nfiles; k++)
        for (i = 0; i < s->files[k]->n; i++) {
            const struct st_tensor *t = &s->files[k]->t[i];
            size_t lo = 0, hi = s->ix.n;
            long j = -1;
            while (lo < hi && j < 0) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(s->ix.names[by[mid]], t->name);
                if (c == 0)
                    j = (long)by[mid];
                else if (c < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (j < 0 || s->ix.shard_of[j] != k) {
                sbuf_addf(err, "%s: tensor '%s' of %s is not in the weight_map under that "
                          "file", s->path, t->name, s->ix.shards[k]);
                goto out;
            }
            found++;
        }
    if (found != s->ix.n)
        for (i = 0; i < s->ix.n; i++)
            if (!safetensors_find(s->files[s->ix.shard_of[i]], s->ix.names[i])) {
                sbuf_addf(err, "%s: tensor '%s' is not in %s", s->path, s->ix.names[i],
                          s->ix.shards[s->ix.shard_of[i]]);
                goto out;
            }
    rc = 0;
out:
    free(by);
    return rc;
}

struct st_set *
st_set_open(const char *dir, const char *stem, struct sbuf *err)
{
    struct st_set *s = xcalloc(1, sizeof(*s));
    struct sbuf nm = SBUF_INIT;
    char *single, *text = NULL;
    size_t i, k, len = 0;

    sbuf_addf(&nm, "%s.safetensors", stem);
    single = join2(dir, sbuf_str(&nm));
    sbuf_reset(&nm);
    sbuf_addf(&nm, "%s.safetensors.index.json", stem);
    s->path = join2(dir, sbuf_str(&nm));
    if (access(single, F_OK) == 0 || access(s->path, F_OK) != 0) {
        free(s->path);
        s->path = single;
        single = NULL;
        s->files = xcalloc(1, sizeof(*s->files));
        if (!(s->files[0] = safetensors_open(s->path, err)))
            goto fail;
        s->nfiles = 1;
    } else {
        text = slurp(s->path, &len, err);
        if (!text || st_index_parse(text, len, s->path, &s->ix, err))
            goto fail;
        s->files = xcalloc(s->ix.nshards, sizeof(*s->files));
        for (k = 0; k < s->ix.nshards; k++) {
            char *p = join2(dir, s->ix.shards[k]);
            s->files[k] = safetensors_open(p, err);
            free(p);
            if (!s->files[k])
                goto fail;
            s->nfiles++;
        }
        if (set_check_index(s, err))
            goto fail;
    }
    for (k = 0; k < s->nfiles; k++)
        s->ntensors += s->files[k]->n;
    s->sorted = xcalloc(s->ntensors + 1, sizeof(*s->sorted));
    s->ntensors = 0;
    for (k = 0; k < s->nfiles; k++)
        for (i = 0; i < s->files[k]->n; i++)
            s->sorted[s->ntensors++] = &s->files[k]->t[i];
    qsort(s->sorted, s->ntensors, sizeof(*s->sorted), cmp_tensor_name);
    free(text);
    free(single);
    sbuf_release(&nm);
    return s;
fail:
    free(text);
    free(single);
    sbuf_release(&nm);
    st_set_close(s);
    return NULL;
}

const struct st_tensor *
st_set_find(const struct st_set *s, const char *name)
{
    long j = sorted_find(s->sorted, s->ntensors, name);

    return j < 0 ? NULL : s->sorted[j];
}

/* ---- sharded checkpoints: writing ---- */

int
st_write_text(const char *path, const char *text, struct sbuf *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), rc = -1;
    size_t n = strlen(text);

    if (fd < 0) {
        sbuf_addf(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (write(fd, text, n) != (ssize_t)n || fsync(fd)) {
        sbuf_addf(err, "%s: write: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (close(fd) && rc == 0) {
        sbuf_addf(err, "%s: close: %s", path, strerror(errno));
        rc = -1;
    }
    return rc;
}

int
st_write_sharded(const char *dir, const char *stem, const struct st_out *t, size_t n,
                 const json_t *metadata, uint64_t max_shard, const json_t *index_meta,
                 struct sbuf *err)
{
    size_t *group = xcalloc(n + 1, sizeof(*group)), *order = xcalloc(n + 2, sizeof(*order));
    size_t *shard_of = xcalloc(n + 2, sizeof(*shard_of));
    struct st_out *part = xcalloc(n + 1, sizeof(*part));
    size_t i, k, ngroups = 1, nshards = 0, cur = 0, curcount = 0, np;
    uint64_t cursize = 0, total = 0;
    struct sbuf nm = SBUF_INIT;
    json_t *ix = NULL, *wm, *md;
    char *p = NULL, *js = NULL;
    int rc = -1;

    /*
     * huggingface_hub's split_state_dict_into_shards_factory, in order: a
     * tensor over the limit is a shard by itself, listed at once (before
     * the shard being filled); one that would tip the current shard over
     * closes it.  Shards are numbered in the order they are listed.
     */
    for (i = 0; i < n; i++) {
        uint64_t sz = (uint64_t)out_numel(&t[i]) * st_dtype_size(t[i].dtype);
        total += sz;
        if (sz > max_shard) {
            group[i] = ngroups++;
            order[nshards++] = group[i];
            continue;
        }
        if (cursize + sz > max_shard) {
            order[nshards++] = cur;
            cur = ngroups++;
            cursize = 0;
            curcount = 0;
        }
        group[i] = cur;
        cursize += sz;
        curcount++;
    }
    if (curcount || nshards == 0)
        order[nshards++] = cur;
    for (k = 0; k < nshards; k++)
        shard_of[order[k]] = k;
    if (nshards == 1) {
        sbuf_addf(&nm, "%s/%s.safetensors", dir, stem);
        rc = safetensors_write(sbuf_str(&nm), t, n, metadata, err);
        goto out;
    }
    ix = json_object();
    md = index_meta ? json_deep_copy(index_meta) : json_object();
    json_object_set_new(md, "total_size", json_integer((json_int_t)total));
    json_object_set_new(ix, "metadata", md);
    wm = json_object();
    json_object_set_new(ix, "weight_map", wm);
    for (k = 0; k < nshards; k++) {
        char file[300];
        snprintf(file, sizeof(file), "%s-%05zu-of-%05zu.safetensors", stem, k + 1, nshards);
        for (i = np = 0; i < n; i++)
            if (shard_of[group[i]] == k) {
                part[np++] = t[i];
                json_object_set_new(wm, t[i].name, json_string(file));
            }
        sbuf_reset(&nm);
        sbuf_addf(&nm, "%s/%s", dir, file);
        if (safetensors_write(sbuf_str(&nm), part, np, metadata, err))
            goto out;
    }
    js = json_dumps(ix, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    sbuf_reset(&nm);
    sbuf_addf(&nm, "%s\n", js);
    p = xstrdup(sbuf_str(&nm));
    sbuf_reset(&nm);
    sbuf_addf(&nm, "%s/%s.safetensors.index.json", dir, stem);
    rc = st_write_text(sbuf_str(&nm), p, err);
out:
    free(p);
    free(js);
    json_decref(ix);
    sbuf_release(&nm);
    free(part);
    free(shard_of);
    free(order);
    free(group);
    return rc;
}
