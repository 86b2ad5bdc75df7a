/*
 * regs_x86_64.h - the x86-64 register file as gdb and lldb see it.
 *
 * One table (gdb_reg_info) drives everything register-shaped in the stub: the
 * 'g'/'G' layout, 'p'/'P' numbers, the target description XML sent through
 * qXfer:features:read, and lldb's qRegisterInfo. Register numbers are the
 * order of the target description:
 *    0-15  rax rbx rcx rdx rsi rdi rbp rsp r8..r15    8 bytes
 *   16     rip                                        8
 *   17-23  eflags cs ss ds es fs gs                   4 (gdb's width, not 2)
 *   24-31  st0..st7                                   10 (80-bit x87)
 *   32-39  fctrl fstat ftag fiseg fioff foseg fooff fop  4
 *   40-55  xmm0..xmm15                                16
 *   56     mxcsr                                      4
 *   57-58  fs_base gs_base                            8
 * All values travel little-endian. There is deliberately no
 * org.gnu.gdb.i386.linux feature (orig_rax): with it gdb would turn on its
 * own "record full" and hide the stub's reverse execution.
 */
#ifndef PVRR_GDBSTUB_REGS_X86_64_H
#define PVRR_GDBSTUB_REGS_X86_64_H

#include <stddef.h>
#include <stdint.h>

/* The register file. Field order and widths follow gdb's numbering above. */
struct gdb_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip;
    uint32_t eflags;
    uint32_t cs, ss, ds, es, fs, gs; /* selectors, zero-extended */
    uint8_t st[8][10];               /* x87 stack, 80-bit little-endian */
    uint32_t fctrl, fstat, ftag, fiseg, fioff, foseg, fooff, fop;
    uint8_t xmm[16][16];
    uint32_t mxcsr;
    uint64_t fs_base, gs_base;
};

/* Register numbers used by p/P, expedited stop-reply registers and lldb. */
enum gdb_regno {
    GDB_REG_RAX = 0,
    GDB_REG_RBP = 6,
    GDB_REG_RSP = 7,
    GDB_REG_RIP = 16,
    GDB_REG_EFLAGS = 17,
    GDB_REG_ST0 = 24,
    GDB_REG_FCTRL = 32,
    GDB_REG_XMM0 = 40,
    GDB_REG_MXCSR = 56,
    GDB_REG_FS_BASE = 57,
    GDB_REG_GS_BASE = 58,
    GDB_NUM_REGS = 59,
};

/* Bytes of a full 'g' reply: 17*8 + 7*4 + 8*10 + 8*4 + 16*16 + 4 + 2*8. */
#define GDB_REGS_G_BYTES 552

/* Which target-description feature a register belongs to. */
enum gdb_reg_feature { GDB_FEAT_CORE, GDB_FEAT_SSE, GDB_FEAT_SEGMENTS };

/* One register's description: the single source for g/p, tdesc and qRegisterInfo. */
struct gdb_reg_info {
    const char *name;
    uint16_t size;        /* bytes */
    uint16_t offset;      /* offset in struct gdb_regs and in the 'g' packet (the same) */
    uint8_t feature;      /* enum gdb_reg_feature */
    const char *type;     /* tdesc type: int64, code_ptr, i386_eflags, i387_ext, vec128 ... */
    const char *group;    /* tdesc group, or NULL */
    int dwarf;            /* DWARF/eh_frame number (x86-64 psABI), -1 if none */
    const char *generic;  /* lldb generic name: pc, sp, fp, flags, or NULL */
    const char *encoding; /* lldb: uint, vector */
    const char *format;   /* lldb: hex, vector-uint8 */
    const char *set;      /* lldb register set name */
};

/* The table, indexed by register number; n < GDB_NUM_REGS. */
const struct gdb_reg_info *gdb_reg_info(unsigned regno);

/* Serialize all registers in 'g' order into out (GDB_REGS_G_BYTES bytes). */
void gdb_regs_to_g(const struct gdb_regs *r, uint8_t out[GDB_REGS_G_BYTES]);

/*
 * Deserialize a 'G' body (in, n bytes, n <= GDB_REGS_G_BYTES) into r. A short
 * body updates only the registers it covers fully (gdb sends whole registers);
 * returns 0, or -1 if n is larger than the register file or splits a register.
 */
int gdb_regs_from_g(struct gdb_regs *r, const uint8_t *in, size_t n);

/* Pointer to register regno's bytes inside r, or NULL if regno is out of range. */
void *gdb_reg_ptr(struct gdb_regs *r, unsigned regno);
const void *gdb_reg_cptr(const struct gdb_regs *r, unsigned regno);

/*
 * Write the target description XML into buf (n bytes, NUL-terminated).
 * Returns its length, or -1 if buf is too small.
 */
int gdb_tdesc_xml(char *buf, size_t n);

#endif
