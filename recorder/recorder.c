/*
 * recorder.c - hypercall wrappers that log every nondeterministic input
 * (recorder.h).
 */
#include "recorder/recorder.h"

#include <string.h>
#include <time.h>

static enum hc_status rec_handler(struct monitor *m, struct hc_call *c)
{
    struct recorder *r = m->user;
    const struct hc_desc *d = &hc_table[c->nr];
    uint64_t in = monitor_input_digest(m, c);
    r->chain = monitor_regs_digest(m, r->chain);
    enum hc_status st = hc_live_handlers[c->nr](m, c);

    struct pvlog_write writes[1 + HC_MAX_RANGES];
    uint32_t n = 0;
    if (d->has_out)
        writes[n++] = (struct pvlog_write){c->gpa, d->size, c->a.bytes};
    struct hc_range out[HC_MAX_RANGES];
    int nout = d->written(c->a.bytes, out);
    for (int i = 0; i < nout; i++)
        writes[n++] = (struct pvlog_write){out[i].gpa, (uint32_t)out[i].len,
                                           vm_gpa(&m->vm, out[i].gpa, out[i].len)};
    struct pvlog_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = PVLOG_EV_HYPERCALL;
    ev.nr = c->nr;
    ev.regs8 = (uint8_t)r->chain;
    ev.regs_chain = r->chain;
    ev.rip = c->rip;
    ev.arg_gpa = c->gpa;
    ev.in_digest = in;
    ev.nwrites = n;
    ev.writes = writes;
    if (pvlog_writer_append(r->w, &ev, &r->err) != PVLOG_OK) {
        r->failed = 1;
        monitor_set_stop(m, MON_ABORT, PVRR_EXIT_ERROR, "recording failed: %s", r->err.msg);
        return HC_STOP;
    }
    return st;
}

void recorder_attach(struct recorder *r, struct monitor *m, struct pvlog_writer *w)
{
    memset(r, 0, sizeof *r);
    r->m = m;
    r->w = w;
    m->user = r;
    for (int i = 0; i < PVRR_HC_MAX; i++)
        m->handlers[i] = rec_handler;
}

uint8_t recorder_end_reason(enum monitor_stop_reason reason)
{
    switch (reason) {
    case MON_EXIT:
        return PVLOG_END_EXIT;
    case MON_PANIC:
        return PVLOG_END_PANIC;
    case MON_TIMEOUT:
        return PVLOG_END_TIMEOUT;
    case MON_ABORT:
        return PVLOG_END_ABORT;
    default:
        return PVLOG_END_FAULT;
    }
}

enum pvlog_status recorder_finish(struct recorder *r)
{
    struct pvlog_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = PVLOG_EV_END;
    ev.end_reason = recorder_end_reason(r->m->stop.reason);
    ev.status = r->m->stop.status;
    ev.final_digest = monitor_state_digest(r->m);
    ev.regs_chain = r->chain;
    struct engine_regs regs;
    vm_get_regs(&r->m->vm, &regs);
    ev.rip = regs.rip;
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    ev.end_wall_ns = (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
    return pvlog_writer_append(r->w, &ev, &r->err);
}
