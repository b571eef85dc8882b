/* wsb.h: small helpers shared by the bench programs (wsload, wsecho, relay):
 * growable byte buffers, clocks, socket setup, RFC 6455 frame parsing.
 * Header-only on purpose: each bench program is one translation unit. */
#ifndef WSB_H
#define WSB_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WSB_UNUSED __attribute__((unused))

static void WSB_UNUSED die(const char *what) {
    perror(what);
    exit(2);
}

static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n);
    if (!p && n) die("realloc");
    return p;
}

static uint64_t WSB_UNUSED now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A byte buffer: data lives in p[off, len). */
typedef struct {
    uint8_t *p;
    size_t off, len, cap;
} buf_t;

static inline size_t buf_avail(const buf_t *b) { return b->len - b->off; }
static inline uint8_t *buf_data(const buf_t *b) { return b->p + b->off; }

/* Make room for n more bytes at the end; returns the write pointer. */
static uint8_t *buf_reserve(buf_t *b, size_t n) {
    if (b->off && b->off == b->len) b->off = b->len = 0;
    if (b->len + n > b->cap) {
        if (b->off) { /* compact first */
            memmove(b->p, b->p + b->off, b->len - b->off);
            b->len -= b->off;
            b->off = 0;
        }
        if (b->len + n > b->cap) {
            size_t c = b->cap ? b->cap : 4096;
            while (c < b->len + n) c *= 2;
            b->p = xrealloc(b->p, c);
            b->cap = c;
        }
    }
    return b->p + b->len;
}

static inline void buf_append(buf_t *b, const void *d, size_t n) {
    memcpy(buf_reserve(b, n), d, n);
    b->len += n;
}

static inline void buf_consume(buf_t *b, size_t n) {
    b->off += n;
    if (b->off == b->len) b->off = b->len = 0;
}

static void WSB_UNUSED buf_free(buf_t *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void WSB_UNUSED set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void WSB_UNUSED set_nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* "HOST:PORT" or "PORT" (127.0.0.1) -> sockaddr_in. */
static void WSB_UNUSED parse_addr(const char *s, struct sockaddr_in *sa) {
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    const char *colon = strrchr(s, ':');
    char host[64] = "127.0.0.1";
    const char *port = s;
    if (colon) {
        size_t n = (size_t)(colon - s);
        if (n >= sizeof host) n = sizeof host - 1;
        memcpy(host, s, n);
        host[n] = 0;
        port = colon + 1;
    }
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        fprintf(stderr, "bad address %s\n", s);
        exit(2);
    }
    sa->sin_port = htons((uint16_t)atoi(port));
}

static int WSB_UNUSED listen_on(const char *addr) {
    struct sockaddr_in sa;
    parse_addr(addr, &sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind");
    if (listen(fd, 4096) < 0) die("listen");
    return fd;
}

/* RFC 6455 §5.2 frame header. Returns header length, 0 if more bytes are
 * needed, -1 if the header is malformed (64-bit length with the top bit set). */
typedef struct {
    int fin, opcode, masked;
    uint8_t mask[4];
    uint64_t len;
} wsframe_t;

static int WSB_UNUSED ws_parse_header(const uint8_t *p, size_t n, wsframe_t *f) {
    if (n < 2) return 0;
    f->fin = p[0] >> 7;
    f->opcode = p[0] & 0x0f;
    f->masked = p[1] >> 7;
    uint64_t len = p[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
        if (n < 4) return 0;
        len = ((uint64_t)p[2] << 8) | p[3];
        h = 4;
    } else if (len == 127) {
        if (n < 10) return 0;
        len = 0;
        for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i];
        if (len >> 63) return -1;
        h = 10;
    }
    if (f->masked) {
        if (n < h + 4) return 0;
        memcpy(f->mask, p + h, 4);
        h += 4;
    }
    f->len = len;
    return (int)h;
}

/* Writes a frame header (optionally with a mask key) into out (>= 14 bytes). */
static size_t WSB_UNUSED ws_write_header(uint8_t *out, int fin, int opcode, uint64_t len,
                                         const uint8_t *mask) {
    size_t h = 0;
    out[h++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
    uint8_t m = mask ? 0x80 : 0;
    if (len < 126) {
        out[h++] = (uint8_t)(m | len);
    } else if (len < 65536) {
        out[h++] = m | 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = m | 127;
        for (int i = 7; i >= 0; i--) out[h++] = (uint8_t)(len >> (8 * i));
    }
    if (mask) {
        memcpy(out + h, mask, 4);
        h += 4;
    }
    return h;
}

/* dst = src XOR mask (mask phase starts at 0). dst may equal src. */
static void WSB_UNUSED ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4]) {
    uint32_t m32;
    memcpy(&m32, mask, 4);
    uint64_t m64 = ((uint64_t)m32 << 32) | m32;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        v ^= m64;
        memcpy(dst + i, &v, 8);
    }
    for (; i < n; i++) dst[i] = src[i] ^ mask[i & 3];
}

#endif
