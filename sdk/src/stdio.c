/*
 * stdio.c - the pvrr guest libc: printf and friends, and formatted panics.
 *
 * One formatter (format()) writes into an output that is either a caller's
 * buffer (snprintf) or the stdout buffer. stdout is flushed with one console
 * hypercall when the buffer fills, at the end of any call that wrote a
 * newline, and on exit and panic.
 */
#include <pvrr/guest.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct pvrr_file {
    int is_stderr;
};

static struct pvrr_file files[2] = {{0}, {1}};
FILE *const stdout = &files[0];
FILE *const stderr = &files[1];

#define STDOUT_BUF 4096

static char out_buf[STDOUT_BUF];
static size_t out_len;
static int out_newline; /* a newline was buffered since the last flush */

void pvrr_stdout_flush(void)
{
    if (out_len > STDOUT_BUF) /* trampled (e.g. by a runaway stack): drop it */
        out_len = 0;
    if (out_len > 0)
        pvrr_console_write(out_buf, out_len);
    out_len = 0;
    out_newline = 0;
}

static void stdout_append(const char *s, size_t n)
{
    while (n > 0) {
        size_t room = STDOUT_BUF - out_len;
        size_t k = n < room ? n : room;
        memcpy(out_buf + out_len, s, k);
        if (!out_newline && memchr(s, '\n', k))
            out_newline = 1;
        out_len += k;
        s += k;
        n -= k;
        if (out_len == STDOUT_BUF)
            pvrr_stdout_flush();
    }
}

/* End of a stdio call on (f): line buffering for stdout, none for stderr. */
static void stdio_done(FILE *f)
{
    if (out_newline || f->is_stderr)
        pvrr_stdout_flush();
}

/* Where format() writes: a bounded buffer, or stdout when buf is NULL. */
struct out {
    char *buf;
    size_t size;  /* buffer size, room for the NUL included */
    size_t total; /* bytes the output would have, truncation ignored */
};

static void emit(struct out *o, const char *s, size_t n)
{
    if (o->buf == NULL) {
        stdout_append(s, n);
    } else if (o->total + 1 < o->size) {
        size_t room = o->size - 1 - o->total;
        memcpy(o->buf + o->total, s, n < room ? n : room);
    }
    o->total += n;
}

static void emit_repeat(struct out *o, char c, size_t n)
{
    char chunk[32];
    memset(chunk, c, sizeof chunk);
    while (n > 0) {
        size_t k = n < sizeof chunk ? n : sizeof chunk;
        emit(o, chunk, k);
        n -= k;
    }
}

enum {
    F_LEFT = 1,  /* '-' */
    F_ZERO = 2,  /* '0' */
    F_PLUS = 4,  /* '+' */
    F_SPACE = 8, /* ' ' */
    F_ALT = 16,  /* '#' */
    F_PTR = 32,  /* %p: always "0x" */
};

/* Emit (body, len) with (prefix) (sign or 0x), padded to (width). (zeros) is
 * the count of leading zeros between prefix and body (precision or '0' flag). */
static void emit_field(struct out *o, const char *prefix, const char *body, size_t len,
                       size_t zeros, int flags, size_t width)
{
    size_t plen = strlen(prefix);
    size_t n = plen + zeros + len;
    if (!(flags & F_LEFT) && width > n)
        emit_repeat(o, ' ', width - n);
    emit(o, prefix, plen);
    emit_repeat(o, '0', zeros);
    emit(o, body, len);
    if ((flags & F_LEFT) && width > n)
        emit_repeat(o, ' ', width - n);
}

static void emit_number(struct out *o, unsigned long long v, int negative, unsigned base, int upper,
                        int flags, size_t width, int precision)
{
    char digits[24];
    size_t n = 0;
    const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    if (!(v == 0 && precision == 0)) { /* "%.0d" of 0 prints nothing */
        do {
            digits[sizeof digits - 1 - n++] = set[v % base];
            v /= base;
        } while (v != 0);
    }
    const char *body = digits + sizeof digits - n;

    const char *prefix = "";
    if (negative)
        prefix = "-";
    else if (flags & F_PLUS)
        prefix = "+";
    else if (flags & F_SPACE)
        prefix = " ";
    if (flags & F_PTR) {
        prefix = "0x";
    } else if ((flags & F_ALT) && n > 0 && !(n == 1 && body[0] == '0')) {
        if (base == 16)
            prefix = upper ? "0X" : "0x";
        else if (base == 8 && (precision < 0 || (size_t)precision <= n))
            prefix = "0";
    }

    size_t zeros = 0;
    if (precision >= 0) {
        if ((size_t)precision > n)
            zeros = (size_t)precision - n;
    } else if ((flags & F_ZERO) && !(flags & F_LEFT)) {
        size_t used = strlen(prefix) + n;
        if (width > used)
            zeros = width - used;
    }
    emit_field(o, prefix, body, n, zeros, flags, width);
}

enum length { L_INT, L_CHAR, L_SHORT, L_LONG, L_LLONG, L_SIZE, L_MAX, L_PTRDIFF };

static unsigned long long arg_unsigned(va_list *ap, enum length len)
{
    switch (len) {
    case L_CHAR:
        return (unsigned char)va_arg(*ap, unsigned int);
    case L_SHORT:
        return (unsigned short)va_arg(*ap, unsigned int);
    case L_LONG:
        return va_arg(*ap, unsigned long);
    case L_LLONG:
        return va_arg(*ap, unsigned long long);
    case L_SIZE:
        return va_arg(*ap, size_t);
    case L_MAX:
        return va_arg(*ap, uintmax_t);
    case L_PTRDIFF:
        return (unsigned long long)va_arg(*ap, ptrdiff_t);
    default:
        return va_arg(*ap, unsigned int);
    }
}

static long long arg_signed(va_list *ap, enum length len)
{
    switch (len) {
    case L_CHAR:
        return (signed char)va_arg(*ap, int);
    case L_SHORT:
        return (short)va_arg(*ap, int);
    case L_LONG:
        return va_arg(*ap, long);
    case L_LLONG:
        return va_arg(*ap, long long);
    case L_SIZE:
        return (long long)va_arg(*ap, size_t); /* %zd: the signed size_t */
    case L_MAX:
        return va_arg(*ap, intmax_t);
    case L_PTRDIFF:
        return va_arg(*ap, ptrdiff_t);
    default:
        return va_arg(*ap, int);
    }
}

static void format(struct out *o, const char *fmt, va_list ap_in)
{
    va_list ap;
    va_copy(ap, ap_in);
    while (*fmt) {
        if (*fmt != '%') {
            const char *p = fmt;
            while (*p && *p != '%')
                p++;
            emit(o, fmt, (size_t)(p - fmt));
            fmt = p;
            continue;
        }
        const char *spec = fmt++;

        int flags = 0;
        for (;; fmt++) {
            if (*fmt == '-')
                flags |= F_LEFT;
            else if (*fmt == '0')
                flags |= F_ZERO;
            else if (*fmt == '+')
                flags |= F_PLUS;
            else if (*fmt == ' ')
                flags |= F_SPACE;
            else if (*fmt == '#')
                flags |= F_ALT;
            else
                break;
        }

        size_t width = 0;
        if (*fmt == '*') {
            int w = va_arg(ap, int);
            if (w < 0) {
                flags |= F_LEFT;
                w = -w;
            }
            width = (size_t)w;
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (size_t)(*fmt++ - '0');
        }

        int precision = -1;
        if (*fmt == '.') {
            fmt++;
            precision = 0;
            if (*fmt == '*') {
                precision = va_arg(ap, int);
                if (precision < 0)
                    precision = -1;
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    precision = precision * 10 + (*fmt++ - '0');
            }
        }

        enum length len = L_INT;
        if (*fmt == 'h') {
            len = fmt[1] == 'h' ? L_CHAR : L_SHORT;
            fmt += fmt[1] == 'h' ? 2 : 1;
        } else if (*fmt == 'l') {
            len = fmt[1] == 'l' ? L_LLONG : L_LONG;
            fmt += fmt[1] == 'l' ? 2 : 1;
        } else if (*fmt == 'z') {
            len = L_SIZE;
            fmt++;
        } else if (*fmt == 'j') {
            len = L_MAX;
            fmt++;
        } else if (*fmt == 't') {
            len = L_PTRDIFF;
            fmt++;
        }

        char conv = *fmt;
        if (conv == '\0') { /* a lone '%' at the end: print it as is */
            emit(o, spec, (size_t)(fmt - spec));
            break;
        }
        fmt++;
        switch (conv) {
        case 'd':
        case 'i': {
            long long v = arg_signed(&ap, len);
            unsigned long long mag = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
            emit_number(o, mag, v < 0, 10, 0, flags, width, precision);
            break;
        }
        case 'u':
            emit_number(o, arg_unsigned(&ap, len), 0, 10, 0, flags & ~(F_PLUS | F_SPACE), width,
                        precision);
            break;
        case 'x':
        case 'X':
            emit_number(o, arg_unsigned(&ap, len), 0, 16, conv == 'X', flags & ~(F_PLUS | F_SPACE),
                        width, precision);
            break;
        case 'o':
            emit_number(o, arg_unsigned(&ap, len), 0, 8, 0, flags & ~(F_PLUS | F_SPACE), width,
                        precision);
            break;
        case 'p': { /* "0x..."; NULL prints as 0x0, not glibc's "(nil)" */
            uintptr_t v = (uintptr_t)va_arg(ap, void *);
            emit_number(o, v, 0, 16, 0, (flags & ~(F_PLUS | F_SPACE)) | F_PTR, width, precision);
            break;
        }
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (s == NULL)
                s = "(null)";
            size_t n = precision >= 0 ? strnlen(s, (size_t)precision) : strlen(s);
            emit_field(o, "", s, n, 0, flags, width);
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            emit_field(o, "", &c, 1, 0, flags, width);
            break;
        }
        case '%':
            emit(o, "%", 1);
            break;
        default: /* unknown conversion: print the specification as is */
            emit(o, spec, (size_t)(fmt - spec));
            break;
        }
    }
    va_end(ap);
    if (o->buf != NULL && o->size > 0)
        o->buf[o->total < o->size ? o->total : o->size - 1] = '\0';
}

int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
{
    struct out o = {.buf = buf, .size = size};
    if (buf == NULL) { /* size must be 0: only count */
        static char dummy;
        o.buf = &dummy;
        o.size = 0;
    }
    format(&o, fmt, ap);
    return o.total > INT32_MAX ? -1 : (int)o.total;
}

int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap)
{
    if (f->is_stderr)
        pvrr_stdout_flush();
    struct out o = {.buf = NULL};
    format(&o, fmt, ap);
    stdio_done(f);
    return o.total > INT32_MAX ? -1 : (int)o.total;
}

int vprintf(const char *restrict fmt, va_list ap)
{
    return vfprintf(stdout, fmt, ap);
}

int fprintf(FILE *restrict f, const char *restrict fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(f, fmt, ap);
    va_end(ap);
    return n;
}

int printf(const char *restrict fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(stdout, fmt, ap);
    va_end(ap);
    return n;
}

int fputs(const char *restrict s, FILE *restrict f)
{
    if (f->is_stderr)
        pvrr_stdout_flush();
    stdout_append(s, strlen(s));
    stdio_done(f);
    return 0;
}

int puts(const char *s)
{
    stdout_append(s, strlen(s));
    stdout_append("\n", 1);
    stdio_done(stdout);
    return 0;
}

int fputc(int c, FILE *f)
{
    char ch = (char)c;
    if (f->is_stderr)
        pvrr_stdout_flush();
    stdout_append(&ch, 1);
    stdio_done(f);
    return (unsigned char)c;
}

int putchar(int c)
{
    return fputc(c, stdout);
}

int fflush(FILE *f)
{
    (void)f;
    pvrr_stdout_flush();
    return 0;
}

/* Panic messages are formatted here; static so a panic from deep recursion
 * or a small stack still has room. */
static char panic_buf[PVRR_PANIC_MAX];

static _Noreturn void vpanic(const char *file, int line, const char *fmt, va_list ap)
{
    size_t n = 0;
    if (file != NULL) {
        int k = snprintf(panic_buf, sizeof panic_buf, "%s:%d: ", file, line);
        n = k > 0 && (size_t)k < sizeof panic_buf ? (size_t)k : 0;
    }
    vsnprintf(panic_buf + n, sizeof panic_buf - n, fmt, ap);
    pvrr_panic(panic_buf);
}

_Noreturn void pvrr_panicf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vpanic(NULL, 0, fmt, ap);
}

_Noreturn void pvrr__panic_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vpanic(file, line, fmt, ap);
}
