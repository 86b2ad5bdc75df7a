/*
 * gdbstub.c - the GDB remote protocol session: I/O, dispatch, packet handlers.
 * See gdbstub.h for the contract and rsp.h for framing.
 */
#include "gdbstub/gdbstub.h"
#include "gdbstub/rsp.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

/* The triple lldb is told (qHostInfo/qProcessInfo): a bare-metal x86-64 guest. */
static const char lldb_triple[] = "x86_64-unknown-unknown";

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

/* ---- messages ---- */

static void slog(struct gdbstub *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void slog(struct gdbstub *s, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    if (!s->ops->log)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->ops->log(s->t, msg);
}

/* ---- I/O ---- */

static void io_failed(struct gdbstub *s, int err)
{
    if (err == EPIPE || err == ECONNRESET || err == ENOTCONN || err == ESHUTDOWN)
        s->hangup = 1;
    else
        s->io_error = 1;
}

/* Send n raw bytes. Returns 0, or -1 once the connection is unusable. */
static int send_raw(struct gdbstub *s, const void *buf, size_t n)
{
    const char *p = buf;
    if (s->hangup || s->io_error)
        return -1;
    while (n > 0) {
        ssize_t k = send(s->fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == ENOTSOCK)
            k = write(s->fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            io_failed(s, errno);
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Finish and send the packet in o, remembering it for retransmission. */
static int send_packet(struct gdbstub *s, struct rsp_out *o)
{
    int n = rsp_out_end(o);
    if (n < 0) {
        /* A handler built more than fits: a bug here, not the debugger's fault. */
        slog(s, "gdbstub: reply too long, sent E%02x instead", E_TARGET);
        rsp_out_begin(o);
        rsp_out_fmt(o, "E%02x", E_TARGET);
        n = rsp_out_end(o);
    }
    memcpy(s->last, o->buf, (size_t)n);
    s->last_len = (size_t)n;
    return send_raw(s, o->buf, (size_t)n);
}

static int reply_str(struct gdbstub *s, const char *text)
{
    rsp_out_begin(&s->out);
    rsp_out_str(&s->out, text);
    return send_packet(s, &s->out);
}

static int reply_empty(struct gdbstub *s)
{
    return reply_str(s, "");
}

static int reply_ok(struct gdbstub *s)
{
    return reply_str(s, "OK");
}

static int reply_err(struct gdbstub *s, int code)
{
    rsp_out_begin(&s->out);
    rsp_out_fmt(&s->out, "E%02x", code);
    return send_packet(s, &s->out);
}

/*
 * A refused write: gdb shows the whole reply of an "E.text" error for G and
 * P ("remote failure reply 'E.text'"); lldb, after QEnableErrorStrings,
 * shows the hex text of "Enn;hex". The user's console gets it via ops->log.
 */
static int reply_refused(struct gdbstub *s, const char *what, const char *why)
{
    if (!why[0])
        why = "refused by the target";
    slog(s, "gdb: %s refused: %s", what, why);
    rsp_out_begin(&s->out);
    if (s->error_strings) {
        rsp_out_fmt(&s->out, "E%02x;", E_TARGET);
        rsp_out_hex(&s->out, why, strnlen(why, 200));
    } else {
        rsp_out_str(&s->out, "E.");
        for (size_t i = 0; why[i] && i < 200; i++) {
            char c = why[i];
            /* Keep the framing characters out of a text reply. */
            if (c < 0x20 || c > 0x7e || c == '#' || c == '$' || c == '}' || c == '*')
                c = '?';
            rsp_out_text(&s->out, &c, 1);
        }
    }
    return send_packet(s, &s->out);
}

/*
 * Make at least one unread byte available. block: wait for it; otherwise
 * return at once. Returns 1 when a byte is available, 0 when none arrived
 * (non-blocking only), -1 when the connection is gone or failed.
 */
static int fill(struct gdbstub *s, int block)
{
    if (s->in_pos < s->in_len)
        return 1;
    if (s->hangup || s->io_error)
        return -1;
    for (;;) {
        if (!block) {
            struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
            int r = poll(&pfd, 1, 0);
            if (r < 0 && errno == EINTR)
                return 0;
            if (r < 0) {
                io_failed(s, errno);
                return -1;
            }
            if (r == 0)
                return 0;
        }
        ssize_t k = read(s->fd, s->in, sizeof(s->in));
        if (k > 0) {
            s->in_pos = 0;
            s->in_len = (size_t)k;
            return 1;
        }
        if (k == 0) {
            s->hangup = 1;
            return -1;
        }
        if (errno == EINTR) {
            if (block)
                continue;
            return 0;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (!block)
                return 0;
            struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
            (void)poll(&pfd, 1, -1);
            continue;
        }
        io_failed(s, errno);
        return -1;
    }
}

/* ---- argument parsing: strict, never past `end` ---- */

/* 1 to 16 hex digits at *p into *v. Returns 0, or -1 (nothing consumed). */
static int parse_hex(const char **p, const char *end, uint64_t *v)
{
    const char *q = *p;
    uint64_t x = 0;
    int n = 0;
    while (q < end && rsp_hex_digit((unsigned char)*q) >= 0) {
        if (++n > 16)
            return -1;
        x = x << 4 | (uint64_t)rsp_hex_digit((unsigned char)*q);
        q++;
    }
    if (n == 0)
        return -1;
    *p = q;
    *v = x;
    return 0;
}

static int expect(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return -1;
    (*p)++;
    return 0;
}

/* A thread id: hex, or -1 (all threads). Returns 0 and sets *tid (-1 for all). */
static int parse_tid(const char **p, const char *end, int64_t *tid)
{
    uint64_t v;
    if (*p + 1 < end && (*p)[0] == '-' && (*p)[1] == '1') {
        *p += 2;
        *tid = -1;
        return 0;
    }
    if (parse_hex(p, end, &v) < 0 || v > INT64_MAX)
        return -1;
    *tid = (int64_t)v;
    return 0;
}

/* A thread id naming our thread: any (0), all (-1) or 1. */
static int tid_ok(int64_t tid)
{
    return tid == 0 || tid == -1 || tid == THREAD_ID;
}

/*
 * lldb, after QThreadSuffixSupported, appends ";thread:<hex>;" to g, G, p
 * and P. Accept it (any id of ours) and move *end before it. Returns 0, or
 * -1 if there is a ';' that does not start a valid suffix.
 */
static int strip_thread_suffix(const char *a, const char **end)
{
    const char *semi = memchr(a, ';', (size_t)(*end - a));
    if (!semi)
        return 0;
    const char *p = semi + 1;
    static const char key[] = "thread:";
    int64_t tid;
    if ((size_t)(*end - p) < sizeof(key) - 1 || memcmp(p, key, sizeof(key) - 1) != 0)
        return -1;
    p += sizeof(key) - 1;
    if (parse_tid(&p, *end, &tid) < 0 || !tid_ok(tid))
        return -1;
    if (p < *end && *p == ';')
        p++;
    if (p != *end)
        return -1;
    *end = semi;
    return 0;
}

/* ---- stop replies ---- */

static int send_stop(struct gdbstub *s, const struct gdb_stop *st)
{
    struct rsp_out *o = &s->out;
    struct gdb_regs regs;
    int sig = 5; /* SIGTRAP in gdb's numbering */

    rsp_out_begin(o);
    if (st->kind == GDB_STOP_EXITED) {
        rsp_out_fmt(o, "W%02x", (unsigned)st->status & 0xff);
        return send_packet(s, o);
    }
    if (st->kind == GDB_STOP_INTERRUPT)
        sig = 2; /* SIGINT */
    else if (st->kind == GDB_STOP_SIGNAL)
        sig = st->status & 0xff;
    rsp_out_fmt(o, "T%02x", (unsigned)sig);
    switch (st->kind) {
    case GDB_STOP_SWBREAK:
        rsp_out_str(o, "swbreak:;");
        break;
    case GDB_STOP_HWBREAK:
        rsp_out_str(o, "hwbreak:;");
        break;
    case GDB_STOP_WATCH:
        rsp_out_fmt(o, "watch:%llx;", (unsigned long long)st->addr);
        break;
    case GDB_STOP_RWATCH:
        rsp_out_fmt(o, "rwatch:%llx;", (unsigned long long)st->addr);
        break;
    case GDB_STOP_AWATCH:
        rsp_out_fmt(o, "awatch:%llx;", (unsigned long long)st->addr);
        break;
    case GDB_STOP_HISTORY_BEGIN:
        rsp_out_str(o, "replaylog:begin;");
        break;
    case GDB_STOP_HISTORY_END:
        rsp_out_str(o, "replaylog:end;");
        break;
    default:
        break;
    }
    /* Expedite the registers gdb needs to show the stop without a 'g'. */
    if (s->ops->read_regs(s->t, &regs) == 0) {
        static const unsigned expedite[] = {GDB_REG_RBP, GDB_REG_RSP, GDB_REG_RIP};
        for (size_t i = 0; i < sizeof(expedite) / sizeof(expedite[0]); i++) {
            unsigned r = expedite[i];
            rsp_out_fmt(o, "%02x:", r);
            rsp_out_hex(o, gdb_reg_cptr(&regs, r), gdb_reg_info(r)->size);
            rsp_out_str(o, ";");
        }
    }
    rsp_out_fmt(o, "thread:%x;", THREAD_ID);
    if (s->list_threads)
        rsp_out_fmt(o, "threads:%x;", THREAD_ID);
    return send_packet(s, o);
}

/* ---- resuming ---- */

static int call_resume(struct gdbstub *s, enum gdb_resume_kind how, uint64_t start, uint64_t end,
                       struct gdb_stop *st)
{
    struct gdb_resume req = {.how = how, .start = start, .end = end, .stub = s};
    memset(st, 0, sizeof(*st));
    st->kind = GDB_STOP_SIGNAL;
    st->status = 5;
    return s->ops->resume(s->t, &req, st);
}

/* Track Z0/Z1 insertions and removals. Returns 0, or -1 when out of memory. */
static int track_bp(struct gdbstub *s, int type, uint64_t addr, int insert)
{
    for (size_t i = 0; i < s->nbps; i++) {
        if (s->bps[i].addr == addr && s->bps[i].type == type) {
            if (!insert)
                s->bps[i] = s->bps[--s->nbps];
            return 0;
        }
    }
    if (!insert)
        return 0;
    if (s->nbps == s->cap_bps) {
        size_t cap = s->cap_bps ? 2 * s->cap_bps : 16;
        struct code_bp *b = realloc(s->bps, cap * sizeof(*b));
        if (!b)
            return -1;
        s->bps = b;
        s->cap_bps = cap;
    }
    s->bps[s->nbps++] = (struct code_bp){.addr = addr, .type = type};
    return 0;
}

/* The stop kind of a Z0/Z1 breakpoint at pc, or -1. */
static int bp_kind_at(const struct gdbstub *s, uint64_t pc)
{
    for (size_t i = 0; i < s->nbps; i++)
        if (s->bps[i].addr == pc)
            return s->bps[i].type == GDB_BP_SW ? GDB_STOP_SWBREAK : GDB_STOP_HWBREAK;
    return -1;
}

/* Range stepping for a target that only single-steps. */
static int emulate_range_step(struct gdbstub *s, uint64_t start, uint64_t end, struct gdb_stop *st)
{
    for (;;) {
        struct gdb_regs regs;
        int r = call_resume(s, GDB_RESUME_STEP, 0, 0, st);
        if (r < 0 || st->kind != GDB_STOP_STEP)
            return r;
        if (gdbstub_poll_interrupt(s)) {
            st->kind = GDB_STOP_INTERRUPT;
            return 0;
        }
        if (s->ops->read_regs(s->t, &regs) < 0)
            return 0;
        if (regs.rip < start || regs.rip >= end)
            return 0;
        int k = bp_kind_at(s, regs.rip);
        if (k >= 0) {
            st->kind = (enum gdb_stop_kind)k;
            return 0;
        }
    }
}

/*
 * Resume, wait for the stop and reply with it. The handler's arguments (in
 * the parser's buffer) must not be used after this: polling feeds the parser.
 */
static int resume_and_report(struct gdbstub *s, enum gdb_resume_kind how, uint64_t start,
                             uint64_t end)
{
    struct gdb_stop st;
    int r;

    s->interrupted = 0;
    s->running = 1;
    s->motion = how == GDB_RESUME_RCONT   ? "reverse-continue"
                : how == GDB_RESUME_RSTEP ? "reverse-step"
                                          : NULL;
    s->progress_s = 0;
    clock_gettime(CLOCK_MONOTONIC, &s->run_t0);
    if (how == GDB_RESUME_RANGE_STEP && !s->ops->range_step)
        r = emulate_range_step(s, start, end, &st);
    else
        r = call_resume(s, how, start, end, &st);
    s->running = 0;
    s->motion = NULL;
    s->interrupted = 0;
    if (s->hangup || s->io_error)
        return -1; /* the session ends; nobody to report to */
    if (r < 0)
        return reply_err(s, E_TARGET);
    s->last_stop = st;
    return send_stop(s, &st);
}

/* A reverse resume that runs long tells the user on gdb's console (an 'O'
 * packet, which gdb and lldb print while they wait for the stop): after 2 s,
 * then every 5 s. */
static void report_progress(struct gdbstub *s)
{
    if (!s->running || !s->motion)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long el = (long)(now.tv_sec - s->run_t0.tv_sec) - (now.tv_nsec < s->run_t0.tv_nsec);
    if (el < 2 || (s->progress_s && el < s->progress_s + 5))
        return;
    s->progress_s = el;
    char text[128];
    int n = snprintf(text, sizeof text,
                     "pvrr: %s still searching the history (%ld s; ^C stops it)\n", s->motion, el);
    rsp_out_begin(&s->aux);
    rsp_out_str(&s->aux, "O");
    rsp_out_hex(&s->aux, text, (size_t)n);
    send_packet(s, &s->aux);
}

int gdbstub_poll_interrupt(struct gdbstub *s)
{
    if (s->ext_poll)
        return s->ext_poll(s->ext_ctx);
    if (s->interrupted || s->hangup || s->io_error || s->packet_pending)
        return 1;
    report_progress(s);
    for (;;) {
        int r = fill(s, 0);
        if (r < 0)
            return 1;
        if (r == 0)
            return 0;
        enum rsp_event ev = rsp_parser_feed(&s->parser, s->in[s->in_pos++]);
        switch (ev) {
        case RSP_EV_INTERRUPT:
            s->interrupted = 1;
            return 1;
        case RSP_EV_PACKET:
            /* gdb sends nothing but 0x03 while the target runs in all-stop
             * mode: a client that sends a packet wants the target back. Stop
             * it (reported as an interrupt) and handle the packet after the
             * stop reply; reading stops here so nothing is lost. */
            s->packet_pending = 1;
            return 1;
        case RSP_EV_NACK:
            if (!s->no_ack && s->last_len)
                send_raw(s, s->last, s->last_len);
            break;
        case RSP_EV_BAD_CHECKSUM:
            if (!s->no_ack)
                send_raw(s, "-", 1);
            break;
        default:
            break;
        }
    }
}

/* Set rip for 'c addr' / 's addr'. Returns 0, or -1 after an error reply. */
static int set_pc(struct gdbstub *s, uint64_t pc)
{
    struct gdb_regs regs;
    char why[200] = "";
    if (s->ops->read_regs(s->t, &regs) < 0) {
        reply_err(s, E_TARGET);
        return -1;
    }
    regs.rip = pc;
    if (s->ops->write_regs(s->t, &regs, why, sizeof(why)) < 0) {
        reply_refused(s, "register write", why);
        return -1;
    }
    return 0;
}

/* ---- packet handlers: (a, end) are the arguments after the matched name ---- */

typedef int (*handler_fn)(struct gdbstub *s, const char *a, const char *end);

static int h_qsupported(struct gdbstub *s, const char *a, const char *end)
{
    rsp_out_begin(&s->out);
    rsp_out_fmt(&s->out,
                "PacketSize=%x;QStartNoAckMode+;qXfer:features:read+;swbreak+;hwbreak+;"
                "vContSupported+",
                RSP_PACKET_SIZE);
    if (s->ops->reverse_supported)
        rsp_out_str(&s->out, ";ReverseContinue+;ReverseStep+");
    return send_packet(s, &s->out);
}

static int h_empty(struct gdbstub *s, const char *a, const char *end)
{
    return reply_empty(s);
}

static int h_ok(struct gdbstub *s, const char *a, const char *end)
{
    return reply_ok(s);
}

static int h_noack(struct gdbstub *s, const char *a, const char *end)
{
    int r = reply_ok(s);
    s->no_ack = 1; /* the OK itself is still acked by gdb; ignored as garbage */
    return r;
}

static int h_list_threads(struct gdbstub *s, const char *a, const char *end)
{
    s->list_threads = 1;
    return reply_ok(s);
}

static int h_error_strings(struct gdbstub *s, const char *a, const char *end)
{
    s->error_strings = 1;
    return reply_ok(s);
}

static int h_stop_status(struct gdbstub *s, const char *a, const char *end)
{
    return send_stop(s, &s->last_stop);
}

/* qThreadStopInfo<tid> (lldb): the last stop reply. */
static int h_thread_stop_info(struct gdbstub *s, const char *a, const char *end)
{
    int64_t tid;
    if (parse_tid(&a, end, &tid) < 0 || a != end || tid != THREAD_ID)
        return reply_err(s, E_ARGS);
    return send_stop(s, &s->last_stop);
}

static int h_read_regs(struct gdbstub *s, const char *a, const char *end)
{
    struct gdb_regs regs;
    if (strip_thread_suffix(a, &end) < 0 || a != end)
        return reply_err(s, E_ARGS);
    if (s->ops->read_regs(s->t, &regs) < 0)
        return reply_err(s, E_TARGET);
    gdb_regs_to_g(&regs, s->scratch);
    rsp_out_begin(&s->out);
    rsp_out_hex(&s->out, s->scratch, GDB_REGS_G_BYTES);
    return send_packet(s, &s->out);
}

static int h_write_regs(struct gdbstub *s, const char *a, const char *end)
{
    struct gdb_regs regs;
    char why[200] = "";
    if (strip_thread_suffix(a, &end) < 0)
        return reply_err(s, E_ARGS);
    size_t hex = (size_t)(end - a);
    if (hex % 2 || hex / 2 > GDB_REGS_G_BYTES || rsp_hex_decode(a, s->scratch, hex / 2) < 0)
        return reply_err(s, E_ARGS);
    if (s->ops->read_regs(s->t, &regs) < 0)
        return reply_err(s, E_TARGET);
    if (gdb_regs_from_g(&regs, s->scratch, hex / 2) < 0)
        return reply_err(s, E_ARGS);
    if (s->ops->write_regs(s->t, &regs, why, sizeof(why)) < 0)
        return reply_refused(s, "register write", why);
    return reply_ok(s);
}

static int h_read_reg(struct gdbstub *s, const char *a, const char *end)
{
    struct gdb_regs regs;
    uint64_t n;
    if (strip_thread_suffix(a, &end) < 0 || parse_hex(&a, end, &n) < 0 || a != end ||
        n >= GDB_NUM_REGS)
        return reply_err(s, E_ARGS);
    if (s->ops->read_regs(s->t, &regs) < 0)
        return reply_err(s, E_TARGET);
    rsp_out_begin(&s->out);
    rsp_out_hex(&s->out, gdb_reg_cptr(&regs, (unsigned)n), gdb_reg_info((unsigned)n)->size);
    return send_packet(s, &s->out);
}

static int h_write_reg(struct gdbstub *s, const char *a, const char *end)
{
    struct gdb_regs regs;
    uint64_t n;
    char why[200] = "";
    if (strip_thread_suffix(a, &end) < 0 || parse_hex(&a, end, &n) < 0 ||
        expect(&a, end, '=') < 0 || n >= GDB_NUM_REGS)
        return reply_err(s, E_ARGS);
    size_t size = gdb_reg_info((unsigned)n)->size;
    if ((size_t)(end - a) != 2 * size || rsp_hex_decode(a, s->scratch, size) < 0)
        return reply_err(s, E_ARGS);
    if (s->ops->read_regs(s->t, &regs) < 0)
        return reply_err(s, E_TARGET);
    memcpy(gdb_reg_ptr(&regs, (unsigned)n), s->scratch, size);
    if (s->ops->write_regs(s->t, &regs, why, sizeof(why)) < 0)
        return reply_refused(s, "register write", why);
    return reply_ok(s);
}

/* "addr,len" for m, M, X. */
static int parse_addr_len(const char **a, const char *end, uint64_t *addr, uint64_t *len)
{
    if (parse_hex(a, end, addr) < 0 || expect(a, end, ',') < 0 || parse_hex(a, end, len) < 0)
        return -1;
    return 0;
}

static int h_read_mem(struct gdbstub *s, const char *a, const char *end)
{
    uint64_t addr, len;
    if (parse_addr_len(&a, end, &addr, &len) < 0 || a != end || len == 0)
        return reply_err(s, E_ARGS);
    if (len > MEM_XFER_MAX)
        len = MEM_XFER_MAX; /* a shorter reply is allowed; gdb asks for the rest */
    if (addr + len < addr)
        len = 0 - addr; /* stop at the top of the address space */
    size_t got = 0;
    if (s->ops->read_mem(s->t, addr, s->scratch, len) == 0) {
        got = len;
    } else {
        /* Return the readable prefix, page by page. */
        while (got < len) {
            uint64_t at = addr + got;
            size_t chunk = PAGE_SIZE_GUEST - (at % PAGE_SIZE_GUEST);
            if (chunk > len - got)
                chunk = len - got;
            if (s->ops->read_mem(s->t, at, s->scratch + got, chunk) < 0)
                break;
            got += chunk;
        }
    }
    if (got == 0)
        return reply_err(s, E_MEM);
    rsp_out_begin(&s->out);
    rsp_out_hex(&s->out, s->scratch, got);
    return send_packet(s, &s->out);
}

static int write_mem(struct gdbstub *s, uint64_t addr, const void *data, size_t len)
{
    char why[200] = "";
    if (len == 0)
        return reply_ok(s);
    if (addr + len < addr)
        return reply_err(s, E_MEM);
    if (s->ops->write_mem(s->t, addr, data, len, why, sizeof(why)) < 0) {
        if (!why[0])
            return reply_err(s, E_MEM);
        return reply_refused(s, "memory write", why);
    }
    return reply_ok(s);
}

static int h_write_mem_hex(struct gdbstub *s, const char *a, const char *end)
{
    uint64_t addr, len;
    if (parse_addr_len(&a, end, &addr, &len) < 0 || expect(&a, end, ':') < 0)
        return reply_err(s, E_ARGS);
    if (len > MEM_XFER_MAX || (size_t)(end - a) != 2 * len ||
        rsp_hex_decode(a, s->scratch, len) < 0)
        return reply_err(s, E_ARGS);
    return write_mem(s, addr, s->scratch, len);
}

/* X: the parser already removed the '}' escapes, so the data is raw bytes. */
static int h_write_mem_bin(struct gdbstub *s, const char *a, const char *end)
{
    uint64_t addr, len;
    if (parse_addr_len(&a, end, &addr, &len) < 0 || expect(&a, end, ':') < 0)
        return reply_err(s, E_ARGS);
    if ((uint64_t)(end - a) != len)
        return reply_err(s, E_ARGS);
    memcpy(s->scratch, a, len); /* len <= RSP_PACKET_SIZE: it came in one packet */
    return write_mem(s, addr, s->scratch, len);
}

/* Z/z: "type,addr,kind". */
static int breakpoint(struct gdbstub *s, const char *a, const char *end, int insert)
{
    uint64_t type, addr, kind;
    if (parse_hex(&a, end, &type) < 0 || expect(&a, end, ',') < 0 ||
        parse_hex(&a, end, &addr) < 0 || expect(&a, end, ',') < 0 ||
        parse_hex(&a, end, &kind) < 0 || a != end)
        return reply_err(s, E_ARGS);
    if (type > GDB_WP_ACCESS)
        return reply_empty(s); /* unknown type: "not supported" */
    int code = type == GDB_BP_SW || type == GDB_BP_HW;
    if (code && insert && track_bp(s, (int)type, addr, 1) < 0)
        return reply_err(s, E_NOMEM);
    int r = s->ops->set_bp(s->t, (int)type, addr, kind, insert);
    if (code && (r != 0 || !insert))
        track_bp(s, (int)type, addr, 0); /* not inserted, or removed */
    if (r == GDB_UNSUPPORTED)
        return reply_empty(s);
    if (r < 0)
        return reply_err(s, E_TARGET);
    return reply_ok(s);
}

static int h_insert_bp(struct gdbstub *s, const char *a, const char *end)
{
    return breakpoint(s, a, end, 1);
}

static int h_remove_bp(struct gdbstub *s, const char *a, const char *end)
{
    return breakpoint(s, a, end, 0);
}

static int h_vcont_query(struct gdbstub *s, const char *a, const char *end)
{
    /* gdb needs both c and C listed, or it stops using vCont. */
    return reply_str(s, "vCont;c;C;s;S;r");
}

/*
 * vCont;action[:tid];... Every action is validated; the first that applies
 * to our thread (no tid, -1, 0 or 1) is taken. Signals are ignored.
 */
static int h_vcont(struct gdbstub *s, const char *a, const char *end)
{
    int have = 0;
    enum gdb_resume_kind how = GDB_RESUME_CONT;
    uint64_t start = 0, stop = 0;

    while (a < end) {
        enum gdb_resume_kind k;
        uint64_t sig, r0 = 0, r1 = 0;
        int64_t tid = -1;
        char c = *a++;
        switch (c) {
        case 'c':
            k = GDB_RESUME_CONT;
            break;
        case 's':
            k = GDB_RESUME_STEP;
            break;
        case 'C':
        case 'S':
            if (parse_hex(&a, end, &sig) < 0 || sig > 0xff)
                return reply_err(s, E_ARGS);
            k = c == 'C' ? GDB_RESUME_CONT : GDB_RESUME_STEP;
            break;
        case 'r':
            if (parse_hex(&a, end, &r0) < 0 || expect(&a, end, ',') < 0 ||
                parse_hex(&a, end, &r1) < 0)
                return reply_err(s, E_ARGS);
            k = GDB_RESUME_RANGE_STEP;
            break;
        default:
            return reply_err(s, E_ARGS);
        }
        if (a < end && *a == ':') {
            a++;
            if (parse_tid(&a, end, &tid) < 0)
                return reply_err(s, E_ARGS);
        }
        if (a < end && expect(&a, end, ';') < 0)
            return reply_err(s, E_ARGS);
        if (!have && tid_ok(tid)) {
            have = 1;
            how = k;
            start = r0;
            stop = r1;
        }
    }
    if (!have)
        return reply_err(s, E_ARGS);
    return resume_and_report(s, how, start, stop);
}

/* c[addr], s[addr] */
static int resume_simple(struct gdbstub *s, const char *a, const char *end,
                         enum gdb_resume_kind how)
{
    uint64_t addr;
    if (a != end) {
        if (parse_hex(&a, end, &addr) < 0 || a != end)
            return reply_err(s, E_ARGS);
        if (set_pc(s, addr) < 0)
            return 0;
    }
    return resume_and_report(s, how, 0, 0);
}

/* Csig[;addr], Ssig[;addr] */
static int resume_signal(struct gdbstub *s, const char *a, const char *end,
                         enum gdb_resume_kind how)
{
    uint64_t sig;
    if (parse_hex(&a, end, &sig) < 0 || sig > 0xff)
        return reply_err(s, E_ARGS);
    if (a != end) {
        if (expect(&a, end, ';') < 0)
            return reply_err(s, E_ARGS);
        return resume_simple(s, a, end, how);
    }
    return resume_and_report(s, how, 0, 0);
}

static int h_cont(struct gdbstub *s, const char *a, const char *end)
{
    return resume_simple(s, a, end, GDB_RESUME_CONT);
}

static int h_step(struct gdbstub *s, const char *a, const char *end)
{
    return resume_simple(s, a, end, GDB_RESUME_STEP);
}

static int h_cont_sig(struct gdbstub *s, const char *a, const char *end)
{
    return resume_signal(s, a, end, GDB_RESUME_CONT);
}

static int h_step_sig(struct gdbstub *s, const char *a, const char *end)
{
    return resume_signal(s, a, end, GDB_RESUME_STEP);
}

static int h_rstep(struct gdbstub *s, const char *a, const char *end)
{
    if (!s->ops->reverse_supported)
        return reply_empty(s);
    return resume_and_report(s, GDB_RESUME_RSTEP, 0, 0);
}

static int h_rcont(struct gdbstub *s, const char *a, const char *end)
{
    if (!s->ops->reverse_supported)
        return reply_empty(s);
    return resume_and_report(s, GDB_RESUME_RCONT, 0, 0);
}

static int h_thread_first(struct gdbstub *s, const char *a, const char *end)
{
    rsp_out_begin(&s->out);
    rsp_out_fmt(&s->out, "m%x", THREAD_ID);
    return send_packet(s, &s->out);
}

static int h_thread_next(struct gdbstub *s, const char *a, const char *end)
{
    return reply_str(s, "l"); /* no more threads */
}

static int h_current_thread(struct gdbstub *s, const char *a, const char *end)
{
    rsp_out_begin(&s->out);
    rsp_out_fmt(&s->out, "QC%x", THREAD_ID);
    return send_packet(s, &s->out);
}

/* qAttached[:pid] -> 1: quitting detaches rather than kills. */
static int h_attached(struct gdbstub *s, const char *a, const char *end)
{
    uint64_t pid;
    if (a != end && (expect(&a, end, ':') < 0 || parse_hex(&a, end, &pid) < 0 || a != end))
        return reply_err(s, E_ARGS);
    return reply_str(s, "1");
}

/* Hg<tid>, Hc<tid> */
static int h_set_thread(struct gdbstub *s, const char *a, const char *end)
{
    int64_t tid;
    if (a == end || (*a != 'g' && *a != 'c'))
        return reply_err(s, E_ARGS);
    a++;
    if (parse_tid(&a, end, &tid) < 0 || a != end || !tid_ok(tid))
        return reply_err(s, E_ARGS);
    return reply_ok(s);
}

/* T<tid>: is the thread alive? */
static int h_thread_alive(struct gdbstub *s, const char *a, const char *end)
{
    int64_t tid;
    if (parse_tid(&a, end, &tid) < 0 || a != end || tid != THREAD_ID)
        return reply_err(s, E_ARGS);
    return reply_ok(s);
}

/* qXfer:features:read:target.xml:offset,length */
static int h_xfer_features(struct gdbstub *s, const char *a, const char *end)
{
    static const char annex[] = "target.xml:";
    uint64_t off, len;
    if ((size_t)(end - a) < sizeof(annex) - 1 || memcmp(a, annex, sizeof(annex) - 1) != 0)
        return reply_err(s, E_ARGS);
    a += sizeof(annex) - 1;
    if (parse_addr_len(&a, end, &off, &len) < 0 || a != end)
        return reply_err(s, E_ARGS);
    if (off >= s->tdesc_len)
        return reply_str(s, "l");
    size_t avail = s->tdesc_len - (size_t)off;
    if (len < avail)
        avail = (size_t)len;
    const char *data = s->tdesc + off;
    size_t fit = rsp_bin_fit(data, avail, RSP_PACKET_SIZE - 1);
    rsp_out_begin(&s->out);
    rsp_out_str(&s->out, off + fit == s->tdesc_len ? "l" : "m");
    rsp_out_bin(&s->out, data, fit);
    return send_packet(s, &s->out);
}

/* ---- monitor (qRcmd) ---- */

/* gdb_out_fn for monitor commands: hex text in 'O' packets. */
static void monitor_out(void *ctx, const char *text, size_t len)
{
    struct gdbstub *s = ctx;
    while (len > 0 && !s->hangup && !s->io_error) {
        size_t chunk = (RSP_PACKET_SIZE - 1) / 2;
        if (chunk > len)
            chunk = len;
        rsp_out_begin(&s->aux);
        rsp_out_str(&s->aux, "O");
        rsp_out_hex(&s->aux, text, chunk);
        send_packet(s, &s->aux);
        text += chunk;
        len -= chunk;
    }
}

static void monitor_printf(struct gdbstub *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void monitor_printf(struct gdbstub *s, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;
    monitor_out(s, buf, (size_t)n);
}

static void monitor_help(struct gdbstub *s)
{
    const struct gdb_monitor_cmd *c = s->ops->monitor_cmds;
    monitor_printf(s, "monitor commands:\n");
    monitor_printf(s, "  %-12s %s\n", "help", "list monitor commands");
    for (; c && c->name; c++)
        monitor_printf(s, "  %-12s %s\n", c->name, c->help ? c->help : "");
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int h_rcmd(struct gdbstub *s, const char *a, const char *end)
{
    char *cmd = (char *)s->scratch;
    size_t hex = (size_t)(end - a);
    if (hex % 2 || hex / 2 >= sizeof(s->scratch) || rsp_hex_decode(a, cmd, hex / 2) < 0)
        return reply_err(s, E_ARGS);
    size_t n = hex / 2;
    if (memchr(cmd, 0, n))
        return reply_err(s, E_ARGS);
    cmd[n] = 0;
    while (n > 0 && is_space(cmd[n - 1]))
        cmd[--n] = 0;
    while (is_space(*cmd))
        cmd++;

    size_t word = 0;
    while (cmd[word] && !is_space(cmd[word]))
        word++;
    if (word == 0 || (word == 4 && memcmp(cmd, "help", 4) == 0)) {
        monitor_help(s);
        return reply_ok(s);
    }
    const struct gdb_monitor_cmd *c = s->ops->monitor_cmds;
    for (; c && c->name; c++)
        if (strlen(c->name) == word && memcmp(c->name, cmd, word) == 0)
            break;
    if (!c || !c->name || !s->ops->monitor) {
        monitor_printf(s, "unknown monitor command '%.*s'; try 'monitor help'\n", (int)word, cmd);
        return reply_err(s, E_ARGS);
    }
    int r = s->ops->monitor(s->t, cmd, monitor_out, s);
    if (s->hangup || s->io_error)
        return -1;
    if (r == GDB_UNSUPPORTED) {
        monitor_printf(s, "usage: %s: %s\n", c->name, c->help ? c->help : "");
        return reply_err(s, E_ARGS);
    }
    if (r < 0)
        return reply_err(s, E_TARGET);
    return reply_ok(s);
}

/* ---- lldb ---- */

static void out_hex_str(struct rsp_out *o, const char *str)
{
    rsp_out_hex(o, str, strlen(str));
}

static int h_host_info(struct gdbstub *s, const char *a, const char *end)
{
    rsp_out_begin(&s->out);
    rsp_out_str(&s->out, "triple:");
    out_hex_str(&s->out, lldb_triple);
    rsp_out_str(&s->out, ";ptrsize:8;endian:little;ostype:unknown;vendor:unknown;");
    return send_packet(s, &s->out);
}

static int h_process_info(struct gdbstub *s, const char *a, const char *end)
{
    rsp_out_begin(&s->out);
    rsp_out_str(&s->out, "pid:1;parent-pid:1;real-uid:0;real-gid:0;effective-uid:0;"
                         "effective-gid:0;triple:");
    out_hex_str(&s->out, lldb_triple);
    rsp_out_str(&s->out, ";ostype:unknown;vendor:unknown;endian:little;ptrsize:8;");
    return send_packet(s, &s->out);
}

/* qRegisterInfo<hex n>: one register of the same table as the tdesc. */
static int h_register_info(struct gdbstub *s, const char *a, const char *end)
{
    uint64_t n;
    if (parse_hex(&a, end, &n) < 0 || a != end)
        return reply_err(s, E_ARGS);
    if (n >= GDB_NUM_REGS)
        return reply_err(s, E_LLDB_END);
    const struct gdb_reg_info *ri = gdb_reg_info((unsigned)n);
    struct rsp_out *o = &s->out;
    rsp_out_begin(o);
    rsp_out_fmt(o, "name:%s;bitsize:%u;offset:%u;encoding:%s;format:%s;set:%s;", ri->name,
                ri->size * 8u, ri->offset, ri->encoding, ri->format, ri->set);
    if (ri->dwarf >= 0)
        rsp_out_fmt(o, "gcc:%d;dwarf:%d;", ri->dwarf, ri->dwarf);
    if (ri->generic)
        rsp_out_fmt(o, "generic:%s;", ri->generic);
    return send_packet(s, o);
}

/* ---- ending ---- */

static int h_detach(struct gdbstub *s, const char *a, const char *end)
{
    uint64_t pid;
    if (a != end && (expect(&a, end, ';') < 0 || parse_hex(&a, end, &pid) < 0 || a != end))
        return reply_err(s, E_ARGS);
    int r = reply_ok(s);
    s->ops->detach(s->t);
    s->done = 1;
    s->end = GDBSTUB_END_DETACH;
    return r;
}

static int h_kill(struct gdbstub *s, const char *a, const char *end)
{
    s->ops->kill(s->t); /* 'k' has no reply */
    s->done = 1;
    s->end = GDBSTUB_END_KILL;
    return 0;
}

static int h_vkill(struct gdbstub *s, const char *a, const char *end)
{
    s->ops->kill(s->t);
    s->done = 1;
    s->end = GDBSTUB_END_KILL;
    return reply_ok(s);
}

/* ---- dispatch ---- */

enum match { EXACT, PREFIX };

struct command {
    const char *name;
    enum match match;
    handler_fn fn;
};

/*
 * The first entry whose name matches wins. PREFIX entries get the rest of
 * the packet as arguments; EXACT entries match only the whole packet.
 * Anything else gets the empty reply ("not supported"), which is what gdb and
 * lldb expect of, e.g., x, qTStatus, qOffsets, jThreadsInfo,
 * qStructuredDataPlugins, qShlibInfoAddr, qVAttachOrWaitSupported, vFile:*.
 */
static const struct command commands[] = {
    {"qSupported", PREFIX, h_qsupported},
    {"vMustReplyEmpty", EXACT, h_empty},
    {"QStartNoAckMode", EXACT, h_noack},
    {"qXfer:features:read:", PREFIX, h_xfer_features},
    {"?", EXACT, h_stop_status},
    {"g", PREFIX, h_read_regs},
    {"G", PREFIX, h_write_regs},
    {"p", PREFIX, h_read_reg},
    {"P", PREFIX, h_write_reg},
    {"m", PREFIX, h_read_mem},
    {"M", PREFIX, h_write_mem_hex},
    {"X", PREFIX, h_write_mem_bin},
    {"Z", PREFIX, h_insert_bp},
    {"z", PREFIX, h_remove_bp},
    {"vCont?", EXACT, h_vcont_query},
    {"vCont;", PREFIX, h_vcont},
    {"c", PREFIX, h_cont},
    {"s", PREFIX, h_step},
    {"C", PREFIX, h_cont_sig},
    {"S", PREFIX, h_step_sig},
    {"bs", EXACT, h_rstep},
    {"bc", EXACT, h_rcont},
    {"qfThreadInfo", EXACT, h_thread_first},
    {"qsThreadInfo", EXACT, h_thread_next},
    {"qC", EXACT, h_current_thread},
    {"qAttached", PREFIX, h_attached},
    {"qOffsets", EXACT, h_empty},
    {"H", PREFIX, h_set_thread},
    {"T", PREFIX, h_thread_alive},
    {"qTStatus", EXACT, h_empty},
    {"qSymbol", PREFIX, h_ok},
    {"qRcmd,", PREFIX, h_rcmd},
    {"D", PREFIX, h_detach},
    {"k", EXACT, h_kill},
    {"vKill", PREFIX, h_vkill},
    /* lldb */
    {"qHostInfo", EXACT, h_host_info},
    {"qProcessInfo", EXACT, h_process_info},
    {"qRegisterInfo", PREFIX, h_register_info},
    {"qThreadStopInfo", PREFIX, h_thread_stop_info},
    {"QThreadSuffixSupported", EXACT, h_ok},
    {"QListThreadsInStopReply", EXACT, h_list_threads},
    {"QEnableErrorStrings", EXACT, h_error_strings},
};

static void dispatch(struct gdbstub *s)
{
    const char *body = (const char *)s->parser.buf;
    size_t len = s->parser.len;

    if (!s->no_ack)
        send_raw(s, "+", 1);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const struct command *c = &commands[i];
        size_t n = strlen(c->name);
        if (len < n || memcmp(body, c->name, n) != 0)
            continue;
        if (c->match == EXACT && len != n)
            continue;
        c->fn(s, body + n, body + len);
        return;
    }
    reply_empty(s);
}

/* React to one parser event between resumes. */
static void handle_event(struct gdbstub *s, enum rsp_event ev)
{
    switch (ev) {
    case RSP_EV_PACKET:
        dispatch(s);
        break;
    case RSP_EV_BAD_CHECKSUM:
        slog(s, "gdbstub: packet with a bad checksum%s", s->no_ack ? " dropped" : ", asked again");
        if (!s->no_ack)
            send_raw(s, "-", 1);
        break;
    case RSP_EV_OVERSIZE:
    case RSP_EV_BAD_ENCODING:
        /* Intact on the wire but unusable: a retransmission would not help. */
        slog(s, "gdbstub: %s rejected (%zu bytes)", rsp_event_name(ev), s->parser.raw_len);
        if (!s->no_ack)
            send_raw(s, "+", 1);
        reply_err(s, E_ARGS);
        break;
    case RSP_EV_NACK:
        if (!s->no_ack && s->last_len)
            send_raw(s, s->last, s->last_len);
        break;
    case RSP_EV_INTERRUPT: /* the target is stopped already: a late Ctrl-C */
    case RSP_EV_ACK:
    case RSP_EV_NONE:
        break;
    }
}

struct gdbstub *gdbstub_interrupt_source(int (*poll)(void *ctx), void *ctx)
{
    struct gdbstub *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->fd = -1;
    s->ext_poll = poll;
    s->ext_ctx = ctx;
    return s;
}

void gdbstub_interrupt_source_free(struct gdbstub *source)
{
    free(source);
}

int gdbstub_serve(int fd, const struct gdb_target_ops *ops, void *target)
{
    struct gdbstub *s = calloc(1, sizeof(*s));
    if (!s)
        return GDBSTUB_END_ERROR;
    s->fd = fd;
    s->ops = ops;
    s->t = target;
    s->last_stop.kind = GDB_STOP_SIGNAL;
    s->last_stop.status = 5;
    rsp_parser_init(&s->parser);
    int n = gdb_tdesc_xml(s->tdesc, sizeof(s->tdesc));
    s->tdesc_len = n > 0 ? (size_t)n : 0;

    while (!s->done && !s->hangup && !s->io_error) {
        if (s->packet_pending) {
            s->packet_pending = 0;
            handle_event(s, RSP_EV_PACKET);
            continue;
        }
        if (fill(s, 1) < 0)
            break;
        handle_event(s, rsp_parser_feed(&s->parser, s->in[s->in_pos++]));
    }

    int end = s->done ? s->end : s->io_error ? GDBSTUB_END_ERROR : GDBSTUB_END_DISCONNECT;
    free(s->bps);
    free(s);
    return end;
}
