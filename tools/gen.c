/*
 * gen - G sampled completions per prompt record, as sample records (see
 * gen(1)).  Reading records, rendering prompts and writing samples is
 * here; decoding is lib/gen.c, lib/infer.c and lib/sampler.c.
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
#include "gen.h"
#include "json.h"
#include "oaigen.h"
#include "sample.h"
#include "tok.h"
#include "tool.h"
#include "w16.h"

static const char usage_text[] =
    "usage: gen -m DIR [-G N] [-T X] [--top-k N] [--top-p X] [--min-p X] [-n N]\n"
    "           [--stop STRING]... [--system FILE] [--think | --no-think] [-f FORMAT]\n"
    "           [--seed N] [--threads N] [--batch N] [--routes] [options] [FILE ...]\n"
    "       gen --server URL -m NAME [--api-key-env VAR] [--endpoint chat|completions]\n"
    "           [--concurrency N] [--retries N] [--retry-wait X] [--timeout X]\n"
    "           [--logprobs] [--token-ids] [--send-id] [-o FILE --resume] [FILE ...]\n"
    "Samples G completions per prompt record and writes them as sample records.\n"
    "  -m, --model DIR       the checkpoint (config.json, model.safetensors,\n"
    "                        tokenizer.json or the built-in tokenizer)\n"
    "      --adapter DIR     run with the LoRA adapter in DIR (PEFT's layout)\n"
    "      --dtype NAME      products in f32 (default) or bf16: bf16 copies of the\n"
    "                        weights, fp32 accumulation (posttrain-checkpoint(5))\n"
    "  -G, --samples N       completions per prompt (default 1)\n"
    "  -T, --temperature X   softmax temperature; 0 is greedy (default 1)\n"
    "      --top-k N         sample among the N most likely tokens (default 0: all)\n"
    "      --top-p X         nucleus sampling: smallest set of mass X (default 1: all)\n"
    "      --min-p X         drop tokens below X times the top probability (default 0)\n"
    "  -n, --max-tokens N    tokens per completion at most (default 256)\n"
    "      --stop STRING     end a completion at STRING, kept in the text (repeatable)\n"
    "      --system FILE     system prompt from FILE, replacing the records' own\n"
    "      --think           open the assistant turn with <think>\\n (kept in the\n"
    "                        completion text)\n"
    "      --no-think        never, even when the chat template does\n"
    "  -f, --format NAME     chat format: auto, builtin, deepseek3, chatml, qwen3,\n"
    "                        llama3, llama3.1, text\n"
    "      --seed N          seed of the sampling streams (default 0)\n"
    "      --threads N       threads (default: POSTTRAIN_THREADS, else all CPUs)\n"
    "      --batch N         sequences decoded together (default 32)\n"
    "      --routes          write each completion token's experts per sparse layer\n"
    "                        (routes, for logp and update --replay-routes)\n"
    "      --server URL      ask an OpenAI-compatible server (base URL, e.g.\n"
    "                        http://127.0.0.1:8000/v1); -m then names its model\n"
    "      --api-key-env VAR the server's API key is in environment variable VAR\n"
    "      --endpoint NAME   chat (default: /chat/completions) or completions\n"
    "      --concurrency N   requests in flight (default 8)\n"
    "      --retries N       retries of a failed request (default 5)\n"
    "      --retry-wait X    seconds before the first retry, doubled after (default 1)\n"
    "      --timeout X       seconds per request (default 600)\n"
    "      --logprobs        ask for the log-probabilities of the tokens\n"
    "      --token-ids       ask for token ids (vLLM's and serve's return_token_ids)\n"
    "      --send-id         send each record's id as the request's user (serve\n"
    "                        then samples what gen -m samples)\n"
    "      --resume          with -o FILE: keep FILE's whole groups, ask for the rest\n"
    TOOL_USAGE_COMMON;

enum {
    OPT_TOP_K = TOOL_OPT_FIRST_FREE,
    OPT_TOP_P,
    OPT_MIN_P,
    OPT_STOP,
    OPT_SYSTEM,
    OPT_THINK,
    OPT_NO_THINK,
    OPT_SEED,
    OPT_THREADS,
    OPT_BATCH,
    OPT_SERVER,
    OPT_API_KEY_ENV,
    OPT_ENDPOINT,
    OPT_CONCURRENCY,
    OPT_RETRIES,
    OPT_RETRY_WAIT,
    OPT_TIMEOUT,
    OPT_LOGPROBS,
    OPT_TOKEN_IDS,
    OPT_SEND_ID,
    OPT_RESUME,
    OPT_ADAPTER,
    OPT_DTYPE,
    OPT_ROUTES,
};

#define MAX_STOPS 32

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

/* Strict numbers: exits 2 naming the option when out of range. */
static long
opt_long(struct tool *t, const char *name, const char *arg, long lo, long hi)
{
    long v;

    if (parse_long(arg, lo, hi, &v))
        tool_usage_error(t, "%s: '%s' is not an integer in [%ld, %ld]", name, arg, lo, hi);
    return v;
}

static float
opt_float(struct tool *t, const char *name, const char *arg, double lo, double hi)
{
    double v;

    if (parse_double(arg, lo, hi, &v))
        tool_usage_error(t, "%s: '%s' is not a number in [%g, %g]", name, arg, lo, hi);
    return (float)v;
}

/*
 * The global step of the checkpoint in dir (its trainer_state.json, as
 * update(1) writes it), or 0 when it has none: the policy version of
 * the samples, which a staleness bound compares (advantage(1)).
 */
static long
policy_step(const char *dir)
{
    char path[4096];
    json_t *js, *v;
    long step = 0;

    snprintf(path, sizeof(path), "%s/trainer_state.json", dir);
    js = json_load_file(path, 0, NULL);
    v = js ? json_object_get(js, "global_step") : NULL;
    if (json_is_integer(v))
        step = (long)json_integer_value(v);
    json_decref(js);
    return step;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        TOOL_LONGOPTS,
        {"model", required_argument, NULL, 'm'},
        {"adapter", required_argument, NULL, OPT_ADAPTER},
        {"dtype", required_argument, NULL, OPT_DTYPE},
        {"samples", required_argument, NULL, 'G'},
        {"temperature", required_argument, NULL, 'T'},
        {"top-k", required_argument, NULL, OPT_TOP_K},
        {"top-p", required_argument, NULL, OPT_TOP_P},
        {"min-p", required_argument, NULL, OPT_MIN_P},
        {"max-tokens", required_argument, NULL, 'n'},
        {"stop", required_argument, NULL, OPT_STOP},
        {"system", required_argument, NULL, OPT_SYSTEM},
        {"think", no_argument, NULL, OPT_THINK},
        {"no-think", no_argument, NULL, OPT_NO_THINK},
        {"format", required_argument, NULL, 'f'},
        {"seed", required_argument, NULL, OPT_SEED},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"server", required_argument, NULL, OPT_SERVER},
        {"api-key-env", required_argument, NULL, OPT_API_KEY_ENV},
        {"endpoint", required_argument, NULL, OPT_ENDPOINT},
        {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
        {"retries", required_argument, NULL, OPT_RETRIES},
        {"retry-wait", required_argument, NULL, OPT_RETRY_WAIT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"logprobs", no_argument, NULL, OPT_LOGPROBS},
        {"token-ids", no_argument, NULL, OPT_TOKEN_IDS},
        {"send-id", no_argument, NULL, OPT_SEND_ID},
        {"resume", no_argument, NULL, OPT_RESUME},
        {"routes", no_argument, NULL, OPT_ROUTES},
        {NULL, 0, NULL, 0},
    };
    struct tool t;
    struct gen_config cfg;
    struct run run;
    const char *model = NULL, *adapter = NULL, *system_file = NULL, *stops[MAX_STOPS], *why;
    enum chat_format format = CHAT_AUTO;
    unsigned flags = 0;
    int c, think = 0, no_think = 0, rc;
    struct sbuf err = SBUF_INIT;
    struct model *m;
    struct tok *tk;
    struct chat chat;
    struct oaigen_config oc;
    const char *keyenv = NULL;
    int resume = 0, local_only = 0, top_k_set = 0, use16 = 0;

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
    cfg.stops = stops;
    tool_init(&t, "gen", usage_text);
    while ((c = getopt_long(argc, argv, TOOL_SHORTOPTS "m:G:T:n:f:", longopts, NULL)) != -1) {
        if (tool_opt(&t, c, optarg))
            continue;
        switch (c) {
        case 'm': model = optarg; break;
        case OPT_ADAPTER: adapter = optarg; local_only = 1; break;
        case OPT_DTYPE:
            if ((use16 = w16_parse_dtype(optarg)) < 0)
                tool_usage_error(&t, "--dtype: '%s' is not f32 or bf16", optarg);
            local_only = 1;
            break;
        case 'G': cfg.G = (int)opt_long(&t, "-G", optarg, 1, 65536); break;
        case 'T': cfg.sampler.temperature = opt_float(&t, "-T", optarg, 0, 1000); break;
        case OPT_TOP_K:
            cfg.sampler.top_k = (int)opt_long(&t, "--top-k", optarg, 0, INT_MAX);
            top_k_set = 1;
            break;
        case OPT_TOP_P:
            cfg.sampler.top_p = opt_float(&t, "--top-p", optarg, 0, 1);
            if (!(cfg.sampler.top_p > 0))
                tool_usage_error(&t, "--top-p: '%s' is not in (0, 1]", optarg);
            break;
        case OPT_MIN_P:
            cfg.sampler.min_p = opt_float(&t, "--min-p", optarg, 0, 1);
            local_only = 1;
            break;
        case 'n': cfg.max_tokens = (int)opt_long(&t, "--max-tokens", optarg, 1, INT_MAX); break;
        case OPT_STOP:
            if (cfg.nstops == MAX_STOPS)
                tool_usage_error(&t, "--stop: more than %d stop strings", MAX_STOPS);
            if (!*optarg)
                tool_usage_error(&t, "--stop: the stop string is empty");
            stops[cfg.nstops++] = optarg;
            break;
        case OPT_SYSTEM: system_file = optarg; break;
        case OPT_THINK: think = 1; local_only = 1; break;
        case OPT_NO_THINK: no_think = 1; local_only = 1; break;
        case 'f':
            local_only = 1;
            if (chat_parse_format(optarg, &format) < 0)
                tool_usage_error(&t, "-f: unknown chat format '%s'", optarg);
            break;
        case OPT_SEED:
            if (parse_u64(optarg, &cfg.seed) || cfg.seed > INT64_MAX)
                tool_usage_error(&t, "--seed: '%s' is not an integer in [0, 2^63)", optarg);
            oc.params.has_seed = 1;
            break;
        case OPT_THREADS:
            cfg.threads = (int)opt_long(&t, "--threads", optarg, 1, 1024);
            local_only = 1;
            break;
        case OPT_BATCH:
            cfg.batch = (int)opt_long(&t, "--batch", optarg, 1, 65536);
            local_only = 1;
            break;
        case OPT_SERVER: oc.client.url = optarg; break;
        case OPT_API_KEY_ENV: keyenv = optarg; break;
        case OPT_ENDPOINT:
            if (strcmp(optarg, "chat") == 0)
                oc.params.ep = OAI_CHAT;
            else if (strcmp(optarg, "completions") == 0)
                oc.params.ep = OAI_COMPLETIONS;
            else
                tool_usage_error(&t, "--endpoint: '%s' is neither chat nor completions", optarg);
            break;
        case OPT_CONCURRENCY:
            oc.client.concurrency = (int)opt_long(&t, "--concurrency", optarg, 1, 4096);
            break;
        case OPT_RETRIES: oc.client.retries = (int)opt_long(&t, "--retries", optarg, 0, 1000); break;
        case OPT_RETRY_WAIT:
            oc.client.retry_wait = opt_float(&t, "--retry-wait", optarg, 0, 3600);
            break;
        case OPT_TIMEOUT:
            oc.client.timeout = opt_float(&t, "--timeout", optarg, 0.001, 86400);
            break;
        case OPT_LOGPROBS: oc.params.logprobs = 1; break;
        case OPT_TOKEN_IDS: oc.params.token_ids = 1; break;
        case OPT_SEND_ID: oc.params.send_user = 1; break;
        case OPT_RESUME: resume = 1; break;
        case OPT_ROUTES: cfg.routes = 1; break;
        default: tool_usage(&t);
        }
    }
    if (!model)
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
        oc.params.model = model;
        oc.params.n = cfg.G;
        oc.params.temperature = cfg.sampler.temperature;
        oc.params.top_p = cfg.sampler.top_p;
        oc.params.top_k = top_k_set ? cfg.sampler.top_k : -1;
        oc.params.max_tokens = cfg.max_tokens;
        oc.params.seed = cfg.seed;
        oc.params.stops = stops;
        oc.params.nstops = cfg.nstops;
        oc.system = system_file ? read_text(system_file) : NULL;
        if (oc.resume)
            tool_start_noout(&t, argc - optind, argv + optind);
        else
            tool_start(&t, argc - optind, argv + optind);
        oaigen_run(&t, &oc);
        free((char *)oc.system);
        return tool_finish(&t);
    }
    if (keyenv || resume || oc.params.logprobs || oc.params.token_ids || oc.params.send_user)
        tool_usage_error(&t, "--api-key-env, --resume, --logprobs, --token-ids and --send-id"
                         " are for --server");
    if (think && no_think)
        tool_usage_error(&t, "give --think or --no-think, not both");
    if (sampler_config_check(&cfg.sampler, &why))
        tool_usage_error(&t, "%s", why);
    if (!cfg.threads)
        cfg.threads = model_threads_env();
    if (!cfg.threads)
        cfg.threads = (int)PT_MAX(1, sysconf(_SC_NPROCESSORS_ONLN));
    flags = (think ? CHAT_THINK : 0) | (no_think ? CHAT_NO_THINK : 0);

    m = lm_load(model, 0, &err);
    if (!m)
        die("%s", sbuf_str(&err));
    if (m->cfg.arch != MODEL_CAUSAL_LM)
        die("'%s': a reward model has no language-model head to sample from", model);
    if (lm_adapter(m, adapter, &err) < 0)
        die("%s", sbuf_str(&err));
    if (use16)
        model_use_bf16(m, KERN16_AUTO, 0);
    if (cfg.routes && model_route_width(&m->cfg) == 0)
        die("'%s': --routes: the model has no mixture-of-experts layers", model);
    if (lm_chat_open(model, m, format, flags, &tk, &chat, &err) < 0)
        die("%s", sbuf_str(&err));
    run.t = &t;
    run.chat = &chat;
    run.m = m;
    run.prefix = (chat.flags & CHAT_THINK) ? "<think>\n" : "";
    run.system = system_file ? read_text(system_file) : NULL;
    ckpt_hash(m, run.policy);
    run.policy_step = policy_step(model);
    sample_sampling_of(&run.sampling, &cfg.sampler);

    tool_start(&t, argc - optind, argv + optind);
    run.gen = gen_new(m, tk, &chat, &cfg);
    gen_run(run.gen, next_prompt, emit_samples, &run);
    gen_free(run.gen);
    rc = tool_finish(&t);
    free((char *)run.system);
    sample_conv_release(&run.conv);
    tok_ids_release(&run.ids);
    sbuf_release(&run.num);
    free(run.seen);
    sbuf_release(&err);
    chat_release(&chat);
    tok_free(tk);
    lm_free(m);
    return rc;
}
