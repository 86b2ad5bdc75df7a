/*
 * emu_insn.c - instructions pvrr's CPUID table offers that Unicorn 2.0.1
 * cannot execute (emu_x86.h): its CPU model lacks POPCNT and PCLMULQDQ, so
 * QEMU raises #UD for `popcnt` and `pclmulqdq`, which a guest that trusts
 * CPUID (glibc, any program built with -mpopcnt or for x86-64-v2) runs. The
 * code scan stops before each, and the engine executes it here: operands
 * from capstone, memory through the guest's page tables.
 */
#include "engine/emu/emu_internal.h"

#include "engine/emu/emu_x86.h"

#include <string.h>

#define RFLAGS_ARITH 0x8d5ull /* OF SF ZF AF PF CF */
#define RFLAGS_ZF 0x40ull

static uint64_t reg(uc_engine *uc, int id)
{
    uint64_t v = 0;
    uc_reg_read(uc, id, &v);
    return v;
}

/* The Unicorn id of general register (r)'s 64-bit form and (r)'s size in
 * bytes (8, 4 or 2), or -1. */
static int gpr(x86_reg r, unsigned *size)
{
    static const x86_reg fam[16][3] = {
        {X86_REG_RAX, X86_REG_EAX, X86_REG_AX},    {X86_REG_RCX, X86_REG_ECX, X86_REG_CX},
        {X86_REG_RDX, X86_REG_EDX, X86_REG_DX},    {X86_REG_RBX, X86_REG_EBX, X86_REG_BX},
        {X86_REG_RSP, X86_REG_ESP, X86_REG_SP},    {X86_REG_RBP, X86_REG_EBP, X86_REG_BP},
        {X86_REG_RSI, X86_REG_ESI, X86_REG_SI},    {X86_REG_RDI, X86_REG_EDI, X86_REG_DI},
        {X86_REG_R8, X86_REG_R8D, X86_REG_R8W},    {X86_REG_R9, X86_REG_R9D, X86_REG_R9W},
        {X86_REG_R10, X86_REG_R10D, X86_REG_R10W}, {X86_REG_R11, X86_REG_R11D, X86_REG_R11W},
        {X86_REG_R12, X86_REG_R12D, X86_REG_R12W}, {X86_REG_R13, X86_REG_R13D, X86_REG_R13W},
        {X86_REG_R14, X86_REG_R14D, X86_REG_R14W}, {X86_REG_R15, X86_REG_R15D, X86_REG_R15W},
    };
    static const int uc_id[16] = {
        UC_X86_REG_RAX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RBX,
        UC_X86_REG_RSP, UC_X86_REG_RBP, UC_X86_REG_RSI, UC_X86_REG_RDI,
        UC_X86_REG_R8,  UC_X86_REG_R9,  UC_X86_REG_R10, UC_X86_REG_R11,
        UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15,
    };
    for (int i = 0; i < 16; i++)
        for (int k = 0; k < 3; k++)
            if (fam[i][k] == r) {
                *size = 8u >> k;
                return uc_id[i];
            }
    return -1;
}

static int xmm(x86_reg r)
{
    if (r < X86_REG_XMM0 || r > X86_REG_XMM15)
        return -1;
    int i = (int)(r - X86_REG_XMM0);
    return i < 8 ? UC_X86_REG_XMM0 + i : UC_X86_REG_XMM8 + (i - 8);
}

/* The effective address of memory operand (op) of the instruction ending at
 * (next). Returns 0, or -1 for a form this file does not handle. */
static int ea(uc_engine *uc, const cs_x86 *x, const cs_x86_op *op, uint64_t next, uint64_t *va)
{
    uint64_t a = (uint64_t)op->mem.disp;
    unsigned sz;
    if (op->mem.base == X86_REG_RIP) {
        a += next;
    } else if (op->mem.base != X86_REG_INVALID) {
        int id = gpr(op->mem.base, &sz);
        if (id < 0)
            return -1;
        uint64_t v = reg(uc, id);
        a += sz == 4 ? (uint32_t)v : v;
    }
    if (op->mem.index != X86_REG_INVALID) {
        int id = gpr(op->mem.index, &sz);
        if (id < 0)
            return -1;
        uint64_t v = reg(uc, id);
        a += (sz == 4 ? (uint32_t)v : v) * (uint64_t)op->mem.scale;
    }
    if (x->addr_size == 4)
        a = (uint32_t)a;
    if (op->mem.segment == X86_REG_FS)
        a += reg(uc, UC_X86_REG_FS_BASE);
    else if (op->mem.segment == X86_REG_GS)
        a += reg(uc, UC_X86_REG_GS_BASE);
    *va = a;
    return 0;
}

/* Read (n) bytes at guest-virtual (va) as the program does. Returns -1 or
 * the #PF vector with CR2 and (*err) set. */
static int read_mem(struct vm *vm, uint64_t va, void *buf, unsigned n, uint32_t *err)
{
    uint8_t *out = buf;
    int user = emu_cpl(vm) == 3;
    while (n) {
        unsigned chunk = 4096 - (unsigned)(va & 4095);
        if (chunk > n)
            chunk = n;
        uint64_t pa;
        unsigned pf;
        const uint8_t *p = NULL;
        if (emu_translate(vm, va, 0, user, &pa, &pf) == 0)
            p = vm_gpa(vm, pa, chunk);
        if (!p) {
            uc_reg_write(emu_of(vm)->uc, UC_X86_REG_CR2, &va);
            *err = pf;
            return 14;
        }
        memcpy(out, p, chunk);
        out += chunk, va += chunk, n -= chunk;
    }
    return -1;
}

/* The carry-less product of (a) and (b): 128 bits, low half first. */
static void clmul(uint64_t a, uint64_t b, uint64_t r[2])
{
    r[0] = r[1] = 0;
    for (int i = 0; i < 64; i++)
        if ((b >> i) & 1) {
            r[0] ^= a << i;
            if (i)
                r[1] ^= a >> (64 - i);
        }
}

int emu_exec_alu(struct vm *vm, enum emu_insn kind, uint64_t rip, unsigned len, uint32_t *err)
{
    struct emu_engine *e = emu_of(vm);
    uc_engine *uc = e->uc;
    *err = 0;
    (void)len; /* Unicorn's hook reports 0 for an instruction it cannot decode */
    const uint8_t *code = vm_gpa(vm, rip, 15);
    cs_insn *insn = NULL;
    if (!code || cs_disasm(e->cs_detail, code, 15, rip, 1, &insn) != 1)
        return 6;
    const cs_x86 *x = &insn->detail->x86;
    uint64_t next = rip + insn->size;
    int ret = -1;
    if (kind == EMU_INSN_POPCNT && x->op_count == 2 && x->operands[0].type == X86_OP_REG) {
        unsigned dsz;
        int dst = gpr(x->operands[0].reg, &dsz);
        uint64_t src = 0, va;
        if (dst < 0) {
            ret = 6;
        } else if (x->operands[1].type == X86_OP_REG) {
            unsigned ssz;
            int id = gpr(x->operands[1].reg, &ssz);
            if (id < 0)
                ret = 6;
            else
                src = reg(uc, id);
        } else if (ea(uc, x, &x->operands[1], next, &va) < 0) {
            ret = 6;
        } else {
            ret = read_mem(vm, va, &src, dsz, err);
        }
        if (ret < 0) {
            if (dsz < 8)
                src &= (1ull << (8 * dsz)) - 1;
            uint64_t cnt = (uint64_t)__builtin_popcountll(src);
            uint64_t old = reg(uc, dst);
            uint64_t v = dsz == 2 ? (old & ~0xffffull) | cnt : cnt; /* 32-bit: zero-extended */
            uint64_t fl = (reg(uc, UC_X86_REG_RFLAGS) & ~RFLAGS_ARITH) | (src ? 0 : RFLAGS_ZF);
            uc_reg_write(uc, dst, &v);
            uc_reg_write(uc, UC_X86_REG_RFLAGS, &fl);
        }
    } else if (kind == EMU_INSN_PCLMUL && x->op_count == 3 && x->operands[0].type == X86_OP_REG &&
               x->operands[2].type == X86_OP_IMM && xmm(x->operands[0].reg) >= 0) {
        uint64_t a[2], b[2], va;
        int dst = xmm(x->operands[0].reg);
        uc_reg_read(uc, dst, a);
        if (x->operands[1].type == X86_OP_REG && xmm(x->operands[1].reg) >= 0) {
            uc_reg_read(uc, xmm(x->operands[1].reg), b);
        } else if (x->operands[1].type != X86_OP_MEM || ea(uc, x, &x->operands[1], next, &va) < 0) {
            ret = 6;
        } else if (va & 15) {
            ret = 13; /* a legacy-SSE 16-byte operand must be aligned: #GP(0) */
        } else {
            ret = read_mem(vm, va, b, 16, err);
        }
        if (ret < 0) {
            uint64_t imm = (uint64_t)x->operands[2].imm, r[2];
            clmul(a[imm & 1], b[(imm >> 4) & 1], r);
            uc_reg_write(uc, dst, r);
        }
    } else {
        ret = 6;
    }
    cs_free(insn, 1);
    if (ret < 0)
        uc_reg_write(uc, UC_X86_REG_RIP, &next);
    return ret;
}
