/*
 * session.h - the state of one DAP session, shared by session.c (messages,
 * requests) and run.c (execution control). Private to dap/.
 */
#ifndef PVRR_DAP_SESSION_H
#define PVRR_DAP_SESSION_H

#include "dap/dap.h"
#include "dap/internal.h"

#include <json-c/json.h>
#include <time.h>

#define MAX_FRAMES 64
#define MAX_DATA_BPS 4

/* A code address with a software breakpoint, shared by every reason to have one. */
struct code_bp {
    uint64_t addr;
    int refs; /* user breakpoints and temporary ones */
};

/* A user breakpoint: a source line or a function. */
struct user_bp {
    int id;
    int is_func;
    char *path; /* source breakpoints: the client's path */
    unsigned line;
    uint64_t addr;
    int verified;
};

struct data_bp {
    int id;
    uint64_t addr, len;
    int type; /* GDB_WP_WRITE, READ or ACCESS */
    char desc[160];
};

enum handle_kind { H_LOCALS, H_GLOBALS, H_REGISTERS, H_VALUE };

/* What a variablesReference stands for (valid until the next resume). */
struct handle {
    enum handle_kind kind;
    int frame;
    struct dap_value v;
    char evalname[256];
};

struct dap_session {
    int in_fd, out_fd;
    const struct dap_launcher *l;
    struct dap_framer fr;
    uint8_t in[4096];
    size_t in_pos, in_len;
    int seq;
    int hangup, io_error, done;

    int initialized;   /* initialize answered */
    int launched;      /* a program is loaded */
    int configured;    /* configurationDone received */
    int exited;        /* the program is gone (live run exited) */
    int stop_on_entry; /* launch argument */
    int line_base;     /* 1, or 0 when the client said linesStartAt1: false */

    struct dap_program prog;
    struct dap_di *di;
    struct dap_machine mc;
    struct gdbstub *poller;
    int pause_requested; /* pause, cancel, disconnect or terminate arrived while running */
    int progress_ok;     /* the client supports progress events */
    int progress_on;     /* a progressStart was sent for the running motion */
    int progress_id;
    const char *motion;        /* what is running, for progress events */
    struct timespec motion_t0; /* when it started */
    long progress_last;        /* seconds reported last */
    int running;
    json_object **queue; /* requests that arrived while running */
    size_t nqueue, capqueue;

    struct code_bp *cbps;
    size_t ncbps, capcbps;
    struct user_bp *ubps;
    size_t nubps, capubps;
    struct data_bp dbps[MAX_DATA_BPS];
    int ndbps;
    int next_id;

    /* the machine at the last stop (valid while stack_valid) */
    int stack_valid;
    struct gdb_regs regs;
    struct dap_frame frames[MAX_FRAMES];
    int nframes;
    struct handle *handles;
    size_t nhandles, caphandles;
};

/* ---- session.c ---- */

/* Send (msg) (takes ownership) with the next seq. */
void dap_send(struct dap_session *s, json_object *msg);
/* Send an event (body may be NULL; ownership taken). */
void dap_event(struct dap_session *s, const char *event, json_object *body);
/* An output event with category (cat): "console", "stdout", "stderr". */
void dap_output(struct dap_session *s, const char *cat, const char *text, size_t len);
/* An output event on the console, printf-style. */
void dap_outputf(struct dap_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A success response to (req) with (body) (may be NULL; ownership taken). */
void dap_ok(struct dap_session *s, json_object *req, json_object *body);
/* An error response to (req) with a message. */
void dap_fail(struct dap_session *s, json_object *req, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Member (key) of (args) (NULL if absent or args is NULL); as a string (NULL
 * if not a string); as an integer (0, or -1 if absent or not an integer); as
 * a boolean (0 if absent). */
json_object *dap_arg(json_object *args, const char *key);
const char *dap_arg_str(json_object *args, const char *key);
int dap_arg_int(json_object *args, const char *key, int64_t *out);
int dap_arg_bool(json_object *args, const char *key);
/* "0x1234" or decimal into (*out). Returns 0 or -1. */
int dap_parse_addr(const char *str, uint64_t *out);
/* "0x1234" as a JSON string. */
json_object *dap_hexstr(uint64_t v);

/* A request handler; (args) is the request's arguments or NULL. */
typedef void (*dap_req_fn)(struct dap_session *s, json_object *req, json_object *args);
struct dap_request {
    const char *command;
    dap_req_fn fn;
};
/* requests.c: the inspection requests; breakpoints.c: the breakpoint requests;
 * each ended by {NULL, NULL}. */
extern const struct dap_request dap_inspect_requests[];
extern const struct dap_request dap_breakpoint_requests[];

/* requests.c, for breakpoints.c: the handle (variablesReference) (ref), or
 * NULL; the frame a request's frameId names (the innermost without one), or
 * NULL; a Source object for file index (file); the evaluate name of child
 * (name) of value (parent) called (pname). */
struct handle *dap_get_handle(struct dap_session *s, int64_t ref);
struct dap_frame *dap_frame_arg(struct dap_session *s, json_object *args);
json_object *dap_source_of(struct dap_session *s, unsigned file);
void dap_child_evalname(const struct dap_value *parent, const char *pname, const char *name,
                        char *out, size_t n);

/* Forward what the guest wrote to its console as output events. */
void dap_drain_console(struct dap_session *s);
/* Forget the cached stack and variable handles (the machine moved). */
void dap_invalidate(struct dap_session *s);
/* Read the registers and unwind the stack if not cached. Returns 0 or -1. */
int dap_load_stack(struct dap_session *s);

/* ---- run.c ---- */

/* Add or drop one reference to a software breakpoint at (addr). Returns 0,
 * or -1 if the target refused it. */
int dap_bp_ref(struct dap_session *s, uint64_t addr);
void dap_bp_unref(struct dap_session *s, uint64_t addr);

enum dap_motion {
    M_CONTINUE,
    M_REVERSE_CONTINUE,
    M_NEXT,
    M_STEP_IN,
    M_STEP_OUT,
    M_STEP_BACK,
    M_INSTRUCTION, /* one instruction forward */
    M_INSTRUCTION_BACK,
};

/* Move the machine as (m) asks and send the stopped (or exited) event. */
void dap_move(struct dap_session *s, enum dap_motion m);

/* Report a stop that did not come from a resume (entry, pause, goto). */
void dap_report_stop(struct dap_session *s, const char *reason, const char *description);

/* The interrupt poll for ops->resume (see gdbstub_interrupt_source): reads
 * requests (pause and cancel stop the machine), forwards console output, and
 * reports progress of a long motion. */
int dap_poll(void *session);
/* Send progressStart/progressUpdate for the running motion once it has run
 * for a second, and progressEnd (end = 1) when it stops. */
void dap_progress(struct dap_session *s, int end);

#endif /* PVRR_DAP_SESSION_H */
