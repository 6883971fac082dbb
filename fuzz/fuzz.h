/* fuzz.h — what the libFuzzer targets in fuzz/ share: a private scratch
 * directory per process (removed at exit) to hand fuzz inputs to readers
 * that take a path, and the path of the repository's testdata/.
 *
 * Each target is one program (`make fuzz`); it includes this header once. */
#ifndef RERANK_FUZZ_H
#define RERANK_FUZZ_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FUZZ_TESTDATA
#define FUZZ_TESTDATA "testdata"
#endif

static char fuzz_scratch_dir[256];

static inline void fuzz_scratch_remove(void)
{
    DIR *d = opendir(fuzz_scratch_dir);
    if (!d)
        return;
    struct dirent *de;
    char p[512];
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", fuzz_scratch_dir, de->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(fuzz_scratch_dir);
}

/* The scratch directory (flat: targets write plain files into it), made on
 * first use under $TMPDIR or /tmp. */
static inline const char *fuzz_dir(void)
{
    if (!fuzz_scratch_dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(fuzz_scratch_dir, sizeof fuzz_scratch_dir, "%s/rerank-fuzz.XXXXXX",
                 t && *t ? t : "/tmp");
        if (!mkdtemp(fuzz_scratch_dir)) {
            perror(fuzz_scratch_dir);
            abort();
        }
        atexit(fuzz_scratch_remove);
    }
    return fuzz_scratch_dir;
}

/* Writes data[0..size) to the scratch file `name` (replacing it) and
 * returns its path in a static buffer. */
static inline const char *fuzz_write(const char *name, const uint8_t *data, size_t size)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror(path);
        abort();
    }
    for (size_t off = 0; off < size;) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0) {
            perror(path);
            abort();
        }
        off += (size_t)n;
    }
    close(fd);
    return path;
}

/* Removes the scratch file `name` if it exists. */
static inline void fuzz_unlink(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", fuzz_dir(), name);
    unlink(path);
}

/* The path of a file under testdata/, in a static buffer. */
static inline const char *fuzz_testdata(const char *rel)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", FUZZ_TESTDATA, rel);
    return path;
}

#endif
