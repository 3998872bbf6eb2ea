/*
 * util.c - error reporting, checked allocation, strict number parsing,
 * byte buffers, hashing and the seedable RNG.  See util.h.
 */
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

static const char *prog = "posttrain";

void
util_setprog(const char *argv0)
{
    const char *s;

    if (!argv0)
        return;
    s = strrchr(argv0, '/');
    prog = s ? s + 1 : argv0;
}

const char *
util_prog(void)
{
    return prog;
}

static void
vmsg(const char *fmt, va_list ap, int errnum)
{
    fflush(stdout);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    if (errnum)
        fprintf(stderr, ": %s", strerror(errnum));
    fputc('\n', stderr);
}

void
die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmsg(fmt, ap, 0);
    va_end(ap);
    exit(1);
}

void
die_errno(const char *fmt, ...)
{
    int e = errno;
    va_list ap;

    va_start(ap, fmt);
    vmsg(fmt, ap, e);
    va_end(ap);
    exit(1);
}

void
warnx_(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vmsg(fmt, ap, 0);
    va_end(ap);
}

/*
 * Blocks of 4 MiB and more (weights, gradients, moments, activations) ask
 * for transparent huge pages where Linux gives them only on request
 * (THP "madvise"): a first touch then faults once per 2 MiB instead of
 * once per 4 KiB, which a training step pays on every start.
 */
#define HUGE_MIN ((size_t)4 << 20)
#define HUGE_PAGE ((size_t)2 << 20)

static void *
huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    if (p && n >= HUGE_MIN) {
        uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
        uintptr_t b = ((uintptr_t)p + n) & ~(uintptr_t)(HUGE_PAGE - 1);
        if (b > a)
            madvise((void *)a, b - a, MADV_HUGEPAGE);
    }
#else
    (void)n;
#endif
    return p;
}

void *
xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p)
        die("out of memory (%zu bytes)", n);
    return huge(p, n);
}

void *
xaligned(size_t align, size_t n)
{
    size_t m = (n + align - 1) & ~(align - 1);
    void *p = aligned_alloc(align, m ? m : align);

    if (!p)
        die("out of memory (%zu bytes)", n);
    return huge(p, m);
}

void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (!p)
        die("out of memory (%zu x %zu bytes)", n, size);
    return huge(p, n * size);
}

void *
xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (!q)
        die("out of memory (%zu bytes)", n);
    return huge(q, n);
}

char *
xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

size_t
xmul(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        die("size overflow (%zu x %zu)", n, size);
    return n * size;
}

/* ---- strict parsing ---- */

int
parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    if (!s || !*s || *s == ' ' || *s == '\t' || *s == '+')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int
parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v;

    if (!s || !*s || *s == ' ' || *s == '\t')
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int
parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* ---- sbuf ---- */

void
sbuf_grow(struct sbuf *sb, size_t extra)
{
    size_t need;

    if (sb->len + extra + 1 <= sb->cap)
        return;
    need = sb->len + extra + 1;
    if (need < sb->len)
        die("size overflow");
    if (need < 2 * sb->cap)
        need = 2 * sb->cap;
    if (need < 64)
        need = 64;
    sb->buf = xrealloc(sb->buf, need);
    sb->cap = need;
}

void
sbuf_add(struct sbuf *sb, const void *p, size_t n)
{
    sbuf_grow(sb, n);
    memcpy(sb->buf + sb->len, p, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void
sbuf_addc(struct sbuf *sb, char c)
{
    sbuf_grow(sb, 1);
    sb->buf[sb->len++] = c;
    sb->buf[sb->len] = '\0';
}

void
sbuf_adds(struct sbuf *sb, const char *s)
{
    sbuf_add(sb, s, strlen(s));
}

void
sbuf_addf(struct sbuf *sb, const char *fmt, ...)
{
    va_list ap;
    int n;

    sbuf_grow(sb, 64);
    va_start(ap, fmt);
    n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("sbuf_addf: bad format");
    if ((size_t)n >= sb->cap - sb->len) {
        sbuf_grow(sb, (size_t)n);
        va_start(ap, fmt);
        vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
        va_end(ap);
    }
    sb->len += (size_t)n;
}

void
sbuf_reset(struct sbuf *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

void
sbuf_release(struct sbuf *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
}

const char *
sbuf_str(struct sbuf *sb)
{
    if (!sb->buf)
        sbuf_grow(sb, 0), sb->buf[0] = '\0';
    return sb->buf;
}

/* ---- hashing and RNG ---- */

/* FNV-1a over the bytes, then the splitmix64 finalizer for avalanche. */
uint64_t
hash64(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h;
}

/*
 * XXH64 (Yann Collet, https://github.com/Cyan4973/xxHash/blob/dev/doc/
 * xxhash_spec.md): four independent multiply-rotate lanes over 32-byte
 * stripes, so it runs at memory speed where FNV-1a's one multiply chain
 * per byte does not.  Words are read little-endian.
 */
#define XXH_P1 0x9E3779B185EBCA87ULL
#define XXH_P2 0xC2B2AE3D27D4EB4FULL
#define XXH_P3 0x165667B19E3779F9ULL
#define XXH_P4 0x85EBCA77C2B2AE63ULL
#define XXH_P5 0x27D4EB2F165667C5ULL

static inline uint64_t
xxh_rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t
xxh_read64(const unsigned char *s)
{
    uint64_t v = 0;
    int i;

    for (i = 7; i >= 0; i--)
        v = v << 8 | s[i];
    return v;
}

static inline uint64_t
xxh_round(uint64_t acc, uint64_t lane)
{
    acc += lane * XXH_P2;
    return xxh_rotl(acc, 31) * XXH_P1;
}

static inline uint64_t
xxh_merge(uint64_t h, uint64_t v)
{
    h ^= xxh_round(0, v);
    return h * XXH_P1 + XXH_P4;
}

uint64_t
xxh64(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p, *end = s + n;
    uint64_t h;

    if (n >= 32) {
        uint64_t v1 = seed + XXH_P1 + XXH_P2, v2 = seed + XXH_P2, v3 = seed,
                 v4 = seed - XXH_P1;
        for (; end - s >= 32; s += 32) {
            v1 = xxh_round(v1, xxh_read64(s));
            v2 = xxh_round(v2, xxh_read64(s + 8));
            v3 = xxh_round(v3, xxh_read64(s + 16));
            v4 = xxh_round(v4, xxh_read64(s + 24));
        }
        h = xxh_rotl(v1, 1) + xxh_rotl(v2, 7) + xxh_rotl(v3, 12) + xxh_rotl(v4, 18);
        h = xxh_merge(xxh_merge(xxh_merge(xxh_merge(h, v1), v2), v3), v4);
    } else {
        h = seed + XXH_P5;
    }
    h += (uint64_t)n;
    for (; end - s >= 8; s += 8)
        h = xxh_rotl(h ^ xxh_round(0, xxh_read64(s)), 27) * XXH_P1 + XXH_P4;
    if (end - s >= 4) {
        uint64_t w = (uint64_t)s[0] | (uint64_t)s[1] << 8 | (uint64_t)s[2] << 16 |
                     (uint64_t)s[3] << 24;
        h = xxh_rotl(h ^ w * XXH_P1, 23) * XXH_P2 + XXH_P3;
        s += 4;
    }
    for (; s < end; s++)
        h = xxh_rotl(h ^ *s * XXH_P5, 11) * XXH_P1;
    h ^= h >> 33;
    h *= XXH_P2;
    h ^= h >> 29;
    h *= XXH_P3;
    h ^= h >> 32;
    return h;
}

/* splitmix64, https://prng.di.unimi.it/splitmix64.c */
uint64_t
splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void
rng_seed(struct rng *r, uint64_t seed)
{
    int i;

    for (i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256**, https://prng.di.unimi.it/xoshiro256starstar.c */
uint64_t
rng_u64(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double
rng_double(struct rng *r)
{
    return (double)(rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t
rng_below(struct rng *r, uint64_t n)
{
    /* Rejection of the top partial range keeps it unbiased. */
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;

    do
        x = rng_u64(r);
    while (x >= lim);
    return x % n;
}

double
rng_normal(struct rng *r)
{
    double u1, u2;

    do
        u1 = rng_double(r);
    while (u1 <= 0.0);
    u2 = rng_double(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

double
now_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int
mkdir_parents(const char *path, char **failed)
{
    char *dir = xstrdup(path), *p;
    size_t n = strlen(dir);
    struct stat st;

    *failed = NULL;
    while (n > 1 && dir[n - 1] == '/')   /* "a/b/" names b */
        dir[--n] = '\0';
    if ((p = strrchr(dir, '/')) == NULL || p == dir) {
        free(dir);
        return 0;
    }
    *p = '\0';
    for (p = dir + 1; ; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        if (*p == '/' && p[-1] == '/')
            continue;
        {
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
                *failed = dir;
                return -1;
            }
            if (stat(dir, &st) < 0) {
                *failed = dir;
                return -1;
            }
            if (!S_ISDIR(st.st_mode)) {
                errno = ENOTDIR;
                *failed = dir;
                return -1;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    free(dir);
    return 0;
}
