/*
 * fuzz_engine.c - libFuzzer harness for an execution engine (engine.h) running
 * arbitrary guest code: the input's bytes are the code, booted in pvrr's long
 * mode at 0x200000 with 8 MiB of RAM (no IDT, so an exception the code takes
 * ends in a triple fault). Built by tests/fuzz/CMakeLists.txt: with
 * -DPVRR_FUZZ=ON under clang as a libFuzzer binary (the engine compiled in,
 * with coverage), otherwise as a plain program that runs the files named on
 * its command line (tests/fuzz/fuzz_main.c).
 *
 * The engine is PVRR_FUZZ_ENGINE (default emu: the emulator needs no KVM).
 * The first input byte picks what the run loop exercises besides running:
 * bit 0 single-steps, bit 1 sets a breakpoint and bit 2 a write watch at
 * addresses taken from the next bytes, bit 3 saves the CPU at the first event
 * and restores it once later. Each input runs at most 64 events of at most
 * 100000 instructions (engines with exact counts; others are kicked by a
 * 10 ms timer, as --timeout does) or until a fault.
 *
 * Checked: every event is one of engine.h's kinds; a fault carries a
 * non-empty one-line message; a breakpoint stop is at a set breakpoint with
 * rip there; a watch stop lies in the watched range; the count never goes
 * back except by the restore; nothing crashes, leaks or reads out of bounds
 * (ASan/UBSan).
 */
#include "engine/engine.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEM (8ull << 20)
#define CODE 0x200000ull

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_engine: %s\n", what);
        abort();
    }
}

static struct vm *volatile kick_vm;

static void on_alarm(int sig)
{
    (void)sig;
    struct vm *vm = kick_vm;
    if (vm)
        vm_kick(vm);
}

static uint64_t addr_from(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return CODE + (v % 0x2000u); /* near the code: the code or its data */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9 || size > 4096)
        return 0;
    unsigned mode = data[0];
    uint64_t bp = addr_from(data + 1), wa = addr_from(data + 5);
    data += 9, size -= 9;
    const char *name = getenv("PVRR_FUZZ_ENGINE") ? getenv("PVRR_FUZZ_ENGINE") : "emu";
    static struct vm vm;
    char err[256];
    if (vm_create(&vm, name, MEM, err, sizeof err) < 0) {
        fprintf(stderr, "fuzz_engine: %s\n", err);
        abort();
    }
    memcpy(vm_gpa(&vm, CODE, size), data, size);
    vm_dirty_mark(&vm, CODE, size);
    check(vm_boot_long_mode(&vm, CODE, CODE + 0x4000, "fuzz", err, sizeof err) == 0, err);
    if (mode & 2)
        check(vm_bp_set(&vm, bp, 0, 1) == 0, "bp_set in RAM failed");
    if (mode & 4)
        check(vm_watch_set(&vm, wa, 8, ENGINE_WATCH_WRITE, 1) == 0, "watch_set in RAM failed");
    int counts = vm.ops->insn_count != NULL;
    struct itimerval tick = {{0, 10000}, {0, 10000}};
    if (!counts) { /* a loop without events must still end */
        struct sigaction sa = {.sa_handler = on_alarm};
        sigaction(SIGALRM, &sa, NULL);
        kick_vm = &vm;
        setitimer(ITIMER_REAL, &tick, NULL);
    }
    struct engine_run_args a = {.step = mode & 1, .max_insns = counts && !(mode & 1) ? 100000 : 0};
    uint8_t *blob = malloc(vm_cpu_state_size(&vm));
    check(blob != NULL, "out of memory");
    int saved = 0, restored = 0;
    uint64_t last = 0;
    for (int i = 0; i < 64; i++) {
        struct engine_event ev;
        vm_run(&vm, &a, &ev);
        check((unsigned)ev.kind <= (unsigned)ENGINE_EV_TIMEOUT, "unknown event");
        if (counts) {
            uint64_t c = vm.ops->insn_count(&vm);
            check(c >= last, "the instruction count went back");
            last = c;
        }
        struct engine_regs r;
        vm_get_regs(&vm, &r);
        if (ev.kind == ENGINE_EV_BREAKPOINT)
            check(ev.bp.addr == bp && r.rip == bp, "a breakpoint stop away from the breakpoint");
        if (ev.kind == ENGINE_EV_WATCH)
            check(ev.watch.addr < wa + 8 && wa < ev.watch.addr + ev.watch.len,
                  "a watch stop outside the watched range");
        vm_dirty_collect(&vm);
        if ((mode & 8) && !saved) {
            vm_cpu_save(&vm, blob);
            saved = 1;
        } else if ((mode & 8) && !restored && i == 8) {
            vm_cpu_restore(&vm, blob);
            restored = 1;
            last = counts ? vm.ops->insn_count(&vm) : 0;
        }
        if (ev.kind == ENGINE_EV_FAULT) {
            size_t n = strnlen(ev.fault.msg, sizeof ev.fault.msg);
            check(n > 0 && n < sizeof ev.fault.msg, "a fault without a message");
            check(strchr(ev.fault.msg, '\n') == NULL, "a fault message of several lines");
            break;
        }
        if (ev.kind == ENGINE_EV_BREAKPOINT) /* step off it */
            vm_run(&vm, &(struct engine_run_args){.step = 1}, &ev);
    }
    if (!counts) {
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
        kick_vm = NULL;
    }
    free(blob);
    vm_destroy(&vm);
    return 0;
}
