/*
 * dist.c - ranks and deterministic collectives over MPI, or one rank.
 * Compiled twice: into libposttrain.a without MPI, and with mpicc
 * -DPT_MPI into the object that an MPI build of update links first.
 */
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "util.h"

#ifdef PT_MPI
#include <mpi.h>
#endif

static int dist_nranks = 1, dist_me = 0, dist_nlocal = 1, dist_joined = 0;

/* ---- Balance ---- */

void
dist_assign(const size_t *ntok, size_t n, int nranks, int *owner)
{
    size_t *order = xmalloc(xmul(n > 0 ? n : 1, sizeof(size_t)));
    uint64_t *load = xcalloc((size_t)nranks, sizeof(uint64_t));
    size_t i, j;
    int r, best;

    /* insertion sort by tokens, descending, stable: batches are small */
    for (i = 0; i < n; i++) {
        for (j = i; j > 0 && ntok[order[j - 1]] < ntok[i]; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    for (i = 0; i < n; i++) {
        best = 0;
        for (r = 1; r < nranks; r++)
            if (load[r] < load[best])
                best = r;
        owner[order[i]] = best;
        load[best] += ntok[order[i]];
    }
    free(load);
    free(order);
}

/* ---- Rows as bytes ---- */

static void
put(struct sbuf *sb, const void *p, size_t n)
{
    if (n)
        sbuf_add(sb, p, n);
}

static void
get(const char **p, void *dst, size_t n)
{
    if (n)
        memcpy(dst, *p, n);
    *p += n;
}

static void *
get_new(const char **p, size_t n)
{
    void *q = xmalloc(n ? n : 1);

    get(p, q, n);
    return q;
}

enum { HAS_OLD = 1, HAS_REF = 2, HAS_ADV = 4, HAS_PAIR = 8, HAS_MARGIN = 16, HAS_ROUTES = 32 };

static void
row_put(struct sbuf *sb, const struct pack_row *w)
{
    uint64_t hdr[3];

    hdr[0] = w->n;
    hdr[1] = w->nseg;
    hdr[2] = (w->old ? HAS_OLD : 0) | (w->ref ? HAS_REF : 0) | (w->adv ? HAS_ADV : 0) |
             (w->pair ? HAS_PAIR : 0) | (w->margin ? HAS_MARGIN : 0) |
             (w->routes ? HAS_ROUTES : 0);
    put(sb, hdr, sizeof(hdr));
    put(sb, w->ids, w->n * sizeof(int));
    put(sb, w->mask, w->n);
    put(sb, w->seg, w->nseg * sizeof(int));
    if (w->old)
        put(sb, w->old, w->n * sizeof(float));
    if (w->ref)
        put(sb, w->ref, w->n * sizeof(float));
    if (w->adv)
        put(sb, w->adv, w->nseg * sizeof(float));
    if (w->pair)
        put(sb, w->pair, w->nseg);
    if (w->margin)
        put(sb, w->margin, w->nseg * sizeof(float));
    if (w->routes) {
        uint64_t nr = w->nroutes;
        put(sb, &nr, sizeof(nr));
        put(sb, w->routes, w->nroutes * sizeof(int));
    }
}

static void
row_get(const char **p, struct pack_row *w)
{
    uint64_t hdr[3];

    get(p, hdr, sizeof(hdr));
    memset(w, 0, sizeof(*w));
    w->n = (size_t)hdr[0];
    w->nseg = (size_t)hdr[1];
    w->ids = get_new(p, w->n * sizeof(int));
    w->mask = get_new(p, w->n);
    w->seg = get_new(p, w->nseg * sizeof(int));
    if (hdr[2] & HAS_OLD)
        w->old = get_new(p, w->n * sizeof(float));
    if (hdr[2] & HAS_REF)
        w->ref = get_new(p, w->n * sizeof(float));
    if (hdr[2] & HAS_ADV)
        w->adv = get_new(p, w->nseg * sizeof(float));
    if (hdr[2] & HAS_PAIR)
        w->pair = get_new(p, w->nseg);
    if (hdr[2] & HAS_MARGIN)
        w->margin = get_new(p, w->nseg * sizeof(float));
    if (hdr[2] & HAS_ROUTES) {
        uint64_t nr;
        get(p, &nr, sizeof(nr));
        w->nroutes = (size_t)nr;
        w->routes = get_new(p, w->nroutes * sizeof(int));
    }
}

size_t
dist_bcast_rows(struct pack_row **rows, size_t nrows)
{
    struct sbuf sb = SBUF_INIT;
    uint64_t hdr[2] = {nrows, 0};
    char *buf;
    const char *p;
    size_t i;

    if (dist_nranks == 1)
        return nrows;
    if (dist_me == 0) {
        for (i = 0; i < nrows; i++)
            row_put(&sb, &(*rows)[i]);
        hdr[1] = sb.len;
    }
    dist_bcast(hdr, sizeof(hdr));
    buf = dist_me == 0 ? sb.buf : xmalloc((size_t)hdr[1] + 1);
    dist_bcast(buf, (size_t)hdr[1]);
    if (dist_me != 0) {
        nrows = (size_t)hdr[0];
        *rows = xmalloc(xmul(nrows ? nrows : 1, sizeof(**rows)));
        for (i = 0, p = buf; i < nrows; i++)
            row_get(&p, &(*rows)[i]);
        free(buf);
    }
    sbuf_release(&sb);
    return nrows;
}

/* ---- Ranks ---- */

int
dist_rank(void)
{
    return dist_me;
}

int
dist_size(void)
{
    return dist_nranks;
}

int
dist_local_size(void)
{
    return dist_nlocal;
}

#ifdef PT_MPI

int
dist_built_with_mpi(void)
{
    return 1;
}

/* Started by a launcher that speaks to MPI: OpenMPI's mpirun, PMIx, PMI. */
static int
launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

int
dist_init(int *argc, char ***argv)
{
    const char *s;

    if (!launched())
        return 1;
    if (MPI_Init(argc, argv) != MPI_SUCCESS)
        die("MPI_Init failed");
    dist_joined = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &dist_me);
    MPI_Comm_size(MPI_COMM_WORLD, &dist_nranks);
    s = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    dist_nlocal = s && atoi(s) > 0 ? atoi(s) : 1;
    return dist_nranks;
}

void
dist_finalize(void)
{
    if (dist_joined)
        MPI_Finalize();
    dist_joined = 0;
}

/* Elements per round of a reduction: bounds the scratch to 64 MiB. */
#define DIST_SEG ((size_t)1 << 23)

/*
 * One round of the sum over n <= DIST_SEG elements: rank r receives every
 * rank's slice r, adds the slices in rank order, and the sums are
 * gathered back into x on every rank.
 */
static void
sum_round(void *x, size_t n, size_t esz, MPI_Datatype t, void *scratch)
{
    int N = dist_nranks, me = dist_me, r;
    int *cnt = xmalloc(xmul((size_t)N, sizeof(int))), *dsp = xmalloc(xmul((size_t)N, sizeof(int)));
    MPI_Request *req = xmalloc(xmul(2 * (size_t)N, sizeof(MPI_Request)));
    size_t lo, m, i;
    int nreq = 0;
    char *xb = x, *tb = scratch;

    for (r = 0; r < N; r++) {
        size_t a = n * (size_t)r / (size_t)N, b = n * (size_t)(r + 1) / (size_t)N;
        dsp[r] = (int)a;
        cnt[r] = (int)(b - a);
    }
    lo = (size_t)dsp[me];
    m = (size_t)cnt[me];
    for (r = 0; r < N; r++) {
        if (r == me)
            continue;
        MPI_Irecv(tb + (size_t)r * m * esz, cnt[me], t, r, 7, MPI_COMM_WORLD, &req[nreq++]);
        MPI_Isend(xb + (size_t)dsp[r] * esz, cnt[r], t, r, 7, MPI_COMM_WORLD, &req[nreq++]);
    }
    MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE);
    memcpy(tb + (size_t)me * m * esz, xb + lo * esz, m * esz);
    if (esz == sizeof(float)) {
        float *y = (float *)(void *)xb + lo, *c = (float *)(void *)tb;
        for (i = 0; i < m; i++) {
            double s = c[i];
            for (r = 1; r < N; r++)
                s += c[(size_t)r * m + i];
            y[i] = (float)s;
        }
    } else {
        double *y = (double *)(void *)xb + lo, *c = (double *)(void *)tb;
        for (i = 0; i < m; i++) {
            double s = c[i];
            for (r = 1; r < N; r++)
                s += c[(size_t)r * m + i];
            y[i] = s;
        }
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, t, x, cnt, dsp, t, MPI_COMM_WORLD);
    free(req);
    free(dsp);
    free(cnt);
}

static void
sum_ordered(void *x, size_t n, size_t esz, MPI_Datatype t)
{
    size_t off, k, per = DIST_SEG / (size_t)dist_nranks + 1;
    void *scratch;

    if (dist_nranks == 1 || n == 0)
        return;
    scratch = xmalloc(xmul(per * (size_t)dist_nranks, esz));
    for (off = 0; off < n; off += k) {
        k = n - off < DIST_SEG ? n - off : DIST_SEG;
        sum_round((char *)x + off * esz, k, esz, t, scratch);
    }
    free(scratch);
}

void
dist_sum_f32(float *x, size_t n)
{
    sum_ordered(x, n, sizeof(float), MPI_FLOAT);
}

void
dist_sum_f64(double *x, size_t n)
{
    sum_ordered(x, n, sizeof(double), MPI_DOUBLE);
}

void
dist_sum_u64(uint64_t *x, size_t n)
{
    if (dist_nranks > 1 && n > 0)
        MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
}

void
dist_bcast(void *p, size_t n)
{
    size_t off, k;

    if (dist_nranks == 1)
        return;
    for (off = 0; off < n; off += k) {
        k = n - off < ((size_t)1 << 30) ? n - off : ((size_t)1 << 30);
        MPI_Bcast((char *)p + off, (int)k, MPI_BYTE, 0, MPI_COMM_WORLD);
    }
}

#else /* one rank */

int
dist_built_with_mpi(void)
{
    return 0;
}

int
dist_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    (void)dist_joined;
    (void)dist_nlocal;
    return 1;
}

void
dist_finalize(void)
{
}

void
dist_sum_f32(float *x, size_t n)
{
    (void)x;
    (void)n;
}

void
dist_sum_f64(double *x, size_t n)
{
    (void)x;
    (void)n;
}

void
dist_sum_u64(uint64_t *x, size_t n)
{
    (void)x;
    (void)n;
}

void
dist_bcast(void *p, size_t n)
{
    (void)p;
    (void)n;
}

#endif
