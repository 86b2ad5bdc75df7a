/*
 * fuzz_rsp.c - libFuzzer harness for the GDB remote protocol: the packet
 * parser and encoder (rsp.h) and whole stub sessions (gdbstub.h) against the
 * in-memory fake target of the unit tests (tests/unit/gdbstub/fake_target.c).
 * Built by tests/fuzz/CMakeLists.txt: with -DPVRR_FUZZ=ON under clang as a
 * libFuzzer binary, otherwise as a plain program that runs the files named on
 * its command line (tests/fuzz/fuzz_main.c).
 *
 * Every input goes through three checks:
 *   1. the parser, one byte at a time: its state stays bounded (len never
 *      exceeds RSP_PACKET_SIZE, a packet body is NUL-terminated, an error
 *      event leaves it idle);
 *   2. the encoder: the input as a binary, hex and text packet body parses
 *      back to the same bytes, and what does not fit sets overflow;
 *   3. a session: the input is the debugger's side of a connection, sent over
 *      a socketpair to gdbstub_serve() running in a thread; every byte the
 *      stub sends back must be an ack or a packet with a valid checksum, and
 *      the session must end when the input does.
 *
 * Session input: byte 0 holds options, the rest is the traffic.
 *   bit 0  the target offers reverse execution (bs, bc)
 *   bit 1  the target refuses register and memory writes, like a replay
 *   bit 2  raw: the traffic is sent as it is (garbage, bad checksums, acks,
 *          0x03 interrupts, run-length and escapes all reach the parser);
 *          otherwise it is split at '\n' and each line is sent as one packet
 *          "$line#xx" with a correct checksum, except the lines "+", "-" and
 *          "\x03", which are sent bare. Framing lets mutations reach the
 *          packet handlers instead of dying at the checksum.
 *   bit 3  the target implements range stepping itself
 *
 * Seed corpus: tests/fuzz/corpus/gdbstub_fuzz_rsp (gdb 13 and lldb sessions).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gdbstub/gdbstub.h"
#include "gdbstub/rsp.h"
#include "tests/unit/gdbstub/fake_target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a crash, so that libFuzzer keeps the input. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_rsp.c:%d: check failed: %s\n", __LINE__, #cond);                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

enum {
    OPT_REVERSE = 1 << 0,
    OPT_READONLY = 1 << 1,
    OPT_RAW = 1 << 2,
    OPT_RANGE_STEP = 1 << 3,
};

/*
 * A continue on the fake target runs this many instructions at most (its
 * default, 2 million, each with a poll() for interrupts, would make every
 * 'c' take seconds).
 */
#define FUZZ_RUN_LIMIT 300

/*
 * Resume calls allowed per session; later ones fail (an error reply). The
 * stub emulates range stepping with one resume per instruction, and a range
 * step over the fake target's spin loop never leaves the range: it ends only
 * by an interrupt or a disconnect, which the stub does not notice while a
 * further packet is pending (see docs/security.md). This bound keeps such
 * inputs from hanging the fuzzer.
 */
#ifndef FUZZ_RESUME_MAX
#define FUZZ_RESUME_MAX 1000
#endif

/* Largest monitor "spam N" let through: the fake target prints N bytes. */
#define FUZZ_SPAM_MAX 100000

/* ---- 1. the parser ---- */

static void check_parser(const uint8_t *d, size_t n)
{
    static struct rsp_parser p;

    rsp_parser_init(&p);
    for (size_t i = 0; i < n; i++) {
        enum rsp_event ev = rsp_parser_feed(&p, d[i]);

        CHECK(p.len <= RSP_PACKET_SIZE);
        CHECK(p.state <= RSP_ST_CSUM2);
        CHECK(rsp_event_name(ev) != NULL);
        switch (ev) {
        case RSP_EV_PACKET:
            CHECK(p.buf[p.len] == 0);
            CHECK(p.state == RSP_ST_IDLE);
            break;
        case RSP_EV_BAD_CHECKSUM:
        case RSP_EV_OVERSIZE:
        case RSP_EV_BAD_ENCODING:
            CHECK(p.state == RSP_ST_IDLE && p.len == 0);
            break;
        default:
            break;
        }
    }
}

/* ---- 2. the encoder ---- */

/* Parse the finished packet in o; it must be exactly one packet with body (d, n). */
static void check_parses_back(const struct rsp_out *o, const uint8_t *d, size_t n)
{
    static struct rsp_parser p;
    int packets = 0;

    rsp_parser_init(&p);
    for (size_t i = 0; i < o->len; i++) {
        enum rsp_event ev = rsp_parser_feed(&p, (uint8_t)o->buf[i]);

        if (ev == RSP_EV_PACKET) {
            packets++;
            CHECK(p.len == n);
            CHECK(n == 0 || memcmp(p.buf, d, n) == 0);
        } else {
            CHECK(ev == RSP_EV_NONE);
        }
    }
    CHECK(packets == 1);
}

static void check_encoder(const uint8_t *d, size_t n)
{
    static struct rsp_out o;
    static uint8_t decoded[RSP_PACKET_SIZE / 2];
    size_t fit, put, hn;
    int len;

    /* Binary: as many bytes as fit, escaped. */
    rsp_out_begin(&o);
    fit = rsp_bin_fit(d, n, rsp_out_room(&o));
    put = rsp_out_bin(&o, d, n);
    CHECK(put == fit);
    CHECK(o.len - 1 <= RSP_PACKET_SIZE);
    len = rsp_out_end(&o);
    CHECK(len > 0 && (size_t)len == o.len && o.len < sizeof(o.buf));
    CHECK(o.buf[o.len] == 0);
    check_parses_back(&o, d, put);

    /* Hex: all or nothing. */
    rsp_out_begin(&o);
    hn = n < sizeof(decoded) ? n : sizeof(decoded);
    CHECK(rsp_out_hex(&o, d, hn) == 0);
    CHECK(rsp_hex_decode(o.buf + 1, decoded, hn) == 0);
    CHECK(hn == 0 || memcmp(decoded, d, hn) == 0);
    if (n > hn) {
        CHECK(rsp_out_hex(&o, d + hn, n - hn) < 0 && o.overflow);
        CHECK(rsp_out_end(&o) < 0);
    } else {
        CHECK(rsp_out_end(&o) > 0);
    }

    /* Text: escaped like binary, but all or nothing. */
    rsp_out_begin(&o);
    if (rsp_out_text(&o, (const char *)d, n) == 0) {
        CHECK(rsp_out_end(&o) > 0);
        check_parses_back(&o, d, n);
    } else {
        CHECK(o.overflow && o.len == 1);
        CHECK(rsp_bin_fit(d, n, RSP_PACKET_SIZE) < n);
        CHECK(rsp_out_end(&o) < 0);
    }
}

/* ---- 3. a session ---- */

static struct fake_target target;
static struct gdb_target_ops ops, fake_ops;

static long resumes;

/* The fake target's resume, bounded per session (FUZZ_RESUME_MAX). */
static int bounded_resume(void *t, const struct gdb_resume *req, struct gdb_stop *stop)
{
    if (++resumes > FUZZ_RESUME_MAX)
        return -1;
    return fake_ops.resume(t, req, stop);
}

/* The fake target's monitor, with its output bounded. */
static int bounded_monitor(void *t, const char *cmd, gdb_out_fn out, void *ctx)
{
    if (strncmp(cmd, "spam", 4) == 0 && atol(cmd + 4) > FUZZ_SPAM_MAX)
        return GDB_UNSUPPORTED;
    return fake_ops.monitor(t, cmd, out, ctx);
}

struct stub_run {
    int fd;
    int result;
};

static void *stub_main(void *arg)
{
    struct stub_run *r = arg;

    r->result = gdbstub_serve(r->fd, &ops, &target);
    close(r->fd); /* the debugger's side sees EOF */
    return NULL;
}

/* Append (p, n) to the growing buffer (*buf, *len, *cap). */
static void put(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n)
{
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *len + n)
            c *= 2;
        *buf = realloc(*buf, c);
        CHECK(*buf != NULL);
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
}

/* The bytes the debugger sends: framed lines, or the traffic as it is. */
static uint8_t *make_wire(int opts, const uint8_t *d, size_t n, size_t *wire_len)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t *wire = NULL;
    size_t len = 0, cap = 0;

    if (opts & OPT_RAW) {
        put(&wire, &len, &cap, d, n);
    } else {
        size_t start = 0;
        while (start < n) {
            const uint8_t *nl = memchr(d + start, '\n', n - start);
            size_t end = nl ? (size_t)(nl - d) : n;
            size_t ln = end - start;
            const uint8_t *line = d + start;

            if (ln == 1 && (line[0] == '+' || line[0] == '-' || line[0] == RSP_INTERRUPT)) {
                put(&wire, &len, &cap, line, 1);
            } else {
                uint8_t sum = 0;
                char tail[3];
                for (size_t i = 0; i < ln; i++)
                    sum += line[i];
                tail[0] = '#';
                tail[1] = hex[sum >> 4];
                tail[2] = hex[sum & 0xf];
                put(&wire, &len, &cap, "$", 1);
                put(&wire, &len, &cap, line, ln);
                put(&wire, &len, &cap, tail, 3);
            }
            start = end + 1;
        }
    }
    *wire_len = len;
    return wire;
}

static void run_session(int opts, const uint8_t *d, size_t n)
{
    static struct rsp_parser p;
    struct stub_run run;
    pthread_t th;
    int sv[2];
    size_t wire_len, sent = 0;
    uint8_t *wire = make_wire(opts, d, n, &wire_len);
    int writing = 1;

    fake_target_init(&target);
    target.run_limit = FUZZ_RUN_LIMIT;
    target.readonly = (opts & OPT_READONLY) != 0;
    /* A few instructions that do something: two no-ops, a store and a load
     * through rbx, then no-ops up to a spin loop. */
    target.mem[0x1002] = FAKE_OP_STORE;
    target.mem[0x1003] = FAKE_OP_LOAD;
    target.mem[0x1400] = FAKE_OP_SPIN;
    target.regs.rbx = 0x2000;
    target.regs.rax = 0x41;
    fake_target_ops(&fake_ops, (opts & OPT_REVERSE) != 0);
    ops = fake_ops;
    ops.monitor = bounded_monitor;
    ops.resume = bounded_resume;
    resumes = 0;
    ops.range_step = (opts & OPT_RANGE_STEP) != 0;

    /* Only our side is non-blocking: the stub is served a blocking socket,
     * as pvrr's accept() gives it. */
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0);
    run.fd = sv[1];
    run.result = -100;
    CHECK(pthread_create(&th, NULL, stub_main, &run) == 0);

    /* Write the traffic and read the replies at the same time: either side
     * may fill the socket buffer. EOF from the stub ends the loop. */
    rsp_parser_init(&p);
    if (wire_len == 0) {
        shutdown(sv[0], SHUT_WR);
        writing = 0;
    }
    for (;;) {
        struct pollfd pfd = {.fd = sv[0], .events = POLLIN | (writing ? POLLOUT : 0)};
        uint8_t buf[4096];
        ssize_t k;

        if (poll(&pfd, 1, -1) < 0) {
            CHECK(errno == EINTR);
            continue;
        }
        if (writing && (pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
            k = send(sv[0], wire + sent, wire_len - sent, MSG_NOSIGNAL);
            if (k > 0)
                sent += (size_t)k;
            if ((k < 0 && errno != EAGAIN && errno != EINTR) || sent == wire_len) {
                shutdown(sv[0], SHUT_WR); /* the stub reads EOF after the traffic */
                writing = 0;
            }
        }
        k = read(sv[0], buf, sizeof(buf));
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR))
            break;
        for (ssize_t i = 0; i < k; i++) {
            enum rsp_event ev = rsp_parser_feed(&p, buf[i]);
            /* The stub sends acks, nacks and well-formed packets, nothing else. */
            CHECK(ev == RSP_EV_NONE || ev == RSP_EV_ACK || ev == RSP_EV_NACK ||
                  ev == RSP_EV_PACKET);
        }
    }
    CHECK(p.state == RSP_ST_IDLE); /* no packet cut short */
    pthread_join(th, NULL);
    close(sv[0]);
    free(wire);
    CHECK(run.result == GDBSTUB_END_DISCONNECT || run.result == GDBSTUB_END_DETACH ||
          run.result == GDBSTUB_END_KILL);
    CHECK(run.result != GDBSTUB_END_DETACH || target.detached);
    CHECK(run.result != GDBSTUB_END_KILL || target.killed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    check_parser(data + 1, size - 1);
    check_encoder(data + 1, size - 1);
    run_session(data[0], data + 1, size - 1);
    return 0;
}
