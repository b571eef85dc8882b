/* reverse_auth.c: reversed-HTTP origin authorization (potato §5).  Written by
 * hand: the exchange is h2bridge's own (DESIGN.md §3.2); the crypto is
 * OpenSSL's.  See reverse_auth.h. */
#include "reverse_auth.h"
#include "errors.h"
#include "mem.h"
#include "router.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int hb_rauth_challenge_new(char out[HB_RAUTH_CHALLENGE_LEN + 1]) {
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof(raw)) != 1) return HB_ERR_IO;
  EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw));
  return 0;
}

int hb_rauth_request(const char *path, const char *authority, const char *challenge, hb_head *out) {
  hb_head_init(out, 1);
  int rc = hb_head_set_pseudo(out, HB_PSEUDO_METHOD, "GET", 3);
  if (rc == 0) rc = hb_head_set_pseudo(out, HB_PSEUDO_PATH, path, strlen(path));
  if (rc == 0) rc = hb_head_set_pseudo(out, HB_PSEUDO_SCHEME, "https", 5);
  if (rc == 0) rc = hb_head_set_pseudo(out, HB_PSEUDO_AUTHORITY, authority, strlen(authority));
  if (rc == 0) rc = hb_head_add(out, "h2bridge-challenge", 18, challenge, strlen(challenge));
  if (rc != 0) hb_head_free(out);
  return rc;
}

/* Hex (any case, colons ignored) -> 32 bytes.  0 or -1. */
static int hex32(const char *s, unsigned char out[32]) {
  size_t n = 0;
  int hi = -1;
  for (; *s; s++) {
    int v;
    char c = *s;
    if (c == ':') continue;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return -1;
    if (hi < 0) {
      hi = v;
    } else {
      if (n == 32) return -1;
      out[n++] = (unsigned char)(hi << 4 | v);
      hi = -1;
    }
  }
  return n == 32 && hi < 0 ? 0 : -1;
}

static int token_ok(const hb_field *tok, const hb_rauth_policy *pol) {
  unsigned char md[32], want[32];
  unsigned int mdlen = 0;
  if (!EVP_Digest(tok->value, tok->valuelen, md, &mdlen, EVP_sha256(), NULL)) return 0;
  int ok = 0;
  for (size_t i = 0; i < pol->ntoken_sha256; i++)
    if (hex32(pol->token_sha256[i], want) == 0 && CRYPTO_memcmp(md, want, 32) == 0) ok = 1;
  OPENSSL_cleanse(md, sizeof(md));
  return ok;
}

static int proof_ok(const hb_field *proof, const char *challenge, const hb_rauth_policy *pol) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  if (!HMAC(EVP_sha256(), pol->hmac_key, (int)pol->hmac_key_len, (const unsigned char *)challenge, strlen(challenge),
            mac, &maclen))
    return 0;
  char want[64];
  int n = EVP_EncodeBlock((unsigned char *)want, mac, (int)maclen);
  OPENSSL_cleanse(mac, sizeof(mac));
  if (n < 0 || proof->valuelen != (size_t)n) return 0;
  return CRYPTO_memcmp(want, proof->value, (size_t)n) == 0;
}

static int push(char ***arr, size_t *n, const char *s, size_t len) {
  char **na = hb_realloc(*arr, (*n + 1) * sizeof(char *));
  if (!na) return HB_ERR_NOMEM;
  *arr = na;
  if (!(na[*n] = hb_strndup(s, len))) return HB_ERR_NOMEM;
  (*n)++;
  return 0;
}

void hb_rauth_grant_free(hb_rauth_grant *g) {
  for (size_t i = 0; i < g->nauthorities; i++) hb_free(g->authorities[i]);
  for (size_t i = 0; i < g->npaths; i++) hb_free(g->paths[i]);
  hb_free(g->authorities);
  hb_free(g->paths);
  memset(g, 0, sizeof(*g));
}

/* Calls |fn| for each trimmed element of the comma list |v|. */
static int each_item(const char *v, size_t len, int (*fn)(const char *, size_t, void *), void *ud) {
  size_t i = 0;
  while (i < len) {
    while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t s = i;
    while (i < len && v[i] != ',') i++;
    size_t e = i;
    while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
    if (e > s) {
      int rc = fn(v + s, e - s, ud);
      if (rc != 0) return rc;
    }
  }
  return 0;
}

typedef struct narrow_ctx {
  const hb_rauth_policy *pol;
  hb_rauth_grant *g;
  int paths;
} narrow_ctx;

/* An announced item joins the grant only when the config grants it too. */
static int narrow_item(const char *s, size_t len, void *ud) {
  narrow_ctx *n = ud;
  char item[512];
  if (len >= sizeof(item)) return 0;
  memcpy(item, s, len);
  item[len] = '\0';
  if (n->paths) {
    for (size_t i = 0; i < n->pol->npaths; i++) {
      const char *p = n->pol->paths[i];
      if (strncmp(item, p, strlen(p)) == 0) return push(&n->g->paths, &n->g->npaths, item, len);
    }
    if (n->pol->npaths == 0) return push(&n->g->paths, &n->g->npaths, item, len);
    return 0;
  }
  for (size_t i = 0; i < n->pol->nauthorities; i++)
    if (hb_router_authority_match(n->pol->authorities[i], item))
      return push(&n->g->authorities, &n->g->nauthorities, item, len);
  return 0;
}

int hb_rauth_grant_config(const hb_rauth_policy *pol, hb_rauth_grant *g) {
  memset(g, 0, sizeof(*g));
  for (size_t i = 0; i < pol->nauthorities; i++)
    if (push(&g->authorities, &g->nauthorities, pol->authorities[i], strlen(pol->authorities[i])) != 0) goto nomem;
  for (size_t i = 0; i < pol->npaths; i++)
    if (push(&g->paths, &g->npaths, pol->paths[i], strlen(pol->paths[i])) != 0) goto nomem;
  if (pol->npaths == 0 && push(&g->paths, &g->npaths, "/", 1) != 0) goto nomem;
  return 0;
nomem:
  hb_rauth_grant_free(g);
  return HB_ERR_NOMEM;
}

int hb_rauth_check(const hb_head *resp, const char *challenge, const hb_rauth_policy *pol, hb_rauth_grant *g,
                   const char **reason) {
  memset(g, 0, sizeof(*g));
  if (resp->status != 200) {
    *reason = "authorization request was not answered with 200";
    return HB_ERR_PROTO;
  }
  if (pol->ntoken_sha256) {
    const hb_field *tok = hb_head_get(resp, "h2bridge-token");
    if (!tok || !token_ok(tok, pol)) {
      *reason = tok ? "token not accepted" : "no h2bridge-token in the answer";
      return HB_ERR_PROTO;
    }
  }
  if (pol->hmac_key) {
    const hb_field *proof = hb_head_get(resp, "h2bridge-proof");
    if (!proof || !proof_ok(proof, challenge, pol)) {
      *reason = proof ? "proof does not match this connection's challenge" : "no h2bridge-proof in the answer";
      return HB_ERR_PROTO;
    }
  }
  const hb_field *a = hb_head_get(resp, "h2bridge-authorities");
  const hb_field *p = hb_head_get(resp, "h2bridge-paths");
  int rc;
  if (!a && !p) {
    rc = hb_rauth_grant_config(pol, g);
  } else {
    narrow_ctx n = {pol, g, 0};
    if (a) {
      rc = each_item(a->value, a->valuelen, narrow_item, &n);
    } else {
      rc = 0;
      for (size_t i = 0; rc == 0 && i < pol->nauthorities; i++)
        rc = push(&g->authorities, &g->nauthorities, pol->authorities[i], strlen(pol->authorities[i]));
    }
    n.paths = 1;
    if (rc == 0 && p) {
      rc = each_item(p->value, p->valuelen, narrow_item, &n);
    } else if (rc == 0) {
      for (size_t i = 0; rc == 0 && i < pol->npaths; i++)
        rc = push(&g->paths, &g->npaths, pol->paths[i], strlen(pol->paths[i]));
      if (rc == 0 && pol->npaths == 0) rc = push(&g->paths, &g->npaths, "/", 1);
    }
  }
  if (rc != 0) {
    hb_rauth_grant_free(g);
    return rc;
  }
  if (g->nauthorities == 0 || g->npaths == 0) {
    hb_rauth_grant_free(g);
    *reason = "the origin announced no authority or path the configuration grants";
    return HB_ERR_PROTO;
  }
  return 0;
}

int hb_rauth_grant_covers(const hb_rauth_grant *g, const char *authority, const char *path) {
  int a_ok = 0;
  for (size_t i = 0; i < g->nauthorities && !a_ok; i++) a_ok = hb_router_authority_match(g->authorities[i], authority);
  if (!a_ok) return 0;
  for (size_t i = 0; i < g->npaths; i++)
    if (path && strncmp(path, g->paths[i], strlen(g->paths[i])) == 0) return 1;
  return 0;
}

static int add_list(hb_head *h, const char *name, char *const *items, size_t n) {
  if (n == 0) return 0;
  char v[2048];
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    int k = snprintf(v + len, sizeof(v) - len, "%s%s", i ? ", " : "", items[i]);
    if (k < 0 || (size_t)k >= sizeof(v) - len) break;
    len += (size_t)k;
  }
  return hb_head_add(h, name, strlen(name), v, len);
}

int hb_rauth_answer(const char *challenge, const char *token, const uint8_t *key, size_t keylen,
                    char *const *authorities, size_t nauthorities, char *const *paths, size_t npaths,
                    hb_head *out) {
  hb_head_init(out, 0);
  out->status = 200;
  out->content_length = 0;
  int rc = 0;
  if (token) rc = hb_head_add(out, "h2bridge-token", 14, token, strlen(token));
  if (rc == 0 && key) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char b64[64];
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)challenge, strlen(challenge), mac, &maclen))
      rc = HB_ERR_IO;
    int n = rc == 0 ? EVP_EncodeBlock((unsigned char *)b64, mac, (int)maclen) : 0;
    OPENSSL_cleanse(mac, sizeof(mac));
    if (rc == 0) rc = hb_head_add(out, "h2bridge-proof", 14, b64, (size_t)n);
  }
  if (rc == 0) rc = add_list(out, "h2bridge-authorities", authorities, nauthorities);
  if (rc == 0) rc = add_list(out, "h2bridge-paths", paths, npaths);
  if (rc != 0) hb_head_free(out);
  return rc;
}
