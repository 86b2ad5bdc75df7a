/*
 * syscall.c - the system call table of the Linux personality, the calls that
 * touch neither files nor memory (identity, time, randomness, signals,
 * limits), and user faults.
 *
 * Process identity is fixed (pid 1, uid 0) so that it is no input at all;
 * time and randomness come from hypercalls (recorded, skipped on replay).
 * Signals are never delivered asynchronously: rt_sigaction and
 * rt_sigprocmask only keep what the program set; a signal the program sends
 * itself (abort) or a fault ends it as the default action does.
 */
#include "kernel.h"

#include <pvrr/guest.h>
#include <string.h>

#define PVRR_LINUX_SYSCALL_NAMES
#include "syscall_nr.h"

#define NSYSNAMES (sizeof syscall_names / sizeof syscall_names[0])
#define PID 1

static uint8_t warned[512 / 8];
char linux_comm[16];
void linux_syscall_entry(void);
static uint64_t sigactions[65][4]; /* handler, flags, restorer, mask */
static uint64_t sigmask;

struct linux_sys_now linux_sys_now = {.nr = ~0ull};

static const char *sys_name(uint64_t nr)
{
    return nr < NSYSNAMES && syscall_names[nr] ? syscall_names[nr] : "?";
}

/* Name (nr) on stderr the first time the program makes it. */
static void warn_once(uint64_t nr, uint64_t rip, const char *what)
{
    uint64_t bit = nr < 512 ? nr : 511;
    if (warned[bit / 8] & (1u << (bit % 8)))
        return;
    warned[bit / 8] |= (uint8_t)(1u << (bit % 8));
    kmsg("system call %llu (%s) at 0x%llx %s", (unsigned long long)nr, sys_name(nr),
         (unsigned long long)rip, what);
}

static const char *const signal_names[32] = {
    "0",         "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",   "SIGTRAP", "SIGABRT", "SIGBUS",
    "SIGFPE",    "SIGKILL", "SIGUSR1",   "SIGSEGV", "SIGUSR2",  "SIGPIPE", "SIGALRM", "SIGTERM",
    "SIGSTKFLT", "SIGCHLD", "SIGCONT",   "SIGSTOP", "SIGTSTP",  "SIGTTIN", "SIGTTOU", "SIGURG",
    "SIGXCPU",   "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO",   "SIGPWR",  "SIGSYS",
};

/* The default action of (sig): end the program as a shell reports it. */
static _Noreturn void die_by_signal(int sig, uint64_t rip)
{
    kmsg("program killed by %s at 0x%llx", sig > 0 && sig < 32 ? signal_names[sig] : "a signal",
         (unsigned long long)rip);
    kexit(128 + sig);
}

_Noreturn void linux_user_fault(uint64_t vector, uint64_t error, uint64_t rip)
{
    if (rip == (uint64_t)(uintptr_t)linux_syscall_entry)
        pvrr_panicf("this host's KVM cannot run Linux programs: its `syscall` instruction "
                    "entered the kernel's entry point still in user mode (seen with the "
                    "nested PVM KVM); use kvm-amd/kvm-intel (tools/with-kvm) or the emulator");
    int sig;
    switch (vector) {
    case 0:  /* #DE */
    case 16: /* #MF */
    case 19: /* #XM */
        sig = 8;
        break;
    case 1: /* #DB */
    case 3: /* #BP */
        sig = 5;
        break;
    case 6: /* #UD */
        sig = 4;
        break;
    case 17: /* #AC */
        sig = 7;
        break;
    default: /* #GP, #PF, #SS, ... */
        sig = 11;
    }
    if (vector == 14) {
        uint64_t cr2;
        __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
        kmsg("%s fault at address 0x%llx (error 0x%llx)",
             (error & 2)    ? "write"
             : (error & 16) ? "instruction fetch"
                            : "read",
             (unsigned long long)cr2, (unsigned long long)error);
    } else if (vector == 13) {
        kmsg("general protection fault (error 0x%llx)", (unsigned long long)error);
    }
    die_by_signal(sig, rip);
}

/* The registers entry.S saves at a #GP from ring 3, then the CPU's frame. */
struct gp_frame {
    uint64_t r11, r10, r9, r8, rdi, rsi, rdx, rcx, rax;
    uint64_t error, rip, cs, rflags, rsp, ss;
};

/* A #GP in ring 3: emulate rdtsc (0f 31) and rdtscp (0f 01 f9), which CR4.TSD
 * makes fault, as a 1 GHz counter from the monotonic clock hypercall (so a
 * program reading the TSC is recorded and replays exactly). Returns 1 when
 * emulated (the frame is updated), 0 to treat it as a fault. */
int linux_user_gp(struct gp_frame *f);
int linux_user_gp(struct gp_frame *f)
{
    if (!user_ok(f->rip, 3))
        return 0;
    const uint8_t *b = (const uint8_t *)(uintptr_t)f->rip;
    unsigned len;
    if (b[0] == 0x0f && b[1] == 0x31)
        len = 2;
    else if (b[0] == 0x0f && b[1] == 0x01 && b[2] == 0xf9)
        len = 3;
    else
        return 0;
    uint64_t mono;
    pvrr_clock(&mono, NULL);
    f->rax = (uint32_t)mono;
    f->rdx = mono >> 32;
    if (len == 3)
        f->rcx = 0; /* IA32_TSC_AUX: cpu 0 */
    f->rip += len;
    return 1;
}

static long do_clock(int clk, uint64_t ts)
{
    if (!user_ok(ts, 16))
        return -EFAULT;
    uint64_t mono, wall;
    pvrr_clock(&mono, &wall);
    uint64_t t = (clk == 0 || clk == 5 || clk == 8 || clk == 11) ? wall : mono;
    uint64_t *o = (uint64_t *)(uintptr_t)ts;
    o[0] = t / 1000000000ull;
    o[1] = t % 1000000000ull;
    return 0;
}

/* Sleep until monotonic time (deadline) through the poll hypercall. */
static long sleep_until(uint64_t deadline)
{
    uint64_t now = 0;
    do
        pvrr_poll(deadline, 0, &now);
    while (now < deadline);
    return 0;
}

static long do_nanosleep(int clk, int flags, uint64_t req, uint64_t rem)
{
    if (!user_ok(req, 16) || (rem && !user_ok(rem, 16)))
        return -EFAULT;
    const int64_t *r = (const int64_t *)(uintptr_t)req;
    if (r[0] < 0 || r[1] < 0 || r[1] >= 1000000000)
        return -EINVAL;
    uint64_t ns = (uint64_t)r[0] * 1000000000ull + (uint64_t)r[1];
    uint64_t mono, wall;
    pvrr_clock(&mono, &wall);
    uint64_t deadline;
    if (flags & 1) { /* TIMER_ABSTIME */
        uint64_t now = clk == 0 ? wall : mono;
        deadline = ns > now ? mono + (ns - now) : mono;
    } else {
        deadline = mono + ns;
    }
    if (rem)
        memset((void *)(uintptr_t)rem, 0, 16);
    return sleep_until(deadline);
}

static long do_uname(uint64_t buf)
{
    if (!user_ok(buf, 6 * 65))
        return -EFAULT;
    static const char *const f[6] = {"Linux",       "pvrr",   "6.1.0-pvrr",
                                     "#1 SMP pvrr", "x86_64", "(none)"};
    char *b = (char *)(uintptr_t)buf;
    memset(b, 0, 6 * 65);
    for (int i = 0; i < 6; i++)
        strcpy(b + 65 * i, f[i]);
    return 0;
}

static long do_getrandom(uint64_t buf, uint64_t len)
{
    if (!user_ok(buf, len))
        return -EFAULT;
    if (len > PVRR_IO_MAX)
        len = PVRR_IO_MAX;
    return pvrr_random((void *)(uintptr_t)buf, len) == PVRR_OK ? (long)len : -EIO;
}

static long do_prlimit(int pid, int res, uint64_t newl, uint64_t oldl)
{
    if (pid != 0 && pid != PID)
        return -ESRCH;
    if (oldl) {
        if (!user_ok(oldl, 16))
            return -EFAULT;
        uint64_t *o = (uint64_t *)(uintptr_t)oldl;
        uint64_t v = ~0ull;
        if (res == 3) /* RLIMIT_STACK */
            v = USER_STACK_SIZE;
        else if (res == 7) /* RLIMIT_NOFILE */
            v = 256;
        o[0] = o[1] = v;
    }
    (void)newl;
    return 0;
}

static long do_sigaction(int sig, uint64_t act, uint64_t old, uint64_t size)
{
    if (sig < 1 || sig > 64 || sig == 9 || sig == 19 || size != 8)
        return -EINVAL;
    if ((act && !user_ok(act, 32)) || (old && !user_ok(old, 32)))
        return -EFAULT;
    uint64_t prev[4];
    memcpy(prev, sigactions[sig], sizeof prev);
    if (act)
        memcpy(sigactions[sig], (const void *)(uintptr_t)act, 32);
    if (old)
        memcpy((void *)(uintptr_t)old, prev, 32);
    return 0;
}

static long do_sigprocmask(int how, uint64_t set, uint64_t old, uint64_t size)
{
    if (size != 8)
        return -EINVAL;
    if ((set && !user_ok(set, 8)) || (old && !user_ok(old, 8)))
        return -EFAULT;
    uint64_t prev = sigmask;
    if (set) {
        uint64_t s = *(const uint64_t *)(uintptr_t)set;
        if (how == 0)
            sigmask |= s;
        else if (how == 1)
            sigmask &= ~s;
        else if (how == 2)
            sigmask = s;
        else
            return -EINVAL;
    }
    if (old)
        *(uint64_t *)(uintptr_t)old = prev;
    return 0;
}

/* A signal the program sends itself: ignored, or the default action. */
static long do_kill(int pid, int sig, uint64_t rip)
{
    if (pid != PID && pid != 0 && pid != -1)
        return -ESRCH;
    if (sig < 0 || sig > 64)
        return -EINVAL;
    if (sig == 0)
        return 0;
    uint64_t handler = sigactions[sig][0];
    if (handler == 1) /* SIG_IGN */
        return 0;
    if (sig == 17 || sig == 23 || sig == 28) /* CHLD, URG, WINCH: ignored by default */
        return 0;
    if (handler != 0)
        kmsg("signal %d has a handler, but this kernel delivers no signals: the default action "
             "applies",
             sig);
    die_by_signal(sig, rip);
}

static long do_arch_prctl(int code, uint64_t addr)
{
    switch (code) {
    case 0x1002: /* ARCH_SET_FS */
    case 0x1001: /* ARCH_SET_GS */
        if (addr >> 47)
            return -EPERM;
        __asm__ volatile("wrmsr"
                         :
                         : "c"(code == 0x1002 ? 0xc0000100u : 0xc0000101u), "a"((uint32_t)addr),
                           "d"((uint32_t)(addr >> 32)));
        return 0;
    case 0x1003: /* ARCH_GET_FS */
    case 0x1004: /* ARCH_GET_GS */ {
        if (!user_ok(addr, 8))
            return -EFAULT;
        uint32_t lo, hi;
        __asm__ volatile("rdmsr"
                         : "=a"(lo), "=d"(hi)
                         : "c"(code == 0x1003 ? 0xc0000100u : 0xc0000101u));
        *(uint64_t *)(uintptr_t)addr = (uint64_t)hi << 32 | lo;
        return 0;
    }
    default:
        return -EINVAL;
    }
}

static long do_sched_getaffinity(int pid, uint64_t len, uint64_t mask)
{
    if (pid != 0 && pid != PID)
        return -ESRCH;
    if (len < 8)
        return -EINVAL;
    if (!user_ok(mask, 8))
        return -EFAULT;
    *(uint64_t *)(uintptr_t)mask = 1;
    return 8;
}

static long do_prctl(int op, uint64_t arg)
{
    switch (op) {
    case 15: /* PR_SET_NAME */
    case 16: /* PR_GET_NAME */ {
        if (!user_ok(arg, op == 16 ? 16 : 1))
            return -EFAULT;
        if (op == 16) {
            memcpy((void *)(uintptr_t)arg, linux_comm, 16);
            return 0;
        }
        long n = user_strlen(arg, 4096);
        if (n < 0)
            return n;
        memset(linux_comm, 0, sizeof linux_comm);
        memcpy(linux_comm, (const void *)(uintptr_t)arg, n < 15 ? (size_t)n : 15);
        return 0;
    }
    default:
        return -EINVAL;
    }
}

static long do_sysinfo(uint64_t buf)
{
    if (!user_ok(buf, 112))
        return -EFAULT;
    uint64_t mono;
    pvrr_clock(&mono, NULL);
    uint64_t *b = (uint64_t *)(uintptr_t)buf;
    memset(b, 0, 112);
    b[0] = mono / 1000000000ull;           /* uptime */
    b[4] = user_hi - USER_LO;              /* totalram */
    b[5] = (user_hi - USER_LO) / 2;        /* freeram: an honest guess is impossible */
    *(uint16_t *)(b + 10) = 1;             /* procs */
    *(uint32_t *)((uint8_t *)b + 104) = 1; /* mem_unit */
    return 0;
}

static long do_futex(uint64_t uaddr, int op, uint32_t val)
{
    if (!user_ok(uaddr, 4))
        return -EFAULT;
    switch (op & 0x7f) {
    case 0: /* FUTEX_WAIT */
    case 9: /* FUTEX_WAIT_BITSET */
        /* one thread: nobody could wake it */
        return *(const uint32_t *)(uintptr_t)uaddr != val ? -EAGAIN : -ETIMEDOUT;
    case 1:  /* FUTEX_WAKE */
    case 10: /* FUTEX_WAKE_BITSET */
        return 0;
    default:
        return -ENOSYS;
    }
}

void linux_syscall(struct sys_frame *f)
{
    uint64_t nr = f->rax, a0 = f->rdi, a1 = f->rsi, a2 = f->rdx, a3 = f->r10, a4 = f->r8,
             a5 = f->r9;
    linux_sys_now = (struct linux_sys_now){nr, {a0, a1, a2, a3, a4, a5}, f->rcx};
    long r;
    switch (nr) {
    case SYS_read:
        r = sys_read((int)a0, a1, a2);
        break;
    case SYS_write:
        r = sys_write((int)a0, a1, a2);
        break;
    case SYS_open:
        r = sys_openat(-100, a0, (int)a1, (int)a2);
        break;
    case SYS_openat:
        r = sys_openat((int)a0, a1, (int)a2, (int)a3);
        break;
    case SYS_close:
        r = sys_close((int)a0);
        break;
    case SYS_stat:
        r = sys_fstatat(-100, a0, a1, 0);
        break;
    case SYS_lstat:
        r = sys_fstatat(-100, a0, a1, 0x100);
        break;
    case SYS_fstat:
        r = sys_fstatat((int)a0, 0, a1, 0);
        break;
    case SYS_newfstatat:
        r = sys_fstatat((int)a0, a1, a2, (int)a3);
        break;
    case SYS_statx:
        r = sys_statx((int)a0, a1, (int)a2, (unsigned)a3, a4);
        break;
    case SYS_lseek:
        r = sys_lseek((int)a0, (int64_t)a1, (int)a2);
        break;
    case SYS_pread64:
        r = sys_pread((int)a0, a1, a2, (int64_t)a3);
        break;
    case SYS_readv:
        r = sys_readv((int)a0, a1, (int)a2, 0);
        break;
    case SYS_writev:
        r = sys_readv((int)a0, a1, (int)a2, 1);
        break;
    case SYS_getdents64:
        r = sys_getdents64((int)a0, a1, a2);
        break;
    case SYS_ioctl:
        r = sys_ioctl((int)a0, a1, a2);
        break;
    case SYS_fcntl:
        r = sys_fcntl((int)a0, (int)a1, a2);
        break;
    case SYS_dup:
        r = sys_dup3((int)a0, 0, 0, 1);
        break;
    case SYS_dup2:
        r = sys_dup3((int)a0, (int)a1, -1, 0);
        break;
    case SYS_dup3:
        r = (a2 & ~02000000ull) ? -EINVAL : sys_dup3((int)a0, (int)a1, (int)a2, 0);
        break;
    case SYS_pipe:
        r = sys_pipe2(a0, 0);
        break;
    case SYS_pipe2:
        r = sys_pipe2(a0, (int)a1);
        break;
    case SYS_access:
        r = sys_faccessat(-100, a0, (int)a1);
        break;
    case SYS_faccessat:
    case SYS_faccessat2:
        r = sys_faccessat((int)a0, a1, (int)a2);
        break;
    case SYS_readlink:
        r = sys_readlinkat(-100, a0, a1, a2);
        break;
    case SYS_readlinkat:
        r = sys_readlinkat((int)a0, a1, a2, a3);
        break;
    case SYS_getcwd:
        r = sys_getcwd(a0, a1);
        break;
    case SYS_chdir:
        r = sys_chdir(a0, -1);
        break;
    case SYS_fchdir:
        r = sys_chdir(0, (int)a0);
        break;
    case SYS_unlink:
        r = sys_pathop(PVRR_FS_UNLINK, -100, a0, 0, 0, 0);
        break;
    case SYS_unlinkat:
        r = sys_pathop((a2 & 0x200) ? PVRR_FS_RMDIR : PVRR_FS_UNLINK, (int)a0, a1, 0, 0, 0);
        break;
    case SYS_rmdir:
        r = sys_pathop(PVRR_FS_RMDIR, -100, a0, 0, 0, 0);
        break;
    case SYS_mkdir:
        r = sys_pathop(PVRR_FS_MKDIR, -100, a0, 0, 0, (int)a1);
        break;
    case SYS_mkdirat:
        r = sys_pathop(PVRR_FS_MKDIR, (int)a0, a1, 0, 0, (int)a2);
        break;
    case SYS_rename:
        r = sys_pathop(PVRR_FS_RENAME, -100, a0, -100, a1, 0);
        break;
    case SYS_renameat:
        r = sys_pathop(PVRR_FS_RENAME, (int)a0, a1, (int)a2, a3, 0);
        break;
    case SYS_renameat2:
        r = a4 ? -EINVAL : sys_pathop(PVRR_FS_RENAME, (int)a0, a1, (int)a2, a3, 0);
        break;
    case SYS_brk:
        r = sys_brk(a0);
        break;
    case SYS_mmap:
        r = sys_mmap(a0, a1, (int)a2, (int)a3, (int)a4, (int64_t)a5);
        break;
    case SYS_munmap:
        r = sys_munmap(a0, a1);
        break;
    case SYS_mremap:
        r = sys_mremap(a0, a1, a2, (int)a3, a4);
        break;
    case SYS_mprotect:
        r = sys_mprotect(a0, a1, (int)a2);
        break;
    case SYS_madvise:
    case SYS_fsync:
    case SYS_fdatasync:
    case SYS_sched_yield:
    case SYS_set_robust_list:
    case SYS_sigaltstack:
        r = 0;
        break;
    case SYS_exit:
    case SYS_exit_group:
        kexit((int)a0);
    case SYS_uname:
        r = do_uname(a0);
        break;
    case SYS_arch_prctl:
        r = do_arch_prctl((int)a0, a1);
        break;
    case SYS_set_tid_address:
    case SYS_getpid:
    case SYS_gettid:
        r = PID;
        break;
    case SYS_getppid:
        r = 0;
        break;
    case SYS_getuid:
    case SYS_geteuid:
    case SYS_getgid:
    case SYS_getegid:
        r = 0;
        break;
    case SYS_getpgrp:
    case SYS_getsid:
    case SYS_getpgid:
        r = PID;
        break;
    case SYS_umask:
        r = 022;
        break;
    case SYS_clock_gettime:
        r = do_clock((int)a0, a1);
        break;
    case SYS_clock_getres:
        if (a1 && user_ok(a1, 16)) {
            uint64_t *o = (uint64_t *)(uintptr_t)a1;
            o[0] = 0;
            o[1] = 1;
        }
        r = 0;
        break;
    case SYS_gettimeofday:
        r = 0;
        if (a0) {
            uint64_t ts[2];
            uint64_t mono, wall;
            pvrr_clock(&mono, &wall);
            ts[0] = wall / 1000000000ull;
            ts[1] = wall % 1000000000ull / 1000;
            if (!user_ok(a0, 16))
                r = -EFAULT;
            else
                memcpy((void *)(uintptr_t)a0, ts, 16);
        }
        break;
    case SYS_time: {
        uint64_t wall;
        pvrr_clock(NULL, &wall);
        r = (long)(wall / 1000000000ull);
        if (a0) {
            if (user_ok(a0, 8))
                *(uint64_t *)(uintptr_t)a0 = (uint64_t)r;
            else
                r = -EFAULT;
        }
        break;
    }
    case SYS_nanosleep:
        r = do_nanosleep(1, 0, a0, a1);
        break;
    case SYS_clock_nanosleep:
        r = do_nanosleep((int)a0, (int)a1, a2, a3);
        break;
    case SYS_getrandom:
        r = do_getrandom(a0, a1);
        break;
    case SYS_prlimit64:
        r = do_prlimit((int)a0, (int)a1, a2, a3);
        break;
    case SYS_getrlimit:
        r = do_prlimit(0, (int)a0, 0, a1);
        break;
    case SYS_setrlimit:
        r = 0;
        break;
    case SYS_sched_getaffinity:
        r = do_sched_getaffinity((int)a0, a1, a2);
        break;
    case SYS_rt_sigaction:
        r = do_sigaction((int)a0, a1, a2, a3);
        break;
    case SYS_rt_sigprocmask:
        r = do_sigprocmask((int)a0, a1, a2, a3);
        break;
    case SYS_kill:
        r = do_kill((int)a0, (int)a1, f->rcx);
        break;
    case SYS_tkill:
        r = do_kill(PID, (int)a1, f->rcx);
        break;
    case SYS_tgkill:
        r = do_kill((int)a0, (int)a2, f->rcx);
        break;
    case SYS_prctl:
        r = do_prctl((int)a0, a1);
        break;
    case SYS_sysinfo:
        r = do_sysinfo(a0);
        break;
    case SYS_futex:
        r = do_futex(a0, (int)a1, (uint32_t)a2);
        break;
    case SYS_wait4:
    case SYS_waitid:
        r = -ECHILD;
        break;
    case SYS_clone:
    case SYS_clone3:
    case SYS_fork:
    case SYS_vfork:
    case SYS_execve:
    case SYS_execveat:
        warn_once(nr, f->rcx, "is not supported (one process, one thread): returning ENOSYS");
        r = -ENOSYS;
        break;
    case SYS_rseq:
        r = -ENOSYS; /* glibc does without */
        break;
    default:
        warn_once(nr, f->rcx, "is not supported: returning ENOSYS");
        r = -ENOSYS;
    }
    if (linux_trace)
        kmsg("%s(0x%llx, 0x%llx, 0x%llx, 0x%llx) = %ld  [rip 0x%llx]", sys_name(nr),
             (unsigned long long)a0, (unsigned long long)a1, (unsigned long long)a2,
             (unsigned long long)a3, r, (unsigned long long)f->rcx);
    linux_sys_now.nr = ~0ull;
    f->rax = (uint64_t)r;
}
