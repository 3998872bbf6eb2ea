/*
 * rejsample.c - the ranking of a group's candidates and
 * the SFT record of a kept sample.  No I/O here: the stream driver is
 * rejsample_stream.c.  See rejsample.h.
 */
#include "rejsample.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

size_t
rejsample_utf8_len(const char *s, size_t len)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

static int
cand_cmp(const void *pa, const void *pb)
{
    const struct rejsample_cand *a = pa, *b = pb;

    if (a->reward != b->reward)
        return a->reward > b->reward ? -1 : 1;
    if (a->length != b->length)
        return a->length < b->length ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static int
same_resp(const struct rejsample_cand *a, const struct rejsample_cand *b)
{
    return a->hash == b->hash && a->resp_len == b->resp_len &&
           memcmp(a->resp, b->resp, a->resp_len) == 0;
}

size_t
rejsample_select(struct rejsample_cand *c, size_t n, size_t best, long *dups)
{
    struct rejsample_cand tmp;
    size_t i, j, k = 0;

    /* Indices are distinct, so the order is total and qsort's instability is moot. */
    qsort(c, n, sizeof(*c), cand_cmp);
    for (i = 0; i < n && k < best; i++) {
        for (j = 0; j < k; j++)
            if (same_resp(&c[j], &c[i]))
                break;
        if (j < k) {
            (*dups)++;
            continue;
        }
        /* c[k..i) are duplicates already counted: rank order of c[0..k] holds. */
        tmp = c[k];
        c[k] = c[i];
        c[i] = tmp;
        k++;
    }
    return k;
}

/*
 * A conversation keeps its form: the selected completion becomes its
 * last assistant turn, in place of the data set's reference turn.
 */
static void
conv_append(json_t *out, const char *resp, size_t resp_len)
{
    json_t *msgs = json_deep_copy(json_object_get(out, "messages"));
    size_t n = json_array_size(msgs);
    const json_t *last = n ? json_array_get(msgs, n - 1) : NULL;
    const char *role = json_string_value(json_object_get(last, "role"));

    if (role && strcmp(role, "assistant") == 0)
        json_array_remove(msgs, n - 1);
    json_array_append_new(msgs, json_pack("{s:s,s:s%}", "role", "assistant",
                                          "content", resp, resp_len));
    json_object_set_new(out, "messages", msgs);
}

json_t *
rejsample_record(const json_t *sample, const char *resp, size_t resp_len,
                 int suffix_id)
{
    static const char *const drop[] = {
        "group", "k", "completion", "finish", "prompt_ids", "completion_ids",
        "logprobs", "ref_logprobs", "policy", "advantage", "response", "source",
    };
    static const char *const src[] = { "group", "k", "policy", "finish" };
    json_t *out = json_copy((json_t *)sample), *source = json_object(), *v, *id, *k;
    struct sbuf sb = SBUF_INIT;
    size_t i;

    for (i = 0; i < ARRAY_LEN(src); i++)
        if ((v = json_object_get(sample, src[i])) != NULL)
            json_object_set(source, src[i], v);
    id = json_object_get(sample, "id");
    k = json_object_get(sample, "k");
    if (suffix_id && json_is_string(id) && json_is_integer(k)) {
        sbuf_addf(&sb, "%s/%lld", json_string_value(id),
                  (long long)json_integer_value(k));
        json_object_set_new(out, "id", json_stringn(sb.buf, sb.len));
    }
    for (i = 0; i < ARRAY_LEN(drop); i++)
        json_object_del(out, drop[i]);
    if (json_is_array(json_object_get(out, "messages")))
        conv_append(out, resp, resp_len);
    else
        json_object_set_new(out, "response", json_stringn(resp, resp_len));
    json_object_set_new(out, "source", source);
    sbuf_release(&sb);
    return out;
}
