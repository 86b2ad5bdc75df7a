/*
 * debug.c - `--gdb` for run and replay: listen for gdb, serve sessions on the
 * guest through the debugger (debugger/debugger.h), then finish the run as
 * the debugger left it.
 */
#include "tools/cli.h"

#include "debugger/debugger.h"
#include "replayer/replayer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void log_stderr(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "pvrr gdb: %s\n", msg);
}

/* Listen at (addr) ([HOST:]PORT or unix:PATH), print how to attach gdb for
 * (elf_path), accept one debugger and serve sessions until it detaches or
 * kills; further debuggers may connect after a disconnect, each starting with
 * no breakpoints of the one before. Returns 0 or pvrr's exit status for an
 * error. */
static int serve(struct debugger *d, struct monitor *m, const char *addr, int nonlocal,
                 const char *elf_path, int replay)
{
    char err[256], where[300];
    int lfd;
    int is_unix = strncmp(addr, "unix:", 5) == 0;
    if (is_unix) {
        lfd = gdbstub_listen_unix(addr + 5, err, sizeof err);
        snprintf(where, sizeof where, "%s", addr + 5);
    } else {
        lfd = gdbstub_listen_tcp(addr, nonlocal, err, sizeof err);
        const char *colon = strrchr(addr, ':');
        char host[256] = "127.0.0.1";
        if (colon && colon != addr)
            snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
        snprintf(where, sizeof where, "%s:%d", host, lfd >= 0 ? gdbstub_local_port(lfd) : 0);
    }
    if (lfd < 0) {
        fprintf(stderr, "pvrr: --gdb %s: %s\n", addr, err);
        return PVRR_EXIT_ERROR;
    }
    if (nonlocal && !is_unix)
        fprintf(stderr,
                "pvrr: WARNING: the debugger port %s is reachable from other machines; "
                "the GDB protocol has no authentication: anyone who connects controls "
                "the guest\n",
                where);
    fprintf(stderr,
            "pvrr: guest stopped at its entry point 0x%" PRIx64 "%s; waiting for gdb on %s\n"
            "pvrr: attach with:\n"
            "  gdb %s -ex 'target remote %s'\n",
            m->entry, replay ? " (replay: reverse execution available)" : "", where,
            elf_path ? elf_path : "GUEST.elf", where);
    fflush(stderr);
    debugger_set_log(d, log_stderr, NULL);
    for (;;) {
        int fd = gdbstub_accept(lfd);
        if (fd < 0) {
            if (errno == EINTR && m->interrupt && *m->interrupt)
                break;
            continue;
        }
        int end = gdbstub_serve(fd, debugger_ops(d), d);
        close(fd);
        if (end == GDBSTUB_END_DETACH || end == GDBSTUB_END_KILL)
            break;
        if (debugger_ended(d) && !replay)
            break;         /* the guest is gone: nothing left to debug */
        debugger_clear(d); /* the next debugger starts with no breakpoints of this one */
        if (m->interrupt && *m->interrupt)
            break;
        fprintf(stderr, "pvrr: the debugger went away; waiting for another on %s\n", where);
        fflush(stderr);
    }
    close(lfd);
    if (is_unix)
        unlink(addr + 5);
    return 0;
}

int replay_gdb_session(struct replayer *r, const char *addr, int nonlocal, const char *elf_path)
{
    char err[256];
    struct debugger *d = debugger_create(&r->m, r, err, sizeof err);
    if (!d) {
        fprintf(stderr, "pvrr replay: %s\n", err);
        return PVRR_EXIT_ERROR;
    }
    cli_linux_debugger(d, &r->m, r->meta->cmdline, r->meta->elf, r->meta->elf_len);
    int rc = serve(d, &r->m, addr, nonlocal, elf_path, 1);
    int killed = debugger_killed(d), ended = debugger_ended(d);
    debugger_destroy(d);
    if (rc)
        return rc;
    if (killed) {
        monitor_set_stop(&r->m, MON_ABORT, 137, "the debugger killed the replay at event %llu",
                         (unsigned long long)r->next_event);
        return 137;
    }
    /* detached: replay on to the end of the recording, checking as usual */
    if (!ended && r->m.stop.reason == MON_RUNNING)
        monitor_run(&r->m);
    return replayer_finish(r);
}

int run_gdb_session(struct monitor *m, const char *addr, int nonlocal, const char *elf_path,
                    const void *kernel_elf, size_t kernel_len)
{
    char err[256];
    struct debugger *d = debugger_create(m, NULL, err, sizeof err);
    if (!d) {
        fprintf(stderr, "pvrr: %s\n", err);
        return PVRR_EXIT_ERROR;
    }
    cli_linux_debugger(d, m, m->cfg.cmdline, kernel_elf, kernel_len);
    int rc = serve(d, m, addr, nonlocal, elf_path, 0);
    int killed = debugger_killed(d), ended = debugger_ended(d);
    debugger_destroy(d);
    if (rc)
        return rc;
    if (killed) {
        monitor_set_stop(m, MON_ABORT, 137, "the debugger killed the guest");
        return 137;
    }
    if (!ended && m->stop.reason == MON_RUNNING)
        return monitor_run(m);
    return m->stop.status;
}
