/*
 * symbolize_lines.c - the DWARF line tables of a symbolizer's image.
 *
 * A child process reads the .debug_* sections with libdwarf, through our own
 * Dwarf_Obj_Access_Interface over the in-memory image (no file is needed),
 * and streams every CU's line rows and source paths back over a pipe; this
 * process parses the stream into one table sorted by address. Malformed DWARF
 * can crash or stall only the child (killed after a time limit).
 */
#include "formats/internal.h"
#include "formats/symbolize_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dwarf.h>
#include <libdwarf.h>

#include <dwarf.h>
#include <libdwarf.h>

/* ---- source files -------------------------------------------------------- */

static uint64_t hash_str(const char *p)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

    for (; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    return h;
}

static int fhash_grow(struct pvrr_sym *s)
{
    size_t ncap = s->fhash_cap ? s->fhash_cap * 2 : 64;
    uint32_t *nh = calloc(ncap, sizeof(*nh));

    if (nh == NULL)
        return -1;
    for (size_t i = 0; i < s->nfiles; i++) {
        size_t j = (size_t)hash_str(s->files[i]) & (ncap - 1);

        while (nh[j] != 0)
            j = (j + 1) & (ncap - 1);
        nh[j] = (uint32_t)(i + 1);
    }
    free(s->fhash);
    s->fhash = nh;
    s->fhash_cap = ncap;
    return 0;
}

/* Append a copy of the (n) bytes at (p) to s->files. */
static int append_file(struct pvrr_sym *s, const unsigned char *p, size_t n)
{
    if (s->nfiles == s->capfiles) {
        size_t ncap = s->capfiles ? s->capfiles * 2 : 64;
        char **nf = realloc(s->files, ncap * sizeof(*nf));

        if (nf == NULL)
            return -1;
        s->files = nf;
        s->capfiles = ncap;
    }
    s->files[s->nfiles] = strndup((const char *)p, n);
    if (s->files[s->nfiles] == NULL)
        return -1;
    s->nfiles++;
    return 0;
}

/* Intern (path), keeping at most FILE_MAX - 1 bytes of its tail. */
static int intern_file(struct pvrr_sym *s, const char *path, uint32_t *idx)
{
    char buf[FILE_MAX];
    size_t n = strlen(path), j;

    if (n >= FILE_MAX)
        snprintf(buf, sizeof(buf), "...%s", path + n - (FILE_MAX - 4));
    else
        memcpy(buf, path, n + 1);
    if ((s->nfiles + 1) * 2 > s->fhash_cap && fhash_grow(s) != 0)
        return -1;
    j = (size_t)hash_str(buf) & (s->fhash_cap - 1);
    while (s->fhash[j] != 0) {
        if (strcmp(s->files[s->fhash[j] - 1], buf) == 0) {
            *idx = s->fhash[j] - 1;
            return 0;
        }
        j = (j + 1) & (s->fhash_cap - 1);
    }
    if (s->nfiles >= UINT32_MAX - 1 || append_file(s, (const unsigned char *)buf, strlen(buf)) != 0)
        return -1;
    s->fhash[j] = (uint32_t)s->nfiles;
    *idx = (uint32_t)(s->nfiles - 1);
    return 0;
}

/* ---- libdwarf object access over the in-memory ELF ------------------------ */

static int dw_section_info(void *obj, Dwarf_Half index, Dwarf_Obj_Access_Section *ret, int *error)
{
    const struct pvrr_sym *s = obj;
    const struct dw_sec *d;

    *error = 0;
    if (index >= s->nsecs)
        return DW_DLV_NO_ENTRY;
    d = &s->secs[index];
    ret->addr = d->addr;
    ret->type = d->size ? SHT_PROGBITS : SHT_NULL;
    ret->size = d->size;
    ret->name = d->name;
    ret->link = d->link;
    ret->info = d->info;
    ret->entrysize = d->entsize;
    return DW_DLV_OK;
}

static Dwarf_Endianness dw_byte_order(void *obj)
{
    return DW_OBJECT_LSB;
}

/* 8 for ELF64, as libdwarf's own ELF reader reports; each CU header still
 * says whether it uses 32-bit or 64-bit DWARF offsets. */
static Dwarf_Small dw_length_size(void *obj)
{
    return 8;
}

static Dwarf_Small dw_pointer_size(void *obj)
{
    return 8;
}

static Dwarf_Unsigned dw_section_count(void *obj)
{
    const struct pvrr_sym *s = obj;

    return s->nsecs;
}

static int dw_load_section(void *obj, Dwarf_Half index, Dwarf_Small **data, int *error)
{
    const struct pvrr_sym *s = obj;

    *error = 0;
    if (index == 0 || index >= s->nsecs || s->secs[index].size == 0)
        return DW_DLV_NO_ENTRY;
    *data = s->secs[index].data;
    return DW_DLV_OK;
}

static const Dwarf_Obj_Access_Methods dw_methods = {
    .get_section_info = dw_section_info,
    .get_byte_order = dw_byte_order,
    .get_length_size = dw_length_size,
    .get_pointer_size = dw_pointer_size,
    .get_section_count = dw_section_count,
    .load_section = dw_load_section,
    .relocate_a_section = NULL, /* executables need no relocation */
};

/*
 * libdwarf calls this only for an error it cannot return through a
 * Dwarf_Error pointer; we always pass one, so this is a guard against the
 * library's default, which is to abort().
 */
static void dw_errhand(Dwarf_Error e, Dwarf_Ptr arg)
{
}

/*
 * The sections needed to read CU headers, CU DIEs and line tables, DWARF 2
 * to 5 (.debug_str_offsets and .debug_addr serve DW_FORM_strx and addrx).
 * The rest stay hidden: fewer parsers of hostile bytes run, and libdwarf
 * 20210528 double-frees on some corrupt .debug_rnglists sections, which it
 * loads with .debug_info when present.
 */
static int dw_wanted(const char *name)
{
    static const char *const wanted[] = {
        ".debug_info",     ".debug_abbrev",      ".debug_line", ".debug_str",
        ".debug_line_str", ".debug_str_offsets", ".debug_addr",
    };

    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
        if (strcmp(name, wanted[i]) == 0)
            return 1;
    }
    return 0;
}

/* Build secs[]: only the dw_wanted() sections are visible. */
static int prepare_sections(struct pvrr_sym *s)
{
    size_t shnum, shstrndx;

    if (elf_getshdrnum(s->elf, &shnum) != 0 || shnum == 0)
        return -1;
    if (elf_getshdrstrndx(s->elf, &shstrndx) != 0)
        return -1;
    if (shnum > UINT16_MAX) /* libdwarf indexes sections with a Dwarf_Half */
        shnum = UINT16_MAX;
    s->secs = calloc(shnum, sizeof(*s->secs));
    if (s->secs == NULL)
        return -1;
    s->nsecs = shnum;
    for (size_t i = 0; i < shnum; i++) {
        struct dw_sec *d = &s->secs[i];
        Elf_Scn *scn = elf_getscn(s->elf, i);
        GElf_Shdr sh;
        const char *name;
        Elf_Data *data;

        d->name = "";
        if (i == 0 || scn == NULL || gelf_getshdr(scn, &sh) == NULL || sh.sh_type != SHT_PROGBITS)
            continue;
        name = elf_strptr(s->elf, shstrndx, sh.sh_name);
        if (name == NULL || !dw_wanted(name))
            continue;
        /* SHF_COMPRESSED (e.g. gcc -gz): inflate in libelf-owned memory. */
        if ((sh.sh_flags & SHF_COMPRESSED) &&
            (elf_compress(scn, 0, 0) < 0 || gelf_getshdr(scn, &sh) == NULL))
            continue;
        data = elf_getdata(scn, NULL);
        if (data == NULL || data->d_buf == NULL || data->d_size == 0)
            continue;
        d->name = name;
        d->addr = sh.sh_addr;
        d->size = data->d_size;
        d->link = sh.sh_link;
        d->info = sh.sh_info;
        d->entsize = sh.sh_entsize;
        d->data = data->d_buf;
    }
    return 0;
}

static void dw_free_error(Dwarf_Debug dbg, Dwarf_Error *e)
{
    if (*e != NULL)
        dwarf_dealloc_error(dbg, *e);
    *e = NULL;
}

static int add_row(struct pvrr_sym *s, const struct line_row *r)
{
    if (s->nrows >= UINT32_MAX)
        return -1;
    if (s->nrows == s->caprows) {
        size_t ncap = s->caprows ? s->caprows * 2 : 1024;
        struct line_row *nr = realloc(s->rows, ncap * sizeof(*nr));

        if (nr == NULL)
            return -1;
        s->rows = nr;
        s->caprows = ncap;
    }
    s->rows[s->nrows] = *r;
    s->rows[s->nrows].order = (uint32_t)s->nrows;
    s->nrows++;
    return 0;
}

/*
 * ---- the DWARF reader process ----------------------------------------------
 *
 * libdwarf 20210528 crashes on some malformed DWARF (fuzzing found a
 * double free and wild pointers behind dwarf_linesrc), and its errors cannot
 * all be caught by checking return values. So the line tables are read in a
 * forked child, which streams them to the parent through a pipe as records:
 *
 *   'F' u16 len, bytes           a source path; the next file index
 *   'R' u64 addr, u32 line, u32 file, u8 flags (ROW_END, ROW_STMT)
 *   'W' u16 len, bytes           a warning (the parent keeps the first)
 *   'C'                          commit: everything before is complete
 *
 * The child commits after each CU. The parent validates every record and
 * keeps what was committed, however the child ends: a crash costs the line
 * rows of the CU being read and those after it, never the debugger.
 */

#define ROW_END 1u
#define ROW_STMT 2u

/* How long the child may take; real guests need well under a second. */
#define DWARF_TIMEOUT_MS 30000
/* Largest record stream accepted, about 50 million line rows. */
#define STREAM_MAX (1ull << 30)

struct out {
    int fd;
    int failed;
    size_t n;
    unsigned char buf[65536];
};

static void out_flush(struct out *o)
{
    size_t done = 0;

    while (done < o->n && !o->failed) {
        ssize_t w = write(o->fd, o->buf + done, o->n - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            o->failed = 1;
        else
            done += (size_t)w;
    }
    o->n = 0;
}

static void out_bytes(struct out *o, const void *p, size_t n)
{
    const unsigned char *b = p;

    while (n > 0) {
        size_t k = sizeof(o->buf) - o->n < n ? sizeof(o->buf) - o->n : n;

        memcpy(o->buf + o->n, b, k);
        o->n += k;
        b += k;
        n -= k;
        if (o->n == sizeof(o->buf))
            out_flush(o);
    }
}

/* A 'F' or 'W' record; (text) is cut to FILE_MAX - 1 bytes. */
static void out_text(struct out *o, char tag, const char *text)
{
    size_t n = strlen(text);
    uint16_t len = (uint16_t)(n < FILE_MAX - 1 ? n : FILE_MAX - 1);

    out_bytes(o, &tag, 1);
    out_bytes(o, &len, sizeof(len));
    out_bytes(o, text, len);
}

static void out_warning(struct out *o, int *warned, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void out_warning(struct out *o, int *warned, const char *fmt, ...)
{
    char msg[FILE_MAX];
    va_list ap;

    if (*warned)
        return;
    *warned = 1;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    out_text(o, 'W', msg);
}

/* Send the files interned since the last commit and the rows read, then commit. */
static void out_commit(struct out *o, struct pvrr_sym *s, size_t *files_sent)
{
    for (; *files_sent < s->nfiles; (*files_sent)++)
        out_text(o, 'F', s->files[*files_sent]);
    for (size_t i = 0; i < s->nrows; i++) {
        const struct line_row *r = &s->rows[i];
        unsigned char rec[18];
        uint8_t flags = (uint8_t)((r->end_seq ? ROW_END : 0) | (r->is_stmt ? ROW_STMT : 0));

        rec[0] = 'R';
        memcpy(rec + 1, &r->addr, 8);
        memcpy(rec + 9, &r->line, 4);
        memcpy(rec + 13, &r->file, 4);
        rec[17] = flags;
        out_bytes(o, rec, sizeof(rec));
    }
    s->nrows = 0;
    out_bytes(o, "C", 1);
    out_flush(o);
}

/* Read one CU's line table into s->rows. Returns -1 only when out of memory. */
static int read_cu_lines(struct pvrr_sym *s, Dwarf_Debug dbg, Dwarf_Die cu_die, struct out *o,
                         int *warned)
{
    Dwarf_Error de = NULL;
    Dwarf_Line_Context ctx = NULL;
    Dwarf_Line *lines = NULL;
    Dwarf_Signed count = 0;
    Dwarf_Unsigned version = 0, last_fno = 0;
    Dwarf_Small tables = 0;
    uint32_t last_idx = 0;
    int have_last = 0, ret = 0, res;

    res = dwarf_srclines_b(cu_die, &version, &tables, &ctx, &de);
    if (res != DW_DLV_OK) { /* NO_ENTRY: a CU without line table */
        if (res == DW_DLV_ERROR)
            out_warning(o, warned, "DWARF line table unreadable: %s", dwarf_errmsg(de));
        dw_free_error(dbg, &de);
        return 0;
    }
    if (tables != 1 || dwarf_srclines_from_linecontext(ctx, &lines, &count, &de) != DW_DLV_OK) {
        dw_free_error(dbg, &de);
        dwarf_srclines_dealloc_b(ctx);
        return 0;
    }
    for (Dwarf_Signed i = 0; i < count; i++) {
        Dwarf_Addr addr;
        Dwarf_Unsigned lineno = 0, fno = 0;
        Dwarf_Bool end = 0, stmt = 0;
        struct line_row r = {0};

        if (dwarf_lineaddr(lines[i], &addr, &de) != DW_DLV_OK ||
            dwarf_lineendsequence(lines[i], &end, &de) != DW_DLV_OK) {
            dw_free_error(dbg, &de);
            continue;
        }
        r.addr = addr;
        r.end_seq = end != 0;
        if (!end) {
            char *src = NULL;

            if (dwarf_lineno(lines[i], &lineno, &de) != DW_DLV_OK ||
                dwarf_linebeginstatement(lines[i], &stmt, &de) != DW_DLV_OK ||
                dwarf_line_srcfileno(lines[i], &fno, &de) != DW_DLV_OK) {
                dw_free_error(dbg, &de);
                continue;
            }
            if (!have_last || fno != last_fno) {
                res = dwarf_linesrc(lines[i], &src, &de);
                if (res != DW_DLV_OK || src == NULL) {
                    dw_free_error(dbg, &de);
                    continue;
                }
                res = intern_file(s, src, &last_idx);
                dwarf_dealloc(dbg, src, DW_DLA_STRING);
                if (res != 0) {
                    ret = -1;
                    break;
                }
                last_fno = fno;
                have_last = 1;
            }
            r.line = lineno > UINT32_MAX ? 0 : (uint32_t)lineno;
            r.file = last_idx;
            r.is_stmt = stmt != 0;
        }
        if (add_row(s, &r) != 0) {
            ret = -1;
            break;
        }
    }
    dwarf_srclines_dealloc_b(ctx);
    return ret;
}

/* Read every CU's line table and stream it to (o). Returns the exit status. */
static int read_dwarf(struct pvrr_sym *s, struct out *o)
{
    Dwarf_Obj_Access_Interface iface = {.object = s, .methods = &dw_methods};
    Dwarf_Debug dbg = NULL;
    Dwarf_Error de = NULL;
    size_t files_sent = 0;
    int warned = 0, res, status = 0;
    unsigned ncu;

    if (prepare_sections(s) != 0) {
        out_warning(o, &warned, "no DWARF line tables: the section headers are unreadable");
        return 0;
    }
    res = dwarf_object_init_b(&iface, dw_errhand, NULL, DW_GROUPNUMBER_ANY, &dbg, &de);
    if (res != DW_DLV_OK) {
        if (res == DW_DLV_ERROR)
            out_warning(o, &warned, "DWARF unreadable: %s", dwarf_errmsg(de));
        else
            out_warning(o, &warned, "no DWARF line tables in the image");
        dw_free_error(NULL, &de);
        return 0;
    }
    for (ncu = 0; ncu < MAX_CUS; ncu++) {
        Dwarf_Unsigned hdr_len = 0, typeoff = 0, next = 0;
        Dwarf_Half version = 0, addr_size = 0, len_size = 0, ext_size = 0, cu_type = 0;
        Dwarf_Off abbrev = 0;
        Dwarf_Sig8 sig;
        Dwarf_Die cu_die = NULL;

        res = dwarf_next_cu_header_d(dbg, 1, &hdr_len, &version, &abbrev, &addr_size, &len_size,
                                     &ext_size, &sig, &typeoff, &next, &cu_type, &de);
        if (res != DW_DLV_OK) {
            if (res == DW_DLV_ERROR)
                out_warning(o, &warned, "DWARF .debug_info unreadable after %u CUs: %s", ncu,
                            dwarf_errmsg(de));
            dw_free_error(dbg, &de);
            break;
        }
        res = dwarf_siblingof_b(dbg, NULL, 1, &cu_die, &de);
        if (res != DW_DLV_OK) {
            dw_free_error(dbg, &de);
            continue;
        }
        res = read_cu_lines(s, dbg, cu_die, o, &warned);
        dwarf_dealloc_die(cu_die);
        if (res != 0) {
            status = 2; /* out of memory */
            break;
        }
        out_commit(o, s, &files_sent);
        if (o->failed)
            break;
    }
    if (s->nfiles == 0)
        out_warning(o, &warned, "no DWARF line tables in the image");
    dwarf_object_finish(dbg, &de);
    dw_free_error(NULL, &de);
    return status;
}

/* The child: read, stream, exit. Never returns. */
static _Noreturn void dw_reader_main(struct pvrr_sym *s, int fd)
{
    static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGPIPE};
    struct out *o = malloc(sizeof(*o));
    sigset_t set;
    int devnull, status;

    /* Library code never prints, not even glibc's "double free" message. */
    devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull >= 0)
        dup2(devnull, STDERR_FILENO);
    /* Die quietly on a fault, whatever handlers the application installed. */
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++) {
        signal(crash_signals[i], SIG_DFL);
        sigaddset(&set, crash_signals[i]);
    }
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    if (o == NULL)
        _exit(2);
    o->fd = fd;
    o->failed = 0;
    o->n = 0;
    status = read_dwarf(s, o);
    out_flush(o);
    _exit(o->failed ? 3 : status);
}

/* Read the child's whole stream into (*buf, *len). Returns 0 at end of file,
 * 1 on timeout, 2 when the stream exceeds STREAM_MAX, -1 on an error. */
static int read_stream(int fd, unsigned char **buf, size_t *len)
{
    struct timespec start, now;
    size_t cap = 0;

    *buf = NULL;
    *len = 0;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        long elapsed;
        ssize_t r;

        clock_gettime(CLOCK_MONOTONIC, &now);
        elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed >= DWARF_TIMEOUT_MS)
            return 1;
        r = poll(&pfd, 1, (int)(DWARF_TIMEOUT_MS - elapsed));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return 1;
        if (*len == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            unsigned char *nb;

            if (cap >= STREAM_MAX)
                return 2;
            nb = realloc(*buf, ncap);
            if (nb == NULL)
                return -1;
            *buf = nb;
            cap = ncap;
        }
        r = read(fd, *buf + *len, cap - *len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        *len += (size_t)r;
    }
}

static void set_warning(struct pvrr_sym *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_warning(struct pvrr_sym *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->warning, sizeof(s->warning), fmt, ap);
    va_end(ap);
}

/*
 * Decode the child's records into s->files and s->rows, validating each,
 * and keep what the last commit covers. Returns -1 only when out of memory.
 */
static int parse_stream(struct pvrr_sym *s, const unsigned char *b, size_t n)
{
    size_t p = 0, files_ok = 0, rows_ok = 0;
    int ret = 0;

    while (p < n) {
        unsigned char tag = b[p++];
        uint16_t len;
        struct line_row r = {0};

        if (tag == 'C') {
            files_ok = s->nfiles;
            rows_ok = s->nrows;
        } else if (tag == 'F' || tag == 'W') {
            if (n - p < sizeof(len))
                break;
            memcpy(&len, b + p, sizeof(len));
            p += sizeof(len);
            if (len >= FILE_MAX || n - p < len)
                break;
            if (tag == 'W' && s->warning[0] == '\0')
                snprintf(s->warning, sizeof(s->warning), "%.*s", (int)len, (const char *)b + p);
            if (tag == 'F' && (s->nfiles >= UINT32_MAX || append_file(s, b + p, len) != 0)) {
                ret = -1;
                break;
            }
            p += len;
        } else if (tag == 'R') {
            if (n - p < 17)
                break;
            memcpy(&r.addr, b + p, 8);
            memcpy(&r.line, b + p + 8, 4);
            memcpy(&r.file, b + p + 12, 4);
            r.end_seq = (b[p + 16] & ROW_END) != 0;
            r.is_stmt = (b[p + 16] & ROW_STMT) != 0;
            p += 17;
            if (!r.end_seq && r.file >= s->nfiles)
                break; /* a corrupt stream: keep the last commit */
            if (r.end_seq)
                r.file = 0;
            if (add_row(s, &r) != 0) {
                ret = -1;
                break;
            }
        } else {
            break;
        }
    }
    while (s->nfiles > files_ok)
        free(s->files[--s->nfiles]);
    s->nrows = rows_ok;
    return ret;
}

/* Drop the rows, still in reading order, that cover no address: those at the
 * address where their own sequence ends (a sequence of length zero, as some
 * compilers emit for code they dropped). Sorted, such a row would follow the
 * end of a sequence ending at the same address and seem to cover everything
 * above it. */
static void drop_empty_rows(struct pvrr_sym *s)
{
    size_t out = 0, start = 0;
    for (size_t i = 0; i < s->nrows; i++) {
        if (!s->rows[i].end_seq)
            continue;
        size_t kept = 0;
        for (size_t j = start; j < i; j++)
            if (s->rows[j].addr < s->rows[i].addr) {
                s->rows[out++] = s->rows[j];
                kept++;
            }
        if (kept > 0) /* else the whole sequence was empty: its end goes too */
            s->rows[out++] = s->rows[i];
        start = i + 1;
    }
    for (size_t j = start; j < s->nrows; j++) /* an unterminated last sequence stays */
        s->rows[out++] = s->rows[j];
    s->nrows = out;
}

static int cmp_rows(const void *pa, const void *pb)
{
    const struct line_row *a = pa, *b = pb;

    if (a->addr != b->addr)
        return a->addr < b->addr ? -1 : 1;
    /* End-of-sequence rows first: a sequence starting where another ends wins. */
    if (a->end_seq != b->end_seq)
        return a->end_seq ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/*
 * Read the DWARF line tables through a child process (see above). Problems
 * with the DWARF or the child become s->warning; returns -1 only when
 * memory runs out in this process.
 */
int sym_load_lines(struct pvrr_sym *s)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    int fds[2], rs, read_errno, wstatus = 0, waited;
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) != 0) {
        set_warning(s, "DWARF line tables not read: pipe: %s", strerror(errno));
        return 0;
    }
    pid = fork();
    if (pid < 0) {
        set_warning(s, "DWARF line tables not read: fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    if (pid == 0) {
        close(fds[0]);
        dw_reader_main(s, fds[1]);
    }
    close(fds[1]);
    rs = read_stream(fds[0], &buf, &len);
    read_errno = errno;
    close(fds[0]);
    if (rs != 0)
        kill(pid, SIGKILL);
    do
        waited = waitpid(pid, &wstatus, 0);
    while (waited < 0 && errno == EINTR);
    if (parse_stream(s, buf, len) != 0) {
        free(buf);
        return -1;
    }
    free(buf);
    if (rs == 1)
        set_warning(s, "reading DWARF took over %d s and was stopped; %zu line rows kept",
                    DWARF_TIMEOUT_MS / 1000, s->nrows);
    else if (rs == 2)
        set_warning(s, "DWARF line tables over %llu bytes; %zu line rows kept", STREAM_MAX,
                    s->nrows);
    else if (rs < 0)
        set_warning(s, "DWARF line tables not read: %s", strerror(read_errno));
    else if (waited == pid && WIFSIGNALED(wstatus))
        set_warning(s,
                    "the DWARF reader died with signal %d on malformed DWARF; %zu line rows kept",
                    WTERMSIG(wstatus), s->nrows);
    else if (waited == pid && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0)
        set_warning(s, "the DWARF reader failed (exit status %d); %zu line rows kept",
                    WEXITSTATUS(wstatus), s->nrows);
    drop_empty_rows(s);
    if (s->nrows > 0) /* qsort's pointer must not be NULL, even for 0 rows */
        qsort(s->rows, s->nrows, sizeof(*s->rows), cmp_rows);
    return 0;
}

const struct line_row *sym_find_row(const struct pvrr_sym *s, uint64_t addr)
{
    size_t lo = 0, hi = s->nrows, last;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s->rows[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || s->rows[lo - 1].end_seq)
        return NULL;
    /* The last is_stmt row at that address, else the last row. */
    last = lo - 1;
    for (size_t i = lo; i-- > 0 && s->rows[i].addr == s->rows[last].addr && !s->rows[i].end_seq;) {
        if (s->rows[i].is_stmt)
            return &s->rows[i];
    }
    return &s->rows[last];
}
