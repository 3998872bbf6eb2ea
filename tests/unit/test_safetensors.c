/*
 * test_safetensors.c - the safetensors reader and writer: round trip,
 * BF16 and F16 decoding against hand-computed bit patterns, and corrupt or
 * truncated files rejected with a message; the file layout against the
 * bytes of the reference implementation's own test; the index parser and
 * sharded writing against huggingface_hub's documented split.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "safetensors.h"

static void
write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    fwrite(p, 1, n, f);
    fclose(f);
}

/* A file with the given header text and data bytes. */
static void
write_raw(const char *path, const char *hdr, const void *data, size_t n)
{
    size_t h = strlen(hdr);
    unsigned char *buf = malloc(8 + h + n + 1);

    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, hdr, h);
    if (n)
        memcpy(buf + 8 + h, data, n);
    write_bytes(path, buf, 8 + h + n);
    free(buf);
}

static int
open_fails(const char *path, const char *needle)
{
    struct sbuf err = SBUF_INIT;
    struct safetensors *st = safetensors_open(path, &err);
    int ok = !st && strstr(sbuf_str(&err), needle) != NULL;

    if (!ok)
        fprintf(stderr, "%s: got '%s', wanted '%s'\n", path, sbuf_str(&err), needle);
    safetensors_close(st);
    sbuf_release(&err);
    return ok;
}

static void
test_roundtrip(void)
{
    float a[6] = {1, -2, 3.5f, 0, 1e-30f, -7e20f}, b[3] = {0.25f, 8, -1};
    uint16_t hb[3], hh[3];
    struct st_out outs[4] = {
        {"a", ST_F32, 2, {2, 3}, a},
        {"b", ST_F32, 1, {3}, b},
        {"b.bf16", ST_BF16, 1, {3}, hb},
        {"b.f16", ST_F16, 1, {3}, hh},
    };
    json_t *meta = json_pack("{s:s}", "format", "pt");
    struct sbuf err = SBUF_INIT;
    struct safetensors *st;
    float got[6];

    for (int i = 0; i < 3; i++) {
        hb[i] = st_f32_to_bf16(b[i]);
        hh[i] = st_f32_to_f16(b[i]);
    }
    unlink("rt.safetensors");
    CHECK(safetensors_write("rt.safetensors", outs, 4, meta, &err) == 0);
    /* O_EXCL: never overwrites */
    CHECK(safetensors_write("rt.safetensors", outs, 4, meta, &err) == -1);
    sbuf_reset(&err);
    st = safetensors_open("rt.safetensors", &err);
    CHECK(st != NULL);
    if (!st)
        return;
    CHECK(st->n == 4);
    CHECK_STREQ(json_string_value(json_object_get(st->metadata, "format")), "pt");
    const struct st_tensor *t = safetensors_find(st, "a");
    CHECK(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && t->numel == 6);
    CHECK(t && st_tensor_to_f32(t, got, 6, &err) == 0 && memcmp(got, a, sizeof(a)) == 0);
    CHECK(t && st_tensor_to_f32(t, got, 5, &err) == -1);
    for (int k = 0; k < 2; k++) {
        t = safetensors_find(st, k ? "b.f16" : "b.bf16");
        CHECK(t && st_tensor_to_f32(t, got, 3, &err) == 0);
        CHECK(got[0] == 0.25f && got[1] == 8.0f && got[2] == -1.0f);
    }
    CHECK(safetensors_find(st, "nope") == NULL);
    safetensors_close(st);
    json_decref(meta);
    sbuf_release(&err);
}

/* bit patterns worked out by hand from the IEEE layouts */
static void
test_conversions(void)
{
    CHECK(st_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(st_bf16_to_f32(0xc020) == -2.5f);
    CHECK(st_bf16_to_f32(0x3dcd) == 0x1.9ap-4f);  /* bf16 nearest to 0.1 */
    CHECK(st_f32_to_bf16(0.1f) == 0x3dcd);
    CHECK(st_f16_to_f32(0x3c00) == 1.0f);
    CHECK(st_f16_to_f32(0xc100) == -2.5f);
    CHECK(st_f16_to_f32(0x2e66) == 0x1.998p-4f);  /* f16 nearest to 0.1 */
    CHECK(st_f16_to_f32(0x0001) == 0x1p-24f);     /* smallest subnormal */
    CHECK(st_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(isinf(st_f16_to_f32(0x7c00)));
    CHECK(isnan(st_f16_to_f32(0x7e00)));
    CHECK(st_f32_to_f16(0.1f) == 0x2e66);
    CHECK(st_f32_to_f16(65504.0f) == 0x7bff);
    CHECK(st_f32_to_f16(1e6f) == 0x7c00);
    CHECK(st_f32_to_f16(0x1p-24f) == 0x0001);
    CHECK(st_f32_to_f16(-0.0f) == 0x8000);
    /* every f16 survives a round trip through f32 */
    for (unsigned h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            continue;
        if (st_f32_to_f16(st_f16_to_f32((uint16_t)h)) != h) {
            CHECK_MSG(0, "f16 0x%04x does not round-trip", h);
            break;
        }
    }
}

static void
test_corrupt(void)
{
    float d[4] = {1, 2, 3, 4};
    unsigned char small[5] = {1, 2, 3, 4, 5};
    const char *ok = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";

    write_raw("good.st", ok, d, 16);
    {
        struct sbuf err = SBUF_INIT;
        struct safetensors *st = safetensors_open("good.st", &err);
        CHECK(st != NULL);
        safetensors_close(st);
        sbuf_release(&err);
    }
    CHECK(open_fails("missing.st", "No such file"));
    write_bytes("tiny.st", small, 5);
    CHECK(open_fails("tiny.st", "truncated"));
    write_raw("trunc.st", ok, d, 12);          /* data cut short */
    CHECK(open_fails("trunc.st", "truncated or corrupt: tensor 'x'"));
    {
        /* header length larger than the file */
        unsigned char b[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
        write_bytes("hlen.st", b, 10);
        CHECK(open_fails("hlen.st", "truncated or corrupt safetensors file"));
    }
    write_raw("json.st", "{\"x\":{\"dtype\":", d, 16);
    CHECK(open_fails("json.st", "corrupt safetensors header"));
    write_raw("arr.st", "[1,2,3]", NULL, 0);
    CHECK(open_fails("arr.st", "not a JSON object"));
    write_raw("dtype.st", "{\"x\":{\"dtype\":\"F33\",\"shape\":[4],\"data_offsets\":[0,16]}}",
              d, 16);
    CHECK(open_fails("dtype.st", "unknown dtype 'F33'"));
    write_raw("shape.st", "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}",
              d, 16);
    CHECK(open_fails("shape.st", "its shape needs 12"));
    write_raw("neg.st", "{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,16]}}",
              d, 16);
    CHECK(open_fails("neg.st", "bad shape"));
    write_raw("offs.st", "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,4]}}",
              d, 16);
    CHECK(open_fails("offs.st", "truncated or corrupt"));
    write_raw("keys.st", "{\"x\":{\"dtype\":\"F32\",\"shape\":[4]}}", d, 16);
    CHECK(open_fails("keys.st", "lacks dtype, shape or data_offsets"));
    write_raw("dup.st",
              "{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
              "\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
              d, 16);
    CHECK(open_fails("dup.st", "corrupt safetensors header"));
    /* an I64 tensor is listed but does not convert */
    write_raw("i64.st", "{\"x\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}",
              d, 16);
    {
        struct sbuf err = SBUF_INIT;
        struct safetensors *st = safetensors_open("i64.st", &err);
        float f[2];
        CHECK(st && st_tensor_to_f32(&st->t[0], f, 2, &err) == -1 &&
              strstr(sbuf_str(&err), "does not convert"));
        safetensors_close(st);
        sbuf_release(&err);
    }
}

static void
write_str(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text));
}

/* Reads a whole file into buf (at most cap bytes); returns its length. */
static size_t
read_all(const char *path, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap, f) : 0;

    if (f)
        fclose(f);
    return n;
}

/*
 * The layout of huggingface/safetensors' serialize(): its test_serialization
 * expects these exact bytes for {"attn.0": F32 [1,2,3] = 0..5}.
 */
static void
test_reference_layout(void)
{
    static const unsigned char want[] = {
        64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
        116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
        58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
        101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
        0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
    };
    float v[6] = {0, 1, 2, 3, 4, 5};
    uint16_t h[2] = {0x3f80, 0x4000};
    struct st_out one = {"attn.0", ST_F32, 3, {1, 2, 3}, v};
    /* given out of order: the file has F32 first, then BF16, each by name */
    struct st_out mixed[3] = {
        {"z.half", ST_BF16, 1, {2}, h},
        {"b", ST_F32, 1, {1}, v + 1},
        {"a", ST_F32, 1, {1}, v + 2},
    };
    static const char want_hdr[] =
        "{\"__metadata__\":{\"format\":\"pt\"},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
        "\"z.half\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[8,12]}}";
    json_t *meta = json_pack("{s:s}", "format", "pt");
    struct sbuf err = SBUF_INIT;
    unsigned char got[512];
    size_t n, hl = strlen(want_hdr), padded = (hl + 7) / 8 * 8;

    unlink("ref.safetensors");
    CHECK(safetensors_write("ref.safetensors", &one, 1, NULL, &err) == 0);
    n = read_all("ref.safetensors", got, sizeof(got));
    CHECK(n == sizeof(want) && memcmp(got, want, n) == 0);
    unlink("mixed.safetensors");
    CHECK(safetensors_write("mixed.safetensors", mixed, 3, meta, &err) == 0);
    n = read_all("mixed.safetensors", got, sizeof(got));
    CHECK(n == 8 + padded + 12);
    CHECK(got[0] == padded && got[1] == 0 && memcmp(got + 8, want_hdr, hl) == 0);
    for (size_t i = hl; i < padded; i++)
        CHECK(got[8 + i] == ' ');
    CHECK(memcmp(got + 8 + padded, v + 2, 4) == 0 && memcmp(got + 12 + padded, v + 1, 4) == 0 &&
          memcmp(got + 16 + padded, h, 4) == 0);
    /* a name twice is refused */
    mixed[1].name = "a";
    unlink("dup.safetensors");
    CHECK(safetensors_write("dup.safetensors", mixed, 3, meta, &err) == -1 &&
          strstr(sbuf_str(&err), "'a' given twice"));
    json_decref(meta);
    sbuf_release(&err);
}

static int
index_fails(const char *text, const char *needle)
{
    struct st_index ix;
    struct sbuf err = SBUF_INIT;
    int ok = st_index_parse(text, strlen(text), "ix.json", &ix, &err) == -1 &&
             strstr(sbuf_str(&err), needle) != NULL && ix.js == NULL;

    if (!ok)
        fprintf(stderr, "index '%s': got '%s', wanted '%s'\n", text, sbuf_str(&err), needle);
    sbuf_release(&err);
    return ok;
}

static void
test_index(void)
{
    const char *good = "{\"metadata\": {\"total_size\": 28}, \"weight_map\": "
                       "{\"b\": \"m-2.safetensors\", \"a\": \"m-1.safetensors\","
                       " \"c\": \"m-2.safetensors\"}}";
    struct st_index ix;
    struct sbuf err = SBUF_INIT;

    CHECK(st_index_parse(good, strlen(good), "ix.json", &ix, &err) == 0);
    CHECK(ix.n == 3 && ix.nshards == 2);
    CHECK(ix.n == 3 && strcmp(ix.names[0], "b") == 0 && strcmp(ix.shards[ix.shard_of[0]],
                                                               "m-2.safetensors") == 0);
    CHECK(ix.n == 3 && ix.shard_of[1] == 1 && ix.shard_of[2] == 0);
    st_index_release(&ix);
    CHECK(index_fails("{\"weight_map\": ", "ix.json:1:"));
    CHECK(index_fails("[]", "field 'weight_map'"));
    CHECK(index_fails("{\"weight_map\": {}}", "field 'weight_map'"));
    CHECK(index_fails("{\"weight_map\": {\"a\": 3}}", "field 'weight_map.a'"));
    CHECK(index_fails("{\"weight_map\": {\"a\": \"../x.safetensors\"}}", "weight_map.a"));
    CHECK(index_fails("{\"weight_map\": {\"a\": \"/etc/x.safetensors\"}}", "weight_map.a"));
    CHECK(index_fails("{\"weight_map\": {\"a\": \".safetensors\"}}", "weight_map.a"));
    CHECK(index_fails("{\"weight_map\": {\"a\": \"x.bin\"}}", "weight_map.a"));
    CHECK(index_fails("{\"weight_map\": {\"a\": \"x.safetensors\", \"a\": \"x.safetensors\"}}",
                      "duplicate"));
    CHECK(index_fails("{\"metadata\": 1, \"weight_map\": {\"a\": \"x.safetensors\"}}",
                      "field 'metadata'"));
    CHECK(index_fails("{\"metadata\": {\"total_size\": -1}, \"weight_map\": {\"a\": "
                      "\"x.safetensors\"}}", "total_size"));
    sbuf_release(&err);
}

/* The shard each tensor went to, read back from the index. */
static const char *
shard_of(const char *dir, const char *name)
{
    static char buf[128];
    char p[256];
    json_t *js;
    const char *s;

    snprintf(p, sizeof(p), "%s/model.safetensors.index.json", dir);
    js = json_load_file(p, 0, NULL);
    s = json_string_value(json_object_get(json_object_get(js, "weight_map"), name));
    snprintf(buf, sizeof(buf), "%s", s ? s : "(none)");
    json_decref(js);
    return buf;
}

static void
test_sharded(void)
{
    /*
     * huggingface_hub's docstring: tensors of [6, 6, 2, 6, 2, 2] under a
     * limit of 10 shard as [6], [6+2], [6+2+2].  Units of 4 bytes here.
     */
    static float buf[64];
    static const int sizes[6] = {6, 6, 2, 6, 2, 2};
    static const char *const names[6] = {"t0", "t1", "t2", "t3", "t4", "t5"};
    static const char *const want[6] = {
        "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
        "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
        "model-00003-of-00003.safetensors", "model-00003-of-00003.safetensors",
    };
    struct st_out t[6];
    struct sbuf err = SBUF_INIT;
    struct st_set *set;
    json_t *meta = json_pack("{s:s}", "format", "pt"), *im = json_pack("{s:i}", "total_parameters", 24);
    json_t *ix;
    int i;

    for (i = 0; i < 64; i++)
        buf[i] = (float)i;
    for (i = 0; i < 6; i++) {
        t[i].name = names[i];
        t[i].dtype = ST_F32;
        t[i].ndim = 1;
        t[i].shape[0] = sizes[i];
        t[i].data = buf + i;
    }
    mkdir("sh", 0755);
    CHECK(st_write_sharded("sh", "model", t, 6, meta, 40, im, &err) == 0);
    for (i = 0; i < 6; i++)
        CHECK_STREQ(shard_of("sh", names[i]), want[i]);
    ix = json_load_file("sh/model.safetensors.index.json", 0, NULL);
    CHECK(json_integer_value(json_object_get(json_object_get(ix, "metadata"), "total_size")) == 96);
    CHECK(json_integer_value(json_object_get(json_object_get(ix, "metadata"),
                                             "total_parameters")) == 24);
    json_decref(ix);
    CHECK(access("sh/model.safetensors", F_OK) != 0);
    set = st_set_open("sh", "model", &err);
    CHECK_MSG(set != NULL, "%s", sbuf_str(&err));
    if (set) {
        const struct st_tensor *x = st_set_find(set, "t3");
        float f[6];
        CHECK(set->nfiles == 3 && set->ntensors == 6 && x && x->numel == 6);
        CHECK(x && st_tensor_to_f32(x, f, 6, &err) == 0 && f[0] == 3 && f[5] == 8);
        CHECK(st_set_find(set, "t9") == NULL);
        st_set_close(set);
    }
    /* a tensor over the limit gets its own shard, listed before the open one */
    mkdir("big", 0755);
    t[1].shape[0] = 12;
    CHECK(st_write_sharded("big", "model", t, 3, meta, 40, NULL, &err) == 0);
    CHECK_STREQ(shard_of("big", "t0"), "model-00002-of-00002.safetensors");
    CHECK_STREQ(shard_of("big", "t1"), "model-00001-of-00002.safetensors");
    CHECK_STREQ(shard_of("big", "t2"), "model-00002-of-00002.safetensors");
    /* everything fits: one file, no index */
    mkdir("one", 0755);
    CHECK(st_write_sharded("one", "model", t, 6, meta, 1000, im, &err) == 0);
    CHECK(access("one/model.safetensors", F_OK) == 0 &&
          access("one/model.safetensors.index.json", F_OK) != 0);
    set = st_set_open("one", "model", &err);
    CHECK(set && set->nfiles == 1 && set->ntensors == 6 && set->ix.n == 0);
    st_set_close(set);
    /* an index and its shards that disagree */
    rename("sh/model-00002-of-00003.safetensors", "sh/gone");
    sbuf_reset(&err);
    CHECK(st_set_open("sh", "model", &err) == NULL &&
          strstr(sbuf_str(&err), "sh/model-00002-of-00003.safetensors: No such file"));
    rename("sh/gone", "sh/model-00002-of-00003.safetensors");
    write_str("sh/model.safetensors.index.json",
                "{\"weight_map\": {\"t0\": \"model-00001-of-00003.safetensors\"}}");
    set = st_set_open("sh", "model", &err);   /* a subset of the shards is a checkpoint */
    CHECK(set && set->nfiles == 1 && set->ntensors == 1);
    st_set_close(set);
    write_str("sh/model.safetensors.index.json",
                "{\"weight_map\": {\"t0\": \"model-00002-of-00003.safetensors\", \"t1\": "
                "\"model-00002-of-00003.safetensors\", \"t2\": \"model-00002-of-00003.safetensors\"}}");
    sbuf_reset(&err);
    CHECK(st_set_open("sh", "model", &err) == NULL &&
          strstr(sbuf_str(&err), "tensor 't0' is not in model-00002-of-00003.safetensors"));
    write_str("sh/model.safetensors.index.json",
                "{\"weight_map\": {\"t1\": \"model-00002-of-00003.safetensors\"}}");
    sbuf_reset(&err);
    CHECK(st_set_open("sh", "model", &err) == NULL &&
          strstr(sbuf_str(&err), "tensor 't2' of model-00002-of-00003.safetensors is not in "
                                 "the weight_map"));
    sbuf_reset(&err);
    CHECK(st_set_open("nowhere", "model", &err) == NULL &&
          strstr(sbuf_str(&err), "nowhere/model.safetensors: No such file"));
    json_decref(meta);
    json_decref(im);
    sbuf_release(&err);
}

int
main(void)
{
    test_roundtrip();
    test_conversions();
    test_corrupt();
    test_reference_layout();
    test_index();
    test_sharded();
    return check_done();
}
