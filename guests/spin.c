/*
 * spin - CPU-bound work without hypercalls: a chain of (iters) 64-bit
 * multiply-add steps (an LCG fed with the loop counter), finished by one
 * splitmix64 mix. About 1-2 s of CPU by default on hardware-virtualised KVM:
 * each step is a few instructions with a ~4-cycle dependency chain.
 * Deterministic: the result depends on (iters) only.
 *
 * Usage: spin [iters=N]    (default 1000000000)
 */
#include <pvrr/guest.h>
#include <stdint.h>
#include <stdio.h>

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

int main(int argc, char **argv)
{
    uint64_t iters = pvrr_arg_u64(argc, argv, "iters", 1000000000);
    printf("spin: %lu iterations\n", (unsigned long)iters);
    uint64_t h = 0x243f6a8885a308d3ull;
    for (uint64_t i = 0; i < iters; i++)
        h = h * 0x5851f42d4c957f2dull + i; /* Knuth's MMIX LCG multiplier */
    printf("spin: result 0x%016lx\n", (unsigned long)mix(h));
    return 0;
}
