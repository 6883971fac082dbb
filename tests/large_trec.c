/* large_trec.c — slow scale test of the collection index (not run by
 * `make check`: its name does not start with test_).
 *
 * Generates an MS MARCO-like TSV collection of N passages (default
 * 1,000,000, about 330 bytes each) and a run of 1,000 queries × 100
 * candidates (N must be at least 100), then measures: the index build, reopening it, 100,000 random
 * lookups, and reading every group through trec_source; prints times and the
 * peak RSS, and fails when a lookup returns a wrong text or the peak RSS
 * exceeds the bound (default 512 MiB).
 *
 *   make && cc -std=c11 -D_GNU_SOURCE -O2 -Isrc -o /tmp/large_trec \
 *       tests/large_trec.c $(find src -name '*.o' ! -name main.o) \
 *       $(pkg-config --libs libcurl jansson openblas libutf8proc) -lm -lpthread
 *   /tmp/large_trec [N [DIR [MAX_RSS_MIB]]]     (DIR default /tmp)
 *
 * The collection, its index and the run are written under DIR and removed
 * at the end.  8,800,000 reproduces MS MARCO's size (about 3 GB of disk). */
#include "check.h"

#include <sys/resource.h>
#include <unistd.h>

#include "trec/trec.h"

/* Deterministic passage text for passage i (words from a small vocabulary). */
static void passage(struct buf *b, uint64_t i)
{
    static const char *const words[] = {
        "the", "of", "retrieval", "passage", "ranking", "neural", "model",
        "query", "document", "relevance", "score", "index", "collection",
        "evaluation", "search", "engine", "learning", "language", "transformer",
        "attention", "bm25", "token", "vector", "dense", "sparse", "marco",
    };
    uint64_t h = hash_mix64(i);
    size_t n = 45 + h % 15;
    for (size_t k = 0; k < n; k++) {
        h = hash_mix64(h + k);
        if (k)
            buf_putc(b, ' ');
        buf_puts(b, words[h % (sizeof words / sizeof *words)]);
    }
    buf_printf(b, " #%llu", (unsigned long long)i);
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    long max_rss_mib = argc > 3 ? atol(argv[3]) : 512;
    char coll[512], idx[600], runp[512], qpath[512];
    snprintf(coll, sizeof coll, "%s/large_trec-%ld.tsv", dir, (long)getpid());
    snprintf(idx, sizeof idx, "%s.rrx", coll);
    snprintf(runp, sizeof runp, "%s/large_trec-%ld.run", dir, (long)getpid());
    snprintf(qpath, sizeof qpath, "%s/large_trec-%ld.queries", dir, (long)getpid());

    double t0 = now_seconds();
    FILE *f = fopen(coll, "w");
    struct buf b = {0};
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < n; i++) {
        b.len = 0;
        buf_printf(&b, "%llu\t", (unsigned long long)i);
        passage(&b, i);
        buf_putc(&b, '\n');
        fwrite(b.data, 1, b.len, f);
        bytes += b.len;
    }
    fclose(f);
    FILE *rf = fopen(runp, "w"), *qf = fopen(qpath, "w");
    for (int q = 0; q < 1000; q++) {
        fprintf(qf, "%d\tquery number %d\n", q, q);
        for (int r = 0; r < 100; r++)
            fprintf(rf, "%d Q0 %llu %d %d run\n", q,
                    (unsigned long long)((hash_mix64((uint64_t)q) + (uint64_t)r) % n),
                    r + 1, 1000 - r);
    }
    fclose(rf);
    fclose(qf);
    printf("generated %llu passages, %.1f MB, in %.1f s\n", (unsigned long long)n,
           bytes / 1e6, now_seconds() - t0);

    struct err e;
    t0 = now_seconds();
    struct trec_docs *d = trec_docs_open(coll, &e);
    CHECK_MSG(d != NULL, "open: %s", d ? "" : e.msg);
    if (!d)
        return check_report();
    CHECK(trec_docs_info(d)->built && trec_docs_info(d)->n_docs == n);
    printf("index built in %.2f s (%.1f MB index), peak RSS %ld MiB\n",
           now_seconds() - t0, (32.0 + 16.0 * (double)n) / 1e6,
           peak_rss_kib() / 1024);
    trec_docs_free(d);

    t0 = now_seconds();
    d = trec_docs_open(coll, &e);
    CHECK(d && !trec_docs_info(d)->built);
    printf("index reopened in %.4f s\n", now_seconds() - t0);

    t0 = now_seconds();
    struct arena a = {0};
    size_t wrong = 0, lookups = 100000;
    for (size_t k = 0; k < lookups && d; k++) {
        uint64_t i = hash_mix64(k ^ 0xabcdef) % n;
        char id[32];
        snprintf(id, sizeof id, "%llu", (unsigned long long)i);
        const char *text;
        size_t len;
        b.len = 0;
        passage(&b, i);
        if (trec_docs_get(d, id, &a, &text, &len, &e) != 1 || len != b.len ||
            memcmp(text, b.data, len) != 0)
            wrong++;
        if (k % 1000 == 999)
            arena_reset(&a);
    }
    arena_free(&a);
    CHECK_MSG(wrong == 0, "%zu of %zu lookups wrong", wrong, lookups);
    double dt = now_seconds() - t0;
    printf("%zu random lookups in %.2f s (%.1f us each)\n", lookups, dt,
           dt / (double)lookups * 1e6);

    t0 = now_seconds();
    struct trec_run run;
    struct trec_queries qs;
    CHECK(trec_run_read(&run, runp, &e) == 0);
    CHECK(trec_queries_read(&qs, qpath, TREC_FIELD_TITLE, &e) == 0);
    struct trec_source *src = trec_source_open(&run, &qs, d, NULL);
    struct group g = {0};
    size_t groups = 0, cands = 0;
    int rc;
    while ((rc = trec_source_next(src, &g, &e)) == 1) {
        groups++;
        cands += g.n_cands;
    }
    CHECK(rc == 0 && groups == 1000 && cands == 100000);
    printf("trec_source: %zu groups, %zu candidates in %.2f s\n", groups, cands,
           now_seconds() - t0);
    trec_source_free(src);
    group_free(&g);
    trec_queries_free(&qs);
    trec_run_free(&run);
    trec_docs_free(d);
    buf_free(&b);

    long rss = peak_rss_kib() / 1024;
    printf("peak RSS %ld MiB (bound %ld MiB)\n", rss, max_rss_mib);
    CHECK(rss <= max_rss_mib);
    unlink(coll);
    unlink(idx);
    unlink(runp);
    unlink(qpath);
    return check_report();
}
