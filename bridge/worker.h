/* worker.h: one libev loop with its listeners, conns, upstream pools and the
 * posted-work queue (flushes run in an ev_prepare, never re-entrantly).  The
 * worker owns all of them and the config it runs.  Also graceful drain. */
#ifndef HB_WORKER_H
#define HB_WORKER_H

#include "h2bridge.h"
#include "config.h"
#include "conn.h"

#include <ev.h>
#include <openssl/ssl.h>

typedef struct hb_listener hb_listener;
typedef struct hb_pool hb_pool;

typedef struct hb_worker {
  struct ev_loop *loop;
  const hb_config *cfg;
  hb_listener **listeners;
  size_t nlisteners;
  hb_pool **pools;        /* one per cfg->upstreams[i] */
  size_t npools;
  hb_conn *conns;         /* all live conns */
  size_t nconns;
  hb_conn *posted;        /* conns wanting a flush */
  hb_conn *dead;          /* closed conns to free */
  uint64_t next_conn_id;
  ev_prepare prepare;
  ev_idle idle;           /* active while posted work remains */
  ev_signal sigterm, sigint, sighup;
  ev_timer drain_timer;
  int draining;
  int exit_code;
} hb_worker;

/* Builds the listeners (binding sockets) and pools of |cfg|.  On failure
 * writes a reason to |err| and returns HB_ERR_*. */
int hb_worker_init(hb_worker *w, struct ev_loop *loop, const hb_config *cfg, char *err, size_t errlen);
/* Runs until drained; returns the exit code. */
int hb_worker_run(hb_worker *w);
void hb_worker_free(hb_worker *w);
/* Starts graceful shutdown (SIGTERM/SIGINT). */
void hb_worker_drain(hb_worker *w);
/* Called when a conn goes away, so the drain can finish. */
void hb_worker_conn_gone(hb_worker *w);

#endif
