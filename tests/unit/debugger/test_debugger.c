/*
 * test_debugger.c - the debugger engine (debugger/debugger.h) driven through
 * its gdb_target_ops without gdb: breakpoints stop at their address with no
 * patch visible, the one breakpoint set keeps a hardware breakpoint when the
 * software one at the same address goes, stepping moves one instruction, the
 * guest runs to its exit; on a replay, reverse-stepi retraces a forward trace
 * instruction by instruction and reverse-continue reaches the start of history.
 * Paths come from the environment (CTest sets them).
 */
#include "debugger/debugger.h"
#include "formats/file.h"
#include "formats/symbolize.h"
#include "monitor/monitor.h"
#include "replayer/replayer.h"

#include <CUnit/Basic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TRACE 40

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

static void test_replay_reverse_stepi_retraces_forward_trace(void)
{
    const char *log = getenv("PVRR_TEST_HELLO_LOG");
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    static struct replayer r;
    char err[256];
    CU_ASSERT_EQUAL_FATAL(replayer_open(&r, log, -1, err, sizeof err), 0);
    struct debugger *d = debugger_create(&r.m, &r, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    const struct gdb_target_ops *ops = debugger_ops(d);
    CU_ASSERT_TRUE(ops->reverse_supported);
    /* symbols of the ELF the recording holds, not of today's build */
    struct pvrr_sym *rsym;
    CU_ASSERT_EQUAL_FATAL(pvrr_sym_open(&rsym, r.meta->elf, r.meta->elf_len, err, sizeof err), 0);
    uint64_t main_addr = 0;
    CU_ASSERT_EQUAL_FATAL(pvrr_sym_addr(rsym, "main", &main_addr), 0);
    pvrr_sym_close(rsym);
    CU_ASSERT_EQUAL(ops->set_bp(d, GDB_BP_SW, main_addr, 1, 1), 0);
    struct gdb_stop st = resume(ops, d, GDB_RESUME_CONT);
    CU_ASSERT_EQUAL_FATAL(st.kind, GDB_STOP_SWBREAK);
    /* a forward trace of TRACE instructions (it crosses printf's hypercall) */
    uint64_t trace[TRACE + 1];
    trace[0] = rip_of(ops, d);
    for (int i = 1; i <= TRACE; i++) {
        st = resume(ops, d, GDB_RESUME_STEP);
        CU_ASSERT_EQUAL_FATAL(st.kind, GDB_STOP_STEP);
        trace[i] = rip_of(ops, d);
    }
    for (int i = TRACE - 1; i >= 0; i--) {
        st = resume(ops, d, GDB_RESUME_RSTEP);
        CU_ASSERT_EQUAL(st.kind, GDB_STOP_STEP);
        CU_ASSERT_EQUAL(rip_of(ops, d), trace[i]);
    }
    /* back at main: the breakpoint there was hit once, so reverse-continue
     * runs to the start of the recording */
    CU_ASSERT_EQUAL(ops->set_bp(d, GDB_BP_SW, main_addr, 1, 0), 0);
    st = resume(ops, d, GDB_RESUME_RCONT);
    CU_ASSERT_EQUAL(st.kind, GDB_STOP_HISTORY_BEGIN);
    /* and forward again to the end, with the recorded result */
    st = resume(ops, d, GDB_RESUME_CONT);
    CU_ASSERT_EQUAL(st.kind, GDB_STOP_HISTORY_END);
    debugger_destroy(d);
    CU_ASSERT_EQUAL(replayer_finish(&r), 0);
    replayer_close(&r);
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
    CU_add_test(s, "replay: reverse-stepi retraces a forward trace",
                test_replay_reverse_stepi_retraces_forward_trace);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    pvrr_sym_close(sym);
    free(elf);
    return failed ? 1 : 0;
}
