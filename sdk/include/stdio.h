/*
 * stdio.h - the pvrr guest libc: formatted output to the console.
 *
 * stdout is line buffered: output is written with one console hypercall per
 * line (or per full buffer), and on exit(), pvrr_exit() and every panic.
 * stderr goes to the same console, unbuffered (stdout is flushed first so the
 * order is kept). Conversions: d i u x X o p s c %, flags - 0 + space #,
 * width and precision (also *), length modifiers hh h l ll z j t. No floats.
 */
#ifndef PVRR_LIBC_STDIO_H
#define PVRR_LIBC_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)

typedef struct pvrr_file FILE;
extern FILE *const stdout;
extern FILE *const stderr;

#define PVRR_PRINTF(f, a) __attribute__((format(printf, f, a)))

int printf(const char *restrict fmt, ...) PVRR_PRINTF(1, 2);
int vprintf(const char *restrict fmt, va_list ap) PVRR_PRINTF(1, 0);
int fprintf(FILE *restrict f, const char *restrict fmt, ...) PVRR_PRINTF(2, 3);
int vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap) PVRR_PRINTF(2, 0);
int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...) PVRR_PRINTF(3, 4);
int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
    PVRR_PRINTF(3, 0);

int puts(const char *s);
int putchar(int c);
int fputs(const char *restrict s, FILE *restrict f);
int fputc(int c, FILE *f);
#define putc(c, f) fputc((c), (f))
int fflush(FILE *f);

#endif /* PVRR_LIBC_STDIO_H */
