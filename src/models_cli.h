/* models_cli.h — the `rerank models` subcommand (models_cli.c). */
#ifndef RERANK_MODELS_CLI_H
#define RERANK_MODELS_CLI_H

#include <stdio.h>

/* `rerank models [--json] [--model-dir DIR]...`; argv[0] is the subcommand
 * name.  Lists the models of the Hugging Face cache (hub.h's directory) and
 * the given directories on out.  Returns 0 or the failure's kind (util.h:
 * ERR_USAGE, ERR_IO), which main.c maps to the exit status. */
int models_cli_run(int argc, char **argv, FILE *out, FILE *errf);
int models_main(int argc, char **argv);

#endif
