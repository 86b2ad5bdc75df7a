/*
 * linux.c - `pvrr run|record PROGRAM` for a static Linux program: find the
 * Linux personality's kernel (personality/linux), describe the program, its
 * arguments and environment on the kernel's command line, and expose the
 * program and the files the user named (--root, --file, --write-dir).
 */
#include "tools/cli.h"

#include "debugger/debugger.h"
#include "formats/elf.h"
#include "formats/file.h"
#include "formats/symbolize.h"
#include "monitor/monitor.h"
#include "personality/linux/layout.h"
#include "pvlog/pvlog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PVRR_LINUX_KERNEL_BUILD
#define PVRR_LINUX_KERNEL_BUILD ""
#endif

/* Default guest RAM for a Linux program. */
#define LINUX_DEFAULT_MEM (256ull << 20)

static char *own(struct run_opts *o, char *s)
{
    if (s && o->nowned < (int)(sizeof o->owned / sizeof o->owned[0]))
        o->owned[o->nowned++] = s;
    return s;
}

void cli_linux_free(struct run_opts *o)
{
    for (int i = 0; i < o->nowned; i++)
        free(o->owned[i]);
    o->nowned = 0;
}

/* The kernel ELF: $PVRR_LINUX_KERNEL, else beside the pvrr binary
 * (BINDIR/../lib/pvrr/pvrr-linux.elf, as installed), else the build tree's. */
static int find_kernel(char *out, size_t n)
{
    const char *env = getenv("PVRR_LINUX_KERNEL");
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return access(out, R_OK) == 0 ? 0 : -1;
    }
    char self[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    if (k > 0) {
        self[k] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            int w = snprintf(out, n, "%s/../lib/pvrr/pvrr-linux.elf", self);
            if (w > 0 && (size_t)w < n && access(out, R_OK) == 0)
                return 0;
        }
    }
    snprintf(out, n, "%s", PVRR_LINUX_KERNEL_BUILD);
    return out[0] && access(out, R_OK) == 0 ? 0 : -1;
}

/* Make (p) absolute (against the current directory) and normalise it
 * lexically: no ".", "..", or repeated '/'. Returns a malloc'd string. */
static char *abs_path(const char *p)
{
    char cwdbuf[PATH_MAX] = "/";
    if (p[0] != '/' && !getcwd(cwdbuf, sizeof cwdbuf))
        return NULL;
    size_t cap = strlen(cwdbuf) + strlen(p) + 3;
    char *in = malloc(cap), *out = malloc(cap);
    if (!in || !out) {
        free(in);
        free(out);
        return NULL;
    }
    snprintf(in, cap, "%s/%s", p[0] == '/' ? "" : cwdbuf, p);
    size_t n = 0;
    for (char *s = in; *s;) {
        while (*s == '/')
            s++;
        char *e = strchrnul(s, '/');
        size_t cl = (size_t)(e - s);
        if (cl == 0 || (cl == 1 && s[0] == '.')) {
            /* skip */
        } else if (cl == 2 && s[0] == '.' && s[1] == '.') {
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
        } else {
            out[n++] = '/';
            memcpy(out + n, s, cl);
            n += cl;
        }
        s = e;
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    free(in);
    return out;
}

/* Append (word) percent-encoded (bytes <= 0x20, '%', >= 0x7f) to (cl). */
static int append_word(char *cl, size_t cap, size_t *n, const char *prefix, const char *word)
{
    static const char hex[] = "0123456789ABCDEF";
    if (*n + 1 >= cap)
        return -1;
    cl[(*n)++] = ' ';
    for (const char *p = prefix; *p; p++) {
        if (*n + 1 >= cap)
            return -1;
        cl[(*n)++] = *p;
    }
    for (const unsigned char *p = (const unsigned char *)word; *p; p++) {
        if (*p <= 0x20 || *p == '%' || *p >= 0x7f) {
            if (*n + 3 >= cap)
                return -1;
            cl[(*n)++] = '%';
            cl[(*n)++] = hex[*p >> 4];
            cl[(*n)++] = hex[*p & 15];
        } else {
            if (*n + 1 >= cap)
                return -1;
            cl[(*n)++] = (char)*p;
        }
    }
    cl[*n] = '\0';
    return 0;
}

/* Split "HOST[:GUEST]" into an absolute normalised guest path; (host) keeps
 * the HOST part (malloc'd). */
static int split_spec(struct run_opts *o, const char *spec, char **host, char **guest)
{
    const char *colon = strchr(spec, ':');
    *host = own(o, colon ? strndup(spec, (size_t)(colon - spec)) : strdup(spec));
    if (!*host)
        return -1;
    *guest = own(o, abs_path(colon ? colon + 1 : *host));
    return *guest ? 0 : -1;
}

static int prepare(struct run_opts *o, void **buf, size_t *len, const char *cmd)
{
    char err[512];
    int kind = pvrr_elf_classify(*buf, *len, err, sizeof err);
    if (kind < 0) {
        fprintf(stderr, "pvrr %s: %s: %s\n", cmd, o->elf_path, err);
        return PVRR_EXIT_ERROR;
    }
    if (kind != PVRR_ELF_LINUX) {
        if (o->root || o->write_spec || o->nfile_spec || o->nenv) {
            fprintf(stderr,
                    "pvrr %s: --root, --file, --write-dir and --env are for Linux programs; %s "
                    "is a pvrr SDK guest\n",
                    cmd, o->elf_path);
            return PVRR_EXIT_ERROR;
        }
        return 0;
    }
    o->is_linux = 1;
    if (!o->mem_given)
        o->cfg.mem_size = LINUX_DEFAULT_MEM;

    /* the program itself: at its path inside --root, else at its host path */
    char *prog_real = own(o, realpath(o->elf_path, NULL));
    if (!prog_real) {
        fprintf(stderr, "pvrr %s: %s: %s\n", cmd, o->elf_path, strerror(errno));
        return PVRR_EXIT_ERROR;
    }
    const char *prog_guest = prog_real;
    if (o->root) {
        char *root_real = own(o, realpath(o->root, NULL));
        if (!root_real) {
            fprintf(stderr, "pvrr %s: --root %s: %s\n", cmd, o->root, strerror(errno));
            return PVRR_EXIT_ERROR;
        }
        size_t rl = strlen(root_real);
        if (strcmp(root_real, "/") != 0 && strncmp(prog_real, root_real, rl) == 0 &&
            prog_real[rl] == '/')
            prog_guest = prog_real + rl;
        o->fs.root = o->root;
    }
    size_t nf = 0;
    o->files[nf++] = (struct monitor_file){.host = prog_real, .guest = prog_guest};
    for (int i = 0; i < o->nfile_spec; i++) {
        char *host, *guest;
        if (split_spec(o, o->file_spec[i], &host, &guest) < 0 || access(host, R_OK) != 0) {
            fprintf(stderr, "pvrr %s: --file %s: %s\n", cmd, o->file_spec[i],
                    strerror(errno ? errno : ENOMEM));
            return PVRR_EXIT_ERROR;
        }
        o->files[nf++] = (struct monitor_file){.host = host, .guest = guest};
    }
    o->fs.files = o->files;
    o->fs.nfiles = nf;
    if (o->write_spec) {
        char *host, *guest;
        if (split_spec(o, o->write_spec, &host, &guest) < 0) {
            fprintf(stderr, "pvrr %s: --write-dir %s: out of memory\n", cmd, o->write_spec);
            return PVRR_EXIT_ERROR;
        }
        o->fs.write_dir = host;
        o->fs.write_at = guest;
    }
    o->cfg.fs = &o->fs;

    char kernel[PATH_MAX];
    if (find_kernel(kernel, sizeof kernel) < 0) {
        fprintf(stderr,
                "pvrr %s: %s is a Linux program, but the Linux personality's kernel "
                "(pvrr-linux.elf) was not found (looked at %s; set PVRR_LINUX_KERNEL)\n",
                cmd, o->elf_path, kernel[0] ? kernel : "nothing");
        return PVRR_EXIT_ERROR;
    }
    void *kbuf;
    size_t klen;
    if (pvrr_read_file(kernel, 16u << 20, &kbuf, &klen, err, sizeof err) < 0) {
        fprintf(stderr, "pvrr %s: %s\n", cmd, err);
        return PVRR_EXIT_ERROR;
    }
    free(*buf);
    *buf = kbuf;
    *len = klen;

    size_t n = 0;
    int w = snprintf(o->cmdline, sizeof o->cmdline, "pvrr-linux");
    n = (size_t)w;
    int bad = append_word(o->cmdline, sizeof o->cmdline, &n, "exe=", prog_guest);
    const char *trace = getenv("PVRR_LINUX_TRACE");
    if (trace && strcmp(trace, "1") == 0)
        bad = bad || append_word(o->cmdline, sizeof o->cmdline, &n, "", "trace=1");
    for (int i = 0; i < o->nenv && !bad; i++)
        bad = append_word(o->cmdline, sizeof o->cmdline, &n, "env=", o->env[i]);
    bad = bad || append_word(o->cmdline, sizeof o->cmdline, &n, "", "--");
    bad = bad || append_word(o->cmdline, sizeof o->cmdline, &n, "", o->elf_path);
    for (int i = 0; i < o->nargs && !bad; i++)
        bad = append_word(o->cmdline, sizeof o->cmdline, &n, "", o->args[i]);
    if (bad) {
        fprintf(stderr,
                "pvrr %s: the program's arguments and environment take more than %u bytes\n", cmd,
                PVRR_CMDLINE_MAX - 1);
        return PVRR_EXIT_ERROR;
    }
    o->cfg.cmdline = o->cmdline;
    return 0;
}

int cli_linux_prepare(struct run_opts *o, void **buf, size_t *len, const char *cmd)
{
    int rc = prepare(o, buf, len, cmd);
    if (rc != 0)
        cli_linux_free(o);
    return rc;
}

/* The program's guest path from a kernel command line ("exe=" word, decoded). */
static int exe_of(const char *cmdline, char *out, size_t n)
{
    const char *p = strstr(cmdline, " exe=");
    if (!p)
        return -1;
    p += 5;
    size_t k = 0;
    while (*p && *p != ' ' && k + 1 < n) {
        if (p[0] == '%' && p[1] && p[2]) {
            char hex[3] = {p[1], p[2], 0};
            out[k++] = (char)strtol(hex, NULL, 16);
            p += 3;
        } else {
            out[k++] = *p++;
        }
    }
    out[k] = '\0';
    return 0;
}

int cli_linux_is_recording(const char *cmdline)
{
    return cmdline && strncmp(cmdline, "pvrr-linux ", 11) == 0;
}

void cli_linux_debugger(struct debugger *d, const struct monitor *m, const char *cmdline,
                        const void *kernel_elf, size_t kernel_len)
{
    if (!cli_linux_is_recording(cmdline))
        return;
    /* without the kernel's symbols a stop in it single-steps out: only slower */
    struct pvrr_sym *ksym = NULL;
    uint64_t sys_now = 0;
    char err[256];
    if (pvrr_sym_open(&ksym, kernel_elf, kernel_len, err, sizeof err) < 0 ||
        pvrr_sym_addr(ksym, "linux_sys_now", &sys_now) < 0)
        sys_now = 0;
    pvrr_sym_close(ksym);
    debugger_set_user_window(d, LINUX_USER_LO, linux_user_hi(m->vm.mem_size), sys_now);
}

int cli_linux_extract_program(const char *log, const char *cmdline, const char *out)
{
    char exe[PVRR_PATH_MAX];
    if (!cli_linux_is_recording(cmdline) || exe_of(cmdline, exe, sizeof exe) < 0) {
        fprintf(stderr, "pvrr replay: %s is not a recording of a Linux program\n", log);
        return -1;
    }
    struct pvlog_reader *rd;
    struct pvlog_error perr;
    if (pvlog_reader_open(&rd, log, &perr) != PVLOG_OK) {
        fprintf(stderr, "pvrr replay: %s: %s\n", log, perr.msg);
        return -1;
    }
    /* never through a symbolic link: the name may be predictable (LOG.elf) */
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0755);
    if (fd < 0) {
        fprintf(stderr, "pvrr replay: cannot write %s: %s\n", out, strerror(errno));
        pvlog_reader_close(rd);
        return -1;
    }
    int handle = -1, rc = -1;
    uint64_t bytes = 0;
    struct pvlog_event ev;
    while (pvlog_reader_next(rd, &ev, &perr) == PVLOG_OK) {
        if (ev.kind != PVLOG_EV_HYPERCALL || ev.nwrites < 1 || ev.writes[0].gpa != ev.arg_gpa)
            continue;
        if (ev.nr == PVRR_HC_FS_OPEN && handle < 0 && ev.nwrites >= 2 &&
            ev.writes[0].len == sizeof(struct pvrr_hc_fs_open)) {
            struct pvrr_hc_fs_open a;
            memcpy(&a, ev.writes[0].data, sizeof a);
            if (a.ret == 0 && ev.writes[1].len == strlen(exe) &&
                memcmp(ev.writes[1].data, exe, ev.writes[1].len) == 0)
                handle = a.handle;
        } else if (ev.nr == PVRR_HC_FS_READ && handle >= 0 && ev.nwrites >= 2 &&
                   ev.writes[0].len == sizeof(struct pvrr_hc_fs_io)) {
            struct pvrr_hc_fs_io a;
            memcpy(&a, ev.writes[0].data, sizeof a);
            if (a.handle != handle)
                continue;
            if (a.offset > (1ull << 32) || pwrite(fd, ev.writes[1].data, ev.writes[1].len,
                                                  (off_t)a.offset) != (ssize_t)ev.writes[1].len) {
                fprintf(stderr, "pvrr replay: cannot write %s: %s\n", out,
                        a.offset > (1ull << 32) ? "offset out of range" : strerror(errno));
                goto done;
            }
            bytes += ev.writes[1].len;
        } else if (ev.nr == PVRR_HC_FS_CLOSE && handle >= 0 &&
                   ev.writes[0].len == sizeof(struct pvrr_hc_fs_close)) {
            struct pvrr_hc_fs_close a;
            memcpy(&a, ev.writes[0].data, sizeof a);
            if (a.handle == handle)
                break;
        }
    }
    if (bytes == 0) {
        fprintf(stderr, "pvrr replay: %s holds no read of the program %s\n", log, exe);
        goto done;
    }
    rc = 0;
done:
    close(fd);
    pvlog_reader_close(rd);
    return rc;
}
