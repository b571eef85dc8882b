/* tls.c: SSL_CTX construction, SNI/ALPN callbacks, certificate generation.
 * See tls.h.  A server SSL_CTX owns one hb_tls_server in its ex_data (ALPN
 * wire list + loaded certificates), freed by the ex_data free callback when the
 * SSL_CTX is freed.  Callbacks only read it, so a ctx may serve any worker. */
#include "tls.h"
#include "errors.h"
#include "mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

/* TLS 1.2: forward secrecy and AEAD only (Mozilla "intermediate" minus DHE).
 * TLS 1.3 suites are all AEAD; OpenSSL's default list is kept. */
#define HB_TLS12_CIPHERS                                                                  \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                            \
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                            \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define HB_TLS_GROUPS "X25519:P-256:P-384"
#define HB_HOSTFLAGS X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS
#define HB_GEN_DAYS 365

typedef struct hb_tls_cert {
  X509 *x509;
  EVP_PKEY *pkey;
  STACK_OF(X509) *chain; /* intermediates after the leaf in the file; may be empty */
} hb_tls_cert;

typedef struct hb_tls_server {
  unsigned char *alpn; /* listener's protocols, wire format, preference order */
  size_t alpnlen;
  hb_tls_cert *certs;  /* [0] is the default */
  size_t ncerts;
  int reverse;         /* the listener offers rh1/rh2 (gateway role) */
  int verify_mode;     /* client certificate policy for dialing origins */
  int (*verify_cb)(int, X509_STORE_CTX *);
} hb_tls_server;

static pthread_once_t ex_once = PTHREAD_ONCE_INIT;
static int ex_index = -1;

static void cert_clear(hb_tls_cert *c) {
  X509_free(c->x509);
  EVP_PKEY_free(c->pkey);
  sk_X509_pop_free(c->chain, X509_free);
  memset(c, 0, sizeof(*c));
}

static void server_data_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                             void *argp) {
  hb_tls_server *d = ptr;
  (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
  if (d == NULL) return; /* called for every SSL_CTX, also client ones */
  for (size_t i = 0; i < d->ncerts; i++) cert_clear(&d->certs[i]);
  hb_free(d->certs);
  hb_free(d->alpn);
  hb_free(d);
}

static void ex_init(void) {
  ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, server_data_free);
}

/* Formats "[FILE:LINE:COL: ]MESSAGE[: OPENSSL-ERROR]" into |err| and empties
 * the error queue.  Always returns HB_ERR_CONFIG. */
static int HB_PRINTF(5, 6) cfg_error(char *err, size_t errlen, const hb_pos *pos, int with_ssl,
                                     const char *fmt, ...) {
  size_t n = 0;
  int r;
  va_list ap;

  if (err == NULL || errlen == 0) {
    ERR_clear_error();
    return HB_ERR_CONFIG;
  }
  err[0] = '\0';
  if (pos != NULL && pos->file != NULL) {
    r = snprintf(err, errlen, "%s:%d:%d: ", pos->file, pos->line, pos->col);
    n = r < 0 ? 0 : HB_MIN((size_t)r, errlen - 1);
  }
  va_start(ap, fmt);
  r = vsnprintf(err + n, errlen - n, fmt, ap);
  va_end(ap);
  n = r < 0 ? n : HB_MIN(n + (size_t)r, errlen - 1);
  if (with_ssl) {
    unsigned long e = ERR_get_error(); /* the first queued: the root cause */
    if (e != 0) {
      char s[256];
      ERR_error_string_n(e, s, sizeof(s));
      snprintf(err + n, errlen - n, ": %s", s);
    }
  }
  ERR_clear_error();
  return HB_ERR_CONFIG;
}

static const char *cert_name(const hb_config_cert *c) { return c->name ? c->name : "?"; }

/* --- self-signed generation (generate: true) --------------------------- */

static int path_missing(const char *path) {
  struct stat st;
  return stat(path, &st) != 0 && errno == ENOENT;
}

/* Creates the missing directories above |path| (not |path| itself). */
static int mkdir_parents(const char *path) {
  char *p = hb_strdup(path);
  int rv = 0;
  if (p == NULL) return HB_ERR_NOMEM;
  for (char *s = strchr(p + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
    *s = '\0';
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
      rv = HB_ERR_IO;
      break;
    }
    *s = '/';
  }
  hb_free(p);
  return rv;
}

/* Writes |len| bytes to a new temporary file next to |path| with |mode|;
 * sets |*tmp| (caller frees and renames or unlinks it). */
static int write_tmp(const char *path, const char *data, size_t len, mode_t mode, char **tmp) {
  size_t plen = strlen(path);
  char *t = hb_malloc(plen + sizeof(".XXXXXX"));
  int fd, e;
  if (t == NULL) return HB_ERR_NOMEM;
  memcpy(t, path, plen);
  memcpy(t + plen, ".XXXXXX", sizeof(".XXXXXX"));
  fd = mkstemp(t); /* 0600 from the start: the key is never readable by others */
  if (fd < 0) {
    hb_free(t);
    return HB_ERR_IO;
  }
  while (len > 0) {
    ssize_t w = write(fd, data, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) goto fail;
    data += w;
    len -= (size_t)w;
  }
  if (fchmod(fd, mode) != 0 || fsync(fd) != 0) goto fail;
  if (close(fd) != 0) {
    fd = -1;
    goto fail;
  }
  *tmp = t;
  return 0;
fail:
  e = errno;
  if (fd >= 0) close(fd);
  unlink(t);
  hb_free(t);
  errno = e;
  return HB_ERR_IO;
}

static int add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value) {
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
  int ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok ? 0 : -1;
}

/* A self-signed EC P-256 localhost certificate and its key, as PEM. */
static int make_self_signed(BIO *cert_pem, BIO *key_pem) {
  EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  X509 *x = X509_new();
  BIGNUM *bn = NULL;
  unsigned char serial[16];
  X509V3_CTX v3;
  X509_NAME *name;
  int rv = -1;

  if (pkey == NULL || x == NULL) goto done;
  if (RAND_bytes(serial, sizeof(serial)) != 1) goto done;
  serial[0] &= 0x7f; /* positive */
  serial[0] |= 0x01; /* and non-zero */
  bn = BN_bin2bn(serial, sizeof(serial), NULL);
  if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL) goto done;
  if (X509_set_version(x, X509_VERSION_3) != 1) goto done;
  /* a few minutes back, for peers whose clock is slightly behind */
  if (X509_gmtime_adj(X509_getm_notBefore(x), -300) == NULL ||
      X509_gmtime_adj(X509_getm_notAfter(x), (long)HB_GEN_DAYS * 86400) == NULL)
    goto done;
  name = X509_get_subject_name(x);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
                                 -1, -1, 0) != 1 ||
      X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, pkey) != 1)
    goto done;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  /* No keyUsage: with one, OpenSSL would refuse the cert as its own issuer
   * (no keyCertSign) and clients could not pin it as their trust anchor. */
  if (add_ext(x, &v3, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
      add_ext(x, &v3, NID_ext_key_usage, "serverAuth,clientAuth") != 0 ||
      add_ext(x, &v3, NID_subject_key_identifier, "hash") != 0 ||
      add_ext(x, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") != 0)
    goto done;
  if (X509_sign(x, pkey, EVP_sha256()) <= 0) goto done;
  if (PEM_write_bio_X509(cert_pem, x) != 1 ||
      PEM_write_bio_PrivateKey(key_pem, pkey, NULL, NULL, 0, NULL, NULL) != 1)
    goto done;
  rv = 0;
done:
  BN_free(bn);
  X509_free(x);
  EVP_PKEY_free(pkey);
  return rv;
}

/* Writes a fresh pair to c->cert and c->key via temporary files renamed key
 * first; a crash between the renames leaves a key without a cert, which the
 * next load reports instead of overwriting. */
static int generate_pair(const hb_config_cert *c, char *err, size_t errlen) {
  BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
  char *ctmp = NULL, *ktmp = NULL, *data;
  long len;
  int rv;

  if (cb == NULL || kb == NULL || make_self_signed(cb, kb) != 0) {
    rv = cfg_error(err, errlen, &c->pos, 1, "certificates[%s]: generate: cannot create a certificate",
                   cert_name(c));
    goto done;
  }
  for (int i = 0; i < 2; i++) {
    const char *path = i == 0 ? c->key : c->cert;
    if ((rv = mkdir_parents(path)) == HB_ERR_NOMEM) goto done;
    if (rv != 0) {
      rv = cfg_error(err, errlen, &c->pos, 0,
                     "certificates[%s]: generate: cannot create the directory of %s: %s",
                     cert_name(c), path, strerror(errno));
      goto done;
    }
  }
  len = BIO_get_mem_data(kb, &data);
  rv = write_tmp(c->key, data, (size_t)len, 0600, &ktmp);
  if (rv == 0) {
    len = BIO_get_mem_data(cb, &data);
    rv = write_tmp(c->cert, data, (size_t)len, 0644, &ctmp);
    if (rv != 0) {
      int e = errno;
      unlink(ktmp);
      errno = e;
    }
  }
  if (rv == HB_ERR_NOMEM) goto done;
  if (rv != 0) {
    rv = cfg_error(err, errlen, &c->pos, 0, "certificates[%s]: generate: cannot write next to %s: %s",
                   cert_name(c), ktmp ? c->cert : c->key, strerror(errno));
    goto done;
  }
  if (rename(ktmp, c->key) != 0) {
    int e = errno;
    unlink(ktmp);
    unlink(ctmp);
    rv = cfg_error(err, errlen, &c->pos, 0, "certificates[%s]: generate: cannot rename into %s: %s",
                   cert_name(c), c->key, strerror(e));
    goto done;
  }
  if (rename(ctmp, c->cert) != 0) {
    int e = errno;
    unlink(c->key); /* ours: it was missing a moment ago */
    unlink(ctmp);
    rv = cfg_error(err, errlen, &c->pos, 0, "certificates[%s]: generate: cannot rename into %s: %s",
                   cert_name(c), c->cert, strerror(e));
    goto done;
  }
  rv = 0;
done:
  hb_free(ctmp);
  hb_free(ktmp);
  BIO_free(cb);
  BIO_free(kb);
  return rv;
}

/* --- loading ----------------------------------------------------------- */

/* Encrypted keys are not supported: never let OpenSSL prompt on a tty. */
static int no_passphrase(char *buf, int size, int rwflag, void *u) {
  (void)buf, (void)size, (void)rwflag, (void)u;
  return 0;
}

/* Loads leaf + chain from c->cert and the key from c->key into |out|,
 * generating them first when asked to. */
static int load_pair(const hb_config_cert *c, hb_tls_cert *out, char *err, size_t errlen) {
  BIO *b = NULL;
  int rv;

  memset(out, 0, sizeof(*out));
  if (c->cert == NULL || c->key == NULL)
    return cfg_error(err, errlen, &c->pos, 0, "certificates[%s]: cert and key are required",
                     cert_name(c));
  if (c->generate) {
    int cm = path_missing(c->cert), km = path_missing(c->key);
    if (cm && km) {
      if ((rv = generate_pair(c, err, errlen)) != 0) return rv;
    } else if (cm || km) {
      return cfg_error(err, errlen, &c->pos, 0,
                       "certificates[%s]: generate: %s exists but %s does not; remove it or provide both",
                       cert_name(c), cm ? c->key : c->cert, cm ? c->cert : c->key);
    }
  }

  if ((b = BIO_new_file(c->cert, "r")) == NULL ||
      (out->x509 = PEM_read_bio_X509_AUX(b, NULL, no_passphrase, NULL)) == NULL) {
    rv = cfg_error(err, errlen, &c->pos, 1, "certificates[%s]: cannot load certificate %s",
                   cert_name(c), c->cert);
    goto fail;
  }
  if ((out->chain = sk_X509_new_null()) == NULL) {
    rv = HB_ERR_NOMEM;
    goto fail;
  }
  for (;;) {
    X509 *ca = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
    if (ca == NULL) {
      unsigned long e = ERR_peek_last_error();
      if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
        ERR_clear_error(); /* end of file */
        break;
      }
      rv = cfg_error(err, errlen, &c->pos, 1, "certificates[%s]: bad chain certificate in %s",
                     cert_name(c), c->cert);
      goto fail;
    }
    if (!sk_X509_push(out->chain, ca)) {
      X509_free(ca);
      rv = HB_ERR_NOMEM;
      goto fail;
    }
  }
  BIO_free(b);

  if ((b = BIO_new_file(c->key, "r")) == NULL ||
      (out->pkey = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL)) == NULL) {
    rv = cfg_error(err, errlen, &c->pos, 1, "certificates[%s]: cannot load key %s", cert_name(c),
                   c->key);
    goto fail;
  }
  BIO_free(b);
  b = NULL;
  if (X509_check_private_key(out->x509, out->pkey) != 1) {
    rv = cfg_error(err, errlen, &c->pos, 1, "certificates[%s]: key %s does not match %s",
                   cert_name(c), c->key, c->cert);
    goto fail;
  }
  return 0;
fail:
  BIO_free(b);
  cert_clear(out);
  ERR_clear_error();
  return rv;
}

/* Protocol policy shared by both sides. */
static int ctx_common(SSL_CTX *ctx) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, HB_TLS12_CIPHERS) != 1 ||
      SSL_CTX_set1_groups_list(ctx, HB_TLS_GROUPS) != 1)
    return -1;
  /* A peer that closes TCP without close_notify is an EOF, as for
   * cleartext: what it sent is delivered (framing catches truncation). */
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
  /* conn retries a write from its chunk queue, whose address may change */
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return 0;
}

/* --- server callbacks -------------------------------------------------- */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
  const hb_tls_server *d = arg;
  const unsigned char *p = d->alpn, *pend = d->alpn + d->alpnlen, *iend = in + inlen;
  /* The listener's order wins, so a client can never steer a gateway
   * listener into rh2 or a client listener into h2 by listing it first. */
  for (; p < pend; p += 1 + p[0]) {
    for (const unsigned char *q = in; q < iend && q + 1 + q[0] <= iend; q += 1 + q[0]) {
      if (q[0] == p[0] && memcmp(q + 1, p + 1, p[0]) == 0) {
        *out = q + 1;
        *outlen = q[0];
        /* potato §5.1: the protocol is chosen before a client certificate
         * is asked for, so only dialing origins (rh1/rh2) are asked. */
        if (d->reverse && q[0] == 3 && q[1] == 'r' && q[2] == 'h' && (q[3] == '1' || q[3] == '2'))
          SSL_set_verify(ssl, d->verify_mode, d->verify_cb);
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL; /* OpenSSL sends no_application_protocol */
}

static int sni_select(SSL *ssl, int *al, void *arg) {
  const hb_tls_server *d = arg;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

  if (name == NULL || d->ncerts < 2) return SSL_TLSEXT_ERR_OK;
  for (size_t i = 0; i < d->ncerts; i++) {
    const hb_tls_cert *c = &d->certs[i];
    if (X509_check_host(c->x509, name, strlen(name),
                        HB_HOSTFLAGS | X509_CHECK_FLAG_ALWAYS_CHECK_SUBJECT, NULL) != 1)
      continue;
    if (i == 0) return SSL_TLSEXT_ERR_OK;
    /* Drop the default first: a default of another key type would stay
     * selectable next to the chosen certificate. */
    SSL_certs_clear(ssl);
    if (SSL_use_cert_and_key(ssl, c->x509, c->pkey, c->chain, 1) != 1) {
      *al = SSL_AD_INTERNAL_ERROR;
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_OK; /* unknown name: the default certificate */
}

/* Identity by pin: the certificate is checked later by its fingerprint. */
static int verify_accept_any(int preverify_ok, X509_STORE_CTX *x) {
  (void)preverify_ok, (void)x;
  return 1;
}

static int alpn_wire(char *const *protos, size_t n, unsigned char **out, size_t *outlen) {
  size_t len = 0, off = 0;
  for (size_t i = 0; i < n; i++) {
    size_t l = protos[i] ? strlen(protos[i]) : 0;
    if (l == 0 || l > 255) return HB_ERR_INVALID;
    len += 1 + l;
  }
  if ((*out = hb_malloc(len ? len : 1)) == NULL) return HB_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(protos[i]);
    (*out)[off++] = (unsigned char)l;
    memcpy(*out + off, protos[i], l);
    off += l;
  }
  *outlen = len;
  return 0;
}

int hb_tls_server_ctx_new(const hb_config *cfg, const hb_config_listener *l, SSL_CTX **out,
                          char *err, size_t errlen) {
  static char *const default_alpn[] = {"h2", "http/1.1"};
  const char *lname = l->name ? l->name : "?";
  SSL_CTX *ctx = NULL;
  hb_tls_server *d;
  unsigned char sid[EVP_MAX_MD_SIZE];
  unsigned int sidlen = 0;
  int rv;

  *out = NULL;
  ERR_clear_error();
  if (pthread_once(&ex_once, ex_init) != 0 || ex_index < 0) return HB_ERR_NOMEM;
  if (l->ncerts == 0)
    return cfg_error(err, errlen, &l->pos, 0, "listeners[%s]: tls: no certificates", lname);

  if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL || ctx_common(ctx) != 0) {
    rv = cfg_error(err, errlen, &l->pos, 1, "listeners[%s]: tls: cannot create context", lname);
    goto fail;
  }
  /* Owned by ctx from here on: SSL_CTX_free releases whatever is filled in. */
  if ((d = hb_calloc(1, sizeof(*d))) == NULL) {
    rv = HB_ERR_NOMEM;
    goto fail;
  }
  if (SSL_CTX_set_ex_data(ctx, ex_index, d) != 1) {
    hb_free(d);
    rv = HB_ERR_NOMEM;
    goto fail;
  }
  SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_max_early_data(ctx, 0); /* no 0-RTT: replayable requests */

  rv = l->nalpn ? alpn_wire(l->alpn, l->nalpn, &d->alpn, &d->alpnlen)
                : alpn_wire(default_alpn, HB_ARRAY_LEN(default_alpn), &d->alpn, &d->alpnlen);
  if (rv == HB_ERR_INVALID) {
    rv = cfg_error(err, errlen, &l->pos, 0, "listeners[%s]: tls: alpn: names must be 1..255 bytes",
                   lname);
    goto fail;
  }
  if (rv != 0) goto fail;
  for (size_t i = 0; i < l->nalpn; i++)
    if (strcmp(l->alpn[i], "rh1") == 0 || strcmp(l->alpn[i], "rh2") == 0) d->reverse = 1;

  if ((d->certs = hb_calloc(l->ncerts, sizeof(*d->certs))) == NULL) {
    rv = HB_ERR_NOMEM;
    goto fail;
  }
  for (size_t i = 0; i < l->ncerts; i++) {
    if (l->certs[i] >= cfg->ncerts) {
      rv = cfg_error(err, errlen, &l->pos, 0, "listeners[%s]: tls: certificate index %zu out of range",
                     lname, l->certs[i]);
      goto fail;
    }
    if ((rv = load_pair(&cfg->certs[l->certs[i]], &d->certs[i], err, errlen)) != 0) goto fail;
    d->ncerts = i + 1;
  }
  if (SSL_CTX_use_cert_and_key(ctx, d->certs[0].x509, d->certs[0].pkey, d->certs[0].chain, 1) != 1) {
    const hb_config_cert *c = &cfg->certs[l->certs[0]];
    rv = cfg_error(err, errlen, &c->pos, 1, "certificates[%s]: cannot use %s", cert_name(c), c->cert);
    goto fail;
  }
  SSL_CTX_set_tlsext_servername_callback(ctx, sni_select);
  SSL_CTX_set_tlsext_servername_arg(ctx, d);
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, d);

  if (l->client_ca != NULL) {
    STACK_OF(X509_NAME) *names;
    /* Only this CA is trusted: the store of a new SSL_CTX is empty. */
    if (SSL_CTX_load_verify_file(ctx, l->client_ca) != 1 ||
        (names = SSL_load_client_CA_file(l->client_ca)) == NULL) {
      rv = cfg_error(err, errlen, &l->pos, 1, "listeners[%s]: tls: cannot load client_ca %s", lname,
                     l->client_ca);
      goto fail;
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    d->verify_mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    d->verify_cb = NULL;
  } else if (l->request_client_cert || d->reverse) {
    /* Without a CA an origin's certificate is asked for and pinned later
     * (origins[].auth.client_cert_sha256 / auth.ca). */
    d->verify_mode = SSL_VERIFY_PEER;
    d->verify_cb = verify_accept_any;
  }
  /* A gateway listener asks only the connections that select rh1/rh2 (see
   * alpn_select); other listeners ask everyone. */
  if (!d->reverse && d->verify_mode) SSL_CTX_set_verify(ctx, d->verify_mode, d->verify_cb);

  /* Resumed sessions are bound to this listener (required with client
   * verification, harmless without). */
  if (EVP_Digest(lname, strlen(lname), sid, &sidlen, EVP_sha256(), NULL) != 1 ||
      SSL_CTX_set_session_id_context(ctx, sid, HB_MIN(sidlen, SSL_MAX_SID_CTX_LENGTH)) != 1) {
    rv = cfg_error(err, errlen, &l->pos, 1, "listeners[%s]: tls: session id context", lname);
    goto fail;
  }
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);

  *out = ctx;
  return 0;
fail:
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return rv;
}

int hb_tls_client_ctx_new(const hb_config *cfg, const hb_config_upstream *u, SSL_CTX **out,
                          char *err, size_t errlen) {
  static const unsigned char alpn_h2[] = "\x02h2", alpn_h1[] = "\x08http/1.1";
  const char *uname = u->name ? u->name : "?";
  SSL_CTX *ctx;
  int rv, h2 = u->protocol == HB_PROTO_H2;

  *out = NULL;
  ERR_clear_error();
  if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL || ctx_common(ctx) != 0) {
    rv = cfg_error(err, errlen, &u->pos, 1, "upstreams[%s]: tls: cannot create context", uname);
    goto fail;
  }
  if (u->tls_ca != NULL) {
    if (SSL_CTX_load_verify_file(ctx, u->tls_ca) != 1) {
      rv = cfg_error(err, errlen, &u->pos, 1, "upstreams[%s]: tls: cannot load ca %s", uname,
                     u->tls_ca);
      goto fail;
    }
  } else if (u->tls_verify && SSL_CTX_set_default_verify_paths(ctx) != 1) {
    rv = cfg_error(err, errlen, &u->pos, 1, "upstreams[%s]: tls: cannot load the system CA store",
                   uname);
    goto fail;
  }
  SSL_CTX_set_verify(ctx, u->tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);

  if (u->tls_client_cert != NULL) {
    const hb_config_cert *c = NULL;
    hb_tls_cert pair;
    for (size_t i = 0; i < cfg->ncerts; i++) {
      if (cfg->certs[i].name != NULL && strcmp(cfg->certs[i].name, u->tls_client_cert) == 0) {
        c = &cfg->certs[i];
        break;
      }
    }
    if (c == NULL) {
      rv = cfg_error(err, errlen, &u->pos, 0, "upstreams[%s]: tls: client_certificate %s is not in certificates",
                     uname, u->tls_client_cert);
      goto fail;
    }
    if ((rv = load_pair(c, &pair, err, errlen)) != 0) goto fail;
    rv = SSL_CTX_use_cert_and_key(ctx, pair.x509, pair.pkey, pair.chain, 1); /* takes refs */
    cert_clear(&pair);
    if (rv != 1) {
      rv = cfg_error(err, errlen, &c->pos, 1, "certificates[%s]: cannot use %s", cert_name(c), c->cert);
      goto fail;
    }
  }
  /* SSL_CTX_set_alpn_protos returns 0 on success */
  if (SSL_CTX_set_alpn_protos(ctx, h2 ? alpn_h2 : alpn_h1,
                              h2 ? sizeof(alpn_h2) - 1 : sizeof(alpn_h1) - 1) != 0) {
    rv = cfg_error(err, errlen, &u->pos, 1, "upstreams[%s]: tls: alpn", uname);
    goto fail;
  }
  *out = ctx;
  return 0;
fail:
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return rv;
}

SSL *hb_tls_client_new(SSL_CTX *ctx, int fd, const char *sni, int verify) {
  char host[256];
  unsigned char addr[16];
  int is_ip = 0;
  SSL *ssl;

  host[0] = '\0';
  if (sni != NULL && sni[0] != '\0') {
    size_t n = strlen(sni);
    if (sni[0] == '[' && n > 2 && sni[n - 1] == ']') { /* "[::1]" */
      sni++;
      n -= 2;
    }
    if (n >= sizeof(host)) return NULL;
    memcpy(host, sni, n);
    host[n] = '\0';
    is_ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
  }
  if (verify && host[0] == '\0') return NULL;

  if ((ssl = SSL_new(ctx)) == NULL) return NULL;
  if (fd >= 0 && SSL_set_fd(ssl, fd) != 1) goto fail;
  SSL_set_connect_state(ssl);
  /* RFC 6066 §3: literal IP addresses are not permitted in SNI */
  if (host[0] != '\0' && !is_ip && SSL_set_tlsext_host_name(ssl, host) != 1) goto fail;
  if (verify) {
    SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
    if (is_ip) {
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1) goto fail;
    } else {
      SSL_set_hostflags(ssl, HB_HOSTFLAGS);
      if (SSL_set1_host(ssl, host) != 1) goto fail;
    }
  } else {
    SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
  }
  return ssl;
fail:
  SSL_free(ssl);
  ERR_clear_error();
  return NULL;
}

const char *hb_tls_alpn(SSL *ssl) {
  static const char *const known[] = {"h2", "http/1.1", "rh2", "rh1"};
  const unsigned char *p = NULL;
  unsigned int len = 0;

  SSL_get0_alpn_selected(ssl, &p, &len);
  if (p == NULL || len == 0) return NULL;
  for (size_t i = 0; i < HB_ARRAY_LEN(known); i++) {
    if (strlen(known[i]) == len && memcmp(known[i], p, len) == 0) return known[i];
  }
  return NULL;
}

const char *hb_tls_strerror(SSL *ssl, int ret, char *buf, size_t len) {
  int saved_errno = errno;
  int kind = ssl ? SSL_get_error(ssl, ret) : SSL_ERROR_SSL;
  unsigned long e = ERR_get_error();
  const char *reason = e ? ERR_reason_error_string(e) : NULL;
  char code[256];

  if (buf == NULL || len == 0) {
    ERR_clear_error();
    return "";
  }
  if (e != 0 && reason == NULL) {
    ERR_error_string_n(e, code, sizeof(code));
    reason = code;
  }
  switch (kind) {
  case SSL_ERROR_NONE:
    snprintf(buf, len, "no error");
    break;
  case SSL_ERROR_ZERO_RETURN:
    snprintf(buf, len, "closed by peer (close_notify)");
    break;
  case SSL_ERROR_WANT_READ:
    snprintf(buf, len, "want read");
    break;
  case SSL_ERROR_WANT_WRITE:
    snprintf(buf, len, "want write");
    break;
  case SSL_ERROR_SYSCALL:
    if (reason != NULL)
      snprintf(buf, len, "%s", reason);
    else if (saved_errno != 0)
      snprintf(buf, len, "%s", strerror(saved_errno));
    else
      snprintf(buf, len, "unexpected EOF");
    break;
  default:
    if (reason == NULL) {
      snprintf(buf, len, "TLS error (SSL_get_error %d)", kind);
    } else if (ssl != NULL && ERR_GET_LIB(e) == ERR_LIB_SSL &&
               ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
      snprintf(buf, len, "%s: %s", reason,
               X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
    } else {
      snprintf(buf, len, "%s", reason);
    }
    break;
  }
  ERR_clear_error();
  return buf;
}

int hb_tls_peer_cert_sha256(SSL *ssl, char out[65]) {
  static const char hex[] = "0123456789abcdef";
  X509 *x = SSL_get0_peer_certificate(ssl);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;

  out[0] = '\0';
  if (x == NULL || X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32) {
    ERR_clear_error();
    return HB_ERR_INVALID;
  }
  for (unsigned int i = 0; i < n; i++) {
    out[2 * i] = hex[md[i] >> 4];
    out[2 * i + 1] = hex[md[i] & 0xf];
  }
  out[64] = '\0';
  return 0;
}

int hb_tls_connector_ctx_new(const hb_config *cfg, const hb_config_connector *k, SSL_CTX **out, char *err,
                             size_t errlen) {
  /* A connector dials like an upstream with TLS, verification always on
   * (potato §6), offering only its reversed protocol. */
  hb_config_upstream u;
  memset(&u, 0, sizeof(u));
  u.name = k->name;
  u.tls = 1;
  u.tls_ca = k->tls_ca;
  u.tls_client_cert = k->tls_client_cert;
  u.tls_verify = 1;
  u.protocol = HB_PROTO_HTTP11;
  u.pos = k->pos;
  int rv = hb_tls_client_ctx_new(cfg, &u, out, err, errlen);
  if (rv != 0) return rv;
  static const unsigned char rh2[] = "\x03rh2", rh1[] = "\x03rh1";
  int is_rh2 = k->protocol && strcmp(k->protocol, "rh2") == 0;
  if (SSL_CTX_set_alpn_protos(*out, is_rh2 ? rh2 : rh1, 4) != 0) {
    SSL_CTX_free(*out);
    *out = NULL;
    return cfg_error(err, errlen, &k->pos, 1, "connectors[%s]: tls: alpn", k->name ? k->name : "?");
  }
  return 0;
}

X509_STORE *hb_tls_ca_store(const char *ca_file, char *why, size_t len) {
  X509_STORE *st = X509_STORE_new();
  if (!st || X509_STORE_load_file(st, ca_file) != 1) {
    snprintf(why, len, "cannot load CA %s", ca_file);
    X509_STORE_free(st);
    ERR_clear_error();
    return NULL;
  }
  return st;
}

int hb_tls_peer_verify_ca(SSL *ssl, X509_STORE *st, const char *ca_file, char *why, size_t len) {
  X509 *cert = SSL_get0_peer_certificate(ssl);
  if (!cert) {
    snprintf(why, len, "no client certificate");
    return HB_ERR_INVALID;
  }
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  int rv = HB_ERR_INVALID;
  if (!ctx) {
    snprintf(why, len, "out of memory");
    goto done;
  }
  if (X509_STORE_CTX_init(ctx, st, cert, SSL_get_peer_cert_chain(ssl)) != 1) {
    snprintf(why, len, "cannot verify");
    goto done;
  }
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
  if (X509_verify_cert(ctx) == 1) {
    rv = 0;
  } else {
    snprintf(why, len, "client certificate does not chain to %s: %s", ca_file,
             X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
  }
done:
  X509_STORE_CTX_free(ctx);
  ERR_clear_error();
  return rv;
}
