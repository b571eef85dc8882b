/* ws_h1_h2.c: WebSocket handshake translation, RFC 6455 (HTTP/1.1 Upgrade)
 * <-> RFC 8441 (HTTP/2 extended CONNECT), both directions, plus the same-kind
 * relays (DESIGN.md §3.1).  Pure functions on heads; frames are never touched.
 * The caller owns every head. */
#include "translator.h"
#include "errors.h"
#include "ws_handshake.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

int hb_ws_check_h1_request(const hb_head *in, int *status, const char **reason) {
  *status = 400;
  if (!in->method || strcmp(in->method, "GET") != 0) {
    *reason = "a WebSocket upgrade must be a GET";
    return HB_ERR_PROTO;
  }
  const hb_field *key = hb_head_get(in, "sec-websocket-key");
  if (!key || !hb_ws_key_valid(key->value, key->valuelen)) {
    *reason = "missing or malformed Sec-WebSocket-Key";
    return HB_ERR_PROTO;
  }
  const hb_field *ver = hb_head_get(in, "sec-websocket-version");
  if (!ver || strcmp(ver->value, "13") != 0) {
    *reason = "Sec-WebSocket-Version must be 13";
    return HB_ERR_PROTO;
  }
  return 0;
}

/* Copies |in| without hop-by-hop fields, Host, and the fields named in |drop|. */
static int copy_without(const hb_head *in, hb_head *out, const char *const *drop, size_t ndrop) {
  int rc = hb_head_copy(out, in);
  if (rc != 0) return rc;
  hb_head_strip_hop_by_hop(out, 0);
  for (size_t i = 0; i < ndrop; i++) hb_head_remove(out, drop[i]);
  return 0;
}

int hb_ws_request_to_upstream(const hb_head *in, int in_h2, int out_h2, const hb_translate_ctx *ctx,
                              hb_head *out, char key[HB_WS_KEY_LEN + 1]) {
  static const char *const drop_h2[] = {"host", "sec-websocket-key"};
  static const char *const drop_h1[] = {"host"};
  int rc = out_h2 ? copy_without(in, out, drop_h2, HB_ARRAY_LEN(drop_h2))
                  : copy_without(in, out, drop_h1, HB_ARRAY_LEN(drop_h1));
  if (rc != 0) return rc;
  const hb_field *host = hb_head_get(in, "host");
  if (!out->authority && host) rc = hb_head_set_pseudo(out, HB_PSEUDO_AUTHORITY, host->value, host->valuelen);
  const char *scheme = ctx->upstream_tls ? "https" : "http";
  if (rc == 0) rc = hb_head_set_pseudo(out, HB_PSEUDO_SCHEME, scheme, strlen(scheme));
  key[0] = '\0';
  if (rc == 0 && out_h2) {
    rc = hb_head_set_pseudo(out, HB_PSEUDO_METHOD, "CONNECT", 7);
  } else if (rc == 0) {
    rc = hb_head_set_pseudo(out, HB_PSEUDO_METHOD, "GET", 3);
    if (rc == 0 && in_h2) {
      /* h2 -> h1: a fresh key of our own, checked against the Accept later. */
      if (hb_ws_key_new(key) != 0) rc = HB_ERR_IO;
      if (rc == 0) rc = hb_head_add(out, "sec-websocket-key", 17, key, HB_WS_KEY_LEN);
      if (rc == 0 && !hb_head_get(out, "sec-websocket-version")) rc = hb_head_add(out, "sec-websocket-version", 21, "13", 2);
    } else if (rc == 0) {
      const hb_field *k = hb_head_get(out, "sec-websocket-key");
      if (k) snprintf(key, HB_WS_KEY_LEN + 1, "%s", k->value);
    }
  }
  if (rc == 0) rc = hb_translate_add_forwarding(out, ctx);
  if (rc != 0) hb_head_free(out);
  return rc;
}

int hb_ws_check_h1_response(const hb_head *resp, const char *key, const char **reason) {
  const hb_field *up = hb_head_get(resp, "upgrade");
  if (!up || !hb_token_list_has(up->value, up->valuelen, "websocket")) {
    *reason = "upstream answered 101 without Upgrade: websocket";
    return HB_ERR_PROTO;
  }
  const hb_field *acc = hb_head_get(resp, "sec-websocket-accept");
  char want[HB_WS_ACCEPT_LEN + 1];
  hb_ws_accept(key, strlen(key), want);
  if (!acc || acc->valuelen != HB_WS_ACCEPT_LEN || memcmp(acc->value, want, HB_WS_ACCEPT_LEN) != 0) {
    *reason = "upstream answered 101 with a wrong Sec-WebSocket-Accept";
    return HB_ERR_PROTO;
  }
  return 0;
}

int hb_ws_response_to_downstream(const hb_head *in, int out_h2, const char *client_key, hb_head *out) {
  static const char *const drop[] = {"sec-websocket-accept", "content-length"};
  int rc = copy_without(in, out, drop, HB_ARRAY_LEN(drop));
  if (rc != 0) return rc;
  out->content_length = -1; /* a 2xx CONNECT / 101 carries no Content-Length */
  if (out_h2) {
    out->status = 200;
    return 0;
  }
  out->status = 101;
  char acc[HB_WS_ACCEPT_LEN + 1];
  hb_ws_accept(client_key, strlen(client_key), acc);
  rc = hb_head_add(out, "upgrade", 7, "websocket", 9);
  if (rc == 0) rc = hb_head_add(out, "sec-websocket-accept", 20, acc, HB_WS_ACCEPT_LEN);
  if (rc != 0) hb_head_free(out);
  return rc;
}
