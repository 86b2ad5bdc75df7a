/*
 * debug.c - `--gdb` for run and replay: serve gdb sessions on the guest, then
 * finish the run as the debugger left it.
 */
#include "tools/cli.h"

#include "gdbstub/reverse.h"
#include "gdbstub/target.h"
#include "replayer/replayer.h"

#include <stdio.h>

int replay_gdb_session(struct replayer *r, const char *addr, int nonlocal, const char *elf_path);
int run_gdb_session(struct monitor *m, const char *addr, int nonlocal, const char *elf_path);

int replay_gdb_session(struct replayer *r, const char *addr, int nonlocal, const char *elf_path)
{
    struct target t;
    target_init(&t, &r->m, r);
    t.tt = tt_create(&t, r);
    if (!t.tt) {
        fprintf(stderr, "pvrr replay: out of memory for checkpoints\n");
        return PVRR_EXIT_ERROR;
    }
    int rc = target_serve(&t, addr, nonlocal, elf_path, 1);
    tt_destroy(t.tt);
    t.tt = NULL;
    int killed = t.killed, ended = t.ended;
    target_fini(&t);
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

int run_gdb_session(struct monitor *m, const char *addr, int nonlocal, const char *elf_path)
{
    struct target t;
    target_init(&t, m, NULL);
    int rc = target_serve(&t, addr, nonlocal, elf_path, 0);
    int killed = t.killed, ended = t.ended;
    target_fini(&t);
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
