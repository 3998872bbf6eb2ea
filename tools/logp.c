/*
 * logp - adds per-token log-probabilities of the completion under a
 * checkpoint to sample records: ref_logprobs (the reference model of the
 * KL term) or, with --old, old_logprobs (the policy before the update).
 * Several samples go through each forward pass, as segments of one packed
 * batch (lib/model.c); records come out in input order.
 */
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
    "Adds ref_logprobs (or old_logprobs) to sample records under a checkpoint.\n";

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
    struct tool tl;
    struct tool_model mo;
    struct sbuf err = SBUF_INIT, why = SBUF_INIT;
    struct pending p;
    const char *key = "ref_logprobs", *field;
    struct model *m;
    double temp = 1.0;
    int temp_given = 0, old = 0, replay = 0;
    struct sample_temp st;
    long batch_tokens = 8192;
    size_t np, nc;
    json_t *r;
    int argi, rc;

    tool_init(&tl, "logp", usage_text);
    tool_model_init(&mo);
    {
        const struct opt opts[] = {
            TOOL_MODEL_DIR(&mo, "the checkpoint (reference model, or the policy)"),
            TOOL_MODEL_ADAPTER(&mo, "with the LoRA adapter in DIR (PEFT's layout); without\n"
                                    "it, the base is a LoRA policy's reference model"),
            TOOL_MODEL_DTYPE(&mo),
            OPT_BOOL(0, "old", &old, "write old_logprobs instead of ref_logprobs"),
            {.type = OPT_T_DOUBLE, .long_name = "temperature", .value = &temp,
             .argname = "X", .fmin = 1e-3, .fmax = 1e3, .given = &temp_given,
             .help = "log-probabilities of softmax(logits / X) (default: the\n"
                     "samples' sampling.temperature, else 1)"},
            OPT_LONG(0, "batch-tokens", &batch_tokens, "N", 1, 1L << 30,
                     "tokens per forward pass (default 8192)"),
            TOOL_MODEL_THREADS(&mo),
            OPT_BOOL(0, "replay-routes", &replay,
                     "the experts of the records' routes (gen --routes), not\n"
                     "the router's choice, for the completion tokens"),
            OPT_END(),
        };
        argi = tool_parse(&tl, opts, argc, argv);
    }
    if (old)
        key = "old_logprobs";
    if (!mo.lm.dir)
        tool_usage_error(&tl, "-m DIR is required");
    if (mo.threads || model_threads_env() > 0)
        model_set_threads(tool_model_threads(&mo));
    m = ckpt_load(mo.lm.dir, 0, NULL, &err);
    if (!m)
        die("%s", sbuf_str(&err));
    if (m->cfg.arch != MODEL_CAUSAL_LM)
        die("%s: a reward model (scalar head) has no token log-probabilities", mo.lm.dir);
    if (lm_adapter(m, mo.lm.adapter, &err) < 0)
        die("%s", sbuf_str(&err));
    if (mo.lm.bf16)
        model_use_bf16(m, KERN16_AUTO, 0);
    if (replay && model_route_width(&m->cfg) == 0)
        die("%s: --replay-routes: the model has no mixture-of-experts layers", mo.lm.dir);
    memset(&p, 0, sizeof(p));
    /* The samples' own temperature unless --temperature overrides it. */
    sample_temp_init(&st, temp_given, temp);
    tool_start(&tl, argc - argi, argv + argi);
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
        if (sample_temp_take(&st, r, &field, &why) < 0) {
            tool_reject(&tl, r, field, "%s", sbuf_str(&why));
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
