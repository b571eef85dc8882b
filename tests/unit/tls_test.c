/* tls_test.c: unit tests of tls.c: in-memory handshakes (BIO pairs) between
 * contexts built from hand-filled hb_config structs, with a test PKI made by
 * tests/data/gen-certs.sh (found via $HB_SRCDIR, default ".") in a temporary
 * directory the suite owns and removes.  Single-threaded. */
#include "tls.h"
#include "errors.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "hb_test.h"

enum { C_SERVER, C_OTHER, C_CLIENT, C_EXPIRED, C_MISMATCH, C_GEN, C_MISSING, C_HALF, C_COUNT };

static char tmpdir[] = "/tmp/hb-tls-test.XXXXXX";
static char cert_path[C_COUNT][PATH_MAX], key_path[C_COUNT][PATH_MAX];
static char cert_names[C_COUNT][16];
static char ca_path[PATH_MAX];
static hb_config_cert certs[C_COUNT];
static hb_config cfg;

static char p_h2[] = "h2", p_h1[] = "http/1.1", p_rh2[] = "rh2";

/* --- fixture ------------------------------------------------------------ */

static void set_cert(int i, const char *name, const char *cert, const char *key) {
  snprintf(cert_names[i], sizeof(cert_names[i]), "%s", name);
  snprintf(cert_path[i], sizeof(cert_path[i]), "%s/%s", tmpdir, cert);
  snprintf(key_path[i], sizeof(key_path[i]), "%s/%s", tmpdir, key);
  certs[i].name = cert_names[i];
  certs[i].cert = cert_path[i];
  certs[i].key = key_path[i];
}

static int suite_init(void) {
  const char *src = getenv("HB_SRCDIR");
  char cmd[2 * PATH_MAX];

  if (src == NULL || src[0] == '\0') src = ".";
  if (mkdtemp(tmpdir) == NULL) return -1;
  snprintf(cmd, sizeof(cmd), "sh '%s/tests/data/gen-certs.sh' '%s'", src, tmpdir);
  if (system(cmd) != 0) return -1;

  set_cert(C_SERVER, "server", "server.pem", "server.key");
  set_cert(C_OTHER, "other", "other.pem", "other.key");
  set_cert(C_CLIENT, "client", "client.pem", "client.key");
  set_cert(C_EXPIRED, "expired", "expired.pem", "expired.key");
  set_cert(C_MISMATCH, "mismatch", "server.pem", "other.key");
  set_cert(C_GEN, "gen", "gen/certs/gen.pem", "gen/private/gen.key");
  certs[C_GEN].generate = 1;
  set_cert(C_MISSING, "missing", "nope.pem", "nope.key");
  set_cert(C_HALF, "half", "half.pem", "server.key"); /* key exists, cert does not */
  certs[C_HALF].generate = 1;
  snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", tmpdir);
  cfg.certs = certs;
  cfg.ncerts = C_COUNT;
  return 0;
}

static int suite_clean(void) {
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static hb_config_listener mk_listener(size_t *idx, size_t n, char **alpn, size_t nalpn) {
  hb_config_listener l;
  memset(&l, 0, sizeof(l));
  l.name = p_h2; /* any name: only used for errors and the session id context */
  l.tls = 1;
  l.certs = idx;
  l.ncerts = n;
  l.alpn = alpn;
  l.nalpn = nalpn;
  return l;
}

static hb_config_upstream mk_upstream(char *ca, int verify, int protocol, char *client_cert) {
  hb_config_upstream u;
  memset(&u, 0, sizeof(u));
  u.name = p_h1;
  u.tls = 1;
  u.tls_ca = ca;
  u.tls_verify = verify;
  u.protocol = protocol;
  u.tls_client_cert = client_cert;
  return u;
}

static SSL_CTX *server_ctx(hb_config_listener *l) {
  SSL_CTX *ctx = NULL;
  char err[512];
  int rv = hb_tls_server_ctx_new(&cfg, l, &ctx, err, sizeof(err));
  if (rv != 0) fprintf(stderr, "server ctx: %s\n", err);
  CU_ASSERT_EQUAL(rv, 0);
  return ctx;
}

static SSL_CTX *client_ctx(hb_config_upstream *u) {
  SSL_CTX *ctx = NULL;
  char err[512];
  int rv = hb_tls_client_ctx_new(&cfg, u, &ctx, err, sizeof(err));
  if (rv != 0) fprintf(stderr, "client ctx: %s\n", err);
  CU_ASSERT_EQUAL(rv, 0);
  return ctx;
}

/* --- in-memory handshake -------------------------------------------------- */

typedef struct hs {
  int client_ok, server_ok;
  int client_alert, server_alert;      /* last alert read, -1 none */
  unsigned long client_err, server_err; /* first queued error */
  char client_msg[256], server_msg[256];
  long verify_result;                   /* client side */
  char peer_cn[128];                    /* CN of the server cert the client saw */
  char client_fp[65];                   /* server side: SHA-256 of the client cert, or "" */
  const char *alpn_client, *alpn_server;
  int version;
  char cipher[64];
} hs;

static void info_cb(const SSL *ssl, int where, int ret) {
  int *alert = SSL_get_app_data(ssl);
  if (alert != NULL && (where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT) *alert = ret & 0xff;
}

/* One step of one side: 1 done, 0 in progress, -1 failed. */
static int step(SSL *ssl, unsigned long *err, char *msg, size_t msglen) {
  int rc, e;
  ERR_clear_error(); /* the queue is shared by both sides of this thread */
  rc = SSL_do_handshake(ssl);
  if (rc == 1) return 1;
  e = SSL_get_error(ssl, rc);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  *err = ERR_peek_error();
  hb_tls_strerror(ssl, rc, msg, msglen);
  return -1;
}

static SSL *raw_client(SSL_CTX *ctx) {
  SSL *ssl = SSL_new(ctx);
  if (ssl != NULL) SSL_set_connect_state(ssl);
  return ssl;
}

/* Runs a handshake between client |c| and a new SSL of |sctx|; frees |c|. */
static void handshake(SSL_CTX *sctx, SSL *c, hs *r) {
  SSL *s = SSL_new(sctx);
  BIO *cb = NULL, *sb = NULL;
  int cs = 0, ss = 0;
  char fp[65];

  memset(r, 0, sizeof(*r));
  r->client_alert = r->server_alert = -1;
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_FATAL(BIO_new_bio_pair(&cb, 0, &sb, 0) == 1);
  SSL_set_bio(c, cb, cb);
  SSL_set_bio(s, sb, sb);
  SSL_set_accept_state(s);
  SSL_set_app_data(c, &r->client_alert);
  SSL_set_app_data(s, &r->server_alert);
  SSL_set_info_callback(c, info_cb);
  SSL_set_info_callback(s, info_cb);

  for (int i = 0; i < 64 && (cs == 0 || ss == 0); i++) {
    if (cs == 0) cs = step(c, &r->client_err, r->client_msg, sizeof(r->client_msg));
    if (ss == 0) ss = step(s, &r->server_err, r->server_msg, sizeof(r->server_msg));
  }
  r->client_ok = cs == 1;
  r->server_ok = ss == 1;
  r->verify_result = SSL_get_verify_result(c);
  r->alpn_client = hb_tls_alpn(c);
  r->alpn_server = hb_tls_alpn(s);
  r->version = SSL_version(c);
  snprintf(r->cipher, sizeof(r->cipher), "%s", SSL_get_cipher_name(c));
  X509 *peer = SSL_get0_peer_certificate(c);
  if (peer != NULL)
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, r->peer_cn,
                              sizeof(r->peer_cn));
  /* what the server saw of the client, for the mTLS tests */
  if (hb_tls_peer_cert_sha256(s, fp) == 0) memcpy(r->client_fp, fp, sizeof(fp));
  if (getenv("HB_TLS_DEBUG") != NULL)
    fprintf(stderr, "handshake: client %d alert %d (%s), server %d alert %d (%s), verify %ld\n", cs,
            r->client_alert, r->client_msg, ss, r->server_alert, r->server_msg, r->verify_result);
  ERR_clear_error();
  SSL_free(c);
  SSL_free(s);
}

static int reason_of(unsigned long e) { return ERR_GET_REASON(e); }

static void file_sha256(const char *path, char out[65]) {
  FILE *f = fopen(path, "r");
  X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
  unsigned char md[32];
  unsigned int n = 0;
  out[0] = '\0';
  if (f) fclose(f);
  if (x && X509_digest(x, EVP_sha256(), md, &n) == 1)
    for (unsigned int i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
  X509_free(x);
}

/* --- tests ------------------------------------------------------------------ */

static void test_alpn(void) {
  size_t idx[] = {C_SERVER};
  char *pref_h2[] = {p_h2, p_h1}, *pref_h1[] = {p_h1, p_h2}, *only_rh2[] = {p_rh2};
  static const unsigned char offer_h1_h2[] = "\x08http/1.1\x02h2";
  static const unsigned char offer_h2_h1[] = "\x02h2\x08http/1.1";
  hb_config_listener l1 = mk_listener(idx, 1, pref_h2, 2), l2 = mk_listener(idx, 1, pref_h1, 2),
                     l3 = mk_listener(idx, 1, only_rh2, 1), l4 = mk_listener(idx, 1, NULL, 0);
  hb_config_upstream u = mk_upstream(ca_path, 1, HB_PROTO_H2, NULL);
  SSL_CTX *s1 = server_ctx(&l1), *s2 = server_ctx(&l2), *s3 = server_ctx(&l3), *s4 = server_ctx(&l4);
  SSL_CTX *c = client_ctx(&u);
  SSL *ssl;
  hs r;

  CU_ASSERT_FATAL(s1 && s2 && s3 && s4 && c);
  /* the listener's order wins over the client's */
  ssl = hb_tls_client_new(c, -1, "localhost", 1);
  CU_ASSERT_FATAL(ssl != NULL);
  CU_ASSERT_EQUAL(SSL_set_alpn_protos(ssl, offer_h1_h2, sizeof(offer_h1_h2) - 1), 0);
  handshake(s1, ssl, &r);
  CU_ASSERT(r.client_ok && r.server_ok);
  CU_ASSERT_STRING_EQUAL(r.alpn_server ? r.alpn_server : "", "h2");
  CU_ASSERT_STRING_EQUAL(r.alpn_client ? r.alpn_client : "", "h2");

  ssl = hb_tls_client_new(c, -1, "localhost", 1);
  CU_ASSERT_FATAL(ssl != NULL);
  SSL_set_alpn_protos(ssl, offer_h2_h1, sizeof(offer_h2_h1) - 1);
  handshake(s2, ssl, &r);
  CU_ASSERT(r.client_ok && r.server_ok);
  CU_ASSERT_STRING_EQUAL(r.alpn_server ? r.alpn_server : "", "http/1.1");

  /* the ctx offers only "h2" (protocol h2): a rh2-only listener refuses it */
  handshake(s3, hb_tls_client_new(c, -1, "localhost", 1), &r);
  CU_ASSERT(!r.client_ok && !r.server_ok);
  CU_ASSERT_EQUAL(r.client_alert, 120); /* no_application_protocol */
  CU_ASSERT_EQUAL(reason_of(r.server_err), SSL_R_NO_APPLICATION_PROTOCOL);

  /* default list [h2, http/1.1] */
  handshake(s4, hb_tls_client_new(c, -1, "localhost", 1), &r);
  CU_ASSERT(r.client_ok && r.server_ok);
  CU_ASSERT_STRING_EQUAL(r.alpn_server ? r.alpn_server : "", "h2");

  /* no ALPN from the client: accepted, nothing selected */
  ssl = hb_tls_client_new(c, -1, "localhost", 1);
  CU_ASSERT_FATAL(ssl != NULL);
  CU_ASSERT_EQUAL(SSL_set_alpn_protos(ssl, NULL, 0), 0);
  handshake(s3, ssl, &r);
  CU_ASSERT(r.client_ok && r.server_ok);
  CU_ASSERT_PTR_NULL(r.alpn_server);

  SSL_CTX_free(s1);
  SSL_CTX_free(s2);
  SSL_CTX_free(s3);
  SSL_CTX_free(s4);
  SSL_CTX_free(c);
}

static void test_sni(void) {
  size_t idx[] = {C_SERVER, C_OTHER};
  hb_config_listener l = mk_listener(idx, 2, NULL, 0);
  hb_config_upstream u = mk_upstream(ca_path, 1, HB_PROTO_HTTP11, NULL);
  SSL_CTX *s = server_ctx(&l), *c = client_ctx(&u);
  hs r;

  CU_ASSERT_FATAL(s && c);
  handshake(s, hb_tls_client_new(c, -1, "other.test", 1), &r);
  CU_ASSERT(r.client_ok && r.server_ok);
  CU_ASSERT_STRING_EQUAL(r.peer_cn, "other.test");
  CU_ASSERT_STRING_EQUAL(r.alpn_server ? r.alpn_server : "", "http/1.1");

  handshake(s, hb_tls_client_new(c, -1, "WWW.Other.Test", 1), &r); /* wildcard, any case */
  CU_ASSERT(r.client_ok && r.server_ok);
  CU_ASSERT_STRING_EQUAL(r.peer_cn, "other.test");

  handshake(s, hb_tls_client_new(c, -1, "localhost", 1), &r);
  CU_ASSERT(r.client_ok && r.server_ok);
  CU_ASSERT_STRING_EQUAL(r.peer_cn, "localhost");

  /* a wildcard covers one label only: falls back to the default */
  handshake(s, hb_tls_client_new(c, -1, "a.b.other.test", 0), &r);
  CU_ASSERT(r.client_ok && r.server_ok);
  CU_ASSERT_STRING_EQUAL(r.peer_cn, "localhost");

  /* IP literal: no SNI sent, default cert, verified by IP SAN */
  handshake(s, hb_tls_client_new(c, -1, "127.0.0.1", 1), &r);
  CU_ASSERT(r.client_ok && r.server_ok);
  CU_ASSERT_STRING_EQUAL(r.peer_cn, "localhost");
  handshake(s, hb_tls_client_new(c, -1, "[::1]", 1), &r);
  CU_ASSERT(r.client_ok && r.server_ok);

  SSL_CTX_free(s);
  SSL_CTX_free(c);
}

static void test_verify(void) {
  size_t idx[] = {C_SERVER}, idx_exp[] = {C_EXPIRED};
  hb_config_listener l = mk_listener(idx, 1, NULL, 0), le = mk_listener(idx_exp, 1, NULL, 0);
  hb_config_upstream u = mk_upstream(ca_path, 1, HB_PROTO_H2, NULL);
  hb_config_upstream sys = mk_upstream(NULL, 1, HB_PROTO_H2, NULL);
  hb_config_upstream off = mk_upstream(NULL, 0, HB_PROTO_H2, NULL);
  SSL_CTX *s = server_ctx(&l), *se = server_ctx(&le), *c = client_ctx(&u);
  SSL_CTX *csys = client_ctx(&sys), *coff = client_ctx(&off);
  hs r;

  CU_ASSERT_FATAL(s && se && c && csys && coff);
  handshake(s, hb_tls_client_new(c, -1, "wrong.test", 1), &r);
  CU_ASSERT(!r.client_ok);
  CU_ASSERT_EQUAL(r.verify_result, X509_V_ERR_HOSTNAME_MISMATCH);
  CU_ASSERT_EQUAL(r.client_alert, -1); /* the client is the one that aborted */
  CU_ASSERT_PTR_NOT_NULL(strstr(r.client_msg, "hostname mismatch"));

  handshake(s, hb_tls_client_new(c, -1, "127.0.0.2", 1), &r);
  CU_ASSERT(!r.client_ok);
  CU_ASSERT_EQUAL(r.verify_result, X509_V_ERR_IP_ADDRESS_MISMATCH);

  handshake(se, hb_tls_client_new(c, -1, "localhost", 1), &r);
  CU_ASSERT(!r.client_ok);
  CU_ASSERT_EQUAL(r.verify_result, X509_V_ERR_CERT_HAS_EXPIRED);

  /* system store does not know the test CA */
  handshake(s, hb_tls_client_new(csys, -1, "localhost", 1), &r);
  CU_ASSERT(!r.client_ok);
  /* verify: false dials anything; verify on a no-verify ctx still verifies */
  handshake(s, hb_tls_client_new(coff, -1, "wrong.test", 0), &r);
  CU_ASSERT(r.client_ok && r.server_ok);
  handshake(s, hb_tls_client_new(coff, -1, "wrong.test", 1), &r);
  CU_ASSERT(!r.client_ok);

  /* a verified dial needs a name */
  CU_ASSERT_PTR_NULL(hb_tls_client_new(c, -1, NULL, 1));
  CU_ASSERT_PTR_NULL(hb_tls_client_new(c, -1, "", 1));

  SSL_CTX_free(s);
  SSL_CTX_free(se);
  SSL_CTX_free(c);
  SSL_CTX_free(csys);
  SSL_CTX_free(coff);
}

static void test_versions(void) {
  size_t idx[] = {C_SERVER};
  hb_config_listener l = mk_listener(idx, 1, NULL, 0);
  SSL_CTX *s = server_ctx(&l);
  SSL_CTX *old = SSL_CTX_new(TLS_client_method()), *t12 = SSL_CTX_new(TLS_client_method());
  SSL_CTX *cbc = SSL_CTX_new(TLS_client_method());
  hs r;

  CU_ASSERT_FATAL(s && old && t12 && cbc);
  /* a TLS 1.1 client, with OpenSSL's own floor lowered so the server refuses */
  SSL_CTX_set_security_level(old, 0);
  SSL_CTX_set_min_proto_version(old, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION);
  SSL_CTX_set_cipher_list(old, "DEFAULT:@SECLEVEL=0");
  handshake(s, raw_client(old), &r);
  CU_ASSERT(!r.client_ok && !r.server_ok);
  CU_ASSERT_EQUAL(reason_of(r.server_err), SSL_R_UNSUPPORTED_PROTOCOL);
  CU_ASSERT_EQUAL(r.client_alert, SSL_AD_PROTOCOL_VERSION);

  /* TLS 1.2 works, with ECDHE and an AEAD */
  SSL_CTX_set_max_proto_version(t12, TLS1_2_VERSION);
  handshake(s, raw_client(t12), &r);
  CU_ASSERT(r.client_ok && r.server_ok);
  CU_ASSERT_EQUAL(r.version, TLS1_2_VERSION);
  CU_ASSERT(strncmp(r.cipher, "ECDHE-", 6) == 0 &&
            (strstr(r.cipher, "GCM") != NULL || strstr(r.cipher, "CHACHA20") != NULL));

  /* TLS 1.2 CBC suites are not offered */
  SSL_CTX_set_max_proto_version(cbc, TLS1_2_VERSION);
  SSL_CTX_set_cipher_list(cbc, "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384");
  handshake(s, raw_client(cbc), &r);
  CU_ASSERT(!r.server_ok);
  CU_ASSERT_EQUAL(reason_of(r.server_err), SSL_R_NO_SHARED_CIPHER);

  SSL_CTX_free(s);
  SSL_CTX_free(old);
  SSL_CTX_free(t12);
  SSL_CTX_free(cbc);
}

static void test_client_cert(void) {
  size_t idx[] = {C_SERVER};
  static char name_client[] = "client", name_server[] = "server", name_none[] = "none";
  hb_config_listener l = mk_listener(idx, 1, NULL, 0), lpin = mk_listener(idx, 1, NULL, 0);
  hb_config_upstream anon = mk_upstream(ca_path, 1, HB_PROTO_H2, NULL);
  hb_config_upstream withc = mk_upstream(ca_path, 1, HB_PROTO_H2, name_client);
  hb_config_upstream wrong_eku = mk_upstream(ca_path, 1, HB_PROTO_H2, name_server);
  hb_config_upstream unknown = mk_upstream(ca_path, 1, HB_PROTO_H2, name_none);
  SSL_CTX *s, *spin, *ca = client_ctx(&anon), *cc = client_ctx(&withc), *cw = client_ctx(&wrong_eku);
  SSL_CTX *bad = NULL;
  char err[512], want[65];
  hs r;

  l.client_ca = ca_path;
  lpin.request_client_cert = 1;
  s = server_ctx(&l);
  spin = server_ctx(&lpin);
  CU_ASSERT_FATAL(s && spin && ca && cc && cw);
  file_sha256(cert_path[C_CLIENT], want);

  /* required: without a certificate the server aborts (TLS 1.3: after the
   * client already thinks it is done) */
  handshake(s, hb_tls_client_new(ca, -1, "localhost", 1), &r);
  CU_ASSERT(!r.server_ok);
  CU_ASSERT_EQUAL(reason_of(r.server_err), SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE);

  handshake(s, hb_tls_client_new(cc, -1, "localhost", 1), &r);
  CU_ASSERT(r.client_ok && r.server_ok);
  CU_ASSERT_STRING_EQUAL(r.client_fp, want); /* hb_tls_peer_cert_sha256 */

  /* a serverAuth-only certificate is not a client certificate */
  handshake(s, hb_tls_client_new(cw, -1, "localhost", 1), &r);
  CU_ASSERT(!r.server_ok);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.server_msg, "unsuitable certificate purpose"));

  /* request without CA: any certificate, or none, identity by pin */
  handshake(spin, hb_tls_client_new(cw, -1, "localhost", 1), &r);
  CU_ASSERT(r.client_ok && r.server_ok);
  CU_ASSERT_EQUAL(strlen(r.client_fp), 64);
  handshake(spin, hb_tls_client_new(ca, -1, "localhost", 1), &r);
  CU_ASSERT(r.client_ok && r.server_ok);
  CU_ASSERT_EQUAL(strlen(r.client_fp), 0); /* no peer cert: no fingerprint */

  CU_ASSERT_EQUAL(hb_tls_client_ctx_new(&cfg, &unknown, &bad, err, sizeof(err)), HB_ERR_CONFIG);
  CU_ASSERT_PTR_NULL(bad);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "none"));

  SSL_CTX_free(s);
  SSL_CTX_free(spin);
  SSL_CTX_free(ca);
  SSL_CTX_free(cc);
  SSL_CTX_free(cw);
}

static void test_generate(void) {
  size_t idx[] = {C_GEN};
  hb_config_listener l = mk_listener(idx, 1, NULL, 0);
  hb_config_upstream u = mk_upstream(cert_path[C_GEN], 1, HB_PROTO_H2, NULL);
  SSL_CTX *s, *s2, *c;
  char fp1[65], fp2[65];
  struct stat st;
  hs r;

  CU_ASSERT_NOT_EQUAL(stat(cert_path[C_GEN], &st), 0);
  s = server_ctx(&l);
  CU_ASSERT_FATAL(s != NULL);
  CU_ASSERT_EQUAL_FATAL(stat(key_path[C_GEN], &st), 0);
  CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
  CU_ASSERT_EQUAL(stat(cert_path[C_GEN], &st), 0);
  file_sha256(cert_path[C_GEN], fp1);

  /* the generated certificate, pinned as its own CA, verifies for all its names */
  u.tls_ca = cert_path[C_GEN];
  c = client_ctx(&u);
  CU_ASSERT_FATAL(c != NULL);
  handshake(s, hb_tls_client_new(c, -1, "localhost", 1), &r);
  CU_ASSERT(r.client_ok && r.server_ok);
  CU_ASSERT_STRING_EQUAL(r.peer_cn, "localhost");
  handshake(s, hb_tls_client_new(c, -1, "::1", 1), &r);
  CU_ASSERT(r.client_ok && r.server_ok);
  handshake(s, hb_tls_client_new(c, -1, "127.0.0.1", 1), &r);
  CU_ASSERT(r.client_ok && r.server_ok);

  /* present: loaded, not regenerated */
  s2 = server_ctx(&l);
  file_sha256(cert_path[C_GEN], fp2);
  CU_ASSERT_STRING_EQUAL(fp1, fp2);

  SSL_CTX_free(s);
  SSL_CTX_free(s2);
  SSL_CTX_free(c);
}

static void test_errors(void) {
  size_t missing[] = {C_MISSING}, mismatch[] = {C_MISMATCH}, half[] = {C_HALF}, range[] = {99};
  static char bad_ca[] = "/nonexistent/ca.pem";
  hb_config_listener l = mk_listener(missing, 1, NULL, 0);
  hb_config_upstream u = mk_upstream(bad_ca, 1, HB_PROTO_H2, NULL);
  SSL_CTX *ctx = NULL;
  char err[512];

  CU_ASSERT_EQUAL(hb_tls_server_ctx_new(&cfg, &l, &ctx, err, sizeof(err)), HB_ERR_CONFIG);
  CU_ASSERT_PTR_NULL(ctx);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, cert_path[C_MISSING]));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
  CU_ASSERT_PTR_NULL(strchr(err, '\n'));

  l.certs = mismatch;
  CU_ASSERT_EQUAL(hb_tls_server_ctx_new(&cfg, &l, &ctx, err, sizeof(err)), HB_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "does not match"));

  l.certs = half; /* generate refuses to overwrite a lone key */
  CU_ASSERT_EQUAL(hb_tls_server_ctx_new(&cfg, &l, &ctx, err, sizeof(err)), HB_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "exists"));

  l.certs = range;
  CU_ASSERT_EQUAL(hb_tls_server_ctx_new(&cfg, &l, &ctx, err, sizeof(err)), HB_ERR_CONFIG);
  l.ncerts = 0;
  CU_ASSERT_EQUAL(hb_tls_server_ctx_new(&cfg, &l, &ctx, err, sizeof(err)), HB_ERR_CONFIG);

  CU_ASSERT_EQUAL(hb_tls_client_ctx_new(&cfg, &u, &ctx, err, sizeof(err)), HB_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, bad_ca));
  CU_ASSERT_PTR_NULL(ctx);
  CU_ASSERT_EQUAL(ERR_peek_error(), 0); /* the queue is left clean */
}

int hb_test_tls(void) {
  CU_pSuite s = CU_add_suite("tls", suite_init, suite_clean);
  if (s == NULL) return -1;
  if (CU_add_test(s, "alpn", test_alpn) == NULL || CU_add_test(s, "sni", test_sni) == NULL ||
      CU_add_test(s, "verify", test_verify) == NULL ||
      CU_add_test(s, "versions", test_versions) == NULL ||
      CU_add_test(s, "client_cert", test_client_cert) == NULL ||
      CU_add_test(s, "generate", test_generate) == NULL ||
      CU_add_test(s, "errors", test_errors) == NULL)
    return -1;
  return 0;
}
