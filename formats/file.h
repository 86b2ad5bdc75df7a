/*
 * file.h - read whole files into memory, with a size cap.
 */
#ifndef PVRR_FORMATS_FILE_H
#define PVRR_FORMATS_FILE_H

#include <stddef.h>

/*
 * Read the whole file at (path) into a new malloc'd buffer, refusing files
 * larger than (max) bytes. Works on regular files and on pipes (the size is
 * not trusted: the file is read to its end). On success stores the buffer in
 * (*buf) (free() it; never NULL, even for an empty file) and its length in
 * (*len), and returns 0. On failure returns -1 with (*buf) NULL, (*len) 0 and
 * a message in (err, errlen) naming the path, e.g.
 * "guest.elf: No such file or directory" or
 * "guest.elf: larger than the 1048576-byte limit".
 */
int pvrr_read_file(const char *path, size_t max, void **buf, size_t *len, char *err, size_t errlen);

#endif /* PVRR_FORMATS_FILE_H */
