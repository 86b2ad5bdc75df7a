/*
 * pvrr_abi.h - the paravirtual guest ABI, shared by guest and host.
 *
 * This header is the whole contract between a pvrr guest and the pvrr monitor.
 * It is plain C11 and compiles both freestanding (guest SDK) and hosted (monitor).
 *
 * THE NONDETERMINISM CONTRACT
 *   The hypercall boundary defined here is the ONLY way nondeterministic input
 *   reaches a guest. A conforming guest:
 *     - never executes rdtsc, rdtscp, rdrand, rdseed or rdpid: time comes from
 *       PVRR_HC_CLOCK, entropy from PVRR_HC_RANDOM;
 *     - receives no asynchronous interrupts: events (console input, timer
 *       deadlines) are delivered only as results of PVRR_HC_POLL;
 *     - runs on one vCPU, with a CPUID table fixed by the monitor.
 *   Everything a guest computes is then a function of its ELF image, its
 *   command line and the bytes hypercalls write into its memory. pvrr records
 *   exactly those bytes and can replay the guest bit for bit, on machines with
 *   no performance counters. A guest that breaks the contract still runs, but
 *   its replay diverges and pvrr reports where.
 *
 * TRANSPORT
 *   The guest fills one argument struct per hypercall in its own memory and
 *   executes `outl %eax, %dx` with dx = PVRR_HC_PORT_BASE + number and eax = the
 *   guest-physical address of the struct (guest memory is identity mapped, so
 *   this is the struct's address). The monitor copies the struct in once,
 *   validates the copy, acts, and writes the struct back. Fields are grouped
 *   under IN (read by the monitor), OUT (written by the monitor).
 *   Structs live below 4 GiB: guest RAM is at most PVRR_MEM_MAX.
 *
 * MEMORY LAYOUT (guest-physical = guest-virtual, identity mapped)
 *   [0, 4 KiB)                 unmapped: a NULL dereference faults
 *   [4 KiB, 1 MiB)             monitor-owned: GDT, boot info, page tables
 *   [1 MiB, image end)         the guest ELF's PT_LOAD segments
 *   [image end, guard)         free (the SDK's heap)
 *   [guard, guard + 4 KiB)     unmapped: a stack overflow faults here
 *   [mem_size - PVRR_STACK_SIZE, mem_size)  the stack; rsp starts at mem_size
 *   where guard = mem_size - PVRR_STACK_SIZE - 4 KiB (no guard if it would
 *   fall inside the image).
 */
#ifndef PVRR_ABI_H
#define PVRR_ABI_H

#include <stdint.h>

/* Bumped on any incompatible change to a struct, a number or the layout. */
#define PVRR_ABI_VERSION 1

/* First I/O port of the hypercall range; port = base + hypercall number. */
#define PVRR_HC_PORT_BASE 0x500

/* The hypercall instruction's opcode: `outl %eax, %dx` is the one byte 0xef
 * (the SDK emits no prefix). Reverse execution finds a hypercall's instruction
 * one byte before the rip it returns to. */
#define PVRR_HC_INSN 0xef

/*
 * Guest pointers: a real pointer in the guest, an opaque guest-physical
 * address on the host so host code cannot dereference one by accident. Both
 * are 8 bytes, so struct layouts agree.
 */
#ifdef PVRR_HOST
typedef uint64_t pvrr_gpa_t;
#define PVRR_GUEST_PTR(type) pvrr_gpa_t
#else
#define PVRR_GUEST_PTR(type) type
#endif

enum pvrr_hc {
    PVRR_HC_NOP = 0,       /* does nothing; the cheapest round trip */
    PVRR_HC_CONSOLE_WRITE, /* write bytes to the console (stdout) */
    PVRR_HC_CONSOLE_READ,  /* read available console input, never blocks */
    PVRR_HC_CLOCK,         /* monotonic and wall-clock time */
    PVRR_HC_RANDOM,        /* random bytes */
    PVRR_HC_BLK_INFO,      /* block device geometry */
    PVRR_HC_BLK_READ,      /* read sectors */
    PVRR_HC_BLK_WRITE,     /* write sectors */
    PVRR_HC_POLL,          /* block until an event or a deadline */
    PVRR_HC_EXIT,          /* terminate with a status */
    PVRR_HC_PANIC,         /* terminate with a message */
    /* Added for the Linux personality (docs/linux-personality.md); new
     * numbers only ever go at the end, so older recordings still replay. */
    PVRR_HC_STDERR_WRITE, /* write bytes to the error console (stderr) */
    PVRR_HC_FS_OPEN,      /* open a host file by guest path */
    PVRR_HC_FS_READ,      /* read from an open file at an offset */
    PVRR_HC_FS_WRITE,     /* write to an open file at an offset */
    PVRR_HC_FS_CLOSE,     /* close an open file */
    PVRR_HC_FS_STAT,      /* status of an open file */
    PVRR_HC_FS_READDIR,   /* directory entries of an open directory */
    PVRR_HC_FS_PATHOP,    /* unlink, mkdir, rmdir, rename, readlink by path */
    PVRR_HC_MAX
};

/* Result codes returned in the `ret` field of hypercalls that have one. */
enum pvrr_result {
    PVRR_OK = 0,
    PVRR_EINVAL = 1,  /* bad argument (e.g. unaligned sector, too long) */
    PVRR_EUNSPEC = 2, /* the device is absent or failed */
    PVRR_EIO = 3,     /* the host I/O failed */
};

/* Largest single console write, random request or block transfer (bytes). */
#define PVRR_IO_MAX (1u << 20)
/* Block device sector size (bytes). */
#define PVRR_BLK_SECTOR 512u
/* Largest guest RAM: argument structs must have 32-bit addresses. */
#define PVRR_MEM_MAX (4ull << 30)

struct pvrr_hc_nop {
    /* IN */
    uint64_t unused;
};

struct pvrr_hc_console_write {
    /* IN */
    PVRR_GUEST_PTR(const char *) data;
    uint64_t len; /* at most PVRR_IO_MAX */
    /* OUT */
    int32_t ret; /* enum pvrr_result */
    uint32_t pad;
};

struct pvrr_hc_console_read {
    /* IN */
    PVRR_GUEST_PTR(char *) data;
    uint64_t len; /* buffer size, at most PVRR_IO_MAX */
    /* OUT */
    uint64_t nread; /* bytes stored, 0 if no input is ready */
    int32_t eof;    /* 1 once the input has ended and was fully read */
    int32_t ret;    /* enum pvrr_result */
};

struct pvrr_hc_clock {
    /* OUT */
    uint64_t monotonic_ns; /* since an arbitrary start, never decreases */
    uint64_t wall_ns;      /* since the Unix epoch */
};

struct pvrr_hc_random {
    /* IN */
    PVRR_GUEST_PTR(void *) data;
    uint64_t len; /* at most PVRR_IO_MAX */
    /* OUT */
    int32_t ret;
    uint32_t pad;
};

struct pvrr_hc_blk_info {
    /* OUT */
    uint64_t sector_size; /* PVRR_BLK_SECTOR */
    uint64_t sectors;     /* 0 when no disk is attached */
    int32_t present;      /* 1 when a disk is attached */
    int32_t writable;
};

struct pvrr_hc_blk_io { /* PVRR_HC_BLK_READ and PVRR_HC_BLK_WRITE */
    /* IN */
    uint64_t sector;
    PVRR_GUEST_PTR(void *) data;
    uint64_t len; /* multiple of PVRR_BLK_SECTOR, at most PVRR_IO_MAX */
    /* OUT */
    int32_t ret;
    uint32_t pad;
};

/* Event bits for pvrr_hc_poll. */
#define PVRR_EV_CONSOLE_IN 0x1u /* PVRR_HC_CONSOLE_READ would return data or eof */

struct pvrr_hc_poll {
    /* IN */
    uint64_t deadline_ns; /* monotonic time to wake up at; 0 = return at once */
    uint32_t events;      /* PVRR_EV_* to wait for */
    uint32_t pad;
    /* OUT */
    uint32_t ready; /* PVRR_EV_* that are ready (0: the deadline passed) */
    uint32_t pad2;
    uint64_t monotonic_ns; /* the time at wake-up */
};

struct pvrr_hc_exit {
    /* IN */
    int32_t status; /* becomes the exit status of pvrr (0..255) */
    uint32_t pad;
};

struct pvrr_hc_panic {
    /* IN */
    PVRR_GUEST_PTR(const char *) msg; /* e.g. "kvstore.c:88: assertion failed: x" */
    uint64_t len;                     /* at most PVRR_PANIC_MAX */
};
#define PVRR_PANIC_MAX 4096u

/*
 * FILES (PVRR_HC_FS_*)
 *   The monitor exposes a namespace of host files to the guest by absolute
 *   guest path: an optional root directory (read-only), single files, and an
 *   optional writable directory; what is exposed is the user's choice on pvrr's
 *   command line. Paths are absolute, '/'-separated, without "." or ".."
 *   components (the guest normalises them); the monitor never lets a path or a
 *   symbolic link escape its directory. Every result (file contents included)
 *   is recorded, so a replay needs no host file. `ret` fields hold 0 or a
 *   negative Linux errno value (e.g. -2 for ENOENT).
 */
#define PVRR_PATH_MAX 4096u

/* pvrr_hc_fs_open.flags */
#define PVRR_FS_WRITE 0x1u     /* open for writing too */
#define PVRR_FS_CREATE 0x2u    /* create if missing (writable area only) */
#define PVRR_FS_TRUNC 0x4u     /* truncate to 0 bytes */
#define PVRR_FS_EXCL 0x8u      /* with CREATE: fail if it exists */
#define PVRR_FS_DIR 0x10u      /* must be a directory */
#define PVRR_FS_NOFOLLOW 0x20u /* do not follow a final symbolic link (stat only) */
#define PVRR_FS_PATH 0x40u     /* open only to stat it (any file type) */

/* File status, as the guest's stat() needs it (the other fields of a Linux
 * struct stat are derived by the guest). */
struct pvrr_fs_statbuf {
    uint64_t ino;
    uint64_t size;
    uint64_t mtime_ns; /* since the Unix epoch */
    uint32_t mode;     /* Linux st_mode: type and permission bits */
    uint32_t nlink;
    uint32_t uid;
    uint32_t gid;
};

struct pvrr_hc_fs_open {
    /* IN */
    PVRR_GUEST_PTR(const char *) path;
    uint64_t path_len; /* bytes, no NUL, at most PVRR_PATH_MAX */
    uint32_t flags;    /* PVRR_FS_* */
    uint32_t mode;     /* permission bits for CREATE */
    /* OUT */
    int32_t handle; /* >= 0 */
    int32_t ret;
};

struct pvrr_hc_fs_io { /* PVRR_HC_FS_READ and PVRR_HC_FS_WRITE */
    /* IN */
    int32_t handle;
    uint32_t pad;
    uint64_t offset;
    PVRR_GUEST_PTR(void *) data;
    uint64_t len; /* at most PVRR_IO_MAX */
    /* OUT */
    uint64_t done; /* bytes read (0 at end of file) or written */
    int32_t ret;
    uint32_t pad2;
};

struct pvrr_hc_fs_close {
    /* IN */
    int32_t handle;
    /* OUT */
    int32_t ret;
};

struct pvrr_hc_fs_stat {
    /* IN */
    int32_t handle;
    /* OUT */
    int32_t ret;
    struct pvrr_fs_statbuf st;
};

/* Fills (data, len) with records laid out as Linux's struct linux_dirent64
 * (u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, NUL-terminated d_name,
 * padded to 8 bytes), starting at entry number (cookie); d_off of a record
 * is the cookie of the entry after it. "." and ".." come first. */
struct pvrr_hc_fs_readdir {
    /* IN */
    int32_t handle;
    uint32_t pad;
    uint64_t cookie;
    PVRR_GUEST_PTR(void *) data;
    uint64_t len; /* at most PVRR_IO_MAX */
    /* OUT */
    uint64_t done; /* bytes stored; 0 at the end of the directory */
    uint64_t next; /* cookie to continue from */
    int32_t ret;   /* -EINVAL if not even one record fits */
    uint32_t pad2;
};

enum pvrr_fs_pathop {
    PVRR_FS_UNLINK = 1, /* path */
    PVRR_FS_MKDIR,      /* path, mode */
    PVRR_FS_RMDIR,      /* path */
    PVRR_FS_RENAME,     /* path -> path2 */
    PVRR_FS_READLINK,   /* path; the link text goes to path2's buffer, done = its length */
};

struct pvrr_hc_fs_pathop {
    /* IN */
    uint32_t op; /* enum pvrr_fs_pathop */
    uint32_t mode;
    PVRR_GUEST_PTR(const char *) path;
    uint64_t path_len;
    PVRR_GUEST_PTR(char *) path2; /* second path (rename) or output buffer (readlink) */
    uint64_t path2_len;
    /* OUT */
    uint64_t done;
    int32_t ret;
    uint32_t pad;
};

/* Exit status of pvrr when the guest panicked or faulted. */
#define PVRR_STATUS_PANIC 255

/* Boot information, at PVRR_BOOT_INFO_GPA; rdi holds its address at entry. */
#define PVRR_BOOT_INFO_GPA 0x2000ull
#define PVRR_BOOT_MAGIC 0x52525650u /* "PVRR" */
#define PVRR_CMDLINE_MAX 2048u

struct pvrr_boot_info {
    uint32_t magic;       /* PVRR_BOOT_MAGIC */
    uint32_t abi_version; /* PVRR_ABI_VERSION */
    uint64_t mem_size;    /* bytes of guest RAM, from address 0 */
    uint64_t image_end;   /* first byte after the loaded ELF image, page aligned */
    uint32_t cmdline_len; /* bytes, without the terminating NUL */
    uint32_t pad;
    char cmdline[PVRR_CMDLINE_MAX]; /* NUL-terminated, arguments separated by spaces */
};

/* Size of the initial stack at the top of RAM, below which one page is left
 * unmapped as a guard. */
#define PVRR_STACK_SIZE (1ull << 20)

/* Lowest address a guest ELF segment may occupy. */
#define PVRR_IMAGE_MIN 0x100000ull

#endif /* PVRR_ABI_H */
