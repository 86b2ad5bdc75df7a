/*
 * test_debugger.c - the debugger engine (debugger/debugger.h) driven through
 * its gdb_target_ops without gdb, on the execution engine PVRR_BACKEND names
 * (CTest runs it once per engine: unit.test_debugger.<engine>).
 *
 * Live run: breakpoints stop at their address with no patch visible, the one
 * breakpoint set keeps a hardware breakpoint when the software one at the same
 * address goes, stepping moves one instruction, the guest runs to its exit.
 * Replay (reverse execution): reverse-stepi at every instruction of a stretch
 * across a hypercall gives back every register of a forward trace and the
 * same memory; goto to events (and, on an engine that counts instructions, to
 * instruction counts) gives the same machine state whether it is reached by
 * running forward or by restoring a checkpoint and re-executing; write
 * watchpoints hit the same writes, with the same values, going forward and
 * going back (writes by instructions and by a hypercall's results). Hiding
 * the guest kernel's frames: a step from code outside the user window runs on
 * into it; `monitor kernel-frames` turns that off and on.
 * Paths come from the environment (CTest sets them).
 */
#include "debugger/debugger.h"
#include "formats/file.h"
#include "formats/symbolize.h"
#include "monitor/monitor.h"
#include "replayer/replayer.h"

#include <CUnit/Basic.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TRACE 40
#define LONG_TRACE 400 /* instructions of the stretch stepped over and back */
#define WATCH_HITS 6

static void *elf;
static size_t elf_len;
static struct pvrr_sym *sym;

static uint64_t sym_addr(const char *name)
{
    uint64_t a = 0;
    CU_ASSERT_EQUAL_FATAL(pvrr_sym_addr(sym, name, &a), 0);
    return a;
}

static uint64_t rip_of(const struct gdb_target_ops *ops, struct debugger *d)
{
    struct gdb_regs g;
    CU_ASSERT_EQUAL(ops->read_regs(d, &g), 0);
    return g.rip;
}

static struct gdb_stop resume(const struct gdb_target_ops *ops, struct debugger *d,
                              enum gdb_resume_kind how)
{
    struct gdb_resume req = {.how = how};
    struct gdb_stop stop;
    CU_ASSERT_EQUAL(ops->resume(d, &req, &stop), 0);
    return stop;
}

/* ---- a replay under the debugger ---- */

struct replay {
    struct replayer r;
    struct debugger *d;
    const struct gdb_target_ops *ops;
    struct pvrr_sym *sym; /* of the ELF the recording holds */
};

static int replay_open(struct replay *x, const char *log)
{
    char err[256];
    memset(x, 0, sizeof *x);
    if (replayer_open(&x->r, log, -1, err, sizeof err) != 0) {
        fprintf(stderr, "replay %s: %s\n", log, err);
        return -1;
    }
    x->d = debugger_create(&x->r.m, &x->r, err, sizeof err);
    if (!x->d || pvrr_sym_open(&x->sym, x->r.meta->elf, x->r.meta->elf_len, err, sizeof err) < 0) {
        fprintf(stderr, "replay %s: %s\n", log, err);
        return -1;
    }
    x->ops = debugger_ops(x->d);
    return 0;
}

static void replay_close(struct replay *x)
{
    debugger_destroy(x->d);
    pvrr_sym_close(x->sym);
    replayer_close(&x->r);
}

static uint64_t rsym(struct replay *x, const char *name)
{
    uint64_t a = 0;
    CU_ASSERT_EQUAL_FATAL(pvrr_sym_addr(x->sym, name, &a), 0);
    return a;
}

struct text {
    char buf[1024];
    size_t n;
};

static void text_out(void *ctx, const char *s, size_t len)
{
    struct text *t = ctx;
    size_t room = sizeof t->buf - 1 - t->n;
    if (len > room)
        len = room;
    memcpy(t->buf + t->n, s, len);
    t->n += len;
    t->buf[t->n] = 0;
}

/* Run monitor command (cmd); its text in (t); its status. */
static int mon(struct replay *x, const char *cmd, struct text *t)
{
    t->n = 0;
    t->buf[0] = 0;
    return x->ops->monitor(x->d, cmd, text_out, t);
}

static uint64_t state_digest(struct replay *x)
{
    struct text t;
    CU_ASSERT_EQUAL(mon(x, "digest", &t), 0);
    uint64_t v = 0;
    CU_ASSERT_EQUAL(sscanf(t.buf, "state digest %" SCNx64, &v), 1);
    return v;
}

/* The event of `monitor when` ("event E ..."). */
static uint64_t when_event(struct replay *x, struct text *t)
{
    CU_ASSERT_EQUAL(mon(x, "when", t), 0);
    uint64_t e = UINT64_MAX;
    CU_ASSERT_EQUAL(sscanf(t->buf, "event %" SCNu64, &e), 1);
    return e;
}

/* 1 if the engine names positions by instruction counts: `monitor when`
 * then says "(instruction N" and *n is N. */
static int when_insn(struct replay *x, uint64_t *n)
{
    struct text t;
    CU_ASSERT_EQUAL(mon(x, "when", &t), 0);
    const char *p = strstr(t.buf, "(instruction ");
    return p && sscanf(p, "(instruction %" SCNu64, n) == 1;
}

static void read_u64(struct replay *x, uint64_t addr, uint64_t len, uint64_t *v)
{
    *v = 0;
    CU_ASSERT_EQUAL(x->ops->read_mem(x->d, addr, v, len), 0);
}

/* ---- tests ---- */

static void test_live_breakpoints_step_exit(void)
{
    struct monitor m;
    char err[256];
    struct monitor_config cfg = {.cmdline = "", .elf_name = "hello.elf"};
    CU_ASSERT_EQUAL_FATAL(monitor_init(&m, &cfg, elf, elf_len, err, sizeof err), 0);
    m.out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    struct debugger *d = debugger_create(&m, NULL, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    const struct gdb_target_ops *ops = debugger_ops(d);
    uint64_t main_addr = sym_addr("main"), printf_addr = sym_addr("printf");
    uint8_t orig, now;
    CU_ASSERT_EQUAL(ops->read_mem(d, main_addr, &orig, 1), 0);

    CU_ASSERT_EQUAL(ops->set_bp(d, GDB_BP_SW, main_addr, 1, 1), 0);
    struct gdb_stop st = resume(ops, d, GDB_RESUME_CONT);
    CU_ASSERT_EQUAL(st.kind, GDB_STOP_SWBREAK);
    CU_ASSERT_EQUAL(rip_of(ops, d), main_addr);
    CU_ASSERT_EQUAL(ops->read_mem(d, main_addr, &now, 1), 0);
    CU_ASSERT_EQUAL(now, orig); /* the engine's patch is never visible */

    /* one set: a hardware and a software breakpoint at printf, the software one removed */
    CU_ASSERT_EQUAL(ops->set_bp(d, GDB_BP_SW, printf_addr, 1, 1), 0);
    CU_ASSERT_EQUAL(ops->set_bp(d, GDB_BP_HW, printf_addr, 1, 1), 0);
    CU_ASSERT_EQUAL(ops->set_bp(d, GDB_BP_SW, printf_addr, 1, 0), 0);
    st = resume(ops, d, GDB_RESUME_STEP); /* off the breakpoint at main */
    CU_ASSERT_EQUAL(st.kind, GDB_STOP_STEP);
    CU_ASSERT_NOT_EQUAL(rip_of(ops, d), main_addr);
    st = resume(ops, d, GDB_RESUME_CONT);
    CU_ASSERT_EQUAL(st.kind, GDB_STOP_HWBREAK);
    CU_ASSERT_EQUAL(rip_of(ops, d), printf_addr);

    CU_ASSERT_EQUAL(ops->set_bp(d, GDB_BP_HW, printf_addr, 1, 0), 0);
    st = resume(ops, d, GDB_RESUME_CONT);
    CU_ASSERT_EQUAL(st.kind, GDB_STOP_EXITED);
    CU_ASSERT_EQUAL(st.status, 0);
    CU_ASSERT_TRUE(debugger_ended(d));
    debugger_destroy(d);
    close(m.out_fd);
    monitor_fini(&m);
}

/* The end of the function that holds (addr), by the symbols. */
static uint64_t func_end(uint64_t addr)
{
    struct pvrr_symloc a, b;
    CU_ASSERT_EQUAL_FATAL(pvrr_sym_lookup(sym, addr, &a), 0);
    uint64_t end = addr;
    while (end < addr + 65536 && pvrr_sym_lookup(sym, end, &b) == 0 && b.func_addr == a.func_addr)
        end++;
    return end;
}

/* Hiding the guest kernel's frames, engine-neutral: with a "user window" of
 * main alone, everything main calls counts as kernel code. A step from inside
 * it runs on to main again (at the return address); `kernel-frames off`
 * shows it; an SDK guest hides nothing by default. */
static void test_live_kernel_frames_hidden(void)
{
    struct monitor m;
    char err[256];
    struct monitor_config cfg = {.cmdline = "", .elf_name = "hello.elf"};
    CU_ASSERT_EQUAL_FATAL(monitor_init(&m, &cfg, elf, elf_len, err, sizeof err), 0);
    m.out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    struct debugger *d = debugger_create(&m, NULL, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    const struct gdb_target_ops *ops = debugger_ops(d);
    struct replay x = {.d = d, .ops = ops};
    struct text t;
    CU_ASSERT_NOT_EQUAL(mon(&x, "kernel-frames on", &t), 0); /* nothing to hide */
    CU_ASSERT_PTR_NOT_NULL(strstr(t.buf, "no kernel frames to hide"));
    CU_ASSERT_EQUAL(mon(&x, "kernel-frames", &t), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(t.buf, "shown"));

    uint64_t lo = sym_addr("main"), hi = func_end(lo);
    CU_ASSERT_FATAL(hi > lo);
    CU_ASSERT_EQUAL(ops->set_bp(d, GDB_BP_SW, lo, 1, 1), 0);
    struct gdb_stop st = resume(ops, d, GDB_RESUME_CONT);
    CU_ASSERT_EQUAL_FATAL(st.kind, GDB_STOP_SWBREAK);
    CU_ASSERT_EQUAL(ops->set_bp(d, GDB_BP_SW, lo, 1, 0), 0);
    /* step (nothing hidden) until main calls out: the callee and its return address */
    uint64_t rip = lo;
    for (int i = 0; i < 1000 && rip >= lo && rip < hi; i++) {
        st = resume(ops, d, GDB_RESUME_STEP);
        CU_ASSERT_EQUAL_FATAL(st.kind, GDB_STOP_STEP);
        rip = rip_of(ops, d);
    }
    CU_ASSERT_FATAL(rip < lo || rip >= hi);
    struct gdb_regs g;
    CU_ASSERT_EQUAL(ops->read_regs(d, &g), 0);
    uint64_t ret = 0;
    CU_ASSERT_EQUAL(ops->read_mem(d, g.rsp, &ret, 8), 0);
    CU_ASSERT_FATAL(ret >= lo && ret < hi);

    /* main is the user window: a step inside the callee ends back in main */
    debugger_set_user_window(d, lo, hi, 0);
    CU_ASSERT_EQUAL(mon(&x, "kernel-frames", &t), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(t.buf, "hidden"));
    st = resume(ops, d, GDB_RESUME_STEP);
    CU_ASSERT_EQUAL(st.kind, GDB_STOP_STEP);
    CU_ASSERT_EQUAL(rip_of(ops, d), ret);

    /* shown again: stepping walks into the next call */
    CU_ASSERT_EQUAL(mon(&x, "kernel-frames off", &t), 0);
    rip = ret;
    for (int i = 0; i < 1000 && rip >= lo && rip < hi; i++) {
        st = resume(ops, d, GDB_RESUME_STEP);
        CU_ASSERT_EQUAL_FATAL(st.kind, GDB_STOP_STEP);
        rip = rip_of(ops, d);
    }
    CU_ASSERT(rip < lo || rip >= hi);
    CU_ASSERT_EQUAL(mon(&x, "kernel-frames bogus", &t), GDB_UNSUPPORTED);
    debugger_destroy(d);
    close(m.out_fd);
    monitor_fini(&m);
}

/* The same on a replay: a step from the call into a hidden callee ends at
 * the return address, and the position stays exact for reverse execution;
 * a reverse-stepi into code that was not entered by `syscall` cannot be
 * hidden: it stays there, one instruction back, with a message. */
static void test_replay_kernel_frames_hidden(void)
{
    const char *log = getenv("PVRR_TEST_HELLO_LOG");
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    static struct replay x;
    CU_ASSERT_EQUAL_FATAL(replay_open(&x, log), 0);
    uint64_t lo = rsym(&x, "main"), hi = func_end(lo);
    CU_ASSERT_EQUAL(x.ops->set_bp(x.d, GDB_BP_SW, lo, 1, 1), 0);
    struct gdb_stop st = resume(x.ops, x.d, GDB_RESUME_CONT);
    CU_ASSERT_EQUAL_FATAL(st.kind, GDB_STOP_SWBREAK);
    CU_ASSERT_EQUAL(x.ops->set_bp(x.d, GDB_BP_SW, lo, 1, 0), 0);
    uint64_t call = lo, rip = lo;
    for (int i = 0; i < 1000 && rip >= lo && rip < hi; i++) {
        call = rip;
        st = resume(x.ops, x.d, GDB_RESUME_STEP);
        CU_ASSERT_EQUAL_FATAL(st.kind, GDB_STOP_STEP);
        rip = rip_of(x.ops, x.d);
    }
    CU_ASSERT_FATAL(rip < lo || rip >= hi);
    struct gdb_regs g;
    CU_ASSERT_EQUAL(x.ops->read_regs(x.d, &g), 0);
    uint64_t ret = 0;
    read_u64(&x, g.rsp, 8, &ret);
    CU_ASSERT_FATAL(ret > call && ret < hi);
    st = resume(x.ops, x.d, GDB_RESUME_RSTEP);
    CU_ASSERT_EQUAL_FATAL(rip_of(x.ops, x.d), call);

    debugger_set_user_window(x.d, lo, hi, 0);
    st = resume(x.ops, x.d, GDB_RESUME_STEP); /* over the whole call */
    CU_ASSERT_EQUAL(st.kind, GDB_STOP_STEP);
    CU_ASSERT_EQUAL_FATAL(rip_of(x.ops, x.d), ret);
    uint64_t digest = state_digest(&x);
    /* back: the callee's last instruction, not a `syscall`'s way in */
    st = resume(x.ops, x.d, GDB_RESUME_RSTEP);
    CU_ASSERT_EQUAL(st.kind, GDB_STOP_STEP);
    rip = rip_of(x.ops, x.d);
    CU_ASSERT(rip < lo || rip >= hi);
    /* an exact position: one step forward (shown) is the return address again */
    struct text t;
    CU_ASSERT_EQUAL(mon(&x, "kernel-frames off", &t), 0);
    st = resume(x.ops, x.d, GDB_RESUME_STEP);
    CU_ASSERT_EQUAL(st.kind, GDB_STOP_STEP);
    CU_ASSERT_EQUAL(rip_of(x.ops, x.d), ret);
    CU_ASSERT_EQUAL(state_digest(&x), digest);
    st = resume(x.ops, x.d, GDB_RESUME_CONT);
    CU_ASSERT_EQUAL(st.kind, GDB_STOP_HISTORY_END);
    CU_ASSERT_EQUAL(replayer_finish(&x.r), 0);
    replay_close(&x);
}

static void test_replay_reverse_stepi_retraces_forward_trace(void)
{
    const char *log = getenv("PVRR_TEST_HELLO_LOG");
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    static struct replay x;
    CU_ASSERT_EQUAL_FATAL(replay_open(&x, log), 0);
    CU_ASSERT_TRUE(x.ops->reverse_supported);
    uint64_t main_addr = rsym(&x, "main");
    CU_ASSERT_EQUAL(x.ops->set_bp(x.d, GDB_BP_SW, main_addr, 1, 1), 0);
    struct gdb_stop st = resume(x.ops, x.d, GDB_RESUME_CONT);
    CU_ASSERT_EQUAL_FATAL(st.kind, GDB_STOP_SWBREAK);
    /* a forward trace of TRACE instructions (all before printf's hypercall:
     * the next test steps across one) */
    uint64_t trace[TRACE + 1];
    trace[0] = rip_of(x.ops, x.d);
    for (int i = 1; i <= TRACE; i++) {
        st = resume(x.ops, x.d, GDB_RESUME_STEP);
        CU_ASSERT_EQUAL_FATAL(st.kind, GDB_STOP_STEP);
        trace[i] = rip_of(x.ops, x.d);
    }
    for (int i = TRACE - 1; i >= 0; i--) {
        st = resume(x.ops, x.d, GDB_RESUME_RSTEP);
        CU_ASSERT_EQUAL(st.kind, GDB_STOP_STEP);
        CU_ASSERT_EQUAL(rip_of(x.ops, x.d), trace[i]);
    }
    /* back at main: the breakpoint there was hit once, so reverse-continue
     * runs to the start of the recording */
    CU_ASSERT_EQUAL(x.ops->set_bp(x.d, GDB_BP_SW, main_addr, 1, 0), 0);
    st = resume(x.ops, x.d, GDB_RESUME_RCONT);
    CU_ASSERT_EQUAL(st.kind, GDB_STOP_HISTORY_BEGIN);
    /* and forward again to the end, with the recorded result */
    st = resume(x.ops, x.d, GDB_RESUME_CONT);
    CU_ASSERT_EQUAL(st.kind, GDB_STOP_HISTORY_END);
    CU_ASSERT_EQUAL(replayer_finish(&x.r), 0);
    replay_close(&x);
}

/* Every register at every instruction of a LONG_TRACE-instruction stretch
 * that crosses the random hypercall, forward then backward; memory too. */
static void test_reverse_stepi_every_instruction_of_a_stretch(void)
{
    const char *log = getenv("PVRR_TEST_KV_LOG");
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    static struct replay x;
    CU_ASSERT_EQUAL_FATAL(replay_open(&x, log), 0);
    uint64_t bp = rsym(&x, "pvrr_random");
    CU_ASSERT_EQUAL(x.ops->set_bp(x.d, GDB_BP_SW, bp, 1, 1), 0);
    struct gdb_stop st = resume(x.ops, x.d, GDB_RESUME_CONT);
    CU_ASSERT_EQUAL_FATAL(st.kind, GDB_STOP_SWBREAK);
    st = resume(x.ops, x.d, GDB_RESUME_CONT); /* the second refill: not at boot */
    CU_ASSERT_EQUAL_FATAL(st.kind, GDB_STOP_SWBREAK);
    CU_ASSERT_EQUAL(x.ops->set_bp(x.d, GDB_BP_SW, bp, 1, 0), 0);
    struct text t;
    uint64_t e0 = when_event(&x, &t);
    uint64_t digest0 = state_digest(&x);
    static struct gdb_regs regs[LONG_TRACE + 1];
    CU_ASSERT_EQUAL(x.ops->read_regs(x.d, &regs[0]), 0);
    for (int i = 1; i <= LONG_TRACE; i++) {
        st = resume(x.ops, x.d, GDB_RESUME_STEP);
        CU_ASSERT_EQUAL_FATAL(st.kind, GDB_STOP_STEP);
        CU_ASSERT_EQUAL(x.ops->read_regs(x.d, &regs[i]), 0);
    }
    uint64_t e1 = when_event(&x, &t);
    CU_ASSERT(e1 > e0); /* the stretch crossed the hypercall */
    uint64_t digest1 = state_digest(&x);
    int bad = 0;
    for (int i = LONG_TRACE - 1; i >= 0; i--) {
        st = resume(x.ops, x.d, GDB_RESUME_RSTEP);
        CU_ASSERT_EQUAL(st.kind, GDB_STOP_STEP);
        struct gdb_regs g;
        CU_ASSERT_EQUAL(x.ops->read_regs(x.d, &g), 0);
        if (memcmp(&g, &regs[i], sizeof g) != 0 && bad++ < 5)
            fprintf(stderr, "reverse-stepi to step %d: rip %#" PRIx64 ", forward %#" PRIx64 "\n", i,
                    g.rip, regs[i].rip);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(when_event(&x, &t), e0);
    CU_ASSERT_EQUAL(state_digest(&x), digest0);
    /* and forward over it again: the same end */
    for (int i = 1; i <= LONG_TRACE; i++)
        resume(x.ops, x.d, GDB_RESUME_STEP);
    struct gdb_regs g;
    CU_ASSERT_EQUAL(x.ops->read_regs(x.d, &g), 0);
    CU_ASSERT_EQUAL(memcmp(&g, &regs[LONG_TRACE], sizeof g), 0);
    CU_ASSERT_EQUAL(state_digest(&x), digest1);
    replay_close(&x);
}

/* goto: the same machine state whether reached running forward from boot or
 * by restoring a checkpoint and re-executing; also by instruction count on an
 * engine that counts them (positions inside hypercall-free stretches). */
static void test_goto_restore_equals_reexecution(void)
{
    const char *log = getenv("PVRR_TEST_KV_LOG");
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    static struct replay x;
    CU_ASSERT_EQUAL_FATAL(replay_open(&x, log), 0);
    struct text t;
    struct gdb_stop st = resume(x.ops, x.d, GDB_RESUME_CONT);
    CU_ASSERT_EQUAL_FATAL(st.kind, GDB_STOP_HISTORY_END);
    uint64_t h = when_event(&x, &t);
    CU_ASSERT_FATAL(h >= 8 && h != UINT64_MAX);
    uint64_t end_n = 0;
    int counting = when_insn(&x, &end_n);
    replay_close(&x);

    /* fresh: forward from boot to each event, then back in reverse order */
    CU_ASSERT_EQUAL_FATAL(replay_open(&x, log), 0);
    uint64_t ev[4] = {h / 8, h / 3, h / 2, h - 2};
    uint64_t fwd[4], back[4];
    char whens[4][256];
    for (int i = 0; i < 4; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "goto %" PRIu64, ev[i]);
        CU_ASSERT_EQUAL(mon(&x, cmd, &t), 0);
        fwd[i] = state_digest(&x);
        CU_ASSERT_EQUAL(mon(&x, "when", &t), 0);
        snprintf(whens[i], sizeof whens[i], "%s", t.buf);
        CU_ASSERT_EQUAL(when_event(&x, &t), ev[i]);
    }
    for (int i = 3; i >= 0; i--) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "goto %" PRIu64, ev[i]);
        CU_ASSERT_EQUAL(mon(&x, cmd, &t), 0);
        back[i] = state_digest(&x);
        CU_ASSERT_EQUAL(back[i], fwd[i]);
        CU_ASSERT_EQUAL(mon(&x, "when", &t), 0);
        CU_ASSERT_STRING_EQUAL(t.buf, whens[i]);
    }
    CU_ASSERT_NOT_EQUAL(fwd[0], fwd[3]);
    CU_ASSERT_NOT_EQUAL(mon(&x, "goto 99999999", &t), 0); /* past the end */

    if (counting) {
        /* positions by instruction count, in the middle of intervals */
        uint64_t n[4] = {end_n / 7 + 11, end_n / 3 + 1, end_n / 2 + 5, end_n - 3};
        uint64_t dn[4];
        for (int i = 0; i < 4; i++) {
            char cmd[64];
            snprintf(cmd, sizeof cmd, "goto insn %" PRIu64, n[i]);
            CU_ASSERT_EQUAL(mon(&x, cmd, &t), 0);
            uint64_t got = 0;
            CU_ASSERT_TRUE(when_insn(&x, &got));
            CU_ASSERT_EQUAL(got, n[i]);
            dn[i] = state_digest(&x);
        }
        for (int i = 3; i >= 0; i--) {
            char cmd[64];
            snprintf(cmd, sizeof cmd, "goto insn %" PRIu64, n[i]);
            CU_ASSERT_EQUAL(mon(&x, cmd, &t), 0);
            CU_ASSERT_EQUAL(state_digest(&x), dn[i]);
        }
        /* one instruction later by stepping equals one instruction later by goto */
        struct gdb_stop s2 = resume(x.ops, x.d, GDB_RESUME_STEP);
        CU_ASSERT_EQUAL(s2.kind, GDB_STOP_STEP);
        uint64_t stepped = state_digest(&x);
        char cmd[64];
        snprintf(cmd, sizeof cmd, "goto insn %" PRIu64, n[0] + 1);
        CU_ASSERT_EQUAL(mon(&x, "goto 1", &t), 0);
        CU_ASSERT_EQUAL(mon(&x, cmd, &t), 0);
        CU_ASSERT_EQUAL(state_digest(&x), stepped);
        snprintf(cmd, sizeof cmd, "goto insn %" PRIu64, end_n + 1000);
        CU_ASSERT_NOT_EQUAL(mon(&x, cmd, &t), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(t.buf, "outside the recording"));
    } else {
        /* an engine without counts says so instead of guessing */
        CU_ASSERT_NOT_EQUAL(mon(&x, "goto insn 1000", &t), 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(t.buf, "does not count instructions"));
    }
    replay_close(&x);
}

/* A write watchpoint: the hits forward, then reverse-continue finds the same
 * writes in the opposite order, stopped on the writing instruction with the
 * old value; one stepi from there is the forward hit again. (addr, len): the
 * watched variable. */
static void watch_both_directions(const char *var, uint64_t len, int hits)
{
    const char *log = getenv("PVRR_TEST_KV_LOG");
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    static struct replay x;
    CU_ASSERT_EQUAL_FATAL(replay_open(&x, log), 0);
    uint64_t addr = rsym(&x, var);
    uint64_t val[WATCH_HITS + 1], rip[WATCH_HITS + 1];
    read_u64(&x, addr, len, &val[0]);
    CU_ASSERT_EQUAL_FATAL(x.ops->set_bp(x.d, GDB_WP_WRITE, addr, len, 1), 0);
    for (int j = 1; j <= hits; j++) {
        struct gdb_stop st = resume(x.ops, x.d, GDB_RESUME_CONT);
        CU_ASSERT_EQUAL_FATAL(st.kind, GDB_STOP_WATCH);
        CU_ASSERT_EQUAL(st.addr, addr);
        read_u64(&x, addr, len, &val[j]);
        CU_ASSERT_NOT_EQUAL(val[j], val[j - 1]);
        rip[j] = rip_of(x.ops, x.d);
    }
    for (int j = hits; j >= 1; j--) {
        struct gdb_stop st = resume(x.ops, x.d, GDB_RESUME_RCONT);
        CU_ASSERT_EQUAL_FATAL(st.kind, GDB_STOP_WATCH);
        CU_ASSERT_EQUAL(st.addr, addr);
        uint64_t v;
        read_u64(&x, addr, len, &v);
        CU_ASSERT_EQUAL(v, val[j - 1]); /* before the write */
        uint64_t writer = rip_of(x.ops, x.d);
        st = resume(x.ops, x.d, GDB_RESUME_STEP); /* the write again */
        CU_ASSERT_EQUAL(st.kind, GDB_STOP_WATCH);
        read_u64(&x, addr, len, &v);
        CU_ASSERT_EQUAL(v, val[j]);
        CU_ASSERT_EQUAL(rip_of(x.ops, x.d), rip[j]);
        st = resume(x.ops, x.d, GDB_RESUME_RSTEP); /* and back to the writer */
        CU_ASSERT_EQUAL(rip_of(x.ops, x.d), writer);
        read_u64(&x, addr, len, &v);
        CU_ASSERT_EQUAL(v, val[j - 1]);
    }
    /* before the first write there is none: the start of history */
    struct gdb_stop st = resume(x.ops, x.d, GDB_RESUME_RCONT);
    CU_ASSERT_EQUAL(st.kind, GDB_STOP_HISTORY_BEGIN);
    replay_close(&x);
}

static void test_watchpoint_instruction_writes_both_directions(void)
{
    watch_both_directions("rand_left", 4, WATCH_HITS);
}

static void test_watchpoint_hypercall_writes_both_directions(void)
{
    /* rand_buf[0] is written only by the random hypercall's result */
    watch_both_directions("rand_buf", 8, 3);
}

int main(void)
{
    const char *path = getenv("PVRR_TEST_HELLO");
    char err[256];
    if (!path || pvrr_read_file(path, 64u << 20, &elf, &elf_len, err, sizeof err) < 0 ||
        pvrr_sym_open(&sym, elf, elf_len, err, sizeof err) < 0) {
        fprintf(stderr, "test_debugger: PVRR_TEST_HELLO=%s: %s\n", path ? path : "(unset)",
                path ? err : "set it to guests/hello.elf");
        return 1;
    }
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("debugger", NULL, NULL);
    CU_add_test(s, "live: breakpoints, one set, step, exit", test_live_breakpoints_step_exit);
    CU_add_test(s, "live: the guest kernel's frames hidden and shown",
                test_live_kernel_frames_hidden);
    CU_add_test(s, "replay: the guest kernel's frames hidden", test_replay_kernel_frames_hidden);
    CU_add_test(s, "replay: reverse-stepi retraces a forward trace",
                test_replay_reverse_stepi_retraces_forward_trace);
    CU_add_test(s, "replay: reverse-stepi at every instruction of a stretch across a hypercall",
                test_reverse_stepi_every_instruction_of_a_stretch);
    CU_add_test(s, "replay: goto by restoring a checkpoint equals running forward",
                test_goto_restore_equals_reexecution);
    CU_add_test(s, "replay: write watchpoint hits forward and backward (instructions)",
                test_watchpoint_instruction_writes_both_directions);
    CU_add_test(s, "replay: write watchpoint hits forward and backward (hypercall results)",
                test_watchpoint_hypercall_writes_both_directions);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    pvrr_sym_close(sym);
    free(elf);
    return failed ? 1 : 0;
}
