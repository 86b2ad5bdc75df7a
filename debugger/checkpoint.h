/*
 * checkpoint.h - snapshots of a replaying machine at hypercall boundaries,
 * the basis of reverse execution.
 *
 * A checkpoint is the complete vCPU state plus guest memory at "base e": the
 * moment just after the guest's hypercall e-1 completed (base 0 is boot).
 * Memory is stored as an array of page pointers; pages are shared between
 * checkpoints (reference counted) and only pages written since the previous
 * checkpoint are copied, found through the engine's written-pages tracking
 * (host writes are marked by the monitor and the replayer). All-zero pages
 * cost nothing. The CPU state is the engine's opaque blob.
 * Checkpoints are thinned so that their number grows with the logarithm of
 * the recording's length: at most two per power-of-two band of event distance
 * on each side of the newest one taken (where the user is working), plus the
 * one at boot.
 */
#ifndef PVRR_CHECKPOINT_H
#define PVRR_CHECKPOINT_H

#include "engine/engine.h"

#include <stddef.h>
#include <stdint.h>

struct replayer;
struct ck_page;

struct checkpoint {
    uint64_t event;         /* base index: replayer next_event at the snapshot */
    uint64_t chain;         /* the replayer's register digest chain there */
    struct ck_page **pages; /* one per guest page */
    uint8_t cpu[];          /* the engine's CPU state (vm_cpu_state_size bytes) */
};

struct ck_store {
    struct vm *vm;
    uint64_t npages;
    struct checkpoint **ck; /* sorted by event */
    size_t n, cap;
    struct ck_page **base; /* the memory the dirty log is relative to */
    uint64_t unique_pages; /* distinct page copies held */
    uint64_t taken, dropped;
};

/* Start a store for (vm) and take checkpoint 0 of its current state (boot).
 * Returns -1 if out of memory (the store is then empty). */
int ck_init(struct ck_store *s, struct vm *vm, uint64_t chain);

void ck_fini(struct ck_store *s);

/* Take a checkpoint of the current state as base (event) unless one exists
 * there (the machine at a hypercall boundary). Thins older checkpoints
 * afterwards. Returns -1 if out of memory (no checkpoint taken: reverse
 * execution only gets slower). */
int ck_take(struct ck_store *s, uint64_t event, uint64_t chain);

/* The newest checkpoint with event <= (event) (checkpoint 0 always exists). */
const struct checkpoint *ck_find(const struct ck_store *s, uint64_t event);

/* Restore (c): vCPU state and every page that differs from it. */
void ck_restore(struct ck_store *s, const struct checkpoint *c);

/* A snapshot of the current state outside the thinned list (for caches);
 * release it with ck_release. NULL if out of memory. */
struct checkpoint *ck_snapshot(struct ck_store *s, uint64_t event, uint64_t chain);
void ck_release(struct ck_store *s, struct checkpoint *c);

/* Bytes the checkpoints hold: page copies and page-pointer arrays. */
uint64_t ck_memory_bytes(const struct ck_store *s);

#endif /* PVRR_CHECKPOINT_H */
