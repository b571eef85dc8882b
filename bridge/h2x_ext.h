/* h2x_ext.h: the extension registry of the h2x engine (DESIGN.md §2, §3.3,
 * §3.4).  An extension is a definition: its config name, the SETTINGS ids it
 * owns (allowed values, which role may send them, whether turning them off is
 * an error, whether both sides sending 1 puts it in force), the frame types it
 * owns with their shape (stream 0 only; a header block in the connection's
 * HPACK context, with the CONTINUATION and size rules of HEADERS; may open a
 * stream), a parser per frame type, and the handler the engine calls for each
 * frame once the extension is in force.  The engine names no extension: it
 * asks a connection's hb_h2x_ext_state who owns a setting id or frame type.
 *
 * Built-in definitions (ex_headers, p2p, symmetric) take their codepoints from
 * an hb_h2x_ext (DESIGN.md §6 defaults).  Their frame-level rules are here;
 * their handlers (what an in-force EX_HEADERS or CLIENT_AUTHORITY does) come
 * with their translators, and until then a definition without a handler
 * cannot be enabled (hb_h2x_ext_servable).  More definitions can be
 * registered (the unit tests register one).
 *
 * Memory: builders are static or the registrant's and must outlive their use;
 * an hb_h2x_ext_defs is a fixed-size value owned by whoever embeds it (a
 * listener); an hb_h2x_ext_state is a fixed-size value embedded in one
 * connection, pointing at the defs it was made from.  Not thread-safe: register
 * before workers start. */
#ifndef HB_H2X_EXT_H
#define HB_H2X_EXT_H

#include "h2bridge.h"
#include "h2x_frame.h"

#define HB_H2X_EXT_MAX 8          /* registered definitions, and extensions on one leg */
#define HB_H2X_EXT_MAX_SETTINGS 2 /* SETTINGS ids per extension */
#define HB_H2X_EXT_MAX_FRAMES 2   /* frame types per extension */

/* Which connection role may send a setting or frame (the other: PROTOCOL_ERROR). */
enum hb_h2x_ext_from { HB_H2X_FROM_ANY = 0, HB_H2X_FROM_CLIENT = 1, HB_H2X_FROM_SERVER = 2 };

/* Shape of an extension frame type. */
enum hb_h2x_extf {
  HB_H2X_EXTF_CONNECTION = 0x1,   /* on stream 0 only; otherwise never on stream 0 */
  HB_H2X_EXTF_HEADER_BLOCK = 0x2, /* carries a header block fragment (HPACK, CONTINUATION, size rules) */
  HB_H2X_EXTF_OPENS_STREAM = 0x4  /* may open a stream (parity policy and MAX_CONCURRENT_STREAMS apply) */
};

typedef struct hb_h2x_ext_setting_def {
  uint16_t id;
  uint32_t max;   /* values above it: PROTOCOL_ERROR */
  uint32_t local; /* what we send in our first SETTINGS (0: not sent) */
  int from;       /* enum hb_h2x_ext_from */
  int sticky;     /* nonzero once, 0 later: PROTOCOL_ERROR */
  int negotiates; /* in force once we sent it nonzero and the peer did too */
} hb_h2x_ext_setting_def;

/* One extension frame, parsed: spans borrow the payload. */
typedef struct hb_h2x_ext_frame {
  hb_h2x_frame_hd hd;
  const uint8_t *block; /* HEADER_BLOCK: the fragment; others: the payload */
  size_t len;
  int has_priority;
  hb_h2x_priority priority;
  uint32_t ref_id;      /* a stream the frame names (EX_HEADERS' routing id); 0 none */
  unsigned xflags;      /* the extension's own flags, as its parser reports them */
  size_t count;         /* items in the frame (CLIENT_AUTHORITY's authorities) */
} hb_h2x_ext_frame;

struct hb_h2x_ext_def;

/* Parses one frame of a type the definition owns.  Returns 0, or HB_ERR_PROTO
 * with |*err| (err->stream: a stream error, |out| still filled so a header
 * block is decoded to keep HPACK in sync). */
typedef int (*hb_h2x_ext_parse_fn)(const struct hb_h2x_ext_def *d, const hb_h2x_frame_hd *hd,
                                   const uint8_t *payload, hb_h2x_ext_frame *out, hb_h2x_error *err);

typedef struct hb_h2x_ext_frame_def {
  uint8_t type;
  unsigned flags; /* HB_H2X_EXTF_* */
  int from;       /* enum hb_h2x_ext_from */
  hb_h2x_ext_parse_fn parse;
} hb_h2x_ext_frame_def;

/* What a header-block frame's block is for (the handler's answer). */
enum hb_h2x_ext_use {
  HB_H2X_USE_REQUEST = 1, /* opens a new stream of the peer's: a request, like HEADERS on an idle stream */
  HB_H2X_USE_STREAM = 2,  /* on an existing stream, like HEADERS there (response or trailers) */
  HB_H2X_USE_DISCARD = 3  /* decode (HPACK stays in sync) and drop */
};

/* Stream states a handler can ask about (hb_h2x_ext_ctx.stream_state). */
enum hb_h2x_ext_stream {
  HB_H2X_ST_IDLE = 0,       /* never opened (or forgotten long ago) */
  HB_H2X_ST_OPEN = 1,
  HB_H2X_ST_HALF_LOCAL = 2, /* we ended our side */
  HB_H2X_ST_HALF_REMOTE = 3,/* the peer ended its side */
  HB_H2X_ST_CLOSED = 4
};

/* What a handler sees of the connection (filled by the engine per call). */
typedef struct hb_h2x_ext_ctx {
  int server;          /* our connection role */
  void *conn;          /* the engine's, for the callbacks */
  int (*stream_state)(void *conn, uint32_t id); /* enum hb_h2x_ext_stream */
  void *state;         /* this extension's per-connection bytes (def->state_size, zeroed at start) */
} hb_h2x_ext_ctx;

/* Called for each frame of the extension once it is in force, after parsing
 * and the engine's shape checks.  Header-block frames set |*use|.  Returns 0,
 * or HB_ERR_PROTO with |*err| (err->stream picks RST_STREAM over GOAWAY). */
typedef int (*hb_h2x_ext_frame_fn)(const struct hb_h2x_ext_def *d, hb_h2x_ext_ctx *ctx, const hb_h2x_ext_frame *f,
                                   int *use, hb_h2x_error *err);

typedef struct hb_h2x_ext_def {
  const char *name; /* the config word */
  hb_h2x_ext_setting_def settings[HB_H2X_EXT_MAX_SETTINGS];
  size_t nsettings;
  hb_h2x_ext_frame_def frames[HB_H2X_EXT_MAX_FRAMES];
  size_t nframes;
  uint32_t not_enabled_error; /* a frame of it before it is in force: connection error with this code */
  hb_h2x_ext cp;              /* the codepoints and dialect it was built from */
  hb_h2x_ext_frame_fn on_frame; /* NULL: not servable yet */
  size_t state_size;          /* per-connection bytes for the handler (<= HB_H2X_EXT_STATE_MAX) */
} hb_h2x_ext_def;

#define HB_H2X_EXT_STATE_MAX 64

/* Builds a definition from codepoints.  0, or HB_ERR_INVALID with a static
 * reason in |*why|. */
typedef int (*hb_h2x_ext_build_fn)(const hb_h2x_ext *cp, hb_h2x_ext_def *out, const char **why);

typedef struct hb_h2x_ext_builder {
  const char *name;
  hb_h2x_ext_build_fn build;
} hb_h2x_ext_builder;

/* ---- the registry ---- */

/* Adds a builder (kept by pointer).  HB_ERR_INVALID when the name is taken,
 * HB_ERR_TOO_LARGE when the registry is full. */
int hb_h2x_ext_register(const hb_h2x_ext_builder *b);
/* Removes a registered builder (tests).  Built-ins cannot be removed. */
void hb_h2x_ext_unregister(const char *name);
/* The builder called |name|, or NULL. */
const hb_h2x_ext_builder *hb_h2x_ext_find(const char *name);
/* The registered names, ", "-joined into |buf| (for "expected one of"). */
const char *hb_h2x_ext_names(char *buf, size_t len);

/* ---- one leg's definitions ---- */

typedef struct hb_h2x_ext_defs {
  size_t n;
  hb_h2x_ext_def d[HB_H2X_EXT_MAX];
} hb_h2x_ext_defs;

/* Builds the definitions of |names| with codepoints |cp| (NULL: defaults).
 * Refuses (HB_ERR_INVALID, reason in |err|) an unknown name, a duplicate, too
 * many, and any two owning the same SETTINGS id or frame type, or an
 * extension claiming an RFC 9113 frame type (0x0-0x9) or a setting id of
 * RFC 9113/8441/9218 (0x1-0x9). */
int hb_h2x_ext_defs_build(hb_h2x_ext_defs *defs, const char *const *names, size_t n, const hb_h2x_ext *cp,
                          char *err, size_t errlen);
/* 1 when every definition has a handler (can be served), else 0 with the
 * first one that has none in |*name|. */
int hb_h2x_ext_servable(const hb_h2x_ext_defs *defs, const char **name);

/* ---- one connection's negotiation ---- */

typedef struct hb_h2x_ext_state {
  const hb_h2x_ext_defs *defs;
  int server;                                           /* our role */
  uint32_t remote[HB_H2X_EXT_MAX][HB_H2X_EXT_MAX_SETTINGS]; /* the peer's latest values */
  uint8_t ustate[HB_H2X_EXT_MAX][HB_H2X_EXT_STATE_MAX];    /* handlers' per-connection bytes */
} hb_h2x_ext_state;

void hb_h2x_ext_state_init(hb_h2x_ext_state *st, const hb_h2x_ext_defs *defs, int server);
/* Our settings for the first SETTINGS frame (nonzero `local`s, except those
 * our role may not send): up to |cap| entries into |out|; returns the count. */
size_t hb_h2x_ext_local_settings(const hb_h2x_ext_state *st, hb_h2x_setting *out, size_t cap);
/* A setting from the peer.  Returns 0 when no extension owns |id| (the engine
 * ignores it, §6.5.2), 1 when one does and the value is allowed (recorded),
 * HB_ERR_PROTO with |*err| (a PROTOCOL_ERROR connection error) when not:
 * above its max, from the wrong role, or a sticky setting turned off. */
int hb_h2x_ext_on_setting(hb_h2x_ext_state *st, uint16_t id, uint32_t value, hb_h2x_error *err);
/* The extension owning frame |type| (index into defs, its frame def in
 * |*fd|), or -1. */
int hb_h2x_ext_frame_owner(const hb_h2x_ext_state *st, uint8_t type, const hb_h2x_ext_frame_def **fd);
/* 1 when extension |i| is in force on this connection: every negotiating
 * setting was sent nonzero by us and by the peer (an extension without one is
 * in force from the start). */
int hb_h2x_ext_in_force(const hb_h2x_ext_state *st, size_t i);
/* The shape checks a frame of extension |i| gets before its parser, for the
 * peer of a connection whose role is st->server: sender role, stream 0 or
 * not, in force.  Returns 0 or HB_ERR_PROTO with |*err| (connection errors). */
int hb_h2x_ext_check_frame(const hb_h2x_ext_state *st, size_t i, const hb_h2x_ext_frame_def *fd,
                           const hb_h2x_frame_hd *hd, hb_h2x_error *err);

#endif
