/* main.c: h2bridge's command line: -c FILE runs, -t -c FILE checks the
 * configuration and prints each route's pipeline, --help, --version.  Owns the
 * loaded config and the worker for the process's lifetime. */
#include "h2bridge.h"
#include "bufq.h"
#include "config.h"
#include "errors.h"
#include "log.h"
#include "mem.h"
#include "worker.h"

#include <ev.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef HB_DEFAULT_CONFIG
#define HB_DEFAULT_CONFIG "config/h2bridge.yaml"
#endif

static void usage(FILE *f) {
  fprintf(f,
          "Usage: h2bridge [-t] [-c FILE]\n"
          "A transparent reverse proxy that translates between HTTP protocol variants\n"
          "(HTTP/1.1, h2, h2c; WebSockets, reversed HTTP and extensions to come).\n"
          "\n"
          "Options:\n"
          "  -c, --config FILE   configuration file (default: " HB_DEFAULT_CONFIG ")\n"
          "  -t, --test          check the configuration, print each route's pipeline, and exit\n"
          "                      (0 when valid; errors print as FILE:LINE:COL: key: what is wrong)\n"
          "  -h, --help          show this help and exit\n"
          "  -v, --version       show the version and exit\n"
          "\n"
          "Signals: SIGTERM/SIGINT drain gracefully (in-flight exchanges finish within\n"
          "defaults.drain_timeout); SIGHUP reloads the configuration (live connections\n"
          "keep the one they started with; a bad file is logged and ignored).\n"
          "Reference: docs/config.md\n");
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                       {"test", no_argument, NULL, 't'},
                                       {"help", no_argument, NULL, 'h'},
                                       {"version", no_argument, NULL, 'v'},
                                       {NULL, 0, NULL, 0}};
  const char *path = HB_DEFAULT_CONFIG;
  int test = 0, ch;
  while ((ch = getopt_long(argc, argv, "c:thv", opts, NULL)) != -1) {
    switch (ch) {
    case 'c': path = optarg; break;
    case 't': test = 1; break;
    case 'h': usage(stdout); return 0;
    case 'v': printf("h2bridge %s\n", HB_VERSION); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "h2bridge: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
  }
  hb_config *cfg = NULL;
  if (hb_config_load(path, &cfg, stderr) != 0) {
    fprintf(stderr, "h2bridge: configuration %s is not valid\n", path);
    return 1;
  }
  if (test) {
    if (hb_config_check_files(cfg, stderr) != 0) {
      fprintf(stderr, "h2bridge: configuration %s is not valid\n", path);
      hb_config_free(cfg);
      return 1;
    }
    hb_config_dump_pipeline(cfg, stdout);
    char why[512];
    if (hb_worker_check_supported(cfg, why, sizeof(why)) != 0)
      printf("h2bridge: warning: %s (the file is valid, but h2bridge -c will refuse it)\n", why);
    printf("h2bridge: configuration %s OK\n", path);
    hb_config_free(cfg);
    return 0;
  }
  if (hb_log_open(cfg->log_level, cfg->log_access, cfg->log_json) != 0) {
    fprintf(stderr, "h2bridge: cannot open access log '%s'\n", cfg->log_access);
    hb_config_free(cfg);
    return 1;
  }
  /* Buffers come and go in 16 KiB chunks; do not hand heap tops back to the
   * kernel on every burst (brk storms cost more than the memory). */
  mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
  mallopt(M_TOP_PAD, 1024 * 1024);
  struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
  hb_worker w;
  char err[512] = "";
  int rc = hb_worker_init(&w, loop, cfg, path, err, sizeof(err));
  if (rc != 0) {
    fprintf(stderr, "%s\nh2bridge: cannot start: %s\n", err, hb_strerror(rc));
    hb_worker_free(&w);
    return 1;
  }
  hb_log_info(0, -1, "h2bridge %s started with %s", HB_VERSION, path);
  int code = hb_worker_run(&w);
  hb_log_info(0, -1, "stopped");
  hb_worker_free(&w);
  hb_log_close();
  hb_bufq_cache_trim();
  hb_arena_cache_trim();
  ev_loop_destroy(loop);
  return code;
}
