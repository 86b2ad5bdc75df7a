/*
 * fuzz_reader.c - libFuzzer harness for the pvlog reader (built with
 * -DPVRR_FUZZ=ON under clang). The reader is compiled with PVLOG_FUZZING, so
 * checksums always match and mutations reach the header, index and column
 * parsers. The input is served from a memfd; the harness opens it, reads
 * every event (touching all write data), seeks to a few indexes derived from
 * the input and asks for stats.
 *
 * Seed corpus: small pvlog files (a few KiB fuzz best), e.g. written by the
 * library with a small frame size, or `pvrr record` logs of tiny guests.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pvlog/pvlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    struct pvlog_reader *r;
    struct pvlog_error err;
    struct pvlog_event ev;
    struct pvlog_stats st;
    char path[64];
    volatile uint8_t sink = 0;
    int n = 0;

    if (fd < 0)
        fd = memfd_create("pvlog-fuzz", 0);
    if (fd < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    if (pvlog_reader_open(&r, path, &err) != PVLOG_OK)
        return 0;
    sink ^= (uint8_t)pvlog_reader_meta(r)->cmdline[0];
    while (pvlog_reader_next(r, &ev, &err) == PVLOG_OK && n++ < 1000000) {
        for (uint32_t k = 0; k < ev.nwrites; k++)
            if (ev.writes[k].len)
                sink ^= ev.writes[k].data[0] ^ ev.writes[k].data[ev.writes[k].len - 1];
    }
    for (size_t i = 0; i < 4 && i < size; i++) {
        if (pvlog_reader_seek(r, data[size - 1 - i] % 64, &err) == PVLOG_OK)
            pvlog_reader_next(r, &ev, &err);
    }
    pvlog_reader_stats(r, &st, &err);
    pvlog_reader_close(r);
    (void)sink;
    return 0;
}
