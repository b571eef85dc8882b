/* router.h: picks the route of a request from the config's rules (first match
 * wins): listener, authority (exact or *.suffix, case-insensitive, port
 * ignored unless the rule names one), path prefix, method, and protocol
 * (Upgrade token or :protocol).  Pure; owns nothing. */
#ifndef HB_ROUTER_H
#define HB_ROUTER_H

#include "h2bridge.h"
#include "config.h"
#include "head.h"

/* Returns the index of the first route of |cfg| that matches request |req|
 * arriving on listener |listener| or over connector |connector| (the other
 * -1), or -1 when none does.  A route naming a listener matches only that
 * listener's traffic, one naming a connector only that connector's, one
 * naming neither matches both. */
ssize_t hb_router_match(const hb_config *cfg, ssize_t listener, ssize_t connector, const hb_head *req);
/* True when |authority| (host[:port]) matches |pattern|. */
int hb_router_authority_match(const char *pattern, const char *authority);

#endif
