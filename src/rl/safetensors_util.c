/* The safetensors helpers shared by the other safetensors*.c files:
 * messages, byte order, UTF-8 and growing arrays. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "rl/safetensors_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------ */

int sti_vfail(char *err, size_t errsz, const char *who, const char *fmt, va_list ap)
{
    if (!err || errsz == 0)
        return -1;
    int n = snprintf(err, errsz, "%s: ", who);
    if (n >= 0 && (size_t)n < errsz)
        vsnprintf(err + n, errsz - (size_t)n, fmt, ap);
    return -1;
}

int sti_fail(char *err, size_t errsz, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sti_vfail(err, errsz, who, fmt, ap);
    va_end(ap);
    return -1;
}

/* strerror is not thread-safe; this is the XSI strerror_r. */
const char *sti_sys_err(int e, char *buf, size_t cap)
{
    if (strerror_r(e, buf, cap) != 0)
        snprintf(buf, cap, "error %d", e);
    return buf;
}

/* A string fit for a message: control bytes become '?', and long ones are
 * cut (at a UTF-8 boundary) with "...". Names come from hostile files. */
const char *sti_show(const char *s, size_t n, char *buf, size_t cap)
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

/* ---- bytes --------------------------------------------------------------- */

static int host_is_le(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

uint64_t sti_get_u64le(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

void sti_put_u64le(unsigned char *b, uint64_t v)
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
void sti_copy_le32(void *dst, const void *src, size_t n)
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
size_t sti_utf8_seq(const unsigned char *p, const unsigned char *end)
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

size_t st_utf8_prefix(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        size_t m = sti_utf8_seq(p, end);
        if (!m)
            break;
        p += m;
    }
    return (size_t)(p - (const unsigned char *)s);
}

int sti_utf8_valid(const char *s, size_t n)
{
    return st_utf8_prefix(s, n) == n;
}

size_t sti_utf8_put(unsigned char *out, uint32_t cp)
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

/* p with room for need elements (doubling), or NULL, p left as it was. */
void *sti_grow(void *p, size_t *cap, size_t need, size_t elsz)
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
