/*
 * monitor.h - the pvrr monitor core: boots a guest ELF on an execution engine
 * (engine/engine.h) and serves its hypercalls through registered handlers.
 * `pvrr run`, the recorder, the replayer and the debugger are all built on
 * this interface; none of them knows which engine runs the guest.
 */
#ifndef PVRR_MONITOR_H
#define PVRR_MONITOR_H

#include "monitor/hypercall.h"
#include "engine/engine.h"

#include <stdint.h>
#include <time.h>

/* Exit statuses of pvrr itself (the guest's own status is 0..255). */
#define PVRR_EXIT_USAGE 2     /* bad command line */
#define PVRR_EXIT_TIMEOUT 124 /* --timeout expired (as timeout(1)) */
#define PVRR_EXIT_ERROR 125   /* pvrr could not start or serve the guest */
#define PVRR_EXIT_PANIC 255   /* the guest panicked or faulted */

/* How a run of the guest ended. */
enum monitor_stop_reason {
    MON_RUNNING = 0,
    MON_EXIT,     /* PVRR_HC_EXIT */
    MON_PANIC,    /* PVRR_HC_PANIC */
    MON_FAULT,    /* triple fault, engine internal error, bad hypercall */
    MON_TIMEOUT,  /* --timeout */
    MON_ABORT,    /* SIGINT/SIGTERM, or a debugger's kill */
    MON_DIVERGED, /* replay only: the guest left the recorded history */
    MON_LOG_END,  /* replay only: the log ended (truncated or corrupt) */
};

struct monitor_stop {
    enum monitor_stop_reason reason;
    int status;   /* pvrr's exit status */
    uint64_t rip; /* MON_FAULT: the guest's rip at the fault (0: unknown) */
    char msg[1024];
};

/* One host file exposed to the guest at a guest path (--file HOST[:GUEST]). */
struct monitor_file {
    const char *host;
    const char *guest; /* absolute, normalised */
};

/* The host files a guest may open with the PVRR_HC_FS_* hypercalls. */
struct monitor_fs_config {
    const char *root;      /* host directory shown read-only as "/", or NULL */
    const char *write_dir; /* host directory shown read-write at write_at, or NULL */
    const char *write_at;  /* absolute normalised guest path of write_dir */
    size_t nfiles;
    const struct monitor_file *files; /* take precedence over root and write_dir */
};

struct monitor_config {
    uint64_t mem_size;                  /* bytes of guest RAM */
    const char *disk_path;              /* NULL: no disk */
    const char *stdin_path;             /* NULL: pvrr's own stdin */
    double timeout_s;                   /* 0: none */
    const char *cmdline;                /* guest command line (argv joined by spaces) */
    const char *elf_name;               /* for messages */
    const struct monitor_fs_config *fs; /* NULL: no files (every fs_open fails) */
    const char *engine; /* execution engine by name; NULL: engine_select's default */
};

struct hc_fs_state;

struct monitor {
    struct vm vm;
    struct monitor_config cfg;
    hc_handler handlers[PVRR_HC_MAX];
    void *user;             /* the recorder's or replayer's state */
    struct engine_event ev; /* what the engine reported at the last monitor_step */

    /* the outside world served by the live handlers */
    int disk_fd;
    uint64_t disk_sectors;
    int disk_writable;
    int in_fd;
    int in_eof;
    int out_fd;
    int err_fd;                   /* PVRR_HC_STDERR_WRITE */
    struct hc_fs_state *fs_state; /* open host files (hc_fs.c); NULL until the first open */
    struct timespec t0;           /* monotonic time at boot */

    uint64_t entry;
    uint64_t image_end;
    uint64_t hc_count;        /* hypercalls served */
    struct timespec deadline; /* --timeout, monotonic */
    volatile int *interrupt;  /* set by a signal handler: stop at the next exit */
    struct monitor_stop stop;
};

/* Default guest RAM when --mem is not given. */
#define MONITOR_DEFAULT_MEM (64ull << 20)

/* Create the VM, load the ELF image (elf, len) and prepare the guest to start
 * at its entry point. (cfg) strings must outlive the monitor. Live handlers are
 * installed; callers may replace any of m->handlers afterwards. Returns -1
 * with (err) on bad ELF, an engine that cannot start (no KVM), unopenable disk
 * or stdin. */
int monitor_init(struct monitor *m, const struct monitor_config *cfg, const void *elf, size_t len,
                 char *err, size_t errlen);

/* Open the directories of m->cfg.fs (hc_fs.c). Returns -1 with (err) when one
 * cannot be opened. */
int hc_fs_init(struct monitor *m, char *err, size_t errlen);

/* Close every host file the guest opened. */
void hc_fs_fini(struct monitor *m);

/* Release the VM and open files. */
void monitor_fini(struct monitor *m);

/* What one step of the exit loop saw (details of the engine's event in m->ev). */
enum monitor_event {
    MON_EV_HYPERCALL,   /* a hypercall was served; the guest can go on (when single-stepping:
                           the step was the hypercall) */
    MON_EV_STOPPED,     /* the guest ended: m->stop (exit, panic, fault, timeout, interrupt) */
    MON_EV_BREAKPOINT,  /* an execution breakpoint was reached: m->ev.bp.addr */
    MON_EV_STEP,        /* the single step was done */
    MON_EV_WATCH,       /* a watched range was accessed: m->ev.watch */
    MON_EV_INTERRUPTED, /* a kick (signal) interrupted the engine and nothing else happened */
    MON_EV_TIMEOUT,     /* (a)->max_insns instructions were executed */
};

/* Run the guest until the next engine event and handle it: hypercalls are
 * dispatched, faults stop the monitor with a report. (a) as for ops->run (NULL:
 * run on, no step). Breakpoint, step, watch and timeout events are returned
 * to the caller (the debugger). */
enum monitor_event monitor_step(struct monitor *m, const struct engine_run_args *a);

/* Run until the guest ends (no breakpoints or watchpoints may be set). Returns
 * pvrr's exit status (m->stop.status). */
int monitor_run(struct monitor *m);

/* Stop the guest with (reason, status) and a printf-style message. */
void monitor_set_stop(struct monitor *m, enum monitor_stop_reason reason, int status,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Check --timeout and the interrupt flag: if the guest must stop, set m->stop
 * (MON_TIMEOUT or MON_ABORT) and return 1; else 0. */
int monitor_check_deadlines(struct monitor *m);

/* Arrange for SIGALRM-driven kicks of the engine (vm_kick) every (ms)
 * milliseconds on the calling (vCPU) thread, so timeouts and interrupts are
 * noticed even when the guest makes no exit. 0 disables. */
int monitor_kick_every(struct monitor *m, unsigned ms);

/* Nanoseconds of CLOCK_MONOTONIC since the guest booted. */
uint64_t monitor_now_ns(const struct monitor *m);

/* Digest of the canonical general registers (formats/pvlog.md) at the last
 * event, chained with (prev). */
uint64_t monitor_regs_digest(struct monitor *m, uint64_t prev);

/* Digest of a hypercall's inputs: number, struct address and bytes, input
 * buffers. Recorder and replayer compare it to detect divergence. */
uint64_t monitor_input_digest(struct monitor *m, const struct hc_call *c);

/* Digest of all guest memory (pages never written are known to be zero). */
uint64_t monitor_memory_digest(struct monitor *m);

/* Digest of all guest memory and registers: the final-state check of replay. */
uint64_t monitor_state_digest(struct monitor *m);

#endif /* PVRR_MONITOR_H */
