/* fuse_cli.h — the `rerank fuse` subcommand (fuse_cli.c). */
#ifndef RERANK_FUSE_CLI_H
#define RERANK_FUSE_CLI_H

#include <stdio.h>

/* `rerank fuse [options] RUN...`; argv[0] is the subcommand name.  Writes
 * the fused run to out and diagnostics to errf.  Returns 0 (also --help,
 * and a reader that closed the pipe) or the failure's kind (util.h:
 * ERR_USAGE, ERR_INPUT, ERR_IO), which main.c maps to the exit status. */
int fuse_cli_run(int argc, char **argv, FILE *out, FILE *errf);
int fuse_main(int argc, char **argv);

#endif
