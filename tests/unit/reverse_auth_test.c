/* reverse_auth_test.c: the reversed-HTTP authorization exchange without
 * sockets: tokens, HMAC proofs bound to the challenge, scope narrowing. */
#include <string.h>
#include <CUnit/CUnit.h>
#include <openssl/evp.h>

#include "hb_test.h"
#include "errors.h"
#include "reverse_auth.h"

static char token_hash[65];
static char *hashes[1] = {token_hash};
static char *auths[2] = {"app.example.com", "*.api.example.com"};
static char *paths[2] = {"/app", "/static"};
static const uint8_t key[] = "0123456789abcdef-key";

static void sha256_hex(const char *s, char out[65]) {
  unsigned char md[32];
  unsigned int n;
  EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
  for (int i = 0; i < 32; i++) sprintf(out + 2 * i, "%02X", md[i]); /* upper case on purpose */
}

static hb_rauth_policy policy(int token, int hmac) {
  hb_rauth_policy p;
  memset(&p, 0, sizeof(p));
  if (token) {
    p.token_sha256 = hashes;
    p.ntoken_sha256 = 1;
  }
  if (hmac) {
    p.hmac_key = key;
    p.hmac_key_len = sizeof(key) - 1;
  }
  p.authorities = auths;
  p.nauthorities = 2;
  p.paths = paths;
  p.npaths = 2;
  return p;
}

static void test_token(void) {
  sha256_hex("s3cret", token_hash);
  char ch[HB_RAUTH_CHALLENGE_LEN + 1];
  CU_ASSERT_EQUAL(hb_rauth_challenge_new(ch), 0);
  CU_ASSERT_EQUAL(strlen(ch), HB_RAUTH_CHALLENGE_LEN);
  hb_head req;
  CU_ASSERT_EQUAL(hb_rauth_request("/auth", "app.example.com", ch, &req), 0);
  CU_ASSERT_STRING_EQUAL(hb_head_get(&req, "h2bridge-challenge")->value, ch);
  hb_head_free(&req);
  hb_rauth_policy pol = policy(1, 0);
  hb_head ans;
  CU_ASSERT_EQUAL(hb_rauth_answer(ch, "s3cret", NULL, 0, NULL, 0, NULL, 0, &ans), 0);
  hb_rauth_grant g;
  const char *why = NULL;
  CU_ASSERT_EQUAL(hb_rauth_check(&ans, ch, &pol, &g, &why), 0);
  CU_ASSERT_EQUAL(g.nauthorities, 2);
  CU_ASSERT(hb_rauth_grant_covers(&g, "APP.example.com:443", "/app/x"));
  CU_ASSERT(hb_rauth_grant_covers(&g, "x.api.example.com", "/static/y"));
  CU_ASSERT(!hb_rauth_grant_covers(&g, "app.example.com", "/admin"));
  CU_ASSERT(!hb_rauth_grant_covers(&g, "evil.example.com", "/app"));
  hb_rauth_grant_free(&g);
  hb_head_free(&ans);
  CU_ASSERT_EQUAL(hb_rauth_answer(ch, "wrong", NULL, 0, NULL, 0, NULL, 0, &ans), 0);
  CU_ASSERT_EQUAL(hb_rauth_check(&ans, ch, &pol, &g, &why), HB_ERR_PROTO);
  CU_ASSERT_STRING_EQUAL(why, "token not accepted");
  ans.status = 403;
  CU_ASSERT_EQUAL(hb_rauth_check(&ans, ch, &pol, &g, &why), HB_ERR_PROTO);
  hb_head_free(&ans);
}

static void test_hmac_replay(void) {
  char ch1[HB_RAUTH_CHALLENGE_LEN + 1], ch2[HB_RAUTH_CHALLENGE_LEN + 1];
  hb_rauth_challenge_new(ch1);
  hb_rauth_challenge_new(ch2);
  CU_ASSERT(strcmp(ch1, ch2) != 0);
  hb_rauth_policy pol = policy(0, 1);
  hb_head ans;
  hb_rauth_grant g;
  const char *why = NULL;
  CU_ASSERT_EQUAL(hb_rauth_answer(ch1, NULL, key, sizeof(key) - 1, NULL, 0, NULL, 0, &ans), 0);
  CU_ASSERT_EQUAL(hb_rauth_check(&ans, ch1, &pol, &g, &why), 0);
  hb_rauth_grant_free(&g);
  /* The same proof replayed against a new challenge fails. */
  CU_ASSERT_EQUAL(hb_rauth_check(&ans, ch2, &pol, &g, &why), HB_ERR_PROTO);
  CU_ASSERT_STRING_EQUAL(why, "proof does not match this connection's challenge");
  hb_head_free(&ans);
  /* Token and proof both required when both are configured. */
  sha256_hex("s3cret", token_hash);
  hb_rauth_policy both = policy(1, 1);
  CU_ASSERT_EQUAL(hb_rauth_answer(ch1, NULL, key, sizeof(key) - 1, NULL, 0, NULL, 0, &ans), 0);
  CU_ASSERT_EQUAL(hb_rauth_check(&ans, ch1, &both, &g, &why), HB_ERR_PROTO);
  hb_head_free(&ans);
}

static void test_scope(void) {
  sha256_hex("s3cret", token_hash);
  char ch[HB_RAUTH_CHALLENGE_LEN + 1];
  hb_rauth_challenge_new(ch);
  hb_rauth_policy pol = policy(1, 0);
  char *ann_a[2] = {"app.example.com", "not-granted.example.com"};
  char *ann_p[2] = {"/app/v2", "/admin"};
  hb_head ans;
  hb_rauth_grant g;
  const char *why;
  CU_ASSERT_EQUAL(hb_rauth_answer(ch, "s3cret", NULL, 0, ann_a, 2, ann_p, 2, &ans), 0);
  CU_ASSERT_EQUAL(hb_rauth_check(&ans, ch, &pol, &g, &why), 0);
  CU_ASSERT_EQUAL(g.nauthorities, 1); /* not-granted dropped */
  CU_ASSERT_EQUAL(g.npaths, 1);       /* /admin dropped */
  CU_ASSERT(hb_rauth_grant_covers(&g, "app.example.com", "/app/v2/x"));
  CU_ASSERT(!hb_rauth_grant_covers(&g, "app.example.com", "/app/v1"));
  CU_ASSERT(!hb_rauth_grant_covers(&g, "x.api.example.com", "/app/v2"));
  hb_rauth_grant_free(&g);
  hb_head_free(&ans);
  char *none[1] = {"evil.example.com"};
  CU_ASSERT_EQUAL(hb_rauth_answer(ch, "s3cret", NULL, 0, none, 1, NULL, 0, &ans), 0);
  CU_ASSERT_EQUAL(hb_rauth_check(&ans, ch, &pol, &g, &why), HB_ERR_PROTO);
  hb_head_free(&ans);
}

int hb_test_reverse_auth(void) {
  CU_pSuite s = CU_add_suite("reverse_auth", NULL, NULL);
  if (!s || !CU_add_test(s, "token", test_token) || !CU_add_test(s, "hmac_replay", test_hmac_replay) ||
      !CU_add_test(s, "scope", test_scope))
    return -1;
  return 0;
}
