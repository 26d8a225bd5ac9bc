/* libFuzzer target for the safetensors parser (src/rl/safetensors*.c):
 * scripts/fuzz.sh builds and runs it.
 *
 * Besides "no crash, no overread, no leak, no UB" (the sanitizers), it
 * checks two properties on every input: a rejected input has a message,
 * and an accepted one re-encodes with st_encode to a file that parses to
 * the same tensors (names, shapes, data bits) and metadata, which is found
 * again by st_find and st_meta_get. A violation traps, so libFuzzer keeps
 * the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rl/safetensors.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static void same_file(const st_file *a, const st_file *b)
{
    CHECK(st_count(a) == st_count(b) && st_meta_count(a) == st_meta_count(b));
    for (size_t i = 0; i < st_count(a); i++) {
        const st_tensor *x = st_tensor_at(a, i), *y = st_tensor_at(b, i);
        CHECK(strcmp(x->name, y->name) == 0 && x->rows == y->rows && x->cols == y->cols);
        CHECK(memcmp(x->data, y->data, (size_t)x->rows * x->cols * sizeof(float)) == 0);
        CHECK(st_find(a, x->name) == x);
    }
    for (size_t i = 0; i < st_meta_count(a); i++) {
        const st_meta *x = st_meta_at(a, i), *y = st_meta_at(b, i);
        CHECK(strcmp(x->key, y->key) == 0 && strcmp(x->value, y->value) == 0);
        CHECK(st_meta_get(a, x->key) == x->value);
    }
}

static void reencode(const st_file *f)
{
    size_t n = st_count(f), nm = st_meta_count(f), len;
    st_tensor *t = malloc((n ? n : 1) * sizeof *t);
    st_meta *m = malloc((nm ? nm : 1) * sizeof *m);
    CHECK(t && m);
    for (size_t i = 0; i < n; i++)
        t[i] = *st_tensor_at(f, i);
    for (size_t i = 0; i < nm; i++)
        m[i] = *st_meta_at(f, i);
    void *buf;
    st_file *g = NULL;
    char err[256] = "";
    CHECK(st_encode(t, n, m, nm, &buf, &len, err, sizeof err) == 0);
    CHECK(st_parse(buf, len, &g, err, sizeof err) == 0);
    same_file(f, g);
    st_free(g);
    free(buf);
    free(m);
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_file *f = NULL;
    char err[256] = "";
    if (st_parse(data, size, &f, err, sizeof err) != 0) {
        CHECK(f == NULL && strlen(err) > 12);
        return 0;
    }
    reencode(f);
    st_free(f);
    return 0;
}
