/*
 * ckpt.c - HF checkpoint directories of ckpt.h: config.json <-> struct
 * model_config, model.safetensors <-> the parameter table, the optimizer
 * state files, and the atomic temp-directory + rename save.
 */
#include "ckpt.h"
#include "json.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lora.h"
#include "pool.h"
#include "safetensors.h"
#include "tmpfile.h"

/* ============================== config.json ============================== */

static int
get_int(const json_t *js, const char *key, int required, int def, long lo, long hi, int *out,
        struct sbuf *err)
{
    json_t *v = json_object_get(js, key);

    if (!v || json_is_null(v)) {
        if (required) {
            sbuf_addf(err, "field '%s': missing", key);
            return -1;
        }
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        sbuf_addf(err, "field '%s': not an integer in [%ld, %ld]", key, lo, hi);
        return -1;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static int
get_real(const json_t *js, const char *key, double def, float *out, struct sbuf *err)
{
    json_t *v = json_object_get(js, key);

    if (!v || json_is_null(v)) {
        *out = (float)def;
        return 0;
    }
    if (!json_is_number(v) || !(json_number_value(v) > 0)) {
        sbuf_addf(err, "field '%s': not a positive number", key);
        return -1;
    }
    *out = (float)json_number_value(v);
    return 0;
}

static int
get_bool(const json_t *js, const char *key, int def, int *out, struct sbuf *err)
{
    json_t *v = json_object_get(js, key);

    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v)) {
        sbuf_addf(err, "field '%s': not a boolean", key);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* bos/eos ids may be an integer or a list (the first is taken). */
static int
get_token_id(const json_t *js, const char *key, int *out, struct sbuf *err)
{
    json_t *v = json_object_get(js, key);

    if (json_is_array(v))
        v = json_array_get(v, 0);
    if (!v || json_is_null(v)) {
        *out = -1;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT_MAX) {
        sbuf_addf(err, "field '%s': not a token id", key);
        return -1;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

/* A number field of rope_scaling (0 when absent or null). */
static int
rope_num(const json_t *rs, const char *key, int required, double *out, struct sbuf *err)
{
    json_t *v = json_object_get(rs, key);

    *out = 0.0;
    if (!v || json_is_null(v)) {
        if (required) {
            sbuf_addf(err, "field 'rope_scaling.%s': missing", key);
            return -1;
        }
        return 0;
    }
    if (!json_is_number(v) || !(json_number_value(v) >= 0)) {
        sbuf_addf(err, "field 'rope_scaling.%s': not a number >= 0", key);
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

/*
 * rope_scaling as transformers reads it: rope_type (or the older "type")
 * default, linear, dynamic, yarn or llama3, with that type's fields.
 */
static int
rope_from_json(const json_t *rs, struct model_config *c, struct sbuf *err)
{
    struct model_rope_scaling *r = &c->rope;
    json_t *t = json_object_get(rs, "rope_type");
    const char *ty;
    double omax = 0.0;

    memset(r, 0, sizeof(*r));
    if (!rs || json_is_null(rs))
        return 0;
    if (!json_is_object(rs)) {
        sbuf_adds(err, "field 'rope_scaling': not an object");
        return -1;
    }
    if (!t || json_is_null(t))
        t = json_object_get(rs, "type");
    if (!json_is_string(t)) {
        sbuf_adds(err, "field 'rope_scaling.rope_type': missing or not a string");
        return -1;
    }
    ty = json_string_value(t);
    if (strcmp(ty, "default") == 0)
        return 0;
    if (strcmp(ty, "linear") == 0)
        r->type = MODEL_ROPE_LINEAR;
    else if (strcmp(ty, "dynamic") == 0)
        r->type = MODEL_ROPE_DYNAMIC;
    else if (strcmp(ty, "yarn") == 0)
        r->type = MODEL_ROPE_YARN;
    else if (strcmp(ty, "llama3") == 0)
        r->type = MODEL_ROPE_LLAMA3;
    else {
        sbuf_addf(err, "field 'rope_scaling.rope_type': '%s' is not supported (default, "
                  "linear, dynamic, yarn, llama3)", ty);
        return -1;
    }
    if (rope_num(rs, "factor", 1, &r->factor, err) ||
        rope_num(rs, "original_max_position_embeddings", r->type == MODEL_ROPE_LLAMA3,
                 &omax, err))
        return -1;
    if (omax > (1 << 26) || omax != (int)omax) {
        sbuf_adds(err, "field 'rope_scaling.original_max_position_embeddings': not an "
                  "integer in [1, 67108864]");
        return -1;
    }
    r->orig_max_pos = (int)omax;
    if (r->type == MODEL_ROPE_LLAMA3 &&
        (rope_num(rs, "low_freq_factor", 1, &r->low_freq_factor, err) ||
         rope_num(rs, "high_freq_factor", 1, &r->high_freq_factor, err)))
        return -1;
    if (r->type == MODEL_ROPE_YARN) {
        json_t *tr = json_object_get(rs, "truncate");
        if (rope_num(rs, "beta_fast", 0, &r->beta_fast, err) ||
            rope_num(rs, "beta_slow", 0, &r->beta_slow, err) ||
            rope_num(rs, "mscale", 0, &r->mscale, err) ||
            rope_num(rs, "mscale_all_dim", 0, &r->mscale_all_dim, err) ||
            rope_num(rs, "attention_factor", 0, &r->attention_factor, err))
            return -1;
        if (tr && !json_is_null(tr) && !json_is_boolean(tr)) {
            sbuf_adds(err, "field 'rope_scaling.truncate': not a boolean");
            return -1;
        }
        r->no_truncate = json_is_false(tr);
    }
    return 0;
}

/*
 * Sliding-window attention changes the result only when a window is
 * shorter than the context: Mistral's sliding_window below
 * max_position_embeddings, Qwen2/Qwen3's use_sliding_window.
 */
static int
check_window(const json_t *js, const struct model_config *c, struct sbuf *err)
{
    json_t *use = json_object_get(js, "use_sliding_window");
    json_t *win = json_object_get(js, "sliding_window");
    int qwen = strncmp(c->model_type, "qwen", 4) == 0;

    if (use && !json_is_null(use) && !json_is_boolean(use)) {
        sbuf_adds(err, "field 'use_sliding_window': not a boolean");
        return -1;
    }
    if (qwen) {
        if (json_is_true(use)) {
            sbuf_adds(err, "field 'use_sliding_window': true (sliding-window attention "
                      "layers) is not supported");
            return -1;
        }
        return 0;
    }
    if (win && !json_is_null(win)) {
        if (!json_is_integer(win) || json_integer_value(win) < 1) {
            sbuf_adds(err, "field 'sliding_window': not a positive integer or null");
            return -1;
        }
        if (json_integer_value(win) < c->max_pos) {
            sbuf_addf(err, "field 'sliding_window': %lld is below max_position_embeddings %d "
                      "(sliding-window attention is not supported)",
                      (long long)json_integer_value(win), c->max_pos);
            return -1;
        }
    }
    return 0;
}

/*
 * Qwen3-MoE's fields (transformers' Qwen3MoeConfig, its defaults): a
 * softmax router over num_experts, top num_experts_per_tok, renormalized
 * when norm_topk_prob; layers sparse every decoder_sparse_step-th unless
 * listed in mlp_only_layers.
 */
static int
moe_from_json(const json_t *js, struct model_config *c, struct sbuf *err)
{
    struct model_moe *e = &c->moe;
    json_t *only = json_object_get(js, "mlp_only_layers"), *v;
    size_t i;

    e->n_group = e->topk_group = 1;
    e->scaling = 1.0f;
    if (get_int(js, "num_experts", 0, 128, 0, 1 << 16, &e->n_experts, err) ||
        get_int(js, "num_experts_per_tok", 0, 8, 1, 1 << 16, &e->top_k, err) ||
        get_int(js, "moe_intermediate_size", 0, 768, 1, 1 << 24, &e->hidden, err) ||
        get_int(js, "decoder_sparse_step", 0, 1, 1, 1 << 16, &e->sparse_step, err) ||
        get_bool(js, "norm_topk_prob", 0, &e->norm_topk, err))
        return -1;
    if (e->n_experts > 0 && e->top_k > e->n_experts) {
        sbuf_addf(err, "field 'num_experts_per_tok': %d is more than num_experts %d",
                  e->top_k, e->n_experts);
        return -1;
    }
    if (only && !json_is_null(only)) {
        if (!json_is_array(only)) {
            sbuf_adds(err, "field 'mlp_only_layers': not an array of layer indices");
            return -1;
        }
        json_array_foreach(only, i, v) {
            json_int_t l = json_is_integer(v) ? json_integer_value(v) : -1;
            if (l < 0 || l >= c->n_layers) {
                sbuf_addf(err, "field 'mlp_only_layers': item %zu is not a layer index below "
                          "num_hidden_layers %d", i, c->n_layers);
                return -1;
            }
            e->mlp_only[l / 8] |= (unsigned char)(1u << (l % 8));
        }
    }
    /* DeepSeek-V3's router fields (DeepseekV3Config), read here too so a
       test model can have the DeepSeekMoE router on Qwen3-MoE's layers
       (transformers' Qwen3-MoE does not know them) */
    v = json_object_get(js, "scoring_func");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || (strcmp(json_string_value(v), "softmax") != 0 &&
                                   strcmp(json_string_value(v), "sigmoid") != 0)) {
            sbuf_adds(err, "field 'scoring_func': not \"softmax\" or \"sigmoid\"");
            return -1;
        }
        e->sigmoid = strcmp(json_string_value(v), "sigmoid") == 0;
    }
    v = json_object_get(js, "topk_method");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v) || (strcmp(json_string_value(v), "greedy") != 0 &&
                                   strcmp(json_string_value(v), "noaux_tc") != 0)) {
            sbuf_adds(err, "field 'topk_method': not \"greedy\" or \"noaux_tc\" "
                      "(e_score_correction_bias)");
            return -1;
        }
        e->score_bias = strcmp(json_string_value(v), "noaux_tc") == 0;
    }
    if (get_int(js, "n_group", 0, 1, 1, 64, &e->n_group, err) ||
        get_int(js, "topk_group", 0, 1, 1, 64, &e->topk_group, err) ||
        get_real(js, "routed_scaling_factor", 1.0, &e->scaling, err))
        return -1;
    v = json_object_get(js, "shared_expert_intermediate_size");
    if (v && !json_is_null(v) && !(json_is_integer(v) && json_integer_value(v) == 0)) {
        sbuf_adds(err, "field 'shared_expert_intermediate_size': Qwen3-MoE has no shared "
                  "expert (that is Qwen2-MoE)");
        return -1;
    }
    return 0;
}

/* Qwen3-MoE's fields in config.json. */
static void
moe_to_json(json_t *js, const struct model_config *c)
{
    const struct model_moe *e = &c->moe;
    json_t *only = json_array();
    int l;

    json_object_set_new(js, "num_experts", json_integer(e->n_experts));
    json_object_set_new(js, "num_experts_per_tok", json_integer(e->top_k));
    json_object_set_new(js, "moe_intermediate_size", json_integer(e->hidden));
    json_object_set_new(js, "decoder_sparse_step", json_integer(e->sparse_step));
    json_object_set_new(js, "norm_topk_prob", json_boolean(e->norm_topk));
    for (l = 0; l < c->n_layers; l++)
        if (e->mlp_only[l / 8] >> (l % 8) & 1)
            json_array_append_new(only, json_integer(l));
    json_object_set_new(js, "mlp_only_layers", only);
    json_object_set_new(js, "output_router_logits", json_false());
    if (e->sigmoid)
        json_object_set_new(js, "scoring_func", json_string("sigmoid"));
    if (e->score_bias)
        json_object_set_new(js, "topk_method", json_string("noaux_tc"));
    if (e->n_group > 1) {
        json_object_set_new(js, "n_group", json_integer(e->n_group));
        json_object_set_new(js, "topk_group", json_integer(e->topk_group));
    }
    if (e->scaling != 1.0f)
        json_object_set_new(js, "routed_scaling_factor", json_real(e->scaling));
}

/* A string field that must be absent, null or want (what the model computes). */
static int
want_string(const json_t *js, const char *key, const char *want, const char *why,
            struct sbuf *err)
{
    json_t *v = json_object_get(js, key);

    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        sbuf_addf(err, "field '%s': not a string", key);
        return -1;
    }
    if (strcmp(json_string_value(v), want) != 0) {
        sbuf_addf(err, "field '%s': '%s' is not supported (%s)", key, json_string_value(v),
                  why);
        return -1;
    }
    return 0;
}

/*
 * DeepSeek-V3's fields (transformers' DeepseekV3Config and its defaults,
 * plus the original config.json's topk_method, scoring_func and
 * moe_layer_freq, checked against what DeepseekV3TopkRouter computes):
 * MLA (q_lora_rank null: a plain q_proj), and DeepSeekMoE from layer
 * first_k_dense_replace on: sigmoid scores, the selection bias, n_group
 * / topk_group, routed_scaling_factor, n_shared_experts.  head_dim is
 * qk_rope_head_dim, as transformers sets it.
 */
static int
deepseek_from_json(const json_t *js, struct model_config *c, struct sbuf *err)
{
    struct model_mla *a = &c->mla;
    struct model_moe *e = &c->moe;
    json_t *q = json_object_get(js, "q_lora_rank");
    int freq;

    if (q && json_is_null(q))
        a->q_lora_rank = 0;
    else if (get_int(js, "q_lora_rank", 0, 1536, 1, 1 << 20, &a->q_lora_rank, err))
        return -1;
    if (get_int(js, "kv_lora_rank", 0, 512, 1, 1 << 16, &a->kv_lora_rank, err) ||
        get_int(js, "qk_nope_head_dim", 0, 128, 1, 1 << 12, &a->nope, err) ||
        get_int(js, "qk_rope_head_dim", 0, 64, 2, 1 << 12, &a->rope, err) ||
        get_int(js, "v_head_dim", 0, 128, 1, 1 << 12, &a->v_dim, err) ||
        get_bool(js, "rope_interleave", 1, &a->interleave, err) ||
        get_int(js, "n_routed_experts", 0, 256, 1, 1 << 16, &e->n_experts, err) ||
        get_int(js, "n_shared_experts", 0, 1, 0, 1 << 16, &e->n_shared, err) ||
        get_int(js, "num_experts_per_tok", 0, 8, 1, 1 << 16, &e->top_k, err) ||
        get_int(js, "moe_intermediate_size", 0, 2048, 1, 1 << 24, &e->hidden, err) ||
        get_int(js, "first_k_dense_replace", 0, 3, 0, 4096, &e->first_dense, err) ||
        get_int(js, "n_group", 0, 8, 1, 64, &e->n_group, err) ||
        get_int(js, "topk_group", 0, 4, 1, 64, &e->topk_group, err) ||
        get_bool(js, "norm_topk_prob", 1, &e->norm_topk, err) ||
        get_real(js, "routed_scaling_factor", 2.5, &e->scaling, err) ||
        get_int(js, "moe_layer_freq", 0, 1, 1, 4096, &freq, err) ||
        want_string(js, "topk_method", "noaux_tc",
                    "DeepSeek-V3 routes by noaux_tc: sigmoid scores plus "
                    "e_score_correction_bias, group-limited", err) ||
        want_string(js, "scoring_func", "sigmoid", "DeepSeek-V3's router is sigmoid", err))
        return -1;
    if (a->rope % 2 != 0) {
        sbuf_addf(err, "field 'qk_rope_head_dim': %d is not even (RoPE rotates pairs)",
                  a->rope);
        return -1;
    }
    if (freq != 1) {
        sbuf_addf(err, "field 'moe_layer_freq': %d is not supported (every layer from "
                  "first_k_dense_replace on is sparse)", freq);
        return -1;
    }
    if (e->n_experts % e->n_group != 0) {
        sbuf_addf(err, "field 'n_group': %d does not divide n_routed_experts %d", e->n_group,
                  e->n_experts);
        return -1;
    }
    if (e->topk_group > e->n_group) {
        sbuf_addf(err, "field 'topk_group': %d is more than n_group %d", e->topk_group,
                  e->n_group);
        return -1;
    }
    if (e->top_k > e->topk_group * (e->n_experts / e->n_group)) {
        sbuf_addf(err, "field 'num_experts_per_tok': %d is more than the %d experts of "
                  "topk_group groups", e->top_k, e->topk_group * (e->n_experts / e->n_group));
        return -1;
    }
    if ((int64_t)e->n_shared * e->hidden > (int64_t)c->hidden_dim) {
        sbuf_adds(err, "field 'n_shared_experts': n_shared_experts x moe_intermediate_size "
                  "passes intermediate_size");
        return -1;
    }
    e->sigmoid = 1;
    e->score_bias = 1;
    e->sparse_step = 1;
    c->head_dim = a->rope;
    return 0;
}

/* DeepSeek-V3's fields in config.json. */
static void
deepseek_to_json(json_t *js, const struct model_config *c)
{
    const struct model_mla *a = &c->mla;
    const struct model_moe *e = &c->moe;

    json_object_set_new(js, "q_lora_rank",
                        a->q_lora_rank > 0 ? json_integer(a->q_lora_rank) : json_null());
    json_object_set_new(js, "kv_lora_rank", json_integer(a->kv_lora_rank));
    json_object_set_new(js, "qk_nope_head_dim", json_integer(a->nope));
    json_object_set_new(js, "qk_rope_head_dim", json_integer(a->rope));
    json_object_set_new(js, "v_head_dim", json_integer(a->v_dim));
    json_object_set_new(js, "rope_interleave", json_boolean(a->interleave));
    json_object_set_new(js, "n_routed_experts", json_integer(e->n_experts));
    json_object_set_new(js, "n_shared_experts", json_integer(e->n_shared));
    json_object_set_new(js, "num_experts_per_tok", json_integer(e->top_k));
    json_object_set_new(js, "moe_intermediate_size", json_integer(e->hidden));
    json_object_set_new(js, "first_k_dense_replace", json_integer(e->first_dense));
    json_object_set_new(js, "n_group", json_integer(e->n_group));
    json_object_set_new(js, "topk_group", json_integer(e->topk_group));
    json_object_set_new(js, "norm_topk_prob", json_boolean(e->norm_topk));
    json_object_set_new(js, "routed_scaling_factor", json_float(e->scaling));
    json_object_set_new(js, "topk_method", json_string("noaux_tc"));
    json_object_set_new(js, "scoring_func", json_string("sigmoid"));
    json_object_set_new(js, "moe_layer_freq", json_integer(1));
    /* the multi-token prediction layers are not loaded, so not saved */
    json_object_set_new(js, "num_nextn_predict_layers", json_integer(0));
}

int
ckpt_config_from_json(const json_t *js, struct model_config *c, struct sbuf *err)
{
    json_t *arch = json_object_get(js, "architectures"), *v;
    const char *mt = "llama", *why;
    int qwen2, qwen3;

    memset(c, 0, sizeof(*c));
    if (!json_is_object(js)) {
        sbuf_adds(err, "not a JSON object");
        return -1;
    }
    v = json_object_get(js, "model_type");
    if (v && !json_is_string(v)) {
        sbuf_adds(err, "field 'model_type': not a string");
        return -1;
    }
    if (v)
        mt = json_string_value(v);
    if (strcmp(mt, "llama") && strcmp(mt, "qwen2") && strcmp(mt, "mistral") &&
        strcmp(mt, "qwen3") && strcmp(mt, "qwen3_moe") && strcmp(mt, "deepseek_v3")) {
        sbuf_addf(err, "field 'model_type': '%s' is not a Llama-family decoder (llama, "
                  "mistral, qwen2, qwen3, qwen3_moe, deepseek_v3)", mt);
        return -1;
    }
    snprintf(c->model_type, sizeof(c->model_type), "%s", mt);
    qwen2 = strcmp(mt, "qwen2") == 0;
    qwen3 = strcmp(mt, "qwen3") == 0 || strcmp(mt, "qwen3_moe") == 0;
    c->qk_norm = qwen3;
    c->arch = MODEL_CAUSAL_LM;
    if (arch) {
        const char *a = json_string_value(json_array_get(arch, 0));
        if (!json_is_array(arch) || !a) {
            sbuf_adds(err, "field 'architectures': not an array of strings");
            return -1;
        }
        if (strstr(a, "ForSequenceClassification"))
            c->arch = MODEL_SEQ_CLS;
        else if (!strstr(a, "ForCausalLM")) {
            sbuf_addf(err, "field 'architectures': '%s' is neither *ForCausalLM nor "
                      "*ForSequenceClassification", a);
            return -1;
        }
    }
    if (get_int(js, "hidden_size", 1, 0, 1, 1 << 20, &c->dim, err) ||
        get_int(js, "intermediate_size", 1, 0, 1, 1 << 24, &c->hidden_dim, err) ||
        get_int(js, "num_hidden_layers", 1, 0, 1, 4096, &c->n_layers, err) ||
        get_int(js, "num_attention_heads", 1, 0, 1, 1 << 16, &c->n_heads, err) ||
        get_int(js, "num_key_value_heads", 0, c->n_heads, 1, 1 << 16, &c->n_kv_heads, err) ||
        get_int(js, "head_dim", 0, c->dim / c->n_heads, 1, 1 << 16, &c->head_dim, err) ||
        get_int(js, "vocab_size", 1, 0, 1, 1 << 28, &c->vocab_size, err) ||
        get_int(js, "max_position_embeddings", 0, 2048, 1, 1 << 26, &c->max_pos, err) ||
        get_real(js, "rms_norm_eps", 1e-6, &c->norm_eps, err) ||
        get_real(js, "rope_theta", 10000.0, &c->rope_theta, err) ||
        get_bool(js, "tie_word_embeddings", 0, &c->tie_embeddings, err) ||
        get_bool(js, "attention_bias", 0, &c->attn_bias, err) ||
        get_token_id(js, "bos_token_id", &c->bos_id, err) ||
        get_token_id(js, "eos_token_id", &c->eos_id, err) ||
        get_token_id(js, "pad_token_id", &c->pad_id, err))
        return -1;
    /* Llama's and Qwen3's attention_bias also bias o_proj; Qwen2 biases q/k/v only. */
    if (!qwen2 && c->attn_bias) {
        sbuf_adds(err, "field 'attention_bias': true (o_proj bias) is supported for qwen2 "
                  "q/k/v biases only");
        return -1;
    }
    if (qwen2)
        c->attn_bias = 1;
    if (get_bool(js, "mlp_bias", 0, &qwen2, err))
        return -1;
    if (qwen2) {
        sbuf_adds(err, "field 'mlp_bias': true is not a Llama-family SwiGLU MLP");
        return -1;
    }
    v = json_object_get(js, "hidden_act");
    if (v && (!json_is_string(v) || strcmp(json_string_value(v), "silu"))) {
        sbuf_adds(err, "field 'hidden_act': only \"silu\" (SwiGLU) is a Llama-family MLP");
        return -1;
    }
    if (rope_from_json(json_object_get(js, "rope_scaling"), c, err) ||
        check_window(js, c, err))
        return -1;
    if (strcmp(mt, "qwen3_moe") == 0 && moe_from_json(js, c, err))
        return -1;
    if (strcmp(mt, "deepseek_v3") == 0 && deepseek_from_json(js, c, err))
        return -1;
    c->num_labels = 1;
    if (c->arch == MODEL_SEQ_CLS) {
        json_t *id2 = json_object_get(js, "id2label");
        int def = json_is_object(id2) ? (int)json_object_size(id2) : 1;
        if (get_int(js, "num_labels", 0, def, 1, 1 << 16, &c->num_labels, err))
            return -1;
    }
    if (model_config_check(c, &why)) {
        sbuf_addf(err, "%s", why);
        return -1;
    }
    return 0;
}

/*
 * The tiny test models of every family and RoPE type: the tiny preset's
 * shape (the built-in tokenizer's ids) with two layers, head_dim 32.
 */
static int
tiny_preset(const char *name, struct model_config *c)
{
    static const struct {
        const char *name, *type;
        int qk_norm, bias, tie;
        struct model_rope_scaling rope;
    } t[] = {
        {"qwen3-tiny", "qwen3", 1, 0, 1, {0}},
        {"qwen3-untied-tiny", "qwen3", 1, 0, 0, {0}},
        {"qwen3-yarn-tiny", "qwen3", 1, 0, 1,
         {.type = MODEL_ROPE_YARN, .factor = 4.0, .orig_max_pos = 128}},
        {"qwen2-tiny", "qwen2", 0, 1, 0, {0}},
        {"mistral-tiny", "mistral", 0, 0, 0, {0}},
        {"llama3-tiny", "llama", 0, 0, 1,
         {.type = MODEL_ROPE_LLAMA3, .factor = 8.0, .low_freq_factor = 1.0,
          .high_freq_factor = 4.0, .orig_max_pos = 64}},
        {"llama-linear-tiny", "llama", 0, 0, 1, {.type = MODEL_ROPE_LINEAR, .factor = 2.0}},
        {"llama-dynamic-tiny", "llama", 0, 0, 1, {.type = MODEL_ROPE_DYNAMIC, .factor = 2.0}},
        {"llama-yarn-tiny", "llama", 0, 0, 1,
         {.type = MODEL_ROPE_YARN, .factor = 4.0, .beta_fast = 16.0, .beta_slow = 2.0,
          .mscale = 1.0, .mscale_all_dim = 0.5}},
    };
    size_t i;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (strcmp(name, t[i].name) != 0)
            continue;
        ckpt_preset("tiny", c);
        snprintf(c->model_type, sizeof(c->model_type), "%s", t[i].type);
        c->qk_norm = t[i].qk_norm;
        c->attn_bias = t[i].bias;
        c->tie_embeddings = t[i].tie;
        c->rope = t[i].rope;
        c->dim = 128;
        c->hidden_dim = 384;
        c->n_layers = 2;
        c->n_heads = 4;
        c->n_kv_heads = 2;
        c->head_dim = 32;
        return 0;
    }
    return -1;
}

int
ckpt_preset(const char *name, struct model_config *c)
{
    memset(c, 0, sizeof(*c));
    c->arch = MODEL_CAUSAL_LM;
    strcpy(c->model_type, "llama");
    c->norm_eps = 1e-5f;
    c->rope_theta = 10000.0f;
    c->tie_embeddings = 1;
    c->num_labels = 1;
    c->pad_id = -1;
    if (strcmp(name, "tiny") == 0) {
        /* small enough to train in minutes on two cores */
        c->dim = 256;
        c->hidden_dim = 768;
        c->n_layers = 4;
        c->n_heads = 4;
        c->n_kv_heads = 2;
        c->head_dim = 64;
        c->vocab_size = 264;
        c->max_pos = 512;
        c->bos_id = 256;   /* the built-in tokenizer's <|bos|>, <|eos|>, <|pad|> */
        c->eos_id = 257;
        c->pad_id = 258;
        return 0;
    }
    if (strcmp(name, "smollm-135m") == 0) {
        /* HuggingFaceTB/SmolLM-135M's config.json */
        c->dim = 576;
        c->hidden_dim = 1536;
        c->n_layers = 30;
        c->n_heads = 9;
        c->n_kv_heads = 3;
        c->head_dim = 64;
        c->vocab_size = 49152;
        c->max_pos = 2048;
        c->bos_id = 0;
        c->eos_id = 0;
        return 0;
    }
    if (strcmp(name, "qwen3-0.6b") == 0) {
        /* Qwen/Qwen3-0.6B's config.json */
        strcpy(c->model_type, "qwen3");
        c->qk_norm = 1;
        c->dim = 1024;
        c->hidden_dim = 3072;
        c->n_layers = 28;
        c->n_heads = 16;
        c->n_kv_heads = 8;
        c->head_dim = 128;
        c->vocab_size = 151936;
        c->max_pos = 40960;
        c->norm_eps = 1e-6f;
        c->rope_theta = 1000000.0f;
        c->bos_id = 151643;
        c->eos_id = 151645;
        return 0;
    }
    if (strcmp(name, "llama3.2-1b") == 0) {
        /* meta-llama/Llama-3.2-1B's config.json */
        c->dim = 2048;
        c->hidden_dim = 8192;
        c->n_layers = 16;
        c->n_heads = 32;
        c->n_kv_heads = 8;
        c->head_dim = 64;
        c->vocab_size = 128256;
        c->max_pos = 131072;
        c->rope_theta = 500000.0f;
        c->rope = (struct model_rope_scaling){ .type = MODEL_ROPE_LLAMA3, .factor = 32.0,
                                               .low_freq_factor = 1.0,
                                               .high_freq_factor = 4.0,
                                               .orig_max_pos = 8192 };
        c->bos_id = 128000;
        c->eos_id = 128001;
        return 0;
    }
    if (strcmp(name, "qwen3-30b-a3b") == 0) {
        /* Qwen/Qwen3-30B-A3B's config.json */
        strcpy(c->model_type, "qwen3_moe");
        c->qk_norm = 1;
        c->dim = 2048;
        c->hidden_dim = 6144;
        c->n_layers = 48;
        c->n_heads = 32;
        c->n_kv_heads = 4;
        c->head_dim = 128;
        c->vocab_size = 151936;
        c->max_pos = 40960;
        c->norm_eps = 1e-6f;
        c->rope_theta = 1000000.0f;
        c->tie_embeddings = 0;
        c->moe = (struct model_moe){.n_experts = 128, .top_k = 8, .hidden = 768,
                                    .norm_topk = 1, .n_group = 1, .topk_group = 1,
                                    .scaling = 1.0f, .sparse_step = 1};
        c->bos_id = 151643;
        c->eos_id = 151645;
        return 0;
    }
    if (strcmp(name, "qwen3-moe-tiny") == 0) {
        /* Qwen3-MoE at the tiny test shape: 8 experts, top 2, one dense layer */
        tiny_preset("qwen3-tiny", c);
        strcpy(c->model_type, "qwen3_moe");
        c->n_layers = 3;
        c->moe = (struct model_moe){.n_experts = 8, .top_k = 2, .hidden = 96, .norm_topk = 1,
                                    .n_group = 1, .topk_group = 1, .scaling = 1.0f,
                                    .sparse_step = 1};
        c->moe.mlp_only[0] = 1; /* layer 0 dense */
        return 0;
    }
    if (strcmp(name, "deepseek-v3-tiny") == 0) {
        /* DeepSeek-V3 at the tiny test shape: MLA with q_lora_rank, layer 0
           dense, then 8 routed experts in 2 groups, top 2 of the best group,
           one shared expert */
        tiny_preset("qwen3-tiny", c);
        strcpy(c->model_type, "deepseek_v3");
        c->qk_norm = 0;
        c->tie_embeddings = 0;
        c->n_layers = 3;
        c->n_kv_heads = 4;
        c->norm_eps = 1e-6f;
        c->mla = (struct model_mla){.q_lora_rank = 48, .kv_lora_rank = 32, .nope = 32,
                                    .rope = 16, .v_dim = 32, .interleave = 1};
        c->head_dim = 16;
        c->moe = (struct model_moe){.n_experts = 8, .top_k = 2, .hidden = 96, .norm_topk = 1,
                                    .sigmoid = 1, .n_group = 2, .topk_group = 1,
                                    .scaling = 2.5f, .n_shared = 1, .score_bias = 1,
                                    .first_dense = 1, .sparse_step = 1};
        return 0;
    }
    if (strcmp(name, "deepseek-v2-lite") == 0) {
        /* deepseek-ai/DeepSeek-V2-Lite's shapes as a deepseek_v3 config: the
           same MLA (no q_lora_rank) and experts, but DeepSeek-V3's sigmoid
           router with the selection bias where V2 has a softmax one */
        c->dim = 2048;
        c->hidden_dim = 10944;
        c->n_layers = 27;
        c->n_heads = 16;
        c->n_kv_heads = 16;
        c->vocab_size = 102400;
        c->max_pos = 163840;
        c->norm_eps = 1e-6f;
        c->tie_embeddings = 0;
        strcpy(c->model_type, "deepseek_v3");
        c->mla = (struct model_mla){.kv_lora_rank = 512, .nope = 128, .rope = 64,
                                    .v_dim = 128, .interleave = 1};
        c->head_dim = 64;
        c->rope = (struct model_rope_scaling){.type = MODEL_ROPE_YARN, .factor = 40.0,
                                              .orig_max_pos = 4096, .beta_fast = 32.0,
                                              .beta_slow = 1.0, .mscale = 0.707,
                                              .mscale_all_dim = 0.707};
        c->moe = (struct model_moe){.n_experts = 64, .top_k = 6, .hidden = 1408,
                                    .sigmoid = 1, .n_group = 1, .topk_group = 1,
                                    .scaling = 1.0f, .n_shared = 2, .score_bias = 1,
                                    .first_dense = 1, .sparse_step = 1};
        c->bos_id = 100000;
        c->eos_id = 100001;
        return 0;
    }
    return tiny_preset(name, c);
}

/* rope_scaling as transformers writes it (null for the default). */
static json_t *
rope_to_json(const struct model_rope_scaling *r)
{
    static const char *const names[] = { "default", "linear", "dynamic", "yarn", "llama3" };
    json_t *o;

    if (r->type == MODEL_ROPE_DEFAULT)
        return json_null();
    o = json_object();
    json_object_set_new(o, "rope_type", json_string(names[r->type]));
    json_object_set_new(o, "factor", json_real(r->factor));
    if (r->orig_max_pos > 0)
        json_object_set_new(o, "original_max_position_embeddings",
                            json_integer(r->orig_max_pos));
    if (r->type == MODEL_ROPE_LLAMA3) {
        json_object_set_new(o, "low_freq_factor", json_real(r->low_freq_factor));
        json_object_set_new(o, "high_freq_factor", json_real(r->high_freq_factor));
    }
    if (r->type == MODEL_ROPE_YARN) {
#define OPT(k, f) if (r->f > 0) json_object_set_new(o, k, json_real(r->f))
        OPT("beta_fast", beta_fast);
        OPT("beta_slow", beta_slow);
        OPT("mscale", mscale);
        OPT("mscale_all_dim", mscale_all_dim);
        OPT("attention_factor", attention_factor);
#undef OPT
        if (r->no_truncate)
            json_object_set_new(o, "truncate", json_false());
    }
    return o;
}

json_t *
ckpt_config_to_json(const struct model_config *c, const json_t *base)
{
    json_t *js = base ? json_deep_copy(base) : json_object();
    const char *kind = c->arch == MODEL_SEQ_CLS ? "ForSequenceClassification" : "ForCausalLM";
    const char *fam = strcmp(c->model_type, "qwen2") == 0   ? "Qwen2"
                      : strcmp(c->model_type, "qwen3") == 0 ? "Qwen3"
                      : strcmp(c->model_type, "qwen3_moe") == 0 ? "Qwen3Moe"
                      : strcmp(c->model_type, "deepseek_v3") == 0 ? "DeepseekV3"
                      : strcmp(c->model_type, "mistral") == 0 ? "Mistral" : "Llama";
    char arch[96];

    snprintf(arch, sizeof(arch), "%s%s", fam, kind);
    json_object_set_new(js, "architectures", json_pack("[s]", arch));
    json_object_set_new(js, "model_type", json_string(c->model_type));
    json_object_set_new(js, "hidden_size", json_integer(c->dim));
    json_object_set_new(js, "intermediate_size", json_integer(c->hidden_dim));
    json_object_set_new(js, "num_hidden_layers", json_integer(c->n_layers));
    json_object_set_new(js, "num_attention_heads", json_integer(c->n_heads));
    json_object_set_new(js, "num_key_value_heads", json_integer(c->n_kv_heads));
    json_object_set_new(js, "head_dim", json_integer(c->head_dim));
    json_object_set_new(js, "vocab_size", json_integer(c->vocab_size));
    json_object_set_new(js, "max_position_embeddings", json_integer(c->max_pos));
    json_object_set_new(js, "rms_norm_eps", json_float(c->norm_eps));
    json_object_set_new(js, "rope_theta", json_float(c->rope_theta));
    json_object_set_new(js, "tie_word_embeddings", json_boolean(c->tie_embeddings));
    if (!json_object_get(js, "rope_scaling") && c->rope.type != MODEL_ROPE_DEFAULT)
        json_object_set_new(js, "rope_scaling", rope_to_json(&c->rope));
    if (strcmp(c->model_type, "qwen2") != 0)
        json_object_set_new(js, "attention_bias", json_false());
    json_object_set_new(js, "hidden_act", json_string("silu"));
    if (strcmp(c->model_type, "qwen3_moe") == 0)
        moe_to_json(js, c);
    if (strcmp(c->model_type, "deepseek_v3") == 0)
        deepseek_to_json(js, c);
    if (c->bos_id >= 0)
        json_object_set_new(js, "bos_token_id", json_integer(c->bos_id));
    if (c->eos_id >= 0)
        json_object_set_new(js, "eos_token_id", json_integer(c->eos_id));
    if (c->pad_id >= 0)
        json_object_set_new(js, "pad_token_id", json_integer(c->pad_id));
    json_object_set_new(js, "torch_dtype", json_string("float32"));
    if (c->arch == MODEL_SEQ_CLS) {
        json_t *id2 = json_object(), *l2 = json_object();
        int i;
        for (i = 0; i < c->num_labels; i++) {
            char k[16], v[24];
            snprintf(k, sizeof(k), "%d", i);
            snprintf(v, sizeof(v), "LABEL_%d", i);
            json_object_set_new(id2, k, json_string(v));
            json_object_set_new(l2, v, json_integer(i));
        }
        json_object_set_new(js, "id2label", id2);
        json_object_set_new(js, "label2id", l2);
        json_object_set_new(js, "num_labels", json_integer(c->num_labels));
    } else {
        json_object_del(js, "id2label");
        json_object_del(js, "label2id");
        json_object_del(js, "num_labels");
    }
    return js;
}

int
ckpt_read_config(const char *path, struct model_config *c, json_t **js, struct sbuf *err)
{
    json_error_t je;
    json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);

    if (!o) {
        if (je.line <= 0)
            sbuf_addf(err, "%s: %s", path, je.text);
        else
            sbuf_addf(err, "%s:%d: %s", path, je.line, je.text);
        return -1;
    }
    {
        struct sbuf e = SBUF_INIT;
        if (ckpt_config_from_json(o, c, &e) < 0) {
            sbuf_addf(err, "%s: %s", path, sbuf_str(&e));
            sbuf_release(&e);
            json_decref(o);
            return -1;
        }
        sbuf_release(&e);
    }
    if (js)
        *js = o;
    else
        json_decref(o);
    return 0;
}

/* ============================== loading ============================== */

char *
ckpt_path_join(const char *dir, const char *name)
{
    struct sbuf sb = SBUF_INIT;

    sbuf_addf(&sb, "%s/%s", dir, name);
    return sb.buf;
}

static int
is_ignored_tensor(const char *name)
{
    size_t n = strlen(name);
    const char *sfx = "rotary_emb.inv_freq";

    return n >= strlen(sfx) && strcmp(name + n - strlen(sfx), sfx) == 0;
}

/*
 * A tensor of DeepSeek-V3's multi-token prediction modules: layers
 * num_hidden_layers .. + num_nextn_predict_layers - 1, which the decoder
 * does not run (transformers skips them on load too).
 */
static int
is_mtp_tensor(const char *name, const struct model_config *c, const json_t *cj)
{
    json_t *v = json_object_get(cj, "num_nextn_predict_layers");
    const char *pre = "model.layers.";
    char *end;
    long l;

    if (strcmp(c->model_type, "deepseek_v3") != 0 || !json_is_integer(v) ||
        strncmp(name, pre, strlen(pre)) != 0)
        return 0;
    l = strtol(name + strlen(pre), &end, 10);
    return *end == '.' && l >= c->n_layers && l < c->n_layers + json_integer_value(v);
}

struct model *
ckpt_load(const char *dir, int flags, json_t **js, struct sbuf *err)
{
    char *cpath = ckpt_path_join(dir, "config.json");
    const char *mpath;
    struct model_config c;
    struct st_set *st = NULL;
    struct model *m = NULL;
    json_t *cj = NULL;
    size_t i, nmtp = 0;
    int k, ok = 0;

    if (ckpt_read_config(cpath, &c, &cj, err))
        goto out;
    if (flags & CKPT_AS_SEQ_CLS) {
        c.arch = MODEL_SEQ_CLS;
        if (c.num_labels <= 0)
            c.num_labels = 1;
    }
    st = st_set_open(dir, "model", err);
    if (!st)
        goto out;
    mpath = st->path;
    m = model_new(&c);
    for (k = 0; k < m->ntensors; k++) {
        const struct model_tensor *t = &m->tensors[k];
        const struct st_tensor *s = st_set_find(st, t->name);
        int d;
        if (!s && (flags & CKPT_AS_SEQ_CLS) && strcmp(t->name, "score.weight") == 0)
            continue;   /* zero, as model_new left it */
        if (!s) {
            sbuf_addf(err, "%s: tensor '%s' is missing", mpath, t->name);
            goto out;
        }
        for (d = 0; d < t->ndim; d++)
            if (s->ndim != t->ndim || s->shape[d] != t->shape[d])
                break;
        if (s->ndim != t->ndim || d < t->ndim) {
            sbuf_addf(err, "%s: tensor '%s' has shape [", mpath, t->name);
            for (d = 0; d < s->ndim; d++)
                sbuf_addf(err, "%s%lld", d ? ", " : "", (long long)s->shape[d]);
            sbuf_addf(err, "], config.json says [%lld", (long long)t->shape[0]);
            if (t->ndim == 2)
                sbuf_addf(err, ", %lld", (long long)t->shape[1]);
            sbuf_adds(err, "]");
            goto out;
        }
        if (st_tensor_to_f32(s, m->params + t->off, t->n, err)) {
            goto out;
        }
    }
    for (i = 0; i < st->ntensors; i++) {
        const char *nm = st->sorted[i]->name;
        if (model_find_tensor(m, nm) || is_ignored_tensor(nm))
            continue;
        if (is_mtp_tensor(nm, &c, cj)) {
            nmtp++;
            continue;
        }
        if (strcmp(nm, "lm_head.weight") == 0 &&
            (c.tie_embeddings || c.arch == MODEL_SEQ_CLS))
            continue;
        sbuf_addf(err, "%s: tensor '%s' is not part of a %s model", mpath, nm, c.model_type);
        goto out;
    }
    if (nmtp > 0)
        warnx_("%s: %zu tensors of the multi-token prediction layers (model.layers.%d on, "
               "num_nextn_predict_layers) are not loaded", mpath, nmtp, c.n_layers);
    ok = 1;
out:
    st_set_close(st);
    free(cpath);
    if (!ok) {
        model_free(m);
        json_decref(cj);
        return NULL;
    }
    if (js)
        *js = cj;
    else
        json_decref(cj);
    return m;
}

/* ============================== saving ============================== */

/* ---- the weight files ---- */

static const struct {
    const char *torch, *s1, *s2;
    int dtype;
} save_dtypes[] = {
    {"float32", "f32", "fp32", ST_F32},
    {"bfloat16", "bf16", "bf16", ST_BF16},
    {"float16", "f16", "fp16", ST_F16},
};

static const char *
torch_dtype_name(int dtype)
{
    size_t i;

    for (i = 0; i < ARRAY_LEN(save_dtypes); i++)
        if (save_dtypes[i].dtype == dtype)
            return save_dtypes[i].torch;
    return "float32";
}

int
ckpt_parse_dtype(const char *s, int *dtype)
{
    size_t i;

    if (strcmp(s, "auto") == 0) {
        *dtype = CKPT_DTYPE_AUTO;
        return 0;
    }
    for (i = 0; i < ARRAY_LEN(save_dtypes); i++)
        if (strcmp(s, save_dtypes[i].torch) == 0 || strcmp(s, save_dtypes[i].s1) == 0 ||
            strcmp(s, save_dtypes[i].s2) == 0) {
            *dtype = save_dtypes[i].dtype;
            return 0;
        }
    return -1;
}

/* The dtype to write: fmt's, or the config's torch_dtype ("auto", none: F32). */
static int
save_dtype(const struct ckpt_format *fmt, const json_t *config)
{
    const char *td = json_string_value(json_object_get(config, "torch_dtype"));
    int d = fmt ? fmt->dtype : ST_F32;

    if (d == CKPT_DTYPE_AUTO && (!td || ckpt_parse_dtype(td, &d) || d == CKPT_DTYPE_AUTO))
        d = ST_F32;
    return d;
}

int
ckpt_parse_size(const char *s, uint64_t *out)
{
    static const struct {
        const char *unit;
        uint64_t mul;
    } units[] = {{"", 1}, {"KB", 1000}, {"MB", 1000000}, {"GB", 1000000000ULL},
                 {"TB", 1000000000000ULL}};
    uint64_t v = 0;
    size_t i;

    if (!(*s >= '0' && *s <= '9'))
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    for (i = 0; i < ARRAY_LEN(units); i++)
        if (strcasecmp(s, units[i].unit) == 0) {
            if (v == 0 || v > UINT64_MAX / units[i].mul)
                return -1;
            *out = v * units[i].mul;
            return 0;
        }
    return -1;
}

/*
 * Rank of a tensor in transformers' state-dict order (modules in the
 * order their __init__ registers them: embed_tokens, then each layer's
 * self_attn q/k/v/o projections (weight, bias), q_norm, k_norm, mlp
 * gate/up/down, input_layernorm, post_attention_layernorm; then norm,
 * lm_head or score).  Names it does not list keep the model's order
 * after the listed ones of their layer.
 */
static void
hf_rank(const char *name, long key[3])
{
    static const char *const sub[] = {
        "self_attn.q_proj.weight", "self_attn.q_proj.bias", "self_attn.k_proj.weight",
        "self_attn.k_proj.bias", "self_attn.v_proj.weight", "self_attn.v_proj.bias",
        "self_attn.o_proj.weight", "self_attn.o_proj.bias", "self_attn.q_norm.weight",
        "self_attn.k_norm.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
        "mlp.down_proj.weight", "input_layernorm.weight", "post_attention_layernorm.weight",
    };
    const char *pre = "model.layers.";
    size_t i;

    key[1] = key[2] = 0;
    if (strcmp(name, "model.embed_tokens.weight") == 0) {
        key[0] = 0;
    } else if (strncmp(name, pre, strlen(pre)) == 0) {
        char *end;
        key[0] = 1;
        key[1] = strtol(name + strlen(pre), &end, 10);
        key[2] = (long)ARRAY_LEN(sub);
        for (i = 0; *end == '.' && i < ARRAY_LEN(sub); i++)
            if (strcmp(end + 1, sub[i]) == 0)
                key[2] = (long)i;
    } else if (strcmp(name, "model.norm.weight") == 0) {
        key[0] = 2;
    } else {
        key[0] = 3;
    }
}

static int
cmp_hf_order(const void *a, const void *b, void *mp)
{
    const struct model *m = mp;
    int x = *(const int *)a, y = *(const int *)b, k;
    long kx[3], ky[3];

    hf_rank(m->tensors[x].name, kx);
    hf_rank(m->tensors[y].name, ky);
    for (k = 0; k < 3; k++)
        if (kx[k] != ky[k])
            return kx[k] < ky[k] ? -1 : 1;
    return x - y;
}

/* Writes m's tensors in dtype into dir, sharded past max_shard bytes. */
static int
write_weights(const char *dir, const struct model *m, int dtype, uint64_t max_shard,
              struct sbuf *err)
{
    struct st_out *outs = xcalloc((size_t)m->ntensors, sizeof(*outs));
    int *ord = xcalloc((size_t)m->ntensors, sizeof(*ord)), i, rc;
    uint16_t *half = NULL;
    json_t *meta = json_pack("{s:s}", "format", "pt");
    json_t *imeta = json_pack("{s:I}", "total_parameters", (json_int_t)m->nparams);
    size_t k;

    if (dtype != ST_F32) {
        half = xmalloc(m->nparams * sizeof(*half));
        for (k = 0; k < m->nparams; k++)
            half[k] = dtype == ST_BF16 ? st_f32_to_bf16(m->params[k])
                                       : st_f32_to_f16(m->params[k]);
    }
    for (i = 0; i < m->ntensors; i++)
        ord[i] = i;
    qsort_r(ord, (size_t)m->ntensors, sizeof(*ord), cmp_hf_order, (void *)m);
    for (i = 0; i < m->ntensors; i++) {
        const struct model_tensor *t = &m->tensors[ord[i]];
        outs[i].name = t->name;
        outs[i].dtype = (enum st_dtype)dtype;
        outs[i].ndim = t->ndim;
        outs[i].shape[0] = t->shape[0];
        outs[i].shape[1] = t->shape[1];
        outs[i].data = half ? (const void *)(half + t->off) : (const void *)(m->params + t->off);
    }
    rc = st_write_sharded(dir, "model", outs, (size_t)m->ntensors, meta,
                          max_shard ? max_shard : ST_MAX_SHARD_DEFAULT, imeta, err);
    json_decref(imeta);
    json_decref(meta);
    free(half);
    free(ord);
    free(outs);
    return rc;
}


static int
write_json(const char *path, const json_t *js, struct sbuf *err)
{
    char *s = json_dumps(js, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), rc = -1;
    size_t n = s ? strlen(s) : 0;

    if (fd < 0 || !s) {
        sbuf_addf(err, "%s: %s", path, s ? strerror(errno) : "cannot encode JSON");
        goto out;
    }
    if (write(fd, s, n) != (ssize_t)n || write(fd, "\n", 1) != 1 || fsync(fd)) {
        sbuf_addf(err, "%s: write: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0 && close(fd) && rc == 0) {
        sbuf_addf(err, "%s: close: %s", path, strerror(errno));
        rc = -1;
    }
    free(s);
    return rc;
}

static int
copy_file(const char *from, const char *to, struct sbuf *err)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    char buf[1 << 16];
    ssize_t n;

    if (in < 0) {
        sbuf_addf(err, "%s: %s", from, strerror(errno));
        return -1;
    }
    out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0) {
        sbuf_addf(err, "%s: %s", to, strerror(errno));
        goto out;
    }
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n) {
            sbuf_addf(err, "%s: write: %s", to, strerror(errno));
            goto out;
        }
    if (n < 0) {
        sbuf_addf(err, "%s: read: %s", from, strerror(errno));
        goto out;
    }
    if (fsync(out)) {
        sbuf_addf(err, "%s: fsync: %s", to, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    close(in);
    if (out >= 0 && close(out) && rc == 0)
        rc = -1;
    return rc;
}

static int
rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void
rm_tree(const char *path)
{
    nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int
fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

static json_t *
trainer_state(const struct optim *o, const json_t *extra)
{
    json_t *js = extra ? json_deep_copy(extra) : json_object(), *rng = json_array();
    const struct optim_config *c = &o->cfg;
    int i;

    json_object_set_new(js, "global_step", json_integer(o->step));
    json_object_set_new(js, "optimizer",
                        json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "name", "adamw",
                                  "lr", json_float(c->lr), "beta1", json_float(c->beta1),
                                  "beta2", json_float(c->beta2), "eps", json_float(c->eps),
                                  "weight_decay", json_float(c->weight_decay), "grad_clip",
                                  json_float(c->grad_clip)));
    json_object_set_new(js, "schedule",
                        json_pack("{s:s, s:o, s:o, s:I, s:I}", "name",
                                  optim_schedule_name(c->schedule), "lr", json_float(c->lr),
                                  "min_lr", json_float(c->min_lr), "warmup_steps",
                                  (json_int_t)c->warmup_steps, "total_steps",
                                  (json_int_t)c->total_steps));
    for (i = 0; i < 4; i++) {
        char hex[24];
        snprintf(hex, sizeof(hex), "0x%016llx", (unsigned long long)o->rng.s[i]);
        json_array_append_new(rng, json_string(hex));
    }
    json_object_set_new(js, "rng", rng);
    return js;
}

/*
 * A failed save's message (what err got from index from on) names the
 * file by its final name, DIR/model.safetensors, not by the temporary's.
 */
static void
final_names(struct sbuf *err, size_t from, const char *tmp, const char *dir)
{
    char *p = err->len > from ? strstr(err->buf + from, tmp) : NULL, *tail;

    if (!p)
        return;
    tail = xstrdup(p + strlen(tmp));
    err->len = (size_t)(p - err->buf);
    sbuf_adds(err, dir);
    sbuf_adds(err, tail);
    free(tail);
}

int
ckpt_save(const char *dir, const struct model *m, const json_t *config, const struct optim *o,
          const json_t *state_extra, const char *tok_from, struct sbuf *err)
{
    return ckpt_save_as(dir, m, config, o, state_extra, tok_from, NULL, err);
}

/* What ckpt_save_as puts in the directory before the optimizer state. */
struct model_files {
    const struct model *m;
    const json_t *config;
    const struct ckpt_format *fmt;
};

static int
write_model_files(const char *tmp, void *ctx, struct sbuf *err)
{
    const struct model_files *mf = ctx;
    int dtype = save_dtype(mf->fmt, mf->config), rc = -1;
    json_t *js = ckpt_config_to_json(&mf->m->cfg, mf->config);
    char *p = ckpt_path_join(tmp, "config.json");

    json_object_set_new(js, "torch_dtype", json_string(torch_dtype_name(dtype)));
    if (write_json(p, js, err))
        goto out;
    /* model.safetensors, or its shards and index */
    if (write_weights(tmp, mf->m, dtype, mf->fmt ? mf->fmt->max_shard_size : 0, err))
        goto out;
    rc = 0;
out:
    free(p);
    json_decref(js);
    return rc;
}

int
ckpt_save_as(const char *dir, const struct model *m, const json_t *config,
             const struct optim *o, const json_t *state_extra, const char *tok_from,
             const struct ckpt_format *fmt, struct sbuf *err)
{
    struct model_files mf = {m, config, fmt};

    return ckpt_save_dir(dir, write_model_files, &mf, o, state_extra, tok_from, err);
}

int
ckpt_save_dir(const char *dir, ckpt_write_fn write_files, void *ctx, const struct optim *o,
              const json_t *state_extra, const char *tok_from, struct sbuf *err)
{
    char *d1 = xstrdup(dir), *d2 = xstrdup(dir), *tmp = NULL, *p = NULL;
    const char *parent = dirname(d1), *base = basename(d2);
    struct sbuf sb = SBUF_INIT;
    json_t *js = NULL;
    struct stat stb;
    int rc = -1, exists, lockfd = -1;
    size_t err0 = err->len;

    /* reclaims dead writers' temporaries in parent; locked until renamed */
    sbuf_addf(&sb, "%s/%s", parent, base);   /* without a trailing '/' */
    lockfd = tmpf_mkdir(sbuf_str(&sb), &tmp, err);
    if (lockfd < 0)
        goto out;
    if (write_files(tmp, ctx, err))
        goto out;
    /* optimizer.safetensors, trainer_state.json */
    if (o) {
        struct st_out ot[2] = {
            {"exp_avg", ST_F32, 1, {(int64_t)o->n}, o->m},
            {"exp_avg_sq", ST_F32, 1, {(int64_t)o->n}, o->v},
        };
        char step[32];
        snprintf(step, sizeof(step), "%ld", o->step);
        js = json_pack("{s:s, s:s}", "format", "posttrain-adamw", "global_step", step);
        p = ckpt_path_join(tmp, CKPT_OPTIMIZER);
        if (safetensors_write(p, ot, 2, js, err))
            goto out;
        free(p);
        json_decref(js);
        js = trainer_state(o, state_extra);
        p = ckpt_path_join(tmp, CKPT_TRAINER_STATE);
        if (write_json(p, js, err))
            goto out;
        free(p);
        p = NULL;
    }
    /* tokenizer.json */
    if (tok_from) {
        char *src = NULL;
        if (stat(tok_from, &stb) == 0 && S_ISDIR(stb.st_mode)) {
            src = ckpt_path_join(tok_from, "tokenizer.json");
            if (access(src, F_OK) != 0) {
                free(src);
                src = NULL;
            }
        } else {
            src = xstrdup(tok_from);
        }
        if (src) {
            p = ckpt_path_join(tmp, "tokenizer.json");
            if (copy_file(src, p, err)) {
                free(src);
                goto out;
            }
            free(src);
            free(p);
            p = NULL;
        }
    }
    if (fsync_dir(tmp)) {
        sbuf_addf(err, "%s: fsync: %s", tmp, strerror(errno));
        goto out;
    }
    /* into place: swap with an existing checkpoint atomically, or rename */
    exists = lstat(dir, &stb) == 0;
    if (exists && !S_ISDIR(stb.st_mode)) {
        sbuf_addf(err, "%s: exists and is not a directory", dir);
        goto out;
    }
    if (exists) {
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
            rm_tree(tmp);  /* the old checkpoint, now under the temp name */
        } else {
            /* file systems without RENAME_EXCHANGE: move the old one aside first */
            struct sbuf old = SBUF_INIT;
            sbuf_addf(&old, "%s/.%s.old-%ld", parent, base, (long)getpid());
            rm_tree(sbuf_str(&old));
            if (rename(dir, sbuf_str(&old)) || rename(tmp, dir)) {
                sbuf_addf(err, "%s: rename: %s", dir, strerror(errno));
                sbuf_release(&old);
                goto out;
            }
            rm_tree(sbuf_str(&old));
            sbuf_release(&old);
        }
    } else if (rename(tmp, dir)) {
        sbuf_addf(err, "%s: rename: %s", dir, strerror(errno));
        goto out;
    }
    free(tmp);
    tmp = NULL;
    if (fsync_dir(parent)) {
        sbuf_addf(err, "%s: fsync: %s", parent, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (tmp) {
        final_names(err, err0, tmp, sbuf_str(&sb));
        rm_tree(tmp);
        free(tmp);
    }
    if (lockfd >= 0)
        close(lockfd);
    free(p);
    json_decref(js);
    sbuf_release(&sb);
    free(d1);
    free(d2);
    return rc;
}

/* ============================== optimizer state ============================== */

static int
state_float(const json_t *o, const char *key, float *out)
{
    json_t *v = json_object_get(o, key);

    if (!json_is_number(v))
        return -1;
    *out = (float)json_number_value(v);
    return 0;
}

int
ckpt_has_optim(const char *dir)
{
    char *p = ckpt_path_join(dir, CKPT_OPTIMIZER);
    struct stat sb;
    int has = stat(p, &sb) == 0;

    free(p);
    return has;
}

json_t *
ckpt_read_state(const char *dir, struct sbuf *err)
{
    char *p = ckpt_path_join(dir, CKPT_TRAINER_STATE);
    json_error_t je;
    json_t *js = json_load_file(p, 0, &je);

    if (!js)
        sbuf_addf(err, "%s: %s", p, je.text);
    free(p);
    return js;
}

long
ckpt_state_step(const char *dir)
{
    struct sbuf err = SBUF_INIT;
    json_t *js = ckpt_read_state(dir, &err), *v;
    long step = 0;

    v = js ? json_object_get(js, "global_step") : NULL;
    if (json_is_integer(v))
        step = (long)json_integer_value(v);
    json_decref(js);
    sbuf_release(&err);
    return step;
}

struct optim *
ckpt_load_optim(const char *dir, size_t n, struct sbuf *err)
{
    char *sp = ckpt_path_join(dir, CKPT_TRAINER_STATE), *op = ckpt_path_join(dir, CKPT_OPTIMIZER);
    struct optim_config c;
    struct optim *o = NULL;
    struct safetensors *st = NULL;
    const struct st_tensor *ma, *va;
    json_t *js, *opt, *sch, *rng, *gs;
    json_error_t je;
    int i, ok = 0;

    js = json_load_file(sp, 0, &je);
    if (!js) {
        sbuf_addf(err, "%s: %s", sp, je.text);
        goto out;
    }
    optim_config_default(&c);
    opt = json_object_get(js, "optimizer");
    sch = json_object_get(js, "schedule");
    rng = json_object_get(js, "rng");
    gs = json_object_get(js, "global_step");
    if (!json_is_integer(gs) || json_integer_value(gs) < 0 || !json_is_object(opt) ||
        !json_is_object(sch) || !json_is_array(rng) || json_array_size(rng) != 4 ||
        state_float(opt, "lr", &c.lr) || state_float(opt, "beta1", &c.beta1) ||
        state_float(opt, "beta2", &c.beta2) || state_float(opt, "eps", &c.eps) ||
        state_float(opt, "weight_decay", &c.weight_decay) ||
        state_float(opt, "grad_clip", &c.grad_clip) || state_float(sch, "min_lr", &c.min_lr) ||
        !json_is_string(json_object_get(sch, "name")) ||
        optim_schedule_parse(json_string_value(json_object_get(sch, "name")), &c.schedule) ||
        !json_is_integer(json_object_get(sch, "warmup_steps")) ||
        !json_is_integer(json_object_get(sch, "total_steps"))) {
        sbuf_addf(err, "%s: not a trainer state (global_step, optimizer, schedule, rng)", sp);
        goto out;
    }
    c.warmup_steps = (long)json_integer_value(json_object_get(sch, "warmup_steps"));
    c.total_steps = (long)json_integer_value(json_object_get(sch, "total_steps"));
    st = safetensors_open(op, err);
    if (!st)
        goto out;
    ma = safetensors_find(st, "exp_avg");
    va = safetensors_find(st, "exp_avg_sq");
    if (!ma || !va || ma->dtype != ST_F32 || va->dtype != ST_F32 || ma->numel != n ||
        va->numel != n) {
        sbuf_addf(err, "%s: needs F32 tensors exp_avg and exp_avg_sq of %zu elements", op, n);
        goto out;
    }
    o = optim_new(&c, n);
    memcpy(o->m, ma->data, n * sizeof(float));
    memcpy(o->v, va->data, n * sizeof(float));
    o->step = (long)json_integer_value(gs);
    for (i = 0; i < 4; i++) {
        const char *h = json_string_value(json_array_get(rng, (size_t)i));
        if (!h || parse_u64(h, &o->rng.s[i])) {
            sbuf_addf(err, "%s: field 'rng': not 4 hex strings", sp);
            optim_free(o);
            o = NULL;
            goto out;
        }
    }
    ok = 1;
out:
    (void)ok;
    safetensors_close(st);
    json_decref(js);
    free(sp);
    free(op);
    return o;
}

void
ckpt_optim_no_decay(struct optim *o, const struct model *m)
{
    int i;

    for (i = 0; i < m->ntensors; i++)
        if (!m->tensors[i].decay)
            optim_no_decay(o, m->tensors[i].off, m->tensors[i].n);
}

/*
 * The weights are hashed in fixed blocks of CKPT_HASH_BLOCK bytes, one
 * XXH64 each (seeded with its index), on the pool's threads; the id hashes
 * the block hashes in order.  So it is the same whatever the threads, and
 * a start of gen on a 2.4 GB model costs a fraction of a second of memory
 * reads rather than seconds of a byte-serial hash.
 */
#define CKPT_HASH_BLOCK ((size_t)8 << 20)

struct hash_job {
    const unsigned char *p;
    size_t n;
    uint64_t *h;
};

static void
hash_block(void *ctx, int task, int tid)
{
    const struct hash_job *j = ctx;
    size_t off = (size_t)task * CKPT_HASH_BLOCK;
    size_t len = j->n - off < CKPT_HASH_BLOCK ? j->n - off : CKPT_HASH_BLOCK;

    (void)tid;
    j->h[task] = xxh64(j->p + off, len, (uint64_t)task);
}

void
ckpt_hash(const struct model *m, char out[17])
{
    struct hash_job j = { (const unsigned char *)m->params, m->nparams * sizeof(float), NULL };
    size_t nb = (j.n + CKPT_HASH_BLOCK - 1) / CKPT_HASH_BLOCK;
    uint64_t h;
    int i;

    j.h = xcalloc(nb ? nb : 1, sizeof(*j.h));
    pool_run(hash_block, &j, (int)nb);
    h = hash64(j.h, nb * sizeof(*j.h), 0x706f6c696379ULL);
    free(j.h);
    for (i = 0; i < m->ntensors; i++)
        h = hash64(&m->tensors[i], sizeof(m->tensors[i]), h);
    if (m->lora)
        h = lora_hash(m->lora, h);
    if (m->w16) /* bf16 products are another policy than fp32 ones */
        h = hash64("bf16", 4, h);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}
