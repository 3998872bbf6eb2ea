/*
 * fuzz_chat.c - the chat renderer (lib/chat) on arbitrary system prompt,
 * prompt and response bytes (the input split at its first two NUL bytes),
 * with the built-in tokenizer's format, plain and with special-token
 * strings honoured, with and without <think>.  Every id must be in range;
 * a prompt starts with <|bos|> and ends with the assistant turn's opening;
 * an SFT sample is the prompt's ids then the response's, its mask 0 on
 * the first and 1 on the second, ending in the end-of-turn id; and with
 * CHAT_PLAIN the content between the markers decodes back to the text
 * when that is valid UTF-8.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether s is valid UTF-8: utf8_lossy leaves it as it is. */
static int
valid_utf8(const char *s)
{
    struct sbuf sb = SBUF_INIT;
    int ok;

    utf8_lossy(&sb, s, strlen(s));
    ok = strcmp(sbuf_str(&sb), s) == 0;
    sbuf_release(&sb);
    return ok;
}

/* ids[from, to) decoded: the text between two markers */
static int
decodes_to(struct tok *t, const struct tok_ids *ids, size_t from, size_t to, const char *want)
{
    struct sbuf sb = SBUF_INIT;
    int ok;

    tok_decode(t, ids->v + from, to - from, 0, &sb);
    ok = strcmp(sbuf_str(&sb), want) == 0;
    sbuf_release(&sb);
    return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned flags[] = { 0, CHAT_PLAIN, CHAT_THINK, CHAT_PLAIN | CHAT_THINK };
    char *buf = malloc(size + 3), *sys, *prompt, *resp;
    struct tok *t = tok_builtin();
    struct tok_ids p = TOK_IDS_INIT, ids = TOK_IDS_INIT, mask = TOK_IDS_INIT;
    size_t f, i;
    int V = tok_vocab_size(t);
    struct sbuf err = SBUF_INIT;

    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = buf[size + 2] = 0;
    sys = buf;
    prompt = sys + strlen(sys) + 1;
    if (prompt > buf + size)
        prompt = buf + size + 1;
    resp = prompt + strlen(prompt) + 1;
    if (resp > buf + size + 1)
        resp = buf + size + 2;
    for (f = 0; f < sizeof(flags) / sizeof(flags[0]); f++) {
        struct chat c;

        if (chat_init(&c, t, CHAT_BUILTIN, flags[f], &err) != 0)
            abort();
        p.n = ids.n = mask.n = 0;
        chat_prompt(&c, *sys ? sys : NULL, prompt, &p);
        for (i = 0; i < p.n; i++)
            if (p.v[i] < 0 || p.v[i] >= V)
                abort();
        if (p.n < 3 || p.v[0] != TOK_BOS)
            abort();
        chat_sample(&c, *sys ? sys : NULL, prompt, resp, &ids, &mask);
        if (ids.n != mask.n || ids.n <= p.n || memcmp(ids.v, p.v, p.n * sizeof(int)) != 0 ||
            ids.v[ids.n - 1] != c.eos)
            abort();
        for (i = 0; i < ids.n; i++)
            if (ids.v[i] < 0 || ids.v[i] >= V || mask.v[i] != (i >= p.n))
                abort();
        if ((flags[f] & CHAT_PLAIN) && !(flags[f] & CHAT_THINK) && valid_utf8(prompt) &&
            valid_utf8(resp)) {
            /* [bos]...[user]PROMPT[assistant]: the prompt's text sits
             * between the last two markers */
            size_t end = p.n - 1, start = end;
            while (start > 0 && p.v[start - 1] != TOK_USER)
                start--;
            if (start == 0 || p.v[end] != TOK_ASSISTANT || !decodes_to(t, &p, start, end, prompt))
                abort();
            if (!decodes_to(t, &ids, p.n, ids.n - 1, resp))
                abort();
        }
        chat_release(&c);
    }
    tok_ids_release(&p);
    tok_ids_release(&ids);
    tok_ids_release(&mask);
    tok_free(t);
    sbuf_release(&err);
    free(buf);
    return 0;
}
