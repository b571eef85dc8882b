/* translator.h: head translations between protocol variants, as pure
 * functions on hb_head (DESIGN.md §2): no sockets, no engine state, so each is
 * unit-tested alone.  The output head is owned by the caller.  This version
 * has the plain-HTTP translation (h1 <-> h2 request and response heads);
 * WebSocket, reversed and extension translators plug in beside it. */
#ifndef HB_TRANSLATOR_H
#define HB_TRANSLATOR_H

#include "h2bridge.h"
#include "head.h"
#include "ws_handshake.h"

typedef struct hb_translate_ctx {
  int upstream_tls;       /* the request leaves over TLS: :scheme https */
  int downstream_tls;     /* it arrived over TLS (Forwarded proto) */
  const char *client_addr; /* "1.2.3.4:5" or "[::1]:5" */
  int x_forwarded_for;    /* append the client to X-Forwarded-For */
  int forwarded;          /* add an RFC 7239 Forwarded element */
  const char *via;        /* RFC 9110 §7.6.3 received-protocol ("1.1", "2") to
                             append to Via as "<proto> h2bridge"; NULL: none */
} hb_translate_ctx;

/* Appends "<ctx->via> h2bridge" to the Via field of |h| (RFC 9110 §7.6.3) and
 * the client to X-Forwarded-For when asked.  0 or HB_ERR_NOMEM. */
int hb_translate_add_forwarding(hb_head *h, const hb_translate_ctx *ctx);

/* Builds in |out| (initialised here) the request to send upstream from the
 * request |in| received downstream: hop-by-hop fields removed (RFC 9110
 * §7.6.1; "te: trailers" kept), Host folded into :authority, :scheme set for
 * the upstream, X-Forwarded-For / Forwarded added when asked.
 * Returns 0 or HB_ERR_NOMEM (|out| is then freed). */
int hb_translate_request_plain(const hb_head *in, const hb_translate_ctx *ctx, hb_head *out);

/* Builds in |out| the response to send downstream from the upstream's |in|:
 * hop-by-hop fields removed.  0 or HB_ERR_NOMEM. */
int hb_translate_response_plain(const hb_head *in, hb_head *out);


/* ---- WebSocket (RFC 6455 <-> RFC 8441), translators/ws_h1_h2.c ---- */

/* Checks an RFC 6455 opening handshake received over HTTP/1.1: GET, a valid
 * Sec-WebSocket-Key, version 13.  0, or HB_ERR_PROTO with |*status| (400)
 * and a static |*reason|. */
int hb_ws_check_h1_request(const hb_head *in, int *status, const char **reason);

/* Builds the upstream handshake from the downstream one: to HTTP/2 an
 * extended CONNECT (:protocol kept, Sec-WebSocket-Key dropped), to HTTP/1.1 a
 * GET (the engine adds Upgrade/Connection) carrying the client's key (h1
 * downstream) or a fresh one (h2 downstream).  |key| gets the key sent
 * upstream ("" toward HTTP/2), to check the upstream's Accept.  Hop-by-hop
 * fields and Host are dropped; :scheme follows the upstream's TLS.
 * 0 or HB_ERR_NOMEM/HB_ERR_IO (|out| freed). */
int hb_ws_request_to_upstream(const hb_head *in, int in_h2, int out_h2, const hb_translate_ctx *ctx,
                              hb_head *out, char key[HB_WS_KEY_LEN + 1]);

/* Checks an HTTP/1.1 upstream's 101: Upgrade: websocket and the Accept that
 * matches |key|.  0 or HB_ERR_PROTO with |*reason|. */
int hb_ws_check_h1_response(const hb_head *resp, const char *key, const char **reason);

/* Builds the downstream success answer from the upstream's (101 or 2xx):
 * toward HTTP/2 a 200, toward HTTP/1.1 a 101 with Upgrade and the Accept
 * computed from |client_key|; no Content-Length either way. */
int hb_ws_response_to_downstream(const hb_head *in, int out_h2, const char *client_key, hb_head *out);

#endif
