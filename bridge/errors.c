/* errors.c: names of HB_ERR_* codes.  Owns nothing. */
#include "errors.h"

const char *hb_strerror(int err) {
  switch (err) {
  case HB_OK: return "ok";
  case HB_ERR_AGAIN: return "try again";
  case HB_ERR_DECLINED: return "declined";
  case HB_ERR_INCOMPLETE: return "incomplete";
  case HB_ERR_NOMEM: return "out of memory";
  case HB_ERR_PROTO: return "protocol error";
  case HB_ERR_TOO_LARGE: return "limit exceeded";
  case HB_ERR_IO: return "I/O error";
  case HB_ERR_EOF: return "connection closed by peer";
  case HB_ERR_TIMEOUT: return "timed out";
  case HB_ERR_CONFIG: return "configuration error";
  case HB_ERR_INVALID: return "invalid argument";
  case HB_ERR_UNAVAILABLE: return "unavailable";
  default: return "unknown error";
  }
}
