/*
 * symbolize.c - turn guest addresses into "function+offset (file:line)".
 *
 * At open: the image is copied and opened with libelf; code and named symbols
 * are collected from .symtab (or .dynsym) and sorted; the DWARF line tables
 * are read by symbolize_lines.c into one table sorted by address. Lookups
 * touch only our tables. Symbol names point into the string
 * table held by the Elf handle, which lives as long as the symbolizer.
 */
#include "formats/symbolize.h"
#include "formats/internal.h"
#include "formats/symbolize_internal.h"

#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- symbols ------------------------------------------------------------ */

static int rank_of(int bind, int type)
{
    int b = bind == STB_GLOBAL ? 2 : bind == STB_WEAK ? 1 : 0;

    return b * 2 + (type != STT_NOTYPE);
}

static int cmp_code(const void *pa, const void *pb)
{
    const struct sym_entry *a = pa, *b = pb;

    if (a->addr != b->addr)
        return a->addr < b->addr ? -1 : 1;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    return strcmp(b->name, a->name);
}

static int cmp_named(const void *pa, const void *pb)
{
    const struct sym_entry *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);

    if (c != 0)
        return c;
    if (a->rank != b->rank)
        return a->rank > b->rank ? -1 : 1;
    return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* Section flags and end address of section (shndx); 0 flags if none. */
static uint64_t section_of(Elf *e, size_t shndx, uint64_t *end)
{
    Elf_Scn *scn;
    GElf_Shdr sh;

    *end = UINT64_MAX;
    if (shndx == SHN_UNDEF || shndx >= SHN_LORESERVE)
        return 0;
    scn = elf_getscn(e, shndx);
    if (scn == NULL || gelf_getshdr(scn, &sh) == NULL)
        return 0;
    if (sh.sh_addr <= UINT64_MAX - sh.sh_size)
        *end = sh.sh_addr + sh.sh_size;
    return sh.sh_flags;
}

static Elf_Scn *find_symtab(Elf *e, GElf_Shdr *sh)
{
    Elf_Scn *scn = NULL, *dyn = NULL;
    GElf_Shdr dynsh;

    while ((scn = elf_nextscn(e, scn)) != NULL) {
        GElf_Shdr cur;

        if (gelf_getshdr(scn, &cur) == NULL)
            continue;
        if (cur.sh_type == SHT_SYMTAB) {
            *sh = cur;
            return scn;
        }
        if (cur.sh_type == SHT_DYNSYM && dyn == NULL) {
            dyn = scn;
            dynsh = cur;
        }
    }
    if (dyn != NULL)
        *sh = dynsh;
    return dyn;
}

static int load_symbols(struct pvrr_sym *s, char *err, size_t errlen)
{
    GElf_Shdr sh;
    Elf_Scn *scn = find_symtab(s->elf, &sh);
    Elf_Data *d;
    size_t nsyms;
    uint64_t next;

    if (scn == NULL)
        return 0;
    d = elf_getdata(scn, NULL);
    if (d == NULL || d->d_buf == NULL || d->d_size < sizeof(Elf64_Sym))
        return 0;
    nsyms = d->d_size / sizeof(Elf64_Sym);
    if (nsyms > INT32_MAX) /* gelf_getsym takes an int index */
        nsyms = INT32_MAX;
    s->code = calloc(nsyms, sizeof(*s->code));
    s->named = calloc(nsyms, sizeof(*s->named));
    if (s->code == NULL || s->named == NULL) {
        pvrr_formats_errf(err, errlen, "out of memory for %zu symbols", nsyms);
        return -1;
    }
    for (size_t i = 1; i < nsyms; i++) {
        GElf_Sym sym;
        const char *name;
        int type, is_code;
        uint64_t flags, sec_end;
        struct sym_entry ent;

        if (gelf_getsym(d, (int)i, &sym) == NULL)
            continue;
        type = GELF_ST_TYPE(sym.st_info);
        if (sym.st_shndx == SHN_UNDEF ||
            (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_OBJECT && type != STT_NOTYPE))
            continue;
        name = elf_strptr(s->elf, sh.sh_link, sym.st_name);
        if (name == NULL || name[0] == '\0')
            continue;
        flags = section_of(s->elf, sym.st_shndx, &sec_end);
        is_code = type == STT_FUNC || type == STT_GNU_IFUNC ||
                  (type == STT_NOTYPE && (flags & SHF_EXECINSTR) && (flags & SHF_ALLOC));
        if (!is_code && type != STT_OBJECT)
            continue;
        ent = (struct sym_entry){
            .addr = sym.st_value,
            .name = name,
            .rank = (uint8_t)rank_of(GELF_ST_BIND(sym.st_info), type),
            .sized = sym.st_size != 0,
        };
        s->named[s->nnamed++] = ent;
        if (!is_code)
            continue;
        if (sym.st_size != 0)
            ent.end =
                sym.st_value <= UINT64_MAX - sym.st_size ? sym.st_value + sym.st_size : UINT64_MAX;
        else
            ent.end = sec_end > sym.st_value ? sec_end : sym.st_value;
        s->code[s->ncode++] = ent;
    }
    qsort(s->code, s->ncode, sizeof(*s->code), cmp_code);
    qsort(s->named, s->nnamed, sizeof(*s->named), cmp_named);
    /* A symbol without a size extends at most to the next symbol's start. */
    next = UINT64_MAX;
    for (size_t i = s->ncode; i-- > 0;) {
        if (i + 1 < s->ncode && s->code[i + 1].addr > s->code[i].addr)
            next = s->code[i + 1].addr;
        if (!s->code[i].sized && s->code[i].end > next)
            s->code[i].end = next;
    }
    return 0;
}

static const struct sym_entry *find_code(const struct pvrr_sym *s, uint64_t addr)
{
    size_t lo = 0, hi = s->ncode;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (s->code[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    /* Prefer the last (best ranked) symbol at that address that holds addr. */
    for (size_t i = lo; i-- > 0 && s->code[i].addr == s->code[lo - 1].addr;) {
        if (addr < s->code[i].end)
            return &s->code[i];
    }
    return NULL;
}

/* ---- public interface ------------------------------------------------------ */

int pvrr_sym_open(struct pvrr_sym **out, const void *elf, size_t len, char *err, size_t errlen)
{
    struct pvrr_sym *s;

    *out = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (pvrr_formats_check_ident(elf, len, err, errlen) != 0)
        return -1;
    if (elf_version(EV_CURRENT) == EV_NONE) {
        pvrr_formats_errf(err, errlen, "libelf initialisation failed: %s", elf_errmsg(-1));
        return -1;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->image = malloc(len)) == NULL) {
        free(s);
        pvrr_formats_errf(err, errlen, "out of memory for a %zu-byte ELF image", len);
        return -1;
    }
    memcpy(s->image, elf, len);
    s->elf = elf_memory((char *)s->image, len);
    if (s->elf == NULL || elf_kind(s->elf) != ELF_K_ELF) {
        pvrr_formats_errf(err, errlen, "cannot parse the ELF file: %s", elf_errmsg(-1));
        goto fail;
    }
    if (load_symbols(s, err, errlen) != 0)
        goto fail;
    if (sym_load_lines(s) != 0) {
        pvrr_formats_errf(err, errlen, "out of memory reading the DWARF line tables");
        goto fail;
    }
    *out = s;
    return 0;
fail:
    pvrr_sym_close(s);
    return -1;
}

int pvrr_sym_lookup(struct pvrr_sym *s, uint64_t addr, struct pvrr_symloc *loc)
{
    const struct sym_entry *e;
    const struct line_row *r;

    memset(loc, 0, sizeof(*loc));
    if (s == NULL)
        return -1;
    r = sym_find_row(s, addr);
    if (r != NULL && r->line != 0 && r->file < s->nfiles) {
        snprintf(loc->file, sizeof(loc->file), "%s", s->files[r->file]);
        loc->line = r->line;
        loc->has_line = 1;
    }
    e = find_code(s, addr);
    if (e == NULL)
        return -1;
    snprintf(loc->func, sizeof(loc->func), "%s", e->name);
    loc->func_addr = e->addr;
    return 0;
}

int pvrr_sym_addr(struct pvrr_sym *s, const char *name, uint64_t *addr)
{
    size_t lo = 0, hi;

    if (s == NULL || name == NULL)
        return -1;
    hi = s->nnamed;
    while (lo < hi) { /* first entry with a name >= name: the preferred one */
        size_t mid = lo + (hi - lo) / 2;

        if (strcmp(s->named[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == s->nnamed || strcmp(s->named[lo].name, name) != 0)
        return -1;
    *addr = s->named[lo].addr;
    return 0;
}

void pvrr_sym_format(struct pvrr_sym *s, uint64_t addr, char *buf, size_t n)
{
    struct pvrr_symloc loc;
    const char *base;
    int found;

    if (buf == NULL || n == 0)
        return;
    found = pvrr_sym_lookup(s, addr, &loc) == 0;
    base = strrchr(loc.file, '/');
    base = base != NULL ? base + 1 : loc.file;
    if (found && loc.has_line)
        snprintf(buf, n, "%s+0x%llx (%s:%u)", loc.func, (unsigned long long)(addr - loc.func_addr),
                 base, loc.line);
    else if (found)
        snprintf(buf, n, "%s+0x%llx", loc.func, (unsigned long long)(addr - loc.func_addr));
    else if (loc.has_line)
        snprintf(buf, n, "0x%llx (%s:%u)", (unsigned long long)addr, base, loc.line);
    else
        snprintf(buf, n, "0x%llx", (unsigned long long)addr);
}

const char *pvrr_sym_warning(const struct pvrr_sym *s)
{
    return s != NULL && s->warning[0] != '\0' ? s->warning : NULL;
}

void pvrr_sym_close(struct pvrr_sym *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->files);
    free(s->fhash);
    free(s->rows);
    free(s->named);
    free(s->code);
    free(s->secs);
    if (s->elf != NULL)
        elf_end(s->elf);
    free(s->image);
    free(s);
}
