/*
 * mm.c - the program's memory: brk and anonymous (or privately copied file)
 * mappings inside the user window, tracked one bit per 4 KiB page.
 *
 * Every page of the user window is always mapped (identity, U=1), so the
 * bitmaps only decide which addresses mmap may hand out. A page handed out
 * again after munmap is cleared first; a page never handed out is still zero
 * from boot. Protections are recorded by nothing: mprotect succeeds and
 * changes no access (a program that relies on PROT_NONE faults would run on
 * instead of faulting). brk grows up from the image end; mmap takes the
 * highest free range below the stack.
 */
#include "kernel.h"

#include <string.h>

#define MAX_PAGES ((PVRR_MEM_MAX) / PAGE)
#define PROT_WRITE 0x2
#define MAP_SHARED 0x01
#define MAP_PRIVATE 0x02
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_FIXED_NOREPLACE 0x100000
#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2

static uint64_t used[MAX_PAGES / 64];        /* handed out (image, brk, mmap, stack) */
static uint64_t dirty[MAX_PAGES / 64];       /* handed out at least once since boot */
static uint64_t brk_start, brk_cur, brk_top; /* brk_top: end of pages given to brk */
static uint64_t stack_lo;

static int test(const uint64_t *bm, uint64_t pg)
{
    return (bm[pg / 64] >> (pg % 64)) & 1;
}

static void set_range(uint64_t *bm, uint64_t pg, uint64_t n, int v)
{
    for (uint64_t i = pg; i < pg + n; i++) {
        if (v)
            bm[i / 64] |= 1ull << (i % 64);
        else
            bm[i / 64] &= ~(1ull << (i % 64));
    }
}

/* Take pages [pg, pg+n): clear those used before, mark them used. */
static void take(uint64_t pg, uint64_t n)
{
    for (uint64_t i = pg; i < pg + n; i++)
        if (test(dirty, i))
            memset((void *)(uintptr_t)(i * PAGE), 0, PAGE);
    set_range(used, pg, n, 1);
    set_range(dirty, pg, n, 1);
}

static int range_free(uint64_t pg, uint64_t n)
{
    for (uint64_t i = pg; i < pg + n; i++)
        if (test(used, i))
            return 0;
    return 1;
}

void mm_init(uint64_t image_lo, uint64_t image_hi)
{
    stack_lo = user_hi - USER_STACK_SIZE;
    set_range(used, image_lo / PAGE, (image_hi - image_lo) / PAGE, 1);
    set_range(dirty, image_lo / PAGE, (image_hi - image_lo) / PAGE, 1);
    set_range(used, stack_lo / PAGE, USER_STACK_SIZE / PAGE, 1);
    set_range(dirty, stack_lo / PAGE, USER_STACK_SIZE / PAGE, 1);
    brk_start = brk_cur = brk_top = image_hi;
}

long sys_brk(uint64_t addr)
{
    if (addr < brk_start)
        return (long)brk_cur;
    uint64_t top = (addr + PAGE - 1) & ~(PAGE - 1);
    if (top > brk_top) {
        if (top > stack_lo || !range_free(brk_top / PAGE, (top - brk_top) / PAGE))
            return (long)brk_cur; /* Linux: the old break means failure */
        take(brk_top / PAGE, (top - brk_top) / PAGE);
    } else if (top < brk_top) {
        set_range(used, top / PAGE, (brk_top - top) / PAGE, 0);
    }
    brk_top = top;
    brk_cur = addr;
    return (long)brk_cur;
}

/* The highest free run of (n) pages in the window above the break; 0 if none. */
static uint64_t find_free(uint64_t n)
{
    uint64_t lo = brk_top / PAGE, pg = stack_lo / PAGE, run = 0;
    while (pg > lo) {
        pg--;
        if (test(used, pg)) {
            run = 0;
            continue;
        }
        if (++run == n)
            return pg;
    }
    return 0;
}

long sys_mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd, int64_t off)
{
    if (len == 0 || (off & (int64_t)(PAGE - 1)) || off < 0)
        return -EINVAL;
    if (len > user_hi)
        return -ENOMEM;
    uint64_t n = (len + PAGE - 1) / PAGE;
    int anon = (flags & MAP_ANONYMOUS) != 0;
    if (!anon && (flags & MAP_SHARED) && (prot & PROT_WRITE))
        return -EINVAL; /* files are exposed read-only: no shared writable mapping */
    uint64_t pg;
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
        if (addr & (PAGE - 1))
            return -EINVAL;
        if (!user_ok(addr, n * PAGE) || addr + n * PAGE > stack_lo)
            return -ENOMEM;
        pg = addr / PAGE;
        if ((flags & MAP_FIXED_NOREPLACE) && !range_free(pg, n))
            return -EEXIST;
        set_range(dirty, pg, n, 1); /* a fixed mapping replaces: clear it all */
        set_range(used, pg, n, 0);
    } else {
        pg = find_free(n);
        if (pg == 0)
            return -ENOMEM;
    }
    take(pg, n);
    uint64_t a = pg * PAGE;
    if (!anon) {
        long r = file_pread_raw(fd, (void *)(uintptr_t)a, len, (uint64_t)off);
        if (r < 0) {
            set_range(used, pg, n, 0);
            return r;
        }
    }
    return (long)a;
}

long sys_munmap(uint64_t addr, uint64_t len)
{
    if ((addr & (PAGE - 1)) || len == 0)
        return -EINVAL;
    uint64_t n = (len + PAGE - 1) / PAGE;
    if (!user_ok(addr, n * PAGE))
        return -EINVAL;
    uint64_t pg = addr / PAGE;
    /* never give back the image, the brk area or the stack */
    for (uint64_t i = pg; i < pg + n; i++)
        if (i * PAGE >= brk_top && i * PAGE < stack_lo)
            set_range(used, i, 1, 0);
    return 0;
}

long sys_mremap(uint64_t old, uint64_t oldlen, uint64_t newlen, int flags, uint64_t newaddr)
{
    (void)newaddr; /* MREMAP_FIXED is refused */
    if ((old & (PAGE - 1)) || newlen == 0 || (flags & MREMAP_FIXED))
        return -EINVAL;
    uint64_t on = (oldlen + PAGE - 1) / PAGE, nn = (newlen + PAGE - 1) / PAGE;
    if (!user_ok(old, on * PAGE) || old < brk_top || old + on * PAGE > stack_lo)
        return -EFAULT;
    uint64_t pg = old / PAGE;
    if (nn <= on) {
        set_range(used, pg + nn, on - nn, 0);
        return (long)old;
    }
    if (pg + nn <= stack_lo / PAGE && range_free(pg + on, nn - on)) {
        take(pg + on, nn - on);
        return (long)old;
    }
    if (!(flags & MREMAP_MAYMOVE))
        return -ENOMEM;
    uint64_t np = find_free(nn);
    if (np == 0)
        return -ENOMEM;
    take(np, nn);
    memcpy((void *)(uintptr_t)(np * PAGE), (void *)(uintptr_t)old, on * PAGE);
    set_range(used, pg, on, 0);
    return (long)(np * PAGE);
}

long sys_mprotect(uint64_t addr, uint64_t len, int prot)
{
    (void)prot; /* not enforced: see the top of this file */
    if (addr & (PAGE - 1))
        return -EINVAL;
    if (!user_ok(addr, len))
        return -ENOMEM;
    return 0;
}
