/*
 * pvlog_reader.c - the pvlog reader.
 *
 * Safe on hostile files: every size read from the file is checked against a
 * format limit and against the file size before anything is allocated or
 * read, every checksum is verified before the bytes it covers are parsed,
 * every loop is bounded by a count that was checked that way, and arithmetic
 * on file values is unsigned and overflow-checked.
 *
 * The reader keeps a table of the frames it knows. With a valid index
 * (complete log) the table is filled at open; without one (truncated log,
 * damaged trailer) it grows as frame headers are scanned, each scan reading
 * one 72-byte header and skipping the payload, so a seek costs O(frames) at
 * worst and O(log frames) once the frames are known.
 *
 * Format: formats/pvlog.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "pvlog/pvlog_internal.h"

struct frame_ent {
    uint64_t off, first, chain_start, chain_end;
    uint32_t count, comp, raw, flags;
};

/* Decoding state of the loaded frame (mirrors the writer's encoder). */
struct decoder {
    const uint8_t *col[COL_COUNT];
    uint32_t len[COL_COUNT];
    uint32_t pos[COL_COUNT];
    uint32_t evi; /* next event within the frame */
    uint16_t last_nr;
    uint64_t last_rip;
    uint64_t slot_arg[PVLOG_SLOTS];
    uint64_t slot_dig[PVLOG_SLOTS];
};

struct pvlog_reader {
    int fd;
    uint64_t size;       /* file size at open */
    uint64_t frames_off; /* first frame */
    struct pvlog_meta meta;
    uint8_t *meta_buf;
    char *cmdline, *elf_name, *pvrr_version;

    struct frame_ent *fr; /* known frames, in order */
    size_t nfr, capfr;
    int have_index, index_has_end;
    uint64_t index_off, index_events;
    uint64_t scan_off; /* next header to scan (no index) */
    int scan_done;
    struct pvlog_error scan_err; /* why scanning stopped */

    int64_t cur; /* loaded frame, -1 if none */
    uint8_t *comp, *raw;
    size_t compcap, rawcap;
    ZSTD_DCtx *dctx;
    struct decoder d;
    struct pvlog_write *wr;
    size_t wrcap;

    uint64_t next_index;
    int ended;
    int failed; /* sticky error until the next successful seek */
    struct pvlog_error fail;
};

/* Does (stored) match the checksum of (p, n)? The fuzzing build
 * (PVLOG_FUZZING) accepts any value so that the fuzzer reaches the parsers
 * behind the checksums; never define it in a real build. */
static int sum_ok(uint64_t stored, const void *p, size_t n)
{
#ifdef PVLOG_FUZZING
    (void)stored;
    (void)p;
    (void)n;
    return 1;
#else
    return stored == pvlog_xxh3(p, n);
#endif
}

static const char *const col_name[COL_COUNT] = {"ops",   "nr",    "rip",   "arg", "digest",
                                                "regs8", "wdesc", "wdata", "end"};

/* Read up to (n) bytes at (off); returns the count read (short only at EOF) or -1. */
static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

static enum pvlog_status read_exact(struct pvlog_reader *r, void *buf, size_t n, uint64_t off,
                                    int64_t frame, struct pvlog_error *err)
{
    ssize_t k = pread_full(r->fd, buf, n, off);
    if (k < 0)
        return pvlog_fail(err, PVLOG_EIO, off, frame, "read of %zu bytes at offset %llu failed: %s",
                          n, (unsigned long long)off, strerror(errno));
    if ((size_t)k != n)
        return pvlog_fail(err, PVLOG_EIO, off, frame,
                          "file shrank while open: short read at offset %llu",
                          (unsigned long long)off);
    return PVLOG_OK;
}

static int ensure(uint8_t **p, size_t *cap, size_t want)
{
    uint8_t *q;
    if (want <= *cap)
        return 0;
    q = realloc(*p, want);
    if (!q)
        return -1;
    *p = q;
    *cap = want;
    return 0;
}

/* ---- header and metadata ---- */

static enum pvlog_status read_head(struct pvlog_reader *r, struct pvlog_error *err)
{
    uint8_t h[PVLOG_HEADER_SIZE];
    size_t have = r->size < PVLOG_HEADER_SIZE ? (size_t)r->size : PVLOG_HEADER_SIZE;
    uint64_t msz, off = PVLOG_HEADER_SIZE;
    uint32_t cl, nl, vl, cpl;
    uint64_t el, sum;
    const uint8_t *m, *p;
    enum pvlog_status st;

    st = read_exact(r, h, have, 0, -1, err);
    if (st != PVLOG_OK)
        return st;
    if (memcmp(h, PVLOG_MAGIC, have < PVLOG_MAGIC_LEN ? have : PVLOG_MAGIC_LEN) != 0)
        return pvlog_fail(err, PVLOG_ENOTPVLOG, 0, -1, "not a pvlog file (bad magic at offset 0)");
    if (have >= 12 && le32(h + 8) != PVLOG_FORMAT_VERSION)
        return pvlog_fail(err, PVLOG_EVERSION, 8, -1,
                          "pvlog format version %u is not supported (this reader knows %u)",
                          le32(h + 8), PVLOG_FORMAT_VERSION);
    if (have < PVLOG_HEADER_SIZE)
        return pvlog_fail(err, PVLOG_ETRUNCATED, r->size, -1,
                          "log truncated at event 0 (the file header at offset 0 is incomplete: "
                          "%zu of %u bytes)",
                          have, PVLOG_HEADER_SIZE);
    if (!sum_ok(le64(h + 56), h, 56))
        return pvlog_fail(err, PVLOG_ECORRUPT, 56, -1, "file header checksum mismatch");
    if (le32(h + 12) != 0 || le32(h + 16) != PVLOG_HEADER_SIZE ||
        le32(h + 20) != PVLOG_FRAME_HEADER_SIZE || le64(h + 24) != PVLOG_HEADER_SIZE ||
        le64(h + 48) != 0)
        return pvlog_fail(err, PVLOG_ECORRUPT, 12, -1,
                          "file header has unknown flags or sizes (flags %#x)", le32(h + 12));
    msz = le64(h + 32);
    if (msz < PVLOG_META_FIXED || msz > PVLOG_META_MAX)
        return pvlog_fail(err, PVLOG_ECORRUPT, 32, -1, "metadata size %llu is out of range",
                          (unsigned long long)msz);
    if (msz > r->size - PVLOG_HEADER_SIZE)
        return pvlog_fail(err, PVLOG_ETRUNCATED, r->size, -1,
                          "log truncated at event 0 (the metadata section at offset %u is "
                          "incomplete: %llu of %llu bytes)",
                          PVLOG_HEADER_SIZE, (unsigned long long)(r->size - PVLOG_HEADER_SIZE),
                          (unsigned long long)msz);
    r->meta_buf = malloc(msz);
    if (!r->meta_buf)
        return pvlog_fail(err, PVLOG_ENOMEM, off, -1, "out of memory for %llu bytes of metadata",
                          (unsigned long long)msz);
    st = read_exact(r, r->meta_buf, msz, off, -1, err);
    if (st != PVLOG_OK)
        return st;
    if (!sum_ok(le64(h + 40), r->meta_buf, msz))
        return pvlog_fail(err, PVLOG_ECORRUPT, off, -1,
                          "metadata checksum mismatch (section at offset %llu)",
                          (unsigned long long)off);

    m = r->meta_buf;
    cl = le32(m + 32);
    nl = le32(m + 36);
    vl = le32(m + 40);
    cpl = le32(m + 44);
    el = le64(m + 48);
    if (cl > PVLOG_STRING_MAX || nl > PVLOG_STRING_MAX || vl > PVLOG_STRING_MAX ||
        cpl > PVLOG_CPUID_MAX || el > PVLOG_ELF_MAX || le32(m + 60) != 0)
        return pvlog_fail(err, PVLOG_ECORRUPT, off + 32, -1, "metadata field lengths out of range");
    sum = (uint64_t)PVLOG_META_FIXED + cl + nl + vl + cpl + el;
    if (sum != msz)
        return pvlog_fail(err, PVLOG_ECORRUPT, off + 32, -1,
                          "metadata lengths add up to %llu bytes, the section has %llu",
                          (unsigned long long)sum, (unsigned long long)msz);
    p = m + PVLOG_META_FIXED;
    if (memchr(p, 0, (size_t)cl + nl + vl))
        return pvlog_fail(err, PVLOG_ECORRUPT, off + PVLOG_META_FIXED, -1,
                          "metadata string contains a NUL byte");
    r->cmdline = strndup((const char *)p, cl);
    r->elf_name = strndup((const char *)p + cl, nl);
    r->pvrr_version = strndup((const char *)p + cl + nl, vl);
    if (!r->cmdline || !r->elf_name || !r->pvrr_version)
        return pvlog_fail(err, PVLOG_ENOMEM, off, -1, "out of memory");
    p += (size_t)cl + nl + vl;
    r->meta.abi_version = le32(m + 0);
    r->meta.disk_writable = le32(m + 4);
    r->meta.mem_size = le64(m + 8);
    r->meta.disk_sectors = le64(m + 16);
    r->meta.start_wall_ns = le64(m + 24);
    r->meta.engine = le32(m + 56);
    if (r->meta.engine > PVLOG_ENGINE_MAX)
        return pvlog_fail(err, PVLOG_ECORRUPT, off + 56, -1,
                          "unknown execution engine %u in the metadata", r->meta.engine);
    r->meta.cmdline = r->cmdline;
    r->meta.elf_name = r->elf_name;
    r->meta.pvrr_version = r->pvrr_version;
    r->meta.cpuid = p;
    r->meta.cpuid_len = cpl;
    r->meta.elf = p + cpl;
    r->meta.elf_len = el;
    r->frames_off = PVLOG_HEADER_SIZE + msz;
    r->scan_off = r->frames_off;
    return PVLOG_OK;
}

/* ---- frame headers ---- */

/* Parse and check the frame header (h) of frame (k) at (off); (first) is the
 * expected first event index and (chain) the expected chain_start. */
static enum pvlog_status parse_frame_header(const uint8_t *h, uint64_t off, uint64_t k,
                                            uint64_t first, uint64_t chain, struct frame_ent *e,
                                            struct pvlog_error *err)
{
    int64_t fk = (int64_t)k;
    if (le32(h) != PVLOG_FRAME_MAGIC)
        return pvlog_fail(err, PVLOG_ECORRUPT, off, fk, "frame %lld at offset %llu: bad magic",
                          (long long)k, (unsigned long long)off);
    if (!sum_ok(le64(h + 64), h, 64))
        return pvlog_fail(err, PVLOG_ECORRUPT, off, fk,
                          "frame %lld at offset %llu: header checksum mismatch", (long long)k,
                          (unsigned long long)off);
    e->off = off;
    e->flags = le32(h + 4);
    e->first = le64(h + 16);
    e->count = le32(h + 24);
    e->comp = le32(h + 28);
    e->raw = le32(h + 32);
    e->chain_start = le64(h + 40);
    e->chain_end = le64(h + 48);
    if (le64(h + 8) != k || e->first != first)
        return pvlog_fail(err, PVLOG_ECORRUPT, off, fk,
                          "frame %lld at offset %llu: header says frame %llu, first event %llu "
                          "(expected event %llu)",
                          (long long)k, (unsigned long long)off, (unsigned long long)le64(h + 8),
                          (unsigned long long)e->first, (unsigned long long)first);
    if ((e->flags & ~PVLOG_FRAME_F_END) || le32(h + 36) != 0 || e->count == 0 ||
        e->raw > PVLOG_FRAME_RAW_MAX || e->raw < PVLOG_DIR_SIZE + (uint64_t)e->count ||
        e->comp == 0 || e->comp > ZSTD_compressBound(e->raw))
        return pvlog_fail(err, PVLOG_ECORRUPT, off, fk,
                          "frame %lld at offset %llu: bad header fields (flags %#x, %u events, "
                          "%u compressed and %u raw bytes)",
                          (long long)k, (unsigned long long)off, e->flags, e->count, e->comp,
                          e->raw);
    if (e->chain_start != chain)
        return pvlog_fail(err, PVLOG_ECORRUPT, off, fk,
                          "frame %lld at offset %llu: chain_start %016llx does not continue the "
                          "previous frame's %016llx",
                          (long long)k, (unsigned long long)off, (unsigned long long)e->chain_start,
                          (unsigned long long)chain);
    return PVLOG_OK;
}

static enum pvlog_status add_frame(struct pvlog_reader *r, const struct frame_ent *e,
                                   struct pvlog_error *err)
{
    if (r->nfr == r->capfr) {
        size_t n = r->capfr ? 2 * r->capfr : 64;
        struct frame_ent *q = realloc(r->fr, n * sizeof(*q));
        if (!q)
            return pvlog_fail(err, PVLOG_ENOMEM, e->off, (int64_t)r->nfr,
                              "out of memory for the frame table");
        r->fr = q;
        r->capfr = n;
    }
    r->fr[r->nfr++] = *e;
    return PVLOG_OK;
}

/* Next event index after the known frames. */
static uint64_t known_events(const struct pvlog_reader *r)
{
    return r->nfr ? r->fr[r->nfr - 1].first + r->fr[r->nfr - 1].count : 0;
}

static int known_end(const struct pvlog_reader *r)
{
    return r->nfr && (r->fr[r->nfr - 1].flags & PVLOG_FRAME_F_END);
}

/* Without an index: the scan met an index section at (off). Its trailer must
 * be damaged (a valid one was looked for at open) unless the file ends
 * inside the index. */
static enum pvlog_status scan_met_index(struct pvlog_reader *r, uint64_t off, uint64_t ev,
                                        int64_t k, struct pvlog_error *err)
{
    uint8_t h[PVLOG_INDEX_HEADER_SIZE];
    uint64_t avail = r->size - off, n, need;
    enum pvlog_status st;

    if (avail >= PVLOG_INDEX_HEADER_SIZE) {
        st = read_exact(r, h, sizeof(h), off, k, err);
        if (st != PVLOG_OK)
            return st;
        n = le64(h + 8);
        if (n > (UINT64_MAX - 64) / PVLOG_INDEX_ENTRY_SIZE)
            return pvlog_fail(err, PVLOG_ECORRUPT, off, -1,
                              "index at offset %llu: frame count %llu is out of range",
                              (unsigned long long)off, (unsigned long long)n);
        need = PVLOG_INDEX_HEADER_SIZE + n * PVLOG_INDEX_ENTRY_SIZE + 8 + PVLOG_TRAILER_SIZE;
        if (need == avail)
            return pvlog_fail(err, PVLOG_ECORRUPT, r->size - PVLOG_TRAILER_SIZE, -1,
                              "the trailer at offset %llu is damaged (the index at offset %llu "
                              "is complete)",
                              (unsigned long long)(r->size - PVLOG_TRAILER_SIZE),
                              (unsigned long long)off);
        if (need < avail)
            return pvlog_fail(err, PVLOG_ECORRUPT, off, -1,
                              "index at offset %llu is followed by %llu unexpected bytes",
                              (unsigned long long)off, (unsigned long long)(avail - need));
    }
    if (known_end(r))
        return pvlog_fail(err, PVLOG_ETRUNCATED, off, -1,
                          "log truncated after the END event (the index at offset %llu is "
                          "incomplete)",
                          (unsigned long long)off);
    return pvlog_fail(err, PVLOG_ETRUNCATED, off, k,
                      "log truncated at event %llu (the END event is missing; the index at "
                      "offset %llu is incomplete)",
                      (unsigned long long)ev, (unsigned long long)off);
}

/* Without an index: read the next frame header. Returns PVLOG_OK when a frame
 * was added, else the reason scanning ends (also kept in r->scan_err). */
static enum pvlog_status scan_one(struct pvlog_reader *r)
{
    struct pvlog_error *err = &r->scan_err;
    uint64_t off = r->scan_off, avail = r->size - off, ev = known_events(r);
    int64_t k = (int64_t)r->nfr;
    uint8_t h[PVLOG_FRAME_HEADER_SIZE];
    struct frame_ent e;
    enum pvlog_status st;
    size_t n = avail < sizeof(h) ? (size_t)avail : sizeof(h);

    if (avail == 0) {
        if (known_end(r))
            st = pvlog_fail(err, PVLOG_ETRUNCATED, off, -1,
                            "log truncated after the END event (the index at offset %llu is "
                            "missing)",
                            (unsigned long long)off);
        else
            st = pvlog_fail(err, PVLOG_ETRUNCATED, off, k,
                            "log truncated at event %llu (frame %lld at offset %llu is missing)",
                            (unsigned long long)ev, (long long)k, (unsigned long long)off);
        goto done;
    }
    st = read_exact(r, h, n, off, k, err);
    if (st != PVLOG_OK)
        goto done;
    if (n >= 4 && le32(h) == PVLOG_INDEX_MAGIC) {
        st = scan_met_index(r, off, ev, k, err);
        goto done;
    }
    if (n >= 4 && le32(h) != PVLOG_FRAME_MAGIC) {
        st = pvlog_fail(err, PVLOG_ECORRUPT, off, k,
                        "frame %lld at offset %llu: bad magic %02x %02x %02x %02x", (long long)k,
                        (unsigned long long)off, h[0], h[1], h[2], h[3]);
        goto done;
    }
    if (known_end(r) && n >= 4) {
        st = pvlog_fail(err, PVLOG_ECORRUPT, off, k,
                        "frame %lld at offset %llu follows the END event", (long long)k,
                        (unsigned long long)off);
        goto done;
    }
    if (n < sizeof(h)) {
        st = pvlog_fail(err, PVLOG_ETRUNCATED, off, k,
                        "log truncated at event %llu (frame %lld at offset %llu is incomplete)",
                        (unsigned long long)ev, (long long)k, (unsigned long long)off);
        goto done;
    }
    st = parse_frame_header(h, off, (uint64_t)k, ev, r->nfr ? r->fr[r->nfr - 1].chain_end : 0, &e,
                            err);
    if (st != PVLOG_OK)
        goto done;
    if (e.comp > avail - sizeof(h)) {
        st = pvlog_fail(err, PVLOG_ETRUNCATED, off, k,
                        "log truncated at event %llu (frame %lld at offset %llu is incomplete)",
                        (unsigned long long)ev, (long long)k, (unsigned long long)off);
        goto done;
    }
    st = add_frame(r, &e, err);
    if (st != PVLOG_OK)
        goto done;
    r->scan_off = off + sizeof(h) + e.comp;
    return PVLOG_OK;
done:
    r->scan_done = 1;
    return st;
}

/* Make frame (k) known. Returns PVLOG_OK, or why there is no such frame:
 * PVLOG_END (index mode: the END frame came before), PVLOG_ETRUNCATED or an
 * error. Without an index, scanning goes on past the END frame, so that a
 * damaged trailer is found. */
static enum pvlog_status frame_get(struct pvlog_reader *r, size_t k, struct pvlog_error *err)
{
    while (k >= r->nfr) {
        if (r->have_index && r->index_has_end)
            return pvlog_fail(err, PVLOG_END, r->index_off, (int64_t)k,
                              "no frame after the END event");
        if (r->have_index)
            return pvlog_fail(err, PVLOG_ETRUNCATED, r->index_off, (int64_t)k,
                              "log ends at event %llu without an END event (the recorder closed "
                              "it early)",
                              (unsigned long long)r->index_events);
        if (!r->scan_done)
            scan_one(r);
        if (r->scan_done) {
            if (err)
                *err = r->scan_err;
            return r->scan_err.status;
        }
    }
    return PVLOG_OK;
}

/* ---- index ---- */

/* Look for a valid trailer; if there is one, load and check the index it
 * points at (any inconsistency then is corruption). Without a valid trailer
 * the reader scans frame headers instead. */
static enum pvlog_status read_index(struct pvlog_reader *r, struct pvlog_error *err)
{
    uint8_t t[PVLOG_TRAILER_SIZE];
    uint64_t toff, ioff, isz, n, events, ev = 0, off, chain = 0;
    uint8_t *buf, *p;
    enum pvlog_status st = PVLOG_OK;

    if (r->size - r->frames_off < PVLOG_INDEX_HEADER_SIZE + 8 + PVLOG_TRAILER_SIZE)
        return PVLOG_OK;
    toff = r->size - PVLOG_TRAILER_SIZE;
    st = read_exact(r, t, sizeof(t), toff, -1, err);
    if (st != PVLOG_OK)
        return st;
    if (memcmp(t + 24, PVLOG_TRAILER_MAGIC, 8) != 0 || !sum_ok(le64(t + 16), t, 16))
        return PVLOG_OK; /* no trailer: truncated, or damaged (found when scanning) */
    ioff = le64(t);
    isz = le64(t + 8);
    if (ioff < r->frames_off || ioff > toff || isz != toff - ioff ||
        isz < PVLOG_INDEX_HEADER_SIZE + 8 ||
        (isz - PVLOG_INDEX_HEADER_SIZE - 8) % PVLOG_INDEX_ENTRY_SIZE != 0)
        return pvlog_fail(err, PVLOG_ECORRUPT, toff, -1,
                          "trailer at offset %llu points at an impossible index (offset %llu, "
                          "%llu bytes)",
                          (unsigned long long)toff, (unsigned long long)ioff,
                          (unsigned long long)isz);
    buf = malloc(isz); /* isz < file size */
    if (!buf)
        return pvlog_fail(err, PVLOG_ENOMEM, ioff, -1, "out of memory for the index");
    st = read_exact(r, buf, isz, ioff, -1, err);
    if (st != PVLOG_OK)
        goto out;
    if (!sum_ok(le64(buf + isz - 8), buf, isz - 8)) {
        st = pvlog_fail(err, PVLOG_ECORRUPT, ioff, -1, "index at offset %llu: checksum mismatch",
                        (unsigned long long)ioff);
        goto out;
    }
    n = le64(buf + 8);
    events = le64(buf + 16);
    if (le32(buf) != PVLOG_INDEX_MAGIC || (le32(buf + 4) & ~PVLOG_INDEX_F_END) ||
        n != (isz - PVLOG_INDEX_HEADER_SIZE - 8) / PVLOG_INDEX_ENTRY_SIZE) {
        st = pvlog_fail(err, PVLOG_ECORRUPT, ioff, -1, "index at offset %llu: bad header",
                        (unsigned long long)ioff);
        goto out;
    }
    off = r->frames_off;
    p = buf + PVLOG_INDEX_HEADER_SIZE;
    for (uint64_t i = 0; i < n; i++, p += PVLOG_INDEX_ENTRY_SIZE) {
        struct frame_ent e;
        e.off = le64(p);
        e.first = le64(p + 8);
        e.chain_end = le64(p + 16);
        e.chain_start = chain;
        e.count = le32(p + 24);
        e.comp = le32(p + 28);
        e.raw = le32(p + 32);
        e.flags = le32(p + 36);
        if (e.off != off || e.first != ev || e.count == 0 || e.raw > PVLOG_FRAME_RAW_MAX ||
            e.raw < PVLOG_DIR_SIZE + (uint64_t)e.count || e.comp == 0 ||
            e.comp > ZSTD_compressBound(e.raw) || (e.flags & ~PVLOG_FRAME_F_END) ||
            ((e.flags & PVLOG_FRAME_F_END) && i + 1 != n) || ioff - off < PVLOG_FRAME_HEADER_SIZE ||
            e.comp > ioff - off - PVLOG_FRAME_HEADER_SIZE) {
            st = pvlog_fail(err, PVLOG_ECORRUPT, ioff + (uint64_t)(p - buf), (int64_t)i,
                            "index at offset %llu: entry %llu is inconsistent",
                            (unsigned long long)ioff, (unsigned long long)i);
            goto out;
        }
        st = add_frame(r, &e, err);
        if (st != PVLOG_OK)
            goto out;
        off += PVLOG_FRAME_HEADER_SIZE + e.comp;
        ev += e.count;
        chain = e.chain_end;
    }
    if (off != ioff || ev != events ||
        (!!(le32(buf + 4) & PVLOG_INDEX_F_END) !=
         (n && (r->fr[n - 1].flags & PVLOG_FRAME_F_END)))) {
        st = pvlog_fail(err, PVLOG_ECORRUPT, ioff, -1,
                        "index at offset %llu does not match the frames it lists",
                        (unsigned long long)ioff);
        goto out;
    }
    r->have_index = 1;
    r->index_off = ioff;
    r->index_events = events;
    r->index_has_end = !!(le32(buf + 4) & PVLOG_INDEX_F_END);
out:
    free(buf);
    if (st != PVLOG_OK)
        r->nfr = 0;
    return st;
}

/* ---- open / close ---- */

void pvlog_reader_close(struct pvlog_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->meta_buf);
    free(r->cmdline);
    free(r->elf_name);
    free(r->pvrr_version);
    free(r->fr);
    free(r->comp);
    free(r->raw);
    free(r->wr);
    ZSTD_freeDCtx(r->dctx);
    free(r);
}

enum pvlog_status pvlog_reader_open(struct pvlog_reader **out, const char *path,
                                    struct pvlog_error *err)
{
    struct pvlog_reader *r;
    struct stat sb;
    enum pvlog_status st;

    pvlog_clear(err);
    if (!out || !path)
        return pvlog_fail(err, PVLOG_EINVAL, 0, -1, "pvlog_reader_open: NULL argument");
    *out = NULL;
    r = calloc(1, sizeof(*r));
    if (!r)
        return pvlog_fail(err, PVLOG_ENOMEM, 0, -1, "out of memory");
    r->cur = -1;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        st = pvlog_fail(err, PVLOG_EIO, 0, -1, "cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    if (fstat(r->fd, &sb) < 0) {
        st = pvlog_fail(err, PVLOG_EIO, 0, -1, "cannot stat %s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = pvlog_fail(err, PVLOG_EINVAL, 0, -1, "%s is not a regular file", path);
        goto fail;
    }
    r->size = (uint64_t)sb.st_size;
    r->dctx = ZSTD_createDCtx();
    if (!r->dctx) {
        st = pvlog_fail(err, PVLOG_ENOMEM, 0, -1, "out of memory");
        goto fail;
    }
    st = read_head(r, err);
    if (st != PVLOG_OK)
        goto fail;
    st = read_index(r, err);
    if (st != PVLOG_OK)
        goto fail;
    *out = r;
    return PVLOG_OK;
fail:
    pvlog_reader_close(r);
    return st;
}

const struct pvlog_meta *pvlog_reader_meta(const struct pvlog_reader *r)
{
    return r ? &r->meta : NULL;
}

/* ---- frames ---- */

/* Read, verify and decompress frame (k) (known), and set up its decoder. */
static enum pvlog_status load_frame(struct pvlog_reader *r, size_t k, struct pvlog_error *err)
{
    const struct frame_ent *e = &r->fr[k];
    struct frame_ent h;
    size_t n = PVLOG_FRAME_HEADER_SIZE + (size_t)e->comp;
    uint64_t off = e->off, sum = 0;
    int64_t fk = (int64_t)k;
    uint32_t nhc = 0, nend = 0;
    struct decoder *d = &r->d;
    const uint8_t *ops;
    unsigned long long zs;
    size_t got;
    enum pvlog_status st;

    r->cur = -1;
    if (ensure(&r->comp, &r->compcap, n) < 0 || ensure(&r->raw, &r->rawcap, e->raw) < 0)
        return pvlog_fail(err, PVLOG_ENOMEM, off, fk, "frame %lld: out of memory", (long long)k);
    st = read_exact(r, r->comp, n, off, fk, err);
    if (st != PVLOG_OK)
        return st;
    st = parse_frame_header(r->comp, off, k, e->first, k ? r->fr[k - 1].chain_end : 0, &h, err);
    if (st != PVLOG_OK)
        return st;
    if (h.count != e->count || h.comp != e->comp || h.raw != e->raw || h.flags != e->flags ||
        h.chain_end != e->chain_end)
        return pvlog_fail(err, PVLOG_ECORRUPT, off, fk,
                          "frame %lld at offset %llu does not match the index", (long long)k,
                          (unsigned long long)off);
    if (!sum_ok(le64(r->comp + 56), r->comp + PVLOG_FRAME_HEADER_SIZE, e->comp))
        return pvlog_fail(err, PVLOG_ECORRUPT, off + PVLOG_FRAME_HEADER_SIZE, fk,
                          "frame %lld at offset %llu: payload checksum mismatch", (long long)k,
                          (unsigned long long)off);
    zs = ZSTD_getFrameContentSize(r->comp + PVLOG_FRAME_HEADER_SIZE, e->comp);
    if (zs != e->raw)
        return pvlog_fail(err, PVLOG_ECORRUPT, off + PVLOG_FRAME_HEADER_SIZE, fk,
                          "frame %lld at offset %llu: zstd content size does not match",
                          (long long)k, (unsigned long long)off);
    got = ZSTD_decompressDCtx(r->dctx, r->raw, e->raw, r->comp + PVLOG_FRAME_HEADER_SIZE, e->comp);
    if (ZSTD_isError(got) || got != e->raw)
        return pvlog_fail(err, PVLOG_ECORRUPT, off + PVLOG_FRAME_HEADER_SIZE, fk,
                          "frame %lld at offset %llu: bad zstd payload (%s)", (long long)k,
                          (unsigned long long)off,
                          ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong size");

    /* Column directory: lengths must add up to the payload exactly. */
    memset(d, 0, sizeof(*d));
    sum = PVLOG_DIR_SIZE;
    for (unsigned i = 0; i < COL_COUNT; i++) {
        d->len[i] = le32(r->raw + 4 * i);
        sum += d->len[i];
    }
    if (sum != e->raw)
        return pvlog_fail(err, PVLOG_ECORRUPT, off, fk,
                          "frame %lld at offset %llu: column sizes add up to %llu, payload has %u",
                          (long long)k, (unsigned long long)off, (unsigned long long)sum, e->raw);
    sum = PVLOG_DIR_SIZE;
    for (unsigned i = 0; i < COL_COUNT; i++) {
        d->col[i] = r->raw + sum;
        sum += d->len[i];
    }
    /* Op bytes: checked up front so the counts of other columns can be. */
    if (d->len[COL_OPS] != e->count)
        return pvlog_fail(err, PVLOG_ECORRUPT, off, fk,
                          "frame %lld at offset %llu: %u op bytes for %u events", (long long)k,
                          (unsigned long long)off, d->len[COL_OPS], e->count);
    ops = d->col[COL_OPS];
    for (uint32_t i = 0; i < e->count; i++) {
        uint8_t op = ops[i];
        if ((op & OP_KIND_MASK) == PVLOG_EV_HYPERCALL && !(op & OP_RESERVED)) {
            nhc++;
        } else if (op == PVLOG_EV_END && i + 1 == e->count) {
            nend++;
        } else {
            return pvlog_fail(err, PVLOG_ECORRUPT, off, fk,
                              "frame %lld at offset %llu: event %llu has a bad op byte %#x",
                              (long long)k, (unsigned long long)off,
                              (unsigned long long)(e->first + i), op);
        }
    }
    if (!!nend != !!(e->flags & PVLOG_FRAME_F_END) || d->len[COL_REGS8] != nhc ||
        d->len[COL_END] != nend * PVLOG_END_RECORD)
        return pvlog_fail(err, PVLOG_ECORRUPT, off, fk,
                          "frame %lld at offset %llu: column sizes do not match its events",
                          (long long)k, (unsigned long long)off);
    r->cur = (int64_t)k;
    return PVLOG_OK;
}

/* Rewind the decoder of the loaded frame to its first event. */
static void rewind_frame(struct pvlog_reader *r)
{
    struct decoder *d = &r->d;
    memset(d->pos, 0, sizeof(d->pos));
    d->evi = 0;
    d->last_nr = 0;
    d->last_rip = 0;
    memset(d->slot_arg, 0, sizeof(d->slot_arg));
    memset(d->slot_dig, 0, sizeof(d->slot_dig));
}

static int get_varint(struct decoder *d, unsigned c, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t b;
        if (d->pos[c] >= d->len[c])
            return -1;
        b = d->col[c][d->pos[c]++];
        if (shift == 63 && b > 1)
            return -1; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

#define BAD(what)                                                                                  \
    pvlog_fail(err, PVLOG_ECORRUPT, e->off, r->cur, "frame %lld at offset %llu: event %llu: %s",   \
               (long long)r->cur, (unsigned long long)e->off, (unsigned long long)ev->index, what)

/* Decode the next event of the loaded frame into (ev). */
static enum pvlog_status decode_one(struct pvlog_reader *r, struct pvlog_event *ev,
                                    struct pvlog_error *err)
{
    const struct frame_ent *e = &r->fr[r->cur];
    struct decoder *d = &r->d;
    uint8_t op = d->col[COL_OPS][d->evi];
    uint64_t v;

    memset(ev, 0, sizeof(*ev));
    ev->index = e->first + d->evi;
    ev->kind = op & OP_KIND_MASK;
    d->pos[COL_OPS]++;
    if (ev->kind == PVLOG_EV_HYPERCALL) {
        unsigned slot;
        if (op & OP_NR_SAME) {
            ev->nr = d->last_nr;
        } else {
            if (get_varint(d, COL_NR, &v) < 0 || v > UINT16_MAX)
                return BAD("bad nr");
            ev->nr = d->last_nr = (uint16_t)v;
        }
        slot = ev->nr & (PVLOG_SLOTS - 1);
        if (op & OP_RIP_SAME) {
            ev->rip = d->last_rip;
        } else {
            if (get_varint(d, COL_RIP, &v) < 0)
                return BAD("bad rip");
            ev->rip = d->last_rip = d->last_rip + unzigzag(v);
        }
        if (op & OP_ARG_SAME) {
            ev->arg_gpa = d->slot_arg[slot];
        } else {
            if (get_varint(d, COL_ARG, &v) < 0)
                return BAD("bad arg_gpa");
            ev->arg_gpa = d->slot_arg[slot] = d->slot_arg[slot] + unzigzag(v);
        }
        if (op & OP_DIG_SAME) {
            ev->in_digest = d->slot_dig[slot];
        } else {
            if (d->len[COL_DIG] - d->pos[COL_DIG] < 8)
                return BAD("digest column too short");
            ev->in_digest = d->slot_dig[slot] = le64(d->col[COL_DIG] + d->pos[COL_DIG]);
            d->pos[COL_DIG] += 8;
        }
        if (!(op & OP_NO_WRITES)) {
            uint64_t base = ev->arg_gpa, total = 0, len;
            if (get_varint(d, COL_WDESC, &v) < 0 || v == 0 || v > PVLOG_WRITES_MAX)
                return BAD("bad write count");
            if (v > r->wrcap) {
                struct pvlog_write *q = realloc(r->wr, (size_t)v * sizeof(*q));
                if (!q)
                    return pvlog_fail(err, PVLOG_ENOMEM, e->off, r->cur, "out of memory");
                r->wr = q;
                r->wrcap = (size_t)v;
            }
            ev->nwrites = (uint32_t)v;
            for (uint32_t i = 0; i < ev->nwrites; i++) {
                struct pvlog_write *w = &r->wr[i];
                if (get_varint(d, COL_WDESC, &v) < 0 || get_varint(d, COL_WDESC, &len) < 0)
                    return BAD("bad write descriptor");
                if (len > PVLOG_EVENT_DATA_MAX - total ||
                    len > d->len[COL_WDATA] - d->pos[COL_WDATA])
                    return BAD("write data out of range");
                w->gpa = base + unzigzag(v);
                w->len = (uint32_t)len;
                w->data = d->col[COL_WDATA] + d->pos[COL_WDATA];
                d->pos[COL_WDATA] += (uint32_t)len;
                total += len;
                base = w->gpa + len;
            }
            ev->writes = r->wr;
        }
        if (d->pos[COL_REGS8] >= d->len[COL_REGS8])
            return BAD("regs8 column too short");
        ev->regs8 = d->col[COL_REGS8][d->pos[COL_REGS8]++];
    } else {
        const uint8_t *p = d->col[COL_END] + d->pos[COL_END]; /* sizes checked at load */
        ev->end_reason = p[0];
        ev->status = (int32_t)le32(p + 1);
        ev->final_digest = le64(p + 5);
        ev->regs_chain = le64(p + 13);
        ev->end_wall_ns = le64(p + 21);
        d->pos[COL_END] += PVLOG_END_RECORD;
        if (ev->regs_chain != e->chain_end)
            return BAD("END regs_chain differs from the frame's chain_end");
    }
    d->evi++;
    if (d->evi == e->count) {
        for (unsigned c = 0; c < COL_COUNT; c++) {
            if (d->pos[c] != d->len[c]) {
                char what[64];
                snprintf(what, sizeof(what), "%u unused bytes in the %s column",
                         d->len[c] - d->pos[c], col_name[c]);
                return BAD(what);
            }
        }
        ev->regs_chain = e->chain_end;
        ev->chain_valid = 1;
    }
    return PVLOG_OK;
}

static enum pvlog_status set_failed(struct pvlog_reader *r, enum pvlog_status st,
                                    struct pvlog_error *err)
{
    r->failed = 1;
    if (err)
        r->fail = *err;
    else
        r->fail.status = st;
    r->cur = -1;
    return st;
}

enum pvlog_status pvlog_reader_next(struct pvlog_reader *r, struct pvlog_event *ev,
                                    struct pvlog_error *err)
{
    struct pvlog_error local;
    enum pvlog_status st;

    if (!err)
        err = &local;
    pvlog_clear(err);
    if (!r || !ev)
        return pvlog_fail(err, PVLOG_EINVAL, 0, -1, "pvlog_reader_next: NULL argument");
    if (r->failed) {
        *err = r->fail;
        return r->fail.status;
    }
    if (r->ended)
        return PVLOG_END;
    if (r->cur < 0 || r->d.evi == r->fr[r->cur].count) {
        size_t k = r->cur < 0 ? 0 : (size_t)r->cur + 1;
        if (r->cur < 0 && r->next_index != 0)
            return pvlog_fail(err, PVLOG_EINVAL, 0, -1, "reader has no position");
        st = frame_get(r, k, err);
        if (st == PVLOG_OK)
            st = load_frame(r, k, err);
        if (st != PVLOG_OK)
            return set_failed(r, st, err);
        rewind_frame(r);
    }
    st = decode_one(r, ev, err);
    if (st != PVLOG_OK)
        return set_failed(r, st, err);
    if (ev->kind == PVLOG_EV_END)
        r->ended = 1;
    r->next_index = ev->index + 1;
    return PVLOG_OK;
}

enum pvlog_status pvlog_reader_seek(struct pvlog_reader *r, uint64_t index, struct pvlog_error *err)
{
    struct pvlog_error local;
    struct pvlog_event ev;
    enum pvlog_status st;
    size_t lo, hi, k;

    if (!err)
        err = &local;
    pvlog_clear(err);
    if (!r)
        return pvlog_fail(err, PVLOG_EINVAL, 0, -1, "pvlog_reader_seek: NULL reader");
    r->failed = 0;
    r->ended = 0;
    /* Find the frame: known frames first, then scan headers as needed. */
    while (index >= known_events(r)) {
        st = known_end(r) ? PVLOG_END : frame_get(r, r->nfr, err);
        if (st == PVLOG_END)
            st = pvlog_fail(err, PVLOG_EINVAL, 0, -1,
                            "cannot seek to event %llu: the log has %llu events",
                            (unsigned long long)index, (unsigned long long)known_events(r));
        if (st != PVLOG_OK)
            return set_failed(r, st, err);
    }
    lo = 0;
    hi = r->nfr - 1;
    while (lo < hi) { /* last frame with first <= index */
        size_t mid = lo + (hi - lo + 1) / 2;
        if (r->fr[mid].first <= index)
            lo = mid;
        else
            hi = mid - 1;
    }
    k = lo;
    if (r->cur != (int64_t)k) {
        st = load_frame(r, k, err);
        if (st != PVLOG_OK)
            return set_failed(r, st, err);
    }
    rewind_frame(r);
    /* Decode the events before (index) in the frame. */
    while (r->fr[k].first + r->d.evi < index) {
        st = decode_one(r, &ev, err);
        if (st != PVLOG_OK)
            return set_failed(r, st, err);
    }
    r->next_index = index;
    return PVLOG_OK;
}

enum pvlog_status pvlog_reader_stats(struct pvlog_reader *r, struct pvlog_stats *st,
                                     struct pvlog_error *err)
{
    struct pvlog_error local;
    enum pvlog_status s = PVLOG_OK;

    if (!err)
        err = &local;
    pvlog_clear(err);
    if (!r || !st)
        return pvlog_fail(err, PVLOG_EINVAL, 0, -1, "pvlog_reader_stats: NULL argument");
    if (!r->have_index) {
        /* Scan every header; the end of a truncated log is not an error here. */
        s = frame_get(r, SIZE_MAX, err);
        if (s == PVLOG_ETRUNCATED || s == PVLOG_END) {
            s = PVLOG_OK;
            pvlog_clear(err);
        }
    }
    memset(st, 0, sizeof(*st));
    st->file_bytes = r->size;
    st->frames = r->nfr;
    st->events = known_events(r);
    for (size_t i = 0; i < r->nfr; i++)
        st->raw_bytes += r->fr[i].raw;
    st->complete = r->have_index && r->index_has_end;
    return s;
}

const char *pvlog_engine_name(uint32_t engine)
{
    switch (engine) {
    case PVLOG_ENGINE_KVM:
        return "kvm";
    case PVLOG_ENGINE_EMU:
        return "emu";
    default:
        return "?";
    }
}
