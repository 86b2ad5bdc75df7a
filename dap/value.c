/*
 * value.c - values of the guest's variables: stack unwinding with call frame
 * information, DWARF location expressions, formatting, and a small
 * expression evaluator for evaluate and data breakpoints. See internal.h.
 */
#include "dap/internal.h"

#include <ctype.h>
#include <dwarf.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* gdb register numbers (struct gdb_regs order) of DWARF registers 0-16. */
static const unsigned dwarf_to_gdb[DAP_CFI_REGS] = {0, 3,  2,  1,  4,  5,  6,  7, 8,
                                                    9, 10, 11, 12, 13, 14, 15, 16};

#define DWARF_RBP 6
#define DWARF_RSP 7
#define DWARF_RA 16

static int read_u64(const struct dap_machine *mc, uint64_t addr, uint64_t *v)
{
    return mc->ops->read_mem(mc->t, addr, v, 8);
}

/* Callee-saved registers of the x86-64 psABI: rbx, rbp, r12-r15. */
static int callee_saved(int r)
{
    return r == 3 || r == 6 || (r >= 12 && r <= 15);
}

int dap_unwind(const struct dap_di *di, const struct dap_machine *mc, const struct gdb_regs *r,
               struct dap_frame *frames, int max)
{
    struct dap_frame cur;
    memset(&cur, 0, sizeof cur);
    for (int i = 0; i < DAP_CFI_REGS; i++) {
        cur.regs[i] = *(const uint64_t *)gdb_reg_cptr(r, dwarf_to_gdb[i]);
        cur.known[i] = 1;
    }
    cur.pc = r->rip;
    int n = 0;
    while (n < max) {
        /* an outer frame's pc is a return address: look up the call instruction */
        uint64_t look = n ? cur.pc - 1 : cur.pc;
        cur.func = dap_di_func_at(di, look);
        cur.lookup_pc = look;
        int cfa_reg, saved[DAP_CFI_REGS];
        int64_t cfa_off, off[DAP_CFI_REGS];
        int have_cfi = dap_di_cfi(di, look, &cfa_reg, &cfa_off, saved, off) == 0;
        if (have_cfi && cur.known[cfa_reg]) {
            cur.cfa = cur.regs[cfa_reg] + (uint64_t)cfa_off;
        } else if (cur.known[DWARF_RBP]) {
            /* frame pointer chain: [rbp] = caller's rbp, [rbp+8] = return address */
            have_cfi = 0;
            cur.cfa = cur.regs[DWARF_RBP] + 16;
            for (int k = 0; k < DAP_CFI_REGS; k++)
                saved[k] = callee_saved(k) ? 0 : -1;
            saved[DWARF_RBP] = 1;
            off[DWARF_RBP] = -16;
            saved[DWARF_RA] = 1;
            off[DWARF_RA] = -8;
        } else {
            cur.cfa = 0;
        }
        frames[n++] = cur;
        if (!cur.cfa || saved[DWARF_RA] != 1 || n >= max)
            break;
        struct dap_frame up;
        memset(&up, 0, sizeof up);
        uint64_t ra;
        if (read_u64(mc, cur.cfa + (uint64_t)off[DWARF_RA], &ra) < 0 || ra == 0)
            break;
        for (int k = 0; k < DWARF_RA; k++) {
            if (saved[k] == 1) {
                up.known[k] = read_u64(mc, cur.cfa + (uint64_t)off[k], &up.regs[k]) == 0;
            } else if (saved[k] == 0 && callee_saved(k) && cur.known[k]) {
                up.regs[k] = cur.regs[k];
                up.known[k] = 1;
            }
        }
        up.regs[DWARF_RSP] = cur.cfa;
        up.known[DWARF_RSP] = 1;
        up.regs[DWARF_RA] = ra;
        up.known[DWARF_RA] = 1;
        up.pc = ra;
        if (!dap_di_func_at(di, ra - 1) && !dap_di_symbol(di, ra - 1, &(uint64_t){0}))
            break; /* not code of the image: the bottom of the stack */
        if (n > 1 && up.regs[DWARF_RSP] <= frames[n - 1].regs[DWARF_RSP])
            break; /* no progress: a corrupt stack */
        cur = up;
    }
    return n;
}

/* ---- location expressions ---- */

static const struct dap_locexpr *loc_at(const struct dap_var *v, uint64_t pc)
{
    for (size_t i = 0; i < v->nlocs; i++)
        if (v->locs[i].all || (pc >= v->locs[i].lo && pc < v->locs[i].hi))
            return &v->locs[i];
    return NULL;
}

static void unavailable(struct dap_value *out, const char *why)
{
    out->where = DV_NONE;
    out->reason = why;
}

void dap_var_value(const struct dap_var *v, const struct dap_frame *f, const struct dap_machine *mc,
                   struct dap_value *out)
{
    memset(out, 0, sizeof *out);
    out->type = v->type;
    const struct dap_locexpr *l = loc_at(v, f ? f->lookup_pc : 0);
    if (!l) {
        unavailable(out, "<optimized out>");
        return;
    }
    uint64_t st[32];
    int sp = 0;
    for (size_t i = 0; i < l->nops; i++) {
        const struct dap_op *op = &l->ops[i];
        uint8_t a = op->atom;
        if (sp >= 30) {
            unavailable(out, "<location too complex>");
            return;
        }
        if (a >= DW_OP_lit0 && a <= DW_OP_lit31) {
            st[sp++] = a - DW_OP_lit0;
        } else if ((a >= DW_OP_reg0 && a <= DW_OP_reg31) || a == DW_OP_regx) {
            unsigned r = a == DW_OP_regx ? (unsigned)op->a : (unsigned)(a - DW_OP_reg0);
            if (i + 1 != l->nops) {
                unavailable(out, "<optimized out (in pieces)>");
                return;
            }
            if (!f || r >= DAP_CFI_REGS || !f->known[r]) {
                unavailable(out, "<not saved>");
                return;
            }
            out->where = DV_BYTES;
            memcpy(out->bytes, &f->regs[r], 8);
            return;
        } else if ((a >= DW_OP_breg0 && a <= DW_OP_breg31) || a == DW_OP_bregx) {
            unsigned r = a == DW_OP_bregx ? (unsigned)op->a : (unsigned)(a - DW_OP_breg0);
            uint64_t o = a == DW_OP_bregx ? op->b : op->a;
            if (!f || r >= DAP_CFI_REGS || !f->known[r]) {
                unavailable(out, "<not saved>");
                return;
            }
            st[sp++] = f->regs[r] + o;
        } else {
            switch (a) {
            case DW_OP_addr:
            case DW_OP_const1u:
            case DW_OP_const2u:
            case DW_OP_const4u:
            case DW_OP_const8u:
            case DW_OP_constu:
            case DW_OP_const1s:
            case DW_OP_const2s:
            case DW_OP_const4s:
            case DW_OP_const8s:
            case DW_OP_consts:
                st[sp++] = op->a;
                break;
            case DW_OP_fbreg:
                if (!f || !f->cfa) {
                    unavailable(out, "<no frame>");
                    return;
                }
                st[sp++] = f->cfa + op->a;
                break;
            case DW_OP_call_frame_cfa:
                if (!f || !f->cfa) {
                    unavailable(out, "<no frame>");
                    return;
                }
                st[sp++] = f->cfa;
                break;
            case DW_OP_plus_uconst:
                if (sp < 1)
                    goto bad;
                st[sp - 1] += op->a;
                break;
            case DW_OP_plus:
            case DW_OP_minus:
            case DW_OP_and:
            case DW_OP_or:
            case DW_OP_mul:
            case DW_OP_shl:
            case DW_OP_shr:
                if (sp < 2)
                    goto bad;
                sp--;
                if (a == DW_OP_plus)
                    st[sp - 1] += st[sp];
                else if (a == DW_OP_minus)
                    st[sp - 1] -= st[sp];
                else if (a == DW_OP_and)
                    st[sp - 1] &= st[sp];
                else if (a == DW_OP_or)
                    st[sp - 1] |= st[sp];
                else if (a == DW_OP_mul)
                    st[sp - 1] *= st[sp];
                else if (a == DW_OP_shl)
                    st[sp - 1] = st[sp] < 64 ? st[sp - 1] << st[sp] : 0;
                else
                    st[sp - 1] = st[sp] < 64 ? st[sp - 1] >> st[sp] : 0;
                break;
            case DW_OP_neg:
            case DW_OP_not:
                if (sp < 1)
                    goto bad;
                st[sp - 1] = a == DW_OP_neg ? 0 - st[sp - 1] : ~st[sp - 1];
                break;
            case DW_OP_dup:
                if (sp < 1)
                    goto bad;
                st[sp] = st[sp - 1];
                sp++;
                break;
            case DW_OP_drop:
                if (sp < 1)
                    goto bad;
                sp--;
                break;
            case DW_OP_deref:
                if (sp < 1 || read_u64(mc, st[sp - 1], &st[sp - 1]) < 0)
                    goto bad;
                break;
            case DW_OP_stack_value:
                if (sp < 1)
                    goto bad;
                out->where = DV_BYTES;
                memcpy(out->bytes, &st[sp - 1], 8);
                return;
            case DW_OP_piece:
                unavailable(out, "<optimized out (in pieces)>");
                return;
            default:
                unavailable(out, "<optimized out>");
                return;
            }
        }
    }
    if (sp < 1)
        goto bad;
    out->where = DV_MEM;
    out->addr = st[sp - 1];
    return;
bad:
    unavailable(out, "<invalid location>");
}

/* ---- reading and formatting ---- */

uint64_t dap_value_size(const struct dap_value *v)
{
    if (!v->type)
        return 8;
    /* an array without DW_AT_byte_size: count times the element's size; bounded,
     * since hostile DWARF can make an array its own element */
    uint64_t mult = 1;
    struct dap_type *t = dap_type_strip(v->type);
    for (int depth = 0; t && depth < 8; depth++) {
        if (t->kind != DT_ARRAY || t->size || !t->target)
            return mult * t->size;
        mult *= t->count;
        t = dap_type_strip(t->target);
    }
    return 0;
}

/* Read (n) bytes of (v) from its start plus (off). Returns 0 or -1. */
static int value_read(const struct dap_value *v, const struct dap_machine *mc, uint64_t off,
                      void *buf, size_t n)
{
    if (v->where == DV_MEM)
        return mc->ops->read_mem(mc->t, v->addr + off, buf, n);
    if (v->where == DV_BYTES && off + n <= sizeof v->bytes) {
        memcpy(buf, v->bytes + off, n);
        return 0;
    }
    return -1;
}

/* The value of a scalar as a 64-bit integer (sign-extended for signed types). */
static int value_int(const struct dap_value *v, const struct dap_machine *mc, uint64_t *out)
{
    struct dap_type *t = dap_type_strip(v->type);
    uint64_t size = v->type ? (t ? t->size : 0) : 8;
    uint64_t x = 0;
    if (size == 0 || size > 8 || value_read(v, mc, 0, &x, (size_t)size) < 0)
        return -1;
    int sign =
        t && (t->kind == DT_INT || (t->kind == DT_CHAR && t->name && !strstr(t->name, "unsigned")));
    if (sign && size < 8 && (x >> (size * 8 - 1)) & 1)
        x |= ~0ull << (size * 8);
    *out = x;
    return 0;
}

static struct dap_type *pointee_struct(struct dap_type *t)
{
    struct dap_type *p = t && t->kind == DT_PTR ? dap_type_strip(t->target) : NULL;
    return p && (p->kind == DT_STRUCT || p->kind == DT_UNION) ? p : NULL;
}

size_t dap_value_format(const struct dap_value *v, const struct dap_machine *mc, char *buf,
                        size_t n)
{
    struct dap_type *t = dap_type_strip(v->type);
    uint64_t x = 0;
    if (v->where == DV_NONE) {
        snprintf(buf, n, "%s", v->reason ? v->reason : "<unavailable>");
        return 0;
    }
    if (!v->type) {
        if (value_int(v, mc, &x) < 0)
            goto unreadable;
        snprintf(buf, n, "0x%016" PRIx64, x);
        return 0;
    }
    if (!t) {
        snprintf(buf, n, "void");
        return 0;
    }
    switch (t->kind) {
    case DT_STRUCT:
    case DT_UNION:
        snprintf(buf, n, "{...}");
        return t->nmembers;
    case DT_ARRAY:
        snprintf(buf, n, "[%" PRIu64 "]", t->count);
        return t->count > 100000 ? 100000 : (size_t)t->count;
    case DT_FLOAT: {
        if (t->size == 4) {
            float fl;
            if (value_read(v, mc, 0, &fl, 4) < 0)
                goto unreadable;
            snprintf(buf, n, "%g", (double)fl);
        } else if (t->size == 8) {
            double d;
            if (value_read(v, mc, 0, &d, 8) < 0)
                goto unreadable;
            snprintf(buf, n, "%g", d);
        } else {
            snprintf(buf, n, "<%" PRIu64 "-byte float>", t->size);
        }
        return 0;
    }
    case DT_FUNC:
        snprintf(buf, n, "function at 0x%" PRIx64, v->addr);
        return 0;
    default:
        break;
    }
    if (value_int(v, mc, &x) < 0)
        goto unreadable;
    switch (t->kind) {
    case DT_PTR: {
        snprintf(buf, n, "0x%016" PRIx64, x);
        struct dap_type *p = dap_type_strip(t->target);
        if (!x || !p || p->kind == DT_FUNC)
            return 0;
        return pointee_struct(t) ? pointee_struct(t)->nmembers : 1;
    }
    case DT_BOOL:
        snprintf(buf, n, "%s", x ? "true" : "false");
        return 0;
    case DT_CHAR:
        if (x >= 0x20 && x < 0x7f)
            snprintf(buf, n, "%" PRId64 " '%c'", (int64_t)x, (char)x);
        else
            snprintf(buf, n, "%" PRId64, (int64_t)x);
        return 0;
    case DT_ENUM:
        for (size_t i = 0; i < t->nenums; i++)
            if ((uint64_t)t->enums[i].value == x) {
                snprintf(buf, n, "%s", t->enums[i].name);
                return 0;
            }
        snprintf(buf, n, "%" PRId64, (int64_t)x);
        return 0;
    case DT_INT:
        snprintf(buf, n, "%" PRId64, (int64_t)x);
        return 0;
    default:
        snprintf(buf, n, "%" PRIu64, x);
        return 0;
    }
unreadable:
    if (v->where == DV_MEM)
        snprintf(buf, n, "<cannot read memory at 0x%" PRIx64 ">", v->addr);
    else
        snprintf(buf, n, "<unavailable>");
    return 0;
}

/* The object (v) points to, of type (t)->target, into (out). */
static int deref(const struct dap_value *v, const struct dap_machine *mc, struct dap_value *out)
{
    uint64_t p;
    struct dap_type *t = dap_type_strip(v->type);
    if (!t || t->kind != DT_PTR || value_int(v, mc, &p) < 0)
        return -1;
    memset(out, 0, sizeof *out);
    out->type = t->target;
    out->where = DV_MEM;
    out->addr = p;
    return 0;
}

/* Member (m) of struct value (v). */
static void member_of(const struct dap_value *v, const struct dap_member *m, struct dap_value *out)
{
    memset(out, 0, sizeof *out);
    out->type = m->type;
    out->where = v->where;
    out->addr = v->addr + m->offset;
    if (v->where == DV_BYTES) {
        if (m->offset < sizeof v->bytes)
            memcpy(out->bytes, v->bytes + m->offset, sizeof v->bytes - m->offset);
        else
            unavailable(out, "<unavailable>");
    }
}

/* Element (i) of array or pointer value (v) (for a pointer: *(v + i)). */
static int element_of(const struct dap_value *v, uint64_t i, const struct dap_machine *mc,
                      struct dap_value *out)
{
    struct dap_type *t = dap_type_strip(v->type);
    if (!t || (t->kind != DT_ARRAY && t->kind != DT_PTR))
        return -1;
    uint64_t esize = dap_value_size(&(struct dap_value){.type = t->target});
    memset(out, 0, sizeof *out);
    out->type = t->target;
    out->where = DV_MEM;
    if (t->kind == DT_PTR) {
        uint64_t p;
        if (value_int(v, mc, &p) < 0)
            return -1;
        out->addr = p + i * esize;
        return 0;
    }
    if (v->where != DV_MEM)
        return -1;
    out->addr = v->addr + i * esize;
    return 0;
}

int dap_value_child(const struct dap_value *v, size_t i, const struct dap_machine *mc,
                    struct dap_value *out, char *name, size_t n)
{
    struct dap_type *t = dap_type_strip(v->type);
    if (!t || v->where == DV_NONE)
        return -1;
    switch (t->kind) {
    case DT_STRUCT:
    case DT_UNION:
        if (i >= t->nmembers)
            return -1;
        member_of(v, &t->members[i], out);
        snprintf(name, n, "%s", t->members[i].name[0] ? t->members[i].name : "<anonymous>");
        return 0;
    case DT_ARRAY:
        if (i >= t->count)
            return -1;
        snprintf(name, n, "[%zu]", i);
        return element_of(v, i, mc, out);
    case DT_PTR: {
        struct dap_value p;
        if (deref(v, mc, &p) < 0)
            return -1;
        struct dap_type *s = pointee_struct(t);
        if (s)
            return dap_value_child(&p, i, mc, out, name, n);
        if (i != 0)
            return -1;
        *out = p;
        snprintf(name, n, "*");
        return 0;
    }
    default:
        return -1;
    }
}

/* ---- expressions ---- */

struct parser {
    const char *p;
    const struct dap_di *di;
    const struct dap_frame *f;
    const struct dap_machine *mc;
    char *err;
    size_t n;
    int failed;
};

static void skip_ws(struct parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t')
        ps->p++;
}

static int fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parser *ps, const char *fmt, ...)
{
    if (!ps->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err, ps->n, fmt, ap);
        va_end(ap);
    }
    ps->failed = 1;
    return -1;
}

static int ident(struct parser *ps, char *buf, size_t n)
{
    size_t k = 0;
    skip_ws(ps);
    if (!isalpha((unsigned char)*ps->p) && *ps->p != '_')
        return -1;
    while (isalnum((unsigned char)*ps->p) || *ps->p == '_') {
        if (k + 1 < n)
            buf[k++] = *ps->p;
        ps->p++;
    }
    buf[k] = 0;
    return 0;
}

static int lookup(struct parser *ps, const char *name, struct dap_value *out)
{
    const struct dap_func *fn = ps->f ? ps->f->func : NULL;
    if (fn) {
        const struct dap_var *best = NULL;
        uint64_t pc = ps->f->lookup_pc;
        for (size_t i = 0; i < fn->nvars; i++) {
            const struct dap_var *v = &fn->vars[i];
            if (strcmp(v->name, name) != 0)
                continue;
            if (v->scope_hi && (pc < v->scope_lo || pc >= v->scope_hi))
                continue;
            best = v; /* later (inner) declarations win */
        }
        if (best) {
            dap_var_value(best, ps->f, ps->mc, out);
            return 0;
        }
    }
    const struct dap_var *g = dap_di_global_named(ps->di, fn ? fn->cu : (size_t)-1, name);
    if (g) {
        dap_var_value(g, ps->f, ps->mc, out);
        return 0;
    }
    return fail(ps, "no symbol '%s' in the current context", name);
}

static int unary(struct parser *ps, struct dap_value *out);

static int to_int(struct parser *ps, const struct dap_value *v, uint64_t *x)
{
    struct dap_type *t = dap_type_strip(v->type);
    if (v->type && (!t || t->kind == DT_STRUCT || t->kind == DT_UNION || t->kind == DT_ARRAY))
        return fail(ps, "%s is not an integer", v->type ? dap_type_name(v->type) : "value");
    if (v->where == DV_NONE || value_int(v, ps->mc, x) < 0)
        return fail(ps, "%s", "cannot read the value");
    return 0;
}

static int primary(struct parser *ps, struct dap_value *out)
{
    char name[128];
    skip_ws(ps);
    memset(out, 0, sizeof *out);
    if (*ps->p == '(') {
        ps->p++;
        if (unary(ps, out) < 0)
            return -1;
        skip_ws(ps);
        if (*ps->p != ')')
            return fail(ps, "expected ')' at '%s'", ps->p);
        ps->p++;
        return 0;
    }
    if (isdigit((unsigned char)*ps->p)) {
        char *end;
        uint64_t x = strtoull(ps->p, &end, 0);
        ps->p = end;
        out->where = DV_BYTES;
        memcpy(out->bytes, &x, 8);
        return 0;
    }
    if (*ps->p == '$') {
        ps->p++;
        if (ident(ps, name, sizeof name) < 0)
            return fail(ps, "expected a register name at '%s'", ps->p);
        for (unsigned r = 0; r < DAP_CFI_REGS; r++) {
            const char *rn = gdb_reg_info(dwarf_to_gdb[r])->name;
            if (strcmp(rn, name) == 0 || (strcmp(name, "pc") == 0 && r == DWARF_RA)) {
                if (!ps->f || !ps->f->known[r])
                    return fail(ps, "register %s is not known in this frame", name);
                out->where = DV_BYTES;
                memcpy(out->bytes, r == DWARF_RA ? &ps->f->pc : &ps->f->regs[r], 8);
                return 0;
            }
        }
        return fail(ps, "no register $%s", name);
    }
    if (ident(ps, name, sizeof name) < 0)
        return fail(ps, "syntax error at '%s'", ps->p);
    return lookup(ps, name, out);
}

static int postfix(struct parser *ps, struct dap_value *out)
{
    char name[128];
    if (primary(ps, out) < 0)
        return -1;
    for (;;) {
        skip_ws(ps);
        struct dap_value base = *out;
        if (*ps->p == '.' || (ps->p[0] == '-' && ps->p[1] == '>')) {
            int arrow = *ps->p == '-';
            ps->p += arrow ? 2 : 1;
            if (ident(ps, name, sizeof name) < 0)
                return fail(ps, "expected a member name at '%s'", ps->p);
            if (arrow && deref(&base, ps->mc, &base) < 0)
                return fail(ps, "'->%s' applied to a non-pointer", name);
            struct dap_type *t = dap_type_strip(base.type);
            if (!t || (t->kind != DT_STRUCT && t->kind != DT_UNION))
                return fail(ps, "'.%s' applied to something that is not a struct", name);
            size_t i;
            for (i = 0; i < t->nmembers; i++)
                if (strcmp(t->members[i].name, name) == 0)
                    break;
            if (i == t->nmembers)
                return fail(ps, "no member named '%s'", name);
            if (base.where == DV_NONE)
                return fail(ps, "%s", base.reason ? base.reason : "value unavailable");
            member_of(&base, &t->members[i], out);
        } else if (*ps->p == '[') {
            ps->p++;
            struct dap_value idx;
            uint64_t i;
            if (unary(ps, &idx) < 0 || to_int(ps, &idx, &i) < 0)
                return -1;
            skip_ws(ps);
            if (*ps->p != ']')
                return fail(ps, "expected ']' at '%s'", ps->p);
            ps->p++;
            if (element_of(&base, i, ps->mc, out) < 0)
                return fail(ps, "%s", "cannot index something that is not an array or pointer");
        } else {
            return 0;
        }
    }
}

static int unary(struct parser *ps, struct dap_value *out)
{
    skip_ws(ps);
    if (*ps->p == '*') {
        ps->p++;
        struct dap_value v;
        if (unary(ps, &v) < 0)
            return -1;
        if (!v.type || dap_type_strip(v.type)->kind != DT_PTR) {
            uint64_t addr;
            if (to_int(ps, &v, &addr) < 0)
                return -1;
            memset(out, 0, sizeof *out);
            out->where = DV_MEM; /* *ADDRESS: an untyped 8-byte word */
            out->addr = addr;
            return 0;
        }
        if (deref(&v, ps->mc, out) < 0)
            return fail(ps, "%s", "cannot read the pointer");
        return 0;
    }
    if (*ps->p == '&') {
        ps->p++;
        struct dap_value v;
        if (unary(ps, &v) < 0)
            return -1;
        if (v.where != DV_MEM)
            return fail(ps, "%s", "cannot take the address of a value not in memory");
        memset(out, 0, sizeof *out);
        out->where = DV_BYTES;
        memcpy(out->bytes, &v.addr, 8);
        return 0;
    }
    return postfix(ps, out);
}

int dap_eval(const struct dap_di *di, const struct dap_frame *f, const struct dap_machine *mc,
             const char *expr, struct dap_value *out, char *err, size_t n)
{
    struct parser ps = {.p = expr, .di = di, .f = f, .mc = mc, .err = err, .n = n};
    if (unary(&ps, out) < 0)
        return -1;
    skip_ws(&ps);
    if (*ps.p)
        return fail(&ps, "unexpected '%s'", ps.p);
    return 0;
}
