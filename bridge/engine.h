/* engine.h: the interface every protocol engine (h1, h2, later h2x) offers to
 * the rest of h2bridge.  An engine instance lives in conn->engine_data and is
 * owned by its conn; it owns the streams it creates.  Worker-local. */
#ifndef HB_ENGINE_H
#define HB_ENGINE_H

#include "h2bridge.h"
#include <sys/types.h>

typedef struct hb_conn hb_conn;
typedef struct hb_stream hb_stream;
typedef struct hb_head hb_head;

typedef struct hb_engine_ops {
  const char *name; /* "h1", "h2", "h2x" */
  /* Sets up engine state on |c| (server or client by c->role).  0 or HB_ERR_*. */
  int (*init)(hb_conn *c);
  /* Bytes arrived.  Returns how many were consumed (the rest stays buffered in
   * the conn; the engine pauses reading when it cannot take more), or a
   * negative HB_ERR_* that closes the connection. */
  ssize_t (*on_read)(hb_conn *c, const uint8_t *data, size_t len);
  /* Produces output into c->out and processes deferred work (posted).  0 or HB_ERR_*. */
  int (*flush)(hb_conn *c);
  /* The peer closed its sending side (EOF) — 0 to keep going, or an error. */
  int (*on_eof)(hb_conn *c);
  /* Connection is going away: fail every stream with |reason|, free state. */
  void (*destroy)(hb_conn *c, const char *reason);
  /* Graceful shutdown: refuse new streams, let current ones finish. */
  void (*drain)(hb_conn *c);
  /* True when no stream is in flight (safe to close when draining). */
  int (*idle)(hb_conn *c);
  /* The conn's phase timer fired.  0 keeps the conn (the engine wrote a last
   * answer and will close after it), or HB_ERR_TIMEOUT to close now. */
  int (*timeout)(hb_conn *c);

  /* Client role: opens a new stream carrying request |head|; the stream is
   * returned in |*out| (owned by the engine).  |end| = no body follows.
   * Returns 0, HB_ERR_AGAIN (no stream capacity now), or HB_ERR_*. */
  int (*open_stream)(hb_conn *c, const hb_head *head, int end, hb_stream **out);
  /* Server role: sends the response head on |s| (1xx allowed, then a final). */
  int (*submit_response)(hb_stream *s, const hb_head *head, int end);
  /* The peer stream of |s| has new body bytes, trailers or end: pull them. */
  void (*resume)(hb_stream *s);
  /* |n| bytes of |s|->rx were taken by the peer: give the credit back. */
  void (*consumed)(hb_stream *s, size_t n);
  /* Ends the whole connection with a reason the peer can see (GOAWAY |code|
   * with |debug| on h2; a close on h1), after what is queued. */
  void (*refuse)(hb_conn *c, uint32_t code, const char *debug);
  /* Liveness: a PING every |interval| seconds even when idle, the conn
   * closed when one is not answered within |timeout|.  NULL where the
   * protocol has none (HTTP/1.1). */
  void (*keepalive)(hb_conn *c, double interval, double timeout);
  /* Aborts |s| (RST_STREAM |h2_code| on h2; close the connection on h1). */
  void (*reset)(hb_stream *s, uint32_t h2_code);
} hb_engine_ops;

extern const hb_engine_ops hb_engine_h1;
extern const hb_engine_ops hb_engine_h2;
extern const hb_engine_ops hb_engine_h2x; /* h2bridge's own HTTP/2 engine (engine: h2x) */

/* True for the HTTP/2 engines (nghttp2 or h2x): the rest of h2bridge treats
 * them alike. */
static inline int hb_engine_is_h2(const hb_engine_ops *e) { return e == &hb_engine_h2 || e == &hb_engine_h2x; }

#endif
