/*
 * test_abi.c - the guest ABI's struct layouts, as the host sees them, match
 * the layout the guest compiler produces (checked against fixed offsets: both
 * sides are x86-64 SysV, and a change here is an ABI change that must bump
 * PVRR_ABI_VERSION).
 */
#include "pvrr_abi.h"

#include <CUnit/Basic.h>
#include <stddef.h>

#define LAYOUT(type, field, off) CU_ASSERT_EQUAL(offsetof(type, field), (off))

static void test_version_and_numbers(void)
{
    CU_ASSERT_EQUAL(PVRR_ABI_VERSION, 1);
    CU_ASSERT_EQUAL(PVRR_HC_NOP, 0);
    CU_ASSERT_EQUAL(PVRR_HC_CONSOLE_WRITE, 1);
    CU_ASSERT_EQUAL(PVRR_HC_PANIC, 10);
    /* later additions go at the end: recordings made before them still replay */
    CU_ASSERT_EQUAL(PVRR_HC_STDERR_WRITE, 11);
    CU_ASSERT_EQUAL(PVRR_HC_FS_PATHOP, 18);
    CU_ASSERT_EQUAL(PVRR_HC_MAX, 19);
    /* every hypercall's port fits the 0x100-port window the monitor decodes */
    CU_ASSERT(PVRR_HC_PORT_BASE + PVRR_HC_MAX < PVRR_HC_PORT_BASE + 0x100);
    CU_ASSERT(PVRR_HC_PORT_BASE > 0xff); /* needs `out %eax,(%dx)` */
}

static void test_guest_pointers_are_8_bytes(void)
{
    CU_ASSERT_EQUAL(sizeof(pvrr_gpa_t), 8);
    CU_ASSERT_EQUAL(sizeof(PVRR_GUEST_PTR(char *)), 8);
}

static void test_struct_layouts(void)
{
    CU_ASSERT_EQUAL(sizeof(struct pvrr_hc_nop), 8);

    CU_ASSERT_EQUAL(sizeof(struct pvrr_hc_console_write), 24);
    LAYOUT(struct pvrr_hc_console_write, data, 0);
    LAYOUT(struct pvrr_hc_console_write, len, 8);
    LAYOUT(struct pvrr_hc_console_write, ret, 16);

    CU_ASSERT_EQUAL(sizeof(struct pvrr_hc_console_read), 32);
    LAYOUT(struct pvrr_hc_console_read, data, 0);
    LAYOUT(struct pvrr_hc_console_read, len, 8);
    LAYOUT(struct pvrr_hc_console_read, nread, 16);
    LAYOUT(struct pvrr_hc_console_read, eof, 24);
    LAYOUT(struct pvrr_hc_console_read, ret, 28);

    CU_ASSERT_EQUAL(sizeof(struct pvrr_hc_clock), 16);
    LAYOUT(struct pvrr_hc_clock, monotonic_ns, 0);
    LAYOUT(struct pvrr_hc_clock, wall_ns, 8);

    CU_ASSERT_EQUAL(sizeof(struct pvrr_hc_random), 24);
    LAYOUT(struct pvrr_hc_random, ret, 16);

    CU_ASSERT_EQUAL(sizeof(struct pvrr_hc_blk_info), 24);
    LAYOUT(struct pvrr_hc_blk_info, sectors, 8);
    LAYOUT(struct pvrr_hc_blk_info, present, 16);
    LAYOUT(struct pvrr_hc_blk_info, writable, 20);

    CU_ASSERT_EQUAL(sizeof(struct pvrr_hc_blk_io), 32);
    LAYOUT(struct pvrr_hc_blk_io, sector, 0);
    LAYOUT(struct pvrr_hc_blk_io, data, 8);
    LAYOUT(struct pvrr_hc_blk_io, len, 16);
    LAYOUT(struct pvrr_hc_blk_io, ret, 24);

    CU_ASSERT_EQUAL(sizeof(struct pvrr_hc_poll), 32);
    LAYOUT(struct pvrr_hc_poll, deadline_ns, 0);
    LAYOUT(struct pvrr_hc_poll, events, 8);
    LAYOUT(struct pvrr_hc_poll, ready, 16);
    LAYOUT(struct pvrr_hc_poll, monotonic_ns, 24);

    CU_ASSERT_EQUAL(sizeof(struct pvrr_hc_exit), 8);
    CU_ASSERT_EQUAL(sizeof(struct pvrr_hc_panic), 16);
    LAYOUT(struct pvrr_hc_panic, len, 8);
}

static void test_boot_info(void)
{
    LAYOUT(struct pvrr_boot_info, magic, 0);
    LAYOUT(struct pvrr_boot_info, abi_version, 4);
    LAYOUT(struct pvrr_boot_info, mem_size, 8);
    LAYOUT(struct pvrr_boot_info, image_end, 16);
    LAYOUT(struct pvrr_boot_info, cmdline_len, 24);
    LAYOUT(struct pvrr_boot_info, cmdline, 32);
    CU_ASSERT(sizeof(struct pvrr_boot_info) <= 4096); /* one page */
    CU_ASSERT(PVRR_BOOT_INFO_GPA + 4096 <= PVRR_IMAGE_MIN);
    CU_ASSERT(PVRR_MEM_MAX <= (4ull << 30)); /* struct addresses travel in eax */
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("abi", NULL, NULL);
    CU_add_test(s, "hypercall numbers and version", test_version_and_numbers);
    CU_add_test(s, "guest pointers are 8 bytes", test_guest_pointers_are_8_bytes);
    CU_add_test(s, "argument struct layouts", test_struct_layouts);
    CU_add_test(s, "boot info layout", test_boot_info);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
