/*
 * test_file.c - pvrr_read_file(): contents, size cap, and error messages.
 */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/file.h"

static char dir[64];
static char path[128];
static char err[512];

static int setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/pvrr-test-file.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof(path), "%s/data", dir);
    return 0;
}

static int teardown(void)
{
    unlink(path);
    rmdir(dir);
    return 0;
}

static void write_file(const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
    CU_ASSERT_EQUAL(fclose(f), 0);
}

static void test_reads_contents(void)
{
    static unsigned char data[200000];
    void *buf;
    size_t len;

    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 7 + 3);
    write_file(data, sizeof(data));
    CU_ASSERT_EQUAL_FATAL(pvrr_read_file(path, sizeof(data), &buf, &len, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(len, sizeof(data));
    CU_ASSERT(memcmp(buf, data, sizeof(data)) == 0);
    free(buf);
}

static void test_empty_file(void)
{
    void *buf;
    size_t len = 99;

    write_file("", 0);
    CU_ASSERT_EQUAL_FATAL(pvrr_read_file(path, 100, &buf, &len, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_PTR_NOT_NULL(buf);
    free(buf);
    /* a zero cap still allows an empty file */
    CU_ASSERT_EQUAL_FATAL(pvrr_read_file(path, 0, &buf, &len, err, sizeof(err)), 0);
    free(buf);
}

static void test_size_cap(void)
{
    char expect[256];
    void *buf = (void *)1;
    size_t len = 1;

    write_file("0123456789", 10);
    CU_ASSERT_EQUAL(pvrr_read_file(path, 9, &buf, &len, err, sizeof(err)), -1);
    snprintf(expect, sizeof(expect), "%s: 10 bytes, larger than the 9-byte limit", path);
    CU_ASSERT_STRING_EQUAL(err, expect);
    CU_ASSERT_PTR_NULL(buf);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_EQUAL_FATAL(pvrr_read_file(path, 10, &buf, &len, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(len, 10);
    free(buf);
}

/* /proc files report size 0: the cap must hold while reading. */
static void test_size_cap_unknown_size(void)
{
    void *buf;
    size_t len;

    CU_ASSERT_EQUAL(pvrr_read_file("/proc/self/maps", 4, &buf, &len, err, sizeof(err)), -1);
    CU_ASSERT_STRING_EQUAL(err, "/proc/self/maps: larger than the 4-byte limit");
    CU_ASSERT_EQUAL_FATAL(pvrr_read_file("/proc/self/maps", 1 << 24, &buf, &len, err, sizeof(err)),
                          0);
    CU_ASSERT(len > 0);
    free(buf);
}

static void test_missing(void)
{
    void *buf;
    size_t len;

    CU_ASSERT_EQUAL(pvrr_read_file("/nonexistent/guest.elf", 100, &buf, &len, err, sizeof(err)),
                    -1);
    CU_ASSERT_STRING_EQUAL(err, "/nonexistent/guest.elf: No such file or directory");
    CU_ASSERT_PTR_NULL(buf);
}

static void test_directory(void)
{
    char expect[256];
    void *buf;
    size_t len;

    CU_ASSERT_EQUAL(pvrr_read_file(dir, 100, &buf, &len, err, sizeof(err)), -1);
    snprintf(expect, sizeof(expect), "%s: Is a directory", dir);
    CU_ASSERT_STRING_EQUAL(err, expect);
}

static void test_unreadable(void)
{
    char expect[256];
    void *buf;
    size_t len;

    if (geteuid() == 0) {
        fprintf(stderr, "skipped: running as root, which can read a mode-000 file ");
        return;
    }
    write_file("x", 1);
    CU_ASSERT_EQUAL_FATAL(chmod(path, 0), 0);
    CU_ASSERT_EQUAL(pvrr_read_file(path, 100, &buf, &len, err, sizeof(err)), -1);
    snprintf(expect, sizeof(expect), "%s: Permission denied", path);
    CU_ASSERT_STRING_EQUAL(err, expect);
    chmod(path, 0600);
}

static void test_pipe(void)
{
    int fds[2];
    char procpath[64];
    void *buf;
    size_t len;

    CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
    CU_ASSERT_EQUAL(write(fds[1], "hello", 5), 5);
    close(fds[1]);
    snprintf(procpath, sizeof(procpath), "/proc/self/fd/%d", fds[0]);
    CU_ASSERT_EQUAL_FATAL(pvrr_read_file(procpath, 100, &buf, &len, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(len, 5);
    CU_ASSERT(memcmp(buf, "hello", 5) == 0);
    free(buf);
    close(fds[0]);
}

int main(void)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
    } tests[] = {
        {"reads contents", test_reads_contents},
        {"empty file", test_empty_file},
        {"size cap", test_size_cap},
        {"size cap with unknown size", test_size_cap_unknown_size},
        {"missing file", test_missing},
        {"directory", test_directory},
        {"unreadable file", test_unreadable},
        {"pipe", test_pipe},
    };
    CU_pSuite suite;
    unsigned failed;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    suite = CU_add_suite("formats/file", setup, teardown);
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
