/*
 * opt.c - option tables to getopt_long, --help text and range errors.
 * See opt.h.
 */
#include "opt.h"

#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"

void
opt_usage(const struct opt_prog *p)
{
    const char *nl = strchr(p->header, '\n');
    int n = nl ? (int)(nl - p->header) : (int)strlen(p->header);

    if (p->usage)
        fputs(p->usage, stderr);
    else
        fprintf(stderr, "%.*s\nTry '%s --help' for more information.\n", n, p->header,
                p->name);
    exit(2);
}

void
opt_usage_verror(const struct opt_prog *p, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s: ", p->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    opt_usage(p);
}

void
opt_usage_error(const struct opt_prog *p, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    opt_usage_verror(p, fmt, ap);
}

static int
takes_arg(const struct opt *o)
{
    return o->type != OPT_T_BOOL && o->type != OPT_T_SET && o->type != OPT_T_BIT
           && o->type != OPT_T_HELP
           && o->type != OPT_T_VERSION;
}

/* "  -n, --count N" of an option's help line. */
static void
lead(struct sbuf *sb, const struct opt *o)
{
    sbuf_reset(sb);
    if (o->short_name)
        sbuf_addf(sb, "  -%c%s", o->short_name, o->long_name ? ", " : "");
    else
        sbuf_adds(sb, "      ");
    if (o->long_name)
        sbuf_addf(sb, "--%s", o->long_name);
    if (o->argname)
        sbuf_addf(sb, " %s", o->argname);
}

void
opt_help(const struct opt_prog *p, const struct opt *const *tabs)
{
    struct sbuf sb = SBUF_INIT;
    const struct opt *o;
    size_t i;

    fputs(p->header, stdout);
    for (i = 0; tabs[i]; i++)
        for (o = tabs[i]; o->type != OPT_T_END; o++) {
            const char *h = o->help ? o->help : "", *nl;
            if (o->type == OPT_T_GROUP) {
                fputs(h, stdout);
                continue;
            }
            lead(&sb, o);
            if (sb.len + 1 > OPT_HELP_COL)
                printf("%s\n%*s", sb.buf, OPT_HELP_COL, "");
            else
                printf("%-*s", OPT_HELP_COL, sb.buf);
            while ((nl = strchr(h, '\n')) != NULL) {
                printf("%.*s\n%*s", (int)(nl - h), h, OPT_HELP_COL, "");
                h = nl + 1;
            }
            printf("%s\n", h);
        }
    sbuf_release(&sb);
}

/* x as %g writes it, the exponent without '+' and leading zeros: 1e6, 1e-9. */
static void
add_num(struct sbuf *sb, double x)
{
    char buf[64], *e, *d;

    snprintf(buf, sizeof(buf), "%g", x);
    e = strchr(buf, 'e');
    if (e) {
        d = e + 1;
        if (*d == '-')
            d++;
        else if (*d == '+')
            memmove(d, d + 1, strlen(d));
        while (d[0] == '0' && d[1])
            memmove(d, d + 1, strlen(d));
    }
    sbuf_adds(sb, buf);
}

/* "an integer in [1, 1024]": what a number option takes. */
static void
range_text(struct sbuf *sb, const struct opt *o)
{
    long imax = o->type == OPT_T_INT ? INT_MAX : LONG_MAX;

    if (o->what) {
        /* the row's own words ("a positive integer", "in (0, 1]") */
        sbuf_adds(sb, o->what);
        return;
    }
    switch (o->type) {
    case OPT_T_INT:
    case OPT_T_LONG:
        if (o->max >= imax)
            sbuf_addf(sb, "an integer >= %ld", o->min);
        else
            sbuf_addf(sb, "an integer in [%ld, %ld]", o->min, o->max);
        break;
    case OPT_T_DOUBLE:
    case OPT_T_FLOAT:
        if (isinf(o->fmin) && isinf(o->fmax))
            sbuf_adds(sb, "a finite number");
        else if (isinf(o->fmax)) {
            sbuf_addf(sb, "a number %s ", o->flags & OPT_OPEN_MIN ? ">" : ">=");
            add_num(sb, o->fmin);
        } else {
            sbuf_addf(sb, "a number in %c", o->flags & OPT_OPEN_MIN ? '(' : '[');
            add_num(sb, o->fmin);
            sbuf_adds(sb, ", ");
            add_num(sb, o->fmax);
            sbuf_addc(sb, ']');
        }
        break;
    case OPT_T_U64:
        if (o->max == LONG_MAX)
            sbuf_adds(sb, "an integer in [0, 2^63)");
        else if (o->max > 0)
            sbuf_addf(sb, "an integer in [0, %ld]", o->max);
        else
            sbuf_adds(sb, "an unsigned 64-bit integer");
        break;
    case OPT_T_SIZE:
        sbuf_adds(sb, "a size (bytes, or KB, MB, GB, TB)");
        break;
    case OPT_T_CHOICE: {
        const struct opt_choice *c;
        for (c = o->choices; c->name; c++)
            sbuf_addf(sb, "%s%s", c == o->choices ? "" : c[1].name ? ", " : " or ", c->name);
        break;
    }
    default:
        sbuf_adds(sb, "a good value");
    }
}

/* Sets o's variable from arg: 0, or -1 with why (empty: out of range). */
static int
set(const struct opt *o, const char *arg, struct sbuf *why)
{
    long n;
    double x;
    uint64_t u;

    switch (o->type) {
    case OPT_T_BOOL:
        *(int *)o->value = 1;
        return 0;
    case OPT_T_SET:
        *(int *)o->value = (int)o->min;
        return 0;
    case OPT_T_BIT:
        *(int *)o->value |= (int)o->min;
        return 0;
    case OPT_T_STRING:
        *(const char **)o->value = arg;
        return 0;
    case OPT_T_INT:
    case OPT_T_LONG:
        if (parse_long(arg, o->min, o->max, &n))
            return -1;
        if (o->type == OPT_T_INT)
            *(int *)o->value = (int)n;
        else
            *(long *)o->value = n;
        return 0;
    case OPT_T_DOUBLE:
    case OPT_T_FLOAT:
        if (parse_double(arg, o->fmin, o->fmax, &x)
            || ((o->flags & OPT_OPEN_MIN) && !(x > o->fmin)))
            return -1;
        if (o->type == OPT_T_FLOAT)
            *(float *)o->value = (float)x;
        else
            *(double *)o->value = x;
        return 0;
    case OPT_T_U64:
        if (parse_u64(arg, &u) || (o->max > 0 && u > (uint64_t)o->max))
            return -1;
        *(uint64_t *)o->value = u;
        return 0;
    case OPT_T_SIZE:
        return ckpt_parse_size(arg, (uint64_t *)o->value);
    case OPT_T_CHOICE: {
        const struct opt_choice *c;
        for (c = o->choices; c->name; c++)
            if (strcmp(arg, c->name) == 0) {
                *(int *)o->value = c->value;
                return 0;
            }
        return -1;
    }
    case OPT_T_CALL:
        return o->cb(o->value, arg, why);
    default:
        return -1;
    }
}

struct opt *
opt_find(struct opt *tab, const char *name)
{
    for (; tab->type != OPT_T_END; tab++)
        if (tab->type != OPT_T_GROUP && tab->long_name && strcmp(tab->long_name, name) == 0)
            return tab;
    die("no option --%s", name);
}

static const struct opt *
find_short(const struct opt *const *tabs, int c)
{
    const struct opt *o;
    size_t i;

    for (i = 0; tabs[i]; i++)
        for (o = tabs[i]; o->type != OPT_T_END; o++)
            if (o->type != OPT_T_GROUP && o->short_name == c)
                return o;
    return NULL;
}

int
opt_parse(const struct opt_prog *p, const struct opt *const *tabs, int argc, char **argv)
{
    struct option *lo;
    const struct opt **rows;
    struct sbuf sh = SBUF_INIT, why = SBUF_INIT;
    const struct opt *o;
    size_t i, n = 0, k = 0;
    int c, idx;

    for (i = 0; tabs[i]; i++)
        for (o = tabs[i]; o->type != OPT_T_END; o++)
            n++;
    lo = xcalloc(n + 1, sizeof(*lo));
    rows = xcalloc(n + 1, sizeof(*rows));
    for (i = 0; tabs[i]; i++)
        for (o = tabs[i]; o->type != OPT_T_END; o++) {
            if (o->type == OPT_T_GROUP)
                continue;
            if (o->short_name) {
                sbuf_addc(&sh, (char)o->short_name);
                if (takes_arg(o))
                    sbuf_addc(&sh, ':');
            }
            if (o->long_name) {
                lo[k].name = o->long_name;
                lo[k].has_arg = takes_arg(o) ? required_argument : no_argument;
                lo[k].val = 0x10000 + (int)k;
                rows[k++] = o;
            }
        }
    sbuf_str(&sh);
    for (;;) {
        idx = -1;
        c = getopt_long(argc, argv, sh.buf, lo, &idx);
        if (c == -1)
            break;
        if (c >= 0x10000)
            o = rows[c - 0x10000];
        else if (c == '?' || c == ':' || (o = find_short(tabs, c)) == NULL)
            opt_usage(p);
        if (o->type == OPT_T_HELP) {
            opt_help(p, tabs);
            exit(fflush(stdout) || ferror(stdout) ? 1 : 0);
        }
        if (o->type == OPT_T_VERSION) {
            printf("%s (posttrain) %s\n", p->name, PT_VERSION);
            exit(fflush(stdout) || ferror(stdout) ? 1 : 0);
        }
        sbuf_reset(&why);
        if (set(o, optarg, &why) < 0) {
            char name[64];
            if (idx >= 0 || (o->long_name && (o->flags & OPT_NAME_LONG)))
                snprintf(name, sizeof(name), "--%s", o->long_name);
            else
                snprintf(name, sizeof(name), "-%c", o->short_name);
            if (why.len)
                opt_usage_error(p, "%s: %s", name, why.buf);
            range_text(&why, o);
            opt_usage_error(p, "%s: '%s' is not %s", name, optarg, why.buf);
        }
        if (o->given)
            *o->given = 1;
    }
    free(lo);
    free(rows);
    sbuf_release(&sh);
    sbuf_release(&why);
    return optind;
}
