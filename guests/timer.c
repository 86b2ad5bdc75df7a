/*
 * timer - sleeps with pvrr_poll deadlines: (ticks) times (ms) milliseconds,
 * then checks that both clocks moved at least that far.
 *
 * Usage: timer [ticks=N] [ms=N]     (defaults: 10 ticks of 50 ms)
 *
 * Output is the same on every run ("timer: tick N", then "timer: slept >= T
 * ms: yes"), so runs can be compared; the exact times stay in the recording.
 */
#include <pvrr/guest.h>
#include <stdint.h>
#include <stdio.h>

#define NS_PER_MS 1000000ull

int main(int argc, char **argv)
{
    uint64_t ticks = pvrr_arg_u64(argc, argv, "ticks", 10);
    uint64_t ms = pvrr_arg_u64(argc, argv, "ms", 50);
    uint64_t mono_start, wall_start;
    pvrr_clock(&mono_start, &wall_start);

    uint64_t now = mono_start;
    for (uint64_t i = 1; i <= ticks; i++) {
        uint64_t deadline = now + ms * NS_PER_MS;
        /* poll may return before the deadline (it should not with no events
         * requested, but a guest must not rely on that). */
        while (now < deadline)
            pvrr_poll(deadline, 0, &now);
        printf("timer: tick %lu\n", (unsigned long)i);
    }

    uint64_t mono_end, wall_end;
    pvrr_clock(&mono_end, &wall_end);
    uint64_t want = ticks * ms;
    uint64_t mono_ms = (mono_end - mono_start) / NS_PER_MS;
    printf("timer: slept >= %lu ms: %s\n", (unsigned long)want, mono_ms >= want ? "yes" : "no");
    printf("timer: wall clock moved forward: %s\n", wall_end > wall_start ? "yes" : "no");
    return mono_ms >= want ? 0 : 1;
}
