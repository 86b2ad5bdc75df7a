/*
 * emu_ring.c - privilege levels and the system-call instructions on the
 * emulator engine (emu_x86.h): what Unicorn 2.0.1 does not do itself.
 *
 * Unicorn's CPU (QEMU's TCG with Unicorn's changes) falls short of x86-64 in
 * four ways a guest kernel with a user mode meets (measured, and read from
 * Unicorn 2.0.1's sources):
 *   - its CPU model lacks the SYSCALL feature, so a `wrmsr` setting EFER.SCE
 *     is dropped; `syscall` only calls Unicorn's hooks (a no-op), and
 *     `sysret` raises #UD because SCE reads 0. The engine keeps SCE itself
 *     and executes rdmsr/wrmsr of EFER, syscall and sysret here;
 *   - in 64-bit mode a register write of CS or SS sets only the selector:
 *     the hidden part (and so the CPL, which QEMU takes from SS's DPL) stays.
 *     Entering ring 0 from ring 3 (syscall, an exception in user mode) and
 *     sysret's way out need the hidden parts loaded as hardware loads them;
 *   - QEMU's double-fault bookkeeping (CPUX86State.old_exception) is reset
 *     only by QEMU's own exception delivery, which Unicorn never runs: without
 *     a reset the second #PF/#GP of a run is raised as #DF and the third
 *     halts the CPU;
 *   - the error code of an exception QEMU raised is not exposed.
 * No register id reaches those fields, so the engine changes them in the
 * CPU context (uc_context_save/restore: a copy of QEMU's CPUX86State) at the
 * offsets of Unicorn 2.0.1's layout, which emu_ring_check verifies on the
 * running library before the engine is used.
 */
#include "engine/emu/emu_internal.h"

#include "engine/emu/emu_x86.h"

#include <stdio.h>
#include <string.h>

/* Offsets in the context's data (CPUX86State of QEMU 5.0 in Unicorn 2.0.1,
 * 64-bit target): regs[16], eip, eflags, cc_dst, cc_src, cc_src2, cc_op, df,
 * hflags, hflags2, segs[6] (SegmentCache: u32 selector, u64 base, u32 limit,
 * u32 flags; ES CS SS DS FS GS). The context ends at CPUX86State.retaddr;
 * old_exception lies 64 bytes before it and error_code 112 bytes before
 * old_exception (checked by emu_ring_check). */
#define CTX_DATA 16u /* struct uc_context: size_t context_size; int mode, arch */
#define ENV_RAX 0u
#define ENV_RIP 128u
#define ENV_HFLAGS 176u
#define ENV_SEGS 184u
#define SEG_SIZE 24u
#define SEG_CS 1
#define SEG_SS 2
#define SEG_DS 3
#define SEG_ES 0
#define END_OLD_EXCEPTION 64u /* from the end of the context data */
#define END_ERROR_CODE (64u + 112u)

/* QEMU's hidden flags (hflags) and descriptor flags (the high dword). */
#define HF_CPL_MASK 3u
#define HF_CS32 (1u << 4)
#define HF_SS32 (1u << 5)
#define HF_ADDSEG (1u << 6)
#define HF_LMA (1u << 14)
#define HF_CS64 (1u << 15)
#define DESC_A (1u << 8)
#define DESC_RW (1u << 9) /* readable code, writable data */
#define DESC_C (1u << 10) /* conforming code */
#define DESC_CS (1u << 11)
#define DESC_S (1u << 12)
#define DESC_DPL_SHIFT 13
#define DESC_P (1u << 15)
#define DESC_L (1u << 21)
#define DESC_B (1u << 22)
#define DESC_G (1u << 23)

#define MSR_EFER 0xc0000080u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_FMASK 0xc0000084u
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_RF (1ull << 16)

static uint64_t reg(uc_engine *uc, int id)
{
    uint64_t v = 0;
    uc_reg_read(uc, id, &v);
    return v;
}

static void wreg(uc_engine *uc, int id, uint64_t v)
{
    uc_reg_write(uc, id, &v);
}

static uint64_t msr(uc_engine *uc, uint32_t id)
{
    uc_x86_msr m = {.rid = id};
    uc_reg_read(uc, UC_X86_REG_MSR, &m);
    return m.value;
}

static uint8_t *env_of(struct emu_engine *e)
{
    return (uint8_t *)e->ctx + CTX_DATA;
}

static size_t env_size(const struct emu_engine *e)
{
    return e->ctx_size - CTX_DATA;
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

int emu_ring_check(struct vm *vm, char *err, size_t errlen)
{
    struct emu_engine *e = emu_of(vm);
    uc_engine *uc = e->uc;
    const uint64_t rax = 0x5056525201234567ull, rip = 0x123456789aull;
    const uint16_t cs = 0x33;
    wreg(uc, UC_X86_REG_RAX, rax);
    wreg(uc, UC_X86_REG_RIP, rip);
    wreg(uc, UC_X86_REG_CS, cs);
    int ok = e->ctx_size > CTX_DATA + ENV_SEGS + 6 * SEG_SIZE + END_ERROR_CODE &&
             uc_context_save(uc, e->ctx) == UC_ERR_OK;
    if (ok) {
        const uint8_t *env = env_of(e);
        uint64_t a, r;
        memcpy(&a, env + ENV_RAX, 8);
        memcpy(&r, env + ENV_RIP, 8);
        uint32_t hf = get32(env + ENV_HFLAGS);
        int32_t old;
        memcpy(&old, env + env_size(e) - END_OLD_EXCEPTION, 4);
        ok = a == rax && r == rip && get32(env + ENV_SEGS + SEG_CS * SEG_SIZE) == cs &&
             (hf & (HF_LMA | HF_CS64)) == (HF_LMA | HF_CS64) && (hf & HF_CPL_MASK) == 0 &&
             old == -1;
    }
    wreg(uc, UC_X86_REG_RAX, 0);
    wreg(uc, UC_X86_REG_RIP, 0);
    wreg(uc, UC_X86_REG_CS, 0);
    if (!ok) {
        snprintf(err, errlen,
                 "this Unicorn library keeps its CPU state in a layout pvrr does not know (pvrr "
                 "needs Unicorn 2.0.1 to enter and leave user mode)");
        return -1;
    }
    return 0;
}

/* QEMU's cpu_x86_load_seg_cache on the saved state (env): the segment's
 * hidden part, and the hidden flags that follow from CS and SS. */
static void load_seg(uint8_t *env, int seg, uint16_t sel, uint32_t limit, uint32_t flags)
{
    uint8_t *sc = env + ENV_SEGS + (unsigned)seg * SEG_SIZE;
    uint64_t zero = 0;
    put32(sc, sel);
    memcpy(sc + 8, &zero, 8); /* base: every segment pvrr's guests load is flat */
    put32(sc + 16, limit);
    put32(sc + 20, flags);
    uint32_t hf = get32(env + ENV_HFLAGS);
    if (seg == SEG_CS) {
        if ((hf & HF_LMA) && (flags & DESC_L)) {
            hf |= HF_CS32 | HF_SS32 | HF_CS64;
            hf &= ~HF_ADDSEG;
        } else {
            hf = (hf & ~(HF_CS32 | HF_CS64)) | ((flags & DESC_B) >> (22 - 4));
        }
    }
    if (seg == SEG_SS)
        hf = (hf & ~HF_CPL_MASK) | ((flags >> DESC_DPL_SHIFT) & 3);
    uint32_t nf = (get32(env + ENV_SEGS + SEG_SS * SEG_SIZE + 20) & DESC_B) >> (22 - 5);
    if (!(hf & HF_CS64)) {
        uint64_t b[3];
        memcpy(&b[0], env + ENV_SEGS + SEG_DS * SEG_SIZE + 8, 8);
        memcpy(&b[1], env + ENV_SEGS + SEG_ES * SEG_SIZE + 8, 8);
        memcpy(&b[2], env + ENV_SEGS + SEG_SS * SEG_SIZE + 8, 8);
        if (!(hf & HF_CS32) || (b[0] | b[1] | b[2]))
            nf |= HF_ADDSEG;
    }
    hf = (hf & ~(HF_SS32 | HF_ADDSEG)) | nf;
    put32(env + ENV_HFLAGS, hf);
}

void emu_load_cs_ss(struct vm *vm, uint16_t cs, uint32_t cs_flags, int load_ss, uint16_t ss,
                    uint32_t ss_flags)
{
    struct emu_engine *e = emu_of(vm);
    uc_context_save(e->uc, e->ctx);
    uint8_t *env = env_of(e);
    load_seg(env, SEG_CS, cs, 0xffffffffu, cs_flags);
    if (load_ss)
        load_seg(env, SEG_SS, ss, (ss & ~3u) ? 0xffffffffu : 0, ss_flags);
    int32_t none = -1;
    memcpy(env + env_size(e) - END_OLD_EXCEPTION, &none, 4);
    uc_context_restore(e->uc, e->ctx);
}

void emu_exception_done(struct vm *vm)
{
    struct emu_engine *e = emu_of(vm);
    uc_context_save(e->uc, e->ctx);
    int32_t none = -1;
    memcpy(env_of(e) + env_size(e) - END_OLD_EXCEPTION, &none, 4);
    uc_context_restore(e->uc, e->ctx);
}

uint32_t emu_exception_error(struct vm *vm)
{
    struct emu_engine *e = emu_of(vm);
    uc_context_save(e->uc, e->ctx);
    return get32(env_of(e) + env_size(e) - END_ERROR_CODE);
}

int emu_cpl(struct vm *vm)
{
    return (int)(reg(emu_of(vm)->uc, UC_X86_REG_CS) & 3);
}

/* The flat segments syscall and sysret load (fixed by the architecture, not
 * read from the GDT). */
#define FLAT (DESC_G | DESC_P | DESC_S | DESC_A)

int emu_exec_insn(struct vm *vm, enum emu_insn kind, uint64_t rip, unsigned len, uint32_t *err)
{
    struct emu_engine *e = emu_of(vm);
    uc_engine *uc = e->uc;
    int cpl = emu_cpl(vm);
    *err = 0;
    switch (kind) {
    case EMU_INSN_RDMSR: /* of EFER, at CPL 0 (on_spot checked both) */
    {
        uint64_t v = msr(uc, MSR_EFER) | (e->efer_sce ? 1u : 0u);
        wreg(uc, UC_X86_REG_RAX, (uint32_t)v);
        wreg(uc, UC_X86_REG_RDX, v >> 32);
        break;
    }
    case EMU_INSN_WRMSR: {
        uint64_t v = (reg(uc, UC_X86_REG_RAX) & 0xffffffffu) | reg(uc, UC_X86_REG_RDX) << 32;
        uc_x86_msr m = {.rid = MSR_EFER, .value = v & ~1ull};
        uc_reg_write(uc, UC_X86_REG_MSR, &m);
        e->efer_sce = v & 1;
        break;
    }
    case EMU_INSN_SYSCALL: {
        if (!e->efer_sce)
            return 6; /* #UD */
        uint64_t star = msr(uc, MSR_STAR), fl = reg(uc, UC_X86_REG_RFLAGS);
        uint16_t sel = (uint16_t)(star >> 32) & 0xfffc;
        wreg(uc, UC_X86_REG_RCX, rip + len);
        wreg(uc, UC_X86_REG_R11, fl & ~RFLAGS_RF);
        emu_load_cs_ss(vm, sel, FLAT | DESC_CS | DESC_RW | DESC_L, 1, (uint16_t)(sel + 8),
                       FLAT | DESC_B | DESC_RW);
        wreg(uc, UC_X86_REG_RFLAGS, (fl & ~msr(uc, MSR_FMASK) & ~RFLAGS_RF) | 2);
        wreg(uc, UC_X86_REG_RIP, msr(uc, MSR_LSTAR));
        return -1;
    }
    case EMU_INSN_SYSRET:
    case EMU_INSN_SYSRETL: {
        if (!e->efer_sce)
            return 6;
        if (cpl != 0)
            return 13;
        uint64_t rcx = reg(uc, UC_X86_REG_RCX);
        if (kind == EMU_INSN_SYSRET && (uint64_t)((int64_t)(rcx << 16) >> 16) != rcx)
            return 13; /* a non-canonical return address: #GP(0) in ring 0 */
        uint16_t sel = (uint16_t)(msr(uc, MSR_STAR) >> 48);
        uint32_t user = FLAT | (3u << DESC_DPL_SHIFT);
        uint64_t fl = (reg(uc, UC_X86_REG_R11) & 0x3c7fd7ull) | 2;
        if (kind == EMU_INSN_SYSRET)
            emu_load_cs_ss(vm, (uint16_t)((sel + 16) | 3), user | DESC_CS | DESC_RW | DESC_L, 1,
                           (uint16_t)((sel + 8) | 3), user | DESC_B | DESC_RW);
        else
            emu_load_cs_ss(vm, (uint16_t)(sel | 3), user | DESC_CS | DESC_RW | DESC_B, 1,
                           (uint16_t)((sel + 8) | 3), user | DESC_B | DESC_RW);
        wreg(uc, UC_X86_REG_RFLAGS, fl);
        wreg(uc, UC_X86_REG_RIP, kind == EMU_INSN_SYSRET ? rcx : (uint32_t)rcx);
        return -1;
    }
    }
    wreg(uc, UC_X86_REG_RIP, rip + len);
    return -1;
}
