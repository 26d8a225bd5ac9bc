/* The safetensors format (src/rl/safetensors*.c), no device needed: round
 * trips through memory and disk, encoding, and the atomic save. The
 * hostile files are in test_safetensors_hostile.c. */
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
#include "safetensors_util.h"

static char dir[64];  /* scratch directory for the file tests */

/* ---- helpers ------------------------------------------------------------- */

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
    };
    return cmocka_run_group_tests_name("safetensors", tests, group_setup, group_teardown);
}
