/*
 * layout.h - the Linux personality's memory layout, shared by its kernel
 * (kernel.h) and the host tools that debug its programs (tools/linux.c: a
 * debugger hides the kernel's own frames, telling kernel code from the
 * program's by this window). Plain C, no guest-only headers.
 *
 *   [0, LINUX_USER_LO)        the kernel (SDK image, its stacks)
 *   [LINUX_USER_LO, user_hi)  the user window: the program's image, heap,
 *                             mappings and stack; the only place user code runs
 *   [user_hi, mem_size)       the SDK's boot stack and guard page (kernel only)
 */
#ifndef PVRR_LINUX_LAYOUT_H
#define PVRR_LINUX_LAYOUT_H

#include <stdint.h>

/* The start of the user window (entry.S repeats it as USER_LO). */
#define LINUX_USER_LO (4ull << 20)

/* The end of the user window (user_hi) for (mem_size) bytes of guest RAM:
 * the last 2 MiB page below the top, rounded down to 2 MiB, is the SDK's. */
static inline uint64_t linux_user_hi(uint64_t mem_size)
{
    return (mem_size & ~((2ull << 20) - 1)) - (2ull << 20);
}

#endif /* PVRR_LINUX_LAYOUT_H */
