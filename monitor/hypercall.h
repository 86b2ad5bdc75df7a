/*
 * hypercall.h - what the monitor knows about each hypercall of pvrr_abi.h,
 * and how calls are dispatched to handlers.
 *
 * The exit loop (monitor.c) copies the argument struct in once, validates every
 * buffer it names against guest RAM, calls the handler registered for the
 * number with the copy, and writes the copy back. Handlers never read the
 * struct from guest memory again. Recording and replay wrap or substitute
 * handlers (monitor->handlers[]) without touching the exit loop.
 */
#ifndef PVRR_HYPERCALL_H
#define PVRR_HYPERCALL_H

#include "pvrr_abi.h"

#include <stdint.h>

struct monitor;

/* A guest buffer named by an argument struct. */
struct hc_range {
    uint64_t gpa;
    uint64_t len;
    int is_input; /* 1: the monitor reads it; 0: the monitor writes it */
};

#define HC_MAX_RANGES 2

/* One hypercall in flight: the validated host copy of its argument struct. */
struct hc_call {
    uint16_t nr;
    uint64_t gpa; /* guest address of the argument struct */
    uint64_t rip; /* guest RIP at the exit */
    union {
        struct pvrr_hc_nop nop;
        struct pvrr_hc_console_write console_write;
        struct pvrr_hc_console_read console_read;
        struct pvrr_hc_clock clock;
        struct pvrr_hc_random random;
        struct pvrr_hc_blk_info blk_info;
        struct pvrr_hc_blk_io blk_io;
        struct pvrr_hc_poll poll;
        struct pvrr_hc_exit exit;
        struct pvrr_hc_panic panic;
        struct pvrr_hc_fs_open fs_open;
        struct pvrr_hc_fs_io fs_io;
        struct pvrr_hc_fs_close fs_close;
        struct pvrr_hc_fs_stat fs_stat;
        struct pvrr_hc_fs_readdir fs_readdir;
        struct pvrr_hc_fs_pathop fs_pathop;
        uint8_t bytes[64];
    } a;
    int nranges;
    struct hc_range ranges[HC_MAX_RANGES]; /* buffers named by the struct, validated */
};

/* What a handler tells the exit loop. */
enum hc_status {
    HC_CONTINUE = 0, /* resume the guest */
    HC_STOP = 1,     /* the guest has ended (monitor->stop says how) */
};

typedef enum hc_status (*hc_handler)(struct monitor *m, struct hc_call *c);

/* Static facts about one hypercall number. */
struct hc_desc {
    const char *name;       /* e.g. "console_write" */
    uint32_t size;          /* sizeof the argument struct */
    uint8_t has_out;        /* the struct has OUT fields: written back after the handler */
    uint8_t replays_effect; /* replay repeats this call's outside effect (console output, exit) */
    uint8_t gets_input;     /* results are nondeterministic input from the outside world */
    /* Fill (r) with the buffers the struct (args) names, before the call; returns
     * how many, or -1 with (why) when a length is invalid before any range check. */
    int (*ranges)(const void *args, struct hc_range *r, const char **why);
    /* After the call: the guest memory the handler wrote (subset of ranges);
     * returns how many. */
    int (*written)(const void *args, struct hc_range *r);
};

/* The table of all hypercalls, indexed by enum pvrr_hc. */
extern const struct hc_desc hc_table[PVRR_HC_MAX];

/* The hypercall's name or "unknown". */
const char *hc_name(unsigned nr);

/* The live handlers of the file hypercalls (hc_fs.c), used by hc_live_handlers. */
enum hc_status hc_fs_open(struct monitor *m, struct hc_call *c);
enum hc_status hc_fs_read(struct monitor *m, struct hc_call *c);
enum hc_status hc_fs_write(struct monitor *m, struct hc_call *c);
enum hc_status hc_fs_close(struct monitor *m, struct hc_call *c);
enum hc_status hc_fs_stat(struct monitor *m, struct hc_call *c);
enum hc_status hc_fs_readdir(struct monitor *m, struct hc_call *c);
enum hc_status hc_fs_pathop(struct monitor *m, struct hc_call *c);

/* The live handlers that serve hypercalls from the outside world (hc_live.c). */
extern const hc_handler hc_live_handlers[PVRR_HC_MAX];

#endif /* PVRR_HYPERCALL_H */
