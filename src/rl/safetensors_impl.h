/* Definitions shared by the safetensors*.c files; nothing else includes
 * this. The prefix sti_ marks the internals: the libraries hide them, and
 * the fuzz build compiles only these files. */
#ifndef VKSAC_RL_SAFETENSORS_IMPL_H
#define VKSAC_RL_SAFETENSORS_IMPL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "rl/safetensors.h"

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

/* Room for a name in a message: sti_show cuts longer ones. */
#define SHOW_CAP 52

/* ---- safetensors_util.c: errors, bytes, UTF-8 ----------------------------- */

int sti_vfail(char *err, size_t errsz, const char *who, const char *fmt, va_list ap);
int sti_fail(char *err, size_t errsz, const char *who, const char *fmt, ...);
const char *sti_sys_err(int e, char *buf, size_t cap);
const char *sti_show(const char *s, size_t n, char *buf, size_t cap);
uint64_t sti_get_u64le(const unsigned char *b);
void sti_put_u64le(unsigned char *b, uint64_t v);
void sti_copy_le32(void *dst, const void *src, size_t n);
size_t sti_utf8_seq(const unsigned char *p, const unsigned char *end);
int sti_utf8_valid(const char *s, size_t n);
size_t sti_utf8_put(unsigned char *out, uint32_t cp);
void *sti_grow(void *p, size_t *cap, size_t need, size_t elsz);

/* ---- safetensors_json.c: the lexer and pass 1 ----------------------------- */

static inline int sti_peek(const parser *ps)
{
    return ps->p < ps->end ? *ps->p : -1;
}

static inline int sti_is_digit(int c)
{
    return c >= '0' && c <= '9';
}

int sti_pfail(parser *ps, const char *fmt, ...);
void sti_skip_ws(parser *ps);
void sti_skip_comma(parser *ps);
const char *sti_kind(int c);
int sti_expect_char(parser *ps, int c, const char *expected);
int sti_lex_string(parser *ps, char *dst, size_t cap, size_t *n);
int sti_lex_number(parser *ps, number *num);
int sti_check_json(parser *ps);

/* ---- safetensors_schema.c: passes 2 and 3 --------------------------------- */

int sti_parse_file(const unsigned char *b, size_t len, const char *who, st_file **out, char *err,
                   size_t errsz);

#endif
