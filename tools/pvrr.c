/*
 * pvrr.c - the `pvrr` command: subcommand dispatch, shared option parsing and
 * `pvrr run`.
 */
#include "tools/cli.h"

#include "formats/elf.h"
#include "formats/file.h"
#include "formats/symbolize.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage_main(void)
{
    printf("Usage: pvrr COMMAND [OPTIONS] ...\n"
           "\n"
           "pvrr records and replays paravirtualized guests on Linux KVM or its own software\n"
           "CPU (the backend: --backend, PVRR_BACKEND), and lets gdb, lldb and editors debug\n"
           "them forwards and backwards.\n"
           "\n"
           "Commands:\n"
           "  run      GUEST.elf [-- ARGS]   run a guest\n"
           "  record   GUEST.elf [-- ARGS]   run a guest and record it to a pvlog file\n"
           "  replay   FILE.pvlog            re-execute a recording exactly\n"
           "  dump     FILE.pvlog            list the events of a recording\n"
           "  info     FILE.pvlog            summarize a recording\n"
           "  timeline FILE.pvlog -o F.html  draw a recording as an HTML page\n"
           "  dap      [--port N]            serve the Debug Adapter Protocol (editors)\n"
           "\n"
           "Run `pvrr COMMAND --help` for the options of a command.\n"
           "Exit status: the guest's own status (0-255) for run/record/replay; %d usage error;\n"
           "%d timeout; %d pvrr could not start or serve the guest; %d guest panic or fault.\n",
           PVRR_EXIT_USAGE, PVRR_EXIT_TIMEOUT, PVRR_EXIT_ERROR, PVRR_EXIT_PANIC);
}

static void usage_run(void)
{
    printf("Usage: pvrr run [OPTIONS] GUEST.elf [--] [GUEST ARGS...]\n"
           "\n"
           "Boot GUEST.elf (a 64-bit pvrr guest built with the pvrr SDK, or a static Linux\n"
           "program) and serve its hypercalls. Console output goes to stdout; the guest's exit\n"
           "status becomes pvrr's exit status.\n"
           "\n"
           "Options:\n"
           "  -m, --mem SIZE        guest RAM, e.g. 64M, 1G (default 64M, 2M..4G)\n"
           "  -d, --disk FILE       attach FILE as the block device (read-write if permitted)\n"
           "  -i, --stdin FILE      console input from FILE (default: pvrr's stdin)\n"
           "  -t, --timeout SECS    stop the guest after SECS seconds (exit status %d)\n"
           "      --backend B       the execution engine: auto (default: kvm where /dev/kvm\n"
           "                        works, else emu, said on stderr), kvm, emu (software CPU);\n"
           "                        PVRR_BACKEND in the environment sets the default\n"
           "      --root DIR        a Linux program's / is DIR (read-only)\n"
           "      --file HOST[:GUEST]  expose one host file to a Linux program (at GUEST,\n"
           "                        default: HOST made absolute), read-only\n"
           "      --write-dir DIR[:GUEST]  a writable directory for a Linux program (at GUEST,\n"
           "                        default: DIR made absolute); changes stay on the host\n"
           "      --env NAME=VALUE  an environment variable of a Linux program (repeatable)\n"
           "  -g, --gdb ADDR        wait for gdb at ADDR ([HOST:]PORT or unix:PATH) before\n"
           "                        starting; listens on 127.0.0.1 unless HOST is given\n"
           "      --gdb-allow-remote  permit a non-loopback HOST for --gdb (no authentication!)\n"
           "  -h, --help            show this help\n"
           "\n"
           "Exit status: the guest's status (0-255); %d guest panic or fault; %d timeout;\n"
           "%d pvrr error (bad ELF, --backend kvm without KVM, ...); %d usage error.\n",
           PVRR_EXIT_TIMEOUT, PVRR_EXIT_PANIC, PVRR_EXIT_TIMEOUT, PVRR_EXIT_ERROR, PVRR_EXIT_USAGE);
}

int cli_parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    default:
        return -1;
    }
    if (*end == 'i' || *end == 'B')
        end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
    if (*end != '\0' || v > (UINT64_MAX >> shift))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int cli_parse_run_opts(int argc, char **argv, struct run_opts *o, const char *cmd,
                       void (*usage)(void))
{
    static const struct option longopts[] = {
        {"mem", required_argument, NULL, 'm'},
        {"disk", required_argument, NULL, 'd'},
        {"stdin", required_argument, NULL, 'i'},
        {"timeout", required_argument, NULL, 't'},
        {"gdb", required_argument, NULL, 'g'},
        {"gdb-allow-remote", no_argument, NULL, 'R'},
        {"output", required_argument, NULL, 'o'},
        {"until-fail", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {"root", required_argument, NULL, 1001},
        {"file", required_argument, NULL, 1002},
        {"write-dir", required_argument, NULL, 1003},
        {"env", required_argument, NULL, 1004},
        {"backend", required_argument, NULL, 1005},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+m:d:i:t:g:o:u:h", longopts, NULL)) != -1) {
        switch (c) {
        case 1001:
            o->root = optarg;
            break;
        case 1002:
            if (o->nfile_spec == CLI_MAX_FILES) {
                fprintf(stderr, "pvrr %s: more than %d --file options\n", cmd, CLI_MAX_FILES);
                return PVRR_EXIT_USAGE;
            }
            o->file_spec[o->nfile_spec++] = optarg;
            break;
        case 1003:
            o->write_spec = optarg;
            break;
        case 1005:
            o->backend = optarg;
            break;
        case 1004:
            if (o->nenv == CLI_MAX_ENV || !strchr(optarg, '=')) {
                fprintf(stderr, "pvrr %s: --env %s: need NAME=VALUE (at most %d)\n", cmd, optarg,
                        CLI_MAX_ENV);
                return PVRR_EXIT_USAGE;
            }
            o->env[o->nenv++] = optarg;
            break;
        case 'm':
            o->mem_given = 1;
            if (cli_parse_size(optarg, &o->cfg.mem_size) < 0) {
                fprintf(stderr, "pvrr %s: --mem %s: not a size (e.g. 64M, 1G)\n", cmd, optarg);
                return PVRR_EXIT_USAGE;
            }
            break;
        case 'd':
            o->cfg.disk_path = optarg;
            break;
        case 'i':
            o->cfg.stdin_path = optarg;
            break;
        case 't': {
            char *end;
            o->cfg.timeout_s = strtod(optarg, &end);
            if (*end || o->cfg.timeout_s <= 0) {
                fprintf(stderr, "pvrr %s: --timeout %s: need a positive number of seconds\n", cmd,
                        optarg);
                return PVRR_EXIT_USAGE;
            }
            break;
        }
        case 'g':
            o->gdb_addr = optarg;
            break;
        case 'R':
            o->gdb_nonlocal = 1;
            break;
        case 'o':
        case 'u':
            if (strcmp(cmd, "record") != 0) {
                fprintf(stderr, "pvrr %s: option -%c is only for `pvrr record`\n", cmd, c);
                return PVRR_EXIT_USAGE;
            }
            if (c == 'o') {
                o->output = optarg;
            } else {
                char *end;
                unsigned long n = strtoul(optarg, &end, 10);
                if (*end || n == 0 || n > 1000000) {
                    fprintf(stderr, "pvrr record: --until-fail %s: need a count of runs\n", optarg);
                    return PVRR_EXIT_USAGE;
                }
                o->until_fail = (unsigned)n;
            }
            break;
        case 'h':
            usage();
            exit(0);
        default:
            fprintf(stderr, "Try `pvrr %s --help`.\n", cmd);
            return PVRR_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "pvrr %s: missing GUEST.elf\nTry `pvrr %s --help`.\n", cmd, cmd);
        return PVRR_EXIT_USAGE;
    }
    o->elf_path = argv[optind++];
    if (optind < argc && strcmp(argv[optind], "--") == 0)
        optind++;
    o->args = argv + optind;
    o->nargs = argc - optind;
    const char *base = strrchr(o->elf_path, '/');
    base = base ? base + 1 : o->elf_path;
    size_t n = 0;
    int w = snprintf(o->cmdline, sizeof o->cmdline, "%s", base);
    n = (size_t)w;
    for (int i = optind; i < argc; i++) {
        w = snprintf(o->cmdline + n, sizeof o->cmdline - n, " %s", argv[i]);
        if (w < 0 || (size_t)w >= sizeof o->cmdline - n) {
            fprintf(stderr, "pvrr %s: guest arguments longer than %u bytes\n", cmd,
                    PVRR_CMDLINE_MAX - 1);
            return PVRR_EXIT_USAGE;
        }
        n += (size_t)w;
    }
    o->cfg.cmdline = o->cmdline;
    o->cfg.elf_name = o->elf_path;
    return cli_choose_backend(o->backend, 0, cmd, &o->cfg.engine);
}

int cli_choose_backend(const char *want, int quiet, const char *cmd, const char **engine)
{
    const struct engine_ops *e;
    int was_auto;
    char why[320];
    switch (engine_select(want, &e, &was_auto, why, sizeof why)) {
    case ENGINE_SELECTED:
        break;
    case ENGINE_SELECT_UNKNOWN:
        fprintf(stderr, "pvrr %s: %s%s\n", cmd, why,
                want && *want ? "" : " (from PVRR_BACKEND in the environment)");
        return PVRR_EXIT_USAGE;
    default:
        fprintf(stderr, "pvrr %s: %s\n", cmd, why);
        return PVRR_EXIT_ERROR;
    }
    if (was_auto && !quiet)
        fprintf(stderr, "pvrr: %s backend (auto: %s)\n", e->name, why);
    *engine = e->name;
    return 0;
}

int cli_read_elf(const char *path, void **buf, size_t *len)
{
    char err[512];
    if (pvrr_read_file(path, 256u << 20, buf, len, err, sizeof err) < 0) {
        fprintf(stderr, "pvrr: %s\n", err);
        return -1;
    }
    return 0;
}

static volatile int *interrupt_flag;
static struct vm *volatile interrupt_vm;

static void on_interrupt(int sig)
{
    (void)sig;
    if (interrupt_flag)
        *interrupt_flag = 1;
    struct vm *vm = interrupt_vm;
    if (vm)
        vm_kick(vm);
}

void cli_interrupt_kicks(struct vm *vm)
{
    interrupt_vm = vm;
}

void cli_catch_interrupts(volatile int *flag)
{
    interrupt_flag = flag;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void cli_report_stop(const struct monitor *m, const char *elf_path)
{
    if (m->stop.reason == MON_EXIT)
        return;
    char where[512] = "";
    void *elf = NULL;
    size_t len;
    char err[256];
    struct pvrr_sym *sym = NULL;
    /* the fault's rip, or the one a panic or timeout report names */
    uint64_t rip = m->stop.reason == MON_FAULT ? m->stop.rip : 0;
    const char *named = strstr(m->stop.msg, "rip 0x");
    if (!rip && named)
        rip = strtoull(named + 6, NULL, 16);
    if (rip && elf_path && pvrr_read_file(elf_path, 256u << 20, &elf, &len, err, sizeof err) == 0 &&
        pvrr_sym_open(&sym, elf, len, err, sizeof err) == 0) {
        struct pvrr_symloc loc;
        if (pvrr_sym_lookup(sym, rip, &loc) == 0) {
            char at[400];
            pvrr_sym_format(sym, rip, at, sizeof at);
            snprintf(where, sizeof where, "  guest at %s\n", at);
        }
    }
    pvrr_sym_close(sym);
    free(elf);
    const char *nl = strchr(m->stop.msg, '\n');
    if (where[0] && nl)
        fprintf(stderr, "pvrr: %.*s\n%s%s\n", (int)(nl - m->stop.msg), m->stop.msg, where, nl + 1);
    else
        fprintf(stderr, "pvrr: %s\n%s", m->stop.msg, where);
}

int cmd_run(int argc, char **argv)
{
    struct run_opts o;
    memset(&o, 0, sizeof o);
    int rc = cli_parse_run_opts(argc, argv, &o, "run", usage_run);
    if (rc)
        return rc;
    void *elf;
    size_t len;
    if (cli_read_elf(o.elf_path, &elf, &len) < 0)
        return PVRR_EXIT_ERROR;
    if (cli_linux_prepare(&o, &elf, &len, "run") != 0) {
        free(elf);
        return PVRR_EXIT_ERROR;
    }
    struct monitor m;
    char err[1024];
    if (monitor_init(&m, &o.cfg, elf, len, err, sizeof err) < 0) {
        fprintf(stderr, "pvrr run: %s\n", err);
        free(elf);
        cli_linux_free(&o);
        return PVRR_EXIT_ERROR;
    }
    static volatile int interrupted;
    m.interrupt = &interrupted;
    cli_catch_interrupts(&interrupted);
    cli_interrupt_kicks(&m.vm);
    int status;
    if (o.gdb_addr) {
        monitor_kick_every(&m, 50);
        status = run_gdb_session(&m, o.gdb_addr, o.gdb_nonlocal, o.elf_path, elf, len);
    } else {
        if (o.cfg.timeout_s > 0)
            monitor_kick_every(&m, 50);
        status = monitor_run(&m);
    }
    cli_report_stop(&m, o.elf_path);
    cli_interrupt_kicks(NULL);
    monitor_fini(&m);
    free(elf);
    cli_linux_free(&o);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage_main();
        return argc < 2 ? PVRR_EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("pvrr %s (guest ABI %d)\nbackends: %s (auto: kvm where /dev/kvm works, else "
               "emu)\n",
               PVRR_VERSION_STRING, PVRR_ABI_VERSION, engine_names());
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"run", cmd_run},   {"record", cmd_record},     {"replay", cmd_replay}, {"dump", cmd_dump},
        {"info", cmd_info}, {"timeline", cmd_timeline}, {"dap", cmd_dap},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "pvrr: unknown command '%s'\nTry `pvrr --help`.\n", argv[1]);
    return PVRR_EXIT_USAGE;
}
