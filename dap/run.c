/*
 * run.c - execution control of the DAP session: continue, line steps in both
 * directions, step out, built from the single-instruction, range-step and
 * continue resumes of struct gdb_target_ops; breakpoint bookkeeping; and the
 * stopped/exited events. See session.h.
 */
#include "dap/session.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A line step gives up after this many resumes (a spin loop on one line). */
#define MAX_STEP_RESUMES 200000

/* ---- code breakpoints, shared by users and by stepping ---- */

int dap_bp_ref(struct dap_session *s, uint64_t addr)
{
    for (size_t i = 0; i < s->ncbps; i++)
        if (s->cbps[i].addr == addr) {
            s->cbps[i].refs++;
            return 0;
        }
    if (s->ncbps == s->capcbps) {
        size_t cap = s->capcbps ? 2 * s->capcbps : 16;
        struct code_bp *b = realloc(s->cbps, cap * sizeof(*b));
        if (!b)
            return -1;
        s->cbps = b;
        s->capcbps = cap;
    }
    if (s->prog.ops->set_bp(s->prog.target, GDB_BP_SW, addr, 1, 1) != 0)
        return -1;
    s->cbps[s->ncbps++] = (struct code_bp){.addr = addr, .refs = 1};
    return 0;
}

void dap_bp_unref(struct dap_session *s, uint64_t addr)
{
    for (size_t i = 0; i < s->ncbps; i++)
        if (s->cbps[i].addr == addr) {
            if (--s->cbps[i].refs == 0) {
                s->prog.ops->set_bp(s->prog.target, GDB_BP_SW, addr, 1, 0);
                s->cbps[i] = s->cbps[--s->ncbps];
            }
            return;
        }
}

/* ---- one resume ---- */

struct outcome {
    struct gdb_stop st;
    int failed; /* the target could not run */
};

static int resume1(struct dap_session *s, enum gdb_resume_kind how, uint64_t start, uint64_t end,
                   struct outcome *o)
{
    struct gdb_resume req = {.how = how, .start = start, .end = end, .stub = s->poller};
    memset(&o->st, 0, sizeof o->st);
    o->st.kind = GDB_STOP_SIGNAL;
    o->st.status = 5;
    dap_invalidate(s);
    if (s->pause_requested) {
        o->st.kind = GDB_STOP_INTERRUPT;
        return 0;
    }
    if (how == GDB_RESUME_RANGE_STEP && !s->prog.ops->range_step)
        req.how = GDB_RESUME_STEP; /* callers loop until the range is left */
    s->running = 1;
    int r = s->prog.ops->resume(s->prog.target, &req, &o->st);
    s->running = 0;
    dap_drain_console(s);
    o->failed = r < 0;
    return r;
}

/* Registers and the innermost frame's CFA now. Returns 0 or -1. */
static int where(struct dap_session *s, struct gdb_regs *r, struct dap_frame *f)
{
    if (s->prog.ops->read_regs(s->prog.target, r) < 0)
        return -1;
    dap_unwind(s->di, &s->mc, r, f, 1);
    return 0;
}

/* Run forward until pc reaches (ra) with a CFA above (cfa) (the frame that
 * called returned), or anything else stops it. 0: arrived; 1: stopped for
 * another reason (in *o); -1: failed. */
static int run_to_return(struct dap_session *s, uint64_t ra, uint64_t cfa, struct outcome *o)
{
    if (dap_bp_ref(s, ra) < 0)
        return -1;
    int rc;
    for (;;) {
        struct gdb_regs r;
        struct dap_frame f;
        if (resume1(s, GDB_RESUME_CONT, 0, 0, o) < 0) {
            rc = -1;
            break;
        }
        if ((o->st.kind != GDB_STOP_SWBREAK && o->st.kind != GDB_STOP_HWBREAK) ||
            where(s, &r, &f) < 0 || r.rip != ra) {
            rc = 1;
            break;
        }
        if (r.rsp >= cfa) {
            rc = 0;
            break;
        }
        /* the same return address in a deeper (recursive) call: go on */
    }
    dap_bp_unref(s, ra);
    return rc;
}

/* Is there a user breakpoint at (addr)? */
static int user_bp_at(struct dap_session *s, uint64_t addr)
{
    for (size_t i = 0; i < s->nubps; i++)
        if (s->ubps[i].verified && s->ubps[i].addr == addr)
            return 1;
    return 0;
}

/*
 * A forward line step: next (into = 0) or step in (into = 1). Returns 0 when
 * the step completed (o->st.kind == GDB_STOP_STEP), 1 when something else
 * stopped it, -1 on failure.
 */
static int step_line(struct dap_session *s, int into, struct outcome *o)
{
    struct gdb_regs r;
    struct dap_frame f0, f;
    uint64_t end0 = 0;
    if (where(s, &r, &f0) < 0)
        return -1;
    const struct dap_row *row0 = dap_di_row_at(s->di, r.rip, &end0);
    unsigned line0 = row0 ? row0->line : 0, file0 = row0 ? row0->file : 0;
    uint64_t start0 = row0 ? row0->addr : r.rip;
    for (int n = 0; n < MAX_STEP_RESUMES; n++) {
        uint64_t end;
        const struct dap_row *row = dap_di_row_at(s->di, r.rip, &end);
        int rc = row ? resume1(s, GDB_RESUME_RANGE_STEP, r.rip, end, o)
                     : resume1(s, GDB_RESUME_STEP, 0, 0, o);
        if (rc < 0)
            return -1;
        if (o->st.kind != GDB_STOP_STEP)
            return 1;
        if (where(s, &r, &f) < 0)
            return -1;
        if (user_bp_at(s, r.rip) && r.rip != start0) {
            o->st.kind = GDB_STOP_SWBREAK; /* a range step ended on a breakpoint */
            return 1;
        }
        if (f.cfa && f0.cfa && f.cfa < f0.cfa) {
            /* entered a call: rsp points at the return address */
            const struct dap_func *fn = dap_di_func_at(s->di, r.rip);
            if (into && fn && dap_di_row_at(s->di, r.rip, NULL)) {
                uint64_t body = dap_di_after_prologue(s->di, fn);
                if (body == r.rip)
                    return 0;
                int k = run_to_return(s, body, 0, o);
                return k == 0 ? (o->st.kind = GDB_STOP_STEP, 0) : k;
            }
            uint64_t ra;
            if (s->prog.ops->read_mem(s->prog.target, r.rsp, &ra, 8) < 0)
                return -1;
            int k = run_to_return(s, ra, r.rsp + 8, o);
            if (k != 0)
                return k;
            if (where(s, &r, &f) < 0)
                return -1;
        } else if (f.cfa && f0.cfa && f.cfa > f0.cfa) {
            return 0; /* returned to the caller */
        }
        row = dap_di_row_at(s->di, r.rip, NULL);
        if (!row)
            continue; /* no line information: keep going */
        if (row->line != line0 || row->file != file0 || r.rip == start0 || !line0)
            return 0;
    }
    return 0;
}

/* Step out of the innermost frame. Same returns as step_line. */
static int step_out(struct dap_session *s, struct outcome *o)
{
    if (dap_load_stack(s) < 0)
        return -1;
    if (s->nframes < 2) {
        /* the outermost frame: nowhere to return to; run on */
        return resume1(s, GDB_RESUME_CONT, 0, 0, o) < 0 ? -1 : 1;
    }
    uint64_t ra = s->frames[1].pc, cfa = s->frames[0].cfa;
    int k = run_to_return(s, ra, cfa, o);
    if (k == 0)
        o->st.kind = GDB_STOP_STEP;
    return k;
}

/* Back over a call whose callee we are in (at its last instruction): to
 * the call instruction. Same returns as step_line. */
static int back_over_call(struct dap_session *s, struct gdb_regs *r, struct outcome *o)
{
    const struct dap_func *fn = dap_di_func_at(s->di, r->rip);
    uint64_t entry = fn ? fn->lo : 0, sp = r->rsp;
    if (!entry)
        return 0; /* unknown code: step back through it instruction by instruction */
    if (dap_bp_ref(s, entry) < 0)
        return -1;
    int rc = 0;
    for (;;) {
        if (resume1(s, GDB_RESUME_RCONT, 0, 0, o) < 0) {
            rc = -1;
            break;
        }
        if (o->st.kind != GDB_STOP_SWBREAK && o->st.kind != GDB_STOP_HWBREAK) {
            rc = 1;
            break;
        }
        if (s->prog.ops->read_regs(s->prog.target, r) < 0) {
            rc = -1;
            break;
        }
        if (r->rip == entry && r->rsp == sp)
            break;
        if (r->rip != entry) {
            rc = 1; /* a user breakpoint inside the callee */
            break;
        }
    }
    dap_bp_unref(s, entry);
    if (rc != 0)
        return rc;
    if (resume1(s, GDB_RESUME_RSTEP, 0, 0, o) < 0)
        return -1;
    return o->st.kind == GDB_STOP_STEP ? 0 : 1;
}

/* A reverse line step: to the start of the previous line of this frame. */
static int step_back(struct dap_session *s, struct outcome *o)
{
    struct gdb_regs r;
    struct dap_frame f0, f;
    if (where(s, &r, &f0) < 0)
        return -1;
    const struct dap_row *row0 = dap_di_row_at(s->di, r.rip, NULL);
    unsigned line = row0 ? row0->line : 0, file = row0 ? row0->file : 0;
    int phase = 1; /* 1: leave the current line; 2: go to the start of the previous one */
    for (int n = 0; n < MAX_STEP_RESUMES; n++) {
        if (resume1(s, GDB_RESUME_RSTEP, 0, 0, o) < 0)
            return -1;
        if (o->st.kind != GDB_STOP_STEP)
            return 1;
        if (where(s, &r, &f) < 0)
            return -1;
        if (f.cfa && f0.cfa && f.cfa < f0.cfa) {
            if (phase == 2) {
                /* the line starts right after a call returns: forward over the ret */
                break;
            }
            int k = back_over_call(s, &r, o);
            if (k != 0)
                return k;
            if (where(s, &r, &f) < 0)
                return -1;
        }
        if (f.cfa && f0.cfa && f.cfa > f0.cfa) {
            if (phase == 1)
                return 0; /* back out of the function, at its call */
            break;
        }
        const struct dap_row *row = dap_di_row_at(s->di, r.rip, NULL);
        if (!row)
            continue;
        if (phase == 1) {
            if (row->line != line || row->file != file || !line) {
                phase = 2;
                line = row->line;
                file = row->file;
            }
        } else if (row->line != line || row->file != file) {
            break;
        }
        /* at the first instruction of the line's first row in this block of code:
         * its start (the instruction executed before it is elsewhere, or it was
         * entered by a jump). A row right after another row of the same line is
         * most likely entered from it: go on. */
        if (phase == 2 && r.rip == row->addr) {
            const struct dap_row *prev = dap_di_row_at(s->di, row->addr - 1, NULL);
            if (!prev || prev->line != line || prev->file != file)
                return 0;
        }
    }
    /* one instruction too far back: forward again to the line's start */
    if (resume1(s, GDB_RESUME_STEP, 0, 0, o) < 0)
        return -1;
    return o->st.kind == GDB_STOP_STEP ? 0 : 1;
}

/* ---- reporting ---- */

static void add_hits(struct dap_session *s, json_object *body, uint64_t pc, int *is_func)
{
    json_object *ids = json_object_new_array();
    *is_func = 0;
    for (size_t i = 0; i < s->nubps; i++)
        if (s->ubps[i].verified && s->ubps[i].addr == pc) {
            json_object_array_add(ids, json_object_new_int(s->ubps[i].id));
            *is_func |= s->ubps[i].is_func;
        }
    if (json_object_array_length(ids) > 0)
        json_object_object_add(body, "hitBreakpointIds", ids);
    else
        json_object_put(ids);
}

static void stopped(struct dap_session *s, const char *reason, const char *desc, json_object *body)
{
    if (!body)
        body = json_object_new_object();
    json_object_object_add(body, "reason", json_object_new_string(reason));
    if (desc) {
        json_object_object_add(body, "description", json_object_new_string(desc));
        json_object_object_add(body, "text", json_object_new_string(desc));
    }
    json_object_object_add(body, "threadId", json_object_new_int(1));
    json_object_object_add(body, "allThreadsStopped", json_object_new_boolean(1));
    dap_event(s, "stopped", body);
}

void dap_report_stop(struct dap_session *s, const char *reason, const char *description)
{
    dap_invalidate(s);
    stopped(s, reason, description, NULL);
}

static void report(struct dap_session *s, const struct outcome *o, const char *step_reason)
{
    char desc[256];
    struct gdb_regs r;
    json_object *body = json_object_new_object();
    int is_func;
    if (o->failed) {
        json_object_put(body);
        dap_output(s, "console", "pvrr: the machine cannot run\n", 29);
        stopped(s, "exception", "the machine cannot run", NULL);
        return;
    }
    switch (o->st.kind) {
    case GDB_STOP_EXITED: {
        json_object_put(body);
        s->exited = 1;
        json_object *b = json_object_new_object();
        json_object_object_add(b, "exitCode", json_object_new_int(o->st.status));
        dap_event(s, "exited", b);
        dap_event(s, "terminated", NULL);
        return;
    }
    case GDB_STOP_HISTORY_END:
        stopped(s, "end of history", "end of the recording; reverse execution goes back from here",
                body);
        return;
    case GDB_STOP_HISTORY_BEGIN:
        stopped(s, "start of history", "start of the recording", body);
        return;
    case GDB_STOP_INTERRUPT:
        stopped(s, "pause", NULL, body);
        return;
    case GDB_STOP_SWBREAK:
    case GDB_STOP_HWBREAK:
        if (s->prog.ops->read_regs(s->prog.target, &r) == 0) {
            add_hits(s, body, r.rip, &is_func);
            if (json_object_object_get_ex(body, "hitBreakpointIds", NULL)) {
                stopped(s, is_func ? "function breakpoint" : "breakpoint", NULL, body);
                return;
            }
        }
        stopped(s, step_reason, NULL, body);
        return;
    case GDB_STOP_WATCH:
    case GDB_STOP_RWATCH:
    case GDB_STOP_AWATCH: {
        json_object *ids = json_object_new_array();
        snprintf(desc, sizeof desc, "data breakpoint at 0x%" PRIx64, o->st.addr);
        for (int i = 0; i < s->ndbps; i++)
            if (o->st.addr >= s->dbps[i].addr && o->st.addr < s->dbps[i].addr + s->dbps[i].len) {
                json_object_array_add(ids, json_object_new_int(s->dbps[i].id));
                snprintf(desc, sizeof desc, "%s %s", s->dbps[i].desc,
                         o->st.kind == GDB_STOP_WATCH ? "written" : "accessed");
            }
        json_object_object_add(body, "hitBreakpointIds", ids);
        stopped(s, "data breakpoint", desc, body);
        return;
    }
    case GDB_STOP_SIGNAL:
        snprintf(desc, sizeof desc, "stopped with signal %d", o->st.status);
        stopped(s, "exception", desc, body);
        return;
    case GDB_STOP_STEP:
    default:
        stopped(s, step_reason, NULL, body);
    }
}

void dap_move(struct dap_session *s, enum dap_motion m)
{
    static const char *const titles[] = {
        [M_CONTINUE] = "continue", [M_REVERSE_CONTINUE] = "reverse continue",
        [M_NEXT] = "step over",    [M_STEP_IN] = "step into",
        [M_STEP_OUT] = "step out", [M_STEP_BACK] = "step back",
        [M_INSTRUCTION] = "step",  [M_INSTRUCTION_BACK] = "step back",
    };
    struct outcome o = {0};
    const char *reason = "step";
    int rc;
    s->pause_requested = 0;
    s->motion = titles[m];
    s->progress_id++;
    s->progress_on = 0;
    s->progress_last = 0;
    clock_gettime(CLOCK_MONOTONIC, &s->motion_t0);
    switch (m) {
    case M_CONTINUE:
        rc = resume1(s, GDB_RESUME_CONT, 0, 0, &o);
        break;
    case M_REVERSE_CONTINUE:
        rc = resume1(s, GDB_RESUME_RCONT, 0, 0, &o);
        break;
    case M_NEXT:
    case M_STEP_IN:
        rc = step_line(s, m == M_STEP_IN, &o);
        break;
    case M_STEP_OUT:
        rc = step_out(s, &o);
        break;
    case M_STEP_BACK:
        rc = step_back(s, &o);
        break;
    case M_INSTRUCTION:
        rc = resume1(s, GDB_RESUME_STEP, 0, 0, &o);
        break;
    case M_INSTRUCTION_BACK:
    default:
        rc = resume1(s, GDB_RESUME_RSTEP, 0, 0, &o);
        break;
    }
    if (rc < 0)
        o.failed = 1;
    if (s->hangup || s->io_error)
        return; /* nobody to tell */
    dap_progress(s, 1);
    if (s->pause_requested && o.st.kind == GDB_STOP_STEP && !o.failed)
        o.st.kind = GDB_STOP_INTERRUPT;
    s->pause_requested = 0;
    report(s, &o, reason);
}
