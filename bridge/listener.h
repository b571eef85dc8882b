/* listener.h: a bound listening socket with its accept watcher, TLS context
 * and per-listener connection cap; accepted sockets become conns.  The
 * listener owns its fd and SSL_CTX; the worker owns the listener. */
#ifndef HB_LISTENER_H
#define HB_LISTENER_H

#include "h2bridge.h"
#include "config.h"

#include <ev.h>
#include <openssl/ssl.h>

typedef struct hb_worker hb_worker;
typedef struct hb_gen hb_gen;

typedef struct hb_listener {
  hb_worker *w;
  hb_gen *gen;        /* the generation that owns it */
  const hb_config_listener *cfg;
  size_t idx;
  int fd;
  ev_io io;
  ev_timer backoff;   /* accept paused after EMFILE/ENFILE or at the conn cap */
  SSL_CTX *ssl_ctx;
  size_t nconns;
  size_t ntunnels;    /* tunnels running on its conns */
  int h2_connect_protocol; /* advertise SETTINGS_ENABLE_CONNECT_PROTOCOL */
  struct hb_h2x_ext_defs *ext_defs; /* owned; the h2x extensions of its conns, NULL: none */
  int retired;        /* its generation was replaced: accepts no more */
  uint64_t accept_failures; /* EMFILE & co. since the last accepted conn (one log line per episode) */
} hb_listener;

/* Binds and listens on gen->cfg->listeners[idx], or shares the socket of
 * |prev| (same address, older generation) so a reload refuses nothing.
 * 0 or HB_ERR_* with a reason in |err|. */
int hb_listener_init(hb_listener *l, hb_gen *gen, size_t idx, const hb_listener *prev, char *err, size_t errlen);
/* Stops accepting and closes the socket; conns already accepted go on. */
void hb_listener_retire(hb_listener *l);
void hb_listener_start(hb_listener *l);
void hb_listener_stop(hb_listener *l);
void hb_listener_free(hb_listener *l);
/* A conn of this listener went away. */
void hb_listener_conn_gone(hb_listener *l);

#endif
