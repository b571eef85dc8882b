/* keepalive.h: HTTP/2 PING keepalive shared by the h2 engines (engine_h2 on
 * nghttp2, engine_h2x): a PING every interval while the connection has
 * streams (or always, for reverse peers whose liveness matters when idle); an
 * answer not back within the timeout marks the connection failed, and the
 * engine closes it from its next flush.  The engine sends the PING (each has
 * its own frame writer) through |send|.  Embedded in the engine's state, which
 * owns it; worker-local. */
#ifndef HB_KEEPALIVE_H
#define HB_KEEPALIVE_H

#include <ev.h>

typedef struct hb_keepalive {
  ev_timer timer;
  struct ev_loop *loop;
  int outstanding; /* a PING is out, unanswered */
  int failed;      /* it was not answered in time: close the connection */
  int always;      /* ping even without streams */
  double interval, timeout;
  int (*busy)(void *ud); /* 1 when the connection has streams */
  int (*send)(void *ud); /* sends a PING: 0, or < 0 when it could not */
  void (*wake)(void *ud); /* asks for a flush (to send, or to close) */
  void *ud;
} hb_keepalive;

/* Starts pinging every |interval| seconds (0: off) while |busy|. */
void hb_keepalive_init(hb_keepalive *k, struct ev_loop *loop, double interval, int (*busy)(void *),
                       int (*send)(void *), void (*wake)(void *), void *ud);
/* Pings every |interval| even without streams; an answer is due within
 * |timeout| (0: by the next interval).  Restarts the timer. */
void hb_keepalive_set(hb_keepalive *k, double interval, double timeout);
/* The peer answered our PING. */
void hb_keepalive_ack(hb_keepalive *k);
void hb_keepalive_stop(hb_keepalive *k);

#endif
