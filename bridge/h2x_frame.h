/* h2x_frame.h: HTTP/2 frame codec of the h2x engine: frame header, resumable
 * frame reader, payload parsers and serializers (RFC 9113 §3.4, §4, §6, §7),
 * plus EX_HEADERS (draft-xie) and CLIENT_AUTHORITY (draft-benfield P2P).
 * Pure and reentrant: no I/O, no globals.  Parsed spans borrow the caller's
 * bytes; a reader owns its partial-frame buffer (at most max_frame_size bytes).
 * Stream states, flow control and limits are the engine's (engine_h2x). */
#ifndef HB_H2X_FRAME_H
#define HB_H2X_FRAME_H

#include "h2bridge.h"
#include <sys/types.h>

/* ---- constants ---- */

#define HB_H2X_FRAME_HD_LEN 9
#define HB_H2X_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define HB_H2X_PREFACE_LEN 24
#define HB_H2X_MIN_MAX_FRAME_SIZE 16384u    /* RFC 9113 §6.5.2 initial and lowest */
#define HB_H2X_MAX_MAX_FRAME_SIZE 16777215u /* 2^24-1 */
#define HB_H2X_MAX_WINDOW 2147483647u       /* 2^31-1 */
#define HB_H2X_STREAM_ID_MASK 0x7fffffffu

/* Frame types (RFC 9113 §6), then the drafts' defaults (DESIGN.md §6). */
enum hb_h2x_frame_type {
  HB_H2X_DATA = 0x0,
  HB_H2X_HEADERS = 0x1,
  HB_H2X_PRIORITY = 0x2,
  HB_H2X_RST_STREAM = 0x3,
  HB_H2X_SETTINGS = 0x4,
  HB_H2X_PUSH_PROMISE = 0x5,
  HB_H2X_PING = 0x6,
  HB_H2X_GOAWAY = 0x7,
  HB_H2X_WINDOW_UPDATE = 0x8,
  HB_H2X_CONTINUATION = 0x9,
  HB_H2X_EX_HEADERS_DEFAULT = 0xfb,      /* draft-xie */
  HB_H2X_CLIENT_AUTHORITY_DEFAULT = 0xf0 /* draft-benfield P2P (TBA) */
};

/* Frame flags (RFC 9113 §6; UNIDIRECTIONAL: proxygen's EX_HEADERS). */
enum hb_h2x_flag {
  HB_H2X_FLAG_END_STREAM = 0x01,
  HB_H2X_FLAG_ACK = 0x01,
  HB_H2X_FLAG_END_HEADERS = 0x04,
  HB_H2X_FLAG_PADDED = 0x08,
  HB_H2X_FLAG_PRIORITY = 0x20,
  HB_H2X_FLAG_UNIDIRECTIONAL = 0x40
};

/* Error codes (RFC 9113 §7), then draft-xie's defaults. */
enum hb_h2x_error_code {
  HB_H2X_NO_ERROR = 0x0,
  HB_H2X_PROTOCOL_ERROR = 0x1,
  HB_H2X_INTERNAL_ERROR = 0x2,
  HB_H2X_FLOW_CONTROL_ERROR = 0x3,
  HB_H2X_SETTINGS_TIMEOUT = 0x4,
  HB_H2X_STREAM_CLOSED = 0x5,
  HB_H2X_FRAME_SIZE_ERROR = 0x6,
  HB_H2X_REFUSED_STREAM = 0x7,
  HB_H2X_CANCEL = 0x8,
  HB_H2X_COMPRESSION_ERROR = 0x9,
  HB_H2X_CONNECT_ERROR = 0xa,
  HB_H2X_ENHANCE_YOUR_CALM = 0xb,
  HB_H2X_INADEQUATE_SECURITY = 0xc,
  HB_H2X_HTTP_1_1_REQUIRED = 0xd,
  HB_H2X_ROUTING_STREAM_ERROR_DEFAULT = 0xfb,
  HB_H2X_EX_HEADERS_NOT_ENABLED_ERROR_DEFAULT = 0xfc
};

/* SETTINGS identifiers (RFC 9113 §6.5.2, RFC 8441 §3, RFC 9218 §2.1), then
 * the drafts' defaults. */
enum hb_h2x_settings_id {
  HB_H2X_SETTINGS_HEADER_TABLE_SIZE = 0x1,
  HB_H2X_SETTINGS_ENABLE_PUSH = 0x2,
  HB_H2X_SETTINGS_MAX_CONCURRENT_STREAMS = 0x3,
  HB_H2X_SETTINGS_INITIAL_WINDOW_SIZE = 0x4,
  HB_H2X_SETTINGS_MAX_FRAME_SIZE = 0x5,
  HB_H2X_SETTINGS_MAX_HEADER_LIST_SIZE = 0x6,
  HB_H2X_SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x8,
  HB_H2X_SETTINGS_NO_RFC7540_PRIORITIES = 0x9,
  HB_H2X_SETTINGS_ENABLE_EX_HEADERS_DEFAULT = 0xfbfb,
  HB_H2X_SETTINGS_PEER_TO_PEER_DEFAULT = 0xf0f0,
  HB_H2X_SETTINGS_SYMMETRIC_DEFAULT = 0xf1f1
};

/* Which extensions a codec user speaks (hb_h2x_ext.enabled). */
enum hb_h2x_ext_bit {
  HB_H2X_EXT_EX_HEADERS = 0x1, /* EX_HEADERS frame + ENABLE_EX_HEADERS setting */
  HB_H2X_EXT_P2P = 0x2,        /* CLIENT_AUTHORITY frame + SETTINGS_PEER_TO_PEER */
  HB_H2X_EXT_SYMMETRIC = 0x4   /* SETTINGS_SYMMETRIC */
};

/* EX_HEADERS dialects (DESIGN.md §3.4). */
enum hb_h2x_ex_dialect {
  HB_H2X_EX_DRAFT = 0,   /* draft-xie: bad routing id is ROUTING_STREAM_ERROR */
  HB_H2X_EX_PROXYGEN = 1 /* routing id must be odd; flag UNIDIRECTIONAL */
};

/* Extension codepoints and switches; all configurable (DESIGN.md §3.3, §6).
 * hb_h2x_ext_defaults() fills the table's defaults with nothing enabled. */
typedef struct hb_h2x_ext {
  unsigned enabled;               /* HB_H2X_EXT_* bits */
  int ex_dialect;                 /* enum hb_h2x_ex_dialect */
  uint8_t ex_headers_type;        /* 0xfb */
  uint8_t client_authority_type;  /* 0xf0 */
  uint16_t enable_ex_headers_id;  /* 0xfbfb */
  uint16_t peer_to_peer_id;       /* 0xf0f0 */
  uint16_t symmetric_id;          /* 0xf1f1 */
  uint32_t routing_stream_error;  /* 0xfb */
  uint32_t ex_headers_not_enabled_error; /* 0xfc */
} hb_h2x_ext;

void hb_h2x_ext_defaults(hb_h2x_ext *ext);

/* A protocol error found by a parser: the wire code, whether RFC 9113 makes it
 * a stream error (§5.4.2: RST_STREAM on the frame's stream) or a connection
 * error (§5.4.1: GOAWAY), and a static reason for the log. */
typedef struct hb_h2x_error {
  uint32_t code;      /* enum hb_h2x_error_code or an extension's code */
  int stream;         /* 1: stream error, 0: connection error */
  const char *reason; /* static string */
} hb_h2x_error;

/* Static name of an error code ("PROTOCOL_ERROR"), of a frame type ("DATA")
 * and of a settings id; "UNKNOWN" for others (extension codepoints are not
 * known here: the engine names them). */
const char *hb_h2x_error_str(uint32_t code);
const char *hb_h2x_type_str(uint8_t type);
const char *hb_h2x_settings_str(uint16_t id);

/* ---- frame header (RFC 9113 §4.1) ---- */

typedef struct hb_h2x_frame_hd {
  uint32_t length;    /* 24 bits */
  uint8_t type, flags;
  uint32_t stream_id; /* 31 bits, reserved bit cleared */
} hb_h2x_frame_hd;

/* Reads 9 bytes of |in| into |hd|; the reserved bit is ignored (§4.1). */
void hb_h2x_frame_hd_unpack(const uint8_t in[9], hb_h2x_frame_hd *hd);
/* Writes |hd| as 9 bytes to |out|; length is cut to 24 bits and the stream id
 * to 31 (reserved bit 0).  Cannot fail. */
void hb_h2x_frame_hd_pack(const hb_h2x_frame_hd *hd, uint8_t out[9]);

/* ---- connection preface (RFC 9113 §3.4) ---- */

/* Resumable check of the client preface, for the server side.  |*matched|
 * starts at 0 and is kept by the caller.  Returns the number of bytes of |in|
 * consumed (never past the preface); the preface is complete when |*matched|
 * == HB_H2X_PREFACE_LEN.  HB_ERR_PROTO on the first byte that differs (the
 * connection error is PROTOCOL_ERROR, §3.4). */
ssize_t hb_h2x_preface_feed(size_t *matched, const uint8_t *in, size_t len);

/* ---- resumable frame reader ---- */

enum hb_h2x_reader_state {
  HB_H2X_READER_PREFACE, /* expecting the client preface */
  HB_H2X_READER_HEADER,  /* collecting the 9-byte frame header */
  HB_H2X_READER_PAYLOAD, /* buffering a payload that arrived split */
  HB_H2X_READER_ERROR    /* sticky error: the connection is finished */
};

typedef struct hb_h2x_reader {
  int state;               /* enum hb_h2x_reader_state */
  uint32_t max_frame_size; /* largest payload accepted */
  size_t preface_matched;  /* bytes of the preface seen so far */
  uint8_t hdbuf[HB_H2X_FRAME_HD_LEN];
  size_t hdlen;            /* bytes in hdbuf */
  hb_h2x_frame_hd hd;      /* header of the frame being buffered */
  uint8_t *buf;            /* partial payload, owned, bufcap <= max_frame_size */
  size_t bufcap, buflen;
  int expect_settings;     /* the next frame must be SETTINGS without ACK (§3.4) */
  int err;                 /* sticky HB_ERR_* once in ERROR */
  uint32_t err_code;       /* its wire code */
  const char *err_reason;  /* its static reason */
} hb_h2x_reader;

/* Initialises |r| accepting payloads up to |max_frame_size| (our
 * SETTINGS_MAX_FRAME_SIZE, 16384..2^24-1).  Allocates nothing yet.
 * Returns 0, or HB_ERR_INVALID when |max_frame_size| is out of range (|r| is
 * then initialised with 16384). */
int hb_h2x_reader_init(hb_h2x_reader *r, uint32_t max_frame_size);
/* Makes the next feed expect the client preface before the first frame
 * (server side).  Only before the first feed. */
void hb_h2x_reader_expect_preface(hb_h2x_reader *r);
/* Makes the first frame (after any preface) a PROTOCOL_ERROR unless it is a
 * SETTINGS without ACK (RFC 9113 §3.4), checked on its header -- before its
 * length, which for a peer not speaking HTTP/2 is any number. */
void hb_h2x_reader_expect_settings(hb_h2x_reader *r);
/* Changes the payload limit for frame headers read from now on (a frame
 * already being buffered keeps its accepted length).  The engine keeps the old,
 * larger value until the peer acknowledged a lowered setting (§6.5.3).  Frees
 * the buffer when it exceeds the new limit and is not in use.  Returns 0 or
 * HB_ERR_INVALID (out of 16384..2^24-1; nothing changes). */
int hb_h2x_reader_set_max(hb_h2x_reader *r, uint32_t max_frame_size);
/* Frees the reader's buffer; |r| may be initialised again. */
void hb_h2x_reader_free(hb_h2x_reader *r);
/* Static name of the reader's state, for logs. */
const char *hb_h2x_reader_state_str(const hb_h2x_reader *r);

/* Feeds |len| bytes of |in|.  Returns the number of bytes consumed (0 ..
 * |len|).  When a whole frame is available, stops right after it and sets
 * |*have_frame| = 1, |*hd| to its header and |*payload| to its hd->length
 * bytes, which point into |in| (the frame arrived whole in this call) or into
 * the reader's buffer (it arrived split); either is valid until the next call
 * on |r| or until |in| goes away.  Otherwise |*have_frame| = 0 and every byte
 * was consumed (kept in the reader).  Call again with the rest of |in|.
 * Any bytes split works, one at a time included.  Type, flags and stream id
 * are not checked here (hb_h2x_frame_parse and the engine do).
 * Errors, all connection errors and sticky (later calls fail the same way):
 * HB_ERR_PROTO: bad client preface (PROTOCOL_ERROR) or a frame longer than
 *   max_frame_size (FRAME_SIZE_ERROR, §4.2); |*err_code| and |*reason| set;
 * HB_ERR_NOMEM: the payload buffer could not be allocated (INTERNAL_ERROR).
 * Allocates at most one buffer of at most max_frame_size bytes; the 9 header
 * bytes live in the struct. */
ssize_t hb_h2x_reader_feed(hb_h2x_reader *r, const uint8_t *in, size_t len,
                           hb_h2x_frame_hd *hd, const uint8_t **payload, int *have_frame,
                           uint32_t *err_code, const char **reason);

/* ---- payload parsers ----
 * Each takes the frame's header |hd| and its hd->length bytes at |payload|
 * (the caller has dispatched on hd->type), fills |out| with values and spans
 * that borrow |payload|, and returns 0 or HB_ERR_PROTO with |*err| set.
 * Checked here: what RFC 9113 §6 (and the drafts) make an error from the frame
 * alone — stream id 0 or not, fixed lengths, padding against the remaining
 * length, setting values.  Not checked here: stream states, flow-control
 * windows, CONTINUATION sequencing, negotiation: the engine's job.  Unknown
 * flags are ignored (§4.1).  A stream error (err->stream = 1) still leaves
 * |out| filled, so a header block is still decoded to keep HPACK in sync. */

typedef struct hb_h2x_priority {
  uint32_t dependency; /* 31 bits */
  int exclusive;
  uint8_t weight;      /* wire value: weight - 1 */
} hb_h2x_priority;

typedef struct hb_h2x_data {
  const uint8_t *data; /* application bytes, padding removed */
  size_t len;
  size_t padlen;       /* padding bytes, not counting the Pad Length octet */
  int padded;          /* PADDED was set */
} hb_h2x_data;

typedef struct hb_h2x_headers {
  const uint8_t *block; /* header block fragment */
  size_t len;
  size_t padlen;
  int padded;
  int has_priority;     /* PRIORITY flag: |priority| is set */
  hb_h2x_priority priority;
} hb_h2x_headers;

typedef struct hb_h2x_ex_headers {
  const uint8_t *block;
  size_t len;
  size_t padlen;
  int padded;
  int has_priority;
  hb_h2x_priority priority;
  uint32_t routing_id;  /* 31-bit Routing Stream ID */
  int unidirectional;   /* proxygen dialect: UNIDIRECTIONAL flag; draft: 0 */
} hb_h2x_ex_headers;

typedef struct hb_h2x_push_promise {
  uint32_t promised_id;
  const uint8_t *block;
  size_t len;
  size_t padlen;
  int padded;
} hb_h2x_push_promise;

typedef struct hb_h2x_goaway {
  uint32_t last_stream_id;
  uint32_t error_code;
  const uint8_t *debug;
  size_t debug_len;
} hb_h2x_goaway;

typedef struct hb_h2x_ping {
  const uint8_t *opaque; /* 8 bytes */
  int ack;
} hb_h2x_ping;

typedef struct hb_h2x_setting {
  uint16_t id;
  uint32_t value;
} hb_h2x_setting;

typedef struct hb_h2x_settings {
  int ack;
  const uint8_t *entries; /* count * 6 bytes */
  size_t count;
} hb_h2x_settings;

typedef struct hb_h2x_client_authority {
  const uint8_t *segments; /* the whole payload, validated */
  size_t len;
  size_t count;            /* number of authorities (>= 1) */
} hb_h2x_client_authority;

/* DATA (§6.1).  Errors (connection, PROTOCOL_ERROR unless said): stream 0;
 * PADDED with an empty payload (FRAME_SIZE_ERROR); Pad Length larger than the
 * rest of the payload.  Pad Length equal to the rest gives an empty span. */
int hb_h2x_parse_data(const hb_h2x_frame_hd *hd, const uint8_t *payload, hb_h2x_data *out,
                      hb_h2x_error *err);

/* HEADERS (§6.2).  Connection errors: stream 0 (PROTOCOL_ERROR); payload too
 * short for Pad Length / priority fields (FRAME_SIZE_ERROR); padding longer
 * than what follows them (PROTOCOL_ERROR).  Stream error: a stream depending
 * on itself (PROTOCOL_ERROR, §5.3.1), with |out| filled. */
int hb_h2x_parse_headers(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                         hb_h2x_headers *out, hb_h2x_error *err);

/* PRIORITY (§6.3).  Connection error: stream 0 (PROTOCOL_ERROR).  Stream
 * errors: length other than 5 (FRAME_SIZE_ERROR), self-dependency
 * (PROTOCOL_ERROR, |out| filled). */
int hb_h2x_parse_priority(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                          hb_h2x_priority *out, hb_h2x_error *err);

/* RST_STREAM (§6.4).  Connection errors: stream 0 (PROTOCOL_ERROR); length
 * other than 4 (FRAME_SIZE_ERROR).  |*code| gets the peer's error code. */
int hb_h2x_parse_rst_stream(const hb_h2x_frame_hd *hd, const uint8_t *payload, uint32_t *code,
                            hb_h2x_error *err);

/* SETTINGS (§6.5).  All connection errors: stream not 0 (PROTOCOL_ERROR); ACK
 * with a payload, length not a multiple of 6 (FRAME_SIZE_ERROR); more than
 * |max_entries| entries when |max_entries| > 0 (ENHANCE_YOUR_CALM, a flood
 * limit of ours); ENABLE_PUSH, ENABLE_CONNECT_PROTOCOL or
 * NO_RFC7540_PRIORITIES not 0/1 (PROTOCOL_ERROR); INITIAL_WINDOW_SIZE above
 * 2^31-1 (FLOW_CONTROL_ERROR); MAX_FRAME_SIZE outside 16384..2^24-1
 * (PROTOCOL_ERROR); and for the extensions |ext| enables (|ext| may be NULL:
 * none), ENABLE_EX_HEADERS or PEER_TO_PEER not 0/1 (PROTOCOL_ERROR).
 * SYMMETRIC takes any value (its meaning depends on the role: the engine's).
 * Unknown ids are accepted and left for the iteration to skip.  Whether a
 * value is allowed from this peer in this role (ENABLE_PUSH=1 from a server,
 * SYMMETRIC from a server, ENABLE_EX_HEADERS 1 -> 0) is the engine's. */
int hb_h2x_parse_settings(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                          const hb_h2x_ext *ext, size_t max_entries, hb_h2x_settings *out,
                          hb_h2x_error *err);
/* Entry |i| (< s->count) of a parsed SETTINGS frame, in wire order. */
void hb_h2x_settings_get(const hb_h2x_settings *s, size_t i, hb_h2x_setting *entry);

/* PUSH_PROMISE (§6.6).  Connection errors: stream 0 (PROTOCOL_ERROR); payload
 * too short for Pad Length and the promised id (FRAME_SIZE_ERROR); padding
 * longer than the rest (PROTOCOL_ERROR).  The engine refuses the frame itself
 * (we send ENABLE_PUSH=0, §8.4). */
int hb_h2x_parse_push_promise(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                              hb_h2x_push_promise *out, hb_h2x_error *err);

/* PING (§6.7).  Connection errors: length other than 8 (FRAME_SIZE_ERROR);
 * stream not 0 (PROTOCOL_ERROR). */
int hb_h2x_parse_ping(const hb_h2x_frame_hd *hd, const uint8_t *payload, hb_h2x_ping *out,
                      hb_h2x_error *err);

/* GOAWAY (§6.8).  Connection errors: stream not 0 (PROTOCOL_ERROR); length
 * below 8 (FRAME_SIZE_ERROR).  The reserved bit of last-stream-id is cleared. */
int hb_h2x_parse_goaway(const hb_h2x_frame_hd *hd, const uint8_t *payload, hb_h2x_goaway *out,
                        hb_h2x_error *err);

/* WINDOW_UPDATE (§6.9).  Connection error: length other than 4
 * (FRAME_SIZE_ERROR).  Increment 0: PROTOCOL_ERROR, a stream error on a
 * stream, a connection error on stream 0.  Reserved bit cleared. */
int hb_h2x_parse_window_update(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                               uint32_t *increment, hb_h2x_error *err);

/* CONTINUATION (§6.10).  Connection error: stream 0 (PROTOCOL_ERROR).  The
 * whole payload is the header block fragment. */
int hb_h2x_parse_continuation(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                              const uint8_t **block, size_t *len, hb_h2x_error *err);

/* EX_HEADERS (draft-xie §5; DESIGN.md §3.5): Pad Length if PADDED, priority if
 * PRIORITY, the 31-bit Routing Stream ID, the header block, padding; the same
 * layout in both dialects (ext->ex_dialect; |ext| NULL means the defaults).
 * Connection errors: stream 0 (PROTOCOL_ERROR); payload too short for the
 * fixed fields (FRAME_SIZE_ERROR); padding longer than the rest
 * (PROTOCOL_ERROR); draft dialect: routing id 0 or equal to the frame's stream
 * (ext->routing_stream_error, an ExStream cannot route itself); proxygen
 * dialect: even routing id (PROTOCOL_ERROR).  Stream errors: self-dependency
 * (PROTOCOL_ERROR); proxygen dialect: routing id equal to the frame's stream
 * (STREAM_CLOSED, its "unknown routing stream" answer).  |out| is filled on
 * stream errors.  UNIDIRECTIONAL is reported in the proxygen dialect only. */
int hb_h2x_parse_ex_headers(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                            const hb_h2x_ext *ext, hb_h2x_ex_headers *out, hb_h2x_error *err);

/* CLIENT_AUTHORITY (draft-benfield §2.2; DESIGN.md §3.5).  All connection
 * errors PROTOCOL_ERROR: stream not 0; empty payload; a zero-length authority;
 * a segment running past the end of the frame.  Authorities are not checked
 * for syntax here (they are compared against config by the engine). */
int hb_h2x_parse_client_authority(const hb_h2x_frame_hd *hd, const uint8_t *payload,
                                  hb_h2x_client_authority *out, hb_h2x_error *err);
/* Iterates the authorities of a parsed frame: |*pos| starts at 0; returns 1
 * with |*authority|/|*len| (a span into the payload, not NUL-terminated), or 0
 * after the last one. */
int hb_h2x_client_authority_next(const hb_h2x_client_authority *ca, size_t *pos,
                                 const uint8_t **authority, size_t *len);

/* Any frame, dispatched on hd->type. */
typedef struct hb_h2x_frame {
  hb_h2x_frame_hd hd;
  union {
    hb_h2x_data data;
    hb_h2x_headers headers;
    hb_h2x_priority priority;
    uint32_t rst_stream_code;
    hb_h2x_settings settings;
    hb_h2x_push_promise push_promise;
    hb_h2x_ping ping;
    hb_h2x_goaway goaway;
    uint32_t window_increment;
    struct {
      const uint8_t *block;
      size_t len;
    } continuation;
    hb_h2x_ex_headers ex_headers;
    hb_h2x_client_authority client_authority;
  } u;
} hb_h2x_frame;

/* Parses the payload of any frame by its type; extension types count only when
 * |ext| enables them (|ext| NULL: none).  Returns 0 (|out| filled,
 * out->hd = *hd), HB_ERR_DECLINED for an unknown or not-enabled type (to be
 * ignored, §4.1 and §5.5; |out->hd| set, nothing else), or HB_ERR_PROTO with
 * |*err| as the parser of that type says.  |max_settings| as in
 * hb_h2x_parse_settings. */
int hb_h2x_frame_parse(const hb_h2x_frame_hd *hd, const uint8_t *payload, const hb_h2x_ext *ext,
                       size_t max_settings, hb_h2x_frame *out, hb_h2x_error *err);

/* ---- serializers ----
 * Each writes one frame (or, for hb_h2x_pack_header_block, a frame sequence)
 * into |buf| of |cap| bytes and returns the number of bytes written; h2x never
 * pads.  Errors: HB_ERR_TOO_LARGE when |cap| is too small (nothing useful is
 * written); HB_ERR_INVALID when an argument cannot make a valid frame (stream
 * id 0 where a stream is needed or not 0 where none is, an id above 2^31-1, a
 * payload above 2^24-1).  The peer's SETTINGS_MAX_FRAME_SIZE is the caller's
 * to respect, except in hb_h2x_pack_header_block. */

ssize_t hb_h2x_pack_data(uint8_t *buf, size_t cap, uint32_t stream_id, int end_stream,
                         const uint8_t *data, size_t len);
/* One HEADERS frame; |flags| may hold END_STREAM and END_HEADERS (others are
 * dropped); |pri| non-NULL adds the priority fields and the PRIORITY flag. */
ssize_t hb_h2x_pack_headers(uint8_t *buf, size_t cap, uint32_t stream_id, uint8_t flags,
                            const hb_h2x_priority *pri, const uint8_t *block, size_t len);
ssize_t hb_h2x_pack_priority(uint8_t *buf, size_t cap, uint32_t stream_id,
                             const hb_h2x_priority *pri);
ssize_t hb_h2x_pack_rst_stream(uint8_t *buf, size_t cap, uint32_t stream_id, uint32_t code);
/* SETTINGS with the |n| entries of |s| in order (n may be 0). */
ssize_t hb_h2x_pack_settings(uint8_t *buf, size_t cap, const hb_h2x_setting *s, size_t n);
ssize_t hb_h2x_pack_settings_ack(uint8_t *buf, size_t cap);
/* One PUSH_PROMISE frame; |flags| may hold END_HEADERS. */
ssize_t hb_h2x_pack_push_promise(uint8_t *buf, size_t cap, uint32_t stream_id, uint8_t flags,
                                 uint32_t promised_id, const uint8_t *block, size_t len);
ssize_t hb_h2x_pack_ping(uint8_t *buf, size_t cap, int ack, const uint8_t opaque[8]);
ssize_t hb_h2x_pack_goaway(uint8_t *buf, size_t cap, uint32_t last_stream_id, uint32_t code,
                           const uint8_t *debug, size_t debug_len);
/* |increment| 1..2^31-1 (0 is HB_ERR_INVALID); |stream_id| 0 for the
 * connection window. */
ssize_t hb_h2x_pack_window_update(uint8_t *buf, size_t cap, uint32_t stream_id,
                                  uint32_t increment);
ssize_t hb_h2x_pack_continuation(uint8_t *buf, size_t cap, uint32_t stream_id, int end_headers,
                                 const uint8_t *block, size_t len);
/* One EX_HEADERS frame of type ext->ex_headers_type (|ext| NULL: defaults);
 * |flags| may hold END_STREAM, END_HEADERS and, in the proxygen dialect,
 * UNIDIRECTIONAL.  |routing_id| 1..2^31-1 (and odd in the proxygen dialect). */
ssize_t hb_h2x_pack_ex_headers(uint8_t *buf, size_t cap, const hb_h2x_ext *ext,
                               uint32_t stream_id, uint8_t flags, const hb_h2x_priority *pri,
                               uint32_t routing_id, const uint8_t *block, size_t len);
/* CLIENT_AUTHORITY of type ext->client_authority_type (|ext| NULL: default)
 * on stream 0 from |n| >= 1 authorities of 1..255 bytes each (|auth[i]|,
 * |auth_len[i]|); otherwise HB_ERR_INVALID. */
ssize_t hb_h2x_pack_client_authority(uint8_t *buf, size_t cap, const hb_h2x_ext *ext,
                                     const char *const *auth, const size_t *auth_len, size_t n);

/* What opens a header block for hb_h2x_pack_header_block. */
typedef struct hb_h2x_block_hd {
  int ex;                    /* 0: HEADERS; 1: EX_HEADERS of |ext| */
  uint32_t stream_id;
  uint8_t flags;             /* END_STREAM (and UNIDIRECTIONAL for proxygen EX_HEADERS) */
  const hb_h2x_priority *priority; /* NULL: none */
  uint32_t routing_id;       /* ex only */
  const hb_h2x_ext *ext;     /* ex only; NULL: defaults */
} hb_h2x_block_hd;

/* Bytes hb_h2x_pack_header_block will write for a |len|-byte block, or 0 when
 * |max_frame_size| cannot carry the first frame's fixed fields plus one byte. */
size_t hb_h2x_header_block_size(const hb_h2x_block_hd *bh, size_t len,
                                uint32_t max_frame_size);
/* Writes the header block |block| of |len| bytes as HEADERS (or EX_HEADERS)
 * followed by as many CONTINUATION frames as needed, none with a payload
 * above |max_frame_size| (the peer's setting), END_HEADERS on the last.  An
 * empty block is one frame.  Returns the total written; HB_ERR_TOO_LARGE when
 * |cap| is short of hb_h2x_header_block_size(); HB_ERR_INVALID as the single
 * frame packers, or when |max_frame_size| is 0, above 2^24-1 or too small for
 * the fixed fields plus one byte. */
ssize_t hb_h2x_pack_header_block(uint8_t *buf, size_t cap, const hb_h2x_block_hd *bh,
                                 const uint8_t *block, size_t len, uint32_t max_frame_size);

#endif
