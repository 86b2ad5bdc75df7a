/*
 * replayer.c - deterministic re-execution from a pvlog (replayer.h).
 */
#include "replayer/replayer.h"

#include "formats/symbolize.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

const char *replayer_end_reason_name(uint8_t r)
{
    switch (r) {
    case PVLOG_END_EXIT:
        return "exit";
    case PVLOG_END_PANIC:
        return "panic";
    case PVLOG_END_FAULT:
        return "fault";
    case PVLOG_END_TIMEOUT:
        return "timeout";
    case PVLOG_END_ABORT:
        return "interrupted";
    default:
        return "unknown";
    }
}

/* Map a reader error to pvrr's exit status. */
int replayer_status_of_log_error(enum pvlog_status st)
{
    switch (st) {
    case PVLOG_ETRUNCATED:
        return PVRR_REPLAY_TRUNCATED;
    case PVLOG_EVERSION:
        return PVRR_REPLAY_VERSION;
    case PVLOG_EIO:
        return PVRR_EXIT_ERROR;
    default:
        return PVRR_REPLAY_CORRUPT;
    }
}

/* Make r->ev the next event. Returns 0, or -1 once the log has no more events
 * (r->log_status says why). */
static int peek_event(struct replayer *r)
{
    if (r->have_ev)
        return 0;
    if (r->log_status != PVLOG_OK)
        return -1;
    enum pvlog_status st = pvlog_reader_next(r->rd, &r->ev, &r->log_err);
    if (st == PVLOG_OK) {
        r->have_ev = 1;
        return 0;
    }
    r->log_status = st;
    return -1;
}

/* The guest's rip now (canonical). */
static uint64_t replayer_rip(struct replayer *r)
{
    struct engine_regs regs;
    vm_get_regs(&r->m.vm, &regs);
    return regs.rip;
}

static void where(struct replayer *r, uint64_t rip, char *buf, size_t n)
{
    char loc[512];
    if (!r->sym && !r->sym_tried) {
        /* opened only for a report: DWARF parsing costs a fork and tens of ms */
        char serr[256];
        r->sym_tried = 1;
        if (pvrr_sym_open(&r->sym, r->meta->elf, r->meta->elf_len, serr, sizeof serr) < 0)
            r->sym = NULL;
    }
    if (r->sym)
        pvrr_sym_format(r->sym, rip, loc, sizeof loc);
    else
        snprintf(loc, sizeof loc, "0x%" PRIx64, rip);
    snprintf(buf, n, "rip 0x%" PRIx64 " in %s", rip, loc);
}

/* Stop the guest with a divergence report at the current event. */
static void __attribute__((format(printf, 3, 4)))
diverge(struct replayer *r, const struct hc_call *c, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char now[600], then[600] = "";
    where(r, c ? c->rip : replayer_rip(r), now, sizeof now);
    if (r->have_ev && r->ev.kind == PVLOG_EV_HYPERCALL)
        where(r, r->ev.rip, then, sizeof then);
    monitor_set_stop(&r->m, MON_DIVERGED, PVRR_REPLAY_DIVERGED,
                     "replay DIVERGED at event %" PRIu64 ": %s\n"
                     "  guest now at  %s\n"
                     "%s%s%s",
                     r->next_event, what, now, then[0] ? "  recorded at   " : "", then,
                     then[0] ? "\n" : "");
}

/* The log ended before the guest did. */
static void log_ended(struct replayer *r)
{
    monitor_set_stop(&r->m, MON_LOG_END, replayer_status_of_log_error(r->log_status), "%s",
                     r->log_err.msg);
}

/* Stop at once if the recording ended here by timeout or interrupt. */
static int check_cut_end(struct replayer *r)
{
    if (peek_event(r) == 0 && r->ev.kind == PVLOG_EV_END &&
        (r->ev.end_reason == PVLOG_END_TIMEOUT || r->ev.end_reason == PVLOG_END_ABORT)) {
        monitor_set_stop(&r->m, MON_EXIT, r->ev.status,
                         "the recording ends here (%s after event %" PRIu64 ")",
                         replayer_end_reason_name(r->ev.end_reason), r->next_event);
        r->cut_end = 1;
        return 1;
    }
    return 0;
}

static enum hc_status rep_handler(struct monitor *m, struct hc_call *c)
{
    struct replayer *r = m->user;
    const struct hc_desc *d = &hc_table[c->nr];
    uint64_t in = monitor_input_digest(m, c);
    r->chain = monitor_regs_digest(m, r->chain);
    if (peek_event(r) < 0) {
        log_ended(r);
        return HC_STOP;
    }
    const struct pvlog_event *ev = &r->ev;
    if (ev->kind != PVLOG_EV_HYPERCALL) {
        diverge(r, c, "the guest made hypercall %s, but the recording ended here (%s)", d->name,
                replayer_end_reason_name(ev->end_reason));
        return HC_STOP;
    }
    if (ev->nr != c->nr) {
        diverge(r, c, "expected hypercall %s, the guest made %s", hc_name(ev->nr), d->name);
        return HC_STOP;
    }
    if (ev->arg_gpa != c->gpa) {
        diverge(r, c, "hypercall %s: expected arguments at 0x%" PRIx64 ", got 0x%" PRIx64, d->name,
                ev->arg_gpa, c->gpa);
        return HC_STOP;
    }
    if (ev->in_digest != in) {
        diverge(r, c,
                "hypercall %s: inputs differ (digest expected %016" PRIx64 ", got %016" PRIx64 ")",
                d->name, ev->in_digest, in);
        return HC_STOP;
    }
    if (ev->regs8 != (uint8_t)r->chain || (ev->chain_valid && ev->regs_chain != r->chain)) {
        diverge(r, c, "hypercall %s: guest registers differ (digest expected %02x, got %02x)",
                d->name, ev->regs8, (uint8_t)r->chain);
        return HC_STOP;
    }
    enum hc_status st = HC_CONTINUE;
    /* Console output is shown once: a debugger going back and forth
     * re-executes events whose output the user has already seen. */
    int shown = (c->nr == PVRR_HC_CONSOLE_WRITE || c->nr == PVRR_HC_STDERR_WRITE) &&
                r->next_event < r->output_mark;
    if (d->replays_effect && !shown)
        st = hc_live_handlers[c->nr](m, c);
    if (r->next_event >= r->output_mark)
        r->output_mark = r->next_event + 1;
    uint32_t i = 0;
    if (d->has_out) {
        if (ev->nwrites < 1 || ev->writes[0].gpa != c->gpa || ev->writes[0].len != d->size) {
            diverge(r, c, "hypercall %s: the recorded result does not fit its argument struct",
                    d->name);
            return HC_STOP;
        }
        memcpy(c->a.bytes, ev->writes[0].data, d->size);
        i = 1;
    }
    for (; i < ev->nwrites; i++) {
        void *dst = vm_gpa(&m->vm, ev->writes[i].gpa, ev->writes[i].len);
        if (!dst) {
            diverge(r, c, "recorded write [0x%" PRIx64 ", +0x%x) lies outside guest RAM",
                    ev->writes[i].gpa, ev->writes[i].len);
            return HC_STOP;
        }
        memcpy(dst, ev->writes[i].data, ev->writes[i].len);
        vm_dirty_mark(&m->vm, ev->writes[i].gpa, ev->writes[i].len);
    }
    r->have_ev = 0;
    r->next_event++;
    if (st == HC_CONTINUE && check_cut_end(r))
        return HC_STOP;
    return st;
}

int replayer_open(struct replayer *r, const char *path, int out_fd, char *err, size_t errlen)
{
    return replayer_open_on(r, path, NULL, out_fd, err, errlen);
}

int replayer_open_on(struct replayer *r, const char *path, const char *engine, int out_fd,
                     char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->report = stderr;
    struct pvlog_error perr;
    enum pvlog_status st = pvlog_reader_open(&r->rd, path, &perr);
    if (st != PVLOG_OK) {
        snprintf(err, errlen, "%s: %s", path, perr.msg);
        r->rd = NULL;
        return replayer_status_of_log_error(st);
    }
    r->meta = pvlog_reader_meta(r->rd);
    if (r->meta->abi_version != PVRR_ABI_VERSION) {
        snprintf(err, errlen, "%s: recorded with guest ABI %u, this pvrr supports %d", path,
                 r->meta->abi_version, PVRR_ABI_VERSION);
        return PVRR_REPLAY_VERSION;
    }
    size_t cpuid_len;
    const void *cpuid = engine_cpuid_table(&cpuid_len);
    if (r->meta->cpuid_len != cpuid_len || memcmp(r->meta->cpuid, cpuid, cpuid_len) != 0) {
        snprintf(err, errlen,
                 "%s: recorded with a different CPUID table (pvrr %s); replay it with that "
                 "version",
                 path, r->meta->pvrr_version ? r->meta->pvrr_version : "unknown");
        return PVRR_REPLAY_VERSION;
    }
    struct monitor_config cfg = {
        .mem_size = r->meta->mem_size,
        .cmdline = r->meta->cmdline,
        .elf_name = r->meta->elf_name,
        .engine = engine,
    };
    if (monitor_init(&r->m, &cfg, r->meta->elf, r->meta->elf_len, err, errlen) < 0)
        return PVRR_EXIT_ERROR;
    r->booted = 1;
    r->m.in_fd = -1;
    r->m.out_fd = out_fd;
    r->m.user = r;
    for (int i = 0; i < PVRR_HC_MAX; i++)
        r->m.handlers[i] = rep_handler;
    return 0;
}

int replayer_finish(struct replayer *r)
{
    struct monitor *m = &r->m;
    switch (m->stop.reason) {
    case MON_DIVERGED:
        return PVRR_REPLAY_DIVERGED;
    case MON_LOG_END:
        return m->stop.status;
    case MON_ABORT:
    case MON_TIMEOUT:
        return m->stop.status;
    default:
        break;
    }
    if (r->cut_end)
        return m->stop.status;
    if (peek_event(r) < 0) {
        log_ended(r);
        return m->stop.status;
    }
    const struct pvlog_event *ev = &r->ev;
    if (ev->kind != PVLOG_EV_END) {
        diverge(r, NULL, "the guest stopped (%s) but the recording goes on with hypercall %s",
                m->stop.msg, hc_name(ev->nr));
        return PVRR_REPLAY_DIVERGED;
    }
    if (ev->end_reason == PVLOG_END_TIMEOUT || ev->end_reason == PVLOG_END_ABORT)
        return ev->status;
    if (ev->status != m->stop.status) {
        diverge(r, NULL, "the guest ended with status %d, the recording with %d (%s)",
                m->stop.status, ev->status, replayer_end_reason_name(ev->end_reason));
        return PVRR_REPLAY_DIVERGED;
    }
    uint64_t fin = monitor_state_digest(m);
    if (ev->final_digest != fin || ev->regs_chain != r->chain) {
        diverge(r, NULL,
                "final state differs: memory+register digest expected %016" PRIx64
                ", got %016" PRIx64,
                ev->final_digest, fin);
        return PVRR_REPLAY_DIVERGED;
    }
    r->have_ev = 0;
    return ev->status;
}

int replayer_run(struct replayer *r)
{
    if (!check_cut_end(r))
        monitor_run(&r->m);
    r->result = replayer_finish(r);
    return r->result;
}

int replayer_rewind(struct replayer *r, uint64_t event, uint64_t chain)
{
    struct pvlog_error err;
    if (pvlog_reader_seek(r->rd, event, &err) != PVLOG_OK) {
        r->log_err = err;
        return -1;
    }
    r->log_status = PVLOG_OK;
    r->have_ev = 0;
    r->next_event = event;
    r->chain = chain;
    r->cut_end = 0;
    memset(&r->m.stop, 0, sizeof r->m.stop);
    return 0;
}

void replayer_close(struct replayer *r)
{
    if (r->sym)
        pvrr_sym_close(r->sym);
    if (r->booted)
        monitor_fini(&r->m);
    if (r->rd)
        pvlog_reader_close(r->rd);
    memset(r, 0, sizeof *r);
}
