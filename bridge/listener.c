/* listener.c: listening sockets and accept.  See listener.h.  Accept errors
 * from descriptor exhaustion pause the accept watcher for a moment instead of
 * spinning; the per-listener connection cap pauses it the same way. */
#include "listener.h"
#include "h2x_ext.h"
#include "conn.h"
#include "errors.h"
#include "log.h"
#include "mem.h"
#include "tls.h"
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents);
static int listener_setup(hb_listener *l, char *err, size_t errlen);
static void backoff_cb(struct ev_loop *loop, ev_timer *w, int revents);

int hb_listener_init(hb_listener *l, hb_gen *gen, size_t idx, const hb_listener *prev, char *err, size_t errlen) {
  memset(l, 0, sizeof(*l));
  hb_worker *w = gen->w;
  l->w = w;
  l->gen = gen;
  l->idx = idx;
  l->cfg = &gen->cfg->listeners[idx];
  l->fd = -1;
  const hb_config_listener *lc = l->cfg;
  if (prev) {
    /* Same address as a listener of the generation being replaced: share
     * its socket (a duplicate descriptor) instead of binding again. */
    l->fd = fcntl(prev->fd, F_DUPFD_CLOEXEC, 0);
    if (l->fd < 0) {
      snprintf(err, errlen, "listener %s: dup: %s", lc->name, strerror(errno));
      return HB_ERR_IO;
    }
    return listener_setup(l, err, errlen);
  }
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int rc = getaddrinfo(lc->host && lc->host[0] ? lc->host : NULL, lc->port, &hints, &res);
  if (rc != 0 || !res) {
    snprintf(err, errlen, "%s:%d:%d: listener %s: cannot resolve '%s': %s", lc->pos.file, lc->pos.line,
             lc->pos.col, lc->name, lc->listen, gai_strerror(rc));
    return HB_ERR_CONFIG;
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(err, errlen, "listener %s: socket: %s", lc->name, strerror(errno));
    freeaddrinfo(res);
    return HB_ERR_IO;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (res->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 511) != 0) {
    snprintf(err, errlen, "%s:%d:%d: listener %s: cannot listen on %s: %s", lc->pos.file, lc->pos.line,
             lc->pos.col, lc->name, lc->listen, strerror(errno));
    close(fd);
    freeaddrinfo(res);
    return HB_ERR_IO;
  }
  freeaddrinfo(res);
  l->fd = fd;
  return listener_setup(l, err, errlen);
}

/* TLS context, RFC 8441 advertisement and watchers of a bound listener. */
static int listener_setup(hb_listener *l, char *err, size_t errlen) {
  const hb_config_listener *lc = l->cfg;
  const hb_config *cfg = l->gen->cfg;
  size_t idx = l->idx;
  if (lc->tls) {
    char why[256];
    if (hb_tls_server_ctx_new(cfg, lc, &l->ssl_ctx, why, sizeof(why)) != 0) {
      snprintf(err, errlen, "%s:%d:%d: listener %s: %s", lc->pos.file, lc->pos.line, lc->pos.col, lc->name, why);
      return HB_ERR_CONFIG;
    }
  }
  /* Advertise RFC 8441 only where a route can carry a tunnel. */
  for (size_t i = 0; i < cfg->nroutes; i++) {
    const hb_config_route *r = &cfg->routes[i];
    if (r->match_protocol && !r->match_connector && (r->listener < 0 || (size_t)r->listener == idx))
      l->h2_connect_protocol = 1;
  }
  if (l->cfg->nextensions) {
    /* Built once per listener; every h2x conn of it points here. */
    l->ext_defs = hb_malloc(sizeof(*l->ext_defs));
    if (!l->ext_defs) {
      snprintf(err, errlen, "out of memory");
      return HB_ERR_NOMEM;
    }
    if (hb_h2x_ext_defs_build(l->ext_defs, (const char *const *)l->cfg->extensions, l->cfg->nextensions, NULL, err,
                              errlen) != 0)
      return HB_ERR_CONFIG;
  }
  ev_io_init(&l->io, accept_cb, l->fd, EV_READ);
  l->io.data = l;
  ev_init(&l->backoff, backoff_cb);
  l->backoff.data = l;
  return 0;
}

void hb_listener_start(hb_listener *l) {
  if (l->fd >= 0) ev_io_start(l->w->loop, &l->io);
}

void hb_listener_stop(hb_listener *l) {
  ev_io_stop(l->w->loop, &l->io);
  ev_timer_stop(l->w->loop, &l->backoff);
}

void hb_listener_retire(hb_listener *l) {
  l->retired = 1;
  hb_listener_stop(l);
  if (l->fd >= 0) close(l->fd);
  l->fd = -1;
}

void hb_listener_free(hb_listener *l) {
  hb_listener_stop(l);
  if (l->fd >= 0) close(l->fd);
  l->fd = -1;
  if (l->ssl_ctx) SSL_CTX_free(l->ssl_ctx);
  l->ssl_ctx = NULL;
  hb_free(l->ext_defs);
  l->ext_defs = NULL;
}

static void pause_accept(hb_listener *l, double secs) {
  ev_io_stop(l->w->loop, &l->io);
  ev_timer_set(&l->backoff, secs, 0);
  ev_timer_start(l->w->loop, &l->backoff);
}

static void backoff_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  hb_listener *l = w->data;
  if (!l->w->draining && !l->retired) hb_listener_start(l);
}

void hb_listener_conn_gone(hb_listener *l) {
  l->nconns--;
  if (!l->w->draining && !l->retired && l->nconns < l->cfg->limits.max_connections && !ev_is_active(&l->io) &&
      !ev_is_active(&l->backoff))
    hb_listener_start(l);
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t len) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ss;
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
    snprintf(out, len, "%s:%d", host, port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ss;
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
    snprintf(out, len, "[%s]:%d", host, port);
  } else {
    snprintf(out, len, "unknown");
  }
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents) {
  (void)loop;
  (void)revents;
  hb_listener *l = w->data;
  for (int i = 0; i < 64; i++) {
    if (l->nconns >= l->cfg->limits.max_connections) {
      hb_log_warn(0, -1, "listener %s: %zu connections, the configured maximum: pausing accept", l->cfg->name,
                  l->nconns);
      ev_io_stop(l->w->loop, &l->io);
      return;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) return;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* One line per episode, not one per 100 ms retry. */
        if (l->accept_failures++ == 0)
          hb_log_err(0, -1, "listener %s: accept: %s: pausing accept, retrying every 100ms", l->cfg->name,
                     strerror(errno));
        pause_accept(l, 0.1);
        return;
      }
      hb_log_err(0, -1, "listener %s: accept: %s", l->cfg->name, strerror(errno));
      return;
    }
    if (l->accept_failures) {
      hb_log_info(0, -1, "listener %s: accepting again after %llu failed tries", l->cfg->name,
                  (unsigned long long)l->accept_failures);
      l->accept_failures = 0;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    hb_conn *c = hb_conn_new(l->w, l->gen, fd, HB_CONN_ACCEPTED, &l->cfg->limits);
    if (!c) continue;
    c->listener = l;
    c->http_server = 1; /* until ALPN says rh1/rh2 */
    l->nconns++;
    format_addr(&ss, c->peer, sizeof(c->peer));
    SSL *ssl = NULL;
    if (l->ssl_ctx) {
      ssl = SSL_new(l->ssl_ctx);
      if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        hb_conn_close(c, "TLS setup failed");
        continue;
      }
      SSL_set_accept_state(ssl);
    }
    hb_log_debug(c->id, -1, "accepted %s on %s", c->peer, l->cfg->name);
    hb_conn_start(c, ssl);
  }
}
