/*
 * test_symbolize.c - the symbolizer on this test's own executable.
 *
 * The test binary is built with -O0 -g (tests/unit/formats/CMakeLists.txt),
 * so the first line row of a function is the line of its opening brace.
 * Corrupted copies of the binary check that malformed DWARF, symbol tables
 * and section headers give an error or a function-only result, never a crash.
 */
#include <CUnit/Basic.h>
#include <elf.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/file.h"
#include "formats/symbolize.h"

int main(void);
int pvrr_test_sym_target(int x);
int pvrr_test_sym_object = 42;

/* The line of pvrr_test_sym_target's opening brace: keep these lines together. */
static const unsigned target_line = __LINE__ + 2;
int pvrr_test_sym_target(int x)
{
    return x * 3 + 1;
}

static const unsigned local_line = __LINE__ + 2;
static int local_target(int x)
{
    return x - 1;
}

static void *exe; /* this executable's bytes */
static size_t exe_len;
static uintptr_t bias; /* load address of this executable (PIE) */
static struct pvrr_sym *sym;
static char err[512];

static int first_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    *(uintptr_t *)arg = info->dlpi_addr;
    return 1; /* the first object is the main program */
}

static int setup(void)
{
    if (pvrr_read_file("/proc/self/exe", 1u << 30, &exe, &exe_len, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    dl_iterate_phdr(first_object, &bias);
    if (pvrr_sym_open(&sym, exe, exe_len, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void)
{
    pvrr_sym_close(sym);
    free(exe);
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The image address of a function of this program. */
static uint64_t image_addr(uintptr_t runtime)
{
    return (uint64_t)(runtime - bias);
}

static void test_function_and_line(void)
{
    struct pvrr_symloc loc;
    uint64_t addr;
    int (*volatile fn)(int) = pvrr_test_sym_target;

    CU_ASSERT_EQUAL(fn(1), 4);
    CU_ASSERT_EQUAL_FATAL(pvrr_sym_addr(sym, "pvrr_test_sym_target", &addr), 0);
    CU_ASSERT_EQUAL(addr, image_addr((uintptr_t)pvrr_test_sym_target));
    CU_ASSERT_EQUAL_FATAL(pvrr_sym_lookup(sym, addr, &loc), 0);
    CU_ASSERT_STRING_EQUAL(loc.func, "pvrr_test_sym_target");
    CU_ASSERT_EQUAL(loc.func_addr, addr);
    CU_ASSERT_EQUAL(loc.has_line, 1);
    CU_ASSERT_EQUAL(loc.line, target_line);
    CU_ASSERT(ends_with(loc.file, "/test_symbolize.c"));
    if (loc.line != target_line || !ends_with(loc.file, "/test_symbolize.c"))
        fprintf(stderr, "\n  got %s:%u, want test_symbolize.c:%u\n", loc.file, loc.line,
                target_line);

    /* one byte in: same function, a line of its body or its brace */
    CU_ASSERT_EQUAL_FATAL(pvrr_sym_lookup(sym, addr + 1, &loc), 0);
    CU_ASSERT_STRING_EQUAL(loc.func, "pvrr_test_sym_target");
    CU_ASSERT_EQUAL(loc.func_addr, addr);
    CU_ASSERT(loc.has_line && loc.line >= target_line && loc.line <= target_line + 2);
}

static void test_local_function(void)
{
    struct pvrr_symloc loc;
    uint64_t addr = image_addr((uintptr_t)local_target);
    uint64_t by_name;

    CU_ASSERT_EQUAL(local_target(1), 0);
    CU_ASSERT_EQUAL_FATAL(pvrr_sym_lookup(sym, addr, &loc), 0);
    CU_ASSERT_STRING_EQUAL(loc.func, "local_target");
    CU_ASSERT_EQUAL(loc.line, local_line);
    CU_ASSERT_EQUAL(pvrr_sym_addr(sym, "local_target", &by_name), 0);
    CU_ASSERT_EQUAL(by_name, addr);
}

static void test_library_function(void)
{
    struct pvrr_symloc loc;
    uint64_t addr = image_addr((uintptr_t)pvrr_sym_format);

    CU_ASSERT_EQUAL_FATAL(pvrr_sym_lookup(sym, addr + 4, &loc), 0);
    CU_ASSERT_STRING_EQUAL(loc.func, "pvrr_sym_format");
    /* the library has line information unless built without -g (Release) */
    if (loc.has_line)
        CU_ASSERT(ends_with(loc.file, "formats/symbolize.c"));
}

static void test_addr_by_name(void)
{
    uint64_t addr = 0;

    CU_ASSERT_EQUAL(pvrr_sym_addr(sym, "main", &addr), 0);
    CU_ASSERT_EQUAL(addr, image_addr((uintptr_t)main));
    CU_ASSERT_EQUAL(pvrr_sym_addr(sym, "pvrr_test_sym_object", &addr), 0);
    CU_ASSERT_EQUAL(addr, image_addr((uintptr_t)&pvrr_test_sym_object));
    CU_ASSERT_EQUAL(pvrr_sym_addr(sym, "no_such_symbol_anywhere", &addr), -1);
    CU_ASSERT_EQUAL(pvrr_sym_addr(sym, "", &addr), -1);
    CU_ASSERT_EQUAL(pvrr_sym_addr(NULL, "main", &addr), -1);
}

static void test_not_code(void)
{
    struct pvrr_symloc loc;

    /* a data object is not a function */
    CU_ASSERT_EQUAL(pvrr_sym_lookup(sym, image_addr((uintptr_t)&pvrr_test_sym_object), &loc), -1);
    CU_ASSERT_STRING_EQUAL(loc.func, "");
    CU_ASSERT_EQUAL(loc.has_line, 0);
    CU_ASSERT_EQUAL(pvrr_sym_lookup(sym, 0, &loc), -1);
    CU_ASSERT_EQUAL(pvrr_sym_lookup(sym, UINT64_MAX, &loc), -1);
    CU_ASSERT_EQUAL(loc.has_line, 0);
    CU_ASSERT_EQUAL(pvrr_sym_lookup(NULL, 0x1234, &loc), -1);
}

static void test_format(void)
{
    char buf[256], want[256];
    uint64_t addr;

    CU_ASSERT_EQUAL_FATAL(pvrr_sym_addr(sym, "pvrr_test_sym_target", &addr), 0);
    pvrr_sym_format(sym, addr, buf, sizeof(buf));
    snprintf(want, sizeof(want), "pvrr_test_sym_target+0x0 (test_symbolize.c:%u)", target_line);
    CU_ASSERT_STRING_EQUAL(buf, want);
    pvrr_sym_format(sym, 0x1234, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "0x1234");
    pvrr_sym_format(NULL, 0xabc, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "0xabc");
    pvrr_sym_format(sym, addr, buf, 8); /* truncated, terminated */
    CU_ASSERT_STRING_EQUAL(buf, "pvrr_te");
    pvrr_sym_format(sym, addr, buf, 0); /* no room: untouched */
    CU_ASSERT_STRING_EQUAL(buf, "pvrr_te");
}

static void test_open_errors(void)
{
    struct pvrr_sym *s = (struct pvrr_sym *)1;
    unsigned char *copy;

    CU_ASSERT_EQUAL(pvrr_sym_open(&s, "", 0, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NULL(s);
    CU_ASSERT_STRING_EQUAL(err, "empty file (0 bytes), not an ELF file");
    CU_ASSERT_EQUAL(pvrr_sym_open(&s, "garbage, not an image", 21, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "not an ELF file (bad magic)");
    CU_ASSERT_EQUAL(pvrr_sym_open(&s, exe, 20, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "truncated ELF header: the file is 20 bytes, need 64");
    copy = malloc(exe_len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    memcpy(copy, exe, exe_len);
    copy[EI_CLASS] = ELFCLASS32;
    CU_ASSERT_EQUAL(pvrr_sym_open(&s, copy, exe_len, NULL, 0), -1);
    CU_ASSERT_EQUAL(pvrr_sym_open(&s, copy, exe_len, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "ELF class 32-bit, need 64-bit");
    free(copy);
}

/* ---- corrupted copies of this executable --------------------------------- */

/* Section header (index) of (img), copied out; 0 if out of range. */
static int get_shdr(const unsigned char *img, size_t len, size_t index, Elf64_Shdr *sh, size_t *at)
{
    Elf64_Ehdr eh;

    memcpy(&eh, img, sizeof(eh));
    if (index >= eh.e_shnum || eh.e_shoff > len || (index + 1) * sizeof(*sh) > len - eh.e_shoff)
        return 0;
    *at = eh.e_shoff + index * sizeof(*sh);
    memcpy(sh, img + *at, sizeof(*sh));
    return 1;
}

/* Find section (name); store its header and the header's file offset. */
static int find_section(const unsigned char *img, size_t len, const char *name, Elf64_Shdr *sh,
                        size_t *at)
{
    Elf64_Ehdr eh;
    Elf64_Shdr strsh;
    size_t strat;

    memcpy(&eh, img, sizeof(eh));
    if (!get_shdr(img, len, eh.e_shstrndx, &strsh, &strat))
        return 0;
    for (size_t i = 1; i < eh.e_shnum; i++) {
        size_t n = strlen(name) + 1;

        if (!get_shdr(img, len, i, sh, at))
            return 0;
        if (sh->sh_name < strsh.sh_size && strsh.sh_offset < len &&
            sh->sh_name < len - strsh.sh_offset && n <= len - strsh.sh_offset - sh->sh_name &&
            memcmp(img + strsh.sh_offset + sh->sh_name, name, n) == 0)
            return 1;
    }
    return 0;
}

static unsigned char *copy_exe(void)
{
    unsigned char *copy = malloc(exe_len);

    if (copy != NULL)
        memcpy(copy, exe, exe_len);
    return copy;
}

/*
 * Open (img); if that succeeds, symbolize a few addresses. With (want_func),
 * the symbol table is intact, so pvrr_test_sym_target must still be found.
 * Returns 1 if the image had line information for the target.
 */
static int exercise(const unsigned char *img, size_t len, int want_func)
{
    struct pvrr_sym *s = NULL;
    struct pvrr_symloc loc;
    char buf[512];
    uint64_t addr = image_addr((uintptr_t)pvrr_test_sym_target);
    int r = pvrr_sym_open(&s, img, len, err, sizeof(err));

    if (r != 0) {
        CU_ASSERT(err[0] != '\0');
        CU_ASSERT(!want_func);
        return 0;
    }
    r = pvrr_sym_lookup(s, addr, &loc);
    if (want_func) {
        CU_ASSERT_EQUAL(r, 0);
        CU_ASSERT_STRING_EQUAL(loc.func, "pvrr_test_sym_target");
    }
    for (uint64_t a = addr & ~0xfffull; a < (addr & ~0xfffull) + 0x4000; a += 0x61)
        pvrr_sym_format(s, a, buf, sizeof(buf));
    pvrr_sym_format(s, 0, buf, sizeof(buf));
    pvrr_sym_addr(s, "main", &addr);
    pvrr_sym_close(s);
    return loc.has_line;
}

static void test_warning(void)
{
    unsigned char *copy;
    Elf64_Shdr sh;
    size_t at;
    struct pvrr_sym *s;

    CU_ASSERT_PTR_NULL(pvrr_sym_warning(sym)); /* the intact image */
    CU_ASSERT_PTR_NULL(pvrr_sym_warning(NULL));
    /* a CU header with an impossible version: libdwarf's message is passed on */
    copy = malloc(exe_len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    memcpy(copy, exe, exe_len);
    CU_ASSERT_FATAL(find_section(copy, exe_len, ".debug_info", &sh, &at));
    copy[sh.sh_offset + 4] = 0x77; /* the low byte of the first CU's version */
    CU_ASSERT_EQUAL_FATAL(pvrr_sym_open(&s, copy, exe_len, err, sizeof(err)), 0);
    CU_ASSERT_PTR_NOT_NULL(pvrr_sym_warning(s));
    if (pvrr_sym_warning(s) != NULL)
        CU_ASSERT(strncmp(pvrr_sym_warning(s), "DWARF .debug_info unreadable after 0 CUs: ",
                          strlen("DWARF .debug_info unreadable after 0 CUs: ")) == 0);
    pvrr_sym_close(s);
    free(copy);
}

/* The reader process must be reaped, and its lines kept, even when the
 * caller ignores SIGCHLD (children then reap themselves) or handles SIGSEGV. */
static void on_signal(int sig)
{
}

static void test_caller_signal_handlers(void)
{
    struct sigaction ign = {.sa_handler = SIG_IGN}, handler = {.sa_handler = on_signal};
    struct sigaction old_chld, old_segv;
    struct pvrr_sym *s;
    struct pvrr_symloc loc;

    sigaction(SIGCHLD, &ign, &old_chld);
    sigaction(SIGSEGV, &handler, &old_segv);
    CU_ASSERT_EQUAL_FATAL(pvrr_sym_open(&s, exe, exe_len, err, sizeof(err)), 0);
    sigaction(SIGCHLD, &old_chld, NULL);
    sigaction(SIGSEGV, &old_segv, NULL);
    CU_ASSERT_PTR_NULL(pvrr_sym_warning(s));
    CU_ASSERT_EQUAL(pvrr_sym_lookup(s, image_addr((uintptr_t)pvrr_test_sym_target), &loc), 0);
    CU_ASSERT_EQUAL(loc.line, target_line);
    pvrr_sym_close(s);
}

static void fill_section(const char *name, unsigned char byte)
{
    unsigned char *copy = copy_exe();
    Elf64_Shdr sh;
    size_t at;

    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    CU_ASSERT_FATAL(find_section(copy, exe_len, name, &sh, &at));
    CU_ASSERT_FATAL(sh.sh_offset <= exe_len && sh.sh_size <= exe_len - sh.sh_offset);
    memset(copy + sh.sh_offset, byte, sh.sh_size);
    exercise(copy, exe_len, 1);
    free(copy);
}

static void test_garbage_debug_sections(void)
{
    static const char *const names[] = {".debug_info", ".debug_abbrev", ".debug_line", ".debug_str",
                                        ".debug_line_str"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        unsigned char *probe = copy_exe();
        Elf64_Shdr sh;
        size_t at;
        int present = probe != NULL && find_section(probe, exe_len, names[i], &sh, &at);

        free(probe);
        if (!present) /* .debug_line_str exists only with DWARF 5 */
            continue;
        fill_section(names[i], 0xff);
        fill_section(names[i], 0x00);
        fill_section(names[i], 0x80);
    }
}

static void test_truncated_debug_info(void)
{
    static const uint64_t sizes[] = {0, 1, 4, 11, 12, 40, 100, 1000};

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *copy = copy_exe();
        Elf64_Shdr sh;
        size_t at;

        CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
        CU_ASSERT_FATAL(find_section(copy, exe_len, ".debug_info", &sh, &at));
        if (sizes[i] < sh.sh_size) {
            sh.sh_size = sizes[i];
            memcpy(copy + at, &sh, sizeof(sh));
        }
        exercise(copy, exe_len, 1);
        /* the same with .debug_line cut short */
        CU_ASSERT_FATAL(find_section(copy, exe_len, ".debug_line", &sh, &at));
        if (sizes[i] < sh.sh_size) {
            sh.sh_size = sizes[i];
            memcpy(copy + at, &sh, sizeof(sh));
        }
        exercise(copy, exe_len, 1);
        free(copy);
    }
}

/* Debug sections whose headers point past the end of the file. */
static void test_debug_section_outside_file(void)
{
    unsigned char *copy = copy_exe();
    Elf64_Shdr sh;
    size_t at;

    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    CU_ASSERT_FATAL(find_section(copy, exe_len, ".debug_line", &sh, &at));
    sh.sh_offset = exe_len - 16;
    sh.sh_size = 4096;
    memcpy(copy + at, &sh, sizeof(sh));
    exercise(copy, exe_len, 1);
    sh.sh_offset = UINT64_MAX - 8;
    memcpy(copy + at, &sh, sizeof(sh));
    exercise(copy, exe_len, 1);
    free(copy);
}

/* Without DWARF: function names only. */
static void test_no_dwarf(void)
{
    unsigned char *copy = copy_exe();
    Elf64_Ehdr eh;
    Elf64_Shdr sh, strsh;
    size_t at;
    struct pvrr_sym *s;
    struct pvrr_symloc loc;
    char buf[256];
    uint64_t addr = image_addr((uintptr_t)pvrr_test_sym_target);

    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    memcpy(&eh, copy, sizeof(eh));
    CU_ASSERT_FATAL(get_shdr(copy, exe_len, eh.e_shstrndx, &strsh, &at));
    for (size_t i = 1; i < eh.e_shnum; i++) {
        char *name;

        CU_ASSERT_FATAL(get_shdr(copy, exe_len, i, &sh, &at));
        name = (char *)copy + strsh.sh_offset + sh.sh_name;
        if (strncmp(name, ".debug_", 7) == 0)
            name[1] = 'X'; /* ".Xebug_info" is not DWARF */
    }
    CU_ASSERT_EQUAL_FATAL(pvrr_sym_open(&s, copy, exe_len, err, sizeof(err)), 0);
    free(copy); /* the symbolizer keeps its own copy */
    CU_ASSERT_PTR_NOT_NULL_FATAL(pvrr_sym_warning(s));
    CU_ASSERT_STRING_EQUAL(pvrr_sym_warning(s), "no DWARF line tables in the image");
    CU_ASSERT_EQUAL(pvrr_sym_lookup(s, addr + 2, &loc), 0);
    CU_ASSERT_STRING_EQUAL(loc.func, "pvrr_test_sym_target");
    CU_ASSERT_EQUAL(loc.has_line, 0);
    CU_ASSERT_STRING_EQUAL(loc.file, "");
    pvrr_sym_format(s, addr + 2, buf, sizeof(buf));
    CU_ASSERT_STRING_EQUAL(buf, "pvrr_test_sym_target+0x2");
    pvrr_sym_close(s);
}

/* Without a symbol table (and with a useless .dynsym): lines only. */
static void test_no_symtab(void)
{
    unsigned char *copy = copy_exe();
    Elf64_Shdr sh;
    size_t at;
    struct pvrr_sym *s;
    struct pvrr_symloc loc;
    char buf[256], want[256];
    uint64_t addr = image_addr((uintptr_t)pvrr_test_sym_target);

    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    CU_ASSERT_FATAL(find_section(copy, exe_len, ".symtab", &sh, &at));
    sh.sh_type = SHT_PROGBITS;
    memcpy(copy + at, &sh, sizeof(sh));
    CU_ASSERT_EQUAL_FATAL(pvrr_sym_open(&s, copy, exe_len, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(pvrr_sym_lookup(s, addr, &loc), -1);
    CU_ASSERT_EQUAL(loc.has_line, 1);
    CU_ASSERT_EQUAL(loc.line, target_line);
    pvrr_sym_format(s, addr, buf, sizeof(buf));
    snprintf(want, sizeof(want), "0x%llx (test_symbolize.c:%u)", (unsigned long long)addr,
             target_line);
    CU_ASSERT_STRING_EQUAL(buf, want);
    pvrr_sym_close(s);
    free(copy);
}

/* A corrupt symbol table: string offsets and sizes out of range. */
static void test_corrupt_symtab(void)
{
    unsigned char *copy = copy_exe();
    Elf64_Shdr sh;
    size_t at;

    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    CU_ASSERT_FATAL(find_section(copy, exe_len, ".symtab", &sh, &at));
    for (size_t off = sh.sh_offset; off + sizeof(Elf64_Sym) <= sh.sh_offset + sh.sh_size;
         off += sizeof(Elf64_Sym)) {
        Elf64_Sym st;

        memcpy(&st, copy + off, sizeof(st));
        st.st_name = ~st.st_name;
        st.st_size = UINT64_MAX - st.st_size;
        st.st_shndx = (uint16_t)(st.st_shndx * 977u);
        memcpy(copy + off, &st, sizeof(st));
    }
    exercise(copy, exe_len, 0);
    /* sh_link naming a missing string table, odd entry size */
    sh.sh_link = 0xffff;
    sh.sh_size -= 5;
    memcpy(copy + at, &sh, sizeof(sh));
    exercise(copy, exe_len, 0);
    free(copy);
}

/* Section header table out of the file, and the file cut in half. */
static void test_bad_section_headers(void)
{
    unsigned char *copy = copy_exe();
    Elf64_Ehdr eh;

    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    memcpy(&eh, copy, sizeof(eh));
    eh.e_shoff = exe_len - 10;
    memcpy(copy, &eh, sizeof(eh));
    exercise(copy, exe_len, 0);
    eh.e_shoff = UINT64_MAX - 100;
    memcpy(copy, &eh, sizeof(eh));
    exercise(copy, exe_len, 0);
    memcpy(&eh, exe, sizeof(eh));
    eh.e_shstrndx = 0xfff0;
    memcpy(copy, &eh, sizeof(eh));
    exercise(copy, exe_len, 0);
    free(copy);
    exercise(exe, exe_len / 2, 0);
    exercise(exe, 64, 0);
}

/* Random byte changes in the DWARF sections: any result, but no crash. */
static void test_random_dwarf_corruption(void)
{
    static const char *const names[] = {".debug_info", ".debug_abbrev",   ".debug_line",
                                        ".debug_str",  ".debug_rnglists", ".debug_aranges"};
    uint64_t rng = 0x243f6a8885a308d3ull;

    for (int iter = 0; iter < 200; iter++) {
        unsigned char *copy = copy_exe();
        Elf64_Shdr sh;
        size_t at;
        const char *name;

        CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        name = names[rng % (sizeof(names) / sizeof(names[0]))];
        if (find_section(copy, exe_len, name, &sh, &at) && sh.sh_size > 0 &&
            sh.sh_offset <= exe_len && sh.sh_size <= exe_len - sh.sh_offset) {
            int n = 1 + (int)((rng >> 8) % 16);

            for (int k = 0; k < n; k++) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                /* most flips near the start, where the headers are */
                uint64_t span = (k % 2) ? sh.sh_size : (sh.sh_size < 64 ? sh.sh_size : 64);

                copy[sh.sh_offset + (rng >> 16) % span] = (unsigned char)(rng >> 40);
            }
        }
        exercise(copy, exe_len, 1);
        free(copy);
    }
}

int main(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        {"function and line", test_function_and_line},
        {"static function", test_local_function},
        {"library function", test_library_function},
        {"address by name", test_addr_by_name},
        {"warning", test_warning},
        {"caller's signal handlers", test_caller_signal_handlers},
        {"non-code addresses", test_not_code},
        {"format", test_format},
        {"open errors", test_open_errors},
        {"garbage debug sections", test_garbage_debug_sections},
        {"truncated .debug_info and .debug_line", test_truncated_debug_info},
        {"debug section outside the file", test_debug_section_outside_file},
        {"no DWARF: function names only", test_no_dwarf},
        {"no symbol table: lines only", test_no_symtab},
        {"corrupt symbol table", test_corrupt_symtab},
        {"bad section headers, cut file", test_bad_section_headers},
        {"random DWARF corruption", test_random_dwarf_corruption},
    };
    CU_pSuite suite;
    unsigned failed;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    suite = CU_add_suite("formats/symbolize", setup, teardown);
    if (suite == NULL)
        return 1;
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (CU_add_test(suite, tests[i].name, tests[i].fn) == NULL)
            return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
             CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed != 0;
}
