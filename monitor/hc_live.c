/*
 * hc_live.c - the live hypercall handlers: they serve the guest from the
 * outside world (stdout, stdin, clocks, getrandom, the disk image). Buffers
 * were validated by the exit loop, so vm_gpa cannot fail here.
 */
#include "monitor/monitor.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static enum hc_status hc_nop(struct monitor *m, struct hc_call *c)
{
    return HC_CONTINUE;
}

/* Write all of (buf, len) to (fd); returns 0 or -1. */
static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static enum hc_status hc_console_write(struct monitor *m, struct hc_call *c)
{
    struct pvrr_hc_console_write *a = &c->a.console_write;
    const void *p = vm_gpa(&m->vm, a->data, a->len);
    a->ret = write_all(m->out_fd, p, a->len) == 0 ? PVRR_OK : PVRR_EIO;
    return HC_CONTINUE;
}

static enum hc_status hc_stderr_write(struct monitor *m, struct hc_call *c)
{
    struct pvrr_hc_console_write *a = &c->a.console_write;
    const void *p = vm_gpa(&m->vm, a->data, a->len);
    a->ret = write_all(m->err_fd, p, a->len) == 0 ? PVRR_OK : PVRR_EIO;
    return HC_CONTINUE;
}

/* 1 if console input is ready (data or end of file) within (timeout_ms). */
static int input_ready(struct monitor *m, int timeout_ms)
{
    if (m->in_fd < 0 || m->in_eof)
        return m->in_fd >= 0;
    struct pollfd p = {.fd = m->in_fd, .events = POLLIN};
    int n = poll(&p, 1, timeout_ms);
    return n > 0;
}

static enum hc_status hc_console_read(struct monitor *m, struct hc_call *c)
{
    struct pvrr_hc_console_read *a = &c->a.console_read;
    a->nread = 0;
    a->eof = 0;
    a->ret = PVRR_OK;
    if (m->in_fd < 0 || m->in_eof) {
        a->eof = 1;
        return HC_CONTINUE;
    }
    if (a->len == 0 || !input_ready(m, 0))
        return HC_CONTINUE;
    ssize_t n = read(m->in_fd, vm_gpa(&m->vm, a->data, a->len), a->len);
    if (n < 0) {
        a->ret = errno == EAGAIN ? PVRR_OK : PVRR_EIO;
        return HC_CONTINUE;
    }
    if (n == 0)
        m->in_eof = 1;
    a->nread = (uint64_t)n;
    a->eof = m->in_eof;
    vm_dirty_mark(&m->vm, a->data, a->nread);
    return HC_CONTINUE;
}

static enum hc_status hc_clock(struct monitor *m, struct hc_call *c)
{
    struct timespec w;
    clock_gettime(CLOCK_REALTIME, &w);
    c->a.clock.monotonic_ns = monitor_now_ns(m);
    c->a.clock.wall_ns = (uint64_t)w.tv_sec * 1000000000ull + (uint64_t)w.tv_nsec;
    return HC_CONTINUE;
}

static enum hc_status hc_random(struct monitor *m, struct hc_call *c)
{
    struct pvrr_hc_random *a = &c->a.random;
    uint8_t *p = vm_gpa(&m->vm, a->data, a->len);
    uint64_t done = 0;
    a->ret = PVRR_OK;
    while (done < a->len) {
        ssize_t n = getrandom(p + done, a->len - done, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            a->ret = PVRR_EIO;
            break;
        }
        done += (uint64_t)n;
    }
    vm_dirty_mark(&m->vm, a->data, done);
    return HC_CONTINUE;
}

static enum hc_status hc_blk_info(struct monitor *m, struct hc_call *c)
{
    struct pvrr_hc_blk_info *a = &c->a.blk_info;
    a->sector_size = PVRR_BLK_SECTOR;
    a->sectors = m->disk_fd >= 0 ? m->disk_sectors : 0;
    a->present = m->disk_fd >= 0;
    a->writable = m->disk_fd >= 0 && m->disk_writable;
    return HC_CONTINUE;
}

/* Check a block request against the disk; returns a pvrr_result. */
static int blk_check(struct monitor *m, const struct pvrr_hc_blk_io *a, int write)
{
    if (m->disk_fd < 0 || (write && !m->disk_writable))
        return PVRR_EUNSPEC;
    if (a->len % PVRR_BLK_SECTOR != 0)
        return PVRR_EINVAL;
    uint64_t n = a->len / PVRR_BLK_SECTOR;
    if (a->sector > m->disk_sectors || n > m->disk_sectors - a->sector)
        return PVRR_EINVAL;
    return PVRR_OK;
}

static enum hc_status hc_blk_io(struct monitor *m, struct hc_call *c, int write)
{
    struct pvrr_hc_blk_io *a = &c->a.blk_io;
    a->ret = blk_check(m, a, write);
    if (a->ret != PVRR_OK)
        return HC_CONTINUE;
    uint8_t *p = vm_gpa(&m->vm, a->data, a->len);
    off_t off = (off_t)(a->sector * PVRR_BLK_SECTOR);
    uint64_t done = 0;
    while (done < a->len) {
        ssize_t n = write ? pwrite(m->disk_fd, p + done, a->len - done, off + (off_t)done)
                          : pread(m->disk_fd, p + done, a->len - done, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            a->ret = PVRR_EIO;
            break;
        }
        done += (uint64_t)n;
    }
    if (!write)
        vm_dirty_mark(&m->vm, a->data, done);
    return HC_CONTINUE;
}

static enum hc_status hc_blk_read(struct monitor *m, struct hc_call *c)
{
    return hc_blk_io(m, c, 0);
}

static enum hc_status hc_blk_write(struct monitor *m, struct hc_call *c)
{
    return hc_blk_io(m, c, 1);
}

static enum hc_status hc_poll(struct monitor *m, struct hc_call *c)
{
    struct pvrr_hc_poll *a = &c->a.poll;
    int want_in = (a->events & PVRR_EV_CONSOLE_IN) != 0;
    for (;;) {
        a->ready = 0;
        uint64_t now = monitor_now_ns(m);
        if (want_in && input_ready(m, 0))
            a->ready |= PVRR_EV_CONSOLE_IN;
        if (a->ready || a->deadline_ns <= now) {
            a->monotonic_ns = monitor_now_ns(m);
            return HC_CONTINUE;
        }
        /* Sleep in slices so --timeout and interrupts are noticed. */
        uint64_t wait_ns = a->deadline_ns - now;
        if (wait_ns > 50000000ull)
            wait_ns = 50000000ull;
        struct timespec ts = {.tv_sec = (time_t)(wait_ns / 1000000000ull),
                              .tv_nsec = (long)(wait_ns % 1000000000ull)};
        if (want_in && m->in_fd >= 0 && !m->in_eof) {
            struct pollfd p = {.fd = m->in_fd, .events = POLLIN};
            ppoll(&p, 1, &ts, NULL);
        } else {
            nanosleep(&ts, NULL);
        }
        if (monitor_check_deadlines(m))
            return HC_STOP;
    }
}

static enum hc_status hc_exit(struct monitor *m, struct hc_call *c)
{
    int st = c->a.exit.status;
    monitor_set_stop(m, MON_EXIT, st & 0xff, "guest exited with status %d", st);
    return HC_STOP;
}

static enum hc_status hc_panic(struct monitor *m, struct hc_call *c)
{
    const char *msg = vm_gpa(&m->vm, c->a.panic.msg, c->a.panic.len);
    int n = (int)c->a.panic.len;
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\0'))
        n--;
    monitor_set_stop(m, MON_PANIC, PVRR_EXIT_PANIC, "guest panic: %.*s", n, msg);
    return HC_STOP;
}

const hc_handler hc_live_handlers[PVRR_HC_MAX] = {
    [PVRR_HC_NOP] = hc_nop,
    [PVRR_HC_CONSOLE_WRITE] = hc_console_write,
    [PVRR_HC_CONSOLE_READ] = hc_console_read,
    [PVRR_HC_CLOCK] = hc_clock,
    [PVRR_HC_RANDOM] = hc_random,
    [PVRR_HC_BLK_INFO] = hc_blk_info,
    [PVRR_HC_BLK_READ] = hc_blk_read,
    [PVRR_HC_BLK_WRITE] = hc_blk_write,
    [PVRR_HC_POLL] = hc_poll,
    [PVRR_HC_EXIT] = hc_exit,
    [PVRR_HC_PANIC] = hc_panic,
    [PVRR_HC_STDERR_WRITE] = hc_stderr_write,
    [PVRR_HC_FS_OPEN] = hc_fs_open,
    [PVRR_HC_FS_READ] = hc_fs_read,
    [PVRR_HC_FS_WRITE] = hc_fs_write,
    [PVRR_HC_FS_CLOSE] = hc_fs_close,
    [PVRR_HC_FS_STAT] = hc_fs_stat,
    [PVRR_HC_FS_READDIR] = hc_fs_readdir,
    [PVRR_HC_FS_PATHOP] = hc_fs_pathop,
};
