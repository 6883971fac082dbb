/* fake_server.h — starting one of the project's fake servers
 * (scripts/fake-*-server.py) from a unit-test program: the server prints
 * its port(s) on its first line and stops by itself when idle or orphaned;
 * fake_server_stop() (also run at exit) stops it sooner. */
#ifndef RERANK_FAKE_SERVER_H
#define RERANK_FAKE_SERVER_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "net/http.h"

static pid_t fake_server_pid;

/* Whether prog is an executable on the PATH. */
static bool on_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *copy = strdup(path), *save = NULL;
    bool found = false;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found;
         dir = strtok_r(NULL, ":", &save)) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", dir, prog);
        found = access(full, X_OK) == 0;
    }
    free(copy);
    return found;
}

static void fake_server_stop(void)
{
    if (fake_server_pid > 0) {
        kill(fake_server_pid, SIGTERM);
        waitpid(fake_server_pid, NULL, 0);
        fake_server_pid = 0;
    }
}

/* Runs `python3 argv...` (argv NULL-terminated, argv[0] the script) and
 * reads up to max ports from its first line into ports.  Returns the
 * number read (0 when the server did not start in 10 s), or -1. */
static int fake_server_start(char *const *argv, long *ports, int max)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char *args[32] = {"python3"};
        for (int i = 0; argv[i] && i < 30; i++)
            args[i + 1] = argv[i];
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execvp("python3", args);
        _exit(127);
    }
    close(fd[1]);
    fake_server_pid = pid;
    atexit(fake_server_stop);
    char line[64] = "";
    size_t len = 0;
    struct pollfd p = {.fd = fd[0], .events = POLLIN};
    while (len < sizeof line - 1 && !strchr(line, '\n') && poll(&p, 1, 10000) > 0) {
        ssize_t k = read(fd[0], line + len, sizeof line - 1 - len);
        if (k <= 0)
            break;
        len += (size_t)k;
        line[len] = 0;
    }
    close(fd[0]);
    int n = 0;
    char *s = line, *end;
    while (n < max) {
        long port = strtol(s, &end, 10);
        if (end == s || port <= 0)
            break;
        ports[n++] = port;
        s = end;
    }
    return n;
}

/* Whether text shows a piece of 6 or more bytes of key (what http_redact
 * promises never to let through). */
static bool shows_piece(const char *text, const char *key)
{
    size_t k = strlen(key);
    for (size_t i = 0; i + 6 <= k; i++) {
        char piece[7];
        memcpy(piece, key + i, 6);
        piece[6] = 0;
        if (strstr(text, piece))
            return true;
    }
    return false;
}

/* The server's request counters for tag (GET BASE/_stats?tag=TAG), as a
 * new JSON object; NULL when the server does not answer. */
static json_t *fake_server_stats(const char *base, const char *tag)
{
    struct http_options ho;
    http_options_init(&ho);
    ho.timeout = 5;
    struct err e = {0};
    struct http_client *c = http_client_new(&ho, &e);
    char url[256];
    snprintf(url, sizeof url, "%s/_stats?tag=%s", base, tag);
    struct http_request r = {.method = "GET", .url = url};
    json_t *j = NULL;
    if (c && http_run(c, &r, 1, &e) == 0)
        j = json_loads(r.response.data, 0, NULL);
    buf_free(&r.response);
    http_client_free(c);
    return j;
}

#endif
