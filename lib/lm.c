/*
 * lm.c - a checkpoint directory opened for text.  See lm.h.
 */
#include "lm.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "ckpt.h"
#include "kern.h"
#include "lora.h"
#include "w16.h"

struct model *
lm_load(const char *dir, int flags, struct sbuf *err)
{
    struct stat sb;

    if (stat(dir, &sb) != 0) {
        sbuf_addf(err, "'%s': %s", dir, strerror(errno));
        return NULL;
    }
    if (!S_ISDIR(sb.st_mode)) {
        sbuf_addf(err, "'%s': not a directory", dir);
        return NULL;
    }
    return ckpt_load(dir, flags, NULL, err);
}

int
lm_adapter(struct model *m, const char *adapter, struct sbuf *err)
{
    struct stat sb;

    if (!adapter)
        return 0;
    if (stat(adapter, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        sbuf_addf(err, "'%s': %s", adapter,
                  stat(adapter, &sb) != 0 ? strerror(errno) : "not a directory");
        return -1;
    }
    m->lora = lora_load(adapter, m, err);
    return m->lora ? 0 : -1;
}

void
lm_free(struct model *m)
{
    if (!m)
        return;
    lora_free(m->lora);
    m->lora = NULL;
    model_free(m);
}

int
lm_chat_open(const char *dir, const struct model *m, enum chat_format format, unsigned flags,
             struct tok **tk, struct chat *chat, struct sbuf *err)
{
    struct sbuf cerr = SBUF_INIT;
    struct tok *t = tok_load_dir(dir, err);

    if (!t)
        return -1;
    if (m && tok_vocab_size(t) > m->cfg.vocab_size) {
        sbuf_addf(err, "'%s': the tokenizer has %d ids, the model %d", dir, tok_vocab_size(t),
                  m->cfg.vocab_size);
        goto fail;
    }
    if (chat_init(chat, t, format, flags, &cerr) < 0) {
        sbuf_addf(err, "'%s': %s", dir, sbuf_str(&cerr));
        goto fail;
    }
    sbuf_release(&cerr);
    *tk = t;
    return 0;
fail:
    sbuf_release(&cerr);
    tok_free(t);
    return -1;
}

int
lm_open(struct lm *lm, const struct lm_spec *s, struct sbuf *err)
{
    memset(lm, 0, sizeof(*lm));
    lm->m = lm_load(s->dir, s->ckpt_flags, err);
    if (!lm->m)
        return -1;
    if (!s->any_arch && lm->m->cfg.arch != s->arch) {
        sbuf_addf(err, "'%s': %s", s->dir, s->arch_error);
        goto fail;
    }
    if (lm_adapter(lm->m, s->adapter, err) < 0)
        goto fail;
    if (s->bf16)
        model_use_bf16(lm->m, KERN16_AUTO, 0);
    if (lm_chat_open(s->dir, lm->m, s->format, s->chat_flags, &lm->tk, &lm->chat, err) < 0)
        goto fail;
    return 0;
fail:
    lm_free(lm->m);
    lm->m = NULL;
    return -1;
}

void
lm_close(struct lm *lm)
{
    if (lm->tk) {
        chat_release(&lm->chat);
        tok_free(lm->tk);
    }
    lm_free(lm->m);
    memset(lm, 0, sizeof(*lm));
}
