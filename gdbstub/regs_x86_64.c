/*
 * regs_x86_64.c - x86-64 register table, 'g' packet layout and target
 * description. See regs_x86_64.h.
 */
#include "gdbstub/regs_x86_64.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* struct gdb_regs has no padding, so its layout is the 'g' layout. The values
 * are copied as host bytes: the host of an x86-64 KVM guest is little-endian. */
_Static_assert(sizeof(struct gdb_regs) == GDB_REGS_G_BYTES, "gdb_regs has padding");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host expected");

#define GPR "General Purpose Registers"
#define FPR "Floating Point Registers"

#define R(nm, field, sz, feat, ty, grp, dw, gen, enc, fmt, st)                                     \
    {                                                                                              \
        .name = nm, .size = sz, .offset = offsetof(struct gdb_regs, field), .feature = feat,       \
        .type = ty, .group = grp, .dwarf = dw, .generic = gen, .encoding = enc, .format = fmt,     \
        .set = st                                                                                  \
    }
#define GP64(nm, field, ty, dw, gen)                                                               \
    R(nm, field, 8, GDB_FEAT_CORE, ty, NULL, dw, gen, "uint", "hex", GPR)
#define SEG(nm, field, dw)                                                                         \
    R(nm, field, 4, GDB_FEAT_CORE, "int32", NULL, dw, NULL, "uint", "hex", GPR)
#define ST(i)                                                                                      \
    R("st" #i, st[i], 10, GDB_FEAT_CORE, "i387_ext", "float", 33 + i, NULL, "vector",              \
      "vector-uint8", FPR)
#define FPC(nm, field, dw)                                                                         \
    R(nm, field, 4, GDB_FEAT_CORE, "int", "float", dw, NULL, "uint", "hex", FPR)
#define XMM(i)                                                                                     \
    R("xmm" #i, xmm[i], 16, GDB_FEAT_SSE, "vec128", "vector", 17 + i, NULL, "vector",              \
      "vector-uint8", FPR)

/*
 * DWARF numbers: System V x86-64 psABI, "DWARF Register Number Mapping".
 * Groups: gdb's own XML has none on st and xmm; they are set here so lldb,
 * which files ungrouped registers under "general", shows them apart. For gdb
 * a tdesc group only adds a membership, so `info registers` is unchanged.
 */
static const struct gdb_reg_info regs[GDB_NUM_REGS] = {
    GP64("rax", rax, "int64", 0, NULL),
    GP64("rbx", rbx, "int64", 3, NULL),
    GP64("rcx", rcx, "int64", 2, NULL),
    GP64("rdx", rdx, "int64", 1, NULL),
    GP64("rsi", rsi, "int64", 4, NULL),
    GP64("rdi", rdi, "int64", 5, NULL),
    GP64("rbp", rbp, "data_ptr", 6, "fp"),
    GP64("rsp", rsp, "data_ptr", 7, "sp"),
    GP64("r8", r8, "int64", 8, NULL),
    GP64("r9", r9, "int64", 9, NULL),
    GP64("r10", r10, "int64", 10, NULL),
    GP64("r11", r11, "int64", 11, NULL),
    GP64("r12", r12, "int64", 12, NULL),
    GP64("r13", r13, "int64", 13, NULL),
    GP64("r14", r14, "int64", 14, NULL),
    GP64("r15", r15, "int64", 15, NULL),
    GP64("rip", rip, "code_ptr", 16, "pc"),
    R("eflags", eflags, 4, GDB_FEAT_CORE, "i386_eflags", NULL, 49, "flags", "uint", "hex", GPR),
    SEG("cs", cs, 51),
    SEG("ss", ss, 52),
    SEG("ds", ds, 53),
    SEG("es", es, 50),
    SEG("fs", fs, 54),
    SEG("gs", gs, 55),
    ST(0),
    ST(1),
    ST(2),
    ST(3),
    ST(4),
    ST(5),
    ST(6),
    ST(7),
    FPC("fctrl", fctrl, 65),
    FPC("fstat", fstat, 66),
    FPC("ftag", ftag, -1),
    FPC("fiseg", fiseg, -1),
    FPC("fioff", fioff, -1),
    FPC("foseg", foseg, -1),
    FPC("fooff", fooff, -1),
    FPC("fop", fop, -1),
    XMM(0),
    XMM(1),
    XMM(2),
    XMM(3),
    XMM(4),
    XMM(5),
    XMM(6),
    XMM(7),
    XMM(8),
    XMM(9),
    XMM(10),
    XMM(11),
    XMM(12),
    XMM(13),
    XMM(14),
    XMM(15),
    R("mxcsr", mxcsr, 4, GDB_FEAT_SSE, "i386_mxcsr", "vector", 64, NULL, "uint", "hex", FPR),
    R("fs_base", fs_base, 8, GDB_FEAT_SEGMENTS, "int", NULL, 58, NULL, "uint", "hex", GPR),
    R("gs_base", gs_base, 8, GDB_FEAT_SEGMENTS, "int", NULL, 59, NULL, "uint", "hex", GPR),
};

const struct gdb_reg_info *gdb_reg_info(unsigned regno)
{
    return regno < GDB_NUM_REGS ? &regs[regno] : NULL;
}

void *gdb_reg_ptr(struct gdb_regs *r, unsigned regno)
{
    if (regno >= GDB_NUM_REGS)
        return NULL;
    return (uint8_t *)r + regs[regno].offset;
}

const void *gdb_reg_cptr(const struct gdb_regs *r, unsigned regno)
{
    if (regno >= GDB_NUM_REGS)
        return NULL;
    return (const uint8_t *)r + regs[regno].offset;
}

void gdb_regs_to_g(const struct gdb_regs *r, uint8_t out[GDB_REGS_G_BYTES])
{
    for (unsigned i = 0; i < GDB_NUM_REGS; i++)
        memcpy(out + regs[i].offset, gdb_reg_cptr(r, i), regs[i].size);
}

int gdb_regs_from_g(struct gdb_regs *r, const uint8_t *in, size_t n)
{
    if (n > GDB_REGS_G_BYTES)
        return -1;
    for (unsigned i = 0; i < GDB_NUM_REGS; i++) {
        size_t off = regs[i].offset;
        if (off >= n)
            break;
        if (off + regs[i].size > n)
            return -1;
        memcpy(gdb_reg_ptr(r, i), in + off, regs[i].size);
    }
    return 0;
}

/* Types of gdb's features/i386/64bit-core.xml and 64bit-sse.xml. */
static const char tdesc_head[] = "<?xml version=\"1.0\"?>\n"
                                 "<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
                                 "<target version=\"1.0\">\n"
                                 "<architecture>i386:x86-64</architecture>\n";

static const char core_types[] = "<flags id=\"i386_eflags\" size=\"4\">\n"
                                 "<field name=\"CF\" start=\"0\" end=\"0\"/>\n"
                                 "<field name=\"\" start=\"1\" end=\"1\"/>\n"
                                 "<field name=\"PF\" start=\"2\" end=\"2\"/>\n"
                                 "<field name=\"AF\" start=\"4\" end=\"4\"/>\n"
                                 "<field name=\"ZF\" start=\"6\" end=\"6\"/>\n"
                                 "<field name=\"SF\" start=\"7\" end=\"7\"/>\n"
                                 "<field name=\"TF\" start=\"8\" end=\"8\"/>\n"
                                 "<field name=\"IF\" start=\"9\" end=\"9\"/>\n"
                                 "<field name=\"DF\" start=\"10\" end=\"10\"/>\n"
                                 "<field name=\"OF\" start=\"11\" end=\"11\"/>\n"
                                 "<field name=\"NT\" start=\"14\" end=\"14\"/>\n"
                                 "<field name=\"RF\" start=\"16\" end=\"16\"/>\n"
                                 "<field name=\"VM\" start=\"17\" end=\"17\"/>\n"
                                 "<field name=\"AC\" start=\"18\" end=\"18\"/>\n"
                                 "<field name=\"VIF\" start=\"19\" end=\"19\"/>\n"
                                 "<field name=\"VIP\" start=\"20\" end=\"20\"/>\n"
                                 "<field name=\"ID\" start=\"21\" end=\"21\"/>\n"
                                 "</flags>\n";

static const char sse_types[] = "<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>\n"
                                "<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>\n"
                                "<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>\n"
                                "<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>\n"
                                "<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>\n"
                                "<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>\n"
                                "<union id=\"vec128\">\n"
                                "<field name=\"v4_float\" type=\"v4f\"/>\n"
                                "<field name=\"v2_double\" type=\"v2d\"/>\n"
                                "<field name=\"v16_int8\" type=\"v16i8\"/>\n"
                                "<field name=\"v8_int16\" type=\"v8i16\"/>\n"
                                "<field name=\"v4_int32\" type=\"v4i32\"/>\n"
                                "<field name=\"v2_int64\" type=\"v2i64\"/>\n"
                                "<field name=\"uint128\" type=\"uint128\"/>\n"
                                "</union>\n"
                                "<flags id=\"i386_mxcsr\" size=\"4\">\n"
                                "<field name=\"IE\" start=\"0\" end=\"0\"/>\n"
                                "<field name=\"DE\" start=\"1\" end=\"1\"/>\n"
                                "<field name=\"ZE\" start=\"2\" end=\"2\"/>\n"
                                "<field name=\"OE\" start=\"3\" end=\"3\"/>\n"
                                "<field name=\"UE\" start=\"4\" end=\"4\"/>\n"
                                "<field name=\"PE\" start=\"5\" end=\"5\"/>\n"
                                "<field name=\"DAZ\" start=\"6\" end=\"6\"/>\n"
                                "<field name=\"IM\" start=\"7\" end=\"7\"/>\n"
                                "<field name=\"DM\" start=\"8\" end=\"8\"/>\n"
                                "<field name=\"ZM\" start=\"9\" end=\"9\"/>\n"
                                "<field name=\"OM\" start=\"10\" end=\"10\"/>\n"
                                "<field name=\"UM\" start=\"11\" end=\"11\"/>\n"
                                "<field name=\"PM\" start=\"12\" end=\"12\"/>\n"
                                "<field name=\"FZ\" start=\"15\" end=\"15\"/>\n"
                                "</flags>\n";

static const struct {
    const char *name;
    const char *types;
} features[] = {
    [GDB_FEAT_CORE] = {"org.gnu.gdb.i386.core", core_types},
    [GDB_FEAT_SSE] = {"org.gnu.gdb.i386.sse", sse_types},
    [GDB_FEAT_SEGMENTS] = {"org.gnu.gdb.i386.segments", ""},
};

/* snprintf into buf at *pos; returns -1 once the buffer is full. */
static int emit(char *buf, size_t n, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int emit(char *buf, size_t n, size_t *pos, const char *fmt, ...)
{
    va_list ap;
    if (*pos >= n)
        return -1;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *pos, n - *pos, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= n - *pos)
        return -1;
    *pos += (size_t)k;
    return 0;
}

int gdb_tdesc_xml(char *buf, size_t n)
{
    size_t pos = 0;
    if (emit(buf, n, &pos, "%s", tdesc_head) < 0)
        return -1;
    for (unsigned f = 0; f < sizeof(features) / sizeof(features[0]); f++) {
        if (emit(buf, n, &pos, "<feature name=\"%s\">\n%s", features[f].name, features[f].types) <
            0)
            return -1;
        for (unsigned i = 0; i < GDB_NUM_REGS; i++) {
            const struct gdb_reg_info *ri = &regs[i];
            if (ri->feature != f)
                continue;
            if (emit(buf, n, &pos,
                     "<reg name=\"%s\" bitsize=\"%u\" type=\"%s\" regnum=\"%u\"%s%s%s/>\n",
                     ri->name, ri->size * 8u, ri->type, i, ri->group ? " group=\"" : "",
                     ri->group ? ri->group : "", ri->group ? "\"" : "") < 0)
                return -1;
        }
        if (emit(buf, n, &pos, "</feature>\n") < 0)
            return -1;
    }
    if (emit(buf, n, &pos, "</target>\n") < 0)
        return -1;
    return (int)pos;
}
