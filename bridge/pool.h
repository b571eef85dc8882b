/* pool.h: the connections h2bridge dials to one upstream: h1 keep-alive reuse,
 * h2 multiplexing with a cap on streams per connection and connections per
 * upstream, a bounded queue of exchanges waiting for capacity, connect timeouts.
 * A pool owns its SSL_CTX and its wait queue links; the worker owns the conns.
 * Worker-local. */
#ifndef HB_POOL_H
#define HB_POOL_H

#include "h2bridge.h"
#include "config.h"

#include <netdb.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

typedef struct hb_worker hb_worker;
typedef struct hb_gen hb_gen;
typedef struct hb_conn hb_conn;
typedef struct hb_exchange hb_exchange;

typedef struct hb_pool {
  hb_worker *w;
  hb_gen *gen;                     /* the generation that owns it */
  const char *name;                /* upstream or origin name */
  const hb_limits *limits;         /* the upstream's; an origin's: the defaults */
  size_t max_streams_per_conn;
  int reverse;                     /* origin pool: conns dialed in, never dialed out */
  const hb_config_origin *origin;  /* reverse pools */
  const hb_config_upstream *u;     /* forward pools */
  size_t idx;
  SSL_CTX *ssl_ctx;                /* NULL for cleartext */
  X509_STORE *auth_store;          /* origin pools: auth.ca, loaded once per generation */
  uint8_t *auth_key;               /* origin pools: auth.hmac_key_file's secret (owned) */
  size_t auth_keylen;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  hb_conn **conns;                 /* live conns of this pool */
  size_t nconns, capconns;
  size_t nconnecting;
  hb_exchange *whead, *wtail;      /* exchanges waiting for a conn */
  size_t nwait;
  const char *last_error;          /* why the last dial failed */
} hb_pool;

/* Resolves the upstream address and builds TLS state.  0 or HB_ERR_CONFIG (|err|). */
int hb_pool_init(hb_pool *p, hb_gen *gen, size_t idx, char *err, size_t errlen);
/* An origin pool (reversed HTTP, gateway role): its conns are the origin's
 * authorized connections; requests wait for one up to wait_for_origin.  Loads
 * the origin's auth.ca and HMAC key once, so no authorization reads a file.
 * 0 or HB_ERR_CONFIG (|err|). */
int hb_pool_init_origin(hb_pool *p, hb_gen *gen, size_t idx, char *err, size_t errlen);
/* Adds the authorized origin conn |c| (its c->rev grant set) and serves
 * waiters.  0 or HB_ERR_NOMEM. */
int hb_pool_add_origin_conn(hb_pool *p, hb_conn *c);
void hb_pool_free(hb_pool *p);
/* Gets |x| a stream upstream now, or queues it and dials. */
void hb_pool_acquire(hb_pool *p, hb_exchange *x);
/* Removes |x| from the wait queue (it was answered or cancelled). */
void hb_pool_cancel(hb_pool *p, hb_exchange *x);
/* A pool conn became usable or got capacity back: serve waiters. */
void hb_pool_on_capacity(hb_conn *c);
/* A pool conn failed to connect or closed: forget it; fail waiters if no
 * connection can serve them any more. */
void hb_pool_on_gone(hb_conn *c, const char *reason);

#endif
