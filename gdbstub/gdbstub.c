/*
 * gdbstub.c - the GDB remote protocol session: I/O, replies, stop replies, resuming,
 * the session loop; the packet handlers are in packets.c.
 * See gdbstub.h for the contract and rsp.h for framing.
 */
#include "gdbstub/gdbstub_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- messages ---- */

void slog(struct gdbstub *s, const char *fmt, ...)
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
int send_packet(struct gdbstub *s, struct rsp_out *o)
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

int reply_str(struct gdbstub *s, const char *text)
{
    rsp_out_begin(&s->out);
    rsp_out_str(&s->out, text);
    return send_packet(s, &s->out);
}

int reply_empty(struct gdbstub *s)
{
    return reply_str(s, "");
}

int reply_ok(struct gdbstub *s)
{
    return reply_str(s, "OK");
}

int reply_err(struct gdbstub *s, int code)
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
int reply_refused(struct gdbstub *s, const char *what, const char *why)
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
int parse_hex(const char **p, const char *end, uint64_t *v)
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

int expect(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return -1;
    (*p)++;
    return 0;
}

/* A thread id: hex, or -1 (all threads). Returns 0 and sets *tid (-1 for all). */
int parse_tid(const char **p, const char *end, int64_t *tid)
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
int tid_ok(int64_t tid)
{
    return tid == 0 || tid == -1 || tid == THREAD_ID;
}

/*
 * lldb, after QThreadSuffixSupported, appends ";thread:<hex>;" to g, G, p
 * and P. Accept it (any id of ours) and move *end before it. Returns 0, or
 * -1 if there is a ';' that does not start a valid suffix.
 */
int strip_thread_suffix(const char *a, const char **end)
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

int send_stop(struct gdbstub *s, const struct gdb_stop *st)
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
int track_bp(struct gdbstub *s, int type, uint64_t addr, int insert)
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
int resume_and_report(struct gdbstub *s, enum gdb_resume_kind how, uint64_t start, uint64_t end)
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
    if ((!s->running && !s->in_monitor) || !s->motion)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long el = (long)(now.tv_sec - s->run_t0.tv_sec) - (now.tv_nsec < s->run_t0.tv_nsec);
    if (el < 2 || (s->progress_s && el < s->progress_s + 5))
        return;
    s->progress_s = el;
    char text[128];
    int n = s->in_monitor
                ? snprintf(text, sizeof text, "pvrr: %s still running (%ld s)\n", s->motion, el)
                : snprintf(text, sizeof text,
                           "pvrr: %s still searching the history (%ld s; ^C stops it)\n", s->motion,
                           el);
    rsp_out_begin(&s->aux);
    rsp_out_str(&s->aux, "O");
    rsp_out_hex(&s->aux, text, (size_t)n);
    send_packet(s, &s->aux);
}

struct gdbstub *gdbstub_monitor_session(gdb_out_fn out, void *ctx)
{
    return out == monitor_out ? ctx : NULL;
}

int gdbstub_poll_interrupt(struct gdbstub *s)
{
    if (s->ext_poll)
        return s->ext_poll(s->ext_ctx);
    if (s->in_monitor) { /* gdb waits for the command's reply: nothing to interrupt */
        report_progress(s);
        return 0;
    }
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
int set_pc(struct gdbstub *s, uint64_t pc)
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

static void dispatch(struct gdbstub *s)
{
    if (!s->no_ack)
        send_raw(s, "+", 1);
    gdbstub_dispatch(s, (const char *)s->parser.buf, s->parser.len);
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
