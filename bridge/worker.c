/* worker.c: the event loop's owner: listeners, pools, conns, the posted flush
 * queue (run in an ev_prepare, so engines never write re-entrantly), signals
 * and graceful drain.  See worker.h. */
#include "worker.h"
#include "engine.h"
#include "errors.h"
#include "listener.h"
#include "log.h"
#include "mem.h"
#include "pool.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents) {
  (void)loop;
  (void)revents;
  hb_worker *wk = w->data;
  /* Flushes may post more flushes; run until quiet (each conn bounds itself). */
  for (int round = 0; round < 64 && wk->posted; round++) {
    hb_conn *list = wk->posted;
    wk->posted = NULL;
    while (list) {
      hb_conn *c = list;
      list = c->posted_next;
      c->posted_next = NULL;
      if (c->state == HB_CONN_CLOSED) {
        c->want_flush = 0;
        continue;
      }
      hb_conn_flush(c);
    }
  }
  /* Still busy: an idle watcher keeps the loop from blocking in poll. */
  if (wk->posted) ev_idle_start(wk->loop, &wk->idle);
  else ev_idle_stop(wk->loop, &wk->idle);
  /* Conns closed since the last round are unreachable now: free them, but
   * only those not still queued for a flush. */
  hb_conn **pp = &wk->dead;
  while (*pp) {
    hb_conn *c = *pp;
    if (c->want_flush) {
      pp = &c->next;
      continue;
    }
    *pp = c->next;
    hb_free(c);
  }
  if (wk->draining && wk->nconns == 0) ev_break(wk->loop, EVBREAK_ALL);
}

static void idle_cb(struct ev_loop *loop, ev_idle *w, int revents) {
  (void)loop;
  (void)w;
  (void)revents; /* the prepare callback does the work */
}

static void drain_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  hb_worker *wk = w->data;
  hb_log_warn(0, -1, "drain deadline reached: closing %zu connections", wk->nconns);
  while (wk->conns) hb_conn_close(wk->conns, "shutdown deadline");
}

void hb_worker_drain(hb_worker *w) {
  if (w->draining) return;
  w->draining = 1;
  hb_log_info(0, -1, "draining: no new connections; %zu open", w->nconns);
  for (size_t i = 0; i < w->nlisteners; i++) hb_listener_stop(w->listeners[i]);
  for (hb_conn *c = w->conns, *next; c; c = next) {
    next = c->next;
    if (c->state == HB_CONN_OPEN && c->engine) {
      c->engine->drain(c);
    } else if (c->role == HB_CONN_ACCEPTED) {
      hb_conn_close(c, "shutdown");
    }
  }
  double t = w->cfg->defaults.drain_timeout;
  if (t > 0) {
    ev_timer_set(&w->drain_timer, t, 0);
    ev_timer_start(w->loop, &w->drain_timer);
  }
  if (w->nconns == 0) ev_break(w->loop, EVBREAK_ALL);
}

void hb_worker_conn_gone(hb_worker *w) {
  (void)w; /* the prepare callback notices an empty worker */
}

static void signal_cb(struct ev_loop *loop, ev_signal *s, int revents) {
  (void)loop;
  (void)revents;
  hb_worker *w = s->data;
  if (s->signum == SIGHUP) {
    hb_log_warn(0, -1, "SIGHUP: configuration reload is not supported yet; keeping the running configuration");
    return;
  }
  hb_log_info(0, -1, "%s: graceful shutdown", s->signum == SIGTERM ? "SIGTERM" : "SIGINT");
  hb_worker_drain(w);
}

int hb_worker_init(hb_worker *w, struct ev_loop *loop, const hb_config *cfg, char *err, size_t errlen) {
  memset(w, 0, sizeof(*w));
  w->loop = loop;
  w->cfg = cfg;
  signal(SIGPIPE, SIG_IGN);
  w->pools = hb_calloc(cfg->nupstreams ? cfg->nupstreams : 1, sizeof(*w->pools));
  w->listeners = hb_calloc(cfg->nlisteners ? cfg->nlisteners : 1, sizeof(*w->listeners));
  if (!w->pools || !w->listeners) {
    snprintf(err, errlen, "out of memory");
    return HB_ERR_NOMEM;
  }
  for (size_t i = 0; i < cfg->nupstreams; i++) {
    hb_pool *p = hb_calloc(1, sizeof(*p));
    if (!p) return HB_ERR_NOMEM;
    w->pools[w->npools++] = p;
    int rc = hb_pool_init(p, w, i, err, errlen);
    if (rc != 0) return rc;
  }
  for (size_t i = 0; i < cfg->nlisteners; i++) {
    hb_listener *l = hb_calloc(1, sizeof(*l));
    if (!l) return HB_ERR_NOMEM;
    w->listeners[w->nlisteners++] = l;
    int rc = hb_listener_init(l, w, i, err, errlen);
    if (rc != 0) return rc;
  }
  ev_prepare_init(&w->prepare, prepare_cb);
  w->prepare.data = w;
  ev_prepare_start(loop, &w->prepare);
  ev_idle_init(&w->idle, idle_cb);
  ev_init(&w->drain_timer, drain_timeout_cb);
  w->drain_timer.data = w;
  ev_signal_init(&w->sigterm, signal_cb, SIGTERM);
  ev_signal_init(&w->sigint, signal_cb, SIGINT);
  ev_signal_init(&w->sighup, signal_cb, SIGHUP);
  w->sigterm.data = w->sigint.data = w->sighup.data = w;
  ev_signal_start(loop, &w->sigterm);
  ev_signal_start(loop, &w->sigint);
  ev_signal_start(loop, &w->sighup);
  return 0;
}

int hb_worker_run(hb_worker *w) {
  for (size_t i = 0; i < w->nlisteners; i++) {
    hb_listener_start(w->listeners[i]);
    hb_log_info(0, -1, "listening on %s (%s)", w->listeners[i]->cfg->listen, w->listeners[i]->cfg->name);
  }
  ev_run(w->loop, 0);
  return w->exit_code;
}

void hb_worker_free(hb_worker *w) {
  while (w->conns) hb_conn_close(w->conns, "shutdown");
  /* run the prepare once more to free dead conns */
  w->posted = NULL;
  while (w->dead) {
    hb_conn *c = w->dead;
    w->dead = c->next;
    hb_free(c);
  }
  for (size_t i = 0; i < w->nlisteners; i++) {
    hb_listener_free(w->listeners[i]);
    hb_free(w->listeners[i]);
  }
  for (size_t i = 0; i < w->npools; i++) {
    hb_pool_free(w->pools[i]);
    hb_free(w->pools[i]);
  }
  hb_free(w->listeners);
  hb_free(w->pools);
  ev_prepare_stop(w->loop, &w->prepare);
  ev_idle_stop(w->loop, &w->idle);
  ev_timer_stop(w->loop, &w->drain_timer);
  ev_signal_stop(w->loop, &w->sigterm);
  ev_signal_stop(w->loop, &w->sigint);
  ev_signal_stop(w->loop, &w->sighup);
}
