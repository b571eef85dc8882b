/* hpack_compat.h: the h2x engine's calls into nghttp2's public HPACK codec,
 * and the one place that knows which libnghttp2 it is built against
 * (issue 5).  Debian 12's libnghttp2 1.52 has nghttp2_hd_inflate_hd2 and the
 * ssize_t nghttp2_hd_deflate_hd; the nghttp2_ssize variants of later releases
 * (nghttp2_hd_inflate_hd3, 1.61+) swap in here.  The codec's memory goes
 * through hb_mem.  Header-only: static inline wrappers, no state. */
#ifndef HB_HPACK_COMPAT_H
#define HB_HPACK_COMPAT_H

#include "errors.h"
#include "mem.h"

#include <nghttp2/nghttp2.h>
#include <sys/types.h>

static inline void *hb_hpack_malloc(size_t n, void *ud) { (void)ud; return hb_malloc(n); }
static inline void hb_hpack_free(void *p, void *ud) { (void)ud; hb_free(p); }
static inline void *hb_hpack_calloc(size_t n, size_t sz, void *ud) { (void)ud; return hb_calloc(n, sz); }
static inline void *hb_hpack_realloc(void *p, size_t n, void *ud) { (void)ud; return hb_realloc(p, n); }

/* A decoder and an encoder whose dynamic table is |deflate_table| bytes at
 * most.  0, or HB_ERR_NOMEM (nothing allocated). */
static inline int hb_hpack_new(nghttp2_hd_inflater **inf, nghttp2_hd_deflater **def, size_t deflate_table) {
  static nghttp2_mem mem = {NULL, hb_hpack_malloc, hb_hpack_free, hb_hpack_calloc, hb_hpack_realloc};
  if (nghttp2_hd_inflate_new2(inf, &mem) != 0) return HB_ERR_NOMEM;
  if (nghttp2_hd_deflate_new2(def, deflate_table, &mem) != 0) {
    nghttp2_hd_inflate_del(*inf);
    *inf = NULL;
    return HB_ERR_NOMEM;
  }
  return 0;
}

/* One step of decoding: >= 0 bytes of |in| used, or < 0 on a HPACK error. */
static inline ssize_t hb_hpack_inflate(nghttp2_hd_inflater *inf, nghttp2_nv *nv, int *flags, const uint8_t *in,
                                       size_t len, int final) {
  return nghttp2_hd_inflate_hd2(inf, nv, flags, in, len, final);
}

/* Encodes |n| fields into |buf| (|cap| >= hb_hpack_bound()); the length, or < 0. */
static inline ssize_t hb_hpack_deflate(nghttp2_hd_deflater *def, uint8_t *buf, size_t cap, const nghttp2_nv *nva,
                                       size_t n) {
  return nghttp2_hd_deflate_hd(def, buf, cap, nva, n);
}

static inline size_t hb_hpack_bound(nghttp2_hd_deflater *def, const nghttp2_nv *nva, size_t n) {
  return nghttp2_hd_deflate_bound(def, nva, n);
}

#endif
