/*
 * serve - an OpenAI-compatible HTTP server over a checkpoint (see
 * serve(1)).  Options, the model and the signals are here; the server is
 * lib/serve.c, the protocol lib/oai.c, decoding lib/gen.c.
 */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat.h"
#include "ckpt.h"
#include "lm.h"
#include "serve.h"
#include "tok.h"
#include "util.h"
#include "w16.h"

static const char usage_text[] =
    "usage: serve -m DIR [--adapter DIR] [--dtype NAME] [--host ADDR] [--port N] [--name NAME] [--api-key-env VAR]\n"
    "             [--max-tokens N] [--max-n N] [--max-body N] [--max-conns N]\n"
    "             [-f FORMAT] [--batch N] [--threads N] [-v]\n"
    "Answers the OpenAI HTTP API (/v1/completions, /v1/chat/completions,\n"
    "/v1/models, /health) with samples of the checkpoint DIR.\n"
    "  -m, --model DIR       the checkpoint\n"
    "      --adapter DIR     with the LoRA adapter in DIR (PEFT's layout)\n"
    "      --dtype NAME      products in f32 (default) or bf16: bf16 copies of the\n"
    "                        weights, fp32 accumulation (posttrain-checkpoint(5))\n"
    "      --host ADDR       numeric address to listen on (default 127.0.0.1)\n"
    "      --port N          port (default 8000; 0: any free one)\n"
    "      --name NAME       the model's name in the API (default: DIR's last part)\n"
    "      --api-key-env VAR ask for the key in environment variable VAR\n"
    "      --max-tokens N    max_tokens at most, and its default (default 1024)\n"
    "      --max-n N         n at most (default 16)\n"
    "      --max-body N      request bodies at most N bytes (default 1048576)\n"
    "      --max-conns N     connections at once (default 256)\n"
    "  -f, --format NAME     chat format: auto, builtin, deepseek3, chatml, llama3\n"
    "      --batch N         sequences decoded together (default 32)\n"
    "      --threads N       threads (default: POSTTRAIN_THREADS, else all CPUs)\n"
    "  -v, --verbose         one line per request on stderr\n"
    "  -h, --help            this help\n"
    "  -V, --version         the version\n";

enum {
    OPT_HOST = 0x1100,
    OPT_PORT,
    OPT_NAME,
    OPT_API_KEY_ENV,
    OPT_MAX_TOKENS,
    OPT_MAX_N,
    OPT_MAX_BODY,
    OPT_MAX_CONNS,
    OPT_BATCH,
    OPT_ADAPTER,
    OPT_DTYPE,
    OPT_THREADS,
};

static struct serve *the_server;

static void
on_signal(int sig)
{
    (void)sig;
    if (the_server)
        serve_stop(the_server);
}

PT_NORETURN static void
usage(int status)
{
    if (status == 0) {
        fputs(usage_text, stdout);
        exit(0);
    }
    fprintf(stderr, "%.*s", (int)(strchr(usage_text, '\n') - usage_text + 1), usage_text);
    exit(status);
}

PT_NORETURN PT_PRINTF(1, 2) static void
usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", util_prog());
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    usage(2);
}

static long
opt_long(const char *name, const char *arg, long lo, long hi)
{
    long v;

    if (parse_long(arg, lo, hi, &v))
        usage_error("%s: '%s' is not an integer in [%ld, %ld]", name, arg, lo, hi);
    return v;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"adapter", required_argument, NULL, OPT_ADAPTER},
        {"dtype", required_argument, NULL, OPT_DTYPE},
        {"host", required_argument, NULL, OPT_HOST},
        {"port", required_argument, NULL, OPT_PORT},
        {"name", required_argument, NULL, OPT_NAME},
        {"api-key-env", required_argument, NULL, OPT_API_KEY_ENV},
        {"max-tokens", required_argument, NULL, OPT_MAX_TOKENS},
        {"max-n", required_argument, NULL, OPT_MAX_N},
        {"max-body", required_argument, NULL, OPT_MAX_BODY},
        {"max-conns", required_argument, NULL, OPT_MAX_CONNS},
        {"format", required_argument, NULL, 'f'},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct serve_config sc;
    struct gen_config gcfg;
    const char *model = NULL, *adapter = NULL, *keyenv = NULL;
    enum chat_format format = CHAT_AUTO;
    struct sbuf err = SBUF_INIT;
    struct sigaction sa;
    int use16 = 0;
    struct model *m;
    struct tok *tk;
    struct chat chat;
    char policy[17], *name = NULL;
    int c;

    util_setprog(argv[0]);
    memset(&sc, 0, sizeof(sc));
    memset(&gcfg, 0, sizeof(gcfg));
    sc.host = "127.0.0.1";
    sc.port = 8000;
    sc.max_body = 1 << 20;
    sc.max_conns = 256;
    sc.lim.max_n = 16;
    sc.lim.max_tokens = 1024;
    sc.lim.max_prompts = 64;
    gcfg.sampler = (struct sampler_config)SAMPLER_CONFIG_INIT;
    gcfg.max_tokens = 1;
    gcfg.batch = 32;
    while ((c = getopt_long(argc, argv, "m:f:vhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case OPT_ADAPTER: adapter = optarg; break;
        case OPT_DTYPE:
            if ((use16 = w16_parse_dtype(optarg)) < 0)
                usage_error("--dtype: '%s' is not f32 or bf16", optarg);
            break;
        case OPT_HOST: sc.host = optarg; break;
        case OPT_PORT: sc.port = (int)opt_long("--port", optarg, 0, 65535); break;
        case OPT_NAME:
            if (!*optarg)
                usage_error("--name: the name is empty");
            name = optarg;
            break;
        case OPT_API_KEY_ENV: keyenv = optarg; break;
        case OPT_MAX_TOKENS:
            sc.lim.max_tokens = (int)opt_long("--max-tokens", optarg, 1, INT_MAX);
            break;
        case OPT_MAX_N: sc.lim.max_n = (int)opt_long("--max-n", optarg, 1, 1024); break;
        case OPT_MAX_BODY:
            sc.max_body = (size_t)opt_long("--max-body", optarg, 64, 1L << 30);
            break;
        case OPT_MAX_CONNS: sc.max_conns = (int)opt_long("--max-conns", optarg, 1, 65536); break;
        case 'f':
            if (chat_parse_format(optarg, &format) < 0)
                usage_error("-f: unknown chat format '%s'", optarg);
            break;
        case OPT_BATCH: gcfg.batch = (int)opt_long("--batch", optarg, 1, 65536); break;
        case OPT_THREADS: gcfg.threads = (int)opt_long("--threads", optarg, 1, 1024); break;
        case 'v': sc.verbose = 1; break;
        case 'h': usage(0);
        case 'V': printf("serve %s\n", PT_VERSION); return 0;
        default: usage(2);
        }
    }
    if (optind < argc)
        usage_error("unexpected operand '%s'", argv[optind]);
    if (!model)
        usage_error("-m DIR is required");
    if (keyenv) {
        sc.api_key = getenv(keyenv);
        if (!sc.api_key || !*sc.api_key)
            usage_error("--api-key-env: the environment variable '%s' is empty or unset",
                        keyenv);
    }
    if (!gcfg.threads)
        gcfg.threads = model_threads_env();
    if (!gcfg.threads)
        gcfg.threads = (int)PT_MAX(1, sysconf(_SC_NPROCESSORS_ONLN));
    gcfg.G = sc.lim.max_n;

    m = lm_load(model, 0, &err);
    if (!m)
        die("%s", sbuf_str(&err));
    if (m->cfg.arch != MODEL_CAUSAL_LM)
        die("'%s': a reward model has no language-model head to sample from", model);
    if (lm_adapter(m, adapter, &err) < 0)
        die("%s", sbuf_str(&err));
    if (use16)
        model_use_bf16(m, KERN16_AUTO, 0);
    if (lm_chat_open(model, m, format, 0, &tk, &chat, &err) < 0)
        die("%s", sbuf_str(&err));
    ckpt_hash(m, policy);
    if (!name) {
        size_t n = strlen(model);
        while (n > 1 && model[n - 1] == '/')
            n--;
        name = xstrndup(model, n);
        sc.name = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    } else {
        sc.name = name;
        name = NULL;
    }
    sc.policy = policy;

    /* signals: end the run cleanly; a client's broken pipe is not ours */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    signal(SIGPIPE, SIG_IGN);
    the_server = serve_new(m, tk, &chat, &gcfg, &sc, &err);
    if (!the_server)
        die("%s", sbuf_str(&err));
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (strchr(sc.host, ':'))
        printf("http://[%s]:%d\n", sc.host, serve_port(the_server));
    else
        printf("http://%s:%d\n", sc.host, serve_port(the_server));
    if (fflush(stdout) != 0)
        die_errno("stdout");
    serve_run(the_server);
    serve_free(the_server);
    the_server = NULL;
    free(name);
    sbuf_release(&err);
    chat_release(&chat);
    tok_free(tk);
    lm_free(m);
    return 0;
}
