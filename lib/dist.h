/*
 * dist.h - data parallelism across processes: the ranks of an MPI job
 * when the program was built with MPI (-DPT_MPI, "make MPI=1") and
 * started by mpirun, else one rank and every collective a no-op.  What it
 * is not: model parallelism, or a launcher (mpirun(1) starts the ranks).
 *
 * Invariants:
 * - Every reduction is deterministic: dist_sum_f32() adds the ranks'
 *   contributions in rank order 0, 1, ..., N-1 (in double, rounded once),
 *   whatever the network, the MPI library's algorithms or the timing, so
 *   a run of N ranks gives the same bytes every time.  Each rank reduces
 *   a 1/N slice and the slices are gathered back: 2 (N-1)/N of the buffer
 *   crosses each rank's link, as in a ring all-reduce.
 * - With one rank (no MPI, or mpirun -np 1) the collectives leave their
 *   buffers as they are.
 * - A process that dies (die(), exit status 1) makes mpirun end the job.
 *
 *     dist_init(&argc, &argv);
 *     dist_assign(ntok, nrows, dist_size(), owner);
 *     ... each rank: gradients of the rows it owns ...
 *     dist_sum_f32(grads, nparams);
 *     if (dist_rank() == 0) ... write the result ...
 *     dist_finalize();
 */
#ifndef POSTTRAIN_DIST_H
#define POSTTRAIN_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "pack.h"

/*
 * Joins the MPI job when mpirun (or srun with PMIx) started this process
 * and the program was built with MPI; else one rank.  Returns the number
 * of ranks.  Call once, before any other dist_ function; argc and argv
 * may be NULL (MPI_Init does not need them).
 */
int dist_init(int *argc, char ***argv);
/* Leaves the job (collective: every rank calls it, on success). */
void dist_finalize(void);
/* 1 when built with MPI. */
int dist_built_with_mpi(void);
int dist_rank(void);
int dist_size(void);
/* Ranks on this host (OMPI_COMM_WORLD_LOCAL_SIZE), 1 without MPI. */
int dist_local_size(void);

/* x[i] = sum over ranks of x[i], in rank order; every rank gets it. */
void dist_sum_f32(float *x, size_t n);
void dist_sum_f64(double *x, size_t n);
/* Exact integer sums. */
void dist_sum_u64(uint64_t *x, size_t n);
/* Rank 0's n bytes at p to every rank. */
void dist_bcast(void *p, size_t n);

/*
 * Rank 0's rows to every rank: rank 0 passes its rows, the others
 * receive a new array (free each with pack_row_release, then the array).
 * Returns the number of rows.
 */
size_t dist_bcast_rows(struct pack_row **rows, size_t nrows);

/*
 * Balances n rows of ntok[i] tokens over nranks ranks: the longest row
 * first (ties: the lower index) to the rank with the fewest tokens so far
 * (ties: the lower rank), the greedy LPT rule (Graham 1969), within 4/3
 * of the best balance.  Writes owner[i] in [0, nranks).  Deterministic:
 * the same inputs give the same owners on every rank.
 */
void dist_assign(const size_t *ntok, size_t n, int nranks, int *owner);

#endif
