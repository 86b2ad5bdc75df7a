/*
 * file.c - read whole files into memory, with a size cap.
 */
#include "formats/file.h"
#include "formats/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* First buffer size when the file size is unknown (pipes, /proc files). */
#define READ_CHUNK 65536u

int pvrr_read_file(const char *path, size_t max, void **buf, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    unsigned char *data = NULL;
    size_t cap, n = 0;
    int fd, saved;

    *buf = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pvrr_formats_errf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        pvrr_formats_errf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode)) {
        pvrr_formats_errf(err, errlen, "%s: %s", path, strerror(EISDIR));
        goto fail;
    }
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > max) {
        pvrr_formats_errf(err, errlen, "%s: %jd bytes, larger than the %zu-byte limit", path,
                          (intmax_t)st.st_size, max);
        goto fail;
    }
    /* One byte more than the expected size, so reaching the end needs no regrowth. */
    cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : READ_CHUNK;
    if (cap > max && max < SIZE_MAX)
        cap = max + 1;
    if (cap == 0)
        cap = 1;
    data = malloc(cap);
    if (data == NULL) {
        pvrr_formats_errf(err, errlen, "%s: out of memory for %zu bytes", path, cap);
        goto fail;
    }
    for (;;) {
        ssize_t r;

        if (n == cap) {
            size_t ncap;
            unsigned char *p;

            if (n > max) /* unreachable with the caps above; keeps the loop bounded */
                break;
            ncap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
            if (max < SIZE_MAX && ncap > max + 1)
                ncap = max + 1;
            p = realloc(data, ncap);
            if (p == NULL) {
                pvrr_formats_errf(err, errlen, "%s: out of memory for %zu bytes", path, ncap);
                goto fail;
            }
            data = p;
            cap = ncap;
        }
        r = read(fd, data + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            pvrr_formats_errf(err, errlen, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            pvrr_formats_errf(err, errlen, "%s: larger than the %zu-byte limit", path, max);
            goto fail;
        }
    }
    close(fd);
    *buf = data;
    *len = n;
    return 0;
fail:
    saved = errno;
    free(data);
    close(fd);
    errno = saved;
    return -1;
}
