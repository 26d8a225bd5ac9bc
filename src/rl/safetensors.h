/*
 * Checkpoint files in the safetensors format (DESIGN.md decision 8), fp32
 * only, with no Vulkan in sight so the parser can be fuzzed on its own
 * (tests/fuzz/).
 *
 * Layout: an 8-byte little-endian u64 N, then N bytes of JSON header,
 *   {"__metadata__": {"key": "value", ...},
 *    "name": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [b, e]}, ...}
 * padded with spaces so the data starts 8-byte aligned, then the tensors'
 * little-endian fp32 values, row-major, in order and contiguous; offsets
 * count from the start of the data.
 *
 * The loader treats its input as hostile: the JSON is checked strictly
 * (RFC 8259, UTF-8 included), every length, shape and offset is checked
 * against the bytes actually present, the tensors must tile the data
 * section exactly, and memory is only ever allocated in proportion to the
 * input's real size. Anything else is an error with a message that says
 * what was wrong and what was expected.
 *
 * Every function that can fail returns 0, or -1 with a NUL-terminated
 * message in err (when err is non-NULL and errsz > 0; truncated to fit).
 * Nothing here aborts, exits or prints.
 */
#ifndef VKSAC_RL_SAFETENSORS_H
#define VKSAC_RL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define ST_NAME_MAX 127                  /* bytes in a tensor name, NUL excluded */
#define ST_HEADER_MAX 100000000u         /* largest JSON header accepted (bytes) */
#define ST_DEPTH_MAX 32                  /* deepest JSON nesting accepted */

/* A dense row-major rows×cols fp32 tensor. To st_encode/st_save, name and
 * data are the caller's (data may be NULL when rows·cols is 0). From a
 * loaded file they belong to the st_file. A 1-D shape [n] loads as 1×n. */
typedef struct st_tensor {
    const char *name;
    uint32_t rows, cols;
    const float *data;
} st_tensor;

/* One "__metadata__" entry: both strings are UTF-8. */
typedef struct st_meta {
    const char *key, *value;
} st_meta;

typedef struct st_file st_file;

/* Encodes n tensors and nmeta metadata entries (nmeta 0: no
 * "__metadata__") into a malloc'd buffer *out of *len bytes; the caller
 * frees it. Names must be 1..ST_NAME_MAX bytes of UTF-8, distinct and not
 * "__metadata__"; keys distinct; all strings UTF-8. */
int st_encode(const st_tensor *tensors, size_t n, const st_meta *meta, size_t nmeta,
              void **out, size_t *len, char *err, size_t errsz);

/* st_encode, written atomically: to "<path>.tmp.<pid>" in the same
 * directory, synced, renamed over path, and the directory synced, so a
 * crash leaves either the old file or the new one, whole. On failure the
 * temporary file is removed and the message names the file and the
 * system's reason. Concurrent saves to one path from one process are not
 * supported (they share the temporary name). */
int st_save(const char *path, const st_tensor *tensors, size_t n, const st_meta *meta,
            size_t nmeta, char *err, size_t errsz);

/* Bytes that s takes as a JSON string in a header st_encode writes,
 * quotes included (quotes, backslashes and control bytes are escaped, the
 * latter as \u00XX): for callers that bound what they store. */
size_t st_json_len(const char *s);
/* Length of the longest prefix of s[0..n) that is well-formed UTF-8 (n
 * when all of it is): st_encode refuses a name, key or value that is not. */
size_t st_utf8_prefix(const char *s, size_t n);

/* Parses len bytes of a safetensors file into *out (NULL on failure);
 * st_free releases it. The bytes are not referenced afterwards. Messages
 * start with "safetensors: ". */
int st_parse(const void *bytes, size_t len, st_file **out, char *err, size_t errsz);
/* st_parse of a file's contents; messages start with the path. */
int st_load(const char *path, st_file **out, char *err, size_t errsz);
void st_free(st_file *f);

/* Tensors in header order: st_tensor_at(f, i) for i < st_count(f). */
size_t st_count(const st_file *f);
const st_tensor *st_tensor_at(const st_file *f, size_t i);
/* The tensor called name, or NULL. */
const st_tensor *st_find(const st_file *f, const char *name);

/* Metadata entries in header order, and lookup by key (NULL if absent). */
size_t st_meta_count(const st_file *f);
const st_meta *st_meta_at(const st_file *f, size_t i);
const char *st_meta_get(const st_file *f, const char *key);

/* For loaders of known networks: *data gets the values of tensor `name`
 * if it is rows×cols, otherwise an error such as "tensor 'x' is missing"
 * or "tensor 'x' has shape [3, 4], expected [3, 5]". */
int st_expect(const st_file *f, const char *name, uint32_t rows, uint32_t cols,
              const float **data, char *err, size_t errsz);

#endif
