/*
 * stdlib.h - the pvrr guest libc: heap, number parsing, sorting, exit.
 *
 * The heap is a first-fit, address-ordered free list over
 * [image end, top of RAM - 1 MiB); the last MiB is left to the stack.
 */
#ifndef PVRR_LIBC_STDLIB_H
#define PVRR_LIBC_STDLIB_H

#include <stddef.h>

#define EXIT_SUCCESS 0
#define EXIT_FAILURE 1

void *malloc(size_t size);
void *calloc(size_t nmemb, size_t size);
void *realloc(void *ptr, size_t size);
void free(void *ptr);

/* Flush stdout and exit the guest with (status). */
_Noreturn void exit(int status);
/* Panic with "abort() called". */
_Noreturn void abort(void);

int abs(int x);
long labs(long x);
long long llabs(long long x);

int atoi(const char *s);
long atol(const char *s);
long strtol(const char *restrict s, char **restrict end, int base);
long long strtoll(const char *restrict s, char **restrict end, int base);
unsigned long strtoul(const char *restrict s, char **restrict end, int base);
unsigned long long strtoull(const char *restrict s, char **restrict end, int base);

void qsort(void *base, size_t nmemb, size_t size, int (*cmp)(const void *, const void *));
void *bsearch(const void *key, const void *base, size_t nmemb, size_t size,
              int (*cmp)(const void *, const void *));

/* Heap statistics (pvrr extension): bytes in use and bytes free. */
struct pvrr_heap_stats {
    size_t heap_size;  /* bytes managed by the allocator */
    size_t used;       /* bytes handed out, headers included */
    size_t free_bytes; /* bytes in the free list */
    size_t allocations;
};
void pvrr_heap_stats(struct pvrr_heap_stats *st);

#endif /* PVRR_LIBC_STDLIB_H */
