/*
 * breakpoints.c - the DAP breakpoint requests: source lines (DWARF line
 * tables), functions, data breakpoints (watchpoints of the target, in both
 * directions on a replay), and dataBreakpointInfo.
 */
#include "dap/session.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void r_set_breakpoints(struct dap_session *s, json_object *req, json_object *args)
{
    json_object *src = dap_arg(args, "source");
    const char *path = dap_arg_str(src, "path");
    if (!path)
        path = dap_arg_str(src, "name");
    if (!path) {
        dap_fail(s, req, "setBreakpoints: source.path is missing");
        return;
    }
    /* drop this source's breakpoints */
    for (size_t i = 0; i < s->nubps;) {
        struct user_bp *b = &s->ubps[i];
        if (!b->is_func && strcmp(b->path, path) == 0) {
            if (b->verified)
                dap_bp_unref(s, b->addr);
            free(b->path);
            s->ubps[i] = s->ubps[--s->nubps];
        } else {
            i++;
        }
    }
    json_object *out = json_object_new_array();
    json_object *list = dap_arg(args, "breakpoints");
    size_t n =
        list && json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    for (size_t i = 0; i < n && i < 10000; i++) {
        json_object *bp = json_object_array_get_idx(list, i);
        int64_t line;
        json_object *o = json_object_new_object();
        if (dap_arg_int(bp, "line", &line) < 0 || line < s->line_base || line > 10000000) {
            json_object_object_add(o, "verified", json_object_new_boolean(0));
            json_object_object_add(o, "message", json_object_new_string("no line number"));
            json_object_array_add(out, o);
            continue;
        }
        unsigned want = (unsigned)(line - s->line_base + 1), actual = want;
        uint64_t addr = 0;
        int found = dap_di_line_addr(s->di, path, want, &addr, &actual) == 0;
        int set = found && dap_bp_ref(s, addr) == 0;
        if (s->nubps == s->capubps) {
            size_t cap = s->capubps ? 2 * s->capubps : 16;
            struct user_bp *nb = realloc(s->ubps, cap * sizeof(*nb));
            if (!nb) {
                if (set)
                    dap_bp_unref(s, addr);
                json_object_put(o);
                break;
            }
            s->ubps = nb;
            s->capubps = cap;
        }
        struct user_bp *b = &s->ubps[s->nubps++];
        *b = (struct user_bp){.id = ++s->next_id,
                              .path = strdup(path),
                              .line = actual,
                              .addr = addr,
                              .verified = set};
        json_object_object_add(o, "id", json_object_new_int(b->id));
        json_object_object_add(o, "verified", json_object_new_boolean(set));
        json_object_object_add(o, "line", json_object_new_int((int)(actual + s->line_base - 1)));
        if (set)
            json_object_object_add(o, "instructionReference", dap_hexstr(addr));
        else
            json_object_object_add(o, "message",
                                   json_object_new_string(found
                                                              ? "the target refused the breakpoint"
                                                              : "no code at this line"));
        json_object_array_add(out, o);
    }
    json_object *b = json_object_new_object();
    json_object_object_add(b, "breakpoints", out);
    dap_ok(s, req, b);
}

static void r_set_function_breakpoints(struct dap_session *s, json_object *req, json_object *args)
{
    for (size_t i = 0; i < s->nubps;) {
        struct user_bp *b = &s->ubps[i];
        if (b->is_func) {
            if (b->verified)
                dap_bp_unref(s, b->addr);
            free(b->path);
            s->ubps[i] = s->ubps[--s->nubps];
        } else {
            i++;
        }
    }
    json_object *out = json_object_new_array();
    json_object *list = dap_arg(args, "breakpoints");
    size_t n =
        list && json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    for (size_t i = 0; i < n && i < 10000; i++) {
        const char *name = dap_arg_str(json_object_array_get_idx(list, i), "name");
        const struct dap_func *f = name ? dap_di_func_named(s->di, name) : NULL;
        uint64_t addr = f ? dap_di_after_prologue(s->di, f) : 0;
        int set = f && dap_bp_ref(s, addr) == 0;
        json_object *o = json_object_new_object();
        if (s->nubps == s->capubps) {
            size_t cap = s->capubps ? 2 * s->capubps : 16;
            struct user_bp *nb = realloc(s->ubps, cap * sizeof(*nb));
            if (!nb) {
                if (set)
                    dap_bp_unref(s, addr);
                json_object_put(o);
                break;
            }
            s->ubps = nb;
            s->capubps = cap;
        }
        struct user_bp *b = &s->ubps[s->nubps++];
        *b = (struct user_bp){
            .id = ++s->next_id, .is_func = 1, .path = NULL, .addr = addr, .verified = set};
        json_object_object_add(o, "id", json_object_new_int(b->id));
        json_object_object_add(o, "verified", json_object_new_boolean(set));
        if (set) {
            const struct dap_row *row = dap_di_row_at(s->di, addr, NULL);
            json_object_object_add(o, "instructionReference", dap_hexstr(addr));
            if (row) {
                b->line = row->line;
                json_object_object_add(o, "source", dap_source_of(s, row->file));
                json_object_object_add(o, "line",
                                       json_object_new_int((int)(row->line + s->line_base - 1)));
            }
        } else {
            json_object_object_add(o, "message", json_object_new_string("no such function"));
        }
        json_object_array_add(out, o);
    }
    json_object *b = json_object_new_object();
    json_object_object_add(b, "breakpoints", out);
    dap_ok(s, req, b);
}

static void r_set_exception_breakpoints(struct dap_session *s, json_object *req, json_object *args)
{
    json_object *b = json_object_new_object();
    json_object_object_add(b, "breakpoints", json_object_new_array());
    dap_ok(s, req, b);
}

/* The child called (name) of handle (h), into (*out). Returns 0 or -1. */
static int find_child(struct dap_session *s, struct handle *h, const char *name,
                      struct dap_value *out, char *evalname, size_t en)
{
    char cname[256];
    if (h->kind == H_VALUE) {
        for (size_t i = 0; i < 100000; i++) {
            if (dap_value_child(&h->v, i, &s->mc, out, cname, sizeof cname) < 0)
                return -1;
            if (strcmp(cname, name) == 0) {
                dap_child_evalname(&h->v, h->evalname, cname, evalname, en);
                return 0;
            }
        }
        return -1;
    }
    if (h->kind == H_REGISTERS)
        return -1;
    snprintf(evalname, en, "%s", name);
    struct dap_frame *f = &s->frames[h->frame];
    if (h->kind == H_LOCALS && f->func) {
        for (size_t i = f->func->nvars; i-- > 0;)
            if (strcmp(f->func->vars[i].name, name) == 0) {
                dap_var_value(&f->func->vars[i], f, &s->mc, out);
                return 0;
            }
        return -1;
    }
    const struct dap_var *g = dap_di_global_named(s->di, f->func ? f->func->cu : (size_t)-1, name);
    if (!g)
        return -1;
    dap_var_value(g, f, &s->mc, out);
    return 0;
}

static void r_data_breakpoint_info(struct dap_session *s, json_object *req, json_object *args)
{
    const char *name = dap_arg_str(args, "name");
    int64_t ref;
    struct dap_value v;
    char err[256] = "", evalname[256] = "";
    json_object *b = json_object_new_object();
    int found = 0;
    if (!name || dap_load_stack(s) < 0) {
        snprintf(err, sizeof err, "%s", name ? "no stopped program" : "no name given");
    } else if (dap_arg_int(args, "variablesReference", &ref) == 0 && ref != 0) {
        struct handle *h = dap_get_handle(s, ref);
        found = h && find_child(s, h, name, &v, evalname, sizeof evalname) == 0;
        if (!found)
            snprintf(err, sizeof err, "no variable '%s' there", name);
    } else {
        struct dap_frame *f = dap_frame_arg(s, args);
        found = f && dap_eval(s->di, f, &s->mc, name, &v, err, sizeof err) == 0;
        snprintf(evalname, sizeof evalname, "%s", name);
    }
    uint64_t size = found ? dap_value_size(&v) : 0;
    if (found && (v.where != DV_MEM || size == 0 || size > 64)) {
        snprintf(err, sizeof err, "%s",
                 v.where != DV_MEM ? "the value is not in memory"
                                   : "the value is not 1 to 64 bytes");
        found = 0;
    }
    if (!found) {
        json_object_object_add(b, "dataId", NULL);
        json_object_object_add(b, "description", json_object_new_string(err));
        dap_ok(s, req, b);
        return;
    }
    char id[64], desc[400];
    snprintf(id, sizeof id, "0x%" PRIx64 "/%" PRIu64, v.addr, size);
    snprintf(desc, sizeof desc, "%s (%" PRIu64 " bytes at 0x%" PRIx64 ")", evalname, size, v.addr);
    json_object_object_add(b, "dataId", json_object_new_string(id));
    json_object_object_add(b, "description", json_object_new_string(desc));
    json_object *types = json_object_new_array();
    json_object_array_add(types, json_object_new_string("write"));
    json_object_array_add(types, json_object_new_string("read"));
    json_object_array_add(types, json_object_new_string("readWrite"));
    json_object_object_add(b, "accessTypes", types);
    json_object_object_add(b, "canPersist", json_object_new_boolean(0));
    dap_ok(s, req, b);
}

static void r_set_data_breakpoints(struct dap_session *s, json_object *req, json_object *args)
{
    for (int i = 0; i < s->ndbps; i++)
        s->prog.ops->set_bp(s->prog.target, s->dbps[i].type, s->dbps[i].addr, s->dbps[i].len, 0);
    s->ndbps = 0;
    json_object *out = json_object_new_array();
    json_object *list = dap_arg(args, "breakpoints");
    size_t n =
        list && json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;
    for (size_t i = 0; i < n && i < 1000; i++) {
        json_object *bp = json_object_array_get_idx(list, i);
        const char *id = dap_arg_str(bp, "dataId"), *access = dap_arg_str(bp, "accessType");
        json_object *o = json_object_new_object();
        uint64_t addr = 0, len = 0;
        const char *slash = id ? strchr(id, '/') : NULL;
        char abuf[40];
        int type = !access || strcmp(access, "write") == 0 ? GDB_WP_WRITE
                   : strcmp(access, "read") == 0           ? GDB_WP_READ
                   : strcmp(access, "readWrite") == 0      ? GDB_WP_ACCESS
                                                           : -1;
        const char *why = NULL;
        if (!slash || (size_t)(slash - id) >= sizeof abuf)
            why = "not a dataId of this adapter";
        else {
            memcpy(abuf, id, (size_t)(slash - id));
            abuf[slash - id] = 0;
            if (dap_parse_addr(abuf, &addr) < 0 || dap_parse_addr(slash + 1, &len) < 0 ||
                len == 0 || len > 64)
                why = "not a dataId of this adapter";
        }
        if (!why && type < 0)
            why = "unknown accessType";
        if (!why && s->ndbps == MAX_DATA_BPS)
            why = "at most 4 data breakpoints";
        if (!why) {
            int r = s->prog.ops->set_bp(s->prog.target, type, addr, len, 1);
            if (r != 0)
                why = r == GDB_UNSUPPORTED ? "this access type is not supported"
                                           : "the target refused the data breakpoint";
        }
        json_object_object_add(o, "verified", json_object_new_boolean(!why));
        if (why) {
            json_object_object_add(o, "message", json_object_new_string(why));
        } else {
            struct data_bp *d = &s->dbps[s->ndbps++];
            d->id = ++s->next_id;
            d->addr = addr;
            d->len = len;
            d->type = type;
            snprintf(d->desc, sizeof d->desc, "%zu bytes at 0x%" PRIx64, (size_t)len, addr);
            json_object_object_add(o, "id", json_object_new_int(d->id));
        }
        json_object_array_add(out, o);
    }
    json_object *b = json_object_new_object();
    json_object_object_add(b, "breakpoints", out);
    dap_ok(s, req, b);
}

const struct dap_request dap_breakpoint_requests[] = {
    {"setBreakpoints", r_set_breakpoints},
    {"setFunctionBreakpoints", r_set_function_breakpoints},
    {"setExceptionBreakpoints", r_set_exception_breakpoints},
    {"dataBreakpointInfo", r_data_breakpoint_info},
    {"setDataBreakpoints", r_set_data_breakpoints},
    {NULL, NULL},
};
