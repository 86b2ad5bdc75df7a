/*
 * internal.h - the pieces of the DAP server shared between its files (and its
 * unit tests); not an interface for other folders, which use dap.h.
 *
 *   debuginfo.c  the guest's DWARF read once with libdwarf: line rows, functions,
 *                variables with their locations, types; call frame information
 *   value.c      locations evaluated in a frame, values read through
 *                gdb_target_ops, formatted, and a small expression evaluator
 *   disasm.c     instructions for the disassemble request (capstone)
 *   frame.c      Content-Length framing (declared in dap.h)
 *   session.c, run.c  the protocol session and execution control
 */
#ifndef PVRR_DAP_INTERNAL_H
#define PVRR_DAP_INTERNAL_H

#include "gdbstub/gdbstub.h"

#include <stddef.h>
#include <stdint.h>

/* ---- debugging information (debuginfo.c) ---- */

enum dap_tkind {
    DT_VOID,
    DT_INT,   /* signed integer */
    DT_UINT,  /* unsigned integer */
    DT_BOOL,  /* _Bool */
    DT_CHAR,  /* char, signed char, unsigned char */
    DT_FLOAT, /* float, double */
    DT_PTR,
    DT_STRUCT,
    DT_UNION,
    DT_ARRAY,
    DT_ENUM,
    DT_FUNC,
    DT_TYPEDEF, /* a name for target */
    DT_QUAL,    /* const, volatile, restrict of target: transparent */
};

struct dap_member {
    const char *name; /* "" for an anonymous member */
    uint64_t offset;  /* bytes from the start of the struct */
    struct dap_type *type;
};

struct dap_enumerator {
    const char *name;
    int64_t value;
};

struct dap_type {
    enum dap_tkind kind;
    const char *name;        /* NULL when anonymous */
    uint64_t size;           /* bytes; arrays: count * element size */
    struct dap_type *target; /* PTR (NULL: void *), ARRAY element, TYPEDEF, QUAL, ENUM base */
    uint64_t count;          /* ARRAY: elements (0: unknown) */
    struct dap_member *members;
    size_t nmembers;
    struct dap_enumerator *enums;
    size_t nenums;
    uint64_t die;     /* DIE offset, to resolve references */
    uint64_t ref;     /* DIE offset of target before resolution (0: none) */
    int display_done; /* type_name() has filled display */
    char display[96]; /* "struct kvstore *", "int32_t[8]" */
};

/* One operation of a DWARF location expression. */
struct dap_op {
    uint8_t atom;
    uint64_t a, b;
};

/* A location expression valid for pc in [lo, hi) (all: everywhere). */
struct dap_locexpr {
    uint64_t lo, hi;
    int all;
    struct dap_op *ops;
    size_t nops;
};

struct dap_var {
    const char *name;
    struct dap_type *type;
    struct dap_locexpr *locs;
    size_t nlocs;
    uint64_t scope_lo, scope_hi; /* lexical block; 0, 0: the whole function */
    int is_param;
};

struct dap_func {
    const char *name;
    uint64_t lo, hi; /* [lo, hi) */
    struct dap_var *vars;
    size_t nvars;
    size_t cu; /* index of its compilation unit */
    unsigned decl_line;
};

struct dap_row {
    uint64_t addr;
    unsigned line; /* 0: end of sequence or no line */
    unsigned file; /* index into files */
    int is_stmt;
};

struct dap_di; /* opaque: all of the above for one ELF image */

/*
 * Read the DWARF of the ELF image (elf, len) (copied). An image without DWARF
 * opens with no lines, functions or variables. Returns 0 and (*out), or -1
 * with a message in (err, n) when the image is not ELF or memory runs out.
 * libdwarf runs in this process: a hostile image could crash it (pvrr_sym_*
 * fork for that reason; the DAP server debugs images the user chose).
 */
int dap_di_open(struct dap_di **out, const void *elf, size_t len, char *err, size_t n);
void dap_di_close(struct dap_di *di);

/* The row holding (addr): the last row with row.addr <= addr inside a
 * sequence, and in (*end) where the next row starts. NULL if none. */
const struct dap_row *dap_di_row_at(const struct dap_di *di, uint64_t addr, uint64_t *end);

/* The path of file index (f) ("" if out of range). */
const char *dap_di_file(const struct dap_di *di, unsigned f);

/*
 * Where a breakpoint on (path):(line) goes: the lowest address of an is_stmt
 * row of the first line >= (line) (within 50 lines) that has code, in a file
 * whose path equals (path) or ends with "/" + its base name when (path) is
 * absolute and no file matches exactly. Returns 0 with (*addr, *actual), or -1.
 */
int dap_di_line_addr(const struct dap_di *di, const char *path, unsigned line, uint64_t *addr,
                     unsigned *actual);

/* The function whose range holds (pc), or NULL. */
const struct dap_func *dap_di_func_at(const struct dap_di *di, uint64_t pc);
/* The function called (name), or NULL. */
const struct dap_func *dap_di_func_named(const struct dap_di *di, const char *name);
/* Where a breakpoint on (f) goes: the address of its second line row (after
 * the prologue), or f->lo. */
uint64_t dap_di_after_prologue(const struct dap_di *di, const struct dap_func *f);

/* Global (and file-static) variables: all of them (cu = (size_t)-1) or those of
 * compilation unit (cu). Iterate with index (i) from 0 until NULL. */
const struct dap_var *dap_di_global(const struct dap_di *di, size_t cu, size_t i);
/* A global variable called (name), preferring compilation unit (cu); or NULL. */
const struct dap_var *dap_di_global_named(const struct dap_di *di, size_t cu, const char *name);

/* The name of the ELF symbol containing (addr) (function or object), with
 * the offset from its start; NULL if none. */
const char *dap_di_symbol(const struct dap_di *di, uint64_t addr, uint64_t *offset);

/*
 * Call frame information at (pc): how to find the CFA and the saved registers.
 * Fills (*cfa_reg, *cfa_off) (DWARF register numbers) and, for each DWARF
 * register r < DAP_CFI_REGS, saved[r]: 1 if saved at CFA + off[r], 0 if it
 * keeps its value, -1 if unknown. Returns 0, or -1 when no FDE covers pc.
 */
#define DAP_CFI_REGS 17 /* rax..r15 and the return address (16) */
int dap_di_cfi(const struct dap_di *di, uint64_t pc, int *cfa_reg, int64_t *cfa_off,
               int saved[DAP_CFI_REGS], int64_t off[DAP_CFI_REGS]);

/* Display name of a type: "int", "struct kvstore *", "uint64_t[64]". */
const char *dap_type_name(struct dap_type *t);
/* Skip typedefs and qualifiers. NULL stays NULL (void). */
struct dap_type *dap_type_strip(struct dap_type *t);

/* ---- values (value.c) ---- */

/* One frame of the call stack, as the unwinder recovered it. */
struct dap_frame {
    uint64_t pc;
    uint64_t lookup_pc; /* pc, or pc - 1 in an outer frame (inside the call) */
    uint64_t cfa;
    uint64_t regs[DAP_CFI_REGS]; /* by DWARF number; valid where known[r] */
    uint8_t known[DAP_CFI_REGS];
    const struct dap_func *func;
};

/* Where a value is. */
enum dap_vloc { DV_MEM, DV_BYTES, DV_NONE };

struct dap_value {
    struct dap_type *type; /* NULL: an untyped 8-byte word */
    enum dap_vloc where;
    uint64_t addr;      /* DV_MEM */
    uint8_t bytes[16];  /* DV_BYTES: a register or computed value (size <= 16) */
    const char *reason; /* DV_NONE: why ("optimized out") */
};

/* Access to the machine for value.c: the ops and target of the session. */
struct dap_machine {
    const struct gdb_target_ops *ops;
    void *t;
};

/*
 * Unwind the stack starting from the registers (r): up to (max) frames into
 * (frames). Uses the call frame information, falling back on the frame
 * pointer chain. Returns the number of frames (at least 1).
 */
int dap_unwind(const struct dap_di *di, const struct dap_machine *mc, const struct gdb_regs *r,
               struct dap_frame *frames, int max);

/* The value of variable (v) in frame (f) (f may be NULL for globals). */
void dap_var_value(const struct dap_var *v, const struct dap_frame *f, const struct dap_machine *mc,
                   struct dap_value *out);

/* Format (v) for display into (buf, n): integers in decimal (pointers, and
 * chars also as hex/char), structs "{...}", arrays "[N]". Returns
 * the number of children (struct members, array elements, pointee: 1), 0 for
 * a scalar. */
size_t dap_value_format(const struct dap_value *v, const struct dap_machine *mc, char *buf,
                        size_t n);

/* Child (i) of (v) (see dap_value_format) into (*out) with its name in (name, n).
 * Returns 0, or -1 if there is no such child or it cannot be read. */
int dap_value_child(const struct dap_value *v, size_t i, const struct dap_machine *mc,
                    struct dap_value *out, char *name, size_t n);

/*
 * Evaluate (expr): a variable of frame (f) or a global, followed by .member,
 * ->member and [index]; unary * and &; an integer; $register (frame 0's when
 * f is the innermost frame); *ADDRESS reads an 8-byte word. Returns 0 with
 * (*out), or -1 with a message in (err, n).
 */
int dap_eval(const struct dap_di *di, const struct dap_frame *f, const struct dap_machine *mc,
             const char *expr, struct dap_value *out, char *err, size_t n);

/* The size of a value in bytes (8 for an untyped word). */
uint64_t dap_value_size(const struct dap_value *v);

/* ---- disassembly (disasm.c) ---- */

/* Disassemble one instruction of (code, len) at (addr): text into (buf, n),
 * raw bytes as hex into (hex, hn). Returns its length, or 0 if invalid. */
size_t dap_disasm_one(const uint8_t *code, size_t len, uint64_t addr, char *buf, size_t n,
                      char *hex, size_t hn);

#endif /* PVRR_DAP_INTERNAL_H */
