/* fuzz_safetensors — opening a .safetensors weight file
 * (src/models/safetensors.c): the 8-byte header length, the JSON header, every
 * tensor's dtype, shape and data offsets (overflow-safe), overlaps and the
 * data area's bounds.  The input is the whole file.  Every tensor that
 * opens is checked to lie inside the mapping, to be found by its name, and
 * read byte by byte. */
#include "fuzz.h"
#include "models/safetensors.h"

volatile unsigned fuzz_sink; /* every tensor byte is read into it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("model.safetensors", data, size);
    struct safetensors st;
    struct err e;
    if (safetensors_open(&st, path, &e) < 0) {
        if (!e.msg[0])
            abort();
        return 0;
    }
    const unsigned char *lo = st.map, *hi = lo + st.map_len;
    unsigned sum = 0;
    for (size_t i = 0; i < st.n_tensors; i++) {
        const struct st_tensor *t = &st.tensors[i];
        const unsigned char *p = t->data;
        if (t->n_dims < 0 || t->n_dims > ST_MAX_DIMS ||
            t->n_bytes != t->n_elems * safetensors_dtype_size(t->dtype) ||
            (t->n_bytes && (p < lo + 8 || p > hi || t->n_bytes > (size_t)(hi - p))) ||
            safetensors_find(&st, t->name) != t || !safetensors_dtype_name(t->dtype))
            abort();
        for (size_t k = 0; k < t->n_bytes; k++)
            sum += p[k];
    }
    fuzz_sink = sum;
    safetensors_close(&st);
    return 0;
}
