/*
 * cpu.h - what this CPU can do (cpuid and xgetbv, read once), and the
 * start-up check that gives every program that multiplies matrices
 * OpenBLAS's kernels for this CPU.
 *
 * OpenBLAS (DYNAMIC_ARCH builds, as Debian's) picks its kernels from
 * cpuid when it is loaded.  On some virtual CPUs its table does not know
 * the model and it falls back to generic SSE3 kernels ("Prescott"),
 * several times slower than the AVX2 or AVX-512 kernels the CPU runs.  A
 * constructor in cpu.c runs before main: when OPENBLAS_CORETYPE is unset
 * and OpenBLAS chose a core with fewer vector instructions than the CPU
 * and the operating system offer, it sets OPENBLAS_CORETYPE to the
 * matching core and executes the program again (same pid, same
 * arguments, nothing read yet).  A value the user set is always kept.
 *
 *     const struct cpu_features *f = cpu_features();
 *     if (f->avx512f) ...
 *     fprintf(stderr, "%s\n", cpu_blas_note());
 */
#ifndef POSTTRAIN_CPU_H
#define POSTTRAIN_CPU_H

/* Instruction sets usable here: the CPU has them and the OS saves their state. */
struct cpu_features {
    int avx, fma, avx2;
    int avx512f, avx512dq, avx512bw, avx512vl; /* all four: "AVX-512" below */
    int avx512_bf16, amx_bf16, amx_tile;
};

/* This CPU's features; borrowed, static, read on the first call. */
const struct cpu_features *cpu_features(void);

/*
 * Whether AMX tiles may be used: the CPU has AMX-TILE and AMX-BF16, the OS
 * saves the tile state (XCR0 bits 17 and 18), and Linux granted this
 * process the tile data (arch_prctl ARCH_REQ_XCOMP_PERM, asked once, for
 * every thread).  0 or 1.
 */
int cpu_amx_usable(void);

/*
 * The OpenBLAS core name for features f: "Cooperlake" (AVX-512 with
 * BF16), "SkylakeX" (AVX-512), "Haswell" (AVX2 + FMA), "Sandybridge"
 * (AVX), or NULL when none of those applies.  Static string.
 */
const char *cpu_blas_core_for(const struct cpu_features *f);

/*
 * The vector level of an OpenBLAS core name: 3 AVX-512, 2 AVX2, 1 AVX,
 * 0 anything else (SSE-only and unknown cores).
 */
int cpu_blas_core_level(const char *core);

/*
 * Whether to replace the core OpenBLAS picked (picked) by the one the
 * features call for (want, from cpu_blas_core_for): only when the user
 * did not name one (user_set 0) and want has a higher vector level.
 */
int cpu_blas_should_switch(const char *picked, const char *want, int user_set);

/*
 * One line for --verbose: the core OpenBLAS runs and why, e.g.
 * "blas: OpenBLAS core SkylakeX (OpenBLAS's own choice)".  Static string.
 */
const char *cpu_blas_note(void);

#endif
