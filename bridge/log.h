/* log.h: leveled error log carrying conn/stream ids, and the access log (one
 * line per exchange, text or JSON).  Owns the access-log FILE*; worker-local.
 * Secrets are never passed here. */
#ifndef HB_LOG_H
#define HB_LOG_H

#include "h2bridge.h"
#include "config.h"

extern int hb_log_level;

/* Sets the level and opens the access log ("stderr", "off" or a path).
 * Returns 0 or HB_ERR_IO (with errno set). */
int hb_log_open(int level, const char *access, int json);
void hb_log_close(void);

void hb_log_write(int level, uint64_t conn, int64_t stream, const char *fmt, ...) HB_PRINTF(4, 5);

#define HB_LOG(lvl, c, s, ...)                              \
  do {                                                      \
    if ((lvl) <= hb_log_level) hb_log_write((lvl), (c), (s), __VA_ARGS__); \
  } while (0)
#define hb_log_err(c, s, ...) HB_LOG(HB_LOG_ERROR, c, s, __VA_ARGS__)
#define hb_log_warn(c, s, ...) HB_LOG(HB_LOG_WARN, c, s, __VA_ARGS__)
#define hb_log_info(c, s, ...) HB_LOG(HB_LOG_INFO, c, s, __VA_ARGS__)
#define hb_log_debug(c, s, ...) HB_LOG(HB_LOG_DEBUG, c, s, __VA_ARGS__)

/* One finished exchange.  Strings are borrowed for the call. */
typedef struct hb_access_rec {
  uint64_t conn;
  int64_t stream;
  const char *client, *listener, *route, *proto_in, *proto_out;
  const char *method, *authority, *path, *upstream;
  const char *protocol; /* tunnel protocol (websocket) or NULL */
  int status;
  uint64_t bytes_in, bytes_out;
  double duration_ms;
  const char *error; /* NULL, or why the exchange failed */
} hb_access_rec;

void hb_access_log(const hb_access_rec *r);

#endif
