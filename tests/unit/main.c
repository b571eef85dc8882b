/* main.c: the unit-test runner; registers every module's suite and runs them
 * with CUnit's basic interface.  Exit status is non-zero on any failure. */
#include <stdio.h>
#include <stdlib.h>
#include <CUnit/Basic.h>

#include "hb_test.h"

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return CU_get_error();
  int (*suites[])(void) = {hb_test_bufq, hb_test_head, hb_test_config, hb_test_h1_parse,
                           hb_test_tls, hb_test_router, hb_test_translator,
                           hb_test_reverse_auth, hb_test_h2x_frame, hb_test_engine_h2x, hb_test_h2x_ext};
  for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
    if (suites[i]() != 0) {
      CU_cleanup_registry();
      return 1;
    }
  }
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  unsigned failed_tests = CU_get_number_of_tests_failed();
  unsigned failures = CU_get_number_of_failures();
  unsigned run = CU_get_number_of_tests_run();
  CU_cleanup_registry();
  printf("unit: %u passed, %u failed\n", run - failed_tests, failed_tests);
  return (failures || failed_tests) ? 1 : 0;
}
