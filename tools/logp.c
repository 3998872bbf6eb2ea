/*
 * logp - adds per-token log-probabilities of the completion under a
 * checkpoint to sample records: ref_logprobs (the reference model of the
 * KL term) or, with --old, old_logprobs (the policy before the update).
 * Several samples go through each forward pass, as segments of one packed
 * batch (lib/model.c); records come out in input order.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "lm.h"
#include "model.h"
#include "sample.h"
#include "tool.h"
#include "w16.h"

static const char usage_text[] =
    "usage: logp -m DIR [--adapter DIR] [--dtype NAME] [--old] [--temperature X]\n"
    "            [--batch-tokens N] [--threads N] [--replay-routes] [options] [FILE ...]\n"
    "Adds ref_logprobs (or old_logprobs) to sample records under a checkpoint.\n"
    "  -m, --model DIR       the checkpoint (reference model, or the policy)\n"
    "      --adapter DIR     with the LoRA adapter in DIR (PEFT's layout); without\n"
    "                        it, the base is a LoRA policy's reference model\n"
    "      --dtype NAME      products in f32 (default) or bf16: bf16 copies of the\n"
    "                        weights, fp32 accumulation (posttrain-checkpoint(5))\n"
    "      --old             write old_logprobs instead of ref_logprobs\n"
    "      --temperature X   log-probabilities of softmax(logits / X) (default: the\n"
    "                        samples' sampling.temperature, else 1)\n"
    "      --batch-tokens N  tokens per forward pass (default 8192)\n"
    "      --threads N       compute threads (default: POSTTRAIN_THREADS, else all)\n"
    "      --replay-routes   the experts of the records' routes (gen --routes), not\n"
    "                        the router's choice, for the completion tokens\n"
    TOOL_USAGE_COMMON;

enum {
    OPT_OLD = TOOL_OPT_FIRST_FREE,
    OPT_TEMPERATURE,
    OPT_BATCH_TOKENS,
    OPT_THREADS,
    OPT_ADAPTER,
    OPT_DTYPE,
    OPT_REPLAY_ROUTES,
};

struct pending {
    json_t **recs;
    size_t *np, *nc;       /* prompt and completion lengths */
    size_t n, cap, ntok;
    int *ids, *targets, *seg;
    int *routes;           /* (cap_tok, W) with --replay-routes */
    unsigned char *mask;
    float *logp;
    size_t cap_tok, cap_seg;
};

/* Checks a sample record; returns 0 with its lengths, or -1 with a reason. */
static int
sample_lengths(const json_t *rec, const struct model *m, size_t *np, size_t *nc,
               const char **field, struct sbuf *why)
{
    static const char *const keys[2] = {"prompt_ids", "completion_ids"};
    size_t len[2];
    int k;

    for (k = 0; k < 2; k++) {
        const json_t *a;

        if (sample_get_ids(rec, *field = keys[k], m->cfg.vocab_size, 0, &a, why) < 0)
            return -1;
        len[k] = json_array_size(a);
        if (len[k] == 0) {
            sbuf_adds(why, k == 0 ? "empty (nothing predicts the first completion token)"
                               : "empty");
            return -1;
        }
    }
    if (len[0] + len[1] > (size_t)m->cfg.max_pos) {
        *field = "completion_ids";
        sbuf_addf(why, "the sample is %zu tokens, more than the model's %d positions",
                  len[0] + len[1], m->cfg.max_pos);
        return -1;
    }
    *np = len[0];
    *nc = len[1];
    return 0;
}

static void
flush(struct tool *tl, struct model *m, struct pending *p, const char *key, float temp,
      int replay)
{
    struct model_batch b;
    size_t r, t = 0, j, W = replay ? (size_t)model_route_width(&m->cfg) : 0;
    struct sbuf why = SBUF_INIT;

    if (p->n == 0)
        return;
    if (p->ntok > p->cap_tok) {
        p->cap_tok = p->ntok;
        p->ids = xrealloc(p->ids, xmul(p->cap_tok, sizeof(int)));
        p->targets = xrealloc(p->targets, xmul(p->cap_tok, sizeof(int)));
        p->mask = xrealloc(p->mask, p->cap_tok);
        p->logp = xrealloc(p->logp, xmul(p->cap_tok, sizeof(float)));
        if (W)
            p->routes = xrealloc(p->routes, xmul(p->cap_tok, W * sizeof(int)));
    }
    if (p->n > p->cap_seg) {
        p->cap_seg = p->n;
        p->seg = xrealloc(p->seg, xmul(p->cap_seg, sizeof(int)));
    }
    for (r = 0; r < p->n; r++) {
        const json_t *pa = json_object_get(p->recs[r], "prompt_ids");
        const json_t *ca = json_object_get(p->recs[r], "completion_ids");
        size_t t0 = t;
        for (j = 0; j < p->np[r]; j++, t++) {
            p->ids[t] = (int)json_integer_value(json_array_get(pa, j));
            p->mask[t] = 0;
        }
        for (j = 0; j < p->nc[r]; j++, t++) {
            p->ids[t] = (int)json_integer_value(json_array_get(ca, j));
            p->mask[t] = 1;
        }
        p->seg[r] = (int)(p->np[r] + p->nc[r]);
        /* completion token j's experts are those of row np + j - 1, which predicts it */
        if (W && sample_routes_place(json_object_get(p->recs[r], "routes"), &m->cfg,
                                     p->np[r], p->nc[r], p->routes + t0 * W,
                                     &why) < 0)
            die("logp: routes: %s", sbuf_str(&why)); /* checked as the record came in */
    }
    sbuf_release(&why);
    b.ntok = p->ntok;
    b.ids = p->ids;
    b.targets = p->targets;
    b.nseg = p->n;
    b.seg_len = p->seg;
    b.routes = W ? p->routes : NULL;
    model_batch_shift_targets(&b, p->mask, p->targets);
    model_forward(m, &b, temp, p->logp, NULL, NULL, MODEL_FWD_NOGRAD | MODEL_FWD_EXACT);
    for (r = 0, t = 0; r < p->n; r++) {
        json_t *a = json_array();
        /* completion token j is predicted at position np + j - 1 */
        for (j = 0; j < p->nc[r]; j++)
            json_array_append_new(a, json_real(p->logp[t + p->np[r] + j - 1]));
        t += p->np[r] + p->nc[r];
        json_object_set_new(p->recs[r], key, a);
        tool_write(tl, p->recs[r]);
        json_decref(p->recs[r]);
    }
    p->n = 0;
    p->ntok = 0;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        TOOL_LONGOPTS,
        {"model", required_argument, NULL, 'm'},
        {"adapter", required_argument, NULL, OPT_ADAPTER},
        {"dtype", required_argument, NULL, OPT_DTYPE},
        {"old", no_argument, NULL, OPT_OLD},
        {"temperature", required_argument, NULL, OPT_TEMPERATURE},
        {"batch-tokens", required_argument, NULL, OPT_BATCH_TOKENS},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"replay-routes", no_argument, NULL, OPT_REPLAY_ROUTES},
        {NULL, 0, NULL, 0},
    };
    struct tool tl;
    struct sbuf err = SBUF_INIT, why = SBUF_INIT;
    struct pending p;
    const char *model = NULL, *adapter = NULL, *key = "ref_logprobs", *field;
    struct model *m;
    double temp = 1.0;
    int temp_given = 0, use16 = 0, replay = 0;
    struct sample_temp st;
    long batch_tokens = 8192, threads = 0;
    size_t np, nc;
    json_t *r;
    int ch, rc;

    util_setprog(argv[0]);
    tool_init(&tl, "logp", usage_text);
    while ((ch = getopt_long(argc, argv, TOOL_SHORTOPTS "m:", longopts, NULL)) != -1) {
        if (tool_opt(&tl, ch, optarg))
            continue;
        switch (ch) {
        case 'm': model = optarg; break;
        case OPT_ADAPTER: adapter = optarg; break;
        case OPT_DTYPE:
            if ((use16 = w16_parse_dtype(optarg)) < 0)
                tool_usage_error(&tl, "--dtype: '%s' is not f32 or bf16", optarg);
            break;
        case OPT_OLD: key = "old_logprobs"; break;
        case OPT_REPLAY_ROUTES: replay = 1; break;
        case OPT_TEMPERATURE:
            if (parse_double(optarg, 1e-3, 1e3, &temp))
                tool_usage_error(&tl, "--temperature: '%s' is not a number in [0.001, 1000]",
                                 optarg);
            temp_given = 1;
            break;
        case OPT_BATCH_TOKENS:
            if (parse_long(optarg, 1, 1L << 30, &batch_tokens))
                tool_usage_error(&tl, "--batch-tokens: '%s' is not an integer in [1, %ld]",
                                 optarg, 1L << 30);
            break;
        case OPT_THREADS:
            if (parse_long(optarg, 1, 1024, &threads))
                tool_usage_error(&tl, "--threads: '%s' is not an integer in [1, 1024]", optarg);
            break;
        default: tool_usage(&tl);
        }
    }
    if (!model)
        tool_usage_error(&tl, "-m DIR is required");
    if (threads)
        model_set_threads((int)threads);
    else if (model_threads_env() > 0)
        model_set_threads(model_threads_env());
    m = ckpt_load(model, 0, NULL, &err);
    if (!m)
        die("%s", sbuf_str(&err));
    if (m->cfg.arch != MODEL_CAUSAL_LM)
        die("%s: a reward model (scalar head) has no token log-probabilities", model);
    if (lm_adapter(m, adapter, &err) < 0)
        die("%s", sbuf_str(&err));
    if (use16)
        model_use_bf16(m, KERN16_AUTO, 0);
    if (replay && model_route_width(&m->cfg) == 0)
        die("%s: --replay-routes: the model has no mixture-of-experts layers", model);
    memset(&p, 0, sizeof(p));
    /* The samples' own temperature unless --temperature overrides it. */
    sample_temp_init(&st, temp_given, temp);
    tool_start(&tl, argc - optind, argv + optind);
    while ((r = tool_next(&tl)) != NULL) {
        sbuf_reset(&why);
        if (!json_is_object(r) || sample_lengths(r, m, &np, &nc, &field, &why) < 0) {
            if (!json_is_object(r))
                field = NULL, sbuf_adds(&why, "a record must be a JSON object");
            tool_reject(&tl, r, field, "%s", sbuf_str(&why));
            json_decref(r);
            continue;
        }
        if (replay && sample_routes_get(json_object_get(r, "routes"), &m->cfg, nc,
                                        "completion_ids", NULL, &why) < 0) {
            tool_reject(&tl, r, "routes", "%s", sbuf_str(&why));
            json_decref(r);
            continue;
        }
        if (sample_temp_take(&st, r, &field) < 0) {
            tool_reject(&tl, r, field, "%s", sbuf_str(&st.msg));
            json_decref(r);
            continue;
        }
        if (p.n > 0 && p.ntok + np + nc > (size_t)batch_tokens)
            flush(&tl, m, &p, key, (float)st.temperature, replay);
        if (p.n == p.cap) {
            p.cap = p.cap ? 2 * p.cap : 64;
            p.recs = xrealloc(p.recs, xmul(p.cap, sizeof(*p.recs)));
            p.np = xrealloc(p.np, xmul(p.cap, sizeof(size_t)));
            p.nc = xrealloc(p.nc, xmul(p.cap, sizeof(size_t)));
        }
        p.recs[p.n] = r;
        p.np[p.n] = np;
        p.nc[p.n++] = nc;
        p.ntok += np + nc;
    }
    flush(&tl, m, &p, key, (float)st.temperature, replay);
    rc = tool_finish(&tl);
    free(p.recs);
    free(p.np);
    free(p.nc);
    free(p.ids);
    free(p.targets);
    free(p.seg);
    free(p.mask);
    free(p.logp);
    free(p.routes);
    lm_free(m);
    sbuf_release(&err);
    sbuf_release(&why);
    sample_temp_release(&st);
    return rc;
}
