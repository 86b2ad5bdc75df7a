/*
 * packets.c - the GDB remote protocol's packet handlers and their dispatch
 * table: queries, registers, memory, breakpoints, resumes, threads, target
 * description, monitor commands (qRcmd), lldb's extensions, ending.
 */
#include "gdbstub/gdbstub_internal.h"
#include "gdbstub/regs_x86_64.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The triple lldb is told (qHostInfo/qProcessInfo): a bare-metal x86-64 guest. */
static const char lldb_triple[] = "x86_64-unknown-unknown";

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
void monitor_out(void *ctx, const char *text, size_t len)
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
    char motion[24];
    snprintf(motion, sizeof motion, "monitor %.*s", (int)(word < 12 ? word : 12), cmd);
    s->in_monitor = 1;
    s->motion = motion;
    s->progress_s = 0;
    clock_gettime(CLOCK_MONOTONIC, &s->run_t0);
    int r = s->ops->monitor(s->t, cmd, monitor_out, s);
    s->in_monitor = 0;
    s->motion = NULL;
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

void gdbstub_dispatch(struct gdbstub *s, const char *body, size_t len)
{
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
