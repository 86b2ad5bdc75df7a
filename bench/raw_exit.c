/*
 * raw_exit.c - the physical limits pvrr is compared against: a minimal KVM
 * program with no monitor, no hypercall decoding and no logging.
 *
 * Usage: pvrr_bench_raw_exit io N [OPTION...]
 *                                      a guest loop of N `out %eax,%dx`; the
 *                                      KVM_RUN loop does nothing but count
 *                                      KVM_EXIT_IO until the guest's `hlt`
 *        pvrr_bench_raw_exit step N    N KVM_RUNs with KVM_GUESTDBG_SINGLESTEP
 *                                      over a guest loop, counting KVM_EXIT_DEBUG
 * Options, to attribute a difference with pvrr (bench/README.md):
 *   hcloop  the guest loop is hcbench's, instruction for instruction (store the
 *           argument struct, lea, mov port, out, add, cmp, jb: 7 instructions per
 *           exit instead of 3)
 *   sync    kvm_run sync regs on (KVM_SYNC_X86_REGS), as pvrr's monitor does
 *   dirty   dirty-page logging on the memory slot, as pvrr's monitor does
 *   mem64   64 MiB of guest RAM (pvrr's default) instead of 4 MiB
 *
 * Prints one line: "raw_exit: mode=io n=N exits=E seconds=S ns_per_exit=T
 * per_second=R", where S covers the KVM_RUN loop only (VM setup excluded).
 * bench/run times the whole process for `io` (as it does for `pvrr run`) and
 * uses per_second for `step` (as the gdb script times only its stepi loop).
 *
 * The guest runs in 64-bit long mode like a pvrr guest: one 2 MiB identity
 * page, flat segments, code at 0x10000. Exit status 0, or 1 with a message
 * naming the failed call.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MEM_SMALL (4ull << 20)  /* two 2 MiB pages: code, page tables, stack */
#define MEM_LARGE (64ull << 20) /* pvrr's default guest RAM */
#define CODE_GPA 0x10000u
#define PML4_GPA 0x1000u
#define PDPT_GPA 0x2000u
#define PD_GPA 0x3000u
#define STACK_TOP 0x200000u
#define IO_PORT 0x10u /* any port: nothing in the kernel claims it */

#define DIE(...)                                                                                   \
    do {                                                                                           \
        fprintf(stderr, "raw_exit: %s:%d: ", __FILE__, __LINE__);                                  \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        exit(1);                                                                                   \
    } while (0)

/* ioctl that cannot legitimately fail here: dies naming the request. */
#define XIOCTL(fd, req, arg)                                                                       \
    ({                                                                                             \
        int rc_ = ioctl((fd), (req), (arg));                                                       \
        if (rc_ < 0)                                                                               \
            DIE("ioctl %s: %s", #req, strerror(errno));                                            \
        rc_;                                                                                       \
    })

struct raw_opts {
    int hcloop, sync, dirty;
    uint64_t mem_size;
};

struct raw_vm {
    int kvm, vm, vcpu;
    struct kvm_run *run;
    uint8_t *mem;
    uint64_t mem_size;
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Create the VM with (o->mem_size) of RAM at GPA 0 and one vCPU. */
static void raw_vm_create(struct raw_vm *v, const struct raw_opts *o)
{
    v->mem_size = o->mem_size;
    v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (v->kvm < 0)
        DIE("/dev/kvm: %s", strerror(errno));
    v->vm = XIOCTL(v->kvm, KVM_CREATE_VM, 0);
    v->mem = mmap(NULL, v->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (v->mem == MAP_FAILED)
        DIE("mmap guest RAM: %s", strerror(errno));
    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .flags = o->dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
        .guest_phys_addr = 0,
        .memory_size = v->mem_size,
        .userspace_addr = (uint64_t)(uintptr_t)v->mem,
    };
    XIOCTL(v->vm, KVM_SET_USER_MEMORY_REGION, &region);
    v->vcpu = XIOCTL(v->vm, KVM_CREATE_VCPU, 0);
    int run_size = XIOCTL(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    v->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
    if (v->run == MAP_FAILED)
        DIE("mmap kvm_run: %s", strerror(errno));
    if (o->sync) {
        if (ioctl(v->kvm, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS) <= 0)
            DIE("KVM_CAP_SYNC_REGS is not available");
        v->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
    }
}

/* Copy (code) to CODE_GPA and enter 64-bit mode there with (*regs), whose
 * rip, rsp and rflags are set here. */
static void raw_vm_load(struct raw_vm *v, const uint8_t *code, size_t len, struct kvm_regs *regs)
{
    uint64_t *pml4 = (uint64_t *)(v->mem + PML4_GPA);
    uint64_t *pdpt = (uint64_t *)(v->mem + PDPT_GPA);
    uint64_t *pd = (uint64_t *)(v->mem + PD_GPA);
    pml4[0] = PDPT_GPA | 3; /* present, writable */
    pdpt[0] = PD_GPA | 3;
    for (uint64_t i = 0; i < v->mem_size >> 21; i++)
        pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB page */
    memcpy(v->mem + CODE_GPA, code, len);

    struct kvm_sregs s;
    XIOCTL(v->vcpu, KVM_GET_SREGS, &s);
    s.cr3 = PML4_GPA;
    s.cr4 = (1u << 5) | (1u << 9) | (1u << 10); /* PAE, OSFXSR, OSXMMEXCPT */
    s.cr0 = 0x80050033;                         /* PG, AM, WP, NE, ET, MP, PE */
    s.efer = 0x500;                             /* LME, LMA */
    struct kvm_segment cs = {
        .limit = 0xffffffff, .selector = 8, .present = 1, .type = 11, .s = 1, .l = 1, .g = 1};
    struct kvm_segment ds = cs;
    ds.type = 3;
    ds.selector = 16;
    ds.l = 0;
    ds.db = 1;
    s.cs = cs;
    s.ds = s.es = s.fs = s.gs = s.ss = ds;
    XIOCTL(v->vcpu, KVM_SET_SREGS, &s);
    regs->rip = CODE_GPA;
    regs->rsp = STACK_TOP;
    regs->rflags = 2;
    XIOCTL(v->vcpu, KVM_SET_REGS, regs);
}

static void report(const char *mode, uint64_t n, uint64_t exits, double secs)
{
    printf("raw_exit: mode=%s n=%llu exits=%llu seconds=%.6f ns_per_exit=%.1f per_second=%.0f\n",
           mode, (unsigned long long)n, (unsigned long long)exits, secs,
           exits ? secs * 1e9 / (double)exits : 0.0, secs > 0 ? (double)exits / secs : 0.0);
}

/* The minimal loop: rcx = N; 3 instructions per exit. */
static const uint8_t io_loop[] = {
    0x66, 0xba, IO_PORT, 0x00, /* mov $IO_PORT, %dx */
    0x48, 0x85, 0xc9,          /* test %rcx, %rcx */
    0x74, 0x06,                /* jz done */
    0xef,                      /* loop: out %eax, (%dx) */
    0x48, 0xff, 0xc9,          /* dec %rcx */
    0x75, 0xfa,                /* jnz loop */
    0xf4,                      /* done: hlt */
};

/* hcbench's loop as gcc compiles it (guests/hcbench.c, pvrr_nop inlined):
 * rbx = N, rcx = 0, rbp = a stack frame; 7 instructions per exit. */
static const uint8_t hc_loop[] = {
    0x48, 0x39,    0xd9,                               /* cmp %rbx, %rcx */
    0x73, 0x1a,                                        /* jae done */
    0x48, 0xc7,    0x45, 0xd0, 0x00, 0x00, 0x00, 0x00, /* body: movq $0, -0x30(%rbp) */
    0x8d, 0x45,    0xd0,                               /* lea -0x30(%rbp), %eax */
    0xba, IO_PORT, 0x00, 0x00, 0x00,                   /* mov $IO_PORT, %edx */
    0xef,                                              /* out %eax, (%dx) */
    0x48, 0x83,    0xc1, 0x01,                         /* add $1, %rcx */
    0x48, 0x39,    0xd9,                               /* cmp %rbx, %rcx */
    0x72, 0xe6,                                        /* jb body */
    0xf4,                                              /* done: hlt */
};

/* N port-I/O exits, the instruction a pvrr hypercall uses. */
static int bench_io(struct raw_vm *v, const struct raw_opts *o, uint64_t n)
{
    struct kvm_regs regs = {0};
    if (o->hcloop) {
        regs.rbx = n;
        regs.rbp = STACK_TOP - 0x100;
        raw_vm_load(v, hc_loop, sizeof hc_loop, &regs);
    } else {
        regs.rcx = n;
        raw_vm_load(v, io_loop, sizeof io_loop, &regs);
    }
    uint64_t exits = 0;
    double t0 = now_s();
    for (;;) {
        if (ioctl(v->vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR)
                continue;
            DIE("KVM_RUN: %s", strerror(errno));
        }
        if (v->run->exit_reason != KVM_EXIT_IO)
            break;
        exits++;
    }
    double t1 = now_s();
    if (v->run->exit_reason != KVM_EXIT_HLT || exits != n)
        DIE("io: expected %llu IO exits then HLT, got %llu then exit reason %u",
            (unsigned long long)n, (unsigned long long)exits, v->run->exit_reason);
    report(o->hcloop ? "io-hcloop" : "io", n, exits, t1 - t0);
    return 0;
}

/* N single steps over a guest loop that never ends. */
static int bench_step(struct raw_vm *v, uint64_t n)
{
    static const uint8_t code[] = {
        0x48, 0xff, 0xc0, /* loop: inc %rax */
        0x48, 0x01, 0xc3, /* add %rax, %rbx */
        0x90,             /* nop */
        0xeb, 0xf7,       /* jmp loop */
    };
    struct kvm_regs regs = {0};
    raw_vm_load(v, code, sizeof code, &regs);
    struct kvm_guest_debug dbg = {.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP};
    XIOCTL(v->vcpu, KVM_SET_GUEST_DEBUG, &dbg);
    uint64_t exits = 0;
    double t0 = now_s();
    while (exits < n) {
        if (ioctl(v->vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR)
                continue;
            DIE("KVM_RUN: %s", strerror(errno));
        }
        if (v->run->exit_reason != KVM_EXIT_DEBUG)
            DIE("step: unexpected exit reason %u after %llu steps", v->run->exit_reason,
                (unsigned long long)exits);
        exits++;
    }
    double t1 = now_s();
    report("step", n, exits, t1 - t0);
    return 0;
}

static void usage(const char *argv0)
{
    fprintf(stderr, "usage: %s io|step N [hcloop] [sync] [dirty] [mem64]\n", argv0);
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "io") != 0 && strcmp(argv[1], "step") != 0))
        usage(argv[0]);
    char *end;
    errno = 0;
    unsigned long long n = strtoull(argv[2], &end, 10);
    if (errno || *end || end == argv[2] || n > (1ull << 40)) {
        fprintf(stderr, "%s: N must be a count, not '%s'\n", argv[0], argv[2]);
        return 2;
    }
    struct raw_opts o = {.mem_size = MEM_SMALL};
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "hcloop") == 0)
            o.hcloop = 1;
        else if (strcmp(argv[i], "sync") == 0)
            o.sync = 1;
        else if (strcmp(argv[i], "dirty") == 0)
            o.dirty = 1;
        else if (strcmp(argv[i], "mem64") == 0)
            o.mem_size = MEM_LARGE;
        else
            usage(argv[0]);
    }
    struct raw_vm v;
    raw_vm_create(&v, &o);
    return strcmp(argv[1], "io") == 0 ? bench_io(&v, &o, n) : bench_step(&v, n);
}
