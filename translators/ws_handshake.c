/* ws_handshake.c: Sec-WebSocket-Key/Accept (RFC 6455 §4.1, §4.2.2).  See
 * ws_handshake.h. */
#include "ws_handshake.h"
#include "errors.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int hb_ws_key_new(char out[HB_WS_KEY_LEN + 1]) {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof(raw)) != 1) return HB_ERR_IO;
  EVP_EncodeBlock((unsigned char *)out, raw, sizeof(raw));
  return 0;
}

void hb_ws_accept(const char *key, size_t keylen, char out[HB_WS_ACCEPT_LEN + 1]) {
  unsigned char md[SHA_DIGEST_LENGTH];
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned int mdlen = 0;
  if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) != 1 || EVP_DigestUpdate(ctx, key, keylen) != 1 ||
      EVP_DigestUpdate(ctx, GUID, sizeof(GUID) - 1) != 1 || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1) {
    memset(md, 0, sizeof(md)); /* never matches a real accept */
  }
  EVP_MD_CTX_free(ctx);
  EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}

int hb_ws_key_valid(const char *key, size_t keylen) {
  if (keylen != HB_WS_KEY_LEN || key[22] != '=' || key[23] != '=') return 0;
  for (size_t i = 0; i < 22; i++) {
    char c = key[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
      return 0;
  }
  return 1;
}
