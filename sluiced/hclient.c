/* SPDX-License-Identifier: Apache-2.0 */
/* The shared client pieces of sluiced/'s background threads (hclient.h).
 * Blocking sockets with timeouts: these threads are off the fast path. */
#include "sluiced/hclient.h"
#include "sluiced/mirror_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/bug.h"
#include "common/file.h"
#include "common/log.h"
#include "common/u128.h"
#include "crypto/sigv4.h"
#include "dataplane/ops/ops.h" /* OPS_EHK_HEADER */

uint64_t hc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void hc_nap(const atomic_bool *stop, uint32_t ms)
{
	uint64_t end = hc_now_ms() + ms;
	while (!atomic_load(stop)) {
		uint64_t t = hc_now_ms();
		if (t >= end)
			return;
		uint64_t step = end - t > 50 ? 50 : end - t;
		struct timespec ts = { 0, (long)step * 1000000L };
		nanosleep(&ts, NULL);
	}
}

void hc_backoff(uint32_t *backoff_ms, const atomic_bool *stop)
{
	*backoff_ms = *backoff_ms ? *backoff_ms * 2 : HC_BACKOFF_MIN_MS;
	if (*backoff_ms > HC_BACKOFF_MAX_MS)
		*backoff_ms = HC_BACKOFF_MAX_MS;
	hc_nap(stop, *backoff_ms);
}

/* ---- configuration ------------------------------------------------------ */

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = 0;
	return s;
}

int hc_copy_val(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n >= cap)
		return -EINVAL;
	memcpy(dst, v, n + 1);
	return 0;
}

int hc_parse_endpoint(const char *v, char *host, char *port, bool *plain)
{
	bool pl = false;
	if (strncmp(v, "https://", 8) == 0) {
		v += 8;
	} else if (plain && strncmp(v, "http://", 7) == 0) {
		v += 7;
		pl = true;
	} else {
		return -EINVAL;
	}
	if (plain)
		*plain = pl;
	const char *end = v + strcspn(v, "/");
	if (*end && strcmp(end, "/") != 0)
		return -EINVAL;
	const char *colon = NULL;
	if (*v == '[') {
		const char *rb = memchr(v, ']', (size_t)(end - v));
		if (!rb)
			return -EINVAL;
		colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(v, ':', (size_t)(end - v));
	}
	const char *hend = colon ? colon : end;
	size_t hl = (size_t)(hend - v);
	if (hl == 0 || hl >= HC_HOST_MAX)
		return -EINVAL;
	memcpy(host, v, hl);
	host[hl] = 0;
	if (colon) {
		size_t n = (size_t)(end - colon - 1);
		if (n == 0 || n >= 8)
			return -EINVAL;
		memcpy(port, colon + 1, n);
		port[n] = 0;
		char *e;
		long num = strtol(port, &e, 10);
		if (*e || num < 1 || num > 65535)
			return -EINVAL;
	} else {
		snprintf(port, 8, "%s", pl ? "80" : "443");
	}
	return 0;
}

int hc_read_secret_conf(const char *path, const char *who, const char *what,
			int (*cb)(void *arg, const char *key, const char *value), void *arg)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int e = errno;
		SL_ERR("%s: cannot open %s: %s", who, path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		SL_ERR("%s: %s must be a regular file of mode 0600 (it holds a secret)", who, path);
		close(fd);
		return -EPERM;
	}
	FILE *f = fdopen(fd, "re");
	if (!f) {
		int e = errno;
		close(fd);
		return -e;
	}
	char line[1024];
	int rc = 0;
	unsigned lineno = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = -EINVAL;
			break;
		}
		*eq = 0;
		rc = cb(arg, trim(s), trim(eq + 1));
	}
	fclose(f);
	explicit_bzero(line, sizeof(line)); /* it may hold the secret's line */
	if (rc < 0)
		/* the line number only: the value may be the secret */
		SL_ERR("%s: %s line %u: %s", who, path, lineno, what);
	return rc;
}

/* ---- HTTPS client --------------------------------------------------------- */

static void peer_close(struct hc_peer *p)
{
	if (p->ssl) {
		SSL_free(p->ssl);
		p->ssl = NULL;
	}
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
}

int hc_peer_init(struct hc_peer *p, const char *name, const char *key, const char *sec,
		 const char *region, const char *service)
{
	p->fd = -1;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->signer = sigv4_signer_new(key, sec, region, service);
	if (!p->signer)
		return -errno;
	p->buf = malloc(HC_RESP_MAX + 1);
	if (!p->buf)
		return -ENOMEM;
	if (p->plain)
		return 0;
	p->ctx = SSL_CTX_new(TLS_client_method());
	if (!p->ctx)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(p->ctx, TLS1_2_VERSION);
	static const unsigned char alpn[] = "\x08http/1.1";
	if (SSL_CTX_set_alpn_protos(p->ctx, alpn, sizeof(alpn) - 1) != 0)
		return -ENOMEM;
	if (SSL_CTX_load_verify_locations(p->ctx, p->ca, NULL) != 1) {
		SL_ERR("%s: cannot load the CA bundle %s", name, p->ca);
		ERR_clear_error();
		return -EINVAL;
	}
	SSL_CTX_set_verify(p->ctx, SSL_VERIFY_PEER, NULL);
	return 0;
}

void hc_peer_fini(struct hc_peer *p)
{
	peer_close(p);
	if (p->ctx)
		SSL_CTX_free(p->ctx);
	p->ctx = NULL;
	sigv4_signer_free(p->signer);
	p->signer = NULL;
	free(p->buf);
	p->buf = NULL;
}

static bool peer_open(const struct hc_peer *p)
{
	return p->plain ? p->fd >= 0 : p->ssl != NULL;
}

/* Waits until p->fd is readable (want_write false) or writable, in
 * HC_IO_STEP_MS steps so a stop is seen while a peer is black-holed (with
 * blocking sockets and a 15 s timeout, SIGTERM waited up to 30 s for a
 * stuck call). Returns 0, -ECANCELED on stop, -ETIMEDOUT after
 * HC_IO_TIMEOUT_MS without the socket becoming ready. */
static int wait_fd(const struct hc_peer *p, bool want_write)
{
	struct pollfd pfd = { .fd = p->fd, .events = want_write ? POLLOUT : POLLIN };
	for (uint32_t waited_ms = 0; waited_ms < HC_IO_TIMEOUT_MS; waited_ms += HC_IO_STEP_MS) {
		if (p->stop && atomic_load(p->stop))
			return -ECANCELED;
		int r = poll(&pfd, 1, HC_IO_STEP_MS);
		if (r > 0)
			return 0; /* ready, or an error the next call will report */
		if (r < 0 && errno != EINTR)
			return -errno;
	}
	return -ETIMEDOUT;
}

/* After an SSL call returned r <= 0: waits for what it wants and returns 0
 * (call it again), or -errno. */
static int ssl_wait(const struct hc_peer *p, int r)
{
	switch (SSL_get_error(p->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return wait_fd(p, false);
	case SSL_ERROR_WANT_WRITE:
		return wait_fd(p, true);
	default:
		ERR_clear_error();
		return -EIO;
	}
}

/* After a plain send/recv failed with errno e: 0 (call it again) or -errno. */
static int sock_wait(const struct hc_peer *p, int e, bool want_write)
{
	if (e == EINTR)
		return 0;
	if (e == EAGAIN || e == EWOULDBLOCK)
		return wait_fd(p, want_write);
	return -EIO;
}

static int peer_connect(struct hc_peer *p)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	char host[HC_HOST_MAX];
	snprintf(host, sizeof(host), "%s", p->host);
	bool v6lit = host[0] == '[';
	if (v6lit) {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = 0;
	}
	int g = getaddrinfo(host, p->port, &hints, &res);
	if (g != 0)
		return -EHOSTUNREACH;
	int rc = -ECONNREFUSED;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		/* non-blocking: every wait goes through wait_fd, which sees stop */
		int one = 1, fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
		    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
			rc = -errno;
			close(fd);
			continue;
		}
		p->fd = fd;
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			int err = 0;
			socklen_t el = sizeof(err);
			rc = errno == EINPROGRESS ? wait_fd(p, true) : -errno;
			if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
				rc = -errno;
			else if (rc == 0 && err)
				rc = -err;
		} else {
			rc = 0;
		}
		if (rc == 0)
			break;
		close(fd);
		p->fd = -1;
		if (rc == -ECANCELED)
			break;
	}
	freeaddrinfo(res);
	if (rc < 0 || p->plain)
		return rc;
	p->ssl = SSL_new(p->ctx);
	if (!p->ssl || SSL_set_fd(p->ssl, p->fd) != 1) {
		peer_close(p);
		return -ENOMEM;
	}
	/* the name or address in the certificate must match what we dialled */
	struct in6_addr a6;
	bool ip = v6lit || inet_pton(AF_INET, host, &a6) == 1;
	if (ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(p->ssl), host) != 1) {
			peer_close(p);
			return -EINVAL;
		}
	} else if (SSL_set_tlsext_host_name(p->ssl, host) != 1 || SSL_set1_host(p->ssl, host) != 1) {
		peer_close(p);
		return -EINVAL;
	}
	int r, wr = 0;
	while ((r = SSL_connect(p->ssl)) != 1 && (wr = ssl_wait(p, r)) == 0)
		;
	if (r != 1) {
		long vr = SSL_get_verify_result(p->ssl);
		if (wr != -ECANCELED)
			SL_WARN("TLS to %s %s:%s failed: %s", p->name, p->host, p->port,
				vr != X509_V_OK ? X509_verify_cert_error_string(vr) :
				wr == -ETIMEDOUT ? "handshake timed out" : "handshake");
		ERR_clear_error();
		peer_close(p);
		return wr == -ECANCELED ? -ECANCELED : -EPROTO;
	}
	return 0;
}

/* Returns 0 or -errno (-ECANCELED when stopping). */
static int write_all(struct hc_peer *p, const char *b, size_t n)
{
	while (n) {
		/* a retried SSL_write gets the same arguments, as OpenSSL wants */
		size_t chunk = n > (1u << 30) ? 1u << 30 : n;
		ssize_t w;
		int rc = 0;
		if (p->plain) {
			w = send(p->fd, b, chunk, MSG_NOSIGNAL);
			if (w < 0)
				rc = sock_wait(p, errno, true);
			else if (w == 0)
				rc = -EIO;
		} else {
			w = SSL_write(p->ssl, b, (int)chunk);
			if (w <= 0)
				rc = ssl_wait(p, (int)w);
		}
		if (rc < 0)
			return rc;
		if (w <= 0)
			continue;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads into b[0..n), waiting (stop-aware) while nothing is there. Returns
 * bytes read (> 0) or -errno (-EIO also for a closed connection). */
static ssize_t read_some(struct hc_peer *p, char *b, size_t n)
{
	if (n > (1u << 30))
		n = 1u << 30;
	for (;;) {
		ssize_t r;
		int rc;
		if (p->plain) {
			r = recv(p->fd, b, n, 0);
			if (r > 0)
				return r;
			rc = r == 0 ? -EIO : sock_wait(p, errno, false);
		} else {
			r = SSL_read(p->ssl, b, (int)n);
			if (r > 0)
				return r;
			rc = ssl_wait(p, (int)r);
		}
		if (rc < 0)
			return rc;
	}
}

#define HC_HDRS_MAX 8

static int request_once(struct hc_peer *p, const char *method, const char *path,
			const struct sl_header *extra, uint32_t nextra, const void *body,
			size_t blen)
{
	BUG_ON(nextra > HC_HDRS_MAX - 2);
	if (!peer_open(p)) {
		int rc = peer_connect(p);
		if (rc < 0)
			return rc;
	}
	char host[HC_HOST_MAX + 8], date[17], auth[512], head[4096 + HC_PATH_MAX];
	snprintf(host, sizeof(host), "%s:%s", p->host, p->port);
	int64_t now = (int64_t)time(NULL);
	sigv4_amz_date(now, date);
	struct sl_header h[HC_HDRS_MAX] = {
		{ SL_SLICE_LIT("Host"), { host, (uint32_t)strlen(host) } },
		{ SL_SLICE_LIT("X-Amz-Date"), { date, 16 } },
	};
	memcpy(h + 2, extra, nextra * sizeof(*extra));
	struct sigv4_request req = {
		.method = { method, (uint32_t)strlen(method) },
		.path = { path, (uint32_t)strlen(path) },
		.hdrs = h, .nhdrs = 2 + nextra,
		.body = body, .body_len = blen, .now_s = now,
	};
	if (sigv4_sign(p->signer, &req, NULL, auth, sizeof(auth)) < 0)
		return -EIO;
	int hn = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: %s\r\nX-Amz-Date: %s\r\n",
			  method, path, host, date);
	for (uint32_t i = 0; i < nextra && hn > 0 && (size_t)hn < sizeof(head); i++)
		hn += snprintf(head + hn, sizeof(head) - (size_t)hn, "%.*s: %.*s\r\n",
			       (int)extra[i].name.len, extra[i].name.ptr, (int)extra[i].value.len,
			       extra[i].value.ptr);
	if (hn > 0 && (size_t)hn < sizeof(head))
		hn += snprintf(head + hn, sizeof(head) - (size_t)hn,
			       "Authorization: %s\r\nContent-Length: %zu\r\n\r\n", auth, blen);
	if (hn < 0 || (size_t)hn >= sizeof(head))
		return -E2BIG;
	int rc;
	if ((rc = write_all(p, head, (size_t)hn)) < 0 || (rc = write_all(p, body, blen)) < 0)
		goto fail;
	rc = -EIO;
	/* read the head, then Content-Length bytes of body */
	size_t have = 0, clen = 0;
	int status = 0, hend = 0;
	while ((hend = mirror_parse_head(p->buf, have, &status, &clen)) == 0) {
		if (have >= HC_HEAD_MAX)
			goto fail;
		ssize_t r = read_some(p, p->buf + have, HC_HEAD_MAX - have);
		if (r < 0) {
			rc = (int)r;
			goto fail;
		}
		have += (size_t)r;
	}
	if (hend < 0)
		goto fail;
	memmove(p->buf, p->buf + hend, have - (size_t)hend);
	have -= (size_t)hend;
	while (have < clen) {
		ssize_t r = read_some(p, p->buf + have, clen - have);
		if (r < 0) {
			rc = (int)r;
			goto fail;
		}
		have += (size_t)r;
	}
	if (have != clen)
		goto fail; /* we never pipeline: nothing may follow */
	p->buf[clen] = 0;
	p->len = clen;
	return status;
fail:
	ERR_clear_error();
	peer_close(p);
	/* only a stop is told apart: hc_request retries -EIO once */
	return rc == -ECANCELED ? rc : -EIO;
}

int hc_request(struct hc_peer *p, const char *method, const char *path,
	       const struct sl_header *hdrs, uint32_t nhdrs, const void *body, size_t blen)
{
	bool reused = peer_open(p);
	int rc = request_once(p, method, path, hdrs, nhdrs, body, blen);
	if (rc == -EIO && reused)
		rc = request_once(p, method, path, hdrs, nhdrs, body, blen);
	return rc;
}

/* A Kinesis JSON call, with OPS_EHK_HEADER when ehk. */
static int kinesis_call(struct hc_peer *p, const char *op, const char *body, size_t blen,
			bool ehk)
{
	char target[64];
	snprintf(target, sizeof(target), "Kinesis_20131202.%s", op);
	const char *ctype = "application/x-amz-json-1.1";
	struct sl_header h[3] = {
		{ SL_SLICE_LIT("Content-Type"), { ctype, (uint32_t)strlen(ctype) } },
		{ SL_SLICE_LIT("X-Amz-Target"), { target, (uint32_t)strlen(target) } },
		{ { OPS_EHK_HEADER, sizeof(OPS_EHK_HEADER) - 1 }, SL_SLICE_LIT("1") },
	};
	return hc_request(p, "POST", "/", h, ehk ? 3 : 2, body, blen);
}

int hc_kinesis(struct hc_peer *p, const char *op, const char *body, size_t blen)
{
	return kinesis_call(p, op, body, blen, false);
}

void hc_err_type(const struct hc_peer *p, struct json_tok *toks, uint32_t ntoks, char *out,
		 size_t cap)
{
	struct json_doc d;
	out[0] = 0;
	if (json_parse(&d, p->buf, p->len, toks, ntoks, 8, NULL) < 1 ||
	    d.toks[0].type != JSON_OBJECT)
		return;
	int32_t t = json_obj_get(&d, 0, "__type");
	if (t < 0 || d.toks[t].type != JSON_STRING)
		return;
	struct sl_slice s = json_tok_slice(&d, (uint32_t)t);
	const char *hash = memchr(s.ptr, '#', s.len);
	size_t off = hash ? (size_t)(hash - s.ptr) + 1 : 0;
	snprintf(out, cap, "%.*s", (int)(s.len - off), s.ptr + off);
}

int hc_local_init(struct hc_peer *p, const char *key, const char *sec, const char *data_dir,
		  const char *region, const char *who)
{
	if (!key || !sec || !key[0] || !sec[0]) {
		SL_ERR("%s: no internal credential", who);
		return -EINVAL;
	}
	if (!p->ca[0])
		snprintf(p->ca, sizeof(p->ca), "%s/tls/ca.pem", data_dir);
	return hc_peer_init(p, "local", key, sec, region, "kinesis");
}

int hc_thread_start(struct hc_thread *t, struct hc_peer *local, const char *host,
		    uint16_t port, void *(*fn)(void *), void *arg, const char *who)
{
	snprintf(local->host, sizeof(local->host), "%s", host);
	snprintf(local->port, sizeof(local->port), "%u", port);
	int rc = -pthread_create(&t->thr, NULL, fn, arg);
	if (rc < 0)
		SL_ERR("%s: cannot start its thread: %s", who, strerror(-rc));
	else
		t->running = true;
	return rc;
}

void hc_thread_prologue(const char *who, int nice_v)
{
	sl_log_thread_name(who);
	/* Linux nice is per thread */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), nice_v) < 0)
		SL_WARN("%s: cannot lower its priority: %s", who, strerror(errno));
}

void hc_thread_join(struct hc_thread *t)
{
	if (!t->running)
		return;
	int rc = pthread_join(t->thr, NULL);
	BUG_ON(rc != 0);
	t->running = false;
}

/* ---- reading a local stream ------------------------------------------- */

/* Calls op on the local server and parses its answer into *d (r->toks):
 * the token of the answer's array member key, or -errno (a refusal or
 * throttle is -EAGAIN: the caller tries again later; a malformed answer
 * -EPROTO). */
static int32_t local_array(struct hc_reader *r, const char *op, const char *body, size_t len,
			   struct json_doc *d, const char *key)
{
	int st = hc_kinesis(r->local, op, body, len);
	if (st != 200)
		return st < 0 ? st : -EAGAIN;
	if (json_parse(d, r->local->buf, r->local->len, r->toks, r->ntoks, 8, NULL) < 1)
		return -EPROTO;
	int32_t arr = json_obj_get(d, 0, key);
	if (arr < 0 || d->toks[arr].type != JSON_ARRAY)
		return -EPROTO;
	return arr;
}

/* One ListShards page (the first names the stream, the next ones the
 * NextToken of the page before: Kinesis refuses both together), merged
 * into r->shards[0..*n). next[0..HC_TOKEN_MAX) gets the answer's NextToken
 * ("" on the last page). */
static int list_page(struct hc_reader *r, uint32_t *n, char *next)
{
	struct jw w;
	char body[HC_TOKEN_MAX + 256];
	jw_init(&w, body, sizeof(body));
	jw_obj_begin(&w);
	if (next[0]) {
		jw_key(&w, "NextToken");
		jw_str(&w, next);
	} else {
		jw_key(&w, "StreamName");
		jw_str(&w, r->stream);
	}
	jw_key(&w, "MaxResults");
	jw_u64(&w, r->list_page ? r->list_page : HC_LIST_PAGE);
	jw_obj_end(&w);
	BUG_ON(w.overflow); /* a name of 128 and a token of HC_TOKEN_MAX fit */
	struct json_doc d;
	int32_t arr = local_array(r, "ListShards", body, w.len, &d, "Shards");
	if (arr < 0)
		return arr;
	next[0] = 0;
	int32_t nt = json_obj_get(&d, 0, "NextToken");
	if (nt >= 0 && d.toks[nt].type == JSON_STRING && d.toks[arr].count > 0) {
		if (d.toks[nt].len >= HC_TOKEN_MAX)
			return -EPROTO;
		memcpy(next, d.buf + d.toks[nt].start, d.toks[nt].len);
		next[d.toks[nt].len] = 0;
	}
	for (uint32_t i = (uint32_t)arr + 1, k = 0; k < d.toks[arr].count; k++, i = d.toks[i].next) {
		int32_t id = json_obj_get(&d, i, "ShardId");
		if (id < 0 || d.toks[id].type != JSON_STRING ||
		    d.toks[id].len >= sizeof(r->shards[0].id))
			continue;
		struct sl_slice s = json_tok_slice(&d, (uint32_t)id);
		bool known = false;
		for (uint32_t j = 0; j < *n && !known; j++)
			known = sl_slice_eq(s, r->shards[j].id);
		if (known)
			continue;
		if (*n == r->max_shards) {
			SL_ERR("%s: %s has more than %u shards; the rest are not read", r->who,
			       r->stream, r->max_shards);
			next[0] = 0; /* no use asking for more */
			break;
		}
		struct hc_shard *sh = &r->shards[(*n)++];
		memset(sh, 0, sizeof(*sh));
		memcpy(sh->id, s.ptr, s.len);
		static const char *const pn[2] = { "ParentShardId", "AdjacentParentShardId" };
		for (int p = 0; p < 2; p++) {
			int32_t t = json_obj_get(&d, i, pn[p]);
			if (t >= 0 && d.toks[t].type == JSON_STRING &&
			    d.toks[t].len < sizeof(sh->parent[p]))
				memcpy(sh->parent[p], d.buf + d.toks[t].start, d.toks[t].len);
		}
	}
	return 0;
}

int hc_list_shards(struct hc_reader *r)
{
	uint32_t n = r->nshards;
	char next[HC_TOKEN_MAX] = "";
	/* bounded: each page adds its shards or ends the list, and r->shards
	 * holds max_shards; a server that keeps answering empty pages with a
	 * token would loop, so an empty page ends it too (list_page) */
	for (uint32_t pages = 0; pages <= r->max_shards; pages++) {
		int rc = list_page(r, &n, next);
		if (rc < 0)
			return rc; /* nothing merged: the next call starts over */
		if (!next[0])
			break;
	}
	r->nshards = n;
	return 0;
}

/* After a restart a shard's counters resume at its reserved end, 2^23 or
 * more past the last one issued (storage/README.md, "Sequence numbers"):
 * a jump this long may hide one, so what it skipped is not a count. */
#define HC_RESTART_GAP (1ull << 23)

/* The per-shard counter of a sequence number's text; 0 when it is not
 * the 56-digit form (a checkpoint of an older release). */
static uint64_t seq_ctr(struct sl_slice s)
{
	uint32_t shard;
	uint64_t ctr;
	return sl_seq56_parse(s.ptr, s.len, &shard, &ctr) == 0 ? ctr : 0;
}

/* An iterator of sh into out[0..HC_ITER_MAX): TRIM_HORIZON when trim, else
 * from sh's checkpoint (or r->start_ms, or TRIM_HORIZON). */
static int iterator_on(struct hc_reader *r, struct hc_peer *p, struct json_tok *toks,
		       const struct hc_shard *sh, bool trim, char *out)
{
	struct jw w;
	char body[512];
	jw_init(&w, body, sizeof(body));
	jw_obj_begin(&w);
	jw_key(&w, "StreamName");
	jw_str(&w, r->stream);
	jw_key(&w, "ShardId");
	jw_str(&w, sh->id);
	jw_key(&w, "ShardIteratorType");
	if (sh->ckpt[0] && !trim) {
		jw_str(&w, "AFTER_SEQUENCE_NUMBER");
		jw_key(&w, "StartingSequenceNumber");
		jw_str(&w, sh->ckpt);
	} else if (r->start_ms > 0 && !trim) {
		jw_str(&w, "AT_TIMESTAMP");
		jw_key(&w, "Timestamp");
		char ts[32];
		int n = snprintf(ts, sizeof(ts), "%lld.%03lld", (long long)(r->start_ms / 1000),
				 (long long)(r->start_ms % 1000));
		jw_raw(&w, ts, (size_t)n);
	} else {
		jw_str(&w, "TRIM_HORIZON");
	}
	jw_obj_end(&w);
	int st = hc_kinesis(p, "GetShardIterator", body, w.len);
	if (st != 200)
		return st < 0 ? st : -EAGAIN;
	struct json_doc d;
	if (json_parse(&d, p->buf, p->len, toks, 16, 4, NULL) < 1)
		return -EPROTO;
	int32_t it = json_obj_get(&d, 0, "ShardIterator");
	if (it < 0 || d.toks[it].type != JSON_STRING || d.toks[it].len >= HC_ITER_MAX)
		return -EPROTO;
	struct sl_slice s = json_tok_slice(&d, (uint32_t)it);
	memcpy(out, s.ptr, s.len);
	out[s.len] = 0;
	return 0;
}

static int iterator_of(struct hc_reader *r, const struct hc_shard *sh, bool trim, char *out)
{
	return iterator_on(r, r->local, r->toks, sh, trim, out);
}

static int get_iterator(struct hc_reader *r, struct hc_shard *sh)
{
	int rc = iterator_of(r, sh, false, sh->iter);
	if (rc == 0) {
		uint64_t c = seq_ctr((struct sl_slice){ sh->ckpt, strlen(sh->ckpt) });
		sh->next_ctr = c ? c + 1 : 0;
	}
	return rc;
}

static void space_gets(struct hc_reader *r, struct hc_shard *sh)
{
	uint64_t t = hc_now_ms();
	if (t - sh->last_get_ms < HC_GET_SPACING_MS)
		hc_nap(r->stop, (uint32_t)(HC_GET_SPACING_MS - (t - sh->last_get_ms)));
	sh->last_get_ms = hc_now_ms();
}

/* The body of a GetRecords of one record at iterator it (<= HC_ITER_MAX
 * bytes, so cap = HC_ITER_MAX + 64 always holds it); its length. */
static size_t one_record_body(const char *it, char *body, size_t cap)
{
	struct jw w;
	jw_init(&w, body, cap);
	jw_obj_begin(&w);
	jw_key(&w, "ShardIterator");
	jw_str(&w, it);
	jw_key(&w, "Limit");
	jw_u64(&w, 1);
	jw_obj_end(&w);
	return w.len;
}

/* Whether the jump sh->gap_prev -> sh->gap_first lost records to
 * retention (hclient.h, hc_get_records): the first retained record of sh
 * (TRIM_HORIZON, Limit 1) is past gap_prev, or there is none. 0 once
 * decided (the gap is cleared), -errno to try again before the next read. */
static int check_gap(struct hc_reader *r, struct hc_shard *sh)
{
	char it[HC_ITER_MAX];
	int rc = iterator_of(r, sh, true, it);
	if (rc < 0)
		return rc;
	char body[HC_ITER_MAX + 64];
	size_t blen = one_record_body(it, body, sizeof(body));
	space_gets(r, sh);
	struct json_doc d;
	int32_t arr = local_array(r, "GetRecords", body, blen, &d, "Records");
	if (arr < 0)
		return arr;
	uint64_t first = 0;
	if (d.toks[arr].count > 0) {
		int32_t sq = json_obj_get(&d, (uint32_t)arr + 1, "SequenceNumber");
		if (sq < 0 || d.toks[sq].type != JSON_STRING)
			return -EPROTO;
		first = seq_ctr(json_tok_slice(&d, (uint32_t)sq));
	}
	/* no record retained, or the first is past the one before the jump
	 * (first == 0 with records: not our form, nothing to decide on) */
	bool expired = d.toks[arr].count == 0 || (first != 0 && first > sh->gap_prev);
	if (expired) {
		uint64_t n = sh->gap_first - sh->gap_prev - 1;
		atomic_fetch_add_explicit(&r->expiries, 1, memory_order_relaxed);
		if (n < HC_RESTART_GAP) {
			atomic_fetch_add_explicit(&r->expired_records, n, memory_order_relaxed);
			SL_WARN("%s: stream %s shard %s: %llu records expired (retention) before "
				"they were read; continuing from the trim horizon", r->who,
				r->stream, sh->id, (unsigned long long)n);
		} else {
			/* e.g. an idle stream whose last record outlived its
			 * retention across a restart: nothing lost, and that
			 * cannot be told from counters */
			SL_WARN("%s: stream %s shard %s: records may have expired (retention) "
				"before they were read: the last one read has, and a restart "
				"lies between (how many, if any, is not known); continuing "
				"from the trim horizon", r->who, r->stream, sh->id);
		}
	}
	sh->gap_prev = sh->gap_first = 0;
	return 0;
}

/* Decides the gaps the last reads left (check_gap); one that cannot be
 * decided now is tried again before the next read. */
static void check_gaps(struct hc_reader *r)
{
	for (uint32_t i = 0; i < r->nshards && !atomic_load(r->stop); i++) {
		if (!r->shards[i].gap_first)
			continue;
		int rc = check_gap(r, &r->shards[i]);
		if (rc < 0)
			SL_DEBUG("%s: trim horizon of %s: %d; asking again", r->who,
				 r->shards[i].id, rc);
	}
}

/* Notes a jump between what was read before and the first record of this
 * answer, and where the next answer should start. */
static void note_counters(struct hc_shard *sh, const struct json_doc *d, int32_t arr)
{
	uint32_t n = d->toks[arr].count;
	if (n == 0)
		return;
	uint32_t i = (uint32_t)arr + 1, last = i;
	for (uint32_t k = 1; k < n; k++)
		last = d->toks[last].next;
	int32_t f = json_obj_get(d, i, "SequenceNumber");
	int32_t l = json_obj_get(d, last, "SequenceNumber");
	if (f < 0 || l < 0 || d->toks[f].type != JSON_STRING || d->toks[l].type != JSON_STRING) {
		sh->next_ctr = 0;
		return;
	}
	uint64_t first = seq_ctr(json_tok_slice(d, (uint32_t)f));
	if (sh->next_ctr && first > sh->next_ctr && !sh->gap_first) {
		sh->gap_prev = sh->next_ctr - 1;
		sh->gap_first = first;
	}
	uint64_t lc = seq_ctr(json_tok_slice(d, (uint32_t)l));
	sh->next_ctr = lc ? lc + 1 : 0;
}

int hc_get_records(struct hc_reader *r, struct hc_shard *sh, struct json_doc *d, int32_t *arr)
{
	check_gaps(r); /* before the read: the probe uses the answer buffer */
	uint64_t t = hc_now_ms();
	if (t - sh->last_get_ms < HC_GET_SPACING_MS)
		hc_nap(r->stop, (uint32_t)(HC_GET_SPACING_MS - (t - sh->last_get_ms)));
	if (!sh->iter[0]) {
		int rc = get_iterator(r, sh);
		if (rc < 0)
			return rc;
	}
	char body[HC_ITER_MAX + 64];
	struct jw w;
	jw_init(&w, body, sizeof(body));
	jw_obj_begin(&w);
	jw_key(&w, "ShardIterator");
	jw_str(&w, sh->iter);
	jw_key(&w, "Limit");
	jw_u64(&w, r->limit);
	jw_obj_end(&w);
	sh->last_get_ms = hc_now_ms();
	int st = kinesis_call(r->local, "GetRecords", body, w.len, r->want_ehk);
	if (st != 200) {
		char type[96] = "";
		if (st > 0)
			hc_err_type(r->local, r->toks, 64, type, sizeof(type));
		if (strcmp(type, "ExpiredIteratorException") == 0)
			sh->iter[0] = 0; /* re-open from the checkpoint */
		return st < 0 ? st : -EAGAIN;
	}
	if (json_parse(d, r->local->buf, r->local->len, r->toks, r->ntoks, 8, NULL) < 1)
		return -EPROTO;
	*arr = json_obj_get(d, 0, "Records");
	int32_t next = json_obj_get(d, 0, "NextShardIterator");
	int32_t behind = json_obj_get(d, 0, "MillisBehindLatest");
	int64_t lag = 0;
	if (behind >= 0 && json_num_i64(d, (uint32_t)behind, &lag) == 0 && lag >= 0)
		sh->lag_ms = (uint64_t)lag;
	if (*arr < 0 || d->toks[*arr].type != JSON_ARRAY)
		return -EPROTO;
	/* The answer starts where the caller is done with (it reads again
	 * only once all before is forwarded): so its records plus those
	 * after it are the shard's backlog */
	int32_t rb = json_obj_get(d, 0, "SluiceRecordsBehind");
	int64_t after = 0;
	if (rb < 0 || json_num_i64(d, (uint32_t)rb, &after) < 0 || after < 0)
		after = 0; /* absent: a closed shard read to its end */
	sh->after = (uint64_t)after;
	sh->backlog = d->toks[*arr].count + (uint64_t)after;
	note_counters(sh, d, *arr);
	if (next < 0 || d->toks[next].type != JSON_STRING) {
		sh->closed = true; /* a closed shard, read to its end */
		sh->iter[0] = 0;
	} else if (d->toks[next].len < HC_ITER_MAX) {
		struct sl_slice s = json_tok_slice(d, (uint32_t)next);
		memcpy(sh->iter, s.ptr, s.len);
		sh->iter[s.len] = 0;
	} else {
		sh->iter[0] = 0;
	}
	return 0;
}

int hc_probe_backlog(struct hc_reader *r, struct hc_peer *p, struct json_tok *toks,
		     uint32_t ntoks, struct hc_shard *sh)
{
	BUG_ON(ntoks < 64);
	char it[HC_ITER_MAX];
	int rc = iterator_on(r, p, toks, sh, false, it);
	if (rc < 0)
		return rc;
	char body[HC_ITER_MAX + 64];
	/* one record: the count is the point, not the record */
	size_t blen = one_record_body(it, body, sizeof(body));
	int st = kinesis_call(p, "GetRecords", body, blen, false);
	if (st != 200)
		return st < 0 ? st : -EAGAIN;
	struct json_doc d;
	if (json_parse(&d, p->buf, p->len, toks, ntoks, 8, NULL) < 1)
		return -EPROTO;
	int32_t arr = json_obj_get(&d, 0, "Records");
	int32_t rb = json_obj_get(&d, 0, "SluiceRecordsBehind");
	int64_t after = 0;
	if (arr < 0 || d.toks[arr].type != JSON_ARRAY)
		return -EPROTO;
	if (rb < 0) /* a closed shard read to its end has nothing after */
		after = 0;
	else if (json_num_i64(&d, (uint32_t)rb, &after) < 0 || after < 0)
		return -EPROTO;
	sh->backlog = d.toks[arr].count + (uint64_t)after;
	return 0;
}

uint64_t hc_backlog(const struct hc_reader *r)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i < r->nshards; i++)
		n += r->shards[i].backlog;
	return n;
}

bool hc_parents_open(const struct hc_reader *r, const struct hc_shard *sh)
{
	for (int p = 0; p < 2; p++)
		for (uint32_t j = 0; sh->parent[p][0] && j < r->nshards; j++)
			if (strcmp(r->shards[j].id, sh->parent[p]) == 0 && !r->shards[j].closed)
				return true;
	return false;
}

uint64_t hc_lag_ms(const struct hc_reader *r)
{
	uint64_t lag = 0;
	for (uint32_t i = 0; i < r->nshards; i++)
		if (!r->shards[i].closed && r->shards[i].lag_ms > lag)
			lag = r->shards[i].lag_ms;
	return lag;
}

/* path replaced with data[0..len) by write and rename, without fsync: a
 * crash of the process (kill -9) finds it, since the kernel holds the
 * page; a power loss may not (hc_ckpt_save). */
static int replace_unsynced(const char *path, const char *data, size_t len)
{
	char tmp[HC_PATH_MAX + 8];
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	int rc = 0;
	for (size_t off = 0; rc == 0 && off < len;) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno != EINTR)
			rc = -errno;
		else if (w > 0)
			off += (size_t)w;
	}
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		(void)unlink(tmp); /* best effort: the error is rc */
	return rc;
}

int hc_ckpt_save(const struct hc_reader *r, const char *path, char *scratch, size_t cap,
		 bool sync)
{
	size_t n = 0;
	for (uint32_t i = 0; i < r->nshards; i++) {
		if (!r->shards[i].ckpt[0])
			continue;
		int w = snprintf(scratch + n, cap - n, "%s %s\n", r->shards[i].id,
				 r->shards[i].ckpt);
		if (w < 0 || (size_t)w >= cap - n)
			return -E2BIG;
		n += (size_t)w;
	}
	return sync ? sl_file_replace(path, scratch, n, 0600) : replace_unsynced(path, scratch, n);
}

void hc_ckpt_load(struct hc_reader *r, const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	char line[256], id[64], seq[64];
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %63s", id, seq) == 2)
			for (uint32_t i = 0; i < r->nshards; i++)
				if (strcmp(r->shards[i].id, id) == 0)
					memcpy(r->shards[i].ckpt, seq, sizeof(seq));
	fclose(f);
}
