/*
 * pvlog_internal.h - constants and helpers shared by the pvlog writer and
 * reader. Every number here is specified in formats/pvlog.md; change both
 * together (and bump PVLOG_FORMAT_VERSION on any incompatible change).
 */
#ifndef PVRR_PVLOG_INTERNAL_H
#define PVRR_PVLOG_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pvlog/pvlog.h"

/* ---- file layout (formats/pvlog.md) ---- */

#define PVLOG_MAGIC "PVRRLOG\0" /* 8 bytes at offset 0 */
#define PVLOG_MAGIC_LEN 8u
#define PVLOG_FORMAT_VERSION 1u
#define PVLOG_HEADER_SIZE 64u

#define PVLOG_META_FIXED 64u /* fixed part of the metadata section */

#define PVLOG_FRAME_MAGIC 0x52465650u /* "PVFR" as a little-endian u32 */
#define PVLOG_FRAME_HEADER_SIZE 72u
#define PVLOG_FRAME_F_END 0x1u /* the frame's last event is the END event */

#define PVLOG_INDEX_MAGIC 0x58495650u /* "PVIX" as a little-endian u32 */
#define PVLOG_INDEX_HEADER_SIZE 24u
#define PVLOG_INDEX_ENTRY_SIZE 40u
#define PVLOG_INDEX_F_END 0x1u /* the log holds the END event */

#define PVLOG_TRAILER_MAGIC "PVRREND\0"
#define PVLOG_TRAILER_SIZE 32u

/* Columns of a frame payload, in payload order. */
enum pvlog_col {
    COL_OPS = 0, /* one op byte per event */
    COL_NR,      /* varint hypercall numbers, when not OP_NR_SAME */
    COL_RIP,     /* zigzag varint rip deltas, when not OP_RIP_SAME */
    COL_ARG,     /* zigzag varint arg_gpa deltas (per slot), when not OP_ARG_SAME */
    COL_DIG,     /* u64 in_digest values, when not OP_DIG_SAME */
    COL_REGS8,   /* one regs8 byte per hypercall event */
    COL_WDESC,   /* write descriptors: varint count, then (zigzag gpa delta, varint len) */
    COL_WDATA,   /* concatenated write data */
    COL_END,     /* END records, PVLOG_END_RECORD bytes each */
    COL_COUNT
};
#define PVLOG_DIR_SIZE (4u * COL_COUNT) /* column directory: one u32 length each */
#define PVLOG_END_RECORD 29u            /* u8 reason, i32 status, 3 x u64 */

/* Op byte: bits 0-1 kind, then flags (hypercall events only). */
#define OP_KIND_MASK 0x03u
#define OP_NR_SAME 0x04u   /* nr equals the previous hypercall's nr in the frame */
#define OP_RIP_SAME 0x08u  /* rip equals the previous hypercall's rip in the frame */
#define OP_ARG_SAME 0x10u  /* arg_gpa equals the slot's previous arg_gpa */
#define OP_DIG_SAME 0x20u  /* in_digest equals the slot's previous in_digest */
#define OP_NO_WRITES 0x40u /* nwrites == 0 */
#define OP_RESERVED 0x80u
#define PVLOG_SLOTS 256u /* per-slot state is keyed by nr & 0xff */

/* ---- limits: the writer refuses more, the reader rejects more ---- */
#define PVLOG_STRING_MAX (64u << 10) /* cmdline, elf_name, pvrr_version */
#define PVLOG_CPUID_MAX (1u << 20)   /* CPUID table bytes */
#define PVLOG_ELF_MAX (1ull << 30)   /* embedded ELF bytes */
#define PVLOG_META_MAX                                                                             \
    (PVLOG_META_FIXED + 3ull * PVLOG_STRING_MAX + PVLOG_CPUID_MAX + PVLOG_ELF_MAX)
#define PVLOG_FRAME_BYTES_DEFAULT (64u << 10)
#define PVLOG_FRAME_BYTES_MIN 64u
#define PVLOG_FRAME_BYTES_MAX (16u << 20)

/* ---- little-endian access (unaligned-safe; the compiler makes single moves) ---- */
static inline uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}
static inline void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* Zigzag maps a signed delta (two's complement in a u64) to an unsigned value
 * with small magnitudes near 0: 0,-1,1,-2 -> 0,1,2,3. Unsigned only: no UB. */
static inline uint64_t zigzag(uint64_t d)
{
    return (d << 1) ^ (0 - (d >> 63));
}
static inline uint64_t unzigzag(uint64_t z)
{
    return (z >> 1) ^ (0 - (z & 1));
}

/* Store (v) as a LEB128 varint at (p), at most 10 bytes; returns bytes used. */
static inline size_t varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Checksums: XXH3_64bits with seed 0 (formats/pvlog.md, "Checksums"). */
uint64_t pvlog_xxh3(const void *p, size_t n);

/* Fill (err) (may be NULL) and return (st). (frame) is -1 outside frames. */
enum pvlog_status pvlog_fail(struct pvlog_error *err, enum pvlog_status st, uint64_t offset,
                             int64_t frame, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Reset (err) to PVLOG_OK with an empty message. */
void pvlog_clear(struct pvlog_error *err);

#endif /* PVRR_PVLOG_INTERNAL_H */
