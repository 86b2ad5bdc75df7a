/*
 * emu_scan.c - the emulator engine's code scan (emu_internal.h): decoded
 * blocks and special addresses by address, and the decoding of each new
 * translation block (capstone) that puts code hooks where the guest must stop
 * exactly (after in/out and string I/O, at rdtsc/rdtscp/rdrand/rdseed, hlt,
 * syscall/sysret, rdmsr/wrmsr, VEX).
 */
#include "engine/emu/emu_internal.h"
#include "engine/emu/emu_x86.h"

#include <stdlib.h>

/* ---- tables by address (open addressing, never shrink) ---- */

static size_t hash_addr(uint64_t a, size_t cap)
{
    return (size_t)((a * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

struct emu_block *emu_block_find(struct emu_engine *e, uint64_t addr)
{
    if (!e->capblocks)
        return NULL;
    for (size_t i = hash_addr(addr, e->capblocks);; i = (i + 1) & (e->capblocks - 1)) {
        struct emu_block *b = &e->blocks[i];
        if (b->off == NULL)
            return NULL;
        if (b->addr == addr)
            return b;
    }
}

/* Insert (b) (its off array is taken over); replaces a block at the same address. */
static struct emu_block *block_put(struct emu_engine *e, struct emu_block b)
{
    if ((e->nblocks + 1) * 2 > e->capblocks) {
        size_t cap = e->capblocks ? e->capblocks * 2 : 1024;
        struct emu_block *nb = calloc(cap, sizeof *nb);
        if (!nb)
            return NULL;
        for (size_t i = 0; i < e->capblocks; i++) {
            if (!e->blocks[i].off)
                continue;
            size_t j = hash_addr(e->blocks[i].addr, cap);
            while (nb[j].off)
                j = (j + 1) & (cap - 1);
            nb[j] = e->blocks[i];
        }
        free(e->blocks);
        e->blocks = nb;
        e->capblocks = cap;
        e->cur = NULL; /* pointers into the old table are gone */
    }
    e->last = NULL; /* the hot path's one-entry cache may point at the slot */
    size_t i = hash_addr(b.addr, e->capblocks);
    while (e->blocks[i].off && e->blocks[i].addr != b.addr)
        i = (i + 1) & (e->capblocks - 1);
    b.span = b.size;
    if (e->blocks[i].off) {
        if (e->blocks[i].span > b.span)
            b.span = e->blocks[i].span;
        free(e->blocks[i].off);
    } else {
        e->nblocks++;
    }
    e->blocks[i] = b;
    return &e->blocks[i];
}

struct emu_spot *emu_spot_find(struct emu_engine *e, uint64_t addr)
{
    if (!e->capspots)
        return NULL;
    for (size_t i = hash_addr(addr, e->capspots);; i = (i + 1) & (e->capspots - 1)) {
        struct emu_spot *s = &e->spots[i];
        if (!s->hooked)
            return NULL;
        if (s->addr == addr)
            return s;
    }
}

/* ---- special addresses ---- */

/* Drop translated code holding (addr) so that a hook added or deleted there
 * takes effect. Only code the guest ran can be translated, and invalidating
 * an address translates it (a page walk that sets accessed bits in the
 * guest's page tables: a breakpoint on code never run, or on data, would
 * change what the guest computes), so only addresses inside a decoded block
 * are invalidated. */
static void invalidate(struct emu_engine *e, uint64_t addr)
{
    if (addr >= e->decoding && addr - e->decoding < e->decoding_size) {
        uc_ctl_remove_cache(e->uc, addr, addr + 1);
        return;
    }
    for (size_t i = 0; i < e->capblocks; i++) {
        const struct emu_block *b = &e->blocks[i];
        if (b->off && addr >= b->addr && addr - b->addr < (b->span ? b->span : 1)) {
            uc_ctl_remove_cache(e->uc, addr, addr + 1);
            return;
        }
    }
}

int emu_spot_set(struct vm *vm, uint64_t addr, unsigned flags, const char *what)
{
    struct emu_engine *e = emu_of(vm);
    struct emu_spot *s = emu_spot_find(e, addr);
    if (s) {
        s->flags |= flags;
        if (what)
            s->what = what;
        if (s->live)
            return 0;
        if (uc_hook_add(e->uc, &s->hook, UC_HOOK_CODE, (void *)emu_on_spot, vm, addr, addr) !=
            UC_ERR_OK) {
            s->flags &= ~flags;
            return -1;
        }
        s->live = 1;
        invalidate(e, addr);
        return 1;
    }
    if ((e->nspots + 1) * 2 > e->capspots) {
        size_t cap = e->capspots ? e->capspots * 2 : 256;
        struct emu_spot *ns = calloc(cap, sizeof *ns);
        if (!ns)
            return -1;
        for (size_t i = 0; i < e->capspots; i++) {
            struct emu_spot *o = &e->spots[i];
            if (!o->hooked)
                continue;
            size_t j = hash_addr(o->addr, cap);
            while (ns[j].hooked)
                j = (j + 1) & (cap - 1);
            ns[j] = *o;
        }
        free(e->spots);
        e->spots = ns;
        e->capspots = cap;
    }
    size_t i = hash_addr(addr, e->capspots);
    while (e->spots[i].hooked)
        i = (i + 1) & (e->capspots - 1);
    uc_hook h;
    if (uc_hook_add(e->uc, &h, UC_HOOK_CODE, (void *)emu_on_spot, vm, addr, addr) != UC_ERR_OK)
        return -1;
    e->spots[i] = (struct emu_spot){
        .addr = addr, .flags = flags, .what = what, .hooked = 1, .live = 1, .hook = h};
    e->nspots++;
    /* code translated before the hook existed does not call it */
    invalidate(e, addr);
    return 1;
}

void emu_spot_clear(struct vm *vm, uint64_t addr, unsigned flags)
{
    struct emu_spot *s = emu_spot_find(emu_of(vm), addr);
    if (s)
        s->flags &= ~flags;
}

void emu_spot_release(struct vm *vm, uint64_t addr, unsigned flags)
{
    struct emu_engine *e = emu_of(vm);
    struct emu_spot *s = emu_spot_find(e, addr);
    if (!s)
        return;
    s->flags &= ~flags;
    if (s->flags || !s->live)
        return;
    uc_hook_del(e->uc, s->hook);
    s->live = 0;
    invalidate(e, addr);
}

/* ---- the code scan ---- */

/* Decode the block [addr, addr+size) once: its instruction offsets, and code
 * hooks where the guest must stop exactly. Returns the block, with (*added)
 * set if a new hook was added (the block must be translated again). */
struct emu_block *emu_block_decode(struct vm *vm, uint64_t addr, uint32_t size, int *added)
{
    struct emu_engine *e = emu_of(vm);
    *added = 0;
    const uint8_t *code = vm_gpa(vm, addr, size);
    uint16_t *off = malloc((size ? size : 1) * sizeof *off);
    if (!off)
        return NULL;
    uint32_t n = 0;
    if (code) {
        e->decoding = addr;
        e->decoding_size = size ? size : 1;
        cs_insn *insn = cs_malloc(e->cs);
        size_t left = size;
        uint64_t a = addr;
        while (left && insn && cs_disasm_iter(e->cs, &code, &left, &a, insn)) {
            off[n++] = (uint16_t)(insn->address - addr);
            unsigned flags = 0;
            uint64_t at = insn->address;
            const char *what = NULL;
            switch (insn->id) {
            case X86_INS_OUT:
            case X86_INS_IN:
                flags = EMU_AT_IO_AFTER;
                at = insn->address + insn->size;
                break;
            case X86_INS_OUTSB:
            case X86_INS_OUTSW:
            case X86_INS_OUTSD:
            case X86_INS_INSB:
            case X86_INS_INSW:
            case X86_INS_INSD: {
                /* string I/O: noted at the instruction (each rep iteration),
                 * reported once it completed, at the instruction after it */
                unsigned out = insn->id == X86_INS_OUTSB || insn->id == X86_INS_OUTSW ||
                               insn->id == X86_INS_OUTSD;
                int rc = emu_spot_set(vm, insn->address,
                                      EMU_AT_STRIO | (out ? EMU_AT_STRIO_OUT : 0), NULL);
                if (rc > 0)
                    *added = 1;
                flags = EMU_AT_IO_AFTER;
                at = insn->address + insn->size;
                break;
            }
            case X86_INS_RDTSC:
                flags = EMU_AT_CONTRACT, what = "rdtsc";
                break;
            case X86_INS_RDTSCP:
                flags = EMU_AT_CONTRACT, what = "rdtscp";
                break;
            case X86_INS_RDRAND:
                flags = EMU_AT_CONTRACT, what = "rdrand";
                break;
            case X86_INS_RDSEED:
                flags = EMU_AT_CONTRACT, what = "rdseed";
                break;
            case X86_INS_HLT:
                flags = EMU_AT_HLT;
                break;
            default:
                flags = emu_insn_flags(insn->id, insn->bytes[0]);
                if (flags & EMU_AT_VEX)
                    what = "an AVX (VEX/EVEX-encoded) instruction";
                break;
            }
            if (flags) {
                int rc = emu_spot_set(vm, at, flags, what);
                if (rc > 0)
                    *added = 1;
            }
        }
        if (insn)
            cs_free(insn, 1);
        e->decoding = e->decoding_size = 0;
        if (left && n < size)
            off[n++] = (uint16_t)(size - left); /* undecodable: the block's last instruction */
    }
    if (n == 0)
        off[n++] = 0;
    return block_put(e, (struct emu_block){.addr = addr, .size = size, .icount = n, .off = off});
}

void emu_run_free(struct vm *vm)
{
    struct emu_engine *e = emu_of(vm);
    for (size_t i = 0; i < e->capblocks; i++)
        free(e->blocks[i].off);
    free(e->blocks);
    free(e->spots);
    e->blocks = NULL;
    e->spots = NULL;
    e->last = e->cur = NULL;
    e->capblocks = e->nblocks = e->capspots = e->nspots = 0;
}
