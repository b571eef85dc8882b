/* router_test.c: route matching on listener, authority, path, method, protocol. */
#include <string.h>
#include <CUnit/CUnit.h>

#include "hb_test.h"
#include "router.h"

static void test_authority(void) {
  CU_ASSERT(hb_router_authority_match("chat.example.com", "Chat.Example.com:8443"));
  CU_ASSERT(!hb_router_authority_match("chat.example.com:80", "chat.example.com:8443"));
  CU_ASSERT(hb_router_authority_match("chat.example.com:8443", "chat.example.com:8443"));
  CU_ASSERT(hb_router_authority_match("*.example.com", "a.b.example.com"));
  CU_ASSERT(!hb_router_authority_match("*.example.com", "example.com"));
  CU_ASSERT(hb_router_authority_match("[::1]", "[::1]:8080"));
  CU_ASSERT(!hb_router_authority_match("x.com", NULL));
}

static void test_match(void) {
  hb_config_route routes[3];
  memset(routes, 0, sizeof(routes));
  for (int i = 0; i < 3; i++) {
    routes[i].listener = -1;
    routes[i].connector = -1;
  }
  routes[0].listener = 1;
  routes[0].match_listener = "l1";
  routes[0].match_path = "/ws";
  routes[0].match_protocol = "websocket";
  routes[1].match_authority = "api.example.com";
  routes[1].match_method = "POST";
  routes[2].match_path = "/";
  hb_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.routes = routes;
  cfg.nroutes = 3;
  hb_head h;
  hb_head_init(&h, 1);
  hb_head_set_pseudo(&h, HB_PSEUDO_PATH, "/ws/chat", 8);
  hb_head_set_pseudo(&h, HB_PSEUDO_METHOD, "GET", 3);
  CU_ASSERT_EQUAL(hb_router_match(&cfg, 1, -1, &h), 2); /* no protocol yet */
  hb_head_set_pseudo(&h, HB_PSEUDO_PROTOCOL, "WebSocket", 9);
  CU_ASSERT_EQUAL(hb_router_match(&cfg, 1, -1, &h), 0);
  CU_ASSERT_EQUAL(hb_router_match(&cfg, 0, -1, &h), 2); /* other listener */
  CU_ASSERT_EQUAL(hb_router_match(&cfg, -1, 0, &h), 2); /* over a connector */
  hb_head_set_pseudo(&h, HB_PSEUDO_AUTHORITY, "api.example.com", 15);
  hb_head_set_pseudo(&h, HB_PSEUDO_METHOD, "POST", 4);
  CU_ASSERT_EQUAL(hb_router_match(&cfg, 0, -1, &h), 1);
  hb_head_set_pseudo(&h, HB_PSEUDO_PATH, "x", 1);
  CU_ASSERT_EQUAL(hb_router_match(&cfg, 2, -1, &h), 1);
  routes[1].match_method = "PUT";
  CU_ASSERT_EQUAL(hb_router_match(&cfg, 2, -1, &h), -1);
  hb_head_set_pseudo(&h, HB_PSEUDO_PATH, "/q", 2);
  routes[2].match_connector = "k";
  routes[2].connector = 0;
  CU_ASSERT_EQUAL(hb_router_match(&cfg, -1, 0, &h), 2);
  CU_ASSERT_EQUAL(hb_router_match(&cfg, -1, 1, &h), -1);
  CU_ASSERT_EQUAL(hb_router_match(&cfg, 0, -1, &h), -1);
  hb_head_free(&h);
}

int hb_test_router(void) {
  CU_pSuite s = CU_add_suite("router", NULL, NULL);
  if (!s || !CU_add_test(s, "authority", test_authority) || !CU_add_test(s, "match", test_match)) return -1;
  return 0;
}
