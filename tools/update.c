/*
 * update - optimizer steps from packed records: SFT, GRPO or a
 * Bradley-Terry reward model.  Reads the checkpoint -m IN, writes the next
 * one -o OUT (model, AdamW state, schedule, and where the run stands, so
 * --resume continues it bit for bit).  This is options, the records and
 * the loop: the plan of the run, its saved state and its report lines
 * are lib/run.c; the losses and the step lib/train.c; checkpoints
 * lib/ckpt.c; the ranks of an MPI job, each computing a share of every
 * batch, lib/dist.c.
 */
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "dist.h"
#include "lora.h"
#include "pack.h"
#include "run.h"
#include "sample.h"
#include "tool.h"
#include "train.h"
#include "w16.h"

static const char usage_text[] =
    "usage: update -m IN -o OUT (--sft | --grpo | --distill | --rm) [options] [FILE ...]\n"
    "Takes optimizer steps on packed records and writes the next checkpoint.\n"
    "Under mpirun (an MPI build), each rank computes a share of every batch and\n"
    "rank 0 writes OUT: see update(1).\n"
    "\n";

struct update {
    struct tool tl;
    const char *in, *out, *save_dir, *metrics_path, *adapter;
    enum train_mode mode;
    struct train_config tc;
    struct run_plan plan;
    struct run_optset os;
    long max_steps, save_every, threads;
    int resume, eval, new_optimizer;
    int old_mode;               /* 0 auto, 1 records, 2 recompute */
    int temp_given;             /* --temperature: else the records' sampling */
    struct sample_temp samp;
    struct ckpt_format fmt;     /* how checkpoints are written */
    int fmt_given;              /* --dtype or --max-shard-size */
    int use16;                  /* --compute-dtype bf16 */
    int replay;                 /* --replay-routes */
    struct lora_config lora;    /* a new adapter (lora.r > 0), or --adapter's */
    struct lora *lo;
    struct pack_row *rows;      /* the records, owned */
    size_t nrows, caprows;
};

/* ---- Options ---- */

/* The values of the options that name a choice, -1 where not given. */
struct choices {
    int obj, kl, is, is_mode, agg, old;
};

/* The words of --is, --is-mode and --old (--old's default, 0, has no word). */
static const struct opt_choice is_words[] = {
    {"off", TRAIN_IS_OFF}, {"token", TRAIN_IS_TOKEN}, {"seq", TRAIN_IS_SEQ}, {NULL, 0},
};
static const struct opt_choice is_mode_words[] = {{"truncate", 0}, {"mask", 1}, {NULL, 0}};
static const struct opt_choice old_words[] = {{"records", 1}, {"recompute", 2}, {NULL, 0}};

static int
cb_objective(void *v, const char *arg, struct sbuf *why)
{
    enum train_objective o;

    (void)why;
    if (train_objective_parse(arg, &o))
        return -1;
    *(int *)v = (int)o;
    return 0;
}

static int
cb_kl(void *v, const char *arg, struct sbuf *why)
{
    enum train_kl k;

    (void)why;
    if (train_kl_parse(arg, &k))
        return -1;
    *(int *)v = (int)k;
    return 0;
}

static int
cb_agg(void *v, const char *arg, struct sbuf *why)
{
    enum train_agg a;

    if (train_agg_parse(arg, &a)) {
        sbuf_addf(why, "unknown aggregation '%s'", arg);
        return -1;
    }
    *(int *)v = (int)a;
    return 0;
}

static int
cb_schedule(void *v, const char *arg, struct sbuf *why)
{
    enum optim_schedule s;

    (void)why;
    if (optim_schedule_parse(arg, &s))
        return -1;
    *(int *)v = (int)s;
    return 0;
}

static int
cb_lora_targets(void *v, const char *arg, struct sbuf *why)
{
    const char *w;

    if (lora_targets_parse(arg, v, &w)) {
        sbuf_addf(why, "'%s': %s", arg, w);
        return -1;
    }
    return 0;
}

static void
parse_args(struct update *u, int argc, char **argv, int *argi)
{
    struct train_config tc;
    struct choices ch = {-1, -1, -1, -1, -1, 0};
    int sft = 0, grpo = 0, distill = 0, rm = 0, shuffle_off = 0;
    int low_set = 0, high_set = 0, grpo_opt = 0, lora_opts = 0, alpha_set = 0;
    long batch = -1, epochs = 0, micro = 0, mu = 1;
    double distill_coef = 1.0;
    struct opt opts[] = {
        OPT_STRING('m', "model", &u->in, "DIR", "the checkpoint to start from"),
        OPT_STRING('o', "output", &u->tl.output, "DIR", "the checkpoint to write (atomically)"),
        OPT_BOOL(0, "sft", &sft, "cross-entropy on the loss_mask tokens"),
        OPT_BOOL(0, "grpo", &grpo, "clipped surrogate with advantages, optional KL"),
        OPT_BOOL(0, "distill", &distill,
                 "on-policy distillation: --grpo with the per-token\n"
                 "advantage ref - old (ref_logprobs: the teacher's)"),
        OPT_BOOL(0, "rm", &rm, "Bradley-Terry on chosen/rejected pairs (scalar head)"),
        OPT_GROUP("Batches:\n"),
        OPT_LONG(0, "batch", &batch, "N", 0, 1L << 40,
                 "packed sequences per optimizer step (sft, rm: 16;\n"
                 "grpo: 0 = the whole input)"),
        OPT_LONG(0, "batch-tokens", &u->plan.batch_tokens, "N", 1, 1L << 40,
                 "sequences per step until they hold N tokens"),
        OPT_LONG(0, "micro-tokens", &micro, "N", 1, 1L << 40,
                 "tokens per forward pass; gradients accumulate\n"
                 "(default 4096; results do not depend on it)"),
        OPT_LONG(0, "epochs", &epochs, "N", 1, 1L << 20, "passes over the input (sft 2, else 1)"),
        OPT_LONG(0, "steps", &u->max_steps, "N", 1, 1L << 40,
                 "stop after N steps of this run (at a batch end)"),
        OPT_BOOL(0, "no-shuffle", &shuffle_off,
                 "keep the input order (default: sft and rm shuffle\n"
                 "each epoch, seeded)"),
        OPT_U64(0, "seed", &u->plan.seed, "N", 0,
                "the seed of the shuffle and of LoRA's dropout (default 0)"),
        OPT_GROUP("Optimizer (default: carried in IN, else sft 5e-6 cosine to 1e-6, grpo 1e-6\n"
                  "constant, rm 1e-5 cosine to 1e-6):\n"),
        OPT_DOUBLE(0, "lr", &u->os.lr, "X", 0, 1, "the peak learning rate"),
        OPT_DOUBLE(0, "min-lr", &u->os.min_lr, "X", 0, 1, "where the cosine ends"),
        OPT_CALL(0, "schedule", &u->os.schedule, "NAME", cb_schedule, "constant or cosine",
                 "constant or cosine"),
        OPT_LONG(0, "warmup", &u->os.warmup, "N", 0, 1L << 40, "linear warmup steps"),
        OPT_LONG(0, "total-steps", &u->os.total, "N", 1, 1L << 40,
                 "end of the cosine (default: the run's last step)"),
        OPT_DOUBLE(0, "weight-decay", &u->os.wd, "X", 0, 10, "AdamW's decay (0.1)"),
        OPT_DOUBLE(0, "beta1", &u->os.b1, "X", 0, 0.999999, "AdamW's beta1 (0.9)"),
        OPT_DOUBLE(0, "beta2", &u->os.b2, "X", 0, 0.999999, "AdamW's beta2 (0.95)"),
        OPT_DOUBLE(0, "grad-clip", &u->os.clip, "X", 0, 1e9,
                   "clip the global gradient norm (1.0; 0 = off)"),
        OPT_GROUP("GRPO:\n"),
        OPT_CALL(0, "objective", &ch.obj, "NAME", cb_objective, "ppo, gspo, gspo-token or cispo",
                 "ppo (default), gspo, gspo-token, cispo"),
        OPT_FLOAT(0, "clip-low", &tc.clip_low, "X", 0, 1,
                  "ratio floor 1 - X (0.2; gspo 3e-4; cispo 1: none)"),
        OPT_FLOAT(0, "clip-high", &tc.clip_high, "X", 0, 1e6,
                  "ratio ceiling 1 + X (0.28; gspo 4e-4)"),
        OPT_FLOAT(0, "beta", &tc.beta, "X", 0, 1e6, "KL coefficient (0: no reference needed)"),
        OPT_CALL(0, "kl", &ch.kl, "k1|k2|k3", cb_kl, "k1, k2 or k3",
                 "the KL estimator (default k3)"),
        OPT_FLOAT(0, "entropy-coef", &tc.ent_coef, "X", -1e3, 1e3,
                  "entropy bonus: minus X times the entropy (0)"),
        OPT_DOUBLE(0, "distill-coef", &distill_coef, "X", 1e-6, 1e6,
                   "--distill: the advantage's coefficient (1)"),
        OPT_CHOICE(0, "is", &ch.is, "off|token|seq", is_words,
                   "importance weights of the sampler's log-probs\n"
                   "against the recomputed old ones (default token)"),
        OPT_FLOAT(0, "is-cap", &tc.is_cap, "C", 1, 1e6, "their cap (default 2)"),
        OPT_CHOICE(0, "is-mode", &ch.is_mode, "truncate|mask", is_mode_words,
                   "min(rho, C), or 0 past C (default truncate)"),
        OPT_CALL(0, "agg", &ch.agg, "NAME", cb_agg, NULL,
                 "seq-mean-token-mean (default), token-mean,\n"
                 "seq-mean-token-sum-norm"),
        OPT_FLOAT(0, "norm-len", &tc.norm_len, "N", 1, 1e12,
                  "seq-mean-token-sum-norm's constant (default: the\n"
                  "longest completion of the batch)"),
        OPT_LONG(0, "mu", &mu, "N", 1, 1024, "optimizer steps per batch (default 1)"),
        OPT_CHOICE(0, "old", &ch.old, "records|recompute", old_words,
                   "old log-probs: the records' or the policy's\n"
                   "at the first pass (default; with --is off: the\n"
                   "records' when present)"),
        OPT_FLOAT(0, "temperature", &tc.temperature, "X", 1e-3, 1e3,
                  "the sampling temperature (default: the records'\n"
                  "sampling.temperature, else 1)"),
        OPT_GROUP("Mixtures of experts:\n"),
        OPT_FLOAT(0, "moe-bias-speed", &tc.moe_bias_speed, "G", 0, 1,
                  "after each step, move each sparse layer's\n"
                  "e_score_correction_bias by G toward equal expert\n"
                  "load (auxiliary-loss-free balancing; 0: off)"),
        OPT_FLOAT(0, "moe-seq-aux", &tc.moe_seq_aux, "A", 0, 1e3,
                  "add A times the sequence-wise balance loss (0: off)"),
        OPT_BOOL(0, "replay-routes", &u->replay,
                 "the records' routes (gen --routes) choose the experts\n"
                 "of the completion tokens, not the router"),
        OPT_GROUP("Reward models:\n"),
        OPT_FLOAT(0, "margin", &tc.margin, "X", -1e6, 1e6,
                  "added to each pair's margin (default 0)"),
        OPT_GROUP("LoRA (the base IN frozen; OUT is a PEFT adapter directory):\n"),
        OPT_INT(0, "lora", &u->lora.r, "R", 1, LORA_MAX_RANK, "train new rank-R adapters"),
        OPT_DOUBLE(0, "lora-alpha", &u->lora.alpha, "A", 1e-6, 1e6,
                   "scale s = A / R (default 2 R)"),
        OPT_DOUBLE(0, "lora-dropout", &u->lora.dropout, "P", 0, 0.99,
                   "dropout on the adapters' input (default 0)"),
        OPT_CALL(0, "lora-targets", &u->lora.targets, "L", cb_lora_targets, NULL,
                 "q,k,v,o,gate,up,down (default: all)"),
        OPT_BOOL(0, "rslora", &u->lora.rslora, "s = A / sqrt(R)"),
        OPT_STRING(0, "adapter", &u->adapter, "DIR",
                   "continue the adapter (and its optimizer) in DIR"),
        OPT_GROUP("Checkpoints and output:\n"),
        OPT_LONG(0, "save-every", &u->save_every, "N", 1, 1L << 40,
                 "also save DIR/checkpoint-STEP every N steps"),
        OPT_STRING(0, "save-dir", &u->save_dir, "DIR", "where (default: OUT's parent directory)"),
        TOOL_OPT_CKPT_DTYPE(&u->fmt, "weights written as f32 (default), bf16, f16, or\n"
                                     "auto (IN's torch_dtype)"),
        TOOL_OPT_SHARD_SIZE(&u->fmt),
        OPT_BOOL(0, "resume", &u->resume, "continue the run saved in IN (same input, options)"),
        OPT_BOOL(0, "new-optimizer", &u->new_optimizer,
                 "ignore IN's optimizer state: fresh moments, step 0\n"
                 "and this mode's schedule (e.g. GRPO after SFT)"),
        OPT_BOOL(0, "eval", &u->eval,
                 "no step: print the loss (rm: and the pairwise\n"
                 "accuracy) of the input under IN as one JSON line"),
        OPT_STRING(0, "metrics", &u->metrics_path, "FILE", "one JSON line per step"),
        OPT_LONG(0, "threads", &u->threads, "N", 1, 1024,
                 "compute threads (default: POSTTRAIN_THREADS, else all;\n"
                 "under mpirun, the host's cores over its ranks)"),
        TOOL_OPT_DTYPE("compute-dtype", &u->use16, NULL,
                       "matrix products in f32 (default) or bf16: bf16\n"
                       "copies of the fp32 master weights, forward and\n"
                       "backward, fp32 accumulation (gen/logp --dtype bf16\n"
                       "compute the same log-probs)"),
        OPT_LONG(0, "max-errors", &u->tl.max_errors, "N", 0, LONG_MAX,
                 "go on past up to N bad records (default 0)"),
        OPT_STRING(0, "rejects", &u->tl.rejects_path, "FILE",
                   "write bad records there, whole, with the reason"),
        OPT_BOOL('q', "quiet", &u->tl.quiet, "no summary on stderr"),
        OPT_HELP(),
        OPT_VERSION(),
        OPT_END(),
    };
    const struct opt *tabs[] = {opts, NULL};
    double alpha_default;

    run_optset_init(&u->os);
    train_config_default(&tc, TRAIN_SFT);
    lora_config_default(&u->lora);
    u->lora.r = 0;
    alpha_default = u->lora.alpha;
    opt_find(opts, "clip-low")->given = &low_set;
    opt_find(opts, "clip-high")->given = &high_set;
    opt_find(opts, "objective")->given = &grpo_opt;
    opt_find(opts, "kl")->given = &grpo_opt;
    opt_find(opts, "entropy-coef")->given = &grpo_opt;
    opt_find(opts, "is")->given = &grpo_opt;
    opt_find(opts, "is-cap")->given = &grpo_opt;
    opt_find(opts, "is-mode")->given = &grpo_opt;
    opt_find(opts, "temperature")->given = &u->temp_given;
    opt_find(opts, "lora-alpha")->given = &alpha_set;
    opt_find(opts, "lora-dropout")->given = &lora_opts;
    opt_find(opts, "lora-targets")->given = &lora_opts;
    opt_find(opts, "rslora")->given = &lora_opts;
    opt_find(opts, "dtype")->given = &u->fmt_given;
    opt_find(opts, "max-shard-size")->given = &u->fmt_given;
    *argi = opt_parse(&u->tl.prog, tabs, argc, argv);

    u->out = u->tl.output;
    lora_opts |= alpha_set;
    if (sft + grpo + distill + rm != 1)
        tool_usage_error(&u->tl, "give one of --sft, --grpo, --distill, --rm");
    u->mode = sft ? TRAIN_SFT : rm ? TRAIN_RM : TRAIN_GRPO;
    if (ch.obj >= 0)
        tc.obj = (enum train_objective)ch.obj;
    if (ch.kl >= 0)
        tc.kl = (enum train_kl)ch.kl;
    if (ch.is >= 0)
        tc.is_level = (enum train_is)ch.is;
    if (ch.is_mode >= 0)
        tc.is_mask = ch.is_mode;
    if (micro)
        tc.micro_tokens = (size_t)micro;
    u->old_mode = ch.old;
    if (grpo_opt && u->mode != TRAIN_GRPO)
        tool_usage_error(&u->tl, "--objective, --kl, --entropy-coef and --is* go with --grpo "
                         "or --distill");
    if (!distill && distill_coef != 1.0)
        tool_usage_error(&u->tl, "--distill-coef goes with --distill");
    if (distill && tc.beta > 0)
        tool_usage_error(&u->tl, "--distill: ref_logprobs are the teacher's, so no --beta");
    if (u->old_mode == 1 && ch.is >= 0 && tc.is_level != TRAIN_IS_OFF)
        tool_usage_error(&u->tl, "--is weighs the records' log-probs against recomputed "
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
    if (u->resume && u->new_optimizer)
        tool_usage_error(&u->tl, "--resume continues IN's optimizer: no --new-optimizer");
    if (u->eval && (u->out || u->resume))
        tool_usage_error(&u->tl, "--eval writes no checkpoint: no -o, no --resume");
    if (!u->in || (!u->out && !u->eval))
        tool_usage_error(&u->tl, "-m IN and -o OUT are required");
    if (u->out && strcmp(u->in, u->out) == 0)
        tool_usage_error(&u->tl, "-o must differ from -m (update never overwrites its input)");
    if (u->plan.batch_tokens && batch >= 0)
        tool_usage_error(&u->tl, "give --batch or --batch-tokens, not both");
    if (u->mode != TRAIN_GRPO && mu != 1)
        tool_usage_error(&u->tl, "--mu goes with --grpo");
    if (lora_opts && !u->lora.r)
        tool_usage_error(&u->tl, "--lora-alpha, --lora-dropout, --lora-targets and --rslora "
                         "go with --lora R");
    if (u->lora.r && u->adapter)
        tool_usage_error(&u->tl, "--adapter continues an adapter whose adapter_config.json "
                         "sets its shape: no --lora");
    if (u->lora.r && u->resume)
        tool_usage_error(&u->tl, "--resume continues the adapter given with --adapter: "
                         "no --lora");
    if ((u->lora.r || u->adapter) && u->fmt_given)
        tool_usage_error(&u->tl, "adapters are written F32 in one file: no --dtype or "
                         "--max-shard-size");
    if (u->adapter && u->out && strcmp(u->adapter, u->out) == 0)
        tool_usage_error(&u->tl, "-o must differ from --adapter (update never overwrites its "
                         "input)");
    if ((u->lora.r || u->adapter) && tc.moe_bias_speed > 0)
        tool_usage_error(&u->tl, "--moe-bias-speed moves the base's router biases, which "
                         "an adapter leaves frozen: not with --lora or --adapter");
    if (!alpha_set)
        u->lora.alpha = u->lora.r ? 2.0 * u->lora.r : alpha_default;
    tc.mode = u->mode;
    tc.agg = ch.agg >= 0 ? (enum train_agg)ch.agg
             : u->mode == TRAIN_GRPO ? TRAIN_SEQ_MEAN_TOKEN_MEAN : TRAIN_TOKEN_MEAN;
    /*
     * The old log-probs are the first pass's, the records' weighing in
     * as importance weights; where the two agree bit for bit the weight
     * is exactly 1, so this is --old records then.
     */
    if (u->old_mode == 1)
        tc.is_level = TRAIN_IS_OFF;
    if (u->old_mode == 2 || (u->old_mode == 0 && tc.is_level != TRAIN_IS_OFF))
        tc.recompute_old = 1;
    u->tc = tc;
    u->plan.batch = batch >= 0 ? batch : u->mode == TRAIN_GRPO ? 0 : 16;
    u->plan.epochs = epochs ? epochs : u->mode == TRAIN_SFT ? 2 : 1;
    u->plan.mu = mu;
    u->plan.shuffle = u->mode != TRAIN_GRPO && !shuffle_off;
    u->plan.mode = u->mode;
}

/* ---- Records ---- */

static void
read_rows(struct update *u, const struct model *m)
{
    struct sbuf why = SBUF_INIT;
    struct pack_row w;
    const char *field;
    json_t *rec;

    while ((rec = tool_next(&u->tl)) != NULL) {
        sbuf_reset(&why);
        if (pack_row_parse(rec, 0, &w, &field, &why) < 0)
            tool_reject(&u->tl, rec, field, "%s", sbuf_str(&why));
        else if (run_row_check(&u->tc, u->old_mode == 1, &m->cfg, &w, &field, &why) < 0) {
            tool_reject(&u->tl, rec, field, "%s", sbuf_str(&why));
            pack_row_release(&w);
        } else if (u->replay && pack_row_routes(&w, rec, &m->cfg, &why) < 0) {
            tool_reject(&u->tl, rec, "routes", "%s", sbuf_str(&why));
            pack_row_release(&w);
        } else if (sample_temp_take(&u->samp, rec, &field, &why) < 0) {
            tool_reject(&u->tl, rec, field, "%s", sbuf_str(&why));
            pack_row_release(&w);
        } else {
            if (u->nrows == u->caprows) {
                u->caprows = u->caprows ? 2 * u->caprows : 64;
                u->rows = xrealloc(u->rows, xmul(u->caprows, sizeof(*u->rows)));
            }
            u->rows[u->nrows++] = w;
        }
        json_decref(rec);
    }
    sbuf_release(&why);
}

/* One compact JSON line to f (path: for the message); dies on a write error. */
static void
write_line(FILE *f, const char *path, json_t *js)
{
    struct sbuf sb = SBUF_INIT;

    json_emit(&sb, js);
    sbuf_addc(&sb, '\n');
    if (fwrite(sb.buf, 1, sb.len, f) != sb.len || fflush(f) != 0)
        die_errno("%s", path);
    json_decref(js);
    sbuf_release(&sb);
}

/* ---- Ranks ---- */

/* The sums of a step over the ranks (dist.h: in rank order). */
static void
reduce_ranks(void *ctx, float *g, size_t n, double *d, size_t nd, uint64_t *v, size_t nv)
{
    (void)ctx;
    dist_sum_f32(g, n);
    dist_sum_f64(d, nd);
    dist_sum_u64(v, nv);
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

/* ---- Checkpoints ---- */

/* The checkpoint, or with LoRA the adapter directory, standing at `at`. */
static void
save(const struct update *u, const char *dir, const struct model *m, const json_t *cfgjs,
     const struct optim *o, const struct run_pos *at)
{
    struct sbuf err = SBUF_INIT;
    json_t *state = run_state_json(&u->plan, at);

    if (m->lora ? lora_save(m->lora, dir, o, state, &err)
                : ckpt_save_as(dir, m, cfgjs, o, state, u->in, &u->fmt, &err))
        die("%s", sbuf_str(&err));
    json_decref(state);
    sbuf_release(&err);
}

/* mkdir -p dir; dies on failure. */
static void
make_dirs(const char *dir)
{
    char *p = ckpt_path_join(dir, "x"), *failed = NULL;

    if (mkdir_parents(p, &failed) != 0)
        die_errno("%s", failed);
    free(p);
}

/*
 * The optimizer: IN's (or the adapter's) carried state, else a fresh
 * one with the mode's defaults; the command line's settings over it
 * unless the run resumes, and the position to resume at.
 */
static struct optim *
open_optim(struct update *u, const struct model *m, struct run_pos *at)
{
    const char *dir = u->adapter ? u->adapter : u->lo ? NULL : u->in;
    size_t nparams = u->lo ? u->lo->nparams : m->nparams;
    struct sbuf err = SBUF_INIT;
    struct optim_config oc;
    struct optim *o = NULL;
    int carried = dir && !u->new_optimizer && ckpt_has_optim(dir);

    if (carried) {
        if (!(o = ckpt_load_optim(dir, nparams, &err)))
            die("%s", sbuf_str(&err));
        oc = o->cfg;
    } else
        run_mode_defaults(u->mode, &oc);
    if (u->resume) {
        if (!carried)
            die("%s: no optimizer state to resume", dir ? dir : u->in);
        if (run_resume(&u->plan, dir, at, &err))
            die("%s", sbuf_str(&err));
        if (at->epoch >= u->plan.epochs)
            die("%s: the run saved there is complete", u->in);
    } else {
        run_optset_apply(&u->os, &oc);
        if (oc.min_lr > oc.lr)
            tool_usage_error(&u->tl, "--min-lr %g is above --lr %g", (double)oc.min_lr,
                             (double)oc.lr);
        if (u->os.total < 0 && (!carried || u->os.schedule >= 0 || !isnan(u->os.lr)))
            train_schedule_span(&oc, carried ? o->step : 0, u->plan.total);
    }
    if (!o)
        o = optim_new(&oc, nparams);
    o->cfg = oc;
    if (!u->lo)     /* an adapter's tensors are all matrices: all decay */
        ckpt_optim_no_decay(o, m);
    sbuf_release(&err);
    return o;
}

/* ---- main ---- */

/* Threads: --threads, else POSTTRAIN_THREADS, else the host's cores over its ranks. */
static void
set_threads(long threads)
{
    if (threads)
        model_set_threads((int)threads);
    else if (model_threads_env() > 0)
        model_set_threads(model_threads_env());
    else if (dist_local_size() > 1) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN) / dist_local_size();
        model_set_threads(cpus > 1 ? (int)cpus : 1);
    }
}

/* The checkpoint IN, with the adapter to train and the compute dtype. */
static struct model *
open_model(struct update *u, json_t **cfgjs)
{
    struct sbuf err = SBUF_INIT;
    struct model *m;
    int l, has = 0;

    m = ckpt_load(u->in, u->mode == TRAIN_RM ? CKPT_AS_SEQ_CLS : 0, cfgjs, &err);
    if (!m)
        die("%s", sbuf_str(&err));
    if (u->mode != TRAIN_RM && m->cfg.arch != MODEL_CAUSAL_LM)
        die("%s: a reward model (scalar head): --sft and --grpo train a causal LM", u->in);
    if (u->tc.moe_bias_speed > 0) {
        for (l = 0; l < m->cfg.n_layers; l++)
            has |= m->w.layers[l].router_bias != NULL;
        if (!has)
            die("%s: --moe-bias-speed needs a router with e_score_correction_bias "
                "(topk_method noaux_tc)", u->in);
    }
    if (u->tc.moe_seq_aux > 0 && m->cfg.moe.n_experts == 0)
        die("%s: --moe-seq-aux needs a mixture of experts", u->in);
    if (u->replay && model_route_width(&m->cfg) == 0)
        die("%s: --replay-routes: the model has no mixture-of-experts layers", u->in);
    if (u->adapter && !(u->lo = lora_load(u->adapter, m, &err)))
        die("%s", sbuf_str(&err));
    if (u->lora.r)
        u->lo = lora_new(m, &u->lora, u->plan.seed, u->in);
    if (u->lo)
        u->lo->seed = u->plan.seed;     /* the dropout masks' (a resumed run's too) */
    m->lora = u->lo;
    if (u->use16)
        model_use_bf16(m, KERN16_AUTO, 1);
    sbuf_release(&err);
    return m;
}

int
main(int argc, char **argv)
{
    struct update u;
    struct model *m;
    struct optim *o;
    struct trainer tr;
    struct train_stats st;
    struct run_plan *p = &u.plan;
    struct run_pos at = {0, 0, 0};
    json_t *cfgjs = NULL;
    FILE *mf = NULL;
    size_t *ntok, nb, k, i, n;
    int *owner, rank0, argi, done = 0, rc, iter;
    unsigned char *mine;
    const unsigned char *part;
    struct pack_row *batch;
    long e, b, run_steps = 0;
    char *dircopy = NULL;
    double t0;

    memset(&u, 0, sizeof(u));
    tool_init(&u.tl, "update", usage_text);
    parse_args(&u, argc, argv, &argi);
    dist_init(NULL, NULL);
    rank0 = dist_rank() == 0;
    set_threads(u.threads);
    m = open_model(&u, &cfgjs);

    /* rank 0 reads (stdin included) and sends the rows to the others */
    if (rank0) {
        sample_temp_init(&u.samp, u.temp_given, u.tc.temperature);
        tool_start_noout(&u.tl, argc - argi, argv + argi);
        read_rows(&u, m);
        /* the temperature the samples were drawn at, unless given */
        u.tc.temperature = (float)u.samp.temperature;
        sample_temp_release(&u.samp);
    }
    u.nrows = dist_bcast_rows(&u.rows, u.nrows);
    dist_bcast(&u.tc.temperature, sizeof(u.tc.temperature));
    if (u.nrows == 0)
        die("no packed records to train on");
    if (u.eval && !rank0)
        goto out;
    if (u.eval) {
        trainer_init(&tr, &u.tc, m, NULL);
        train_eval(&tr, u.rows, u.nrows, &st);
        write_line(stdout, "stdout", run_eval_json(u.mode, u.nrows, &st));
        trainer_release(&tr);
        goto out;
    }
    if (u.mode == TRAIN_GRPO && u.old_mode == 0)
        for (i = 0; i < u.nrows; i++)
            u.tc.recompute_old |= u.rows[i].old == NULL;

    /* the plan: batches of every epoch; the optimizer; where to start */
    p->rows = u.rows;
    p->nrows = u.nrows;
    run_plan_init(p);
    o = open_optim(&u, m, &at);
    batch = xmalloc(xmul(u.nrows, sizeof(*batch)));
    ntok = xmalloc(xmul(u.nrows, sizeof(size_t)));
    owner = xmalloc(xmul(u.nrows, sizeof(int)));
    mine = xmalloc(u.nrows);

    if (rank0 && u.metrics_path && !(mf = fopen(u.metrics_path, "w")))
        die_errno("%s", u.metrics_path);
    if (u.save_every && !u.save_dir) {
        dircopy = xstrdup(u.out);
        u.save_dir = dirname(dircopy);
    }
    if (rank0 && u.save_every)
        make_dirs(u.save_dir);

    trainer_init(&tr, &u.tc, m, o);
    if (dist_size() > 1)
        trainer_set_reduce(&tr, reduce_ranks, NULL);
    for (e = at.epoch; e < p->epochs && !done; e++) {
        nb = run_plan_epoch(p, e);
        for (b = e == at.epoch ? at.batch : 0; b < (long)nb && !done; b++) {
            const size_t *idx = p->order + p->start[b];
            struct run_pos next = {0, 0, 0};
            n = p->start[b + 1] - p->start[b];
            for (k = 0; k < n; k++)
                batch[k] = u.rows[idx[k]];
            part = share(batch, n, ntok, owner, mine);
            for (iter = 0; iter < p->mu; iter++) {
                t0 = now_sec();
                train_step_part(&tr, batch, n, part, iter, &st);
                if (mf)
                    write_line(mf, u.metrics_path,
                               run_metrics_json(&u.tc, o, e, iter, &st, now_sec() - t0, m));
                at.steps++;
                run_steps++;
            }
            /* old log-probs recomputed at the first pass belong to the row */
            for (k = 0; k < n; k++)
                u.rows[idx[k]] = batch[k];
            run_plan_after(p, e, b, &next);
            next.steps = at.steps;
            if (rank0 && u.save_every && at.steps % u.save_every == 0) {
                char path[4096];
                snprintf(path, sizeof(path), "%s/checkpoint-%ld", u.save_dir, o->step);
                save(&u, path, m, cfgjs, o, &next);
            }
            if (u.max_steps && run_steps >= u.max_steps) {
                done = 1;
                at = next;
            }
        }
    }
    if (!done) {
        at.epoch = p->epochs;
        at.batch = 0;
    }
    if (rank0)
        save(&u, u.out, m, cfgjs, o, &at);
    if (mf && fclose(mf) != 0)
        die_errno("%s", u.metrics_path);
    if (rank0 && !u.tl.quiet)
        fprintf(stderr, "update: %ld steps on %zu packed records, global step %ld, lr %.3g\n",
                run_steps, u.nrows, o->step, optim_lr(&o->cfg, o->step > 0 ? o->step - 1 : 0));
    trainer_release(&tr);
    run_plan_release(p);
    free(batch);
    free(ntok);
    free(owner);
    free(mine);
    free(dircopy);
    optim_free(o);
out:
    rc = tool_finish(&u.tl);
    for (i = 0; i < u.nrows; i++)
        pack_row_release(&u.rows[i]);
    free(u.rows);
    m->lora = NULL;
    lora_free(u.lo);
    model_free(m);
    json_decref(cfgjs);
    dist_finalize();
    return rc;
}
