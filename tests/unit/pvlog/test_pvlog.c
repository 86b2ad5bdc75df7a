/*
 * test_pvlog.c - CUnit tests of the pvlog writer and reader (pvlog/pvlog.h)
 * and of the byte layout in formats/pvlog.md.
 *
 * Byte-level helpers below (file/frame/index offsets) follow the spec, not
 * the implementation's private header, so a drift between the two fails here.
 * Temporary files live in a mkdtemp() directory removed at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <xxhash.h>
#include <zstd.h>

#include "pvlog/pvlog.h"

/* ---- helpers ---- */

static char tmpdir[256];
static int npaths;

/* A fresh path in the temporary directory. */
static const char *tpath(const char *stem)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s.%d.pvlog", tmpdir, stem, npaths++);
    return p;
}

static int failures_reported;
/* Assert inside big loops: report the first few failures with a message. */
#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (failures_reported++ < 20) {                                                        \
                fprintf(stderr, "\n%s:%d: ", __FILE__, __LINE__);                                  \
                fprintf(stderr, __VA_ARGS__);                                                      \
                fprintf(stderr, "\n");                                                             \
            }                                                                                      \
            CU_assertImplementation(CU_FALSE, __LINE__, #cond, __FILE__, "", CU_FALSE);            \
        }                                                                                          \
    } while (0)

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *p;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    p = malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f;
    unlink(path); /* not O_TRUNC: ext4 flushes files truncated and rewritten */
    f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    if (n)
        CU_ASSERT_FATAL(fwrite(p, 1, n, f) == n);
    fclose(f);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}
static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Layout facts from formats/pvlog.md. */
#define HDR 64
#define FHDR 72
#define TRAILER 32
struct layout {
    size_t frames_off; /* first frame */
    size_t nframes;
    size_t off[4096];     /* frame offsets; off[nframes] = end of the last frame */
    uint64_t first[4097]; /* first event of each frame; first[nframes] = total */
    size_t index_off;     /* 0 when the file has no trailer */
};

static void parse_layout(const uint8_t *p, size_t n, struct layout *l)
{
    size_t o;
    memset(l, 0, sizeof(*l));
    l->frames_off = HDR + (size_t)rd64(p + 32);
    o = l->frames_off;
    while (o + FHDR <= n && rd32(p + o) == 0x52465650u && l->nframes < 4095) {
        l->off[l->nframes] = o;
        l->first[l->nframes] = rd64(p + o + 16);
        l->first[l->nframes + 1] = l->first[l->nframes] + rd32(p + o + 24);
        l->nframes++;
        o += FHDR + rd32(p + o + 28);
    }
    l->off[l->nframes] = o;
    if (n >= TRAILER && memcmp(p + n - 8, "PVRREND", 8) == 0)
        l->index_off = (size_t)rd64(p + n - TRAILER);
}

/* free() for data held through a const pointer. */
static void free_const(const void *p)
{
    void *q;
    memcpy(&q, &p, sizeof(q));
    free(q);
}

/* An expected event and the data it owns. */
struct xev {
    struct pvlog_event ev;
    struct pvlog_write *w;
};

static void xev_free(struct xev *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (uint32_t k = 0; k < x[i].ev.nwrites; k++)
            free_const(x[i].w[k].data);
        free(x[i].w);
    }
    free(x);
}

/* A random hypercall event; (big) allows writes of up to 1 MiB. */
static void gen_event(struct xev *x, const struct xev *prev, int big)
{
    static const uint16_t odd_nrs[] = {255, 256, 300, 511, 65535};
    struct pvlog_event *e = &x->ev;
    uint64_t r = rnd();

    memset(x, 0, sizeof(*x));
    e->kind = PVLOG_EV_HYPERCALL;
    e->nr = (r % 16 < 13) ? (uint16_t)(rnd() % 11) : odd_nrs[rnd() % 5];
    switch (rnd() % 4) {
    case 0:
        e->rip = prev ? prev->ev.rip : 0;
        break;
    case 1:
        e->rip = (prev ? prev->ev.rip : 0x100000) + rnd() % 64 - 32;
        break;
    default:
        e->rip = rnd();
    }
    e->arg_gpa = (rnd() % 2) ? 0x7fff00 + 16 * (rnd() % 4) : rnd();
    e->in_digest = (rnd() % 2) ? 0x1234 : rnd();
    e->regs8 = (uint8_t)rnd();
    e->regs_chain = rnd();
    r = rnd() % 100;
    if (r < 60)
        e->nwrites = 0;
    else if (r < 95)
        e->nwrites = 1 + (uint32_t)(rnd() % 3);
    else
        e->nwrites = 64;
    if (e->nwrites) {
        x->w = calloc(e->nwrites, sizeof(*x->w));
        for (uint32_t k = 0; k < e->nwrites; k++) {
            uint32_t len = (uint32_t)(rnd() % 100 < 90 ? rnd() % 64 : rnd() % 8192);
            uint8_t *d;
            if (big && k == 0 && rnd() % 50 == 0)
                len = 1u << 20;
            d = malloc(len ? len : 1);
            for (uint32_t b = 0; b < len; b++)
                d[b] = (uint8_t)(b % 7 == 0 ? rnd() : b);
            x->w[k].gpa = (rnd() % 2) ? e->arg_gpa + 8 * k : rnd();
            x->w[k].len = len;
            x->w[k].data = d;
        }
        e->writes = x->w;
    }
}

static void gen_end(struct xev *x)
{
    memset(x, 0, sizeof(*x));
    x->ev.kind = PVLOG_EV_END;
    x->ev.end_reason = PVLOG_END_EXIT;
    x->ev.status = -7;
    x->ev.final_digest = 0xfeedfacecafebeefull;
    x->ev.regs_chain = 0x0123456789abcdefull;
    x->ev.end_wall_ns = 1700000000123456789ull;
}

/* (n) random events, the last an END event when (end). */
static struct xev *gen_events(size_t n, int end, int big)
{
    struct xev *x = calloc(n, sizeof(*x));
    for (size_t i = 0; i < n; i++) {
        if (end && i + 1 == n)
            gen_end(&x[i]);
        else
            gen_event(&x[i], i ? &x[i - 1] : NULL, big);
        x[i].ev.index = i;
    }
    return x;
}

static const uint8_t test_elf[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
static const uint8_t test_cpuid[] = {1, 2, 3, 4, 5, 6, 7, 8};
static const struct pvlog_meta test_meta = {
    .abi_version = 1,
    .mem_size = 64ull << 20,
    .cmdline = "kvstore --port 7",
    .elf = test_elf,
    .elf_len = sizeof(test_elf),
    .elf_name = "kvstore.elf",
    .cpuid = test_cpuid,
    .cpuid_len = sizeof(test_cpuid),
    .disk_sectors = 2048,
    .disk_writable = 1,
    .start_wall_ns = 1700000000000000000ull,
    .pvrr_version = "0.1.0",
};

/* Write (x[0..n)) to a new log at (path); (frame_bytes) 0 keeps the default. */
static void write_log(const char *path, const struct xev *x, size_t n, uint32_t frame_bytes)
{
    struct pvlog_writer *w;
    struct pvlog_error err;
    CU_ASSERT_EQUAL_FATAL(pvlog_writer_open(&w, path, &test_meta, &err), PVLOG_OK);
    if (frame_bytes)
        pvlog_writer_set_frame_bytes(w, frame_bytes);
    for (size_t i = 0; i < n; i++) {
        enum pvlog_status st = pvlog_writer_append(w, &x[i].ev, &err);
        EXPECT(st == PVLOG_OK, "append %zu: %s", i, err.msg);
    }
    CU_ASSERT_EQUAL(pvlog_writer_count(w), n);
    CU_ASSERT_EQUAL_FATAL(pvlog_writer_close(w, &err), PVLOG_OK);
}

static int ev_equal(const struct pvlog_event *a, const struct pvlog_event *b)
{
    if (a->index != b->index || a->kind != b->kind)
        return 0;
    if (a->kind == PVLOG_EV_END)
        return a->end_reason == b->end_reason && a->status == b->status &&
               a->final_digest == b->final_digest && a->regs_chain == b->regs_chain &&
               a->end_wall_ns == b->end_wall_ns;
    if (a->nr != b->nr || a->regs8 != b->regs8 || a->rip != b->rip || a->arg_gpa != b->arg_gpa ||
        a->in_digest != b->in_digest || a->nwrites != b->nwrites)
        return 0;
    for (uint32_t k = 0; k < a->nwrites; k++) {
        const struct pvlog_write *p = &a->writes[k], *q = &b->writes[k];
        if (p->gpa != q->gpa || p->len != q->len || (p->len && memcmp(p->data, q->data, p->len)))
            return 0;
    }
    return 1;
}

/* Read events from (r) comparing them with (x); returns the first status that
 * is not PVLOG_OK and the number of events read. */
static enum pvlog_status read_compare(struct pvlog_reader *r, const struct xev *x, size_t n,
                                      size_t *count, struct pvlog_error *err)
{
    struct pvlog_event ev;
    enum pvlog_status st;
    size_t i = 0;
    while ((st = pvlog_reader_next(r, &ev, err)) == PVLOG_OK) {
        EXPECT(i < n, "more events than written (%zu)", i);
        if (i >= n)
            break;
        EXPECT(ev_equal(&ev, &x[i].ev), "event %zu differs", i);
        if (ev.chain_valid)
            EXPECT(ev.regs_chain == x[i].ev.regs_chain, "event %zu: chain differs", i);
        i++;
    }
    *count = i;
    return st;
}

/* ---- tests ---- */

static void test_status_str(void)
{
    CU_ASSERT_STRING_EQUAL(pvlog_status_str(PVLOG_OK), "ok");
    CU_ASSERT_STRING_EQUAL(pvlog_status_str(PVLOG_ETRUNCATED), "truncated pvlog");
    CU_ASSERT_STRING_EQUAL(pvlog_status_str(PVLOG_ECORRUPT), "corrupt pvlog");
    CU_ASSERT_STRING_EQUAL(pvlog_status_str((enum pvlog_status)42), "unknown pvlog status");
}

static void test_roundtrip(void)
{
    const size_t n = 20001;
    struct xev *x = gen_events(n, 1, 1);
    const char *path = tpath("roundtrip");
    struct pvlog_reader *r;
    struct pvlog_error err;
    struct pvlog_stats st;
    struct pvlog_event ev;
    size_t count, chains = 0, bigs = 0, many = 0;
    struct stat sb;

    for (size_t i = 0; i < n; i++) {
        bigs += x[i].ev.nwrites && x[i].w[0].len == 1u << 20;
        many += x[i].ev.nwrites == 64;
    }
    CU_ASSERT(bigs > 0);
    CU_ASSERT(many > 0);
    write_log(path, x, n, 0);
    CU_ASSERT_EQUAL_FATAL(pvlog_reader_open(&r, path, &err), PVLOG_OK);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_EQUAL_FATAL(pvlog_reader_next(r, &ev, &err), PVLOG_OK);
        EXPECT(ev_equal(&ev, &x[i].ev), "event %zu differs", i);
        if (ev.chain_valid) {
            chains++;
            EXPECT(ev.regs_chain == x[i].ev.regs_chain, "chain of event %zu", i);
        } else {
            EXPECT(ev.regs_chain == 0, "event %zu: regs_chain without chain_valid", i);
        }
    }
    CU_ASSERT(ev.chain_valid); /* END is always last in its frame */
    CU_ASSERT_EQUAL(pvlog_reader_next(r, &ev, &err), PVLOG_END);
    CU_ASSERT_EQUAL(pvlog_reader_next(r, &ev, &err), PVLOG_END);
    CU_ASSERT_EQUAL(pvlog_reader_stats(r, &st, &err), PVLOG_OK);
    stat(path, &sb);
    CU_ASSERT_EQUAL(st.events, n);
    CU_ASSERT(st.frames > 10);
    CU_ASSERT_EQUAL(st.frames, chains);
    CU_ASSERT_EQUAL(st.file_bytes, (uint64_t)sb.st_size);
    CU_ASSERT(st.raw_bytes > (uint64_t)sb.st_size / 2);
    CU_ASSERT_EQUAL(st.complete, 1);
    /* Seek back to the start and read everything again. */
    CU_ASSERT_EQUAL(pvlog_reader_seek(r, 0, &err), PVLOG_OK);
    CU_ASSERT_EQUAL(read_compare(r, x, n, &count, &err), PVLOG_END);
    CU_ASSERT_EQUAL(count, n);
    pvlog_reader_close(r);
    xev_free(x, n);
}

static void test_meta_roundtrip(void)
{
    const char *path = tpath("meta");
    struct pvlog_meta m = test_meta;
    const struct pvlog_meta *g;
    struct pvlog_writer *w;
    struct pvlog_reader *r;
    struct pvlog_error err;
    size_t elf_len = 300000;
    uint8_t *elf = malloc(elf_len), cpuid[4096];
    char cmdline[2048];

    for (size_t i = 0; i < elf_len; i++)
        elf[i] = (uint8_t)rnd();
    for (size_t i = 0; i < sizeof(cpuid); i++)
        cpuid[i] = (uint8_t)rnd();
    for (size_t i = 0; i < sizeof(cmdline) - 1; i++)
        cmdline[i] = (char)('a' + i % 26);
    cmdline[sizeof(cmdline) - 1] = '\0';
    m.elf = elf;
    m.elf_len = elf_len;
    m.cpuid = cpuid;
    m.cpuid_len = sizeof(cpuid);
    m.cmdline = cmdline;
    m.abi_version = 77;
    m.mem_size = 3ull << 30;
    m.disk_sectors = 123456789;
    m.disk_writable = 0;
    m.start_wall_ns = 0xfedcba9876543210ull;
    m.engine = PVLOG_ENGINE_EMU;
    CU_ASSERT_EQUAL_FATAL(pvlog_writer_open(&w, path, &m, &err), PVLOG_OK);
    CU_ASSERT_EQUAL_FATAL(pvlog_writer_close(w, &err), PVLOG_OK);
    CU_ASSERT_EQUAL_FATAL(pvlog_reader_open(&r, path, &err), PVLOG_OK);
    g = pvlog_reader_meta(r);
    CU_ASSERT_EQUAL(g->abi_version, 77);
    CU_ASSERT_EQUAL(g->mem_size, 3ull << 30);
    CU_ASSERT_STRING_EQUAL(g->cmdline, cmdline);
    CU_ASSERT_EQUAL(g->elf_len, elf_len);
    CU_ASSERT(memcmp(g->elf, elf, elf_len) == 0);
    CU_ASSERT_STRING_EQUAL(g->elf_name, "kvstore.elf");
    CU_ASSERT_EQUAL(g->cpuid_len, sizeof(cpuid));
    CU_ASSERT(memcmp(g->cpuid, cpuid, sizeof(cpuid)) == 0);
    CU_ASSERT_EQUAL(g->disk_sectors, 123456789);
    CU_ASSERT_EQUAL(g->disk_writable, 0);
    CU_ASSERT_EQUAL(g->start_wall_ns, 0xfedcba9876543210ull);
    CU_ASSERT_STRING_EQUAL(g->pvrr_version, "0.1.0");
    CU_ASSERT_EQUAL(g->engine, PVLOG_ENGINE_EMU);
    CU_ASSERT_STRING_EQUAL(pvlog_engine_name(g->engine), "emu");
    CU_ASSERT_STRING_EQUAL(pvlog_engine_name(PVLOG_ENGINE_KVM), "kvm");
    CU_ASSERT_STRING_EQUAL(pvlog_engine_name(7), "?");
    pvlog_reader_close(r);

    /* NULL strings and tables read back as empty. */
    memset(&m, 0, sizeof(m));
    path = tpath("meta0");
    CU_ASSERT_EQUAL_FATAL(pvlog_writer_open(&w, path, &m, &err), PVLOG_OK);
    CU_ASSERT_EQUAL_FATAL(pvlog_writer_close(w, &err), PVLOG_OK);
    CU_ASSERT_EQUAL_FATAL(pvlog_reader_open(&r, path, &err), PVLOG_OK);
    g = pvlog_reader_meta(r);
    CU_ASSERT_STRING_EQUAL(g->cmdline, "");
    CU_ASSERT_STRING_EQUAL(g->elf_name, "");
    CU_ASSERT_STRING_EQUAL(g->pvrr_version, "");
    CU_ASSERT_EQUAL(g->elf_len, 0);
    CU_ASSERT_EQUAL(g->cpuid_len, 0);
    CU_ASSERT_EQUAL(g->engine, PVLOG_ENGINE_KVM);
    pvlog_reader_close(r);

    /* An engine this reader does not know is a corrupt log, named as such. */
    m.engine = 9;
    path = tpath("meta-engine");
    CU_ASSERT_EQUAL_FATAL(pvlog_writer_open(&w, path, &m, &err), PVLOG_OK);
    CU_ASSERT_EQUAL_FATAL(pvlog_writer_close(w, &err), PVLOG_OK);
    CU_ASSERT_EQUAL(pvlog_reader_open(&r, path, &err), PVLOG_ECORRUPT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unknown execution engine 9"));
    free(elf);
}

/* One million NOP hypercalls with a random regs8 each: <= 2 bytes/event. */
static void test_nop_ratio(void)
{
    const size_t n = 1000000;
    const char *path = tpath("nop");
    struct pvlog_writer *w;
    struct pvlog_reader *r;
    struct pvlog_error err;
    struct pvlog_event ev = {0}, got;
    struct stat sb;
    size_t count = 0;
    uint64_t sum = 0, sum_got = 0;
    double per_event;

    ev.kind = PVLOG_EV_HYPERCALL;
    ev.nr = 0;
    ev.rip = 0x100a3c;
    ev.arg_gpa = 0x7ffff0;
    ev.in_digest = 0x8badf00ddeadbeefull;
    CU_ASSERT_EQUAL_FATAL(pvlog_writer_open(&w, path, &test_meta, &err), PVLOG_OK);
    for (size_t i = 0; i < n; i++) {
        ev.regs8 = (uint8_t)(rnd() >> 32);
        ev.regs_chain = i;
        sum += ev.regs8;
        if (pvlog_writer_append(w, &ev, &err) != PVLOG_OK) {
            CU_FAIL("append");
            break;
        }
    }
    CU_ASSERT_EQUAL_FATAL(pvlog_writer_close(w, &err), PVLOG_OK);
    CU_ASSERT_EQUAL_FATAL(stat(path, &sb), 0);
    per_event = (double)sb.st_size / (double)n;
    fprintf(stderr, "\n  NOP stream: %lld bytes for %zu events = %.3f bytes/event\n",
            (long long)sb.st_size, n, per_event);
    CU_ASSERT(per_event <= 2.0);
    CU_ASSERT_EQUAL_FATAL(pvlog_reader_open(&r, path, &err), PVLOG_OK);
    while (pvlog_reader_next(r, &got, &err) == PVLOG_OK) {
        sum_got += got.regs8;
        count += got.nr == 0 && got.rip == ev.rip && got.arg_gpa == ev.arg_gpa &&
                 got.in_digest == ev.in_digest && got.nwrites == 0;
    }
    CU_ASSERT_EQUAL(err.status, PVLOG_ETRUNCATED); /* no END event in this log */
    CU_ASSERT(strstr(err.msg, "without an END event") != NULL);
    CU_ASSERT_EQUAL(count, n);
    CU_ASSERT_EQUAL(sum_got, sum);
    pvlog_reader_close(r);
}

/* A small log of several frames (small frame size), END included. */
static struct xev *small_log(const char *path, size_t n, uint8_t **bytes, size_t *len)
{
    struct xev *x = calloc(n, sizeof(*x));
    for (size_t i = 0; i < n; i++) {
        if (i + 1 == n) {
            gen_end(&x[i]);
        } else {
            gen_event(&x[i], i ? &x[i - 1] : NULL, 0);
            if (x[i].ev.nwrites > 2) { /* keep the file small */
                for (uint32_t k = 2; k < x[i].ev.nwrites; k++)
                    free_const(x[i].w[k].data);
                x[i].ev.nwrites = 2;
            }
            for (uint32_t k = 0; k < x[i].ev.nwrites; k++)
                if (x[i].w[k].len > 40)
                    x[i].w[k].len = 40;
        }
        x[i].ev.index = i;
    }
    write_log(path, x, n, 256);
    *bytes = read_file(path, len);
    CU_ASSERT_FATAL(*bytes != NULL);
    return x;
}

/* Cut a log at every byte offset: never a crash, exactly the events of the
 * complete frames, then PVLOG_ETRUNCATED naming the first missing event. */
static void test_truncate_every_offset(void)
{
    const char *full = tpath("trunc_full"), *cut = tpath("trunc_cut");
    size_t n = 24, len, count;
    uint8_t *bytes;
    struct xev *x = small_log(full, n, &bytes, &len);
    struct layout l;
    char want[128];

    parse_layout(bytes, len, &l);
    CU_ASSERT_FATAL(l.nframes >= 3);
    CU_ASSERT_FATAL(l.index_off == l.off[l.nframes]);
    CU_ASSERT_EQUAL_FATAL(l.first[l.nframes], n);
    fprintf(stderr, "\n  small log: %zu bytes, %zu frames, frames at offset %zu, index at %zu\n",
            len, l.nframes, l.frames_off, l.index_off);
    for (size_t k = 0; k < len; k++) {
        struct pvlog_reader *r;
        struct pvlog_error err;
        struct pvlog_stats st;
        enum pvlog_status s;
        size_t f = 0; /* complete frames */

        write_file(cut, bytes, k);
        s = pvlog_reader_open(&r, cut, &err);
        if (k < l.frames_off) {
            EXPECT(s == PVLOG_ETRUNCATED, "cut at %zu: open gave %d (%s)", k, s, err.msg);
            EXPECT(strstr(err.msg, "log truncated at event 0") != NULL, "cut at %zu: %s", k,
                   err.msg);
            continue;
        }
        EXPECT(s == PVLOG_OK, "cut at %zu: open gave %d (%s)", k, s, err.msg);
        if (s != PVLOG_OK)
            continue;
        while (f < l.nframes && l.off[f + 1] <= k)
            f++;
        s = read_compare(r, x, n, &count, &err);
        if (f == l.nframes) { /* the END frame is complete: only the index is cut */
            EXPECT(s == PVLOG_END && count == n, "cut at %zu: %d after %zu (%s)", k, s, count,
                   err.msg);
        } else {
            EXPECT(s == PVLOG_ETRUNCATED, "cut at %zu: status %d (%s)", k, s, err.msg);
            EXPECT(count == l.first[f], "cut at %zu: %zu events, want %llu", k, count,
                   (unsigned long long)l.first[f]);
            snprintf(want, sizeof(want),
                     "log truncated at event %llu (frame %zu at offset %zu is %s)",
                     (unsigned long long)l.first[f], f, l.off[f],
                     k == l.off[f] ? "missing" : "incomplete");
            EXPECT(strcmp(err.msg, want) == 0, "cut at %zu: '%s', want '%s'", k, err.msg, want);
            EXPECT(err.offset == l.off[f] && err.frame == (int64_t)f, "cut at %zu: where", k);
            /* A seek into the complete part works; past it reports the cut. */
            if (f > 0) {
                uint64_t i = rnd() % l.first[f];
                struct pvlog_event ev;
                EXPECT(pvlog_reader_seek(r, i, &err) == PVLOG_OK, "cut %zu seek %llu: %s", k,
                       (unsigned long long)i, err.msg);
                EXPECT(pvlog_reader_next(r, &ev, &err) == PVLOG_OK && ev_equal(&ev, &x[i].ev),
                       "cut %zu seek %llu: wrong event", k, (unsigned long long)i);
            }
            s = pvlog_reader_seek(r, l.first[f], &err);
            EXPECT(s == PVLOG_ETRUNCATED, "cut %zu: seek past the cut gave %d", k, s);
        }
        s = pvlog_reader_stats(r, &st, &err);
        EXPECT(s == PVLOG_OK && st.events == l.first[f] && st.frames == f && !st.complete &&
                   st.file_bytes == k,
               "cut at %zu: stats %d events %llu frames %llu", k, s, (unsigned long long)st.events,
               (unsigned long long)st.frames);
        pvlog_reader_close(r);
    }
    free(bytes);
    xev_free(x, n);
}

/* Flip each byte of a small log: the exact error, never a crash. */
static void test_flip_every_byte(void)
{
    const char *full = tpath("flip_full"), *bad = tpath("flip_bad");
    size_t n = 24, len, count;
    uint8_t *bytes;
    struct xev *x = small_log(full, n, &bytes, &len);
    static const uint8_t masks[] = {0x01, 0x80, 0xff};

    for (size_t k = 0; k < len; k++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            struct pvlog_reader *r;
            struct pvlog_error err;
            struct pvlog_stats st;
            enum pvlog_status s, want;

            if (m > 0 && rnd() % 4) /* all offsets with one mask, a sample with the others */
                continue;
            want = k < 8 ? PVLOG_ENOTPVLOG : k < 12 ? PVLOG_EVERSION : PVLOG_ECORRUPT;
            bytes[k] ^= masks[m];
            write_file(bad, bytes, len);
            bytes[k] ^= masks[m];
            s = pvlog_reader_open(&r, bad, &err);
            if (s == PVLOG_OK) {
                s = read_compare(r, x, n, &count, &err);
                if (s == PVLOG_END)
                    s = pvlog_reader_stats(r, &st, &err);
                pvlog_reader_close(r);
            }
            EXPECT(s == want, "flip %#x at %zu: status %d, want %d (%s)", masks[m], k, s, want,
                   err.msg);
            EXPECT(err.msg[0] != '\0', "flip at %zu: empty message", k);
            if (s == PVLOG_ECORRUPT)
                EXPECT(err.offset <= len, "flip at %zu: offset %llu", k,
                       (unsigned long long)err.offset);
        }
    }
    free(bytes);
    xev_free(x, n);
}

/*
 * Hostile payloads with valid checksums: decompress the frame of a one-frame
 * log, damage the raw columns, recompress, fix the frame header checksums and
 * drop the index. The reader must return events or PVLOG_ECORRUPT.
 */
static void test_hostile_payload(void)
{
    const char *full = tpath("hostile_full"), *bad = tpath("hostile_bad");
    size_t n = 40, len, count;
    struct xev *x = calloc(n, sizeof(*x));
    uint8_t *bytes, *raw, *raw2, *file2;
    struct layout l;
    uint32_t rawlen, complen;
    size_t bound;

    for (size_t i = 0; i < n; i++) {
        if (i + 1 == n)
            gen_end(&x[i]);
        else
            gen_event(&x[i], i ? &x[i - 1] : NULL, 0);
        x[i].ev.index = i;
    }
    write_log(full, x, n, 16u << 20);
    bytes = read_file(full, &len);
    parse_layout(bytes, len, &l);
    CU_ASSERT_EQUAL_FATAL(l.nframes, 1);
    rawlen = rd32(bytes + l.off[0] + 32);
    complen = rd32(bytes + l.off[0] + 28);
    raw = malloc(rawlen);
    raw2 = malloc(rawlen);
    CU_ASSERT_EQUAL_FATAL(ZSTD_decompress(raw, rawlen, bytes + l.off[0] + FHDR, complen), rawlen);
    bound = ZSTD_compressBound(rawlen);
    file2 = malloc(l.off[0] + FHDR + bound);
    for (int iter = 0; iter < 3000; iter++) {
        struct pvlog_reader *r;
        struct pvlog_error err;
        enum pvlog_status s;
        size_t c;
        int flips = 1 + (int)(rnd() % 4);

        memcpy(raw2, raw, rawlen);
        for (int j = 0; j < flips; j++) {
            size_t at = (iter % 3 == 0) ? rnd() % 36 : rnd() % rawlen; /* directory or columns */
            raw2[at] = (rnd() % 2) ? (uint8_t)rnd() : (uint8_t)(raw2[at] ^ (1u << (rnd() % 8)));
        }
        memcpy(file2, bytes, l.off[0] + FHDR);
        c = ZSTD_compress(file2 + l.off[0] + FHDR, bound, raw2, rawlen, 1);
        CU_ASSERT_FATAL(!ZSTD_isError(c));
        wr32(file2 + l.off[0] + 28, (uint32_t)c);
        wr64(file2 + l.off[0] + 56, XXH3_64bits(file2 + l.off[0] + FHDR, c));
        wr64(file2 + l.off[0] + 64, XXH3_64bits(file2 + l.off[0], 64));
        write_file(bad, file2, l.off[0] + FHDR + c);
        s = pvlog_reader_open(&r, bad, &err);
        EXPECT(s == PVLOG_OK, "iter %d: open %d", iter, s);
        if (s != PVLOG_OK)
            continue;
        {
            struct pvlog_event ev;
            count = 0;
            while ((s = pvlog_reader_next(r, &ev, &err)) == PVLOG_OK && count < 100000) {
                for (uint32_t k = 0; k < ev.nwrites; k++) /* touch the data: ASan checks */
                    if (ev.writes[k].len)
                        count += ev.writes[k].data[ev.writes[k].len - 1] == 0x55;
                count++;
            }
        }
        EXPECT(s == PVLOG_END || s == PVLOG_ECORRUPT || s == PVLOG_ETRUNCATED, "iter %d: status %d",
               iter, s);
        /* Seeks into damaged frames behave too. */
        s = pvlog_reader_seek(r, rnd() % (n + 2), &err);
        EXPECT(s == PVLOG_OK || s == PVLOG_ECORRUPT || s == PVLOG_EINVAL || s == PVLOG_ETRUNCATED,
               "iter %d: seek %d", iter, s);
        pvlog_reader_close(r);
    }
    free(file2);
    free(raw);
    free(raw2);
    free(bytes);
    xev_free(x, n);
}

static void expect_open(const char *path, enum pvlog_status want, const char *msg_part)
{
    struct pvlog_reader *r = NULL;
    struct pvlog_error err;
    enum pvlog_status s = pvlog_reader_open(&r, path, &err);
    EXPECT(s == want, "%s: status %d, want %d (%s)", path, s, want, err.msg);
    if (msg_part)
        EXPECT(strstr(err.msg, msg_part) != NULL, "%s: message '%s' lacks '%s'", path, err.msg,
               msg_part);
    CU_ASSERT(r == NULL);
    pvlog_reader_close(r);
}

static void test_garbage_files(void)
{
    const char *path = tpath("garbage");
    uint8_t buf[8192], hdr[HDR];
    struct pvlog_reader *r;
    struct pvlog_error err;

    write_file(path, buf, 0);
    expect_open(path, PVLOG_ETRUNCATED, "log truncated at event 0");
    write_file(path, "PVRR", 4);
    expect_open(path, PVLOG_ETRUNCATED, "file header");
    write_file(path, "PVRRLOG\0\1\0\0\0", 12);
    expect_open(path, PVLOG_ETRUNCATED, "file header");
    write_file(path, "ELF", 3);
    expect_open(path, PVLOG_ENOTPVLOG, "bad magic");
    for (int i = 0; i < 200; i++) {
        size_t n = 1 + rnd() % sizeof(buf);
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)rnd();
        if (buf[0] == 'P')
            buf[0] = 0;
        write_file(path, buf, n);
        expect_open(path, PVLOG_ENOTPVLOG, "bad magic");
    }
    /* A valid header followed by garbage, with hostile metadata sizes. */
    memset(hdr, 0, sizeof(hdr));
    memcpy(hdr, "PVRRLOG\0", 8);
    wr32(hdr + 8, 1);
    wr32(hdr + 16, HDR);
    wr32(hdr + 20, FHDR);
    wr64(hdr + 24, HDR);
    wr64(hdr + 32, UINT64_MAX - 10);
    wr64(hdr + 56, XXH3_64bits(hdr, 56));
    write_file(path, hdr, sizeof(hdr));
    expect_open(path, PVLOG_ECORRUPT, "metadata size");
    wr64(hdr + 32, 1u << 20);
    wr64(hdr + 56, XXH3_64bits(hdr, 56));
    write_file(path, hdr, sizeof(hdr));
    expect_open(path, PVLOG_ETRUNCATED, "metadata section");
    /* Metadata with lengths that do not add up (checksum right). */
    memset(buf, 0, 64 + 8);
    wr32(buf + 32, 0xffffffffu);
    wr64(hdr + 32, 72);
    wr64(hdr + 40, XXH3_64bits(buf, 72));
    wr64(hdr + 56, XXH3_64bits(hdr, 56));
    {
        uint8_t f[HDR + 72];
        memcpy(f, hdr, HDR);
        memcpy(f + HDR, buf, 72);
        write_file(path, f, sizeof(f));
        expect_open(path, PVLOG_ECORRUPT, "metadata");
        wr32(f + HDR + 32, 8); /* an 8-byte cmdline with a NUL in it */
        wr64(f + 40, XXH3_64bits(f + HDR, 72));
        wr64(f + 56, XXH3_64bits(f, 56));
        write_file(path, f, sizeof(f));
        expect_open(path, PVLOG_ECORRUPT, "NUL");
        memset(f + HDR + 64, 'x', 8);
        wr64(f + 40, XXH3_64bits(f + HDR, 72));
        wr64(f + 56, XXH3_64bits(f, 56));
        write_file(path, f, sizeof(f));
        CU_ASSERT_EQUAL_FATAL(pvlog_reader_open(&r, path, &err), PVLOG_OK);
        CU_ASSERT_STRING_EQUAL(pvlog_reader_meta(r)->cmdline, "xxxxxxxx");
        pvlog_reader_close(r);
        /* Followed by a garbage frame. */
        {
            uint8_t g[HDR + 72 + 100];
            memcpy(g, f, sizeof(f));
            for (size_t k = sizeof(f); k < sizeof(g); k++)
                g[k] = (uint8_t)rnd();
            write_file(path, g, sizeof(g));
            CU_ASSERT_EQUAL_FATAL(pvlog_reader_open(&r, path, &err), PVLOG_OK);
            {
                struct pvlog_event ev;
                CU_ASSERT_EQUAL(pvlog_reader_next(r, &ev, &err), PVLOG_ECORRUPT);
                CU_ASSERT_EQUAL(err.offset, sizeof(f));
                CU_ASSERT_EQUAL(err.frame, 0);
                CU_ASSERT(strstr(err.msg, "frame 0 at offset 136") != NULL);
            }
            pvlog_reader_close(r);
        }
    }
    /* Not a regular file; missing file. */
    expect_open(tmpdir, PVLOG_EINVAL, "not a regular file");
    expect_open("/nonexistent/x.pvlog", PVLOG_EIO, "cannot open");
}

static void test_wrong_version(void)
{
    const char *full = tpath("version_full"), *bad = tpath("version_bad");
    size_t n = 5, len;
    uint8_t *bytes;
    struct xev *x = small_log(full, n, &bytes, &len);

    wr32(bytes + 8, 2); /* a future version, checksum fixed up */
    wr64(bytes + 56, XXH3_64bits(bytes, 56));
    write_file(bad, bytes, len);
    expect_open(bad, PVLOG_EVERSION, "version 2 is not supported");
    write_file(bad, bytes, 40); /* even truncated */
    expect_open(bad, PVLOG_EVERSION, "version 2");
    wr32(bytes + 8, 0);
    write_file(bad, bytes, len);
    expect_open(bad, PVLOG_EVERSION, "version 0");
    free(bytes);
    xev_free(x, n);
}

static void check_seeks(const char *path, const struct xev *x, size_t n, uint64_t avail,
                        int complete)
{
    struct pvlog_reader *r;
    struct pvlog_error err;
    struct pvlog_event ev;
    size_t count;

    CU_ASSERT_EQUAL_FATAL(pvlog_reader_open(&r, path, &err), PVLOG_OK);
    for (int i = 0; i < 600; i++) {
        uint64_t k = i < 3 ? (uint64_t)(avail - 1 - (uint64_t)i) : rnd() % avail;
        enum pvlog_status s = pvlog_reader_seek(r, k, &err);
        EXPECT(s == PVLOG_OK, "seek %llu: %d %s", (unsigned long long)k, s, err.msg);
        s = pvlog_reader_next(r, &ev, &err);
        EXPECT(s == PVLOG_OK && ev_equal(&ev, &x[k].ev), "after seek %llu: %d",
               (unsigned long long)k, s);
        if (rnd() % 8 == 0 && k + 1 < avail) { /* continue reading a little */
            s = pvlog_reader_next(r, &ev, &err);
            EXPECT(s == PVLOG_OK && ev_equal(&ev, &x[k + 1].ev), "after seek %llu+1",
                   (unsigned long long)k);
        }
    }
    if (complete) {
        CU_ASSERT_EQUAL(pvlog_reader_seek(r, n, &err), PVLOG_EINVAL);
        CU_ASSERT_EQUAL(pvlog_reader_seek(r, UINT64_MAX, &err), PVLOG_EINVAL);
        /* Reading to the END and seeking back works. */
        CU_ASSERT_EQUAL(pvlog_reader_seek(r, n - 3, &err), PVLOG_OK);
        CU_ASSERT_EQUAL(read_compare(r, x + n - 3, 3, &count, &err), PVLOG_END);
        CU_ASSERT_EQUAL(pvlog_reader_seek(r, 1, &err), PVLOG_OK);
        CU_ASSERT_EQUAL(pvlog_reader_next(r, &ev, &err), PVLOG_OK);
        CU_ASSERT(ev_equal(&ev, &x[1].ev));
    } else {
        CU_ASSERT_EQUAL(pvlog_reader_seek(r, avail, &err), PVLOG_ETRUNCATED);
        CU_ASSERT_EQUAL(pvlog_reader_next(r, &ev, &err), PVLOG_ETRUNCATED); /* sticky */
        CU_ASSERT_EQUAL(pvlog_reader_seek(r, avail - 1, &err), PVLOG_OK);
        CU_ASSERT_EQUAL(pvlog_reader_next(r, &ev, &err), PVLOG_OK);
        CU_ASSERT(ev_equal(&ev, &x[avail - 1].ev));
    }
    pvlog_reader_close(r);
}

static void test_seek(void)
{
    const char *path = tpath("seek"), *cut = tpath("seek_cut");
    const size_t n = 5000;
    struct xev *x = gen_events(n, 1, 0);
    uint8_t *bytes;
    size_t len;
    struct layout l;

    write_log(path, x, n, 1024);
    check_seeks(path, x, n, n, 1);
    /* Without the index (cut in the middle of a frame): scanning seeks. */
    bytes = read_file(path, &len);
    parse_layout(bytes, len, &l);
    CU_ASSERT_FATAL(l.nframes > 50);
    write_file(cut, bytes, l.off[l.nframes / 2] + 100);
    check_seeks(cut, x, n, l.first[l.nframes / 2], 0);
    /* Without the trailer only: all events, then stats finds the damage. */
    write_file(cut, bytes, len - 1);
    check_seeks(cut, x, n, n, 1);
    free(bytes);
    xev_free(x, n);
}

/* The writer's time-based flush: events reach the file while it is open. */
static void test_time_flush(void)
{
    const char *path = tpath("timeflush");
    struct xev *x = gen_events(5, 0, 0);
    struct pvlog_writer *w;
    struct pvlog_reader *r;
    struct pvlog_error err;
    struct pvlog_stats st;
    struct timespec ts = {0, 300 * 1000000L};
    size_t count;

    CU_ASSERT_EQUAL_FATAL(pvlog_writer_open(&w, path, &test_meta, &err), PVLOG_OK);
    for (size_t i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(pvlog_writer_append(w, &x[i].ev, &err), PVLOG_OK);
    nanosleep(&ts, NULL);
    CU_ASSERT_EQUAL_FATAL(pvlog_reader_open(&r, path, &err), PVLOG_OK);
    CU_ASSERT_EQUAL(read_compare(r, x, 5, &count, &err), PVLOG_ETRUNCATED);
    CU_ASSERT_EQUAL(count, 5);
    CU_ASSERT(strstr(err.msg, "log truncated at event 5 (frame 1 at offset") != NULL);
    CU_ASSERT(strstr(err.msg, "is missing)") != NULL);
    CU_ASSERT_EQUAL(pvlog_reader_stats(r, &st, &err), PVLOG_OK);
    CU_ASSERT_EQUAL(st.events, 5);
    CU_ASSERT_EQUAL(st.complete, 0);
    pvlog_reader_close(r);
    CU_ASSERT_EQUAL(pvlog_writer_close(w, &err), PVLOG_OK);
    xev_free(x, 5);
}

/*
 * Stress the hand-over between the caller and the background thread: tiny
 * frames and a slow compression level keep every batch in flight, so the
 * caller waits for free batches while the background thread's time-based
 * flush runs. Every event must come back once, in order.
 */
static void test_writer_stress(void)
{
    const char *path = tpath("stress");
    const size_t n = 6000;
    struct xev *x = gen_events(n, 1, 0);
    struct pvlog_writer *w;
    struct pvlog_reader *r;
    struct pvlog_error err;
    struct pvlog_stats st;
    size_t count;

    CU_ASSERT_EQUAL_FATAL(pvlog_writer_open(&w, path, &test_meta, &err), PVLOG_OK);
    pvlog_writer_set_frame_bytes(w, 64);
    pvlog_writer_set_zstd_level(w, 19);
    for (size_t i = 0; i < n; i++) {
        enum pvlog_status s = pvlog_writer_append(w, &x[i].ev, &err);
        EXPECT(s == PVLOG_OK, "append %zu: %s", i, err.msg);
        if (i % 1000 == 999) {
            struct timespec ts = {0, 120 * 1000000L}; /* let a tick flush a partial frame */
            nanosleep(&ts, NULL);
        }
    }
    CU_ASSERT_EQUAL_FATAL(pvlog_writer_close(w, &err), PVLOG_OK);
    CU_ASSERT_EQUAL_FATAL(pvlog_reader_open(&r, path, &err), PVLOG_OK);
    CU_ASSERT_EQUAL(read_compare(r, x, n, &count, &err), PVLOG_END);
    CU_ASSERT_EQUAL(count, n);
    CU_ASSERT_EQUAL(pvlog_reader_stats(r, &st, &err), PVLOG_OK);
    CU_ASSERT(st.frames > n / 10);
    pvlog_reader_close(r);
    xev_free(x, n);
}

/* pvlog_writer_flush writes the pending partial frame at once. */
static void test_explicit_flush(void)
{
    const char *path = tpath("flush");
    struct xev *x = gen_events(30, 1, 0);
    struct pvlog_writer *w;
    struct pvlog_reader *r;
    struct pvlog_error err;
    size_t count;

    CU_ASSERT_EQUAL_FATAL(pvlog_writer_open(&w, path, &test_meta, &err), PVLOG_OK);
    for (size_t i = 0; i < 10; i++)
        CU_ASSERT_EQUAL(pvlog_writer_append(w, &x[i].ev, &err), PVLOG_OK);
    CU_ASSERT_EQUAL(pvlog_writer_flush(w, &err), PVLOG_OK);
    CU_ASSERT_EQUAL_FATAL(pvlog_reader_open(&r, path, &err), PVLOG_OK);
    CU_ASSERT_EQUAL(read_compare(r, x, 10, &count, &err), PVLOG_ETRUNCATED);
    CU_ASSERT_EQUAL(count, 10);
    pvlog_reader_close(r);
    for (size_t i = 10; i < 30; i++)
        CU_ASSERT_EQUAL(pvlog_writer_append(w, &x[i].ev, &err), PVLOG_OK);
    CU_ASSERT_EQUAL(pvlog_writer_flush(w, &err), PVLOG_OK);
    CU_ASSERT_EQUAL(pvlog_writer_flush(w, &err), PVLOG_OK); /* nothing pending */
    CU_ASSERT_EQUAL(pvlog_writer_close(w, &err), PVLOG_OK);
    CU_ASSERT_EQUAL_FATAL(pvlog_reader_open(&r, path, &err), PVLOG_OK);
    CU_ASSERT_EQUAL(read_compare(r, x, 30, &count, &err), PVLOG_END);
    CU_ASSERT_EQUAL(count, 30);
    pvlog_reader_close(r);
    xev_free(x, 30);
}

static void test_empty_log(void)
{
    const char *path = tpath("empty");
    struct pvlog_writer *w;
    struct pvlog_reader *r;
    struct pvlog_error err;
    struct pvlog_event ev;
    struct pvlog_stats st;

    CU_ASSERT_EQUAL_FATAL(pvlog_writer_open(&w, path, &test_meta, &err), PVLOG_OK);
    CU_ASSERT_EQUAL(pvlog_writer_count(w), 0);
    CU_ASSERT_EQUAL_FATAL(pvlog_writer_close(w, &err), PVLOG_OK);
    CU_ASSERT_EQUAL_FATAL(pvlog_reader_open(&r, path, &err), PVLOG_OK);
    CU_ASSERT_EQUAL(pvlog_reader_next(r, &ev, &err), PVLOG_ETRUNCATED);
    CU_ASSERT(strstr(err.msg, "log ends at event 0 without an END event") != NULL);
    CU_ASSERT_EQUAL(pvlog_reader_stats(r, &st, &err), PVLOG_OK);
    CU_ASSERT_EQUAL(st.events, 0);
    CU_ASSERT_EQUAL(st.frames, 0);
    CU_ASSERT_EQUAL(st.complete, 0);
    CU_ASSERT_EQUAL(pvlog_reader_seek(r, 0, &err), PVLOG_ETRUNCATED);
    pvlog_reader_close(r);
}

static void test_bad_arguments(void)
{
    const char *path = tpath("args");
    struct pvlog_writer *w;
    struct pvlog_error err;
    struct pvlog_event ev = {0};
    struct pvlog_write wr[2] = {{0x1000, 4, NULL}, {0x2000, 0, NULL}};
    struct pvlog_meta m = test_meta;
    uint8_t *big;

    CU_ASSERT_EQUAL(pvlog_writer_open(&w, "/nonexistent/dir/x.pvlog", &test_meta, &err), PVLOG_EIO);
    CU_ASSERT(strstr(err.msg, "cannot create") != NULL);
    m.cpuid = NULL;
    CU_ASSERT_EQUAL(pvlog_writer_open(&w, path, &m, &err), PVLOG_EINVAL);
    CU_ASSERT_EQUAL_FATAL(pvlog_writer_open(&w, path, &test_meta, &err), PVLOG_OK);
    ev.kind = 0;
    CU_ASSERT_EQUAL(pvlog_writer_append(w, &ev, &err), PVLOG_EINVAL);
    ev.kind = PVLOG_EV_HYPERCALL;
    ev.nwrites = 1;
    CU_ASSERT_EQUAL(pvlog_writer_append(w, &ev, &err), PVLOG_EINVAL); /* writes NULL */
    ev.writes = wr;
    CU_ASSERT_EQUAL(pvlog_writer_append(w, &ev, &err), PVLOG_EINVAL); /* data NULL */
    ev.writes = wr + 1;
    CU_ASSERT_EQUAL(pvlog_writer_append(w, &ev, &err), PVLOG_OK); /* empty write, no data */
    ev.nwrites = PVLOG_WRITES_MAX + 1;
    CU_ASSERT_EQUAL(pvlog_writer_append(w, &ev, &err), PVLOG_EINVAL);
    big = calloc(1, PVLOG_EVENT_DATA_MAX / 2 + 1);
    {
        struct pvlog_write two[2] = {{0, PVLOG_EVENT_DATA_MAX / 2 + 1, big},
                                     {0, PVLOG_EVENT_DATA_MAX / 2, big}};
        ev.writes = two;
        ev.nwrites = 2;
        CU_ASSERT_EQUAL(pvlog_writer_append(w, &ev, &err), PVLOG_EINVAL);
        CU_ASSERT(strstr(err.msg, "limit") != NULL);
    }
    free(big);
    CU_ASSERT_EQUAL(pvlog_writer_count(w), 1);
    ev.kind = PVLOG_EV_END;
    CU_ASSERT_EQUAL(pvlog_writer_append(w, &ev, &err), PVLOG_OK);
    CU_ASSERT_EQUAL(pvlog_writer_append(w, &ev, &err), PVLOG_EINVAL); /* after END */
    CU_ASSERT(strstr(err.msg, "after the END event") != NULL);
    CU_ASSERT_EQUAL(pvlog_writer_close(w, &err), PVLOG_OK);
}

/* The largest event: 32 writes of 1 MiB (PVLOG_EVENT_DATA_MAX), among small ones. */
static void test_largest_event(void)
{
    const char *path = tpath("largest");
    const uint32_t nw = PVLOG_EVENT_DATA_MAX >> 20;
    struct xev *x = gen_events(4, 1, 0);
    struct pvlog_write *w = calloc(nw, sizeof(*w));
    size_t count;
    struct pvlog_reader *r;
    struct pvlog_error err;

    for (uint32_t k = 0; k < nw; k++) {
        uint8_t *d = malloc(1u << 20);
        for (uint32_t b = 0; b < 1u << 20; b += 4096)
            d[b] = (uint8_t)rnd();
        for (uint32_t b = 0; b < 1u << 20; b++)
            if (b % 4096)
                d[b] = (uint8_t)(b * k);
        w[k].gpa = 0x10000000ull + ((uint64_t)k << 20);
        w[k].len = 1u << 20;
        w[k].data = d;
    }
    for (uint32_t k = 0; k < x[1].ev.nwrites; k++)
        free_const(x[1].w[k].data);
    free(x[1].w);
    x[1].w = w;
    x[1].ev.writes = w;
    x[1].ev.nwrites = nw;
    write_log(path, x, 4, 0);
    CU_ASSERT_EQUAL_FATAL(pvlog_reader_open(&r, path, &err), PVLOG_OK);
    CU_ASSERT_EQUAL(read_compare(r, x, 4, &count, &err), PVLOG_END);
    CU_ASSERT_EQUAL(count, 4);
    pvlog_reader_close(r);
    xev_free(x, 4);
}

/* ---- main ---- */

static int suite_init(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "%s/pvlog-test-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[1024];
    if (!d)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    closedir(d);
    return rmdir(tmpdir);
}

int main(void)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"status names", test_status_str},
        {"round trip of random events", test_roundtrip},
        {"metadata round trip", test_meta_roundtrip},
        {"NOP stream <= 2 bytes/event", test_nop_ratio},
        {"truncation at every byte offset", test_truncate_every_offset},
        {"byte flips at every offset", test_flip_every_byte},
        {"hostile payloads with valid checksums", test_hostile_payload},
        {"garbage and hostile headers", test_garbage_files},
        {"wrong version", test_wrong_version},
        {"seek (index, scan, no trailer)", test_seek},
        {"time-based flush", test_time_flush},
        {"explicit flush", test_explicit_flush},
        {"writer hand-over stress", test_writer_stress},
        {"empty log", test_empty_log},
        {"bad arguments", test_bad_arguments},
        {"largest event", test_largest_event},
    };
    CU_pSuite s;
    unsigned fails;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    s = CU_add_suite("pvlog", suite_init, suite_clean);
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
        CU_add_test(s, tests[i].name, tests[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    fails = CU_get_number_of_tests_failed() + CU_get_number_of_failure_records();
    if (CU_get_number_of_suites_failed())
        fails++;
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
