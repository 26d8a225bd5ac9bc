/* Writes the fuzzer's seed corpus into the directory given: valid files
 * from st_encode (escapes, unicode, empty and 1-D tensors, metadata, a
 * checkpoint's replay.* tensors with its replay counts and caller's
 * metadata string) and a few hand-written headers that reach the rarer
 * branches (surrogate pairs, whitespace, 1-D shapes, nesting, bad
 * numbers, a NUL in the metadata, metadata that is not a string). Usage:
 * make_seeds DIR */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rl/safetensors.h"

static int write_seed(const char *dir, int i, const void *b, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/seed_%02d", dir, i);
    FILE *fp = fopen(path, "wb");
    int ok = fp && fwrite(b, 1, len, fp) == len;
    if (fp && fclose(fp) != 0)
        ok = 0;
    if (!ok)
        fprintf(stderr, "make_seeds: cannot write %s\n", path);
    return ok ? 0 : -1;
}

static int encoded(const char *dir, int i, const st_tensor *t, size_t n, const st_meta *m, size_t nm)
{
    void *b;
    size_t len;
    char err[256];
    if (st_encode(t, n, m, nm, &b, &len, err, sizeof err) != 0) {
        fprintf(stderr, "make_seeds: %s\n", err);
        return -1;
    }
    int rc = write_seed(dir, i, b, len);
    free(b);
    return rc;
}

/* A file from header text and data_len bytes of a ramp. */
static int raw(const char *dir, int i, const char *json, size_t data_len)
{
    size_t n = strlen(json), len = 8 + n + data_len;
    unsigned char *b = malloc(len);
    if (!b)
        return -1;
    for (int k = 0; k < 8; k++)
        b[k] = (unsigned char)((uint64_t)n >> (8 * k));
    memcpy(b + 8, json, n);
    for (size_t k = 0; k < data_len; k++)
        b[8 + n + k] = (unsigned char)k;
    int rc = write_seed(dir, i, b, len);
    free(b);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 2;
    }
    const char *d = argv[1];
    static const float v[24] = {1, -2, 3.5f, 0, -0.0f, 1e-38f, 3e38f, 7, 8, 9, 10, 11,
                                12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};
    const st_tensor base[] = {{"a", 2, 3, v}, {"b", 1, 4, v}};
    const st_meta cfg[] = {{"cfg", "x"}};
    const st_tensor many[] = {{"actor.proj_in.weight", 4, 3, v}, {"actor.proj_in.bias", 1, 3, v},
                              {"q\"uo\\te\t\n\x01", 2, 2, v}, {"h\xc3\xa9llo \xf0\x9f\x98\x80", 1, 1, v},
                              {"empty", 0, 7, NULL}, {"col", 5, 1, v}};
    const st_meta meta[] = {{"config", "{\"hidden\": 256}"}, {"\xce\xbb", "\xe2\x88\x9e \\ \" \n"},
                            {"", ""}};
    /* A checkpoint's replay buffer (docs/checkpoint.md): 3 slots of a
     * 2-state, 1-continuous, 2-head agent, and the caller's metadata with
     * every kind of escape and UTF-8. */
    static const float rb[12] = {0.5f, -1, 2, 0.25f, 1, 0, 0, 1, 1, 0, 0, 1};
    const st_tensor replay[] = {{"replay.states", 3, 2, v},         {"replay.cont_actions", 3, 1, v + 6},
                                {"replay.discrete_actions", 3, 2, rb + 4}, {"replay.rewards", 3, 1, rb},
                                {"replay.terminated", 3, 1, rb + 6}, {"replay.truncated", 3, 1, rb + 9},
                                {"replay.next_states", 3, 2, v + 12}, {"replay.empty", 0, 2, NULL}};
    const st_meta replay_meta[] = {
        {"format", "vksac-checkpoint-1"}, {"kind", "full"}, {"replay.count", "7"}, {"replay.head", "3"},
        {"user", "{\"step\": 7, \"env\": \"a \\\"b\\\" \\\\ c\", \"rng\": [1, 2]}\n\t\x01\x1f\x7f "
                 "\xc3\xa9 \xe2\x88\x9e \xf0\x9f\x98\x80 \xef\xbf\xbf"}};
    int rc = 0;
    rc |= encoded(d, 0, base, 2, cfg, 1);
    rc |= encoded(d, 1, many, 6, meta, 3);
    rc |= encoded(d, 2, NULL, 0, NULL, 0);
    rc |= encoded(d, 3, many + 4, 1, NULL, 0);
    rc |= raw(d, 4, "{ \"__metadata__\" : { \"k\\u00e9\" : \"\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\" } ,\r\n"
                    "\t\"v\" : { \"shape\" : [ 3 ] , \"data_offsets\" : [ 0 , 12 ] , \"dtype\" : \"F32\" } }  ", 12);
    rc |= raw(d, 5, "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,32]},"
                    "\"y\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 32);
    rc |= raw(d, 6, "{\"x\":{\"dtype\":\"F32\",\"shape\":[1.5e3,-2],\"data_offsets\":[0,18446744073709551616]}}", 8);
    rc |= raw(d, 7, "{\"__metadata__\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 0);
    rc |= raw(d, 8, "{\"x\":{\"dtype\":\"F32\",\"shape\":[0,0],\"data_offsets\":[0,0]},"
                    "\"z\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[0,4]}}", 4);
    rc |= encoded(d, 9, replay, 8, replay_meta, 5);
    rc |= raw(d, 10, "{\"__metadata__\":{\"replay.count\":\"0\",\"replay.head\":\"0\",\"user\":"
                     "\"\\u001fx\\ud800\\udc00\\u00e9\\\"\\\\\"},"
                     "\"replay.states\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[0,0]}}", 0);
    rc |= raw(d, 11, "{\"__metadata__\":{\"user\":12345},\"replay.rewards\":{\"dtype\":\"F32\",\"shape\":[2,1],"
                     "\"data_offsets\":[0,8]}}", 8);
    return rc ? 1 : 0;
}
