/* h2x_frame.c: HTTP/2 frame codec for the h2x engine (RFC 9113 §3.4, §4, §6,
 * §7; draft-xie EX_HEADERS; draft-benfield CLIENT_AUTHORITY).  Owns only the
 * reader's partial-frame buffer (hb_mem, <= max_frame_size); parsers borrow
 * the caller's bytes.  Reentrant, no globals.  Every length read from the wire
 * is compared with what remains before it is subtracted: no size_t underflow. */
#include "h2x_frame.h"
#include "errors.h"
#include "mem.h"

#include <string.h>

/* ---- byte helpers ---- */

static uint32_t get32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(((unsigned)p[0] << 8) | p[1]); }

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static const hb_h2x_ext default_ext = {
    0,
    HB_H2X_EX_DRAFT,
    HB_H2X_EX_HEADERS_DEFAULT,
    HB_H2X_CLIENT_AUTHORITY_DEFAULT,
    HB_H2X_SETTINGS_ENABLE_EX_HEADERS_DEFAULT,
    HB_H2X_SETTINGS_PEER_TO_PEER_DEFAULT,
    HB_H2X_SETTINGS_SYMMETRIC_DEFAULT,
    HB_H2X_ROUTING_STREAM_ERROR_DEFAULT,
    HB_H2X_EX_HEADERS_NOT_ENABLED_ERROR_DEFAULT,
};

void hb_h2x_ext_defaults(hb_h2x_ext *ext) { *ext = default_ext; }

/* Sets |*err| and returns HB_ERR_PROTO, so parsers can `return fail(...)`. */
static int fail(hb_h2x_error *err, uint32_t code, int stream, const char *reason) {
  err->code = code;
  err->stream = stream;
  err->reason = reason;
  return HB_ERR_PROTO;
}

/* ---- names ---- */

const char *hb_h2x_error_str(uint32_t code) {
  static const char *const names[] = {
      "NO_ERROR",         "PROTOCOL_ERROR",     "INTERNAL_ERROR",  "FLOW_CONTROL_ERROR",
      "SETTINGS_TIMEOUT", "STREAM_CLOSED",      "FRAME_SIZE_ERROR", "REFUSED_STREAM",
      "CANCEL",           "COMPRESSION_ERROR",  "CONNECT_ERROR",   "ENHANCE_YOUR_CALM",
      "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"};
  return code < HB_ARRAY_LEN(names) ? names[code] : "UNKNOWN";
}

const char *hb_h2x_type_str(uint8_t type) {
  static const char *const names[] = {"DATA",         "HEADERS", "PRIORITY", "RST_STREAM",
                                      "SETTINGS",     "PUSH_PROMISE", "PING", "GOAWAY",
                                      "WINDOW_UPDATE", "CONTINUATION"};
  return type < HB_ARRAY_LEN(names) ? names[type] : "UNKNOWN";
}

const char *hb_h2x_settings_str(uint16_t id) {
  switch (id) {
  case HB_H2X_SETTINGS_HEADER_TABLE_SIZE: return "HEADER_TABLE_SIZE";
  case HB_H2X_SETTINGS_ENABLE_PUSH: return "ENABLE_PUSH";
  case HB_H2X_SETTINGS_MAX_CONCURRENT_STREAMS: return "MAX_CONCURRENT_STREAMS";
  case HB_H2X_SETTINGS_INITIAL_WINDOW_SIZE: return "INITIAL_WINDOW_SIZE";
  case HB_H2X_SETTINGS_MAX_FRAME_SIZE: return "MAX_FRAME_SIZE";
  case HB_H2X_SETTINGS_MAX_HEADER_LIST_SIZE: return "MAX_HEADER_LIST_SIZE";
  case HB_H2X_SETTINGS_ENABLE_CONNECT_PROTOCOL: return "ENABLE_CONNECT_PROTOCOL";
  case HB_H2X_SETTINGS_NO_RFC7540_PRIORITIES: return "NO_RFC7540_PRIORITIES";
  default: return "UNKNOWN";
  }
}

/* ---- frame header ---- */

void hb_h2x_frame_hd_unpack(const uint8_t in[9], hb_h2x_frame_hd *hd) {
  hd->length = ((uint32_t)in[0] << 16) | ((uint32_t)in[1] << 8) | in[2];
  hd->type = in[3];
  hd->flags = in[4];
  hd->stream_id = get32(in + 5) & HB_H2X_STREAM_ID_MASK;
}

void hb_h2x_frame_hd_pack(const hb_h2x_frame_hd *hd, uint8_t out[9]) {
  out[0] = (uint8_t)(hd->length >> 16);
  out[1] = (uint8_t)(hd->length >> 8);
  out[2] = (uint8_t)hd->length;
  out[3] = hd->type;
  out[4] = hd->flags;
  put32(out + 5, hd->stream_id & HB_H2X_STREAM_ID_MASK);
}

/* ---- preface ---- */

ssize_t hb_h2x_preface_feed(size_t *matched, const uint8_t *in, size_t len) {
  static const uint8_t preface[] = HB_H2X_PREFACE;
  size_t n = 0;
  while (n < len && *matched < HB_H2X_PREFACE_LEN) {
    if (in[n] != preface[*matched]) return HB_ERR_PROTO;
    n++;
    (*matched)++;
  }
  return (ssize_t)n;
}

/* ---- reader ---- */

static int valid_max(uint32_t n) {
  return n >= HB_H2X_MIN_MAX_FRAME_SIZE && n <= HB_H2X_MAX_MAX_FRAME_SIZE;
}

int hb_h2x_reader_init(hb_h2x_reader *r, uint32_t max_frame_size) {
  memset(r, 0, sizeof(*r));
  r->state = HB_H2X_READER_HEADER;
  r->max_frame_size = HB_H2X_MIN_MAX_FRAME_SIZE;
  if (!valid_max(max_frame_size)) return HB_ERR_INVALID;
  r->max_frame_size = max_frame_size;
  return 0;
}

void hb_h2x_reader_expect_preface(hb_h2x_reader *r) {
  r->state = HB_H2X_READER_PREFACE;
  r->preface_matched = 0;
}

void hb_h2x_reader_expect_settings(hb_h2x_reader *r) { r->expect_settings = 1; }

int hb_h2x_reader_set_max(hb_h2x_reader *r, uint32_t max_frame_size) {
  if (!valid_max(max_frame_size)) return HB_ERR_INVALID;
  r->max_frame_size = max_frame_size;
  if (r->bufcap > max_frame_size && r->state != HB_H2X_READER_PAYLOAD) {
    hb_free(r->buf);
    r->buf = NULL;
    r->bufcap = 0;
  }
  return 0;
}

void hb_h2x_reader_free(hb_h2x_reader *r) {
  hb_free(r->buf);
  r->buf = NULL;
  r->bufcap = r->buflen = 0;
}

const char *hb_h2x_reader_state_str(const hb_h2x_reader *r) {
  switch (r->state) {
  case HB_H2X_READER_PREFACE: return "preface";
  case HB_H2X_READER_HEADER: return "header";
  case HB_H2X_READER_PAYLOAD: return "payload";
  case HB_H2X_READER_ERROR: return "error";
  default: return "?";
  }
}

static ssize_t reader_fail(hb_h2x_reader *r, int rv, uint32_t code, const char *reason,
                           uint32_t *err_code, const char **why) {
  r->state = HB_H2X_READER_ERROR;
  r->err = rv;
  r->err_code = code;
  r->err_reason = reason;
  *err_code = code;
  *why = reason;
  return rv;
}

ssize_t hb_h2x_reader_feed(hb_h2x_reader *r, const uint8_t *in, size_t len,
                           hb_h2x_frame_hd *hd, const uint8_t **payload, int *have_frame,
                           uint32_t *err_code, const char **reason) {
  size_t pos = 0;
  *have_frame = 0;
  if (r->state == HB_H2X_READER_ERROR) {
    *err_code = r->err_code;
    *reason = r->err_reason;
    return r->err;
  }
  if (r->state == HB_H2X_READER_PREFACE) {
    ssize_t n = hb_h2x_preface_feed(&r->preface_matched, in, len);
    if (n < 0)
      return reader_fail(r, HB_ERR_PROTO, HB_H2X_PROTOCOL_ERROR, "bad client connection preface",
                         err_code, reason);
    pos = (size_t)n;
    if (r->preface_matched < HB_H2X_PREFACE_LEN) return (ssize_t)pos;
    r->state = HB_H2X_READER_HEADER;
    r->hdlen = 0;
  }
  if (r->state == HB_H2X_READER_HEADER) {
    const uint8_t *h;
    if (r->hdlen == 0 && len - pos >= HB_H2X_FRAME_HD_LEN) {
      h = in + pos; /* common case: the whole header is in |in| */
      pos += HB_H2X_FRAME_HD_LEN;
    } else {
      size_t n = HB_MIN(HB_H2X_FRAME_HD_LEN - r->hdlen, len - pos);
      if (n) memcpy(r->hdbuf + r->hdlen, in + pos, n);
      r->hdlen += n;
      pos += n;
      if (r->hdlen < HB_H2X_FRAME_HD_LEN) return (ssize_t)pos;
      h = r->hdbuf;
    }
    r->hdlen = 0;
    hb_h2x_frame_hd_unpack(h, &r->hd);
    if (r->expect_settings) {
      r->expect_settings = 0;
      if (r->hd.type != HB_H2X_SETTINGS || (r->hd.flags & HB_H2X_FLAG_ACK))
        return reader_fail(r, HB_ERR_PROTO, HB_H2X_PROTOCOL_ERROR, "the first frame is not SETTINGS", err_code,
                           reason);
    }
    if (r->hd.length > r->max_frame_size)
      return reader_fail(r, HB_ERR_PROTO, HB_H2X_FRAME_SIZE_ERROR,
                         "frame larger than SETTINGS_MAX_FRAME_SIZE", err_code, reason);
    if (len - pos >= r->hd.length) {
      /* zero-copy: the payload is in |in| */
      *hd = r->hd;
      *payload = in + pos;
      *have_frame = 1;
      return (ssize_t)(pos + r->hd.length);
    }
    if (r->bufcap < r->hd.length) {
      hb_free(r->buf);
      r->bufcap = 0;
      r->buf = hb_malloc(r->hd.length);
      if (r->buf == NULL)
        return reader_fail(r, HB_ERR_NOMEM, HB_H2X_INTERNAL_ERROR, "out of memory", err_code,
                           reason);
      r->bufcap = r->hd.length;
    }
    r->buflen = 0;
    r->state = HB_H2X_READER_PAYLOAD;
  }
  /* HB_H2X_READER_PAYLOAD */
  size_t n = HB_MIN(r->hd.length - r->buflen, len - pos);
  if (n) memcpy(r->buf + r->buflen, in + pos, n);
  r->buflen += n;
  pos += n;
  if (r->buflen == r->hd.length) {
    *hd = r->hd;
    *payload = r->buf;
    *have_frame = 1;
    r->state = HB_H2X_READER_HEADER;
  }
  return (ssize_t)pos;
}

/* ---- parsers ---- */

/* Pad Length and the fixed fields of a padded frame: |*off| moves past the
 * Pad Length octet and |fixed| more bytes; |*rest| gets the span between them
 * and the padding.  FRAME_SIZE_ERROR when the fixed fields do not fit,
 * PROTOCOL_ERROR when the padding does not (§6.1, §6.2, §6.6). */
static int padded_span(const hb_h2x_frame_hd *hd, const uint8_t *payload, size_t fixed,
                       size_t *off, size_t *rest, size_t *padlen, int *padded,
                       hb_h2x_error *err) {
  size_t len = hd->length, o = 0, pad = 0;
  *padded = (hd->flags & HB_H2X_FLAG_PADDED) != 0;
  if (*padded) {
    if (len < 1) return fail(err, HB_H2X_FRAME_SIZE_ERROR, 0, "PADDED frame without Pad Length");
    pad = payload[0];
    o = 1;
  }
  if (len - o < fixed) return fail(err, HB_H2X_FRAME_SIZE_ERROR, 0, "frame too short for its fields");
  o += fixed;
  if (pad > len - o) return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "padding exceeds frame payload");
  *off = o - fixed;
  *rest = len - o - pad;
  *padlen = pad;
  return 0;
}

static void read_priority(const uint8_t *p, hb_h2x_priority *pri) {
  uint32_t v = get32(p);
  pri->exclusive = (v & 0x80000000u) != 0;
  pri->dependency = v & HB_H2X_STREAM_ID_MASK;
  pri->weight = p[4];
}

int hb_h2x_parse_data(const hb_h2x_frame_hd *hd, const uint8_t *payload, hb_h2x_data *out,
                      hb_h2x_error *err) {
  size_t off, rest;
  memset(out, 0, sizeof(*out));
  if (hd->stream_id == 0) return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "DATA on stream 0");
  int rv = padded_span(hd, payload, 0, &off, &rest, &out->padlen, &out->padded, err);
  if (rv) return rv;
  out->data = payload + off;
  out->len = rest;
  return 0;
}

int hb_h2x_parse_headers(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                         hb_h2x_headers *out, hb_h2x_error *err) {
  size_t off, rest;
  memset(out, 0, sizeof(*out));
  if (hd->stream_id == 0) return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "HEADERS on stream 0");
  out->has_priority = (hd->flags & HB_H2X_FLAG_PRIORITY) != 0;
  size_t fixed = out->has_priority ? 5 : 0;
  int rv = padded_span(hd, payload, fixed, &off, &rest, &out->padlen, &out->padded, err);
  if (rv) return rv;
  if (out->has_priority) read_priority(payload + off, &out->priority);
  out->block = payload + off + fixed;
  out->len = rest;
  if (out->has_priority && out->priority.dependency == hd->stream_id)
    return fail(err, HB_H2X_PROTOCOL_ERROR, 1, "stream depends on itself");
  return 0;
}

int hb_h2x_parse_priority(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                          hb_h2x_priority *out, hb_h2x_error *err) {
  memset(out, 0, sizeof(*out));
  if (hd->stream_id == 0) return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "PRIORITY on stream 0");
  if (hd->length != 5) return fail(err, HB_H2X_FRAME_SIZE_ERROR, 1, "PRIORITY length is not 5");
  read_priority(payload, out);
  if (out->dependency == hd->stream_id)
    return fail(err, HB_H2X_PROTOCOL_ERROR, 1, "stream depends on itself");
  return 0;
}

int hb_h2x_parse_rst_stream(const hb_h2x_frame_hd *hd, const uint8_t *payload, uint32_t *code,
                            hb_h2x_error *err) {
  *code = 0;
  if (hd->stream_id == 0) return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "RST_STREAM on stream 0");
  if (hd->length != 4)
    return fail(err, HB_H2X_FRAME_SIZE_ERROR, 0, "RST_STREAM length is not 4");
  *code = get32(payload);
  return 0;
}

static int is_bool(uint32_t v) { return v <= 1; }

int hb_h2x_parse_settings(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                          const hb_h2x_ext *ext, size_t max_entries, hb_h2x_settings *out,
                          hb_h2x_error *err) {
  memset(out, 0, sizeof(*out));
  if (ext == NULL) ext = &default_ext; /* nothing enabled */
  if (hd->stream_id != 0) return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "SETTINGS not on stream 0");
  if (hd->flags & HB_H2X_FLAG_ACK) {
    if (hd->length != 0)
      return fail(err, HB_H2X_FRAME_SIZE_ERROR, 0, "SETTINGS ACK with a payload");
    out->ack = 1;
    return 0;
  }
  if (hd->length % 6 != 0)
    return fail(err, HB_H2X_FRAME_SIZE_ERROR, 0, "SETTINGS length not a multiple of 6");
  size_t n = hd->length / 6;
  if (max_entries && n > max_entries)
    return fail(err, HB_H2X_ENHANCE_YOUR_CALM, 0, "too many SETTINGS entries");
  for (size_t i = 0; i < n; i++) {
    uint16_t id = get16(payload + i * 6);
    uint32_t v = get32(payload + i * 6 + 2);
    switch (id) {
    case HB_H2X_SETTINGS_ENABLE_PUSH:
      if (!is_bool(v)) return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "ENABLE_PUSH not 0 or 1");
      break;
    case HB_H2X_SETTINGS_INITIAL_WINDOW_SIZE:
      if (v > HB_H2X_MAX_WINDOW)
        return fail(err, HB_H2X_FLOW_CONTROL_ERROR, 0, "INITIAL_WINDOW_SIZE above 2^31-1");
      break;
    case HB_H2X_SETTINGS_MAX_FRAME_SIZE:
      if (!valid_max(v))
        return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "MAX_FRAME_SIZE outside 16384..2^24-1");
      break;
    case HB_H2X_SETTINGS_ENABLE_CONNECT_PROTOCOL:
      if (!is_bool(v))
        return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "ENABLE_CONNECT_PROTOCOL not 0 or 1");
      break;
    case HB_H2X_SETTINGS_NO_RFC7540_PRIORITIES:
      if (!is_bool(v))
        return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "NO_RFC7540_PRIORITIES not 0 or 1");
      break;
    default:
      /* extension ids are configurable, so they cannot be case labels */
      if ((ext->enabled & HB_H2X_EXT_EX_HEADERS) && id == ext->enable_ex_headers_id && !is_bool(v))
        return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "ENABLE_EX_HEADERS not 0 or 1");
      if ((ext->enabled & HB_H2X_EXT_P2P) && id == ext->peer_to_peer_id && !is_bool(v))
        return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "PEER_TO_PEER not 0 or 1");
      break; /* SYMMETRIC: any value; unknown ids: ignored (§6.5.2) */
    }
  }
  out->entries = payload;
  out->count = n;
  return 0;
}

void hb_h2x_settings_get(const hb_h2x_settings *s, size_t i, hb_h2x_setting *entry) {
  entry->id = get16(s->entries + i * 6);
  entry->value = get32(s->entries + i * 6 + 2);
}

int hb_h2x_parse_push_promise(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                              hb_h2x_push_promise *out, hb_h2x_error *err) {
  size_t off, rest;
  memset(out, 0, sizeof(*out));
  if (hd->stream_id == 0) return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "PUSH_PROMISE on stream 0");
  int rv = padded_span(hd, payload, 4, &off, &rest, &out->padlen, &out->padded, err);
  if (rv) return rv;
  out->promised_id = get32(payload + off) & HB_H2X_STREAM_ID_MASK;
  out->block = payload + off + 4;
  out->len = rest;
  return 0;
}

int hb_h2x_parse_ping(const hb_h2x_frame_hd *hd, const uint8_t *payload, hb_h2x_ping *out,
                      hb_h2x_error *err) {
  memset(out, 0, sizeof(*out));
  if (hd->length != 8) return fail(err, HB_H2X_FRAME_SIZE_ERROR, 0, "PING length is not 8");
  if (hd->stream_id != 0) return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "PING not on stream 0");
  out->opaque = payload;
  out->ack = (hd->flags & HB_H2X_FLAG_ACK) != 0;
  return 0;
}

int hb_h2x_parse_goaway(const hb_h2x_frame_hd *hd, const uint8_t *payload, hb_h2x_goaway *out,
                        hb_h2x_error *err) {
  memset(out, 0, sizeof(*out));
  if (hd->stream_id != 0) return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "GOAWAY not on stream 0");
  if (hd->length < 8) return fail(err, HB_H2X_FRAME_SIZE_ERROR, 0, "GOAWAY shorter than 8");
  out->last_stream_id = get32(payload) & HB_H2X_STREAM_ID_MASK;
  out->error_code = get32(payload + 4);
  out->debug = payload + 8;
  out->debug_len = hd->length - 8;
  return 0;
}

int hb_h2x_parse_window_update(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                               uint32_t *increment, hb_h2x_error *err) {
  *increment = 0;
  if (hd->length != 4)
    return fail(err, HB_H2X_FRAME_SIZE_ERROR, 0, "WINDOW_UPDATE length is not 4");
  *increment = get32(payload) & HB_H2X_STREAM_ID_MASK;
  if (*increment == 0)
    return fail(err, HB_H2X_PROTOCOL_ERROR, hd->stream_id != 0, "WINDOW_UPDATE increment of 0");
  return 0;
}

int hb_h2x_parse_continuation(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                              const uint8_t **block, size_t *len, hb_h2x_error *err) {
  *block = NULL;
  *len = 0;
  if (hd->stream_id == 0) return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "CONTINUATION on stream 0");
  *block = payload;
  *len = hd->length;
  return 0;
}

int hb_h2x_parse_ex_headers(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                            const hb_h2x_ext *ext, hb_h2x_ex_headers *out, hb_h2x_error *err) {
  size_t off, rest;
  memset(out, 0, sizeof(*out));
  if (ext == NULL) ext = &default_ext;
  int proxygen = ext->ex_dialect == HB_H2X_EX_PROXYGEN;
  if (hd->stream_id == 0) return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "EX_HEADERS on stream 0");
  out->has_priority = (hd->flags & HB_H2X_FLAG_PRIORITY) != 0;
  size_t prio = out->has_priority ? 5 : 0;
  int rv = padded_span(hd, payload, prio + 4, &off, &rest, &out->padlen, &out->padded, err);
  if (rv) return rv;
  if (out->has_priority) read_priority(payload + off, &out->priority);
  out->routing_id = get32(payload + off + prio) & HB_H2X_STREAM_ID_MASK;
  out->block = payload + off + prio + 4;
  out->len = rest;
  out->unidirectional = proxygen && (hd->flags & HB_H2X_FLAG_UNIDIRECTIONAL) != 0;
  if (proxygen) {
    if ((out->routing_id & 1) == 0)
      return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "EX_HEADERS routing stream id not odd");
    if (out->routing_id == hd->stream_id)
      return fail(err, HB_H2X_STREAM_CLOSED, 1, "EX_HEADERS routes through itself");
  } else {
    if (out->routing_id == 0)
      return fail(err, ext->routing_stream_error, 0, "EX_HEADERS routing stream id 0");
    if (out->routing_id == hd->stream_id)
      return fail(err, ext->routing_stream_error, 0, "EX_HEADERS routes through itself");
  }
  if (out->has_priority && out->priority.dependency == hd->stream_id)
    return fail(err, HB_H2X_PROTOCOL_ERROR, 1, "stream depends on itself");
  return 0;
}

int hb_h2x_parse_client_authority(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                                  hb_h2x_client_authority *out, hb_h2x_error *err) {
  memset(out, 0, sizeof(*out));
  if (hd->stream_id != 0)
    return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "CLIENT_AUTHORITY not on stream 0");
  if (hd->length == 0) return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "empty CLIENT_AUTHORITY");
  size_t pos = 0, n = 0, len = hd->length;
  while (pos < len) {
    size_t alen = payload[pos];
    if (alen == 0)
      return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "zero-length authority in CLIENT_AUTHORITY");
    if (alen > len - pos - 1)
      return fail(err, HB_H2X_PROTOCOL_ERROR, 0, "CLIENT_AUTHORITY segment past frame end");
    pos += 1 + alen;
    n++;
  }
  out->segments = payload;
  out->len = len;
  out->count = n;
  return 0;
}

int hb_h2x_client_authority_next(const hb_h2x_client_authority *ca, size_t *pos,
                                 const uint8_t **authority, size_t *len) {
  /* re-checked so a hand-made or stale struct cannot read past the end */
  if (*pos >= ca->len) return 0;
  size_t alen = ca->segments[*pos];
  if (alen == 0 || alen > ca->len - *pos - 1) return 0;
  *authority = ca->segments + *pos + 1;
  *len = alen;
  *pos += 1 + alen;
  return 1;
}

int hb_h2x_frame_parse(const hb_h2x_frame_hd *hd, const uint8_t *payload, const hb_h2x_ext *ext,
                       size_t max_settings, hb_h2x_frame *out, hb_h2x_error *err) {
  memset(out, 0, sizeof(*out));
  out->hd = *hd;
  if (ext == NULL) ext = &default_ext;
  switch (hd->type) {
  case HB_H2X_DATA: return hb_h2x_parse_data(hd, payload, &out->u.data, err);
  case HB_H2X_HEADERS: return hb_h2x_parse_headers(hd, payload, &out->u.headers, err);
  case HB_H2X_PRIORITY: return hb_h2x_parse_priority(hd, payload, &out->u.priority, err);
  case HB_H2X_RST_STREAM:
    return hb_h2x_parse_rst_stream(hd, payload, &out->u.rst_stream_code, err);
  case HB_H2X_SETTINGS:
    return hb_h2x_parse_settings(hd, payload, ext, max_settings, &out->u.settings, err);
  case HB_H2X_PUSH_PROMISE:
    return hb_h2x_parse_push_promise(hd, payload, &out->u.push_promise, err);
  case HB_H2X_PING: return hb_h2x_parse_ping(hd, payload, &out->u.ping, err);
  case HB_H2X_GOAWAY: return hb_h2x_parse_goaway(hd, payload, &out->u.goaway, err);
  case HB_H2X_WINDOW_UPDATE:
    return hb_h2x_parse_window_update(hd, payload, &out->u.window_increment, err);
  case HB_H2X_CONTINUATION:
    return hb_h2x_parse_continuation(hd, payload, &out->u.continuation.block,
                                     &out->u.continuation.len, err);
  default: break;
  }
  if ((ext->enabled & HB_H2X_EXT_EX_HEADERS) && hd->type == ext->ex_headers_type)
    return hb_h2x_parse_ex_headers(hd, payload, ext, &out->u.ex_headers, err);
  if ((ext->enabled & HB_H2X_EXT_P2P) && hd->type == ext->client_authority_type)
    return hb_h2x_parse_client_authority(hd, payload, &out->u.client_authority, err);
  return HB_ERR_DECLINED;
}

/* ---- serializers ---- */

#define MAX_PAYLOAD 16777215u

/* Checks room for a |plen| payload and writes the header; HB_ERR_* or 0. */
static int put_hd(uint8_t *buf, size_t cap, size_t plen, uint8_t type, uint8_t flags,
                  uint32_t stream_id) {
  if (plen > MAX_PAYLOAD || stream_id > HB_H2X_STREAM_ID_MASK) return HB_ERR_INVALID;
  if (cap < HB_H2X_FRAME_HD_LEN || cap - HB_H2X_FRAME_HD_LEN < plen) return HB_ERR_TOO_LARGE;
  hb_h2x_frame_hd hd = {(uint32_t)plen, type, flags, stream_id};
  hb_h2x_frame_hd_pack(&hd, buf);
  return 0;
}

static void put_priority(uint8_t *p, const hb_h2x_priority *pri) {
  put32(p, (pri->dependency & HB_H2X_STREAM_ID_MASK) | (pri->exclusive ? 0x80000000u : 0));
  p[4] = pri->weight;
}

static int valid_pri(const hb_h2x_priority *pri) {
  return pri == NULL || pri->dependency <= HB_H2X_STREAM_ID_MASK;
}

ssize_t hb_h2x_pack_data(uint8_t *buf, size_t cap, uint32_t stream_id, int end_stream,
                         const uint8_t *data, size_t len) {
  if (stream_id == 0) return HB_ERR_INVALID;
  int rv = put_hd(buf, cap, len, HB_H2X_DATA, end_stream ? HB_H2X_FLAG_END_STREAM : 0, stream_id);
  if (rv) return rv;
  if (len) memcpy(buf + HB_H2X_FRAME_HD_LEN, data, len);
  return (ssize_t)(HB_H2X_FRAME_HD_LEN + len);
}

/* HEADERS or EX_HEADERS: [priority][routing id] block.  |routing| < 0: none. */
static ssize_t pack_hblock_frame(uint8_t *buf, size_t cap, uint8_t type, uint32_t stream_id,
                                 uint8_t flags, const hb_h2x_priority *pri, int64_t routing,
                                 const uint8_t *block, size_t len) {
  if (stream_id == 0 || !valid_pri(pri)) return HB_ERR_INVALID;
  size_t fixed = (pri ? 5u : 0u) + (routing >= 0 ? 4u : 0u);
  if (len > MAX_PAYLOAD - fixed) return HB_ERR_INVALID;
  flags = (uint8_t)((flags & ~(HB_H2X_FLAG_PADDED | HB_H2X_FLAG_PRIORITY)) |
                    (pri ? HB_H2X_FLAG_PRIORITY : 0));
  int rv = put_hd(buf, cap, fixed + len, type, flags, stream_id);
  if (rv) return rv;
  uint8_t *p = buf + HB_H2X_FRAME_HD_LEN;
  if (pri) {
    put_priority(p, pri);
    p += 5;
  }
  if (routing >= 0) {
    put32(p, (uint32_t)routing);
    p += 4;
  }
  if (len) memcpy(p, block, len);
  return (ssize_t)(HB_H2X_FRAME_HD_LEN + fixed + len);
}

ssize_t hb_h2x_pack_headers(uint8_t *buf, size_t cap, uint32_t stream_id, uint8_t flags,
                            const hb_h2x_priority *pri, const uint8_t *block, size_t len) {
  flags &= HB_H2X_FLAG_END_STREAM | HB_H2X_FLAG_END_HEADERS;
  return pack_hblock_frame(buf, cap, HB_H2X_HEADERS, stream_id, flags, pri, -1, block, len);
}

ssize_t hb_h2x_pack_priority(uint8_t *buf, size_t cap, uint32_t stream_id,
                             const hb_h2x_priority *pri) {
  if (stream_id == 0 || pri == NULL || !valid_pri(pri)) return HB_ERR_INVALID;
  int rv = put_hd(buf, cap, 5, HB_H2X_PRIORITY, 0, stream_id);
  if (rv) return rv;
  put_priority(buf + HB_H2X_FRAME_HD_LEN, pri);
  return HB_H2X_FRAME_HD_LEN + 5;
}

ssize_t hb_h2x_pack_rst_stream(uint8_t *buf, size_t cap, uint32_t stream_id, uint32_t code) {
  if (stream_id == 0) return HB_ERR_INVALID;
  int rv = put_hd(buf, cap, 4, HB_H2X_RST_STREAM, 0, stream_id);
  if (rv) return rv;
  put32(buf + HB_H2X_FRAME_HD_LEN, code);
  return HB_H2X_FRAME_HD_LEN + 4;
}

ssize_t hb_h2x_pack_settings(uint8_t *buf, size_t cap, const hb_h2x_setting *s, size_t n) {
  if (n > MAX_PAYLOAD / 6) return HB_ERR_INVALID;
  int rv = put_hd(buf, cap, n * 6, HB_H2X_SETTINGS, 0, 0);
  if (rv) return rv;
  for (size_t i = 0; i < n; i++) {
    put16(buf + HB_H2X_FRAME_HD_LEN + i * 6, s[i].id);
    put32(buf + HB_H2X_FRAME_HD_LEN + i * 6 + 2, s[i].value);
  }
  return (ssize_t)(HB_H2X_FRAME_HD_LEN + n * 6);
}

ssize_t hb_h2x_pack_settings_ack(uint8_t *buf, size_t cap) {
  int rv = put_hd(buf, cap, 0, HB_H2X_SETTINGS, HB_H2X_FLAG_ACK, 0);
  return rv ? rv : HB_H2X_FRAME_HD_LEN;
}

ssize_t hb_h2x_pack_push_promise(uint8_t *buf, size_t cap, uint32_t stream_id, uint8_t flags,
                                 uint32_t promised_id, const uint8_t *block, size_t len) {
  if (stream_id == 0 || promised_id == 0 || promised_id > HB_H2X_STREAM_ID_MASK)
    return HB_ERR_INVALID;
  if (len > MAX_PAYLOAD - 4) return HB_ERR_INVALID;
  int rv = put_hd(buf, cap, 4 + len, HB_H2X_PUSH_PROMISE, flags & HB_H2X_FLAG_END_HEADERS,
                  stream_id);
  if (rv) return rv;
  put32(buf + HB_H2X_FRAME_HD_LEN, promised_id);
  if (len) memcpy(buf + HB_H2X_FRAME_HD_LEN + 4, block, len);
  return (ssize_t)(HB_H2X_FRAME_HD_LEN + 4 + len);
}

ssize_t hb_h2x_pack_ping(uint8_t *buf, size_t cap, int ack, const uint8_t opaque[8]) {
  int rv = put_hd(buf, cap, 8, HB_H2X_PING, ack ? HB_H2X_FLAG_ACK : 0, 0);
  if (rv) return rv;
  memcpy(buf + HB_H2X_FRAME_HD_LEN, opaque, 8);
  return HB_H2X_FRAME_HD_LEN + 8;
}

ssize_t hb_h2x_pack_goaway(uint8_t *buf, size_t cap, uint32_t last_stream_id, uint32_t code,
                           const uint8_t *debug, size_t debug_len) {
  if (last_stream_id > HB_H2X_STREAM_ID_MASK || debug_len > MAX_PAYLOAD - 8) return HB_ERR_INVALID;
  int rv = put_hd(buf, cap, 8 + debug_len, HB_H2X_GOAWAY, 0, 0);
  if (rv) return rv;
  put32(buf + HB_H2X_FRAME_HD_LEN, last_stream_id);
  put32(buf + HB_H2X_FRAME_HD_LEN + 4, code);
  if (debug_len) memcpy(buf + HB_H2X_FRAME_HD_LEN + 8, debug, debug_len);
  return (ssize_t)(HB_H2X_FRAME_HD_LEN + 8 + debug_len);
}

ssize_t hb_h2x_pack_window_update(uint8_t *buf, size_t cap, uint32_t stream_id,
                                  uint32_t increment) {
  if (increment == 0 || increment > HB_H2X_MAX_WINDOW) return HB_ERR_INVALID;
  int rv = put_hd(buf, cap, 4, HB_H2X_WINDOW_UPDATE, 0, stream_id);
  if (rv) return rv;
  put32(buf + HB_H2X_FRAME_HD_LEN, increment);
  return HB_H2X_FRAME_HD_LEN + 4;
}

ssize_t hb_h2x_pack_continuation(uint8_t *buf, size_t cap, uint32_t stream_id, int end_headers,
                                 const uint8_t *block, size_t len) {
  if (stream_id == 0) return HB_ERR_INVALID;
  int rv = put_hd(buf, cap, len, HB_H2X_CONTINUATION, end_headers ? HB_H2X_FLAG_END_HEADERS : 0,
                  stream_id);
  if (rv) return rv;
  if (len) memcpy(buf + HB_H2X_FRAME_HD_LEN, block, len);
  return (ssize_t)(HB_H2X_FRAME_HD_LEN + len);
}

static int valid_routing(const hb_h2x_ext *ext, uint32_t routing_id) {
  if (routing_id == 0 || routing_id > HB_H2X_STREAM_ID_MASK) return 0;
  return ext->ex_dialect != HB_H2X_EX_PROXYGEN || (routing_id & 1);
}

static uint8_t ex_flags(const hb_h2x_ext *ext, uint8_t flags) {
  uint8_t keep = HB_H2X_FLAG_END_STREAM | HB_H2X_FLAG_END_HEADERS;
  if (ext->ex_dialect == HB_H2X_EX_PROXYGEN) keep |= HB_H2X_FLAG_UNIDIRECTIONAL;
  return flags & keep;
}

ssize_t hb_h2x_pack_ex_headers(uint8_t *buf, size_t cap, const hb_h2x_ext *ext,
                               uint32_t stream_id, uint8_t flags, const hb_h2x_priority *pri,
                               uint32_t routing_id, const uint8_t *block, size_t len) {
  if (ext == NULL) ext = &default_ext;
  if (!valid_routing(ext, routing_id)) return HB_ERR_INVALID;
  return pack_hblock_frame(buf, cap, ext->ex_headers_type, stream_id, ex_flags(ext, flags), pri,
                           routing_id, block, len);
}

ssize_t hb_h2x_pack_client_authority(uint8_t *buf, size_t cap, const hb_h2x_ext *ext,
                                     const char *const *auth, const size_t *auth_len,
                                     size_t n) {
  if (ext == NULL) ext = &default_ext;
  if (n == 0) return HB_ERR_INVALID;
  size_t plen = 0;
  for (size_t i = 0; i < n; i++) {
    if (auth_len[i] == 0 || auth_len[i] > 255) return HB_ERR_INVALID;
    plen += 1 + auth_len[i];
    if (plen > MAX_PAYLOAD) return HB_ERR_INVALID;
  }
  int rv = put_hd(buf, cap, plen, ext->client_authority_type, 0, 0);
  if (rv) return rv;
  uint8_t *p = buf + HB_H2X_FRAME_HD_LEN;
  for (size_t i = 0; i < n; i++) {
    *p++ = (uint8_t)auth_len[i];
    memcpy(p, auth[i], auth_len[i]);
    p += auth_len[i];
  }
  return (ssize_t)(HB_H2X_FRAME_HD_LEN + plen);
}

static size_t block_fixed(const hb_h2x_block_hd *bh) {
  return (bh->priority ? 5u : 0u) + (bh->ex ? 4u : 0u);
}

size_t hb_h2x_header_block_size(const hb_h2x_block_hd *bh, size_t len, uint32_t max_frame_size) {
  size_t fixed = block_fixed(bh);
  if (max_frame_size > MAX_PAYLOAD || max_frame_size <= fixed) return 0;
  size_t first = HB_MIN(len, (size_t)max_frame_size - fixed);
  size_t rest = len - first;
  size_t ncont = (rest + max_frame_size - 1) / max_frame_size;
  return HB_H2X_FRAME_HD_LEN + fixed + first + ncont * HB_H2X_FRAME_HD_LEN + rest;
}

ssize_t hb_h2x_pack_header_block(uint8_t *buf, size_t cap, const hb_h2x_block_hd *bh,
                                 const uint8_t *block, size_t len, uint32_t max_frame_size) {
  const hb_h2x_ext *ext = bh->ext ? bh->ext : &default_ext;
  size_t fixed = block_fixed(bh);
  if (max_frame_size > MAX_PAYLOAD || max_frame_size <= fixed || bh->stream_id == 0 ||
      bh->stream_id > HB_H2X_STREAM_ID_MASK || !valid_pri(bh->priority))
    return HB_ERR_INVALID;
  if (bh->ex && !valid_routing(ext, bh->routing_id)) return HB_ERR_INVALID;
  size_t total = hb_h2x_header_block_size(bh, len, max_frame_size);
  if (cap < total) return HB_ERR_TOO_LARGE;
  size_t first = HB_MIN(len, (size_t)max_frame_size - fixed);
  uint8_t flags = (uint8_t)(bh->flags | (first == len ? HB_H2X_FLAG_END_HEADERS : 0));
  ssize_t n;
  if (bh->ex)
    n = pack_hblock_frame(buf, cap, ext->ex_headers_type, bh->stream_id, ex_flags(ext, flags),
                          bh->priority, bh->routing_id, block, first);
  else
    n = hb_h2x_pack_headers(buf, cap, bh->stream_id, flags, bh->priority, block, first);
  if (n < 0) return n;
  size_t off = (size_t)n, done = first;
  while (done < len) {
    size_t chunk = HB_MIN(len - done, (size_t)max_frame_size);
    n = hb_h2x_pack_continuation(buf + off, cap - off, bh->stream_id, done + chunk == len,
                                 block + done, chunk);
    if (n < 0) return n;
    off += (size_t)n;
    done += chunk;
  }
  return (ssize_t)off;
}
