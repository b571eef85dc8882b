/* h2bridge.h: build-wide includes, attributes and small macros shared by every module.
 * Owns nothing.  Include it first (it pulls the autoconf header build_config.h). */
#ifndef HB_H2BRIDGE_H
#define HB_H2BRIDGE_H

#ifdef HAVE_CONFIG_H
#include "build_config.h"
#endif

#include <stddef.h>
#include <stdint.h>

#define HB_VERSION PACKAGE_VERSION

#define HB_UNUSED __attribute__((unused))
#define HB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define HB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define HB_MIN(a, b) ((a) < (b) ? (a) : (b))
#define HB_MAX(a, b) ((a) > (b) ? (a) : (b))
#define hb_container_of(ptr, type, member) \
  ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

#endif
