/*
 * pvlog_bench.c - measures the pvlog writer: append cost on the caller's
 * thread, compressed bytes per event and end-to-end throughput, for a stream
 * of NOP hypercalls (random regs8) and for a mixed stream (clock, console and
 * 4 KiB block reads, from a ring of 1024 prebuilt events), at zstd levels
 * 1-3. Also times a full sequential read. Events are built before timing.
 * "append mean" includes waiting for the background thread when it falls
 * behind (the throughput limit); "median" is the caller's own cost.
 *
 * usage: pvlog_bench [events] [dir]   (defaults: 1000000, /tmp)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pvlog/pvlog.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Fill (ev) with event (i) of a stream: mixed = 0 is NOPs only. */
static void make_event(struct pvlog_event *ev, struct pvlog_write *wr, uint8_t *buf, uint64_t i,
                       int mixed)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = PVLOG_EV_HYPERCALL;
    ev->rip = 0x101234;
    ev->arg_gpa = 0x7fff00;
    ev->in_digest = 0x1122334455667788ull;
    ev->regs8 = (uint8_t)next_rand();
    ev->regs_chain = i;
    ev->writes = wr;
    if (!mixed)
        return;
    switch (i % 8) {
    case 0: /* clock: writes the 16-byte OUT struct */
        ev->nr = 3;
        ev->rip = 0x102000;
        ev->arg_gpa = 0x7ffe00;
        for (int k = 0; k < 16; k++)
            buf[k] = (uint8_t)(i * 1000 >> (k % 8 * 8));
        wr[0] = (struct pvlog_write){0x7ffe00, 16, buf};
        ev->nwrites = 1;
        break;
    case 1: /* console write: no guest writes but a varying digest */
        ev->nr = 1;
        ev->rip = 0x103000;
        ev->in_digest = next_rand();
        wr[0] = (struct pvlog_write){0x7ffe10, 8, buf};
        memset(buf, 0, 8);
        ev->nwrites = 1;
        break;
    case 2: /* block read of 4 KiB of text-like data every 8th event */
        ev->nr = 6;
        ev->rip = 0x104000;
        ev->arg_gpa = 0x7ffd00;
        for (int k = 0; k < 4096; k++)
            buf[k] = (uint8_t)("abcdefgh ijklmnop\n"[(i + (uint64_t)k) % 18]);
        wr[0] = (struct pvlog_write){0x200000 + (i % 64) * 4096, 4096, buf};
        wr[1] = (struct pvlog_write){0x7ffd18, 8, buf + 4096};
        memset(buf + 4096, 0, 8);
        ev->nwrites = 2;
        break;
    default:
        break;
    }
}

/* The NOP stream's regs8 bytes and a ring of mixed events, built before timing. */
#define RING 1024
static uint8_t *regs8;
static struct pvlog_event ring[RING];
static struct pvlog_write ring_w[RING][4];
static uint8_t ring_buf[RING][8192];

/* Appends are also timed in blocks of BLOCK: the median block is the
 * caller's cost when it does not wait for the background thread. */
#define BLOCK 64
static double *blocks;
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int run(const char *dir, uint64_t n, int level, int mixed)
{
    struct pvlog_meta meta = {.abi_version = 1, .mem_size = 64 << 20, .cmdline = "bench"};
    struct pvlog_writer *w;
    struct pvlog_reader *r;
    struct pvlog_error err;
    struct pvlog_event ev, nop;
    struct stat sb;
    char path[4096];
    double t0, t1, t2, t3, tb = 0;
    uint64_t got = 0, nblocks;

    snprintf(path, sizeof(path), "%s/pvlog_bench.%d.pvlog", dir, (int)getpid());
    if (pvlog_writer_open(&w, path, &meta, &err) != PVLOG_OK) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    pvlog_writer_set_zstd_level(w, level);
    make_event(&nop, ring_w[0], ring_buf[0], 0, 0);
    t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        const struct pvlog_event *e = &nop;
        if (i % BLOCK == 0) {
            double t = now_s();
            if (i)
                blocks[i / BLOCK - 1] = t - tb;
            tb = t;
        }
        if (mixed)
            e = &ring[i % RING];
        else
            nop.regs8 = regs8[i];
        if (pvlog_writer_append(w, e, &err) != PVLOG_OK) {
            fprintf(stderr, "append: %s\n", err.msg);
            return 1;
        }
    }
    nblocks = n / BLOCK - 1;
    qsort(blocks, nblocks, sizeof(double), cmp_double);
    memset(&ev, 0, sizeof(ev));
    ev.kind = PVLOG_EV_END;
    ev.end_reason = PVLOG_END_EXIT;
    pvlog_writer_append(w, &ev, &err);
    t1 = now_s();
    if (pvlog_writer_close(w, &err) != PVLOG_OK) {
        fprintf(stderr, "close: %s\n", err.msg);
        return 1;
    }
    t2 = now_s();
    stat(path, &sb);
    if (pvlog_reader_open(&r, path, &err) != PVLOG_OK) {
        fprintf(stderr, "reader: %s\n", err.msg);
        return 1;
    }
    t3 = now_s();
    while (pvlog_reader_next(r, &ev, &err) == PVLOG_OK)
        got++;
    t3 = now_s() - t3;
    pvlog_reader_close(r);
    unlink(path);
    printf("%-5s level %d: append mean %5.1f ns, median %5.1f ns, p99 %6.1f ns; %6.3f bytes/event; "
           "close %5.1f ms; end-to-end %5.1f Mev/s; read %5.1f Mev/s (%llu events)\n",
           mixed ? "mixed" : "nop", level, (t1 - t0) * 1e9 / (double)n,
           blocks[nblocks / 2] * 1e9 / BLOCK, blocks[nblocks * 99 / 100] * 1e9 / BLOCK,
           (double)sb.st_size / (double)(n + 1), (t2 - t1) * 1e3, (double)n / (t2 - t0) / 1e6,
           (double)got / t3 / 1e6, (unsigned long long)got);
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    if (n < 100 * BLOCK)
        n = 100 * BLOCK;
    blocks = malloc(n / BLOCK * sizeof(double));
    regs8 = malloc(n);
    for (uint64_t i = 0; i < n; i++)
        regs8[i] = (uint8_t)next_rand();
    for (uint64_t i = 0; i < RING; i++)
        make_event(&ring[i], ring_w[i], ring_buf[i], i, 1);
    for (int level = 1; level <= 3; level++) {
        if (run(dir, n, level, 0) || run(dir, n, level, 1))
            return 1;
    }
    return 0;
}
