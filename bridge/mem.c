/* mem.c: allocator indirection and arenas.  See mem.h. */
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static void *libc_malloc(size_t size, void *ud) { (void)ud; return malloc(size); }
static void libc_free(void *ptr, void *ud) { (void)ud; free(ptr); }
static void *libc_realloc(void *ptr, size_t size, void *ud) { (void)ud; return realloc(ptr, size); }

static const hb_mem libc_mem = {libc_malloc, libc_free, libc_realloc, NULL};
static const hb_mem *cur = &libc_mem;


void *hb_malloc(size_t size) { return cur->malloc(size ? size : 1, cur->ud); }

void *hb_calloc(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  void *p = hb_malloc(n * size);
  if (p) memset(p, 0, n * size);
  return p;
}

void *hb_realloc(void *ptr, size_t size) { return cur->realloc(ptr, size ? size : 1, cur->ud); }

void hb_free(void *ptr) {
  if (ptr) cur->free(ptr, cur->ud);
}

char *hb_strndup(const char *s, size_t len) {
  char *p = hb_malloc(len + 1);
  if (!p) return NULL;
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

char *hb_strdup(const char *s) { return hb_strndup(s, strlen(s)); }

struct hb_arena_block {
  hb_arena_block *next;
  size_t size, used;
  /* data follows, 8-aligned */
  uint64_t data[];
};

#define ARENA_BLOCK 2048
/* Free standard blocks are kept for the next head: every request builds
 * several heads, and a 2 KiB malloc/free per head showed as 10-15% of a proxy's
 * CPU (glibc's slow path above tcache sizes).  Bounded; worker-local. */
static hb_freelist block_cache = HB_FREELIST_INIT(256);

/* Cached blocks belong to the allocator that made them: trim before a swap. */
void hb_mem_set(const hb_mem *mem) {
  hb_arena_cache_trim();
  cur = mem ? mem : &libc_mem;
}

void hb_arena_cache_trim(void) { hb_freelist_trim(&block_cache); }

/* Every object put on a free list starts with its `next` pointer; it is read
 * and written through memcpy, since the objects are of other struct types. */
static void *fl_next(void *obj) {
  void *n;
  memcpy(&n, obj, sizeof(n));
  return n;
}

void *hb_freelist_get(hb_freelist *fl) {
  void *o = fl->head;
  if (o) {
    fl->head = fl_next(o);
    fl->n--;
  }
  return o;
}

void hb_freelist_put(hb_freelist *fl, void *obj) {
  if (fl->n >= fl->max) {
    hb_free(obj);
    return;
  }
  memcpy(obj, &fl->head, sizeof(fl->head));
  fl->head = obj;
  fl->n++;
}

void hb_freelist_trim(hb_freelist *fl) {
  while (fl->head) {
    void *n = fl_next(fl->head);
    hb_free(fl->head);
    fl->head = n;
  }
  fl->n = 0;
}

void hb_arena_init(hb_arena *a) {
  a->head = NULL;
  a->total = 0;
}

void *hb_arena_alloc(hb_arena *a, size_t size) {
  size = (size + 7) & ~(size_t)7;
  hb_arena_block *b = a->head;
  if (!b || b->size - b->used < size) {
    size_t bsz = size > ARENA_BLOCK ? size : ARENA_BLOCK;
    b = bsz == ARENA_BLOCK ? hb_freelist_get(&block_cache) : NULL;
    if (!b) {
      b = hb_malloc(sizeof(*b) + bsz);
      if (!b) return NULL;
    }
    b->size = bsz;
    b->used = 0;
    b->next = a->head;
    a->head = b;
  }
  void *p = (char *)b->data + b->used;
  b->used += size;
  a->total += size;
  return p;
}

char *hb_arena_strndup(hb_arena *a, const char *s, size_t len) {
  char *p = hb_arena_alloc(a, len + 1);
  if (!p) return NULL;
  if (len) memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

void hb_arena_reset(hb_arena *a) {
  hb_arena_block *b = a->head;
  while (b) {
    hb_arena_block *n = b->next;
    if (b->size == ARENA_BLOCK)
      hb_freelist_put(&block_cache, b);
    else
      hb_free(b);
    b = n;
  }
  a->head = NULL;
  a->total = 0;
}
