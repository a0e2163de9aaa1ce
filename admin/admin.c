/* SPDX-License-Identifier: Apache-2.0 */
/* The admin listener's thread: one poll(2) loop over the listening socket
 * and at most ADMIN_CONNS_MAX connections, each answering one request and
 * closing (Prometheus and probes open a connection per scrape anyway).
 *
 * Bounds: ADMIN_CONNS_MAX connections (a newcomer past it is closed at
 * once), ADMIN_HEAD_MAX request bytes (431), ADMIN_REQ_TIMEOUT_MS from
 * accept to the last byte sent (then closed), ADMIN_METRICS_MAX_BYTES of
 * exposition (500 past it). Sockets are non-blocking: a slow client costs a
 * slot, never the loop.
 *
 * Secrets: the bearer token is read once, kept in memory, compared in
 * constant time (SHA-256 of both sides, CRYPTO_memcmp) and never logged. */
#include "admin/admin.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "admin/admin_internal.h"
#include "admin/admin_parse.h"
#include "common/clock.h"
#include "common/file.h"
#include "common/log.h"
#include "common/prom.h"
#include "controlplane/cp.h"
#include "crypto/tls.h"
#include "dataplane/core/core.h"
#include "dataplane/log/log.h"
#include "dataplane/metrics/mx.h"

#define ADMIN_CONNS_MAX 16
#define ADMIN_REQ_TIMEOUT_MS 10000
#define ADMIN_POLL_MS 200
#define ADMIN_METRICS_MAX_BYTES (64u << 20)
#define ADMIN_TOKEN_MAX 4096

struct admin_conn {
	int fd; /* -1: free */
	struct tls_conn *tls;
	uint64_t deadline_ms;
	char in[ADMIN_HEAD_MAX];
	size_t in_len;
	bool answered;
	char *out; /* what is left to send (ciphertext with TLS) */
	size_t out_len, out_off;
};

struct admin {
	struct admin_config ac;
	const struct sl_config *cfg;
	int lfd;
	uint16_t port;
	struct tls_server *tls;
	uint8_t token_hash[32];
	bool has_token;
	pthread_t thread;
	atomic_bool stop;
	struct admin_conn conns[ADMIN_CONNS_MAX];
	struct admin_health health;
	char addr_path[SL_PATH_MAX + 32];
};

static void sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned len = 32;
	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1)
		memset(out, 0xff, 32); /* never equal to a real token's hash by chance */
}

/* The token file: regular, ours, mode 0600 or stricter, one line. */
static int load_token(struct admin *a, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = 0;
	char buf[ADMIN_TOKEN_MAX + 1];
	ssize_t n = 0;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode) || (st.st_mode & 077))
		rc = -EPERM;
	else if ((n = read(fd, buf, ADMIN_TOKEN_MAX)) < 0)
		rc = -errno;
	close(fd);
	if (rc < 0)
		return rc;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	if (n == 0)
		return -EINVAL;
	sha256(buf, (size_t)n, a->token_hash);
	OPENSSL_cleanse(buf, sizeof(buf));
	a->has_token = true;
	return 0;
}

/* "Bearer <token>" against the configured token, in constant time. */
static bool token_ok(const struct admin *a, const struct admin_req *r)
{
	if (!a->has_token)
		return true;
	if (r->auth_too_long || strncasecmp(r->auth, "Bearer ", 7) != 0) /* scheme: any case */
		return false;
	uint8_t h[32];
	sha256(r->auth + 7, strlen(r->auth + 7), h);
	return CRYPTO_memcmp(h, a->token_hash, 32) == 0;
}

static int listen_on(struct admin *a)
{
	char port[8];
	snprintf(port, sizeof(port), "%u", a->cfg->admin_port);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	if (getaddrinfo(a->cfg->admin_host, port, &hints, &ai) != 0 || !ai)
		return -EINVAL;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, rc = 0;
	if (fd < 0) {
		rc = -errno;
	} else if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		   bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		rc = -errno;
		close(fd);
	}
	freeaddrinfo(ai);
	if (rc < 0)
		return rc;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	a->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
						  ((struct sockaddr_in *)&ss)->sin_port);
	a->lfd = fd;
	return 0;
}

static void conn_close(struct admin_conn *c)
{
	if (c->fd < 0)
		return;
	close(c->fd);
	tls_conn_free(c->tls);
	free(c->out);
	c->tls = NULL;
	c->out = NULL;
	c->fd = -1;
}

/* Queues bytes to send: through TLS when the connection has it. */
static int queue_out(struct admin_conn *c, const char *p, size_t n)
{
	if (c->tls) {
		ssize_t w = tls_conn_write(c->tls, p, n);
		if (w < 0 || (size_t)w != n)
			return -EPROTO;
		return 0;
	}
	char *o = realloc(c->out, c->out_len + n);
	if (!o)
		return -ENOMEM;
	memcpy(o + c->out_len, p, n);
	c->out = o;
	c->out_len += n;
	return 0;
}

/* With TLS: moves the ciphertext TLS has made into the send buffer. */
static int take_tls_out(struct admin_conn *c)
{
	if (!c->tls)
		return 0;
	size_t n = tls_conn_pending_out(c->tls);
	if (n == 0)
		return 0;
	char *o = realloc(c->out, c->out_len + n);
	if (!o)
		return -ENOMEM;
	c->out = o;
	c->out_len += tls_conn_take_out(c->tls, o + c->out_len, n);
	return 0;
}

static void respond(struct admin_conn *c, int status, const char *reason, const char *ctype,
		    const char *extra_hdr, const char *body, size_t body_len)
{
	char head[1024]; /* the status page's policy is ~400 bytes */
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Cache-Control: no-store\r\n%sConnection: close\r\n\r\n",
			 status, reason, ctype, body_len, extra_hdr ? extra_hdr : "");
	c->answered = true;
	if (n < 0 || (size_t)n >= sizeof(head) || queue_out(c, head, (size_t)n) < 0 ||
	    queue_out(c, body, body_len) < 0 || take_tls_out(c) < 0)
		conn_close(c);
}

static void respond_text(struct admin_conn *c, int status, const char *reason, const char *body)
{
	respond(c, status, reason, "text/plain; charset=utf-8", NULL, body, strlen(body));
}

static void serve_metrics(struct admin *a, struct admin_conn *c, const struct admin_req *r)
{
	struct prom_buf b;
	prom_init(&b, ADMIN_METRICS_MAX_BYTES, prom_wants_openmetrics(r->accept));
	admin_scrape(a->ac.sh, a->ac.cp, &a->health, a->ac.version, a->ac.route_reader, &b);
	if (a->ac.scrape_extra)
		a->ac.scrape_extra(a->ac.scrape_ctx, &b);
	prom_end(&b);
	if (b.overflow) {
		SL_WARN("admin: /metrics did not fit in %u bytes", ADMIN_METRICS_MAX_BYTES);
		respond_text(c, 500, "Internal Server Error", "metrics too large\n");
	} else {
		respond(c, 200, "OK", b.openmetrics ? PROM_CT_OPENMETRICS : PROM_CT_TEXT, NULL,
			b.p ? b.p : "", b.len);
	}
	prom_free(&b);
}

/* The status page and its policy: generated from admin/status.html by
 * admin/embed_page.py (the policy allows the inline script and style by
 * their hashes, nothing from elsewhere). */
#include "admin/admin_page.h"

static_assert(sizeof(ADMIN_PAGE_CSP) < 600, "the page's headers fit respond()'s head[]");

static void serve_page(struct admin_conn *c)
{
	respond(c, 200, "OK", "text/html; charset=utf-8",
		"Content-Security-Policy: " ADMIN_PAGE_CSP "\r\nX-Content-Type-Options: nosniff\r\n"
		"Referrer-Policy: no-referrer\r\n",
		admin_page_html, sizeof(admin_page_html) - 1);
}

static void serve_status(struct admin *a, struct admin_conn *c)
{
	char *body = NULL;
	size_t len = 0;
	if (admin_status_json(a->ac.sh, a->ac.route_reader, a->ac.version,
			      ADMIN_STATUS_MAX_BYTES, &body, &len) < 0) {
		respond_text(c, 500, "Internal Server Error", "out of memory\n");
		return;
	}
	respond(c, 200, "OK", "application/json", "X-Content-Type-Options: nosniff\r\n", body,
		len);
	free(body);
}

static void serve(struct admin *a, struct admin_conn *c, const struct admin_req *r)
{
	if (strcmp(r->method, "GET") != 0) {
		respond(c, 405, "Method Not Allowed", "text/plain; charset=utf-8", "Allow: GET\r\n",
			"only GET\n", 9);
		return;
	}
	/* Probes stay open (an orchestrator's liveness check carries no
	 * secret); what shows the streams needs the token. */
	if (strcmp(r->path, "/healthz") == 0) {
		respond_text(c, 200, "OK", "ok\n");
		return;
	}
	if (strcmp(r->path, "/readyz") == 0) {
		char why[1024];
		if (admin_ready(a->ac.sh, a->ac.cp, &a->health, why, sizeof(why)))
			respond_text(c, 200, "OK", "ready\n");
		else
			respond_text(c, 503, "Service Unavailable", why);
		return;
	}
	if (!token_ok(a, r)) {
		respond(c, 401, "Unauthorized", "text/plain; charset=utf-8",
			"WWW-Authenticate: Bearer realm=\"sluice-admin\"\r\n",
			"bearer token required\n", 22);
		return;
	}
	if (strcmp(r->path, "/metrics") == 0)
		serve_metrics(a, c, r);
	else if (strcmp(r->path, "/status.json") == 0)
		serve_status(a, c);
	else if (strcmp(r->path, "/") == 0)
		serve_page(c);
	else
		respond_text(c, 404, "Not Found", "not found\n");
}

/* Plaintext arrived in c->in: answer once the head is whole. */
static void on_plain(struct admin *a, struct admin_conn *c)
{
	struct admin_req r;
	int n = admin_parse(c->in, c->in_len, &r);
	if (n == 0)
		return;
	if (n == -EMSGSIZE)
		respond_text(c, 431, "Request Header Fields Too Large", "head too large\n");
	else if (n < 0)
		respond_text(c, 400, "Bad Request", "bad request\n");
	else
		serve(a, c, &r);
}

static void on_readable(struct admin *a, struct admin_conn *c)
{
	char buf[4096];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (n < 0 || c->answered) /* bytes after the request: ignored */
		return;
	if (!c->tls) {
		size_t take = (size_t)n < sizeof(c->in) - c->in_len ? (size_t)n :
								       sizeof(c->in) - c->in_len;
		memcpy(c->in + c->in_len, buf, take);
		c->in_len += take;
		on_plain(a, c);
		return;
	}
	if (tls_conn_feed(c->tls, buf, (size_t)n) < 0) {
		conn_close(c);
		return;
	}
	/* Bounded: each read takes plaintext out of what was just fed, at
	 * most sizeof(c->in) in all before the head is refused. */
	for (;;) {
		size_t room = sizeof(c->in) - c->in_len;
		ssize_t p = room ? tls_conn_read(c->tls, c->in + c->in_len, room) : 0;
		if (p < 0) {
			(void)take_tls_out(c); /* the alert, if any */
			c->answered = true;
			break;
		}
		if (p == 0)
			break;
		c->in_len += (size_t)p;
		on_plain(a, c);
		if (c->fd < 0 || c->answered)
			return;
	}
	if (c->fd >= 0 && take_tls_out(c) < 0)
		conn_close(c);
	if (c->fd >= 0 && !c->answered && c->in_len == sizeof(c->in))
		on_plain(a, c);
}

static void on_writable(struct admin_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->answered)
		conn_close(c); /* everything is out: Connection: close */
}

static void on_accept(struct admin *a, uint64_t now)
{
	/* Bounded: at most one accept per free slot, plus one refused. */
	for (int k = 0; k <= ADMIN_CONNS_MAX; k++) {
		int fd = accept4(a->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct admin_conn *c = NULL;
		for (int i = 0; i < ADMIN_CONNS_MAX && !c; i++)
			if (a->conns[i].fd < 0)
				c = &a->conns[i];
		if (!c) {
			close(fd); /* ADMIN_CONNS_MAX busy: refused */
			a->health.refused++;
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->deadline_ms = now + ADMIN_REQ_TIMEOUT_MS;
		if (a->tls && !(c->tls = tls_conn_new(a->tls))) {
			close(fd);
			c->fd = -1;
		}
	}
}

static void *admin_main(void *arg)
{
	struct admin *a = arg;
	sl_log_thread_name("admin");
	struct pollfd p[ADMIN_CONNS_MAX + 1];
	struct admin_conn *pc[ADMIN_CONNS_MAX + 1];
	while (!atomic_load_explicit(&a->stop, memory_order_acquire)) {
		uint64_t now = sl_mono_ms();
		admin_health_tick(a->ac.sh, a->ac.cp, &a->health, now);
		nfds_t n = 0;
		p[n++] = (struct pollfd){ .fd = a->lfd, .events = POLLIN };
		for (int i = 0; i < ADMIN_CONNS_MAX; i++) {
			struct admin_conn *c = &a->conns[i];
			if (c->fd < 0)
				continue;
			if (now >= c->deadline_ms) {
				conn_close(c);
				continue;
			}
			pc[n] = c;
			short ev = c->out_off < c->out_len ? POLLOUT : 0;
			if (!c->answered)
				ev |= POLLIN;
			p[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
		}
		int r = poll(p, n, ADMIN_POLL_MS);
		if (r <= 0)
			continue;
		now = sl_mono_ms();
		for (nfds_t i = 1; i < n; i++) {
			struct admin_conn *c = pc[i];
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
				on_readable(a, c);
			if (c->fd >= 0 && c->out_off < c->out_len)
				on_writable(c);
			else if (c->fd >= 0 && c->answered && c->out_off == c->out_len)
				conn_close(c);
		}
		if (p[0].revents & POLLIN)
			on_accept(a, now);
	}
	for (int i = 0; i < ADMIN_CONNS_MAX; i++)
		conn_close(&a->conns[i]);
	return NULL;
}

static int write_addr(struct admin *a)
{
	const struct sl_config *cfg = a->cfg;
	char line[sizeof(cfg->admin_host) + 16];
	bool v6 = strchr(cfg->admin_host, ':') != NULL;
	int n = snprintf(line, sizeof(line), v6 ? "[%s]:%u\n" : "%s:%u\n", cfg->admin_host,
			 a->port);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -ENAMETOOLONG;
	snprintf(a->addr_path, sizeof(a->addr_path), "%s/sluiced.admin", cfg->data_dir);
	return sl_file_replace(a->addr_path, line, (size_t)n, 0644);
}

static void admin_free(struct admin *a)
{
	if (a->lfd >= 0)
		close(a->lfd);
	tls_server_free(a->tls);
	OPENSSL_cleanse(a->token_hash, sizeof(a->token_hash));
	free(a);
}

struct admin *admin_start(const struct admin_config *ac)
{
	struct admin *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->ac = *ac;
	a->cfg = ac->sh->cfg;
	a->lfd = -1;
	for (int i = 0; i < ADMIN_CONNS_MAX; i++)
		a->conns[i].fd = -1;
	int rc = 0;
	if (a->cfg->admin_token_file[0] && (rc = load_token(a, a->cfg->admin_token_file)) < 0) {
		SL_ERR("--admin-token-file %s: %s", a->cfg->admin_token_file,
		       rc == -EPERM ? "must be a regular file of mode 0600" :
		       rc == -EINVAL ? "empty" : strerror(-rc));
		goto fail;
	}
	if (a->cfg->admin_tls) {
		static const unsigned char alpn[] = "\x08http/1.1";
		struct tls_server_config tc = {
			.cert_path = ac->sh->tls_cert_path, .key_path = ac->sh->tls_key_path,
			.client_ca_path =
				a->cfg->admin_client_ca[0] ? a->cfg->admin_client_ca : NULL,
			.alpn = alpn, .alpn_len = sizeof(alpn) - 1 };
		char err[256];
		a->tls = tls_server_new(&tc, err, sizeof(err));
		if (!a->tls) {
			SL_ERR("admin TLS: %s", err);
			rc = -EINVAL;
			goto fail;
		}
	}
	if ((rc = listen_on(a)) < 0) {
		SL_ERR("admin listener on %s:%u: %s", a->cfg->admin_host, a->cfg->admin_port,
		       strerror(-rc));
		goto fail;
	}
	if ((rc = write_addr(a)) < 0) {
		SL_ERR("cannot write %s/sluiced.admin: %s", a->cfg->data_dir, strerror(-rc));
		goto fail;
	}
	admin_health_init(ac->sh, ac->cp, &a->health, sl_mono_ms());
	if ((rc = -pthread_create(&a->thread, NULL, admin_main, a)) < 0) {
		unlink(a->addr_path);
		goto fail;
	}
	SL_INFO("admin listener on %s://%s:%u (/metrics /healthz /readyz)",
		a->tls ? "https" : "http", a->cfg->admin_host, a->port);
	return a;
fail:
	admin_free(a);
	errno = -rc;
	return NULL;
}

uint16_t admin_port(const struct admin *a)
{
	return a->port;
}

void admin_stop(struct admin *a)
{
	if (!a)
		return;
	atomic_store_explicit(&a->stop, true, memory_order_release);
	pthread_join(a->thread, NULL);
	unlink(a->addr_path);
	admin_free(a);
}
