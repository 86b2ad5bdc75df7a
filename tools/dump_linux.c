/*
 * dump_linux.c - the system calls behind the events of a Linux program's
 * recording, for `pvrr dump`: a replay of the recording reads, at every
 * hypercall, the call the personality's kernel is serving (its
 * linux_sys_now: number, arguments, the program's rip), and the program's own
 * symbols (extracted from the recording) place the call site.
 */
#include "tools/cli.h"
#include "tools/dump_linux.h"

#include "formats/file.h"
#include "formats/symbolize.h"
#include "replayer/replayer.h"

#define PVRR_LINUX_SYSCALL_NAMES
#include "syscall_nr.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct dump_syscalls {
    struct dump_syscall *at; /* by event index */
    uint64_t n, cap;
    struct pvrr_sym *prog; /* the program's symbols, or NULL */
};

/* The replay's state while it runs (one replay per process at a time). */
static struct {
    struct dump_syscalls *ds;
    uint64_t now_gpa;
    hc_handler orig[PVRR_HC_MAX];
    int failed;
} cap;

static enum hc_status note_syscall(struct monitor *m, struct hc_call *c)
{
    struct replayer *r = m->user;
    struct dump_syscalls *ds = cap.ds;
    uint64_t i = r->next_event;
    if (i >= ds->cap) {
        uint64_t ncap = ds->cap ? 2 * ds->cap : 4096;
        while (ncap <= i)
            ncap *= 2;
        struct dump_syscall *na = realloc(ds->at, ncap * sizeof *na);
        if (!na) {
            cap.failed = 1;
            return cap.orig[c->nr](m, c);
        }
        memset(na + ds->cap, 0, (ncap - ds->cap) * sizeof *na);
        ds->at = na;
        ds->cap = ncap;
    }
    const uint64_t *now = vm_gpa(&m->vm, cap.now_gpa, 8 * 8);
    if (now && now[0] != ~0ull) {
        struct dump_syscall *d = &ds->at[i];
        d->valid = 1;
        d->nr = now[0];
        memcpy(d->args, now + 1, sizeof d->args);
        d->rip = now[7];
    }
    if (i + 1 > ds->n)
        ds->n = i + 1;
    return cap.orig[c->nr](m, c);
}

struct dump_syscalls *dump_linux_syscalls(const char *path, const struct pvlog_meta *meta,
                                          char *why, size_t whylen)
{
    why[0] = '\0';
    if (!cli_linux_is_recording(meta->cmdline))
        return NULL;
    struct pvrr_sym *ksym = NULL;
    uint64_t now_gpa;
    char err[1024];
    if (pvrr_sym_open(&ksym, meta->elf, meta->elf_len, err, sizeof err) < 0 ||
        pvrr_sym_addr(ksym, "linux_sys_now", &now_gpa) < 0) {
        snprintf(why, whylen, "the recording's kernel does not say which system call is served");
        pvrr_sym_close(ksym);
        return NULL;
    }
    pvrr_sym_close(ksym);
    struct dump_syscalls *ds = calloc(1, sizeof *ds);
    if (!ds) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    struct replayer r;
    int rc = replayer_open(&r, path, -1, err, sizeof err);
    if (rc) {
        snprintf(why, whylen, "no replay: %s", err);
        replayer_close(&r);
        free(ds);
        return NULL;
    }
    r.m.out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    r.m.err_fd = r.m.out_fd;
    cap.ds = ds;
    cap.now_gpa = now_gpa;
    cap.failed = 0;
    memcpy(cap.orig, r.m.handlers, sizeof cap.orig);
    for (int i = 0; i < PVRR_HC_MAX; i++)
        if (r.m.handlers[i])
            r.m.handlers[i] = note_syscall;
    replayer_run(&r);
    if (r.m.stop.reason == MON_DIVERGED)
        snprintf(why, whylen, "the replay diverged at event %llu: later events are not named",
                 (unsigned long long)r.next_event);
    close(r.m.out_fd);
    replayer_close(&r);
    if (cap.failed)
        snprintf(why, whylen, "out of memory: some events are not named");

    /* the program's symbols: extracted from the recording into a private file */
    char tmp[] = "/tmp/pvrr-dump-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd >= 0) {
        close(fd);
        void *elf;
        size_t len;
        if (cli_linux_extract_program(path, meta->cmdline, tmp) == 0 &&
            pvrr_read_file(tmp, 256u << 20, &elf, &len, err, sizeof err) == 0) {
            if (pvrr_sym_open(&ds->prog, elf, len, err, sizeof err) < 0)
                ds->prog = NULL;
            free(elf);
        }
        unlink(tmp);
    }
    return ds;
}

const struct dump_syscall *dump_syscall_at(const struct dump_syscalls *ds, uint64_t index)
{
    if (!ds || index >= ds->n || !ds->at[index].valid)
        return NULL;
    return &ds->at[index];
}

const char *dump_syscall_name(uint64_t nr)
{
    size_t n = sizeof syscall_names / sizeof syscall_names[0];
    return nr < n && syscall_names[nr] ? syscall_names[nr] : "?";
}

void dump_syscall_format(const struct dump_syscalls *ds, const struct dump_syscall *d, char *buf,
                         size_t n)
{
    char loc[512];
    pvrr_sym_format(ds->prog, d->rip, loc, sizeof loc);
    snprintf(buf, n, "%s(0x%llx, 0x%llx, 0x%llx) from %s", dump_syscall_name(d->nr),
             (unsigned long long)d->args[0], (unsigned long long)d->args[1],
             (unsigned long long)d->args[2], loc);
}

void dump_linux_free(struct dump_syscalls *ds)
{
    if (!ds)
        return;
    pvrr_sym_close(ds->prog);
    free(ds->at);
    free(ds);
}
