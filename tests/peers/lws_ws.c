/*
 * lws_ws.c: libwebsockets (Debian libwebsockets-dev 4.1) WebSocket peers for
 * h2bridge's integration tests (tests/integration/test_websocket.py).
 *
 *   lws_ws server H1PORT TLSPORT CERT KEY [H2CPORT]
 *       echo server, protocol "echo" (also the default when the client names
 *       no subprotocol): H1PORT cleartext HTTP/1.1 (RFC 6455), TLSPORT TLS with
 *       ALPN h2,http/1.1 (RFC 8441 over h2 if lws accepts it), H2CPORT
 *       cleartext with h2 prior knowledge allowed. Port 0 picks one. Prints
 *       "ready H1PORT TLSPORT H2CPORT", then one JSON line per event:
 *       {"event":"established","path":...,"h2":0|1}, {"event":"close","code":N}.
 *   lws_ws client HOST PORT PATH COUNT CLOSE [tls CAFILE]
 *       HTTP/1.1 client: sends COUNT messages (sizes cycling 1,125,126,65536,
 *       200000; text and binary alternating), checks every echo in order, then
 *       closes with CLOSE (0: wait for the server's close). Env LWS_WS_SIZES
 *       (e.g. "1,125,70000") replaces the size list. Prints one JSON
 *       line: {"ok":N,"bad":N,"close":CODE_RECEIVED,"error":...}; exit 0 if all ok.
 *
 * Build: cc -O1 -o lws_ws tests/peers/lws_ws.c $(pkg-config --cflags --libs libwebsockets)
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int interrupted;
static int sizes[16] = {1, 125, 126, 65536, 200000};
static unsigned int NSIZES = 5;

struct msg {
	struct msg *next;
	size_t len, off;
	int binary;
	unsigned char *buf; /* LWS_PRE + len */
};

struct pss {
	struct msg *head, *tail; /* queued messages to send */
	unsigned char *rx;       /* message being reassembled */
	size_t rxlen, rxcap;
	int rxbin;
};

static void emit(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void queue(struct pss *p, const unsigned char *data, size_t len, int binary)
{
	struct msg *m = calloc(1, sizeof(*m));
	m->buf = malloc(LWS_PRE + len + 1);
	memcpy(m->buf + LWS_PRE, data, len);
	m->len = len;
	m->binary = binary;
	if (p->tail)
		p->tail->next = m;
	else
		p->head = m;
	p->tail = m;
}

/* Writes the next piece (at most 4 KiB) of the first queued message as one
 * WebSocket fragment: one lws_write per WRITEABLE callback, which is what lws
 * needs for ws-over-h2 (it does not buffer large writes on h2 streams). */
static int write_one(struct lws *wsi, struct pss *p)
{
	struct msg *m = p->head;
	size_t n;
	int first, final, flags;

	if (!m)
		return 0;
	n = m->len - m->off;
	if (n > 4096)
		n = 4096;
	first = m->off == 0;
	final = m->off + n == m->len;
	flags = lws_write_ws_flags(m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT, first, final);
	if (lws_write(wsi, m->buf + LWS_PRE + m->off, n, (enum lws_write_protocol)flags) < (int)n)
		return -1;
	m->off += n;
	if (final) {
		p->head = m->next;
		if (!p->head)
			p->tail = NULL;
		free(m->buf);
		free(m);
	}
	if (p->head)
		lws_callback_on_writable(wsi);
	return 0;
}

static int rx_append(struct pss *p, const void *in, size_t len)
{
	if (p->rxlen + len > p->rxcap) {
		size_t cap = p->rxcap ? p->rxcap : 4096;
		while (cap < p->rxlen + len)
			cap *= 2;
		unsigned char *n = realloc(p->rx, cap);
		if (!n)
			return -1;
		p->rx = n;
		p->rxcap = cap;
	}
	memcpy(p->rx + p->rxlen, in, len);
	p->rxlen += len;
	return 0;
}

static void free_pss(struct pss *p)
{
	while (p->head) {
		struct msg *m = p->head;
		p->head = m->next;
		free(m->buf);
		free(m);
	}
	p->tail = NULL;
	free(p->rx);
	p->rx = NULL;
	p->rxlen = p->rxcap = 0;
}

static int close_code(const void *in, size_t len)
{
	const unsigned char *b = in;
	return len >= 2 ? (b[0] << 8) | b[1] : 1005;
}

/* ------------------------------------------------------------ server */

static int cb_echo(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct pss *p = user;
	char path[256] = "";

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		memset(p, 0, sizeof(*p));
		if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0)
			lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_HTTP_COLON_PATH);
		emit("{\"event\":\"established\",\"path\":\"%s\",\"h2\":%d}", path,
		     lws_get_network_wsi(wsi) != wsi);
		break;
	case LWS_CALLBACK_RECEIVE:
		if (lws_is_first_fragment(wsi))
			p->rxbin = lws_frame_is_binary(wsi);
		if (rx_append(p, in, len))
			return -1;
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			queue(p, p->rx, p->rxlen, p->rxbin);
			p->rxlen = 0;
			lws_callback_on_writable(wsi);
		}
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return write_one(wsi, p);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		emit("{\"event\":\"close\",\"code\":%d}", close_code(in, len));
		break; /* lws echoes the close payload */
	case LWS_CALLBACK_CLOSED:
		free_pss(p);
		break;
	default:
		break;
	}
	return 0;
}

static struct lws_protocols server_protocols[] = {
	{"echo", cb_echo, sizeof(struct pss), 65536, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0}};

static int run_server(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	struct lws_vhost *v1, *v2, *v3 = NULL;

	if (argc < 6) {
		fprintf(stderr, "usage: lws_ws server H1PORT TLSPORT CERT KEY [H2CPORT]\n");
		return 2;
	}
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	ctx = lws_create_context(&info);
	if (!ctx)
		return 1;

	memset(&info, 0, sizeof(info));
	info.vhost_name = "h1";
	info.port = atoi(argv[2]);
	info.iface = "127.0.0.1";
	info.protocols = server_protocols;
	v1 = lws_create_vhost(ctx, &info);

	memset(&info, 0, sizeof(info));
	info.vhost_name = "tls";
	info.port = atoi(argv[3]);
	info.iface = "127.0.0.1";
	info.protocols = server_protocols;
	info.ssl_cert_filepath = argv[4];
	info.ssl_private_key_filepath = argv[5];
	info.alpn = "h2,http/1.1";
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	v2 = lws_create_vhost(ctx, &info);

	if (argc > 6) {
		memset(&info, 0, sizeof(info));
		info.vhost_name = "h2c";
		info.port = atoi(argv[6]);
		info.iface = "127.0.0.1";
		info.protocols = server_protocols;
		info.options = LWS_SERVER_OPTION_H2_PRIOR_KNOWLEDGE;
		v3 = lws_create_vhost(ctx, &info);
	}
	if (!v1 || !v2 || (argc > 6 && !v3)) {
		fprintf(stderr, "lws_ws: vhost creation failed\n");
		return 1;
	}
	emit("ready %d %d %d", lws_get_vhost_listen_port(v1), lws_get_vhost_listen_port(v2),
	     v3 ? lws_get_vhost_listen_port(v3) : 0);
	while (!interrupted && lws_service(ctx, 0) >= 0)
		;
	lws_context_destroy(ctx);
	return 0;
}

/* ------------------------------------------------------------ client */

static int c_count, c_close, c_sent, c_ok, c_bad, c_got_close = 0, c_done;
static char c_err[256];

static void pattern(int i, unsigned char *out, size_t n)
{
	/* printable, so valid UTF-8 for text frames */
	unsigned int x = 2166136261u ^ (unsigned int)i;
	for (size_t k = 0; k < n; k++) {
		x = x * 16777619u + 0x9e3779b9u;
		out[k] = 33 + (x >> 24) % 94;
	}
}

static void send_next(struct lws *wsi, struct pss *p)
{
	size_t n = sizes[c_sent % NSIZES];
	unsigned char *b = malloc(n);
	pattern(c_sent, b, n);
	queue(p, b, n, c_sent % 2);
	free(b);
	c_sent++;
	lws_callback_on_writable(wsi);
}

static int cb_client(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct pss *p = user;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(c_err, sizeof(c_err), "connection error: %s", in ? (char *)in : "?");
		c_done = 1;
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		memset(p, 0, sizeof(*p));
		if (c_count)
			send_next(wsi, p);
		else if (c_close)
			lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (lws_is_first_fragment(wsi))
			p->rxbin = lws_frame_is_binary(wsi);
		if (rx_append(p, in, len))
			return -1;
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			int i = c_ok + c_bad;
			size_t n = sizes[i % NSIZES];
			unsigned char *want = malloc(n);
			pattern(i, want, n);
			if (p->rxlen == n && !memcmp(want, p->rx, n) && p->rxbin == (i % 2))
				c_ok++;
			else
				c_bad++;
			free(want);
			p->rxlen = 0;
			if (c_ok + c_bad < c_count)
				send_next(wsi, p);
			else
				lws_callback_on_writable(wsi);
		}
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (p->head)
			return write_one(wsi, p);
		if (c_ok + c_bad >= c_count && c_close) {
			lws_close_reason(wsi, (enum lws_close_status)c_close, (unsigned char *)"bye", 3);
			return -1;
		}
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		c_got_close = close_code(in, len);
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_CLOSED:
		free_pss(p);
		c_done = 1;
		break;
	default:
		break;
	}
	return 0;
}

static struct lws_protocols client_protocols[] = {
	{"echo", cb_client, sizeof(struct pss), 65536, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0}};

static int run_client(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct lws_client_connect_info ci;
	struct lws_context *ctx;
	int tls = argc > 8 && !strcmp(argv[7], "tls");
	char host[300];

	if (argc < 7) {
		fprintf(stderr, "usage: lws_ws client HOST PORT PATH COUNT CLOSE [tls CAFILE]\n");
		return 2;
	}
	if (getenv("LWS_WS_SIZES")) { /* e.g. "1,125,126,65536" */
		char *e = getenv("LWS_WS_SIZES"), *end;
		for (NSIZES = 0; NSIZES < 16 && *e; e = *end ? end + 1 : end) {
			sizes[NSIZES++] = (int)strtol(e, &end, 10);
			if (end == e)
				break;
		}
	}
	c_count = atoi(argv[5]);
	c_close = atoi(argv[6]);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = client_protocols;
	if (tls) {
		info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.client_ssl_ca_filepath = argv[8];
	}
	ctx = lws_create_context(&info);
	if (!ctx)
		return 1;
	snprintf(host, sizeof(host), "%s:%s", argv[2], argv[3]);
	memset(&ci, 0, sizeof(ci));
	ci.context = ctx;
	ci.address = argv[2];
	ci.port = atoi(argv[3]);
	ci.path = argv[4];
	ci.host = host;
	ci.origin = "http://lws.test";
	ci.protocol = NULL;
	ci.local_protocol_name = "echo";
	ci.alpn = "http/1.1";
	if (tls)
		ci.ssl_connection = LCCSCF_USE_SSL;
	if (!lws_client_connect_via_info(&ci)) {
		printf("{\"ok\":0,\"bad\":0,\"error\":\"connect failed\"}\n");
		return 1;
	}
	for (int i = 0; !c_done && !interrupted && i < 600000; i++)
		if (lws_service(ctx, 0) < 0)
			break;
	lws_context_destroy(ctx);
	printf("{\"ok\":%d,\"bad\":%d,\"sent\":%d,\"close\":%d,\"error\":%s%s%s}\n", c_ok, c_bad, c_sent, c_got_close,
	       c_err[0] ? "\"" : "", c_err[0] ? c_err : "null", c_err[0] ? "\"" : "");
	fflush(stdout);
	return c_err[0] || c_bad || c_ok != c_count;
}

static void sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

int main(int argc, char **argv)
{
	signal(SIGINT, sigint);
	signal(SIGTERM, sigint);
	lws_set_log_level(getenv("LWS_DEBUG") ? LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO : LLL_ERR, NULL);
	if (argc > 1 && !strcmp(argv[1], "server"))
		return run_server(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "client"))
		return run_client(argc, argv);
	fprintf(stderr, "usage: lws_ws server|client ... (see the header of lws_ws.c)\n");
	return 2;
}
