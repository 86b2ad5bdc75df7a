/*
 * rsp.h - GDB remote serial protocol, packet layer: framing only, no socket.
 *
 * The parser is fed one byte at a time and reports events; it never reads or
 * writes a file descriptor, so unit tests drive it with byte strings. The
 * encoder builds one outgoing packet ("$payload#xx") in a bounded buffer.
 *
 * Wire format (gdb manual, "Overview" of the remote protocol):
 *   $<body>#<two hex digits: sum of the body's bytes mod 256>
 *   In the body, '}' escapes the next byte (sent as byte ^ 0x20), and
 *   '*' followed by a count character c repeats the previous byte c - 29 times.
 *   Outside a packet, '+' acks, '-' nacks and 0x03 asks to interrupt the target.
 * Every buffer is bounded: a packet whose decoded body exceeds
 * RSP_PACKET_SIZE is consumed to its end and reported as RSP_EV_OVERSIZE.
 */
#ifndef PVRR_GDBSTUB_RSP_H
#define PVRR_GDBSTUB_RSP_H

#include <stddef.h>
#include <stdint.h>

/*
 * Largest decoded packet body we accept, and the largest reply body we send.
 * Advertised to gdb as "PacketSize=4000" (hex): big enough for a 'G' packet
 * (552 register bytes = 1104 hex digits) and for 8 KiB memory writes.
 */
#define RSP_PACKET_SIZE 0x4000

/* The byte gdb sends, outside any packet, to interrupt a running target. */
#define RSP_INTERRUPT 0x03

/* What one byte fed to the parser completed. */
enum rsp_event {
    RSP_EV_NONE = 0,     /* the byte was consumed; nothing to report yet */
    RSP_EV_PACKET,       /* a packet with a valid checksum: rsp_parser.buf/len */
    RSP_EV_BAD_CHECKSUM, /* a packet ended with a wrong or non-hex checksum */
    RSP_EV_OVERSIZE,     /* a packet's body exceeded RSP_PACKET_SIZE; discarded */
    RSP_EV_BAD_ENCODING, /* '*' with nothing to repeat, a bad count, or '}' before '#' */
    RSP_EV_INTERRUPT,    /* 0x03 outside a packet */
    RSP_EV_ACK,          /* '+' outside a packet */
    RSP_EV_NACK,         /* '-' outside a packet */
};

enum rsp_state {
    RSP_ST_IDLE = 0, /* between packets: skip garbage until '$' */
    RSP_ST_BODY,     /* inside the body */
    RSP_ST_ESCAPE,   /* after '}': the next byte is xor 0x20 */
    RSP_ST_RUN,      /* after '*': the next byte is a repeat count */
    RSP_ST_CSUM1,    /* after '#': first checksum digit */
    RSP_ST_CSUM2,    /* second checksum digit */
};

struct rsp_parser {
    enum rsp_state state;
    uint8_t sum;          /* running checksum of the raw body bytes */
    uint8_t csum_hi;      /* first checksum digit's value, or 0xff if it was not hex */
    uint8_t oversize;     /* the body overflowed buf: report RSP_EV_OVERSIZE at its end */
    uint8_t bad_encoding; /* an invalid escape or run-length sequence was seen */
    size_t len;           /* decoded body bytes in buf */
    size_t raw_len;       /* raw body bytes seen, for error reports */
    /* Decoded body; buf[len] is always 0 so text handlers may use it as a string. */
    uint8_t buf[RSP_PACKET_SIZE + 1];
};

/* Reset the parser to idle (before first use, or to drop a partial packet). */
void rsp_parser_init(struct rsp_parser *p);

/*
 * Feed one byte (b). Returns what it completed. After RSP_EV_PACKET the body
 * is in p->buf[0 .. p->len) (NUL-terminated; binary bodies may hold NULs) and
 * stays valid until the next call. The other error events leave p idle; for
 * RSP_EV_OVERSIZE and RSP_EV_BAD_ENCODING, p->raw_len says how long it was.
 */
enum rsp_event rsp_parser_feed(struct rsp_parser *p, uint8_t b);

/* A short name for an event ("packet", "bad checksum", ...), for messages. */
const char *rsp_event_name(enum rsp_event ev);

/*
 * An outgoing packet under construction. The body is bounded to
 * RSP_PACKET_SIZE bytes as sent (after escaping); appends that do not fit set
 * `overflow` and append nothing, so a builder never writes out of bounds.
 */
struct rsp_out {
    size_t len;                            /* bytes in buf, including the leading '$' */
    uint8_t sum;                           /* checksum of the body so far */
    uint8_t overflow;                      /* an append did not fit */
    char buf[1 + RSP_PACKET_SIZE + 3 + 1]; /* '$' body '#' xx NUL */
};

/* Start a packet: buf = "$". */
void rsp_out_begin(struct rsp_out *o);

/* Body bytes still available. */
size_t rsp_out_room(const struct rsp_out *o);

/*
 * Append text (s, n bytes). Text should not contain '#', '$', '}' or '*';
 * if it does they are escaped, which keeps the framing intact.
 * Returns 0, or -1 (and sets overflow) if it does not fit.
 */
int rsp_out_text(struct rsp_out *o, const char *s, size_t n);
int rsp_out_str(struct rsp_out *o, const char *s);

/* printf-style text append, same contract as rsp_out_text. */
int rsp_out_fmt(struct rsp_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append bytes (p, n) as 2n lowercase hex digits. Returns 0, or -1 if it does not fit. */
int rsp_out_hex(struct rsp_out *o, const void *p, size_t n);

/*
 * Append binary bytes (p, n) escaped ('#' '$' '}' '*' become '}', byte ^ 0x20),
 * as many as fit. Returns how many source bytes were appended (may be < n;
 * this is how qXfer and binary reads fill a packet exactly).
 */
size_t rsp_out_bin(struct rsp_out *o, const void *p, size_t n);

/* How many of the bytes (p, n) fit in `room` body bytes once escaped. */
size_t rsp_bin_fit(const void *p, size_t n, size_t room);

/*
 * Finish the packet: append "#xx" and a NUL. Returns the packet's length on
 * the wire (o->buf, without the NUL), or -1 if an append overflowed.
 */
int rsp_out_end(struct rsp_out *o);

/* Hex helpers shared with the session layer. */
int rsp_hex_digit(int c); /* 0..15, or -1 if c is not a hex digit */

/*
 * Decode 2n hex digits (hex, exactly 2n characters) into out (n bytes).
 * Returns 0, or -1 on a non-hex digit.
 */
int rsp_hex_decode(const char *hex, void *out, size_t n);

#endif
