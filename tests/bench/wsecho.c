/* wsecho: WebSocket echo backend for the h2bridge benchmark.
 *
 *   wsecho [--h1 [HOST:]PORT] [--h2 [HOST:]PORT]
 *
 * --h1: RFC 6455 over HTTP/1.1 Upgrade. --h2: RFC 8441 over h2c (prior
 * knowledge), advertising SETTINGS_ENABLE_CONNECT_PROTOCOL=1. Every data frame
 * is echoed as a frame with the same FIN bit and opcode, unmasked; pings get
 * pongs; a close is echoed and the stream/connection then ends.
 * Single-threaded epoll; written for speed, not for hostile peers. */
#include "wsb.h"

#include <nghttp2/nghttp2.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sys/epoll.h>

enum { K_LISTEN_H1, K_LISTEN_H2, K_CONN };

typedef struct conn conn_t;

typedef struct stream {
    int32_t id;
    int is_ws;
    char method[16], protocol[32];
    buf_t rx, tx;
    int closing; /* a close frame was echoed: end the stream after tx drains */
    int deferred;
    conn_t *c;
} stream_t;

struct conn {
    int kind; /* K_* */
    int fd;
    int h2;
    int upgraded; /* h1: handshake done */
    int closing;  /* h1: close after wbuf drains */
    uint32_t events;
    buf_t rbuf, wbuf;
    nghttp2_session *sess;
};

static int ep;
static uint8_t iobuf[256 * 1024];

static void ep_set(conn_t *c, uint32_t ev) {
    if (c->events == ev) return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

static void conn_free(conn_t *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->sess) nghttp2_session_del(c->sess);
    buf_free(&c->rbuf);
    buf_free(&c->wbuf);
    free(c);
}

/* Echo every complete frame of in into out. Returns 1 if a close was seen. */
static int echo_frames(buf_t *in, buf_t *out) {
    int closed = 0;
    for (;;) {
        wsframe_t f;
        size_t n = buf_avail(in);
        int h = ws_parse_header(buf_data(in), n, &f);
        if (h <= 0) break; /* (malformed: just wait; the bench never sends it) */
        if (n < h + f.len) break;
        const uint8_t *pl = buf_data(in) + h;
        int op = f.opcode == 9 ? 10 : f.opcode; /* ping -> pong */
        uint8_t *w = buf_reserve(out, 14 + f.len);
        size_t hh = ws_write_header(w, f.fin, op, f.len, NULL);
        if (f.masked)
            ws_mask_copy(w + hh, pl, f.len, f.mask);
        else
            memcpy(w + hh, pl, f.len);
        out->len += hh + f.len;
        buf_consume(in, h + f.len);
        if (f.opcode == 8) {
            closed = 1;
            break;
        }
    }
    return closed;
}

static int flush_fd(conn_t *c) {
    while (buf_avail(&c->wbuf)) {
        ssize_t w = write(c->fd, buf_data(&c->wbuf), buf_avail(&c->wbuf));
        if (w < 0) {
            if (errno == EAGAIN) return 0;
            if (errno == EINTR) continue;
            return -1;
        }
        buf_consume(&c->wbuf, (size_t)w);
    }
    return 0;
}

/* ---- HTTP/1.1 ---- */

static const char *find_header(const char *head, const char *name, size_t *vlen) {
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ' || *v == '\t') v++;
            const char *e = strstr(v, "\r\n");
            if (!e) return NULL;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
            *vlen = (size_t)(e - v);
            return v;
        }
    }
    return NULL;
}

static int h1_handshake(conn_t *c) {
    buf_reserve(&c->rbuf, 1);
    c->rbuf.p[c->rbuf.len] = 0;
    char *head = (char *)buf_data(&c->rbuf);
    char *end = strstr(head, "\r\n\r\n");
    if (!end) return buf_avail(&c->rbuf) > 65536 ? -1 : 0;
    size_t hlen = (size_t)(end + 4 - head);
    end[2] = 0; /* keep the last CRLF for find_header */
    size_t kl = 0;
    const char *key = find_header(head, "Sec-WebSocket-Key", &kl);
    if (!key || kl > 64) {
        const char *r = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        buf_append(&c->wbuf, r, strlen(r));
        c->closing = 1;
        buf_consume(&c->rbuf, hlen);
        return 0;
    }
    char kb[128];
    memcpy(kb, key, kl);
    memcpy(kb + kl, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
    unsigned char dig[SHA_DIGEST_LENGTH];
    SHA1((unsigned char *)kb, kl + 36, dig);
    char acc[64];
    EVP_EncodeBlock((unsigned char *)acc, dig, SHA_DIGEST_LENGTH);
    char resp[256];
    int rl = snprintf(resp, sizeof resp,
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc);
    buf_append(&c->wbuf, resp, (size_t)rl);
    buf_consume(&c->rbuf, hlen);
    c->upgraded = 1;
    return 0;
}

static int h1_on_read(conn_t *c) {
    if (!c->upgraded && h1_handshake(c) < 0) return -1;
    if (c->upgraded && echo_frames(&c->rbuf, &c->wbuf)) c->closing = 1;
    return 0;
}

/* ---- HTTP/2 (RFC 8441) ---- */

static ssize_t h2_read_cb(nghttp2_session *s, int32_t sid, uint8_t *out, size_t len,
                          uint32_t *flags, nghttp2_data_source *src, void *ud) {
    (void)s; (void)sid; (void)ud;
    stream_t *st = src->ptr;
    size_t n = buf_avail(&st->tx);
    if (n == 0) {
        if (st->closing) {
            *flags |= NGHTTP2_DATA_FLAG_EOF;
            return 0;
        }
        st->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (n > len) n = len;
    memcpy(out, buf_data(&st->tx), n);
    buf_consume(&st->tx, n);
    if (!buf_avail(&st->tx) && st->closing) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static int h2_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
    (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    stream_t *st = calloc(1, sizeof *st);
    st->id = f->hd.stream_id;
    nghttp2_session_set_stream_user_data(s, st->id, st);
    return 0;
}

static int h2_on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                        const uint8_t *val, size_t vl, uint8_t flags, void *ud) {
    (void)flags; (void)ud;
    stream_t *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!st) return 0;
    if (nl == 7 && memcmp(name, ":method", 7) == 0 && vl < sizeof st->method) {
        memcpy(st->method, val, vl);
        st->method[vl] = 0;
    } else if (nl == 9 && memcmp(name, ":protocol", 9) == 0 && vl < sizeof st->protocol) {
        memcpy(st->protocol, val, vl);
        st->protocol[vl] = 0;
    }
    return 0;
}

static int debug;
static int ignore_eos; /* WSECHO_IGNORE_EOS: keep a half-closed stream open (to test proxies) */

static int h2_on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
    (void)ud;
    if (debug && f->hd.type == NGHTTP2_RST_STREAM)
        fprintf(stderr, "wsecho: RST_STREAM stream %d code %u\n", f->hd.stream_id, f->rst_stream.error_code);
    if (f->hd.type == NGHTTP2_DATA && (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        /* The client half-closed the tunnel: finish our side after the
         * pending echoes (a tunnel peer answers a FIN with a FIN). */
        stream_t *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
        if (debug) fprintf(stderr, "wsecho: END_STREAM from client on stream %d\n", f->hd.stream_id);
        if (st && !st->closing && !ignore_eos) {
            st->closing = 1;
            if (st->deferred) {
                st->deferred = 0;
                nghttp2_session_resume_data(s, st->id);
            }
        }
        return 0;
    }
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    stream_t *st = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
    if (!st) return 0;
    if (strcmp(st->method, "CONNECT") == 0 && strcasecmp(st->protocol, "websocket") == 0) {
        st->is_ws = 1;
        nghttp2_nv nv[] = {{(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE}};
        nghttp2_data_provider dp = {.source.ptr = st, .read_callback = h2_read_cb};
        nghttp2_submit_response(s, st->id, nv, 1, &dp);
    } else {
        nghttp2_nv nv[] = {{(uint8_t *)":status", (uint8_t *)"404", 7, 3, NGHTTP2_NV_FLAG_NONE}};
        nghttp2_submit_response(s, st->id, nv, 1, NULL);
    }
    return 0;
}

static int h2_on_data(nghttp2_session *s, uint8_t flags, int32_t sid, const uint8_t *data, size_t len,
                      void *ud) {
    (void)flags; (void)ud;
    stream_t *st = nghttp2_session_get_stream_user_data(s, sid);
    if (!st || !st->is_ws) return 0;
    buf_append(&st->rx, data, len);
    if (st->closing) return 0;
    if (echo_frames(&st->rx, &st->tx)) st->closing = 1;
    if (st->deferred && (buf_avail(&st->tx) || st->closing)) {
        st->deferred = 0;
        nghttp2_session_resume_data(s, sid);
    }
    return 0;
}

static int h2_on_close(nghttp2_session *s, int32_t sid, uint32_t code, void *ud) {
    (void)code; (void)ud;
    stream_t *st = nghttp2_session_get_stream_user_data(s, sid);
    if (st) {
        nghttp2_session_set_stream_user_data(s, sid, NULL);
        buf_free(&st->rx);
        buf_free(&st->tx);
        free(st);
    }
    return 0;
}

static nghttp2_session_callbacks *h2cbs;

static void h2_init(conn_t *c) {
    if (!h2cbs) {
        nghttp2_session_callbacks_new(&h2cbs);
        nghttp2_session_callbacks_set_on_begin_headers_callback(h2cbs, h2_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(h2cbs, h2_on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(h2cbs, h2_on_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(h2cbs, h2_on_data);
        nghttp2_session_callbacks_set_on_stream_close_callback(h2cbs, h2_on_close);
    }
    nghttp2_option *opt;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_http_messaging(opt, 0);
    nghttp2_session_server_new2(&c->sess, h2cbs, c, opt);
    nghttp2_option_del(opt);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100000},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
        {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
    };
    nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, 3);
    nghttp2_session_set_local_window_size(c->sess, NGHTTP2_FLAG_NONE, 0, 64 << 20);
}

static int h2_flush(conn_t *c) {
    for (;;) {
        if (buf_avail(&c->wbuf) >= 256 * 1024) break;
        const uint8_t *d;
        ssize_t n = nghttp2_session_mem_send(c->sess, &d);
        if (n < 0) return -1;
        if (n == 0) break;
        buf_append(&c->wbuf, d, (size_t)n);
        if (buf_avail(&c->wbuf) >= 64 * 1024 && flush_fd(c) < 0) return -1;
    }
    return flush_fd(c);
}

/* ---- loop ---- */

static void conn_io(conn_t *c, uint32_t ev) {
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        for (;;) {
            ssize_t r = read(c->fd, iobuf, sizeof iobuf);
            if (r < 0) {
                if (errno == EAGAIN) break;
                if (errno == EINTR) continue;
                conn_free(c);
                return;
            }
            if (r == 0) {
                conn_free(c);
                return;
            }
            if (c->h2) {
                if (nghttp2_session_mem_recv(c->sess, iobuf, (size_t)r) < 0) {
                    conn_free(c);
                    return;
                }
            } else {
                buf_append(&c->rbuf, iobuf, (size_t)r);
                if (h1_on_read(c) < 0) {
                    conn_free(c);
                    return;
                }
            }
            if ((size_t)r < sizeof iobuf) break;
        }
    }
    int rc = c->h2 ? h2_flush(c) : flush_fd(c);
    if (rc < 0) {
        conn_free(c);
        return;
    }
    int pending = buf_avail(&c->wbuf) || (c->h2 && nghttp2_session_want_write(c->sess));
    if (!pending) {
        if ((!c->h2 && c->closing) ||
            (c->h2 && !nghttp2_session_want_read(c->sess) && !nghttp2_session_want_write(c->sess))) {
            conn_free(c);
            return;
        }
    }
    ep_set(c, EPOLLIN | (pending ? EPOLLOUT : 0));
}

static void add_listener(const char *addr, int kind) {
    conn_t *l = calloc(1, sizeof *l);
    l->kind = kind;
    l->fd = listen_on(addr);
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = l};
    epoll_ctl(ep, EPOLL_CTL_ADD, l->fd, &e);
}

int main(int argc, char **argv) {
    signal(SIGPIPE, SIG_IGN);
    debug = getenv("WSECHO_DEBUG") != NULL;
    ignore_eos = getenv("WSECHO_IGNORE_EOS") != NULL;
    ep = epoll_create1(EPOLL_CLOEXEC);
    int any = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--h1") == 0) add_listener(argv[i + 1], K_LISTEN_H1), any = 1;
        else if (strcmp(argv[i], "--h2") == 0) add_listener(argv[i + 1], K_LISTEN_H2), any = 1;
        else {
            fprintf(stderr, "usage: wsecho [--h1 [HOST:]PORT] [--h2 [HOST:]PORT]\n");
            return 2;
        }
    }
    if (!any) {
        fprintf(stderr, "usage: wsecho [--h1 [HOST:]PORT] [--h2 [HOST:]PORT]\n");
        return 2;
    }
    printf("ready\n");
    fflush(stdout);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c->kind != K_CONN) {
                for (;;) {
                    int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) break;
                    set_nodelay(fd);
                    conn_t *nc = calloc(1, sizeof *nc);
                    nc->kind = K_CONN;
                    nc->fd = fd;
                    nc->h2 = c->kind == K_LISTEN_H2;
                    nc->events = EPOLLIN;
                    struct epoll_event e = {.events = EPOLLIN, .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                    if (nc->h2) {
                        h2_init(nc);
                        conn_io(nc, 0);
                    }
                }
                continue;
            }
            conn_io(c, evs[i].events);
        }
    }
}
