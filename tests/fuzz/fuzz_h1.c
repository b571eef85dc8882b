/* fuzz_h1.c: libFuzzer target for the HTTP/1.1 parser (bridge/h1_parse.c).
 * The first byte picks the mode (% 3): request head (+ chunked body if any),
 * response head (request method from byte / 3), or a bare chunked body; the
 * rest is the input.  Checks invariants, not just crashes: prefixes of a good
 * head are INCOMPLETE, the chunked decoder gives the same result fed whole or
 * byte by byte.  Owns every head it makes; single-threaded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "h1_parse.h"
#include "head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) \
  do {           \
    if (!(c)) abort(); \
  } while (0)

typedef struct run {
  uint8_t *out;
  size_t out_len, consumed, ntrailers;
  int done, err;
} run;

/* Decodes |src| feeding at most |step| bytes per call (0: all). */
static void chunked_run(const uint8_t *src, size_t len, size_t step, run *r) {
  hb_h1_chunked c;
  hb_head t;
  hb_head_init(&t, 0);
  hb_h1_chunked_init(&c, 512);
  memset(r, 0, sizeof(*r));
  r->out = malloc(len ? len : 1);
  CHECK(r->out != NULL);
  size_t pos = 0;
  while (pos < len && !r->done) {
    size_t avail = step ? HB_MIN(step, len - pos) : len - pos;
    const uint8_t *d;
    size_t dl;
    const char *reason = NULL;
    ssize_t n = hb_h1_chunked_feed(&c, src + pos, avail, &d, &dl, &t, &r->done, &reason);
    if (n < 0) {
      CHECK(reason != NULL && !r->done && dl == 0);
      r->err = (int)n;
      break;
    }
    CHECK((size_t)n <= avail);
    CHECK(n > 0 || r->done);
    if (dl) {
      CHECK(d >= src + pos && d + dl <= src + pos + (size_t)n);
      memcpy(r->out + r->out_len, d, dl);
      r->out_len += dl;
    }
    pos += (size_t)n;
  }
  for (size_t i = 0; i < t.nfields; i++) {
    CHECK(strcmp(t.fields[i].name, "content-length") != 0);
    CHECK(strcmp(t.fields[i].name, "transfer-encoding") != 0);
    CHECK(strcmp(t.fields[i].name, "host") != 0);
  }
  r->ntrailers = t.nfields;
  r->consumed = pos;
  hb_head_free(&t);
}

static void fuzz_chunked(const uint8_t *buf, size_t len) {
  run a, b;
  chunked_run(buf, len, 0, &a);
  chunked_run(buf, len, 1, &b);
  CHECK(a.done == b.done && a.err == b.err);
  CHECK(a.out_len == b.out_len && memcmp(a.out, b.out, a.out_len) == 0);
  if (!a.err) CHECK(a.consumed == b.consumed && a.ntrailers == b.ntrailers);
  free(a.out);
  free(b.out);
}

static void check_fields(const hb_head *h) {
  for (size_t i = 0; i < h->nfields; i++) {
    const hb_field *f = &h->fields[i];
    CHECK(f->namelen > 0 && strlen(f->name) == f->namelen);
    for (size_t k = 0; k < f->namelen; k++) CHECK(!(f->name[k] >= 'A' && f->name[k] <= 'Z'));
    for (size_t k = 0; k < f->valuelen; k++) {
      unsigned char ch = (unsigned char)f->value[k];
      CHECK(ch == '\t' || (ch >= 0x20 && ch != 0x7f));
    }
    if (f->valuelen) {
      CHECK(f->value[0] != ' ' && f->value[0] != '\t');
      CHECK(f->value[f->valuelen - 1] != ' ' && f->value[f->valuelen - 1] != '\t');
    }
  }
}

static void fuzz_request(const uint8_t *buf, size_t len) {
  static const hb_h1_limits lim = {1024, 32};
  hb_h1_msg msg;
  hb_head h;
  int status = 0;
  const char *reason = NULL;
  hb_head_init(&h, 1);
  int rv = hb_h1_parse_request(buf, len, &lim, &msg, &h, &status, &reason);
  /* the pre-check never hides a result, and resuming it changes nothing */
  size_t s1 = 0, s2 = 0;
  int ready = hb_h1_head_ready(buf, len, &s1);
  int ready2 = hb_h1_head_ready(buf, len / 2, &s2);
  if (!ready2) ready2 = hb_h1_head_ready(buf, len, &s2);
  CHECK(ready == ready2 && s1 <= len);
  if (!ready) CHECK(rv == HB_ERR_INCOMPLETE || (rv == HB_ERR_TOO_LARGE && len >= lim.max_head_bytes));
  if (rv >= 0) {
    CHECK(rv > 0 && (size_t)rv <= len && (size_t)rv <= lim.max_head_bytes);
    CHECK(h.method != NULL && (h.path != NULL || h.authority != NULL) && h.scheme == NULL);
    CHECK(h.nfields <= lim.max_fields);
    CHECK(msg.version_minor == 0 || msg.version_minor == 1);
    CHECK(msg.version_minor == 0 || h.authority != NULL);
    if (msg.body == HB_H1_BODY_CHUNKED) CHECK(hb_head_get(&h, "content-length") == NULL);
    if (msg.body == HB_H1_BODY_LENGTH) CHECK(msg.content_length > 0 && hb_head_get(&h, "transfer-encoding") == NULL);
    CHECK(msg.body != HB_H1_BODY_EOF);
    check_fields(&h);
    /* the head delimits itself: the same bytes alone parse the same, and
     * every shorter prefix is incomplete */
    hb_h1_msg m2;
    hb_head h2;
    hb_head_init(&h2, 1);
    CHECK(hb_h1_parse_request(buf, (size_t)rv, &lim, &m2, &h2, &status, &reason) == rv);
    CHECK(m2.body == msg.body && m2.content_length == msg.content_length && h2.nfields == h.nfields);
    hb_head_free(&h2);
    hb_head_init(&h2, 1);
    CHECK(hb_h1_parse_request(buf, (size_t)rv - 1, &lim, &m2, &h2, &status, &reason) ==
          HB_ERR_INCOMPLETE);
    hb_head_free(&h2);
    if (msg.body == HB_H1_BODY_CHUNKED) fuzz_chunked(buf + rv, len - (size_t)rv);
  } else if (rv != HB_ERR_INCOMPLETE) {
    CHECK(rv == HB_ERR_PROTO || rv == HB_ERR_TOO_LARGE || rv == HB_ERR_NOMEM);
    CHECK(reason != NULL);
    CHECK(status == 400 || status == 431 || status == 500 || status == 501 || status == 505);
    CHECK(h.nfields == 0 && h.method == NULL && h.path == NULL && h.authority == NULL);
  } else {
    CHECK(len < lim.max_head_bytes);
  }
  hb_head_free(&h);
}

static void fuzz_response(const uint8_t *buf, size_t len, const char *method) {
  static const hb_h1_limits lim = {1024, 32};
  hb_h1_msg msg;
  hb_head h;
  const char *reason = NULL;
  hb_head_init(&h, 0);
  int rv = hb_h1_parse_response(buf, len, &lim, method, &msg, &h, &reason);
  if (rv >= 0) {
    CHECK(rv > 0 && (size_t)rv <= len);
    CHECK(h.status >= 100 && h.status <= 999);
    if (h.status < 200 || h.status == 204 || h.status == 304 || strcmp(method, "HEAD") == 0)
      CHECK(msg.body == HB_H1_BODY_NONE);
    if (msg.body == HB_H1_BODY_EOF) CHECK(!msg.keep_alive);
    check_fields(&h);
    hb_h1_msg m2;
    hb_head h2;
    hb_head_init(&h2, 0);
    CHECK(hb_h1_parse_response(buf, (size_t)rv - 1, &lim, method, &m2, &h2, &reason) ==
          HB_ERR_INCOMPLETE);
    hb_head_free(&h2);
    if (msg.body == HB_H1_BODY_CHUNKED) fuzz_chunked(buf + rv, len - (size_t)rv);
  } else if (rv != HB_ERR_INCOMPLETE) {
    CHECK(reason != NULL && h.nfields == 0 && h.status == 0);
  }
  hb_head_free(&h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const methods[] = {"GET", "HEAD", "CONNECT", "POST"};
  if (size < 1) return 0;
  uint8_t sel = data[0];
  data++;
  size--;
  switch (sel % 3) {
  case 0: fuzz_request(data, size); break;
  case 1: fuzz_response(data, size, methods[(sel / 3) % 4]); break;
  default: fuzz_chunked(data, size); break;
  }
  return 0;
}
