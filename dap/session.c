/*
 * session.c - the DAP session: message I/O, request dispatch, and the
 * requests that look at the stopped machine (threads, stack, variables,
 * evaluate, memory, disassembly, breakpoints). Execution is in run.c.
 */
#include "dap/session.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <unistd.h>

/* ---- sending ---- */

/* Replace bytes that are not valid UTF-8 by '?', so the JSON stays valid. */
static void utf8_clean(char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)p[i];
        size_t k = c < 0x80             ? 0
                   : (c & 0xe0) == 0xc0 ? 1
                   : (c & 0xf0) == 0xe0 ? 2
                   : (c & 0xf8) == 0xf0 ? 3
                                        : 9;
        if (k == 9 || (k == 1 && c < 0xc2) || i + k >= n + (k ? 0 : 1)) {
            p[i++] = '?';
            continue;
        }
        size_t j;
        for (j = 1; j <= k; j++)
            if (((unsigned char)p[i + j] & 0xc0) != 0x80)
                break;
        if (j <= k) {
            p[i++] = '?';
            continue;
        }
        i += k + 1;
    }
}

void dap_send(struct dap_session *s, json_object *msg)
{
    json_object_object_add(msg, "seq", json_object_new_int(++s->seq));
    size_t len;
    const char *txt = json_object_to_json_string_length(
        msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!s->hangup && !s->io_error && dap_write_message(s->out_fd, txt, len) < 0) {
        if (errno == EPIPE || errno == ECONNRESET)
            s->hangup = 1;
        else
            s->io_error = 1;
    }
    json_object_put(msg);
}

void dap_event(struct dap_session *s, const char *event, json_object *body)
{
    json_object *m = json_object_new_object();
    json_object_object_add(m, "type", json_object_new_string("event"));
    json_object_object_add(m, "event", json_object_new_string(event));
    if (body)
        json_object_object_add(m, "body", body);
    dap_send(s, m);
}

void dap_output(struct dap_session *s, const char *cat, const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, text, len);
    copy[len] = 0;
    utf8_clean(copy, len);
    json_object *b = json_object_new_object();
    json_object_object_add(b, "category", json_object_new_string(cat));
    json_object_object_add(b, "output", json_object_new_string_len(copy, (int)len));
    free(copy);
    dap_event(s, "output", b);
}

void dap_outputf(struct dap_session *s, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        dap_output(s, "console", buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

void dap_drain_console(struct dap_session *s)
{
    char buf[4096];
    if (s->prog.console_fd < 0)
        return;
    for (int i = 0; i < 256; i++) {
        ssize_t k = read(s->prog.console_fd, buf, sizeof buf);
        if (k <= 0)
            return;
        dap_output(s, "stdout", buf, (size_t)k);
    }
}

static void respond(struct dap_session *s, json_object *req, int ok, const char *message,
                    json_object *body)
{
    json_object *m = json_object_new_object(), *v;
    json_object_object_add(m, "type", json_object_new_string("response"));
    int64_t rseq = json_object_object_get_ex(req, "seq", &v) ? json_object_get_int64(v) : 0;
    json_object_object_add(m, "request_seq", json_object_new_int64(rseq));
    json_object_object_add(m, "success", json_object_new_boolean(ok));
    const char *cmd =
        json_object_object_get_ex(req, "command", &v) && json_object_is_type(v, json_type_string)
            ? json_object_get_string(v)
            : "unknown";
    json_object_object_add(m, "command", json_object_new_string(cmd));
    if (message)
        json_object_object_add(m, "message", json_object_new_string(message));
    if (!ok && message) {
        /* the error body VS Code shows: {error: {id, format}} */
        json_object *e = json_object_new_object(), *b = json_object_new_object();
        json_object_object_add(e, "id", json_object_new_int(1));
        json_object_object_add(e, "format", json_object_new_string(message));
        json_object_object_add(e, "showUser", json_object_new_boolean(0));
        json_object_object_add(b, "error", e);
        if (body)
            json_object_put(body);
        body = b;
    }
    if (body)
        json_object_object_add(m, "body", body);
    dap_send(s, m);
}

void dap_ok(struct dap_session *s, json_object *req, json_object *body)
{
    respond(s, req, 1, NULL, body);
}

void dap_fail(struct dap_session *s, json_object *req, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    respond(s, req, 0, buf, NULL);
}

/* ---- arguments ---- */

json_object *dap_arg(json_object *args, const char *key)
{
    json_object *v;
    return args && json_object_object_get_ex(args, key, &v) ? v : NULL;
}

const char *dap_arg_str(json_object *args, const char *key)
{
    json_object *v = dap_arg(args, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* An integer argument: 0 and (*out), or -1 if absent or not an integer. */
int dap_arg_int(json_object *args, const char *key, int64_t *out)
{
    json_object *v = dap_arg(args, key);
    if (!v || !json_object_is_type(v, json_type_int))
        return -1;
    *out = json_object_get_int64(v);
    return 0;
}

int dap_arg_bool(json_object *args, const char *key)
{
    json_object *v = dap_arg(args, key);
    return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* "0x1234" or a decimal number into (*out). Returns 0 or -1. */
int dap_parse_addr(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 0);
    return *end || errno ? -1 : 0;
}

json_object *dap_hexstr(uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "0x%" PRIx64, v);
    return json_object_new_string(buf);
}

/* ---- requests ---- */

typedef void (*req_fn)(struct dap_session *s, json_object *req, json_object *args);

static void r_initialize(struct dap_session *s, json_object *req, json_object *args)
{
    json_object *v = dap_arg(args, "linesStartAt1");
    s->line_base =
        v && json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v) ? 0 : 1;
    json_object *b = json_object_new_object();
    static const char *const caps[] = {"supportsConfigurationDoneRequest",
                                       "supportsStepBack",
                                       "supportsDataBreakpoints",
                                       "supportsReadMemoryRequest",
                                       "supportsDisassembleRequest",
                                       "supportsSteppingGranularity",
                                       "supportsFunctionBreakpoints",
                                       "supportsEvaluateForHovers",
                                       "supportsTerminateRequest",
                                       "supportTerminateDebuggee",
                                       "supportsCancelRequest"};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        json_object_object_add(b, caps[i], json_object_new_boolean(1));
    json_object_object_add(b, "exceptionBreakpointFilters", json_object_new_array());
    s->initialized = 1;
    s->progress_ok = dap_arg_bool(args, "supportsProgressReporting");
    dap_ok(s, req, b);
}

static void r_launch(struct dap_session *s, json_object *req, json_object *args)
{
    const char *program = dap_arg_str(args, "program");
    char err[512] = "";
    if (s->launched) {
        dap_fail(s, req, "a program is already launched in this session");
        return;
    }
    if (!program) {
        dap_fail(s, req, "launch: \"program\" (a .pvlog recording or a guest ELF) is missing");
        return;
    }
    const char *argv[64];
    size_t nargs = 0;
    json_object *a = dap_arg(args, "args");
    if (a && json_object_is_type(a, json_type_array)) {
        size_t n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
            json_object *x = json_object_array_get_idx(a, i);
            if (!json_object_is_type(x, json_type_string) || nargs == 64) {
                dap_fail(s, req, "launch: \"args\" must be at most 64 strings");
                return;
            }
            argv[nargs++] = json_object_get_string(x);
        }
    } else if (a) {
        dap_fail(s, req, "launch: \"args\" must be an array of strings");
        return;
    }
    memset(&s->prog, 0, sizeof s->prog);
    s->prog.console_fd = -1;
    if (s->l->launch(s->l->ctx, program, argv, nargs, &s->prog, err, sizeof err) < 0) {
        dap_fail(s, req, "%s", err[0] ? err : "cannot launch the program");
        return;
    }
    if (dap_di_open(&s->di, s->prog.elf, s->prog.elf_len, err, sizeof err) < 0) {
        s->l->end(s->l->ctx, &s->prog);
        dap_fail(s, req, "%s: %s", program, err);
        return;
    }
    s->mc.ops = s->prog.ops;
    s->mc.t = s->prog.target;
    s->launched = 1;
    s->stop_on_entry = dap_arg_bool(args, "stopOnEntry");
    dap_ok(s, req, NULL);
    if (s->prog.description)
        dap_outputf(s, "pvrr: %s\n", s->prog.description);
    if (!s->prog.ops->reverse_supported) {
        json_object *c = json_object_new_object(), *b = json_object_new_object();
        json_object_object_add(c, "supportsStepBack", json_object_new_boolean(0));
        json_object_object_add(b, "capabilities", c);
        dap_event(s, "capabilities", b);
    }
    dap_event(s, "initialized", NULL);
}

static void r_configuration_done(struct dap_session *s, json_object *req, json_object *args)
{
    if (s->configured) {
        dap_fail(s, req, "configurationDone was already sent");
        return;
    }
    s->configured = 1;
    dap_ok(s, req, NULL);
    if (s->stop_on_entry)
        dap_report_stop(s, "entry", NULL);
    else
        dap_move(s, M_CONTINUE);
}

/* Can the machine move now? Otherwise answers (req) with an error. */
static int can_run(struct dap_session *s, json_object *req)
{
    if (s->exited) {
        dap_fail(s, req, "the program has exited");
        return 0;
    }
    if (!s->configured) {
        dap_fail(s, req, "send configurationDone first");
        return 0;
    }
    return 1;
}

static int can_reverse(struct dap_session *s, json_object *req)
{
    if (!can_run(s, req))
        return 0;
    if (!s->prog.ops->reverse_supported) {
        dap_fail(s, req, "reverse execution needs a recording: launch a .pvlog file");
        return 0;
    }
    return 1;
}

static int instruction_granularity(json_object *args)
{
    const char *g = dap_arg_str(args, "granularity");
    return g && strcmp(g, "instruction") == 0;
}

static void r_continue(struct dap_session *s, json_object *req, json_object *args)
{
    if (!can_run(s, req))
        return;
    json_object *b = json_object_new_object();
    json_object_object_add(b, "allThreadsContinued", json_object_new_boolean(1));
    dap_ok(s, req, b);
    dap_move(s, M_CONTINUE);
}

static void r_next(struct dap_session *s, json_object *req, json_object *args)
{
    if (!can_run(s, req))
        return;
    dap_ok(s, req, NULL);
    dap_move(s, instruction_granularity(args) ? M_INSTRUCTION : M_NEXT);
}

static void r_step_in(struct dap_session *s, json_object *req, json_object *args)
{
    if (!can_run(s, req))
        return;
    dap_ok(s, req, NULL);
    dap_move(s, instruction_granularity(args) ? M_INSTRUCTION : M_STEP_IN);
}

static void r_step_out(struct dap_session *s, json_object *req, json_object *args)
{
    if (!can_run(s, req))
        return;
    dap_ok(s, req, NULL);
    dap_move(s, M_STEP_OUT);
}

static void r_step_back(struct dap_session *s, json_object *req, json_object *args)
{
    if (!can_reverse(s, req))
        return;
    dap_ok(s, req, NULL);
    dap_move(s, instruction_granularity(args) ? M_INSTRUCTION_BACK : M_STEP_BACK);
}

static void r_reverse_continue(struct dap_session *s, json_object *req, json_object *args)
{
    if (!can_reverse(s, req))
        return;
    dap_ok(s, req, NULL);
    dap_move(s, M_REVERSE_CONTINUE);
}

static void r_pause(struct dap_session *s, json_object *req, json_object *args)
{
    /* not running (a running machine's pause is answered in dap_poll) */
    dap_ok(s, req, NULL);
    if (!s->exited)
        dap_report_stop(s, "pause", NULL);
}

/* Monitor output kept in a fixed buffer (truncated). */
struct bounded {
    char text[1024];
    size_t n;
};

static void bounded_add(void *ctx, const char *text, size_t len)
{
    struct bounded *b = ctx;
    if (len > sizeof b->text - 1 - b->n)
        len = sizeof b->text - 1 - b->n;
    memcpy(b->text + b->n, text, len);
    b->n += len;
    b->text[b->n] = 0;
}

/* Custom: {"event": N} goes to just before hypercall event N of a recording. */
static void r_goto(struct dap_session *s, json_object *req, json_object *args)
{
    int64_t ev;
    if (!can_reverse(s, req))
        return;
    if (dap_arg_int(args, "event", &ev) < 0 && dap_arg_int(args, "targetId", &ev) < 0) {
        dap_fail(s, req, "goto: needs {\"event\": N}, an event number of the recording");
        return;
    }
    if (ev < 0) {
        dap_fail(s, req, "goto: event %" PRId64 " is negative", ev);
        return;
    }
    char cmd[64];
    snprintf(cmd, sizeof cmd, "goto %" PRId64, ev);
    struct bounded out = {.n = 0};
    int r = s->prog.ops->monitor ? s->prog.ops->monitor(s->prog.target, cmd, bounded_add, &out)
                                 : GDB_UNSUPPORTED;
    if (r != 0) {
        dap_fail(s, req, "goto: %s", out.n ? out.text : "not available");
        return;
    }
    dap_ok(s, req, NULL);
    if (out.n)
        dap_output(s, "console", out.text, out.n);
    dap_report_stop(s, "goto", NULL);
}

static void r_disconnect(struct dap_session *s, json_object *req, json_object *args)
{
    dap_ok(s, req, NULL);
    s->done = 1;
}

static void r_terminate(struct dap_session *s, json_object *req, json_object *args)
{
    dap_ok(s, req, NULL);
    if (s->launched && !s->exited) {
        s->prog.ops->kill(s->prog.target);
        s->exited = 1;
    }
    dap_event(s, "terminated", NULL);
}

/* cancel (a request or a progress) when nothing runs: requests are answered in
 * order, so there is nothing left to cancel. */
static void r_cancel(struct dap_session *s, json_object *req, json_object *args)
{
    dap_ok(s, req, NULL);
}

static void r_attach(struct dap_session *s, json_object *req, json_object *args)
{
    dap_fail(s, req, "attach is not supported: launch a .pvlog recording or a guest ELF");
}

/* Requests allowed before launch; the rest need a launched program. */
static const struct dap_request lifecycle[] = {
    {"initialize", r_initialize}, {"launch", r_launch},       {"attach", r_attach},
    {"disconnect", r_disconnect}, {"terminate", r_terminate}, {"cancel", r_cancel},
};

static const struct dap_request control[] = {
    {"configurationDone", r_configuration_done},
    {"continue", r_continue},
    {"next", r_next},
    {"stepIn", r_step_in},
    {"stepOut", r_step_out},
    {"stepBack", r_step_back},
    {"reverseContinue", r_reverse_continue},
    {"pause", r_pause},
    {"goto", r_goto},
    {NULL, NULL},
};

/* Handle one parsed request. */
static void dispatch(struct dap_session *s, json_object *req)
{
    const char *cmd = dap_arg_str(req, "command");
    json_object *args = dap_arg(req, "arguments");
    if (args && !json_object_is_type(args, json_type_object)) {
        dap_fail(s, req, "arguments must be an object");
        return;
    }
    for (size_t i = 0; i < sizeof lifecycle / sizeof lifecycle[0]; i++)
        if (strcmp(cmd, lifecycle[i].command) == 0) {
            if (i > 0 && i < 3 && !s->initialized) {
                dap_fail(s, req, "send initialize first");
                return;
            }
            lifecycle[i].fn(s, req, args);
            return;
        }
    const struct dap_request *tables[] = {control, dap_inspect_requests, dap_breakpoint_requests};
    for (size_t t = 0; t < 3; t++)
        for (const struct dap_request *r = tables[t]; r->command; r++)
            if (strcmp(cmd, r->command) == 0) {
                if (!s->initialized)
                    dap_fail(s, req, "send initialize first");
                else if (!s->launched)
                    dap_fail(s, req, "no program: send launch first");
                else if (s->exited && strcmp(cmd, "threads") != 0)
                    dap_fail(s, req, "the program has exited");
                else
                    r->fn(s, req, args);
                return;
            }
    dap_fail(s, req, "unknown request '%s'", cmd);
}

/* Parse one message body. Returns the request, or NULL after reporting why. */
static json_object *parse(struct dap_session *s, const char *body, size_t len)
{
    enum json_tokener_error jerr;
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return NULL;
    json_object *m = json_tokener_parse_ex(tok, body, (int)len);
    jerr = json_tokener_get_error(tok);
    if (m && jerr == json_tokener_success && tok->char_offset < (int)len) {
        for (size_t i = (size_t)tok->char_offset; i < len; i++)
            if (body[i] != ' ' && body[i] != '\n' && body[i] != '\r' && body[i] != '\t') {
                jerr = json_tokener_error_parse_unexpected;
                break;
            }
    }
    json_tokener_free(tok);
    if (!m || jerr != json_tokener_success) {
        json_object_put(m);
        dap_outputf(s, "pvrr dap: ignored a message that is not JSON (%s)\n",
                    jerr == json_tokener_continue ? "truncated" : json_tokener_error_desc(jerr));
        return NULL;
    }
    const char *type = dap_arg_str(m, "type");
    json_object *seq = dap_arg(m, "seq");
    if (!json_object_is_type(m, json_type_object) || !type || strcmp(type, "request") != 0 ||
        !dap_arg_str(m, "command") || !seq || !json_object_is_type(seq, json_type_int)) {
        if (json_object_is_type(m, json_type_object) && dap_arg_str(m, "command"))
            dap_fail(s, m,
                     "a request needs \"type\": \"request\", an integer \"seq\" and a "
                     "\"command\"");
        else
            dap_outputf(s, "pvrr dap: ignored a message that is not a request\n");
        json_object_put(m);
        return NULL;
    }
    return m;
}

static void enqueue(struct dap_session *s, json_object *m)
{
    if (s->nqueue == s->capqueue) {
        size_t cap = s->capqueue ? 2 * s->capqueue : 16;
        json_object **q = cap <= 4096 ? realloc(s->queue, cap * sizeof(*q)) : NULL;
        if (!q) {
            dap_fail(s, m, "too many requests while the machine runs");
            json_object_put(m);
            return;
        }
        s->queue = q;
        s->capqueue = cap;
    }
    s->queue[s->nqueue++] = m;
}

/* A complete message arrived. While running only pause acts at once. */
static void received(struct dap_session *s, const char *body, size_t len)
{
    json_object *m = parse(s, body, len);
    if (!m)
        return;
    if (!s->running) {
        dispatch(s, m);
        json_object_put(m);
        return;
    }
    const char *cmd = dap_arg_str(m, "command");
    if (strcmp(cmd, "pause") == 0 || strcmp(cmd, "cancel") == 0) {
        dap_ok(s, m, NULL);
        s->pause_requested = 1;
        json_object_put(m);
        return;
    }
    if (strcmp(cmd, "disconnect") == 0 || strcmp(cmd, "terminate") == 0)
        s->pause_requested = 1;
    enqueue(s, m);
}

/* Read what is available (block: wait for something) and handle whole
 * messages. Returns -1 once the connection is gone. */
static int pump(struct dap_session *s, int block)
{
    if (s->hangup || s->io_error)
        return -1;
    if (s->in_pos == s->in_len) {
        struct pollfd pfd = {.fd = s->in_fd, .events = POLLIN};
        int r = poll(&pfd, 1, block ? -1 : 0);
        if (r < 0)
            return errno == EINTR ? 0 : (s->io_error = 1, -1);
        if (r == 0)
            return 0;
        ssize_t k = read(s->in_fd, s->in, sizeof s->in);
        if (k == 0 || (k < 0 && (errno == ECONNRESET || errno == EPIPE))) {
            s->hangup = 1;
            return -1;
        }
        if (k < 0)
            return errno == EINTR || errno == EAGAIN ? 0 : (s->io_error = 1, -1);
        s->in_pos = 0;
        s->in_len = (size_t)k;
    }
    while (s->in_pos < s->in_len && !s->done && !s->hangup) {
        enum dap_frame_event ev = dap_framer_feed(&s->fr, s->in[s->in_pos++]);
        if (ev == DAP_FRAME_MESSAGE)
            received(s, s->fr.body, s->fr.len);
        else if (ev == DAP_FRAME_ERROR)
            dap_outputf(s, "pvrr dap: %s\n", s->fr.err);
        if (s->running && (s->pause_requested || s->nqueue))
            break; /* leave the rest for after the stop */
    }
    return 0;
}

void dap_progress(struct dap_session *s, int end)
{
    char msg[64];
    char id[32];
    struct timespec now;
    if (!s->progress_ok || !s->motion)
        return;
    snprintf(id, sizeof id, "pvrr-%d", s->progress_id);
    if (end) {
        if (s->progress_on) {
            json_object *b = json_object_new_object();
            json_object_object_add(b, "progressId", json_object_new_string(id));
            dap_event(s, "progressEnd", b);
        }
        s->progress_on = 0;
        s->motion = NULL;
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    long secs = (long)(now.tv_sec - s->motion_t0.tv_sec);
    if (secs < 1 || secs == s->progress_last)
        return;
    s->progress_last = secs;
    snprintf(msg, sizeof msg, "%ld s", secs);
    json_object *b = json_object_new_object();
    json_object_object_add(b, "progressId", json_object_new_string(id));
    json_object_object_add(b, "message", json_object_new_string(msg));
    if (!s->progress_on) {
        s->progress_on = 1;
        json_object_object_add(b, "title", json_object_new_string(s->motion));
        json_object_object_add(b, "cancellable", json_object_new_boolean(1));
        dap_event(s, "progressStart", b);
    } else {
        dap_event(s, "progressUpdate", b);
    }
}

int dap_poll(void *session)
{
    struct dap_session *s = session;
    dap_drain_console(s);
    dap_progress(s, 0);
    if (!s->pause_requested)
        pump(s, 0);
    return s->pause_requested || s->hangup || s->io_error;
}

int dap_serve(int in_fd, int out_fd, const struct dap_launcher *l)
{
    struct dap_session *s = calloc(1, sizeof(*s));
    if (!s)
        return DAP_END_ERROR;
    s->in_fd = in_fd;
    s->out_fd = out_fd;
    s->l = l;
    s->line_base = 1;
    s->prog.console_fd = -1;
    dap_framer_init(&s->fr);
    s->poller = gdbstub_interrupt_source(dap_poll, s);
    if (!s->poller) {
        free(s);
        return DAP_END_ERROR;
    }
    while (!s->done && !s->hangup && !s->io_error) {
        if (s->nqueue) {
            json_object *m = s->queue[0];
            memmove(s->queue, s->queue + 1, --s->nqueue * sizeof(*s->queue));
            dispatch(s, m);
            json_object_put(m);
            continue;
        }
        if (pump(s, 1) < 0)
            break;
    }
    int end = s->done ? DAP_END_DISCONNECT : s->io_error ? DAP_END_ERROR : DAP_END_HANGUP;
    for (size_t i = 0; i < s->nqueue; i++)
        json_object_put(s->queue[i]);
    if (s->launched) {
        if (!s->exited) {
            for (size_t i = 0; i < s->ncbps; i++)
                s->prog.ops->set_bp(s->prog.target, GDB_BP_SW, s->cbps[i].addr, 1, 0);
            for (int i = 0; i < s->ndbps; i++)
                s->prog.ops->set_bp(s->prog.target, s->dbps[i].type, s->dbps[i].addr,
                                    s->dbps[i].len, 0);
        }
        l->end(l->ctx, &s->prog);
    }
    for (size_t i = 0; i < s->nubps; i++)
        free(s->ubps[i].path);
    free(s->ubps);
    free(s->cbps);
    free(s->queue);
    free(s->handles);
    dap_di_close(s->di);
    gdbstub_interrupt_source_free(s->poller);
    dap_framer_fini(&s->fr);
    free(s);
    return end;
}
