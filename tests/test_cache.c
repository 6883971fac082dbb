/* test_cache.c — unit tests of the score cache's file handling (src/cache.c)
 * that the CLI suites cannot aim at: processes opening one new cache file at
 * the same instant, as --shard runs sharing a --cache do.  Switching a new
 * file to WAL needs an exclusive lock, and SQLite refuses two shared-lock
 * holders asking for it at once with SQLITE_BUSY without waiting; before
 * cache_open retried that, about one open in thirteen failed here with
 * "database is locked". */
#include "check.h"
#include "cache.h"
#include "util.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Opens PATH (new) from n processes released together; returns how many
 * failed, printing the first message. */
static int open_together(const char *path, int n)
{
    char wal[512], shm[512];
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(shm, sizeof shm, "%s-shm", path);
    unlink(path), unlink(wal), unlink(shm);
    int gate[2];
    if (pipe(gate) != 0)
        return n;
    for (int k = 0; k < n; k++) {
        pid_t pid = fork();
        if (pid == 0) {
            char ch;
            close(gate[1]);
            if (read(gate[0], &ch, 1) < 0)
                _exit(2);
            struct err e = {0};
            struct cache *c = cache_open(path, false, &e);
            if (!c) {
                printf("  cache_open: %s\n", e.msg);
                fflush(stdout);
                _exit(1);
            }
            cache_close(c);
            _exit(0);
        }
    }
    close(gate[0]);
    close(gate[1]); /* releases every child at once */
    int failed = 0, status;
    while (wait(&status) > 0)
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed++;
    return failed;
}

int main(void)
{
    mkdir("tests/out", 0777);
    const char *path = "tests/out/cache-race.db";
    int failed = 0, rounds = 40, procs = 8;
    fflush(stdout);
    for (int r = 0; r < rounds; r++)
        failed += open_together(path, procs);
    CHECK_MSG(failed == 0, "%d of %d simultaneous opens of a new cache failed", failed,
              rounds * procs);
    return check_report();
}
