/*
 * recorder.h - records a guest run into a pvlog file.
 *
 * The recorder wraps every hypercall handler of a monitor: before the live
 * handler runs it digests the call's inputs (argument struct and input
 * buffers); after, it appends one event with every byte the monitor wrote
 * into guest memory (the struct written back, output buffers) and the low byte
 * of the chained register digest. Compression and file I/O happen on pvlog's
 * background thread, never on the vCPU thread.
 */
#ifndef PVRR_RECORDER_H
#define PVRR_RECORDER_H

#include "monitor/monitor.h"
#include "pvlog/pvlog.h"

struct recorder {
    struct monitor *m;
    struct pvlog_writer *w;
    uint64_t chain; /* chained register digest */
    struct pvlog_error err;
    int failed; /* an append failed: the run was stopped */
};

/* Wrap all of (m)'s handlers so that every served call is appended to (w).
 * Sets m->user. */
void recorder_attach(struct recorder *r, struct monitor *m, struct pvlog_writer *w);

/* After the monitor stopped: append the END event (reason, status, final state
 * digest). Returns PVLOG_OK or the writer's error in r->err. */
enum pvlog_status recorder_finish(struct recorder *r);

/* Map a monitor stop reason to the pvlog END reason. */
uint8_t recorder_end_reason(enum monitor_stop_reason reason);

#endif /* PVRR_RECORDER_H */
