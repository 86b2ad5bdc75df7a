/*
 * kvstore - the flagship demo: an in-memory key-value store driven by a random
 * stream of put/get/delete operations, checked against a shadow copy.
 *
 * The store is laid out like CPython's compact dict: one allocation holds a
 * hash index (int32 slots, linear probing) followed by a dense array of
 * entries in insertion order. Deleting a key leaves a hole in entries[] and a
 * DUMMY in the index; when entries[] is full the table is resized: grown to
 * twice the buckets, or, when at least half of entries[] are holes, compacted
 * in place.
 *
 * It has a bug (search for PVRR_DEMO_BUG_LINE): index_reset() clears one
 * slot too many, and index[nbuckets] is the first 4 bytes of entries[0]. On
 * the grow path that is harmless (entries[] is filled afterwards); on the
 * rarer compaction path it overwrites the low half of store.entries[0].value
 * with 0xffffffff. Nothing notices until the next consistency check, up to
 * VERIFY_EVERY operations (and several hypercalls) later. Whether a run
 * compacts depends on the random stream: with the default 4000 operations
 * roughly one run in four fails.
 *
 * Usage: kvstore [ops=N]
 * Output: progress every 1000 operations, then
 *   "kvstore: OK after N operations (checksum 0x...)" and exit 0, or
 *   "kvstore: CORRUPTION: key K expected 0x... got 0x... (watch -l ...)" and a
 *   panic (exit 255).
 */
#include <pvrr/guest.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEYSPACE 512        /* keys are 1..KEYSPACE */
#define MIN_BUCKETS 8       /* a power of two */
#define VERIFY_EVERY 500    /* operations between consistency checks */
#define PHASE_LEN 500       /* operations between workload changes */
#define PROGRESS_EVERY 1000 /* operations between progress lines */

#define IX_EMPTY (-1) /* index slot never used: ends a probe */
#define IX_DUMMY (-2) /* index slot of a deleted key: probes continue */

struct entry {
    uint64_t value;
    uint64_t key; /* 0: deleted */
};

struct kvstore {
    uint32_t nbuckets;     /* index slots, a power of two */
    uint32_t usable;       /* capacity of entries[]: 2/3 of nbuckets */
    uint32_t nentries;     /* entries[] in use, deleted ones included */
    uint32_t live;         /* keys present */
    int32_t *index;        /* nbuckets slots: a position in entries[], or IX_* */
    struct entry *entries; /* right after index[], in the same allocation */
    uint32_t grows;
    uint32_t compactions;
};

/* Global so that a debugger can name it: `print store`, `watch -l ...`. */
struct kvstore store;

/* The shadow copy: what the store must contain. */
static uint64_t shadow_value[KEYSPACE + 1];
static uint8_t shadow_present[KEYSPACE + 1];
static uint32_t shadow_live;

static uint64_t hash_key(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    return k ^ (k >> 33);
}

/* ---- The store --------------------------------------------------------- */

/* Allocate index and entries for (nbuckets) into (s); the index is garbage. */
static void table_alloc(struct kvstore *s, uint32_t nbuckets)
{
    uint32_t usable = nbuckets * 2 / 3;
    size_t index_bytes = nbuckets * sizeof(int32_t);
    char *block = malloc(index_bytes + usable * sizeof(struct entry));
    if (block == NULL)
        PVRR_PANIC("kvstore: out of memory for %u buckets", nbuckets);
    s->nbuckets = nbuckets;
    s->usable = usable;
    s->index = (int32_t *)block;
    s->entries = (struct entry *)(block + index_bytes);
}

/* Mark every index slot empty. */
static void index_reset(struct kvstore *s)
{
    for (uint32_t i = 0; i <= s->nbuckets; i++)
        s->index[i] = IX_EMPTY; /* BUG: should be i < nbuckets; PVRR_DEMO_BUG_LINE */
}

/* Record entries[pos] (whose key is not in the index) in the index. */
static void index_insert(struct kvstore *s, uint64_t key, uint32_t pos)
{
    uint32_t mask = s->nbuckets - 1;
    uint32_t i = (uint32_t)hash_key(key) & mask;
    while (s->index[i] != IX_EMPTY)
        i = (i + 1) & mask;
    s->index[i] = (int32_t)pos;
}

/* Index all of entries[0..nentries), which holds no deleted entries, in an
 * empty index. */
static void index_build(struct kvstore *s)
{
    for (uint32_t pos = 0; pos < s->nentries; pos++)
        index_insert(s, s->entries[pos].key, pos);
}

/* The position of (key) in entries[], or -1; its index slot in (*slot). */
static int32_t store_find(const struct kvstore *s, uint64_t key, uint32_t *slot)
{
    uint32_t mask = s->nbuckets - 1;
    for (uint32_t i = (uint32_t)hash_key(key) & mask;; i = (i + 1) & mask) {
        int32_t ix = s->index[i];
        if (ix == IX_EMPTY)
            return -1;
        if (ix >= 0 && s->entries[ix].key == key) {
            if (slot)
                *slot = i;
            return ix;
        }
    }
}

static void store_init(struct kvstore *s)
{
    memset(s, 0, sizeof *s);
    table_alloc(s, MIN_BUCKETS);
    index_reset(s);
}

/* entries[] is full: make room, by compacting it in place when at least half
 * of it is holes, by doubling the table otherwise. */
static void store_resize(struct kvstore *s)
{
    if (s->live <= s->usable / 2) {
        uint32_t n = 0;
        for (uint32_t pos = 0; pos < s->nentries; pos++) {
            if (s->entries[pos].key != 0)
                s->entries[n++] = s->entries[pos];
        }
        s->nentries = n;
        index_reset(s);
        index_build(s);
        s->compactions++;
        return;
    }
    struct kvstore old = *s;
    table_alloc(s, old.nbuckets * 2);
    index_reset(s);
    uint32_t n = 0;
    for (uint32_t pos = 0; pos < old.nentries; pos++) {
        if (old.entries[pos].key != 0)
            s->entries[n++] = old.entries[pos];
    }
    s->nentries = n;
    index_build(s);
    free(old.index);
    s->grows++;
}

static void store_put(struct kvstore *s, uint64_t key, uint64_t value)
{
    int32_t pos = store_find(s, key, NULL);
    if (pos >= 0) {
        s->entries[pos].value = value;
        return;
    }
    if (s->nentries == s->usable)
        store_resize(s);
    s->entries[s->nentries] = (struct entry){.value = value, .key = key};
    index_insert(s, key, s->nentries);
    s->nentries++;
    s->live++;
}

static int store_get(const struct kvstore *s, uint64_t key, uint64_t *value)
{
    int32_t pos = store_find(s, key, NULL);
    if (pos < 0)
        return 0;
    *value = s->entries[pos].value;
    return 1;
}

static void store_delete(struct kvstore *s, uint64_t key)
{
    uint32_t slot;
    int32_t pos = store_find(s, key, &slot);
    if (pos < 0)
        return;
    s->index[slot] = IX_DUMMY;
    s->entries[pos] = (struct entry){0};
    s->live--;
}

/* ---- Checking against the shadow ---------------------------------------- */

static _Noreturn void corruption(uint64_t done, uint64_t key, const char *what, uint64_t expected,
                                 uint64_t got, int32_t pos)
{
    printf("kvstore: CORRUPTION after %lu operations: key %lu %s\n", (unsigned long)done,
           (unsigned long)key, what);
    if (pos >= 0) {
        printf("kvstore: CORRUPTION: key %lu expected 0x%016lx got 0x%016lx "
               "(watch -l store.entries[%d].value)\n",
               (unsigned long)key, (unsigned long)expected, (unsigned long)got, pos);
        printf("kvstore: the value lives at %p; set the watchpoint, then reverse-continue "
               "to find the write\n",
               (void *)&store.entries[pos].value);
    }
    PVRR_PANIC("kvstore: key %lu: %s (expected 0x%016lx got 0x%016lx)", (unsigned long)key, what,
               (unsigned long)expected, (unsigned long)got);
}

/* Compare the whole store with the shadow copy; panics on a difference. */
static void verify(const struct kvstore *s, uint64_t done)
{
    for (uint64_t key = 1; key <= KEYSPACE; key++) {
        int32_t pos = store_find(s, key, NULL);
        if (shadow_present[key]) {
            if (pos < 0)
                corruption(done, key, "is missing", shadow_value[key], 0, -1);
            if (s->entries[pos].value != shadow_value[key])
                corruption(done, key, "has the wrong value", shadow_value[key],
                           s->entries[pos].value, pos);
        } else if (pos >= 0) {
            corruption(done, key, "is present but was deleted", 0, s->entries[pos].value, pos);
        }
    }
    if (s->live != shadow_live)
        PVRR_PANIC("kvstore: store.live is %u, the shadow holds %u keys", s->live, shadow_live);
}

/* ---- The workload -------------------------------------------------------- */

/* Random numbers come from the random hypercall, 64 at a time. */
static uint64_t rand_buf[64];
static unsigned rand_left;

static uint64_t next_random(void)
{
    if (rand_left == 0) {
        if (pvrr_random(rand_buf, sizeof rand_buf) != PVRR_OK)
            PVRR_PANIC("kvstore: the random hypercall failed");
        rand_left = sizeof rand_buf / sizeof rand_buf[0];
    }
    return rand_buf[--rand_left];
}

/* Operation mixes, in percent: the workload switches between them every
 * PHASE_LEN operations. */
struct mix {
    const char *name;
    unsigned put, get; /* the rest are deletes */
};

static const struct mix mixes[] = {
    {"load", 60, 30},
    {"steady", 40, 40},
    {"purge", 20, 30},
};

int main(int argc, char **argv)
{
    uint64_t ops = pvrr_arg_u64(argc, argv, "ops", 4000);
    printf("kvstore: %lu operations on %u keys\n", (unsigned long)ops, KEYSPACE);
    store_init(&store);

    uint64_t checksum = 0xcbf29ce484222325ull;
    const struct mix *mix = &mixes[0];
    for (uint64_t done = 0; done < ops;) {
        if (done % PHASE_LEN == 0)
            mix = &mixes[next_random() % (sizeof mixes / sizeof mixes[0])];
        uint64_t r = next_random();
        unsigned pct = (unsigned)(r % 100);
        uint64_t key = 1 + (r >> 32) % KEYSPACE;
        if (pct < mix->put) {
            uint64_t value = next_random();
            store_put(&store, key, value);
            if (!shadow_present[key])
                shadow_live++;
            shadow_present[key] = 1;
            shadow_value[key] = value;
        } else if (pct < mix->put + mix->get) {
            uint64_t value = 0;
            if (store_get(&store, key, &value))
                checksum = (checksum ^ value) * 0x100000001b3ull;
        } else {
            store_delete(&store, key);
            if (shadow_present[key])
                shadow_live--;
            shadow_present[key] = 0;
            shadow_value[key] = 0;
        }
        done++;
        if (done % VERIFY_EVERY == 0)
            verify(&store, done);
        if (done % PROGRESS_EVERY == 0)
            printf("kvstore: %lu operations, %u keys, %u buckets\n", (unsigned long)done,
                   store.live, store.nbuckets);
    }
    verify(&store, ops);
    for (uint64_t key = 1; key <= KEYSPACE; key++)
        checksum = (checksum ^ shadow_value[key]) * 0x100000001b3ull;
    printf("kvstore: OK after %lu operations (checksum 0x%016lx)\n", (unsigned long)ops,
           (unsigned long)checksum);
    return 0;
}
