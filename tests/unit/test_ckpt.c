/*
 * test_ckpt.c - HF checkpoint directories: config.json parsing of real
 * HF configs, save -> load bit-exact (weights, optimizer state, trainer
 * state), overwriting in place, BF16 and F16 checkpoints, errors, resume
 * taking bit-identical steps, and the content hash; sharded checkpoints
 * and the dtype written, tied models without lm_head, sizes and dtype
 * names as the options give them.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "ckpt.h"
#include "safetensors.h"

/* SmolLM-135M's config.json as published (fields abridged, none changed) */
static const char *smollm_json =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false,"
    " \"attention_dropout\": 0.0, \"bos_token_id\": 0, \"eos_token_id\": 0,"
    " \"hidden_act\": \"silu\", \"hidden_size\": 576, \"initializer_range\": 0.02,"
    " \"intermediate_size\": 1536, \"max_position_embeddings\": 2048,"
    " \"model_type\": \"llama\", \"num_attention_heads\": 9, \"num_hidden_layers\": 30,"
    " \"num_key_value_heads\": 3, \"pretraining_tp\": 1, \"rms_norm_eps\": 1e-05,"
    " \"rope_scaling\": null, \"rope_theta\": 10000.0, \"tie_word_embeddings\": true,"
    " \"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.40.1\","
    " \"use_cache\": true, \"vocab_size\": 49152}";

static const char *qwen2_json =
    "{\"architectures\": [\"Qwen2ForCausalLM\"], \"bos_token_id\": 151643,"
    " \"eos_token_id\": 151645, \"hidden_act\": \"silu\", \"hidden_size\": 896,"
    " \"intermediate_size\": 4864, \"max_position_embeddings\": 32768,"
    " \"max_window_layers\": 21, \"model_type\": \"qwen2\", \"num_attention_heads\": 14,"
    " \"num_hidden_layers\": 24, \"num_key_value_heads\": 2, \"rms_norm_eps\": 1e-06,"
    " \"rope_theta\": 1000000.0, \"sliding_window\": 32768, \"tie_word_embeddings\": true,"
    " \"use_sliding_window\": false, \"vocab_size\": 151936}";

static int
parse(const char *text, struct model_config *c, struct sbuf *err)
{
    json_t *js = json_loads(text, 0, NULL);
    int rc = ckpt_config_from_json(js, c, err);

    json_decref(js);
    return rc;
}

static void
test_config(void)
{
    struct model_config c;
    struct sbuf err = SBUF_INIT;

    CHECK(parse(smollm_json, &c, &err) == 0);
    CHECK(c.arch == MODEL_CAUSAL_LM && c.dim == 576 && c.hidden_dim == 1536);
    CHECK(c.n_layers == 30 && c.n_heads == 9 && c.n_kv_heads == 3 && c.head_dim == 64);
    CHECK(c.vocab_size == 49152 && c.max_pos == 2048 && c.tie_embeddings == 1);
    CHECK(c.attn_bias == 0 && c.norm_eps == 1e-5f && c.rope_theta == 10000.0f);
    CHECK(c.bos_id == 0 && c.eos_id == 0 && c.pad_id == -1);
    CHECK_STREQ(c.model_type, "llama");
    CHECK(parse(qwen2_json, &c, &err) == 0);
    CHECK(c.attn_bias == 1 && c.n_kv_heads == 2 && c.head_dim == 64);
    CHECK(c.rope_theta == 1e6f && c.eos_id == 151645);
    CHECK(parse("{\"architectures\": [\"LlamaForSequenceClassification\"],"
                " \"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 1,"
                " \"num_attention_heads\": 2, \"vocab_size\": 10,"
                " \"id2label\": {\"0\": \"LABEL_0\"}}", &c, &err) == 0);
    CHECK(c.arch == MODEL_SEQ_CLS && c.num_labels == 1 && c.n_kv_heads == 2);
    CHECK(c.head_dim == 4 && c.max_pos == 2048 && c.norm_eps == 1e-6f);

    /* errors name the field */
    static const struct { const char *js, *msg; } bad[] = {
        {"{\"model_type\": \"gpt2\"}", "field 'model_type': 'gpt2'"},
        {"{\"hidden_size\": 8}", "field 'intermediate_size': missing"},
        {"{\"hidden_size\": \"8\", \"intermediate_size\": 16}", "field 'hidden_size'"},
        {"{\"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 1,"
         " \"num_attention_heads\": 2, \"num_key_value_heads\": 3, \"vocab_size\": 10}",
         "num_key_value_heads must divide"},
        {"{\"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 1,"
         " \"num_attention_heads\": 2, \"vocab_size\": 10, \"attention_bias\": true}",
         "field 'attention_bias'"},
        {"{\"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 1,"
         " \"num_attention_heads\": 2, \"vocab_size\": 10,"
         " \"rope_scaling\": {\"type\": \"llama3\"}}", "field 'rope_scaling.factor'"},
        {"{\"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 1,"
         " \"num_attention_heads\": 2, \"vocab_size\": 10, \"hidden_act\": \"gelu\"}",
         "field 'hidden_act'"},
        {"{\"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 1,"
         " \"num_attention_heads\": 2, \"vocab_size\": 10, \"rms_norm_eps\": -1}",
         "field 'rms_norm_eps'"},
        {"{\"architectures\": [\"LlamaModel\"]}", "field 'architectures'"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        sbuf_reset(&err);
        CHECK(parse(bad[i].js, &c, &err) == -1);
        CHECK_MSG(strstr(sbuf_str(&err), bad[i].msg) != NULL, "'%s' lacks '%s'",
                  sbuf_str(&err), bad[i].msg);
    }
    /* the smollm-135m preset is SmolLM-135M's config */
    {
        struct model_config c2;
        CHECK(parse(smollm_json, &c, &err) == 0);
        CHECK(ckpt_preset("smollm-135m", &c2) == 0);
        CHECK(memcmp(&c, &c2, sizeof(c)) == 0);
        CHECK(ckpt_preset("tiny", &c2) == 0 && c2.vocab_size == 264 && c2.bos_id == 256);
        CHECK(ckpt_preset("huge", &c2) == -1);
    }
    /* to_json and back is the identity on the model fields; extras carried */
    {
        json_t *base = json_loads(smollm_json, 0, NULL), *out;
        struct model_config c2;
        CHECK(parse(smollm_json, &c, &err) == 0);
        out = ckpt_config_to_json(&c, base);
        CHECK(ckpt_config_from_json(out, &c2, &err) == 0);
        CHECK(memcmp(&c, &c2, sizeof(c)) == 0);
        CHECK_STREQ(json_string_value(json_object_get(out, "transformers_version")),
                    "4.40.1");
        CHECK(json_real_value(json_object_get(out, "rms_norm_eps")) == 1e-5);
        json_decref(out);
        json_decref(base);
    }
    sbuf_release(&err);
}

static struct model_config
small_config(int bias, int tie)
{
    struct model_config c = {0};

    c.arch = MODEL_CAUSAL_LM;
    strcpy(c.model_type, bias ? "qwen2" : "llama");
    c.dim = 16;
    c.hidden_dim = 24;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 4;
    c.vocab_size = 11;
    c.max_pos = 32;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000;
    c.tie_embeddings = tie;
    c.attn_bias = bias;
    c.num_labels = 1;
    c.bos_id = 1;
    c.eos_id = 2;
    c.pad_id = -1;
    return c;
}

static int
count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
    closedir(d);
    return n;
}

static void
test_save_load(void)
{
    struct model_config c = small_config(1, 0);
    struct model *m = model_new(&c), *m2;
    struct optim_config oc;
    struct optim *o, *o2;
    struct sbuf err = SBUF_INIT;
    json_t *extra = json_pack("{s:i}", "tokens", 1234), *cj = NULL;
    FILE *f;
    char h1[17], h2[17];

    mkdir("ck", 0755);
    model_init_random(m, 42, 0.1f);
    optim_config_default(&oc);
    oc.warmup_steps = 3;
    oc.lr = 3e-4f;
    o = optim_new(&oc, m->nparams);
    for (size_t i = 0; i < m->nparams; i++) {
        o->m[i] = (float)i * 1e-3f;
        o->v[i] = (float)i * 1e-7f;
    }
    o->step = 17;
    rng_seed(&o->rng, 99);
    f = fopen("tokenizer.json", "w");
    fputs("{\"model\": {}}\n", f);
    fclose(f);
    CHECK(ckpt_save("ck/a", m, NULL, o, extra, "tokenizer.json", &err) == 0);
    CHECK_STREQ(sbuf_str(&err), "");
    m2 = ckpt_load("ck/a", 0, &cj, &err);
    CHECK(m2 != NULL);
    if (m2) {
        CHECK(m2->nparams == m->nparams &&
              memcmp(m2->params, m->params, m->nparams * sizeof(float)) == 0);
        CHECK(memcmp(&m2->cfg, &m->cfg, sizeof(m->cfg)) == 0);
        ckpt_hash(m, h1);
        ckpt_hash(m2, h2);
        CHECK_STREQ(h1, h2);
        CHECK(strlen(h1) == 16);
    }
    CHECK_STREQ(json_string_value(json_object_get(cj, "model_type")), "qwen2");
    CHECK(access("ck/a/tokenizer.json", F_OK) == 0);
    o2 = ckpt_load_optim("ck/a", m->nparams, &err);
    CHECK(o2 != NULL);
    if (o2) {
        CHECK(o2->step == 17 && memcmp(&o2->cfg, &o->cfg, sizeof(oc)) == 0);
        CHECK(memcmp(o2->m, o->m, m->nparams * 4) == 0 && memcmp(o2->v, o->v, m->nparams * 4) == 0);
        CHECK(memcmp(&o2->rng, &o->rng, sizeof(o->rng)) == 0);
    }
    {
        json_t *ts = json_load_file("ck/a/trainer_state.json", 0, NULL);
        CHECK(json_integer_value(json_object_get(ts, "global_step")) == 17);
        CHECK(json_integer_value(json_object_get(ts, "tokens")) == 1234);
        json_decref(ts);
        /* the same file through ckpt's readers */
        ts = ckpt_read_state("ck/a", &err);
        CHECK(ts && json_integer_value(json_object_get(ts, "tokens")) == 1234);
        json_decref(ts);
        CHECK(ckpt_state_step("ck/a") == 17);
        CHECK(ckpt_has_optim("ck/a") == 1);
        CHECK(ckpt_state_step("no-such-dir") == 0 && ckpt_has_optim("no-such-dir") == 0);
        CHECK(ckpt_read_state("no-such-dir", &err) == NULL);
        CHECK_MSG(strncmp(sbuf_str(&err), "no-such-dir/trainer_state.json: ", 32) == 0, "%s",
                  sbuf_str(&err));
        sbuf_reset(&err);
    }
    /* overwrite in place: the new weights, no temporary left beside it */
    m->params[0] += 1.0f;
    ckpt_hash(m, h2);
    CHECK(strcmp(h1, h2) != 0);
    CHECK(ckpt_save("ck/a", m, cj, NULL, NULL, "ck/a", &err) == 0);
    CHECK(count_entries("ck") == 1);
    CHECK(access("ck/a/optimizer.safetensors", F_OK) != 0);
    CHECK(access("ck/a/tokenizer.json", F_OK) == 0);
    model_free(m2);
    m2 = ckpt_load("ck/a", 0, NULL, &err);
    CHECK(m2 && m2->params[0] == m->params[0]);
    model_free(m2);
    /* as a reward model: body kept, score.weight zero */
    m2 = ckpt_load("ck/a", CKPT_AS_SEQ_CLS, NULL, &err);
    CHECK(m2 && m2->cfg.arch == MODEL_SEQ_CLS && m2->w.score[0] == 0.0f);
    CHECK(m2 && memcmp(m2->w.norm, m->w.norm, 16 * sizeof(float)) == 0);
    model_free(m2);
    /* a target that is a file is an error */
    f = fopen("ck/file", "w");
    fclose(f);
    sbuf_reset(&err);
    CHECK(ckpt_save("ck/file", m, NULL, NULL, NULL, NULL, &err) == -1);
    CHECK(strstr(sbuf_str(&err), "not a directory") != NULL);
    CHECK(count_entries("ck") == 2);
    optim_free(o);
    optim_free(o2);
    model_free(m);
    json_decref(cj);
    json_decref(extra);
    sbuf_release(&err);
}

/* Writes dir as a checkpoint with every tensor in dtype dt. */
static void
write_half(const char *dir, const struct model *m, enum st_dtype dt)
{
    uint16_t *h = malloc(m->nparams * 2);
    struct st_out *o = calloc((size_t)m->ntensors, sizeof(*o));
    json_t *cj = ckpt_config_to_json(&m->cfg, NULL);
    struct sbuf err = SBUF_INIT, p = SBUF_INIT;

    for (size_t i = 0; i < m->nparams; i++)
        h[i] = dt == ST_BF16 ? st_f32_to_bf16(m->params[i]) : st_f32_to_f16(m->params[i]);
    for (int i = 0; i < m->ntensors; i++) {
        o[i].name = m->tensors[i].name;
        o[i].dtype = dt;
        o[i].ndim = m->tensors[i].ndim;
        o[i].shape[0] = m->tensors[i].shape[0];
        o[i].shape[1] = m->tensors[i].shape[1];
        o[i].data = h + m->tensors[i].off;
    }
    mkdir(dir, 0755);
    sbuf_addf(&p, "%s/config.json", dir);
    json_dump_file(cj, sbuf_str(&p), 0);
    sbuf_reset(&p);
    sbuf_addf(&p, "%s/model.safetensors", dir);
    unlink(sbuf_str(&p));
    CHECK(safetensors_write(sbuf_str(&p), o, (size_t)m->ntensors, NULL, &err) == 0);
    sbuf_release(&p);
    sbuf_release(&err);
    json_decref(cj);
    free(o);
    free(h);
}

static void
test_half(void)
{
    struct model_config c = small_config(0, 1);
    struct model *m = model_new(&c), *m2;
    struct sbuf err = SBUF_INIT;

    model_init_random(m, 1, 0.5f);
    for (int k = 0; k < 2; k++) {
        enum st_dtype dt = k ? ST_F16 : ST_BF16;
        const char *dir = k ? "f16" : "bf16";
        size_t bad = 0;
        write_half(dir, m, dt);
        m2 = ckpt_load(dir, 0, NULL, &err);
        CHECK_MSG(m2 != NULL, "%s", sbuf_str(&err));
        if (!m2)
            continue;
        for (size_t i = 0; i < m->nparams; i++) {
            float want = dt == ST_BF16 ? st_bf16_to_f32(st_f32_to_bf16(m->params[i]))
                                       : st_f16_to_f32(st_f32_to_f16(m->params[i]));
            bad += m2->params[i] != want;
            /* and within the format's precision of the original */
            bad += fabsf(m2->params[i] - m->params[i]) >
                   fabsf(m->params[i]) * (dt == ST_BF16 ? 0x1p-8f : 0x1p-11f) + 1e-7f;
        }
        CHECK_MSG(bad == 0, "%s: %zu values differ", dir, bad);
        model_free(m2);
    }
    model_free(m);
    sbuf_release(&err);
}

static void
test_errors(void)
{
    struct model_config c = small_config(0, 0), c2 = small_config(0, 0);
    struct model *m = model_new(&c), *m2;
    struct sbuf err = SBUF_INIT;
    FILE *f;

    CHECK(ckpt_load("nowhere", 0, NULL, &err) == NULL);
    CHECK(strstr(sbuf_str(&err), "nowhere/config.json") != NULL);
    CHECK(ckpt_save("e1", m, NULL, NULL, NULL, NULL, &err) == 0);
    /* config says a bigger vocabulary than the weights */
    c2.vocab_size = 12;
    {
        json_t *cj = ckpt_config_to_json(&c2, NULL);
        unlink("e1/config.json");
        json_dump_file(cj, "e1/config.json", 0);
        json_decref(cj);
    }
    sbuf_reset(&err);
    CHECK(ckpt_load("e1", 0, NULL, &err) == NULL);
    CHECK_MSG(strstr(sbuf_str(&err), "tensor 'model.embed_tokens.weight' has shape [11, 16], "
                     "config.json says [12, 16]") != NULL, "%s", sbuf_str(&err));
    /* tied config but the file has lm_head too: fine; a stray tensor is not */
    c2 = small_config(0, 1);
    {
        json_t *cj = ckpt_config_to_json(&c2, NULL);
        unlink("e1/config.json");
        json_dump_file(cj, "e1/config.json", 0);
        json_decref(cj);
    }
    sbuf_reset(&err);
    m2 = ckpt_load("e1", 0, NULL, &err);
    CHECK(m2 != NULL);
    model_free(m2);
    /* truncated weights */
    truncate("e1/model.safetensors", 1000);
    sbuf_reset(&err);
    CHECK(ckpt_load("e1", 0, NULL, &err) == NULL);
    CHECK(strstr(sbuf_str(&err), "e1/model.safetensors: truncated or corrupt") != NULL);
    /* broken config.json */
    f = fopen("e1/config.json", "w");
    fputs("{\"hidden_size\": 16,\n oops}", f);
    fclose(f);
    sbuf_reset(&err);
    CHECK(ckpt_load("e1", 0, NULL, &err) == NULL);
    CHECK_MSG(strstr(sbuf_str(&err), "e1/config.json:2:") != NULL, "%s", sbuf_str(&err));
    sbuf_reset(&err);
    CHECK(ckpt_load_optim("e1", m->nparams, &err) == NULL);
    CHECK(strstr(sbuf_str(&err), "trainer_state.json") != NULL);
    model_free(m);
    sbuf_release(&err);
}

/* 4 steps straight equal 2 steps, save, load, 2 steps: bit for bit. */
static void
test_resume(void)
{
    struct model_config c = small_config(1, 1);
    enum { N = 12 };
    int ids[N] = {1, 5, 7, 3, 2, 9, 4, 4, 8, 10, 0, 6}, tg[N], sl[2] = {5, 7};
    struct model_batch b = {N, ids, tg, 2, sl, NULL};
    float lp[N], dl[N];
    struct sbuf err = SBUF_INIT;
    struct model *ms[2];
    struct optim_config oc;

    model_batch_shift_targets(&b, NULL, tg);
    for (int t = 0; t < N; t++)
        dl[t] = tg[t] >= 0 ? -0.1f : 0.0f;
    optim_config_default(&oc);
    oc.lr = 1e-3f;
    oc.warmup_steps = 2;
    oc.total_steps = 5;
    for (int run = 0; run < 2; run++) {
        struct model *m = model_new(&c);
        struct optim *o;
        model_init_random(m, 3, 0.2f);
        o = optim_new(&oc, m->nparams);
        ckpt_optim_no_decay(o, m);
        for (int step = 0; step < 4; step++) {
            if (run == 1 && step == 2) {
                CHECK(ckpt_save("res", m, NULL, o, NULL, NULL, &err) == 0);
                model_free(m);
                optim_free(o);
                m = ckpt_load("res", 0, NULL, &err);
                o = ckpt_load_optim("res", m->nparams, &err);
                ckpt_optim_no_decay(o, m);
            }
            model_forward(m, &b, 1.0f, lp, NULL, NULL, 0);
            model_zero_grad(m);
            model_backward(m, &b, dl, NULL, NULL);
            optim_step(o, m->params, m->grads, 1.0f);
        }
        ms[run] = m;
        optim_free(o);
    }
    CHECK(memcmp(ms[0]->params, ms[1]->params, ms[0]->nparams * sizeof(float)) == 0);
    model_free(ms[0]);
    model_free(ms[1]);
    sbuf_release(&err);
}

/* Bytes of a file, or -1. */
static long
file_size(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static int
same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int ca, cb, same = fa && fb;

    while (same) {
        ca = getc(fa);
        cb = getc(fb);
        same = ca == cb;
        if (ca == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static void
test_sharded(void)
{
    struct model_config c = small_config(1, 0);
    struct model *m = model_new(&c), *m2;
    struct ckpt_format fmt = {2000, ST_F32};
    struct sbuf err = SBUF_INIT;
    json_t *ix, *cj = NULL, *wm;
    const char *k;
    json_t *v;
    int nfiles = 0;

    model_init_random(m, 5, 0.3f);
    CHECK(ckpt_save_as("shard", m, NULL, NULL, NULL, NULL, &fmt, &err) == 0);
    CHECK(access("shard/model.safetensors", F_OK) != 0);
    ix = json_load_file("shard/model.safetensors.index.json", 0, NULL);
    wm = json_object_get(ix, "weight_map");
    CHECK(json_object_size(wm) == (size_t)m->ntensors);
    CHECK(json_integer_value(json_object_get(json_object_get(ix, "metadata"), "total_size")) ==
          (json_int_t)(m->nparams * 4));
    CHECK(json_integer_value(json_object_get(json_object_get(ix, "metadata"),
                                             "total_parameters")) == (json_int_t)m->nparams);
    /*
     * transformers' state-dict order decides the shards: embed (704 bytes),
     * then per layer q_proj weight 1024, bias 64, k 512, 32, v 512, 32,
     * o_proj 1024, gate, up, down 1536 each, the two norms 64 each; then
     * norm 64, lm_head 704.  Filled in that order to 2000 bytes:
     * [embed q qb] [k kb v vb] [o] [gate] [up] [down norms | q1] ...
     * [down1 norms1 norm] [lm_head]: 12 shards.
     */
    CHECK_STREQ(json_string_value(json_object_get(wm, "model.embed_tokens.weight")),
                "model-00001-of-00012.safetensors");
    CHECK_STREQ(json_string_value(json_object_get(wm, "model.layers.0.self_attn.q_proj.bias")),
                "model-00001-of-00012.safetensors");
    CHECK_STREQ(json_string_value(json_object_get(wm, "model.layers.0.mlp.down_proj.weight")),
                "model-00006-of-00012.safetensors");
    CHECK_STREQ(json_string_value(json_object_get(wm, "model.layers.0.input_layernorm.weight")),
                "model-00006-of-00012.safetensors");
    CHECK_STREQ(json_string_value(json_object_get(wm, "lm_head.weight")),
                "model-00012-of-00012.safetensors");
    json_object_foreach(wm, k, v) {
        char p[256];
        snprintf(p, sizeof(p), "shard/%s", json_string_value(v));
        CHECK(file_size(p) > 0 && file_size(p) <= 2000 + 1024);
    }
    for (int i = 1; i <= 12; i++) {
        char p[256];
        snprintf(p, sizeof(p), "shard/model-%05d-of-00012.safetensors", i);
        nfiles += access(p, F_OK) == 0;
    }
    CHECK(nfiles == 12);
    json_decref(ix);
    m2 = ckpt_load("shard", 0, &cj, &err);
    CHECK_MSG(m2 != NULL, "%s", sbuf_str(&err));
    CHECK(m2 && memcmp(m2->params, m->params, m->nparams * 4) == 0);
    CHECK_STREQ(json_string_value(json_object_get(cj, "torch_dtype")), "float32");
    /* saved again as loaded: the same bytes */
    CHECK(m2 && ckpt_save_as("shard2", m2, cj, NULL, NULL, NULL, &fmt, &err) == 0);
    CHECK(same_file("shard/model.safetensors.index.json", "shard2/model.safetensors.index.json"));
    for (int i = 1; i <= 12; i++) {
        char a[256], b[256];
        snprintf(a, sizeof(a), "shard/model-%05d-of-00012.safetensors", i);
        snprintf(b, sizeof(b), "shard2/model-%05d-of-00012.safetensors", i);
        CHECK(same_file(a, b));
    }
    model_free(m2);
    json_decref(cj);
    /* BF16 on request, named in config.json; "auto" keeps it */
    fmt.dtype = ST_BF16;
    fmt.max_shard_size = 0;
    CHECK(ckpt_save_as("b16", m, NULL, NULL, NULL, NULL, &fmt, &err) == 0);
    CHECK(file_size("b16/model.safetensors") > 0);
    m2 = ckpt_load("b16", 0, &cj, &err);
    CHECK_STREQ(json_string_value(json_object_get(cj, "torch_dtype")), "bfloat16");
    {
        size_t bad = 0;
        for (size_t i = 0; m2 && i < m->nparams; i++)
            bad += m2->params[i] != st_bf16_to_f32(st_f32_to_bf16(m->params[i]));
        CHECK(m2 && bad == 0);
    }
    fmt.dtype = CKPT_DTYPE_AUTO;
    CHECK(m2 && ckpt_save_as("b16b", m2, cj, NULL, NULL, NULL, &fmt, &err) == 0);
    CHECK(same_file("b16/model.safetensors", "b16b/model.safetensors"));
    CHECK(same_file("b16/config.json", "b16b/config.json"));
    model_free(m2);
    json_decref(cj);
    /* tied: no lm_head.weight in the file */
    {
        struct model_config ct = small_config(0, 1);
        struct model *mt = model_new(&ct);
        struct safetensors *st;
        CHECK(ckpt_save("tied", mt, NULL, NULL, NULL, NULL, &err) == 0);
        st = safetensors_open("tied/model.safetensors", &err);
        CHECK(st && !safetensors_find(st, "lm_head.weight") &&
              safetensors_find(st, "model.embed_tokens.weight"));
        safetensors_close(st);
        model_free(mt);
    }
    model_free(m);
    sbuf_release(&err);
}

static void
test_parse_opts(void)
{
    uint64_t v = 0;
    int d = 0;

    CHECK(ckpt_parse_size("5GB", &v) == 0 && v == 5000000000ULL);
    CHECK(ckpt_parse_size("100kb", &v) == 0 && v == 100000);
    CHECK(ckpt_parse_size("12", &v) == 0 && v == 12);
    CHECK(ckpt_parse_size("2TB", &v) == 0 && v == 2000000000000ULL);
    CHECK(ckpt_parse_size("0", &v) == -1);
    CHECK(ckpt_parse_size("", &v) == -1);
    CHECK(ckpt_parse_size("-1MB", &v) == -1);
    CHECK(ckpt_parse_size("1.5GB", &v) == -1);
    CHECK(ckpt_parse_size("5GiB", &v) == -1);
    CHECK(ckpt_parse_size("99999999999999999999", &v) == -1);
    CHECK(ckpt_parse_size("99999999999TB", &v) == -1);
    CHECK(ckpt_parse_dtype("bf16", &d) == 0 && d == ST_BF16);
    CHECK(ckpt_parse_dtype("float16", &d) == 0 && d == ST_F16);
    CHECK(ckpt_parse_dtype("f32", &d) == 0 && d == ST_F32);
    CHECK(ckpt_parse_dtype("auto", &d) == 0 && d == CKPT_DTYPE_AUTO);
    CHECK(ckpt_parse_dtype("int8", &d) == -1);
}

/*
 * The policy id: the same for the same weights whatever the threads,
 * changed by one bit anywhere, here in the last of several hash blocks.
 */
static void
test_hash(void)
{
    struct model_config c = small_config(0, 0);
    struct model *m;
    char h1[17], h2[17], h3[17];

    c.vocab_size = 40000;
    c.dim = 128; /* 5.1M floats of embeddings and head: three hash blocks */
    c.n_heads = 4;
    c.head_dim = 32;
    m = model_new(&c);
    CHECK(m->nparams * sizeof(float) > 2 * ((size_t)8 << 20));
    model_set_threads(1);
    ckpt_hash(m, h1);
    model_set_threads(2);
    ckpt_hash(m, h2);
    CHECK_STREQ(h1, h2);
    m->params[m->nparams - 1] = nextafterf(m->params[m->nparams - 1], INFINITY);
    ckpt_hash(m, h3);
    CHECK(strcmp(h1, h3) != 0);
    model_set_threads(1);
    model_free(m);
}

int
main(void)
{
    /* tests/run.sh runs each test in a fresh directory */
    model_set_threads(1);
    test_config();
    test_save_load();
    test_half();
    test_errors();
    test_resume();
    test_sharded();
    test_parse_opts();
    test_hash();
    return check_done();
}
