/* h1_parse.c: strict HTTP/1.1 head parser and resumable chunked decoder
 * (RFC 9112 §2-§7, RFC 9110 §5.5, §6.5.1, §7.2, §8.6).  Owns nothing: fields
 * are copied into the caller's hb_head (its arena), decoder state lives in the
 * caller's hb_h1_chunked.  Pure and reentrant; no I/O, no globals.
 * Why hand-written and what it refuses: docs/decisions/0001-h1-parser.md. */
#include "h1_parse.h"
#include "errors.h"

#include <limits.h>
#include <string.h>

#define HB_H1_DEFAULT_HEAD_BYTES 65536
#define HB_H1_DEFAULT_FIELDS 100
#define HB_H1_MAX_CL ((uint64_t)1 << 62)
#define HB_H1_MAX_CHUNK_DIGITS 15

/* ---- character classes (RFC 9110 §5.6.2, RFC 3986 §2) ---- */

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static int is_alpha(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_ows(uint8_t c) { return c == ' ' || c == '\t'; }

static int hex_val(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int is_tchar(uint8_t c) {
  if (is_alpha(c) || is_digit(c)) return 1;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB: everything but CTLs and DEL (obs-text allowed). */
static int is_field_char(uint8_t c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static int is_unreserved(uint8_t c) {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int is_sub_delim(uint8_t c) { return c != 0 && strchr("!$&'()*+,;=", c) != NULL; }

/* Characters of an origin-form path and query.  RFC 3986 pchar plus "/" "?";
 * the "unwise" visible characters some clients send unescaped are tolerated
 * because they cannot change where the target ends.  '#' (a fragment is never
 * sent), '\' (path-normalisation confusion), CTLs, SP and non-ASCII are not. */
static int is_target_char(uint8_t c) {
  if (is_unreserved(c) || is_sub_delim(c)) return 1;
  return c != 0 && strchr(":@/?%\"<>[]^`{|}", c) != NULL;
}

static int ieq(const uint8_t *s, size_t n, const char *lit) {
  size_t l = strlen(lit);
  if (n != l) return 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t a = s[i], b = (uint8_t)lit[i];
    if (a >= 'A' && a <= 'Z') a = (uint8_t)(a + 32);
    if (b >= 'A' && b <= 'Z') b = (uint8_t)(b + 32);
    if (a != b) return 0;
  }
  return 1;
}

/* ---- shared validators ---- */

/* path-abempty/absolute-path ["?" query] with valid percent-encoding. */
static int valid_path(const uint8_t *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (!is_target_char(s[i])) return 0;
    if (s[i] == '%') {
      if (i + 2 >= len || hex_val(s[i + 1]) < 0 || hex_val(s[i + 2]) < 0) return 0;
      i += 2;
    }
  }
  return 1;
}

/* uri-host [":" port] (RFC 9110 §7.2, RFC 3986 §3.2.2).  IP literals are
 * hex digits, ':' and '.' in brackets (no zone ids).  Userinfo is refused
 * (RFC 9110 §4.2.4), the host must not be empty, a port is 1-5 digits and is
 * mandatory when |need_port| (authority-form, RFC 9112 §3.2.3). */
static int valid_authority(const uint8_t *s, size_t len, int need_port) {
  size_t i = 0;
  if (len == 0) return 0;
  if (s[0] == '[') {
    i = 1;
    while (i < len && (hex_val(s[i]) >= 0 || s[i] == ':' || s[i] == '.')) i++;
    if (i == 1 || i >= len || s[i] != ']') return 0;
    i++;
  } else {
    /* reg-name without pct-encoding: no real host needs it (IDNs travel as
     * A-labels), and "%65xample.com" would let the router and a backend
     * disagree about the authority. */
    while (i < len && s[i] != ':') {
      if (!is_unreserved(s[i]) && !is_sub_delim(s[i])) return 0;
      i++;
    }
    if (i == 0) return 0;
  }
  if (i == len) return !need_port;
  if (s[i] != ':') return 0;
  size_t digits = len - i - 1;
  if (digits == 0 || digits > 5) return 0;
  for (i++; i < len; i++)
    if (!is_digit(s[i])) return 0;
  return 1;
}

/* Content-Length = 1*DIGIT, possibly as a list of identical values
 * (RFC 9110 §8.6).  At most 19 digits and <= 2^62.  0 or -1. */
static int parse_content_length(const uint8_t *v, size_t len, uint64_t *out) {
  int have = 0;
  uint64_t first = 0;
  size_t i = 0;
  for (;;) {
    while (i < len && is_ows(v[i])) i++;
    size_t s = i;
    uint64_t n = 0;
    while (i < len && is_digit(v[i])) {
      if (i - s == 19) return -1; /* 19 digits cannot overflow 64 bits */
      n = n * 10 + (uint64_t)(v[i] - '0');
      i++;
    }
    if (i == s) return -1; /* empty element, sign, or junk */
    if (n > HB_H1_MAX_CL) return -1;
    while (i < len && is_ows(v[i])) i++;
    if (have && n != first) return -1;
    first = n;
    have = 1;
    if (i == len) break;
    if (v[i] != ',') return -1;
    i++;
  }
  *out = first;
  return 0;
}

/* Transfer-Encoding list check.  0: exactly one "chunked", last; 1: a coding
 * we do not implement (501); -1: malformed or chunked applied twice (400). */
static int check_transfer_encoding(const uint8_t *v, size_t len) {
  int nchunked = 0, other = 0, last_chunked = 0;
  size_t i = 0;
  for (;;) {
    while (i < len && is_ows(v[i])) i++;
    size_t s = i;
    while (i < len && is_tchar(v[i])) i++;
    size_t e = i;
    if (e == s) return -1;
    int params = 0;
    while (i < len && v[i] != ',') {
      /* transfer-parameters: accepted only to classify the coding */
      if (v[i] == ';') params = 1;
      else if (!params && !is_ows(v[i])) return -1;
      i++;
    }
    if (ieq(v + s, e - s, "chunked")) {
      if (params) return -1; /* chunked has no parameters */
      nchunked++;
      last_chunked = 1;
    } else {
      other = 1;
      last_chunked = 0;
    }
    if (i == len) break;
    i++; /* ',' */
  }
  if (nchunked > 1) return -1;
  if (other || !last_chunked) return 1;
  return 0;
}

/* ---- head framing scan ---- */

/* Finds the head in |buf|: sets |*start| past up to |max_empty| leading CRLFs
 * and |*end| one past the terminating blank line.  Refuses bare CR and bare LF
 * anywhere, before the head is complete, so a slow sender cannot hide them. */
static int scan_head(const uint8_t *buf, size_t len, size_t max_head, int max_empty,
                     size_t *start, size_t *end, int *status, const char **reason) {
  size_t limit = HB_MIN(len, max_head);
  size_t line_start = 0;
  int empty = 0, seen_line = 0;
  for (size_t i = 0; i < limit; i++) {
    if (buf[i] == '\r') {
      if (i + 1 < len && buf[i + 1] != '\n') {
        *reason = "bare CR in head";
        return HB_ERR_PROTO;
      }
      continue;
    }
    if (buf[i] != '\n') continue;
    if (i == 0 || buf[i - 1] != '\r') {
      *reason = "bare LF in head";
      return HB_ERR_PROTO;
    }
    if (i - 1 == line_start) { /* empty line */
      if (seen_line) {
        *end = i + 1;
        return 0;
      }
      if (++empty > max_empty) {
        *reason = "empty line before start line";
        return HB_ERR_PROTO;
      }
      *start = i + 1;
    } else {
      seen_line = 1;
    }
    line_start = i + 1;
  }
  if (len >= max_head) {
    *status = 431;
    *reason = "head too large";
    return HB_ERR_TOO_LARGE;
  }
  return HB_ERR_INCOMPLETE;
}

int hb_h1_head_ready(const uint8_t *buf, size_t len, size_t *scanned) {
  size_t i = *scanned;
  for (; i < len; i++) {
    if (buf[i] == '\r') {
      if (i + 1 == len) break; /* look at this CR again with its successor */
      if (buf[i + 1] != '\n') return 1;
    } else if (buf[i] == '\n') {
      if (i == 0 || buf[i - 1] != '\r') return 1;
      if (i >= 3 && buf[i - 2] == '\n' && buf[i - 3] == '\r') return 1;
    }
  }
  *scanned = i;
  return 0;
}

/* ---- field lines ---- */

typedef struct fstate {
  size_t nfields;
  int nhost;
  const uint8_t *host;
  size_t hostlen;
  int has_cl;
  uint64_t cl;
  int nte;
  const uint8_t *te;
  size_t telen;
  int conn_close, conn_keep_alive, conn_upgrade, has_upgrade, expect_continue;
} fstate;

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 §5).  |line|
 * excludes the CRLF.  The name must start at the first byte (no obs-fold, no
 * whitespace before the colon). */
static int split_field(const uint8_t *line, size_t len, size_t *namelen, const uint8_t **val,
                       size_t *vallen, const char **reason) {
  size_t i = 0;
  if (len && is_ows(line[0])) {
    *reason = "obs-fold or whitespace before field line";
    return HB_ERR_PROTO;
  }
  while (i < len && is_tchar(line[i])) i++;
  if (i == 0 || i == len || line[i] != ':') {
    *reason = "invalid field name";
    return HB_ERR_PROTO;
  }
  *namelen = i;
  i++;
  while (i < len && is_ows(line[i])) i++;
  size_t e = len;
  while (e > i && is_ows(line[e - 1])) e--;
  for (size_t k = i; k < e; k++) {
    if (!is_field_char(line[k])) {
      *reason = "control character in field value";
      return HB_ERR_PROTO;
    }
  }
  *val = line + i;
  *vallen = e - i;
  return 0;
}

static int list_has(const uint8_t *v, size_t len, const char *tok) {
  return hb_token_list_has((const char *)v, len, tok);
}

static int parse_fields(const uint8_t *buf, size_t pos, size_t end, size_t max_fields,
                        hb_head *head, fstate *fs, int *status, const char **reason) {
  /* |end| is the offset of the blank line's CR. */
  while (pos < end) {
    const uint8_t *nl = memchr(buf + pos, '\n', end + 2 - pos);
    size_t eol = (size_t)(nl - buf) - 1; /* scan_head guaranteed CRLF */
    const uint8_t *line = buf + pos, *val;
    size_t namelen, vallen;
    int rv = split_field(line, eol - pos, &namelen, &val, &vallen, reason);
    if (rv != 0) return rv;
    if (++fs->nfields > max_fields) {
      *status = 431;
      *reason = "too many header fields";
      return HB_ERR_TOO_LARGE;
    }
    if (hb_head_add(head, (const char *)line, namelen, (const char *)val, vallen) != 0) {
      *status = 500;
      *reason = "out of memory";
      return HB_ERR_NOMEM;
    }
    if (ieq(line, namelen, "host")) {
      fs->nhost++;
      fs->host = val;
      fs->hostlen = vallen;
    } else if (ieq(line, namelen, "content-length")) {
      uint64_t n;
      if (parse_content_length(val, vallen, &n) != 0) {
        *reason = "invalid content-length";
        return HB_ERR_PROTO;
      }
      if (fs->has_cl && n != fs->cl) {
        *reason = "conflicting content-length";
        return HB_ERR_PROTO;
      }
      fs->has_cl = 1;
      fs->cl = n;
    } else if (ieq(line, namelen, "transfer-encoding")) {
      fs->nte++;
      fs->te = val;
      fs->telen = vallen;
    } else if (ieq(line, namelen, "connection")) {
      fs->conn_close |= list_has(val, vallen, "close");
      fs->conn_keep_alive |= list_has(val, vallen, "keep-alive");
      fs->conn_upgrade |= list_has(val, vallen, "upgrade");
    } else if (ieq(line, namelen, "upgrade")) {
      fs->has_upgrade = 1;
    } else if (ieq(line, namelen, "expect")) {
      fs->expect_continue |= ieq(val, vallen, "100-continue");
    }
    pos = eol + 2;
  }
  return 0;
}

/* Framing checks common to requests and responses (RFC 9112 §6.1-§6.3). */
static int check_framing(const fstate *fs, int version_minor, int *status, const char **reason) {
  if (fs->nte > 1) {
    *reason = "duplicate transfer-encoding";
    return HB_ERR_PROTO;
  }
  if (fs->nte == 0) return 0;
  if (version_minor == 0) {
    *reason = "transfer-encoding in HTTP/1.0";
    return HB_ERR_PROTO;
  }
  if (fs->has_cl) {
    *reason = "both content-length and transfer-encoding";
    return HB_ERR_PROTO;
  }
  int te = check_transfer_encoding(fs->te, fs->telen);
  if (te < 0) {
    *reason = "invalid transfer-encoding";
    return HB_ERR_PROTO;
  }
  if (te > 0) {
    *status = 501;
    *reason = "unsupported transfer-coding";
    return HB_ERR_PROTO;
  }
  return 0;
}

/* A repeated or list Content-Length is forwarded as one canonical value so no
 * peer behind us can read "5, 5" differently. */
static int normalise_content_length(hb_head *head, const fstate *fs) {
  if (!fs->has_cl) return 0;
  char num[24];
  size_t n = 0;
  uint64_t v = fs->cl;
  do {
    num[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n / 2; i++) {
    char t = num[i];
    num[i] = num[n - 1 - i];
    num[n - 1 - i] = t;
  }
  const hb_field *f = hb_head_get(head, "content-length");
  size_t count = 0;
  for (size_t i = 0; i < head->nfields; i++)
    count += strcmp(head->fields[i].name, "content-length") == 0;
  if (count == 1 && f->valuelen == n && memcmp(f->value, num, n) == 0) return 0;
  hb_head_remove(head, "content-length");
  return hb_head_add(head, "content-length", 14, num, n);
}

static void resolve_limits(const hb_h1_limits *limits, size_t *max_head, size_t *max_fields) {
  *max_head = limits && limits->max_head_bytes ? limits->max_head_bytes : HB_H1_DEFAULT_HEAD_BYTES;
  if (*max_head > INT_MAX) *max_head = INT_MAX; /* the head length is returned as int */
  *max_fields = limits && limits->max_fields ? limits->max_fields : HB_H1_DEFAULT_FIELDS;
}

/* "HTTP/" DIGIT "." DIGIT: 0 for 1.0/1.1 (|*minor| set), 505 for another
 * well-formed version, -1 when malformed. */
static int parse_version(const uint8_t *s, size_t len, int *minor) {
  if (len != 8 || memcmp(s, "HTTP/", 5) != 0 || !is_digit(s[5]) || s[6] != '.' || !is_digit(s[7]))
    return -1;
  if (s[5] != '1' || (s[7] != '0' && s[7] != '1')) return 505;
  *minor = s[7] - '0';
  return 0;
}

/* ---- requests ---- */

/* Splits the request target into authority and path (RFC 9112 §3.2). */
static int parse_target(const uint8_t *t, size_t tlen, const uint8_t *m, size_t mlen,
                        hb_head *head, int *absolute, const char **reason) {
  int is_connect = mlen == 7 && memcmp(m, "CONNECT", 7) == 0;
  int is_options = mlen == 7 && memcmp(m, "OPTIONS", 7) == 0;
  int rv = 0;
  *absolute = 0;
  if (is_connect) {
    if (!valid_authority(t, tlen, 1)) {
      *reason = "CONNECT needs authority-form target";
      return HB_ERR_PROTO;
    }
    *absolute = 1;
    rv = hb_head_set_pseudo(head, HB_PSEUDO_AUTHORITY, (const char *)t, tlen);
  } else if (tlen == 1 && t[0] == '*') {
    if (!is_options) {
      *reason = "asterisk-form target outside OPTIONS";
      return HB_ERR_PROTO;
    }
    rv = hb_head_set_pseudo(head, HB_PSEUDO_PATH, "*", 1);
  } else if (t[0] == '/') {
    if (!valid_path(t, tlen)) {
      *reason = "invalid request target";
      return HB_ERR_PROTO;
    }
    rv = hb_head_set_pseudo(head, HB_PSEUDO_PATH, (const char *)t, tlen);
  } else {
    size_t sl;
    if (tlen > 7 && ieq(t, 7, "http://")) sl = 7;
    else if (tlen > 8 && ieq(t, 8, "https://")) sl = 8;
    else {
      *reason = "invalid request target";
      return HB_ERR_PROTO;
    }
    size_t a = sl, e = sl;
    while (e < tlen && t[e] != '/' && t[e] != '?') e++;
    if (!valid_authority(t + a, e - a, 0)) {
      *reason = "invalid authority in absolute-form target";
      return HB_ERR_PROTO;
    }
    if (!valid_path(t + e, tlen - e)) {
      *reason = "invalid request target";
      return HB_ERR_PROTO;
    }
    *absolute = 1;
    rv = hb_head_set_pseudo(head, HB_PSEUDO_AUTHORITY, (const char *)t + a, e - a);
    if (rv == 0) {
      if (e == tlen) { /* RFC 9112 §3.2.4: OPTIONS to a server itself is "*" */
        rv = is_options ? hb_head_set_pseudo(head, HB_PSEUDO_PATH, "*", 1)
                        : hb_head_set_pseudo(head, HB_PSEUDO_PATH, "/", 1);
      } else if (t[e] == '?') {
        char *p = hb_arena_alloc(&head->arena, tlen - e + 2);
        if (!p) return HB_ERR_NOMEM;
        p[0] = '/';
        memcpy(p + 1, t + e, tlen - e);
        p[tlen - e + 1] = '\0';
        head->path = p;
      } else {
        rv = hb_head_set_pseudo(head, HB_PSEUDO_PATH, (const char *)t + e, tlen - e);
      }
    }
  }
  return rv;
}

static int parse_request(const uint8_t *buf, size_t len, const hb_h1_limits *limits,
                         hb_h1_msg *msg, hb_head *head, int *status, const char **reason) {
  size_t max_head, max_fields, start = 0, end = 0;
  resolve_limits(limits, &max_head, &max_fields);
  int rv = scan_head(buf, len, max_head, 2, &start, &end, status, reason);
  if (rv != 0) return rv;

  /* request-line = method SP request-target SP HTTP-version */
  const uint8_t *line = buf + start;
  size_t llen = (size_t)((const uint8_t *)memchr(line, '\n', end - start) - line) - 1;
  size_t i = 0;
  while (i < llen && is_tchar(line[i])) i++;
  size_t mlen = i;
  if (mlen == 0 || i == llen || line[i] != ' ') {
    *reason = "invalid method";
    return HB_ERR_PROTO;
  }
  size_t ts = ++i;
  while (i < llen && line[i] > 0x20 && line[i] < 0x7f) i++;
  size_t tlen = i - ts;
  if (tlen == 0 || i == llen || line[i] != ' ') {
    *reason = "invalid request target";
    return HB_ERR_PROTO;
  }
  i++;
  int minor = 1;
  int v = parse_version(line + i, llen - i, &minor);
  if (v != 0) {
    if (v == 505) *status = 505;
    *reason = v == 505 ? "unsupported HTTP version" : "invalid request line";
    return HB_ERR_PROTO;
  }
  msg->version_minor = minor;
  if (hb_head_set_pseudo(head, HB_PSEUDO_METHOD, (const char *)line, mlen) != 0) return HB_ERR_NOMEM;
  int absolute;
  rv = parse_target(line + ts, tlen, line, mlen, head, &absolute, reason);
  if (rv != 0) return rv;
  head->scheme = NULL;

  fstate fs;
  memset(&fs, 0, sizeof(fs));
  rv = parse_fields(buf, start + llen + 2, end - 2, max_fields, head, &fs, status, reason);
  if (rv != 0) return rv;

  if (fs.nhost > 1) {
    *reason = "multiple host fields";
    return HB_ERR_PROTO;
  }
  if (fs.nhost == 1 && !valid_authority(fs.host, fs.hostlen, 0)) {
    *reason = "invalid host";
    return HB_ERR_PROTO;
  }
  if (fs.nhost == 0 && minor == 1) {
    *reason = "missing host";
    return HB_ERR_PROTO;
  }
  if (!absolute && fs.nhost == 1 &&
      hb_head_set_pseudo(head, HB_PSEUDO_AUTHORITY, (const char *)fs.host, fs.hostlen) != 0)
    return HB_ERR_NOMEM;

  rv = check_framing(&fs, minor, status, reason);
  if (rv != 0) return rv;
  if (fs.nte) {
    msg->body = HB_H1_BODY_CHUNKED;
  } else if (fs.has_cl && fs.cl > 0) {
    msg->body = HB_H1_BODY_LENGTH;
    msg->content_length = fs.cl;
  } else {
    msg->body = HB_H1_BODY_NONE;
  }
  if (fs.has_cl) head->content_length = (int64_t)fs.cl;
  if (mlen == 7 && memcmp(line, "CONNECT", 7) == 0 && msg->body != HB_H1_BODY_NONE) {
    /* bytes after a CONNECT head are the tunnel: a body would be ambiguous */
    *reason = "CONNECT with a body";
    return HB_ERR_PROTO;
  }
  if (normalise_content_length(head, &fs) != 0) return HB_ERR_NOMEM;

  msg->keep_alive = minor == 1 ? !fs.conn_close : (fs.conn_keep_alive && !fs.conn_close);
  msg->upgrade = minor == 1 && fs.conn_upgrade && fs.has_upgrade;
  msg->expect_continue = minor == 1 && fs.expect_continue; /* RFC 9110 §10.1.1 */
  return (int)end;
}

static void fail_reset(hb_head *head) {
  int is_request = head->is_request;
  hb_head_free(head);
  hb_head_init(head, is_request);
}

int hb_h1_parse_request(const uint8_t *buf, size_t len, const hb_h1_limits *limits,
                        hb_h1_msg *msg, hb_head *head, int *status, const char **reason) {
  int st = 400;
  const char *rs = "bad request";
  memset(msg, 0, sizeof(*msg));
  int rv = parse_request(buf, len, limits, msg, head, &st, &rs);
  if (rv >= 0 || rv == HB_ERR_INCOMPLETE) return rv;
  if (rv == HB_ERR_NOMEM) {
    st = 500;
    rs = "out of memory";
  }
  memset(msg, 0, sizeof(*msg));
  fail_reset(head);
  if (status) *status = st;
  if (reason) *reason = rs;
  return rv;
}

/* ---- responses ---- */

static int parse_response(const uint8_t *buf, size_t len, const hb_h1_limits *limits,
                          const char *request_method, hb_h1_msg *msg, hb_head *head,
                          const char **reason) {
  size_t max_head, max_fields, start = 0, end = 0;
  int status = 0;
  resolve_limits(limits, &max_head, &max_fields);
  int rv = scan_head(buf, len, max_head, 0, &start, &end, &status, reason);
  if (rv != 0) return rv;

  /* status-line = HTTP-version SP status-code SP [ reason-phrase ] */
  const uint8_t *line = buf + start;
  size_t llen = (size_t)((const uint8_t *)memchr(line, '\n', end - start) - line) - 1;
  int minor = 1;
  if (llen < 12 || parse_version(line, 8, &minor) != 0 || line[8] != ' ' || !is_digit(line[9]) ||
      !is_digit(line[10]) || !is_digit(line[11]) || (llen > 12 && line[12] != ' ')) {
    *reason = "invalid status line";
    return HB_ERR_PROTO;
  }
  int code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (code < 100) {
    *reason = "invalid status code";
    return HB_ERR_PROTO;
  }
  for (size_t i = 13; i < llen; i++) {
    if (!is_field_char(line[i])) {
      *reason = "control character in reason phrase";
      return HB_ERR_PROTO;
    }
  }
  msg->version_minor = minor;
  head->status = code;

  fstate fs;
  memset(&fs, 0, sizeof(fs));
  rv = parse_fields(buf, start + llen + 2, end - 2, max_fields, head, &fs, &status, reason);
  if (rv != 0) return rv;
  rv = check_framing(&fs, minor, &status, reason);
  if (rv != 0) return rv;
  if (fs.has_cl) head->content_length = (int64_t)fs.cl;
  if (normalise_content_length(head, &fs) != 0) return HB_ERR_NOMEM;

  const char *m = request_method ? request_method : "GET";
  int keep = minor == 1 ? !fs.conn_close : (fs.conn_keep_alive && !fs.conn_close);
  if (code < 200 || code == 204 || code == 304 || strcmp(m, "HEAD") == 0 ||
      (strcmp(m, "CONNECT") == 0 && code < 300)) {
    msg->body = HB_H1_BODY_NONE;
  } else if (fs.nte) {
    msg->body = HB_H1_BODY_CHUNKED;
  } else if (fs.has_cl) {
    msg->body = fs.cl ? HB_H1_BODY_LENGTH : HB_H1_BODY_NONE;
    msg->content_length = fs.cl;
  } else {
    msg->body = HB_H1_BODY_EOF;
    keep = 0;
  }
  msg->keep_alive = keep;
  msg->upgrade = minor == 1 && fs.conn_upgrade && fs.has_upgrade;
  return (int)end;
}

int hb_h1_parse_response(const uint8_t *buf, size_t len, const hb_h1_limits *limits,
                         const char *request_method, hb_h1_msg *msg, hb_head *head,
                         const char **reason) {
  const char *rs = "bad response";
  memset(msg, 0, sizeof(*msg));
  int rv = parse_response(buf, len, limits, request_method, msg, head, &rs);
  if (rv >= 0 || rv == HB_ERR_INCOMPLETE) return rv;
  if (rv == HB_ERR_NOMEM) rs = "out of memory";
  memset(msg, 0, sizeof(*msg));
  fail_reset(head);
  if (reason) *reason = rs;
  return rv;
}

/* ---- chunked decoder (RFC 9112 §7.1) ---- */

enum {
  CS_SIZE,          /* chunk-size hex digits */
  CS_SIZE_BWS,      /* whitespace after the size: only ";" may follow */
  CS_EXT_NAME0,     /* after ";": BWS then the first char of an extension name */
  CS_EXT_NAME,      /* inside chunk-ext-name */
  CS_EXT_NAME_BWS,  /* whitespace after a name: "=" or ";" must follow */
  CS_EXT_VAL0,      /* after "=": BWS then a token or quoted-string */
  CS_EXT_TOKEN,     /* inside a token value */
  CS_EXT_QUOTED,    /* inside a quoted-string value */
  CS_EXT_QESC,      /* after a backslash in a quoted-string */
  CS_EXT_QEND,      /* after the closing quote: ";", CR or BWS */
  CS_EXT_VAL_END,   /* BWS after a value: only ";" may follow */
  CS_SIZE_LF,       /* CR of the chunk-size line seen */
  CS_DATA,          /* |remaining| data bytes to pass on */
  CS_DATA_CR,       /* CR after chunk data */
  CS_DATA_LF,       /* LF after chunk data */
  CS_TRAILER,       /* start of a trailer field line or of the final CRLF */
  CS_TRAILER_LINE,  /* inside a trailer field line (buffered in tbuf) */
  CS_TRAILER_LF,    /* CR of a trailer line seen */
  CS_END_LF,        /* CR of the final CRLF seen */
  CS_DONE,          /* body complete */
  CS_ERROR          /* sticky failure */
};

static const char *const cs_names[] = {
    "size",      "size-bws",  "ext-name0",  "ext-name",     "ext-name-bws", "ext-val0",  "ext-token",
    "ext-quoted", "ext-qesc", "ext-qend", "ext-val-end", "size-lf",     "data",         "data-cr",   "data-lf",
    "trailer",   "trailer-line", "trailer-lf", "end-lf",    "done",         "error"};

const char *hb_h1_chunked_state_str(const hb_h1_chunked *c) {
  if (c->state < 0 || (size_t)c->state >= HB_ARRAY_LEN(cs_names)) return "?";
  return cs_names[c->state];
}

void hb_h1_chunked_init(hb_h1_chunked *c, size_t max_trailer_bytes) {
  memset(c, 0, sizeof(*c));
  c->state = CS_SIZE;
  c->max_trailer = max_trailer_bytes;
}

/* Framing, routing and connection-control fields never come from a trailer
 * (RFC 9110 §6.5.1); they are dropped silently. */
static int trailer_forbidden(const uint8_t *n, size_t len) {
  static const char *const names[] = {"content-length", "transfer-encoding", "host",
                                      "connection",     "keep-alive",        "te",
                                      "upgrade",        "proxy-connection",  "trailer",
                                      "http2-settings"};
  for (size_t i = 0; i < HB_ARRAY_LEN(names); i++)
    if (ieq(n, len, names[i])) return 1;
  return 0;
}

static int trailer_line(hb_h1_chunked *c, hb_head *trailers, const char **reason) {
  const uint8_t *line = (const uint8_t *)c->tbuf, *val;
  size_t namelen, vallen;
  if (c->trailer_len + c->tbuf_len + 2 > c->max_trailer) {
    *reason = "trailer section too large";
    return HB_ERR_PROTO;
  }
  c->trailer_len += c->tbuf_len + 2;
  int rv = split_field(line, c->tbuf_len, &namelen, &val, &vallen, reason);
  if (rv != 0) return rv;
  if (!trailers || trailer_forbidden(line, namelen)) return 0;
  if (hb_head_add(trailers, c->tbuf, namelen, (const char *)val, vallen) != 0) {
    *reason = "out of memory";
    return HB_ERR_NOMEM;
  }
  return 0;
}

ssize_t hb_h1_chunked_feed(hb_h1_chunked *c, const uint8_t *src, size_t len,
                           const uint8_t **data, size_t *data_len, hb_head *trailers,
                           int *done, const char **reason) {
  const char *why = NULL;
  int err = HB_ERR_PROTO;
  size_t i = 0;
  *data = NULL;
  *data_len = 0;
  *done = c->state == CS_DONE;
  if (c->state == CS_ERROR) {
    if (reason) *reason = c->err_reason;
    return c->err;
  }
  while (i < len && c->state != CS_DONE) {
    uint8_t b = src[i];
    if (c->state == CS_DATA) {
      if (*data) break; /* one span per call */
      size_t n = (size_t)HB_MIN((uint64_t)(len - i), c->remaining);
      *data = src + i;
      *data_len = n;
      c->remaining -= n;
      i += n;
      if (c->remaining == 0) c->state = CS_DATA_CR;
      continue;
    }
    if (c->state < CS_SIZE_LF) { /* the whole chunk-size line, CR included, is capped */
      if (c->ext_len >= HB_H1_CHUNK_LINE_MAX) {
        why = "chunk-size line too long";
        goto fail;
      }
      c->ext_len++;
    }
    switch (c->state) {
    case CS_SIZE: {
      int h = hex_val(b);
      if (h >= 0) {
        if (c->ext_len - 1 >= HB_H1_MAX_CHUNK_DIGITS) {
          why = "chunk size overflow";
          goto fail;
        }
        c->remaining = (c->remaining << 4) | (uint64_t)h;
        break;
      }
      if (c->ext_len == 1) {
        why = "invalid chunk size";
        goto fail;
      }
      if (b == '\r') c->state = CS_SIZE_LF;
      else if (b == ';') c->state = CS_EXT_NAME0;
      else if (is_ows(b)) c->state = CS_SIZE_BWS;
      else {
        why = "invalid chunk size";
        goto fail;
      }
      break;
    }
    case CS_SIZE_BWS:
      if (b == ';') c->state = CS_EXT_NAME0;
      else if (!is_ows(b)) {
        why = "invalid chunk size line";
        goto fail;
      }
      break;
    case CS_EXT_NAME0:
      if (is_tchar(b)) c->state = CS_EXT_NAME;
      else if (!is_ows(b)) {
        why = "invalid chunk extension";
        goto fail;
      }
      break;
    case CS_EXT_NAME:
      if (b == '\r') c->state = CS_SIZE_LF;
      else if (b == ';') c->state = CS_EXT_NAME0;
      else if (b == '=') c->state = CS_EXT_VAL0;
      else if (is_ows(b)) c->state = CS_EXT_NAME_BWS;
      else if (!is_tchar(b)) {
        why = "invalid chunk extension";
        goto fail;
      }
      break;
    case CS_EXT_NAME_BWS:
      if (b == ';') c->state = CS_EXT_NAME0;
      else if (b == '=') c->state = CS_EXT_VAL0;
      else if (!is_ows(b)) {
        why = "invalid chunk extension";
        goto fail;
      }
      break;
    case CS_EXT_VAL0:
      if (b == '"') c->state = CS_EXT_QUOTED;
      else if (is_tchar(b)) c->state = CS_EXT_TOKEN;
      else if (!is_ows(b)) {
        why = "invalid chunk extension value";
        goto fail;
      }
      break;
    case CS_EXT_TOKEN:
      if (b == '\r') c->state = CS_SIZE_LF;
      else if (b == ';') c->state = CS_EXT_NAME0;
      else if (is_ows(b)) c->state = CS_EXT_VAL_END;
      else if (!is_tchar(b)) {
        why = "invalid chunk extension value";
        goto fail;
      }
      break;
    case CS_EXT_QUOTED:
      if (b == '"') c->state = CS_EXT_QEND;
      else if (b == '\\') c->state = CS_EXT_QESC;
      else if (!is_field_char(b)) {
        why = "control character in chunk extension";
        goto fail;
      }
      break;
    case CS_EXT_QESC:
      if (!is_field_char(b)) {
        why = "control character in chunk extension";
        goto fail;
      }
      c->state = CS_EXT_QUOTED;
      break;
    case CS_EXT_QEND:
      if (b == '\r') c->state = CS_SIZE_LF;
      else if (b == ';') c->state = CS_EXT_NAME0;
      else if (is_ows(b)) c->state = CS_EXT_VAL_END;
      else {
        why = "invalid chunk extension";
        goto fail;
      }
      break;
    case CS_EXT_VAL_END:
      if (b == ';') c->state = CS_EXT_NAME0;
      else if (!is_ows(b)) {
        why = "invalid chunk extension";
        goto fail;
      }
      break;
    case CS_SIZE_LF:
      if (b != '\n') {
        why = "bare CR in chunk-size line";
        goto fail;
      }
      c->ext_len = 0;
      c->state = c->remaining ? CS_DATA : CS_TRAILER;
      break;
    case CS_DATA_CR:
      if (b != '\r') {
        why = "missing CRLF after chunk data";
        goto fail;
      }
      c->state = CS_DATA_LF;
      break;
    case CS_DATA_LF:
      if (b != '\n') {
        why = "missing CRLF after chunk data";
        goto fail;
      }
      c->state = CS_SIZE;
      c->remaining = 0;
      c->ext_len = 0;
      break;
    case CS_TRAILER:
      if (b == '\r') {
        c->state = CS_END_LF;
      } else if (b == '\n') {
        why = "bare LF in trailer section";
        goto fail;
      } else {
        c->tbuf[0] = (char)b;
        c->tbuf_len = 1;
        c->state = CS_TRAILER_LINE;
      }
      break;
    case CS_TRAILER_LINE:
      if (b == '\r') {
        c->state = CS_TRAILER_LF;
      } else if (b == '\n') {
        why = "bare LF in trailer section";
        goto fail;
      } else if (c->tbuf_len == sizeof(c->tbuf)) {
        why = "trailer field line too long";
        goto fail;
      } else {
        c->tbuf[c->tbuf_len++] = (char)b;
      }
      break;
    case CS_TRAILER_LF: {
      if (b != '\n') {
        why = "bare CR in trailer section";
        goto fail;
      }
      int rv = trailer_line(c, trailers, &why);
      if (rv != 0) {
        err = rv;
        goto fail;
      }
      c->tbuf_len = 0;
      c->state = CS_TRAILER;
      break;
    }
    case CS_END_LF:
      if (b != '\n') {
        why = "bare CR at end of chunked body";
        goto fail;
      }
      c->state = CS_DONE;
      break;
    default:
      why = "chunked decoder in an impossible state";
      goto fail;
    }
    i++;
  }
  *done = c->state == CS_DONE;
  return (ssize_t)i;
fail:
  c->state = CS_ERROR;
  c->err = err;
  c->err_reason = why;
  if (*data) { /* deliver the span; the error comes with the next call */
    *done = 0;
    return (ssize_t)i;
  }
  *data = NULL;
  *data_len = 0;
  *done = 0;
  if (reason) *reason = why;
  return err;
}
