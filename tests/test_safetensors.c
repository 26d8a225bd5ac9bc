/* The safetensors format (src/rl/safetensors.c), no device needed: round
 * trips through memory and disk, the atomic save, and one test per way a
 * hostile file can be wrong, each asserting the message names the fault.
 * Most hostile files are a valid st_encode output edited in place (the
 * header length field fixed up), so each differs from a good file by
 * exactly the fault under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rl/safetensors.h"

static char err[512];
static char dir[64];  /* scratch directory for the file tests */

/* ---- helpers ------------------------------------------------------------- */

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

static st_file *parses(const unsigned char *b, size_t len)
{
    st_file *f = NULL;
    if (st_parse(b, len, &f, err, sizeof err) != 0)
        fail_msg("parse failed: %s", err);
    return f;
}

static void same_floats(const float *got, const float *want, size_t n)
{
    assert_true(n == 0 || memcmp(got, want, n * sizeof *got) == 0);
}

static char *path_in_dir(const char *name)
{
    static char p[sizeof dir + 260];  /* a d_name is at most 256 bytes */
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* Names in the scratch directory, joined by ' ' ("" when empty). */
static const char *dir_listing(void)
{
    static char out[1024];
    out[0] = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            strncat(out, out[0] ? " " : "", sizeof out - strlen(out) - 1);
            strncat(out, e->d_name, sizeof out - strlen(out) - 1);
        }
    }
    closedir(d);
    return out;
}

static int group_setup(void **state)
{
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/vksac_st_XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            remove(path_in_dir(e->d_name));
    if (d)
        closedir(d);
    return rmdir(dir);
}

/* ---- round trips ----------------------------------------------------------- */

static void test_roundtrip_memory(void **state)
{
    (void)state;
    float big[7 * 13], special[4] = {INFINITY, -INFINITY, NAN, -0.0f};
    for (int i = 0; i < 7 * 13; i++)
        big[i] = (float)i * 0.37f - 11.0f;
    const st_tensor t[] = {
        {"actor.proj_in.weight", 7, 13, big},
        {"quote\"back\\slash\ttab\nnl\x01", 1, 4, special},
        {"h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80", 2, 3, a_data},
        {"empty", 0, 5, NULL},
        {"one", 1, 1, b_data},
    };
    const st_meta m[] = {{"config", "{\"hidden\": 256, \"note\": \"a\\\\b\"}"},
                         {"unicode \xce\xbb", "\xe2\x88\x9e"}};
    void *buf;
    size_t len;
    assert_int_equal(st_encode(t, 5, m, 2, &buf, &len, err, sizeof err), 0);
    assert_int_equal((8 + header_len(buf)) % 8, 0);
    assert_int_equal(len, 8 + header_len(buf) + 4 * (7 * 13 + 4 + 6 + 0 + 1));
    st_file *f = parses(buf, len);
    assert_int_equal(st_count(f), 5);
    for (size_t i = 0; i < 5; i++) {
        const st_tensor *g = st_tensor_at(f, i);
        assert_string_equal(g->name, t[i].name);
        assert_ptr_equal(st_find(f, t[i].name), g);
        assert_int_equal(g->rows, t[i].rows);
        assert_int_equal(g->cols, t[i].cols);
        same_floats(g->data, t[i].data, (size_t)t[i].rows * t[i].cols);
    }
    assert_null(st_tensor_at(f, 5));
    assert_null(st_find(f, "nope"));
    assert_int_equal(st_meta_count(f), 2);
    assert_string_equal(st_meta_get(f, "config"), m[0].value);
    assert_string_equal(st_meta_get(f, "unicode \xce\xbb"), "\xe2\x88\x9e");
    assert_string_equal(st_meta_at(f, 1)->key, m[1].key);
    assert_null(st_meta_get(f, "missing"));
    st_free(f);
    free(buf);
}

/* Escapes written by other writers decode to UTF-8: \uXXXX, a surrogate
 * pair, \/ and the one-letter escapes; 1-D shapes load as 1xN. */
static void test_parse_escapes_and_1d(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = with_header(
        "{\"__metadata__\":{\"k\\u00e9\":\"\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\\\"\\\\\"},\n"
        " \"v\\u4e16\" : { \"shape\" : [ 3 ] , \"data_offsets\":[0,12], \"dtype\":\"F32\"} }   ",
        12, &len);
    st_file *f = parses(b, len);
    assert_string_equal(st_meta_get(f, "k\xc3\xa9"), "\xf0\x9f\x98\x80/\b\f\n\r\t\"\\");
    const st_tensor *t = st_find(f, "v\xe4\xb8\x96");
    assert_non_null(t);
    assert_int_equal(t->rows, 1);
    assert_int_equal(t->cols, 3);
    assert_true(t->data[0] == 0.0f && t->data[2] == 0.0f);
    st_free(f);
    free(b);
}

/* The editing helper itself: an identity edit and a 1-D shape both load. */
static void test_edit_helper(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = edited("[2,3]", "[2,3]", &len);
    st_file *f = parses(b, len);
    same_floats(st_find(f, "a")->data, a_data, 6);
    same_floats(st_find(f, "b")->data, b_data, 4);
    st_free(f);
    free(b);
    b = edited("[1,4]", "[ 4 ]", &len);
    f = parses(b, len);
    assert_int_equal(st_find(f, "b")->rows, 1);
    assert_int_equal(st_find(f, "b")->cols, 4);
    same_floats(st_find(f, "b")->data, b_data, 4);
    st_free(f);
    free(b);
}

static void test_no_tensors(void **state)
{
    (void)state;
    void *buf;
    size_t len;
    assert_int_equal(st_encode(NULL, 0, NULL, 0, &buf, &len, err, sizeof err), 0);
    st_file *f = parses(buf, len);
    assert_int_equal(st_count(f), 0);
    assert_int_equal(st_meta_count(f), 0);
    st_free(f);
    free(buf);
}

static void test_expect(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = valid_file(&len);
    st_file *f = parses(b, len);
    const float *d;
    assert_int_equal(st_expect(f, "a", 2, 3, &d, err, sizeof err), 0);
    same_floats(d, a_data, 6);
    assert_int_equal(st_expect(f, "actor.proj_in.weight", 2, 3, &d, err, sizeof err), -1);
    assert_string_equal(err, "tensor 'actor.proj_in.weight' is missing");
    assert_null(d);
    assert_int_equal(st_expect(f, "a", 2, 4, &d, err, sizeof err), -1);
    assert_string_equal(err, "tensor 'a' has shape [2, 3], expected [2, 4]");
    assert_int_equal(st_expect(f, "a", 2, 4, &d, NULL, 0), -1);
    st_free(f);
    free(b);
}

static void test_roundtrip_file(void **state)
{
    (void)state;
    const st_tensor t[] = {{"w", 2, 3, a_data}, {"b", 1, 4, b_data}};
    const st_meta m[] = {{"step", "1200"}};
    const char *p = path_in_dir("rt.safetensors");
    assert_int_equal(st_save(p, t, 2, m, 1, err, sizeof err), 0);
    st_file *f = NULL;
    if (st_load(p, &f, err, sizeof err))
        fail_msg("load: %s", err);
    assert_int_equal(st_count(f), 2);
    same_floats(st_find(f, "w")->data, a_data, 6);
    same_floats(st_find(f, "b")->data, b_data, 4);
    assert_string_equal(st_meta_get(f, "step"), "1200");
    st_free(f);
    remove(p);
}

/* ---- the atomic save ------------------------------------------------------- */

static void test_save_leaves_no_temp(void **state)
{
    (void)state;
    const st_tensor t[] = {{"w", 2, 3, a_data}};
    assert_string_equal(dir_listing(), "");
    assert_int_equal(st_save(path_in_dir("c.safetensors"), t, 1, NULL, 0, err, sizeof err), 0);
    assert_string_equal(dir_listing(), "c.safetensors");
    remove(path_in_dir("c.safetensors"));
}

static void test_save_missing_dir(void **state)
{
    (void)state;
    const st_tensor t[] = {{"w", 2, 3, a_data}};
    char p[256];
    snprintf(p, sizeof p, "%s/no/such/dir/c.safetensors", dir);
    assert_int_equal(st_save(p, t, 1, NULL, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, p));
    assert_non_null(strstr(err, "cannot create"));
    assert_non_null(strstr(err, strerror(ENOENT)));
    assert_string_equal(dir_listing(), "");
}

/* The rename fails (the target is a non-empty directory) after the
 * temporary file was written: it must be gone afterwards. */
static void test_save_failed_rename_removes_temp(void **state)
{
    (void)state;
    const st_tensor t[] = {{"w", 2, 3, a_data}};
    char *p = path_in_dir("taken");
    assert_int_equal(mkdir(p, 0700), 0);
    char inner[sizeof dir + 270];
    snprintf(inner, sizeof inner, "%s/x", p);
    FILE *fp = fopen(inner, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(st_save(p, t, 1, NULL, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot replace"));
    assert_non_null(strstr(err, p));
    assert_string_equal(dir_listing(), "taken");
    remove(inner);
    rmdir(p);
}

/* Replacing goes through a new inode: a reader holding the old file keeps
 * seeing it whole, and the path then holds exactly the new file. */
static void test_save_replaces_whole(void **state)
{
    (void)state;
    float big[1000];
    for (int i = 0; i < 1000; i++)
        big[i] = (float)i;
    const st_tensor old_t[] = {{"w", 10, 100, big}}, new_t[] = {{"w", 2, 3, a_data}};
    const char *p = path_in_dir("r.safetensors");
    assert_int_equal(st_save(p, old_t, 1, NULL, 0, err, sizeof err), 0);
    void *old_bytes, *new_bytes;
    size_t old_len, new_len;
    assert_int_equal(st_encode(old_t, 1, NULL, 0, &old_bytes, &old_len, err, sizeof err), 0);
    assert_int_equal(st_encode(new_t, 1, NULL, 0, &new_bytes, &new_len, err, sizeof err), 0);
    int fd = open(p, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(st_save(p, new_t, 1, NULL, 0, err, sizeof err), 0);
    unsigned char *seen = malloc(old_len + 1);
    assert_int_equal(read(fd, seen, old_len + 1), (ssize_t)old_len);
    assert_memory_equal(seen, old_bytes, old_len);
    close(fd);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, new_len);
    st_file *f = NULL;
    assert_int_equal(st_load(p, &f, err, sizeof err), 0);
    assert_int_equal(st_find(f, "w")->rows, 2);
    same_floats(st_find(f, "w")->data, a_data, 6);
    assert_string_equal(dir_listing(), "r.safetensors");
    st_free(f);
    free(seen);
    free(old_bytes);
    free(new_bytes);
    remove(p);
}

static void test_load_errors(void **state)
{
    (void)state;
    st_file *f = (st_file *)1;
    char *p = path_in_dir("absent.safetensors");
    assert_int_equal(st_load(p, &f, err, sizeof err), -1);
    assert_null(f);
    assert_non_null(strstr(err, p));
    assert_non_null(strstr(err, strerror(ENOENT)));
    assert_int_equal(st_load(dir, &f, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    /* Load errors start with the path, parse errors with "safetensors". */
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    fwrite("abc", 1, 3, fp);
    fclose(fp);
    assert_int_equal(st_load(p, &f, err, sizeof err), -1);
    assert_true(strncmp(err, p, strlen(p)) == 0);
    assert_non_null(strstr(err, "shorter than the 8-byte"));
    remove(p);
}

static void test_encode_rejects_bad_input(void **state)
{
    (void)state;
    void *buf;
    size_t len;
    char long_name[ST_NAME_MAX + 2];
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    const struct { st_tensor t[2]; size_t n; const char *phrase; } cases[] = {
        {{{"", 1, 1, a_data}}, 1, "name must be 1 to 127 bytes"},
        {{{long_name, 1, 1, a_data}}, 1, "name must be 1 to 127 bytes"},
        {{{"bad\xff", 1, 1, a_data}}, 1, "not valid UTF-8"},
        {{{"__metadata__", 1, 1, a_data}}, 1, "\"__metadata__\""},
        {{{"x", 1, 1, NULL}}, 1, "data is NULL"},
        {{{"x", 1, 1, a_data}, {"x", 1, 1, a_data}}, 2, "duplicate tensor name 'x'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(st_encode(cases[i].t, cases[i].n, NULL, 0, &buf, &len, err, sizeof err), -1);
        if (!strstr(err, cases[i].phrase))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err, cases[i].phrase);
        assert_null(buf);
    }
    const st_tensor ok[] = {{long_name + 1, 1, 1, a_data}};
    assert_int_equal(st_encode(ok, 1, NULL, 0, &buf, &len, err, sizeof err), 0);
    free(buf);
    const st_meta dup[] = {{"k", "1"}, {"k", "2"}}, bad[] = {{"k", "\xc0\x80"}};
    assert_int_equal(st_encode(ok, 1, dup, 2, &buf, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "duplicate metadata key 'k'"));
    assert_int_equal(st_encode(ok, 1, bad, 1, &buf, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "UTF-8"));
    assert_int_equal(st_save(path_in_dir("bad"), ok, 1, bad, 1, err, sizeof err), -1);
    assert_string_equal(dir_listing(), "");
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
        cmocka_unit_test(test_roundtrip_memory),
        cmocka_unit_test(test_parse_escapes_and_1d),
        cmocka_unit_test(test_edit_helper),
        cmocka_unit_test(test_no_tensors),
        cmocka_unit_test(test_expect),
        cmocka_unit_test(test_roundtrip_file),
        cmocka_unit_test(test_save_leaves_no_temp),
        cmocka_unit_test(test_save_missing_dir),
        cmocka_unit_test(test_save_failed_rename_removes_temp),
        cmocka_unit_test(test_save_replaces_whole),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_encode_rejects_bad_input),
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
    return cmocka_run_group_tests_name("safetensors", tests, group_setup, group_teardown);
}
