/* config.c: loads a YAML configuration (DESIGN.md §5) into an hb_config with
 * libyaml's document API: keyword tables per section, FILE:LINE:COL errors,
 * include: directories, limits inheritance, name references, the -t dump.
 * The loader owns the hb_config it builds until hb_config_load hands it to the
 * caller; it owns the libyaml documents it reads.  Single-threaded. */
#include "config.h"
#include "h2x_ext.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "errors.h"
#include "mem.h"

#define KIB 1024ULL
#define MIB (1024ULL * KIB)
#define GIB (1024ULL * MIB)
#define TIB (1024ULL * GIB)

#define MAX_ERRORS 50       /* then "too many errors" and stop */
#define KEYPATH_MAX 256     /* "listeners[3].tls.alpn[1]"; longer is truncated */
#define DURATION_MAX 1e9    /* seconds (~31 years): larger is surely a typo */
#define NO_OFF ((size_t)-1) /* keyword without a target field */

/* --- loader state ------------------------------------------------------ */

/* A name that must resolve once every file is read (forward references and
 * references into included files are allowed). */
enum ref_kind {
  REF_LISTENER_CERT,  /* listeners[item].certs[sub] */
  REF_UPSTREAM_CERT,  /* upstreams[item].client_cert */
  REF_CONNECTOR_CERT, /* connectors[item].client_cert */
  REF_ROUTE_LISTENER,
  REF_ROUTE_CONNECTOR,
  REF_ROUTE_UPSTREAM,
  REF_ROUTE_ORIGIN
};

typedef struct ref {
  int kind;
  size_t item, sub;
  char *name; /* owned */
  char *key;  /* owned key path for the message */
  hb_pos pos;
} ref;

typedef struct include_dir {
  char *dir; /* owned, resolved against the including file */
  char *key; /* owned */
  hb_pos pos;
} include_dir;

typedef struct loader {
  hb_config *cfg;
  FILE *err;
  int nerr, nomem, stop;
  int unread; /* a file could not be read or parsed: skip cross-file checks */
  /* the file being read */
  const char *file; /* interned in cfg->files */
  char *dir;        /* owned: "" or "some/dir/" prefix for relative paths */
  int main_file;
  yaml_document_t *doc;
  size_t visits, budget; /* node visits, bounded against alias expansion */
  size_t cur_item;       /* index (in the merged array) of the item being read */
  hb_pos root_pos;
  /* array capacities (the counts live in cfg) */
  size_t ccerts, clisteners, cupstreams, corigins, cconnectors, croutes, cfiles;
  ref *refs;
  size_t nrefs, crefs;
  include_dir *incs;
  size_t nincs, cincs;
  hb_limits dflt; /* `defaults:` as written (set bits), before resolution */
} loader;

static void nomem(loader *L) {
  if (!L->nomem && L->err) fprintf(L->err, "%s: out of memory\n", L->cfg->path ? L->cfg->path : "config");
  L->nomem = 1;
  L->stop = 1;
}

/* Appends a zeroed element to |arr| (count |n|, capacity |cap|); |out| is the
 * new element or NULL on NOMEM. */
#define APPEND(L, arr, n, cap, out)                                   \
  do {                                                                \
    (out) = NULL;                                                     \
    if ((n) == (cap)) {                                               \
      size_t nc_ = (cap) ? (cap) * 2 : 4;                             \
      void *p_ = hb_realloc((arr), nc_ * sizeof(*(arr)));             \
      if (!p_) {                                                      \
        nomem(L);                                                     \
        break;                                                        \
      }                                                               \
      (arr) = p_;                                                     \
      (cap) = nc_;                                                    \
    }                                                                 \
    (out) = &(arr)[(n)++];                                            \
    memset((out), 0, sizeof(*(out)));                                 \
  } while (0)

/* --- error reporting --------------------------------------------------- */

static int mark_int(size_t v) { return v >= INT_MAX ? INT_MAX : (int)v + 1; }

static void HB_PRINTF(6, 0) vreport(loader *L, const char *file, int line, int col, const char *key,
                                    const char *fmt, va_list ap) {
  L->nerr++;
  if (L->nerr > MAX_ERRORS) {
    if (L->nerr == MAX_ERRORS + 1 && L->err) fprintf(L->err, "%s: too many errors, giving up\n", file);
    L->stop = 1;
    return;
  }
  if (!L->err) return;
  fprintf(L->err, "%s:%d:%d: ", file, line, col);
  if (key && *key) fprintf(L->err, "%s: ", key);
  vfprintf(L->err, fmt, ap);
  fputc('\n', L->err);
}

static void HB_PRINTF(4, 5) report(loader *L, const yaml_node_t *n, const char *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(L, L->file, n ? mark_int(n->start_mark.line) : 1, n ? mark_int(n->start_mark.column) : 1, key, fmt,
          ap);
  va_end(ap);
}

static void HB_PRINTF(4, 5) report_pos(loader *L, const hb_pos *p, const char *key, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(L, p->file, p->line, p->col, key, fmt, ap);
  va_end(ap);
}

static hb_pos node_pos(loader *L, const yaml_node_t *n) {
  hb_pos p = {L->file, n ? mark_int(n->start_mark.line) : 1, n ? mark_int(n->start_mark.column) : 1};
  return p;
}

/* --- small helpers ----------------------------------------------------- */

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_xdigit(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* RFC 9110 tchar */
static int is_tchar(char c) {
  return is_digit(c) || is_alpha(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Key paths are for messages only: a path past KEYPATH_MAX is cut short.
 * |out| may be |parent| (joined through a temporary). */
static void keyjoin(char *out, const char *parent, const char *name) {
  char tmp[KEYPATH_MAX];
  int n = (parent && *parent) ? snprintf(tmp, sizeof(tmp), "%s.%s", parent, name)
                              : snprintf(tmp, sizeof(tmp), "%s", name);
  if (n < 0) tmp[0] = '\0';
  memcpy(out, tmp, KEYPATH_MAX);
}

static void keyindex(char *out, const char *parent, size_t i) {
  char tmp[KEYPATH_MAX];
  if (snprintf(tmp, sizeof(tmp), "%s[%zu]", parent, i) < 0) tmp[0] = '\0';
  memcpy(out, tmp, KEYPATH_MAX);
}

static int lookup(const char *const *values, const char *s) {
  for (int i = 0; values[i]; i++)
    if (strcmp(values[i], s) == 0) return i;
  return -1;
}

/* "a, b, c" for messages, into a static buffer (single-threaded loader). */
static const char *join_values(const char *const *values) {
  static char buf[256];
  size_t off = 0;
  buf[0] = '\0';
  for (int i = 0; values[i] && off < sizeof(buf); i++)
    off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%s", i ? ", " : "", values[i]);
  return buf;
}

static void free_strv(char **v, size_t n) {
  if (!v) return;
  for (size_t i = 0; i < n; i++) hb_free(v[i]);
  hb_free(v);
}

/* An owned copy of |s| resolved against the current file's directory. */
static char *resolve_path(loader *L, const char *s) {
  if (s[0] == '/' || L->dir[0] == '\0') return hb_strdup(s);
  size_t dl = strlen(L->dir), sl = strlen(s);
  char *p = hb_malloc(dl + sl + 1);
  if (!p) return NULL;
  memcpy(p, L->dir, dl);
  memcpy(p + dl, s, sl + 1);
  return p;
}

/* Formats a size the way a user would write it (64KiB, 16MiB, 65535). */
static const char *fmt_size(uint64_t v, char *buf, size_t len) {
  if (v && v % GIB == 0)
    snprintf(buf, len, "%lluGiB", (unsigned long long)(v / GIB));
  else if (v && v % MIB == 0)
    snprintf(buf, len, "%lluMiB", (unsigned long long)(v / MIB));
  else if (v && v % KIB == 0)
    snprintf(buf, len, "%lluKiB", (unsigned long long)(v / KIB));
  else
    snprintf(buf, len, "%llu", (unsigned long long)v);
  return buf;
}

/* Edit distance, for "did you mean" on unknown keys. */
static size_t distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  size_t row[65];
  if (la > 64 || lb > 64) return SIZE_MAX;
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t cur = row[j];
      size_t best = prev + (a[i - 1] != b[j - 1]);
      if (row[j] + 1 < best) best = row[j] + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      prev = cur;
    }
  }
  return row[lb];
}

/* --- public parsers ---------------------------------------------------- */

void hb_limits_default(hb_limits *l) {
  memset(l, 0, sizeof(*l));
  l->header_bytes = 64 * KIB;
  l->header_fields = 100;
  l->max_streams = 100;
  l->stream_window = 1 * MIB;
  l->connection_window = 16 * MIB;
  l->handshake_timeout = 10;
  l->request_header_timeout = 30;
  l->idle_timeout = 60;
  l->tunnel_idle_timeout = 0;
  l->connect_timeout = 5;
  l->response_timeout = 60;
  l->drain_timeout = 30;
  l->max_connections = 10000;
  l->buffer = 64 * KIB;
  l->max_tunnels = 100;
  l->max_listener_tunnels = 10000;
  l->ping_interval = 0;
  l->half_close_timeout = 60;
  l->lingering_timeout = 2;
  l->h2_max_continuations = 8;
  l->h2_settings_timeout = 10;
  l->h2_max_empty_frames = 10;
  l->h2_reset_burst = 200;
  l->h2_reset_rate = 20;
  l->h2_glitch_burst = 100;
  l->h2_glitch_rate = 10;
  l->h2_max_settings = 32;
  l->h2_max_control_frames = 1000;
  l->h2_ping_burst = 50;
  l->h2_ping_rate = 10;
  l->h2_settings_burst = 50;
  l->h2_settings_rate = 10;
  l->h2_priority_burst = 1000;
  l->h2_priority_rate = 100;
  l->set = 0;
}

/* Reads the leading decimal digits of |*s| into |*n|; HB_ERR_INVALID when
 * there are none or the value does not fit. */
static int parse_digits(const char **s, uint64_t *n) {
  const char *p = *s;
  uint64_t v = 0;
  if (!is_digit(*p)) return HB_ERR_INVALID;
  for (; is_digit(*p); p++) {
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return HB_ERR_INVALID;
    v = v * 10 + d;
  }
  *s = p;
  *n = v;
  return 0;
}

int hb_parse_duration(const char *s, double *out) {
  uint64_t n;
  double v;
  if (!s || parse_digits(&s, &n) != 0) return HB_ERR_INVALID;
  if (n > (uint64_t)DURATION_MAX * 1000) return HB_ERR_INVALID;
  if (*s == '\0') {
    if (n != 0) return HB_ERR_INVALID; /* a bare number is ambiguous; only 0 means off */
    v = 0;
  } else if (strcmp(s, "ms") == 0) {
    v = (double)n / 1000.0;
  } else if (strcmp(s, "s") == 0) {
    v = (double)n;
  } else if (strcmp(s, "m") == 0) {
    v = (double)n * 60.0;
  } else if (strcmp(s, "h") == 0) {
    v = (double)n * 3600.0;
  } else {
    return HB_ERR_INVALID;
  }
  if (v > DURATION_MAX) return HB_ERR_INVALID;
  *out = v;
  return 0;
}

int hb_parse_size(const char *s, uint64_t *out) {
  uint64_t n, mult;
  if (!s || parse_digits(&s, &n) != 0) return HB_ERR_INVALID;
  if (*s == '\0')
    mult = 1;
  else if (strcmp(s, "KiB") == 0)
    mult = KIB;
  else if (strcmp(s, "MiB") == 0)
    mult = MIB;
  else if (strcmp(s, "GiB") == 0)
    mult = GIB;
  else if (strcmp(s, "TiB") == 0)
    mult = TIB;
  else
    return HB_ERR_INVALID;
  if (n > UINT64_MAX / mult) return HB_ERR_INVALID;
  *out = n * mult;
  return 0;
}

int hb_parse_hostport(const char *s, char **host, char **port) {
  const char *h, *he, *p;
  uint64_t n;
  char pbuf[8];

  if (!s) return HB_ERR_INVALID;
  if (s[0] == '[') {
    int colons = 0;
    h = s + 1;
    he = strchr(h, ']');
    if (!he || he == h || he[1] != ':') return HB_ERR_INVALID;
    for (const char *c = h; c < he; c++) {
      if (*c == ':') colons++;
      else if (!is_xdigit(*c) && *c != '.' && *c != '%' && !is_alpha(*c) && !is_digit(*c)) return HB_ERR_INVALID;
    }
    if (colons < 2) return HB_ERR_INVALID;
    p = he + 2;
  } else {
    he = strrchr(s, ':');
    if (!he) return HB_ERR_INVALID;
    h = s;
    for (const char *c = h; c < he; c++)
      if (!is_alpha(*c) && !is_digit(*c) && *c != '.' && *c != '-' && *c != '_') return HB_ERR_INVALID;
    p = he + 1;
  }
  if (strlen(p) > 5 || parse_digits(&p, &n) != 0 || *p != '\0' || n < 1 || n > 65535) return HB_ERR_INVALID;
  snprintf(pbuf, sizeof(pbuf), "%u", (unsigned)n);
  char *hh = hb_strndup(h, (size_t)(he - h));
  char *pp = hb_strdup(pbuf);
  if (!hh || !pp) {
    hb_free(hh);
    hb_free(pp);
    return HB_ERR_NOMEM;
  }
  *host = hh;
  *port = pp;
  return 0;
}

/* --- value checks (on an owned copy; may normalize in place) ----------- */

typedef const char *(*check_fn)(char *v);

static const char *check_name(char *v) {
  if (strlen(v) > 128) return "is longer than 128 bytes";
  for (char *c = v; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '"') return "contains a control character or a quote";
  return NULL;
}

/* An h2x extension the registry knows (bridge/h2x_ext.c): the built-ins and
 * any registered before the config is read. */
static const char *check_extension(char *v) {
  static char why[300];
  char names[256];
  if (hb_h2x_ext_find(v)) return NULL;
  snprintf(why, sizeof(why), "is not an h2x extension (expected one of: %s)", hb_h2x_ext_names(names, sizeof(names)));
  return why;
}

static const char *check_path(char *v) {
  if (v[0] != '/') return "must start with '/'";
  for (char *c = v; *c; c++)
    if ((unsigned char)*c <= 0x20 || *c == 0x7f) return "contains a space or control character";
  return NULL;
}

static const char *check_token(char *v) {
  for (char *c = v; *c; c++)
    if (!is_tchar(*c)) return "is not an HTTP token";
  return NULL;
}

static const char *check_authority(char *v) {
  const char *c = v;
  if (c[0] == '*') {
    if (c[1] != '.' || c[2] == '\0') return "may only use '*' as a leading '*.' wildcard";
    c += 2;
  }
  for (; *c; c++)
    if (!is_alpha(*c) && !is_digit(*c) && !strchr(".-_:[]", *c)) return "is not a valid authority (host[:port])";
  return NULL;
}

/* SHA-256 fingerprints: 64 hex digits, colons and case ignored -> lower hex. */
static const char *check_sha256(char *v) {
  size_t n = 0;
  for (char *c = v; *c; c++) {
    if (*c == ':') continue;
    if (!is_xdigit(*c)) return "is not a SHA-256 in hex";
    v[n++] = lower(*c);
  }
  v[n] = '\0';
  return n == 64 ? NULL : "is not a SHA-256 in hex (64 digits)";
}

/* --- keyword tables ---------------------------------------------------- */

enum kw_type {
  KW_STR,      /* char *, non-empty */
  KW_PATH,     /* char *, resolved against the file's directory */
  KW_CHOICE,   /* char *, one of |values| */
  KW_BOOL,     /* int */
  KW_UINT,     /* uint64_t in min..max */
  KW_SIZE,     /* uint64_t bytes in min..max */
  KW_DURATION, /* double seconds */
  KW_ENUM,     /* int: index into |values| */
  KW_STRLIST,  /* char ** at off, size_t count at noff; |values| restricts */
  KW_MAP,      /* nested mapping of |sub| on the same base; int flag at off */
  KW_REF,      /* char * name at off (or none) + a reference of kind |ref| */
  KW_FN        /* |fn| does it all */
};

enum { KW_REQUIRED = 1, KW_MAIN_ONLY = 2, KW_LIMIT = 4 };

typedef struct kw kw;
typedef void (*kw_fn)(loader *L, yaml_node_t *v, const char *key, void *base);

struct kw {
  const char *name;
  int type;
  size_t off, noff;
  const char *const *values;
  uint64_t min, max;
  const kw *sub;
  kw_fn fn;
  check_fn check;
  unsigned flags;
  int bit; /* KW_LIMIT: enum hb_limit_key; KW_REF: enum ref_kind */
};

static const char *const engine_values[] = {"nghttp2", "h2x", NULL};
static const char *const alpn_values[] = {"h2", "http/1.1", "rh2", "rh1", NULL};
static const char *const proto_values[] = {"http/1.1", "h2c", "h2", NULL};
static const char *const reverse_values[] = {"rh2", "rh1", "p2p", "symmetric", NULL};
static const char *const level_values[] = {"error", "warn", "info", "debug", NULL};
static const char *const format_values[] = {"text", "json", NULL};
static const char *const on_auth_values[] = {"retry", "exit", NULL};

#define LIM(n, t, lo, hi, b)                                                                                      \
  {                                                                                                             \
    .name = #n, .type = (t), .off = offsetof(hb_limits, n), .min = (lo), .max = (hi), .flags = KW_LIMIT, .bit = (b) \
  }

static const kw limits_kw[] = {
    LIM(header_bytes, KW_SIZE, 1 * KIB, 16 * MIB, HB_LIMIT_HEADER_BYTES),
    LIM(header_fields, KW_UINT, 1, 10000, HB_LIMIT_HEADER_FIELDS),
    LIM(max_streams, KW_UINT, 1, 1000000, HB_LIMIT_MAX_STREAMS),
    LIM(stream_window, KW_SIZE, 65535, 2147483647, HB_LIMIT_STREAM_WINDOW),
    LIM(connection_window, KW_SIZE, 65535, 2147483647, HB_LIMIT_CONNECTION_WINDOW),
    LIM(handshake_timeout, KW_DURATION, 0, 0, HB_LIMIT_HANDSHAKE_TIMEOUT),
    LIM(request_header_timeout, KW_DURATION, 0, 0, HB_LIMIT_REQUEST_HEADER_TIMEOUT),
    LIM(idle_timeout, KW_DURATION, 0, 0, HB_LIMIT_IDLE_TIMEOUT),
    LIM(tunnel_idle_timeout, KW_DURATION, 0, 0, HB_LIMIT_TUNNEL_IDLE_TIMEOUT),
    LIM(connect_timeout, KW_DURATION, 0, 0, HB_LIMIT_CONNECT_TIMEOUT),
    LIM(response_timeout, KW_DURATION, 0, 0, HB_LIMIT_RESPONSE_TIMEOUT),
    LIM(drain_timeout, KW_DURATION, 0, 0, HB_LIMIT_DRAIN_TIMEOUT),
    LIM(max_connections, KW_UINT, 1, 100000000, HB_LIMIT_MAX_CONNECTIONS),
    LIM(buffer, KW_SIZE, 16 * KIB, 64 * MIB, HB_LIMIT_BUFFER),
    LIM(max_tunnels, KW_UINT, 1, 1000000, HB_LIMIT_MAX_TUNNELS),
    LIM(max_listener_tunnels, KW_UINT, 1, 100000000, HB_LIMIT_MAX_LISTENER_TUNNELS),
    LIM(ping_interval, KW_DURATION, 0, 0, HB_LIMIT_PING_INTERVAL),
    LIM(half_close_timeout, KW_DURATION, 0, 0, HB_LIMIT_HALF_CLOSE_TIMEOUT),
    LIM(lingering_timeout, KW_DURATION, 0, 0, HB_LIMIT_LINGERING_TIMEOUT),
    LIM(h2_max_continuations, KW_UINT, 0, 1000, HB_LIMIT_H2_MAX_CONTINUATIONS),
    LIM(h2_settings_timeout, KW_DURATION, 0, 0, HB_LIMIT_H2_SETTINGS_TIMEOUT),
    LIM(h2_max_empty_frames, KW_UINT, 0, 100000, HB_LIMIT_H2_MAX_EMPTY_FRAMES),
    LIM(h2_reset_burst, KW_UINT, 1, 1000000, HB_LIMIT_H2_RESET_BURST),
    LIM(h2_reset_rate, KW_UINT, 1, 1000000, HB_LIMIT_H2_RESET_RATE),
    LIM(h2_glitch_burst, KW_UINT, 1, 1000000, HB_LIMIT_H2_GLITCH_BURST),
    LIM(h2_glitch_rate, KW_UINT, 1, 1000000, HB_LIMIT_H2_GLITCH_RATE),
    LIM(h2_max_settings, KW_UINT, 8, 1000, HB_LIMIT_H2_MAX_SETTINGS),
    LIM(h2_max_control_frames, KW_UINT, 16, 100000, HB_LIMIT_H2_MAX_CONTROL_FRAMES),
    LIM(h2_ping_burst, KW_UINT, 1, 1000000, HB_LIMIT_H2_PING_BURST),
    LIM(h2_ping_rate, KW_UINT, 1, 1000000, HB_LIMIT_H2_PING_RATE),
    LIM(h2_settings_burst, KW_UINT, 1, 1000000, HB_LIMIT_H2_SETTINGS_BURST),
    LIM(h2_settings_rate, KW_UINT, 1, 1000000, HB_LIMIT_H2_SETTINGS_RATE),
    LIM(h2_priority_burst, KW_UINT, 1, 1000000, HB_LIMIT_H2_PRIORITY_BURST),
    LIM(h2_priority_rate, KW_UINT, 1, 1000000, HB_LIMIT_H2_PRIORITY_RATE),
    {.name = NULL}};

/* Copies into |dst| every limit whose bit is set in |src->set|. */
static void limits_overlay(hb_limits *dst, const hb_limits *src) {
  for (const kw *k = limits_kw; k->name; k++) {
    if (!(src->set & ((uint64_t)1 << k->bit))) continue;
    if (k->type == KW_DURATION)
      memcpy((char *)dst + k->off, (const char *)src + k->off, sizeof(double));
    else
      memcpy((char *)dst + k->off, (const char *)src + k->off, sizeof(uint64_t));
  }
}

/* --- node access ------------------------------------------------------- */

static int is_null(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
  const char *s = (const char *)n->data.scalar.value;
  return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* Every descent goes through here: aliases can make a small document walk
 * like a huge one, so visits are bounded by a multiple of the node count. */
static yaml_node_t *node_at(loader *L, int idx) {
  if (L->stop) return NULL;
  yaml_node_t *n = yaml_document_get_node(L->doc, idx);
  if (!n) return NULL;
  if (++L->visits > L->budget) {
    report(L, n, "", "document too complex (aliases expand to more than %zu nodes)", L->budget);
    L->stop = 1;
    return NULL;
  }
  return n;
}

/* The value node of |name| in mapping |m|, for positions; no budget. */
static yaml_node_t *map_find(loader *L, yaml_node_t *m, const char *name) {
  if (!m || m->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(L->doc, p->key);
    if (k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, name) == 0)
      return yaml_document_get_node(L->doc, p->value);
  }
  return NULL;
}

/* `x:` or `x: []` */
static int empty_list(const yaml_node_t *n) {
  return is_null(n) || (n->type == YAML_SEQUENCE_NODE && n->data.sequence.items.top == n->data.sequence.items.start);
}

/* The scalar's text, or NULL after reporting "expected |what|". */
static const char *scalar(loader *L, yaml_node_t *n, const char *key, const char *what) {
  if (n->type != YAML_SCALAR_NODE || is_null(n)) {
    report(L, n, key, "expected %s", what);
    return NULL;
  }
  const char *s = (const char *)n->data.scalar.value;
  if (strlen(s) != n->data.scalar.length) {
    report(L, n, key, "contains a NUL byte");
    return NULL;
  }
  return s;
}

/* An owned, checked string for keyword |k|, or NULL (reported). */
static char *get_string(loader *L, yaml_node_t *n, const char *key, const kw *k) {
  const char *s = scalar(L, n, key, "a string");
  if (!s) return NULL;
  if (!*s) {
    report(L, n, key, "must not be empty");
    return NULL;
  }
  if (k->values && lookup(k->values, s) < 0) {
    report(L, n, key, "invalid value '%s' (expected one of: %s)", s, join_values(k->values));
    return NULL;
  }
  char *out = k->type == KW_PATH ? resolve_path(L, s) : hb_strdup(s);
  if (!out) {
    nomem(L);
    return NULL;
  }
  if (k->check) {
    const char *why = k->check(out);
    if (why) {
      report(L, n, key, "'%s' %s", s, why);
      hb_free(out);
      return NULL;
    }
  }
  return out;
}

static void add_ref(loader *L, int kind, size_t item, size_t sub, const char *name, const char *key,
                    const yaml_node_t *n) {
  ref *r;
  APPEND(L, L->refs, L->nrefs, L->crefs, r);
  if (!r) return;
  r->kind = kind;
  r->item = item;
  r->sub = sub;
  r->pos = node_pos(L, n);
  r->name = hb_strdup(name);
  r->key = hb_strdup(key);
  if (!r->name || !r->key) nomem(L);
}

static void parse_map(loader *L, yaml_node_t *m, const char *key, const kw *t, void *base, const kw *t2,
                      void *base2);

static void parse_strlist(loader *L, yaml_node_t *v, const char *key, const kw *k, char ***outv, size_t *outn) {
  if (is_null(v)) { /* `x:` with nothing: an empty list */
    free_strv(*outv, *outn);
    *outv = NULL;
    *outn = 0;
    return;
  }
  if (v->type != YAML_SEQUENCE_NODE) {
    report(L, v, key, "expected a list of strings");
    return;
  }
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  char **out = hb_calloc(n ? n : 1, sizeof(char *));
  size_t got = 0;
  if (!out) {
    nomem(L);
    return;
  }
  for (size_t i = 0; i < n && !L->stop; i++) {
    char sub[KEYPATH_MAX];
    yaml_node_t *it = node_at(L, v->data.sequence.items.start[i]);
    if (!it) break;
    keyindex(sub, key, i);
    if (it->type != YAML_SCALAR_NODE) {
      report(L, it, sub, "expected a list of strings");
      continue;
    }
    char *s = get_string(L, it, sub, k);
    if (!s) continue;
    if (k->values) {
      size_t j;
      for (j = 0; j < got && strcmp(out[j], s) != 0; j++) {
      }
      if (j < got) {
        report(L, it, sub, "duplicate value '%s'", s);
        hb_free(s);
        continue;
      }
    }
    out[got++] = s;
  }
  free_strv(*outv, *outn);
  *outv = out;
  *outn = got;
}

static void set_value(loader *L, const kw *k, yaml_node_t *v, const char *key, void *base) {
  void *f = k->off == NO_OFF ? NULL : (char *)base + k->off;
  const char *s;
  char buf1[32], buf2[32];

  /* only these may have no target field (a table mistake otherwise) */
  assert(f || k->type == KW_MAP || k->type == KW_REF || k->type == KW_FN);

  switch (k->type) {
  case KW_STR:
  case KW_PATH:
  case KW_CHOICE: {
    char *str = get_string(L, v, key, k);
    if (!str) return;
    char **dst = f;
    hb_free(*dst);
    *dst = str;
    return;
  }
  case KW_REF: {
    char *str = get_string(L, v, key, k);
    if (!str) return;
    add_ref(L, k->bit, L->cur_item, 0, str, key, v);
    if (f) {
      char **dst = f;
      hb_free(*dst);
      *dst = str;
    } else {
      hb_free(str);
    }
    return;
  }
  case KW_BOOL: {
    int *dst = f;
    if (v->type == YAML_SCALAR_NODE && strcmp((const char *)v->data.scalar.value, "true") == 0)
      *dst = 1;
    else if (v->type == YAML_SCALAR_NODE && strcmp((const char *)v->data.scalar.value, "false") == 0)
      *dst = 0;
    else
      report(L, v, key, "expected true or false");
    return;
  }
  case KW_UINT: {
    uint64_t n;
    const char *p;
    if (!(s = scalar(L, v, key, "an integer"))) return;
    p = s;
    if (parse_digits(&p, &n) != 0 || *p != '\0') {
      report(L, v, key, "expected an integer, not '%s'", s);
      return;
    }
    if (n < k->min || n > k->max) {
      report(L, v, key, "%s is out of range %llu..%llu", s, (unsigned long long)k->min,
             (unsigned long long)k->max);
      return;
    }
    memcpy(f, &n, sizeof(n));
    return;
  }
  case KW_SIZE: {
    uint64_t n;
    if (!(s = scalar(L, v, key, "a size"))) return;
    if (hb_parse_size(s, &n) != 0) {
      report(L, v, key, "invalid size '%s' (expected bytes or a number with KiB, MiB or GiB)", s);
      return;
    }
    if (n < k->min || n > k->max) {
      report(L, v, key, "%s is out of range %s..%s", s, fmt_size(k->min, buf1, sizeof(buf1)),
             fmt_size(k->max, buf2, sizeof(buf2)));
      return;
    }
    memcpy(f, &n, sizeof(n));
    return;
  }
  case KW_DURATION: {
    double d;
    if (!(s = scalar(L, v, key, "a duration"))) return;
    if (hb_parse_duration(s, &d) != 0) {
      report(L, v, key, "invalid duration '%s' (expected 0 or a number with ms, s, m or h)", s);
      return;
    }
    memcpy(f, &d, sizeof(d));
    return;
  }
  case KW_ENUM: {
    int i, *dst = f;
    if (!(s = scalar(L, v, key, "a string"))) return;
    if ((i = lookup(k->values, s)) < 0) {
      report(L, v, key, "invalid value '%s' (expected one of: %s)", s, join_values(k->values));
      return;
    }
    *dst = i;
    return;
  }
  case KW_STRLIST: {
    char ***dv = f;
    void *np = (char *)base + k->noff;
    parse_strlist(L, v, key, k, dv, np);
    return;
  }
  case KW_MAP:
    if (!is_null(v) && v->type != YAML_MAPPING_NODE) {
      report(L, v, key, "expected a mapping");
      return;
    }
    if (f) {
      int *present = f;
      *present = 1;
    }
    parse_map(L, v, key, k->sub, base, NULL, NULL);
    return;
  case KW_FN:
    k->fn(L, v, key, base);
    return;
  }
}

static void parse_map(loader *L, yaml_node_t *m, const char *key, const kw *t, void *base, const kw *t2,
                      void *base2) {
  uint64_t seen = 0, seen2 = 0;

  if (is_null(m)) goto required; /* `tls:` with nothing: an empty mapping */
  if (m->type != YAML_MAPPING_NODE) {
    report(L, m, key, "expected a mapping");
    return;
  }
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
    yaml_node_t *kn = node_at(L, p->key), *vn = node_at(L, p->value);
    char sub[KEYPATH_MAX];
    const kw *k = NULL;
    void *b = NULL;
    uint64_t *s = NULL, bit;
    int i;

    if (!kn || !vn) return;
    if (kn->type != YAML_SCALAR_NODE || strlen((const char *)kn->data.scalar.value) != kn->data.scalar.length) {
      report(L, kn, key, "expected a key name");
      continue;
    }
    const char *name = (const char *)kn->data.scalar.value;
    keyjoin(sub, key, name);
    for (i = 0; t[i].name; i++)
      if (strcmp(t[i].name, name) == 0) {
        k = &t[i], b = base, s = &seen;
        break;
      }
    if (!k && t2) {
      for (i = 0; t2[i].name; i++)
        if (strcmp(t2[i].name, name) == 0) {
          k = &t2[i], b = base2, s = &seen2;
          break;
        }
    }
    if (!k) {
      const char *best = NULL;
      size_t bd = 3;
      for (int pass = 0; pass < 2; pass++)
        for (const kw *c = pass ? t2 : t; c && c->name; c++) {
          size_t d = distance(name, c->name);
          if (d < bd) bd = d, best = c->name;
        }
      if (best)
        report(L, kn, sub, "unknown key '%s' (did you mean '%s'?)", name, best);
      else
        report(L, kn, sub, "unknown key '%s'", name);
      continue;
    }
    bit = 1ull << i;
    if (*s & bit) {
      report(L, kn, sub, "duplicate key '%s'", name);
      continue;
    }
    *s |= bit;
    if ((k->flags & KW_MAIN_ONLY) && !L->main_file) {
      report(L, kn, sub, "'%s' is only allowed in the main configuration file", name);
      continue;
    }
    set_value(L, k, vn, sub, b);
    if (k->flags & KW_LIMIT) {
      hb_limits *lim = b;
      lim->set |= (uint64_t)1 << k->bit;
    }
    if (L->stop) return;
  }
required:
  for (int i = 0; t[i].name; i++)
    if ((t[i].flags & KW_REQUIRED) && !(seen & (1ull << i)))
      report(L, m, key, "missing required key '%s'", t[i].name);
}

/* --- sections ---------------------------------------------------------- */

/* Reports a duplicate of |name| at the item's `name:` node. */
static void dup_name(loader *L, yaml_node_t *item, const char *key, const char *what, const char *name,
                     const hb_pos *first) {
  char sub[KEYPATH_MAX];
  keyjoin(sub, key, "name");
  report(L, map_find(L, item, "name") ? map_find(L, item, "name") : item, sub,
         "duplicate %s name '%s' (first defined at %s:%d:%d)", what, name, first->file, first->line, first->col);
}

/* Errno of opening |path| for reading, 0 if it is a readable file. */
static int readable(const char *path) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct stat st;
  int e = 0;
  if (fd < 0) return errno;
  if (fstat(fd, &st) != 0)
    e = errno;
  else if (S_ISDIR(st.st_mode))
    e = EISDIR;
  close(fd);
  return e;
}

/* certificates */

static const kw cert_kw[] = {
    {.name = "name", .type = KW_STR, .off = offsetof(hb_config_cert, name), .check = check_name,
     .flags = KW_REQUIRED},
    {.name = "cert", .type = KW_PATH, .off = offsetof(hb_config_cert, cert), .flags = KW_REQUIRED},
    {.name = "key", .type = KW_PATH, .off = offsetof(hb_config_cert, key), .flags = KW_REQUIRED},
    {.name = "generate", .type = KW_BOOL, .off = offsetof(hb_config_cert, generate)},
    {.name = NULL}};

static void parse_cert(loader *L, yaml_node_t *item, const char *key) {
  hb_config *cfg = L->cfg;
  hb_config_cert *c;
  APPEND(L, cfg->certs, cfg->ncerts, L->ccerts, c);
  if (!c) return;
  c->pos = node_pos(L, item);
  parse_map(L, item, key, cert_kw, c, NULL, NULL);
  if (L->stop) return;
  for (size_t i = 0; c->name && i + 1 < cfg->ncerts; i++)
    if (cfg->certs[i].name && strcmp(cfg->certs[i].name, c->name) == 0) {
      dup_name(L, item, key, "certificate", c->name, &cfg->certs[i].pos);
      break;
    }
  if (!c->cert || !c->key) return;
  /* generate: both missing is fine (h2bridge makes them at startup); one
   * without the other is refused there too, so say it now. */
  int ec = readable(c->cert), ek = readable(c->key);
  const char *paths[2] = {c->cert, c->key}, *names[2] = {"cert", "key"};
  int errs[2] = {ec, ek};
  if (c->generate && ec == ENOENT && ek == ENOENT) return;
  for (int i = 0; i < 2; i++) {
    char sub[KEYPATH_MAX];
    yaml_node_t *v = map_find(L, item, names[i]);
    const char *written = v && v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : paths[i];
    keyjoin(sub, key, names[i]);
    if (errs[i] == 0) continue;
    if (c->generate && errs[i] == ENOENT)
      report(L, v ? v : item, sub, "generate: '%s' is missing but its %s exists; remove the other or provide both",
             written, i ? "cert" : "key");
    else if (strcmp(written, paths[i]) != 0)
      report(L, v ? v : item, sub, "cannot read '%s' (as %s): %s", written, paths[i], strerror(errs[i]));
    else
      report(L, v ? v : item, sub, "cannot read '%s': %s", written, strerror(errs[i]));
  }
}

/* listeners */

static void hostport_fn(loader *L, yaml_node_t *v, const char *key, char **written, char **host, char **port,
                        int need_host) {
  const char *s = scalar(L, v, key, "an address (host:port)");
  char *h = NULL, *p = NULL;
  int rv;
  if (!s) return;
  rv = hb_parse_hostport(s, &h, &p);
  if (rv == HB_ERR_NOMEM) {
    nomem(L);
    return;
  }
  if (rv != 0) {
    report(L, v, key, "invalid address '%s' (expected host:port, [v6]:port%s with port 1..65535)", s,
           need_host ? "" : " or :port");
    return;
  }
  if (need_host && !*h) {
    report(L, v, key, "invalid address '%s': a host is required", s);
    hb_free(h);
    hb_free(p);
    return;
  }
  char *w = hb_strdup(s);
  if (!w) {
    hb_free(h);
    hb_free(p);
    nomem(L);
    return;
  }
  hb_free(*written);
  hb_free(*host);
  hb_free(*port);
  *written = w;
  *host = h;
  *port = p;
}

static void listen_fn(loader *L, yaml_node_t *v, const char *key, void *base) {
  hb_config_listener *li = base;
  hostport_fn(L, v, key, &li->listen, &li->host, &li->port, 0);
}

static void listener_certs_fn(loader *L, yaml_node_t *v, const char *key, void *base) {
  hb_config_listener *li = base;
  static const kw name_kw = {.name = "certificates", .type = KW_STR, .check = check_name};
  if (is_null(v)) return;
  if (v->type != YAML_SEQUENCE_NODE) {
    report(L, v, key, "expected a list of strings");
    return;
  }
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  hb_free(li->certs);
  li->ncerts = 0;
  if (!(li->certs = hb_calloc(n ? n : 1, sizeof(size_t)))) {
    nomem(L);
    return;
  }
  for (size_t i = 0; i < n && !L->stop; i++) {
    char sub[KEYPATH_MAX];
    yaml_node_t *it = node_at(L, v->data.sequence.items.start[i]);
    if (!it) return;
    keyindex(sub, key, i);
    if (it->type != YAML_SCALAR_NODE) {
      report(L, it, sub, "expected a list of strings");
      continue;
    }
    char *s = get_string(L, it, sub, &name_kw);
    if (!s) continue;
    add_ref(L, REF_LISTENER_CERT, L->cur_item, li->ncerts++, s, sub, it);
    hb_free(s);
  }
}

static const kw listener_tls_kw[] = {
    {.name = "certificates", .type = KW_FN, .fn = listener_certs_fn},
    {.name = "alpn", .type = KW_STRLIST, .off = offsetof(hb_config_listener, alpn),
     .noff = offsetof(hb_config_listener, nalpn), .values = alpn_values},
    {.name = "client_ca", .type = KW_PATH, .off = offsetof(hb_config_listener, client_ca)},
    {.name = "request_client_cert", .type = KW_BOOL, .off = offsetof(hb_config_listener, request_client_cert)},
    {.name = NULL}};

static const kw listener_kw[] = {
    {.name = "name", .type = KW_STR, .off = offsetof(hb_config_listener, name), .check = check_name,
     .flags = KW_REQUIRED},
    {.name = "listen", .type = KW_FN, .fn = listen_fn, .flags = KW_REQUIRED},
    {.name = "tls", .type = KW_MAP, .off = offsetof(hb_config_listener, tls), .sub = listener_tls_kw},
    {.name = "engine", .type = KW_ENUM, .off = offsetof(hb_config_listener, engine), .values = engine_values},
    {.name = "extensions", .type = KW_STRLIST, .off = offsetof(hb_config_listener, extensions),
     .noff = offsetof(hb_config_listener, nextensions), .check = check_extension},
    {.name = "x_forwarded_for", .type = KW_BOOL, .off = offsetof(hb_config_listener, x_forwarded_for)},
    {.name = "forwarded", .type = KW_BOOL, .off = offsetof(hb_config_listener, forwarded)},
    {.name = NULL}};

static int default_list(loader *L, char ***v, size_t *n, const char *const *values, size_t count) {
  if (*v) return 0;
  if (!(*v = hb_calloc(count, sizeof(char *)))) goto fail;
  for (size_t i = 0; i < count; i++) {
    if (!((*v)[i] = hb_strdup(values[i]))) goto fail;
    *n = i + 1;
  }
  return 0;
fail:
  nomem(L);
  return -1;
}

static void parse_listener(loader *L, yaml_node_t *item, const char *key) {
  static const char *const def_alpn[] = {"h2", "http/1.1"};
  hb_config *cfg = L->cfg;
  hb_config_listener *li;
  char sub[KEYPATH_MAX];
  APPEND(L, cfg->listeners, cfg->nlisteners, L->clisteners, li);
  if (!li) return;
  li->pos = node_pos(L, item);
  li->engine = HB_ENGINE_NGHTTP2;
  parse_map(L, item, key, listener_kw, li, limits_kw, &li->limits);
  if (L->stop) return;
  for (size_t i = 0; li->name && i + 1 < cfg->nlisteners; i++)
    if (cfg->listeners[i].name && strcmp(cfg->listeners[i].name, li->name) == 0) {
      dup_name(L, item, key, "listener", li->name, &cfg->listeners[i].pos);
      break;
    }
  for (size_t i = 0; li->host && i + 1 < cfg->nlisteners; i++) {
    const hb_config_listener *o = &cfg->listeners[i];
    if (o->host && strcmp(li->host, o->host) == 0 && strcmp(li->port, o->port) == 0) {
      keyjoin(sub, key, "listen");
      report(L, map_find(L, item, "listen"), sub, "'%s' is already the address of listener '%s'", li->listen,
             o->name ? o->name : "?");
      break;
    }
  }
  yaml_node_t *tls = map_find(L, item, "tls"), *c = map_find(L, tls, "certificates"), *a = map_find(L, tls, "alpn");
  if (li->tls && li->ncerts == 0 && (!c || empty_list(c))) {
    keyjoin(sub, key, "tls");
    if (c) keyjoin(sub, sub, "certificates");
    report(L, c ? c : tls, sub, "a TLS listener needs at least one certificate");
  }
  if (a && empty_list(a)) {
    keyjoin(sub, key, "tls.alpn");
    report(L, a, sub, "at least one protocol is required");
  }
  if (li->nextensions && li->engine != HB_ENGINE_H2X) {
    keyjoin(sub, key, "extensions");
    report(L, map_find(L, item, "extensions"), sub, "extensions need engine: h2x");
  } else if (li->nextensions) {
    /* Duplicates and two extensions claiming one codepoint are config errors. */
    static hb_h2x_ext_defs defs; /* large: not on the stack; the loader is single-threaded */
    char why[256];
    if (hb_h2x_ext_defs_build(&defs, (const char *const *)li->extensions, li->nextensions, NULL, why, sizeof(why)) != 0) {
      keyjoin(sub, key, "extensions");
      report(L, map_find(L, item, "extensions"), sub, "%s", why);
    }
  }
  if (!a) default_list(L, &li->alpn, &li->nalpn, def_alpn, 2);
}

/* upstreams */

static void address_fn(loader *L, yaml_node_t *v, const char *key, void *base) {
  hb_config_upstream *u = base;
  hostport_fn(L, v, key, &u->address, &u->host, &u->port, 1);
}

static const kw upstream_tls_kw[] = {
    {.name = "sni", .type = KW_STR, .off = offsetof(hb_config_upstream, tls_sni)},
    {.name = "ca", .type = KW_PATH, .off = offsetof(hb_config_upstream, tls_ca)},
    {.name = "client_certificate", .type = KW_REF, .off = offsetof(hb_config_upstream, tls_client_cert),
     .check = check_name, .bit = REF_UPSTREAM_CERT},
    {.name = "verify", .type = KW_BOOL, .off = offsetof(hb_config_upstream, tls_verify)},
    {.name = NULL}};

static const kw upstream_kw[] = {
    {.name = "name", .type = KW_STR, .off = offsetof(hb_config_upstream, name), .check = check_name,
     .flags = KW_REQUIRED},
    {.name = "address", .type = KW_FN, .fn = address_fn, .flags = KW_REQUIRED},
    {.name = "protocol", .type = KW_ENUM, .off = offsetof(hb_config_upstream, protocol), .values = proto_values},
    {.name = "tls", .type = KW_MAP, .off = offsetof(hb_config_upstream, tls), .sub = upstream_tls_kw},
    {.name = "max_streams_per_connection", .type = KW_UINT,
     .off = offsetof(hb_config_upstream, max_streams_per_connection), .min = 1, .max = 1000000},
    {.name = "engine", .type = KW_ENUM, .off = offsetof(hb_config_upstream, engine), .values = engine_values},
    {.name = NULL}};

static void parse_upstream(loader *L, yaml_node_t *item, const char *key) {
  hb_config *cfg = L->cfg;
  hb_config_upstream *u;
  APPEND(L, cfg->upstreams, cfg->nupstreams, L->cupstreams, u);
  if (!u) return;
  u->pos = node_pos(L, item);
  u->protocol = HB_PROTO_HTTP11;
  u->tls_verify = 1;
  u->max_streams_per_connection = 100;
  u->engine = HB_ENGINE_NGHTTP2;
  u->client_cert = -1;
  parse_map(L, item, key, upstream_kw, u, limits_kw, &u->limits);
  if (L->stop) return;
  for (size_t i = 0; u->name && i + 1 < cfg->nupstreams; i++)
    if (cfg->upstreams[i].name && strcmp(cfg->upstreams[i].name, u->name) == 0) {
      dup_name(L, item, key, "upstream", u->name, &cfg->upstreams[i].pos);
      break;
    }
  if (u->protocol == HB_PROTO_H2C && u->tls) {
    char sub[KEYPATH_MAX];
    keyjoin(sub, key, "tls");
    report(L, map_find(L, item, "tls"), sub, "protocol h2c is cleartext; use protocol: h2 for HTTP/2 over TLS");
  }
  if (u->protocol == HB_PROTO_H2) u->tls = 1;
  if (u->tls && !u->tls_sni && u->host && !(u->tls_sni = hb_strdup(u->host))) nomem(L);
}

/* origins */

static const kw origin_auth_kw[] = {
    {.name = "ca", .type = KW_PATH, .off = offsetof(hb_config_origin, auth_ca)},
    {.name = "client_cert_sha256", .type = KW_STRLIST, .off = offsetof(hb_config_origin, auth_client_cert_sha256),
     .noff = offsetof(hb_config_origin, nauth_client_cert_sha256), .check = check_sha256},
    {.name = "path", .type = KW_STR, .off = offsetof(hb_config_origin, auth_path), .check = check_path},
    {.name = "token_sha256", .type = KW_STRLIST, .off = offsetof(hb_config_origin, auth_token_sha256),
     .noff = offsetof(hb_config_origin, nauth_token_sha256), .check = check_sha256},
    {.name = "hmac_key_file", .type = KW_PATH, .off = offsetof(hb_config_origin, auth_hmac_key_file)},
    {.name = NULL}};

static const kw origin_kw[] = {
    {.name = "name", .type = KW_STR, .off = offsetof(hb_config_origin, name), .check = check_name,
     .flags = KW_REQUIRED},
    {.name = "protocols", .type = KW_STRLIST, .off = offsetof(hb_config_origin, protocols),
     .noff = offsetof(hb_config_origin, nprotocols), .values = reverse_values},
    {.name = "authorities", .type = KW_STRLIST, .off = offsetof(hb_config_origin, authorities),
     .noff = offsetof(hb_config_origin, nauthorities), .check = check_authority, .flags = KW_REQUIRED},
    {.name = "paths", .type = KW_STRLIST, .off = offsetof(hb_config_origin, paths),
     .noff = offsetof(hb_config_origin, npaths), .check = check_path},
    {.name = "auth", .type = KW_MAP, .off = NO_OFF, .sub = origin_auth_kw},
    {.name = "wait_for_origin", .type = KW_DURATION, .off = offsetof(hb_config_origin, wait_for_origin)},
    {.name = "ping_interval", .type = KW_DURATION, .off = offsetof(hb_config_origin, ping_interval)},
    {.name = "ping_timeout", .type = KW_DURATION, .off = offsetof(hb_config_origin, ping_timeout)},
    {.name = NULL}};

static void parse_origin(loader *L, yaml_node_t *item, const char *key) {
  static const char *const def_proto[] = {"rh2", "rh1"};
  static const char *const def_paths[] = {"/"};
  hb_config *cfg = L->cfg;
  hb_config_origin *o;
  APPEND(L, cfg->origins, cfg->norigins, L->corigins, o);
  if (!o) return;
  o->pos = node_pos(L, item);
  o->wait_for_origin = 10;
  o->ping_interval = 10;
  o->ping_timeout = 5;
  parse_map(L, item, key, origin_kw, o, NULL, NULL);
  if (L->stop) return;
  for (size_t i = 0; o->name && i + 1 < cfg->norigins; i++)
    if (cfg->origins[i].name && strcmp(cfg->origins[i].name, o->name) == 0) {
      dup_name(L, item, key, "origin", o->name, &cfg->origins[i].pos);
      break;
    }
  yaml_node_t *a = map_find(L, item, "authorities"), *p = map_find(L, item, "protocols");
  char sub[KEYPATH_MAX];
  if (a && empty_list(a)) {
    keyjoin(sub, key, "authorities");
    report(L, a, sub, "at least one authority is required");
  }
  if (p && empty_list(p)) {
    keyjoin(sub, key, "protocols");
    report(L, p, sub, "at least one protocol is required");
  }
  if (!p) default_list(L, &o->protocols, &o->nprotocols, def_proto, 2);
  if (o->npaths == 0) default_list(L, &o->paths, &o->npaths, def_paths, 1);
  if (!o->auth_path && (o->nauth_token_sha256 || o->auth_hmac_key_file) &&
      !(o->auth_path = hb_strdup("/.well-known/h2bridge/authorize")))
    nomem(L);
}

/* connectors */

static void gateways_fn(loader *L, yaml_node_t *v, const char *key, void *base) {
  hb_config_connector *c = base;
  if (is_null(v)) return;
  if (v->type != YAML_SEQUENCE_NODE) {
    report(L, v, key, "expected a list of addresses (host:port)");
    return;
  }
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  free_strv(c->gateways, c->ngateways);
  c->ngateways = 0;
  if (!(c->gateways = hb_calloc(n ? n : 1, sizeof(char *)))) {
    nomem(L);
    return;
  }
  for (size_t i = 0; i < n && !L->stop; i++) {
    char sub[KEYPATH_MAX], *w = NULL, *h = NULL, *p = NULL;
    yaml_node_t *it = node_at(L, v->data.sequence.items.start[i]);
    if (!it) return;
    keyindex(sub, key, i);
    hostport_fn(L, it, sub, &w, &h, &p, 1);
    hb_free(h);
    hb_free(p);
    if (w) c->gateways[c->ngateways++] = w;
  }
}

static const kw connector_tls_kw[] = {
    {.name = "sni", .type = KW_STR, .off = offsetof(hb_config_connector, tls_sni)},
    {.name = "ca", .type = KW_PATH, .off = offsetof(hb_config_connector, tls_ca)},
    {.name = "client_certificate", .type = KW_REF, .off = offsetof(hb_config_connector, tls_client_cert),
     .check = check_name, .bit = REF_CONNECTOR_CERT},
    {.name = NULL}};

static const kw backoff_kw[] = {
    {.name = "initial", .type = KW_DURATION, .off = offsetof(hb_config_connector, backoff_initial)},
    {.name = "max", .type = KW_DURATION, .off = offsetof(hb_config_connector, backoff_max)},
    {.name = NULL}};

static const kw connector_kw[] = {
    {.name = "name", .type = KW_STR, .off = offsetof(hb_config_connector, name), .check = check_name,
     .flags = KW_REQUIRED},
    {.name = "gateways", .type = KW_FN, .fn = gateways_fn, .flags = KW_REQUIRED},
    {.name = "protocol", .type = KW_CHOICE, .off = offsetof(hb_config_connector, protocol),
     .values = reverse_values},
    {.name = "tls", .type = KW_MAP, .off = NO_OFF, .sub = connector_tls_kw},
    {.name = "token_file", .type = KW_PATH, .off = offsetof(hb_config_connector, token_file)},
    {.name = "hmac_key_file", .type = KW_PATH, .off = offsetof(hb_config_connector, hmac_key_file)},
    {.name = "authorities", .type = KW_STRLIST, .off = offsetof(hb_config_connector, authorities),
     .noff = offsetof(hb_config_connector, nauthorities), .check = check_authority},
    {.name = "paths", .type = KW_STRLIST, .off = offsetof(hb_config_connector, paths),
     .noff = offsetof(hb_config_connector, npaths), .check = check_path},
    {.name = "connections", .type = KW_UINT, .off = offsetof(hb_config_connector, connections), .min = 1,
     .max = 1024},
    {.name = "max_connections", .type = KW_UINT, .off = offsetof(hb_config_connector, max_connections), .min = 1,
     .max = 1024},
    {.name = "backoff", .type = KW_MAP, .off = NO_OFF, .sub = backoff_kw},
    {.name = "on_auth_failure", .type = KW_CHOICE, .off = offsetof(hb_config_connector, on_auth_failure),
     .values = on_auth_values},
    {.name = "engine", .type = KW_ENUM, .off = offsetof(hb_config_connector, engine), .values = engine_values},
    {.name = NULL}};

static void parse_connector(loader *L, yaml_node_t *item, const char *key) {
  static const char *const def_paths[] = {"/"};
  hb_config *cfg = L->cfg;
  hb_config_connector *c;
  char sub[KEYPATH_MAX];
  APPEND(L, cfg->connectors, cfg->nconnectors, L->cconnectors, c);
  if (!c) return;
  c->pos = node_pos(L, item);
  c->connections = 2;
  c->backoff_initial = 0.1;
  c->backoff_max = 30;
  c->client_cert = -1;
  c->engine = HB_ENGINE_NGHTTP2;
  parse_map(L, item, key, connector_kw, c, NULL, NULL);
  if (L->stop) return;
  for (size_t i = 0; c->name && i + 1 < cfg->nconnectors; i++)
    if (cfg->connectors[i].name && strcmp(cfg->connectors[i].name, c->name) == 0) {
      dup_name(L, item, key, "connector", c->name, &cfg->connectors[i].pos);
      break;
    }
  yaml_node_t *g = map_find(L, item, "gateways");
  if (g && empty_list(g)) {
    keyjoin(sub, key, "gateways");
    report(L, g, sub, "at least one gateway is required");
  }
  if (c->token_file && c->hmac_key_file) {
    keyjoin(sub, key, "hmac_key_file");
    report(L, map_find(L, item, "hmac_key_file"), sub, "token_file and hmac_key_file are exclusive");
  }
  if (c->backoff_initial > c->backoff_max) {
    keyjoin(sub, key, "backoff");
    report(L, map_find(L, item, "backoff"), sub, "initial is larger than max");
  }
  if (!c->protocol && !(c->protocol = hb_strdup("rh2"))) nomem(L);
  if (!c->on_auth_failure && !(c->on_auth_failure = hb_strdup("retry"))) nomem(L);
  if (c->npaths == 0) default_list(L, &c->paths, &c->npaths, def_paths, 1);
}

/* routes */

static void route_to(loader *L, yaml_node_t *v, const char *key, hb_config_route *r, int target, int kind) {
  static const kw name_kw = {.name = "to", .type = KW_STR, .check = check_name};
  char *s = get_string(L, v, key, &name_kw);
  if (!s) return;
  if (r->to_name) {
    report(L, v, key, "give exactly one of upstream or origin");
    hb_free(s);
    return;
  }
  r->to_name = s;
  r->target = target;
  add_ref(L, kind, L->cur_item, 0, s, key, v);
}

static void to_upstream_fn(loader *L, yaml_node_t *v, const char *key, void *base) {
  route_to(L, v, key, base, HB_TARGET_UPSTREAM, REF_ROUTE_UPSTREAM);
}

static void to_origin_fn(loader *L, yaml_node_t *v, const char *key, void *base) {
  route_to(L, v, key, base, HB_TARGET_ORIGIN, REF_ROUTE_ORIGIN);
}

static const kw match_kw[] = {
    {.name = "listener", .type = KW_REF, .off = offsetof(hb_config_route, match_listener), .check = check_name,
     .bit = REF_ROUTE_LISTENER},
    {.name = "connector", .type = KW_REF, .off = offsetof(hb_config_route, match_connector), .check = check_name,
     .bit = REF_ROUTE_CONNECTOR},
    {.name = "authority", .type = KW_STR, .off = offsetof(hb_config_route, match_authority),
     .check = check_authority},
    {.name = "path", .type = KW_STR, .off = offsetof(hb_config_route, match_path), .check = check_path},
    {.name = "method", .type = KW_STR, .off = offsetof(hb_config_route, match_method), .check = check_token},
    {.name = "protocol", .type = KW_STR, .off = offsetof(hb_config_route, match_protocol), .check = check_token},
    {.name = NULL}};

static const kw to_kw[] = {{.name = "upstream", .type = KW_FN, .fn = to_upstream_fn},
                           {.name = "origin", .type = KW_FN, .fn = to_origin_fn},
                           {.name = NULL}};

static const kw route_kw[] = {
    {.name = "name", .type = KW_STR, .off = offsetof(hb_config_route, name), .check = check_name},
    {.name = "match", .type = KW_MAP, .off = NO_OFF, .sub = match_kw},
    {.name = "to", .type = KW_MAP, .off = NO_OFF, .sub = to_kw, .flags = KW_REQUIRED},
    {.name = NULL}};

static void parse_route(loader *L, yaml_node_t *item, const char *key) {
  hb_config *cfg = L->cfg;
  hb_config_route *r;
  char sub[KEYPATH_MAX];
  APPEND(L, cfg->routes, cfg->nroutes, L->croutes, r);
  if (!r) return;
  r->pos = node_pos(L, item);
  r->listener = r->connector = r->upstream = r->origin = -1;
  r->target = -1;
  parse_map(L, item, key, route_kw, r, NULL, NULL);
  if (L->stop) return;
  yaml_node_t *to = map_find(L, item, "to");
  if (to && !r->to_name && (is_null(to) || to->type == YAML_MAPPING_NODE) && !map_find(L, to, "upstream") &&
      !map_find(L, to, "origin")) {
    keyjoin(sub, key, "to");
    report(L, to, sub, "needs upstream or origin");
  }
  if (r->match_listener && r->match_connector) {
    keyjoin(sub, key, "match");
    report(L, map_find(L, item, "match"), sub, "listener and connector are exclusive");
  }
}

/* top level */

typedef void (*item_fn)(loader *L, yaml_node_t *item, const char *key);

static void parse_list(loader *L, yaml_node_t *v, const char *key, item_fn fn, size_t *count) {
  if (is_null(v)) return;
  if (v->type != YAML_SEQUENCE_NODE) {
    report(L, v, key, "expected a list");
    return;
  }
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  for (size_t i = 0; i < n && !L->stop; i++) {
    char sub[KEYPATH_MAX];
    yaml_node_t *it = node_at(L, v->data.sequence.items.start[i]);
    if (!it) return;
    keyindex(sub, key, i);
    if (it->type != YAML_MAPPING_NODE) {
      report(L, it, sub, "expected a mapping");
      continue;
    }
    L->cur_item = *count;
    fn(L, it, sub);
  }
}

static void certs_fn(loader *L, yaml_node_t *v, const char *key, void *base) {
  (void)base;
  parse_list(L, v, key, parse_cert, &L->cfg->ncerts);
}
static void listeners_fn(loader *L, yaml_node_t *v, const char *key, void *base) {
  (void)base;
  parse_list(L, v, key, parse_listener, &L->cfg->nlisteners);
}
static void upstreams_fn(loader *L, yaml_node_t *v, const char *key, void *base) {
  (void)base;
  parse_list(L, v, key, parse_upstream, &L->cfg->nupstreams);
}
static void origins_fn(loader *L, yaml_node_t *v, const char *key, void *base) {
  (void)base;
  parse_list(L, v, key, parse_origin, &L->cfg->norigins);
}
static void connectors_fn(loader *L, yaml_node_t *v, const char *key, void *base) {
  (void)base;
  parse_list(L, v, key, parse_connector, &L->cfg->nconnectors);
}
static void routes_fn(loader *L, yaml_node_t *v, const char *key, void *base) {
  (void)base;
  parse_list(L, v, key, parse_route, &L->cfg->nroutes);
}

static void defaults_fn(loader *L, yaml_node_t *v, const char *key, void *base) {
  (void)base;
  parse_map(L, v, key, limits_kw, &L->dflt, NULL, NULL);
}

static void access_fn(loader *L, yaml_node_t *v, const char *key, void *base) {
  hb_config *cfg = base;
  const char *s = scalar(L, v, key, "stderr, off or a path");
  char *p;
  if (!s) return;
  if (!*s) {
    report(L, v, key, "expected stderr, off or a path");
    return;
  }
  p = strcmp(s, "stderr") == 0 || strcmp(s, "off") == 0 ? hb_strdup(s) : resolve_path(L, s);
  if (!p) {
    nomem(L);
    return;
  }
  hb_free(cfg->log_access);
  cfg->log_access = p;
}

static void add_include(loader *L, yaml_node_t *v, const char *key) {
  const char *s = scalar(L, v, key, "a directory");
  include_dir *inc;
  if (!s) return;
  if (!*s) {
    report(L, v, key, "must not be empty");
    return;
  }
  APPEND(L, L->incs, L->nincs, L->cincs, inc);
  if (!inc) return;
  inc->pos = node_pos(L, v);
  inc->dir = resolve_path(L, s);
  inc->key = hb_strdup(key);
  if (!inc->dir || !inc->key) nomem(L);
}

static void include_fn(loader *L, yaml_node_t *v, const char *key, void *base) {
  (void)base;
  if (v->type != YAML_SEQUENCE_NODE) {
    add_include(L, v, key);
    return;
  }
  size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
  for (size_t i = 0; i < n && !L->stop; i++) {
    char sub[KEYPATH_MAX];
    yaml_node_t *it = node_at(L, v->data.sequence.items.start[i]);
    if (!it) return;
    keyindex(sub, key, i);
    add_include(L, it, sub);
  }
}

static const kw log_kw[] = {
    {.name = "level", .type = KW_ENUM, .off = offsetof(hb_config, log_level), .values = level_values},
    {.name = "access", .type = KW_FN, .fn = access_fn},
    {.name = "format", .type = KW_ENUM, .off = offsetof(hb_config, log_json), .values = format_values},
    {.name = NULL}};

static const kw top_kw[] = {
    {.name = "log", .type = KW_MAP, .off = NO_OFF, .sub = log_kw, .flags = KW_MAIN_ONLY},
    {.name = "defaults", .type = KW_FN, .fn = defaults_fn, .flags = KW_MAIN_ONLY},
    {.name = "include", .type = KW_FN, .fn = include_fn, .flags = KW_MAIN_ONLY},
    {.name = "certificates", .type = KW_FN, .fn = certs_fn},
    {.name = "listeners", .type = KW_FN, .fn = listeners_fn},
    {.name = "upstreams", .type = KW_FN, .fn = upstreams_fn},
    {.name = "origins", .type = KW_FN, .fn = origins_fn},
    {.name = "connectors", .type = KW_FN, .fn = connectors_fn},
    {.name = "routes", .type = KW_FN, .fn = routes_fn},
    {.name = NULL}};

/* --- files ------------------------------------------------------------- */

static const char *intern(loader *L, const char *path) {
  hb_config *cfg = L->cfg;
  char **slot;
  APPEND(L, cfg->files, cfg->nfiles, L->cfiles, slot);
  if (!slot) return NULL;
  if (!(*slot = hb_strdup(path))) {
    cfg->nfiles--;
    nomem(L);
    return NULL;
  }
  return *slot;
}

static void syntax_error(loader *L, const yaml_parser_t *p) {
  L->unread = 1;
  const yaml_mark_t *m = p->error == YAML_READER_ERROR ? &p->mark : &p->problem_mark;
  char ctx[160] = "";
  if (p->context)
    snprintf(ctx, sizeof(ctx), " (%s at %d:%d)", p->context, mark_int(p->context_mark.line),
             mark_int(p->context_mark.column));
  hb_pos pos = {L->file, mark_int(m->line), mark_int(m->column)};
  report_pos(L, &pos, "", "syntax error: %s%s", p->problem ? p->problem : "invalid YAML", ctx);
}

/* Reads one file into L->cfg.  |from|: the include: that named it, if any. */
static void load_file(loader *L, const char *path, int main_file, const include_dir *from) {
  yaml_parser_t parser;
  yaml_document_t doc, extra;
  FILE *fp;
  const char *slash;

  if (!(L->file = intern(L, path))) return;
  hb_free(L->dir);
  slash = strrchr(path, '/');
  if (!(L->dir = hb_strndup(path, slash ? (size_t)(slash - path) + 1 : 0))) {
    nomem(L);
    return;
  }
  L->main_file = main_file;
  if (!(fp = fopen(path, "rb"))) {
    int e = errno;
    L->unread = 1;
    if (from) {
      report_pos(L, &from->pos, from->key, "cannot open '%s': %s", path, strerror(e));
    } else {
      L->nerr++;
      if (L->err) fprintf(L->err, "%s: cannot open: %s\n", path, strerror(e));
    }
    return;
  }
  struct stat st;
  if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
    L->nerr++;
    L->unread = 1;
    if (L->err) fprintf(L->err, "%s: cannot open: %s\n", path, strerror(EISDIR));
    fclose(fp);
    return;
  }
  if (!yaml_parser_initialize(&parser)) {
    fclose(fp);
    nomem(L);
    return;
  }
  yaml_parser_set_input_file(&parser, fp);
  if (!yaml_parser_load(&parser, &doc)) {
    if (parser.error == YAML_MEMORY_ERROR)
      nomem(L);
    else
      syntax_error(L, &parser);
    yaml_parser_delete(&parser);
    fclose(fp);
    return;
  }
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (root) {
    /* a second document is most likely a stray "---": refuse rather than ignore */
    if (!yaml_parser_load(&parser, &extra)) {
      if (parser.error == YAML_MEMORY_ERROR)
        nomem(L);
      else
        syntax_error(L, &parser);
    } else {
      yaml_node_t *r2 = yaml_document_get_root_node(&extra);
      if (r2) report(L, r2, "", "only one YAML document is allowed per file");
      yaml_document_delete(&extra);
    }
  }
  L->doc = &doc;
  L->visits = 0;
  L->budget = (size_t)(doc.nodes.top - doc.nodes.start) * 4 + 10000;
  if (root && !L->stop) {
    if (main_file) L->root_pos = node_pos(L, root);
    if (root->type != YAML_MAPPING_NODE && !is_null(root))
      report(L, root, "", "expected a mapping of sections (log, defaults, listeners, upstreams, routes, ...)");
    else
      parse_map(L, root, "", top_kw, L->cfg, NULL, NULL);
  }
  L->doc = NULL;
  yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  fclose(fp);
}

static int has_suffix(const char *s, const char *suffix) {
  size_t ls = strlen(s), lx = strlen(suffix);
  return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

static int cmp_str(const void *a, const void *b) {
  const char *const *x = a, *const *y = b;
  return strcmp(*x, *y);
}

static void load_include(loader *L, const include_dir *inc) {
  DIR *d = opendir(inc->dir);
  struct dirent *de;
  char **names = NULL;
  size_t n = 0, cap = 0;

  if (!d) {
    report_pos(L, &inc->pos, inc->key, "cannot open directory '%s': %s", inc->dir, strerror(errno));
    L->unread = 1;
    return;
  }
  while ((de = readdir(d)) != NULL) {
    char **slot;
    if (de->d_name[0] == '.' || !has_suffix(de->d_name, ".yaml")) continue;
    APPEND(L, names, n, cap, slot);
    if (!slot) break;
    if (!(*slot = hb_strdup(de->d_name))) {
      n--;
      nomem(L);
      break;
    }
  }
  closedir(d);
  if (n) qsort(names, n, sizeof(char *), cmp_str);
  for (size_t i = 0; i < n && !L->stop; i++) {
    size_t dl = strlen(inc->dir), nl = strlen(names[i]);
    int sep = dl && inc->dir[dl - 1] != '/';
    char *path = hb_malloc(dl + sep + nl + 1);
    struct stat st;
    if (!path) {
      nomem(L);
      break;
    }
    memcpy(path, inc->dir, dl);
    if (sep) path[dl] = '/';
    memcpy(path + dl + sep, names[i], nl + 1);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) load_file(L, path, 0, inc);
    hb_free(path);
  }
  free_strv(names, n);
}

/* --- resolution -------------------------------------------------------- */

#define FIND_BY_NAME(arr, n, want, out)                                        \
  do {                                                                         \
    (out) = -1;                                                                \
    for (size_t i_ = 0; i_ < (n); i_++)                                        \
      if ((arr)[i_].name && strcmp((arr)[i_].name, (want)) == 0) {             \
        (out) = (ssize_t)i_;                                                   \
        break;                                                                 \
      }                                                                        \
  } while (0)

static void resolve_refs(loader *L) {
  hb_config *cfg = L->cfg;
  for (size_t i = 0; i < L->nrefs && !L->stop; i++) {
    const ref *r = &L->refs[i];
    ssize_t idx;
    const char *what;
    switch (r->kind) {
    case REF_LISTENER_CERT:
    case REF_UPSTREAM_CERT:
    case REF_CONNECTOR_CERT:
      FIND_BY_NAME(cfg->certs, cfg->ncerts, r->name, idx);
      what = "certificate";
      break;
    case REF_ROUTE_LISTENER:
      FIND_BY_NAME(cfg->listeners, cfg->nlisteners, r->name, idx);
      what = "listener";
      break;
    case REF_ROUTE_CONNECTOR:
      FIND_BY_NAME(cfg->connectors, cfg->nconnectors, r->name, idx);
      what = "connector";
      break;
    case REF_ROUTE_UPSTREAM:
      FIND_BY_NAME(cfg->upstreams, cfg->nupstreams, r->name, idx);
      what = "upstream";
      break;
    default:
      FIND_BY_NAME(cfg->origins, cfg->norigins, r->name, idx);
      what = "origin";
      break;
    }
    if (idx < 0) {
      report_pos(L, &r->pos, r->key, "unknown %s '%s'", what, r->name);
      continue;
    }
    switch (r->kind) {
    case REF_LISTENER_CERT: cfg->listeners[r->item].certs[r->sub] = (size_t)idx; break;
    case REF_UPSTREAM_CERT: cfg->upstreams[r->item].client_cert = idx; break;
    case REF_CONNECTOR_CERT: cfg->connectors[r->item].client_cert = idx; break;
    case REF_ROUTE_LISTENER: cfg->routes[r->item].listener = idx; break;
    case REF_ROUTE_CONNECTOR: cfg->routes[r->item].connector = idx; break;
    case REF_ROUTE_UPSTREAM: cfg->routes[r->item].upstream = idx; break;
    default: cfg->routes[r->item].origin = idx; break;
    }
  }
}

static void finish(loader *L) {
  hb_config *cfg = L->cfg;
  hb_limits builtin;

  hb_limits_default(&builtin);
  cfg->defaults = builtin;
  limits_overlay(&cfg->defaults, &L->dflt);
  cfg->defaults.set = L->dflt.set;

  for (size_t i = 0; i < cfg->nlisteners; i++) {
    hb_config_listener *li = &cfg->listeners[i];
    hb_limits r = builtin;
    limits_overlay(&r, &L->dflt);
    limits_overlay(&r, &li->limits);
    r.set = li->limits.set;
    li->limits = r;
  }
  for (size_t i = 0; i < cfg->nupstreams; i++) {
    hb_config_upstream *u = &cfg->upstreams[i];
    hb_limits r = builtin;
    r.max_connections = 64;
    limits_overlay(&r, &L->dflt);
    limits_overlay(&r, &u->limits);
    r.set = u->limits.set;
    u->limits = r;
    u->max_connections = r.max_connections;
  }
  for (size_t i = 0; i < cfg->nroutes; i++) {
    hb_config_route *r = &cfg->routes[i];
    char buf[32];
    if (r->name) continue;
    snprintf(buf, sizeof(buf), "route#%zu", i + 1);
    if (!(r->name = hb_strdup(buf))) nomem(L);
  }
  resolve_refs(L);
  if (L->stop) return;

  /* A reverse peer with no check of its own is authorized only by a
   * listener's client_ca; without one anyone could claim its authorities. */
  int any_client_ca = 0;
  for (size_t i = 0; i < cfg->nlisteners; i++) any_client_ca |= cfg->listeners[i].client_ca != NULL;
  for (size_t i = 0; i < cfg->norigins; i++) {
    const hb_config_origin *o = &cfg->origins[i];
    if (!o->auth_ca && !o->nauth_client_cert_sha256 && !o->nauth_token_sha256 && !o->auth_hmac_key_file &&
        !any_client_ca)
      report_pos(L, &o->pos, "auth",
                 "origin '%s' has no authorization: set auth.ca, client_cert_sha256, token_sha256 or "
                 "hmac_key_file, or client_ca on the gateway listener",
                 o->name ? o->name : "?");
  }
  if (cfg->nlisteners == 0 && cfg->nconnectors == 0 && L->nerr == 0) {
    hb_pos p = L->root_pos;
    if (!p.file) p.file = cfg->files[0], p.line = 1, p.col = 1;
    report_pos(L, &p, "listeners", "nothing to serve: no listeners and no connectors");
  }
  if (!cfg->log_access && !(cfg->log_access = hb_strdup("stderr"))) nomem(L);
}

/* --- load / free ------------------------------------------------------- */

int hb_config_load(const char *path, hb_config **out, FILE *err) {
  loader L;
  hb_config *cfg;

  *out = NULL;
  memset(&L, 0, sizeof(L));
  L.err = err;
  if (!(cfg = hb_calloc(1, sizeof(*cfg)))) {
    if (err) fprintf(err, "%s: out of memory\n", path);
    return HB_ERR_NOMEM;
  }
  L.cfg = cfg;
  cfg->log_level = HB_LOG_INFO;
  hb_limits_default(&cfg->defaults);
  if (!(cfg->path = hb_strdup(path))) nomem(&L);

  if (!L.stop) load_file(&L, path, 1, NULL);
  for (size_t i = 0; i < L.nincs && !L.stop; i++) load_include(&L, &L.incs[i]);
  if (!L.stop && !L.unread) finish(&L);

  for (size_t i = 0; i < L.nrefs; i++) {
    hb_free(L.refs[i].name);
    hb_free(L.refs[i].key);
  }
  hb_free(L.refs);
  for (size_t i = 0; i < L.nincs; i++) {
    hb_free(L.incs[i].dir);
    hb_free(L.incs[i].key);
  }
  hb_free(L.incs);
  hb_free(L.dir);

  if (L.nomem || L.nerr) {
    hb_config_free(cfg);
    return L.nomem ? HB_ERR_NOMEM : HB_ERR_CONFIG;
  }
  *out = cfg;
  return 0;
}

void hb_config_free(hb_config *cfg) {
  if (!cfg) return;
  for (size_t i = 0; i < cfg->ncerts; i++) {
    hb_free(cfg->certs[i].name);
    hb_free(cfg->certs[i].cert);
    hb_free(cfg->certs[i].key);
  }
  hb_free(cfg->certs);
  for (size_t i = 0; i < cfg->nlisteners; i++) {
    hb_config_listener *l = &cfg->listeners[i];
    hb_free(l->name);
    hb_free(l->listen);
    hb_free(l->host);
    hb_free(l->port);
    hb_free(l->certs);
    free_strv(l->alpn, l->nalpn);
    hb_free(l->client_ca);
    free_strv(l->extensions, l->nextensions);
  }
  hb_free(cfg->listeners);
  for (size_t i = 0; i < cfg->nupstreams; i++) {
    hb_config_upstream *u = &cfg->upstreams[i];
    hb_free(u->name);
    hb_free(u->address);
    hb_free(u->host);
    hb_free(u->port);
    hb_free(u->tls_sni);
    hb_free(u->tls_ca);
    hb_free(u->tls_client_cert);
  }
  hb_free(cfg->upstreams);
  for (size_t i = 0; i < cfg->norigins; i++) {
    hb_config_origin *o = &cfg->origins[i];
    hb_free(o->name);
    free_strv(o->protocols, o->nprotocols);
    free_strv(o->authorities, o->nauthorities);
    free_strv(o->paths, o->npaths);
    hb_free(o->auth_ca);
    free_strv(o->auth_client_cert_sha256, o->nauth_client_cert_sha256);
    hb_free(o->auth_path);
    free_strv(o->auth_token_sha256, o->nauth_token_sha256);
    hb_free(o->auth_hmac_key_file);
  }
  hb_free(cfg->origins);
  for (size_t i = 0; i < cfg->nconnectors; i++) {
    hb_config_connector *c = &cfg->connectors[i];
    hb_free(c->name);
    free_strv(c->gateways, c->ngateways);
    hb_free(c->protocol);
    hb_free(c->tls_sni);
    hb_free(c->tls_ca);
    hb_free(c->tls_client_cert);
    hb_free(c->token_file);
    hb_free(c->hmac_key_file);
    free_strv(c->authorities, c->nauthorities);
    free_strv(c->paths, c->npaths);
    hb_free(c->on_auth_failure);
  }
  hb_free(cfg->connectors);
  for (size_t i = 0; i < cfg->nroutes; i++) {
    hb_config_route *r = &cfg->routes[i];
    hb_free(r->name);
    hb_free(r->match_listener);
    hb_free(r->match_connector);
    hb_free(r->match_authority);
    hb_free(r->match_path);
    hb_free(r->match_method);
    hb_free(r->match_protocol);
    hb_free(r->to_name);
  }
  hb_free(cfg->routes);
  free_strv(cfg->files, cfg->nfiles);
  hb_free(cfg->path);
  hb_free(cfg->log_access);
  hb_free(cfg);
}

/* --- -t pipeline dump -------------------------------------------------- */

static void print_list(FILE *out, char *const *v, size_t n, int cleartext) {
  for (size_t i = 0; i < n; i++) {
    const char *s = v[i];
    if (cleartext && strcmp(s, "h2") == 0) s = "h2c";
    fprintf(out, "%s%s", i ? "," : "", s);
  }
}

static int check_file(FILE *err, const hb_pos *pos, const char *what, const char *name, const char *key,
                      const char *path) {
  if (!path) return 0;
  int e = readable(path);
  if (e == 0) return 0;
  if (err)
    fprintf(err, "%s:%d:%d: %s[%s].%s: cannot read '%s': %s\n", pos->file, pos->line, pos->col, what,
            name ? name : "?", key, path, strerror(e));
  return 1;
}

int hb_config_check_files(const hb_config *cfg, FILE *err) {
  int n = 0;
  for (size_t i = 0; i < cfg->nlisteners; i++) {
    const hb_config_listener *l = &cfg->listeners[i];
    n += check_file(err, &l->pos, "listeners", l->name, "tls.client_ca", l->client_ca);
  }
  for (size_t i = 0; i < cfg->nupstreams; i++) {
    const hb_config_upstream *u = &cfg->upstreams[i];
    n += check_file(err, &u->pos, "upstreams", u->name, "tls.ca", u->tls_ca);
  }
  for (size_t i = 0; i < cfg->norigins; i++) {
    const hb_config_origin *o = &cfg->origins[i];
    n += check_file(err, &o->pos, "origins", o->name, "auth.ca", o->auth_ca);
    n += check_file(err, &o->pos, "origins", o->name, "auth.hmac_key_file", o->auth_hmac_key_file);
  }
  for (size_t i = 0; i < cfg->nconnectors; i++) {
    const hb_config_connector *k = &cfg->connectors[i];
    n += check_file(err, &k->pos, "connectors", k->name, "tls.ca", k->tls_ca);
    n += check_file(err, &k->pos, "connectors", k->name, "token_file", k->token_file);
    n += check_file(err, &k->pos, "connectors", k->name, "hmac_key_file", k->hmac_key_file);
  }
  return n;
}

void hb_config_dump_pipeline(const hb_config *cfg, FILE *out) {
  static const char *const proto_names[] = {"http/1.1", "h2c", "h2"};
  for (size_t i = 0; i < cfg->nroutes; i++) {
    const hb_config_route *r = &cfg->routes[i];
    fprintf(out, "route \"%s\" (%s:%d): ", r->name ? r->name : "?", r->pos.file ? r->pos.file : "?", r->pos.line);
    if (r->listener >= 0 && (size_t)r->listener < cfg->nlisteners) {
      const hb_config_listener *l = &cfg->listeners[r->listener];
      fprintf(out, "listener %s [%s ", l->name, l->tls ? "tls" : "cleartext");
      print_list(out, l->alpn, l->nalpn, !l->tls);
      fputc(']', out);
    } else if (r->connector >= 0 && (size_t)r->connector < cfg->nconnectors) {
      const hb_config_connector *c = &cfg->connectors[r->connector];
      fprintf(out, "connector %s [%s via ", c->name, c->protocol ? c->protocol : "rh2");
      print_list(out, c->gateways, c->ngateways, 0);
      fputc(']', out);
    } else {
      fputs("any listener", out);
    }
    fputs(" -> match", out);
    int any = 0;
    if (r->match_authority) fprintf(out, " authority=%s", r->match_authority), any = 1;
    if (r->match_path) fprintf(out, " path=%s", r->match_path), any = 1;
    if (r->match_method) fprintf(out, " method=%s", r->match_method), any = 1;
    if (r->match_protocol) fprintf(out, " protocol=%s", r->match_protocol), any = 1;
    if (!any) fputs(" all", out);
    if (r->target == HB_TARGET_UPSTREAM && r->upstream >= 0 && (size_t)r->upstream < cfg->nupstreams) {
      const hb_config_upstream *u = &cfg->upstreams[r->upstream];
      const char *pn = u->protocol >= 0 && u->protocol <= HB_PROTO_H2 ? proto_names[u->protocol] : "?";
      fprintf(out, " -> upstream %s (%s %s", u->name, u->address, pn);
      if (u->tls) {
        fprintf(out, " tls sni=%s", u->tls_sni ? u->tls_sni : u->host);
        if (!u->tls_verify) fputs(" verify=off", out);
      }
      fputs(")\n", out);
    } else if (r->target == HB_TARGET_ORIGIN && r->origin >= 0 && (size_t)r->origin < cfg->norigins) {
      const hb_config_origin *o = &cfg->origins[r->origin];
      fprintf(out, " -> origin %s (reverse peers: ", o->name);
      print_list(out, o->protocols, o->nprotocols, 0);
      fputs(")\n", out);
    } else {
      fprintf(out, " -> %s (unresolved)\n", r->to_name ? r->to_name : "?");
    }
  }
}
