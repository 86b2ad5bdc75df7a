/*
 * pvrr/guest.h - the guest side of the pvrr ABI: one inline wrapper per
 * hypercall of pvrr_abi.h, boot information, command-line helpers and panics.
 *
 * Every wrapper fills an argument struct on the stack and traps to the monitor
 * with `outl %eax, %dx` (see TRANSPORT in pvrr_abi.h). Wrappers that move
 * bytes split requests larger than PVRR_IO_MAX so callers need not care; to
 * send a deliberately malformed request use pvrr_hypercall() directly.
 *
 * Wrappers return an enum pvrr_result (PVRR_OK == 0) unless stated otherwise.
 * pvrr_exit() and pvrr_panic() flush buffered stdout first and never return.
 */
#ifndef PVRR_GUEST_H
#define PVRR_GUEST_H

#ifdef PVRR_HOST
#error "pvrr/guest.h is for guest code; the host build must not include it"
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvrr_abi.h"

/* ---- Transport ---------------------------------------------------------- */

/* Trap to the monitor with hypercall (nr) and the argument struct at (arg).
 * The struct must be in guest RAM below 4 GiB (stack, data and heap are). */
static inline void pvrr_hypercall(unsigned int nr, void *arg)
{
    __asm__ volatile("outl %0, %1"
                     :
                     : "a"((uint32_t)(uintptr_t)arg), "d"((uint16_t)(PVRR_HC_PORT_BASE + nr))
                     : "memory");
}

/* Flush the stdio buffer of stdout (implemented in the runtime's stdio). */
void pvrr_stdout_flush(void);

/* ---- Hypercall wrappers ------------------------------------------------- */

/* The cheapest round trip to the monitor. */
static inline void pvrr_nop(void)
{
    struct pvrr_hc_nop a = {0};
    pvrr_hypercall(PVRR_HC_NOP, &a);
}

/* Write (len) bytes at (buf) to the console, unbuffered (does not go through
 * stdio; call pvrr_stdout_flush() first when mixing with printf). */
static inline int pvrr_console_write(const void *buf, size_t len)
{
    const char *p = buf;
    do {
        size_t n = len < PVRR_IO_MAX ? len : PVRR_IO_MAX;
        struct pvrr_hc_console_write a = {.data = p, .len = n};
        pvrr_hypercall(PVRR_HC_CONSOLE_WRITE, &a);
        if (a.ret != PVRR_OK)
            return a.ret;
        p += n;
        len -= n;
    } while (len > 0);
    return PVRR_OK;
}

/* Read the console input that is available now into (buf, len), never
 * blocking. Stores the byte count in (*nread) (0 when nothing is ready) and
 * in (*eof) whether the input has ended and was fully read (may be NULL). */
static inline int pvrr_console_read(void *buf, size_t len, size_t *nread, bool *eof)
{
    struct pvrr_hc_console_read a = {.data = buf, .len = len < PVRR_IO_MAX ? len : PVRR_IO_MAX};
    pvrr_hypercall(PVRR_HC_CONSOLE_READ, &a);
    *nread = (size_t)a.nread;
    if (eof)
        *eof = a.eof != 0;
    return a.ret;
}

/* Read both clocks: monotonic (arbitrary origin, never decreases) and wall
 * (since the Unix epoch), in nanoseconds. Either pointer may be NULL. */
static inline void pvrr_clock(uint64_t *monotonic_ns, uint64_t *wall_ns)
{
    struct pvrr_hc_clock a = {0};
    pvrr_hypercall(PVRR_HC_CLOCK, &a);
    if (monotonic_ns)
        *monotonic_ns = a.monotonic_ns;
    if (wall_ns)
        *wall_ns = a.wall_ns;
}

/* The monotonic clock in nanoseconds. */
static inline uint64_t pvrr_monotonic_ns(void)
{
    uint64_t t;
    pvrr_clock(&t, NULL);
    return t;
}

/* The wall clock in nanoseconds since the Unix epoch. */
static inline uint64_t pvrr_wall_ns(void)
{
    uint64_t t;
    pvrr_clock(NULL, &t);
    return t;
}

/* Fill (buf, len) with random bytes: the only entropy source of a guest. */
static inline int pvrr_random(void *buf, size_t len)
{
    char *p = buf;
    do {
        size_t n = len < PVRR_IO_MAX ? len : PVRR_IO_MAX;
        struct pvrr_hc_random a = {.data = p, .len = n};
        pvrr_hypercall(PVRR_HC_RANDOM, &a);
        if (a.ret != PVRR_OK)
            return a.ret;
        p += n;
        len -= n;
    } while (len > 0);
    return PVRR_OK;
}

/* One random 64-bit number (one hypercall; batch with pvrr_random in loops). */
static inline uint64_t pvrr_random_u64(void)
{
    uint64_t v = 0;
    pvrr_random(&v, sizeof v);
    return v;
}

/* Block device geometry into (*info); info->present is 0 without a disk. */
static inline void pvrr_blk_info(struct pvrr_hc_blk_info *info)
{
    struct pvrr_hc_blk_info a = {0};
    pvrr_hypercall(PVRR_HC_BLK_INFO, &a);
    *info = a;
}

/* Read (len) bytes, a multiple of PVRR_BLK_SECTOR, from (sector) on. */
static inline int pvrr_blk_read(uint64_t sector, void *buf, size_t len)
{
    struct pvrr_hc_blk_io a = {.sector = sector, .data = buf, .len = len};
    pvrr_hypercall(PVRR_HC_BLK_READ, &a);
    return a.ret;
}

/* Write (len) bytes, a multiple of PVRR_BLK_SECTOR, from (sector) on. */
static inline int pvrr_blk_write(uint64_t sector, const void *buf, size_t len)
{
    struct pvrr_hc_blk_io a = {.sector = sector, .data = (void *)(uintptr_t)buf, .len = len};
    pvrr_hypercall(PVRR_HC_BLK_WRITE, &a);
    return a.ret;
}

/* Block until one of (events) (PVRR_EV_*) is ready or the monotonic clock
 * reaches (deadline_ns); deadline 0 returns at once. Returns the ready events
 * (0: the deadline passed) and stores the wake-up time in (*now_ns) (may be
 * NULL). */
static inline uint32_t pvrr_poll(uint64_t deadline_ns, uint32_t events, uint64_t *now_ns)
{
    struct pvrr_hc_poll a = {.deadline_ns = deadline_ns, .events = events};
    pvrr_hypercall(PVRR_HC_POLL, &a);
    if (now_ns)
        *now_ns = a.monotonic_ns;
    return a.ready;
}

/* Flush stdout and terminate the guest; pvrr exits with (status) (0..255). */
_Noreturn static inline void pvrr_exit(int status)
{
    pvrr_stdout_flush();
    struct pvrr_hc_exit a = {.status = status};
    pvrr_hypercall(PVRR_HC_EXIT, &a);
    __builtin_trap(); /* not reached: a returning exit shows up as #UD */
}

/* Flush stdout and terminate the guest with (msg) (truncated to
 * PVRR_PANIC_MAX bytes); pvrr exits with PVRR_STATUS_PANIC. */
_Noreturn static inline void pvrr_panic(const char *msg)
{
    pvrr_stdout_flush();
    size_t len = 0;
    while (len < PVRR_PANIC_MAX && msg[len] != '\0')
        len++;
    struct pvrr_hc_panic a = {.msg = msg, .len = len};
    pvrr_hypercall(PVRR_HC_PANIC, &a);
    __builtin_trap();
}

/* ---- Panics with a formatted message ------------------------------------ */

/* printf-style panic. */
_Noreturn void pvrr_panicf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* printf-style panic prefixed with "file:line: ". */
_Noreturn void pvrr__panic_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define PVRR_PANIC(...) pvrr__panic_at(__FILE__, __LINE__, __VA_ARGS__)

/* ---- Boot information and command line ---------------------------------- */

/* The boot information the monitor passed in rdi (validated at start-up). */
const struct pvrr_boot_info *pvrr_boot_info(void);

/* The raw command line: words separated by blanks, the first being the
 * guest's name (argv[0]) as the monitor passes it, e.g. "kvstore.elf ops=100".
 * main() gets it split into argc/argv; an empty command line gives argc 1
 * with argv[0] = pvrr_guest_name. */
const char *pvrr_cmdline(void);

/* Bytes of guest RAM (the initial stack pointer). */
uint64_t pvrr_mem_size(void);

/* The name the guest was built as (pvrr_add_guest(NAME ...)), or "guest";
 * argv[0] when the command line is empty. */
extern const char pvrr_guest_name[];

/* Look up argument "key=value" in (argv[1..argc-1]) and return the value, ""
 * when the argument is the bare word "key", or NULL when absent. The last
 * occurrence wins. */
const char *pvrr_arg(int argc, char **argv, const char *key);

/* The unsigned number of argument "key=N" (decimal, or hex with 0x), or (def)
 * when absent. Panics with a message naming the key when N is not a number. */
uint64_t pvrr_arg_u64(int argc, char **argv, const char *key, uint64_t def);

#endif /* PVRR_GUEST_H */
