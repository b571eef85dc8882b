/* errors.h: h2bridge's error vocabulary (HB_ERR_*) and their names for logs.
 * Owns nothing; strings returned are static.  Library errors (nghttp2, OpenSSL)
 * are translated to these at the module boundary. */
#ifndef HB_ERRORS_H
#define HB_ERRORS_H

#include "h2bridge.h"

enum {
  HB_OK = 0,
  HB_ERR_AGAIN = -1,      /* not an error: would block, try later */
  HB_ERR_DECLINED = -2,   /* not an error: not for me */
  HB_ERR_INCOMPLETE = -3, /* parser needs more bytes */
  HB_ERR_NOMEM = -4,
  HB_ERR_PROTO = -5,      /* peer violated the protocol; wire code carried aside */
  HB_ERR_TOO_LARGE = -6,  /* a configured limit was exceeded */
  HB_ERR_IO = -7,         /* socket or TLS error */
  HB_ERR_EOF = -8,        /* peer closed */
  HB_ERR_TIMEOUT = -9,
  HB_ERR_CONFIG = -10,
  HB_ERR_INVALID = -11,   /* bad argument or state */
  HB_ERR_UNAVAILABLE = -12 /* no upstream can take it */
};

/* Returns a static, human-readable name of |err|. */
const char *hb_strerror(int err);

#endif
