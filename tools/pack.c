/*
 * pack - bins sample, SFT and preference records into packed training
 * sequences of at most L tokens, or with --check verifies a packed
 * stream.  The work is in lib/pack.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "lm.h"
#include "pack.h"
#include "tok.h"
#include "tool.h"

static const char usage_text[] =
    "usage: pack [-L N] [--truncate] [--window N | --first-fit [--open N]]\n"
    "            [-m DIR [-f FORMAT] [--think | --no-think] [--last-turn-only]]\n"
    "            [--check] [options] [FILE ...]\n"
    "Packs samples into sequences of at most L tokens (or checks a packed stream).\n";

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
    struct tool tl;
    struct tool_model mo;
    struct pack_config cfg;
    const char *field;
    int rc, check = 0, have_chat = 0, set_L = 0, set_window = 0, set_open = 0, argi;
    long L, window, max_open;
    struct tok *tk = NULL;
    struct chat chat;
    struct packer *p;
    struct sbuf why = SBUF_INIT;
    const struct pack_stats *st;
    json_t *r, *out;
    struct sbuf err = SBUF_INIT;

    tool_init(&tl, "pack", usage_text);
    tool_model_init(&mo);
    pack_config_default(&cfg);
    L = (long)cfg.L;
    window = (long)cfg.window;
    max_open = (long)cfg.max_open;
    {
        const struct opt opts[] = {
            {.type = OPT_T_LONG, .short_name = 'L', .long_name = "length", .value = &L,
             .argname = "N", .min = 1, .max = 1L << 24, .given = &set_L,
             .help = "tokens per packed sequence (default 1024)"},
            OPT_BOOL(0, "truncate", &cfg.truncate,
                     "cut a sample longer than L (default: an error)"),
            {.type = OPT_T_LONG, .long_name = "window", .value = &window, .argname = "N",
             .min = 0, .max = 1L << 40, .given = &set_window,
             .help = "best-fit-decreasing over N records at a time\n"
                     "(default 0: the whole input)"},
            OPT_BOOL(0, "first-fit", &cfg.first_fit, "streaming first-fit instead"),
            {.type = OPT_T_LONG, .long_name = "open", .value = &max_open, .argname = "N",
             .min = 1, .max = 1L << 20, .given = &set_open,
             .help = "first-fit: open sequences kept (default 16)"},
            TOOL_MODEL_DIR(&mo, "the checkpoint whose tokenizer and chat format render\n"
                                "SFT (prompt, response, or messages) and preference\n"
                                "(chosen, rejected) records given as text"),
            TOOL_MODEL_FORMAT(&mo),
            TOOL_MODEL_THINK(&mo),
            OPT_BOOL(0, "last-turn-only", &cfg.last_turn_only,
                     "messages: loss on the last assistant turn only\n"
                     "(default: on every assistant turn)"),
            OPT_BOOL(0, "check", &check,
                     "verify packed records (against -L when given); no output"),
            OPT_END(),
        };
        argi = tool_parse(&tl, opts, argc, argv);
    }
    cfg.L = (size_t)L;
    cfg.window = (size_t)window;
    cfg.max_open = (size_t)max_open;
    if (cfg.first_fit && set_window)
        tool_usage_error(&tl, "give --window or --first-fit, not both");
    if (set_open && !cfg.first_fit)
        tool_usage_error(&tl, "--open goes with --first-fit");
    tool_model_check(&tl, &mo);
    if (check) {
        if (mo.lm.dir || cfg.first_fit || set_window || cfg.truncate ||
            cfg.last_turn_only)
            tool_usage_error(&tl, "--check takes only -L and the common options");
        tool_start_noout(&tl, argc - argi, argv + argi);
        return check_stream(&tl, set_L ? cfg.L : 0);
    }
    memset(&chat, 0, sizeof(chat));
    if (mo.lm.dir) {
        if (lm_chat_open(mo.lm.dir, NULL, mo.lm.format, mo.lm.chat_flags, &tk, &chat, &err) < 0)
            die("%s", sbuf_str(&err));
        have_chat = 1;
    }
    tool_start(&tl, argc - argi, argv + argi);
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
    sbuf_release(&err);
    if (have_chat)
        chat_release(&chat);
    tok_free(tk);
    return rc;
}
