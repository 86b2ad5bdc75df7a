/*
 * internal.h - helpers shared by the formats/ sources; not a public interface.
 */
#ifndef PVRR_FORMATS_INTERNAL_H
#define PVRR_FORMATS_INTERNAL_H

#include <stddef.h>

/*
 * Format a message into (err, errlen) like snprintf, truncating if needed.
 * Does nothing when err is NULL or errlen is 0, so callers may pass either.
 */
void pvrr_formats_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Check the parts of an ELF header that every reader in formats/ requires:
 * (buf, len) is non-empty, starts with the ELF magic, is ELFCLASS64,
 * little-endian, EV_CURRENT, and holds a whole 64-byte ELF64 header.
 * Machine and type are left to the caller. Returns 0, or -1 with a message in
 * (err, errlen).
 */
int pvrr_formats_check_ident(const void *buf, size_t len, char *err, size_t errlen);

#endif /* PVRR_FORMATS_INTERNAL_H */
