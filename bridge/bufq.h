/* bufq.h: bounded byte queue made of fixed-size chunks taken from a process-wide
 * chunk cache.  The queue owns its chunks; "full" means the producer must stop
 * reading or stop granting credit, never grow.  Worker-local (not thread-safe). */
#ifndef HB_BUFQ_H
#define HB_BUFQ_H

#include "h2bridge.h"
#include <sys/types.h>
#include <sys/uio.h>

#define HB_BUFQ_CHUNK 16384

typedef struct hb_chunk hb_chunk;

typedef struct hb_bufq {
  hb_chunk *head, *tail;
  size_t len;   /* bytes queued */
  size_t limit; /* most bytes it may hold */
} hb_bufq;

void hb_bufq_init(hb_bufq *q, size_t limit);
/* Frees every chunk (back to the cache). */
void hb_bufq_free(hb_bufq *q);
static inline size_t hb_bufq_len(const hb_bufq *q) { return q->len; }
static inline size_t hb_bufq_space(const hb_bufq *q) { return q->len >= q->limit ? 0 : q->limit - q->len; }
/* Copies up to min(|len|, space) bytes of |data|; returns how many were taken,
 * or HB_ERR_NOMEM when a chunk could not be had and nothing was taken. */
ssize_t hb_bufq_write(hb_bufq *q, const void *data, size_t len);
/* Like hb_bufq_write but ignores the limit (for small protocol-generated heads,
 * whose size is bounded by the head limits). */
ssize_t hb_bufq_write_force(hb_bufq *q, const void *data, size_t len);
/* Sets |*data| to the first contiguous span; returns its length (0 if empty). */
size_t hb_bufq_peek(const hb_bufq *q, const uint8_t **data);
/* Fills up to |n| iovecs with the queued spans; returns how many were set. */
int hb_bufq_iov(const hb_bufq *q, struct iovec *iov, int n);
/* Drops |n| bytes from the front (n <= len). */
void hb_bufq_drain(hb_bufq *q, size_t n);
/* Copies up to |len| bytes into |dst| and drops them; returns the count. */
size_t hb_bufq_read(hb_bufq *q, void *dst, size_t len);
/* Gives back cached free chunks to the allocator (on shutdown, and in tests). */
void hb_bufq_cache_trim(void);

#endif
