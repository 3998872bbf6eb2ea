/*
 * tok.h - tokenizers: Hugging Face tokenizer.json (byte-level BPE) and the
 * built-in byte tokenizer.
 *
 * What a tokenizer.json may hold here: model BPE over byte-level symbols
 * (GPT-2, Llama 3, Qwen2/Qwen3, DeepSeek-V3 and their kin), pre-tokenizers
 * Sequence / Split (regex or string; Isolated, Removed, MergedWithPrevious,
 * MergedWithNext) / ByteLevel / Digits, normalizers Sequence / NFC / NFD /
 * NFKC / NFKD / Lowercase, post-processors ByteLevel / TemplateProcessing /
 * RobertaProcessing / BertProcessing, decoder ByteLevel, added tokens
 * (special or not, normalized or not, lstrip, rstrip, single_word).
 * Anything else (WordPiece, Unigram, Metaspace, ...) fails to load with a
 * message naming it.  Split regexes run on PCRE2 with its JIT; '\s' and '\S'
 * are rewritten to Oniguruma's meaning (U+0009..U+000D, U+0085, and the
 * general categories Zs, Zl, Zp), which is what the Rust tokenizers crate
 * matches, not PCRE2's own.
 *
 * Encoding follows the tokenizers crate step by step:
 *   1. added tokens with normalized=false are cut out of the raw text
 *      (leftmost-longest);
 *   2. each remaining piece is normalized, then added tokens with
 *      normalized=true are cut out of it;
 *   3. each remaining piece is pre-tokenized into words;
 *   4. each word is mapped to byte-level symbols and merged by BPE, lowest
 *      merge rank first, leftmost first among equal ranks (a heap over the
 *      adjacent pairs: O(n log n) for a word of n bytes).  With
 *      ignore_merges (Llama 3) a word that is itself in the vocabulary is
 *      one token.  Words of up to TOK_CACHE_WORD bytes are cached.
 *   5. with TOK_ADD_SPECIAL the post-processor's prefix/suffix ids (BOS)
 *      are added.  transformers' LlamaTokenizerFast rebuilds that
 *      post-processor from tokenizer_config.json's add_bos_token and
 *      add_eos_token (DeepSeek-V3 ships a ByteLevel post-processor and
 *      add_bos_token=true: transformers prepends BOS); tok_load() reads
 *      tokenizer_config.json beside the tokenizer.json and does the same.
 *
 * The built-in tokenizer (tok_builtin()) has a fixed vocabulary of 264:
 * ids 0..255 are the bytes, then the specials below.  Special-token strings
 * in text encode to their ids unless TOK_PLAIN is given.
 *
 * Invariants: ids are in [0, tok_vocab_size()); every id decodes to a byte
 * string (possibly empty for unused ids); for text without special-token
 * strings and a tokenizer without a normalizer,
 * decode(encode(text)) == text byte for byte.
 *
 * Thread safety: a struct tok keeps scratch buffers and a word cache, so
 * one struct tok must not be used by two threads at once.  Load one per
 * thread (or lock around calls).
 *
 *     struct tok *t = tok_load_dir("ckpt/step-0", &err);  (or the built-in one)
 *     struct tok_ids ids = TOK_IDS_INIT;
 *     tok_encode(t, text, strlen(text), 0, &ids);  (TOK_ADD_SPECIAL: + BOS)
 *     for (size_t i = 0; i < ids.n; i++) printf("%d\n", ids.v[i]);
 *     struct sbuf sb = SBUF_INIT;
 *     tok_decode(t, ids.v, ids.n, 0, &sb);           (sb.buf == text)
 *     sbuf_release(&sb); tok_ids_release(&ids); tok_free(t);
 *
 * Streaming decode (gen), emitting only whole UTF-8 characters:
 *     struct tok_stream ts;
 *     tok_stream_init(&ts, t, TOK_SKIP_SPECIAL);
 *     for each sampled id:
 *         if (chat_is_stop(&c, id)) break;
 *         tok_stream_push(&ts, id, &sb);  (write sb.buf, sb.len)
 *         sbuf_reset(&sb);
 *     tok_stream_finish(&ts, &sb); tok_stream_release(&ts);
 */
#ifndef POSTTRAIN_TOK_H
#define POSTTRAIN_TOK_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Ids of the built-in tokenizer (fixed: other modules rely on them). */
enum tok_builtin_id {
    TOK_BYTES = 256,        /* ids 0..255: the bytes themselves */
    TOK_BOS = 256,          /* <|bos|> */
    TOK_EOS = 257,          /* <|eos|> */
    TOK_PAD = 258,          /* <|pad|> */
    TOK_SYSTEM = 259,       /* <|system|> */
    TOK_USER = 260,         /* <|user|> */
    TOK_ASSISTANT = 261,    /* <|assistant|> */
    TOK_THINK = 262,        /* <think> */
    TOK_END_THINK = 263,    /* </think> */
    TOK_BUILTIN_VOCAB = 264,
};

/* Longest word (in bytes) kept in the BPE word cache. */
#define TOK_CACHE_WORD 64

enum tok_flags {
    TOK_ADD_SPECIAL = 1 << 0,   /* encode: add the post-processor's BOS/EOS */
    TOK_PLAIN = 1 << 1,         /* encode: special-token strings are text */
    TOK_SKIP_SPECIAL = 1 << 2,  /* decode: leave special tokens out */
};

struct tok;

/* A growable array of token ids; owned by whoever declared it. */
struct tok_ids {
    int *v;
    size_t n, cap;
};
#define TOK_IDS_INIT { NULL, 0, 0 }
void tok_ids_push(struct tok_ids *a, int id);
void tok_ids_append(struct tok_ids *a, const int *ids, size_t n);
void tok_ids_release(struct tok_ids *a);

/*
 * Loads a tokenizer.json (and reads tokenizer_config.json in the same
 * directory when there is one).  Returns a new tokenizer, or NULL with a
 * message ("FILE: what is wrong") appended to err.
 */
struct tok *tok_load(const char *path, struct sbuf *err);
/*
 * The tokenizer of a checkpoint directory: DIR/tokenizer.json if it
 * exists, else the built-in tokenizer.  Returns a new tokenizer, or NULL
 * with "DIR/tokenizer.json: ..." appended to err when the file is there
 * but cannot be read or loaded.
 */
struct tok *tok_load_dir(const char *dir, struct sbuf *err);
/* The built-in byte tokenizer (new). */
struct tok *tok_builtin(void);
void tok_free(struct tok *t);

/* 1 for the built-in tokenizer. */
int tok_is_builtin(const struct tok *t);
/* One more than the largest id. */
int tok_vocab_size(const struct tok *t);
/* Where it was loaded from ("builtin" for the built-in one); borrowed. */
const char *tok_source(const struct tok *t);

/*
 * Encodes len bytes of text (UTF-8; invalid bytes are encoded as bytes),
 * appending ids to out; out is not reset first.  Returns 0: every byte has
 * a token (tok_load checks it).  Dies only if PCRE2 itself fails.  For chat
 * prompts and responses use chat.h, which calls this.
 */
int tok_encode(struct tok *t, const char *text, size_t len, unsigned flags,
               struct tok_ids *out);

/*
 * Appends the text of ids to out as valid UTF-8: byte sequences that are
 * not UTF-8 become U+FFFD, one per maximal invalid subpart (as Rust's
 * String::from_utf8_lossy).  flags: TOK_SKIP_SPECIAL.  Ids out of range
 * are skipped.
 */
void tok_decode(const struct tok *t, const int *ids, size_t n, unsigned flags,
                struct sbuf *out);

/*
 * The raw bytes of one token (borrowed, valid as long as t; not
 * NUL-terminated), *len set; NULL for an id out of range.
 */
const char *tok_piece(const struct tok *t, int id, size_t *len);
/* The token's string as written in tokenizer.json (byte-level form for
 * vocabulary tokens); borrowed, NUL-terminated, NULL if out of range. */
const char *tok_name(const struct tok *t, int id);
/* 1 if id is an added token marked special. */
int tok_is_special(const struct tok *t, int id);

/* The id of an added or vocabulary token given by its content (as in
 * tokenizer.json, e.g. "<|im_end|>"), or -1. */
int tok_token_id(const struct tok *t, const char *content);
/* BOS/EOS as tokenizer_config.json (or the built-in vocabulary) names
 * them, or -1 when there is none. */
int tok_bos(const struct tok *t);
int tok_eos(const struct tok *t);
/* The tokenizer_config.json "chat_template" string, or NULL; borrowed. */
const char *tok_chat_template(const struct tok *t);

/*
 * Incremental decoding: push ids one at a time, get text out as soon as
 * it forms whole UTF-8 characters.  The stream borrows t.
 */
struct tok_stream {
    const struct tok *t;
    unsigned flags;
    char pend[8];
    size_t npend;
};
void tok_stream_init(struct tok_stream *ts, const struct tok *t,
                     unsigned flags);
/* Appends the complete characters now available to out. */
void tok_stream_push(struct tok_stream *ts, int id, struct sbuf *out);
/* Appends what is left (an incomplete sequence becomes U+FFFD). */
void tok_stream_finish(struct tok_stream *ts, struct sbuf *out);
void tok_stream_release(struct tok_stream *ts);

/*
 * Appends s (n bytes) to out with invalid UTF-8 replaced as tok_decode
 * does.
 */
void utf8_lossy(struct sbuf *out, const char *s, size_t n);

#endif
