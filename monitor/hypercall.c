/*
 * hypercall.c - the static description of every hypercall: struct sizes and
 * the guest buffers each struct names (hypercall.h).
 */
#include "monitor/hypercall.h"

#include <stddef.h>

static int no_ranges(const void *args, struct hc_range *r, const char **why)
{
    return 0;
}

static int no_written(const void *args, struct hc_range *r)
{
    return 0;
}

static int console_write_ranges(const void *args, struct hc_range *r, const char **why)
{
    const struct pvrr_hc_console_write *a = args;
    if (a->len > PVRR_IO_MAX) {
        *why = "length exceeds PVRR_IO_MAX";
        return -1;
    }
    r[0] = (struct hc_range){a->data, a->len, 1};
    return 1;
}

static int console_read_ranges(const void *args, struct hc_range *r, const char **why)
{
    const struct pvrr_hc_console_read *a = args;
    if (a->len > PVRR_IO_MAX) {
        *why = "length exceeds PVRR_IO_MAX";
        return -1;
    }
    r[0] = (struct hc_range){a->data, a->len, 0};
    return 1;
}

static int console_read_written(const void *args, struct hc_range *r)
{
    const struct pvrr_hc_console_read *a = args;
    if (a->nread == 0)
        return 0;
    r[0] = (struct hc_range){a->data, a->nread, 0};
    return 1;
}

static int random_ranges(const void *args, struct hc_range *r, const char **why)
{
    const struct pvrr_hc_random *a = args;
    if (a->len > PVRR_IO_MAX) {
        *why = "length exceeds PVRR_IO_MAX";
        return -1;
    }
    r[0] = (struct hc_range){a->data, a->len, 0};
    return 1;
}

static int random_written(const void *args, struct hc_range *r)
{
    const struct pvrr_hc_random *a = args;
    if (a->ret != PVRR_OK || a->len == 0)
        return 0;
    r[0] = (struct hc_range){a->data, a->len, 0};
    return 1;
}

static int blk_ranges(const void *args, struct hc_range *r, int input, const char **why)
{
    const struct pvrr_hc_blk_io *a = args;
    if (a->len > PVRR_IO_MAX) {
        *why = "length exceeds PVRR_IO_MAX";
        return -1;
    }
    r[0] = (struct hc_range){a->data, a->len, input};
    return 1;
}

static int blk_read_ranges(const void *args, struct hc_range *r, const char **why)
{
    return blk_ranges(args, r, 0, why);
}

static int blk_write_ranges(const void *args, struct hc_range *r, const char **why)
{
    return blk_ranges(args, r, 1, why);
}

static int blk_read_written(const void *args, struct hc_range *r)
{
    const struct pvrr_hc_blk_io *a = args;
    if (a->ret != PVRR_OK || a->len == 0)
        return 0;
    r[0] = (struct hc_range){a->data, a->len, 0};
    return 1;
}

static int panic_ranges(const void *args, struct hc_range *r, const char **why)
{
    const struct pvrr_hc_panic *a = args;
    if (a->len > PVRR_PANIC_MAX) {
        *why = "message longer than PVRR_PANIC_MAX";
        return -1;
    }
    r[0] = (struct hc_range){a->msg, a->len, 1};
    return 1;
}

static int fs_open_ranges(const void *args, struct hc_range *r, const char **why)
{
    const struct pvrr_hc_fs_open *a = args;
    if (a->path_len > PVRR_PATH_MAX) {
        *why = "path longer than PVRR_PATH_MAX";
        return -1;
    }
    r[0] = (struct hc_range){a->path, a->path_len, 1};
    return 1;
}

/* The path is not written by the monitor, but recording it (the replayer
 * copies back the bytes that are already there) lets `pvrr info` and `pvrr
 * dump` name the files a recording opened. */
static int fs_open_written(const void *args, struct hc_range *r)
{
    const struct pvrr_hc_fs_open *a = args;
    if (a->path_len == 0)
        return 0;
    r[0] = (struct hc_range){a->path, a->path_len, 1};
    return 1;
}

static int fs_io_ranges(const void *args, struct hc_range *r, int input, const char **why)
{
    const struct pvrr_hc_fs_io *a = args;
    if (a->len > PVRR_IO_MAX) {
        *why = "length exceeds PVRR_IO_MAX";
        return -1;
    }
    r[0] = (struct hc_range){a->data, a->len, input};
    return 1;
}

static int fs_read_ranges(const void *args, struct hc_range *r, const char **why)
{
    return fs_io_ranges(args, r, 0, why);
}

static int fs_write_ranges(const void *args, struct hc_range *r, const char **why)
{
    return fs_io_ranges(args, r, 1, why);
}

static int fs_read_written(const void *args, struct hc_range *r)
{
    const struct pvrr_hc_fs_io *a = args;
    if (a->ret != 0 || a->done == 0 || a->done > a->len)
        return 0;
    r[0] = (struct hc_range){a->data, a->done, 0};
    return 1;
}

static int fs_readdir_ranges(const void *args, struct hc_range *r, const char **why)
{
    const struct pvrr_hc_fs_readdir *a = args;
    if (a->len > PVRR_IO_MAX) {
        *why = "length exceeds PVRR_IO_MAX";
        return -1;
    }
    r[0] = (struct hc_range){a->data, a->len, 0};
    return 1;
}

static int fs_readdir_written(const void *args, struct hc_range *r)
{
    const struct pvrr_hc_fs_readdir *a = args;
    if (a->ret != 0 || a->done == 0 || a->done > a->len)
        return 0;
    r[0] = (struct hc_range){a->data, a->done, 0};
    return 1;
}

static int fs_pathop_ranges(const void *args, struct hc_range *r, const char **why)
{
    const struct pvrr_hc_fs_pathop *a = args;
    if (a->path_len > PVRR_PATH_MAX || a->path2_len > PVRR_PATH_MAX) {
        *why = "path longer than PVRR_PATH_MAX";
        return -1;
    }
    r[0] = (struct hc_range){a->path, a->path_len, 1};
    if (a->op == PVRR_FS_RENAME) {
        r[1] = (struct hc_range){a->path2, a->path2_len, 1};
        return 2;
    }
    if (a->op == PVRR_FS_READLINK) {
        r[1] = (struct hc_range){a->path2, a->path2_len, 0};
        return 2;
    }
    return 1;
}

static int fs_pathop_written(const void *args, struct hc_range *r)
{
    const struct pvrr_hc_fs_pathop *a = args;
    if (a->op != PVRR_FS_READLINK || a->ret != 0 || a->done == 0 || a->done > a->path2_len)
        return 0;
    r[0] = (struct hc_range){a->path2, a->done, 0};
    return 1;
}

#define HC(num, nm, type, out, effect, input, rg, wr)                                              \
    [num] = {.name = nm,                                                                           \
             .size = sizeof(type),                                                                 \
             .has_out = out,                                                                       \
             .replays_effect = effect,                                                             \
             .gets_input = input,                                                                  \
             .ranges = rg,                                                                         \
             .written = wr}

const struct hc_desc hc_table[PVRR_HC_MAX] = {
    HC(PVRR_HC_NOP, "nop", struct pvrr_hc_nop, 0, 0, 0, no_ranges, no_written),
    HC(PVRR_HC_CONSOLE_WRITE, "console_write", struct pvrr_hc_console_write, 1, 1, 0,
       console_write_ranges, no_written),
    HC(PVRR_HC_CONSOLE_READ, "console_read", struct pvrr_hc_console_read, 1, 0, 1,
       console_read_ranges, console_read_written),
    HC(PVRR_HC_CLOCK, "clock", struct pvrr_hc_clock, 1, 0, 1, no_ranges, no_written),
    HC(PVRR_HC_RANDOM, "random", struct pvrr_hc_random, 1, 0, 1, random_ranges, random_written),
    HC(PVRR_HC_BLK_INFO, "blk_info", struct pvrr_hc_blk_info, 1, 0, 1, no_ranges, no_written),
    HC(PVRR_HC_BLK_READ, "blk_read", struct pvrr_hc_blk_io, 1, 0, 1, blk_read_ranges,
       blk_read_written),
    HC(PVRR_HC_BLK_WRITE, "blk_write", struct pvrr_hc_blk_io, 1, 0, 1, blk_write_ranges,
       no_written),
    HC(PVRR_HC_POLL, "poll", struct pvrr_hc_poll, 1, 0, 1, no_ranges, no_written),
    HC(PVRR_HC_EXIT, "exit", struct pvrr_hc_exit, 0, 1, 0, no_ranges, no_written),
    HC(PVRR_HC_PANIC, "panic", struct pvrr_hc_panic, 0, 1, 0, panic_ranges, no_written),
    HC(PVRR_HC_STDERR_WRITE, "stderr_write", struct pvrr_hc_console_write, 1, 1, 0,
       console_write_ranges, no_written),
    HC(PVRR_HC_FS_OPEN, "fs_open", struct pvrr_hc_fs_open, 1, 0, 1, fs_open_ranges,
       fs_open_written),
    HC(PVRR_HC_FS_READ, "fs_read", struct pvrr_hc_fs_io, 1, 0, 1, fs_read_ranges, fs_read_written),
    HC(PVRR_HC_FS_WRITE, "fs_write", struct pvrr_hc_fs_io, 1, 0, 1, fs_write_ranges, no_written),
    HC(PVRR_HC_FS_CLOSE, "fs_close", struct pvrr_hc_fs_close, 1, 0, 1, no_ranges, no_written),
    HC(PVRR_HC_FS_STAT, "fs_stat", struct pvrr_hc_fs_stat, 1, 0, 1, no_ranges, no_written),
    HC(PVRR_HC_FS_READDIR, "fs_readdir", struct pvrr_hc_fs_readdir, 1, 0, 1, fs_readdir_ranges,
       fs_readdir_written),
    HC(PVRR_HC_FS_PATHOP, "fs_pathop", struct pvrr_hc_fs_pathop, 1, 0, 1, fs_pathop_ranges,
       fs_pathop_written),
};

const char *hc_name(unsigned nr)
{
    return nr < PVRR_HC_MAX ? hc_table[nr].name : "unknown";
}
