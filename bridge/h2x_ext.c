/* h2x_ext.c: the extension registry of the h2x engine, the built-in
 * definitions of the three drafts' frame-level rules, and per-connection
 * negotiation.  See h2x_ext.h.  The registry is a fixed array of builder
 * pointers (process-wide, filled before workers start); everything else is
 * caller-owned values.  Specs: draft-xie EX_HEADERS §"Negotiate the
 * Extension", draft-benfield P2P §2, the Symmetric draft; DESIGN.md §3.3-§3.4. */
#include "h2x_ext.h"
#include "errors.h"

#include <stdio.h>
#include <string.h>

static int fail(hb_h2x_error *err, uint32_t code, const char *reason) {
  err->code = code;
  err->stream = 0;
  err->reason = reason;
  return HB_ERR_PROTO;
}

/* ---- built-in definitions ---- */

static int parse_ex_headers(const hb_h2x_ext_def *d, const hb_h2x_frame_hd *hd, const uint8_t *payload,
                            hb_h2x_ext_frame *out, hb_h2x_error *err) {
  hb_h2x_ex_headers ex;
  memset(out, 0, sizeof(*out));
  out->hd = *hd;
  int rv = hb_h2x_parse_ex_headers(hd, payload, &d->cp, &ex, err);
  if (rv != 0 && !err->stream) return rv;
  out->block = ex.block;
  out->len = ex.len;
  out->has_priority = ex.has_priority;
  out->priority = ex.priority;
  out->ref_id = ex.routing_id;
  out->xflags = ex.unidirectional ? HB_H2X_FLAG_UNIDIRECTIONAL : 0;
  return rv;
}

/* draft-xie: ENABLE_EX_HEADERS 0/1 from either side, never turned off once on;
 * EX_HEADERS carries a header block, opens ExStreams from either side, and
 * before both sides enabled it is EX_HEADERS_NOT_ENABLED_ERROR (skipping it
 * would desynchronise HPACK, DESIGN.md §3.4). */
static int build_ex_headers(const hb_h2x_ext *cp, hb_h2x_ext_def *d, const char **why) {
  (void)why;
  d->settings[0] = (hb_h2x_ext_setting_def){cp->enable_ex_headers_id, 1, 1, HB_H2X_FROM_ANY, 1, 1};
  d->nsettings = 1;
  d->frames[0] = (hb_h2x_ext_frame_def){cp->ex_headers_type, HB_H2X_EXTF_HEADER_BLOCK | HB_H2X_EXTF_OPENS_STREAM,
                                        HB_H2X_FROM_ANY, parse_ex_headers};
  d->nframes = 1;
  d->not_enabled_error = cp->ex_headers_not_enabled_error;
  return 0;
}

static int parse_client_authority(const hb_h2x_ext_def *d, const hb_h2x_frame_hd *hd, const uint8_t *payload,
                                  hb_h2x_ext_frame *out, hb_h2x_error *err) {
  (void)d;
  hb_h2x_client_authority ca;
  memset(out, 0, sizeof(*out));
  out->hd = *hd;
  int rv = hb_h2x_parse_client_authority(hd, payload, &ca, err);
  if (rv != 0) return rv;
  out->block = ca.segments;
  out->len = ca.len;
  out->count = ca.count;
  return 0;
}

/* draft-benfield: SETTINGS_PEER_TO_PEER 0/1 is the client's; CLIENT_AUTHORITY
 * is the client's, on stream 0, and only after it sent PEER_TO_PEER=1 (the
 * server sends it too, as its agreement: the draft's "negotiated setting"). */
static int build_p2p(const hb_h2x_ext *cp, hb_h2x_ext_def *d, const char **why) {
  (void)why;
  d->settings[0] = (hb_h2x_ext_setting_def){cp->peer_to_peer_id, 1, 1, HB_H2X_FROM_ANY, 1, 1};
  d->nsettings = 1;
  d->frames[0] = (hb_h2x_ext_frame_def){cp->client_authority_type, HB_H2X_EXTF_CONNECTION, HB_H2X_FROM_CLIENT,
                                        parse_client_authority};
  d->nframes = 1;
  d->not_enabled_error = HB_H2X_PROTOCOL_ERROR;
  return 0;
}

/* Symmetric draft: SETTINGS_SYMMETRIC comes from the client only (a client
 * receiving it is in error, DESIGN.md §3.3); no frame type of its own. */
static int build_symmetric(const hb_h2x_ext *cp, hb_h2x_ext_def *d, const char **why) {
  (void)why;
  d->settings[0] = (hb_h2x_ext_setting_def){cp->symmetric_id, 1, 1, HB_H2X_FROM_CLIENT, 1, 0};
  d->nsettings = 1;
  d->nframes = 0;
  d->not_enabled_error = HB_H2X_PROTOCOL_ERROR;
  return 0;
}

static const hb_h2x_ext_builder builtin[] = {
    {"ex_headers", build_ex_headers},
    {"p2p", build_p2p},
    {"symmetric", build_symmetric},
};
#define NBUILTIN HB_ARRAY_LEN(builtin)

/* ---- registry ---- */

static const hb_h2x_ext_builder *reg[HB_H2X_EXT_MAX];
static size_t nreg;

static void reg_init(void) {
  if (nreg) return;
  for (size_t i = 0; i < NBUILTIN; i++) reg[nreg++] = &builtin[i];
}

const hb_h2x_ext_builder *hb_h2x_ext_find(const char *name) {
  reg_init();
  for (size_t i = 0; i < nreg; i++)
    if (strcmp(reg[i]->name, name) == 0) return reg[i];
  return NULL;
}

int hb_h2x_ext_register(const hb_h2x_ext_builder *b) {
  reg_init();
  if (!b || !b->name || !b->build || hb_h2x_ext_find(b->name)) return HB_ERR_INVALID;
  if (nreg == HB_H2X_EXT_MAX) return HB_ERR_TOO_LARGE;
  reg[nreg++] = b;
  return 0;
}

void hb_h2x_ext_unregister(const char *name) {
  reg_init();
  for (size_t i = NBUILTIN; i < nreg; i++) {
    if (strcmp(reg[i]->name, name) != 0) continue;
    memmove(&reg[i], &reg[i + 1], (nreg - i - 1) * sizeof(reg[0]));
    nreg--;
    return;
  }
}

const char *hb_h2x_ext_names(char *buf, size_t len) {
  reg_init();
  size_t off = 0;
  if (len) buf[0] = '\0';
  for (size_t i = 0; i < nreg && off < len; i++) {
    int k = snprintf(buf + off, len - off, "%s%s", i ? ", " : "", reg[i]->name);
    if (k < 0) break;
    off += (size_t)k;
  }
  return buf;
}

/* ---- one leg's definitions ---- */

static int core_setting(uint16_t id) { return id >= 0x1 && id <= 0x9; }

int hb_h2x_ext_defs_build(hb_h2x_ext_defs *defs, const char *const *names, size_t n, const hb_h2x_ext *cp,
                          char *err, size_t errlen) {
  hb_h2x_ext dflt;
  memset(defs, 0, sizeof(*defs));
  if (!cp) {
    hb_h2x_ext_defaults(&dflt);
    cp = &dflt;
  }
  if (n > HB_H2X_EXT_MAX) {
    snprintf(err, errlen, "more than %d extensions", HB_H2X_EXT_MAX);
    return HB_ERR_INVALID;
  }
  for (size_t i = 0; i < n; i++) {
    const hb_h2x_ext_builder *b = hb_h2x_ext_find(names[i]);
    char known[256];
    if (!b) {
      snprintf(err, errlen, "unknown h2x extension '%s' (known: %s)", names[i], hb_h2x_ext_names(known, sizeof(known)));
      return HB_ERR_INVALID;
    }
    for (size_t j = 0; j < i; j++)
      if (strcmp(names[j], names[i]) == 0) {
        snprintf(err, errlen, "h2x extension '%s' listed twice", names[i]);
        return HB_ERR_INVALID;
      }
    hb_h2x_ext_def *d = &defs->d[defs->n];
    const char *why = NULL;
    d->name = b->name;
    d->cp = *cp;
    if (b->build(cp, d, &why) != 0) {
      snprintf(err, errlen, "h2x extension '%s': %s", names[i], why ? why : "cannot be built");
      return HB_ERR_INVALID;
    }
    d->name = b->name;
    if (d->nsettings > HB_H2X_EXT_MAX_SETTINGS || d->nframes > HB_H2X_EXT_MAX_FRAMES ||
        d->state_size > HB_H2X_EXT_STATE_MAX) {
      snprintf(err, errlen, "h2x extension '%s': definition out of bounds", names[i]);
      return HB_ERR_INVALID;
    }
    for (size_t s = 0; s < d->nsettings; s++) {
      uint16_t id = d->settings[s].id;
      if (core_setting(id)) {
        snprintf(err, errlen, "h2x extension '%s' claims the standard setting 0x%x", names[i], id);
        return HB_ERR_INVALID;
      }
      for (size_t j = 0; j < defs->n; j++)
        for (size_t t = 0; t < defs->d[j].nsettings; t++)
          if (defs->d[j].settings[t].id == id) {
            snprintf(err, errlen, "h2x extensions '%s' and '%s' both claim setting 0x%x", defs->d[j].name, names[i],
                     id);
            return HB_ERR_INVALID;
          }
    }
    for (size_t f = 0; f < d->nframes; f++) {
      uint8_t ty = d->frames[f].type;
      if (ty <= HB_H2X_CONTINUATION || !d->frames[f].parse) {
        snprintf(err, errlen, "h2x extension '%s' claims frame type 0x%x, a standard type or without a parser",
                 names[i], ty);
        return HB_ERR_INVALID;
      }
      for (size_t j = 0; j <= defs->n; j++) {
        const hb_h2x_ext_def *o = &defs->d[j];
        for (size_t t = 0; t < (j == defs->n ? f : o->nframes); t++)
          if (o->frames[t].type == ty) {
            snprintf(err, errlen, "h2x extensions '%s' and '%s' both claim frame type 0x%x", o->name, names[i], ty);
            return HB_ERR_INVALID;
          }
      }
    }
    defs->n++;
  }
  return 0;
}

int hb_h2x_ext_servable(const hb_h2x_ext_defs *defs, const char **name) {
  for (size_t i = 0; i < defs->n; i++)
    if (!defs->d[i].on_frame) {
      if (name) *name = defs->d[i].name;
      return 0;
    }
  return 1;
}

/* ---- one connection ---- */

void hb_h2x_ext_state_init(hb_h2x_ext_state *st, const hb_h2x_ext_defs *defs, int server) {
  memset(st, 0, sizeof(*st));
  st->defs = defs;
  st->server = server;
}

static int role_may_send(int from, int sender_is_server) {
  return from == HB_H2X_FROM_ANY || (from == HB_H2X_FROM_SERVER) == (sender_is_server != 0);
}

size_t hb_h2x_ext_local_settings(const hb_h2x_ext_state *st, hb_h2x_setting *out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < st->defs->n; i++) {
    const hb_h2x_ext_def *d = &st->defs->d[i];
    for (size_t s = 0; s < d->nsettings && n < cap; s++) {
      const hb_h2x_ext_setting_def *sd = &d->settings[s];
      if (sd->local && role_may_send(sd->from, st->server)) out[n++] = (hb_h2x_setting){sd->id, sd->local};
    }
  }
  return n;
}

int hb_h2x_ext_on_setting(hb_h2x_ext_state *st, uint16_t id, uint32_t value, hb_h2x_error *err) {
  for (size_t i = 0; i < st->defs->n; i++) {
    const hb_h2x_ext_def *d = &st->defs->d[i];
    for (size_t s = 0; s < d->nsettings; s++) {
      const hb_h2x_ext_setting_def *sd = &d->settings[s];
      if (sd->id != id) continue;
      if (!role_may_send(sd->from, !st->server))
        return fail(err, HB_H2X_PROTOCOL_ERROR,
                    st->server ? "extension setting only a server may send" : "extension setting only a client may send");
      if (value > sd->max) return fail(err, HB_H2X_PROTOCOL_ERROR, "extension setting value out of range");
      if (sd->sticky && st->remote[i][s] != 0 && value == 0)
        return fail(err, HB_H2X_PROTOCOL_ERROR, "extension setting turned off after it was on");
      st->remote[i][s] = value;
      return 1;
    }
  }
  return 0;
}

int hb_h2x_ext_frame_owner(const hb_h2x_ext_state *st, uint8_t type, const hb_h2x_ext_frame_def **fd) {
  for (size_t i = 0; i < st->defs->n; i++) {
    const hb_h2x_ext_def *d = &st->defs->d[i];
    for (size_t f = 0; f < d->nframes; f++)
      if (d->frames[f].type == type) {
        *fd = &d->frames[f];
        return (int)i;
      }
  }
  return -1;
}

int hb_h2x_ext_in_force(const hb_h2x_ext_state *st, size_t i) {
  const hb_h2x_ext_def *d = &st->defs->d[i];
  for (size_t s = 0; s < d->nsettings; s++) {
    const hb_h2x_ext_setting_def *sd = &d->settings[s];
    if (!sd->negotiates) continue;
    int ours = sd->local != 0 && role_may_send(sd->from, st->server);
    if (!ours || st->remote[i][s] == 0) return 0;
  }
  return 1;
}

int hb_h2x_ext_check_frame(const hb_h2x_ext_state *st, size_t i, const hb_h2x_ext_frame_def *fd,
                           const hb_h2x_frame_hd *hd, hb_h2x_error *err) {
  const hb_h2x_ext_def *d = &st->defs->d[i];
  if (!role_may_send(fd->from, !st->server))
    return fail(err, HB_H2X_PROTOCOL_ERROR, st->server ? "extension frame only a server may send"
                                                       : "extension frame only a client may send");
  if ((fd->flags & HB_H2X_EXTF_CONNECTION) && hd->stream_id != 0)
    return fail(err, HB_H2X_PROTOCOL_ERROR, "connection-level extension frame on a stream");
  if (!(fd->flags & HB_H2X_EXTF_CONNECTION) && hd->stream_id == 0)
    return fail(err, HB_H2X_PROTOCOL_ERROR, "extension frame on stream 0");
  if (!hb_h2x_ext_in_force(st, i)) return fail(err, d->not_enabled_error, "extension frame before it was negotiated");
  return 0;
}
