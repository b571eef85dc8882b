/* secret.h: small secret files (tokens, HMAC keys): read whole, wiped before
 * they are freed, never logged.  The caller owns what it reads and gives it
 * back with hb_secret_free.  Reentrant. */
#ifndef HB_SECRET_H
#define HB_SECRET_H

#include "h2bridge.h"

#define HB_SECRET_MAX 4096

/* Reads |path| (1..HB_SECRET_MAX bytes) into a new buffer with a NUL after
 * the data; sets |*len|.  NULL with a reason in |err| when unreadable or of
 * the wrong size. */
uint8_t *hb_secret_read(const char *path, size_t *len, char *err, size_t errlen);
/* Wipes |len| bytes of |s| and frees it (NULL is fine). */
void hb_secret_free(void *s, size_t len);

#endif
