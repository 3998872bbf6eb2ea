/*
 * score-rm - model-based rewards: a scalar-head reward model (trained by
 * update --rm), or a judge that writes a rationale and then a verdict.
 * Options and checkpoints are here; the loops are lib/rm_stream.c and the
 * rules lib/rm.c.  See score-rm(1).
 */
#include <errno.h>
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
    "\n";

#define MAX_DOMAINS 64

struct cli {
    struct tool_model mo;   /* -m, --adapter, --dtype, -f, --think, --stop, --seed, --threads */
    const char *norm_stats, *norm, *template_path;
    const char *domains[MAX_DOMAINS];
    int ndomains, all, fit, judge, render, with_ref, swap;
    long batch, batch_tokens, max_tokens;
    double weight, scale, temperature;
    const char *name, *ref_field, *second;
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

/* --domain NAME, repeatable. */
static int
cb_domain(void *v, const char *arg, struct sbuf *why)
{
    struct cli *a = v;

    if (a->ndomains == MAX_DOMAINS) {
        sbuf_addf(why, "more than %d domains", MAX_DOMAINS);
        return -1;
    }
    a->domains[a->ndomains++] = arg;
    return 0;
}

/* --name NAME: a field name, no dots. */
static int
cb_name(void *v, const char *arg, struct sbuf *why)
{
    (void)why;
    if (!*arg || strchr(arg, '.'))
        return -1;
    *(const char **)v = arg;
    return 0;
}

static void
parse_args(struct tool *t, struct cli *a, int argc, char **argv, int *argi)
{
    struct tool_model *mo = &a->mo;
    const struct opt opts[] = {
        TOOL_MODEL_DIR(mo, "the reward model (scalar) or the judge (--judge)"),
        TOOL_MODEL_ADAPTER(mo, "with the LoRA adapter in DIR (PEFT's layout; scalar:\n"
                               "one update --rm --lora trained, with its score head)"),
        TOOL_MODEL_DTYPE(mo),
        OPT_CALL(0, "domain", a, "NAME", cb_domain, NULL,
                 "score records of this domain (repeatable; default:\n"
                 "every domain but math and code)"),
        OPT_BOOL(0, "all-domains", &a->all, "score every record, with or without a domain"),
        OPT_DOUBLE(0, "weight", &a->weight, "W", -1e9, 1e9, "multiply the reward by W (default 1)"),
        OPT_CALL(0, "name", &a->name, "NAME", cb_name, "a field name",
                 "write rewards.NAME (default rm)"),
        OPT_STRING(0, "reference-field", &a->ref_field, "NAME",
                   "the reference answer's field (default response)"),
        OPT_BOOL(0, "with-reference", &a->with_ref,
                 "scalar: the reference follows the prompt in the text"),
        OPT_STRING(0, "norm-stats", &a->norm_stats, "FILE",
                   "scalar: normalize with the statistics in FILE"),
        OPT_STRING(0, "norm", &a->norm, "MEAN,STD", "scalar: normalize with these statistics"),
        OPT_BOOL(0, "fit-norm", &a->fit, "scalar: write the statistics of the input's scores"),
        OPT_LONG(0, "batch", &a->batch, "N", 1, 65536,
                 "scalar: samples per forward (default 16); judge:\n"
                 "sequences decoded together (default 32)"),
        OPT_LONG(0, "batch-tokens", &a->batch_tokens, "N", 1, 1L << 30,
                 "scalar: tokens per forward at most (default 8192)"),
        OPT_BOOL(0, "judge", &a->judge, "judge mode: generate a rationale and a verdict"),
        OPT_STRING(0, "template", &a->template_path, "FILE", "judge: the prompt template"),
        OPT_BOOL(0, "render", &a->render,
                 "add judge_prompt, the rendered template, and judge\n"
                 "nothing (no -m)"),
        OPT_STRING(0, "second", &a->second, "FIELD",
                   "judge: the other response of a pairwise template"),
        OPT_BOOL(0, "swap", &a->swap, "judge: the completion is response B, not A"),
        OPT_DOUBLE(0, "scale", &a->scale, "N", 1e-9, 1e9,
                   "judge: a score verdict without /N is out of N\n"
                   "(default 10)"),
        OPT_DOUBLE('T', "temperature", &a->temperature, "X", 0, 1000,
                   "judge: sampling temperature (default 0: greedy)"),
        OPT_LONG('n', "max-tokens", &a->max_tokens, "N", 1, INT_MAX,
                 "judge: tokens of rationale and verdict (default 512)"),
        TOOL_MODEL_SEED(mo),
        TOOL_MODEL_STOP(mo),
        TOOL_MODEL_FORMAT(mo),
        TOOL_MODEL_THINK(mo),
        TOOL_MODEL_THREADS(mo),
        OPT_STRING(0, "server", &a->server.url, "URL",
                   "judge: an OpenAI-compatible server's base URL; -m\n"
                   "then names its model"),
        OPT_STRING(0, "api-key-env", &a->keyenv, "VAR",
                   "judge: the server's API key is in variable VAR"),
        OPT_INT(0, "concurrency", &a->server.concurrency, "N", 1, 4096,
                "judge: requests in flight (default 8)"),
        OPT_INT(0, "retries", &a->server.retries, "N", 0, 1000,
                "judge: retries of a failed request (default 5)"),
        OPT_DOUBLE(0, "retry-wait", &a->server.retry_wait, "X", 0, 3600,
                   "judge: seconds before the first retry (default 1)"),
        OPT_DOUBLE(0, "timeout", &a->server.timeout, "X", 0.001, 86400,
                   "judge: seconds per request (default 600)"),
        OPT_END(),
    };

    *argi = tool_parse(t, opts, argc, argv);
    tool_model_check(t, mo);
    a->judge |= a->render;
    if (!mo->lm.dir && !a->render)
        tool_usage_error(t, a->server.url ? "-m NAME (the server's judge) is required"
                                          : "-m DIR is required");
    if (a->server.url && !a->judge)
        tool_usage_error(t, "--server is for --judge");
    if (mo->lm.adapter && (a->server.url || a->render))
        tool_usage_error(t, "--adapter is for a local model, not --server or --render");
    if (mo->lm.bf16 && (a->server.url || a->render))
        tool_usage_error(t, "--dtype is for a local model, not --server or --render");
    if (!a->server.url && a->keyenv)
        tool_usage_error(t, "--api-key-env is for --judge --server");
    if (a->keyenv && !(a->server.api_key = getenv(a->keyenv)))
        tool_usage_error(t, "--api-key-env: '%s' is not set", a->keyenv);
    if (mo->lm.dir && a->render)
        tool_usage_error(t, "--render reads no model: leave out -m");
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
            || a->max_tokens || mo->seed || mo->nstops)
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
    o->gen.seed = a->mo.seed;
    o->gen.stops = a->mo.stops;
    o->gen.nstops = a->mo.nstops;
    o->gen.batch = a->batch ? (int)a->batch : 32;
    o->gen.threads = tool_model_threads(&a->mo);
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
    struct rm_moments mom = {0};
    struct sbuf msg = SBUF_INIT;
    struct lm lm = {0};
    char hash[17];
    int rc, argi;

    memset(&a, 0, sizeof(a));
    tool_model_init(&a.mo);
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
    tool_init(&t, "score-rm", usage_text);
    parse_args(&t, &a, argc, argv, &argi);
    if (a.judge)
        judge_opts(&t, &a, &tp, &jo);
    if (a.norm)
        parse_norm(&t, a.norm, &nm);
    if (a.render) {
        tool_start(&t, argc - argi, argv + argi);
        rm_judge_render(&t, &jo, &cnt);
        rm_template_release(&tp);
        return tool_finish(&t);
    }
    if (a.server.url) {
        tool_start(&t, argc - argi, argv + argi);
        rm_judge_server_run(&t, &jo, &a.server, a.mo.lm.dir, &cnt);
        summary(&t, &a, &cnt);
        rm_template_release(&tp);
        return tool_finish(&t);
    }

    /* from here on every error goes through fail, which frees first */
    /* a scalar adapter (update --rm --lora) sits on a causal LM's body */
    a.mo.lm.ckpt_flags = a.mo.lm.adapter && !a.judge ? CKPT_AS_SEQ_CLS : 0;
    a.mo.lm.arch = a.judge ? MODEL_CAUSAL_LM : MODEL_SEQ_CLS;
    a.mo.lm.arch_error = a.judge ? "a scalar reward model cannot write a verdict; --judge"
                                   " needs a causal LM"
                                 : "not a reward model (no score head): train one with"
                                   " update --rm, or use --judge";
    if (lm_open(&lm, &a.mo.lm, &msg) < 0)
        goto fail;
    ckpt_hash(lm.m, hash);
    if (a.norm_stats && read_norm(a.norm_stats, hash, a.with_ref, &nm, &msg))
        goto fail;

    if (a.judge) {
        tool_start(&t, argc - argi, argv + argi);
        rm_judge_run(&t, lm.m, lm.tk, &lm.chat, &jo, &cnt);
    } else {
        if (a.mo.threads)
            model_set_threads(a.mo.threads);
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
        tool_start(&t, argc - argi, argv + argi);
        rm_scalar_run(&t, lm.m, &lm.chat, &so, &cnt, &mom);
        if (a.fit) {
            const char *why;
            json_t *js;
            if (rm_norm_from_moments(&mom, &nm, &why)) {
                sbuf_addf(&msg, "--fit-norm: %s (%ld scored)", why, mom.n);
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
    lm_close(&lm);
    return rc;
}
