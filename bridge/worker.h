/* worker.h: one libev loop with its configuration generations, conns and the
 * posted-work queue (flushes run in an ev_prepare, never re-entrantly), plus
 * graceful drain and reload.  A generation owns one loaded config with the
 * listeners and pools built from it; it lives while any conn or exchange
 * still uses it, so a reload (SIGHUP) never touches live connections.  The
 * worker owns its generations and conns. */
#ifndef HB_WORKER_H
#define HB_WORKER_H

#include "h2bridge.h"
#include "config.h"
#include "conn.h"

#include <ev.h>
#include <openssl/ssl.h>

typedef struct hb_listener hb_listener;
typedef struct hb_pool hb_pool;

typedef struct hb_gen {
  struct hb_worker *w;
  hb_config *cfg;         /* owned */
  hb_listener **listeners;
  size_t nlisteners;
  hb_pool **pools;        /* one per cfg->upstreams[i] */
  size_t npools;
  hb_pool **opools;       /* one per cfg->origins[i] (reversed HTTP, gateway role) */
  size_t nopools;
  struct hb_connector **connectors; /* one per cfg->connectors[i] (origin role) */
  size_t nconnectors;
  size_t refs;            /* conns and exchanges using it, +1 while current */
  uint64_t id;
} hb_gen;

typedef struct hb_worker {
  struct ev_loop *loop;
  hb_gen *gen;            /* the current generation */
  const char *config_path;
  hb_conn *conns;         /* all live conns */
  size_t nconns;
  hb_conn *posted;        /* conns wanting a flush */
  hb_conn *dead;          /* closed conns to free */
  struct hb_linger *lingering; /* closed sockets draining the peer's last bytes (linger.h) */
  size_t nlingering;
  uint64_t next_conn_id, next_gen_id;
  ev_prepare prepare;
  ev_idle idle;           /* active while posted work remains */
  ev_signal sigterm, sigint, sighup;
  ev_timer drain_timer;
  int draining;
  int exit_code;
} hb_worker;

/* Builds the first generation from |cfg| (ownership taken, also on failure):
 * binds listeners, builds pools.  On failure writes a reason to |err| and
 * returns HB_ERR_*. */
int hb_worker_init(hb_worker *w, struct ev_loop *loop, hb_config *cfg, const char *path, char *err,
                   size_t errlen);
/* Runs until drained; returns the exit code. */
int hb_worker_run(hb_worker *w);
void hb_worker_free(hb_worker *w);
/* Starts graceful shutdown (SIGTERM/SIGINT). */
void hb_worker_drain(hb_worker *w);
/* Loads the config again; on success new conns use it and old ones finish on
 * the old one; on failure logs why and keeps running as before.  0 or HB_ERR_*. */
int hb_worker_reload(hb_worker *w);
/* 0, or HB_ERR_CONFIG with a file:line:col reason when |cfg| asks for what
 * this version parses but does not serve (engine h2x, P2P/Symmetric). */
int hb_worker_check_supported(const hb_config *cfg, char *err, size_t errlen);
void hb_gen_ref(hb_gen *g);
void hb_gen_unref(hb_gen *g);

#endif
