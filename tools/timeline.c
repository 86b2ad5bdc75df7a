/*
 * timeline.c - `pvrr timeline`: a recording on a time axis, as one
 * self-contained HTML page (timeline.h). Reads the log twice (counts, then
 * events and buckets) and replays it once, when it can, for what the log does
 * not hold: the console output, the panic message and any divergence.
 */
#include "tools/timeline.h"

#include "formats/symbolize.h"
#include "replayer/replayer.h"
#include "tools/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage_timeline(void)
{
    printf("Usage: pvrr timeline [OPTIONS] FILE.pvlog [-o FILE.html]\n"
           "\n"
           "Draw a recording on a time axis as one self-contained HTML page (inline SVG and\n"
           "JavaScript; it loads nothing from the network): one lane per hypercall kind,\n"
           "console output and input as text at its moment, disk events, idle waits (poll),\n"
           "the end (exit status, panic with its message, fault, timeout) or where a damaged\n"
           "log stops, and the divergence point of a replay that diverged. The axis is the\n"
           "event index: a pvlog holds no time per event. Wheel zooms, dragging pans;\n"
           "hovering an event shows its `pvrr dump` line; clicking copies `monitor goto N`.\n"
           "Dense kinds are drawn as counts per bucket, so millions of events stay small.\n"
           "\n"
           "The log does not hold the console output or the panic message: they come from\n"
           "a replay of the recording (KVM needed), stopped after --replay-timeout seconds.\n"
           "Without it, the page says what is missing.\n"
           "\n"
           "Options:\n"
           "  -o, --output FILE       the page to write (default: FILE.pvlog with .html)\n"
           "  -n, --no-replay         do not replay: no console output text, no divergence\n"
           "  -T, --replay-timeout S  stop the replay after S seconds (default 60)\n"
           "  -D, --divergence N      mark event N as the divergence point (e.g. from a\n"
           "                          report of `pvrr replay`), when no replay found one\n"
           "  -h, --help              show this help\n"
           "\n"
           "Exit status:\n"
           "  0    the page was written (also when the replay diverged: the page shows it)\n"
           "  %-3d  corrupt: not a pvlog, checksum mismatch or malformed content\n"
           "  %-3d  truncated: the log ends early\n"
           "  %-3d  unsupported format version\n"
           "  %-3d  pvrr error (cannot read the log or write the page, ...)\n"
           "  %-3d  usage error\n"
           "For a log that is damaged or cut after its metadata, the page is still written\n"
           "with the events before the damage (as `pvrr dump` lists them), and the status\n"
           "says what the damage is. A divergence found by the replay does not change it.\n",
           PVRR_REPLAY_CORRUPT, PVRR_REPLAY_TRUNCATED, PVRR_REPLAY_VERSION, PVRR_EXIT_ERROR,
           PVRR_EXIT_USAGE);
}

/* ---- console text ---- */

/* Record text (p, n) at event (index); returns -1 when memory ran out. */
static int add_text(struct timeline *t, uint64_t index, int input, const uint8_t *p, size_t n)
{
    if (n == 0)
        return 0;
    if (t->ntexts >= TL_TEXT_MAX || t->text_bytes + n > TL_TEXT_BYTES_MAX) {
        t->text_cut = 1;
        return 0;
    }
    if (t->ntexts == t->texts_cap) {
        size_t cap = t->texts_cap ? 2 * t->texts_cap : 64;
        struct tl_text *nt = realloc(t->texts, cap * sizeof *nt);
        if (!nt)
            return -1;
        t->texts = nt;
        t->texts_cap = cap;
    }
    size_t cap = 3 * n + 1;
    char *s = malloc(cap);
    if (!s)
        return -1;
    timeline_utf8_clean(p, n, s, cap);
    /* keep the array sorted: input comes from pass 2, output from the replay */
    size_t at = t->ntexts;
    while (at > 0 && t->texts[at - 1].index > index)
        at--;
    memmove(&t->texts[at + 1], &t->texts[at], (t->ntexts - at) * sizeof *t->texts);
    t->texts[at] = (struct tl_text){index, input, s};
    t->ntexts++;
    t->text_bytes += n;
    return 0;
}

/* ---- reading the log ---- */

static unsigned lane_of(const struct pvlog_event *ev)
{
    return ev->nr < PVRR_HC_MAX ? ev->nr : PVRR_HC_MAX;
}

/* Pass 1: count the events of each kind; note the END event or the error. */
static void count_events(struct timeline *t, struct pvlog_reader *rd)
{
    struct pvlog_event ev;
    struct pvlog_error err;
    enum pvlog_status st;
    while ((st = pvlog_reader_next(rd, &ev, &err)) == PVLOG_OK) {
        if (ev.kind == PVLOG_EV_END) {
            t->have_end = 1;
            t->end_index = ev.index;
            t->end_reason = ev.end_reason;
            t->end_status = ev.status;
            t->end_wall_ns = ev.end_wall_ns;
            continue;
        }
        t->nevents++;
        t->lanes[lane_of(&ev)].count++;
    }
    t->log_status = st;
    if (st != PVLOG_END)
        snprintf(t->log_msg, sizeof t->log_msg, "%s", err.msg);
}

static int cmp_lane_count(const void *a, const void *b, void *arg)
{
    const struct tl_lane *l = arg;
    uint64_t x = l[*(const unsigned *)a].count, y = l[*(const unsigned *)b].count;
    return x < y ? -1 : x > y;
}

/* Give the sparsest kinds per-event detail, up to TL_DETAIL_MAX events in
 * all; the others get buckets. Returns -1 when memory ran out. */
static int plan_lanes(struct timeline *t)
{
    unsigned order[TL_LANES];
    for (unsigned i = 0; i < TL_LANES; i++)
        order[i] = i;
    qsort_r(order, TL_LANES, sizeof order[0], cmp_lane_count, t->lanes);
    uint64_t budget = TL_DETAIL_MAX;
    int need_buckets = 0;
    for (unsigned k = 0; k < TL_LANES; k++) {
        struct tl_lane *l = &t->lanes[order[k]];
        if (l->count == 0)
            continue;
        if (l->count <= budget) {
            l->detail = 1;
            budget -= l->count;
            l->idx = calloc(l->count, sizeof *l->idx);
            l->line = calloc(l->count, sizeof *l->line);
            if (!l->idx || !l->line)
                return -1;
        } else {
            need_buckets = 1;
        }
    }
    if (!need_buckets)
        return 0;
    t->bucket_w = (t->nevents + TL_BUCKETS_MAX - 1) / TL_BUCKETS_MAX;
    if (t->bucket_w == 0)
        t->bucket_w = 1;
    t->nbuckets = (t->nevents + t->bucket_w - 1) / t->bucket_w;
    for (unsigned i = 0; i < TL_LANES; i++) {
        struct tl_lane *l = &t->lanes[i];
        if (l->count == 0 || l->detail)
            continue;
        l->bk_count = calloc(t->nbuckets, sizeof *l->bk_count);
        l->bk_first = calloc(t->nbuckets, sizeof *l->bk_first);
        if (!l->bk_count || !l->bk_first)
            return -1;
    }
    return 0;
}

/* The bytes a console_read stored in the guest's buffer: the writes after
 * the argument struct. */
static int add_input(struct timeline *t, const struct pvlog_event *ev)
{
    for (uint32_t i = 1; i < ev->nwrites; i++)
        if (add_text(t, ev->index, 1, ev->writes[i].data, ev->writes[i].len) < 0)
            return -1;
    return 0;
}

/* Pass 2: the detail lines, the buckets, the input text and the END line.
 * Stops where pass 1 stopped. Returns -1 when memory ran out. */
static int read_events(struct timeline *t, struct pvlog_reader *rd, struct pvrr_sym *sym)
{
    struct pvlog_event ev;
    struct pvlog_error err;
    char line[1024];
    uint64_t seen = 0;
    while (seen < t->nevents + (uint64_t)t->have_end &&
           pvlog_reader_next(rd, &ev, &err) == PVLOG_OK) {
        seen++;
        if (ev.kind == PVLOG_EV_END) {
            dump_event_line(sym, &ev, t->end_line, sizeof t->end_line);
            continue;
        }
        struct tl_lane *l = &t->lanes[lane_of(&ev)];
        if (l->detail) {
            if (l->n >= l->count)
                continue; /* the log changed under us: keep what was counted */
            dump_event_line(sym, &ev, line, sizeof line);
            l->idx[l->n] = ev.index;
            l->line[l->n] = strdup(line);
            if (!l->line[l->n])
                return -1;
            l->n++;
        } else if (l->bk_count) {
            uint64_t b = ev.index / t->bucket_w;
            if (b < t->nbuckets) {
                if (l->bk_count[b]++ == 0)
                    l->bk_first[b] = (uint32_t)(ev.index - b * t->bucket_w);
            }
        }
        if (ev.nr == PVRR_HC_CONSOLE_READ && add_input(t, &ev) < 0)
            return -1;
    }
    return 0;
}

/* ---- the replay: console output, panic message, divergence ---- */

static struct timeline *capture_t; /* the model the replay's handlers fill */
static hc_handler replay_handlers[PVRR_HC_MAX];
static int capture_failed;

/* Replay a console write, keeping its text when it matched the log. */
static enum hc_status capture_console_write(struct monitor *m, struct hc_call *c)
{
    struct replayer *r = m->user;
    uint64_t index = r->next_event;
    const uint8_t *p = vm_gpa(&m->vm, c->a.console_write.data, c->a.console_write.len);
    enum hc_status st = replay_handlers[c->nr](m, c);
    if (p && r->next_event == index + 1 &&
        add_text(capture_t, index, 0, p, c->a.console_write.len) < 0)
        capture_failed = 1;
    return st;
}

static void replay_for_text(struct timeline *t, double timeout_s)
{
    struct replayer r;
    char err[1024];
    int rc = replayer_open(&r, t->log_path, -1, err, sizeof err);
    if (rc) {
        snprintf(t->replay_note, sizeof t->replay_note,
                 "No replay (%s), so no console output text and no divergence check.", err);
        replayer_close(&r);
        return;
    }
    r.m.out_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    capture_t = t;
    memcpy(replay_handlers, r.m.handlers, sizeof replay_handlers);
    r.m.handlers[PVRR_HC_CONSOLE_WRITE] = capture_console_write;
    /* a deadline from now, as --timeout would set it at boot */
    r.m.cfg.timeout_s = timeout_s;
    clock_gettime(CLOCK_MONOTONIC, &r.m.deadline);
    r.m.deadline.tv_sec += (time_t)timeout_s;
    r.m.deadline.tv_nsec += (long)((timeout_s - (double)(time_t)timeout_s) * 1e9);
    if (r.m.deadline.tv_nsec >= 1000000000L) {
        r.m.deadline.tv_sec++;
        r.m.deadline.tv_nsec -= 1000000000L;
    }
    monitor_kick_every(&r.m, 50);
    replayer_run(&r);
    monitor_kick_every(&r.m, 0);
    const struct monitor_stop *s = &r.m.stop;
    switch (s->reason) {
    case MON_DIVERGED:
        t->diverged = 1;
        t->div_index = r.next_event;
        snprintf(t->div_msg, sizeof t->div_msg, "%s", s->msg);
        t->div_source = "replay";
        snprintf(t->replay_note, sizeof t->replay_note,
                 "The replay diverged at event %" PRIu64 ": console output after it is not known.",
                 r.next_event);
        break;
    case MON_TIMEOUT:
        snprintf(t->replay_note, sizeof t->replay_note,
                 "The replay was stopped after %g s at event %" PRIu64
                 " (--replay-timeout): console output after it is not shown.",
                 timeout_s, r.next_event);
        break;
    case MON_LOG_END:
        snprintf(t->replay_note, sizeof t->replay_note,
                 "Console output comes from a replay of the recording, which stopped where the "
                 "log stops.");
        break;
    case MON_PANIC:
    case MON_FAULT:
        snprintf(t->end_msg, sizeof t->end_msg, "%s", s->msg);
        /* fall through */
    default:
        snprintf(t->replay_note, sizeof t->replay_note,
                 "Console output comes from a replay of the recording (identical to it).");
        break;
    }
    if (capture_failed)
        snprintf(t->replay_note, sizeof t->replay_note,
                 "Out of memory while keeping the console output: some is missing.");
    if (r.m.out_fd >= 0)
        close(r.m.out_fd);
    r.m.out_fd = -1;
    replayer_close(&r);
    capture_t = NULL;
}

static void timeline_free(struct timeline *t)
{
    for (unsigned i = 0; i < TL_LANES; i++) {
        struct tl_lane *l = &t->lanes[i];
        for (size_t k = 0; k < l->n; k++)
            free(l->line[k]);
        free(l->line);
        free(l->idx);
        free(l->bk_count);
        free(l->bk_first);
    }
    for (size_t k = 0; k < t->ntexts; k++)
        free(t->texts[k].text);
    free(t->texts);
}

/* Write the page to (out) through a temporary file renamed into place.
 * Returns 0 or -1 (printed). */
static int write_page(const struct timeline *t, const char *out)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", out, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "pvrr timeline: cannot write %s: %s\n", out, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = timeline_write_html(t, f);
    int e = errno;
    if (fclose(f) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && rename(tmp, out) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc) {
        unlink(tmp);
        fprintf(stderr, "pvrr timeline: cannot write %s: %s\n", out, strerror(e));
    }
    return rc;
}

int cmd_timeline(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"no-replay", no_argument, NULL, 'n'},
        {"replay-timeout", required_argument, NULL, 'T'},
        {"divergence", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    int replay = 1, c, have_div = 0;
    double timeout_s = 60;
    uint64_t div = 0;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:nT:D:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 'n':
            replay = 0;
            break;
        case 'T':
            timeout_s = strtod(optarg, &end);
            if (*end || !(timeout_s > 0 && timeout_s < 1e6)) {
                fprintf(stderr,
                        "pvrr timeline: --replay-timeout %s: need a positive number of "
                        "seconds\n",
                        optarg);
                return PVRR_EXIT_USAGE;
            }
            break;
        case 'D':
            errno = 0;
            div = strtoull(optarg, &end, 10);
            if (*end || !*optarg || *optarg == '-' || errno) {
                fprintf(stderr, "pvrr timeline: --divergence %s: need an event index\n", optarg);
                return PVRR_EXIT_USAGE;
            }
            have_div = 1;
            break;
        case 'h':
            usage_timeline();
            return 0;
        default:
            fprintf(stderr, "Try `pvrr timeline --help`.\n");
            return PVRR_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr,
                "pvrr timeline: need exactly one FILE.pvlog\nTry `pvrr timeline --help`.\n");
        return PVRR_EXIT_USAGE;
    }
    const char *path = argv[optind];
    char def_out[4096];
    if (!out) {
        size_t n = strlen(path);
        if (n > 6 && strcmp(path + n - 6, ".pvlog") == 0)
            n -= 6;
        if (n + 6 > sizeof def_out) {
            fprintf(stderr, "pvrr timeline: %s: name too long; give -o\n", path);
            return PVRR_EXIT_USAGE;
        }
        snprintf(def_out, sizeof def_out, "%.*s.html", (int)n, path);
        out = def_out;
    }

    struct pvlog_reader *rd;
    int rc = cli_open_log("timeline", path, &rd);
    if (rc)
        return rc;
    struct timeline t;
    memset(&t, 0, sizeof t);
    t.log_path = path;
    t.meta = pvlog_reader_meta(rd);
    count_events(&t, rd);
    struct pvlog_error err;
    struct pvrr_sym *sym = NULL;
    char serr[256];
    if (pvrr_sym_open(&sym, t.meta->elf, t.meta->elf_len, serr, sizeof serr) < 0)
        sym = NULL;
    int oom = plan_lanes(&t) < 0;
    if (!oom && pvlog_reader_seek(rd, 0, &err) != PVLOG_OK && t.nevents + t.have_end > 0) {
        fprintf(stderr, "pvrr timeline: %s: %s\n", path, err.msg);
        rc = replayer_status_of_log_error(err.status);
    } else if (!oom) {
        oom = read_events(&t, rd, sym) < 0;
    }
    if (oom) {
        fprintf(stderr, "pvrr timeline: %s: out of memory\n", path);
        rc = PVRR_EXIT_ERROR;
    }
    if (!rc) {
        if (replay)
            replay_for_text(&t, timeout_s);
        else
            snprintf(t.replay_note, sizeof t.replay_note,
                     "Not replayed (--no-replay): no console output text, no divergence check.");
        if (have_div && !t.diverged) {
            t.diverged = 1;
            t.div_index = div;
            snprintf(t.div_msg, sizeof t.div_msg, "divergence point given on the command line");
            t.div_source = "command line";
        }
        if (write_page(&t, out) < 0)
            rc = PVRR_EXIT_ERROR;
        else if (t.log_status != PVLOG_END) {
            fprintf(stderr, "pvrr timeline: %s: %s (the page shows the events before it)\n", path,
                    t.log_msg);
            rc = replayer_status_of_log_error(t.log_status);
        }
        if (t.diverged && t.div_source && strcmp(t.div_source, "replay") == 0)
            fprintf(stderr,
                    "pvrr timeline: the replay diverged at event %" PRIu64
                    " (marked in the page)\n",
                    t.div_index);
    }
    if (sym)
        pvrr_sym_close(sym);
    timeline_free(&t);
    pvlog_reader_close(rd);
    return rc;
}
