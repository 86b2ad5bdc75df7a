/*
 * test_elf.c - pvrr_elf_parse() on fixtures written byte by byte.
 *
 * Every fixture starts from a minimal valid ELF64 x86-64 ET_EXEC image with
 * one PT_LOAD (the whole 4 KiB file, read+execute, at 1 MiB) and changes one
 * thing; each negative case asserts the exact error text.
 */
#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/elf.h"
#include "pvrr_abi.h"

#define MEM_SIZE (64ull << 20)
#define FILE_SIZE 4096u
#define PHOFF 64u
#define PHENT 56u
#define BASE 0x100000ull

/* ELF constants, spelled out so the fixtures do not depend on <elf.h>. */
enum {
    F_X = 1,
    F_W = 2,
    F_R = 4,
    T_LOAD = 1,
    T_NOTE = 4,
};

struct phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

struct fixture {
    uint8_t ident_class, ident_data, ident_version;
    uint16_t type, machine, phentsize;
    uint64_t entry, phoff;
    uint16_t phnum;
    struct phdr ph[20];
    size_t len; /* bytes of the built image used by the test */
};

static uint8_t img[FILE_SIZE];
static char err[256];
static struct pvrr_elf_image out;

static void put(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The minimal valid image: one R+X PT_LOAD covering the file at 1 MiB. */
static struct fixture base(void)
{
    struct fixture f = {
        .ident_class = 2, /* ELFCLASS64 */
        .ident_data = 1,  /* ELFDATA2LSB */
        .ident_version = 1,
        .type = 2,     /* ET_EXEC */
        .machine = 62, /* EM_X86_64 */
        .phentsize = PHENT,
        .entry = BASE + 0x100,
        .phoff = PHOFF,
        .phnum = 1,
        .len = FILE_SIZE,
    };
    f.ph[0] = (struct phdr){T_LOAD, F_R | F_X, 0, BASE, BASE, FILE_SIZE, 0x2000, 0x1000};
    return f;
}

/* Write (f) into img[] byte by byte and return its length. */
static size_t build(const struct fixture *f)
{
    memset(img, 0, sizeof(img));
    img[0] = 0x7f;
    img[1] = 'E';
    img[2] = 'L';
    img[3] = 'F';
    img[4] = f->ident_class;
    img[5] = f->ident_data;
    img[6] = f->ident_version;
    put(img + 16, f->type, 2);
    put(img + 18, f->machine, 2);
    put(img + 20, 1, 4); /* e_version */
    put(img + 24, f->entry, 8);
    put(img + 32, f->phoff, 8);
    put(img + 40, 0, 8); /* e_shoff: no section headers */
    put(img + 48, 0, 4); /* e_flags */
    put(img + 52, 64, 2);
    put(img + 54, f->phentsize, 2);
    put(img + 56, f->phnum, 2);
    put(img + 58, 64, 2); /* e_shentsize */
    put(img + 60, 0, 2);  /* e_shnum */
    put(img + 62, 0, 2);  /* e_shstrndx */
    for (unsigned i = 0; i < f->phnum && PHOFF + (i + 1) * PHENT <= FILE_SIZE; i++) {
        uint8_t *p = img + PHOFF + i * PHENT;

        put(p + 0, f->ph[i].type, 4);
        put(p + 4, f->ph[i].flags, 4);
        put(p + 8, f->ph[i].offset, 8);
        put(p + 16, f->ph[i].vaddr, 8);
        put(p + 24, f->ph[i].paddr, 8);
        put(p + 32, f->ph[i].filesz, 8);
        put(p + 40, f->ph[i].memsz, 8);
        put(p + 48, f->ph[i].align, 8);
    }
    return f->len;
}

static int parse(const struct fixture *f)
{
    size_t len = build(f);

    memset(err, 'x', sizeof(err));
    err[sizeof(err) - 1] = '\0';
    return pvrr_elf_parse(img, len, MEM_SIZE, &out, err, sizeof(err));
}

/* Assert that parsing (f) fails with exactly (msg). */
static void expect_error(const struct fixture *f, const char *msg)
{
    int r = parse(f);

    CU_ASSERT_EQUAL(r, -1);
    CU_ASSERT_STRING_EQUAL(err, msg);
    CU_ASSERT_EQUAL(out.nsegs, 0);
    if (r != -1 || strcmp(err, msg) != 0)
        fprintf(stderr, "\n  want: %s\n  got:  %s (ret %d)\n", msg, err, r);
}

static void test_valid_minimal(void)
{
    struct fixture f = base();

    CU_ASSERT_EQUAL_FATAL(parse(&f), 0);
    CU_ASSERT_STRING_EQUAL(err, "");
    CU_ASSERT_EQUAL(out.entry, BASE + 0x100);
    CU_ASSERT_EQUAL(out.nsegs, 1);
    CU_ASSERT_EQUAL(out.segs[0].paddr, BASE);
    CU_ASSERT_EQUAL(out.segs[0].vaddr, BASE);
    CU_ASSERT_EQUAL(out.segs[0].offset, 0);
    CU_ASSERT_EQUAL(out.segs[0].filesz, FILE_SIZE);
    CU_ASSERT_EQUAL(out.segs[0].memsz, 0x2000);
    CU_ASSERT_EQUAL(out.segs[0].flags, F_R | F_X);
    CU_ASSERT_EQUAL(out.image_end, BASE + 0x2000);
}

static void test_valid_text_data_bss(void)
{
    struct fixture f = base();

    f.phnum = 3;
    f.ph[0].filesz = 0x800;
    f.ph[0].memsz = 0x800;
    f.ph[1] = (struct phdr){T_NOTE, F_R, 0x200, 0, 0, 0x10, 0x10, 4}; /* not loaded */
    f.ph[2] = (struct phdr){T_LOAD,        F_R | F_W, 0x800,  BASE + 0x1800,
                            BASE + 0x1800, 0x100,     0x2345, 0x1000};
    CU_ASSERT_EQUAL_FATAL(parse(&f), 0);
    CU_ASSERT_EQUAL(out.nsegs, 2);
    CU_ASSERT_EQUAL(out.segs[1].paddr, BASE + 0x1800);
    CU_ASSERT_EQUAL(out.segs[1].filesz, 0x100);
    CU_ASSERT_EQUAL(out.segs[1].memsz, 0x2345);
    /* 0x101800 + 0x2345 = 0x103b45, rounded up to a page */
    CU_ASSERT_EQUAL(out.image_end, 0x104000);
}

static void test_segment_touching_ram_end(void)
{
    struct fixture f = base();

    f.ph[0].memsz = MEM_SIZE - BASE; /* ends exactly at the end of RAM */
    CU_ASSERT_EQUAL(parse(&f), 0);
    CU_ASSERT_EQUAL(out.image_end, MEM_SIZE);
}

static void test_empty_load_ignored(void)
{
    struct fixture f = base();

    f.phnum = 2;
    f.ph[1] = (struct phdr){T_LOAD, F_R, 0, 0, 0, 0, 0, 0x1000}; /* memsz 0 at address 0 */
    CU_ASSERT_EQUAL(parse(&f), 0);
    CU_ASSERT_EQUAL(out.nsegs, 1);
}

static void test_not_elf(void)
{
    struct fixture f = base();

    build(&f);
    memcpy(img,
           "\x7f"
           "ELG",
           4);
    CU_ASSERT_EQUAL(pvrr_elf_parse(img, FILE_SIZE, MEM_SIZE, &out, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "not an ELF file (bad magic)");
    memcpy(img, "#!/bin/sh\n", 10);
    CU_ASSERT_EQUAL(pvrr_elf_parse(img, 10, MEM_SIZE, &out, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "not an ELF file (bad magic)");
    CU_ASSERT_EQUAL(pvrr_elf_parse("\x7f"
                                   "X",
                                   2, MEM_SIZE, &out, err, sizeof(err)),
                    -1);
    CU_ASSERT_STRING_EQUAL(err, "not an ELF file (bad magic)");
}

static void test_zero_length(void)
{
    struct fixture f = base();

    f.len = 0;
    expect_error(&f, "empty file (0 bytes), not an ELF file");
    CU_ASSERT_EQUAL(pvrr_elf_parse(NULL, 0, MEM_SIZE, &out, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "empty file (0 bytes), not an ELF file");
}

static void test_truncated_header(void)
{
    struct fixture f = base();

    f.len = 40;
    expect_error(&f, "truncated ELF header: the file is 40 bytes, need 64");
    f.len = 3; /* a prefix of the magic */
    expect_error(&f, "truncated ELF header: the file is 3 bytes, need 64");
    f.len = 63;
    expect_error(&f, "truncated ELF header: the file is 63 bytes, need 64");
}

static void test_class32(void)
{
    struct fixture f = base();

    f.ident_class = 1;
    expect_error(&f, "ELF class 32-bit, need 64-bit");
    f.len = 52; /* the size of an ELF32 header: still reported as 32-bit */
    expect_error(&f, "ELF class 32-bit, need 64-bit");
    f.ident_class = 7;
    expect_error(&f, "ELF class 7 (invalid), need 64-bit (2)");
}

static void test_big_endian(void)
{
    struct fixture f = base();

    f.ident_data = 2;
    expect_error(&f, "ELF data big-endian, need little-endian");
    f.ident_data = 0;
    expect_error(&f, "ELF data encoding 0 (invalid), need little-endian (1)");
}

static void test_bad_version(void)
{
    struct fixture f = base();

    f.ident_version = 2;
    expect_error(&f, "ELF version 2, need 1 (EV_CURRENT)");
}

static void test_wrong_machine(void)
{
    struct fixture f = base();

    f.machine = 3;
    expect_error(&f, "machine EM_386 (3), need x86-64 (62)");
    f.machine = 183;
    expect_error(&f, "machine EM_AARCH64 (183), need x86-64 (62)");
    f.machine = 0x1234;
    expect_error(&f, "machine 4660, need x86-64 (62)");
}

static void test_wrong_type(void)
{
    struct fixture f = base();

    f.type = 3;
    expect_error(&f, "ELF type ET_DYN (3), need ET_EXEC (2)");
    f.type = 1;
    expect_error(&f, "ELF type ET_REL (1), need ET_EXEC (2)");
    f.type = 0xfe00;
    expect_error(&f, "ELF type 65024, need ET_EXEC (2)");
}

static void test_bad_phentsize(void)
{
    struct fixture f = base();

    f.phentsize = 32;
    expect_error(&f, "program header entry size 32, need 56");
}

static void test_phdrs_outside_file(void)
{
    struct fixture f = base();

    f.phoff = FILE_SIZE - 8;
    expect_error(&f, "program header table [offset 0xff8+0x38] lies outside the 4096-byte file");
    f.phoff = UINT64_MAX - 8; /* offset + size wraps */
    expect_error(&f, "program header table [offset 0xfffffffffffffff7+0x38] lies outside the "
                     "4096-byte file");
    f = base();
    f.len = 100; /* header complete, program header table cut */
    expect_error(&f, "program header table [offset 0x40+0x38] lies outside the 100-byte file");
}

static void test_no_load(void)
{
    struct fixture f = base();

    f.ph[0].type = T_NOTE;
    expect_error(&f, "no PT_LOAD segment among 1 program headers");
    f.phnum = 0;
    expect_error(&f, "no PT_LOAD segment among 0 program headers");
}

static void test_below_1mib(void)
{
    struct fixture f = base();

    f.phnum = 2;
    f.ph[1] = (struct phdr){T_LOAD, F_R | F_W, 0, 0, 0, 0x1000, 0x2000, 0x1000};
    expect_error(&f, "segment 1 [0x0-0x2000) overlaps the monitor's pages below 0x100000");
    f.ph[1].paddr = f.ph[1].vaddr = BASE - 1;
    f.ph[1].filesz = 0;
    f.ph[1].memsz = 1;
    expect_error(&f, "segment 1 [0xfffff-0x100000) overlaps the monitor's pages below 0x100000");
}

static void test_past_ram(void)
{
    struct fixture f = base();

    f.ph[0].memsz = MEM_SIZE - BASE + 1;
    expect_error(&f, "segment 0 [0x100000-0x4000001) lies past the end of guest RAM "
                     "(0x4000000 bytes)");
    f = base();
    f.ph[0].paddr = f.ph[0].vaddr = 5ull << 30; /* starts past RAM */
    expect_error(&f, "segment 0 [0x140000000-0x140002000) lies past the end of guest RAM "
                     "(0x4000000 bytes)");
}

static void test_address_overflow(void)
{
    struct fixture f = base();

    f.ph[0].paddr = f.ph[0].vaddr = UINT64_MAX - 0xfff;
    expect_error(&f, "segment 0 [0xfffffffffffff000+0x2000] wraps around the end of the "
                     "address space");
    f.ph[0].memsz = UINT64_MAX;
    f.ph[0].paddr = f.ph[0].vaddr = BASE;
    expect_error(&f, "segment 0 [0x100000+0xffffffffffffffff] wraps around the end of the "
                     "address space");
}

static void test_filesz_gt_memsz(void)
{
    struct fixture f = base();

    f.ph[0].memsz = 0x800;
    expect_error(&f, "segment 0 file size 0x1000 exceeds its memory size 0x800");
    f.ph[0].memsz = 0; /* filesz > 0 = memsz: not an empty segment */
    expect_error(&f, "segment 0 file size 0x1000 exceeds its memory size 0x0");
}

static void test_file_range_past_end(void)
{
    struct fixture f = base();

    f.ph[0].filesz = FILE_SIZE + 1;
    expect_error(&f, "segment 0 file range [offset 0x0+0x1001] lies outside the 4096-byte file");
    f = base();
    f.ph[0].offset = 0x800;
    expect_error(&f, "segment 0 file range [offset 0x800+0x1000] lies outside the 4096-byte file");
    f.ph[0].offset = UINT64_MAX; /* offset + filesz wraps */
    expect_error(&f, "segment 0 file range [offset 0xffffffffffffffff+0x1000] lies outside the "
                     "4096-byte file");
    f.ph[0].offset = 0x1000; /* at the end, length 1 */
    f.ph[0].filesz = 1;
    expect_error(&f, "segment 0 file range [offset 0x1000+0x1] lies outside the 4096-byte file");
    f.ph[0].filesz = 0; /* at the end, empty: fine (a pure bss segment) */
    f.entry = BASE;
    CU_ASSERT_EQUAL(parse(&f), 0);
}

static void test_overlap(void)
{
    struct fixture f = base();

    f.phnum = 2;
    f.ph[1] = (struct phdr){T_LOAD, F_R | F_W, 0, BASE + 0x1fff, BASE + 0x1fff, 0, 0x10, 0x1000};
    expect_error(&f, "segments 0 [0x100000-0x102000) and 1 [0x101fff-0x10200f) overlap");
    f.ph[1].paddr = f.ph[1].vaddr = BASE + 0x2000; /* adjacent: fine */
    CU_ASSERT_EQUAL(parse(&f), 0);
    f.ph[1].paddr = f.ph[1].vaddr = BASE + 0x100; /* inside segment 0 */
    expect_error(&f, "segments 0 [0x100000-0x102000) and 1 [0x100100-0x100110) overlap");
    f.phnum = 3;
    f.ph[1].paddr = f.ph[1].vaddr = BASE + 0x3000;
    f.ph[2] = (struct phdr){T_LOAD, F_R, 0, 0x1000000, 0x1000000, 0, 0x1000, 0x1000};
    CU_ASSERT_EQUAL(parse(&f), 0);
    /* a third segment covering both others is reported against the first */
    f.ph[2].paddr = f.ph[2].vaddr = BASE;
    f.ph[2].memsz = 0x10000;
    expect_error(&f, "segments 0 [0x100000-0x102000) and 2 [0x100000-0x110000) overlap");
}

static void test_vaddr_differs(void)
{
    struct fixture f = base();

    f.ph[0].vaddr = 0xffffffff80100000ull;
    expect_error(&f, "segment 0 virtual address 0xffffffff80100000 differs from its physical "
                     "address 0x100000 (guest memory is identity mapped)");
}

static void test_entry_outside(void)
{
    struct fixture f = base();

    f.entry = BASE + 0x2000; /* one past the end */
    expect_error(&f, "entry point 0x102000 is not inside an executable segment");
    f.entry = 0;
    expect_error(&f, "entry point 0x0 is not inside an executable segment");
    /* inside a segment, but not an executable one */
    f.phnum = 2;
    f.ph[0].memsz = 0x1000;
    f.ph[1] = (struct phdr){T_LOAD, F_R | F_W, 0, BASE + 0x1000, BASE + 0x1000, 0, 0x1000, 0x1000};
    f.entry = BASE + 0x1800;
    expect_error(&f, "entry point 0x101800 is not inside an executable segment");
    f.entry = BASE + 0xfff; /* last byte of the text */
    CU_ASSERT_EQUAL(parse(&f), 0);
}

static void test_too_many_segments(void)
{
    struct fixture f = base();

    f.phnum = PVRR_ELF_MAX_SEGS + 1;
    for (unsigned i = 1; i < f.phnum; i++)
        f.ph[i] = (struct phdr){
            T_LOAD, F_R, 0, BASE + 0x2000 * (i + 1), BASE + 0x2000 * (i + 1), 0, 0x1000, 0x1000};
    expect_error(&f, "segment 16: more than 16 PT_LOAD segments");
    f.phnum = PVRR_ELF_MAX_SEGS;
    CU_ASSERT_EQUAL(parse(&f), 0);
    CU_ASSERT_EQUAL(out.nsegs, PVRR_ELF_MAX_SEGS);
}

static void test_error_buffer(void)
{
    struct fixture f = base();
    char small[8];
    size_t len;

    f.machine = 3;
    len = build(&f);
    /* NULL or empty error buffers are allowed, small ones are truncated */
    CU_ASSERT_EQUAL(pvrr_elf_parse(img, len, MEM_SIZE, &out, NULL, 0), -1);
    CU_ASSERT_EQUAL(pvrr_elf_parse(img, len, MEM_SIZE, &out, small, 0), -1);
    CU_ASSERT_EQUAL(pvrr_elf_parse(img, len, MEM_SIZE, &out, small, sizeof(small)), -1);
    CU_ASSERT_STRING_EQUAL(small, "machine");
}

static void test_unaligned_buffer(void)
{
    struct fixture f = base();
    size_t len = build(&f);
    uint8_t *copy = malloc(len + 1);

    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    memcpy(copy + 1, img, len);
    CU_ASSERT_EQUAL(pvrr_elf_parse(copy + 1, len, MEM_SIZE, &out, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(out.nsegs, 1);
    free(copy);
}

/* Random corruptions of valid images: any result is fine, but no crash, and
 * an accepted image must satisfy every documented invariant. */
static void test_mutations(void)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull;

    for (int iter = 0; iter < 20000; iter++) {
        struct fixture f = base();
        size_t len;
        int nflips;

        if (iter % 2) {
            f.phnum = 3;
            f.ph[0].memsz = 0x1000;
            f.ph[1] = (struct phdr){T_LOAD,        F_R | F_W, 0x800, BASE + 0x1800,
                                    BASE + 0x1800, 0x100,     0x800, 0x1000};
            f.ph[2] = (struct phdr){T_NOTE, F_R, 0x200, 0, 0, 0x10, 0x10, 4};
        }
        len = build(&f);
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        nflips = 1 + (int)(rng % 4);
        for (int k = 0; k < nflips; k++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            /* bias towards the headers, where the checks are */
            size_t pos = (rng >> 8) % (k == 0 ? 64 + 3 * PHENT : len);
            img[pos] = (uint8_t)(rng >> 32);
        }
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        if (rng % 8 == 0)
            len = (size_t)(rng >> 16) % len;
        if (pvrr_elf_parse(img, len, MEM_SIZE, &out, err, sizeof(err)) == 0) {
            CU_ASSERT(out.nsegs >= 1 && out.nsegs <= PVRR_ELF_MAX_SEGS);
            for (size_t i = 0; i < out.nsegs; i++) {
                const struct pvrr_elf_segment *s = &out.segs[i];

                CU_ASSERT(s->offset <= len && s->filesz <= len - s->offset);
                CU_ASSERT(s->filesz <= s->memsz);
                CU_ASSERT(s->paddr >= PVRR_IMAGE_MIN && s->memsz <= MEM_SIZE - s->paddr);
                CU_ASSERT(s->paddr + s->memsz <= out.image_end);
            }
        } else {
            CU_ASSERT(err[0] != '\0');
            CU_ASSERT_EQUAL(out.nsegs, 0);
        }
    }
}

/* pvrr_elf_classify: SDK guests (PT_LOAD only, ET_EXEC) versus Linux programs. */
static void test_classify(void)
{
    struct fixture f = base();
    size_t len = build(&f);
    CU_ASSERT_EQUAL(pvrr_elf_classify(img, len, err, sizeof err), PVRR_ELF_GUEST);

    f.phnum = 2; /* a Linux toolchain adds PT_GNU_STACK (0x6474e551) */
    f.ph[1] = (struct phdr){0x6474e551u, F_R | F_W, 0, 0, 0, 0, 0, 16};
    len = build(&f);
    CU_ASSERT_EQUAL(pvrr_elf_classify(img, len, err, sizeof err), PVRR_ELF_LINUX);

    f = base(); /* static-pie: ET_DYN without PT_INTERP */
    f.type = 3;
    len = build(&f);
    CU_ASSERT_EQUAL(pvrr_elf_classify(img, len, err, sizeof err), PVRR_ELF_LINUX);

    f.phnum = 2; /* dynamic: PT_INTERP */
    f.ph[1] = (struct phdr){3, F_R, 0, 0, 0, 28, 28, 1};
    len = build(&f);
    CU_ASSERT_EQUAL(pvrr_elf_classify(img, len, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "dynamically linked"));

    f = base(); /* a Linux program for another machine */
    f.machine = 183;
    f.phnum = 2;
    f.ph[1] = (struct phdr){0x6474e551u, F_R | F_W, 0, 0, 0, 0, 0, 16};
    len = build(&f);
    CU_ASSERT_EQUAL(pvrr_elf_classify(img, len, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "EM_AARCH64"));

    f = base(); /* 32-bit */
    f.ident_class = 1;
    len = build(&f);
    CU_ASSERT_EQUAL(pvrr_elf_classify(img, len, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "32-bit"));

    /* malformed files are left to pvrr_elf_parse: classified as guests */
    CU_ASSERT_EQUAL(pvrr_elf_classify("not an elf", 10, err, sizeof err), PVRR_ELF_GUEST);
    f = base();
    len = build(&f);
    put(img + 56, 2000, 2); /* e_phnum: the table runs past the file */
    CU_ASSERT_EQUAL(pvrr_elf_classify(img, len, err, sizeof err), PVRR_ELF_GUEST);
    CU_ASSERT_EQUAL(pvrr_elf_classify(NULL, 0, err, sizeof err), PVRR_ELF_GUEST);
}

int main(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        {"valid minimal image", test_valid_minimal},
        {"valid text, note, data+bss", test_valid_text_data_bss},
        {"segment ending at the end of RAM", test_segment_touching_ram_end},
        {"empty PT_LOAD ignored", test_empty_load_ignored},
        {"not an ELF", test_not_elf},
        {"zero-length file", test_zero_length},
        {"truncated header", test_truncated_header},
        {"32-bit class", test_class32},
        {"big-endian", test_big_endian},
        {"bad ident version", test_bad_version},
        {"wrong machine", test_wrong_machine},
        {"ET_DYN and other types", test_wrong_type},
        {"bad phentsize", test_bad_phentsize},
        {"program headers outside the file", test_phdrs_outside_file},
        {"no PT_LOAD", test_no_load},
        {"segment below 1 MiB", test_below_1mib},
        {"segment past RAM", test_past_ram},
        {"segment address overflow", test_address_overflow},
        {"filesz > memsz", test_filesz_gt_memsz},
        {"file range past the end", test_file_range_past_end},
        {"overlapping segments", test_overlap},
        {"vaddr != paddr", test_vaddr_differs},
        {"entry outside executable segments", test_entry_outside},
        {"too many segments", test_too_many_segments},
        {"error buffer NULL or small", test_error_buffer},
        {"unaligned buffer", test_unaligned_buffer},
        {"random mutations", test_mutations},
        {"classify SDK guest versus Linux program", test_classify},
    };
    CU_pSuite suite;
    unsigned failed;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    suite = CU_add_suite("formats/elf", NULL, NULL);
    if (suite == NULL)
        return 1;
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (CU_add_test(suite, tests[i].name, tests[i].fn) == NULL)
            return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed != 0;
}
