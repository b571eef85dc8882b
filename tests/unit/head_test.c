/* head_test.c: neutral heads: fields, lower-casing, hop-by-hop removal. */
#include <string.h>
#include <CUnit/CUnit.h>

#include "head.h"
#include "hb_test.h"

static void add(hb_head *h, const char *n, const char *v) { hb_head_add(h, n, strlen(n), v, strlen(v)); }

static void test_fields(void) {
  hb_head h;
  hb_head_init(&h, 1);
  add(&h, "Content-Type", "text/plain");
  add(&h, "X-A", "1");
  add(&h, "x-a", "2");
  CU_ASSERT_STRING_EQUAL(hb_head_get(&h, "content-type")->value, "text/plain");
  CU_ASSERT_EQUAL(hb_head_remove(&h, "x-a"), 2);
  CU_ASSERT_EQUAL(h.nfields, 1);
  CU_ASSERT_PTR_NULL(hb_head_get(&h, "x-a"));
  hb_head_set_pseudo(&h, HB_PSEUDO_PATH, "/p", 2);
  hb_head copy;
  CU_ASSERT_EQUAL(hb_head_copy(&copy, &h), 0);
  CU_ASSERT_STRING_EQUAL(copy.path, "/p");
  CU_ASSERT_EQUAL(copy.nfields, 1);
  hb_head_free(&copy);
  hb_head_free(&h);
}

static void test_hop_by_hop(void) {
  hb_head h;
  hb_head_init(&h, 1);
  add(&h, "connection", "keep-alive, X-Secret");
  add(&h, "keep-alive", "timeout=5");
  add(&h, "x-secret", "s");
  add(&h, "transfer-encoding", "chunked");
  add(&h, "upgrade", "foo");
  add(&h, "te", "trailers, deflate");
  add(&h, "proxy-connection", "close");
  add(&h, "x-keep", "yes");
  hb_head_strip_hop_by_hop(&h, 1);
  CU_ASSERT_PTR_NULL(hb_head_get(&h, "connection"));
  CU_ASSERT_PTR_NULL(hb_head_get(&h, "keep-alive"));
  CU_ASSERT_PTR_NULL(hb_head_get(&h, "x-secret"));
  CU_ASSERT_PTR_NULL(hb_head_get(&h, "transfer-encoding"));
  CU_ASSERT_PTR_NULL(hb_head_get(&h, "upgrade"));
  CU_ASSERT_PTR_NULL(hb_head_get(&h, "proxy-connection"));
  CU_ASSERT_STRING_EQUAL(hb_head_get(&h, "te")->value, "trailers");
  CU_ASSERT_STRING_EQUAL(hb_head_get(&h, "x-keep")->value, "yes");
  hb_head_strip_hop_by_hop(&h, 0);
  CU_ASSERT_PTR_NULL(hb_head_get(&h, "te"));
  hb_head_free(&h);
}

static void test_token_list(void) {
  CU_ASSERT(hb_token_list_has("keep-alive, Upgrade", 19, "upgrade"));
  CU_ASSERT(!hb_token_list_has("upgrades", 8, "upgrade"));
  CU_ASSERT(hb_token_list_has(" ,close", 7, "close"));
}

int hb_test_head(void) {
  CU_pSuite s = CU_add_suite("head", NULL, NULL);
  if (!s || !CU_add_test(s, "fields", test_fields) || !CU_add_test(s, "hop_by_hop", test_hop_by_hop) ||
      !CU_add_test(s, "token_list", test_token_list))
    return -1;
  return 0;
}
