/*
 * checkpoint.c - incremental, thinned checkpoints (checkpoint.h).
 */
#include "debugger/checkpoint.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096u

struct ck_page {
    uint32_t refs;
    uint8_t data[PAGE];
};

/* The all-zero page: shared by every checkpoint, never freed or counted. */
static struct ck_page zero_page = {.refs = UINT32_MAX / 2};

static struct ck_page *page_ref(struct ck_page *p)
{
    if (p != &zero_page)
        p->refs++;
    return p;
}

static void page_unref(struct ck_store *s, struct ck_page *p)
{
    if (p && p != &zero_page && --p->refs == 0) {
        free(p);
        s->unique_pages--;
    }
}

static int is_zero(const uint8_t *d)
{
    static const uint8_t z[PAGE];
    return memcmp(d, z, PAGE) == 0;
}

/* A copy of page (d), shared if all zero; NULL if out of memory. */
static struct ck_page *page_copy(struct ck_store *s, const uint8_t *d)
{
    if (is_zero(d))
        return &zero_page;
    struct ck_page *p = malloc(sizeof *p);
    if (!p)
        return NULL;
    p->refs = 1;
    memcpy(p->data, d, PAGE);
    s->unique_pages++;
    return p;
}

/* Bring s->base up to date with the dirty pages of current memory. Returns
 * -1 if out of memory (the pages not yet copied stay marked dirty). */
static int base_update(struct ck_store *s)
{
    vm_dirty_collect(s->vm);
    for (uint64_t w = 0; w < (s->npages + 63) / 64; w++) {
        while (s->vm->dirty[w]) {
            unsigned b = (unsigned)__builtin_ctzll(s->vm->dirty[w]);
            uint64_t p = w * 64 + b;
            struct ck_page *np = page_copy(s, s->vm->mem + p * PAGE);
            if (!np)
                return -1;
            page_unref(s, s->base[p]);
            s->base[p] = np;
            s->vm->dirty[w] &= ~(1ull << b);
        }
    }
    return 0;
}

/* A checkpoint of the CPU and s->base; NULL if out of memory. */
static struct checkpoint *ck_new(struct ck_store *s, uint64_t event, uint64_t chain, int mid,
                                 uint64_t base_icount)
{
    struct checkpoint *c = calloc(1, sizeof *c + vm_cpu_state_size(s->vm));
    if (c && !(c->pages = malloc(s->npages * sizeof *c->pages))) {
        free(c);
        c = NULL;
    }
    if (!c)
        return NULL;
    c->event = event;
    c->chain = chain;
    c->icount = s->vm->ops->insn_count ? s->vm->ops->insn_count(s->vm) : 0;
    c->base_icount = base_icount;
    c->mid = mid;
    vm_cpu_save(s->vm, c->cpu);
    for (uint64_t p = 0; p < s->npages; p++)
        c->pages[p] = page_ref(s->base[p]);
    s->taken++;
    return c;
}

static void ck_free(struct ck_store *s, struct checkpoint *c)
{
    for (uint64_t p = 0; p < s->npages; p++)
        page_unref(s, c->pages[p]);
    free(c->pages);
    free(c);
}

int ck_init(struct ck_store *s, struct vm *vm, uint64_t chain)
{
    memset(s, 0, sizeof *s);
    s->vm = vm;
    s->by_count = (vm->ops->caps & ENGINE_CAP_INSN_COUNT) && vm->ops->insn_count;
    s->npages = vm->mem_size / PAGE;
    s->base = calloc(s->npages, sizeof *s->base);
    s->cap = 64;
    s->ck = calloc(s->cap, sizeof *s->ck);
    if (!s->base || !s->ck) {
        ck_fini(s);
        return -1;
    }
    vm_dirty_collect(vm);
    vm_dirty_clear(vm);
    for (uint64_t p = 0; p < s->npages; p++) { /* never-written pages are zero (engine.h) */
        s->base[p] =
            (vm->ever[p / 64] >> (p % 64)) & 1 ? page_copy(s, vm->mem + p * PAGE) : &zero_page;
        if (!s->base[p])
            goto fail;
    }
    s->ck[0] = ck_new(s, 0, chain, 0, vm->ops->insn_count ? vm->ops->insn_count(vm) : 0);
    if (!s->ck[0])
        goto fail;
    s->n = 1;
    return 0;
fail:
    ck_fini(s);
    return -1;
}

void ck_fini(struct ck_store *s)
{
    for (size_t i = 0; i < s->n; i++)
        ck_free(s, s->ck[i]);
    if (s->base)
        for (uint64_t p = 0; p < s->npages; p++)
            page_unref(s, s->base[p]);
    free(s->base);
    free(s->ck);
    memset(s, 0, sizeof *s);
}

/* Where checkpoint (c) lies on the store's axis: its instruction count on an
 * engine that counts them, else its event. */
static uint64_t ck_key(const struct ck_store *s, const struct checkpoint *c)
{
    return s->by_count ? c->icount : c->event;
}

/* Keep checkpoint 0, the one at (center) (the newest taken: where the user is
 * working) and, on each side of it, at most two per band [2^j, 2^(j+1)) of
 * distance from it (ck_key), preferring the nearer ones. */
static void thin(struct ck_store *s, uint64_t center)
{
    if (s->n < 4)
        return;
    int count[2][65] = {{0}};
    char *keep = calloc(s->n, 1);
    size_t *order = calloc(s->n, sizeof *order);
    if (!keep || !order) { /* out of memory: keep them all for now */
        free(keep);
        free(order);
        return;
    }
    for (size_t i = 0; i < s->n; i++)
        order[i] = i;
    /* insertion sort by distance from the center (n is small) */
    for (size_t i = 1; i < s->n; i++) {
        for (size_t j = i; j > 0; j--) {
            uint64_t ea = ck_key(s, s->ck[order[j - 1]]), eb = ck_key(s, s->ck[order[j]]);
            uint64_t da = ea > center ? ea - center : center - ea;
            uint64_t db = eb > center ? eb - center : center - eb;
            if (da <= db)
                break;
            size_t x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    }
    for (size_t o = 0; o < s->n; o++) {
        size_t i = order[o];
        uint64_t e = ck_key(s, s->ck[i]);
        uint64_t d = e > center ? e - center : center - e;
        int side = e > center;
        int band = d == 0 ? 0 : 64 - __builtin_clzll(d);
        if (i == 0 || d == 0 || count[side][band] < 2) {
            keep[i] = 1;
            if (d != 0)
                count[side][band]++;
        }
    }
    size_t out = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (keep[i]) {
            s->ck[out++] = s->ck[i];
        } else {
            ck_free(s, s->ck[i]);
            s->dropped++;
        }
    }
    s->n = out;
    free(keep);
    free(order);
}

int ck_take(struct ck_store *s, uint64_t event, uint64_t chain, int mid, uint64_t base_icount)
{
    uint64_t icount = s->vm->ops->insn_count ? s->vm->ops->insn_count(s->vm) : 0;
    size_t i = s->n;
    while (i > 0 && (s->ck[i - 1]->event > event ||
                     (s->ck[i - 1]->event == event && s->ck[i - 1]->icount > icount)))
        i--;
    if (i > 0 && s->ck[i - 1]->event == event && s->ck[i - 1]->icount == icount)
        return 0;
    if (s->n == s->cap) {
        struct checkpoint **nck = realloc(s->ck, s->cap * 2 * sizeof *s->ck);
        if (!nck)
            return -1;
        s->ck = nck;
        s->cap *= 2;
    }
    if (base_update(s) < 0)
        return -1;
    struct checkpoint *c = ck_new(s, event, chain, mid, base_icount);
    if (!c)
        return -1;
    memmove(&s->ck[i + 1], &s->ck[i], (s->n - i) * sizeof *s->ck);
    s->ck[i] = c;
    s->n++;
    thin(s, ck_key(s, c));
    return 0;
}

const struct checkpoint *ck_find(const struct ck_store *s, uint64_t event)
{
    const struct checkpoint *best = s->ck[0];
    for (size_t i = 0; i < s->n && s->ck[i]->event <= event; i++)
        best = s->ck[i];
    return best;
}

const struct checkpoint *ck_find_base(const struct ck_store *s, uint64_t event)
{
    const struct checkpoint *best = s->ck[0];
    for (size_t i = 0; i < s->n; i++) {
        const struct checkpoint *c = s->ck[i];
        if (c->event > event || (c->event == event && c->mid))
            break;
        best = c;
    }
    return best;
}

const struct checkpoint *ck_find_count(const struct ck_store *s, uint64_t n)
{
    const struct checkpoint *best = s->ck[0];
    for (size_t i = 0; i < s->n && s->ck[i]->icount <= n; i++)
        best = s->ck[i];
    return best;
}

void ck_restore(struct ck_store *s, const struct checkpoint *c)
{
    vm_dirty_collect(s->vm);
    for (uint64_t p = 0; p < s->npages; p++) {
        int dirty = (s->vm->dirty[p / 64] >> (p % 64)) & 1;
        if (dirty || s->base[p] != c->pages[p]) {
            memcpy(s->vm->mem + p * PAGE, c->pages[p]->data, PAGE);
            page_unref(s, s->base[p]);
            s->base[p] = page_ref(c->pages[p]);
        }
    }
    vm_dirty_clear(s->vm);
    vm_cpu_restore(s->vm, c->cpu);
}

uint64_t ck_memory_bytes(const struct ck_store *s)
{
    /* page copies plus each checkpoint's (and the base's) page-pointer array */
    return s->unique_pages * PAGE + (s->n + 1) * s->npages * sizeof(struct ck_page *);
}

struct checkpoint *ck_snapshot(struct ck_store *s, uint64_t event, uint64_t chain, int mid,
                               uint64_t base_icount)
{
    if (base_update(s) < 0)
        return NULL;
    return ck_new(s, event, chain, mid, base_icount);
}

void ck_release(struct ck_store *s, struct checkpoint *c)
{
    if (c)
        ck_free(s, c);
}
