/*
 * cli.h - shared pieces of the pvrr command-line front end (tools/): option
 * parsing helpers and the subcommand entry points.
 */
#ifndef PVRR_CLI_H
#define PVRR_CLI_H

#include "monitor/monitor.h"

#include <stddef.h>
#include <stdint.h>

/* pvrr's version, shown by --version and stored in recordings. */
#define PVRR_VERSION_STRING "0.1.0"

#define CLI_MAX_FILES 64
#define CLI_MAX_ENV 64

/* Options shared by `run` and `record` (the guest and its world). */
struct run_opts {
    struct monitor_config cfg;
    const char *elf_path;
    char cmdline[PVRR_CMDLINE_MAX];
    const char *gdb_addr; /* --gdb [HOST:]PORT or unix:PATH, NULL if none */
    int gdb_nonlocal;     /* --gdb-allow-remote */
    const char *output;   /* record: -o FILE */
    unsigned until_fail;  /* record: --until-fail N (0: record once) */
    int mem_given;        /* --mem was given */
    const char *backend;  /* --backend auto|kvm|emu (NULL: PVRR_BACKEND, else auto) */
    /* A static Linux program (tools/linux.c) */
    int is_linux; /* elf_path is a Linux program; the buffer is the kernel */
    char **args;  /* the program's arguments after PROGRAM */
    int nargs;
    const char *root;                     /* --root DIR */
    const char *write_spec;               /* --write-dir DIR[:GUEST] */
    const char *file_spec[CLI_MAX_FILES]; /* --file HOST[:GUEST] */
    int nfile_spec;
    const char *env[CLI_MAX_ENV]; /* --env NAME=VALUE */
    int nenv;
    struct monitor_fs_config fs;
    struct monitor_file files[CLI_MAX_FILES + 1];
    char *owned[2 * CLI_MAX_FILES + 4]; /* strings to free in cli_linux_free */
    int nowned;
};

/* Parse "64M", "1G", "4096K", "123" into bytes. Returns -1 on a bad size. */
int cli_parse_size(const char *s, uint64_t *out);

/* Parse run options and the guest ELF plus its arguments from argv[optind..];
 * prints usage errors. Returns 0, or PVRR_EXIT_USAGE. */
int cli_parse_run_opts(int argc, char **argv, struct run_opts *o, const char *cmd,
                       void (*usage)(void));

/* Resolve a backend choice (--backend NAME; NULL: PVRR_BACKEND, else auto)
 * into *engine for monitor_config.engine. When auto chose, say which engine
 * and why in one line on stderr unless (quiet). Returns 0, or
 * PVRR_EXIT_USAGE for an unknown name, PVRR_EXIT_ERROR when nothing can run
 * (message printed). */
int cli_choose_backend(const char *want, int quiet, const char *cmd, const char **engine);

/* Read the guest ELF named in (o) into a malloc'd buffer. Prints the error and
 * returns -1 on failure. */
int cli_read_elf(const char *path, void **buf, size_t *len);

/* If the ELF in (*buf, *len) read from o->elf_path is a static Linux
 * program, replace it by the Linux personality's kernel and set up (o): the
 * kernel command line, the exposed files, the default memory size. Does
 * nothing for an SDK guest. Prints the error and returns PVRR_EXIT_ERROR for
 * a program pvrr cannot run (32-bit, dynamic, ...) or a bad option; else 0. */
int cli_linux_prepare(struct run_opts *o, void **buf, size_t *len, const char *cmd);

/* 1 if (cmdline), a recording's command line, is the Linux personality's. */
int cli_linux_is_recording(const char *cmdline);

/* A debugger on a Linux program (cmdline: its kernel's command line) hides
 * the kernel's frames: tell it the user window for (m)'s RAM and where the
 * kernel (kernel_elf, its ELF) records the call it serves. Nothing for an
 * SDK guest. */
struct debugger;
struct monitor;
void cli_linux_debugger(struct debugger *d, const struct monitor *m, const char *cmdline,
                        const void *kernel_elf, size_t kernel_len);

/* Serve a gdb session (tools/debug.c) on (addr) (nonlocal: --gdb-allow-remote;
 * elf_path: the guest ELF gdb is told about) for a live run of (m) booted from
 * (kernel_elf, kernel_len) (for a Linux program: its kernel), or for a replay
 * of (r). Return pvrr's exit status for the session. */
struct replayer;
int run_gdb_session(struct monitor *m, const char *addr, int nonlocal, const char *elf_path,
                    const void *kernel_elf, size_t kernel_len);
int replay_gdb_session(struct replayer *r, const char *addr, int nonlocal, const char *elf_path);

/* Write the program of the Linux recording (log) (command line (cmdline)) to
 * (out), as the recording read it (the kernel reads the whole file). Returns
 * 0, or -1 with the error printed. */
int cli_linux_extract_program(const char *log, const char *cmdline, const char *out);

/* Free what cli_linux_prepare allocated. */
void cli_linux_free(struct run_opts *o);

/* Report how the guest stopped on stderr (nothing for a plain exit); a fault
 * is placed in the source of (elf_path) (function, file:line) when it can be. */
void cli_report_stop(const struct monitor *m, const char *elf_path);

/* Install SIGINT/SIGTERM handlers that set *flag (no SA_RESTART). */
void cli_catch_interrupts(volatile int *flag);
/* While (vm) is set, SIGINT/SIGTERM also kick it (vm_kick): an engine with no
 * system call for the signal to interrupt (the emulator) stops at once. Set
 * it to NULL before the machine is destroyed. */
void cli_interrupt_kicks(struct vm *vm);

struct pvlog_reader;
struct pvlog_event;
struct pvrr_sym;

/* Open the recording (path) for subcommand (cmd). Returns 0 and sets *rd, or
 * prints "pvrr CMD: PATH: what" and returns the exit status for the error
 * (replayer_status_of_log_error: 81 corrupt, 82 truncated, 83 version, 125). */
int cli_open_log(const char *cmd, const char *path, struct pvlog_reader **rd);

/* Format event (ev) as the line `pvrr dump` prints for it, without the
 * newline, into (buf, n): index, hypercall, rip, symbolized location through
 * (sym) (NULL: none), the recorded arguments, write count and bytes; or
 * "INDEX  END reason status=S" for the END event. */
void dump_event_line(struct pvrr_sym *sym, const struct pvlog_event *ev, char *buf, size_t n);

int cmd_run(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_timeline(int argc, char **argv);
int cmd_dap(int argc, char **argv);

#endif /* PVRR_CLI_H */
