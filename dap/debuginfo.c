/*
 * debuginfo.c - the guest's DWARF, read once with libdwarf: line rows,
 * functions with their parameters and locals, global variables, types, ELF
 * symbols, and call frame information (.eh_frame or .debug_frame) on demand.
 * See internal.h.
 */
#include "dap/di.h"

#include <dwarf.h>
#include <gelf.h>
#include <libdwarf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- memory ---- */

static void *arena_alloc(struct dap_di *di, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct arena_block *b = di->arena;
    if (!b || b->size - b->used < n) {
        size_t size = n > 65536 ? n : 65536;
        b = malloc(sizeof(*b) + size);
        if (!b) {
            di->oom = 1;
            return NULL;
        }
        b->size = size;
        b->used = 0;
        b->next = di->arena;
        di->arena = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

static const char *arena_str(struct dap_di *di, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = arena_alloc(di, n);
    if (p)
        memcpy(p, s, n);
    return p ? p : "";
}

/* Grow (*arr) of (*cap) elements of (size) bytes to hold one more. Returns 0 or -1. */
static int grow(struct dap_di *di, void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, c * size);
    if (!p) {
        di->oom = 1;
        return -1;
    }
    *arr = p;
    *cap = c;
    return 0;
}

#define GROW(di, arr, n, cap) grow(di, (void **)&(arr), &(cap), n, sizeof(*(arr)))

/* ---- DIE attributes ---- */

static const char *die_name(struct dap_di *di, Dwarf_Die die)
{
    char *name = NULL;
    Dwarf_Error e = NULL;
    if (dwarf_diename(die, &name, &e) != DW_DLV_OK || !name)
        return NULL;
    return arena_str(di, name);
}

static int attr_udata(Dwarf_Die die, Dwarf_Half at, Dwarf_Unsigned *v)
{
    Dwarf_Attribute a;
    Dwarf_Error e = NULL;
    if (dwarf_attr(die, at, &a, &e) != DW_DLV_OK)
        return -1;
    int r = dwarf_formudata(a, v, &e);
    if (r != DW_DLV_OK) {
        Dwarf_Signed sv;
        r = dwarf_formsdata(a, &sv, &e);
        *v = (Dwarf_Unsigned)sv;
    }
    dwarf_dealloc_attribute(a);
    return r == DW_DLV_OK ? 0 : -1;
}

/* The global DIE offset an attribute refers to (DW_AT_type, ...), or 0. */
static uint64_t attr_ref(Dwarf_Die die, Dwarf_Half at)
{
    Dwarf_Attribute a;
    Dwarf_Error e = NULL;
    Dwarf_Off off = 0;
    if (dwarf_attr(die, at, &a, &e) != DW_DLV_OK)
        return 0;
    if (dwarf_global_formref(a, &off, &e) != DW_DLV_OK)
        off = 0;
    dwarf_dealloc_attribute(a);
    return off;
}

static int has_attr(Dwarf_Die die, Dwarf_Half at)
{
    Dwarf_Bool b = 0;
    Dwarf_Error e = NULL;
    return dwarf_hasattr(die, at, &b, &e) == DW_DLV_OK && b;
}

/* [lo, hi) of a DIE with DW_AT_low_pc and DW_AT_high_pc. Returns 0 or -1. */
static int die_pc_range(Dwarf_Die die, uint64_t *lo, uint64_t *hi)
{
    Dwarf_Addr l, h;
    Dwarf_Half form;
    enum Dwarf_Form_Class cls;
    Dwarf_Error e = NULL;
    if (dwarf_lowpc(die, &l, &e) != DW_DLV_OK)
        return -1;
    if (dwarf_highpc_b(die, &h, &form, &cls, &e) != DW_DLV_OK)
        return -1;
    if (cls == DW_FORM_CLASS_CONSTANT)
        h += l;
    if (h <= l)
        return -1;
    *lo = l;
    *hi = h;
    return 0;
}

static void add_ref(struct dap_di *di, struct dap_type **slot, uint64_t die)
{
    *slot = NULL;
    if (!die || GROW(di, di->refs, di->nrefs, di->caprefs) < 0)
        return;
    di->refs[di->nrefs++] = (struct pending_ref){.slot = slot, .die = die};
}

/* The location attribute of (die) as expressions. Returns 0 (nlocs may be 0). */
static void read_location(struct dap_di *di, Dwarf_Die die, struct dap_var *v)
{
    Dwarf_Attribute a;
    Dwarf_Error e = NULL;
    Dwarf_Loc_Head_c head = NULL;
    Dwarf_Unsigned count = 0;
    if (dwarf_attr(die, DW_AT_location, &a, &e) != DW_DLV_OK)
        return;
    if (dwarf_get_loclist_c(a, &head, &count, &e) != DW_DLV_OK) {
        dwarf_dealloc_attribute(a);
        return;
    }
    if (count > 4096)
        count = 4096;
    v->locs = arena_alloc(di, count * sizeof(*v->locs));
    for (Dwarf_Unsigned i = 0; v->locs && i < count; i++) {
        Dwarf_Small lle = 0, src = 0;
        Dwarf_Unsigned rawlo = 0, rawhi = 0, nops = 0, eoff = 0, doff = 0;
        Dwarf_Bool unavail = 0;
        Dwarf_Addr lo = 0, hi = 0;
        Dwarf_Locdesc_c desc = NULL;
        if (dwarf_get_locdesc_entry_d(head, i, &lle, &rawlo, &rawhi, &unavail, &lo, &hi, &nops,
                                      &desc, &src, &eoff, &doff, &e) != DW_DLV_OK)
            break;
        if (nops == 0 || nops > 64)
            continue;
        struct dap_locexpr *l = &v->locs[v->nlocs];
        l->all = src == 0;
        l->lo = lo;
        l->hi = hi;
        l->ops = arena_alloc(di, nops * sizeof(*l->ops));
        if (!l->ops)
            break;
        for (Dwarf_Unsigned j = 0; j < nops; j++) {
            Dwarf_Small atom = 0;
            Dwarf_Unsigned o1 = 0, o2 = 0, o3 = 0, br = 0;
            if (dwarf_get_location_op_value_c(desc, j, &atom, &o1, &o2, &o3, &br, &e) != DW_DLV_OK)
                break;
            l->ops[l->nops++] = (struct dap_op){.atom = atom, .a = o1, .b = o2};
        }
        v->nlocs++;
    }
    dwarf_loc_head_c_dealloc(head);
    dwarf_dealloc_attribute(a);
}

/* ---- the DIE tree ---- */

struct walk {
    size_t cu;
    struct dap_var *vars; /* the current function's variables */
    size_t nvars, capvars;
    int in_func;
    uint64_t scope_lo, scope_hi;
};

static struct dap_type *new_type(struct dap_di *di, Dwarf_Die die, enum dap_tkind kind)
{
    Dwarf_Off off = 0;
    Dwarf_Error e = NULL;
    struct dap_type *t = arena_alloc(di, sizeof(*t));
    if (!t || GROW(di, di->types, di->ntypes, di->captypes) < 0)
        return NULL;
    dwarf_dieoffset(die, &off, &e);
    t->kind = kind;
    t->die = off;
    t->name = die_name(di, die);
    Dwarf_Unsigned size = 0;
    if (dwarf_bytesize(die, &size, &e) == DW_DLV_OK)
        t->size = size;
    uint64_t ref = attr_ref(die, DW_AT_type);
    if (ref)
        add_ref(di, &t->target, ref);
    di->types[di->ntypes++] = t;
    return t;
}

/* Visit the children of (die) with (fn). */
static void walk_children(struct dap_di *di, Dwarf_Die die, struct walk *w, int depth);

static void read_struct(struct dap_di *di, Dwarf_Die die, struct dap_type *t)
{
    Dwarf_Die c = NULL, next;
    Dwarf_Error e = NULL;
    size_t n = 0;
    if (dwarf_child(die, &c, &e) != DW_DLV_OK)
        return;
    for (Dwarf_Die d = c; d;) {
        Dwarf_Half tag = 0;
        dwarf_tag(d, &tag, &e);
        if (tag == DW_TAG_member)
            n++;
        if (dwarf_siblingof_b(di->dbg, d, 1, &next, &e) != DW_DLV_OK)
            next = NULL;
        if (d != c)
            dwarf_dealloc_die(d);
        d = next;
    }
    t->members = arena_alloc(di, (n ? n : 1) * sizeof(*t->members));
    if (!t->members) {
        dwarf_dealloc_die(c);
        return;
    }
    for (Dwarf_Die d = c; d && t->nmembers < n;) {
        Dwarf_Half tag = 0;
        dwarf_tag(d, &tag, &e);
        if (tag == DW_TAG_member) {
            struct dap_member *m = &t->members[t->nmembers++];
            const char *name = die_name(di, d);
            Dwarf_Unsigned off = 0;
            m->name = name ? name : "";
            if (attr_udata(d, DW_AT_data_member_location, &off) == 0)
                m->offset = off;
            add_ref(di, &m->type, attr_ref(d, DW_AT_type));
        }
        if (dwarf_siblingof_b(di->dbg, d, 1, &next, &e) != DW_DLV_OK)
            next = NULL;
        if (d != c)
            dwarf_dealloc_die(d);
        d = next;
    }
    dwarf_dealloc_die(c);
}

static void read_enum(struct dap_di *di, Dwarf_Die die, struct dap_type *t)
{
    Dwarf_Die c = NULL, next;
    Dwarf_Error e = NULL;
    size_t cap = 0;
    if (dwarf_child(die, &c, &e) != DW_DLV_OK)
        return;
    for (Dwarf_Die d = c; d;) {
        Dwarf_Half tag = 0;
        dwarf_tag(d, &tag, &e);
        Dwarf_Unsigned v = 0;
        if (tag == DW_TAG_enumerator && attr_udata(d, DW_AT_const_value, &v) == 0) {
            if (t->nenums == cap) {
                size_t nc = cap ? cap * 2 : 8;
                struct dap_enumerator *ne = arena_alloc(di, nc * sizeof(*ne));
                if (ne && t->nenums)
                    memcpy(ne, t->enums, t->nenums * sizeof(*ne));
                t->enums = ne;
                cap = ne ? nc : 0;
            }
            if (t->enums) {
                const char *name = die_name(di, d);
                t->enums[t->nenums++] =
                    (struct dap_enumerator){.name = name ? name : "?", .value = (int64_t)v};
            } else {
                t->nenums = 0;
            }
        }
        if (dwarf_siblingof_b(di->dbg, d, 1, &next, &e) != DW_DLV_OK)
            next = NULL;
        dwarf_dealloc_die(d);
        d = next;
    }
}

static void read_array(struct dap_di *di, Dwarf_Die die, struct dap_type *t)
{
    Dwarf_Die c = NULL;
    Dwarf_Error e = NULL;
    Dwarf_Unsigned v = 0;
    if (dwarf_child(die, &c, &e) != DW_DLV_OK)
        return;
    /* the first dimension only: a multi-dimensional array shows as an array of
     * its rows' element type, which is what C's layout is */
    if (attr_udata(c, DW_AT_count, &v) == 0)
        t->count = v;
    else if (attr_udata(c, DW_AT_upper_bound, &v) == 0 && v < (1ull << 32))
        t->count = v + 1;
    dwarf_dealloc_die(c);
}

/* The DIE that (die)'s DW_AT_abstract_origin or DW_AT_specification names, or NULL. */
static Dwarf_Die origin_die(struct dap_di *di, Dwarf_Die die)
{
    Dwarf_Die o = NULL;
    Dwarf_Error e = NULL;
    uint64_t off = attr_ref(die, DW_AT_abstract_origin);
    if (!off)
        off = attr_ref(die, DW_AT_specification);
    if (!off || dwarf_offdie_b(di->dbg, off, 1, &o, &e) != DW_DLV_OK)
        return NULL;
    return o;
}

static void read_variable(struct dap_di *di, Dwarf_Die die, struct walk *w, int is_param)
{
    struct dap_var v = {0};
    if (has_attr(die, DW_AT_declaration))
        return;
    v.name = die_name(di, die);
    uint64_t type = attr_ref(die, DW_AT_type);
    if (!v.name || !type) {
        Dwarf_Die o = origin_die(di, die);
        if (o) {
            if (!v.name)
                v.name = die_name(di, o);
            if (!type)
                type = attr_ref(o, DW_AT_type);
            dwarf_dealloc_die(o);
        }
    }
    if (!v.name || !type)
        return;
    read_location(di, die, &v);
    v.is_param = is_param;
    v.scope_lo = w->scope_lo;
    v.scope_hi = w->scope_hi;
    /* the type is a DIE offset until dap_di_open resolves it */
    v.type = (struct dap_type *)(uintptr_t)type;
    if (w->in_func) {
        if (GROW(di, w->vars, w->nvars, w->capvars) < 0)
            return;
        w->vars[w->nvars++] = v;
        return;
    }
    if (v.nlocs == 0)
        return; /* an extern declaration seen from this unit */
    if (GROW(di, di->globals, di->nglobals, di->capglobals) < 0)
        return;
    size_t *p = realloc(di->global_cu, di->capglobals * sizeof(*p));
    if (!p) {
        di->oom = 1;
        return;
    }
    di->global_cu = p;
    di->globals[di->nglobals] = v;
    di->global_cu[di->nglobals] = w->cu;
    di->nglobals++;
}

static void read_function(struct dap_di *di, Dwarf_Die die, struct walk *w, int depth)
{
    uint64_t lo, hi;
    if (die_pc_range(die, &lo, &hi) < 0)
        return;
    const char *name = die_name(di, die);
    if (!name) {
        Dwarf_Die o = origin_die(di, die);
        if (o) {
            name = die_name(di, o);
            dwarf_dealloc_die(o);
        }
    }
    if (GROW(di, di->funcs, di->nfuncs, di->capfuncs) < 0)
        return;
    struct walk fw = {.cu = w->cu, .in_func = 1};
    walk_children(di, die, &fw, depth + 1);
    struct dap_func *f = &di->funcs[di->nfuncs++];
    memset(f, 0, sizeof(*f));
    f->name = name ? name : "??";
    f->lo = lo;
    f->hi = hi;
    f->cu = w->cu;
    Dwarf_Unsigned line = 0;
    if (attr_udata(die, DW_AT_decl_line, &line) == 0)
        f->decl_line = (unsigned)line;
    if (fw.nvars) {
        f->vars = arena_alloc(di, fw.nvars * sizeof(*f->vars));
        if (f->vars) {
            memcpy(f->vars, fw.vars, fw.nvars * sizeof(*f->vars));
            f->nvars = fw.nvars;
        }
    }
    free(fw.vars);
}

static void visit(struct dap_di *di, Dwarf_Die die, struct walk *w, int depth)
{
    Dwarf_Half tag = 0;
    Dwarf_Error e = NULL;
    Dwarf_Unsigned enc = 0;
    struct dap_type *t;
    if (depth > 64 || di->oom || dwarf_tag(die, &tag, &e) != DW_DLV_OK)
        return;
    switch (tag) {
    case DW_TAG_subprogram:
        if (!w->in_func)
            read_function(di, die, w, depth);
        break;
    case DW_TAG_lexical_block: {
        struct walk bw = *w;
        uint64_t lo, hi;
        if (die_pc_range(die, &lo, &hi) == 0) {
            bw.scope_lo = lo;
            bw.scope_hi = hi;
        }
        walk_children(di, die, &bw, depth + 1);
        w->vars = bw.vars;
        w->nvars = bw.nvars;
        w->capvars = bw.capvars;
        break;
    }
    case DW_TAG_formal_parameter:
    case DW_TAG_variable:
        read_variable(di, die, w, tag == DW_TAG_formal_parameter);
        break;
    case DW_TAG_base_type:
        t = new_type(di, die, DT_INT);
        if (t && attr_udata(die, DW_AT_encoding, &enc) == 0) {
            switch (enc) {
            case DW_ATE_unsigned:
                t->kind = DT_UINT;
                break;
            case DW_ATE_boolean:
                t->kind = DT_BOOL;
                break;
            case DW_ATE_signed_char:
            case DW_ATE_unsigned_char:
                t->kind = DT_CHAR;
                break;
            case DW_ATE_float:
                t->kind = DT_FLOAT;
                break;
            default:
                t->kind = DT_INT;
            }
        }
        break;
    case DW_TAG_pointer_type:
        t = new_type(di, die, DT_PTR);
        if (t && !t->size)
            t->size = 8;
        break;
    case DW_TAG_structure_type:
    case DW_TAG_union_type:
        t = new_type(di, die, tag == DW_TAG_structure_type ? DT_STRUCT : DT_UNION);
        if (t)
            read_struct(di, die, t);
        break;
    case DW_TAG_array_type:
        t = new_type(di, die, DT_ARRAY);
        if (t)
            read_array(di, die, t);
        break;
    case DW_TAG_enumeration_type:
        t = new_type(di, die, DT_ENUM);
        if (t)
            read_enum(di, die, t);
        break;
    case DW_TAG_typedef:
        new_type(di, die, DT_TYPEDEF);
        break;
    case DW_TAG_const_type:
    case DW_TAG_volatile_type:
    case DW_TAG_restrict_type:
    case DW_TAG_atomic_type:
        new_type(di, die, DT_QUAL);
        break;
    case DW_TAG_subroutine_type:
        new_type(di, die, DT_FUNC); /* target: the return type */
        break;
    case DW_TAG_inlined_subroutine:
    case DW_TAG_GNU_call_site:
    case DW_TAG_call_site:
        break; /* inlined code's variables are not shown */
    default:
        walk_children(di, die, w, depth + 1);
    }
}

static void walk_children(struct dap_di *di, Dwarf_Die die, struct walk *w, int depth)
{
    Dwarf_Die c = NULL, next;
    Dwarf_Error e = NULL;
    if (dwarf_child(die, &c, &e) != DW_DLV_OK)
        return;
    for (Dwarf_Die d = c; d;) {
        visit(di, d, w, depth);
        if (dwarf_siblingof_b(di->dbg, d, 1, &next, &e) != DW_DLV_OK)
            next = NULL;
        dwarf_dealloc_die(d);
        d = next;
    }
}

/* ---- line tables ---- */

static unsigned intern_file(struct dap_di *di, const char *path)
{
    for (size_t i = di->nfiles; i-- > 0;)
        if (strcmp(di->files[i], path) == 0)
            return (unsigned)i;
    if (GROW(di, di->files, di->nfiles, di->capfiles) < 0)
        return 0;
    di->files[di->nfiles] = arena_str(di, path);
    return (unsigned)di->nfiles++;
}

static void read_lines(struct dap_di *di, Dwarf_Die cu)
{
    Dwarf_Unsigned version;
    Dwarf_Small tables;
    Dwarf_Line_Context ctx;
    Dwarf_Line *lines;
    Dwarf_Signed n;
    Dwarf_Error e = NULL;
    if (dwarf_srclines_b(cu, &version, &tables, &ctx, &e) != DW_DLV_OK)
        return;
    if (dwarf_srclines_from_linecontext(ctx, &lines, &n, &e) == DW_DLV_OK) {
        for (Dwarf_Signed i = 0; i < n; i++) {
            Dwarf_Addr addr = 0;
            Dwarf_Unsigned line = 0;
            Dwarf_Bool stmt = 0, endseq = 0;
            char *src = NULL;
            if (dwarf_lineaddr(lines[i], &addr, &e) != DW_DLV_OK ||
                dwarf_lineno(lines[i], &line, &e) != DW_DLV_OK)
                continue;
            dwarf_linebeginstatement(lines[i], &stmt, &e);
            dwarf_lineendsequence(lines[i], &endseq, &e);
            if (GROW(di, di->rows, di->nrows, di->caprows) < 0)
                break;
            unsigned f = 0;
            if (!endseq && dwarf_linesrc(lines[i], &src, &e) == DW_DLV_OK && src) {
                f = intern_file(di, src);
                dwarf_dealloc(di->dbg, src, DW_DLA_STRING);
            }
            di->rows[di->nrows++] = (struct dap_row){
                .addr = addr, .line = endseq ? 0 : (unsigned)line, .file = f, .is_stmt = !!stmt};
        }
    }
    dwarf_srclines_dealloc_b(ctx);
}

/* Sort by address; at one address an end of sequence comes first. Stable. */
static int row_cmp(const void *a, const void *b)
{
    const struct dap_row *x = a, *y = b;
    if (x->addr != y->addr)
        return x->addr < y->addr ? -1 : 1;
    if ((x->line == 0) != (y->line == 0))
        return x->line == 0 ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* ---- ELF symbols ---- */

static void read_symbols(struct dap_di *di)
{
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(di->elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        size_t n = d ? d->d_size / sh.sh_entsize : 0;
        for (size_t i = 0; i < n; i++) {
            GElf_Sym sym;
            if (!gelf_getsym(d, (int)i, &sym) || !sym.st_value)
                continue;
            int type = GELF_ST_TYPE(sym.st_info);
            if (type != STT_FUNC && type != STT_OBJECT)
                continue;
            const char *name = elf_strptr(di->elf, sh.sh_link, sym.st_name);
            if (!name || !*name || GROW(di, di->syms, di->nsyms, di->capsyms) < 0)
                continue;
            di->syms[di->nsyms++] = (struct sym){
                .addr = sym.st_value, .size = sym.st_size, .name = arena_str(di, name)};
        }
    }
}

static int sym_cmp(const void *a, const void *b)
{
    const struct sym *x = a, *y = b;
    return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int func_cmp(const void *a, const void *b)
{
    const struct dap_func *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int type_cmp(const void *a, const void *b)
{
    const struct dap_type *x = *(struct dap_type *const *)a, *y = *(struct dap_type *const *)b;
    return x->die < y->die ? -1 : x->die > y->die;
}

static struct dap_type *type_by_die(const struct dap_di *di, uint64_t die)
{
    size_t lo = 0, hi = di->ntypes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (di->types[mid]->die < die)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < di->ntypes && di->types[lo]->die == die ? di->types[lo] : NULL;
}

/* ---- open and close ---- */

static void read_dwarf(struct dap_di *di)
{
    Dwarf_Error e = NULL;
    int r = dwarf_elf_init_b(di->elf, DW_DLC_READ, DW_GROUPNUMBER_ANY, NULL, NULL, &di->dbg, &e);
    if (r != DW_DLV_OK) {
        if (r == DW_DLV_ERROR && e)
            dwarf_dealloc_error(NULL, e); /* allocated outside any Dwarf_Debug */
        return;
    }
    di->have_dbg = 1;
    for (;;) {
        Dwarf_Unsigned hlen, next, typeoff;
        Dwarf_Half ver, asize, lsize, esize, cutype;
        Dwarf_Off abbr;
        Dwarf_Sig8 sig;
        Dwarf_Die cu = NULL;
        if (dwarf_next_cu_header_d(di->dbg, 1, &hlen, &ver, &abbr, &asize, &lsize, &esize, &sig,
                                   &typeoff, &next, &cutype, &e) != DW_DLV_OK)
            break;
        if (dwarf_siblingof_b(di->dbg, NULL, 1, &cu, &e) != DW_DLV_OK)
            continue;
        struct walk w = {.cu = di->ncu++};
        read_lines(di, cu);
        walk_children(di, cu, &w, 0);
        free(w.vars);
        dwarf_dealloc_die(cu);
    }
    if (dwarf_get_fde_list_eh(di->dbg, &di->cies, &di->ncies, &di->fdes, &di->nfdes, &e) ==
        DW_DLV_OK)
        di->fdes_eh = 1;
    else if (dwarf_get_fde_list(di->dbg, &di->cies, &di->ncies, &di->fdes, &di->nfdes, &e) !=
             DW_DLV_OK)
        di->fdes = NULL;
}

int dap_di_open(struct dap_di **out, const void *elf, size_t len, char *err, size_t n)
{
    *out = NULL;
    struct dap_di *di = calloc(1, sizeof(*di));
    if (!di || elf_version(EV_CURRENT) == EV_NONE || !(di->image = malloc(len ? len : 1))) {
        snprintf(err, n, "out of memory for the debugging information");
        free(di);
        return -1;
    }
    memcpy(di->image, elf, len);
    di->elf = elf_memory(di->image, len);
    if (!di->elf || elf_kind(di->elf) != ELF_K_ELF || gelf_getclass(di->elf) != ELFCLASS64) {
        snprintf(err, n, "not an ELF64 image");
        dap_di_close(di);
        return -1;
    }
    read_symbols(di);
    read_dwarf(di);
    if (di->oom) {
        snprintf(err, n, "out of memory reading the DWARF");
        dap_di_close(di);
        return -1;
    }
    if (di->ntypes)
        qsort(di->types, di->ntypes, sizeof(*di->types), type_cmp);
    for (size_t i = 0; i < di->nrefs; i++)
        *di->refs[i].slot = type_by_die(di, di->refs[i].die);
    for (size_t i = 0; i < di->nfuncs; i++)
        for (size_t j = 0; j < di->funcs[i].nvars; j++) {
            struct dap_var *v = &di->funcs[i].vars[j];
            v->type = type_by_die(di, (uint64_t)(uintptr_t)v->type);
        }
    for (size_t i = 0; i < di->nglobals; i++)
        di->globals[i].type = type_by_die(di, (uint64_t)(uintptr_t)di->globals[i].type);
    free(di->refs);
    di->refs = NULL;
    di->nrefs = di->caprefs = 0;
    if (di->nrows)
        qsort(di->rows, di->nrows, sizeof(*di->rows), row_cmp);
    if (di->nfuncs)
        qsort(di->funcs, di->nfuncs, sizeof(*di->funcs), func_cmp);
    if (di->nsyms)
        qsort(di->syms, di->nsyms, sizeof(*di->syms), sym_cmp);
    *out = di;
    return 0;
}

void dap_di_close(struct dap_di *di)
{
    if (!di)
        return;
    if (di->have_dbg) {
        if (di->fdes)
            dwarf_fde_cie_list_dealloc(di->dbg, di->cies, di->ncies, di->fdes, di->nfdes);
        Dwarf_Error e = NULL;
        dwarf_finish(di->dbg, &e);
    }
    if (di->elf)
        elf_end(di->elf);
    while (di->arena) {
        struct arena_block *b = di->arena;
        di->arena = b->next;
        free(b);
    }
    free(di->rows);
    free(di->files);
    free(di->funcs);
    free(di->globals);
    free(di->global_cu);
    free(di->types);
    free(di->refs);
    free(di->syms);
    free(di->image);
    free(di);
}
