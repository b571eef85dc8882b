/* conn.h: one leg's transport: a non-blocking socket, optionally TLS, with its
 * libev watchers and timer embedded, an input buffer the engine consumes from
 * and a bounded output queue.  A conn owns its engine instance (and through it
 * the engine's streams) and its SSL; it borrows the listener or pool that made
 * it.  Teardown happens only in the top-level libev callbacks.  Worker-local. */
#ifndef HB_CONN_H
#define HB_CONN_H

#include "h2bridge.h"
#include "bufq.h"
#include "config.h"

#include <ev.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

typedef struct hb_worker hb_worker;
typedef struct hb_gen hb_gen;
typedef struct hb_listener hb_listener;
typedef struct hb_pool hb_pool;
typedef struct hb_engine_ops hb_engine_ops;

enum hb_conn_role {
  HB_CONN_ACCEPTED, /* the peer dialed us */
  HB_CONN_DIALED    /* we dialed the peer */
};

enum hb_conn_state {
  HB_CONN_CONNECTING, /* dialed, TCP connect in progress */
  HB_CONN_HANDSHAKE,  /* TLS handshake in progress */
  HB_CONN_SNIFF,      /* cleartext accepted: waiting to tell h1 from the h2 preface */
  HB_CONN_OPEN,       /* engine running */
  HB_CONN_CLOSED      /* closing; waiting for the posted free */
};

typedef struct hb_conn {
  hb_worker *w;
  hb_gen *gen;     /* the configuration generation it belongs to (a ref) */
  uint64_t id;
  int fd;
  int role;  /* enum hb_conn_role */
  int state; /* enum hb_conn_state */
  SSL *ssl;
  ev_io rev, wev;
  ev_timer timer; /* phase timer: handshake, header, idle, connect */
  uint8_t *rbuf;  /* input not yet consumed by the engine */
  size_t rlen, rcap, rmax;
  hb_bufq out;    /* bytes to write */
  int read_paused, want_flush, eof_seen, closing_after_write;
  int want_reprocess;
  int pool_connecting;   /* counted in pool->nconnecting */
  int shutdown_wr;       /* half-close our side once |out| is written */
  int shutdown_done;
  int abort_close;       /* close with a TCP reset (SO_LINGER 0) */
  size_t ntunnels;       /* tunnels running with this conn downstream */
  size_t nout;           /* exchanges this conn carries upstream (load balancing) */
  int http_server;       /* HTTP role: we answer requests here (else we send them);
                            kept apart from |role|, since rh1/rh2 invert it */
  struct hb_reverse *reverse;      /* gateway side of rh1/rh2: authorization state (owned) */
  struct hb_connector *connector; /* connector side: the connector that dialed it */
  size_t connector_slot;
  int auth_refused;      /* connector: the gateway refused our authorization */
  int replaced;          /* connector: a newer generation's conn took over */
  int goaway_on_drain;   /* client role: a drain sends GOAWAY at once, not only
                            the close (origin conns: the connector then dials a
                            replacement).  Off for upstreams: python-h2 stops
                            sending responses in flight on a client's GOAWAY. */
  uint32_t *pool_busy;   /* downstream: exchanges it holds per HTTP/1.1 pool (fairness) */
  size_t npool_busy;
  struct hb_conn *posted_next; /* worker's flush list */
  struct hb_conn *next, *prev; /* worker's conn list */
  const hb_engine_ops *engine;
  void *engine_data;
  hb_listener *listener; /* accepted: borrowed */
  hb_pool *pool;         /* dialed: borrowed */
  const hb_limits *limits;
  char peer[64];         /* printable peer address */
  const char *alpn;      /* negotiated protocol ("h2", "http/1.1") */
  int tls_verify;        /* dialed TLS: verification was asked for */
  const char *close_reason;
  double timer_after;    /* current phase timeout (s), 0 = none */
} hb_conn;

/* Makes a conn for |fd| (takes ownership of |fd|) in generation |gen| (a
 * reference is taken, dropped when the conn is freed).  NULL on NOMEM (fd closed). */
hb_conn *hb_conn_new(hb_worker *w, hb_gen *gen, int fd, int role, const hb_limits *limits);
/* Starts the conn: accepted cleartext sniffs; TLS runs the handshake (|ssl|
 * owned from now); dialed waits for connect. */
void hb_conn_start(hb_conn *c, SSL *ssl);
/* Closes now: the engine's destroy runs, the socket is closed, the memory is
 * freed later from the worker's posted queue.  |reason| is logged (static). */
void hb_conn_close(hb_conn *c, const char *reason);
/* Engines call this on a graceful GOAWAY (NO_ERROR) from the peer: the
 * connection's owner (a connector) may replace it before it ends. */
void hb_conn_on_peer_goaway(hb_conn *c);
/* Asks for engine->flush and a write attempt before the loop sleeps. */
void hb_conn_want_flush(hb_conn *c);
void hb_conn_pause_read(hb_conn *c);
void hb_conn_resume_read(hb_conn *c);
/* Queues bytes for writing (ignores the limit: the engine bounds what it queues). */
int hb_conn_write(hb_conn *c, const void *data, size_t len);
/* Space left in the output queue before the engine should stop producing. */
size_t hb_conn_out_space(const hb_conn *c);
/* Re-arms the phase timer with |after| seconds (0 stops it). */
void hb_conn_set_timer(hb_conn *c, double after);
/* Arms the idle timer of a conn with no exchange in flight: its pool's
 * idle_timeout for pooled conns (an origin pool's differs from the
 * listener's), else its own limits'. */
void hb_conn_arm_idle(hb_conn *c);
/* Selects the engine and runs its init.  0 or HB_ERR_*. */
int hb_conn_set_engine(hb_conn *c, const hb_engine_ops *e);
/* Runs the engine over buffered input (after it resumed), from the flush. */
void hb_conn_process_input(hb_conn *c);
/* The posted flush: engine deferred work, then write.  Worker use only. */
void hb_conn_flush(hb_conn *c);

#define HB_CONN_OUT_HIGH (64 * 1024)

#endif
