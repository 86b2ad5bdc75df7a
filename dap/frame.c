/*
 * frame.c - DAP message framing: "Content-Length: N\r\n" header lines, an
 * empty line, then N bytes of body. Parsed one byte at a time, so that tests
 * and the fuzzer feed byte strings and a message may arrive in any pieces.
 */
#include "dap/dap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

enum { ST_HEADER, ST_BODY, ST_SKIP };

void dap_framer_init(struct dap_framer *f)
{
    memset(f, 0, sizeof *f);
    f->state = ST_HEADER;
}

void dap_framer_fini(struct dap_framer *f)
{
    free(f->body);
    f->body = NULL;
    f->cap = 0;
}

static enum dap_frame_event frame_error(struct dap_framer *f, const char *msg)
{
    snprintf(f->err, sizeof f->err, "%s", msg);
    f->hlen = 0;
    return DAP_FRAME_ERROR;
}

/* Parse the header block in f->hdr (hlen bytes, ending in an empty line). */
static enum dap_frame_event parse_header(struct dap_framer *f)
{
    f->hdr[f->hlen] = 0;
    long long length = -1;
    char *line = f->hdr;
    while (*line) {
        char *eol = strstr(line, "\r\n");
        if (!eol)
            break;
        *eol = 0;
        if (*line) {
            char *colon = strchr(line, ':');
            if (!colon)
                return frame_error(f, "header line without ':'");
            *colon = 0;
            if (strcasecmp(line, "Content-Length") == 0) {
                char *v = colon + 1, *end;
                while (*v == ' ' || *v == '\t')
                    v++;
                if (*v < '0' || *v > '9')
                    return frame_error(f, "Content-Length is not a number");
                errno = 0;
                length = strtoll(v, &end, 10);
                while (*end == ' ' || *end == '\t')
                    end++;
                if (*end || errno || length < 0)
                    return frame_error(f, "Content-Length is not a number");
            }
        }
        line = eol + 2;
    }
    f->hlen = 0;
    if (length < 0)
        return frame_error(f, "message without a Content-Length header");
    if ((unsigned long long)length > DAP_MAX_BODY) {
        snprintf(f->err, sizeof f->err, "message of %lld bytes is larger than the %u-byte limit",
                 length, DAP_MAX_BODY);
        f->skip = (size_t)length;
        f->state = ST_SKIP;
        return DAP_FRAME_ERROR;
    }
    f->want = (size_t)length;
    f->len = 0;
    if (f->cap < f->want + 1) {
        char *b = realloc(f->body, f->want + 1);
        if (!b) {
            f->skip = f->want;
            f->state = f->want ? ST_SKIP : ST_HEADER;
            return frame_error(f, "out of memory for a message");
        }
        f->body = b;
        f->cap = f->want + 1;
    }
    if (f->want == 0) {
        f->body[0] = 0;
        return DAP_FRAME_MESSAGE;
    }
    f->state = ST_BODY;
    return DAP_FRAME_NONE;
}

enum dap_frame_event dap_framer_feed(struct dap_framer *f, uint8_t c)
{
    switch (f->state) {
    case ST_SKIP:
        if (--f->skip == 0)
            f->state = ST_HEADER;
        return DAP_FRAME_NONE;
    case ST_BODY:
        f->body[f->len++] = (char)c;
        if (f->len < f->want)
            return DAP_FRAME_NONE;
        f->body[f->len] = 0;
        f->state = ST_HEADER;
        return DAP_FRAME_MESSAGE;
    default:
        break;
    }
    if (c == 0)
        return frame_error(f, "NUL byte in a message header");
    if (f->hlen == 0 && (c == '\r' || c == '\n'))
        return DAP_FRAME_NONE; /* stray line ends between messages */
    if (f->hlen >= DAP_MAX_HEADER)
        return frame_error(f, "message header longer than 1024 bytes (no Content-Length framing?)");
    f->hdr[f->hlen++] = (char)c;
    if (f->hlen >= 4 && memcmp(f->hdr + f->hlen - 4, "\r\n\r\n", 4) == 0)
        return parse_header(f);
    return DAP_FRAME_NONE;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == ENOTSOCK)
            k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int dap_write_message(int fd, const char *json, size_t len)
{
    char hdr[64];
    int h = snprintf(hdr, sizeof hdr, "Content-Length: %zu\r\n\r\n", len);
    if (write_all(fd, hdr, (size_t)h) < 0)
        return -1;
    return write_all(fd, json, len);
}
