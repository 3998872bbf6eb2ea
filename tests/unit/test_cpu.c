/*
 * test_cpu.c - cpu.c: the features cpuid reports against the flags the
 * kernel lists in /proc/cpuinfo, the core names for each feature set, and
 * when the start-up check replaces OpenBLAS's choice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cpu.h"

char *openblas_get_corename(void);

/* Whether /proc/cpuinfo's first "flags" line lists flag; -1 when unreadable. */
static int
cpuinfo_has(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192], *p;
    int found = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5)) {
            found = 0;
            for (p = strtok(strchr(line, ':') + 1, " \n"); p; p = strtok(NULL, " \n"))
                if (!strcmp(p, flag))
                    found = 1;
            break;
        }
    fclose(f);
    return found;
}

int
main(void)
{
    const struct cpu_features *f = cpu_features();
    struct cpu_features x;
    const char *env = getenv("OPENBLAS_CORETYPE");

    /* cpuid against the kernel's view (which also requires OS support) */
    if (cpuinfo_has("avx2") >= 0) {
        CHECK(f->avx == cpuinfo_has("avx"));
        CHECK(f->fma == cpuinfo_has("fma"));
        CHECK(f->avx2 == cpuinfo_has("avx2"));
        CHECK(f->avx512f == cpuinfo_has("avx512f"));
        CHECK(f->avx512bw == cpuinfo_has("avx512bw"));
        CHECK(f->avx512vl == cpuinfo_has("avx512vl"));
        CHECK(f->avx512dq == cpuinfo_has("avx512dq"));
        CHECK(f->avx512_bf16 == cpuinfo_has("avx512_bf16"));
        CHECK(f->amx_bf16 == cpuinfo_has("amx_bf16"));
        CHECK(f->amx_tile == cpuinfo_has("amx_tile"));
    }
    CHECK(cpu_features() == f);
    /* tiles only with both AMX features; Linux grants them wherever XCR0 has them */
    CHECK(cpu_amx_usable() == (f->amx_tile && f->amx_bf16));
    CHECK(cpu_amx_usable() == cpu_amx_usable());

    /* the core for each feature set */
    memset(&x, 0, sizeof x);
    CHECK(cpu_blas_core_for(&x) == NULL);
    x.avx = 1;
    CHECK_STREQ(cpu_blas_core_for(&x), "Sandybridge");
    x.fma = x.avx2 = 1;
    CHECK_STREQ(cpu_blas_core_for(&x), "Haswell");
    x.avx512f = x.avx512dq = x.avx512bw = 1;
    CHECK_STREQ(cpu_blas_core_for(&x), "Haswell"); /* no VL: not SkylakeX's set */
    x.avx512vl = 1;
    CHECK_STREQ(cpu_blas_core_for(&x), "SkylakeX");
    x.avx512_bf16 = 1;
    CHECK_STREQ(cpu_blas_core_for(&x), "Cooperlake");

    /* levels and the switch rule */
    CHECK(cpu_blas_core_level("Prescott") == 0);
    CHECK(cpu_blas_core_level("NEHALEM") == 0);
    CHECK(cpu_blas_core_level(NULL) == 0);
    CHECK(cpu_blas_core_level("Sandybridge") == 1);
    CHECK(cpu_blas_core_level("Zen") == 2);
    CHECK(cpu_blas_core_level("haswell") == 2);
    CHECK(cpu_blas_core_level("SkylakeX") == 3);
    CHECK(cpu_blas_core_level("Cooperlake") == 3);
    CHECK(cpu_blas_should_switch("Prescott", "SkylakeX", 0));
    CHECK(cpu_blas_should_switch("Sandybridge", "Haswell", 0));
    CHECK(!cpu_blas_should_switch("Prescott", "SkylakeX", 1)); /* the user's choice stays */
    CHECK(!cpu_blas_should_switch("SkylakeX", "Cooperlake", 0)); /* same level */
    CHECK(!cpu_blas_should_switch("Zen", "Haswell", 0));
    CHECK(!cpu_blas_should_switch("Prescott", NULL, 0));

    /*
     * This program links cpu.c too: after its start-up check, OpenBLAS
     * runs a core of at least the CPU's level unless the user named one.
     */
    if (!env || !*env)
        CHECK_MSG(cpu_blas_core_level(openblas_get_corename()) >=
                      cpu_blas_core_level(cpu_blas_core_for(f)),
                  "OpenBLAS runs %s on a CPU for %s", openblas_get_corename(),
                  cpu_blas_core_for(f) ? cpu_blas_core_for(f) : "none");
    CHECK(strstr(cpu_blas_note(), openblas_get_corename()) != NULL);
    return check_done();
}
