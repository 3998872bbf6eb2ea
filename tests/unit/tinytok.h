/*
 * tinytok.h - writes a tiny byte-level BPE tokenizer.json (and optionally
 * a tokenizer_config.json) for the tok and chat unit tests, so expected
 * ids can be worked out by hand:
 *
 *   ids 0..255   the bytes (id = byte value), in GPT-2's byte-level alphabet
 *   merges       0 "h e"->256  1 "l l"->257  2 "he ll"->258  3 "Ġ w"->259
 *                4 "a a"->260  5 "o r"->261  6 "Ġw or"->262
 *   vocab only   "xyz"->263 (reachable only through ignore_merges)
 *   added        300 <|im_start|> 301 <|im_end|> 302 <|endoftext|>
 *                303 <｜begin▁of▁sentence｜> 304 <｜end▁of▁sentence｜>
 *                305 <｜User｜> 306 <｜Assistant｜> (not special, normalized)
 *                307 <|begin_of_text|> 308 <|start_header_id|>
 *                309 <|end_header_id|> 310 <|eot_id|> 311 <think> (not special)
 *                312 <|im (special: a prefix of <|im_start|>)
 *   pre-tokenizer Llama 3's Split regex, then ByteLevel
 */
#ifndef TINYTOK_H
#define TINYTOK_H

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tok.h"

static void
tinytok_cp(int b, char *out)
{
    int n = 0, c, k;

    for (k = 0; k < 256; k++) {
        if ((k >= 33 && k <= 126) || (k >= 161 && k <= 172) || k >= 174)
            c = k;
        else
            c = 256 + n++;
        if (k == b)
            break;
    }
    if (c < 0x80) {
        out[0] = (char)c;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        out[2] = 0;
    }
}

/* Writes DIR/tokenizer.json (and DIR/tokenizer_config.json if config). */
static int
tinytok_write(const char *dir, int ignore_merges, int nfc, const char *config)
{
    static const char *const merges[] = {
        "h e", "l l", "he ll", "\xc4\xa0 w", "a a", "o r", "\xc4\xa0w or",
    };
    static const char *const merged[] = {
        "he", "ll", "hell", "\xc4\xa0w", "aa", "or", "\xc4\xa0wor",
    };
    static const struct {
        int id;
        const char *s;
        int special, normalized;
    } added[] = {
        {300, "<|im_start|>", 1, 0},
        {301, "<|im_end|>", 1, 0},
        {302, "<|endoftext|>", 1, 0},
        {303,
         "<\xef\xbd\x9c"
         "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
         1, 0},
        {304,
         "<\xef\xbd\x9c"
         "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
         1, 0},
        {305, "<\xef\xbd\x9cUser\xef\xbd\x9c>", 0, 1},
        {306,
         "<\xef\xbd\x9c"
         "Assistant\xef\xbd\x9c>",
         0, 1},
        {307, "<|begin_of_text|>", 1, 0},
        {308, "<|start_header_id|>", 1, 0},
        {309, "<|end_header_id|>", 1, 0},
        {310, "<|eot_id|>", 1, 0},
        {311, "<think>", 0, 0},
        {312, "<|im", 1, 0},
    };
    json_t *root = json_object(), *model = json_object(),
           *vocab = json_object();
    json_t *ml = json_array(), *al = json_array(), *pre;
    char path[512], cp[4];
    size_t i;
    int b, rc;
    FILE *f;

    mkdir(dir, 0777);
    for (b = 0; b < 256; b++) {
        tinytok_cp(b, cp);
        json_object_set_new(vocab, cp, json_integer(b));
    }
    for (i = 0; i < sizeof(merges) / sizeof(merges[0]); i++) {
        json_object_set_new(vocab, merged[i],
                            json_integer(256 + (json_int_t)i));
        json_array_append_new(ml, json_string(merges[i]));
    }
    json_object_set_new(vocab, "xyz", json_integer(263));
    for (i = 0; i < sizeof(added) / sizeof(added[0]); i++)
        json_array_append_new(
            al, json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id",
                          added[i].id, "content", added[i].s, "single_word", 0,
                          "lstrip", 0, "rstrip", 0, "normalized",
                          added[i].normalized, "special", added[i].special));
    json_object_set_new(model, "type", json_string("BPE"));
    json_object_set_new(model, "ignore_merges", json_boolean(ignore_merges));
    json_object_set_new(model, "vocab", vocab);
    json_object_set_new(model, "merges", ml);
    pre = json_pack(
        "{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, {s:s, s:b, s:b, s:b}]}", "type",
        "Sequence", "pretokenizers", "type", "Split", "pattern", "Regex",
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
        "|"
        " ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
        "behavior", "Isolated", "invert", 0, "type", "ByteLevel",
        "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 0);
    json_object_set_new(root, "version", json_string("1.0"));
    json_object_set_new(root, "added_tokens", al);
    json_object_set_new(root, "normalizer",
                        nfc ? json_pack("{s:s}", "type", "NFC") : json_null());
    json_object_set_new(root, "pre_tokenizer", pre);
    json_object_set_new(root, "post_processor", json_null());
    json_object_set_new(root, "decoder",
                        json_pack("{s:s}", "type", "ByteLevel"));
    json_object_set_new(root, "model", model);
    snprintf(path, sizeof(path), "%s/tokenizer.json", dir);
    rc = json_dump_file(root, path, 0);
    json_decref(root);
    if (rc == 0 && config) {
        snprintf(path, sizeof(path), "%s/tokenizer_config.json", dir);
        if ((f = fopen(path, "w")) == NULL)
            return -1;
        fputs(config, f);
        rc = fclose(f);
    }
    return rc;
}

/* ids == want[0..n); on a difference, prints what was got to stderr. */
static inline int
ids_eq(const struct tok_ids *a, const int *want, size_t n)
{
    size_t i;

    if (a->n != n) {
        fprintf(stderr, "  got %zu ids:", a->n);
        for (i = 0; i < a->n; i++)
            fprintf(stderr, " %d", a->v[i]);
        fputc('\n', stderr);
        return 0;
    }
    for (i = 0; i < n; i++)
        if (a->v[i] != want[i]) {
            fprintf(stderr, "  id %zu: got %d, want %d\n", i, a->v[i], want[i]);
            return 0;
        }
    return 1;
}

#endif
