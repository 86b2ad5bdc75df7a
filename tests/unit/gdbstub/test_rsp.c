/*
 * test_rsp.c - the packet layer (parser and encoder) and the register layout,
 * driven with byte strings.
 */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gdbstub/regs_x86_64.h"
#include "gdbstub/rsp.h"

static struct rsp_parser parser;

#define MAX_EV 16

/* Feed n bytes; collect the events other than NONE. Returns how many. */
static int feed(const void *bytes, size_t n, enum rsp_event *evs)
{
    const uint8_t *b = bytes;
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        enum rsp_event ev = rsp_parser_feed(&parser, b[i]);
        if (ev != RSP_EV_NONE && k < MAX_EV)
            evs[k++] = ev;
    }
    return k;
}

static int feed_str(const char *s, enum rsp_event *evs)
{
    return feed(s, strlen(s), evs);
}

/* Frame a raw body (already escaped as on the wire) with its checksum. */
static size_t frame(const void *body, size_t n, char *out)
{
    const uint8_t *b = body;
    uint8_t sum = 0;
    out[0] = '$';
    memcpy(out + 1, b, n);
    for (size_t i = 0; i < n; i++)
        sum += b[i];
    sprintf(out + 1 + n, "#%02x", sum);
    return n + 4;
}

static void test_good_packet(void)
{
    enum rsp_event ev[MAX_EV];
    rsp_parser_init(&parser);
    CU_ASSERT_EQUAL(feed_str("$OK#9a", ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
    CU_ASSERT_EQUAL(parser.len, 2);
    CU_ASSERT_STRING_EQUAL((char *)parser.buf, "OK");
    /* Upper-case checksum digits are accepted too. */
    CU_ASSERT_EQUAL(feed_str("$m1000,4#8E", ev), 1); /* 'm'..'4' sums to 0x8e */
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
    CU_ASSERT_STRING_EQUAL((char *)parser.buf, "m1000,4");
    /* Empty packet. */
    CU_ASSERT_EQUAL(feed_str("$#00", ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
    CU_ASSERT_EQUAL(parser.len, 0);
}

static void test_bad_checksum(void)
{
    enum rsp_event ev[MAX_EV];
    rsp_parser_init(&parser);
    CU_ASSERT_EQUAL(feed_str("$OK#9b", ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_BAD_CHECKSUM);
    CU_ASSERT_EQUAL(parser.state, RSP_ST_IDLE);
    CU_ASSERT_EQUAL(feed_str("$OK#zz", ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_BAD_CHECKSUM);
    CU_ASSERT_EQUAL(feed_str("$OK#9", ev), 0); /* incomplete: waits */
    CU_ASSERT_EQUAL(feed_str("g", ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_BAD_CHECKSUM);
    /* The parser recovers. */
    CU_ASSERT_EQUAL(feed_str("$OK#9a", ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
}

static void test_control_bytes_and_garbage(void)
{
    enum rsp_event ev[MAX_EV];
    rsp_parser_init(&parser);
    CU_ASSERT_EQUAL(feed_str("+", ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_ACK);
    CU_ASSERT_EQUAL(feed_str("-", ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_NACK);
    CU_ASSERT_EQUAL(feed_str("\x03", ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_INTERRUPT);
    /* Garbage before '$' is skipped silently. */
    CU_ASSERT_EQUAL(feed_str("hello\r\n\x7f#00garbage$OK#9a", ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
    CU_ASSERT_STRING_EQUAL((char *)parser.buf, "OK");
    /* Inside a body, 0x03, '+' and '-' are data. */
    char pkt[32];
    size_t n = frame("a\x03+-", 4, pkt);
    CU_ASSERT_EQUAL(feed(pkt, n, ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
    CU_ASSERT_EQUAL(parser.len, 4);
    CU_ASSERT_EQUAL(memcmp(parser.buf, "a\x03+-", 4), 0);
    /* A '$' inside a body restarts the packet (the first was cut short). */
    CU_ASSERT_EQUAL(feed_str("$m10$OK#9a", ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
    CU_ASSERT_STRING_EQUAL((char *)parser.buf, "OK");
}

static void test_escape(void)
{
    enum rsp_event ev[MAX_EV];
    char pkt[64];
    /* X1,4: then '#' '$' '}' '*' escaped. */
    static const char body[] = "X1,4:}\x03}\x04}]}\x0a";
    size_t n = frame(body, sizeof(body) - 1, pkt);
    rsp_parser_init(&parser);
    CU_ASSERT_EQUAL(feed(pkt, n, ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
    CU_ASSERT_EQUAL(parser.len, 9);
    CU_ASSERT_EQUAL(memcmp(parser.buf, "X1,4:#$}*", 9), 0);
    /* An escape followed by the end of the body is corrupt. */
    n = frame("ab}", 3, pkt);
    CU_ASSERT_EQUAL(feed(pkt, n, ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_BAD_ENCODING);
    /* An escaped NUL byte (0x20 ^ 0x20) is kept. */
    n = frame("a} b", 4, pkt);
    CU_ASSERT_EQUAL(feed(pkt, n, ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
    CU_ASSERT_EQUAL(parser.len, 3);
    CU_ASSERT_EQUAL(memcmp(parser.buf, "a\0b", 3), 0);
}

static void test_run_length(void)
{
    enum rsp_event ev[MAX_EV];
    char pkt[64];
    rsp_parser_init(&parser);
    /* "0* " is '0' plus 3 more. */
    size_t n = frame("0* ", 3, pkt);
    CU_ASSERT_EQUAL(feed(pkt, n, ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
    CU_ASSERT_STRING_EQUAL((char *)parser.buf, "0000");
    /* "ab*\"c": 'b' plus 5 more. */
    n = frame("ab*\"c", 5, pkt);
    CU_ASSERT_EQUAL(feed(pkt, n, ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
    CU_ASSERT_STRING_EQUAL((char *)parser.buf, "abbbbbbc");
    /* Repeating an escaped byte repeats the decoded byte. */
    n = frame("}]* ", 4, pkt);
    CU_ASSERT_EQUAL(feed(pkt, n, ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
    CU_ASSERT_STRING_EQUAL((char *)parser.buf, "}}}}");
    /* '*' with nothing before it. */
    n = frame("* ", 2, pkt);
    CU_ASSERT_EQUAL(feed(pkt, n, ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_BAD_ENCODING);
    /* A count below ' ' is invalid. */
    n = frame("a*\x1f", 3, pkt);
    CU_ASSERT_EQUAL(feed(pkt, n, ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_BAD_ENCODING);
    /* '*' right before '#'. */
    n = frame("a*", 2, pkt);
    CU_ASSERT_EQUAL(feed(pkt, n, ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_BAD_ENCODING);
    /* Still works afterwards. */
    CU_ASSERT_EQUAL(feed_str("$OK#9a", ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
}

static void test_oversize(void)
{
    enum rsp_event ev[MAX_EV];
    size_t max = RSP_PACKET_SIZE;
    char *body = malloc(max + 2);
    char *pkt = malloc(max + 8);
    memset(body, 'a', max + 1);

    rsp_parser_init(&parser);
    /* Exactly RSP_PACKET_SIZE is accepted. */
    size_t n = frame(body, max, pkt);
    CU_ASSERT_EQUAL(feed(pkt, n, ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
    CU_ASSERT_EQUAL(parser.len, max);
    CU_ASSERT_EQUAL(parser.buf[max], 0);
    /* One more byte is rejected, after the whole packet was consumed. */
    n = frame(body, max + 1, pkt);
    CU_ASSERT_EQUAL(feed(pkt, n, ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_OVERSIZE);
    CU_ASSERT_EQUAL(parser.raw_len, max + 1);
    CU_ASSERT_EQUAL(parser.state, RSP_ST_IDLE);
    /* A run-length count that expands past the limit is rejected too. */
    memcpy(body + max - 2, "*~", 2); /* 'a' and 97 more: raw size fits, decoded does not */
    n = frame(body, max, pkt);
    CU_ASSERT_EQUAL(feed(pkt, n, ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_OVERSIZE);
    /* The next packet is fine. */
    CU_ASSERT_EQUAL(feed_str("$OK#9a", ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
    free(body);
    free(pkt);
}

static void test_split_feeds(void)
{
    enum rsp_event ev[MAX_EV];
    char pkt[128];
    size_t n = frame("qSupported:swbreak+;hwbreak+", 28, pkt);
    n += frame("g", 1, pkt + n);
    rsp_parser_init(&parser);
    int packets = 0;
    /* One byte per call, as a socket delivering in dribbles would. */
    for (size_t i = 0; i < n; i++) {
        int k = feed(pkt + i, 1, ev);
        if (k == 1 && ev[0] == RSP_EV_PACKET) {
            packets++;
            if (packets == 1)
                CU_ASSERT_STRING_EQUAL((char *)parser.buf, "qSupported:swbreak+;hwbreak+");
            if (packets == 2)
                CU_ASSERT_STRING_EQUAL((char *)parser.buf, "g");
        } else {
            CU_ASSERT_EQUAL(k, 0);
        }
    }
    CU_ASSERT_EQUAL(packets, 2);
}

static void test_encoder(void)
{
    struct rsp_out o;
    enum rsp_event ev[MAX_EV];
    rsp_out_begin(&o);
    CU_ASSERT_EQUAL(rsp_out_str(&o, "OK"), 0);
    CU_ASSERT_EQUAL(rsp_out_end(&o), 6);
    CU_ASSERT_STRING_EQUAL(o.buf, "$OK#9a");

    rsp_out_begin(&o);
    rsp_out_str(&o, "m");
    uint8_t b[] = {0x00, 0xff, 0x12};
    rsp_out_hex(&o, b, 3);
    rsp_out_end(&o);
    CU_ASSERT_STRING_EQUAL(o.buf, "$m00ff12#fc");

    /* Binary escaping round-trips through the parser. */
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    rsp_out_begin(&o);
    CU_ASSERT_EQUAL(rsp_out_bin(&o, all, 256), 256);
    CU_ASSERT_EQUAL(o.len, 1 + 256 + 4); /* four bytes escaped */
    CU_ASSERT(rsp_out_end(&o) > 0);
    CU_ASSERT_PTR_NULL(memchr(o.buf + 1, '#', o.len - 4));
    rsp_parser_init(&parser);
    CU_ASSERT_EQUAL(feed(o.buf, o.len, ev), 1);
    CU_ASSERT_EQUAL(ev[0], RSP_EV_PACKET);
    CU_ASSERT_EQUAL(parser.len, 256);
    CU_ASSERT_EQUAL(memcmp(parser.buf, all, 256), 0);

    /* Text with a framing character is escaped, not sent raw. */
    rsp_out_begin(&o);
    rsp_out_str(&o, "a#b");
    rsp_out_end(&o);
    CU_ASSERT_STRING_EQUAL(o.buf, "$a}\x03"
                                  "b#43");
}

static void test_encoder_bounds(void)
{
    struct rsp_out o;
    static uint8_t big[RSP_PACKET_SIZE];
    memset(big, '#', sizeof(big));
    rsp_out_begin(&o);
    CU_ASSERT_EQUAL(rsp_out_room(&o), RSP_PACKET_SIZE);
    /* Escaped bytes take two: only half fit. */
    CU_ASSERT_EQUAL(rsp_out_bin(&o, big, sizeof(big)), RSP_PACKET_SIZE / 2);
    CU_ASSERT_EQUAL(rsp_out_room(&o), 0);
    CU_ASSERT_EQUAL(rsp_bin_fit(big, sizeof(big), 5), 2);
    CU_ASSERT(rsp_out_end(&o) > 0);

    rsp_out_begin(&o);
    CU_ASSERT_EQUAL(rsp_out_hex(&o, big, RSP_PACKET_SIZE / 2 + 1), -1);
    CU_ASSERT_EQUAL(rsp_out_str(&o, "x"), -1); /* stays failed */
    CU_ASSERT_EQUAL(rsp_out_end(&o), -1);

    rsp_out_begin(&o);
    CU_ASSERT_EQUAL(rsp_out_hex(&o, big, RSP_PACKET_SIZE / 2), 0);
    CU_ASSERT_EQUAL(rsp_out_end(&o), RSP_PACKET_SIZE + 4);
}

static void test_hex(void)
{
    uint8_t b[3];
    CU_ASSERT_EQUAL(rsp_hex_decode("00fFa5", b, 3), 0);
    CU_ASSERT_EQUAL(b[0], 0);
    CU_ASSERT_EQUAL(b[1], 0xff);
    CU_ASSERT_EQUAL(b[2], 0xa5);
    CU_ASSERT_EQUAL(rsp_hex_decode("0g", b, 1), -1);
    CU_ASSERT_EQUAL(rsp_hex_digit('G'), -1);
}

static void test_reg_layout(void)
{
    unsigned off = 0;
    for (unsigned i = 0; i < GDB_NUM_REGS; i++) {
        const struct gdb_reg_info *ri = gdb_reg_info(i);
        CU_ASSERT_EQUAL(ri->offset, off);
        off += ri->size;
    }
    CU_ASSERT_EQUAL(off, GDB_REGS_G_BYTES);
    CU_ASSERT_PTR_NULL(gdb_reg_info(GDB_NUM_REGS));
    CU_ASSERT_STRING_EQUAL(gdb_reg_info(GDB_REG_RIP)->name, "rip");
    CU_ASSERT_EQUAL(gdb_reg_info(GDB_REG_RIP)->offset, 128);
    CU_ASSERT_EQUAL(gdb_reg_info(GDB_REG_EFLAGS)->size, 4);
    CU_ASSERT_EQUAL(gdb_reg_info(23)->size, 4); /* gs */
    CU_ASSERT_STRING_EQUAL(gdb_reg_info(23)->name, "gs");
    CU_ASSERT_EQUAL(gdb_reg_info(GDB_REG_ST0)->offset, 164);
    CU_ASSERT_EQUAL(gdb_reg_info(GDB_REG_ST0)->size, 10);
    CU_ASSERT_STRING_EQUAL(gdb_reg_info(39)->name, "fop");
    CU_ASSERT_EQUAL(gdb_reg_info(GDB_REG_XMM0)->offset, 276);
    CU_ASSERT_EQUAL(gdb_reg_info(GDB_REG_MXCSR)->offset, 532);
    CU_ASSERT_STRING_EQUAL(gdb_reg_info(GDB_REG_FS_BASE)->name, "fs_base");
    CU_ASSERT_EQUAL(gdb_reg_info(GDB_REG_GS_BASE)->offset, 544);
}

static void test_g_roundtrip(void)
{
    struct gdb_regs r, r2;
    uint8_t g[GDB_REGS_G_BYTES];
    memset(&r, 0, sizeof(r));
    r.rax = 0x1122334455667788ull;
    r.rip = 0xffffffff81000000ull;
    r.eflags = 0x246;
    r.gs = 0x2b;
    r.st[7][9] = 0x7f;
    r.xmm[15][15] = 0xee;
    r.mxcsr = 0x1f80;
    r.gs_base = 0xdead;
    gdb_regs_to_g(&r, g);
    CU_ASSERT_EQUAL(g[0], 0x88);
    CU_ASSERT_EQUAL(g[7], 0x11);
    CU_ASSERT_EQUAL(g[136], 0x46);
    CU_ASSERT_EQUAL(g[137], 0x02);
    CU_ASSERT_EQUAL(g[160], 0x2b);
    CU_ASSERT_EQUAL(g[164 + 79], 0x7f);
    CU_ASSERT_EQUAL(g[276 + 255], 0xee);
    CU_ASSERT_EQUAL(g[544], 0xad);

    memset(&r2, 0xff, sizeof(r2));
    CU_ASSERT_EQUAL(gdb_regs_from_g(&r2, g, sizeof(g)), 0);
    CU_ASSERT_EQUAL(memcmp(&r, &r2, sizeof(r)), 0);
    /* A short G covering rax..rip only changes those. */
    memset(&r2, 0xff, sizeof(r2));
    CU_ASSERT_EQUAL(gdb_regs_from_g(&r2, g, 136), 0);
    CU_ASSERT_EQUAL(r2.rip, r.rip);
    CU_ASSERT_EQUAL(r2.eflags, 0xffffffffu);
    /* Splitting a register or overlong is refused. */
    CU_ASSERT_EQUAL(gdb_regs_from_g(&r2, g, 137), -1);
    CU_ASSERT_EQUAL(gdb_regs_from_g(&r2, g, sizeof(g) + 1), -1);
    /* Pointers by number. */
    CU_ASSERT_PTR_EQUAL(gdb_reg_ptr(&r, GDB_REG_RIP), &r.rip);
    CU_ASSERT_PTR_EQUAL(gdb_reg_ptr(&r, 41), &r.xmm[1]);
    CU_ASSERT_PTR_NULL(gdb_reg_ptr(&r, GDB_NUM_REGS));
}

static void test_tdesc(void)
{
    static char xml[16384];
    int n = gdb_tdesc_xml(xml, sizeof(xml));
    CU_ASSERT(n > 0);
    CU_ASSERT_EQUAL((size_t)n, strlen(xml));
    CU_ASSERT_PTR_NOT_NULL(strstr(xml, "<architecture>i386:x86-64</architecture>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(xml, "<feature name=\"org.gnu.gdb.i386.core\">"));
    CU_ASSERT_PTR_NOT_NULL(strstr(xml, "<feature name=\"org.gnu.gdb.i386.sse\">"));
    CU_ASSERT_PTR_NOT_NULL(strstr(xml, "<feature name=\"org.gnu.gdb.i386.segments\">"));
    CU_ASSERT_PTR_NULL(strstr(xml, "i386.linux"));
    CU_ASSERT_PTR_NOT_NULL(strstr(xml, "name=\"eflags\" bitsize=\"32\" type=\"i386_eflags\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(xml, "name=\"st0\" bitsize=\"80\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(
        xml, "name=\"xmm0\" bitsize=\"128\" type=\"vec128\" regnum=\"40\" group=\"vector\""));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(xml, "name=\"mxcsr\" bitsize=\"32\" type=\"i386_mxcsr\" regnum=\"56\""));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(xml, "name=\"gs_base\" bitsize=\"64\" type=\"int\" regnum=\"58\""));
    /* Too small a buffer is an error, not a truncation. */
    CU_ASSERT_EQUAL(gdb_tdesc_xml(xml, 100), -1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("gdbstub_rsp", NULL, NULL);
    CU_add_test(s, "good packet", test_good_packet);
    CU_add_test(s, "bad checksum", test_bad_checksum);
    CU_add_test(s, "control bytes and garbage", test_control_bytes_and_garbage);
    CU_add_test(s, "escape", test_escape);
    CU_add_test(s, "run length", test_run_length);
    CU_add_test(s, "oversize", test_oversize);
    CU_add_test(s, "split feeds", test_split_feeds);
    CU_add_test(s, "encoder", test_encoder);
    CU_add_test(s, "encoder bounds", test_encoder_bounds);
    CU_add_test(s, "hex", test_hex);
    CU_add_test(s, "register layout", test_reg_layout);
    CU_add_test(s, "g round trip", test_g_roundtrip);
    CU_add_test(s, "target description", test_tdesc);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
