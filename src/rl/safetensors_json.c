/* The strict JSON reader for safetensors headers: the lexer, shared with
 * the schema pass, and pass 1, which checks the whole header is JSON. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "rl/safetensors_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- JSON lexer ---------------------------------------------------------- */

int sti_pfail(parser *ps, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sti_vfail(ps->err, ps->errsz, ps->who, fmt, ap);
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
    return sti_pfail(ps, "header is not valid JSON: %s at header byte %zu", msg, (size_t)(at - ps->start));
}

void sti_skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Past the ',' between members, if there is one (pass 1 checked the
 * syntax already). */
void sti_skip_comma(parser *ps)
{
    sti_skip_ws(ps);
    if (sti_peek(ps) == ',') {
        ps->p++;
        sti_skip_ws(ps);
    }
}

/* What the value starting with c is, for schema messages. */
const char *sti_kind(int c)
{
    switch (c) {
    case '{': return "an object";
    case '[': return "a list";
    case '"': return "a string";
    case 't': case 'f': return "a boolean";
    case 'n': return "null";
    case -1: return "the end of the header";
    default: return c == '-' || sti_is_digit(c) ? "a number" : "something else";
    }
}

static int unexpected(parser *ps, const char *expected)
{
    int c = sti_peek(ps);
    if (c < 0)
        return jfail(ps, ps->p, "expected %s, found the end of the header", expected);
    if (c >= 0x20 && c < 0x7F)
        return jfail(ps, ps->p, "expected %s, found '%c'", expected, c);
    return jfail(ps, ps->p, "expected %s, found byte 0x%02x", expected, (unsigned)c);
}

int sti_expect_char(parser *ps, int c, const char *expected)
{
    sti_skip_ws(ps);
    if (sti_peek(ps) != c)
        return unexpected(ps, expected);
    ps->p++;
    sti_skip_ws(ps);
    return 0;
}

static int hex4(parser *ps, const unsigned char *p, uint32_t *v)
{
    if (ps->end - p < 4)
        return jfail(ps, p, "\\u needs four hex digits");
    *v = 0;
    for (int i = 0; i < 4; i++) {
        int c = p[i], d = sti_is_digit(c) ? c - '0'
                          : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
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
    *m = sti_utf8_put(out, cp);
    return 0;
}

/* Decodes the string at ps->p (a '"') into dst, at most cap bytes (dst NULL:
 * check only), and sets *n to its decoded length. It may hold NUL bytes. */
int sti_lex_string(parser *ps, char *dst, size_t cap, size_t *n)
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
            m = sti_utf8_seq(p, ps->end);
            if (!m)
                return jfail(ps, p, "invalid UTF-8 in a string");
            memcpy(buf, p, m);
            p += m;
        }
        if (dst && k + m > cap)
            return sti_pfail(ps, "internal error: string space exhausted");
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
    while (ps->p < ps->end && sti_is_digit(*ps->p)) {
        unsigned d = *ps->p++ - '0';
        if (num->value > (UINT64_MAX - d) / 10)
            num->overflow = 1;
        num->value = num->value * 10 + d;
    }
}

/* A JSON number (RFC 8259 grammar: no '+', no leading zeros, digits on
 * both sides of '.'), and its value when it is a plain non-negative
 * integer. */
int sti_lex_number(parser *ps, number *num)
{
    *num = (number){.text = ps->p};
    num->is_uint = sti_peek(ps) != '-';
    if (!num->is_uint)
        ps->p++;
    if (!sti_is_digit(sti_peek(ps)))
        return unexpected(ps, "a digit");
    if (*ps->p == '0' && ps->p + 1 < ps->end && sti_is_digit(ps->p[1]))
        return jfail(ps, ps->p, "leading zero in a number");
    digits(ps, num);
    if (sti_peek(ps) == '.') {
        ps->p++;
        num->is_uint = 0;
        if (!sti_is_digit(sti_peek(ps)))
            return unexpected(ps, "a digit after '.'");
        while (sti_is_digit(sti_peek(ps)))
            ps->p++;
    }
    if (sti_peek(ps) == 'e' || sti_peek(ps) == 'E') {
        ps->p++;
        num->is_uint = 0;
        if (sti_peek(ps) == '+' || sti_peek(ps) == '-')
            ps->p++;
        if (!sti_is_digit(sti_peek(ps)))
            return unexpected(ps, "a digit in the exponent");
        while (sti_is_digit(sti_peek(ps)))
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
    sti_skip_ws(ps);
    if (sti_peek(ps) == close) {
        ps->p++;
        return 0;
    }
    for (;;) {
        size_t n;
        if (object && sti_peek(ps) != '"')
            return unexpected(ps, "a string key");
        if (object && (sti_lex_string(ps, NULL, 0, &n) || sti_expect_char(ps, ':', "':' after an object key")))
            return -1;
        if (check_value(ps, depth + 1))
            return -1;
        sti_skip_ws(ps);
        if (sti_peek(ps) == close) {
            ps->p++;
            return 0;
        }
        if (sti_expect_char(ps, ',', object ? "',' or '}' in an object" : "',' or ']' in a list"))
            return -1;
    }
}

static int check_value(parser *ps, int depth)
{
    number num;
    size_t n;
    int c = sti_peek(ps);
    if (depth > ST_DEPTH_MAX && (c == '{' || c == '['))
        return jfail(ps, ps->p, "nested deeper than %d levels", ST_DEPTH_MAX);
    if (c == '{' || c == '[')
        return check_members(ps, depth, c == '{');
    if (c == '"')
        return sti_lex_string(ps, NULL, 0, &n);
    if (c == '-' || sti_is_digit(c))
        return sti_lex_number(ps, &num);
    return lex_literal(ps);
}

int sti_check_json(parser *ps)
{
    ps->p = ps->start;
    sti_skip_ws(ps);
    if (check_value(ps, 1))
        return -1;
    sti_skip_ws(ps);
    if (ps->p != ps->end)
        return jfail(ps, ps->p, "trailing characters after the top-level value");
    return 0;
}
