/* SPDX-License-Identifier: Apache-2.0 */
/* Client connections for the load generator (see lg_net.h). OpenSSL runs
 * over the socket directly (a client does not need the memory-BIO split the
 * server uses), with partial writes so a 700 KB body is sent one TLS record
 * at a time as the socket drains. */
#include "perf/lg_net.h"
#include "perf/lg_sub.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

static bool is_ip(const char *h)
{
	struct in6_addr a;
	return inet_pton(AF_INET, h, &a) == 1 || inet_pton(AF_INET6, h, &a) == 1;
}

static int ctx_init(struct lg_net *n)
{
	const struct lg_config *cfg = n->cfg;
	n->ctx = SSL_CTX_new(TLS_client_method());
	if (!n->ctx)
		return -1;
	SSL_CTX_set_min_proto_version(n->ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(n->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
					 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* HTTP/1.1 only: the generator pipelines requests on one connection. */
	static const unsigned char alpn[] = "\x08http/1.1";
	SSL_CTX_set_alpn_protos(n->ctx, alpn, sizeof(alpn) - 1);
	if (cfg->insecure) {
		SSL_CTX_set_verify(n->ctx, SSL_VERIFY_NONE, NULL);
		return 0;
	}
	if (!cfg->ca_path[0]) {
		fprintf(stderr, "loadgen: https needs --ca FILE (or --insecure)\n");
		return -1;
	}
	if (SSL_CTX_load_verify_locations(n->ctx, cfg->ca_path, NULL) != 1) {
		fprintf(stderr, "loadgen: cannot load CA %s\n", cfg->ca_path);
		return -1;
	}
	SSL_CTX_set_verify(n->ctx, SSL_VERIFY_PEER, NULL);
	return 0;
}

int lg_net_init(struct lg_net *n, const struct lg_config *cfg)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	memset(n, 0, sizeof(*n));
	n->cfg = cfg;
	n->ep = epoll_create1(EPOLL_CLOEXEC);
	int rc = getaddrinfo(cfg->host, cfg->port, &hints, &res);
	if (rc || !res) {
		fprintf(stderr, "loadgen: cannot resolve %s:%s: %s\n", cfg->host, cfg->port,
			gai_strerror(rc));
		return -1;
	}
	n->addr = calloc(1, sizeof(*n->addr));
	memcpy(n->addr, res->ai_addr, res->ai_addrlen);
	n->addr_len = (uint32_t)res->ai_addrlen;
	freeaddrinfo(res);
	if (n->ep < 0 || (cfg->scheme_https && ctx_init(n))) {
		fprintf(stderr, "loadgen: TLS/epoll setup failed\n");
		return -1;
	}
	return 0;
}

void lg_net_fini(struct lg_net *n)
{
	SSL_CTX_free(n->ctx);
	free(n->addr);
	if (n->ep >= 0)
		close(n->ep);
}

static void arm(struct lg_net *n, struct lg_conn *c, bool out)
{
	struct epoll_event ev = { .events = EPOLLIN | (out ? EPOLLOUT : 0u), .data.ptr = c };
	if (out != c->out_armed) {
		epoll_ctl(n->ep, EPOLL_CTL_MOD, c->fd, &ev);
		c->out_armed = out;
	}
}

int lg_conn_start(struct lg_net *n, struct lg_conn *c)
{
	int one = 1;
	c->fd = socket(n->addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)n->addr, n->addr_len) && errno != EINPROGRESS) {
		int e = -errno;
		close(c->fd);
		c->fd = -1;
		return e;
	}
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
	epoll_ctl(n->ep, EPOLL_CTL_ADD, c->fd, &ev);
	c->out_armed = true;
	c->st = LG_C_CONNECTING;
	c->rlen = 0;
	c->n_written = c->w_seg = c->w_off = 0;
	return 0;
}

/* Drops the connection; queued requests complete with status 0. */
static void conn_fail(struct lg_net *n, struct lg_conn *c, const char *why, lg_on_response cb,
		      void *arg)
{
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		epoll_ctl(n->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	c->st = LG_C_IDLE;
	c->failures++;
	while (c->n) {
		struct lg_req *r = &c->q[c->head];
		c->head = (c->head + 1) % c->cap;
		c->n--;
		cb(arg, c, r, 0, why, (uint32_t)strlen(why));
	}
	c->n_written = c->w_seg = c->w_off = 0;
	c->in_stream = false;
}

static int tls_begin(struct lg_net *n, struct lg_conn *c)
{
	const struct lg_config *cfg = n->cfg;
	c->ssl = SSL_new(n->ctx);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return -1;
	if (!cfg->insecure) {
		if (is_ip(cfg->host)) {
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), cfg->host);
		} else {
			SSL_set_tlsext_host_name(c->ssl, cfg->host);
			SSL_set1_host(c->ssl, cfg->host);
		}
	} else if (!is_ip(cfg->host)) {
		SSL_set_tlsext_host_name(c->ssl, cfg->host);
	}
	c->st = LG_C_HANDSHAKE;
	return 0;
}

/* Returns 1 done, 0 in progress, -1 failed. */
static int handshake(struct lg_net *n, struct lg_conn *c)
{
	int rc = SSL_connect(c->ssl);
	if (rc == 1) {
		c->st = LG_C_READY;
		arm(n, c, false);
		return 1;
	}
	int e = SSL_get_error(c->ssl, rc);
	if (e == SSL_ERROR_WANT_READ) {
		arm(n, c, false);
		return 0;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		arm(n, c, true);
		return 0;
	}
	long vr = SSL_get_verify_result(c->ssl);
	fprintf(stderr, "loadgen: TLS handshake failed: %s\n",
		vr != X509_V_OK ? X509_verify_cert_error_string(vr)
				: ERR_reason_error_string(ERR_peek_last_error()));
	ERR_clear_error();
	return -1;
}

/* Sends bytes; returns >0 sent, 0 would block, -1 error. */
static ssize_t conn_send(struct lg_conn *c, const char *p, size_t len)
{
	if (!c->ssl) {
		ssize_t w = send(c->fd, p, len, MSG_NOSIGNAL);
		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		return w;
	}
	int w = SSL_write(c->ssl, p, (int)(len > (1u << 30) ? 1u << 30 : len));
	if (w > 0)
		return w;
	int e = SSL_get_error(c->ssl, w);
	return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? 0 : -1;
}

void lg_conn_flush(struct lg_net *n, struct lg_conn *c, lg_on_response cb, void *arg)
{
	if (c->st != LG_C_READY)
		return;
	while (c->n_written < c->n) {
		struct lg_req *r = &c->q[(c->head + c->n_written) % c->cap];
		const char *p = c->w_seg == 0 ? r->hdr : r->body;
		uint32_t len = c->w_seg == 0 ? r->hdr_len : r->body_len;
		ssize_t w = len > c->w_off ? conn_send(c, p + c->w_off, len - c->w_off) : 0;
		if (w < 0) {
			conn_fail(n, c, "connection error (write)", cb, arg);
			return;
		}
		if (len > c->w_off && w == 0) {
			arm(n, c, true);
			return;
		}
		c->w_off += (uint32_t)w;
		if (c->w_off < len)
			continue;
		c->w_off = 0;
		if (c->w_seg == 0) {
			c->w_seg = 1;
		} else {
			c->w_seg = 0;
			c->n_written++;
		}
	}
	arm(n, c, false);
}

/* Parses one complete response at p[0..len): returns its total length, 0 when
 * incomplete, -1 malformed. */
static int64_t parse_response(const char *p, uint32_t len, int *status, uint32_t *body_off,
			      uint32_t *body_len, bool *chunked)
{
	const char *end = memmem(p, len, "\r\n\r\n", 4);
	if (!end)
		return len > 65536 ? -1 : 0;
	uint32_t head = (uint32_t)(end - p) + 4;
	if (len < 12 || memcmp(p, "HTTP/1.", 7))
		return -1;
	*status = atoi(p + 9);
	int64_t cl = -1;
	for (const char *l = memchr(p, '\n', head); l && l < end; l = memchr(l, '\n', end - l)) {
		l++;
		if (!strncasecmp(l, "content-length:", 15))
			cl = strtoll(l + 15, NULL, 10);
		else if (!strncasecmp(l, "transfer-encoding:", 18))
			*chunked = true; /* SubscribeToShard's event stream */
	}
	if (*chunked) {
		*body_off = head;
		*body_len = 0;
		return head; /* the chunks are read one by one (complete) */
	}
	if (cl < 0)
		cl = 0;
	*body_off = head;
	*body_len = (uint32_t)cl;
	return (uint64_t)head + (uint64_t)cl <= len ? (int64_t)head + cl : 0;
}

/* Receives into rbuf; returns >0 bytes, 0 would block, -1 error or EOF. */
static ssize_t conn_recv(struct lg_conn *c)
{
	if (c->rcap - c->rlen < 16384) {
		uint32_t ncap = c->rcap ? c->rcap * 2 : 65536;
		if (ncap > LG_RBUF_MAX)
			return -1;
		char *nb = realloc(c->rbuf, ncap);
		if (!nb)
			return -1;
		c->rbuf = nb;
		c->rcap = ncap;
	}
	size_t room = c->rcap - c->rlen;
	if (!c->ssl) {
		ssize_t r = recv(c->fd, c->rbuf + c->rlen, room, 0);
		if (r == 0)
			return -1;
		if (r < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		return r;
	}
	int r = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(room > (1u << 30) ? 1u << 30 : room));
	if (r > 0)
		return r;
	int e = SSL_get_error(c->ssl, r);
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

static void complete(struct lg_net *n, struct lg_conn *c, lg_on_response cb, void *arg)
{
	uint32_t off = 0;
	for (;;) {
		int status = 0;
		uint32_t bo = 0, bl = 0;
		bool chunked = false;
		if (c->in_stream) {
			int64_t t = lg_chunk_next(c->rbuf + off, c->rlen - off, &bo, &bl);
			if (t == 0)
				break;
			if (t < 0) {
				conn_fail(n, c, "malformed chunk", cb, arg);
				return;
			}
			struct lg_req *r = &c->q[c->head];
			off += (uint32_t)t;
			if (bl) {
				n->on_chunk(arg, c, r, c->rbuf + off - t + bo, bl);
				continue;
			}
			c->in_stream = false;
			c->head = (c->head + 1) % c->cap;
			c->n--;
			c->n_written--;
			cb(arg, c, r, c->stream_status, "", 0);
			continue;
		}
		int64_t t = parse_response(c->rbuf + off, c->rlen - off, &status, &bo, &bl, &chunked);
		if (t == 0)
			break;
		if (t < 0 || !c->n || c->n_written == 0 || (chunked && !n->on_chunk)) {
			conn_fail(n, c, "malformed or unexpected response", cb, arg);
			return;
		}
		if (chunked) {
			c->in_stream = true;
			c->stream_status = status;
			off += (uint32_t)t;
			continue;
		}
		struct lg_req *r = &c->q[c->head];
		c->head = (c->head + 1) % c->cap;
		c->n--;
		c->n_written--;
		cb(arg, c, r, status, c->rbuf + off + bo, bl);
		off += (uint32_t)t;
	}
	if (off) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
}

static void read_all(struct lg_net *n, struct lg_conn *c, lg_on_response cb, void *arg)
{
	for (;;) {
		ssize_t r = conn_recv(c);
		if (r < 0) {
			conn_fail(n, c, "connection closed by peer", cb, arg);
			return;
		}
		if (r == 0)
			break;
		c->rlen += (uint32_t)r;
		complete(n, c, cb, arg);
		if (c->st != LG_C_READY)
			return;
	}
}

void lg_conn_event(struct lg_net *n, struct lg_conn *c, uint32_t events, lg_on_response cb,
		   void *arg)
{
	if (c->st == LG_C_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err || (events & (EPOLLERR | EPOLLHUP))) {
			conn_fail(n, c, "connect failed", cb, arg);
			return;
		}
		if (!(events & EPOLLOUT))
			return;
		if (!n->cfg->scheme_https) {
			c->st = LG_C_READY;
			arm(n, c, false);
		} else if (tls_begin(n, c)) {
			conn_fail(n, c, "TLS setup failed", cb, arg);
			return;
		}
	}
	if (c->st == LG_C_HANDSHAKE) {
		int h = handshake(n, c);
		if (h < 0)
			conn_fail(n, c, "TLS handshake failed", cb, arg);
		if (h <= 0)
			return;
	}
	if (c->st != LG_C_READY)
		return;
	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		read_all(n, c, cb, arg);
	if (c->st == LG_C_READY && (events & EPOLLOUT || c->n_written < c->n))
		lg_conn_flush(n, c, cb, arg);
}

struct lg_req *lg_conn_slot(struct lg_conn *c)
{
	if (c->st != LG_C_READY || c->n == c->cap)
		return NULL;
	struct lg_req *r = &c->q[(c->head + c->n) % c->cap];
	r->sent_ns = 0;
	return r;
}

void lg_conn_push(struct lg_conn *c)
{
	c->n++;
}
