/*
 * pool.h - the program's one pool of compute threads.
 *
 * Every parallel part of the program runs on it: the model's and the
 * optimizer's kernels (lib/kern's forward products and the backward's
 * OpenBLAS sgemm blocks, each on one thread; element-wise kernels cut
 * into row ranges; attention into tasks; lib/w16's bf16 packing and
 * products), lib/infer's KV-cache forwards (one task per thread),
 * lib/gen's sampling of a step's rows, lib/ckpt's hashing of a
 * checkpoint's blocks, and lib/score's reader and its workers (one long
 * task each, with pool_set_threads(jobs + 1): when there are as many
 * tasks as threads every task gets a thread of its own, so tasks may
 * wait on each other).  The only other threads compute nothing: serve's,
 * which wait on sockets (one per connection and one accepting them,
 * libmicrohttpd) and hand the work to the pool, and libcurl's name
 * lookups under oaic.h (a short-lived thread per lookup where libcurl
 * resolves asynchronously).  score-code's sandboxes are processes
 * (lib/sandbox forks them), not threads.  OpenBLAS's own thread count is
 * set to one when the pool is sized, so its threads never run beside
 * ours.  The pool is
 * process-wide, as OpenBLAS's thread count is; it is not re-entrant (a
 * task must not call pool_run) and is driven from one thread at a time.
 *
 *     static void work(void *ctx, int task, int tid) { ... }
 *     pool_set_threads(pool_threads_env() ? pool_threads_env() : 4);
 *     pool_run(work, &ctx, 64);       (returns when all 64 tasks ran)
 */
#ifndef POSTTRAIN_POOL_H
#define POSTTRAIN_POOL_H

/* A task: ctx as given to pool_run, task in [0, ntasks), tid in [0, threads). */
typedef void (*pool_fn)(void *ctx, int task, int tid);

/*
 * Sizes the pool to n threads (n >= 1; the caller is one of them) and
 * sets OpenBLAS to one thread.  Not during a pool_run.
 */
void pool_set_threads(int n);
/* Threads of the pool; the first call sizes it to OpenBLAS's default count. */
int pool_threads(void);
/* POSTTRAIN_THREADS as a positive integer, or 0 when unset; dies if invalid. */
int pool_threads_env(void);
/* Runs fn for every task on the pool's threads; returns when all are done. */
void pool_run(pool_fn fn, void *ctx, int ntasks);

#endif
