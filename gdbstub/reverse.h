/*
 * reverse.h - reverse execution of a replay without performance counters.
 *
 * A position in time is exact and needs no hardware counter:
 *     (e, A, k, s) = from base e (just after hypercall e-1 completed, or boot),
 *                    run to the k-th arrival at address A (k = 0: no anchor),
 *                    then single-step s instructions.
 * An "arrival" at A is the moment the vCPU is about to execute the instruction
 * at A; arrivals are counted with hlt patches or debug registers. Going to a
 * position restores the nearest checkpoint (replayer/checkpoint.h) or a cached
 * snapshot on the way, replays hypercalls from the log without stopping, then
 * counts arrivals and steps. A position reached by a forward continue, an
 * interrupt or a watchpoint is made exact by re-executing its interval and
 * matching the full machine state (registers, SSE state and all memory) at
 * each arrival at its RIP: within one interval the machine never repeats a
 * state, so the match is unique. docs/reverse-execution.md explains the
 * algorithms, their costs and limits.
 */
#ifndef PVRR_REVERSE_H
#define PVRR_REVERSE_H

#include "gdbstub/gdbstub.h"

#include <stddef.h>
#include <stdint.h>

struct target;
struct replayer;
struct timetravel;

/* Start reverse execution for (t) replaying with (r); the machine must be at
 * boot. Takes checkpoint 0. Returns NULL on failure (out of memory). */
struct timetravel *tt_create(struct target *t, struct replayer *r);
void tt_destroy(struct timetravel *tt);

/* After every forward resume the debugger asked for: (how) was the request,
 * (event_before) the replayer's event index before it, (stop) the result. */
void tt_forward_done(struct timetravel *tt, enum gdb_resume_kind how, uint64_t event_before,
                     const struct gdb_stop *stop);

/* Called by the target after each served hypercall, patches out: may take a
 * checkpoint. */
void tt_after_hc(struct timetravel *tt);
/* 1 while reverse execution runs the machine itself (its own patches are in). */
int tt_busy(const struct timetravel *tt);
void tt_patches_remove(struct timetravel *tt);
void tt_patches_insert(struct timetravel *tt);

/* 'bs' (step = 1) or 'bc' (step = 0). Fills (stop). Returns 0, or -1 if the
 * machine cannot be moved (the debugger gets an error). */
int tt_reverse(struct timetravel *tt, int step, struct gdb_stop *stop);

/* `monitor when`, `monitor checkpoints`, `monitor goto N`. */
void tt_describe_position(struct timetravel *tt, char *buf, size_t n);
void tt_list_checkpoints(struct timetravel *tt, gdb_out_fn out, void *ctx);
int tt_goto_event(struct timetravel *tt, uint64_t event, char *msg, size_t n);

/* Statistics for benchmarks: checkpoint memory in bytes and guest RAM. */
void tt_memory(struct timetravel *tt, uint64_t *checkpoint_bytes, uint64_t *ram_bytes);

#endif /* PVRR_REVERSE_H */
