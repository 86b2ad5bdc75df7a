/*
 * timeline.h - `pvrr timeline`: what the page shows about one recording (the
 * model, built by timeline.c from the log and an optional replay) and the
 * writer of the self-contained HTML page (timeline_html.c).
 *
 * The time axis is the event index: a pvlog holds no timestamp per event
 * (formats/pvlog.md), only the start and end wall-clock times. Events of a
 * sparse hypercall kind are kept one by one with their `pvrr dump` line; the
 * events of a dense kind are counted in buckets of bucket_w events (the page
 * sums them into coarser zoom levels), so the page stays small for millions
 * of events.
 */
#ifndef PVRR_TIMELINE_H
#define PVRR_TIMELINE_H

#include "abi/pvrr_abi.h"
#include "pvlog/pvlog.h"

#include <stdint.h>
#include <stdio.h>

/* Events sent one by one (with their dump line), summed over all such lanes:
 * ~130 bytes each in the page, so about 1.3 MB at most. */
#define TL_DETAIL_MAX 10000u
/* Buckets per dense lane at the finest level: 65536 x 2 counters. */
#define TL_BUCKETS_MAX 65536u
/* Console text sent to the page (output and input), bytes and pieces. */
#define TL_TEXT_BYTES_MAX (512u << 10)
#define TL_TEXT_MAX 20000u

/* Lane PVRR_HC_MAX holds events with an unknown hypercall number. */
#define TL_LANES (PVRR_HC_MAX + 1)

struct tl_lane {
    uint64_t count; /* events of this kind */
    int detail;     /* 1: events one by one (idx, line); 0: buckets */
    uint64_t *idx;  /* detail: event indices, ascending */
    char **line;    /* detail: the dump line of each */
    size_t n;
    uint32_t *bk_count; /* buckets: events of this kind in bucket b */
    uint32_t *bk_first; /* buckets: offset of the first one in bucket b */
};

/* A piece of console text at an event: output (from a replay) or input
 * (the bytes a console_read returned, from the log). */
struct tl_text {
    uint64_t index;
    int input;
    char *text; /* valid UTF-8 */
};

struct timeline {
    const char *log_path;
    const struct pvlog_meta *meta;
    uint64_t nevents; /* hypercall events read (the END event not counted) */
    struct tl_lane lanes[TL_LANES];
    uint64_t bucket_w, nbuckets;

    struct tl_text *texts; /* ascending by index */
    size_t ntexts, texts_cap;
    uint64_t text_bytes;
    int text_cut; /* some text was left out (TL_TEXT_*_MAX) */

    int have_end; /* the END event was read */
    uint64_t end_index;
    uint8_t end_reason;
    int32_t end_status;
    uint64_t end_wall_ns;
    char end_line[256];
    char end_msg[1024]; /* from the replay: panic message, fault report; "" if unknown */

    enum pvlog_status log_status; /* PVLOG_END, or the error that stopped reading */
    char log_msg[256];

    int diverged; /* a divergence to mark */
    uint64_t div_index;
    char div_msg[1024];
    const char *div_source; /* "replay" or "command line" */

    char replay_note[1200]; /* what the replay gave, or why there was none */
};

/* Write the page for (t) to (f): the template with the model as JSON.
 * Returns 0, or -1 with errno set when writing or memory failed. */
int timeline_write_html(const struct timeline *t, FILE *f);

/* Append valid UTF-8 for (p, n) to (out, *len) (capacity (cap), always
 * NUL-terminated), replacing each invalid byte with U+FFFD and NUL and other
 * control characters but newline and tab with U+FFFD too. Returns the bytes
 * written. */
size_t timeline_utf8_clean(const uint8_t *p, size_t n, char *out, size_t cap);

#endif /* PVRR_TIMELINE_H */
