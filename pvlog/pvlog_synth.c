/*
 * pvlog_synth.c - writes a synthetic recording of any length, for tests and
 * benchmarks that need millions of events (`pvrr timeline`): mostly NOP
 * hypercalls, with random every 10th event, clock every 100th, disk reads and
 * writes every 250th, console output every 1000th, an idle wait (poll) every
 * 5000th and console input every 20000th, each with the argument struct
 * written back as the recorder writes it, then a panic. The events are not a
 * replayable execution: the log has no CPUID table and the rips are made up.
 *
 * usage: pvlog_synth OUT.pvlog EVENTS [GUEST.elf]
 *   GUEST.elf is embedded (for symbols) when given. Exit status 0, or 1 with
 *   a message on stderr.
 */
#include "abi/pvrr_abi.h"
#include "pvlog/pvlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Read (path) whole into a malloc'd buffer; returns NULL on failure. */
static void *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Fill (ev) as event (i) of the stream; (wr, data) hold its writes. */
static void make_event(uint64_t i, struct pvlog_event *ev, struct pvlog_write *wr, uint8_t *data)
{
    static uint64_t clock_ns = 1000000;
    memset(ev, 0, sizeof *ev);
    ev->kind = PVLOG_EV_HYPERCALL;
    ev->regs8 = (uint8_t)(i * 0x9e3779b1u >> 24);
    ev->in_digest = i * 0x9e3779b97f4a7c15ull;
    ev->arg_gpa = 0x7ff000;
    ev->writes = wr;
    ev->nr = PVRR_HC_NOP;
    ev->rip = 0x100100;
    clock_ns += 2000;
    if (i % 20000 == 7) {
        struct pvrr_hc_console_read a = {0x300000, 256, 7, 0, 0};
        memcpy(data, &a, sizeof a);
        snprintf((char *)data + 64, 64, "line%02u\n", (unsigned)(i / 20000 % 100));
        wr[0] = (struct pvlog_write){ev->arg_gpa, sizeof a, data};
        wr[1] = (struct pvlog_write){0x300000, 7, data + 64};
        ev->nr = PVRR_HC_CONSOLE_READ;
        ev->nwrites = 2;
        ev->rip = 0x100200;
    } else if (i % 5000 == 2500) {
        struct pvrr_hc_poll a = {clock_ns + 1000000, 0, 0, 0, 0, clock_ns + 1000000};
        clock_ns += 1000000;
        memcpy(data, &a, sizeof a);
        wr[0] = (struct pvlog_write){ev->arg_gpa, sizeof a, data};
        ev->nr = PVRR_HC_POLL;
        ev->nwrites = 1;
        ev->rip = 0x100300;
    } else if (i % 1000 == 0) {
        struct pvrr_hc_console_write a = {0x310000, 20, 0, 0};
        memcpy(data, &a, sizeof a);
        wr[0] = (struct pvlog_write){ev->arg_gpa, sizeof a, data};
        ev->nr = PVRR_HC_CONSOLE_WRITE;
        ev->nwrites = 1;
        ev->rip = 0x100400;
    } else if (i % 250 == 100 || i % 250 == 200) {
        int rd = i % 250 == 100;
        struct pvrr_hc_blk_io a = {i / 250, 0x320000, 512, 0, 0};
        memcpy(data, &a, sizeof a);
        wr[0] = (struct pvlog_write){ev->arg_gpa, sizeof a, data};
        ev->nwrites = 1;
        if (rd) {
            for (int k = 0; k < 512; k++)
                data[64 + k] = (uint8_t)("pvrr synthetic disk\n"[(i + (uint64_t)k) % 20]);
            wr[1] = (struct pvlog_write){0x320000, 512, data + 64};
            ev->nwrites = 2;
        }
        ev->nr = rd ? PVRR_HC_BLK_READ : PVRR_HC_BLK_WRITE;
        ev->rip = rd ? 0x100500 : 0x100600;
    } else if (i % 100 == 50) {
        struct pvrr_hc_clock a = {clock_ns, 1700000000000000000ull + clock_ns};
        memcpy(data, &a, sizeof a);
        wr[0] = (struct pvlog_write){ev->arg_gpa, sizeof a, data};
        ev->nr = PVRR_HC_CLOCK;
        ev->nwrites = 1;
        ev->rip = 0x100700;
    } else if (i % 10 == 3) {
        struct pvrr_hc_random a = {0x330000, 8, 0, 0};
        memcpy(data, &a, sizeof a);
        memcpy(data + 64, &ev->in_digest, 8);
        wr[0] = (struct pvlog_write){ev->arg_gpa, sizeof a, data};
        wr[1] = (struct pvlog_write){0x330000, 8, data + 64};
        ev->nr = PVRR_HC_RANDOM;
        ev->nwrites = 2;
        ev->rip = 0x100800;
    }
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: pvlog_synth OUT.pvlog EVENTS [GUEST.elf]\n");
        return 1;
    }
    char *end;
    uint64_t n = strtoull(argv[2], &end, 0);
    if (*end || n == 0) {
        fprintf(stderr, "pvlog_synth: %s: need a number of events\n", argv[2]);
        return 1;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct pvlog_meta meta = {
        .abi_version = PVRR_ABI_VERSION,
        .mem_size = 64 << 20,
        .cmdline = "synthetic",
        .elf_name = "synthetic",
        .pvrr_version = "synthetic",
        .start_wall_ns = (uint64_t)now.tv_sec * 1000000000ull,
    };
    void *elf = NULL;
    if (argc == 4) {
        size_t len;
        elf = slurp(argv[3], &len);
        if (!elf) {
            fprintf(stderr, "pvlog_synth: cannot read %s\n", argv[3]);
            return 1;
        }
        const char *base = strrchr(argv[3], '/');
        meta.elf = elf;
        meta.elf_len = len;
        meta.elf_name = base ? base + 1 : argv[3];
    }
    struct pvlog_writer *w;
    struct pvlog_error err;
    if (pvlog_writer_open(&w, argv[1], &meta, &err) != PVLOG_OK) {
        fprintf(stderr, "pvlog_synth: %s: %s\n", argv[1], err.msg);
        return 1;
    }
    static uint8_t data[1024];
    struct pvlog_write wr[2];
    struct pvlog_event ev;
    for (uint64_t i = 0; i + 1 < n; i++) {
        make_event(i, &ev, wr, data);
        if (pvlog_writer_append(w, &ev, &err) != PVLOG_OK)
            goto fail;
    }
    memset(&ev, 0, sizeof ev);
    ev.kind = PVLOG_EV_HYPERCALL;
    ev.nr = PVRR_HC_PANIC;
    ev.rip = 0x100900;
    ev.arg_gpa = 0x7ff000;
    if (pvlog_writer_append(w, &ev, &err) != PVLOG_OK)
        goto fail;
    memset(&ev, 0, sizeof ev);
    ev.kind = PVLOG_EV_END;
    ev.end_reason = PVLOG_END_PANIC;
    ev.status = PVRR_STATUS_PANIC;
    ev.end_wall_ns = meta.start_wall_ns + n * 2000;
    if (pvlog_writer_append(w, &ev, &err) != PVLOG_OK || pvlog_writer_close(w, &err) != PVLOG_OK) {
        fprintf(stderr, "pvlog_synth: %s: %s\n", argv[1], err.msg);
        return 1;
    }
    free(elf);
    return 0;
fail:
    fprintf(stderr, "pvlog_synth: %s: %s\n", argv[1], err.msg);
    pvlog_writer_close(w, &err);
    return 1;
}
