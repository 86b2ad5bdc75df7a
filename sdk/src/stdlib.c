/*
 * stdlib.c - the pvrr guest libc: heap, exit, number parsing, sorting.
 *
 * The heap is a first-fit allocator with an address-ordered free list.
 * Every block starts with a 16-byte header (size, magic); payloads are
 * 16-byte aligned. free() checks the magic, so double frees and frees of
 * wild pointers panic, and coalesces with the free neighbours found through
 * the list. Allocated blocks are never inspected by their neighbours: a
 * buffer overrun into the next block's header goes unnoticed until that block
 * is freed, as with most real allocators.
 */
#include <limits.h>
#include <pvrr/guest.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

#define ALIGN 16u
#define MAGIC_USED 0x2144455355525650ull /* "PVRUSED!" */
#define MAGIC_FREE 0x2145455246525650ull /* "PVRFREE!" */

struct block {
    size_t size; /* bytes, header included, multiple of ALIGN */
    uint64_t magic;
};

struct free_block {
    struct block hdr;
    struct free_block *next; /* next free block, at a higher address */
};

_Static_assert(sizeof(struct block) == ALIGN, "header keeps payloads aligned");

/* Smallest block worth splitting off: a header and a list link. */
#define MIN_BLOCK (2 * ALIGN)

static struct free_block *free_list;
static size_t heap_size, heap_used, heap_allocations;

void pvrr__heap_init(uint64_t start, uint64_t end)
{
    start = (start + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
    end &= ~(uint64_t)(ALIGN - 1);
    free_list = NULL;
    heap_size = heap_used = heap_allocations = 0;
    if (end <= start || end - start < MIN_BLOCK)
        return;
    free_list = (struct free_block *)(uintptr_t)start;
    free_list->hdr = (struct block){.size = end - start, .magic = MAGIC_FREE};
    free_list->next = NULL;
    heap_size = end - start;
}

void *malloc(size_t size)
{
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX / 2)
        return NULL;
    size_t need = (size + sizeof(struct block) + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need < MIN_BLOCK)
        need = MIN_BLOCK;

    struct free_block **link = &free_list;
    for (struct free_block *b = free_list; b != NULL; link = &b->next, b = b->next) {
        if (b->hdr.magic != MAGIC_FREE)
            PVRR_PANIC("malloc: heap free list corrupted at %p (magic 0x%lx)", (void *)b,
                       (unsigned long)b->hdr.magic);
        if (b->hdr.size < need)
            continue;
        if (b->hdr.size - need >= MIN_BLOCK) {
            struct free_block *rest = (struct free_block *)((char *)b + need);
            rest->hdr = (struct block){.size = b->hdr.size - need, .magic = MAGIC_FREE};
            rest->next = b->next;
            *link = rest;
            b->hdr.size = need;
        } else {
            *link = b->next;
        }
        b->hdr.magic = MAGIC_USED;
        heap_used += b->hdr.size;
        heap_allocations++;
        return (char *)b + sizeof(struct block);
    }
    return NULL;
}

/* The header of the block whose payload is (p); panics on a wild pointer or a
 * double free. */
static struct block *block_of(void *p, const char *who)
{
    struct block *b = (struct block *)((char *)p - sizeof(struct block));
    if (((uintptr_t)p & (ALIGN - 1)) != 0 || b->magic != MAGIC_USED) {
        PVRR_PANIC("%s(%p): %s (header magic 0x%lx size 0x%lx)", who, p,
                   b->magic == MAGIC_FREE ? "double free" : "not a heap block or header corrupted",
                   (unsigned long)b->magic, (unsigned long)b->size);
    }
    return b;
}

void free(void *p)
{
    if (p == NULL)
        return;
    struct free_block *b = (struct free_block *)block_of(p, "free");
    b->hdr.magic = MAGIC_FREE;
    heap_used -= b->hdr.size;
    heap_allocations--;

    struct free_block *prev = NULL, *next = free_list;
    while (next != NULL && next < b) {
        prev = next;
        next = next->next;
    }
    b->next = next;
    if (prev)
        prev->next = b;
    else
        free_list = b;
    if (next && (char *)b + b->hdr.size == (char *)next) {
        b->hdr.size += next->hdr.size;
        b->next = next->next;
        next->hdr.magic = 0;
    }
    if (prev && (char *)prev + prev->hdr.size == (char *)b) {
        prev->hdr.size += b->hdr.size;
        prev->next = b->next;
        b->hdr.magic = 0;
    }
}

void *calloc(size_t nmemb, size_t size)
{
    if (size != 0 && nmemb > SIZE_MAX / size)
        return NULL;
    void *p = malloc(nmemb * size);
    if (p)
        memset(p, 0, nmemb * size);
    return p;
}

void *realloc(void *p, size_t size)
{
    if (p == NULL)
        return malloc(size);
    if (size == 0) {
        free(p);
        return NULL;
    }
    struct block *b = block_of(p, "realloc");
    size_t have = b->size - sizeof(struct block);
    if (size <= have)
        return p;
    void *q = malloc(size);
    if (q) {
        memcpy(q, p, have);
        free(p);
    }
    return q;
}

void pvrr_heap_stats(struct pvrr_heap_stats *st)
{
    st->heap_size = heap_size;
    st->used = heap_used;
    st->free_bytes = heap_size - heap_used;
    st->allocations = heap_allocations;
}

_Noreturn void exit(int status)
{
    pvrr_exit(status);
}

_Noreturn void abort(void)
{
    pvrr_panic("abort() called");
}

_Noreturn void pvrr__assert_fail(const char *expr, const char *file, int line, const char *func)
{
    pvrr_panicf("%s:%d: assertion failed: %s (in %s)", file, line, expr, func);
}

int abs(int x)
{
    return x < 0 ? -x : x;
}

long labs(long x)
{
    return x < 0 ? -x : x;
}

long long llabs(long long x)
{
    return x < 0 ? -x : x;
}

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return 99;
}

/* Parse an optionally signed number as strtoull does: magnitude in (*mag),
 * (*neg) set for a leading '-', (*overflow) when the magnitude exceeds
 * ULLONG_MAX. Returns the end of the number (or (s) when there is none). */
static const char *parse_number(const char *s, int base, unsigned long long *mag, int *neg,
                                int *overflow)
{
    const char *start = s;
    *mag = 0;
    *neg = 0;
    *overflow = 0;
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    if (*s == '-' || *s == '+')
        *neg = *s++ == '-';
    if ((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
        digit_value(s[2]) < 16) {
        s += 2;
        base = 16;
    } else if (base == 0) {
        base = s[0] == '0' ? 8 : 10;
    }
    if (base < 2 || base > 36)
        return start;
    const char *digits = s;
    for (int d; (d = digit_value(*s)) < base; s++) {
        if (*mag > (ULLONG_MAX - (unsigned)d) / (unsigned)base)
            *overflow = 1;
        *mag = *mag * (unsigned)base + (unsigned)d;
    }
    return s == digits ? start : s;
}

unsigned long long strtoull(const char *restrict s, char **restrict end, int base)
{
    unsigned long long mag;
    int neg, overflow;
    const char *e = parse_number(s, base, &mag, &neg, &overflow);
    if (end)
        *end = (char *)e;
    if (overflow)
        return ULLONG_MAX;
    return neg ? -mag : mag;
}

unsigned long strtoul(const char *restrict s, char **restrict end, int base)
{
    return strtoull(s, end, base);
}

long long strtoll(const char *restrict s, char **restrict end, int base)
{
    unsigned long long mag;
    int neg, overflow;
    const char *e = parse_number(s, base, &mag, &neg, &overflow);
    if (end)
        *end = (char *)e;
    if (neg) {
        if (overflow || mag > (unsigned long long)LLONG_MAX + 1)
            return LLONG_MIN;
        return (long long)(0 - mag);
    }
    if (overflow || mag > (unsigned long long)LLONG_MAX)
        return LLONG_MAX;
    return (long long)mag;
}

long strtol(const char *restrict s, char **restrict end, int base)
{
    return strtoll(s, end, base);
}

int atoi(const char *s)
{
    return (int)strtol(s, NULL, 10);
}

long atol(const char *s)
{
    return strtol(s, NULL, 10);
}

static void swap_bytes(char *a, char *b, size_t size)
{
    while (size--) {
        char t = *a;
        *a++ = *b;
        *b++ = t;
    }
}

/* Shell sort with Ciura's gaps (extended by x2.25 for large arrays): no
 * recursion and no allocation, fine for the sizes guests sort. */
void qsort(void *base, size_t nmemb, size_t size, int (*cmp)(const void *, const void *))
{
    size_t gaps[48] = {1, 4, 10, 23, 57, 132, 301, 701};
    size_t ngaps = 8;
    while (ngaps < 48 && gaps[ngaps - 1] < nmemb / 2) {
        gaps[ngaps] = gaps[ngaps - 1] * 9 / 4;
        ngaps++;
    }
    char *a = base;
    while (ngaps-- > 0) {
        size_t gap = gaps[ngaps];
        if (gap >= nmemb)
            continue;
        for (size_t i = gap; i < nmemb; i++) {
            for (size_t j = i; j >= gap && cmp(a + (j - gap) * size, a + j * size) > 0; j -= gap)
                swap_bytes(a + (j - gap) * size, a + j * size, size);
        }
    }
}

void *bsearch(const void *key, const void *base, size_t nmemb, size_t size,
              int (*cmp)(const void *, const void *))
{
    const char *a = base;
    size_t lo = 0, hi = nmemb;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp(key, a + mid * size);
        if (c == 0)
            return (void *)(a + mid * size);
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}
