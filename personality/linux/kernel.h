/*
 * kernel.h - the pvrr Linux personality: a small guest kernel that runs one
 * unmodified static x86-64 Linux program in ring 3 and serves its system
 * calls over pvrr hypercalls (docs/linux-personality.md).
 *
 * Memory (guest virtual = guest physical, one address space):
 *   [0, 4 MiB)            the kernel (SDK image, its stacks); user access faults
 *   [4 MiB, user_hi)      the user window: program image, brk heap, mmap area,
 *                         stack at the top; every page is mapped (U=1)
 *   [user_hi, mem_size)   the SDK's boot stack and guard page (kernel only)
 * A user pointer is valid iff it lies inside the user window: nothing else is
 * needed to keep a wild pointer from reaching the kernel (no SMAP/SMEP).
 *
 * Files: main.c sets up the CPU and starts the program, syscall.c
 * dispatches system calls, files.c owns file descriptors, mm.c owns memory.
 */
#ifndef PVRR_LINUX_KERNEL_H
#define PVRR_LINUX_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "pvrr_abi.h"

/* Linux errno values (the x86-64 ABI's). */
#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define EINTR 4
#define EIO 5
#define EBADF 9
#define ECHILD 10
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EEXIST 17
#define EXDEV 18
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define ENFILE 23
#define EMFILE 24
#define ENOTTY 25
#define ESPIPE 29
#define EROFS 30
#define EPIPE 32
#define ERANGE 34
#define ENAMETOOLONG 36
#define ENOSYS 38
#define ENOTEMPTY 39
#define ELOOP 40
#define ETIMEDOUT 110

#define PAGE 4096ull
#define USER_LO LINUX_USER_LO
#define USER_STACK_SIZE (8ull << 20)

/* The registers saved at a `syscall` (entry.S pushes them in this order). */
struct sys_frame {
    uint64_t r15, r14, r13, r12, rbp, rbx;
    uint64_t r11; /* user rflags */
    uint64_t r10, r9, r8;
    uint64_t rax; /* number in, result out */
    uint64_t rcx; /* user rip */
    uint64_t rdx, rsi, rdi;
    uint64_t rsp; /* user rsp */
};

/* The system call being served, for tools that look at a replay (`pvrr dump`
 * names the call behind each hypercall from it): nr is ~0 outside a call.
 * Layout fixed: u64 nr, args[6], rip (the user rip after `syscall`). */
struct linux_sys_now {
    uint64_t nr;
    uint64_t args[6];
    uint64_t rip;
};
extern struct linux_sys_now linux_sys_now;

/* ---- main.c ---- */
extern uint64_t user_hi;        /* end of the user window */
extern int linux_trace;         /* report every system call on stderr (PVRR_LINUX_TRACE=1) */
extern const char *exe_path;    /* the program's guest path */
extern char cwd[PVRR_PATH_MAX]; /* current directory, absolute, normalised */

/* 1 if [p, p+len) lies inside the user window. */
int user_ok(uint64_t p, uint64_t len);
/* Length of the NUL-terminated user string at (p) if it fits in (max)
 * bytes with its NUL and lies in the user window, else -EFAULT or
 * -ENAMETOOLONG. */
long user_strlen(uint64_t p, size_t max);

/* Messages of the kernel to pvrr's stderr, prefixed "pvrr-linux: ". */
void kmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Write bytes to stdout (1) or stderr (2) through the console hypercalls. */
int console_out(int which, const void *buf, size_t len);
/* End the program with (status) (exit_group). */
_Noreturn void kexit(int status);

/* ---- syscall.c ---- */
extern char linux_comm[16]; /* the program's name (prctl PR_GET_NAME) */
/* Serve the system call in (f); the result goes to f->rax. */
void linux_syscall(struct sys_frame *f);
/* A fault in user mode: report it as the signal Linux would send, and end
 * the program as that signal's default action does. */
_Noreturn void linux_user_fault(uint64_t vector, uint64_t error, uint64_t rip);

/* ---- files.c ---- */
void files_init(void);
long sys_read(int fd, uint64_t buf, uint64_t len);
long sys_write(int fd, uint64_t buf, uint64_t len);
long sys_pread(int fd, uint64_t buf, uint64_t len, int64_t off);
long sys_readv(int fd, uint64_t iov, int cnt, int write);
long sys_openat(int dirfd, uint64_t path, int flags, int mode);
long sys_close(int fd);
long sys_lseek(int fd, int64_t off, int whence);
long sys_fstatat(int dirfd, uint64_t path, uint64_t buf, int flags);
long sys_statx(int dirfd, uint64_t path, int flags, unsigned mask, uint64_t buf);
long sys_getdents64(int fd, uint64_t buf, uint64_t len);
long sys_ioctl(int fd, unsigned long req, uint64_t arg);
long sys_fcntl(int fd, int cmd, uint64_t arg);
long sys_dup3(int old, int newfd, int flags, int any);
long sys_pipe2(uint64_t fds, int flags);
long sys_faccessat(int dirfd, uint64_t path, int mode);
long sys_readlinkat(int dirfd, uint64_t path, uint64_t buf, uint64_t len);
long sys_getcwd(uint64_t buf, uint64_t len);
long sys_chdir(uint64_t path, int fd);
long sys_pathop(int op, int dirfd, uint64_t path, int dirfd2, uint64_t path2, int mode);
/* Read (len) bytes at (off) of open file (fd) into kernel or user memory
 * (for file mappings and the program loader). Returns bytes or -errno. */
long file_pread_raw(int fd, void *buf, uint64_t len, uint64_t off);
/* Size of the open file (fd) as of its opening, or -EBADF. */
long file_size(int fd);
/* Open (path) (absolute) read-only for the kernel; returns an fd or -errno. */
long file_open_kernel(const char *path);

/* ---- mm.c ---- */
/* Set up the page allocator: [USER_LO, user_hi) with [lo, hi) used by the
 * program image and the stack region reserved. */
void mm_init(uint64_t image_lo, uint64_t image_hi);
long sys_brk(uint64_t addr);
long sys_mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd, int64_t off);
long sys_munmap(uint64_t addr, uint64_t len);
long sys_mremap(uint64_t old, uint64_t oldlen, uint64_t newlen, int flags, uint64_t newaddr);
long sys_mprotect(uint64_t addr, uint64_t len, int prot);

#endif /* PVRR_LINUX_KERNEL_H */
