/* exchange.h: pairs a downstream stream (we answer) with an upstream stream (we
 * asked) and relays heads, body bytes, trailers, ends and resets between them
 * within the credit each side grants.  An exchange owns its translated request
 * head, its timer and, for locally generated answers (errors), a synthetic
 * upstream stream; it borrows both engine streams.  Worker-local. */
#ifndef HB_EXCHANGE_H
#define HB_EXCHANGE_H

#include "h2bridge.h"
#include "head.h"
#include "stream.h"

#include <ev.h>

typedef struct hb_worker hb_worker;
typedef struct hb_gen hb_gen;
typedef struct hb_listener hb_listener;
typedef struct hb_pool hb_pool;
typedef struct hb_conn hb_conn;

enum hb_exchange_kind {
  HB_X_PROXY, /* a downstream request relayed upstream */
  HB_X_AUTH   /* the gateway's own challenge request to a dialing origin */
};

typedef struct hb_exchange {
  hb_worker *w;
  hb_gen *gen;            /* config generation of the downstream conn (a ref) */
  hb_stream *ds;          /* downstream, server role (borrowed) */
  hb_stream *us;          /* upstream, client role (borrowed or &local) */
  hb_stream local;        /* synthetic upstream for local answers */
  int has_local;
  ssize_t route;          /* index in cfg->routes, -1 none */
  hb_pool *pool;
  hb_head req;            /* request head to send upstream */
  int req_ready, req_end;
  int response_started;   /* final head sent downstream */
  int status;
  ev_timer timer;         /* response timeout, then idle */
  ev_tstamp start;
  const char *error;      /* why it failed, for the access log */
  char proto_in[12], proto_out[12];
  uint64_t conn_id;
  int64_t stream_id;
  char client[64];
  const char *listener_name; /* borrowed from the config */
  double idle_after;         /* idle timeout once the response began */
  uint64_t bytes_in, bytes_out;
  char *log_method, *log_authority, *log_path; /* copies for the access log, in log_arena */
  hb_arena log_arena;  /* owns the log_* strings; reset when the exchange is freed */
  int kind;               /* enum hb_exchange_kind */
  hb_conn *auth_conn;     /* HB_X_AUTH: the gateway conn being authorized */
  int tunnel;             /* a tunnel (WebSocket) was asked for and routed */
  int tunnel_up;          /* ... and the upstream accepted it */
  int tunnel_ws, tunnel_in_h2, tunnel_out_h2; /* how the handshake was translated */
  int half_closed;        /* a tunnel one side ended: half_close_timeout runs */
  int pool_quota;         /* counted in ds->conn->pool_busy[pool->idx] */
  hb_listener *tunnel_listener; /* counted in its ntunnels (and ds->conn's) */
  char ws_key[32];        /* Sec-WebSocket-Key sent to an HTTP/1.1 upstream */
  char client_key[32];    /* the HTTP/1.1 client's Sec-WebSocket-Key */
  char *log_protocol;
  struct hb_exchange *wnext; /* pool wait queue */
  int waiting;
  int retries;            /* times a refused request was sent again */
} hb_exchange;

/* A server-role stream got its request head: route it and start the upstream
 * side.  The engine keeps |ds|; on failure a local error answer is produced. */
void hb_exchange_on_request(hb_stream *ds);
/* The pool has a connection that can take the request of |x|.  Returns 0,
 * HB_ERR_AGAIN (no capacity on |c|), or an error (the exchange answered 502). */
int hb_exchange_attach(hb_exchange *x, hb_conn *c);
/* Answers the downstream from h2bridge itself with |h| (copied) and |len|
 * bytes of |body| (copied); the upstream side, if any, is cancelled. */
void hb_exchange_answer(hb_exchange *x, const hb_head *h, const char *body, size_t len);
/* Starts the gateway's challenge request |req| (taken over) on the origin
 * conn |c|.  NULL on failure (the caller refuses the conn). */
hb_exchange *hb_exchange_new_auth(hb_conn *c, hb_head *req, double timeout);
/* Ends an auth exchange (its stream detached, nothing logged) and frees it. */
void hb_exchange_auth_done(hb_exchange *x);
/* The pool could not get a connection: answer |status| with |reason|. */
void hb_exchange_fail(hb_exchange *x, int status, const char *reason);
/* A client-role stream received a response head (1xx included) in s->head. */
void hb_exchange_on_head(hb_stream *s);
/* |s| received body bytes, trailers or its end: the peer should pull. */
void hb_exchange_on_data(hb_stream *s);
/* |s| ended cleanly and the peer took everything: detach it. */
void hb_exchange_on_close(hb_stream *s);
/* |s| was reset or its connection failed: abort the other side. */
void hb_exchange_on_reset(hb_stream *s, const char *reason);

#endif
