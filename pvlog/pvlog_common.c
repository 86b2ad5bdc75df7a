/*
 * pvlog_common.c - status names, error reporting and checksums shared by the
 * pvlog writer and reader.
 */
#include <stdio.h>

#include <xxhash.h>

#include "pvlog/pvlog_internal.h"

uint64_t pvlog_xxh3(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

enum pvlog_status pvlog_fail(struct pvlog_error *err, enum pvlog_status st, uint64_t offset,
                             int64_t frame, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->status = st;
        err->offset = offset;
        err->frame = frame;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return st;
}

void pvlog_clear(struct pvlog_error *err)
{
    if (err) {
        err->status = PVLOG_OK;
        err->offset = 0;
        err->frame = -1;
        err->msg[0] = '\0';
    }
}

const char *pvlog_status_str(enum pvlog_status s)
{
    switch (s) {
    case PVLOG_OK:
        return "ok";
    case PVLOG_END:
        return "end of log";
    case PVLOG_ENOTPVLOG:
        return "not a pvlog file";
    case PVLOG_EVERSION:
        return "unsupported pvlog version";
    case PVLOG_ECORRUPT:
        return "corrupt pvlog";
    case PVLOG_ETRUNCATED:
        return "truncated pvlog";
    case PVLOG_EIO:
        return "I/O error";
    case PVLOG_EINVAL:
        return "invalid argument";
    case PVLOG_ENOMEM:
        return "out of memory";
    }
    return "unknown pvlog status";
}
