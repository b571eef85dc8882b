/* pool.c: upstream connection pools.  See pool.h.  Exchanges that find no
 * capacity wait in a FIFO (bounded by their own response timeout) while the
 * pool dials, up to the upstream's max_connections. */
#include "pool.h"
#include "conn.h"
#include "gateway.h"
#include "reverse_auth.h"
#include "engine.h"
#include "errors.h"
#include "exchange.h"
#include "log.h"
#include "mem.h"
#include "secret.h"
#include "tls.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int hb_pool_init(hb_pool *p, hb_gen *gen, size_t idx, char *err, size_t errlen) {
  memset(p, 0, sizeof(*p));
  p->w = gen->w;
  p->gen = gen;
  p->idx = idx;
  p->u = &gen->cfg->upstreams[idx];
  p->name = p->u->name;
  p->limits = &p->u->limits;
  p->max_streams_per_conn = (size_t)p->u->max_streams_per_connection;
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(p->u->host, p->u->port, &hints, &res);
  if (rc != 0 || !res) {
    snprintf(err, errlen, "%s:%d:%d: upstream %s: cannot resolve '%s': %s", p->u->pos.file, p->u->pos.line,
             p->u->pos.col, p->u->name, p->u->address, gai_strerror(rc));
    return HB_ERR_CONFIG;
  }
  memcpy(&p->addr, res->ai_addr, res->ai_addrlen);
  p->addrlen = res->ai_addrlen;
  freeaddrinfo(res);
  if (p->u->tls) {
    char why[256];
    if (hb_tls_client_ctx_new(gen->cfg, p->u, &p->ssl_ctx, why, sizeof(why)) != 0) {
      snprintf(err, errlen, "%s:%d:%d: upstream %s: %s", p->u->pos.file, p->u->pos.line, p->u->pos.col,
               p->u->name, why);
      return HB_ERR_CONFIG;
    }
  }
  return 0;
}

int hb_pool_init_origin(hb_pool *p, hb_gen *gen, size_t idx, char *err, size_t errlen) {
  memset(p, 0, sizeof(*p));
  p->w = gen->w;
  p->gen = gen;
  p->idx = idx;
  p->reverse = 1;
  p->origin = &gen->cfg->origins[idx];
  p->name = p->origin->name;
  p->limits = &gen->cfg->defaults;
  p->max_streams_per_conn = (size_t)gen->cfg->defaults.max_streams;
  const hb_config_origin *o = p->origin;
  char why[256];
  if (o->auth_ca && !(p->auth_store = hb_tls_ca_store(o->auth_ca, why, sizeof(why)))) goto fail;
  if (o->auth_hmac_key_file && !(p->auth_key = hb_secret_read(o->auth_hmac_key_file, &p->auth_keylen, why, sizeof(why))))
    goto fail;
  return 0;
fail:
  snprintf(err, errlen, "%s:%d:%d: origin %s: %s", o->pos.file, o->pos.line, o->pos.col, o->name, why);
  return HB_ERR_CONFIG;
}

void hb_pool_free(hb_pool *p) {
  if (p->ssl_ctx) SSL_CTX_free(p->ssl_ctx);
  if (p->auth_store) X509_STORE_free(p->auth_store);
  hb_secret_free(p->auth_key, p->auth_keylen);
  p->auth_store = NULL;
  p->auth_key = NULL;
  hb_free(p->conns);
  p->conns = NULL;
}

static void wait_push(hb_pool *p, hb_exchange *x) {
  x->wnext = NULL;
  if (p->wtail) p->wtail->wnext = x;
  else p->whead = x;
  p->wtail = x;
  p->nwait++;
  x->waiting = 1;
}

void hb_pool_cancel(hb_pool *p, hb_exchange *x) {
  if (!x->waiting) return;
  hb_exchange **pp = &p->whead, *prev = NULL;
  while (*pp && *pp != x) {
    prev = *pp;
    pp = &(*pp)->wnext;
  }
  if (*pp) {
    *pp = x->wnext;
    if (p->wtail == x) p->wtail = prev;
    p->nwait--;
  }
  x->waiting = 0;
  x->wnext = NULL;
}

static int conn_add(hb_pool *p, hb_conn *c) {
  if (p->nconns == p->capconns) {
    size_t ncap = p->capconns ? p->capconns * 2 : 8;
    hb_conn **n = hb_realloc(p->conns, ncap * sizeof(*n));
    if (!n) return HB_ERR_NOMEM;
    p->conns = n;
    p->capconns = ncap;
  }
  p->conns[p->nconns++] = c;
  return 0;
}

static int dial(hb_pool *p) {
  const hb_config_upstream *u = p->u;
  int fd = socket(p->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    p->last_error = "cannot create a socket";
    return HB_ERR_IO;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int rc = connect(fd, (struct sockaddr *)&p->addr, p->addrlen);
  if (rc != 0 && errno != EINPROGRESS) {
    hb_log_warn(0, -1, "upstream %s: connect to %s failed: %s", u->name, u->address, strerror(errno));
    p->last_error = "upstream connect failed";
    close(fd);
    return HB_ERR_IO;
  }
  hb_conn *c = hb_conn_new(p->w, p->gen, fd, HB_CONN_DIALED, &u->limits);
  if (!c) {
    p->last_error = "out of memory";
    return HB_ERR_NOMEM;
  }
  snprintf(c->peer, sizeof(c->peer), "%s", u->address);
  c->pool = p;
  if (conn_add(p, c) != 0) {
    c->pool = NULL;
    hb_conn_close(c, "out of memory");
    p->last_error = "out of memory";
    return HB_ERR_NOMEM;
  }
  SSL *ssl = NULL;
  if (p->ssl_ctx) {
    ssl = hb_tls_client_new(p->ssl_ctx, fd, u->tls_sni ? u->tls_sni : u->host, u->tls_verify);
    if (!ssl) {
      hb_conn_close(c, "TLS setup failed");
      p->last_error = "TLS setup failed";
      return HB_ERR_NOMEM;
    }
  }
  p->nconnecting++;
  c->pool_connecting = 1;
  hb_conn_start(c, ssl);
  return 0;
}

/* True when conn |c| of |p| may carry the request of |x|: open, and for an
 * origin, authorized for its authority and path (potato §5.3). */
static int conn_fits(const hb_pool *p, const hb_conn *c, const hb_exchange *x) {
  if (c->state != HB_CONN_OPEN) return 0;
  if (!p->reverse) return 1;
  return c->reverse && c->reverse->authorized && hb_rauth_grant_covers(&c->reverse->grant, x->req.authority, x->req.path);
}

/* Fairness on HTTP/1.1 pools (one exchange per connection): one downstream
 * connection may hold at most half of the pool's connections, so a client
 * that pins its streams (a zero-window reader) cannot starve the others. */
static int over_quota(const hb_pool *p, const hb_exchange *x) {
  if (p->reverse || p->u->protocol != HB_PROTO_HTTP11 || !x->ds) return 0;
  const hb_conn *dc = x->ds->conn;
  uint64_t cap = p->u->max_connections / 2;
  if (cap < 1) cap = 1;
  return dc->pool_busy && p->idx < dc->npool_busy && dc->pool_busy[p->idx] >= cap;
}

/* Tries to start |x| on an open conn, the least loaded first.  0 when
 * attached (or answered). */
static int try_attach(hb_pool *p, hb_exchange *x) {
  if (over_quota(p, x)) return HB_ERR_AGAIN;
  uint64_t tried = 0; /* bitmap over the first 64 conns; beyond that in order */
  for (size_t round = 0; round < p->nconns; round++) {
    hb_conn *best = NULL;
    size_t bi = 0;
    for (size_t i = 0; i < p->nconns; i++) {
      hb_conn *c = p->conns[i];
      if ((i < 64 && (tried & (1ull << i))) || !conn_fits(p, c, x)) continue;
      if (!best || c->nout < best->nout) {
        best = c;
        bi = i;
      }
      if (i >= 64) break;
    }
    if (!best) break;
    if (bi < 64) tried |= 1ull << bi;
    int rc = hb_exchange_attach(x, best);
    if (rc == 0) return 0;
    if (rc != HB_ERR_AGAIN) {
      hb_exchange_fail(x, 502, "cannot send the request upstream");
      return 0;
    }
    if (bi >= 64) break;
  }
  return HB_ERR_AGAIN;
}

/* Dials when the waiters outnumber the connections being set up. */
static void maybe_dial(hb_pool *p) {
  if (p->reverse) return; /* origins dial us */
  size_t per_conn = p->u->protocol == HB_PROTO_HTTP11 ? 1 : (size_t)p->u->max_streams_per_connection;
  while (p->nwait > p->nconnecting * per_conn && p->nconns < p->u->max_connections) {
    if (dial(p) != 0) {
      if (p->nconnecting == 0) {
        /* Nothing on the way: the waiters cannot be served. */
        while (p->whead) {
          hb_exchange *x = p->whead;
          hb_pool_cancel(p, x);
          hb_exchange_fail(x, 502, p->last_error ? p->last_error : "upstream connect failed");
        }
      }
      return;
    }
  }
}

void hb_pool_acquire(hb_pool *p, hb_exchange *x) {
  /* Try even with waiters queued: they may be held back by their quota. */
  if (try_attach(p, x) == 0) return;
  wait_push(p, x);
  maybe_dial(p);
}

void hb_pool_on_capacity(hb_conn *c) {
  hb_pool *p = c->pool;
  if (!p) return;
  if (c->pool_connecting) {
    c->pool_connecting = 0;
    p->nconnecting--;
  }
  if (p->reverse) {
    /* Waiters in order, each only where the conn's grant covers it. */
    for (hb_exchange *x = p->whead, *next; x && c->state == HB_CONN_OPEN; x = next) {
      next = x->wnext;
      if (!conn_fits(p, c, x)) continue;
      hb_pool_cancel(p, x);
      int rc = hb_exchange_attach(x, c);
      if (rc == HB_ERR_AGAIN) {
        wait_push(p, x); /* to the back: the conn is full for now */
        break;
      }
      if (rc != 0) hb_exchange_fail(x, 502, "cannot send the request to the origin");
    }
    return;
  }
  for (hb_exchange *x = p->whead, *next; x && c->state == HB_CONN_OPEN; x = next) {
    next = x->wnext;
    if (over_quota(p, x)) continue; /* its client holds its share: the next one */
    hb_pool_cancel(p, x);
    int rc = hb_exchange_attach(x, c);
    if (rc == HB_ERR_AGAIN) {
      /* back where it was: the conn is full for now */
      x->wnext = p->whead;
      p->whead = x;
      if (!p->wtail) p->wtail = x;
      p->nwait++;
      x->waiting = 1;
      break;
    }
    if (rc != 0) hb_exchange_fail(x, 502, "cannot send the request upstream");
  }
  if (p->whead) maybe_dial(p);
}

int hb_pool_add_origin_conn(hb_pool *p, hb_conn *c) {
  if (conn_add(p, c) != 0) return HB_ERR_NOMEM;
  c->pool = p;
  hb_pool_on_capacity(c);
  return 0;
}

void hb_pool_on_gone(hb_conn *c, const char *reason) {
  hb_pool *p = c->pool;
  for (size_t i = 0; i < p->nconns; i++) {
    if (p->conns[i] == c) {
      p->conns[i] = p->conns[--p->nconns];
      break;
    }
  }
  c->pool = NULL;
  if (p->reverse) return; /* waiters wait for another origin until wait_for_origin */
  if (c->pool_connecting) {
    c->pool_connecting = 0;
    p->nconnecting--;
    if (!p->last_error) p->last_error = reason;
    /* A failed dial fails the waiters it was meant for, unless another dial
     * or open conn can still take them. */
    size_t open = 0;
    for (size_t i = 0; i < p->nconns; i++)
      if (p->conns[i]->state == HB_CONN_OPEN) open++;
    if (open == 0 && p->nconnecting == 0) {
      const char *why = p->last_error ? p->last_error : "upstream connect failed";
      while (p->whead) {
        hb_exchange *x = p->whead;
        hb_pool_cancel(p, x);
        int status = strstr(why, "timed out") ? 504 : 502;
        hb_exchange_fail(x, status, why);
      }
    }
    p->last_error = NULL;
    return;
  }
  if (p->whead) maybe_dial(p);
}
