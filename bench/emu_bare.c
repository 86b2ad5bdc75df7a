/*
 * emu_bare.c - the emulator engine against the engine's own limit: a guest
 * (e.g. spin) run by pvrr's monitor on the "emu" engine, and the same guest
 * image, booted the same way, run by a bare Unicorn loop with nothing but an
 * `out` hook (to end at the exit hypercall) and the CPUID table. Prints
 * guest instructions per second for both and their ratio (issue 10 wants
 * >= 0.9). The instruction count is the engine's exact count; the bare loop
 * runs the same instructions (the guest is deterministic).
 *
 * It also runs the bare loop with one empty UC_HOOK_BLOCK hook: the limit of
 * any engine that counts instructions by blocks (the emulator's exact count
 * needs one hook call per executed block). Each figure is the best of
 * PVRR_BENCH_ROUNDS rounds (default 3).
 *
 * Usage: pvrr_bench_emu_bare GUEST.elf [GUEST ARGS...]
 */
#include "engine/engine.h"
#include "formats/elf.h"
#include "monitor/monitor.h"
#include "pvrr_abi.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unicorn/unicorn.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void on_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *user)
{
    (void)size, (void)value, (void)user;
    if (port == PVRR_HC_PORT_BASE + PVRR_HC_EXIT || port == PVRR_HC_PORT_BASE + PVRR_HC_PANIC)
        uc_emu_stop(uc);
}

static int on_cpuid(uc_engine *uc, void *user)
{
    (void)user;
    uint64_t rax = 0, rcx = 0;
    uc_reg_read(uc, UC_X86_REG_RAX, &rax);
    uc_reg_read(uc, UC_X86_REG_RCX, &rcx);
    uint32_t o[4];
    engine_cpuid((uint32_t)rax, (uint32_t)rcx, o);
    uint64_t v[4] = {o[0], o[1], o[2], o[3]};
    uc_reg_write(uc, UC_X86_REG_RAX, &v[0]);
    uc_reg_write(uc, UC_X86_REG_RBX, &v[1]);
    uc_reg_write(uc, UC_X86_REG_RCX, &v[2]);
    uc_reg_write(uc, UC_X86_REG_RDX, &v[3]);
    return 1;
}

static void empty_block(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    (void)uc, (void)addr, (void)size, (void)user;
}

/* One bare Unicorn run of the booted image in (v) (its RAM is copied, so (v)
 * stays at the boot state); with (block_hook), an empty block hook too.
 * Returns the wall time; (*ue) Unicorn's result. */
static double run_bare(struct vm *v, uint8_t *ram, int block_hook, uc_err *ue)
{
    struct engine_regs r;
    struct engine_sregs s;
    vm_get_regs(v, &r);
    vm_get_sregs(v, &s);
    memcpy(ram, v->mem, v->mem_size);
    uc_engine *uc;
    uc_hook h1, h2, h3;
    if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc) != UC_ERR_OK ||
        uc_mem_map_ptr(uc, 0, v->mem_size, UC_PROT_ALL, ram) != UC_ERR_OK) {
        fprintf(stderr, "bare: unicorn failed\n");
        exit(1);
    }
    uc_x86_mmr gdtr = {.base = s.gdt.base, .limit = s.gdt.limit};
    uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr);
    uc_x86_msr efer = {.rid = 0xc0000080u, .value = s.efer};
    uc_reg_write(uc, UC_X86_REG_MSR, &efer);
    uc_reg_write(uc, UC_X86_REG_CR4, &s.cr4);
    uc_reg_write(uc, UC_X86_REG_CR3, &s.cr3);
    uc_reg_write(uc, UC_X86_REG_CR0, &s.cr0);
    uint64_t sel[6] = {s.cs.selector, s.ss.selector, s.ds.selector,
                       s.es.selector, s.fs.selector, s.gs.selector};
    int ids[6] = {UC_X86_REG_CS, UC_X86_REG_SS, UC_X86_REG_DS,
                  UC_X86_REG_ES, UC_X86_REG_FS, UC_X86_REG_GS};
    for (int i = 0; i < 6; i++)
        uc_reg_write(uc, ids[i], &sel[i]);
    int gids[18] = {UC_X86_REG_RAX, UC_X86_REG_RBX,   UC_X86_REG_RCX, UC_X86_REG_RDX,
                    UC_X86_REG_RSI, UC_X86_REG_RDI,   UC_X86_REG_RSP, UC_X86_REG_RBP,
                    UC_X86_REG_R8,  UC_X86_REG_R9,    UC_X86_REG_R10, UC_X86_REG_R11,
                    UC_X86_REG_R12, UC_X86_REG_R13,   UC_X86_REG_R14, UC_X86_REG_R15,
                    UC_X86_REG_RIP, UC_X86_REG_RFLAGS};
    const uint64_t *gv = (const uint64_t *)&r;
    for (int i = 0; i < 18; i++)
        uc_reg_write(uc, gids[i], &gv[i]);
    uc_hook_add(uc, &h1, UC_HOOK_INSN, (void *)on_out, NULL, 1, 0, UC_X86_INS_OUT);
    uc_hook_add(uc, &h2, UC_HOOK_INSN, (void *)on_cpuid, NULL, 1, 0, UC_X86_INS_CPUID);
    if (block_hook)
        uc_hook_add(uc, &h3, UC_HOOK_BLOCK, (void *)empty_block, NULL, 1, 0);
    double t0 = now();
    /* ends after the exit hypercall's block (uc_emu_stop from an out hook
     * takes effect at the block's end), usually at the ud2 after it */
    *ue = uc_emu_start(uc, r.rip, 0, 0, 0);
    double t = now() - t0;
    uc_close(uc);
    return t;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s GUEST.elf [GUEST ARGS...]\n", argv[0]);
        return 2;
    }
    int rounds = getenv("PVRR_BENCH_ROUNDS") ? atoi(getenv("PVRR_BENCH_ROUNDS")) : 3;
    if (rounds < 1)
        rounds = 1;
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        perror(argv[1]);
        return 1;
    }
    void *elf = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (elf == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    char cmdline[1024];
    const char *base = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
    size_t n = (size_t)snprintf(cmdline, sizeof cmdline, "%s", base);
    for (int i = 2; i < argc && n < sizeof cmdline; i++)
        n += (size_t)snprintf(cmdline + n, sizeof cmdline - n, " %s", argv[i]);
    char err[512];

    /* the same boot image for the bare loops */
    struct vm v;
    struct pvrr_elf_image img;
    if (vm_create(&v, "emu", MONITOR_DEFAULT_MEM, err, sizeof err) < 0 ||
        pvrr_elf_parse(elf, (size_t)st.st_size, v.mem_size, &img, err, sizeof err) < 0) {
        fprintf(stderr, "bare: %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < img.nsegs; i++) {
        uint8_t *dst = vm_gpa(&v, img.segs[i].paddr, img.segs[i].memsz);
        memcpy(dst, (const uint8_t *)elf + img.segs[i].offset, img.segs[i].filesz);
    }
    if (vm_boot_long_mode(&v, img.entry, img.image_end, cmdline, err, sizeof err) < 0) {
        fprintf(stderr, "bare: %s\n", err);
        return 1;
    }
    uint8_t *ram = malloc(v.mem_size);
    if (!ram) {
        fprintf(stderr, "bare: out of memory\n");
        return 1;
    }

    double t_emu = 1e30, t_bare = 1e30, t_hook = 1e30;
    uint64_t insns = 0;
    int status = 0;
    uc_err ue = UC_ERR_OK;
    for (int k = 0; k < rounds; k++) {
        /* 1. pvrr's monitor on the emulator engine */
        static struct monitor m;
        struct monitor_config cfg = {.cmdline = cmdline, .elf_name = base, .engine = "emu"};
        if (monitor_init(&m, &cfg, elf, (size_t)st.st_size, err, sizeof err) < 0) {
            fprintf(stderr, "monitor: %s\n", err);
            return 1;
        }
        m.out_fd = open("/dev/null", O_WRONLY);
        double t0 = now();
        status = monitor_run(&m);
        double t = now() - t0;
        t_emu = t < t_emu ? t : t_emu;
        insns = m.vm.ops->insn_count(&m.vm);
        close(m.out_fd);
        monitor_fini(&m);
        /* 2. a bare Unicorn loop; 3. the same with an empty block hook */
        t = run_bare(&v, ram, 0, &ue);
        t_bare = t < t_bare ? t : t_bare;
        t = run_bare(&v, ram, 1, &ue);
        t_hook = t < t_hook ? t : t_hook;
    }
    free(ram);
    vm_destroy(&v);
    printf("guest %s: exit status %d, %llu instructions (best of %d rounds)\n", cmdline, status,
           (unsigned long long)insns, rounds);
    printf("emu engine (pvrr monitor): %.3f s, %.3g insns/s\n", t_emu, (double)insns / t_emu);
    printf("bare unicorn loop:         %.3f s, %.3g insns/s (%s)\n", t_bare, (double)insns / t_bare,
           uc_strerror(ue));
    printf("bare loop + empty block hook: %.3f s, %.3g insns/s (ratio to bare %.3f)\n", t_hook,
           (double)insns / t_hook, t_bare / t_hook);
    printf("ratio engine/bare (speed): %.3f\n", t_bare / t_emu);
    return 0;
}
