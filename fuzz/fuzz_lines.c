/* fuzz_lines — the plain-line reader of src/input.c (one candidate per
 * line, with --query): line splitting, CR/LF handling, the length limit,
 * NUL and UTF-8 checks.
 *
 * The input is one text file, read with the default limit and stopping at
 * the first bad line, then with --skip-invalid and an 8-byte limit. */
#include "fuzz.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("in.txt", data, size);
    fuzz_read_groups(path, INPUT_LINES, "fuzz query", 16u << 20, false);
    fuzz_read_groups(path, INPUT_LINES, "fuzz query", 8, true);
    return 0;
}
