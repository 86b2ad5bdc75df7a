/*
 * replay.c - `pvrr replay`: re-execute a recording, optionally under gdb.
 */
#include "tools/cli.h"

#include "replayer/replayer.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage_replay(void)
{
    printf("Usage: pvrr replay [OPTIONS] FILE.pvlog\n"
           "\n"
           "Re-execute the guest recorded in FILE.pvlog from the log alone, bit for bit: same\n"
           "console output, same exit status, no disk, no input, no waiting. At every\n"
           "hypercall the guest's request is checked against the recording; the first\n"
           "difference stops the replay with a divergence report.\n"
           "\n"
           "Options:\n"
           "  -c, --check          regression mode: print nothing on success, exit 0 when the\n"
           "                       replay is identical (whatever the guest's own status)\n"
           "  -g, --gdb ADDR       wait for gdb at ADDR ([HOST:]PORT or unix:PATH), guest\n"
           "                       stopped at its entry point; reverse execution is available\n"
           "      --gdb-allow-remote  permit a non-loopback HOST for --gdb (no authentication!)\n"
           "  -e, --extract-elf F  write the embedded guest ELF to F (for gdb's symbols); for a\n"
           "                       Linux program: the program to F, pvrr's kernel to F.kernel\n"
           "      --backend B      auto (default: kvm where /dev/kvm works, else emu; said on\n"
           "                       stderr unless --check), kvm or emu: any recording replays\n"
           "                       on either\n"
           "  -h, --help           show this help\n"
           "\n"
           "Exit status:\n"
           "  the recorded guest status  the replay was identical (0 with --check)\n"
           "  %d  diverged: the guest left the recorded history (report on stderr)\n"
           "  %d  corrupt: not a pvlog, checksum mismatch or malformed content\n"
           "  %d  truncated: the log ends early (e.g. the recorder was killed); the complete\n"
           "      prefix was replayed\n"
           "  %d  unsupported format, ABI or CPUID version\n"
           "  %d  pvrr error (no KVM, ...), %d usage error\n",
           PVRR_REPLAY_DIVERGED, PVRR_REPLAY_CORRUPT, PVRR_REPLAY_TRUNCATED, PVRR_REPLAY_VERSION,
           PVRR_EXIT_ERROR, PVRR_EXIT_USAGE);
}

/* Write the recording's embedded ELF to (path). Returns 0 or -1 (printed). */
static int extract_elf(const struct replayer *r, const char *path)
{
    /* never through a symbolic link: the name may be predictable (LOG.elf) */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f || fwrite(r->meta->elf, 1, r->meta->elf_len, f) != r->meta->elf_len) {
        fprintf(stderr, "pvrr replay: cannot write %s: %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        else if (fd >= 0)
            close(fd);
        return -1;
    }
    if (fclose(f) != 0)
        return -1;
    return 0;
}

int cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"check", no_argument, NULL, 'c'},
        {"gdb", required_argument, NULL, 'g'},
        {"gdb-allow-remote", no_argument, NULL, 'R'},
        {"extract-elf", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {"backend", required_argument, NULL, 'B'},
        {NULL, 0, NULL, 0},
    };
    int check = 0, nonlocal = 0, c;
    const char *gdb = NULL, *elf_out = NULL, *backend = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+cg:e:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            check = 1;
            break;
        case 'g':
            gdb = optarg;
            break;
        case 'R':
            nonlocal = 1;
            break;
        case 'e':
            elf_out = optarg;
            break;
        case 'B':
            backend = optarg;
            break;
        case 'h':
            usage_replay();
            return 0;
        default:
            fprintf(stderr, "Try `pvrr replay --help`.\n");
            return PVRR_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "pvrr replay: need exactly one FILE.pvlog\nTry `pvrr replay --help`.\n");
        return PVRR_EXIT_USAGE;
    }
    const char *path = argv[optind];
    const char *engine;
    int rc = cli_choose_backend(backend, check, "replay", &engine);
    if (rc)
        return rc;
    struct replayer r;
    char err[1024];
    rc = replayer_open_on(&r, path, engine, check ? -1 : STDOUT_FILENO, err, sizeof err);
    if (rc) {
        fprintf(stderr, "pvrr replay: %s\n", err);
        replayer_close(&r);
        return rc;
    }
    if (check) {
        /* output is compared through the input digests, not shown */
        r.m.out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        r.m.err_fd = r.m.out_fd;
    }
    char auto_elf[4200];
    if (gdb && !elf_out) {
        /* gdb needs the guest's symbols: write the embedded ELF beside the log */
        snprintf(auto_elf, sizeof auto_elf, "%s.elf", path);
        elf_out = auto_elf;
    }
    if (elf_out && cli_linux_is_recording(r.meta->cmdline)) {
        /* a Linux program: gdb wants the program's symbols (at elf_out); the
         * personality's kernel goes beside it */
        char kernel_out[4300];
        snprintf(kernel_out, sizeof kernel_out, "%s.kernel", elf_out);
        if (extract_elf(&r, kernel_out) < 0 ||
            cli_linux_extract_program(path, r.meta->cmdline, elf_out) < 0) {
            replayer_close(&r);
            return PVRR_EXIT_ERROR;
        }
    } else if (elf_out && extract_elf(&r, elf_out) < 0) {
        replayer_close(&r);
        return PVRR_EXIT_ERROR;
    }
    static volatile int interrupted;
    r.m.interrupt = &interrupted;
    cli_catch_interrupts(&interrupted);
    cli_interrupt_kicks(&r.m.vm);
    if (gdb) {
        monitor_kick_every(&r.m, 50);
        rc = replay_gdb_session(&r, gdb, nonlocal, elf_out);
    } else
        rc = replayer_run(&r);
    int identical = r.m.stop.reason != MON_DIVERGED && r.m.stop.reason != MON_LOG_END &&
                    r.m.stop.reason != MON_ABORT && rc != PVRR_REPLAY_DIVERGED;
    if (!identical)
        fprintf(stderr, "pvrr replay: %s\n", r.m.stop.msg);
    else if (!check && (r.m.stop.reason != MON_EXIT || r.cut_end))
        fprintf(stderr, "pvrr replay: %s (as recorded)\n", r.m.stop.msg);
    if (check) {
        if (r.m.out_fd >= 0)
            close(r.m.out_fd);
        r.m.out_fd = -1;
        r.m.err_fd = STDERR_FILENO;
        if (identical)
            rc = 0;
    }
    cli_interrupt_kicks(NULL);
    replayer_close(&r);
    return rc;
}
