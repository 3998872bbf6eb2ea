/*
 * ckpt.h - checkpoints in the Hugging Face directory layout (see
 * posttrain-checkpoint(5)):
 *
 *   config.json              HF field names (model_type, hidden_size, ...)
 *   model.safetensors        HF tensor names, F32, BF16 or F16 (all load);
 *                            over the shard size, model-0000K-of-0000N
 *                            .safetensors and model.safetensors.index.json
 *   tokenizer.json           optional, copied through
 *   optimizer.safetensors    AdamW moments "exp_avg", "exp_avg_sq" (update)
 *   trainer_state.json       global_step, optimizer, schedule, rng (update)
 *
 * Saving writes everything to a temporary directory beside the target
 * (".NAME.tmp-PID-START-BOOT-XXXXXX" in the same parent, locked by its
 * writer: tmpfile.h; saving reclaims the ones that killed writers left
 * there), fsyncs every file and the
 * directory, then renames it into place: an existing checkpoint is
 * swapped out atomically (renameat2 RENAME_EXCHANGE) and removed after.
 * A writer killed at any point leaves the old checkpoint (or none) under
 * the final name, never a half-written one.
 *
 * Errors are returned (-1 or NULL) with "PATH: what is wrong" appended to
 * an sbuf; tools die with it.
 *
 *     struct sbuf err = SBUF_INIT;
 *     json_t *cfgjs;
 *     struct model *m = ckpt_load("ckpt/step-0", 0, &cfgjs, &err);
 *     if (!m) die("%s", sbuf_str(&err));
 *     ...train...
 *     if (ckpt_save("ckpt/step-1", m, cfgjs, opt, NULL, "ckpt/step-0", &err)) die(...);
 */
#ifndef POSTTRAIN_CKPT_H
#define POSTTRAIN_CKPT_H

#include <jansson.h>

#include "model.h"
#include "optim.h"
#include "safetensors.h"
#include "util.h"

/*
 * Reads the model fields of an HF config object into c.  Accepts
 * model_type llama, qwen2 and mistral (and configs without model_type).
 * Returns 0, or -1 with "field 'x': what is wrong" appended to err.
 */
int ckpt_config_from_json(const json_t *js, struct model_config *c, struct sbuf *err);

/*
 * A new config.json object for c: a deep copy of base (may be NULL; not
 * taken) with every model field set, so fields this program does not
 * know (torch_dtype, transformers_version, ...) are carried through.
 */
json_t *ckpt_config_to_json(const struct model_config *c, const json_t *base);

/* The preset names of ckpt_preset(), for messages. */
#define CKPT_PRESETS "tiny, smollm-135m"

/*
 * A named model shape: "tiny" (hidden 256, 4 layers, 4 heads, 2 kv heads,
 * intermediate 768, context 512, the built-in tokenizer's 264 ids, tied:
 * 3.2M parameters) or "smollm-135m" (SmolLM-135M's config.json).
 * Returns 0, or -1 for an unknown name.
 */
int ckpt_preset(const char *name, struct model_config *c);

/* Reads and parses a config.json file.  *js (if not NULL) gets the new object. */
int ckpt_read_config(const char *path, struct model_config *c, json_t **js, struct sbuf *err);

enum ckpt_load_flags {
    /*
     * Load as a MODEL_SEQ_CLS reward model whatever config.json says: a
     * causal LM's body is taken, lm_head.weight ignored, and score.weight
     * (1, C) starts at zero when the file has none.
     */
    CKPT_AS_SEQ_CLS = 1 << 0,
};

/*
 * Loads dir/config.json and dir/model.safetensors (or the shards of
 * dir/model.safetensors.index.json), F32, BF16 or F16 tensors converted
 * to F32.  Result is new; *js
 * (if not NULL) receives the config object (new reference).  Every tensor
 * of the model must be present with its shape; rotary inv_freq buffers
 * are ignored, any other unknown tensor is an error.
 */
struct model *ckpt_load(const char *dir, int flags, json_t **js, struct sbuf *err);

/*
 * Saves m (and, when not NULL, the optimizer state and the JSON object
 * state_extra merged into trainer_state.json) as the checkpoint dir.
 * config: the config object to carry through (may be NULL).  tok_from: a
 * checkpoint directory whose tokenizer.json is copied, or a tokenizer.json
 * path, or NULL.  Nothing is taken.  Returns 0 or -1.
 */
int ckpt_save(const char *dir, const struct model *m, const json_t *config,
              const struct optim *o, const json_t *state_extra, const char *tok_from,
              struct sbuf *err);

/* How ckpt_save_as writes the weights. */
struct ckpt_format {
    uint64_t max_shard_size; /* bytes per model file before sharding; 0: ST_MAX_SHARD_DEFAULT */
    int dtype;               /* ST_F32, ST_BF16, ST_F16, or CKPT_DTYPE_AUTO */
};

/* The config's torch_dtype (float32, bfloat16, float16), else F32. */
#define CKPT_DTYPE_AUTO (-1)

/*
 * ckpt_save with the weights written as fmt says (NULL: F32, 5 GB
 * shards); config.json's torch_dtype names the dtype written.  A tied
 * model has no lm_head.weight.  Tensors go in transformers' state-dict
 * order, so the shards and the index are the ones save_pretrained writes
 * for the same model.
 */
int ckpt_save_as(const char *dir, const struct model *m, const json_t *config,
                 const struct optim *o, const json_t *state_extra, const char *tok_from,
                 const struct ckpt_format *fmt, struct sbuf *err);

/*
 * Writes a checkpoint-like directory dir atomically, as ckpt_save does:
 * write_files(tmp, ctx, err) fills the temporary directory (0 or -1 with
 * a message), then the optimizer state and trainer_state.json (o not
 * NULL), the tokenizer (tok_from not NULL), and the rename into place.
 * lora.h's adapters are saved this way.  0 or -1.
 */
typedef int (*ckpt_write_fn)(const char *tmp, void *ctx, struct sbuf *err);
int ckpt_save_dir(const char *dir, ckpt_write_fn write_files, void *ctx, const struct optim *o,
                  const json_t *state_extra, const char *tok_from, struct sbuf *err);
/* "DIR/NAME", new. */
char *ckpt_path_join(const char *dir, const char *name);

/*
 * A size as huggingface_hub's max_shard_size reads it: digits, optionally
 * followed by KB, MB, GB or TB (powers of 1000, any case), as bytes.
 * Returns 0, or -1 for anything else (or 0 bytes).
 */
int ckpt_parse_size(const char *s, uint64_t *out);

/*
 * A dtype name for --dtype: f32/float32, bf16/bfloat16, f16/float16, or
 * auto (CKPT_DTYPE_AUTO).  Returns 0, or -1.
 */
int ckpt_parse_dtype(const char *s, int *dtype);

/* The file names of the training state in a checkpoint directory. */
#define CKPT_OPTIMIZER "optimizer.safetensors"
#define CKPT_TRAINER_STATE "trainer_state.json"

/* 1 when dir holds an optimizer state (CKPT_OPTIMIZER), else 0. */
int ckpt_has_optim(const char *dir);

/*
 * Reads dir/trainer_state.json (new reference), or NULL with
 * "DIR/trainer_state.json: why" appended to err.  What ckpt_save put
 * there of its state_extra comes back as it was written.
 */
json_t *ckpt_read_state(const char *dir, struct sbuf *err);

/*
 * The global step in dir's trainer state, or 0 when dir has none (a
 * checkpoint no update wrote): the policy version of samples.
 */
long ckpt_state_step(const char *dir);

/*
 * Loads dir/optimizer.safetensors and dir/trainer_state.json into a new
 * optimizer for n parameters (config, step, rng, moments).  Returns NULL
 * with a message when either is missing or does not match n.
 */
struct optim *ckpt_load_optim(const char *dir, size_t n, struct sbuf *err);

/* Marks every tensor of m with decay 0 (norms, biases) as no-decay in o. */
void ckpt_optim_no_decay(struct optim *o, const struct model *m);

/*
 * Content hash of the model (config shape and every parameter bit, its
 * adapter's when m->lora is set, and whether its products are bf16), as
 * 16 hex digits into out (17 bytes): the "policy" id of sample records.
 */
void ckpt_hash(const struct model *m, char out[17]);

#endif
