/* connector.h: the origin side of reversed HTTP (DESIGN.md §3.2): keeps
 * `connections` TLS connections to the gateways, offering only rh2 (or rh1)
 * and verifying the gateway (potato §6); on each it is the HTTP server,
 * answers the gateway's challenge with the token or HMAC proof and its scope,
 * and serves the rest by the routes that match `connector: NAME`.  Reconnects
 * with capped exponential backoff and jitter.  A connector owns its slots,
 * timers, SSL_CTX and secrets (wiped on free); the worker owns the conns. */
#ifndef HB_CONNECTOR_H
#define HB_CONNECTOR_H

#include "h2bridge.h"
#include "config.h"

#include <ev.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

typedef struct hb_conn hb_conn;
typedef struct hb_gen hb_gen;
typedef struct hb_exchange hb_exchange;
typedef struct hb_connector hb_connector;

typedef struct hb_connector_slot {
  hb_connector *k;
  size_t i;
  hb_conn *c;          /* current connection, or NULL */
  ev_timer retry;      /* the next dial */
  double backoff;      /* next delay */
  int authorized;      /* the gateway asked and we answered on |c| */
  size_t gw;           /* index of the gateway |c| was dialed to */
  int avoid_gw;        /* the next dial prefers another gateway than |gw| */
} hb_connector_slot;

typedef struct hb_connector {
  hb_gen *gen;
  const hb_config_connector *cfg;
  size_t idx;
  SSL_CTX *ssl_ctx;
  struct sockaddr_storage *addrs;
  socklen_t *addrlens;
  char **hosts;        /* SNI / verification name per gateway (borrowed) */
  size_t naddrs, next_gw;
  hb_connector_slot *slots;
  size_t nslots;       /* max_connections (rh1 growth) or connections */
  size_t nbase;        /* connections: kept up and redialed */
  char *token;         /* secret: token_file contents */
  uint8_t *key;        /* secret: hmac_key_file contents */
  size_t keylen;
  int stopped;
  int h2_connect_protocol; /* a route of ours carries tunnels: advertise RFC 8441 */
  char instance[17];       /* random per process: with the slot, our h2bridge-origin-id */
} hb_connector;

/* Resolves the gateways, builds TLS, reads the secret.  0 or HB_ERR_* (|err|). */
int hb_connector_init(hb_connector *k, hb_gen *gen, size_t idx, char *err, size_t errlen);
/* Dials every slot. */
void hb_connector_start(hb_connector *k);
/* No more dials (drain or reload); live conns finish on their own. */
void hb_connector_stop(hb_connector *k);
void hb_connector_free(hb_connector *k);
/* The TLS handshake with a gateway finished with the right protocol. */
void hb_connector_on_ready(hb_conn *c);
/* The gateway sent a graceful GOAWAY on a connector conn (it is draining or
 * replacing this connection): drain our side too, and dial the slot's
 * replacement now -- to another gateway where there is one -- instead of
 * when the old connection has finished its streams. */
void hb_connector_on_goaway(hb_conn *c);
/* A connector conn went away: schedule a new dial. */
void hb_connector_on_gone(hb_conn *c, const char *reason);
/* A request arrived on a connector conn.  Returns 1 when it was the
 * gateway's challenge and has been answered, 0 otherwise. */
int hb_connector_on_request(hb_exchange *x, hb_conn *c);

#endif
