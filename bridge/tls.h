/* tls.h: OpenSSL 3 contexts: server SSL_CTX per TLS listener (certs, SNI, ALPN
 * h2/http/1.1/rh2/rh1, mTLS), client SSL_CTX per TLS upstream, client SSL with
 * hostname/IP verification, error and fingerprint helpers.  An SSL_CTX owns its
 * h2bridge data (ex_data, freed by SSL_CTX_free); the config is only borrowed.
 * Built at (re)load, then read-only and shareable between workers.
 * DESIGN.md §5 (certificates, tls keys), §7; THREATS.md §1e. */
#ifndef HB_TLS_H
#define HB_TLS_H

#include "h2bridge.h"
#include "config.h"

#include <openssl/ssl.h>

/* Builds the server SSL_CTX of listener |l| of |cfg|: TLS 1.2 and 1.3 only;
 * TLS 1.2 ciphers ECDHE + AEAD only; renegotiation, compression and 0-RTT off;
 * server cipher preference; session tickets on.
 *
 * Every certificate of l->certs (indices into cfg->certs; PEM, the cert file
 * may carry the chain after the leaf) is loaded and checked against its key.
 * The first is the default; SNI picks the first certificate whose SAN DNS names
 * (a leading "*." matches exactly one label) or CN match the servername.
 * A certificate with |generate| whose cert and key files are both missing gets
 * a self-signed EC P-256 certificate (SAN localhost, 127.0.0.1, ::1; 365 days)
 * written there first (key mode 0600, missing parent directories created
 * 0755); only one of the two missing is an error (nothing is overwritten).
 *
 * ALPN: the first protocol of l->alpn (the listener's order; [h2, http/1.1]
 * when l->nalpn is 0) that the client also offers; no overlap is a fatal
 * no_application_protocol alert (120).  A client without ALPN is accepted:
 * hb_tls_alpn() returns NULL and the caller treats it as http/1.1.
 *
 * l->client_ca: the client must present a certificate chained to that CA (only
 * that CA is trusted) with EKU clientAuth if it has an EKU.  Else
 * l->request_client_cert: a certificate is asked for and any is accepted (or
 * none); identity is then a pin checked by the caller via
 * hb_tls_peer_cert_sha256().
 *
 * On success sets |*out| (caller frees with SSL_CTX_free, which also frees the
 * h2bridge data in its ex_data) and returns 0.  Otherwise returns
 * HB_ERR_CONFIG with one line in |err| (|errlen| bytes, always terminated)
 * naming the file and OpenSSL's first queued error, or HB_ERR_NOMEM. */
int hb_tls_server_ctx_new(const hb_config *cfg, const hb_config_listener *l, SSL_CTX **out,
                          char *err, size_t errlen);

/* Builds the client SSL_CTX of upstream |u| of |cfg|: TLS 1.2+, same cipher
 * policy; SSL_VERIFY_PEER when u->tls_verify, trusting only u->tls_ca when set,
 * else the system default paths; client certificate u->tls_client_cert (a name
 * in cfg->certs, |generate| honoured) when set; ALPN offer "h2" when
 * u->protocol is HB_PROTO_H2, else "http/1.1".  Hostname checks are per
 * connection (hb_tls_client_new).  Ownership and errors as
 * hb_tls_server_ctx_new. */
int hb_tls_client_ctx_new(const hb_config *cfg, const hb_config_upstream *u, SSL_CTX **out,
                          char *err, size_t errlen);

/* Returns a new client SSL from |ctx| in connect state on socket |fd| (|fd| < 0:
 * no BIO is attached; the caller sets one).  |sni| (host name or IP literal,
 * brackets allowed) is sent as SNI unless it is an IP literal.  With |verify|
 * the peer chain is verified and must match |sni| (SSL_set1_host, no partial
 * wildcards, or the IP via X509_VERIFY_PARAM_set1_ip_asc); without it nothing
 * is verified.  Returns NULL on NOMEM, or when |verify| is set and |sni| is
 * NULL or empty (a verified dial always checks a name).  Caller owns the SSL. */
SSL *hb_tls_client_new(SSL_CTX *ctx, int fd, const char *sni, int verify);

/* The ALPN protocol selected on |ssl| as a static string: "h2", "http/1.1",
 * "rh2", "rh1"; NULL when none was negotiated or it is another one. */
const char *hb_tls_alpn(SSL *ssl);

/* Writes the reason of the last TLS failure on |ssl| (|ssl| may be NULL for a
 * non-SSL OpenSSL call), given that call's return |ret|, into |buf| (|len|
 * bytes) and returns |buf|: SSL_get_error class, first queued OpenSSL error's
 * reason, and for a failed verification X509_verify_cert_error_string of the
 * verify result; errno for SSL_ERROR_SYSCALL.  Clears the thread's OpenSSL
 * error queue. */
const char *hb_tls_strerror(SSL *ssl, int ret, char *buf, size_t len);

/* Writes the SHA-256 of the peer certificate's DER as 64 lowercase hex digits
 * plus NUL into |out|.  Returns 0, or HB_ERR_INVALID when the peer sent no
 * certificate (|out| is then the empty string). */
int hb_tls_peer_cert_sha256(SSL *ssl, char out[65]);

/* Client SSL_CTX for connector |k|: like an upstream's with verification
 * always on (potato §6), offering only ALPN k->protocol (rh2 or rh1).
 * Ownership and errors as hb_tls_client_ctx_new. */
int hb_tls_connector_ctx_new(const hb_config *cfg, const hb_config_connector *k, SSL_CTX **out, char *err,
                             size_t errlen);

/* A certificate store holding the CAs of |ca_file| (the caller frees it with
 * X509_STORE_free), or NULL with a reason in |why|. */
X509_STORE *hb_tls_ca_store(const char *ca_file, char *why, size_t len);
/* Verifies the peer certificate of |ssl| (and the chain it sent) against
 * |store| (built from |ca_name|, named in reasons), for the clientAuth
 * purpose.  0, or HB_ERR_INVALID with a reason in |why|. */
int hb_tls_peer_verify_ca(SSL *ssl, X509_STORE *store, const char *ca_name, char *why, size_t len);

#endif
