/* conn.c: leg transport over a non-blocking socket, cleartext or TLS.  Reads
 * into |rbuf| and hands bytes to the engine; writes |out| with writev or
 * SSL_write.  Teardown happens here, in the libev callbacks, or in the
 * worker's prepare callback — never inside engine code.  See conn.h. */
#include "conn.h"
#include "connector.h"
#include "linger.h"
#include "engine.h"
#include "gateway.h"
#include "errors.h"
#include "listener.h"
#include "log.h"
#include "mem.h"
#include "pool.h"
#include "tls.h"
#include "worker.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RBUF_MIN 16384

static void conn_readable(struct ev_loop *loop, ev_io *w, int revents);
static void conn_writable(struct ev_loop *loop, ev_io *w, int revents);
static void conn_timeout(struct ev_loop *loop, ev_timer *w, int revents);

hb_conn *hb_conn_new(hb_worker *w, hb_gen *gen, int fd, int role, const hb_limits *limits) {
  hb_conn *c = hb_calloc(1, sizeof(*c));
  if (!c) {
    close(fd);
    return NULL;
  }
  c->w = w;
  c->gen = gen;
  hb_gen_ref(gen);
  c->id = ++w->next_conn_id;
  c->fd = fd;
  c->role = role;
  c->limits = limits;
  c->rmax = RBUF_MIN;
  hb_bufq_init(&c->out, HB_CONN_OUT_HIGH);
  ev_io_init(&c->rev, conn_readable, fd, EV_READ);
  ev_io_init(&c->wev, conn_writable, fd, EV_WRITE);
  ev_init(&c->timer, conn_timeout);
  c->rev.data = c->wev.data = c->timer.data = c;
  c->next = w->conns;
  if (w->conns) w->conns->prev = c;
  w->conns = c;
  w->nconns++;
  return c;
}

void hb_conn_set_timer(hb_conn *c, double after) {
  /* A closed conn's memory is freed soon: its watchers must stay stopped
   * (an engine tearing down may ask for an idle timer). */
  if (c->state == HB_CONN_CLOSED) return;
  c->timer_after = after;
  if (after > 0) {
    c->timer.repeat = after;
    ev_timer_again(c->w->loop, &c->timer);
  } else {
    ev_timer_stop(c->w->loop, &c->timer);
  }
}

void hb_conn_arm_idle(hb_conn *c) {
  /* While the worker drains, a pooled conn that falls idle (one dialed after
   * the drain began, for a request taken before the final GOAWAY) is not kept
   * for reuse: it drains too, or the process would wait for drain_timeout. */
  if (c->pool && c->pool->nwait == 0 && c->w->draining && c->engine && c->engine->drain) {
    c->engine->drain(c);
    return;
  }
  hb_conn_set_timer(c, c->pool ? c->pool->limits->idle_timeout : c->limits->idle_timeout);
}

int hb_conn_set_engine(hb_conn *c, const hb_engine_ops *e) {
  c->engine = e;
  c->state = HB_CONN_OPEN;
  return e->init(c);
}

void hb_conn_want_flush(hb_conn *c) {
  if (c->want_flush || c->state == HB_CONN_CLOSED) return;
  c->want_flush = 1;
  c->posted_next = c->w->posted;
  c->w->posted = c;
}

void hb_conn_pause_read(hb_conn *c) {
  if (c->read_paused) return;
  c->read_paused = 1;
  ev_io_stop(c->w->loop, &c->rev);
}

void hb_conn_resume_read(hb_conn *c) {
  if (!c->read_paused || c->state == HB_CONN_CLOSED) return;
  c->read_paused = 0;
  if (c->eof_seen) return;
  ev_io_start(c->w->loop, &c->rev);
  /* Bytes already inside OpenSSL or our buffer raise no socket event. */
  if (c->ssl && SSL_pending(c->ssl) > 0) ev_feed_event(c->w->loop, &c->rev, EV_READ);
  if (c->rlen > 0) hb_conn_process_input(c);
}

int hb_conn_write(hb_conn *c, const void *data, size_t len) {
  if (len == 0) return 0;
  ssize_t n = hb_bufq_write_force(&c->out, data, len);
  return n == (ssize_t)len ? 0 : HB_ERR_NOMEM;
}

size_t hb_conn_out_space(const hb_conn *c) { return hb_bufq_space(&c->out); }

/* Reads what the socket has; returns bytes read, 0 on EOF, or HB_ERR_AGAIN/IO. */
static ssize_t conn_recv(hb_conn *c, uint8_t *buf, size_t len) {
  if (c->ssl) {
    ERR_clear_error();
    int n = SSL_read(c->ssl, buf, (int)HB_MIN(len, (size_t)INT32_MAX));
    if (n > 0) return n;
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_READ) return HB_ERR_AGAIN;
    if (e == SSL_ERROR_WANT_WRITE) {
      ev_io_start(c->w->loop, &c->wev);
      return HB_ERR_AGAIN;
    }
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) return 0; /* unclean EOF */
    char why[160];
    hb_log_debug(c->id, -1, "TLS read: %s", hb_tls_strerror(c->ssl, n, why, sizeof(why)));
    return HB_ERR_IO;
  }
  for (;;) {
    ssize_t n = read(c->fd, buf, len);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return HB_ERR_AGAIN;
    return HB_ERR_IO;
  }
}

/* Writes queued output.  0 (maybe partial: wev armed) or HB_ERR_IO. */
static int conn_send(hb_conn *c) {
  while (hb_bufq_len(&c->out) > 0) {
    if (c->ssl) {
      const uint8_t *p;
      size_t len = hb_bufq_peek(&c->out, &p);
      /* Coalesce small chunks would need a copy; TLS records of one chunk are fine. */
      ERR_clear_error();
      int n = SSL_write(c->ssl, p, (int)len);
      if (n > 0) {
        hb_bufq_drain(&c->out, (size_t)n);
        continue;
      }
      int e = SSL_get_error(c->ssl, n);
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        ev_io_start(c->w->loop, &c->wev);
        return 0;
      }
      return HB_ERR_IO;
    }
    struct iovec iov[16];
    int cnt = hb_bufq_iov(&c->out, iov, 16);
    ssize_t n = writev(c->fd, iov, cnt);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ev_io_start(c->w->loop, &c->wev);
        return 0;
      }
      return HB_ERR_IO;
    }
    hb_bufq_drain(&c->out, (size_t)n);
  }
  ev_io_stop(c->w->loop, &c->wev);
  return 0;
}

void hb_conn_process_input(hb_conn *c) {
  /* Runs from the flush (posted), so it may tear down via the return path. */
  c->want_reprocess = 1;
  hb_conn_want_flush(c);
}

/* Gives buffered input to the engine.  0 or an error that closes the conn. */
static int conn_feed(hb_conn *c) {
  while (c->rlen > 0 && c->state == HB_CONN_OPEN) {
    ssize_t n = c->engine->on_read(c, c->rbuf, c->rlen);
    if (n < 0) return (int)n;
    if (n == 0) break;
    memmove(c->rbuf, c->rbuf + n, c->rlen - (size_t)n);
    c->rlen -= (size_t)n;
  }
  return 0;
}

static void conn_fail(hb_conn *c, int rc, const char *why) {
  if (!c->close_reason) c->close_reason = why ? why : hb_strerror(rc);
  hb_conn_close(c, c->close_reason);
}

/* Runs the engine's deferred work and writes.  Called from the worker's
 * prepare watcher, the top of the stack. */
void hb_conn_flush(hb_conn *c) {
  c->want_flush = 0;
  /* Produce and write until the socket pushes back or the engine has nothing
   * more; bounded rounds keep one busy conn from starving the others. */
  for (int round = 0; round < 8; round++) {
    if (c->state == HB_CONN_CLOSED) return;
    if (c->state == HB_CONN_OPEN) {
      if (c->want_reprocess) {
        c->want_reprocess = 0;
        int rc = conn_feed(c);
        if (rc != 0) {
          conn_fail(c, rc, NULL);
          return;
        }
      }
      int rc = c->engine->flush(c);
      if (rc == HB_ERR_EOF) {
        /* Done: close once what is queued (the last bytes of a body, a
         * GOAWAY) is written, never dropping it. */
        c->closing_after_write = 1;
        hb_conn_pause_read(c);
        /* ... but not forever if the peer stops reading. */
        if (!ev_is_active(&c->timer)) hb_conn_set_timer(c, c->limits->idle_timeout > 0 ? c->limits->idle_timeout : 30);
      } else if (rc != 0) {
        /* A failure: try to send a last answer (GOAWAY, error page), then go. */
        conn_send(c);
        conn_fail(c, rc, NULL);
        return;
      }
    }
    size_t produced = hb_bufq_len(&c->out);
    if (conn_send(c) != 0) {
      conn_fail(c, HB_ERR_IO, "write failed");
      return;
    }
    if (c->closing_after_write && hb_bufq_len(&c->out) == 0) {
      hb_conn_close(c, "done");
      return;
    }
    if (c->shutdown_wr && !c->shutdown_done && hb_bufq_len(&c->out) == 0) {
      c->shutdown_done = 1;
      if (c->ssl) SSL_shutdown(c->ssl); /* close_notify: TLS half-close */
      else shutdown(c->fd, SHUT_WR);
    }
    if (produced == 0 || hb_bufq_len(&c->out) > 0 || c->state != HB_CONN_OPEN) {
      if (!c->want_reprocess) return;
    }
  }
  hb_conn_want_flush(c);
}

static void sniff_or_start(hb_conn *c);

static int handshake_step(hb_conn *c) {
  ERR_clear_error();
  int r = c->role == HB_CONN_ACCEPTED ? SSL_accept(c->ssl) : SSL_connect(c->ssl);
  if (r == 1) return 1;
  int e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ) {
    ev_io_stop(c->w->loop, &c->wev);
    ev_io_start(c->w->loop, &c->rev);
    return 0;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    ev_io_start(c->w->loop, &c->wev);
    return 0;
  }
  char why[200];
  hb_log_info(c->id, -1, "TLS handshake with %s failed: %s", c->peer, hb_tls_strerror(c->ssl, r, why, sizeof(why)));
  return HB_ERR_IO;
}

/* The HTTP/2 engine of |c|: h2x when its listener, upstream or connector says
 * `engine: h2x`, else nghttp2. */
static const hb_engine_ops *h2_engine_for(const hb_conn *c) {
  if (c->listener && c->listener->cfg && c->listener->cfg->engine == HB_ENGINE_H2X) return &hb_engine_h2x;
  if (c->pool && c->pool->u && c->pool->u->engine == HB_ENGINE_H2X) return &hb_engine_h2x;
  if (c->connector && c->connector->cfg->engine == HB_ENGINE_H2X) return &hb_engine_h2x;
  return &hb_engine_h2;
}

static void handshake_done(hb_conn *c) {
  ev_io_stop(c->w->loop, &c->wev);
  hb_conn_set_timer(c, 0);
  c->alpn = hb_tls_alpn(c->ssl);
  int reversed = c->alpn && (strcmp(c->alpn, "rh2") == 0 || strcmp(c->alpn, "rh1") == 0);
  int h2 = c->alpn && (strcmp(c->alpn, "h2") == 0 || strcmp(c->alpn, "rh2") == 0);
  const hb_engine_ops *e = h2 ? h2_engine_for(c) : &hb_engine_h1;
  if (c->connector) {
    /* Origin side: the gateway must have selected exactly what we offered. */
    const char *want = c->connector->cfg->protocol;
    if (!c->alpn || strcmp(c->alpn, want) != 0) {
      hb_log_warn(c->id, -1, "gateway %s selected %s instead of %s: refusing to serve it", c->peer,
                  c->alpn ? c->alpn : "no protocol", want);
      conn_fail(c, HB_ERR_PROTO, "gateway selected the wrong protocol");
      return;
    }
    c->http_server = 1; /* reversed: we dialed, we answer */
  } else if (c->role == HB_CONN_DIALED) {
    if (c->pool && c->pool->u->protocol == HB_PROTO_H2 && !h2) {
      conn_fail(c, HB_ERR_PROTO, "upstream did not select h2 by ALPN");
      return;
    }
  } else if (reversed) {
    c->http_server = 0; /* gateway: the origin dialed us and answers our requests */
  }
  int rc = hb_conn_set_engine(c, e);
  if (rc != 0) {
    conn_fail(c, rc, "engine init failed");
    return;
  }
  ev_io_start(c->w->loop, &c->rev);
  if (c->connector) hb_connector_on_ready(c);
  else if (reversed && c->role == HB_CONN_ACCEPTED) hb_gateway_start(c);
  /* h2 upstreams become usable when their SETTINGS arrive (engine_h2). */
  else if (c->role == HB_CONN_DIALED && !hb_engine_is_h2(e)) hb_pool_on_capacity(c);
  hb_conn_want_flush(c);
}

static void do_read(hb_conn *c) {
  if (c->state == HB_CONN_HANDSHAKE) {
    int r = handshake_step(c);
    if (r < 0) {
      conn_fail(c, r, "TLS handshake failed");
    } else if (r == 1) {
      handshake_done(c);
      /* Application data may have come with the handshake's last flight. */
      if (c->state == HB_CONN_OPEN) do_read(c);
    }
    return;
  }
  /* Read until the socket is dry or the engine pushes back: TLS records
   * already decrypted raise no further socket event. */
  while (!c->read_paused && c->state != HB_CONN_CLOSED) {
    if (c->rlen == c->rcap) {
      if (c->rcap >= c->rmax) {
        /* The engine cannot make progress with a full buffer. */
        hb_conn_pause_read(c);
        break;
      }
      size_t ncap = c->rcap ? HB_MIN(c->rcap * 2, c->rmax) : RBUF_MIN;
      uint8_t *nb = hb_realloc(c->rbuf, ncap);
      if (!nb) {
        conn_fail(c, HB_ERR_NOMEM, "out of memory");
        return;
      }
      c->rbuf = nb;
      c->rcap = ncap;
    }
    ssize_t n = conn_recv(c, c->rbuf + c->rlen, c->rcap - c->rlen);
    if (n == HB_ERR_AGAIN) {
      /* Dry and nothing pending: give the buffer back, so an idle conn (a
       * quiet tunnel, a keep-alive wait) holds no read memory. */
      if (c->rlen == 0) {
        hb_free(c->rbuf);
        c->rbuf = NULL;
        c->rcap = 0;
      }
      break;
    }
    if (n < 0) {
      conn_fail(c, (int)n, c->role == HB_CONN_DIALED ? "upstream read failed" : "client read failed");
      return;
    }
    if (n == 0) {
      c->eof_seen = 1;
      ev_io_stop(c->w->loop, &c->rev);
      if (c->state == HB_CONN_SNIFF) {
        hb_conn_close(c, "closed before a request");
        return;
      }
      int rc = conn_feed(c);
      if (rc == 0) rc = c->engine->on_eof(c);
      if (rc != 0) {
        conn_fail(c, rc, rc == HB_ERR_EOF ? "peer closed" : NULL);
        return;
      }
      hb_conn_want_flush(c);
      return;
    }
    c->rlen += (size_t)n;
    if (c->state == HB_CONN_SNIFF) {
      sniff_or_start(c);
      if (c->state != HB_CONN_OPEN) return;
    }
    int rc = conn_feed(c);
    if (rc != 0) {
      conn_fail(c, rc, NULL);
      return;
    }
    hb_conn_want_flush(c);
  }
}

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* Cleartext accept: the HTTP/2 connection preface means h2c prior knowledge. */
static void sniff_or_start(hb_conn *c) {
  size_t n = HB_MIN(c->rlen, sizeof(h2_preface) - 1);
  int is_h2 = memcmp(c->rbuf, h2_preface, n) == 0;
  if (is_h2 && n < sizeof(h2_preface) - 1) return; /* need more to decide */
  c->alpn = is_h2 ? "h2c" : "http/1.1";
  int rc = hb_conn_set_engine(c, is_h2 ? h2_engine_for(c) : &hb_engine_h1);
  if (rc != 0) conn_fail(c, rc, "engine init failed");
}

static void conn_readable(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  (void)revents;
  do_read(w->data);
}

static void connect_done(hb_conn *c) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err) {
    char why[160];
    snprintf(why, sizeof(why), "connect to %s failed: %s", c->peer, strerror(err));
    hb_log_warn(c->id, -1, "%s", why);
    if (c->pool) c->pool->last_error = "upstream connect failed";
    conn_fail(c, HB_ERR_IO, "upstream connect failed");
    return;
  }
  ev_io_stop(c->w->loop, &c->wev);
  if (c->ssl) {
    c->state = HB_CONN_HANDSHAKE;
    int r = handshake_step(c);
    if (r < 0) {
      if (c->pool) c->pool->last_error = "upstream TLS handshake failed";
      conn_fail(c, r, "upstream TLS handshake failed");
    } else if (r == 1) {
      handshake_done(c);
    }
    return;
  }
  hb_conn_set_timer(c, 0);
  int rc = hb_conn_set_engine(c, c->pool->u->protocol == HB_PROTO_H2C ? h2_engine_for(c) : &hb_engine_h1);
  if (rc != 0) {
    conn_fail(c, rc, "engine init failed");
    return;
  }
  c->alpn = c->pool->u->protocol == HB_PROTO_H2C ? "h2c" : "http/1.1";
  ev_io_start(c->w->loop, &c->rev);
  if (!hb_engine_is_h2(c->engine)) hb_pool_on_capacity(c);
  hb_conn_want_flush(c);
}

static void conn_writable(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  (void)revents;
  hb_conn *c = w->data;
  switch (c->state) {
  case HB_CONN_CONNECTING:
    connect_done(c);
    return;
  case HB_CONN_HANDSHAKE: {
    int r = handshake_step(c);
    if (r < 0) {
      if (c->pool) c->pool->last_error = "upstream TLS handshake failed";
      conn_fail(c, r, "TLS handshake failed");
    } else if (r == 1) {
      handshake_done(c);
    }
    return;
  }
  case HB_CONN_CLOSED:
    return;
  default:
    break;
  }
  if (conn_send(c) != 0) {
    conn_fail(c, HB_ERR_IO, "write failed");
    return;
  }
  if (hb_bufq_len(&c->out) == 0) {
    if (c->closing_after_write) {
      hb_conn_close(c, "done");
      return;
    }
    /* Room again: the engine may produce more (pull more body, nghttp2 send). */
    hb_conn_want_flush(c);
  }
}

static void conn_timeout(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  hb_conn *c = w->data;
  ev_timer_stop(c->w->loop, &c->timer);
  const char *why;
  switch (c->state) {
  case HB_CONN_CONNECTING:
    why = "upstream connect timed out";
    if (c->pool) c->pool->last_error = why;
    break;
  case HB_CONN_HANDSHAKE:
    why = "TLS handshake timed out";
    if (c->pool) c->pool->last_error = why;
    break;
  case HB_CONN_SNIFF:
    why = "no request in time";
    break;
  case HB_CONN_OPEN:
    if (c->engine->timeout(c) == 0) {
      hb_conn_want_flush(c);
      return;
    }
    why = "idle timeout";
    break;
  default:
    return;
  }
  hb_log_debug(c->id, -1, "%s", why);
  hb_conn_close(c, why);
}

void hb_conn_start(hb_conn *c, SSL *ssl) {
  c->ssl = ssl;
  if (c->role == HB_CONN_DIALED) {
    c->state = HB_CONN_CONNECTING;
    ev_io_start(c->w->loop, &c->wev);
    hb_conn_set_timer(c, c->limits->connect_timeout);
    return;
  }
  if (ssl) {
    c->state = HB_CONN_HANDSHAKE;
    hb_conn_set_timer(c, c->limits->handshake_timeout);
  } else {
    c->state = HB_CONN_SNIFF;
    hb_conn_set_timer(c, c->limits->request_header_timeout);
  }
  ev_io_start(c->w->loop, &c->rev);
}

void hb_conn_on_peer_goaway(hb_conn *c) {
  if (c->connector) hb_connector_on_goaway(c);
}

void hb_conn_close(hb_conn *c, const char *reason) {
  if (c->state == HB_CONN_CLOSED) return;
  int was_open = c->state == HB_CONN_OPEN;
  c->state = HB_CONN_CLOSED;
  hb_log_debug(c->id, -1, "closing: %s", reason ? reason : "-");
  ev_io_stop(c->w->loop, &c->rev);
  ev_io_stop(c->w->loop, &c->wev);
  ev_timer_stop(c->w->loop, &c->timer);
  if (was_open && c->engine && c->engine->destroy) c->engine->destroy(c, reason);
  /* Nothing may have re-armed a watcher meanwhile; make sure. */
  ev_io_stop(c->w->loop, &c->rev);
  ev_io_stop(c->w->loop, &c->wev);
  ev_timer_stop(c->w->loop, &c->timer);
  if (c->pool) hb_pool_on_gone(c, reason);
  if (c->reverse) hb_gateway_free(c);
  if (c->connector) hb_connector_on_gone(c, reason);
  if (c->listener) hb_listener_conn_gone(c->listener);
  if (c->abort_close) {
    struct linger lg = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  if (c->ssl) {
    if (was_open && !c->abort_close && !c->shutdown_done) SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    c->ssl = NULL;
  }
  /* We close first and the peer may still be sending: linger, so that our
   * last bytes are not lost to a reset (linger.h).  After the peer's EOF, or
   * when we reset on purpose, close at once. */
  if (!c->abort_close && !c->eof_seen && (was_open || c->role == HB_CONN_ACCEPTED))
    hb_linger_start(c->w, c->fd, c->limits->lingering_timeout);
  else
    close(c->fd);
  c->fd = -1;
  hb_bufq_free(&c->out);
  hb_free(c->rbuf);
  c->rbuf = NULL;
  hb_free(c->pool_busy);
  c->pool_busy = NULL;
  /* unlink now; free from the worker's prepare (callers may still hold |c|) */
  if (c->prev) c->prev->next = c->next;
  else c->w->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  c->w->nconns--;
  c->next = c->w->dead;
  c->prev = NULL;
  c->w->dead = c;
}
