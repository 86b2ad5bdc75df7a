/*
 * start.c - guest start-up: boot information, descriptor tables, exception
 * reports, the command line, and the call to main().
 *
 * pvrr__start() runs on the initial stack with .bss already cleared (crt0.S).
 * It validates the boot information, installs a GDT with a TSS (whose IST
 * gives exceptions their own stack) and an IDT for vectors 0-31, initialises
 * the heap, splits the command line into argv and calls main(argc, argv);
 * main's return value becomes the exit status.
 */
#include <pvrr/guest.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

int main(int argc, char **argv);

/* Overridden by the file pvrr_add_guest() generates for each guest. */
__attribute__((weak)) const char pvrr_guest_name[] = "guest";

/* Linker-script symbols (guest.ld). */
extern char __pvrr_image_end[];

/* Heap/stack split: the top MiB of RAM is left to the stack. */
/* the stack and the unmapped guard page below it (pvrr_abi.h) */
#define STACK_RESERVE (PVRR_STACK_SIZE + 4096)

/* Selectors: the monitor's code (0x8) and data (0x10), plus our TSS. */
#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_TSS 0x18

/* The IST slot of every exception: handlers always start on the exception
 * stack, so a fault caused by a runaway or wild stack pointer is still
 * reported. Handlers never return, so the stack need not be reentrant: a
 * nested exception just starts again at its top. */
#define IST_EXC 1

static const struct pvrr_boot_info *boot_info;
static char cmdline_copy[PVRR_CMDLINE_MAX];
/* At most one word per two bytes of command line, plus argv[0] and NULL. */
static char *argv_table[PVRR_CMDLINE_MAX / 2 + 2];

/* 64-bit TSS: only the IST pointers are used. */
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

static uint64_t gdt[5] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static struct idt_gate idt[32] __attribute__((aligned(16)));
/* The exception stack: exceptions report and panic, 16 KiB is plenty. */
static uint8_t exception_stack[16384] __attribute__((aligned(16)));

extern const uint64_t pvrr__isr_table[32];

static void setup_gdt_tss(void)
{
    /* Same code and data descriptors as the monitor's GDT, so selectors keep
     * their meaning; the TSS descriptor takes two slots. */
    gdt[0] = 0;
    /* accessed bits preset: the CPU need not write them (hosts differ) */
    gdt[1] = 0x00af9b000000ffffull; /* 64-bit code, DPL 0 */
    gdt[2] = 0x00cf93000000ffffull; /* data, DPL 0 */
    uint64_t base = (uint64_t)(uintptr_t)&tss;
    uint64_t limit = sizeof tss - 1;
    gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) /* present, TSS */
             | (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[4] = base >> 32;

    tss.ist[IST_EXC - 1] = (uint64_t)(uintptr_t)(exception_stack + sizeof exception_stack);
    tss.iomap_base = sizeof tss; /* no I/O bitmap */

    struct desc_ptr p = {.limit = sizeof gdt - 1, .base = (uint64_t)(uintptr_t)gdt};
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
                     : "m"(p), "r"(SEL_DATA), "i"(SEL_CODE), "r"(SEL_TSS)
                     : "rax", "memory");
}

static void setup_idt(void)
{
    for (int v = 0; v < 32; v++) {
        uint64_t h = pvrr__isr_table[v];
        idt[v] = (struct idt_gate){
            .offset_lo = (uint16_t)h,
            .selector = SEL_CODE,
            .ist = IST_EXC,
            .type_attr = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
            .offset_mid = (uint16_t)(h >> 16),
            .offset_hi = (uint32_t)(h >> 32),
        };
    }
    struct desc_ptr p = {.limit = sizeof idt - 1, .base = (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(p) : "memory");
}

/* clang-format off */
static const char *const exception_names[32] = {
    "DE", "DB", "NMI", "BP", "OF", "BR", "UD", "NM",  /* 0-7 */
    "DF", "CSO", "TS", "NP", "SS", "GP", "PF", "15",  /* 8-15 */
    "MF", "AC", "MC", "XM", "VE", "CP", "22", "23",   /* 16-23 */
    "24", "25", "26", "27", "HV", "VC", "SX", "31",   /* 24-31 */
};
/* clang-format on */

/* Append the hex digits of (v) to (p); returns the new end. (Exception
 * reports cannot rely on printf.) */
static char *put_hex(char *p, uint64_t v)
{
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v & 0xf];
        v >>= 4;
    } while (v != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

/* Append at most (max) bytes of (s): the strings may have been trampled too. */
static char *put_str(char *p, const char *s, int max)
{
    while (max-- > 0 && *s)
        *p++ = *s++;
    return p;
}

static char *put_dec(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

/*
 * Report the exception in (f) with the panic hypercall:
 *   "exception #PF (14) at rip 0x... cr2 0x... error 0x..."
 * Written for a guest that may have trampled its own memory (a runaway stack
 * overwrites the heap, the image and, below 1 MiB, the page tables): no stdio,
 * no writes to .data or .bss, message and hypercall struct on the exception
 * stack (where the CPU just pushed the frame, so it is mapped). An exception
 * taken while reporting one (the interrupted rsp is on the exception stack)
 * is reported as such, without touching stdout.
 */
_Noreturn void pvrr__exception(struct pvrr_trap_frame *f)
{
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    /* The frame is made canonical, so that the end state is the same on every
     * engine and host: x86 pushes RFLAGS with RF set for a fault-class exception
     * (the SDM's and APM's rule, which KVM and pvrr's emulator follow), QEMU's TCG
     * (the CPU under tools/with-kvm's kvm-amd) pushes it clear. */
    uint64_t v = f->vector;
    if (v < 32 && v != 1 && v != 3 && v != 4 && v != 8 && v != 18)
        f->rflags |= 1ull << 16;
    uintptr_t lo = (uintptr_t)exception_stack, hi = lo + sizeof exception_stack;
    int nested = f->rsp > lo && f->rsp <= hi;

    char msg[400]; /* 5 strings of <= 40, one of <= 60, 3 hex and 1 decimal numbers */
    char *p = put_str(msg, "exception #", 40);
    p = put_str(p, f->vector < 32 ? exception_names[f->vector] : "??", 40);
    p = put_str(p, " (", 40);
    p = put_dec(p, f->vector);
    p = put_str(p, nested ? ") during exception report at rip 0x" : ") at rip 0x", 40);
    p = put_hex(p, f->rip);
    p = put_str(p, " cr2 0x", 40);
    p = put_hex(p, cr2);
    p = put_str(p, " error 0x", 40);
    p = put_hex(p, f->error);
    /* the boot info page is read where the monitor put it: .bss may be trampled */
    const struct pvrr_boot_info *info = (const struct pvrr_boot_info *)PVRR_BOOT_INFO_GPA;
    uint64_t guard = info->mem_size - PVRR_STACK_SIZE - 4096;
    if (f->vector == 14 && cr2 >= guard && cr2 < guard + 4096)
        p = put_str(p, ": stack overflow (the guard page below the stack)", 60);
    *p = '\0';

    if (!nested)
        pvrr_stdout_flush();
    struct pvrr_hc_panic a = {.msg = msg, .len = (uint64_t)(p - msg)};
    pvrr_hypercall(PVRR_HC_PANIC, &a);
    for (;;)
        __asm__ volatile("cli; hlt");
}

const struct pvrr_boot_info *pvrr_boot_info(void)
{
    return boot_info;
}

const char *pvrr_cmdline(void)
{
    return cmdline_copy;
}

uint64_t pvrr_mem_size(void)
{
    return boot_info->mem_size;
}

/* Split the command line at blanks into argv[]; returns argc. The monitor
 * puts the guest's name first (argv[0]); with an empty command line argv[0]
 * is the name the guest was built with. */
static int split_cmdline(char **argv)
{
    uint32_t len = boot_info->cmdline_len;
    if (len >= PVRR_CMDLINE_MAX)
        len = PVRR_CMDLINE_MAX - 1;
    memcpy(cmdline_copy, boot_info->cmdline, len);
    cmdline_copy[len] = '\0';
    len = (uint32_t)strlen(cmdline_copy);

    static char words[PVRR_CMDLINE_MAX];
    memcpy(words, cmdline_copy, len + 1);
    int argc = 0;
    char *p = words;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            *p++ = '\0';
        if (*p == '\0')
            break;
        argv[argc++] = p;
        while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n')
            p++;
    }
    if (argc == 0)
        argv[argc++] = (char *)pvrr_guest_name;
    argv[argc] = NULL;
    return argc;
}

_Noreturn void pvrr__start(const struct pvrr_boot_info *bi)
{
    boot_info = bi;
    setup_gdt_tss();
    setup_idt();
    if (bi->magic != PVRR_BOOT_MAGIC)
        pvrr_panicf("bad boot info at %p: magic 0x%x, expected 0x%x", (const void *)bi, bi->magic,
                    PVRR_BOOT_MAGIC);
    if (bi->abi_version != PVRR_ABI_VERSION)
        pvrr_panicf("guest built for ABI version %d, monitor speaks version %u", PVRR_ABI_VERSION,
                    bi->abi_version);

    uint64_t heap_start = (uint64_t)(uintptr_t)__pvrr_image_end;
    if (bi->image_end > heap_start)
        heap_start = bi->image_end;
    uint64_t heap_end = bi->mem_size > STACK_RESERVE ? bi->mem_size - STACK_RESERVE : 0;
    pvrr__heap_init(heap_start, heap_end);

    int argc = split_cmdline(argv_table);
    exit(main(argc, argv_table));
}

const char *pvrr_arg(int argc, char **argv, const char *key)
{
    size_t klen = strlen(key);
    const char *found = NULL;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], key, klen) != 0)
            continue;
        if (argv[i][klen] == '=')
            found = argv[i] + klen + 1;
        else if (argv[i][klen] == '\0')
            found = argv[i] + klen;
    }
    return found;
}

uint64_t pvrr_arg_u64(int argc, char **argv, const char *key, uint64_t def)
{
    const char *v = pvrr_arg(argc, argv, key);
    if (v == NULL)
        return def;
    char *end;
    uint64_t n = strtoull(v, &end, 0);
    if (*v == '\0' || *v == '-' || *end != '\0')
        pvrr_panicf("%s: argument %s=%s is not an unsigned number", pvrr_guest_name, key, v);
    return n;
}
