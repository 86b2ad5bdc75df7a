/*
 * pvlog_writer.c - the pvlog writer: columnar frame encoding on the caller's
 * thread, zstd compression and file output on a background thread.
 *
 * Threading. The caller (the vCPU thread) encodes each event straight into
 * the column buffers of the "active" batch, under a mutex that is almost never
 * contended (append takes it for a few dozen nanoseconds; the background
 * thread takes it only to move batches between lists). A batch whose payload
 * reaches frame_bytes is queued for the background thread and the caller
 * continues in a free batch; it waits only when all PVLOG_BATCHES_MAX batches
 * are queued (the thread has fallen far behind). The background thread wakes
 * every PVLOG_TICK_MS and queues the active batch itself once it has held
 * events for a full tick, so no event waits more than about 2 ticks
 * (~100 ms) before reaching the file even while the guest is idle. Frames are
 * written in queue order, each with one write(2) of header plus payload.
 *
 * Frame format: formats/pvlog.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <zstd.h>

#include "pvlog/pvlog_internal.h"

/* Batches in existence at most: bounds memory and how far the caller can run
 * ahead of the disk (8 x 64 KiB by default). */
#define PVLOG_BATCHES_MAX 8u
/* Background tick; a non-empty active batch is flushed after a full tick. */
#define PVLOG_TICK_MS 50
/* Column buffers larger than this are freed when their batch is recycled, so
 * one 1 MiB block read does not pin memory in every batch forever. */
#define PVLOG_COL_KEEP (4u << 20)

struct col {
    uint8_t *p;
    size_t len, cap;
};

struct batch {
    struct col c[COL_COUNT];
    uint32_t nevents;
    int has_end;
    uint64_t first_index;
    uint64_t chain_start, chain_end;
    uint64_t seq; /* identifies this activation, for the time-based flush */
    size_t raw;   /* uncompressed payload size: directory + columns */
    uint16_t last_nr;
    uint64_t last_rip;
    uint64_t slot_arg[PVLOG_SLOTS];
    uint64_t slot_dig[PVLOG_SLOTS];
    struct batch *next;
};

struct idx_ent {
    uint64_t offset, first_event, chain_end;
    uint32_t count, comp, raw, flags;
};

struct pvlog_writer {
    pthread_mutex_t mu;
    pthread_cond_t cv_work;  /* the background thread waits here */
    pthread_cond_t cv_space; /* append (no free batch) and flush wait here */
    pthread_t thread;
    int fd;

    /* Under mu. */
    struct batch *active; /* never NULL */
    struct batch *q_head, *q_tail;
    struct batch *free;
    unsigned nbatches;
    uint64_t seq, armed_seq;
    uint64_t next_index; /* events appended; written by the caller only */
    uint64_t chain;      /* last regs_chain appended */
    int ended;           /* the END event was appended */
    int stop;
    uint64_t flush_req, flush_done;
    enum pvlog_status status; /* sticky error from the background thread */
    struct pvlog_error err;
    uint32_t frame_bytes;
    int level;

    /* Background thread only (and close, after the join). */
    ZSTD_CCtx *cctx;
    uint8_t *raw;
    size_t rawcap;
    uint8_t *out;
    size_t outcap;
    uint64_t file_off;
    struct idx_ent *idx;
    size_t nidx, idxcap;
};

/* ---- small helpers ---- */

static int grow(uint8_t **p, size_t *cap, size_t want)
{
    size_t n = *cap ? *cap : 4096;
    uint8_t *q;
    while (n < want) {
        if (n > SIZE_MAX / 2)
            return -1;
        n *= 2;
    }
    q = realloc(*p, n);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static inline int col_reserve(struct col *c, size_t n)
{
    if (c->cap - c->len >= n)
        return 0;
    return grow(&c->p, &c->cap, c->len + n);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void batch_free(struct batch *b)
{
    if (!b)
        return;
    for (unsigned i = 0; i < COL_COUNT; i++)
        free(b->c[i].p);
    free(b);
}

/* Make (b) the empty active batch; called under mu. */
static void batch_activate(struct pvlog_writer *w, struct batch *b)
{
    for (unsigned i = 0; i < COL_COUNT; i++)
        b->c[i].len = 0;
    b->nevents = 0;
    b->has_end = 0;
    b->first_index = w->next_index;
    b->chain_start = b->chain_end = w->chain;
    b->seq = ++w->seq;
    b->raw = PVLOG_DIR_SIZE;
    b->last_nr = 0;
    b->last_rip = 0;
    memset(b->slot_arg, 0, sizeof(b->slot_arg));
    memset(b->slot_dig, 0, sizeof(b->slot_dig));
    b->next = NULL;
    w->active = b;
}

static void queue_push(struct pvlog_writer *w, struct batch *b)
{
    b->next = NULL;
    if (w->q_tail)
        w->q_tail->next = b;
    else
        w->q_head = b;
    w->q_tail = b;
}

/* Queue the active batch and activate a free one, waiting for the background
 * thread if all batches are in flight. Under mu; never fails. While this
 * waits, the background thread may take the active batch itself (time-based
 * flush): then the job is done. */
static void handover(struct pvlog_writer *w)
{
    struct batch *old = w->active, *b;
    for (;;) {
        if (w->active != old)
            return;
        if (w->free) {
            b = w->free;
            w->free = b->next;
            break;
        }
        if (w->nbatches < PVLOG_BATCHES_MAX) {
            b = calloc(1, sizeof(*b));
            if (b) {
                w->nbatches++;
                break;
            }
        }
        /* All other batches are queued or being written: one comes back. */
        pthread_cond_wait(&w->cv_space, &w->mu);
    }
    queue_push(w, old);
    pthread_cond_signal(&w->cv_work);
    batch_activate(w, b);
}

/* The background thread takes the active batch (time-based flush, flush,
 * close). Under mu. Returns 0 when the batch was queued (or was empty). */
static int steal_active(struct pvlog_writer *w)
{
    struct batch *b = w->free;
    if (w->active->nevents == 0)
        return 0;
    if (!b)
        return -1; /* retry once the queue has been written */
    w->free = b->next;
    queue_push(w, w->active);
    batch_activate(w, b);
    return 0;
}

/* ---- the background thread ---- */

/* Compress (b) and append it to the file as frame number w->nidx. */
static enum pvlog_status write_frame(struct pvlog_writer *w, const struct batch *b, int level,
                                     struct pvlog_error *err)
{
    size_t raw = PVLOG_DIR_SIZE, bound, csize, pos;
    uint8_t *h;
    struct idx_ent *e;
    uint64_t frame = w->nidx;

    for (unsigned i = 0; i < COL_COUNT; i++)
        raw += b->c[i].len;
    if (raw > PVLOG_FRAME_RAW_MAX)
        return pvlog_fail(err, PVLOG_EINVAL, w->file_off, (int64_t)frame,
                          "frame %llu: payload of %zu bytes exceeds the limit",
                          (unsigned long long)frame, raw);
    if (raw > w->rawcap && grow(&w->raw, &w->rawcap, raw) < 0)
        return pvlog_fail(err, PVLOG_ENOMEM, w->file_off, (int64_t)frame,
                          "frame %llu: out of memory", (unsigned long long)frame);
    pos = PVLOG_DIR_SIZE;
    for (unsigned i = 0; i < COL_COUNT; i++) {
        put32(w->raw + 4 * i, (uint32_t)b->c[i].len);
        if (b->c[i].len)
            memcpy(w->raw + pos, b->c[i].p, b->c[i].len);
        pos += b->c[i].len;
    }
    bound = ZSTD_compressBound(raw);
    if (PVLOG_FRAME_HEADER_SIZE + bound > w->outcap &&
        grow(&w->out, &w->outcap, PVLOG_FRAME_HEADER_SIZE + bound) < 0)
        return pvlog_fail(err, PVLOG_ENOMEM, w->file_off, (int64_t)frame,
                          "frame %llu: out of memory", (unsigned long long)frame);
    ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level);
    csize = ZSTD_compress2(w->cctx, w->out + PVLOG_FRAME_HEADER_SIZE, bound, w->raw, raw);
    if (ZSTD_isError(csize))
        return pvlog_fail(err, PVLOG_EIO, w->file_off, (int64_t)frame,
                          "frame %llu: zstd compression failed: %s", (unsigned long long)frame,
                          ZSTD_getErrorName(csize));

    h = w->out;
    memset(h, 0, PVLOG_FRAME_HEADER_SIZE);
    put32(h + 0, PVLOG_FRAME_MAGIC);
    put32(h + 4, b->has_end ? PVLOG_FRAME_F_END : 0);
    put64(h + 8, frame);
    put64(h + 16, b->first_index);
    put32(h + 24, b->nevents);
    put32(h + 28, (uint32_t)csize);
    put32(h + 32, (uint32_t)raw);
    put64(h + 40, b->chain_start);
    put64(h + 48, b->chain_end);
    put64(h + 56, pvlog_xxh3(h + PVLOG_FRAME_HEADER_SIZE, csize));
    put64(h + 64, pvlog_xxh3(h, 64));

    if (w->nidx == w->idxcap) {
        size_t n = w->idxcap ? 2 * w->idxcap : 256;
        e = realloc(w->idx, n * sizeof(*e));
        if (!e)
            return pvlog_fail(err, PVLOG_ENOMEM, w->file_off, (int64_t)frame,
                              "frame %llu: out of memory for the index", (unsigned long long)frame);
        w->idx = e;
        w->idxcap = n;
    }
    if (write_all(w->fd, w->out, PVLOG_FRAME_HEADER_SIZE + csize) < 0)
        return pvlog_fail(err, PVLOG_EIO, w->file_off, (int64_t)frame,
                          "frame %llu at offset %llu: write failed: %s", (unsigned long long)frame,
                          (unsigned long long)w->file_off, strerror(errno));
    e = &w->idx[w->nidx++];
    e->offset = w->file_off;
    e->first_event = b->first_index;
    e->chain_end = b->chain_end;
    e->count = b->nevents;
    e->comp = (uint32_t)csize;
    e->raw = (uint32_t)raw;
    e->flags = b->has_end ? PVLOG_FRAME_F_END : 0;
    w->file_off += PVLOG_FRAME_HEADER_SIZE + csize;
    return PVLOG_OK;
}

static void recycle(struct pvlog_writer *w, struct batch *b)
{
    for (unsigned i = 0; i < COL_COUNT; i++) {
        if (b->c[i].cap > PVLOG_COL_KEEP) {
            free(b->c[i].p);
            b->c[i].p = NULL;
            b->c[i].cap = 0;
        }
        b->c[i].len = 0;
    }
    b->next = w->free;
    w->free = b;
}

static void tick_deadline(struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_nsec += PVLOG_TICK_MS * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int past(const struct timespec *deadline)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

static void *writer_main(void *arg)
{
    struct pvlog_writer *w = arg;
    struct timespec tick;

    tick_deadline(&tick);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        uint64_t req;
        int stolen = 1;

        while (!w->q_head && !w->stop && w->flush_req == w->flush_done) {
            if (pthread_cond_timedwait(&w->cv_work, &w->mu, &tick) == ETIMEDOUT)
                break;
        }
        if (past(&tick)) {
            /* Flush the active batch once it has held events for a tick. */
            if (w->active->nevents > 0) {
                if (w->active->seq == w->armed_seq)
                    steal_active(w);
                else
                    w->armed_seq = w->active->seq;
            }
            tick_deadline(&tick);
        }
        req = w->flush_req;
        if (req != w->flush_done || w->stop)
            stolen = steal_active(w) == 0;

        while (w->q_head) {
            struct batch *b = w->q_head;
            int level = w->level, failed = w->status != PVLOG_OK;
            struct pvlog_error e;
            enum pvlog_status st = PVLOG_OK;

            w->q_head = b->next;
            if (!w->q_head)
                w->q_tail = NULL;
            pthread_mutex_unlock(&w->mu);
            if (!failed) /* after an error, queued batches are dropped */
                st = write_frame(w, b, level, &e);
            pthread_mutex_lock(&w->mu);
            if (st != PVLOG_OK && w->status == PVLOG_OK) {
                w->status = st;
                w->err = e;
            }
            recycle(w, b);
            pthread_cond_broadcast(&w->cv_space);
        }
        if (stolen && req != w->flush_done) {
            w->flush_done = req;
            pthread_cond_broadcast(&w->cv_space);
        }
        if (w->stop && !w->q_head && w->active->nevents == 0) {
            /* Close waits in drain() and appends nothing more: all written. */
            w->flush_done = w->flush_req;
            pthread_cond_broadcast(&w->cv_space);
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ---- open ---- */

static size_t slen(const char *s)
{
    return s ? strlen(s) : 0;
}

/* Serialize the file header and the metadata section (formats/pvlog.md). */
static enum pvlog_status build_head(const struct pvlog_meta *m, uint8_t **out, size_t *outlen,
                                    struct pvlog_error *err)
{
    size_t cl = slen(m->cmdline), nl = slen(m->elf_name), vl = slen(m->pvrr_version);
    uint64_t metasz;
    uint8_t *buf, *p;

    if (cl > PVLOG_STRING_MAX || nl > PVLOG_STRING_MAX || vl > PVLOG_STRING_MAX)
        return pvlog_fail(err, PVLOG_EINVAL, 0, -1, "metadata string longer than %u bytes",
                          PVLOG_STRING_MAX);
    if (m->cpuid_len > PVLOG_CPUID_MAX || (m->cpuid_len && !m->cpuid))
        return pvlog_fail(err, PVLOG_EINVAL, 0, -1, "bad CPUID table (%llu bytes, limit %u)",
                          (unsigned long long)m->cpuid_len, PVLOG_CPUID_MAX);
    if (m->elf_len > PVLOG_ELF_MAX || (m->elf_len && !m->elf))
        return pvlog_fail(err, PVLOG_EINVAL, 0, -1, "bad ELF image (%llu bytes, limit %llu)",
                          (unsigned long long)m->elf_len, (unsigned long long)PVLOG_ELF_MAX);
    metasz = PVLOG_META_FIXED + cl + nl + vl + m->cpuid_len + m->elf_len;
    buf = calloc(1, PVLOG_HEADER_SIZE + metasz);
    if (!buf)
        return pvlog_fail(err, PVLOG_ENOMEM, 0, -1, "out of memory for %llu bytes of metadata",
                          (unsigned long long)metasz);

    p = buf + PVLOG_HEADER_SIZE;
    put32(p + 0, m->abi_version);
    put32(p + 4, m->disk_writable);
    put64(p + 8, m->mem_size);
    put64(p + 16, m->disk_sectors);
    put64(p + 24, m->start_wall_ns);
    put32(p + 32, (uint32_t)cl);
    put32(p + 36, (uint32_t)nl);
    put32(p + 40, (uint32_t)vl);
    put32(p + 44, (uint32_t)m->cpuid_len);
    put64(p + 48, m->elf_len);
    put32(p + 56, m->engine);
    /* p + 60: reserved, zero */
    p += PVLOG_META_FIXED;
    memcpy(p, m->cmdline ? m->cmdline : "", cl);
    p += cl;
    memcpy(p, m->elf_name ? m->elf_name : "", nl);
    p += nl;
    memcpy(p, m->pvrr_version ? m->pvrr_version : "", vl);
    p += vl;
    if (m->cpuid_len)
        memcpy(p, m->cpuid, m->cpuid_len);
    p += m->cpuid_len;
    if (m->elf_len)
        memcpy(p, m->elf, m->elf_len);

    memcpy(buf, PVLOG_MAGIC, PVLOG_MAGIC_LEN);
    put32(buf + 8, PVLOG_FORMAT_VERSION);
    put32(buf + 12, 0); /* flags */
    put32(buf + 16, PVLOG_HEADER_SIZE);
    put32(buf + 20, PVLOG_FRAME_HEADER_SIZE);
    put64(buf + 24, PVLOG_HEADER_SIZE); /* metadata offset */
    put64(buf + 32, metasz);
    put64(buf + 40, pvlog_xxh3(buf + PVLOG_HEADER_SIZE, metasz));
    /* buf + 48: reserved, zero */
    put64(buf + 56, pvlog_xxh3(buf, 56));
    *out = buf;
    *outlen = PVLOG_HEADER_SIZE + metasz;
    return PVLOG_OK;
}

static void writer_destroy(struct pvlog_writer *w)
{
    struct batch *b, *n;
    if (w->fd >= 0)
        close(w->fd);
    batch_free(w->active);
    for (b = w->free; b; b = n) {
        n = b->next;
        batch_free(b);
    }
    for (b = w->q_head; b; b = n) {
        n = b->next;
        batch_free(b);
    }
    ZSTD_freeCCtx(w->cctx);
    free(w->raw);
    free(w->out);
    free(w->idx);
    pthread_cond_destroy(&w->cv_space);
    pthread_cond_destroy(&w->cv_work);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

enum pvlog_status pvlog_writer_open(struct pvlog_writer **out, const char *path,
                                    const struct pvlog_meta *meta, struct pvlog_error *err)
{
    struct pvlog_writer *w;
    pthread_condattr_t ca;
    sigset_t all, old;
    uint8_t *head = NULL;
    size_t headlen = 0;
    enum pvlog_status st;
    int rc;

    pvlog_clear(err);
    if (!out || !path || !meta)
        return pvlog_fail(err, PVLOG_EINVAL, 0, -1, "pvlog_writer_open: NULL argument");
    *out = NULL;
    st = build_head(meta, &head, &headlen, err);
    if (st != PVLOG_OK)
        return st;

    w = calloc(1, sizeof(*w));
    if (!w) {
        free(head);
        return pvlog_fail(err, PVLOG_ENOMEM, 0, -1, "out of memory");
    }
    w->fd = -1;
    w->frame_bytes = PVLOG_FRAME_BYTES_DEFAULT;
    w->level = 1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv_work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&w->cv_space, NULL);

    w->cctx = ZSTD_createCCtx();
    w->active = calloc(1, sizeof(struct batch));
    w->free = calloc(1, sizeof(struct batch));
    if (!w->cctx || !w->active || !w->free) {
        free(head);
        writer_destroy(w);
        return pvlog_fail(err, PVLOG_ENOMEM, 0, -1, "out of memory");
    }
    w->nbatches = 2;
    batch_activate(w, w->active);

    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        st = pvlog_fail(err, PVLOG_EIO, 0, -1, "cannot create %s: %s", path, strerror(errno));
        free(head);
        writer_destroy(w);
        return st;
    }
    if (write_all(w->fd, head, headlen) < 0) {
        st = pvlog_fail(err, PVLOG_EIO, 0, -1, "cannot write the header of %s: %s", path,
                        strerror(errno));
        free(head);
        writer_destroy(w);
        return st;
    }
    free(head);
    w->file_off = headlen;

    /* Signals go to the caller's threads, never to the writer thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&w->thread, NULL, writer_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        st = pvlog_fail(err, PVLOG_ENOMEM, 0, -1, "cannot start the writer thread: %s",
                        strerror(rc));
        writer_destroy(w);
        return st;
    }
    *out = w;
    return PVLOG_OK;
}

void pvlog_writer_set_frame_bytes(struct pvlog_writer *w, uint32_t bytes)
{
    if (bytes < PVLOG_FRAME_BYTES_MIN)
        bytes = PVLOG_FRAME_BYTES_MIN;
    if (bytes > PVLOG_FRAME_BYTES_MAX)
        bytes = PVLOG_FRAME_BYTES_MAX;
    pthread_mutex_lock(&w->mu);
    w->frame_bytes = bytes;
    pthread_mutex_unlock(&w->mu);
}

void pvlog_writer_set_zstd_level(struct pvlog_writer *w, int level)
{
    if (level < 1)
        level = 1;
    if (level > 19)
        level = 19;
    pthread_mutex_lock(&w->mu);
    w->level = level;
    pthread_mutex_unlock(&w->mu);
}

/* ---- append ---- */

/* Store (v) as a varint at the end of (c); returns the bytes added. */
static inline size_t col_varint_n(struct col *c, uint64_t v)
{
    size_t n = varint_put(c->p + c->len, v);
    c->len += n;
    return n;
}

/* Room for one event in every column it touches; (data) is its write bytes. */
static inline int reserve_event(struct batch *b, const struct pvlog_event *ev, size_t data)
{
    if (ev->kind == PVLOG_EV_END)
        return col_reserve(&b->c[COL_OPS], 1) || col_reserve(&b->c[COL_END], PVLOG_END_RECORD);
    /* Worst cases: varint u16 3 bytes, varint u64 10, digest 8; per write a
     * 10-byte gpa delta and a 5-byte length after a 2-byte count. */
    if (col_reserve(&b->c[COL_OPS], 1) || col_reserve(&b->c[COL_NR], 3) ||
        col_reserve(&b->c[COL_RIP], 10) || col_reserve(&b->c[COL_ARG], 10) ||
        col_reserve(&b->c[COL_DIG], 8) || col_reserve(&b->c[COL_REGS8], 1))
        return -1;
    if (ev->nwrites && (col_reserve(&b->c[COL_WDESC], 2 + 15 * (size_t)ev->nwrites) ||
                        col_reserve(&b->c[COL_WDATA], data)))
        return -1;
    return 0;
}

/* Encode a hypercall event into (b), which has room; returns the bytes added. */
static inline size_t encode_hypercall(struct batch *b, const struct pvlog_event *ev)
{
    unsigned slot = ev->nr & (PVLOG_SLOTS - 1);
    uint8_t op = PVLOG_EV_HYPERCALL;
    size_t added = 2; /* op and regs8 */

    if (ev->nr == b->last_nr) {
        op |= OP_NR_SAME;
    } else {
        added += col_varint_n(&b->c[COL_NR], ev->nr);
        b->last_nr = ev->nr;
    }
    if (ev->rip == b->last_rip) {
        op |= OP_RIP_SAME;
    } else {
        added += col_varint_n(&b->c[COL_RIP], zigzag(ev->rip - b->last_rip));
        b->last_rip = ev->rip;
    }
    if (ev->arg_gpa == b->slot_arg[slot]) {
        op |= OP_ARG_SAME;
    } else {
        added += col_varint_n(&b->c[COL_ARG], zigzag(ev->arg_gpa - b->slot_arg[slot]));
        b->slot_arg[slot] = ev->arg_gpa;
    }
    if (ev->in_digest == b->slot_dig[slot]) {
        op |= OP_DIG_SAME;
    } else {
        struct col *c = &b->c[COL_DIG];
        put64(c->p + c->len, ev->in_digest);
        c->len += 8;
        added += 8;
        b->slot_dig[slot] = ev->in_digest;
    }
    if (ev->nwrites == 0) {
        op |= OP_NO_WRITES;
    } else {
        struct col *d = &b->c[COL_WDESC], *data = &b->c[COL_WDATA];
        uint64_t base = ev->arg_gpa;
        added += col_varint_n(d, ev->nwrites);
        for (uint32_t i = 0; i < ev->nwrites; i++) {
            const struct pvlog_write *wr = &ev->writes[i];
            added += col_varint_n(d, zigzag(wr->gpa - base));
            added += col_varint_n(d, wr->len);
            if (wr->len) {
                memcpy(data->p + data->len, wr->data, wr->len);
                data->len += wr->len;
                added += wr->len;
            }
            base = wr->gpa + wr->len;
        }
    }
    b->c[COL_REGS8].p[b->c[COL_REGS8].len++] = ev->regs8;
    b->c[COL_OPS].p[b->c[COL_OPS].len++] = op;
    return added;
}

static inline size_t encode_end(struct batch *b, const struct pvlog_event *ev)
{
    struct col *c = &b->c[COL_END];
    uint8_t *p = c->p + c->len;
    p[0] = ev->end_reason;
    put32(p + 1, (uint32_t)ev->status);
    put64(p + 5, ev->final_digest);
    put64(p + 13, ev->regs_chain);
    put64(p + 21, ev->end_wall_ns);
    c->len += PVLOG_END_RECORD;
    b->c[COL_OPS].p[b->c[COL_OPS].len++] = PVLOG_EV_END;
    return 1 + PVLOG_END_RECORD;
}

/* Check (ev) before taking the lock; sets *data to its write bytes. */
static enum pvlog_status check_event(const struct pvlog_event *ev, size_t *data,
                                     struct pvlog_error *err)
{
    uint64_t sum = 0;
    *data = 0;
    if (ev->kind == PVLOG_EV_END)
        return PVLOG_OK;
    if (ev->kind != PVLOG_EV_HYPERCALL)
        return pvlog_fail(err, PVLOG_EINVAL, 0, -1, "unknown event kind %u", ev->kind);
    if (ev->nwrites == 0)
        return PVLOG_OK;
    if (ev->nwrites > PVLOG_WRITES_MAX || !ev->writes)
        return pvlog_fail(err, PVLOG_EINVAL, 0, -1, "event with %u writes (limit %u)", ev->nwrites,
                          PVLOG_WRITES_MAX);
    for (uint32_t i = 0; i < ev->nwrites; i++) {
        if (ev->writes[i].len && !ev->writes[i].data)
            return pvlog_fail(err, PVLOG_EINVAL, 0, -1, "write %u has no data", i);
        sum += ev->writes[i].len;
    }
    if (sum > PVLOG_EVENT_DATA_MAX)
        return pvlog_fail(err, PVLOG_EINVAL, 0, -1, "event writes %llu bytes (limit %u)",
                          (unsigned long long)sum, PVLOG_EVENT_DATA_MAX);
    *data = (size_t)sum;
    return PVLOG_OK;
}

enum pvlog_status pvlog_writer_append(struct pvlog_writer *w, const struct pvlog_event *ev,
                                      struct pvlog_error *err)
{
    enum pvlog_status st;
    struct batch *b;
    size_t data;

    if (!w || !ev)
        return pvlog_fail(err, PVLOG_EINVAL, 0, -1, "pvlog_writer_append: NULL argument");
    st = check_event(ev, &data, err);
    if (st != PVLOG_OK)
        return st;

    pthread_mutex_lock(&w->mu);
    if (w->status != PVLOG_OK || w->ended) {
        st = w->status;
        if (st != PVLOG_OK && err)
            *err = w->err;
        else if (st == PVLOG_OK)
            st = pvlog_fail(err, PVLOG_EINVAL, 0, -1, "event %llu appended after the END event",
                            (unsigned long long)w->next_index);
        goto out;
    }
    b = w->active;
    /* A frame never grows past the limit: a big event starts a new one. */
    if (b->nevents > 0 && b->raw + data + 17 * (size_t)ev->nwrites + 64 > PVLOG_FRAME_RAW_MAX) {
        handover(w);
        b = w->active;
    }
    if (reserve_event(b, ev, data) < 0) {
        st = pvlog_fail(err, PVLOG_ENOMEM, 0, -1, "out of memory for event %llu",
                        (unsigned long long)w->next_index);
        goto out;
    }
    if (ev->kind == PVLOG_EV_HYPERCALL) {
        b->raw += encode_hypercall(b, ev);
    } else {
        b->raw += encode_end(b, ev);
        b->has_end = 1;
        w->ended = 1;
    }
    b->nevents++;
    b->chain_end = w->chain = ev->regs_chain;
    w->next_index++;
    if (b->raw >= w->frame_bytes || b->has_end)
        handover(w);
out:
    pthread_mutex_unlock(&w->mu);
    return st;
}

uint64_t pvlog_writer_count(const struct pvlog_writer *w)
{
    return w ? w->next_index : 0;
}

/* ---- flush and close ---- */

/* Ask the background thread to write everything appended so far and wait. */
static enum pvlog_status drain(struct pvlog_writer *w, int stop, struct pvlog_error *err)
{
    enum pvlog_status st;
    uint64_t req;

    pthread_mutex_lock(&w->mu);
    req = ++w->flush_req;
    if (stop)
        w->stop = 1;
    pthread_cond_signal(&w->cv_work);
    while (w->flush_done < req)
        pthread_cond_wait(&w->cv_space, &w->mu);
    st = w->status;
    if (st != PVLOG_OK && err)
        *err = w->err;
    pthread_mutex_unlock(&w->mu);
    return st;
}

enum pvlog_status pvlog_writer_flush(struct pvlog_writer *w, struct pvlog_error *err)
{
    pvlog_clear(err);
    if (!w)
        return pvlog_fail(err, PVLOG_EINVAL, 0, -1, "pvlog_writer_flush: NULL writer");
    return drain(w, 0, err);
}

/* Write the index section and the trailer with one write (formats/pvlog.md). */
static enum pvlog_status write_index(struct pvlog_writer *w, struct pvlog_error *err)
{
    size_t isz = PVLOG_INDEX_HEADER_SIZE + PVLOG_INDEX_ENTRY_SIZE * w->nidx + 8;
    uint8_t *buf = calloc(1, isz + PVLOG_TRAILER_SIZE), *p, *t;
    uint64_t events = 0;
    int has_end = w->nidx && (w->idx[w->nidx - 1].flags & PVLOG_FRAME_F_END);

    if (!buf)
        return pvlog_fail(err, PVLOG_ENOMEM, w->file_off, -1, "out of memory for the index");
    for (size_t i = 0; i < w->nidx; i++)
        events += w->idx[i].count;
    put32(buf + 0, PVLOG_INDEX_MAGIC);
    put32(buf + 4, has_end ? PVLOG_INDEX_F_END : 0);
    put64(buf + 8, w->nidx);
    put64(buf + 16, events);
    p = buf + PVLOG_INDEX_HEADER_SIZE;
    for (size_t i = 0; i < w->nidx; i++, p += PVLOG_INDEX_ENTRY_SIZE) {
        put64(p + 0, w->idx[i].offset);
        put64(p + 8, w->idx[i].first_event);
        put64(p + 16, w->idx[i].chain_end);
        put32(p + 24, w->idx[i].count);
        put32(p + 28, w->idx[i].comp);
        put32(p + 32, w->idx[i].raw);
        put32(p + 36, w->idx[i].flags);
    }
    put64(p, pvlog_xxh3(buf, isz - 8));
    t = buf + isz;
    put64(t + 0, w->file_off);
    put64(t + 8, isz);
    put64(t + 16, pvlog_xxh3(t, 16));
    memcpy(t + 24, PVLOG_TRAILER_MAGIC, 8);
    if (write_all(w->fd, buf, isz + PVLOG_TRAILER_SIZE) < 0) {
        free(buf);
        return pvlog_fail(err, PVLOG_EIO, w->file_off, -1, "writing the index failed: %s",
                          strerror(errno));
    }
    free(buf);
    return PVLOG_OK;
}

enum pvlog_status pvlog_writer_close(struct pvlog_writer *w, struct pvlog_error *err)
{
    enum pvlog_status st;

    pvlog_clear(err);
    if (!w)
        return PVLOG_OK;
    st = drain(w, 1, err);
    pthread_join(w->thread, NULL);
    if (st == PVLOG_OK)
        st = write_index(w, err);
    if (st == PVLOG_OK && fsync(w->fd) < 0 && errno != EINVAL)
        st = pvlog_fail(err, PVLOG_EIO, w->file_off, -1, "fsync failed: %s", strerror(errno));
    if (close(w->fd) < 0 && st == PVLOG_OK)
        st = pvlog_fail(err, PVLOG_EIO, w->file_off, -1, "close failed: %s", strerror(errno));
    w->fd = -1;
    writer_destroy(w);
    return st;
}
