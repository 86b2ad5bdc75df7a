/*
 * main.c - start-up of the Linux personality: CPU set-up for ring 3 and
 * `syscall`, loading the program ELF through the file hypercalls, the
 * initial process stack (argv, envp, auxv), and the drop to user mode.
 *
 * The command line (from pvrr, tools/linux.c) is
 *   pvrr-linux exe=PATH [cwd=PATH] [env=NAME=VALUE]... -- ARGV0 ARGS...
 * with every word percent-encoded (%XX for bytes <= 0x20, '%' and >= 0x7f)
 * so that arguments may hold blanks.
 */
#include "kernel.h"

#include <pvrr/guest.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "syscall_nr.h"

/* GDT selectors: kernel code/data as the SDK's, then user (for sysret:
 * STAR[63:48] = 0x18, so user SS = 0x20|3 and user CS = 0x28|3). */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UBASE 0x18
#define SEL_TSS 0x30

#define MSR_EFER 0xc0000080u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_FMASK 0xc0000084u
#define EFER_SCE 0x1ull

#define PTE_P 0x1ull
#define PTE_U 0x4ull
#define PTE_PS 0x80ull
#define PTE_ADDR 0x000ffffffffff000ull

uint64_t user_hi;
int linux_trace;
const char *exe_path;
char cwd[PVRR_PATH_MAX] = "/";

struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

struct idt_gate {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t reserved;
};

struct desc_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

static uint64_t gdt[8] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static struct idt_gate idt[32] __attribute__((aligned(16)));
extern uint8_t fault_stack[16384]; /* entry.S: the IST stack of every exception */
extern uint8_t syscall_stack[];
extern const uint64_t linux_ufault_table[32];
extern char __pvrr_image_end[];
void linux_syscall_entry(void);
_Noreturn void linux_enter_user(uint64_t rip, uint64_t rsp);

void kmsg(const char *fmt, ...)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "pvrr-linux: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        m = 0;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof buf - 2)
        len = sizeof buf - 2;
    buf[len++] = '\n';
    console_out(2, buf, len);
}

int console_out(int which, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        size_t n = len < PVRR_IO_MAX ? len : PVRR_IO_MAX;
        struct pvrr_hc_console_write a = {.data = p, .len = n};
        pvrr_hypercall(which == 2 ? PVRR_HC_STDERR_WRITE : PVRR_HC_CONSOLE_WRITE, &a);
        if (a.ret != PVRR_OK)
            return -EIO;
        p += n;
        len -= n;
    }
    return 0;
}

_Noreturn void kexit(int status)
{
    struct pvrr_hc_exit a = {.status = status & 0xff};
    pvrr_hypercall(PVRR_HC_EXIT, &a);
    for (;;)
        __asm__ volatile("cli; hlt");
}

int user_ok(uint64_t p, uint64_t len)
{
    return p >= USER_LO && p <= user_hi && len <= user_hi - p;
}

long user_strlen(uint64_t p, size_t max)
{
    for (size_t i = 0; i < max; i++) {
        if (!user_ok(p + i, 1))
            return -EFAULT;
        if (((const char *)(uintptr_t)p)[i] == '\0')
            return (long)i;
    }
    return -ENAMETOOLONG;
}

static uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

/* Our own GDT (with user segments and a TSS), IDT and syscall MSRs. */
static void setup_cpu(void)
{
    gdt[0] = 0;
    gdt[1] = 0x00af9b000000ffffull; /* kernel code, 64-bit (accessed bits preset) */
    gdt[2] = 0x00cf93000000ffffull; /* kernel data */
    gdt[3] = 0x00cffb000000ffffull; /* user code, 32-bit (unused; sysret's layout) */
    gdt[4] = 0x00cff3000000ffffull; /* user data */
    gdt[5] = 0x00affb000000ffffull; /* user code, 64-bit */
    uint64_t base = (uint64_t)(uintptr_t)&tss, limit = sizeof tss - 1;
    gdt[6] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
             (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[7] = base >> 32;
    tss.rsp[0] = (uint64_t)(uintptr_t)(fault_stack + sizeof fault_stack);
    tss.ist[0] = (uint64_t)(uintptr_t)(fault_stack + sizeof fault_stack);
    tss.iomap_base = sizeof tss;
    struct desc_ptr g = {.limit = sizeof gdt - 1, .base = (uint64_t)(uintptr_t)gdt};
    __asm__ volatile("lgdt %0\n\t"
                     "movw %w1, %%ax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movw %%ax, %%es\n\t"
                     "movw %%ax, %%ss\n\t"
                     "movw %%ax, %%fs\n\t"
                     "movw %%ax, %%gs\n\t"
                     "pushq %2\n\t"
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "ltr %w3"
                     :
                     : "m"(g), "r"(SEL_KDATA), "i"(SEL_KCODE), "r"(SEL_TSS)
                     : "rax", "memory");
    for (int v = 0; v < 32; v++) {
        uint64_t h = linux_ufault_table[v];
        idt[v] = (struct idt_gate){.offset_lo = (uint16_t)h,
                                   .selector = SEL_KCODE,
                                   .ist = 1,
                                   .type_attr = 0x8e,
                                   .offset_mid = (uint16_t)(h >> 16),
                                   .offset_hi = (uint32_t)(h >> 32)};
    }
    struct desc_ptr i = {.limit = sizeof idt - 1, .base = (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(i) : "memory");
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    wrmsr(MSR_STAR, ((uint64_t)SEL_UBASE << 48) | ((uint64_t)SEL_KCODE << 32));
    wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)linux_syscall_entry);
    /* IF DF IOPL NT AC; not TF: a debugger single-stepping through `syscall`
     * (KVM sets TF) must keep stepping through the kernel, or it loses
     * control until the next exit. A program that sets TF itself gets the
     * SDK's report of a debug exception in the kernel. */
    wrmsr(MSR_FMASK, 0x47600);
    /* CR4.TSD: rdtsc/rdtscp in ring 3 fault, and the kernel emulates them
     * from the clock hypercall (syscall.c: linux_user_gp) */
    uint64_t cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | 0x4) : "memory");
}

/* Set U=1 on the paging entries of the user window (the monitor's identity
 * page tables, found through CR3) and flush the TLB. */
static void open_user_window(void)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    uint64_t *pml4 = (uint64_t *)(uintptr_t)(cr3 & PTE_ADDR);
    pml4[0] |= PTE_U;
    uint64_t *pdpt = (uint64_t *)(uintptr_t)(pml4[0] & PTE_ADDR);
    for (uint64_t a = USER_LO; a < user_hi; a += 2ull << 20) {
        uint64_t *pdpte = &pdpt[(a >> 30) & 511];
        if (!(*pdpte & PTE_P))
            pvrr_panicf("no page directory for 0x%llx", (unsigned long long)a);
        *pdpte |= PTE_U;
        uint64_t *pd = (uint64_t *)(uintptr_t)(*pdpte & PTE_ADDR);
        uint64_t *pde = &pd[(a >> 21) & 511];
        if (!(*pde & PTE_P) || !(*pde & PTE_PS))
            pvrr_panicf("user page 0x%llx is not a mapped 2 MiB page", (unsigned long long)a);
        *pde |= PTE_U;
    }
    __asm__ volatile("mov %0, %%cr3" : : "r"(cr3) : "memory");
}

/* Decode %XX escapes in place. */
static char *pct_decode(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '%' && p[1] && p[2]) {
            char hex[3] = {p[1], p[2], 0};
            int v = 0;
            for (int k = 0; k < 2; k++) {
                char c = hex[k];
                v = v * 16 + (c >= '0' && c <= '9'   ? c - '0'
                              : c >= 'a' && c <= 'f' ? c - 'a' + 10
                              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                     : 0);
            }
            *o++ = (char)v;
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return s;
}

/* ELF64 structures (the few fields the loader needs). */
struct ehdr {
    unsigned char ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
#define PT_LOAD 1
#define PT_INTERP 3
#define PT_PHDR 6
#define ET_EXEC 2
#define ET_DYN 3
#define PIE_BASE (8ull << 20)
#define MAX_PHDRS 64

struct loaded {
    uint64_t entry, phdr, phnum, lo, hi;
};

static struct phdr phdrs[MAX_PHDRS];

/* Read the parts of the file (fd, size) no PT_LOAD segment covers into a
 * scratch page range at (scratch) and clear it again: the recording then holds
 * every byte of the program once (symbols and debug information included),
 * so `pvrr replay --gdb` can give gdb the program itself. Segments are read
 * straight into place by hypercalls, never copied by the kernel: a debugger's
 * breakpoint patch in a segment must only ever meet bytes written at a
 * hypercall (it is lifted around hypercalls). */
static void read_rest(int fd, uint64_t size, int phnum, uint8_t *scratch, uint64_t scratch_len)
{
    uint64_t at = 0;
    while (at < size) {
        uint64_t next = size; /* the end of the gap starting at (at) */
        int covered = 0;
        for (int i = 0; i < phnum; i++) {
            const struct phdr *ph = &phdrs[i];
            if (ph->type != PT_LOAD || ph->filesz == 0)
                continue;
            if (at >= ph->offset && at < ph->offset + ph->filesz) {
                at = ph->offset + ph->filesz;
                covered = 1;
                break;
            }
            if (ph->offset > at && ph->offset < next)
                next = ph->offset;
        }
        if (covered)
            continue;
        uint64_t n = next - at < scratch_len ? next - at : scratch_len;
        if (file_pread_raw(fd, scratch, n, at) != (long)n)
            pvrr_panicf("%s: cannot read bytes [0x%llx, +0x%llx)", exe_path, (unsigned long long)at,
                        (unsigned long long)n);
        memset(scratch, 0, n);
        at += n;
    }
}

/* Load the program at (path) into the user window. */
static void load_program(const char *path, struct loaded *out)
{
    long fd = file_open_kernel(path);
    if (fd < 0)
        pvrr_panicf("cannot open the program %s (errno %ld)", path, -fd);
    long size = file_size((int)fd);
    struct ehdr eh;
    if (size < (long)sizeof eh || file_pread_raw((int)fd, &eh, sizeof eh, 0) != (long)sizeof eh ||
        memcmp(eh.ident, "\177ELF\2\1", 6) != 0 || eh.machine != 62 ||
        (eh.type != ET_EXEC && eh.type != ET_DYN) || eh.phentsize != sizeof(struct phdr) ||
        eh.phnum == 0 || eh.phnum > MAX_PHDRS)
        pvrr_panicf("%s: not a static x86-64 ELF executable this kernel can load", path);
    long want = (long)(eh.phnum * sizeof(struct phdr));
    if (file_pread_raw((int)fd, phdrs, (uint64_t)want, eh.phoff) != want)
        pvrr_panicf("%s: cannot read its program headers", path);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < eh.phnum; i++) {
        if (phdrs[i].type == PT_INTERP)
            pvrr_panicf("%s: a dynamically linked program (PT_INTERP)", path);
        if (phdrs[i].type != PT_LOAD || phdrs[i].memsz == 0)
            continue;
        if (phdrs[i].vaddr < lo)
            lo = phdrs[i].vaddr;
        if (phdrs[i].vaddr + phdrs[i].memsz > hi)
            hi = phdrs[i].vaddr + phdrs[i].memsz;
    }
    if (hi == 0)
        pvrr_panicf("%s: no PT_LOAD segment", path);
    uint64_t bias = eh.type == ET_DYN ? PIE_BASE - (lo & ~(PAGE - 1)) : 0;
    lo = (lo + bias) & ~(PAGE - 1);
    hi = (hi + bias + PAGE - 1) & ~(PAGE - 1);
    uint64_t scratch_hi = user_hi - USER_STACK_SIZE, scratch_len = 1ull << 20;
    if (!user_ok(lo, hi - lo) || hi > scratch_hi - scratch_len)
        pvrr_panicf("%s: its image [0x%llx, 0x%llx) does not fit the user window [0x%llx, "
                    "0x%llx) of this guest's RAM (try a larger --mem)",
                    path, (unsigned long long)lo, (unsigned long long)hi,
                    (unsigned long long)USER_LO, (unsigned long long)(scratch_hi - scratch_len));
    out->phdr = 0;
    for (int i = 0; i < eh.phnum; i++) {
        const struct phdr *ph = &phdrs[i];
        if (ph->type == PT_PHDR)
            out->phdr = ph->vaddr + bias;
        if (ph->type != PT_LOAD || ph->memsz == 0)
            continue;
        if (ph->filesz > ph->memsz)
            pvrr_panicf("%s: segment %d file size exceeds its memory size", path, i);
        uint8_t *dst = (uint8_t *)(uintptr_t)(ph->vaddr + bias);
        if (ph->filesz && file_pread_raw((int)fd, dst, ph->filesz, ph->offset) != (long)ph->filesz)
            pvrr_panicf("%s: segment %d is cut short", path, i);
        memset(dst + ph->filesz, 0, ph->memsz - ph->filesz);
        if (!out->phdr && eh.phoff >= ph->offset && eh.phoff - ph->offset < ph->filesz)
            out->phdr = ph->vaddr + bias + (eh.phoff - ph->offset);
    }
    read_rest((int)fd, (uint64_t)size, eh.phnum, (uint8_t *)(uintptr_t)(scratch_hi - scratch_len),
              scratch_len);
    sys_close((int)fd);
    out->entry = eh.entry + bias;
    out->phnum = eh.phnum;
    out->lo = lo;
    out->hi = hi;
}

#define AT_NULL 0
#define AT_PHDR 3
#define AT_PHENT 4
#define AT_PHNUM 5
#define AT_PAGESZ 6
#define AT_BASE 7
#define AT_FLAGS 8
#define AT_ENTRY 9
#define AT_UID 11
#define AT_EUID 12
#define AT_GID 13
#define AT_EGID 14
#define AT_PLATFORM 15
#define AT_HWCAP 16
#define AT_CLKTCK 17
#define AT_SECURE 23
#define AT_RANDOM 25
#define AT_HWCAP2 26
#define AT_EXECFN 31

#define MAX_ARGS 512
static char *argv_u[MAX_ARGS];
static char *envp_u[MAX_ARGS];

/* Push (len) bytes onto the user stack at *sp; returns their address. */
static uint64_t push_bytes(uint64_t *sp, const void *p, size_t len)
{
    *sp -= len;
    memcpy((void *)(uintptr_t)*sp, p, len);
    return *sp;
}

/* Build the initial stack at the top of the user window: returns rsp. */
static uint64_t build_stack(int argc, char **argv, int envc, char **envp, const struct loaded *l)
{
    uint64_t sp = user_hi;
    uint64_t execfn = push_bytes(&sp, exe_path, strlen(exe_path) + 1);
    uint64_t platform = push_bytes(&sp, "x86_64", 7);
    uint8_t rnd[16];
    if (pvrr_random(rnd, sizeof rnd) != PVRR_OK)
        pvrr_panicf("the random hypercall failed");
    sp &= ~15ull;
    uint64_t random = push_bytes(&sp, rnd, sizeof rnd);
    for (int i = argc - 1; i >= 0; i--)
        argv_u[i] = (char *)(uintptr_t)push_bytes(&sp, argv[i], strlen(argv[i]) + 1);
    for (int i = envc - 1; i >= 0; i--)
        envp_u[i] = (char *)(uintptr_t)push_bytes(&sp, envp[i], strlen(envp[i]) + 1);
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    uint64_t aux[][2] = {
        {AT_PHDR, l->phdr},   {AT_PHENT, sizeof(struct phdr)},
        {AT_PHNUM, l->phnum}, {AT_PAGESZ, PAGE},
        {AT_BASE, 0},         {AT_FLAGS, 0},
        {AT_ENTRY, l->entry}, {AT_UID, 0},
        {AT_EUID, 0},         {AT_GID, 0},
        {AT_EGID, 0},         {AT_SECURE, 0},
        {AT_HWCAP, d},        {AT_HWCAP2, 0},
        {AT_CLKTCK, 100},     {AT_PLATFORM, platform},
        {AT_RANDOM, random},  {AT_EXECFN, execfn},
        {AT_NULL, 0},
    };
    size_t naux = sizeof aux / sizeof aux[0];
    size_t words = 1 + (size_t)argc + 1 + (size_t)envc + 1 + 2 * naux;
    sp &= ~15ull;
    if (words & 1)
        sp -= 8;
    sp -= words * 8;
    uint64_t *w = (uint64_t *)(uintptr_t)sp;
    *w++ = (uint64_t)argc;
    for (int i = 0; i < argc; i++)
        *w++ = (uint64_t)(uintptr_t)argv_u[i];
    *w++ = 0;
    for (int i = 0; i < envc; i++)
        *w++ = (uint64_t)(uintptr_t)envp_u[i];
    *w++ = 0;
    for (size_t i = 0; i < naux; i++) {
        *w++ = aux[i][0];
        *w++ = aux[i][1];
    }
    return sp;
}

int main(int argc, char **argv)
{
    if ((uint64_t)(uintptr_t)__pvrr_image_end > USER_LO - (64u << 10))
        pvrr_panicf("the kernel image is too large for its 4 MiB");
    uint64_t mem = pvrr_mem_size();
    user_hi = linux_user_hi(mem);
    if (user_hi < USER_LO + USER_STACK_SIZE + (4ull << 20))
        pvrr_panicf("guest RAM of %llu bytes is too small for a Linux program (use --mem 64M "
                    "or more)",
                    (unsigned long long)mem);
    setup_cpu();
    /* One SSE instruction before the program runs: a host whose KVM cannot
     * execute SSE (the nested PVM KVM) stops here, where the monitor can say
     * why, rather than somewhere inside the C library. xmm0 is zero at boot
     * and stays zero. */
    __asm__ volatile("linux_sse_probe: pxor %xmm0, %xmm0");
    open_user_window();
    files_init();

    static char *envp[MAX_ARGS];
    int envc = 0, i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        char *w = pct_decode(argv[i]);
        if (strncmp(w, "exe=", 4) == 0)
            exe_path = w + 4;
        else if (strncmp(w, "cwd=", 4) == 0 && w[4] == '/' && strlen(w + 4) < sizeof cwd)
            strcpy(cwd, w + 4);
        else if (strcmp(w, "trace=1") == 0)
            linux_trace = 1;
        else if (strncmp(w, "env=", 4) == 0 && envc < MAX_ARGS - 1)
            envp[envc++] = w + 4;
        else
            pvrr_panicf("unknown kernel argument '%s'", w);
    }
    if (!exe_path || i >= argc - 1)
        pvrr_panicf("usage: pvrr-linux exe=PATH [cwd=DIR] [env=N=V]... -- ARGV0 [ARGS...]");
    char **pargv = &argv[i + 1];
    int pargc = argc - i - 1;
    if (pargc >= MAX_ARGS)
        pvrr_panicf("too many arguments (%d, at most %d)", pargc, MAX_ARGS - 1);
    for (int k = 0; k < pargc; k++)
        pct_decode(pargv[k]);

    const char *base = strrchr(exe_path, '/');
    base = base ? base + 1 : exe_path;
    memcpy(linux_comm, base, strlen(base) < 15 ? strlen(base) : 15);
    struct loaded l;
    load_program(exe_path, &l);
    mm_init(l.lo, l.hi);
    uint64_t sp = build_stack(pargc, pargv, envc, envp, &l);
    if (linux_trace)
        kmsg("start at 0x%llx, stack 0x%llx, image [0x%llx, 0x%llx)", (unsigned long long)l.entry,
             (unsigned long long)sp, (unsigned long long)l.lo, (unsigned long long)l.hi);
    linux_enter_user(l.entry, sp);
}
