/* exchange.c: relays one request/response between a downstream and an
 * upstream stream.  See exchange.h.  Never buffers beyond the credit of the
 * streams' rx queues: engines pull from the peer's rx and return credit. */
#include "exchange.h"
#include "conn.h"
#include "engine.h"
#include "errors.h"
#include "listener.h"
#include "log.h"
#include "mem.h"
#include "pool.h"
#include "connector.h"
#include "gateway.h"
#include "router.h"
#include "translator.h"
#include "worker.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *reason_phrase(int status) {
  switch (status) {
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 421: return "Misdirected Request";
  case 431: return "Request Header Fields Too Large";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return "Error";
  }
}

static const char *proto_name(const hb_conn *c) {
  if (!c) return "-";
  if (c->alpn && (strcmp(c->alpn, "rh2") == 0 || strcmp(c->alpn, "rh1") == 0)) return c->alpn;
  if (hb_engine_is_h2(c->engine)) return c->ssl ? "h2" : "h2c";
  return c->ssl ? "https/1.1" : "http/1.1";
}

static void exchange_finish(hb_exchange *x) {
  const hb_config *cfg = x->gen->cfg;
  if (x->kind == HB_X_AUTH) goto release;
  hb_access_rec r;
  memset(&r, 0, sizeof(r));
  r.conn = x->conn_id;
  r.stream = x->stream_id;
  r.client = x->client;
  r.listener = x->listener_name;
  r.route = x->route >= 0 ? cfg->routes[x->route].name : NULL;
  r.proto_in = x->proto_in;
  r.proto_out = x->proto_out[0] ? x->proto_out : NULL;
  r.upstream = x->pool ? x->pool->name : NULL;
  r.method = x->log_method;
  r.authority = x->log_authority;
  r.path = x->log_path;
  r.protocol = x->tunnel ? x->log_protocol : NULL;
  r.status = x->status;
  r.bytes_in = x->bytes_in;
  r.bytes_out = x->bytes_out;
  r.duration_ms = (ev_now(x->w->loop) - x->start) * 1000.0;
  r.error = x->error;
  hb_access_log(&r);

release:
  ev_timer_stop(x->w->loop, &x->timer);
  if (x->tunnel_listener) x->tunnel_listener->ntunnels--;
  if (x->waiting && x->pool) hb_pool_cancel(x->pool, x);
  if (x->has_local) hb_stream_clear(&x->local);
  hb_head_free(&x->req);
  hb_arena_reset(&x->log_arena);
  hb_gen *g = x->gen;
  hb_free(x);
  hb_gen_unref(g);
}

static void maybe_finish(hb_exchange *x) {
  if (x->ds) return;
  if (x->us && x->us != &x->local) return;
  exchange_finish(x);
}

/* Gives back the downstream conn's share of an HTTP/1.1 pool. */
static void quota_release(hb_exchange *x) {
  if (!x->pool_quota || !x->ds) return;
  x->pool_quota = 0;
  hb_conn *c = x->ds->conn;
  if (c->pool_busy && x->pool->idx < c->npool_busy && c->pool_busy[x->pool->idx]) c->pool_busy[x->pool->idx]--;
}

static void detach(hb_exchange *x, hb_stream *s) {
  if (x->ds == s || x->us == s) quota_release(x);
  if (x->ds == s) {
    if (x->tunnel_listener) s->conn->ntunnels--;
    x->bytes_in = s->bytes_in;
    x->bytes_out = s->bytes_out;
    x->ds = NULL;
  } else if (x->us == s) {
    x->us = NULL;
    if (s->conn && s->conn->nout) s->conn->nout--;
  }
  s->x = NULL;
}

static void timer_cb(struct ev_loop *loop, ev_timer *t, int revents) {
  hb_exchange *x = t->data;
  (void)loop;
  (void)revents;
  if (x->kind == HB_X_AUTH) {
    hb_exchange_fail(x, 504, "the origin did not answer the authorization request in time");
    return;
  }
  if (!x->response_started) {
    if (x->waiting && x->pool && x->pool->reverse) {
      hb_exchange_fail(x, 503, "no authorized origin connection for this request within wait_for_origin");
      return;
    }
    if (x->waiting && x->pool) {
      hb_exchange_fail(x, 503, "no upstream connection free within connect_timeout (pool at max_connections)");
      return;
    }
    hb_exchange_fail(x, 504, x->us ? "upstream response timed out" : "no upstream connection in time");
    return;
  }
  /* Idle after the response began: abort both sides. */
  x->error = x->half_closed ? "half-closed tunnel not ended in half_close_timeout" : "idle timeout";
  hb_stream *us = x->us, *ds = x->ds;
  if (us && us != &x->local) {
    detach(x, us);
    us->conn->engine->reset(us, 0x8 /* CANCEL */);
  }
  if (ds) {
    detach(x, ds);
    ds->conn->engine->reset(ds, 0x8);
  }
  maybe_finish(x);
}

static void arm_timer(hb_exchange *x, double after) {
  ev_timer_stop(x->w->loop, &x->timer);
  if (after > 0) {
    ev_timer_set(&x->timer, after, after);
    ev_timer_start(x->w->loop, &x->timer);
  }
}

static void touch(hb_exchange *x) {
  if (x->tunnel_up && !x->half_closed && ((x->ds && x->ds->rx_eof) || (x->us && x->us->rx_eof))) {
    /* One way ended: the other gets half_close_timeout to follow, and no
     * traffic extends it. */
    x->half_closed = 1;
    double t = x->ds ? x->ds->conn->limits->half_close_timeout : 0;
    ev_timer_stop(x->w->loop, &x->timer);
    if (t > 0) {
      ev_timer_set(&x->timer, t, 0);
      ev_timer_start(x->w->loop, &x->timer);
    }
    return;
  }
  if (x->half_closed) return;
  if (x->response_started && x->idle_after > 0) {
    x->timer.repeat = x->idle_after;
    ev_timer_again(x->w->loop, &x->timer);
  }
}

/* Drops the upstream side of |x| (cancelling it) before a local answer. */
static void drop_upstream(hb_exchange *x) {
  if (x->waiting && x->pool) hb_pool_cancel(x->pool, x);
  hb_stream *us = x->us;
  if (us && us != &x->local) {
    detach(x, us);
    us->conn->engine->reset(us, 0x8 /* CANCEL */);
  }
}

/* Answers the downstream with |h| and |body| from h2bridge itself (a
 * synthetic upstream stream holds the body).  The downstream is reset when
 * a response already began. */
static void answer_local(hb_exchange *x, const hb_head *h, const char *body, size_t len) {
  drop_upstream(x);
  hb_stream *ds = x->ds;
  if (!ds) {
    maybe_finish(x);
    return;
  }
  if (x->response_started || x->has_local) {
    detach(x, ds);
    ds->conn->engine->reset(ds, 0x2 /* INTERNAL_ERROR */);
    maybe_finish(x);
    return;
  }
  hb_stream_init(&x->local, NULL, 0, HB_STREAM_CLIENT, len ? len : 1);
  x->has_local = 1;
  if (len) hb_bufq_write(&x->local.rx, body, len);
  x->local.rx_eof = 1;
  x->local.x = x;
  x->us = &x->local;
  x->status = h->status;
  x->response_started = 1;
  arm_timer(x, x->idle_after);
  if (ds->conn->engine->submit_response(ds, h, len == 0) != 0) {
    detach(x, ds);
    ds->conn->engine->reset(ds, 0x2);
    maybe_finish(x);
    return;
  }
  if (len == 0) hb_stream_take_eof(ds);
  else ds->conn->engine->resume(ds);
}

void hb_exchange_answer(hb_exchange *x, const hb_head *h, const char *body, size_t len) {
  hb_head copy;
  if (hb_head_copy(&copy, h) != 0) {
    hb_exchange_fail(x, 500, "out of memory");
    return;
  }
  copy.content_length = (int64_t)len;
  answer_local(x, &copy, body, len);
  hb_head_free(&copy);
}

void hb_exchange_fail(hb_exchange *x, int status, const char *reason) {
  if (!x->error) x->error = reason;
  if (x->kind == HB_X_AUTH) {
    drop_upstream(x);
    hb_gateway_auth_failed(x, reason);
    return;
  }
  if (x->ds) hb_log_info(x->ds->conn->id, x->ds->id, "answering %d: %s", status, reason);
  char body[256];
  int n = snprintf(body, sizeof(body), "%d %s: %s\n", status, reason_phrase(status), reason);
  hb_head h;
  hb_head_init(&h, 0);
  h.status = status;
  h.content_length = n;
  int rc = hb_head_add(&h, "content-type", 12, "text/plain; charset=utf-8", 25);
  if (rc == 0 && status == 503) rc = hb_head_add(&h, "retry-after", 11, "1", 1);
  if (rc != 0) {
    hb_head_free(&h);
    drop_upstream(x);
    if (x->ds) {
      hb_stream *ds = x->ds;
      detach(x, ds);
      ds->conn->engine->reset(ds, 0x2);
    }
    maybe_finish(x);
    return;
  }
  answer_local(x, &h, body, (size_t)n);
  hb_head_free(&h);
}

static int is_h2(const hb_conn *c) { return c && hb_engine_is_h2(c->engine); }

/* What the exchange waits for first: an origin to connect (wait_for_origin)
 * or an upstream connection with room (connect_timeout); once it has one,
 * the response (response_timeout, armed in hb_exchange_attach).  A client
 * that pins every pooled connection (zero-window reader) thus costs others a
 * quick 503, not an endless wait. */
static double first_timeout(const hb_exchange *x, const hb_pool *pool) {
  (void)x;
  if (pool->reverse) return pool->origin->wait_for_origin > 0 ? pool->origin->wait_for_origin : 10;
  double t = pool->limits->connect_timeout;
  /* a little beyond the dial's own deadline, which reports its own error */
  return t > 0 ? t + 0.5 : pool->limits->response_timeout;
}

hb_exchange *hb_exchange_new_auth(hb_conn *c, hb_head *req, double timeout) {
  hb_exchange *x = hb_calloc(1, sizeof(*x));
  if (!x) return NULL;
  x->w = c->w;
  x->gen = c->gen;
  hb_gen_ref(x->gen);
  x->kind = HB_X_AUTH;
  x->auth_conn = c;
  x->route = -1;
  x->start = ev_now(c->w->loop);
  x->req = *req; /* taken over */
  hb_head_init(req, 1);
  ev_init(&x->timer, timer_cb);
  x->timer.data = x;
  hb_stream *us = NULL;
  if (c->engine->open_stream(c, &x->req, 1, &us) != 0) {
    hb_head_free(&x->req);
    hb_gen_unref(x->gen);
    hb_free(x);
    return NULL;
  }
  us->x = x;
  x->us = us;
  hb_stream_take_eof(us);
  arm_timer(x, timeout);
  return x;
}

void hb_exchange_auth_done(hb_exchange *x) {
  hb_stream *us = x->us;
  if (us) detach(x, us);
  exchange_finish(x);
}

/* A routed tunnel request: check the handshake, translate it (DESIGN.md §3.1)
 * and get an upstream stream. */
static void start_tunnel(hb_exchange *x, hb_stream *ds, hb_pool *pool, const hb_config_listener *l) {
  hb_conn *c = ds->conn;
  const char *proto = ds->head.protocol;
  /* An origin's protocol is known once a conn is picked: guess h2 now, and
   * hb_exchange_attach translates again for an rh1 conn. */
  int in_h2 = is_h2(c), out_h2 = pool->reverse ? 1 : pool->u->protocol != HB_PROTO_HTTP11;
  int ws = strcasecmp(proto, "websocket") == 0;
  x->tunnel = 1;
  x->log_protocol = hb_arena_strndup(&x->log_arena, proto, strlen(proto));
  if (in_h2 && ds->rx_eof) {
    hb_exchange_fail(x, 400, "extended CONNECT with END_STREAM opens no tunnel");
    return;
  }
  hb_listener *lst = c->listener;
  if (c->ntunnels >= c->limits->max_tunnels) {
    hb_exchange_fail(x, 503, "too many tunnels on this connection (max_tunnels)");
    return;
  }
  if (lst && lst->ntunnels >= lst->cfg->limits.max_listener_tunnels) {
    hb_exchange_fail(x, 503, "too many tunnels on this listener (max_listener_tunnels)");
    return;
  }
  if (lst) {
    x->tunnel_listener = lst;
    lst->ntunnels++;
    c->ntunnels++;
  }
  if (!ws && in_h2 != out_h2) {
    hb_exchange_fail(x, 501, "only WebSocket tunnels are translated between HTTP/1.1 and HTTP/2");
    return;
  }
  if (ws && !in_h2) {
    int status;
    const char *reason;
    if (hb_ws_check_h1_request(&ds->head, &status, &reason) != 0) {
      hb_exchange_fail(x, status, reason);
      return;
    }
    const hb_field *k = hb_head_get(&ds->head, "sec-websocket-key");
    snprintf(x->client_key, sizeof(x->client_key), "%s", k->value);
  }
  hb_translate_ctx tctx = {.upstream_tls = pool->reverse || pool->u->tls,
                           .downstream_tls = c->ssl != NULL,
                           .client_addr = c->peer,
                           .x_forwarded_for = l && l->x_forwarded_for,
                           .forwarded = 0,
                           .via = in_h2 ? "2" : "1.1"};
  hb_head_free(&x->req);
  int rc = ws ? hb_ws_request_to_upstream(&ds->head, in_h2, out_h2, &tctx, &x->req, x->ws_key)
              : hb_translate_request_plain(&ds->head, &tctx, &x->req);
  if (rc != 0) {
    hb_head_init(&x->req, 1);
    hb_exchange_fail(x, 502, "cannot build the upstream handshake");
    return;
  }
  if (!ws) {
    /* Same-kind relay of another protocol: keep it and the method. */
    hb_head_set_pseudo(&x->req, HB_PSEUDO_PROTOCOL, proto, strlen(proto));
  }
  x->req_end = 0;
  x->tunnel_ws = ws;
  x->tunnel_in_h2 = in_h2;
  x->tunnel_out_h2 = out_h2;
  arm_timer(x, first_timeout(x, pool));
  hb_pool_acquire(pool, x);
}

/* Translates the downstream request into x->req for |pool|.  0 or
 * HB_ERR_NOMEM (x->req is then empty). */
static int translate_request(hb_exchange *x, hb_stream *ds, hb_pool *pool) {
  hb_conn *c = ds->conn;
  const hb_config_listener *l = c->listener ? c->listener->cfg : NULL;
  hb_translate_ctx tctx = {.upstream_tls = pool->reverse || pool->u->tls,
                           .downstream_tls = c->ssl != NULL,
                           .client_addr = c->peer,
                           .x_forwarded_for = l && l->x_forwarded_for,
                           .forwarded = l && l->forwarded,
                           .via = is_h2(c) ? "2" : "1.1"};
  hb_head_free(&x->req);
  if (hb_translate_request_plain(&ds->head, &tctx, &x->req) != 0) {
    hb_head_init(&x->req, 1);
    return HB_ERR_NOMEM;
  }
  return 0;
}

/* A refused upstream stream was never processed (RFC 9113 §8.7:
 * REFUSED_STREAM, or above the last stream id of a GOAWAY, as when an
 * origin drains): a request without a body goes back to the pool, which
 * picks another connection or waits for one.  A request whose body was
 * already being sent is not replayed (its bytes were consumed): it gets the
 * 502.  Returns 1 when it was re-queued. */
#define MAX_REFUSED_RETRIES 3
static int retry_refused(hb_exchange *x, const char *reason) {
  hb_stream *ds = x->ds;
  if (reason != hb_stream_refused || x->kind != HB_X_PROXY || x->response_started || x->tunnel || !x->req_end ||
      !ds || !x->pool || x->retries >= MAX_REFUSED_RETRIES)
    return 0;
  if (translate_request(x, ds, x->pool) != 0) return 0;
  x->retries++;
  hb_log_debug(x->conn_id, x->stream_id, "upstream refused the stream: sending the request again (%d)", x->retries);
  arm_timer(x, first_timeout(x, x->pool));
  hb_pool_acquire(x->pool, x);
  return 1;
}

void hb_exchange_on_request(hb_stream *ds) {
  hb_conn *c = ds->conn;
  hb_worker *w = c->w;
  const hb_config *cfg = c->gen->cfg;
  hb_exchange *x = hb_calloc(1, sizeof(*x));
  if (!x) {
    c->engine->reset(ds, 0x2);
    return;
  }
  x->w = w;
  x->gen = c->gen;
  hb_gen_ref(x->gen);
  x->ds = ds;
  ds->x = x;
  x->route = -1;
  x->start = ev_now(w->loop);
  x->conn_id = c->id;
  x->stream_id = ds->id;
  snprintf(x->client, sizeof(x->client), "%s", c->peer);
  x->listener_name = c->listener ? c->listener->cfg->name : NULL;
  snprintf(x->proto_in, sizeof(x->proto_in), "%s", proto_name(c));
  x->idle_after = c->limits->idle_timeout;
  hb_head_init(&x->req, 1);
  ev_init(&x->timer, timer_cb);
  x->timer.data = x;
  const hb_head *h = &ds->head;
  /* log_arena: zeroed by calloc, which is an empty arena */
  if (h->method) x->log_method = hb_arena_strndup(&x->log_arena, h->method, strlen(h->method));
  if (h->authority) x->log_authority = hb_arena_strndup(&x->log_arena, h->authority, strlen(h->authority));
  if (h->path) x->log_path = hb_arena_strndup(&x->log_arena, h->path, strlen(h->path));

  if (h->method && strcmp(h->method, "CONNECT") == 0 && !h->protocol) {
    hb_exchange_fail(x, 501, "CONNECT tunnels are not supported");
    return;
  }
  if (c->connector && hb_connector_on_request(x, c)) return;
  ssize_t li = c->listener ? (ssize_t)c->listener->idx : -1;
  ssize_t ki = c->connector ? (ssize_t)c->connector->idx : -1;
  x->route = hb_router_match(cfg, li, ki, h);
  if (x->route < 0) {
    hb_exchange_fail(x, 404, "no route matches this request");
    return;
  }
  const hb_config_route *r = &cfg->routes[x->route];
  hb_pool *pool = r->target == HB_TARGET_ORIGIN ? c->gen->opools[r->origin] : c->gen->pools[r->upstream];
  x->pool = pool;
  const hb_config_listener *l = c->listener ? c->listener->cfg : NULL;
  if (ds->tunnel) {
    if (!r->match_protocol) {
      /* Only routes that name the protocol carry tunnels. */
      if (hb_engine_is_h2(c->engine)) {
        hb_exchange_fail(x, 404, "no route carries this :protocol here");
        return;
      }
      ds->tunnel = 0; /* HTTP/1.1: forwarded as a plain request, Upgrade dropped */
    } else {
      start_tunnel(x, ds, pool, l);
      return;
    }
  }
  if (translate_request(x, ds, pool) != 0) {
    hb_exchange_fail(x, 502, "out of memory");
    return;
  }
  x->req_end = ds->rx_eof && hb_bufq_len(&ds->rx) == 0 && !ds->trailers;
  arm_timer(x, first_timeout(x, pool));
  hb_pool_acquire(pool, x);
}

int hb_exchange_attach(hb_exchange *x, hb_conn *c) {
  hb_stream *us = NULL;
  if (x->tunnel && x->tunnel_ws && x->tunnel_out_h2 != is_h2(c) && x->ds) {
    /* An rh1 origin: the handshake goes out as RFC 6455 after all. */
    hb_head req;
    hb_translate_ctx tctx = {.upstream_tls = 1, .client_addr = x->client, .via = x->tunnel_in_h2 ? "2" : "1.1"};
    if (hb_ws_request_to_upstream(&x->ds->head, x->tunnel_in_h2, is_h2(c), &tctx, &req, x->ws_key) != 0)
      return HB_ERR_NOMEM;
    hb_head_free(&x->req);
    x->req = req;
    x->tunnel_out_h2 = is_h2(c);
  }
  int rc = c->engine->open_stream(c, &x->req, x->req_end, &us);
  if (rc == HB_ERR_DECLINED) {
    hb_exchange_fail(x, 502, "upstream does not accept extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL)");
    return 0;
  }
  if (rc != 0) return rc;
  us->x = x;
  x->us = us;
  c->nout++;
  if (x->ds && x->pool && !x->pool->reverse && x->pool->u->protocol == HB_PROTO_HTTP11) {
    hb_conn *dc = x->ds->conn;
    size_t n = x->pool->gen->npools;
    if (!dc->pool_busy && (dc->pool_busy = hb_calloc(n, sizeof(uint32_t)))) dc->npool_busy = n;
    if (dc->pool_busy && x->pool->idx < dc->npool_busy) {
      dc->pool_busy[x->pool->idx]++;
      x->pool_quota = 1;
    }
  }
  /* The engine has serialized (h1) or copied (nghttp2) the head. */
  hb_head_free(&x->req);
  hb_head_init(&x->req, 1);
  if (x->pool)
    arm_timer(x, x->pool->reverse ? (x->ds ? x->ds->conn->limits->response_timeout : 60)
                                  : x->pool->limits->response_timeout);
  snprintf(x->proto_out, sizeof(x->proto_out), "%s", proto_name(c));
  if (x->req_end) hb_stream_take_eof(us);
  else c->engine->resume(us);
  return 0;
}

/* The upstream accepted the tunnel (101, or 2xx to CONNECT): answer the
 * client in its own variant and let bytes flow. */
static void tunnel_established(hb_exchange *x, hb_stream *us, hb_stream *ds) {
  int ws = x->log_protocol && strcasecmp(x->log_protocol, "websocket") == 0;
  if (ws && !is_h2(us->conn)) {
    const char *reason;
    if (hb_ws_check_h1_response(&us->head, x->ws_key, &reason) != 0) {
      hb_log_warn(us->conn->id, us->id, "%s", reason);
      hb_exchange_fail(x, 502, reason);
      return;
    }
  }
  hb_head h;
  int rc;
  if (ws) {
    rc = hb_ws_response_to_downstream(&us->head, is_h2(ds->conn), x->client_key, &h);
  } else {
    rc = hb_translate_response_plain(&us->head, &h);
    if (rc == 0 && !is_h2(ds->conn)) {
      const hb_field *up = hb_head_get(&us->head, "upgrade");
      if (up) rc = hb_head_add(&h, "upgrade", 7, up->value, up->valuelen);
    }
    h.content_length = -1;
  }
  if (rc != 0) {
    hb_exchange_fail(x, 502, "out of memory");
    return;
  }
  x->status = h.status; /* what the client got (101 or 200), for the access log */
  x->response_started = 1;
  x->tunnel_up = 1;
  x->idle_after = ds->conn->limits->tunnel_idle_timeout;
  arm_timer(x, x->idle_after);
  rc = ds->conn->engine->submit_response(ds, &h, 0);
  hb_head_free(&h);
  if (rc != 0) {
    hb_exchange_fail(x, 502, "cannot answer the tunnel request");
    return;
  }
  /* A tunnel may live for days: its heads are not needed any more. */
  hb_head_free(&ds->head);
  hb_head_init(&ds->head, 1);
  hb_head_free(&us->head);
  hb_head_init(&us->head, 0);
  ds->conn->engine->resume(ds);
  us->conn->engine->resume(us);
}

void hb_exchange_on_head(hb_stream *us) {
  hb_exchange *x = us->x;
  if (!x) return;
  if (x->kind == HB_X_AUTH) {
    if (us->head.status >= 100 && us->head.status < 200) return;
    hb_gateway_on_auth_head(x, us);
    return;
  }
  hb_stream *ds = x->ds;
  int status = us->head.status;
  if (!ds) return;
  if (status >= 100 && status < 200 && !(x->tunnel && us->tunnel && status == 101)) {
    if (status == 101) {
      hb_exchange_fail(x, 502, "upstream switched protocols without being asked");
      return;
    }
    hb_head h;
    if (hb_translate_response_plain(&us->head, &h) == 0) {
      ds->conn->engine->submit_response(ds, &h, 0);
      hb_head_free(&h);
    }
    return;
  }
  if (x->tunnel && us->tunnel) {
    tunnel_established(x, us, ds);
    return;
  }
  if (x->tunnel && status == 101) {
    hb_exchange_fail(x, 502, "upstream answered 101 to a tunnel request it refused");
    return;
  }
  if (x->tunnel && status / 100 == 2 && is_h2(ds->conn)) {
    /* An HTTP/1.1 upstream that answers an Upgrade with 2xx did not switch;
     * to an RFC 8441 client a 2xx would mean an open tunnel (101 confusion). */
    hb_exchange_fail(x, 502, "upstream answered the WebSocket upgrade without switching protocols");
    return;
  }
  hb_head h;
  if (hb_translate_response_plain(&us->head, &h) != 0) {
    hb_exchange_fail(x, 502, "out of memory");
    return;
  }
  int end = us->rx_eof && hb_bufq_len(&us->rx) == 0 && !us->trailers;
  x->status = status;
  x->response_started = 1;
  arm_timer(x, x->idle_after);
  int rc = ds->conn->engine->submit_response(ds, &h, end);
  hb_head_free(&h);
  if (rc != 0) {
    hb_exchange_fail(x, 502, "cannot send the response head");
    return;
  }
  if (end) hb_stream_take_eof(ds);
  else ds->conn->engine->resume(ds);
}

void hb_exchange_on_data(hb_stream *s) {
  hb_exchange *x = s->x;
  if (!x) return;
  touch(x);
  hb_stream *p = hb_stream_peer(s);
  if (p && p->conn) p->conn->engine->resume(p);
}

void hb_exchange_on_close(hb_stream *s) {
  hb_exchange *x = s->x;
  if (!x) return;
  int was_ds = x->ds == s;
  detach(x, s);
  if (was_ds) {
    /* The downstream finished; an upstream still running has nobody to serve. */
    hb_stream *us = x->us;
    if (us && us != &x->local && !(us->rx_eof && us->tx_eof)) {
      detach(x, us);
      us->conn->engine->reset(us, 0x8);
    }
  } else if (x->ds) {
    /* Let the downstream notice that its peer is gone (a request body it
     * never finished sending will not be read). */
    x->ds->conn->engine->resume(x->ds);
  }
  maybe_finish(x);
}

void hb_exchange_on_reset(hb_stream *s, const char *reason) {
  hb_exchange *x = s->x;
  if (!x) return;
  if (x->kind == HB_X_AUTH) {
    detach(x, s);
    hb_gateway_auth_failed(x, reason);
    return;
  }
  if (x->us == s) {
    detach(x, s);
    if (retry_refused(x, reason)) return;
    if (!x->response_started) {
      hb_exchange_fail(x, 502, reason);
      return;
    }
    if (!x->error) x->error = reason;
    hb_stream *ds = x->ds;
    if (ds) {
      detach(x, ds);
      /* RFC 8441 §5: a tunnel's failure is CONNECT_ERROR. */
      ds->conn->engine->reset(ds, x->tunnel_up ? 0xa : 0x2 /* INTERNAL_ERROR */);
    }
  } else {
    if (!x->error) x->error = reason;
    detach(x, s);
    hb_stream *us = x->us;
    if (us && us != &x->local) {
      detach(x, us);
      us->conn->engine->reset(us, x->tunnel_up ? 0xa /* CONNECT_ERROR */ : 0x8 /* CANCEL */);
    }
    if (x->waiting && x->pool) hb_pool_cancel(x->pool, x);
  }
  maybe_finish(x);
}
