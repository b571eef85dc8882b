/* gateway.c: the gateway role of reversed HTTP.  See gateway.h.  An origin
 * conn is authorized in up to three steps, all of which must pass for the
 * origin it claims: its TLS client certificate (pin and/or CA), then the
 * challenge request (token or HMAC proof), and the grant is the config's
 * scope narrowed by what the origin announces.  Refusals say why in the log
 * and, on rh2, in the GOAWAY's debug data; the origin then gets no request. */
#include "gateway.h"
#include "conn.h"
#include "engine.h"
#include "errors.h"
#include "exchange.h"
#include "listener.h"
#include "log.h"
#include "mem.h"
#include "pool.h"
#include "stream.h"
#include "tls.h"
#include "worker.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int has_protocol(const hb_config_origin *o, const char *alpn) {
  for (size_t i = 0; i < o->nprotocols; i++)
    if (strcmp(o->protocols[i], alpn) == 0) return 1;
  return 0;
}

/* Compares hex fingerprints ignoring case and colons. */
static int pin_matches(const char *pin, const char *fp) {
  size_t j = 0;
  for (const char *p = pin; *p; p++) {
    if (*p == ':') continue;
    char c = (*p >= 'A' && *p <= 'F') ? (char)(*p + 32) : *p;
    if (fp[j] == '\0' || fp[j] != c) return 0;
    j++;
  }
  return fp[j] == '\0';
}

/* The certificate checks of origin |oi| on conn |c|.  0 or a reason. */
static const char *cert_check(hb_conn *c, size_t oi) {
  const hb_config_origin *o = &c->gen->cfg->origins[oi];
  const hb_pool *p = c->gen->opools[oi];
  if (o->nauth_client_cert_sha256) {
    char fp[65];
    if (hb_tls_peer_cert_sha256(c->ssl, fp) != 0) return "no client certificate";
    int ok = 0;
    for (size_t i = 0; i < o->nauth_client_cert_sha256 && !ok; i++)
      ok = pin_matches(o->auth_client_cert_sha256[i], fp);
    if (!ok) return "client certificate is not pinned for this origin";
  }
  if (p->auth_store) {
    static char why[256];
    if (hb_tls_peer_verify_ca(c->ssl, p->auth_store, o->auth_ca, why, sizeof(why)) != 0) return why;
  }
  return NULL;
}

static void refuse(hb_conn *c, const char *reason) {
  char dbg[256];
  snprintf(dbg, sizeof(dbg), "h2bridge: origin not authorized: %s", reason);
  hb_log_warn(c->id, -1, "origin %s on %s refused: %s", c->peer, c->alpn, reason);
  c->engine->refuse(c, 0xc /* INADEQUATE_SECURITY */, dbg);
}

static void policy_of(const hb_config_origin *o, hb_rauth_policy *pol, uint8_t *key, size_t keylen) {
  memset(pol, 0, sizeof(*pol));
  pol->token_sha256 = o->auth_token_sha256;
  pol->ntoken_sha256 = o->nauth_token_sha256;
  pol->hmac_key = key;
  pol->hmac_key_len = keylen;
  pol->authorities = o->authorities;
  pol->nauthorities = o->nauthorities;
  pol->paths = o->paths;
  pol->npaths = o->npaths;
}

/* A reconnect of the same origin instance and slot (h2bridge-origin-id)
 * replaces its earlier registration at once: the stale conn takes no new
 * request and goes when its last one finishes. */
static void replace_stale(hb_conn *c, hb_pool *p) {
  const char *id = c->reverse->origin_id;
  if (!id[0]) return;
  for (size_t i = 0; i < p->nconns; i++) {
    hb_conn *o = p->conns[i];
    if (o == c || !o->reverse || !o->reverse->authorized || strcmp(o->reverse->origin_id, id) != 0) continue;
    o->reverse->authorized = 0;
    hb_log_info(o->id, -1, "origin connection replaced by conn=%llu (same h2bridge-origin-id): draining it",
                (unsigned long long)c->id);
    if (o->engine && o->engine->drain) o->engine->drain(o);
  }
}

static void authorize(hb_conn *c, size_t oi, hb_rauth_grant *grant) {
  hb_reverse *r = c->reverse;
  const hb_config_origin *o = &c->gen->cfg->origins[oi];
  r->authorized = 1;
  r->origin = oi;
  r->grant = *grant;
  memset(grant, 0, sizeof(*grant));
  char scope[512];
  size_t n = 0;
  for (size_t i = 0; i < r->grant.nauthorities && n < sizeof(scope); i++)
    n += (size_t)snprintf(scope + n, sizeof(scope) - n, "%s%s", i ? "," : "", r->grant.authorities[i]);
  if (n < sizeof(scope)) n += (size_t)snprintf(scope + n, sizeof(scope) - n, " paths ");
  for (size_t i = 0; i < r->grant.npaths && n < sizeof(scope); i++)
    n += (size_t)snprintf(scope + n, sizeof(scope) - n, "%s%s", i ? "," : "", r->grant.paths[i]);
  hb_log_info(c->id, -1, "origin %s authorized on %s from %s for %s", o->name, c->alpn, c->peer, scope);
  /* Dead origins are found by PING within ping_interval + ping_timeout. */
  if (c->engine->keepalive && o->ping_interval > 0) c->engine->keepalive(c, o->ping_interval, o->ping_timeout);
  replace_stale(c, c->gen->opools[oi]);
  if (hb_pool_add_origin_conn(c->gen->opools[oi], c) != 0) refuse(c, "out of memory");
}

void hb_gateway_start(hb_conn *c) {
  const hb_config *cfg = c->gen->cfg;
  hb_reverse *r = hb_calloc(1, sizeof(*r));
  if (!r) {
    c->engine->refuse(c, 0x2, "h2bridge: out of memory");
    return;
  }
  c->reverse = r;
  c->goaway_on_drain = 1;
  const char *first_reason = "no origin is configured for this protocol";
  for (size_t i = 0; i < cfg->norigins && r->ncandidates < HB_ARRAY_LEN(r->candidates); i++) {
    const hb_config_origin *o = &cfg->origins[i];
    if (!has_protocol(o, c->alpn)) continue;
    const char *why = cert_check(c, i);
    if (why) {
      if (r->ncandidates == 0) first_reason = why;
      continue;
    }
    r->candidates[r->ncandidates++] = i;
  }
  if (r->ncandidates == 0) {
    refuse(c, first_reason);
    return;
  }
  const hb_config_origin *o = &cfg->origins[r->candidates[0]];
  if (!o->auth_path) {
    /* Certificate-only authorization: the config's grant. */
    hb_rauth_policy pol;
    policy_of(o, &pol, NULL, 0);
    hb_rauth_grant g;
    if (hb_rauth_grant_config(&pol, &g) != 0) {
      refuse(c, "out of memory");
      return;
    }
    authorize(c, r->candidates[0], &g);
    return;
  }
  hb_head req;
  if (hb_rauth_challenge_new(r->challenge) != 0 ||
      hb_rauth_request(o->auth_path, o->nauthorities ? o->authorities[0] : "origin", r->challenge, &req) != 0) {
    refuse(c, "cannot build the authorization request");
    return;
  }
  double timeout = c->limits->response_timeout > 0 ? c->limits->response_timeout : 10;
  if (!hb_exchange_new_auth(c, &req, timeout)) {
    hb_head_free(&req);
    refuse(c, "cannot send the authorization request");
    return;
  }
  hb_log_debug(c->id, -1, "asked origin %s for authorization at %s", c->peer, o->auth_path);
}

void hb_gateway_on_auth_head(hb_exchange *x, hb_stream *us) {
  hb_conn *c = x->auth_conn;
  hb_reverse *r = c->reverse;
  const hb_config *cfg = c->gen->cfg;
  const char *first_reason = "rejected";
  for (size_t k = 0; k < r->ncandidates; k++) {
    const hb_config_origin *o = &cfg->origins[r->candidates[k]];
    const hb_pool *p = c->gen->opools[r->candidates[k]];
    hb_rauth_policy pol;
    policy_of(o, &pol, p->auth_key, p->auth_keylen);
    hb_rauth_grant g;
    const char *why = NULL;
    int rc = hb_rauth_check(&us->head, r->challenge, &pol, &g, &why);
    if (rc == 0) {
      const hb_field *oid = hb_head_get(&us->head, "h2bridge-origin-id");
      if (oid && oid->valuelen < sizeof(r->origin_id)) memcpy(r->origin_id, oid->value, oid->valuelen + 1);
      /* The challenge is spent: a second answer on this conn proves nothing. */
      OPENSSL_cleanse(r->challenge, sizeof(r->challenge));
      hb_exchange_auth_done(x);
      authorize(c, r->candidates[k], &g);
      return;
    }
    if (k == 0) first_reason = why ? why : "rejected";
  }
  hb_exchange_auth_done(x);
  refuse(c, first_reason);
}

void hb_gateway_auth_failed(hb_exchange *x, const char *reason) {
  hb_conn *c = x->auth_conn;
  hb_exchange_auth_done(x);
  if (c && c->state != HB_CONN_CLOSED && c->reverse && !c->reverse->authorized) refuse(c, reason ? reason : "no answer");
}

void hb_gateway_free(hb_conn *c) {
  hb_reverse *r = c->reverse;
  if (!r) return;
  hb_rauth_grant_free(&r->grant);
  OPENSSL_cleanse(r->challenge, sizeof(r->challenge));
  hb_free(r);
  c->reverse = NULL;
}
