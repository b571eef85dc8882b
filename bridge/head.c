/* head.c: neutral message heads.  See head.h. */
#include "head.h"
#include "errors.h"

#include <string.h>
#include <strings.h>

void hb_head_init(hb_head *h, int is_request) {
  memset(h, 0, sizeof(*h));
  hb_arena_init(&h->arena);
  h->is_request = is_request;
  h->content_length = -1;
}

void hb_head_free(hb_head *h) {
  hb_arena_reset(&h->arena); /* the fields array lives there too */
  h->fields = NULL;
  h->nfields = h->cap = 0;
}

int hb_head_set_pseudo(hb_head *h, enum hb_pseudo which, const char *v, size_t len) {
  char *s = hb_arena_strndup(&h->arena, v, len);
  if (!s) return HB_ERR_NOMEM;
  switch (which) {
  case HB_PSEUDO_METHOD: h->method = s; break;
  case HB_PSEUDO_SCHEME: h->scheme = s; break;
  case HB_PSEUDO_AUTHORITY: h->authority = s; break;
  case HB_PSEUDO_PATH: h->path = s; break;
  case HB_PSEUDO_PROTOCOL: h->protocol = s; break;
  }
  return 0;
}

int hb_head_add(hb_head *h, const char *name, size_t namelen, const char *value, size_t valuelen) {
  if (h->nfields == h->cap) {
    /* The array is taken from the head's arena like its strings: one
     * allocation fewer per head on the hot path; an outgrown array stays
     * there until the head is freed (at most 2x the final size). */
    size_t ncap = h->cap ? h->cap * 2 : 16;
    hb_field *nf = hb_arena_alloc(&h->arena, ncap * sizeof(*nf));
    if (!nf) return HB_ERR_NOMEM;
    if (h->nfields) memcpy(nf, h->fields, h->nfields * sizeof(*nf));
    h->fields = nf;
    h->cap = ncap;
  }
  char *n = hb_arena_strndup(&h->arena, name, namelen);
  char *v = hb_arena_strndup(&h->arena, value, valuelen);
  if (!n || !v) return HB_ERR_NOMEM;
  for (size_t i = 0; i < namelen; i++)
    if (n[i] >= 'A' && n[i] <= 'Z') n[i] = (char)(n[i] + 32);
  hb_field *f = &h->fields[h->nfields++];
  f->name = n;
  f->namelen = namelen;
  f->value = v;
  f->valuelen = valuelen;
  h->bytes += namelen + valuelen + 32;
  return 0;
}

const hb_field *hb_head_get(const hb_head *h, const char *name) {
  for (size_t i = 0; i < h->nfields; i++)
    if (strcmp(h->fields[i].name, name) == 0) return &h->fields[i];
  return NULL;
}

size_t hb_head_remove(hb_head *h, const char *name) {
  size_t j = 0, removed = 0;
  for (size_t i = 0; i < h->nfields; i++) {
    if (strcmp(h->fields[i].name, name) == 0) {
      h->bytes -= h->fields[i].namelen + h->fields[i].valuelen + 32;
      removed++;
      continue;
    }
    h->fields[j++] = h->fields[i];
  }
  h->nfields = j;
  return removed;
}

int hb_token_list_has(const char *value, size_t len, const char *token) {
  size_t tl = strlen(token);
  size_t i = 0;
  while (i < len) {
    while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ',')) i++;
    size_t s = i;
    while (i < len && value[i] != ',') i++;
    size_t e = i;
    while (e > s && (value[e - 1] == ' ' || value[e - 1] == '\t')) e--;
    if (e - s == tl && strncasecmp(value + s, token, tl) == 0) return 1;
  }
  return 0;
}

void hb_head_strip_hop_by_hop(hb_head *h, int keep_te_trailers) {
  /* Fields named by Connection go too (RFC 9110 §7.6.1). */
  for (size_t i = 0; i < h->nfields; i++) {
    if (strcmp(h->fields[i].name, "connection") != 0) continue;
    const char *v = h->fields[i].value;
    size_t len = h->fields[i].valuelen, k = 0;
    while (k < len) {
      while (k < len && (v[k] == ' ' || v[k] == '\t' || v[k] == ',')) k++;
      size_t s = k;
      while (k < len && v[k] != ',' && v[k] != ' ' && v[k] != '\t') k++;
      if (k > s && k - s < 64) {
        char tok[64];
        for (size_t m = 0; m < k - s; m++) {
          char c = v[s + m];
          tok[m] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        tok[k - s] = '\0';
        if (strcmp(tok, "connection") != 0) {
          size_t before = h->nfields;
          hb_head_remove(h, tok);
          if (h->nfields != before) i = 0; /* array shifted: rescan */
        }
      }
    }
  }
  static const char *const hop[] = {"connection", "proxy-connection", "keep-alive",
                                    "transfer-encoding", "upgrade", "http2-settings"};
  for (size_t i = 0; i < HB_ARRAY_LEN(hop); i++) hb_head_remove(h, hop[i]);
  const hb_field *te = hb_head_get(h, "te");
  if (te) {
    int trailers = keep_te_trailers && hb_token_list_has(te->value, te->valuelen, "trailers");
    hb_head_remove(h, "te");
    if (trailers) hb_head_add(h, "te", 2, "trailers", 8);
  }
}

int hb_head_copy(hb_head *dst, const hb_head *src) {
  hb_head_init(dst, src->is_request);
  dst->status = src->status;
  dst->content_length = src->content_length;
  const char *p[] = {src->method, src->scheme, src->authority, src->path, src->protocol};
  for (int i = 0; i < 5; i++)
    if (p[i] && hb_head_set_pseudo(dst, (enum hb_pseudo)i, p[i], strlen(p[i])) != 0) goto nomem;
  for (size_t i = 0; i < src->nfields; i++)
    if (hb_head_add(dst, src->fields[i].name, src->fields[i].namelen, src->fields[i].value,
                    src->fields[i].valuelen) != 0)
      goto nomem;
  return 0;
nomem:
  hb_head_free(dst);
  return HB_ERR_NOMEM;
}
