/*
 * serve - an OpenAI-compatible HTTP server over a checkpoint (see
 * serve(1)).  Options, the model and the signals are here; the server is
 * lib/serve.c, the protocol lib/oai.c, decoding lib/gen.c.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ckpt.h"
#include "lm.h"
#include "serve.h"
#include "tool.h"

static const char usage_text[] =
    "usage: serve -m DIR [--adapter DIR] [--dtype NAME] [--host ADDR] [--port N] [--name NAME] [--api-key-env VAR]\n"
    "             [--max-tokens N] [--max-n N] [--max-body N] [--max-conns N]\n"
    "             [-f FORMAT] [--batch N] [--threads N] [-v]\n"
    "Answers the OpenAI HTTP API (/v1/completions, /v1/chat/completions,\n"
    "/v1/models, /health) with samples of the checkpoint DIR.\n";

static struct serve *the_server;

static void
on_signal(int sig)
{
    (void)sig;
    if (the_server)
        serve_stop(the_server);
}

/* --name NAME: not empty */
static int
parse_name(void *value, const char *arg, struct sbuf *why)
{
    if (!*arg) {
        sbuf_adds(why, "the name is empty");
        return -1;
    }
    *(const char **)value = arg;
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct opt_prog prog = {.name = "serve", .header = usage_text};
    struct serve_config sc;
    struct gen_config gcfg;
    struct tool_model mo;
    const char *keyenv = NULL, *name_arg = NULL;
    struct sbuf err = SBUF_INIT;
    struct sigaction sa;
    struct lm lm;
    char policy[17], *name = NULL;
    long max_body = 1 << 20;
    int argi;

    util_setprog(argv[0]);
    memset(&sc, 0, sizeof(sc));
    memset(&gcfg, 0, sizeof(gcfg));
    tool_model_init(&mo);
    sc.host = "127.0.0.1";
    sc.port = 8000;
    sc.max_conns = 256;
    sc.lim.max_n = 16;
    sc.lim.max_tokens = 1024;
    sc.lim.max_prompts = 64;
    gcfg.sampler = (struct sampler_config)SAMPLER_CONFIG_INIT;
    gcfg.max_tokens = 1;
    gcfg.batch = 32;
    {
        const struct opt opts[] = {
            TOOL_MODEL_DIR(&mo, "the checkpoint"),
            TOOL_MODEL_ADAPTER(&mo, "with the LoRA adapter in DIR (PEFT's layout)"),
            TOOL_MODEL_DTYPE(&mo),
            OPT_STRING(0, "host", &sc.host, "ADDR",
                       "numeric address to listen on (default 127.0.0.1)"),
            OPT_INT(0, "port", &sc.port, "N", 0, 65535, "port (default 8000; 0: any free one)"),
            OPT_CALL(0, "name", &name_arg, "NAME", parse_name, NULL,
                     "the model's name in the API (default: DIR's last part)"),
            OPT_STRING(0, "api-key-env", &keyenv, "VAR",
                       "ask for the key in environment variable VAR"),
            OPT_INT(0, "max-tokens", &sc.lim.max_tokens, "N", 1, INT_MAX,
                    "max_tokens at most, and its default (default 1024)"),
            OPT_INT(0, "max-n", &sc.lim.max_n, "N", 1, 1024, "n at most (default 16)"),
            OPT_LONG(0, "max-body", &max_body, "N", 64, 1L << 30,
                     "request bodies at most N bytes (default 1048576)"),
            OPT_INT(0, "max-conns", &sc.max_conns, "N", 1, 65536,
                    "connections at once (default 256)"),
            TOOL_MODEL_FORMAT(&mo),
            OPT_INT(0, "batch", &gcfg.batch, "N", 1, 65536,
                    "sequences decoded together (default 32)"),
            TOOL_MODEL_THREADS(&mo),
            OPT_BOOL('v', "verbose", &sc.verbose, "one line per request on stderr"),
            OPT_HELP(),
            OPT_VERSION(),
            OPT_END(),
        };
        const struct opt *tabs[] = {opts, NULL};
        argi = opt_parse(&prog, tabs, argc, argv);
    }
    sc.max_body = (size_t)max_body;
    if (argi < argc)
        opt_usage_error(&prog, "unexpected operand '%s'", argv[argi]);
    if (!mo.lm.dir)
        opt_usage_error(&prog, "-m DIR is required");
    if (keyenv) {
        sc.api_key = getenv(keyenv);
        if (!sc.api_key || !*sc.api_key)
            opt_usage_error(&prog, "--api-key-env: the environment variable '%s' is empty"
                            " or unset", keyenv);
    }
    gcfg.threads = tool_model_threads(&mo);
    gcfg.G = sc.lim.max_n;

    mo.lm.arch = MODEL_CAUSAL_LM;
    mo.lm.arch_error = "a reward model has no language-model head to sample from";
    if (lm_open(&lm, &mo.lm, &err) < 0)
        die("%s", sbuf_str(&err));
    ckpt_hash(lm.m, policy);
    if (!name_arg) {
        const char *model = mo.lm.dir;
        size_t n = strlen(model);
        while (n > 1 && model[n - 1] == '/')
            n--;
        name = xstrndup(model, n);
        sc.name = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    } else {
        sc.name = name_arg;
    }
    sc.policy = policy;

    /* signals: end the run cleanly; a client's broken pipe is not ours */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    signal(SIGPIPE, SIG_IGN);
    the_server = serve_new(lm.m, lm.tk, &lm.chat, &gcfg, &sc, &err);
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
    lm_close(&lm);
    return 0;
}
