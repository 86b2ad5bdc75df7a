/*
 * hcbench - the hypercall round-trip benchmark: N no-op hypercalls in a tight
 * loop.
 *
 * Usage: hcbench [n=N]    (default 1000000)
 */
#include <pvrr/guest.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    uint64_t n = pvrr_arg_u64(argc, argv, "n", 1000000);
    uint64_t t0 = pvrr_monotonic_ns();
    for (uint64_t i = 0; i < n; i++)
        pvrr_nop();
    uint64_t t1 = pvrr_monotonic_ns();
    printf("hcbench: %lu hypercalls\n", (unsigned long)n);
    if (n > 0)
        printf("hcbench: %lu ns per hypercall\n", (unsigned long)((t1 - t0) / n));
    return 0;
}
