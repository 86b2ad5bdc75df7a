/*
 * di.h - the layout of struct dap_di, shared by debuginfo.c (which reads the
 * DWARF) and lookup.c (which answers queries). Private to dap/.
 */
#ifndef PVRR_DAP_DI_H
#define PVRR_DAP_DI_H

#include "dap/internal.h"

#include <libdwarf.h>
#include <libelf.h>

/* Strings, ops and member tables live in an arena freed at close. */
struct arena_block {
    struct arena_block *next;
    size_t used, size;
    char data[];
};

struct sym {
    uint64_t addr, size;
    const char *name;
};

struct pending_ref {
    struct dap_type **slot;
    uint64_t die;
};

struct dap_di {
    void *image;
    Elf *elf;
    Dwarf_Debug dbg;
    int have_dbg;
    Dwarf_Cie *cies;
    Dwarf_Signed ncies;
    Dwarf_Fde *fdes;
    Dwarf_Signed nfdes;
    int fdes_eh;

    struct arena_block *arena;

    struct dap_row *rows;
    size_t nrows, caprows;
    const char **files;
    size_t nfiles, capfiles;
    struct dap_func *funcs;
    size_t nfuncs, capfuncs;
    struct dap_var *globals;
    size_t *global_cu;
    size_t nglobals, capglobals;
    struct dap_type **types;
    size_t ntypes, captypes;
    struct pending_ref *refs;
    size_t nrefs, caprefs;
    struct sym *syms;
    size_t nsyms, capsyms;
    size_t ncu;
    int oom;
};

#endif /* PVRR_DAP_DI_H */
