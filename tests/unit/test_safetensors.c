/*
 * test_safetensors.c - the safetensors reader and writer: round trip,
 * BF16 and F16 decoding against hand-computed bit patterns, and corrupt or
 * truncated files rejected with a message.
 */
#include <stdlib.h>
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

int
main(void)
{
    test_roundtrip();
    test_conversions();
    test_corrupt();
    return check_done();
}
