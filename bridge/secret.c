/* secret.c: secret files.  See secret.h. */
#include "secret.h"
#include "mem.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

uint8_t *hb_secret_read(const char *path, size_t *len, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "cannot read '%s': %s", path, strerror(errno));
    return NULL;
  }
  uint8_t *buf = hb_malloc(HB_SECRET_MAX + 2);
  size_t n = buf ? fread(buf, 1, HB_SECRET_MAX + 1, f) : 0;
  fclose(f);
  if (!buf || n == 0 || n > HB_SECRET_MAX) {
    hb_secret_free(buf, HB_SECRET_MAX + 2);
    snprintf(err, errlen, "'%s' must hold 1 to %d bytes", path, HB_SECRET_MAX);
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

void hb_secret_free(void *s, size_t len) {
  if (!s) return;
  OPENSSL_cleanse(s, len);
  hb_free(s);
}
