/*
 * test_frame.c - DAP message framing (dap/frame.c): Content-Length headers,
 * bodies in any pieces, and every malformed header resynchronising.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dap/dap.h"

/* Feed (s) and collect the events: bodies into (out) separated by '|', errors as "E". */
static void feed(struct dap_framer *f, const char *s, size_t n, char *out, size_t cap)
{
    size_t k = strlen(out);
    for (size_t i = 0; i < n; i++) {
        enum dap_frame_event ev = dap_framer_feed(f, (uint8_t)s[i]);
        if (ev == DAP_FRAME_MESSAGE)
            k += (size_t)snprintf(out + k, cap - k, "%s|", f->body);
        else if (ev == DAP_FRAME_ERROR)
            k += (size_t)snprintf(out + k, cap - k, "E|");
    }
}

static void check(const char *input, size_t n, const char *expected)
{
    struct dap_framer f;
    char out[4096] = "";
    dap_framer_init(&f);
    feed(&f, input, n, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, expected);
    if (strcmp(out, expected) != 0)
        fprintf(stderr, "\n  got '%s', want '%s'\n", out, expected);
    dap_framer_fini(&f);
}

#define CHECK(lit, expected) check(lit, sizeof(lit) - 1, expected)

static void test_messages(void)
{
    CHECK("Content-Length: 2\r\n\r\n{}", "{}|");
    CHECK("Content-Length: 2\r\n\r\n{}Content-Length: 3\r\n\r\n[1]", "{}|[1]|");
    /* other headers, any case, spaces, stray line ends between messages */
    CHECK("content-length:3\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\nabc"
          "\r\n\r\nCONTENT-LENGTH:   1  \r\n\r\nx",
          "abc|x|");
    /* an empty body is a message (the session rejects it as JSON) */
    CHECK("Content-Length: 0\r\n\r\nContent-Length: 1\r\n\r\ny", "|y|");
    /* the body may contain header-like text and NULs are kept out of headers only */
    CHECK("Content-Length: 21\r\n\r\nContent-Length: 5\r\n\r\n", "Content-Length: 5\r\n\r\n|");
}

static void test_pieces(void)
{
    const char msg[] = "Content-Length: 10\r\n\r\n0123456789Content-Length: 1\r\n\r\nz";
    for (size_t cut = 1; cut < sizeof msg - 1; cut++) {
        struct dap_framer f;
        char out[256] = "";
        dap_framer_init(&f);
        feed(&f, msg, cut, out, sizeof out);
        feed(&f, msg + cut, sizeof msg - 1 - cut, out, sizeof out);
        CU_ASSERT_STRING_EQUAL(out, "0123456789|z|");
        dap_framer_fini(&f);
    }
}

static void test_errors_resync(void)
{
    CHECK("Foo: bar\r\n\r\nContent-Length: 1\r\n\r\na", "E|a|");
    CHECK("Content-Length: x1\r\n\r\nContent-Length: 1\r\n\r\nb", "E|b|");
    CHECK("Content-Length: 1x\r\n\r\nContent-Length: 1\r\n\r\nb", "E|b|");
    CHECK("Content-Length: -1\r\n\r\nContent-Length: 1\r\n\r\nb", "E|b|");
    CHECK("no colon here\r\n\r\nContent-Length: 1\r\n\r\nc", "E|c|");
    CHECK("Content-Length: 99999999999999999999999\r\n\r\nContent-Length: 1\r\n\r\nd", "E|d|");
    /* a NUL in a header */
    CHECK("Cont\0ent\r\n\r\nContent-Length: 1\r\n\r\ne", "E|E|e|");
}

static void test_oversize_skipped(void)
{
    char hdr[64];
    size_t big = DAP_MAX_BODY + 1;
    int h = snprintf(hdr, sizeof hdr, "Content-Length: %zu\r\n\r\n", big);
    char *in = malloc((size_t)h + big + 64);
    memcpy(in, hdr, (size_t)h);
    memset(in + h, 'x', big);
    const char tail[] = "Content-Length: 2\r\n\r\nok";
    memcpy(in + h + big, tail, sizeof tail - 1);
    struct dap_framer f;
    char out[256] = "";
    dap_framer_init(&f);
    feed(&f, in, (size_t)h + big + sizeof tail - 1, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "E|ok|");
    CU_ASSERT_PTR_NOT_NULL(strstr(f.err, "larger than"));
    CU_ASSERT(f.cap < 1024); /* nothing was allocated for the oversized body */
    dap_framer_fini(&f);
    free(in);
}

static void test_header_too_long(void)
{
    char in[3000];
    memset(in, 'A', 2500);
    strcpy(in + 2500, "\r\n\r\nContent-Length: 1\r\n\r\nq");
    struct dap_framer f;
    char out[256] = "";
    dap_framer_init(&f);
    feed(&f, in, strlen(in), out, sizeof out);
    /* errors every 1024 bytes of garbage, then the next real message */
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "E|"));
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "q|"));
    dap_framer_fini(&f);
}

static void test_write_message(void)
{
    int sv[2];
    char buf[128];
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CU_ASSERT(dap_write_message(sv[0], "{\"a\":1}", 7) == 0);
    ssize_t n = read(sv[1], buf, sizeof buf - 1);
    CU_ASSERT_FATAL(n > 0);
    buf[n] = 0;
    CU_ASSERT_STRING_EQUAL(buf, "Content-Length: 7\r\n\r\n{\"a\":1}");
    close(sv[1]);
    CU_ASSERT(dap_write_message(sv[0], "{}", 2) < 0); /* the reader is gone: an error, no SIGPIPE */
    close(sv[0]);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("dap framing", NULL, NULL);
    CU_add_test(s, "messages", test_messages);
    CU_add_test(s, "messages in pieces", test_pieces);
    CU_add_test(s, "malformed headers resynchronise", test_errors_resync);
    CU_add_test(s, "oversized bodies are skipped", test_oversize_skipped);
    CU_add_test(s, "header too long", test_header_too_long);
    CU_add_test(s, "write a message", test_write_message);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
