/* Hostile safetensors files (src/rl/safetensors*.c), no device needed:
 * one test per way a file can be wrong, each asserting the message names
 * the fault. Most are a valid st_encode output edited in place (the
 * header length field fixed up), so each differs from a good file by
 * exactly the fault under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl/safetensors.h"
#include "safetensors_util.h"

/* ---- helpers ------------------------------------------------------------- */

/* Parsing fails with a message containing `phrase`. */
static void rejects(const unsigned char *b, size_t len, const char *phrase)
{
    st_file *f = (st_file *)1;
    err[0] = 0;
    int rc = st_parse(b, len, &f, err, sizeof err);
    if (rc == 0)
        fail_msg("parse succeeded; expected an error with \"%s\"", phrase);
    assert_null(f);
    if (!strstr(err, phrase))
        fail_msg("message \"%s\" lacks \"%s\"", err, phrase);
}

static void rejects_edit(const char *from, const char *to, const char *phrase)
{
    size_t len;
    unsigned char *b = edited(from, to, &len);
    rejects(b, len, phrase);
    free(b);
}

static void rejects_header(const char *json, size_t data_len, const char *phrase)
{
    size_t len;
    unsigned char *b = with_header(json, data_len, &len);
    rejects(b, len, phrase);
    free(b);
}

/* ---- hostile files ------------------------------------------------------- */

static void test_short_file(void **state)
{
    (void)state;
    const unsigned char zeros[8] = {0};
    for (size_t n = 0; n < 8; n++)
        rejects(zeros, n, "shorter than the 8-byte header length");
    rejects(NULL, 0, "shorter than the 8-byte header length");
}

static void test_header_longer_than_file(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = valid_file(&len);
    set_header_len(b, len - 7);
    rejects(b, len, "exceeds the");
    rejects(b, len, "bytes after the length field");
    set_header_len(b, UINT64_MAX);
    rejects(b, len, "exceeds the limit of 100000000 bytes");
    set_header_len(b, (uint64_t)ST_HEADER_MAX + 1);
    rejects(b, len, "exceeds the limit");
    free(b);
}

static void test_json_syntax(void **state)
{
    (void)state;
    static const struct { const char *json, *phrase; } cases[] = {
        {"", "expected a value, found the end of the header"},
        {"   ", "expected a value"},
        {"{", "expected a string key, found the end of the header"},
        {"{\"a\" 1}", "expected ':' after an object key"},
        {"{\"a\":1,}", "expected a string key, found '}'"},
        {"{'a':1}", "expected a string key, found '''"},
        {"{\"a\":[1,]}", "expected a value, found ']'"},
        {"{\"a\":[1 2]}", "expected ',' or ']' in a list"},
        {"{\"a\":1 \"b\":2}", "expected ',' or '}' in an object"},
        {"{\"a\":tru}", "expected a value"},
        {"{\"a\":NaN}", "expected a value, found 'N'"},
        {"{\"a\":1}\x00", "trailing characters"},
        {"{\"a\":\xef\xbb\xbf" "1}", "found byte 0xef"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        /* One zero byte follows each header; case 11 counts it in. */
        size_t len, n = strlen(cases[i].json) + (i == 11);
        unsigned char *b = with_header(cases[i].json, 1, &len);
        set_header_len(b, n);
        rejects(b, 8 + n, "header is not valid JSON");
        rejects(b, 8 + n, cases[i].phrase);
        free(b);
    }
    rejects_header("{\"a\":{}} x", 0, "trailing characters after the top-level value at header byte 9");
}

static void test_json_strings(void **state)
{
    (void)state;
    static const struct { const char *json, *phrase; } cases[] = {
        {"{\"__metadata__\":{\"k\":\"abc}}", "unterminated string"},
        {"{\"__metadata__\":{\"k\":\"a\\qb\"}}", "invalid escape '\\q'"},
        {"{\"__metadata__\":{\"k\":\"a\\u12G4\"}}", "\\u needs four hex digits"},
        {"{\"__metadata__\":{\"k\":\"a\\u12\"}}", "\\u needs four hex digits"},
        {"{\"__metadata__\":{\"k\":\"\\ud83d\"}}", "high surrogate \\uD83D not followed by a low surrogate"},
        {"{\"__metadata__\":{\"k\":\"\\ud83d\\u0041\"}}", "not followed by a low surrogate"},
        {"{\"__metadata__\":{\"k\":\"\\ude00\"}}", "unpaired low surrogate \\uDE00"},
        {"{\"__metadata__\":{\"k\":\"a\tb\"}}", "control character 0x09 in a string"},
        {"{\"__metadata__\":{\"k\":\"a\xff\"}}", "invalid UTF-8"},
        {"{\"__metadata__\":{\"k\":\"\xc0\xaf\"}}", "invalid UTF-8"},          /* overlong '/' */
        {"{\"__metadata__\":{\"k\":\"\xed\xa0\x80\"}}", "invalid UTF-8"},      /* raw surrogate */
        {"{\"__metadata__\":{\"k\":\"\xf4\x90\x80\x80\"}}", "invalid UTF-8"},  /* above U+10FFFF */
        {"{\"__metadata__\":{\"k\":\"\xe4\xb8\"}}", "invalid UTF-8"},          /* cut sequence */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rejects_header(cases[i].json, 0, "header is not valid JSON");
        rejects_header(cases[i].json, 0, cases[i].phrase);
    }
}

static void test_json_numbers(void **state)
{
    (void)state;
    rejects_edit("[2,3]", "[02,3]", "leading zero in a number");
    rejects_edit("[2,3]", "[2.,3]", "expected a digit after '.'");
    rejects_edit("[2,3]", "[2,3e]", "expected a digit in the exponent");
    rejects_edit("[2,3]", "[2,+3]", "expected a value, found '+'");
    rejects_edit("[2,3]", "[2,-]", "expected a digit, found ']'");
    rejects_edit("[2,3]", "[2,.5]", "expected a value, found '.'");
}

static void test_header_not_object(void **state)
{
    (void)state;
    rejects_header("[]", 0, "header must be a JSON object, found a list");
    rejects_header("\"x\"", 0, "header must be a JSON object, found a string");
    rejects_header("  42  ", 0, "header must be a JSON object, found a number");
    rejects_header("null", 0, "header must be a JSON object, found null");
}

static void test_trailing_garbage(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = valid_file(&len);
    uint64_t h = header_len(b);
    assert_int_equal(b[8 + h - 1], ' ');  /* the padding */
    b[8 + h - 1] = 'x';
    rejects(b, len, "trailing characters after the top-level value");
    b[8 + h - 1] = '}';
    rejects(b, len, "trailing characters after the top-level value");
    free(b);
}

static void test_duplicate_names(void **state)
{
    (void)state;
    rejects_edit("\"b\":", "\"a\":", "duplicate tensor name 'a'");
    rejects_header("{\"__metadata__\":{\"k\":\"1\",\"j\":\"2\",\"k\":\"3\"}}", 0, "__metadata__ has duplicate key 'k'");
    rejects_edit("\"a\":", "\"__metadata__\":{},\"a\":", "key '__metadata__' appears twice");
}

static void test_dtype(void **state)
{
    (void)state;
    rejects_edit("\"F32\"", "\"F16\"", "tensor 'a': dtype is \"F16\"; only \"F32\" is supported");
    rejects_edit("\"F32\"", "\"f32\"", "dtype is \"f32\"");
    rejects_edit("\"F32\"", "\"F32\\u0000\"", "dtype is \"F32?\"");
    rejects_edit("\"F32\"", "32", "tensor 'a': dtype must be a string, found a number");
}

static void test_shape_form(void **state)
{
    (void)state;
    rejects_edit("[2,3]", "[]", "tensor 'a': shape is [], a scalar; expected 1 or 2 dimensions");
    rejects_edit("[2,3]", "[1,2,3]", "tensor 'a': shape has more than 2 entries; expected 1 or 2 dimensions");
    rejects_edit("[2,3]", "\"2x3\"", "tensor 'a': shape must be a list of integers (1 or 2 dimensions), found a string");
    rejects_edit("[2,3]", "{}", "shape must be a list of integers (1 or 2 dimensions), found an object");
}

static void test_shape_huge(void **state)
{
    (void)state;
    rejects_edit("[2,3]", "[4294967296,4294967296]", "tensor 'a': shape [4294967296, 4294967296] has too many "
                 "elements (its size in bytes overflows 64 bits)");
    rejects_edit("[2,3]", "[4611686018427387904]", "overflows 64 bits");
    rejects_edit("[2,3]", "[4294967296,1]", "tensor 'a': dimension 4294967296 is larger than the limit of 4294967295");
    rejects_edit("[2,3]", "[18446744073709551616,1]", "tensor 'a': shape entry 0 (18446744073709551616) does not "
                 "fit in 64 bits");
    /* A product that fits but does not match the data. */
    rejects_edit("[2,3]", "[65536,65536]", "expected 17179869184");
}

static void test_shape_not_integers(void **state)
{
    (void)state;
    rejects_edit("[2,3]", "[2.0,3]", "tensor 'a': shape entry 0 must be a non-negative integer, found 2.0");
    rejects_edit("[2,3]", "[2,3e0]", "shape entry 1 must be a non-negative integer, found 3e0");
    rejects_edit("[2,3]", "[2,3E+0]", "found 3E+0");
    rejects_edit("[2,3]", "[-2,3]", "shape entry 0 must be a non-negative integer, found -2");
    rejects_edit("[2,3]", "[-0,3]", "found -0");
    rejects_edit("[2,3]", "[\"2\",3]", "shape entry 0 must be a non-negative integer, found a string");
    rejects_edit("[2,3]", "[2,null]", "shape entry 1 must be a non-negative integer, found null");
    rejects_edit("[2,3]", "[2,[3]]", "found a list");
}

static void test_offsets_form(void **state)
{
    (void)state;
    rejects_edit("[0,24]", "[0]", "tensor 'a': data_offsets has 1 entries; expected [begin, end]");
    rejects_edit("[0,24]", "[]", "data_offsets has 0 entries");
    rejects_edit("[0,24]", "[0,24,24]", "tensor 'a': data_offsets has more than 2 entries; expected [begin, end]");
    rejects_edit("[0,24]", "[0,24.0]", "data_offsets entry 1 must be a non-negative integer, found 24.0");
    rejects_edit("[0,24]", "[-0,24]", "data_offsets entry 0 must be a non-negative integer, found -0");
    rejects_edit("[0,24]", "[0,2.4e1]", "found 2.4e1");
    rejects_edit("[0,24]", "{\"begin\":0}", "data_offsets must be a list of integers ([begin, end]), found an object");
    rejects_edit("[0,24]", "[0,99999999999999999999]", "data_offsets entry 1 (99999999999999999999) does not fit");
}

static void test_offsets_begin_after_end(void **state)
{
    (void)state;
    rejects_edit("[0,24]", "[24,0]", "tensor 'a': data_offsets [24, 0] has begin after end");
}

static void test_offsets_beyond_data(void **state)
{
    (void)state;
    rejects_edit("[24,40]", "[24,44]", "tensor 'b': data_offsets end 44 is beyond the data section's 40 bytes");
    rejects_edit("[24,40]", "[18446744073709551599,18446744073709551615]", "beyond the data section");
}

static void test_offsets_size_mismatch(void **state)
{
    (void)state;
    rejects_edit("[0,24]", "[0,20]", "tensor 'a': data_offsets [0, 20] span 20 bytes; expected 24 (4 bytes for "
                 "each of 2x3 F32 values)");
    rejects_edit("[2,3]", "[2,4]", "span 24 bytes; expected 32");
}

static void test_overlap(void **state)
{
    (void)state;
    rejects_edit("[24,40]", "[8,24]", "tensors 'a' and 'b' overlap: data_offsets [0, 24] and [8, 24]");
    rejects_edit("[0,24]", "[16,40]", "tensors 'a' and 'b' overlap");
    /* An empty tensor inside another one. */
    rejects_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "tensors 'b' and 'a' overlap");
}

static void test_gaps(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = valid_file(&len), *longer = malloc(len + 8);
    memcpy(longer, b, len);
    memset(longer + len, 0, 8);
    rejects(longer, len + 8, "bytes [40, 48) of the 48-byte data section belong to no tensor");
    rejects_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12,
                   "bytes [4, 8) of the 12-byte data section belong to no tensor");
    rejects_header("{}", 4, "bytes [0, 4) of the 4-byte data section belong to no tensor");
    free(longer);
    free(b);
}

static void test_metadata_form(void **state)
{
    (void)state;
    rejects_edit("{\"cfg\":\"x\"}", "[]", "__metadata__ must be an object of strings, found a list");
    rejects_edit("{\"cfg\":\"x\"}", "\"x\"", "__metadata__ must be an object of strings, found a string");
    rejects_edit("\"x\"}", "1}", "__metadata__ value for key 'cfg' must be a string, found a number");
    rejects_edit("\"x\"}", "{}}", "value for key 'cfg' must be a string, found an object");
    rejects_edit("\"x\"}", "\"x\",\"n\":null}", "value for key 'n' must be a string, found null");
    rejects_edit("\"x\"}", "\"x\\u0000y\"}", "__metadata__ value for key 'cfg' contains a NUL character");
    rejects_edit("\"cfg\"", "\"c\\u0000\"", "__metadata__ key 'c?' contains a NUL character");
}

static void test_tensor_entry_keys(void **state)
{
    (void)state;
    rejects_edit("\"dtype\":\"F32\",\"shape\":[2,3]", "\"dtype\":\"F32\",\"foo\":1,\"shape\":[2,3]",
                 "tensor 'a': unknown key 'foo'; expected only dtype, shape and data_offsets");
    rejects_edit("\"dtype\":\"F32\",\"shape\":[2,3]", "\"dtype\":\"F32\",\"Shape\":[2,3]", "unknown key 'Shape'");
    rejects_edit("\"dtype\":\"F32\",\"shape\":[2,3]", "\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2,3]",
                 "tensor 'a': key 'dtype' appears twice");
    rejects_edit("\"dtype\":\"F32\",\"shape\":[2,3],", "\"dtype\":\"F32\",", "tensor 'a': missing key 'shape'");
    rejects_edit("{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}", "{}", "missing key 'dtype'");
    rejects_edit("{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}", "[\"F32\"]",
                 "tensor 'a': entry must be an object with dtype, shape and data_offsets, found a list");
}

static void test_deep_nesting(void **state)
{
    (void)state;
    char json[4096];
    /* 32 levels is JSON the reader accepts (then rejects by schema); 33 is not. */
    for (int depth = 32; depth <= 33; depth++) {
        int n = snprintf(json, sizeof json, "{\"__metadata__\":");
        for (int i = 2; i <= depth; i++)
            json[n++] = '[';
        for (int i = 2; i <= depth; i++)
            json[n++] = ']';
        strcpy(json + n, "}");
        rejects_header(json, 0, depth == 32 ? "must be an object of strings" : "nested deeper than 32 levels");
    }
    /* Far deeper than any stack would take if it were followed. */
    size_t big = 1u << 20;
    char *deep = malloc(big + 1);
    memset(deep, '[', big);
    deep[big] = 0;
    rejects_header(deep, 0, "nested deeper than 32 levels at header byte 32");
    memset(deep, '{', big);
    rejects_header(deep, 0, "expected a string key");
    free(deep);
}

static void test_bad_names(void **state)
{
    (void)state;
    char name[129], to[140];
    memset(name, 'n', 128);
    name[128] = 0;
    snprintf(to, sizeof to, "\"%s\":", name);
    rejects_edit("\"b\":", to, "name is 128 bytes; the limit is 127");
    snprintf(to, sizeof to, "\"%.127s\":", name);
    size_t len;
    unsigned char *b = edited("\"b\":", to, &len);
    st_free(parses(b, len));
    free(b);
    rejects_edit("\"b\":", "\"\":", "a tensor name is empty");
    rejects_edit("\"b\":", "\"b\\u0000c\":", "tensor 'b?c': name contains a NUL character");
    /* Control characters in names are shown as '?' in messages. */
    rejects_edit("\"b\":{\"dtype\":\"F32\"", "\"b\\n\":{\"dtype\":\"F16\"", "tensor 'b?': dtype is \"F16\"");
}

/* Every proper prefix of a valid file is rejected, and cleanly. */
static void test_truncated(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = valid_file(&len);
    for (size_t n = 0; n < len; n++) {
        unsigned char *copy = malloc(n ? n : 1);  /* exact size, so ASan sees any overread */
        memcpy(copy, b, n);
        st_file *f = (st_file *)1;
        err[0] = 0;
        assert_int_equal(st_parse(copy, n, &f, err, sizeof err), -1);
        assert_null(f);
        assert_true(strlen(err) > 12);
        free(copy);
    }
    st_free(parses(b, len));
    free(b);
}

/* Every header byte replaced by each of a few troublesome values: never a
 * crash, always a message on failure, and a success only when the result
 * still re-encodes. */
static void test_byte_mutations(void **state)
{
    (void)state;
    static const unsigned char values[] = {0, ' ', '"', ',', ':', '[', ']', '{', '}', '\\', '-', '.', '0', '9',
                                           'e', 'u', 0x7F, 0x80, 0xC3, 0xFF};
    size_t len;
    unsigned char *b = valid_file(&len);
    unsigned char *copy = malloc(len);
    size_t ok = 0;
    for (size_t i = 8; i < len; i++) {
        for (size_t v = 0; v < sizeof values; v++) {
            memcpy(copy, b, len);
            copy[i] = values[v];
            st_file *f = NULL;
            err[0] = 0;
            if (st_parse(copy, len, &f, err, sizeof err) == 0) {
                ok++;
                st_free(f);
            } else {
                assert_true(strlen(err) > 12);
            }
        }
    }
    assert_true(ok > 0);  /* e.g. data bytes, a renamed tensor */
    free(copy);
    free(b);
}

static void test_null_arguments(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = valid_file(&len);
    assert_int_equal(st_parse(b, len, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "out must not be NULL"));
    st_file *f;
    assert_int_equal(st_parse(NULL, 5, &f, NULL, 0), -1);
    assert_int_equal(st_load(NULL, &f, err, sizeof err), -1);
    assert_int_equal(st_count(NULL), 0);
    assert_null(st_find(NULL, "a"));
    assert_null(st_meta_get(NULL, "a"));
    st_free(NULL);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_file),
        cmocka_unit_test(test_header_longer_than_file),
        cmocka_unit_test(test_json_syntax),
        cmocka_unit_test(test_json_strings),
        cmocka_unit_test(test_json_numbers),
        cmocka_unit_test(test_header_not_object),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_duplicate_names),
        cmocka_unit_test(test_dtype),
        cmocka_unit_test(test_shape_form),
        cmocka_unit_test(test_shape_huge),
        cmocka_unit_test(test_shape_not_integers),
        cmocka_unit_test(test_offsets_form),
        cmocka_unit_test(test_offsets_begin_after_end),
        cmocka_unit_test(test_offsets_beyond_data),
        cmocka_unit_test(test_offsets_size_mismatch),
        cmocka_unit_test(test_overlap),
        cmocka_unit_test(test_gaps),
        cmocka_unit_test(test_metadata_form),
        cmocka_unit_test(test_tensor_entry_keys),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_byte_mutations),
        cmocka_unit_test(test_null_arguments),
    };
    return cmocka_run_group_tests_name("safetensors_hostile", tests, NULL, NULL);
}
