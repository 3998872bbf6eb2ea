/*
 * stats.c - record-stream summaries.  See stats.h for the definitions and
 * the memory bound; the table layout is documented in stats(1).
 */
#include "stats.h"
#include "sample.h"
#include "tmpfile.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* k values used when none are given: 1, 2, 4, ..., 1024, each shown only
 * when some group is that large. */
#define AUTO_NK 11

struct dvec {
    double *v;
    size_t n, cap;
};

struct count {
    char *name;
    long n;
};

/* The accumulators of one column: "all" (domain NULL) or one domain. */
struct acc {
    char *domain;
    long records, groups;
    long nreward, ncorrect;
    double rsum;
    double pass_sum[STATS_MAX_K], maj_sum[STATS_MAX_K];
    long pass_n[STATS_MAX_K], maj_n[STATS_MAX_K];
    struct dvec chars, tokens;
    struct count *fin;
    size_t nfin;
};

struct stats {
    struct stats_opts o;
    int auto_k;
    int max_group;                 /* largest group size seen */
    struct acc all;
    struct acc **dom;
    size_t ndom;
    /* the open group */
    json_t **grp;
    size_t ngrp, capgrp;
    char *gid;
    /* hashes of the group ids seen: open addressing, 0 = empty */
    uint64_t *seen;
    size_t nseen, capseen;
    int finished;
};

/* ---- small helpers ---- */

static void
dvec_push(struct dvec *d, double x)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 64;
        d->v = xrealloc(d->v, xmul(d->cap, sizeof(double)));
    }
    d->v[d->n++] = x;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void
dvec_sort(struct dvec *d)
{
    if (d->n > 1)
        qsort(d->v, d->n, sizeof(double), cmp_double);
}

double
stats_pass_at_k(long n, long c, long k)
{
    double prod = 1.0;
    long i;

    assert(k >= 1 && k <= n && c >= 0 && c <= n);
    if (n - c < k)
        return 1.0;
    /* C(n-c,k)/C(n,k) = prod_{i=n-c+1}^{n} (1 - k/i): no large binomials. */
    for (i = n - c + 1; i <= n; i++)
        prod *= 1.0 - (double)k / (double)i;
    return 1.0 - prod;
}

double
stats_percentile(const double *sorted, size_t n, double p)
{
    double pos = p / 100.0 * (double)(n - 1), frac;
    size_t lo;

    assert(n > 0);
    lo = (size_t)floor(pos);
    if (lo >= n - 1)
        return sorted[n - 1];
    frac = pos - (double)lo;
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

/* The balanced {...} content starting at s (which points at '{'). */
static const char *
brace_content(const char *s, size_t *len)
{
    const char *p = s + 1;
    int depth = 1;

    for (; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == '{')
            depth++;
        else if (*p == '}' && --depth == 0) {
            *len = (size_t)(p - s - 1);
            return s + 1;
        }
    }
    return NULL;
}

const char *
stats_last_boxed(const char *s, size_t *len)
{
    static const char *const cmds[] = { "\\boxed", "\\fbox" };
    const char *best = NULL, *p, *q, *c;
    size_t blen = 0, clen, i;

    /* Every \boxed / \fbox in s; the last one that is balanced wins. */
    for (i = 0; i < ARRAY_LEN(cmds); i++) {
        for (p = s; (p = strstr(p, cmds[i])) != NULL; p++) {
            q = p + strlen(cmds[i]);
            while (*q == ' ')
                q++;
            if (*q != '{')
                continue;
            c = brace_content(q, &clen);
            if (c && (!best || c > best)) {
                best = c;
                blen = clen;
            }
        }
    }
    *len = blen;
    return best;
}

/* Number of UTF-8 code points (bytes that do not continue a sequence). */
static long
utf8_len(const char *s)
{
    long n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* ---- accumulators ---- */

static void
acc_release(struct acc *a)
{
    size_t i;

    free(a->domain);
    free(a->chars.v);
    free(a->tokens.v);
    for (i = 0; i < a->nfin; i++)
        free(a->fin[i].name);
    free(a->fin);
}

static struct acc *
domain_acc(struct stats *s, const char *domain)
{
    struct acc *a;
    size_t i;

    for (i = 0; i < s->ndom; i++)
        if (strcmp(s->dom[i]->domain, domain) == 0)
            return s->dom[i];
    a = xcalloc(1, sizeof(*a));
    a->domain = xstrdup(domain);
    s->dom = xrealloc(s->dom, xmul(s->ndom + 1, sizeof(*s->dom)));
    s->dom[s->ndom++] = a;
    return a;
}

static const char *
rec_domain(const json_t *rec)
{
    json_t *d = json_object_get(rec, "domain");

    return json_is_string(d) ? json_string_value(d) : "-";
}

/* The reward of rec: 1 with *r set, or 0 when it has none. */
static int
rec_reward(const struct stats *s, const json_t *rec, double *r)
{
    json_t *v = sample_field(rec, s->o.reward_key);

    if (!json_is_number(v))
        return 0;
    *r = json_number_value(v);
    return 1;
}

static void
count_finish(struct acc *a, const char *name)
{
    size_t i;

    for (i = 0; i < a->nfin; i++)
        if (strcmp(a->fin[i].name, name) == 0) {
            a->fin[i].n++;
            return;
        }
    a->fin = xrealloc(a->fin, xmul(a->nfin + 1, sizeof(*a->fin)));
    a->fin[a->nfin].name = xstrdup(name);
    a->fin[a->nfin++].n = 1;
}

static void
acc_record(const struct stats *s, struct acc *a, const json_t *rec, const json_t *ids)
{
    json_t *v;
    double r;

    a->records++;
    if (rec_reward(s, rec, &r)) {
        a->nreward++;
        a->rsum += r;
        a->ncorrect += r >= s->o.threshold;
    }
    v = json_object_get(rec, "completion");
    if (json_is_string(v))
        dvec_push(&a->chars, (double)utf8_len(json_string_value(v)));
    if (ids)
        dvec_push(&a->tokens, (double)json_array_size(ids));
    v = json_object_get(rec, "finish");
    if (json_is_string(v))
        count_finish(a, json_string_value(v));
}

/*
 * The extracted answer of rec (borrowed), or NULL.  A scorer's verdict
 * stands when the key is present: null there means it found no answer.
 * Only without the key is the completion's last \boxed{} read.
 */
static const char *
rec_answer(const struct stats *s, const json_t *rec, size_t *len)
{
    json_t *v = sample_field(rec, s->o.answer_key);

    if (v) {
        if (!json_is_string(v))
            return NULL;
        *len = json_string_length(v);
        return json_string_value(v);
    }
    v = json_object_get(rec, "completion");
    if (json_is_string(v))
        return stats_last_boxed(json_string_value(v), len);
    return NULL;
}

/* Trims ASCII spaces at both ends of [*p, *p + *len). */
static void
trim(const char **p, size_t *len)
{
    while (*len && isspace((unsigned char)**p)) {
        (*p)++;
        (*len)--;
    }
    while (*len && isspace((unsigned char)(*p)[*len - 1]))
        (*len)--;
}

/*
 * maj@k of the group's first k records: 1 or 0, or -1 when the vote does
 * not apply: the prompt has no reference "answer" (code, free text), or
 * one of the k records has no reward to judge the vote by.  Ties go to the
 * answer seen first; records without an extracted answer do not vote, and
 * no votes at all scores 0.
 */
static int
group_maj(const struct stats *s, json_t **recs, int k)
{
    const char *ans[1024 + 1];
    size_t len[1024 + 1];
    int best = -1, bestn = 0, i, j, n;
    double r;

    assert(k <= 1024 || !"k is at most 1024");
    if (!json_object_get(recs[0], "answer"))
        return -1;
    for (i = 0; i < k; i++) {
        if (!rec_reward(s, recs[i], &r))
            return -1;
        ans[i] = rec_answer(s, recs[i], &len[i]);
        if (ans[i])
            trim(&ans[i], &len[i]);
    }
    for (i = 0; i < k; i++) {
        if (!ans[i])
            continue;
        for (n = 0, j = 0; j < k; j++)
            n += ans[j] && len[j] == len[i] && memcmp(ans[j], ans[i], len[i]) == 0;
        if (n > bestn) {
            bestn = n;
            best = i;
        }
    }
    if (best < 0)
        return 0;
    rec_reward(s, recs[best], &r);
    return r >= s->o.threshold;
}

static void
acc_group(const struct stats *s, struct acc *a, json_t **recs, size_t n)
{
    long nr = 0, c = 0;
    double r;
    size_t i;
    int j, k, m;

    a->groups++;
    for (i = 0; i < n; i++)
        if (rec_reward(s, recs[i], &r)) {
            nr++;
            c += r >= s->o.threshold;
        }
    for (j = 0; j < s->o.nk; j++) {
        k = s->o.ks[j];
        if (nr >= k) {
            a->pass_sum[j] += stats_pass_at_k(nr, c, k);
            a->pass_n[j]++;
        }
        if ((long)n >= k && (m = group_maj(s, recs, k)) >= 0) {
            a->maj_sum[j] += m;
            a->maj_n[j]++;
        }
    }
}

static void
close_group(struct stats *s)
{
    struct acc *d;
    size_t i;

    if (s->ngrp == 0)
        return;
    if (s->ngrp > (size_t)s->max_group)
        s->max_group = (int)PT_MIN(s->ngrp, 1 << 30);
    d = domain_acc(s, rec_domain(s->grp[0]));
    acc_group(s, &s->all, s->grp, s->ngrp);
    acc_group(s, d, s->grp, s->ngrp);
    for (i = 0; i < s->ngrp; i++)
        json_decref(s->grp[i]);
    s->ngrp = 0;
    free(s->gid);
    s->gid = NULL;
}

/* ---- the set of group ids seen ---- */

static int
seen_insert(struct stats *s, uint64_t h)
{
    size_t i, mask;

    if (h == 0)
        h = 1;
    if (2 * (s->nseen + 1) > s->capseen) {
        uint64_t *old = s->seen;
        size_t oldcap = s->capseen, j;

        s->capseen = s->capseen ? 2 * s->capseen : 1024;
        s->seen = xcalloc(s->capseen, sizeof(uint64_t));
        s->nseen = 0;
        for (j = 0; j < oldcap; j++)
            if (old[j])
                seen_insert(s, old[j]);
        free(old);
    }
    mask = s->capseen - 1;
    for (i = h & mask; s->seen[i]; i = (i + 1) & mask)
        if (s->seen[i] == h)
            return 0;
    s->seen[i] = h;
    s->nseen++;
    return 1;
}

/* ---- public ---- */

void
stats_opts_init(struct stats_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->reward_key = "reward";
    o->threshold = 1.0;
    o->answer_key = "math.extracted";
}

struct stats *
stats_new(const struct stats_opts *o)
{
    struct stats *s = xcalloc(1, sizeof(*s));
    int i;

    s->o = *o;
    if (s->o.nk == 0) {
        s->auto_k = 1;
        s->o.nk = AUTO_NK;
        for (i = 0; i < AUTO_NK; i++)
            s->o.ks[i] = 1 << i;
    }
    return s;
}

static void
push_rec(struct stats *s, json_t *rec)
{
    if (s->ngrp == s->capgrp) {
        s->capgrp = s->capgrp ? 2 * s->capgrp : 16;
        s->grp = xrealloc(s->grp, xmul(s->capgrp, sizeof(*s->grp)));
    }
    s->grp[s->ngrp++] = json_incref(rec);
}

int
stats_add(struct stats *s, json_t *rec, const char **field, struct sbuf *why)
{
    json_t *g = json_object_get(rec, "group");
    const json_t *ids = NULL;
    const char *id, *dwhy;
    uint64_t h;
    /* every domain counted: the rule only turns a non-string one away */
    static const struct sample_domains any = {NULL, 0, NULL, 0, 1};

    assert(!s->finished);
    *field = "group";
    if (g && !json_is_string(g)) {
        sbuf_adds(why, "not a string");
        return -1;
    }
    /* the domain rule of sample.h: a domain that is not a string is bad */
    if (sample_domain_match(&any, rec, &dwhy) < 0) {
        *field = "domain";
        sbuf_adds(why, dwhy);
        return -1;
    }
    {
        json_t *v = sample_field(rec, s->o.reward_key);
        if (v && !json_is_number(v) && !json_is_null(v)) {
            *field = s->o.reward_key;
            sbuf_adds(why, "not a number");
            return -1;
        }
    }
    /* the completion's length in tokens, read as every tool reads ids */
    if (json_object_get(rec, "completion_ids")
        && sample_get_ids(rec, "completion_ids", 0, 0, &ids, why) < 0) {
        *field = "completion_ids";
        return -1;
    }
    if (json_is_string(g)) {
        id = json_string_value(g);
        if (!s->gid || strcmp(s->gid, id) != 0) {
            h = hash64(id, strlen(id), 0x67726f7570ULL);
            if (!seen_insert(s, h)) {
                sbuf_addf(why, "group '%s' is split: its records are "
                          "not consecutive", id);
                return -1;
            }
            close_group(s);
            s->gid = xstrdup(id);
        } else if (json_is_integer(json_object_get(rec, "k"))) {
            json_int_t k = json_integer_value(json_object_get(rec, "k"));
            size_t i;
            for (i = 0; i < s->ngrp; i++) {
                json_t *o = json_object_get(s->grp[i], "k");
                if (json_is_integer(o) && json_integer_value(o) == k) {
                    *field = "k";
                    sbuf_addf(why, "%lld is also the k of an earlier record "
                              "in group '%s'", (long long)k, id);
                    return -1;
                }
            }
        }
    } else {
        close_group(s);
    }
    acc_record(s, &s->all, rec, ids);
    acc_record(s, domain_acc(s, rec_domain(rec)), rec, ids);
    push_rec(s, rec);
    if (!json_is_string(g))
        close_group(s);
    return 0;
}

void
stats_finish(struct stats *s)
{
    size_t i;

    close_group(s);
    s->finished = 1;
    dvec_sort(&s->all.chars);
    dvec_sort(&s->all.tokens);
    for (i = 0; i < s->ndom; i++) {
        dvec_sort(&s->dom[i]->chars);
        dvec_sort(&s->dom[i]->tokens);
    }
}

void
stats_free(struct stats *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < s->ngrp; i++)
        json_decref(s->grp[i]);
    free(s->grp);
    free(s->gid);
    free(s->seen);
    acc_release(&s->all);
    for (i = 0; i < s->ndom; i++) {
        acc_release(s->dom[i]);
        free(s->dom[i]);
    }
    free(s->dom);
    free(s);
}

/* ---- output ---- */

static int
cmp_acc(const void *a, const void *b)
{
    return strcmp((*(struct acc *const *)a)->domain,
                  (*(struct acc *const *)b)->domain);
}

static int
cmp_count(const void *a, const void *b)
{
    return strcmp(((const struct count *)a)->name,
                  ((const struct count *)b)->name);
}

/* Whether k-column j is shown: given k always, automatic k when some
 * group was that large. */
static int
k_shown(const struct stats *s, int j)
{
    return !s->auto_k || s->all.pass_n[j] > 0 || s->all.maj_n[j] > 0;
}

static long
finish_count(const struct acc *a, const char *name)
{
    size_t i;

    for (i = 0; i < a->nfin; i++)
        if (strcmp(a->fin[i].name, name) == 0)
            return a->fin[i].n;
    return 0;
}

/* One table row: label and a cell per column, each cell a new string. */
struct row {
    char *label;
    char **cell;
};

struct table {
    struct row *rows;
    size_t nrows, ncols;
    struct acc **cols;
};

static struct row *
table_row(struct table *t, const char *fmt, ...) PT_PRINTF(2, 3);

static struct row *
table_row(struct table *t, const char *fmt, ...)
{
    struct row *r;
    va_list ap;
    char *buf;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    buf = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(buf, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->rows = xrealloc(t->rows, xmul(t->nrows + 1, sizeof(*t->rows)));
    r = &t->rows[t->nrows++];
    r->label = buf;
    r->cell = xcalloc(t->ncols, sizeof(char *));
    return r;
}

static char *
fmt_cell(const char *fmt, ...) PT_PRINTF(1, 2);

static char *
fmt_cell(const char *fmt, ...)
{
    char tmp[64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    return xstrdup(tmp);
}

static char *
ratio_cell(double sum, long n, int digits)
{
    return n > 0 ? fmt_cell("%.*f", digits, sum / (double)n) : xstrdup("-");
}

/* Length rows (mean, p50, p90, p99, max) of one vector per column. */
static void
length_rows(struct table *t, const char *name, size_t off)
{
    static const double pct[] = { 50, 90, 99 };
    struct row *r;
    size_t c, i;

    for (i = 0; i < 5; i++) {
        if (i == 0)
            r = table_row(t, "%s.mean", name);
        else if (i < 4)
            r = table_row(t, "%s.p%.0f", name, pct[i - 1]);
        else
            r = table_row(t, "%s.max", name);
        for (c = 0; c < t->ncols; c++) {
            const struct dvec *d =
                (const struct dvec *)((const char *)t->cols[c] + off);
            double sum = 0;
            size_t j;

            if (d->n == 0) {
                r->cell[c] = xstrdup("-");
                continue;
            }
            if (i == 0) {
                for (j = 0; j < d->n; j++)
                    sum += d->v[j];
                r->cell[c] = fmt_cell("%.1f", sum / (double)d->n);
            } else if (i < 4) {
                r->cell[c] = fmt_cell("%.1f", stats_percentile(d->v, d->n,
                                                               pct[i - 1]));
            } else {
                r->cell[c] = fmt_cell("%.0f", d->v[d->n - 1]);
            }
        }
    }
}

void
stats_table(struct stats *s, struct sbuf *sb)
{
    struct table t = { NULL, 0, 0, NULL };
    struct count *fin;
    size_t *w, c, i;
    struct row *r;
    int j;

    t.ncols = s->ndom + 1;
    t.cols = xmalloc(xmul(t.ncols, sizeof(*t.cols)));
    t.cols[0] = &s->all;
    for (c = 0; c < s->ndom; c++)
        t.cols[c + 1] = s->dom[c];
    qsort(t.cols + 1, s->ndom, sizeof(*t.cols), cmp_acc);

    r = table_row(&t, "%s", "");
    for (c = 0; c < t.ncols; c++)
        r->cell[c] = xstrdup(c ? t.cols[c]->domain : "all");
    r = table_row(&t, "records");
    for (c = 0; c < t.ncols; c++)
        r->cell[c] = fmt_cell("%ld", t.cols[c]->records);
    r = table_row(&t, "groups");
    for (c = 0; c < t.ncols; c++)
        r->cell[c] = fmt_cell("%ld", t.cols[c]->groups);
    if (s->all.nreward > 0) {
        r = table_row(&t, "rewarded");
        for (c = 0; c < t.ncols; c++)
            r->cell[c] = fmt_cell("%ld", t.cols[c]->nreward);
        r = table_row(&t, "reward.mean");
        for (c = 0; c < t.ncols; c++)
            r->cell[c] = ratio_cell(t.cols[c]->rsum, t.cols[c]->nreward, 4);
        r = table_row(&t, "accuracy");
        for (c = 0; c < t.ncols; c++)
            r->cell[c] = ratio_cell((double)t.cols[c]->ncorrect,
                                    t.cols[c]->nreward, 4);
        for (j = 0; j < s->o.nk; j++) {
            if (!k_shown(s, j))
                continue;
            r = table_row(&t, "pass@%d", s->o.ks[j]);
            for (c = 0; c < t.ncols; c++)
                r->cell[c] = ratio_cell(t.cols[c]->pass_sum[j],
                                        t.cols[c]->pass_n[j], 4);
        }
        for (j = 0; j < s->o.nk; j++) {
            if (!k_shown(s, j))
                continue;
            r = table_row(&t, "maj@%d", s->o.ks[j]);
            for (c = 0; c < t.ncols; c++)
                r->cell[c] = ratio_cell(t.cols[c]->maj_sum[j],
                                        t.cols[c]->maj_n[j], 4);
        }
    }
    if (s->all.chars.n > 0)
        length_rows(&t, "chars", offsetof(struct acc, chars));
    if (s->all.tokens.n > 0)
        length_rows(&t, "tokens", offsetof(struct acc, tokens));
    fin = xmalloc(xmul(s->all.nfin + 1, sizeof(*fin)));
    if (s->all.nfin)
        memcpy(fin, s->all.fin, s->all.nfin * sizeof(*fin));
    qsort(fin, s->all.nfin, sizeof(*fin), cmp_count);
    for (i = 0; i < s->all.nfin; i++) {
        r = table_row(&t, "finish.%s", fin[i].name);
        for (c = 0; c < t.ncols; c++)
            r->cell[c] = fmt_cell("%ld", finish_count(t.cols[c], fin[i].name));
    }
    free(fin);

    /* Widths: the label column left-aligned, the others right-aligned. */
    w = xcalloc(t.ncols + 1, sizeof(size_t));
    for (i = 0; i < t.nrows; i++) {
        w[0] = PT_MAX(w[0], strlen(t.rows[i].label));
        for (c = 0; c < t.ncols; c++)
            w[c + 1] = PT_MAX(w[c + 1], strlen(t.rows[i].cell[c]));
    }
    for (i = 0; i < t.nrows; i++) {
        sbuf_addf(sb, "%-*s", (int)w[0], t.rows[i].label);
        for (c = 0; c < t.ncols; c++)
            sbuf_addf(sb, "  %*s", (int)w[c + 1], t.rows[i].cell[c]);
        sbuf_addc(sb, '\n');
        free(t.rows[i].label);
        for (c = 0; c < t.ncols; c++)
            free(t.rows[i].cell[c]);
        free(t.rows[i].cell);
    }
    free(w);
    free(t.rows);
    free(t.cols);
}

static json_t *
length_json(const struct dvec *d)
{
    double sum = 0;
    size_t i;

    for (i = 0; i < d->n; i++)
        sum += d->v[i];
    return json_pack("{s:I,s:f,s:f,s:f,s:f,s:f}", "n", (json_int_t)d->n,
                     "mean", sum / (double)d->n,
                     "p50", stats_percentile(d->v, d->n, 50),
                     "p90", stats_percentile(d->v, d->n, 90),
                     "p99", stats_percentile(d->v, d->n, 99),
                     "max", d->v[d->n - 1]);
}

static json_t *
acc_json(const struct stats *s, const struct acc *a)
{
    json_t *o = json_object(), *pk, *mk, *f;
    char key[16];
    size_t i;
    int j;

    json_object_set_new(o, "records", json_integer(a->records));
    json_object_set_new(o, "groups", json_integer(a->groups));
    if (a->nreward > 0) {
        json_object_set_new(o, "rewarded", json_integer(a->nreward));
        json_object_set_new(o, "reward_mean",
                            json_real(a->rsum / (double)a->nreward));
        json_object_set_new(o, "accuracy",
                            json_real((double)a->ncorrect / (double)a->nreward));
        pk = json_object();
        mk = json_object();
        for (j = 0; j < s->o.nk; j++) {
            if (!k_shown(s, j))
                continue;
            snprintf(key, sizeof(key), "%d", s->o.ks[j]);
            json_object_set_new(pk, key, a->pass_n[j] ? json_real(a->pass_sum[j]
                                / (double)a->pass_n[j]) : json_null());
            json_object_set_new(mk, key, a->maj_n[j] ? json_real(a->maj_sum[j]
                                / (double)a->maj_n[j]) : json_null());
        }
        json_object_set_new(o, "pass@k", pk);
        json_object_set_new(o, "maj@k", mk);
    }
    if (a->chars.n > 0)
        json_object_set_new(o, "chars", length_json(&a->chars));
    if (a->tokens.n > 0)
        json_object_set_new(o, "tokens", length_json(&a->tokens));
    if (a->nfin > 0) {
        struct count *fin = xmalloc(xmul(a->nfin, sizeof(*fin)));

        memcpy(fin, a->fin, a->nfin * sizeof(*fin));
        qsort(fin, a->nfin, sizeof(*fin), cmp_count);
        f = json_object();
        for (i = 0; i < a->nfin; i++)
            json_object_set_new(f, fin[i].name, json_integer(fin[i].n));
        json_object_set_new(o, "finish", f);
        free(fin);
    }
    return o;
}

json_t *
stats_json(struct stats *s)
{
    json_t *o = acc_json(s, &s->all), *d = json_object();
    struct acc **cols;
    size_t i;

    cols = xmalloc(xmul(s->ndom + 1, sizeof(*cols)));
    if (s->ndom)
        memcpy(cols, s->dom, s->ndom * sizeof(*cols));
    qsort(cols, s->ndom, sizeof(*cols), cmp_acc);
    for (i = 0; i < s->ndom; i++)
        json_object_set_new(d, cols[i]->domain, acc_json(s, cols[i]));
    json_object_set_new(o, "domains", d);
    free(cols);
    return o;
}

/* ---- plots ---- */

struct series {
    char *name;
    double *x, *y;
    size_t n, cap;
};

struct plot {
    struct series *s;
    size_t n;
    long nrec;
};

struct plot *
plot_new(void)
{
    return xcalloc(1, sizeof(struct plot));
}

static struct series *
plot_series(struct plot *p, const char *name)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        if (strcmp(p->s[i].name, name) == 0)
            return &p->s[i];
    p->s = xrealloc(p->s, xmul(p->n + 1, sizeof(*p->s)));
    memset(&p->s[p->n], 0, sizeof(*p->s));
    p->s[p->n].name = xstrdup(name);
    return &p->s[p->n++];
}

static void
plot_point(struct plot *p, const char *name, double x, double y)
{
    struct series *s = plot_series(p, name);

    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->x = xrealloc(s->x, xmul(s->cap, sizeof(double)));
        s->y = xrealloc(s->y, xmul(s->cap, sizeof(double)));
    }
    s->x[s->n] = x;
    s->y[s->n++] = y;
}

/* Every number under v, named by its dotted path (prefix is sb's text). */
static void
plot_walk(struct plot *p, const json_t *v, struct sbuf *path, double x)
{
    const char *key;
    json_t *c;
    size_t len = path->len;

    if (json_is_number(v)) {
        if (strcmp(sbuf_str(path), "step") != 0)
            plot_point(p, sbuf_str(path), x, json_number_value(v));
        return;
    }
    if (!json_is_object(v))
        return;
    json_object_foreach((json_t *)v, key, c) {
        if (len)
            sbuf_addc(path, '.');
        sbuf_adds(path, key);
        plot_walk(p, c, path, x);
        path->len = len;
        path->buf[len] = '\0';
    }
}

void
plot_add(struct plot *p, const json_t *rec)
{
    struct sbuf path = SBUF_INIT;
    json_t *step = json_object_get(rec, "step");
    double x;

    p->nrec++;
    x = json_is_number(step) ? json_number_value(step) : (double)p->nrec;
    plot_walk(p, rec, &path, x);
    sbuf_release(&path);
}

size_t
plot_count(const struct plot *p)
{
    return p->n;
}

/* The metric name as a file name. */
static void
plot_file_name(struct sbuf *sb, const char *name)
{
    for (; *name; name++)
        sbuf_addc(sb, isalnum((unsigned char)*name) || strchr("._-", *name)
                  ? *name : '_');
}

/* Whether the file open at fd is a PNG that ends (an IEND chunk last), fsynced. */
static int
png_whole(int fd)
{
    static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D',
                                           0xae, 0x42, 0x60, 0x82};
    unsigned char b[12];
    off_t end = lseek(fd, 0, SEEK_END);

    return end >= 8 + 12 && pread(fd, b, 12, end - 12) == 12 && memcmp(b, iend, 12) == 0 &&
           fsync(fd) == 0;
}

size_t
plot_write(struct plot *p, const char *dir)
{
    struct sbuf tmp = SBUF_INIT, dst = SBUF_INIT, cmd = SBUF_INIT;
    char *tname;
    size_t i, j;
    FILE *gp;
    int st, fd;

    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        die_errno("%s", dir);
    for (i = 0; i < p->n; i++) {
        struct series *s = &p->s[i];

        sbuf_reset(&dst);
        sbuf_addf(&dst, "%s/", dir);
        plot_file_name(&dst, s->name);
        sbuf_adds(&dst, ".png");
        /* gnuplot writes the temporary by name; fd holds its lock (tmpfile.h) */
        sbuf_reset(&tmp);
        fd = tmpf_open(dst.buf, &tname, &tmp);
        if (fd < 0)
            die("%s", tmp.buf);
        sbuf_reset(&tmp);
        sbuf_adds(&tmp, tname);
        free(tname);
        gp = popen("gnuplot", "w");
        if (!gp)
            die_errno("gnuplot");
        /* Names go into gnuplot strings in single quotes, where only ''
         * is special: double it. */
        sbuf_reset(&cmd);
        for (j = 0; tmp.buf[j]; j++) {
            if (tmp.buf[j] == '\'')
                sbuf_addc(&cmd, '\'');
            sbuf_addc(&cmd, tmp.buf[j]);
        }
        fprintf(gp, "set terminal pngcairo size 800,500\n"
                "set output '%s'\nset grid\nset key off\n"
                "set xlabel 'step'\n", cmd.buf);
        sbuf_reset(&cmd);
        for (j = 0; s->name[j]; j++) {
            if (s->name[j] == '\'')
                sbuf_addc(&cmd, '\'');
            sbuf_addc(&cmd, s->name[j]);
        }
        fprintf(gp, "set title '%s' noenhanced\n"
                "plot '-' using 1:2 with linespoints pt 7 ps 0.5\n",
                cmd.buf);
        for (j = 0; j < s->n; j++)
            fprintf(gp, "%.17g %.17g\n", s->x[j], s->y[j]);
        fputs("e\n", gp);
        st = pclose(gp);
        if (st != 0) {
            unlink(tmp.buf);
            die("gnuplot failed on '%s' (status %d)", s->name, st);
        }
        if (!png_whole(fd)) {
            /* gnuplot exits 0 when its writes fail (a full disk) */
            struct statvfs vfs;
            unlink(tmp.buf);
            if (fstatvfs(fd, &vfs) == 0 && vfs.f_bavail == 0) {
                errno = ENOSPC;
                die_errno("%s: write error", dst.buf);
            }
            die("%s: gnuplot wrote an incomplete image", dst.buf);
        }
        if (rename(tmp.buf, dst.buf) != 0) {
            unlink(tmp.buf);
            die_errno("%s", dst.buf);
        }
        close(fd);
    }
    sbuf_release(&tmp);
    sbuf_release(&dst);
    sbuf_release(&cmd);
    return p->n;
}

void
plot_free(struct plot *p)
{
    size_t i;

    if (!p)
        return;
    for (i = 0; i < p->n; i++) {
        free(p->s[i].name);
        free(p->s[i].x);
        free(p->s[i].y);
    }
    free(p->s);
    free(p);
}
