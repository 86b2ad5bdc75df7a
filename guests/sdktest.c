/*
 * sdktest - self-test of the guest libc (printf formatting, heap, strings,
 * number parsing, qsort). Prints each failed check and
 * "sdktest: all N checks passed" (exit 0) or "sdktest: F of N checks failed"
 * (exit 1).
 *
 * Only standard C is used, so the same file also builds against a hosted libc
 * (cc -o sdktest guests/sdktest.c), which is how the expected strings were
 * checked against glibc.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks, failures;

static void check(int ok, const char *what, int line)
{
    checks++;
    if (!ok) {
        failures++;
        printf("sdktest: line %d: FAILED: %s\n", line, what);
    }
}
#define CHECK(e) check((e) != 0, #e, __LINE__)

static void check_fmt(const char *got, const char *want, int line)
{
    checks++;
    if (strcmp(got, want) != 0) {
        failures++;
        printf("sdktest: line %d: FAILED: got \"%s\", want \"%s\"\n", line, got, want);
    }
}
#define FMT(want, ...)                                                                             \
    do {                                                                                           \
        char b_[128];                                                                              \
        snprintf(b_, sizeof b_, __VA_ARGS__);                                                      \
        check_fmt(b_, want, __LINE__);                                                             \
    } while (0)

static void test_printf(void)
{
    FMT("42", "%d", 42);
    FMT("-42", "%i", -42);
    FMT("   42|", "%5d|", 42);
    FMT("42   |", "%-5d|", 42);
    FMT("00042", "%05d", 42);
    FMT("-0042", "%05d", -42);
    FMT("+42 -42", "%+d %+d", 42, -42);
    FMT(" 42", "% d", 42);
    FMT("00042", "%.5d", 42);
    FMT("  00042", "%7.5d", 42);
    FMT("", "%.0d", 0);
    FMT("4294967295", "%u", 4294967295u);
    FMT("ff FF 0xff 0XFF", "%x %X %#x %#X", 255, 255, 255, 255);
    FMT("0", "%#x", 0);
    FMT("17 017", "%o %#o", 15, 15);
    FMT("-9223372036854775808", "%ld", LONG_MIN);
    FMT("18446744073709551615", "%lu", ULONG_MAX);
    FMT("-9223372036854775807", "%lld", -LLONG_MAX);
    FMT("18446744073709551615", "%llu", ULLONG_MAX);
    FMT("deadbeefcafe", "%lx", 0xdeadbeefcafeul);
    FMT("ffffffffffffffff", "%llx", ~0ull);
    FMT("123 -5", "%zu %zd", (size_t)123, (ptrdiff_t)-5);
    FMT("-1 255", "%hhd %hhu", (signed char)-1, (unsigned char)255);
    FMT("-1 65535", "%hd %hu", (short)-1, (unsigned short)65535);
    FMT("100%", "%d%%", 100);
    FMT("0x1000", "%p", (void *)0x1000);
    FMT("hello", "%s", "hello");
    FMT("hel", "%.3s", "hello");
    FMT("     hello|", "%10s|", "hello");
    FMT("hello     |", "%-10s|", "hello");
    FMT("  hel|", "%*.*s|", 5, 3, "hello");
    FMT("hel  |", "%-*.*s|", 5, 3, "hello");
    FMT("x|  y|z  |", "%c|%3c|%-3c|", 'x', 'y', 'z');
    FMT("0000002a", "%08x", 42);
    FMT("0x0000002a", "%#010x", 42);

    /* Through a volatile pointer: the compiler must not see the truncation. */
    const char *volatile ten = "0123456789";
    char small[8];
    int n = snprintf(small, sizeof small, "%s", ten);
    CHECK(n == 10);
    CHECK(strcmp(small, "0123456") == 0);
    CHECK(snprintf(NULL, 0, "%d", 12345) == 5);
    n = snprintf(small, 1, "%s", ten + 7);
    CHECK(n == 3 && small[0] == '\0');
}

static void test_strings(void)
{
    char buf[32];
    strcpy(buf, "0123456789");
    memmove(buf + 2, buf, 5);
    CHECK(memcmp(buf, "0101234789", 10) == 0);
    strcpy(buf, "0123456789");
    memmove(buf, buf + 2, 5);
    CHECK(memcmp(buf, "2345656789", 10) == 0);
    memset(buf, 'a', 4);
    buf[4] = '\0';
    CHECK(strcmp(buf, "aaaa") == 0);
    CHECK(strlen("hello") == 5);
    CHECK(strcmp("abc", "abd") < 0 && strcmp("abd", "abc") > 0 && strcmp("x", "x") == 0);
    CHECK(strncmp("abcdef", "abcxyz", 3) == 0 && strncmp("abcdef", "abcxyz", 4) < 0);
    const char *h = "hello";
    CHECK(strchr(h, 'l') == h + 2 && strrchr(h, 'l') == h + 3 && strchr(h, 'z') == NULL);
    CHECK(strchr(h, '\0') == h + 5);
    CHECK(strstr(h, "ll") == h + 2 && strstr(h, "lo!") == NULL && strstr(h, "") == h);
    strcpy(buf, "ab");
    strcat(buf, "cd");
    strncat(buf, "efgh", 2);
    CHECK(strcmp(buf, "abcdef") == 0);
    char pad[6];
    strncpy(pad, "ab", sizeof pad);
    CHECK(pad[0] == 'a' && pad[2] == '\0' && pad[5] == '\0');
    char line[] = "  one two,three ";
    char *save, *tok = strtok_r(line, " ,", &save);
    CHECK(tok && strcmp(tok, "one") == 0);
    tok = strtok_r(NULL, " ,", &save);
    CHECK(tok && strcmp(tok, "two") == 0);
    tok = strtok_r(NULL, " ,", &save);
    CHECK(tok && strcmp(tok, "three") == 0);
    CHECK(strtok_r(NULL, " ,", &save) == NULL);
    char *d = strdup("dup");
    CHECK(d && strcmp(d, "dup") == 0);
    free(d);
}

static void test_numbers(void)
{
    char *end;
    CHECK(strtol("  -42xyz", &end, 10) == -42 && *end == 'x');
    CHECK(strtol("0x1f", NULL, 0) == 31 && strtol("077", NULL, 0) == 63);
    CHECK(strtol("z", &end, 36) == 35);
    CHECK(strtoul("ff", NULL, 16) == 255);
    CHECK(strtoul("0x", &end, 16) == 0 && *end == 'x');
    CHECK(strtol("99999999999999999999", NULL, 10) == LONG_MAX);
    CHECK(strtol("-99999999999999999999", NULL, 10) == LONG_MIN);
    CHECK(strtoull("18446744073709551615", NULL, 10) == ULLONG_MAX);
    CHECK(strtoull("18446744073709551616", NULL, 10) == ULLONG_MAX);
    CHECK(strtol("abc", &end, 10) == 0);
    CHECK(atoi("123") == 123 && atoi("-7") == -7);
    CHECK(abs(-3) == 3 && labs(-4L) == 4);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void test_qsort(void)
{
    enum { N = 3000 };
    static uint32_t v[N];
    uint32_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 1103515245u + 12345u;
        v[i] = x >> 8;
    }
    qsort(v, N, sizeof v[0], cmp_u32);
    int sorted = 1;
    for (int i = 1; i < N; i++)
        sorted &= v[i - 1] <= v[i];
    CHECK(sorted);
    uint32_t key = v[1234];
    uint32_t *found = bsearch(&key, v, N, sizeof v[0], cmp_u32);
    CHECK(found != NULL && *found == key);
    qsort(v, 0, sizeof v[0], cmp_u32);
    qsort(v, 1, sizeof v[0], cmp_u32);
}

static void test_heap(void)
{
    enum { N = 200 };
    static unsigned char *p[N];
    static size_t sz[N];
    uint32_t x = 777;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < N; i++) {
            if (p[i] != NULL) {
                int ok = 1;
                for (size_t k = 0; k < sz[i]; k++)
                    ok &= p[i][k] == (unsigned char)(i + k);
                if (!ok)
                    CHECK(!"heap block contents changed");
                x = x * 1103515245u + 12345u;
                if (x & 0x10000) {
                    free(p[i]);
                    p[i] = NULL;
                    continue;
                }
                size_t nsz = (x >> 8) % 3000;
                unsigned char *q = realloc(p[i], nsz + 1);
                CHECK(q != NULL);
                p[i] = q;
                for (size_t k = sz[i]; k <= nsz; k++)
                    q[k] = (unsigned char)(i + k);
                sz[i] = nsz + 1;
                for (size_t k = 0; k < sz[i]; k++)
                    ok &= q[k] == (unsigned char)(i + k);
                CHECK(ok);
                continue;
            }
            x = x * 1103515245u + 12345u;
            sz[i] = (x >> 8) % 2000;
            p[i] = malloc(sz[i]);
            CHECK(p[i] != NULL && ((uintptr_t)p[i] & 15) == 0);
            for (size_t k = 0; k < sz[i]; k++)
                p[i][k] = (unsigned char)(i + k);
        }
    }
    for (int i = 0; i < N; i++)
        free(p[i]);
    /* Everything was freed and coalesced: one large block fits again. */
    void *big = malloc(8u << 20);
    CHECK(big != NULL);
    free(big);
    unsigned char *z = calloc(100, 10);
    int zero = z != NULL;
    for (int i = 0; zero && i < 1000; i++)
        zero &= z[i] == 0;
    CHECK(zero);
    free(z);
    volatile size_t huge = SIZE_MAX / 2; /* hidden from -Walloc-size-larger-than */
    CHECK(calloc(huge, 4) == NULL);
    CHECK(malloc(huge * 2 - 8) == NULL);
    free(NULL);
}

int main(void)
{
    test_printf();
    test_strings();
    test_numbers();
    test_qsort();
    test_heap();
    if (failures) {
        printf("sdktest: %d of %d checks failed\n", failures, checks);
        return 1;
    }
    printf("sdktest: all %d checks passed\n", checks);
    return 0;
}
