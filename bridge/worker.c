/* worker.c: the event loop's owner: configuration generations (listeners,
 * pools), conns, the posted flush queue (run in an ev_prepare, so engines
 * never write re-entrantly), signals, graceful drain and reload.  See
 * worker.h. */
#include "worker.h"
#include "linger.h"
#include "h2x_ext.h"
#include "engine.h"
#include "errors.h"
#include "listener.h"
#include "log.h"
#include "mem.h"
#include "connector.h"
#include "pool.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void gen_free(hb_gen *g) {
  for (size_t i = 0; i < g->nlisteners; i++) {
    hb_listener_free(g->listeners[i]);
    hb_free(g->listeners[i]);
  }
  for (size_t i = 0; i < g->npools; i++) {
    hb_pool_free(g->pools[i]);
    hb_free(g->pools[i]);
  }
  for (size_t i = 0; i < g->nopools; i++) {
    hb_pool_free(g->opools[i]);
    hb_free(g->opools[i]);
  }
  for (size_t i = 0; i < g->nconnectors; i++) {
    hb_connector_free(g->connectors[i]);
    hb_free(g->connectors[i]);
  }
  hb_free(g->listeners);
  hb_free(g->pools);
  hb_free(g->opools);
  hb_free(g->connectors);
  hb_config_free(g->cfg);
  hb_free(g);
}

void hb_gen_ref(hb_gen *g) { g->refs++; }

void hb_gen_unref(hb_gen *g) {
  if (--g->refs > 0) return;
  hb_log_info(0, -1, "configuration generation %llu retired", (unsigned long long)g->id);
  gen_free(g);
}

int hb_worker_check_supported(const hb_config *cfg, char *err, size_t errlen) {
  /* Refuse what is parsed but not served yet, rather than run it on another
   * engine without saying so. */
  for (size_t i = 0; i < cfg->nlisteners; i++) {
    const hb_config_listener *l = &cfg->listeners[i];
    if (l->nextensions) {
      /* An extension whose frames nothing handles yet (the built-in drafts'
       * translators) is refused, not half-served. */
      static hb_h2x_ext_defs defs;
      char why[256];
      const char *name = NULL;
      if (hb_h2x_ext_defs_build(&defs, (const char *const *)l->extensions, l->nextensions, NULL, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s:%d:%d: listener %s: %s", l->pos.file, l->pos.line, l->pos.col, l->name, why);
        return HB_ERR_CONFIG;
      }
      if (!hb_h2x_ext_servable(&defs, &name)) {
        snprintf(err, errlen, "%s:%d:%d: listener %s: the h2x extension %s is not implemented yet", l->pos.file,
                 l->pos.line, l->pos.col, l->name, name);
        return HB_ERR_CONFIG;
      }
    }
  }
  for (size_t i = 0; i < cfg->nconnectors; i++) {
    const hb_config_connector *k = &cfg->connectors[i];
    if (k->protocol && strcmp(k->protocol, "rh2") != 0 && strcmp(k->protocol, "rh1") != 0) {
      snprintf(err, errlen, "%s:%d:%d: connector %s: protocol %s is not implemented yet", k->pos.file, k->pos.line,
               k->pos.col, k->name, k->protocol);
      return HB_ERR_CONFIG;
    }
  }
  return 0;
}

/* Builds a generation from |cfg| (owned from now).  Listener sockets whose
 * address an |old| generation already listens on are taken over, so a reload
 * never refuses a connection. */
static int gen_new(hb_worker *w, hb_config *cfg, hb_gen *old, hb_gen **out, char *err, size_t errlen) {
  hb_gen *g = hb_calloc(1, sizeof(*g));
  if (!g) {
    hb_config_free(cfg);
    snprintf(err, errlen, "out of memory");
    return HB_ERR_NOMEM;
  }
  g->w = w;
  g->cfg = cfg;
  g->id = ++w->next_gen_id;
  g->refs = 1;
  if (hb_worker_check_supported(cfg, err, errlen) != 0) {
    hb_config_free(cfg);
    hb_free(g);
    return HB_ERR_CONFIG;
  }
  g->pools = hb_calloc(cfg->nupstreams ? cfg->nupstreams : 1, sizeof(*g->pools));
  g->listeners = hb_calloc(cfg->nlisteners ? cfg->nlisteners : 1, sizeof(*g->listeners));
  g->opools = hb_calloc(cfg->norigins ? cfg->norigins : 1, sizeof(*g->opools));
  g->connectors = hb_calloc(cfg->nconnectors ? cfg->nconnectors : 1, sizeof(*g->connectors));
  int rc = (!g->pools || !g->listeners || !g->opools || !g->connectors) ? HB_ERR_NOMEM : 0;
  for (size_t i = 0; rc == 0 && i < cfg->norigins; i++) {
    hb_pool *p = hb_calloc(1, sizeof(*p));
    if (!p) {
      rc = HB_ERR_NOMEM;
      break;
    }
    g->opools[g->nopools++] = p;
    rc = hb_pool_init_origin(p, g, i, err, errlen);
  }
  for (size_t i = 0; rc == 0 && i < cfg->nconnectors; i++) {
    hb_connector *k = hb_calloc(1, sizeof(*k));
    if (!k) {
      rc = HB_ERR_NOMEM;
      break;
    }
    g->connectors[g->nconnectors++] = k;
    rc = hb_connector_init(k, g, i, err, errlen);
  }
  for (size_t i = 0; rc == 0 && i < cfg->nupstreams; i++) {
    hb_pool *p = hb_calloc(1, sizeof(*p));
    if (!p) {
      rc = HB_ERR_NOMEM;
      break;
    }
    g->pools[g->npools++] = p;
    rc = hb_pool_init(p, g, i, err, errlen);
  }
  for (size_t i = 0; rc == 0 && i < cfg->nlisteners; i++) {
    hb_listener *l = hb_calloc(1, sizeof(*l));
    if (!l) {
      rc = HB_ERR_NOMEM;
      break;
    }
    g->listeners[g->nlisteners++] = l;
    hb_listener *prev = NULL;
    for (size_t k = 0; old && k < old->nlisteners; k++) {
      hb_listener *o = old->listeners[k];
      if (o->fd >= 0 && strcmp(o->cfg->listen, cfg->listeners[i].listen) == 0) prev = o;
    }
    rc = hb_listener_init(l, g, i, prev, err, errlen);
  }
  if (rc != 0) {
    if (rc == HB_ERR_NOMEM && !err[0]) snprintf(err, errlen, "out of memory");
    gen_free(g);
    return rc;
  }
  *out = g;
  return 0;
}

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
    hb_gen *g = c->gen;
    hb_free(c);
    if (g) hb_gen_unref(g);
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
  for (size_t i = 0; i < w->gen->nlisteners; i++) hb_listener_stop(w->gen->listeners[i]);
  for (size_t i = 0; i < w->gen->nconnectors; i++) hb_connector_stop(w->gen->connectors[i]);
  for (hb_conn *c = w->conns, *next; c; c = next) {
    next = c->next;
    if (c->state == HB_CONN_OPEN && c->engine) {
      c->engine->drain(c);
    } else if (c->role == HB_CONN_ACCEPTED) {
      hb_conn_close(c, "shutdown");
    }
  }
  double t = w->gen->cfg->defaults.drain_timeout;
  if (t > 0) {
    ev_timer_set(&w->drain_timer, t, 0);
    ev_timer_start(w->loop, &w->drain_timer);
  }
  if (w->nconns == 0) ev_break(w->loop, EVBREAK_ALL);
}

int hb_worker_reload(hb_worker *w) {
  if (w->draining) return HB_ERR_INVALID;
  hb_config *cfg = NULL;
  if (hb_config_load(w->config_path, &cfg, stderr) != 0) {
    hb_log_err(0, -1, "reload: %s is not valid (see above); keeping the running configuration", w->config_path);
    return HB_ERR_CONFIG;
  }
  char err[512] = "";
  hb_gen *g = NULL;
  int rc = gen_new(w, cfg, w->gen, &g, err, sizeof(err));
  if (rc != 0) {
    hb_log_err(0, -1, "reload: %s; keeping the running configuration", err);
    return rc;
  }
  hb_gen *old = w->gen;
  /* The old listeners stop accepting; sockets the new ones took over stay open. */
  for (size_t i = 0; i < old->nlisteners; i++) hb_listener_retire(old->listeners[i]);
  /* The old connectors dial no more; the new generation's dial their own,
   * and each old conn is drained (GOAWAY) once a replacement is authorized
   * (hb_connector_on_request), so the gateway never goes without us. */
  for (size_t i = 0; i < old->nconnectors; i++) hb_connector_stop(old->connectors[i]);
  for (hb_conn *c = w->conns; c; c = c->next) {
    if (c->gen != old || !c->connector || c->state != HB_CONN_OPEN) continue;
    int kept = 0; /* a connector the new file removed has no replacement coming */
    for (size_t i = 0; i < g->cfg->nconnectors && !kept; i++)
      kept = strcmp(g->cfg->connectors[i].name, c->connector->cfg->name) == 0;
    if (!kept) c->engine->drain(c);
  }
  w->gen = g;
  for (size_t i = 0; i < g->nlisteners; i++) hb_listener_start(g->listeners[i]);
  for (size_t i = 0; i < g->nconnectors; i++) hb_connector_start(g->connectors[i]);
  hb_log_info(0, -1, "configuration reloaded from %s (generation %llu); existing connections keep generation %llu",
              w->config_path, (unsigned long long)g->id, (unsigned long long)old->id);
  hb_gen_unref(old);
  return 0;
}

static void signal_cb(struct ev_loop *loop, ev_signal *s, int revents) {
  (void)loop;
  (void)revents;
  hb_worker *w = s->data;
  if (s->signum == SIGHUP) {
    hb_log_info(0, -1, "SIGHUP: reloading %s", w->config_path);
    hb_worker_reload(w);
    return;
  }
  hb_log_info(0, -1, "%s: graceful shutdown", s->signum == SIGTERM ? "SIGTERM" : "SIGINT");
  hb_worker_drain(w);
}

int hb_worker_init(hb_worker *w, struct ev_loop *loop, hb_config *cfg, const char *path, char *err,
                   size_t errlen) {
  memset(w, 0, sizeof(*w));
  w->loop = loop;
  w->config_path = path;
  signal(SIGPIPE, SIG_IGN);
  ev_prepare_init(&w->prepare, prepare_cb);
  w->prepare.data = w;
  ev_idle_init(&w->idle, idle_cb);
  ev_init(&w->drain_timer, drain_timeout_cb);
  w->drain_timer.data = w;
  ev_signal_init(&w->sigterm, signal_cb, SIGTERM);
  ev_signal_init(&w->sigint, signal_cb, SIGINT);
  ev_signal_init(&w->sighup, signal_cb, SIGHUP);
  w->sigterm.data = w->sigint.data = w->sighup.data = w;
  int rc = gen_new(w, cfg, NULL, &w->gen, err, errlen);
  if (rc != 0) return rc;
  ev_prepare_start(loop, &w->prepare);
  ev_signal_start(loop, &w->sigterm);
  ev_signal_start(loop, &w->sigint);
  ev_signal_start(loop, &w->sighup);
  return 0;
}

int hb_worker_run(hb_worker *w) {
  for (size_t i = 0; i < w->gen->nlisteners; i++) {
    hb_listener_start(w->gen->listeners[i]);
    hb_log_info(0, -1, "listening on %s (%s)", w->gen->listeners[i]->cfg->listen, w->gen->listeners[i]->cfg->name);
  }
  for (size_t i = 0; i < w->gen->nconnectors; i++) hb_connector_start(w->gen->connectors[i]);
  ev_run(w->loop, 0);
  return w->exit_code;
}

void hb_worker_free(hb_worker *w) {
  while (w->conns) hb_conn_close(w->conns, "shutdown");
  hb_linger_close_all(w); /* what those closes left lingering goes now */
  w->posted = NULL;
  while (w->dead) {
    hb_conn *c = w->dead;
    w->dead = c->next;
    hb_gen *g = c->gen;
    hb_free(c);
    if (g) hb_gen_unref(g);
  }
  if (w->gen) hb_gen_unref(w->gen);
  w->gen = NULL;
  ev_prepare_stop(w->loop, &w->prepare);
  ev_idle_stop(w->loop, &w->idle);
  ev_timer_stop(w->loop, &w->drain_timer);
  ev_signal_stop(w->loop, &w->sigterm);
  ev_signal_stop(w->loop, &w->sigint);
  ev_signal_stop(w->loop, &w->sighup);
}
