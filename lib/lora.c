/*
 * lora.c - low-rank adapters (lora.h): their layout over a model, PEFT's
 * files, the forward's two steps (block.c runs them) and the backward
 * (model.c calls it), merging.  Not here: the product of the base
 * weights, which stays block.c's and model.c's.
 */
#include "lora.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "safetensors.h"

/* ============================== Config ============================== */

static const char *const target_names[LORA_NT] = {
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
};
static const char *const target_short[LORA_NT] = {
    "q", "k", "v", "o", "gate", "up", "down",
};
/* The module path of each target inside a decoder layer. */
static const char *const target_path[LORA_NT] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
};

void
lora_config_default(struct lora_config *c)
{
    memset(c, 0, sizeof(*c));
    c->r = 8;
    c->alpha = 16;
    c->dropout = 0;
    c->targets = LORA_ALL_TARGETS;
}

const char *
lora_target_name(enum lora_target t)
{
    return target_names[t];
}

static int
target_of(const char *s, size_t n)
{
    int t;

    for (t = 0; t < LORA_NT; t++)
        if ((strlen(target_short[t]) == n && strncmp(s, target_short[t], n) == 0) ||
            (strlen(target_names[t]) == n && strncmp(s, target_names[t], n) == 0))
            return t;
    return -1;
}

int
lora_targets_parse(const char *s, unsigned *targets, const char **why)
{
    unsigned set = 0;
    const char *p = s;

    if (strcmp(s, "all") == 0 || strcmp(s, "all-linear") == 0) {
        *targets = LORA_ALL_TARGETS;
        return 0;
    }
    for (;;) {
        size_t n = strcspn(p, ",");
        int t = target_of(p, n);
        if (t < 0) {
            *why = n ? "a target is not one of q, k, v, o, gate, up, down" : "an empty target";
            return -1;
        }
        set |= 1u << t;
        if (!p[n])
            break;
        p += n + 1;
    }
    *targets = set;
    return 0;
}

static const char *
config_check(const struct lora_config *c)
{
    if (c->r < 1 || c->r > LORA_MAX_RANK)
        return "r must be in [1, 4096]";
    if (!(c->alpha > 0) || !isfinite(c->alpha))
        return "lora_alpha must be positive";
    if (!(c->dropout >= 0 && c->dropout < 1))
        return "lora_dropout must be in [0, 1)";
    if (!c->targets || (c->targets & ~LORA_ALL_TARGETS))
        return "target_modules must name at least one of the layer's products";
    return NULL;
}

/* ============================== Layout ============================== */

/*
 * Input and output sizes of target t in layer l, its product and first
 * column there; 0 when the layer has no such product (the MLP targets of
 * a sparse layer, whose experts take no adapter).
 */
static int
target_dims(const struct model *m, int l, int t, int *in, int *out, int *prod, int *col)
{
    const struct model_config *c = &m->cfg;
    const struct model_layer *w = &m->w.layers[l];
    int C = c->dim, H = w->mlp_hidden, QD = c->n_heads * c->head_dim;
    int KVD = c->n_kv_heads * c->head_dim;
    static const int prods[LORA_NT] = {LORA_P_QKV, LORA_P_QKV, LORA_P_QKV, LORA_P_O,
                                       LORA_P_GU,  LORA_P_GU,  LORA_P_DOWN};

    *prod = prods[t];
    if (t >= LORA_GATE && w->router)
        return 0;
    if (t < LORA_GATE && c->mla.kv_lora_rank > 0)
        return 0;   /* MLA has no q/k/v/o products of this shape */
    switch (t) {
    case LORA_Q: *in = C; *out = QD; *col = 0; break;
    case LORA_K: *in = C; *out = KVD; *col = QD; break;
    case LORA_V: *in = C; *out = KVD; *col = QD + KVD; break;
    case LORA_O: *in = QD; *out = C; *col = 0; break;
    case LORA_GATE: *in = C; *out = H; *col = 0; break;
    case LORA_UP: *in = C; *out = H; *col = H; break;
    default: *in = H; *out = C; *col = 0; break;
    }
    return 1;
}

/* The base weight (out, in) of target t in layer l of m. */
static float *
base_weight(struct model *m, int l, int t)
{
    struct model_layer *w = &m->w.layers[l];
    float *const p[LORA_NT] = {w->wq, w->wk, w->wv, w->wo, w->w_gate, w->w_up, w->w_down};

    return p[t];
}

static size_t
layout(struct lora *lo, struct lora_tensor *tab)
{
    const struct model_config *c = &lo->m->cfg;
    size_t off = 0;
    int n = 0, l, t, in, out, prod, col, b;

    for (l = 0; l < c->n_layers; l++)
        for (t = 0; t < LORA_NT; t++) {
            if (!(lo->cfg.targets & (1u << t)) ||
                !target_dims(lo->m, l, t, &in, &out, &prod, &col))
                continue;
            for (b = 0; b < 2; b++) {
                if (tab) {
                    struct lora_tensor *x = &tab[n];
                    snprintf(x->name, sizeof(x->name),
                             "base_model.model.model.layers.%d.%s.lora_%c.weight", l,
                             target_path[t], b ? 'B' : 'A');
                    x->off = off;
                    x->shape[0] = b ? out : lo->cfg.r;
                    x->shape[1] = b ? lo->cfg.r : in;
                    x->n = (size_t)x->shape[0] * (size_t)x->shape[1];
                    x->layer = l;
                    x->tgt = t;
                    x->is_b = b;
                }
                off += (size_t)lo->cfg.r * (size_t)(b ? out : in);
                n++;
            }
        }
    if (c->arch == MODEL_SEQ_CLS) {
        if (tab) {
            struct lora_tensor *x = &tab[n];
            snprintf(x->name, sizeof(x->name), "base_model.model.score.weight");
            x->off = off;
            x->shape[0] = c->num_labels;
            x->shape[1] = c->dim;
            x->n = (size_t)c->num_labels * c->dim;
            x->layer = -1;
            x->tgt = -1;
            x->is_b = 0;
        }
        off += (size_t)c->num_labels * c->dim;
        n++;
    }
    lo->ntensors = n;
    return off;
}

/* The products' adapter lists over params and grads. */
static void
carve(struct lora *lo)
{
    const struct model_config *c = &lo->m->cfg;
    int i, in, out, prod, col;

    lo->mm = xcalloc((size_t)c->n_layers * LORA_NP, sizeof(*lo->mm));
    for (i = 0; i < lo->ntensors; i++) {
        const struct lora_tensor *x = &lo->tensors[i];
        struct lora_mm *mm;
        int k;
        if (x->tgt < 0) {
            lo->score = lo->params + x->off;
            lo->gscore = lo->grads + x->off;
            continue;
        }
        target_dims(lo->m, x->layer, x->tgt, &in, &out, &prod, &col);
        mm = &lo->mm[(size_t)x->layer * LORA_NP + prod];
        if (!x->is_b) {
            k = mm->n++;
            mm->tgt[k] = x->tgt;
            mm->col[k] = col;
            mm->ncol[k] = out;
            mm->A[k] = lo->params + x->off;
            mm->gA[k] = lo->grads + x->off;
            mm->r = lo->cfg.r;
            mm->IC = in;
            mm->lo = lo;
            mm->layer = x->layer;
        } else {
            k = mm->n - 1;
            mm->B[k] = lo->params + x->off;
            mm->gB[k] = lo->grads + x->off;
        }
    }
}

/* An adapter with zero parameters for m and cfg (checked by the caller). */
static struct lora *
lora_alloc(const struct model *m, const struct lora_config *cfg, const char *base_name)
{
    struct lora *lo = xcalloc(1, sizeof(*lo));

    lo->cfg = *cfg;
    lo->m = m;
    lo->scale = (float)(cfg->rslora ? cfg->alpha / sqrt((double)cfg->r)
                                    : cfg->alpha / (double)cfg->r);
    layout(lo, NULL);
    lo->tensors = xcalloc((size_t)lo->ntensors, sizeof(*lo->tensors));
    lo->nparams = layout(lo, lo->tensors);
    lo->params = xcalloc(lo->nparams, sizeof(float));
    lo->grads = xcalloc(lo->nparams, sizeof(float));
    lo->base_name = base_name ? xstrdup(base_name) : NULL;
    carve(lo);
    return lo;
}

struct lora *
lora_new(const struct model *m, const struct lora_config *cfg, uint64_t seed,
         const char *base_name)
{
    const char *why = config_check(cfg);
    struct lora *lo;
    struct rng g;
    int i;

    if (why)
        die("lora: %s", why);
    lo = lora_alloc(m, cfg, base_name);
    lo->seed = seed;
    /* PEFT: kaiming_uniform_(A, a = sqrt(5)), bound gain sqrt(3 / fan_in)
       with gain sqrt(2 / (1 + a^2)) = 1 / sqrt(3): U(-1/sqrt(in), 1/sqrt(in));
       B = 0 */
    rng_seed(&g, seed ^ 0x6c6f72612d696e69ULL);
    for (i = 0; i < lo->ntensors; i++) {
        const struct lora_tensor *x = &lo->tensors[i];
        float *p = lo->params + x->off;
        size_t k;
        if (x->tgt < 0) {
            memcpy(p, m->w.score, x->n * sizeof(float));
            continue;
        }
        if (x->is_b)
            continue;
        for (k = 0; k < x->n; k++)
            p[k] = (float)((2.0 * rng_double(&g) - 1.0) / sqrt((double)x->shape[1]));
    }
    return lo;
}

void
lora_free(struct lora *lo)
{
    if (!lo)
        return;
    free(lo->params);
    free(lo->grads);
    free(lo->tensors);
    free(lo->mm);
    json_decref(lo->config);
    free(lo->base_name);
    free(lo->drop);
    free(lo->bx);
    free(lo->bu);
    free(lo->bdu);
    free(lo);
}

void
lora_zero_grad(struct lora *lo)
{
    memset(lo->grads, 0, lo->nparams * sizeof(float));
}

const float *
lora_score(const struct lora *lo)
{
    return lo->score;
}

/* ============================== Files ============================== */

/* A config field that must be absent, null, false, or an empty object or list. */
static int
unset_field(const json_t *v)
{
    return !v || json_is_null(v) || json_is_false(v) ||
           (json_is_object(v) && json_object_size(v) == 0) ||
           (json_is_array(v) && json_array_size(v) == 0);
}

/* adapter_config.json into c (and *js); 0 or -1 with "PATH: field 'x': why". */
static int
read_config(const char *path, const struct model *m, struct lora_config *c, json_t **js,
            struct sbuf *err)
{
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je), *v;
    const char *f = NULL, *why = NULL, *bad;
    size_t i;

    if (!o) {
        if (je.line > 0)
            sbuf_addf(err, "%s:%d: %s", path, je.line, je.text);
        else
            sbuf_addf(err, "%s: %s", path, je.text);
        return -1;
    }
    lora_config_default(c);
    c->alpha = 8;      /* PEFT's defaults for absent fields */
    if (!json_is_object(o)) {
        sbuf_addf(err, "%s: not a JSON object", path);
        goto bad;
    }
    v = json_object_get(o, "peft_type");
    if (!json_is_string(v) || strcmp(json_string_value(v), "LORA") != 0) {
        f = "peft_type";
        why = v ? "not \"LORA\" (only LoRA adapters load)" : "missing";
        goto field;
    }
    v = json_object_get(o, "r");
    if (!json_is_integer(v) || json_integer_value(v) < 1 ||
        json_integer_value(v) > LORA_MAX_RANK) {
        f = "r";
        why = v ? "not an integer in [1, 4096]" : "missing";
        goto field;
    }
    c->r = (int)json_integer_value(v);
    v = json_object_get(o, "lora_alpha");
    if (v && (!json_is_number(v) || !(json_number_value(v) > 0))) {
        f = "lora_alpha";
        why = "not a positive number";
        goto field;
    }
    if (v)
        c->alpha = json_number_value(v);
    v = json_object_get(o, "lora_dropout");
    if (v && !json_is_null(v)) {
        if (!json_is_number(v) || !(json_number_value(v) >= 0 && json_number_value(v) < 1)) {
            f = "lora_dropout";
            why = "not a number in [0, 1)";
            goto field;
        }
        c->dropout = json_number_value(v);
    }
    v = json_object_get(o, "use_rslora");
    if (v && !json_is_boolean(v)) {
        f = "use_rslora";
        why = "not true or false";
        goto field;
    }
    c->rslora = json_is_true(v);
    v = json_object_get(o, "target_modules");
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "all-linear") != 0) {
            f = "target_modules";
            why = "a pattern other than \"all-linear\" (give the list of modules)";
            goto field;
        }
        c->targets = LORA_ALL_TARGETS;
    } else if (json_is_array(v) && json_array_size(v) > 0) {
        c->targets = 0;
        for (i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);
            const char *s = json_string_value(e);
            int t = s ? target_of(s, strlen(s)) : -1;
            if (t < 0) {
                f = "target_modules";
                why = "an entry is not one of q_proj, k_proj, v_proj, o_proj, gate_proj, "
                      "up_proj, down_proj";
                goto field;
            }
            c->targets |= 1u << t;
        }
    } else {
        f = "target_modules";
        why = v ? "not a list of module names" : "missing";
        goto field;
    }
    v = json_object_get(o, "bias");
    if (v && (!json_is_string(v) || strcmp(json_string_value(v), "none") != 0)) {
        f = "bias";
        why = "not \"none\" (adapters with biases do not load)";
        goto field;
    }
    bad = NULL;
    if (!unset_field(json_object_get(o, "use_dora")))
        bad = "use_dora";
    else if (!unset_field(json_object_get(o, "fan_in_fan_out")))
        bad = "fan_in_fan_out";
    else if (!unset_field(json_object_get(o, "layers_to_transform")))
        bad = "layers_to_transform";
    else if (!unset_field(json_object_get(o, "rank_pattern")))
        bad = "rank_pattern";
    else if (!unset_field(json_object_get(o, "alpha_pattern")))
        bad = "alpha_pattern";
    if (bad) {
        f = bad;
        why = "set (this reader takes plain LoRA on every layer, one rank and alpha)";
        goto field;
    }
    v = json_object_get(o, "modules_to_save");
    if (!unset_field(v)) {
        for (i = 0; json_is_array(v) && i < json_array_size(v); i++) {
            const char *s = json_string_value(json_array_get(v, i));
            if (!s || (strcmp(s, "score") && strcmp(s, "classifier")))
                break;
        }
        if (!json_is_array(v) || i < json_array_size(v) || m->cfg.arch != MODEL_SEQ_CLS) {
            f = "modules_to_save";
            why = m->cfg.arch == MODEL_SEQ_CLS ? "other modules than the score head"
                                               : "set (a language model's adapter saves none)";
            goto field;
        }
    }
    v = json_object_get(o, "base_model_name_or_path");
    if (v && !json_is_null(v) && !json_is_string(v)) {
        f = "base_model_name_or_path";
        why = "not a string";
        goto field;
    }
    *js = o;
    return 0;
field:
    sbuf_addf(err, "%s: field '%s': %s", path, f, why);
bad:
    json_decref(o);
    return -1;
}

struct lora *
lora_load(const char *dir, const struct model *m, struct sbuf *err)
{
    char *cpath = ckpt_path_join(dir, "adapter_config.json");
    char *wpath = ckpt_path_join(dir, "adapter_model.safetensors");
    struct safetensors *st = NULL;
    struct lora *lo = NULL;
    struct lora_config c;
    json_t *js = NULL;
    const json_t *bn;
    size_t i;
    int k, ok = 0;

    if (read_config(cpath, m, &c, &js, err))
        goto out;
    st = safetensors_open(wpath, err);
    if (!st)
        goto out;
    bn = json_object_get(js, "base_model_name_or_path");
    lo = lora_alloc(m, &c, json_string_value(bn));
    lo->config = js;
    js = NULL;
    for (k = 0; k < lo->ntensors; k++) {
        const struct lora_tensor *x = &lo->tensors[k];
        const struct st_tensor *s = safetensors_find(st, x->name);
        if (!s && x->tgt < 0) {
            sbuf_addf(err, "%s: tensor '%s' is missing (a reward model's adapter carries its "
                      "score head: update --rm --lora)", wpath, x->name);
            goto out;
        }
        if (!s) {
            sbuf_addf(err, "%s: tensor '%s' is missing (adapter_config.json targets %s)",
                      wpath, x->name, target_names[x->tgt]);
            goto out;
        }
        if (s->ndim != 2 || s->shape[0] != x->shape[0] || s->shape[1] != x->shape[1]) {
            int d;
            sbuf_addf(err, "%s: tensor '%s' has shape [", wpath, x->name);
            for (d = 0; d < s->ndim; d++)
                sbuf_addf(err, "%s%lld", d ? ", " : "", (long long)s->shape[d]);
            sbuf_addf(err, "], the base model and r %d need [%lld, %lld]", c.r,
                      (long long)x->shape[0], (long long)x->shape[1]);
            goto out;
        }
        if (st_tensor_to_f32(s, lo->params + x->off, x->n, err))
            goto out;
    }
    for (i = 0; i < st->n; i++) {
        const char *nm = st->t[i].name;
        for (k = 0; k < lo->ntensors; k++)
            if (strcmp(lo->tensors[k].name, nm) == 0)
                break;
        if (k == lo->ntensors) {
            sbuf_addf(err, "%s: tensor '%s' is not one of the adapter's (adapter_config.json: "
                      "r %d, target_modules, %d layers)", wpath, nm, c.r, m->cfg.n_layers);
            goto out;
        }
    }
    ok = 1;
out:
    safetensors_close(st);
    json_decref(js);
    free(cpath);
    free(wpath);
    if (!ok) {
        lora_free(lo);
        return NULL;
    }
    return lo;
}

/* Digits %.*g needs to give x back, at most 17. */
static int
shortest_digits(double x)
{
    char b[40];
    int p;

    for (p = 1; p < 17; p++) {
        snprintf(b, sizeof(b), "%.*g", p, x);
        if (strtod(b, NULL) == x)
            return p;
    }
    return 17;
}

/* The most digits a real anywhere in js needs. */
static int
json_digits(const json_t *js)
{
    const char *k;
    json_t *v;
    size_t i;
    int d = 1;

    if (json_is_real(js))
        return shortest_digits(json_real_value(js));
    if (json_is_object(js))
        json_object_foreach((json_t *)js, k, v) d = PT_MAX(d, json_digits(v));
    if (json_is_array(js))
        json_array_foreach(js, i, v) d = PT_MAX(d, json_digits(v));
    return d;
}

/* A number as Python's json writes it: an integer when integral. */
static json_t *
py_number(double x)
{
    if (x == floor(x) && fabs(x) < 1e15)
        return json_integer((json_int_t)x);
    return json_real(x);
}

/* Whether v (a target_modules value) names exactly the targets. */
static int
same_targets(const json_t *v, unsigned targets)
{
    unsigned set = 0;
    size_t i;

    if (json_is_string(v))
        return strcmp(json_string_value(v), "all-linear") == 0 && targets == LORA_ALL_TARGETS;
    for (i = 0; json_is_array(v) && i < json_array_size(v); i++) {
        const char *s = json_string_value(json_array_get(v, i));
        int t = s ? target_of(s, strlen(s)) : -1;
        if (t < 0)
            return 0;
        set |= 1u << t;
    }
    return json_is_array(v) && set == targets;
}

/* adapter_config.json: the carried fields with ours set, as PEFT writes it. */
static json_t *
config_json(const struct lora *lo)
{
    json_t *js = lo->config ? json_deep_copy(lo->config) : json_object(), *tm = json_array();
    int seq = lo->m->cfg.arch == MODEL_SEQ_CLS, t;

#define SET_DEFAULT(k, v)                                                   \
    do {                                                                    \
        if (!json_object_get(js, (k)))                                      \
            json_object_set_new(js, (k), (v));                              \
        else                                                                \
            json_decref(v);                                                 \
    } while (0)
    SET_DEFAULT("alpha_pattern", json_object());
    SET_DEFAULT("fan_in_fan_out", json_false());
    SET_DEFAULT("inference_mode", json_true());
    SET_DEFAULT("init_lora_weights", json_true());
    SET_DEFAULT("layers_pattern", json_null());
    SET_DEFAULT("layers_to_transform", json_null());
    SET_DEFAULT("rank_pattern", json_object());
    SET_DEFAULT("revision", json_null());
    SET_DEFAULT("use_dora", json_false());
    SET_DEFAULT("task_type", json_string(seq ? "SEQ_CLS" : "CAUSAL_LM"));
#undef SET_DEFAULT
    json_object_set_new(js, "peft_type", json_string("LORA"));
    json_object_set_new(js, "r", json_integer(lo->cfg.r));
    json_object_set_new(js, "lora_alpha", py_number(lo->cfg.alpha));
    json_object_set_new(js, "lora_dropout", json_real(lo->cfg.dropout));
    json_object_set_new(js, "use_rslora", json_boolean(lo->cfg.rslora));
    json_object_set_new(js, "bias", json_string("none"));
    json_object_set_new(js, "base_model_name_or_path",
                        lo->base_name ? json_string(lo->base_name) : json_null());
    for (t = 0; t < LORA_NT; t++)
        if (lo->cfg.targets & (1u << t))
            json_array_append_new(tm, json_string(target_names[t]));
    /* a loaded config's own list (PEFT writes a set: any order) when it
       names the same modules, so a round trip keeps the bytes */
    if (!lo->config || !same_targets(json_object_get(lo->config, "target_modules"),
                                     lo->cfg.targets))
        json_object_set(js, "target_modules", tm);
    json_decref(tm);
    if (seq)
        json_object_set_new(js, "modules_to_save", json_pack("[s]", "score"));
    else if (!json_object_get(js, "modules_to_save"))
        json_object_set_new(js, "modules_to_save", json_null());
    return js;
}

static int
write_adapter_files(const char *tmp, void *ctx, struct sbuf *err)
{
    const struct lora *lo = ctx;
    json_t *js = config_json(lo), *meta = json_pack("{s:s}", "format", "pt");
    struct st_out *t = xcalloc((size_t)lo->ntensors, sizeof(*t));
    char *s = NULL, *p = ckpt_path_join(tmp, "adapter_config.json");
    int i, rc = -1;

    /* PEFT: json.dumps(config, indent=2, sort_keys=True), no newline */
    s = json_dumps(js, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII |
                       JSON_REAL_PRECISION(json_digits(js)));
    if (!s) {
        sbuf_addf(err, "%s: cannot encode JSON", p);
        goto out;
    }
    if (st_write_text(p, s, err))
        goto out;
    free(p);
    p = ckpt_path_join(tmp, "adapter_model.safetensors");
    for (i = 0; i < lo->ntensors; i++) {
        t[i].name = lo->tensors[i].name;
        t[i].dtype = ST_F32;
        t[i].ndim = 2;
        t[i].shape[0] = lo->tensors[i].shape[0];
        t[i].shape[1] = lo->tensors[i].shape[1];
        t[i].data = lo->params + lo->tensors[i].off;
    }
    if (safetensors_write(p, t, (size_t)lo->ntensors, meta, err))
        goto out;
    rc = 0;
out:
    free(s);
    free(p);
    free(t);
    json_decref(js);
    json_decref(meta);
    return rc;
}

int
lora_save(const struct lora *lo, const char *dir, const struct optim *o,
          const json_t *state_extra, struct sbuf *err)
{
    return ckpt_save_dir(dir, write_adapter_files, (void *)lo, o, state_extra, NULL, err);
}

/* ============================== Merge, hash ============================== */

void
lora_merge(const struct lora *lo, struct model *m)
{
    const struct model_config *c = &m->cfg;
    int l, p, i, r = lo->cfg.r;

    for (l = 0; l < c->n_layers; l++)
        for (p = 0; p < LORA_NP; p++) {
            const struct lora_mm *mm = &lo->mm[(size_t)l * LORA_NP + p];
            for (i = 0; i < mm->n; i++) {
                /* W (out, in) += s B (out, r) A (r, in) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, mm->ncol[i], mm->IC, r,
                            lo->scale, mm->B[i], r, mm->A[i], mm->IC, 1.0f,
                            base_weight(m, l, mm->tgt[i]), mm->IC);
            }
        }
    if (lo->score && m->w.score)
        memcpy(m->w.score, lo->score, (size_t)c->num_labels * c->dim * sizeof(float));
}

uint64_t
lora_hash(const struct lora *lo, uint64_t h)
{
    h = hash64(lo->params, lo->nparams * sizeof(float), h);
    h = hash64(&lo->scale, sizeof(lo->scale), h);
    return hash64(&lo->cfg.targets, sizeof(lo->cfg.targets), h);
}

/* ============================== Forward ============================== */

#define LORA_ROWS 16   /* rows per chunk of the A step */

/*
 * Inverted dropout's mask: element (row, i) of target t in layer l is
 * kept when a hash of (seed, key, l, t, row, i) falls below 1 - p, as
 * 24-bit uniforms: splitmix64 at position i of the row's stream, whose
 * start hashes the rest.  The backward asks the same questions.
 */
static uint64_t
row_key(const struct lora *lo, int l, int t, size_t row)
{
    uint64_t k[4] = {lo->key, (uint64_t)l * LORA_NT + (uint64_t)t, (uint64_t)row,
                     0x64726f706f7574ULL};

    return hash64(k, sizeof(k), lo->seed);
}

/* Whether element i of the row whose key is k is kept. */
static inline int
kept(const struct lora *lo, uint64_t k, int i)
{
    uint32_t keep = (uint32_t)((1.0 - lo->cfg.dropout) * (double)(1u << 24));

    uint64_t st = k + (uint64_t)i * 0x9e3779b97f4a7c15ULL;

    return (uint32_t)(splitmix64(&st) >> 40) < keep;
}

/* dst = drop(src) (n floats), or dst += drop(src) when acc, for row of
   target t in layer l. */
static void
drop_row(const struct lora *lo, int l, int t, size_t row, float *dst, const float *src, int n,
         int acc)
{
    uint64_t k = row_key(lo, l, t, row);
    float inv = (float)(1.0 / (1.0 - lo->cfg.dropout));
    int i;

    for (i = 0; i < n; i++) {
        float v = kept(lo, k, i) ? src[i] * inv : 0.0f;
        dst[i] = acc ? dst[i] + v : v;
    }
}

static int
dropping(const struct lora *lo)
{
    return lo->train && lo->cfg.dropout > 0;
}

size_t
lora_row_floats(const struct lora *lo)
{
    return 3 * (size_t)lo->cfg.r;
}

void
lora_reserve(struct lora *lo, int nthreads)
{
    const struct model_config *c = &lo->m->cfg;

    if (lo->drop && lo->drop_threads >= nthreads)
        return;
    free(lo->drop);
    lo->drop_w = (size_t)PT_MAX(PT_MAX(c->dim, c->hidden_dim), c->n_heads * c->head_dim);
    lo->drop = xmalloc(xmul((size_t)nthreads, lo->drop_w * sizeof(float)));
    lo->drop_threads = nthreads;
}

int
lora_a_chunks(const struct lora_mm *mm, int R)
{
    return mm->n * ((R + LORA_ROWS - 1) / LORA_ROWS);
}

void
lora_a_run(const struct lora_mm *mm, const struct kernels *K, float *u, const float *in,
           int R, int c, int tid)
{
    const struct lora *lo = mm->lo;
    int i = c % mm->n, r0 = (c / mm->n) * LORA_ROWS, r1 = PT_MIN(R, r0 + LORA_ROWS), r, j;
    size_t ld = (size_t)mm->n * mm->r, IC = (size_t)mm->IC;
    float *u0 = u + (size_t)r0 * ld + (size_t)i * mm->r;

    if (dropping(lo)) {
        float *x = lo->drop + (size_t)tid * lo->drop_w;
        for (r = r0; r < r1; r++) {
            drop_row(lo, mm->layer, mm->tgt[i], (size_t)r, x, in + (size_t)r * IC, mm->IC, 0);
            K->mm(u + (size_t)r * ld + (size_t)i * mm->r, ld, x, IC, mm->A[i], 1, mm->IC, 0,
                  mm->r, NULL, 0);
        }
    } else {
        K->mm(u0, ld, in + (size_t)r0 * IC, IC, mm->A[i], r1 - r0, mm->IC, 0, mm->r, NULL, 0);
    }
    for (r = r0; r < r1; r++)
        for (j = 0; j < mm->r; j++)
            u[(size_t)r * ld + (size_t)i * mm->r + (size_t)j] *= lo->scale;
}

void
lora_mm_add(const struct lora_mm *mm, const struct kernels *K, float *out, size_t ldo,
            const float *u, int r0, int R, int c0, int c1)
{
    size_t ld = (size_t)mm->n * mm->r;
    int i;

    u += (size_t)r0 * ld;
    for (i = 0; i < mm->n; i++) {
        int a = PT_MAX(c0, mm->col[i]), b = PT_MIN(c1, mm->col[i] + mm->ncol[i]);
        if (a >= b)
            continue;
        K->mm(out + mm->col[i], ldo, u + (size_t)i * mm->r, ld, mm->B[i], R, mm->r,
              a - mm->col[i], b - mm->col[i], NULL, 1);
    }
}

/* ============================== Backward ============================== */

static float *
grow(float **p, size_t *cap, size_t n)
{
    if (n > *cap) {
        free(*p);
        *p = xmalloc(xmul(n, sizeof(float)));
        *cap = n;
    }
    return *p;
}

/*
 * u = s xd A^T, y += u B^T; with dy the target's columns of dout:
 * dB += dy^T u, du = dy B, dA += s du^T xd, dxd = s du A, and dx = dxd
 * where the dropout kept the element, divided by 1 - p.
 */
void
lora_backward(struct lora *lo, int l, enum lora_prod p, float *din, const float *dout,
              const float *x, size_t N)
{
    const struct lora_mm *mm = &lo->mm[(size_t)l * LORA_NP + p];
    int i, r = lo->cfg.r, IC = mm->IC, n = (int)N, OC;
    size_t t;
    float *bu, *bdu;

    if (mm->n == 0 || N == 0)
        return;
    OC = p == LORA_P_QKV ? lo->m->cfg.n_heads * lo->m->cfg.head_dim
                               + 2 * lo->m->cfg.n_kv_heads * lo->m->cfg.head_dim
         : p == LORA_P_GU ? 2 * lo->m->w.layers[l].mlp_hidden : lo->m->cfg.dim;
    bu = grow(&lo->bu, &lo->bu_cap, N * (size_t)r);
    bdu = grow(&lo->bdu, &lo->bdu_cap, N * (size_t)r);
    for (i = 0; i < mm->n; i++) {
        const float *xd = x, *dy = dout + mm->col[i];
        if (dropping(lo)) {
            float *bx = grow(&lo->bx, &lo->bx_cap, N * (size_t)IC);
            for (t = 0; t < N; t++)
                drop_row(lo, l, mm->tgt[i], t, bx + t * IC, x + t * IC, IC, 0);
            xd = bx;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, r, IC, lo->scale, xd, IC,
                    mm->A[i], IC, 0.0f, bu, r);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, mm->ncol[i], r, n, 1.0f, dy, OC,
                    bu, r, 1.0f, mm->gB[i], r);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, r, mm->ncol[i], 1.0f, dy, OC,
                    mm->B[i], r, 0.0f, bdu, r);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, IC, n, lo->scale, bdu, r, xd,
                    IC, 1.0f, mm->gA[i], IC);
        if (!din)
            continue;
        if (!dropping(lo)) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, IC, r, lo->scale, bdu, r,
                        mm->A[i], IC, 1.0f, din, IC);
        } else {
            /* dxd into bx (xd is no longer needed), then through the mask */
            float *bx = lo->bx;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, IC, r, lo->scale, bdu, r,
                        mm->A[i], IC, 0.0f, bx, IC);
            for (t = 0; t < N; t++)
                drop_row(lo, l, mm->tgt[i], t, din + t * IC, bx + t * IC, IC, 1);
        }
    }
}
