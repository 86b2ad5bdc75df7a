/*
 * dap.h - a Debug Adapter Protocol server (the protocol of VS Code, nvim-dap,
 * Emacs dap-mode and other editors) for one x86-64 guest.
 *
 * Like the GDB stub (gdbstub.h), the session talks to the debugged machine
 * only through struct gdb_target_ops, and knows nothing about KVM, recordings
 * or replay: forward and reverse execution, breakpoints, watchpoints,
 * registers, memory and monitor commands all go through the ops. What the
 * protocol needs beyond that (source lines, functions, variables, types, the
 * call stack) comes from the guest ELF's DWARF.
 *
 * The program to debug is named by the client's launch request; the caller
 * supplies a struct dap_launcher that starts it (a live run of a guest ELF, or
 * a replay of a recording, with reverse execution) and tears it down.
 *
 * Messages: "Content-Length: N\r\n\r\n" then N bytes of JSON (json-c).
 * Error tiers: a malformed message, an unknown request or a request out of
 * order gets an error response (or, if it is not even a request, an output
 * event on the console) and the session goes on; only a lost connection or
 * an I/O error ends it. Nothing here prints or exits.
 */
#ifndef PVRR_DAP_H
#define PVRR_DAP_H

#include <stddef.h>
#include <stdint.h>

#include "gdbstub/gdbstub.h"

/* ---- framing ---- */

/* The largest message body accepted; larger ones are skipped with an error. */
#define DAP_MAX_BODY (4u << 20)
/* The longest header block accepted (all header lines together). */
#define DAP_MAX_HEADER 1024

enum dap_frame_event {
    DAP_FRAME_NONE,    /* need more bytes */
    DAP_FRAME_MESSAGE, /* a whole body is in f->body (NUL-terminated), f->len bytes */
    DAP_FRAME_ERROR,   /* a malformed header or an oversized body; f->err says which.
                          The framer has resynchronised (skipped the bad message) */
};

struct dap_framer {
    int state;
    char hdr[DAP_MAX_HEADER + 1];
    size_t hlen;
    size_t want; /* body bytes expected */
    size_t skip; /* body bytes of an oversized message still to discard */
    char *body;  /* malloc'd; grows to the largest message seen */
    size_t len;  /* bytes of body received */
    size_t cap;
    char err[160];
};

/* Start (f) empty. */
void dap_framer_init(struct dap_framer *f);
/* Free (f)'s buffer. */
void dap_framer_fini(struct dap_framer *f);
/* Feed one byte to (f). Returns enum dap_frame_event; after DAP_FRAME_MESSAGE
 * the body stays valid until the next call. Out of memory is a DAP_FRAME_ERROR. */
enum dap_frame_event dap_framer_feed(struct dap_framer *f, uint8_t byte);

/* Write one message (json, len bytes) with its header to (fd). Returns 0, or
 * -1 with errno set when the fd fails (EPIPE when the client is gone). */
int dap_write_message(int fd, const char *json, size_t len);

/* ---- the program ---- */

/* What a launcher gives the session for one launched program. */
struct dap_program {
    const struct gdb_target_ops *ops; /* the machine; reverse execution if ops->reverse_supported */
    void *target;                     /* passed to every op */
    const void *elf;                  /* the guest ELF image, for symbols and DWARF */
    size_t elf_len;
    int console_fd;          /* the guest's console output, non-blocking read end, or -1 */
    const char *description; /* one line for the console, e.g. "replaying x.pvlog" */
};

/* The caller's side: starting and ending programs. */
struct dap_launcher {
    /*
     * Start (program) with (args) (nargs strings), stopped at its entry point,
     * and fill (*p). A path ending in ".pvlog" is a recording to replay; any
     * other is a guest ELF to run. Returns 0, or -1 with a message in (err, n)
     * (sent to the client as the launch request's error).
     */
    int (*launch)(void *ctx, const char *program, const char *const *args, size_t nargs,
                  struct dap_program *p, char *err, size_t n);
    /* End the program started by launch (it may have exited already). */
    void (*end)(void *ctx, struct dap_program *p);
    void *ctx;
};

/* Why dap_serve() returned. */
enum dap_end {
    DAP_END_DISCONNECT = 0, /* the client sent disconnect (or terminate and then left) */
    DAP_END_HANGUP = 1,     /* the client closed the connection without disconnecting */
    DAP_END_ERROR = -1,     /* an I/O error, or out of memory */
};

/*
 * Serve one client: read requests from (in_fd), write responses and events to
 * (out_fd) (the same fd for a socket) until disconnect or end of input. At
 * most one program is launched, through (l). Returns an enum dap_end. The
 * caller should ignore SIGPIPE when out_fd is not a socket.
 */
int dap_serve(int in_fd, int out_fd, const struct dap_launcher *l);

#endif /* PVRR_DAP_H */
