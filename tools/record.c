/*
 * record.c - `pvrr record`: run a guest under the recorder, optionally many
 * times until one run fails.
 */
#include "tools/cli.h"

#include "recorder/recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static void usage_record(void)
{
    printf(
        "Usage: pvrr record [OPTIONS] GUEST.elf [--] [GUEST ARGS...]\n"
        "\n"
        "Run GUEST.elf as `pvrr run` does and record every nondeterministic input it gets\n"
        "into a self-contained pvlog file (the guest ELF, its arguments and every block read\n"
        "are embedded: the recording replays anywhere with `pvrr replay`).\n"
        "\n"
        "Options:\n"
        "  -o, --output FILE       the recording (default: GUEST.pvlog in this directory)\n"
        "  -u, --until-fail N      record up to N runs and keep the first failing one (non-zero\n"
        "                          exit or panic); console output of the kept run is shown\n"
        "  -m, --mem SIZE          guest RAM, e.g. 64M (default 64M)\n"
        "  -d, --disk FILE         block device image (written as in `pvrr run`)\n"
        "  -i, --stdin FILE        console input from FILE\n"
        "      --root, --file, --write-dir, --env   for a Linux program, as in `pvrr run`\n"
        "  -t, --timeout SECS      stop the guest after SECS seconds\n"
        "      --backend B         auto (default), kvm or emu, as in `pvrr run`; the log\n"
        "                          replays on either\n"
        "  -h, --help              show this help\n"
        "\n"
        "Exit status: as `pvrr run` (the guest's status); with --until-fail, the failing\n"
        "run's status, or 1 when no run failed (nothing is kept).\n");
}

/* The default output name: the guest's base name with .pvlog. */
static void default_output(const char *elf, char *buf, size_t n)
{
    const char *base = strrchr(elf, '/');
    base = base ? base + 1 : elf;
    size_t len = strlen(base);
    if (len > 4 && strcmp(base + len - 4, ".elf") == 0)
        len -= 4;
    snprintf(buf, n, "%.*s.pvlog", (int)len, base);
}

static volatile int interrupted;

/* Record one run of the guest into (path). Returns pvrr's status for the run,
 * sets *failed when the guest failed. (out_fd) receives console output. */
static int record_one(struct run_opts *o, const void *elf, size_t len, const char *path, int out_fd,
                      int *failed)
{
    struct monitor m;
    char err[1024];
    *failed = 0;
    if (monitor_init(&m, &o->cfg, elf, len, err, sizeof err) < 0) {
        fprintf(stderr, "pvrr record: %s\n", err);
        return PVRR_EXIT_ERROR;
    }
    m.out_fd = out_fd;
    size_t cpuid_len;
    const void *cpuid = engine_cpuid_table(&cpuid_len);
    const char *base = strrchr(o->elf_path, '/');
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct pvlog_meta meta = {
        .abi_version = PVRR_ABI_VERSION,
        .mem_size = m.vm.mem_size,
        .cmdline = o->cmdline,
        .elf = elf,
        .elf_len = len,
        .elf_name = base ? base + 1 : o->elf_path,
        .cpuid = cpuid,
        .cpuid_len = cpuid_len,
        .disk_sectors = m.disk_fd >= 0 ? m.disk_sectors : 0,
        .disk_writable = (uint32_t)m.disk_writable,
        .start_wall_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec,
        .pvrr_version = PVRR_VERSION_STRING,
        .engine = strcmp(m.vm.ops->name, "emu") == 0 ? PVLOG_ENGINE_EMU : PVLOG_ENGINE_KVM,
    };
    /* The writer's thread must not take the signals meant for the vCPU thread. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    struct pvlog_writer *w;
    struct pvlog_error perr;
    enum pvlog_status st = pvlog_writer_open(&w, path, &meta, &perr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (st != PVLOG_OK) {
        fprintf(stderr, "pvrr record: %s: %s\n", path, perr.msg);
        monitor_fini(&m);
        return PVRR_EXIT_ERROR;
    }
    struct recorder rec;
    recorder_attach(&rec, &m, w);
    m.interrupt = &interrupted;
    cli_interrupt_kicks(&m.vm);
    if (o->cfg.timeout_s > 0)
        monitor_kick_every(&m, 50);
    int status = monitor_run(&m);
    int rc = status;
    if (!rec.failed && recorder_finish(&rec) != PVLOG_OK) {
        fprintf(stderr, "pvrr record: %s: %s\n", path, rec.err.msg);
        rc = PVRR_EXIT_ERROR;
    }
    if (pvlog_writer_close(w, &perr) != PVLOG_OK) {
        fprintf(stderr, "pvrr record: %s: %s\n", path, perr.msg);
        rc = PVRR_EXIT_ERROR;
    }
    if (m.stop.reason != MON_EXIT && out_fd == STDOUT_FILENO)
        cli_report_stop(&m, o->elf_path);
    *failed = m.stop.reason == MON_PANIC || m.stop.reason == MON_FAULT ||
              (m.stop.reason == MON_EXIT && status != 0);
    if (out_fd != STDOUT_FILENO && *failed)
        cli_report_stop(&m, o->elf_path);
    cli_interrupt_kicks(NULL);
    monitor_fini(&m);
    return rc;
}

/* Copy everything in (fd) from its start to stdout. */
static void replay_output(int fd)
{
    char buf[65536];
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, buf, sizeof buf)) > 0)
        if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
            break;
    fflush(stdout);
}

/* Seconds since (t0) on the monotonic clock. */
static double elapsed_s(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

int cmd_record(int argc, char **argv)
{
    struct run_opts o;
    memset(&o, 0, sizeof o);
    int rc = cli_parse_run_opts(argc, argv, &o, "record", usage_record);
    if (rc)
        return rc;
    if (o.gdb_addr) {
        fprintf(stderr, "pvrr record: --gdb is not supported while recording; record, then "
                        "`pvrr replay --gdb`\n");
        return PVRR_EXIT_USAGE;
    }
    char outbuf[4096];
    if (!o.output) {
        default_output(o.elf_path, outbuf, sizeof outbuf);
        o.output = outbuf;
    }
    void *elf;
    size_t len;
    if (cli_read_elf(o.elf_path, &elf, &len) < 0)
        return PVRR_EXIT_ERROR;
    if (cli_linux_prepare(&o, &elf, &len, "record") != 0) {
        free(elf);
        return PVRR_EXIT_ERROR;
    }
    cli_catch_interrupts(&interrupted);
    if (o.until_fail == 0) {
        int failed;
        rc = record_one(&o, elf, len, o.output, STDOUT_FILENO, &failed);
        fprintf(stderr, "pvrr record: wrote %s\n", o.output);
        free(elf);
        cli_linux_free(&o);
        return rc;
    }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", o.output);
    int tty = isatty(STDERR_FILENO);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = 1;
    unsigned i;
    for (i = 1; i <= o.until_fail && !interrupted; i++) {
        int out = memfd_create("pvrr-console", MFD_CLOEXEC);
        if (out < 0) {
            fprintf(stderr, "pvrr record: memfd_create: %s\n", strerror(errno));
            rc = PVRR_EXIT_ERROR;
            break;
        }
        if (tty)
            fprintf(stderr, "\rpvrr record: run %u/%u, %.1f s elapsed ...", i, o.until_fail,
                    elapsed_s(&t0));
        int failed;
        int st = record_one(&o, elf, len, tmp, out, &failed);
        if (st == PVRR_EXIT_ERROR && !failed) {
            close(out);
            unlink(tmp);
            rc = st;
            break;
        }
        if (failed) {
            if (tty)
                fprintf(stderr, "\n");
            replay_output(out);
            close(out);
            if (rename(tmp, o.output) < 0) {
                fprintf(stderr, "pvrr record: rename %s: %s\n", tmp, strerror(errno));
                rc = PVRR_EXIT_ERROR;
                break;
            }
            fprintf(stderr, "pvrr record: run %u of %u failed (status %d): kept %s\n", i,
                    o.until_fail, st, o.output);
            rc = st;
            break;
        }
        close(out);
        unlink(tmp);
    }
    if (rc == 1) {
        if (tty)
            fprintf(stderr, "\n");
        fprintf(stderr, "pvrr record: no failing run in %u runs; nothing kept\n", i - 1);
    }
    free(elf);
    cli_linux_free(&o);
    return rc;
}
