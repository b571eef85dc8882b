/* h1_parse.h: strict HTTP/1.1 message parser (RFC 9112) for untrusted bytes:
 * request and response heads, and a resumable chunked-body decoder.  Pure: no
 * I/O, no allocation except through hb_head (which owns the copied fields).
 * Refuses every request-smuggling shape (THREATS.md §1b) with a reason.
 * Written by hand: see docs/decisions/0001-h1-parser.md. */
#ifndef HB_H1_PARSE_H
#define HB_H1_PARSE_H

#include "h2bridge.h"
#include "head.h"
#include <sys/types.h>

/* How the body of a message is delimited (RFC 9112 §6.3). */
enum hb_h1_body {
  HB_H1_BODY_NONE,    /* no body (Content-Length: 0, or none on a request, 1xx/204/304, HEAD) */
  HB_H1_BODY_LENGTH,  /* Content-Length bytes */
  HB_H1_BODY_CHUNKED, /* chunked transfer coding */
  HB_H1_BODY_EOF      /* response read until close */
};

typedef struct hb_h1_msg {
  int version_minor;   /* 1 for HTTP/1.1, 0 for HTTP/1.0 */
  int body;            /* enum hb_h1_body */
  uint64_t content_length; /* body bytes to read when body is LENGTH, else 0
                              (the declared value, if any, is head->content_length) */
  int keep_alive;      /* connection persists after this message */
  int upgrade;         /* request: Connection: upgrade + Upgrade present */
  int expect_continue; /* request: Expect: 100-continue */
  /* Request: method, path(target), authority (from Host) are set in the head;
   * response: status.  Header fields are copied into the head as received
   * (names lower-cased, values without leading/trailing OWS), hop-by-hop ones
   * included: the caller strips them.  Exception: a repeated or list
   * Content-Length ("5, 5") is replaced by one canonical "content-length". */
} hb_h1_msg;

typedef struct hb_h1_limits {
  size_t max_head_bytes;   /* whole head incl. request line (0: 64 KiB) */
  size_t max_fields;       /* header field lines (0: 100) */
} hb_h1_limits;             /* a NULL |limits| means both defaults */

/* Cap on one chunk-size line (size, extensions and CR), RFC 9112 §7.1.1. */
#define HB_H1_CHUNK_LINE_MAX 4096

/* Parses one complete request head at the start of |buf|.
 * Returns the number of bytes the head took (through the blank line) and fills
 * |msg| and |head| (head must be hb_head_init'ed as a request);
 * HB_ERR_INCOMPLETE when the head is not complete yet and still within
 *   limits->max_head_bytes;
 * HB_ERR_TOO_LARGE (-> 431) when the head exceeds max_head_bytes or max_fields;
 * HB_ERR_PROTO (-> 400, or 501 for an unknown transfer coding when |*status|
 *   says so) on any malformed or ambiguous input;
 * HB_ERR_NOMEM.  On errors |*reason| gets a static string and |*status| the
 * HTTP status to answer with (400, 431, 501, 505; 500 for NOMEM), and |head|
 * is emptied again (freed and re-initialised); on success and INCOMPLETE
 * |*status|/|*reason| are not touched and INCOMPLETE leaves |head| untouched.
 * Bare CR/LF are refused as soon as they arrive, even in an incomplete head.
 * head->scheme stays NULL (the listener knows it); CONNECT sets authority and
 * no path; OPTIONS * sets path "*". */
int hb_h1_parse_request(const uint8_t *buf, size_t len, const hb_h1_limits *limits,
                        hb_h1_msg *msg, hb_head *head, int *status, const char **reason);

/* Cheap, resumable pre-check so an engine need not re-parse a growing head
 * from the start on every read (which is quadratic for a sender dripping one
 * byte at a time).  |*scanned| starts at 0 for a new message and is kept by
 * the caller between calls with the same, growing |buf|.  Returns 1 when
 * hb_h1_parse_request/response is worth calling: a blank line (CRLFCRLF) or a
 * bare CR/LF is present (the parser then reports the error); 0 when neither is
 * in |buf| yet.  The caller still enforces max_head_bytes by calling the
 * parser once |len| reaches it.  No allocation, cannot fail. */
int hb_h1_head_ready(const uint8_t *buf, size_t len, size_t *scanned);

/* Same for a response head.  |request_method| ("HEAD", "CONNECT", ...) decides
 * the body kind (RFC 9112 §6.3).  1xx responses are returned like any other
 * (body NONE); the caller loops for the final one.  Returns the head length,
 * HB_ERR_INCOMPLETE, HB_ERR_TOO_LARGE, HB_ERR_PROTO or HB_ERR_NOMEM with the
 * same |head| rules as above; any Transfer-Encoding other than "chunked" is
 * HB_ERR_PROTO (we never decode other transfer codings). */
int hb_h1_parse_response(const uint8_t *buf, size_t len, const hb_h1_limits *limits,
                         const char *request_method, hb_h1_msg *msg, hb_head *head,
                         const char **reason);

/* Resumable chunked-body decoder (RFC 9112 §7.1). */
typedef struct hb_h1_chunked {
  int state;
  uint64_t remaining;  /* bytes left in the current chunk */
  size_t ext_len;      /* chunk-extension bytes seen on this line (capped at 4096) */
  size_t trailer_len;  /* trailer section bytes so far */
  size_t max_trailer;  /* cap for the trailer section (set by init) */
  size_t tbuf_len;     /* partial trailer line buffered in tbuf */
  int err;             /* sticky error code once state is "error" */
  const char *err_reason; /* its static reason */
  char tbuf[1024];     /* one trailer field line at a time */
} hb_h1_chunked;

/* |max_trailer_bytes| caps the trailer field lines (CRLFs included, the final
 * blank line not); 0 refuses any trailer field. */
void hb_h1_chunked_init(hb_h1_chunked *c, size_t max_trailer_bytes);
/* Name of the decoder's current state, for logs (static string). */
const char *hb_h1_chunked_state_str(const hb_h1_chunked *c);

/* Feeds |len| bytes of |src|.  Returns the number of bytes consumed (>= 0),
 * setting |*data|/|*data_len| to a span of body bytes inside |src| (possibly
 * empty: the caller passes them on, then calls again with the rest).  Trailer
 * fields are added to |trailers| (may be NULL to drop them; forbidden ones —
 * content-length, transfer-encoding, host, connection... — are dropped).
 * |*done| becomes 1 once the last chunk and trailer section are complete; the
 * return value then counts only bytes up to the end of the body.
 * Errors: HB_ERR_PROTO (bad chunk size, overflow, missing CRLF, bare LF,
 * oversized extension or trailers) with |*reason|; HB_ERR_NOMEM.  Errors are
 * sticky: later calls fail again with the same code and reason.  At most one
 * data span per call, so a call may stop before the end of |src| with bytes
 * left: call again.  When an error follows a data span in the same call, the
 * span is returned first and the error on the next call, so the body bytes
 * delivered never depend on how the input was split. */
ssize_t hb_h1_chunked_feed(hb_h1_chunked *c, const uint8_t *src, size_t len,
                           const uint8_t **data, size_t *data_len, hb_head *trailers,
                           int *done, const char **reason);

#endif
