/*
 * tasks.c - synthetic task generators and data-set importers.  See tasks.h
 * for the contract and tasks(1) for the record layouts they produce.
 *
 * Generated numbers are int64_t: arithmetic operands have at most
 * TASKS_MAX_DIGITS (9) digits, so a product stays below 10^18 < 2^63, and
 * countdown and word problems cap their intermediate values far below that.
 */
#include "tasks.h"
#include "sample.h"
#include "stats.h"

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared helpers ---- */

static int64_t
pow10i(int d)
{
    int64_t p = 1;

    while (d-- > 0)
        p *= 10;
    return p;
}

/* A d-digit number; d == 1 gives 0..9, or 1..9 when nonzero. */
static int64_t
rand_digits(struct rng *r, int d, int nonzero)
{
    int64_t lo = d == 1 ? (nonzero ? 1 : 0) : pow10i(d - 1);
    int64_t hi = pow10i(d) - 1;

    return lo + (int64_t)rng_below(r, (uint64_t)(hi - lo + 1));
}

/* Uniform in [lo, hi]. */
static int64_t
rand_range(struct rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)rng_below(r, (uint64_t)(hi - lo + 1));
}

/*
 * The generator state of record i: seeded from (seed, kind, i) only, so a
 * record never depends on the ones before it.
 */
static void
record_rng(const struct tasks_gen *g, long i, struct rng *r)
{
    uint64_t key[3] = { g->seed, (uint64_t)g->kind, (uint64_t)i };

    rng_seed(r, hash64(key, sizeof(key), 0x7461736b73ULL));
}

static void
set_str(json_t *o, const char *key, const char *s)
{
    json_object_set_new(o, key, json_string(s));
}

/* Finishes an R1-style response: the think block, then the boxed answer. */
static void
close_response(struct sbuf *sb, const char *answer)
{
    sbuf_addf(sb, "</think>\nThe answer is \\boxed{%s}.", answer);
}

static const char *const gen_names[] = {
    "arithmetic", "countdown", "word", "chain", "corpus", "code", "chat", "prefs"
};

static json_t *
new_record(const struct tasks_gen *g, long i, const char *prompt,
           const char *answer)
{
    json_t *o = json_object();
    char id[64];

    snprintf(id, sizeof(id), "%s/%" PRIu64 "/%ld", gen_names[g->kind],
             g->seed, i);
    set_str(o, "id", id);
    set_str(o, "domain", "math");
    set_str(o, "prompt", prompt);
    set_str(o, "answer", answer);
    return o;
}

/* ---- arithmetic ---- */

/*
 * The nonzero place-value parts of v >= 0, most significant first
 * (4070 -> 4000, 70); v == 0 gives the single part 0.  Returns the count.
 */
static int
place_parts(int64_t v, int64_t parts[20])
{
    int64_t p = 1;
    int n = 0;

    if (v == 0) {
        parts[0] = 0;
        return 1;
    }
    while (p <= v / 10)
        p *= 10;
    for (; p > 0; p /= 10) {
        int64_t d = v / p % 10;
        if (d)
            parts[n++] = d * p;
    }
    return n;
}

/*
 * Worked steps, one "X op Y = Z" line each, so every line can be checked
 * on its own:
 *   a + b, a - b  add or take b's place-value parts one at a time;
 *   a * b         multiply by each part of b, then add the partial products;
 *   a / b = q     long division by the parts of q: b * part, subtracted
 *                 from the running remainder until it reaches 0.
 */
static void
arith_steps(struct sbuf *sb, char op, int64_t a, int64_t b, int64_t res)
{
    int64_t parts[20], x, sum;
    int n, i;

    switch (op) {
    case '+':
    case '-':
        n = place_parts(b, parts);
        if (n == 1) {
            sbuf_addf(sb, "%" PRId64 " %c %" PRId64 " = %" PRId64 "\n",
                      a, op, b, res);
            break;
        }
        x = a;
        for (i = 0; i < n; i++) {
            int64_t y = op == '+' ? x + parts[i] : x - parts[i];
            sbuf_addf(sb, "%" PRId64 " %c %" PRId64 " = %" PRId64 "\n",
                      x, op, parts[i], y);
            x = y;
        }
        break;
    case '*':
        n = place_parts(b, parts);
        if (n == 1) {
            sbuf_addf(sb, "%" PRId64 " * %" PRId64 " = %" PRId64 "\n",
                      a, b, res);
            break;
        }
        for (i = 0; i < n; i++)
            sbuf_addf(sb, "%" PRId64 " * %" PRId64 " = %" PRId64 "\n",
                      a, parts[i], a * parts[i]);
        sum = a * parts[0];
        for (i = 1; i < n; i++) {
            sbuf_addf(sb, "%" PRId64 " + %" PRId64 " = %" PRId64 "\n",
                      sum, a * parts[i], sum + a * parts[i]);
            sum += a * parts[i];
        }
        break;
    case '/':
        n = place_parts(res, parts);
        x = a;
        if (n > 1) {
            for (i = 0; i < n; i++) {
                sbuf_addf(sb, "%" PRId64 " * %" PRId64 " = %" PRId64 "\n",
                          b, parts[i], b * parts[i]);
                sbuf_addf(sb, "%" PRId64 " - %" PRId64 " = %" PRId64 "\n",
                          x, b * parts[i], x - b * parts[i]);
                x -= b * parts[i];
            }
        } else {
            sbuf_addf(sb, "%" PRId64 " * %" PRId64 " = %" PRId64 "\n",
                      b, res, a);
        }
        sbuf_addf(sb, "%" PRId64 " / %" PRId64 " = %" PRId64 "\n", a, b, res);
        break;
    }
}

/*
 * The column method for a + b and a - b (a, b >= 0), units first, one line
 * per place: "x + y = s" or "x + y + 1 = s" with the carry; for
 * subtraction "x - y = d", "x - 1 - y = d" with the borrow, x written with
 * its borrowed ten ("13 - 5 = 8").  The answer's digits are then the last
 * line's result followed by the units of the lines before it, read
 * upwards: each step is a one-digit fact or a copy, which a small model
 * learns far sooner than left-to-right sums.  A negative difference first
 * says "a - b = -(b - a)" and works b - a.
 */
static void
column_steps(struct sbuf *sb, char op, int64_t a, int64_t b)
{
    int64_t p, top;
    int carry = 0;

    if (op == '-' && a < b) {
        sbuf_addf(sb, "%" PRId64 " - %" PRId64 " = -(%" PRId64 " - %" PRId64 ")\n",
                  a, b, b, a);
        p = a;
        a = b;
        b = p;
    }
    top = a > b ? a : b;
    p = 1;
    do {
        int x = (int)(a / p % 10), y = (int)(b / p % 10), r;
        if (op == '+') {
            r = x + y + carry;
            if (carry)
                sbuf_addf(sb, "%d + %d + 1 = %d\n", x, y, r);
            else
                sbuf_addf(sb, "%d + %d = %d\n", x, y, r);
            carry = r >= 10;
        } else {
            int borrow = x - carry < y;
            int xx = x + (borrow ? 10 : 0);
            r = xx - carry - y;
            if (carry)
                sbuf_addf(sb, "%d - 1 - %d = %d\n", xx, y, r);
            else
                sbuf_addf(sb, "%d - %d = %d\n", xx, y, r);
            carry = borrow;
        }
        p *= 10;
    } while (p <= top);
}

static json_t *
gen_arithmetic(const struct tasks_gen *g, long idx)
{
    struct rng r;
    struct sbuf sb = SBUF_INIT;
    char prompt[128], answer[32];
    int64_t a, b, res;
    int da, db;
    char op;
    json_t *o;

    record_rng(g, idx, &r);
    op = g->ops[rng_below(&r, strlen(g->ops))];
    da = (int)rand_range(&r, g->dmin, g->dmax);
    db = (int)rand_range(&r, g->dmin, g->dmax);
    switch (op) {
    case '+':
        a = rand_digits(&r, da, 0);
        b = rand_digits(&r, db, 0);
        res = a + b;
        break;
    case '-':
        a = rand_digits(&r, da, 0);
        b = rand_digits(&r, db, 0);
        if (!g->allow_negative && a < b) {
            int64_t t = a;
            a = b;
            b = t;
        }
        res = a - b;
        break;
    case '*':
        a = rand_digits(&r, da, 0);
        b = rand_digits(&r, db, 0);
        res = a * b;
        break;
    default:
        /* '/': the divisor and the quotient have the chosen digit counts,
         * the dividend is their product, so the answer is an integer. */
        b = rand_digits(&r, db, 1);
        res = rand_digits(&r, da, 1);
        a = b * res;
        break;
    }
    snprintf(prompt, sizeof(prompt),
             "What is %" PRId64 " %c %" PRId64 "?", a, op, b);
    snprintf(answer, sizeof(answer), "%" PRId64, res);
    o = new_record(g, idx, prompt, answer);
    if (g->with_response) {
        sbuf_adds(&sb, "<think>\n");
        if (g->column && (op == '+' || op == '-'))
            column_steps(&sb, op, a, b);
        else
            arith_steps(&sb, op, a, b, res);
        close_response(&sb, answer);
        set_str(o, "response", sbuf_str(&sb));
    }
    sbuf_release(&sb);
    return o;
}

/* ---- countdown ---- */

/*
 * As TinyZero's Countdown: a few numbers and a target; the solver writes an
 * expression that uses every number exactly once with + - * / and
 * parentheses.  The target is made by combining the numbers in a random
 * order with random operations whose intermediate results stay positive
 * integers (so "/" only where it divides exactly), which guarantees a
 * solution; targets outside [1, max_target] are redrawn.
 */
#define CD_EXPR 256
#define CD_CAP 1000000

struct cd_item {
    int64_t v;
    int leaf;
    char e[CD_EXPR];
};

static int
cd_try(struct rng *r, const int64_t *nums, int n, int max_target,
       char *expr, int64_t *value, struct sbuf *steps, struct sbuf *tmp)
{
    struct cd_item it[TASKS_MAX_NUMBERS];
    int k, i, j;

    for (k = 0; k < n; k++) {
        it[k].v = nums[k];
        it[k].leaf = 1;
        snprintf(it[k].e, CD_EXPR, "%" PRId64, nums[k]);
    }
    sbuf_reset(steps);
    for (k = n; k > 1; k--) {
        struct cd_item *x, *y, t;
        char ops[4], op;
        int nops = 0;
        int64_t v;

        i = (int)rng_below(r, (uint64_t)k);
        j = (int)rng_below(r, (uint64_t)k - 1);
        if (j >= i)
            j++;
        x = &it[i];
        y = &it[j];
        if (x->v < y->v) {
            struct cd_item *s = x;
            x = y;
            y = s;
        }
        ops[nops++] = '+';
        if (x->v > y->v)
            ops[nops++] = '-';
        if (x->v * y->v <= CD_CAP)
            ops[nops++] = '*';
        if (y->v > 1 && x->v % y->v == 0)
            ops[nops++] = '/';
        op = ops[rng_below(r, (uint64_t)nops)];
        v = op == '+' ? x->v + y->v : op == '-' ? x->v - y->v
            : op == '*' ? x->v * y->v : x->v / y->v;
        sbuf_addf(steps, "%" PRId64 " %c %" PRId64 " = %" PRId64 "\n",
                  x->v, op, y->v, v);
        t.v = v;
        t.leaf = 0;
        /* At most 6 numbers of 4 digits, 5 operators and 10 parentheses:
         * far below CD_EXPR, so the copy never truncates. */
        sbuf_reset(tmp);
        sbuf_addf(tmp, "%s%s%s %c %s%s%s",
                  x->leaf ? "" : "(", x->e, x->leaf ? "" : ")", op,
                  y->leaf ? "" : "(", y->e, y->leaf ? "" : ")");
        assert(tmp->len < CD_EXPR);
        memcpy(t.e, tmp->buf, tmp->len + 1);
        /* Replace i and j by the result: the result goes to the lower
         * slot, the last item moves into the higher one. */
        if (i > j) {
            int s = i;
            i = j;
            j = s;
        }
        it[i] = t;
        it[j] = it[k - 1];
    }
    if (it[0].v < 1 || it[0].v > max_target)
        return -1;
    memcpy(expr, it[0].e, CD_EXPR);
    *value = it[0].v;
    return 0;
}

static json_t *
gen_countdown(const struct tasks_gen *g, long idx)
{
    struct rng r;
    struct sbuf steps = SBUF_INIT, sb = SBUF_INIT;
    int64_t nums[TASKS_MAX_NUMBERS];
    char expr[CD_EXPR], answer[32];
    json_t *o, *arr;
    int k, tries;
    int64_t target;

    record_rng(g, idx, &r);
    for (;;) {
        for (k = 0; k < g->nnumbers; k++)
            nums[k] = rand_range(&r, 1, g->max_number);
        for (tries = 0; tries < 64; tries++)
            if (cd_try(&r, nums, g->nnumbers, g->max_target, expr,
                       &target, &steps, &sb) == 0)
                goto found;
    }
found:
    snprintf(answer, sizeof(answer), "%" PRId64, target);
    sbuf_reset(&sb);
    sbuf_adds(&sb, "Use ");
    for (k = 0; k < g->nnumbers; k++)
        sbuf_addf(&sb, "%s%" PRId64, k ? ", " : "", nums[k]);
    sbuf_addf(&sb, " to make %" PRId64 " with + - * / and parentheses, "
              "each number exactly once. Put the expression in \\boxed{}.",
              target);
    o = new_record(g, idx, sbuf_str(&sb), answer);
    json_object_set_new(o, "target", json_integer(target));
    arr = json_array();
    for (k = 0; k < g->nnumbers; k++)
        json_array_append_new(arr, json_integer(nums[k]));
    json_object_set_new(o, "numbers", arr);
    if (g->with_response) {
        sbuf_reset(&sb);
        sbuf_adds(&sb, "<think>\n");
        sbuf_add(&sb, steps.buf, steps.len);
        close_response(&sb, expr);
        set_str(o, "response", sbuf_str(&sb));
    }
    sbuf_release(&steps);
    sbuf_release(&sb);
    return o;
}

/* ---- word problems ---- */

/*
 * One person's stock of one kind of item changes a few times; the question
 * asks for the final count.  Each step is one sentence and one or two
 * worked lines; values stay positive integers and at most WORD_CAP.
 */
#define WORD_CAP 100000

static const char *const word_names[] = {
    "Ana", "Ben", "Carl", "Dana", "Eve", "Finn", "Gus", "Hana", "Ivan", "June",
};
static const char *const word_items[] = {
    "apples", "books", "coins", "pens", "stamps", "marbles", "cards", "eggs",
};

static json_t *
gen_word(const struct tasks_gen *g, long idx)
{
    struct rng r;
    struct sbuf p = SBUF_INIT, w = SBUF_INIT;
    const char *who, *other, *item;
    char answer[32];
    int64_t x, a, k, m;
    int nsteps, s, ni;
    json_t *o;

    record_rng(g, idx, &r);
    ni = (int)rng_below(&r, ARRAY_LEN(word_names));
    who = word_names[ni];
    other = word_names[(ni + 1 + (int)rng_below(&r, ARRAY_LEN(word_names) - 1))
                       % (int)ARRAY_LEN(word_names)];
    item = word_items[rng_below(&r, ARRAY_LEN(word_items))];
    x = rand_range(&r, 2, g->max_start);
    nsteps = (int)rand_range(&r, g->smin, g->smax);
    sbuf_addf(&p, "%s has %" PRId64 " %s.", who, x, item);
    for (s = 0; s < nsteps; s++) {
        int kind = (int)rng_below(&r, 6);
        int64_t y;

        switch (kind) {
        case 0:     /* finds more */
            a = rand_range(&r, 2, g->max_start);
            y = x + a;
            if (y > WORD_CAP)
                goto redo;
            sbuf_addf(&p, " %s finds %" PRId64 " more %s.", who, a, item);
            sbuf_addf(&w, "%" PRId64 " + %" PRId64 " = %" PRId64 "\n",
                      x, a, y);
            break;
        case 1:     /* gives some away */
            if (x < 3)
                goto redo;
            a = rand_range(&r, 2, x - 1);
            y = x - a;
            sbuf_addf(&p, " %s gives %" PRId64 " %s to %s.", who, a, item,
                      other);
            sbuf_addf(&w, "%" PRId64 " - %" PRId64 " = %" PRId64 "\n",
                      x, a, y);
            break;
        case 2:     /* buys packs */
            k = rand_range(&r, 2, 5);
            m = rand_range(&r, 2, 10);
            y = x + k * m;
            if (y > WORD_CAP)
                goto redo;
            sbuf_addf(&p, " %s buys %" PRId64 " bags of %" PRId64 " %s.",
                      who, k, m, item);
            sbuf_addf(&w, "%" PRId64 " * %" PRId64 " = %" PRId64 "\n",
                      k, m, k * m);
            sbuf_addf(&w, "%" PRId64 " + %" PRId64 " = %" PRId64 "\n",
                      x, k * m, y);
            break;
        case 3:     /* doubles */
            y = 2 * x;
            if (y > WORD_CAP)
                goto redo;
            sbuf_addf(&p, " %s doubles the number of %s.", who, item);
            sbuf_addf(&w, "%" PRId64 " * 2 = %" PRId64 "\n", x, y);
            break;
        case 4:     /* gives half away */
            if (x % 2)
                goto redo;
            y = x / 2;
            sbuf_addf(&p, " %s gives half of the %s to %s.", who, item,
                      other);
            sbuf_addf(&w, "%" PRId64 " / 2 = %" PRId64 "\n", x, y);
            break;
        default:    /* keeps one of k equal piles */
            k = rand_range(&r, 3, 5);
            if (x % k)
                goto redo;
            y = x / k;
            sbuf_addf(&p, " %s splits the %s into %" PRId64 " equal piles "
                      "and keeps one.", who, item, k);
            sbuf_addf(&w, "%" PRId64 " / %" PRId64 " = %" PRId64 "\n",
                      x, k, y);
            break;
        }
        x = y;
        continue;
redo:
        s--;
    }
    sbuf_addf(&p, " How many %s does %s have now?", item, who);
    snprintf(answer, sizeof(answer), "%" PRId64, x);
    o = new_record(g, idx, sbuf_str(&p), answer);
    if (g->with_response) {
        sbuf_reset(&p);
        sbuf_adds(&p, "<think>\n");
        sbuf_add(&p, w.buf, w.len);
        close_response(&p, answer);
        set_str(o, "response", sbuf_str(&p));
    }
    sbuf_release(&p);
    sbuf_release(&w);
    return o;
}

/* ---- chain sums ---- */

/*
 * "What is 3 + 8 + 5 + 9?": K terms in [1, max_term].  The worked response
 * keeps a running sum, one "x + t = y" line per term after the first, so
 * each line is one small fact; the answer alone asks for the whole sum in
 * one go, which a small model does not learn from results alone.
 */
static int
chain_terms(struct rng *r, const struct tasks_gen *g, int64_t *t)
{
    int k = (int)rand_range(r, g->tmin, g->tmax), i;

    for (i = 0; i < k; i++)
        t[i] = rand_range(r, 1, g->max_term);
    return k;
}

/* "3 + 8 + 5 + 9" into sb; returns the sum. */
static int64_t
chain_expr(struct sbuf *sb, const int64_t *t, int k)
{
    int64_t sum = 0;
    int i;

    for (i = 0; i < k; i++) {
        sbuf_addf(sb, "%s%" PRId64, i ? " + " : "", t[i]);
        sum += t[i];
    }
    return sum;
}

/* The running-sum lines, each ending in sep ("\n" or ". "). */
static void
chain_steps(struct sbuf *sb, const int64_t *t, int k, const char *sep)
{
    int64_t x = t[0];
    int i;

    for (i = 1; i < k; i++) {
        sbuf_addf(sb, "%" PRId64 " + %" PRId64 " = %" PRId64 "%s", x, t[i],
                  x + t[i], sep);
        x += t[i];
    }
}

static json_t *
gen_chain(const struct tasks_gen *g, long idx)
{
    struct rng r;
    struct sbuf sb = SBUF_INIT;
    int64_t t[TASKS_MAX_TERMS], sum;
    char answer[32];
    json_t *o;
    int k;

    record_rng(g, idx, &r);
    k = chain_terms(&r, g, t);
    sbuf_adds(&sb, "What is ");
    sum = chain_expr(&sb, t, k);
    sbuf_addc(&sb, '?');
    snprintf(answer, sizeof(answer), "%" PRId64, sum);
    o = new_record(g, idx, sbuf_str(&sb), answer);
    if (g->with_response) {
        sbuf_reset(&sb);
        sbuf_adds(&sb, "<think>\n");
        chain_steps(&sb, t, k, "\n");
        close_response(&sb, answer);
        set_str(o, "response", sbuf_str(&sb));
    }
    sbuf_release(&sb);
    return o;
}

/* ---- a pretraining corpus ---- */

/*
 * Text documents (posttrain-records(5): {id, text}) that stand in for the
 * web a base model reads, in five kinds:
 *
 *   dialogs   question-and-answer pages in the plain form of R1-Zero's
 *             template (corpus_dialog); dialog_pct percent (60 by default)
 *   problems  one to three chain sums (as tasks chain makes them), each
 *             worked step by step with probability worked_pct / 100
 *             (running sums, or reduced a term a line with reduce), else
 *             only stated with its result, in a few surface forms (boxed or
 *             not, "Q:"/"A:", a bare equation); 75 less dialog_pct
 *             percent of documents (15 by default)
 *   facts     a list of the one-step sums the worked solutions are made of
 *             ("17 + 8 = 25"); 15%
 *   prose     a few sentences from word lists; 4%
 *   markup    prose or a sum inside tags, common ones ("<div>") or with
 *             made-up names ("<kavo>...</kavo>"), nested at times, so a
 *             model learns to close whatever tag is open by copying its
 *             name; 6%
 *
 * No document has a chat template's markers or a <think> tag (the word
 * "think" is in the prose, as on the web): a model pretrained on these has
 * seen worked solutions and closing tags, never the R1 format.
 */
static const char *const prose_who[] = {
    "Ana", "Ben", "Carl", "Dana", "Eve", "Finn", "Gus", "Hana", "Ivan", "June",
    "The teacher", "My neighbour", "The driver", "Our cat",
};
static const char *const prose_verb[] = {
    "walks to", "drives to", "looks at", "paints", "cleans", "visits",
    "writes about", "waits near", "reads about", "likes", "thinks about",
};
static const char *const prose_what[] = {
    "the market", "the old bridge", "the library", "a red house", "the river",
    "the station", "the garden", "a small shop", "the park", "the museum",
};
static const char *const prose_when[] = {
    "every morning", "on Sunday", "after lunch", "at night", "in the spring",
    "before work", "twice a week", "on rainy days",
};

static void
prose_sentences(struct rng *r, struct sbuf *sb, int n, const char *sep)
{
    int i;

    for (i = 0; i < n; i++)
        sbuf_addf(sb, "%s%s %s %s %s.", i ? sep : "",
                  prose_who[rng_below(r, ARRAY_LEN(prose_who))],
                  prose_verb[rng_below(r, ARRAY_LEN(prose_verb))],
                  prose_what[rng_below(r, ARRAY_LEN(prose_what))],
                  prose_when[rng_below(r, ARRAY_LEN(prose_when))]);
}

static const char *const tag_names[] = {
    "div", "p", "b", "section", "note", "work", "box", "item", "step", "calc",
    "span", "main", "reason", "plan", "scratch", "idea", "mind",
};

/* A tag name: half the time a common one, else 3 to 6 made-up lowercase
 * letters; never "think". */
static void
tag_name(struct rng *r, char name[8])
{
    int n, i;

    if (rng_below(r, 2) == 0) {
        strcpy(name, tag_names[rng_below(r, ARRAY_LEN(tag_names))]);
        return;
    }
    do {
        n = (int)rand_range(r, 3, 6);
        for (i = 0; i < n; i++)
            name[i] = (char)('a' + rng_below(r, 26));
        name[n] = '\0';
    } while (strcmp(name, "think") == 0);
}

/*
 * The sum reduced a term at a time, each line the one above with its first
 * two terms added ("3 + 8 + 5\n= 11 + 5\n= 16\n"): every line is the line
 * before it copied but for one small fact, a form a small model learns to
 * follow where the running-sum lines ask it to find the next term in the
 * question.
 */
static void
chain_reduce(struct sbuf *sb, const int64_t *t, int k)
{
    int64_t x = t[0];
    int i, j;

    chain_expr(sb, t, k);
    sbuf_addc(sb, '\n');
    for (i = 1; i < k; i++) {
        x += t[i];
        sbuf_addf(sb, "= %" PRId64, x);
        for (j = i + 1; j < k; j++)
            sbuf_addf(sb, " + %" PRId64, t[j]);
        sbuf_addc(sb, '\n');
    }
}

/*
 * One problem.  Forms: 0 "What is E? The answer is \boxed{S}.", 1 "Q: What
 * is E?\nA: The answer is \boxed{S}.", 2 "Question: What is E?\nAnswer: S",
 * 3 "E = S"; worked, the steps come on lines of their own before the boxed
 * answer (forms 0-2): running sums, or with g->reduce the sum reduced a
 * term a line as on the question-and-answer pages.
 */
static void
corpus_problem(struct rng *r, const struct tasks_gen *g, struct sbuf *sb)
{
    int64_t t[TASKS_MAX_TERMS], sum;
    int k = chain_terms(r, g, t);
    int worked = (int)rng_below(r, 100) < g->worked_pct;
    int form = (int)rng_below(r, worked ? 3 : 4);

    if (form == 3) {
        sum = chain_expr(sb, t, k);
        sbuf_addf(sb, " = %" PRId64, sum);
        return;
    }
    sbuf_adds(sb, form == 1 ? "Q: What is " : form == 2 ? "Question: What is "
              : "What is ");
    sum = chain_expr(sb, t, k);
    sbuf_adds(sb, form == 0 && !worked ? "? " : "?\n");
    if (form == 1)
        sbuf_adds(sb, worked ? "A:\n" : "A: ");
    else if (form == 2)
        sbuf_adds(sb, worked ? "Answer:\n" : "Answer: ");
    if (worked && g->reduce)
        chain_reduce(sb, t, k);
    else if (worked)
        chain_steps(sb, t, k, "\n");
    if (form == 2 && !worked)
        sbuf_addf(sb, "%" PRId64, sum);
    else
        sbuf_addf(sb, "The answer is \\boxed{%" PRId64 "}.", sum);
}

/*
 * The answer of an assistant turn to the sum t[0..k): worked (the sum
 * reduced a term a line) or not, inside a tag named tag (NULL: none), then
 * the boxed result.  A tag that holds no steps holds a short remark or
 * nothing, so a tag is not by itself a sign of working.
 */
static const char *const remarks[] = { "", "", "", "Easy.\n", "Adding up.\n" };

static void
dialog_answer(struct rng *r, struct sbuf *sb, const int64_t *t, int k,
              int64_t sum, int worked, const char *tag)
{
    if (tag)
        sbuf_addf(sb, "<%s>\n", tag);
    if (worked)
        chain_reduce(sb, t, k);
    else if (tag)
        sbuf_adds(sb, remarks[rng_below(r, ARRAY_LEN(remarks))]);
    if (tag)
        sbuf_addf(sb, "</%s>\n", tag);
    if (rng_below(r, 10) < 3)
        sbuf_addf(sb, "The answer is \\boxed{%" PRId64 "}.", sum);
    else
        sbuf_addf(sb, "\\boxed{%" PRId64 "}", sum);
}

/*
 * A question-and-answer page in the plain form of R1-Zero's template: at
 * times an instruction line naming a tag ("Think inside <kavo> </kavo>,
 * then give the answer in \boxed{}."), then 1 to max_turns "User: What
 * is E?" / "Assistant: ..." turns.  Under an instruction every answer uses
 * its tag; without one, a worked answer is in a tag of its own half the
 * time.  The tag is never "think".
 */
static void
corpus_dialog(struct rng *r, const struct tasks_gen *g, struct sbuf *sb)
{
    int64_t t[TASKS_MAX_TERMS], sum;
    char tag[8], own[8];
    int told = (int)rng_below(r, 100) < g->told_pct, n = (int)rand_range(r, 1, g->max_turns);
    int i, k, worked;
    int wpct = g->dialog_worked_pct >= 0 ? g->dialog_worked_pct : g->worked_pct;

    tag_name(r, tag);
    if (told)
        sbuf_addf(sb, "Think inside <%s> </%s>, then give the answer in "
                  "\\boxed{}.\n", tag, tag);
    for (i = 0; i < n; i++) {
        k = chain_terms(r, g, t);
        worked = (int)rng_below(r, 100) < wpct;
        sbuf_adds(sb, i ? "\nUser: What is " : "User: What is ");
        sum = chain_expr(sb, t, k);
        sbuf_adds(sb, "?\nAssistant: ");
        if (told)
            dialog_answer(r, sb, t, k, sum, worked, tag);
        else if (worked && rng_below(r, 2) == 0) {
            tag_name(r, own);
            dialog_answer(r, sb, t, k, sum, worked, own);
        } else
            dialog_answer(r, sb, t, k, sum, worked, NULL);
    }
}

static json_t *
gen_corpus(const struct tasks_gen *g, long idx)
{
    struct rng r;
    struct sbuf sb = SBUF_INIT;
    char id[64], tag[8], inner[8];
    int kind, n, i;
    json_t *o = json_object();

    record_rng(g, idx, &r);
    kind = (int)rng_below(&r, 100);
    if (kind < g->dialog_pct) {
        corpus_dialog(&r, g, &sb);
    } else if (kind < 75) {
        n = (int)rand_range(&r, 1, 3);
        for (i = 0; i < n; i++) {
            if (i)
                sbuf_adds(&sb, "\n\n");
            corpus_problem(&r, g, &sb);
        }
    } else if (kind < 90) {
        n = (int)rand_range(&r, 3, 8);
        sbuf_adds(&sb, "Sums:\n");
        for (i = 0; i < n; i++) {
            int64_t a = rand_range(&r, 1, (int64_t)g->max_term * (g->tmax - 1));
            int64_t b = rand_range(&r, 1, g->max_term);
            sbuf_addf(&sb, "%" PRId64 " + %" PRId64 " = %" PRId64 "\n", a, b, a + b);
        }
    } else if (kind < 94) {
        prose_sentences(&r, &sb, (int)rand_range(&r, 2, 4), " ");
    } else {
        tag_name(&r, tag);
        sbuf_addf(&sb, "<%s>\n", tag);
        if (rng_below(&r, 2) == 0)
            corpus_problem(&r, g, &sb);
        else
            prose_sentences(&r, &sb, (int)rand_range(&r, 1, 3), "\n");
        if (rng_below(&r, 3) == 0) {
            tag_name(&r, inner);
            sbuf_addf(&sb, "\n<%s>\n", inner);
            prose_sentences(&r, &sb, 1, "\n");
            sbuf_addf(&sb, "\n</%s>", inner);
        }
        sbuf_addf(&sb, "\n</%s>", tag);
        if (rng_below(&r, 2) == 0) {
            sbuf_addc(&sb, '\n');
            prose_sentences(&r, &sb, 1, " ");
        }
    }
    snprintf(id, sizeof(id), "corpus/%" PRIu64 "/%ld", g->seed, idx);
    set_str(o, "id", id);
    set_str(o, "text", sbuf_str(&sb));
    sbuf_release(&sb);
    return o;
}

/* ---- code: small programming tasks ---- */

/*
 * "Write a Python function f(x) that returns x + 3.": one operation of
 * ops ("+-*") with a constant K in [1, max_term].  Three assert tests on
 * distinct x in 0..20 (the style of MBPP's test_list, which score-code
 * appends to the program and runs); the reference response is the
 * two-line function in a fenced block.  Small enough for a model of a
 * million parameters to learn the mapping from the prompt's expression
 * to the return line, yet checked only by running the program.
 */
#define CODE_TESTS 3

static json_t *
gen_code(const struct tasks_gen *g, long idx)
{
    struct rng r;
    struct sbuf sb = SBUF_INIT;
    char id[64], expr[48];
    int64_t k, x[CODE_TESTS], y;
    json_t *o = json_object(), *tests = json_array();
    char op;
    int i, j;

    record_rng(g, idx, &r);
    op = g->ops[rng_below(&r, strlen(g->ops))];
    k = rand_range(&r, 1, g->max_term);
    snprintf(expr, sizeof(expr), "x %c %" PRId64, op, k);
    for (i = 0; i < CODE_TESTS; i++) {
        do {    /* distinct inputs */
            x[i] = rand_range(&r, 0, 20);
            for (j = 0; j < i && x[j] != x[i]; j++)
                ;
        } while (j < i);
        y = op == '+' ? x[i] + k : op == '-' ? x[i] - k : x[i] * k;
        sbuf_reset(&sb);
        sbuf_addf(&sb, "assert f(%" PRId64 ") == %" PRId64, x[i], y);
        json_array_append_new(tests, json_pack("{s:s}", "assert", sbuf_str(&sb)));
    }
    snprintf(id, sizeof(id), "code/%" PRIu64 "/%ld", g->seed, idx);
    set_str(o, "id", id);
    set_str(o, "domain", "code");
    set_str(o, "lang", "python");
    sbuf_reset(&sb);
    sbuf_addf(&sb, "Write a Python function f(x) that returns %s.", expr);
    set_str(o, "prompt", sbuf_str(&sb));
    json_object_set_new(o, "tests", tests);
    if (g->with_response) {
        sbuf_reset(&sb);
        sbuf_addf(&sb, "```python\ndef f(x):\n    return %s\n```", expr);
        set_str(o, "response", sbuf_str(&sb));
    }
    sbuf_release(&sb);
    return o;
}

/* ---- chat: free-form prompts and preference pairs ---- */

/*
 * "Tell me about owls.": a request about one topic, in one of a few
 * phrasings, that no rule scores.  The preferred answer has two
 * properties a small reward model can learn from pairs: it is on the
 * topic asked about (it names it) and polite (it ends in "Thank you for
 * asking!"):
 *     Owls are quiet and old. Thank you for asking!
 * A rejected answer breaks one of them, with the same adjectives:
 *     Owls are quiet and old. Stop asking me.          (rude)
 *     Kites are quiet and old. Thank you for asking!   (off topic)
 * With garbled_pct, that percent of the pairs reject instead the chosen
 * answer misspelled: one to three of its letters each replaced by another
 * or dropped, so a reward model learns to prefer the words spelled right:
 *     Owls are quiet and od. Thank yiu for asking!      (garbled)
 * chat record i and prefs record i of one seed ask the same thing; the
 * reference response of chat is the preferred answer, so tasks chat -r
 * is an SFT set of good answers, and prefs pairs it with a bad one.
 */
static const char *const chat_topics[] = {
    "cats", "dogs", "trains", "books", "apples", "birds", "boats", "clouds",
    "flowers", "hats", "kites", "lamps", "maps", "owls", "rivers", "songs",
    "stars", "trees", "waves", "bikes",
};
static const char *const chat_asks[] = {
    "Tell me about %s.", "What do you think of %s?", "Say something about %s.",
    "Write a line about %s.",
};
static const char *const chat_adjs[] = {
    "quiet", "old", "bright", "small", "warm", "fast", "soft", "kind",
    "tall", "green",
};
#define CHAT_THANKS "Thank you for asking!"
#define CHAT_RUDE "Stop asking me."

/*
 * Misspells the answer in sb: 1-3 edits, each replacing a letter by
 * another lowercase one or dropping it; the result differs from the
 * answer.
 */
static void
chat_garble(struct sbuf *sb, struct rng *r)
{
    char *s = xstrdup(sbuf_str(sb));
    size_t n = strlen(s), k = 1 + rng_below(r, 3);

    for (size_t e = 0; e < k; e++) {
        size_t letters = 0, want, i;
        for (i = 0; i < n; i++)
            letters += isalpha((unsigned char)s[i]) != 0;
        if (letters == 0)
            break;
        want = rng_below(r, letters);
        for (i = 0; i < n; i++)
            if (isalpha((unsigned char)s[i]) && want-- == 0)
                break;
        if (rng_below(r, 2) == 0) {
            char c = (char)('a' + rng_below(r, 25));
            if (c >= tolower((unsigned char)s[i]))
                c++;    /* another letter than the one there */
            s[i] = c;
        } else {
            memmove(s + i, s + i + 1, n - i);
            n--;
        }
    }
    if (strcmp(s, sbuf_str(sb)) == 0)   /* edits that undid each other */
        memmove(s, s + 1, n);
    sbuf_reset(sb);
    sbuf_addf(sb, "%s", s);
    free(s);
}

/* "Owls are quiet and old. " + closing into sb. */
static void
chat_answer(struct sbuf *sb, const char *topic, const char *a1,
            const char *a2, const char *closing)
{
    sbuf_addf(sb, "%c%s are %s and %s. %s", toupper((unsigned char)topic[0]),
              topic + 1, a1, a2, closing);
}

static json_t *
gen_chat(const struct tasks_gen *g, long idx)
{
    struct tasks_gen cg = *g;
    struct rng r;
    struct sbuf sb = SBUF_INIT;
    char id[64];
    const char *topic, *other, *a1, *a2;
    size_t ti, ai;
    json_t *o = json_object();

    cg.kind = TASKS_CHAT;   /* prefs asks what chat asks */
    record_rng(&cg, idx, &r);
    ti = rng_below(&r, ARRAY_LEN(chat_topics));
    topic = chat_topics[ti];
    other = chat_topics[(ti + 1 + rng_below(&r, ARRAY_LEN(chat_topics) - 1))
                        % ARRAY_LEN(chat_topics)];
    sbuf_addf(&sb, chat_asks[rng_below(&r, ARRAY_LEN(chat_asks))], topic);
    ai = rng_below(&r, ARRAY_LEN(chat_adjs));
    a1 = chat_adjs[ai];
    a2 = chat_adjs[(ai + 1 + rng_below(&r, ARRAY_LEN(chat_adjs) - 1)) % ARRAY_LEN(chat_adjs)];
    snprintf(id, sizeof(id), "%s/%" PRIu64 "/%ld", gen_names[g->kind], g->seed, idx);
    set_str(o, "id", id);
    set_str(o, "domain", "chat");
    set_str(o, "prompt", sbuf_str(&sb));
    sbuf_reset(&sb);
    chat_answer(&sb, topic, a1, a2, CHAT_THANKS);
    if (g->kind == TASKS_PREFS) {
        set_str(o, "chosen", sbuf_str(&sb));
        if (g->garbled_pct > 0 && (int)rng_below(&r, 100) < g->garbled_pct) {
            chat_garble(&sb, &r);
        } else {
            sbuf_reset(&sb);
            if (rng_below(&r, 2) == 0)
                chat_answer(&sb, topic, a1, a2, CHAT_RUDE);
            else
                chat_answer(&sb, other, a1, a2, CHAT_THANKS);
        }
        set_str(o, "rejected", sbuf_str(&sb));
    } else if (g->with_response) {
        set_str(o, "response", sbuf_str(&sb));
    }
    sbuf_release(&sb);
    return o;
}

/* ---- generator options ---- */

void
tasks_gen_init(struct tasks_gen *g, enum tasks_gen_kind kind)
{
    memset(g, 0, sizeof(*g));
    g->kind = kind;
    g->dmin = g->dmax = 2;
    g->ops = "+-*/";
    g->nnumbers = 4;
    g->max_number = 50;
    g->max_target = 100;
    g->smin = 2;
    g->smax = 4;
    g->max_start = 20;
    g->tmin = 4;
    g->tmax = 6;
    g->max_term = 9;
    g->worked_pct = 70;
    g->dialog_pct = 60;
    g->told_pct = 25;
    g->dialog_worked_pct = -1;
    g->max_turns = 2;
    g->reduce = 0;
    if (kind == TASKS_CODE)
        g->ops = "+-*";
}

/* NULL when ops is a non-empty string of known characters, else why. */
static const char *
check_ops(const char *ops, const char *known, const char *unknown)
{
    if (!ops || !*ops)
        return "--ops: no operation given";
    for (; *ops; ops++)
        if (!strchr(known, *ops))
            return unknown;
    return NULL;
}

const char *
tasks_gen_check(const struct tasks_gen *g)
{
    const char *p;

    switch (g->kind) {
    case TASKS_ARITHMETIC:
        if (g->dmin < 1 || g->dmax > TASKS_MAX_DIGITS || g->dmin > g->dmax)
            return "--digits: want D or LO-HI within 1-9";
        if ((p = check_ops(g->ops, "+-*/", "--ops: only + - * / are known")) != NULL)
            return p;
        break;
    case TASKS_COUNTDOWN:
        if (g->nnumbers < 2 || g->nnumbers > TASKS_MAX_NUMBERS)
            return "--count: want 2-6 numbers";
        if (g->max_number < 1 || g->max_number > 1000)
            return "--max-number: want 1-1000";
        if (g->max_target < 1 || g->max_target > 100000)
            return "--max-target: want 1-100000";
        break;
    case TASKS_WORD:
        if (g->smin < 1 || g->smax > 20 || g->smin > g->smax)
            return "--steps: want S or LO-HI within 1-20";
        if (g->max_start < 2 || g->max_start > 1000)
            return "--max-start: want 2-1000";
        break;
    case TASKS_CHAIN:
    case TASKS_CORPUS:
        if (g->tmin < 2 || g->tmax > TASKS_MAX_TERMS || g->tmin > g->tmax)
            return "--terms: want K or LO-HI within 2-12";
        if (g->max_term < 1 || g->max_term > 1000)
            return "--max-term: want 1-1000";
        if (g->worked_pct < 0 || g->worked_pct > 100)
            return "--worked: want 0-100";
        if (g->dialog_pct < 0 || g->dialog_pct > 75)
            return "--dialogs: want 0-75";
        if (g->told_pct < 0 || g->told_pct > 100)
            return "--told: want 0-100";
        if (g->dialog_worked_pct < -1 || g->dialog_worked_pct > 100)
            return "--dialog-worked: want 0-100";
        if (g->max_turns < 1 || g->max_turns > 4)
            return "--turns: want 1-4";
        break;
    case TASKS_CODE:
        if ((p = check_ops(g->ops, "+-*", "--ops: code knows + - * only")) != NULL)
            return p;
        if (g->max_term < 1 || g->max_term > 1000)
            return "--max-term: want 1-1000";
        break;
    case TASKS_CHAT:
    case TASKS_PREFS:
        if (g->garbled_pct < 0 || g->garbled_pct > 100)
            return "--garbled: want 0-100";
        break;
    }
    return NULL;
}

json_t *
tasks_generate(const struct tasks_gen *g, long i)
{
    switch (g->kind) {
    case TASKS_ARITHMETIC:
        return gen_arithmetic(g, i);
    case TASKS_COUNTDOWN:
        return gen_countdown(g, i);
    case TASKS_CHAIN:
        return gen_chain(g, i);
    case TASKS_CORPUS:
        return gen_corpus(g, i);
    case TASKS_CODE:
        return gen_code(g, i);
    case TASKS_CHAT:
    case TASKS_PREFS:
        return gen_chat(g, i);
    default:
        return gen_word(g, i);
    }
}

/* ---- importers ---- */

void
tasks_import_init(struct tasks_import *im, enum tasks_source src)
{
    memset(im, 0, sizeof(*im));
    im->src = src;
}

const char *
tasks_mbpp_split(long task_id)
{
    if (task_id >= 1 && task_id <= 10)
        return "prompt";
    if (task_id >= 11 && task_id <= 510)
        return "test";
    if (task_id >= 511 && task_id <= 600)
        return "validation";
    if (task_id >= 601 && task_id <= 974)
        return "train";
    return NULL;
}

/* Borrowed string field of raw, or NULL (then *why says why). */
static const char *
get_str(const json_t *raw, const char *key, const char **why)
{
    json_t *v = json_object_get(raw, key);

    if (!v) {
        *why = "missing";
        return NULL;
    }
    if (!json_is_string(v)) {
        *why = "not a string";
        return NULL;
    }
    return json_string_value(v);
}

/* s with "\r\n" turned into "\n", appended to sb. */
static void
add_lf(struct sbuf *sb, const char *s)
{
    for (; *s; s++)
        if (!(s[0] == '\r' && s[1] == '\n'))
            sbuf_addc(sb, *s);
}

int
tasks_gsm8k_answer(const char *solution, struct sbuf *sb)
{
    const char *p = NULL, *q, *s;
    size_t i;

    for (q = solution; (q = strstr(q, "#### ")) != NULL; q += 5)
        p = q + 5;
    if (!p)
        return -1;
    sbuf_reset(sb);
    for (s = p; *s && *s != '\n'; s++)
        if (*s != ',')
            sbuf_addc(sb, *s);
    while (sb->len && isspace((unsigned char)sb->buf[sb->len - 1]))
        sb->len--;
    sbuf_str(sb);
    sb->buf[sb->len] = '\0';
    /* A plain number: optional sign, digits, optional fraction part. */
    i = sb->len && sb->buf[0] == '-';
    if (i >= sb->len || !isdigit((unsigned char)sb->buf[i]))
        return -1;
    while (i < sb->len && isdigit((unsigned char)sb->buf[i]))
        i++;
    if (i < sb->len && sb->buf[i] == '.') {
        i++;
        if (i >= sb->len)
            return -1;
        while (i < sb->len && isdigit((unsigned char)sb->buf[i]))
            i++;
    }
    return i == sb->len ? 0 : -1;
}

/*
 * The GSM8K solution as an SFT target: calculator annotations "<<48/2=24>>"
 * removed (they are an artefact of the data set's calculator tool, not
 * reasoning), and the final "#### N" line turned into the sentence with
 * \boxed{N} that score-math reads.
 */
static void
gsm8k_response(const char *sol, const char *answer, struct sbuf *sb)
{
    const char *p = sol, *end, *close;

    end = strstr(sol, "#### ");
    while (end) {
        const char *n = strstr(end + 5, "#### ");
        if (!n)
            break;
        end = n;
    }
    while (p < end) {
        if (p[0] == '<' && p[1] == '<' && (close = strstr(p, ">>")) != NULL
            && close < end) {
            p = close + 2;
            continue;
        }
        sbuf_addc(sb, *p++);
    }
    sbuf_addf(sb, "The answer is \\boxed{%s}.", answer);
}

static int
import_gsm8k(const struct tasks_import *im, const json_t *raw, long index,
             json_t *o, const char **field, const char **why)
{
    struct sbuf ans = SBUF_INIT, resp = SBUF_INIT;
    const char *q, *sol;
    char id[32];
    int rc = -1;

    if (!(q = get_str(raw, *field = "question", why))
        || !(sol = get_str(raw, *field = "answer", why)))
        goto out;
    if (tasks_gsm8k_answer(sol, &ans) < 0) {
        *why = "no final '#### N' line with a number";
        goto out;
    }
    snprintf(id, sizeof(id), "%ld", index);
    sbuf_adds(&resp, im->id_prefix ? im->id_prefix : "");
    sbuf_adds(&resp, id);
    set_str(o, "id", sbuf_str(&resp));
    set_str(o, "domain", "math");
    set_str(o, "prompt", q);
    set_str(o, "answer", sbuf_str(&ans));
    sbuf_reset(&resp);
    if (im->raw)
        sbuf_adds(&resp, sol);
    else
        gsm8k_response(sol, sbuf_str(&ans), &resp);
    set_str(o, "response", sbuf_str(&resp));
    rc = 1;
out:
    sbuf_release(&ans);
    sbuf_release(&resp);
    return rc;
}

static int
import_math(const json_t *raw, json_t *o, const char **field,
            const char **why)
{
    const char *problem, *sol, *ans, *subject, *uid;
    struct sbuf id = SBUF_INIT;
    json_t *lv;
    long level = 0;
    size_t n;

    if (!(problem = get_str(raw, *field = "problem", why))
        || !(sol = get_str(raw, *field = "solution", why))
        || !(ans = get_str(raw, *field = "answer", why))
        || !(subject = get_str(raw, *field = "subject", why))
        || !(uid = get_str(raw, *field = "unique_id", why)))
        return -1;
    *field = "level";
    lv = json_object_get(raw, "level");
    if (!lv) {
        *why = "missing";
        return -1;
    }
    /* "Level 3" in MATH, 3 in MATH-500. */
    if (json_is_integer(lv))
        level = (long)json_integer_value(lv);
    else if (json_is_string(lv)
             && strncmp(json_string_value(lv), "Level ", 6) == 0
             && parse_long(json_string_value(lv) + 6, 1, 5, &level) == 0)
        ;
    else
        level = 0;
    if (level < 1 || level > 5) {
        *why = "not a level 1-5 (N or \"Level N\")";
        return -1;
    }
    if (!*ans) {
        *field = "answer";
        *why = "empty";
        return -1;
    }
    n = strlen(uid);
    if (n > 5 && strcmp(uid + n - 5, ".json") == 0)
        n -= 5;
    sbuf_adds(&id, "math/");
    sbuf_add(&id, uid, n);
    set_str(o, "id", sbuf_str(&id));
    set_str(o, "domain", "math");
    set_str(o, "prompt", problem);
    set_str(o, "response", sol);
    set_str(o, "answer", ans);
    set_str(o, "subject", subject);
    json_object_set_new(o, "level", json_integer(level));
    sbuf_release(&id);
    return 1;
}

/*
 * HumanEval for an instruction-following model: the prompt shows the
 * signature and docstring in a code block and asks for the whole function;
 * the completion's code block must therefore be a complete program holding
 * the function (imports included).  score-code appends each test's
 * "assert" source: HumanEval's check() and a call check(ENTRY_POINT).
 * code_prompt keeps the upstream prompt for completion-style (base model)
 * use, where the program is code_prompt + completion.
 */
static int
import_humaneval(const json_t *raw, json_t *o, const char **field,
                 const char **why)
{
    const char *tid, *prompt, *sol, *test, *entry;
    struct sbuf sb = SBUF_INIT;
    json_t *tests;

    if (!(tid = get_str(raw, *field = "task_id", why))
        || !(prompt = get_str(raw, *field = "prompt", why))
        || !(sol = get_str(raw, *field = "canonical_solution", why))
        || !(test = get_str(raw, *field = "test", why))
        || !(entry = get_str(raw, *field = "entry_point", why)))
        return -1;
    if (!*entry) {
        *field = "entry_point";
        *why = "empty";
        return -1;
    }
    set_str(o, "id", tid);
    set_str(o, "domain", "code");
    set_str(o, "lang", "python");
    sbuf_adds(&sb, "Complete this Python function. Write the whole "
              "function, with its imports, in a ```python code block.\n\n"
              "```python\n");
    sbuf_adds(&sb, prompt);
    if (sb.len && sb.buf[sb.len - 1] != '\n')
        sbuf_addc(&sb, '\n');
    sbuf_adds(&sb, "```");
    set_str(o, "prompt", sbuf_str(&sb));
    sbuf_reset(&sb);
    sbuf_adds(&sb, "```python\n");
    sbuf_adds(&sb, prompt);
    sbuf_adds(&sb, sol);
    if (sb.len && sb.buf[sb.len - 1] != '\n')
        sbuf_addc(&sb, '\n');
    sbuf_adds(&sb, "```");
    set_str(o, "response", sbuf_str(&sb));
    set_str(o, "entry_point", entry);
    set_str(o, "code_prompt", prompt);
    sbuf_reset(&sb);
    sbuf_adds(&sb, test);
    sbuf_addf(&sb, "\ncheck(%s)\n", entry);
    tests = json_array();
    json_array_append_new(tests, json_pack("{s:s}", "assert", sbuf_str(&sb)));
    json_object_set_new(o, "tests", tests);
    sbuf_release(&sb);
    return 1;
}

/*
 * MBPP as in Austin et al. (2021): the task text plus a test that shows the
 * function's name and signature.  Each test_list assert becomes one test;
 * a non-empty test_setup_code (it builds objects from classes the solution
 * defines) is put in front of every assert, so each test runs alone.
 */
static int
import_mbpp(const struct tasks_import *im, const json_t *raw, json_t *o,
            const char **field, const char **why)
{
    const char *text, *code, *setup = "", *split, *t0;
    struct sbuf sb = SBUF_INIT;
    json_t *tid, *tl, *v, *tests;
    size_t i;
    int rc = -1;

    *field = "task_id";
    tid = json_object_get(raw, "task_id");
    if (!tid || !json_is_integer(tid)) {
        *why = tid ? "not an integer" : "missing";
        return -1;
    }
    split = tasks_mbpp_split((long)json_integer_value(tid));
    if (!split) {
        *why = "outside 1-974";
        return -1;
    }
    if (!(text = get_str(raw, *field = "text", why))
        || !(code = get_str(raw, *field = "code", why)))
        return -1;
    if (json_object_get(raw, "test_setup_code")
        && !(setup = get_str(raw, *field = "test_setup_code", why)))
        return -1;
    *field = "test_list";
    tl = json_object_get(raw, "test_list");
    if (!tl || !json_is_array(tl) || json_array_size(tl) == 0) {
        *why = !tl ? "missing" : "not a non-empty array";
        return -1;
    }
    json_array_foreach(tl, i, v)
        if (!json_is_string(v)) {
            *why = "not an array of strings";
            return -1;
        }
    if (im->split && strcmp(im->split, split) != 0)
        return 0;
    t0 = json_string_value(json_array_get(tl, 0));
    sbuf_addf(&sb, "mbpp/%lld", (long long)json_integer_value(tid));
    set_str(o, "id", sbuf_str(&sb));
    set_str(o, "domain", "code");
    set_str(o, "lang", "python");
    sbuf_reset(&sb);
    sbuf_adds(&sb, text);
    sbuf_adds(&sb, " Your code should pass this test:\n\n");
    sbuf_adds(&sb, t0);
    set_str(o, "prompt", sbuf_str(&sb));
    sbuf_reset(&sb);
    sbuf_adds(&sb, "```python\n");
    add_lf(&sb, code);
    while (sb.len && isspace((unsigned char)sb.buf[sb.len - 1]))
        sb.len--;
    sb.buf[sb.len] = '\0';
    sbuf_adds(&sb, "\n```");
    set_str(o, "response", sbuf_str(&sb));
    tests = json_array();
    json_array_foreach(tl, i, v) {
        sbuf_reset(&sb);
        if (*setup) {
            add_lf(&sb, setup);
            sbuf_addc(&sb, '\n');
        }
        sbuf_adds(&sb, json_string_value(v));
        json_array_append_new(tests,
                              json_pack("{s:s}", "assert", sbuf_str(&sb)));
    }
    json_object_set_new(o, "tests", tests);
    set_str(o, "split", split);
    rc = 1;
    sbuf_release(&sb);
    return rc;
}

int
tasks_import_one(const struct tasks_import *im, const json_t *raw,
                 long index, json_t **out, const char **field,
                 const char **why)
{
    json_t *o;
    int rc;

    *out = NULL;
    *field = NULL;
    *why = NULL;
    if (!json_is_object(raw)) {
        *why = "the record is not a JSON object";
        return -1;
    }
    o = json_object();
    switch (im->src) {
    case TASKS_GSM8K:
        rc = import_gsm8k(im, raw, index, o, field, why);
        break;
    case TASKS_MATH:
        rc = import_math(raw, o, field, why);
        break;
    case TASKS_HUMANEVAL:
        rc = import_humaneval(raw, o, field, why);
        break;
    default:
        rc = import_mbpp(im, raw, o, field, why);
        break;
    }
    if (rc == 1)
        *out = o;
    else
        json_decref(o);
    return rc;
}

/* ============================ Field mapping ============================ */

enum { F_ID, F_DOMAIN, F_PROMPT, F_SYSTEM, F_RESPONSE, F_ANSWER, F_TESTS,
       F_LANG, F_MESSAGES };

static const char *const map_names[TASKS_MAP_FIELDS] = {
    "id", "domain", "prompt", "system", "response", "answer", "tests",
    "lang", "messages",
};

int
tasks_preset_parse(const char *name, enum tasks_preset *out)
{
    if (strcmp(name, "gsm8k") == 0)
        *out = TASKS_PRESET_GSM8K;
    else if (strcmp(name, "math") == 0)
        *out = TASKS_PRESET_MATH;
    else
        return -1;
    return 0;
}

void
tasks_map_init(struct tasks_map *m, enum tasks_preset preset)
{
    int i;

    memset(m, 0, sizeof(*m));
    for (i = 0; i < TASKS_MAP_FIELDS; i++)
        m->src[i] = map_names[i];
    m->preset = preset;
    if (preset == TASKS_PRESET_GSM8K) {
        m->src[F_PROMPT] = "question";
        m->domain = "math";
    } else if (preset == TASKS_PRESET_MATH) {
        m->src[F_PROMPT] = "problem";
        m->src[F_RESPONSE] = "solution";
        m->domain = "math";
    }
}

int
tasks_map_parse(struct tasks_map *m, const char *spec, const char **why)
{
    char *p, *item, *eq, *save = NULL;
    int i;

    free(m->spec);
    m->spec = p = xstrdup(spec);
    for (item = strtok_r(p, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if ((eq = strchr(item, '=')) == NULL || eq == item || !eq[1]) {
            *why = "each item is DST=SRC";
            return -1;
        }
        *eq = '\0';
        for (i = 0; i < TASKS_MAP_FIELDS; i++)
            if (strcmp(item, map_names[i]) == 0)
                break;
        if (i == TASKS_MAP_FIELDS) {
            *why = "DST is one of id, domain, prompt, system, response, "
                   "answer, tests, lang, messages";
            return -1;
        }
        if (m->mapped[i]) {
            *why = "a field is mapped twice";
            return -1;
        }
        m->src[i] = eq + 1;
        m->mapped[i] = 1;
    }
    return 0;
}

void
tasks_map_release(struct tasks_map *m)
{
    free(m->spec);
    m->spec = NULL;
}

int
tasks_map_one(const struct tasks_map *m, const json_t *raw, long index,
              json_t **out, const char **field, const char **why)
{
    struct sbuf sb = SBUF_INIT;
    const json_t *v[TASKS_MAP_FIELDS];
    json_t *o;
    const char *resp_text = NULL, *w;
    struct sample_conv cv = SAMPLE_CONV_INIT;
    size_t n;
    int i, rc = -1;

    *out = NULL;
    *field = NULL;
    if (!json_is_object(raw)) {
        *why = "the record is not a JSON object";
        return -1;
    }
    o = json_object();
    for (i = 0; i < TASKS_MAP_FIELDS; i++) {
        v[i] = json_object_get(raw, m->src[i]);
        if (json_is_null(v[i]))
            v[i] = NULL;
        if (!v[i] && m->mapped[i]) {
            *field = m->src[i];
            *why = "missing (it is in the --map)";
            goto out;
        }
    }
    if (!v[F_ID]) {
        sbuf_reset(&sb);
        sbuf_addf(&sb, "%s%ld", m->id_prefix ? m->id_prefix : "", index);
        json_object_set_new(o, "id", json_string(sbuf_str(&sb)));
    }
    if (!v[F_DOMAIN] && m->domain)
        json_object_set_new(o, "domain", json_string(m->domain));
    for (i = 0; i < TASKS_MAP_FIELDS; i++) {
        if (!v[i])
            continue;
        *field = m->src[i];
        if (i == F_TESTS) {
            if (!json_is_array(v[i])) {
                *why = "not an array";
                goto out;
            }
        } else if (i == F_MESSAGES) {
            if (!json_is_array(v[i])) {
                *why = "not an array";
                goto out;
            }
        } else if (i == F_ANSWER && json_is_number(v[i])) {
            /* numeric answers (GSM8K-style data sets) as their text */
            sbuf_reset(&sb);
            if (json_is_integer(v[i]))
                sbuf_addf(&sb, "%lld", (long long)json_integer_value(v[i]));
            else
                sbuf_addf(&sb, "%.17g", json_real_value(v[i]));
            json_object_set_new(o, "answer", json_string(sbuf_str(&sb)));
            continue;
        } else if (!json_is_string(v[i])) {
            *why = "not a string";
            goto out;
        }
        json_object_set(o, map_names[i], (json_t *)v[i]);
    }
    /* the answer conventions */
    if (m->preset == TASKS_PRESET_GSM8K && v[F_ANSWER] && json_is_string(v[F_ANSWER])) {
        const char *sol = json_string_value(v[F_ANSWER]);
        *field = m->src[F_ANSWER];
        sbuf_reset(&sb);
        if (tasks_gsm8k_answer(sol, &sb) < 0) {
            *why = "no final '#### N' line with a number";
            goto out;
        }
        json_object_set_new(o, "answer", json_string(sbuf_str(&sb)));
        if (!v[F_RESPONSE]) {
            struct sbuf r = SBUF_INIT;
            gsm8k_response(sol, sbuf_str(&sb), &r);
            json_object_set_new(o, "response", json_string(sbuf_str(&r)));
            sbuf_release(&r);
        }
    }
    if (m->preset == TASKS_PRESET_MATH && !v[F_ANSWER] && v[F_RESPONSE]) {
        const char *b;
        resp_text = json_string_value(v[F_RESPONSE]);
        *field = m->src[F_RESPONSE];
        if ((b = stats_last_boxed(resp_text, &n)) == NULL) {
            *why = "no \\boxed{} answer in the solution (map answer=FIELD)";
            goto out;
        }
        json_object_set_new(o, "answer", json_stringn(b, n));
    }
    /* the record must be one posttrain reads: a prompt or a conversation */
    if (sample_conv_get(&cv, o, &w) < 0) {
        const char *f = sbuf_str(&cv.field);
        for (i = 0; i < TASKS_MAP_FIELDS; i++)
            if (strncmp(f, map_names[i], strlen(map_names[i])) == 0)
                break;
        *field = i < TASKS_MAP_FIELDS ? m->src[i] : "messages";
        *why = w;
        goto out;
    }
    *out = o;
    o = NULL;
    rc = 1;
out:
    json_decref(o);
    sbuf_release(&sb);
    sample_conv_release(&cv);
    return rc;
}
