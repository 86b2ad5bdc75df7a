/*
 * gdbstub.h - a GDB remote serial protocol stub for one x86-64 vCPU.
 *
 * The stub serves one debugger connection (gdb 13 or lldb 14) over a socket
 * the caller accepted, and talks to the debugged machine only through
 * struct gdb_target_ops. It knows nothing about KVM, recordings or replay:
 * the monitor implements the ops for a live run, the replayer for a replay
 * (which adds reverse execution). The machine has one thread, id 1; guest
 * virtual addresses equal physical ones.
 *
 * Error tiers: a malformed or refused request gets an error reply and the
 * session goes on; only a lost connection or an I/O error ends it. Nothing
 * here prints or exits: messages for the user go through ops->log.
 */
#ifndef PVRR_GDBSTUB_H
#define PVRR_GDBSTUB_H

#include <stddef.h>
#include <stdint.h>

#include "gdbstub/regs_x86_64.h"

struct gdbstub; /* one session; opaque, lives inside gdbstub_serve() */

/* How to resume (the 'how' of struct gdb_resume). */
enum gdb_resume_kind {
    GDB_RESUME_STEP,       /* execute one instruction */
    GDB_RESUME_CONT,       /* run until a breakpoint, watchpoint, exit or interrupt */
    GDB_RESUME_RSTEP,      /* reverse: undo one instruction ('bs') */
    GDB_RESUME_RCONT,      /* reverse: run backward to a breakpoint/watchpoint ('bc') */
    GDB_RESUME_RANGE_STEP, /* step while start <= rip < end, stopping early like CONT */
};

/* A resume request, valid for the duration of one ops->resume call. */
struct gdb_resume {
    enum gdb_resume_kind how;
    uint64_t start, end; /* GDB_RESUME_RANGE_STEP only: the range [start, end) */
    /* Pass to gdbstub_poll_interrupt() while running; never NULL. */
    struct gdbstub *stub;
};

/* Why the target stopped; filled by ops->resume. */
enum gdb_stop_kind {
    GDB_STOP_STEP,          /* a step or range step finished: T05 */
    GDB_STOP_SWBREAK,       /* at a software breakpoint (Z0), rip = its address */
    GDB_STOP_HWBREAK,       /* at a hardware breakpoint (Z1) */
    GDB_STOP_WATCH,         /* after a write to a Z2 watchpoint; addr = the address hit */
    GDB_STOP_RWATCH,        /* after a read (Z3); addr */
    GDB_STOP_AWATCH,        /* after an access (Z4); addr */
    GDB_STOP_INTERRUPT,     /* gdbstub_poll_interrupt() returned nonzero: T02 */
    GDB_STOP_HISTORY_BEGIN, /* reverse execution reached the start of the recording */
    GDB_STOP_HISTORY_END,   /* forward replay reached the end of the recording */
    GDB_STOP_EXITED,        /* the guest exited; status = its exit status (W reply) */
    GDB_STOP_SIGNAL,        /* stopped for another reason; status = a gdb signal number */
};

struct gdb_stop {
    enum gdb_stop_kind kind;
    uint64_t addr; /* WATCH, RWATCH, AWATCH: the data address hit */
    int status;    /* EXITED: exit status (low 8 bits sent); SIGNAL: signal number */
};

/* Breakpoint types, numbered as in the Z/z packets. */
enum gdb_bp_type {
    GDB_BP_SW = 0,     /* software breakpoint; len is gdb's "kind" (1 on x86) */
    GDB_BP_HW = 1,     /* hardware breakpoint */
    GDB_WP_WRITE = 2,  /* watchpoint on [addr, addr+len): writes */
    GDB_WP_READ = 3,   /* reads */
    GDB_WP_ACCESS = 4, /* reads or writes */
};

/* Return values of ops besides 0 (success) and negative (failure). */
#define GDB_UNSUPPORTED                                                                            \
    1 /* set_bp: type not supported (empty reply: gdb falls back);                                 \
         monitor: unknown command */

/* Text sink for monitor commands: sends `len` bytes of text to the debugger's console. */
typedef void (*gdb_out_fn)(void *ctx, const char *text, size_t len);

/* A monitor command the target understands, for `monitor help`. */
struct gdb_monitor_cmd {
    const char *name; /* first word of the command, e.g. "when" */
    const char *help; /* one line, e.g. "print the current event number" */
};

/*
 * The debugged machine. `t` is the caller's target pointer given to
 * gdbstub_serve(). Every callback may be called any number of times between
 * resumes; none is called while another runs. Unless stated otherwise a
 * callback returns 0 on success and a negative value on failure, which the
 * stub turns into an error reply.
 */
struct gdb_target_ops {
    /* Read all registers into r (fully initialized by the callee). */
    int (*read_regs)(void *t, struct gdb_regs *r);
    /* Replace all registers with r. May refuse (e.g. while replaying): return
     * negative with a reason in why (n bytes, NUL-terminated), which the
     * debugger shows and ops->log receives. */
    int (*write_regs)(void *t, const struct gdb_regs *r, char *why, size_t n);
    /* Read len bytes of guest memory at addr (virtual = physical). All or
     * nothing: negative if any byte is outside guest memory. */
    int (*read_mem)(void *t, uint64_t addr, void *buf, size_t len);
    /* Write len bytes at addr; all or nothing. May refuse like write_regs. */
    int (*write_mem)(void *t, uint64_t addr, const void *buf, size_t len, char *why, size_t n);
    /* Insert (insert=1) or remove (0) a breakpoint or watchpoint of type
     * enum gdb_bp_type covering [addr, addr+len). Returns 0, GDB_UNSUPPORTED
     * for a type the target lacks, or negative (e.g. no debug register free).
     * Software breakpoints must not show in read_mem (gdb expects that with
     * swbreak+). Removing one that is not there returns 0. */
    int (*set_bp)(void *t, int type, uint64_t addr, uint64_t len, int insert);
    /* Run as req asks and fill *stop. Blocks until the machine stops, but must
     * call gdbstub_poll_interrupt(req->stub) every so often (each time it
     * regains control, at least every ~100 ms) and stop with
     * GDB_STOP_INTERRUPT when it returns nonzero. A reverse request runs the
     * machine backward: RSTEP undoes one instruction; RCONT first moves back
     * at least one instruction, then stops at the first breakpoint or
     * watchpoint met going backward (a write watchpoint stops at the writing
     * instruction, memory holding the value from before the write), or at
     * GDB_STOP_HISTORY_BEGIN. RANGE_STEP is only passed when range_step is
     * set; otherwise the stub emulates it with STEP. Returns negative only if
     * the machine cannot run at all (the debugger gets an error reply). */
    int (*resume)(void *t, const struct gdb_resume *req, struct gdb_stop *stop);
    /* Run monitor command cmd (NUL-terminated, trimmed; its first word is one
     * of monitor_cmds). Text for the user goes through out(ctx, ...), which
     * may be called many times. Returns 0, GDB_UNSUPPORTED (bad usage), or
     * negative on failure. May be NULL if monitor_cmds is NULL. */
    int (*monitor)(void *t, const char *cmd, gdb_out_fn out, void *ctx);
    /* Monitor commands for `monitor help`, ended by an entry with name NULL; or NULL. */
    const struct gdb_monitor_cmd *monitor_cmds;
    /* The debugger asked to kill the machine ('k', vKill); the session then ends. */
    int (*kill)(void *t);
    /* The debugger detached ('D'): remove all breakpoints, let the machine go on
     * as the caller sees fit. The session then ends. */
    void (*detach)(void *t);
    /* Optional (may be NULL): a one-line message for the user's console
     * (refused writes, protocol errors). */
    void (*log)(void *t, const char *msg);
    /* Nonzero: advertise ReverseStep+;ReverseContinue+ and accept bs/bc. */
    int reverse_supported;
    /* Nonzero: resume implements GDB_RESUME_RANGE_STEP itself. */
    int range_step;
};

/* Why gdbstub_serve() returned. */
enum gdbstub_end {
    GDBSTUB_END_DETACH = 0,     /* 'D': ops->detach was called */
    GDBSTUB_END_KILL = 1,       /* 'k' or vKill: ops->kill was called */
    GDBSTUB_END_DISCONNECT = 2, /* the debugger closed the connection (also mid-packet
                                   or mid-resume); no op was called */
    GDBSTUB_END_ERROR = -1,     /* an I/O error on fd, or out of memory */
};

/*
 * Serve one debugger session on fd (a connected stream socket or any
 * bidirectional fd; the caller keeps ownership and closes it) until detach,
 * kill or disconnect. Returns an enum gdbstub_end. SIGPIPE is avoided with
 * MSG_NOSIGNAL on sockets; for other fds the caller should ignore SIGPIPE.
 */
int gdbstub_serve(int fd, const struct gdb_target_ops *ops, void *target);

/*
 * For ops->resume: check, without blocking, whether the debugger sent the
 * interrupt byte (0x03) or went away. Returns 0 to keep running, nonzero to
 * stop now (with GDB_STOP_INTERRUPT); it keeps returning nonzero until the
 * resume returns. Cheap when no byte arrived (one poll()). Call it from the
 * thread inside ops->resume, never from a signal handler: a timer signal
 * should only kick the execution engine (vm_kick), and the loop then calls this.
 */
int gdbstub_poll_interrupt(struct gdbstub *stub);

/* The session a monitor command runs in, when ops->monitor was called by a
 * gdbstub with (out, ctx); else NULL (another caller, e.g. the DAP console).
 * A long command may poll it with gdbstub_poll_interrupt(): that reports
 * progress on gdb's console after 2 s and never interrupts (gdb is waiting
 * for the command's reply, not running the target). */
struct gdbstub *gdbstub_monitor_session(gdb_out_fn out, void *ctx);

/*
 * An interrupt source for ops->resume outside an RSP session (the DAP server,
 * dap/dap.h, drives the same targets): a handle to put in struct
 * gdb_resume.stub, for which gdbstub_poll_interrupt() returns poll(ctx)
 * (nonzero: stop now). Returns NULL when out of memory. Free it with
 * gdbstub_interrupt_source_free() once no resume uses it.
 */
struct gdbstub *gdbstub_interrupt_source(int (*poll)(void *ctx), void *ctx);
void gdbstub_interrupt_source_free(struct gdbstub *source);

/*
 * Listen on TCP. host_port is "PORT", ":PORT", "HOST:PORT" or "[V6ADDR]:PORT";
 * the default host is 127.0.0.1. A host that is not a loopback address is
 * refused unless allow_nonlocal (the stub can read and write the guest and
 * has no authentication). PORT 0 picks a free port (see gdbstub_local_port).
 * Returns the listening fd (close-on-exec), or -1 with a message in err (n bytes).
 */
int gdbstub_listen_tcp(const char *host_port, int allow_nonlocal, char *err, size_t n);

/*
 * Listen on a Unix stream socket at path; a stale socket file there is
 * replaced, any other file is not. Returns the fd, or -1 with a message in err.
 */
int gdbstub_listen_unix(const char *path, char *err, size_t n);

/* The TCP port a listening fd is bound to, or -1. */
int gdbstub_local_port(int lfd);

/*
 * Wait for one connection on lfd. Returns the connected fd (close-on-exec,
 * TCP_NODELAY for TCP), or -1 with errno set (EINTR when a signal arrived).
 */
int gdbstub_accept(int lfd);

#endif
