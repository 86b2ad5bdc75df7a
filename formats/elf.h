/*
 * elf.h - validate a guest ELF image before the monitor loads it.
 *
 * Library code: returns -1 with a message naming the problem and where,
 * never prints or exits. Safe on hostile input: every offset, size and address
 * is checked with overflow-safe arithmetic before use.
 */
#ifndef PVRR_FORMATS_ELF_H
#define PVRR_FORMATS_ELF_H

#include <stddef.h>
#include <stdint.h>

/* Most PT_LOAD segments a guest image may have; real guests have 2 to 4. */
#define PVRR_ELF_MAX_SEGS 16

/* One PT_LOAD segment with non-zero memory size, as found in the file. */
struct pvrr_elf_segment {
    uint64_t paddr;  /* guest-physical load address, >= PVRR_IMAGE_MIN */
    uint64_t vaddr;  /* equal to paddr: guest memory is identity mapped */
    uint64_t offset; /* file offset of the first byte to copy */
    uint64_t filesz; /* bytes to copy from the file */
    uint64_t memsz;  /* bytes occupied in memory; [filesz, memsz) is zeroed */
    uint32_t flags;  /* PF_R, PF_W, PF_X */
};

struct pvrr_elf_image {
    uint64_t entry;     /* entry point, inside an executable segment */
    uint64_t image_end; /* end of the highest segment, rounded up to 4 KiB */
    size_t nsegs;       /* segments in segs[], in program header order */
    struct pvrr_elf_segment segs[PVRR_ELF_MAX_SEGS];
};

/*
 * Parse (buf, len) as a guest image for a machine with (mem_size) bytes of RAM
 * and fill (img). Checks: ELF magic, ELFCLASS64, little-endian, EM_X86_64,
 * ET_EXEC, a sane program header table, at least one PT_LOAD, and for each
 * PT_LOAD: its file range lies inside the buffer, filesz <= memsz, its
 * physical range lies inside [PVRR_IMAGE_MIN, mem_size), vaddr == paddr, and
 * it does not overlap another segment; finally the entry point lies inside an
 * executable segment. PT_LOADs with memsz 0 are ignored. Messages name
 * segments by their program header index, e.g.
 * "segment 1 [0x0-0x2000) overlaps the monitor's pages below 0x100000".
 * (buf) need not be aligned and is never written. Returns 0, or -1 with (img)
 * zeroed and a NUL-terminated message in (err, errlen) (err may be NULL).
 */
int pvrr_elf_parse(const void *buf, size_t len, uint64_t mem_size, struct pvrr_elf_image *img,
                   char *err, size_t errlen);

/* What kind of program an ELF file is (pvrr_elf_classify). */
enum pvrr_elf_kind {
    PVRR_ELF_GUEST = 0, /* a pvrr guest built with the SDK (only PT_LOAD headers) */
    PVRR_ELF_LINUX = 1, /* a static x86-64 Linux program (run by the Linux personality) */
};

/*
 * Tell a pvrr SDK guest from a Linux program. The SDK's linker script emits
 * PT_LOAD program headers only, in an ET_EXEC file; a Linux toolchain always
 * adds others (PT_GNU_STACK, PT_NOTE, PT_TLS, PT_INTERP...) or builds ET_DYN.
 * A file that is not a well-formed ELF64 is classified PVRR_ELF_GUEST so that
 * pvrr_elf_parse describes its problem. Returns the kind, or -1 with a
 * message in (err, errlen) for a Linux program pvrr cannot run: a 32-bit
 * one, a dynamically linked one (PT_INTERP) or one for another machine.
 */
int pvrr_elf_classify(const void *buf, size_t len, char *err, size_t errlen);

#endif /* PVRR_FORMATS_ELF_H */
