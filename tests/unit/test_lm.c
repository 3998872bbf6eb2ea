/*
 * test_lm.c - opening a checkpoint directory for text: the messages for
 * a missing path, a file, a tokenizer larger than the model, and a good
 * opening with the built-in tokenizer (a directory without
 * tokenizer.json).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "lm.h"

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
    return check_done();
}
