/* stream.c: the engine-independent stream helpers.  See stream.h. */
#include "stream.h"
#include "conn.h"
#include "engine.h"
#include "exchange.h"
#include "mem.h"

#include <string.h>

const char hb_stream_refused[] = "stream refused";

void hb_stream_init(hb_stream *s, hb_conn *conn, int64_t id, int role, size_t rx_limit) {
  memset(s, 0, sizeof(*s));
  s->conn = conn;
  s->id = id;
  s->role = role;
  hb_head_init(&s->head, role == HB_STREAM_SERVER);
  hb_bufq_init(&s->rx, rx_limit);
}

void hb_stream_clear(hb_stream *s) {
  hb_head_free(&s->head);
  hb_bufq_free(&s->rx);
  if (s->trailers) {
    hb_head_free(s->trailers);
    hb_free(s->trailers);
    s->trailers = NULL;
  }
}

hb_stream *hb_stream_peer(const hb_stream *s) {
  if (!s->x) return NULL;
  return s->x->ds == s ? s->x->us : s->x->ds;
}

size_t hb_stream_pending(const hb_stream *s) {
  hb_stream *p = hb_stream_peer(s);
  return p ? hb_bufq_len(&p->rx) : 0;
}

int hb_stream_peer_done(const hb_stream *s) {
  hb_stream *p = hb_stream_peer(s);
  return p && p->rx_eof && hb_bufq_len(&p->rx) == 0;
}

size_t hb_stream_pull(hb_stream *s, uint8_t *dst, size_t len) {
  hb_stream *p = hb_stream_peer(s);
  if (!p) return 0;
  size_t n = hb_bufq_read(&p->rx, dst, len);
  if (n > 0) {
    s->bytes_out += n;
    if (p->conn && p->conn->engine) p->conn->engine->consumed(p, n);
  }
  return n;
}

void hb_stream_take_eof(hb_stream *s) {
  hb_stream *p = hb_stream_peer(s);
  if (!p || p->eof_taken) return;
  p->eof_taken = 1;
  if (p->conn && p->conn->engine) p->conn->engine->consumed(p, 0);
}

int hb_stream_drained(const hb_stream *s) {
  if (!s->rx_eof) return 0;
  const hb_stream *p = hb_stream_peer(s);
  if (!p || !p->conn) return 1; /* nobody, or a local answer, reads our bytes */
  return hb_bufq_len(&s->rx) == 0 && s->eof_taken;
}
