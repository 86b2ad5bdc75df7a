/*
 * test_timeline_html.c - the page writer of `pvrr timeline` (tools/timeline.h):
 * text made valid UTF-8, hostile text kept inside its <script> element, the
 * model's fields and the bucket counters' encoding.
 */
#include "tools/timeline.h"

#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

static void test_utf8_clean(void)
{
    char out[64];
    CU_ASSERT_EQUAL(timeline_utf8_clean((const uint8_t *)"ok\n\tx", 5, out, sizeof out), 5);
    CU_ASSERT_STRING_EQUAL(out, "ok\n\tx");
    /* valid multibyte kept: e-acute, euro sign, U+1F600 */
    const char *mb = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    timeline_utf8_clean((const uint8_t *)mb, strlen(mb), out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, mb);
    /* a stray continuation byte, an overlong '/', a surrogate, a cut sequence */
    timeline_utf8_clean((const uint8_t *)"a\x80"
                                         "b",
                        3, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "a\xef\xbf\xbd"
                                "b");
    timeline_utf8_clean((const uint8_t *)"\xc0\xaf", 2, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "\xef\xbf\xbd\xef\xbf\xbd");
    timeline_utf8_clean((const uint8_t *)"\xed\xa0\x80", 3, out, sizeof out);
    CU_ASSERT_EQUAL(strlen(out), 9);
    timeline_utf8_clean((const uint8_t *)"x\xe2\x82", 3, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "x\xef\xbf\xbd\xef\xbf\xbd");
    /* NUL, escape and DEL are replaced, not passed to the page */
    timeline_utf8_clean((const uint8_t *)"\0\x1b\x7f", 3, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    /* a small buffer: cut between characters, always terminated */
    CU_ASSERT_EQUAL(timeline_utf8_clean((const uint8_t *)mb, strlen(mb), out, 6), 5);
    CU_ASSERT_STRING_EQUAL(out, "\xc3\xa9\xe2\x82\xac");
}

/* Write (t) to memory; returns the page (free it). */
static char *page_of(const struct timeline *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(timeline_write_html(t, f), 0);
    fclose(f);
    return buf;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void test_page(void)
{
    struct pvlog_meta meta = {.elf_name = "g.elf", .cmdline = "g a", .pvrr_version = "0.1.0"};
    struct timeline t;
    memset(&t, 0, sizeof t);
    t.log_path = "/x/rec.pvlog";
    t.meta = &meta;
    t.nevents = 3;
    t.log_status = PVLOG_END;
    /* two events of console_write one by one */
    uint64_t idx[2] = {0, 2};
    char l0[] = "       0  console_write", l1[] = "       2  console_write";
    char *lines[2] = {l0, l1};
    struct tl_lane *cw = &t.lanes[PVRR_HC_CONSOLE_WRITE];
    cw->count = 2;
    cw->detail = 1;
    cw->idx = idx;
    cw->line = lines;
    cw->n = 2;
    /* nop in buckets of 1: counts 1,0,0 */
    uint32_t cnt[3] = {1, 0, 0}, first[3] = {0, 0, 0};
    t.bucket_w = 1;
    t.nbuckets = 3;
    t.lanes[PVRR_HC_NOP] = (struct tl_lane){.count = 1, .bk_count = cnt, .bk_first = first};
    /* hostile console text */
    char evil[] = "</script><!--<script>alert(1)</script>";
    struct tl_text tx = {0, 0, evil};
    t.texts = &tx;
    t.ntexts = 1;
    t.have_end = 1;
    t.end_index = 3;
    t.end_reason = PVLOG_END_PANIC;
    t.end_status = 255;
    snprintf(t.end_msg, sizeof t.end_msg, "guest panic: <b>boom</b>");

    char *p = page_of(&t);
    CU_ASSERT_PTR_NULL(strstr(p, "@PVRR_TIMELINE_DATA@"));
    /* the data and the code element: no other end tag, no comment opener in the data */
    CU_ASSERT_EQUAL(count(p, "</script>"), 2);
    const char *data = strstr(p, "id=\"pvrr-data\">");
    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    const char *data_end = strstr(data, "</script>");
    CU_ASSERT_PTR_NOT_NULL_FATAL(data_end);
    char *json = strndup(data, (size_t)(data_end - data));
    CU_ASSERT_PTR_NULL(strchr(json + strlen("id=\"pvrr-data\">"), '<'));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\\u003c\\/script>\\u003c!--"));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"file\":\"rec.pvlog\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"total\":4"));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"reason\":\"panic\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"idx\":[0,2]"));
    /* counts 1,0,0 as bytes: base64 "AQAA"; firsts 0,0,0: "AAAA" */
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"mode\":\"buckets\",\"bytes\":1,\"counts\":\"AQAA\","
                                        "\"first\":\"AAAA\""));
    CU_ASSERT_PTR_NULL(strstr(json, "\"divergence\""));
    CU_ASSERT_PTR_NULL(strstr(json, "\"log_error\""));
    free(json);
    free(p);

    /* wider buckets take 2 bytes per counter; a cut log and a divergence are in the model */
    cnt[0] = 0x1234;
    t.bucket_w = 0x2000;
    t.log_status = PVLOG_ETRUNCATED;
    snprintf(t.log_msg, sizeof t.log_msg, "log truncated at event 3");
    t.diverged = 1;
    t.div_index = 1;
    t.div_source = "replay";
    p = page_of(&t);
    CU_ASSERT_PTR_NOT_NULL(strstr(p, "\"bytes\":2,\"counts\":\"NBIAAAAA\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(p, "\"log_error\":{\"i\":3,\"what\":\"truncated\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(p, "\"divergence\":{\"i\":1,"));
    free(p);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("timeline_html", NULL, NULL);
    CU_add_test(s, "utf8_clean", test_utf8_clean);
    CU_add_test(s, "page", test_page);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
