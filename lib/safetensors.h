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
 * other dtypes are listed but do not convert.  Writing takes buffers of any
 * listed dtype and lays the file out byte for byte as the reference
 * implementation (huggingface/safetensors, serialize()) does: tensors
 * sorted by dtype (widest first, in its Dtype order) then by name, a
 * compact JSON header with "__metadata__" first, padded with spaces to a
 * multiple of 8 bytes, the data packed without gaps.
 *
 * Sharded checkpoints (transformers' save_pretrained / huggingface_hub's
 * split_state_dict_into_shards): STEM-00001-of-0000N.safetensors files and
 * STEM.safetensors.index.json, {"metadata": {"total_size": bytes, ...},
 * "weight_map": {tensor: file}}.  st_set opens either layout of a
 * directory; st_write_sharded writes one or the other by size.
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

/*
 * Writes text to the new file path (O_EXCL) and fsyncs it: the JSON files
 * beside the tensors.  0, or -1 with a message in err.
 */
int st_write_text(const char *path, const char *text, struct sbuf *err);

/* ---- sharded checkpoints ---- */

/* transformers' default max_shard_size "5GB" (decimal, as the hub parses it) */
#define ST_MAX_SHARD_DEFAULT 5000000000ULL

/* A parsed STEM.safetensors.index.json. */
struct st_index {
    json_t *js;           /* owned: the whole index */
    const char **shards;  /* (nshards) distinct file names, first-seen order */
    size_t nshards;
    const char **names;   /* (n) weight_map keys, in file order */
    size_t *shard_of;     /* (n) index into shards */
    size_t n;
};

/*
 * Parses index text (len bytes; what = the name for messages).  Every
 * weight_map value must be a plain file name ending in ".safetensors" (no
 * directory part), so an index never points outside its directory.
 * Returns 0 (release ix with st_index_release), or -1 with "WHAT: what is
 * wrong" appended to err and ix left empty.
 */
int st_index_parse(const char *text, size_t len, const char *what, struct st_index *ix,
                   struct sbuf *err);
void st_index_release(struct st_index *ix);

/* The tensor files of a checkpoint directory, opened together. */
struct st_set {
    char *path;                /* the file named in messages: the single file or the index */
    struct safetensors **files;/* (nfiles) */
    size_t nfiles;
    struct st_index ix;        /* empty when not sharded */
    const struct st_tensor **sorted; /* (ntensors) every file's tensors by name */
    size_t ntensors;
};

/*
 * Opens DIR/STEM.safetensors, or else the shards of
 * DIR/STEM.safetensors.index.json (as transformers prefers the single
 * file).  Every weight_map entry must be in its shard, and every tensor
 * of a shard in the weight_map under that shard.  Result is new (free
 * with st_set_close), or NULL with a message naming the file.
 */
struct st_set *st_set_open(const char *dir, const char *stem, struct sbuf *err);
void st_set_close(struct st_set *s);
/* Tensor by name over every file (borrowed), or NULL. */
const struct st_tensor *st_set_find(const struct st_set *s, const char *name);

/*
 * Writes the tensors t (n, in state-dict order: it decides the shards)
 * into the new directory dir's files: DIR/STEM.safetensors when they fit
 * in max_shard bytes, else shards filled in order as huggingface_hub
 * does (a tensor that would tip a shard over starts the next; a tensor
 * bigger than max_shard gets a shard of its own) and the index, written
 * as json.dumps(index, indent=2, sort_keys=True) + "\n" writes it, with
 * the fields of index_meta (may be NULL; not taken) beside total_size.
 * metadata goes into every file's header.  Returns 0, or -1 with a
 * message (files already written are left for the caller's cleanup).
 */
int st_write_sharded(const char *dir, const char *stem, const struct st_out *t, size_t n,
                     const json_t *metadata, uint64_t max_shard, const json_t *index_meta,
                     struct sbuf *err);

#endif
