/* plain_http.c: the plain HTTP head translation, h1 <-> h2 in both directions.
 * Pure functions; see translator.h.  Owns nothing beyond the heads it builds
 * for the caller. */
#include "translator.h"
#include "errors.h"

#include <stdio.h>
#include <string.h>

/* "1.2.3.4:5" -> "1.2.3.4"; "[::1]:5" -> "::1". */
static void client_host(const char *addr, char *out, size_t len) {
  snprintf(out, len, "%s", addr ? addr : "unknown");
  char *colon = strrchr(out, ':');
  if (out[0] == '[') {
    char *e = strchr(out, ']');
    if (e) *e = '\0';
    memmove(out, out + 1, strlen(out + 1) + 1);
  } else if (colon) {
    *colon = '\0';
  }
}

/* Appends ", |item|" to field |name| (or sets it). */
static int append_list(hb_head *h, const char *name, const char *item) {
  const hb_field *f = hb_head_get(h, name);
  char v[1024];
  int n = f ? snprintf(v, sizeof(v), "%s, %s", f->value, item) : snprintf(v, sizeof(v), "%s", item);
  if (n >= (int)sizeof(v)) n = (int)sizeof(v) - 1;
  hb_head_remove(h, name);
  return hb_head_add(h, name, strlen(name), v, (size_t)n);
}

int hb_translate_add_forwarding(hb_head *h, const hb_translate_ctx *ctx) {
  int rc = 0;
  if (ctx->via) {
    char v[32];
    snprintf(v, sizeof(v), "%s h2bridge", ctx->via);
    rc = append_list(h, "via", v);
  }
  if (rc == 0 && ctx->x_forwarded_for) {
    char a[64];
    client_host(ctx->client_addr, a, sizeof(a));
    rc = append_list(h, "x-forwarded-for", a);
  }
  return rc;
}

int hb_translate_request_plain(const hb_head *in, const hb_translate_ctx *ctx, hb_head *out) {
  int rc = hb_head_copy(out, in);
  if (rc != 0) return rc;
  hb_head_strip_hop_by_hop(out, 1);
  const hb_field *host = hb_head_get(out, "host");
  if (host && !out->authority) rc = hb_head_set_pseudo(out, HB_PSEUDO_AUTHORITY, host->value, host->valuelen);
  hb_head_remove(out, "host");
  /* An Upgrade that is not translated travels as a plain request. */
  out->protocol = NULL;
  const char *scheme = ctx->upstream_tls ? "https" : "http";
  if (rc == 0) rc = hb_head_set_pseudo(out, HB_PSEUDO_SCHEME, scheme, strlen(scheme));
  char a[64];
  client_host(ctx->client_addr, a, sizeof(a));
  if (rc == 0) rc = hb_translate_add_forwarding(out, ctx);
  if (rc == 0 && ctx->forwarded) {
    char v[128];
    const char *proto = ctx->downstream_tls ? "https" : "http";
    int n = strchr(a, ':') ? snprintf(v, sizeof(v), "for=\"[%s]\";proto=%s", a, proto)
                           : snprintf(v, sizeof(v), "for=%s;proto=%s", a, proto);
    rc = hb_head_add(out, "forwarded", 9, v, (size_t)n);
  }
  if (rc != 0) hb_head_free(out);
  return rc;
}

int hb_translate_response_plain(const hb_head *in, hb_head *out) {
  int rc = hb_head_copy(out, in);
  if (rc != 0) return rc;
  hb_head_strip_hop_by_hop(out, 0);
  return 0;
}
