/*
 * lm.h - opening a checkpoint directory as a language model for text:
 * the weights (lib/ckpt), the tokenizer beside them (lib/tok) and the
 * chat format that renders turns (lib/chat), with the checks that tie
 * them together.  gen and score-rm open their model here; what they do
 * with it is theirs.
 *
 * Two steps, so that a caller checks the architecture it needs between
 * them with its own message:
 *
 *     struct sbuf err = SBUF_INIT;
 *     struct model *m = lm_load(dir, 0, &err);
 *     if (!m) die("%s", sbuf_str(&err));
 *     if (m->cfg.arch != MODEL_CAUSAL_LM) die(...);
 *     if (lm_chat_open(dir, m, format, flags, &tk, &chat, &err) < 0)
 *         die("%s", sbuf_str(&err));
 *     ...
 *     if (lm_adapter(m, adapter_dir, &err) < 0) die(...);   (optional)
 *     ...
 *     chat_release(&chat); tok_free(tk); lm_free(m);
 *
 * Or in one step, the weights, their adapter and compute type, the
 * tokenizer and the chat format as a tool's options chose them
 * (tool.h's model group fills a struct lm_spec):
 *
 *     struct lm_spec s = {.dir = dir, .arch = MODEL_CAUSAL_LM,
 *                         .arch_error = "a reward model has no LM head"};
 *     struct lm lm;
 *     if (lm_open(&lm, &s, &err) < 0) die("%s", sbuf_str(&err));
 *     ... lm.m, lm.tk, &lm.chat ...
 *     lm_close(&lm);
 *
 * Errors follow lib/'s rule (util.h): -1 or NULL, the message appended
 * to err, naming the directory.
 */
#ifndef POSTTRAIN_LM_H
#define POSTTRAIN_LM_H

#include "chat.h"
#include "model.h"
#include "tok.h"
#include "util.h"

/*
 * The checkpoint in dir (ckpt_load() flags), after checking that dir is a
 * directory.  New; NULL with a message in err.
 */
struct model *lm_load(const char *dir, int flags, struct sbuf *err);

/*
 * Attaches the adapter directory adapter (lora.h, PEFT's layout) to m,
 * which then runs with it: m->lora, freed by lm_free().  NULL adapter:
 * nothing.  0, or -1 with a message (naming the file and field) in err.
 */
int lm_adapter(struct model *m, const char *adapter, struct sbuf *err);
/* Frees m and its adapter; NULL is allowed. */
void lm_free(struct model *m);

/*
 * dir's tokenizer (new, into *tk) and the chat format over it (into
 * *chat, chat_init() format and flags).  The tokenizer must not have more
 * ids than m's vocabulary; m NULL: a tool that reads the tokenizer and
 * not the weights (pack).  0, or -1 with a message in err and nothing to
 * free.
 */
int lm_chat_open(const char *dir, const struct model *m, enum chat_format format,
                 unsigned flags, struct tok **tk, struct chat *chat, struct sbuf *err);

/* What lm_open() opens. */
struct lm_spec {
    const char *dir;            /* the checkpoint (borrowed) */
    const char *adapter;        /* a LoRA adapter directory, or NULL */
    int ckpt_flags;             /* ckpt_load() flags (CKPT_AS_SEQ_CLS) */
    int any_arch;               /* 1: no architecture check */
    enum model_arch arch;       /* the architecture needed */
    const char *arch_error;     /* "'DIR': ARCH_ERROR" when it is another */
    int bf16;                   /* products in bf16 (model_use_bf16()) */
    enum chat_format format;    /* chat_init() format and flags */
    unsigned chat_flags;
};

/* A model opened for text: owned by the struct, lm_close() frees it. */
struct lm {
    struct model *m;
    struct tok *tk;
    struct chat chat;
};

/*
 * lm_load(), the architecture check, lm_adapter(), bf16 products when
 * asked, then lm_chat_open().  0, or -1 with a message in err and lm
 * empty (nothing to free).
 */
int lm_open(struct lm *lm, const struct lm_spec *s, struct sbuf *err);
/* Frees what lm_open() opened; an empty lm (all zero) is allowed. */
void lm_close(struct lm *lm);

#endif
