/*
 * test_session.c - whole gdb stub sessions over a socketpair against the fake
 * target: the test plays the debugger, sending what gdb 13 and lldb 14 send.
 */
#include <CUnit/Basic.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fake_target.h"
#include "gdbstub/gdbstub.h"
#include "gdbstub/rsp.h"

/* ---- the stub under test, in a thread ---- */

static struct fake_target target;
static struct gdb_target_ops ops;
static pthread_t stub_thread;
static int stub_fd = -1;
static int stub_result;

static void *run_stub(void *arg)
{
    stub_result = gdbstub_serve(stub_fd, &ops, &target);
    return NULL;
}

/* ---- the debugger side ---- */

struct client {
    int fd;
    int no_ack;
    int acks, nacks; /* '+' and '-' received */
    struct rsp_parser p;
    char reply[RSP_PACKET_SIZE + 1];
    size_t reply_len;
};

static struct client cl;

/* Fresh target and ops; configure them, then launch(). */
static void setup(int reverse)
{
    fake_target_init(&target);
    fake_target_ops(&ops, reverse);
}

static void launch(void)
{
    int sv[2];
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    /* Never hang the test run: a missing reply fails after 5 s. */
    struct timeval tv = {.tv_sec = 5};
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    memset(&cl, 0, sizeof(cl));
    cl.fd = sv[0];
    rsp_parser_init(&cl.p);
    stub_fd = sv[1];
    stub_result = -100;
    CU_ASSERT_FATAL(pthread_create(&stub_thread, NULL, run_stub, NULL) == 0);
}

/* Close our end (unless closed already) and return how the session ended. */
static int finish(void)
{
    if (cl.fd >= 0)
        close(cl.fd);
    cl.fd = -1;
    pthread_join(stub_thread, NULL);
    close(stub_fd);
    return stub_result;
}

static void write_all(const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t k = write(cl.fd, p, n);
        CU_ASSERT_FATAL(k > 0);
        p += k;
        n -= (size_t)k;
    }
}

/* Next event from the stub other than NONE; RSP_EV_NONE on timeout or EOF. */
static enum rsp_event next_event(void)
{
    for (;;) {
        uint8_t b;
        if (read(cl.fd, &b, 1) != 1)
            return RSP_EV_NONE;
        enum rsp_event ev = rsp_parser_feed(&cl.p, b);
        if (ev != RSP_EV_NONE)
            return ev;
    }
}

/* Wait for the stub's next packet; acks it in ack mode. Returns NULL on timeout. */
static const char *recv_packet(void)
{
    for (;;) {
        enum rsp_event ev = next_event();
        switch (ev) {
        case RSP_EV_NONE:
            return NULL;
        case RSP_EV_ACK:
            cl.acks++;
            continue;
        case RSP_EV_NACK:
            cl.nacks++;
            continue;
        case RSP_EV_PACKET:
            memcpy(cl.reply, cl.p.buf, cl.p.len + 1);
            cl.reply_len = cl.p.len;
            if (!cl.no_ack)
                write_all("+", 1);
            return cl.reply;
        default:
            CU_FAIL("unexpected event from the stub");
            continue;
        }
    }
}

/* Send a packet whose body is text + binary data (escaped on the wire). */
static void send_bin(const char *text, const void *data, size_t n)
{
    static struct rsp_out o;
    rsp_out_begin(&o);
    rsp_out_str(&o, text);
    CU_ASSERT_EQUAL(rsp_out_bin(&o, data, n), n);
    CU_ASSERT_FATAL(rsp_out_end(&o) > 0);
    write_all(o.buf, o.len);
}

static void send_pkt(const char *body)
{
    send_bin(body, NULL, 0);
}

/* Send a packet and return the reply ("<timeout>" if none came). */
static const char *cmd(const char *body)
{
    send_pkt(body);
    const char *r = recv_packet();
    return r ? r : "<timeout>";
}

static const char *cmdf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *cmdf(const char *fmt, ...)
{
    char body[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    return cmd(body);
}

#define CHECK(body, expected)                                                                      \
    do {                                                                                           \
        const char *c_ = cmd(body);                                                                \
        if (strcmp(c_, expected) != 0)                                                             \
            fprintf(stderr, "\n  %s: got  %.200s\n  want %.200s\n", body, c_, expected);           \
        CU_ASSERT_STRING_EQUAL(c_, expected);                                                      \
    } while (0)

/* The reply must be computed before the expected stop (which reads the target's registers). */
#define CHECK_STOP(body, head)                                                                     \
    do {                                                                                           \
        const char *r_ = cmd(body);                                                                \
        if (strcmp(r_, stop_reply(head)) != 0)                                                     \
            fprintf(stderr, "\n  got  %s\n  want %s\n", r_, stop_reply(head));                     \
        CU_ASSERT_STRING_EQUAL(r_, stop_reply(head));                                              \
    } while (0)
#define CHECK_STOP_RECV(head)                                                                      \
    do {                                                                                           \
        const char *r_ = recv_packet();                                                            \
        CU_ASSERT_STRING_EQUAL(r_ ? r_ : "<timeout>", stop_reply(head));                           \
    } while (0)

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* 16 hex digits of v, little-endian: a 64-bit register as gdb sees it. */
static const char *le64(uint64_t v)
{
    static char buf[4][17];
    static int i;
    char *b = buf[i++ % 4];
    for (int k = 0; k < 8; k++)
        sprintf(b + 2 * k, "%02x", (unsigned)(v >> (8 * k)) & 0xff);
    return b;
}

/* The expected stop reply for the fake target's current rbp/rsp/rip. */
static const char *stop_reply(const char *head)
{
    static char buf[256];
    snprintf(buf, sizeof(buf), "%s06:%s;07:%s;10:%s;thread:1;", head, le64(target.regs.rbp),
             le64(target.regs.rsp), le64(target.regs.rip));
    return buf;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* The start of every gdb 13.1 session (see the notes), in ack mode until
 * QStartNoAckMode. */
static void gdb_handshake(int reverse)
{
    const char *r = cmd("qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;"
                        "vfork-events+;exec-events+;vContSupported+;QThreadEvents+;no-resumed+;"
                        "memory-tagging+;xmlRegisters=i386");
    const char *want = reverse ? "PacketSize=4000;QStartNoAckMode+;qXfer:features:read+;swbreak+;"
                                 "hwbreak+;vContSupported+;ReverseContinue+;ReverseStep+"
                               : "PacketSize=4000;QStartNoAckMode+;qXfer:features:read+;swbreak+;"
                                 "hwbreak+;vContSupported+";
    CU_ASSERT_STRING_EQUAL(r, want);
    CHECK("vMustReplyEmpty", "");
    CHECK("QStartNoAckMode", "OK");
    CU_ASSERT(cl.acks >= 3); /* every packet so far was acked */
    cl.no_ack = 1;
    CHECK("Hg0", "OK");
    r = cmd("qXfer:features:read:target.xml:0,1000");
    CU_ASSERT(starts_with(r, "l<?xml") || starts_with(r, "m<?xml"));
    CHECK("qTStatus", "");
    CHECK_STOP("?", "T05");
    CHECK("qfThreadInfo", "m1");
    CHECK("qsThreadInfo", "l");
    CHECK("qAttached", "1");
    CHECK("Hc-1", "OK");
    CHECK("qOffsets", "");
    r = cmd("g");
    CU_ASSERT_EQUAL(strlen(r), 2 * GDB_REGS_G_BYTES);
    CHECK("qSymbol::", "OK");
    CHECK("qC", "QC1");
}

/* ---- tests ---- */

static void test_handshake_and_detach(void)
{
    setup(0);
    launch();
    gdb_handshake(0);
    int acks = cl.acks;
    CHECK("D", "OK");
    CU_ASSERT_EQUAL(cl.acks, acks); /* no-ack mode: no '+' any more */
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_DETACH);
    CU_ASSERT_EQUAL(target.detached, 1);
    CU_ASSERT_EQUAL(target.killed, 0);
}

static void test_registers(void)
{
    setup(0);
    target.regs.rax = 0x1122334455667788ull;
    target.regs.eflags = 0x246;
    target.regs.gs = 0x2b;
    target.regs.st[0][9] = 0x40;
    target.regs.xmm[0][0] = 0xaa;
    target.regs.fs_base = 0x123456;
    launch();
    gdb_handshake(0);

    const char *r = cmd("g");
    CU_ASSERT(starts_with(r, "8877665544332211"));
    CU_ASSERT_EQUAL(strncmp(r + 2 * 128, le64(0x1000), 16), 0); /* rip */
    CU_ASSERT_EQUAL(strncmp(r + 2 * 136, "46020000", 8), 0);    /* eflags, 4 bytes */
    CU_ASSERT_EQUAL(strncmp(r + 2 * 160, "2b000000", 8), 0);    /* gs */
    CHECK("p10", le64(0x1000));
    CHECK("p11", "46020000");
    CHECK("p18", "00000000000000000040");             /* st0, 10 bytes */
    CHECK("p28", "aa000000000000000000000000000000"); /* xmm0 */
    CHECK("p38", "801f0000");                         /* mxcsr */
    CHECK("p39", le64(0x123456));                     /* fs_base */
    CHECK("p3b", "E01");                              /* past the last register */
    CHECK("p", "E01");
    CHECK("pzz", "E01");

    /* P: exact size, number in range. */
    CHECK("P0=efbeadde00000000", "OK");
    CU_ASSERT_EQUAL(target.regs.rax, 0xdeadbeef);
    CHECK("P11=47020000", "OK");
    CU_ASSERT_EQUAL(target.regs.eflags, 0x247);
    CHECK("P11=4702", "E01");
    CHECK("P3b=00", "E01");
    CHECK("P0efbeadde00000000", "E01");

    /* G: the whole file back with one change. */
    char g[2 * GDB_REGS_G_BYTES + 2];
    snprintf(g, sizeof(g), "G%s", cmd("g"));
    memcpy(g + 1 + 2 * 8, "0100000000000000", 16); /* rbx = 1 */
    CHECK(g, "OK");
    CU_ASSERT_EQUAL(target.regs.rbx, 1);
    CU_ASSERT_EQUAL(target.regs.rax, 0xdeadbeef);
    CHECK("G123", "E01"); /* odd */
    CHECK("G12", "E01");  /* splits rax */
    CHECK("Gzz", "E01");

    /* lldb's thread suffix is accepted and ignored. */
    CHECK("p10;thread:1;", le64(0x1000));
    CHECK("p10;thread:0001;", le64(0x1000));
    CHECK("P2=0200000000000000;thread:1;", "OK");
    CU_ASSERT_EQUAL(target.regs.rcx, 2);
    CU_ASSERT_EQUAL(strlen(cmd("g;thread:1;")), 2 * GDB_REGS_G_BYTES);
    CHECK("p10;thread:2;", "E01");
    CHECK("p10;bogus", "E01");

    send_pkt("k"); /* no reply */
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_KILL);
    CU_ASSERT_EQUAL(target.killed, 1);
}

static void test_memory(void)
{
    setup(0);
    for (int i = 0; i < 16; i++)
        target.mem[0x1000 + i] = (uint8_t)(0xa0 + i);
    launch();
    gdb_handshake(0);

    CHECK("m1000,4", "a0a1a2a3");
    CHECK("m1000,1", "a0");
    CHECK("m0,0", "E01");
    CHECK("m1000", "E01");
    CHECK("m1000,", "E01");
    CHECK("mxyz,4", "E01");
    CHECK("m1000,4,", "E01");
    CHECK("m10000,4", "E14");             /* outside guest memory */
    CHECK("mffffffffffffffff,10", "E14"); /* wraps */
    CHECK("m11112222333344445,1", "E01"); /* 17 digits */
    /* A read running off the end returns the readable prefix. */
    CHECK("mfffe,4", "0000");
    /* A huge read is cut to what fits in one packet. */
    const char *r = cmd("m0,100000");
    CU_ASSERT_EQUAL(strlen(r), RSP_PACKET_SIZE);

    CHECK("M2000,3:010203", "OK");
    CU_ASSERT_EQUAL(target.mem[0x2002], 3);
    CHECK("M2000,3:0102", "E01"); /* too short */
    CHECK("M2000,1:0102", "E01"); /* too long */
    CHECK("M2000,1:zz", "E01");
    CHECK("M2000,1", "E01");
    CHECK("M10000,1:00", "E14");
    CHECK("M2000,0:", "OK");

    /* X: binary, with every byte gdb escapes plus NUL and 0x03. */
    static const uint8_t bin[] = {'#', '$', '}', '*', 0, 3, 0xff, 'a'};
    CHECK("X3000,0:", "OK"); /* gdb's probe */
    send_bin("X3000,8:", bin, sizeof(bin));
    CU_ASSERT_STRING_EQUAL(recv_packet(), "OK");
    CU_ASSERT_EQUAL(memcmp(target.mem + 0x3000, bin, sizeof(bin)), 0);
    CHECK("m3000,8", "23247d2a0003ff61");
    send_bin("X3000,9:", bin, sizeof(bin)); /* length mismatch */
    CU_ASSERT_STRING_EQUAL(recv_packet(), "E01");
    CHECK("X3000,1", "E01");
    /* lldb's binary read is declined so it uses m. */
    CHECK("x1000,4", "");

    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_DISCONNECT);
}

static void test_run_control(void)
{
    setup(0);
    launch();
    gdb_handshake(0);
    CHECK("vCont?", "vCont;c;C;s;S;r");
    CHECK("bs", ""); /* no reverse execution advertised: not supported */
    CHECK("bc", "");

    CHECK_STOP("s", "T05");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1001);
    CHECK_STOP("vCont;s:1", "T05");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1002);
    CHECK_STOP("vCont;s:1;c", "T05");
    CHECK_STOP("S05", "T05");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1004);
    CHECK_STOP("s1010", "T05"); /* resume at an address */
    CU_ASSERT_EQUAL(target.regs.rip, 0x1011);

    /* Software and hardware breakpoints. */
    CHECK("Z0,1020,1", "OK");
    CHECK_STOP("c", "T05swbreak:;");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1020);
    CHECK("z0,1020,1", "OK");
    CHECK("Z1,1030,1", "OK");
    CHECK_STOP("vCont;c:1", "T05hwbreak:;");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1030);
    CHECK("z1,1030,1", "OK");
    CHECK("Z9,1030,1", "");      /* unknown type: not supported */
    CHECK("Z0,1030", "E01");     /* malformed */
    CHECK("Z0,1030,1;X", "E01"); /* conditions were not advertised */
    /* The fake has four debug registers. */
    CHECK("Z1,2000,1", "OK");
    CHECK("Z1,2001,1", "OK");
    CHECK("Z1,2002,1", "OK");
    CHECK("Z1,2003,1", "OK");
    CHECK("Z1,2004,1", "E05");
    for (int i = 0; i < 4; i++)
        CU_ASSERT_STRING_EQUAL(cmdf("z1,%x,1", 0x2000 + i), "OK");

    /* Watchpoints: the store at 0x1040 writes al to [rbx]. */
    target.mem[0x1040] = FAKE_OP_STORE;
    target.mem[0x1041] = FAKE_OP_LOAD;
    CHECK("P1=0050000000000000", "OK"); /* rbx = 0x5000 */
    CHECK("Z2,5000,1", "OK");
    CHECK_STOP("c", "T05watch:5000;");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1041);
    CHECK("z2,5000,1", "OK");
    CHECK("Z3,5000,1", "OK");
    CHECK_STOP("c", "T05rwatch:5000;");
    CHECK("z3,5000,1", "OK");

    /* Range stepping: stop as soon as rip leaves [0x1050, 0x1058). */
    CHECK("P10=5010000000000000", "OK");
    CHECK_STOP("vCont;r1050,1058:1;c", "T05");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1058);
    CU_ASSERT_EQUAL(target.last_resume_how, GDB_RESUME_STEP); /* emulated with steps */
    /* A breakpoint inside the range stops it early. */
    CHECK("P10=5010000000000000", "OK");
    CHECK("Z0,1053,1", "OK");
    CHECK_STOP("vCont;r1050,1058", "T05swbreak:;");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1053);
    CHECK("z0,1053,1", "OK");

    CHECK("vCont;x", "E01");
    CHECK("vCont;c:2", "E01"); /* no action for our thread */
    CHECK("vCont;r1050:1", "E01");
    CHECK("cxyz", "E01");
    CHECK("C", "E01");
    CHECK("T1", "OK");
    CHECK("T2", "E01");
    CHECK("Hg1", "OK");
    CHECK("Hg2", "E01");
    CHECK("Hx1", "E01");

    /* Exit: the guest's status in a W reply, also for a later '?'. */
    target.mem[0x1060] = FAKE_OP_EXIT;
    CHECK("P0=0700000000000000", "OK");
    CHECK("c", "W07");
    CHECK("?", "W07");
    CHECK("vKill;a410", "OK");
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_KILL);
    CU_ASSERT_EQUAL(target.killed, 1);
}

static void test_native_range_step(void)
{
    setup(0);
    ops.range_step = 1;
    launch();
    gdb_handshake(0);
    CHECK_STOP("vCont;r1000,1005:1;c", "T05");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1005);
    CU_ASSERT_EQUAL(target.last_resume_how, GDB_RESUME_RANGE_STEP);
    CU_ASSERT_EQUAL(target.resumes, 1);
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_DISCONNECT);
}

static void test_reverse(void)
{
    setup(1);
    target.mem[0x1003] = FAKE_OP_STORE;
    target.regs.rbx = 0x5000;
    target.regs.rax = 0x42;
    target.mem[0x5000] = 0x11;
    launch();
    gdb_handshake(1);

    for (int i = 0; i < 6; i++)
        CHECK_STOP("s", "T05");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1006);
    CU_ASSERT_EQUAL(target.mem[0x5000], 0x42);
    CHECK("Hc0", "OK");
    CHECK_STOP("bs", "T05");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1005);
    /* A reverse write watchpoint stops at the store, memory as before it. */
    CHECK("Z2,5000,1", "OK");
    CHECK_STOP("bc", "T05watch:5000;");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1003);
    CU_ASSERT_EQUAL(target.mem[0x5000], 0x11);
    CHECK("z2,5000,1", "OK");
    /* Reverse continue to a breakpoint, then to the start of history. */
    CHECK("Z0,1001,1", "OK");
    CHECK_STOP("bc", "T05swbreak:;");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1001);
    CHECK("z0,1001,1", "OK");
    CHECK_STOP("bc", "T05replaylog:begin;");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1000);
    CHECK_STOP("bs", "T05replaylog:begin;");
    /* Forward to the end of the recording. */
    target.history_end = 3;
    CHECK_STOP("c", "T05replaylog:end;");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1003);
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_DISCONNECT);
}

static int monitor_packets; /* 'O' packets of the last monitor() */

/* Decode the hex text of the 'O' packets until the final reply. */
static const char *monitor(const char *command, char *text, size_t n)
{
    monitor_packets = 0;
    char body[2048] = "qRcmd,";
    for (size_t i = 0; command[i]; i++)
        sprintf(body + strlen(body), "%02x", (unsigned char)command[i]);
    send_pkt(body);
    text[0] = 0;
    for (;;) {
        const char *r = recv_packet();
        if (!r)
            return "<timeout>";
        if (r[0] != 'O' || strcmp(r, "OK") == 0)
            return r;
        monitor_packets++;
        size_t len = strlen(text), k = strlen(r + 1) / 2;
        CU_ASSERT_FATAL(len + k < n);
        CU_ASSERT_EQUAL(rsp_hex_decode(r + 1, text + len, k), 0);
        text[len + k] = 0;
    }
}

static void test_monitor(void)
{
    char text[4096];
    setup(0);
    launch();
    gdb_handshake(0);
    CU_ASSERT_STRING_EQUAL(monitor("help", text, sizeof(text)), "OK");
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "help"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "when"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "print the number of instructions executed"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "echo"));
    CU_ASSERT_STRING_EQUAL(monitor("", text, sizeof(text)), "OK"); /* like help */
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "when"));

    cmd("s");
    CU_ASSERT_STRING_EQUAL(monitor("  when \n", text, sizeof(text)), "OK");
    CU_ASSERT_STRING_EQUAL(text, "instructions: 1\n");
    CU_ASSERT_STRING_EQUAL(monitor("bogus arg", text, sizeof(text)), "E01");
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "unknown monitor command 'bogus'"));
    CU_ASSERT_STRING_EQUAL(monitor("fail", text, sizeof(text)), "E05");
    CU_ASSERT_STRING_EQUAL(text, "it failed\n");
    CU_ASSERT_STRING_EQUAL(monitor("when extra", text, sizeof(text)), "E01");
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "usage: when"));
    /* Long output is split over several 'O' packets. */
    char big[300];
    memset(big, 'x', sizeof(big));
    memcpy(big, "echo ", 5);
    big[sizeof(big) - 1] = 0;
    CU_ASSERT_STRING_EQUAL(monitor(big, text, sizeof(text)), "OK");
    CU_ASSERT_EQUAL(strlen(text), strlen(big) - 4 + 1);
    static char huge[40000];
    CU_ASSERT_STRING_EQUAL(monitor("spam 20000", huge, sizeof(huge)), "OK");
    CU_ASSERT_EQUAL(strlen(huge), 20001);
    CU_ASSERT(monitor_packets >= 3); /* 20001 bytes of text at most 8191 per packet */

    CHECK("qRcmd,6", "E01"); /* odd hex */
    CHECK("qRcmd,zz", "E01");
    CHECK("qRcmd,00", "E01"); /* NUL inside */
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_DISCONNECT);
}

static void test_interrupt(void)
{
    setup(0);
    target.mem[0x1000] = FAKE_OP_SPIN;
    launch();
    gdb_handshake(0);
    send_pkt("vCont;c:1");
    sleep_ms(50);
    CU_ASSERT(target.polls > 0);
    write_all("\x03", 1);
    CHECK_STOP_RECV("T02");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1000);
    /* A late Ctrl-C while stopped is ignored. */
    write_all("\x03", 1);
    CHECK_STOP("?", "T02");
    /* Interrupt right behind the packet, in the same write. */
    write_all("$c#63\x03", 6);
    CHECK_STOP_RECV("T02");
    /* And in ack mode. */
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_DISCONNECT);

    setup(0);
    target.mem[0x1000] = FAKE_OP_SPIN;
    launch();
    send_pkt("c");
    CU_ASSERT_EQUAL(next_event(), RSP_EV_ACK);
    sleep_ms(20);
    write_all("\x03", 1);
    CHECK_STOP_RECV("T02");
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_DISCONNECT);
}

static void test_disconnects(void)
{
    /* Mid-packet. */
    setup(0);
    launch();
    gdb_handshake(0);
    write_all("$m10", 4);
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_DISCONNECT);

    /* Mid-resume: the target is spinning and must be told to stop. */
    setup(0);
    target.mem[0x1000] = FAKE_OP_SPIN;
    launch();
    gdb_handshake(0);
    send_pkt("c");
    sleep_ms(20);
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_DISCONNECT);
    CU_ASSERT_EQUAL(target.detached, 0);

    /* Mid-handshake, before any packet completed. */
    setup(0);
    launch();
    write_all("garbage$qSupp", 13);
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_DISCONNECT);

    /* Half-close: the stub's replies to a dead peer must not kill the process. */
    setup(0);
    launch();
    send_pkt("g");
    shutdown(cl.fd, SHUT_RDWR);
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_DISCONNECT);
}

static void test_refused_writes(void)
{
    setup(1);
    target.readonly = 1;
    launch();
    gdb_handshake(1);
    CHECK("P0=0100000000000000", "E.replaying: registers are read-only");
    CU_ASSERT_PTR_NOT_NULL(strstr(target.log, "register write refused"));
    CU_ASSERT_EQUAL(target.nlogs, 1);
    char g[2 * GDB_REGS_G_BYTES + 2];
    snprintf(g, sizeof(g), "G%s", cmd("g"));
    CHECK(g, "E.replaying: registers are read-only");
    CHECK("M1000,1:00", "E.replaying: memory is read-only");
    CHECK("X1000,1:a", "E.replaying: memory is read-only");
    CHECK("s2000", "E.replaying: registers are read-only");
    CU_ASSERT_EQUAL(target.regs.rip, 0x1000);
    /* lldb asks for error strings: then the text travels as hex. */
    CHECK("QEnableErrorStrings", "OK");
    const char *r = cmd("P0=0100000000000000");
    CU_ASSERT(starts_with(r, "E05;"));
    char text[64] = "";
    CU_ASSERT_EQUAL(rsp_hex_decode(r + 4, text, strlen(r + 4) / 2), 0);
    CU_ASSERT_STRING_EQUAL(text, "replaying: registers are read-only");
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_DISCONNECT);
}

static void test_framing(void)
{
    setup(0);
    launch();
    /* Ack mode: a bad checksum is nacked, then the retransmission works. */
    write_all("$g#00", 5);
    CU_ASSERT_EQUAL(next_event(), RSP_EV_NACK);
    CU_ASSERT_EQUAL(strlen(cmd("g")), 2 * GDB_REGS_G_BYTES);
    /* Our nack makes the stub resend its last packet. */
    send_pkt("qC");
    CU_ASSERT_EQUAL(next_event(), RSP_EV_ACK);
    CU_ASSERT_EQUAL(next_event(), RSP_EV_PACKET);
    CU_ASSERT_STRING_EQUAL((char *)cl.p.buf, "QC1");
    write_all("-", 1);
    CU_ASSERT_EQUAL(next_event(), RSP_EV_PACKET);
    CU_ASSERT_STRING_EQUAL((char *)cl.p.buf, "QC1");
    write_all("+", 1);
    /* Garbage and stray acks between packets are skipped. */
    write_all("junk\r\n++", 8);
    CHECK("qC", "QC1");
    /* One byte per write. */
    {
        static struct rsp_out o;
        rsp_out_begin(&o);
        rsp_out_str(&o, "m1000,2");
        rsp_out_end(&o);
        for (size_t i = 0; i < o.len; i++) {
            write_all(o.buf + i, 1);
            sleep_ms(1);
        }
        CU_ASSERT_STRING_EQUAL(recv_packet(), "0000");
    }
    /* Run-length encoded request: "m10* ,4" is m10000,4, beyond memory. */
    write_all("$m10* ,4#", 9);
    {
        char cs[3];
        unsigned sum = 0;
        for (const char *p = "m10* ,4"; *p; p++)
            sum += (unsigned char)*p;
        snprintf(cs, sizeof(cs), "%02x", sum & 0xff);
        write_all(cs, 2);
    }
    CU_ASSERT_STRING_EQUAL(recv_packet(), "E14");
    /* Oversize: rejected with an error, the session goes on. */
    {
        static char big[RSP_PACKET_SIZE + 100];
        memset(big, 'a', sizeof(big));
        big[0] = '$';
        memcpy(big + sizeof(big) - 3, "#00", 3); /* the checksum is not even looked at */
        write_all(big, sizeof(big));
        CU_ASSERT_EQUAL(next_event(), RSP_EV_ACK);
        CU_ASSERT_STRING_EQUAL(recv_packet(), "E01");
        CU_ASSERT_PTR_NOT_NULL(strstr(target.log, "oversize"));
    }
    CHECK("qC", "QC1");
    /* Unknown packets get the empty reply. */
    CHECK("qWhatever", "");
    CHECK("vFile:setfs:0", "");
    CHECK("", "");

    /* No-ack mode: no '+' for packets, no '-' for bad ones (dropped, logged). */
    CHECK("QStartNoAckMode", "OK");
    cl.no_ack = 1;
    int acks = cl.acks, nacks = cl.nacks;
    write_all("$g#00", 5);
    CHECK("qC", "QC1");
    CU_ASSERT_EQUAL(cl.acks, acks);
    CU_ASSERT_EQUAL(cl.nacks, nacks);
    CU_ASSERT_PTR_NOT_NULL(strstr(target.log, "bad checksum"));
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_DISCONNECT);
}

static void test_lldb(void)
{
    setup(0);
    launch();
    CHECK("QStartNoAckMode", "OK");
    cl.no_ack = 1;
    const char *r = cmd("qSupported:xmlRegisters=i386,arm,mips,arc");
    CU_ASSERT(starts_with(r, "PacketSize=4000;"));
    CHECK("QThreadSuffixSupported", "OK");
    CHECK("QListThreadsInStopReply", "OK");
    r = cmd("qHostInfo");
    /* "x86_64-unknown-unknown" in hex */
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "triple:7838365f36342d756e6b6e6f776e2d756e6b6e6f776e;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "ptrsize:8;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "endian:little;"));
    r = cmd("qProcessInfo");
    CU_ASSERT(starts_with(r, "pid:1;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "ostype:unknown;"));
    CHECK("qRegisterInfo0", "name:rax;bitsize:64;offset:0;encoding:uint;format:hex;"
                            "set:General Purpose Registers;gcc:0;dwarf:0;");
    r = cmd("qRegisterInfo10");
    CU_ASSERT(starts_with(r, "name:rip;bitsize:64;offset:128;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "generic:pc;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(cmd("qRegisterInfo7"), "generic:sp;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(cmd("qRegisterInfo6"), "generic:fp;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(cmd("qRegisterInfo11"), "generic:flags;"));
    CU_ASSERT(starts_with(cmd("qRegisterInfo18"), "name:st0;bitsize:80;offset:164;"));
    CU_ASSERT(starts_with(cmd("qRegisterInfo3a"), "name:gs_base;bitsize:64;offset:544;"));
    CHECK("qRegisterInfo3b", "E45");
    CHECK("qRegisterInfo", "E01");
    /* Stop replies now list the threads. */
    r = cmd("?");
    CU_ASSERT_PTR_NOT_NULL(strstr(r, "thread:1;threads:1;"));
    CU_ASSERT_STRING_EQUAL(cmd("qThreadStopInfo1"), r);
    CHECK("qThreadStopInfo2", "E01");
    CHECK("qStructuredDataPlugins", "");
    CHECK("qShlibInfoAddr", "");
    CHECK("jThreadsInfo", "");
    CHECK("qVAttachOrWaitSupported", "");
    CHECK("qfThreadInfo", "m1");
    CHECK("qC", "QC1");
    CHECK("Hg1", "OK");
    CHECK("p10;thread:0001;", le64(0x1000));
    CU_ASSERT_PTR_NOT_NULL(strstr(cmd("vCont;s:0001"), "threads:1;"));
    CHECK("D1", "E01");
    CHECK("D;1", "OK");
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_DETACH);
}

static void test_xfer_tdesc(void)
{
    static char want[16384], got[16384];
    int n = gdb_tdesc_xml(want, sizeof(want));
    CU_ASSERT_FATAL(n > 0);
    setup(0);
    launch();
    CHECK("QStartNoAckMode", "OK");
    cl.no_ack = 1;
    size_t len = 0;
    int chunks = 0;
    for (;;) {
        const char *r = cmdf("qXfer:features:read:target.xml:%zx,100", len);
        CU_ASSERT_FATAL(r[0] == 'm' || r[0] == 'l');
        size_t k = cl.reply_len - 1;
        CU_ASSERT_FATAL(k <= 0x100 && len + k < sizeof(got));
        memcpy(got + len, r + 1, k);
        len += k;
        chunks++;
        if (r[0] == 'l')
            break;
        CU_ASSERT_FATAL(chunks < 1000);
    }
    CU_ASSERT_EQUAL(len, (size_t)n);
    CU_ASSERT_EQUAL(memcmp(got, want, len), 0);
    CU_ASSERT(chunks > 1);
    CHECK("qXfer:features:read:target.xml:ffff,100", "l");
    CHECK("qXfer:features:read:other.xml:0,100", "E01");
    CHECK("qXfer:features:read:target.xml:0", "E01");
    CHECK("qXfer:auxv:read::0,100", "");
    CU_ASSERT_EQUAL(finish(), GDBSTUB_END_DISCONNECT);
}

static void test_listen_helpers(void)
{
    char err[256];
    CU_ASSERT_EQUAL(gdbstub_listen_tcp("0.0.0.0:0", 0, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "loopback"));
    CU_ASSERT_EQUAL(gdbstub_listen_tcp("127.0.0.1:99999", 0, err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(gdbstub_listen_tcp("127.0.0.1:", 0, err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(gdbstub_listen_tcp("::1:0", 0, err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(gdbstub_listen_tcp("abc", 0, err, sizeof(err)), -1);

    int lfd = gdbstub_listen_tcp("0", 0, err, sizeof(err));
    CU_ASSERT_FATAL(lfd >= 0);
    int port = gdbstub_local_port(lfd);
    CU_ASSERT(port > 0);
    close(lfd);
    lfd = gdbstub_listen_tcp("127.0.0.1:0", 0, err, sizeof(err));
    CU_ASSERT_FATAL(lfd >= 0);
    close(lfd);

    char path[64];
    snprintf(path, sizeof(path), "/tmp/pvrr-gdbstub-test-%d.sock", (int)getpid());
    unlink(path);
    lfd = gdbstub_listen_unix(path, err, sizeof(err));
    CU_ASSERT_FATAL(lfd >= 0);
    int l2 = gdbstub_listen_unix(path, err, sizeof(err)); /* a live listener: refused */
    CU_ASSERT_EQUAL(l2, -1);
    close(lfd);
    lfd = gdbstub_listen_unix(path, err, sizeof(err)); /* stale socket: replaced */
    CU_ASSERT(lfd >= 0);
    close(lfd);
    unlink(path);
    CU_ASSERT_EQUAL(gdbstub_listen_unix("/tmp", err, sizeof(err)), -1); /* not a socket */
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("gdbstub_session", NULL, NULL);
    CU_add_test(s, "handshake and detach", test_handshake_and_detach);
    CU_add_test(s, "registers", test_registers);
    CU_add_test(s, "memory", test_memory);
    CU_add_test(s, "run control", test_run_control);
    CU_add_test(s, "native range step", test_native_range_step);
    CU_add_test(s, "reverse", test_reverse);
    CU_add_test(s, "monitor", test_monitor);
    CU_add_test(s, "interrupt", test_interrupt);
    CU_add_test(s, "disconnects", test_disconnects);
    CU_add_test(s, "refused writes", test_refused_writes);
    CU_add_test(s, "framing", test_framing);
    CU_add_test(s, "lldb", test_lldb);
    CU_add_test(s, "qXfer target.xml", test_xfer_tdesc);
    CU_add_test(s, "listen helpers", test_listen_helpers);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
