/*
 * emu_x86.c - CPU exception delivery through the guest's IDT (emu_x86.h).
 */
#include "engine/emu/emu_x86.h"

#include "engine/emu/emu_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_A 0x20ull
#define PTE_D 0x40ull
#define PTE_PS 0x80ull
#define PTE_ADDR 0x000ffffffffff000ull

#define PF_P 0x1u
#define PF_W 0x2u
#define PF_U 0x4u
#define PF_I 0x10u

static uint64_t reg(uc_engine *uc, int id)
{
    uint64_t v = 0;
    uc_reg_read(uc, id, &v);
    return v;
}

/* Translate (va) through the guest's page tables for a supervisor access.
 * Returns 0 with (*pa), or -1 with the #PF error code in (*pf). With (set_ad)
 * the accessed (and for a write the dirty) bits are set as the CPU would. */
static int walk(struct vm *vm, uint64_t va, int write, int set_ad, uint64_t *pa, unsigned *pf)
{
    uc_engine *uc = emu_of(vm)->uc;
    uint64_t cr0 = reg(uc, UC_X86_REG_CR0), table = reg(uc, UC_X86_REG_CR3) & PTE_ADDR;
    uint64_t *ent[4];
    int n = 0;
    for (int level = 3; level >= 0; level--) {
        uint64_t *e = vm_gpa(vm, table + ((va >> (12 + 9 * level)) & 511) * 8, 8);
        if (!e || !(*e & PTE_P)) {
            *pf = write ? PF_W : 0;
            return -1;
        }
        ent[n++] = e;
        if (write && !(*e & PTE_W) && (cr0 & (1u << 16))) {
            *pf = PF_P | PF_W;
            return -1;
        }
        if (level == 0 || ((level == 1 || level == 2) && (*e & PTE_PS))) {
            uint64_t size = 1ull << (12 + 9 * level);
            *pa = (*e & PTE_ADDR & ~(size - 1)) | (va & (size - 1));
            if (set_ad) {
                for (int i = 0; i < n; i++)
                    *ent[i] |= PTE_A;
                if (write)
                    *ent[n - 1] |= PTE_D;
            }
            return 0;
        }
        table = *e & PTE_ADDR;
    }
    return -1;
}

/* The #PF error code of a fault at (cr2) raised by the instruction at (rip):
 * present from the page tables, write from what the instruction does. */
static unsigned pf_error(struct vm *vm, uint64_t rip, uint64_t cr2)
{
    struct emu_engine *e = emu_of(vm);
    uint64_t pa;
    unsigned pf = 0;
    unsigned present =
        (walk(vm, cr2, 0, 0, &pa, &pf) == 0 ? PF_P : 0) | (emu_cpl(vm) == 3 ? PF_U : 0);
    /* a fetch: the fault lies in the instruction's own bytes */
    if (cr2 >= rip && cr2 < rip + 15) {
        uint64_t efer = 0;
        uc_x86_msr m = {.rid = 0xc0000080u};
        if (uc_reg_read(e->uc, UC_X86_REG_MSR, &m) == UC_ERR_OK)
            efer = m.value;
        return present | ((efer & 0x800) ? PF_I : 0);
    }
    unsigned write = 0;
    const uint8_t *code = vm_gpa(vm, rip, 15);
    if (!code)
        code = vm_gpa(vm, rip, 1);
    cs_insn *insn = NULL;
    if (code && cs_disasm(e->cs_detail, code, 15, rip, 1, &insn) == 1) {
        switch (insn->id) {
        case X86_INS_PUSH:
        case X86_INS_PUSHF:
        case X86_INS_PUSHFQ:
        case X86_INS_CALL:
        case X86_INS_ENTER:
            write = PF_W;
            break;
        case X86_INS_MOVSB:
        case X86_INS_MOVSW:
        case X86_INS_MOVSD:
        case X86_INS_MOVSQ:
            /* two memory operands: the destination is at rdi */
            write = (cr2 >> 12) == (reg(e->uc, UC_X86_REG_RDI) >> 12) ? PF_W : 0;
            break;
        default: {
            const cs_x86 *x = &insn->detail->x86;
            for (int i = 0; i < x->op_count; i++)
                if (x->operands[i].type == X86_OP_MEM && (x->operands[i].access & CS_AC_WRITE))
                    write = PF_W;
            break;
        }
        }
        cs_free(insn, 1);
    }
    return present | write;
}

int emu_pte_chain(struct vm *vm, uint64_t va, uint64_t *ent[4])
{
    uc_engine *uc = emu_of(vm)->uc;
    uint64_t table = reg(uc, UC_X86_REG_CR3) & PTE_ADDR;
    int n = 0;
    for (int level = 3; level >= 0; level--) {
        uint64_t *e = vm_gpa(vm, table + ((va >> (12 + 9 * level)) & 511) * 8, 8);
        if (!e || !(*e & PTE_P))
            break;
        ent[n++] = e;
        if (level == 0 || ((level == 1 || level == 2) && (*e & PTE_PS)))
            break;
        table = *e & PTE_ADDR;
    }
    return n;
}

int emu_translate(struct vm *vm, uint64_t va, int write, int user, uint64_t *pa, unsigned *pf)
{
    if (walk(vm, va, write, 0, pa, pf) < 0) {
        *pf |= user ? PF_U : 0;
        return -1;
    }
    if (user) { /* every level must allow user access (and writes, whatever CR0.WP) */
        uint64_t *ent[4];
        int n = emu_pte_chain(vm, va, ent);
        for (int i = 0; i < n; i++)
            if (!(*ent[i] & 4u) || (write && !(*ent[i] & PTE_W))) {
                *pf = PF_P | PF_U | (write ? PF_W : 0);
                return -1;
            }
    }
    walk(vm, va, write, 1, pa, pf); /* the accessed (dirty) bits, as the CPU sets them */
    return 0;
}

int emu_page_ok(struct vm *vm, uint64_t va, int write)
{
    uint64_t pa;
    unsigned pf;
    return walk(vm, va, write, 0, &pa, &pf) == 0;
}

int emu_is_soft_int(const struct vm *vm, int vector, uint64_t rip)
{
    const uint8_t *b = rip >= 2 ? vm_gpa(vm, rip - 2, 2) : NULL;
    if (!b)
        return 0;
    return (b[0] == 0xcd && b[1] == vector) || (vector == 3 && b[1] == 0xcc) ||
           (vector == 4 && b[1] == 0xce) || (vector == 1 && b[1] == 0xf1);
}

static int has_error_code(int v)
{
    return v == 8 || v == 10 || v == 11 || v == 12 || v == 13 || v == 14 || v == 17 || v == 21;
}

static int contributory(int v)
{
    return v == 0 || (v >= 10 && v <= 13);
}

/* Deliver one exception; returns 0, or -1 with (*nv, *nerr, *ncr2) the
 * exception delivery itself raised. */
static int deliver_one(struct vm *vm, int vector, int is_int, uint32_t errcode, int *nv,
                       uint32_t *nerr, uint64_t *ncr2)
{
    uc_engine *uc = emu_of(vm)->uc;
    uc_x86_mmr idtr, tr, gdtr;
    uc_reg_read(uc, UC_X86_REG_IDTR, &idtr);
    uc_reg_read(uc, UC_X86_REG_TR, &tr);
    uc_reg_read(uc, UC_X86_REG_GDTR, &gdtr);
    int cpl = emu_cpl(vm);
    uint32_t ext = is_int ? 0 : 1;
    *nv = 13;
    *nerr = (uint32_t)vector * 8 + 2 + ext; /* #GP naming the IDT entry */
    *ncr2 = 0;
    if ((uint64_t)vector * 16 + 15 > idtr.limit)
        return -1;
    uint64_t pa;
    unsigned pf;
    uint64_t gva = idtr.base + (uint64_t)vector * 16;
    const uint8_t *g = NULL;
    if (walk(vm, gva, 0, 1, &pa, &pf) == 0)
        g = vm_gpa(vm, pa, 16);
    if (!g) {
        *nv = 14, *nerr = pf, *ncr2 = gva;
        return -1;
    }
    unsigned type = g[5] & 0xf;
    if (!(g[5] & 0x80) || (type != 0xe && type != 0xf))
        return -1;
    if (is_int && (int)((g[5] >> 5) & 3) < cpl)
        return -1; /* int n/int3/into through a gate more privileged than the caller: #GP */
    uint16_t sel = (uint16_t)(g[2] | g[3] << 8);
    /* the handler's code segment: a present code descriptor in the GDT */
    *nerr = sel & 0xfffcu;
    if (!(sel & 0xfffcu) || (sel & 4) || (uint64_t)(sel & ~7u) + 7 > gdtr.limit)
        return -1;
    const uint8_t *d = NULL;
    if (walk(vm, gdtr.base + (sel & ~7u), 0, 0, &pa, &pf) == 0)
        d = vm_gpa(vm, pa, 8);
    if (!d)
        return -1;
    uint32_t e2 = d[4] | (uint32_t)d[5] << 8 | (uint32_t)d[6] << 16 | (uint32_t)d[7] << 24;
    int dpl = (int)((e2 >> 13) & 3);
    if ((e2 & 0x1800u) != 0x1800u || dpl > cpl) /* S and code; no outer rings */
        return -1;
    if (!(e2 & 0x8000u)) { /* not present: #NP(selector) */
        *nv = 11;
        return -1;
    }
    int new_cpl = (e2 & 0x400u) ? cpl : dpl; /* a conforming segment keeps the CPL */
    uint64_t target = g[0] | (uint64_t)g[1] << 8 | (uint64_t)g[6] << 16 | (uint64_t)g[7] << 24 |
                      (uint64_t)g[8] << 32 | (uint64_t)g[9] << 40 | (uint64_t)g[10] << 48 |
                      (uint64_t)g[11] << 56;
    unsigned ist = g[4] & 7;
    uint64_t rsp = reg(uc, UC_X86_REG_RSP);
    uint64_t old_rsp = rsp;
    if (ist) {
        uint64_t at = tr.base + 0x24 + (ist - 1) * 8;
        const uint64_t *p = NULL;
        if (walk(vm, at, 0, 1, &pa, &pf) == 0)
            p = vm_gpa(vm, pa, 8);
        if (!p) {
            *nv = 14, *nerr = pf, *ncr2 = at;
            return -1;
        }
        memcpy(&rsp, p, 8);
    } else if (new_cpl < cpl) { /* to an inner ring: the TSS's stack for it */
        uint64_t at = tr.base + 4 + (uint64_t)new_cpl * 8;
        const uint64_t *p = NULL;
        if (walk(vm, at, 0, 1, &pa, &pf) == 0)
            p = vm_gpa(vm, pa, 8);
        if (!p) {
            *nv = 14, *nerr = pf, *ncr2 = at;
            return -1;
        }
        memcpy(&rsp, p, 8);
    }
    rsp &= ~0xfull;
    uint64_t frame[6];
    int n = 0;
    if (has_error_code(vector) && !is_int)
        frame[n++] = errcode;
    frame[n++] = reg(uc, UC_X86_REG_RIP);
    frame[n++] = reg(uc, UC_X86_REG_CS);
    /* a fault (the instruction did not complete) pushes RFLAGS with RF set,
     * as hardware does and KVM shows; traps (#DB, #BP, #OF) and int n do not */
    int fault = !is_int && vector != 1 && vector != 3 && vector != 4 && vector != 8 &&
                vector != 18 && vector < 32;
    frame[n++] = reg(uc, UC_X86_REG_RFLAGS) | (fault ? 1ull << 16 : 0);
    frame[n++] = old_rsp;
    frame[n++] = reg(uc, UC_X86_REG_SS);
    /* check every slot first: a fault while pushing leaves memory as it was */
    uint64_t slot_pa[6];
    for (int i = 0; i < n; i++) {
        uint64_t va = rsp - 8 * (uint64_t)(n - i);
        if (walk(vm, va, 1, 0, &slot_pa[i], &pf) < 0 || !vm_gpa(vm, slot_pa[i], 8)) {
            *nv = 14, *nerr = pf, *ncr2 = va;
            return -1;
        }
    }
    for (int i = 0; i < n; i++) {
        uint64_t va = rsp - 8 * (uint64_t)(n - i);
        walk(vm, va, 1, 1, &slot_pa[i], &pf);
        memcpy(vm_gpa(vm, slot_pa[i], 8), &frame[i], 8);
    }
    rsp -= 8 * (uint64_t)n;
    uint64_t fl = reg(uc, UC_X86_REG_RFLAGS);
    fl &= ~((1ull << 8) | (1ull << 14) | (1ull << 16) | (1ull << 17)); /* TF NT RF VM */
    if (type == 0xe)
        fl &= ~(1ull << 9); /* IF */
    /* CS (and into an inner ring SS: the null selector) with their hidden
     * parts and the CPL: Unicorn's register writes set only selectors */
    emu_load_cs_ss(vm, (uint16_t)((sel & ~3u) | (unsigned)new_cpl), e2, new_cpl != cpl,
                   (uint16_t)new_cpl, (uint32_t)new_cpl << 13);
    uc_reg_write(uc, UC_X86_REG_RSP, &rsp);
    uc_reg_write(uc, UC_X86_REG_RFLAGS, &fl);
    uc_reg_write(uc, UC_X86_REG_RIP, &target);
    return 0;
}

static const char *const names[32] = {"#DE", "#DB",  "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
                                      "#DF", "#CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
                                      "#MF", "#AC",  "#MC", "#XM", "#VE", "#CP"};

int emu_deliver(struct vm *vm, int vector, int is_int, int err_from, uint32_t err, uint64_t rip,
                struct engine_event *ev)
{
    uc_engine *uc = emu_of(vm)->uc;
    uint64_t rip_at = rip;
    uc_reg_write(uc, UC_X86_REG_RIP, &rip_at);
    if (err_from == EMU_ERR_QEMU)
        err = emu_exception_error(vm);
    else if (err_from == EMU_ERR_DERIVE)
        err = vector == 14 ? pf_error(vm, rip, reg(uc, UC_X86_REG_CR2)) : 0;
    struct engine_regs at_fault;
    vm->ops->get_regs(vm, &at_fault);
    int first = vector;
    for (int depth = 0; depth < 4; depth++) {
        int nv;
        uint32_t nerr;
        uint64_t ncr2;
        if (deliver_one(vm, vector, is_int, err, &nv, &nerr, &ncr2) == 0)
            return 0;
        if (nv == 14)
            uc_reg_write(uc, UC_X86_REG_CR2, &ncr2);
        if (vector == 8)
            break; /* a fault delivering a double fault: shutdown */
        if ((contributory(vector) || vector == 14) && (contributory(nv) || nv == 14) &&
            !(contributory(vector) && nv == 14)) {
            nv = 8;
            nerr = 0;
        }
        vector = nv;
        err = nerr;
        is_int = 0;
    }
    vm->ops->set_regs(vm, &at_fault);
    ev->kind = ENGINE_EV_FAULT;
    ev->fault.kind = ENGINE_FAULT_TRIPLE;
    snprintf(ev->fault.msg, sizeof ev->fault.msg,
             "guest triple fault: the guest took an exception it could not handle (%s at rip "
             "0x%" PRIx64 ", and the exceptions delivering it failed)",
             first >= 0 && first < 32 && names[first] ? names[first] : "an exception", rip);
    return -1;
}
