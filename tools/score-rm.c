/*
 * score-rm - model-based rewards: a scalar-head reward model (trained by
 * update --rm), or a judge that writes a rationale and then a verdict.
 * Options and checkpoints are here; the loops are lib/rm_stream.c and the
 * rules lib/rm.c.  See score-rm(1).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat.h"
#include "ckpt.h"
#include "lm.h"
#include "json.h"
#include "rm.h"
#include "tok.h"
#include "tool.h"
#include "w16.h"

static const char usage_text[] =
    "usage: score-rm -m DIR [--dtype NAME] [--domain NAME]... [--all-domains] [--weight W]\n"
    "                [--name NAME] [--reference-field NAME] [--with-reference]\n"
    "                [--norm-stats FILE | --norm MEAN,STD | --fit-norm]\n"
    "                [--batch N] [--batch-tokens N] [-f FORMAT]\n"
    "                [--think | --no-think] [--threads N] [options] [FILE ...]\n"
    "       score-rm --judge -m DIR --template FILE [--second FIELD] [--swap]\n"
    "                [--scale N] [-T X] [-n N] [--seed N] [--stop STRING]...\n"
    "                [--batch N] [same options as above] [FILE ...]\n"
    "       score-rm --judge --server URL -m NAME --template FILE [--api-key-env VAR]\n"
    "                [--concurrency N] [--retries N] [--retry-wait X] [--timeout X]\n"
    "                [judge options] [FILE ...]\n"
    "       score-rm --render --template FILE [--second FIELD] [--swap]\n"
    "                [--domain NAME]... [--all-domains] [options] [FILE ...]\n"
    "Model-based reward: a scalar reward model, or a judge's verdict.\n"
    "  -m, --model DIR         the reward model (scalar) or the judge (--judge)\n"
    "      --adapter DIR       with the LoRA adapter in DIR (PEFT's layout; scalar:\n"
    "                          one update --rm --lora trained, with its score head)\n"
    "      --dtype NAME        products in f32 (default) or bf16: bf16 copies of the\n"
    "                          weights, fp32 accumulation\n"
    "      --domain NAME       score records of this domain (repeatable; default:\n"
    "                          every domain but math and code)\n"
    "      --all-domains       score every record, with or without a domain\n"
    "      --weight W          multiply the reward by W (default 1)\n"
    "      --name NAME         write rewards.NAME (default rm)\n"
    "      --reference-field NAME  the reference answer's field (default response)\n"
    "      --with-reference    scalar: the reference follows the prompt in the text\n"
    "      --norm-stats FILE   scalar: normalize with the statistics in FILE\n"
    "      --norm MEAN,STD     scalar: normalize with these statistics\n"
    "      --fit-norm          scalar: write the statistics of the input's scores\n"
    "      --batch N           scalar: samples per forward (default 16); judge:\n"
    "                          sequences decoded together (default 32)\n"
    "      --batch-tokens N    scalar: tokens per forward at most (default 8192)\n"
    "      --judge             judge mode: generate a rationale and a verdict\n"
    "      --template FILE     judge: the prompt template\n"
    "      --render            add judge_prompt, the rendered template, and judge\n"
    "                          nothing (no -m)\n"
    "      --second FIELD      judge: the other response of a pairwise template\n"
    "      --swap              judge: the completion is response B, not A\n"
    "      --scale N           judge: a score verdict without /N is out of N\n"
    "                          (default 10)\n"
    "  -T, --temperature X     judge: sampling temperature (default 0: greedy)\n"
    "  -n, --max-tokens N      judge: tokens of rationale and verdict (default 512)\n"
    "      --seed N            judge: seed of the sampling streams (default 0)\n"
    "      --stop STRING       judge: end the output at STRING (repeatable)\n"
    "  -f, --format NAME       chat format: auto, builtin, deepseek3, chatml,\n"
    "                          qwen3, llama3, llama3.1, text\n"
    "      --think             open the assistant turn with <think>\\n\n"
    "      --no-think          never, even when the chat template does\n"
    "      --threads N         threads (default: POSTTRAIN_THREADS, else all CPUs)\n"
    "      --server URL        judge: an OpenAI-compatible server's base URL; -m\n"
    "                          then names its model\n"
    "      --api-key-env VAR   judge: the server's API key is in variable VAR\n"
    "      --concurrency N     judge: requests in flight (default 8)\n"
    "      --retries N         judge: retries of a failed request (default 5)\n"
    "      --retry-wait X      judge: seconds before the first retry (default 1)\n"
    "      --timeout X         judge: seconds per request (default 600)\n"
    TOOL_USAGE_COMMON;

enum {
    OPT_DOMAIN = TOOL_OPT_FIRST_FREE,
    OPT_ALL,
    OPT_WEIGHT,
    OPT_NAME,
    OPT_REF_FIELD,
    OPT_WITH_REF,
    OPT_NORM_STATS,
    OPT_NORM,
    OPT_FIT,
    OPT_BATCH,
    OPT_BATCH_TOKENS,
    OPT_JUDGE,
    OPT_TEMPLATE,
    OPT_RENDER,
    OPT_SECOND,
    OPT_SWAP,
    OPT_SCALE,
    OPT_SEED,
    OPT_STOP,
    OPT_THINK,
    OPT_NO_THINK,
    OPT_THREADS,
    OPT_SERVER,
    OPT_API_KEY_ENV,
    OPT_CONCURRENCY,
    OPT_RETRIES,
    OPT_RETRY_WAIT,
    OPT_TIMEOUT,
    OPT_ADAPTER,
    OPT_DTYPE,
};

#define MAX_DOMAINS 64
#define MAX_STOPS 32

struct cli {
    const char *model, *adapter, *norm_stats, *norm, *template_path;
    const char *domains[MAX_DOMAINS], *stops[MAX_STOPS];
    int ndomains, nstops, all, fit, judge, render, think, no_think, with_ref, swap, use16;
    long batch, batch_tokens, threads, max_tokens;
    double weight, scale, temperature;
    const char *name, *ref_field, *second;
    uint64_t seed;
    enum chat_format format;
    struct oaic_config server;      /* url NULL: a local judge */
    const char *keyenv;
};

/* Reads FILE whole; new. */
static char *
read_file(const char *opt, const char *path, size_t *len)
{
    struct sbuf sb = SBUF_INIT;
    FILE *f = fopen(path, "rb");
    char buf[65536];
    size_t k;

    if (!f)
        die_errno("%s: '%s'", opt, path);
    while ((k = fread(buf, 1, sizeof(buf), f)) > 0)
        sbuf_add(&sb, buf, k);
    if (ferror(f))
        die_errno("%s: '%s'", opt, path);
    fclose(f);
    sbuf_str(&sb);
    *len = sb.len;
    return sb.buf;
}

static long
opt_long(struct tool *t, const char *name, const char *arg, long lo, long hi)
{
    long v;

    if (parse_long(arg, lo, hi, &v))
        tool_usage_error(t, "%s: '%s' is not an integer in [%ld, %ld]", name, arg, lo, hi);
    return v;
}

static double
opt_double(struct tool *t, const char *name, const char *arg, double lo, double hi)
{
    double v;

    if (parse_double(arg, lo, hi, &v))
        tool_usage_error(t, "%s: '%s' is not a number in [%g, %g]", name, arg, lo, hi);
    return v;
}

static void
parse_args(struct tool *t, struct cli *a, int argc, char **argv)
{
    static const struct option longopts[] = {
        TOOL_LONGOPTS,
        {"model", required_argument, NULL, 'm'},
        {"domain", required_argument, NULL, OPT_DOMAIN},
        {"all-domains", no_argument, NULL, OPT_ALL},
        {"weight", required_argument, NULL, OPT_WEIGHT},
        {"name", required_argument, NULL, OPT_NAME},
        {"reference-field", required_argument, NULL, OPT_REF_FIELD},
        {"with-reference", no_argument, NULL, OPT_WITH_REF},
        {"norm-stats", required_argument, NULL, OPT_NORM_STATS},
        {"norm", required_argument, NULL, OPT_NORM},
        {"fit-norm", no_argument, NULL, OPT_FIT},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"batch-tokens", required_argument, NULL, OPT_BATCH_TOKENS},
        {"judge", no_argument, NULL, OPT_JUDGE},
        {"template", required_argument, NULL, OPT_TEMPLATE},
        {"render", no_argument, NULL, OPT_RENDER},
        {"second", required_argument, NULL, OPT_SECOND},
        {"swap", no_argument, NULL, OPT_SWAP},
        {"scale", required_argument, NULL, OPT_SCALE},
        {"temperature", required_argument, NULL, 'T'},
        {"max-tokens", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, OPT_SEED},
        {"stop", required_argument, NULL, OPT_STOP},
        {"format", required_argument, NULL, 'f'},
        {"think", no_argument, NULL, OPT_THINK},
        {"no-think", no_argument, NULL, OPT_NO_THINK},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"server", required_argument, NULL, OPT_SERVER},
        {"api-key-env", required_argument, NULL, OPT_API_KEY_ENV},
        {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
        {"retries", required_argument, NULL, OPT_RETRIES},
        {"retry-wait", required_argument, NULL, OPT_RETRY_WAIT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"adapter", required_argument, NULL, OPT_ADAPTER},
        {"dtype", required_argument, NULL, OPT_DTYPE},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = getopt_long(argc, argv, TOOL_SHORTOPTS "m:T:n:f:", longopts, NULL)) != -1) {
        if (tool_opt(t, c, optarg))
            continue;
        switch (c) {
        case 'm': a->model = optarg; break;
        case OPT_ADAPTER: a->adapter = optarg; break;
        case OPT_DTYPE:
            if ((a->use16 = w16_parse_dtype(optarg)) < 0)
                tool_usage_error(t, "--dtype: '%s' is not f32 or bf16", optarg);
            break;
        case OPT_DOMAIN:
            if (a->ndomains == MAX_DOMAINS)
                tool_usage_error(t, "--domain: more than %d domains", MAX_DOMAINS);
            a->domains[a->ndomains++] = optarg;
            break;
        case OPT_ALL: a->all = 1; break;
        case OPT_WEIGHT: a->weight = opt_double(t, "--weight", optarg, -1e9, 1e9); break;
        case OPT_NAME:
            if (!*optarg || strchr(optarg, '.'))
                tool_usage_error(t, "--name: '%s' is not a field name", optarg);
            a->name = optarg;
            break;
        case OPT_REF_FIELD: a->ref_field = optarg; break;
        case OPT_WITH_REF: a->with_ref = 1; break;
        case OPT_NORM_STATS: a->norm_stats = optarg; break;
        case OPT_NORM: a->norm = optarg; break;
        case OPT_FIT: a->fit = 1; break;
        case OPT_BATCH: a->batch = opt_long(t, "--batch", optarg, 1, 65536); break;
        case OPT_BATCH_TOKENS:
            a->batch_tokens = opt_long(t, "--batch-tokens", optarg, 1, 1L << 30);
            break;
        case OPT_JUDGE: a->judge = 1; break;
        case OPT_TEMPLATE: a->template_path = optarg; break;
        case OPT_RENDER: a->render = a->judge = 1; break;
        case OPT_SECOND: a->second = optarg; break;
        case OPT_SWAP: a->swap = 1; break;
        case OPT_SCALE: a->scale = opt_double(t, "--scale", optarg, 1e-9, 1e9); break;
        case 'T': a->temperature = opt_double(t, "-T", optarg, 0, 1000); break;
        case 'n': a->max_tokens = opt_long(t, "--max-tokens", optarg, 1, INT_MAX); break;
        case OPT_SEED:
            if (parse_u64(optarg, &a->seed))
                tool_usage_error(t, "--seed: '%s' is not an unsigned 64-bit integer", optarg);
            break;
        case OPT_STOP:
            if (a->nstops == MAX_STOPS)
                tool_usage_error(t, "--stop: more than %d stop strings", MAX_STOPS);
            if (!*optarg)
                tool_usage_error(t, "--stop: the stop string is empty");
            a->stops[a->nstops++] = optarg;
            break;
        case 'f':
            if (chat_parse_format(optarg, &a->format) < 0)
                tool_usage_error(t, "-f: unknown chat format '%s'", optarg);
            break;
        case OPT_THINK: a->think = 1; break;
        case OPT_NO_THINK: a->no_think = 1; break;
        case OPT_THREADS: a->threads = opt_long(t, "--threads", optarg, 1, 1024); break;
        case OPT_SERVER: a->server.url = optarg; break;
        case OPT_API_KEY_ENV: a->keyenv = optarg; break;
        case OPT_CONCURRENCY:
            a->server.concurrency = (int)opt_long(t, "--concurrency", optarg, 1, 4096);
            break;
        case OPT_RETRIES: a->server.retries = (int)opt_long(t, "--retries", optarg, 0, 1000); break;
        case OPT_RETRY_WAIT:
            a->server.retry_wait = opt_double(t, "--retry-wait", optarg, 0, 3600);
            break;
        case OPT_TIMEOUT:
            a->server.timeout = opt_double(t, "--timeout", optarg, 0.001, 86400);
            break;
        default: tool_usage(t);
        }
    }
    if (!a->model && !a->render)
        tool_usage_error(t, a->server.url ? "-m NAME (the server's judge) is required"
                                          : "-m DIR is required");
    if (a->server.url && !a->judge)
        tool_usage_error(t, "--server is for --judge");
    if (a->adapter && (a->server.url || a->render))
        tool_usage_error(t, "--adapter is for a local model, not --server or --render");
    if (a->use16 && (a->server.url || a->render))
        tool_usage_error(t, "--dtype is for a local model, not --server or --render");
    if (!a->server.url && a->keyenv)
        tool_usage_error(t, "--api-key-env is for --judge --server");
    if (a->keyenv && !(a->server.api_key = getenv(a->keyenv)))
        tool_usage_error(t, "--api-key-env: '%s' is not set", a->keyenv);
    if (a->model && a->render)
        tool_usage_error(t, "--render reads no model: leave out -m");
    if (a->think && a->no_think)
        tool_usage_error(t, "give --think or --no-think, not both");
    if (a->all && a->ndomains)
        tool_usage_error(t, "give --domain or --all-domains, not both");
    if (!!a->norm_stats + !!a->norm + a->fit > 1)
        tool_usage_error(t, "give one of --norm-stats, --norm and --fit-norm");
    if (a->judge) {
        if (!a->template_path)
            tool_usage_error(t, "--judge needs --template FILE");
        if (a->norm_stats || a->norm || a->fit || a->with_ref || a->batch_tokens)
            tool_usage_error(t, "--norm-stats, --norm, --fit-norm, --with-reference and"
                             " --batch-tokens are for the scalar reward model, not --judge");
    } else {
        if (a->template_path || a->second || a->swap || a->scale || a->temperature >= 0
            || a->max_tokens || a->seed || a->nstops)
            tool_usage_error(t, "--template, --second, --swap, --scale, -T, -n, --seed and"
                             " --stop are for --judge");
    }
}

/* "MEAN,STD" -> nm; exits 2 when malformed. */
static void
parse_norm(struct tool *t, const char *arg, struct rm_norm *nm)
{
    const char *comma = strchr(arg, ',');
    char *mean;

    memset(nm, 0, sizeof(*nm));
    if (!comma)
        tool_usage_error(t, "--norm: '%s' is not MEAN,STD", arg);
    mean = xstrndup(arg, (size_t)(comma - arg));
    if (parse_double(mean, -1e30, 1e30, &nm->mean)
        || parse_double(comma + 1, 1e-30, 1e30, &nm->std)) {
        free(mean);
        tool_usage_error(t, "--norm: '%s' is not MEAN,STD with STD > 0", arg);
    }
    free(mean);
}

/*
 * Reads a --fit-norm file and checks it was made with this model.
 * Returns 0, or -1 with the message in msg.
 */
static int
read_norm(const char *path, const char *hash, int with_ref, struct rm_norm *nm,
          struct sbuf *msg)
{
    struct sbuf err = SBUF_INIT;
    size_t len;
    char *text = read_file("--norm-stats", path, &len);
    json_t *js = json_parse(text, len, &err);
    const char *sep = ": ";

    free(text);
    if (js && rm_norm_from_json(js, nm, &err) == 0) {
        sep = " ";
        if (nm->model[0] && strcmp(nm->model, hash) != 0)
            sbuf_addf(&err, "was fitted with the reward model %s, not this one (%s)",
                      nm->model, hash);
        else if (nm->with_reference != with_ref)
            sbuf_addf(&err, "was fitted %s --with-reference",
                      nm->with_reference ? "with" : "without");
    }
    json_decref(js);
    if (err.len > 0)
        sbuf_addf(msg, "--norm-stats: '%s'%s%s", path, sep, sbuf_str(&err));
    sbuf_release(&err);
    return msg->len > 0 ? -1 : 0;
}

/* Reads the template and fills o from the options. */
static void
judge_opts(struct tool *t, const struct cli *a, struct rm_template *tp,
           struct rm_judge_opts *o)
{
    struct sbuf err = SBUF_INIT;
    size_t len;
    char *text = read_file("--template", a->template_path, &len);

    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    if (rm_template_parse(tp, text, len, &err)) {
        free(text);
        warnx_("--template: '%s': %s", a->template_path, sbuf_str(&err));
        sbuf_release(&err);
        exit(1);
    }
    free(text);
    sbuf_release(&err);
    if (rm_template_pairwise(tp) && !a->second) {
        rm_template_release(tp);
        tool_usage_error(t, "the template '%s' compares two responses: give --second"
                         " FIELD", a->template_path);
    }
    if (!rm_template_pairwise(tp) && (a->second || a->swap)) {
        rm_template_release(tp);
        tool_usage_error(t, "--second and --swap need a template with {response_b}");
    }
    memset(o, 0, sizeof(*o));
    o->domains = (struct rm_domains){a->domains, a->ndomains, a->all};
    o->tpl = tp;
    o->kind = rm_template_pairwise(tp) ? RM_VERDICT_PAIR : RM_VERDICT_SCORE;
    o->scale = a->scale > 0 ? a->scale : 10;
    o->reference_field = a->ref_field;
    o->second = a->second;
    o->swap = a->swap;
    o->name = a->name;
    o->weight = a->weight;
    o->gen.G = 1;
    o->gen.sampler = (struct sampler_config)SAMPLER_CONFIG_INIT;
    o->gen.sampler.temperature = a->temperature < 0 ? 0 : (float)a->temperature;
    o->gen.max_tokens = a->max_tokens ? (int)a->max_tokens : 512;
    o->gen.seed = a->seed;
    o->gen.stops = a->stops;
    o->gen.nstops = a->nstops;
    o->gen.batch = a->batch ? (int)a->batch : 32;
    o->gen.threads = a->threads ? (int)a->threads : model_threads_env();
    if (!o->gen.threads)
        o->gen.threads = (int)PT_MAX(1, sysconf(_SC_NPROCESSORS_ONLN));
}

static void
summary(const struct tool *t, const struct cli *a, const struct rm_counts *cnt)
{
    if (t->quiet || !(t->tty || t->progress))
        return;
    if (a->judge)
        warnx_("%ld judged (%ld without verdict), %ld passed through", cnt->scored,
               cnt->no_verdict, cnt->passed);
    else
        warnx_("%ld scored, %ld passed through", cnt->scored, cnt->passed);
}

int
main(int argc, char **argv)
{
    struct tool t;
    struct cli a;
    struct rm_counts cnt;
    struct rm_judge_opts jo;
    struct rm_scalar_opts so;
    struct rm_template tp;
    struct rm_norm nm;
    struct rm_moments mo = {0};
    struct sbuf msg = SBUF_INIT;
    struct model *m = NULL;
    struct tok *tk = NULL;
    struct chat chat;
    char hash[17];
    int rc, have_chat = 0;

    memset(&a, 0, sizeof(a));
    memset(&tp, 0, sizeof(tp));
    memset(&nm, 0, sizeof(nm));
    a.weight = 1;
    a.temperature = -1;
    a.name = "rm";
    a.ref_field = "response";
    a.server.concurrency = 8;
    a.server.retries = 5;
    a.server.retry_wait = 1;
    a.server.timeout = 600;
    util_setprog(argv[0]);
    tool_init(&t, "score-rm", usage_text);
    parse_args(&t, &a, argc, argv);
    if (a.judge)
        judge_opts(&t, &a, &tp, &jo);
    if (a.norm)
        parse_norm(&t, a.norm, &nm);
    if (a.render) {
        tool_start(&t, argc - optind, argv + optind);
        rm_judge_render(&t, &jo, &cnt);
        rm_template_release(&tp);
        return tool_finish(&t);
    }
    if (a.server.url) {
        tool_start(&t, argc - optind, argv + optind);
        rm_judge_server_run(&t, &jo, &a.server, a.model, &cnt);
        summary(&t, &a, &cnt);
        rm_template_release(&tp);
        return tool_finish(&t);
    }

    /* from here on every error goes through fail, which frees first */
    /* a scalar adapter (update --rm --lora) sits on a causal LM's body */
    m = lm_load(a.model, a.adapter && !a.judge ? CKPT_AS_SEQ_CLS : 0, &msg);
    if (!m || lm_adapter(m, a.adapter, &msg) < 0)
        goto fail;
    if (a.use16)
        model_use_bf16(m, KERN16_AUTO, 0);
    if (a.judge && m->cfg.arch != MODEL_CAUSAL_LM) {
        sbuf_addf(&msg, "'%s': a scalar reward model cannot write a verdict; --judge"
                  " needs a causal LM", a.model);
        goto fail;
    }
    if (!a.judge && m->cfg.arch != MODEL_SEQ_CLS) {
        sbuf_addf(&msg, "'%s': not a reward model (no score head): train one with update"
                  " --rm, or use --judge", a.model);
        goto fail;
    }
    if (lm_chat_open(a.model, m, a.format,
                     (a.think ? CHAT_THINK : 0) | (a.no_think ? CHAT_NO_THINK : 0), &tk,
                     &chat, &msg) < 0)
        goto fail;
    have_chat = 1;
    ckpt_hash(m, hash);
    if (a.norm_stats && read_norm(a.norm_stats, hash, a.with_ref, &nm, &msg))
        goto fail;

    if (a.judge) {
        tool_start(&t, argc - optind, argv + optind);
        rm_judge_run(&t, m, tk, &chat, &jo, &cnt);
    } else {
        if (a.threads)
            model_set_threads((int)a.threads);
        else if (model_threads_env() > 0)
            model_set_threads(model_threads_env());
        memset(&so, 0, sizeof(so));
        so.domains = (struct rm_domains){a.domains, a.ndomains, a.all};
        so.with_reference = a.with_ref;
        so.reference_field = a.ref_field;
        so.name = a.name;
        so.weight = a.weight;
        so.norm = a.norm || a.norm_stats ? &nm : NULL;
        so.batch = a.batch ? (size_t)a.batch : 16;
        so.batch_tokens = a.batch_tokens ? (size_t)a.batch_tokens : 8192;
        so.fit = a.fit;
        tool_start(&t, argc - optind, argv + optind);
        rm_scalar_run(&t, m, &chat, &so, &cnt, &mo);
        if (a.fit) {
            const char *why;
            json_t *js;
            if (rm_norm_from_moments(&mo, &nm, &why)) {
                sbuf_addf(&msg, "--fit-norm: %s (%ld scored)", why, mo.n);
                rout_abort(t.out);
                t.out = NULL;
                tool_finish(&t);
                goto fail;
            }
            memcpy(nm.model, hash, sizeof(hash));
            nm.with_reference = a.with_ref;
            js = rm_norm_to_json(&nm);
            tool_write(&t, js);
            json_decref(js);
        }
    }
    summary(&t, &a, &cnt);
    rc = tool_finish(&t);
    goto out;
fail:
    warnx_("%s", sbuf_str(&msg));
    rc = 1;
out:
    rm_template_release(&tp);
    sbuf_release(&msg);
    if (have_chat)
        chat_release(&chat);
    tok_free(tk);
    lm_free(m);
    return rc;
}
