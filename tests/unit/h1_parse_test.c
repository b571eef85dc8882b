/* h1_parse_test.c: table-driven CUnit suite for the strict HTTP/1.1 parser
 * (bridge/h1_parse.c): request/response heads incl. every smuggling shape of
 * THREATS.md §1b, limits, prefixes fed byte by byte, the chunked decoder fed
 * whole, in two pieces and one byte at a time, and NOMEM at every allocation.
 * Owns its heads and frees them per case.  Single-threaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hb_test.h"

#include "errors.h"
#include "h1_parse.h"
#include "head.h"
#include "mem.h"

/* Assertion that names the table case in CUnit's failure report. */
#define CHECKC(cond, cname)                                                        \
  do {                                                                             \
    char m_[256];                                                                  \
    snprintf(m_, sizeof(m_), "[%s] %s", (cname), #cond);                           \
    CU_assertImplementation((cond) ? CU_TRUE : CU_FALSE, __LINE__, m_, __FILE__, "", \
                            CU_FALSE);                                             \
  } while (0)

static int streq_opt(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return strcmp(a, b) == 0;
}

/* ------------------------------------------------------------------ requests */

typedef struct req_case {
  const char *name;
  const char *raw;
  size_t rawlen;    /* 0: strlen(raw); set for inputs holding NUL */
  int rv;           /* 0: success, else the HB_ERR_* expected */
  int status;       /* expected *status on error */
  size_t extra;     /* success: bytes after the head in |raw| */
  int body;
  uint64_t cl;      /* msg->content_length */
  const char *method, *path, *authority;
  int keep_alive, upgrade, expect, minor;
} req_case;

#define OK_REQ(n, r, b, c, m, p, a, ka, up, ex, mi) \
  {n, r, 0, 0, 0, 0, b, c, m, p, a, ka, up, ex, mi}
#define OK_BODY(n, r, extra, b, c, m, p, a) {n, r, 0, 0, 0, extra, b, c, m, p, a, 1, 0, 0, 1}
#define BAD_REQ(n, r, st) {n, r, 0, HB_ERR_PROTO, st, 0, 0, 0, NULL, NULL, NULL, 0, 0, 0, 0}
#define BAD_REQ_NUL(n, r, st) {n, r, sizeof(r) - 1, HB_ERR_PROTO, st, 0, 0, 0, NULL, NULL, NULL, 0, 0, 0, 0}

#define H_ "Host: example.com\r\n"
#define NONE HB_H1_BODY_NONE
#define LEN HB_H1_BODY_LENGTH
#define CHK HB_H1_BODY_CHUNKED

static const req_case req_cases[] = {
    /* valid shapes */
    OK_REQ("get", "GET / HTTP/1.1\r\n" H_ "\r\n", NONE, 0, "GET", "/", "example.com", 1, 0, 0, 1),
    OK_REQ("get-query", "GET /a/b?c=d&e=%41 HTTP/1.1\r\n" H_ "\r\n", NONE, 0, "GET", "/a/b?c=d&e=%41",
           "example.com", 1, 0, 0, 1),
    OK_BODY("post-cl", "POST /submit HTTP/1.1\r\n" H_ "Content-Length: 5\r\n\r\nhello", 5, LEN, 5,
            "POST", "/submit", "example.com"),
    OK_BODY("post-chunked", "POST / HTTP/1.1\r\n" H_ "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 5,
            CHK, 0, "POST", "/", "example.com"),
    OK_REQ("te-leading-tab-ows", "POST / HTTP/1.1\r\n" H_ "Transfer-Encoding:\tchunked\r\n\r\n", CHK,
           0, "POST", "/", "example.com", 1, 0, 0, 1),
    OK_REQ("te-case-insensitive", "POST / HTTP/1.1\r\n" H_ "transfer-encoding: Chunked \r\n\r\n",
           CHK, 0, "POST", "/", "example.com", 1, 0, 0, 1),
    OK_REQ("cl-trailing-ows", "POST / HTTP/1.1\r\n" H_ "Content-Length: 5 \r\n\r\n", LEN, 5, "POST",
           "/", "example.com", 1, 0, 0, 1),
    OK_REQ("cl-list-identical", "POST / HTTP/1.1\r\n" H_ "Content-Length: 5, 5\r\n\r\n", LEN, 5,
           "POST", "/", "example.com", 1, 0, 0, 1),
    OK_REQ("cl-repeated-identical",
           "POST / HTTP/1.1\r\n" H_ "Content-Length: 7\r\nContent-Length: 7\r\n\r\n", LEN, 7, "POST",
           "/", "example.com", 1, 0, 0, 1),
    OK_REQ("cl-zero", "POST / HTTP/1.1\r\n" H_ "Content-Length: 0\r\n\r\n", NONE, 0, "POST", "/",
           "example.com", 1, 0, 0, 1),
    OK_REQ("cl-2^62", "POST / HTTP/1.1\r\n" H_ "Content-Length: 4611686018427387904\r\n\r\n", LEN,
           (uint64_t)1 << 62, "POST", "/", "example.com", 1, 0, 0, 1),
    OK_REQ("absolute-form", "GET http://Example.com:8080/a?b HTTP/1.1\r\nHost: other\r\n\r\n", NONE,
           0, "GET", "/a?b", "Example.com:8080", 1, 0, 0, 1),
    OK_REQ("absolute-form-https-no-path", "GET https://example.com HTTP/1.1\r\n" H_ "\r\n", NONE, 0,
           "GET", "/", "example.com", 1, 0, 0, 1),
    OK_REQ("absolute-form-query-only", "GET http://example.com?x=1 HTTP/1.1\r\n" H_ "\r\n", NONE, 0,
           "GET", "/?x=1", "example.com", 1, 0, 0, 1),
    OK_REQ("absolute-form-1.0-no-host", "GET http://h.test/ HTTP/1.0\r\n\r\n", NONE, 0, "GET", "/",
           "h.test", 0, 0, 0, 0),
    OK_REQ("options-asterisk", "OPTIONS * HTTP/1.1\r\n" H_ "\r\n", NONE, 0, "OPTIONS", "*",
           "example.com", 1, 0, 0, 1),
    OK_REQ("options-absolute-no-path", "OPTIONS http://example.com:81 HTTP/1.1\r\n" H_ "\r\n", NONE,
           0, "OPTIONS", "*", "example.com:81", 1, 0, 0, 1),
    OK_REQ("connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", NONE, 0,
           "CONNECT", NULL, "example.com:443", 1, 0, 0, 1),
    OK_REQ("connect-ipv6", "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n", NONE, 0,
           "CONNECT", NULL, "[::1]:443", 1, 0, 0, 1),
    OK_REQ("http10-no-host", "GET /x HTTP/1.0\r\n\r\n", NONE, 0, "GET", "/x", NULL, 0, 0, 0, 0),
    OK_REQ("http10-keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n" H_ "\r\n", NONE, 0,
           "GET", "/", "example.com", 1, 0, 0, 0),
    OK_REQ("http11-close", "GET / HTTP/1.1\r\n" H_ "Connection: close\r\n\r\n", NONE, 0, "GET", "/",
           "example.com", 0, 0, 0, 1),
    OK_REQ("websocket-upgrade",
           "GET /ws HTTP/1.1\r\n" H_ "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n",
           NONE, 0, "GET", "/ws", "example.com", 1, 1, 0, 1),
    OK_REQ("upgrade-without-connection-token", "GET / HTTP/1.1\r\n" H_ "Upgrade: websocket\r\n\r\n",
           NONE, 0, "GET", "/", "example.com", 1, 0, 0, 1),
    OK_REQ("upgrade-ignored-in-1.0",
           "GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n", NONE, 0, "GET",
           "/", NULL, 0, 0, 0, 0),
    OK_REQ("expect-continue",
           "PUT /f HTTP/1.1\r\n" H_ "Expect: 100-Continue\r\nContent-Length: 3\r\n\r\n", LEN, 3,
           "PUT", "/f", "example.com", 1, 0, 1, 1),
    OK_REQ("expect-ignored-in-1.0", "PUT /f HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", NONE, 0,
           "PUT", "/f", NULL, 0, 0, 0, 0),
    OK_REQ("one-leading-crlf", "\r\nGET / HTTP/1.1\r\n" H_ "\r\n", NONE, 0, "GET", "/",
           "example.com", 1, 0, 0, 1),
    OK_REQ("two-leading-crlf", "\r\n\r\nGET / HTTP/1.1\r\n" H_ "\r\n", NONE, 0, "GET", "/",
           "example.com", 1, 0, 0, 1),
    OK_REQ("empty-value-obs-text-tab",
           "GET / HTTP/1.1\r\n" H_ "X-Empty:\r\nX-Text: caf\xc3\xa9\r\nX-Tab: a\tb\r\n\r\n", NONE, 0,
           "GET", "/", "example.com", 1, 0, 0, 1),
    OK_REQ("extension-method", "PROPFIND /d HTTP/1.1\r\n" H_ "\r\n", NONE, 0, "PROPFIND", "/d",
           "example.com", 1, 0, 0, 1),

    /* request line */
    BAD_REQ("three-leading-crlf", "\r\n\r\n\r\nGET / HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("http2.0", "GET / HTTP/2.0\r\n" H_ "\r\n", 505),
    BAD_REQ("http1.2", "GET / HTTP/1.2\r\n" H_ "\r\n", 505),
    BAD_REQ("version-lowercase", "GET / http/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("version-trailing-sp", "GET / HTTP/1.1 \r\n" H_ "\r\n", 400),
    BAD_REQ("version-missing", "GET /\r\n\r\n", 400),
    BAD_REQ("double-sp", "GET  / HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("tab-separator", "GET\t/ HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("space-in-target", "GET /a b HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("method-not-token", "GE(T / HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("asterisk-not-options", "GET * HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("connect-origin-form", "CONNECT / HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("connect-no-port", "CONNECT example.com HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("connect-with-body", "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\nContent-Length: 5\r\n\r\n",
            400),
    BAD_REQ("authority-form-not-connect", "GET example.com:80 HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("fragment", "GET /a#frag HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("bad-pct", "GET /a%zz HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("truncated-pct", "GET /a% HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("backslash", "GET /a\\..\\b HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("non-ascii-target", "GET /caf\xc3\xa9 HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("absolute-ftp", "GET ftp://h/ HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("absolute-userinfo", "GET http://user@h/ HTTP/1.1\r\n" H_ "\r\n", 400),
    BAD_REQ("absolute-empty-host", "GET http:///x HTTP/1.1\r\n" H_ "\r\n", 400),
    /* Host */
    BAD_REQ("missing-host", "GET / HTTP/1.1\r\n\r\n", 400),
    BAD_REQ("absolute-form-missing-host", "GET http://h/ HTTP/1.1\r\n\r\n", 400),
    BAD_REQ("two-hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    BAD_REQ("host-with-space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    BAD_REQ("host-userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400),
    BAD_REQ("host-empty", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 400),
    BAD_REQ("host-bad-port", "GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", 400),
    BAD_REQ("host-pct-encoded", "GET / HTTP/1.1\r\nHost: %65xample.com\r\n\r\n", 400),
    BAD_REQ("host-port-too-long", "GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n", 400),
    BAD_REQ("host-empty-port", "GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 400),
    /* Transfer-Encoding / Content-Length smuggling shapes (THREATS.md §1b) */
    BAD_REQ("cl-and-te", "POST / HTTP/1.1\r\n" H_ "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            400),
    BAD_REQ("te-and-cl", "POST / HTTP/1.1\r\n" H_ "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
            400),
    BAD_REQ("te-xchunked", "POST / HTTP/1.1\r\n" H_ "Transfer-Encoding: xchunked\r\n\r\n", 501),
    BAD_REQ("te-chunked-identity", "POST / HTTP/1.1\r\n" H_ "Transfer-Encoding: chunked, identity\r\n\r\n",
            501),
    BAD_REQ("te-gzip-chunked", "POST / HTTP/1.1\r\n" H_ "Transfer-Encoding: gzip, chunked\r\n\r\n", 501),
    BAD_REQ("te-identity", "POST / HTTP/1.1\r\n" H_ "Transfer-Encoding: identity\r\n\r\n", 501),
    BAD_REQ("te-chunked-twice", "POST / HTTP/1.1\r\n" H_ "Transfer-Encoding: chunked, chunked\r\n\r\n",
            400),
    BAD_REQ("te-chunked-params", "POST / HTTP/1.1\r\n" H_ "Transfer-Encoding: chunked;q=1\r\n\r\n", 400),
    BAD_REQ("te-empty", "POST / HTTP/1.1\r\n" H_ "Transfer-Encoding:\r\n\r\n", 400),
    BAD_REQ("te-empty-element", "POST / HTTP/1.1\r\n" H_ "Transfer-Encoding: , chunked\r\n\r\n", 400),
    BAD_REQ("te-space-before-colon", "POST / HTTP/1.1\r\n" H_ "Transfer-Encoding : chunked\r\n\r\n", 400),
    BAD_REQ("te-duplicate",
            "POST / HTTP/1.1\r\n" H_ "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            400),
    BAD_REQ("te-in-http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    BAD_REQ("te-vertical-tab", "POST / HTTP/1.1\r\n" H_ "Transfer-Encoding: \vchunked\r\n\r\n", 400),
    BAD_REQ("cl-plus", "POST / HTTP/1.1\r\n" H_ "Content-Length: +5\r\n\r\n", 400),
    BAD_REQ("cl-minus", "POST / HTTP/1.1\r\n" H_ "Content-Length: -1\r\n\r\n", 400),
    BAD_REQ("cl-hex", "POST / HTTP/1.1\r\n" H_ "Content-Length: 0x5\r\n\r\n", 400),
    BAD_REQ("cl-list-differs", "POST / HTTP/1.1\r\n" H_ "Content-Length: 1,2\r\n\r\n", 400),
    BAD_REQ("cl-space-inside", "POST / HTTP/1.1\r\n" H_ "Content-Length: 5 5\r\n\r\n", 400),
    BAD_REQ("cl-empty", "POST / HTTP/1.1\r\n" H_ "Content-Length:\r\n\r\n", 400),
    BAD_REQ("cl-empty-element", "POST / HTTP/1.1\r\n" H_ "Content-Length: 5,\r\n\r\n", 400),
    BAD_REQ("cl-fields-differ", "POST / HTTP/1.1\r\n" H_ "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
            400),
    BAD_REQ("cl-20-digits", "POST / HTTP/1.1\r\n" H_ "Content-Length: 00000000000000000001\r\n\r\n", 400),
    BAD_REQ("cl-over-2^62", "POST / HTTP/1.1\r\n" H_ "Content-Length: 4611686018427387905\r\n\r\n", 400),
    BAD_REQ("cl-19-nines", "POST / HTTP/1.1\r\n" H_ "Content-Length: 9999999999999999999\r\n\r\n", 400),
    BAD_REQ("cl-huge", "POST / HTTP/1.1\r\n" H_ "Content-Length: 99999999999999999999999999\r\n\r\n", 400),
    /* line and field syntax */
    BAD_REQ("obs-fold", "GET / HTTP/1.1\r\n" H_ "X-A: a\r\n b\r\n\r\n", 400),
    BAD_REQ("obs-fold-tab", "GET / HTTP/1.1\r\n" H_ "X-A: a\r\n\tb\r\n\r\n", 400),
    BAD_REQ("ws-before-first-field", "GET / HTTP/1.1\r\n " H_ "\r\n", 400),
    BAD_REQ("bare-lf-request-line", "GET / HTTP/1.1\n" H_ "\r\n", 400),
    BAD_REQ("bare-lf-field", "GET / HTTP/1.1\r\n" H_ "X-A: a\n\r\n", 400),
    BAD_REQ("bare-lf-end", "GET / HTTP/1.1\r\n" H_ "\n", 400),
    BAD_REQ("bare-cr-field", "GET / HTTP/1.1\r\n" H_ "X-A: a\rb\r\n\r\n", 400),
    BAD_REQ("bare-cr-name", "GET / HTTP/1.1\r\n" H_ "X\r-A: a\r\n\r\n", 400),
    BAD_REQ_NUL("nul-in-value", "GET / HTTP/1.1\r\n" H_ "X-A: a\0b\r\n\r\n", 400),
    BAD_REQ_NUL("nul-in-name", "GET / HTTP/1.1\r\n" H_ "X\0A: ab\r\n\r\n", 400),
    BAD_REQ("ctl-in-value", "GET / HTTP/1.1\r\n" H_ "X-A: a\x01" "b\r\n\r\n", 400),
    BAD_REQ("del-in-value", "GET / HTTP/1.1\r\n" H_ "X-A: a\x7f" "b\r\n\r\n", 400),
    BAD_REQ("empty-field-name", "GET / HTTP/1.1\r\n" H_ ": x\r\n\r\n", 400),
    BAD_REQ("no-colon", "GET / HTTP/1.1\r\n" H_ "X-A\r\n\r\n", 400),
    BAD_REQ("non-token-name", "GET / HTTP/1.1\r\n" H_ "X(A): x\r\n\r\n", 400),
};

static void check_request_case(const req_case *tc) {
  size_t len = tc->rawlen ? tc->rawlen : strlen(tc->raw);
  const uint8_t *raw = (const uint8_t *)tc->raw;
  hb_h1_msg msg;
  hb_head head;
  int status = -1;
  const char *reason = NULL;

  hb_head_init(&head, 1);
  int rv = hb_h1_parse_request(raw, len, NULL, &msg, &head, &status, &reason);
  if (tc->rv == 0) {
    CHECKC(rv == (int)(len - tc->extra), tc->name);
    if (rv < 0) fprintf(stderr, "  %s: rv %d status %d reason %s\n", tc->name, rv, status, reason);
    CHECKC(msg.body == tc->body, tc->name);
    CHECKC(msg.content_length == tc->cl, tc->name);
    CHECKC(streq_opt(head.method, tc->method), tc->name);
    CHECKC(streq_opt(head.path, tc->path), tc->name);
    CHECKC(streq_opt(head.authority, tc->authority), tc->name);
    CHECKC(head.scheme == NULL, tc->name);
    CHECKC(msg.keep_alive == tc->keep_alive, tc->name);
    CHECKC(msg.upgrade == tc->upgrade, tc->name);
    CHECKC(msg.expect_continue == tc->expect, tc->name);
    CHECKC(msg.version_minor == tc->minor, tc->name);
    CHECKC(status == -1 && reason == NULL, tc->name);
  } else {
    CHECKC(rv == tc->rv, tc->name);
    CHECKC(status == tc->status, tc->name);
    CHECKC(reason != NULL, tc->name);
    CHECKC(head.nfields == 0 && head.method == NULL, tc->name);
    if (rv != tc->rv || status != tc->status)
      fprintf(stderr, "  %s: rv %d status %d reason %s\n", tc->name, rv, status, reason);
  }
  hb_head_free(&head);

  /* Every proper prefix: never a success; for valid heads always INCOMPLETE. */
  size_t upto = tc->rv == 0 ? len - tc->extra : len;
  for (size_t k = 0; k < upto; k++) {
    hb_head_init(&head, 1);
    status = -1;
    rv = hb_h1_parse_request(raw, k, NULL, &msg, &head, &status, &reason);
    if (tc->rv == 0) CHECKC(rv == HB_ERR_INCOMPLETE && head.nfields == 0 && status == -1, tc->name);
    else CHECKC(rv < 0, tc->name);
    hb_head_free(&head);
  }
}

static void test_request_table(void) {
  for (size_t i = 0; i < HB_ARRAY_LEN(req_cases); i++) check_request_case(&req_cases[i]);
}

static void test_request_fields(void) {
  static const char raw[] = "POST /p HTTP/1.1\r\nHOST: example.com\r\nX-Pad:  \t v a l \t \r\n"
                            "Content-Length: 5, 5\r\nContent-Length: 05\r\n\r\n";
  hb_h1_msg msg;
  hb_head head;
  int status = 0;
  const char *reason = NULL;
  hb_head_init(&head, 1);
  int rv = hb_h1_parse_request((const uint8_t *)raw, sizeof(raw) - 1, NULL, &msg, &head, &status,
                               &reason);
  CU_ASSERT_EQUAL(rv, (int)sizeof(raw) - 1);
  const hb_field *f = hb_head_get(&head, "x-pad");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_STRING_EQUAL(f->value, "v a l"); /* OWS trimmed, inner kept */
  CU_ASSERT_PTR_NOT_NULL(hb_head_get(&head, "host"));
  /* repeated/list Content-Length is forwarded as one canonical value */
  CU_ASSERT_EQUAL(hb_head_remove(&head, "content-length"), 1);
  CU_ASSERT_EQUAL(head.content_length, 5);
  hb_head_free(&head);

  /* a single canonical Content-Length stays where it was */
  static const char raw2[] = "POST / HTTP/1.1\r\nContent-Length: 12\r\nHost: h\r\n\r\n";
  hb_head_init(&head, 1);
  rv = hb_h1_parse_request((const uint8_t *)raw2, sizeof(raw2) - 1, NULL, &msg, &head, &status,
                           &reason);
  CU_ASSERT_EQUAL(rv, (int)sizeof(raw2) - 1);
  CU_ASSERT_EQUAL_FATAL(head.nfields, 2);
  CU_ASSERT_STRING_EQUAL(head.fields[0].name, "content-length");
  CU_ASSERT_STRING_EQUAL(head.fields[0].value, "12");
  hb_head_free(&head);

  /* pipelined: the return value stops at the end of the first head */
  static const char raw3[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n";
  hb_head_init(&head, 1);
  rv = hb_h1_parse_request((const uint8_t *)raw3, sizeof(raw3) - 1, NULL, &msg, &head, &status,
                           &reason);
  CU_ASSERT_EQUAL(rv, 28);
  CU_ASSERT_STRING_EQUAL(head.path, "/1");
  hb_head_free(&head);
}

static void test_request_limits(void) {
  static const char raw[] = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
  size_t len = sizeof(raw) - 1; /* 47 */
  hb_h1_msg msg;
  hb_head head;
  int status;
  const char *reason;
  hb_h1_limits lim = {len, 4};

  /* exactly at the byte limit and the field limit: fine */
  hb_head_init(&head, 1);
  CU_ASSERT_EQUAL(hb_h1_parse_request((const uint8_t *)raw, len, &lim, &msg, &head, &status, &reason),
                  (int)len);
  hb_head_free(&head);
  /* one field too many */
  lim.max_fields = 3;
  status = 0;
  hb_head_init(&head, 1);
  CU_ASSERT_EQUAL(hb_h1_parse_request((const uint8_t *)raw, len, &lim, &msg, &head, &status, &reason),
                  HB_ERR_TOO_LARGE);
  CU_ASSERT_EQUAL(status, 431);
  hb_head_free(&head);
  /* one byte over the head limit, complete or not */
  lim.max_fields = 100;
  lim.max_head_bytes = len - 1;
  for (size_t k = len - 1; k <= len; k++) {
    status = 0;
    hb_head_init(&head, 1);
    CU_ASSERT_EQUAL(hb_h1_parse_request((const uint8_t *)raw, k, &lim, &msg, &head, &status, &reason),
                    HB_ERR_TOO_LARGE);
    CU_ASSERT_EQUAL(status, 431);
    hb_head_free(&head);
  }
  /* below the limit and incomplete: wait */
  hb_head_init(&head, 1);
  CU_ASSERT_EQUAL(hb_h1_parse_request((const uint8_t *)raw, len - 2, &lim, &msg, &head, &status,
                                      &reason),
                  HB_ERR_INCOMPLETE);
  hb_head_free(&head);
  /* a never-ending field line hits the limit */
  char big[300];
  memset(big, 'a', sizeof(big));
  memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
  lim.max_head_bytes = 256;
  status = 0;
  hb_head_init(&head, 1);
  CU_ASSERT_EQUAL(hb_h1_parse_request((const uint8_t *)big, sizeof(big), &lim, &msg, &head, &status,
                                      &reason),
                  HB_ERR_TOO_LARGE);
  CU_ASSERT_EQUAL(status, 431);
  hb_head_free(&head);
  /* a bare LF is refused before the head is complete */
  static const char early[] = "GET / HTTP/1.1\nHost";
  hb_head_init(&head, 1);
  CU_ASSERT_EQUAL(hb_h1_parse_request((const uint8_t *)early, sizeof(early) - 1, NULL, &msg, &head,
                                      &status, &reason),
                  HB_ERR_PROTO);
  hb_head_free(&head);
  /* ... and so is a bare CR */
  static const char early_cr[] = "GET / HTTP/1.1\r\nX: a\rb";
  hb_head_init(&head, 1);
  CU_ASSERT_EQUAL(hb_h1_parse_request((const uint8_t *)early_cr, sizeof(early_cr) - 1, NULL, &msg,
                                      &head, &status, &reason),
                  HB_ERR_PROTO);
  hb_head_free(&head);
}

/* hb_h1_head_ready says "parse now" exactly when the parser can conclude
 * something other than INCOMPLETE, whatever the read sizes. */
static void test_head_ready(void) {
  for (size_t i = 0; i < HB_ARRAY_LEN(req_cases); i++) {
    const req_case *tc = &req_cases[i];
    size_t len = tc->rawlen ? tc->rawlen : strlen(tc->raw);
    for (size_t step = 1; step <= 7; step += 3) {
      size_t scanned = 0, have = 0;
      int ready = 0;
      while (!ready && have < len) {
        have = HB_MIN(len, have + step);
        ready = hb_h1_head_ready((const uint8_t *)tc->raw, have, &scanned);
        CHECKC(scanned <= have, tc->name);
        if (!ready) {
          hb_h1_msg msg;
          hb_head head;
          int status;
          const char *reason;
          hb_head_init(&head, 1);
          CHECKC(hb_h1_parse_request((const uint8_t *)tc->raw, have, NULL, &msg, &head, &status,
                                     &reason) == HB_ERR_INCOMPLETE,
                 tc->name);
          hb_head_free(&head);
        }
      }
      CHECKC(ready, tc->name);
    }
  }
  size_t scanned = 0;
  CU_ASSERT_EQUAL(hb_h1_head_ready((const uint8_t *)"GET / HTTP/1.1\r", 15, &scanned), 0);
  CU_ASSERT_EQUAL(scanned, 14); /* the CR is looked at again */
  CU_ASSERT_EQUAL(hb_h1_head_ready((const uint8_t *)"GET / HTTP/1.1\rX", 16, &scanned), 1);
}

/* ----------------------------------------------------------------- responses */

typedef struct resp_case {
  const char *name;
  const char *raw;
  const char *method;
  int ok;
  size_t extra;
  int status, body;
  uint64_t cl;
  int64_t head_cl;
  int keep_alive, upgrade;
} resp_case;

#define OK_RESP(n, r, m, extra, st, b, cl, hcl, ka, up) {n, r, m, 1, extra, st, b, cl, hcl, ka, up}
#define BAD_RESP(n, r, m) {n, r, m, 0, 0, 0, 0, 0, -1, 0, 0}

static const resp_case resp_cases[] = {
    OK_RESP("200-cl", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", "GET", 3, 200, LEN, 3, 3, 1,
            0),
    OK_RESP("200-no-reason-no-sp", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "GET", 0, 200, NONE,
            0, 0, 1, 0),
    OK_RESP("200-empty-reason", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", "GET", 0, 200, NONE, 0,
            0, 1, 0),
    OK_RESP("200-chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "POST", 0, 200,
            CHK, 0, -1, 1, 0),
    OK_RESP("200-eof", "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", "GET", 0, 200, HB_H1_BODY_EOF, 0, -1,
            0, 0),
    OK_RESP("http10-eof", "HTTP/1.0 200 OK\r\n\r\n", "GET", 0, 200, HB_H1_BODY_EOF, 0, -1, 0, 0),
    OK_RESP("http10-keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
            "GET", 0, 200, LEN, 1, 1, 1, 0),
    OK_RESP("close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", "GET", 0,
            200, LEN, 1, 1, 0, 0),
    OK_RESP("204", "HTTP/1.1 204 No Content\r\n\r\n", "DELETE", 0, 204, NONE, 0, -1, 1, 0),
    OK_RESP("304-with-cl", "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", "GET", 0, 304,
            NONE, 0, 10, 1, 0),
    OK_RESP("head-with-cl", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "HEAD", 0, 200, NONE, 0,
            10, 1, 0),
    OK_RESP("head-with-te", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD", 0, 200,
            NONE, 0, -1, 1, 0),
    OK_RESP("100-continue", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", "PUT", 17, 100, NONE,
            0, -1, 1, 0),
    OK_RESP("101-upgrade", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            "GET", 0, 101, NONE, 0, -1, 1, 1),
    OK_RESP("connect-200", "HTTP/1.1 200 Connection Established\r\n\r\n", "CONNECT", 0, 200, NONE, 0,
            -1, 1, 0),
    OK_RESP("connect-407", "HTTP/1.1 407 Auth\r\nContent-Length: 2\r\n\r\nno", "CONNECT", 2, 407, LEN,
            2, 2, 1, 0),
    OK_RESP("null-method", "HTTP/1.1 999 Whatever\r\nContent-Length: 1\r\n\r\n", NULL, 0, 999, LEN, 1,
            1, 1, 0),
    BAD_RESP("cl-and-te", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
             "GET"),
    BAD_RESP("te-gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "GET"),
    BAD_RESP("te-gzip-chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "GET"),
    BAD_RESP("te-http10", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET"),
    BAD_RESP("te-duplicate", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
             "GET"),
    BAD_RESP("cl-differs", "HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n", "GET"),
    BAD_RESP("two-digit-status", "HTTP/1.1 20 OK\r\n\r\n", "GET"),
    BAD_RESP("status-below-100", "HTTP/1.1 099 X\r\n\r\n", "GET"),
    BAD_RESP("four-digit-status", "HTTP/1.1 2000 OK\r\n\r\n", "GET"),
    BAD_RESP("no-sp-before-reason", "HTTP/1.1 200OK\r\n\r\n", "GET"),
    BAD_RESP("http2", "HTTP/2 200\r\n\r\n", "GET"),
    BAD_RESP("http1.2", "HTTP/1.2 200 OK\r\n\r\n", "GET"),
    BAD_RESP("leading-crlf", "\r\nHTTP/1.1 200 OK\r\n\r\n", "GET"),
    BAD_RESP("bare-lf", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", "GET"),
    BAD_RESP("ctl-in-reason", "HTTP/1.1 200 O\x01K\r\n\r\n", "GET"),
    BAD_RESP("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "GET"),
};

static void test_response_table(void) {
  for (size_t i = 0; i < HB_ARRAY_LEN(resp_cases); i++) {
    const resp_case *tc = &resp_cases[i];
    size_t len = strlen(tc->raw);
    hb_h1_msg msg;
    hb_head head;
    const char *reason = NULL;
    hb_head_init(&head, 0);
    int rv = hb_h1_parse_response((const uint8_t *)tc->raw, len, NULL, tc->method, &msg, &head,
                                  &reason);
    if (tc->ok) {
      CHECKC(rv == (int)(len - tc->extra), tc->name);
      if (rv < 0) fprintf(stderr, "  %s: rv %d reason %s\n", tc->name, rv, reason);
      CHECKC(head.status == tc->status, tc->name);
      CHECKC(msg.body == tc->body, tc->name);
      CHECKC(msg.content_length == tc->cl, tc->name);
      CHECKC(head.content_length == tc->head_cl, tc->name);
      CHECKC(msg.keep_alive == tc->keep_alive, tc->name);
      CHECKC(msg.upgrade == tc->upgrade, tc->name);
    } else {
      CHECKC(rv == HB_ERR_PROTO, tc->name);
      CHECKC(reason != NULL, tc->name);
      CHECKC(head.nfields == 0 && head.status == 0, tc->name);
    }
    hb_head_free(&head);
    size_t upto = tc->ok ? len - tc->extra : len;
    for (size_t k = 0; k < upto; k++) {
      hb_head_init(&head, 0);
      rv = hb_h1_parse_response((const uint8_t *)tc->raw, k, NULL, tc->method, &msg, &head, &reason);
      if (tc->ok) CHECKC(rv == HB_ERR_INCOMPLETE, tc->name);
      else CHECKC(rv < 0, tc->name);
      hb_head_free(&head);
    }
  }
}

/* ------------------------------------------------------------------- chunked */

typedef struct chunk_case {
  const char *name;
  const char *raw;  /* NULL: built by the test */
  int ok;           /* 1: done, 0: error, 2: incomplete (needs more) */
  const char *data; /* decoded body (ok/incomplete) */
  size_t consumed;  /* ok: bytes up to the end of the body (0: all of raw) */
  const char *trailers; /* "name=value;" for each trailer kept */
  size_t max_trailer;
} chunk_case;

#define CH_OK(n, r, d, t) {n, r, 1, d, 0, t, 256}
#define CH_BAD(n, r) {n, r, 0, NULL, 0, NULL, 256}

static const chunk_case chunk_cases[] = {
    CH_OK("one-chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", ""),
    CH_OK("empty-body", "0\r\n\r\n", "", ""),
    CH_OK("three-chunks", "3\r\nabc\r\n2\r\nde\r\n1\r\nf\r\n0\r\n\r\n", "abcdef", ""),
    CH_OK("uppercase-hex", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789", ""),
    CH_OK("lowercase-hex-leading-zeros", "00b\r\nhello world\r\n000\r\n\r\n", "hello world", ""),
    CH_OK("crlf-in-data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n", ""),
    CH_OK("extensions", "5;a=b;c;d=\"q\\\"x;y\"\r\nhello\r\n0;last\r\n\r\n", "hello", ""),
    CH_OK("extensions-bws", "5 ;a = b ; c\r\nhello\r\n0\r\n\r\n", "hello", ""),
    CH_OK("trailers", "3\r\nabc\r\n0\r\nX-Checksum: 900150983cd24fb0\r\nX-B:\t2 \r\n\r\n", "abc",
          "x-checksum=900150983cd24fb0;x-b=2;"),
    CH_OK("forbidden-trailers-dropped",
          "0\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nHost: evil\r\nConnection: close\r\n"
          "TE: trailers\r\nX-Keep: 1\r\nTrailer: x\r\n\r\n",
          "", "x-keep=1;"),
    {"stops-after-body", "2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n", 1, "hi", 12, "", 256},
    {"incomplete-data", "5\r\nhel", 2, "hel", 0, NULL, 256},
    {"incomplete-trailer", "0\r\nX-A: 1\r\n", 2, "", 0, NULL, 256},
    {"incomplete-final-crlf", "1\r\na\r\n0\r\n\r", 2, "a", 0, NULL, 256},
    CH_BAD("size-overflow", "ffffffffffffffff1\r\n"),
    CH_BAD("size-16-digits", "0000000000000001\r\nx\r\n0\r\n\r\n"),
    CH_BAD("size-empty", "\r\nhello\r\n"),
    CH_BAD("size-not-hex", "g\r\n"),
    CH_BAD("size-minus", "-5\r\nhello\r\n0\r\n\r\n"),
    CH_BAD("size-0x", "0x5\r\nhello\r\n0\r\n\r\n"),
    CH_BAD("size-trailing-ws", "5 \r\nhello\r\n0\r\n\r\n"),
    CH_BAD("size-leading-ws", " 5\r\nhello\r\n0\r\n\r\n"),
    CH_BAD("size-bare-lf", "5\nhello\r\n0\r\n\r\n"),
    CH_BAD("size-bare-cr", "5\rhello\r\n0\r\n\r\n"),
    CH_BAD("data-missing-crlf", "5\r\nhelloX\r\n0\r\n\r\n"),
    CH_BAD("data-bare-lf", "5\r\nhello\n0\r\n\r\n"),
    CH_BAD("data-bare-cr", "5\r\nhello\r0\r\n\r\n"),
    CH_BAD("data-longer-than-size", "3\r\nhello\r\n0\r\n\r\n"),
    CH_BAD("ext-empty-name", "5;\r\nhello\r\n0\r\n\r\n"),
    CH_BAD("ext-empty-value", "5;a=\r\nhello\r\n0\r\n\r\n"),
    CH_BAD("ext-bws-before-cr", "5;a=b \r\nhello\r\n0\r\n\r\n"),
    CH_BAD("ext-bare-lf", "5;a\nhello\r\n0\r\n\r\n"),
    CH_BAD("ext-lf-in-quoted", "5;a=\"x\ny\"\r\nhello\r\n0\r\n\r\n"),
    CH_BAD("ext-junk-after-quote", "5;a=\"x\"y\r\nhello\r\n0\r\n\r\n"),
    CH_BAD("last-chunk-bare-lf", "0\n\r\n"),
    CH_BAD("trailer-bare-lf", "0\r\nX-A: 1\n\r\n"),
    CH_BAD("trailer-obs-fold", "0\r\nX-A: 1\r\n 2\r\n\r\n"),
    CH_BAD("trailer-space-before-colon", "0\r\nX-A : 1\r\n\r\n"),
    CH_BAD("trailer-nul", "0\r\nX-A: \x01\r\n\r\n"),
    CH_BAD("end-bare-cr", "0\r\n\r\r"),
    CH_BAD("end-bare-lf", "0\r\n\n"),
    {"trailer-section-too-large", "0\r\nX-A: 0123456789\r\nX-B: 0123456789\r\n\r\n", 0, NULL, 0, NULL,
     20},
    {"no-trailers-allowed", "0\r\nX-A: 1\r\n\r\n", 0, NULL, 0, NULL, 0},
};

typedef struct chunk_out {
  char data[8192];
  size_t data_len;
  size_t consumed;
  int done, err;
} chunk_out;

/* Feeds |raw| in pieces of at most |step| bytes (0: whole), and |split| marks
 * one extra cut (0: none), looping on each piece until it is consumed. */
static void chunk_run(const uint8_t *raw, size_t len, size_t step, size_t split, size_t max_trailer,
                      hb_head *trailers, chunk_out *out) {
  hb_h1_chunked c;
  hb_h1_chunked_init(&c, max_trailer);
  memset(out, 0, sizeof(*out));
  size_t pos = 0;
  while (pos < len && !out->done && !out->err) {
    size_t end = step ? HB_MIN(len, pos + step) : len;
    if (split && pos < split && end > split) end = split;
    while (pos < end && !out->done) {
      const uint8_t *d;
      size_t dl;
      const char *reason = NULL;
      ssize_t n = hb_h1_chunked_feed(&c, raw + pos, end - pos, &d, &dl, trailers, &out->done, &reason);
      if (n < 0) {
        out->err = (int)n;
        CU_ASSERT_PTR_NOT_NULL(reason);
        /* errors are sticky */
        CU_ASSERT(hb_h1_chunked_feed(&c, raw, len, &d, &dl, NULL, &out->done, &reason) < 0);
        break;
      }
      if (dl) {
        CU_ASSERT(d >= raw + pos && d + dl <= raw + pos + (size_t)n);
        if (out->data_len + dl <= sizeof(out->data)) memcpy(out->data + out->data_len, d, dl);
        out->data_len += dl;
      }
      if (n == 0 && !out->done) { /* no progress without data: must not happen */
        CU_FAIL("chunked decoder made no progress");
        out->err = -100;
        break;
      }
      pos += (size_t)n;
    }
  }
  out->consumed = pos;
}

static void trailers_str(const hb_head *t, char *buf, size_t cap) {
  size_t n = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < t->nfields; i++)
    n += (size_t)snprintf(buf + n, n < cap ? cap - n : 0, "%s=%s;", t->fields[i].name,
                          t->fields[i].value);
}

static void check_chunk_case(const char *name, const uint8_t *raw, size_t len, int ok,
                             const char *data, size_t consumed, const char *trailers,
                             size_t max_trailer) {
  /* whole, one byte at a time, 3 at a time, and every two-piece split */
  size_t modes = 3 + (len > 1 ? len - 1 : 0);
  for (size_t m = 0; m < modes; m++) {
    size_t step = m == 0 ? 0 : m == 1 ? 1 : m == 2 ? 3 : 0;
    size_t split = m >= 3 ? m - 2 : 0;
    chunk_out out;
    hb_head t;
    hb_head_init(&t, 0);
    chunk_run(raw, len, step, split, max_trailer, &t, &out);
    if (ok == 1) {
      CHECKC(out.done && !out.err, name);
      CHECKC(out.consumed == (consumed ? consumed : len), name);
      CHECKC(out.data_len == strlen(data) && memcmp(out.data, data, out.data_len) == 0, name);
      char tb[512];
      trailers_str(&t, tb, sizeof(tb));
      CHECKC(strcmp(tb, trailers) == 0, name);
    } else if (ok == 2) {
      CHECKC(!out.done && !out.err && out.consumed == len, name);
      CHECKC(out.data_len == strlen(data) && memcmp(out.data, data, out.data_len) == 0, name);
    } else {
      CHECKC(out.err == HB_ERR_PROTO && !out.done, name);
    }
    hb_head_free(&t);
  }
}

static void test_chunked_table(void) {
  for (size_t i = 0; i < HB_ARRAY_LEN(chunk_cases); i++) {
    const chunk_case *tc = &chunk_cases[i];
    check_chunk_case(tc->name, (const uint8_t *)tc->raw, strlen(tc->raw), tc->ok, tc->data,
                     tc->consumed, tc->trailers, tc->max_trailer);
  }
}

static void test_chunked_limits(void) {
  /* extensions: a line of exactly HB_H1_CHUNK_LINE_MAX bytes (CR included) is
   * accepted, one more byte is not */
  size_t cap = HB_H1_CHUNK_LINE_MAX + 64;
  char *buf = malloc(cap);
  CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
  for (int extra = 0; extra <= 1; extra++) {
    size_t n = 0;
    buf[n++] = '1';
    buf[n++] = ';';
    buf[n++] = 'e';
    buf[n++] = '=';
    while (n < HB_H1_CHUNK_LINE_MAX - 1 + (size_t)extra) buf[n++] = 'x';
    memcpy(buf + n, "\r\na\r\n0\r\n\r\n", 10);
    n += 10;
    chunk_out out;
    chunk_run((const uint8_t *)buf, n, 0, 0, 0, NULL, &out);
    CU_ASSERT_EQUAL(out.done, !extra);
    CU_ASSERT_EQUAL(out.err, extra ? HB_ERR_PROTO : 0);
    chunk_run((const uint8_t *)buf, n, 1, 0, 0, NULL, &out);
    CU_ASSERT_EQUAL(out.done, !extra);
  }
  /* a trailer line longer than the line buffer */
  size_t n = 0;
  memcpy(buf, "0\r\nX: ", 6);
  n = 6;
  while (n < 3 + sizeof(((hb_h1_chunked *)0)->tbuf) + 1) buf[n++] = 'v';
  memcpy(buf + n, "\r\n\r\n", 4);
  n += 4;
  chunk_out out;
  chunk_run((const uint8_t *)buf, n, 0, 0, 1 << 20, NULL, &out);
  CU_ASSERT_EQUAL(out.err, HB_ERR_PROTO);
  /* one exactly at the buffer size fits */
  n = 6;
  while (n < 3 + sizeof(((hb_h1_chunked *)0)->tbuf)) buf[n++] = 'v';
  memcpy(buf + n, "\r\n\r\n", 4);
  n += 4;
  chunk_run((const uint8_t *)buf, n, 1, 0, 1 << 20, NULL, &out);
  CU_ASSERT_EQUAL(out.done, 1);
  free(buf);

  /* 15 hex digits is the largest size accepted; the decoder then waits for data */
  static const char big[] = "fffffffffffffff\r\nabc";
  hb_h1_chunked c;
  const uint8_t *d;
  size_t dl;
  int done;
  const char *reason;
  hb_h1_chunked_init(&c, 0);
  ssize_t r = hb_h1_chunked_feed(&c, (const uint8_t *)big, sizeof(big) - 1, &d, &dl, NULL, &done,
                                 &reason);
  CU_ASSERT_EQUAL(r, (ssize_t)sizeof(big) - 1);
  CU_ASSERT_EQUAL(dl, 3);
  CU_ASSERT_EQUAL(c.remaining, 0xfffffffffffffffULL - 3);
  CU_ASSERT_STRING_EQUAL(hb_h1_chunked_state_str(&c), "data");
  /* an error right after data: the span comes first, the error next call,
   * with the same reason every time after */
  hb_h1_chunked_init(&c, 0);
  r = hb_h1_chunked_feed(&c, (const uint8_t *)"5\r\nhelloX", 9, &d, &dl, NULL, &done, &reason);
  CU_ASSERT(r == 8 && dl == 5 && memcmp(d, "hello", 5) == 0 && !done);
  reason = NULL;
  r = hb_h1_chunked_feed(&c, (const uint8_t *)"X", 1, &d, &dl, NULL, &done, &reason);
  CU_ASSERT(r == HB_ERR_PROTO && dl == 0 && !done);
  CU_ASSERT_PTR_NOT_NULL_FATAL(reason);
  CU_ASSERT_STRING_EQUAL(reason, "missing CRLF after chunk data");
  CU_ASSERT_STRING_EQUAL(hb_h1_chunked_state_str(&c), "error");
  /* once done, further input is not consumed */
  hb_h1_chunked_init(&c, 0);
  r = hb_h1_chunked_feed(&c, (const uint8_t *)"0\r\n\r\n", 5, &d, &dl, NULL, &done, &reason);
  CU_ASSERT(r == 5 && done == 1);
  r = hb_h1_chunked_feed(&c, (const uint8_t *)"5\r\n", 3, &d, &dl, NULL, &done, &reason);
  CU_ASSERT(r == 0 && done == 1 && dl == 0);
}

/* ------------------------------------------------------------- NOMEM paths */

static size_t fail_after, nallocs;
static void *fm_malloc(size_t size, void *ud) {
  (void)ud;
  if (nallocs++ >= fail_after) return NULL;
  return malloc(size);
}
static void fm_free(void *p, void *ud) {
  (void)ud;
  free(p);
}
static void *fm_realloc(void *p, size_t size, void *ud) {
  (void)ud;
  if (nallocs++ >= fail_after) return NULL;
  return realloc(p, size);
}

static void test_nomem(void) {
  static const hb_mem fm = {fm_malloc, fm_free, fm_realloc, NULL};
  static const char req[] = "POST http://h/x HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n"
                            "X-A: 1\r\n\r\n";
  static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n";
  static const char chunked[] = "1\r\na\r\n0\r\nX-A: 1\r\nX-B: 2\r\n\r\n";
  int req_ok = 0, resp_ok = 0, ch_ok = 0;
  for (fail_after = 0; fail_after < 64 && !(req_ok && resp_ok && ch_ok); fail_after++) {
    hb_h1_msg msg;
    hb_head head;
    int status = 0;
    const char *reason = NULL;
    hb_mem_set(&fm);
    nallocs = 0;
    hb_head_init(&head, 1);
    int rv = hb_h1_parse_request((const uint8_t *)req, sizeof(req) - 1, NULL, &msg, &head, &status,
                                 &reason);
    CU_ASSERT(rv == (int)sizeof(req) - 1 || (rv == HB_ERR_NOMEM && status == 500));
    if (rv > 0) req_ok = 1;
    hb_head_free(&head);

    nallocs = 0;
    hb_head_init(&head, 0);
    rv = hb_h1_parse_response((const uint8_t *)resp, sizeof(resp) - 1, NULL, "GET", &msg, &head,
                              &reason);
    CU_ASSERT(rv == (int)sizeof(resp) - 1 || rv == HB_ERR_NOMEM);
    if (rv > 0) resp_ok = 1;
    hb_head_free(&head);

    nallocs = 0;
    hb_head_init(&head, 0);
    chunk_out out;
    chunk_run((const uint8_t *)chunked, sizeof(chunked) - 1, 0, 0, 256, &head, &out);
    CU_ASSERT(out.done || out.err == HB_ERR_NOMEM);
    if (out.done) ch_ok = 1;
    hb_head_free(&head);
    hb_mem_set(NULL);
  }
  CU_ASSERT(req_ok && resp_ok && ch_ok);
}

int hb_test_h1_parse(void) {
  CU_pSuite s = CU_add_suite("h1_parse", NULL, NULL);
  if (!s) return -1;
  if (!CU_add_test(s, "request table", test_request_table) ||
      !CU_add_test(s, "request fields", test_request_fields) ||
      !CU_add_test(s, "request limits", test_request_limits) ||
      !CU_add_test(s, "head ready", test_head_ready) ||
      !CU_add_test(s, "response table", test_response_table) ||
      !CU_add_test(s, "chunked table", test_chunked_table) ||
      !CU_add_test(s, "chunked limits", test_chunked_limits) ||
      !CU_add_test(s, "nomem", test_nomem))
    return -1;
  return 0;
}
