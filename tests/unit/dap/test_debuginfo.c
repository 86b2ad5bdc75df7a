/*
 * test_debuginfo.c - the DAP server's DWARF reading (dap/debuginfo.c) and
 * values (dap/value.c) on this test's own executable, built -O0 -g and not
 * position-independent (tests/unit/dap/CMakeLists.txt), so that DWARF
 * addresses are the addresses of this process: the "machine" reads its own
 * memory. Types: integers of each size and sign, char, bool, double, enums,
 * pointers, arrays, nested structs, unions, typedefs, const.
 */
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dap/internal.h"
#include "formats/file.h"

enum colour { RED = 1, GREEN = 2, BLUE = 40 };

typedef uint16_t port_t;

struct inner {
    int8_t small;
    port_t port;
    union {
        uint32_t word;
        uint8_t bytes[4];
    } u;
};

struct outer {
    int32_t negative;
    uint64_t big;
    char name[8];
    bool flag;
    double ratio;
    enum colour colour;
    struct inner in;
    struct inner *next;
    const int *cptr;
    int32_t grid[3];
};

static const int forty_two = 42;
struct inner pvrr_test_inner = {.small = -5, .port = 8080, .u = {.word = 0x11223344}};
struct outer pvrr_test_outer = {
    .negative = -7,
    .big = 0xfedcba9876543210ull,
    .name = "kv",
    .flag = true,
    .ratio = 0.5,
    .colour = BLUE,
    .in = {.small = 3, .port = 22},
    .next = &pvrr_test_inner,
    .cptr = &forty_two,
    .grid = {10, -20, 30},
};

int pvrr_test_helper(int x);
static const unsigned helper_body_line = __LINE__ + 3;
int pvrr_test_helper(int x)
{
    int doubled = x * 2;
    return doubled + pvrr_test_outer.grid[1];
}

static void *exe;
static size_t exe_len;
static struct dap_di *di;

static int mem_read(void *t, uint64_t addr, void *buf, size_t len)
{
    if (addr < 4096)
        return -1; /* NULL pointers stay unreadable */
    memcpy(buf, (const void *)(uintptr_t)addr, len);
    return 0;
}

static struct gdb_target_ops ops = {.read_mem = mem_read};
static struct dap_machine mc = {.ops = &ops};

static int setup(void)
{
    char err[256];
    if (pvrr_read_file("/proc/self/exe", 1u << 30, &exe, &exe_len, err, sizeof err) != 0 ||
        dap_di_open(&di, exe, exe_len, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void)
{
    dap_di_close(di);
    free(exe);
    return 0;
}

/* Evaluate (expr) and format it; CU-asserts that it evaluates. */
static const char *show(const char *expr, size_t *kids, struct dap_value *out)
{
    static char text[256];
    char err[256] = "";
    struct dap_value v;
    int r = dap_eval(di, NULL, &mc, expr, &v, err, sizeof err);
    CU_ASSERT(r == 0);
    if (r != 0) {
        fprintf(stderr, "\n  %s: %s\n", expr, err);
        return "";
    }
    size_t k = dap_value_format(&v, &mc, text, sizeof text);
    if (kids)
        *kids = k;
    if (out)
        *out = v;
    return text;
}

static void test_globals_and_types(void)
{
    const struct dap_var *g = dap_di_global_named(di, (size_t)-1, "pvrr_test_outer");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_STRING_EQUAL(dap_type_name(g->type), "struct outer");
    struct dap_type *t = dap_type_strip(g->type);
    CU_ASSERT_EQUAL(t->size, sizeof(struct outer));
    CU_ASSERT_EQUAL(t->nmembers, 10);
    for (size_t i = 0; i < t->nmembers; i++) {
        if (strcmp(t->members[i].name, "in") == 0)
            CU_ASSERT_EQUAL(t->members[i].offset, offsetof(struct outer, in));
        if (strcmp(t->members[i].name, "grid") == 0) {
            CU_ASSERT_EQUAL(t->members[i].offset, offsetof(struct outer, grid));
            CU_ASSERT_STRING_EQUAL(dap_type_name(t->members[i].type), "int32_t[3]");
        }
        if (strcmp(t->members[i].name, "next") == 0)
            CU_ASSERT_STRING_EQUAL(dap_type_name(t->members[i].type), "struct inner *");
    }
    struct dap_value v;
    dap_var_value(g, NULL, &mc, &v);
    CU_ASSERT_EQUAL(v.where, DV_MEM);
    CU_ASSERT_EQUAL(v.addr, (uint64_t)(uintptr_t)&pvrr_test_outer);
}

static void test_values(void)
{
    size_t kids;
    struct dap_value v;
    CU_ASSERT_STRING_EQUAL(show("pvrr_test_outer.negative", NULL, NULL), "-7");
    CU_ASSERT_STRING_EQUAL(show("pvrr_test_outer.big", NULL, NULL), "18364758544493064720");
    CU_ASSERT_STRING_EQUAL(show("pvrr_test_outer.name[1]", NULL, NULL), "118 'v'");
    CU_ASSERT_STRING_EQUAL(show("pvrr_test_outer.flag", NULL, NULL), "true");
    CU_ASSERT_STRING_EQUAL(show("pvrr_test_outer.ratio", NULL, NULL), "0.5");
    CU_ASSERT_STRING_EQUAL(show("pvrr_test_outer.colour", NULL, NULL), "BLUE");
    CU_ASSERT_STRING_EQUAL(show("pvrr_test_outer.in.port", NULL, &v), "22");
    CU_ASSERT_STRING_EQUAL(dap_type_name(v.type), "port_t");
    CU_ASSERT_STRING_EQUAL(show("pvrr_test_outer.next->small", NULL, NULL), "-5");
    CU_ASSERT_STRING_EQUAL(show("pvrr_test_outer.next->u.word", NULL, NULL), "287454020");
    CU_ASSERT_STRING_EQUAL(show("pvrr_test_outer.next->u.bytes[0]", NULL, NULL), "68 'D'");
    CU_ASSERT_STRING_EQUAL(show("(*pvrr_test_outer.next).port", NULL, NULL), "8080");
    CU_ASSERT_STRING_EQUAL(show("*pvrr_test_outer.cptr", NULL, NULL), "42");
    CU_ASSERT_STRING_EQUAL(show("pvrr_test_outer.grid[1]", NULL, NULL), "-20");
    CU_ASSERT_STRING_EQUAL(show("pvrr_test_outer.grid[pvrr_test_outer.flag]", NULL, NULL), "-20");
    /* aggregates show their children */
    CU_ASSERT_STRING_EQUAL(show("pvrr_test_outer", &kids, NULL), "{...}");
    CU_ASSERT_EQUAL(kids, 10);
    CU_ASSERT_STRING_EQUAL(show("pvrr_test_outer.grid", &kids, &v), "[3]");
    CU_ASSERT_EQUAL(kids, 3);
    char name[64];
    struct dap_value c;
    CU_ASSERT(dap_value_child(&v, 2, &mc, &c, name, sizeof name) == 0);
    CU_ASSERT_STRING_EQUAL(name, "[2]");
    char text[64];
    dap_value_format(&c, &mc, text, sizeof text);
    CU_ASSERT_STRING_EQUAL(text, "30");
    CU_ASSERT(dap_value_child(&v, 3, &mc, &c, name, sizeof name) < 0);
    /* a pointer to a struct shows the pointee's members */
    show("pvrr_test_outer.next", &kids, &v);
    CU_ASSERT_EQUAL(kids, 3);
    CU_ASSERT(dap_value_child(&v, 1, &mc, &c, name, sizeof name) == 0);
    CU_ASSERT_STRING_EQUAL(name, "port");
    /* addresses and raw words */
    snprintf(name, sizeof name, "0x%016llx", (unsigned long long)(uintptr_t)&pvrr_test_outer.big);
    CU_ASSERT_STRING_EQUAL(show("&pvrr_test_outer.big", NULL, NULL), name);
    snprintf(name, sizeof name, "*0x%llx", (unsigned long long)(uintptr_t)&pvrr_test_outer.big);
    CU_ASSERT_STRING_EQUAL(show(name, NULL, &v), "0xfedcba9876543210");
    CU_ASSERT_EQUAL(dap_value_size(&v), 8);
}

static void test_eval_errors(void)
{
    char err[256];
    struct dap_value v;
    static const char *const bad[][2] = {
        {"no_such_variable", "no symbol 'no_such_variable'"},
        {"pvrr_test_outer.nope", "no member named 'nope'"},
        {"pvrr_test_outer.negative.x", "not a struct"},
        {"pvrr_test_outer->big", "non-pointer"},
        {"pvrr_test_outer.grid[", "syntax error"},
        {"pvrr_test_outer.grid[1", "expected ']'"},
        {"(pvrr_test_outer", "expected ')'"},
        {"pvrr_test_outer +", "unexpected"},
        {"$nosuchreg", "no register"},
        {"pvrr_test_outer.negative[0]", "cannot index"},
        {"", "syntax error"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CU_ASSERT(dap_eval(di, NULL, &mc, bad[i][0], &v, err, sizeof err) < 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i][1]));
        if (!strstr(err, bad[i][1]))
            fprintf(stderr, "\n  %s: '%s'\n", bad[i][0], err);
    }
    /* a NULL pointer reads as an error value, not a crash */
    pvrr_test_outer.next = NULL;
    CU_ASSERT(dap_eval(di, NULL, &mc, "pvrr_test_outer.next->port", &v, err, sizeof err) == 0);
    char text[128];
    dap_value_format(&v, &mc, text, sizeof text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "cannot read memory"));
    pvrr_test_outer.next = &pvrr_test_inner;
}

static void test_lines_functions_cfi(void)
{
    const struct dap_func *f = dap_di_func_named(di, "pvrr_test_helper");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(f->lo, (uint64_t)(uintptr_t)pvrr_test_helper);
    CU_ASSERT(dap_di_func_at(di, f->lo + 1) == f);
    CU_ASSERT(dap_di_func_at(di, f->hi) != f);
    /* locals and parameters with their locations */
    int have_x = 0, have_doubled = 0;
    for (size_t i = 0; i < f->nvars; i++) {
        have_x |= strcmp(f->vars[i].name, "x") == 0 && f->vars[i].is_param;
        have_doubled |=
            strcmp(f->vars[i].name, "doubled") == 0 && !f->vars[i].is_param && f->vars[i].nlocs > 0;
    }
    CU_ASSERT(have_x && have_doubled);
    /* a source line -> its first address -> the same line */
    uint64_t addr;
    unsigned actual;
    CU_ASSERT_FATAL(dap_di_line_addr(di, __FILE__, helper_body_line, &addr, &actual) == 0);
    CU_ASSERT_EQUAL(actual, helper_body_line);
    CU_ASSERT(addr > f->lo && addr < f->hi);
    CU_ASSERT_EQUAL(dap_di_after_prologue(di, f), addr);
    const struct dap_row *row = dap_di_row_at(di, addr, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(row);
    CU_ASSERT_EQUAL(row->line, helper_body_line);
    CU_ASSERT_PTR_NOT_NULL(strstr(dap_di_file(di, row->file), "test_debuginfo.c"));
    /* by base name, and the next line with code for a blank line */
    CU_ASSERT(dap_di_line_addr(di, "/elsewhere/test_debuginfo.c", helper_body_line - 3, &addr,
                               &actual) == 0);
    CU_ASSERT(actual >= helper_body_line - 3);
    CU_ASSERT(dap_di_line_addr(di, "nonexistent.c", 10, &addr, &actual) < 0);
    /* call frame information at the entry: CFA = rsp + 8, return address at CFA - 8 */
    int reg, saved[DAP_CFI_REGS];
    int64_t off, offs[DAP_CFI_REGS];
    CU_ASSERT_FATAL(dap_di_cfi(di, f->lo, &reg, &off, saved, offs) == 0);
    CU_ASSERT_EQUAL(reg, 7);
    CU_ASSERT_EQUAL(off, 8);
    CU_ASSERT_EQUAL(saved[16], 1);
    CU_ASSERT_EQUAL(offs[16], -8);
    /* symbols */
    uint64_t o;
    const char *name = dap_di_symbol(di, f->lo + 2, &o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(name);
    CU_ASSERT_STRING_EQUAL(name, "pvrr_test_helper");
    CU_ASSERT_EQUAL(o, 2);
    CU_ASSERT_EQUAL(pvrr_test_helper(5), -10);
}

static void test_not_elf(void)
{
    struct dap_di *d = NULL;
    char err[128] = "";
    CU_ASSERT(dap_di_open(&d, "not an elf file at all", 22, err, sizeof err) < 0);
    CU_ASSERT_PTR_NULL(d);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "ELF"));
    /* an ELF with its DWARF cut off still opens */
    size_t cut = exe_len / 8;
    if (dap_di_open(&d, exe, cut, err, sizeof err) == 0)
        dap_di_close(d);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("dap debug information", setup, teardown);
    CU_add_test(s, "globals and types", test_globals_and_types);
    CU_add_test(s, "values and expressions", test_values);
    CU_add_test(s, "expression errors", test_eval_errors);
    CU_add_test(s, "lines, functions, call frame information", test_lines_functions_cfi);
    CU_add_test(s, "not an ELF", test_not_elf);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
