/* The safetensors checkpoint format (safetensors.h): a strict JSON reader
 * for the header, its schema, the layout checks, the writer and the atomic
 * save. Only libc and POSIX, so tests/fuzz/ can compile this file alone. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "rl/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where each tensor's bytes lie in the data section; index is its place in
 * the header, kept while the spans are sorted by offset. */
typedef struct span {
    uint64_t begin, end;
    size_t index;
} span;

struct st_file {
    st_tensor *tensor;
    span *span;
    size_t count, cap, span_cap;
    st_meta *meta;
    size_t nmeta, meta_cap;
    char *strings;   /* every kept string, decoded and NUL-terminated */
    float *data;     /* the whole data section, in host byte order */
};

/* ---- errors ------------------------------------------------------------ */

static int vfail(char *err, size_t errsz, const char *who, const char *fmt, va_list ap)
{
    if (!err || errsz == 0)
        return -1;
    int n = snprintf(err, errsz, "%s: ", who);
    if (n >= 0 && (size_t)n < errsz)
        vsnprintf(err + n, errsz - (size_t)n, fmt, ap);
    return -1;
}

static int fail(char *err, size_t errsz, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(err, errsz, who, fmt, ap);
    va_end(ap);
    return -1;
}

/* strerror is not thread-safe; this is the XSI strerror_r. */
static const char *sys_err(int e, char *buf, size_t cap)
{
    if (strerror_r(e, buf, cap) != 0)
        snprintf(buf, cap, "error %d", e);
    return buf;
}

/* A string fit for a message: control bytes become '?', and long ones are
 * cut (at a UTF-8 boundary) with "...". Names come from hostile files. */
static const char *show(const char *s, size_t n, char *buf, size_t cap)
{
    size_t keep = n < cap - 4 ? n : cap - 4;
    while (keep < n && keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
        keep--;
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
    }
    strcpy(buf + keep, keep < n ? "..." : "");
    return buf;
}

#define SHOW_CAP 52

/* ---- bytes --------------------------------------------------------------- */

static int host_is_le(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static uint64_t get_u64le(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

static void put_u64le(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t bswap32(uint32_t v)
{
    return v >> 24 | (v >> 8 & 0xFF00u) | (v << 8 & 0xFF0000u) | v << 24;
}

/* Copies n fp32 values between host order and little-endian (the same
 * operation both ways). */
static void copy_le32(void *dst, const void *src, size_t n)
{
    if (host_is_le()) {
        memcpy(dst, src, n * 4);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t v;
        memcpy(&v, (const unsigned char *)src + 4 * i, 4);
        v = bswap32(v);
        memcpy((unsigned char *)dst + 4 * i, &v, 4);
    }
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0], lo = 0x80, hi = 0xBF;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

static int utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        size_t m = utf8_seq(p, end);
        if (!m)
            return 0;
        p += m;
    }
    return 1;
}

static size_t utf8_put(unsigned char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- JSON lexer ---------------------------------------------------------- */

typedef struct parser {
    const unsigned char *start, *p, *end;  /* the header */
    uint64_t data_len;                     /* bytes after the header */
    const char *who;                       /* message prefix */
    char *err;
    size_t errsz;
    st_file *f;
    size_t arena_used, arena_cap;
} parser;

typedef struct number {
    const unsigned char *text;
    size_t len;
    uint64_t value;
    int is_uint;   /* no '-', fraction or exponent */
    int overflow;  /* is_uint, but above UINT64_MAX */
} number;

static int pfail(parser *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(ps->err, ps->errsz, ps->who, fmt, ap);
    va_end(ap);
    return -1;
}

/* A syntax error at `at`: says where, counting from the header's start. */
static int jfail(parser *ps, const unsigned char *at, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pfail(ps, "header is not valid JSON: %s at header byte %zu", msg, (size_t)(at - ps->start));
}

static int peek(const parser *ps)
{
    return ps->p < ps->end ? *ps->p : -1;
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Past the ',' between members, if there is one (pass 1 checked the
 * syntax already). */
static void skip_comma(parser *ps)
{
    skip_ws(ps);
    if (peek(ps) == ',') {
        ps->p++;
        skip_ws(ps);
    }
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* What the value starting with c is, for schema messages. */
static const char *kind(int c)
{
    switch (c) {
    case '{': return "an object";
    case '[': return "a list";
    case '"': return "a string";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    case -1: return "the end of the header";
    default: return c == '-' || is_digit(c) ? "a number" : "something else";
    }
}

static int unexpected(parser *ps, const char *expected)
{
    int c = peek(ps);
    if (c < 0)
        return jfail(ps, ps->p, "expected %s, found the end of the header", expected);
    if (c >= 0x20 && c < 0x7F)
        return jfail(ps, ps->p, "expected %s, found '%c'", expected, c);
    return jfail(ps, ps->p, "expected %s, found byte 0x%02x", expected, (unsigned)c);
}

static int expect_char(parser *ps, int c, const char *expected)
{
    skip_ws(ps);
    if (peek(ps) != c)
        return unexpected(ps, expected);
    ps->p++;
    skip_ws(ps);
    return 0;
}

static int hex4(parser *ps, const unsigned char *p, uint32_t *v)
{
    if (ps->end - p < 4)
        return jfail(ps, p, "\\u needs four hex digits");
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d = is_digit(c) ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
        if (d < 0)
            return jfail(ps, p, "\\u needs four hex digits");
        *v = *v << 4 | (uint32_t)d;
    }
    return 0;
}

/* \uXXXX at *pp (pointing at the backslash), a surrogate pair taken whole. */
static int lex_unicode(parser *ps, const unsigned char **pp, uint32_t *cp)
{
    const unsigned char *p = *pp;
    uint32_t lo = 0;
    if (hex4(ps, p + 2, cp))
        return -1;
    p += 6;
    if (*cp >= 0xDC00 && *cp <= 0xDFFF)
        return jfail(ps, *pp, "unpaired low surrogate \\u%04X", (unsigned)*cp);
    if (*cp >= 0xD800 && *cp <= 0xDBFF) {
        if (ps->end - p < 2 || p[0] != '\\' || p[1] != 'u' || hex4(ps, p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
            return jfail(ps, *pp, "high surrogate \\u%04X not followed by a low surrogate", (unsigned)*cp);
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
        p += 6;
    }
    *pp = p;
    return 0;
}

/* The escape at *pp (a backslash) decoded into out[0..*m). */
static int lex_escape(parser *ps, const unsigned char **pp, unsigned char *out, size_t *m)
{
    const unsigned char *p = *pp;
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (ps->end - p < 2)
        return jfail(ps, p, "unterminated string");
    const char *hit = p[1] ? strchr(from, p[1]) : NULL;
    if (hit) {
        out[0] = (unsigned char)to[hit - from];
        *m = 1;
        *pp = p + 2;
        return 0;
    }
    if (p[1] != 'u') {
        if (p[1] >= 0x20 && p[1] < 0x7F)
            return jfail(ps, p, "invalid escape '\\%c'", p[1]);
        return jfail(ps, p, "invalid escape (byte 0x%02x after '\\')", (unsigned)p[1]);
    }
    uint32_t cp = 0;
    if (lex_unicode(ps, pp, &cp))
        return -1;
    *m = utf8_put(out, cp);
    return 0;
}

/* Decodes the string at ps->p (a '"') into dst, at most cap bytes (dst NULL:
 * check only), and sets *n to its decoded length. It may hold NUL bytes. */
static int lex_string(parser *ps, char *dst, size_t cap, size_t *n)
{
    const unsigned char *p = ps->p + 1;
    size_t k = 0;
    for (;;) {
        unsigned char buf[4];
        size_t m = 0;
        if (p >= ps->end)
            return jfail(ps, p, "unterminated string");
        if (*p == '"')
            break;
        if (*p == '\\') {
            if (lex_escape(ps, &p, buf, &m))
                return -1;
        } else if (*p < 0x20) {
            return jfail(ps, p, "control character 0x%02x in a string (it must be escaped)", (unsigned)*p);
        } else {
            m = utf8_seq(p, ps->end);
            if (!m)
                return jfail(ps, p, "invalid UTF-8 in a string");
            memcpy(buf, p, m);
            p += m;
        }
        if (dst && k + m > cap)
            return pfail(ps, "internal error: string space exhausted");
        if (dst)
            memcpy(dst + k, buf, m);
        k += m;
    }
    ps->p = p + 1;
    *n = k;
    return 0;
}

static void digits(parser *ps, number *num)
{
    while (ps->p < ps->end && is_digit(*ps->p)) {
        unsigned d = *ps->p++ - '0';
        if (num->value > (UINT64_MAX - d) / 10)
            num->overflow = 1;
        num->value = num->value * 10 + d;
    }
}

/* A JSON number (RFC 8259 grammar: no '+', no leading zeros, digits on
 * both sides of '.'), and its value when it is a plain non-negative
 * integer. */
static int lex_number(parser *ps, number *num)
{
    *num = (number){.text = ps->p};
    num->is_uint = peek(ps) != '-';
    if (!num->is_uint)
        ps->p++;
    if (!is_digit(peek(ps)))
        return unexpected(ps, "a digit");
    if (*ps->p == '0' && ps->p + 1 < ps->end && is_digit(ps->p[1]))
        return jfail(ps, ps->p, "leading zero in a number");
    digits(ps, num);
    if (peek(ps) == '.') {
        ps->p++;
        num->is_uint = 0;
        if (!is_digit(peek(ps)))
            return unexpected(ps, "a digit after '.'");
        while (is_digit(peek(ps)))
            ps->p++;
    }
    if (peek(ps) == 'e' || peek(ps) == 'E') {
        ps->p++;
        num->is_uint = 0;
        if (peek(ps) == '+' || peek(ps) == '-')
            ps->p++;
        if (!is_digit(peek(ps)))
            return unexpected(ps, "a digit in the exponent");
        while (is_digit(peek(ps)))
            ps->p++;
    }
    num->len = (size_t)(ps->p - num->text);
    num->overflow &= num->is_uint;
    return 0;
}

static int lex_literal(parser *ps)
{
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, words[i], n) == 0) {
            ps->p += n;
            return 0;
        }
    }
    return unexpected(ps, "a value");
}

/* ---- pass 1: the header is strict JSON ----------------------------------- */

static int check_value(parser *ps, int depth);

static int check_members(parser *ps, int depth, int object)
{
    int close = object ? '}' : ']';
    ps->p++;
    skip_ws(ps);
    if (peek(ps) == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        size_t n;
        if (object && peek(ps) != '"')
            return unexpected(ps, "a string key");
        if (object && (lex_string(ps, NULL, 0, &n) || expect_char(ps, ':', "':' after an object key")))
            return -1;
        if (check_value(ps, depth + 1))
            return -1;
        skip_ws(ps);
        if (peek(ps) == close) {
            ps->p++;
            return 0;
        }
        if (expect_char(ps, ',', object ? "',' or '}' in an object" : "',' or ']' in a list"))
            return -1;
    }
}

static int check_value(parser *ps, int depth)
{
    number num;
    size_t n;
    int c = peek(ps);
    if (depth > ST_DEPTH_MAX && (c == '{' || c == '['))
        return jfail(ps, ps->p, "nested deeper than %d levels", ST_DEPTH_MAX);
    if (c == '{' || c == '[')
        return check_members(ps, depth, c == '{');
    if (c == '"')
        return lex_string(ps, NULL, 0, &n);
    if (c == '-' || is_digit(c))
        return lex_number(ps, &num);
    return lex_literal(ps);
}

static int check_json(parser *ps)
{
    ps->p = ps->start;
    skip_ws(ps);
    if (check_value(ps, 1))
        return -1;
    skip_ws(ps);
    if (ps->p != ps->end)
        return jfail(ps, ps->p, "trailing characters after the top-level value");
    return 0;
}

/* ---- pass 2: the schema ------------------------------------------------- */

/* Decodes the string at ps->p into the file's string space; *s is
 * NUL-terminated and *n its length (a NUL inside shows as strlen < n).
 * keep: 0 lets the next string reuse the space. */
static int read_string(parser *ps, int keep, const char **s, size_t *n)
{
    char *dst = ps->f->strings + ps->arena_used;
    if (lex_string(ps, dst, ps->arena_cap - ps->arena_used - 1, n))
        return -1;
    dst[*n] = 0;
    if (keep)
        ps->arena_used += *n + 1;
    *s = dst;
    return 0;
}

/* p with room for need elements (doubling), or NULL, p left as it was. */
static void *grow(void *p, size_t *cap, size_t need, size_t elsz)
{
    if (need <= *cap)
        return p;
    size_t cap2 = *cap ? *cap * 2 : 16;
    if (cap2 < need)
        cap2 = need;
    void *q = cap2 > SIZE_MAX / elsz ? NULL : realloc(p, cap2 * elsz);
    if (q)
        *cap = cap2;
    return q;
}

/* Reads one entry of a list of non-negative integers ("shape entry 1"). */
static int read_uint(parser *ps, const char *tname, const char *what, size_t i, uint64_t *v)
{
    number num;
    int c = peek(ps);
    if (c != '-' && !is_digit(c))
        return pfail(ps, "tensor '%s': %s entry %zu must be a non-negative integer, found %s", tname, what, i,
                     kind(c));
    if (lex_number(ps, &num))
        return -1;
    int len = num.len > 40 ? 40 : (int)num.len;
    if (!num.is_uint)
        return pfail(ps, "tensor '%s': %s entry %zu must be a non-negative integer, found %.*s%s", tname, what, i,
                     len, (const char *)num.text, len < (int)num.len ? "..." : "");
    if (num.overflow)
        return pfail(ps, "tensor '%s': %s entry %zu (%.*s%s) does not fit in 64 bits", tname, what, i, len,
                     (const char *)num.text, len < (int)num.len ? "..." : "");
    *v = num.value;
    return 0;
}

/* A list of at most max non-negative integers; *count gets its length. */
static int read_uint_list(parser *ps, const char *tname, const char *what, const char *expected, uint64_t *v,
                          size_t max, size_t *count)
{
    *count = 0;
    if (peek(ps) != '[')
        return pfail(ps, "tensor '%s': %s must be a list of integers (%s), found %s", tname, what, expected,
                     kind(peek(ps)));
    ps->p++;
    skip_ws(ps);
    if (peek(ps) == ']') {
        ps->p++;
        return 0;
    }
    for (;;) {
        if (*count == max)
            return pfail(ps, "tensor '%s': %s has more than %zu entries; expected %s", tname, what, max, expected);
        if (read_uint(ps, tname, what, *count, &v[*count]))
            return -1;
        ++*count;
        skip_ws(ps);
        if (peek(ps) == ']') {
            ps->p++;
            return 0;
        }
        if (expect_char(ps, ',', "',' or ']' in a list"))
            return -1;
    }
}

static int read_dtype(parser *ps, const char *tname)
{
    const char *s;
    size_t n;
    char buf[SHOW_CAP];
    if (peek(ps) != '"')
        return pfail(ps, "tensor '%s': dtype must be a string, found %s", tname, kind(peek(ps)));
    if (read_string(ps, 0, &s, &n))
        return -1;
    if (n != 3 || memcmp(s, "F32", 3) != 0)
        return pfail(ps, "tensor '%s': dtype is \"%s\"; only \"F32\" is supported", tname, show(s, n, buf, sizeof buf));
    return 0;
}

/* rows, cols from the shape list, checked so rows·cols·4 fits in 64 bits
 * and each dimension in 32. */
static int check_shape(parser *ps, const char *tname, const uint64_t *dim, size_t ndim, st_tensor *t)
{
    if (ndim == 0)
        return pfail(ps, "tensor '%s': shape is [], a scalar; expected 1 or 2 dimensions", tname);
    uint64_t rows = ndim == 2 ? dim[0] : 1, cols = dim[ndim - 1];
    if (cols && rows > UINT64_MAX / 4 / cols)
        return pfail(ps, "tensor '%s': shape [%" PRIu64 ", %" PRIu64 "] has too many elements (its size in bytes "
                     "overflows 64 bits)", tname, rows, cols);
    if (rows > UINT32_MAX || cols > UINT32_MAX)
        return pfail(ps, "tensor '%s': dimension %" PRIu64 " is larger than the limit of %" PRIu32, tname,
                     rows > UINT32_MAX ? rows : cols, UINT32_MAX);
    t->rows = (uint32_t)rows;
    t->cols = (uint32_t)cols;
    return 0;
}

static int check_offsets(parser *ps, const char *tname, const st_tensor *t, const uint64_t *off, size_t n)
{
    if (n != 2)
        return pfail(ps, "tensor '%s': data_offsets has %zu entries; expected [begin, end]", tname, n);
    uint64_t bytes = (uint64_t)t->rows * t->cols * 4;
    if (off[0] > off[1])
        return pfail(ps, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] has begin after end", tname, off[0],
                     off[1]);
    if (off[1] > ps->data_len)
        return pfail(ps, "tensor '%s': data_offsets end %" PRIu64 " is beyond the data section's %" PRIu64 " bytes",
                     tname, off[1], ps->data_len);
    if (off[1] - off[0] != bytes)
        return pfail(ps, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] span %" PRIu64 " bytes; expected %"
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
    if (read_string(ps, 0, &key, &n) || expect_char(ps, ':', "':' after an object key"))
        return -1;
    for (int i = 0; i < 3; i++) {
        if (n == strlen(key_names[i]) && memcmp(key, key_names[i], n) == 0) {
            *which = 1 << i;
            if (seen & *which)
                return pfail(ps, "tensor '%s': key '%s' appears twice", tname, key_names[i]);
            return 0;
        }
    }
    return pfail(ps, "tensor '%s': unknown key '%s'; expected only dtype, shape and data_offsets", tname,
                 show(key, n, buf, sizeof buf));
}

/* The members of one tensor's object, checked and complete. */
static int tensor_members(parser *ps, const char *tname, st_tensor *t, uint64_t off[2], size_t *noff)
{
    uint64_t dim[2];
    size_t ndim = 0;
    int seen = 0, which = 0;
    while (peek(ps) == '"') {
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
        skip_comma(ps);
    }
    if (expect_char(ps, '}', "'}'"))
        return -1;
    for (int i = 0; i < 3; i++)
        if (!(seen & 1 << i))
            return pfail(ps, "tensor '%s': missing key '%s'", tname, key_names[i]);
    return check_shape(ps, tname, dim, ndim, t);
}

static int read_tensor(parser *ps, const char *name, size_t n)
{
    char tname[SHOW_CAP];
    show(name, n, tname, sizeof tname);
    if (n == 0)
        return pfail(ps, "a tensor name is empty");
    if (strlen(name) != n)
        return pfail(ps, "tensor '%s': name contains a NUL character (\\u0000)", tname);
    if (n > ST_NAME_MAX)
        return pfail(ps, "tensor '%s': name is %zu bytes; the limit is %d", tname, n, ST_NAME_MAX);
    if (peek(ps) != '{')
        return pfail(ps, "tensor '%s': entry must be an object with dtype, shape and data_offsets, found %s",
                     tname, kind(peek(ps)));
    ps->p++;
    skip_ws(ps);
    st_file *f = ps->f;
    st_tensor *tensors = grow(f->tensor, &f->cap, f->count + 1, sizeof *f->tensor);
    if (tensors)
        f->tensor = tensors;
    span *spans = grow(f->span, &f->span_cap, f->count + 1, sizeof *f->span);
    if (spans)
        f->span = spans;
    if (!tensors || !spans)
        return pfail(ps, "out of memory for %zu tensors", f->count + 1);
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
    if (peek(ps) != '{')
        return pfail(ps, "__metadata__ must be an object of strings, found %s", kind(peek(ps)));
    ps->p++;
    skip_ws(ps);
    while (peek(ps) == '"') {
        const char *key, *value;
        size_t nk, nv;
        if (read_string(ps, 1, &key, &nk) || expect_char(ps, ':', "':' after an object key"))
            return -1;
        show(key, nk, kbuf, sizeof kbuf);
        if (strlen(key) != nk)
            return pfail(ps, "__metadata__ key '%s' contains a NUL character (\\u0000)", kbuf);
        if (peek(ps) != '"')
            return pfail(ps, "__metadata__ value for key '%s' must be a string, found %s", kbuf, kind(peek(ps)));
        if (read_string(ps, 1, &value, &nv))
            return -1;
        if (strlen(value) != nv)
            return pfail(ps, "__metadata__ value for key '%s' contains a NUL character (\\u0000)", kbuf);
        st_meta *m = grow(f->meta, &f->meta_cap, f->nmeta + 1, sizeof *f->meta);
        if (!m)
            return pfail(ps, "out of memory for %zu metadata entries", f->nmeta + 1);
        f->meta = m;
        f->meta[f->nmeta++] = (st_meta){key, value};
        skip_comma(ps);
    }
    return expect_char(ps, '}', "'}'");
}

/* The top-level object: "__metadata__" once, every other key a tensor. */
static int read_header(parser *ps)
{
    int have_meta = 0;
    ps->p = ps->start;
    skip_ws(ps);
    if (peek(ps) != '{')
        return pfail(ps, "header must be a JSON object, found %s", kind(peek(ps)));
    ps->p++;
    skip_ws(ps);
    while (peek(ps) == '"') {
        const char *key;
        size_t n;
        if (read_string(ps, 1, &key, &n) || expect_char(ps, ':', "':' after an object key"))
            return -1;
        if (n == 12 && memcmp(key, "__metadata__", 12) == 0) {
            if (have_meta++)
                return pfail(ps, "key '__metadata__' appears twice");
            if (read_meta(ps))
                return -1;
        } else if (read_tensor(ps, key, n)) {
            return -1;
        }
        skip_comma(ps);
    }
    return expect_char(ps, '}', "'}'");
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
        return pfail(ps, "out of memory checking %zu names", n);
    for (size_t i = 0; i < f->count; i++)
        s[i] = f->tensor[i].name;
    int rc = find_duplicate(s, f->count, &dup);
    for (size_t i = 0; rc == 0 && i < f->nmeta; i++)
        s[i] = f->meta[i].key;
    if (rc == 0)
        rc = find_duplicate(s, f->nmeta, &mdup);
    free(s);
    if (rc)
        return pfail(ps, "out of memory checking %zu names", n);
    if (dup)
        return pfail(ps, "duplicate tensor name '%s'", show(dup, strlen(dup), buf, sizeof buf));
    if (mdup)
        return pfail(ps, "__metadata__ has duplicate key '%s'", show(mdup, strlen(mdup), buf, sizeof buf));
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
            return pfail(ps, "tensors '%s' and '%s' overlap: data_offsets [%" PRIu64 ", %" PRIu64 "] and [%"
                         PRIu64 ", %" PRIu64 "]", show(pn, strlen(pn), a, sizeof a),
                         show(sn, strlen(sn), b, sizeof b), p->begin, p->end, s->begin, s->end);
        }
    }
    uint64_t at = 0;
    for (size_t i = 0; i <= f->count; i++) {
        uint64_t next = i < f->count ? f->span[i].begin : ps->data_len;
        if (next != at)
            return pfail(ps, "bytes [%" PRIu64 ", %" PRIu64 ") of the %" PRIu64 "-byte data section belong to "
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
        return pfail(ps, "out of memory for %zu bytes of tensor data", (size_t)ps->data_len);
    copy_le32(f->data, data, n);
    for (size_t i = 0; i < f->count; i++)
        f->tensor[f->span[i].index].data = f->data + f->span[i].begin / 4;
    return 0;
}

static int parse_file(const unsigned char *b, size_t len, const char *who, st_file **out, char *err,
                      size_t errsz)
{
    if (len < 8)
        return fail(err, errsz, who, "file is %zu bytes, shorter than the 8-byte header length at its start", len);
    uint64_t hlen = get_u64le(b);
    if (hlen > ST_HEADER_MAX)
        return fail(err, errsz, who, "header length %" PRIu64 " exceeds the limit of %u bytes", hlen,
                    ST_HEADER_MAX);
    if (hlen > len - 8)
        return fail(err, errsz, who, "header length %" PRIu64 " exceeds the %zu bytes after the length field "
                    "(truncated file?)", hlen, len - 8);
    parser ps = {.start = b + 8, .end = b + 8 + hlen, .data_len = len - 8 - hlen, .who = who,
                 .err = err, .errsz = errsz, .arena_cap = (size_t)hlen + 1};
    if (check_json(&ps))
        return -1;
    ps.f = calloc(1, sizeof *ps.f);
    if (!ps.f || !(ps.f->strings = malloc(ps.arena_cap))) {
        st_free(ps.f);
        return fail(err, errsz, who, "out of memory for a %" PRIu64 "-byte header", hlen);
    }
    if (read_header(&ps) || check_names(&ps) || check_layout(&ps) || copy_data(&ps, ps.end)) {
        st_free(ps.f);
        return -1;
    }
    *out = ps.f;
    return 0;
}

/* ---- loading ------------------------------------------------------------ */

int st_parse(const void *bytes, size_t len, st_file **out, char *err, size_t errsz)
{
    if (!out)
        return fail(err, errsz, "safetensors", "st_parse: out must not be NULL");
    *out = NULL;
    if (!bytes && len)
        return fail(err, errsz, "safetensors", "st_parse: bytes is NULL");
    return parse_file(bytes ? bytes : "", len, "safetensors", out, err, errsz);
}

/* The whole of a regular file, in a malloc'd buffer. */
static int read_all(const char *path, unsigned char **buf, size_t *len, char *err, size_t errsz)
{
    char why[128];
    struct stat st;
    *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errsz, path, "cannot open: %s", sys_err(errno, why, sizeof why));
    const char *what = NULL;
    int e = 0;
    if (fstat(fd, &st) != 0) {
        what = "cannot stat";
        e = errno;
    } else if (!S_ISREG(st.st_mode))
        what = "not a regular file";
    else if ((uint64_t)st.st_size > SIZE_MAX - 1 || !(*buf = malloc((size_t)st.st_size + 1)))
        what = "out of memory to read it";
    *len = what ? 0 : (size_t)st.st_size;
    for (size_t got = 0; !what && got < *len;) {
        ssize_t r = read(fd, *buf + got, *len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r > 0) {
            got += (size_t)r;
        } else {
            e = r < 0 ? errno : 0;
            what = r < 0 ? "cannot read" : "file shrank while being read";
        }
    }
    close(fd);
    if (!what)
        return 0;
    free(*buf);
    *buf = NULL;
    return fail(err, errsz, path, "%s%s%s", what, e ? ": " : "", e ? sys_err(e, why, sizeof why) : "");
}

int st_load(const char *path, st_file **out, char *err, size_t errsz)
{
    if (!out)
        return fail(err, errsz, "safetensors", "st_load: out must not be NULL");
    *out = NULL;
    if (!path || !*path)
        return fail(err, errsz, "safetensors", "st_load: path is NULL or empty");
    unsigned char *buf;
    size_t len;
    if (read_all(path, &buf, &len, err, errsz))
        return -1;
    int rc = parse_file(buf, len, path, out, err, errsz);
    free(buf);
    return rc;
}

void st_free(st_file *f)
{
    if (!f)
        return;
    free(f->tensor);
    free(f->span);
    free(f->meta);
    free(f->strings);
    free(f->data);
    free(f);
}

size_t st_count(const st_file *f)
{
    return f ? f->count : 0;
}

const st_tensor *st_tensor_at(const st_file *f, size_t i)
{
    return f && i < f->count ? &f->tensor[i] : NULL;
}

const st_tensor *st_find(const st_file *f, const char *name)
{
    for (size_t i = 0; f && name && i < f->count; i++)
        if (strcmp(f->tensor[i].name, name) == 0)
            return &f->tensor[i];
    return NULL;
}

size_t st_meta_count(const st_file *f)
{
    return f ? f->nmeta : 0;
}

const st_meta *st_meta_at(const st_file *f, size_t i)
{
    return f && i < f->nmeta ? &f->meta[i] : NULL;
}

const char *st_meta_get(const st_file *f, const char *key)
{
    for (size_t i = 0; f && key && i < f->nmeta; i++)
        if (strcmp(f->meta[i].key, key) == 0)
            return f->meta[i].value;
    return NULL;
}

int st_expect(const st_file *f, const char *name, uint32_t rows, uint32_t cols, const float **data, char *err,
              size_t errsz)
{
    char shown[SHOW_CAP];
    if (!name || !data)
        return fail(err, errsz, "safetensors", "st_expect: name and data must not be NULL");
    const st_tensor *t = st_find(f, name);
    *data = NULL;
    if (t && t->rows == rows && t->cols == cols) {
        *data = t->data;
        return 0;
    }
    if (!err || errsz == 0)
        return -1;
    show(name, strlen(name), shown, sizeof shown);
    if (!t)
        snprintf(err, errsz, "tensor '%s' is missing", shown);
    else
        snprintf(err, errsz, "tensor '%s' has shape [%" PRIu32 ", %" PRIu32 "], expected [%" PRIu32 ", %" PRIu32
                 "]", shown, t->rows, t->cols, rows, cols);
    return -1;
}

/* ---- writing ------------------------------------------------------------ */

/* A growing byte buffer; oom sticks once set. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *s, const char *src, size_t n)
{
    if (n == 0)
        return;
    char *p = s->oom ? NULL : grow(s->p, &s->cap, s->len + n, 1);
    if (!p) {
        s->oom = 1;
        return;
    }
    s->p = p;
    memcpy(s->p + s->len, src, n);
    s->len += n;
}

static void sb_cstr(sbuf *s, const char *src)
{
    sb_put(s, src, strlen(src));
}

/* src as a JSON string: quotes, backslashes and control bytes escaped,
 * UTF-8 passed through (it was checked). */
static void sb_json(sbuf *s, const char *src)
{
    static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
    sb_put(s, "\"", 1);
    for (const char *c = src; *c; c++) {
        const char *hit = strchr(from, *c);
        char esc[8];
        if (hit) {
            esc[0] = '\\';
            esc[1] = to[hit - from];
            sb_put(s, esc, 2);
        } else if ((unsigned char)*c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", (unsigned)*c);
            sb_put(s, esc, 6);
        } else {
            sb_put(s, c, 1);
        }
    }
    sb_put(s, "\"", 1);
}

static int check_inputs(const char *who, const st_tensor *t, size_t n, const st_meta *meta, size_t nmeta,
                        size_t *data_bytes, char *err, size_t errsz)
{
    *data_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = t[i].name;
        size_t len = name ? strlen(name) : 0, bytes = (size_t)t[i].rows * t[i].cols;
        if (len == 0 || len > ST_NAME_MAX)
            return fail(err, errsz, who, "tensor %zu: name must be 1 to %d bytes, it is %zu", i, ST_NAME_MAX, len);
        if (!utf8_valid(name, len) || strcmp(name, "__metadata__") == 0)
            return fail(err, errsz, who, "tensor %zu: name is not valid UTF-8 or is \"__metadata__\"", i);
        if ((t[i].rows && bytes / t[i].rows != t[i].cols) || bytes > (SIZE_MAX - *data_bytes) / 4)
            return fail(err, errsz, who, "tensor '%s': %" PRIu32 "x%" PRIu32 " is too large", name, t[i].rows,
                        t[i].cols);
        if (bytes && !t[i].data)
            return fail(err, errsz, who, "tensor '%s': data is NULL", name);
        *data_bytes += bytes * 4;
        for (size_t j = 0; j < i; j++)
            if (strcmp(t[j].name, name) == 0)
                return fail(err, errsz, who, "duplicate tensor name '%s'", name);
    }
    for (size_t i = 0; i < nmeta; i++) {
        if (!meta[i].key || !meta[i].value || !utf8_valid(meta[i].key, strlen(meta[i].key)) ||
            !utf8_valid(meta[i].value, strlen(meta[i].value)))
            return fail(err, errsz, who, "metadata entry %zu: key and value must be non-NULL UTF-8 strings", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(meta[j].key, meta[i].key) == 0)
                return fail(err, errsz, who, "duplicate metadata key '%s'", meta[i].key);
    }
    return 0;
}

/* The JSON header, space-padded so 8 + its length is a multiple of 8. */
static void build_header(sbuf *s, const st_tensor *t, size_t n, const st_meta *meta, size_t nmeta)
{
    char num[128];
    uint64_t at = 0;
    sb_cstr(s, "{");
    if (nmeta) {
        sb_cstr(s, "\"__metadata__\":{");
        for (size_t i = 0; i < nmeta; i++) {
            sb_cstr(s, i ? "," : "");
            sb_json(s, meta[i].key);
            sb_cstr(s, ":");
            sb_json(s, meta[i].value);
        }
        sb_cstr(s, "}");
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t bytes = (uint64_t)t[i].rows * t[i].cols * 4;
        sb_cstr(s, i || nmeta ? "," : "");
        sb_json(s, t[i].name);
        snprintf(num, sizeof num, ":{\"dtype\":\"F32\",\"shape\":[%" PRIu32 ",%" PRIu32 "],\"data_offsets\":[%"
                 PRIu64 ",%" PRIu64 "]}", t[i].rows, t[i].cols, at, at + bytes);
        sb_cstr(s, num);
        at += bytes;
    }
    sb_cstr(s, "}");
    while (!s->oom && s->len % 8)
        sb_put(s, " ", 1);
}

static int encode(const char *who, const st_tensor *t, size_t n, const st_meta *meta, size_t nmeta, void **out,
                  size_t *len, char *err, size_t errsz)
{
    size_t data_bytes;
    if (!out || !len)
        return fail(err, errsz, who, "out and len must not be NULL");
    *out = NULL;
    *len = 0;
    if ((!t && n) || (!meta && nmeta))
        return fail(err, errsz, who, "tensors or metadata is NULL with a non-zero count");
    if (check_inputs(who, t, n, meta, nmeta, &data_bytes, err, errsz))
        return -1;
    sbuf h = {0};
    build_header(&h, t, n, meta, nmeta);
    if (!h.oom && h.len > ST_HEADER_MAX) {
        free(h.p);
        return fail(err, errsz, who, "header would be %zu bytes, over the limit of %u", h.len, ST_HEADER_MAX);
    }
    unsigned char *b = h.oom || data_bytes > SIZE_MAX - 8 - h.len ? NULL : malloc(8 + h.len + data_bytes);
    if (!b) {
        free(h.p);
        return fail(err, errsz, who, "out of memory encoding %zu bytes of tensor data", data_bytes);
    }
    put_u64le(b, h.len);
    memcpy(b + 8, h.p, h.len);
    unsigned char *d = b + 8 + h.len;
    for (size_t i = 0; i < n; i++) {
        size_t count = (size_t)t[i].rows * t[i].cols;
        if (count)
            copy_le32(d, t[i].data, count);
        d += count * 4;
    }
    free(h.p);
    *out = b;
    *len = 8 + h.len + data_bytes;
    return 0;
}

int st_encode(const st_tensor *tensors, size_t n, const st_meta *meta, size_t nmeta, void **out, size_t *len,
              char *err, size_t errsz)
{
    return encode("safetensors", tensors, n, meta, nmeta, out, len, err, errsz);
}

/* ---- atomic save -------------------------------------------------------- */

static int write_synced(const char *tmp, const void *buf, size_t len, char *err, size_t errsz)
{
    char why[128];
    unlink(tmp);  /* a leftover of a crashed save by a process with our pid */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        return fail(err, errsz, tmp, "cannot create: %s", sys_err(errno, why, sizeof why));
    const char *what = NULL;
    int e = 0;
    for (size_t done = 0; done < len && !what;) {
        ssize_t w = write(fd, (const char *)buf + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w > 0) {
            done += (size_t)w;
        } else {
            e = w < 0 ? errno : EIO;
            what = "cannot write";
        }
    }
    if (!what && fsync(fd) != 0) {
        e = errno;
        what = "cannot sync";
    }
    if (close(fd) != 0 && !what) {
        e = errno;
        what = "cannot close";
    }
    if (what)
        return fail(err, errsz, tmp, "%s: %s", what, sys_err(e, why, sizeof why));
    return 0;
}

/* Makes the rename durable. Filesystems that cannot sync a directory say
 * EINVAL; that is not an error. */
static int sync_dir(const char *path, char *err, size_t errsz)
{
    char why[128];
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir)
        return fail(err, errsz, path, "out of memory");
    memcpy(dir, slash ? path : ".", n);
    dir[n] = 0;
    int rc = 0, fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
        rc = fail(err, errsz, path, "written, but syncing its directory '%s' failed: %s", dir,
                  sys_err(errno, why, sizeof why));
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

int st_save(const char *path, const st_tensor *tensors, size_t n, const st_meta *meta, size_t nmeta, char *err,
            size_t errsz)
{
    char why[128];
    void *buf;
    size_t len;
    if (!path || !*path)
        return fail(err, errsz, "safetensors", "st_save: path is NULL or empty");
    if (encode(path, tensors, n, meta, nmeta, &buf, &len, err, errsz))
        return -1;
    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp) {
        free(buf);
        return fail(err, errsz, path, "out of memory");
    }
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    int rc = write_synced(tmp, buf, len, err, errsz);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = fail(err, errsz, path, "cannot replace it with '%s': %s", tmp, sys_err(errno, why, sizeof why));
    if (rc != 0)
        unlink(tmp);
    else
        rc = sync_dir(path, err, errsz);
    free(tmp);
    free(buf);
    return rc;
}
