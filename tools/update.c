/*
 * update - optimizer steps from packed records: SFT, GRPO or a
 * Bradley-Terry reward model.  Reads the checkpoint -m IN, writes the next
 * one -o OUT (model, AdamW state, schedule, and where the run stands, so
 * --resume continues it bit for bit).  The losses and the step are in
 * lib/train.c; checkpoints in lib/ckpt.c; the ranks of an MPI job, each
 * computing a share of every batch, in lib/dist.c.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ckpt.h"
#include "dist.h"
#include "lora.h"
#include "pack.h"
#include "sample.h"
#include "tool.h"
#include "train.h"
#include "w16.h"

static const char usage_text[] =
    "usage: update -m IN -o OUT (--sft | --grpo | --distill | --rm) [options] [FILE ...]\n"
    "Takes optimizer steps on packed records and writes the next checkpoint.\n"
    "  -m, --model DIR        the checkpoint to start from\n"
    "  -o, --output DIR       the checkpoint to write (atomically)\n"
    "      --sft              cross-entropy on the loss_mask tokens\n"
    "      --grpo             clipped surrogate with advantages, optional k3 KL\n"
    "      --distill          on-policy distillation: --grpo with the per-token\n"
    "                         advantage ref - old (ref_logprobs: the teacher's)\n"
    "      --rm               Bradley-Terry on chosen/rejected pairs (scalar head)\n"
    "batches:\n"
    "      --batch N          packed sequences per optimizer step (sft, rm: 16;\n"
    "                         grpo: 0 = the whole input)\n"
    "      --batch-tokens N   sequences per step until they hold N tokens\n"
    "      --micro-tokens N   tokens per forward pass; gradients accumulate\n"
    "                         (default 4096; results do not depend on it)\n"
    "      --epochs N         passes over the input (sft 2, else 1)\n"
    "      --steps N          stop after N steps of this run (at a batch end)\n"
    "      --no-shuffle       keep the input order (default: sft and rm shuffle\n"
    "                         each epoch, seeded)\n"
    "      --seed N           the shuffle's seed (default 0)\n"
    "optimizer (default: carried in IN, else sft 5e-6 cosine to 1e-6, grpo 1e-6\n"
    "constant, rm 1e-5 cosine to 1e-6):\n"
    "      --lr X  --min-lr X  --schedule constant|cosine  --warmup N\n"
    "      --total-steps N    end of the cosine (default: the run's last step)\n"
    "      --weight-decay X (0.1)  --beta1 X (0.9)  --beta2 X (0.95)\n"
    "      --grad-clip X      clip the global gradient norm (1.0; 0 = off)\n"
    "grpo:\n"
    "      --objective NAME   ppo (default), gspo, gspo-token, cispo\n"
    "      --clip-low X       ratio floor 1 - X (0.2; gspo 3e-4; cispo 1: none)\n"
    "      --clip-high X      ratio ceiling 1 + X (0.28; gspo 4e-4)\n"
    "      --beta X           KL coefficient (0: no reference needed)\n"
    "      --kl k1|k2|k3      the KL estimator (default k3)\n"
    "      --entropy-coef X   entropy bonus: minus X times the entropy (0)\n"
    "      --distill-coef X   --distill: the advantage's coefficient (1)\n"
    "      --is off|token|seq importance weights of the sampler's log-probs\n"
    "                         against the recomputed old ones (default token)\n"
    "      --is-cap C         their cap (default 2)\n"
    "      --is-mode truncate|mask  min(rho, C), or 0 past C (default truncate)\n"
    "      --agg NAME         seq-mean-token-mean (default), token-mean,\n"
    "                         seq-mean-token-sum-norm\n"
    "      --norm-len N       seq-mean-token-sum-norm's constant (default: the\n"
    "                         longest completion of the batch)\n"
    "      --mu N             optimizer steps per batch (default 1)\n"
    "      --old records|recompute  old log-probs: the records' or the policy's\n"
    "                         at the first pass (default; with --is off: the\n"
    "                         records' when present)\n"
    "      --temperature X    the sampling temperature (default: the records'\n"
    "                         sampling.temperature, else 1)\n"
    "mixtures of experts:\n"
    "      --moe-bias-speed G after each step, move each sparse layer's\n"
    "                         e_score_correction_bias by G toward equal expert\n"
    "                         load (auxiliary-loss-free balancing; 0: off)\n"
    "      --moe-seq-aux A    add A times the sequence-wise balance loss (0: off)\n"
    "      --replay-routes    the records' routes (gen --routes) choose the experts\n"
    "                         of the completion tokens, not the router\n"
    "rm:\n"
    "      --margin X         added to each pair's margin (default 0)\n"
    "LoRA (the base IN frozen; OUT is a PEFT adapter directory):\n"
    "      --lora R           train new rank-R adapters\n"
    "      --lora-alpha A     scale s = A / R (default 2 R)\n"
    "      --lora-dropout P   dropout on the adapters' input (default 0)\n"
    "      --lora-targets L   q,k,v,o,gate,up,down (default: all)\n"
    "      --rslora           s = A / sqrt(R)\n"
    "      --adapter DIR      continue the adapter (and its optimizer) in DIR\n"
    "checkpoints and output:\n"
    "      --save-every N     also save DIR/checkpoint-STEP every N steps\n"
    "      --save-dir DIR     where (default: OUT's parent directory)\n"
    "      --dtype NAME       weights written as f32 (default), bf16, f16, or\n"
    "                         auto (IN's torch_dtype)\n"
    "      --max-shard-size SIZE  shard the weights past SIZE bytes (KB, MB, GB,\n"
    "                         TB: powers of 1000; default 5GB)\n"
    "      --resume           continue the run saved in IN (same input, options)\n"
    "      --new-optimizer    ignore IN's optimizer state: fresh moments, step 0\n"
    "                         and this mode's schedule (e.g. GRPO after SFT)\n"
    "      --eval             no step: print the loss (rm: and the pairwise\n"
    "                         accuracy) of the input under IN as one JSON line\n"
    "      --metrics FILE     one JSON line per step\n"
    "      --threads N        compute threads (default: POSTTRAIN_THREADS, else all;\n"
    "                         under mpirun, the host's cores over its ranks)\n"
    "      --compute-dtype NAME  matrix products in f32 (default) or bf16: bf16\n"
    "                         copies of the fp32 master weights, forward and\n"
    "                         backward, fp32 accumulation (gen/logp --dtype bf16\n"
    "                         compute the same log-probs)\n"
    "      --max-errors N     go on past up to N bad records (default 0)\n"
    "      --rejects FILE     write bad records there, whole, with the reason\n"
    "  -q, --quiet            no summary on stderr\n"
    "  -h, --help             this help\n"
    "  -V, --version          the version\n"
    "Under mpirun (an MPI build), each rank computes a share of every batch and\n"
    "rank 0 writes OUT: see update(1).\n";

enum {
    OPT_SFT = TOOL_OPT_FIRST_FREE, OPT_GRPO, OPT_RM, OPT_BATCH, OPT_BATCH_TOKENS,
    OPT_MICRO_TOKENS, OPT_EPOCHS, OPT_STEPS, OPT_NO_SHUFFLE, OPT_SEED, OPT_LR, OPT_MIN_LR,
    OPT_SCHEDULE, OPT_WARMUP, OPT_TOTAL_STEPS, OPT_WEIGHT_DECAY, OPT_BETA1, OPT_BETA2,
    OPT_GRAD_CLIP, OPT_CLIP_LOW, OPT_CLIP_HIGH, OPT_BETA, OPT_AGG, OPT_NORM_LEN, OPT_MU,
    OPT_OLD, OPT_TEMPERATURE, OPT_MARGIN, OPT_SAVE_EVERY, OPT_SAVE_DIR, OPT_RESUME, OPT_NEW_OPTIMIZER,
    OPT_METRICS, OPT_THREADS, OPT_EVAL, OPT_DTYPE, OPT_SHARD, OPT_DISTILL, OPT_OBJECTIVE,
    OPT_KL, OPT_ENTROPY_COEF, OPT_DISTILL_COEF, OPT_IS, OPT_IS_CAP, OPT_IS_MODE,
    OPT_LORA, OPT_LORA_ALPHA, OPT_LORA_DROPOUT, OPT_LORA_TARGETS, OPT_RSLORA, OPT_ADAPTER,
    OPT_COMPUTE_DTYPE, OPT_MOE_BIAS_SPEED, OPT_MOE_SEQ_AUX, OPT_REPLAY_ROUTES,
};

/* Optimizer options given on the command line (NAN / -1: not given). */
struct optset {
    double lr, min_lr, wd, b1, b2, clip;
    long warmup, total;
    int schedule;
};

struct run {
    struct tool tl;
    const char *in, *out, *save_dir, *metrics_path;
    int mode;
    struct train_config tc;
    long batch, batch_tokens, epochs, max_steps, mu, save_every, threads;
    int shuffle, resume, eval, new_optimizer, old_mode; /* old_mode: 0 auto, 1 records, 2 recompute */
    int temp_given;             /* --temperature: else the records' sampling */
    struct sample_temp samp;
    uint64_t seed;
    struct optset os;
    struct ckpt_format fmt;  /* how checkpoints are written */
    int fmt_given;           /* --dtype or --max-shard-size */
    int use16;               /* --compute-dtype bf16 */
    int replay;              /* --replay-routes */
    /* LoRA: a new adapter (lora.r > 0) or the one in adapter */
    struct lora_config lora;
    const char *adapter;
    struct lora *lo;
    /* data */
    struct pack_row *rows;
    size_t nrows, caprows;
    uint64_t data_hash;
};

static void
parse_num(struct run *r, const char *opt, const char *arg, double lo, double hi, double *out)
{
    if (parse_double(arg, lo, hi, out))
        tool_usage_error(&r->tl, "%s: '%s' is not a number in [%g, %g]", opt, arg, lo, hi);
}

static void
parse_int(struct run *r, const char *opt, const char *arg, long lo, long hi, long *out)
{
    if (parse_long(arg, lo, hi, out))
        tool_usage_error(&r->tl, "%s: '%s' is not an integer in [%ld, %ld]", opt, arg, lo, hi);
}

/* ---- Reading the packed records ---- */

static uint64_t
row_hash(const struct pack_row *w, uint64_t h)
{
    h = hash64(w->ids, w->n * sizeof(int), h);
    h = hash64(w->mask, w->n, h);
    h = hash64(w->seg, w->nseg * sizeof(int), h);
    if (w->adv)
        h = hash64(w->adv, w->nseg * sizeof(float), h);
    if (w->old)
        h = hash64(w->old, w->n * sizeof(float), h);
    if (w->ref)
        h = hash64(w->ref, w->n * sizeof(float), h);
    if (w->routes)
        h = hash64(w->routes, w->nroutes * sizeof(int), h);
    return h;
}

/* Checks what the mode needs of a row; 0 or -1 with field and why. */
static int
row_fits(const struct run *r, const struct model *m, const struct pack_row *w,
         const char **field, struct sbuf *why)
{
    size_t i;

    for (i = 0; i < w->n; i++) {
        if (w->ids[i] >= m->cfg.vocab_size) {
            *field = "ids";
            sbuf_addf(why, "element %zu is %d, outside the vocabulary of %d", i, w->ids[i],
                      m->cfg.vocab_size);
            return -1;
        }
    }
    for (i = 0; i < w->nseg; i++) {
        if (w->seg[i] > m->cfg.max_pos) {
            *field = "segments";
            sbuf_addf(why, "element %zu is %d tokens, more than the model's %d positions", i,
                      w->seg[i], m->cfg.max_pos);
            return -1;
        }
    }
    if (r->mode == TRAIN_GRPO && r->tc.distill > 0 && !w->ref) {
        *field = "ref_logprobs";
        sbuf_adds(why, "missing (--distill needs the teacher's: logp -m TEACHER before pack)");
        return -1;
    }
    if (r->mode == TRAIN_GRPO && !w->adv && r->tc.distill == 0) {
        *field = "advantage";
        sbuf_adds(why, "missing (--grpo needs an advantage per segment)");
        return -1;
    }
    if (r->mode == TRAIN_GRPO && r->tc.beta > 0 && !w->ref) {
        *field = "ref_logprobs";
        sbuf_adds(why, "missing (--beta > 0 needs them: logp -m REF before pack)");
        return -1;
    }
    if (r->mode == TRAIN_GRPO && r->old_mode == 1 && !w->old) {
        *field = "old_logprobs";
        sbuf_adds(why, "missing (--old records)");
        return -1;
    }
    if (r->mode == TRAIN_RM && !w->pair) {
        *field = "pair";
        sbuf_adds(why, "missing (--rm needs chosen/rejected pairs: pack preference records)");
        return -1;
    }
    return 0;
}

static void
read_rows(struct run *r, const struct model *m)
{
    struct sbuf why = SBUF_INIT;
    struct pack_row w;
    const char *field;
    json_t *rec;

    while ((rec = tool_next(&r->tl)) != NULL) {
        sbuf_reset(&why);
        if (pack_row_parse(rec, 0, &w, &field, &why) < 0)
            tool_reject(&r->tl, rec, field, "%s", sbuf_str(&why));
        else if (row_fits(r, m, &w, &field, &why) < 0) {
            tool_reject(&r->tl, rec, field, "%s", sbuf_str(&why));
            pack_row_release(&w);
        } else if (r->replay && pack_row_routes(&w, rec, &m->cfg, &why) < 0) {
            tool_reject(&r->tl, rec, "routes", "%s", sbuf_str(&why));
            pack_row_release(&w);
        } else if (sample_temp_take(&r->samp, rec, &field) < 0) {
            tool_reject(&r->tl, rec, field, "%s", sbuf_str(&r->samp.msg));
            pack_row_release(&w);
        } else {
            if (r->nrows == r->caprows) {
                r->caprows = r->caprows ? 2 * r->caprows : 64;
                r->rows = xrealloc(r->rows, xmul(r->caprows, sizeof(*r->rows)));
            }
            r->rows[r->nrows++] = w;
        }
        json_decref(rec);
    }
    sbuf_release(&why);
}

/* ---- Ranks ---- */

/* The sums of a step over the ranks (dist.h: in rank order). */
static void
reduce_ranks(void *ctx, float *g, size_t n, double *d, size_t nd, uint64_t *u, size_t nu)
{
    (void)ctx;
    dist_sum_f32(g, n);
    dist_sum_f64(d, nd);
    dist_sum_u64(u, nu);
}

/* This rank's share of a batch: rows balanced over the ranks by tokens. */
static const unsigned char *
share(struct pack_row *batch, size_t n, size_t *ntok, int *owner, unsigned char *mine)
{
    size_t k;

    if (dist_size() == 1)
        return NULL;
    for (k = 0; k < n; k++)
        ntok[k] = batch[k].n;
    dist_assign(ntok, n, dist_size(), owner);
    for (k = 0; k < n; k++)
        mine[k] = owner[k] == dist_rank();
    return mine;
}

/* ---- The plan: epochs of batches ---- */

/* The row order of epoch e: a Fisher-Yates shuffle seeded by (seed, e). */
static void
epoch_order(const struct run *r, long e, size_t *order)
{
    struct rng g;
    size_t i;

    for (i = 0; i < r->nrows; i++)
        order[i] = i;
    if (!r->shuffle)
        return;
    rng_seed(&g, r->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(e + 1)));
    for (i = r->nrows; i > 1; i--) {
        size_t j = (size_t)rng_below(&g, i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

/*
 * Cuts order into batches: start[k] is the first position of batch k,
 * start[nb] = nrows.  Returns nb.
 */
static size_t
cut_batches(const struct run *r, const size_t *order, size_t *start)
{
    size_t i = 0, nb = 0, tok;

    while (i < r->nrows) {
        start[nb++] = i;
        if (r->batch_tokens > 0) {
            tok = 0;
            do
                tok += r->rows[order[i++]].n;
            while (i < r->nrows && tok < (size_t)r->batch_tokens);
        } else if (r->batch > 0)
            i = i + (size_t)r->batch < r->nrows ? i + (size_t)r->batch : r->nrows;
        else
            i = r->nrows;
    }
    start[nb] = r->nrows;
    return nb;
}

/* ---- Checkpoints ---- */

static json_t *
run_state(const struct run *r, long epoch, long batch, long steps, uint64_t plan)
{
    char h[24], p[24];

    snprintf(h, sizeof(h), "%016llx", (unsigned long long)r->data_hash);
    snprintf(p, sizeof(p), "%016llx", (unsigned long long)plan);
    return json_pack("{s:{s:s, s:I, s:I, s:I, s:s, s:s}}", "run", "mode",
                     r->mode == TRAIN_SFT ? "sft" : r->mode == TRAIN_GRPO ? "grpo" : "rm",
                     "epoch", (json_int_t)epoch, "batch", (json_int_t)batch, "steps",
                     (json_int_t)steps, "data", h, "plan", p);
}

/* The checkpoint, or with LoRA the adapter directory. */
static void
save(const char *dir, const struct model *m, const json_t *cfgjs, const struct optim *o,
     const json_t *state, const char *tok_from, const struct ckpt_format *fmt)
{
    struct sbuf err = SBUF_INIT;

    if (m->lora ? lora_save(m->lora, dir, o, state, &err)
                : ckpt_save_as(dir, m, cfgjs, o, state, tok_from, fmt, &err))
        die("%s", sbuf_str(&err));
    sbuf_release(&err);
}

/* Reads IN's run state for --resume: the next epoch and batch, steps done. */
static void
read_resume(const struct run *r, uint64_t plan, long *epoch, long *batch, long *steps)
{
    char path[4096], h[24], p[24];
    json_error_t je;
    json_t *js, *run;
    const char *dh, *ph;

    snprintf(path, sizeof(path), "%s/trainer_state.json", r->adapter ? r->adapter : r->in);
    js = json_load_file(path, 0, &je);
    if (!js)
        die("%s: %s (--resume needs the checkpoint's trainer state)", path, je.text);
    run = json_object_get(js, "run");
    if (!json_is_object(run)
        || !json_is_integer(json_object_get(run, "epoch"))
        || !json_is_integer(json_object_get(run, "batch"))
        || !json_is_integer(json_object_get(run, "steps"))
        || !json_is_string(json_object_get(run, "data"))
        || !json_is_string(json_object_get(run, "plan")))
        die("%s: field 'run': missing or incomplete (not saved by update)", path);
    snprintf(h, sizeof(h), "%016llx", (unsigned long long)r->data_hash);
    snprintf(p, sizeof(p), "%016llx", (unsigned long long)plan);
    dh = json_string_value(json_object_get(run, "data"));
    ph = json_string_value(json_object_get(run, "plan"));
    if (strcmp(dh, h) != 0)
        die("%s: the run was on other packed records (data %s, these are %s)", path, dh, h);
    if (strcmp(ph, p) != 0)
        die("%s: the run had other batch, epoch, shuffle or --mu options", path);
    *epoch = (long)json_integer_value(json_object_get(run, "epoch"));
    *batch = (long)json_integer_value(json_object_get(run, "batch"));
    *steps = (long)json_integer_value(json_object_get(run, "steps"));
    json_decref(js);
}

/* mkdir -p dir; dies on failure. */
static void
make_dirs(const char *dir)
{
    char *p = xstrdup(dir), *s;

    for (s = p + 1; *s; s++) {
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                die_errno("%s", p);
            *s = '/';
        }
    }
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
        die_errno("%s", p);
    free(p);
}

/*
 * The records' old log-probs against update's own first pass: mean and
 * largest |difference|, and the fraction of tokens whose floats differ.
 */
static void
mismatch_fields(json_t *js, const struct train_stats *st)
{
    double n = (double)st->mismatch_n;

    json_object_set_new(js, "logp_mismatch", json_real(st->mismatch_sum / n));
    json_object_set_new(js, "logp_mismatch_max", json_real(st->mismatch_max));
    json_object_set_new(js, "logp_mismatch_frac", json_real((double)st->mismatch_ndiff / n));
    json_object_set_new(js, "logp_mismatch_kl", json_real(st->mismatch_kl_sum / n));
}

/* ---- Metrics ---- */

/*
 * Sparse layers' expert load since the last line (over every rank's
 * share): each layer's share of the choices per expert, the busiest
 * expert's share times the expert count in the worst layer (1: balanced;
 * n_experts / top_k: collapsed onto top_k), and the least chosen
 * expert's share times the expert count in the worst layer (1: balanced;
 * 0: an expert no token chose).
 */
static void
expert_fields(json_t *js, struct model *m)
{
    const uint64_t *load = model_expert_load(m);
    const struct model_config *c = &m->cfg;
    json_t *all = json_array();
    double worst = 0.0, least = -1.0;
    int l, e, E = c->moe.n_experts;

    if (!load)
        return;
    for (l = 0; l < c->n_layers; l++) {
        const uint64_t *ld = load + (size_t)l * E;
        json_t *row;
        uint64_t tot = 0, mx = 0, mn = UINT64_MAX;
        if (!model_layer_moe(c, l))
            continue;
        for (e = 0; e < E; e++) {
            tot += ld[e];
            mx = ld[e] > mx ? ld[e] : mx;
            mn = ld[e] < mn ? ld[e] : mn;
        }
        if (tot && (least < 0 || (double)mn * E / (double)tot < least))
            least = (double)mn * E / (double)tot;
        row = json_array();
        for (e = 0; e < E; e++)
            json_array_append_new(row, json_real(tot ? (double)ld[e] / (double)tot : 0.0));
        json_array_append_new(all, row);
        if (tot && (double)mx * E / (double)tot > worst)
            worst = (double)mx * E / (double)tot;
    }
    json_object_set_new(js, "expert_load", all);
    json_object_set_new(js, "expert_load_max", json_real(worst));
    json_object_set_new(js, "expert_load_min", json_real(least < 0 ? 0.0 : least));
    model_expert_load_reset(m);
}

static void
metrics_line(FILE *f, const struct run *r, const struct optim *o, long epoch, int iter,
             const struct train_stats *st, double secs, struct model *m)
{
    struct sbuf sb = SBUF_INIT;
    json_t *js = json_object();
    double nt = st->targets ? (double)st->targets : 1.0;

    json_object_set_new(js, "step", json_integer(o->step));
    json_object_set_new(js, "epoch", json_integer(epoch));
    if (r->mode == TRAIN_GRPO)
        json_object_set_new(js, "iter", json_integer(iter));
    json_object_set_new(js, "loss", json_real(st->loss));
    json_object_set_new(js, "lr", json_real(st->lr));
    json_object_set_new(js, "grad_norm", json_real(st->grad_norm));
    json_object_set_new(js, "rows", json_integer((json_int_t)st->rows));
    json_object_set_new(js, "segments", json_integer((json_int_t)st->segments));
    json_object_set_new(js, "tokens", json_integer((json_int_t)st->tokens));
    json_object_set_new(js, "targets", json_integer((json_int_t)st->targets));
    json_object_set_new(js, "tokens_per_s", json_real(secs > 0 ? (double)st->tokens / secs : 0));
    if (r->mode == TRAIN_GRPO) {
        json_object_set_new(js, "ratio", json_real(st->ratio_sum / nt));
        json_object_set_new(js, "ratio_max", json_real(st->ratio_max));
        json_object_set_new(js, "clip_frac",
                            json_real((double)(st->clip_low + st->clip_high) / nt));
        json_object_set_new(js, "clip_low", json_real((double)st->clip_low / nt));
        json_object_set_new(js, "clip_high", json_real((double)st->clip_high / nt));
        json_object_set_new(js, "kl", json_real(st->kl_sum / nt));
        json_object_set_new(js, "entropy", json_real(st->entropy_sum / nt));
        if (st->mismatch_n)
            mismatch_fields(js, st);
        if (st->is_n) {
            json_object_set_new(js, "is_weight", json_real(st->is_sum / (double)st->is_n));
            json_object_set_new(js, "is_capped",
                                json_real((double)st->is_capped / (double)st->is_n));
        }
    }
    if (r->mode == TRAIN_RM && st->pairs) {
        json_object_set_new(js, "pairs", json_integer((json_int_t)st->pairs));
        json_object_set_new(js, "accuracy", json_real((double)st->correct / (double)st->pairs));
        json_object_set_new(js, "score_diff", json_real(st->score_diff_sum / (double)st->pairs));
    }
    if (r->tc.moe_seq_aux > 0)
        json_object_set_new(js, "moe_aux_loss", json_real(st->moe_aux_loss));
    expert_fields(js, m);
    json_emit(&sb, js);
    sbuf_addc(&sb, '\n');
    if (fwrite(sb.buf, 1, sb.len, f) != sb.len || fflush(f) != 0)
        die_errno("%s", r->metrics_path);
    json_decref(js);
    sbuf_release(&sb);
}

/* --eval: one JSON line on stdout. */
static void
eval_line(const struct run *r, const struct train_stats *st)
{
    struct sbuf sb = SBUF_INIT;
    json_t *js = json_object();

    json_object_set_new(js, "loss", json_real(st->loss));
    json_object_set_new(js, "rows", json_integer((json_int_t)r->nrows));
    json_object_set_new(js, "tokens", json_integer((json_int_t)st->tokens));
    if (r->mode == TRAIN_RM) {
        json_object_set_new(js, "pairs", json_integer((json_int_t)st->pairs));
        json_object_set_new(js, "accuracy", json_real(st->pairs ? (double)st->correct
                                                      / (double)st->pairs : 0.0));
    } else
        json_object_set_new(js, "targets", json_integer((json_int_t)st->targets));
    if (st->mismatch_n)
        mismatch_fields(js, st);
    json_emit(&sb, js);
    sbuf_addc(&sb, '\n');
    if (fwrite(sb.buf, 1, sb.len, stdout) != sb.len || fflush(stdout) != 0)
        die_errno("stdout");
    json_decref(js);
    sbuf_release(&sb);
}

/* ---- Options ---- */

static void
apply_optset(const struct optset *s, struct optim_config *c)
{
    if (!isnan(s->lr)) c->lr = (float)s->lr;
    if (!isnan(s->min_lr)) c->min_lr = (float)s->min_lr;
    if (!isnan(s->wd)) c->weight_decay = (float)s->wd;
    if (!isnan(s->b1)) c->beta1 = (float)s->b1;
    if (!isnan(s->b2)) c->beta2 = (float)s->b2;
    if (!isnan(s->clip)) c->grad_clip = (float)s->clip;
    if (s->warmup >= 0) c->warmup_steps = s->warmup;
    if (s->schedule >= 0) c->schedule = (enum optim_schedule)s->schedule;
    if (s->total >= 0) c->total_steps = s->total;
}

static void
mode_defaults(int mode, struct optim_config *c)
{
    optim_config_default(c);
    if (mode == TRAIN_GRPO) {
        c->lr = 1e-6f;
        c->min_lr = 1e-6f;
        c->schedule = OPTIM_CONSTANT;
    } else if (mode == TRAIN_RM) {
        c->lr = 1e-5f;
        c->min_lr = 1e-6f;
    }
}

static void
parse_args(struct run *r, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"max-errors", required_argument, NULL, TOOL_OPT_MAX_ERRORS},
        {"rejects", required_argument, NULL, TOOL_OPT_REJECTS},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"model", required_argument, NULL, 'm'},
        {"sft", no_argument, NULL, OPT_SFT},
        {"grpo", no_argument, NULL, OPT_GRPO},
        {"rm", no_argument, NULL, OPT_RM},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"batch-tokens", required_argument, NULL, OPT_BATCH_TOKENS},
        {"micro-tokens", required_argument, NULL, OPT_MICRO_TOKENS},
        {"epochs", required_argument, NULL, OPT_EPOCHS},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"no-shuffle", no_argument, NULL, OPT_NO_SHUFFLE},
        {"seed", required_argument, NULL, OPT_SEED},
        {"lr", required_argument, NULL, OPT_LR},
        {"min-lr", required_argument, NULL, OPT_MIN_LR},
        {"schedule", required_argument, NULL, OPT_SCHEDULE},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"total-steps", required_argument, NULL, OPT_TOTAL_STEPS},
        {"weight-decay", required_argument, NULL, OPT_WEIGHT_DECAY},
        {"beta1", required_argument, NULL, OPT_BETA1},
        {"beta2", required_argument, NULL, OPT_BETA2},
        {"grad-clip", required_argument, NULL, OPT_GRAD_CLIP},
        {"clip-low", required_argument, NULL, OPT_CLIP_LOW},
        {"clip-high", required_argument, NULL, OPT_CLIP_HIGH},
        {"beta", required_argument, NULL, OPT_BETA},
        {"agg", required_argument, NULL, OPT_AGG},
        {"norm-len", required_argument, NULL, OPT_NORM_LEN},
        {"mu", required_argument, NULL, OPT_MU},
        {"old", required_argument, NULL, OPT_OLD},
        {"temperature", required_argument, NULL, OPT_TEMPERATURE},
        {"margin", required_argument, NULL, OPT_MARGIN},
        {"save-every", required_argument, NULL, OPT_SAVE_EVERY},
        {"save-dir", required_argument, NULL, OPT_SAVE_DIR},
        {"resume", no_argument, NULL, OPT_RESUME},
        {"new-optimizer", no_argument, NULL, OPT_NEW_OPTIMIZER},
        {"metrics", required_argument, NULL, OPT_METRICS},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"eval", no_argument, NULL, OPT_EVAL},
        {"dtype", required_argument, NULL, OPT_DTYPE},
        {"compute-dtype", required_argument, NULL, OPT_COMPUTE_DTYPE},
        {"max-shard-size", required_argument, NULL, OPT_SHARD},
        {"distill", no_argument, NULL, OPT_DISTILL},
        {"objective", required_argument, NULL, OPT_OBJECTIVE},
        {"kl", required_argument, NULL, OPT_KL},
        {"entropy-coef", required_argument, NULL, OPT_ENTROPY_COEF},
        {"distill-coef", required_argument, NULL, OPT_DISTILL_COEF},
        {"is", required_argument, NULL, OPT_IS},
        {"is-cap", required_argument, NULL, OPT_IS_CAP},
        {"is-mode", required_argument, NULL, OPT_IS_MODE},
        {"lora", required_argument, NULL, OPT_LORA},
        {"lora-alpha", required_argument, NULL, OPT_LORA_ALPHA},
        {"lora-dropout", required_argument, NULL, OPT_LORA_DROPOUT},
        {"lora-targets", required_argument, NULL, OPT_LORA_TARGETS},
        {"rslora", no_argument, NULL, OPT_RSLORA},
        {"adapter", required_argument, NULL, OPT_ADAPTER},
        {"moe-bias-speed", required_argument, NULL, OPT_MOE_BIAS_SPEED},
        {"moe-seq-aux", required_argument, NULL, OPT_MOE_SEQ_AUX},
        {"replay-routes", no_argument, NULL, OPT_REPLAY_ROUTES},
        {NULL, 0, NULL, 0},
    };
    int ch, nmode = 0, agg_set = 0, epochs_set = 0, batch_set = 0, shuffle_off = 0;
    int distill = 0, low_set = 0, high_set = 0, is_set = 0, grpo_opt = 0;
    double distill_coef = 1.0;
    int lora_opts = 0, alpha_set = 0;
    const char *why;
    double x;
    long v;
    enum optim_schedule sch;
    enum train_agg agg = TRAIN_TOKEN_MEAN;
    struct train_config tc;

    r->os.lr = r->os.min_lr = r->os.wd = r->os.b1 = r->os.b2 = r->os.clip = NAN;
    r->os.warmup = r->os.total = -1;
    r->os.schedule = -1;
    train_config_default(&tc, TRAIN_SFT);
    lora_config_default(&r->lora);
    r->lora.r = 0;
    r->mu = 1;
    while ((ch = getopt_long(argc, argv, "m:o:qhV", longopts, NULL)) != -1) {
        if (tool_opt(&r->tl, ch, optarg))
            continue;
        switch (ch) {
        case 'm': r->in = optarg; break;
        case OPT_SFT: r->mode = TRAIN_SFT; nmode++; break;
        case OPT_GRPO: r->mode = TRAIN_GRPO; nmode++; break;
        case OPT_RM: r->mode = TRAIN_RM; nmode++; break;
        case OPT_DISTILL: r->mode = TRAIN_GRPO; distill = 1; nmode++; break;
        case OPT_OBJECTIVE:
            if (train_objective_parse(optarg, &tc.obj))
                tool_usage_error(&r->tl, "--objective: '%s' is not ppo, gspo, gspo-token or "
                                 "cispo", optarg);
            grpo_opt = 1;
            break;
        case OPT_KL:
            if (train_kl_parse(optarg, &tc.kl))
                tool_usage_error(&r->tl, "--kl: '%s' is not k1, k2 or k3", optarg);
            grpo_opt = 1;
            break;
        case OPT_ENTROPY_COEF:
            parse_num(r, "--entropy-coef", optarg, -1e3, 1e3, &x);
            tc.ent_coef = (float)x;
            grpo_opt = 1;
            break;
        case OPT_DISTILL_COEF:
            parse_num(r, "--distill-coef", optarg, 1e-6, 1e6, &distill_coef);
            break;
        case OPT_IS:
            if (strcmp(optarg, "off") == 0)
                tc.is_level = TRAIN_IS_OFF;
            else if (strcmp(optarg, "token") == 0)
                tc.is_level = TRAIN_IS_TOKEN;
            else if (strcmp(optarg, "seq") == 0)
                tc.is_level = TRAIN_IS_SEQ;
            else
                tool_usage_error(&r->tl, "--is: '%s' is not off, token or seq", optarg);
            is_set = 1;
            grpo_opt = 1;
            break;
        case OPT_IS_CAP:
            parse_num(r, "--is-cap", optarg, 1, 1e6, &x);
            tc.is_cap = (float)x;
            grpo_opt = 1;
            break;
        case OPT_IS_MODE:
            if (strcmp(optarg, "truncate") == 0)
                tc.is_mask = 0;
            else if (strcmp(optarg, "mask") == 0)
                tc.is_mask = 1;
            else
                tool_usage_error(&r->tl, "--is-mode: '%s' is not truncate or mask", optarg);
            grpo_opt = 1;
            break;
        case OPT_BATCH:
            parse_int(r, "--batch", optarg, 0, 1L << 40, &r->batch);
            batch_set = 1;
            break;
        case OPT_BATCH_TOKENS:
            parse_int(r, "--batch-tokens", optarg, 1, 1L << 40, &r->batch_tokens);
            break;
        case OPT_MICRO_TOKENS:
            parse_int(r, "--micro-tokens", optarg, 1, 1L << 40, &v);
            tc.micro_tokens = (size_t)v;
            break;
        case OPT_EPOCHS:
            parse_int(r, "--epochs", optarg, 1, 1L << 20, &r->epochs);
            epochs_set = 1;
            break;
        case OPT_STEPS: parse_int(r, "--steps", optarg, 1, 1L << 40, &r->max_steps); break;
        case OPT_NO_SHUFFLE: shuffle_off = 1; break;
        case OPT_SEED:
            if (parse_u64(optarg, &r->seed))
                tool_usage_error(&r->tl, "--seed: '%s' is not an unsigned integer", optarg);
            break;
        case OPT_LR: parse_num(r, "--lr", optarg, 0, 1, &r->os.lr); break;
        case OPT_MIN_LR: parse_num(r, "--min-lr", optarg, 0, 1, &r->os.min_lr); break;
        case OPT_SCHEDULE:
            if (optim_schedule_parse(optarg, &sch))
                tool_usage_error(&r->tl, "--schedule: '%s' is not constant or cosine", optarg);
            r->os.schedule = (int)sch;
            break;
        case OPT_WARMUP: parse_int(r, "--warmup", optarg, 0, 1L << 40, &r->os.warmup); break;
        case OPT_TOTAL_STEPS:
            parse_int(r, "--total-steps", optarg, 1, 1L << 40, &r->os.total);
            break;
        case OPT_WEIGHT_DECAY: parse_num(r, "--weight-decay", optarg, 0, 10, &r->os.wd); break;
        case OPT_BETA1: parse_num(r, "--beta1", optarg, 0, 0.999999, &r->os.b1); break;
        case OPT_BETA2: parse_num(r, "--beta2", optarg, 0, 0.999999, &r->os.b2); break;
        case OPT_GRAD_CLIP: parse_num(r, "--grad-clip", optarg, 0, 1e9, &r->os.clip); break;
        case OPT_CLIP_LOW:
            parse_num(r, "--clip-low", optarg, 0, 1, &x);
            tc.clip_low = (float)x;
            low_set = 1;
            break;
        case OPT_CLIP_HIGH:
            parse_num(r, "--clip-high", optarg, 0, 1e6, &x);
            tc.clip_high = (float)x;
            high_set = 1;
            break;
        case OPT_BETA: parse_num(r, "--beta", optarg, 0, 1e6, &x); tc.beta = (float)x; break;
        case OPT_AGG:
            if (train_agg_parse(optarg, &agg))
                tool_usage_error(&r->tl, "--agg: unknown aggregation '%s'", optarg);
            agg_set = 1;
            break;
        case OPT_NORM_LEN:
            parse_num(r, "--norm-len", optarg, 1, 1e12, &x);
            tc.norm_len = (float)x;
            break;
        case OPT_MU: parse_int(r, "--mu", optarg, 1, 1024, &r->mu); break;
        case OPT_OLD:
            if (strcmp(optarg, "records") == 0)
                r->old_mode = 1;
            else if (strcmp(optarg, "recompute") == 0)
                r->old_mode = 2;
            else
                tool_usage_error(&r->tl, "--old: '%s' is not records or recompute", optarg);
            break;
        case OPT_TEMPERATURE:
            parse_num(r, "--temperature", optarg, 1e-3, 1e3, &x);
            tc.temperature = (float)x;
            r->temp_given = 1;
            break;
        case OPT_MOE_BIAS_SPEED:
            parse_num(r, "--moe-bias-speed", optarg, 0, 1, &x);
            tc.moe_bias_speed = (float)x;
            break;
        case OPT_REPLAY_ROUTES: r->replay = 1; break;
        case OPT_MOE_SEQ_AUX:
            parse_num(r, "--moe-seq-aux", optarg, 0, 1e3, &x);
            tc.moe_seq_aux = (float)x;
            break;
        case OPT_MARGIN:
            parse_num(r, "--margin", optarg, -1e6, 1e6, &x);
            tc.margin = (float)x;
            break;
        case OPT_SAVE_EVERY:
            parse_int(r, "--save-every", optarg, 1, 1L << 40, &r->save_every);
            break;
        case OPT_SAVE_DIR: r->save_dir = optarg; break;
        case OPT_RESUME: r->resume = 1; break;
        case OPT_NEW_OPTIMIZER: r->new_optimizer = 1; break;
        case OPT_EVAL: r->eval = 1; break;
        case OPT_METRICS: r->metrics_path = optarg; break;
        case OPT_THREADS: parse_int(r, "--threads", optarg, 1, 1024, &r->threads); break;
        case OPT_LORA:
            parse_int(r, "--lora", optarg, 1, LORA_MAX_RANK, &v);
            r->lora.r = (int)v;
            break;
        case OPT_LORA_ALPHA:
            parse_num(r, "--lora-alpha", optarg, 1e-6, 1e6, &r->lora.alpha);
            alpha_set = 1;
            lora_opts = 1;
            break;
        case OPT_LORA_DROPOUT:
            parse_num(r, "--lora-dropout", optarg, 0, 0.99, &r->lora.dropout);
            lora_opts = 1;
            break;
        case OPT_LORA_TARGETS:
            if (lora_targets_parse(optarg, &r->lora.targets, &why))
                tool_usage_error(&r->tl, "--lora-targets: '%s': %s", optarg, why);
            lora_opts = 1;
            break;
        case OPT_RSLORA: r->lora.rslora = 1; lora_opts = 1; break;
        case OPT_ADAPTER: r->adapter = optarg; break;
        case OPT_COMPUTE_DTYPE:
            if ((r->use16 = w16_parse_dtype(optarg)) < 0)
                tool_usage_error(&r->tl, "--compute-dtype: '%s' is not f32 or bf16", optarg);
            break;
        case OPT_DTYPE:
            r->fmt_given = 1;
            if (ckpt_parse_dtype(optarg, &r->fmt.dtype))
                tool_usage_error(&r->tl, "--dtype: '%s' is not f32, bf16, f16 or auto", optarg);
            break;
        case OPT_SHARD:
            r->fmt_given = 1;
            if (ckpt_parse_size(optarg, &r->fmt.max_shard_size))
                tool_usage_error(&r->tl, "--max-shard-size: '%s' is not a size (bytes, or KB, "
                                 "MB, GB, TB)", optarg);
            break;
        default: tool_usage(&r->tl);
        }
    }
    r->out = r->tl.output;
    if (nmode != 1)
        tool_usage_error(&r->tl, "give one of --sft, --grpo, --distill, --rm");
    if (grpo_opt && r->mode != TRAIN_GRPO)
        tool_usage_error(&r->tl, "--objective, --kl, --entropy-coef and --is* go with --grpo "
                         "or --distill");
    if (!distill && distill_coef != 1.0)
        tool_usage_error(&r->tl, "--distill-coef goes with --distill");
    if (distill && tc.beta > 0)
        tool_usage_error(&r->tl, "--distill: ref_logprobs are the teacher's, so no --beta");
    if (r->old_mode == 1 && is_set && tc.is_level != TRAIN_IS_OFF)
        tool_usage_error(&r->tl, "--is weighs the records' log-probs against recomputed "
                         "ones: not with --old records");
    if (distill)
        tc.distill = (float)distill_coef;
    /* the objectives' own trust regions */
    if (tc.obj == TRAIN_OBJ_GSPO || tc.obj == TRAIN_OBJ_GSPO_TOKEN) {
        if (!low_set)
            tc.clip_low = 3e-4f;
        if (!high_set)
            tc.clip_high = 4e-4f;
    } else if (tc.obj == TRAIN_OBJ_CISPO && !low_set)
        tc.clip_low = 1.0f;
    if (r->resume && r->new_optimizer)
        tool_usage_error(&r->tl, "--resume continues IN's optimizer: no --new-optimizer");
    if (r->eval && (r->out || r->resume))
        tool_usage_error(&r->tl, "--eval writes no checkpoint: no -o, no --resume");
    if (!r->in || (!r->out && !r->eval))
        tool_usage_error(&r->tl, "-m IN and -o OUT are required");
    if (r->out && strcmp(r->in, r->out) == 0)
        tool_usage_error(&r->tl, "-o must differ from -m (update never overwrites its input)");
    if (r->batch_tokens && batch_set)
        tool_usage_error(&r->tl, "give --batch or --batch-tokens, not both");
    if (r->mode != TRAIN_GRPO && r->mu != 1)
        tool_usage_error(&r->tl, "--mu goes with --grpo");
    if (lora_opts && !r->lora.r)
        tool_usage_error(&r->tl, "--lora-alpha, --lora-dropout, --lora-targets and --rslora "
                         "go with --lora R");
    if (r->lora.r && r->adapter)
        tool_usage_error(&r->tl, "--adapter continues an adapter whose adapter_config.json "
                         "sets its shape: no --lora");
    if (r->lora.r && r->resume)
        tool_usage_error(&r->tl, "--resume continues the adapter given with --adapter: "
                         "no --lora");
    if ((r->lora.r || r->adapter) && r->fmt_given)
        tool_usage_error(&r->tl, "adapters are written F32 in one file: no --dtype or "
                         "--max-shard-size");
    if (r->adapter && r->out && strcmp(r->adapter, r->out) == 0)
        tool_usage_error(&r->tl, "-o must differ from --adapter (update never overwrites its "
                         "input)");
    if ((r->lora.r || r->adapter) && tc.moe_bias_speed > 0)
        tool_usage_error(&r->tl, "--moe-bias-speed moves the base's router biases, which "
                         "an adapter leaves frozen: not with --lora or --adapter");
    if (r->lora.r && !alpha_set)
        r->lora.alpha = 2.0 * r->lora.r;
    tc.mode = (enum train_mode)r->mode;
    tc.agg = agg_set ? agg : r->mode == TRAIN_GRPO ? TRAIN_SEQ_MEAN_TOKEN_MEAN : TRAIN_TOKEN_MEAN;
    /*
     * The old log-probs are the first pass's, the records' weighing in
     * as importance weights; where the two agree bit for bit the weight
     * is exactly 1, so this is --old records then.
     */
    if (r->old_mode == 1)
        tc.is_level = TRAIN_IS_OFF;
    if (r->old_mode == 2 || (r->old_mode == 0 && tc.is_level != TRAIN_IS_OFF))
        tc.recompute_old = 1;
    r->tc = tc;
    if (!batch_set)
        r->batch = r->mode == TRAIN_GRPO ? 0 : 16;
    if (!epochs_set)
        r->epochs = r->mode == TRAIN_SFT ? 2 : 1;
    r->shuffle = r->mode != TRAIN_GRPO && !shuffle_off;
}

/* ---- main ---- */

int
main(int argc, char **argv)
{
    struct run r;
    struct sbuf err = SBUF_INIT;
    struct model *m;
    struct optim *o;
    struct optim_config oc;
    struct trainer tr;
    struct train_stats st;
    json_t *cfgjs = NULL, *state;
    FILE *mf = NULL;
    size_t *order, *start, *bstart, *ntok, nb, k, i;
    int *owner, rank0;
    unsigned char *mine;
    const unsigned char *part;
    struct pack_row *batch;
    long e, b, steps = 0, e0 = 0, b0 = 0, total = 0, run_steps;
    uint64_t plan;
    char opt_path[4096], *dircopy = NULL;
    const char *state_dir;
    size_t nparams;
    struct stat sst;
    int carried, done = 0, rc, iter;
    double t0;

    memset(&r, 0, sizeof(r));
    util_setprog(argv[0]);
    tool_init(&r.tl, "update", usage_text);
    parse_args(&r, argc, argv);
    dist_init(NULL, NULL);
    rank0 = dist_rank() == 0;
    if (r.threads)
        model_set_threads((int)r.threads);
    else if (model_threads_env() > 0)
        model_set_threads(model_threads_env());
    else if (dist_local_size() > 1) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN) / dist_local_size();
        model_set_threads(cpus > 1 ? (int)cpus : 1);
    }

    m = ckpt_load(r.in, r.mode == TRAIN_RM ? CKPT_AS_SEQ_CLS : 0, &cfgjs, &err);
    if (!m)
        die("%s", sbuf_str(&err));
    if (r.mode != TRAIN_RM && m->cfg.arch != MODEL_CAUSAL_LM)
        die("%s: a reward model (scalar head): --sft and --grpo train a causal LM", r.in);
    if (r.replay && model_route_width(&m->cfg) == 0)
        die("%s: --replay-routes: the model has no mixture-of-experts layers", r.in);
    if (r.tc.moe_bias_speed > 0) {
        int l, has = 0;
        for (l = 0; l < m->cfg.n_layers; l++)
            has |= m->w.layers[l].router_bias != NULL;
        if (!has)
            die("%s: --moe-bias-speed needs a router with e_score_correction_bias "
                "(topk_method noaux_tc)", r.in);
    }
    if (r.tc.moe_seq_aux > 0 && m->cfg.moe.n_experts == 0)
        die("%s: --moe-seq-aux needs a mixture of experts", r.in);
    if (r.adapter && !(r.lo = lora_load(r.adapter, m, &err)))
        die("%s", sbuf_str(&err));
    if (r.lora.r)
        r.lo = lora_new(m, &r.lora, r.seed, r.in);
    if (r.lo)
        r.lo->seed = r.seed;    /* the dropout masks' (a resumed run's too) */
    m->lora = r.lo;
    if (r.use16)
        model_use_bf16(m, KERN16_AUTO, 1);

    /* rank 0 reads (stdin included) and sends the rows to the others */
    if (rank0) {
        sample_temp_init(&r.samp, r.temp_given, r.tc.temperature);
        tool_start_noout(&r.tl, argc - optind, argv + optind);
        read_rows(&r, m);
        /* the temperature the samples were drawn at, unless given */
        r.tc.temperature = (float)r.samp.temperature;
        sample_temp_release(&r.samp);
    }
    r.nrows = dist_bcast_rows(&r.rows, r.nrows);
    dist_bcast(&r.tc.temperature, sizeof(r.tc.temperature));
    r.data_hash = 0x9e3779b97f4a7c15ULL;
    for (i = 0; i < r.nrows; i++)
        r.data_hash = row_hash(&r.rows[i], r.data_hash);
    if (r.nrows == 0)
        die("no packed records to train on");
    if (r.eval && !rank0)
        goto out;
    if (r.eval) {
        trainer_init(&tr, &r.tc, m, NULL);
        train_eval(&tr, r.rows, r.nrows, &st);
        eval_line(&r, &st);
        trainer_release(&tr);
        goto out;
    }
    if (r.mode == TRAIN_GRPO && r.old_mode == 0)
        for (i = 0; i < r.nrows; i++)
            r.tc.recompute_old |= r.rows[i].old == NULL;

    /* the plan: batches of every epoch */
    order = xmalloc(xmul(r.nrows, sizeof(size_t)));
    start = xmalloc(xmul(r.nrows + 1, sizeof(size_t)));
    batch = xmalloc(xmul(r.nrows, sizeof(*batch)));
    ntok = xmalloc(xmul(r.nrows, sizeof(size_t)));
    owner = xmalloc(xmul(r.nrows, sizeof(int)));
    mine = xmalloc(r.nrows);
    plan = hash64(&r.batch, sizeof(r.batch), r.seed);
    plan = hash64(&r.batch_tokens, sizeof(r.batch_tokens), plan);
    plan = hash64(&r.epochs, sizeof(r.epochs), plan);
    plan = hash64(&r.mu, sizeof(r.mu), plan);
    plan = hash64(&r.shuffle, sizeof(r.shuffle), plan);
    for (e = 0; e < r.epochs; e++) {
        epoch_order(&r, e, order);
        total += (long)cut_batches(&r, order, start) * r.mu;
    }

    /* the optimizer: carried in IN, else fresh with the mode's defaults */
    state_dir = r.adapter ? r.adapter : r.lo ? NULL : r.in;
    nparams = r.lo ? r.lo->nparams : m->nparams;
    if (state_dir)
        snprintf(opt_path, sizeof(opt_path), "%s/optimizer.safetensors", state_dir);
    carried = state_dir && !r.new_optimizer && stat(opt_path, &sst) == 0;
    if (carried) {
        o = ckpt_load_optim(state_dir, nparams, &err);
        if (!o)
            die("%s", sbuf_str(&err));
        oc = o->cfg;
    } else {
        mode_defaults(r.mode, &oc);
        o = NULL;
    }
    if (r.resume) {
        if (!carried)
            die("%s: no optimizer state to resume", state_dir ? state_dir : r.in);
        read_resume(&r, plan, &e0, &b0, &steps);
        if (e0 >= r.epochs)
            die("%s: the run saved there is complete", r.in);
    } else {
        apply_optset(&r.os, &oc);
        if (oc.min_lr > oc.lr)
            tool_usage_error(&r.tl, "--min-lr %g is above --lr %g", (double)oc.min_lr,
                             (double)oc.lr);
        if (r.os.total < 0 && (!carried || r.os.schedule >= 0 || !isnan(r.os.lr)))
            train_schedule_span(&oc, carried ? o->step : 0, total);
    }
    if (!o)
        o = optim_new(&oc, nparams);
    o->cfg = oc;
    if (!r.lo)      /* an adapter's tensors are all matrices: all decay */
        ckpt_optim_no_decay(o, m);

    if (rank0 && r.metrics_path && !(mf = fopen(r.metrics_path, "w")))
        die_errno("%s", r.metrics_path);
    if (r.save_every && !r.save_dir) {
        dircopy = xstrdup(r.out);
        r.save_dir = dirname(dircopy);
    }
    if (rank0 && r.save_every)
        make_dirs(r.save_dir);

    trainer_init(&tr, &r.tc, m, o);
    if (dist_size() > 1)
        trainer_set_reduce(&tr, reduce_ranks, NULL);
    run_steps = 0;
    for (e = e0; e < r.epochs && !done; e++) {
        epoch_order(&r, e, order);
        nb = cut_batches(&r, order, start);
        for (b = e == e0 ? b0 : 0; b < (long)nb && !done; b++) {
            size_t n = start[b + 1] - start[b];
            bstart = start + b;
            for (k = 0; k < n; k++)
                batch[k] = r.rows[order[*bstart + k]];
            part = share(batch, n, ntok, owner, mine);
            for (iter = 0; iter < r.mu; iter++) {
                t0 = now_sec();
                train_step_part(&tr, batch, n, part, iter, &st);
                if (mf)
                    metrics_line(mf, &r, o, e, iter, &st, now_sec() - t0, m);
                steps++;
                run_steps++;
            }
            /* old log-probs recomputed at the first pass belong to the row */
            for (k = 0; k < n; k++)
                r.rows[order[*bstart + k]] = batch[k];
            if (rank0 && r.save_every && steps % r.save_every == 0) {
                char path[4096];
                long ne = b + 1 < (long)nb ? e : e + 1, nbb = b + 1 < (long)nb ? b + 1 : 0;
                snprintf(path, sizeof(path), "%s/checkpoint-%ld", r.save_dir, o->step);
                state = run_state(&r, ne, nbb, steps, plan);
                save(path, m, cfgjs, o, state, r.in, &r.fmt);
                json_decref(state);
            }
            if (r.max_steps && run_steps >= r.max_steps) {
                done = 1;
                e0 = b + 1 < (long)nb ? e : e + 1;
                b0 = b + 1 < (long)nb ? b + 1 : 0;
            }
        }
    }
    if (!done) {
        e0 = r.epochs;
        b0 = 0;
    }
    if (rank0) {
        state = run_state(&r, e0, b0, steps, plan);
        save(r.out, m, cfgjs, o, state, r.in, &r.fmt);
        json_decref(state);
    }
    if (mf && fclose(mf) != 0)
        die_errno("%s", r.metrics_path);
    if (rank0 && !r.tl.quiet)
        fprintf(stderr, "update: %ld steps on %zu packed records, global step %ld, lr %.3g\n",
                run_steps, r.nrows, o->step, optim_lr(&o->cfg, o->step > 0 ? o->step - 1 : 0));
    trainer_release(&tr);
    free(order);
    free(start);
    free(batch);
    free(ntok);
    free(owner);
    free(mine);
    free(dircopy);
    optim_free(o);
out:
    rc = tool_finish(&r.tl);
    for (i = 0; i < r.nrows; i++)
        pack_row_release(&r.rows[i]);
    free(r.rows);
    m->lora = NULL;
    lora_free(r.lo);
    model_free(m);
    json_decref(cfgjs);
    sbuf_release(&err);
    dist_finalize();
    return rc;
}
