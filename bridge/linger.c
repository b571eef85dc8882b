/* linger.c: lingering close.  See linger.h. */
#include "linger.h"
#include "mem.h"
#include "worker.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

struct hb_linger {
  ev_io io;
  ev_timer timer;
  struct hb_worker *w;
  int fd;
  struct hb_linger *next, *prev;
};

static void linger_end(hb_linger *l) {
  hb_worker *w = l->w;
  ev_io_stop(w->loop, &l->io);
  ev_timer_stop(w->loop, &l->timer);
  close(l->fd);
  if (l->prev) l->prev->next = l->next;
  else w->lingering = l->next;
  if (l->next) l->next->prev = l->prev;
  w->nlingering--;
  hb_free(l);
}

static void on_readable(struct ev_loop *loop, ev_io *io, int revents) {
  (void)loop;
  (void)revents;
  hb_linger *l = io->data;
  char buf[4096];
  for (int i = 0; i < 16; i++) { /* bounded: a peer that keeps sending waits for the timer */
    ssize_t n = read(l->fd, buf, sizeof(buf));
    if (n > 0) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n < 0 && errno == EINTR) continue;
    linger_end(l); /* EOF or error: the peer is done */
    return;
  }
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents) {
  (void)loop;
  (void)revents;
  linger_end(t->data);
}

void hb_linger_start(hb_worker *w, int fd, double timeout) {
  hb_linger *l = NULL;
  if (timeout > 0 && w->nlingering < HB_LINGER_MAX) l = hb_calloc(1, sizeof(*l));
  if (!l || shutdown(fd, SHUT_WR) != 0) {
    hb_free(l);
    close(fd);
    return;
  }
  l->w = w;
  l->fd = fd;
  ev_io_init(&l->io, on_readable, fd, EV_READ);
  l->io.data = l;
  ev_timer_init(&l->timer, on_timeout, timeout, 0);
  l->timer.data = l;
  l->next = w->lingering;
  if (l->next) l->next->prev = l;
  w->lingering = l;
  w->nlingering++;
  ev_io_start(w->loop, &l->io);
  ev_timer_start(w->loop, &l->timer);
}

void hb_linger_close_all(hb_worker *w) {
  while (w->lingering) linger_end(w->lingering);
}
