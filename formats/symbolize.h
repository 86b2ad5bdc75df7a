/*
 * symbolize.h - turn guest addresses into "function+offset (file:line)".
 *
 * Works from an ELF image held in memory (for example the one embedded in a
 * recording), never from a path. Function and object names come from .symtab
 * (.dynsym if there is no .symtab); source lines come from the DWARF line
 * tables (.debug_line), read with libdwarf. Both tables are built once, at
 * open, and sorted, so each lookup is a binary search.
 *
 * libdwarf 20210528 can crash on malformed DWARF, so pvrr_sym_open() reads
 * the line tables in a short-lived forked child, which streams them back
 * through a pipe; a crash or a hang (stopped after 30 s) there costs line
 * numbers, never the caller. The child resets the caller's handlers for
 * fault signals, writes nothing to stderr, touches none of the caller's file
 * descriptors, and is reaped before open returns (a caller's SIGCHLD handler
 * may see it exit; one that reaps it first only loses its exit status).
 *
 * Addresses are those of the image's own address space: absolute for ET_EXEC
 * (pvrr guests), relative to the load base for ET_DYN.
 *
 * Library code: never prints or exits. Safe on hostile images: a malformed
 * symbol table or malformed DWARF loses symbols or lines, never crashes.
 */
#ifndef PVRR_FORMATS_SYMBOLIZE_H
#define PVRR_FORMATS_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

struct pvrr_sym;

/* What an address resolved to. */
struct pvrr_symloc {
    char func[128];     /* containing function, truncated to fit; "" if none */
    uint64_t func_addr; /* its start address; 0 if none */
    char file[256];     /* source file path; "..." + its tail if too long; "" if none */
    unsigned line;      /* source line, valid when has_line */
    int has_line;       /* 1 if the DWARF line table covers the address */
};

/*
 * Open a symbolizer over the ELF image (elf, len), which must be ELFCLASS64
 * and little-endian. The image is copied: the caller may free it afterwards.
 * An image without DWARF, or with DWARF that cannot be read, still opens, with
 * function names only (pvrr_sym_warning() says why); an image with neither
 * symbols nor DWARF opens and resolves nothing. Returns 0 and stores a handle in (*out), or -1 with
 * (*out) NULL and a message in (err, errlen) (err may be NULL) when the image
 * is not a readable ELF64 little-endian file or memory runs out.
 */
int pvrr_sym_open(struct pvrr_sym **out, const void *elf, size_t len, char *err, size_t errlen);

/*
 * Why line numbers are missing or partial, e.g. "no DWARF line tables in the
 * image" or "the DWARF reader died with signal 11 on malformed DWARF; 1234
 * line rows kept"; NULL when the line tables were read whole. Valid until
 * pvrr_sym_close(). (s) may be NULL.
 */
const char *pvrr_sym_warning(const struct pvrr_sym *s);

/*
 * Resolve (addr) into (*loc). The function is the code symbol (STT_FUNC, or
 * STT_NOTYPE in an executable section) whose range holds addr; a symbol of
 * size 0 extends to the next symbol or the end of its section. The line is
 * that of the last is_stmt row at the highest line table address <= addr,
 * as gdb picks it. Returns 0 if at least the function was found; -1 if not,
 * with the line fields still filled when the line table covers addr.
 * (s) may be NULL: then nothing resolves.
 */
int pvrr_sym_lookup(struct pvrr_sym *s, uint64_t addr, struct pvrr_symloc *loc);

/*
 * Find the function or object symbol called (name) and store its address in
 * (*addr). When several symbols share the name, a global one wins over a
 * weak one, and a weak one over a local one. Returns 0, or -1 if there is no
 * such symbol.
 */
int pvrr_sym_addr(struct pvrr_sym *s, const char *name, uint64_t *addr);

/*
 * Format (addr) into (buf, n), always NUL-terminated when n > 0, as
 * "func+0x12 (file.c:34)", "func+0x12" without line information,
 * "0x1234 (file.c:34)" without a function, or "0x1234" when nothing is known.
 * The file is shown by its base name. (s) may be NULL.
 */
void pvrr_sym_format(struct pvrr_sym *s, uint64_t addr, char *buf, size_t n);

/* Free (s) and everything it holds. NULL is allowed. */
void pvrr_sym_close(struct pvrr_sym *s);

#endif /* PVRR_FORMATS_SYMBOLIZE_H */
