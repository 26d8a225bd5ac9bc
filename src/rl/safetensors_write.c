/* Writing safetensors files: the encoder and the atomic save. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "rl/safetensors_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    char *p = s->oom ? NULL : sti_grow(s->p, &s->cap, s->len + n, 1);
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

/* The escape of byte c in a JSON string into esc (NUL-terminated), and its
 * length; 0 when c goes as it is (UTF-8 passes through: it was checked). */
static size_t json_escape(unsigned char c, char esc[8])
{
    static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
    const char *hit = c ? strchr(from, c) : NULL;
    if (hit) {
        esc[0] = '\\';
        esc[1] = to[hit - from];
        esc[2] = 0;
        return 2;
    }
    if (c < 0x20) {
        snprintf(esc, 8, "\\u%04x", (unsigned)c);
        return 6;
    }
    return 0;
}

/* src as a JSON string: quotes, backslashes and control bytes escaped, runs
 * of other bytes copied whole. */
static void sb_json(sbuf *s, const char *src)
{
    char esc[8];
    sb_put(s, "\"", 1);
    const char *run = src;
    for (const char *c = src; *c; c++) {
        size_t m = json_escape((unsigned char)*c, esc);
        if (m) {
            sb_put(s, run, (size_t)(c - run));
            sb_put(s, esc, m);
            run = c + 1;
        }
    }
    sb_put(s, run, strlen(run));
    sb_put(s, "\"", 1);
}

size_t st_json_len(const char *src)
{
    char esc[8];
    size_t n = 2;
    for (const unsigned char *c = (const unsigned char *)src; c && *c; c++) {
        size_t m = json_escape(*c, esc);
        n += m ? m : 1;
    }
    return n;
}

static int check_inputs(const char *who, const st_tensor *t, size_t n, const st_meta *meta, size_t nmeta,
                        size_t *data_bytes, char *err, size_t errsz)
{
    *data_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = t[i].name;
        size_t len = name ? strlen(name) : 0, bytes = (size_t)t[i].rows * t[i].cols;
        if (len == 0 || len > ST_NAME_MAX)
            return sti_fail(err, errsz, who, "tensor %zu: name must be 1 to %d bytes, it is %zu", i, ST_NAME_MAX, len);
        if (!sti_utf8_valid(name, len) || strcmp(name, "__metadata__") == 0)
            return sti_fail(err, errsz, who, "tensor %zu: name is not valid UTF-8 or is \"__metadata__\"", i);
        if ((t[i].rows && bytes / t[i].rows != t[i].cols) || bytes > (SIZE_MAX - *data_bytes) / 4)
            return sti_fail(err, errsz, who, "tensor '%s': %" PRIu32 "x%" PRIu32 " is too large", name, t[i].rows,
                            t[i].cols);
        if (bytes && !t[i].data)
            return sti_fail(err, errsz, who, "tensor '%s': data is NULL", name);
        *data_bytes += bytes * 4;
        for (size_t j = 0; j < i; j++)
            if (strcmp(t[j].name, name) == 0)
                return sti_fail(err, errsz, who, "duplicate tensor name '%s'", name);
    }
    for (size_t i = 0; i < nmeta; i++) {
        if (!meta[i].key || !meta[i].value || !sti_utf8_valid(meta[i].key, strlen(meta[i].key)) ||
            !sti_utf8_valid(meta[i].value, strlen(meta[i].value)))
            return sti_fail(err, errsz, who, "metadata entry %zu: key and value must be non-NULL UTF-8 strings", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(meta[j].key, meta[i].key) == 0)
                return sti_fail(err, errsz, who, "duplicate metadata key '%s'", meta[i].key);
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
        return sti_fail(err, errsz, who, "out and len must not be NULL");
    *out = NULL;
    *len = 0;
    if ((!t && n) || (!meta && nmeta))
        return sti_fail(err, errsz, who, "tensors or metadata is NULL with a non-zero count");
    if (check_inputs(who, t, n, meta, nmeta, &data_bytes, err, errsz))
        return -1;
    sbuf h = {0};
    build_header(&h, t, n, meta, nmeta);
    if (!h.oom && h.len > ST_HEADER_MAX) {
        free(h.p);
        return sti_fail(err, errsz, who, "header would be %zu bytes, over the limit of %u", h.len, ST_HEADER_MAX);
    }
    unsigned char *b = h.oom || data_bytes > SIZE_MAX - 8 - h.len ? NULL : malloc(8 + h.len + data_bytes);
    if (!b) {
        free(h.p);
        return sti_fail(err, errsz, who, "out of memory encoding %zu bytes of tensor data", data_bytes);
    }
    sti_put_u64le(b, h.len);
    memcpy(b + 8, h.p, h.len);
    unsigned char *d = b + 8 + h.len;
    for (size_t i = 0; i < n; i++) {
        size_t count = (size_t)t[i].rows * t[i].cols;
        if (count)
            sti_copy_le32(d, t[i].data, count);
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
        return sti_fail(err, errsz, tmp, "cannot create: %s", sti_sys_err(errno, why, sizeof why));
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
        return sti_fail(err, errsz, tmp, "%s: %s", what, sti_sys_err(e, why, sizeof why));
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
        return sti_fail(err, errsz, path, "out of memory");
    memcpy(dir, slash ? path : ".", n);
    dir[n] = 0;
    int rc = 0, fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
        rc = sti_fail(err, errsz, path, "written, but syncing its directory '%s' failed: %s", dir,
                      sti_sys_err(errno, why, sizeof why));
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
        return sti_fail(err, errsz, "safetensors", "st_save: path is NULL or empty");
    if (encode(path, tensors, n, meta, nmeta, &buf, &len, err, errsz))
        return -1;
    size_t tlen = strlen(path) + 32;
    char *tmp = malloc(tlen);
    if (!tmp) {
        free(buf);
        return sti_fail(err, errsz, path, "out of memory");
    }
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    int rc = write_synced(tmp, buf, len, err, errsz);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = sti_fail(err, errsz, path, "cannot replace it with '%s': %s", tmp, sti_sys_err(errno, why, sizeof why));
    if (rc != 0)
        unlink(tmp);
    else
        rc = sync_dir(path, err, errsz);
    free(tmp);
    free(buf);
    return rc;
}
