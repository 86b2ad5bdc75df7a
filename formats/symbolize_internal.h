/*
 * symbolize_internal.h - what symbolize.c (symbols, the public interface) and
 * symbolize_lines.c (the DWARF line tables, read by a child process) share.
 */
#ifndef PVRR_FORMATS_SYMBOLIZE_INTERNAL_H
#define PVRR_FORMATS_SYMBOLIZE_INTERNAL_H

#include "formats/symbolize.h"

#include <libelf.h>
#include <stddef.h>
#include <stdint.h>

/* The file field of struct pvrr_symloc; longer paths keep their tail. Also
 * the longest warning passed from the DWARF reader process. */
#define FILE_MAX (sizeof(((struct pvrr_symloc *)0)->file))

/* Upper bound on CUs read, so a corrupt .debug_info cannot loop for long. */
#define MAX_CUS 1000000u

struct sym_entry {
    uint64_t addr;
    uint64_t end;     /* code symbols: first address past the symbol */
    const char *name; /* in the ELF string table */
    uint8_t rank;     /* preference among symbols at one address or of one name */
    uint8_t sized;    /* st_size was non-zero */
};

struct line_row {
    uint64_t addr;
    uint32_t line;
    uint32_t file;  /* index into files[] */
    uint32_t order; /* reading order, to sort stably */
    uint8_t end_seq;
    uint8_t is_stmt;
};

/* A section as shown to libdwarf: only the non-empty PROGBITS sections that
 * line tables need (dw_wanted) are shown under their names; every other
 * section is shown empty and nameless, so libdwarf neither loads nor
 * interprets it. */
struct dw_sec {
    const char *name;
    uint64_t addr, size, link, info, entsize;
    void *data;
};

struct pvrr_sym {
    unsigned char *image; /* our copy of the ELF file */
    Elf *elf;
    struct sym_entry *code; /* code symbols, by address, preferred last */
    size_t ncode;
    struct sym_entry *named; /* function and object symbols, by name, preferred first */
    size_t nnamed;
    struct line_row *rows; /* line rows, by address */
    size_t nrows, caprows;
    char **files; /* interned source paths */
    size_t nfiles, capfiles;
    uint32_t *fhash; /* open-addressing set of files[] indices + 1 */
    size_t fhash_cap;
    struct dw_sec *secs; /* in the DWARF reader process only */
    size_t nsecs;
    char warning[256]; /* why line information is missing or partial; "" if not */
};

/* Read the DWARF line tables of (s)'s image through a child process into
 * s->rows, sorted by address. Problems with the DWARF or the child become
 * s->warning; returns -1 only when memory runs out in this process. */
int sym_load_lines(struct pvrr_sym *s);

/* The line row that covers (addr) (the last is_stmt row at its address), or
 * NULL when no sequence covers it. */
const struct line_row *sym_find_row(const struct pvrr_sym *s, uint64_t addr);

#endif /* PVRR_FORMATS_SYMBOLIZE_INTERNAL_H */
