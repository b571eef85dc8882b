/* engine_h2.c: the HTTP/2 engine on an nghttp2 session, server or client role
 * (the role follows the conn for now; rh2 will invert it).  Owns the session
 * and its streams (h2s, each embedding an hb_stream).  Flow control carries
 * backpressure: automatic WINDOW_UPDATEs are off and received bytes are
 * consumed only when the peer leg has taken them from the stream's rx.
 * Worker-local. */
#include "conn.h"
#include "connector.h"
#include "engine.h"
#include "keepalive.h"
#include "errors.h"
#include "exchange.h"
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

typedef struct h2s {
  hb_stream s;            /* first: hb_stream* <-> h2s* */
  struct h2s *next, *prev;
  int32_t id;
  int deferred;           /* our data provider returned DEFERRED */
  int closed;             /* nghttp2 closed the stream; we wait for the peer to drain rx */
  int too_large;          /* request head exceeded a limit: answer 431 */
  const char *malformed;  /* request head is malformed: answer 400 with this reason */
  int head_done;          /* the (final) head was received; later HEADERS are trailers */
  int informational;      /* the head being received is 1xx */
} h2s;

typedef struct h2 {
  hb_conn *c;
  nghttp2_session *session;
  int server;
  h2s *streams;
  size_t nstreams;
  int draining, goaway_received, capacity_changed;
  int drain_notice;         /* server: shutdown notice and PING sent, final GOAWAY on its ACK */
  int remote_settings_seen; /* the peer's first SETTINGS arrived */
  hb_keepalive ka;          /* PING keepalive (ping_interval; always for origins) */
  int peer_eof;             /* the peer closed; only draining streams remain */
} h2;

static h2 *H(hb_conn *c) { return c->engine_data; }
static h2s *S(hb_stream *s) { return (h2s *)(void *)s; }

static void link_stream(h2 *h, h2s *t) {
  t->next = h->streams;
  if (h->streams) h->streams->prev = t;
  h->streams = t;
  h->nstreams++;
  hb_conn_set_timer(h->c, 0);
}

static void free_stream(h2 *h, h2s *t) {
  if (t->prev) t->prev->next = t->next;
  else h->streams = t->next;
  if (t->next) t->next->prev = t->prev;
  h->nstreams--;
  hb_stream_clear(&t->s);
  hb_free(t);
  h->capacity_changed = 1;
  if (h->nstreams == 0 && !h->draining) hb_conn_arm_idle(h->c);
}

static h2s *stream_new(h2 *h, int32_t id, int role) {
  h2s *t = hb_calloc(1, sizeof(*t));
  if (!t) return NULL;
  /* nghttp2 enforces our window, so rx never holds more than stream_window. */
  hb_stream_init(&t->s, h->c, id, role, (size_t)h->c->limits->stream_window);
  t->id = id;
  link_stream(h, t);
  return t;
}

/* Graceful drain of a server session, RFC 9113 §6.8 in two steps: a GOAWAY
 * with the largest stream id (the shutdown notice) and a PING; the PING's ACK
 * proves the client has seen the notice and that every stream it opened
 * before has arrived, so the final GOAWAY names them all and none is cut. */
#define HB_DRAIN_PING ((const uint8_t *)"h2bdrain")

static void drain_final(h2 *h) {
  h->drain_notice = 0;
  h->draining = 1;
  nghttp2_submit_goaway(h->session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->session),
                        NGHTTP2_NO_ERROR, NULL, 0);
  hb_conn_want_flush(h->c);
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *ud) {
  h2 *h = ud;
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  if (h->server && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    if (h->draining) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    h2s *t = stream_new(h, frame->hd.stream_id, HB_STREAM_SERVER);
    if (!t) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, t);
    return 0;
  }
  h2s *t = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (t && !h->server && frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
    hb_head_free(&t->s.head);
    hb_head_init(&t->s.head, 0);
    t->informational = 0;
  } else if (t && frame->headers.cat == NGHTTP2_HCAT_HEADERS && t->head_done && !t->s.trailers) {
    t->s.trailers = hb_malloc(sizeof(hb_head));
    if (!t->s.trailers) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    hb_head_init(t->s.trailers, 0);
  }
  return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud) {
  h2 *h = ud;
  (void)flags;
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  h2s *t = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (!t || t->too_large) return 0;
  hb_head *hd = t->head_done ? t->s.trailers : &t->s.head;
  if (!hd) return 0;
  const hb_limits *lim = h->c->limits;
  if (hd->nfields + 1 > lim->header_fields || hd->bytes + namelen + valuelen + 32 > lim->header_bytes) {
    if (h->server && !t->head_done) {
      t->too_large = 1;
      return 0;
    }
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM INTERNAL_ERROR */
  }
  int rc = 0;
  const char *n = (const char *)name, *v = (const char *)value;
  if (namelen > 0 && name[0] == ':') {
    if (t->head_done) return 0;
    if (namelen == 7 && memcmp(n, ":method", 7) == 0) rc = hb_head_set_pseudo(hd, HB_PSEUDO_METHOD, v, valuelen);
    else if (namelen == 7 && memcmp(n, ":scheme", 7) == 0) rc = hb_head_set_pseudo(hd, HB_PSEUDO_SCHEME, v, valuelen);
    else if (namelen == 10 && memcmp(n, ":authority", 10) == 0) rc = hb_head_set_pseudo(hd, HB_PSEUDO_AUTHORITY, v, valuelen);
    else if (namelen == 5 && memcmp(n, ":path", 5) == 0) rc = hb_head_set_pseudo(hd, HB_PSEUDO_PATH, v, valuelen);
    else if (namelen == 9 && memcmp(n, ":protocol", 9) == 0) rc = hb_head_set_pseudo(hd, HB_PSEUDO_PROTOCOL, v, valuelen);
    else if (namelen == 7 && memcmp(n, ":status", 7) == 0) {
      hd->status = atoi(v);
      t->informational = hd->status >= 100 && hd->status < 200;
    }
  } else {
    if (namelen == 14 && memcmp(n, "content-length", 14) == 0 && !t->head_done)
      hd->content_length = strtoll(v, NULL, 10); /* nghttp2 validated the digits */
    if (namelen == 4 && memcmp(n, "host", 4) == 0 && !t->head_done && h->server) {
      /* RFC 9113 §8.3.1: Host is used only without :authority, and one that
       * names another entity than :authority makes the request malformed
       * (it would reach an h1 upstream with an authority nobody checked). */
      if (!hd->authority) rc = hb_head_set_pseudo(hd, HB_PSEUDO_AUTHORITY, v, valuelen);
      else if (strlen(hd->authority) != valuelen || strncasecmp(hd->authority, v, valuelen) != 0)
        t->malformed = "Host differs from :authority";
      return rc == 0 ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    rc = hb_head_add(hd, n, namelen, v, valuelen);
  }
  return rc == 0 ? 0 : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
                         size_t len, void *ud) {
  (void)flags;
  (void)ud;
  h2s *t = nghttp2_session_get_stream_user_data(session, stream_id);
  hb_stream *p = t ? hb_stream_peer(&t->s) : NULL;
  if (!t || !t->s.x || (t->s.role == HB_STREAM_SERVER && p && !p->conn)) {
    /* Nobody will read it (or a local answer ignores it): give the window
     * back at once. */
    nghttp2_session_consume(session, stream_id, len);
    return 0;
  }
  if (hb_bufq_write_force(&t->s.rx, data, len) != (ssize_t)len) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  t->s.bytes_in += len;
  return 0;
}

static void answer_local(h2 *h, h2s *t, int status, const char *msg);

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ud) {
  h2 *h = ud;
  if (frame->hd.type == NGHTTP2_GOAWAY) {
    h->goaway_received = 1;
    if (frame->goaway.error_code == NGHTTP2_INADEQUATE_SECURITY && h->c->connector) h->c->auth_refused = 1;
    if (frame->goaway.opaque_data_len)
      hb_log_info(h->c->id, -1, "GOAWAY from %s: %s: %.*s", h->c->peer, nghttp2_http2_strerror(frame->goaway.error_code),
                  (int)HB_MIN(frame->goaway.opaque_data_len, 200), (const char *)frame->goaway.opaque_data);
    if (frame->goaway.error_code == NGHTTP2_NO_ERROR) hb_conn_on_peer_goaway(h->c);
    return 0;
  }
  if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK) && h->drain_notice &&
      memcmp(frame->ping.opaque_data, HB_DRAIN_PING, 8) == 0) {
    drain_final(h);
    return 0;
  }
  if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK)) {
    hb_keepalive_ack(&h->ka);
    return 0;
  }
  if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
    if (!h->remote_settings_seen && h->c->pool) {
      /* A dialed h2 conn is ready once the peer's SETTINGS say what it
       * accepts (MAX_CONCURRENT_STREAMS, ENABLE_CONNECT_PROTOCOL). */
      h->capacity_changed = 1;
      hb_conn_want_flush(h->c);
    }
    h->remote_settings_seen = 1;
    return 0;
  }
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  h2s *t = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (!t) return 0;
  int end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_DATA) {
    if (end) t->s.rx_eof = 1;
    if (t->s.x) hb_exchange_on_data(&t->s);
    return 0;
  }
  if (t->head_done) { /* trailers */
    t->s.rx_eof = 1;
    if (t->s.x) hb_exchange_on_data(&t->s);
    return 0;
  }
  if (h->server) {
    if (end) t->s.rx_eof = 1;
    t->head_done = 1;
    t->s.head_received = 1;
    if (t->s.head.protocol) t->s.tunnel = 1; /* RFC 8441 extended CONNECT */
    if (t->too_large) {
      answer_local(h, t, 431, "request header fields too large");
      return 0;
    }
    if (t->malformed) {
      answer_local(h, t, 400, t->malformed);
      return 0;
    }
    hb_exchange_on_request(&t->s);
    return 0;
  }
  if (t->informational) {
    if (t->s.x) hb_exchange_on_head(&t->s);
    hb_head_free(&t->s.head);
    hb_head_init(&t->s.head, 0);
    return 0;
  }
  t->head_done = 1;
  t->s.head_received = 1;
  if (end) t->s.rx_eof = 1;
  if (t->s.tunnel && t->s.head.status / 100 != 2) t->s.tunnel = 0; /* refused */
  if (t->s.x) hb_exchange_on_head(&t->s);
  return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code, void *ud) {
  h2 *h = ud;
  h2s *t = nghttp2_session_get_stream_user_data(session, stream_id);
  if (!t) return 0;
  nghttp2_session_set_stream_user_data(session, stream_id, NULL);
  t->closed = 1;
  /* RST_STREAM(NO_ERROR) after the peer's END_STREAM only says "stop
   * sending" (RFC 9113 §8.1): what it sent is complete and is delivered. */
  int clean = error_code == NGHTTP2_NO_ERROR && t->s.rx_eof;
  if (!clean) {
    if (t->s.x) {
      char why[96];
      snprintf(why, sizeof(why), "stream reset (%s)", nghttp2_http2_strerror(error_code));
      /* the reason must outlive this call: use static strings */
      const char *r = error_code == NGHTTP2_NO_ERROR ? "stream closed early"
                    : error_code == NGHTTP2_CANCEL ? "stream cancelled"
                    : error_code == NGHTTP2_REFUSED_STREAM ? hb_stream_refused
                    : "stream reset";
      hb_log_debug(h->c->id, stream_id, "%s", why);
      hb_exchange_on_reset(&t->s, r);
    }
    free_stream(h, t);
    return 0;
  }
  /* Clean: release once the peer took everything (see flush). */
  hb_conn_want_flush(h->c);
  return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *ud) {
  h2 *h = ud;
  if (!h->server || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) return 0;
  if (frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS) return 0;
  h2s *t = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (t && !t->s.rx_eof && !t->s.tunnel) {
    /* RFC 9113 §8.1: the response is complete; tell the client to stop
     * sending the rest of its request body. */
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

static ssize_t send_cb(nghttp2_session *session, const uint8_t *data, size_t len, int flags, void *ud) {
  (void)session;
  (void)flags;
  h2 *h = ud;
  if (hb_conn_out_space(h->c) == 0) return NGHTTP2_ERR_WOULDBLOCK;
  if (hb_conn_write(h->c, data, len) != 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
  return (ssize_t)len;
}

static ssize_t data_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *ud) {
  (void)ud;
  h2s *t = source->ptr;
  hb_stream *s = &t->s;
  size_t n = hb_stream_pull(s, buf, length);
  hb_stream *p = hb_stream_peer(s);
  int done = !p || hb_stream_peer_done(s);
  if (n == 0 && !done) {
    t->deferred = 1;
    return NGHTTP2_ERR_DEFERRED;
  }
  if (done) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (p && p->trailers && p->trailers->nfields > 0) {
      nghttp2_nv nva[128];
      size_t nn = 0;
      for (size_t i = 0; i < p->trailers->nfields && nn < HB_ARRAY_LEN(nva); i++) {
        hb_field *f = &p->trailers->fields[i];
        nva[nn++] = (nghttp2_nv){(uint8_t *)f->name, (uint8_t *)f->value, f->namelen, f->valuelen,
                                 NGHTTP2_NV_FLAG_NONE};
      }
      if (nghttp2_submit_trailer(session, stream_id, nva, nn) == 0) *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
    s->tx_eof = 1;
    hb_stream_take_eof(s);
  }
  return (ssize_t)n;
}

/* ---- helpers ---- */

static int is_conn_specific(const hb_field *f) {
  static const char *const names[] = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
                                      "upgrade", "host", "http2-settings"};
  for (size_t i = 0; i < HB_ARRAY_LEN(names); i++)
    if (strcmp(f->name, names[i]) == 0) return 1;
  if (strcmp(f->name, "te") == 0 && strcasecmp(f->value, "trailers") != 0) return 1;
  return 0;
}

#define MKNV(n, v, nl, vl) ((nghttp2_nv){(uint8_t *)(n), (uint8_t *)(v), (nl), (vl), NGHTTP2_NV_FLAG_NONE})

/* Fills |nva| (capacity |cap|) with the fields of |head|; |cl| gets a printed
 * content-length when known.  Returns the count, or -1 when it does not fit. */
static ssize_t fields_nv(const hb_head *head, nghttp2_nv *nva, size_t cap, size_t n, char *cl, size_t cllen,
                         int want_cl) {
  for (size_t i = 0; i < head->nfields; i++) {
    const hb_field *f = &head->fields[i];
    if (is_conn_specific(f) || strcmp(f->name, "content-length") == 0) continue;
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

static void answer_local(h2 *h, h2s *t, int status, const char *msg) {
  /* A response without a body: the status says it all; the reason goes to the log. */
  char st[8];
  int k = snprintf(st, sizeof(st), "%d", status);
  nghttp2_nv nva[1] = {MKNV(":status", st, 7, (size_t)k)};
  hb_log_info(h->c->id, t->id, "answering %d: %s", status, msg);
  t->s.tx_eof = 1;
  nghttp2_submit_response(h->session, t->id, nva, 1, NULL); /* on_frame_send resets an unfinished request */
}

/* ---- engine ops ---- */

/* Keepalive (bridge/keepalive.c): how this engine says "busy" and sends a PING. */
static int ka_busy(void *ud) { return ((h2 *)ud)->nstreams > 0; }
static int ka_send(void *ud) { return nghttp2_submit_ping(((h2 *)ud)->session, NGHTTP2_FLAG_NONE, NULL) == 0 ? 0 : -1; }
static void ka_wake(void *ud) { hb_conn_want_flush(((h2 *)ud)->c); }

static void h2_keepalive(hb_conn *c, double interval, double timeout) { hb_keepalive_set(&H(c)->ka, interval, timeout); }

static int h2_init(hb_conn *c) {
  h2 *h = hb_calloc(1, sizeof(*h));
  if (!h) return HB_ERR_NOMEM;
  h->c = c;
  h->server = c->http_server;
  c->engine_data = h;
  c->rmax = 16384;
  nghttp2_session_callbacks *cb;
  if (nghttp2_session_callbacks_new(&cb) != 0) return HB_ERR_NOMEM;
  nghttp2_session_callbacks_set_send_callback(cb, send_cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
  nghttp2_option *opt;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cb);
    return HB_ERR_NOMEM;
  }
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_send_header_block_length(opt, 256 * 1024);
  nghttp2_option_set_peer_max_concurrent_streams(opt, 100);
  /* The limits nghttp2 has knobs for follow the same keys as h2x's:
   * CVE-2023-44487 (reset rate), CVE-2024-28182 (CONTINUATION flood), SETTINGS
   * entries and the queue of control frames the peer makes us answer. */
  nghttp2_option_set_stream_reset_rate_limit(opt, c->limits->h2_reset_burst, c->limits->h2_reset_rate);
  nghttp2_option_set_max_continuations(opt, (size_t)c->limits->h2_max_continuations);
  nghttp2_option_set_max_settings(opt, (size_t)c->limits->h2_max_settings);
  nghttp2_option_set_max_outbound_ack(opt, (size_t)c->limits->h2_max_control_frames);
  int rv = h->server ? nghttp2_session_server_new2(&h->session, cb, h, opt)
                     : nghttp2_session_client_new2(&h->session, cb, h, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) return HB_ERR_NOMEM;
  const hb_limits *l = c->limits;
  nghttp2_settings_entry iv[5];
  size_t niv = 0;
  iv[niv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)l->max_streams};
  iv[niv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (uint32_t)l->stream_window};
  iv[niv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)l->header_bytes};
  if (!h->server) iv[niv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_PUSH, 0};
  /* RFC 8441 §3: only where a route carries tunnels (browsers that see it
   * send WebSockets over h2 and fail where nothing would serve them). */
  if (h->server && ((c->listener && c->listener->h2_connect_protocol) ||
                    (c->connector && c->connector->h2_connect_protocol)))
    iv[niv++] = (nghttp2_settings_entry){NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1};
  if (nghttp2_submit_settings(h->session, NGHTTP2_FLAG_NONE, iv, niv) != 0) return HB_ERR_NOMEM;
  if (l->connection_window > 65535)
    nghttp2_session_set_local_window_size(h->session, NGHTTP2_FLAG_NONE, 0, (int32_t)l->connection_window);
  if (h->server) hb_conn_set_timer(c, l->idle_timeout);
  hb_keepalive_init(&h->ka, c->w->loop, l->ping_interval, ka_busy, ka_send, ka_wake, h);
  hb_conn_want_flush(c);
  return 0;
}

static ssize_t h2_on_read(hb_conn *c, const uint8_t *data, size_t len) {
  h2 *h = H(c);
  ssize_t n = nghttp2_session_mem_recv(h->session, data, len);
  if (n < 0) {
    hb_log_info(c->id, -1, "HTTP/2 session error: %s", nghttp2_strerror((int)n));
    /* nghttp2 queued a GOAWAY for protocol errors: try to send it. */
    if (n != NGHTTP2_ERR_NOMEM && n != NGHTTP2_ERR_CALLBACK_FAILURE) {
      while (nghttp2_session_want_write(h->session) && nghttp2_session_send(h->session) == 0 &&
             hb_conn_out_space(c) > 0) {
      }
    }
    return HB_ERR_PROTO;
  }
  hb_conn_want_flush(c);
  return n;
}

static int h2_flush(hb_conn *c) {
  h2 *h = H(c);
  if (h->ka.failed) {
    hb_log_info(c->id, -1, "no PING answer within ping_interval: closing");
    return HB_ERR_TIMEOUT;
  }
  /* Release cleanly closed streams whose bytes the peer has taken. */
  for (h2s *t = h->streams, *next; t; t = next) {
    next = t->next;
    if (!t->closed) continue;
    if (!t->s.x || hb_stream_drained(&t->s)) {
      if (t->s.x) hb_exchange_on_close(&t->s);
      free_stream(h, t);
    }
  }
  if (h->capacity_changed && c->pool && h->remote_settings_seen) {
    h->capacity_changed = 0;
    hb_pool_on_capacity(c);
  }
  for (h2s *t = h->streams; t; t = t->next) {
    if (t->deferred && !t->closed && (hb_stream_pending(&t->s) > 0 || !hb_stream_peer(&t->s) ||
                                      hb_stream_peer_done(&t->s))) {
      t->deferred = 0;
      nghttp2_session_resume_data(h->session, t->id);
    }
  }
  if (h->peer_eof) return h->nstreams ? 0 : HB_ERR_EOF;
  int rv = nghttp2_session_send(h->session);
  if (rv != 0) {
    hb_log_info(c->id, -1, "HTTP/2 send failed: %s", nghttp2_strerror(rv));
    return HB_ERR_PROTO;
  }
  if (!nghttp2_session_want_read(h->session) && !nghttp2_session_want_write(h->session)) {
    /* The session is over.  Streams it never finished are lost with it;
     * streams that completed may still hold bytes the other leg has not
     * taken (a response after a graceful GOAWAY): those are delivered first. */
    for (h2s *t = h->streams, *next; t; t = next) {
      next = t->next;
      if (t->closed) continue;
      if (t->s.x) hb_exchange_on_reset(&t->s, "HTTP/2 session ended");
      free_stream(h, t);
    }
    if (h->nstreams == 0) return HB_ERR_EOF;
  }
  if ((h->draining || (h->goaway_received && !h->server)) && h->nstreams == 0) {
    c->closing_after_write = 1;
  }
  return 0;
}

static int h2_on_eof(hb_conn *c) {
  h2 *h = H(c);
  /* Streams the peer completed before closing still deliver what they hold;
   * the others are lost with the connection. */
  for (h2s *t = h->streams, *next; t; t = next) {
    next = t->next;
    if (t->closed) continue;
    if (t->s.x) hb_exchange_on_reset(&t->s, "connection closed by peer");
    free_stream(h, t);
  }
  h->peer_eof = 1;
  return h->nstreams ? 0 : HB_ERR_EOF;
}

static void h2_destroy(hb_conn *c, const char *reason) {
  h2 *h = H(c);
  if (!h) return;
  while (h->streams) {
    h2s *t = h->streams;
    if (t->s.x) hb_exchange_on_reset(&t->s, reason ? reason : "connection closed");
    free_stream(h, t);
  }
  hb_keepalive_stop(&h->ka);
  nghttp2_session_del(h->session);
  hb_free(h);
  c->engine_data = NULL;
}

static void h2_drain(hb_conn *c) {
  h2 *h = H(c);
  if (h->draining || h->drain_notice) return;
  if (h->server && nghttp2_submit_shutdown_notice(h->session) == 0 &&
      nghttp2_submit_ping(h->session, NGHTTP2_FLAG_NONE, HB_DRAIN_PING) == 0) {
    h->drain_notice = 1;
    hb_conn_want_flush(c);
    return;
  }
  if (h->server) {
    drain_final(h);
    return;
  }
  /* client: no new streams; closes once idle.  Where asked, a GOAWAY tells
   * the server (a reversed-HTTP origin, which then dials a replacement) at
   * once instead of when the connection closes. */
  h->draining = 1;
  if (c->goaway_on_drain)
    nghttp2_submit_goaway(h->session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->session),
                          NGHTTP2_NO_ERROR, NULL, 0);
  hb_conn_want_flush(c);
}

static int h2_idle(hb_conn *c) { return H(c)->nstreams == 0; }

static int h2_timeout(hb_conn *c) {
  h2 *h = H(c);
  if (h->server && h->nstreams == 0) {
    nghttp2_submit_goaway(h->session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->session),
                          NGHTTP2_NO_ERROR, NULL, 0);
    nghttp2_session_send(h->session);
    c->closing_after_write = 1;
    return 0;
  }
  return HB_ERR_TIMEOUT;
}

static int h2_open_stream(hb_conn *c, const hb_head *head, int end, hb_stream **out) {
  h2 *h = H(c);
  if (h->draining || h->goaway_received || h->peer_eof || c->state != HB_CONN_OPEN || c->closing_after_write)
    return HB_ERR_AGAIN;
  uint32_t remote_max = nghttp2_session_get_remote_settings(h->session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  size_t cap = c->pool ? c->pool->max_streams_per_conn : 100;
  if (remote_max < cap) cap = remote_max;
  if (h->nstreams >= cap) return HB_ERR_AGAIN;
  if (!nghttp2_session_check_request_allowed(h->session)) return HB_ERR_AGAIN;
  if (head->protocol) {
    /* RFC 8441 §4: only after the peer's SETTINGS_ENABLE_CONNECT_PROTOCOL=1. */
    if (!h->remote_settings_seen) return HB_ERR_AGAIN;
    if (nghttp2_session_get_remote_settings(h->session, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL) != 1)
      return HB_ERR_DECLINED;
    end = 0;
  }
  nghttp2_nv nva[256];
  size_t n = 0;
  nva[n++] = MKNV(":method", head->method, 7, strlen(head->method));
  if (head->protocol) nva[n++] = MKNV(":protocol", head->protocol, 9, strlen(head->protocol));
  nva[n++] = MKNV(":scheme", head->scheme ? head->scheme : "http", 7, strlen(head->scheme ? head->scheme : "http"));
  if (head->authority) nva[n++] = MKNV(":authority", head->authority, 10, strlen(head->authority));
  nva[n++] = MKNV(":path", head->path, 5, strlen(head->path));
  char cl[24];
  ssize_t k = fields_nv(head, nva, HB_ARRAY_LEN(nva), n, cl, sizeof(cl), 1);
  if (k < 0) return HB_ERR_TOO_LARGE;
  h2s *t = hb_calloc(1, sizeof(*t));
  if (!t) return HB_ERR_NOMEM;
  hb_stream_init(&t->s, c, 0, HB_STREAM_CLIENT, (size_t)c->limits->stream_window);
  nghttp2_data_provider prd = {.source = {.ptr = t}, .read_callback = data_read};
  int32_t id = nghttp2_submit_request(h->session, NULL, nva, (size_t)k, end ? NULL : &prd, t);
  if (id < 0) {
    hb_stream_clear(&t->s);
    hb_free(t);
    return id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE ? HB_ERR_AGAIN : HB_ERR_NOMEM;
  }
  t->id = id;
  t->s.id = id;
  t->s.tunnel = head->protocol != NULL;
  if (end) t->s.tx_eof = 1;
  link_stream(h, t);
  hb_conn_want_flush(c);
  *out = &t->s;
  return 0;
}

static int h2_submit_response(hb_stream *s, const hb_head *head, int end) {
  h2s *t = S(s);
  h2 *h = H(s->conn);
  if (t->closed) return HB_ERR_INVALID;
  nghttp2_nv nva[256];
  char st[8], cl[24];
  int k = snprintf(st, sizeof(st), "%d", head->status);
  nva[0] = MKNV(":status", st, 7, (size_t)k);
  if (t->s.tunnel && head->status / 100 != 2) t->s.tunnel = 0; /* refused */
  /* RFC 8441 / RFC 9110 §9.3.6: a 2xx to CONNECT has no Content-Length. */
  int no_cl = head->status == 204 || head->status == 304 || head->status < 200 || t->s.tunnel;
  ssize_t n = fields_nv(head, nva, HB_ARRAY_LEN(nva), 1, cl, sizeof(cl), !no_cl);
  if (n < 0) return HB_ERR_TOO_LARGE;
  int rv;
  if (head->status < 200) {
    rv = nghttp2_submit_headers(h->session, NGHTTP2_FLAG_NONE, t->id, NULL, nva, (size_t)n, NULL);
  } else {
    nghttp2_data_provider prd = {.source = {.ptr = t}, .read_callback = data_read};
    if (end) t->s.tx_eof = 1;
    rv = nghttp2_submit_response(h->session, t->id, nva, (size_t)n, end ? NULL : &prd);
  }
  if (rv != 0) return HB_ERR_PROTO;
  hb_conn_want_flush(s->conn);
  return 0;
}

static void h2_resume(hb_stream *s) { hb_conn_want_flush(s->conn); }

static void h2_refuse(hb_conn *c, uint32_t code, const char *debug) {
  h2 *h = H(c);
  nghttp2_submit_goaway(h->session, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h->session), code,
                        (const uint8_t *)debug, debug ? strlen(debug) : 0);
  h->draining = 1;
  c->closing_after_write = 1;
  hb_conn_want_flush(c);
}

static void h2_consumed(hb_stream *s, size_t n) {
  h2s *t = S(s);
  h2 *h = H(s->conn);
  if (n > 0) {
    if (t->closed) nghttp2_session_consume_connection(h->session, n);
    else nghttp2_session_consume(h->session, t->id, n);
  }
  hb_conn_want_flush(s->conn);
}

static void h2_reset(hb_stream *s, uint32_t code) {
  h2s *t = S(s);
  h2 *h = H(s->conn);
  s->x = NULL;
  if (!t->closed && t->id > 0) nghttp2_submit_rst_stream(h->session, NGHTTP2_FLAG_NONE, t->id, code);
  /* a closed stream is freed by the next flush (it has no exchange now) */
  hb_conn_want_flush(s->conn);
}

const hb_engine_ops hb_engine_h2 = {
  .name = "h2",
  .init = h2_init,
  .on_read = h2_on_read,
  .flush = h2_flush,
  .on_eof = h2_on_eof,
  .destroy = h2_destroy,
  .drain = h2_drain,
  .idle = h2_idle,
  .timeout = h2_timeout,
  .open_stream = h2_open_stream,
  .submit_response = h2_submit_response,
  .resume = h2_resume,
  .refuse = h2_refuse,
  .keepalive = h2_keepalive,
  .consumed = h2_consumed,
  .reset = h2_reset,
};
