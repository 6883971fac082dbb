/* check.h — a minimal unit-test harness.  Each tests/test_*.c is its own
 * program; it prints one line per failure and, last, "N passed, N failed"
 * (", N skipped" when some were), which tests/run.sh adds up. */
#ifndef RERANK_CHECK_H
#define RERANK_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_passed, check_failed, check_skipped;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond)                                                            \
            check_passed++;                                                  \
        else {                                                               \
            check_failed++;                                                  \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);           \
        }                                                                    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                 \
    do {                                                                     \
        if (cond)                                                            \
            check_passed++;                                                  \
        else {                                                               \
            check_failed++;                                                  \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                      \
            printf(__VA_ARGS__);                                             \
            printf("\n");                                                    \
        }                                                                    \
    } while (0)

#define CHECK_STR(a, b)                                                      \
    do {                                                                     \
        const char *a_ = (a), *b_ = (b);                                     \
        CHECK_MSG(a_ && b_ && strcmp(a_, b_) == 0, "%s == %s: \"%s\" vs \"%s\"", \
                  #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");          \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                \
    do {                                                                     \
        double a_ = (a), b_ = (b);                                           \
        CHECK_MSG(fabs(a_ - b_) <= (tol), "%s ~ %s: %.9g vs %.9g",           \
                  #a, #b, a_, b_);                                           \
    } while (0)

/* Marks a whole group of checks as skipped, with the reason on stdout. */
#define SKIP(...)                                                            \
    do {                                                                     \
        check_skipped++;                                                     \
        printf("SKIP ");                                                     \
        printf(__VA_ARGS__);                                                 \
        printf("\n");                                                        \
    } while (0)

/* Directory of the read-only shared fixtures beside the checkout. */
static inline const char *shared_dir(void)
{
    const char *d = getenv("RERANK_SHARED");
    return d ? d : "../shared";
}

static inline int check_report(void)
{
    if (check_skipped)
        printf("%d passed, %d failed, %d skipped\n", check_passed,
               check_failed, check_skipped);
    else
        printf("%d passed, %d failed\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
