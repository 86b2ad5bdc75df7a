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

/* Options shared by `run` and `record` (the guest and its world). */
struct run_opts {
    struct monitor_config cfg;
    const char *elf_path;
    char cmdline[PVRR_CMDLINE_MAX];
    const char *gdb_addr; /* --gdb [HOST:]PORT or unix:PATH, NULL if none */
    int gdb_nonlocal;     /* --gdb-allow-remote */
    const char *output;   /* record: -o FILE */
    unsigned until_fail;  /* record: --until-fail N (0: record once) */
};

/* Parse "64M", "1G", "4096K", "123" into bytes. Returns -1 on a bad size. */
int cli_parse_size(const char *s, uint64_t *out);

/* Parse run options and the guest ELF plus its arguments from argv[optind..];
 * prints usage errors. Returns 0, or PVRR_EXIT_USAGE. */
int cli_parse_run_opts(int argc, char **argv, struct run_opts *o, const char *cmd,
                       void (*usage)(void));

/* Read the guest ELF named in (o) into a malloc'd buffer. Prints the error and
 * returns -1 on failure. */
int cli_read_elf(const char *path, void **buf, size_t *len);

/* Report how the guest stopped on stderr (nothing for a plain exit). */
void cli_report_stop(const struct monitor *m);

/* Install SIGINT/SIGTERM handlers that set *flag (no SA_RESTART). */
void cli_catch_interrupts(volatile int *flag);

int cmd_run(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_dap(int argc, char **argv);

#endif /* PVRR_CLI_H */
