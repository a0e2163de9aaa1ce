/* SPDX-License-Identifier: Apache-2.0 */
/* Store-and-forward mirror (mirror.h). One thread, blocking sockets with
 * timeouts: it is off the fast path and its only job is to keep one
 * upstream fed in order.
 *
 * Per-key order. Kinesis orders records per shard, and a PutRecords call
 * may fail some entries (throttling, InternalFailure) while later ones
 * succeed. If two records of one partition key were in one call and the
 * first failed while the second landed, no retry could put them back in
 * order. So a batch never holds two records of the same partition key: it
 * is cut before a key repeats (source order, at most 500 entries / 4 MiB).
 * The failed entries of a batch are retried alone, in their order, with
 * backoff, until every entry is acknowledged; only then is the checkpoint
 * moved past the batch and the next batch built. The cost is smaller
 * batches for hot keys.
 *
 * Duplicates. The checkpoint (DIR/mirror.ckpt, replaced with fsync) holds
 * the last source sequence number per shard whose batch was acknowledged
 * whole. A crash between the upstream's acknowledgement and the checkpoint
 * re-sends that one batch; a response lost on the wire re-sends the
 * entries of that call. Nothing else is sent twice. */
#include "sluiced/mirror.h"
#include "sluiced/mirror_wire.h"
#include "sluiced/hclient.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/file.h"
#include "common/json.h"
#include "common/log.h"
#include "common/prom.h"
#include "crypto/sigv4.h"

#define MR_HOST_MAX 256
#define MR_NAME_MAX 129		     /* stream names: 1..128 */
#define MR_PATH_MAX 4096
#define MR_SHARDS_MAX 1024	     /* source shards followed */
#define MR_RESP_MAX MIRROR_RESP_MAX  /* largest response read */
#define MR_HEAD_MAX 16384	     /* largest response head */
#define MR_BATCH_RECORDS 500	     /* PutRecords' limit */
#define MR_BATCH_BYTES (4u << 20)    /* under PutRecords' 5 MiB */
#define MR_BODY_MAX (8u << 20)	     /* base64 of 4 MiB plus keys */
#define MR_GET_LIMIT 2000	     /* records per GetRecords: 4 PutRecords batches */
#define MR_TOKS_MAX 65536	     /* GetRecords: 2000 x ~13; ListShards: 1024 x ~20 */
#define MR_IO_TIMEOUT_MS 15000	     /* a call fails after this long without progress */
#define MR_IO_STEP_MS 50	     /* how often a waiting call looks at stop */
#define MR_BACKOFF_MIN_MS 100
#define MR_BACKOFF_MAX_MS 10000	     /* bounded: an upstream back is fed within 10 s */
#define MR_GET_SPACING_MS 220	     /* 5 GetRecords/s per shard, with margin */
#define MR_ITER_MAX 512
#define MR_NICE 10		     /* the mirror thread's nice value */
#define MR_STREAMS_MAX 8	     /* mirrored streams per server: ~40 MiB of buffers each */

struct mr_peer {
	char host[MR_HOST_MAX];
	char port[8];
	char ca[MR_PATH_MAX];
	char name[16]; /* "local" / "upstream", for logs */
	const atomic_bool *stop; /* a waiting call gives up when it is set */
	struct sigv4_signer *signer;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
	char *buf; /* response */
	size_t len;
};

struct mr_shard {
	char id[64];
	char ckpt[64]; /* last acknowledged source sequence number, "" = none */
	char iter[MR_ITER_MAX];
	bool closed;
	uint64_t last_get_ms;
	uint64_t lag_ms; /* MillisBehindLatest of its last GetRecords */
	char parent[2][64]; /* ParentShardId, AdjacentParentShardId ("" = none) */
};

/* The partition keys of the batch being built, as an open-addressing set:
 * a batch never holds a key twice, and comparing each record's key with
 * every key before it cost ~125000 memcmp per full batch of 500 (memcmp
 * fell from 4.2% to 3.1% of the mirror thread's samples with the set). */
#define MR_KEY_SLOTS 1024u /* a power of two over 2 x MR_BATCH_RECORDS: short probes */
_Static_assert(MR_KEY_SLOTS >= 2 * MR_BATCH_RECORDS, "the key set must stay half empty");

struct mr_keyset {
	uint16_t slot[MR_KEY_SLOTS]; /* 0 = empty, else 1 + index into key */
	struct sl_slice key[MR_BATCH_RECORDS];
	uint32_t n;
};

struct mr_stream {
	pthread_t thr;
	bool running; /* thr was started */
	bool relist;  /* a shard closed: ListShards again for its children */
	const atomic_bool *stop;
	char stream[MR_NAME_MAX];
	char up_stream[MR_NAME_MAX];
	char tname[16]; /* log name of its thread: "mirror", or "mirror-K" of several */
	char ckpt_path[MR_PATH_MAX];
	struct mr_peer local, up;
	struct mr_shard *shards;
	uint32_t nshards;
	char *body;
	struct json_tok *toks, *ptoks;
	uint32_t backoff_ms;
	struct mr_keyset keys; /* of the batch being built (pump_shard) */
	/* written by the mirror thread, read by the admin thread's scrape */
	_Atomic uint64_t sent, retried, batches, errors;
	_Atomic uint64_t lag_ms;     /* largest MillisBehindLatest of the last round */
	_Atomic uint64_t ckpt_wall_ms; /* when the checkpoint last moved */
	_Atomic bool up_ok;	     /* the last upstream call succeeded */
};

/* The set --mirror-config names: one mr_stream (thread, connections,
 * checkpoint) per mirrored stream, so a stalled upstream of one stream
 * never holds up another's. */
struct mirror {
	struct mr_stream *s[MR_STREAMS_MAX];
	uint32_t n;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sleeps ms, in short steps so a stop is noticed within 50 ms. */
static void nap(struct mr_stream *m, uint32_t ms)
{
	uint64_t end = now_ms() + ms;
	while (!atomic_load(m->stop)) {
		uint64_t t = now_ms();
		if (t >= end)
			return;
		uint64_t step = end - t > 50 ? 50 : end - t;
		struct timespec ts = { 0, (long)step * 1000000L };
		nanosleep(&ts, NULL);
	}
}

static void backoff(struct mr_stream *m)
{
	m->backoff_ms = m->backoff_ms ? m->backoff_ms * 2 : MR_BACKOFF_MIN_MS;
	if (m->backoff_ms > MR_BACKOFF_MAX_MS)
		m->backoff_ms = MR_BACKOFF_MAX_MS;
	nap(m, m->backoff_ms);
}

/* ---- configuration ------------------------------------------------------ */

/* One stream block of the configuration file, as text until mirror_open
 * checks it. The keys before the first "stream =" line are defaults that
 * every block inherits (one upstream and key for all, the common case);
 * each "stream =" line starts a block whose own keys override them. */
struct mr_conf {
	char stream[MR_NAME_MAX], up_stream[MR_NAME_MAX];
	char endpoint[MR_HOST_MAX + 16], region[64], key[129], sec[129];
	char ca[MR_PATH_MAX], local_ca[MR_PATH_MAX];
};

/* key = value into c; -EINVAL for an unknown key or a bad value. */
static int conf_set(struct mr_conf *c, const char *k, const char *v)
{
	static const struct {
		const char *key;
		size_t off, cap;
	} keys[] = {
		{ "upstream_stream", offsetof(struct mr_conf, up_stream), MR_NAME_MAX },
		{ "endpoint", offsetof(struct mr_conf, endpoint), MR_HOST_MAX + 16 },
		{ "region", offsetof(struct mr_conf, region), 64 },
		{ "access_key", offsetof(struct mr_conf, key), 129 },
		{ "secret_key", offsetof(struct mr_conf, sec), 129 },
		{ "ca_bundle", offsetof(struct mr_conf, ca), MR_PATH_MAX },
		{ "local_ca", offsetof(struct mr_conf, local_ca), MR_PATH_MAX },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(k, keys[i].key) == 0)
			return hc_copy_val((char *)c + keys[i].off, keys[i].cap, v);
	return -EINVAL;
}

/* Kinesis stream names: [a-zA-Z0-9_.-]{1,128}. Checked here because the
 * name is also part of the checkpoint's file name. */
static bool stream_name_ok(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
	return n > 0 && n < MR_NAME_MAX && s[n] == 0;
}

struct mr_conf_read {
	struct mr_conf *c, *cur, *defaults;
	uint32_t *n;
};

static int conf_line(void *arg, const char *k, const char *v)
{
	struct mr_conf_read *r = arg;
	if (strcmp(k, "stream") != 0)
		return conf_set(r->cur, k, v);
	if (*r->n == MR_STREAMS_MAX || !stream_name_ok(v))
		return -EINVAL;
	for (uint32_t i = 0; i < *r->n; i++)
		if (strcmp(r->c[i].stream, v) == 0)
			return -EINVAL; /* one mirror (and checkpoint) per stream */
	r->cur = &r->c[(*r->n)++];
	memcpy(r->cur, r->defaults, sizeof(*r->cur));
	memcpy(r->cur->stream, v, strlen(v) + 1);
	return 0;
}

/* Reads the file into c[0..*n) (at most MR_STREAMS_MAX blocks). */
static int read_conf(const char *path, struct mr_conf *c, uint32_t *n)
{
	struct mr_conf *defaults = calloc(1, sizeof(*defaults));
	if (!defaults)
		return -ENOMEM;
	*n = 0;
	struct mr_conf_read r = { c, defaults, defaults, n };
	char what[96];
	snprintf(what, sizeof(what), "unknown key, bad value, a stream named twice or more "
		 "than %u streams", MR_STREAMS_MAX);
	int rc = hc_read_secret_conf(path, "mirror", what, conf_line, &r);
	explicit_bzero(defaults, sizeof(*defaults));
	free(defaults);
	if (rc < 0)
		return rc;
	if (*n == 0) {
		SL_ERR("mirror: %s names no stream", path);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < *n; i++) {
		if (!c[i].endpoint[0] || !c[i].region[0] || !c[i].key[0] || !c[i].sec[0] ||
		    !c[i].ca[0]) {
			SL_ERR("mirror: %s: stream %s needs endpoint, region, access_key, secret_key "
			       "and ca_bundle (in its block or before the first stream line)", path,
			       c[i].stream);
			return -EINVAL;
		}
		if (!c[i].up_stream[0])
			memcpy(c[i].up_stream, c[i].stream, sizeof(c[i].stream));
	}
	return 0;
}

/* ---- HTTPS client --------------------------------------------------------- */

static void peer_close(struct mr_peer *p)
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

static int peer_init(struct mr_peer *p, const char *name, const char *key, const char *sec,
		     const char *region, const atomic_bool *stop)
{
	p->fd = -1;
	p->stop = stop;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->signer = sigv4_signer_new(key, sec, region, "kinesis");
	if (!p->signer)
		return -errno;
	p->ctx = SSL_CTX_new(TLS_client_method());
	if (!p->ctx)
		return -ENOMEM;
	SSL_CTX_set_min_proto_version(p->ctx, TLS1_2_VERSION);
	static const unsigned char alpn[] = "\x08http/1.1";
	if (SSL_CTX_set_alpn_protos(p->ctx, alpn, sizeof(alpn) - 1) != 0)
		return -ENOMEM;
	if (SSL_CTX_load_verify_locations(p->ctx, p->ca, NULL) != 1) {
		SL_ERR("mirror: cannot load the %s CA bundle %s", name, p->ca);
		ERR_clear_error();
		return -EINVAL;
	}
	SSL_CTX_set_verify(p->ctx, SSL_VERIFY_PEER, NULL);
	p->buf = malloc(MR_RESP_MAX + 1);
	return p->buf ? 0 : -ENOMEM;
}

static void peer_fini(struct mr_peer *p)
{
	peer_close(p);
	if (p->ctx)
		SSL_CTX_free(p->ctx);
	sigv4_signer_free(p->signer);
	free(p->buf);
}

/* Waits until fd is readable (want_write false) or writable, in
 * MR_IO_STEP_MS steps so SIGTERM is seen while an upstream is black-holed
 * (blocking sockets with a 15 s timeout held shutdown for up to 30 s).
 * Returns 0, -ECANCELED on stop, -ETIMEDOUT after MR_IO_TIMEOUT_MS without
 * the socket becoming ready. */
static int wait_fd(struct mr_peer *p, bool want_write)
{
	struct pollfd pfd = { .fd = p->fd, .events = want_write ? POLLOUT : POLLIN };
	for (uint32_t waited_ms = 0; waited_ms < MR_IO_TIMEOUT_MS; waited_ms += MR_IO_STEP_MS) {
		if (atomic_load(p->stop))
			return -ECANCELED;
		int r = poll(&pfd, 1, MR_IO_STEP_MS);
		if (r > 0)
			return 0; /* ready, or an error the next call will report */
		if (r < 0 && errno != EINTR)
			return -errno;
	}
	return -ETIMEDOUT;
}

/* After an SSL call returned r <= 0: waits for what it wants and returns 0
 * (call it again), or -errno. */
static int ssl_wait(struct mr_peer *p, int r)
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

static int peer_connect(struct mr_peer *p)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	char host[MR_HOST_MAX];
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
	if (rc < 0)
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
			SL_WARN("mirror: TLS to %s %s:%s failed: %s", p->name, p->host, p->port,
				vr != X509_V_OK ? X509_verify_cert_error_string(vr) :
				wr == -ETIMEDOUT ? "handshake timed out" : "handshake");
		ERR_clear_error();
		peer_close(p);
		return wr == -ECANCELED ? -ECANCELED : -EPROTO;
	}
	return 0;
}

static int write_all(struct mr_peer *p, const char *b, size_t n)
{
	while (n) {
		/* a retried SSL_write gets the same arguments, as OpenSSL wants */
		int w = SSL_write(p->ssl, b, (int)(n > (1u << 30) ? 1u << 30 : n));
		if (w <= 0) {
			int rc = ssl_wait(p, w);
			if (rc < 0)
				return rc;
			continue;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* SSL_read into b[0..cap), waiting (stop-aware) while nothing is there.
 * Returns bytes read (> 0) or -errno (-EIO also for a closed connection). */
static int read_some(struct mr_peer *p, char *b, size_t cap)
{
	for (;;) {
		int r = SSL_read(p->ssl, b, (int)(cap > (1u << 30) ? 1u << 30 : cap));
		if (r > 0)
			return r;
		int rc = ssl_wait(p, r);
		if (rc < 0)
			return rc;
	}
}

/* One request/response on the keep-alive connection. Returns the HTTP status
 * (body in p->buf[0..p->len), NUL-terminated) or -errno (connection closed;
 * -ECANCELED when stopping). */
static int call_once(struct mr_peer *p, const char *op, const char *body, size_t blen)
{
	if (!p->ssl) {
		int rc = peer_connect(p);
		if (rc < 0)
			return rc;
	}
	char target[64], host[MR_HOST_MAX + 8], date[17], auth[512], head[2048];
	snprintf(target, sizeof(target), "Kinesis_20131202.%s", op);
	snprintf(host, sizeof(host), "%s:%s", p->host, p->port);
	int64_t now = (int64_t)time(NULL);
	sigv4_amz_date(now, date);
	const char *ctype = "application/x-amz-json-1.1";
	struct sl_header h[4] = {
		{ SL_SLICE_LIT("Host"), { host, (uint32_t)strlen(host) } },
		{ SL_SLICE_LIT("Content-Type"), { ctype, (uint32_t)strlen(ctype) } },
		{ SL_SLICE_LIT("X-Amz-Target"), { target, (uint32_t)strlen(target) } },
		{ SL_SLICE_LIT("X-Amz-Date"), { date, 16 } },
	};
	struct sigv4_request req = {
		.method = SL_SLICE_LIT("POST"), .path = SL_SLICE_LIT("/"), .hdrs = h, .nhdrs = 4,
		.body = (const uint8_t *)body, .body_len = blen, .now_s = now,
	};
	if (sigv4_sign(p->signer, &req, NULL, auth, sizeof(auth)) < 0)
		return -EIO;
	int hn = snprintf(head, sizeof(head),
			  "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nX-Amz-Target: %s\r\n"
			  "X-Amz-Date: %s\r\nAuthorization: %s\r\nContent-Length: %zu\r\n\r\n",
			  host, ctype, target, date, auth, blen);
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
		if (have >= MR_HEAD_MAX)
			goto fail;
		int r = read_some(p, p->buf + have, MR_HEAD_MAX - have);
		if (r < 0) {
			rc = r;
			goto fail;
		}
		have += (size_t)r;
	}
	if (hend < 0)
		goto fail;
	memmove(p->buf, p->buf + hend, have - (size_t)hend);
	have -= (size_t)hend;
	while (have < clen) {
		int r = read_some(p, p->buf + have, clen - have);
		if (r < 0) {
			rc = r;
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
	return rc == -ECANCELED ? rc : -EIO;
}

/* A call with one reconnect when a kept-alive connection turns out closed. */
static int call(struct mr_peer *p, const char *op, const char *body, size_t blen)
{
	bool reused = p->ssl != NULL;
	int rc = call_once(p, op, body, blen);
	if (rc == -EIO && reused)
		rc = call_once(p, op, body, blen);
	return rc;
}

/* __type of an error answer into out ("" when none). */
static void err_type(struct mr_stream *m, struct mr_peer *p, char *out, size_t cap)
{
	struct json_doc d;
	out[0] = 0;
	if (json_parse(&d, p->buf, p->len, m->ptoks, 64, 8, NULL) < 1 ||
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

/* ---- checkpoint ----------------------------------------------------------- */

static int ckpt_save(struct mr_stream *m)
{
	char *buf = m->body; /* free between batches */
	size_t n = 0;
	for (uint32_t i = 0; i < m->nshards; i++)
		if (m->shards[i].ckpt[0])
			n += (size_t)snprintf(buf + n, MR_BODY_MAX - n, "%s %s\n", m->shards[i].id,
					      m->shards[i].ckpt);
	int rc = sl_file_replace(m->ckpt_path, buf, n, 0600);
	if (rc == 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		atomic_store_explicit(&m->ckpt_wall_ms,
				      (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u,
				      memory_order_relaxed);
	}
	return rc;
}

static void ckpt_load(struct mr_stream *m)
{
	FILE *f = fopen(m->ckpt_path, "re");
	if (!f)
		return;
	char line[256], id[64], seq[64];
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %63s", id, seq) == 2)
			for (uint32_t i = 0; i < m->nshards; i++)
				if (strcmp(m->shards[i].id, id) == 0)
					memcpy(m->shards[i].ckpt, seq, sizeof(seq));
	fclose(f);
}

/* ---- the loop ------------------------------------------------------------- */

static int list_shards(struct mr_stream *m)
{
	struct jw w;
	char body[256];
	jw_init(&w, body, sizeof(body));
	jw_obj_begin(&w);
	jw_key(&w, "StreamName");
	jw_str(&w, m->stream);
	jw_obj_end(&w);
	int st = call(&m->local, "ListShards", body, w.len);
	if (st != 200)
		return st < 0 ? st : -EAGAIN;
	struct json_doc d;
	if (json_parse(&d, m->local.buf, m->local.len, m->toks, MR_TOKS_MAX, 8, NULL) < 1)
		return -EPROTO;
	int32_t arr = json_obj_get(&d, 0, "Shards");
	if (arr < 0 || d.toks[arr].type != JSON_ARRAY)
		return -EPROTO;
	/* Merged into what we follow: known shards keep their state, new ones
	 * (children of a reshard) are added with their parents. */
	uint32_t n = m->nshards;
	for (uint32_t i = (uint32_t)arr + 1, k = 0; k < d.toks[arr].count; k++, i = d.toks[i].next) {
		int32_t id = json_obj_get(&d, i, "ShardId");
		if (id < 0 || d.toks[id].type != JSON_STRING ||
		    d.toks[id].len >= sizeof(m->shards[0].id))
			continue;
		struct sl_slice s = json_tok_slice(&d, (uint32_t)id);
		bool known = false;
		for (uint32_t j = 0; j < n && !known; j++)
			known = sl_slice_eq(s, m->shards[j].id);
		if (known)
			continue;
		if (n == MR_SHARDS_MAX) {
			SL_ERR("mirror: %s has more than %u shards; the rest are not mirrored",
			       m->stream, MR_SHARDS_MAX);
			break;
		}
		struct mr_shard *sh = &m->shards[n++];
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
	m->nshards = n;
	return 0;
}

static int get_iterator(struct mr_stream *m, struct mr_shard *sh)
{
	struct jw w;
	char body[512];
	jw_init(&w, body, sizeof(body));
	jw_obj_begin(&w);
	jw_key(&w, "StreamName");
	jw_str(&w, m->stream);
	jw_key(&w, "ShardId");
	jw_str(&w, sh->id);
	jw_key(&w, "ShardIteratorType");
	jw_str(&w, sh->ckpt[0] ? "AFTER_SEQUENCE_NUMBER" : "TRIM_HORIZON");
	if (sh->ckpt[0]) {
		jw_key(&w, "StartingSequenceNumber");
		jw_str(&w, sh->ckpt);
	}
	jw_obj_end(&w);
	int st = call(&m->local, "GetShardIterator", body, w.len);
	if (st != 200)
		return st < 0 ? st : -EAGAIN;
	struct json_doc d;
	if (json_parse(&d, m->local.buf, m->local.len, m->toks, 16, 4, NULL) < 1)
		return -EPROTO;
	int32_t it = json_obj_get(&d, 0, "ShardIterator");
	if (it < 0 || d.toks[it].type != JSON_STRING || d.toks[it].len >= MR_ITER_MAX)
		return -EPROTO;
	struct sl_slice s = json_tok_slice(&d, (uint32_t)it);
	memcpy(sh->iter, s.ptr, s.len);
	sh->iter[s.len] = 0;
	return 0;
}

/* How old record object i of a GetRecords answer is (now minus its
 * ApproximateArrivalTimestamp, epoch seconds with decimals), in ms; 0 when
 * it cannot be read. */
static uint64_t record_age_ms(const struct json_doc *d, uint32_t i)
{
	int32_t t = json_obj_get(d, i, "ApproximateArrivalTimestamp");
	if (t < 0 || d->toks[t].type != JSON_NUMBER)
		return 0;
	struct sl_slice s = json_tok_slice(d, (uint32_t)t);
	char num[32];
	if (s.len == 0 || s.len >= sizeof(num))
		return 0;
	memcpy(num, s.ptr, s.len);
	num[s.len] = 0;
	char *e;
	double sec = strtod(num, &e);
	if (*e || !(sec > 0.0) || sec > 1e11)
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	double age = (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6 - sec * 1000.0;
	return age > 0.0 ? (uint64_t)age : 0;
}

/* While a batch waits for the upstream, the lag gauge shows the age of its
 * oldest unacknowledged record (idx[0]): MillisBehindLatest comes from
 * local reads, which stop while the upstream is down, so without this the
 * gauge froze at its last value through an outage. */
static void note_waiting(struct mr_stream *m, const struct json_doc *d, uint32_t first)
{
	uint64_t age = record_age_ms(d, first);
	if (age > atomic_load_explicit(&m->lag_ms, memory_order_relaxed))
		atomic_store_explicit(&m->lag_ms, age, memory_order_relaxed);
}

/* Sends records idx[0..n) (token indices into the local GetRecords answer
 * held in m->toks / m->local.buf) until every one is acknowledged. Returns 0,
 * or -ECANCELED when stopping. */
static int put_batch(struct mr_stream *m, const struct json_doc *d, uint32_t *idx, uint32_t n)
{
	while (n) {
		if (atomic_load(m->stop))
			return -ECANCELED;
		struct jw w;
		jw_init(&w, m->body, MR_BODY_MAX);
		jw_obj_begin(&w);
		jw_key(&w, "StreamName");
		jw_str(&w, m->up_stream);
		jw_key(&w, "Records");
		jw_arr_begin(&w);
		for (uint32_t k = 0; k < n; k++) {
			int32_t data = json_obj_get(d, idx[k], "Data");
			int32_t pk = json_obj_get(d, idx[k], "PartitionKey");
			jw_obj_begin(&w);
			/* both are JSON strings as the local server wrote them
			 * (start - 1 is the opening quote): base64 and an
			 * escaped key pass through unchanged */
			jw_key(&w, "Data");
			jw_raw(&w, d->buf + d->toks[data].start - 1, d->toks[data].len + 2);
			jw_key(&w, "PartitionKey");
			jw_raw(&w, d->buf + d->toks[pk].start - 1, d->toks[pk].len + 2);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
		jw_obj_end(&w);
		BUG_ON(w.overflow); /* batches are cut well under MR_BODY_MAX */
		int st = call(&m->up, "PutRecords", m->body, w.len);
		atomic_store_explicit(&m->up_ok, st == 200, memory_order_relaxed);
		if (st != 200) {
			atomic_fetch_add_explicit(&m->errors, 1, memory_order_relaxed);
			char type[96] = "";
			if (st > 0)
				err_type(m, &m->up, type, sizeof(type));
			SL_WARN("mirror: upstream PutRecords: %s%s (%d; retrying %u records)",
				st < 0 ? strerror(-st) : "HTTP error ", type, st, n);
			note_waiting(m, d, idx[0]);
			backoff(m);
			continue;
		}
		int failed = mirror_put_result(m->up.buf, m->up.len, m->ptoks,
					       8 * MR_BATCH_RECORDS + 16, idx, n);
		if (failed < 0) {
			atomic_fetch_add_explicit(&m->errors, 1, memory_order_relaxed);
			backoff(m); /* not an answer we understand: send it all again */
			continue;
		}
		uint32_t left = (uint32_t)failed;
		atomic_fetch_add_explicit(&m->sent, n - left, memory_order_relaxed);
		if (left) {
			atomic_fetch_add_explicit(&m->retried, left, memory_order_relaxed);
			/* at most one line per backoff step (>= 100 ms) */
			SL_INFO("mirror: upstream failed %u of %u entries (throttled?); retrying "
				"them", left, n);
			note_waiting(m, d, idx[0]); /* the first failed entry, moved to the front */
			backoff(m); /* throttled or InternalFailure: both want a pause */
		} else {
			m->backoff_ms = 0;
		}
		n = left;
	}
	return 0;
}

static uint32_t key_hash(struct sl_slice k)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (uint32_t i = 0; i < k.len; i++)
		h = (h ^ (uint8_t)k.ptr[i]) * 16777619u;
	return h;
}

/* The slot where k is, or the empty slot where it would go. */
static uint32_t keyset_find(const struct mr_keyset *ks, struct sl_slice k)
{
	uint32_t i = key_hash(k) & (MR_KEY_SLOTS - 1);
	for (;; i = (i + 1) & (MR_KEY_SLOTS - 1)) {
		uint16_t e = ks->slot[i];
		if (!e)
			return i;
		const struct sl_slice *o = &ks->key[e - 1];
		if (o->len == k.len && memcmp(o->ptr, k.ptr, k.len) == 0)
			return i;
	}
}

/* One GetRecords on a shard and the forwarding of what it returned.
 * Returns the number of records forwarded, or -errno. */
static int pump_shard(struct mr_stream *m, struct mr_shard *sh)
{
	uint64_t t = now_ms();
	if (t - sh->last_get_ms < MR_GET_SPACING_MS)
		nap(m, (uint32_t)(MR_GET_SPACING_MS - (t - sh->last_get_ms)));
	if (!sh->iter[0]) {
		int rc = get_iterator(m, sh);
		if (rc < 0)
			return rc;
	}
	char body[MR_ITER_MAX + 64];
	struct jw w;
	jw_init(&w, body, sizeof(body));
	jw_obj_begin(&w);
	jw_key(&w, "ShardIterator");
	jw_str(&w, sh->iter);
	jw_key(&w, "Limit");
	/* More than one batch per read: at 500 (one batch) and 5 reads/s a
	 * shard forwarded at most ~2300 records/s, less than a shard takes in
	 * (1000 records/s is Kinesis's limit, but quotas may be off), and the
	 * per-call costs (TLS records, headers, SigV4) were paid 4 times. */
	jw_u64(&w, MR_GET_LIMIT);
	jw_obj_end(&w);
	sh->last_get_ms = now_ms();
	int st = call(&m->local, "GetRecords", body, w.len);
	if (st != 200) {
		char type[96] = "";
		if (st > 0)
			err_type(m, &m->local, type, sizeof(type));
		if (strcmp(type, "ExpiredIteratorException") == 0)
			sh->iter[0] = 0; /* re-open from the checkpoint */
		return st < 0 ? st : -EAGAIN;
	}
	struct json_doc d;
	if (json_parse(&d, m->local.buf, m->local.len, m->toks, MR_TOKS_MAX, 8, NULL) < 1)
		return -EPROTO;
	int32_t arr = json_obj_get(&d, 0, "Records");
	int32_t next = json_obj_get(&d, 0, "NextShardIterator");
	int32_t behind = json_obj_get(&d, 0, "MillisBehindLatest");
	int64_t lag = 0;
	if (behind >= 0 && json_num_i64(&d, (uint32_t)behind, &lag) == 0 && lag >= 0)
		sh->lag_ms = (uint64_t)lag;
	if (arr < 0 || d.toks[arr].type != JSON_ARRAY)
		return -EPROTO;
	uint32_t idx[MR_BATCH_RECORDS], n = 0, total = 0;
	size_t bytes = 0;
	struct mr_keyset *ks = &m->keys;
	memset(ks->slot, 0, sizeof(ks->slot));
	ks->n = 0;
	int32_t last_seq = -1;
	for (uint32_t i = (uint32_t)arr + 1, k = 0;; k++, i = d.toks[i].next) {
		bool end = k == d.toks[arr].count;
		struct sl_slice pk = { 0 };
		size_t sz = 0;
		bool repeat = false;
		if (!end) {
			int32_t p = json_obj_get(&d, i, "PartitionKey");
			int32_t da = json_obj_get(&d, i, "Data");
			if (p < 0 || da < 0 || json_obj_get(&d, i, "SequenceNumber") < 0)
				return -EPROTO;
			pk = json_tok_slice(&d, (uint32_t)p);
			sz = pk.len + d.toks[da].len / 4 * 3;
			repeat = ks->slot[keyset_find(ks, pk)] != 0;
		}
		/* cut before a key repeats (mirror.c's top comment) or the batch is full */
		if (n && (end || repeat || n == MR_BATCH_RECORDS || bytes + sz > MR_BATCH_BYTES)) {
			int rc = put_batch(m, &d, idx, n);
			if (rc < 0)
				return rc;
			struct sl_slice s = json_tok_slice(&d, (uint32_t)last_seq);
			if (s.len < sizeof(sh->ckpt)) {
				memcpy(sh->ckpt, s.ptr, s.len);
				sh->ckpt[s.len] = 0;
			}
			if ((rc = ckpt_save(m)) < 0)
				SL_ERR("mirror: checkpoint %s: %s", m->ckpt_path, strerror(-rc));
			atomic_fetch_add_explicit(&m->batches, 1, memory_order_relaxed);
			total += n;
			n = 0;
			bytes = 0;
			memset(ks->slot, 0, sizeof(ks->slot));
			ks->n = 0;
		}
		if (end)
			break;
		BUG_ON(ks->n != n || n >= MR_BATCH_RECORDS);
		ks->key[n] = pk;
		ks->slot[keyset_find(ks, pk)] = (uint16_t)(n + 1);
		ks->n = n + 1;
		idx[n++] = i;
		bytes += sz;
		last_seq = json_obj_get(&d, i, "SequenceNumber");
	}
	if (next < 0 || d.toks[next].type != JSON_STRING) {
		sh->closed = true; /* a closed shard, read to its end */
		sh->iter[0] = 0;
	} else if (d.toks[next].len < MR_ITER_MAX) {
		struct sl_slice s = json_tok_slice(&d, (uint32_t)next);
		memcpy(sh->iter, s.ptr, s.len);
		sh->iter[s.len] = 0;
	} else {
		sh->iter[0] = 0;
	}
	return (int)total;
}

static bool parents_open(const struct mr_stream *m, const struct mr_shard *sh)
{
	for (int p = 0; p < 2; p++)
		for (uint32_t j = 0; sh->parent[p][0] && j < m->nshards; j++)
			if (strcmp(m->shards[j].id, sh->parent[p]) == 0 && !m->shards[j].closed)
				return true;
	return false;
}

static void *mirror_main(void *arg)
{
	struct mr_stream *m = arg;
	sl_log_thread_name(m->tname);
	/* Off the fast path in CPU too: on a machine whose cores the lcores
	 * share, the scheduler prefers them; the mirror catches up when they
	 * idle (store and forward). Linux nice is per thread. */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), MR_NICE) < 0)
		SL_WARN("mirror: cannot lower its priority: %s", strerror(errno));
	while (!atomic_load(m->stop) && m->nshards == 0) {
		int rc = list_shards(m);
		if (rc < 0 || m->nshards == 0) {
			SL_DEBUG("mirror: stream %s not listable yet (%d)", m->stream, rc);
			backoff(m);
			continue;
		}
		m->backoff_ms = 0;
		ckpt_load(m);
		SL_INFO("mirror: %s -> https://%s:%s stream %s, %u shards", m->stream, m->up.host,
			m->up.port, m->up_stream, m->nshards);
	}
	while (!atomic_load(m->stop)) {
		int moved = 0;
		for (uint32_t i = 0; i < m->nshards && !atomic_load(m->stop); i++) {
			/* a child waits until its parents are read to their end and
			 * forwarded: per-key order across a reshard */
			if (m->shards[i].closed || parents_open(m, &m->shards[i]))
				continue;
			int rc = pump_shard(m, &m->shards[i]);
			m->relist |= m->shards[i].closed; /* its children are new to us */
			if (rc > 0)
				moved += rc;
			else if (rc < 0 && rc != -ECANCELED) {
				SL_DEBUG("mirror: local read of %s: %d", m->shards[i].id, rc);
				atomic_fetch_add_explicit(&m->errors, 1, memory_order_relaxed);
				backoff(m);
			}
		}
		uint64_t lag = 0;
		for (uint32_t i = 0; i < m->nshards; i++)
			if (!m->shards[i].closed && m->shards[i].lag_ms > lag)
				lag = m->shards[i].lag_ms;
		atomic_store_explicit(&m->lag_ms, lag, memory_order_relaxed);
		if (m->relist) {
			if (list_shards(m) < 0)
				SL_WARN("mirror: cannot list the shards of %s after a reshard; "
					"retrying", m->stream);
			else
				m->relist = false;
		}
		if (!moved)
			nap(m, MR_GET_SPACING_MS);
	}
	SL_INFO("mirror: %s stopped (%llu records acknowledged upstream, %llu entries retried, "
		"%llu batches)", m->stream, (unsigned long long)atomic_load(&m->sent),
		(unsigned long long)atomic_load(&m->retried),
		(unsigned long long)atomic_load(&m->batches));
	return NULL;
}

static void stream_free(struct mr_stream *m)
{
	if (!m)
		return;
	peer_fini(&m->local);
	peer_fini(&m->up);
	free(m->shards);
	free(m->body);
	free(m->toks);
	free(m->ptoks);
	free(m);
}

/* One stream's mirror from its checked configuration block. */
static struct mr_stream *stream_open(struct mr_conf *c, const struct mirror_local *loc,
				     const char *lkey, const char *lsec, uint32_t k, uint32_t n)
{
	bool legacy_ckpt = n == 1;
	struct mr_stream *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	if (n == 1)
		snprintf(m->tname, sizeof(m->tname), "mirror");
	else
		snprintf(m->tname, sizeof(m->tname), "mirror-%u", k % 100u); /* k < MR_STREAMS_MAX */
	m->local.fd = m->up.fd = -1;
	m->stop = loc->stop;
	memcpy(m->stream, c->stream, sizeof(m->stream));
	memcpy(m->up_stream, c->up_stream, sizeof(m->up_stream));
	memcpy(m->up.ca, c->ca, sizeof(m->up.ca));
	_Static_assert(sizeof(m->up.host) == HC_HOST_MAX, "hc_parse_endpoint fills HC_HOST_MAX");
	int rc = hc_parse_endpoint(c->endpoint, m->up.host, m->up.port, NULL);
	if (rc < 0)
		SL_ERR("mirror: stream %s: endpoint must be https://HOST[:PORT]", c->stream);
	if (c->local_ca[0])
		memcpy(m->local.ca, c->local_ca, sizeof(m->local.ca));
	else
		snprintf(m->local.ca, sizeof(m->local.ca), "%s/tls/ca.pem", loc->data_dir);
	/* one checkpoint per stream; a single-stream file keeps the name
	 * mirror.ckpt of the release that mirrored one stream only */
	int pn = legacy_ckpt ?
		snprintf(m->ckpt_path, sizeof(m->ckpt_path), "%s/mirror.ckpt", loc->data_dir) :
		snprintf(m->ckpt_path, sizeof(m->ckpt_path), "%s/mirror.%s.ckpt", loc->data_dir,
			 m->stream);
	if (rc == 0 && (pn < 0 || (size_t)pn >= sizeof(m->ckpt_path)))
		rc = -ENAMETOOLONG;
	if (rc == 0) {
		m->shards = calloc(MR_SHARDS_MAX, sizeof(*m->shards));
		m->body = malloc(MR_BODY_MAX);
		m->toks = calloc(MR_TOKS_MAX, sizeof(*m->toks));
		m->ptoks = calloc(8 * MR_BATCH_RECORDS + 16, sizeof(*m->ptoks));
		if (!m->shards || !m->body || !m->toks || !m->ptoks)
			rc = -ENOMEM;
	}
	if (rc == 0 && (rc = peer_init(&m->local, "local", lkey, lsec, loc->region, m->stop)) == 0)
		rc = peer_init(&m->up, "upstream", c->key, c->sec, c->region, m->stop);
	if (rc < 0) {
		stream_free(m);
		errno = -rc;
		return NULL;
	}
	return m;
}

struct mirror *mirror_open(const char *conf_path, const struct mirror_local *loc)
{
	struct mirror *ms = calloc(1, sizeof(*ms));
	struct mr_conf *c = calloc(MR_STREAMS_MAX, sizeof(*c));
	char lkey[129], lsec[129];
	int rc = ms && c ? 0 : -ENOMEM;
	if (rc == 0)
		rc = read_conf(conf_path, c, &ms->n);
	if (rc == 0 && (rc = hc_read_first_key(loc->credentials, lkey, sizeof(lkey), lsec,
					    sizeof(lsec))) < 0)
		SL_ERR("mirror: no key in %s", loc->credentials);
	for (uint32_t i = 0; rc == 0 && i < ms->n; i++)
		if (!(ms->s[i] = stream_open(&c[i], loc, lkey, lsec, i, ms->n)))
			rc = -errno;
	/* the secrets live on only inside the signers */
	if (c) {
		explicit_bzero(c, MR_STREAMS_MAX * sizeof(*c));
		free(c);
	}
	explicit_bzero(lsec, sizeof(lsec));
	if (rc < 0) {
		for (uint32_t i = 0; ms && i < ms->n; i++)
			stream_free(ms->s[i]);
		free(ms);
		errno = -rc;
		return NULL;
	}
	return ms;
}

int mirror_start(struct mirror *ms, const char *host, uint16_t port)
{
	for (uint32_t i = 0; i < ms->n; i++) {
		struct mr_stream *m = ms->s[i];
		snprintf(m->local.host, sizeof(m->local.host), "%s", host);
		snprintf(m->local.port, sizeof(m->local.port), "%u", port);
		int rc = -pthread_create(&m->thr, NULL, mirror_main, m);
		if (rc < 0) {
			SL_ERR("mirror: cannot start the thread of %s: %s", m->stream, strerror(-rc));
			return rc; /* mirror_stop joins those that started */
		}
		m->running = true;
	}
	return 0;
}

void mirror_stop(struct mirror *ms)
{
	if (!ms)
		return;
	for (uint32_t i = 0; i < ms->n; i++) {
		struct mr_stream *m = ms->s[i];
		if (m->running) {
			int rc = pthread_join(m->thr, NULL);
			BUG_ON(rc != 0);
		}
		stream_free(m);
	}
	free(ms);
}

void mirror_scrape(void *arg, struct prom_buf *b)
{
	const struct mirror *ms = arg;
	static const struct {
		const char *name, *help;
		enum prom_type t;
		size_t off;
	} fam[] = {
		{ "sluice_mirror_records_sent", "records the upstream acknowledged", PROM_COUNTER,
		  offsetof(struct mr_stream, sent) },
		{ "sluice_mirror_entries_retried", "PutRecords entries the upstream failed "
		  "(throttled or InternalFailure) and that were sent again", PROM_COUNTER,
		  offsetof(struct mr_stream, retried) },
		{ "sluice_mirror_batches", "batches acknowledged whole and checkpointed",
		  PROM_COUNTER, offsetof(struct mr_stream, batches) },
		{ "sluice_mirror_errors", "failed calls (local reads or upstream writes), each "
		  "followed by a backoff", PROM_COUNTER, offsetof(struct mr_stream, errors) },
		{ "sluice_mirror_lag_milliseconds", "backlog as time: the largest "
		  "MillisBehindLatest over the source shards in the last round, or, while a batch "
		  "waits for the upstream, the age of its oldest unacknowledged record", PROM_GAUGE,
		  offsetof(struct mr_stream, lag_ms) },
	};
	/* family by family (one HELP/TYPE each), a sample per stream */
	for (size_t i = 0; i < sizeof(fam) / sizeof(fam[0]); i++) {
		prom_family(b, fam[i].name, fam[i].t, fam[i].help);
		for (uint32_t k = 0; k < ms->n; k++) {
			const struct mr_stream *m = ms->s[k];
			struct prom_label l = { "stream", m->stream };
			const _Atomic uint64_t *v =
				(const _Atomic uint64_t *)((const char *)m + fam[i].off);
			prom_u64(b, fam[i].name, fam[i].t == PROM_COUNTER ? "_total" : "", &l, 1,
				 atomic_load_explicit(v, memory_order_relaxed));
		}
	}
	prom_family(b, "sluice_mirror_upstream_up", PROM_GAUGE,
		    "1 when the last upstream call succeeded");
	for (uint32_t k = 0; k < ms->n; k++) {
		struct prom_label l = { "stream", ms->s[k]->stream };
		prom_u64(b, "sluice_mirror_upstream_up", "", &l, 1,
			 atomic_load_explicit(&ms->s[k]->up_ok, memory_order_relaxed) ? 1 : 0);
	}
	prom_family(b, "sluice_mirror_checkpoint_time_seconds", PROM_GAUGE,
		    "when the checkpoint last moved, seconds since the epoch (0: not yet)");
	for (uint32_t k = 0; k < ms->n; k++) {
		struct prom_label l = { "stream", ms->s[k]->stream };
		prom_f64(b, "sluice_mirror_checkpoint_time_seconds", "", &l, 1,
			 (double)atomic_load_explicit(&ms->s[k]->ckpt_wall_ms,
						      memory_order_relaxed) / 1000.0);
	}
}
