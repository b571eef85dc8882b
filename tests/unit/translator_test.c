/* translator_test.c: the plain HTTP head translation without sockets. */
#include <string.h>
#include <CUnit/CUnit.h>

#include "hb_test.h"
#include "translator.h"

static void add(hb_head *h, const char *n, const char *v) { hb_head_add(h, n, strlen(n), v, strlen(v)); }

static void test_request(void) {
  hb_head in, out;
  hb_head_init(&in, 1);
  hb_head_set_pseudo(&in, HB_PSEUDO_METHOD, "GET", 3);
  hb_head_set_pseudo(&in, HB_PSEUDO_PATH, "/a?b", 4);
  hb_head_set_pseudo(&in, HB_PSEUDO_SCHEME, "http", 4);
  add(&in, "host", "example.com:8080");
  add(&in, "connection", "keep-alive, x-hop");
  add(&in, "x-hop", "1");
  add(&in, "x-forwarded-for", "10.0.0.1");
  add(&in, "te", "trailers");
  add(&in, "cookie", "a=b");
  add(&in, "via", "1.0 fred");
  hb_translate_ctx ctx = {.upstream_tls = 1, .client_addr = "[::1]:5555", .x_forwarded_for = 1, .forwarded = 1,
                          .via = "2"};
  CU_ASSERT_EQUAL(hb_translate_request_plain(&in, &ctx, &out), 0);
  CU_ASSERT_STRING_EQUAL(out.scheme, "https");
  CU_ASSERT_STRING_EQUAL(out.authority, "example.com:8080");
  CU_ASSERT_PTR_NULL(hb_head_get(&out, "host"));
  CU_ASSERT_PTR_NULL(hb_head_get(&out, "x-hop"));
  CU_ASSERT_PTR_NULL(hb_head_get(&out, "connection"));
  CU_ASSERT_STRING_EQUAL(hb_head_get(&out, "te")->value, "trailers");
  CU_ASSERT_STRING_EQUAL(hb_head_get(&out, "cookie")->value, "a=b");
  CU_ASSERT_STRING_EQUAL(hb_head_get(&out, "x-forwarded-for")->value, "10.0.0.1, ::1");
  CU_ASSERT_STRING_EQUAL(hb_head_get(&out, "forwarded")->value, "for=\"[::1]\";proto=http");
  CU_ASSERT_STRING_EQUAL(hb_head_get(&out, "via")->value, "1.0 fred, 2 h2bridge");
  hb_head_free(&out);
  /* :authority wins over Host */
  hb_head_set_pseudo(&in, HB_PSEUDO_AUTHORITY, "a.test", 6);
  ctx.upstream_tls = 0;
  ctx.x_forwarded_for = ctx.forwarded = 0;
  ctx.via = NULL;
  CU_ASSERT_EQUAL(hb_translate_request_plain(&in, &ctx, &out), 0);
  CU_ASSERT_STRING_EQUAL(out.authority, "a.test");
  CU_ASSERT_STRING_EQUAL(out.scheme, "http");
  CU_ASSERT_STRING_EQUAL(hb_head_get(&out, "x-forwarded-for")->value, "10.0.0.1");
  CU_ASSERT_PTR_NULL(hb_head_get(&out, "forwarded"));
  hb_head_free(&out);
  hb_head_free(&in);
}

static void test_response(void) {
  hb_head in, out;
  hb_head_init(&in, 0);
  in.status = 200;
  in.content_length = 5;
  add(&in, "keep-alive", "timeout=5");
  add(&in, "content-type", "text/plain");
  CU_ASSERT_EQUAL(hb_translate_response_plain(&in, &out), 0);
  CU_ASSERT_EQUAL(out.status, 200);
  CU_ASSERT_EQUAL(out.content_length, 5);
  CU_ASSERT_PTR_NULL(hb_head_get(&out, "keep-alive"));
  CU_ASSERT_PTR_NOT_NULL(hb_head_get(&out, "content-type"));
  hb_head_free(&out);
  hb_head_free(&in);
}

int hb_test_translator(void) {
  CU_pSuite s = CU_add_suite("translator", NULL, NULL);
  if (!s || !CU_add_test(s, "request", test_request) || !CU_add_test(s, "response", test_response)) return -1;
  return 0;
}
