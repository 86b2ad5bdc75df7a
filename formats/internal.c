/*
 * internal.c - helpers shared by the formats/ sources.
 */
#include "formats/internal.h"

#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void pvrr_formats_errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int pvrr_formats_check_ident(const void *buf, size_t len, char *err, size_t errlen)
{
    const unsigned char *b = buf;
    size_t n = len < SELFMAG ? len : SELFMAG;

    if (len == 0) {
        pvrr_formats_errf(err, errlen, "empty file (0 bytes), not an ELF file");
        return -1;
    }
    if (buf == NULL || memcmp(b, ELFMAG, n) != 0) {
        pvrr_formats_errf(err, errlen, "not an ELF file (bad magic)");
        return -1;
    }
    /* Report the class and byte order before the length: a 52-byte ELF32
     * header is better described as 32-bit than as truncated. */
    if (len > EI_CLASS && b[EI_CLASS] != ELFCLASS64) {
        if (b[EI_CLASS] == ELFCLASS32)
            pvrr_formats_errf(err, errlen, "ELF class 32-bit, need 64-bit");
        else
            pvrr_formats_errf(err, errlen, "ELF class %u (invalid), need 64-bit (%u)", b[EI_CLASS],
                              ELFCLASS64);
        return -1;
    }
    if (len > EI_DATA && b[EI_DATA] != ELFDATA2LSB) {
        if (b[EI_DATA] == ELFDATA2MSB)
            pvrr_formats_errf(err, errlen, "ELF data big-endian, need little-endian");
        else
            pvrr_formats_errf(err, errlen,
                              "ELF data encoding %u (invalid), need little-endian (%u)", b[EI_DATA],
                              ELFDATA2LSB);
        return -1;
    }
    if (len > EI_VERSION && b[EI_VERSION] != EV_CURRENT) {
        pvrr_formats_errf(err, errlen, "ELF version %u, need %u (EV_CURRENT)", b[EI_VERSION],
                          EV_CURRENT);
        return -1;
    }
    if (len < sizeof(Elf64_Ehdr)) {
        pvrr_formats_errf(err, errlen, "truncated ELF header: the file is %zu bytes, need %zu", len,
                          sizeof(Elf64_Ehdr));
        return -1;
    }
    return 0;
}
