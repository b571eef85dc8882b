/* head.h: the engine-neutral message head: request pseudo-headers (method,
 * scheme, authority, path, protocol) or a response status, plus fields with
 * lower-case names.  A head owns its strings (in its arena) and its field array.
 * Translators and the router work on heads only, never on wire bytes. */
#ifndef HB_HEAD_H
#define HB_HEAD_H

#include "h2bridge.h"
#include "mem.h"

typedef struct hb_field {
  const char *name; /* lower-case, NUL-terminated */
  size_t namelen;
  const char *value; /* NUL-terminated */
  size_t valuelen;
} hb_field;

typedef struct hb_head {
  hb_arena arena;
  int is_request;
  const char *method, *scheme, *authority, *path, *protocol; /* NULL: absent */
  int status;                                                /* responses */
  hb_field *fields;
  size_t nfields, cap;
  size_t bytes;           /* sum of name+value+32 per field, RFC 9113 §6.5.2 */
  int64_t content_length; /* -1: not given */
} hb_head;

enum hb_pseudo { HB_PSEUDO_METHOD, HB_PSEUDO_SCHEME, HB_PSEUDO_AUTHORITY, HB_PSEUDO_PATH, HB_PSEUDO_PROTOCOL };

void hb_head_init(hb_head *h, int is_request);
void hb_head_free(hb_head *h);
/* Sets a pseudo-header (copied).  Returns 0 or HB_ERR_NOMEM. */
int hb_head_set_pseudo(hb_head *h, enum hb_pseudo which, const char *v, size_t len);
/* Appends a field; |name| is copied lower-cased.  Returns 0 or HB_ERR_NOMEM. */
int hb_head_add(hb_head *h, const char *name, size_t namelen, const char *value, size_t valuelen);
/* Returns the first field named |name| (lower-case), or NULL. */
const hb_field *hb_head_get(const hb_head *h, const char *name);
/* Removes every field named |name|; returns how many. */
size_t hb_head_remove(hb_head *h, const char *name);
/* Removes the hop-by-hop fields of RFC 9110 §7.6.1: Connection and every field
 * it names, Proxy-Connection, Keep-Alive, TE (except "trailers" when
 * |keep_te_trailers|), Transfer-Encoding, Upgrade, HTTP2-Settings. */
void hb_head_strip_hop_by_hop(hb_head *h, int keep_te_trailers);
/* True when the comma-separated list in |value| holds |token| (case-insensitive). */
int hb_token_list_has(const char *value, size_t len, const char *token);
/* Deep copy of |src| into |dst| (initialised here).  0 or HB_ERR_NOMEM. */
int hb_head_copy(hb_head *dst, const hb_head *src);

#endif
