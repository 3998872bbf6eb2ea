/*
 * test_gen.c - lib/gen end to end on a small random model with the
 * built-in tokenizer: the log-probability recorded for each sampled token
 * against the training forward (model_forward on prompt + completion at
 * the same temperature) to 1e-4, with and without truncation and when
 * greedy; the text against a plain decode of the ids; prompts handed
 * back in input order with their G samples; unordered (serve), each as
 * soon as it is done, with the same samples.  With routes, on a mixture of
 * experts: each token's recorded experts, replayed in the training
 * forward, give the same log-probabilities bit for bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "check.h"
#include "gen.h"
#include "model.h"
#include "tok.h"
#include "util.h"

static int with_routes; /* gen_config.routes in run() */

static const char *prompts[] = {
    "What is 2+2?", "Hello", "Write a haiku about the sea.", "x", "Count to five.",
    "Why is the sky blue?", "Name three prime numbers.",
};

struct ctx {
    struct model *m;
    struct tok *tok;
    struct chat *chat;
    float temp;             /* the temperature of the recorded logprobs */
    int next, emitted, G, nsamples, neos;
    double maxdiff;
    struct tok_ids ids;
    char idbuf[16];
};

/* Fills p with prompts[i], its ids in ids and its id "qI" in idbuf. */
static void
fill_prompt(struct chat *chat, int i, struct tok_ids *ids, char *idbuf, size_t idsize,
            struct gen_prompt *p)
{
    ids->n = 0;
    chat_prompt(chat, NULL, prompts[i], ids);
    snprintf(idbuf, idsize, "q%d", i);
    p->user = (void *)(long)i;
    p->id = idbuf;
    p->idlen = strlen(idbuf);
    p->ids = ids->v;
    p->n = (int)ids->n;
}

static int
next(void *vc, struct gen_prompt *p)
{
    struct ctx *c = vc;

    if (c->next == (int)ARRAY_LEN(prompts))
        return 0;
    fill_prompt(c->chat, c->next++, &c->ids, c->idbuf, sizeof(c->idbuf), p);
    return 1;
}

static void
emit(void *vc, const struct gen_prompt *p, const struct gen_sample *s, int G)
{
    struct ctx *c = vc;
    int k, i;

    CHECK((long)p->user == c->emitted);
    CHECK(G == c->G);
    c->emitted++;
    for (k = 0; k < G; k++) {
        int N = p->n + s[k].n, *ids = malloc(sizeof(int) * (size_t)N);
        int *tg = malloc(sizeof(int) * (size_t)N);
        float *logp = malloc(sizeof(float) * (size_t)N);
        struct model_batch b = {(size_t)N, ids, tg, 1, &N, NULL};
        struct sbuf text = SBUF_INIT;
        int eos = s[k].n > 0 && chat_is_stop(c->chat, s[k].ids[s[k].n - 1]);

        CHECK(s[k].k == k);
        memcpy(ids, p->ids, sizeof(int) * (size_t)p->n);
        memcpy(ids + p->n, s[k].ids, sizeof(int) * (size_t)s[k].n);
        for (i = 0; i < N; i++)
            tg[i] = i >= p->n - 1 && i + 1 < N ? ids[i + 1] : -1;
        model_forward(c->m, &b, c->temp, logp, NULL, NULL, MODEL_FWD_NOGRAD);
        for (i = 0; i < s[k].n; i++)
            c->maxdiff = fmax(c->maxdiff, fabs(logp[p->n - 1 + i] - s[k].logprobs[i]));
        /* text = decode of the ids without the end token */
        tok_decode(c->tok, s[k].ids, (size_t)(s[k].n - eos), 0, &text);
        CHECK_MSG(strcmp(sbuf_str(&text), s[k].text) == 0, "prompt %ld k %d: text differs",
                  (long)p->user, k);
        CHECK(strcmp(s[k].finish, eos ? "stop" : "length") == 0);
        CHECK((s[k].routes != NULL) == with_routes);
        if (s[k].routes) {
            int W = model_route_width(&c->m->cfg);
            int *rt = malloc(sizeof(int) * (size_t)(N * W));
            float *lp2 = malloc(sizeof(float) * (size_t)N);
            for (i = 0; i < N * W; i++)
                rt[i] = -1;
            for (i = 0; i < s[k].n * W; i++) {
                CHECK(s[k].routes[i] >= 0 && s[k].routes[i] < c->m->cfg.moe.n_experts);
                rt[(p->n - 1) * W + i] = s[k].routes[i];
            }
            b.routes = rt;
            model_forward(c->m, &b, c->temp, lp2, NULL, NULL, MODEL_FWD_NOGRAD);
            CHECK(memcmp(lp2, logp, sizeof(float) * (size_t)N) == 0);
            free(rt);
            free(lp2);
        }
        c->neos += eos;
        c->nsamples++;
        sbuf_release(&text);
        free(ids);
        free(tg);
        free(logp);
    }
}

static void
run(struct model *m, struct tok *t, struct chat *ch, struct sampler_config sc, int threads,
    int batch)
{
    struct gen_config cfg;
    struct ctx c;
    struct gen *g;

    memset(&cfg, 0, sizeof(cfg));
    cfg.G = 3;
    cfg.sampler = sc;
    cfg.max_tokens = 40;
    cfg.seed = 5;
    cfg.batch = batch;
    cfg.threads = threads;
    cfg.routes = with_routes;
    memset(&c, 0, sizeof(c));
    c.m = m;
    c.tok = t;
    c.chat = ch;
    c.G = cfg.G;
    c.temp = sc.temperature > 0 ? sc.temperature : 1.0f;
    g = gen_new(m, t, ch, &cfg);
    gen_run(g, next, emit, &c);
    gen_free(g);
    CHECK(c.emitted == (int)ARRAY_LEN(prompts));
    CHECK(c.nsamples == 3 * (int)ARRAY_LEN(prompts));
    CHECK_MSG(c.maxdiff < 1e-4, "T %g top-k %d top-p %g: max logprob diff %g",
              sc.temperature, sc.top_k, sc.top_p, c.maxdiff);
    tok_ids_release(&c.ids);
}

/* ---- unordered: a long prompt first, six of one token after it ---- */

struct uctx {
    struct chat *chat;
    struct gen_opts opts[2];        /* [0]: 40 tokens, [1]: 1 token */
    struct tok_ids ids;
    char idbuf[16];
    int next, order[8], nout;
    struct sbuf text[8];
};

static int
unext(void *vc, struct gen_prompt *p)
{
    struct uctx *c = vc;

    if (c->next == (int)ARRAY_LEN(prompts))
        return 0;
    p->opts = &c->opts[c->next > 0];
    fill_prompt(c->chat, c->next++, &c->ids, c->idbuf, sizeof(c->idbuf), p);
    return 1;
}

static void
uemit(void *vc, const struct gen_prompt *p, const struct gen_sample *s, int G)
{
    struct uctx *c = vc;
    long i = (long)p->user;

    CHECK(G == 1 && c->nout < 8);
    c->order[c->nout++] = (int)i;
    sbuf_reset(&c->text[i]);
    sbuf_add(&c->text[i], s[0].text, s[0].len);
    sbuf_addf(&c->text[i], " %d %s", s[0].n, s[0].finish);
}

/* Runs the seven prompts, 2 at a time, into c (unordered or not). */
static void
urun(struct model *m, struct tok *t, struct chat *ch, int unordered, struct uctx *c)
{
    struct sampler_config sc = SAMPLER_CONFIG_INIT;
    struct gen_config cfg;
    struct gen *g;
    int i;

    memset(&cfg, 0, sizeof(cfg));
    cfg.G = 1;
    cfg.sampler = sc;
    cfg.max_tokens = 40;
    cfg.seed = 3;
    cfg.batch = 2;
    cfg.threads = 1;
    cfg.unordered = unordered;
    c->chat = ch;
    c->next = c->nout = 0;
    for (i = 0; i < 2; i++) {
        memset(&c->opts[i], 0, sizeof(c->opts[i]));
        c->opts[i].G = 1;
        c->opts[i].sampler = sc;
        c->opts[i].max_tokens = i == 0 ? 40 : 1;
        c->opts[i].seed = 3;
    }
    g = gen_new(m, t, ch, &cfg);
    gen_run(g, unext, uemit, c);
    gen_free(g);
}

static void
test_unordered(struct model *m, struct tok *t, struct chat *ch)
{
    struct uctx a, b;
    int i;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    urun(m, t, ch, 0, &a);
    urun(m, t, ch, 1, &b);
    CHECK(a.nout == 7 && b.nout == 7);
    for (i = 0; i < 7; i++)
        CHECK_MSG(a.order[i] == i, "ordered: emit %d is prompt %d", i, a.order[i]);
    /* the first prompt runs on while the others end at their first token */
    CHECK_MSG(strstr(sbuf_str(&a.text[0]), " 40 length") != NULL, "prompt 0: %s",
              sbuf_str(&a.text[0]));
    for (i = 0; i < 6; i++)
        CHECK_MSG(b.order[i] == i + 1, "unordered: emit %d is prompt %d", i, b.order[i]);
    CHECK(b.order[6] == 0);
    for (i = 0; i < 7; i++) {
        CHECK_MSG(strcmp(sbuf_str(&a.text[i]), sbuf_str(&b.text[i])) == 0,
                  "prompt %d: '%s' ordered, '%s' unordered", i, sbuf_str(&a.text[i]),
                  sbuf_str(&b.text[i]));
        sbuf_release(&a.text[i]);
        sbuf_release(&b.text[i]);
    }
    tok_ids_release(&a.ids);
    tok_ids_release(&b.ids);
}

int
main(void)
{
    struct model_config c;
    struct model *m;
    struct tok *t = tok_builtin();
    struct chat ch;
    struct sbuf err = SBUF_INIT;
    struct sampler_config sc = SAMPLER_CONFIG_INIT;

    memset(&c, 0, sizeof(c));
    c.arch = MODEL_CAUSAL_LM;
    strcpy(c.model_type, "llama");
    c.dim = 64;
    c.hidden_dim = 96;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 16;
    c.vocab_size = TOK_BUILTIN_VOCAB;
    c.max_pos = 128;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    c.tie_embeddings = 1;
    c.num_labels = 1;
    c.bos_id = TOK_BOS;
    c.eos_id = TOK_EOS;
    c.pad_id = -1;
    m = model_new(&c);
    /*
     * Weights of std 0.2 make peaked, varied distributions; at 0.5 the
     * activations grow so large that two float forwards (any two) differ
     * by more than 1e-4 in log-probability from rounding alone.
     */
    model_init_random(m, 9, 0.2f);
    if (chat_init(&ch, t, CHAT_BUILTIN, 0, &err) < 0) {
        fprintf(stderr, "%s\n", sbuf_str(&err));
        return 1;
    }
    run(m, t, &ch, sc, 1, 4);
    sc.temperature = 0.7f;
    run(m, t, &ch, sc, 2, 2);
    sc.top_k = 20;
    sc.top_p = 0.9f;
    run(m, t, &ch, sc, 2, 8);
    sc = (struct sampler_config)SAMPLER_CONFIG_INIT;
    sc.temperature = 0;
    run(m, t, &ch, sc, 1, 1);
    test_unordered(m, t, &ch);
    model_free(m);
    /* a mixture of experts (layer 0 dense, 4 experts, top 2), routes recorded */
    c.moe = (struct model_moe){.n_experts = 4, .top_k = 2, .hidden = 32, .norm_topk = 1,
                               .n_group = 1, .topk_group = 1, .scaling = 1.0f,
                               .sparse_step = 1, .first_dense = 1};
    m = model_new(&c);
    model_init_random(m, 9, 0.2f);
    with_routes = 1;
    sc = (struct sampler_config)SAMPLER_CONFIG_INIT;
    run(m, t, &ch, sc, 2, 4);
    chat_release(&ch);
    tok_free(t);
    model_free(m);
    sbuf_release(&err);
    return check_done();
}
