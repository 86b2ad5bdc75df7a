/*
 * fuzz_elf.c - libFuzzer harness for the guest ELF loader's validation
 * (elf.h: pvrr_elf_parse) and, on the same bytes, the symbolizer
 * (symbolize.h: pvrr_sym_open, lookups, pvrr_sym_close). Built by
 * tests/fuzz/CMakeLists.txt: with -DPVRR_FUZZ=ON under clang as a libFuzzer
 * binary, otherwise as a plain program that runs the files named on its
 * command line (tests/fuzz/fuzz_main.c).
 *
 * pvrr_elf_parse is checked against its contract: on success every segment's
 * file range lies in the input (the harness reads each byte of it, so ASan
 * sees any range the checks let through), segments lie in
 * [PVRR_IMAGE_MIN, mem_size), do not overlap, and the entry point lies in an
 * executable one; on failure the image is zeroed and the message is a
 * non-empty string. Each input is parsed for 64 MiB of RAM and for a size
 * taken from its last byte.
 *
 * pvrr_sym_open forks a child that reads the DWARF line tables with libdwarf
 * (known to crash on bad DWARF, hence the child); that costs a fork per input
 * and the child's coverage is lost to the fuzzer, but the parent's symbol
 * table code, the stream parser and the lookups are fuzzed. Set
 * PVRR_FUZZ_ELF_NO_SYM=1 in the environment to fuzz pvrr_elf_parse alone
 * (several times more inputs per second).
 *
 * Seed corpus: tests/fuzz/corpus/formats_fuzz_elf (a real guest and small
 * hand-made images; see tests/fuzz/make-seeds).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/elf.h"
#include "formats/symbolize.h"
#include "pvrr_abi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_elf.c:%d: check failed: %s\n", __LINE__, #cond);                 \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define PF_X_FLAG 1u /* PF_X, without pulling in elf.h's system twin */

/* pvrr's default guest RAM (pvrr run --mem). */
#define FUZZ_MEM_SIZE (64ull << 20)

static int use_sym = -1;

static void parse(const uint8_t *data, size_t size, uint64_t mem_size)
{
    static const struct pvrr_elf_image zero;
    struct pvrr_elf_image img;
    char err[256];
    volatile uint8_t sink = 0;
    int entry_ok = 0;

    memset(err, 'x', sizeof(err));
    if (pvrr_elf_parse(data, size, mem_size, &img, err, sizeof(err)) != 0) {
        CHECK(memchr(err, 0, sizeof(err)) != NULL && err[0] != 0);
        CHECK(memcmp(&img, &zero, sizeof(img)) == 0);
        return;
    }
    CHECK(img.nsegs >= 1 && img.nsegs <= PVRR_ELF_MAX_SEGS);
    for (size_t i = 0; i < img.nsegs; i++) {
        const struct pvrr_elf_segment *s = &img.segs[i];

        CHECK(s->offset <= size && s->filesz <= size - s->offset);
        CHECK(s->filesz <= s->memsz);
        CHECK(s->paddr == s->vaddr);
        CHECK(s->paddr >= PVRR_IMAGE_MIN && s->paddr <= mem_size &&
              s->memsz <= mem_size - s->paddr);
        CHECK(s->paddr + s->memsz <= img.image_end && img.image_end % 4096 == 0);
        for (size_t k = 0; k < i; k++) {
            const struct pvrr_elf_segment *o = &img.segs[k];
            CHECK(s->paddr >= o->paddr + o->memsz || o->paddr >= s->paddr + s->memsz);
        }
        if ((s->flags & PF_X_FLAG) && img.entry >= s->paddr && img.entry - s->paddr < s->memsz)
            entry_ok = 1;
        /* What the loader copies: every byte must be inside the input. */
        for (uint64_t b = 0; b < s->filesz; b++)
            sink ^= data[s->offset + b];
    }
    CHECK(entry_ok);
    (void)sink;
}

static void symbolize(const uint8_t *data, size_t size)
{
    struct pvrr_sym *s;
    struct pvrr_symloc loc;
    char err[256], line[512];
    uint64_t addr = 0;

    if (pvrr_sym_open(&s, data, size, err, sizeof(err)) != 0) {
        CHECK(s == NULL && memchr(err, 0, sizeof(err)) != NULL);
        return;
    }
    (void)pvrr_sym_warning(s);
    /* Addresses a replay asks about: the entry, main, and a few from the input. */
    if (size >= 32) {
        memcpy(&addr, data + 24, 8); /* e_entry */
        pvrr_sym_lookup(s, addr, &loc);
        pvrr_sym_format(s, addr, line, sizeof(line));
        pvrr_sym_format(s, addr + 1, line, 8);
    }
    if (pvrr_sym_addr(s, "main", &addr) == 0) {
        pvrr_sym_lookup(s, addr, &loc);
        pvrr_sym_format(s, addr + 3, line, sizeof(line));
    }
    for (size_t i = 0; i + 8 <= size && i < 64; i += 8) {
        memcpy(&addr, data + size - 8 - i, 8);
        pvrr_sym_lookup(s, addr, &loc);
        CHECK(memchr(loc.func, 0, sizeof(loc.func)) && memchr(loc.file, 0, sizeof(loc.file)));
    }
    pvrr_sym_format(s, 0, line, 1);
    pvrr_sym_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (use_sym < 0) {
        const char *e = getenv("PVRR_FUZZ_ELF_NO_SYM");
        use_sym = !(e && e[0] == '1');
    }
    parse(data, size, FUZZ_MEM_SIZE);
    if (size > 0)
        parse(data, size, (uint64_t)data[size - 1] << 20);
    if (use_sym)
        symbolize(data, size);
    return 0;
}
