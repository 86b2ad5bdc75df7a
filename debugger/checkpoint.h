/*
 * checkpoint.h - snapshots of a replaying machine at hypercall boundaries,
 * the basis of reverse execution.
 *
 * A checkpoint is the complete vCPU state plus guest memory at "base e": the
 * moment just after the guest's hypercall e-1 completed (base 0 is boot), or,
 * on an engine that counts instructions (ENGINE_CAP_INSN_COUNT), at any
 * instruction count inside interval e (a "mid" checkpoint).
 * Memory is stored as an array of page pointers; pages are shared between
 * checkpoints (reference counted) and only pages written since the previous
 * checkpoint are copied, found through the engine's written-pages tracking
 * (host writes are marked by the monitor and the replayer). All-zero pages
 * cost nothing. The CPU state is the engine's opaque blob.
 * Checkpoints are thinned so that their number grows with the logarithm of
 * the recording's length: at most two per power-of-two band of distance on
 * each side of the newest one taken (where the user is working), plus the one
 * at boot. Distance is in events, or in instructions on an engine that counts
 * them.
 */
#ifndef PVRR_CHECKPOINT_H
#define PVRR_CHECKPOINT_H

#include "engine/engine.h"

#include <stddef.h>
#include <stdint.h>

struct replayer;
struct ck_page;

struct checkpoint {
    uint64_t event;         /* replayer next_event at the snapshot */
    uint64_t chain;         /* the replayer's register digest chain there */
    uint64_t icount;        /* instructions retired (ENGINE_CAP_INSN_COUNT; else 0) */
    uint64_t base_icount;   /* instructions retired at base (event) (the caller's) */
    int mid;                /* taken inside an interval, not at base (event) */
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
    int by_count; /* the engine counts instructions: order and thin by icount */
};

/* Start a store for (vm) and take checkpoint 0 of its current state (boot).
 * Returns -1 if out of memory (the store is then empty). */
int ck_init(struct ck_store *s, struct vm *vm, uint64_t chain);

void ck_fini(struct ck_store *s);

/* Take a checkpoint of the current state at event (event) unless one exists
 * there (same event and instruction count). (mid) 0: the machine is at base
 * (event), a hypercall boundary; 1: inside interval (event) (engines that
 * count instructions only), (base_icount) instructions had retired at its
 * base. Thins older checkpoints afterwards. Returns -1 if out of memory (no
 * checkpoint taken: reverse execution only gets slower). */
int ck_take(struct ck_store *s, uint64_t event, uint64_t chain, int mid, uint64_t base_icount);

/* The newest checkpoint with event <= (event) (checkpoint 0 always exists).
 * Only for stores without mid checkpoints (engines without counts). */
const struct checkpoint *ck_find(const struct ck_store *s, uint64_t event);

/* The newest checkpoint at or before base (event): event < (event), or at
 * base (event) itself (not mid). */
const struct checkpoint *ck_find_base(const struct ck_store *s, uint64_t event);

/* The newest checkpoint with icount <= (n) (engines that count instructions). */
const struct checkpoint *ck_find_count(const struct ck_store *s, uint64_t n);

/* Restore (c): vCPU state and every page that differs from it. */
void ck_restore(struct ck_store *s, const struct checkpoint *c);

/* A snapshot of the current state outside the thinned list (for caches);
 * release it with ck_release. (mid, base_icount) as for ck_take. NULL if out
 * of memory. */
struct checkpoint *ck_snapshot(struct ck_store *s, uint64_t event, uint64_t chain, int mid,
                               uint64_t base_icount);
void ck_release(struct ck_store *s, struct checkpoint *c);

/* Bytes the checkpoints hold: page copies and page-pointer arrays. */
uint64_t ck_memory_bytes(const struct ck_store *s);

#endif /* PVRR_CHECKPOINT_H */
