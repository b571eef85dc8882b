/* linger.h: lingering close (RFC 9112 §9.6).  A connection that h2bridge
 * closes while the peer may still be sending would, with unread bytes in the
 * kernel's receive buffer, end in a TCP reset -- and a reset can destroy the
 * last bytes we wrote before the peer reads them (a GOAWAY naming the error,
 * a 400 page, a TLS close_notify).  So the socket is half-closed (FIN) and
 * what still arrives is read and thrown away until the peer closes or the
 * lingering_timeout passes.  Each lingering socket is a small record owned by
 * the worker's list (bounded by HB_LINGER_MAX); the conn is long gone. */
#ifndef HB_LINGER_H
#define HB_LINGER_H

struct hb_worker;

/* At most this many sockets linger per worker; beyond it they close at once. */
#define HB_LINGER_MAX 4096

typedef struct hb_linger hb_linger;

/* Takes |fd| (everything we wrote is in the kernel already): half-closes it
 * and discards its input for up to |timeout| seconds (0: closes at once). */
void hb_linger_start(struct hb_worker *w, int fd, double timeout);
/* Closes every lingering socket (worker teardown). */
void hb_linger_close_all(struct hb_worker *w);

#endif
