/*
 * test_guestmem.c - the checked guest-memory accessor vm_gpa() at its edges,
 * the written-pages bookkeeping of host writes (vm_dirty_mark/clear), and the
 * hypercall table's buffer descriptions, without an engine (a struct vm with
 * only memory and bitmaps: engine/engine.h keeps them engine-neutral).
 */
#include "monitor/hypercall.h"
#include "engine/engine.h"

#include <CUnit/Basic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct vm fake(uint8_t *mem, uint64_t size)
{
    struct vm vm;
    memset(&vm, 0, sizeof vm);
    vm.mem = mem;
    vm.mem_size = size;
    return vm;
}

static void test_accessor_edges(void)
{
    static uint8_t mem[8192];
    struct vm vm = fake(mem, sizeof mem);
    CU_ASSERT_PTR_EQUAL(vm_gpa(&vm, 0, 0), mem);
    CU_ASSERT_PTR_EQUAL(vm_gpa(&vm, 0, 8192), mem);
    CU_ASSERT_PTR_EQUAL(vm_gpa(&vm, 8191, 1), mem + 8191);
    CU_ASSERT_PTR_EQUAL(vm_gpa(&vm, 8192, 0), mem + 8192); /* empty range at the end */
    CU_ASSERT_PTR_NULL(vm_gpa(&vm, 8192, 1));
    CU_ASSERT_PTR_NULL(vm_gpa(&vm, 8191, 2));
    CU_ASSERT_PTR_NULL(vm_gpa(&vm, 0, 8193));
    CU_ASSERT_PTR_NULL(vm_gpa(&vm, 8193, 0));
    /* overflow: gpa + size wraps around 2^64 */
    CU_ASSERT_PTR_NULL(vm_gpa(&vm, 16, UINT64_MAX - 8));
    CU_ASSERT_PTR_NULL(vm_gpa(&vm, UINT64_MAX, 2));
    CU_ASSERT_PTR_NULL(vm_gpa(&vm, UINT64_MAX - 4095, 4096));
    CU_ASSERT_PTR_NULL(vm_gpa(&vm, 4096, UINT64_MAX));
}

static void test_dirty_marks(void)
{
    static uint8_t mem[64 * 4096];
    uint64_t dirty[1] = {0}, ever[1] = {0};
    struct vm vm = fake(mem, sizeof mem);
    vm.dirty = dirty;
    vm.ever = ever;
    vm_dirty_mark(&vm, 4095, 2); /* straddles pages 0 and 1 */
    CU_ASSERT_EQUAL(dirty[0], 0x3);
    vm_dirty_mark(&vm, 63 * 4096, 4096); /* the last page */
    CU_ASSERT_EQUAL(dirty[0], 0x3 | (1ull << 63));
    vm_dirty_mark(&vm, 10 * 4096, 0);        /* empty: nothing */
    vm_dirty_mark(&vm, 63 * 4096 + 1, 4096); /* past the end: refused, nothing */
    vm_dirty_mark(&vm, UINT64_MAX - 10, 20); /* wraps: refused */
    CU_ASSERT_EQUAL(dirty[0], 0x3 | (1ull << 63));
    vm_dirty_clear(&vm);
    CU_ASSERT_EQUAL(dirty[0], 0);
    CU_ASSERT_EQUAL(ever[0], 0x3 | (1ull << 63)); /* ever is never cleared */
}

static void test_hypercall_table(void)
{
    for (unsigned i = 0; i < PVRR_HC_MAX; i++) {
        CU_ASSERT_PTR_NOT_NULL(hc_table[i].name);
        CU_ASSERT(hc_table[i].size >= 8 && hc_table[i].size <= 64);
        CU_ASSERT_PTR_NOT_NULL(hc_table[i].ranges);
        CU_ASSERT_PTR_NOT_NULL(hc_table[i].written);
        CU_ASSERT_PTR_NOT_NULL(hc_live_handlers[i]);
    }
    CU_ASSERT_STRING_EQUAL(hc_name(PVRR_HC_CONSOLE_WRITE), "console_write");
    CU_ASSERT_STRING_EQUAL(hc_name(999), "unknown");
    /* inputs versus outputs */
    CU_ASSERT_FALSE(hc_table[PVRR_HC_CONSOLE_WRITE].gets_input);
    CU_ASSERT_TRUE(hc_table[PVRR_HC_CLOCK].gets_input);
    CU_ASSERT_TRUE(hc_table[PVRR_HC_EXIT].replays_effect);
}

static void test_ranges_reject_huge_lengths(void)
{
    struct pvrr_hc_console_write w = {.data = 0x100000, .len = PVRR_IO_MAX + 1};
    struct hc_range r[HC_MAX_RANGES];
    const char *why = NULL;
    CU_ASSERT_EQUAL(hc_table[PVRR_HC_CONSOLE_WRITE].ranges(&w, r, &why), -1);
    CU_ASSERT_PTR_NOT_NULL(why);
    w.len = UINT64_MAX;
    CU_ASSERT_EQUAL(hc_table[PVRR_HC_CONSOLE_WRITE].ranges(&w, r, &why), -1);
    w.len = 16;
    CU_ASSERT_EQUAL(hc_table[PVRR_HC_CONSOLE_WRITE].ranges(&w, r, &why), 1);
    CU_ASSERT_EQUAL(r[0].gpa, 0x100000);
    CU_ASSERT_EQUAL(r[0].len, 16);
    CU_ASSERT_TRUE(r[0].is_input);

    struct pvrr_hc_panic p = {.msg = 0x2000, .len = PVRR_PANIC_MAX + 1};
    CU_ASSERT_EQUAL(hc_table[PVRR_HC_PANIC].ranges(&p, r, &why), -1);

    /* what a read reports as written follows its OUT field, not its buffer size */
    struct pvrr_hc_console_read cr = {.data = 0x3000, .len = 100, .nread = 7};
    CU_ASSERT_EQUAL(hc_table[PVRR_HC_CONSOLE_READ].written(&cr, r), 1);
    CU_ASSERT_EQUAL(r[0].len, 7);
    cr.nread = 0;
    CU_ASSERT_EQUAL(hc_table[PVRR_HC_CONSOLE_READ].written(&cr, r), 0);
    struct pvrr_hc_blk_io b = {.sector = 1, .data = 0x4000, .len = 512, .ret = PVRR_EINVAL};
    CU_ASSERT_EQUAL(hc_table[PVRR_HC_BLK_READ].written(&b, r), 0); /* failed: nothing written */
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("monitor", NULL, NULL);
    CU_add_test(s, "vm_gpa edges and overflow", test_accessor_edges);
    CU_add_test(s, "written-pages marks", test_dirty_marks);
    CU_add_test(s, "hypercall table", test_hypercall_table);
    CU_add_test(s, "buffer ranges reject bad lengths", test_ranges_reject_huge_lengths);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
