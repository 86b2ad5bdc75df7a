/*
 * fake_target.c - an in-memory machine for the gdb stub tests. See fake_target.h.
 */
#include "fake_target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fake_target_init(struct fake_target *t)
{
    memset(t, 0, sizeof(*t));
    t->regs.rip = 0x1000;
    t->regs.rsp = 0x8000;
    t->regs.rbp = 0x8000;
    t->regs.eflags = 0x202;
    t->regs.cs = 0x8;
    t->regs.ss = 0x10;
    t->regs.mxcsr = 0x1f80;
    t->regs.fctrl = 0x37f;
    t->run_limit = FAKE_RUN_LIMIT;
}

static int in_mem(uint64_t addr, uint64_t len)
{
    return addr <= FAKE_MEM_SIZE && len <= FAKE_MEM_SIZE - addr;
}

static int read_regs(void *vt, struct gdb_regs *r)
{
    struct fake_target *t = vt;
    *r = t->regs;
    return 0;
}

static int write_regs(void *vt, const struct gdb_regs *r, char *why, size_t n)
{
    struct fake_target *t = vt;
    if (t->readonly) {
        snprintf(why, n, "replaying: registers are read-only");
        return -1;
    }
    t->regs = *r;
    return 0;
}

static int read_mem(void *vt, uint64_t addr, void *buf, size_t len)
{
    struct fake_target *t = vt;
    if (!in_mem(addr, len))
        return -1;
    memcpy(buf, t->mem + addr, len);
    return 0;
}

static int write_mem(void *vt, uint64_t addr, const void *buf, size_t len, char *why, size_t n)
{
    struct fake_target *t = vt;
    if (t->readonly) {
        snprintf(why, n, "replaying: memory is read-only");
        return -1;
    }
    if (!in_mem(addr, len))
        return -1;
    memcpy(t->mem + addr, buf, len);
    return 0;
}

static int set_bp(void *vt, int type, uint64_t addr, uint64_t len, int insert)
{
    struct fake_target *t = vt;
    int hw = 0, free_slot = -1;
    for (int i = 0; i < FAKE_MAX_BP; i++) {
        struct fake_bp *b = &t->bp[i];
        if (!b->used) {
            if (free_slot < 0)
                free_slot = i;
            continue;
        }
        if (b->type == type && b->addr == addr && b->len == len) {
            if (!insert)
                b->used = 0;
            return 0;
        }
        hw += b->type != GDB_BP_SW;
    }
    if (!insert)
        return 0;
    if (free_slot < 0 || (type != GDB_BP_SW && hw >= FAKE_MAX_HW))
        return -1;
    t->bp[free_slot] = (struct fake_bp){.used = 1, .type = type, .addr = addr, .len = len};
    return 0;
}

/* A breakpoint of type sw or hw at pc? Returns the stop kind, or -1. */
static int bp_at(const struct fake_target *t, uint64_t pc)
{
    for (int i = 0; i < FAKE_MAX_BP; i++) {
        const struct fake_bp *b = &t->bp[i];
        if (b->used && b->addr == pc && b->type == GDB_BP_SW)
            return GDB_STOP_SWBREAK;
        if (b->used && b->addr == pc && b->type == GDB_BP_HW)
            return GDB_STOP_HWBREAK;
    }
    return -1;
}

/* A watchpoint covering addr for an access (write or read)? Returns the stop kind, or -1. */
static int watch_at(const struct fake_target *t, uint64_t addr, int write)
{
    for (int i = 0; i < FAKE_MAX_BP; i++) {
        const struct fake_bp *b = &t->bp[i];
        if (!b->used || addr < b->addr || addr - b->addr >= b->len)
            continue;
        if (b->type == GDB_WP_WRITE && write)
            return GDB_STOP_WATCH;
        if (b->type == GDB_WP_READ && !write)
            return GDB_STOP_RWATCH;
        if (b->type == GDB_WP_ACCESS)
            return GDB_STOP_AWATCH;
    }
    return -1;
}

/*
 * Execute one instruction. Returns 1 and fills *stop when it stops the
 * machine (exit, watchpoint, end of history), else 0.
 */
static int step_one(struct fake_target *t, struct gdb_stop *stop)
{
    uint64_t pc = t->regs.rip;
    uint8_t op = in_mem(pc, 1) ? t->mem[pc] : 0;
    struct fake_undo u = {.rip = pc, .rax = t->regs.rax, .store_addr = -1};
    int kind = -1;
    uint64_t addr = t->regs.rbx;

    if (t->history_end && t->pos >= t->history_end) {
        stop->kind = GDB_STOP_HISTORY_END;
        return 1;
    }
    switch (op) {
    case FAKE_OP_SPIN:
        break;
    case FAKE_OP_EXIT:
        t->exited = 1;
        stop->kind = GDB_STOP_EXITED;
        stop->status = (int)(t->regs.rax & 0xff);
        return 1;
    case FAKE_OP_STORE:
        if (in_mem(addr, 1)) {
            u.store_addr = (int64_t)addr;
            u.old = t->mem[addr];
            t->mem[addr] = (uint8_t)t->regs.rax;
            kind = watch_at(t, addr, 1);
        }
        t->regs.rip++;
        break;
    case FAKE_OP_LOAD:
        if (in_mem(addr, 1)) {
            t->regs.rax = (t->regs.rax & ~0xffull) | t->mem[addr];
            kind = watch_at(t, addr, 0);
        }
        t->regs.rip++;
        break;
    default:
        t->regs.rip++;
        break;
    }
    /* A ring: the oldest instructions fall out of history. */
    t->hist[t->head] = u;
    t->head = (t->head + 1) % FAKE_HISTORY;
    if (t->nhist < FAKE_HISTORY)
        t->nhist++;
    t->pos++;
    if (kind >= 0) {
        stop->kind = kind;
        stop->addr = addr;
        return 1;
    }
    return 0;
}

/* Undo one instruction. Returns 0, or -1 at the start of history. */
static int unstep_one(struct fake_target *t, struct gdb_stop *stop)
{
    if (t->nhist == 0)
        return -1;
    t->head = (t->head + FAKE_HISTORY - 1) % FAKE_HISTORY;
    t->nhist--;
    t->pos--;
    struct fake_undo *u = &t->hist[t->head];
    t->regs.rip = u->rip;
    t->regs.rax = u->rax;
    if (u->store_addr >= 0) {
        t->mem[u->store_addr] = u->old;
        int kind = watch_at(t, (uint64_t)u->store_addr, 1);
        if (kind >= 0) {
            stop->kind = kind;
            stop->addr = (uint64_t)u->store_addr;
            return 1;
        }
    }
    return 0;
}

static int resume(void *vt, const struct gdb_resume *req, struct gdb_stop *stop)
{
    struct fake_target *t = vt;
    t->resumes++;
    t->last_resume_how = req->how;
    if (t->exited) {
        stop->kind = GDB_STOP_EXITED;
        return 0;
    }
    switch (req->how) {
    case GDB_RESUME_STEP:
        if (!step_one(t, stop))
            stop->kind = GDB_STOP_STEP;
        return 0;
    case GDB_RESUME_RSTEP: {
        int r = unstep_one(t, stop);
        if (r < 0)
            stop->kind = GDB_STOP_HISTORY_BEGIN;
        else if (r == 0)
            stop->kind = GDB_STOP_STEP;
        return 0;
    }
    case GDB_RESUME_RCONT:
        for (;;) {
            int r = unstep_one(t, stop);
            if (r < 0) {
                stop->kind = GDB_STOP_HISTORY_BEGIN;
                return 0;
            }
            if (r > 0)
                return 0;
            int k = bp_at(t, t->regs.rip);
            if (k >= 0) {
                stop->kind = k;
                return 0;
            }
            if (gdbstub_poll_interrupt(req->stub)) {
                stop->kind = GDB_STOP_INTERRUPT;
                return 0;
            }
        }
    case GDB_RESUME_CONT:
    case GDB_RESUME_RANGE_STEP:
        for (long i = 0; i < t->run_limit; i++) {
            if (step_one(t, stop))
                return 0;
            int k = bp_at(t, t->regs.rip);
            if (k >= 0) {
                stop->kind = k;
                return 0;
            }
            if (req->how == GDB_RESUME_RANGE_STEP &&
                (t->regs.rip < req->start || t->regs.rip >= req->end)) {
                stop->kind = GDB_STOP_STEP;
                return 0;
            }
            t->polls++;
            if (gdbstub_poll_interrupt(req->stub)) {
                stop->kind = GDB_STOP_INTERRUPT;
                return 0;
            }
        }
        stop->kind = GDB_STOP_SIGNAL;
        stop->status = 5;
        return 0;
    }
    return -1;
}

static int monitor(void *vt, const char *cmd, gdb_out_fn out, void *ctx)
{
    struct fake_target *t = vt;
    char buf[128];
    if (strcmp(cmd, "when") == 0) {
        int n = snprintf(buf, sizeof(buf), "instructions: %llu\n", (unsigned long long)t->pos);
        out(ctx, buf, (size_t)n);
        return 0;
    }
    if (strncmp(cmd, "echo", 4) == 0) {
        out(ctx, cmd + 4, strlen(cmd + 4));
        out(ctx, "\n", 1);
        return 0;
    }
    if (strncmp(cmd, "spam ", 5) == 0) {
        int count = atoi(cmd + 5);
        memset(buf, 'y', sizeof(buf));
        for (; count > 0; count -= (int)sizeof(buf))
            out(ctx, buf, count < (int)sizeof(buf) ? (size_t)count : sizeof(buf));
        out(ctx, "\n", 1);
        return 0;
    }
    if (strcmp(cmd, "fail") == 0) {
        out(ctx, "it failed\n", 10);
        return -1;
    }
    return GDB_UNSUPPORTED;
}

static const struct gdb_monitor_cmd monitor_cmds[] = {
    {"when", "print the number of instructions executed"},
    {"echo", "echo TEXT: print TEXT"},
    {"spam", "spam N: print N bytes"},
    {"fail", "always fails"},
    {NULL, NULL},
};

static int kill_target(void *vt)
{
    struct fake_target *t = vt;
    t->killed = 1;
    return 0;
}

static void detach(void *vt)
{
    struct fake_target *t = vt;
    t->detached = 1;
}

static void log_msg(void *vt, const char *msg)
{
    struct fake_target *t = vt;
    snprintf(t->log, sizeof(t->log), "%s", msg);
    t->nlogs++;
}

void fake_target_ops(struct gdb_target_ops *ops, int reverse_supported)
{
    *ops = (struct gdb_target_ops){
        .read_regs = read_regs,
        .write_regs = write_regs,
        .read_mem = read_mem,
        .write_mem = write_mem,
        .set_bp = set_bp,
        .resume = resume,
        .monitor = monitor,
        .monitor_cmds = monitor_cmds,
        .kill = kill_target,
        .detach = detach,
        .log = log_msg,
        .reverse_supported = reverse_supported,
        .range_step = 0,
    };
}
