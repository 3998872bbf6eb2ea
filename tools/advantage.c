/*
 * advantage - adds the group-relative advantage (GRPO, Dr. GRPO, RLOO,
 * batch std) to scored sample records.  Options and the loop only; the
 * work is lib/adv.c and lib/adv_stream.c.
 */
#include <getopt.h>
#include <string.h>

#include "adv.h"
#include "tool.h"

static const char usage_text[] =
    "usage: advantage [-G N] [--key FIELD] [--dr-grpo | --rloo] [--baseline mean|loo]\n"
    "                 [--scale group|batch|none] [--batch N] [--population] [--eps X]\n"
    "                 [--drop-uniform] [--per-reward] [--overlong LC --max-tokens N]\n"
    "                 [--kl-coef X] [--mask-truncated] [options] [FILE ...]\n"
    "Adds \"advantage\" to each sample: A = (r - mean) / (std + eps) within its group.\n"
    "\n"
    "  -G, --group-size N    every group must have N samples\n"
    "      --key FIELD       the reward field, or a dotted path (default reward)\n"
    "      --baseline B      mean (GRPO) or loo: the mean of the other G-1 (RLOO)\n"
    "      --scale S         divide by the group's std, the batch's, or none\n"
    "      --dr-grpo         Dr. GRPO: --baseline mean --scale none\n"
    "      --rloo            RLOO: --baseline loo --scale none\n"
    "      --batch N         with --scale batch or --per-reward: N groups per batch\n"
    "                        (default: all)\n"
    "      --population      std divides by n (default: by n - 1, as torch.std)\n"
    "      --eps X           added to the std (default 1e-4)\n"
    "      --drop-uniform    leave out groups whose rewards are all equal\n"
    "      --per-reward      normalize each number of \"rewards\" in its group, sum\n"
    "                        the advantages, normalize the sums over the batch (GDPO)\n"
    "      --overlong LC     DAPO's soft overlong penalty over the last LC tokens\n"
    "                        before --max-tokens (rewards.overlong)\n"
    "      --max-tokens N    the completion limit (gen -n) of --overlong\n"
    "      --overlong-penalty X  the penalty at the limit (default 1)\n"
    "      --kl-coef X       the KL to ref_logprobs in the reward (rewards.kl)\n"
    "      --kl k1|k2|k3     its estimator (default k1)\n"
    "      --mask-truncated  leave finish \"length\" samples out of the output\n"
    "                        (they count in their group's baseline)\n"
    "      --min-policy-step N  refuse samples of a policy older than step N\n"
    TOOL_USAGE_COMMON;

enum {
    OPT_KEY = TOOL_OPT_FIRST_FREE,
    OPT_BASELINE,
    OPT_SCALE,
    OPT_DRGRPO,
    OPT_RLOO,
    OPT_BATCH,
    OPT_POPULATION,
    OPT_EPS,
    OPT_DROP_UNIFORM,
    OPT_PER_REWARD,
    OPT_OVERLONG,
    OPT_MAX_TOKENS,
    OPT_OVERLONG_PENALTY,
    OPT_KL_COEF,
    OPT_KL,
    OPT_MASK_TRUNCATED,
    OPT_MIN_POLICY,
};

static const struct option longopts[] = {
    TOOL_LONGOPTS,
    { "group-size", required_argument, NULL, 'G' },
    { "key", required_argument, NULL, OPT_KEY },
    { "baseline", required_argument, NULL, OPT_BASELINE },
    { "scale", required_argument, NULL, OPT_SCALE },
    { "dr-grpo", no_argument, NULL, OPT_DRGRPO },
    { "rloo", no_argument, NULL, OPT_RLOO },
    { "batch", required_argument, NULL, OPT_BATCH },
    { "population", no_argument, NULL, OPT_POPULATION },
    { "eps", required_argument, NULL, OPT_EPS },
    { "drop-uniform", no_argument, NULL, OPT_DROP_UNIFORM },
    { "per-reward", no_argument, NULL, OPT_PER_REWARD },
    { "overlong", required_argument, NULL, OPT_OVERLONG },
    { "max-tokens", required_argument, NULL, OPT_MAX_TOKENS },
    { "overlong-penalty", required_argument, NULL, OPT_OVERLONG_PENALTY },
    { "kl-coef", required_argument, NULL, OPT_KL_COEF },
    { "kl", required_argument, NULL, OPT_KL },
    { "mask-truncated", no_argument, NULL, OPT_MASK_TRUNCATED },
    { "min-policy-step", required_argument, NULL, OPT_MIN_POLICY },
    { NULL, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
    struct tool t;
    struct adv_run_opts o = { ADV_OPTS_INIT, "reward", 0, 0, 0, 0, 0, 1.0, 0.0, 1, 0, 0, -1 };
    struct adv_counts c;
    const char *preset = NULL;
    int baseline = -1, scale = -1, ch;

    tool_init(&t, "advantage", usage_text);
    while ((ch = getopt_long(argc, argv, TOOL_SHORTOPTS "G:", longopts, NULL)) != -1) {
        if (tool_opt(&t, ch, optarg))
            continue;
        switch (ch) {
        case 'G':
            if (parse_long(optarg, 1, 1L << 20, &o.group_size))
                tool_usage_error(&t, "-G: '%s' is not an integer in [1, 1048576]", optarg);
            break;
        case OPT_KEY:
            if (!*optarg)
                tool_usage_error(&t, "--key: empty field name");
            o.key = optarg;
            break;
        case OPT_BASELINE:
            if (strcmp(optarg, "mean") == 0)
                baseline = ADV_BASELINE_MEAN;
            else if (strcmp(optarg, "loo") == 0)
                baseline = ADV_BASELINE_LOO;
            else
                tool_usage_error(&t, "--baseline: '%s' is not mean or loo", optarg);
            break;
        case OPT_SCALE:
            if (strcmp(optarg, "group") == 0)
                scale = ADV_SCALE_GROUP;
            else if (strcmp(optarg, "batch") == 0)
                scale = ADV_SCALE_BATCH;
            else if (strcmp(optarg, "none") == 0)
                scale = ADV_SCALE_NONE;
            else
                tool_usage_error(&t, "--scale: '%s' is not group, batch or none", optarg);
            break;
        case OPT_DRGRPO:
        case OPT_RLOO:
            if (preset)
                tool_usage_error(&t, "--dr-grpo and --rloo exclude each other");
            preset = ch == OPT_RLOO ? "--rloo" : "--dr-grpo";
            break;
        case OPT_BATCH:
            if (parse_long(optarg, 1, 1L << 40, &o.batch))
                tool_usage_error(&t, "--batch: '%s' is not a positive integer", optarg);
            break;
        case OPT_POPULATION:
            o.adv.population = 1;
            break;
        case OPT_EPS:
            if (parse_double(optarg, 0, 1, &o.adv.eps))
                tool_usage_error(&t, "--eps: '%s' is not a number in [0, 1]", optarg);
            break;
        case OPT_DROP_UNIFORM:
            o.drop_uniform = 1;
            break;
        case OPT_PER_REWARD:
            o.per_reward = 1;
            break;
        case OPT_OVERLONG:
            if (parse_long(optarg, 1, 1L << 30, &o.overlong))
                tool_usage_error(&t, "--overlong: '%s' is not a positive integer", optarg);
            break;
        case OPT_MAX_TOKENS:
            if (parse_long(optarg, 1, 1L << 30, &o.max_tokens))
                tool_usage_error(&t, "--max-tokens: '%s' is not a positive integer", optarg);
            break;
        case OPT_OVERLONG_PENALTY:
            if (parse_double(optarg, 0, 1e6, &o.overlong_factor))
                tool_usage_error(&t, "--overlong-penalty: '%s' is not a number in [0, 1e6]",
                                 optarg);
            break;
        case OPT_KL_COEF:
            if (parse_double(optarg, 0, 1e6, &o.kl_coef))
                tool_usage_error(&t, "--kl-coef: '%s' is not a number in [0, 1e6]", optarg);
            break;
        case OPT_KL:
            if (strcmp(optarg, "k1") && strcmp(optarg, "k2") && strcmp(optarg, "k3"))
                tool_usage_error(&t, "--kl: '%s' is not k1, k2 or k3", optarg);
            o.kl_kind = optarg[1] - '0';
            break;
        case OPT_MASK_TRUNCATED:
            o.mask_truncated = 1;
            break;
        case OPT_MIN_POLICY:
            if (parse_long(optarg, 0, 1L << 40, &o.min_policy))
                tool_usage_error(&t, "--min-policy-step: '%s' is not an integer >= 0", optarg);
            break;
        default:
            tool_usage(&t);
        }
    }
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

    tool_start(&t, argc - optind, argv + optind);
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
