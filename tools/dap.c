/*
 * dap.c - `pvrr dap`: serve the Debug Adapter Protocol (dap/dap.h) on stdio,
 * or on a loopback TCP port, launching guests (live runs) and recordings
 * (replays with reverse execution) as the client asks.
 */
#include "tools/cli.h"

#include "dap/dap.h"
#include "debugger/debugger.h"
#include "formats/file.h"
#include "replayer/replayer.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void usage_dap(void)
{
    printf("Usage: pvrr dap [--port N] [--backend B]\n"
           "\n"
           "Serve the Debug Adapter Protocol for editors (VS Code, nvim-dap, Emacs dap-mode):\n"
           "on stdin/stdout, or with --port on 127.0.0.1:N (0 picks a free port, printed on\n"
           "stderr), one session after another. The client's launch request names the\n"
           "program: FILE.pvlog replays a recording (step back and reverse continue work),\n"
           "GUEST.elf runs a guest live with its \"args\".\n"
           "\n"
           "Options:\n"
           "  -p, --port N   listen on 127.0.0.1:N instead of using stdio\n"
           "      --backend B  the execution engine of every launch: auto (default; said\n"
           "                 on stderr), kvm or emu, as in `pvrr run`\n"
           "  -h, --help     show this help\n");
}

/* The execution engine of every launch (--backend, resolved once). */
static const char *dap_engine;

/* What one launched program holds. */
struct launched {
    int replay;
    struct replayer r;
    struct monitor m;
    struct debugger *d;
    void *elf;
    int out_fd; /* the guest console: a memory file... */
    int in_fd;  /* ...read back from its start through a second open */
    char desc[4400];
    char cmdline[PVRR_CMDLINE_MAX];
};

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A console the monitor writes without ever blocking, read back by the session. */
static int open_console(struct launched *L, char *err, size_t n)
{
    char path[64];
    L->out_fd = memfd_create("pvrr-dap-console", MFD_CLOEXEC);
    if (L->out_fd < 0) {
        snprintf(err, n, "memfd_create: %s", strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", L->out_fd);
    L->in_fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (L->in_fd < 0) {
        snprintf(err, n, "%s: %s", path, strerror(errno));
        close(L->out_fd);
        return -1;
    }
    return 0;
}

static void close_console(struct launched *L)
{
    close(L->in_fd);
    close(L->out_fd);
}

static void log_stderr(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "pvrr gdb: %s\n", msg);
}

static int launch_replay(struct launched *L, const char *path, struct dap_program *p, char *err,
                         size_t n)
{
    if (replayer_open_on(&L->r, path, dap_engine, L->out_fd, err, n) != 0) {
        replayer_close(&L->r);
        return -1;
    }
    monitor_kick_every(&L->r.m, 50);
    L->d = debugger_create(&L->r.m, &L->r, err, n);
    if (!L->d) {
        monitor_kick_every(&L->r.m, 0);
        replayer_close(&L->r);
        return -1;
    }
    cli_linux_debugger(L->d, &L->r.m, L->r.meta->cmdline, L->r.meta->elf, L->r.meta->elf_len);
    debugger_set_log(L->d, log_stderr, NULL);
    L->replay = 1;
    p->ops = debugger_ops(L->d);
    p->target = L->d;
    p->elf = L->r.meta->elf;
    p->elf_len = L->r.meta->elf_len;
    snprintf(L->desc, sizeof L->desc,
             "replaying %s on the %s engine (step back and reverse continue available)", path,
             L->r.m.vm.ops->name);
    return 0;
}

static int launch_live(struct launched *L, const char *path, const char *const *args, size_t nargs,
                       struct dap_program *p, char *err, size_t n)
{
    size_t len;
    char *cmdline = L->cmdline;
    if (pvrr_read_file(path, 256u << 20, &L->elf, &len, err, n) < 0)
        return -1;
    const char *base = strrchr(path, '/');
    size_t k = (size_t)snprintf(cmdline, sizeof L->cmdline, "%s", base ? base + 1 : path);
    for (size_t i = 0; i < nargs; i++) {
        int w = snprintf(cmdline + k, sizeof L->cmdline - k, " %s", args[i]);
        if (w < 0 || (size_t)w >= sizeof L->cmdline - k) {
            snprintf(err, n, "guest arguments longer than %u bytes", PVRR_CMDLINE_MAX - 1);
            free(L->elf);
            return -1;
        }
        k += (size_t)w;
    }
    struct monitor_config cfg = {
        .stdin_path = "/dev/null", .cmdline = cmdline, .elf_name = path, .engine = dap_engine};
    if (monitor_init(&L->m, &cfg, L->elf, len, err, n) < 0) {
        free(L->elf);
        return -1;
    }
    L->m.out_fd = L->out_fd;
    monitor_kick_every(&L->m, 50);
    L->d = debugger_create(&L->m, NULL, err, n);
    if (!L->d) {
        monitor_fini(&L->m);
        free(L->elf);
        return -1;
    }
    debugger_set_log(L->d, log_stderr, NULL);
    p->ops = debugger_ops(L->d);
    p->target = L->d;
    p->elf = L->elf;
    p->elf_len = len;
    snprintf(L->desc, sizeof L->desc,
             "running %s live on the %s engine (no reverse execution: record it first)", path,
             L->m.vm.ops->name);
    return 0;
}

static int launch(void *ctx, const char *program, const char *const *args, size_t nargs,
                  struct dap_program *p, char *err, size_t n)
{
    struct launched *L = calloc(1, sizeof(*L));
    if (!L) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    if (open_console(L, err, n) < 0) {
        free(L);
        return -1;
    }
    int rc = ends_with(program, ".pvlog") ? launch_replay(L, program, p, err, n)
                                          : launch_live(L, program, args, nargs, p, err, n);
    if (rc < 0) {
        close_console(L);
        free(L);
        return -1;
    }
    p->console_fd = L->in_fd;
    p->description = L->desc;
    *(struct launched **)ctx = L;
    return 0;
}

static void end(void *ctx, struct dap_program *p)
{
    struct launched *L = *(struct launched **)ctx;
    if (!L)
        return;
    debugger_destroy(L->d);
    L->d = NULL;
    if (L->replay) {
        replayer_close(&L->r);
    } else {
        monitor_fini(&L->m);
        free(L->elf);
    }
    close_console(L);
    free(L);
    *(struct launched **)ctx = NULL;
}

int cmd_dap(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {"backend", required_argument, NULL, 'B'},
        {NULL, 0, NULL, 0},
    };
    const char *port = NULL, *backend = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            port = optarg;
            break;
        case 'B':
            backend = optarg;
            break;
        case 'h':
            usage_dap();
            return 0;
        default:
            fprintf(stderr, "Try `pvrr dap --help`.\n");
            return PVRR_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "pvrr dap: unexpected argument '%s'\nTry `pvrr dap --help`.\n",
                argv[optind]);
        return PVRR_EXIT_USAGE;
    }
    int rc = cli_choose_backend(backend, 0, "dap", &dap_engine);
    if (rc)
        return rc;
    signal(SIGPIPE, SIG_IGN);
    struct launched *current = NULL;
    struct dap_launcher l = {.launch = launch, .end = end, .ctx = &current};
    if (!port) {
        int end_reason = dap_serve(STDIN_FILENO, STDOUT_FILENO, &l);
        return end_reason == DAP_END_ERROR ? PVRR_EXIT_ERROR : 0;
    }
    char *e;
    unsigned long num = strtoul(port, &e, 10);
    if (!*port || *e || num > 65535) {
        fprintf(stderr, "pvrr dap: --port %s: not a port number\n", port);
        return PVRR_EXIT_USAGE;
    }
    char err[256], where[32];
    snprintf(where, sizeof where, "127.0.0.1:%lu", num);
    int lfd = gdbstub_listen_tcp(where, 0, err, sizeof err);
    if (lfd < 0) {
        fprintf(stderr, "pvrr dap: --port %s: %s\n", port, err);
        return PVRR_EXIT_ERROR;
    }
    fprintf(stderr, "pvrr dap: listening on 127.0.0.1:%d\n", gdbstub_local_port(lfd));
    fflush(stderr);
    for (;;) {
        int fd = gdbstub_accept(lfd);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "pvrr dap: accept: %s\n", strerror(errno));
            close(lfd);
            return PVRR_EXIT_ERROR;
        }
        int r = dap_serve(fd, fd, &l);
        close(fd);
        fprintf(stderr, "pvrr dap: session ended (%s); waiting for the next client\n",
                r == DAP_END_DISCONNECT ? "disconnect"
                : r == DAP_END_HANGUP   ? "the client went away"
                                        : "I/O error");
        fflush(stderr);
    }
}
