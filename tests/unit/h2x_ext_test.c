/* h2x_ext_test.c: the h2x extension registry (bridge/h2x_ext.c) as pure
 * functions: the built-in definitions of the drafts (codepoints from config,
 * DESIGN.md §6), the refusals of a leg's definitions (unknown, duplicate,
 * conflicting or standard codepoints), and one connection's negotiation
 * (which settings we send per role, value checks, in force when both sides
 * sent 1, frame shape checks).  The engine's use of it is in
 * engine_h2x_test.c (the F_EXT cases).  Owns nothing beyond each case. */
#include <string.h>

#include <CUnit/CUnit.h>

#include "errors.h"
#include "h2x_ext.h"
#include "hb_test.h"

static void test_builtins(void) {
  hb_h2x_ext_defs defs;
  char err[256];
  const char *names[] = {"ex_headers", "p2p", "symmetric"};
  CU_ASSERT_EQUAL_FATAL(hb_h2x_ext_defs_build(&defs, names, 3, NULL, err, sizeof(err)), 0);
  CU_ASSERT_EQUAL(defs.n, 3);
  const hb_h2x_ext_def *ex = &defs.d[0], *p2p = &defs.d[1], *sym = &defs.d[2];
  /* draft-xie: setting 0xfbfb, frame 0xfb carrying a header block that may open a stream */
  CU_ASSERT(ex->nsettings == 1 && ex->settings[0].id == 0xfbfb && ex->settings[0].max == 1 && ex->settings[0].sticky);
  CU_ASSERT(ex->nframes == 1 && ex->frames[0].type == 0xfb);
  CU_ASSERT(ex->frames[0].flags == (HB_H2X_EXTF_HEADER_BLOCK | HB_H2X_EXTF_OPENS_STREAM));
  CU_ASSERT_EQUAL(ex->not_enabled_error, 0xfc);
  /* draft-benfield: setting 0xf0f0, CLIENT_AUTHORITY 0xf0 on stream 0 from the client */
  CU_ASSERT(p2p->settings[0].id == 0xf0f0 && p2p->frames[0].type == 0xf0);
  CU_ASSERT(p2p->frames[0].flags == HB_H2X_EXTF_CONNECTION && p2p->frames[0].from == HB_H2X_FROM_CLIENT);
  /* Symmetric: setting 0xf1f1 from the client only, no frame */
  CU_ASSERT(sym->settings[0].id == 0xf1f1 && sym->settings[0].from == HB_H2X_FROM_CLIENT && sym->nframes == 0);
  /* none has a handler yet: the worker refuses to enable them */
  const char *which = NULL;
  CU_ASSERT(!hb_h2x_ext_servable(&defs, &which) && which && strcmp(which, "ex_headers") == 0);

  /* codepoints come from config */
  hb_h2x_ext cp;
  hb_h2x_ext_defaults(&cp);
  cp.ex_headers_type = 0xfa;
  cp.enable_ex_headers_id = 0xfafa;
  cp.ex_headers_not_enabled_error = 0x1fc;
  CU_ASSERT_EQUAL_FATAL(hb_h2x_ext_defs_build(&defs, names, 1, &cp, err, sizeof(err)), 0);
  CU_ASSERT(defs.d[0].frames[0].type == 0xfa && defs.d[0].settings[0].id == 0xfafa &&
            defs.d[0].not_enabled_error == 0x1fc);
}

static void test_refusals(void) {
  hb_h2x_ext_defs defs;
  char err[256] = "";
  const char *unknown[] = {"ex_headers", "nope"};
  CU_ASSERT_EQUAL(hb_h2x_ext_defs_build(&defs, unknown, 2, NULL, err, sizeof(err)), HB_ERR_INVALID);
  CU_ASSERT(strstr(err, "unknown h2x extension 'nope'") && strstr(err, "ex_headers, p2p, symmetric"));
  const char *twice[] = {"p2p", "p2p"};
  CU_ASSERT_EQUAL(hb_h2x_ext_defs_build(&defs, twice, 2, NULL, err, sizeof(err)), HB_ERR_INVALID);
  CU_ASSERT(strstr(err, "listed twice") != NULL);
  /* two extensions on one codepoint */
  hb_h2x_ext cp;
  hb_h2x_ext_defaults(&cp);
  cp.client_authority_type = cp.ex_headers_type;
  const char *both[] = {"ex_headers", "p2p"};
  CU_ASSERT_EQUAL(hb_h2x_ext_defs_build(&defs, both, 2, &cp, err, sizeof(err)), HB_ERR_INVALID);
  CU_ASSERT(strstr(err, "both claim frame type 0xfb") != NULL);
  hb_h2x_ext_defaults(&cp);
  cp.symmetric_id = cp.peer_to_peer_id;
  const char *settings[] = {"p2p", "symmetric"};
  CU_ASSERT_EQUAL(hb_h2x_ext_defs_build(&defs, settings, 2, &cp, err, sizeof(err)), HB_ERR_INVALID);
  CU_ASSERT(strstr(err, "both claim setting 0xf0f0") != NULL);
  /* standard codepoints cannot be claimed */
  hb_h2x_ext_defaults(&cp);
  cp.ex_headers_type = 0x1;
  CU_ASSERT_EQUAL(hb_h2x_ext_defs_build(&defs, both, 1, &cp, err, sizeof(err)), HB_ERR_INVALID);
  CU_ASSERT(strstr(err, "a standard type") != NULL);
  hb_h2x_ext_defaults(&cp);
  cp.enable_ex_headers_id = 0x8;
  CU_ASSERT_EQUAL(hb_h2x_ext_defs_build(&defs, both, 1, &cp, err, sizeof(err)), HB_ERR_INVALID);
  CU_ASSERT(strstr(err, "standard setting 0x8") != NULL);
  /* the registry itself: names are unique */
  static const hb_h2x_ext_builder dup = {"p2p", NULL};
  CU_ASSERT_EQUAL(hb_h2x_ext_register(&dup), HB_ERR_INVALID);
}

static void test_negotiation(void) {
  hb_h2x_ext_defs defs;
  char err[256];
  const char *names[] = {"ex_headers", "p2p", "symmetric"};
  CU_ASSERT_EQUAL_FATAL(hb_h2x_ext_defs_build(&defs, names, 3, NULL, err, sizeof(err)), 0);
  hb_h2x_ext_state srv, cli;
  hb_h2x_ext_state_init(&srv, &defs, 1);
  hb_h2x_ext_state_init(&cli, &defs, 0);
  hb_h2x_setting out[8];
  /* a server sends ENABLE_EX_HEADERS and PEER_TO_PEER, never SYMMETRIC; a client all three */
  CU_ASSERT_EQUAL(hb_h2x_ext_local_settings(&srv, out, 8), 2);
  CU_ASSERT(out[0].id == 0xfbfb && out[0].value == 1 && out[1].id == 0xf0f0);
  CU_ASSERT_EQUAL(hb_h2x_ext_local_settings(&cli, out, 8), 3);
  CU_ASSERT_EQUAL(hb_h2x_ext_local_settings(&cli, out, 1), 1);

  hb_h2x_error e;
  CU_ASSERT_EQUAL(hb_h2x_ext_on_setting(&srv, 0x1234, 1, &e), 0); /* nobody's: ignored */
  CU_ASSERT(!hb_h2x_ext_in_force(&srv, 0));
  CU_ASSERT_EQUAL(hb_h2x_ext_on_setting(&srv, 0xfbfb, 2, &e), HB_ERR_PROTO);
  CU_ASSERT(e.code == HB_H2X_PROTOCOL_ERROR && !e.stream);
  CU_ASSERT_EQUAL(hb_h2x_ext_on_setting(&srv, 0xfbfb, 0, &e), 1);
  CU_ASSERT(!hb_h2x_ext_in_force(&srv, 0));
  CU_ASSERT_EQUAL(hb_h2x_ext_on_setting(&srv, 0xfbfb, 1, &e), 1);
  CU_ASSERT(hb_h2x_ext_in_force(&srv, 0)); /* both sides sent 1 */
  CU_ASSERT_EQUAL(hb_h2x_ext_on_setting(&srv, 0xfbfb, 1, &e), 1);
  CU_ASSERT_EQUAL(hb_h2x_ext_on_setting(&srv, 0xfbfb, 0, &e), HB_ERR_PROTO); /* once on, never off */
  /* SYMMETRIC: a client receiving it is in error; a server takes it */
  CU_ASSERT_EQUAL(hb_h2x_ext_on_setting(&cli, 0xf1f1, 1, &e), HB_ERR_PROTO);
  CU_ASSERT(strstr(e.reason, "only a client") != NULL);
  CU_ASSERT_EQUAL(hb_h2x_ext_on_setting(&srv, 0xf1f1, 1, &e), 1);

  /* frame shape: CLIENT_AUTHORITY from a server, on a stream, before PEER_TO_PEER */
  const hb_h2x_ext_frame_def *fd = NULL;
  int i = hb_h2x_ext_frame_owner(&srv, 0xf0, &fd);
  CU_ASSERT_FATAL(i == 1 && fd && fd->type == 0xf0);
  CU_ASSERT_EQUAL(hb_h2x_ext_frame_owner(&srv, 0xf7, &fd), -1);
  hb_h2x_frame_hd hd = {5, 0xf0, 0, 0};
  CU_ASSERT_EQUAL(hb_h2x_ext_check_frame(&srv, 1, fd, &hd, &e), HB_ERR_PROTO); /* not in force yet */
  CU_ASSERT(e.code == HB_H2X_PROTOCOL_ERROR && strstr(e.reason, "negotiated"));
  CU_ASSERT_EQUAL(hb_h2x_ext_on_setting(&srv, 0xf0f0, 1, &e), 1);
  CU_ASSERT_EQUAL(hb_h2x_ext_check_frame(&srv, 1, fd, &hd, &e), 0);
  hd.stream_id = 1;
  CU_ASSERT_EQUAL(hb_h2x_ext_check_frame(&srv, 1, fd, &hd, &e), HB_ERR_PROTO);
  hd.stream_id = 0;
  CU_ASSERT_EQUAL(hb_h2x_ext_on_setting(&cli, 0xf0f0, 1, &e), 1);
  CU_ASSERT_EQUAL(hb_h2x_ext_check_frame(&cli, 1, fd, &hd, &e), HB_ERR_PROTO); /* from a server */
  CU_ASSERT(strstr(e.reason, "only a client") != NULL);
  /* EX_HEADERS before ENABLE_EX_HEADERS: its own error code */
  i = hb_h2x_ext_frame_owner(&cli, 0xfb, &fd);
  hb_h2x_frame_hd exh = {10, 0xfb, 0x4, 3};
  CU_ASSERT_EQUAL(hb_h2x_ext_check_frame(&cli, (size_t)i, fd, &exh, &e), HB_ERR_PROTO);
  CU_ASSERT_EQUAL(e.code, 0xfc);
  exh.stream_id = 0;
  CU_ASSERT_EQUAL(hb_h2x_ext_on_setting(&cli, 0xfbfb, 1, &e), 1);
  CU_ASSERT_EQUAL(hb_h2x_ext_check_frame(&cli, (size_t)i, fd, &exh, &e), HB_ERR_PROTO); /* stream 0 */
  exh.stream_id = 3;
  CU_ASSERT_EQUAL(hb_h2x_ext_check_frame(&cli, (size_t)i, fd, &exh, &e), 0);
}

/* The built-in parsers hand the engine the header block and routing id. */
static void test_builtin_parse(void) {
  hb_h2x_ext_defs defs;
  char err[256];
  const char *names[] = {"ex_headers", "p2p"};
  CU_ASSERT_EQUAL_FATAL(hb_h2x_ext_defs_build(&defs, names, 2, NULL, err, sizeof(err)), 0);
  const uint8_t ex[] = {0, 0, 0, 1, 0x82, 0x84};
  hb_h2x_frame_hd hd = {sizeof(ex), 0xfb, 0x4, 3};
  hb_h2x_ext_frame f;
  hb_h2x_error e = {0, 0, NULL};
  CU_ASSERT_EQUAL(defs.d[0].frames[0].parse(&defs.d[0], &hd, ex, &f, &e), 0);
  CU_ASSERT(f.ref_id == 1 && f.len == 2 && f.block == ex + 4);
  const uint8_t ca[] = {3, 'a', '.', 'b', 1, 'c'};
  hb_h2x_frame_hd cah = {sizeof(ca), 0xf0, 0, 0};
  CU_ASSERT_EQUAL(defs.d[1].frames[0].parse(&defs.d[1], &cah, ca, &f, &e), 0);
  CU_ASSERT(f.count == 2 && f.len == sizeof(ca));
  const uint8_t bad[] = {4, 'a'};
  cah.length = sizeof(bad);
  CU_ASSERT_EQUAL(defs.d[1].frames[0].parse(&defs.d[1], &cah, bad, &f, &e), HB_ERR_PROTO);
  CU_ASSERT_EQUAL(e.code, HB_H2X_PROTOCOL_ERROR);
}

int hb_test_h2x_ext(void) {
  CU_pSuite s = CU_add_suite("h2x_ext", NULL, NULL);
  if (!s) return -1;
  if (!CU_add_test(s, "built-in definitions", test_builtins) || !CU_add_test(s, "refusals", test_refusals) ||
      !CU_add_test(s, "negotiation", test_negotiation) || !CU_add_test(s, "built-in parsers", test_builtin_parse))
    return -1;
  return 0;
}
