/* stream.h: the engine-independent stream (DESIGN.md §2).  A stream is one
 * request/response (or tunnel) on one leg.  It is owned by its engine; the
 * exchange that pairs it with another stream only borrows it, and is told by
 * hb_exchange_on_close() before the engine frees it.  Received body bytes wait
 * in |rx|, bounded by the credit the engine granted (h2 window, h1 buffer);
 * the peer leg pulls from there and calls back to return the credit. */
#ifndef HB_STREAM_H
#define HB_STREAM_H

#include "h2bridge.h"
#include "bufq.h"
#include "head.h"

typedef struct hb_conn hb_conn;
typedef struct hb_exchange hb_exchange;

/* Who sent the request on this stream, seen from h2bridge: kept apart from the
 * connection role (who dialed), since reversed and peer-initiated legs invert it. */
enum hb_stream_role {
  HB_STREAM_SERVER, /* the peer sent the request; we answer */
  HB_STREAM_CLIENT  /* we sent the request; the peer answers */
};

enum hb_stream_state {
  HB_STREAM_OPEN,        /* head exchanged or pending, bytes may flow both ways */
  HB_STREAM_HALF_LOCAL,  /* we ended our sending side */
  HB_STREAM_HALF_REMOTE, /* the peer ended its sending side */
  HB_STREAM_CLOSED       /* both ended, or reset */
};

typedef struct hb_stream {
  hb_conn *conn;
  int64_t id;          /* h2 stream id; h1: 1-based request number on the conn */
  int role;            /* enum hb_stream_role */
  hb_exchange *x;      /* borrowed; NULL when detached */
  hb_head head;        /* the head received (request or final response) */
  int head_received;
  hb_bufq rx;          /* body bytes received, not yet taken by the peer */
  int rx_eof;          /* the peer ended its side (all of rx is the rest) */
  hb_head *trailers;   /* received trailers, owned; NULL if none */
  int tx_eof;          /* we ended our side */
  int eof_taken;       /* the peer saw our end (and trailers): we may be released */
  int released;        /* detached from its exchange */
  int tunnel;          /* request asks for a tunnel (Upgrade / extended CONNECT); cleared
                          when it is refused, kept while the tunnel runs */
  uint64_t bytes_in, bytes_out;
  void *engine_data;   /* engine-private per-stream state */
} hb_stream;

/* The reset reason engines give for a stream the peer never processed
 * (REFUSED_STREAM, or above a GOAWAY's last stream id; RFC 9113 §8.7): the
 * exchange may send its request again.  Compared by address. */
extern const char hb_stream_refused[];

/* Initialises |s| for |conn| with an rx limit of |rx_limit| bytes. */
void hb_stream_init(hb_stream *s, hb_conn *conn, int64_t id, int role, size_t rx_limit);
/* Frees the head, rx bytes and trailers. */
void hb_stream_clear(hb_stream *s);
/* The stream this one relays with, or NULL. */
hb_stream *hb_stream_peer(const hb_stream *s);
/* Takes up to |len| bytes from |s|'s peer's rx into |dst|, returns the count
 * and gives the credit back to the peer's engine. */
size_t hb_stream_pull(hb_stream *s, uint8_t *dst, size_t len);
/* Bytes waiting in the peer's rx (0 when none or no peer). */
size_t hb_stream_pending(const hb_stream *s);
/* True when the peer's side is finished and its rx is empty. */
int hb_stream_peer_done(const hb_stream *s);
/* Marks that |s| has seen its peer's end (and taken its trailers) and tells
 * the peer's engine, which may now release the peer (from its own flush). */
void hb_stream_take_eof(hb_stream *s);
/* True when nothing of |s| is still needed by its peer: rx drained, the end
 * seen by the peer (or no peer left). */
int hb_stream_drained(const hb_stream *s);

#endif
