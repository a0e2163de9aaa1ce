/* SPDX-License-Identifier: Apache-2.0 */
/* etcd v3 over its JSON gateway (cp_etcd.h): a blocking HTTP/1.1 client on
 * one kept-alive socket, plain or TLS, and the two parsers of what comes
 * back (the HTTP framing, the JSON answer). Only the control thread calls
 * it; a call blocks the control thread for at most a few timeouts, which
 * is what a metadata write costs anyway (the client is waiting for it). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/base64.h"
#include "common/bug.h"
#include "common/log.h"
#include "controlplane/cp_etcd.h"

#define ETCD_HEAD_MAX_BYTES 8192u /* the answer's status line and headers */

struct etcd {
	char host[256];
	char port[8];
	bool tls;
	uint32_t timeout_ms;
	SSL_CTX *ctx; /* https only */
	SSL *ssl;     /* the connection's TLS, NULL when plain or closed */
	int fd;	      /* -1: not connected */
	bool reused;  /* the connection carried an answer already */
	char *req;    /* ETCD_MSG_MAX_BYTES: the body being built */
	char *in;     /* ETCD_MSG_MAX_BYTES + head: the answer */
	struct json_tok *toks;
};

/* --- the HTTP/1.1 answer --- */

static const char *find_crlf(const char *p, const char *end)
{
	for (; p + 1 < end; p++)
		if (p[0] == '\r' && p[1] == '\n')
			return p;
	return NULL;
}

/* Strict decimal or hex, no sign, bounded: -1 when not one. */
static int64_t parse_uint(const char *p, size_t n, int base)
{
	int64_t v = 0;

	if (n == 0 || n > 15)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int d;
		char c = p[i];

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * base + d;
	}
	return v;
}

/* Walks the chunks of a chunked body at buf[off..len); compacts them in
 * place when all are there. Returns the end offset, 0 need more, <0. */
static int64_t http_chunked(char *buf, size_t len, size_t off, size_t *body_len)
{
	size_t p = off, out = off;
	const char *end = buf + len;

	for (uint32_t n_chunks = 0;; n_chunks++) {
		const char *eol = find_crlf(buf + p, end);
		size_t hex_len;
		int64_t sz;

		if (eol == NULL)
			return len - p > 32 ? -EPROTO : 0;
		hex_len = strcspn(buf + p, ";\r"); /* chunk extensions are ignored */
		if (hex_len > (size_t)(eol - (buf + p)))
			return -EPROTO;
		sz = parse_uint(buf + p, hex_len, 16);
		if (sz < 0)
			return -EPROTO;
		if ((uint64_t)sz > ETCD_MSG_MAX_BYTES || (out - off) + (uint64_t)sz > ETCD_MSG_MAX_BYTES)
			return -EMSGSIZE;
		p = (size_t)(eol - buf) + 2;
		if (sz == 0) {
			/* no trailers from etcd: the last chunk ends with CRLF */
			if (len - p < 2)
				return 0;
			if (buf[p] != '\r' || buf[p + 1] != '\n')
				return -EPROTO;
			break;
		}
		if (len - p < (size_t)sz + 2)
			return 0;
		if (buf[p + (size_t)sz] != '\r' || buf[p + (size_t)sz + 1] != '\n')
			return -EPROTO;
		p += (size_t)sz + 2;
		(void)n_chunks;
	}
	/* All there: compact (second walk, known good). */
	size_t end_off = p + 2;
	p = off;
	for (;;) {
		const char *eol = find_crlf(buf + p, end);
		size_t hex_len = strcspn(buf + p, ";\r");
		size_t sz = (size_t)parse_uint(buf + p, hex_len, 16);

		p = (size_t)(eol - buf) + 2;
		if (sz == 0)
			break;
		memmove(buf + out, buf + p, sz);
		out += sz;
		p += sz + 2;
	}
	*body_len = out - off;
	return (int64_t)end_off;
}

int64_t etcd_http_parse(char *buf, size_t len, int *status, char **body, size_t *body_len)
{
	const char *end = buf + len, *eol, *p;
	int64_t content_len = -1;
	bool chunked = false;
	size_t head_len;

	eol = find_crlf(buf, end);
	if (eol == NULL)
		return len > ETCD_HEAD_MAX_BYTES ? -EPROTO : 0;
	if (eol - buf < 12 || memcmp(buf, "HTTP/1.1 ", 9) != 0)
		return -EPROTO;
	int64_t code = parse_uint(buf + 9, 3, 10);
	if (code < 100 || code > 599 || (eol - buf > 12 && buf[12] != ' '))
		return -EPROTO;
	/* headers, one per line, up to the empty line */
	for (p = eol + 2;; p = eol + 2) {
		eol = find_crlf(p, end);
		if (eol == NULL)
			return len > ETCD_HEAD_MAX_BYTES ? -EPROTO : 0;
		if (eol == p)
			break;
		if ((size_t)(eol - buf) > ETCD_HEAD_MAX_BYTES)
			return -EPROTO;
		size_t n = (size_t)(eol - p);
		const char *colon = memchr(p, ':', n);
		if (colon == NULL)
			return -EPROTO;
		size_t name_len = (size_t)(colon - p);
		const char *v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		size_t v_len = (size_t)(eol - v);
		while (v_len > 0 && (v[v_len - 1] == ' ' || v[v_len - 1] == '\t'))
			v_len--;
		if (name_len == 14 && strncasecmp(p, "content-length", 14) == 0) {
			content_len = parse_uint(v, v_len, 10);
			if (content_len < 0)
				return -EPROTO;
			if ((uint64_t)content_len > ETCD_MSG_MAX_BYTES)
				return -EMSGSIZE;
		} else if (name_len == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
			if (v_len != 7 || strncasecmp(v, "chunked", 7) != 0)
				return -EPROTO;
			chunked = true;
		}
	}
	head_len = (size_t)(eol - buf) + 2;
	*status = (int)code;
	*body = buf + head_len;
	if (chunked && content_len >= 0)
		return -EPROTO; /* RFC 9112 6.3: a smuggling shape; refuse */
	if (chunked)
		return http_chunked(buf, len, head_len, body_len);
	if (content_len < 0)
		return -EPROTO; /* etcd always frames its answers */
	if (len - head_len < (size_t)content_len)
		return 0;
	*body_len = (size_t)content_len;
	return (int64_t)(head_len + (size_t)content_len);
}

/* --- the JSON answer --- */

/* int64 fields come as JSON strings (proto3 JSON), or numbers. Lease ids
 * use all 63 bits (19 digits), so this is not parse_uint's 15. */
int etcd_tok_i64(const struct json_doc *d, int32_t i, int64_t *out)
{
	struct sl_slice s;
	uint64_t v = 0;

	if (i < 0)
		return 0; /* absent: proto3 leaves out zero values */
	if (d->toks[i].type == JSON_NUMBER)
		return json_num_i64(d, (uint32_t)i, out) == 0 ? 0 : -EPROTO;
	if (d->toks[i].type != JSON_STRING)
		return -EPROTO;
	s = json_tok_slice(d, (uint32_t)i);
	if (s.len == 0 || s.len > 19)
		return -EPROTO;
	for (size_t k = 0; k < s.len; k++) {
		if (s.ptr[k] < '0' || s.ptr[k] > '9')
			return -EPROTO;
		v = v * 10 + (uint64_t)(s.ptr[k] - '0'); /* < 10^19 < 2^64: no wrap */
	}
	if (v > (uint64_t)INT64_MAX)
		return -EPROTO;
	*out = (int64_t)v;
	return 0;
}

static bool tok_true(const struct json_doc *d, int32_t i)
{
	return i >= 0 && d->toks[i].type == JSON_TRUE;
}

/* A base64 string token, decoded in place and NUL-terminated: decoding
 * shrinks it, so the NUL lands inside the token's own bytes. */
int etcd_tok_b64(const struct json_doc *d, int32_t i, const char **out, size_t *out_len)
{
	char *p;
	int64_t n;

	if (i < 0) { /* absent: proto3's empty bytes */
		*out = "";
		*out_len = 0;
		return 0;
	}
	if (d->toks[i].type != JSON_STRING || (d->toks[i].flags & JSON_TOK_ESCAPED))
		return -EPROTO;
	p = (char *)d->buf + d->toks[i].start;
	n = b64_decode((uint8_t *)p, p, d->toks[i].len, NULL);
	if (n < 0 || (size_t)n >= d->toks[i].len + 1u || memchr(p, '\0', (size_t)n) != NULL)
		return -EPROTO;
	if (d->toks[i].len > 0)
		p[n] = '\0'; /* n < len when len > 0 */
	*out = n > 0 ? p : "";
	*out_len = (size_t)n;
	return 0;
}


/* One range answer object (top level of /v3/kv/range, or response_range). */
static int parse_range(struct etcd_ans *a, const struct json_doc *d, uint32_t obj)
{
	struct etcd_range *r;
	int32_t kvs = json_obj_get(d, obj, "kvs");

	if (a->n_ranges >= ETCD_RANGES_MAX)
		return -E2BIG;
	r = &a->range[a->n_ranges++];
	r->first = a->n_kvs;
	r->n = 0;
	r->more = tok_true(d, json_obj_get(d, obj, "more"));
	r->count = 0;
	if (etcd_tok_i64(d, json_obj_get(d, obj, "count"), &r->count) < 0)
		return -EPROTO;
	if (kvs < 0)
		return 0;
	if (d->toks[kvs].type != JSON_ARRAY)
		return -EPROTO;
	uint32_t it = (uint32_t)kvs + 1;
	for (uint32_t k = 0; k < d->toks[kvs].count; k++, it = d->toks[it].next) {
		struct etcd_kv *kv;

		if (d->toks[it].type != JSON_OBJECT)
			return -EPROTO;
		if (a->n_kvs >= ETCD_KVS_MAX)
			return -E2BIG;
		kv = &a->kvs[a->n_kvs];
		memset(kv, 0, sizeof(*kv));
		if (etcd_tok_b64(d, json_obj_get(d, it, "key"), &kv->key, &kv->key_len) < 0 ||
		    etcd_tok_b64(d, json_obj_get(d, it, "value"), &kv->value, &kv->value_len) < 0 ||
		    etcd_tok_i64(d, json_obj_get(d, it, "create_revision"), &kv->create_rev) < 0 ||
		    etcd_tok_i64(d, json_obj_get(d, it, "mod_revision"), &kv->mod_rev) < 0)
			return -EPROTO;
		if (kv->key_len == 0)
			return -EPROTO;
		a->n_kvs++;
		r->n++;
	}
	return 0;
}

int etcd_answer_parse(struct etcd_ans *a, char *buf, size_t len, struct json_tok *toks)
{
	struct json_doc d;
	int32_t hdr, resp;
	int rc;

	memset(a, 0, offsetof(struct etcd_ans, kvs));
	if (json_parse(&d, buf, len, toks, ETCD_TOKS_MAX, 16, NULL) < 1 ||
	    toks[0].type != JSON_OBJECT)
		return -EPROTO;
	/* A streaming call (lease keepalive) wraps its answer in "result", or
	 * says "error" in the 200 answer whose head was already sent. */
	uint32_t root = 0;
	int32_t res = json_obj_get(&d, 0, "result");
	if (json_obj_get(&d, 0, "error") >= 0)
		return -EPROTO;
	if (res >= 0) {
		if (toks[res].type != JSON_OBJECT)
			return -EPROTO;
		root = (uint32_t)res;
	}
	hdr = json_obj_get(&d, root, "header");
	if (hdr >= 0 && (toks[hdr].type != JSON_OBJECT ||
			 etcd_tok_i64(&d, json_obj_get(&d, (uint32_t)hdr, "revision"), &a->revision) < 0))
		return -EPROTO;
	if (etcd_tok_i64(&d, json_obj_get(&d, root, "ID"), &a->lease_id) < 0 ||
	    etcd_tok_i64(&d, json_obj_get(&d, root, "TTL"), &a->ttl_s) < 0)
		return -EPROTO;
	a->succeeded = tok_true(&d, json_obj_get(&d, root, "succeeded"));
	resp = json_obj_get(&d, root, "responses");
	if (resp < 0)
		return parse_range(a, &d, root);
	if (toks[resp].type != JSON_ARRAY)
		return -EPROTO;
	uint32_t it = (uint32_t)resp + 1;
	for (uint32_t k = 0; k < toks[resp].count; k++, it = toks[it].next) {
		int32_t rr;

		if (toks[it].type != JSON_OBJECT)
			return -EPROTO;
		rr = json_obj_get(&d, it, "response_range");
		if (rr < 0)
			continue; /* a put's or delete's answer: nothing we read */
		if (toks[rr].type != JSON_OBJECT)
			return -EPROTO;
		if ((rc = parse_range(a, &d, (uint32_t)rr)) < 0)
			return rc;
	}
	return 0;
}

/* --- the connection --- */

static int parse_endpoint(struct etcd *e, const char *url)
{
	const char *hp, *colon, *slash;
	size_t host_len, port_len;

	if (strncmp(url, "http://", 7) == 0)
		hp = url + 7;
	else if (strncmp(url, "https://", 8) == 0) {
		hp = url + 8;
		e->tls = true;
	} else
		return -EINVAL;
	slash = strchr(hp, '/');
	if (slash != NULL && slash[1] != '\0')
		return -EINVAL; /* a path is not ours to ignore */
	colon = strrchr(hp, ':');
	if (colon == NULL || (slash != NULL && colon > slash))
		return -EINVAL;
	host_len = (size_t)(colon - hp);
	port_len = slash ? (size_t)(slash - colon - 1) : strlen(colon + 1);
	if (host_len >= 2 && hp[0] == '[' && hp[host_len - 1] == ']') { /* [::1] */
		hp++;
		host_len -= 2;
	}
	int64_t port = parse_uint(colon + 1, port_len, 10);
	if (host_len == 0 || host_len >= sizeof(e->host) || port < 1 || port > 65535)
		return -EINVAL;
	memcpy(e->host, hp, host_len);
	e->host[host_len] = '\0';
	snprintf(e->port, sizeof(e->port), "%u", (unsigned)port);
	return 0;
}

static int tls_ctx(struct etcd *e, const struct etcd_cfg *cfg)
{
	e->ctx = SSL_CTX_new(TLS_client_method());
	if (e->ctx == NULL)
		return -ENOMEM;
	if (SSL_CTX_set_min_proto_version(e->ctx, TLS1_2_VERSION) != 1)
		return -EIO;
	SSL_CTX_set_verify(e->ctx, SSL_VERIFY_PEER, NULL);
	if (cfg->ca != NULL && cfg->ca[0]) {
		if (SSL_CTX_load_verify_locations(e->ctx, cfg->ca, NULL) != 1) {
			SL_ERR("etcd: cannot load CA %s", cfg->ca);
			return -EIO;
		}
	} else if (SSL_CTX_set_default_verify_paths(e->ctx) != 1)
		return -EIO;
	if (cfg->cert != NULL && cfg->cert[0]) {
		if (SSL_CTX_use_certificate_chain_file(e->ctx, cfg->cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(e->ctx, cfg->key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(e->ctx) != 1) {
			SL_ERR("etcd: cannot load client certificate %s / key %s", cfg->cert,
			       cfg->key ? cfg->key : "");
			return -EIO;
		}
	}
	return 0;
}

struct etcd *etcd_open(const struct etcd_cfg *cfg)
{
	struct etcd *e = calloc(1, sizeof(*e));
	int rc;

	if (e == NULL)
		return NULL;
	e->fd = -1;
	e->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : ETCD_TIMEOUT_MS_DEFAULT;
	e->req = malloc(ETCD_MSG_MAX_BYTES);
	e->in = malloc(ETCD_MSG_MAX_BYTES + ETCD_HEAD_MAX_BYTES + 1);
	e->toks = calloc(ETCD_TOKS_MAX, sizeof(*e->toks));
	if (e->req == NULL || e->in == NULL || e->toks == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	if (cfg->endpoint == NULL || (rc = parse_endpoint(e, cfg->endpoint)) < 0) {
		rc = -EINVAL;
		goto fail;
	}
	if (e->tls && (rc = tls_ctx(e, cfg)) < 0)
		goto fail;
	return e;
fail:
	etcd_close(e);
	errno = -rc;
	return NULL;
}

static void conn_drop(struct etcd *e)
{
	if (e->ssl != NULL) {
		SSL_free(e->ssl); /* no close_notify: the socket may be dead */
		e->ssl = NULL;
	}
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	e->reused = false;
}

void etcd_close(struct etcd *e)
{
	if (e == NULL)
		return;
	conn_drop(e);
	SSL_CTX_free(e->ctx);
	free(e->req);
	free(e->in);
	free(e->toks);
	free(e);
}

char *etcd_req_buf(struct etcd *e)
{
	return e->req;
}

/* Non-blocking connect bounded by timeout_ms, then blocking I/O with
 * SO_SNDTIMEO/SO_RCVTIMEO so no send or receive waits longer. */
static int tcp_connect(struct etcd *e)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct timeval tv = { .tv_sec = e->timeout_ms / 1000,
			      .tv_usec = (e->timeout_ms % 1000) * 1000 };
	int fd = -1, one = 1, err = 0;
	socklen_t el = sizeof(err);

	if (getaddrinfo(e->host, e->port, &hints, &ai) != 0 || ai == NULL)
		return -EIO;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };

		if (errno != EINPROGRESS || poll(&p, 1, (int)e->timeout_ms) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0)
			goto fail;
	}
	if (fcntl(fd, F_SETFL, 0) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		goto fail;
	freeaddrinfo(ai);
	e->fd = fd;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return -EIO;
}

/* OpenSSL writes to the socket with write(2), which raises SIGPIPE when
 * etcd has closed it (a TLS 1.3 server refusing our certificate does so
 * after our handshake ends): that would kill the process unless every
 * caller ignored SIGPIPE (sluiced does from its first instant; the unit
 * tests and fuzzers need not). So TLS I/O runs with SIGPIPE blocked on this thread, and one it
 * raised is taken back before unblocking (as libpq does). */
struct nopipe {
	sigset_t old;
	bool was_pending;
};

static void nopipe_begin(struct nopipe *np)
{
	sigset_t pipe_set, pending;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigemptyset(&pending);
	np->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
	BUG_ON(pthread_sigmask(SIG_BLOCK, &pipe_set, &np->old) != 0);
}

static void nopipe_end(struct nopipe *np)
{
	sigset_t pipe_set, pending;
	const struct timespec zero = { 0, 0 };

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigemptyset(&pending);
	if (!np->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1)
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	BUG_ON(pthread_sigmask(SIG_SETMASK, &np->old, NULL) != 0);
}

static int conn_open(struct etcd *e)
{
	if (tcp_connect(e) < 0)
		return -EIO;
	if (!e->tls)
		return 0;
	e->ssl = SSL_new(e->ctx);
	if (e->ssl == NULL || SSL_set_fd(e->ssl, e->fd) != 1)
		goto fail;
	/* The certificate must name the host of the URL: an IP address
	 * against its IP SANs, a name against its DNS names (and sent as SNI,
	 * which RFC 6066 3 forbids for addresses). */
	struct in6_addr ip;
	bool is_ip = inet_pton(AF_INET, e->host, &ip) == 1 || inet_pton(AF_INET6, e->host, &ip) == 1;
	if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(e->ssl), e->host) != 1
		  : SSL_set_tlsext_host_name(e->ssl, e->host) != 1 ||
			    SSL_set1_host(e->ssl, e->host) != 1)
		goto fail;
	struct nopipe np;
	nopipe_begin(&np);
	int ok = SSL_connect(e->ssl);
	nopipe_end(&np);
	if (ok != 1) {
		SL_ERR("etcd: TLS handshake with %s:%s failed", e->host, e->port);
		goto fail;
	}
	return 0;
fail:
	ERR_clear_error();
	conn_drop(e);
	return -EIO;
}

static int conn_write(struct etcd *e, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w;

		if (e->ssl != NULL) {
			size_t done = 0;
			struct nopipe np;

			nopipe_begin(&np);
			w = SSL_write_ex(e->ssl, p, n, &done) == 1 ? (ssize_t)done : -1;
			nopipe_end(&np);
		} else
			w = send(e->fd, p, n, MSG_NOSIGNAL);
		if (w <= 0) {
			if (w < 0 && e->ssl == NULL && errno == EINTR)
				continue;
			return -EIO;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* >0 bytes read, 0 peer closed, <0 error or timeout. */
static ssize_t conn_read(struct etcd *e, char *p, size_t n)
{
	for (;;) {
		if (e->ssl != NULL) {
			size_t got = 0;
			struct nopipe np;
			int ok, err;

			nopipe_begin(&np); /* a read may write (alerts, key updates) */
			ok = SSL_read_ex(e->ssl, p, n, &got);
			err = ok == 1 ? SSL_ERROR_NONE : SSL_get_error(e->ssl, 0);
			nopipe_end(&np);
			if (ok == 1)
				return (ssize_t)got;
			ERR_clear_error();
			return err == SSL_ERROR_ZERO_RETURN ? 0 : -EIO;
		}
		ssize_t r = recv(e->fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -EIO : r;
	}
}

/* One exchange on the open connection: 0 with the answer parsed, -EAGAIN
 * when a reused connection was found closed before any answer byte (the
 * server dropped an idle connection: the request was not read), -EIO. */
static int exchange(struct etcd *e, const char *head, size_t head_len, size_t body_len,
		    struct etcd_ans *a)
{
	const size_t cap = ETCD_MSG_MAX_BYTES + ETCD_HEAD_MAX_BYTES;
	size_t got = 0;
	int status = 0;
	char *body = NULL;
	size_t blen = 0;
	int64_t used = 0;

	if (conn_write(e, head, head_len) < 0 || conn_write(e, e->req, body_len) < 0)
		return e->reused ? -EAGAIN : -EIO;
	while (used == 0) {
		ssize_t r;

		if (got == cap)
			return -EIO;
		r = conn_read(e, e->in + got, cap - got);
		if (r <= 0)
			return r == 0 && got == 0 && e->reused ? -EAGAIN : -EIO;
		got += (size_t)r;
		used = etcd_http_parse(e->in, got, &status, &body, &blen);
		if (used < 0) {
			SL_ERR("etcd: unreadable HTTP answer (%d)", (int)used);
			return -EIO;
		}
	}
	if ((size_t)used != got)
		return -EIO; /* bytes nobody asked for: the stream is out of step */
	if (status != 200) {
		SL_ERR("etcd: HTTP %d: %.*s", status, (int)SL_MIN(blen, 300u), body);
		return -EIO;
	}
	e->reused = true;
	if (etcd_answer_parse(a, body, blen, e->toks) < 0) {
		SL_ERR("etcd: unreadable answer");
		return -EPROTO;
	}
	return 0;
}

int etcd_post(struct etcd *e, const char *path, size_t body_len, struct etcd_ans *a)
{
	char head[512];
	int n, rc = -EIO;

	BUG_ON(body_len > ETCD_MSG_MAX_BYTES);
	n = snprintf(head, sizeof(head),
		     "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\n\r\n",
		     path, e->host, e->port, body_len);
	BUG_ON(n < 0 || (size_t)n >= sizeof(head));
	/* At most two attempts: the second only when the kept-alive
	 * connection turned out closed before the request was read. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (e->fd < 0 && (rc = conn_open(e)) < 0)
			break;
		rc = exchange(e, head, (size_t)n, body_len, a);
		if (rc == 0)
			return 0;
		conn_drop(e);
		if (rc != -EAGAIN)
			break;
	}
	if (rc == -EAGAIN)
		rc = -EIO;
	if (rc == -EIO)
		SL_WARN("etcd %s:%s: %s failed", e->host, e->port, path);
	return rc;
}

/* --- a streaming answer (the watch) --- */

int etcd_stream_start(struct etcd *e, const char *path, size_t body_len)
{
	char head[512];
	int n;

	BUG_ON(body_len > ETCD_MSG_MAX_BYTES);
	conn_drop(e); /* a stream owns its connection from the first byte */
	n = snprintf(head, sizeof(head),
		     "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\n\r\n",
		     path, e->host, e->port, body_len);
	BUG_ON(n < 0 || (size_t)n >= sizeof(head));
	if (conn_open(e) < 0)
		return -EIO;
	if (conn_write(e, head, (size_t)n) < 0 || conn_write(e, e->req, body_len) < 0) {
		conn_drop(e);
		return -EIO;
	}
	return 0;
}

int64_t etcd_stream_read(struct etcd *e, char *buf, size_t cap, uint32_t wait_ms)
{
	struct pollfd p = { .fd = e->fd, .events = POLLIN };
	int rc;

	if (e->fd < 0)
		return -EIO;
	/* Bytes OpenSSL already decrypted are not visible to poll. */
	if (e->ssl == NULL || SSL_pending(e->ssl) == 0) {
		rc = poll(&p, 1, (int)wait_ms);
		if (rc == 0 || (rc < 0 && errno == EINTR))
			return 0;
		if (rc < 0)
			return -EIO;
	}
	ssize_t r = conn_read(e, buf, cap); /* SO_RCVTIMEO bounds a partial TLS record */
	return r > 0 ? (int64_t)r : -EIO;
}

void etcd_stream_stop(struct etcd *e)
{
	conn_drop(e);
}
