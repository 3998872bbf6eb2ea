/*
 * sample.c - the domain rule and the sampling object of sample.h.
 */
#include "sample.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ============================== Domains ============================== */

static int
in_list(const char *const *names, int n, const char *s)
{
    int i;

    for (i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return 1;
    return 0;
}

int
sample_domain_match(const struct sample_domains *d, const json_t *rec, const char **why)
{
    const json_t *v = json_object_get(rec, "domain");

    if (!v)
        return d->untagged;
    if (!json_is_string(v)) {
        *why = "not a string";
        return -1;
    }
    if (d->n > 0)
        return in_list(d->names, d->n, json_string_value(v));
    return !in_list(d->except, d->nexcept, json_string_value(v));
}

int
sample_get_logprobs(const json_t *rec, const char *key, size_t n, const char *of,
                    const json_t **out, struct sbuf *why)
{
    const json_t *a = json_object_get(rec, key), *v;
    size_t i;

    if (!json_is_array(a)) {
        sbuf_adds(why, a ? "not an array" : "missing");
        return -1;
    }
    if (n != SIZE_MAX && json_array_size(a) != n) {
        sbuf_addf(why, "%zu values for %zu %s", json_array_size(a), n, of);
        return -1;
    }
    json_array_foreach(a, i, v) {
        double x;
        if (!json_is_number(v)) {
            sbuf_addf(why, "element %zu is not a number", i);
            return -1;
        }
        x = json_number_value(v);
        if (!isfinite(x) || x > 0) {
            sbuf_addf(why, "element %zu is not a log-probability (finite, <= 0)", i);
            return -1;
        }
    }
    *out = a;
    return 0;
}

/* ============================== Routes ============================== */

int
sample_routes_get(const json_t *a, const struct model_config *c, size_t n, const char *of,
                  int *out, struct sbuf *why)
{
    int L = model_sparse_layers(c), k = c->moe.top_k, E = c->moe.n_experts;
    int layer[256], l, j, q, nl = 0;
    size_t t;

    for (l = 0; l < c->n_layers; l++)
        if (model_layer_moe(c, l) && nl < 256)
            layer[nl++] = l;
    if (L == 0 || L > 256) {
        sbuf_addf(why, L ? "the model has %d sparse layers (at most 256 are replayed)"
                         : "the model has no mixture-of-experts layers to replay", L);
        return -1;
    }
    if (k > 64) {
        sbuf_addf(why, "the model routes to %d experts (at most 64 are replayed)", k);
        return -1;
    }
    if (!json_is_array(a)) {
        sbuf_adds(why, a ? "not an array" : "missing (gen --routes writes it)");
        return -1;
    }
    if (n != SIZE_MAX && json_array_size(a) != n) {
        sbuf_addf(why, "%zu tokens for %zu %s", json_array_size(a), n, of);
        return -1;
    }
    for (t = 0; t < json_array_size(a); t++) {
        const json_t *tok = json_array_get(a, t);
        if (!json_is_array(tok) || json_array_size(tok) != (size_t)L) {
            if (json_is_array(tok))
                sbuf_addf(why, "token %zu: %zu layers, the model has %d sparse layers", t,
                          json_array_size(tok), L);
            else
                sbuf_addf(why, "token %zu: not an array of layers", t);
            return -1;
        }
        for (l = 0; l < L; l++) {
            const json_t *ly = json_array_get(tok, (size_t)l);
            int ids[64];
            if (!json_is_array(ly) || json_array_size(ly) != (size_t)k) {
                sbuf_addf(why, "token %zu, layer %d: ", t, layer[l]);
                if (json_is_array(ly))
                    sbuf_addf(why, "%zu experts, the model routes each token to %d",
                              json_array_size(ly), k);
                else
                    sbuf_adds(why, "not an array of experts");
                return -1;
            }
            for (j = 0; j < k; j++) {
                const json_t *v = json_array_get(ly, (size_t)j);
                json_int_t e = json_is_integer(v) ? json_integer_value(v) : -1;
                if (e < 0 || e >= E) {
                    sbuf_addf(why, "token %zu, layer %d: element %d is not an expert in "
                              "[0, %d)", t, layer[l], j, E);
                    return -1;
                }
                ids[j] = (int)e;
                for (q = 0; q < j; q++) {
                    if (ids[q] == ids[j]) {
                        sbuf_addf(why, "token %zu, layer %d: expert %d twice", t, layer[l],
                                  ids[j]);
                        return -1;
                    }
                }
                if (out)
                    out[(t * (size_t)L + (size_t)l) * (size_t)k + (size_t)j] = ids[j];
            }
        }
    }
    return 0;
}

json_t *
sample_routes_new(const int *rt, size_t n, const struct model_config *c)
{
    int L = model_sparse_layers(c), k = c->moe.top_k, l, j;
    json_t *a = json_array();
    size_t t;

    for (t = 0; t < n; t++) {
        json_t *tok = json_array();
        for (l = 0; l < L; l++) {
            json_t *ly = json_array();
            for (j = 0; j < k; j++)
                json_array_append_new(ly, json_integer(*rt++));
            json_array_append_new(tok, ly);
        }
        json_array_append_new(a, tok);
    }
    return a;
}

int
sample_routes_place(const json_t *a, const struct model_config *c, size_t np, size_t nc,
                    int *rows, struct sbuf *why)
{
    size_t W = (size_t)model_route_width(c), i;

    if (np < 1) {
        sbuf_adds(why, "no prompt token predicts the first completion token");
        return -1;
    }
    for (i = 0; i < (np + nc) * W; i++)
        rows[i] = -1;
    return sample_routes_get(a, c, nc, "completion_ids", rows + (np - 1) * W, why);
}

/* ============================== Token fields ============================== */

json_t *
sample_field(const json_t *rec, const char *key)
{
    json_t *v = json_object_get(rec, key);
    const char *p = key;
    size_t len;

    if (v || !key || !strchr(key, '.'))
        return v;
    v = (json_t *)rec;
    for (;;) {
        len = strcspn(p, ".");
        if (!json_is_object(v))
            return NULL;
        v = json_object_getn(v, p, len);
        if (!v || p[len] == '\0')
            return v;
        p += len + 1;
    }
}

int
sample_reward(const json_t *rec, const char *key, double *out, const char **why)
{
    json_t *v = sample_field(rec, key);
    const char *w = NULL;
    double x;

    if (!v) {
        w = "missing";
    } else if (!json_is_number(v)) {
        w = "not a number";
    } else {
        x = json_number_value(v);
        if (!isfinite(x))
            w = "not a finite number";
        else
            *out = x;
    }
    if (w && why)
        *why = w;
    return w ? -1 : 0;
}

int
sample_get_ids(const json_t *rec, const char *key, int vocab, int nonempty,
               const json_t **out, struct sbuf *why)
{
    const json_t *a = json_object_get(rec, key), *v;
    json_int_t hi = vocab > 0 ? vocab : (json_int_t)INT_MAX + 1;
    size_t i;

    if (!a) {
        sbuf_adds(why, "missing");
        return -1;
    }
    if (!json_is_array(a)) {
        sbuf_adds(why, "not an array");
        return -1;
    }
    if (nonempty && json_array_size(a) == 0) {
        sbuf_adds(why, "empty");
        return -1;
    }
    json_array_foreach(a, i, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= hi) {
            if (vocab > 0)
                sbuf_addf(why, "element %zu is not a token id in [0, %d)", i, vocab);
            else
                sbuf_addf(why, "element %zu is not a token id (an integer >= 0)", i);
            return -1;
        }
    }
    *out = a;
    return 0;
}

/* ============================== Sampling ============================== */

/* A number field of the sampling object o in [lo, hi] (lo excluded if open). */
static int
get_num(const json_t *o, const char *key, double lo, int open, double hi, double *out,
        const char *range, const char **why)
{
    const json_t *v = json_object_get(o, key);

    if (!v) {
        *why = "missing";
        return -1;
    }
    if (!json_is_number(v)) {
        *why = "not a number";
        return -1;
    }
    *out = json_number_value(v);
    if (!(open ? *out > lo : *out >= lo) || !(*out <= hi)) {
        *why = range;
        return -1;
    }
    return 0;
}

int
sample_sampling_get(const json_t *rec, struct sample_sampling *s, const char **field,
                    const char **why)
{
    const json_t *o = json_object_get(rec, "sampling");
    const json_t *k;

    if (!o)
        return 0;
    *field = "sampling";
    if (!json_is_object(o)) {
        *why = "not an object";
        return -1;
    }
    *field = "sampling.temperature";
    if (get_num(o, "temperature", 0, 0, 1e3, &s->temperature, "not in [0, 1000]", why))
        return -1;
    *field = "sampling.top_p";
    if (get_num(o, "top_p", 0, 1, 1, &s->top_p, "not in (0, 1]", why))
        return -1;
    *field = "sampling.min_p";
    if (get_num(o, "min_p", 0, 0, 1, &s->min_p, "not in [0, 1]", why))
        return -1;
    *field = "sampling.top_k";
    k = json_object_get(o, "top_k");
    if (!k) {
        *why = "missing";
        return -1;
    }
    if (!json_is_integer(k) || json_integer_value(k) < 0) {
        *why = "not an integer >= 0";
        return -1;
    }
    s->top_k = json_integer_value(k);
    return 1;
}

/* The shortest decimal of f that reads back as f. */
static double
short_decimal(float f)
{
    char buf[32];
    int prec;
    double d = f;

    for (prec = 1; prec <= 9; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, (double)f);
        d = strtod(buf, NULL);
        if ((float)d == f)
            break;
    }
    return d;
}

void
sample_sampling_of(struct sample_sampling *s, const struct sampler_config *c)
{
    s->temperature = short_decimal(c->temperature);
    s->top_p = short_decimal(c->top_p);
    s->top_k = c->top_k;
    s->min_p = short_decimal(c->min_p);
}

void
sample_sampling_set(json_t *rec, const struct sample_sampling *s)
{
    json_t *o = json_object();

    json_object_set_new(o, "temperature", json_real(s->temperature));
    json_object_set_new(o, "top_p", json_real(s->top_p));
    json_object_set_new(o, "top_k", json_integer(s->top_k));
    json_object_set_new(o, "min_p", json_real(s->min_p));
    json_object_set_new(rec, "sampling", o);
}

int
sample_sampling_eq(const struct sample_sampling *a, const struct sample_sampling *b)
{
    return a->temperature == b->temperature && a->top_p == b->top_p && a->top_k == b->top_k
           && a->min_p == b->min_p;
}

double
sample_logp_temperature(const struct sample_sampling *s)
{
    return s->temperature > 0 ? s->temperature : 1.0;
}

void
sample_temp_init(struct sample_temp *st, int fixed, double temperature)
{
    memset(st, 0, sizeof(*st));
    st->fixed = fixed;
    st->temperature = fixed ? temperature : 1.0;
}

int
sample_temp_take(struct sample_temp *st, const json_t *rec, const char **field,
                 struct sbuf *why)
{
    struct sample_sampling s;
    const char *bad;
    int r;

    if (st->fixed)
        return 0;
    r = sample_sampling_get(rec, &s, field, &bad);
    if (r == 0)
        return 0;
    if (r < 0) {
        sbuf_adds(why, bad);
        return -1;
    }
    if (!st->seen) {
        st->seen = 1;
        st->first = s;
        st->temperature = sample_logp_temperature(&s);
        return 0;
    }
    if (sample_sampling_eq(&s, &st->first))
        return 0;
    *field = "sampling";
    sbuf_addf(why,
              "temperature %g, top_p %g, top_k %lld, min_p %g differ from the first "
              "sample's %g, %g, %lld, %g (one run, one setting)",
              s.temperature, s.top_p, s.top_k, s.min_p, st->first.temperature, st->first.top_p,
              st->first.top_k, st->first.min_p);
    return -1;
}

void
sample_temp_release(struct sample_temp *st)
{
    memset(st, 0, sizeof(*st));
}
