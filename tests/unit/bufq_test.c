/* bufq_test.c: the bounded chunk queue: limits, spans, drains across chunks. */
#include <string.h>
#include <CUnit/CUnit.h>

#include "bufq.h"
#include "hb_test.h"

static void test_limit(void) {
  hb_bufq q;
  hb_bufq_init(&q, 100);
  uint8_t data[300];
  memset(data, 'a', sizeof(data));
  CU_ASSERT_EQUAL(hb_bufq_write(&q, data, 300), 100);
  CU_ASSERT_EQUAL(hb_bufq_space(&q), 0);
  CU_ASSERT_EQUAL(hb_bufq_write(&q, data, 1), 0);
  CU_ASSERT_EQUAL(hb_bufq_write_force(&q, data, 5), 5);
  CU_ASSERT_EQUAL(hb_bufq_len(&q), 105);
  hb_bufq_free(&q);
  CU_ASSERT_EQUAL(hb_bufq_len(&q), 0);
}

static void test_across_chunks(void) {
  hb_bufq q;
  hb_bufq_init(&q, 1 << 20);
  static uint8_t in[HB_BUFQ_CHUNK * 3 + 17], out[sizeof(in)];
  for (size_t i = 0; i < sizeof(in); i++) in[i] = (uint8_t)(i * 7);
  CU_ASSERT_EQUAL(hb_bufq_write(&q, in, sizeof(in)), (ssize_t)sizeof(in));
  struct iovec iov[8];
  CU_ASSERT_EQUAL(hb_bufq_iov(&q, iov, 8), 4);
  const uint8_t *p;
  CU_ASSERT_EQUAL(hb_bufq_peek(&q, &p), HB_BUFQ_CHUNK);
  hb_bufq_drain(&q, 10);
  CU_ASSERT_EQUAL(hb_bufq_peek(&q, &p), HB_BUFQ_CHUNK - 10);
  CU_ASSERT_EQUAL(p[0], in[10]);
  memcpy(out, in, 10);
  size_t n = hb_bufq_read(&q, out + 10, sizeof(out));
  CU_ASSERT_EQUAL(n, sizeof(in) - 10);
  CU_ASSERT(memcmp(in, out, sizeof(in)) == 0);
  CU_ASSERT_EQUAL(hb_bufq_len(&q), 0);
  CU_ASSERT_EQUAL(hb_bufq_peek(&q, &p), 0);
  hb_bufq_free(&q);
  hb_bufq_cache_trim();
}

int hb_test_bufq(void) {
  CU_pSuite s = CU_add_suite("bufq", NULL, NULL);
  if (!s || !CU_add_test(s, "limit", test_limit) || !CU_add_test(s, "across_chunks", test_across_chunks))
    return -1;
  return 0;
}
