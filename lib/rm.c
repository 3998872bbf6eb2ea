/*
 * rm.c - the pieces of score-rm(1) that need no stream: domain routing,
 * the scalar reward model's text and batched scores, normalization,
 * judge templates and verdict parsing.  The stream drivers are in
 * rm_stream.c.  See rm.h.
 */
#include "rm.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample.h"

/* ============================== Domains ============================== */

int
rm_domain_match(const struct rm_domains *d, const json_t *rec, const char **why)
{
    struct sample_domains s;

    rm_domains_rule(d, &s);
    return sample_domain_match(&s, rec, why);
}

void
rm_domains_rule(const struct rm_domains *d, struct sample_domains *s)
{
    static const char *const rule[] = {"math", "code"};

    *s = (struct sample_domains){d->names, d->n, rule, d->all ? 0 : (int)ARRAY_LEN(rule),
                                 d->all};
}

/* ============================== Scalar model ============================== */

void
rm_user_turn(const char *prompt, const char *reference, struct sbuf *out)
{
    sbuf_adds(out, prompt);
    if (reference) {
        sbuf_adds(out, RM_REFERENCE_HEADER);
        sbuf_adds(out, reference);
    }
}

void
rm_sample_ids(struct chat *c, const char *system, const char *user, const char *completion,
              struct tok_ids *out)
{
    chat_prompt(c, system, user, out);
    chat_response(c, completion, out);
}

void
rm_batch_add(struct rm_batch *b, const int *ids, size_t n)
{
    if (b->ntok + n > b->cap_tok) {
        b->cap_tok = PT_MAX(2 * b->cap_tok, b->ntok + n);
        b->ids = xrealloc(b->ids, xmul(b->cap_tok, sizeof(int)));
    }
    if (b->nseg + 1 > b->cap_seg) {
        b->cap_seg = PT_MAX(2 * b->cap_seg, 16);
        b->seg = xrealloc(b->seg, xmul(b->cap_seg, sizeof(int)));
        b->scores = xrealloc(b->scores, xmul(b->cap_seg, sizeof(float)));
    }
    memcpy(b->ids + b->ntok, ids, n * sizeof(int));
    b->ntok += n;
    b->seg[b->nseg++] = (int)n;
}

void
rm_batch_score(struct model *m, struct rm_batch *b)
{
    struct model_batch mb;

    if (b->nseg == 0)
        return;
    mb.ntok = b->ntok;
    mb.ids = b->ids;
    mb.targets = NULL;
    mb.nseg = b->nseg;
    mb.seg_len = b->seg;
    mb.routes = NULL;
    model_forward(m, &mb, 1.0f, NULL, NULL, b->scores, MODEL_FWD_NOGRAD | MODEL_FWD_EXACT);
}

void
rm_batch_clear(struct rm_batch *b)
{
    b->ntok = 0;
    b->nseg = 0;
}

void
rm_batch_release(struct rm_batch *b)
{
    free(b->ids);
    free(b->seg);
    free(b->scores);
    memset(b, 0, sizeof(*b));
}

/* ============================== Normalization ============================== */

void
rm_moments_add(struct rm_moments *mo, double x)
{
    double d = x - mo->mean;

    mo->n++;
    mo->mean += d / (double)mo->n;
    mo->m2 += d * (x - mo->mean);
}

int
rm_norm_from_moments(const struct rm_moments *mo, struct rm_norm *nm, const char **why)
{
    double sd;

    if (mo->n < 2) {
        *why = "fewer than 2 scores";
        return -1;
    }
    sd = sqrt(mo->m2 / (double)(mo->n - 1));
    if (!(sd > 0) || !isfinite(sd)) {
        *why = "the scores are all equal";
        return -1;
    }
    nm->mean = mo->mean;
    nm->std = sd;
    nm->count = mo->n;
    return 0;
}

json_t *
rm_norm_to_json(const struct rm_norm *nm)
{
    json_t *o = json_object();

    json_object_set_new(o, "mean", json_real(nm->mean));
    json_object_set_new(o, "std", json_real(nm->std));
    json_object_set_new(o, "count", json_integer(nm->count));
    json_object_set_new(o, "model", json_string(nm->model));
    json_object_set_new(o, "with_reference", json_boolean(nm->with_reference));
    return o;
}

int
rm_norm_from_json(const json_t *js, struct rm_norm *nm, struct sbuf *err)
{
    const json_t *v;
    const char *s;

    memset(nm, 0, sizeof(*nm));
    if (!json_is_object(js)) {
        sbuf_adds(err, "not a JSON object");
        return -1;
    }
    v = json_object_get(js, "mean");
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        sbuf_addf(err, "field 'mean': %s", v ? "not a finite number" : "missing");
        return -1;
    }
    nm->mean = json_number_value(v);
    v = json_object_get(js, "std");
    if (!json_is_number(v) || !(json_number_value(v) > 0) || !isfinite(json_number_value(v))) {
        sbuf_addf(err, "field 'std': %s", v ? "not a positive finite number" : "missing");
        return -1;
    }
    nm->std = json_number_value(v);
    v = json_object_get(js, "count");
    nm->count = json_is_integer(v) ? (long)json_integer_value(v) : 0;
    v = json_object_get(js, "model");
    if (v) {
        if (!json_is_string(v) || json_string_length(v) > 16) {
            sbuf_adds(err, "field 'model': not a hash of 16 hex digits");
            return -1;
        }
        s = json_string_value(v);
        memcpy(nm->model, s, strlen(s) + 1);
    }
    v = json_object_get(js, "with_reference");
    if (v && !json_is_boolean(v)) {
        sbuf_adds(err, "field 'with_reference': not a boolean");
        return -1;
    }
    nm->with_reference = v && json_is_true(v);
    return 0;
}

/* ============================== Templates ============================== */

static const char *const slot_names[RM_NSLOTS] = {
    "question", "reference", "response", "response_a", "response_b",
};

const char *
rm_slot_name(enum rm_slot s)
{
    return (unsigned)s < RM_NSLOTS ? slot_names[s] : "?";
}

/* Length of a {word} placeholder name at p (lowercase and '_'), or 0. */
static size_t
word_len(const char *p, const char *end)
{
    const char *q = p;

    while (q < end && (islower((unsigned char)*q) || *q == '_'))
        q++;
    return q < end && *q == '}' ? (size_t)(q - p) : 0;
}

int
rm_template_parse(struct rm_template *tp, const char *text, size_t len, struct sbuf *err)
{
    const char *p = text, *end = text + len;
    struct sbuf lit = SBUF_INIT;
    size_t cap = 8, line = 1;

    memset(tp, 0, sizeof(*tp));
    tp->lit = xmalloc(cap * sizeof(size_t));
    tp->slot = xmalloc(cap * sizeof(int));
    tp->lit[0] = 0;
    while (p < end) {
        size_t w;
        int s;

        if (*p == '\n')
            line++;
        if ((p[0] == '{' || p[0] == '}') && p + 1 < end && p[1] == p[0]) {
            sbuf_addc(&lit, p[0]);
            p += 2;
            continue;
        }
        if (*p != '{' || (w = word_len(p + 1, end)) == 0) {
            sbuf_addc(&lit, *p++);
            continue;
        }
        for (s = 0; s < RM_NSLOTS; s++)
            if (strlen(slot_names[s]) == w && memcmp(p + 1, slot_names[s], w) == 0)
                break;
        if (s == RM_NSLOTS) {
            sbuf_addf(err, "line %zu: unknown placeholder '{%.*s}' (known: {question},"
                      " {reference}, {response}, {response_a}, {response_b})",
                      line, (int)w, p + 1);
            goto fail;
        }
        sbuf_addc(&lit, '\0');
        if (tp->npart + 1 >= cap) {
            cap *= 2;
            tp->lit = xrealloc(tp->lit, cap * sizeof(size_t));
            tp->slot = xrealloc(tp->slot, cap * sizeof(int));
        }
        tp->slot[tp->npart++] = s;
        tp->lit[tp->npart] = lit.len;
        tp->used |= 1u << s;
        p += w + 2;
    }
    sbuf_addc(&lit, '\0');
    tp->slot[tp->npart++] = -1;
    tp->text = lit.buf;
    if (!(tp->used & (1u << RM_RESPONSE | 1u << RM_RESPONSE_A))) {
        sbuf_adds(err, "the template has no {response} or {response_a}");
        rm_template_release(tp);
        return -1;
    }
    if ((tp->used & (1u << RM_RESPONSE_B)) && !(tp->used & (1u << RM_RESPONSE_A))) {
        sbuf_adds(err, "the template has {response_b} but no {response_a}");
        rm_template_release(tp);
        return -1;
    }
    return 0;
fail:
    sbuf_release(&lit);
    rm_template_release(tp);
    return -1;
}

void
rm_template_render(const struct rm_template *tp, const char *const val[RM_NSLOTS],
                   struct sbuf *out)
{
    size_t i;

    for (i = 0; i < tp->npart; i++) {
        sbuf_adds(out, tp->text + tp->lit[i]);
        if (tp->slot[i] >= 0 && val[tp->slot[i]])
            sbuf_adds(out, val[tp->slot[i]]);
    }
}

int
rm_template_pairwise(const struct rm_template *tp)
{
    return !!(tp->used & (1u << RM_RESPONSE_B));
}

void
rm_template_release(struct rm_template *tp)
{
    free(tp->text);
    free(tp->lit);
    free(tp->slot);
    memset(tp, 0, sizeof(*tp));
}

/* ============================== Verdicts ============================== */

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* An unsigned decimal (digits, optional fraction) at *p; advances it. */
static int
read_num(const char **p, const char *end, double *out)
{
    const char *q = *p;
    char buf[64];
    size_t n;

    while (q < end && isdigit((unsigned char)*q))
        q++;
    if (q == *p)
        return -1;
    if (q + 1 < end && *q == '.' && isdigit((unsigned char)q[1])) {
        q++;
        while (q < end && isdigit((unsigned char)*q))
            q++;
    }
    n = (size_t)(q - *p);
    if (n >= sizeof(buf))
        return -1;
    memcpy(buf, *p, n);
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    *p = q;
    return 0;
}

static const char *
skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/*
 * The score keyword at the start of a cleaned line: returns the position
 * after the keyword and its ':' or '=', or NULL.  "[[" at the start
 * returns p itself.
 */
static const char *
score_head(const char *p, const char *end)
{
    static const char *const kw[] = {
        "final score", "overall score", "final rating", "overall rating", "score", "rating",
    };
    size_t i;

    while (p < end && (*p == '#' || *p == '>' || *p == '-' || *p == ' ' || *p == '\t'))
        p++;
    if (end - p >= 2 && p[0] == '[' && p[1] == '[')
        return p;
    for (i = 0; i < ARRAY_LEN(kw); i++) {
        size_t n = strlen(kw[i]);
        const char *q;
        if ((size_t)(end - p) < n || strncasecmp(p, kw[i], n) != 0)
            continue;
        q = skip_ws(p + n, end);
        if (q < end && (*q == ':' || *q == '='))
            return q + 1;
    }
    return NULL;
}

/* VALUE [/ SCALE | out of SCALE], bare or in [[ ]], then '.'?: 0 or -1. */
static int
score_body(const char *p, const char *end, double dflt, double *value, double *scale)
{
    int br = 0;

    p = skip_ws(p, end);
    if (end - p >= 2 && p[0] == '[' && p[1] == '[') {
        br = 1;
        p = skip_ws(p + 2, end);
    }
    if (read_num(&p, end, value))
        return -1;
    *scale = dflt;
    p = skip_ws(p, end);
    if (p < end && *p == '/') {
        p = skip_ws(p + 1, end);
        if (read_num(&p, end, scale))
            return -1;
    } else if ((size_t)(end - p) >= 6 && strncasecmp(p, "out of", 6) == 0) {
        p = skip_ws(p + 6, end);
        if (read_num(&p, end, scale))
            return -1;
    }
    p = skip_ws(p, end);
    if (br) {
        if (end - p < 2 || p[0] != ']' || p[1] != ']')
            return -1;
        p = skip_ws(p + 2, end);
    }
    if (p < end && *p == '.')
        p = skip_ws(p + 1, end);
    if (p != end)
        return -1;
    if (!(*scale > 0) || !(*value <= *scale) || !isfinite(*scale))
        return -1;
    return 0;
}

void
rm_verdict_parse(const char *text, size_t len, enum rm_verdict_kind kind, double default_scale,
                 struct rm_verdict *v)
{
    const char *end = text + len, *ls, *le;
    struct sbuf clean = SBUF_INIT;

    memset(v, 0, sizeof(*v));
    /* lines from the last one back: the first verdict-looking line decides */
    for (le = end;;) {
        const char *p, *cb;
        int tried = 0;

        ls = le;
        while (ls > text && ls[-1] != '\n')
            ls--;
        if (kind == RM_VERDICT_SCORE) {
            sbuf_reset(&clean);
            for (p = ls; p < le; p++)
                if (*p != '*' && *p != '_')
                    sbuf_addc(&clean, *p);
            while (clean.len > 0 && is_space(clean.buf[clean.len - 1]))
                clean.len--;
            cb = sbuf_str(&clean);
            p = score_head(cb, cb + clean.len);
            if (p) {
                tried = 1;
                v->found = score_body(p, cb + clean.len, default_scale, &v->value,
                                      &v->scale) == 0;
                if (v->found)
                    v->reward = v->value / v->scale;
            }
        } else {
            const char *q = memmem(ls, (size_t)(le - ls), "[[", 2);
            if (q) {
                tried = 1;
                if ((size_t)(le - q) >= 5 && q[3] == ']' && q[4] == ']'
                    && (q[2] == 'A' || q[2] == 'B' || q[2] == 'C')
                    && !memmem(q + 2, (size_t)(le - q - 2), "[[", 2)) {
                    v->found = 1;
                    v->choice = q[2];
                    v->reward = q[2] == 'A' ? 1 : q[2] == 'B' ? 0 : 0.5;
                }
            }
        }
        if (tried) {
            const char *a = ls, *b = le;
            while (a < b && is_space(*a))
                a++;
            while (b > a && is_space(b[-1]))
                b--;
            v->has_line = 1;
            v->line = (size_t)(a - text);
            v->line_len = (size_t)(b - a);
            if (!v->found) {
                v->reward = 0;
                v->value = v->scale = 0;
                v->choice = 0;
            }
            v->rationale_len = (size_t)(ls - text);
            break;
        }
        if (ls == text)
            break;
        le = ls - 1;
    }
    if (!v->has_line)
        v->rationale_len = len;
    while (v->rationale_len > 0 && is_space(text[v->rationale_len - 1]))
        v->rationale_len--;
    sbuf_release(&clean);
}
