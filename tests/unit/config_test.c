/* config_test.c: the config loader: every key of DESIGN.md §5, limits
 * inheritance, duration/size/address parsers, FILE:LINE:COL errors, include:,
 * the -t dump, shipped examples, and allocation failures.  Owns a scratch
 * directory under /tmp for the suite's lifetime. */
#define _GNU_SOURCE /* open_memstream, nftw */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CUnit/CUnit.h>

#include "config.h"
#include "errors.h"
#include "hb_test.h"
#include "mem.h"

static char dir[64]; /* scratch directory, made by the suite's init */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static int suite_init(void) {
  snprintf(dir, sizeof(dir), "/tmp/hb_config_test.XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int suite_clean(void) { return dir[0] ? nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) : 0; }

/* Writes |text| to |dir|/|name| (parent directories made); returns the path
 * in a static buffer. */
static const char *put(const char *name, const char *text) {
  static char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  for (char *s = strchr(path + strlen(dir) + 1, '/'); s; s = strchr(s + 1, '/')) {
    *s = '\0';
    mkdir(path, 0700);
    *s = '/';
  }
  FILE *f = fopen(path, "w");
  if (!f) return path;
  fputs(text, f);
  fclose(f);
  return path;
}

/* Loads |text| as |dir|/t.yaml; the error output goes to |*errs| (caller
 * frees with free()). */
static int load_text(const char *text, hb_config **cfg, char **errs) {
  size_t len;
  char path[512];
  snprintf(path, sizeof(path), "%s", put("t.yaml", text));
  FILE *err = open_memstream(errs, &len);
  int rv = hb_config_load(path, cfg, err);
  fclose(err);
  return rv;
}

/* True when loading |text| fails and some error line starts with
 * "<path>:|where|" (where = "LINE:COL: key: message-start"). */
static int fails_with(const char *text, const char *where) {
  hb_config *cfg = NULL;
  char *errs = NULL, want[1024];
  int rv = load_text(text, &cfg, &errs);
  snprintf(want, sizeof(want), "%s/t.yaml:%s", dir, where);
  int found = 0;
  for (const char *line = errs; line && *line && !found;) {
    found = strncmp(line, want, strlen(want)) == 0;
    line = strchr(line, '\n');
    if (line) line++;
  }
  int ok = rv == HB_ERR_CONFIG && cfg == NULL && found;
  if (!ok) fprintf(stderr, "\nwanted %s\ngot rv=%d:\n%s", want, rv, errs ? errs : "");
  hb_config_free(cfg);
  free(errs);
  return ok;
}

#define SHA_COLONS "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"
#define SHA_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static const char full_yaml[] =
    "log: { level: debug, access: logs/access.log, format: json }\n"
    "defaults:\n"
    "  header_bytes: 32KiB\n"
    "  header_fields: 50\n"
    "  max_streams: 200\n"
    "  stream_window: 2MiB\n"
    "  connection_window: 32MiB\n"
    "  handshake_timeout: 5s\n"
    "  request_header_timeout: 20s\n"
    "  idle_timeout: 2m\n"
    "  tunnel_idle_timeout: 0\n"
    "  connect_timeout: 3s\n"
    "  response_timeout: 90s\n"
    "  drain_timeout: 1500ms\n"
    "  max_connections: 5000\n"
    "  buffer: 128KiB\n"
    "  max_tunnels: 50\n"
    "  max_listener_tunnels: 5000\n"
    "  ping_interval: 15s\n"
    "  half_close_timeout: 20s\n"
    "  lingering_timeout: 3s\n"
    "  h2_max_continuations: 4\n"
    "  h2_settings_timeout: 5s\n"
    "  h2_max_empty_frames: 5\n"
    "  h2_reset_burst: 100\n"
    "  h2_reset_rate: 10\n"
    "  h2_glitch_burst: 50\n"
    "  h2_glitch_rate: 5\n"
    "  h2_max_settings: 16\n"
    "  h2_max_control_frames: 500\n"
    "  h2_ping_burst: 20\n"
    "  h2_ping_rate: 5\n"
    "  h2_settings_burst: 20\n"
    "  h2_settings_rate: 5\n"
    "  h2_priority_burst: 500\n"
    "  h2_priority_rate: 50\n"
    "certificates:\n"
    "  - { name: demo, cert: demo.pem, key: demo.key }\n"
    "  - { name: gen, cert: gen/gen.pem, key: gen/gen.key, generate: true }\n"
    "listeners:\n"
    "  - name: edge\n"
    "    listen: 127.0.0.1:8443\n"
    "    tls:\n"
    "      certificates: [demo, gen]\n"
    "      alpn: [h2, http/1.1, rh2, rh1]\n"
    "      client_ca: ca.pem\n"
    "      request_client_cert: false\n"
    "    engine: nghttp2\n"
    "    extensions: []\n"
    "    x_forwarded_for: true\n"
    "    forwarded: true\n"
    "    idle_timeout: 30s\n"
    "  - name: peer\n"
    "    listen: \"[::1]:8444\"\n"
    "    tls: { certificates: [gen], request_client_cert: true }\n"
    "    engine: h2x\n"
    "    extensions: [p2p, symmetric, ex_headers]\n"
    "  - { name: plain, listen: \":8080\" }\n"
    "upstreams:\n"
    "  - name: chat\n"
    "    address: 127.0.0.1:9001\n"
    "    protocol: http/1.1\n"
    "    tls: { sni: chat.internal, ca: /etc/ssl/ca.pem, client_certificate: demo, verify: false }\n"
    "    max_connections: 32\n"
    "    max_streams_per_connection: 50\n"
    "    engine: nghttp2\n"
    "    response_timeout: 120s\n"
    "  - { name: api, address: \"localhost:9002\", protocol: h2 }\n"
    "  - { name: grpc, address: \"[::1]:9003\", protocol: h2c, engine: h2x }\n"
    "origins:\n"
    "  - name: app\n"
    "    protocols: [rh2, rh1, p2p, symmetric]\n"
    "    authorities: [app.example.com, \"*.app.example.com\"]\n"
    "    paths: [/, /api]\n"
    "    auth:\n"
    "      ca: origin-ca.pem\n"
    "      client_cert_sha256: [\"" SHA_COLONS "\"]\n"
    "      path: /.well-known/h2bridge/authorize\n"
    "      token_sha256: [" SHA_HEX "]\n"
    "      hmac_key_file: secrets/hmac.key\n"
    "    wait_for_origin: 10s\n"
    "    ping_interval: 15s\n"
    "    ping_timeout: 5s\n"
    "connectors:\n"
    "  - name: to-gw\n"
    "    gateways: [gw1.example.com:443, gw2.example.com:443]\n"
    "    protocol: rh2\n"
    "    tls: { sni: gw.example.com, ca: ca.pem, client_certificate: demo }\n"
    "    token_file: /etc/h2bridge/token\n"
    "    authorities: [app.example.com]\n"
    "    paths: [/]\n"
    "    connections: 3\n"
    "    backoff: { initial: 100ms, max: 30s }\n"
    "    on_auth_failure: exit\n"
    "routes:\n"
    "  - name: chat-ws\n"
    "    match:\n"
    "      listener: edge\n"
    "      authority: chat.example.com\n"
    "      path: /ws\n"
    "      method: GET\n"
    "      protocol: websocket\n"
    "    to: { upstream: chat }\n"
    "  - match: { connector: to-gw }\n"
    "    to: { upstream: api }\n"
    "  - match: { authority: app.example.com }\n"
    "    to: { origin: app }\n"
    "  - to: { upstream: grpc }\n";

static char *path_in_dir(const char *rel) {
  static char buf[512];
  snprintf(buf, sizeof(buf), "%s/%s", dir, rel);
  return buf;
}

static void test_duration(void) {
  double d = -1;
  CU_ASSERT(hb_parse_duration("500ms", &d) == 0 && d == 0.5);
  CU_ASSERT(hb_parse_duration("30s", &d) == 0 && d == 30);
  CU_ASSERT(hb_parse_duration("5m", &d) == 0 && d == 300);
  CU_ASSERT(hb_parse_duration("1h", &d) == 0 && d == 3600);
  CU_ASSERT(hb_parse_duration("0", &d) == 0 && d == 0);
  CU_ASSERT(hb_parse_duration("0s", &d) == 0 && d == 0);
  static const char *const bad[] = {"5x", "-1s", "", "30", "1.5s", " 5s", "5 s", "5S", "s",
                                    "99999999999999999999s", "100000000000h", "5ms ", "+5s"};
  for (size_t i = 0; i < HB_ARRAY_LEN(bad); i++) {
    d = 42;
    CU_ASSERT_EQUAL(hb_parse_duration(bad[i], &d), HB_ERR_INVALID);
    CU_ASSERT_EQUAL(d, 42); /* untouched on error */
  }
}

static void test_size(void) {
  uint64_t v = 1;
  CU_ASSERT(hb_parse_size("65536", &v) == 0 && v == 65536);
  CU_ASSERT(hb_parse_size("64KiB", &v) == 0 && v == 65536);
  CU_ASSERT(hb_parse_size("16MiB", &v) == 0 && v == 16u << 20);
  CU_ASSERT(hb_parse_size("1GiB", &v) == 0 && v == 1u << 30);
  CU_ASSERT(hb_parse_size("0", &v) == 0 && v == 0);
  static const char *const bad[] = {"64KB", "64k", "64kib", "-1", "", "1.5MiB", "KiB", "64 KiB",
                                    "18446744073709551616", "17179869184GiB", "0x10"};
  for (size_t i = 0; i < HB_ARRAY_LEN(bad); i++) CU_ASSERT_EQUAL(hb_parse_size(bad[i], &v), HB_ERR_INVALID);
}

static void test_hostport(void) {
  static const struct {
    const char *in, *host, *port;
  } good[] = {{"127.0.0.1:8443", "127.0.0.1", "8443"}, {"[::1]:8443", "::1", "8443"}, {":8080", "", "8080"},
              {"gw.example.com:443", "gw.example.com", "443"}, {"[fe80::1%eth0]:1", "fe80::1%eth0", "1"}};
  for (size_t i = 0; i < HB_ARRAY_LEN(good); i++) {
    char *h = NULL, *p = NULL;
    CU_ASSERT_EQUAL(hb_parse_hostport(good[i].in, &h, &p), 0);
    if (h && p) {
      CU_ASSERT_STRING_EQUAL(h, good[i].host);
      CU_ASSERT_STRING_EQUAL(p, good[i].port);
    }
    hb_free(h);
    hb_free(p);
  }
  static const char *const bad[] = {"::1:80", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "[::1]8443",
                                    "[]:80", "host:80x", "a b:80", "[::1]:", ":", "h:-1", "[::1:80"};
  for (size_t i = 0; i < HB_ARRAY_LEN(bad); i++) {
    char *h = NULL, *p = NULL;
    CU_ASSERT_EQUAL(hb_parse_hostport(bad[i], &h, &p), HB_ERR_INVALID);
    CU_ASSERT(h == NULL && p == NULL);
  }
}

static void put_cert_files(void) {
  put("demo.pem", "not checked by the loader\n");
  put("demo.key", "not checked by the loader\n");
}

/* 1-based line of the first line of |text| containing |needle| (0: none), so
 * position checks survive keys added to the sample. */
static int line_of(const char *text, const char *needle) {
  const char *p = strstr(text, needle);
  if (!p) return 0;
  int line = 1;
  for (const char *q = text; q < p; q++) line += *q == '\n';
  return line;
}

static void test_full(void) {
  hb_config *cfg = NULL;
  char *errs = NULL;
  put_cert_files();
  int rv = load_text(full_yaml, &cfg, &errs);
  CU_ASSERT_EQUAL_FATAL(rv, 0);
  if (errs && *errs) fprintf(stderr, "%s", errs);
  free(errs);
  CU_ASSERT_FATAL(cfg != NULL);

  CU_ASSERT_EQUAL(cfg->log_level, HB_LOG_DEBUG);
  CU_ASSERT_STRING_EQUAL(cfg->log_access, path_in_dir("logs/access.log"));
  CU_ASSERT_EQUAL(cfg->log_json, 1);
  CU_ASSERT_EQUAL(cfg->defaults.header_bytes, 32 * 1024);
  CU_ASSERT_EQUAL(cfg->defaults.header_fields, 50);
  CU_ASSERT_EQUAL(cfg->defaults.max_streams, 200);
  CU_ASSERT_EQUAL(cfg->defaults.stream_window, 2 << 20);
  CU_ASSERT_EQUAL(cfg->defaults.connection_window, 32 << 20);
  CU_ASSERT_DOUBLE_EQUAL(cfg->defaults.handshake_timeout, 5, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(cfg->defaults.request_header_timeout, 20, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(cfg->defaults.idle_timeout, 120, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(cfg->defaults.tunnel_idle_timeout, 0, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(cfg->defaults.connect_timeout, 3, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(cfg->defaults.response_timeout, 90, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(cfg->defaults.drain_timeout, 1.5, 1e-9);
  CU_ASSERT_EQUAL(cfg->defaults.max_connections, 5000);
  CU_ASSERT_EQUAL(cfg->defaults.buffer, 128 * 1024);
  CU_ASSERT_DOUBLE_EQUAL(cfg->defaults.lingering_timeout, 3, 1e-9);
  CU_ASSERT_EQUAL(cfg->defaults.set, ((uint64_t)1 << HB_LIMIT_COUNT) - 1);

  CU_ASSERT_EQUAL_FATAL(cfg->ncerts, 2);
  CU_ASSERT_STRING_EQUAL(cfg->certs[0].cert, path_in_dir("demo.pem"));
  CU_ASSERT_STRING_EQUAL(cfg->certs[1].key, path_in_dir("gen/gen.key"));
  CU_ASSERT_EQUAL(cfg->certs[0].generate, 0);
  CU_ASSERT_EQUAL(cfg->certs[1].generate, 1);
  CU_ASSERT_EQUAL(cfg->certs[1].pos.line, line_of(full_yaml, "{ name: gen,"));
  CU_ASSERT_EQUAL(cfg->certs[1].pos.col, 5);

  CU_ASSERT_EQUAL_FATAL(cfg->nlisteners, 3);
  const hb_config_listener *l = &cfg->listeners[0];
  CU_ASSERT_STRING_EQUAL(l->name, "edge");
  CU_ASSERT_STRING_EQUAL(l->host, "127.0.0.1");
  CU_ASSERT_STRING_EQUAL(l->port, "8443");
  CU_ASSERT(l->tls && l->ncerts == 2 && l->certs[0] == 0 && l->certs[1] == 1);
  CU_ASSERT(l->nalpn == 4 && strcmp(l->alpn[2], "rh2") == 0);
  CU_ASSERT_STRING_EQUAL(l->client_ca, path_in_dir("ca.pem"));
  CU_ASSERT(l->x_forwarded_for && l->forwarded && !l->request_client_cert);
  CU_ASSERT_EQUAL(l->engine, HB_ENGINE_NGHTTP2);
  CU_ASSERT_EQUAL(l->nextensions, 0);
  l = &cfg->listeners[1];
  CU_ASSERT_STRING_EQUAL(l->host, "::1");
  CU_ASSERT(l->engine == HB_ENGINE_H2X && l->nextensions == 3 && strcmp(l->extensions[2], "ex_headers") == 0);
  CU_ASSERT(l->nalpn == 2 && strcmp(l->alpn[0], "h2") == 0 && strcmp(l->alpn[1], "http/1.1") == 0);
  CU_ASSERT(l->request_client_cert && !l->x_forwarded_for);
  l = &cfg->listeners[2];
  CU_ASSERT(!l->tls && strcmp(l->host, "") == 0 && strcmp(l->port, "8080") == 0 && l->nalpn == 2);

  CU_ASSERT_EQUAL_FATAL(cfg->nupstreams, 3);
  const hb_config_upstream *u = &cfg->upstreams[0];
  CU_ASSERT(u->protocol == HB_PROTO_HTTP11 && u->tls && !u->tls_verify);
  CU_ASSERT_STRING_EQUAL(u->tls_sni, "chat.internal");
  CU_ASSERT_STRING_EQUAL(u->tls_ca, "/etc/ssl/ca.pem");
  CU_ASSERT_STRING_EQUAL(u->tls_client_cert, "demo");
  CU_ASSERT_EQUAL(u->client_cert, 0);
  CU_ASSERT(u->max_connections == 32 && u->limits.max_connections == 32);
  CU_ASSERT_EQUAL(u->max_streams_per_connection, 50);
  u = &cfg->upstreams[1];
  CU_ASSERT(u->protocol == HB_PROTO_H2 && u->tls && u->tls_verify && strcmp(u->tls_sni, "localhost") == 0);
  CU_ASSERT(u->client_cert == -1 && u->max_streams_per_connection == 100);
  u = &cfg->upstreams[2];
  CU_ASSERT(u->protocol == HB_PROTO_H2C && !u->tls && u->engine == HB_ENGINE_H2X && !strcmp(u->host, "::1"));

  CU_ASSERT_EQUAL_FATAL(cfg->norigins, 1);
  const hb_config_origin *o = &cfg->origins[0];
  CU_ASSERT(o->nprotocols == 4 && o->nauthorities == 2 && o->npaths == 2);
  CU_ASSERT_STRING_EQUAL(o->authorities[1], "*.app.example.com");
  CU_ASSERT_STRING_EQUAL(o->auth_ca, path_in_dir("origin-ca.pem"));
  CU_ASSERT(o->nauth_client_cert_sha256 == 1 && strcmp(o->auth_client_cert_sha256[0], SHA_HEX) == 0);
  CU_ASSERT(o->nauth_token_sha256 == 1 && strcmp(o->auth_token_sha256[0], SHA_HEX) == 0);
  CU_ASSERT_STRING_EQUAL(o->auth_path, "/.well-known/h2bridge/authorize");
  CU_ASSERT_STRING_EQUAL(o->auth_hmac_key_file, path_in_dir("secrets/hmac.key"));
  CU_ASSERT(o->wait_for_origin == 10 && o->ping_interval == 15 && o->ping_timeout == 5);

  CU_ASSERT_EQUAL_FATAL(cfg->nconnectors, 1);
  const hb_config_connector *c = &cfg->connectors[0];
  CU_ASSERT(c->ngateways == 2 && strcmp(c->gateways[1], "gw2.example.com:443") == 0);
  CU_ASSERT_STRING_EQUAL(c->protocol, "rh2");
  CU_ASSERT_STRING_EQUAL(c->tls_sni, "gw.example.com");
  CU_ASSERT_STRING_EQUAL(c->tls_ca, path_in_dir("ca.pem"));
  CU_ASSERT(strcmp(c->tls_client_cert, "demo") == 0 && c->client_cert == 0);
  CU_ASSERT_STRING_EQUAL(c->token_file, "/etc/h2bridge/token");
  CU_ASSERT(c->hmac_key_file == NULL && c->nauthorities == 1 && c->npaths == 1 && c->connections == 3);
  CU_ASSERT(c->backoff_initial == 0.1 && c->backoff_max == 30);
  CU_ASSERT_STRING_EQUAL(c->on_auth_failure, "exit");

  CU_ASSERT_EQUAL_FATAL(cfg->nroutes, 4);
  const hb_config_route *r = &cfg->routes[0];
  CU_ASSERT_STRING_EQUAL(r->name, "chat-ws");
  CU_ASSERT(r->listener == 0 && r->connector == -1 && r->target == HB_TARGET_UPSTREAM && r->upstream == 0);
  CU_ASSERT(!strcmp(r->match_authority, "chat.example.com") && !strcmp(r->match_path, "/ws") &&
            !strcmp(r->match_method, "GET") && !strcmp(r->match_protocol, "websocket"));
  CU_ASSERT_EQUAL(r->pos.line, line_of(full_yaml, "- name: chat-ws"));
  CU_ASSERT_STRING_EQUAL(cfg->routes[1].name, "route#2");
  CU_ASSERT(cfg->routes[1].connector == 0 && cfg->routes[1].listener == -1 && cfg->routes[1].upstream == 1);
  CU_ASSERT(cfg->routes[2].target == HB_TARGET_ORIGIN && cfg->routes[2].origin == 0);
  CU_ASSERT(cfg->routes[3].listener == -1 && !cfg->routes[3].match_path && cfg->routes[3].upstream == 2);
  CU_ASSERT_STRING_EQUAL(cfg->path, path_in_dir("t.yaml"));
  CU_ASSERT(cfg->nfiles == 1 && cfg->routes[0].pos.file == cfg->files[0]);

  /* the -t dump */
  char *out = NULL;
  size_t len;
  FILE *f = open_memstream(&out, &len);
  hb_config_dump_pipeline(cfg, f);
  fclose(f);
  char want[1024];
  snprintf(want, sizeof(want),
           "route \"chat-ws\" (%s:%d): listener edge [tls h2,http/1.1,rh2,rh1] -> match authority=chat.example.com "
           "path=/ws method=GET protocol=websocket -> upstream chat (127.0.0.1:9001 http/1.1 tls sni=chat.internal "
           "verify=off)\n",
           path_in_dir("t.yaml"), line_of(full_yaml, "- name: chat-ws"));
  CU_ASSERT(out && strstr(out, want) != NULL);
  CU_ASSERT(out && strstr(out, "-> origin app (reverse peers: rh2,rh1,p2p,symmetric)\n") != NULL);
  CU_ASSERT(out && strstr(out, "connector to-gw [rh2 via gw1.example.com:443,gw2.example.com:443] -> match all "
                               "-> upstream api (localhost:9002 h2 tls sni=localhost)\n") != NULL);
  CU_ASSERT(out && strstr(out, "any listener -> match all -> upstream grpc ([::1]:9003 h2c)\n") != NULL);
  if (out && !strstr(out, want)) fprintf(stderr, "\n%s", out);
  free(out);
  hb_config_free(cfg);
}

static void test_limits_inheritance(void) {
  hb_limits d;
  hb_limits_default(&d);
  CU_ASSERT(d.header_bytes == 65536 && d.header_fields == 100 && d.max_streams == 100);
  CU_ASSERT(d.stream_window == 1 << 20 && d.connection_window == 16 << 20 && d.buffer == 65536);
  CU_ASSERT(d.handshake_timeout == 10 && d.request_header_timeout == 30 && d.idle_timeout == 60);
  CU_ASSERT(d.tunnel_idle_timeout == 0 && d.connect_timeout == 5 && d.response_timeout == 60);
  CU_ASSERT(d.drain_timeout == 30 && d.max_connections == 10000 && d.set == 0);
  CU_ASSERT(d.h2_max_settings == 32 && d.h2_max_control_frames == 1000);
  CU_ASSERT(d.h2_ping_burst == 50 && d.h2_ping_rate == 10 && d.h2_settings_burst == 50 && d.h2_settings_rate == 10);
  CU_ASSERT(d.h2_priority_burst == 1000 && d.h2_priority_rate == 100);

  hb_config *cfg = NULL;
  char *errs = NULL;
  int rv = load_text("defaults: { idle_timeout: 5m, max_streams: 7 }\n"
                     "listeners:\n"
                     "  - { name: a, listen: ':1', max_streams: 9, buffer: 1MiB }\n"
                     "  - { name: b, listen: ':2' }\n"
                     "upstreams:\n"
                     "  - { name: u, address: 'h:1', response_timeout: 2s, max_connections: 3 }\n"
                     "  - { name: v, address: 'h:2' }\n",
                     &cfg, &errs);
  CU_ASSERT_EQUAL_FATAL(rv, 0);
  free(errs);
  CU_ASSERT(cfg->defaults.idle_timeout == 300 && cfg->defaults.max_streams == 7);
  CU_ASSERT(cfg->defaults.set == ((1u << HB_LIMIT_IDLE_TIMEOUT) | (1u << HB_LIMIT_MAX_STREAMS)));
  CU_ASSERT(cfg->defaults.header_fields == 100 && cfg->defaults.max_connections == 10000);
  const hb_limits *a = &cfg->listeners[0].limits, *b = &cfg->listeners[1].limits;
  CU_ASSERT(a->max_streams == 9 && a->buffer == 1 << 20 && a->idle_timeout == 300 && a->drain_timeout == 30);
  CU_ASSERT(a->set == ((1u << HB_LIMIT_MAX_STREAMS) | (1u << HB_LIMIT_BUFFER)));
  CU_ASSERT(b->max_streams == 7 && b->idle_timeout == 300 && b->max_connections == 10000 && b->set == 0);
  const hb_config_upstream *u = &cfg->upstreams[0], *v = &cfg->upstreams[1];
  CU_ASSERT(u->limits.response_timeout == 2 && u->limits.idle_timeout == 300 && u->max_connections == 3);
  CU_ASSERT(v->limits.response_timeout == 60 && v->max_connections == 64 && v->limits.max_connections == 64);
  hb_config_free(cfg);

  /* defaults: max_connections applies to upstreams too */
  rv = load_text("defaults: { max_connections: 500 }\n"
                 "listeners: [{ name: a, listen: ':1' }]\n"
                 "upstreams: [{ name: u, address: 'h:1' }]\n",
                 &cfg, &errs);
  CU_ASSERT_EQUAL_FATAL(rv, 0);
  free(errs);
  CU_ASSERT(cfg->listeners[0].limits.max_connections == 500 && cfg->upstreams[0].max_connections == 500);
  hb_config_free(cfg);

  /* the h2 flood limits are keys like any other, with their ranges */
  rv = load_text("defaults: { h2_max_settings: 16, h2_max_control_frames: 200, h2_ping_burst: 5, h2_ping_rate: 1 }\n"
                 "listeners: [{ name: a, listen: ':1', h2_settings_burst: 3, h2_settings_rate: 2,\n"
                 "              h2_priority_burst: 7, h2_priority_rate: 4 }]\n",
                 &cfg, &errs);
  CU_ASSERT_EQUAL_FATAL(rv, 0);
  free(errs);
  const hb_limits *h = &cfg->listeners[0].limits;
  CU_ASSERT(h->h2_max_settings == 16 && h->h2_max_control_frames == 200 && h->h2_ping_burst == 5 && h->h2_ping_rate == 1);
  CU_ASSERT(h->h2_settings_burst == 3 && h->h2_settings_rate == 2 && h->h2_priority_burst == 7 && h->h2_priority_rate == 4);
  hb_config_free(cfg);
  errs = NULL;
  rv = load_text("listeners: [{ name: a, listen: ':1', h2_max_settings: 4 }]\n", &cfg, &errs);
  CU_ASSERT(rv != 0);
  CU_ASSERT(errs && strstr(errs, ":1:") && strstr(errs, "h2_max_settings"));
  free(errs);
}

/* A valid base every error case breaks on one line. */
#define BASE_HEAD                                  \
  "listeners:\n"                                   \
  "  - name: edge\n"                               \
  "    listen: 127.0.0.1:8080\n"
#define BASE_TAIL                                  \
  "upstreams:\n"                                   \
  "  - { name: app, address: 127.0.0.1:9001 }\n"   \
  "routes:\n"                                      \
  "  - to: { upstream: app }\n"

static void test_errors(void) {
  /* the base itself is fine */
  hb_config *cfg = NULL;
  char *errs = NULL;
  CU_ASSERT_EQUAL(load_text(BASE_HEAD BASE_TAIL, &cfg, &errs), 0);
  hb_config_free(cfg);
  free(errs);

  /* unknown keys, at the key */
  CU_ASSERT(fails_with(BASE_HEAD "    bogus: 1\n" BASE_TAIL, "4:5: listeners[0].bogus: unknown key 'bogus'"));
  CU_ASSERT(fails_with("defaults:\n  idle_timout: 5s\n" BASE_HEAD BASE_TAIL,
                       "2:3: defaults.idle_timout: unknown key 'idle_timout' (did you mean 'idle_timeout'?)"));
  CU_ASSERT(fails_with("listeners: []\n" BASE_HEAD BASE_TAIL, "2:1: listeners: duplicate key 'listeners'"));
  CU_ASSERT(fails_with(BASE_HEAD "    tls: { certificates: [x], sni: a }\n" BASE_TAIL,
                       "4:31: listeners[0].tls.sni: unknown key 'sni'"));
  /* wrong types, at the value */
  CU_ASSERT(fails_with("listeners: { name: edge }\n", "1:12: listeners: expected a list"));
  CU_ASSERT(fails_with(BASE_HEAD "    tls: true\n" BASE_TAIL, "4:10: listeners[0].tls: expected a mapping"));
  CU_ASSERT(fails_with(BASE_HEAD "    x_forwarded_for: yes\n" BASE_TAIL,
                       "4:22: listeners[0].x_forwarded_for: expected true or false"));
  CU_ASSERT(fails_with("certificates: [{ name: c, cert: /etc/passwd, key: /etc/passwd }]\n" BASE_HEAD
                       "    tls: { certificates: [c], alpn: h2 }\n" BASE_TAIL,
                       "5:37: listeners[0].tls.alpn: expected a list of strings"));
  CU_ASSERT(fails_with(BASE_HEAD "    max_streams: lots\n" BASE_TAIL,
                       "4:18: listeners[0].max_streams: expected an integer"));
  CU_ASSERT(fails_with(BASE_HEAD "    name2: { a: 1 }\n" BASE_TAIL, "4:5: listeners[0].name2: unknown key"));
  /* durations and sizes name the key and the value */
  CU_ASSERT(fails_with("defaults: { idle_timeout: 5x }\n" BASE_HEAD BASE_TAIL,
                       "1:27: defaults.idle_timeout: invalid duration '5x'"));
  CU_ASSERT(fails_with("defaults: { idle_timeout: -1s }\n" BASE_HEAD BASE_TAIL,
                       "1:27: defaults.idle_timeout: invalid duration '-1s'"));
  CU_ASSERT(fails_with("defaults: { buffer: 64KB }\n" BASE_HEAD BASE_TAIL,
                       "1:21: defaults.buffer: invalid size '64KB'"));
  CU_ASSERT(fails_with("defaults: { stream_window: 1000 }\n" BASE_HEAD BASE_TAIL,
                       "1:28: defaults.stream_window: 1000 is out of range 65535..2147483647"));
  CU_ASSERT(fails_with("defaults: { header_fields: 0 }\n" BASE_HEAD BASE_TAIL,
                       "1:28: defaults.header_fields: 0 is out of range 1..10000"));
  CU_ASSERT(fails_with("defaults: { buffer: 1KiB }\n" BASE_HEAD BASE_TAIL,
                       "1:21: defaults.buffer: 1KiB is out of range 16KiB..64MiB"));
  /* references */
  CU_ASSERT(fails_with(BASE_HEAD BASE_TAIL "  - to: { upstream: nope }\n",
                       "8:21: routes[1].to.upstream: unknown upstream 'nope'"));
  CU_ASSERT(fails_with(BASE_HEAD "    tls: { certificates: [nope] }\n" BASE_TAIL,
                       "4:27: listeners[0].tls.certificates[0]: unknown certificate 'nope'"));
  CU_ASSERT(fails_with(BASE_HEAD BASE_TAIL "  - { match: { listener: edg }, to: { upstream: app } }\n",
                       "8:26: routes[1].match.listener: unknown listener 'edg'"));
  CU_ASSERT(fails_with(BASE_HEAD BASE_TAIL "  - { match: { connector: c }, to: { upstream: app } }\n",
                       "8:27: routes[1].match.connector: unknown connector 'c'"));
  CU_ASSERT(fails_with(BASE_HEAD BASE_TAIL "  - to: { origin: app }\n", "8:19: routes[1].to.origin: unknown origin 'app'"));
  CU_ASSERT(fails_with(BASE_HEAD "upstreams:\n  - { name: app, address: 'h:1', tls: { client_certificate: cc } }\n"
                                 "routes: []\n",
                       "5:61: upstreams[0].tls.client_certificate: unknown certificate 'cc'"));
  CU_ASSERT(fails_with(BASE_HEAD BASE_TAIL "  - to: { upstream: app, origin: o }\n",
                       "8:34: routes[1].to.origin: give exactly one of upstream or origin"));
  CU_ASSERT(fails_with(BASE_HEAD BASE_TAIL "  - to: {}\n", "8:9: routes[1].to: needs upstream or origin"));
  CU_ASSERT(fails_with(BASE_HEAD BASE_TAIL "  - match: { path: / }\n", "8:5: routes[1]: missing required key 'to'"));
  /* duplicate names, at the second name */
  CU_ASSERT(fails_with(BASE_HEAD "  - { name: edge, listen: ':9' }\n" BASE_TAIL,
                       "4:13: listeners[1].name: duplicate listener name 'edge'"));
  CU_ASSERT(fails_with(BASE_HEAD BASE_TAIL "upstreams2: 1\n", "8:1: upstreams2: unknown key 'upstreams2' (did you mean 'upstreams'?)"));
  CU_ASSERT(fails_with(BASE_HEAD "    listen: ':1'\n" BASE_TAIL, "4:5: listeners[0].listen: duplicate key 'listen'"));
  /* listener checks */
  CU_ASSERT(fails_with("certificates: [{ name: c, cert: /etc/passwd, key: /etc/passwd }]\n" BASE_HEAD
                       "    tls: { certificates: [c], alpn: [h2, spdy/3] }\n" BASE_TAIL,
                       "5:42: listeners[0].tls.alpn[1]: invalid value 'spdy/3' (expected one of: h2, http/1.1, rh2, rh1)"));
  CU_ASSERT(fails_with("listeners:\n  - { name: e, listen: '127.0.0.1:99999' }\n",
                       "2:24: listeners[0].listen: invalid address '127.0.0.1:99999'"));
  CU_ASSERT(fails_with("listeners:\n  - { name: e, listen: '::1:80' }\n",
                       "2:24: listeners[0].listen: invalid address '::1:80'"));
  CU_ASSERT(fails_with("listeners:\n  - { name: e }\n", "2:5: listeners[0]: missing required key 'listen'"));
  CU_ASSERT(fails_with(BASE_HEAD "    tls: {}\n" BASE_TAIL,
                       "4:10: listeners[0].tls: a TLS listener needs at least one certificate"));
  CU_ASSERT(fails_with(BASE_HEAD "    extensions: [p2p]\n" BASE_TAIL,
                       "4:17: listeners[0].extensions: extensions need engine: h2x"));
  CU_ASSERT(fails_with(BASE_HEAD "  - { name: e2, listen: '127.0.0.1:8080' }\n" BASE_TAIL,
                       "4:25: listeners[1].listen: '127.0.0.1:8080' is already the address of listener 'edge'"));
  /* upstream checks */
  CU_ASSERT(fails_with(BASE_HEAD "upstreams: [{ name: u, address: ':80' }]\n",
                       "4:33: upstreams[0].address: invalid address ':80': a host is required"));
  CU_ASSERT(fails_with(BASE_HEAD "upstreams: [{ name: u, address: 'h:80', protocol: h2c, tls: {} }]\n",
                       "4:61: upstreams[0].tls: protocol h2c is cleartext"));
  CU_ASSERT(fails_with(BASE_HEAD "upstreams: [{ name: u, address: 'h:80', protocol: h3 }]\n",
                       "4:51: upstreams[0].protocol: invalid value 'h3' (expected one of: http/1.1, h2c, h2)"));
  /* log, engine */
  CU_ASSERT(fails_with("log: { level: loud }\n" BASE_HEAD BASE_TAIL,
                       "1:15: log.level: invalid value 'loud' (expected one of: error, warn, info, debug)"));
  CU_ASSERT(fails_with(BASE_HEAD "    engine: quiche\n" BASE_TAIL, "4:13: listeners[0].engine: invalid value"));
  /* certificates must be readable unless generate: true */
  CU_ASSERT(fails_with("certificates:\n  - { name: c, cert: missing.pem, key: /etc/passwd }\n" BASE_HEAD BASE_TAIL,
                       "2:22: certificates[0].cert: cannot read 'missing.pem'"));
  /* syntax errors and nothing to serve */
  CU_ASSERT(fails_with("listeners: [\n", "2:1: syntax error:"));
  CU_ASSERT(fails_with("upstreams: []\n", "1:1: listeners: nothing to serve"));
  CU_ASSERT(fails_with("- a\n", "1:1: expected a mapping of sections"));
  CU_ASSERT(fails_with(BASE_HEAD BASE_TAIL "---\nlog: {}\n", "9:1: only one YAML document"));
}

static void test_many_errors(void) {
  hb_config *cfg = NULL;
  char *errs = NULL;
  int rv = load_text("log: { level: loud }\n"
                     "defaults: { idle_timeout: 5x }\n"
                     "listeners: [{ name: e, listen: 'x' }]\n"
                     "upstreams: [{ name: u, address: 'h:1', bogus: 1 }]\n"
                     "routes: [{ to: { upstream: nope } }]\n",
                     &cfg, &errs);
  CU_ASSERT_EQUAL(rv, HB_ERR_CONFIG);
  CU_ASSERT(cfg == NULL);
  int lines = 0;
  for (char *s = errs; s && (s = strchr(s, '\n')) != NULL; s++) lines++;
  CU_ASSERT_EQUAL(lines, 5); /* one per section, the unresolved upstream included */
  CU_ASSERT(errs && strstr(errs, "t.yaml:5:28: routes[0].to.upstream: unknown upstream 'nope'"));
  free(errs);
}

static void test_generate(void) {
  hb_config *cfg = NULL;
  char *errs = NULL;
  int rv = load_text("certificates:\n"
                     "  - { name: c, cert: ../gen-here/c.pem, key: ../gen-here/c.key, generate: true }\n"
                     "listeners:\n"
                     "  - { name: e, listen: ':1', tls: { certificates: [c] } }\n",
                     &cfg, &errs);
  CU_ASSERT_EQUAL(rv, 0);
  if (rv == 0) {
    char want[512];
    snprintf(want, sizeof(want), "%s/../gen-here/c.pem", dir);
    CU_ASSERT_STRING_EQUAL(cfg->certs[0].cert, want);
    CU_ASSERT_EQUAL(cfg->listeners[0].certs[0], 0);
  }
  hb_config_free(cfg);
  free(errs);
  /* one of the pair present: generate would refuse at startup, so refuse now */
  put("half.pem", "x\n");
  CU_ASSERT(fails_with("certificates:\n  - { name: c, cert: half.pem, key: half.key, generate: true }\n" BASE_HEAD
                       BASE_TAIL,
                       "2:37: certificates[0].key: generate: 'half.key' is missing but its cert exists"));
}

static void test_include(void) {
  put("rules/20-b.yaml", "upstreams:\n  - { name: b, address: 'h:2' }\nroutes:\n  - to: { upstream: a }\n");
  put("rules/10-a.yaml", "upstreams:\n  - { name: a, address: 'h:1' }\nroutes:\n  - to: { upstream: b }\n");
  put("rules/ignored.yml", "garbage: [\n");
  put("rules/.hidden.yaml", "garbage: [\n");
  hb_config *cfg = NULL;
  char *errs = NULL;
  int rv = load_text("include: rules\n"
                     "listeners: [{ name: e, listen: ':1' }]\n"
                     "routes: [{ match: { path: /main }, to: { upstream: a } }]\n",
                     &cfg, &errs);
  CU_ASSERT_EQUAL_FATAL(rv, 0);
  free(errs);
  CU_ASSERT_EQUAL(cfg->nupstreams, 2);
  CU_ASSERT_EQUAL_FATAL(cfg->nroutes, 3);
  CU_ASSERT_STRING_EQUAL(cfg->routes[0].match_path, "/main"); /* the main file's routes come first */
  CU_ASSERT(cfg->routes[1].upstream == 1 && cfg->routes[2].upstream == 0); /* 10-a before 20-b */
  CU_ASSERT_STRING_EQUAL(cfg->routes[1].pos.file, path_in_dir("rules/10-a.yaml"));
  CU_ASSERT_STRING_EQUAL(cfg->routes[2].name, "route#3");
  CU_ASSERT_EQUAL(cfg->nfiles, 3);
  CU_ASSERT(cfg->routes[2].pos.file == cfg->files[2] && cfg->routes[2].pos.line == 4);
  hb_config_free(cfg);

  /* errors in an included file name that file */
  put("bad/a.yaml", "routes:\n  - to: { upstream: zz }\nlog: {}\n");
  rv = load_text("include: bad\nlisteners: [{ name: e, listen: ':1' }]\n", &cfg, &errs);
  CU_ASSERT_EQUAL(rv, HB_ERR_CONFIG);
  char want[512];
  snprintf(want, sizeof(want), "%s/bad/a.yaml:3:1: log: 'log' is only allowed in the main configuration file", dir);
  CU_ASSERT(errs && strstr(errs, want) != NULL);
  snprintf(want, sizeof(want), "%s/bad/a.yaml:2:21: routes[0].to.upstream: unknown upstream 'zz'", dir);
  CU_ASSERT(errs && strstr(errs, want) != NULL);
  free(errs);
  CU_ASSERT(fails_with("include: nowhere\nlisteners: [{ name: e, listen: ':1' }]\n",
                       "1:10: include: cannot open directory"));
}

static void test_alias_bomb(void) {
  /* 40 aliases of an origin whose list aliases 400 entries: small text, 16000 visits */
  char *text = malloc(64 * 1024), *p = text;
  p += sprintf(p, "listeners: [{ name: e, listen: ':1', tls: { certificates: [c], client_ca: ca.pem } }]\n"
                  "origins:\n  - &o { name: o, authorities: &a [");
  for (int i = 0; i < 400; i++) p += sprintf(p, "%sa.com", i ? "," : "");
  p += sprintf(p, "] }\n");
  for (int i = 0; i < 40; i++) p += sprintf(p, "  - *o\n");
  hb_config *cfg = NULL;
  char *errs = NULL;
  CU_ASSERT_EQUAL(load_text(text, &cfg, &errs), HB_ERR_CONFIG);
  CU_ASSERT(errs && strstr(errs, "document too complex") != NULL);
  free(errs);
  free(text);
}

static void test_examples(void) {
  const char *src = getenv("HB_SRCDIR") ? getenv("HB_SRCDIR") : ".";
  char path[1024];
  int n = 0;
  snprintf(path, sizeof(path), "%s/config/examples", src);
  DIR *d = opendir(path);
  CU_ASSERT_FATAL(d != NULL); /* run from the source tree or set HB_SRCDIR */
  struct dirent *de;
  while (d && (de = readdir(d)) != NULL) {
    size_t l = strlen(de->d_name);
    if (l < 6 || strcmp(de->d_name + l - 5, ".yaml") != 0) continue;
    hb_config *cfg = NULL;
    snprintf(path, sizeof(path), "%s/config/examples/%s", src, de->d_name);
    int rv = hb_config_load(path, &cfg, stderr);
    CU_ASSERT_EQUAL(rv, 0);
    if (rv == 0) CU_ASSERT(cfg->nroutes > 0);
    hb_config_free(cfg);
    n++;
  }
  if (d) closedir(d);
  CU_ASSERT(n >= 2);

  /* the complete example of docs/config.md (the first ```yaml block) */
  snprintf(path, sizeof(path), "%s/docs/config.md", src);
  FILE *f = fopen(path, "r");
  CU_ASSERT_FATAL(f != NULL);
  static char md[256 * 1024];
  size_t len = f ? fread(md, 1, sizeof(md) - 1, f) : 0;
  md[len] = '\0';
  if (f) fclose(f);
  char *start = strstr(md, "```yaml\n"), *end = start ? strstr(start + 8, "\n```") : NULL;
  CU_ASSERT_FATAL(start && end);
  if (!start || !end) return;
  end[1] = '\0';
  put_cert_files();
  hb_config *cfg = NULL;
  char *errs = NULL;
  int rv = load_text(start + 8, &cfg, &errs);
  CU_ASSERT_EQUAL(rv, 0);
  if (rv != 0) fprintf(stderr, "\ndocs/config.md example:\n%s", errs);
  if (rv == 0) CU_ASSERT(cfg->nlisteners > 0 && cfg->norigins > 0 && cfg->nconnectors > 0);
  hb_config_free(cfg);
  free(errs);
}

/* failmalloc: fail the Nth allocation until the load succeeds; every NOMEM
 * path must unwind without leaks (ASan) and say so. */
static long fail_at, nalloc;

static void *fm_malloc(size_t size, void *ud) {
  (void)ud;
  return ++nalloc == fail_at ? NULL : malloc(size);
}
static void fm_free(void *ptr, void *ud) {
  (void)ud;
  free(ptr);
}
static void *fm_realloc(void *ptr, size_t size, void *ud) {
  (void)ud;
  return ++nalloc == fail_at ? NULL : realloc(ptr, size);
}

static void test_nomem(void) {
  static const hb_mem fm = {fm_malloc, fm_free, fm_realloc, NULL};
  const char *path;
  int rv = -1, bad = 0;
  put_cert_files();
  put("nomem-rules/a.yaml", "upstreams:\n  - { name: zz, address: 'h:1' }\n");
  path = put("nomem.yaml", "include: nomem-rules\n");
  FILE *f = fopen(path, "a");
  fputs(full_yaml, f);
  fclose(f);
  for (fail_at = 1; fail_at < 100000; fail_at++) {
    hb_config *cfg = NULL;
    nalloc = 0;
    FILE *err = fopen("/dev/null", "w");
    hb_mem_set(&fm);
    rv = hb_config_load(path, &cfg, err);
    hb_mem_set(NULL);
    fclose(err);
    if (rv == 0) {
      hb_config_free(cfg);
      break;
    }
    if (rv != HB_ERR_NOMEM || cfg != NULL) bad++;
  }
  CU_ASSERT_EQUAL(rv, 0);
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT(fail_at > 100); /* the loop did exercise many failure points */
}

int hb_test_config(void) {
  CU_pSuite s = CU_add_suite("config", suite_init, suite_clean);
  if (!s || !CU_add_test(s, "duration", test_duration) || !CU_add_test(s, "size", test_size) ||
      !CU_add_test(s, "hostport", test_hostport) || !CU_add_test(s, "full schema", test_full) ||
      !CU_add_test(s, "limits inheritance", test_limits_inheritance) || !CU_add_test(s, "errors", test_errors) ||
      !CU_add_test(s, "many errors", test_many_errors) || !CU_add_test(s, "generate", test_generate) ||
      !CU_add_test(s, "include", test_include) || !CU_add_test(s, "alias bomb", test_alias_bomb) ||
      !CU_add_test(s, "examples", test_examples) || !CU_add_test(s, "nomem", test_nomem))
    return -1;
  return 0;
}
