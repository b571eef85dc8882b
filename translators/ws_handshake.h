/* ws_handshake.h: RFC 6455 §4 handshake values: a fresh Sec-WebSocket-Key
 * (16 random bytes, base64) and Sec-WebSocket-Accept (base64 of SHA-1 of key +
 * GUID), computed with OpenSSL.  Pure; writes into caller buffers. */
#ifndef HB_WS_HANDSHAKE_H
#define HB_WS_HANDSHAKE_H

#include "h2bridge.h"

#define HB_WS_KEY_LEN 24    /* base64 of 16 bytes */
#define HB_WS_ACCEPT_LEN 28 /* base64 of 20 bytes */

/* Writes a fresh key and a NUL into |out|.  0, or HB_ERR_IO when the RNG failed. */
int hb_ws_key_new(char out[HB_WS_KEY_LEN + 1]);
/* Writes the Accept value for |key| (|keylen| bytes, as received) and a NUL. */
void hb_ws_accept(const char *key, size_t keylen, char out[HB_WS_ACCEPT_LEN + 1]);
/* True when |key| is a valid client key: base64 of exactly 16 bytes. */
int hb_ws_key_valid(const char *key, size_t keylen);

#endif
