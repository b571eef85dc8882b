/* router.c: route matching.  See router.h. */
#include "router.h"

#include <string.h>
#include <strings.h>

/* Length of the host part of "host[:port]" / "[v6]:port". */
static size_t host_len(const char *a) {
  size_t n = strlen(a);
  if (a[0] == '[') {
    const char *e = strchr(a, ']');
    return e ? (size_t)(e - a) + 1 : n;
  }
  const char *c = strrchr(a, ':');
  return c ? (size_t)(c - a) : n;
}

int hb_router_authority_match(const char *pattern, const char *authority) {
  if (!authority) return 0;
  int pattern_has_port = pattern[0] == '[' ? strstr(pattern, "]:") != NULL : strchr(pattern, ':') != NULL;
  size_t alen = pattern_has_port ? strlen(authority) : host_len(authority);
  if (pattern[0] == '*' && pattern[1] == '.') {
    size_t plen = strlen(pattern + 1); /* ".example.com" */
    return alen > plen && strncasecmp(authority + alen - plen, pattern + 1, plen) == 0;
  }
  return strlen(pattern) == alen && strncasecmp(pattern, authority, alen) == 0;
}

ssize_t hb_router_match(const hb_config *cfg, ssize_t listener, ssize_t connector, const hb_head *req) {
  for (size_t i = 0; i < cfg->nroutes; i++) {
    const hb_config_route *r = &cfg->routes[i];
    if (r->match_connector && r->connector != connector) continue;
    if (r->match_listener && r->listener != listener) continue;
    if (r->match_authority && !hb_router_authority_match(r->match_authority, req->authority)) continue;
    if (r->match_path && (!req->path || strncmp(req->path, r->match_path, strlen(r->match_path)) != 0))
      continue;
    if (r->match_method && (!req->method || strcmp(req->method, r->match_method) != 0)) continue;
    if (r->match_protocol && (!req->protocol || strcasecmp(req->protocol, r->match_protocol) != 0))
      continue;
    return (ssize_t)i;
  }
  return -1;
}
