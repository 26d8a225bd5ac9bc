/* Passes 2 and 3 over a safetensors header that pass 1 found to be JSON:
 * the schema of each entry, then names and the data layout. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "rl/safetensors_impl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- pass 2: the schema ------------------------------------------------- */

/* Decodes the string at ps->p into the file's string space; *s is
 * NUL-terminated and *n its length (a NUL inside shows as strlen < n).
 * keep: 0 lets the next string reuse the space. */
static int read_string(parser *ps, int keep, const char **s, size_t *n)
{
    char *dst = ps->f->strings + ps->arena_used;
    if (sti_lex_string(ps, dst, ps->arena_cap - ps->arena_used - 1, n))
        return -1;
    dst[*n] = 0;
    if (keep)
        ps->arena_used += *n + 1;
    *s = dst;
    return 0;
}

/* Reads one entry of a list of non-negative integers ("shape entry 1"). */
static int read_uint(parser *ps, const char *tname, const char *what, size_t i, uint64_t *v)
{
    number num;
    int c = sti_peek(ps);
    if (c != '-' && !sti_is_digit(c))
        return sti_pfail(ps, "tensor '%s': %s entry %zu must be a non-negative integer, found %s", tname, what, i,
                         sti_kind(c));
    if (sti_lex_number(ps, &num))
        return -1;
    int len = num.len > 40 ? 40 : (int)num.len;
    if (!num.is_uint)
        return sti_pfail(ps, "tensor '%s': %s entry %zu must be a non-negative integer, found %.*s%s", tname, what, i,
                         len, (const char *)num.text, len < (int)num.len ? "..." : "");
    if (num.overflow)
        return sti_pfail(ps, "tensor '%s': %s entry %zu (%.*s%s) does not fit in 64 bits", tname, what, i, len,
                         (const char *)num.text, len < (int)num.len ? "..." : "");
    *v = num.value;
    return 0;
}

/* A list of at most max non-negative integers; *count gets its length. */
static int read_uint_list(parser *ps, const char *tname, const char *what, const char *expected, uint64_t *v,
                          size_t max, size_t *count)
{
    *count = 0;
    if (sti_peek(ps) != '[')
        return sti_pfail(ps, "tensor '%s': %s must be a list of integers (%s), found %s", tname, what, expected,
                         sti_kind(sti_peek(ps)));
    ps->p++;
    sti_skip_ws(ps);
    if (sti_peek(ps) == ']') {
        ps->p++;
        return 0;
    }
    for (;;) {
        if (*count == max)
            return sti_pfail(ps, "tensor '%s': %s has more than %zu entries; expected %s", tname, what, max, expected);
        if (read_uint(ps, tname, what, *count, &v[*count]))
            return -1;
        ++*count;
        sti_skip_ws(ps);
        if (sti_peek(ps) == ']') {
            ps->p++;
            return 0;
        }
        if (sti_expect_char(ps, ',', "',' or ']' in a list"))
            return -1;
    }
}

static int read_dtype(parser *ps, const char *tname)
{
    const char *s;
    size_t n;
    char buf[SHOW_CAP];
    if (sti_peek(ps) != '"')
        return sti_pfail(ps, "tensor '%s': dtype must be a string, found %s", tname, sti_kind(sti_peek(ps)));
    if (read_string(ps, 0, &s, &n))
        return -1;
    if (n != 3 || memcmp(s, "F32", 3) != 0)
        return sti_pfail(ps, "tensor '%s': dtype is \"%s\"; only \"F32\" is supported", tname,
                         sti_show(s, n, buf, sizeof buf));
    return 0;
}

/* rows, cols from the shape list, checked so rows·cols·4 fits in 64 bits
 * and each dimension in 32. */
static int check_shape(parser *ps, const char *tname, const uint64_t *dim, size_t ndim, st_tensor *t)
{
    if (ndim == 0)
        return sti_pfail(ps, "tensor '%s': shape is [], a scalar; expected 1 or 2 dimensions", tname);
    uint64_t rows = ndim == 2 ? dim[0] : 1, cols = dim[ndim - 1];
    if (cols && rows > UINT64_MAX / 4 / cols)
        return sti_pfail(ps, "tensor '%s': shape [%" PRIu64 ", %" PRIu64 "] has too many elements (its size in bytes "
                         "overflows 64 bits)", tname, rows, cols);
    if (rows > UINT32_MAX || cols > UINT32_MAX)
        return sti_pfail(ps, "tensor '%s': dimension %" PRIu64 " is larger than the limit of %" PRIu32, tname,
                         rows > UINT32_MAX ? rows : cols, UINT32_MAX);
    t->rows = (uint32_t)rows;
    t->cols = (uint32_t)cols;
    return 0;
}

static int check_offsets(parser *ps, const char *tname, const st_tensor *t, const uint64_t *off, size_t n)
{
    if (n != 2)
        return sti_pfail(ps, "tensor '%s': data_offsets has %zu entries; expected [begin, end]", tname, n);
    uint64_t bytes = (uint64_t)t->rows * t->cols * 4;
    if (off[0] > off[1])
        return sti_pfail(ps, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] has begin after end", tname, off[0],
                         off[1]);
    if (off[1] > ps->data_len)
        return sti_pfail(ps, "tensor '%s': data_offsets end %" PRIu64 " is beyond the data section's %" PRIu64 " bytes",
                         tname, off[1], ps->data_len);
    if (off[1] - off[0] != bytes)
        return sti_pfail(ps, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] span %" PRIu64 " bytes; expected %"
                         PRIu64 " (4 bytes for each of %" PRIu32 "x%" PRIu32 " F32 values)", tname, off[0], off[1],
                         off[1] - off[0], bytes, t->rows, t->cols);
    return 0;
}

enum { KEY_DTYPE = 1, KEY_SHAPE = 2, KEY_OFFSETS = 4 };
static const char *const key_names[] = {"dtype", "shape", "data_offsets"};

static int tensor_key(parser *ps, const char *tname, int seen, int *which)
{
    const char *key;
    size_t n;
    char buf[SHOW_CAP];
    if (read_string(ps, 0, &key, &n) || sti_expect_char(ps, ':', "':' after an object key"))
        return -1;
    for (int i = 0; i < 3; i++) {
        if (n == strlen(key_names[i]) && memcmp(key, key_names[i], n) == 0) {
            *which = 1 << i;
            if (seen & *which)
                return sti_pfail(ps, "tensor '%s': key '%s' appears twice", tname, key_names[i]);
            return 0;
        }
    }
    return sti_pfail(ps, "tensor '%s': unknown key '%s'; expected only dtype, shape and data_offsets", tname,
                     sti_show(key, n, buf, sizeof buf));
}

/* The members of one tensor's object, checked and complete. */
static int tensor_members(parser *ps, const char *tname, st_tensor *t, uint64_t off[2], size_t *noff)
{
    uint64_t dim[2];
    size_t ndim = 0;
    int seen = 0, which = 0;
    while (sti_peek(ps) == '"') {
        if (tensor_key(ps, tname, seen, &which))
            return -1;
        seen |= which;
        if (which == KEY_DTYPE && read_dtype(ps, tname))
            return -1;
        if (which == KEY_SHAPE &&
            read_uint_list(ps, tname, "shape", "1 or 2 dimensions", dim, 2, &ndim))
            return -1;
        if (which == KEY_OFFSETS &&
            read_uint_list(ps, tname, "data_offsets", "[begin, end]", off, 2, noff))
            return -1;
        sti_skip_comma(ps);
    }
    if (sti_expect_char(ps, '}', "'}'"))
        return -1;
    for (int i = 0; i < 3; i++)
        if (!(seen & 1 << i))
            return sti_pfail(ps, "tensor '%s': missing key '%s'", tname, key_names[i]);
    return check_shape(ps, tname, dim, ndim, t);
}

static int read_tensor(parser *ps, const char *name, size_t n)
{
    char tname[SHOW_CAP];
    sti_show(name, n, tname, sizeof tname);
    if (n == 0)
        return sti_pfail(ps, "a tensor name is empty");
    if (strlen(name) != n)
        return sti_pfail(ps, "tensor '%s': name contains a NUL character (\\u0000)", tname);
    if (n > ST_NAME_MAX)
        return sti_pfail(ps, "tensor '%s': name is %zu bytes; the limit is %d", tname, n, ST_NAME_MAX);
    if (sti_peek(ps) != '{')
        return sti_pfail(ps, "tensor '%s': entry must be an object with dtype, shape and data_offsets, found %s",
                         tname, sti_kind(sti_peek(ps)));
    ps->p++;
    sti_skip_ws(ps);
    st_file *f = ps->f;
    st_tensor *tensors = sti_grow(f->tensor, &f->cap, f->count + 1, sizeof *f->tensor);
    if (tensors)
        f->tensor = tensors;
    span *spans = sti_grow(f->span, &f->span_cap, f->count + 1, sizeof *f->span);
    if (spans)
        f->span = spans;
    if (!tensors || !spans)
        return sti_pfail(ps, "out of memory for %zu tensors", f->count + 1);
    st_tensor *t = &f->tensor[f->count];
    *t = (st_tensor){.name = name};
    uint64_t off[2];
    size_t noff = 0;
    if (tensor_members(ps, tname, t, off, &noff) || check_offsets(ps, tname, t, off, noff))
        return -1;
    f->span[f->count] = (span){off[0], off[1], f->count};
    f->count++;
    return 0;
}

static int read_meta(parser *ps)
{
    st_file *f = ps->f;
    char kbuf[SHOW_CAP];
    if (sti_peek(ps) != '{')
        return sti_pfail(ps, "__metadata__ must be an object of strings, found %s", sti_kind(sti_peek(ps)));
    ps->p++;
    sti_skip_ws(ps);
    while (sti_peek(ps) == '"') {
        const char *key, *value;
        size_t nk, nv;
        if (read_string(ps, 1, &key, &nk) || sti_expect_char(ps, ':', "':' after an object key"))
            return -1;
        sti_show(key, nk, kbuf, sizeof kbuf);
        if (strlen(key) != nk)
            return sti_pfail(ps, "__metadata__ key '%s' contains a NUL character (\\u0000)", kbuf);
        if (sti_peek(ps) != '"')
            return sti_pfail(ps, "__metadata__ value for key '%s' must be a string, found %s", kbuf,
                             sti_kind(sti_peek(ps)));
        if (read_string(ps, 1, &value, &nv))
            return -1;
        if (strlen(value) != nv)
            return sti_pfail(ps, "__metadata__ value for key '%s' contains a NUL character (\\u0000)", kbuf);
        st_meta *m = sti_grow(f->meta, &f->meta_cap, f->nmeta + 1, sizeof *f->meta);
        if (!m)
            return sti_pfail(ps, "out of memory for %zu metadata entries", f->nmeta + 1);
        f->meta = m;
        f->meta[f->nmeta++] = (st_meta){key, value};
        sti_skip_comma(ps);
    }
    return sti_expect_char(ps, '}', "'}'");
}

/* The top-level object: "__metadata__" once, every other key a tensor. */
static int read_header(parser *ps)
{
    int have_meta = 0;
    ps->p = ps->start;
    sti_skip_ws(ps);
    if (sti_peek(ps) != '{')
        return sti_pfail(ps, "header must be a JSON object, found %s", sti_kind(sti_peek(ps)));
    ps->p++;
    sti_skip_ws(ps);
    while (sti_peek(ps) == '"') {
        const char *key;
        size_t n;
        if (read_string(ps, 1, &key, &n) || sti_expect_char(ps, ':', "':' after an object key"))
            return -1;
        if (n == 12 && memcmp(key, "__metadata__", 12) == 0) {
            if (have_meta++)
                return sti_pfail(ps, "key '__metadata__' appears twice");
            if (read_meta(ps))
                return -1;
        } else if (read_tensor(ps, key, n)) {
            return -1;
        }
        sti_skip_comma(ps);
    }
    return sti_expect_char(ps, '}', "'}'");
}

/* ---- pass 3: names and layout ------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The first of two equal strings among n, or NULL; -1 only without memory. */
static int find_duplicate(const char **s, size_t n, const char **dup)
{
    *dup = NULL;
    if (n < 2)
        return 0;
    const char **sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return -1;
    memcpy(sorted, s, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_str);
    for (size_t i = 1; i < n && !*dup; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0)
            *dup = sorted[i];
    free(sorted);
    return 0;
}

static int check_names(parser *ps)
{
    st_file *f = ps->f;
    size_t n = f->count > f->nmeta ? f->count : f->nmeta;
    const char **s = malloc((n ? n : 1) * sizeof *s), *dup = NULL, *mdup = NULL;
    char buf[SHOW_CAP];
    if (!s)
        return sti_pfail(ps, "out of memory checking %zu names", n);
    for (size_t i = 0; i < f->count; i++)
        s[i] = f->tensor[i].name;
    int rc = find_duplicate(s, f->count, &dup);
    for (size_t i = 0; rc == 0 && i < f->nmeta; i++)
        s[i] = f->meta[i].key;
    if (rc == 0)
        rc = find_duplicate(s, f->nmeta, &mdup);
    free(s);
    if (rc)
        return sti_pfail(ps, "out of memory checking %zu names", n);
    if (dup)
        return sti_pfail(ps, "duplicate tensor name '%s'", sti_show(dup, strlen(dup), buf, sizeof buf));
    if (mdup)
        return sti_pfail(ps, "__metadata__ has duplicate key '%s'", sti_show(mdup, strlen(mdup), buf, sizeof buf));
    return 0;
}

static int cmp_span(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The tensors must cover the data section exactly: no overlap, no gap, no
 * trailing bytes (as the reference implementation requires). Sorted by
 * begin, any overlap shows between neighbours. */
static int check_layout(parser *ps)
{
    st_file *f = ps->f;
    char a[SHOW_CAP], b[SHOW_CAP];
    if (f->count > 1)
        qsort(f->span, f->count, sizeof *f->span, cmp_span);
    for (size_t i = 1; i < f->count; i++) {
        const span *p = &f->span[i - 1], *s = &f->span[i];
        if (s->begin < p->end) {
            const char *pn = f->tensor[p->index].name, *sn = f->tensor[s->index].name;
            return sti_pfail(ps, "tensors '%s' and '%s' overlap: data_offsets [%" PRIu64 ", %" PRIu64 "] and [%"
                             PRIu64 ", %" PRIu64 "]", sti_show(pn, strlen(pn), a, sizeof a),
                             sti_show(sn, strlen(sn), b, sizeof b), p->begin, p->end, s->begin, s->end);
        }
    }
    uint64_t at = 0;
    for (size_t i = 0; i <= f->count; i++) {
        uint64_t next = i < f->count ? f->span[i].begin : ps->data_len;
        if (next != at)
            return sti_pfail(ps, "bytes [%" PRIu64 ", %" PRIu64 ") of the %" PRIu64 "-byte data section belong to "
                             "no tensor; tensors must cover it exactly", at, next, ps->data_len);
        if (i < f->count)
            at = f->span[i].end;
    }
    return 0;
}

static int copy_data(parser *ps, const unsigned char *data)
{
    st_file *f = ps->f;
    size_t n = (size_t)ps->data_len / 4;
    f->data = malloc(n ? n * sizeof *f->data : sizeof *f->data);
    if (!f->data)
        return sti_pfail(ps, "out of memory for %zu bytes of tensor data", (size_t)ps->data_len);
    sti_copy_le32(f->data, data, n);
    for (size_t i = 0; i < f->count; i++)
        f->tensor[f->span[i].index].data = f->data + f->span[i].begin / 4;
    return 0;
}

int sti_parse_file(const unsigned char *b, size_t len, const char *who, st_file **out, char *err,
                   size_t errsz)
{
    if (len < 8)
        return sti_fail(err, errsz, who, "file is %zu bytes, shorter than the 8-byte header length at its start", len);
    uint64_t hlen = sti_get_u64le(b);
    if (hlen > ST_HEADER_MAX)
        return sti_fail(err, errsz, who, "header length %" PRIu64 " exceeds the limit of %u bytes", hlen,
                        ST_HEADER_MAX);
    if (hlen > len - 8)
        return sti_fail(err, errsz, who, "header length %" PRIu64 " exceeds the %zu bytes after the length field "
                        "(truncated file?)", hlen, len - 8);
    parser ps = {.start = b + 8, .end = b + 8 + hlen, .data_len = len - 8 - hlen, .who = who,
                 .err = err, .errsz = errsz, .arena_cap = (size_t)hlen + 1};
    if (sti_check_json(&ps))
        return -1;
    ps.f = calloc(1, sizeof *ps.f);
    if (!ps.f || !(ps.f->strings = malloc(ps.arena_cap))) {
        st_free(ps.f);
        return sti_fail(err, errsz, who, "out of memory for a %" PRIu64 "-byte header", hlen);
    }
    if (read_header(&ps) || check_names(&ps) || check_layout(&ps) || copy_data(&ps, ps.end)) {
        st_free(ps.f);
        return -1;
    }
    *out = ps.f;
    return 0;
}
