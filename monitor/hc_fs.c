/*
 * hc_fs.c - the live handlers of the file hypercalls (PVRR_HC_FS_*): the guest
 * opens host files by guest path inside the namespace of m->cfg.fs (a
 * read-only root directory, single files, a writable directory).
 *
 * Containment: every path is resolved with openat2(RESOLVE_IN_ROOT) below the
 * directory it belongs to, so neither ".." nor a symbolic link reaches outside
 * it; paths with "." or ".." components or NUL bytes are refused outright.
 * Buffers were validated by the exit loop, so vm_gpa cannot fail here.
 */
#include "monitor/monitor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FS_MAX_HANDLES 256

struct dir_entry {
    uint64_t ino;
    uint8_t type;
    char *name;
};

struct hc_fs_handle {
    int fd; /* -1: free */
    int writable;
    struct dir_entry *ents; /* directory listing, read at the first readdir */
    size_t nents;
    int listed;
};

struct hc_fs_state {
    int root_fd;  /* -1: no root */
    int write_fd; /* -1: no writable directory */
    struct hc_fs_handle h[FS_MAX_HANDLES];
};

int hc_fs_init(struct monitor *m, char *err, size_t errlen)
{
    const struct monitor_fs_config *cfg = m->cfg.fs;
    if (!cfg)
        return 0;
    struct hc_fs_state *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->root_fd = s->write_fd = -1;
    for (int i = 0; i < FS_MAX_HANDLES; i++)
        s->h[i].fd = -1;
    m->fs_state = s;
    if (cfg->root) {
        s->root_fd = open(cfg->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (s->root_fd < 0) {
            snprintf(err, errlen, "--root %s: %s", cfg->root, strerror(errno));
            return -1;
        }
    }
    if (cfg->write_dir) {
        s->write_fd = open(cfg->write_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (s->write_fd < 0) {
            snprintf(err, errlen, "--write-dir %s: %s", cfg->write_dir, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void free_listing(struct hc_fs_handle *h)
{
    for (size_t i = 0; i < h->nents; i++)
        free(h->ents[i].name);
    free(h->ents);
    h->ents = NULL;
    h->nents = 0;
    h->listed = 0;
}

void hc_fs_fini(struct monitor *m)
{
    struct hc_fs_state *s = m->fs_state;
    if (!s)
        return;
    for (int i = 0; i < FS_MAX_HANDLES; i++) {
        if (s->h[i].fd >= 0)
            close(s->h[i].fd);
        free_listing(&s->h[i]);
    }
    if (s->root_fd >= 0)
        close(s->root_fd);
    if (s->write_fd >= 0)
        close(s->write_fd);
    free(s);
    m->fs_state = NULL;
}

/* Copy the guest path (gpa, len) into (buf) as a C string and check its
 * form. Returns 0 or a negative errno. */
static int get_path(struct monitor *m, uint64_t gpa, uint64_t len, char *buf)
{
    if (len == 0)
        return -ENOENT;
    if (len >= PVRR_PATH_MAX)
        return -ENAMETOOLONG;
    memcpy(buf, vm_gpa(&m->vm, gpa, len), len);
    buf[len] = '\0';
    if (strlen(buf) != len || buf[0] != '/')
        return -EINVAL;
    for (const char *p = buf; *p;) {
        while (*p == '/')
            p++;
        const char *e = strchrnul(p, '/');
        size_t n = (size_t)(e - p);
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return -EINVAL;
        p = e;
    }
    return 0;
}

/* Where (path) lives: a single file (returns its index in *file), the
 * writable directory (*dirfd, *rel, *writable = 1) or the root. Returns 0 or
 * -ENOENT when nothing is exposed there. */
static int locate(struct monitor *m, const char *path, int *file, int *dirfd, const char **rel,
                  int *writable)
{
    const struct monitor_fs_config *cfg = m->cfg.fs;
    struct hc_fs_state *s = m->fs_state;
    *file = -1;
    *writable = 0;
    if (!cfg || !s)
        return -ENOENT;
    for (size_t i = 0; i < cfg->nfiles; i++) {
        if (strcmp(cfg->files[i].guest, path) == 0) {
            *file = (int)i;
            return 0;
        }
    }
    if (s->write_fd >= 0 && cfg->write_at) {
        size_t n = strlen(cfg->write_at);
        if (strncmp(path, cfg->write_at, n) == 0 && (path[n] == '\0' || path[n] == '/')) {
            const char *r = path + n;
            while (*r == '/')
                r++;
            *dirfd = s->write_fd;
            *rel = *r ? r : ".";
            *writable = 1;
            return 0;
        }
    }
    if (s->root_fd >= 0) {
        const char *r = path;
        while (*r == '/')
            r++;
        *dirfd = s->root_fd;
        *rel = *r ? r : ".";
        return 0;
    }
    return -ENOENT;
}

/* openat2 below (dirfd), never leaving it. */
static int open_in(int dirfd, const char *rel, int flags, mode_t mode)
{
    struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
                           .mode = (flags & O_CREAT) ? mode : 0,
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
    return fd < 0 ? -errno : (int)fd;
}

/* Open (path) with host open flags (flags); returns an fd or a negative errno. */
static int open_path(struct monitor *m, const char *path, int flags, mode_t mode, int *writable)
{
    int file, dirfd = -1;
    const char *rel = NULL;
    int rc = locate(m, path, &file, &dirfd, &rel, writable);
    if (rc < 0)
        return rc;
    int wants_write = (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC));
    if (wants_write && !*writable)
        return -EROFS;
    if (file >= 0) {
        int fd = open(m->cfg.fs->files[file].host, flags | O_CLOEXEC, mode);
        return fd < 0 ? -errno : fd;
    }
    return open_in(dirfd, rel, flags, mode);
}

static struct hc_fs_handle *handle(struct monitor *m, int32_t h)
{
    struct hc_fs_state *s = m->fs_state;
    if (!s || h < 0 || h >= FS_MAX_HANDLES || s->h[h].fd < 0)
        return NULL;
    return &s->h[h];
}

enum hc_status hc_fs_open(struct monitor *m, struct hc_call *c)
{
    struct pvrr_hc_fs_open *a = &c->a.fs_open;
    char path[PVRR_PATH_MAX];
    a->handle = -1;
    a->ret = get_path(m, a->path, a->path_len, path);
    if (a->ret < 0)
        return HC_CONTINUE;
    struct hc_fs_state *s = m->fs_state;
    int slot = -1;
    for (int i = 0; s && i < FS_MAX_HANDLES; i++) {
        if (s->h[i].fd < 0) {
            slot = i;
            break;
        }
    }
    if (!s) {
        a->ret = -ENOENT;
        return HC_CONTINUE;
    }
    if (slot < 0) {
        a->ret = -EMFILE;
        return HC_CONTINUE;
    }
    int flags;
    if (a->flags & PVRR_FS_PATH)
        flags = O_PATH | ((a->flags & PVRR_FS_NOFOLLOW) ? O_NOFOLLOW : 0);
    else
        flags = (a->flags & PVRR_FS_WRITE) ? O_RDWR : O_RDONLY;
    if (a->flags & PVRR_FS_CREATE)
        flags |= O_CREAT;
    if (a->flags & PVRR_FS_TRUNC)
        flags |= O_TRUNC;
    if (a->flags & PVRR_FS_EXCL)
        flags |= O_EXCL;
    if (a->flags & PVRR_FS_DIR)
        flags |= O_DIRECTORY;
    int writable = 0;
    int fd = open_path(m, path, flags, (mode_t)(a->mode & 07777), &writable);
    if (fd < 0 && fd == -EISDIR && !(a->flags & PVRR_FS_WRITE))
        fd = -EISDIR;
    if (fd < 0) {
        a->ret = fd;
        return HC_CONTINUE;
    }
    s->h[slot] = (struct hc_fs_handle){.fd = fd, .writable = writable};
    a->handle = slot;
    a->ret = 0;
    return HC_CONTINUE;
}

enum hc_status hc_fs_read(struct monitor *m, struct hc_call *c)
{
    struct pvrr_hc_fs_io *a = &c->a.fs_io;
    struct hc_fs_handle *h = handle(m, a->handle);
    a->done = 0;
    a->ret = 0;
    if (!h) {
        a->ret = -EBADF;
        return HC_CONTINUE;
    }
    uint8_t *p = vm_gpa(&m->vm, a->data, a->len);
    while (a->done < a->len) {
        ssize_t n = pread(h->fd, p + a->done, a->len - a->done, (off_t)(a->offset + a->done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && a->done == 0)
            a->ret = -errno;
        if (n <= 0)
            break;
        a->done += (uint64_t)n;
    }
    vm_dirty_mark(&m->vm, a->data, a->done);
    return HC_CONTINUE;
}

enum hc_status hc_fs_write(struct monitor *m, struct hc_call *c)
{
    struct pvrr_hc_fs_io *a = &c->a.fs_io;
    struct hc_fs_handle *h = handle(m, a->handle);
    a->done = 0;
    a->ret = 0;
    if (!h || !h->writable) {
        a->ret = -EBADF;
        return HC_CONTINUE;
    }
    const uint8_t *p = vm_gpa(&m->vm, a->data, a->len);
    while (a->done < a->len) {
        ssize_t n = pwrite(h->fd, p + a->done, a->len - a->done, (off_t)(a->offset + a->done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && a->done == 0)
            a->ret = -errno;
        if (n <= 0)
            break;
        a->done += (uint64_t)n;
    }
    return HC_CONTINUE;
}

enum hc_status hc_fs_close(struct monitor *m, struct hc_call *c)
{
    struct pvrr_hc_fs_close *a = &c->a.fs_close;
    struct hc_fs_handle *h = handle(m, a->handle);
    if (!h) {
        a->ret = -EBADF;
        return HC_CONTINUE;
    }
    close(h->fd);
    free_listing(h);
    h->fd = -1;
    a->ret = 0;
    return HC_CONTINUE;
}

static void fill_stat(struct pvrr_fs_statbuf *o, const struct stat *st)
{
    memset(o, 0, sizeof *o);
    o->ino = st->st_ino;
    o->size = (uint64_t)st->st_size;
    o->mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000ull + (uint64_t)st->st_mtim.tv_nsec;
    o->mode = st->st_mode;
    o->nlink = (uint32_t)st->st_nlink;
    o->uid = st->st_uid;
    o->gid = st->st_gid;
}

enum hc_status hc_fs_stat(struct monitor *m, struct hc_call *c)
{
    struct pvrr_hc_fs_stat *a = &c->a.fs_stat;
    struct hc_fs_handle *h = handle(m, a->handle);
    memset(&a->st, 0, sizeof a->st);
    struct stat st;
    if (!h) {
        a->ret = -EBADF;
        return HC_CONTINUE;
    }
    if (fstat(h->fd, &st) < 0) {
        a->ret = -errno;
        return HC_CONTINUE;
    }
    fill_stat(&a->st, &st);
    a->ret = 0;
    return HC_CONTINUE;
}

/* Read the whole directory of (h) once: ".", "..", then the host's order. */
static int list_dir(struct hc_fs_handle *h)
{
    int fd = openat(h->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    size_t cap = 16;
    h->ents = calloc(cap, sizeof *h->ents);
    if (!h->ents) {
        closedir(d);
        return -ENOMEM;
    }
    struct stat st;
    uint64_t self = fstat(h->fd, &st) == 0 ? st.st_ino : 1;
    h->ents[0] = (struct dir_entry){self, DT_DIR, strdup(".")};
    h->ents[1] = (struct dir_entry){self, DT_DIR, strdup("..")};
    h->nents = 2;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (h->nents == cap) {
            struct dir_entry *n = realloc(h->ents, cap * 2 * sizeof *n);
            if (!n)
                break;
            h->ents = n;
            cap *= 2;
        }
        h->ents[h->nents++] = (struct dir_entry){e->d_ino, e->d_type, strdup(e->d_name)};
    }
    closedir(d);
    h->listed = 1;
    return 0;
}

enum hc_status hc_fs_readdir(struct monitor *m, struct hc_call *c)
{
    struct pvrr_hc_fs_readdir *a = &c->a.fs_readdir;
    struct hc_fs_handle *h = handle(m, a->handle);
    a->done = 0;
    a->next = a->cookie;
    a->ret = 0;
    if (!h) {
        a->ret = -EBADF;
        return HC_CONTINUE;
    }
    if (!h->listed) {
        int rc = list_dir(h);
        if (rc < 0) {
            a->ret = rc;
            return HC_CONTINUE;
        }
    }
    uint8_t *out = vm_gpa(&m->vm, a->data, a->len);
    uint64_t i = a->cookie;
    while (i < h->nents) {
        const struct dir_entry *e = &h->ents[i];
        size_t namelen = e->name ? strlen(e->name) : 0;
        size_t reclen = (8 + 8 + 2 + 1 + namelen + 1 + 7) & ~(size_t)7;
        if (a->done + reclen > a->len)
            break;
        uint8_t *r = out + a->done;
        memset(r, 0, reclen);
        int64_t off = (int64_t)(i + 1);
        uint16_t rl = (uint16_t)reclen;
        memcpy(r, &e->ino, 8);
        memcpy(r + 8, &off, 8);
        memcpy(r + 16, &rl, 2);
        r[18] = e->type;
        if (namelen)
            memcpy(r + 19, e->name, namelen);
        a->done += reclen;
        i++;
    }
    if (a->done == 0 && i < h->nents)
        a->ret = -EINVAL;
    a->next = i;
    vm_dirty_mark(&m->vm, a->data, a->done);
    return HC_CONTINUE;
}

/* Split (path) into its parent's fd (opened below the right directory) and
 * its last component. Returns 0 or a negative errno. */
static int open_parent(struct monitor *m, char *path, int *pfd, const char **base, int *writable)
{
    char *slash = strrchr(path, '/');
    if (!slash || slash[1] == '\0')
        return -EINVAL;
    *base = slash + 1;
    char parent[PVRR_PATH_MAX];
    size_t n = (size_t)(slash - path);
    memcpy(parent, path, n);
    parent[n] = '\0';
    if (n == 0)
        strcpy(parent, "/");
    int fd = open_path(m, parent, O_PATH | O_DIRECTORY, 0, writable);
    if (fd < 0)
        return fd;
    *pfd = fd;
    return 0;
}

enum hc_status hc_fs_pathop(struct monitor *m, struct hc_call *c)
{
    struct pvrr_hc_fs_pathop *a = &c->a.fs_pathop;
    char path[PVRR_PATH_MAX], path2[PVRR_PATH_MAX];
    a->done = 0;
    a->ret = get_path(m, a->path, a->path_len, path);
    if (a->ret < 0)
        return HC_CONTINUE;
    int pfd = -1, pfd2 = -1, writable = 0, writable2 = 0;
    const char *base, *base2;
    a->ret = open_parent(m, path, &pfd, &base, &writable);
    if (a->ret < 0)
        return HC_CONTINUE;
    int rc = 0;
    switch (a->op) {
    case PVRR_FS_READLINK: {
        char *out = vm_gpa(&m->vm, a->path2, a->path2_len);
        ssize_t n = readlinkat(pfd, base, out, a->path2_len);
        if (n < 0)
            rc = -errno;
        else
            a->done = (uint64_t)n;
        vm_dirty_mark(&m->vm, a->path2, a->done);
        break;
    }
    case PVRR_FS_UNLINK:
    case PVRR_FS_RMDIR:
    case PVRR_FS_MKDIR:
        if (!writable)
            rc = -EROFS;
        else if (a->op == PVRR_FS_MKDIR)
            rc = mkdirat(pfd, base, (mode_t)(a->mode & 07777)) < 0 ? -errno : 0;
        else
            rc = unlinkat(pfd, base, a->op == PVRR_FS_RMDIR ? AT_REMOVEDIR : 0) < 0 ? -errno : 0;
        break;
    case PVRR_FS_RENAME:
        rc = get_path(m, a->path2, a->path2_len, path2);
        if (rc == 0)
            rc = open_parent(m, path2, &pfd2, &base2, &writable2);
        if (rc == 0 && (!writable || !writable2))
            rc = -EROFS;
        if (rc == 0)
            rc = renameat(pfd, base, pfd2, base2) < 0 ? -errno : 0;
        break;
    default:
        rc = -EINVAL;
    }
    if (pfd >= 0)
        close(pfd);
    if (pfd2 >= 0)
        close(pfd2);
    a->ret = rc;
    return HC_CONTINUE;
}
