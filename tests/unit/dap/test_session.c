/*
 * test_session.c - whole DAP sessions over a socketpair against the gdb
 * stub's in-memory fake target (tests/unit/gdbstub/fake_target.h), no KVM:
 * the request order, stop reasons, data breakpoints in both directions,
 * the start of history, the guest's exit.
 *
 * The fake program at 0x1000: nop, nop, store al to [rbx], nop, exit(al).
 */
#include <CUnit/Basic.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dap/dap.h"
#include "tests/unit/gdbstub/fake_target.h"

static struct fake_target target;
static struct gdb_target_ops ops;
static int fd;     /* the client's end */
static int seq;    /* the client's last seq */
static int events; /* events seen since the last take() */
static char last_event[64], last_reason[64];
static int last_exit = -1;
static struct dap_framer fr;

static int launch(void *ctx, const char *program, const char *const *args, size_t nargs,
                  struct dap_program *p, char *err, size_t n)
{
    static const unsigned char elf[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
    if (strcmp(program, "fake") != 0) {
        snprintf(err, n, "%s: no such program", program);
        return -1;
    }
    p->ops = &ops;
    p->target = &target;
    p->elf = elf; /* no sections: no DWARF */
    p->elf_len = sizeof elf;
    p->console_fd = -1;
    return 0;
}

static void end(void *ctx, struct dap_program *p)
{
}

static const struct dap_launcher launcher = {.launch = launch, .end = end};

static void *serve_main(void *arg)
{
    int sfd = *(int *)arg;
    *(int *)arg = dap_serve(sfd, sfd, &launcher);
    close(sfd);
    return NULL;
}

/* Send a request with (args_json) (or NULL). Returns its seq. */
static int send_req(const char *command, const char *args_json)
{
    char buf[1024];
    int n =
        snprintf(buf, sizeof buf, "{\"seq\":%d,\"type\":\"request\",\"command\":\"%s\"%s%s}", ++seq,
                 command, args_json ? ",\"arguments\":" : "", args_json ? args_json : "");
    CU_ASSERT(dap_write_message(fd, buf, (size_t)n) == 0);
    return seq;
}

/* The next message (caller puts it). */
static json_object *recv_msg(void)
{
    for (;;) {
        unsigned char c;
        if (read(fd, &c, 1) != 1)
            return NULL;
        enum dap_frame_event ev = dap_framer_feed(&fr, c);
        CU_ASSERT(ev != DAP_FRAME_ERROR);
        if (ev == DAP_FRAME_MESSAGE)
            return json_tokener_parse(fr.body);
    }
}

static const char *str(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static void note_event(json_object *m)
{
    json_object *b;
    events++;
    snprintf(last_event, sizeof last_event, "%s", str(m, "event"));
    if (json_object_object_get_ex(m, "body", &b)) {
        if (strcmp(last_event, "stopped") == 0)
            snprintf(last_reason, sizeof last_reason, "%s", str(b, "reason"));
        if (strcmp(last_event, "exited") == 0)
            last_exit = atoi(str(b, "exitCode"));
    }
}

/* Send a request and wait for its response; events are noted. Returns the
 * response (caller puts it). */
static json_object *request(const char *command, const char *args_json)
{
    int s = send_req(command, args_json);
    for (;;) {
        json_object *m = recv_msg();
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        if (strcmp(str(m, "type"), "event") == 0) {
            note_event(m);
            json_object_put(m);
            continue;
        }
        json_object *v;
        CU_ASSERT(json_object_object_get_ex(m, "request_seq", &v) && json_object_get_int(v) == s);
        CU_ASSERT_STRING_EQUAL(str(m, "command"), command);
        return m;
    }
}

static int ok(const char *command, const char *args_json)
{
    json_object *m = request(command, args_json);
    json_object *v;
    int success = json_object_object_get_ex(m, "success", &v) && json_object_get_boolean(v);
    json_object_put(m);
    return success;
}

/* Wait for the next stopped/exited event; returns its reason (or "exited"). */
static const char *wait_stop(void)
{
    for (;;) {
        json_object *m = recv_msg();
        CU_ASSERT_PTR_NOT_NULL_FATAL(m);
        if (strcmp(str(m, "type"), "event") == 0) {
            note_event(m);
            int stop = strcmp(last_event, "stopped") == 0 || strcmp(last_event, "exited") == 0;
            json_object_put(m);
            if (stop)
                return strcmp(last_event, "exited") == 0 ? "exited" : last_reason;
        } else {
            json_object_put(m);
        }
    }
}

static uint64_t pc(void)
{
    json_object *m = request("stackTrace", "{\"threadId\":1}"), *b, *frames, *ip;
    uint64_t v = 0;
    if (json_object_object_get_ex(m, "body", &b) &&
        json_object_object_get_ex(b, "stackFrames", &frames) &&
        json_object_array_length(frames) > 0 &&
        json_object_object_get_ex(json_object_array_get_idx(frames, 0),
                                  "instructionPointerReference", &ip))
        v = strtoull(json_object_get_string(ip), NULL, 0);
    json_object_put(m);
    return v;
}

static pthread_t server;
static int server_fd;

static void start(int reverse)
{
    int sv[2];
    fake_target_init(&target);
    fake_target_ops(&ops, reverse);
    static const uint8_t prog[] = {0x90, 0x90, FAKE_OP_STORE, 0x90, FAKE_OP_EXIT};
    memcpy(target.mem + 0x1000, prog, sizeof prog);
    target.regs.rbx = 0x2000;
    target.regs.rax = 7;
    CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fd = sv[0];
    server_fd = sv[1];
    seq = 0;
    dap_framer_init(&fr);
    CU_ASSERT_FATAL(pthread_create(&server, NULL, serve_main, &server_fd) == 0);
}

static int finish(void)
{
    close(fd);
    pthread_join(server, NULL);
    dap_framer_fini(&fr);
    return server_fd; /* dap_serve's result */
}

static void test_order_and_errors(void)
{
    start(1);
    CU_ASSERT(!ok("threads", NULL)); /* before initialize */
    CU_ASSERT(!ok("launch", "{\"program\":\"fake\"}"));
    CU_ASSERT(ok("initialize", "{\"adapterID\":\"pvrr\"}"));
    CU_ASSERT(!ok("configurationDone", NULL)); /* before launch */
    CU_ASSERT(!ok("launch", "{\"program\":\"nothing\"}"));
    CU_ASSERT(!ok("launch", "{\"args\":[]}"));
    CU_ASSERT(!ok("launch", "{\"program\":\"fake\",\"args\":[1]}"));
    CU_ASSERT(ok("launch", "{\"program\":\"fake\",\"stopOnEntry\":true}"));
    CU_ASSERT(!ok("launch", "{\"program\":\"fake\"}")); /* once per session */
    CU_ASSERT(!ok("continue", "{\"threadId\":1}"));     /* before configurationDone */
    CU_ASSERT(!ok("noSuchRequest", NULL));
    CU_ASSERT(!ok("stackTrace", "[]"));
    CU_ASSERT(ok("configurationDone", NULL));
    CU_ASSERT_STRING_EQUAL(wait_stop(), "entry");
    CU_ASSERT(!ok("configurationDone", NULL));
    CU_ASSERT(ok("disconnect", NULL));
    CU_ASSERT_EQUAL(finish(), DAP_END_DISCONNECT);
}

static void test_data_breakpoint_both_ways(void)
{
    start(1);
    CU_ASSERT(ok("initialize", "{}"));
    CU_ASSERT(ok("launch", "{\"program\":\"fake\",\"stopOnEntry\":true}"));
    json_object *m = request("dataBreakpointInfo", "{\"name\":\"*0x2000\"}"), *b, *id;
    CU_ASSERT_FATAL(json_object_object_get_ex(m, "body", &b) &&
                    json_object_object_get_ex(b, "dataId", &id));
    CU_ASSERT_STRING_EQUAL(json_object_get_string(id), "0x2000/8");
    json_object_put(m);
    CU_ASSERT(ok("setDataBreakpoints",
                 "{\"breakpoints\":[{\"dataId\":\"0x2000/8\",\"accessType\":\"write\"}]}"));
    CU_ASSERT(ok("configurationDone", NULL));
    CU_ASSERT_STRING_EQUAL(wait_stop(), "entry");
    CU_ASSERT_EQUAL(pc(), 0x1000);
    CU_ASSERT(ok("continue", "{\"threadId\":1}"));
    CU_ASSERT_STRING_EQUAL(wait_stop(), "data breakpoint");
    CU_ASSERT_EQUAL(pc(), 0x1003);
    /* undoing the watched write meets the data breakpoint (as gdb's reverse-stepi does) */
    CU_ASSERT(ok("stepBack", "{\"threadId\":1,\"granularity\":\"instruction\"}"));
    const char *why = wait_stop();
    CU_ASSERT(strcmp(why, "step") == 0 || strcmp(why, "data breakpoint") == 0);
    CU_ASSERT_EQUAL(pc(), 0x1002);
    CU_ASSERT(ok("continue", "{\"threadId\":1}")); /* the write again */
    CU_ASSERT_STRING_EQUAL(wait_stop(), "data breakpoint");
    CU_ASSERT(ok("reverseContinue", "{\"threadId\":1}")); /* back to the writing instruction */
    CU_ASSERT_STRING_EQUAL(wait_stop(), "data breakpoint");
    CU_ASSERT_EQUAL(pc(), 0x1002);
    CU_ASSERT(ok("setDataBreakpoints", "{\"breakpoints\":[]}"));
    CU_ASSERT(ok("reverseContinue", "{\"threadId\":1}"));
    CU_ASSERT_STRING_EQUAL(wait_stop(), "start of history");
    CU_ASSERT_EQUAL(pc(), 0x1000);
    CU_ASSERT(
        ok("setDataBreakpoints", "{\"breakpoints\":[{\"dataId\":\"junk\"}]}")); /* unverified */
    CU_ASSERT(ok("continue", "{\"threadId\":1}"));
    CU_ASSERT_STRING_EQUAL(wait_stop(), "exited");
    CU_ASSERT_EQUAL(last_exit, 7);
    CU_ASSERT(!ok("continue", "{\"threadId\":1}")); /* the program has exited */
    CU_ASSERT(ok("threads", NULL));
    CU_ASSERT(ok("disconnect", NULL));
    CU_ASSERT_EQUAL(finish(), DAP_END_DISCONNECT);
}

static void test_live_has_no_reverse(void)
{
    start(0);
    CU_ASSERT(ok("initialize", "{}"));
    CU_ASSERT(ok("launch", "{\"program\":\"fake\",\"stopOnEntry\":true}"));
    CU_ASSERT(ok("configurationDone", NULL));
    CU_ASSERT_STRING_EQUAL(wait_stop(), "entry");
    CU_ASSERT(!ok("stepBack", "{\"threadId\":1}"));
    CU_ASSERT(!ok("reverseContinue", "{\"threadId\":1}"));
    CU_ASSERT(!ok("goto", "{\"event\":1}"));
    CU_ASSERT(ok("next", "{\"threadId\":1,\"granularity\":\"instruction\"}"));
    CU_ASSERT_STRING_EQUAL(wait_stop(), "step");
    CU_ASSERT_EQUAL(pc(), 0x1001);
    CU_ASSERT(ok("pause", "{\"threadId\":1}"));
    CU_ASSERT_STRING_EQUAL(wait_stop(), "pause");
    /* the client leaves without disconnecting */
    CU_ASSERT_EQUAL(finish(), DAP_END_HANGUP);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("dap sessions on the fake target", NULL, NULL);
    CU_add_test(s, "request order and errors", test_order_and_errors);
    CU_add_test(s, "data breakpoints forward and backward", test_data_breakpoint_both_ways);
    CU_add_test(s, "a live target has no reverse execution", test_live_has_no_reverse);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
