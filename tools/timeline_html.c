/*
 * timeline_html.c - the page of `pvrr timeline` (timeline.h): the model as
 * JSON inside the HTML template (timeline.html.in, embedded at build time by
 * embed.cmake as timeline_template[]).
 */
#include "tools/timeline.h"

#include "monitor/hypercall.h"
#include "replayer/replayer.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

extern const unsigned char timeline_template[];
extern const unsigned long timeline_template_len;

/* Where the JSON model goes in the template. */
#define TL_DATA_MARK "@PVRR_TIMELINE_DATA@"

size_t timeline_utf8_clean(const uint8_t *p, size_t n, char *out, size_t cap)
{
    static const char repl[] = "\xef\xbf\xbd"; /* U+FFFD */
    size_t o = 0;
    if (cap == 0)
        return 0;
    for (size_t i = 0; i < n;) {
        uint8_t c = p[i];
        size_t len = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            len = 1;
            cp = c;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        }
        int ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                ok = 0;
            else
                cp = cp << 6 | (p[i + k] & 0x3f);
        }
        /* no overlong forms, surrogates or values past U+10FFFF */
        static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (ok && (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)))
            ok = 0;
        if (ok && len == 1 && ((cp < 0x20 && cp != '\n' && cp != '\t') || cp == 0x7f))
            ok = 0;
        const char *src = ok ? (const char *)p + i : repl;
        size_t sl = ok ? len : 3;
        if (o + sl + 1 > cap)
            break;
        memcpy(out + o, src, sl);
        o += sl;
        i += ok ? len : 1;
    }
    out[o] = '\0';
    return o;
}

/* Base64 of (n) counters (v), each stored little-endian in (bytes) bytes. */
static char *b64_counters(const uint32_t *v, uint64_t n, unsigned bytes)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint64_t raw = n * bytes;
    char *out = malloc((raw + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    uint32_t acc = 0;
    int have = 0;
    for (uint64_t i = 0; i < raw; i++) {
        uint8_t b = (uint8_t)(v[i / bytes] >> (8 * (i % bytes)));
        acc = acc << 8 | b;
        if (++have == 3) {
            for (int k = 3; k >= 0; k--)
                out[o++] = tab[(acc >> (6 * k)) & 63];
            acc = 0;
            have = 0;
        }
    }
    if (have) {
        acc <<= 8 * (3 - have);
        for (int k = 3; k >= 3 - have; k--)
            out[o++] = tab[(acc >> (6 * k)) & 63];
        for (int k = have; k < 3; k++)
            out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

/* What a lane shows, beyond its hypercall name. */
static const char *lane_group(unsigned nr)
{
    switch (nr) {
    case PVRR_HC_CONSOLE_WRITE:
        return "output";
    case PVRR_HC_CONSOLE_READ:
        return "input";
    case PVRR_HC_BLK_INFO:
    case PVRR_HC_BLK_READ:
    case PVRR_HC_BLK_WRITE:
        return "disk";
    case PVRR_HC_POLL:
        return "idle wait";
    case PVRR_HC_EXIT:
    case PVRR_HC_PANIC:
        return "end";
    case PVRR_HC_CLOCK:
        return "time";
    case PVRR_HC_RANDOM:
        return "entropy";
    default:
        return "";
    }
}

static int add_str(json_object *o, const char *k, const char *v)
{
    json_object *s = json_object_new_string(v ? v : "");
    if (!s)
        return -1;
    return json_object_object_add(o, k, s);
}

static int add_u64(json_object *o, const char *k, uint64_t v)
{
    json_object *n = json_object_new_uint64(v);
    if (!n)
        return -1;
    return json_object_object_add(o, k, n);
}

static json_object *lane_json(const struct timeline *t, unsigned i)
{
    const struct tl_lane *l = &t->lanes[i];
    json_object *o = json_object_new_object();
    int bad = !o;
    bad =
        bad || add_u64(o, "nr", i) || add_str(o, "name", i < PVRR_HC_MAX ? hc_name(i) : "unknown");
    bad = bad || add_str(o, "group", i < PVRR_HC_MAX ? lane_group(i) : "");
    bad = bad || add_u64(o, "count", l->count);
    if (bad)
        goto fail;
    if (l->detail) {
        json_object *idx = json_object_new_array_ext((int)l->n);
        json_object *lines = json_object_new_array_ext((int)l->n);
        if (!idx || !lines || add_str(o, "mode", "events") ||
            json_object_object_add(o, "idx", idx) || json_object_object_add(o, "lines", lines)) {
            json_object_put(idx);
            json_object_put(lines);
            goto fail;
        }
        for (size_t k = 0; k < l->n; k++)
            if (json_object_array_add(idx, json_object_new_uint64(l->idx[k])) ||
                json_object_array_add(lines, json_object_new_string(l->line[k])))
                goto fail;
    } else {
        unsigned bytes = t->bucket_w <= 0xff ? 1 : t->bucket_w <= 0xffff ? 2 : 4;
        char *cnt = b64_counters(l->bk_count, t->nbuckets, bytes);
        char *first = b64_counters(l->bk_first, t->nbuckets, bytes);
        int e = !cnt || !first || add_str(o, "mode", "buckets") || add_u64(o, "bytes", bytes) ||
                add_str(o, "counts", cnt) || add_str(o, "first", first);
        free(cnt);
        free(first);
        if (e)
            goto fail;
    }
    return o;
fail:
    json_object_put(o);
    return NULL;
}

static json_object *model_json(const struct timeline *t)
{
    const struct pvlog_meta *m = t->meta;
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    const char *file = strrchr(t->log_path, '/');
    file = file ? file + 1 : t->log_path;
    int bad = add_str(o, "file", file) || add_str(o, "guest", m->elf_name) ||
              add_str(o, "cmdline", m->cmdline) || add_str(o, "pvrr_version", m->pvrr_version) ||
              add_str(o, "engine", pvlog_engine_name(m->engine)) ||
              add_u64(o, "start_wall_ns", m->start_wall_ns) || add_u64(o, "events", t->nevents) ||
              add_u64(o, "total", t->nevents + (uint64_t)t->have_end) ||
              add_u64(o, "bucket_w", t->bucket_w) || add_u64(o, "nbuckets", t->nbuckets) ||
              add_str(o, "replay_note", t->replay_note);
    if (bad)
        goto fail;
    json_object *lanes = json_object_new_array();
    if (!lanes || json_object_object_add(o, "lanes", lanes)) {
        json_object_put(lanes);
        goto fail;
    }
    for (unsigned i = 0; i < TL_LANES; i++) {
        if (t->lanes[i].count == 0)
            continue;
        json_object *l = lane_json(t, i);
        if (!l || json_object_array_add(lanes, l)) {
            json_object_put(l);
            goto fail;
        }
    }
    json_object *texts = json_object_new_array_ext((int)t->ntexts);
    if (!texts || json_object_object_add(o, "texts", texts)) {
        json_object_put(texts);
        goto fail;
    }
    for (size_t k = 0; k < t->ntexts; k++) {
        json_object *x = json_object_new_object();
        if (!x || json_object_array_add(texts, x) || add_u64(x, "i", t->texts[k].index) ||
            add_u64(x, "in", (uint64_t)t->texts[k].input) || add_str(x, "t", t->texts[k].text))
            goto fail;
    }
    if (json_object_object_add(o, "text_cut", json_object_new_boolean(t->text_cut)))
        goto fail;
    json_object *end = NULL;
    if (t->have_end) {
        end = json_object_new_object();
        if (!end || json_object_object_add(o, "end", end) || add_u64(end, "i", t->end_index) ||
            add_str(end, "reason", replayer_end_reason_name(t->end_reason)) ||
            json_object_object_add(end, "status", json_object_new_int(t->end_status)) ||
            add_str(end, "line", t->end_line) || add_str(end, "msg", t->end_msg))
            goto fail;
        if (t->end_wall_ns >= m->start_wall_ns &&
            json_object_object_add(
                o, "duration_s",
                json_object_new_double((double)(t->end_wall_ns - m->start_wall_ns) / 1e9)))
            goto fail;
    } else if (json_object_object_add(o, "end", NULL)) {
        goto fail;
    }
    if (t->log_status != PVLOG_END) {
        json_object *le = json_object_new_object();
        const char *what = t->log_status == PVLOG_ETRUNCATED ? "truncated"
                           : t->log_status == PVLOG_EVERSION ? "unsupported version"
                           : t->log_status == PVLOG_EIO      ? "read error"
                                                             : "corrupt";
        if (!le || json_object_object_add(o, "log_error", le) || add_u64(le, "i", t->nevents) ||
            add_str(le, "what", what) || add_str(le, "msg", t->log_msg))
            goto fail;
    }
    if (t->diverged) {
        json_object *d = json_object_new_object();
        if (!d || json_object_object_add(o, "divergence", d) || add_u64(d, "i", t->div_index) ||
            add_str(d, "msg", t->div_msg) || add_str(d, "source", t->div_source))
            goto fail;
    }
    return o;
fail:
    json_object_put(o);
    return NULL;
}

int timeline_write_html(const struct timeline *t, FILE *f)
{
    const char *tpl = (const char *)timeline_template;
    const char *mark = strstr(tpl, TL_DATA_MARK);
    if (!mark) {
        errno = EINVAL; /* a broken build: the template lost its mark */
        return -1;
    }
    json_object *o = model_json(t);
    if (!o) {
        errno = ENOMEM;
        return -1;
    }
    /* '/' is escaped by json-c; '<' too, so that nothing in a string can end
     * the <script> element or open a comment in it */
    const char *js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    int rc = 0;
    if (!js) {
        errno = ENOMEM;
        rc = -1;
    }
    if (!rc && fwrite(tpl, 1, (size_t)(mark - tpl), f) != (size_t)(mark - tpl))
        rc = -1;
    for (const char *p = js; !rc && *p;) {
        const char *lt = strchr(p, '<');
        size_t n = lt ? (size_t)(lt - p) : strlen(p);
        if (fwrite(p, 1, n, f) != n || (lt && fputs("\\u003c", f) == EOF))
            rc = -1;
        p += n + (lt ? 1 : 0);
    }
    const char *rest = mark + strlen(TL_DATA_MARK);
    size_t rn = timeline_template_len - (size_t)(rest - tpl);
    if (!rc && fwrite(rest, 1, rn, f) != rn)
        rc = -1;
    json_object_put(o);
    return rc;
}
