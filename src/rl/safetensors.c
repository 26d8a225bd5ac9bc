/* The safetensors checkpoint format (safetensors.h): loading and lookups.
 * The JSON reader is in safetensors_json.c, the schema and layout checks
 * in safetensors_schema.c, the writer and the atomic save in
 * safetensors_write.c. Only libc and POSIX, so tests/fuzz/ can compile
 * these files alone. */
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
#include <sys/stat.h>
#include <unistd.h>

/* ---- loading ------------------------------------------------------------ */

int st_parse(const void *bytes, size_t len, st_file **out, char *err, size_t errsz)
{
    if (!out)
        return sti_fail(err, errsz, "safetensors", "st_parse: out must not be NULL");
    *out = NULL;
    if (!bytes && len)
        return sti_fail(err, errsz, "safetensors", "st_parse: bytes is NULL");
    return sti_parse_file(bytes ? bytes : "", len, "safetensors", out, err, errsz);
}

/* The whole of a regular file, in a malloc'd buffer. */
static int read_all(const char *path, unsigned char **buf, size_t *len, char *err, size_t errsz)
{
    char why[128];
    struct stat st;
    *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sti_fail(err, errsz, path, "cannot open: %s", sti_sys_err(errno, why, sizeof why));
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
    return sti_fail(err, errsz, path, "%s%s%s", what, e ? ": " : "", e ? sti_sys_err(e, why, sizeof why) : "");
}

int st_load(const char *path, st_file **out, char *err, size_t errsz)
{
    if (!out)
        return sti_fail(err, errsz, "safetensors", "st_load: out must not be NULL");
    *out = NULL;
    if (!path || !*path)
        return sti_fail(err, errsz, "safetensors", "st_load: path is NULL or empty");
    unsigned char *buf;
    size_t len;
    if (read_all(path, &buf, &len, err, errsz))
        return -1;
    int rc = sti_parse_file(buf, len, path, out, err, errsz);
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
        return sti_fail(err, errsz, "safetensors", "st_expect: name and data must not be NULL");
    const st_tensor *t = st_find(f, name);
    *data = NULL;
    if (t && t->rows == rows && t->cols == cols) {
        *data = t->data;
        return 0;
    }
    if (!err || errsz == 0)
        return -1;
    sti_show(name, strlen(name), shown, sizeof shown);
    if (!t)
        snprintf(err, errsz, "tensor '%s' is missing", shown);
    else
        snprintf(err, errsz, "tensor '%s' has shape [%" PRIu32 ", %" PRIu32 "], expected [%" PRIu32 ", %" PRIu32
                 "]", shown, t->rows, t->cols, rows, cols);
    return -1;
}
