/*
 * listen.c - sockets for the gdb stub: TCP (loopback by default) and Unix.
 * See gdbstub.h.
 */
#include "gdbstub/gdbstub.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_HOST "127.0.0.1"

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127; /* 127.0.0.0/8 */
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
    }
    return 0;
}

/* Split host_port into host (default 127.0.0.1) and a decimal port. */
static int split_host_port(const char *hp, char *host, size_t hn, char *port, size_t pn, char *err,
                           size_t n)
{
    const char *p;
    size_t hl;
    if (hp[0] == '[') {
        const char *close = strchr(hp, ']');
        if (!close || close[1] != ':') {
            snprintf(err, n, "'%s': expected [ADDRESS]:PORT", hp);
            return -1;
        }
        hl = (size_t)(close - hp - 1);
        if (hl >= hn)
            goto too_long;
        memcpy(host, hp + 1, hl);
        host[hl] = 0;
        p = close + 2;
    } else if ((p = strrchr(hp, ':')) != NULL) {
        if (memchr(hp, ':', (size_t)(p - hp))) {
            snprintf(err, n, "'%s': write an IPv6 address as [ADDRESS]:PORT", hp);
            return -1;
        }
        hl = (size_t)(p - hp);
        if (hl >= hn)
            goto too_long;
        memcpy(host, hp, hl);
        host[hl] = 0;
        if (hl == 0)
            snprintf(host, hn, "%s", DEFAULT_HOST);
        p++;
    } else {
        snprintf(host, hn, "%s", DEFAULT_HOST);
        p = hp;
    }
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (!*p || *end || errno || v < 0 || v > 65535) {
        snprintf(err, n, "'%s': the port must be a number from 0 to 65535", hp);
        return -1;
    }
    snprintf(port, pn, "%ld", v);
    return 0;
too_long:
    snprintf(err, n, "'%s': host name too long", hp);
    return -1;
}

int gdbstub_listen_tcp(const char *host_port, int allow_nonlocal, char *err, size_t n)
{
    char host[256], port[8];
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *res, *ai;
    int fd = -1, saved = 0;

    if (split_host_port(host_port, host, sizeof(host), port, sizeof(port), err, n) < 0)
        return -1;
    int r = getaddrinfo(host, port, &hints, &res);
    if (r != 0) {
        snprintf(err, n, "'%s': %s", host, gai_strerror(r));
        return -1;
    }
    snprintf(err, n, "'%s': no usable address", host_port);
    for (ai = res; ai; ai = ai->ai_next) {
        if (!allow_nonlocal && !is_loopback(ai->ai_addr)) {
            snprintf(err, n,
                     "'%s' is not a loopback address: the gdb stub gives full control of the "
                     "guest without authentication, so it listens on loopback only unless "
                     "non-local listening is allowed explicitly",
                     host);
            continue;
        }
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            snprintf(err, n, "socket: %s", strerror(saved));
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1) == 0)
            break;
        saved = errno;
        snprintf(err, n, "listen on %s: %s", host_port, strerror(saved));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd >= 0)
        err[0] = 0;
    return fd;
}

int gdbstub_listen_unix(const char *path, char *err, size_t n)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat st;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, n, "%s: socket path too long (max %zu bytes)", path,
                 sizeof(sun.sun_path) - 1);
        return -1;
    }
    strcpy(sun.sun_path, path);
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, n, "%s: exists and is not a socket", path);
            return -1;
        }
        /* A socket someone still listens on is not stale. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
            close(probe);
            snprintf(err, n, "%s: another process is listening there", path);
            return -1;
        }
        if (probe >= 0)
            close(probe);
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, n, "socket: %s", strerror(errno));
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 1) < 0) {
        snprintf(err, n, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    err[0] = 0;
    return fd;
}

int gdbstub_local_port(int lfd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(lfd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

int gdbstub_accept(int lfd)
{
    /* EINTR is returned to the caller, which decides whether a signal
     * (SIGINT, SIGTERM) ends the wait. */
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return -1;
    /* Packets are small and latency-bound: do not let Nagle delay them.
     * Fails harmlessly (ENOTSUP/EOPNOTSUPP) on Unix sockets. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}
