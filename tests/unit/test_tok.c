/*
 * test_tok.c - the built-in tokenizer, and byte-level BPE on the tiny
 * tokenizer.json of tinytok.h, against ids worked out by hand.  (The real
 * tokenizers are compared with Hugging Face's in tests/cli/tok/.)
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tinytok.h"
#include "tok.h"

/* ids equal to the n given */
#define ENC(t, s, flags, ...)                                              \
    do {                                                                    \
        static const int want_[] = {__VA_ARGS__};                           \
        struct tok_ids ids_ = TOK_IDS_INIT;                                 \
        CHECK(tok_encode((t), (s), strlen(s), (flags), &ids_) == 0);        \
        CHECK_MSG(ids_eq(&ids_, want_, sizeof(want_) / sizeof(int)), "%s", s); \
        tok_ids_release(&ids_);                                             \
    } while (0)

/* decode(ids) == want */
static void
dec(const struct tok *t, const int *ids, size_t n, unsigned flags,
    const char *want)
{
    struct sbuf sb = SBUF_INIT;

    tok_decode(t, ids, n, flags, &sb);
    CHECK_STREQ(sbuf_str(&sb), want);
    sbuf_release(&sb);
}

static void
test_builtin(void)
{
    struct tok *t = tok_builtin();
    struct tok_ids ids = TOK_IDS_INIT;
    struct sbuf sb = SBUF_INIT;
    struct tok_stream ts;
    const char *s =
        "<|bos|><|eos|><|pad|><|system|><|user|><|assistant|><think></think>";
    size_t len;

    CHECK(tok_is_builtin(t));
    CHECK(tok_vocab_size(t) == 264);
    CHECK(tok_bos(t) == 256 && tok_eos(t) == 257);
    CHECK(tok_token_id(t, "<|assistant|>") == 261);
    CHECK(tok_token_id(t, "</think>") == 263);
    CHECK(tok_token_id(t, "<|nope|>") == -1);
    CHECK(tok_is_special(t, 258) && !tok_is_special(t, 65));
    ENC(t, "hi", 0, 104, 105);
    ENC(t, s, 0, 256, 257, 258, 259, 260, 261, 262, 263);
    ENC(t, "<|user|>hi<|assistant|>", 0, 260, 104, 105, 261);
    ENC(t, "<think>x</think>", 0, 262, 120, 263);
    ENC(t, "<|us<|user|", 0, 60, 124, 117, 115, 60, 124, 117, 115, 101, 114,
        124);
    ENC(t, "<|eos|>", TOK_PLAIN, 60, 124, 101, 111, 115, 124, 62);
    ENC(t, "a", TOK_ADD_SPECIAL, 256, 97);
    ENC(t, "\xe4\xb8\xad\xff", 0, 0xe4, 0xb8, 0xad, 0xff);
    /* empty text: nothing, or only BOS */
    CHECK(tok_encode(t, "", 0, 0, &ids) == 0 && ids.n == 0);
    CHECK(tok_encode(t, "", 0, TOK_ADD_SPECIAL, &ids) == 0 && ids.n == 1 &&
          ids.v[0] == 256);
    ids.n = 0;
    tok_encode(t, s, strlen(s), 0, &ids);
    dec(t, ids.v, ids.n, 0, s);
    dec(t, ids.v, ids.n, TOK_SKIP_SPECIAL, "");
    {
        static const int a[] = {0xff, 'a'}, b[] = {0xe4, 0xb8},
                         c[] = {0xe4, 0xb8, 0xad};
        static const int d[] = {0xf0, 0x9f, 0x98, 'x', 0xed, 0xa0, 0x80};
        dec(t, a, 2, 0, "\xef\xbf\xbd" "a");
        dec(t, b, 2, 0, "\xef\xbf\xbd");          /* one maximal subpart */
        dec(t, c, 3, 0, "\xe4\xb8\xad");
        /* F0 9F 98 is one subpart; ED A0 80 (a surrogate) is three */
        dec(t, d, 7, 0, "\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    }
    CHECK(tok_piece(t, 264, &len) == NULL && tok_piece(t, -1, &len) == NULL);
    CHECK(tok_piece(t, 261, &len) != NULL && len == 13);
    CHECK_STREQ(tok_name(t, 32), "\xc4\xa0");   /* Ġ */
    /* streaming: a character split over three tokens comes out whole */
    tok_stream_init(&ts, t, TOK_SKIP_SPECIAL);
    tok_stream_push(&ts, 0xe4, &sb);
    CHECK(sb.len == 0);
    tok_stream_push(&ts, 0xb8, &sb);
    CHECK(sb.len == 0);
    tok_stream_push(&ts, 0xad, &sb);
    CHECK_STREQ(sbuf_str(&sb), "\xe4\xb8\xad");
    tok_stream_push(&ts, 257, &sb);
    tok_stream_push(&ts, 'o', &sb);
    tok_stream_push(&ts, 0xff, &sb);
    tok_stream_push(&ts, 0xc3, &sb);
    CHECK_STREQ(sbuf_str(&sb), "\xe4\xb8\xado\xef\xbf\xbd");
    tok_stream_finish(&ts, &sb);
    CHECK_STREQ(sbuf_str(&sb), "\xe4\xb8\xado\xef\xbf\xbd\xef\xbf\xbd");
    tok_stream_release(&ts);
    sbuf_release(&sb);
    tok_ids_release(&ids);
    tok_free(t);
}

static void
test_bpe(void)
{
    struct sbuf err = SBUF_INIT;
    struct tok *t, *u;
    static const int hw[] = {258, 111, 262, 108, 100};

    CHECK(tinytok_write("tiny", 0, 0, NULL) == 0);
    t = tok_load("tiny/tokenizer.json", &err);
    CHECK_MSG(t != NULL, "%s", sbuf_str(&err));
    if (!t)
        return;
    CHECK(tok_vocab_size(t) == 313);
    CHECK(!tok_is_builtin(t));
    /* hello: he, ll, then hell (ranks 0, 1, 2); " world": Ġw, or, Ġwor */
    ENC(t, "hello world", 0, 258, 111, 262, 108, 100);
    ENC(t, "hello world", TOK_ADD_SPECIAL, 258, 111, 262, 108, 100);
    /* equal ranks: leftmost first */
    ENC(t, "aaa", 0, 260, 97);
    ENC(t, "aaaa", 0, 260, 260);
    ENC(t, "aaaaa", 0, 260, 260, 97);
    /* "xyz" is in the vocabulary but no merge makes it */
    ENC(t, "xyz", 0, 120, 121, 122);
    /* added tokens: longest match, before pre-tokenization */
    ENC(t, "<|im_start|>hello<|im_end|>", 0, 300, 258, 111, 301);
    ENC(t, "<|imx", 0, 312, 120);
    ENC(t, "<|im_start|>", TOK_PLAIN, 60, 124, 105, 109, 95, 115, 116, 97, 114,
        116, 124, 62);
    /* non-special added tokens still match in plain mode */
    ENC(t, "<\xef\xbd\x9cUser\xef\xbd\x9c><think>", TOK_PLAIN, 305, 311);
    /* pre-tokenizer: digits in threes, white space runs */
    ENC(t, "12345", 0, '1', '2', '3', '4', '5');
    {
        struct tok_ids ids = TOK_IDS_INIT;
        tok_encode(t, "", 0, 0, &ids);
        CHECK(ids.n == 0);
        tok_ids_release(&ids);
    }
    dec(t, hw, 5, 0, "hello world");
    {
        static const int a[] = {303, 258, 311, 300};
        dec(t, a, 4, 0,
            "<\xef\xbd\x9c"
            "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>hell<think><|"
            "im_start|>");
        dec(t, a, 4, TOK_SKIP_SPECIAL, "hell<think>");
    }
    CHECK(tok_token_id(t, "<|eot_id|>") == 310);
    CHECK(tok_token_id(t, "hell") == 258);
    CHECK(tok_bos(t) == -1 && tok_chat_template(t) == NULL);
    tok_free(t);

    /* ignore_merges: a word that is a vocabulary entry is one token */
    CHECK(tinytok_write("im", 1, 0, NULL) == 0);
    u = tok_load("im/tokenizer.json", &err);
    CHECK_MSG(u != NULL, "%s", sbuf_str(&err));
    if (u) {
        ENC(u, "xyz hello", 0, 263, 32, 258, 111);
        tok_free(u);
    }

    /* NFC normalizer: e + U+0301 becomes U+00E9 before BPE */
    CHECK(tinytok_write("nfc", 0, 1, NULL) == 0);
    u = tok_load("nfc/tokenizer.json", &err);
    CHECK_MSG(u != NULL, "%s", sbuf_str(&err));
    if (u) {
        ENC(u, "e\xcc\x81", 0, 0xc3, 0xa9);
        ENC(u, "<|im_end|>e\xcc\x81", 0, 301, 0xc3, 0xa9);
        /* Hangul LV + T compose; U+212B ANGSTROM SIGN is U+00C5; a mark
         * after CJK stays; ASCII around them is untouched */
        ENC(u, "\xea\xb0\x80\xe1\x86\xa8", 0, 0xea, 0xb0, 0x81);
        ENC(u, "A\xe2\x84\xab", 0, 'A', 0xc3, 0x85);
        ENC(u, "\xe4\xb8\xad\xcc\x81", 0, 0xe4, 0xb8, 0xad, 0xcc, 0x81);
        ENC(u, "a\xcc\x8a\xcc\xa3", 0, 0xe1, 0xba, 0xa1, 0xcc, 0x8a);
        tok_free(u);
    }

    /* tokenizer_config.json: LlamaTokenizerFast with add_bos_token adds BOS */
    CHECK(
        tinytok_write(
            "bos", 0, 0,
            "{\"tokenizer_class\": \"LlamaTokenizerFast\", \"add_bos_token\": "
            "true,"
            " \"bos_token\": {\"content\": \"<|begin_of_text|>\"},"
            " \"eos_token\": \"<|eot_id|>\", \"chat_template\": \"{{x}}\"}") ==
        0);
    u = tok_load("bos/tokenizer.json", &err);
    CHECK_MSG(u != NULL, "%s", sbuf_str(&err));
    if (u) {
        ENC(u, "hello", TOK_ADD_SPECIAL, 307, 258, 111);
        ENC(u, "hello", 0, 258, 111);
        CHECK(tok_bos(u) == 307 && tok_eos(u) == 310);
        CHECK_STREQ(tok_chat_template(u), "{{x}}");
        tok_free(u);
    }
    u = tok_load_dir("bos", &err);
    CHECK(u && !tok_is_builtin(u));
    tok_free(u);
    u = tok_load_dir("no-such-dir", &err);
    CHECK(u && tok_is_builtin(u));
    tok_free(u);
    sbuf_release(&err);
}

static void
test_errors(void)
{
    struct sbuf err = SBUF_INIT;
    FILE *f;

    CHECK(tok_load("missing.json", &err) == NULL);
    CHECK(strstr(sbuf_str(&err), "missing.json") != NULL);
    f = fopen("wp.json", "w");
    fputs("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}, "
          "\"added_tokens\": []}",
          f);
    fclose(f);
    CHECK(tok_load("wp.json", &err) == NULL);
    CHECK_MSG(strstr(sbuf_str(&err), "WordPiece") != NULL, "%s", sbuf_str(&err));
    sbuf_release(&err);
}

int
main(void)
{
    test_builtin();
    test_bpe();
    test_errors();
    return check_done();
}
