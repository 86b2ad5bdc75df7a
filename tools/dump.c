/*
 * dump.c - `pvrr dump` and `pvrr info`: look inside a recording.
 */
#include "tools/cli.h"
#include "tools/dump_linux.h"

#include "formats/symbolize.h"
#include "pvlog/pvlog.h"
#include "replayer/replayer.h"

#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_open_log(const char *cmd, const char *path, struct pvlog_reader **rd)
{
    struct pvlog_error err;
    enum pvlog_status st = pvlog_reader_open(rd, path, &err);
    if (st != PVLOG_OK) {
        fprintf(stderr, "pvrr %s: %s: %s\n", cmd, path, err.msg);
        return replayer_status_of_log_error(st);
    }
    return 0;
}

/* Describe the recorded argument struct (the bytes written back, if any). */
static void describe_args(const struct pvlog_event *ev, char *buf, size_t n)
{
    buf[0] = '\0';
    if (ev->nwrites == 0 || ev->writes[0].gpa != ev->arg_gpa || ev->nr >= PVRR_HC_MAX ||
        ev->writes[0].len != hc_table[ev->nr].size)
        return;
    union {
        struct pvrr_hc_console_write cw;
        struct pvrr_hc_console_read cr;
        struct pvrr_hc_clock clk;
        struct pvrr_hc_random rnd;
        struct pvrr_hc_blk_info bi;
        struct pvrr_hc_blk_io bio;
        struct pvrr_hc_poll poll;
        struct pvrr_hc_fs_open fo;
        struct pvrr_hc_fs_io fio;
        struct pvrr_hc_fs_readdir frd;
        struct pvrr_hc_fs_pathop fpo;
        uint8_t bytes[64];
    } a;
    memcpy(a.bytes, ev->writes[0].data, ev->writes[0].len);
    switch (ev->nr) {
    case PVRR_HC_CONSOLE_WRITE:
        snprintf(buf, n, "data=0x%" PRIx64 " len=%" PRIu64 " ret=%d", a.cw.data, a.cw.len,
                 a.cw.ret);
        break;
    case PVRR_HC_CONSOLE_READ:
        snprintf(buf, n, "data=0x%" PRIx64 " len=%" PRIu64 " nread=%" PRIu64 " eof=%d", a.cr.data,
                 a.cr.len, a.cr.nread, a.cr.eof);
        break;
    case PVRR_HC_CLOCK:
        snprintf(buf, n, "monotonic_ns=%" PRIu64 " wall_ns=%" PRIu64, a.clk.monotonic_ns,
                 a.clk.wall_ns);
        break;
    case PVRR_HC_RANDOM:
        snprintf(buf, n, "data=0x%" PRIx64 " len=%" PRIu64 " ret=%d", a.rnd.data, a.rnd.len,
                 a.rnd.ret);
        break;
    case PVRR_HC_BLK_INFO:
        snprintf(buf, n, "sectors=%" PRIu64 " present=%d writable=%d", a.bi.sectors, a.bi.present,
                 a.bi.writable);
        break;
    case PVRR_HC_BLK_READ:
    case PVRR_HC_BLK_WRITE:
        snprintf(buf, n, "sector=%" PRIu64 " data=0x%" PRIx64 " len=%" PRIu64 " ret=%d",
                 a.bio.sector, a.bio.data, a.bio.len, a.bio.ret);
        break;
    case PVRR_HC_FS_OPEN:
        if (ev->nwrites >= 2)
            snprintf(buf, n, "path=%.*s flags=%#x handle=%d ret=%d",
                     ev->writes[1].len > 200 ? 200 : (int)ev->writes[1].len,
                     (const char *)ev->writes[1].data, a.fo.flags, a.fo.handle, a.fo.ret);
        break;
    case PVRR_HC_FS_READ:
    case PVRR_HC_FS_WRITE:
        snprintf(buf, n, "handle=%d offset=%" PRIu64 " len=%" PRIu64 " done=%" PRIu64 " ret=%d",
                 a.fio.handle, a.fio.offset, a.fio.len, a.fio.done, a.fio.ret);
        break;
    case PVRR_HC_FS_READDIR:
        snprintf(buf, n, "handle=%d cookie=%" PRIu64 " done=%" PRIu64 " ret=%d", a.frd.handle,
                 a.frd.cookie, a.frd.done, a.frd.ret);
        break;
    case PVRR_HC_FS_PATHOP:
        snprintf(buf, n, "op=%u ret=%d", a.fpo.op, a.fpo.ret);
        break;
    case PVRR_HC_POLL:
        snprintf(buf, n, "deadline_ns=%" PRIu64 " events=%#x ready=%#x monotonic_ns=%" PRIu64,
                 a.poll.deadline_ns, a.poll.events, a.poll.ready, a.poll.monotonic_ns);
        break;
    default:
        break;
    }
}

void dump_event_line(struct pvrr_sym *sym, const struct pvlog_event *ev, char *buf, size_t n)
{
    if (ev->kind == PVLOG_EV_END) {
        snprintf(buf, n, "%8" PRIu64 "  END %s status=%d", ev->index,
                 replayer_end_reason_name(ev->end_reason), ev->status);
        return;
    }
    char loc[512] = "", args[256];
    if (sym)
        pvrr_sym_format(sym, ev->rip, loc, sizeof loc);
    describe_args(ev, args, sizeof args);
    uint64_t out = 0;
    for (uint32_t i = 0; i < ev->nwrites; i++)
        out += ev->writes[i].len;
    snprintf(buf, n,
             "%8" PRIu64 "  %-13s rip=0x%-8" PRIx64 " %-40s %s  [%u writes, %" PRIu64 " bytes]",
             ev->index, hc_name(ev->nr), ev->rip, loc, args, ev->nwrites, out);
}

static void usage_dump(void)
{
    printf("Usage: pvrr dump [--json] [--no-replay] FILE.pvlog\n"
           "\n"
           "List every event of a recording: index, hypercall, arguments, result sizes and the\n"
           "guest RIP with function and file:line (from the embedded ELF's DWARF). For a Linux\n"
           "program, each event also names the system call it served, with its arguments and\n"
           "the program's call site (found by replaying the recording).\n"
           "  -j, --json       one JSON document: {\"events\": [...], \"end\": {...}}\n"
           "      --no-replay  do not replay a Linux recording (no system call names)\n");
}

int cmd_dump(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"no-replay", no_argument, NULL, 'n'},
                                             {NULL, 0, NULL, 0}};
    int json = 0, replay = 1, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else if (c == 'n')
            replay = 0;
        else if (c == 'h') {
            usage_dump();
            return 0;
        } else
            return PVRR_EXIT_USAGE;
    }
    if (optind != argc - 1) {
        fprintf(stderr, "pvrr dump: need exactly one FILE.pvlog\n");
        return PVRR_EXIT_USAGE;
    }
    struct pvlog_reader *rd;
    int rc = cli_open_log("dump", argv[optind], &rd);
    if (rc)
        return rc;
    const struct pvlog_meta *meta = pvlog_reader_meta(rd);
    struct pvrr_sym *sym = NULL;
    char serr[256];
    if (pvrr_sym_open(&sym, meta->elf, meta->elf_len, serr, sizeof serr) < 0)
        sym = NULL;
    char why[256] = "";
    struct dump_syscalls *sc =
        replay ? dump_linux_syscalls(argv[optind], meta, why, sizeof why) : NULL;
    if (why[0])
        fprintf(stderr, "pvrr dump: %s\n", why);
    json_object *jevents = json ? json_object_new_array() : NULL;
    json_object *jend = NULL;
    struct pvlog_event ev;
    struct pvlog_error err;
    enum pvlog_status st;
    while ((st = pvlog_reader_next(rd, &ev, &err)) == PVLOG_OK) {
        const struct dump_syscall *call =
            ev.kind == PVLOG_EV_HYPERCALL ? dump_syscall_at(sc, ev.index) : NULL;
        char calltext[700] = "";
        if (call)
            dump_syscall_format(sc, call, calltext, sizeof calltext);
        if (!json) {
            char line[1024];
            dump_event_line(sym, &ev, line, sizeof line);
            printf("%s%s%s\n", line, call ? "  <- " : "", calltext);
            continue;
        }
        if (ev.kind == PVLOG_EV_END) {
            jend = json_object_new_object();
            json_object_object_add(jend, "index", json_object_new_uint64(ev.index));
            json_object_object_add(jend, "reason",
                                   json_object_new_string(replayer_end_reason_name(ev.end_reason)));
            json_object_object_add(jend, "status", json_object_new_int(ev.status));
            continue;
        }
        char loc[512] = "", args[256];
        if (sym)
            pvrr_sym_format(sym, ev.rip, loc, sizeof loc);
        describe_args(&ev, args, sizeof args);
        uint64_t out = 0;
        for (uint32_t i = 0; i < ev.nwrites; i++)
            out += ev.writes[i].len;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "index", json_object_new_uint64(ev.index));
        json_object_object_add(o, "hypercall", json_object_new_string(hc_name(ev.nr)));
        json_object_object_add(o, "nr", json_object_new_int(ev.nr));
        json_object_object_add(o, "rip", json_object_new_uint64(ev.rip));
        json_object_object_add(o, "location", json_object_new_string(loc));
        json_object_object_add(o, "arg_gpa", json_object_new_uint64(ev.arg_gpa));
        json_object_object_add(o, "args", json_object_new_string(args));
        json_object_object_add(o, "writes", json_object_new_int((int)ev.nwrites));
        json_object_object_add(o, "result_bytes", json_object_new_uint64(out));
        if (call) {
            json_object *j = json_object_new_object();
            json_object_object_add(j, "name", json_object_new_string(dump_syscall_name(call->nr)));
            json_object_object_add(j, "nr", json_object_new_uint64(call->nr));
            json_object *ja = json_object_new_array();
            for (int k = 0; k < 6; k++)
                json_object_array_add(ja, json_object_new_uint64(call->args[k]));
            json_object_object_add(j, "args", ja);
            json_object_object_add(j, "rip", json_object_new_uint64(call->rip));
            json_object_object_add(j, "text", json_object_new_string(calltext));
            json_object_object_add(o, "syscall", j);
        }
        json_object_array_add(jevents, o);
    }
    rc = 0;
    if (st != PVLOG_END) {
        fprintf(stderr, "pvrr dump: %s: %s\n", argv[optind], err.msg);
        rc = replayer_status_of_log_error(st);
    }
    if (json) {
        json_object *root = json_object_new_object();
        json_object_object_add(root, "events", jevents);
        json_object_object_add(root, "end", jend ? jend : json_object_new_null());
        if (rc)
            json_object_object_add(root, "error", json_object_new_string(err.msg));
        printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
        json_object_put(root);
    }
    if (sym)
        pvrr_sym_close(sym);
    dump_linux_free(sc);
    pvlog_reader_close(rd);
    return rc;
}

/* Files a recording opened (PVRR_HC_FS_OPEN events record their paths). */
#define INFO_MAX_FILES 256
struct info_file {
    char path[256];
    uint64_t opens, read, written;
    int failed; /* the last open failed: ret */
};

struct info_files {
    struct info_file f[INFO_MAX_FILES];
    size_t n;
    int handle_file[256]; /* monitor handle -> index in f, -1 */
    uint64_t more;        /* files beyond INFO_MAX_FILES */
};

/* The recorded argument struct of (ev) into (out, size), or 0. */
static int recorded_args(const struct pvlog_event *ev, void *out, size_t size)
{
    if (ev->nwrites == 0 || ev->writes[0].gpa != ev->arg_gpa || ev->writes[0].len != size)
        return 0;
    memcpy(out, ev->writes[0].data, size);
    return 1;
}

static void info_file_event(struct info_files *fl, const struct pvlog_event *ev)
{
    if (ev->nr == PVRR_HC_FS_OPEN) {
        struct pvrr_hc_fs_open a;
        if (!recorded_args(ev, &a, sizeof a) || ev->nwrites < 2)
            return;
        char path[256];
        snprintf(path, sizeof path, "%.*s",
                 (int)(ev->writes[1].len < 255 ? ev->writes[1].len : 255),
                 (const char *)ev->writes[1].data);
        size_t i;
        for (i = 0; i < fl->n && strcmp(fl->f[i].path, path) != 0; i++)
            ;
        if (i == fl->n) {
            if (fl->n == INFO_MAX_FILES) {
                fl->more++;
                return;
            }
            memset(&fl->f[i], 0, sizeof fl->f[i]);
            snprintf(fl->f[i].path, sizeof fl->f[i].path, "%s", path);
            fl->n++;
        }
        fl->f[i].opens++;
        fl->f[i].failed = a.ret;
        if (a.ret == 0 && a.handle >= 0 && a.handle < 256)
            fl->handle_file[a.handle] = (int)i;
    } else if (ev->nr == PVRR_HC_FS_READ || ev->nr == PVRR_HC_FS_WRITE) {
        struct pvrr_hc_fs_io a;
        if (!recorded_args(ev, &a, sizeof a) || a.handle < 0 || a.handle >= 256 ||
            fl->handle_file[a.handle] < 0)
            return;
        struct info_file *f = &fl->f[fl->handle_file[a.handle]];
        if (ev->nr == PVRR_HC_FS_READ)
            f->read += a.done;
        else
            f->written += a.done;
    }
}

static void info_print_files(const struct info_files *fl)
{
    if (fl->n == 0)
        return;
    printf("files:         %zu (bytes read/written as recorded)\n", fl->n);
    for (size_t i = 0; i < fl->n; i++) {
        const struct info_file *f = &fl->f[i];
        if (f->failed < 0 && f->read == 0 && f->written == 0)
            printf("  %-40s not opened (errno %d)\n", f->path, -f->failed);
        else
            printf("  %-40s %" PRIu64 " read, %" PRIu64 " written\n", f->path, f->read, f->written);
    }
    if (fl->more)
        printf("  ... and %" PRIu64 " more\n", fl->more);
}

int cmd_info(int argc, char **argv)
{
    static struct info_files files;
    memset(&files, 0, sizeof files);
    memset(files.handle_file, 0xff, sizeof files.handle_file);
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("Usage: pvrr info FILE.pvlog\n\nSummarize a recording: header, guest, event "
               "count, recorded duration, sizes, compression ratio.\n");
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "pvrr info: need exactly one FILE.pvlog\n");
        return PVRR_EXIT_USAGE;
    }
    struct pvlog_reader *rd;
    int rc = cli_open_log("info", argv[1], &rd);
    if (rc)
        return rc;
    const struct pvlog_meta *meta = pvlog_reader_meta(rd);
    uint64_t counts[PVRR_HC_MAX] = {0};
    struct pvlog_event ev;
    struct pvlog_error err;
    enum pvlog_status st;
    uint64_t n = 0, end_wall = 0;
    int end_status = 0;
    uint8_t end_reason = 0;
    while ((st = pvlog_reader_next(rd, &ev, &err)) == PVLOG_OK) {
        if (ev.kind == PVLOG_EV_END) {
            end_wall = ev.end_wall_ns;
            end_status = ev.status;
            end_reason = ev.end_reason;
        } else {
            n++;
            if (ev.nr < PVRR_HC_MAX)
                counts[ev.nr]++;
            info_file_event(&files, &ev);
        }
    }
    struct pvlog_stats stats;
    memset(&stats, 0, sizeof stats);
    struct pvlog_error serr;
    pvlog_reader_stats(rd, &stats, &serr);
    printf("file:          %s\n", argv[1]);
    printf("guest:         %s (%" PRIu64 " bytes, ABI %u)\n", meta->elf_name ? meta->elf_name : "?",
           meta->elf_len, meta->abi_version);
    printf("command line:  %s\n", meta->cmdline ? meta->cmdline : "");
    printf("memory:        %" PRIu64 " MiB\n", meta->mem_size >> 20);
    printf("disk:          %" PRIu64 " sectors%s\n", meta->disk_sectors,
           meta->disk_sectors ? (meta->disk_writable ? " (read-write)" : " (read-only)") : "");
    printf("recorded by:   pvrr %s\n", meta->pvrr_version ? meta->pvrr_version : "?");
    printf("recorded on:   %s\n", pvlog_engine_name(meta->engine));
    printf("hypercalls:    %" PRIu64 "\n", n);
    for (int i = 0; i < PVRR_HC_MAX; i++)
        if (counts[i])
            printf("  %-14s %" PRIu64 "\n", hc_name((unsigned)i), counts[i]);
    if (st == PVLOG_END) {
        printf("ended by:      %s, status %d\n", replayer_end_reason_name(end_reason), end_status);
        if (end_wall >= meta->start_wall_ns)
            printf("duration:      %.3f s\n", (double)(end_wall - meta->start_wall_ns) / 1e9);
    } else {
        printf("ended by:      INCOMPLETE: %s\n", err.msg);
        rc = replayer_status_of_log_error(st);
    }
    info_print_files(&files);
    printf("frames:        %" PRIu64 "\n", stats.frames);
    printf("file size:     %" PRIu64 " bytes\n", stats.file_bytes);
    printf("raw events:    %" PRIu64 " bytes\n", stats.raw_bytes);
    if (stats.file_bytes > meta->elf_len && stats.raw_bytes)
        printf("compression:   %.1fx (events only: %.2f bytes/event)\n",
               (double)stats.raw_bytes / (double)(stats.file_bytes - meta->elf_len),
               n ? (double)(stats.file_bytes - meta->elf_len) / (double)n : 0.0);
    pvlog_reader_close(rd);
    return rc;
}
