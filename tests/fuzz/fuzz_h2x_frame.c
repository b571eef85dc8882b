/* fuzz_h2x_frame.c: libFuzzer target for the h2x frame codec (bridge/h2x_frame.c).
 * The first byte picks options (EX_HEADERS dialect, client preface, feed step);
 * the rest goes (1) through the resumable reader, whole and in steps, which
 * must yield the same frames and error, each parsed by every payload parser,
 * and (2) straight to the parsers with a header taken from its first 9 bytes
 * and the length forced to fit.  Checks: no crash, consumed <= len, every span
 * inside its payload, errors carry a reason, SETTINGS / CLIENT_AUTHORITY /
 * header blocks re-serialize to the same bytes.  Single-threaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "h2x_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)       \
  do {                 \
    if (!(c)) abort(); \
  } while (0)

/* [p, p+n) lies inside [base, base+len). */
static int inside(const uint8_t *p, size_t n, const uint8_t *base, size_t len) {
  if (n == 0 && p == NULL) return 1;
  return p >= base && p <= base + len && n <= (size_t)(base + len - p);
}

static void check_err(int rv, const hb_h2x_error *err) {
  CHECK(rv == 0 || rv == HB_ERR_PROTO);
  if (rv == HB_ERR_PROTO) CHECK(err->reason != NULL && (err->stream == 0 || err->stream == 1));
}

static void check_settings_repack(const hb_h2x_settings *s, const uint8_t *payload) {
  size_t cap = HB_H2X_FRAME_HD_LEN + s->count * 6;
  hb_h2x_setting *tmp = malloc((s->count + 1) * sizeof(*tmp));
  uint8_t *out = malloc(cap);
  CHECK(tmp != NULL && out != NULL);
  for (size_t i = 0; i < s->count; i++) hb_h2x_settings_get(s, i, &tmp[i]);
  CHECK(hb_h2x_pack_settings(out, cap - 1, tmp, s->count) == HB_ERR_TOO_LARGE);
  ssize_t n = hb_h2x_pack_settings(out, cap, tmp, s->count);
  CHECK(n == (ssize_t)cap);
  CHECK(memcmp(out + HB_H2X_FRAME_HD_LEN, payload, s->count * 6) == 0);
  free(tmp);
  free(out);
}

static void check_ca_repack(const hb_h2x_client_authority *ca, const uint8_t *payload,
                            size_t len) {
  const char **auth = malloc((ca->count + 1) * sizeof(*auth));
  size_t *alen = malloc((ca->count + 1) * sizeof(*alen));
  uint8_t *out = malloc(HB_H2X_FRAME_HD_LEN + len);
  CHECK(auth != NULL && alen != NULL && out != NULL);
  size_t pos = 0, n = 0, l;
  const uint8_t *a;
  while (hb_h2x_client_authority_next(ca, &pos, &a, &l)) {
    CHECK(n < ca->count && l >= 1 && l <= 255 && inside(a, l, payload, len));
    auth[n] = (const char *)a;
    alen[n++] = l;
  }
  CHECK(n == ca->count && n >= 1 && pos == len);
  ssize_t w = hb_h2x_pack_client_authority(out, HB_H2X_FRAME_HD_LEN + len, NULL, auth, alen, n);
  CHECK(w == (ssize_t)(HB_H2X_FRAME_HD_LEN + len));
  CHECK(memcmp(out + HB_H2X_FRAME_HD_LEN, payload, len) == 0);
  free(auth);
  free(alen);
  free(out);
}

/* Runs every parser over one payload, whatever hd->type says. */
static void parse_all(const hb_h2x_frame_hd *hd, const uint8_t *p, const hb_h2x_ext *ext) {
  size_t len = hd->length;
  hb_h2x_error err;
  int rv;
  hb_h2x_data d;
  rv = hb_h2x_parse_data(hd, p, &d, &err);
  check_err(rv, &err);
  if (rv == 0) CHECK(inside(d.data, d.len, p, len) && d.len + d.padlen + d.padded == len);
  hb_h2x_headers h;
  rv = hb_h2x_parse_headers(hd, p, &h, &err);
  check_err(rv, &err);
  if (rv == 0 || err.stream) CHECK(inside(h.block, h.len, p, len));
  hb_h2x_priority pri;
  check_err(hb_h2x_parse_priority(hd, p, &pri, &err), &err);
  uint32_t v;
  check_err(hb_h2x_parse_rst_stream(hd, p, &v, &err), &err);
  hb_h2x_settings s;
  rv = hb_h2x_parse_settings(hd, p, ext, 0, &s, &err);
  check_err(rv, &err);
  if (rv == 0 && !s.ack) check_settings_repack(&s, p);
  hb_h2x_push_promise pp;
  rv = hb_h2x_parse_push_promise(hd, p, &pp, &err);
  check_err(rv, &err);
  if (rv == 0) CHECK(inside(pp.block, pp.len, p, len));
  hb_h2x_ping ping;
  rv = hb_h2x_parse_ping(hd, p, &ping, &err);
  check_err(rv, &err);
  if (rv == 0) CHECK(inside(ping.opaque, 8, p, len));
  hb_h2x_goaway g;
  rv = hb_h2x_parse_goaway(hd, p, &g, &err);
  check_err(rv, &err);
  if (rv == 0) CHECK(inside(g.debug, g.debug_len, p, len) && g.debug_len + 8 == len);
  rv = hb_h2x_parse_window_update(hd, p, &v, &err);
  check_err(rv, &err);
  if (rv == 0) CHECK(v >= 1 && v <= HB_H2X_MAX_WINDOW);
  const uint8_t *b;
  size_t bl;
  rv = hb_h2x_parse_continuation(hd, p, &b, &bl, &err);
  check_err(rv, &err);
  if (rv == 0) CHECK(inside(b, bl, p, len));
  hb_h2x_ex_headers x;
  rv = hb_h2x_parse_ex_headers(hd, p, ext, &x, &err);
  check_err(rv, &err);
  if (rv == 0 || err.stream) CHECK(inside(x.block, x.len, p, len));
  if (rv == 0) CHECK(x.routing_id != 0 && x.routing_id != hd->stream_id);
  hb_h2x_client_authority ca;
  rv = hb_h2x_parse_client_authority(hd, p, &ca, &err);
  check_err(rv, &err);
  if (rv == 0) check_ca_repack(&ca, p, len);
  hb_h2x_frame f;
  rv = hb_h2x_frame_parse(hd, p, ext, 32, &f, &err);
  CHECK(rv == 0 || rv == HB_ERR_DECLINED || rv == HB_ERR_PROTO);
  CHECK(f.hd.length == hd->length && f.hd.type == hd->type);
}

/* Splits a header block into HEADERS/EX_HEADERS + CONTINUATION and back. */
static void split_block(const uint8_t *block, size_t len, uint8_t sel, const hb_h2x_ext *ext) {
  static uint8_t out[4 * 70000];
  static uint8_t again[70000];
  hb_h2x_priority pri = {1, sel & 1, sel};
  hb_h2x_block_hd bh = {(sel >> 1) & 1, 7, HB_H2X_FLAG_END_STREAM, (sel & 4) ? &pri : NULL, 3,
                        ext};
  uint32_t maxf = 10u + sel;
  if (len > sizeof(again)) return;
  size_t need = hb_h2x_header_block_size(&bh, len, maxf);
  ssize_t n = hb_h2x_pack_header_block(out, sizeof(out), &bh, block, len, maxf);
  CHECK(n > 0 && (size_t)n == need);
  size_t pos = 0, olen = 0;
  int ended = 0;
  while (pos < (size_t)n) {
    hb_h2x_frame_hd hd;
    hb_h2x_frame_hd_unpack(out + pos, &hd);
    CHECK(!ended && hd.length <= maxf && hd.stream_id == 7);
    CHECK((size_t)n - pos - HB_H2X_FRAME_HD_LEN >= hd.length);
    const uint8_t *p = out + pos + HB_H2X_FRAME_HD_LEN;
    hb_h2x_error err;
    if (pos == 0 && bh.ex) {
      hb_h2x_ex_headers x;
      CHECK(hb_h2x_parse_ex_headers(&hd, p, ext, &x, &err) == 0 && x.routing_id == 3);
      memcpy(again + olen, x.block, x.len);
      olen += x.len;
    } else if (pos == 0) {
      hb_h2x_headers h;
      CHECK(hb_h2x_parse_headers(&hd, p, &h, &err) == 0);
      memcpy(again + olen, h.block, h.len);
      olen += h.len;
    } else {
      const uint8_t *b;
      size_t bl;
      CHECK(hd.type == HB_H2X_CONTINUATION);
      CHECK(hb_h2x_parse_continuation(&hd, p, &b, &bl, &err) == 0);
      memcpy(again + olen, b, bl);
      olen += bl;
    }
    ended = (hd.flags & HB_H2X_FLAG_END_HEADERS) != 0;
    pos += HB_H2X_FRAME_HD_LEN + hd.length;
  }
  CHECK(ended && pos == (size_t)n && olen == len && memcmp(again, block, len) == 0);
}

typedef struct run {
  uint64_t digest; /* of every frame header and payload, in order */
  size_t frames, consumed;
  ssize_t err;
  uint32_t code;
} run;

static uint64_t mix(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

static void read_run(const uint8_t *in, size_t len, size_t step, int preface,
                     const hb_h2x_ext *ext, int parse, run *out) {
  hb_h2x_reader r;
  CHECK(hb_h2x_reader_init(&r, 16384) == 0);
  if (preface) hb_h2x_reader_expect_preface(&r);
  memset(out, 0, sizeof(*out));
  out->digest = 0xcbf29ce484222325ULL;
  size_t pos = 0;
  while (pos < len) {
    size_t avail = step ? HB_MIN(step, len - pos) : len - pos;
    hb_h2x_frame_hd hd;
    const uint8_t *payload = NULL;
    int have = 0;
    uint32_t code = 0;
    const char *reason = NULL;
    ssize_t n = hb_h2x_reader_feed(&r, in + pos, avail, &hd, &payload, &have, &code, &reason);
    if (n < 0) {
      CHECK(n == HB_ERR_PROTO && reason != NULL);
      CHECK(code == HB_H2X_PROTOCOL_ERROR || code == HB_H2X_FRAME_SIZE_ERROR);
      out->err = n;
      out->code = code;
      /* sticky */
      CHECK(hb_h2x_reader_feed(&r, in + pos, avail, &hd, &payload, &have, &code, &reason) == n);
      break;
    }
    CHECK((size_t)n <= avail);
    if (have) {
      CHECK(hd.length <= 16384 && hd.stream_id <= HB_H2X_STREAM_ID_MASK);
      CHECK(inside(payload, hd.length, in + pos, (size_t)n) ||
            inside(payload, hd.length, r.buf, r.bufcap));
      uint8_t raw[HB_H2X_FRAME_HD_LEN];
      hb_h2x_frame_hd_pack(&hd, raw);
      out->digest = mix(mix(out->digest, raw, sizeof(raw)), payload, hd.length);
      out->frames++;
      if (parse) parse_all(&hd, payload, ext);
    } else {
      CHECK((size_t)n == avail);
    }
    CHECK(r.bufcap <= 16384);
    pos += (size_t)n;
  }
  out->consumed = pos;
  hb_h2x_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const size_t steps[] = {1, 2, 3, 5, 8, 9, 10, 4096};
  if (size < 1) return 0;
  uint8_t sel = data[0];
  data++;
  size--;
  hb_h2x_ext ext;
  hb_h2x_ext_defaults(&ext);
  ext.enabled = HB_H2X_EXT_EX_HEADERS | HB_H2X_EXT_P2P | HB_H2X_EXT_SYMMETRIC;
  if (sel & 1) ext.ex_dialect = HB_H2X_EX_PROXYGEN;
  int preface = (sel & 2) != 0;

  /* (1) the reader, whole and in steps: same frames, same outcome */
  run whole, split;
  read_run(data, size, 0, preface, &ext, 1, &whole);
  read_run(data, size, steps[(sel >> 2) & 7], preface, &ext, 0, &split);
  CHECK(whole.err == split.err && whole.code == split.code);
  CHECK(whole.frames == split.frames && whole.digest == split.digest);
  if (!whole.err) CHECK(whole.consumed == size && split.consumed == size);

  /* (2) the parsers straight on the input, the length forced to fit */
  if (size >= HB_H2X_FRAME_HD_LEN) {
    hb_h2x_frame_hd hd;
    hb_h2x_frame_hd_unpack(data, &hd);
    size_t rest = size - HB_H2X_FRAME_HD_LEN;
    hd.length = (uint32_t)HB_MIN(rest, (size_t)HB_H2X_MAX_MAX_FRAME_SIZE);
    /* an exact-size copy so ASan flags any read past the payload */
    uint8_t *copy = malloc(hd.length ? hd.length : 1);
    CHECK(copy != NULL);
    memcpy(copy, data + HB_H2X_FRAME_HD_LEN, hd.length);
    parse_all(&hd, copy, &ext);
    split_block(copy, hd.length, sel, &ext);
    free(copy);
  }
  return 0;
}
