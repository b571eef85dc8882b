/* relay: a bare TCP byte relay, the floor for the h2bridge benchmark.
 *
 *   relay LISTEN_[HOST:]PORT BACKEND_[HOST:]PORT
 *
 * Accepts, dials the backend, copies bytes both ways with no parsing at all.
 * Single-threaded epoll; one 64 KiB buffer per direction; when a buffer is
 * full the relay stops reading that side (backpressure). EOF on one side is
 * passed on as shutdown(SHUT_WR); the pair is closed when both are done. */
#include "wsb.h"

#include <sys/epoll.h>

#define RBUF (64 * 1024)

typedef struct side side_t;
struct side {
    int fd;
    int eof;          /* read EOF from this fd */
    int connecting;   /* backend side: connect in progress */
    uint32_t events;
    uint8_t *buf;     /* bytes read from this fd, to be written to peer */
    size_t off, len;
    side_t *peer;
    int shut;         /* we shut down writing on this fd */
};

typedef struct {
    side_t a, b;
    int dead;
} pair_t;

static int ep, lfd;
static struct sockaddr_in backend;

static void upd(side_t *s) {
    uint32_t ev = 0;
    if (s->connecting) ev = EPOLLOUT;
    else {
        if (!s->eof && s->len < RBUF && !s->peer->connecting) ev |= EPOLLIN;
        if (s->peer->len > s->peer->off) ev |= EPOLLOUT;
    }
    if (ev != s->events) {
        struct epoll_event e = {.events = ev, .data.ptr = s};
        epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &e);
        s->events = ev;
    }
}

static void pair_close(pair_t *p) {
    close(p->a.fd);
    close(p->b.fd);
    free(p->a.buf);
    free(p->b.buf);
    p->dead = 1;
}

static pair_t *pair_of(side_t *s) {
    /* a is the first member, so the lower address is the pair */
    return s < s->peer ? (pair_t *)s : (pair_t *)s->peer;
}

/* Pairs closed during one epoll batch are freed after it (the other side may
 * still have an event in the same batch). */
static pair_t **graveyard;
static size_t ngrave, capgrave;
static void bury(pair_t *p) {
    if (ngrave == capgrave) {
        capgrave = capgrave ? capgrave * 2 : 64;
        graveyard = xrealloc(graveyard, capgrave * sizeof *graveyard);
    }
    graveyard[ngrave++] = p;
}

/* Write what s->peer read into s. Returns -1 on error. */
static int pump_to(side_t *s) {
    side_t *src = s->peer;
    while (src->len > src->off) {
        ssize_t w = write(s->fd, src->buf + src->off, src->len - src->off);
        if (w < 0) {
            if (errno == EAGAIN) return 0;
            if (errno == EINTR) continue;
            return -1;
        }
        src->off += (size_t)w;
    }
    src->off = src->len = 0;
    if (src->eof && !s->shut) {
        shutdown(s->fd, SHUT_WR);
        s->shut = 1;
    }
    return 0;
}

static int pump_from(side_t *s) {
    while (!s->eof && s->len < RBUF) {
        ssize_t r = read(s->fd, s->buf + s->len, RBUF - s->len);
        if (r < 0) {
            if (errno == EAGAIN) break;
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) {
            s->eof = 1;
            break;
        }
        s->len += (size_t)r;
        if (pump_to(s->peer) < 0) return -1;
    }
    return pump_to(s->peer);
}

static void on_event(side_t *s, uint32_t ev) {
    pair_t *p = pair_of(s);
    if (s->connecting) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            pair_close(p);
            bury(p);
            return;
        }
        s->connecting = 0;
        ev |= EPOLLIN | EPOLLOUT;
    }
    int rc = 0;
    if (ev & EPOLLOUT) rc = pump_to(s);
    if (rc == 0 && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) rc = pump_from(s);
    if (rc == 0) rc = pump_from(s->peer);
    if (rc < 0 || (s->eof && s->peer->eof && s->len == s->off && s->peer->len == s->peer->off)) {
        pair_close(p);
        bury(p);
        return;
    }
    upd(s);
    upd(s->peer);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: relay LISTEN BACKEND\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    ep = epoll_create1(EPOLL_CLOEXEC);
    lfd = listen_on(argv[1]);
    parse_addr(argv[2], &backend);
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
    printf("ready\n");
    fflush(stdout);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0) break;
                    int bfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                    if (bfd < 0) {
                        close(fd);
                        continue;
                    }
                    set_nodelay(fd);
                    set_nodelay(bfd);
                    int r = connect(bfd, (struct sockaddr *)&backend, sizeof backend);
                    if (r < 0 && errno != EINPROGRESS) {
                        close(fd);
                        close(bfd);
                        continue;
                    }
                    pair_t *p = calloc(1, sizeof *p);
                    p->a.fd = fd;
                    p->b.fd = bfd;
                    p->a.peer = &p->b;
                    p->b.peer = &p->a;
                    p->a.buf = malloc(RBUF);
                    p->b.buf = malloc(RBUF);
                    p->b.connecting = 1;
                    p->a.events = 0;
                    p->b.events = EPOLLOUT;
                    struct epoll_event ea = {.events = 0, .data.ptr = &p->a};
                    struct epoll_event eb = {.events = EPOLLOUT, .data.ptr = &p->b};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ea);
                    epoll_ctl(ep, EPOLL_CTL_ADD, bfd, &eb);
                }
                continue;
            }
            side_t *s = evs[i].data.ptr;
            if (pair_of(s)->dead) continue;
            on_event(s, evs[i].events);
        }
        for (size_t k = 0; k < ngrave; k++) free(graveyard[k]);
        ngrave = 0;
    }
}
