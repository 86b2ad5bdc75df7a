/*
 * fuzz_dap.c - libFuzzer harness for the DAP server: the framer (frame.c) and
 * whole sessions (dap_serve) against the in-memory fake target of the gdb
 * stub's unit tests (tests/unit/gdbstub/fake_target.c). Built by
 * tests/fuzz/CMakeLists.txt, like gdbstub/fuzz_rsp.c: a libFuzzer binary with
 * -DPVRR_FUZZ=ON under clang, otherwise a plain program that runs the files
 * named on its command line (tests/fuzz/fuzz_main.c).
 *
 * Every input goes through two checks:
 *   1. the framer, one byte at a time: a body is NUL-terminated and exactly
 *      as long as its header said; no state leaks between messages;
 *   2. a session: the input is the client's side of a connection, sent over a
 *      socketpair to dap_serve() in a thread; every byte the server sends
 *      back must be a Content-Length-framed JSON object with an integer seq
 *      and a type, and the session must end when the input does.
 *
 * Session input: byte 0 holds options, the rest is the traffic.
 *   bit 0  the target offers reverse execution
 *   bit 1  raw: the traffic is sent as it is; otherwise it is split at '\n'
 *          and each line is sent as one message with a correct Content-Length
 *          (so that mutations reach the request handlers)
 *   bit 2  the program's DWARF is this harness's own (slow: types, lines and
 *          variables get exercised); otherwise an ELF header without sections
 *
 * Seed corpus: tests/fuzz/corpus/dap_fuzz_session.
 */
#include <elf.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dap/dap.h"
#include "formats/file.h"
#include "tests/unit/gdbstub/fake_target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_dap.c:%d: check failed: %s\n", __LINE__, #cond);                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

enum { OPT_REVERSE = 1 << 0, OPT_RAW = 1 << 1, OPT_OWN_DWARF = 1 << 2 };

/* Bounds that keep one input fast: instructions per continue, resumes per
 * session (a line step is many resumes), monitor output. */
#define FUZZ_RUN_LIMIT 300
#define FUZZ_RESUME_MAX 2000
#define FUZZ_SPAM_MAX 100000

/* ---- 1. the framer ---- */

static void check_framer(const uint8_t *d, size_t n)
{
    static struct dap_framer f;
    dap_framer_init(&f);
    for (size_t i = 0; i < n; i++) {
        enum dap_frame_event ev = dap_framer_feed(&f, d[i]);
        CHECK(f.hlen <= DAP_MAX_HEADER);
        CHECK(f.len <= f.want || f.state != 1);
        if (ev == DAP_FRAME_MESSAGE) {
            CHECK(f.len == f.want);
            CHECK(f.body[f.len] == 0);
        } else if (ev == DAP_FRAME_ERROR) {
            CHECK(f.err[0] != 0);
            CHECK(f.hlen == 0);
        }
    }
    dap_framer_fini(&f);
}

/* ---- 2. a session ---- */

static struct fake_target target;
static struct gdb_target_ops ops, fake_ops;
static long resumes;
static void *own_elf;
static size_t own_elf_len;
static int opts;

static int bounded_resume(void *t, const struct gdb_resume *req, struct gdb_stop *stop)
{
    if (++resumes > FUZZ_RESUME_MAX)
        return -1;
    return fake_ops.resume(t, req, stop);
}

static int bounded_monitor(void *t, const char *cmd, gdb_out_fn out, void *ctx)
{
    if (strncmp(cmd, "spam", 4) == 0 && atol(cmd + 4) > FUZZ_SPAM_MAX)
        return GDB_UNSUPPORTED;
    return fake_ops.monitor(t, cmd, out, ctx);
}

/* A minimal ELF64 x86-64 image: a header and nothing else. */
static Elf64_Ehdr tiny_elf = {
    .e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT},
    .e_type = ET_EXEC,
    .e_machine = EM_X86_64,
    .e_version = EV_CURRENT,
    .e_entry = 0x1000,
    .e_ehsize = sizeof(Elf64_Ehdr),
};

static int launch(void *ctx, const char *program, const char *const *args, size_t nargs,
                  struct dap_program *p, char *err, size_t n)
{
    if (strcmp(program, "fail") == 0) {
        snprintf(err, n, "no such program");
        return -1;
    }
    p->ops = &ops;
    p->target = &target;
    if ((opts & OPT_OWN_DWARF) && own_elf) {
        p->elf = own_elf;
        p->elf_len = own_elf_len;
    } else {
        p->elf = &tiny_elf;
        p->elf_len = sizeof tiny_elf;
    }
    p->console_fd = -1;
    p->description = "the fake target";
    return 0;
}

static void end(void *ctx, struct dap_program *p)
{
}

static const struct dap_launcher launcher = {.launch = launch, .end = end};

struct run {
    int fd;
    int result;
};

static void *serve_main(void *arg)
{
    struct run *r = arg;
    r->result = dap_serve(r->fd, r->fd, &launcher);
    shutdown(r->fd, SHUT_WR); /* the client's side sees EOF */
    return NULL;
}

struct writer {
    int fd;
    const uint8_t *d;
    size_t n;
};

static void *write_main(void *arg)
{
    struct writer *w = arg;
    size_t off = 0;
    while (off < w->n) {
        ssize_t k = send(w->fd, w->d + off, w->n - off, MSG_NOSIGNAL);
        if (k <= 0)
            break; /* the server ended the session (disconnect) */
        off += (size_t)k;
    }
    shutdown(w->fd, SHUT_WR);
    return NULL;
}

/* The client's bytes: each line framed, or the traffic as it is. */
static uint8_t *make_wire(const uint8_t *d, size_t n, size_t *len)
{
    uint8_t *wire = malloc(n * 2 + 64);
    size_t k = 0;
    CHECK(wire != NULL);
    if (opts & OPT_RAW) {
        memcpy(wire, d, n);
        *len = n;
        return wire;
    }
    size_t lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += d[i] == '\n';
    wire = realloc(wire, n + lines * 32 + 64);
    CHECK(wire != NULL);
    for (size_t start = 0; start <= n;) {
        const uint8_t *nl = memchr(d + start, '\n', n - start);
        size_t end = nl ? (size_t)(nl - d) : n;
        k += (size_t)sprintf((char *)wire + k, "Content-Length: %zu\r\n\r\n", end - start);
        memcpy(wire + k, d + start, end - start);
        k += end - start;
        start = end + 1;
    }
    *len = k;
    return wire;
}

/* Check everything the server sent: framed JSON objects with seq and type. */
static void check_output(const uint8_t *out, size_t n)
{
    static struct dap_framer f;
    dap_framer_init(&f);
    for (size_t i = 0; i < n; i++) {
        enum dap_frame_event ev = dap_framer_feed(&f, out[i]);
        CHECK(ev != DAP_FRAME_ERROR);
        if (ev != DAP_FRAME_MESSAGE)
            continue;
        json_object *m = json_tokener_parse(f.body);
        CHECK(m != NULL && json_object_is_type(m, json_type_object));
        json_object *v;
        CHECK(json_object_object_get_ex(m, "seq", &v) && json_object_is_type(v, json_type_int));
        CHECK(json_object_object_get_ex(m, "type", &v) && json_object_is_type(v, json_type_string));
        json_object_put(m);
    }
    CHECK(f.state == 0 && f.hlen == 0); /* nothing cut off */
    dap_framer_fini(&f);
}

static void check_session(const uint8_t *d, size_t n)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fake_target_init(&target);
    target.run_limit = FUZZ_RUN_LIMIT;
    fake_target_ops(&fake_ops, opts & OPT_REVERSE);
    ops = fake_ops;
    ops.resume = bounded_resume;
    ops.monitor = bounded_monitor;
    resumes = 0;

    size_t wlen;
    uint8_t *wire = make_wire(d, n, &wlen);
    struct run r = {.fd = sv[1]};
    struct writer w = {.fd = sv[0], .d = wire, .n = wlen};
    pthread_t server, writer;
    CHECK(pthread_create(&server, NULL, serve_main, &r) == 0);
    CHECK(pthread_create(&writer, NULL, write_main, &w) == 0);
    uint8_t *out = NULL;
    size_t olen = 0, ocap = 0;
    for (;;) {
        if (olen + 65536 > ocap) {
            ocap = ocap ? ocap * 2 : 1 << 20;
            out = realloc(out, ocap);
            CHECK(out != NULL);
        }
        ssize_t k = read(sv[0], out + olen, ocap - olen);
        if (k <= 0)
            break;
        olen += (size_t)k;
    }
    pthread_join(writer, NULL);
    pthread_join(server, NULL);
    CHECK(r.result == DAP_END_DISCONNECT || r.result == DAP_END_HANGUP);
    check_output(out, olen);
    free(out);
    free(wire);
    close(sv[0]);
    close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int loaded;
    if (!loaded) {
        char err[256];
        loaded = 1;
        if (pvrr_read_file("/proc/self/exe", 1u << 30, &own_elf, &own_elf_len, err, sizeof err))
            own_elf = NULL;
    }
    check_framer(data, size);
    if (size < 1)
        return 0;
    opts = data[0];
    check_session(data + 1, size - 1);
    return 0;
}
