/*
 * cpu.c - cpuid/xgetbv feature detection and the OpenBLAS start-up check
 * of cpu.h.
 *
 * Not here: the kernels that use the features (kern.c, kern_bf16.c).
 */
#include "cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define HAVE_CPUID 1
#else
#define HAVE_CPUID 0
#endif

char *openblas_get_corename(void);

/* Set in the environment of the second execution: what OpenBLAS had picked. */
static const char PICKED_ENV[] = "POSTTRAIN_BLAS_PICKED";

static struct cpu_features features;
static int features_read;

#if HAVE_CPUID
static unsigned long long
xgetbv0(void)
{
    unsigned int lo, hi;

    /* xgetbv with ecx = 0: XCR0, the state components the OS saves. */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void
features_read_cpuid(struct cpu_features *f)
{
    unsigned int a, b, c, d, max;
    unsigned long long xcr0 = 0;
    int os_avx, os_avx512, os_amx;

    memset(f, 0, sizeof *f);
    max = __get_cpuid_max(0, NULL);
    if (max < 1 || !__get_cpuid(1, &a, &b, &c, &d))
        return;
    /* OSXSAVE (ecx bit 27) says xgetbv may be executed. */
    if (c & (1u << 27))
        xcr0 = xgetbv0();
    os_avx = (xcr0 & 0x6) == 0x6;               /* XMM and YMM state */
    os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM0-15 high, ZMM16-31 */
    os_amx = (xcr0 & 0x60000) == 0x60000;       /* XTILECFG and XTILEDATA */
    f->avx = os_avx && (c & (1u << 28));
    f->fma = f->avx && (c & (1u << 12));
    if (max < 7)
        return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = f->avx && (b & (1u << 5));
    f->avx512f = os_avx512 && (b & (1u << 16));
    f->avx512dq = os_avx512 && (b & (1u << 17));
    f->avx512bw = os_avx512 && (b & (1u << 30));
    f->avx512vl = os_avx512 && (b & (1u << 31));
    f->amx_bf16 = os_amx && (d & (1u << 22));
    f->amx_tile = os_amx && (d & (1u << 24));
    if (a >= 1) {
        unsigned int a1, b1, c1, d1;

        __cpuid_count(7, 1, a1, b1, c1, d1);
        (void)b1, (void)c1, (void)d1;
        f->avx512_bf16 = f->avx512f && (a1 & (1u << 5));
    }
}
#else
static void
features_read_cpuid(struct cpu_features *f)
{
    memset(f, 0, sizeof *f);
}
#endif

const struct cpu_features *
cpu_features(void)
{
    if (!features_read) {
        features_read_cpuid(&features);
        features_read = 1;
    }
    return &features;
}

int
cpu_amx_usable(void)
{
    static int asked, granted;
    const struct cpu_features *f = cpu_features();

    if (!asked) {
        asked = 1;
#if HAVE_CPUID && defined(__linux__) && defined(SYS_arch_prctl)
        /* ARCH_REQ_XCOMP_PERM (0x1023) for XFEATURE_XTILEDATA (18) */
        if (f->amx_tile && f->amx_bf16)
            granted = syscall(SYS_arch_prctl, 0x1023, 18) == 0;
#endif
    }
    return granted && f->amx_tile && f->amx_bf16;
}

const char *
cpu_blas_core_for(const struct cpu_features *f)
{
    if (f->avx512f && f->avx512dq && f->avx512bw && f->avx512vl)
        return f->avx512_bf16 ? "Cooperlake" : "SkylakeX";
    if (f->avx2 && f->fma)
        return "Haswell";
    if (f->avx)
        return "Sandybridge";
    return NULL;
}

int
cpu_blas_core_level(const char *core)
{
    /* OpenBLAS 0.3's x86-64 DYNAMIC_ARCH cores by the widest vectors their kernels use. */
    static const char *const l3[] = { "SkylakeX", "Cooperlake", "SapphireRapids", NULL };
    static const char *const l2[] = { "Haswell", "Zen", NULL };
    static const char *const l1[] = { "Sandybridge", "Bulldozer", "Piledriver",
                                      "Steamroller", "Excavator", NULL };
    static const char *const *const levels[] = { l1, l2, l3 };
    int l, i;

    if (!core)
        return 0;
    for (l = 2; l >= 0; l--)
        for (i = 0; levels[l][i]; i++)
            if (!strcasecmp(core, levels[l][i]))
                return l + 1;
    return 0;
}

int
cpu_blas_should_switch(const char *picked, const char *want, int user_set)
{
    if (user_set || !want)
        return 0;
    return cpu_blas_core_level(want) > cpu_blas_core_level(picked);
}

const char *
cpu_blas_note(void)
{
    static char note[192];
    const char *core = openblas_get_corename();
    const char *picked = getenv(PICKED_ENV);
    const char *env = getenv("OPENBLAS_CORETYPE");

    if (picked && *picked)
        snprintf(note, sizeof note,
                 "blas: OpenBLAS core %s (set for this CPU; OpenBLAS had picked %s)",
                 core, picked);
    else if (env && *env)
        snprintf(note, sizeof note, "blas: OpenBLAS core %s (OPENBLAS_CORETYPE=%s)", core,
                 env);
    else
        snprintf(note, sizeof note, "blas: OpenBLAS core %s (OpenBLAS's own choice)", core);
    return note;
}

/*
 * Runs before main (glibc passes argc, argv and envp to ELF constructors),
 * after OpenBLAS's own constructor chose its kernels.  execv keeps the pid,
 * the open descriptors and everything not yet read, so a pipeline or
 * mpirun sees one process.  When execv fails the program goes on with
 * OpenBLAS's choice: slower, never wrong.
 */
__attribute__((constructor)) static void
cpu_blas_check(int argc, char **argv, char **envp)
{
    const char *env = getenv("OPENBLAS_CORETYPE");
    const char *picked = openblas_get_corename();
    const char *want = cpu_blas_core_for(cpu_features());

    (void)envp;
    if (argc < 1 || !argv || getenv(PICKED_ENV))
        return;
    if (!cpu_blas_should_switch(picked, want, env && *env))
        return;
    if (setenv(PICKED_ENV, picked ? picked : "unknown", 1) ||
        setenv("OPENBLAS_CORETYPE", want, 1))
        return;
    execv("/proc/self/exe", argv);
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(PICKED_ENV);
}
