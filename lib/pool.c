/*
 * pool.c - the program's thread pool (see pool.h): n - 1 workers
 * waiting on a condition variable, plus the calling thread, pulling task
 * numbers from an atomic counter.
 */
#include "pool.h"

#include "cpu.h"

/*
 * Every program that sizes the pool multiplies matrices: this reference
 * links cpu.c, whose start-up check gives OpenBLAS the kernels for this
 * CPU (cpu.h).
 */
__attribute__((used)) static const struct cpu_features *(*const link_cpu_check)(void) =
    cpu_features;

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "util.h"

static struct {
    int n;                /* threads including the caller; 0 = not started */
    pthread_t *th;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    pool_fn fn;
    void *ctx;
    int ntasks;
    atomic_int next;
    unsigned gen;
    int busy;             /* workers still inside the current region */
    int quit;
} pool = {0, NULL, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
          PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0, 0, 0};

static void
pool_tasks(int tid)
{
    int t;

    while ((t = atomic_fetch_add(&pool.next, 1)) < pool.ntasks)
        pool.fn(pool.ctx, t, tid);
}

static void *
pool_worker(void *arg)
{
    int tid = (int)(intptr_t)arg;
    unsigned seen = 0;  /* pool_start reset gen before creating us */

    pthread_mutex_lock(&pool.mu);
    for (;;) {
        while (pool.gen == seen && !pool.quit)
            pthread_cond_wait(&pool.go, &pool.mu);
        if (pool.quit)
            break;
        seen = pool.gen;
        pthread_mutex_unlock(&pool.mu);
        pool_tasks(tid);
        pthread_mutex_lock(&pool.mu);
        if (--pool.busy == 0)
            pthread_cond_signal(&pool.done);
    }
    pthread_mutex_unlock(&pool.mu);
    return NULL;
}

static void
pool_stop(void)
{
    int i;

    pthread_mutex_lock(&pool.mu);
    pool.quit = 1;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    for (i = 1; i < pool.n; i++)
        pthread_join(pool.th[i], NULL);
    free(pool.th);
    pool.th = NULL;
    pool.quit = 0;
    pool.n = 0;
}

static void
pool_start(int n)
{
    int i;

    if (pool.n == n)
        return;
    if (pool.n)
        pool_stop();
    pool.th = xcalloc((size_t)n, sizeof(pthread_t));
    pool.n = n;
    pool.gen = 0;
    for (i = 1; i < n; i++)
        if (pthread_create(&pool.th[i], NULL, pool_worker, (void *)(intptr_t)i))
            die("pthread_create failed");
}

int
pool_threads(void)
{
    if (!pool.n)
        pool_set_threads(PT_MAX(1, openblas_get_num_threads()));
    return pool.n;
}

void
pool_run(pool_fn fn, void *ctx, int ntasks)
{
    int t;

    if (pool_threads() == 1 || ntasks <= 1) {
        for (t = 0; t < ntasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.ntasks = ntasks;
    atomic_store(&pool.next, 0);
    pool.busy = pool.n - 1;
    pool.gen++;
    pthread_cond_broadcast(&pool.go);
    pthread_mutex_unlock(&pool.mu);
    pool_tasks(0);
    pthread_mutex_lock(&pool.mu);
    while (pool.busy)
        pthread_cond_wait(&pool.done, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}

void
pool_set_threads(int n)
{
    if (n < 1)
        return;
    openblas_set_num_threads(1);
    pool_start(n);
}

int
pool_threads_env(void)
{
    const char *s = getenv("POSTTRAIN_THREADS");
    long n;

    if (!s || !*s)
        return 0;
    if (parse_long(s, 1, 4096, &n))
        die("POSTTRAIN_THREADS: '%s' is not an integer in [1, 4096]", s);
    return (int)n;
}

