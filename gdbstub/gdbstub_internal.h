/*
 * gdbstub_internal.h - what the GDB remote protocol session (gdbstub.c: I/O,
 * resuming, stop replies, the session loop) shares with its packet handlers
 * (packets.c). Nothing outside gdbstub/ includes it.
 */
#ifndef PVRR_GDBSTUB_INTERNAL_H
#define PVRR_GDBSTUB_INTERNAL_H

#include "gdbstub/gdbstub.h"
#include "gdbstub/rsp.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Error reply numbers. gdb does not interpret them; E14 (EFAULT) for memory
 * matches what gdbserver and QEMU send.
 */
#define E_ARGS 0x01     /* malformed or out-of-range arguments */
#define E_TARGET 0x05   /* the target failed (EIO) */
#define E_MEM 0x14      /* memory not accessible (EFAULT) */
#define E_NOMEM 0x0c    /* out of memory (ENOMEM) */
#define E_LLDB_END 0x45 /* qRegisterInfo past the last register (what lldb-server sends) */

/* The only thread: gdb and lldb both need some id; 1 is what they expect of a stub. */
#define THREAD_ID 1

/* Memory reads go page by page after a failed whole read, to return a partial reply. */
#define PAGE_SIZE_GUEST 4096

/* Largest m/M/X transfer: a hex reply must fit in one packet. */
#define MEM_XFER_MAX (RSP_PACKET_SIZE / 2)

struct gdbstub {
    int fd;
    const struct gdb_target_ops *ops;
    void *t;

    int no_ack;             /* QStartNoAckMode accepted: send no '+'/'-', expect none */
    int hangup;             /* the connection is gone (EOF or reset) */
    int io_error;           /* an unexpected I/O error */
    int end;                /* enum gdbstub_end, once done is set */
    int done;               /* a handler ended the session (D, k, vKill) */
    int running;            /* inside ops->resume */
    const char *motion;     /* a reverse resume's name, for progress on the console; or NULL */
    struct timespec run_t0; /* when the running resume started */
    long progress_s;        /* seconds of the last progress line (0: none yet) */
    int in_monitor;         /* inside ops->monitor (a qRcmd): polls only report progress */
    int interrupted;        /* 0x03 seen while running */
    int packet_pending;     /* a packet completed inside gdbstub_poll_interrupt */
    int list_threads;       /* lldb QListThreadsInStopReply: add "threads:1;" to stops */
    int error_strings;      /* lldb QEnableErrorStrings: errors may carry hex text */
    struct gdb_stop last_stop;

    uint8_t in[4096]; /* received bytes not yet fed to the parser */
    size_t in_pos, in_len;
    struct rsp_parser parser;

    struct rsp_out out; /* the reply being built */
    struct rsp_out aux; /* 'O' console packets built during a monitor command */
    char last[sizeof(((struct rsp_out *)0)->buf)]; /* last packet sent, for '-' */
    size_t last_len;

    /* Inserted Z0/Z1 breakpoint addresses, so that range stepping emulated
     * with single steps stops at them like a continue would. */
    struct code_bp {
        uint64_t addr;
        int type;
    } * bps;
    size_t nbps, cap_bps;

    char tdesc[8192]; /* target description XML */
    size_t tdesc_len;
    uint8_t scratch[RSP_PACKET_SIZE]; /* memory and register transfer buffer */

    /* gdbstub_interrupt_source(): not a session, only an interrupt poller */
    int (*ext_poll)(void *ctx);
    void *ext_ctx;
};

/* ---- gdbstub.c: replies, parsing, resuming (contracts beside their definitions) ---- */
int expect(const char **p, const char *end, char c);
int parse_hex(const char **p, const char *end, uint64_t *v);
int parse_tid(const char **p, const char *end, int64_t *tid);
int reply_empty(struct gdbstub *s);
int reply_err(struct gdbstub *s, int code);
int reply_ok(struct gdbstub *s);
int reply_refused(struct gdbstub *s, const char *what, const char *why);
int reply_str(struct gdbstub *s, const char *text);
int resume_and_report(struct gdbstub *s, enum gdb_resume_kind how, uint64_t start, uint64_t end);
int send_packet(struct gdbstub *s, struct rsp_out *o);
int send_stop(struct gdbstub *s, const struct gdb_stop *st);
int set_pc(struct gdbstub *s, uint64_t pc);
int strip_thread_suffix(const char *a, const char **end);
int tid_ok(int64_t tid);
int track_bp(struct gdbstub *s, int type, uint64_t addr, int insert);
void slog(struct gdbstub *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- packets.c ---- */

/* Handle one complete packet (body, len): find its handler and reply. */
void gdbstub_dispatch(struct gdbstub *s, const char *body, size_t len);

/* The gdb_out_fn of monitor commands: text as 'O' packets. (ctx) is the session. */
void monitor_out(void *ctx, const char *text, size_t len);

#endif /* PVRR_GDBSTUB_INTERNAL_H */
