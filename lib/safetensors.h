/*
 * safetensors.h - reading and writing the safetensors format
 * (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length, a JSON header {"name": {"dtype", "shape",
 * "data_offsets": [begin, end]}, "__metadata__": {...}}, then the data.
 *
 * Reading maps the file read-only and parses the header with jansson;
 * every offset, shape and size is checked against the file before any
 * tensor is handed out, so a corrupt or truncated file is an error with a
 * message, never a crash.  Tensors of F32, BF16 and F16 convert to f32;
 * other dtypes are listed but do not convert.  Writing takes f32, bf16 or
 * f16 buffers and pads the header to 8 bytes.
 *
 *     struct sbuf err = SBUF_INIT;
 *     struct safetensors *st = safetensors_open("model.safetensors", &err);
 *     if (!st) die("%s", sbuf_str(&err));
 *     const struct st_tensor *t = safetensors_find(st, "model.norm.weight");
 *     if (t && st_tensor_to_f32(t, buf, n, &err) == 0) ...
 *     safetensors_close(st);
 */
#ifndef POSTTRAIN_SAFETENSORS_H
#define POSTTRAIN_SAFETENSORS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum st_dtype {
    ST_F32, ST_F16, ST_BF16,
    ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL, ST_F8_E4M3, ST_F8_E5M2,
};

#define ST_MAX_DIMS 8

struct st_tensor {
    const char *name;     /* borrowed from the header */
    enum st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    size_t nbytes;
    const void *data;     /* into the read-only mapping */
};

struct safetensors {
    void *map;
    size_t size;
    json_t *header;       /* owned */
    struct st_tensor *t;  /* (n) in header order */
    size_t n;
    const json_t *metadata; /* "__metadata__" (borrowed from header) or NULL */
};

/* The safetensors name of a dtype ("F32", ...), static. */
const char *st_dtype_name(enum st_dtype d);
/* Bytes per element. */
size_t st_dtype_size(enum st_dtype d);

/*
 * Opens and validates path.  Result is new (free with safetensors_close),
 * or NULL with "PATH: what is wrong" appended to err.
 */
struct safetensors *safetensors_open(const char *path, struct sbuf *err);
void safetensors_close(struct safetensors *st);
/* Tensor by name (borrowed), or NULL. */
const struct st_tensor *safetensors_find(const struct safetensors *st, const char *name);

/*
 * Converts t to f32 into out (n floats, n must equal t->numel).  Returns
 * 0, or -1 with a message for a dtype that does not convert.
 */
int st_tensor_to_f32(const struct st_tensor *t, float *out, size_t n, struct sbuf *err);

/* Scalar conversions (round to nearest even on narrowing). */
float st_bf16_to_f32(uint16_t h);
float st_f16_to_f32(uint16_t h);
uint16_t st_f32_to_bf16(float f);
uint16_t st_f32_to_f16(float f);

/* A tensor to write; data points at numel elements of dtype. */
struct st_out {
    const char *name;
    enum st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;
};

/*
 * Writes the tensors (in the given order) and metadata (an object of
 * string values, or NULL; not taken) to a new file at path (O_EXCL), then
 * fsyncs it.  Returns 0, or -1 with a message in err (the partial file is
 * removed).
 */
int safetensors_write(const char *path, const struct st_out *t, size_t n,
                      const json_t *metadata, struct sbuf *err);

#endif
