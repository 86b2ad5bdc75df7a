/*
 * test_engine.c - the contract of engine/engine.h, checked on the engine
 * named on the command line (test_engine kvm, test_engine emu): boot state,
 * breakpoints (every arrival reported, patches never visible), single-step,
 * write and read watchpoints (access completed, rip after it), a hypercall
 * (canonical rip after the out), hlt as a fault, CPU save/restore, written
 * pages, single-steps of one instruction after hypercalls and register
 * writes, and the engine-neutral CPUID table and engine selection; then on
 * the emulator, popcnt, EFER.SCE by wrmsr/rdmsr and syscall (engine/emu
 * executes these itself: Unicorn 2.0.1 cannot).
 */
#include "engine/engine.h"

#include "pvrr_abi.h"

#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEM (8ull << 20)
#define CODE 0x200000ull
#define DATA 0x300000ull

static const char *engine_name;

/* The guest: nop; nop; mov $0x12345678,%eax; mov %eax,DATA; mov DATA,%ebx;
 * mov $PVRR_HC_PORT_BASE+7,%dx; out %eax,(%dx); hlt */
static const uint8_t code[] = {
    0x90,                                     /* CODE+0x00 nop */
    0x90,                                     /* CODE+0x01 nop */
    0xb8, 0x78, 0x56, 0x34, 0x12,             /* CODE+0x02 mov $0x12345678,%eax */
    0x89, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00, /* CODE+0x07 mov %eax,0x300000 */
    0x8b, 0x1c, 0x25, 0x00, 0x00, 0x30, 0x00, /* CODE+0x0e mov 0x300000,%ebx */
    0x66, 0xba, 0x07, 0x05,                   /* CODE+0x15 mov $0x507,%dx */
    0xef,                                     /* CODE+0x19 out %eax,(%dx) */
    0xf4,                                     /* CODE+0x1a hlt */
};

/* At STEPS: out; nop; nop; nop; out; nop; mov %eax,DATA; nop; nop; hlt
 * (single-stepping across hypercalls and a watched write; a step that runs on
 * ends at the hlt). */
#define STEPS (CODE + 0x40)
static const uint8_t steps[] = {0xef, 0x90, 0x90, 0x90, 0xef, 0x90, 0x89, 0x04,
                                0x25, 0x00, 0x00, 0x30, 0x00, 0x90, 0x90, 0xf4};

static struct vm vm;

static uint64_t rip(void)
{
    struct engine_regs r;
    vm_get_regs(&vm, &r);
    return r.rip;
}

static enum engine_event_kind run(int step, struct engine_event *ev)
{
    struct engine_run_args a = {.step = step};
    for (;;) {
        vm_run(&vm, &a, ev);
        if (ev->kind != ENGINE_EV_INTERRUPTED)
            return ev->kind;
    }
}

static int setup(void)
{
    char err[256];
    if (vm_create(&vm, engine_name, MEM, err, sizeof err) < 0) {
        fprintf(stderr, "engine %s: %s\n", engine_name, err);
        return 1;
    }
    memcpy(vm_gpa(&vm, CODE, sizeof code), code, sizeof code);
    memcpy(vm_gpa(&vm, STEPS, sizeof steps), steps, sizeof steps);
    vm_dirty_mark(&vm, CODE, 0x1000);
    if (vm_boot_long_mode(&vm, CODE, CODE + 0x1000, "test", err, sizeof err) < 0) {
        fprintf(stderr, "boot: %s\n", err);
        return 1;
    }
    return 0;
}

static int teardown(void)
{
    vm_destroy(&vm);
    return 0;
}

static void test_boot_state(void)
{
    struct engine_regs r;
    struct engine_sregs s;
    vm_get_regs(&vm, &r);
    vm_get_sregs(&vm, &s);
    CU_ASSERT_EQUAL(r.rip, CODE);
    CU_ASSERT_EQUAL(r.rsp, MEM);
    CU_ASSERT_EQUAL(r.rdi, PVRR_BOOT_INFO_GPA);
    CU_ASSERT_EQUAL(r.rflags, 0x2);
    CU_ASSERT_EQUAL(s.cs.selector, 0x8);
    CU_ASSERT_EQUAL(s.cs.l, 1);
    CU_ASSERT_TRUE(s.cr0 & 0x80000000ull);
    CU_ASSERT_TRUE(s.efer & 0x400); /* LMA */
    struct engine_fpu f;
    vm_get_fpu(&vm, &f);
    CU_ASSERT_EQUAL(f.fcw, 0x37f);
    CU_ASSERT_EQUAL(f.mxcsr, 0x1f80);
    const struct pvrr_boot_info *bi = vm_gpa(&vm, PVRR_BOOT_INFO_GPA, sizeof *bi);
    CU_ASSERT_EQUAL(bi->magic, PVRR_BOOT_MAGIC);
    CU_ASSERT_STRING_EQUAL(bi->cmdline, "test");
    CU_ASSERT_STRING_EQUAL(vm.ops->name, engine_name);
}

static void test_breakpoint_every_arrival_no_patch_visible(void)
{
    struct engine_event ev;
    CU_ASSERT_EQUAL(vm_bp_set(&vm, CODE + 1, 0, 1), 0);
    CU_ASSERT_EQUAL(vm_bp_set(&vm, CODE + 1, 0, 1), 0); /* twice: one breakpoint */
    CU_ASSERT_EQUAL_FATAL(run(0, &ev), ENGINE_EV_BREAKPOINT);
    CU_ASSERT_EQUAL(ev.bp.addr, CODE + 1);
    CU_ASSERT_EQUAL(rip(), CODE + 1);
    CU_ASSERT_EQUAL(memcmp(vm_gpa(&vm, CODE, sizeof code), code, sizeof code), 0);
    /* a run starting at a breakpoint reports that arrival too */
    CU_ASSERT_EQUAL_FATAL(run(0, &ev), ENGINE_EV_BREAKPOINT);
    CU_ASSERT_EQUAL(ev.bp.addr, CODE + 1);
    /* stepping never reports breakpoints */
    CU_ASSERT_EQUAL_FATAL(run(1, &ev), ENGINE_EV_STEP);
    CU_ASSERT_EQUAL(rip(), CODE + 2);
    CU_ASSERT_EQUAL(vm_bp_set(&vm, CODE + 1, 0, 0), 0);
    CU_ASSERT_EQUAL(vm_bp_set(&vm, CODE + 1, 0, 0), 0); /* absent: no-op */
    CU_ASSERT_EQUAL(vm_bp_set(&vm, MEM, 0, 1), -1);     /* outside RAM */
}

static void test_write_and_read_watch(void)
{
    struct engine_event ev;
    CU_ASSERT_EQUAL(vm_watch_set(&vm, DATA, 4, ENGINE_WATCH_WRITE, 1), 0);
    CU_ASSERT_EQUAL_FATAL(run(0, &ev), ENGINE_EV_WATCH);
    CU_ASSERT_EQUAL(ev.watch.addr, DATA);
    CU_ASSERT_EQUAL(ev.watch.len, 4);
    CU_ASSERT_TRUE(ev.watch.is_write);
    CU_ASSERT_EQUAL(memcmp(ev.watch.data, "\x78\x56\x34\x12", 4), 0);
    CU_ASSERT_EQUAL(*(uint32_t *)vm_gpa(&vm, DATA, 4), 0x12345678); /* the store is done */
    CU_ASSERT_EQUAL(rip(), CODE + 0x0e);                            /* after the instruction */
    CU_ASSERT_EQUAL(vm_watch_set(&vm, DATA, 4, ENGINE_WATCH_WRITE, 0), 0);
    CU_ASSERT_EQUAL(vm_watch_set(&vm, DATA + 2, 1, ENGINE_WATCH_READ, 1), 0);
    CU_ASSERT_EQUAL_FATAL(run(0, &ev), ENGINE_EV_WATCH);
    CU_ASSERT_FALSE(ev.watch.is_write);
    CU_ASSERT_EQUAL(ev.watch.addr, DATA);
    CU_ASSERT_EQUAL(rip(), CODE + 0x15);
    struct engine_regs r;
    vm_get_regs(&vm, &r);
    CU_ASSERT_EQUAL(r.rbx, 0x12345678); /* the load got guest memory's bytes */
    CU_ASSERT_EQUAL(vm_watch_set(&vm, DATA + 2, 1, ENGINE_WATCH_READ, 0), 0);
    vm_dirty_collect(&vm);
    CU_ASSERT_TRUE(vm.ever[(DATA / 4096) / 64] & (1ull << ((DATA / 4096) % 64)));
}

static uint8_t *saved;

static void test_hypercall_canonical_rip_and_save_restore(void)
{
    struct engine_event ev;
    CU_ASSERT_EQUAL_FATAL(run(0, &ev), ENGINE_EV_HYPERCALL);
    CU_ASSERT_EQUAL(ev.io.port, PVRR_HC_PORT_BASE + 7);
    CU_ASSERT_EQUAL(ev.io.size, 4);
    CU_ASSERT_TRUE(ev.io.is_out);
    CU_ASSERT_EQUAL(ev.io.value, 0x12345678);
    CU_ASSERT_EQUAL(rip(), CODE + 0x1a); /* canonical: after the out */
    saved = malloc(vm_cpu_state_size(&vm));
    CU_ASSERT_PTR_NOT_NULL_FATAL(saved);
    vm_cpu_save(&vm, saved);
    CU_ASSERT_EQUAL(rip(), CODE + 0x1a);
    CU_ASSERT_EQUAL_FATAL(run(0, &ev), ENGINE_EV_FAULT);
    CU_ASSERT_EQUAL(ev.fault.kind, ENGINE_FAULT_HLT);
    CU_ASSERT_EQUAL(ev.fault.addr, CODE + 0x1a);
    /* back to just after the hypercall: the same instruction faults again */
    vm_cpu_restore(&vm, saved);
    CU_ASSERT_EQUAL(rip(), CODE + 0x1a);
    struct engine_regs r;
    vm_get_regs(&vm, &r);
    CU_ASSERT_EQUAL(r.rax, 0x12345678);
    r.rip = CODE + 0x19; /* set_regs: run the out again */
    vm_set_regs(&vm, &r);
    CU_ASSERT_EQUAL_FATAL(run(1, &ev), ENGINE_EV_HYPERCALL); /* a step that is a hypercall */
    CU_ASSERT_EQUAL(rip(), CODE + 0x1a);
    free(saved);
}

/* Step (expect) at rip (from); the rip after it is (to). Fatal if not: a
 * step that ran on leaves the guest running wild. */
static void step_from_to(enum engine_event_kind expect, uint64_t from, uint64_t to)
{
    struct engine_event ev;
    CU_ASSERT_EQUAL_FATAL(rip(), from);
    CU_ASSERT_EQUAL_FATAL(run(1, &ev), expect);
    CU_ASSERT_EQUAL_FATAL(rip(), to);
}

/* Set rip (and dx to a hypercall port). */
static void set_rip(uint64_t at)
{
    struct engine_regs r;
    vm_get_regs(&vm, &r);
    r.rip = at;
    r.rdx = PVRR_HC_PORT_BASE + 7;
    vm_set_regs(&vm, &r);
}

/* A single step executes exactly one instruction whatever came before it: a
 * hypercall (whose exit leaves rip canonical, after the out), a register
 * write while stepping, a watched write, a run that ended at a hypercall.
 * kvm-amd and kvm-intel drop the trap flag of KVM's single-step at a register
 * write from user space and at an instruction their emulator completes. */
static void test_step_after_hypercall_and_register_write(void)
{
    struct engine_event ev;
    set_rip(STEPS);
    step_from_to(ENGINE_EV_HYPERCALL, STEPS, STEPS + 1);
    step_from_to(ENGINE_EV_STEP, STEPS + 1, STEPS + 2); /* one instruction after the hypercall */
    set_rip(STEPS + 1);                                 /* a register write while stepping */
    step_from_to(ENGINE_EV_STEP, STEPS + 1, STEPS + 2);
    step_from_to(ENGINE_EV_STEP, STEPS + 2, STEPS + 3);
    step_from_to(ENGINE_EV_STEP, STEPS + 3, STEPS + 4);
    step_from_to(ENGINE_EV_HYPERCALL, STEPS + 4, STEPS + 5);
    /* a write to a watched page completed by the engine, then one instruction */
    step_from_to(ENGINE_EV_STEP, STEPS + 5, STEPS + 6);
    CU_ASSERT_EQUAL(vm_watch_set(&vm, DATA, 4, ENGINE_WATCH_WRITE, 1), 0);
    step_from_to(ENGINE_EV_WATCH, STEPS + 6, STEPS + 13);
    step_from_to(ENGINE_EV_STEP, STEPS + 13, STEPS + 14);
    CU_ASSERT_EQUAL(vm_watch_set(&vm, DATA, 4, ENGINE_WATCH_WRITE, 0), 0);
    /* a run (not a step) ends at the hypercall; the step after it is one instruction */
    set_rip(STEPS);
    CU_ASSERT_EQUAL(run(0, &ev), ENGINE_EV_HYPERCALL);
    step_from_to(ENGINE_EV_STEP, STEPS + 1, STEPS + 2);
    step_from_to(ENGINE_EV_STEP, STEPS + 2, STEPS + 3);
}

static void test_cpuid_and_selection(void)
{
    size_t len;
    const uint32_t *t = engine_cpuid_table(&len);
    CU_ASSERT_EQUAL(len, 8 + (size_t)t[0] * 40);
    uint32_t out[4];
    engine_cpuid(0, 0, out);
    CU_ASSERT_EQUAL(out[0], 7);
    CU_ASSERT_EQUAL(memcmp(&out[1], "Pvrr", 4), 0);
    engine_cpuid(0x40000000, 0, out); /* a leaf the table does not name: zeroes */
    CU_ASSERT_EQUAL(out[0] | out[1] | out[2] | out[3], 0);
    engine_cpuid(7, 1, out); /* leaf 7's index is significant: subleaf 1 is absent */
    CU_ASSERT_EQUAL(out[1], 0);
    engine_cpuid(7, 0, out);
    CU_ASSERT_EQUAL(out[1], 8);
    CU_ASSERT_PTR_NOT_NULL(engine_find("kvm"));
    CU_ASSERT_PTR_NULL(engine_find("bochs"));
    struct vm other;
    char err[256];
    CU_ASSERT_EQUAL(vm_create(&other, "bochs", MEM, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bochs"));
}

/* ---- suite 2: system instructions, popcnt (which Unicorn 2.0.1 cannot run:
 * engine/emu executes them itself) ---- */

#define CODE2 0x201000ull
#define LSTAR_AT (CODE2 + 0x80)

/* popcnt %rbx,%rsi and DATA,%edi; EFER.SCE |= 1 by rdmsr/wrmsr, read back
 * into r12; LSTAR = LSTAR_AT, STAR's kernel CS = 8; syscall; at LSTAR_AT: a
 * hypercall. */
static const uint8_t code2[] = {
    0x48, 0xbb, 0xff, 0x00, 0xff, 0x00, 0xff, 0x00, 0xff, 0x00, /* mov $0x00ff..,%rbx */
    0xf3, 0x48, 0x0f, 0xb8, 0xf3,                               /* popcnt %rbx,%rsi */
    0xf3, 0x0f, 0xb8, 0x3c, 0x25, 0x00, 0x00, 0x30, 0x00,       /* popcnt 0x300000,%edi */
    0xb9, 0x80, 0x00, 0x00, 0xc0,                               /* mov $EFER,%ecx */
    0x0f, 0x32,                                                 /* rdmsr */
    0x83, 0xc8, 0x01,                                           /* or $1,%eax */
    0x0f, 0x30,                                                 /* wrmsr */
    0x0f, 0x32,                                                 /* rdmsr */
    0x49, 0x89, 0xc4,                                           /* mov %rax,%r12 */
    0xb9, 0x82, 0x00, 0x00, 0xc0,                               /* mov $LSTAR,%ecx */
    0xb8, 0x80, 0x10, 0x20, 0x00,                               /* mov $LSTAR_AT,%eax */
    0x31, 0xd2,                                                 /* xor %edx,%edx */
    0x0f, 0x30,                                                 /* wrmsr */
    0xb9, 0x81, 0x00, 0x00, 0xc0,                               /* mov $STAR,%ecx */
    0x31, 0xc0,                                                 /* xor %eax,%eax */
    0xba, 0x08, 0x00, 0x00, 0x00,                               /* mov $8,%edx */
    0x0f, 0x30,                                                 /* wrmsr */
    0x0f, 0x05,                                                 /* syscall */
};
static const uint8_t at_lstar[] = {
    0x66, 0xba, 0x07, 0x05, /* mov $0x507,%dx */
    0xef,                   /* out %eax,(%dx) */
};

static struct vm vm2;

static int setup2(void)
{
    char err[256];
    if (vm_create(&vm2, engine_name, MEM, err, sizeof err) < 0) {
        fprintf(stderr, "engine %s: %s\n", engine_name, err);
        return 1;
    }
    memcpy(vm_gpa(&vm2, CODE2, sizeof code2), code2, sizeof code2);
    memcpy(vm_gpa(&vm2, LSTAR_AT, sizeof at_lstar), at_lstar, sizeof at_lstar);
    uint32_t data = 0xf0f0f0f1u; /* 17 bits set */
    memcpy(vm_gpa(&vm2, DATA, 4), &data, 4);
    vm_dirty_mark(&vm2, CODE2, 0x1000);
    vm_dirty_mark(&vm2, DATA, 4);
    if (vm_boot_long_mode(&vm2, CODE2, CODE2 + 0x1000, "test", err, sizeof err) < 0) {
        fprintf(stderr, "boot: %s\n", err);
        return 1;
    }
    return 0;
}

static int teardown2(void)
{
    vm_destroy(&vm2);
    return 0;
}

static void test_popcnt_efer_sce_and_syscall(void)
{
    struct engine_event ev;
    struct engine_run_args a = {0};
    do
        vm_run(&vm2, &a, &ev);
    while (ev.kind == ENGINE_EV_INTERRUPTED);
    if (ev.kind == ENGINE_EV_FAULT)
        fprintf(stderr, "the guest stopped: %s\n", ev.fault.msg);
    CU_ASSERT_EQUAL_FATAL(ev.kind, ENGINE_EV_HYPERCALL);
    struct engine_regs r;
    struct engine_sregs s;
    vm_get_regs(&vm2, &r);
    vm_get_sregs(&vm2, &s);
    CU_ASSERT_EQUAL(r.rsi, 32);
    CU_ASSERT_EQUAL(r.rdi, 17);
    CU_ASSERT_EQUAL(r.r12 & 1, 1);                /* rdmsr shows the SCE wrmsr set */
    CU_ASSERT_TRUE(s.efer & 1);                   /* and so does the canonical state */
    CU_ASSERT_EQUAL(r.rcx, CODE2 + sizeof code2); /* syscall: rcx = next rip */
    CU_ASSERT_EQUAL(r.r11 & 0x2, 0x2);            /* r11 = rflags */
    CU_ASSERT_EQUAL(r.rip, LSTAR_AT + sizeof at_lstar);
    CU_ASSERT_EQUAL(s.cs.selector, 0x8);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_engine ENGINE\n");
        return 2;
    }
    engine_name = argv[1];
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite(engine_name, setup, teardown);
    CU_add_test(s, "boot state", test_boot_state);
    CU_add_test(s, "breakpoints", test_breakpoint_every_arrival_no_patch_visible);
    CU_add_test(s, "watchpoints", test_write_and_read_watch);
    CU_add_test(s, "hypercall, hlt, save/restore", test_hypercall_canonical_rip_and_save_restore);
    CU_add_test(s, "single-step after a hypercall and a register write",
                test_step_after_hypercall_and_register_write);
    CU_add_test(s, "cpuid and engine selection", test_cpuid_and_selection);
    /* On KVM the CPU executes these itself (kvm-amd/kvm-intel: checked by
     * it.linux_engines.kvm; the nested PVM KVM cannot run them at all) */
    if (strcmp(engine_name, "emu") == 0) {
        CU_pSuite s2 = CU_add_suite("system instructions", setup2, teardown2);
        CU_add_test(s2, "popcnt, EFER.SCE, syscall", test_popcnt_efer_sce_and_syscall);
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
                      CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
