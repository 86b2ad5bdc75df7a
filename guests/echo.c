/*
 * echo - copies console input to the console, uppercased, until end of
 * input. Waits for input with pvrr_poll (no busy loop), reads what is ready
 * with pvrr_console_read. Run it with `pvrr run --stdin FILE`.
 */
#include <ctype.h>
#include <pvrr/guest.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* How long one poll may block before we poll again (the deadline must be
 * finite; waking up once a minute costs nothing). */
#define POLL_NS (60ull * 1000000000ull)

int main(void)
{
    static char buf[4096];
    uint64_t now = pvrr_monotonic_ns();
    for (;;) {
        uint32_t ready = pvrr_poll(now + POLL_NS, PVRR_EV_CONSOLE_IN, &now);
        if (!(ready & PVRR_EV_CONSOLE_IN))
            continue;
        size_t n;
        bool eof;
        int rc = pvrr_console_read(buf, sizeof buf, &n, &eof);
        if (rc != PVRR_OK) {
            printf("echo: console read failed (%d)\n", rc);
            return 1;
        }
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)toupper((unsigned char)buf[i]);
        if (n > 0 && pvrr_console_write(buf, n) != PVRR_OK)
            return 1;
        if (eof && n == 0)
            break;
    }
    return 0;
}
