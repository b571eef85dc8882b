/* connector.c: origin-side dialer of reversed HTTP.  See connector.h. */
#include "connector.h"
#include "conn.h"
#include "engine.h"
#include "errors.h"
#include "exchange.h"
#include "log.h"
#include "mem.h"
#include "reverse_auth.h"
#include "secret.h"
#include "stream.h"
#include "tls.h"
#include "worker.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents);

int hb_connector_init(hb_connector *k, hb_gen *gen, size_t idx, char *err, size_t errlen) {
  memset(k, 0, sizeof(*k));
  k->gen = gen;
  k->idx = idx;
  k->cfg = &gen->cfg->connectors[idx];
  const hb_config_connector *kc = k->cfg;
  char why[256];
  if (hb_tls_connector_ctx_new(gen->cfg, kc, &k->ssl_ctx, why, sizeof(why)) != 0) {
    snprintf(err, errlen, "%s", why);
    return HB_ERR_CONFIG;
  }
  k->addrs = hb_calloc(kc->ngateways, sizeof(*k->addrs));
  k->addrlens = hb_calloc(kc->ngateways, sizeof(*k->addrlens));
  k->hosts = hb_calloc(kc->ngateways, sizeof(*k->hosts));
  size_t nmax = HB_MAX(kc->connections ? kc->connections : 1, kc->max_connections);
  k->slots = hb_calloc(nmax, sizeof(*k->slots));
  if (!k->addrs || !k->addrlens || !k->hosts || !k->slots) return HB_ERR_NOMEM;
  for (size_t i = 0; i < kc->ngateways; i++) {
    char *host = NULL, *port = NULL;
    if (hb_parse_hostport(kc->gateways[i], &host, &port) != 0) {
      snprintf(err, errlen, "%s:%d:%d: connector %s: bad gateway address '%s'", kc->pos.file, kc->pos.line,
               kc->pos.col, kc->name, kc->gateways[i]);
      return HB_ERR_CONFIG;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) {
      snprintf(err, errlen, "%s:%d:%d: connector %s: cannot resolve '%s': %s", kc->pos.file, kc->pos.line,
               kc->pos.col, kc->name, kc->gateways[i], gai_strerror(rc));
      hb_free(host);
      hb_free(port);
      return HB_ERR_CONFIG;
    }
    memcpy(&k->addrs[i], res->ai_addr, res->ai_addrlen);
    k->addrlens[i] = res->ai_addrlen;
    freeaddrinfo(res);
    k->hosts[i] = host;
    hb_free(port);
    k->naddrs++;
  }
  size_t len = 0;
  if (kc->token_file) {
    k->token = (char *)hb_secret_read(kc->token_file, &len, why, sizeof(why));
    if (!k->token) goto secret_fail;
    while (len > 0 && (k->token[len - 1] == '\n' || k->token[len - 1] == '\r')) len--;
    k->token[len] = '\0';
  }
  if (kc->hmac_key_file) {
    k->key = hb_secret_read(kc->hmac_key_file, &k->keylen, why, sizeof(why));
    if (!k->key) goto secret_fail;
  }
  for (size_t i = 0; i < gen->cfg->nroutes; i++) {
    const hb_config_route *r = &gen->cfg->routes[i];
    if (r->match_protocol && !r->match_listener && (!r->match_connector || (size_t)r->connector == idx))
      k->h2_connect_protocol = 1;
  }
  unsigned char rnd[8];
  if (RAND_bytes(rnd, sizeof(rnd)) != 1) memset(rnd, 0, sizeof(rnd));
  for (int i = 0; i < 8; i++) snprintf(k->instance + 2 * i, 3, "%02x", rnd[i]);
  k->nbase = kc->connections ? (size_t)kc->connections : 1;
  k->nslots = HB_MAX(k->nbase, (size_t)kc->max_connections);
  for (size_t i = 0; i < k->nslots; i++) {
    hb_connector_slot *s = &k->slots[i];
    s->k = k;
    s->i = i;
    s->backoff = kc->backoff_initial > 0 ? kc->backoff_initial : 0.1;
    ev_init(&s->retry, retry_cb);
    s->retry.data = s;
  }
  return 0;
secret_fail:
  snprintf(err, errlen, "%s:%d:%d: connector %s: %s", kc->pos.file, kc->pos.line, kc->pos.col, kc->name, why);
  return HB_ERR_CONFIG;
}

static void dial(hb_connector_slot *s);

static void schedule(hb_connector_slot *s) {
  hb_connector *k = s->k;
  if (k->stopped || k->gen->w->draining) return;
  /* Full jitter over [backoff/2, backoff]: reconnecting origins spread out. */
  uint32_t r = 0;
  RAND_bytes((unsigned char *)&r, sizeof(r));
  double delay = s->backoff * (0.5 + 0.5 * (r / 4294967295.0));
  double max = k->cfg->backoff_max > 0 ? k->cfg->backoff_max : 30;
  s->backoff = HB_MIN(s->backoff * 2, max);
  ev_timer_set(&s->retry, delay, 0);
  ev_timer_start(k->gen->w->loop, &s->retry);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  dial(w->data);
}

static void dial(hb_connector_slot *s) {
  hb_connector *k = s->k;
  hb_worker *w = k->gen->w;
  if (k->stopped || w->draining || s->c || k->naddrs == 0) return;
  size_t gi = k->next_gw++ % k->naddrs;
  if (s->avoid_gw && k->naddrs > 1 && gi == s->gw) gi = k->next_gw++ % k->naddrs;
  s->avoid_gw = 0;
  int fd = socket(k->addrs[gi].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    schedule(s);
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, (struct sockaddr *)&k->addrs[gi], k->addrlens[gi]) != 0 && errno != EINPROGRESS) {
    hb_log_warn(0, -1, "connector %s: connect to %s failed: %s", k->cfg->name, k->cfg->gateways[gi], strerror(errno));
    close(fd);
    schedule(s);
    return;
  }
  hb_conn *c = hb_conn_new(w, k->gen, fd, HB_CONN_DIALED, &k->gen->cfg->defaults);
  if (!c) {
    schedule(s);
    return;
  }
  snprintf(c->peer, sizeof(c->peer), "%s", k->cfg->gateways[gi]);
  c->connector = k;
  c->connector_slot = s->i;
  c->http_server = 1;
  s->c = c;
  s->gw = gi;
  s->authorized = 0;
  const char *sni = k->cfg->tls_sni ? k->cfg->tls_sni : k->hosts[gi];
  SSL *ssl = hb_tls_client_new(k->ssl_ctx, fd, sni, 1);
  if (!ssl) {
    hb_conn_close(c, "TLS setup failed");
    return;
  }
  hb_log_debug(c->id, -1, "connector %s: dialing gateway %s (%s)", k->cfg->name, c->peer, k->cfg->protocol);
  hb_conn_start(c, ssl);
}

void hb_connector_start(hb_connector *k) {
  for (size_t i = 0; i < k->nbase; i++) dial(&k->slots[i]);
}

/* rh1 carries one exchange per connection: when every connection is busy,
 * dial one more (up to max_connections) so waiting requests get a path.
 * Grown connections are not redialed when they end (idle_timeout ends them). */
static void maybe_grow(hb_connector *k) {
  size_t free_slot = k->nslots;
  for (size_t i = 0; i < k->nslots; i++) {
    hb_conn *c = k->slots[i].c;
    if (!c) {
      if (i >= k->nbase && free_slot == k->nslots) free_slot = i;
      continue;
    }
    if (c->state != HB_CONN_OPEN || (c->engine && c->engine->idle(c))) return; /* one is free or coming */
  }
  if (free_slot == k->nslots) return;
  hb_log_info(0, -1, "connector %s: all %s connections busy: opening another", k->cfg->name, k->cfg->protocol);
  dial(&k->slots[free_slot]);
}

void hb_connector_stop(hb_connector *k) {
  k->stopped = 1;
  for (size_t i = 0; i < k->nslots; i++) ev_timer_stop(k->gen->w->loop, &k->slots[i].retry);
}

void hb_connector_free(hb_connector *k) {
  if (k->gen) hb_connector_stop(k);
  for (size_t i = 0; i < k->nslots; i++)
    if (k->slots[i].c) k->slots[i].c->connector = NULL;
  for (size_t i = 0; i < k->naddrs; i++) hb_free(k->hosts[i]);
  hb_secret_free(k->token, k->token ? strlen(k->token) : 0);
  hb_secret_free(k->key, k->keylen);
  hb_free(k->hosts);
  hb_free(k->addrs);
  hb_free(k->addrlens);
  hb_free(k->slots);
  if (k->ssl_ctx) SSL_CTX_free(k->ssl_ctx);
  memset(k, 0, sizeof(*k));
}

void hb_connector_on_ready(hb_conn *c) {
  hb_connector *k = c->connector;
  hb_log_info(c->id, -1, "connector %s: connected to gateway %s over %s", k->cfg->name, c->peer, c->alpn);
  /* A gateway that vanished without a FIN is found by PING, and redialed. */
  double iv = c->limits->ping_interval > 0 ? c->limits->ping_interval : 10;
  if (c->engine->keepalive) c->engine->keepalive(c, iv, iv / 2);
  /* Dialed before a drain or reload stopped us: it would serve until
   * drain_timeout (or for good, after a reload) -- drain it now. */
  if (k->stopped || k->gen->w->draining) c->engine->drain(c);
}

void hb_connector_on_goaway(hb_conn *c) {
  hb_connector *k = c->connector;
  if (!k) return;
  if (c->engine && c->engine->drain) c->engine->drain(c);
  hb_connector_slot *s = &k->slots[c->connector_slot];
  if (s->c != c) return; /* already replaced (a reload, or a stale registration) */
  s->c = NULL;           /* on_gone of |c| leaves the slot alone from now on */
  if (k->stopped || k->gen->w->draining || s->i >= k->nbase) return;
  hb_log_info(c->id, -1, "connector %s: gateway %s is draining this connection: dialing a replacement",
              k->cfg->name, c->peer);
  s->avoid_gw = 1;
  if (s->authorized) s->backoff = k->cfg->backoff_initial > 0 ? k->cfg->backoff_initial : 0.1;
  schedule(s);
}

void hb_connector_on_gone(hb_conn *c, const char *reason) {
  hb_connector *k = c->connector;
  if (!k) return;
  c->connector = NULL;
  hb_connector_slot *s = &k->slots[c->connector_slot];
  if (s->c != c) return;
  s->c = NULL;
  if (c->auth_refused) {
    if (k->cfg->on_auth_failure && strcmp(k->cfg->on_auth_failure, "exit") == 0) {
      hb_log_err(c->id, -1, "connector %s: gateway %s refused our authorization; on_auth_failure is exit",
                 k->cfg->name, c->peer);
      k->gen->w->exit_code = 3;
      hb_connector_stop(k);
      hb_worker_drain(k->gen->w);
      return;
    }
    hb_log_warn(c->id, -1, "connector %s: gateway %s refused our authorization; retrying", k->cfg->name, c->peer);
  } else {
    hb_log_info(c->id, -1, "connector %s: connection to %s ended: %s", k->cfg->name, c->peer,
                reason ? reason : "-");
  }
  if (s->i >= k->nbase) return; /* a grown rh1 connection: not kept up */
  if (s->authorized && !c->auth_refused) /* it worked: start over gently */
    s->backoff = k->cfg->backoff_initial > 0 ? k->cfg->backoff_initial : 0.1;
  schedule(s);
}

int hb_connector_on_request(hb_exchange *x, hb_conn *c) {
  hb_connector *k = c->connector;
  hb_stream *ds = x->ds;
  const hb_field *ch = hb_head_get(&ds->head, "h2bridge-challenge");
  if (!k) return 0;
  if (!ch) {
    if (!hb_engine_is_h2(c->engine) && k->nslots > k->nbase) maybe_grow(k);
    return 0;
  }
  hb_head h;
  const hb_config_connector *kc = k->cfg;
  if (hb_rauth_answer(ch->value, k->token, k->key, k->keylen, kc->authorities, kc->nauthorities, kc->paths,
                      kc->npaths, &h) != 0) {
    hb_exchange_fail(x, 500, "cannot build the authorization answer");
    return 1;
  }
  /* Lets the gateway replace this slot's previous connection at once. */
  char oid[64];
  int n = snprintf(oid, sizeof(oid), "%s-%zu", k->instance, c->connector_slot);
  hb_head_add(&h, "h2bridge-origin-id", 18, oid, (size_t)n);
  hb_connector_slot *s = &k->slots[c->connector_slot];
  s->authorized = 1;
  s->backoff = kc->backoff_initial > 0 ? kc->backoff_initial : 0.1;
  hb_log_info(c->id, ds->id, "connector %s: answered the gateway's authorization request", kc->name);
  /* After a reload: this conn replaces one of the previous generation's. */
  hb_worker *w = k->gen->w;
  for (hb_conn *o = w->conns; o; o = o->next) {
    if (o->gen != k->gen && o->connector && o->connector->stopped && strcmp(o->connector->cfg->name, kc->name) == 0 &&
        o->state == HB_CONN_OPEN && !o->replaced) {
      o->replaced = 1;
      hb_log_info(o->id, -1, "connector %s: replaced after reload; draining", kc->name);
      o->engine->drain(o);
      break;
    }
  }
  hb_exchange_answer(x, &h, NULL, 0);
  hb_head_free(&h);
  return 1;
}
