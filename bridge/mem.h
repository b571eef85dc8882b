/* mem.h: every allocation of h2bridge goes through here, so a test can fail the
 * Nth allocation (failmalloc) and every NOMEM path is exercised.  Also a simple
 * arena for per-head small objects, freed in one shot.
 * The caller owns what it allocates; an arena owns its blocks.  Worker-local. */
#ifndef HB_MEM_H
#define HB_MEM_H

#include "h2bridge.h"

/* Under AddressSanitizer the free-list caches (arena blocks here, bufq
 * chunks) keep nothing, so a use after free is caught instead of reading a
 * recycled block. */
#if defined(__SANITIZE_ADDRESS__)
#define HB_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HB_UNDER_ASAN 1
#endif
#endif
#ifndef HB_UNDER_ASAN
#define HB_UNDER_ASAN 0
#endif

typedef struct hb_mem {
  void *(*malloc)(size_t size, void *ud);
  void (*free)(void *ptr, void *ud);
  void *(*realloc)(void *ptr, size_t size, void *ud);
  void *ud;
} hb_mem;

/* Replaces the process allocator (tests only); NULL restores libc's. */
void hb_mem_set(const hb_mem *mem);

void *hb_malloc(size_t size);
/* Zeroed allocation of |n| * |size| bytes; NULL on overflow or failure. */
void *hb_calloc(size_t n, size_t size);
void *hb_realloc(void *ptr, size_t size);
void hb_free(void *ptr);
/* Copies |len| bytes of |s| into a new NUL-terminated string. */
char *hb_strndup(const char *s, size_t len);
char *hb_strdup(const char *s);

/* Free list: a bounded cache of same-sized free objects (arena blocks, bufq
 * chunks) so hot paths stay off malloc.  An object starts with its `next`
 * pointer.  Worker-local; holds nothing under ASan (see HB_UNDER_ASAN). */
typedef struct hb_freelist {
  void *head;
  size_t n, max;
} hb_freelist;
#define HB_FREELIST_INIT(max) {NULL, 0, HB_UNDER_ASAN ? 0 : (max)}

/* A cached object (its contents stale), or NULL when the cache is empty. */
void *hb_freelist_get(hb_freelist *fl);
/* Keeps |obj| for reuse, or frees it when the cache is full. */
void hb_freelist_put(hb_freelist *fl, void *obj);
/* Frees everything cached. */
void hb_freelist_trim(hb_freelist *fl);

/* Arena: bump allocator over a list of blocks; hb_arena_reset frees them all. */
typedef struct hb_arena_block hb_arena_block;
typedef struct hb_arena {
  hb_arena_block *head;
  size_t total;     /* bytes handed out, for limits */
} hb_arena;

void hb_arena_init(hb_arena *a);
/* Returns |size| bytes aligned to 8, owned by |a|; NULL on NOMEM. */
void *hb_arena_alloc(hb_arena *a, size_t size);
/* Copies |len| bytes into the arena with a trailing NUL. */
char *hb_arena_strndup(hb_arena *a, const char *s, size_t len);
void hb_arena_reset(hb_arena *a);
/* Frees the blocks kept for reuse (at exit, and before swapping the allocator). */
void hb_arena_cache_trim(void);

#endif
