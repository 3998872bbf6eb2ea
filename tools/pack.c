/*
 * pack - bins sample, SFT and preference records into packed training
 * sequences of at most L tokens, or with --check verifies a packed
 * stream.  The work is in lib/pack.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "pack.h"
#include "tok.h"
#include "tool.h"

static const char usage_text[] =
    "usage: pack [-L N] [--truncate] [--window N | --first-fit [--open N]]\n"
    "            [-m DIR [-f FORMAT] [--think | --no-think] [--last-turn-only]]\n"
    "            [--check] [options] [FILE ...]\n"
    "Packs samples into sequences of at most L tokens (or checks a packed stream).\n"
    "  -L, --length N        tokens per packed sequence (default 1024)\n"
    "      --truncate        cut a sample longer than L (default: an error)\n"
    "      --window N        best-fit-decreasing over N records at a time\n"
    "                        (default 0: the whole input)\n"
    "      --first-fit       streaming first-fit instead\n"
    "      --open N          first-fit: open sequences kept (default 16)\n"
    "  -m, --model DIR       the checkpoint whose tokenizer and chat format render\n"
    "                        SFT (prompt, response, or messages) and preference\n"
    "                        (chosen, rejected) records given as text\n"
    "  -f, --format NAME     chat format: auto, builtin, deepseek3, chatml, qwen3,\n"
    "                        llama3, llama3.1, text\n"
    "      --think           open the assistant turn with <think>\\n\n"
    "      --no-think        never, even when the chat template does (qwen3:\n"
    "                        enable_thinking false)\n"
    "      --last-turn-only  messages: loss on the last assistant turn only\n"
    "                        (default: on every assistant turn)\n"
    "      --check           verify packed records (against -L when given); no output\n"
    TOOL_USAGE_COMMON;

enum {
    OPT_TRUNCATE = TOOL_OPT_FIRST_FREE,
    OPT_WINDOW,
    OPT_FIRST_FIT,
    OPT_OPEN,
    OPT_THINK,
    OPT_LAST_TURN,
    OPT_NO_THINK,
    OPT_CHECK,
};

static int
check_stream(struct tool *tl, size_t L)
{
    struct sbuf why = SBUF_INIT;
    struct pack_row row;
    const char *field;
    size_t nrec = 0, nseg = 0, ntok = 0, nloss = 0, maxlen = 0, i;
    json_t *r;
    int rc;

    while ((r = tool_next(tl)) != NULL) {
        sbuf_reset(&why);
        if (pack_row_parse(r, L, &row, &field, &why) < 0)
            tool_reject(tl, r, field, "%s", sbuf_str(&why));
        else {
            nrec++;
            nseg += row.nseg;
            ntok += row.n;
            for (i = 0; i < row.n; i++)
                nloss += row.mask[i];
            if (row.n > maxlen)
                maxlen = row.n;
            pack_row_release(&row);
        }
        json_decref(r);
    }
    rc = tool_finish(tl);
    if (!tl->quiet)
        fprintf(stderr, "pack: %zu packed records, %zu segments, %zu tokens (%zu targets),"
                " longest %zu: ok\n", nrec, nseg, ntok, nloss, maxlen);
    sbuf_release(&why);
    return rc;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        TOOL_LONGOPTS,
        {"length", required_argument, NULL, 'L'},
        {"truncate", no_argument, NULL, OPT_TRUNCATE},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"first-fit", no_argument, NULL, OPT_FIRST_FIT},
        {"open", required_argument, NULL, OPT_OPEN},
        {"model", required_argument, NULL, 'm'},
        {"format", required_argument, NULL, 'f'},
        {"think", no_argument, NULL, OPT_THINK},
        {"no-think", no_argument, NULL, OPT_NO_THINK},
        {"last-turn-only", no_argument, NULL, OPT_LAST_TURN},
        {"check", no_argument, NULL, OPT_CHECK},
        {NULL, 0, NULL, 0},
    };
    struct tool tl;
    struct pack_config cfg;
    enum chat_format format = CHAT_AUTO;
    const char *model = NULL, *field;
    int ch, rc, check = 0, think = 0, no_think = 0, have_chat = 0, set_L = 0;
    int set_window = 0, set_open = 0;
    long v;
    struct tok *tk = NULL;
    struct chat chat;
    struct packer *p;
    struct sbuf why = SBUF_INIT;
    const struct pack_stats *st;
    json_t *r, *out;
    char err[512];

    util_setprog(argv[0]);
    tool_init(&tl, "pack", usage_text);
    pack_config_default(&cfg);
    while ((ch = getopt_long(argc, argv, TOOL_SHORTOPTS "L:m:f:", longopts, NULL)) != -1) {
        if (tool_opt(&tl, ch, optarg))
            continue;
        switch (ch) {
        case 'L':
            if (parse_long(optarg, 1, 1L << 24, &v))
                tool_usage_error(&tl, "-L: '%s' is not an integer in [1, 16777216]", optarg);
            cfg.L = (size_t)v;
            set_L = 1;
            break;
        case OPT_TRUNCATE: cfg.truncate = 1; break;
        case OPT_WINDOW:
            if (parse_long(optarg, 0, 1L << 40, &v))
                tool_usage_error(&tl, "--window: '%s' is not an integer >= 0", optarg);
            cfg.window = (size_t)v;
            set_window = 1;
            break;
        case OPT_FIRST_FIT: cfg.first_fit = 1; break;
        case OPT_OPEN:
            if (parse_long(optarg, 1, 1L << 20, &v))
                tool_usage_error(&tl, "--open: '%s' is not an integer in [1, 1048576]", optarg);
            cfg.max_open = (size_t)v;
            set_open = 1;
            break;
        case 'm': model = optarg; break;
        case 'f':
            if (chat_parse_format(optarg, &format) < 0)
                tool_usage_error(&tl, "-f: unknown chat format '%s'", optarg);
            break;
        case OPT_THINK: think = 1; break;
        case OPT_NO_THINK: no_think = 1; break;
        case OPT_LAST_TURN: cfg.last_turn_only = 1; break;
        case OPT_CHECK: check = 1; break;
        default: tool_usage(&tl);
        }
    }
    if (cfg.first_fit && set_window)
        tool_usage_error(&tl, "give --window or --first-fit, not both");
    if (set_open && !cfg.first_fit)
        tool_usage_error(&tl, "--open goes with --first-fit");
    if (think && no_think)
        tool_usage_error(&tl, "give --think or --no-think, not both");
    if (check) {
        if (model || cfg.first_fit || set_window || cfg.truncate ||
            cfg.last_turn_only)
            tool_usage_error(&tl, "--check takes only -L and the common options");
        tool_start_noout(&tl, argc - optind, argv + optind);
        return check_stream(&tl, set_L ? cfg.L : 0);
    }
    memset(&chat, 0, sizeof(chat));
    if (model) {
        tk = tok_load_dir(model);
        if (chat_init(&chat, tk, format, (think ? CHAT_THINK : 0) |
                      (no_think ? CHAT_NO_THINK : 0), err, sizeof(err)) < 0)
            die("%s", err);
        have_chat = 1;
    }
    tool_start(&tl, argc - optind, argv + optind);
    p = packer_new(&cfg, have_chat ? &chat : NULL);
    while ((r = tool_next(&tl)) != NULL) {
        sbuf_reset(&why);
        if (packer_add(p, r, &field, &why) < 0)
            tool_reject(&tl, r, field, "%s", sbuf_str(&why));
        json_decref(r);
        while ((out = packer_next(p)) != NULL) {
            tool_write(&tl, out);
            json_decref(out);
        }
    }
    packer_finish(p);
    while ((out = packer_next(p)) != NULL) {
        tool_write(&tl, out);
        json_decref(out);
    }
    st = packer_stats(p);
    rc = tool_finish(&tl);
    if (!tl.quiet) {
        double cap = (double)st->bins * (double)cfg.L;
        fprintf(stderr, "pack: %zu samples in %zu sequences of %zu: %zu of %.0f tokens,"
                " efficiency %.4f", st->records, st->bins, cfg.L, st->tokens, cap,
                cap > 0 ? (double)st->tokens / cap : 0.0);
        if (st->truncated)
            fprintf(stderr, ", %zu truncated", st->truncated);
        fputc('\n', stderr);
    }
    packer_free(p);
    sbuf_release(&why);
    if (have_chat)
        chat_release(&chat);
    tok_free(tk);
    return rc;
}
