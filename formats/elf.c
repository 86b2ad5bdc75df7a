/*
 * elf.c - validate a guest ELF image before the monitor loads it.
 *
 * The identification bytes and the fixed header fields are checked by hand
 * so each problem gets a precise message; the program headers are read with
 * libelf (gelf_getphdr), after checking that their table lies in the file.
 */
#include "formats/elf.h"
#include "formats/internal.h"

#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <string.h>

#include "pvrr_abi.h"

/* image_end is rounded up to the x86-64 base page size. */
#define PVRR_ELF_PAGE 4096ull

/* Offsets of the ELF64 header fields read by hand (the buffer may be unaligned). */
#define EHDR_TYPE 16
#define EHDR_MACHINE 18
#define EHDR_ENTRY 24
#define EHDR_PHOFF 32
#define EHDR_PHENTSIZE 54
#define EHDR_PHNUM 56

static uint16_t get_le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static const char *machine_name(unsigned m)
{
    switch (m) {
    case EM_NONE:
        return "EM_NONE";
    case EM_386:
        return "EM_386";
    case EM_MIPS:
        return "EM_MIPS";
    case EM_PPC:
        return "EM_PPC";
    case EM_PPC64:
        return "EM_PPC64";
    case EM_S390:
        return "EM_S390";
    case EM_ARM:
        return "EM_ARM";
    case EM_SPARCV9:
        return "EM_SPARCV9";
    case EM_IA_64:
        return "EM_IA_64";
    case EM_X86_64:
        return "EM_X86_64";
    case EM_AARCH64:
        return "EM_AARCH64";
    case EM_RISCV:
        return "EM_RISCV";
    default:
        return NULL;
    }
}

static const char *type_name(unsigned t)
{
    switch (t) {
    case ET_NONE:
        return "ET_NONE";
    case ET_REL:
        return "ET_REL";
    case ET_EXEC:
        return "ET_EXEC";
    case ET_DYN:
        return "ET_DYN";
    case ET_CORE:
        return "ET_CORE";
    default:
        return NULL;
    }
}

/* Machine, type and program header table geometry, from the raw header. */
static int check_header(const unsigned char *b, size_t len, char *err, size_t errlen)
{
    unsigned machine = get_le16(b + EHDR_MACHINE);
    unsigned type = get_le16(b + EHDR_TYPE);
    unsigned phentsize = get_le16(b + EHDR_PHENTSIZE);
    const char *name;

    if (machine != EM_X86_64) {
        name = machine_name(machine);
        if (name != NULL)
            pvrr_formats_errf(err, errlen, "machine %s (%u), need x86-64 (%u)", name, machine,
                              EM_X86_64);
        else
            pvrr_formats_errf(err, errlen, "machine %u, need x86-64 (%u)", machine, EM_X86_64);
        return -1;
    }
    if (type != ET_EXEC) {
        name = type_name(type);
        if (name != NULL)
            pvrr_formats_errf(err, errlen, "ELF type %s (%u), need ET_EXEC (%u)", name, type,
                              ET_EXEC);
        else
            pvrr_formats_errf(err, errlen, "ELF type %u, need ET_EXEC (%u)", type, ET_EXEC);
        return -1;
    }
    if (phentsize != sizeof(Elf64_Phdr)) {
        pvrr_formats_errf(err, errlen, "program header entry size %u, need %zu", phentsize,
                          sizeof(Elf64_Phdr));
        return -1;
    }
    return 0;
}

static int check_segment(size_t i, const GElf_Phdr *ph, size_t len, uint64_t mem_size, char *err,
                         size_t errlen)
{
    uint64_t end;

    if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset) {
        pvrr_formats_errf(err, errlen,
                          "segment %zu file range [offset 0x%llx+0x%llx] lies outside the "
                          "%zu-byte file",
                          i, (unsigned long long)ph->p_offset, (unsigned long long)ph->p_filesz,
                          len);
        return -1;
    }
    if (ph->p_filesz > ph->p_memsz) {
        pvrr_formats_errf(err, errlen,
                          "segment %zu file size 0x%llx exceeds its memory size 0x%llx", i,
                          (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
        return -1;
    }
    if (ph->p_paddr > UINT64_MAX - ph->p_memsz) {
        pvrr_formats_errf(err, errlen,
                          "segment %zu [0x%llx+0x%llx] wraps around the end of the address space",
                          i, (unsigned long long)ph->p_paddr, (unsigned long long)ph->p_memsz);
        return -1;
    }
    end = ph->p_paddr + ph->p_memsz;
    if (ph->p_paddr < PVRR_IMAGE_MIN) {
        pvrr_formats_errf(
            err, errlen, "segment %zu [0x%llx-0x%llx) overlaps the monitor's pages below 0x%llx", i,
            (unsigned long long)ph->p_paddr, (unsigned long long)end, PVRR_IMAGE_MIN);
        return -1;
    }
    if (end > mem_size) {
        pvrr_formats_errf(err, errlen,
                          "segment %zu [0x%llx-0x%llx) lies past the end of guest RAM (0x%llx "
                          "bytes)",
                          i, (unsigned long long)ph->p_paddr, (unsigned long long)end,
                          (unsigned long long)mem_size);
        return -1;
    }
    if (ph->p_vaddr != ph->p_paddr) {
        pvrr_formats_errf(err, errlen,
                          "segment %zu virtual address 0x%llx differs from its physical address "
                          "0x%llx (guest memory is identity mapped)",
                          i, (unsigned long long)ph->p_vaddr, (unsigned long long)ph->p_paddr);
        return -1;
    }
    return 0;
}

/* Check (img) for overlaps with segment (seg), the program header at index (i). */
static int check_overlap(const struct pvrr_elf_image *img, const size_t *index, size_t i,
                         const struct pvrr_elf_segment *seg, char *err, size_t errlen)
{
    uint64_t end = seg->paddr + seg->memsz;

    for (size_t k = 0; k < img->nsegs; k++) {
        const struct pvrr_elf_segment *o = &img->segs[k];
        uint64_t oend = o->paddr + o->memsz;

        if (seg->paddr < oend && o->paddr < end) {
            pvrr_formats_errf(err, errlen,
                              "segments %zu [0x%llx-0x%llx) and %zu [0x%llx-0x%llx) "
                              "overlap",
                              index[k], (unsigned long long)o->paddr, (unsigned long long)oend, i,
                              (unsigned long long)seg->paddr, (unsigned long long)end);
            return -1;
        }
    }
    return 0;
}

static int parse_phdrs(Elf *e, const unsigned char *b, size_t len, uint64_t mem_size,
                       struct pvrr_elf_image *img, char *err, size_t errlen)
{
    size_t index[PVRR_ELF_MAX_SEGS]; /* program header index of each segs[] entry */
    size_t phnum = get_le16(b + EHDR_PHNUM), n;
    uint64_t phoff = get_le64(b + EHDR_PHOFF);
    uint64_t end = 0;

    /*
     * Check the table against the file first: libelf quietly reports fewer
     * headers when the table is cut short. Only with PN_XNUM does the count
     * live elsewhere (section 0's sh_info), where libelf must fetch it.
     */
    if (phnum == PN_XNUM && elf_getphdrnum(e, &phnum) != 0) {
        pvrr_formats_errf(err, errlen, "cannot read the program header count: %s", elf_errmsg(-1));
        return -1;
    }
    /* phnum < 2^32 (at most e_phnum or a section's sh_info), so this cannot overflow. */
    if (phoff > len || (uint64_t)phnum * sizeof(Elf64_Phdr) > len - phoff) {
        pvrr_formats_errf(err, errlen,
                          "program header table [offset 0x%llx+0x%llx] lies outside the %zu-byte "
                          "file",
                          (unsigned long long)phoff,
                          (unsigned long long)((uint64_t)phnum * sizeof(Elf64_Phdr)), len);
        return -1;
    }
    if (elf_getphdrnum(e, &n) != 0 || n != phnum) { /* libelf must agree */
        pvrr_formats_errf(err, errlen, "cannot read the program header table: %s", elf_errmsg(-1));
        return -1;
    }
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        struct pvrr_elf_segment seg;

        if (gelf_getphdr(e, (int)i, &ph) == NULL) {
            pvrr_formats_errf(err, errlen, "cannot read program header %zu: %s", i, elf_errmsg(-1));
            return -1;
        }
        if (ph.p_type != PT_LOAD || (ph.p_memsz == 0 && ph.p_filesz == 0))
            continue;
        if (check_segment(i, &ph, len, mem_size, err, errlen) != 0)
            return -1;
        if (img->nsegs == PVRR_ELF_MAX_SEGS) {
            pvrr_formats_errf(err, errlen, "segment %zu: more than %d PT_LOAD segments", i,
                              PVRR_ELF_MAX_SEGS);
            return -1;
        }
        seg = (struct pvrr_elf_segment){
            .paddr = ph.p_paddr,
            .vaddr = ph.p_vaddr,
            .offset = ph.p_offset,
            .filesz = ph.p_filesz,
            .memsz = ph.p_memsz,
            .flags = ph.p_flags,
        };
        if (check_overlap(img, index, i, &seg, err, errlen) != 0)
            return -1;
        index[img->nsegs] = i;
        img->segs[img->nsegs++] = seg;
        if (seg.paddr + seg.memsz > end)
            end = seg.paddr + seg.memsz;
    }
    if (img->nsegs == 0) {
        pvrr_formats_errf(err, errlen, "no PT_LOAD segment among %zu program headers", phnum);
        return -1;
    }
    if (end > UINT64_MAX - (PVRR_ELF_PAGE - 1)) {
        pvrr_formats_errf(err, errlen, "image end 0x%llx cannot be rounded up to a page",
                          (unsigned long long)end);
        return -1;
    }
    img->image_end = (end + PVRR_ELF_PAGE - 1) & ~(PVRR_ELF_PAGE - 1);
    return 0;
}

static int check_entry(const struct pvrr_elf_image *img, uint64_t entry, char *err, size_t errlen)
{
    for (size_t k = 0; k < img->nsegs; k++) {
        const struct pvrr_elf_segment *s = &img->segs[k];

        if ((s->flags & PF_X) && entry >= s->vaddr && entry - s->vaddr < s->memsz)
            return 0;
    }
    pvrr_formats_errf(err, errlen, "entry point 0x%llx is not inside an executable segment",
                      (unsigned long long)entry);
    return -1;
}

int pvrr_elf_parse(const void *buf, size_t len, uint64_t mem_size, struct pvrr_elf_image *img,
                   char *err, size_t errlen)
{
    const unsigned char *b = buf;
    Elf *e;
    int ret = -1;

    memset(img, 0, sizeof(*img));
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (pvrr_formats_check_ident(buf, len, err, errlen) != 0)
        return -1;
    if (check_header(b, len, err, errlen) != 0)
        return -1;
    if (elf_version(EV_CURRENT) == EV_NONE) {
        pvrr_formats_errf(err, errlen, "libelf initialisation failed: %s", elf_errmsg(-1));
        return -1;
    }
    /*
     * elf_memory() takes a non-const pointer, but an image opened this way is
     * only read: libelf copies what it must convert or align and never writes
     * back unless elf_update() is called, which this file does not do.
     */
    e = elf_memory((char *)(uintptr_t)buf, len);
    if (e == NULL) {
        pvrr_formats_errf(err, errlen, "cannot parse the ELF file: %s", elf_errmsg(-1));
        return -1;
    }
    if (elf_kind(e) != ELF_K_ELF) {
        pvrr_formats_errf(err, errlen, "not an ELF file (libelf)");
        goto out;
    }
    if (parse_phdrs(e, b, len, mem_size, img, err, errlen) != 0)
        goto out;
    img->entry = get_le64(b + EHDR_ENTRY);
    if (check_entry(img, img->entry, err, errlen) != 0)
        goto out;
    ret = 0;
out:
    elf_end(e);
    if (ret != 0)
        memset(img, 0, sizeof(*img));
    return ret;
}

int pvrr_elf_classify(const void *buf, size_t len, char *err, size_t errlen)
{
    const unsigned char *b = buf;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (buf == NULL || len < EI_NIDENT || memcmp(b, ELFMAG, SELFMAG) != 0)
        return PVRR_ELF_GUEST;
    if (b[EI_CLASS] == ELFCLASS32) {
        unsigned machine = len >= 20 ? get_le16(b + EHDR_MACHINE) : 0;
        pvrr_formats_errf(err, errlen,
                          "a 32-bit ELF (ELFCLASS32%s): pvrr runs 64-bit x86-64 programs only",
                          machine == EM_386 ? ", i386" : "");
        return -1;
    }
    if (b[EI_CLASS] != ELFCLASS64 || b[EI_DATA] != ELFDATA2LSB || len < sizeof(Elf64_Ehdr))
        return PVRR_ELF_GUEST;
    unsigned type = get_le16(b + EHDR_TYPE);
    unsigned machine = get_le16(b + EHDR_MACHINE);
    uint64_t phoff = get_le64(b + EHDR_PHOFF);
    size_t phnum = get_le16(b + EHDR_PHNUM);
    if (get_le16(b + EHDR_PHENTSIZE) != sizeof(Elf64_Phdr) || phoff > len ||
        phnum * sizeof(Elf64_Phdr) > len - phoff)
        return PVRR_ELF_GUEST;
    int linux_like = type == ET_DYN, interp = 0;
    for (size_t i = 0; i < phnum; i++) {
        uint32_t pt;
        memcpy(&pt, b + phoff + i * sizeof(Elf64_Phdr), sizeof pt); /* p_type, little-endian */
        if (pt != PT_LOAD)
            linux_like = 1;
        if (pt == PT_INTERP)
            interp = 1;
    }
    if (!linux_like)
        return PVRR_ELF_GUEST;
    for (size_t i = 0; i < phnum; i++) {
        const unsigned char *ph = b + phoff + i * sizeof(Elf64_Phdr);
        uint32_t pt;
        memcpy(&pt, ph, sizeof pt);
        uint64_t off = get_le64(ph + 8), filesz = get_le64(ph + 32);
        if (pt == PT_LOAD && (off > len || filesz > len - off)) {
            pvrr_formats_errf(err, errlen,
                              "segment %zu file range [offset 0x%llx+0x%llx] lies outside the "
                              "%zu-byte file (truncated?)",
                              i, (unsigned long long)off, (unsigned long long)filesz, len);
            return -1;
        }
    }
    if (machine != EM_X86_64) {
        const char *name = machine_name(machine);
        pvrr_formats_errf(err, errlen, "a program for machine %s (%u): pvrr runs x86-64 programs",
                          name ? name : "unknown", machine);
        return -1;
    }
    if (interp) {
        pvrr_formats_errf(err, errlen,
                          "a dynamically linked program (it has PT_INTERP): pvrr runs statically "
                          "linked programs only (build it with -static)");
        return -1;
    }
    if (type != ET_EXEC && type != ET_DYN) {
        const char *name = type_name(type);
        pvrr_formats_errf(err, errlen, "ELF type %s (%u) is not an executable program",
                          name ? name : "unknown", type);
        return -1;
    }
    return PVRR_ELF_LINUX;
}
