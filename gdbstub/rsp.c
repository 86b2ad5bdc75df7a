/*
 * rsp.c - GDB remote serial protocol, packet layer. See rsp.h.
 */
#include "gdbstub/rsp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*
 * Run-length counts: the count character c stands for c - 29 more copies.
 * gdb never uses counts whose character would be '#' or '$' (6 and 7), and
 * the character must be printable, so valid counts are ' ' (3) .. '~' (97).
 */
#define RSP_RUN_BASE 29
#define RSP_RUN_MIN_CHAR ' '
#define RSP_RUN_MAX_CHAR '~'

void rsp_parser_init(struct rsp_parser *p)
{
    p->state = RSP_ST_IDLE;
    p->sum = 0;
    p->csum_hi = 0;
    p->oversize = 0;
    p->bad_encoding = 0;
    p->len = 0;
    p->raw_len = 0;
    p->buf[0] = 0;
}

int rsp_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int rsp_hex_decode(const char *hex, void *out, size_t n)
{
    uint8_t *o = out;
    for (size_t i = 0; i < n; i++) {
        int hi = rsp_hex_digit((unsigned char)hex[2 * i]);
        int lo = rsp_hex_digit((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        o[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* Append one decoded byte, or remember that the body overflowed. */
static void body_put(struct rsp_parser *p, uint8_t b)
{
    if (p->len >= RSP_PACKET_SIZE) {
        p->oversize = 1;
        return;
    }
    p->buf[p->len++] = b;
}

static void start_packet(struct rsp_parser *p)
{
    p->state = RSP_ST_BODY;
    p->sum = 0;
    p->oversize = 0;
    p->bad_encoding = 0;
    p->len = 0;
    p->raw_len = 0;
}

enum rsp_event rsp_parser_feed(struct rsp_parser *p, uint8_t b)
{
    switch (p->state) {
    case RSP_ST_IDLE:
        switch (b) {
        case '$':
            start_packet(p);
            return RSP_EV_NONE;
        case '+':
            return RSP_EV_ACK;
        case '-':
            return RSP_EV_NACK;
        case RSP_INTERRUPT:
            return RSP_EV_INTERRUPT;
        default:
            return RSP_EV_NONE; /* garbage between packets is skipped */
        }

    case RSP_ST_BODY:
        if (b == '#') {
            p->state = RSP_ST_CSUM1;
            return RSP_EV_NONE;
        }
        if (b == '$') {
            /* A '$' never appears unescaped in a body: the previous packet was
             * cut short (e.g. gdb retransmitting). Start over. */
            start_packet(p);
            return RSP_EV_NONE;
        }
        p->sum += b;
        p->raw_len++;
        if (b == '}')
            p->state = RSP_ST_ESCAPE;
        else if (b == '*')
            p->state = RSP_ST_RUN;
        else
            body_put(p, b);
        return RSP_EV_NONE;

    case RSP_ST_ESCAPE:
        if (b == '$') {
            start_packet(p);
            return RSP_EV_NONE;
        }
        if (b == '#') {
            /* An escaped '#' travels as "}\x03": this is a corrupt body. */
            p->bad_encoding = 1;
            p->state = RSP_ST_CSUM1;
            return RSP_EV_NONE;
        }
        p->sum += b;
        p->raw_len++;
        body_put(p, b ^ 0x20);
        p->state = RSP_ST_BODY;
        return RSP_EV_NONE;

    case RSP_ST_RUN:
        if (b == '#') {
            p->bad_encoding = 1;
            p->state = RSP_ST_CSUM1;
            return RSP_EV_NONE;
        }
        if (b == '$') {
            start_packet(p);
            return RSP_EV_NONE;
        }
        p->sum += b;
        p->raw_len++;
        p->state = RSP_ST_BODY;
        if (p->len == 0 || b < RSP_RUN_MIN_CHAR || b > RSP_RUN_MAX_CHAR) {
            p->bad_encoding = 1;
            return RSP_EV_NONE;
        }
        if (p->oversize)
            return RSP_EV_NONE;
        {
            uint8_t prev = p->buf[p->len - 1];
            for (int i = 0; i < b - RSP_RUN_BASE; i++)
                body_put(p, prev);
        }
        return RSP_EV_NONE;

    case RSP_ST_CSUM1: {
        int d = rsp_hex_digit(b);
        p->csum_hi = d < 0 ? 0xff : (uint8_t)d;
        p->state = RSP_ST_CSUM2;
        return RSP_EV_NONE;
    }

    case RSP_ST_CSUM2: {
        int d = rsp_hex_digit(b);
        p->state = RSP_ST_IDLE;
        if (p->oversize) {
            p->len = 0;
            p->buf[0] = 0;
            return RSP_EV_OVERSIZE;
        }
        if (p->csum_hi == 0xff || d < 0 || (uint8_t)(p->csum_hi << 4 | d) != p->sum) {
            p->len = 0;
            p->buf[0] = 0;
            return RSP_EV_BAD_CHECKSUM;
        }
        if (p->bad_encoding) {
            p->len = 0;
            p->buf[0] = 0;
            return RSP_EV_BAD_ENCODING;
        }
        p->buf[p->len] = 0;
        return RSP_EV_PACKET;
    }
    }
    /* Unreachable: every state is handled above. */
    p->state = RSP_ST_IDLE;
    return RSP_EV_NONE;
}

const char *rsp_event_name(enum rsp_event ev)
{
    switch (ev) {
    case RSP_EV_NONE:
        return "none";
    case RSP_EV_PACKET:
        return "packet";
    case RSP_EV_BAD_CHECKSUM:
        return "bad checksum";
    case RSP_EV_OVERSIZE:
        return "oversize packet";
    case RSP_EV_BAD_ENCODING:
        return "bad escape or run-length encoding";
    case RSP_EV_INTERRUPT:
        return "interrupt";
    case RSP_EV_ACK:
        return "ack";
    case RSP_EV_NACK:
        return "nack";
    }
    return "?";
}

/* ---- encoder ---- */

static const char hexchars[] = "0123456789abcdef";

static int needs_escape(uint8_t b)
{
    return b == '#' || b == '$' || b == '}' || b == '*';
}

void rsp_out_begin(struct rsp_out *o)
{
    o->buf[0] = '$';
    o->buf[1] = 0;
    o->len = 1;
    o->sum = 0;
    o->overflow = 0;
}

size_t rsp_out_room(const struct rsp_out *o)
{
    return RSP_PACKET_SIZE - (o->len - 1);
}

/* Append one raw body byte; the caller checked the room. */
static void put_raw(struct rsp_out *o, uint8_t b)
{
    o->buf[o->len++] = (char)b;
    o->sum += b;
}

/* Append one byte, escaped if needed. Returns 0, or -1 if it does not fit. */
static int put_escaped(struct rsp_out *o, uint8_t b)
{
    size_t need = needs_escape(b) ? 2 : 1;
    if (rsp_out_room(o) < need)
        return -1;
    if (need == 2) {
        put_raw(o, '}');
        put_raw(o, b ^ 0x20);
    } else {
        put_raw(o, b);
    }
    return 0;
}

int rsp_out_text(struct rsp_out *o, const char *s, size_t n)
{
    if (o->overflow)
        return -1;
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        need += needs_escape((uint8_t)s[i]) ? 2 : 1;
    if (need > rsp_out_room(o)) {
        o->overflow = 1;
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        (void)put_escaped(o, (uint8_t)s[i]);
    return 0;
}

int rsp_out_str(struct rsp_out *o, const char *s)
{
    return rsp_out_text(o, s, strlen(s));
}

int rsp_out_fmt(struct rsp_out *o, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        o->overflow = 1;
        return -1;
    }
    return rsp_out_text(o, tmp, (size_t)n);
}

int rsp_out_hex(struct rsp_out *o, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (o->overflow)
        return -1;
    if (n > rsp_out_room(o) / 2) {
        o->overflow = 1;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        put_raw(o, (uint8_t)hexchars[b[i] >> 4]);
        put_raw(o, (uint8_t)hexchars[b[i] & 0xf]);
    }
    return 0;
}

size_t rsp_out_bin(struct rsp_out *o, const void *p, size_t n)
{
    const uint8_t *b = p;
    size_t i;
    if (o->overflow)
        return 0;
    for (i = 0; i < n; i++)
        if (put_escaped(o, b[i]) < 0)
            break;
    return i;
}

size_t rsp_bin_fit(const void *p, size_t n, size_t room)
{
    const uint8_t *b = p;
    size_t i, used = 0;
    for (i = 0; i < n; i++) {
        size_t need = needs_escape(b[i]) ? 2 : 1;
        if (used + need > room)
            break;
        used += need;
    }
    return i;
}

int rsp_out_end(struct rsp_out *o)
{
    if (o->overflow)
        return -1;
    o->buf[o->len++] = '#';
    o->buf[o->len++] = hexchars[o->sum >> 4];
    o->buf[o->len++] = hexchars[o->sum & 0xf];
    o->buf[o->len] = 0;
    return (int)o->len;
}
