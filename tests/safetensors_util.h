/* Helpers shared by test_safetensors.c and test_safetensors_hostile.c:
 * a valid file from st_encode and ways to edit it. Include after
 * <cmocka.h>. */
#ifndef VKSAC_TESTS_SAFETENSORS_UTIL_H
#define VKSAC_TESTS_SAFETENSORS_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rl/safetensors.h"

static char err[512];

static const float a_data[6] = {1.0f, -2.5f, 3.25f, 0.0f, -0.0f, 1e-30f};
static const float b_data[4] = {4.0f, 5.0f, 6.0f, 7.0f};

/* A valid file: a 2x3 at [0, 24), b 1x4 at [24, 40), metadata cfg=x. */
static unsigned char *valid_file(size_t *len)
{
    const st_tensor t[] = {{"a", 2, 3, a_data}, {"b", 1, 4, b_data}};
    const st_meta m[] = {{"cfg", "x"}};
    void *buf;
    assert_int_equal(st_encode(t, 2, m, 1, &buf, len, err, sizeof err), 0);
    return buf;
}

static uint64_t header_len(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

static void set_header_len(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

/* A file with the given header text and data_len bytes of zeros. */
static unsigned char *with_header(const char *json, size_t data_len, size_t *len)
{
    size_t n = strlen(json);
    *len = 8 + n + data_len;
    unsigned char *b = calloc(1, *len);
    assert_non_null(b);
    set_header_len(b, n);
    memcpy(b + 8, json, n);
    return b;
}

/* The valid file with the first `from` in its header replaced by `to`. */
static unsigned char *edited(const char *from, const char *to, size_t *len)
{
    size_t vlen;
    unsigned char *v = valid_file(&vlen);
    size_t hlen = (size_t)header_len(v), nf = strlen(from), nt = strlen(to);
    char *hdr = calloc(1, hlen + 1);
    assert_non_null(hdr);
    memcpy(hdr, v + 8, hlen);
    char *at = strstr(hdr, from);
    if (!at)
        fail_msg("'%s' is not in the header %s", from, hdr);
    *len = vlen - nf + nt;
    unsigned char *b = malloc(*len);
    assert_non_null(b);
    size_t pre = (size_t)(at - hdr);
    set_header_len(b, hlen - nf + nt);
    memcpy(b + 8, hdr, pre);
    memcpy(b + 8 + pre, to, nt);
    memcpy(b + 8 + pre + nt, at + nf, hlen - pre - nf);
    memcpy(b + 8 + hlen - nf + nt, v + 8 + hlen, vlen - 8 - hlen);
    free(hdr);
    free(v);
    return b;
}

static st_file *parses(const unsigned char *b, size_t len)
{
    st_file *f = NULL;
    if (st_parse(b, len, &f, err, sizeof err) != 0)
        fail_msg("parse failed: %s", err);
    return f;
}

#endif
