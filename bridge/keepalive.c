/* keepalive.c: HTTP/2 PING keepalive.  See keepalive.h. */
#include "keepalive.h"

static void tick(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)revents;
  hb_keepalive *k = w->data;
  if (k->outstanding) {
    k->failed = 1;
    k->wake(k->ud);
    return;
  }
  if (!k->always && !k->busy(k->ud)) return;
  if (k->send(k->ud) == 0) {
    k->outstanding = 1;
    /* The answer is due within timeout (default: one interval). */
    if (k->timeout > 0) {
      w->repeat = k->timeout;
      ev_timer_again(loop, w);
    }
  }
  k->wake(k->ud);
}

void hb_keepalive_init(hb_keepalive *k, struct ev_loop *loop, double interval, int (*busy)(void *),
                       int (*send)(void *), void (*wake)(void *), void *ud) {
  k->loop = loop;
  k->outstanding = k->failed = k->always = 0;
  k->interval = interval;
  k->timeout = 0;
  k->busy = busy;
  k->send = send;
  k->wake = wake;
  k->ud = ud;
  ev_init(&k->timer, tick);
  k->timer.data = k;
  if (interval > 0) {
    k->timer.repeat = interval;
    ev_timer_again(loop, &k->timer);
  }
}

void hb_keepalive_set(hb_keepalive *k, double interval, double timeout) {
  k->always = 1;
  k->interval = interval;
  k->timeout = timeout;
  ev_timer_stop(k->loop, &k->timer);
  if (interval > 0) {
    k->timer.repeat = interval;
    ev_timer_again(k->loop, &k->timer);
  }
}

void hb_keepalive_ack(hb_keepalive *k) {
  k->outstanding = 0;
  if (k->interval > 0 && k->timer.repeat != k->interval) {
    k->timer.repeat = k->interval;
    ev_timer_again(k->loop, &k->timer);
  }
}

void hb_keepalive_stop(hb_keepalive *k) {
  if (k->loop) ev_timer_stop(k->loop, &k->timer);
}
