/* fuzz_config.c: libFuzzer target for the config loader (bridge/config.c).
 * Each input is written to config.yaml in a private scratch directory (so
 * relative paths and include: stay inside it) and loaded; a config that loads
 * must have every reference resolved, dump its pipeline and free cleanly.
 * Owns the scratch directory for the process's lifetime; single-threaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)       \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

static char dir[32], path[64];
static FILE *devnull;

static void cleanup(void) {
  unlink(path);
  rmdir(dir);
}

static void setup(void) {
  snprintf(dir, sizeof(dir), "/tmp/fuzz_config.XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof(path), "%s/config.yaml", dir);
  devnull = fopen("/dev/null", "w");
  CHECK(devnull != NULL);
  atexit(cleanup);
}

static void check_resolved(const hb_config *cfg) {
  for (size_t i = 0; i < cfg->nlisteners; i++) {
    const hb_config_listener *l = &cfg->listeners[i];
    CHECK(l->name && l->host && l->port && l->nalpn > 0);
    CHECK(!l->tls || l->ncerts > 0);
    for (size_t j = 0; j < l->ncerts; j++) CHECK(l->certs[j] < cfg->ncerts);
  }
  for (size_t i = 0; i < cfg->nupstreams; i++) {
    const hb_config_upstream *u = &cfg->upstreams[i];
    CHECK(u->name && u->host && *u->host && u->port && u->max_connections >= 1);
    CHECK(u->client_cert < (ssize_t)cfg->ncerts && (u->client_cert >= 0) == (u->tls_client_cert != NULL));
  }
  for (size_t i = 0; i < cfg->nroutes; i++) {
    const hb_config_route *r = &cfg->routes[i];
    CHECK(r->name && r->pos.file && r->pos.line >= 1);
    CHECK(r->listener < (ssize_t)cfg->nlisteners && r->connector < (ssize_t)cfg->nconnectors);
    if (r->target == HB_TARGET_UPSTREAM)
      CHECK(r->upstream >= 0 && r->upstream < (ssize_t)cfg->nupstreams);
    else
      CHECK(r->target == HB_TARGET_ORIGIN && r->origin >= 0 && r->origin < (ssize_t)cfg->norigins);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!devnull) setup();
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (size) CHECK(fwrite(data, 1, size, f) == size);
  fclose(f);

  hb_config *cfg = NULL;
  int rv = hb_config_load(path, &cfg, devnull);
  if (rv == 0) {
    CHECK(cfg != NULL);
    check_resolved(cfg);
    hb_config_dump_pipeline(cfg, devnull);
    hb_config_free(cfg);
  } else {
    CHECK(cfg == NULL && (rv == HB_ERR_CONFIG || rv == HB_ERR_NOMEM));
  }
  return 0;
}
