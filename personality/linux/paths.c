/*
 * paths.c - the path side of the program's files: resolving user paths,
 * stat/statx/access, readlink, the current directory, and unlink, mkdir,
 * rmdir, rename through the FS_PATHOP hypercall (files.h).
 */
#include "files.h"

#include <pvrr/guest.h>
#include <string.h>

/* Make (in) (relative to (base), absolute or not) an absolute normalised path
 * in (out). Returns 0 or -ENAMETOOLONG / -ENOENT. */
int path_normalise(const char *base, const char *in, char *out, size_t outlen)
{
    char tmp[PVRR_PATH_MAX];
    if (in[0] == '\0')
        return -ENOENT;
    size_t bl = strlen(base), il = strlen(in);
    if (bl + il + 2 > sizeof tmp)
        return -ENAMETOOLONG;
    if (in[0] == '/') {
        memcpy(tmp, in, il + 1);
    } else {
        memcpy(tmp, base, bl);
        tmp[bl] = '/';
        memcpy(tmp + bl + 1, in, il + 1);
    }
    size_t n = 0;
    char *p = tmp;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        char *e = p;
        while (*e && *e != '/')
            e++;
        size_t cl = (size_t)(e - p);
        if (cl == 1 && p[0] == '.') {
            /* nothing */
        } else if (cl == 2 && p[0] == '.' && p[1] == '.') {
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
        } else {
            if (n + 1 + cl + 1 > outlen)
                return -ENAMETOOLONG;
            out[n++] = '/';
            memcpy(out + n, p, cl);
            n += cl;
        }
        p = e;
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    return 0;
}

/* Resolve the user path (upath) relative to (dirfd) into (out). */
long path_user(int dirfd, uint64_t upath, char *out)
{
    long len = user_strlen(upath, PVRR_PATH_MAX);
    if (len < 0)
        return len;
    const char *in = (const char *)(uintptr_t)upath;
    const char *base = cwd;
    if (in[0] != '/' && dirfd != AT_FDCWD) {
        struct ofd *d = fd_get(dirfd);
        if (!d)
            return -EBADF;
        if (d->kind != K_HOST || (d->mode & S_IFMT) != S_IFDIR)
            return -ENOTDIR;
        base = d->path;
    }
    return path_normalise(base, in, out, PVRR_PATH_MAX);
}

/* Linux's struct stat on x86-64 (144 bytes). */
struct kstat {
    uint64_t dev, ino, nlink;
    uint32_t mode, uid, gid, pad0;
    uint64_t rdev;
    int64_t size, blksize, blocks;
    uint64_t atime, atime_ns, mtime, mtime_ns, ctime, ctime_ns;
    int64_t reserved[3];
};

static void fill_kstat(struct kstat *k, const struct pvrr_fs_statbuf *s)
{
    memset(k, 0, sizeof *k);
    k->dev = 0x801;
    k->ino = s->ino;
    k->nlink = s->nlink;
    k->mode = s->mode;
    k->uid = s->uid;
    k->gid = s->gid;
    k->size = (int64_t)s->size;
    k->blksize = 4096;
    k->blocks = (int64_t)((s->size + 4095) / 4096 * 8);
    k->atime = k->mtime = k->ctime = s->mtime_ns / 1000000000ull;
    k->atime_ns = k->mtime_ns = k->ctime_ns = s->mtime_ns % 1000000000ull;
}

/* Status of an open description into (s). */
static long ofd_stat(struct ofd *o, struct pvrr_fs_statbuf *s)
{
    memset(s, 0, sizeof *s);
    if (o->kind == K_HOST)
        return hc_stat(o->handle, s);
    s->ino = 1;
    s->nlink = 1;
    s->mode = (o->kind == K_CONSOLE_IN || o->kind == K_CONSOLE_OUT || o->kind == K_CONSOLE_ERR ||
               o->kind == K_PIPE_R || o->kind == K_PIPE_W)
                  ? S_IFIFO | 0600
                  : S_IFCHR | 0666;
    return 0;
}

/* Status of the file (dirfd, upath, flags) into (s). */
static long stat_at(int dirfd, uint64_t upath, int flags, struct pvrr_fs_statbuf *s)
{
    if ((flags & AT_EMPTY_PATH) && user_ok(upath, 1) && *(const char *)(uintptr_t)upath == 0) {
        struct ofd *o = dirfd == AT_FDCWD ? NULL : fd_get(dirfd);
        if (dirfd == AT_FDCWD) {
            upath = 0;
        } else {
            return o ? ofd_stat(o, s) : -EBADF;
        }
    }
    char p[PVRR_PATH_MAX];
    long rc = upath ? path_user(dirfd, upath, p) : path_normalise(cwd, ".", p, sizeof p);
    if (rc < 0)
        return rc;
    long o = ofd_open(p, O_PATH | ((flags & AT_SYMLINK_NOFOLLOW) ? O_NOFOLLOW : 0), 0);
    if (o < 0)
        return o;
    rc = ofd_stat(&ofds[o], s);
    ofd_put(&ofds[o]);
    return rc;
}

long sys_fstatat(int dirfd, uint64_t upath, uint64_t buf, int flags)
{
    if (!user_ok(buf, sizeof(struct kstat)))
        return -EFAULT;
    struct pvrr_fs_statbuf s;
    long rc;
    if (upath == 0) { /* fstat */
        struct ofd *o = fd_get(dirfd);
        rc = o ? ofd_stat(o, &s) : -EBADF;
    } else {
        rc = stat_at(dirfd, upath, flags, &s);
    }
    if (rc < 0)
        return rc;
    fill_kstat((struct kstat *)(uintptr_t)buf, &s);
    return 0;
}

long sys_statx(int dirfd, uint64_t upath, int flags, unsigned mask, uint64_t buf)
{
    (void)mask; /* everything basic is always filled in */
    if (!user_ok(buf, 256))
        return -EFAULT;
    struct pvrr_fs_statbuf s;
    long rc = stat_at(dirfd, upath, flags, &s);
    if (rc < 0)
        return rc;
    uint8_t *b = (uint8_t *)(uintptr_t)buf;
    memset(b, 0, 256);
    uint32_t m32 = 0x7ff; /* STATX_BASIC_STATS */
    uint32_t blksize = 4096;
    uint16_t mode = (uint16_t)s.mode;
    uint64_t blocks = (s.size + 4095) / 4096 * 8;
    int64_t sec = (int64_t)(s.mtime_ns / 1000000000ull);
    uint32_t nsec = (uint32_t)(s.mtime_ns % 1000000000ull);
    memcpy(b + 0, &m32, 4);
    memcpy(b + 4, &blksize, 4);
    memcpy(b + 16, &s.nlink, 4);
    memcpy(b + 20, &s.uid, 4);
    memcpy(b + 24, &s.gid, 4);
    memcpy(b + 28, &mode, 2);
    memcpy(b + 32, &s.ino, 8);
    memcpy(b + 40, &s.size, 8);
    memcpy(b + 48, &blocks, 8);
    for (int t = 0; t < 4; t++) { /* atime 64, btime 80, ctime 96, mtime 112 */
        memcpy(b + 64 + 16 * t, &sec, 8);
        memcpy(b + 72 + 16 * t, &nsec, 4);
    }
    uint32_t major = 8, minor = 1;
    memcpy(b + 136, &major, 4);
    memcpy(b + 140, &minor, 4);
    return 0;
}

long sys_faccessat(int dirfd, uint64_t upath, int mode)
{
    struct pvrr_fs_statbuf s;
    long rc = stat_at(dirfd, upath, 0, &s);
    if (rc < 0)
        return rc;
    if ((mode & 1) && !(s.mode & 0111) && (s.mode & S_IFMT) != S_IFDIR)
        return -EACCES;
    return 0;
}

long sys_readlinkat(int dirfd, uint64_t upath, uint64_t buf, uint64_t len)
{
    char p[PVRR_PATH_MAX];
    long rc = path_user(dirfd, upath, p);
    if (rc < 0)
        return rc;
    if (!user_ok(buf, len))
        return -EFAULT;
    if ((int64_t)len <= 0)
        return -EINVAL;
    if (strcmp(p, "/proc/self/exe") == 0) {
        size_t n = strlen(exe_path);
        if (n > len)
            n = len;
        memcpy((void *)(uintptr_t)buf, exe_path, n);
        return (long)n;
    }
    if (len > PVRR_PATH_MAX)
        len = PVRR_PATH_MAX;
    struct pvrr_hc_fs_pathop a = {.op = PVRR_FS_READLINK,
                                  .path = p,
                                  .path_len = strlen(p),
                                  .path2 = (char *)(uintptr_t)buf,
                                  .path2_len = len};
    pvrr_hypercall(PVRR_HC_FS_PATHOP, &a);
    return a.ret < 0 ? a.ret : (long)a.done;
}

long sys_getcwd(uint64_t buf, uint64_t len)
{
    size_t n = strlen(cwd) + 1;
    if (!user_ok(buf, len))
        return -EFAULT;
    if (len < n)
        return -ERANGE;
    memcpy((void *)(uintptr_t)buf, cwd, n);
    return (long)n;
}

long sys_chdir(uint64_t upath, int fd)
{
    char p[PVRR_PATH_MAX];
    if (fd >= 0) {
        struct ofd *o = fd_get(fd);
        if (!o)
            return -EBADF;
        if (o->kind != K_HOST || (o->mode & S_IFMT) != S_IFDIR)
            return -ENOTDIR;
        strcpy(cwd, o->path);
        return 0;
    }
    long rc = path_user(AT_FDCWD, upath, p);
    if (rc < 0)
        return rc;
    long o = ofd_open(p, O_PATH, 0);
    if (o < 0)
        return o;
    int dir = (ofds[o].mode & S_IFMT) == S_IFDIR;
    ofd_put(&ofds[o]);
    if (!dir)
        return -ENOTDIR;
    strcpy(cwd, p);
    return 0;
}

long sys_pathop(int op, int dirfd, uint64_t upath, int dirfd2, uint64_t upath2, int mode)
{
    char p[PVRR_PATH_MAX], p2[PVRR_PATH_MAX];
    long rc = path_user(dirfd, upath, p);
    if (rc < 0)
        return rc;
    struct pvrr_hc_fs_pathop a = {
        .op = (uint32_t)op, .mode = (uint32_t)mode, .path = p, .path_len = strlen(p)};
    if (op == PVRR_FS_RENAME) {
        rc = path_user(dirfd2, upath2, p2);
        if (rc < 0)
            return rc;
        a.path2 = p2;
        a.path2_len = strlen(p2);
    }
    pvrr_hypercall(PVRR_HC_FS_PATHOP, &a);
    return a.ret;
}
