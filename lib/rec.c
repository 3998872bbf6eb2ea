/*
 * rec.c - JSONL record streams, plain or zstd.  See rec.h.
 *
 * Reading: raw bytes come from the file descriptor into ibuf; a zstd input
 * (magic 28 b5 2f fd at offset 0) is decompressed from ibuf into obuf, a
 * plain one is read straight into obuf.  Lines are cut from obuf; a line
 * that fits in obuf is returned in place, a longer one is assembled in
 * the line buffer.  Memory is the two buffers plus the longest line.
 *
 * Writing: records are serialized into a reusable buffer, then go either
 * to stdio (plain) or through ZSTD_compressStream2.  Named outputs live
 * under a temporary name (tmpfile.h: it carries the writer's identity)
 * until rout_close(); an exit or a fatal signal in between removes the
 * temporary file, and the next writer into the directory reclaims one
 * that SIGKILL left.
 */
#include "rec.h"
#include "json.h"
#include "tmpfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define IBUF_SIZE (1 << 17)

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

struct rin {
    int fd;
    char *name;
    int zstd;
    int raw_eof;
    ZSTD_DCtx *dctx;
    size_t zret;           /* last ZSTD_decompressStream result: 0 = frame ended */
    unsigned char *ibuf;
    size_t ipos, ilen;
    unsigned char *obuf;
    size_t ocap, opos, olen;
    struct sbuf line;      /* assembled long line */
    const char *cur;       /* the current line */
    size_t curlen;
    long lineno;
};

static const unsigned char zstd_magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

static ssize_t
read_some(struct rin *in, unsigned char *buf, size_t n)
{
    ssize_t r;

    do
        r = read(in->fd, buf, n);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        die_errno("%s: read error", in->name);
    return r;
}

/* Fills ibuf when it is empty; sets raw_eof at the end of the file. */
static void
fill_raw(struct rin *in)
{
    ssize_t r;

    if (in->ipos < in->ilen || in->raw_eof)
        return;
    r = read_some(in, in->ibuf, IBUF_SIZE);
    in->ipos = 0;
    in->ilen = (size_t)r;
    if (r == 0)
        in->raw_eof = 1;
}

struct rin *
rin_open(const char *path)
{
    struct rin *in = xcalloc(1, sizeof(*in));

    if (!path || strcmp(path, "-") == 0) {
        in->fd = 0;
        in->name = xstrdup("<stdin>");
    } else {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0)
            die_errno("%s", path);
        in->name = xstrdup(path);
    }
    in->ibuf = xmalloc(IBUF_SIZE);
    /* Read the first bytes to detect zstd. */
    while (in->ilen < 4 && !in->raw_eof) {
        ssize_t r = read_some(in, in->ibuf + in->ilen, IBUF_SIZE - in->ilen);
        if (r == 0)
            in->raw_eof = 1;
        in->ilen += (size_t)r;
    }
    if (in->ilen >= 4 && memcmp(in->ibuf, zstd_magic, 4) == 0) {
        in->zstd = 1;
        in->dctx = ZSTD_createDCtx();
        if (!in->dctx)
            die("out of memory (zstd)");
        in->ocap = ZSTD_DStreamOutSize();
        in->obuf = xmalloc(in->ocap);
    } else {
        /* Plain: obuf is ibuf. */
        in->obuf = in->ibuf;
        in->ocap = IBUF_SIZE;
        in->olen = in->ilen;
        in->ilen = 0;
    }
    return in;
}

void
rin_close(struct rin *in)
{
    if (!in)
        return;
    if (in->fd > 0)
        close(in->fd);
    if (in->zstd) {
        ZSTD_freeDCtx(in->dctx);
        free(in->obuf);
    }
    free(in->ibuf);
    free(in->name);
    sbuf_release(&in->line);
    free(in);
}

/*
 * Refills obuf (opos == olen on entry).  Returns 0 at end of input.  A
 * zstd stream that ends inside a frame is fatal: it was truncated.
 */
static int
fill_out(struct rin *in)
{
    in->opos = in->olen = 0;
    if (!in->zstd) {
        ssize_t r;
        if (in->raw_eof)
            return 0;
        r = read_some(in, in->obuf, in->ocap);
        if (r == 0) {
            in->raw_eof = 1;
            return 0;
        }
        in->olen = (size_t)r;
        return 1;
    }
    for (;;) {
        ZSTD_inBuffer zin;
        ZSTD_outBuffer zout = { in->obuf, in->ocap, 0 };

        fill_raw(in);
        if (in->ipos == in->ilen && in->raw_eof && in->zret == 0)
            return 0;
        zin.src = in->ibuf;
        zin.size = in->ilen;
        zin.pos = in->ipos;
        in->zret = ZSTD_decompressStream(in->dctx, &zout, &zin);
        if (ZSTD_isError(in->zret))
            die("%s: zstd: %s", in->name, ZSTD_getErrorName(in->zret));
        in->ipos = zin.pos;
        if (zout.pos > 0) {
            in->olen = zout.pos;
            return 1;
        }
        /* No input left, nothing flushed, and the frame is not complete. */
        if (in->ipos == in->ilen && in->raw_eof && in->zret != 0)
            die("%s: truncated zstd input (the last frame is incomplete)", in->name);
    }
}

const char *
rin_line(struct rin *in, size_t *len)
{
    int assembling = 0;

    sbuf_reset(&in->line);
    for (;;) {
        unsigned char *start, *nl;
        size_t avail;

        if (in->opos == in->olen && !fill_out(in)) {
            if (!assembling)
                return NULL;
            in->cur = in->line.buf;
            in->curlen = in->line.len;
            break;
        }
        start = in->obuf + in->opos;
        avail = in->olen - in->opos;
        nl = memchr(start, '\n', avail);
        if (nl) {
            size_t n = (size_t)(nl - start);
            in->opos += n + 1;
            if (!assembling) {
                in->cur = (const char *)start;
                in->curlen = n;
            } else {
                sbuf_add(&in->line, start, n);
                in->cur = in->line.buf;
                in->curlen = in->line.len;
            }
            break;
        }
        sbuf_add(&in->line, start, avail);
        in->opos = in->olen;
        assembling = 1;
    }
    if (in->curlen > 0 && in->cur[in->curlen - 1] == '\r')
        in->curlen--;
    in->lineno++;
    *len = in->curlen;
    return in->cur;
}

static int
is_blank(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

json_t *
rin_next(struct rin *in, enum rin_status *st, struct sbuf *why)
{
    const char *s;
    size_t n;
    json_t *v;

    for (;;) {
        s = rin_line(in, &n);
        if (!s) {
            *st = RIN_EOF;
            return NULL;
        }
        if (!is_blank(s, n))
            break;
    }
    v = json_parse(s, n, why);
    if (!v) {
        *st = RIN_BADLINE;
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        sbuf_adds(why, "column 1: a record must be a JSON object");
        *st = RIN_BADLINE;
        return NULL;
    }
    *st = RIN_OK;
    return v;
}

const char *
rin_name(const struct rin *in)
{
    return in->name;
}

long
rin_lineno(const struct rin *in)
{
    return in->lineno;
}

const char *
rin_rawline(const struct rin *in, size_t *len)
{
    *len = in->curlen;
    return in->cur;
}

/* ------------------------------------------------------------------ */
/* JSON output                                                         */
/* ------------------------------------------------------------------ */

static void
emit_string(struct sbuf *sb, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0;

    sbuf_grow(sb, n + 2);
    sbuf_addc(sb, '"');
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sbuf_add(sb, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\t': esc = "\\t"; break;
        case '\r': esc = "\\r"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
            u[4] = hex[c >> 4]; u[5] = hex[c & 15]; u[6] = '\0';
            esc = u;
        }
        sbuf_adds(sb, esc);
    }
    sbuf_add(sb, s + run, n - run);
    sbuf_addc(sb, '"');
}

/*
 * The shortest of %.15g, %.16g, %.17g that reads back as the same double;
 * ".0" is added to integral values so they stay reals.  JSON has no NaN or
 * infinity: they are written as null (jansson never produces them).
 */
/*
 * Shortest round-trip form; ".0" is added to integral values so they stay
 * reals.  JSON has no NaN or infinity: they are written as null.
 */
static void
emit_real(struct sbuf *sb, double d)
{
    char buf[40];
    int n;

    if (!isfinite(d)) {
        sbuf_add(sb, "null", 4);
        return;
    }
    n = fmt_double(buf, d);
    sbuf_add(sb, buf, (size_t)n);
    if (!memchr(buf, '.', (size_t)n) && !memchr(buf, 'e', (size_t)n))
        sbuf_add(sb, ".0", 2);
}

void
json_emit(struct sbuf *sb, const json_t *v)
{
    char buf[32];
    int n;

    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *x;
        int first = 1;
        sbuf_addc(sb, '{');
        json_object_foreach((json_t *)v, k, x) {
            if (!first)
                sbuf_addc(sb, ',');
            first = 0;
            emit_string(sb, k, strlen(k));
            sbuf_addc(sb, ':');
            json_emit(sb, x);
        }
        sbuf_addc(sb, '}');
        break;
    }
    case JSON_ARRAY: {
        size_t i, len = json_array_size(v);
        sbuf_addc(sb, '[');
        for (i = 0; i < len; i++) {
            if (i)
                sbuf_addc(sb, ',');
            json_emit(sb, json_array_get(v, i));
        }
        sbuf_addc(sb, ']');
        break;
    }
    case JSON_STRING:
        emit_string(sb, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        n = fmt_int(buf, json_integer_value(v));
        sbuf_add(sb, buf, (size_t)n);
        break;
    case JSON_REAL:
        emit_real(sb, json_real_value(v));
        break;
    case JSON_TRUE:
        sbuf_add(sb, "true", 4);
        break;
    case JSON_FALSE:
        sbuf_add(sb, "false", 5);
        break;
    case JSON_NULL:
        sbuf_add(sb, "null", 4);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

struct rout {
    FILE *fp;
    int is_stdout;
    char *path;            /* final name, NULL for stdout */
    char *tmp;             /* temporary name */
    int flags;
    ZSTD_CCtx *cctx;
    unsigned char *zbuf;
    size_t zcap;
    struct sbuf buf;
    long count;
};

/* Temporary files to remove at exit or on a fatal signal. */
#define MAX_PENDING 64
static char *pending[MAX_PENDING];
static volatile sig_atomic_t npending;
static int cleanup_installed;

static void
remove_pending(void)
{
    int i;

    for (i = 0; i < npending; i++)
        if (pending[i])
            unlink(pending[i]);
}

static void
on_fatal_signal(int sig)
{
    remove_pending();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
pending_add(char *tmp)
{
    int i;

    if (!cleanup_installed) {
        atexit(remove_pending);
        signal(SIGINT, on_fatal_signal);
        signal(SIGTERM, on_fatal_signal);
        signal(SIGHUP, on_fatal_signal);
        cleanup_installed = 1;
    }
    for (i = 0; i < npending; i++)
        if (!pending[i]) {
            pending[i] = tmp;
            return;
        }
    if (npending == MAX_PENDING)
        die("too many open outputs");
    pending[npending] = tmp;
    npending++;
}

static void
pending_del(const char *tmp)
{
    int i;

    for (i = 0; i < npending; i++)
        if (pending[i] == tmp)
            pending[i] = NULL;
}

static int
has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);

    return a >= b && strcmp(s + a - b, suf) == 0;
}

struct rout *
rout_open(const char *path, int flags, int level)
{
    struct rout *out = xcalloc(1, sizeof(*out));

    if (!path || strcmp(path, "-") == 0) {
        out->fp = stdout;
        out->is_stdout = 1;
    } else {
        struct sbuf err = SBUF_INIT;
        /* reclaims the dead writers' temporaries beside it (tmpfile.h) */
        int fd = tmpf_open(path, &out->tmp, &err);

        if (fd < 0)
            die("%s", sbuf_str(&err));
        out->path = xstrdup(path);
        pending_add(out->tmp);
        out->fp = fdopen(fd, "w");
        if (!out->fp)
            die_errno("%s", path);
        if (has_suffix(path, ".zst"))
            flags |= ROUT_ZSTD;
    }
    out->flags = flags;
    if (flags & ROUT_ZSTD) {
        out->cctx = ZSTD_createCCtx();
        if (!out->cctx)
            die("out of memory (zstd)");
        ZSTD_CCtx_setParameter(out->cctx, ZSTD_c_compressionLevel, level > 0 ? level : 3);
        ZSTD_CCtx_setParameter(out->cctx, ZSTD_c_checksumFlag, 1);
        out->zcap = ZSTD_CStreamOutSize();
        out->zbuf = xmalloc(out->zcap);
    }
    return out;
}

void
rout_zstd_threads(struct rout *out, int n)
{
    if (out->cctx && n > 0)
        /* Ignored (error) by a libzstd built without threads: then it stays single-threaded. */
        ZSTD_CCtx_setParameter(out->cctx, ZSTD_c_nbWorkers, n);
}

static PT_NORETURN void
write_failed(struct rout *out)
{
    if (errno == EPIPE) {
        /* The reader went away: end quietly, as SIGPIPE would. */
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
    }
    if (!out->path) {
        /* stdout redirected to a file ("> x.part"): name it */
        char name[PATH_MAX];
        int e = errno;
        ssize_t n = readlink("/proc/self/fd/1", name, sizeof(name) - 1);
        errno = e;
        if (n > 0 && name[0] == '/') {
            name[n] = 0;
            die_errno("%s: write error", name);
        }
    }
    die_errno("%s: write error", out->path ? out->path : "<stdout>");
}

static void
put(struct rout *out, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, out->fp) != n)
        write_failed(out);
}

static void
zput(struct rout *out, const void *p, size_t n, ZSTD_EndDirective mode)
{
    ZSTD_inBuffer zin = { p, n, 0 };
    int done;

    do {
        ZSTD_outBuffer zout = { out->zbuf, out->zcap, 0 };
        size_t r = ZSTD_compressStream2(out->cctx, &zout, &zin, mode);
        if (ZSTD_isError(r))
            die("zstd: %s", ZSTD_getErrorName(r));
        put(out, out->zbuf, zout.pos);
        done = mode == ZSTD_e_continue ? zin.pos == zin.size : r == 0;
    } while (!done);
}

static void
emit_bytes(struct rout *out, const void *p, size_t n)
{
    if (out->cctx)
        zput(out, p, n, (out->flags & ROUT_UNBUFFERED) ? ZSTD_e_flush : ZSTD_e_continue);
    else
        put(out, p, n);
    if ((out->flags & ROUT_UNBUFFERED) && fflush(out->fp) != 0)
        write_failed(out);
}

void
rout_write(struct rout *out, const json_t *rec)
{
    sbuf_reset(&out->buf);
    json_emit(&out->buf, rec);
    sbuf_addc(&out->buf, '\n');
    emit_bytes(out, out->buf.buf, out->buf.len);
    out->count++;
}

void
rout_raw(struct rout *out, const void *p, size_t n)
{
    emit_bytes(out, p, n);
}

long
rout_count(const struct rout *out)
{
    return out->count;
}

static void
rout_free(struct rout *out)
{
    ZSTD_freeCCtx(out->cctx);
    free(out->zbuf);
    sbuf_release(&out->buf);
    free(out->path);
    free(out->tmp);
    free(out);
}

static void
fsync_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, (size_t)(slash - path + 1)) : xstrdup(".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

void
rout_close(struct rout *out)
{
    if (out->cctx)
        zput(out, NULL, 0, ZSTD_e_end);
    if (fflush(out->fp) != 0 || ferror(out->fp))
        write_failed(out);
    if (out->is_stdout) {
        /* Closing stdout here catches a late write error (e.g. ENOSPC). */
        if (fclose(stdout) != 0)
            write_failed(out);
    } else {
        if (fsync(fileno(out->fp)) != 0 && errno != EINVAL)
            die_errno("%s: fsync", out->path);
        /* renamed while open: the lock proves its writer alive until then */
        if (rename(out->tmp, out->path) != 0)
            die_errno("%s: cannot rename into place", out->path);
        pending_del(out->tmp);
        if (fclose(out->fp) != 0)
            die_errno("%s: write error", out->path);
        fsync_dir_of(out->path);
    }
    rout_free(out);
}

void
rout_abort(struct rout *out)
{
    if (!out->is_stdout) {
        fclose(out->fp);
        unlink(out->tmp);
        pending_del(out->tmp);
    } else {
        fflush(stdout);
    }
    rout_free(out);
}

/* ------------------------------------------------------------------ */
/* Field accessors                                                     */
/* ------------------------------------------------------------------ */

int
rec_get_str(const json_t *rec, const char *key, const char **out, const char **why)
{
    json_t *v = json_object_get(rec, key);

    if (!v) {
        if (why)
            *why = "missing";
        return -1;
    }
    if (!json_is_string(v)) {
        if (why)
            *why = "not a string";
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int
rec_get_num(const json_t *rec, const char *key, double *out, const char **why)
{
    json_t *v = json_object_get(rec, key);

    if (!v) {
        if (why)
            *why = "missing";
        return -1;
    }
    if (!json_is_number(v)) {
        if (why)
            *why = "not a number";
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

int
rec_get_int(const json_t *rec, const char *key, long long *out, const char **why)
{
    json_t *v = json_object_get(rec, key);

    if (!v) {
        if (why)
            *why = "missing";
        return -1;
    }
    if (!json_is_integer(v)) {
        if (why)
            *why = "not an integer";
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

int
rec_check_rewards(const json_t *rec, const char **why)
{
    json_t *rw = json_object_get(rec, "rewards"), *x;
    const char *k;

    if (!rw)
        return 0;
    if (!json_is_object(rw)) {
        *why = "not an object";
        return -1;
    }
    json_object_foreach(rw, k, x)
        if (!json_is_number(x)) {
            *why = "a value is not a number";
            return -1;
        }
    return 0;
}

double
rec_set_reward(json_t *rec, const char *name, double value)
{
    json_t *rw = json_object_get(rec, "rewards");
    const char *k;
    json_t *x;
    double sum = 0;

    if (!json_is_object(rw)) {
        rw = json_object();
        json_object_set_new(rec, "rewards", rw);
    }
    json_object_set_new(rw, name, json_real(value));
    json_object_foreach(rw, k, x)
        if (json_is_number(x))
            sum += json_number_value(x);
    json_object_set_new(rec, "reward", json_real(sum));
    return sum;
}
