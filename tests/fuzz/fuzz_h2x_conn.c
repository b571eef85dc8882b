/* fuzz_h2x_conn.c: libFuzzer target driving a whole h2x server connection
 * (bridge/engine_h2x.c) from fuzzed bytes (THREATS.md §1f item 5).  A worker
 * with a real ev loop and a generation (one `engine: h2x` listener, no
 * routes: every request is answered 404 by the exchange) is made once; each
 * input gets a fresh hb_conn on a socketpair.  Input: byte 0 = largest chunk
 * (0: everything at once), byte 1 = seed of the chunk sizes; the rest follows
 * a valid client preface and goes to engine->on_read in those chunks, the
 * posted flushes running between them.  What the engine writes is drained and
 * must parse as frames (no connection error in its own output).  Then the
 * conn is torn down.  The listener enables a fuzz-only extension (setting
 * 0xf5f5, a header-block frame 0xf5 with a 4-byte reference id, a stream-0
 * frame 0xf6), so the extension registry's dispatch in the engine is fuzzed
 * too.  Single-threaded; owns a scratch directory in /tmp. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "config.h"
#include "conn.h"
#include "engine.h"
#include "errors.h"
#include "h2x_ext.h"
#include "h2x_frame.h"
#include "listener.h"
#include "log.h"
#include "worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)       \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

/* ---- the fuzz-only extension ---- */

static int fx_parse(const hb_h2x_ext_def *d, const hb_h2x_frame_hd *hd, const uint8_t *p, hb_h2x_ext_frame *out,
                    hb_h2x_error *err) {
  (void)d;
  memset(out, 0, sizeof(*out));
  out->hd = *hd;
  if (hd->type == 0xf6) {
    out->block = p;
    out->len = hd->length;
    return 0;
  }
  if (hd->length < 4) {
    *err = (hb_h2x_error){HB_H2X_FRAME_SIZE_ERROR, 0, "short"};
    return HB_ERR_PROTO;
  }
  out->ref_id = ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) & HB_H2X_STREAM_ID_MASK;
  out->block = p + 4;
  out->len = hd->length - 4;
  return 0;
}

/* Reference 0: a request; 2: a stream error; 4: a head on the frame's stream;
 * 6: decode and drop; another: must name a live stream. */
static int fx_on_frame(const hb_h2x_ext_def *d, hb_h2x_ext_ctx *ctx, const hb_h2x_ext_frame *f, int *use,
                       hb_h2x_error *err) {
  (void)d;
  if (f->hd.type == 0xf6) return f->len == 1 && f->block[0] == 0 ? (*err = (hb_h2x_error){1, 0, "zero"}, HB_ERR_PROTO) : 0;
  switch (f->ref_id) {
  case 0: *use = HB_H2X_USE_REQUEST; return 0;
  case 2: *err = (hb_h2x_error){HB_H2X_REFUSED_STREAM, 1, "refused"}; return HB_ERR_PROTO;
  case 4: *use = HB_H2X_USE_STREAM; return 0;
  case 6: *use = HB_H2X_USE_DISCARD; return 0;
  default:
    if (ctx->stream_state(ctx->conn, f->ref_id) == HB_H2X_ST_IDLE) {
      *err = (hb_h2x_error){HB_H2X_PROTOCOL_ERROR, 0, "idle reference"};
      return HB_ERR_PROTO;
    }
    *use = HB_H2X_USE_REQUEST;
    return 0;
  }
}

static int fx_build(const hb_h2x_ext *cp, hb_h2x_ext_def *d, const char **why) {
  (void)cp;
  (void)why;
  d->settings[0] = (hb_h2x_ext_setting_def){0xf5f5, 1, 1, HB_H2X_FROM_ANY, 1, 1};
  d->nsettings = 1;
  d->frames[0] = (hb_h2x_ext_frame_def){0xf5, HB_H2X_EXTF_HEADER_BLOCK | HB_H2X_EXTF_OPENS_STREAM, HB_H2X_FROM_ANY, fx_parse};
  d->frames[1] = (hb_h2x_ext_frame_def){0xf6, HB_H2X_EXTF_CONNECTION, HB_H2X_FROM_CLIENT, fx_parse};
  d->nframes = 2;
  d->not_enabled_error = 0xf5;
  d->on_frame = fx_on_frame;
  return 0;
}

static const hb_h2x_ext_builder fx_builder = {"fuzz_ext", fx_build};

static hb_worker worker;
static struct ev_loop *loop;
static int ready;

static void setup(void) {
  char dir[64], path[128];
  hb_log_level = -1;
  CHECK(hb_h2x_ext_register(&fx_builder) == 0);
  snprintf(dir, sizeof(dir), "/tmp/fuzz_h2x_conn.XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof(path), "%s/t.yaml", dir);
  /* A port to write in the listener (bound, never started). */
  int s = socket(AF_INET, SOCK_STREAM, 0);
  CHECK(s >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof(a);
  CHECK(bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(s, (struct sockaddr *)&a, &al) == 0);
  close(s);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  fprintf(f,
          "log: { level: error, access: off }\n"
          /* lingering_timeout 0: a closed conn's socket goes at once, not after the run */
          "defaults: { stream_window: 65535, connection_window: 131072, max_streams: 8, lingering_timeout: 0 }\n"
          "listeners:\n"
          "  - { name: t, listen: 127.0.0.1:%d, engine: h2x, extensions: [fuzz_ext] }\n",
          ntohs(a.sin_port));
  fclose(f);
  hb_config *cfg = NULL;
  CHECK(hb_config_load(path, &cfg, stderr) == 0);
  loop = ev_loop_new(EVFLAG_AUTO);
  CHECK(loop != NULL);
  char err[512] = "";
  CHECK(hb_worker_init(&worker, loop, cfg, path, err, sizeof(err)) == 0);
  unlink(path);
  rmdir(dir);
  ready = 1;
}

static int alive(const hb_conn *c) {
  for (hb_conn *x = worker.conns; x; x = x->next)
    if (x == c) return x->state != HB_CONN_CLOSED;
  return 0;
}

/* Reads what the engine wrote; every frame must be well formed. */
static void drain(int fd, hb_h2x_reader *rd) {
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    size_t off = 0;
    while (off < (size_t)n) {
      hb_h2x_frame_hd hd;
      const uint8_t *pl = NULL;
      int have = 0;
      uint32_t code = 0;
      const char *why = NULL;
      ssize_t k = hb_h2x_reader_feed(rd, buf + off, (size_t)n - off, &hd, &pl, &have, &code, &why);
      CHECK(k >= 0);
      off += (size_t)k;
      if (!have) continue;
      hb_h2x_frame f;
      hb_h2x_error err;
      int rc = hb_h2x_frame_parse(&hd, pl, NULL, 0, &f, &err);
      CHECK(rc == 0); /* the engine writes only standard, valid frames */
    }
  }
}

static void pump(int fd, hb_h2x_reader *rd) {
  for (int i = 0; i < 16; i++) {
    ev_run(loop, EVRUN_NOWAIT);
    drain(fd, rd);
    if (!worker.posted) break;
  }
}

/* Gives |len| bytes to the engine as conn.c's conn_feed would. */
static void feed(hb_conn *c, int fd, hb_h2x_reader *rd, const uint8_t *d, size_t len) {
  size_t off = 0;
  int spins = 0;
  while (off < len && alive(c) && c->state == HB_CONN_OPEN) {
    ssize_t n = c->engine->on_read(c, d + off, len - off);
    if (n < 0) {
      hb_conn_close(c, "fuzz: on_read failed");
      return;
    }
    CHECK((size_t)n <= len - off);
    off += (size_t)n;
    if (n == 0) {
      pump(fd, rd); /* pushed back: let the output drain */
      if (++spins > 64) return;
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!ready) setup();
  if (size < 2) return 0;
  unsigned maxchunk = data[0];
  uint32_t seed = data[1] * 2654435761u + 1;
  data += 2;
  size -= 2;
  int sv[2];
  CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
  hb_listener *l = worker.gen->listeners[0];
  hb_conn *c = hb_conn_new(&worker, worker.gen, sv[0], HB_CONN_ACCEPTED, &l->cfg->limits);
  CHECK(c != NULL);
  c->listener = l;
  l->nconns++;
  c->http_server = 1;
  snprintf(c->peer, sizeof(c->peer), "fuzz");
  hb_h2x_reader rd;
  CHECK(hb_h2x_reader_init(&rd, HB_H2X_MAX_MAX_FRAME_SIZE) == 0);
  if (hb_conn_set_engine(c, &hb_engine_h2x) == 0) {
    feed(c, sv[1], &rd, (const uint8_t *)HB_H2X_PREFACE, HB_H2X_PREFACE_LEN);
    size_t off = 0;
    while (off < size && alive(c)) {
      size_t n = size - off;
      if (maxchunk) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        n = HB_MIN(n, 1 + seed % maxchunk);
      }
      feed(c, sv[1], &rd, data + off, n);
      off += n;
      pump(sv[1], &rd);
    }
    /* the peer's EOF, as conn.c reports it */
    if (alive(c)) {
      c->eof_seen = 1;
      if (c->engine->on_eof(c) != 0) hb_conn_close(c, "fuzz: eof");
    }
    pump(sv[1], &rd);
  }
  if (alive(c)) hb_conn_close(c, "fuzz: done");
  ev_run(loop, EVRUN_NOWAIT); /* frees closed conns */
  hb_h2x_reader_free(&rd);
  close(sv[1]);
  return 0;
}
