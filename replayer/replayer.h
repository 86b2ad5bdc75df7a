/*
 * replayer.h - re-executes a guest from a pvlog recording, bit for bit.
 *
 * The replayer boots the guest ELF embedded in the log and substitutes every
 * hypercall handler: instead of asking the outside world, a handler takes the
 * next event from the log, checks that the guest asked for the same thing
 * (hypercall number, argument address, input digest, chained register digest)
 * and writes the recorded bytes into guest memory. Console output and exit are
 * repeated; disk writes, waits and input are not. The first mismatch stops the
 * replay with a divergence report naming the event, expected and actual
 * values, and the guest RIP as function and file:line.
 */
#ifndef PVRR_REPLAYER_H
#define PVRR_REPLAYER_H

#include "monitor/monitor.h"
#include "pvlog/pvlog.h"

#include <stdio.h>

/* Exit statuses of `pvrr replay` beyond the guest's own (documented in --help). */
#define PVRR_REPLAY_DIVERGED 80  /* the guest left the recorded history */
#define PVRR_REPLAY_CORRUPT 81   /* the log is not a pvlog or is damaged */
#define PVRR_REPLAY_TRUNCATED 82 /* the log ends early (recorder killed) */
#define PVRR_REPLAY_VERSION 83   /* the log's format or ABI version is unsupported */

struct pvrr_sym;

struct replayer {
    struct pvlog_reader *rd;
    const struct pvlog_meta *meta;
    struct monitor m;
    struct pvrr_sym *sym; /* symbolizer over the embedded ELF, opened for the first report */
    int sym_tried;
    uint64_t chain;               /* chained register digest */
    uint64_t next_event;          /* index of the next event to consume */
    struct pvlog_event ev;        /* last event read */
    int have_ev;                  /* ev holds an event not yet consumed */
    enum pvlog_status log_status; /* PVLOG_OK, or the error that ended the log */
    struct pvlog_error log_err;
    int result;           /* pvrr exit status once finished */
    int booted;           /* the monitor was initialised */
    int cut_end;          /* stopped where a timed-out/interrupted recording ends */
    uint64_t output_mark; /* events below this one have shown their console output */
    FILE *report;         /* where divergence reports go (stderr) */
};

/* Open the recording at (path) and boot its guest, ready to replay. (out_fd)
 * receives console output (-1: discard). Returns 0, or a PVRR_REPLAY_* /
 * PVRR_EXIT_ERROR status with the message in (err). */
int replayer_open(struct replayer *r, const char *path, int out_fd, char *err, size_t errlen);

/* replayer_open on the execution engine named (engine) ("kvm", "emu"; NULL:
 * engine_select's default). Any recording replays on any engine. */
int replayer_open_on(struct replayer *r, const char *path, const char *engine, int out_fd,
                     char *err, size_t errlen);

/* Replay to the end. Returns pvrr's exit status: the recorded guest status if
 * the replay was identical, or a PVRR_REPLAY_* status (report printed). */
int replayer_run(struct replayer *r);

/* After the monitor stopped: compare the END event with the final state.
 * Returns the status as replayer_run does. */
int replayer_finish(struct replayer *r);

/* The name of a pvlog END reason ("exit", "panic", ...; "unknown" otherwise). */
const char *replayer_end_reason_name(uint8_t reason);

/* pvrr's exit status for a pvlog reader error (PVRR_REPLAY_* or PVRR_EXIT_ERROR). */
int replayer_status_of_log_error(enum pvlog_status st);

/* Make the replayer continue at event (event) with register digest chain
 * (chain), after the machine was restored to base (event): the log is
 * re-positioned and any stop is cleared. Returns 0 or -1 (log error). */
int replayer_rewind(struct replayer *r, uint64_t event, uint64_t chain);

void replayer_close(struct replayer *r);

#endif /* PVRR_REPLAYER_H */
