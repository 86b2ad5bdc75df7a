/*
 * files.h - what files.c (descriptors, open file descriptions, I/O) and
 * paths.c (path resolution, status, directories, path operations) share.
 * Internal to the Linux personality.
 */
#ifndef PVRR_LINUX_FILES_H
#define PVRR_LINUX_FILES_H

#include "kernel.h"

#define MAX_FDS 256
#define MAX_OFDS 256
#define PIPE_BUF_SIZE 65536

#define O_ACCMODE 3
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0100
#define O_EXCL 0200
#define O_TRUNC 01000
#define O_APPEND 02000
#define O_NONBLOCK 04000
#define O_DIRECTORY 0200000
#define O_NOFOLLOW 0400000
#define O_CLOEXEC 02000000
#define O_PATH 010000000
#define AT_FDCWD (-100)
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_EMPTY_PATH 0x1000

#define S_IFMT 0170000
#define S_IFDIR 0040000
#define S_IFCHR 0020000
#define S_IFIFO 0010000
#define S_IFREG 0100000

enum kind {
    K_FREE = 0,
    K_CONSOLE_IN,
    K_CONSOLE_OUT,
    K_CONSOLE_ERR,
    K_HOST,
    K_NULL,
    K_ZERO,
    K_RANDOM,
    K_PIPE_R,
    K_PIPE_W
};

struct pipe {
    uint8_t buf[PIPE_BUF_SIZE];
    uint64_t head, tail; /* bytes written / read so far */
    int readers, writers;
};

struct ofd {
    int refs;
    enum kind kind;
    int handle; /* K_HOST: the monitor's handle */
    int flags;  /* O_* given at open */
    uint64_t pos;
    uint64_t size;
    uint32_t mode;
    struct pipe *pipe;
    char path[256]; /* absolute guest path, for *at() relative to a directory */
};

extern struct ofd ofds[MAX_OFDS];
extern char cwd[PVRR_PATH_MAX];

/* The open file description of descriptor (fd), or NULL. */
struct ofd *fd_get(int fd);
/* Drop one reference to (o); the last one closes it (at the monitor too). */
void ofd_put(struct ofd *o);
/* Open the absolute normalised path (p) as a new description; returns its
 * index in ofds[] or -errno. Serves /dev/null, /dev/zero, /dev/urandom,
 * /dev/std* and /proc/self/exe itself. */
long ofd_open(const char *p, int flags, int mode);
/* The FS_STAT hypercall for monitor handle (handle); returns 0 or -errno. */
int hc_stat(int handle, struct pvrr_fs_statbuf *st);
/* Make (in), relative to (base) unless absolute, an absolute path with "."
 * and ".." resolved lexically, in (out, outlen). Returns 0 or -errno. */
int path_normalise(const char *base, const char *in, char *out, size_t outlen);
/* The user path (upath) relative to (dirfd) (AT_FDCWD: the current
 * directory), checked and normalised into (out) (PVRR_PATH_MAX bytes). */
long path_user(int dirfd, uint64_t upath, char *out);

#endif /* PVRR_LINUX_FILES_H */
