/* fuzz_jsonl — the JSON Lines parser and group assembly of src/input.c.
 *
 * The input is one candidates file.  It is read twice: as `rerank` reads it
 * by default (format detected, stop at the first bad line), and as JSON
 * Lines with --skip-invalid, a --query default and a 64-byte
 * --max-line-bytes, so that the too-long path, the query default and the
 * regrouping after skipped lines run too. */
#include "fuzz.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("in.jsonl", data, size);
    fuzz_read_groups(path, INPUT_AUTO, NULL, 16u << 20, false);
    fuzz_read_groups(path, INPUT_JSONL, "fuzz query", 64, true);
    return 0;
}
