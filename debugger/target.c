/*
 * target.c - the debugger as struct gdb_target_ops (debugger.h): registers,
 * memory, breakpoints and watchpoints, resuming forward and in reverse,
 * monitor commands.
 */
#include "debugger/debugger_internal.h"

#include "replayer/replayer.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- gdb_target_ops ---- */

static int op_read_regs(void *tp, struct gdb_regs *g)
{
    struct debugger *d = tp;
    struct engine_regs r;
    struct engine_sregs s;
    struct engine_fpu f;
    vm_get_regs(&d->m->vm, &r);
    vm_get_sregs(&d->m->vm, &s);
    vm_get_fpu(&d->m->vm, &f);
    memset(g, 0, sizeof *g);
    g->rax = r.rax, g->rbx = r.rbx, g->rcx = r.rcx, g->rdx = r.rdx;
    g->rsi = r.rsi, g->rdi = r.rdi, g->rbp = r.rbp, g->rsp = r.rsp;
    g->r8 = r.r8, g->r9 = r.r9, g->r10 = r.r10, g->r11 = r.r11;
    g->r12 = r.r12, g->r13 = r.r13, g->r14 = r.r14, g->r15 = r.r15;
    g->rip = r.rip;
    g->eflags = (uint32_t)r.rflags;
    g->cs = s.cs.selector, g->ss = s.ss.selector, g->ds = s.ds.selector;
    g->es = s.es.selector, g->fs = s.fs.selector, g->gs = s.gs.selector;
    for (int i = 0; i < 8; i++)
        memcpy(g->st[i], f.st[i], 10);
    g->fctrl = f.fcw;
    g->fstat = f.fsw;
    uint32_t tag = 0;
    for (int i = 0; i < 8; i++)
        if (!(f.ftw & (1u << i)))
            tag |= 3u << (2 * i);
    g->ftag = tag;
    g->fioff = (uint32_t)f.fip;
    g->fooff = (uint32_t)f.fdp;
    g->fop = f.fop;
    for (int i = 0; i < 16; i++)
        memcpy(g->xmm[i], f.xmm[i], 16);
    g->mxcsr = f.mxcsr;
    g->fs_base = s.fs_base;
    g->gs_base = s.gs_base;
    return 0;
}

static int refuse_in_replay(struct debugger *d, const char *what, char *why, size_t n)
{
    if (!d->r)
        return 0;
    snprintf(why, n,
             "pvrr: refusing to write %s during a replay: it would change what the guest "
             "computes and fork the recorded history",
             what);
    return -1;
}

static int op_write_regs(void *tp, const struct gdb_regs *g, char *why, size_t n)
{
    struct debugger *d = tp;
    if (refuse_in_replay(d, "registers", why, n) < 0)
        return -1;
    struct engine_regs r;
    vm_get_regs(&d->m->vm, &r);
    r.rax = g->rax, r.rbx = g->rbx, r.rcx = g->rcx, r.rdx = g->rdx;
    r.rsi = g->rsi, r.rdi = g->rdi, r.rbp = g->rbp, r.rsp = g->rsp;
    r.r8 = g->r8, r.r9 = g->r9, r.r10 = g->r10, r.r11 = g->r11;
    r.r12 = g->r12, r.r13 = g->r13, r.r14 = g->r14, r.r15 = g->r15;
    r.rip = g->rip;
    r.rflags = (r.rflags & ~0xffffffffull) | g->eflags | 0x2;
    vm_set_regs(&d->m->vm, &r);
    return 0;
}

static int op_read_mem(void *tp, uint64_t addr, void *buf, size_t len)
{
    struct debugger *d = tp;
    const uint8_t *p = vm_gpa(&d->m->vm, addr, len);
    if (!p || (len && addr < 4096))
        return -1;
    memcpy(buf, p, len); /* the engine's breakpoint patches are never in outside a run */
    return 0;
}

static int op_write_mem(void *tp, uint64_t addr, const void *buf, size_t len, char *why, size_t n)
{
    struct debugger *d = tp;
    if (refuse_in_replay(d, "memory", why, n) < 0)
        return -1;
    uint8_t *p = vm_gpa(&d->m->vm, addr, len);
    if (!p) {
        snprintf(why, n, "pvrr: [0x%" PRIx64 ", +%zu) is outside guest RAM", addr, len);
        return -1;
    }
    memcpy(p, buf, len);
    vm_dirty_mark(&d->m->vm, addr, len);
    return 0;
}

static int set_exec_bp(struct debugger *d, int hw, uint64_t addr, int insert)
{
    struct dbg_bp *b = dbg_bp_find(d, addr);
    if (!insert) {
        if (b && (hw ? b->hw : b->sw)) {
            if (hw) {
                b->hw = 0;
                d->nhw--;
            } else {
                b->sw = 0;
            }
            if (!b->sw && !b->hw)
                *b = d->bp[--d->nbp];
        }
        return 0;
    }
    if (b && (hw ? b->hw : b->sw))
        return 0;
    if (hw && d->nhw == 4)
        return -1; /* gdb expects four hardware breakpoints, as x86 has debug registers */
    if (!vm_gpa(&d->m->vm, addr, 1))
        return -1;
    if (!b) {
        if (d->nbp == d->capbp) {
            size_t cap = d->capbp ? d->capbp * 2 : 16;
            struct dbg_bp *nb = realloc(d->bp, cap * sizeof *nb);
            if (!nb)
                return -1;
            d->bp = nb;
            d->capbp = cap;
        }
        b = &d->bp[d->nbp++];
        *b = (struct dbg_bp){.addr = addr};
    }
    if (hw) {
        b->hw = 1;
        d->nhw++;
    } else {
        b->sw = 1;
    }
    return 0;
}

static int op_set_bp(void *tp, int type, uint64_t addr, uint64_t len, int insert)
{
    struct debugger *d = tp;
    switch (type) {
    case GDB_BP_SW:
    case GDB_BP_HW:
        return set_exec_bp(d, type == GDB_BP_HW, addr, insert);
    case GDB_WP_WRITE:
    case GDB_WP_READ:
    case GDB_WP_ACCESS: {
        /* the set changes: take the old one out of the engine first */
        dbg_arm_watches(d, 0);
        for (unsigned i = 0; i < d->nwp; i++) {
            if (d->wp[i].addr == addr && d->wp[i].len == len && d->wp[i].type == type) {
                if (!insert)
                    d->wp[i] = d->wp[--d->nwp];
                return 0;
            }
        }
        if (!insert)
            return 0;
        if (d->nwp == DBG_MAX_WATCH || len == 0 || len > DBG_WATCH_MAX_LEN ||
            !vm_gpa(&d->m->vm, addr, len) || addr < PVRR_IMAGE_MIN)
            return -1;
        d->wp[d->nwp].addr = addr;
        d->wp[d->nwp].len = len;
        d->wp[d->nwp].type = type;
        memcpy(d->wp[d->nwp].old, vm_gpa(&d->m->vm, addr, len), len);
        d->nwp++;
        return 0;
    }
    default:
        return GDB_UNSUPPORTED;
    }
}

static int op_resume(void *tp, const struct gdb_resume *req, struct gdb_stop *stop)
{
    struct debugger *d = tp;
    d->stub = req->stub;
    memset(stop, 0, sizeof *stop);
    uint64_t event_before = d->r ? d->r->next_event : 0;
    struct vm *vm = &d->m->vm;
    uint64_t count_before = vm->ops->insn_count ? vm->ops->insn_count(vm) : 0;
    int rc = 0;
    uint64_t rip0 = dbg_rip(d);
    d->left_kernel = 0;
    switch (req->how) {
    case GDB_RESUME_STEP:
        dbg_step(d, stop);
        break;
    case GDB_RESUME_CONT:
        dbg_cont(d, stop, 0, 0);
        break;
    case GDB_RESUME_RANGE_STEP:
        dbg_cont(d, stop, req->start, req->end);
        break;
    case GDB_RESUME_RSTEP:
    case GDB_RESUME_RCONT:
        if (!d->tt) {
            rc = -1;
            break;
        }
        rc = tt_reverse(d->tt, req->how == GDB_RESUME_RSTEP, stop);
        if (rc == 0)
            dbg_hide_reverse_stop(d, stop, req->how == GDB_RESUME_RSTEP, rip0);
        break;
    default:
        rc = -1;
    }
    if (d->tt && req->how != GDB_RESUME_RSTEP && req->how != GDB_RESUME_RCONT)
        tt_forward_done(d->tt, req->how, event_before, count_before, stop);
    d->stub = NULL;
    d->interrupt_pending = 0; /* this resume stopped anyway */
    return rc;
}

static void outf(gdb_out_fn out, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void outf(gdb_out_fn out, void *ctx, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        out(ctx, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static int op_monitor(void *tp, const char *cmd, gdb_out_fn out, void *ctx)
{
    struct debugger *d = tp;
    if (strcmp(cmd, "when") == 0) {
        if (d->tt) {
            char buf[256];
            tt_describe_position(d->tt, buf, sizeof buf);
            outf(out, ctx, "%s\n", buf);
        } else {
            outf(out, ctx, "hypercalls served: %" PRIu64 " (live run: no recording)\n",
                 d->m->hc_count);
        }
        return 0;
    }
    if (strcmp(cmd, "checkpoints") == 0 && d->tt) {
        tt_list_checkpoints(d->tt, out, ctx);
        return 0;
    }
    if (strncmp(cmd, "goto", 4) == 0 && d->tt) {
        char *end;
        const char *arg = cmd + 4;
        while (*arg == ' ')
            arg++;
        int insn = strncmp(arg, "insn", 4) == 0 && (arg[4] == ' ' || !arg[4]);
        if (insn)
            for (arg += 4; *arg == ' ';)
                arg++;
        unsigned long long ev = strtoull(arg, &end, 0);
        if (!*arg || *end || *arg == '-' || (cmd[4] && cmd[4] != ' ')) {
            outf(out, ctx, "usage: monitor goto EVENT, or monitor goto insn N\n");
            return GDB_UNSUPPORTED;
        }
        char msg[256];
        /* a long goto reports progress on gdb's console (the run loop polls) */
        d->stub = gdbstub_monitor_session(out, ctx);
        int rc = insn ? tt_goto_insn(d->tt, ev, msg, sizeof msg)
                      : tt_goto_event(d->tt, ev, msg, sizeof msg);
        d->stub = NULL;
        outf(out, ctx, "%s\n", msg);
        return rc < 0 ? -1 : 0;
    }
    if (strncmp(cmd, "kernel-frames", 13) == 0 && (cmd[13] == ' ' || !cmd[13]))
        return dbg_kframes_command(d, cmd + 13, out, ctx);
    if (strcmp(cmd, "digest") == 0) {
        outf(out, ctx, "state digest %016" PRIx64 " (all guest memory and registers)\n",
             monitor_state_digest(d->m));
        return 0;
    }
    if (strcmp(cmd, "info") == 0) {
        outf(out, ctx, "guest %s, %" PRIu64 " MiB RAM, %s, engine %s\n",
             d->m->cfg.elf_name ? d->m->cfg.elf_name : "?", d->m->vm.mem_size >> 20,
             d->r ? "replaying a recording" : "live run", d->m->vm.ops->name);
        return 0;
    }
    return GDB_UNSUPPORTED;
}

static int op_kill(void *tp)
{
    struct debugger *d = tp;
    d->killed = 1;
    return 0;
}

static void op_detach(void *tp)
{
    debugger_clear(tp);
}

static void op_log(void *tp, const char *msg)
{
    struct debugger *d = tp;
    if (d->log)
        d->log(d->log_ctx, msg);
}

#define KFRAMES_HELP                                                                               \
    "kernel-frames on|off: hide (the default for Linux programs) or show the frames of the "       \
    "guest's own kernel: hidden, stops are reported in user code, as for a native process"

static const struct gdb_monitor_cmd live_cmds[] = {
    {"when", "print how many hypercalls the guest has made"},
    {"digest", "print a digest of all guest memory and registers"},
    {"info", "describe the guest"},
    {"kernel-frames", KFRAMES_HELP},
    {NULL, NULL},
};

static const struct gdb_monitor_cmd replay_cmds[] = {
    {"when", "print the current position: event index and landmark"},
    {"goto", "goto EVENT: go to just before hypercall event EVENT; goto insn N: to the moment "
             "N instructions had retired (engines that count instructions)"},
    {"checkpoints", "list the checkpoints of this replay"},
    {"digest", "print a digest of all guest memory and registers"},
    {"info", "describe the guest and the recording"},
    {"kernel-frames", KFRAMES_HELP},
    {NULL, NULL},
};

/* The operations shared by a live run and a replay. */
#define TARGET_OPS_COMMON                                                                          \
    .read_regs = op_read_regs, .write_regs = op_write_regs, .read_mem = op_read_mem,               \
    .write_mem = op_write_mem, .set_bp = op_set_bp, .resume = op_resume, .monitor = op_monitor,    \
    .kill = op_kill, .detach = op_detach, .log = op_log, .range_step = 1

static const struct gdb_target_ops live_ops = {
    TARGET_OPS_COMMON,
    .monitor_cmds = live_cmds,
    .reverse_supported = 0,
};

static const struct gdb_target_ops replay_ops = {
    TARGET_OPS_COMMON,
    .monitor_cmds = replay_cmds,
    .reverse_supported = 1,
};

const struct gdb_target_ops *debugger_ops(const struct debugger *d)
{
    return d->r ? &replay_ops : &live_ops;
}

/* ---- life cycle ---- */

struct debugger *debugger_create(struct monitor *m, struct replayer *r, char *err, size_t errlen)
{
    struct debugger *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->m = m;
    d->r = r;
    if (r) {
        d->tt = tt_create(d);
        if (!d->tt) {
            snprintf(err, errlen, "out of memory for checkpoints");
            free(d);
            return NULL;
        }
    }
    return d;
}

void debugger_clear(struct debugger *d)
{
    d->nbp = 0;
    d->nhw = 0;
    dbg_arm_watches(d, 0);
    d->nwp = 0;
    dbg_arm(d, NULL, 0, 0);
}

void debugger_destroy(struct debugger *d)
{
    if (!d)
        return;
    tt_destroy(d->tt);
    debugger_clear(d);
    free(d->bp);
    free(d->armed);
    free(d);
}

void debugger_set_log(struct debugger *d, void (*log)(void *ctx, const char *msg), void *ctx)
{
    d->log = log;
    d->log_ctx = ctx;
}

int debugger_ended(const struct debugger *d)
{
    return d->ended;
}

int debugger_killed(const struct debugger *d)
{
    return d->killed;
}
