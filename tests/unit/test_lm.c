/*
 * test_lm.c - opening a checkpoint directory for text: the messages for
 * a missing path, a file, a tokenizer larger than the model, and a good
 * opening with the built-in tokenizer (a directory without
 * tokenizer.json); lm_open's architecture check, bf16 copies and chat
 * format on a small saved checkpoint.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "ckpt.h"
#include "lm.h"

/* lm_open on a small causal LM saved as "lmck" (built-in tokenizer: 264 ids). */
static void
test_open(void)
{
    struct model_config c = {0};
    struct model *m;
    struct sbuf err = SBUF_INIT;
    struct lm_spec s = {0};
    struct lm lm;

    c.arch = MODEL_CAUSAL_LM;
    strcpy(c.model_type, "llama");
    c.dim = 16;
    c.hidden_dim = 24;
    c.n_layers = 1;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 4;
    c.vocab_size = 264;
    c.max_pos = 32;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000;
    c.num_labels = 1;
    c.bos_id = 1;
    c.eos_id = 2;
    c.pad_id = -1;
    m = model_new(&c);
    model_init_random(m, 1, 0.1f);
    CHECK(ckpt_save("lmck", m, NULL, NULL, NULL, NULL, &err) == 0);
    model_free(m);

    s.dir = "lmck";
    s.arch = MODEL_SEQ_CLS;
    s.arch_error = "not a reward model";
    CHECK(lm_open(&lm, &s, &err) == -1);
    CHECK_STREQ(sbuf_str(&err), "'lmck': not a reward model");
    CHECK(lm.m == NULL && lm.tk == NULL);
    lm_close(&lm);
    sbuf_reset(&err);

    s.any_arch = 1;
    s.adapter = "no-such-adapter";
    CHECK(lm_open(&lm, &s, &err) == -1);
    CHECK_STREQ(sbuf_str(&err), "'no-such-adapter': No such file or directory");
    CHECK(lm.m == NULL);
    sbuf_reset(&err);

    s.any_arch = 0;
    s.arch = MODEL_CAUSAL_LM;
    s.adapter = NULL;
    s.bf16 = 1;
    s.format = CHAT_BUILTIN;
    s.chat_flags = CHAT_THINK;
    CHECK(lm_open(&lm, &s, &err) == 0);
    CHECK_STREQ(sbuf_str(&err), "");
    CHECK(lm.m != NULL && lm.m->w16 != NULL && lm.tk != NULL && lm.chat.tok == lm.tk);
    CHECK(lm.chat.format == CHAT_BUILTIN && (lm.chat.flags & CHAT_THINK));
    lm_close(&lm);
    CHECK(lm.m == NULL && lm.tk == NULL);
    sbuf_release(&err);
}

int
main(void)
{
    struct sbuf err = SBUF_INIT;
    struct model m;
    struct tok *tk = NULL;
    struct chat chat;
    FILE *f;

    CHECK(lm_load("no-such-dir", 0, &err) == NULL);
    CHECK_STREQ(sbuf_str(&err), "'no-such-dir': No such file or directory");
    sbuf_reset(&err);
    f = fopen("plain-file", "w");
    CHECK(f != NULL);
    fclose(f);
    CHECK(lm_load("plain-file", 0, &err) == NULL);
    CHECK_STREQ(sbuf_str(&err), "'plain-file': not a directory");
    sbuf_reset(&err);

    /* lm_chat_open reads the model's vocabulary size only */
    CHECK(mkdir("ck", 0777) == 0);
    memset(&m, 0, sizeof(m));
    m.cfg.vocab_size = 100;
    CHECK(lm_chat_open("ck", &m, CHAT_AUTO, 0, &tk, &chat, &err) == -1);
    CHECK_STREQ(sbuf_str(&err), "'ck': the tokenizer has 264 ids, the model 100");
    CHECK(tk == NULL);
    sbuf_reset(&err);
    m.cfg.vocab_size = 264;
    CHECK(lm_chat_open("ck", &m, CHAT_AUTO, CHAT_THINK, &tk, &chat, &err) == 0);
    CHECK(tk != NULL && tok_is_builtin(tk) && chat.tok == tk);
    CHECK(err.len == 0);
    chat_release(&chat);
    tok_free(tk);
    sbuf_release(&err);
    test_open();
    return check_done();
}
