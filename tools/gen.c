/*
 * gen - G sampled completions per prompt record, as sample records (see
 * gen(1)).  Reading records, rendering prompts and writing samples is
 * here; decoding is lib/gen.c, lib/infer.c and lib/sampler.c.
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
#include "gen.h"
#include "json.h"
#include "oaigen.h"
#include "sample.h"
#include "tok.h"
#include "tool.h"

static const char usage_text[] =
    "usage: gen -m DIR [-G N] [-T X] [--top-k N] [--top-p X] [--min-p X] [-n N]\n"
    "           [--stop STRING]... [--system FILE] [--think | --no-think] [-f FORMAT]\n"
    "           [--seed N] [--threads N] [--batch N] [--routes] [options] [FILE ...]\n"
    "       gen --server URL -m NAME [--api-key-env VAR] [--endpoint chat|completions]\n"
    "           [--concurrency N] [--retries N] [--retry-wait X] [--timeout X]\n"
    "           [--logprobs] [--token-ids] [--send-id] [-o FILE --resume] [FILE ...]\n"
    "Samples G completions per prompt record and writes them as sample records.\n";

struct run {
    struct tool *t;
    struct chat *chat;
    const struct model *m;
    struct gen *gen;
    const char *system;         /* --system text, or NULL */
    const char *prefix;         /* text the assistant turn opened with */
    char policy[17];
    long policy_step;           /* the checkpoint's global_step (0: none) */
    struct sample_sampling sampling; /* written into every sample */
    struct tok_ids ids;         /* scratch */
    struct sample_conv conv;    /* the conversation of a record */
    struct sbuf num;
    /* ids seen (an id is a group): open addressing on a 64-bit hash */
    struct seen { uint64_t h; long line; } *seen;
    size_t nseen, cap;
};

/*
 * Adds id (first seen on line); returns 0, or the line of its earlier
 * record when it was seen before.
 */
static long
seen_add(struct run *run, const char *id, long line)
{
    uint64_t h = hash64(id, strlen(id), 0x6964ULL) | 1;
    size_t i, j;

    if (2 * (run->nseen + 1) > run->cap) {
        struct seen *old = run->seen;
        size_t ocap = run->cap;
        run->cap = ocap ? 2 * ocap : 1024;
        run->seen = xcalloc(run->cap, sizeof(*run->seen));
        for (j = 0; j < ocap; j++)
            if (old[j].h) {
                for (i = old[j].h & (run->cap - 1); run->seen[i].h; i = (i + 1) & (run->cap - 1))
                    ;
                run->seen[i] = old[j];
            }
        free(old);
    }
    for (i = h & (run->cap - 1); run->seen[i].h; i = (i + 1) & (run->cap - 1))
        if (run->seen[i].h == h)
            return run->seen[i].line;
    run->seen[i].h = h;
    run->seen[i].line = line;
    run->nseen++;
    return 0;
}

/* Reads FILE whole, without its trailing newlines; new. */
static char *
read_text(const char *path)
{
    struct sbuf sb = SBUF_INIT;
    FILE *f = fopen(path, "rb");
    char buf[65536];
    size_t k;

    if (!f)
        die_errno("--system: '%s'", path);
    while ((k = fread(buf, 1, sizeof(buf), f)) > 0)
        sbuf_add(&sb, buf, k);
    if (ferror(f))
        die_errno("--system: '%s'", path);
    fclose(f);
    while (sb.len > 0 && (sb.buf[sb.len - 1] == '\n' || sb.buf[sb.len - 1] == '\r'))
        sb.len--;
    sbuf_str(&sb);
    sb.buf[sb.len] = '\0';
    return sb.buf;
}

/* The next prompt record that renders, or 0 at the end. */
static int
next_prompt(void *ctx, struct gen_prompt *p)
{
    struct run *run = ctx;
    struct tool *t = run->t;
    json_t *rec;

    while ((rec = tool_next(t)) != NULL) {
        const char *id, *prompt, *system, *why;
        size_t nturns;

        if (rec_get_str(rec, "id", &id, &why) != 0) {
            tool_reject(t, rec, "id", "%s", why);
            goto skip;
        }
        if (sample_prompt_get(&run->conv, rec, run->system, &prompt, &system, &nturns,
                              &why) < 0) {
            tool_reject(t, rec, sbuf_str(&run->conv.field), "%s", why);
            goto skip;
        }
        run->ids.n = 0;
        if (!prompt) {
            chat_conv(run->chat, run->conv.m, nturns, 1, &run->ids, NULL);
            goto rendered;
        }
        chat_prompt(run->chat, system, prompt, &run->ids);
        /* The sample says what it was sampled under (R1's type B data). */
        if (run->system)
            json_object_set_new(rec, "system", json_string(run->system));
rendered:
        if (run->ids.n >= (size_t)run->m->cfg.max_pos) {
            tool_reject(t, rec, json_object_get(rec, "messages") ? "messages" : "prompt",
                        "%zu tokens in the chat format, the model's context is %d",
                        run->ids.n, run->m->cfg.max_pos);
            goto skip;
        }
        {
            long first = seen_add(run, id, tool_line(t));
            if (first) {
                tool_reject(t, rec, "id", "'%s' is also the id of line %ld "
                            "(ids must be unique: each names a group)", id, first);
                goto skip;
            }
        }
        p->user = rec;
        p->id = id;
        p->idlen = json_string_length(json_object_get(rec, "id"));
        p->ids = run->ids.v;
        p->n = (int)run->ids.n;
        return 1;
skip:
        json_decref(rec);
    }
    return 0;
}

static json_t *
int_array(const int *v, int n)
{
    json_t *a = json_array();
    int i;

    for (i = 0; i < n; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

static void
emit_samples(void *ctx, const struct gen_prompt *p, const struct gen_sample *s, int G)
{
    struct run *run = ctx;
    json_t *rec = p->user;
    struct gen_stats st;
    int k, i;

    for (k = 0; k < G; k++) {
        json_t *o = json_copy(rec), *lp = json_array(), *text;
        sbuf_reset(&run->num);
        sbuf_adds(&run->num, run->prefix);
        sbuf_add(&run->num, s[k].text, s[k].len);
        text = json_stringn(run->num.buf, run->num.len);
        if (!text)
            die("a completion is not valid UTF-8");
        for (i = 0; i < s[k].n; i++)
            json_array_append_new(lp, json_float(s[k].logprobs[i]));
        json_object_set(o, "group", json_object_get(rec, "id"));
        json_object_set_new(o, "k", json_integer(s[k].k));
        json_object_set_new(o, "completion", text);
        json_object_set_new(o, "finish", json_string(s[k].finish));
        json_object_set_new(o, "prompt_ids", int_array(p->ids, p->n));
        json_object_set_new(o, "completion_ids", int_array(s[k].ids, s[k].n));
        json_object_set_new(o, "logprobs", lp);
        if (s[k].routes)
            json_object_set_new(o, "routes",
                                sample_routes_new(s[k].routes, (size_t)s[k].n, &run->m->cfg));
        json_object_set_new(o, "policy", json_string(run->policy));
        if (run->m)
            json_object_set_new(o, "policy_step", json_integer(run->policy_step));
        sample_sampling_set(o, &run->sampling);
        tool_write(run->t, o);
        json_decref(o);
    }
    json_decref(rec);
    gen_get_stats(run->gen, &st);
    tool_progress(run->t, "%ld prompts, %.1f samples/s, %.0f tokens/s", st.prompts,
                  st.samples / st.seconds, st.tokens / st.seconds);
}

static const struct opt_choice endpoints[] = {
    {"chat", OAI_CHAT}, {"completions", OAI_COMPLETIONS}, {NULL, 0}};

int
main(int argc, char **argv)
{
    struct tool t;
    struct tool_model mo;
    struct gen_config cfg;
    struct run run;
    const char *system_file = NULL, *why;
    int argi, rc, min_p_set = 0, batch_set = 0;
    struct sbuf err = SBUF_INIT;
    struct lm lm;
    struct oaigen_config oc;
    const char *keyenv = NULL;
    int resume = 0, local_only, top_k_set = 0, endpoint = OAI_CHAT;

    memset(&oc, 0, sizeof(oc));
    oc.client.concurrency = 8;
    oc.client.retries = 5;
    oc.client.retry_wait = 1;
    oc.client.timeout = 600;
    oc.params.ep = OAI_CHAT;
    memset(&cfg, 0, sizeof(cfg));
    memset(&run, 0, sizeof(run));
    cfg.G = 1;
    cfg.sampler = (struct sampler_config)SAMPLER_CONFIG_INIT;
    cfg.max_tokens = 256;
    cfg.batch = 32;
    tool_init(&t, "gen", usage_text);
    tool_model_init(&mo);
    {
        const struct opt opts[] = {
            TOOL_MODEL_DIR(&mo, "the checkpoint (config.json, model.safetensors,\n"
                                "tokenizer.json or the built-in tokenizer)"),
            TOOL_MODEL_ADAPTER(&mo, "run with the LoRA adapter in DIR (PEFT's layout)"),
            TOOL_MODEL_DTYPE(&mo),
            OPT_INT('G', "samples", &cfg.G, "N", 1, 65536,
                    "completions per prompt (default 1)"),
            OPT_FLOAT('T', "temperature", &cfg.sampler.temperature, "X", 0, 1000,
                      "softmax temperature; 0 is greedy (default 1)"),
            {.type = OPT_T_INT, .long_name = "top-k", .value = &cfg.sampler.top_k,
             .argname = "N", .min = 0, .max = INT_MAX, .given = &top_k_set,
             .help = "sample among the N most likely tokens (default 0: all)"},
            {.type = OPT_T_FLOAT, .long_name = "top-p", .value = &cfg.sampler.top_p,
             .argname = "X", .fmin = 0, .fmax = 1, .flags = OPT_OPEN_MIN, .what = "in (0, 1]",
             .help = "nucleus sampling: smallest set of mass X (default 1: all)"},
            {.type = OPT_T_FLOAT, .long_name = "min-p", .value = &cfg.sampler.min_p,
             .argname = "X", .fmin = 0, .fmax = 1, .given = &min_p_set,
             .help = "drop tokens below X times the top probability (default 0)"},
            OPT_INT('n', "max-tokens", &cfg.max_tokens, "N", 1, INT_MAX,
                    "tokens per completion at most (default 256)"),
            TOOL_MODEL_STOP(&mo),
            OPT_STRING(0, "system", &system_file, "FILE",
                       "system prompt from FILE, replacing the records' own"),
            TOOL_MODEL_THINK(&mo),
            TOOL_MODEL_FORMAT(&mo),
            TOOL_MODEL_SEED(&mo),
            TOOL_MODEL_THREADS(&mo),
            {.type = OPT_T_INT, .long_name = "batch", .value = &cfg.batch, .argname = "N",
             .min = 1, .max = 65536, .given = &batch_set,
             .help = "sequences decoded together (default 32)"},
            OPT_STRING(0, "server", &oc.client.url, "URL",
                       "ask an OpenAI-compatible server (base URL, e.g.\n"
                       "http://127.0.0.1:8000/v1); -m then names its model"),
            OPT_STRING(0, "api-key-env", &keyenv, "VAR",
                       "the server's API key is in environment variable VAR"),
            OPT_CHOICE(0, "endpoint", &endpoint, "NAME", endpoints,
                       "chat (default: /chat/completions) or completions"),
            OPT_INT(0, "concurrency", &oc.client.concurrency, "N", 1, 4096,
                    "requests in flight (default 8)"),
            OPT_INT(0, "retries", &oc.client.retries, "N", 0, 1000,
                    "retries of a failed request (default 5)"),
            OPT_DOUBLE(0, "retry-wait", &oc.client.retry_wait, "X", 0, 3600,
                       "seconds before the first retry, doubled after (default 1)"),
            OPT_DOUBLE(0, "timeout", &oc.client.timeout, "X", 0.001, 86400,
                       "seconds per request (default 600)"),
            OPT_BOOL(0, "logprobs", &oc.params.logprobs,
                     "ask for the log-probabilities of the tokens"),
            OPT_BOOL(0, "token-ids", &oc.params.token_ids,
                     "ask for token ids (vLLM's and serve's return_token_ids)"),
            OPT_BOOL(0, "send-id", &oc.params.send_user,
                     "send each record's id as the request's user (serve\n"
                     "then samples what gen -m samples)"),
            OPT_BOOL(0, "resume", &resume,
                     "with -o FILE: keep FILE's whole groups, ask for the rest"),
            OPT_BOOL(0, "routes", &cfg.routes,
                     "write each completion token's experts per sparse layer\n"
                     "(routes, for logp and update --replay-routes)"),
            OPT_END(),
        };
        argi = tool_parse(&t, opts, argc, argv);
    }
    oc.params.ep = (enum oai_endpoint)endpoint;
    cfg.seed = mo.seed;
    cfg.stops = mo.stops;
    cfg.nstops = mo.nstops;
    oc.params.has_seed = mo.seed_given;
    local_only = mo.lm.adapter || mo.dtype_given || min_p_set || mo.think || mo.no_think
                 || mo.format_given || mo.threads || batch_set;
    if (!mo.lm.dir)
        tool_usage_error(&t, oc.client.url ? "-m NAME (the server's model) is required"
                                           : "-m DIR is required");
    if (oc.client.url) {
        if (cfg.routes)
            tool_usage_error(&t, "--routes is for a local checkpoint, not --server");
        if (local_only)
            tool_usage_error(&t, "--min-p, --think, --no-think, -f, --threads, --batch,"
                             " --adapter and --dtype are for a local checkpoint, not"
                             " --server");
        if (keyenv && !(oc.client.api_key = getenv(keyenv)))
            tool_usage_error(&t, "--api-key-env: '%s' is not set", keyenv);
        if (resume) {
            oaigen_check_resume(&t, t.output);
            oc.resume = t.output;
            t.output = NULL;
        }
        oc.params.model = mo.lm.dir;
        oc.params.n = cfg.G;
        oc.params.temperature = cfg.sampler.temperature;
        oc.params.top_p = cfg.sampler.top_p;
        oc.params.top_k = top_k_set ? cfg.sampler.top_k : -1;
        oc.params.max_tokens = cfg.max_tokens;
        oc.params.seed = cfg.seed;
        oc.params.stops = mo.stops;
        oc.params.nstops = mo.nstops;
        oc.system = system_file ? read_text(system_file) : NULL;
        if (oc.resume)
            tool_start_noout(&t, argc - argi, argv + argi);
        else
            tool_start(&t, argc - argi, argv + argi);
        oaigen_run(&t, &oc);
        free((char *)oc.system);
        return tool_finish(&t);
    }
    if (keyenv || resume || oc.params.logprobs || oc.params.token_ids || oc.params.send_user)
        tool_usage_error(&t, "--api-key-env, --resume, --logprobs, --token-ids and --send-id"
                         " are for --server");
    tool_model_check(&t, &mo);
    if (sampler_config_check(&cfg.sampler, &why))
        tool_usage_error(&t, "%s", why);
    cfg.threads = tool_model_threads(&mo);

    mo.lm.arch = MODEL_CAUSAL_LM;
    mo.lm.arch_error = "a reward model has no language-model head to sample from";
    if (lm_open(&lm, &mo.lm, &err) < 0)
        die("%s", sbuf_str(&err));
    if (cfg.routes && model_route_width(&lm.m->cfg) == 0)
        die("'%s': --routes: the model has no mixture-of-experts layers", mo.lm.dir);
    run.t = &t;
    run.chat = &lm.chat;
    run.m = lm.m;
    run.prefix = (lm.chat.flags & CHAT_THINK) ? "<think>\n" : "";
    run.system = system_file ? read_text(system_file) : NULL;
    ckpt_hash(lm.m, run.policy);
    run.policy_step = ckpt_state_step(mo.lm.dir);  /* for advantage(1)'s staleness bound */
    sample_sampling_of(&run.sampling, &cfg.sampler);

    tool_start(&t, argc - argi, argv + argi);
    run.gen = gen_new(lm.m, lm.tk, &lm.chat, &cfg);
    gen_run(run.gen, next_prompt, emit_samples, &run);
    gen_free(run.gen);
    rc = tool_finish(&t);
    free((char *)run.system);
    sample_conv_release(&run.conv);
    tok_ids_release(&run.ids);
    sbuf_release(&run.num);
    free(run.seen);
    sbuf_release(&err);
    lm_close(&lm);
    return rc;
}
