/* config.h: the configuration model (DESIGN.md §5) and its loader's entry
 * points.  An hb_config owns every string and array in it; hb_config_free
 * releases them all.  Built once per load, then read-only (a reload builds a
 * new one).  Positions (file, line, col) are kept for error messages. */
#ifndef HB_CONFIG_H
#define HB_CONFIG_H

#include "h2bridge.h"
#include <stdio.h>
#include <sys/types.h>

typedef struct hb_pos {
  const char *file; /* owned by the config (interned) */
  int line, col;    /* 1-based */
} hb_pos;

/* Limits and timeouts: every key of `defaults:`.  Durations in seconds
 * (0 = off), sizes in bytes.  |set| has bit (1 << HB_LIMIT_x) for each key
 * given explicitly at this level, so listener/upstream values inherit the rest
 * from `defaults`. */
enum hb_limit_key {
  HB_LIMIT_HEADER_BYTES,
  HB_LIMIT_HEADER_FIELDS,
  HB_LIMIT_MAX_STREAMS,
  HB_LIMIT_STREAM_WINDOW,
  HB_LIMIT_CONNECTION_WINDOW,
  HB_LIMIT_HANDSHAKE_TIMEOUT,
  HB_LIMIT_REQUEST_HEADER_TIMEOUT,
  HB_LIMIT_IDLE_TIMEOUT,
  HB_LIMIT_TUNNEL_IDLE_TIMEOUT,
  HB_LIMIT_CONNECT_TIMEOUT,
  HB_LIMIT_RESPONSE_TIMEOUT,
  HB_LIMIT_DRAIN_TIMEOUT,
  HB_LIMIT_MAX_CONNECTIONS,   /* per listener (accepted) or per upstream (dialed) */
  HB_LIMIT_BUFFER,            /* per-stream relay buffer for h1 legs (bytes) */
  HB_LIMIT_MAX_TUNNELS,       /* tunnels at once on one connection */
  HB_LIMIT_MAX_LISTENER_TUNNELS, /* tunnels at once on one listener */
  HB_LIMIT_PING_INTERVAL,     /* h2 keepalive PING interval, 0 = off */
  HB_LIMIT_HALF_CLOSE_TIMEOUT, /* a tunnel ended one way waits this long for the other */
  HB_LIMIT_H2_MAX_CONTINUATIONS, /* h2x: CONTINUATION frames per header block */
  HB_LIMIT_H2_SETTINGS_TIMEOUT,  /* h2x: the peer must ACK our SETTINGS within this */
  HB_LIMIT_H2_MAX_EMPTY_FRAMES,  /* h2x: consecutive empty frames tolerated */
  HB_LIMIT_H2_RESET_BURST,       /* h2x: peer resets: burst ... */
  HB_LIMIT_H2_RESET_RATE,        /* ... and refill per second (rapid reset) */
  HB_LIMIT_H2_GLITCH_BURST,      /* h2x: errors we must answer: burst ... */
  HB_LIMIT_H2_GLITCH_RATE,       /* ... and refill per second (MadeYouReset) */
  HB_LIMIT_H2_MAX_SETTINGS,      /* entries in one SETTINGS frame */
  HB_LIMIT_H2_MAX_CONTROL_FRAMES,/* control frames queued unwritten: reading stops */
  HB_LIMIT_H2_PING_BURST,        /* h2x: PINGs from the peer: burst ... */
  HB_LIMIT_H2_PING_RATE,         /* ... and refill per second */
  HB_LIMIT_H2_SETTINGS_BURST,    /* h2x: SETTINGS frames from the peer: burst ... */
  HB_LIMIT_H2_SETTINGS_RATE,     /* ... and refill per second */
  HB_LIMIT_H2_PRIORITY_BURST,    /* h2x: PRIORITY frames from the peer: burst ... */
  HB_LIMIT_H2_PRIORITY_RATE,     /* ... and refill per second */
  HB_LIMIT_LINGERING_TIMEOUT,    /* a socket we close reads the peer's last bytes this long */
  HB_LIMIT_COUNT
};
_Static_assert(HB_LIMIT_COUNT <= 64, "hb_limits.set has a bit per limit key");

typedef struct hb_limits {
  uint64_t header_bytes;        /* 64KiB */
  uint64_t header_fields;       /* 100 */
  uint64_t max_streams;         /* 100 */
  uint64_t stream_window;       /* 1MiB (max 2^31-1) */
  uint64_t connection_window;   /* 16MiB (max 2^31-1) */
  double handshake_timeout;     /* 10s */
  double request_header_timeout;/* 30s */
  double idle_timeout;          /* 60s */
  double tunnel_idle_timeout;   /* 0 */
  double connect_timeout;       /* 5s */
  double response_timeout;      /* 60s */
  double drain_timeout;         /* 30s */
  uint64_t max_connections;     /* 10000 on listeners, 64 on upstreams */
  uint64_t buffer;              /* 64KiB */
  uint64_t max_tunnels;         /* 100 */
  uint64_t max_listener_tunnels;/* 10000 */
  double ping_interval;         /* 0 */
  double half_close_timeout;    /* 60s */
  uint64_t h2_max_continuations;/* 8 */
  double h2_settings_timeout;   /* 10s */
  uint64_t h2_max_empty_frames; /* 10 */
  uint64_t h2_reset_burst;      /* 200 */
  uint64_t h2_reset_rate;       /* 20 */
  uint64_t h2_glitch_burst;     /* 100 */
  uint64_t h2_glitch_rate;      /* 10 */
  uint64_t h2_max_settings;     /* 32 */
  uint64_t h2_max_control_frames; /* 1000 */
  uint64_t h2_ping_burst;       /* 50 */
  uint64_t h2_ping_rate;        /* 10 */
  uint64_t h2_settings_burst;   /* 50 */
  uint64_t h2_settings_rate;    /* 10 */
  uint64_t h2_priority_burst;   /* 1000 */
  uint64_t h2_priority_rate;    /* 100 */
  double lingering_timeout;     /* 2s */
  uint64_t set;                 /* bit per enum hb_limit_key given explicitly */
} hb_limits;

typedef struct hb_config_cert {
  char *name, *cert, *key; /* paths resolved relative to the config file's dir */
  hb_pos pos;
  int generate;            /* generate: true - self-signed localhost pair if files are missing */
} hb_config_cert;

enum hb_engine_kind { HB_ENGINE_NGHTTP2, HB_ENGINE_H2X };

typedef struct hb_config_listener {
  char *name;
  char *listen;        /* as written: "127.0.0.1:8443", "[::1]:80", ":8080" */
  char *host;          /* parsed host ("" = any), without brackets */
  char *port;          /* parsed port */
  int tls;             /* tls: present */
  size_t *certs;       /* indices into hb_config.certs */
  size_t ncerts;
  char **alpn;         /* default [h2, http/1.1] */
  size_t nalpn;
  char *client_ca;     /* path or NULL */
  int request_client_cert;
  int engine;          /* enum hb_engine_kind */
  char **extensions;   /* h2x only: p2p, symmetric, ex_headers */
  size_t nextensions;
  int x_forwarded_for; /* add/append X-Forwarded-For (default false) */
  int forwarded;       /* add RFC 7239 Forwarded (default false) */
  hb_limits limits;    /* resolved: defaults overlaid with the listener's own */
  hb_pos pos;
} hb_config_listener;

enum hb_upstream_proto { HB_PROTO_HTTP11, HB_PROTO_H2C, HB_PROTO_H2 };

typedef struct hb_config_upstream {
  char *name;
  char *address;       /* as written */
  char *host, *port;   /* parsed */
  int protocol;        /* enum hb_upstream_proto */
  int tls;             /* tls: present (forced on for protocol h2) */
  char *tls_sni;       /* default: host */
  char *tls_ca;        /* path; NULL = system default store */
  char *tls_client_cert; /* certificate name (in certs) or NULL */
  ssize_t client_cert; /* index of tls_client_cert in hb_config.certs, -1 none */
  int tls_verify;      /* tls.verify, default true */
  uint64_t max_connections;
  uint64_t max_streams_per_connection; /* h2: default 100 */
  int engine;          /* enum hb_engine_kind */
  hb_limits limits;    /* resolved */
  hb_pos pos;
} hb_config_upstream;

typedef struct hb_config_origin {
  char *name;
  char **protocols; size_t nprotocols;
  char **authorities; size_t nauthorities;
  char **paths; size_t npaths;
  char *auth_ca;
  char **auth_client_cert_sha256; size_t nauth_client_cert_sha256;
  char *auth_path;
  char **auth_token_sha256; size_t nauth_token_sha256;
  char *auth_hmac_key_file;
  double wait_for_origin, ping_interval, ping_timeout;
  hb_pos pos;
} hb_config_origin;

typedef struct hb_config_connector {
  char *name;
  char **gateways; size_t ngateways;
  char *protocol;
  char *tls_sni, *tls_ca, *tls_client_cert;
  ssize_t client_cert; /* index of tls_client_cert in hb_config.certs, -1 none */
  char *token_file, *hmac_key_file;
  char **authorities; size_t nauthorities;
  char **paths; size_t npaths;
  uint64_t connections;
  uint64_t max_connections; /* rh1: grow up to this while all are busy (0: = connections) */
  double backoff_initial, backoff_max;
  char *on_auth_failure; /* retry | exit */
  int engine;            /* enum hb_engine_kind: the HTTP/2 engine of rh2 connections */
  hb_pos pos;
} hb_config_connector;

enum hb_route_target { HB_TARGET_UPSTREAM, HB_TARGET_ORIGIN };

typedef struct hb_config_route {
  char *name;              /* optional; default "route#N" (1-based) */
  /* match: NULL / -1 = any */
  char *match_listener;    ssize_t listener;   /* index into listeners, -1 any */
  char *match_connector;   ssize_t connector;  /* index into connectors, -1 any */
  char *match_authority;   /* exact, case-insensitive; "*.example.com" suffix wildcard */
  char *match_path;        /* prefix */
  char *match_method;      /* exact */
  char *match_protocol;    /* "websocket" etc: Upgrade token or :protocol */
  int target;              /* enum hb_route_target */
  char *to_name;
  ssize_t upstream;        /* index into upstreams when target is upstream */
  ssize_t origin;          /* index into origins when target is origin */
  hb_pos pos;
} hb_config_route;

enum hb_log_level { HB_LOG_ERROR, HB_LOG_WARN, HB_LOG_INFO, HB_LOG_DEBUG };

typedef struct hb_config {
  char *path;              /* the file as given on the command line */
  int log_level;           /* enum hb_log_level, default info */
  char *log_access;        /* "stderr" (default), "off" or a path */
  int log_json;            /* format: json */
  hb_limits defaults;
  hb_config_cert *certs; size_t ncerts;
  hb_config_listener *listeners; size_t nlisteners;
  hb_config_upstream *upstreams; size_t nupstreams;
  hb_config_origin *origins; size_t norigins;
  hb_config_connector *connectors; size_t nconnectors;
  hb_config_route *routes; size_t nroutes;
  char **files; size_t nfiles; /* interned file names used by hb_pos */
} hb_config;

/* Fills |l| with the built-in defaults (set = 0). */
void hb_limits_default(hb_limits *l);

/* Loads and validates |path| (and the files its include: names).  On success
 * returns 0 and sets |*out| (caller frees with hb_config_free).  On failure
 * returns HB_ERR_CONFIG and writes one line per problem to |err| (may be NULL)
 * as "FILE:LINE:COL: key: what is wrong\n" (up to 50, then stops), or
 * HB_ERR_NOMEM when an allocation failed.  docs/config.md lists every key. */
int hb_config_load(const char *path, hb_config **out, FILE *err);
void hb_config_free(hb_config *cfg);
/* For -t (as nginx -t loads its certificates): checks that the files read at
 * start rather than at load -- CAs, tokens, HMAC keys -- can be opened, and
 * writes "FILE:LINE:COL: key: cannot read 'PATH': reason" for each that
 * cannot (the position is the item's).  Returns how many failed. */
int hb_config_check_files(const hb_config *cfg, FILE *err);
/* Prints the resolved pipeline of every route (for -t) to |out|. */
void hb_config_dump_pipeline(const hb_config *cfg, FILE *out);

/* Parsers shared with tests: "500ms", "30s", "5m", "1h", "0" -> seconds;
 * "65536", "64KiB", "16MiB", "1GiB" -> bytes.  0 or HB_ERR_INVALID. */
int hb_parse_duration(const char *s, double *out);
int hb_parse_size(const char *s, uint64_t *out);
/* Splits "host:port", "[v6]:port" or ":port" into newly allocated strings. */
int hb_parse_hostport(const char *s, char **host, char **port);

#endif
