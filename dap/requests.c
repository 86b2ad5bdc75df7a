/*
 * requests.c - the DAP requests that look at or configure the stopped
 * machine: breakpoints of all kinds, threads, the call stack, scopes and
 * variables, evaluate, readMemory and disassemble.
 */
#include "dap/session.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the stopped machine ---- */

void dap_invalidate(struct dap_session *s)
{
    s->stack_valid = 0;
    s->nhandles = 0;
}

int dap_load_stack(struct dap_session *s)
{
    if (s->stack_valid)
        return 0;
    if (!s->launched || s->exited || s->prog.ops->read_regs(s->prog.target, &s->regs) < 0)
        return -1;
    s->nframes = dap_unwind(s->di, &s->mc, &s->regs, s->frames, MAX_FRAMES);
    s->stack_valid = 1;
    return 0;
}

/* A new variablesReference for (h); 0 when out of memory. */
static int new_handle(struct dap_session *s, const struct handle *h)
{
    if (s->nhandles == s->caphandles) {
        size_t cap = s->caphandles ? 2 * s->caphandles : 64;
        if (cap > 1000000)
            return 0;
        struct handle *n = realloc(s->handles, cap * sizeof(*n));
        if (!n)
            return 0;
        s->handles = n;
        s->caphandles = cap;
    }
    s->handles[s->nhandles++] = *h;
    return (int)s->nhandles;
}

struct handle *dap_get_handle(struct dap_session *s, int64_t ref)
{
    if (ref < 1 || (uint64_t)ref > s->nhandles)
        return NULL;
    return &s->handles[ref - 1];
}

/* The frame a request names (frameId: index + 1), or the innermost. */
struct dap_frame *dap_frame_arg(struct dap_session *s, json_object *args)
{
    int64_t id;
    if (dap_load_stack(s) < 0)
        return NULL;
    if (dap_arg_int(args, "frameId", &id) < 0)
        return &s->frames[0];
    if (id < 1 || id > s->nframes)
        return NULL;
    return &s->frames[id - 1];
}

json_object *dap_source_of(struct dap_session *s, unsigned file)
{
    const char *path = dap_di_file(s->di, file);
    const char *base = strrchr(path, '/');
    json_object *src = json_object_new_object();
    json_object_object_add(src, "name", json_object_new_string(base ? base + 1 : path));
    json_object_object_add(src, "path", json_object_new_string(path));
    return src;
}

/* A variable object for (v) named (name), with (evalname) for evaluate. */
static json_object *variable(struct dap_session *s, const char *name, const struct dap_value *v,
                             const char *evalname)
{
    char text[512];
    size_t kids = dap_value_format(v, &s->mc, text, sizeof text);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(name));
    json_object_object_add(o, "value", json_object_new_string(text));
    json_object_object_add(o, "type",
                           json_object_new_string(v->type ? dap_type_name(v->type) : "word"));
    int ref = 0;
    if (kids) {
        struct handle h = {.kind = H_VALUE, .v = *v};
        snprintf(h.evalname, sizeof h.evalname, "%s", evalname);
        ref = new_handle(s, &h);
        struct dap_type *t = dap_type_strip(v->type);
        if (t && t->kind == DT_ARRAY)
            json_object_object_add(o, "indexedVariables", json_object_new_int((int)kids));
    }
    json_object_object_add(o, "variablesReference", json_object_new_int(ref));
    if (evalname[0])
        json_object_object_add(o, "evaluateName", json_object_new_string(evalname));
    if (v->where == DV_MEM)
        json_object_object_add(o, "memoryReference", dap_hexstr(v->addr));
    return o;
}

/* The evaluate name of child (name) of a value called (parent). */
void dap_child_evalname(const struct dap_value *parent, const char *pname, const char *name,
                        char *out, size_t n)
{
    struct dap_type *t = dap_type_strip(parent->type);
    if (!pname[0])
        out[0] = 0;
    else if (name[0] == '[')
        snprintf(out, n, "%s%s", pname, name);
    else if (name[0] == '*')
        snprintf(out, n, "*%s", pname);
    else if (t && t->kind == DT_PTR)
        snprintf(out, n, "%s->%s", pname, name);
    else
        snprintf(out, n, "%s.%s", pname, name);
}

/* The variables of a frame's function in scope at its pc, parameters first. */
static void frame_locals(struct dap_session *s, const struct dap_frame *f, json_object *arr)
{
    if (!f->func)
        return;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < f->func->nvars; i++) {
            const struct dap_var *v = &f->func->vars[i];
            if (v->is_param != !pass)
                continue;
            if (v->scope_hi && (f->lookup_pc < v->scope_lo || f->lookup_pc >= v->scope_hi))
                continue;
            struct dap_value val;
            dap_var_value(v, f, &s->mc, &val);
            json_object_array_add(arr, variable(s, v->name, &val, v->name));
        }
}

static void r_threads(struct dap_session *s, json_object *req, json_object *args)
{
    json_object *t = json_object_new_object(), *arr = json_object_new_array(),
                *b = json_object_new_object();
    json_object_object_add(t, "id", json_object_new_int(1));
    json_object_object_add(t, "name", json_object_new_string("vCPU 0"));
    json_object_array_add(arr, t);
    json_object_object_add(b, "threads", arr);
    dap_ok(s, req, b);
}

static void r_stack_trace(struct dap_session *s, json_object *req, json_object *args)
{
    int64_t start = 0, levels = 0;
    if (dap_load_stack(s) < 0) {
        dap_fail(s, req, "the machine is not stopped");
        return;
    }
    dap_arg_int(args, "startFrame", &start);
    dap_arg_int(args, "levels", &levels);
    if (start < 0)
        start = 0;
    if (levels <= 0 || levels > MAX_FRAMES)
        levels = MAX_FRAMES;
    json_object *arr = json_object_new_array();
    for (int64_t i = start; i < s->nframes && i < start + levels; i++) {
        const struct dap_frame *f = &s->frames[i];
        json_object *o = json_object_new_object();
        char name[200];
        uint64_t off = 0;
        const char *sym = dap_di_symbol(s->di, f->lookup_pc, &off);
        if (f->func)
            snprintf(name, sizeof name, "%s", f->func->name);
        else if (sym)
            snprintf(name, sizeof name, "%s+0x%" PRIx64, sym, off);
        else
            snprintf(name, sizeof name, "0x%" PRIx64, f->pc);
        json_object_object_add(o, "id", json_object_new_int((int)i + 1));
        json_object_object_add(o, "name", json_object_new_string(name));
        const struct dap_row *row = dap_di_row_at(s->di, f->lookup_pc, NULL);
        if (row) {
            json_object_object_add(o, "source", dap_source_of(s, row->file));
            json_object_object_add(o, "line",
                                   json_object_new_int((int)(row->line + s->line_base - 1)));
            json_object_object_add(o, "column", json_object_new_int(s->line_base));
        } else {
            json_object_object_add(o, "line", json_object_new_int(0));
            json_object_object_add(o, "column", json_object_new_int(0));
            json_object_object_add(o, "presentationHint", json_object_new_string("subtle"));
        }
        json_object_object_add(o, "instructionPointerReference", dap_hexstr(f->pc));
        json_object_array_add(arr, o);
    }
    json_object *b = json_object_new_object();
    json_object_object_add(b, "stackFrames", arr);
    json_object_object_add(b, "totalFrames", json_object_new_int(s->nframes));
    dap_ok(s, req, b);
}

static json_object *scope(struct dap_session *s, const char *name, const char *hint,
                          enum handle_kind kind, int frame)
{
    struct handle h = {.kind = kind, .frame = frame};
    json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(name));
    if (hint)
        json_object_object_add(o, "presentationHint", json_object_new_string(hint));
    json_object_object_add(o, "variablesReference", json_object_new_int(new_handle(s, &h)));
    json_object_object_add(o, "expensive", json_object_new_boolean(0));
    return o;
}

static void r_scopes(struct dap_session *s, json_object *req, json_object *args)
{
    struct dap_frame *f = dap_frame_arg(s, args);
    if (!f) {
        dap_fail(s, req, "no such frame");
        return;
    }
    int idx = (int)(f - s->frames);
    json_object *arr = json_object_new_array();
    json_object_array_add(arr, scope(s, "Locals", "locals", H_LOCALS, idx));
    json_object_array_add(arr, scope(s, "Globals", NULL, H_GLOBALS, idx));
    json_object_array_add(arr, scope(s, "Registers", "registers", H_REGISTERS, idx));
    json_object *b = json_object_new_object();
    json_object_object_add(b, "scopes", arr);
    dap_ok(s, req, b);
}

static void r_variables(struct dap_session *s, json_object *req, json_object *args)
{
    int64_t ref = 0, start = 0, count = 0;
    dap_arg_int(args, "variablesReference", &ref);
    dap_arg_int(args, "start", &start);
    dap_arg_int(args, "count", &count);
    struct handle *hp = dap_load_stack(s) == 0 ? dap_get_handle(s, ref) : NULL;
    if (!hp) {
        dap_fail(s, req, "variablesReference %" PRId64 " is not valid (any more)", ref);
        return;
    }
    struct handle h = *hp; /* new handles may move the array */
    json_object *arr = json_object_new_array();
    const struct dap_frame *f = &s->frames[h.frame];
    if (h.kind == H_LOCALS) {
        frame_locals(s, f, arr);
    } else if (h.kind == H_GLOBALS) {
        const struct dap_var *g;
        size_t cu = f->func ? f->func->cu : (size_t)-1;
        for (size_t i = 0; (g = dap_di_global(s->di, cu, i)) != NULL && i < 10000; i++) {
            struct dap_value v;
            dap_var_value(g, f, &s->mc, &v);
            json_object_array_add(arr, variable(s, g->name, &v, g->name));
        }
    } else if (h.kind == H_REGISTERS) {
        for (unsigned r = 0; r <= GDB_REG_EFLAGS; r++) {
            const struct gdb_reg_info *ri = gdb_reg_info(r);
            uint64_t x = 0;
            char text[40];
            json_object *o = json_object_new_object();
            if (h.frame == 0) {
                memcpy(&x, gdb_reg_cptr(&s->regs, r), ri->size);
                snprintf(text, sizeof text, "0x%" PRIx64, x);
            } else {
                snprintf(text, sizeof text, "%s", "<frame 0 only>");
                if (r == GDB_REG_RIP)
                    snprintf(text, sizeof text, "0x%" PRIx64, f->pc);
            }
            json_object_object_add(o, "name", json_object_new_string(ri->name));
            json_object_object_add(o, "value", json_object_new_string(text));
            json_object_object_add(o, "variablesReference", json_object_new_int(0));
            json_object_array_add(arr, o);
        }
    } else {
        if (start < 0)
            start = 0;
        if (count <= 0 || count > 10000)
            count = 10000;
        char name[256], evalname[256];
        for (int64_t i = start; i < start + count; i++) {
            struct dap_value v;
            if (dap_value_child(&h.v, (size_t)i, &s->mc, &v, name, sizeof name) < 0)
                break;
            dap_child_evalname(&h.v, h.evalname, name, evalname, sizeof evalname);
            json_object_array_add(arr, variable(s, name, &v, evalname));
        }
    }
    json_object *b = json_object_new_object();
    json_object_object_add(b, "variables", arr);
    dap_ok(s, req, b);
}

/* gdb_out_fn collecting monitor output into a growing string. */
struct text {
    char *p;
    size_t n, cap;
};

static void collect(void *ctx, const char *text, size_t len)
{
    struct text *t = ctx;
    if (t->n + len + 1 > t->cap) {
        size_t cap = (t->n + len + 1) * 2;
        char *p = realloc(t->p, cap);
        if (!p)
            return;
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->n, text, len);
    t->n += len;
    t->p[t->n] = 0;
}

/* `monitor CMD` from the debug console: the target's monitor commands. */
static void monitor_command(struct dap_session *s, json_object *req, const char *cmd)
{
    while (*cmd == ' ')
        cmd++;
    struct text out = {0};
    const struct gdb_monitor_cmd *c = s->prog.ops->monitor_cmds;
    size_t word = strcspn(cmd, " \t");
    int known = 0;
    for (; c && c->name; c++)
        known |= strlen(c->name) == word && strncmp(c->name, cmd, word) == 0;
    if (word == 0 || (word == 4 && strncmp(cmd, "help", 4) == 0)) {
        collect(&out, "monitor commands:\n", 18);
        for (c = s->prog.ops->monitor_cmds; c && c->name; c++) {
            char line[300];
            int n = snprintf(line, sizeof line, "  %-12s %s\n", c->name, c->help ? c->help : "");
            collect(&out, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
        }
    } else if (!known || !s->prog.ops->monitor) {
        dap_fail(s, req, "unknown monitor command '%.*s'; try 'monitor help'", (int)word, cmd);
        return;
    } else {
        int r = s->prog.ops->monitor(s->prog.target, cmd, collect, &out);
        if (r != 0) {
            dap_fail(s, req, "monitor %s: %s", cmd,
                     out.n                  ? out.p
                     : r == GDB_UNSUPPORTED ? "bad usage"
                                            : "failed");
            free(out.p);
            return;
        }
    }
    json_object *b = json_object_new_object();
    json_object_object_add(b, "result", json_object_new_string(out.p ? out.p : ""));
    json_object_object_add(b, "variablesReference", json_object_new_int(0));
    free(out.p);
    dap_ok(s, req, b);
    if (strncmp(cmd, "goto", 4) == 0 && (cmd[4] == ' ' || !cmd[4]))
        dap_report_stop(s, "goto", NULL); /* the machine moved in time */
}

static void r_evaluate(struct dap_session *s, json_object *req, json_object *args)
{
    const char *expr = dap_arg_str(args, "expression");
    const char *ctx = dap_arg_str(args, "context");
    if (!expr) {
        dap_fail(s, req, "evaluate: no expression");
        return;
    }
    if (ctx && strcmp(ctx, "repl") == 0) {
        const char *e = expr;
        while (*e == ' ')
            e++;
        if (strncmp(e, "-exec ", 6) == 0)
            e += 6;
        while (*e == ' ')
            e++;
        if (strncmp(e, "monitor", 7) == 0 && (e[7] == ' ' || !e[7])) {
            monitor_command(s, req, e + 7);
            return;
        }
        if (e != expr && e[0] && strncmp(expr, "-exec", 5) == 0) {
            dap_fail(s, req, "-exec: only monitor commands are available (pvrr does not run gdb)");
            return;
        }
    }
    struct dap_frame *f = dap_frame_arg(s, args);
    if (!f) {
        dap_fail(s, req, "the machine is not stopped");
        return;
    }
    struct dap_value v;
    char err[256];
    if (dap_eval(s->di, f, &s->mc, expr, &v, err, sizeof err) < 0) {
        dap_fail(s, req, "%s", err);
        return;
    }
    json_object *var = variable(s, expr, &v, expr);
    json_object *b = json_object_new_object(), *x;
    json_object_object_get_ex(var, "value", &x);
    json_object_object_add(b, "result", json_object_get(x));
    json_object_object_get_ex(var, "type", &x);
    json_object_object_add(b, "type", json_object_get(x));
    json_object_object_get_ex(var, "variablesReference", &x);
    json_object_object_add(b, "variablesReference", json_object_get(x));
    if (json_object_object_get_ex(var, "memoryReference", &x))
        json_object_object_add(b, "memoryReference", json_object_get(x));
    if (json_object_object_get_ex(var, "indexedVariables", &x))
        json_object_object_add(b, "indexedVariables", json_object_get(x));
    json_object_put(var);
    dap_ok(s, req, b);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void r_read_memory(struct dap_session *s, json_object *req, json_object *args)
{
    uint64_t base;
    int64_t off = 0, count = 0;
    if (!s->launched || s->exited) {
        dap_fail(s, req, "no program");
        return;
    }
    if (dap_parse_addr(dap_arg_str(args, "memoryReference"), &base) < 0 ||
        dap_arg_int(args, "count", &count) < 0 || count < 0) {
        dap_fail(s, req, "readMemory: needs a memoryReference (an address) and a count");
        return;
    }
    dap_arg_int(args, "offset", &off);
    if (count > (1 << 20))
        count = 1 << 20;
    uint64_t addr = base + (uint64_t)off;
    uint8_t *buf = malloc((size_t)count + 1);
    if (!buf) {
        dap_fail(s, req, "out of memory");
        return;
    }
    size_t got = 0;
    while (got < (size_t)count) { /* the readable prefix, page by page */
        uint64_t at = addr + got;
        size_t chunk = 4096 - (size_t)(at % 4096);
        if (chunk > (size_t)count - got)
            chunk = (size_t)count - got;
        if (s->prog.ops->read_mem(s->prog.target, at, buf + got, chunk) < 0)
            break;
        got += chunk;
    }
    char *enc = malloc(got / 3 * 4 + 8);
    if (!enc) {
        free(buf);
        dap_fail(s, req, "out of memory");
        return;
    }
    size_t e = 0;
    for (size_t i = 0; i < got; i += 3) {
        uint32_t v = (uint32_t)buf[i] << 16;
        if (i + 1 < got)
            v |= (uint32_t)buf[i + 1] << 8;
        if (i + 2 < got)
            v |= buf[i + 2];
        enc[e++] = b64[v >> 18 & 63];
        enc[e++] = b64[v >> 12 & 63];
        enc[e++] = i + 1 < got ? b64[v >> 6 & 63] : '=';
        enc[e++] = i + 2 < got ? b64[v & 63] : '=';
    }
    enc[e] = 0;
    json_object *b = json_object_new_object();
    json_object_object_add(b, "address", dap_hexstr(addr));
    json_object_object_add(b, "data", json_object_new_string(enc));
    if (got < (size_t)count)
        json_object_object_add(b, "unreadableBytes", json_object_new_int64(count - (int64_t)got));
    free(enc);
    free(buf);
    dap_ok(s, req, b);
}

static json_object *instruction(struct dap_session *s, uint64_t addr, const uint8_t *code,
                                size_t len, size_t *used)
{
    char text[160], hex[64];
    json_object *o = json_object_new_object();
    size_t n = code ? dap_disasm_one(code, len, addr, text, sizeof text, hex, sizeof hex) : 0;
    json_object_object_add(o, "address", dap_hexstr(addr));
    if (n == 0) {
        snprintf(text, sizeof text, "(bad)");
        if (code && len)
            snprintf(hex, sizeof hex, "%02x", code[0]);
        else
            snprintf(hex, sizeof hex, "??");
        n = 1;
        json_object_object_add(o, "presentationHint", json_object_new_string("invalid"));
    }
    json_object_object_add(o, "instructionBytes", json_object_new_string(hex));
    json_object_object_add(o, "instruction", json_object_new_string(text));
    uint64_t off = 0;
    const char *sym = dap_di_symbol(s->di, addr, &off);
    if (sym) {
        char name[200];
        snprintf(name, sizeof name, "%s+%" PRIu64, sym, off);
        json_object_object_add(o, "symbol", json_object_new_string(off ? name : sym));
    }
    const struct dap_row *row = dap_di_row_at(s->di, addr, NULL);
    if (row) {
        json_object_object_add(o, "location", dap_source_of(s, row->file));
        json_object_object_add(o, "line", json_object_new_int((int)(row->line + s->line_base - 1)));
    }
    *used = n;
    return o;
}

static void r_disassemble(struct dap_session *s, json_object *req, json_object *args)
{
    uint64_t base;
    int64_t off = 0, ioff = 0, count = 0;
    if (!s->launched || s->exited) {
        dap_fail(s, req, "no program");
        return;
    }
    if (dap_parse_addr(dap_arg_str(args, "memoryReference"), &base) < 0 ||
        dap_arg_int(args, "instructionCount", &count) < 0 || count < 0) {
        dap_fail(s, req, "disassemble: needs a memoryReference and an instructionCount");
        return;
    }
    dap_arg_int(args, "offset", &off);
    dap_arg_int(args, "instructionOffset", &ioff);
    if (count > 10000)
        count = 10000;
    if (ioff < -10000 || ioff > 10000)
        ioff = 0;
    uint64_t anchor = base + (uint64_t)off;
    /* x86 cannot be decoded backwards: start at the function holding the
     * anchor (or far enough before it) and decode forwards */
    const struct dap_func *fn = dap_di_func_at(s->di, anchor);
    uint64_t back = ioff < 0 ? (uint64_t)(-ioff) * 15 : 0;
    uint64_t start = fn && anchor - fn->lo <= 65536 ? fn->lo : anchor;
    if (anchor - start < back)
        start = anchor >= back ? anchor - back : 0;
    size_t span = (size_t)(anchor - start) + (size_t)(count + (ioff > 0 ? ioff : 0)) * 15 + 16;
    uint8_t *code = malloc(span);
    uint64_t *addrs = malloc((span + 1) * sizeof(*addrs));
    if (!code || !addrs) {
        free(code);
        free(addrs);
        dap_fail(s, req, "out of memory");
        return;
    }
    size_t readable = 0;
    while (readable < span) {
        size_t chunk = 4096 - (size_t)((start + readable) % 4096);
        if (chunk > span - readable)
            chunk = span - readable;
        if (s->prog.ops->read_mem(s->prog.target, start + readable, code + readable, chunk) < 0)
            break;
        readable += chunk;
    }
    /* instruction boundaries from start */
    size_t n = 0, at = 0, idx = 0;
    int have_idx = 0;
    char text[160], hex[64];
    while (at < span) {
        if (!have_idx && start + at >= anchor) {
            idx = n;
            have_idx = 1;
        }
        addrs[n++] = start + at;
        size_t k = at < readable ? dap_disasm_one(code + at, readable - at, start + at, text,
                                                  sizeof text, hex, sizeof hex)
                                 : 0;
        at += k ? k : 1;
    }
    json_object *arr = json_object_new_array();
    for (int64_t i = 0; i < count; i++) {
        int64_t j = (int64_t)idx + ioff + i;
        uint64_t a;
        size_t used;
        if (j < 0)
            a = addrs[0] - (uint64_t)(-j); /* before what was decoded: one byte each */
        else if ((size_t)j < n)
            a = addrs[j];
        else
            a = start + span + (uint64_t)(j - (int64_t)n);
        size_t o = (size_t)(a - start);
        int inside = a >= start && o < readable;
        json_object_array_add(
            arr, instruction(s, a, inside ? code + o : NULL, inside ? readable - o : 0, &used));
    }
    free(code);
    free(addrs);
    json_object *b = json_object_new_object();
    json_object_object_add(b, "instructions", arr);
    dap_ok(s, req, b);
}

const struct dap_request dap_inspect_requests[] = {
    {"threads", r_threads},         {"stackTrace", r_stack_trace},
    {"scopes", r_scopes},           {"variables", r_variables},
    {"evaluate", r_evaluate},       {"readMemory", r_read_memory},
    {"disassemble", r_disassemble}, {NULL, NULL},
};
