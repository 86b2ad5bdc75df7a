/*
 * lookup.c - queries on the debugging information read by debuginfo.c:
 * addresses to line rows and functions, source lines to addresses,
 * variables and symbols by name, call frame information, type names.
 */
#include "dap/di.h"

#include <dwarf.h>
#include <stdio.h>
#include <string.h>

/* ---- queries ---- */

const struct dap_row *dap_di_row_at(const struct dap_di *di, uint64_t addr, uint64_t *end)
{
    size_t lo = 0, hi = di->nrows;
    while (lo < hi) { /* first row with addr > target */
        size_t mid = (lo + hi) / 2;
        if (di->rows[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || di->rows[lo - 1].line == 0)
        return NULL;
    const struct dap_row *r = &di->rows[lo - 1];
    if (end)
        *end = lo < di->nrows ? di->rows[lo].addr : r->addr + 1;
    return r;
}

const char *dap_di_file(const struct dap_di *di, unsigned f)
{
    return f < di->nfiles ? di->files[f] : "";
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

int dap_di_line_addr(const struct dap_di *di, const char *path, unsigned line, uint64_t *addr,
                     unsigned *actual)
{
    int exact = 0;
    for (size_t f = 0; f < di->nfiles; f++)
        exact |= strcmp(di->files[f], path) == 0;
    for (unsigned l = line; l < line + 50; l++) {
        int found = 0;
        uint64_t best = 0;
        for (size_t i = 0; i < di->nrows; i++) {
            const struct dap_row *r = &di->rows[i];
            if (r->line != l || !r->is_stmt)
                continue;
            const char *fp = dap_di_file(di, r->file);
            if (exact ? strcmp(fp, path) != 0 : strcmp(base_name(fp), base_name(path)) != 0)
                continue;
            if (!found || r->addr < best)
                best = r->addr;
            found = 1;
        }
        if (found) {
            *addr = best;
            *actual = l;
            return 0;
        }
    }
    return -1;
}

const struct dap_func *dap_di_func_at(const struct dap_di *di, uint64_t pc)
{
    size_t lo = 0, hi = di->nfuncs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (di->funcs[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || pc >= di->funcs[lo - 1].hi)
        return NULL;
    return &di->funcs[lo - 1];
}

const struct dap_func *dap_di_func_named(const struct dap_di *di, const char *name)
{
    for (size_t i = 0; i < di->nfuncs; i++)
        if (strcmp(di->funcs[i].name, name) == 0)
            return &di->funcs[i];
    return NULL;
}

uint64_t dap_di_after_prologue(const struct dap_di *di, const struct dap_func *f)
{
    uint64_t end;
    const struct dap_row *r = dap_di_row_at(di, f->lo, &end);
    if (!r)
        return f->lo;
    /* the first row whose line differs from the opening line's, inside f */
    for (const struct dap_row *q = r + 1; q < di->rows + di->nrows && q->addr < f->hi; q++) {
        if (q->line == 0)
            break;
        if (q->line != r->line && q->is_stmt)
            return q->addr;
    }
    return f->lo;
}

const struct dap_var *dap_di_global(const struct dap_di *di, size_t cu, size_t i)
{
    for (size_t k = 0; k < di->nglobals; k++) {
        if (cu != (size_t)-1 && di->global_cu[k] != cu)
            continue;
        if (i-- == 0)
            return &di->globals[k];
    }
    return NULL;
}

const struct dap_var *dap_di_global_named(const struct dap_di *di, size_t cu, const char *name)
{
    const struct dap_var *any = NULL;
    for (size_t k = 0; k < di->nglobals; k++) {
        if (strcmp(di->globals[k].name, name) != 0)
            continue;
        if (di->global_cu[k] == cu)
            return &di->globals[k];
        if (!any)
            any = &di->globals[k];
    }
    return any;
}

const char *dap_di_symbol(const struct dap_di *di, uint64_t addr, uint64_t *offset)
{
    size_t lo = 0, hi = di->nsyms;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (di->syms[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct sym *s = &di->syms[lo - 1];
    if (addr >= s->addr + (s->size ? s->size : 1))
        return NULL;
    *offset = addr - s->addr;
    return s->name;
}

int dap_di_cfi(const struct dap_di *di, uint64_t pc, int *cfa_reg, int64_t *cfa_off,
               int saved[DAP_CFI_REGS], int64_t off[DAP_CFI_REGS])
{
    Dwarf_Fde fde;
    Dwarf_Addr lo, hi, rowpc, subsequent;
    Dwarf_Small vt;
    Dwarf_Signed offrel, reg, o;
    Dwarf_Ptr block;
    Dwarf_Bool more;
    Dwarf_Error e = NULL;
    if (!di->fdes || dwarf_get_fde_at_pc(di->fdes, pc, &fde, &lo, &hi, &e) != DW_DLV_OK)
        return -1;
    if (dwarf_get_fde_info_for_cfa_reg3_b(fde, pc, &vt, &offrel, &reg, &o, &block, &rowpc, &more,
                                          &subsequent, &e) != DW_DLV_OK ||
        vt != DW_EXPR_OFFSET || reg < 0 || reg >= DAP_CFI_REGS)
        return -1;
    *cfa_reg = (int)reg;
    *cfa_off = o;
    for (int r = 0; r < DAP_CFI_REGS; r++) {
        saved[r] = -1;
        off[r] = 0;
        if (dwarf_get_fde_info_for_reg3_b(fde, (Dwarf_Half)r, pc, &vt, &offrel, &reg, &o, &block,
                                          &rowpc, &more, &subsequent, &e) != DW_DLV_OK)
            continue;
        if (vt == DW_EXPR_OFFSET && offrel && reg == DW_FRAME_CFA_COL3) {
            saved[r] = 1;
            off[r] = o;
        } else if (reg == DW_FRAME_SAME_VAL || reg == r) {
            saved[r] = 0;
        }
    }
    return 0;
}

/* ---- types ---- */

struct dap_type *dap_type_strip(struct dap_type *t)
{
    for (int i = 0; t && i < 16 && (t->kind == DT_TYPEDEF || t->kind == DT_QUAL); i++)
        t = t->target;
    return t;
}

static void type_name_into(struct dap_type *t, char *buf, size_t n, int depth)
{
    if (!t) {
        snprintf(buf, n, "void");
        return;
    }
    if (depth > 8) {
        snprintf(buf, n, "...");
        return;
    }
    char inner[64];
    switch (t->kind) {
    case DT_PTR:
        type_name_into(t->target, inner, sizeof inner, depth + 1);
        snprintf(buf, n, "%s *", inner);
        return;
    case DT_ARRAY:
        type_name_into(t->target, inner, sizeof inner, depth + 1);
        snprintf(buf, n, "%s[%llu]", inner, (unsigned long long)t->count);
        return;
    case DT_QUAL:
        type_name_into(t->target, buf, n, depth + 1);
        return;
    case DT_STRUCT:
        snprintf(buf, n, "struct %s", t->name ? t->name : "<anonymous>");
        return;
    case DT_UNION:
        snprintf(buf, n, "union %s", t->name ? t->name : "<anonymous>");
        return;
    case DT_ENUM:
        snprintf(buf, n, "enum %s", t->name ? t->name : "<anonymous>");
        return;
    case DT_FUNC:
        snprintf(buf, n, "function");
        return;
    default:
        snprintf(buf, n, "%s", t->name ? t->name : "?");
    }
}

const char *dap_type_name(struct dap_type *t)
{
    if (!t)
        return "void";
    if (!t->display_done) {
        type_name_into(t, t->display, sizeof t->display, 0);
        t->display_done = 1;
    }
    return t->display;
}
