/* gateway.h: the gateway role of reversed HTTP (DESIGN.md §3.2, potato §5):
 * a TLS conn that selected rh2/rh1 is authorized (client certificate pin or
 * CA, then the challenge request) and joins its origin's pool with the scope
 * it was granted.  An hb_reverse is owned by its conn.  Worker-local. */
#ifndef HB_GATEWAY_H
#define HB_GATEWAY_H

#include "h2bridge.h"
#include "reverse_auth.h"

typedef struct hb_conn hb_conn;
typedef struct hb_exchange hb_exchange;
typedef struct hb_stream hb_stream;

typedef struct hb_reverse {
  int authorized;
  size_t origin;          /* index in cfg->origins once authorized */
  hb_rauth_grant grant;   /* authorities and paths it may serve */
  size_t candidates[16];  /* origins whose checks it may still pass */
  size_t ncandidates;
  char challenge[HB_RAUTH_CHALLENGE_LEN + 1];
  char origin_id[64];     /* h2bridge-origin-id the origin announced, if any */
} hb_reverse;

/* Called once the engine runs (HTTP client role) on an accepted conn whose
 * ALPN is rh2/rh1: checks the certificate, sends the challenge request or
 * authorizes at once.  On refusal the conn is made to go away with a reason. */
void hb_gateway_start(hb_conn *c);
/* The answer to the challenge request arrived on |us| (x is the auth exchange). */
void hb_gateway_on_auth_head(hb_exchange *x, hb_stream *us);
/* The challenge request failed or timed out. */
void hb_gateway_auth_failed(hb_exchange *x, const char *reason);
/* Frees the conn's reverse state. */
void hb_gateway_free(hb_conn *c);

#endif
