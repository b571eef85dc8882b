/* wsload: WebSocket load generator for the h2bridge benchmark.
 *
 *   wsload --connect [HOST:]PORT (--h2 N --streams M | --h1 M)
 *          [--path /p] [--authority A] [--size BYTES] [--duration S]
 *          [--rate MSGS_PER_S] [--idle K] [--max-pending P]
 *
 * --h2 N --streams M: N h2c connections (prior knowledge), each opening M
 *   RFC 8441 extended-CONNECT WebSocket streams once the server's SETTINGS
 *   carry SETTINGS_ENABLE_CONNECT_PROTOCOL=1.
 * --h1 M: M HTTP/1.1 Upgrade (RFC 6455) connections.
 * Default: closed loop, one binary message of --size bytes in flight per
 *   tunnel, for --duration seconds; every echo is checked byte for byte.
 * --rate R: open loop; R messages/s in total, spread round-robin over the
 *   tunnels on a fixed schedule; latency is measured from the scheduled send
 *   time (no coordinated omission).
 * --idle K: open K tunnels (h1: K connections; h2: K streams spread over the
 *   N connections, ceil(K/N) each), print {"idle_ready":...} once they are all
 *   up, hold them for --duration seconds, then exit.
 * Prints one JSON line: messages, msgs_per_s, p50_us, p99_us, errors, ...
 * Client frames are masked (RFC 6455 §5.3) with a fresh key per frame. */
#include "wsb.h"

#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>

typedef struct conn conn_t;

typedef struct {
    conn_t *c;
    int idx;
    int32_t sid;
    int ready, dead;
    int deferred;
    buf_t tx, rx;
    uint64_t seq_sent, seq_recv;
    uint64_t *q; /* send timestamps (µs), FIFO */
    unsigned qh, qt, qcap;
    size_t msg_off;
} stream_t;

struct conn {
    int fd;
    int state; /* 0 connecting, 1 handshaking, 2 open, 3 dead */
    int dirty;
    int resolved; /* h2: streams that are ready or failed */
    uint32_t events;
    buf_t rbuf, wbuf;
    nghttp2_session *sess;
    int submitted;
    int pend; /* counted in npending (connecting, or tunnels not all resolved) */
    stream_t *streams;
    int nstreams;
    conn_t *next_dirty;
};

/* options */
static struct sockaddr_in target;
static const char *opt_path = "/", *opt_auth = "localhost";
static int opt_h2, opt_nconns, opt_streams = 1, opt_size = 64, opt_idle, opt_max_pending = 256;
static double opt_duration = 5, opt_rate;

/* state */
static int ep;
static conn_t *conns;
static int nopened, npending, nready, nfailed, total_tunnels;
static stream_t **ready_list;
static int nready_list;
static conn_t *dirty_head;
static uint8_t *pattern;
static uint8_t iobuf[256 * 1024];
static enum { PH_SETUP, PH_RUN, PH_DRAIN, PH_DONE } phase;
static uint64_t t_start, t_end, t_setup;
static uint64_t messages, errors, inflight, overruns;
static uint32_t *samples;
static size_t nsamples, capsamples;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t xrand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t pat_off(int idx, uint64_t seq) { return ((size_t)idx * 131u + (size_t)seq * 7u) & 255u; }

static int ndiag;
#define DIAG(...) do { if (++ndiag <= 8) fprintf(stderr, __VA_ARGS__); } while (0)

static void error_at(const char *what, stream_t *s) {
    errors++;
    if (errors <= 5)
        fprintf(stderr, "wsload: error: %s (tunnel %d, seq %llu)\n", what, s ? s->idx : -1,
                s ? (unsigned long long)s->seq_recv : 0ull);
}

static void mark_dirty(conn_t *c) {
    if (c->dirty) return;
    c->dirty = 1;
    c->next_dirty = dirty_head;
    dirty_head = c;
}

static void unpend(conn_t *c) {
    if (c->pend) {
        c->pend = 0;
        npending--;
    }
}

static void ep_set(conn_t *c, uint32_t ev) {
    if (c->events == ev) return;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

static void stream_ready(stream_t *s) {
    s->ready = 1;
    nready++;
    ready_list[nready_list++] = s;
}

static void stream_failed(stream_t *s, const char *why) {
    if (s->dead) return;
    s->dead = 1;
    if (phase == PH_SETUP || !s->ready) {
        nfailed++;
        error_at(why, s);
    } else if (phase == PH_RUN || (phase == PH_DRAIN && s->qh != s->qt) || opt_idle) {
        error_at(why, s);
    }
    inflight -= (uint64_t)(s->qt - s->qh);
    s->qh = s->qt;
}

static void conn_dead(conn_t *c, const char *why) {
    if (c->state == 3) return;
    unpend(c);
    c->state = 3;
    for (int i = 0; i < c->nstreams; i++) stream_failed(&c->streams[i], why);
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
}

/* ---- sending ---- */

static void send_msg(stream_t *s, uint64_t ts) {
    if (s->dead) return;
    if (s->qt - s->qh == s->qcap) {
        overruns++;
        return;
    }
    uint64_t seq = s->seq_sent++;
    const uint8_t *src = pattern + pat_off(s->idx, seq);
    uint64_t r = xrand();
    uint8_t mask[4];
    memcpy(mask, &r, 4);
    buf_t *b = opt_h2 ? &s->tx : &s->c->wbuf;
    uint8_t *w = buf_reserve(b, 14 + (size_t)opt_size);
    size_t h = ws_write_header(w, 1, 2, (uint64_t)opt_size, mask);
    ws_mask_copy(w + h, src, (size_t)opt_size, mask);
    b->len += h + (size_t)opt_size;
    s->q[s->qt++ % s->qcap] = ts;
    /* (qh/qt are free-running unsigned; qcap is a power of two) */
    inflight++;
    if (opt_h2 && s->deferred) {
        s->deferred = 0;
        nghttp2_session_resume_data(s->c->sess, s->sid);
    }
    mark_dirty(s->c);
}

static int write_out(conn_t *c) {
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

static void flush_conn(conn_t *c) {
    if (c->state == 3) return;
    if (c->sess) {
        for (;;) {
            if (buf_avail(&c->wbuf) >= 256 * 1024) break;
            const uint8_t *d;
            ssize_t n = nghttp2_session_mem_send(c->sess, &d);
            if (n < 0) {
                conn_dead(c, "nghttp2_session_mem_send");
                return;
            }
            if (n == 0) break;
            buf_append(&c->wbuf, d, (size_t)n);
        }
    }
    if (c->state > 0 && write_out(c) < 0) {
        conn_dead(c, "write");
        return;
    }
    int want_out = c->state == 0 || buf_avail(&c->wbuf) || (c->sess && nghttp2_session_want_write(c->sess));
    ep_set(c, (c->state == 0 ? 0 : EPOLLIN) | (want_out ? EPOLLOUT : 0));
}

/* ---- receiving: RFC 6455 frames from the server ---- */

static void on_message(stream_t *s) {
    uint64_t now = now_us();
    uint64_t ts = s->q[s->qh++ % s->qcap];
    inflight--;
    s->seq_recv++;
    if (phase == PH_RUN || phase == PH_DRAIN) {
        messages++;
        uint64_t d = now - ts;
        if (nsamples == capsamples) {
            capsamples = capsamples ? capsamples * 2 : 1 << 20;
            samples = xrealloc(samples, capsamples * sizeof *samples);
        }
        samples[nsamples++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    }
    if (phase == PH_RUN && opt_rate == 0 && now < t_end) send_msg(s, now);
}

static void parse_rx(stream_t *s) {
    buf_t *b = &s->rx;
    for (;;) {
        wsframe_t f;
        size_t n = buf_avail(b);
        int h = ws_parse_header(buf_data(b), n, &f);
        if (h < 0) {
            error_at("bad frame header", s);
            conn_dead(s->c, "bad frame header");
            return;
        }
        if (h == 0 || n < h + f.len) return;
        const uint8_t *pl = buf_data(b) + h;
        if (f.masked) error_at("masked frame from server", s);
        if (f.opcode == 8) {
            error_at("unexpected close frame", s);
            s->dead = 1;
        } else if (f.opcode == 9 || f.opcode == 10) {
            /* control frames: ignore */
        } else if (s->qh == s->qt) {
            error_at("echo without a message in flight", s);
        } else {
            if ((f.opcode == 0) != (s->msg_off != 0)) error_at("bad opcode sequence", s);
            if (s->msg_off + f.len > (uint64_t)opt_size) {
                error_at("echo longer than the message", s);
            } else if (memcmp(pl, pattern + pat_off(s->idx, s->seq_recv) + s->msg_off, f.len) != 0) {
                error_at("echo bytes differ", s);
            }
            s->msg_off += f.len;
            if (f.fin) {
                if (s->msg_off != (size_t)opt_size) error_at("echo length differs", s);
                s->msg_off = 0;
                on_message(s);
            }
        }
        buf_consume(b, h + f.len);
    }
}

/* ---- HTTP/1.1 ---- */

static void h1_start(conn_t *c) {
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     opt_path, opt_auth);
    buf_append(&c->wbuf, req, (size_t)n);
    c->state = 1;
}

static void h1_read(conn_t *c, const uint8_t *d, size_t n) {
    stream_t *s = &c->streams[0];
    if (c->state == 1) {
        buf_append(&c->rbuf, d, n);
        uint8_t *p = buf_data(&c->rbuf);
        size_t len = buf_avail(&c->rbuf);
        uint8_t *e = memmem(p, len, "\r\n\r\n", 4);
        if (!e) return;
        if (len < 12 || memcmp(p, "HTTP/1.1 101", 12) != 0) {
            char line[64];
            size_t l = len < 40 ? len : 40;
            memcpy(line, p, l);
            line[l] = 0;
            for (size_t i = 0; i < l; i++)
                if (line[i] == '\r' || line[i] == '\n') line[i] = ' ';
            DIAG("wsload: handshake refused: %s\n", line);
            conn_dead(c, "handshake refused");
            return;
        }
        size_t hl = (size_t)(e + 4 - p);
        buf_append(&s->rx, p + hl, len - hl);
        buf_free(&c->rbuf);
        c->state = 2;
        unpend(c);
        stream_ready(s);
    } else {
        buf_append(&s->rx, d, n);
    }
    parse_rx(s);
}

/* ---- HTTP/2 ---- */

static ssize_t h2_read_cb(nghttp2_session *sess, int32_t sid, uint8_t *out, size_t len, uint32_t *flags,
                          nghttp2_data_source *src, void *ud) {
    (void)sess; (void)sid; (void)flags; (void)ud;
    stream_t *s = src->ptr;
    size_t n = buf_avail(&s->tx);
    if (!n) {
        s->deferred = 1;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (n > len) n = len;
    memcpy(out, buf_data(&s->tx), n);
    buf_consume(&s->tx, n);
    return (ssize_t)n;
}

static void h2_submit_all(conn_t *c) {
    char path[256];
    snprintf(path, sizeof path, "%s", opt_path);
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}
    nghttp2_nv nva[] = {NV(":method", "CONNECT"), NV(":protocol", "websocket"), NV(":scheme", "http"),
                        NV(":path", path), NV(":authority", opt_auth), NV("sec-websocket-version", "13")};
    for (int i = 0; i < c->nstreams; i++) {
        stream_t *s = &c->streams[i];
        nghttp2_data_provider dp = {.source.ptr = s, .read_callback = h2_read_cb};
        int32_t sid = nghttp2_submit_request(c->sess, NULL, nva, 6, &dp, s);
        if (sid < 0) {
            fprintf(stderr, "wsload: submit_request: %s\n", nghttp2_strerror(sid));
            stream_failed(s, "submit_request");
            c->resolved++;
            continue;
        }
        s->sid = sid;
    }
    c->submitted = 1;
    if (c->resolved == c->nstreams) unpend(c);
}

static void h2_resolve(conn_t *c) {
    if (++c->resolved == c->nstreams) unpend(c);
}

static int h2_on_header(nghttp2_session *sess, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                        const uint8_t *val, size_t vl, uint8_t flags, void *ud) {
    (void)flags; (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS) return 0;
    stream_t *s = nghttp2_session_get_stream_user_data(sess, f->hd.stream_id);
    if (!s || s->ready || s->dead) return 0;
    if (nl == 7 && memcmp(name, ":status", 7) == 0) {
        if (vl == 3 && memcmp(val, "200", 3) == 0) {
            stream_ready(s);
        } else {
            DIAG("wsload: extended CONNECT answered %.*s\n", (int)vl, val);
            stream_failed(s, "extended CONNECT refused");
        }
        h2_resolve(s->c);
    }
    return 0;
}

static int h2_on_frame_recv(nghttp2_session *sess, const nghttp2_frame *f, void *ud) {
    conn_t *c = ud;
    if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK) && !c->submitted) {
        if (nghttp2_session_get_remote_settings(sess, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL) != 1) {
            fprintf(stderr, "wsload: server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL=1\n");
            conn_dead(c, "no SETTINGS_ENABLE_CONNECT_PROTOCOL");
            return 0;
        }
        c->state = 2;
        h2_submit_all(c);
        mark_dirty(c);
    }
    return 0;
}

static int h2_on_data(nghttp2_session *sess, uint8_t flags, int32_t sid, const uint8_t *d, size_t n,
                      void *ud) {
    (void)flags; (void)ud;
    stream_t *s = nghttp2_session_get_stream_user_data(sess, sid);
    if (!s || s->dead) return 0;
    buf_append(&s->rx, d, n);
    parse_rx(s);
    return 0;
}

static int h2_on_close(nghttp2_session *sess, int32_t sid, uint32_t code, void *ud) {
    (void)ud;
    stream_t *s = nghttp2_session_get_stream_user_data(sess, sid);
    if (!s) return 0;
    if (!s->ready && !s->dead) {
        DIAG("wsload: stream closed before its response (%s)\n", nghttp2_http2_strerror(code));
        stream_failed(s, "stream closed before response");
        h2_resolve(s->c);
    } else if (!s->dead) {
        stream_failed(s, code ? "stream reset" : "stream ended");
    }
    return 0;
}

static nghttp2_session_callbacks *cbs;

static void h2_start(conn_t *c) {
    if (!cbs) {
        nghttp2_session_callbacks_new(&cbs);
        nghttp2_session_callbacks_set_on_header_callback(cbs, h2_on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, h2_on_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, h2_on_data);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, h2_on_close);
    }
    nghttp2_session_client_new(&c->sess, cbs, c);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20},
    };
    nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(c->sess, NGHTTP2_FLAG_NONE, 0, 64 << 20);
    c->state = 1;
}

/* ---- connections ---- */

static void open_more(void) {
    while (nopened < opt_nconns && npending < opt_max_pending) {
        conn_t *c = &conns[nopened++];
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0) {
            perror("wsload: socket");
            c->state = 3;
            for (int i = 0; i < c->nstreams; i++) stream_failed(&c->streams[i], "socket");
            continue;
        }
        set_nodelay(c->fd);
        npending++;
        c->pend = 1;
        int r = connect(c->fd, (struct sockaddr *)&target, sizeof target);
        if (r < 0 && errno != EINPROGRESS) {
            perror("wsload: connect");
            conn_dead(c, "connect");
            continue;
        }
        c->events = EPOLLOUT;
        struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
    }
}

static void conn_io(conn_t *c, uint32_t ev) {
    if (c->state == 3) return;
    if (c->state == 0) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            DIAG("wsload: connect: %s\n", strerror(err));
            conn_dead(c, "connect");
            return;
        }
        if (opt_h2) h2_start(c);
        else h1_start(c);
        mark_dirty(c);
        return;
    }
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        for (;;) {
            ssize_t r = read(c->fd, iobuf, sizeof iobuf);
            if (r < 0) {
                if (errno == EAGAIN) break;
                if (errno == EINTR) continue;
                conn_dead(c, "read");
                return;
            }
            if (r == 0) {
                conn_dead(c, "connection closed by peer");
                return;
            }
            if (c->sess) {
                ssize_t rv = nghttp2_session_mem_recv(c->sess, iobuf, (size_t)r);
                if (rv < 0) {
                    fprintf(stderr, "wsload: nghttp2: %s\n", nghttp2_strerror((int)rv));
                    conn_dead(c, "h2 protocol error");
                    return;
                }
            } else {
                h1_read(c, iobuf, (size_t)r);
            }
            if (c->state == 3) return;
            if ((size_t)r < sizeof iobuf) break;
        }
    }
    mark_dirty(c);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void usage(void) {
    fprintf(stderr, "usage: wsload --connect [HOST:]PORT (--h2 N --streams M | --h1 M) [--path P] "
                    "[--authority A] [--size B] [--duration S] [--rate R] [--idle K]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *connect_to = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        i++;
        if (!strcmp(a, "--connect")) connect_to = v;
        else if (!strcmp(a, "--h2")) opt_h2 = 1, opt_nconns = atoi(v);
        else if (!strcmp(a, "--h1")) opt_h2 = 0, opt_nconns = atoi(v);
        else if (!strcmp(a, "--streams")) opt_streams = atoi(v);
        else if (!strcmp(a, "--path")) opt_path = v;
        else if (!strcmp(a, "--authority")) opt_auth = v;
        else if (!strcmp(a, "--size")) opt_size = atoi(v);
        else if (!strcmp(a, "--duration")) opt_duration = atof(v);
        else if (!strcmp(a, "--rate")) opt_rate = atof(v);
        else if (!strcmp(a, "--idle")) opt_idle = atoi(v);
        else if (!strcmp(a, "--max-pending")) opt_max_pending = atoi(v);
        else usage();
    }
    if (!connect_to || opt_nconns <= 0 || opt_size <= 0 || opt_size > 1 << 20) usage();
    signal(SIGPIPE, SIG_IGN);
    parse_addr(connect_to, &target);
    if (!opt_h2) opt_streams = 1;
    if (opt_idle) {
        if (opt_h2) opt_streams = (opt_idle + opt_nconns - 1) / opt_nconns;
        else opt_nconns = opt_idle;
    }
    pattern = malloc((size_t)opt_size + 256);
    for (int i = 0; i < opt_size + 256; i++) pattern[i] = (uint8_t)(xrand() >> 24);

    conns = calloc((size_t)opt_nconns, sizeof *conns);
    total_tunnels = opt_nconns * opt_streams;
    if (opt_idle && opt_h2) total_tunnels = opt_idle;
    ready_list = calloc((size_t)total_tunnels, sizeof *ready_list);
    unsigned qcap = opt_rate > 0 ? 4096 : 4;
    int idx = 0;
    for (int i = 0; i < opt_nconns; i++) {
        conn_t *c = &conns[i];
        int ns = opt_streams;
        if (opt_idle && opt_h2 && idx + ns > opt_idle) ns = opt_idle - idx;
        c->nstreams = ns;
        c->streams = calloc((size_t)(ns ? ns : 1), sizeof *c->streams);
        for (int j = 0; j < ns; j++) {
            stream_t *s = &c->streams[j];
            s->c = c;
            s->idx = idx++;
            s->qcap = qcap;
            s->q = malloc(qcap * sizeof *s->q);
        }
    }

    ep = epoll_create1(EPOLL_CLOEXEC);
    t_setup = now_us();
    uint64_t setup_deadline = t_setup + 30000000u;
    uint64_t next_due = 0, sent_sched = 0;
    int rr = 0;
    struct epoll_event evs[512];
    open_more();
    while (phase != PH_DONE) {
        uint64_t now = now_us();
        if (phase == PH_SETUP) {
            open_more();
            if (nready + nfailed >= total_tunnels || now > setup_deadline) {
                if (nready + nfailed < total_tunnels) {
                    fprintf(stderr, "wsload: setup timed out: %d of %d tunnels up\n", nready, total_tunnels);
                    errors += (uint64_t)(total_tunnels - nready - nfailed);
                }
                phase = PH_RUN;
                t_start = now;
                t_end = now + (uint64_t)(opt_duration * 1e6);
                if (opt_idle) {
                    printf("{\"idle_ready\":%d,\"errors\":%llu,\"setup_ms\":%.1f}\n", nready,
                           (unsigned long long)errors, (now - t_setup) / 1000.0);
                    fflush(stdout);
                } else if (opt_rate > 0) {
                    next_due = now;
                } else {
                    for (int i = 0; i < nready_list; i++) send_msg(ready_list[i], now);
                }
            }
        }
        if (phase == PH_RUN && opt_rate > 0 && nready_list > 0) {
            while (next_due <= now && next_due < t_end) {
                send_msg(ready_list[rr], next_due);
                rr = (rr + 1) % nready_list;
                sent_sched++;
                next_due = t_start + (uint64_t)((double)sent_sched * 1e6 / opt_rate);
            }
        }
        if (phase == PH_RUN && now >= t_end) {
            phase = opt_idle ? PH_DONE : PH_DRAIN;
            t_end = now;
        }
        if (phase == PH_DRAIN && (inflight == 0 || now >= t_end + 2000000u)) phase = PH_DONE;
        while (dirty_head) {
            conn_t *c = dirty_head;
            dirty_head = c->next_dirty;
            c->dirty = 0;
            flush_conn(c);
        }
        if (phase == PH_DONE) break;
        uint64_t wake = phase == PH_SETUP ? now + 100000 : phase == PH_DRAIN ? t_end + 2000000u : t_end;
        if (phase == PH_RUN && opt_rate > 0 && next_due < wake) wake = next_due;
        now = now_us();
        uint64_t wait = wake > now ? wake - now : 0;
        struct timespec ts = {.tv_sec = (time_t)(wait / 1000000u), .tv_nsec = (long)(wait % 1000000u) * 1000};
        int n = epoll_pwait2(ep, evs, 512, &ts, NULL);
        if (n < 0 && errno != EINTR) die("epoll_pwait2");
        for (int i = 0; i < n; i++) conn_io(evs[i].data.ptr, evs[i].events);
    }
    if (opt_idle) {
        printf("{\"idle_held\":%d,\"errors\":%llu}\n", nready, (unsigned long long)errors);
        return errors ? 1 : 0;
    }
    double dur = (t_end - t_start) / 1e6;
    uint32_t p50 = 0, p99 = 0, pmax = 0;
    if (nsamples) {
        qsort(samples, nsamples, sizeof *samples, cmp_u32);
        p50 = samples[(size_t)(nsamples * 0.50)];
        p99 = samples[(size_t)(nsamples * 0.99) < nsamples ? (size_t)(nsamples * 0.99) : nsamples - 1];
        pmax = samples[nsamples - 1];
    }
    if (inflight) errors += inflight; /* echoes that never came back */
    errors += overruns;
    printf("{\"mode\":\"%s\",\"conns\":%d,\"streams_per_conn\":%d,\"tunnels\":%d,\"size\":%d,"
           "\"duration_s\":%.3f,\"rate\":%.0f,\"messages\":%llu,\"msgs_per_s\":%.0f,\"p50_us\":%u,"
           "\"p99_us\":%u,\"max_us\":%u,\"errors\":%llu}\n",
           opt_h2 ? "h2" : "h1", opt_nconns, opt_streams, nready, opt_size, dur, opt_rate,
           (unsigned long long)messages, dur > 0 ? messages / dur : 0.0, p50, p99, pmax,
           (unsigned long long)errors);
    return errors ? 1 : 0;
}
