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
 * ids than m's vocabulary.  0, or -1 with a message in err and nothing to
 * free.
 */
int lm_chat_open(const char *dir, const struct model *m, enum chat_format format,
                 unsigned flags, struct tok **tk, struct chat *chat, struct sbuf *err);

#endif
