/* test_input.c — unit tests of the input reader (src/input.c) where the CLI
 * cases cannot reach: the line limit counted on content (a CRLF's CR is not
 * content), and a JSON line that cannot be parsed for lack of memory (made
 * to happen under an address-space limit). */
#include "check.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "input.h"
#include "util.h"

/* Writes text to tests/out/NAME and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text, size_t len)
{
    static char path[256];
    snprintf(path, sizeof path, "tests/out/%s", name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f)) {
        printf("FAIL cannot write %s\n", path);
        exit(1);
    }
    return path;
}

/* Opens path alone with options o; exits on failure. */
static struct input *open_one(const char *path, const struct input_options *o)
{
    static char *files[1];
    files[0] = (char *)path;
    struct err e;
    struct input *in = input_open(files, 1, o, &e);
    if (!in) {
        printf("FAIL %s\n", e.msg);
        exit(1);
    }
    return in;
}

static void test_crlf_limit(void)
{
    /* Plain lines, limit 3: "abc\r\n" fits, "abcd\r\n" does not, and a CR
     * inside the limit that is not at the end is content. */
    const char text[] = "abc\r\nab\r\r\nabcd\r\n";
    const char *path = write_file("crlf.txt", text, sizeof text - 1);
    struct input_options o = {.mode = INPUT_LINES, .query = "q", .max_line = 3};
    struct input *in = open_one(path, &o);
    struct group g = {0};
    struct err e = {{0}};
    CHECK(input_next_group(in, &g, &e) == -1);
    CHECK(g.n_cands == 2);
    if (g.n_cands == 2) {
        CHECK_STR(g.cands[0].text, "abc");
        CHECK_STR(g.cands[1].text, "ab\r");
    }
    CHECK_MSG(strstr(e.msg, "crlf.txt:3: line is longer than 3 bytes"), "%s", e.msg);
    input_close(in);

    /* JSON Lines ending in CRLF at exactly the limit. */
    const char line[] = "{\"query\":\"q\",\"text\":\"a\"}";
    char crlf[64];
    snprintf(crlf, sizeof crlf, "%s\r\n%s\r\n", line, line);
    path = write_file("crlf.jsonl", crlf, strlen(crlf));
    o = (struct input_options){.mode = INPUT_AUTO, .max_line = sizeof line - 1};
    in = open_one(path, &o);
    CHECK(input_next_group(in, &g, &e) == 1);
    CHECK(g.n_cands == 2);
    CHECK(input_next_group(in, &g, &e) == 0);
    input_close(in);

    /* One byte over: the CR does not hide it. */
    o.max_line = sizeof line - 2;
    in = open_one(path, &o);
    CHECK(input_next_group(in, &g, &e) == -1);
    CHECK_MSG(strstr(e.msg, "crlf.jsonl:1: line is longer than"), "%s", e.msg);
    input_close(in);
    group_free(&g);
}

/* Virtual memory of this process in bytes, or 0. */
static size_t vm_size(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (f && fscanf(f, "%lu", &pages) != 1)
        pages = 0;
    if (f)
        fclose(f);
    return pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* A JSON line that fits in memory as text but not as jansson's tree must be
 * reported as out of memory, not as invalid JSON (jansson turns a failed
 * allocation into a syntax error, or crashes): the reader gives jansson
 * xmalloc.  The end-to-end check runs in a child under an address-space
 * limit, which sanitizers and valgrind cannot live with. */
static void test_json_out_of_memory(void)
{
    struct input_options o = {.mode = INPUT_AUTO, .max_line = 16u << 20};
    const char *path = write_file("oom.jsonl", "{}\n", 3);
    struct input *in = open_one(path, &o);
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    CHECK(m == xmalloc && f == free);
    input_close(in);

    if (getenv("RERANK_SANITIZED") || getenv("RERANK_VALGRIND")) {
        SKIP("out-of-memory child: not under sanitizers or valgrind");
        return;
    }
    /* 1.5 MB of text, about 30 MB as jansson integers; 12 MB to spare. */
    size_t n_elems = 750000, len = 0;
    char *text = malloc(2 * n_elems + 64);
    len += (size_t)sprintf(text, "{\"query\":\"q\",\"text\":\"a\",\"x\":[0");
    for (size_t i = 1; i < n_elems; i++)
        text[len++] = ',', text[len++] = '0';
    len += (size_t)sprintf(text + len, "]}\n");
    path = write_file("oom.jsonl", text, len);
    free(text);
    fflush(stdout);
    int pipefd[2];
    if (pipe(pipefd) < 0)
        return;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 2);
        dup2(pipefd[1], 1);
        struct rlimit rl = {vm_size() + (12u << 20), vm_size() + (12u << 20)};
        setrlimit(RLIMIT_AS, &rl);
        in = open_one(path, &o);
        struct group g = {0};
        struct err e = {{0}};
        int r = input_next_group(in, &g, &e);
        printf("returned %d: %s\n", r, e.msg);
        fflush(stdout);
        _exit(0);
    }
    close(pipefd[1]);
    char out[2048] = {0};
    size_t got = 0;
    ssize_t k;
    while (got < sizeof out - 1 && (k = read(pipefd[0], out + got, sizeof out - 1 - got)) > 0)
        got += (size_t)k;
    close(pipefd[0]);
    int status;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT &&
                  strstr(out, "rerank: out of memory"),
              "child status %d, output: %s", status, out);
}

int main(void)
{
    test_crlf_limit();
    test_json_out_of_memory();
    return check_report();
}
