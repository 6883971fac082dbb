/* tokenizer_stub_spm.c — minimal ids_push/ids_free so that the sentencepiece
 * branch links on its own; tokenizer.c replaces this file at merge. */
#include "tokenizer.h"

#include <stdlib.h>

void ids_push(struct ids *a, int32_t id)
{
    grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v);
    a->v[a->n++] = id;
}

void ids_free(struct ids *a)
{
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}
