/* h2x_frame_test.c: the h2x frame codec: header pack/unpack, the resumable
 * reader (whole, split, byte by byte, size limit, preface, NOMEM), every
 * parser's error cases with their RFC 9113 code and kind, padding edges, the
 * extension frames of both EX_HEADERS dialects, and serializer round trips. */
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "errors.h"
#include "h2x_frame.h"
#include "hb_test.h"
#include "mem.h"

#define P(s) (const uint8_t *)(s), sizeof(s) - 1

/* ---- frame header ---- */

static void test_frame_hd(void) {
  static const uint8_t raw[9] = {0x12, 0x34, 0x56, 0x01, 0x25, 0xff, 0xff, 0xff, 0xff};
  hb_h2x_frame_hd hd;
  hb_h2x_frame_hd_unpack(raw, &hd);
  CU_ASSERT_EQUAL(hd.length, 0x123456);
  CU_ASSERT_EQUAL(hd.type, HB_H2X_HEADERS);
  CU_ASSERT_EQUAL(hd.flags, 0x25);
  CU_ASSERT_EQUAL(hd.stream_id, 0x7fffffffu); /* reserved bit masked (§4.1) */
  uint8_t out[9];
  hb_h2x_frame_hd_pack(&hd, out);
  CU_ASSERT(memcmp(out, raw, 5) == 0 && memcmp(out + 6, raw + 6, 3) == 0);
  CU_ASSERT_EQUAL(out[5], 0x7f); /* reserved bit sent as 0 */
  hd.stream_id = 0xffffffffu;
  hb_h2x_frame_hd_pack(&hd, out);
  CU_ASSERT_EQUAL(out[5], 0x7f);
  CU_ASSERT_STRING_EQUAL(hb_h2x_type_str(HB_H2X_CONTINUATION), "CONTINUATION");
  CU_ASSERT_STRING_EQUAL(hb_h2x_type_str(0xfb), "UNKNOWN");
  CU_ASSERT_STRING_EQUAL(hb_h2x_error_str(HB_H2X_HTTP_1_1_REQUIRED), "HTTP_1_1_REQUIRED");
  CU_ASSERT_STRING_EQUAL(hb_h2x_settings_str(HB_H2X_SETTINGS_NO_RFC7540_PRIORITIES),
                         "NO_RFC7540_PRIORITIES");
}

/* ---- parser error table ---- */

enum { EXT_NONE, EXT_DRAFT, EXT_PROXYGEN };

typedef struct parse_case {
  const char *name;
  uint8_t type, flags;
  uint32_t stream_id;
  const uint8_t *payload;
  size_t len;
  int ext;        /* EXT_* */
  int rv;         /* 0, HB_ERR_PROTO or HB_ERR_DECLINED */
  uint32_t code;  /* when rv is HB_ERR_PROTO */
  int stream_err; /* when rv is HB_ERR_PROTO */
} parse_case;

#define OK_(n, t, f, s, pl, e) {n, t, f, s, P(pl), e, 0, 0, 0}
#define CE(n, t, f, s, pl, e, c) {n, t, f, s, P(pl), e, HB_ERR_PROTO, c, 0}
#define SE(n, t, f, s, pl, e, c) {n, t, f, s, P(pl), e, HB_ERR_PROTO, c, 1}

#define PAD HB_H2X_FLAG_PADDED
#define PRI HB_H2X_FLAG_PRIORITY
#define FSE HB_H2X_FRAME_SIZE_ERROR
#define PE HB_H2X_PROTOCOL_ERROR

static const parse_case parse_cases[] = {
    /* DATA §6.1 */
    OK_("data plain", HB_H2X_DATA, 0, 1, "abc", EXT_NONE),
    OK_("data empty", HB_H2X_DATA, 0, 1, "", EXT_NONE),
    CE("data stream 0", HB_H2X_DATA, 0, 0, "abc", EXT_NONE, PE),
    CE("data padded empty", HB_H2X_DATA, PAD, 1, "", EXT_NONE, FSE),
    OK_("data pad == rest", HB_H2X_DATA, PAD, 1, "\x03" "abc", EXT_NONE),
    OK_("data pad 0", HB_H2X_DATA, PAD, 1, "\x00" "abc", EXT_NONE),
    CE("data pad > rest", HB_H2X_DATA, PAD, 1, "\x04" "abc", EXT_NONE, PE),
    CE("data pad 255 len 1", HB_H2X_DATA, PAD, 1, "\xff", EXT_NONE, PE),
    /* HEADERS §6.2 */
    OK_("headers plain", HB_H2X_HEADERS, 4, 1, "\x82", EXT_NONE),
    CE("headers stream 0", HB_H2X_HEADERS, 4, 0, "\x82", EXT_NONE, PE),
    CE("headers padded empty", HB_H2X_HEADERS, PAD, 1, "", EXT_NONE, FSE),
    CE("headers priority short", HB_H2X_HEADERS, PRI, 1, "\x00\x00\x00", EXT_NONE, FSE),
    CE("headers pad+pri short", HB_H2X_HEADERS, PAD | PRI, 1, "\x00\x00\x00\x00\x00", EXT_NONE,
       FSE),
    OK_("headers pad == rest", HB_H2X_HEADERS, PAD | PRI, 3, "\x01\x00\x00\x00\x01\x10\x00",
        EXT_NONE),
    CE("headers pad > rest", HB_H2X_HEADERS, PAD | PRI, 3, "\x02\x00\x00\x00\x01\x10\x00",
       EXT_NONE, PE),
    SE("headers self dep", HB_H2X_HEADERS, PRI, 3, "\x80\x00\x00\x03\x10\x82", EXT_NONE, PE),
    /* PRIORITY §6.3 */
    OK_("priority", HB_H2X_PRIORITY, 0, 3, "\x80\x00\x00\x01\x10", EXT_NONE),
    CE("priority stream 0", HB_H2X_PRIORITY, 0, 0, "\x00\x00\x00\x01\x10", EXT_NONE, PE),
    SE("priority len 4", HB_H2X_PRIORITY, 0, 3, "\x00\x00\x00\x01", EXT_NONE, FSE),
    SE("priority len 6", HB_H2X_PRIORITY, 0, 3, "\x00\x00\x00\x01\x10\x00", EXT_NONE, FSE),
    SE("priority self dep", HB_H2X_PRIORITY, 0, 3, "\x00\x00\x00\x03\x10", EXT_NONE, PE),
    /* RST_STREAM §6.4 */
    OK_("rst", HB_H2X_RST_STREAM, 0, 1, "\x00\x00\x00\x08", EXT_NONE),
    CE("rst stream 0", HB_H2X_RST_STREAM, 0, 0, "\x00\x00\x00\x08", EXT_NONE, PE),
    CE("rst len 3", HB_H2X_RST_STREAM, 0, 1, "\x00\x00\x08", EXT_NONE, FSE),
    CE("rst len 5", HB_H2X_RST_STREAM, 0, 1, "\x00\x00\x00\x08\x00", EXT_NONE, FSE),
    /* SETTINGS §6.5 */
    OK_("settings empty", HB_H2X_SETTINGS, 0, 0, "", EXT_NONE),
    OK_("settings ack", HB_H2X_SETTINGS, 1, 0, "", EXT_NONE),
    CE("settings ack payload", HB_H2X_SETTINGS, 1, 0, "\x00\x01\x00\x00\x10\x00", EXT_NONE, FSE),
    CE("settings stream 1", HB_H2X_SETTINGS, 0, 1, "", EXT_NONE, PE),
    CE("settings len 5", HB_H2X_SETTINGS, 0, 0, "\x00\x01\x00\x00\x10", EXT_NONE, FSE),
    CE("settings len 7", HB_H2X_SETTINGS, 0, 0, "\x00\x01\x00\x00\x10\x00\x00", EXT_NONE, FSE),
    OK_("settings push 1", HB_H2X_SETTINGS, 0, 0, "\x00\x02\x00\x00\x00\x01", EXT_NONE),
    CE("settings push 2", HB_H2X_SETTINGS, 0, 0, "\x00\x02\x00\x00\x00\x02", EXT_NONE, PE),
    OK_("settings window max", HB_H2X_SETTINGS, 0, 0, "\x00\x04\x7f\xff\xff\xff", EXT_NONE),
    CE("settings window 2^31", HB_H2X_SETTINGS, 0, 0, "\x00\x04\x80\x00\x00\x00", EXT_NONE,
       HB_H2X_FLOW_CONTROL_ERROR),
    OK_("settings frame 16384", HB_H2X_SETTINGS, 0, 0, "\x00\x05\x00\x00\x40\x00", EXT_NONE),
    OK_("settings frame 2^24-1", HB_H2X_SETTINGS, 0, 0, "\x00\x05\x00\xff\xff\xff", EXT_NONE),
    CE("settings frame 16383", HB_H2X_SETTINGS, 0, 0, "\x00\x05\x00\x00\x3f\xff", EXT_NONE, PE),
    CE("settings frame 2^24", HB_H2X_SETTINGS, 0, 0, "\x00\x05\x01\x00\x00\x00", EXT_NONE, PE),
    OK_("settings connect 1", HB_H2X_SETTINGS, 0, 0, "\x00\x08\x00\x00\x00\x01", EXT_NONE),
    CE("settings connect 2", HB_H2X_SETTINGS, 0, 0, "\x00\x08\x00\x00\x00\x02", EXT_NONE, PE),
    CE("settings nopri 2", HB_H2X_SETTINGS, 0, 0, "\x00\x09\x00\x00\x00\x02", EXT_NONE, PE),
    OK_("settings unknown id", HB_H2X_SETTINGS, 0, 0, "\x12\x34\xff\xff\xff\xff", EXT_NONE),
    OK_("settings ex 2 not enabled", HB_H2X_SETTINGS, 0, 0, "\xfb\xfb\x00\x00\x00\x02", EXT_NONE),
    CE("settings ex 2", HB_H2X_SETTINGS, 0, 0, "\xfb\xfb\x00\x00\x00\x02", EXT_DRAFT, PE),
    OK_("settings ex 1", HB_H2X_SETTINGS, 0, 0, "\xfb\xfb\x00\x00\x00\x01", EXT_DRAFT),
    CE("settings p2p 2", HB_H2X_SETTINGS, 0, 0, "\xf0\xf0\x00\x00\x00\x02", EXT_DRAFT, PE),
    OK_("settings p2p 1", HB_H2X_SETTINGS, 0, 0, "\xf0\xf0\x00\x00\x00\x01", EXT_DRAFT),
    OK_("settings symmetric any", HB_H2X_SETTINGS, 0, 0, "\xf1\xf1\xde\xad\xbe\xef", EXT_DRAFT),
    /* PUSH_PROMISE §6.6 */
    OK_("push_promise", HB_H2X_PUSH_PROMISE, 4, 1, "\x00\x00\x00\x02\x82", EXT_NONE),
    CE("push_promise stream 0", HB_H2X_PUSH_PROMISE, 4, 0, "\x00\x00\x00\x02", EXT_NONE, PE),
    CE("push_promise short", HB_H2X_PUSH_PROMISE, 4, 1, "\x00\x00\x02", EXT_NONE, FSE),
    CE("push_promise pad > rest", HB_H2X_PUSH_PROMISE, PAD, 1, "\x02\x00\x00\x00\x02\x82",
       EXT_NONE, PE),
    OK_("push_promise pad == rest", HB_H2X_PUSH_PROMISE, PAD, 1, "\x01\x00\x00\x00\x02\x00",
        EXT_NONE),
    /* PING §6.7 */
    OK_("ping", HB_H2X_PING, 0, 0, "12345678", EXT_NONE),
    CE("ping len 7", HB_H2X_PING, 0, 0, "1234567", EXT_NONE, FSE),
    CE("ping len 9", HB_H2X_PING, 0, 0, "123456789", EXT_NONE, FSE),
    CE("ping stream 1", HB_H2X_PING, 0, 1, "12345678", EXT_NONE, PE),
    /* GOAWAY §6.8 */
    OK_("goaway", HB_H2X_GOAWAY, 0, 0, "\x00\x00\x00\x05\x00\x00\x00\x00", EXT_NONE),
    OK_("goaway debug", HB_H2X_GOAWAY, 0, 0, "\x00\x00\x00\x05\x00\x00\x00\x01why", EXT_NONE),
    CE("goaway len 7", HB_H2X_GOAWAY, 0, 0, "\x00\x00\x00\x05\x00\x00\x00", EXT_NONE, FSE),
    CE("goaway stream 1", HB_H2X_GOAWAY, 0, 1, "\x00\x00\x00\x05\x00\x00\x00\x00", EXT_NONE, PE),
    /* WINDOW_UPDATE §6.9 */
    OK_("window_update", HB_H2X_WINDOW_UPDATE, 0, 1, "\x00\x00\x00\x01", EXT_NONE),
    SE("window_update 0 on stream", HB_H2X_WINDOW_UPDATE, 0, 1, "\x00\x00\x00\x00", EXT_NONE,
       PE),
    CE("window_update 0 on conn", HB_H2X_WINDOW_UPDATE, 0, 0, "\x00\x00\x00\x00", EXT_NONE, PE),
    SE("window_update 0 reserved", HB_H2X_WINDOW_UPDATE, 0, 1, "\x80\x00\x00\x00", EXT_NONE, PE),
    CE("window_update len 3", HB_H2X_WINDOW_UPDATE, 0, 1, "\x00\x00\x01", EXT_NONE, FSE),
    CE("window_update len 5 conn", HB_H2X_WINDOW_UPDATE, 0, 0, "\x00\x00\x00\x01\x00", EXT_NONE,
       FSE),
    /* CONTINUATION §6.10 */
    OK_("continuation", HB_H2X_CONTINUATION, 4, 1, "\x82", EXT_NONE),
    OK_("continuation empty", HB_H2X_CONTINUATION, 0, 1, "", EXT_NONE),
    CE("continuation stream 0", HB_H2X_CONTINUATION, 4, 0, "\x82", EXT_NONE, PE),
    /* unknown types are ignored (§4.1, §5.5), extension types only when enabled */
    {"unknown type", 0x42, 0, 0, P("x"), EXT_DRAFT, HB_ERR_DECLINED, 0, 0},
    {"ex_headers not enabled", 0xfb, 4, 3, P("\x00\x00\x00\x01"), EXT_NONE, HB_ERR_DECLINED, 0, 0},
    {"client_authority not enabled", 0xf0, 0, 0, P("\x01x"), EXT_NONE, HB_ERR_DECLINED, 0, 0},
    /* EX_HEADERS, draft dialect */
    OK_("ex plain", 0xfb, 4, 3, "\x00\x00\x00\x01\x82", EXT_DRAFT),
    OK_("ex empty block", 0xfb, 4, 2, "\x00\x00\x00\x01", EXT_DRAFT),
    CE("ex stream 0", 0xfb, 4, 0, "\x00\x00\x00\x01\x82", EXT_DRAFT, PE),
    CE("ex no routing id", 0xfb, 4, 3, "\x00\x00\x01", EXT_DRAFT, FSE),
    CE("ex pri no routing id", 0xfb, PRI, 3, "\x00\x00\x00\x01\x10\x00\x00\x01", EXT_DRAFT, FSE),
    CE("ex padded empty", 0xfb, PAD, 3, "", EXT_DRAFT, FSE),
    OK_("ex pad+pri == rest", 0xfb, PAD | PRI, 3, "\x01\x00\x00\x00\x01\x10\x00\x00\x00\x01\x00",
        EXT_DRAFT),
    CE("ex pad > rest", 0xfb, PAD | PRI, 3, "\x02\x00\x00\x00\x01\x10\x00\x00\x00\x01\x00",
       EXT_DRAFT, PE),
    CE("ex routing 0", 0xfb, 4, 3, "\x00\x00\x00\x00\x82", EXT_DRAFT,
       HB_H2X_ROUTING_STREAM_ERROR_DEFAULT),
    CE("ex routing self", 0xfb, 4, 3, "\x00\x00\x00\x03\x82", EXT_DRAFT,
       HB_H2X_ROUTING_STREAM_ERROR_DEFAULT),
    OK_("ex routing even draft", 0xfb, 4, 3, "\x00\x00\x00\x02\x82", EXT_DRAFT),
    SE("ex self dep", 0xfb, PRI, 3, "\x00\x00\x00\x03\x10\x00\x00\x00\x01", EXT_DRAFT, PE),
    /* EX_HEADERS, proxygen dialect */
    OK_("exp plain", 0xfb, 4 | 0x40, 2, "\x00\x00\x00\x01\x82", EXT_PROXYGEN),
    CE("exp routing even", 0xfb, 4, 3, "\x00\x00\x00\x02\x82", EXT_PROXYGEN, PE),
    CE("exp routing 0", 0xfb, 4, 3, "\x00\x00\x00\x00\x82", EXT_PROXYGEN, PE),
    SE("exp routing self", 0xfb, 4, 3, "\x00\x00\x00\x03\x82", EXT_PROXYGEN,
       HB_H2X_STREAM_CLOSED),
    /* CLIENT_AUTHORITY (P2P draft §2.2) */
    OK_("ca one", 0xf0, 0, 0, "\x0b" "example.com", EXT_DRAFT),
    OK_("ca two", 0xf0, 0, 0, "\x01x\x03" "a:1", EXT_DRAFT),
    CE("ca stream 1", 0xf0, 0, 1, "\x01x", EXT_DRAFT, PE),
    CE("ca empty", 0xf0, 0, 0, "", EXT_DRAFT, PE),
    CE("ca zero length", 0xf0, 0, 0, "\x01x\x00", EXT_DRAFT, PE),
    CE("ca past end", 0xf0, 0, 0, "\x05" "abcd", EXT_DRAFT, PE),
    CE("ca second past end", 0xf0, 0, 0, "\x01x\x02y", EXT_DRAFT, PE),
    CE("ca length only", 0xf0, 0, 0, "\x01", EXT_DRAFT, PE),
};

static void make_ext(int which, hb_h2x_ext *ext) {
  hb_h2x_ext_defaults(ext);
  if (which == EXT_NONE) return;
  ext->enabled = HB_H2X_EXT_EX_HEADERS | HB_H2X_EXT_P2P | HB_H2X_EXT_SYMMETRIC;
  if (which == EXT_PROXYGEN) ext->ex_dialect = HB_H2X_EX_PROXYGEN;
}

static void test_parse_table(void) {
  for (size_t i = 0; i < HB_ARRAY_LEN(parse_cases); i++) {
    const parse_case *c = &parse_cases[i];
    hb_h2x_ext ext;
    make_ext(c->ext, &ext);
    hb_h2x_frame_hd hd = {(uint32_t)c->len, c->type, c->flags, c->stream_id};
    /* an exact-size heap copy, so ASan sees any read past the payload */
    uint8_t *copy = malloc(c->len ? c->len : 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    if (c->len) memcpy(copy, c->payload, c->len);
    hb_h2x_frame f;
    hb_h2x_error err = {0, -1, NULL};
    int rv = hb_h2x_frame_parse(&hd, copy, &ext, 0, &f, &err);
    int ok = rv == c->rv;
    if (ok && rv == HB_ERR_PROTO)
      ok = err.code == c->code && err.stream == c->stream_err && err.reason != NULL;
    if (!ok)
      fprintf(stderr, "\ncase '%s': rv %d code %u stream %d (%s)\n", c->name, rv, err.code,
              err.stream, err.reason ? err.reason : "-");
    CU_ASSERT(ok);
    free(copy);
  }
}

/* ---- parsed values ---- */

static void test_parse_values(void) {
  hb_h2x_error err;
  /* DATA with padding equal to what remains: empty span, padding counted */
  hb_h2x_frame_hd hd = {4, HB_H2X_DATA, HB_H2X_FLAG_PADDED | HB_H2X_FLAG_END_STREAM, 1};
  hb_h2x_data d;
  CU_ASSERT_EQUAL(hb_h2x_parse_data(&hd, (const uint8_t *)"\x03" "abc", &d, &err), 0);
  CU_ASSERT(d.len == 0 && d.padlen == 3 && d.padded == 1);
  CU_ASSERT_EQUAL(hb_h2x_parse_data(&hd, (const uint8_t *)"\x01" "abc", &d, &err), 0);
  CU_ASSERT(d.len == 2 && memcmp(d.data, "ab", 2) == 0 && d.padlen == 1);

  /* HEADERS with padding and priority */
  static const uint8_t hp[] = {2, 0x80, 0, 0, 5, 200, 0x82, 0x86, 0, 0};
  hb_h2x_frame_hd hh = {sizeof(hp), HB_H2X_HEADERS,
                        HB_H2X_FLAG_PADDED | HB_H2X_FLAG_PRIORITY | HB_H2X_FLAG_END_HEADERS, 7};
  hb_h2x_headers h;
  CU_ASSERT_EQUAL(hb_h2x_parse_headers(&hh, hp, &h, &err), 0);
  CU_ASSERT(h.has_priority && h.priority.exclusive && h.priority.dependency == 5 &&
            h.priority.weight == 200);
  CU_ASSERT(h.len == 2 && h.block == hp + 6 && h.padlen == 2);

  /* the self-dependency stream error still gives the header block */
  hh.stream_id = 5;
  CU_ASSERT_EQUAL(hb_h2x_parse_headers(&hh, hp, &h, &err), HB_ERR_PROTO);
  CU_ASSERT(err.stream == 1 && err.code == HB_H2X_PROTOCOL_ERROR);
  CU_ASSERT(h.len == 2 && h.block == hp + 6);

  /* GOAWAY: reserved bit cleared, debug span */
  static const uint8_t ga[] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0xb, 'c', 'a', 'l', 'm'};
  hb_h2x_frame_hd gh = {sizeof(ga), HB_H2X_GOAWAY, 0, 0};
  hb_h2x_goaway g;
  CU_ASSERT_EQUAL(hb_h2x_parse_goaway(&gh, ga, &g, &err), 0);
  CU_ASSERT(g.last_stream_id == 0x7fffffffu && g.error_code == HB_H2X_ENHANCE_YOUR_CALM);
  CU_ASSERT(g.debug_len == 4 && memcmp(g.debug, "calm", 4) == 0);

  /* SETTINGS: iteration in wire order; the entry cap */
  static const uint8_t st[] = {0, 3, 0, 0, 0, 100, 0xf1, 0xf1, 0, 0, 0, 1, 0, 3, 0, 0, 0, 50};
  hb_h2x_frame_hd sh = {sizeof(st), HB_H2X_SETTINGS, 0, 0};
  hb_h2x_ext ext;
  make_ext(EXT_DRAFT, &ext);
  hb_h2x_settings s;
  CU_ASSERT_EQUAL(hb_h2x_parse_settings(&sh, st, &ext, 0, &s, &err), 0);
  CU_ASSERT_EQUAL(s.count, 3);
  hb_h2x_setting e;
  hb_h2x_settings_get(&s, 1, &e);
  CU_ASSERT(e.id == HB_H2X_SETTINGS_SYMMETRIC_DEFAULT && e.value == 1);
  hb_h2x_settings_get(&s, 2, &e);
  CU_ASSERT(e.id == HB_H2X_SETTINGS_MAX_CONCURRENT_STREAMS && e.value == 50);
  CU_ASSERT_EQUAL(hb_h2x_parse_settings(&sh, st, &ext, 2, &s, &err), HB_ERR_PROTO);
  CU_ASSERT(err.code == HB_H2X_ENHANCE_YOUR_CALM && err.stream == 0);
  CU_ASSERT_EQUAL(hb_h2x_parse_settings(&sh, st, NULL, 3, &s, &err), 0);

  /* configurable codepoints: ENABLE_EX_HEADERS moved to 0xf00f */
  ext.enable_ex_headers_id = 0xf00f;
  static const uint8_t st2[] = {0xf0, 0x0f, 0, 0, 0, 2};
  hb_h2x_frame_hd sh2 = {6, HB_H2X_SETTINGS, 0, 0};
  CU_ASSERT_EQUAL(hb_h2x_parse_settings(&sh2, st2, &ext, 0, &s, &err), HB_ERR_PROTO);

  /* CLIENT_AUTHORITY iteration */
  static const uint8_t ca[] = "\x0b" "example.com" "\x0e" "api.example:443";
  hb_h2x_frame_hd ch = {sizeof(ca) - 1, HB_H2X_CLIENT_AUTHORITY_DEFAULT, 0, 0};
  hb_h2x_client_authority a;
  CU_ASSERT_EQUAL(hb_h2x_parse_client_authority(&ch, ca, &a, &err), HB_ERR_PROTO);
  static const uint8_t ca2[] = "\x0b" "example.com" "\x0f" "api.example:443";
  ch.length = sizeof(ca2) - 1;
  CU_ASSERT_EQUAL(hb_h2x_parse_client_authority(&ch, ca2, &a, &err), 0);
  CU_ASSERT_EQUAL(a.count, 2);
  size_t pos = 0, alen = 0;
  const uint8_t *ap = NULL;
  CU_ASSERT(hb_h2x_client_authority_next(&a, &pos, &ap, &alen) == 1 && alen == 11 &&
            memcmp(ap, "example.com", 11) == 0);
  CU_ASSERT(hb_h2x_client_authority_next(&a, &pos, &ap, &alen) == 1 && alen == 15 &&
            memcmp(ap, "api.example:443", 15) == 0);
  CU_ASSERT_EQUAL(hb_h2x_client_authority_next(&a, &pos, &ap, &alen), 0);

  /* EX_HEADERS: UNIDIRECTIONAL only in the proxygen dialect; custom error code */
  static const uint8_t ex[] = {0, 0, 0, 1, 0x82};
  hb_h2x_frame_hd xh = {sizeof(ex), 0xfb, HB_H2X_FLAG_END_HEADERS | HB_H2X_FLAG_UNIDIRECTIONAL, 4};
  hb_h2x_ex_headers x;
  make_ext(EXT_DRAFT, &ext);
  CU_ASSERT_EQUAL(hb_h2x_parse_ex_headers(&xh, ex, &ext, &x, &err), 0);
  CU_ASSERT(x.routing_id == 1 && x.unidirectional == 0 && x.len == 1 && x.block == ex + 4);
  make_ext(EXT_PROXYGEN, &ext);
  CU_ASSERT_EQUAL(hb_h2x_parse_ex_headers(&xh, ex, &ext, &x, &err), 0);
  CU_ASSERT(x.unidirectional == 1);
  make_ext(EXT_DRAFT, &ext);
  ext.routing_stream_error = 0xf7;
  static const uint8_t ex0[] = {0x80, 0, 0, 0};
  xh.length = 4;
  CU_ASSERT_EQUAL(hb_h2x_parse_ex_headers(&xh, ex0, &ext, &x, &err), HB_ERR_PROTO);
  CU_ASSERT(err.code == 0xf7 && err.stream == 0);
}

/* ---- reader ---- */

typedef struct got {
  hb_h2x_frame_hd hd[16];
  uint8_t payload[16][2048];
  size_t n;
  ssize_t err;
  uint32_t code;
} got;

/* Feeds |len| bytes |step| at a time (0: all at once) and records frames. */
static void feed_all(hb_h2x_reader *r, const uint8_t *in, size_t len, size_t step, got *g) {
  memset(g, 0, sizeof(*g));
  size_t pos = 0;
  while (pos < len) {
    size_t avail = step ? HB_MIN(step, len - pos) : len - pos;
    const uint8_t *chunk = in + pos;
    size_t off = 0;
    while (off < avail) {
      hb_h2x_frame_hd hd;
      const uint8_t *payload = NULL;
      int have = 0;
      uint32_t code = 0;
      const char *reason = NULL;
      ssize_t n = hb_h2x_reader_feed(r, chunk + off, avail - off, &hd, &payload, &have, &code,
                                     &reason);
      if (n < 0) {
        g->err = n;
        g->code = code;
        CU_ASSERT_PTR_NOT_NULL(reason);
        return;
      }
      CU_ASSERT((size_t)n <= avail - off);
      off += (size_t)n;
      if (have) {
        if (g->n < 16 && hd.length <= 2048) {
          g->hd[g->n] = hd;
          memcpy(g->payload[g->n], payload, hd.length);
        }
        g->n++;
      } else {
        CU_ASSERT_EQUAL(off, avail);
      }
    }
    pos += avail;
  }
}

static size_t build_stream(uint8_t *buf, size_t cap) {
  static const uint8_t opaque[8] = "pingpong";
  static const uint8_t body[1500] = {1, 2, 3};
  hb_h2x_setting s[2] = {{HB_H2X_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
                         {HB_H2X_SETTINGS_SYMMETRIC_DEFAULT, 1}};
  size_t off = 0;
  off += (size_t)hb_h2x_pack_settings(buf + off, cap - off, s, 2);
  off += (size_t)hb_h2x_pack_settings_ack(buf + off, cap - off);
  off += (size_t)hb_h2x_pack_headers(buf + off, cap - off, 1, HB_H2X_FLAG_END_HEADERS, NULL,
                                     (const uint8_t *)"\x82\x86", 2);
  off += (size_t)hb_h2x_pack_data(buf + off, cap - off, 1, 1, body, sizeof(body));
  off += (size_t)hb_h2x_pack_data(buf + off, cap - off, 3, 0, NULL, 0);
  off += (size_t)hb_h2x_pack_ping(buf + off, cap - off, 0, opaque);
  off += (size_t)hb_h2x_pack_goaway(buf + off, cap - off, 3, 0, (const uint8_t *)"bye", 3);
  return off;
}

static void test_reader_splits(void) {
  uint8_t buf[4096];
  size_t len = build_stream(buf, sizeof(buf));
  static const size_t steps[] = {0, 1, 2, 7, 9, 10, 100, 1509};
  got ref;
  hb_h2x_reader r;
  CU_ASSERT_EQUAL(hb_h2x_reader_init(&r, 16384), 0);
  feed_all(&r, buf, len, 0, &ref);
  CU_ASSERT_EQUAL(ref.n, 7);
  CU_ASSERT_EQUAL(ref.err, 0);
  CU_ASSERT_EQUAL(ref.hd[3].length, 1500);
  CU_ASSERT_EQUAL(ref.hd[3].flags, HB_H2X_FLAG_END_STREAM);
  CU_ASSERT_EQUAL(ref.hd[4].length, 0);
  CU_ASSERT_EQUAL(ref.hd[6].type, HB_H2X_GOAWAY);
  CU_ASSERT_PTR_NULL(r.buf); /* whole input: zero-copy, nothing allocated */
  hb_h2x_reader_free(&r);
  for (size_t i = 1; i < HB_ARRAY_LEN(steps); i++) {
    static got g;
    hb_h2x_reader_init(&r, 16384);
    feed_all(&r, buf, len, steps[i], &g);
    int same = g.n == ref.n && g.err == 0;
    for (size_t k = 0; same && k < g.n; k++)
      same = memcmp(&g.hd[k], &ref.hd[k], sizeof(g.hd[k])) == 0 &&
             memcmp(g.payload[k], ref.payload[k], g.hd[k].length) == 0;
    CU_ASSERT(same);
    CU_ASSERT(r.bufcap <= 1500);
    CU_ASSERT_STRING_EQUAL(hb_h2x_reader_state_str(&r), "header");
    hb_h2x_reader_free(&r);
  }
}

static void test_reader_max(void) {
  static uint8_t buf[HB_H2X_FRAME_HD_LEN + 16385 + 100];
  static const uint8_t zero[16385];
  hb_h2x_reader r;
  got g;
  CU_ASSERT_EQUAL(hb_h2x_reader_init(&r, 16383), HB_ERR_INVALID);
  CU_ASSERT_EQUAL(r.max_frame_size, 16384);
  CU_ASSERT_EQUAL(hb_h2x_reader_set_max(&r, 1u << 24), HB_ERR_INVALID);
  /* exactly max_frame_size passes, byte by byte */
  ssize_t n = hb_h2x_pack_data(buf, sizeof(buf), 1, 0, zero, 16384);
  CU_ASSERT_EQUAL(n, 9 + 16384);
  feed_all(&r, buf, (size_t)n, 1, &g);
  CU_ASSERT(g.n == 1 && g.err == 0);
  CU_ASSERT(r.bufcap <= 16384);
  /* one more is FRAME_SIZE_ERROR as soon as the header is read, and sticky */
  n = hb_h2x_pack_data(buf, sizeof(buf), 1, 0, zero, 16385);
  feed_all(&r, buf, HB_H2X_FRAME_HD_LEN, 1, &g);
  CU_ASSERT(g.err == HB_ERR_PROTO && g.code == HB_H2X_FRAME_SIZE_ERROR);
  CU_ASSERT_STRING_EQUAL(hb_h2x_reader_state_str(&r), "error");
  feed_all(&r, buf, 1, 1, &g);
  CU_ASSERT(g.err == HB_ERR_PROTO && g.code == HB_H2X_FRAME_SIZE_ERROR);
  hb_h2x_reader_free(&r);
  /* a raised limit accepts it; lowering it again frees the big buffer */
  hb_h2x_reader_init(&r, 16384);
  CU_ASSERT_EQUAL(hb_h2x_reader_set_max(&r, 20000), 0);
  feed_all(&r, buf, (size_t)n, 1000, &g);
  CU_ASSERT(g.n == 1 && g.err == 0 && r.bufcap == 16385);
  CU_ASSERT_EQUAL(hb_h2x_reader_set_max(&r, 16384), 0);
  CU_ASSERT(r.buf == NULL && r.bufcap == 0);
  hb_h2x_reader_free(&r);
}

static void test_reader_preface(void) {
  uint8_t buf[128];
  memcpy(buf, HB_H2X_PREFACE, HB_H2X_PREFACE_LEN);
  size_t len = HB_H2X_PREFACE_LEN;
  len += (size_t)hb_h2x_pack_settings(buf + len, sizeof(buf) - len, NULL, 0);
  hb_h2x_reader r;
  got g;
  for (size_t step = 0; step < 3; step++) {
    hb_h2x_reader_init(&r, 16384);
    hb_h2x_reader_expect_preface(&r);
    feed_all(&r, buf, len, step, &g);
    CU_ASSERT(g.n == 1 && g.err == 0 && g.hd[0].type == HB_H2X_SETTINGS);
    hb_h2x_reader_free(&r);
  }
  /* a wrong byte anywhere (an HTTP/1.1 request, or late in the preface) */
  static const char *const bad[] = {"GET / HTTP/1.1\r\n", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\r"};
  for (size_t i = 0; i < 2; i++) {
    hb_h2x_reader_init(&r, 16384);
    hb_h2x_reader_expect_preface(&r);
    feed_all(&r, (const uint8_t *)bad[i], strlen(bad[i]), 1, &g);
    CU_ASSERT(g.err == HB_ERR_PROTO && g.code == HB_H2X_PROTOCOL_ERROR);
    hb_h2x_reader_free(&r);
  }
  size_t m = 0;
  CU_ASSERT_EQUAL(hb_h2x_preface_feed(&m, (const uint8_t *)HB_H2X_PREFACE "xx", 26), 24);
  CU_ASSERT_EQUAL(m, HB_H2X_PREFACE_LEN);
}

/* RFC 9113 §3.4: the first frame must be SETTINGS (no ACK); judged on its
 * header, before its length (a client preface read by a client is a frame
 * header claiming 5 MiB). */
static void test_reader_first_settings(void) {
  uint8_t buf[128];
  hb_h2x_reader r;
  got g;
  size_t len = (size_t)hb_h2x_pack_settings(buf, sizeof(buf), NULL, 0);
  len += (size_t)hb_h2x_pack_ping(buf + len, sizeof(buf) - len, 0, (const uint8_t *)"12345678");
  for (size_t step = 0; step < 3; step++) {
    hb_h2x_reader_init(&r, 16384);
    hb_h2x_reader_expect_settings(&r);
    feed_all(&r, buf, len, step, &g);
    CU_ASSERT(g.n == 2 && g.err == 0 && g.hd[0].type == HB_H2X_SETTINGS && g.hd[1].type == HB_H2X_PING);
    hb_h2x_reader_free(&r);
  }
  uint8_t ack[16], ping[32];
  size_t acklen = (size_t)hb_h2x_pack_settings(ack, sizeof(ack), NULL, 0);
  ack[4] |= HB_H2X_FLAG_ACK;
  size_t pinglen = (size_t)hb_h2x_pack_ping(ping, sizeof(ping), 0, (const uint8_t *)"12345678");
  const struct {
    const uint8_t *p;
    size_t n;
  } bad[] = {{(const uint8_t *)HB_H2X_PREFACE, HB_H2X_PREFACE_LEN}, {ack, acklen}, {ping, pinglen}};
  for (size_t i = 0; i < HB_ARRAY_LEN(bad); i++) {
    hb_h2x_reader_init(&r, 16384);
    hb_h2x_reader_expect_settings(&r);
    feed_all(&r, bad[i].p, bad[i].n, 1, &g);
    CU_ASSERT(g.n == 0 && g.err == HB_ERR_PROTO && g.code == HB_H2X_PROTOCOL_ERROR);
    hb_h2x_reader_free(&r);
  }
}

static int fail_alloc;
static void *t_malloc(size_t n, void *ud) {
  (void)ud;
  return fail_alloc ? NULL : malloc(n);
}
static void t_free(void *p, void *ud) {
  (void)ud;
  free(p);
}
static void *t_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return fail_alloc ? NULL : realloc(p, n);
}

static void test_reader_nomem(void) {
  static const hb_mem m = {t_malloc, t_free, t_realloc, NULL};
  uint8_t buf[64];
  ssize_t n = hb_h2x_pack_data(buf, sizeof(buf), 1, 0, (const uint8_t *)"hello", 5);
  hb_h2x_reader r;
  got g;
  hb_mem_set(&m);
  fail_alloc = 1;
  hb_h2x_reader_init(&r, 16384);
  feed_all(&r, buf, (size_t)n, 0, &g); /* whole: no allocation needed */
  CU_ASSERT(g.n == 1 && g.err == 0);
  feed_all(&r, buf, (size_t)n, 3, &g); /* split: needs the buffer */
  CU_ASSERT(g.err == HB_ERR_NOMEM && g.code == HB_H2X_INTERNAL_ERROR);
  fail_alloc = 0;
  hb_h2x_reader_free(&r);
  hb_mem_set(NULL);
}

/* ---- serializers ---- */

/* Reads exactly one frame from |buf| and parses it. */
static int one_frame(const uint8_t *buf, size_t len, const hb_h2x_ext *ext, hb_h2x_frame *f) {
  hb_h2x_reader r;
  hb_h2x_reader_init(&r, HB_H2X_MAX_MAX_FRAME_SIZE);
  hb_h2x_frame_hd hd;
  const uint8_t *payload;
  int have;
  uint32_t code;
  const char *reason;
  ssize_t n = hb_h2x_reader_feed(&r, buf, len, &hd, &payload, &have, &code, &reason);
  hb_h2x_reader_free(&r);
  if (n != (ssize_t)len || !have) return -100;
  hb_h2x_error err;
  return hb_h2x_frame_parse(&hd, payload, ext, 0, f, &err);
}

static void test_pack_round_trip(void) {
  uint8_t buf[512];
  hb_h2x_frame f;
  hb_h2x_ext ext;
  make_ext(EXT_DRAFT, &ext);
  hb_h2x_priority pri = {3, 1, 15};
  ssize_t n = hb_h2x_pack_headers(buf, sizeof(buf), 5,
                                  HB_H2X_FLAG_END_STREAM | HB_H2X_FLAG_END_HEADERS | 0x8, &pri,
                                  (const uint8_t *)"\x82\x84", 2);
  CU_ASSERT_EQUAL(n, 9 + 5 + 2);
  CU_ASSERT_EQUAL(one_frame(buf, (size_t)n, &ext, &f), 0);
  CU_ASSERT(f.hd.flags == (HB_H2X_FLAG_END_STREAM | HB_H2X_FLAG_END_HEADERS | HB_H2X_FLAG_PRIORITY));
  CU_ASSERT(f.u.headers.priority.dependency == 3 && f.u.headers.priority.exclusive &&
            f.u.headers.priority.weight == 15 && f.u.headers.len == 2);

  n = hb_h2x_pack_priority(buf, sizeof(buf), 7, &pri);
  CU_ASSERT(one_frame(buf, (size_t)n, &ext, &f) == 0 && f.u.priority.dependency == 3);
  n = hb_h2x_pack_rst_stream(buf, sizeof(buf), 7, HB_H2X_CANCEL);
  CU_ASSERT(one_frame(buf, (size_t)n, &ext, &f) == 0 && f.u.rst_stream_code == HB_H2X_CANCEL);
  n = hb_h2x_pack_window_update(buf, sizeof(buf), 0, HB_H2X_MAX_WINDOW);
  CU_ASSERT(one_frame(buf, (size_t)n, &ext, &f) == 0 &&
            f.u.window_increment == HB_H2X_MAX_WINDOW);
  n = hb_h2x_pack_ping(buf, sizeof(buf), 1, (const uint8_t *)"abcdefgh");
  CU_ASSERT(one_frame(buf, (size_t)n, &ext, &f) == 0 && f.u.ping.ack &&
            memcmp(f.u.ping.opaque, "abcdefgh", 8) == 0);
  n = hb_h2x_pack_push_promise(buf, sizeof(buf), 1, HB_H2X_FLAG_END_HEADERS, 2,
                               (const uint8_t *)"\x82", 1);
  CU_ASSERT(one_frame(buf, (size_t)n, &ext, &f) == 0 && f.u.push_promise.promised_id == 2 &&
            f.u.push_promise.len == 1);
  n = hb_h2x_pack_continuation(buf, sizeof(buf), 1, 1, (const uint8_t *)"\x82", 1);
  CU_ASSERT(one_frame(buf, (size_t)n, &ext, &f) == 0 && f.hd.flags == HB_H2X_FLAG_END_HEADERS &&
            f.u.continuation.len == 1);
  n = hb_h2x_pack_goaway(buf, sizeof(buf), 9, HB_H2X_NO_ERROR, NULL, 0);
  CU_ASSERT(one_frame(buf, (size_t)n, &ext, &f) == 0 && f.u.goaway.last_stream_id == 9 &&
            f.u.goaway.debug_len == 0);

  hb_h2x_setting s[3] = {{HB_H2X_SETTINGS_ENABLE_EX_HEADERS_DEFAULT, 1},
                         {HB_H2X_SETTINGS_PEER_TO_PEER_DEFAULT, 1},
                         {HB_H2X_SETTINGS_SYMMETRIC_DEFAULT, 7}};
  n = hb_h2x_pack_settings(buf, sizeof(buf), s, 3);
  CU_ASSERT(one_frame(buf, (size_t)n, &ext, &f) == 0 && f.u.settings.count == 3);
  hb_h2x_setting e;
  hb_h2x_settings_get(&f.u.settings, 2, &e);
  CU_ASSERT(e.id == 0xf1f1 && e.value == 7);
  n = hb_h2x_pack_settings_ack(buf, sizeof(buf));
  CU_ASSERT(one_frame(buf, (size_t)n, &ext, &f) == 0 && f.u.settings.ack == 1);

  n = hb_h2x_pack_ex_headers(buf, sizeof(buf), &ext, 4,
                             HB_H2X_FLAG_END_HEADERS | HB_H2X_FLAG_UNIDIRECTIONAL, &pri, 1,
                             (const uint8_t *)"\x82", 1);
  CU_ASSERT_EQUAL(n, 9 + 5 + 4 + 1);
  CU_ASSERT(one_frame(buf, (size_t)n, &ext, &f) == 0 && f.hd.type == 0xfb &&
            f.u.ex_headers.routing_id == 1 && f.u.ex_headers.has_priority &&
            f.hd.flags == (HB_H2X_FLAG_END_HEADERS | HB_H2X_FLAG_PRIORITY));
  hb_h2x_ext px;
  make_ext(EXT_PROXYGEN, &px);
  n = hb_h2x_pack_ex_headers(buf, sizeof(buf), &px, 4,
                             HB_H2X_FLAG_END_HEADERS | HB_H2X_FLAG_UNIDIRECTIONAL, NULL, 1, NULL,
                             0);
  CU_ASSERT(one_frame(buf, (size_t)n, &px, &f) == 0 && f.u.ex_headers.unidirectional == 1);
  CU_ASSERT_EQUAL(hb_h2x_pack_ex_headers(buf, sizeof(buf), &px, 4, 0, NULL, 2, NULL, 0),
                  HB_ERR_INVALID);

  static const char *const auths[] = {"a.example", "b.example:8443"};
  static const size_t alen[] = {9, 14};
  n = hb_h2x_pack_client_authority(buf, sizeof(buf), &ext, auths, alen, 2);
  CU_ASSERT(one_frame(buf, (size_t)n, &ext, &f) == 0 && f.u.client_authority.count == 2);
  CU_ASSERT_EQUAL(hb_h2x_pack_client_authority(buf, sizeof(buf), &ext, auths, alen, 0),
                  HB_ERR_INVALID);
  static const size_t zlen[] = {0};
  CU_ASSERT_EQUAL(hb_h2x_pack_client_authority(buf, sizeof(buf), &ext, auths, zlen, 1),
                  HB_ERR_INVALID);
}

static void test_pack_limits(void) {
  uint8_t buf[32];
  CU_ASSERT_EQUAL(hb_h2x_pack_data(buf, 9, 1, 0, NULL, 0), 9);
  CU_ASSERT_EQUAL(hb_h2x_pack_data(buf, 8, 1, 0, NULL, 0), HB_ERR_TOO_LARGE);
  CU_ASSERT_EQUAL(hb_h2x_pack_data(buf, 12, 1, 0, (const uint8_t *)"abcd", 4), HB_ERR_TOO_LARGE);
  CU_ASSERT_EQUAL(hb_h2x_pack_data(buf, sizeof(buf), 0, 0, NULL, 0), HB_ERR_INVALID);
  CU_ASSERT_EQUAL(hb_h2x_pack_data(buf, sizeof(buf), 0x80000001u, 0, NULL, 0), HB_ERR_INVALID);
  CU_ASSERT_EQUAL(hb_h2x_pack_ping(buf, 16, 0, (const uint8_t *)"12345678"), HB_ERR_TOO_LARGE);
  CU_ASSERT_EQUAL(hb_h2x_pack_window_update(buf, sizeof(buf), 1, 0), HB_ERR_INVALID);
  CU_ASSERT_EQUAL(hb_h2x_pack_window_update(buf, sizeof(buf), 1, 0x80000000u), HB_ERR_INVALID);
  CU_ASSERT_EQUAL(hb_h2x_pack_rst_stream(buf, sizeof(buf), 0, 0), HB_ERR_INVALID);
  CU_ASSERT_EQUAL(hb_h2x_pack_goaway(buf, 16, 1, 0, NULL, 0), HB_ERR_TOO_LARGE);
  CU_ASSERT_EQUAL(hb_h2x_pack_goaway(buf, sizeof(buf), 1, 0, (const uint8_t *)"0123456789abcdef", 16),
                  HB_ERR_TOO_LARGE);
  hb_h2x_setting s = {1, 0};
  CU_ASSERT_EQUAL(hb_h2x_pack_settings(buf, 14, &s, 1), HB_ERR_TOO_LARGE);
  CU_ASSERT_EQUAL(hb_h2x_pack_settings(buf, 15, &s, 1), 15);
}

/* Reassembles a header block from a HEADERS/EX_HEADERS + CONTINUATION run. */
static void check_block(const uint8_t *buf, size_t len, const hb_h2x_ext *ext,
                        const uint8_t *block, size_t blen, uint32_t maxf, size_t nframes,
                        uint8_t first_type) {
  static uint8_t out[70000];
  hb_h2x_reader r;
  hb_h2x_reader_init(&r, 16384);
  size_t pos = 0, olen = 0, frames = 0;
  int ended = 0, ok = 1;
  while (pos < len && ok) {
    hb_h2x_frame_hd hd;
    const uint8_t *payload;
    int have;
    uint32_t code;
    const char *reason;
    ssize_t n = hb_h2x_reader_feed(&r, buf + pos, len - pos, &hd, &payload, &have, &code, &reason);
    if (n <= 0 || !have) {
      ok = 0;
      break;
    }
    pos += (size_t)n;
    ok = hd.length <= maxf && !ended && hd.stream_id == 5;
    ok = ok && hd.type == (frames == 0 ? first_type : HB_H2X_CONTINUATION);
    hb_h2x_frame f;
    hb_h2x_error err;
    if (!ok || hb_h2x_frame_parse(&hd, payload, ext, 0, &f, &err) != 0) {
      ok = 0;
      break;
    }
    const uint8_t *b = frames == 0 ? (first_type == HB_H2X_HEADERS ? f.u.headers.block
                                                                   : f.u.ex_headers.block)
                                   : f.u.continuation.block;
    size_t bl = frames == 0 ? (first_type == HB_H2X_HEADERS ? f.u.headers.len
                                                            : f.u.ex_headers.len)
                            : f.u.continuation.len;
    memcpy(out + olen, b, bl);
    olen += bl;
    ended = (hd.flags & HB_H2X_FLAG_END_HEADERS) != 0;
    if (frames == 0) ok = (hd.flags & HB_H2X_FLAG_END_STREAM) != 0;
    frames++;
  }
  hb_h2x_reader_free(&r);
  CU_ASSERT(ok && ended && pos == len);
  CU_ASSERT_EQUAL(frames, nframes);
  CU_ASSERT(olen == blen && memcmp(out, block, blen) == 0);
}

static void test_header_block_split(void) {
  static uint8_t block[40000], buf[41000];
  for (size_t i = 0; i < sizeof(block); i++) block[i] = (uint8_t)(i * 31 + 7);
  hb_h2x_ext ext;
  make_ext(EXT_DRAFT, &ext);
  hb_h2x_priority pri = {1, 0, 255};
  hb_h2x_block_hd bh = {0, 5, HB_H2X_FLAG_END_STREAM, NULL, 0, NULL};
  static const struct {
    size_t blen;
    uint32_t maxf;
    int ex, pri;
    size_t frames;
  } cases[] = {
      {0, 16384, 0, 0, 1},     {100, 16384, 0, 0, 1},    {16384, 16384, 0, 0, 1},
      {16385, 16384, 0, 0, 2}, {40000, 16384, 0, 0, 3},  {16380, 16384, 0, 1, 2},
      {16379, 16384, 0, 1, 1}, {16375, 16384, 1, 1, 1},  {16376, 16384, 1, 1, 2},
      {40000, 16384, 1, 0, 3}, {1000, 100, 1, 0, 11},    {10, 10, 0, 1, 2},
  };
  for (size_t i = 0; i < HB_ARRAY_LEN(cases); i++) {
    bh.ex = cases[i].ex;
    bh.priority = cases[i].pri ? &pri : NULL;
    bh.routing_id = 3;
    bh.ext = &ext;
    size_t need = hb_h2x_header_block_size(&bh, cases[i].blen, cases[i].maxf);
    ssize_t n = hb_h2x_pack_header_block(buf, sizeof(buf), &bh, block, cases[i].blen,
                                         cases[i].maxf);
    CU_ASSERT_EQUAL(n, (ssize_t)need);
    if (n <= 0) continue;
    CU_ASSERT_EQUAL(hb_h2x_pack_header_block(buf, need - 1, &bh, block, cases[i].blen,
                                             cases[i].maxf),
                    HB_ERR_TOO_LARGE);
    check_block(buf, (size_t)n, &ext, block, cases[i].blen, cases[i].maxf, cases[i].frames,
                cases[i].ex ? 0xfb : HB_H2X_HEADERS);
  }
  bh.ex = 1;
  bh.priority = &pri;
  CU_ASSERT_EQUAL(hb_h2x_pack_header_block(buf, sizeof(buf), &bh, block, 10, 9), HB_ERR_INVALID);
  CU_ASSERT_EQUAL(hb_h2x_header_block_size(&bh, 10, 9), 0);
  bh.routing_id = 0;
  CU_ASSERT_EQUAL(hb_h2x_pack_header_block(buf, sizeof(buf), &bh, block, 10, 100),
                  HB_ERR_INVALID);
}

int hb_test_h2x_frame(void) {
  CU_pSuite s = CU_add_suite("h2x_frame", NULL, NULL);
  if (!s) return -1;
  if (!CU_add_test(s, "frame header", test_frame_hd) ||
      !CU_add_test(s, "parse table", test_parse_table) ||
      !CU_add_test(s, "parse values", test_parse_values) ||
      !CU_add_test(s, "reader splits", test_reader_splits) ||
      !CU_add_test(s, "reader max frame size", test_reader_max) ||
      !CU_add_test(s, "reader preface", test_reader_preface) ||
      !CU_add_test(s, "reader first SETTINGS", test_reader_first_settings) ||
      !CU_add_test(s, "reader nomem", test_reader_nomem) ||
      !CU_add_test(s, "pack round trip", test_pack_round_trip) ||
      !CU_add_test(s, "pack limits", test_pack_limits) ||
      !CU_add_test(s, "header block split", test_header_block_split))
    return -1;
  return 0;
}
