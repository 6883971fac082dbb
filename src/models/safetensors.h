/* safetensors.h — read-only access to a .safetensors weight file.
 *
 * The file is memory-mapped read-only and treated as untrusted: the header
 * length, the JSON header, every tensor's dtype, shape and byte range are
 * validated (overflow-safe) when the file is opened, before any tensor byte
 * is looked at.  What a model does with the tensors — which names it needs,
 * which shapes and dtypes it accepts, converting them — is left to the model
 * loader (bert.c).
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON mapping
 * tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
 * relative to the data area that follows the header), an optional
 * "__metadata__" object, then the data area. */
#ifndef RERANK_SAFETENSORS_H
#define RERANK_SAFETENSORS_H

#include <stddef.h>

#include "util.h"

/* Every dtype of the safetensors specification, so that files holding
 * tensors a model never reads (an I64 position_ids buffer) still open; a
 * model refuses the ones it cannot use when it asks for them. */
enum st_dtype {
    ST_F32, ST_F16, ST_BF16, ST_F64,
    ST_I8, ST_I16, ST_I32, ST_I64,
    ST_U8, ST_U16, ST_U32, ST_U64,
    ST_BOOL, ST_F8_E4M3, ST_F8_E5M2,
};

#define ST_MAX_DIMS 8

struct st_tensor {
    const char *name;         /* owned by the struct safetensors */
    enum st_dtype dtype;
    int n_dims;
    size_t shape[ST_MAX_DIMS];
    size_t n_elems;           /* product of shape (1 for a scalar) */
    size_t n_bytes;           /* n_elems * element size, validated */
    const void *data;         /* inside the read-only mapping */
};

struct safetensors {
    char *path;               /* for error messages */
    void *map;
    size_t map_len;
    struct st_tensor *tensors;
    size_t n_tensors;
};

/* Maps and validates the file at path into *st.  Returns 0, or -1 with e
 * naming the file (and the tensor, when one is at fault); *st is then empty
 * and need not be closed. */
int safetensors_open(struct safetensors *st, const char *path, struct err *e);

/* The tensor called name, or NULL.  The pointer lives as long as st. */
const struct st_tensor *safetensors_find(const struct safetensors *st,
                                         const char *name);

/* Unmaps and frees everything; st may be zeroed or already closed. */
void safetensors_close(struct safetensors *st);

/* The specification's spelling of a dtype ("F32", "BF16"). */
const char *safetensors_dtype_name(enum st_dtype dt);

/* Bytes per element of a dtype. */
size_t safetensors_dtype_size(enum st_dtype dt);

#endif
