/*
 * check.h - the unit-test macros: each failed CHECK prints file:line and the
 * expression, counts a failure, and the test goes on; check_done() returns
 * the exit status (0 when nothing failed).
 *
 *     int main(void) {
 *         CHECK(1 + 1 == 2);
 *         CHECK_NEAR(x, 0.5, 1e-6);
 *         CHECK_STREQ(s, "abc");
 *         return check_done();
 *     }
 */
#ifndef POSTTRAIN_CHECK_H
#define POSTTRAIN_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures, check_count;

#define CHECK(cond)                                                         \
    do {                                                                    \
        check_count++;                                                      \
        if (!(cond)) {                                                      \
            check_failures++;                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,          \
                    __LINE__, #cond);                                       \
        }                                                                   \
    } while (0)

#define CHECK_MSG(cond, ...)                                                \
    do {                                                                    \
        check_count++;                                                      \
        if (!(cond)) {                                                      \
            check_failures++;                                               \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__,          \
                    __LINE__, #cond);                                       \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

#define CHECK_STREQ(a, b)                                                   \
    do {                                                                    \
        const char *check_a_ = (a), *check_b_ = (b);                        \
        check_count++;                                                      \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {    \
            check_failures++;                                               \
            fprintf(stderr, "%s:%d: %s == %s: '%s' != '%s'\n", __FILE__,    \
                    __LINE__, #a, #b, check_a_ ? check_a_ : "(null)",       \
                    check_b_ ? check_b_ : "(null)");                        \
        }                                                                   \
    } while (0)

/* |a - b| <= tol (absolute). */
#define CHECK_NEAR(a, b, tol)                                               \
    do {                                                                    \
        double check_a_ = (a), check_b_ = (b);                              \
        check_count++;                                                      \
        if (!(fabs(check_a_ - check_b_) <= (tol))) {                        \
            check_failures++;                                               \
            fprintf(stderr, "%s:%d: %s ~ %s: %.9g vs %.9g (tol %g)\n",      \
                    __FILE__, __LINE__, #a, #b, check_a_, check_b_,         \
                    (double)(tol));                                         \
        }                                                                   \
    } while (0)

/* |a - b| <= rtol * max(|a|, |b|, floor) (relative). */
#define CHECK_REL(a, b, rtol, floor)                                        \
    do {                                                                    \
        double check_a_ = (a), check_b_ = (b);                              \
        double check_s_ = fmax(fmax(fabs(check_a_), fabs(check_b_)), floor);\
        check_count++;                                                      \
        if (!(fabs(check_a_ - check_b_) <= (rtol) * check_s_)) {            \
            check_failures++;                                               \
            fprintf(stderr, "%s:%d: %s ~ %s: %.9g vs %.9g (rtol %g)\n",     \
                    __FILE__, __LINE__, #a, #b, check_a_, check_b_,         \
                    (double)(rtol));                                        \
        }                                                                   \
    } while (0)

static inline int
check_done(void)
{
    fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
