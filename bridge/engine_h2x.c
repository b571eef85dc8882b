/* engine_h2x.c: h2bridge's own HTTP/2 engine (RFC 9113), server or client
 * connection role, with per-stream roles (who opened the stream is its client)
 * and a connection policy for which parities may carry requests (plain HTTP/2:
 * odd, from the client only).  Owns its streams (xs, each embedding an
 * hb_stream), the frame reader and the HPACK contexts (nghttp2's public codec).
 * Flow control carries backpressure exactly like engine_h2: window credit is
 * returned only when the peer leg took the bytes (consumed()).  Worker-local.
 * Spec: RFC 9113 §3.4, §4-§8; RFC 8441 §3-§5; limits: THREATS.md §1a, §1f. */
#include "conn.h"
#include "connector.h"
#include "engine.h"
#include "errors.h"
#include "exchange.h"
#include "h2x_ext.h"
#include "keepalive.h"
#include "h2x_frame.h"
#include "hpack_compat.h"
#include "listener.h"
#include "log.h"
#include "mem.h"
#include "pool.h"
#include "stream.h"
#include "worker.h"

#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- limits ----
 * Every limit a peer can drive has a config key and comes from c->limits
 * (h2_max_continuations, h2_settings_timeout, h2_max_empty_frames,
 * h2_reset_*, h2_glitch_*, h2_max_settings, h2_max_control_frames, h2_ping_*,
 * h2_settings_*, h2_priority_*; defaults as tight as nghttp2 1.52's or
 * tighter).  These constants bound only what we send or remember. */
#define X_MAX_SEND_BLOCK (256 * 1024) /* largest header block we encode (engine_h2's send limit) */
#define X_DEFLATE_TABLE 4096       /* our encoder's dynamic table, whatever the peer allows */
#define X_RESET_RING 128           /* streams we reset recently: their late frames are ignored */

/* Which parities the peer may open request streams with (policy). */
enum { X_POL_ODD = 1, X_POL_EVEN = 2 };

/* HPACK: nghttp2's public codec, through bridge/hpack_compat.h (the only
 * place that knows the libnghttp2 version). */

/* ---- state ---- */

/* Wire state of a stream (RFC 9113 §5.1); idle and reserved are never stored. */
enum xs_state {
  XS_OPEN,        /* both sides may send */
  XS_HALF_LOCAL,  /* we sent END_STREAM */
  XS_HALF_REMOTE, /* the peer sent END_STREAM */
  XS_CLOSED       /* both ended, or reset: waiting for the peer leg to drain rx */
};

typedef struct xs {
  hb_stream s; /* first: hb_stream* <-> xs* */
  struct xs *next, *prev;
  uint32_t id;
  int state;             /* enum xs_state */
  int closed;            /* closed on the wire (state XS_CLOSED) */
  const char *reset_why; /* closed by a reset: the exchange is told this (static) */
  int64_t send_window;   /* what the peer lets us send */
  int64_t recv_window;   /* what the peer may still send */
  size_t recv_unacked;   /* consumed bytes not yet returned by WINDOW_UPDATE */
  int sending;           /* our final head is out and a body follows */
  int head_done;         /* the (final) head was received; later HEADERS are trailers */
  int head_req;          /* client role: we sent a HEAD request */
  int64_t clen;          /* content-length received, -1 none */
  uint64_t data_len;     /* DATA bytes received */
} xs;

/* Header block being received (HEADERS + CONTINUATION). */
enum blk_kind { BLK_REQUEST, BLK_RESPONSE, BLK_TRAILERS, BLK_DISCARD };

typedef struct blk {
  int active;
  uint32_t id;
  int kind;           /* enum blk_kind */
  int end_stream;
  int ncont;
  xs *t;              /* NULL when discarding */
  hb_head *hd;
  unsigned pseudo;    /* pseudo-headers seen (bit per enum hb_pseudo, bit 5 :status) */
  int regular;        /* a regular field was seen */
  const char *malformed;
  int too_large, nomem, host_mismatch;
  size_t bytes, nfields;
  int64_t cl;
  uint32_t stream_err; /* a stream error the frame itself carried (0 none) */
} blk;

typedef struct bucket {
  double tokens, burst, rate;
  ev_tstamp last;
} bucket;

typedef struct h2x {
  hb_conn *c;
  int server;
  unsigned peer_parities;      /* X_POL_*: parities the peer may open request streams with */
  hb_h2x_reader rd;
  nghttp2_hd_inflater *inf;
  nghttp2_hd_deflater *def;
  xs *streams;
  size_t nstreams;             /* allocated */
  size_t nlive_peer, nlive_local; /* open on the wire, by opener */
  uint32_t last_peer_id;       /* highest stream id the peer opened */
  uint32_t next_local_id;
  uint32_t last_local_id;
  int draining, goaway_sent, goaway_received, dead, peer_eof, capacity_changed;
  int drain_notice;            /* server: shutdown notice and PING sent, final GOAWAY on its ACK */
  uint32_t goaway_last_id;     /* from the peer's GOAWAY */
  int fatal;                   /* HB_ERR_NOMEM: close now */
  int remote_settings_seen;
  /* peer settings */
  uint32_t r_max_streams, r_max_frame, r_max_header_list;
  int64_t r_iw;
  int r_connect_protocol;
  /* ours */
  int local_connect_protocol;
  int64_t local_iw;            /* the stream window the peer may use now */
  int settings_unacked;
  int64_t conn_send_window, conn_recv_window, conn_target;
  size_t conn_unacked;
  blk b;
  bucket rst, glitch, ping_b, settings_b, prio_b;
  int empty_frames;
  size_t ctrl_pending;
  int read_blocked;
  uint32_t reset_ring[X_RESET_RING];
  size_t ring_pos;
  ev_timer settings_timer;
  hb_keepalive ka;             /* PING keepalive (ping_interval; always for origins) */
  hb_h2x_ext_state *ext;       /* owned; the listener's h2x extensions, NULL: none */
} h2x;

static h2x *H(hb_conn *c) { return c->engine_data; }
static xs *S(hb_stream *s) { return (xs *)(void *)s; }

static const char *xs_state_str(int st) {
  static const char *const n[] = {"open", "half-closed(local)", "half-closed(remote)", "closed"};
  return st >= 0 && st <= XS_CLOSED ? n[st] : "?";
}

/* ---- token buckets ---- */

static void bucket_init(h2x *h, bucket *b, double burst, double rate) {
  b->tokens = b->burst = burst;
  b->rate = rate;
  b->last = ev_now(h->c->w->loop);
}

/* Takes one token; 0 when the bucket is empty (the limit is exceeded). */
static int bucket_take(h2x *h, bucket *b) {
  ev_tstamp now = ev_now(h->c->w->loop);
  b->tokens += (now - b->last) * b->rate;
  if (b->tokens > b->burst) b->tokens = b->burst;
  b->last = now;
  if (b->tokens < 1) return 0;
  b->tokens -= 1;
  return 1;
}

/* ---- output ---- */

static void out(h2x *h, const uint8_t *buf, ssize_t len, int ctrl) {
  if (len < 0) {
    h->fatal = HB_ERR_INVALID;
    return;
  }
  if (hb_conn_write(h->c, buf, (size_t)len) != 0) h->fatal = HB_ERR_NOMEM;
  if (ctrl) h->ctrl_pending++;
  hb_conn_want_flush(h->c);
}

static int out_full(const h2x *h) {
  return hb_conn_out_space(h->c) == 0 || h->ctrl_pending > h->c->limits->h2_max_control_frames;
}

/* A GOAWAY naming the last stream the peer opened: after it no new stream
 * of the peer is served. */
static void send_goaway(h2x *h, uint32_t code, const char *debug) {
  uint8_t buf[9 + 8 + 128];
  size_t dl = debug ? HB_MIN(strlen(debug), 128) : 0;
  out(h, buf, hb_h2x_pack_goaway(buf, sizeof(buf), h->last_peer_id, code, (const uint8_t *)debug, dl), 1);
  h->goaway_sent = 1;
  h->drain_notice = 0;
}

/* Graceful drain of a server connection, RFC 9113 §6.8 in two steps: a
 * GOAWAY with the largest stream id (the shutdown notice) and a PING; the
 * PING's ACK proves the client has seen the notice and that every stream it
 * opened before has arrived, so the final GOAWAY names them all. */
static const uint8_t drain_ping[8] = {'h', '2', 'b', 'd', 'r', 'a', 'i', 'n'};

static void send_drain_notice(h2x *h) {
  uint8_t buf[9 + 8];
  out(h, buf, hb_h2x_pack_goaway(buf, sizeof(buf), HB_H2X_STREAM_ID_MASK, HB_H2X_NO_ERROR, NULL, 0), 1);
  out(h, buf, hb_h2x_pack_ping(buf, sizeof(buf), 0, drain_ping), 1);
  h->drain_notice = 1;
}

/* A connection error (§5.4.1): GOAWAY, then close once it is written. */
static void conn_error(h2x *h, uint32_t code, const char *reason) {
  if (h->dead) return;
  hb_log_info(h->c->id, -1, "HTTP/2 connection error %s: %s", hb_h2x_error_str(code), reason ? reason : "");
  send_goaway(h, code, reason);
  h->dead = 1;
  /* The conn closes from the flush once streams that completed before the
   * error have handed over their bytes (see x_flush). */
  hb_conn_pause_read(h->c);
  hb_conn_want_flush(h->c);
}

static void send_rst(h2x *h, uint32_t id, uint32_t code) {
  uint8_t buf[13];
  out(h, buf, hb_h2x_pack_rst_stream(buf, sizeof(buf), id, code), 1);
  h->reset_ring[h->ring_pos++ % X_RESET_RING] = id;
}

static int recently_reset(const h2x *h, uint32_t id) {
  for (size_t i = 0; i < X_RESET_RING; i++)
    if (h->reset_ring[i] == id) return 1;
  return 0;
}

static void send_window_update(h2x *h, uint32_t id, uint32_t inc) {
  uint8_t buf[13];
  if (inc == 0) return;
  out(h, buf, hb_h2x_pack_window_update(buf, sizeof(buf), id, inc), 1);
}

/* A problem we have to answer (MadeYouReset, CVE-2025-8671): too many end
 * the connection.  Returns 0 when the connection died. */
static int glitch(h2x *h) {
  if (bucket_take(h, &h->glitch)) return 1;
  conn_error(h, HB_H2X_ENHANCE_YOUR_CALM, "too many stream errors");
  return 0;
}

/* ---- streams ---- */

static void link_stream(h2x *h, xs *t) {
  t->next = h->streams;
  if (h->streams) h->streams->prev = t;
  h->streams = t;
  h->nstreams++;
  hb_conn_set_timer(h->c, 0);
}

static void free_stream(h2x *h, xs *t) {
  if (t->prev) t->prev->next = t->next;
  else h->streams = t->next;
  if (t->next) t->next->prev = t->prev;
  h->nstreams--;
  if (!t->closed) {
    if (t->s.role == HB_STREAM_SERVER) h->nlive_peer--;
    else h->nlive_local--;
  }
  hb_stream_clear(&t->s);
  hb_free(t);
  h->capacity_changed = 1;
  if (h->nstreams == 0 && !h->draining) hb_conn_arm_idle(h->c);
}

static xs *stream_new(h2x *h, uint32_t id, int role) {
  xs *t = hb_calloc(1, sizeof(*t));
  if (!t) return NULL;
  /* Our window bounds what the peer may send, so rx never holds more. */
  hb_stream_init(&t->s, h->c, id, role, (size_t)h->c->limits->stream_window);
  t->id = id;
  t->state = XS_OPEN;
  t->send_window = h->r_iw;
  t->recv_window = h->local_iw;
  t->clen = -1;
  if (role == HB_STREAM_SERVER) h->nlive_peer++;
  else h->nlive_local++;
  link_stream(h, t);
  return t;
}

static xs *find_stream(h2x *h, uint32_t id) {
  for (xs *t = h->streams; t; t = t->next)
    if (t->id == id) return t;
  return NULL;
}

/* Whether |id| was opened by us (by parity and role). */
static int local_parity(const h2x *h, uint32_t id) { return (id & 1) == (h->server ? 0u : 1u); }

/* Idle (§5.1): never opened by the side its parity belongs to. */
static int is_idle(const h2x *h, uint32_t id) {
  return local_parity(h, id) ? id > h->last_local_id : id > h->last_peer_id;
}

/* The stream is closed on the wire; |why| NULL is a clean close.  The
 * exchange hears of it from the next flush (never under a caller). */
static void stream_closed(h2x *h, xs *t, const char *why) {
  if (t->closed) return;
  t->closed = 1;
  t->state = XS_CLOSED;
  t->reset_why = why;
  if (t->s.role == HB_STREAM_SERVER) h->nlive_peer--;
  else h->nlive_local--;
  h->capacity_changed = 1;
  hb_conn_want_flush(h->c);
}

/* A stream error (§5.4.2) we detected. */
static void stream_error(h2x *h, xs *t, uint32_t id, uint32_t code, const char *reason) {
  hb_log_debug(h->c->id, id, "stream error %s in state %s: %s", hb_h2x_error_str(code),
               t ? xs_state_str(t->state) : "closed", reason);
  if (!glitch(h)) return;
  send_rst(h, id, code);
  if (t) stream_closed(h, t, "stream reset (protocol error)");
}

static void on_end_received(h2x *h, xs *t) {
  t->s.rx_eof = 1;
  if (t->state == XS_OPEN) t->state = XS_HALF_REMOTE;
  else if (t->state == XS_HALF_LOCAL) stream_closed(h, t, NULL);
}

static void on_end_sent(h2x *h, xs *t) {
  t->sending = 0;
  if (t->state == XS_OPEN) {
    t->state = XS_HALF_LOCAL;
    if (t->s.role == HB_STREAM_SERVER && !t->s.rx_eof && !t->s.tunnel) {
      /* RFC 9113 §8.1: the response is complete; the client may stop
       * sending the rest of its request (same as engine_h2). */
      send_rst(h, t->id, HB_H2X_NO_ERROR);
      stream_closed(h, t, "stream closed early");
    }
  } else if (t->state == XS_HALF_REMOTE) {
    stream_closed(h, t, NULL);
  }
}

/* |n| received bytes are no longer held: return them to the peer's windows,
 * in batches of half a window (the WINDOW_UPDATE strategy). */
static void give_credit(h2x *h, xs *t, size_t n) {
  if (h->dead) return;
  h->conn_unacked += n;
  if ((int64_t)h->conn_unacked >= h->conn_target / 2) {
    h->conn_recv_window += (int64_t)h->conn_unacked;
    send_window_update(h, 0, (uint32_t)h->conn_unacked);
    h->conn_unacked = 0;
  }
  if (!t || t->closed || t->state == XS_HALF_REMOTE || t->s.rx_eof) return;
  t->recv_unacked += n;
  if ((int64_t)t->recv_unacked >= h->local_iw / 2) {
    t->recv_window += (int64_t)t->recv_unacked;
    send_window_update(h, t->id, (uint32_t)t->recv_unacked);
    t->recv_unacked = 0;
  }
}

/* ---- header blocks ---- */

#define MKNV(n, v, nl, vl) ((nghttp2_nv){(uint8_t *)(n), (uint8_t *)(v), (nl), (vl), NGHTTP2_NV_FLAG_NONE})

/* Encodes |nva| and queues it as HEADERS (+ CONTINUATION).  0 or HB_ERR_*;
 * after an encoding error the HPACK state is unknown: the connection ends. */
static int send_header_block(h2x *h, uint32_t id, const nghttp2_nv *nva, size_t n, int end_stream) {
  size_t bound = hb_hpack_bound(h->def, nva, n);
  if (bound > X_MAX_SEND_BLOCK) return HB_ERR_TOO_LARGE;
  uint8_t *blkbuf = hb_malloc(bound ? bound : 1);
  if (!blkbuf) return HB_ERR_NOMEM;
  ssize_t bl = hb_hpack_deflate(h->def, blkbuf, bound, nva, n);
  if (bl < 0) {
    hb_free(blkbuf);
    conn_error(h, HB_H2X_INTERNAL_ERROR, "HPACK encoding failed");
    return HB_ERR_PROTO;
  }
  hb_h2x_block_hd bh = {.ex = 0, .stream_id = id, .flags = end_stream ? HB_H2X_FLAG_END_STREAM : 0};
  size_t sz = hb_h2x_header_block_size(&bh, (size_t)bl, h->r_max_frame);
  uint8_t *fb = sz ? hb_malloc(sz) : NULL;
  if (!fb) {
    hb_free(blkbuf);
    h->fatal = HB_ERR_NOMEM; /* the encoder's state moved: we cannot skip this block */
    return HB_ERR_NOMEM;
  }
  ssize_t w = hb_h2x_pack_header_block(fb, sz, &bh, blkbuf, (size_t)bl, h->r_max_frame);
  out(h, fb, w, 0);
  hb_free(fb);
  hb_free(blkbuf);
  return w < 0 ? HB_ERR_INVALID : 0;
}

static int is_conn_specific_out(const hb_field *f) {
  static const char *const names[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                      "upgrade", "host", "http2-settings"};
  for (size_t i = 0; i < HB_ARRAY_LEN(names); i++)
    if (strcmp(f->name, names[i]) == 0) return 1;
  if (strcmp(f->name, "te") == 0 && strcasecmp(f->value, "trailers") != 0) return 1;
  return 0;
}

static ssize_t fields_nv(const hb_head *head, nghttp2_nv *nva, size_t cap, size_t n, char *cl, size_t cllen,
                         int want_cl) {
  for (size_t i = 0; i < head->nfields; i++) {
    const hb_field *f = &head->fields[i];
    if (is_conn_specific_out(f) || strcmp(f->name, "content-length") == 0) continue;
    if (n == cap) return -1;
    nva[n++] = MKNV(f->name, f->value, f->namelen, f->valuelen);
  }
  if (want_cl && head->content_length >= 0) {
    if (n == cap) return -1;
    int k = snprintf(cl, cllen, "%lld", (long long)head->content_length);
    nva[n++] = MKNV("content-length", cl, 14, (size_t)k);
  }
  return (ssize_t)n;
}

static int tchar(unsigned char ch) {
  if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) return 1;
  return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* RFC 9113 §8.2.1: no NUL, CR, LF; no leading or trailing SP/HTAB. */
static int valid_value(const uint8_t *v, size_t len) {
  if (len > 0 && (v[0] == ' ' || v[0] == '\t' || v[len - 1] == ' ' || v[len - 1] == '\t')) return 0;
  for (size_t i = 0; i < len; i++)
    if (v[i] == 0 || v[i] == '\r' || v[i] == '\n') return 0;
  return 1;
}

static int valid_token(const uint8_t *v, size_t len) {
  if (len == 0) return 0;
  for (size_t i = 0; i < len; i++)
    if (!tchar(v[i]) && !(v[i] >= 'A' && v[i] <= 'Z')) return 0;
  return 1;
}

static int valid_scheme(const uint8_t *v, size_t len) {
  if (len == 0 || !((v[0] | 0x20) >= 'a' && (v[0] | 0x20) <= 'z')) return 0;
  for (size_t i = 1; i < len; i++) {
    unsigned char ch = v[i];
    if (!(((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' ||
          ch == '.'))
      return 0;
  }
  return 1;
}

static int valid_authority(const uint8_t *v, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = v[i];
    if (ch <= 0x20 || ch >= 0x7f || strchr("\"<>\\^`{|}/?#", ch)) return 0;
  }
  return 1;
}

static int valid_path(const uint8_t *v, size_t len) {
  if (len == 0) return 0;
  for (size_t i = 0; i < len; i++)
    if (v[i] <= 0x20 || v[i] == 0x7f) return 0;
  return 1;
}

#define PSEUDO_STATUS 5

static void blk_malformed(blk *b, const char *why) {
  if (!b->malformed) b->malformed = why;
}

/* One decoded field of the block being received. */
static void on_field(h2x *h, blk *b, const uint8_t *name, size_t nlen, const uint8_t *value, size_t vlen) {
  if (b->kind == BLK_DISCARD || b->nomem) return;
  const hb_limits *lim = h->c->limits;
  b->nfields++;
  b->bytes += nlen + vlen + 32;
  if (b->nfields > lim->header_fields || b->bytes > lim->header_bytes) {
    b->too_large = 1;
    return;
  }
  if (b->too_large) return;
  hb_head *hd = b->hd;
  const char *n = (const char *)name, *v = (const char *)value;
  if (nlen == 0) {
    blk_malformed(b, "empty header name");
    return;
  }
  if (name[0] == ':') {
    if (b->regular) {
      blk_malformed(b, "pseudo-header after a regular field");
      return;
    }
    if (b->kind == BLK_TRAILERS) {
      blk_malformed(b, "pseudo-header in trailers");
      return;
    }
    int which = -1;
    if (b->kind == BLK_REQUEST) {
      if (nlen == 7 && memcmp(n, ":method", 7) == 0) which = HB_PSEUDO_METHOD;
      else if (nlen == 7 && memcmp(n, ":scheme", 7) == 0) which = HB_PSEUDO_SCHEME;
      else if (nlen == 10 && memcmp(n, ":authority", 10) == 0) which = HB_PSEUDO_AUTHORITY;
      else if (nlen == 5 && memcmp(n, ":path", 5) == 0) which = HB_PSEUDO_PATH;
      else if (nlen == 9 && memcmp(n, ":protocol", 9) == 0) which = HB_PSEUDO_PROTOCOL;
    } else if (nlen == 7 && memcmp(n, ":status", 7) == 0) {
      which = PSEUDO_STATUS;
    }
    if (which < 0) {
      blk_malformed(b, "unknown pseudo-header");
      return;
    }
    if (b->pseudo & (1u << which)) {
      blk_malformed(b, "duplicate pseudo-header");
      return;
    }
    b->pseudo |= 1u << which;
    int ok = 1;
    switch (which) {
    case HB_PSEUDO_METHOD: ok = valid_token(value, vlen); break;
    case HB_PSEUDO_SCHEME: ok = valid_scheme(value, vlen); break;
    case HB_PSEUDO_AUTHORITY: ok = valid_authority(value, vlen); break;
    case HB_PSEUDO_PATH: ok = valid_path(value, vlen); break;
    case HB_PSEUDO_PROTOCOL: ok = vlen > 0 && valid_value(value, vlen); break;
    default:
      ok = vlen == 3 && value[0] >= '1' && value[0] <= '9' && value[1] >= '0' && value[1] <= '9' &&
           value[2] >= '0' && value[2] <= '9';
    }
    if (!ok) {
      blk_malformed(b, "invalid pseudo-header value");
      return;
    }
    if (which == PSEUDO_STATUS) {
      hd->status = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
      return;
    }
    if (hb_head_set_pseudo(hd, (enum hb_pseudo)which, v, vlen) != 0) b->nomem = 1;
    return;
  }
  b->regular = 1;
  for (size_t i = 0; i < nlen; i++)
    if (!tchar(name[i])) {
      blk_malformed(b, "invalid header name");
      return;
    }
  if (!valid_value(value, vlen)) {
    blk_malformed(b, "invalid header value");
    return;
  }
  switch (nlen) {
  case 2:
    if (memcmp(n, "te", 2) == 0 && !(vlen == 8 && strncasecmp(v, "trailers", 8) == 0)) {
      blk_malformed(b, "te other than trailers");
      return;
    }
    break;
  case 4:
    if (memcmp(n, "host", 4) == 0 && b->kind == BLK_REQUEST && h->server) {
      /* RFC 9113 §8.3.1, as engine_h2: Host stands for a missing :authority;
       * one naming another entity makes the request malformed. */
      if (!hd->authority) {
        if (!valid_authority(value, vlen)) {
          blk_malformed(b, "invalid host");
          return;
        }
        if (hb_head_set_pseudo(hd, HB_PSEUDO_AUTHORITY, v, vlen) != 0) b->nomem = 1;
      } else if (strlen(hd->authority) != vlen || strncasecmp(hd->authority, v, vlen) != 0) {
        b->host_mismatch = 1;
      }
      return;
    }
    break;
  case 7:
    if (memcmp(n, "upgrade", 7) == 0) {
      blk_malformed(b, "connection-specific field");
      return;
    }
    break;
  case 10:
    if (memcmp(n, "connection", 10) == 0 || memcmp(n, "keep-alive", 10) == 0) {
      blk_malformed(b, "connection-specific field");
      return;
    }
    break;
  case 14:
    if (memcmp(n, "content-length", 14) == 0) {
      if (b->cl >= 0) {
        blk_malformed(b, "duplicate content-length");
        return;
      }
      if (vlen == 0 || vlen > 18) {
        blk_malformed(b, "invalid content-length");
        return;
      }
      int64_t cl = 0;
      for (size_t i = 0; i < vlen; i++) {
        if (value[i] < '0' || value[i] > '9') {
          blk_malformed(b, "invalid content-length");
          return;
        }
        cl = cl * 10 + (value[i] - '0');
      }
      b->cl = cl;
      if (b->kind != BLK_TRAILERS) hd->content_length = cl;
    }
    break;
  case 16:
    if (memcmp(n, "proxy-connection", 16) == 0) {
      blk_malformed(b, "connection-specific field");
      return;
    }
    break;
  case 17:
    if (memcmp(n, "transfer-encoding", 17) == 0) {
      blk_malformed(b, "connection-specific field");
      return;
    }
    break;
  default:
    break;
  }
  if (hb_head_add(hd, n, nlen, v, vlen) != 0) b->nomem = 1;
}

static void answer_local(h2x *h, xs *t, int status, const char *msg);

/* Checks a finished request head (RFC 9113 §8.3.1, RFC 8441 §4). */
static const char *check_request(h2x *h, blk *b) {
  hb_head *hd = b->hd;
  unsigned need_all = (1u << HB_PSEUDO_METHOD) | (1u << HB_PSEUDO_SCHEME) | (1u << HB_PSEUDO_PATH);
  if (!(b->pseudo & (1u << HB_PSEUDO_METHOD))) return "missing :method";
  int connect = strcmp(hd->method, "CONNECT") == 0;
  if (b->pseudo & (1u << HB_PSEUDO_PROTOCOL)) {
    if (!connect) return ":protocol without CONNECT";
    if (!h->local_connect_protocol) return ":protocol not enabled";
    if ((b->pseudo & need_all) != need_all || !(b->pseudo & (1u << HB_PSEUDO_AUTHORITY)))
      return "extended CONNECT without :scheme, :path or :authority";
  } else if (connect) {
    if (b->pseudo & ((1u << HB_PSEUDO_SCHEME) | (1u << HB_PSEUDO_PATH))) return "CONNECT with :scheme or :path";
    if (!(b->pseudo & (1u << HB_PSEUDO_AUTHORITY))) return "CONNECT without :authority";
  } else {
    if ((b->pseudo & need_all) != need_all) return "missing :scheme or :path";
    if (strcmp(hd->path, "*") == 0) {
      if (strcmp(hd->method, "OPTIONS") != 0) return ":path * outside OPTIONS";
    } else if (hd->path[0] != '/' &&
               (strcasecmp(hd->scheme, "http") == 0 || strcasecmp(hd->scheme, "https") == 0)) {
      return ":path not absolute";
    }
  }
  return NULL;
}

/* Content-length against the DATA received, at the end (RFC 9113 §8.1.1). */
static int clen_mismatch(const xs *t) {
  if (t->clen < 0) return 0;
  if (t->s.role == HB_STREAM_CLIENT &&
      (t->head_req || t->s.head.status == 304 || t->s.head.status == 204 || t->s.tunnel))
    return 0;
  return (uint64_t)t->clen != t->data_len;
}

static void end_block(h2x *h) {
  blk *b = &h->b;
  b->active = 0;
  xs *t = b->t;
  if (b->kind == BLK_DISCARD || !t) return;
  if (b->nomem) {
    stream_error(h, t, t->id, HB_H2X_INTERNAL_ERROR, "out of memory");
    return;
  }
  if (b->stream_err) {
    stream_error(h, t, t->id, b->stream_err, "invalid HEADERS");
    return;
  }
  switch (b->kind) {
  case BLK_REQUEST: {
    const char *why = b->malformed ? b->malformed : b->too_large ? NULL : check_request(h, b);
    if (why) {
      stream_error(h, t, t->id, HB_H2X_PROTOCOL_ERROR, why);
      return;
    }
    t->clen = b->cl;
    t->head_done = 1;
    t->s.head_received = 1;
    if (b->end_stream) {
      if (t->clen > 0) {
        stream_error(h, t, t->id, HB_H2X_PROTOCOL_ERROR, "content-length without body");
        return;
      }
      on_end_received(h, t);
    }
    if (t->s.head.protocol) t->s.tunnel = 1; /* RFC 8441 extended CONNECT */
    if (b->too_large) {
      answer_local(h, t, 431, "request header fields too large");
      return;
    }
    if (b->host_mismatch) {
      answer_local(h, t, 400, "Host differs from :authority");
      return;
    }
    hb_exchange_on_request(&t->s);
    return;
  }
  case BLK_RESPONSE: {
    const char *why = b->malformed;
    if (!why && b->too_large) why = "response header too large";
    if (!why && !(b->pseudo & (1u << PSEUDO_STATUS))) why = "missing :status";
    int st = t->s.head.status;
    if (!why && st == 101) why = "status 101 in HTTP/2";
    int info = st >= 100 && st < 200;
    if (!why && info && b->end_stream) why = "END_STREAM on an informational response";
    if (why) {
      stream_error(h, t, t->id, HB_H2X_PROTOCOL_ERROR, why);
      return;
    }
    if (info) {
      if (t->s.x) hb_exchange_on_head(&t->s);
      hb_head_free(&t->s.head);
      hb_head_init(&t->s.head, 0);
      return;
    }
    t->clen = b->cl;
    t->head_done = 1;
    t->s.head_received = 1;
    if (t->s.tunnel && st / 100 != 2) t->s.tunnel = 0; /* refused */
    if (b->end_stream) {
      if (clen_mismatch(t)) {
        stream_error(h, t, t->id, HB_H2X_PROTOCOL_ERROR, "content-length without body");
        return;
      }
      on_end_received(h, t);
    }
    if (t->s.x) hb_exchange_on_head(&t->s);
    return;
  }
  case BLK_TRAILERS: {
    const char *why = b->malformed;
    if (!why && !b->end_stream) why = "trailers without END_STREAM";
    if (!why && b->too_large) why = "trailers too large";
    if (!why && clen_mismatch(t)) why = "content-length does not match DATA";
    if (why) {
      stream_error(h, t, t->id, HB_H2X_PROTOCOL_ERROR, why);
      return;
    }
    on_end_received(h, t);
    if (t->s.x) hb_exchange_on_data(&t->s);
    return;
  }
  default:
    return;
  }
}

/* Feeds a fragment to the inflater (always, to keep HPACK in sync). */
static void feed_block(h2x *h, const uint8_t *in, size_t len, int final) {
  blk *b = &h->b;
  for (;;) {
    nghttp2_nv nv;
    int fl = 0;
    ssize_t rv = hb_hpack_inflate(h->inf, &nv, &fl, in, len, final);
    if (rv < 0) {
      conn_error(h, HB_H2X_COMPRESSION_ERROR, "HPACK decoding failed");
      return;
    }
    in += rv;
    len -= (size_t)rv;
    if (fl & NGHTTP2_HD_INFLATE_EMIT) on_field(h, b, nv.name, nv.namelen, nv.value, nv.valuelen);
    if (fl & NGHTTP2_HD_INFLATE_FINAL) {
      nghttp2_hd_inflate_end_headers(h->inf);
      break;
    }
    if (!(fl & NGHTTP2_HD_INFLATE_EMIT) && len == 0) break;
  }
  if (final) end_block(h);
}

static void begin_block(h2x *h, uint32_t id, int kind, xs *t, int end_stream) {
  blk *b = &h->b;
  memset(b, 0, sizeof(*b));
  b->active = 1;
  b->id = id;
  b->kind = t ? kind : BLK_DISCARD;
  b->t = t;
  b->end_stream = end_stream;
  b->cl = -1;
  if (!t) return;
  if (kind == BLK_TRAILERS) {
    if (!t->s.trailers) {
      t->s.trailers = hb_malloc(sizeof(hb_head));
      if (!t->s.trailers) {
        b->nomem = 1;
        return;
      }
      hb_head_init(t->s.trailers, 0);
    }
    b->hd = t->s.trailers;
  } else {
    if (kind == BLK_RESPONSE) {
      hb_head_free(&t->s.head);
      hb_head_init(&t->s.head, 0);
    }
    b->hd = &t->s.head;
  }
}

/* ---- frame handlers ---- */

static int empty_frame(h2x *h, size_t len, int ends) {
  if (len > 0 || ends) {
    h->empty_frames = 0;
    return 1;
  }
  if ((uint64_t)++h->empty_frames <= h->c->limits->h2_max_empty_frames) return 1;
  conn_error(h, HB_H2X_ENHANCE_YOUR_CALM, "too many empty frames");
  return 0;
}

static void on_data(h2x *h, const hb_h2x_frame *f) {
  uint32_t id = f->hd.stream_id;
  size_t flen = f->hd.length; /* padding counts for flow control */
  int end = (f->hd.flags & HB_H2X_FLAG_END_STREAM) != 0;
  if (is_idle(h, id)) {
    conn_error(h, HB_H2X_PROTOCOL_ERROR, "DATA on an idle stream");
    return;
  }
  if ((int64_t)flen > h->conn_recv_window) {
    conn_error(h, HB_H2X_FLOW_CONTROL_ERROR, "DATA beyond the connection window");
    return;
  }
  h->conn_recv_window -= (int64_t)flen;
  if (!empty_frame(h, f->u.data.len, end)) return;
  xs *t = find_stream(h, id);
  if (!t || t->closed || t->state == XS_HALF_REMOTE) {
    give_credit(h, NULL, flen);
    if (recently_reset(h, id)) return; /* we reset it: frames in flight are expected */
    stream_error(h, t, id, HB_H2X_STREAM_CLOSED, "DATA on a closed stream");
    return;
  }
  if (!t->head_done) {
    give_credit(h, NULL, flen);
    stream_error(h, t, id, HB_H2X_PROTOCOL_ERROR, "DATA before HEADERS");
    return;
  }
  if ((int64_t)flen > t->recv_window) {
    give_credit(h, NULL, flen);
    stream_error(h, t, id, HB_H2X_FLOW_CONTROL_ERROR, "DATA beyond the stream window");
    return;
  }
  t->recv_window -= (int64_t)flen;
  size_t len = f->u.data.len;
  if (flen > len) give_credit(h, t, flen - len); /* padding: nobody holds it */
  t->data_len += len;
  if (t->clen >= 0 && t->data_len > (uint64_t)t->clen && !(t->s.role == HB_STREAM_CLIENT && t->head_req)) {
    give_credit(h, NULL, len);
    stream_error(h, t, id, HB_H2X_PROTOCOL_ERROR, "DATA beyond content-length");
    return;
  }
  if (end && clen_mismatch(t)) {
    give_credit(h, NULL, len);
    stream_error(h, t, id, HB_H2X_PROTOCOL_ERROR, "content-length does not match DATA");
    return;
  }
  hb_stream *p = hb_stream_peer(&t->s);
  if (len > 0) {
    if (!t->s.x || (t->s.role == HB_STREAM_SERVER && p && !p->conn)) {
      /* Nobody will read it (or a local answer ignores it). */
      give_credit(h, t, len);
    } else {
      if (hb_bufq_write_force(&t->s.rx, f->u.data.data, len) != (ssize_t)len) {
        h->fatal = HB_ERR_NOMEM;
        return;
      }
      t->s.bytes_in += len;
    }
  }
  if (end) on_end_received(h, t);
  if (t->s.x) hb_exchange_on_data(&t->s);
}

/* The first frame of a header block: HEADERS, or an extension frame that
 * carries one (same stream-state, CONTINUATION and size rules, same HPACK
 * context).  |use| says what an extension's block is for: REQUEST may open a
 * peer's stream (as HEADERS may), STREAM only continues an existing one,
 * DISCARD only decodes.  |what| names the frame in errors. */
static void header_block(h2x *h, uint32_t id, uint8_t flags, const uint8_t *block, size_t blen,
                         const hb_h2x_error *perr, int use, const char *what) {
  int end = (flags & HB_H2X_FLAG_END_STREAM) != 0;
  int end_headers = (flags & HB_H2X_FLAG_END_HEADERS) != 0;
  xs *t = find_stream(h, id);
  int kind = BLK_DISCARD;
  xs *target = NULL;
  char why[96];
  if (!empty_frame(h, blen, end || end_headers)) return;
  if (use == HB_H2X_USE_DISCARD) {
    /* decoded for HPACK only */
  } else if (t && !t->closed) {
    if (t->state == XS_HALF_REMOTE) {
      snprintf(why, sizeof(why), "%s on a half-closed stream", what);
      stream_error(h, t, id, HB_H2X_STREAM_CLOSED, why);
    } else if (t->head_done) {
      kind = BLK_TRAILERS;
      target = t;
    } else if (t->s.role == HB_STREAM_CLIENT) {
      kind = BLK_RESPONSE;
      target = t;
    }
  } else if (!is_idle(h, id)) {
    if (recently_reset(h, id)) {
      /* we reset it: the peer's frames in flight are decoded and dropped */
    } else if (t || local_parity(h, id)) {
      /* §5.1 closed: one of ours (already forgotten) or a peer's we still know */
      snprintf(why, sizeof(why), "%s on a closed stream", what);
      conn_error(h, HB_H2X_STREAM_CLOSED, why);
      return;
    } else {
      /* §5.1.1: a new stream id must exceed every id the peer used */
      snprintf(why, sizeof(why), "%s with a stream id not above the last one", what);
      conn_error(h, HB_H2X_PROTOCOL_ERROR, why);
      return;
    }
  } else if (local_parity(h, id)) {
    snprintf(why, sizeof(why), "%s on an idle stream of ours", what);
    conn_error(h, HB_H2X_PROTOCOL_ERROR, why);
    return;
  } else if (use != HB_H2X_USE_REQUEST) {
    snprintf(why, sizeof(why), "%s on an idle stream", what);
    conn_error(h, HB_H2X_PROTOCOL_ERROR, why);
    return;
  } else if (!(h->peer_parities & ((id & 1) ? X_POL_ODD : X_POL_EVEN))) {
    conn_error(h, HB_H2X_PROTOCOL_ERROR, "request stream with a parity not allowed");
    return;
  } else {
    h->last_peer_id = id;
    if (h->goaway_sent) {
      /* after our GOAWAY: ignored (§6.8), decoded for HPACK */
    } else if (h->nlive_peer >= h->c->limits->max_streams) {
      if (glitch(h)) send_rst(h, id, HB_H2X_REFUSED_STREAM);
    } else {
      target = stream_new(h, id, HB_STREAM_SERVER);
      if (!target) {
        h->fatal = HB_ERR_NOMEM;
        return;
      }
      kind = BLK_REQUEST;
    }
  }
  if (h->dead) return;
  begin_block(h, id, kind, target, end);
  if (perr) h->b.stream_err = perr->code;
  feed_block(h, block, blen, end_headers);
}

static void on_headers(h2x *h, const hb_h2x_frame *f, const hb_h2x_error *perr) {
  header_block(h, f->hd.stream_id, f->hd.flags, f->u.headers.block, f->u.headers.len, perr, HB_H2X_USE_REQUEST,
               "HEADERS");
}

static void on_continuation(h2x *h, const hb_h2x_frame *f) {
  blk *b = &h->b;
  int end_headers = (f->hd.flags & HB_H2X_FLAG_END_HEADERS) != 0;
  if (!b->active || f->hd.stream_id != b->id) {
    conn_error(h, HB_H2X_PROTOCOL_ERROR, "unexpected CONTINUATION");
    return;
  }
  if ((uint64_t)++b->ncont > h->c->limits->h2_max_continuations) {
    conn_error(h, HB_H2X_ENHANCE_YOUR_CALM, "too many CONTINUATION frames");
    return;
  }
  if (!empty_frame(h, f->u.continuation.len, end_headers)) return;
  feed_block(h, f->u.continuation.block, f->u.continuation.len, end_headers);
}

static void on_rst_stream(h2x *h, const hb_h2x_frame *f) {
  uint32_t id = f->hd.stream_id;
  if (is_idle(h, id)) {
    conn_error(h, HB_H2X_PROTOCOL_ERROR, "RST_STREAM on an idle stream");
    return;
  }
  xs *t = find_stream(h, id);
  if (!t || t->closed) return;
  uint32_t code = f->u.rst_stream_code;
  if (t->s.role == HB_STREAM_SERVER && !bucket_take(h, &h->rst)) {
    conn_error(h, HB_H2X_ENHANCE_YOUR_CALM, "too many stream resets");
    return;
  }
  /* RST_STREAM(NO_ERROR) after the peer's END_STREAM only says "stop
   * sending" (§8.1): what it sent is complete and is delivered. */
  if (code == HB_H2X_NO_ERROR && t->s.rx_eof) {
    stream_closed(h, t, NULL);
    return;
  }
  hb_log_debug(h->c->id, id, "stream reset by peer (%s)", hb_h2x_error_str(code));
  stream_closed(h, t, code == HB_H2X_NO_ERROR ? "stream closed early"
                      : code == HB_H2X_CANCEL ? "stream cancelled"
                      : code == HB_H2X_REFUSED_STREAM ? hb_stream_refused
                      : "stream reset");
}

static void on_settings(h2x *h, const hb_h2x_frame *f) {
  if (f->u.settings.ack) {
    if (!h->settings_unacked) {
      glitch(h);
      return;
    }
    h->settings_unacked = 0;
    ev_timer_stop(h->c->w->loop, &h->settings_timer);
    int64_t want = (int64_t)h->c->limits->stream_window;
    if (want != h->local_iw) {
      int64_t delta = want - h->local_iw;
      for (xs *t = h->streams; t; t = t->next) t->recv_window += delta;
      h->local_iw = want;
    }
    return;
  }
  if (h->remote_settings_seen && !bucket_take(h, &h->settings_b)) {
    conn_error(h, HB_H2X_ENHANCE_YOUR_CALM, "too many SETTINGS");
    return;
  }
  for (size_t i = 0; i < f->u.settings.count; i++) {
    hb_h2x_setting e;
    hb_h2x_settings_get(&f->u.settings, i, &e);
    switch (e.id) {
    case HB_H2X_SETTINGS_HEADER_TABLE_SIZE:
      if (nghttp2_hd_deflate_change_table_size(h->def, e.value) != 0) h->fatal = HB_ERR_NOMEM;
      break;
    case HB_H2X_SETTINGS_ENABLE_PUSH:
      if (!h->server && e.value == 1) {
        conn_error(h, HB_H2X_PROTOCOL_ERROR, "ENABLE_PUSH from a server");
        return;
      }
      break;
    case HB_H2X_SETTINGS_MAX_CONCURRENT_STREAMS:
      h->r_max_streams = e.value;
      h->capacity_changed = 1;
      break;
    case HB_H2X_SETTINGS_INITIAL_WINDOW_SIZE: {
      int64_t delta = (int64_t)e.value - h->r_iw;
      for (xs *t = h->streams; t; t = t->next) {
        if (t->closed) continue;
        if (t->send_window + delta > (int64_t)HB_H2X_MAX_WINDOW) {
          conn_error(h, HB_H2X_FLOW_CONTROL_ERROR, "INITIAL_WINDOW_SIZE overflows a window");
          return;
        }
        t->send_window += delta;
      }
      h->r_iw = e.value;
      break;
    }
    case HB_H2X_SETTINGS_MAX_FRAME_SIZE: h->r_max_frame = e.value; break;
    case HB_H2X_SETTINGS_MAX_HEADER_LIST_SIZE: h->r_max_header_list = e.value; break;
    case HB_H2X_SETTINGS_ENABLE_CONNECT_PROTOCOL:
      if (h->r_connect_protocol && e.value == 0) {
        conn_error(h, HB_H2X_PROTOCOL_ERROR, "ENABLE_CONNECT_PROTOCOL turned off");
        return;
      }
      h->r_connect_protocol = (int)e.value;
      break;
    default:
      if (h->ext) {
        hb_h2x_error err;
        if (hb_h2x_ext_on_setting(h->ext, e.id, e.value, &err) < 0) {
          conn_error(h, err.code, err.reason);
          return;
        }
      }
      break; /* unknown: ignored (§6.5.2) */
    }
  }
  uint8_t buf[9];
  out(h, buf, hb_h2x_pack_settings_ack(buf, sizeof(buf)), 1);
  if (!h->remote_settings_seen && h->c->pool) {
    /* A dialed conn is ready once the peer's SETTINGS say what it accepts. */
    h->capacity_changed = 1;
  }
  h->remote_settings_seen = 1;
  hb_conn_want_flush(h->c);
}

static void on_ping(h2x *h, const hb_h2x_frame *f) {
  if (f->u.ping.ack && h->drain_notice && memcmp(f->u.ping.opaque, drain_ping, 8) == 0) {
    send_goaway(h, HB_H2X_NO_ERROR, NULL); /* the final one */
    return;
  }
  if (f->u.ping.ack) {
    hb_keepalive_ack(&h->ka);
    return;
  }
  if (!bucket_take(h, &h->ping_b)) {
    conn_error(h, HB_H2X_ENHANCE_YOUR_CALM, "too many PINGs");
    return;
  }
  uint8_t buf[17];
  out(h, buf, hb_h2x_pack_ping(buf, sizeof(buf), 1, f->u.ping.opaque), 1);
}

static void on_goaway(h2x *h, const hb_h2x_frame *f) {
  const hb_h2x_goaway *g = &f->u.goaway;
  h->goaway_received = 1;
  h->goaway_last_id = g->last_stream_id;
  if (g->error_code == HB_H2X_INADEQUATE_SECURITY && h->c->connector) h->c->auth_refused = 1;
  if (g->error_code != HB_H2X_NO_ERROR || g->debug_len)
    hb_log_info(h->c->id, -1, "GOAWAY from %s: %s: %.*s", h->c->peer, hb_h2x_error_str(g->error_code),
                (int)HB_MIN(g->debug_len, 200), g->debug ? (const char *)g->debug : "");
  for (xs *t = h->streams; t; t = t->next)
    if (!t->closed && local_parity(h, t->id) && t->id > g->last_stream_id) stream_closed(h, t, hb_stream_refused);
  h->capacity_changed = 1;
  if (g->error_code == HB_H2X_NO_ERROR) hb_conn_on_peer_goaway(h->c);
}

static void on_window_update(h2x *h, const hb_h2x_frame *f, const hb_h2x_error *perr) {
  uint32_t id = f->hd.stream_id;
  uint32_t inc = f->u.window_increment;
  if (id == 0) {
    if (h->conn_send_window + inc > (int64_t)HB_H2X_MAX_WINDOW) {
      conn_error(h, HB_H2X_FLOW_CONTROL_ERROR, "connection window overflow");
      return;
    }
    h->conn_send_window += inc;
    hb_conn_want_flush(h->c);
    return;
  }
  if (is_idle(h, id)) {
    conn_error(h, HB_H2X_PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream");
    return;
  }
  xs *t = find_stream(h, id);
  if (!t || t->closed) return; /* may cross our END_STREAM or RST_STREAM (§6.9) */
  if (perr) {
    stream_error(h, t, id, perr->code, perr->reason);
    return;
  }
  if (t->send_window + inc > (int64_t)HB_H2X_MAX_WINDOW) {
    stream_error(h, t, id, HB_H2X_FLOW_CONTROL_ERROR, "stream window overflow");
    return;
  }
  t->send_window += inc;
  hb_conn_want_flush(h->c);
}

/* ---- extension frames (bridge/h2x_ext.c owns the definitions) ---- */

static int ext_stream_state(void *conn, uint32_t id) {
  h2x *h = conn;
  xs *t = find_stream(h, id);
  if (t && !t->closed) {
    switch (t->state) {
    case XS_OPEN: return HB_H2X_ST_OPEN;
    case XS_HALF_LOCAL: return HB_H2X_ST_HALF_LOCAL;
    case XS_HALF_REMOTE: return HB_H2X_ST_HALF_REMOTE;
    default: return HB_H2X_ST_CLOSED;
    }
  }
  return id == 0 || is_idle(h, id) ? HB_H2X_ST_IDLE : HB_H2X_ST_CLOSED;
}

/* A frame of type |fd| owned by extension |i|: shape checks, negotiation
 * (a frame before the extension is in force is a connection error, never
 * skipped: a header block skipped would desynchronise HPACK), the
 * extension's parser, then its handler; a header block goes on through
 * header_block() and CONTINUATION like any other. */
static void on_ext_frame(h2x *h, size_t i, const hb_h2x_ext_frame_def *fd, const hb_h2x_frame_hd *hd,
                         const uint8_t *payload) {
  const hb_h2x_ext_def *d = &h->ext->defs->d[i];
  hb_h2x_error err = {0, 0, NULL};
  hb_h2x_ext_frame f;
  char why[128];
  if (hb_h2x_ext_check_frame(h->ext, i, fd, hd, &err) != 0 ||
      (fd->parse(d, hd, payload, &f, &err) != 0 && !err.stream)) {
    snprintf(why, sizeof(why), "%s: %s", d->name, err.reason ? err.reason : "bad frame");
    conn_error(h, err.code, why);
    return;
  }
  const hb_h2x_error *perr = err.reason ? &err : NULL;
  hb_h2x_ext_ctx ctx = {h->server, h, ext_stream_state, h->ext->ustate[i]};
  int use = HB_H2X_USE_DISCARD;
  hb_h2x_error herr = {0, 0, NULL};
  if (d->on_frame(d, &ctx, &f, &use, &herr) != 0) {
    snprintf(why, sizeof(why), "%s: %s", d->name, herr.reason ? herr.reason : "refused");
    if (!herr.stream) {
      conn_error(h, herr.code, why);
      return;
    }
    /* a stream error: the block (if any) is still decoded, then the stream reset */
    if (!(fd->flags & HB_H2X_EXTF_HEADER_BLOCK)) {
      xs *t = find_stream(h, hd->stream_id);
      stream_error(h, t && !t->closed ? t : NULL, hd->stream_id, herr.code, why);
      return;
    }
    /* The block opens (or continues) its stream as usual, is decoded, and
     * end_block() resets the stream with the handler's code. */
    perr = &herr;
    if (use == HB_H2X_USE_DISCARD)
      use = find_stream(h, hd->stream_id) ? HB_H2X_USE_STREAM : HB_H2X_USE_REQUEST;
  }
  if (!(fd->flags & HB_H2X_EXTF_HEADER_BLOCK)) return;
  if (use == HB_H2X_USE_REQUEST && !(fd->flags & HB_H2X_EXTF_OPENS_STREAM)) use = HB_H2X_USE_STREAM;
  snprintf(why, sizeof(why), "%s frame 0x%02x", d->name, hd->type);
  header_block(h, hd->stream_id, hd->flags, f.block, f.len, perr, use, why);
}

static void on_frame(h2x *h, const hb_h2x_frame_hd *hd, const uint8_t *payload) {
  if (h->b.active && hd->type != HB_H2X_CONTINUATION) {
    conn_error(h, HB_H2X_PROTOCOL_ERROR, "header block interrupted");
    return;
  }
  if (h->ext && hd->type > HB_H2X_CONTINUATION) {
    const hb_h2x_ext_frame_def *fd;
    int i = hb_h2x_ext_frame_owner(h->ext, hd->type, &fd);
    if (i >= 0) {
      on_ext_frame(h, (size_t)i, fd, hd, payload);
      return;
    }
  }
  hb_h2x_frame f;
  hb_h2x_error err = {0, 0, NULL};
  int rc = hb_h2x_frame_parse(hd, payload, NULL, (size_t)h->c->limits->h2_max_settings, &f, &err);
  if (rc == HB_ERR_DECLINED) return; /* unknown type (§4.1, §5.5) */
  const hb_h2x_error *perr = NULL;
  if (rc != 0) {
    if (!err.stream) {
      conn_error(h, err.code, err.reason);
      return;
    }
    perr = &err;
  }
  switch (hd->type) {
  case HB_H2X_DATA: on_data(h, &f); break;
  case HB_H2X_HEADERS: on_headers(h, &f, perr); break;
  case HB_H2X_PRIORITY:
    if (!bucket_take(h, &h->prio_b)) {
      conn_error(h, HB_H2X_ENHANCE_YOUR_CALM, "too many PRIORITY frames");
      return;
    }
    if (perr) {
      xs *t = find_stream(h, hd->stream_id);
      stream_error(h, t && !t->closed ? t : NULL, hd->stream_id, perr->code, perr->reason);
    }
    break; /* parsed and ignored (RFC 9113 §5.3.2) */
  case HB_H2X_RST_STREAM: on_rst_stream(h, &f); break;
  case HB_H2X_SETTINGS: on_settings(h, &f); break;
  case HB_H2X_PUSH_PROMISE: conn_error(h, HB_H2X_PROTOCOL_ERROR, "PUSH_PROMISE not enabled"); break;
  case HB_H2X_PING: on_ping(h, &f); break;
  case HB_H2X_GOAWAY: on_goaway(h, &f); break;
  case HB_H2X_WINDOW_UPDATE: on_window_update(h, &f, perr); break;
  case HB_H2X_CONTINUATION: on_continuation(h, &f); break;
  default: break;
  }
}

/* ---- sending bodies ---- */

/* Sends one DATA frame (or the end, or trailers) of |t| if it can.  Returns 1
 * when something was written. */
static int send_data(h2x *h, xs *t) {
  uint8_t buf[9 + HB_H2X_MIN_MAX_FRAME_SIZE];
  hb_stream *s = &t->s;
  hb_stream *p = hb_stream_peer(s);
  size_t pend = hb_stream_pending(s);
  int done = !p || hb_stream_peer_done(s);
  if (pend == 0 && !done) return 0;
  size_t n = 0;
  if (pend > 0) {
    int64_t win = HB_MIN(t->send_window, h->conn_send_window);
    if (win <= 0) return 0;
    size_t room = HB_MIN((size_t)win, HB_MIN((size_t)h->r_max_frame, sizeof(buf) - 9));
    n = hb_stream_pull(s, buf + 9, HB_MIN(room, pend));
    p = hb_stream_peer(s);
    done = !p || hb_stream_peer_done(s);
  }
  int trailers = done && p && p->trailers && p->trailers->nfields > 0;
  if (n > 0 || !trailers) {
    hb_h2x_frame_hd fh = {(uint32_t)n, HB_H2X_DATA, (uint8_t)(done && !trailers ? HB_H2X_FLAG_END_STREAM : 0),
                          t->id};
    hb_h2x_frame_hd_pack(&fh, buf);
    out(h, buf, (ssize_t)(9 + n), 0);
    t->send_window -= (int64_t)n;
    h->conn_send_window -= (int64_t)n;
  }
  if (done) {
    if (trailers) {
      nghttp2_nv nva[128];
      size_t nn = 0;
      for (size_t i = 0; i < p->trailers->nfields && nn < HB_ARRAY_LEN(nva); i++) {
        hb_field *fl = &p->trailers->fields[i];
        nva[nn++] = MKNV(fl->name, fl->value, fl->namelen, fl->valuelen);
      }
      if (send_header_block(h, t->id, nva, nn, 1) != 0) {
        /* could not encode them: end with an empty DATA instead */
        uint8_t e[9];
        hb_h2x_frame_hd fh = {0, HB_H2X_DATA, HB_H2X_FLAG_END_STREAM, t->id};
        hb_h2x_frame_hd_pack(&fh, e);
        out(h, e, 9, 0);
      }
    }
    s->tx_eof = 1;
    hb_stream_take_eof(s);
    on_end_sent(h, t);
  }
  return 1;
}

static void send_bodies(h2x *h) {
  for (int progress = 1; progress && !h->dead && !h->fatal;) {
    progress = 0;
    for (xs *t = h->streams; t; t = t->next) {
      if (out_full(h)) return;
      if (!t->sending || t->closed || t->s.tx_eof) continue;
      progress |= send_data(h, t);
    }
  }
}

static void answer_local(h2x *h, xs *t, int status, const char *msg) {
  char st[8];
  int k = snprintf(st, sizeof(st), "%d", status);
  nghttp2_nv nva[1] = {MKNV(":status", st, 7, (size_t)k)};
  hb_log_info(h->c->id, t->id, "answering %d: %s", status, msg);
  t->s.tx_eof = 1;
  if (send_header_block(h, t->id, nva, 1, 1) == 0) on_end_sent(h, t);
}

/* ---- timers ---- */

/* Keepalive (bridge/keepalive.c): how this engine says "busy" and sends a PING. */
static int ka_busy(void *ud) { return ((h2x *)ud)->nstreams > 0; }
static int ka_send(void *ud) {
  h2x *h = ud;
  uint8_t buf[17], opaque[8] = {0};
  out(h, buf, hb_h2x_pack_ping(buf, sizeof(buf), 0, opaque), 1);
  return 0;
}
static void ka_wake(void *ud) { hb_conn_want_flush(((h2x *)ud)->c); }

static void settings_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents) {
  (void)loop;
  (void)revents;
  h2x *h = w->data;
  conn_error(h, HB_H2X_SETTINGS_TIMEOUT, "SETTINGS not acknowledged");
}

/* ---- engine ops ---- */

static void x_keepalive(hb_conn *c, double interval, double timeout) { hb_keepalive_set(&H(c)->ka, interval, timeout); }

static int x_init(hb_conn *c) {
  h2x *h = hb_calloc(1, sizeof(*h));
  if (!h) return HB_ERR_NOMEM;
  h->c = c;
  h->server = c->http_server;
  c->engine_data = h;
  c->rmax = 16384;
  hb_log_debug(c->id, -1, "engine h2x, %s role", h->server ? "server" : "client");
  ev_init(&h->settings_timer, settings_timeout_cb);
  h->settings_timer.data = h;
  /* Plain RFC 9113: requests ride on client-opened (odd) streams only. */
  h->peer_parities = h->server ? X_POL_ODD : 0;
  h->next_local_id = h->server ? 2 : 1;
  h->r_max_streams = 100; /* until the peer says (nghttp2's peer_max_concurrent_streams) */
  h->r_max_frame = HB_H2X_MIN_MAX_FRAME_SIZE;
  h->r_iw = 65535;
  h->r_max_header_list = UINT32_MAX;
  const hb_limits *l = c->limits;
  /* Until our SETTINGS are acknowledged the peer may use the larger of the
   * default and our window. */
  h->local_iw = HB_MAX((int64_t)l->stream_window, 65535);
  h->conn_send_window = 65535;
  h->conn_target = HB_MAX((int64_t)l->connection_window, 65535);
  h->conn_recv_window = 65535;
  bucket_init(h, &h->rst, (double)c->limits->h2_reset_burst, (double)c->limits->h2_reset_rate);
  bucket_init(h, &h->glitch, (double)c->limits->h2_glitch_burst, (double)c->limits->h2_glitch_rate);
  bucket_init(h, &h->ping_b, (double)l->h2_ping_burst, (double)l->h2_ping_rate);
  bucket_init(h, &h->settings_b, (double)l->h2_settings_burst, (double)l->h2_settings_rate);
  bucket_init(h, &h->prio_b, (double)l->h2_priority_burst, (double)l->h2_priority_rate);
  if (hb_h2x_reader_init(&h->rd, HB_H2X_MIN_MAX_FRAME_SIZE) != 0) return HB_ERR_INVALID;
  if (h->server) hb_h2x_reader_expect_preface(&h->rd);
  hb_h2x_reader_expect_settings(&h->rd);
  if (hb_hpack_new(&h->inf, &h->def, X_DEFLATE_TABLE) != 0) return HB_ERR_NOMEM;
  if (!h->server) out(h, (const uint8_t *)HB_H2X_PREFACE, HB_H2X_PREFACE_LEN, 0);
  hb_h2x_setting iv[5 + HB_H2X_EXT_MAX * HB_H2X_EXT_MAX_SETTINGS];
  size_t niv = 0;
  iv[niv++] = (hb_h2x_setting){HB_H2X_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)l->max_streams};
  iv[niv++] = (hb_h2x_setting){HB_H2X_SETTINGS_INITIAL_WINDOW_SIZE, (uint32_t)l->stream_window};
  iv[niv++] = (hb_h2x_setting){HB_H2X_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)l->header_bytes};
  if (!h->server) iv[niv++] = (hb_h2x_setting){HB_H2X_SETTINGS_ENABLE_PUSH, 0};
  /* RFC 8441 §3: only where a route carries tunnels (as engine_h2). */
  if (h->server && ((c->listener && c->listener->h2_connect_protocol) ||
                    (c->connector && c->connector->h2_connect_protocol))) {
    iv[niv++] = (hb_h2x_setting){HB_H2X_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1};
    h->local_connect_protocol = 1;
  }
  if (c->listener && c->listener->ext_defs && c->listener->ext_defs->n) {
    h->ext = hb_malloc(sizeof(*h->ext));
    if (!h->ext) return HB_ERR_NOMEM;
    hb_h2x_ext_state_init(h->ext, c->listener->ext_defs, h->server);
    niv += hb_h2x_ext_local_settings(h->ext, iv + niv, HB_ARRAY_LEN(iv) - niv);
  }
  uint8_t buf[9 + 6 * HB_ARRAY_LEN(iv)];
  out(h, buf, hb_h2x_pack_settings(buf, sizeof(buf), iv, niv), 1);
  h->settings_unacked = 1;
  h->settings_timer.repeat = c->limits->h2_settings_timeout > 0 ? c->limits->h2_settings_timeout : 1e9;
  ev_timer_again(c->w->loop, &h->settings_timer);
  if (h->conn_target > 65535) {
    send_window_update(h, 0, (uint32_t)(h->conn_target - 65535));
    h->conn_recv_window = h->conn_target;
  }
  if (h->server) hb_conn_set_timer(c, l->idle_timeout);
  hb_keepalive_init(&h->ka, c->w->loop, l->ping_interval, ka_busy, ka_send, ka_wake, h);
  hb_conn_want_flush(c);
  return h->fatal;
}

static ssize_t x_on_read(hb_conn *c, const uint8_t *data, size_t len) {
  h2x *h = H(c);
  size_t off = 0;
  if (hb_bufq_len(&c->out) == 0) h->ctrl_pending = 0;
  while (off < len && !h->dead) {
    if (out_full(h)) {
      /* The peer does not read what we answer (PING/SETTINGS floods): stop
       * reading until our output drains. */
      h->read_blocked = 1;
      hb_conn_pause_read(c);
      break;
    }
    hb_h2x_frame_hd hd;
    const uint8_t *payload = NULL;
    int have = 0;
    uint32_t code = 0;
    const char *reason = NULL;
    ssize_t n = hb_h2x_reader_feed(&h->rd, data + off, len - off, &hd, &payload, &have, &code, &reason);
    if (n == HB_ERR_NOMEM) return HB_ERR_NOMEM;
    if (n < 0) {
      conn_error(h, code, reason);
      break;
    }
    off += (size_t)n;
    if (!have) continue;
    on_frame(h, &hd, payload);
    if (h->fatal) return h->fatal;
  }
  if (h->dead) off = len;
  hb_conn_want_flush(c);
  return (ssize_t)off;
}

static int x_flush(hb_conn *c) {
  h2x *h = H(c);
  if (h->fatal) return h->fatal;
  if (h->ka.failed) {
    hb_log_info(c->id, -1, "no PING answer within ping_interval: closing");
    return HB_ERR_TIMEOUT;
  }
  if (hb_bufq_len(&c->out) == 0) h->ctrl_pending = 0;
  /* Release closed streams: reset ones at once, clean ones once the peer
   * leg took everything. */
  for (xs *t = h->streams, *next; t; t = next) {
    next = t->next;
    if (!t->closed) continue;
    if (t->reset_why || !t->s.x) {
      /* bytes nobody will take: the connection window gets them back */
      size_t left = hb_bufq_len(&t->s.rx);
      if (left) give_credit(h, NULL, left);
    }
    if (t->reset_why) {
      if (t->s.x) hb_exchange_on_reset(&t->s, t->reset_why);
      free_stream(h, t);
    } else if (!t->s.x || hb_stream_drained(&t->s)) {
      if (t->s.x) hb_exchange_on_close(&t->s);
      free_stream(h, t);
    }
  }
  if (h->dead) {
    /* After a connection error: unfinished streams are lost with the
     * connection; completed ones still deliver what they hold. */
    for (xs *t = h->streams, *next; t; t = next) {
      next = t->next;
      if (t->closed) continue;
      if (t->s.x) hb_exchange_on_reset(&t->s, "HTTP/2 connection error");
      free_stream(h, t);
    }
    return h->nstreams ? 0 : HB_ERR_EOF;
  }
  if (h->capacity_changed && c->pool && h->remote_settings_seen) {
    h->capacity_changed = 0;
    hb_pool_on_capacity(c);
  }
  if (h->read_blocked && !out_full(h)) {
    h->read_blocked = 0;
    hb_conn_resume_read(c);
  }
  if (h->peer_eof) return h->nstreams ? 0 : HB_ERR_EOF;
  send_bodies(h);
  if (h->fatal) return h->fatal;
  /* After a GOAWAY either way no new stream comes: done once all ended. */
  if (h->nstreams == 0 && ((h->draining && !h->drain_notice) || h->goaway_received)) c->closing_after_write = 1;
  return 0;
}

static int x_on_eof(hb_conn *c) {
  h2x *h = H(c);
  for (xs *t = h->streams, *next; t; t = next) {
    next = t->next;
    if (t->closed && !t->reset_why) continue;
    if (t->s.x) hb_exchange_on_reset(&t->s, t->reset_why ? t->reset_why : "connection closed by peer");
    free_stream(h, t);
  }
  h->peer_eof = 1;
  return h->nstreams ? 0 : HB_ERR_EOF;
}

static void x_destroy(hb_conn *c, const char *reason) {
  h2x *h = H(c);
  if (!h) return;
  while (h->streams) {
    xs *t = h->streams;
    if (t->s.x) hb_exchange_on_reset(&t->s, reason ? reason : "connection closed");
    free_stream(h, t);
  }
  hb_keepalive_stop(&h->ka);
  ev_timer_stop(c->w->loop, &h->settings_timer);
  hb_h2x_reader_free(&h->rd);
  if (h->inf) nghttp2_hd_inflate_del(h->inf);
  if (h->def) nghttp2_hd_deflate_del(h->def);
  hb_free(h->ext);
  hb_free(h);
  c->engine_data = NULL;
}

static void x_drain(hb_conn *c) {
  h2x *h = H(c);
  if (h->draining) return;
  h->draining = 1;
  if (!h->dead) {
    if (h->server)
      send_drain_notice(h);
    else if (c->goaway_on_drain)
      send_goaway(h, HB_H2X_NO_ERROR, NULL); /* client: tells the server at once (see conn.h) */
  }
  hb_conn_want_flush(c);
}

static int x_idle(hb_conn *c) { return H(c)->nstreams == 0; }

static int x_timeout(hb_conn *c) {
  h2x *h = H(c);
  if (h->server && h->nstreams == 0) {
    if (!h->dead) send_goaway(h, HB_H2X_NO_ERROR, NULL);
    c->closing_after_write = 1;
    return 0;
  }
  return HB_ERR_TIMEOUT;
}

static int x_open_stream(hb_conn *c, const hb_head *head, int end, hb_stream **outp) {
  h2x *h = H(c);
  if (h->draining || h->goaway_received || h->peer_eof || h->dead || c->state != HB_CONN_OPEN ||
      c->closing_after_write)
    return HB_ERR_AGAIN;
  size_t cap = c->pool ? c->pool->max_streams_per_conn : 100;
  if (h->r_max_streams < cap) cap = h->r_max_streams;
  if (h->nlive_local >= cap || h->nstreams >= cap) return HB_ERR_AGAIN;
  if (h->next_local_id > HB_H2X_STREAM_ID_MASK) return HB_ERR_AGAIN;
  if (head->protocol) {
    /* RFC 8441 §4: only after the peer's SETTINGS_ENABLE_CONNECT_PROTOCOL=1. */
    if (!h->remote_settings_seen) return HB_ERR_AGAIN;
    if (h->r_connect_protocol != 1) return HB_ERR_DECLINED;
    end = 0;
  }
  nghttp2_nv nva[256];
  size_t n = 0;
  const char *scheme = head->scheme ? head->scheme : "http";
  nva[n++] = MKNV(":method", head->method, 7, strlen(head->method));
  if (head->protocol) nva[n++] = MKNV(":protocol", head->protocol, 9, strlen(head->protocol));
  nva[n++] = MKNV(":scheme", scheme, 7, strlen(scheme));
  if (head->authority) nva[n++] = MKNV(":authority", head->authority, 10, strlen(head->authority));
  nva[n++] = MKNV(":path", head->path, 5, strlen(head->path));
  char cl[24];
  ssize_t k = fields_nv(head, nva, HB_ARRAY_LEN(nva), n, cl, sizeof(cl), 1);
  if (k < 0) return HB_ERR_TOO_LARGE;
  uint32_t id = h->next_local_id;
  xs *t = stream_new(h, id, HB_STREAM_CLIENT);
  if (!t) return HB_ERR_NOMEM;
  h->next_local_id += 2;
  h->last_local_id = id;
  t->s.tunnel = head->protocol != NULL;
  t->head_req = strcmp(head->method, "HEAD") == 0;
  int rc = send_header_block(h, id, nva, (size_t)k, end);
  if (rc != 0) {
    free_stream(h, t);
    return rc;
  }
  if (end) {
    t->s.tx_eof = 1;
    t->state = XS_HALF_LOCAL;
  } else {
    t->sending = 1;
  }
  hb_conn_want_flush(c);
  *outp = &t->s;
  return 0;
}

static int x_submit_response(hb_stream *s, const hb_head *head, int end) {
  xs *t = S(s);
  h2x *h = H(s->conn);
  if (t->closed || h->dead) return HB_ERR_INVALID;
  nghttp2_nv nva[256];
  char st[8], cl[24];
  int k = snprintf(st, sizeof(st), "%d", head->status);
  nva[0] = MKNV(":status", st, 7, (size_t)k);
  if (t->s.tunnel && head->status / 100 != 2) t->s.tunnel = 0; /* refused */
  /* RFC 8441 / RFC 9110 §9.3.6: a 2xx to CONNECT has no Content-Length. */
  int no_cl = head->status == 204 || head->status == 304 || head->status < 200 || t->s.tunnel;
  ssize_t n = fields_nv(head, nva, HB_ARRAY_LEN(nva), 1, cl, sizeof(cl), !no_cl);
  if (n < 0) return HB_ERR_TOO_LARGE;
  int info = head->status < 200;
  int rc = send_header_block(h, t->id, nva, (size_t)n, !info && end);
  if (rc != 0) return rc == HB_ERR_TOO_LARGE ? rc : HB_ERR_PROTO;
  if (!info) {
    if (end) {
      t->s.tx_eof = 1;
      on_end_sent(h, t);
    } else {
      t->sending = 1;
    }
  }
  hb_conn_want_flush(s->conn);
  return 0;
}

static void x_resume(hb_stream *s) { hb_conn_want_flush(s->conn); }

static void x_refuse(hb_conn *c, uint32_t code, const char *debug) {
  h2x *h = H(c);
  if (!h->dead) send_goaway(h, code, debug);
  h->draining = 1;
  c->closing_after_write = 1;
  hb_conn_want_flush(c);
}

static void x_consumed(hb_stream *s, size_t n) {
  xs *t = S(s);
  h2x *h = H(s->conn);
  if (n > 0) give_credit(h, t, n);
  hb_conn_want_flush(s->conn);
}

static void x_reset(hb_stream *s, uint32_t code) {
  xs *t = S(s);
  h2x *h = H(s->conn);
  s->x = NULL;
  if (!t->closed) {
    if (!h->dead) send_rst(h, t->id, code);
    stream_closed(h, t, "reset");
  }
  hb_conn_want_flush(s->conn);
}

const hb_engine_ops hb_engine_h2x = {
  .name = "h2x",
  .init = x_init,
  .on_read = x_on_read,
  .flush = x_flush,
  .on_eof = x_on_eof,
  .destroy = x_destroy,
  .drain = x_drain,
  .idle = x_idle,
  .timeout = x_timeout,
  .open_stream = x_open_stream,
  .submit_response = x_submit_response,
  .resume = x_resume,
  .refuse = x_refuse,
  .keepalive = x_keepalive,
  .consumed = x_consumed,
  .reset = x_reset,
};
