/*
 * files.c - file descriptors of the program: the console (stdin, stdout,
 * stderr), host files and directories through the PVRR_HC_FS_* hypercalls,
 * /dev/null, /dev/zero, /dev/urandom, and pipes inside the process.
 *
 * A descriptor points at an open file description (shared by dup, with one
 * offset), as on Linux. Paths are made absolute against the current
 * directory and normalised ("." and ".." resolved lexically) before they go
 * to the monitor, which resolves them inside the exposed directories.
 */
#include "kernel.h"

#include <pvrr/guest.h>
#include <string.h>

#include "files.h"

struct ofd ofds[MAX_OFDS];
static int fds[MAX_FDS]; /* index into ofds, or -1 */
static int cloexec[MAX_FDS];
static struct pipe pipes[4];
static int pipe_used[4];
static int console_eof;

static int new_ofd(enum kind k, int flags)
{
    for (int i = 0; i < MAX_OFDS; i++) {
        if (ofds[i].refs == 0) {
            memset(&ofds[i], 0, sizeof ofds[i]);
            ofds[i].refs = 1;
            ofds[i].kind = k;
            ofds[i].flags = flags;
            ofds[i].handle = -1;
            return i;
        }
    }
    return -1;
}

/* The lowest free descriptor >= (min) bound to ofd (o), or -EMFILE. */
static int bind_fd(int o, int min)
{
    for (int fd = min; fd < MAX_FDS; fd++) {
        if (fds[fd] < 0) {
            fds[fd] = o;
            cloexec[fd] = 0;
            return fd;
        }
    }
    return -EMFILE;
}

void files_init(void)
{
    for (int i = 0; i < MAX_FDS; i++)
        fds[i] = -1;
    fds[0] = new_ofd(K_CONSOLE_IN, 0);
    fds[1] = new_ofd(K_CONSOLE_OUT, O_WRONLY);
    fds[2] = new_ofd(K_CONSOLE_ERR, O_WRONLY);
}

struct ofd *fd_get(int fd)
{
    if (fd < 0 || fd >= MAX_FDS || fds[fd] < 0)
        return NULL;
    return &ofds[fds[fd]];
}

void ofd_put(struct ofd *o)
{
    if (--o->refs > 0)
        return;
    if (o->kind == K_HOST) {
        struct pvrr_hc_fs_close a = {.handle = o->handle};
        pvrr_hypercall(PVRR_HC_FS_CLOSE, &a);
    } else if (o->kind == K_PIPE_R || o->kind == K_PIPE_W) {
        if (o->kind == K_PIPE_R)
            o->pipe->readers--;
        else
            o->pipe->writers--;
        if (o->pipe->readers == 0 && o->pipe->writers == 0)
            pipe_used[o->pipe - pipes] = 0;
    }
    o->kind = K_FREE;
}

long sys_close(int fd)
{
    struct ofd *o = fd_get(fd);
    if (!o)
        return -EBADF;
    fds[fd] = -1;
    ofd_put(o);
    return 0;
}

int hc_stat(int handle, struct pvrr_fs_statbuf *st)
{
    struct pvrr_hc_fs_stat a = {.handle = handle};
    pvrr_hypercall(PVRR_HC_FS_STAT, &a);
    *st = a.st;
    return a.ret;
}

/* Open absolute path (p) at the monitor; returns a handle or -errno. */
static int hc_open(const char *p, uint32_t flags, uint32_t mode)
{
    struct pvrr_hc_fs_open a = {.path = p, .path_len = strlen(p), .flags = flags, .mode = mode};
    pvrr_hypercall(PVRR_HC_FS_OPEN, &a);
    return a.ret < 0 ? a.ret : a.handle;
}

static void hc_close(int handle)
{
    struct pvrr_hc_fs_close a = {.handle = handle};
    pvrr_hypercall(PVRR_HC_FS_CLOSE, &a);
}

/* Open the normalised path (p) as a new ofd; returns the ofd or -errno. */
long ofd_open(const char *p, int flags, int mode)
{
    enum kind special = K_FREE;
    if (strcmp(p, "/dev/null") == 0)
        special = K_NULL;
    else if (strcmp(p, "/dev/zero") == 0)
        special = K_ZERO;
    else if (strcmp(p, "/dev/urandom") == 0 || strcmp(p, "/dev/random") == 0)
        special = K_RANDOM;
    else if (strcmp(p, "/dev/stdin") == 0 || strcmp(p, "/dev/fd/0") == 0)
        special = K_CONSOLE_IN;
    else if (strcmp(p, "/dev/stdout") == 0 || strcmp(p, "/dev/fd/1") == 0)
        special = K_CONSOLE_OUT;
    else if (strcmp(p, "/dev/stderr") == 0 || strcmp(p, "/dev/fd/2") == 0)
        special = K_CONSOLE_ERR;
    if (special != K_FREE) {
        int o = new_ofd(special, flags);
        if (o < 0)
            return -ENFILE;
        ofds[o].mode = S_IFCHR | 0666;
        return o;
    }
    if (strcmp(p, "/proc/self/exe") == 0)
        p = exe_path;
    uint32_t hf = 0;
    if (flags & O_PATH)
        hf |= PVRR_FS_PATH | ((flags & O_NOFOLLOW) ? PVRR_FS_NOFOLLOW : 0);
    else if ((flags & O_ACCMODE) != 0)
        hf |= PVRR_FS_WRITE;
    if (flags & O_CREAT)
        hf |= PVRR_FS_CREATE;
    if (flags & O_TRUNC)
        hf |= PVRR_FS_TRUNC;
    if (flags & O_EXCL)
        hf |= PVRR_FS_EXCL;
    if (flags & O_DIRECTORY)
        hf |= PVRR_FS_DIR;
    int h = hc_open(p, hf, (uint32_t)mode);
    if (h < 0)
        return h;
    struct pvrr_fs_statbuf st;
    int rc = hc_stat(h, &st);
    if (rc < 0) {
        hc_close(h);
        return rc;
    }
    int o = new_ofd(K_HOST, flags);
    if (o < 0) {
        hc_close(h);
        return -ENFILE;
    }
    ofds[o].handle = h;
    ofds[o].size = st.size;
    ofds[o].mode = st.mode;
    size_t pl = strlen(p);
    if (pl < sizeof ofds[o].path)
        memcpy(ofds[o].path, p, pl + 1);
    return o;
}

long sys_openat(int dirfd, uint64_t upath, int flags, int mode)
{
    char p[PVRR_PATH_MAX];
    long rc = path_user(dirfd, upath, p);
    if (rc < 0)
        return rc;
    long o = ofd_open(p, flags, mode);
    if (o < 0)
        return o;
    long fd = bind_fd((int)o, 0);
    if (fd < 0) {
        ofd_put(&ofds[o]);
        return fd;
    }
    cloexec[fd] = (flags & O_CLOEXEC) != 0;
    return fd;
}

long file_size(int fd)
{
    struct ofd *o = fd_get(fd);
    return o && o->kind == K_HOST ? (long)o->size : -EBADF;
}

long file_open_kernel(const char *path)
{
    long o = ofd_open(path, 0, 0);
    if (o < 0)
        return o;
    long fd = bind_fd((int)o, 3);
    if (fd < 0)
        ofd_put(&ofds[o]);
    return fd;
}

/* One FS_READ of at most PVRR_IO_MAX bytes. */
static long host_read(struct ofd *o, void *buf, uint64_t len, uint64_t off)
{
    if (len > PVRR_IO_MAX)
        len = PVRR_IO_MAX;
    struct pvrr_hc_fs_io a = {.handle = o->handle, .offset = off, .data = buf, .len = len};
    pvrr_hypercall(PVRR_HC_FS_READ, &a);
    return a.ret < 0 ? a.ret : (long)a.done;
}

long file_pread_raw(int fd, void *buf, uint64_t len, uint64_t off)
{
    struct ofd *o = fd_get(fd);
    if (!o || o->kind != K_HOST)
        return -EBADF;
    uint64_t done = 0;
    while (done < len) {
        long n = host_read(o, (uint8_t *)buf + done, len - done, off + done);
        if (n < 0)
            return done ? (long)done : n;
        if (n == 0)
            break;
        done += (uint64_t)n;
    }
    return (long)done;
}

/* Read console input into (buf), waiting until some is there or it ended. */
static long console_read(void *buf, uint64_t len)
{
    if (console_eof || len == 0)
        return 0;
    for (;;) {
        size_t n;
        bool eof;
        if (pvrr_console_read(buf, len, &n, &eof) != PVRR_OK)
            return -EIO;
        if (n > 0)
            return (long)n;
        if (eof) {
            console_eof = 1;
            return 0;
        }
        uint64_t now;
        pvrr_poll(UINT64_MAX, PVRR_EV_CONSOLE_IN, &now);
    }
}

static long do_read(struct ofd *o, uint64_t buf, uint64_t len, uint64_t off, int use_pos)
{
    if (!user_ok(buf, len))
        return -EFAULT;
    if ((o->flags & O_ACCMODE) == O_WRONLY || (o->flags & O_PATH))
        return -EBADF;
    void *p = (void *)(uintptr_t)buf;
    switch (o->kind) {
    case K_CONSOLE_IN:
        return console_read(p, len);
    case K_NULL:
        return 0;
    case K_ZERO:
        memset(p, 0, len);
        return (long)len;
    case K_RANDOM: {
        uint64_t n = len < PVRR_IO_MAX ? len : PVRR_IO_MAX;
        return pvrr_random(p, n) == PVRR_OK ? (long)n : -EIO;
    }
    case K_PIPE_R: {
        struct pipe *pp = o->pipe;
        uint64_t avail = pp->head - pp->tail, n = 0;
        if (avail == 0)
            return pp->writers ? -EAGAIN : 0;
        while (n < len && n < avail) {
            ((uint8_t *)p)[n] = pp->buf[(pp->tail + n) % PIPE_BUF_SIZE];
            n++;
        }
        pp->tail += n;
        return (long)n;
    }
    case K_HOST: {
        if ((o->mode & S_IFMT) == S_IFDIR)
            return -EISDIR;
        long n = host_read(o, p, len, use_pos ? o->pos : off);
        if (n > 0 && use_pos)
            o->pos += (uint64_t)n;
        return n;
    }
    default:
        return -EBADF;
    }
}

long sys_read(int fd, uint64_t buf, uint64_t len)
{
    struct ofd *o = fd_get(fd);
    return o ? do_read(o, buf, len, 0, 1) : -EBADF;
}

long sys_pread(int fd, uint64_t buf, uint64_t len, int64_t off)
{
    struct ofd *o = fd_get(fd);
    if (!o)
        return -EBADF;
    if (off < 0)
        return -EINVAL;
    if (o->kind != K_HOST)
        return -ESPIPE;
    return do_read(o, buf, len, (uint64_t)off, 0);
}

static long do_write(struct ofd *o, uint64_t buf, uint64_t len)
{
    if (!user_ok(buf, len))
        return -EFAULT;
    if ((o->flags & O_ACCMODE) == 0 && o->kind != K_CONSOLE_OUT && o->kind != K_CONSOLE_ERR)
        return -EBADF;
    if (len > PVRR_IO_MAX)
        len = PVRR_IO_MAX;
    const void *p = (const void *)(uintptr_t)buf;
    switch (o->kind) {
    case K_CONSOLE_OUT:
    case K_CONSOLE_ERR:
        return console_out(o->kind == K_CONSOLE_ERR ? 2 : 1, p, len) < 0 ? -EIO : (long)len;
    case K_NULL:
    case K_ZERO:
    case K_RANDOM:
        return (long)len;
    case K_PIPE_W: {
        struct pipe *pp = o->pipe;
        if (pp->readers == 0)
            return -EPIPE;
        uint64_t space = PIPE_BUF_SIZE - (pp->head - pp->tail), n = 0;
        if (space == 0)
            return -EAGAIN;
        while (n < len && n < space) {
            pp->buf[(pp->head + n) % PIPE_BUF_SIZE] = ((const uint8_t *)p)[n];
            n++;
        }
        pp->head += n;
        return (long)n;
    }
    case K_HOST: {
        uint64_t off = (o->flags & O_APPEND) ? o->size : o->pos;
        struct pvrr_hc_fs_io a = {
            .handle = o->handle, .offset = off, .data = (void *)(uintptr_t)buf, .len = len};
        pvrr_hypercall(PVRR_HC_FS_WRITE, &a);
        if (a.ret < 0)
            return a.ret;
        o->pos = off + a.done;
        if (o->pos > o->size)
            o->size = o->pos;
        return (long)a.done;
    }
    default:
        return -EBADF;
    }
}

long sys_write(int fd, uint64_t buf, uint64_t len)
{
    struct ofd *o = fd_get(fd);
    return o ? do_write(o, buf, len) : -EBADF;
}

long sys_readv(int fd, uint64_t iov, int cnt, int write)
{
    struct ofd *o = fd_get(fd);
    if (!o)
        return -EBADF;
    if (cnt < 0 || cnt > 1024)
        return -EINVAL;
    if (!user_ok(iov, (uint64_t)cnt * 16))
        return -EFAULT;
    const uint64_t *v = (const uint64_t *)(uintptr_t)iov;
    long total = 0;
    for (int i = 0; i < cnt; i++) {
        uint64_t base = v[2 * i], len = v[2 * i + 1];
        if (len == 0)
            continue;
        long n = write ? do_write(o, base, len) : do_read(o, base, len, 0, 1);
        if (n < 0)
            return total ? total : n;
        total += n;
        if ((uint64_t)n < len)
            break;
    }
    return total;
}

long sys_lseek(int fd, int64_t off, int whence)
{
    struct ofd *o = fd_get(fd);
    if (!o)
        return -EBADF;
    if (o->kind != K_HOST)
        return o->kind == K_NULL || o->kind == K_ZERO ? 0 : -ESPIPE;
    int64_t base;
    switch (whence) {
    case 0:
        base = 0;
        break;
    case 1:
        base = (int64_t)o->pos;
        break;
    case 2:
        base = (int64_t)o->size;
        break;
    default:
        return -EINVAL;
    }
    if ((o->mode & S_IFMT) == S_IFDIR) {
        if (whence != 0 || off != 0)
            return -EINVAL;
    }
    if (base + off < 0)
        return -EINVAL;
    o->pos = (uint64_t)(base + off);
    return (long)o->pos;
}

long sys_getdents64(int fd, uint64_t buf, uint64_t len)
{
    struct ofd *o = fd_get(fd);
    if (!o)
        return -EBADF;
    if (o->kind != K_HOST || (o->mode & S_IFMT) != S_IFDIR)
        return -ENOTDIR;
    if (!user_ok(buf, len))
        return -EFAULT;
    if (len > PVRR_IO_MAX)
        len = PVRR_IO_MAX;
    struct pvrr_hc_fs_readdir a = {
        .handle = o->handle, .cookie = o->pos, .data = (void *)(uintptr_t)buf, .len = len};
    pvrr_hypercall(PVRR_HC_FS_READDIR, &a);
    if (a.ret < 0)
        return a.ret;
    o->pos = a.next;
    return (long)a.done;
}

long sys_ioctl(int fd, unsigned long req, uint64_t arg)
{
    struct ofd *o = fd_get(fd);
    if (!o)
        return -EBADF;
    (void)req;
    (void)arg;
    return -ENOTTY; /* no descriptor is a terminal */
}

long sys_dup3(int old, int newfd, int flags, int any)
{
    struct ofd *o = fd_get(old);
    if (!o)
        return -EBADF;
    int oi = fds[old];
    if (any) { /* dup, F_DUPFD: the lowest free >= newfd */
        if (newfd < 0 || newfd >= MAX_FDS)
            return -EINVAL;
        int fd = bind_fd(oi, newfd);
        if (fd >= 0) {
            o->refs++;
            cloexec[fd] = (flags & O_CLOEXEC) != 0;
        }
        return fd;
    }
    if (newfd < 0 || newfd >= MAX_FDS)
        return -EBADF;
    if (newfd == old)
        return flags == -1 ? newfd : -EINVAL; /* dup2 returns it, dup3 refuses */
    if (fds[newfd] >= 0)
        sys_close(newfd);
    o->refs++;
    fds[newfd] = oi;
    cloexec[newfd] = flags > 0 && (flags & O_CLOEXEC);
    return newfd;
}

long sys_fcntl(int fd, int cmd, uint64_t arg)
{
    struct ofd *o = fd_get(fd);
    if (!o)
        return -EBADF;
    switch (cmd) {
    case 0: /* F_DUPFD */
        return sys_dup3(fd, (int)arg, 0, 1);
    case 1030: /* F_DUPFD_CLOEXEC */
        return sys_dup3(fd, (int)arg, O_CLOEXEC, 1);
    case 1: /* F_GETFD */
        return cloexec[fd];
    case 2: /* F_SETFD */
        cloexec[fd] = (int)(arg & 1);
        return 0;
    case 3: /* F_GETFL */
        return o->flags & ~O_CLOEXEC;
    case 4: /* F_SETFL */
        o->flags = (o->flags & ~(O_APPEND | O_NONBLOCK)) | ((int)arg & (O_APPEND | O_NONBLOCK));
        return 0;
    case 6:       /* F_SETLK */
    case 7:       /* F_SETLKW */
    case 37:      /* F_OFD_SETLK */
    case 38:      /* F_OFD_SETLKW */
        return 0; /* one process: every lock is granted */
    case 5:       /* F_GETLK */
    case 36:      /* F_OFD_GETLK */
        if (!user_ok(arg, 2))
            return -EFAULT;
        *(int16_t *)(uintptr_t)arg = 2; /* l_type = F_UNLCK: nobody holds a lock */
        return 0;
    default:
        return -EINVAL;
    }
}

long sys_pipe2(uint64_t ufds, int flags)
{
    if (!user_ok(ufds, 8))
        return -EFAULT;
    int k = -1;
    for (int i = 0; i < 4; i++)
        if (!pipe_used[i])
            k = i;
    if (k < 0)
        return -EMFILE;
    int r = new_ofd(K_PIPE_R, 0);
    if (r < 0)
        return -EMFILE;
    int w = new_ofd(K_PIPE_W, O_WRONLY);
    if (w < 0) {
        ofds[r].refs = 0;
        return -EMFILE;
    }
    int fr = bind_fd(r, 0);
    int fw = fr < 0 ? -EMFILE : bind_fd(w, 0);
    if (fr < 0 || fw < 0) {
        if (fr >= 0)
            fds[fr] = -1;
        ofds[r].refs = ofds[w].refs = 0;
        return -EMFILE;
    }
    pipe_used[k] = 1;
    memset(&pipes[k], 0, sizeof pipes[k]);
    pipes[k].readers = pipes[k].writers = 1;
    ofds[r].pipe = ofds[w].pipe = &pipes[k];
    cloexec[fr] = cloexec[fw] = (flags & O_CLOEXEC) != 0;
    int *out = (int *)(uintptr_t)ufds;
    out[0] = fr;
    out[1] = fw;
    return 0;
}