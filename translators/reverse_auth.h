/* reverse_auth.h: the origin authorization exchange of reversed HTTP
 * (DESIGN.md §3.2, potato §5.2-5.3) as pure functions on heads: the gateway's
 * challenge request and its check of the answer (bearer token by SHA-256, or
 * HMAC-SHA256 proof over the fresh challenge), the scope grant, and the
 * connector's answer.  Secrets are compared in constant time and never
 * copied into heads the gateway logs.  The caller owns every head and grant. */
#ifndef HB_REVERSE_AUTH_H
#define HB_REVERSE_AUTH_H

#include "h2bridge.h"
#include "head.h"

#define HB_RAUTH_CHALLENGE_LEN 44 /* base64 of 32 random bytes */

/* Writes a fresh challenge (and a NUL).  0 or HB_ERR_IO (no randomness). */
int hb_rauth_challenge_new(char out[HB_RAUTH_CHALLENGE_LEN + 1]);

/* The gateway's first request: GET |path| on |authority| carrying the
 * challenge.  |out| is initialised here.  0 or HB_ERR_NOMEM. */
int hb_rauth_request(const char *path, const char *authority, const char *challenge, hb_head *out);

typedef struct hb_rauth_policy {
  char *const *token_sha256; /* hex (case and colons ignored); none: no token check */
  size_t ntoken_sha256;
  const uint8_t *hmac_key;   /* NULL: no proof check */
  size_t hmac_key_len;
  char *const *authorities;  /* what the config grants */
  size_t nauthorities;
  char *const *paths;        /* path prefixes the config grants; none: "/" */
  size_t npaths;
} hb_rauth_policy;

typedef struct hb_rauth_grant {
  char **authorities; /* owned */
  size_t nauthorities;
  char **paths;       /* owned */
  size_t npaths;
} hb_rauth_grant;

/* Checks the origin's answer |resp| to |challenge| against |pol|: status
 * 200, the token and/or proof the policy asks for, and the scope it may
 * narrow with h2bridge-authorities / h2bridge-paths (intersected with the
 * config's).  On success fills |grant| (free with hb_rauth_grant_free) and
 * returns 0; else HB_ERR_PROTO with a static |*reason| (never the secret), or
 * HB_ERR_NOMEM. */
int hb_rauth_check(const hb_head *resp, const char *challenge, const hb_rauth_policy *pol, hb_rauth_grant *grant,
                   const char **reason);
void hb_rauth_grant_free(hb_rauth_grant *g);
/* The grant from config alone (no answer to narrow it). */
int hb_rauth_grant_config(const hb_rauth_policy *pol, hb_rauth_grant *grant);
/* True when |g| covers |authority| (host compared case-insensitively, the
 * port ignored unless the grant names one) and |path| (prefix). */
int hb_rauth_grant_covers(const hb_rauth_grant *g, const char *authority, const char *path);

/* The connector's answer to a challenge: 200 with h2bridge-token (|token|)
 * or h2bridge-proof (HMAC of |challenge| with |key|), and the scope it
 * announces.  |out| is initialised here.  0 or HB_ERR_NOMEM. */
int hb_rauth_answer(const char *challenge, const char *token, const uint8_t *key, size_t keylen,
                    char *const *authorities, size_t nauthorities, char *const *paths, size_t npaths,
                    hb_head *out);

#endif
