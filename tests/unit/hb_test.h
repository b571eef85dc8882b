/* hb_test.h: registration hooks of the unit-test suites (CUnit).  Each
 * tests/unit/<module>_test.c defines one hb_test_<module>() that adds its suite
 * to the CUnit registry and returns 0, or -1 when CUnit failed. */
#ifndef HB_TEST_H
#define HB_TEST_H

#include <CUnit/CUnit.h>

int hb_test_bufq(void);
int hb_test_head(void);
int hb_test_config(void);
int hb_test_h1_parse(void);
int hb_test_tls(void);
int hb_test_router(void);
int hb_test_translator(void);
int hb_test_reverse_auth(void);
int hb_test_h2x_frame(void);
int hb_test_engine_h2x(void);
int hb_test_h2x_ext(void);

#endif
