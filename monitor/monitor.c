/*
 * monitor.c - the exit loop, hypercall dispatch and guest lifecycle (monitor.h).
 */
#include "monitor/monitor.h"

#include "formats/elf.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

void monitor_set_stop(struct monitor *m, enum monitor_stop_reason reason, int status,
                      const char *fmt, ...)
{
    m->stop.reason = reason;
    m->stop.status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->stop.msg, sizeof m->stop.msg, fmt, ap);
    va_end(ap);
}

uint64_t monitor_now_ns(const struct monitor *m)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)(t.tv_sec - m->t0.tv_sec) * 1000000000ull + (uint64_t)t.tv_nsec -
           (uint64_t)m->t0.tv_nsec;
}

int monitor_init(struct monitor *m, const struct monitor_config *cfg, const void *elf, size_t len,
                 char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->disk_fd = -1;
    m->in_fd = -1;
    m->out_fd = STDOUT_FILENO;
    m->err_fd = STDERR_FILENO;
    if (m->cfg.mem_size == 0)
        m->cfg.mem_size = MONITOR_DEFAULT_MEM;
    if (m->cfg.mem_size % 4096 != 0 || m->cfg.mem_size < (2u << 20) ||
        m->cfg.mem_size > PVRR_MEM_MAX) {
        snprintf(err, errlen,
                 "guest memory size %llu is invalid: need a multiple of 4 KiB "
                 "between 2 MiB and 4 GiB",
                 (unsigned long long)m->cfg.mem_size);
        return -1;
    }
    if (!m->cfg.cmdline)
        m->cfg.cmdline = "";
    struct pvrr_elf_image img;
    char eerr[256];
    if (pvrr_elf_parse(elf, len, m->cfg.mem_size, &img, eerr, sizeof eerr) < 0) {
        snprintf(err, errlen, "%s: %s", cfg->elf_name ? cfg->elf_name : "guest ELF", eerr);
        return -1;
    }
    if (vm_create(&m->vm, m->cfg.engine, m->cfg.mem_size, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < img.nsegs; i++) {
        const struct pvrr_elf_segment *s = &img.segs[i];
        uint8_t *dst = vm_gpa(&m->vm, s->paddr, s->memsz);
        if (!dst) { /* the parser checked this; keep the accessor the only path */
            snprintf(err, errlen, "segment %zu lies outside guest RAM", i);
            goto fail;
        }
        memcpy(dst, (const uint8_t *)elf + s->offset, s->filesz);
        memset(dst + s->filesz, 0, s->memsz - s->filesz);
        vm_dirty_mark(&m->vm, s->paddr, s->memsz);
    }
    m->entry = img.entry;
    m->image_end = img.image_end;
    if (vm_boot_long_mode(&m->vm, img.entry, img.image_end, m->cfg.cmdline, err, errlen) < 0)
        goto fail;
    if (m->cfg.disk_path) {
        m->disk_writable = 1;
        m->disk_fd = open(m->cfg.disk_path, O_RDWR | O_CLOEXEC);
        if (m->disk_fd < 0 && (errno == EACCES || errno == EROFS)) {
            m->disk_writable = 0;
            m->disk_fd = open(m->cfg.disk_path, O_RDONLY | O_CLOEXEC);
        }
        struct stat st;
        if (m->disk_fd < 0 || fstat(m->disk_fd, &st) < 0) {
            snprintf(err, errlen, "disk image %s: %s", m->cfg.disk_path, strerror(errno));
            goto fail;
        }
        m->disk_sectors = (uint64_t)st.st_size / PVRR_BLK_SECTOR;
    }
    if (m->cfg.stdin_path) {
        m->in_fd = open(m->cfg.stdin_path, O_RDONLY | O_CLOEXEC);
        if (m->in_fd < 0) {
            snprintf(err, errlen, "--stdin %s: %s", m->cfg.stdin_path, strerror(errno));
            goto fail;
        }
    } else {
        struct stat st;
        m->in_fd = fstat(STDIN_FILENO, &st) == 0 ? STDIN_FILENO : -1;
    }
    if (hc_fs_init(m, err, errlen) < 0)
        goto fail;
    memcpy(m->handlers, hc_live_handlers, sizeof m->handlers);
    clock_gettime(CLOCK_MONOTONIC, &m->t0);
    if (m->cfg.timeout_s > 0) {
        m->deadline = m->t0;
        double whole = (double)(long long)m->cfg.timeout_s;
        m->deadline.tv_sec += (time_t)whole;
        m->deadline.tv_nsec += (long)((m->cfg.timeout_s - whole) * 1e9);
        if (m->deadline.tv_nsec >= 1000000000L) {
            m->deadline.tv_sec++;
            m->deadline.tv_nsec -= 1000000000L;
        }
    }
    return 0;
fail:
    monitor_fini(m);
    return -1;
}

void monitor_fini(struct monitor *m)
{
    monitor_kick_every(m, 0);
    if (m->disk_fd >= 0)
        close(m->disk_fd);
    if (m->in_fd > STDIN_FILENO)
        close(m->in_fd);
    m->disk_fd = m->in_fd = -1;
    hc_fs_fini(m);
    vm_destroy(&m->vm);
}

/* Stop as a fault with the message (fmt) followed by the register dump. */
static void __attribute__((format(printf, 2, 3))) fault(struct monitor *m, const char *fmt, ...)
{
    char head[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    char regs[1024] = "";
    FILE *f = fmemopen(regs, sizeof regs, "w");
    if (f) {
        vm_dump_regs(&m->vm, f);
        fclose(f);
    }
    monitor_set_stop(m, MON_FAULT, PVRR_EXIT_PANIC, "%s\n%s", head, regs);
    struct engine_regs r;
    vm_get_regs(&m->vm, &r);
    m->stop.rip = r.rip;
}

static enum monitor_event serve(struct monitor *m, unsigned nr, uint16_t port, uint64_t rip,
                                uint32_t gpa32);

/* Serve the hypercall the guest requested with this port-I/O event. */
static enum monitor_event dispatch_io(struct monitor *m)
{
    struct engine_regs r;
    vm_get_regs(&m->vm, &r);
    uint16_t port = m->ev.io.port;
    if (port < PVRR_HC_PORT_BASE || port >= PVRR_HC_PORT_BASE + 0x100 || !m->ev.io.is_out ||
        m->ev.io.size != 4) {
        fault(m, "guest %s I/O port 0x%x (size %u) at rip 0x%llx: not a pvrr hypercall",
              m->ev.io.is_out ? "wrote" : "read", port, m->ev.io.size, (unsigned long long)r.rip);
        return MON_EV_STOPPED;
    }
    return serve(m, port - PVRR_HC_PORT_BASE, port, r.rip, m->ev.io.value);
}

/* Copy in, validate and serve hypercall (nr). */
static enum monitor_event serve(struct monitor *m, unsigned nr, uint16_t port, uint64_t rip,
                                uint32_t gpa32)
{
    if (nr >= PVRR_HC_MAX) {
        fault(m, "unknown hypercall %u (port 0x%x) at rip 0x%llx", nr, port,
              (unsigned long long)rip);
        return MON_EV_STOPPED;
    }
    const struct hc_desc *d = &hc_table[nr];
    struct hc_call c;
    c.nr = (uint16_t)nr;
    c.rip = rip;
    c.gpa = gpa32;
    const void *src = vm_gpa(&m->vm, c.gpa, d->size);
    if (!src) {
        fault(m,
              "hypercall %s at rip 0x%llx: argument struct [0x%llx, 0x%llx) lies outside "
              "guest RAM (0x%llx bytes)",
              d->name, (unsigned long long)rip, (unsigned long long)c.gpa,
              (unsigned long long)c.gpa + d->size, (unsigned long long)m->vm.mem_size);
        return MON_EV_STOPPED;
    }
    memcpy(c.a.bytes, src, d->size); /* the only read of the struct */
    const char *why = NULL;
    c.nranges = d->ranges(c.a.bytes, c.ranges, &why);
    if (c.nranges < 0) {
        fault(m, "hypercall %s at rip 0x%llx: %s", d->name, (unsigned long long)rip, why);
        return MON_EV_STOPPED;
    }
    for (int i = 0; i < c.nranges; i++) {
        if (!vm_gpa(&m->vm, c.ranges[i].gpa, c.ranges[i].len)) {
            fault(m,
                  "hypercall %s at rip 0x%llx: buffer [0x%llx, +0x%llx) lies outside guest "
                  "RAM (0x%llx bytes)",
                  d->name, (unsigned long long)rip, (unsigned long long)c.ranges[i].gpa,
                  (unsigned long long)c.ranges[i].len, (unsigned long long)m->vm.mem_size);
            return MON_EV_STOPPED;
        }
    }
    m->hc_count++;
    enum hc_status st = m->handlers[nr](m, &c);
    if (d->has_out) {
        memcpy(vm_gpa(&m->vm, c.gpa, d->size), c.a.bytes, d->size);
        vm_dirty_mark(&m->vm, c.gpa, d->size);
    }
    return st == HC_STOP ? MON_EV_STOPPED : MON_EV_HYPERCALL;
}

int monitor_check_deadlines(struct monitor *m)
{
    if (m->interrupt && *m->interrupt) {
        monitor_set_stop(m, MON_ABORT, 130, "interrupted");
        return 1;
    }
    if (m->cfg.timeout_s > 0) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec > m->deadline.tv_sec ||
            (t.tv_sec == m->deadline.tv_sec && t.tv_nsec >= m->deadline.tv_nsec)) {
            struct engine_regs r;
            vm_get_regs(&m->vm, &r);
            uint64_t rip = r.rip;
            monitor_set_stop(m, MON_TIMEOUT, PVRR_EXIT_TIMEOUT,
                             "guest still running after --timeout %g s (rip 0x%llx, %llu "
                             "hypercalls served)",
                             m->cfg.timeout_s, (unsigned long long)rip,
                             (unsigned long long)m->hc_count);
            return 1;
        }
    }
    return 0;
}

enum monitor_event monitor_step(struct monitor *m, const struct engine_run_args *a)
{
    if (m->stop.reason != MON_RUNNING)
        return MON_EV_STOPPED;
    vm_run(&m->vm, a, &m->ev);
    switch (m->ev.kind) {
    case ENGINE_EV_HYPERCALL:
        return dispatch_io(m);
    case ENGINE_EV_BREAKPOINT:
        return MON_EV_BREAKPOINT;
    case ENGINE_EV_STEP:
        return MON_EV_STEP;
    case ENGINE_EV_WATCH:
        return MON_EV_WATCH;
    case ENGINE_EV_TIMEOUT:
        return MON_EV_TIMEOUT;
    case ENGINE_EV_INTERRUPTED:
        return monitor_check_deadlines(m) ? MON_EV_STOPPED : MON_EV_INTERRUPTED;
    case ENGINE_EV_FAULT:
        break;
    }
    switch (m->ev.fault.kind) {
    case ENGINE_FAULT_TRIPLE:
        fault(m, "%s; registers %s:", m->ev.fault.msg,
              m->ev.fault.regs_at_last_event ? "as the guest last left them, at its last exit "
                                               "before the fault (the engine reset the vCPU, so "
                                               "its registers at the fault are lost)"
                                             : "at the fault");
        break;
    case ENGINE_FAULT_HLT:
    case ENGINE_FAULT_BAD_ACCESS:
    case ENGINE_FAULT_CONTRACT:
        fault(m, "%s", m->ev.fault.msg);
        break;
    case ENGINE_FAULT_INTERNAL:
    default:
        fault(m, "%s; registers:", m->ev.fault.msg);
        break;
    }
    return MON_EV_STOPPED;
}

int monitor_run(struct monitor *m)
{
    for (;;) {
        switch (monitor_step(m, NULL)) {
        case MON_EV_HYPERCALL:
        case MON_EV_INTERRUPTED:
            continue;
        case MON_EV_STOPPED:
            return m->stop.status;
        case MON_EV_BREAKPOINT:
        case MON_EV_STEP:
        case MON_EV_WATCH:
        case MON_EV_TIMEOUT:
            fault(m, "unexpected debugging event %d in a run without a debugger", (int)m->ev.kind);
            return m->stop.status;
        }
    }
}

static struct vm *kick_vm; /* the machine monitor_kick_every kicks */

static void kick_handler(int sig)
{
    (void)sig;
    if (kick_vm)
        vm_kick(kick_vm);
}

static timer_t kick_timer;
static int kick_armed;

int monitor_kick_every(struct monitor *m, unsigned ms)
{
    if (kick_armed) {
        timer_delete(kick_timer);
        kick_armed = 0;
    }
    kick_vm = NULL;
    if (ms == 0)
        return 0;
    kick_vm = &m->vm;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = kick_handler; /* no SA_RESTART: a blocking engine call returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGALRM;
    sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
    if (timer_create(CLOCK_MONOTONIC, &sev, &kick_timer) < 0)
        return -1;
    struct itimerspec its = {
        .it_interval = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L},
        .it_value = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L},
    };
    timer_settime(kick_timer, 0, &its, NULL);
    kick_armed = 1;
    return 0;
}

uint64_t monitor_regs_digest(struct monitor *m, uint64_t prev)
{
    struct engine_regs r; /* canonical (engine.h): the layout formats/pvlog.md hashes */
    vm_get_regs(&m->vm, &r);
    return XXH3_64bits_withSeed(&r, sizeof r, prev);
}

/* Copy page (p) into (buf) in its canonical form (formats/pvlog.md): every
 * present code or data descriptor of the GDT that GDTR points at has its
 * accessed bit set. Hosts differ in setting it: hardware sets it when a
 * selector is loaded, QEMU's TCG (under which the emulated-SVM KVM runs) does
 * not for a code segment loaded by a far return. */
static void canonical_gdt(uint64_t p, uint8_t *buf, uint64_t gdt_base, uint64_t gdt_end)
{
    uint64_t lo = p * 4096, hi = lo + 4096;
    uint64_t from = gdt_base > lo ? gdt_base : lo, to = gdt_end < hi ? gdt_end : hi;
    /* descriptors are 8 bytes from the GDT base; the access byte is byte 5 */
    for (uint64_t d = gdt_base + ((from - gdt_base) & ~7ull); d + 5 < to; d += 8) {
        if (d + 5 < from)
            continue;
        uint8_t *access = buf + (d + 5 - lo);
        if ((*access & 0x90) == 0x90) /* present, code or data (S=1) */
            *access |= 1;
    }
}

/* Hash guest memory into (s): only pages ever written can hold anything but
 * zeroes (vm.h), so the non-zero ones are hashed with their page numbers.
 * Reading the never-touched rest of RAM would cost tens of milliseconds. */
static void hash_memory(struct monitor *m, XXH3_state_t *s)
{
    static const uint8_t zero[4096];
    uint8_t canon[4096];
    struct engine_sregs sr;
    vm_get_sregs(&m->vm, &sr);
    uint64_t gdt_base = sr.gdt.base, gdt_end = sr.gdt.base + (uint64_t)sr.gdt.limit + 1;
    vm_dirty_collect(&m->vm);
    uint64_t npages = m->vm.mem_size / 4096;
    for (uint64_t w = 0; w < (npages + 63) / 64; w++) {
        uint64_t bits = m->vm.ever[w];
        while (bits) {
            uint64_t p = w * 64 + (uint64_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            const uint8_t *page = m->vm.mem + p * 4096;
            if (memcmp(page, zero, 4096) == 0)
                continue;
            if (gdt_base < (p + 1) * 4096 && gdt_end > p * 4096) {
                memcpy(canon, page, 4096);
                canonical_gdt(p, canon, gdt_base, gdt_end);
                page = canon;
            }
            XXH3_64bits_update(s, &p, sizeof p);
            XXH3_64bits_update(s, page, 4096);
        }
    }
}

uint64_t monitor_memory_digest(struct monitor *m)
{
    XXH3_state_t s;
    XXH3_64bits_reset(&s);
    hash_memory(m, &s);
    return XXH3_64bits_digest(&s);
}

uint64_t monitor_state_digest(struct monitor *m)
{
    XXH3_state_t s;
    XXH3_64bits_reset(&s);
    hash_memory(m, &s);
    struct engine_regs r;
    vm_get_regs(&m->vm, &r);
    XXH3_64bits_update(&s, &r, sizeof r);
    return XXH3_64bits_digest(&s);
}

uint64_t monitor_input_digest(struct monitor *m, const struct hc_call *c)
{
    const struct hc_desc *d = &hc_table[c->nr];
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    uint64_t head[2] = {c->nr, c->gpa};
    XXH3_64bits_update(&st, head, sizeof head);
    XXH3_64bits_update(&st, c->a.bytes, d->size);
    for (int i = 0; i < c->nranges; i++)
        if (c->ranges[i].is_input)
            XXH3_64bits_update(&st, vm_gpa(&m->vm, c->ranges[i].gpa, c->ranges[i].len),
                               c->ranges[i].len);
    return XXH3_64bits_digest(&st);
}
