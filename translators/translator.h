/* translator.h: head translations between protocol variants, as pure
 * functions on hb_head (DESIGN.md §2): no sockets, no engine state, so each is
 * unit-tested alone.  The output head is owned by the caller.  This version
 * has the plain-HTTP translation (h1 <-> h2 request and response heads);
 * WebSocket, reversed and extension translators plug in beside it. */
#ifndef HB_TRANSLATOR_H
#define HB_TRANSLATOR_H

#include "h2bridge.h"
#include "head.h"

typedef struct hb_translate_ctx {
  int upstream_tls;       /* the request leaves over TLS: :scheme https */
  int downstream_tls;     /* it arrived over TLS (Forwarded proto) */
  const char *client_addr; /* "1.2.3.4:5" or "[::1]:5" */
  int x_forwarded_for;    /* append the client to X-Forwarded-For */
  int forwarded;          /* add an RFC 7239 Forwarded element */
} hb_translate_ctx;

/* Builds in |out| (initialised here) the request to send upstream from the
 * request |in| received downstream: hop-by-hop fields removed (RFC 9110
 * §7.6.1; "te: trailers" kept), Host folded into :authority, :scheme set for
 * the upstream, X-Forwarded-For / Forwarded added when asked.
 * Returns 0 or HB_ERR_NOMEM (|out| is then freed). */
int hb_translate_request_plain(const hb_head *in, const hb_translate_ctx *ctx, hb_head *out);

/* Builds in |out| the response to send downstream from the upstream's |in|:
 * hop-by-hop fields removed.  0 or HB_ERR_NOMEM. */
int hb_translate_response_plain(const hb_head *in, hb_head *out);

#endif
