/*
 * tok.c - byte-level BPE tokenizers from Hugging Face tokenizer.json, and
 * the built-in byte tokenizer.  See tok.h for what is covered.
 *
 * The reference for every step is the Rust crate huggingface/tokenizers
 * (tokenizers/src/tokenizer/added_vocabulary.rs, pre_tokenizers/split.rs,
 * pre_tokenizers/byte_level.rs, models/bpe/word.rs); where this file and
 * that crate disagree on some input, this file is wrong.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "tok.h"

#include <errno.h>
#include <jansson.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

/* ---- small arrays ---- */

void
tok_ids_push(struct tok_ids *a, int id)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 64;
        a->v = xrealloc(a->v, xmul(a->cap, sizeof(*a->v)));
    }
    a->v[a->n++] = id;
}

void
tok_ids_append(struct tok_ids *a, const int *ids, size_t n)
{
    if (a->n + n > a->cap) {
        while (a->n + n > a->cap)
            a->cap = a->cap ? 2 * a->cap : 64;
        a->v = xrealloc(a->v, xmul(a->cap, sizeof(*a->v)));
    }
    if (n)
        memcpy(a->v + a->n, ids, n * sizeof(*ids));
    a->n += n;
}

void
tok_ids_release(struct tok_ids *a)
{
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

/* ---- UTF-8 ---- */

/*
 * Length of the valid UTF-8 sequence at s (n bytes available), or 0 if
 * s[0] does not start one; *need gets the sequence length the lead byte
 * announces, *ok how many of the following bytes are valid (for the
 * "maximal subpart" rule of Unicode 3.9 / U+FFFD substitution, which Rust's
 * from_utf8_lossy follows).
 */
static size_t
utf8_seq(const unsigned char *s, size_t n, size_t *prefix)
{
    unsigned char c = s[0];
    size_t need, i;
    unsigned char lo = 0x80, hi = 0xBF;

    *prefix = 0;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    for (i = 1; i < need; i++) {
        if (i >= n)
            break;
        if (s[i] < lo || s[i] > hi)
            break;
        lo = 0x80;
        hi = 0xBF;
    }
    *prefix = i;   /* lead byte plus valid continuation bytes seen */
    return i == need ? need : 0;
}

void
utf8_lossy(struct sbuf *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, start = 0, len, prefix;

    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        len = utf8_seq(s + i, n - i, &prefix);
        if (len) {
            i += len;
            continue;
        }
        sbuf_add(out, s + start, i - start);
        sbuf_add(out, "\xEF\xBF\xBD", 3);
        i += prefix ? prefix : 1;
        start = i;
    }
    sbuf_add(out, s + start, n - start);
}

/* Decodes one code point of valid UTF-8 (as PCRE2 and utf8proc leave it). */
static int32_t
utf8_cp(const unsigned char *s, size_t n, size_t *len)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate(s, (utf8proc_ssize_t)n, &cp);

    if (k <= 0) {
        *len = 1;
        return -1;
    }
    *len = (size_t)k;
    return cp;
}

/* Oniguruma's \s (and Rust's char::is_whitespace, for these ranges). */
static int
is_space_cp(int32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* ---- byte-level alphabet (GPT-2's bytes_to_unicode) ---- */

/*
 * Bytes that are printable in Latin-1 stand for themselves; the others
 * (controls, space, 0x7F..0xA0, 0xAD) are mapped in order to U+0100 and
 * up, so every byte is one visible character.
 */
static int32_t byte_cp[256];
static int16_t cp_byte[324];

static void
bytelevel_init(void)
{
    int b, n = 0;

    if (byte_cp['!'] == '!')
        return;
    for (b = 0; b < 324; b++)
        cp_byte[b] = -1;
    for (b = 0; b < 256; b++) {
        if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)
            byte_cp[b] = b;
        else
            byte_cp[b] = 256 + n++;
        cp_byte[byte_cp[b]] = (int16_t)b;
    }
}

/*
 * The raw bytes of a byte-level string, appended to out; returns 0, or -1
 * (nothing appended) when a character is outside the alphabet.
 */
static int
bytelevel_decode(struct sbuf *out, const char *s, size_t n)
{
    size_t i = 0, k, at = out->len;
    int32_t c;

    while (i < n) {
        c = utf8_cp((const unsigned char *)s + i, n - i, &k);
        if (c < 0 || c >= 324 || cp_byte[c] < 0) {
            out->len = at;
            return -1;
        }
        sbuf_addc(out, (char)cp_byte[c]);
        i += k;
    }
    return 0;
}

/* ---- hash tables ---- */

static inline uint64_t
hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

/* Byte string -> id, keys in one arena. */
struct strmap {
    uint32_t *slot;       /* index+1 into ent, 0 = empty */
    size_t mask;
    struct strmap_ent {
        uint64_t h;
        size_t off;
        uint32_t len;
        int id;
    } *ent;
    size_t n, cap;
    struct sbuf keys;
};

static void
strmap_init(struct strmap *m, size_t expect)
{
    size_t sz = 64;

    while (sz < 2 * expect)
        sz *= 2;
    memset(m, 0, sizeof(*m));
    m->slot = xcalloc(sz, sizeof(*m->slot));
    m->mask = sz - 1;
}

static void
strmap_release(struct strmap *m)
{
    free(m->slot);
    free(m->ent);
    sbuf_release(&m->keys);
}

static int
strmap_get(const struct strmap *m, const void *k, size_t n)
{
    uint64_t h = hash_bytes(k, n);
    size_t i = h & m->mask;
    uint32_t e;

    while ((e = m->slot[i]) != 0) {
        const struct strmap_ent *x = &m->ent[e - 1];
        if (x->h == h && x->len == n && memcmp(m->keys.buf + x->off, k, n) == 0)
            return x->id;
        i = (i + 1) & m->mask;
    }
    return -1;
}

static void
strmap_grow(struct strmap *m)
{
    size_t sz = 2 * (m->mask + 1), i, j;

    free(m->slot);
    m->slot = xcalloc(sz, sizeof(*m->slot));
    m->mask = sz - 1;
    for (i = 0; i < m->n; i++) {
        j = m->ent[i].h & m->mask;
        while (m->slot[j])
            j = (j + 1) & m->mask;
        m->slot[j] = (uint32_t)(i + 1);
    }
}

/* Sets k -> id (an existing key keeps its first id). */
static void
strmap_put(struct strmap *m, const void *k, size_t n, int id)
{
    uint64_t h;
    size_t i;

    if (strmap_get(m, k, n) >= 0)
        return;
    if (2 * (m->n + 1) > m->mask + 1)
        strmap_grow(m);
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 256;
        m->ent = xrealloc(m->ent, xmul(m->cap, sizeof(*m->ent)));
    }
    h = hash_bytes(k, n);
    m->ent[m->n] = (struct strmap_ent){h, m->keys.len, (uint32_t)n, id};
    sbuf_add(&m->keys, k, n);
    i = h & m->mask;
    while (m->slot[i])
        i = (i + 1) & m->mask;
    m->slot[i] = (uint32_t)(++m->n);
}

/* Sets k -> id, replacing an existing id. */
static void
strmap_set(struct strmap *m, const void *k, size_t n, int id)
{
    uint64_t h = hash_bytes(k, n);
    size_t i = h & m->mask;
    uint32_t e;

    while ((e = m->slot[i]) != 0) {
        struct strmap_ent *x = &m->ent[e - 1];
        if (x->h == h && x->len == n &&
            memcmp(m->keys.buf + x->off, k, n) == 0) {
            x->id = id;
            return;
        }
        i = (i + 1) & m->mask;
    }
    strmap_put(m, k, n, id);
}

/* (left id, right id) -> (rank, merged id), open addressing. */
struct pairmap {
    uint64_t *key;   /* UINT64_MAX = empty */
    uint64_t *val;   /* rank << 32 | merged id */
    size_t mask;
};

static inline uint64_t
pair_hash(uint64_t k)
{
    k ^= k >> 31;
    k *= 0x9e3779b97f4a7c15ULL;
    k ^= k >> 29;
    return k;
}

static inline int
pairmap_get(const struct pairmap *m, int a, int b, uint64_t *val)
{
    uint64_t k = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    size_t i = pair_hash(k) & m->mask;

    for (;;) {
        if (m->key[i] == k) {
            *val = m->val[i];
            return 1;
        }
        if (m->key[i] == UINT64_MAX)
            return 0;
        i = (i + 1) & m->mask;
    }
}

/* ---- the tokenizer ---- */

enum split_behavior {
    SPLIT_ISOLATED,
    SPLIT_REMOVED,
    SPLIT_MERGED_PREV,
    SPLIT_MERGED_NEXT
};

struct pretok_step {
    pcre2_code *re;
    enum split_behavior behavior;
    int prefix_space;   /* ByteLevel add_prefix_space */
};

enum norm_kind { NORM_NFC, NORM_NFD, NORM_NFKC, NORM_NFKD, NORM_LOWER };

struct added {
    int id;
    int special, normalized, lstrip, rstrip, single_word;
};

/* A byte trie over the added tokens' contents. */
struct trie {
    struct trie_node {
        int child;      /* first child, -1 none */
        int sibling;    /* next sibling, -1 none */
        int added;      /* index into t->added, -1 none */
        unsigned char c;
    } *node;
    size_t n, cap;
    unsigned char first[256];   /* 1 if some token starts with the byte */
};

#define MAX_STEPS 8
#define CACHE_SLOTS (1u << 16)
#define CACHE_ARENA (8u << 20)

struct tok {
    int builtin;
    char *source;
    int vocab_size;
    /* per id: raw bytes and name, in arenas */
    size_t *piece_off;
    uint32_t *piece_len;
    size_t *name_off;
    unsigned char *special;     /* per id: 1 special added token */
    struct sbuf pieces, names;
    struct strmap by_name;      /* name (and added content) -> id */
    struct strmap by_raw;       /* raw bytes -> id (vocabulary only) */
    int byte_id[256];
    struct pairmap merges;
    int ignore_merges;
    /* added tokens */
    struct added *added;
    size_t nadded;
    struct trie raw_trie, norm_trie;
    /* normalizer, pre-tokenizer, post-processor */
    enum norm_kind norm[MAX_STEPS];
    int nnorm;
    struct pretok_step step[MAX_STEPS];
    int nstep;
    struct tok_ids prefix, suffix;
    int bos, eos;
    char *chat_template;
    /* scratch (why a struct tok is not thread-safe) */
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    struct sbuf prefixed[MAX_STEPS];
    struct sbuf normbuf;
    int *sym, *prev, *next;
    uint64_t *heap;
    size_t scap, hcap;
    /* word cache: direct-mapped slots into an arena of words and ids */
    struct cache_slot {
        uint64_t h;
        uint32_t off;     /* into cache_arena, 0 = empty */
        uint16_t wlen, nid;
    } *cache;
    struct sbuf cache_arena;
};

int
tok_is_builtin(const struct tok *t)
{
    return t->builtin;
}

int
tok_vocab_size(const struct tok *t)
{
    return t->vocab_size;
}

const char *
tok_source(const struct tok *t)
{
    return t->source;
}

int
tok_bos(const struct tok *t)
{
    return t->bos;
}

int
tok_eos(const struct tok *t)
{
    return t->eos;
}

const char *
tok_chat_template(const struct tok *t)
{
    return t->chat_template;
}

const char *
tok_piece(const struct tok *t, int id, size_t *len)
{
    if (id < 0 || id >= t->vocab_size)
        return NULL;
    *len = t->piece_len[id];
    return t->pieces.buf ? t->pieces.buf + t->piece_off[id] : "";
}

const char *
tok_name(const struct tok *t, int id)
{
    if (id < 0 || id >= t->vocab_size)
        return NULL;
    return t->names.buf + t->name_off[id];
}

int
tok_is_special(const struct tok *t, int id)
{
    return id >= 0 && id < t->vocab_size && t->special[id];
}

int
tok_token_id(const struct tok *t, const char *content)
{
    return strmap_get(&t->by_name, content, strlen(content));
}

static struct tok *
tok_new(void)
{
    struct tok *t = xcalloc(1, sizeof(*t));

    bytelevel_init();
    t->bos = t->eos = -1;
    t->raw_trie.n = t->norm_trie.n = 0;
    return t;
}

void
tok_free(struct tok *t)
{
    int i;

    if (!t)
        return;
    free(t->source);
    free(t->piece_off);
    free(t->piece_len);
    free(t->name_off);
    free(t->special);
    sbuf_release(&t->pieces);
    sbuf_release(&t->names);
    strmap_release(&t->by_name);
    strmap_release(&t->by_raw);
    free(t->merges.key);
    free(t->merges.val);
    free(t->added);
    free(t->raw_trie.node);
    free(t->norm_trie.node);
    for (i = 0; i < t->nstep; i++)
        pcre2_code_free(t->step[i].re);
    for (i = 0; i < MAX_STEPS; i++)
        sbuf_release(&t->prefixed[i]);
    tok_ids_release(&t->prefix);
    tok_ids_release(&t->suffix);
    free(t->chat_template);
    pcre2_match_data_free(t->md);
    pcre2_match_context_free(t->mctx);
    pcre2_jit_stack_free(t->jstack);
    sbuf_release(&t->normbuf);
    free(t->sym);
    free(t->prev);
    free(t->next);
    free(t->heap);
    free(t->cache);
    sbuf_release(&t->cache_arena);
    free(t);
}

/* Sizes the per-id arrays for ids [0, n). */
static void
tok_alloc_ids(struct tok *t, int n)
{
    int i;

    t->vocab_size = n;
    t->piece_off = xcalloc((size_t)n, sizeof(*t->piece_off));
    t->piece_len = xcalloc((size_t)n, sizeof(*t->piece_len));
    t->name_off = xcalloc((size_t)n, sizeof(*t->name_off));
    t->special = xcalloc((size_t)n, 1);
    sbuf_addc(&t->names, '\0');   /* offset 0: the empty name of holes */
    for (i = 0; i < n; i++)
        t->name_off[i] = 0;
}

static void
tok_set(struct tok *t, int id, const char *name, const void *raw, size_t rawlen)
{
    t->name_off[id] = t->names.len;
    sbuf_adds(&t->names, name);
    sbuf_addc(&t->names, '\0');
    t->piece_off[id] = t->pieces.len;
    t->piece_len[id] = (uint32_t)rawlen;
    sbuf_add(&t->pieces, raw, rawlen);
}

/* ---- tries of added tokens ---- */

static int
trie_node_new(struct trie *tr, unsigned char c)
{
    if (tr->n == tr->cap) {
        tr->cap = tr->cap ? 2 * tr->cap : 256;
        tr->node = xrealloc(tr->node, xmul(tr->cap, sizeof(*tr->node)));
    }
    tr->node[tr->n] = (struct trie_node){-1, -1, -1, c};
    return (int)tr->n++;
}

static void
trie_add(struct trie *tr, const char *s, size_t n, int added)
{
    int cur, ch;
    size_t i;

    if (tr->n == 0)
        trie_node_new(tr, 0);
    if (n == 0)
        return;
    tr->first[(unsigned char)s[0]] = 1;
    cur = 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        for (ch = tr->node[cur].child; ch >= 0; ch = tr->node[ch].sibling)
            if (tr->node[ch].c == c)
                break;
        if (ch < 0) {
            ch = trie_node_new(tr, c);
            tr->node[ch].sibling = tr->node[cur].child;
            tr->node[cur].child = ch;
        }
        cur = ch;
    }
    if (tr->node[cur].added < 0)
        tr->node[cur].added = added;
}

static int
is_word_cp(int32_t c)
{
    if (c >= 0x80)
        return !is_space_cp(c);
    return c == '_' || (c >= '0' && c <= '9') ||
           ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/*
 * The longest added token of tr starting at s[i] (skipping special ones
 * when plain), honoring single_word; returns its index and sets *end, or
 * -1.
 */
static int
trie_match(const struct tok *t, const struct trie *tr, const char *s, size_t n,
           size_t i, int plain, size_t *end)
{
    int cur = 0, ch, best = -1;
    size_t j = i;

    if (tr->n == 0 || !tr->first[(unsigned char)s[i]])
        return -1;
    while (j < n) {
        unsigned char c = (unsigned char)s[j];
        for (ch = tr->node[cur].child; ch >= 0; ch = tr->node[ch].sibling)
            if (tr->node[ch].c == c)
                break;
        if (ch < 0)
            break;
        cur = ch;
        j++;
        int a = tr->node[cur].added;
        if (a >= 0 && !(plain && t->added[a].special)) {
            if (t->added[a].single_word) {
                size_t k;
                int32_t before = -1, after = -1;
                if (i > 0) {
                    size_t b = i - 1;
                    while (b > 0 && ((unsigned char)s[b] & 0xC0) == 0x80)
                        b--;
                    before = utf8_cp((const unsigned char *)s + b, n - b, &k);
                }
                if (j < n)
                    after = utf8_cp((const unsigned char *)s + j, n - j, &k);
                if ((before >= 0 && is_word_cp(before)) ||
                    (after >= 0 && is_word_cp(after)))
                    continue;
            }
            best = a;
            *end = j;
        }
    }
    return best;
}

/* ---- normalizers ---- */

/*
 * 1 if NFC may change text at code point c or join it to what precedes:
 * a combining mark (ccc != 0), the second element of a composition, a
 * canonically decomposable character, or a Hangul jamo.  Code points below
 * U+0300 never are.  (utf8proc keeps composition seconds at comb_index
 * 0x8000 and up.)
 */
static int
nfc_active(int32_t c)
{
    const utf8proc_property_t *p;

    if (c < 0x300)
        return 0;
    if (c >= 0x1100 && c <= 0x11FF)
        return 1;
    p = utf8proc_get_property(c);
    return p->combining_class != 0 ||
           (p->comb_index >= 0x8000 && p->comb_index != UINT16_MAX) ||
           (p->decomp_type == 0 && p->decomp_seqindex != UINT16_MAX);
}

/*
 * NFC of s into out, running utf8proc only on the stretches that need it:
 * from the last inert code point (a starter nothing joins to) before an
 * active one to the next inert one after it.  NFC of a string is the
 * concatenation of the NFC of such stretches, since composition never
 * crosses a starter that cannot be the second element of a pair.
 */
static void
nfc_runs(struct sbuf *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, copied = 0, inert = 0, k;
    int32_t c;

    while (i < n) {
        if (s[i] < 0xCC) {   /* ASCII, continuation, or a lead below U+0300 */
            if (s[i] < 0x80 || s[i] >= 0xC0)
                inert = i;
            i++;
            continue;
        }
        c = utf8_cp(s + i, n - i, &k);
        if (c < 0 || !nfc_active(c)) {
            inert = i;
            i += k;
            continue;
        }
        /* an active stretch: [inert, end of the following actives) */
        size_t start = inert, end = i + k;
        while (end < n) {
            c = utf8_cp(s + end, n - end, &k);
            if (c >= 0 && !nfc_active(c))
                break;
            end += k;
        }
        sbuf_add(out, s + copied, start - copied);
        {
            utf8proc_uint8_t *dst = NULL;
            utf8proc_ssize_t m =
                utf8proc_map(s + start, (utf8proc_ssize_t)(end - start), &dst,
                             UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            if (m >= 0)
                sbuf_add(out, dst, (size_t)m);
            else
                sbuf_add(out, s + start, end - start);
            free(dst);
        }
        copied = end;
        i = inert = end;
    }
    sbuf_add(out, s + copied, n - copied);
}

/* Normalizes s into t->normbuf; returns it (borrowed). */
static const char *
normalize(struct tok *t, const char *s, size_t n, size_t *outlen)
{
    struct sbuf *nb = &t->normbuf;
    int k;
    size_t i;

    sbuf_reset(nb);
    sbuf_add(nb, s, n);
    for (k = 0; k < t->nnorm; k++) {
        int opt = 0, ascii = 1, below300 = 1;
        for (i = 0; i < nb->len; i++) {
            unsigned char c = (unsigned char)nb->buf[i];
            if (c >= 0x80)
                ascii = 0;
            if (c >= 0xCC)
                below300 = 0;
        }
        switch (t->norm[k]) {
        case NORM_NFC:
            /* Code points below U+0300 are NFC_Quick_Check=Yes with
             * canonical combining class 0: such text is already NFC. */
            if (!below300) {
                struct sbuf tmp = SBUF_INIT;
                nfc_runs(&tmp, nb->buf, nb->len);
                sbuf_release(nb);
                *nb = tmp;
            }
            continue;
        case NORM_NFD:
            opt = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE;
            break;
        case NORM_NFKC:
            opt = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
            break;
        case NORM_NFKD:
            opt = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
            break;
        case NORM_LOWER:
            for (i = 0; i < nb->len && ascii; i++)
                if (nb->buf[i] >= 'A' && nb->buf[i] <= 'Z')
                    nb->buf[i] = (char)(nb->buf[i] | 0x20);
            if (!ascii) {
                struct sbuf tmp = SBUF_INIT;
                size_t kk;
                unsigned char enc[4];
                for (i = 0; i < nb->len; i += kk) {
                    int32_t c =
                        utf8_cp((unsigned char *)nb->buf + i, nb->len - i, &kk);
                    if (c < 0) {
                        sbuf_add(&tmp, nb->buf + i, kk);
                        continue;
                    }
                    utf8proc_ssize_t m =
                        utf8proc_encode_char(utf8proc_tolower(c), enc);
                    sbuf_add(&tmp, enc, (size_t)m);
                }
                sbuf_release(nb);
                *nb = tmp;
            }
            continue;
        }
        if (ascii)
            continue;
        {
            utf8proc_uint8_t *dst = NULL;
            utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)nb->buf,
                                              (utf8proc_ssize_t)nb->len, &dst,
                                              (utf8proc_option_t)opt);
            if (m >= 0) {
                sbuf_reset(nb);
                sbuf_add(nb, dst, (size_t)m);
            }
            /* m < 0: invalid UTF-8, which the text-only Rust crate never
             * sees; the bytes go on unnormalized. */
            free(dst);
        }
    }
    *outlen = nb->len;
    return sbuf_str(nb);
}

/* ---- BPE ---- */

static void
scratch_grow(struct tok *t, size_t n)
{
    if (n > t->scap) {
        t->scap = n + n / 2 + 16;
        t->sym = xrealloc(t->sym, xmul(t->scap, sizeof(int)));
        t->prev = xrealloc(t->prev, xmul(t->scap, sizeof(int)));
        t->next = xrealloc(t->next, xmul(t->scap, sizeof(int)));
    }
    if (3 * n > t->hcap) {
        t->hcap = 3 * n + 16;
        t->heap = xrealloc(t->heap, xmul(t->hcap, sizeof(uint64_t)));
    }
}

/* A binary min-heap of (rank << 32 | position) keys. */
static inline void
heap_push(uint64_t *h, size_t *n, uint64_t k)
{
    size_t i = (*n)++;

    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= k)
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = k;
}

static inline uint64_t
heap_pop(uint64_t *h, size_t *n)
{
    uint64_t top = h[0], k = h[--(*n)];
    size_t i = 0, c;

    while ((c = 2 * i + 1) < *n) {
        if (c + 1 < *n && h[c + 1] < h[c])
            c++;
        if (k <= h[c])
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = k;
    return top;
}

/*
 * Merges the bytes of one word by rank (models/bpe/word.rs merge_all): a
 * heap holds every adjacent pair that has a merge, keyed by rank then
 * position; a popped pair whose symbols changed since it was pushed is
 * stale and skipped.  Appends the ids to out.
 */
static void
bpe_word(struct tok *t, const unsigned char *w, size_t n, struct tok_ids *out)
{
    size_t i, nh = 0;
    uint64_t v;
    int *sym, *prev, *next;

    scratch_grow(t, n);
    sym = t->sym;
    prev = t->prev;
    next = t->next;
    for (i = 0; i < n; i++) {
        sym[i] = t->byte_id[w[i]];
        prev[i] = (int)i - 1;
        next[i] = i + 1 < n ? (int)i + 1 : -1;
    }
    for (i = 0; i + 1 < n; i++)
        if (pairmap_get(&t->merges, sym[i], sym[i + 1], &v))
            heap_push(t->heap, &nh, (v >> 32) << 32 | i);
    while (nh > 0) {
        uint64_t k = heap_pop(t->heap, &nh);
        int pos = (int)(uint32_t)k, r = next[pos];
        if (sym[pos] < 0 || r < 0 ||
            !pairmap_get(&t->merges, sym[pos], sym[r], &v) ||
            (v >> 32) != (k >> 32))
            continue;
        sym[pos] = (int)(uint32_t)v;
        sym[r] = -1;
        next[pos] = next[r];
        if (next[r] >= 0)
            prev[next[r]] = pos;
        if (prev[pos] >= 0 &&
            pairmap_get(&t->merges, sym[prev[pos]], sym[pos], &v))
            heap_push(t->heap, &nh, (v >> 32) << 32 | (uint32_t)prev[pos]);
        if (next[pos] >= 0 &&
            pairmap_get(&t->merges, sym[pos], sym[next[pos]], &v))
            heap_push(t->heap, &nh, (v >> 32) << 32 | (uint32_t)pos);
    }
    for (i = 0; (int)i >= 0; i = (size_t)next[i]) {
        tok_ids_push(out, sym[i]);
        if (next[i] < 0)
            break;
    }
}

static void
encode_word(struct tok *t, const char *word, size_t n, struct tok_ids *out)
{
    const unsigned char *w = (const unsigned char *)word;
    struct cache_slot *cs = NULL;
    uint64_t h = 0;
    size_t i, first;
    int id;

    if (n == 0)
        return;
    if (t->builtin) {
        for (i = 0; i < n; i++)
            tok_ids_push(out, w[i]);
        return;
    }
    if (n == 1) {
        tok_ids_push(out, t->byte_id[w[0]]);
        return;
    }
    if (n <= TOK_CACHE_WORD) {
        h = hash_bytes(w, n);
        cs = &t->cache[h & (CACHE_SLOTS - 1)];
        if (cs->off && cs->h == h && cs->wlen == n &&
            memcmp(t->cache_arena.buf + cs->off, w, n) == 0) {
            const char *p = t->cache_arena.buf + cs->off + n;
            int tmp[TOK_CACHE_WORD];
            memcpy(tmp, p, cs->nid * sizeof(int));
            tok_ids_append(out, tmp, cs->nid);
            return;
        }
    }
    first = out->n;
    if (t->ignore_merges && (id = strmap_get(&t->by_raw, w, n)) >= 0)
        tok_ids_push(out, id);
    else
        bpe_word(t, w, n, out);
    if (cs) {
        size_t nid = out->n - first;
        if (t->cache_arena.len + n + nid * sizeof(int) > CACHE_ARENA) {
            memset(t->cache, 0, CACHE_SLOTS * sizeof(*t->cache));
            sbuf_reset(&t->cache_arena);
        }
        if (t->cache_arena.len == 0)
            sbuf_addc(&t->cache_arena, 0);   /* offset 0 means empty */
        cs->h = h;
        cs->off = (uint32_t)t->cache_arena.len;
        cs->wlen = (uint16_t)n;
        cs->nid = (uint16_t)nid;
        sbuf_add(&t->cache_arena, w, n);
        sbuf_add(&t->cache_arena, out->v + first, nid * sizeof(int));
    }
}

/* ---- pre-tokenization ---- */

static void
pretok(struct tok *t, int k, const char *s, size_t n, struct tok_ids *out)
{
    const struct pretok_step *st;
    size_t cur = 0, start = 0;

    if (n == 0)
        return;
    if (k == t->nstep) {
        encode_word(t, s, n, out);
        return;
    }
    st = &t->step[k];
    if (st->prefix_space && s[0] != ' ') {
        struct sbuf *pb = &t->prefixed[k];
        sbuf_reset(pb);
        sbuf_addc(pb, ' ');
        sbuf_add(pb, s, n);
        s = pb->buf;
        n = pb->len;
    }
    if (!st->re) {
        pretok(t, k + 1, s, n, out);
        return;
    }
    while (start < n) {
        PCRE2_SPTR subj = (PCRE2_SPTR)s;
        int rc = pcre2_jit_match(st->re, subj, n, start, 0, t->md, t->mctx);
        size_t ms, me;
        /* no JIT code, or its stack ran out: the interpreter */
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
            rc = pcre2_match(st->re, subj, n, start, 0, t->md, t->mctx);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof(msg));
            die("%s: pre-tokenizer regex: %s", t->source, (char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->md);
        ms = ov[0];
        me = ov[1];
        if (me == ms) {
            /* An empty match cuts nothing; step over one character. */
            size_t kk;
            utf8_cp((const unsigned char *)s + ms, n - ms, &kk);
            start = ms + (ms < n ? kk : 1);
            continue;
        }
        switch (st->behavior) {
        case SPLIT_ISOLATED:
            pretok(t, k + 1, s + cur, ms - cur, out);
            pretok(t, k + 1, s + ms, me - ms, out);
            cur = me;
            break;
        case SPLIT_REMOVED:
            pretok(t, k + 1, s + cur, ms - cur, out);
            cur = me;
            break;
        case SPLIT_MERGED_PREV:
            pretok(t, k + 1, s + cur, me - cur, out);
            cur = me;
            break;
        case SPLIT_MERGED_NEXT:
            pretok(t, k + 1, s + cur, ms - cur, out);
            cur = ms;
            break;
        }
        start = me;
    }
    pretok(t, k + 1, s + cur, n - cur, out);
}

/* Stage 2 of encoding: normalized text, normalized added tokens. */
static void
encode_normalized(struct tok *t, const char *s, size_t n, int plain,
                  struct tok_ids *out)
{
    size_t i = 0, cur = 0, end;
    int a;

    if (t->nnorm)
        s = normalize(t, s, n, &n);
    if (t->norm_trie.n) {
        while (i < n) {
            a = trie_match(t, &t->norm_trie, s, n, i, plain, &end);
            if (a < 0) {
                i++;
                continue;
            }
            pretok(t, 0, s + cur, i - cur, out);
            tok_ids_push(out, t->added[a].id);
            i = cur = end;
        }
    }
    pretok(t, 0, s + cur, n - cur, out);
}

static size_t
skip_space_left(const char *s, size_t lo, size_t i)
{
    while (i > lo) {
        size_t b = i - 1, k;
        while (b > lo && ((unsigned char)s[b] & 0xC0) == 0x80)
            b--;
        if (!is_space_cp(utf8_cp((const unsigned char *)s + b, i - b, &k)))
            break;
        i = b;
    }
    return i;
}

static size_t
skip_space_right(const char *s, size_t n, size_t i)
{
    size_t k;

    while (i < n &&
           is_space_cp(utf8_cp((const unsigned char *)s + i, n - i, &k)))
        i += k;
    return i;
}

int
tok_encode(struct tok *t, const char *text, size_t len, unsigned flags,
           struct tok_ids *out)
{
    int plain = (flags & TOK_PLAIN) != 0, a;
    size_t i = 0, cur = 0, end, ms;

    if (flags & TOK_ADD_SPECIAL)
        tok_ids_append(out, t->prefix.v, t->prefix.n);
    while (i < len) {
        a = trie_match(t, &t->raw_trie, text, len, i, plain, &end);
        if (a < 0) {
            i++;
            continue;
        }
        ms = i;
        if (t->added[a].lstrip)
            ms = skip_space_left(text, cur, ms);
        if (t->added[a].rstrip)
            end = skip_space_right(text, len, end);
        encode_normalized(t, text + cur, ms - cur, plain, out);
        tok_ids_push(out, t->added[a].id);
        i = cur = end;
    }
    encode_normalized(t, text + cur, len - cur, plain, out);
    if (flags & TOK_ADD_SPECIAL)
        tok_ids_append(out, t->suffix.v, t->suffix.n);
    return 0;
}

/* ---- decoding ---- */

void
tok_decode(const struct tok *t, const int *ids, size_t n, unsigned flags,
           struct sbuf *out)
{
    struct sbuf raw = SBUF_INIT;
    size_t i, len;
    const char *p;

    for (i = 0; i < n; i++) {
        if ((flags & TOK_SKIP_SPECIAL) && tok_is_special(t, ids[i]))
            continue;
        if ((p = tok_piece(t, ids[i], &len)) != NULL)
            sbuf_add(&raw, p, len);
    }
    utf8_lossy(out, raw.buf ? raw.buf : "", raw.len);
    sbuf_release(&raw);
}

void
tok_stream_init(struct tok_stream *ts, const struct tok *t, unsigned flags)
{
    memset(ts, 0, sizeof(*ts));
    ts->t = t;
    ts->flags = flags;
}

void
tok_stream_push(struct tok_stream *ts, int id, struct sbuf *out)
{
    const unsigned char *s;
    size_t len, i, keep, prefix, k;
    char buf[8 + 256];
    struct sbuf big = SBUF_INIT;
    const char *p;

    if ((ts->flags & TOK_SKIP_SPECIAL) && tok_is_special(ts->t, id))
        return;
    if ((p = tok_piece(ts->t, id, &len)) == NULL || len == 0)
        return;
    if (ts->npend + len <= sizeof(buf)) {
        memcpy(buf, ts->pend, ts->npend);
        memcpy(buf + ts->npend, p, len);
        s = (const unsigned char *)buf;
    } else {
        sbuf_add(&big, ts->pend, ts->npend);
        sbuf_add(&big, p, len);
        s = (const unsigned char *)big.buf;
    }
    len += ts->npend;
    /* Hold back a trailing sequence that is valid so far but incomplete. */
    keep = 0;
    for (i = len > 3 ? len - 3 : 0; i < len; i++) {
        if (s[i] < 0xC0)
            continue;
        k = utf8_seq(s + i, len - i, &prefix);
        if (k == 0 && prefix == len - i) {
            keep = len - i;
            break;
        }
    }
    utf8_lossy(out, (const char *)s, len - keep);
    memcpy(ts->pend, s + len - keep, keep);
    ts->npend = keep;
    sbuf_release(&big);
}

void
tok_stream_finish(struct tok_stream *ts, struct sbuf *out)
{
    utf8_lossy(out, ts->pend, ts->npend);
    ts->npend = 0;
}

void
tok_stream_release(struct tok_stream *ts)
{
    ts->npend = 0;
}

/* ---- the built-in tokenizer ---- */

static const char *const builtin_special[] = {
    "<|bos|>", "<|eos|>", "<|pad|>", "<|system|>",
    "<|user|>", "<|assistant|>", "<think>", "</think>",
};

static void
add_added(struct tok *t, int id, int special, int normalized)
{
    t->added = xrealloc(t->added, xmul(t->nadded + 1, sizeof(*t->added)));
    t->added[t->nadded] = (struct added){id, special, normalized, 0, 0, 0};
    t->nadded++;
}

struct tok *
tok_builtin(void)
{
    struct tok *t = tok_new();
    char name[8];
    int b;
    size_t i;

    t->builtin = 1;
    t->source = xstrdup("builtin");
    tok_alloc_ids(t, TOK_BUILTIN_VOCAB);
    strmap_init(&t->by_name, TOK_BUILTIN_VOCAB);
    strmap_init(&t->by_raw, 16);
    for (b = 0; b < 256; b++) {
        unsigned char c = (unsigned char)b;
        size_t k =
            (size_t)utf8proc_encode_char(byte_cp[b], (unsigned char *)name);
        name[k] = '\0';
        tok_set(t, b, name, &c, 1);
        t->byte_id[b] = b;
    }
    for (i = 0; i < ARRAY_LEN(builtin_special); i++) {
        int id = TOK_BYTES + (int)i;
        const char *s = builtin_special[i];
        tok_set(t, id, s, s, strlen(s));
        t->special[id] = 1;
        strmap_put(&t->by_name, s, strlen(s), id);
        add_added(t, id, 1, 0);
        trie_add(&t->raw_trie, s, strlen(s), (int)t->nadded - 1);
    }
    t->bos = TOK_BOS;
    t->eos = TOK_EOS;
    tok_ids_push(&t->prefix, TOK_BOS);
    return t;
}

/* ---- loading tokenizer.json ---- */

struct loadctx {
    const char *path;
    struct sbuf *err;
};

static int PT_PRINTF(2, 3)
fail(struct loadctx *c, const char *fmt, ...)
{
    struct sbuf msg = SBUF_INIT;
    va_list ap;
    int k;

    va_start(ap, fmt);
    k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    sbuf_grow(&msg, k > 0 ? (size_t)k + 1 : 1);
    va_start(ap, fmt);
    vsnprintf(msg.buf, msg.cap, fmt, ap);
    va_end(ap);
    sbuf_addf(c->err, "%s: %s", c->path, msg.buf);
    sbuf_release(&msg);
    return -1;
}

/*
 * Rewrites \s and \S to Oniguruma's white space (see tok.h), inside and
 * outside bracket classes.  Returns 0, or -1 for \S inside a class.
 */
static int
onig_pattern(struct sbuf *out, const char *p, size_t n)
{
    static const char ws[] = "\\t\\n\\x0B\\f\\r\\x{85}\\p{Z}";
    size_t i = 0;
    int inclass = 0;

    while (i < n) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            char d = p[i + 1];
            if (d == 's' || d == 'S') {
                if (inclass && d == 'S')
                    return -1;
                if (inclass)
                    sbuf_adds(out, ws);
                else {
                    sbuf_adds(out, d == 's' ? "[" : "[^");
                    sbuf_adds(out, ws);
                    sbuf_addc(out, ']');
                }
            } else {
                sbuf_addc(out, c);
                sbuf_addc(out, d);
            }
            i += 2;
            continue;
        }
        if (!inclass && c == '[') {
            inclass = 1;
            sbuf_addc(out, c);
            i++;
            if (i < n && p[i] == '^')
                sbuf_addc(out, p[i++]);
            if (i < n && p[i] == ']')   /* a leading ] is a literal */
                sbuf_addc(out, p[i++]);
            continue;
        }
        if (inclass && c == '[' && i + 1 < n && p[i + 1] == ':') {
            const char *e = strstr(p + i + 2, ":]");
            if (e && (size_t)(e - p) < n) {
                sbuf_add(out, p + i, (size_t)(e + 2 - (p + i)));
                i = (size_t)(e + 2 - p);
                continue;
            }
        }
        if (inclass && c == ']')
            inclass = 0;
        sbuf_addc(out, c);
        i++;
    }
    return 0;
}

static int
compile_step(struct loadctx *c, struct pretok_step *st, const char *pat,
             size_t n, int literal)
{
    struct sbuf sb = SBUF_INIT;
    int errcode;
    PCRE2_SIZE erroff;
    uint32_t opt = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;

    if (literal) {
        opt = PCRE2_LITERAL | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
        sbuf_add(&sb, pat, n);
    } else if (onig_pattern(&sb, pat, n) < 0) {
        sbuf_release(&sb);
        return fail(
            c, "pre_tokenizer: \\S inside a character class is not handled");
    }
    st->re = pcre2_compile((PCRE2_SPTR)sbuf_str(&sb), sb.len, opt, &errcode,
                           &erroff, NULL);
    if (!st->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof(msg));
        sbuf_release(&sb);
        return fail(c, "pre_tokenizer: regex at offset %zu: %s", (size_t)erroff,
                    (char *)msg);
    }
    sbuf_release(&sb);
    /* Without JIT support, matching falls back to the interpreter. */
    pcre2_jit_compile(st->re, PCRE2_JIT_COMPLETE);
    return 0;
}

/* GPT-2's pattern, used by ByteLevel with use_regex (byte_level.rs). */
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+"
    "| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int
load_pretok(struct loadctx *c, struct tok *t, const json_t *pt, int *bytelevel)
{
    const char *type;
    struct pretok_step *st;

    if (!json_is_object(pt) ||
        !(type = json_string_value(json_object_get(pt, "type"))))
        return fail(c, "pre_tokenizer: not an object with a type");
    if (strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(pt, "pretokenizers"), *x;
        size_t i;
        json_array_foreach(list, i, x)
            if (load_pretok(c, t, x, bytelevel) < 0)
                return -1;
        return 0;
    }
    if (t->nstep == MAX_STEPS)
        return fail(c, "pre_tokenizer: more than %d steps", MAX_STEPS);
    st = &t->step[t->nstep];
    memset(st, 0, sizeof(*st));
    if (strcmp(type, "Split") == 0) {
        const json_t *pat = json_object_get(pt, "pattern");
        const char *beh = json_string_value(json_object_get(pt, "behavior"));
        const json_t *re = json_object_get(pat, "Regex"),
                     *lit = json_object_get(pat, "String");
        if (json_is_true(json_object_get(pt, "invert")))
            return fail(c,
                        "pre_tokenizer: Split with invert=true is not handled");
        if (!beh || strcmp(beh, "Isolated") == 0)
            st->behavior = SPLIT_ISOLATED;
        else if (strcmp(beh, "Removed") == 0)
            st->behavior = SPLIT_REMOVED;
        else if (strcmp(beh, "MergedWithPrevious") == 0)
            st->behavior = SPLIT_MERGED_PREV;
        else if (strcmp(beh, "MergedWithNext") == 0)
            st->behavior = SPLIT_MERGED_NEXT;
        else
            return fail(c, "pre_tokenizer: Split behavior '%s' is not handled",
                        beh);
        if (json_is_string(re)) {
            if (compile_step(c, st, json_string_value(re),
                             json_string_length(re), 0) < 0)
                return -1;
        } else if (json_is_string(lit)) {
            if (compile_step(c, st, json_string_value(lit),
                             json_string_length(lit), 1) < 0)
                return -1;
        } else
            return fail(
                c, "pre_tokenizer: Split without a Regex or String pattern");
    } else if (strcmp(type, "ByteLevel") == 0) {
        *bytelevel = 1;
        st->prefix_space =
            json_is_true(json_object_get(pt, "add_prefix_space"));
        if (json_is_true(json_object_get(pt, "use_regex")) &&
            compile_step(c, st, gpt2_pattern, strlen(gpt2_pattern), 0) < 0)
            return -1;
        if (!st->prefix_space && !st->re)
            return 0;   /* the byte mapping itself is implicit */
    } else if (strcmp(type, "Digits") == 0) {
        const char *p = json_is_true(json_object_get(pt, "individual_digits"))
                            ? "\\p{N}"
                            : "\\p{N}+";
        if (compile_step(c, st, p, strlen(p), 0) < 0)
            return -1;
    } else
        return fail(
            c, "pre_tokenizer '%s' is not handled (byte-level BPE only)", type);
    t->nstep++;
    return 0;
}

static int
load_normalizer(struct loadctx *c, struct tok *t, const json_t *nm)
{
    const char *type;

    if (json_is_null(nm) || !nm)
        return 0;
    if (!(type = json_string_value(json_object_get(nm, "type"))))
        return fail(c, "normalizer: no type");
    if (strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(nm, "normalizers"), *x;
        size_t i;
        json_array_foreach(list, i, x)
            if (load_normalizer(c, t, x) < 0)
                return -1;
        return 0;
    }
    if (t->nnorm == MAX_STEPS)
        return fail(c, "normalizer: more than %d steps", MAX_STEPS);
    if (strcmp(type, "NFC") == 0)
        t->norm[t->nnorm++] = NORM_NFC;
    else if (strcmp(type, "NFD") == 0)
        t->norm[t->nnorm++] = NORM_NFD;
    else if (strcmp(type, "NFKC") == 0)
        t->norm[t->nnorm++] = NORM_NFKC;
    else if (strcmp(type, "NFKD") == 0)
        t->norm[t->nnorm++] = NORM_NFKD;
    else if (strcmp(type, "Lowercase") == 0)
        t->norm[t->nnorm++] = NORM_LOWER;
    else
        return fail(c, "normalizer '%s' is not handled", type);
    return 0;
}

static int
special_ids(struct loadctx *c, struct tok *t, const json_t *pp,
            const char *name, struct tok_ids *dst)
{
    const json_t *sp =
        json_object_get(json_object_get(pp, "special_tokens"), name);
    const json_t *ids = json_object_get(sp, "ids"), *x;
    size_t i;

    if (!json_is_array(ids))
        return fail(c, "post_processor: special token '%s' not listed", name);
    json_array_foreach(ids, i, x) {
        json_int_t v = json_integer_value(x);
        if (!json_is_integer(x) || v < 0 || v >= t->vocab_size)
            return fail(c, "post_processor: bad id for '%s'", name);
        tok_ids_push(dst, (int)v);
    }
    return 0;
}

static int
load_postproc(struct loadctx *c, struct tok *t, const json_t *pp)
{
    const char *type;

    if (!pp || json_is_null(pp))
        return 0;
    if (!(type = json_string_value(json_object_get(pp, "type"))))
        return fail(c, "post_processor: no type");
    if (strcmp(type, "ByteLevel") == 0)
        return 0;
    if (strcmp(type, "Sequence") == 0) {
        const json_t *list = json_object_get(pp, "processors"), *x;
        size_t i;
        json_array_foreach(list, i, x)
            if (load_postproc(c, t, x) < 0)
                return -1;
        return 0;
    }
    if (strcmp(type, "TemplateProcessing") == 0) {
        const json_t *single = json_object_get(pp, "single"), *x;
        size_t i;
        int seen = 0;
        json_array_foreach(single, i, x) {
            const json_t *sp = json_object_get(x, "SpecialToken");
            if (json_object_get(x, "Sequence")) {
                seen = 1;
                continue;
            }
            const char *id = json_string_value(json_object_get(sp, "id"));
            if (!id)
                return fail(c, "post_processor: bad template piece");
            if (special_ids(c, t, pp, id, seen ? &t->suffix : &t->prefix) < 0)
                return -1;
        }
        return 0;
    }
    if (strcmp(type, "RobertaProcessing") == 0 ||
        strcmp(type, "BertProcessing") == 0) {
        json_int_t cls =
            json_integer_value(json_array_get(json_object_get(pp, "cls"), 1));
        json_int_t sep =
            json_integer_value(json_array_get(json_object_get(pp, "sep"), 1));
        tok_ids_push(&t->prefix, (int)cls);
        tok_ids_push(&t->suffix, (int)sep);
        return 0;
    }
    return fail(c, "post_processor '%s' is not handled", type);
}

/* A token named in tokenizer_config.json: a string or {"content": ...}. */
static int
config_token(const struct tok *t, const json_t *v)
{
    const char *s = json_string_value(v);

    if (!s)
        s = json_string_value(json_object_get(v, "content"));
    return s ? tok_token_id(t, s) : -1;
}

static void
load_config(struct tok *t, const char *path)
{
    char *dir = xstrdup(path), *slash, *cfgpath;
    json_t *cfg;
    const json_t *ct;
    const char *cls;

    slash = strrchr(dir, '/');
    if (slash)
        slash[1] = '\0';
    else
        dir[0] = '\0';
    cfgpath = xmalloc(strlen(dir) + 32);
    sprintf(cfgpath, "%stokenizer_config.json", dir);
    cfg = json_load_file(cfgpath, 0, NULL);
    free(cfgpath);
    free(dir);
    if (!cfg)
        return;
    t->bos = config_token(t, json_object_get(cfg, "bos_token"));
    t->eos = config_token(t, json_object_get(cfg, "eos_token"));
    ct = json_object_get(cfg, "chat_template");
    if (json_is_string(ct))
        t->chat_template = xstrdup(json_string_value(ct));
    else if (json_is_array(ct)) {
        size_t i;
        const json_t *x;
        /* A list of named templates: "default", else the first. */
        json_array_foreach(ct, i, x) {
            const char *name = json_string_value(json_object_get(x, "name"));
            const char *tpl = json_string_value(json_object_get(x, "template"));
            if (tpl && (!t->chat_template ||
                        (name && strcmp(name, "default") == 0))) {
                free(t->chat_template);
                t->chat_template = xstrdup(tpl);
            }
        }
    }
    /*
     * transformers' Llama/Gemma fast tokenizers rebuild the post-processor
     * as TemplateProcessing from add_bos_token (default true) and
     * add_eos_token (default false): update_post_processor() in
     * tokenization_llama_fast.py.
     */
    cls = json_string_value(json_object_get(cfg, "tokenizer_class"));
    if (cls && (strncmp(cls, "LlamaTokenizer", 14) == 0 ||
                strncmp(cls, "CodeLlamaTokenizer", 18) == 0 ||
                strncmp(cls, "GemmaTokenizer", 14) == 0)) {
        const json_t *ab = json_object_get(cfg, "add_bos_token");
        const json_t *ae = json_object_get(cfg, "add_eos_token");
        t->prefix.n = t->suffix.n = 0;
        if ((!ab || json_is_true(ab)) && t->bos >= 0)
            tok_ids_push(&t->prefix, t->bos);
        if (json_is_true(ae) && t->eos >= 0)
            tok_ids_push(&t->suffix, t->eos);
    }
    json_decref(cfg);
}

static int
merge_sides(const json_t *m, const char **a, size_t *na, const char **b,
            size_t *nb)
{
    if (json_is_string(m)) {
        const char *s = json_string_value(m), *sp = strchr(s, ' ');
        if (!sp || strchr(sp + 1, ' '))
            return -1;
        *a = s;
        *na = (size_t)(sp - s);
        *b = sp + 1;
        *nb = strlen(sp + 1);
        return 0;
    }
    if (json_is_array(m) && json_array_size(m) == 2 &&
        json_is_string(json_array_get(m, 0)) &&
        json_is_string(json_array_get(m, 1))) {
        *a = json_string_value(json_array_get(m, 0));
        *na = json_string_length(json_array_get(m, 0));
        *b = json_string_value(json_array_get(m, 1));
        *nb = json_string_length(json_array_get(m, 1));
        return 0;
    }
    return -1;
}

static int
load_model(struct loadctx *c, struct tok *t, const json_t *model,
           const json_t *addl)
{
    const json_t *vocab = json_object_get(model, "vocab");
    const json_t *merges = json_object_get(model, "merges"), *v, *x;
    const char *type = json_string_value(json_object_get(model, "type"));
    const char *key, *s;
    struct sbuf raw = SBUF_INIT, tmp = SBUF_INIT;
    int maxid = -1, b, rc = -1;
    size_t i, sz;

    if (!type || strcmp(type, "BPE") != 0)
        return fail(c, "model '%s' is not handled (byte-level BPE only)",
                    type ? type : "?");
    if (!json_is_object(vocab) || !json_is_array(merges))
        return fail(c, "model: no vocab or merges");
    s = json_string_value(json_object_get(model, "continuing_subword_prefix"));
    if (s && *s)
        return fail(c, "model: continuing_subword_prefix is not handled");
    s = json_string_value(json_object_get(model, "end_of_word_suffix"));
    if (s && *s)
        return fail(c, "model: end_of_word_suffix is not handled");
    if (json_is_true(json_object_get(model, "byte_fallback")))
        return fail(c, "model: byte_fallback is not handled");
    t->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    json_object_foreach((json_t *)vocab, key, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > 1 << 28)
            return fail(c, "model: vocab entry '%s' has no valid id", key);
        maxid = PT_MAX(maxid, (int)json_integer_value(v));
    }
    json_array_foreach(addl, i, x) {
        json_int_t id = json_integer_value(json_object_get(x, "id"));
        if (!json_is_string(json_object_get(x, "content")) || id < 0 ||
            id > 1 << 28)
            return fail(c, "added_tokens[%zu]: no content or bad id", i);
        maxid = PT_MAX(maxid, (int)id);
    }
    tok_alloc_ids(t, maxid + 1);
    strmap_init(&t->by_name, (size_t)maxid + 1);
    strmap_init(&t->by_raw, (size_t)maxid + 1);
    json_object_foreach((json_t *)vocab, key, v) {
        int id = (int)json_integer_value(v);
        size_t klen = strlen(key);
        sbuf_reset(&raw);
        if (bytelevel_decode(&raw, key, klen) == 0)
            strmap_put(&t->by_raw, raw.buf ? raw.buf : "", raw.len, id);
        else
            sbuf_add(&raw, key, klen);
        tok_set(t, id, key, raw.buf ? raw.buf : "", raw.len);
        strmap_put(&t->by_name, key, klen, id);
    }
    for (b = 0; b < 256; b++) {
        char enc[8];
        size_t k =
            (size_t)utf8proc_encode_char(byte_cp[b], (unsigned char *)enc);
        if ((t->byte_id[b] = strmap_get(&t->by_name, enc, k)) < 0) {
            rc = fail(c, "model: byte 0x%02x has no token", b);
            goto out;
        }
    }
    sz = 64;
    while (sz < 2 * json_array_size(merges) + 2)
        sz *= 2;
    t->merges.key = xmalloc(xmul(sz, sizeof(uint64_t)));
    t->merges.val = xmalloc(xmul(sz, sizeof(uint64_t)));
    memset(t->merges.key, 0xff, sz * sizeof(uint64_t));
    t->merges.mask = sz - 1;
    json_array_foreach(merges, i, x) {
        const char *a, *bb;
        size_t na, nb;
        int ia, ib, im;
        if (merge_sides(x, &a, &na, &bb, &nb) < 0) {
            rc = fail(c, "model: merges[%zu] is not a pair", i);
            goto out;
        }
        sbuf_reset(&tmp);
        sbuf_add(&tmp, a, na);
        ia = strmap_get(&t->by_name, tmp.buf, tmp.len);
        sbuf_add(&tmp, bb, nb);
        im = strmap_get(&t->by_name, tmp.buf, tmp.len);
        ib = strmap_get(&t->by_name, bb, nb);
        if (ia < 0 || ib < 0 || im < 0) {
            rc = fail(c,
                      "model: merges[%zu] ('%.*s %.*s') names a token not in "
                      "the vocab",
                      i, (int)na, a, (int)nb, bb);
            goto out;
        }
        uint64_t k = (uint64_t)(uint32_t)ia << 32 | (uint32_t)ib;
        size_t j = pair_hash(k) & t->merges.mask;
        while (t->merges.key[j] != UINT64_MAX && t->merges.key[j] != k)
            j = (j + 1) & t->merges.mask;
        if (t->merges.key[j] == k)
            continue;   /* a repeated merge keeps its first (lowest) rank */
        t->merges.key[j] = k;
        t->merges.val[j] = (uint64_t)i << 32 | (uint32_t)im;
    }
    rc = 0;
out:
    sbuf_release(&raw);
    sbuf_release(&tmp);
    return rc;
}

static int
load_added(struct loadctx *c, struct tok *t, const json_t *addl)
{
    struct sbuf raw = SBUF_INIT;
    const json_t *x;
    size_t i;

    (void)c;
    json_array_foreach(addl, i, x) {
        int id = (int)json_integer_value(json_object_get(x, "id"));
        const json_t *cj = json_object_get(x, "content");
        const char *s = json_string_value(cj);
        size_t n = json_string_length(cj);
        int special = json_is_true(json_object_get(x, "special"));
        int normalized = json_is_true(json_object_get(x, "normalized"));
        /* The ByteLevel decoder maps a token whose characters are all in
         * its alphabet, and passes any other through as UTF-8. */
        sbuf_reset(&raw);
        if (bytelevel_decode(&raw, s, n) < 0)
            sbuf_add(&raw, s, n);
        tok_set(t, id, s, raw.buf ? raw.buf : "", raw.len);
        t->special[id] = (unsigned char)special;
        add_added(t, id, special, normalized);
        t->added[t->nadded - 1].lstrip =
            json_is_true(json_object_get(x, "lstrip"));
        t->added[t->nadded - 1].rstrip =
            json_is_true(json_object_get(x, "rstrip"));
        t->added[t->nadded - 1].single_word =
            json_is_true(json_object_get(x, "single_word"));
        trie_add(normalized ? &t->norm_trie : &t->raw_trie, s, n,
                 (int)t->nadded - 1);
        /* The added token wins over a vocabulary entry of the same name. */
        strmap_set(&t->by_name, s, n, id);
    }
    sbuf_release(&raw);
    return 0;
}

static int
check_decoder(struct loadctx *c, const json_t *d)
{
    const char *type;

    if (!d || json_is_null(d))
        return 0;
    type = json_string_value(json_object_get(d, "type"));
    if (type && strcmp(type, "ByteLevel") == 0)
        return 0;
    if (type && strcmp(type, "Sequence") == 0) {
        const json_t *x;
        size_t i;
        json_array_foreach(json_object_get(d, "decoders"), i, x)
            if (check_decoder(c, x) < 0)
                return -1;
        return 0;
    }
    return fail(c, "decoder '%s' is not handled (ByteLevel only)",
                type ? type : "?");
}

/* Reads a whole file into sb; -1 with errno set on failure. */
static int
read_file(const char *path, struct sbuf *sb)
{
    FILE *f = fopen(path, "rb");
    size_t k;

    if (!f)
        return -1;
    for (;;) {
        sbuf_grow(sb, 1 << 20);
        k = fread(sb->buf + sb->len, 1, sb->cap - sb->len - 1, f);
        sb->len += k;
        if (k == 0)
            break;
    }
    if (ferror(f)) {
        fclose(f);
        errno = EIO;
        return -1;
    }
    fclose(f);
    return 0;
}

struct tok *
tok_load(const char *path, struct sbuf *err)
{
    struct loadctx c = {path, err};
    struct tok *t = tok_new();
    json_error_t je;
    json_t *root = NULL;
    const json_t *addl;
    int bytelevel = 0;
    struct sbuf buf = SBUF_INIT;

    /* Read whole, then parse: json_load_file() reads a byte at a time. */
    if (read_file(path, &buf) < 0) {
        fail(&c, "%s", strerror(errno));
        goto bad;
    }
    root = json_loadb(buf.buf ? buf.buf : "", buf.len, 0, &je);
    sbuf_release(&buf);
    if (!root) {
        fail(&c, "line %d: %s", je.line, je.text);
        goto bad;
    }
    t->source = xstrdup(path);
    addl = json_object_get(root, "added_tokens");
    if (load_normalizer(&c, t, json_object_get(root, "normalizer")) < 0 ||
        load_model(&c, t, json_object_get(root, "model"), addl) < 0 ||
        load_added(&c, t, addl) < 0)
        goto bad;
    if (json_object_get(root, "pre_tokenizer") &&
        !json_is_null(json_object_get(root, "pre_tokenizer")) &&
        load_pretok(&c, t, json_object_get(root, "pre_tokenizer"), &bytelevel) <
            0)
        goto bad;
    if (!bytelevel) {
        fail(&c, "pre_tokenizer: no ByteLevel step (byte-level BPE only)");
        goto bad;
    }
    if (load_postproc(&c, t, json_object_get(root, "post_processor")) < 0 ||
        check_decoder(&c, json_object_get(root, "decoder")) < 0)
        goto bad;
    load_config(t, path);
    t->md = pcre2_match_data_create(4, NULL);
    t->mctx = pcre2_match_context_create(NULL);
    t->jstack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    pcre2_jit_stack_assign(t->mctx, NULL, t->jstack);
    t->cache = xcalloc(CACHE_SLOTS, sizeof(*t->cache));
    json_decref(root);
    return t;
bad:
    json_decref(root);
    tok_free(t);
    return NULL;
}

struct tok *
tok_load_dir(const char *dir, struct sbuf *err)
{
    char *path = xmalloc(strlen(dir) + 32);
    struct stat st;
    struct tok *t;

    sprintf(path, "%s/tokenizer.json", dir);
    if (stat(path, &st) != 0) {
        if (errno != ENOENT) {
            sbuf_addf(err, "%s: %s", path, strerror(errno));
            free(path);
            return NULL;
        }
        free(path);
        return tok_builtin();
    }
    t = tok_load(path, err);
    free(path);
    return t;
}
