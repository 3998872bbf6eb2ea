/*
 * init - a fresh checkpoint: a named preset or an HF config.json, weights
 * drawn from N(0, initializer_range^2) by --seed, written as an HF
 * checkpoint directory (see init(1), posttrain-checkpoint(5)); or, with
 * --merge, a checkpoint with a LoRA adapter merged into its weights.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt.h"
#include "lm.h"
#include "lora.h"
#include "model.h"
#include "opt.h"
#include "tok.h"
#include "tool.h"
#include "util.h"

#define SYNOPSIS                                                                      \
    "usage: init [-p preset | -c config.json] [-s seed] [-t tokenizer.json]\n"          \
    "            [--vocab-size N] [--std X] [--reward] [--dtype NAME]\n"                \
    "            [--max-shard-size SIZE] [-f] [-v] -o dir\n"                            \
    "       init --merge BASE ADAPTER [--dtype NAME] [--max-shard-size SIZE] [-f] [-v]\n" \
    "            -o dir\n"

static const struct opt_prog prog = {
    "init",
    SYNOPSIS "Writes a fresh checkpoint directory (config.json, model.safetensors).\n\n",
    SYNOPSIS,
};

/* --dtype f32|bf16|f16|auto */
/* Largest token id in a tokenizer.json (model.vocab and added_tokens), or -1. */
static long
tokenizer_max_id(const char *path)
{
    json_error_t je;
    json_t *js = json_load_file(path, 0, &je), *vocab, *added, *v;
    const char *k;
    long mx = -1;
    size_t i;

    if (!js) {
        if (je.line > 0)
            die("%s:%d: %s", path, je.line, je.text);
        die("%s: %s", path, je.text);
    }
    vocab = json_object_get(json_object_get(js, "model"), "vocab");
    added = json_object_get(js, "added_tokens");
    if (json_is_object(vocab))
        json_object_foreach(vocab, k, v)
            if (json_is_integer(v) && json_integer_value(v) > mx)
                mx = (long)json_integer_value(v);
    if (json_is_array(vocab))  /* unigram: [[piece, score], ...] */
        mx = PT_MAX(mx, (long)json_array_size(vocab) - 1);
    json_array_foreach(added, i, v) {
        json_t *id = json_object_get(v, "id");
        if (json_is_integer(id) && json_integer_value(id) > mx)
            mx = (long)json_integer_value(id);
    }
    json_decref(js);
    return mx;
}

/* Whether the adapter in dir is a reward model's (task_type SEQ_CLS). */
static int
seq_cls_adapter(const char *dir)
{
    struct sbuf p = SBUF_INIT;
    json_t *js;
    int seq;

    sbuf_addf(&p, "%s/adapter_config.json", dir);
    js = json_load_file(sbuf_str(&p), 0, NULL);
    seq = json_is_string(json_object_get(js, "task_type")) &&
          strcmp(json_string_value(json_object_get(js, "task_type")), "SEQ_CLS") == 0;
    json_decref(js);
    sbuf_release(&p);
    return seq;
}

/* --merge: BASE with ADAPTER merged in, as the checkpoint out. */
static void
merge(const char *base, const char *adapter, const char *out, const struct ckpt_format *fmt,
      int force, int verbose)
{
    struct sbuf err = SBUF_INIT;
    struct stat st;
    json_t *cj = NULL;
    struct model *m;
    struct lora *lo;
    char *failed;

    if (!force && stat(out, &st) == 0)
        die("%s: exists (use --force to replace it)", out);
    m = ckpt_load(base, seq_cls_adapter(adapter) ? CKPT_AS_SEQ_CLS : 0, &cj, &err);
    if (!m || lm_adapter(m, adapter, &err) < 0)
        die("%s", sbuf_str(&err));
    lo = m->lora;
    m->lora = NULL;
    lora_merge(lo, m);
    if (mkdir_parents(out, &failed) < 0)
        die_errno("%s", failed);
    if (ckpt_save_as(out, m, cj, NULL, NULL, base, fmt, &err))
        die("%s", sbuf_str(&err));
    if (verbose)
        fprintf(stderr, "%s: %s merged into %s (%zu parameters) in %s\n", util_prog(),
                adapter, base, m->nparams, out);
    lora_free(lo);
    model_free(m);
    json_decref(cj);
    sbuf_release(&err);
}

int
main(int argc, char **argv)
{
    const char *preset = NULL, *config = NULL, *tokenizer = NULL, *out = NULL, *base = NULL;
    struct model_config c;
    struct ckpt_format fmt = {0, CKPT_DTYPE_AUTO};
    struct sbuf err = SBUF_INIT;
    struct model *m;
    json_t *cj = NULL;
    uint64_t seed = 0;
    double std = -1;
    long vocab = 0;
    int argi, reward = 0, force = 0, verbose = 0, version = 0, seed_given = 0, fresh;
    struct stat st;

    util_setprog(argv[0]);
    {
        const struct opt opts[] = {
            OPT_STRING('p', "preset", &preset, "NAME",
                       "tiny (3.2M parameters, the built-in tokenizer's\n"
                       "264 ids), smollm-135m, qwen3-0.6b, llama3.2-1b\n"
                       "(those models' shapes), or a test model of each\n"
                       "family and RoPE type: qwen3-tiny,\n"
                       "qwen3-untied-tiny, qwen3-yarn-tiny, qwen2-tiny,\n"
                       "mistral-tiny, llama3-tiny, llama-linear-tiny,\n"
                       "llama-dynamic-tiny, llama-yarn-tiny; default tiny"),
            OPT_STRING('c', "config", &config, "FILE", "an HF config.json instead of a preset"),
            {.type = OPT_T_U64, .short_name = 's', .long_name = "seed", .value = &seed,
             .argname = "N", .given = &seed_given,
             .help = "seed of the initial weights (default 0)"},
            OPT_STRING('t', "tokenizer", &tokenizer, "FILE",
                       "copy this tokenizer.json into the checkpoint"),
            OPT_LONG(0, "vocab-size", &vocab, "N", 1, 1L << 28, "override the vocabulary size"),
            OPT_DOUBLE(0, "std", &std, "X", 0, 10,
                       "standard deviation of the initial weights\n"
                       "(default: initializer_range, else 0.02)"),
            OPT_BOOL(0, "reward", &reward,
                     "a reward model (*ForSequenceClassification,\n"
                     "score.weight, num_labels 1)"),
            TOOL_OPT_CKPT_DTYPE(&fmt, "f32, bf16, f16, or auto: the config's torch_dtype\n"
                                      "(default auto; f32 without one)"),
            TOOL_OPT_SHARD_SIZE(&fmt),
            OPT_STRING(0, "merge", &base, "BASE",
                       "write BASE with the LoRA adapter directory ADAPTER\n"
                       "(the operand) merged in: W + s B A (and a reward\n"
                       "adapter's score head); BASE's tokenizer is copied"),
            OPT_BOOL('f', "force", &force, "replace an existing checkpoint at dir"),
            OPT_STRING('o', "output", &out, "DIR",
                       "the checkpoint directory to write (missing parent\n"
                       "directories are created)"),
            OPT_BOOL('v', "verbose", &verbose, "print the parameter count"),
            OPT_HELP(),
            /* "init VERSION", as init has always printed it */
            OPT_BOOL('V', "version", &version, "the version"),
            OPT_END(),
        };
        const struct opt *tabs[] = {opts, NULL};
        argi = opt_parse(&prog, tabs, argc, argv);
    }
    if (version) {
        printf("init %s\n", PT_VERSION);
        return fflush(stdout) || ferror(stdout) ? 1 : 0;
    }
    fresh = preset || config || seed_given || tokenizer || vocab || std >= 0 || reward;
    if (base) {
        if (fresh)
            opt_usage_error(&prog, "--merge takes the checkpoint BASE: no -p, -c, -s, -t,"
                            " --vocab-size, --std or --reward");
        if (argi + 1 != argc)
            opt_usage_error(&prog, "--merge BASE needs one operand, the adapter directory");
        if (!out)
            opt_usage_error(&prog, "-o DIR is required");
        merge(base, argv[argi], out, &fmt, force, verbose);
        return 0;
    }
    if (argi < argc)
        opt_usage_error(&prog, "unexpected operand '%s'", argv[argi]);
    if (!out)
        opt_usage_error(&prog, "-o DIR is required");
    if (preset && config)
        opt_usage_error(&prog, "--preset and --config exclude each other");
    if (config) {
        if (ckpt_read_config(config, &c, &cj, &err))
            die("%s", sbuf_str(&err));
    } else {
        if (!preset)
            preset = "tiny";
        if (ckpt_preset(preset, &c))
            opt_usage_error(&prog, "--preset: '%s' is not one of %s", preset, CKPT_PRESETS);
    }
    if (vocab)
        c.vocab_size = (int)vocab;
    if (reward) {
        c.arch = MODEL_SEQ_CLS;
        c.num_labels = 1;
    }
    {
        const char *why;
        if (model_config_check(&c, &why))
            die("%s: %s", config ? config : preset, why);
    }
    if (tokenizer) {
        struct sbuf terr = SBUF_INIT;
        struct tok *tk = tok_load(tokenizer, &terr);
        long mx;
        if (!tk)   /* a checkpoint no tool could read */
            die("%s", sbuf_str(&terr));
        tok_free(tk);
        mx = tokenizer_max_id(tokenizer);
        if (mx >= c.vocab_size)
            die("%s: token id %ld does not fit vocab_size %d (see --vocab-size)", tokenizer,
                mx, c.vocab_size);
    }
    if (std < 0) {
        json_t *ir = json_object_get(cj, "initializer_range");
        std = json_is_number(ir) ? json_number_value(ir) : 0.02;
    }
    if (!force && stat(out, &st) == 0)
        die("%s: exists (use --force to replace it)", out);

    {
        char *failed;
        if (mkdir_parents(out, &failed) < 0)
            die_errno("%s", failed);
    }
    m = model_new(&c);
    model_init_random(m, seed, (float)std);
    if (ckpt_save_as(out, m, cj, NULL, NULL, tokenizer, &fmt, &err))
        die("%s", sbuf_str(&err));
    if (verbose)
        fprintf(stderr, "%s: %zu parameters written to %s\n", util_prog(), m->nparams, out);
    model_free(m);
    json_decref(cj);
    sbuf_release(&err);
    return 0;
}
