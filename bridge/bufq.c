/* bufq.c: bounded chunk queue and the chunk cache.  See bufq.h. */
#include "bufq.h"
#include "errors.h"
#include "mem.h"

#include <string.h>

struct hb_chunk {
  hb_chunk *next;
  size_t pos, last; /* [pos, last) holds data; last <= HB_BUFQ_CHUNK */
  uint8_t data[HB_BUFQ_CHUNK];
};

/* A cache of free chunks keeps the hot path off malloc (and off brk/trim:
 * benchmarks showed a 64-chunk cache thrashing at 16 KiB messages); bounded
 * in bytes (8 MiB) so an idle process gives memory back. */
static hb_freelist cache = HB_FREELIST_INIT(512);

static hb_chunk *chunk_get(void) {
  hb_chunk *c = hb_freelist_get(&cache);
  if (!c) {
    c = hb_malloc(sizeof(*c));
    if (!c) return NULL;
  }
  c->next = NULL;
  c->pos = c->last = 0;
  return c;
}

static void chunk_put(hb_chunk *c) { hb_freelist_put(&cache, c); }

void hb_bufq_cache_trim(void) { hb_freelist_trim(&cache); }

void hb_bufq_init(hb_bufq *q, size_t limit) {
  q->head = q->tail = NULL;
  q->len = 0;
  q->limit = limit;
}

void hb_bufq_free(hb_bufq *q) {
  hb_chunk *c = q->head;
  while (c) {
    hb_chunk *n = c->next;
    chunk_put(c);
    c = n;
  }
  q->head = q->tail = NULL;
  q->len = 0;
}

static ssize_t bufq_put(hb_bufq *q, const void *data, size_t len) {
  const uint8_t *p = data;
  size_t done = 0;
  while (done < len) {
    hb_chunk *t = q->tail;
    if (!t || t->last == HB_BUFQ_CHUNK) {
      t = chunk_get();
      if (!t) return done ? (ssize_t)done : HB_ERR_NOMEM;
      if (q->tail) q->tail->next = t;
      else q->head = t;
      q->tail = t;
    }
    size_t n = HB_MIN(len - done, HB_BUFQ_CHUNK - t->last);
    memcpy(t->data + t->last, p + done, n);
    t->last += n;
    done += n;
    q->len += n;
  }
  return (ssize_t)done;
}

ssize_t hb_bufq_write(hb_bufq *q, const void *data, size_t len) {
  return bufq_put(q, data, HB_MIN(len, hb_bufq_space(q)));
}

ssize_t hb_bufq_write_force(hb_bufq *q, const void *data, size_t len) {
  return bufq_put(q, data, len);
}

size_t hb_bufq_peek(const hb_bufq *q, const uint8_t **data) {
  if (!q->head) {
    *data = NULL;
    return 0;
  }
  *data = q->head->data + q->head->pos;
  return q->head->last - q->head->pos;
}

int hb_bufq_iov(const hb_bufq *q, struct iovec *iov, int n) {
  int i = 0;
  for (hb_chunk *c = q->head; c && i < n; c = c->next) {
    if (c->last == c->pos) continue;
    iov[i].iov_base = c->data + c->pos;
    iov[i].iov_len = c->last - c->pos;
    i++;
  }
  return i;
}

void hb_bufq_drain(hb_bufq *q, size_t n) {
  while (n > 0 && q->head) {
    hb_chunk *c = q->head;
    size_t k = HB_MIN(n, c->last - c->pos);
    c->pos += k;
    n -= k;
    q->len -= k;
    if (c->pos == c->last) {
      q->head = c->next;
      if (!q->head) q->tail = NULL;
      chunk_put(c);
    }
  }
}

size_t hb_bufq_read(hb_bufq *q, void *dst, size_t len) {
  uint8_t *d = dst;
  size_t done = 0;
  while (done < len && q->len > 0) {
    const uint8_t *p;
    size_t n = hb_bufq_peek(q, &p);
    n = HB_MIN(n, len - done);
    memcpy(d + done, p, n);
    hb_bufq_drain(q, n);
    done += n;
  }
  return done;
}
