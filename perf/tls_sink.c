/* SPDX-License-Identifier: Apache-2.0 */
/* tls_sink: the network+TLS limit for compare.sh. Accepts TLS connections
 * through our own TLS layer (crypto/tls.h, memory BIOs: the same code and
 * policy sluiced terminates with), decrypts and drops every request body, and
 * answers each HTTP request with a minimal 200 so the load generator's
 * request/response loop runs unchanged. No HTTP validation, no SigV4, no
 * JSON, no storage: what sluice does beyond this is its own cost.
 *
 *   tls_sink --listen 127.0.0.1:0 --dir DIR [--cpu N] [--put-ok]
 * --put-ok: answer each request, once its body is in, as a PutRecords that
 * accepted every record (one Records entry per "PartitionKey" in the body):
 * a cheap upstream for a mirror (compare.sh --mirror), which checks that
 * the answer has exactly as many entries as it sent.
 * DIR/tls/ holds generated material (ca.pem for the client), DIR/sink.addr
 * the bound HOST:PORT. Single thread, epoll, plain sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/tls.h"

#define SINK_IO_BYTES (256u * 1024u)
#define SINK_HEAD_MAX 16384u

struct sink_conn {
	int fd;
	struct tls_conn *tls;
	uint64_t body_left;	/* request body bytes still to drop */
	bool answer_after_body;	/* --put-ok: the answer waits for the body */
	uint8_t pk_matched;	/* bytes of "PartitionKey" matched so far */
	uint32_t pk_count;	/* "PartitionKey"s in this body */
	uint32_t head_len;
	char head[SINK_HEAD_MAX];
	char *out;		/* ciphertext the socket did not take yet */
	uint32_t out_len, out_cap;
};

static const char resp200[] = "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
			      "Content-Length: 2\r\n\r\n{}";

static volatile sig_atomic_t stop_flag;
static bool put_ok;

static const char pk_pat[] = "\"PartitionKey\"";
#define PK_ENTRY "{\"SequenceNumber\":\"1\",\"ShardId\":\"shardId-000000000000\"}"
#define SINK_PUT_MAX 500u /* PutRecords' limit */

/* Counts "PartitionKey" in body bytes, across chunk boundaries. The
 * pattern's first byte (a quote) occurs again only as its last, so after a
 * mismatch a new match can only start at the current byte. */
static void count_keys(struct sink_conn *c, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == pk_pat[c->pk_matched]) {
			if (++c->pk_matched == sizeof(pk_pat) - 1) {
				c->pk_count++;
				c->pk_matched = 0;
			}
		} else {
			c->pk_matched = p[i] == '"';
		}
	}
}

/* A PutRecords answer that accepted c->pk_count records. */
static int answer_put(struct sink_conn *c)
{
	static char body[64 + SINK_PUT_MAX * (sizeof(PK_ENTRY) + 1)], resp[sizeof(body) + 128];
	uint32_t n = c->pk_count < SINK_PUT_MAX ? c->pk_count : SINK_PUT_MAX;
	size_t bl = (size_t)snprintf(body, sizeof(body), "{\"FailedRecordCount\":0,\"Records\":[");
	for (uint32_t i = 0; i < n; i++)
		bl += (size_t)snprintf(body + bl, sizeof(body) - bl, "%s" PK_ENTRY, i ? "," : "");
	bl += (size_t)snprintf(body + bl, sizeof(body) - bl, "]}");
	int rl = snprintf(resp, sizeof(resp),
			  "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.1\r\n"
			  "Content-Length: %zu\r\n\r\n%s", bl, body);
	c->pk_count = 0;
	c->pk_matched = 0;
	c->answer_after_body = false;
	return tls_conn_write(c->tls, resp, (size_t)rl) < 0 ? -1 : 0;
}
static uint8_t io_buf[SINK_IO_BYTES];
static char plain[SINK_IO_BYTES];

static void on_signal(int s)
{
	(void)s;
	stop_flag = 1;
}

static void conn_close(int ep, struct sink_conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	tls_conn_free(c->tls);
	free(c->out);
	free(c);
}

/* Sends queued ciphertext; returns -1 on a dead socket. */
static int flush_out(int ep, struct sink_conn *c)
{
	for (;;) {
		if (!c->out_len) {
			size_t n = tls_conn_take_out(c->tls, io_buf, sizeof(io_buf));
			if (!n)
				break;
			if (n > c->out_cap) {
				char *nb = realloc(c->out, n);
				if (!nb)
					return -1;
				c->out = nb;
				c->out_cap = (uint32_t)n;
			}
			memcpy(c->out, io_buf, n);
			c->out_len = (uint32_t)n;
		}
		ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0)
			return -1;
		memmove(c->out, c->out + w, c->out_len - (size_t)w);
		c->out_len -= (uint32_t)w;
	}
	struct epoll_event ev = { .events = EPOLLIN | (c->out_len ? EPOLLOUT : 0u), .data.ptr = c };
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	return 0;
}

/* Consumes plaintext: request heads are collected until the blank line,
 * bodies are skipped by Content-Length. Returns -1 on a bad request. */
static int eat(struct sink_conn *c, const char *p, size_t n)
{
	while (n) {
		if (c->body_left) {
			size_t k = n < c->body_left ? n : (size_t)c->body_left;
			if (c->answer_after_body)
				count_keys(c, p, k);
			c->body_left -= k;
			p += k;
			n -= k;
			if (!c->body_left && c->answer_after_body && answer_put(c) < 0)
				return -1;
			continue;
		}
		size_t k = SINK_HEAD_MAX - c->head_len < n ? SINK_HEAD_MAX - c->head_len : n;
		memcpy(c->head + c->head_len, p, k);
		uint32_t scan = c->head_len > 3 ? c->head_len - 3 : 0;
		c->head_len += (uint32_t)k;
		char *end = memmem(c->head + scan, c->head_len - scan, "\r\n\r\n", 4);
		if (!end) {
			if (c->head_len == SINK_HEAD_MAX)
				return -1;
			return 0;
		}
		uint32_t hl = (uint32_t)(end - c->head) + 4;
		uint64_t cl = 0;
		for (char *l = c->head; l && l < end; l = memchr(l, '\n', (size_t)(end - l))) {
			l += *l == '\n';
			if (!strncasecmp(l, "content-length:", 15))
				cl = strtoull(l + 15, NULL, 10);
		}
		/* bytes of this chunk past the head belong to the body */
		size_t used = k - (c->head_len - hl);
		p += used;
		n -= used;
		c->head_len = 0;
		c->body_left = cl;
		if (put_ok) {
			c->answer_after_body = true;
			if (!cl && answer_put(c) < 0)
				return -1;
		} else if (tls_conn_write(c->tls, resp200, sizeof(resp200) - 1) < 0) {
			return -1;
		}
	}
	return 0;
}

static int on_readable(struct sink_conn *c)
{
	for (;;) {
		ssize_t r = recv(c->fd, io_buf, sizeof(io_buf), 0);
		if (r == 0)
			return -1;
		if (r < 0)
			return errno == EAGAIN ? 0 : -1;
		if (tls_conn_feed(c->tls, io_buf, (size_t)r))
			return -1;
		ssize_t n;
		while ((n = tls_conn_read(c->tls, plain, sizeof(plain))) > 0)
			if (eat(c, plain, (size_t)n))
				return -1;
		if (n < 0)
			return -1;
	}
}

static int listen_on(const char *hostport, char *bound, size_t cap)
{
	char host[64];
	const char *colon = strrchr(hostport, ':');
	if (!colon || (size_t)(colon - hostport) >= sizeof(host))
		return -1;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - hostport), hostport);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -1;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	socklen_t al = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1024) ||
	    getsockname(fd, (struct sockaddr *)&a, &al))
		return -1;
	snprintf(bound, cap, "%s:%u", host, ntohs(a.sin_port));
	return fd;
}

static struct tls_server *server_new(const char *dir)
{
	char tdir[600], cert[700], key[700], err[256];
	snprintf(tdir, sizeof(tdir), "%s/tls", dir);
	snprintf(cert, sizeof(cert), "%s/server.pem", tdir);
	snprintf(key, sizeof(key), "%s/server.key", tdir);
	if (tls_material_ensure(tdir, NULL)) {
		fprintf(stderr, "tls_sink: cannot create TLS material in %s\n", tdir);
		return NULL;
	}
	static const unsigned char alpn[] = "\x08http/1.1";
	struct tls_server_config cfg = {
		.cert_path = cert, .key_path = key, .alpn = alpn, .alpn_len = sizeof(alpn) - 1,
	};
	struct tls_server *s = tls_server_new(&cfg, err, sizeof(err));
	if (!s)
		fprintf(stderr, "tls_sink: %s\n", err);
	return s;
}

static void accept_all(int ep, int lfd, struct tls_server *srv)
{
	int fd, one = 1;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct sink_conn *c = calloc(1, sizeof(*c));
		if (!c || !(c->tls = tls_conn_new(srv))) {
			free(c);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

int main(int argc, char **argv)
{
	const char *listen_s = "127.0.0.1:0", *dir = NULL;
	int cpu = -1;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--put-ok"))
			put_ok = true;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--put-ok")) {
			i--; /* a flag without a value */
			continue;
		}
		if (!strcmp(argv[i], "--listen"))
			listen_s = argv[i + 1];
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--cpu"))
			cpu = atoi(argv[i + 1]);
	}
	if (!dir) {
		fprintf(stderr, "usage: tls_sink --listen HOST:PORT --dir DIR [--cpu N] [--put-ok]\n");
		return 2;
	}
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	struct tls_server *srv = server_new(dir);
	char bound[96], path[600];
	int lfd = srv ? listen_on(listen_s, bound, sizeof(bound)) : -1;
	if (lfd < 0) {
		fprintf(stderr, "tls_sink: cannot listen on %s\n", listen_s);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/sink.addr", dir);
	FILE *f = fopen(path, "w");
	if (f) {
		fprintf(f, "%s\n", bound);
		fclose(f);
	}
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
	while (!stop_flag) {
		struct epoll_event ev[64];
		int n = epoll_wait(ep, ev, 64, 200);
		for (int i = 0; i < n; i++) {
			struct sink_conn *c = ev[i].data.ptr;
			if (!c) {
				accept_all(ep, lfd, srv);
				continue;
			}
			if ((ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && on_readable(c)) {
				conn_close(ep, c);
				continue;
			}
			if (flush_out(ep, c))
				conn_close(ep, c);
		}
	}
	close(lfd);
	close(ep);
	tls_server_free(srv);
	return 0;
}
