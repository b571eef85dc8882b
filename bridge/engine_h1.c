/* engine_h1.c: the HTTP/1.1 engine, server and client role, one exchange at a
 * time per connection (requests pipelined by a client wait in the conn's input
 * buffer).  Owns its one current stream; parses with h1_parse (strict, see
 * docs/decisions/0001-h1-parser.md); serialises heads and bodies with
 * Content-Length, chunked or close-delimited framing.  Worker-local. */
#include "conn.h"
#include "engine.h"
#include "errors.h"
#include "exchange.h"
#include "h1_parse.h"
#include "listener.h"
#include "log.h"
#include "mem.h"
#include "pool.h"
#include "stream.h"
#include "worker.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum in_state {
  IN_HEAD,    /* waiting for (the rest of) a head */
  IN_LENGTH,  /* Content-Length body */
  IN_CHUNKED, /* chunked body */
  IN_EOF,     /* response body until the connection closes */
  IN_UPGRADE, /* server: an Upgrade request waits for the upstream's answer */
  IN_TUNNEL,  /* tunnel bytes until EOF */
  IN_DONE     /* message complete */
};

enum out_state {
  OUT_IDLE,    /* nothing sent yet */
  OUT_LENGTH,  /* sending a Content-Length body */
  OUT_CHUNKED, /* sending a chunked body */
  OUT_EOF,     /* sending a close-delimited body */
  OUT_DISCARD, /* no body allowed (HEAD, 204, 304): drop what the peer sends */
  OUT_TUNNEL,  /* tunnel bytes until the peer's end, then a write shutdown */
  OUT_DONE     /* message complete */
};

typedef struct h1 {
  hb_conn *c;
  int server;
  hb_stream *s;
  int64_t seq;
  int in, out;
  uint64_t in_left, out_left;
  hb_h1_chunked ck;
  int keep_alive;
  int version_minor; /* server: the request's */
  int head_method;   /* the request is HEAD */
  char method[24];
  int draining, broken, reset_pending;
  int head_started;  /* server: bytes of a new head arrived */
  size_t scanned;    /* head bytes already checked by hb_h1_head_ready */
  const char *fail_reason;
} h1;

static h1 *H(hb_conn *c) { return c->engine_data; }

static hb_h1_limits limits_of(const hb_conn *c) {
  hb_h1_limits l = {(size_t)c->limits->header_bytes, (size_t)c->limits->header_fields};
  return l;
}

static int h1_init(hb_conn *c) {
  h1 *h = hb_calloc(1, sizeof(*h));
  if (!h) return HB_ERR_NOMEM;
  h->c = c;
  h->server = c->http_server;
  h->keep_alive = 1;
  c->engine_data = h;
  c->rmax = (size_t)c->limits->header_bytes + 4096;
  if (h->server) hb_conn_set_timer(c, c->limits->idle_timeout);
  return 0;
}

static hb_stream *stream_new(h1 *h, int role) {
  hb_stream *s = hb_malloc(sizeof(*s));
  if (!s) return NULL;
  hb_stream_init(s, h->c, ++h->seq, role, (size_t)h->c->limits->buffer);
  return s;
}

static void stream_free(h1 *h) {
  if (!h->s) return;
  hb_stream_clear(h->s);
  hb_free(h->s);
  h->s = NULL;
}

/* Writes a whole local answer and closes after it (server role). */
static void answer_and_close(h1 *h, int status, const char *reason) {
  hb_conn *c = h->c;
  const char *phrase = status == 400 ? "Bad Request" : status == 408 ? "Request Timeout"
                     : status == 431 ? "Request Header Fields Too Large"
                     : status == 501 ? "Not Implemented" : status == 505 ? "HTTP Version Not Supported"
                     : status == 503 ? "Service Unavailable" : "Error";
  char body[256], buf[512];
  int bn = snprintf(body, sizeof(body), "%d %s: %s\n", status, phrase, reason);
  int n = snprintf(buf, sizeof(buf),
                   "HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
                   "content-length: %d\r\nconnection: close\r\n\r\n%s",
                   status, phrase, bn, body);
  hb_conn_write(c, buf, (size_t)n);
  c->closing_after_write = 1;
  hb_conn_pause_read(c);
  hb_conn_want_flush(c);
  hb_log_info(c->id, -1, "refused request with %d: %s", status, reason);
  hb_access_rec r;
  memset(&r, 0, sizeof(r));
  r.conn = c->id;
  r.stream = h->seq + 1;
  r.client = c->peer;
  r.listener = c->listener ? c->listener->cfg->name : NULL;
  r.proto_in = c->ssl ? "https/1.1" : "http/1.1";
  r.status = status;
  r.error = reason;
  hb_access_log(&r);
}

/* Appends the fields of |head| as "name: value\r\n", skipping the ones the
 * engine writes itself. */
static int write_fields(hb_conn *c, const hb_head *head, int skip_host) {
  for (size_t i = 0; i < head->nfields; i++) {
    const hb_field *f = &head->fields[i];
    if (strcmp(f->name, "content-length") == 0 || strcmp(f->name, "transfer-encoding") == 0 ||
        strcmp(f->name, "connection") == 0)
      continue;
    if (skip_host && strcmp(f->name, "host") == 0) continue;
    /* Values came through a strict parser or nghttp2's validation; a CR or LF
     * here would split the message, so refuse rather than forward. */
    if (memchr(f->value, '\r', f->valuelen) || memchr(f->value, '\n', f->valuelen)) return HB_ERR_PROTO;
    if (hb_conn_write(c, f->name, f->namelen) != 0 || hb_conn_write(c, ": ", 2) != 0 ||
        hb_conn_write(c, f->value, f->valuelen) != 0 || hb_conn_write(c, "\r\n", 2) != 0)
      return HB_ERR_NOMEM;
  }
  return 0;
}

static void stop_reading_for_credit(hb_conn *c) { hb_conn_pause_read(c); }

/* Moves body bytes of the incoming message into s->rx.  Returns bytes consumed
 * or an error. */
static ssize_t read_body(h1 *h, const uint8_t *data, size_t len) {
  hb_stream *s = h->s;
  size_t used = 0;
  while (used < len) {
    size_t space = hb_bufq_space(&s->rx);
    if (h->in == IN_LENGTH || h->in == IN_EOF || h->in == IN_TUNNEL) {
      size_t n = len - used;
      if (h->in == IN_LENGTH && n > h->in_left) n = (size_t)h->in_left;
      if (n > space) n = space;
      if (n == 0) {
        stop_reading_for_credit(h->c);
        break;
      }
      if (hb_bufq_write(&s->rx, data + used, n) != (ssize_t)n) return HB_ERR_NOMEM;
      used += n;
      s->bytes_in += n;
      if (h->in == IN_LENGTH) {
        h->in_left -= n;
        if (h->in_left == 0) {
          h->in = IN_DONE;
          s->rx_eof = 1;
        }
      }
      hb_exchange_on_data(s);
    } else if (h->in == IN_CHUNKED) {
      if (space == 0) {
        stop_reading_for_credit(h->c);
        break;
      }
      size_t feed = HB_MIN(len - used, space);
      const uint8_t *d = NULL;
      size_t dlen = 0;
      int done = 0;
      const char *reason = NULL;
      if (!s->trailers) {
        s->trailers = hb_malloc(sizeof(hb_head));
        if (!s->trailers) return HB_ERR_NOMEM;
        hb_head_init(s->trailers, 0);
      }
      ssize_t n = hb_h1_chunked_feed(&h->ck, data + used, feed, &d, &dlen, s->trailers, &done, &reason);
      if (n < 0) {
        h->fail_reason = reason ? reason : "bad chunked body";
        return n;
      }
      if (dlen && hb_bufq_write(&s->rx, d, dlen) != (ssize_t)dlen) return HB_ERR_NOMEM;
      s->bytes_in += dlen;
      used += (size_t)n;
      if (done) {
        h->in = IN_DONE;
        s->rx_eof = 1;
        if (s->trailers->nfields == 0) {
          hb_head_free(s->trailers);
          hb_free(s->trailers);
          s->trailers = NULL;
        }
      }
      if (dlen || done) hb_exchange_on_data(s);
      if (n == 0 && !done) break;
    } else {
      break;
    }
  }
  return (ssize_t)used;
}

static ssize_t server_read(h1 *h, const uint8_t *data, size_t len) {
  hb_conn *c = h->c;
  size_t used = 0;
  while (used < len) {
    if (h->in == IN_HEAD) {
      if (h->s || h->draining) { /* pipelined: wait for the current exchange */
        hb_conn_pause_read(c);
        break;
      }
      if (!h->head_started) {
        h->head_started = 1;
        hb_conn_set_timer(c, c->limits->request_header_timeout);
      }
      /* Parse only once a whole head may be there: a client dripping bytes
       * must not make us re-parse the head on every read. */
      if (!hb_h1_head_ready(data + used, len - used, &h->scanned) && len - used <= c->limits->header_bytes)
        break;
      hb_stream *s = stream_new(h, HB_STREAM_SERVER);
      if (!s) return HB_ERR_NOMEM;
      hb_h1_msg msg;
      int status = 400;
      const char *reason = NULL;
      hb_h1_limits lim = limits_of(c);
      int rc = hb_h1_parse_request(data + used, len - used, &lim, &msg, &s->head, &status, &reason);
      if (rc == HB_ERR_INCOMPLETE) {
        hb_stream_clear(s);
        hb_free(s);
        h->seq--;
        break;
      }
      if (rc < 0) {
        hb_stream_clear(s);
        hb_free(s);
        if (rc == HB_ERR_NOMEM) return rc;
        if (rc == HB_ERR_TOO_LARGE) status = 431;
        answer_and_close(h, status, reason ? reason : "malformed request");
        return (ssize_t)len;
      }
      used += (size_t)rc;
      h->s = s;
      h->head_started = 0;
      h->scanned = 0;
      hb_conn_set_timer(c, 0);
      h->version_minor = msg.version_minor;
      h->keep_alive = msg.keep_alive;
      h->head_method = strcmp(s->head.method, "HEAD") == 0;
      h->out = OUT_IDLE;
      s->head_received = 1;
      const char *scheme = c->ssl ? "https" : "http";
      if (hb_head_set_pseudo(&s->head, HB_PSEUDO_SCHEME, scheme, strlen(scheme)) != 0) return HB_ERR_NOMEM;
      if (msg.upgrade) {
        const hb_field *up = hb_head_get(&s->head, "upgrade");
        if (up && hb_head_set_pseudo(&s->head, HB_PSEUDO_PROTOCOL, up->value, up->valuelen) != 0)
          return HB_ERR_NOMEM;
      }
      switch (msg.body) {
      case HB_H1_BODY_LENGTH:
        h->in = IN_LENGTH;
        h->in_left = msg.content_length;
        break;
      case HB_H1_BODY_CHUNKED:
        h->in = IN_CHUNKED;
        hb_h1_chunked_init(&h->ck, (size_t)c->limits->header_bytes);
        break;
      default:
        if (msg.upgrade) {
          /* Bytes after an Upgrade request belong to the tunnel, if there
           * will be one: read nothing more until the answer decides. */
          h->in = IN_UPGRADE;
          s->tunnel = 1;
        } else {
          h->in = IN_DONE;
          s->rx_eof = 1;
        }
      }
      if (msg.expect_continue && h->in != IN_DONE) {
        /* We stream the body anyway; tell the client to send it. */
        hb_head_remove(&s->head, "expect");
        hb_conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        hb_conn_want_flush(c);
      }
      hb_exchange_on_request(s);
      if (h->s == s && h->in == IN_UPGRADE && !s->tunnel) {
        /* Not tunnelled (no route for it): a plain request without a body. */
        h->in = IN_DONE;
        s->rx_eof = 1;
        h->keep_alive = 0;
        if (s->x) hb_exchange_on_data(s);
      }
      continue;
    }
    if (h->in == IN_DONE || h->in == IN_UPGRADE) {
      /* Bytes after a complete request: the next pipelined request. */
      hb_conn_pause_read(c);
      break;
    }
    ssize_t n = read_body(h, data + used, len - used);
    if (n < 0) {
      if (n == HB_ERR_NOMEM) return n;
      /* A malformed body (bad chunk): answer 400 while we still can, drop
       * the rest, and never read another request from this connection. */
      hb_stream *s = h->s;
      const char *why = h->fail_reason ? h->fail_reason : "malformed request body";
      hb_log_info(c->id, s->id, "request body refused: %s", why);
      h->in = IN_DONE;
      s->rx_eof = 1;
      h->keep_alive = 0;
      hb_conn_pause_read(c);
      if (s->x && !s->x->response_started) {
        hb_exchange_fail(s->x, 400, why);
      } else if (s->x) {
        hb_exchange_on_reset(s, why);
        return HB_ERR_PROTO;
      }
      return (ssize_t)len;
    }
    if (n == 0) break;
    used += (size_t)n;
  }
  return (ssize_t)used;
}

static ssize_t client_read(h1 *h, const uint8_t *data, size_t len) {
  hb_conn *c = h->c;
  size_t used = 0;
  while (used < len) {
    hb_stream *s = h->s;
    if (!s || h->in == IN_DONE) {
      /* Bytes the upstream sent outside a response: the framing is broken. */
      h->broken = 1;
      h->fail_reason = "upstream sent data outside a response";
      if (s && s->x && !s->rx_eof) hb_exchange_on_reset(s, h->fail_reason);
      return HB_ERR_PROTO;
    }
    if (h->in == IN_HEAD) {
      if (!hb_h1_head_ready(data + used, len - used, &h->scanned) && len - used <= c->limits->header_bytes)
        break;
      hb_h1_msg msg;
      const char *reason = NULL;
      hb_h1_limits lim = limits_of(c);
      int rc = hb_h1_parse_response(data + used, len - used, &lim, h->method, &msg, &s->head, &reason);
      if (rc == HB_ERR_INCOMPLETE) break;
      if (rc < 0) {
        h->broken = 1;
        h->fail_reason = reason ? reason : "malformed upstream response";
        hb_log_warn(c->id, s->id, "upstream response refused: %s", h->fail_reason);
        if (s->x) hb_exchange_on_reset(s, h->fail_reason);
        return rc == HB_ERR_NOMEM ? rc : HB_ERR_PROTO;
      }
      used += (size_t)rc;
      h->scanned = 0;
      if (s->head.status == 101) {
        if (!s->tunnel) {
          h->broken = 1;
          h->fail_reason = "upstream switched protocols without being asked";
          if (s->x) hb_exchange_on_reset(s, h->fail_reason);
          return HB_ERR_PROTO;
        }
        s->head_received = 1;
        h->in = IN_TUNNEL;
        h->out = OUT_TUNNEL;
        h->keep_alive = 0;
        if (s->x) hb_exchange_on_head(s);
        hb_conn_want_flush(c);
        continue;
      }
      if (s->head.status < 200) {
        if (s->x) hb_exchange_on_head(s);
        hb_head_free(&s->head);
        hb_head_init(&s->head, 0);
        continue;
      }
      s->head_received = 1;
      if (!msg.keep_alive) h->keep_alive = 0;
      if (s->tunnel) {
        /* Upgrade refused: an ordinary response; the connection is not
         * reused (THREATS.md §1c, 101 confusion). */
        s->tunnel = 0;
        h->out = OUT_DONE;
        s->tx_eof = 1;
        h->keep_alive = 0;
      }
      switch (msg.body) {
      case HB_H1_BODY_LENGTH:
        h->in = IN_LENGTH;
        h->in_left = msg.content_length;
        s->head.content_length = (int64_t)msg.content_length;
        break;
      case HB_H1_BODY_CHUNKED:
        h->in = IN_CHUNKED;
        hb_h1_chunked_init(&h->ck, (size_t)c->limits->header_bytes);
        break;
      case HB_H1_BODY_EOF:
        h->in = IN_EOF;
        h->keep_alive = 0;
        break;
      default:
        h->in = IN_DONE;
        s->rx_eof = 1;
        s->head.content_length = -1;
      }
      if (s->x) hb_exchange_on_head(s);
      hb_conn_want_flush(c);
      continue;
    }
    ssize_t n = read_body(h, data + used, len - used);
    if (n < 0) {
      h->broken = 1;
      if (h->s && h->s->x) hb_exchange_on_reset(h->s, h->fail_reason ? h->fail_reason : "bad upstream body");
      return n;
    }
    if (n == 0) break;
    used += (size_t)n;
    if (h->in == IN_DONE) hb_conn_want_flush(c);
  }
  return (ssize_t)used;
}

static ssize_t h1_on_read(hb_conn *c, const uint8_t *data, size_t len) {
  h1 *h = H(c);
  return h->server ? server_read(h, data, len) : client_read(h, data, len);
}

/* Writes what the peer stream has for us, within the output space. */
static int write_body(h1 *h) {
  hb_conn *c = h->c;
  hb_stream *s = h->s;
  uint8_t buf[16384];
  while (h->out == OUT_LENGTH || h->out == OUT_CHUNKED || h->out == OUT_EOF || h->out == OUT_DISCARD ||
         h->out == OUT_TUNNEL) {
    hb_stream *p = hb_stream_peer(s);
    size_t pending = hb_stream_pending(s);
    if (pending > 0) {
      size_t space = hb_conn_out_space(c);
      if (h->out == OUT_DISCARD) space = sizeof(buf);
      if (space == 0) return 0;
      size_t want = HB_MIN(HB_MIN(pending, space), sizeof(buf));
      if (h->out == OUT_LENGTH && want > h->out_left) {
        h->fail_reason = "body longer than its content-length";
        return HB_ERR_PROTO;
      }
      size_t n = hb_stream_pull(s, buf, want);
      if (h->out == OUT_DISCARD) continue;
      if (h->out == OUT_CHUNKED) {
        char hdr[24];
        int hn = snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
        hb_conn_write(c, hdr, (size_t)hn);
      }
      if (hb_conn_write(c, buf, n) != 0) return HB_ERR_NOMEM;
      if (h->out == OUT_CHUNKED) hb_conn_write(c, "\r\n", 2);
      if (h->out == OUT_LENGTH) h->out_left -= n;
      continue;
    }
    if (p && !hb_stream_peer_done(s)) return 0; /* wait for more */
    if (!p && !(s->x == NULL || s->x->us == NULL)) return 0;
    /* The peer's side is complete (or gone after completing). */
    if (h->out == OUT_CHUNKED) {
      hb_conn_write(c, "0\r\n", 3);
      if (p && p->trailers) write_fields(c, p->trailers, 1);
      hb_conn_write(c, "\r\n", 2);
    } else if (h->out == OUT_LENGTH && h->out_left != 0) {
      h->fail_reason = "body shorter than its content-length";
      return HB_ERR_PROTO;
    } else if (h->out == OUT_EOF) {
      h->keep_alive = 0;
    } else if (h->out == OUT_TUNNEL) {
      /* The peer ended its side (END_STREAM / FIN): half-close ours. */
      c->shutdown_wr = 1;
    }
    h->out = OUT_DONE;
    s->tx_eof = 1;
    hb_stream_take_eof(s);
  }
  return 0;
}

static int h1_flush(hb_conn *c) {
  h1 *h = H(c);
  if (h->reset_pending) return HB_ERR_PROTO;
  hb_stream *s = h->s;
  if (!s) {
    if (h->draining && !c->closing_after_write) return HB_ERR_EOF;
    return 0;
  }
  if (h->out != OUT_IDLE && h->out != OUT_DONE) {
    int rc = write_body(h);
    if (rc != 0) {
      hb_log_warn(c->id, s->id, "%s", h->fail_reason ? h->fail_reason : "body relay failed");
      if (s->x) hb_exchange_on_reset(s, h->fail_reason ? h->fail_reason : "body relay failed");
      return rc;
    }
  }
  /* Credit came back: read again. */
  if (c->read_paused && !c->closing_after_write && h->in != IN_DONE && h->in != IN_HEAD &&
      h->in != IN_UPGRADE && hb_bufq_space(&s->rx) > 0)
    hb_conn_resume_read(c);

  if (h->server) {
    hb_stream *p = hb_stream_peer(s);
    int peer_gone = p == NULL || p->conn == NULL; /* none, or a local answer */
    if (h->out == OUT_DONE && (h->in == IN_DONE || peer_gone) &&
        (hb_stream_drained(s) || peer_gone)) {
      if (h->in != IN_DONE) h->keep_alive = 0; /* unread request body: cannot reuse */
      hb_exchange_on_close(s);
      stream_free(h);
      h->in = IN_HEAD;
      if (!h->keep_alive || h->draining || c->eof_seen) {
        c->closing_after_write = 1;
        hb_conn_pause_read(c);
      } else {
        hb_conn_set_timer(c, c->limits->idle_timeout);
        hb_conn_resume_read(c);
        if (c->rlen) hb_conn_process_input(c);
      }
    }
  } else {
    if (h->in == IN_DONE && hb_stream_drained(s) && (h->out == OUT_DONE || !s->tunnel || !hb_stream_peer(s))) {
      int reusable = h->keep_alive && !h->broken && h->out == OUT_DONE && !c->eof_seen && !h->draining;
      hb_exchange_on_close(s);
      stream_free(h);
      if (!reusable) return HB_ERR_EOF;
      h->in = IN_HEAD;
      h->out = OUT_IDLE;
      hb_conn_arm_idle(c);
      hb_pool_on_capacity(c);
    }
  }
  return 0;
}

static int h1_on_eof(hb_conn *c) {
  h1 *h = H(c);
  hb_stream *s = h->s;
  if (h->server) {
    if (!s) return HB_ERR_EOF;
    if (h->in == IN_TUNNEL) { /* half-close: FIN -> END_STREAM */
      h->in = IN_DONE;
      s->rx_eof = 1;
      hb_exchange_on_data(s);
      hb_conn_want_flush(c);
      return 0;
    }
    if (h->in != IN_DONE && h->in != IN_HEAD && h->in != IN_UPGRADE) {
      if (s->x) hb_exchange_on_reset(s, "client closed the connection mid-request");
      return HB_ERR_EOF;
    }
    /* Half-close after a complete request: finish the response, then close. */
    h->keep_alive = 0;
    return 0;
  }
  if (!s) return HB_ERR_EOF;
  if (h->in == IN_EOF || h->in == IN_TUNNEL) {
    h->in = IN_DONE;
    s->rx_eof = 1;
    h->keep_alive = 0;
    hb_exchange_on_data(s);
    hb_conn_want_flush(c);
    return 0;
  }
  if (h->in == IN_DONE) {
    h->keep_alive = 0;
    return 0;
  }
  const char *why = h->in == IN_HEAD ? "upstream closed the connection before responding"
                                     : "upstream closed the connection mid-response";
  if (s->x) hb_exchange_on_reset(s, why);
  return HB_ERR_EOF;
}

static void h1_destroy(hb_conn *c, const char *reason) {
  h1 *h = H(c);
  if (!h) return;
  if (h->s && h->s->x) hb_exchange_on_reset(h->s, reason ? reason : "connection closed");
  stream_free(h);
  hb_free(h);
  c->engine_data = NULL;
}

static void h1_drain(hb_conn *c) {
  h1 *h = H(c);
  h->draining = 1;
  h->keep_alive = 0;
  hb_conn_want_flush(c);
}

static int h1_idle(hb_conn *c) { return H(c)->s == NULL; }

static int h1_timeout(hb_conn *c) {
  h1 *h = H(c);
  if (h->server && !h->s && h->head_started && !c->closing_after_write) {
    answer_and_close(h, 408, "request head not received in time");
    return 0;
  }
  return HB_ERR_TIMEOUT;
}

static int is_body_method(const char *m) {
  return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

static int h1_open_stream(hb_conn *c, const hb_head *head, int end, hb_stream **out) {
  h1 *h = H(c);
  if (h->s || h->broken || h->draining || c->eof_seen || c->state != HB_CONN_OPEN || c->closing_after_write)
    return HB_ERR_AGAIN;
  if (!head->method || !head->path || !head->authority) return HB_ERR_INVALID;
  hb_stream *s = stream_new(h, HB_STREAM_CLIENT);
  if (!s) return HB_ERR_NOMEM;
  snprintf(h->method, sizeof(h->method), "%s", head->method);
  char line[64];
  int rc = 0;
  if (hb_conn_write(c, head->method, strlen(head->method)) != 0 || hb_conn_write(c, " ", 1) != 0 ||
      hb_conn_write(c, head->path, strlen(head->path)) != 0 ||
      hb_conn_write(c, " HTTP/1.1\r\nhost: ", 17) != 0 ||
      hb_conn_write(c, head->authority, strlen(head->authority)) != 0 || hb_conn_write(c, "\r\n", 2) != 0)
    rc = HB_ERR_NOMEM;
  if (rc == 0) rc = write_fields(c, head, 1);
  if (rc == 0 && head->protocol) {
    /* A tunnel request (RFC 6455 §4.1): no body; tunnel bytes follow a 101. */
    if (hb_conn_write(c, "upgrade: ", 9) != 0 || hb_conn_write(c, head->protocol, strlen(head->protocol)) != 0 ||
        hb_conn_write(c, "\r\nconnection: upgrade\r\n\r\n", 25) != 0)
      rc = HB_ERR_NOMEM;
    s->tunnel = 1;
    h->out = OUT_IDLE;
  } else if (rc == 0) {
    if (end) {
      h->out = OUT_DONE;
      s->tx_eof = 1;
      if (is_body_method(head->method)) hb_conn_write(c, "content-length: 0\r\n", 19);
    } else if (head->content_length >= 0) {
      h->out = OUT_LENGTH;
      h->out_left = (uint64_t)head->content_length;
      int n = snprintf(line, sizeof(line), "content-length: %lld\r\n", (long long)head->content_length);
      hb_conn_write(c, line, (size_t)n);
    } else {
      h->out = OUT_CHUNKED;
      hb_conn_write(c, "transfer-encoding: chunked\r\n", 28);
    }
    if (hb_conn_write(c, "\r\n", 2) != 0) rc = HB_ERR_NOMEM;
  }
  if (rc != 0) {
    /* Part of a head may be queued: this connection cannot be used again. */
    h->broken = 1;
    hb_stream_clear(s);
    hb_free(s);
    return rc;
  }
  h->s = s;
  h->in = IN_HEAD;
  h->keep_alive = 1;
  hb_conn_set_timer(c, 0);
  hb_conn_want_flush(c);
  *out = s;
  return 0;
}

static int h1_submit_response(hb_stream *s, const hb_head *head, int end) {
  hb_conn *c = s->conn;
  h1 *h = H(c);
  char line[128];
  int status = head->status;
  if (status == 101) {
    if (!s->tunnel) return HB_ERR_INVALID;
    hb_conn_write(c, "HTTP/1.1 101 Switching Protocols\r\n", 34);
    int rc = write_fields(c, head, 0);
    if (rc != 0) return rc;
    if (hb_conn_write(c, "connection: upgrade\r\n\r\n", 23) != 0) return HB_ERR_NOMEM;
    h->in = IN_TUNNEL;
    h->out = OUT_TUNNEL;
    h->keep_alive = 0;
    hb_conn_resume_read(c);
    hb_conn_want_flush(c);
    return 0;
  }
  if (status >= 200 && s->tunnel) {
    /* The tunnel was refused: the Upgrade request had no body; the
     * connection closes after this answer so no byte the client sent for
     * the tunnel is ever read as a request. */
    s->tunnel = 0;
    if (h->in == IN_UPGRADE) {
      h->in = IN_DONE;
      s->rx_eof = 1;
      if (s->x) hb_exchange_on_data(s);
    }
    h->keep_alive = 0;
  }
  if (status < 200) {
    if (h->version_minor == 0) return 0; /* HTTP/1.0 clients get no 1xx */
    int n = snprintf(line, sizeof(line), "HTTP/1.1 %d Continue\r\n", status);
    if (status != 100) n = snprintf(line, sizeof(line), "HTTP/1.1 %d Informational\r\n", status);
    hb_conn_write(c, line, (size_t)n);
    write_fields(c, head, 0);
    hb_conn_write(c, "\r\n", 2);
    hb_conn_want_flush(c);
    return 0;
  }
  int n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status, status == 200 ? "OK" : "");
  if (status != 200) {
    /* The reason phrase is optional (RFC 9112 §4); keep it short and standard. */
    n = snprintf(line, sizeof(line), "HTTP/1.1 %d \r\n", status);
  }
  hb_conn_write(c, line, (size_t)n);
  int rc = write_fields(c, head, 0);
  if (rc != 0) return rc;
  int no_body = h->head_method || status == 204 || status == 304;
  if (no_body) {
    h->out = OUT_DISCARD;
    if (head->content_length >= 0 && status != 204) {
      n = snprintf(line, sizeof(line), "content-length: %lld\r\n", (long long)head->content_length);
      hb_conn_write(c, line, (size_t)n);
    }
  } else if (head->content_length >= 0) {
    h->out = OUT_LENGTH;
    h->out_left = (uint64_t)head->content_length;
    n = snprintf(line, sizeof(line), "content-length: %lld\r\n", (long long)head->content_length);
    hb_conn_write(c, line, (size_t)n);
  } else if (end) {
    h->out = OUT_LENGTH;
    h->out_left = 0;
    hb_conn_write(c, "content-length: 0\r\n", 19);
  } else if (h->version_minor >= 1) {
    h->out = OUT_CHUNKED;
    hb_conn_write(c, "transfer-encoding: chunked\r\n", 28);
  } else {
    h->out = OUT_EOF;
    h->keep_alive = 0;
  }
  if (!h->keep_alive || h->draining) hb_conn_write(c, "connection: close\r\n", 19);
  else if (h->version_minor == 0) hb_conn_write(c, "connection: keep-alive\r\n", 24);
  if (hb_conn_write(c, "\r\n", 2) != 0) return HB_ERR_NOMEM;
  if (end) {
    if (h->out == OUT_DISCARD || (h->out == OUT_LENGTH && h->out_left == 0)) {
      h->out = OUT_DONE;
      s->tx_eof = 1;
    }
  }
  hb_conn_want_flush(c);
  return 0;
}

static void h1_resume(hb_stream *s) { hb_conn_want_flush(s->conn); }

static void h1_refuse(hb_conn *c, uint32_t code, const char *debug) {
  (void)code;
  (void)debug; /* HTTP/1.1 has no way to say it: the connection just closes */
  h1 *h = H(c);
  h->broken = 1;
  h->keep_alive = 0;
  c->closing_after_write = 1;
  hb_conn_want_flush(c);
}

static void h1_consumed(hb_stream *s, size_t n) {
  (void)n;
  hb_conn_want_flush(s->conn);
}

static void h1_reset(hb_stream *s, uint32_t code) {
  (void)code;
  h1 *h = H(s->conn);
  /* HTTP/1.1 has no per-stream reset: the connection goes. */
  h->reset_pending = 1;
  h->broken = 1;
  /* A tunnel's reset travels as a TCP reset (RFC 8441 §5). */
  if (s->tunnel) s->conn->abort_close = 1;
  hb_conn_want_flush(s->conn);
}

const hb_engine_ops hb_engine_h1 = {
  .name = "h1",
  .init = h1_init,
  .on_read = h1_on_read,
  .flush = h1_flush,
  .on_eof = h1_on_eof,
  .destroy = h1_destroy,
  .drain = h1_drain,
  .idle = h1_idle,
  .timeout = h1_timeout,
  .open_stream = h1_open_stream,
  .submit_response = h1_submit_response,
  .resume = h1_resume,
  .refuse = h1_refuse,
  .consumed = h1_consumed,
  .reset = h1_reset,
};
