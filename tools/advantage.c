/*
 * advantage - adds the group-relative advantage (GRPO, Dr. GRPO, RLOO,
 * batch std) to scored sample records.  Options and the loop only; the
 * work is lib/adv.c and lib/adv_stream.c.
 */
#include <limits.h>
#include <string.h>

#include "adv.h"
#include "tool.h"

static const char usage_text[] =
    "usage: advantage [-G N] [--key FIELD] [--dr-grpo | --rloo] [--baseline mean|loo]\n"
    "                 [--scale group|batch|none] [--batch N] [--population] [--eps X]\n"
    "                 [--drop-uniform] [--per-reward] [--overlong LC --max-tokens N]\n"
    "                 [--kl-coef X] [--mask-truncated] [options] [FILE ...]\n"
    "Adds \"advantage\" to each sample: A = (r - mean) / (std + eps) within its group.\n"
    "\n";

static const struct opt_choice baselines[] = {
    {"mean", ADV_BASELINE_MEAN}, {"loo", ADV_BASELINE_LOO}, {NULL, 0}};
static const struct opt_choice scales[] = {
    {"group", ADV_SCALE_GROUP}, {"batch", ADV_SCALE_BATCH}, {"none", ADV_SCALE_NONE}, {NULL, 0}};
static const struct opt_choice kls[] = {{"k1", 1}, {"k2", 2}, {"k3", 3}, {NULL, 0}};

int
main(int argc, char **argv)
{
    struct tool t;
    struct adv_run_opts o = { ADV_OPTS_INIT, "reward", 0, 0, 0, 0, 0, 1.0, 0.0, 1, 0, 0, -1 };
    struct adv_counts c;
    int argi;
    const char *preset = NULL;
    int baseline = -1, scale = -1, dr_grpo = 0, rloo = 0;

    tool_init(&t, "advantage", usage_text);
    {
        const struct opt opts[] = {
            OPT_LONG('G', "group-size", &o.group_size, "N", 1, 1L << 20,
                     "every group must have N samples"),
            TOOL_OPT_KEY(&o.key),
            OPT_CHOICE(0, "baseline", &baseline, "B", baselines,
                       "mean (GRPO) or loo: the mean of the other G-1 (RLOO)"),
            OPT_CHOICE(0, "scale", &scale, "S", scales,
                       "divide by the group's std, the batch's, or none"),
            OPT_BOOL(0, "dr-grpo", &dr_grpo, "Dr. GRPO: --baseline mean --scale none"),
            OPT_BOOL(0, "rloo", &rloo, "RLOO: --baseline loo --scale none"),
            OPT_LONG(0, "batch", &o.batch, "N", 1, 1L << 40,
                     "with --scale batch or --per-reward: N groups per batch\n"
                     "(default: all)"),
            OPT_BOOL(0, "population", &o.adv.population,
                     "std divides by n (default: by n - 1, as torch.std)"),
            OPT_DOUBLE(0, "eps", &o.adv.eps, "X", 0, 1, "added to the std (default 1e-4)"),
            OPT_BOOL(0, "drop-uniform", &o.drop_uniform,
                     "leave out groups whose rewards are all equal"),
            OPT_BOOL(0, "per-reward", &o.per_reward,
                     "normalize each number of \"rewards\" in its group, sum\n"
                     "the advantages, normalize the sums over the batch (GDPO)"),
            {.type = OPT_T_LONG, .long_name = "overlong", .value = &o.overlong,
             .argname = "LC", .min = 1, .max = 1L << 30, .what = "a positive integer",
             .help = "DAPO's soft overlong penalty over the last LC tokens\n"
                     "before --max-tokens (rewards.overlong)"},
            OPT_LONG(0, "max-tokens", &o.max_tokens, "N", 1, 1L << 30,
                     "the completion limit (gen -n) of --overlong"),
            OPT_DOUBLE(0, "overlong-penalty", &o.overlong_factor, "X", 0, 1e6,
                       "the penalty at the limit (default 1)"),
            OPT_DOUBLE(0, "kl-coef", &o.kl_coef, "X", 0, 1e6,
                       "the KL to ref_logprobs in the reward (rewards.kl)"),
            OPT_CHOICE(0, "kl", &o.kl_kind, "k1|k2|k3", kls, "its estimator (default k1)"),
            OPT_BOOL(0, "mask-truncated", &o.mask_truncated,
                     "leave finish \"length\" samples out of the output\n"
                     "(they count in their group's baseline)"),
            OPT_LONG(0, "min-policy-step", &o.min_policy, "N", 0, LONG_MAX,
                     "refuse samples of a policy older than step N"),
            OPT_END(),
        };
        argi = tool_parse(&t, opts, argc, argv);
    }
    if (dr_grpo && rloo)
        tool_usage_error(&t, "--dr-grpo and --rloo exclude each other");
    if (dr_grpo || rloo)
        preset = rloo ? "--rloo" : "--dr-grpo";
    if (preset && (baseline >= 0 || scale >= 0))
        tool_usage_error(&t, "%s excludes --baseline and --scale", preset);
    if (preset) {
        baseline = strcmp(preset, "--rloo") == 0 ? ADV_BASELINE_LOO : ADV_BASELINE_MEAN;
        scale = ADV_SCALE_NONE;
    }
    if (o.batch && scale < 0 && !o.per_reward)
        scale = ADV_SCALE_BATCH;
    if (o.batch && scale != ADV_SCALE_BATCH && !o.per_reward)
        tool_usage_error(&t, "--batch needs --scale batch or --per-reward");
    if (o.overlong && !o.max_tokens)
        tool_usage_error(&t, "--overlong needs --max-tokens (the limit completions had)");
    if (o.max_tokens && !o.overlong)
        tool_usage_error(&t, "--max-tokens goes with --overlong");
    if (o.overlong > o.max_tokens)
        tool_usage_error(&t, "--overlong %ld is longer than --max-tokens %ld", o.overlong,
                         o.max_tokens);
    if (o.per_reward && scale == ADV_SCALE_BATCH)
        tool_usage_error(&t, "--per-reward normalizes within groups: not with --scale batch");
    if (baseline >= 0)
        o.adv.baseline = (enum adv_baseline)baseline;
    if (scale >= 0)
        o.adv.scale = (enum adv_scale)scale;

    tool_start(&t, argc - argi, argv + argi);
    adv_run(&t, &o, &c);
    if (!t.quiet) {
        if (o.adv.scale == ADV_SCALE_BATCH || o.per_reward)
            warnx_("%ld groups in %ld batches, %ld records; %ld uniform groups (%ld records) %s",
                   c.groups, c.batches, c.records, c.uniform_groups, c.uniform_records,
                   o.drop_uniform ? "dropped" : "given advantage 0");
        else
            warnx_("%ld groups, %ld records; %ld uniform groups (%ld records) %s", c.groups,
                   c.records, c.uniform_groups, c.uniform_records,
                   o.drop_uniform ? "dropped" : "given advantage 0");
        if (o.mask_truncated)
            warnx_("%ld truncated samples left out of the loss", c.truncated);
    }
    return tool_finish(&t);
}
