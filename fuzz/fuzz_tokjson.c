/* fuzz_tokjson — src/tokenizers/tokjson.c's own JSON scanner against
 * jansson (tests/tokjson_diff.h): whatever the text, the split reading
 * must load what jansson loads, fail as jansson fails, and give the same
 * vocabulary. */
#include "fuzz.h"
#include "../tests/tokjson_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizer.json", fuzz_dir());
    const char *why = tokjson_diff(path, data, size);
    if (why) {
        fprintf(stderr, "fuzz_tokjson: %s\n", why);
        abort();
    }
    return 0;
}
