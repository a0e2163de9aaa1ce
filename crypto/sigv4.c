/* SPDX-License-Identifier: Apache-2.0 */
/* SigV4 verification (AWS4-HMAC-SHA256, Authorization-header and presigned
 * query-string forms).
 *
 * The canonical request is never materialised: it is streamed into a SHA-256
 * context through a small staging buffer, so its size is not bounded by any
 * scratch buffer and the hot path does not call malloc (OpenSSL may allocate
 * inside EVP_DigestInit; we pre-fetch the algorithms so it does not look them
 * up per request). Query parameters and signed headers are sorted through
 * fixed-size index arrays owned by the verifier.
 *
 * Error texts follow what AWS returns for the Kinesis JSON protocol (all
 * HTTP 400); see the table in sigv4.h. */
#include "crypto/sigv4.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "common/bug.h"
#include "crypto/sigv4_internal.h"

static_assert(SIGV4_Q_TOKEN_MAX == SIGV4_TOKEN_MAX, "a presigned token fits what a profile holds");

#define SIGV4_ALGO "AWS4-HMAC-SHA256"
/* Kinesis's window: a signature dated more than 5 minutes from the server
 * clock is refused, which also bounds how long a captured request can be
 * replayed. */
#define SIGV4_SKEW_S (5 * 60)
#define SIGV4_SKEW_TEXT "5 min."
#define SIGV4_SERVICE "kinesis"
#define SIGV4_MAX_QUERY_PARAMS 128
#define SIGV4_MAX_SIGNED_HEADERS 64
#define SIGV4_MAX_PATH_SEGMENTS 128
#define SIGV4_CACHE_SLOTS 16
#define SIGV4_HEX_SHA256_LEN 64
/* X-Amz-Expires at most a week: SigV4's signing key is valid no longer. */
#define SIGV4_PRESIGN_MAX_S 604800

struct sigv4_cache_slot {
	bool used;
	uint32_t cred_idx;     /* index into the keyring */
	char date[8];	       /* YYYYMMDD */
	uint8_t region_len;
	uint8_t service_len;
	char region[63];
	char service[63];
	uint8_t key[32];       /* kSigning */
};

struct sigv4_qparam {
	struct sl_slice name, value; /* raw (wire) bytes, still percent-encoded */
};

struct sigv4_verifier {
	const struct sigv4_keyring *kr;
	/* The one region this server serves: the credential scope must name it
	 * (a signature for another region is not a signature for us). */
	char region[SIGV4_REGION_MAX + 1];
	uint32_t region_len;
	EVP_MD *sha256;
	EVP_MD_CTX *md;
	/* The body's hash, beside md (which holds the canonical request's):
	 * EVP_Digest's one-shot would allocate and free a context per request. */
	EVP_MD_CTX *body_md;
	EVP_MAC *hmac;
	EVP_MAC_CTX *mac;
	uint32_t cache_next; /* round-robin victim */
	struct sigv4_cache_slot cache[SIGV4_CACHE_SLOTS];
	struct sigv4_qparam qp[SIGV4_MAX_QUERY_PARAMS];
	struct sl_slice seg[SIGV4_MAX_PATH_SEGMENTS];
	struct sl_slice sh[SIGV4_MAX_SIGNED_HEADERS];
};

/* ---- small helpers ---------------------------------------------------- */

static bool is_lws(char c)
{
	return c == ' ' || c == '\t';
}

static struct sl_slice slice_trim(struct sl_slice s)
{
	while (s.len && is_lws(s.ptr[0])) {
		s.ptr++;
		s.len--;
	}
	while (s.len && is_lws(s.ptr[s.len - 1]))
		s.len--;
	return s;
}

static bool slice_caseeq_slice(struct sl_slice a, struct sl_slice b)
{
	return a.len == b.len && strncasecmp(a.ptr, b.ptr, a.len) == 0;
}

/* ---- streaming SHA-256 of the canonical request ----------------------- */

struct hstream {
	EVP_MD_CTX *md;
	uint32_t len;
	bool err;
	uint8_t buf[512];
};

static void hs_flush(struct hstream *h)
{
	if (h->len && EVP_DigestUpdate(h->md, h->buf, h->len) != 1)
		h->err = true;
	h->len = 0;
}

static void hs_putc(struct hstream *h, uint8_t c)
{
	if (h->len == sizeof(h->buf))
		hs_flush(h);
	h->buf[h->len++] = c;
}

static void hs_put(struct hstream *h, const void *p, size_t n)
{
	if (n > sizeof(h->buf) - h->len) {
		hs_flush(h);
		if (EVP_DigestUpdate(h->md, p, n) != 1)
			h->err = true;
		return;
	}
	memcpy(h->buf + h->len, p, n);
	h->len += (uint32_t)n;
}

/* ---- canonical URI ---------------------------------------------------- */

/* sv_put_fn over the streaming hash. */
static void hs_put_cb(void *ctx, const void *p, size_t n)
{
	hs_put(ctx, p, n);
}

/* sigv4_internal.h's canonical URI, into the hash. */
static int put_canonical_uri(struct sigv4_verifier *v, struct hstream *h, struct sl_slice path)
{
	return sv_canonical_uri(path, v->seg, SIGV4_MAX_PATH_SEGMENTS, hs_put_cb, h);
}

/* ---- canonical query string ------------------------------------------ */

/* Iterates the canonical (decode-then-encode) form of a raw query component
 * one output byte at a time, so two components compare without a buffer. */
struct enc_iter {
	struct sl_slice s;
	uint32_t pos;
	uint8_t pend[3];
	uint8_t npend, ipend;
};

static int enc_next(struct enc_iter *it)
{
	if (it->ipend < it->npend)
		return it->pend[it->ipend++];
	if (it->pos >= it->s.len)
		return -1;
	uint8_t c = (uint8_t)it->s.ptr[it->pos++];
	/* Form encoding: '+' on the wire is a space (botocore sends spaces in
	 * query values as '+', and signs them as %20). */
	if (c == '+')
		c = ' ';
	else if (c == '%' && it->pos + 2 <= it->s.len) {
		int hi = sv_hexval(it->s.ptr[it->pos]), lo = sv_hexval(it->s.ptr[it->pos + 1]);
		if (hi >= 0 && lo >= 0) {
			c = (uint8_t)(hi << 4 | lo);
			it->pos += 2;
		}
	}
	if (sv_unreserved(c))
		return c;
	it->pend[0] = '%';
	it->pend[1] = (uint8_t)sv_hexc(c >> 4, true);
	it->pend[2] = (uint8_t)sv_hexc(c & 15, true);
	it->npend = 3;
	it->ipend = 1;
	return '%';
}

static int enc_cmp(struct sl_slice a, struct sl_slice b)
{
	struct enc_iter ia = { .s = a }, ib = { .s = b };
	for (;;) {
		int ca = enc_next(&ia), cb = enc_next(&ib);
		if (ca != cb)
			return ca < cb ? -1 : 1;
		if (ca < 0)
			return 0;
	}
}

static int qparam_cmp(const void *pa, const void *pb)
{
	const struct sigv4_qparam *a = pa, *b = pb;
	int r = enc_cmp(a->name, b->name);
	return r ? r : enc_cmp(a->value, b->value);
}

static void hs_put_enc(struct hstream *h, struct sl_slice s)
{
	struct enc_iter it = { .s = s };
	int c;
	while ((c = enc_next(&it)) >= 0)
		hs_putc(h, (uint8_t)c);
}

/* presigned: X-Amz-Signature is left out (it cannot sign itself). */
static int put_canonical_query(struct sigv4_verifier *v, struct hstream *h, struct sl_slice q,
			       bool presigned)
{
	uint32_t n = 0, i = 0;

	while (i < q.len) {
		uint32_t j = i;
		while (j < q.len && q.ptr[j] != '&')
			j++;
		if (j > i) {
			struct sl_slice p = { q.ptr + i, j - i };
			const char *eq = memchr(p.ptr, '=', p.len);
			uint32_t nl = eq ? (uint32_t)(eq - p.ptr) : p.len;
			if (presigned && sl_slice_eq((struct sl_slice){ p.ptr, nl },
						     "X-Amz-Signature")) {
				i = j + 1;
				continue;
			}
			if (n == SIGV4_MAX_QUERY_PARAMS)
				return -E2BIG;
			v->qp[n].name = (struct sl_slice){ p.ptr, nl };
			v->qp[n].value = eq ? (struct sl_slice){ eq + 1, p.len - nl - 1 }
					    : (struct sl_slice){ p.ptr + p.len, 0 };
			n++;
		}
		i = j + 1;
	}
	qsort(v->qp, n, sizeof(v->qp[0]), qparam_cmp);
	for (i = 0; i < n; i++) {
		if (i)
			hs_putc(h, '&');
		hs_put_enc(h, v->qp[i].name);
		hs_putc(h, '=');
		hs_put_enc(h, v->qp[i].value);
	}
	return 0;
}

/* ---- canonical headers ------------------------------------------------ */

/* Trimall: strip leading/trailing whitespace, collapse inner runs to one
 * space (botocore: ' '.join(value.split())). */
static void hs_put_trimall(struct hstream *h, struct sl_slice val)
{
	bool space = false, any = false;
	for (uint32_t i = 0; i < val.len; i++) {
		char c = val.ptr[i];
		if (is_lws(c)) {
			space = any;
			continue;
		}
		if (space)
			hs_putc(h, ' ');
		space = false;
		any = true;
		hs_putc(h, (uint8_t)c);
	}
}

/* Splits SignedHeaders into v->sh; returns count or -E2BIG. */
static int split_signed_headers(struct sigv4_verifier *v, struct sl_slice list)
{
	uint32_t n = 0, i = 0;
	while (i < list.len) {
		uint32_t j = i;
		while (j < list.len && list.ptr[j] != ';')
			j++;
		if (j > i) {
			if (n == SIGV4_MAX_SIGNED_HEADERS)
				return -E2BIG;
			v->sh[n++] = (struct sl_slice){ list.ptr + i, j - i };
		}
		i = j + 1;
	}
	return (int)n;
}

static void put_canonical_headers(struct sigv4_verifier *v, struct hstream *h, uint32_t nsh,
				  const struct sigv4_request *req)
{
	for (uint32_t i = 0; i < nsh; i++) {
		bool first = true;
		for (uint32_t k = 0; k < v->sh[i].len; k++) {
			char c = v->sh[i].ptr[k];
			hs_putc(h, (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c));
		}
		hs_putc(h, ':');
		for (uint32_t k = 0; k < req->nhdrs; k++) {
			if (!slice_caseeq_slice(req->hdrs[k].name, v->sh[i]))
				continue;
			if (!first)
				hs_putc(h, ',');
			first = false;
			hs_put_trimall(h, req->hdrs[k].value);
		}
		hs_putc(h, '\n');
	}
	hs_putc(h, '\n');
	for (uint32_t i = 0; i < nsh; i++) {
		if (i)
			hs_putc(h, ';');
		hs_put(h, v->sh[i].ptr, v->sh[i].len);
	}
	hs_putc(h, '\n');
}

/* ---- Authorization header parsing ------------------------------------ */

/* keyid/date/region/service/term: exactly five non-nested elements. */
static int split_credential(struct sl_slice cred, struct sigv4_auth *out)
{
	struct sl_slice part[5];
	uint32_t np = 0, start = 0;

	for (uint32_t k = 0; k <= cred.len; k++) {
		if (k < cred.len && cred.ptr[k] != '/')
			continue;
		if (np == 5)
			return -EINVAL;
		part[np++] = (struct sl_slice){ cred.ptr + start, k - start };
		start = k + 1;
	}
	if (np != 5)
		return -EINVAL;
	out->access_key = part[0];
	out->date = part[1];
	out->region = part[2];
	out->service = part[3];
	out->terminal = part[4];
	return 0;
}

int sigv4_parse_auth_ex(struct sl_slice value, struct sigv4_auth *out, uint32_t *missing,
			struct sl_slice *credential, const char **why)
{
	struct sl_slice cred = { 0 };
	bool have_sh = false, have_sig = false;
	uint32_t i = 0;

	memset(out, 0, sizeof(*out));
	*missing = 0;
	value = slice_trim(value);
	while (i < value.len && !is_lws(value.ptr[i]) && value.ptr[i] != ',')
		i++;
	struct sl_slice algo = { value.ptr, i };
	while (i < value.len) {
		while (i < value.len && (is_lws(value.ptr[i]) || value.ptr[i] == ','))
			i++;
		uint32_t j = i;
		while (j < value.len && !is_lws(value.ptr[j]) && value.ptr[j] != ',')
			j++;
		struct sl_slice tok = { value.ptr + i, j - i };
		const char *eq = tok.len ? memchr(tok.ptr, '=', tok.len) : NULL;
		if (eq) {
			struct sl_slice k = { tok.ptr, (uint32_t)(eq - tok.ptr) };
			struct sl_slice val = { eq + 1, tok.len - k.len - 1 };
			if (sl_slice_eq(k, "Credential") && val.len) {
				cred = val;
			} else if (sl_slice_eq(k, "SignedHeaders") && val.len) {
				out->signed_headers = val;
				have_sh = true;
			} else if (sl_slice_eq(k, "Signature") && val.len) {
				out->signature = val;
				have_sig = true;
			}
		}
		i = j;
	}
	if (!cred.len)
		*missing |= SIGV4_MISSING_CREDENTIAL;
	if (!have_sig)
		*missing |= SIGV4_MISSING_SIGNATURE;
	if (!have_sh)
		*missing |= SIGV4_MISSING_SIGNED_HEADERS;
	if (credential)
		*credential = cred;
	if (*missing) {
		if (why)
			*why = "Authorization header requires 'Credential', 'Signature' and "
			       "'SignedHeaders' parameters";
		return -EINVAL;
	}
	if (!sl_slice_eq(algo, SIGV4_ALGO)) {
		if (why)
			*why = "Unsupported AWS 'algorithm'";
		return -EINVAL;
	}
	if (split_credential(cred, out)) {
		if (why)
			*why = "Credential must have exactly 5 slash-delimited elements, e.g. "
			       "keyid/date/region/service/term";
		return -EINVAL;
	}
	return 0;
}

int sigv4_parse_auth(struct sl_slice value, struct sigv4_auth *out, const char **why)
{
	uint32_t missing;
	return sigv4_parse_auth_ex(value, out, &missing, NULL, why);
}

/* ---- presigned (query-string) parameters ------------------------------ */

/* Percent-decodes raw ('+' is a space, as in the canonical form) into
 * out[0..cap), NUL-terminated. Returns the length, -E2BIG when it does not
 * fit, -EINVAL when it decodes to a NUL (a C string would end there). */
static int q_decode(struct sl_slice raw, char *out, size_t cap)
{
	size_t n = 0;

	BUG_ON(cap == 0);
	for (uint32_t i = 0; i < raw.len; i++) {
		int c = (uint8_t)raw.ptr[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < raw.len) {
			int hi = sv_hexval(raw.ptr[i + 1]), lo = sv_hexval(raw.ptr[i + 2]);
			if (hi >= 0 && lo >= 0) {
				c = hi << 4 | lo;
				i += 2;
			}
		}
		if (c == 0)
			return -EINVAL;
		if (n + 1 >= cap)
			return -E2BIG;
		out[n++] = (char)c;
	}
	out[n] = 0;
	return (int)n;
}

int sigv4_parse_query_auth(struct sl_slice q, struct sigv4_query_auth *out)
{
	static const struct {
		const char *name;
		uint32_t bit; /* SIGV4_Q_*, 0 for the optional ones */
		size_t off, cap;
	} params[] = {
#define QP(n, bit, f) { n, bit, offsetof(struct sigv4_query_auth, f), \
			sizeof(((struct sigv4_query_auth *)0)->f) }
		QP("X-Amz-Algorithm", SIGV4_Q_ALGORITHM, algorithm),
		QP("X-Amz-Credential", SIGV4_Q_CREDENTIAL, credential),
		QP("X-Amz-Signature", SIGV4_Q_SIGNATURE, signature),
		QP("X-Amz-SignedHeaders", SIGV4_Q_SIGNED_HEADERS, signed_headers),
		QP("X-Amz-Date", SIGV4_Q_DATE, date),
		QP("X-Amz-Expires", 0, expires),
		QP("X-Amz-Security-Token", 0, token),
#undef QP
	};
	uint32_t seen = 0, i = 0;
	bool presigned = false;
	int rc = 0;

	memset(out, 0, offsetof(struct sigv4_query_auth, token) + 1);
	while (i < q.len) {
		uint32_t j = i;
		while (j < q.len && q.ptr[j] != '&')
			j++;
		struct sl_slice p = { q.ptr + i, j - i };
		const char *eq = memchr(p.ptr, '=', p.len);
		struct sl_slice name = { p.ptr, eq ? (uint32_t)(eq - p.ptr) : p.len };
		struct sl_slice val = eq ? (struct sl_slice){ eq + 1, p.len - name.len - 1 }
					 : (struct sl_slice){ p.ptr + p.len, 0 };
		for (uint32_t k = 0; k < SL_ARRAY_SIZE(params); k++) {
			if (!sl_slice_eq(name, params[k].name))
				continue;
			if (k == 0)
				presigned = true;
			if (seen & (1u << k)) {
				rc = -EINVAL; /* which one would be signed? */
				continue;
			}
			seen |= 1u << k;
			int n = q_decode(val, (char *)out + params[k].off, params[k].cap);
			if (n < 0 && rc == 0)
				rc = n;
		}
		i = j + 1;
	}
	if (!presigned)
		return 0;
	if (rc < 0)
		return rc;
	for (uint32_t k = 0; k < SL_ARRAY_SIZE(params); k++)
		if (params[k].bit && ((const char *)out + params[k].off)[0] == 0)
			out->missing |= params[k].bit;
	out->has_expires = (seen & (1u << 5)) != 0;
	out->has_token = (seen & (1u << 6)) != 0;
	return 1;
}

/* ---- dates ------------------------------------------------------------ */

static bool parse_digits(const char *p, uint32_t n, int *out)
{
	int v = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

/* ISO-8601 basic: YYYYMMDDTHHMMSSZ. */
static bool parse_amz_date(struct sl_slice s, int64_t *t)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, se;
	if (s.len != 16 || s.ptr[8] != 'T' || s.ptr[15] != 'Z')
		return false;
	if (!parse_digits(s.ptr, 4, &y) || !parse_digits(s.ptr + 4, 2, &mo) ||
	    !parse_digits(s.ptr + 6, 2, &d) || !parse_digits(s.ptr + 9, 2, &h) ||
	    !parse_digits(s.ptr + 11, 2, &mi) || !parse_digits(s.ptr + 13, 2, &se))
		return false;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*t = (int64_t)timegm(&tm);
	return true;
}

/* RFC 7231 IMF-fixdate, the Date header fallback ("Fri, 24 May 2013
 * 00:00:00 GMT"). */
static bool parse_http_date(struct sl_slice s, int64_t *t)
{
	char buf[64];
	struct tm tm = { 0 };
	if (s.len == 0 || s.len >= sizeof(buf))
		return false;
	memcpy(buf, s.ptr, s.len);
	buf[s.len] = 0;
	const char *end = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return false;
	*t = (int64_t)timegm(&tm);
	return true;
}

static void fmt_amz_date(int64_t t, char out[17])
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	if (strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		memcpy(out, "00000000T000000Z", 17);
}

/* ---- keyed MACs and the signing-key cache ---------------------------- */

static int hmac256(struct sigv4_verifier *v, const void *key, size_t key_len, const void *msg,
		   size_t msg_len, uint8_t out[32])
{
	size_t olen = 0;
	if (EVP_MAC_init(v->mac, key, key_len, NULL) != 1 ||
	    EVP_MAC_update(v->mac, msg, msg_len) != 1 ||
	    EVP_MAC_final(v->mac, out, &olen, 32) != 1 || olen != 32)
		return -EIO;
	return 0;
}

static int derive_key(struct sigv4_verifier *v, const struct sigv4_cred *cred,
		      const struct sigv4_auth *a, uint8_t out[32])
{
	uint8_t k[32], seed[4 + SIGV4_SECRET_MAX];
	int rc;

	memcpy(seed, "AWS4", 4);
	memcpy(seed + 4, cred->secret, cred->secret_len);
	rc = hmac256(v, seed, 4 + cred->secret_len, a->date.ptr, a->date.len, k);
	if (!rc)
		rc = hmac256(v, k, 32, a->region.ptr, a->region.len, k);
	if (!rc)
		rc = hmac256(v, k, 32, a->service.ptr, a->service.len, k);
	if (!rc)
		rc = hmac256(v, k, 32, "aws4_request", 12, out);
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(k, sizeof(k));
	return rc;
}

/* Returns the cached kSigning for (credential, date, region, service),
 * deriving it on a miss; one HMAC chain per key per day in steady state. */
static const uint8_t *signing_key(struct sigv4_verifier *v, uint32_t cred_idx,
				  const struct sigv4_auth *a)
{
	if (a->date.len != 8 || a->region.len > 63 || a->service.len > 63)
		return NULL;
	for (uint32_t i = 0; i < SIGV4_CACHE_SLOTS; i++) {
		struct sigv4_cache_slot *s = &v->cache[i];
		if (s->used && s->cred_idx == cred_idx && !memcmp(s->date, a->date.ptr, 8) &&
		    s->region_len == a->region.len && s->service_len == a->service.len &&
		    !memcmp(s->region, a->region.ptr, a->region.len) &&
		    !memcmp(s->service, a->service.ptr, a->service.len))
			return s->key;
	}
	struct sigv4_cache_slot *s = &v->cache[v->cache_next];
	v->cache_next = (v->cache_next + 1) % SIGV4_CACHE_SLOTS;
	s->used = false;
	if (derive_key(v, &v->kr->creds[cred_idx], a, s->key))
		return NULL;
	s->cred_idx = cred_idx;
	memcpy(s->date, a->date.ptr, 8);
	s->region_len = (uint8_t)a->region.len;
	s->service_len = (uint8_t)a->service.len;
	memcpy(s->region, a->region.ptr, a->region.len);
	memcpy(s->service, a->service.ptr, a->service.len);
	s->used = true;
	return s->key;
}

/* ---- verifier lifecycle ---------------------------------------------- */

struct sigv4_verifier *sigv4_verifier_new(const struct sigv4_keyring *kr, const char *region)
{
	size_t rlen = region ? strlen(region) : 0;
	if (!kr || rlen == 0 || rlen > SIGV4_REGION_MAX) {
		errno = EINVAL;
		return NULL;
	}
	struct sigv4_verifier *v = calloc(1, sizeof(*v));
	if (!v) {
		errno = ENOMEM;
		return NULL;
	}
	v->kr = kr;
	memcpy(v->region, region, rlen);
	v->region_len = (uint32_t)rlen;
	v->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	v->md = EVP_MD_CTX_new();
	v->body_md = EVP_MD_CTX_new();
	v->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	v->mac = v->hmac ? EVP_MAC_CTX_new(v->hmac) : NULL;
	if (v->mac) {
		OSSL_PARAM p[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
			OSSL_PARAM_construct_end(),
		};
		if (EVP_MAC_CTX_set_params(v->mac, p) != 1) {
			EVP_MAC_CTX_free(v->mac);
			v->mac = NULL;
		}
	}
	if (!v->sha256 || !v->md || !v->body_md || !v->mac) {
		sigv4_verifier_free(v);
		errno = ENOMEM;
		return NULL;
	}
	return v;
}

void sigv4_verifier_free(struct sigv4_verifier *v)
{
	if (!v)
		return;
	EVP_MAC_CTX_free(v->mac);
	EVP_MAC_free(v->hmac);
	EVP_MD_CTX_free(v->md);
	EVP_MD_CTX_free(v->body_md);
	EVP_MD_free(v->sha256);
	OPENSSL_cleanse(v->cache, sizeof(v->cache));
	free(v);
}

/* ---- errors ----------------------------------------------------------- */

static const char msg_mismatch[] =
	"The request signature we calculated does not match the signature you provided. "
	"Check your AWS Secret Access Key and signing method. Consult the service "
	"documentation for details.";

__attribute__((format(printf, 3, 4))) static int fail(struct sigv4_error *err, const char *type,
						       const char *fmt, ...)
{
	va_list ap;
	err->http_status = 400;
	err->type = type;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EACCES;
}

#define T_MISSING "MissingAuthenticationTokenException"
#define T_INCOMPLETE "IncompleteSignatureException"
#define T_INVALID "InvalidSignatureException"
#define T_UNRECOGNIZED "UnrecognizedClientException"

static int fail_incomplete(struct sigv4_error *err, uint32_t missing, struct sl_slice auth)
{
	char *m = err->message;
	size_t cap = sizeof(err->message), n = 0;
	static const char *const names[] = { "Credential", "Signature", "SignedHeaders" };

	err->http_status = 400;
	err->type = T_INCOMPLETE;
	m[0] = 0;
	for (uint32_t i = 0; i < 3; i++)
		if (missing & (1u << i) && n < cap)
			n += (size_t)snprintf(m + n, cap - n,
					      "Authorization header requires '%s' parameter. ",
					      names[i]);
	if (missing & SIGV4_MISSING_DATE && n < cap)
		n += (size_t)snprintf(m + n, cap - n,
				      "Authorization header requires existence of either a "
				      "'X-Amz-Date' or a 'Date' header. ");
	if (n < cap)
		snprintf(m + n, cap - n, "Authorization=%.*s", (int)auth.len, auth.ptr);
	return -EACCES;
}

/* ---- verification ----------------------------------------------------- */

static bool signed_host(struct sigv4_verifier *v, uint32_t nsh)
{
	for (uint32_t i = 0; i < nsh; i++)
		if (sl_slice_caseeq(v->sh[i], "host") || sl_slice_eq(v->sh[i], ":authority"))
			return true;
	return false;
}

static int find_cred(const struct sigv4_keyring *kr, struct sl_slice id)
{
	for (uint32_t i = 0; i < kr->n; i++)
		if (kr->creds[i].id_len == id.len && !memcmp(kr->creds[i].id, id.ptr, id.len))
			return (int)i;
	return -1;
}

/* Hashes the canonical request; writes hex(sha256(creq)) into out. */
static int hash_canonical_request(struct sigv4_verifier *v, const struct sigv4_request *req,
				  uint32_t nsh, bool presigned, char out[SIGV4_HEX_SHA256_LEN])
{
	struct hstream h = { .md = v->md };
	uint8_t dg[32];
	unsigned dlen = 0;

	if (EVP_DigestInit_ex(v->md, v->sha256, NULL) != 1)
		return -EIO;
	hs_put(&h, req->method.ptr, req->method.len);
	hs_putc(&h, '\n');
	if (put_canonical_uri(v, &h, req->path))
		return -E2BIG;
	hs_putc(&h, '\n');
	if (put_canonical_query(v, &h, req->query, presigned))
		return -E2BIG;
	hs_putc(&h, '\n');
	put_canonical_headers(v, &h, nsh, req);

	/* The payload hash is always computed: when the client also sends
	 * x-amz-content-sha256, the signed value must equal the body's hash, or
	 * a captured signature could be replayed with another body. */
	char hex[SIGV4_HEX_SHA256_LEN];
	if (EVP_DigestInit_ex(v->body_md, v->sha256, NULL) != 1 ||
	    (req->body_len && EVP_DigestUpdate(v->body_md, req->body, req->body_len) != 1) ||
	    EVP_DigestFinal_ex(v->body_md, dg, &dlen) != 1 || dlen != 32)
		return -EIO;
	sv_hex_encode(dg, 32, hex);
	const struct sl_header *ph = sl_header_find(req->hdrs, req->nhdrs, "x-amz-content-sha256");
	if (ph) {
		struct sl_slice pv = slice_trim(ph->value);
		if (pv.len != sizeof(hex) || strncasecmp(pv.ptr, hex, sizeof(hex)))
			return -EBADMSG;
		hs_put(&h, pv.ptr, pv.len);
	} else {
		hs_put(&h, hex, sizeof(hex));
	}
	hs_flush(&h);
	if (h.err || EVP_DigestFinal_ex(v->md, dg, &dlen) != 1 || dlen != 32)
		return -EIO;
	sv_hex_encode(dg, 32, out);
	return 0;
}

static int compute_signature(struct sigv4_verifier *v, const struct sigv4_request *req,
			     const struct sigv4_auth *a, uint32_t nsh, bool presigned,
			     const char amz_date[17], const uint8_t *key,
			     char sig_hex[SIGV4_HEX_SHA256_LEN])
{
	char sts[512];
	char creq_hex[SIGV4_HEX_SHA256_LEN];
	uint8_t mac[32];

	if (hash_canonical_request(v, req, nsh, presigned, creq_hex))
		return -EIO;
	int n = snprintf(sts, sizeof(sts), SIGV4_ALGO "\n%s\n%.*s/%.*s/%.*s/%.*s\n%.*s", amz_date,
			 (int)a->date.len, a->date.ptr, (int)a->region.len, a->region.ptr,
			 (int)a->service.len, a->service.ptr, (int)a->terminal.len,
			 a->terminal.ptr, SIGV4_HEX_SHA256_LEN, creq_hex);
	if (n < 0 || (size_t)n >= sizeof(sts))
		return -E2BIG;
	if (hmac256(v, key, 32, sts, (size_t)n, mac))
		return -EIO;
	sv_hex_encode(mac, 32, sig_hex);
	return 0;
}

/* Date, clock skew and credential-scope checks, in the order AWS applies
 * them. The region must be the server's own (AWS's wording for a scope
 * naming another region). Fills amz_date with the ISO-8601 basic form used in the string to
 * sign. */
/* expires_s >= 0: a presigned request's X-Amz-Expires, which replaces the
 * 5-minute window on the past side (a signature from the future is refused
 * alike). */
static int check_date_scope(const struct sigv4_verifier *v, const struct sigv4_request *req,
			    const struct sigv4_auth *a, struct sl_slice date_val, bool from_amz,
			    int64_t expires_s, struct sigv4_error *err, char amz_date[17])
{
	int64_t t;
	char lim[17], now[17];

	if (from_amz ? !parse_amz_date(date_val, &t) : !parse_http_date(date_val, &t))
		return fail(err, T_INCOMPLETE,
			    "Date must be in ISO-8601 'basic format'. Got '%.*s'. See "
			    "http://en.wikipedia.org/wiki/ISO_8601",
			    (int)SL_MIN(date_val.len, 64u), date_val.ptr);
	fmt_amz_date(t, amz_date);
	fmt_amz_date(req->now_s, now);
	if (expires_s >= 0 && t < req->now_s - expires_s) {
		/* Invented (AWS's text for a stale presigned request is not
		 * recorded): the header form's, with X-Amz-Expires as the window. */
		fmt_amz_date(req->now_s - expires_s, lim);
		return fail(err, T_INVALID,
			    "Signature expired: %s is now earlier than %s (%s - %lld sec.)", amz_date,
			    lim, now, (long long)expires_s);
	}
	if (expires_s < 0 && t < req->now_s - SIGV4_SKEW_S) {
		fmt_amz_date(req->now_s - SIGV4_SKEW_S, lim);
		return fail(err, T_INVALID,
			    "Signature expired: %s is now earlier than %s (%s - " SIGV4_SKEW_TEXT ")",
			    amz_date, lim, now);
	}
	if (t > req->now_s + SIGV4_SKEW_S) {
		fmt_amz_date(req->now_s + SIGV4_SKEW_S, lim);
		return fail(err, T_INVALID,
			    "Signature not yet current: %s is still later than %s (%s + " SIGV4_SKEW_TEXT ")",
			    amz_date, lim, now);
	}
	if (!sl_slice_eq(a->terminal, "aws4_request"))
		return fail(err, T_INVALID,
			    "Credential should be scoped with a valid terminator: 'aws4_request', "
			    "not '%.*s'. ",
			    (int)SL_MIN(a->terminal.len, 64u), a->terminal.ptr);
	if (!sl_slice_eq(a->service, SIGV4_SERVICE))
		return fail(err, T_INVALID,
			    "Credential should be scoped to correct service: '" SIGV4_SERVICE
			    "'. ");
	if (a->date.len != 8 || memcmp(a->date.ptr, amz_date, 8))
		return fail(err, T_INVALID,
			    "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
			    "version of date from HTTP: '%.*s' != '%.8s', from '%.*s'.",
			    (int)SL_MIN(a->date.len, 64u), a->date.ptr, amz_date,
			    (int)SL_MIN(date_val.len, 64u), date_val.ptr);
	if (a->region.len != v->region_len || memcmp(a->region.ptr, v->region, v->region_len))
		return fail(err, T_INVALID,
			    "Credential should be scoped to a valid region, not '%.*s'. ",
			    (int)SL_MIN(a->region.len, 64u), a->region.ptr);
	return 0;
}

/* True when header name n must be covered by the signature: every x-amz-*
 * header (X-Amz-Target names the operation, X-Amz-Date the time,
 * X-Amz-Security-Token the session). Otherwise an unsigned header could be
 * swapped on a captured request: a DescribeStreamSummary re-sent as
 * DeleteStream. (Host is checked separately, with AWS's own message.)
 * Content-Type is not required: the AWS SDK for JavaScript v2 never signs
 * it (its V4 signer lists it as unsignable) and AWS accepts its requests;
 * swapping it on a captured request changes no operation, and the body it
 * describes is signed (its SHA-256 is in the signature). */
static bool must_be_signed(struct sl_slice n)
{
	return n.len > 6 && strncasecmp(n.ptr, "x-amz-", 6) == 0;
}

static bool is_signed(struct sigv4_verifier *v, uint32_t nsh, struct sl_slice name)
{
	for (uint32_t i = 0; i < nsh; i++)
		if (slice_caseeq_slice(v->sh[i], name))
			return true;
	return false;
}

/* The request's X-Amz-Security-Token against the credential's session
 * token: a profile without aws_session_token takes no token, one with it
 * requires exactly that token (as AWS treats temporary credentials). */
static bool token_ok(const struct sigv4_cred *cred, const struct sigv4_request *req,
		     const struct sigv4_query_auth *q)
{
	const struct sl_header *th =
		sl_header_find(req->hdrs, req->nhdrs, "x-amz-security-token");
	struct sl_slice t;
	if (q && q->has_token)
		t = (struct sl_slice){ q->token, (uint32_t)strlen(q->token) };
	else if (th)
		t = slice_trim(th->value);
	else
		return cred->token_len == 0;
	return cred->token_len && t.len == cred->token_len &&
	       CRYPTO_memcmp(t.ptr, cred->token, t.len) == 0;
}

/* What the head check found, for the signature step. */
struct sigv4_head {
	struct sigv4_auth a;
	char amz_date[17];
	uint32_t nsh;
	uint32_t cred_idx;
	bool presigned;		   /* the signature is in the query */
	struct sigv4_query_auth q; /* presigned: its decoded parameters */
};

static struct sl_slice cstr_slice(const char *s)
{
	return (struct sl_slice){ s, (uint32_t)strlen(s) };
}

/* The checks after the signature's parts are known, shared by both forms:
 * date, skew or expiry and credential scope, Host and the other required
 * headers signed, the key known, the session token. */
static int check_tail(struct sigv4_verifier *v, const struct sigv4_request *req,
		      struct sigv4_head *h, struct sl_slice date_val, bool from_amz,
		      int64_t expires_s, struct sigv4_error *err)
{
	int rc = check_date_scope(v, req, &h->a, date_val, from_amz, expires_s, err, h->amz_date);
	if (rc)
		return rc;
	int nsh = split_signed_headers(v, h->a.signed_headers);
	if (nsh < 0)
		return fail(err, T_INVALID, "%s", msg_mismatch);
	h->nsh = (uint32_t)nsh;
	if (!signed_host(v, h->nsh))
		return fail(err, T_INVALID,
			    "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
			    "Authorization.");
	for (uint32_t i = 0; i < req->nhdrs; i++) {
		struct sl_slice n = req->hdrs[i].name;
		if (must_be_signed(n) && !is_signed(v, h->nsh, n))
			/* Invented (AWS's text for this case is not recorded):
			 * shaped like its message for an unsigned Host. */
			return fail(err, T_INVALID,
				    "'%.*s' must be a 'SignedHeader' in the AWS Authorization.",
				    (int)SL_MIN(n.len, 64u), n.ptr);
	}
	int ci = find_cred(v->kr, h->a.access_key);
	if (ci < 0 || !token_ok(&v->kr->creds[ci], req, h->presigned ? &h->q : NULL))
		return fail(err, T_UNRECOGNIZED,
			    "The security token included in the request is invalid.");
	h->cred_idx = (uint32_t)ci;
	return 0;
}

/* X-Amz-Expires: decimal seconds, at most a week (a signing key is good for
 * no longer). Returns the value or -1 with err filled. The texts are S3's
 * (AuthorizationQueryParametersError); Kinesis's are not recorded. */
static int64_t parse_expires(const char *s, struct sigv4_error *err)
{
	int64_t e = 0;
	size_t n = strlen(s), i = 0;

	if (n > 0 && s[0] == '-') {
		fail(err, T_INCOMPLETE, "X-Amz-Expires must be non-negative");
		return -1;
	}
	for (; i < n && i < 12; i++) {
		if (s[i] < '0' || s[i] > '9')
			break;
		e = e * 10 + (s[i] - '0');
	}
	if (n == 0 || i < n) {
		fail(err, T_INCOMPLETE, "X-Amz-Expires should be a number");
		return -1;
	}
	if (e > SIGV4_PRESIGN_MAX_S) {
		fail(err, T_INCOMPLETE,
		     "X-Amz-Expires must be less than a week (in seconds); that is, the given "
		     "X-Amz-Expires must be less than %d seconds", SIGV4_PRESIGN_MAX_S);
		return -1;
	}
	return e;
}

/* The presigned form: parameters present (AWS lists every missing one, in
 * its order), algorithm, credential, expiry, then the shared checks. */
static int check_head_query(struct sigv4_verifier *v, const struct sigv4_request *req,
			    struct sigv4_head *h, int qa, struct sigv4_error *err)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} order[] = { { SIGV4_Q_ALGORITHM, "X-Amz-Algorithm" },
		      { SIGV4_Q_CREDENTIAL, "X-Amz-Credential" },
		      { SIGV4_Q_SIGNATURE, "X-Amz-Signature" },
		      { SIGV4_Q_SIGNED_HEADERS, "X-Amz-SignedHeaders" },
		      { SIGV4_Q_DATE, "X-Amz-Date" } };
	struct sigv4_query_auth *q = &h->q;

	if (qa < 0)
		/* Invented: a parameter given twice, too long or holding a NUL. */
		return fail(err, T_INCOMPLETE,
			    "AWS query-string parameters must appear once each and be well "
			    "formed. Re-examine the query-string parameters.");
	if (q->missing) {
		size_t n = 0, cap = sizeof(err->message);
		fail(err, T_INCOMPLETE, "%s", "");
		for (uint32_t i = 0; i < SL_ARRAY_SIZE(order) && n < cap; i++)
			if (q->missing & order[i].bit)
				n += (size_t)snprintf(err->message + n, cap - n,
						      "AWS query-string parameters must include "
						      "'%s'. ", order[i].name);
		if (n < cap)
			snprintf(err->message + n, cap - n, "Re-examine the query-string parameters.");
		return -EACCES;
	}
	if (strcmp(q->algorithm, SIGV4_ALGO) != 0)
		return fail(err, T_INCOMPLETE, "Unsupported AWS 'algorithm': '%.64s'", q->algorithm);
	if (split_credential(cstr_slice(q->credential), &h->a))
		return fail(err, T_INCOMPLETE,
			    "Credential must have exactly 5 slash-delimited elements, e.g. "
			    "keyid/date/region/service/term, got '%.256s'", q->credential);
	h->a.signed_headers = cstr_slice(q->signed_headers);
	h->a.signature = cstr_slice(q->signature);
	int64_t expires_s = -1;
	if (q->has_expires && (expires_s = parse_expires(q->expires, err)) < 0)
		return -EACCES;
	h->presigned = true;
	return check_tail(v, req, h, cstr_slice(q->date), true, expires_s, err);
}

/* Every check that does not need the body, in AWS's order: one form of
 * authentication present (header or query), its parts parsed, then
 * check_tail. */
static int check_head(struct sigv4_verifier *v, const struct sigv4_request *req,
		      struct sigv4_head *h, struct sigv4_error *err)
{
	struct sl_slice cred;
	uint32_t missing;
	const char *why = NULL;

	h->presigned = false;
	const struct sl_header *ah = sl_header_find(req->hdrs, req->nhdrs, "authorization");
	int qa = sigv4_parse_query_auth(req->query, &h->q);
	if (ah && qa != 0)
		return fail(err, T_INVALID,
			    "Found both 'X-Amz-Algorithm' as a query-string param and "
			    "'Authorization' as HTTP header.");
	if (!ah && qa == 0)
		return fail(err, T_MISSING, "Missing Authentication Token");
	if (!ah)
		return check_head_query(v, req, h, qa, err);
	const struct sl_header *dh = sl_header_find(req->hdrs, req->nhdrs, "x-amz-date");
	bool from_amz = dh != NULL;
	if (!dh)
		dh = sl_header_find(req->hdrs, req->nhdrs, "date");

	int rc = sigv4_parse_auth_ex(ah->value, &h->a, &missing, &cred, &why);
	if (!dh)
		missing |= SIGV4_MISSING_DATE;
	if (missing)
		return fail_incomplete(err, missing, slice_trim(ah->value));
	if (rc) {
		if (cred.len && strncmp(why, "Credential", 10) == 0)
			return fail(err, T_INCOMPLETE, "%s, got '%.*s'", why,
				    (int)SL_MIN(cred.len, 256u), cred.ptr);
		struct sl_slice v0 = slice_trim(ah->value);
		uint32_t alen = 0;
		while (alen < v0.len && !is_lws(v0.ptr[alen]) && v0.ptr[alen] != ',')
			alen++;
		return fail(err, T_INCOMPLETE, "Unsupported AWS 'algorithm': '%.*s'",
			    (int)SL_MIN(alen, 64u), v0.ptr);
	}
	return check_tail(v, req, h, slice_trim(dh->value), from_amz, -1, err);
}

int sigv4_check_head(struct sigv4_verifier *v, const struct sigv4_request *req,
		     struct sigv4_error *err)
{
	struct sigv4_head h;
	return check_head(v, req, &h, err);
}

int sigv4_verify(struct sigv4_verifier *v, const struct sigv4_request *req,
		 struct sigv4_identity *id, struct sigv4_error *err)
{
	struct sigv4_head h;
	char sig[SIGV4_HEX_SHA256_LEN];
	int rc = check_head(v, req, &h, err);
	if (rc)
		return rc;
	const struct sigv4_auth *a = &h.a;
	const uint8_t *key = signing_key(v, h.cred_idx, a);
	if (!key || compute_signature(v, req, a, h.nsh, h.presigned, h.amz_date, key, sig))
		return fail(err, T_INVALID, "%s", msg_mismatch);
	if (a->signature.len != SIGV4_HEX_SHA256_LEN ||
	    CRYPTO_memcmp(sig, a->signature.ptr, SIGV4_HEX_SHA256_LEN) != 0)
		return fail(err, T_INVALID, "%s", msg_mismatch);
	snprintf(id->access_key, sizeof(id->access_key), "%.*s", (int)a->access_key.len,
		 a->access_key.ptr);
	/* The scope's region was checked to be ours: ARNs carry the server's. */
	snprintf(id->region, sizeof(id->region), "%s", v->region);
	snprintf(id->service, sizeof(id->service), "%.*s", (int)a->service.len, a->service.ptr);
	id->internal = v->kr->creds[h.cred_idx].internal;
	return 0;
}

/* ---- shared-credentials file ----------------------------------------- */

/* Uniform random characters from alphabet[0..n) by rejection sampling, so
 * no character is more likely than another. */
static int rand_chars(char *out, size_t len, const char *alphabet, uint32_t n)
{
	uint8_t buf[64];
	size_t got = 0;
	uint32_t lim = 256 - 256 % n;

	while (got < len) {
		if (RAND_bytes(buf, sizeof(buf)) != 1)
			return -EIO;
		for (size_t i = 0; i < sizeof(buf) && got < len; i++)
			if (buf[i] < lim)
				out[got++] = alphabet[buf[i] % n];
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes a fresh [default] profile. The file is built under a temporary name
 * (mkstemp: O_CREAT|O_EXCL, 0600) and published with link(), which never
 * replaces an existing file, so a crash leaves no half-written credentials
 * and a concurrent creator wins cleanly. */
static int create_credentials(const char *path)
{
	static const char up[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char id[21], secret[41], text[160], tmp[4096];
	int rc, fd, n;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(id, "AKIA", 4);
	rc = rand_chars(id + 4, 16, up, 36);
	if (!rc)
		rc = rand_chars(secret, 40, b64, 64);
	if (rc)
		return rc;
	id[20] = 0;
	secret[40] = 0;
	n = snprintf(text, sizeof(text),
		     "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", id, secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	fd = mkstemp(tmp);
	if (fd < 0) {
		OPENSSL_cleanse(text, sizeof(text));
		return -errno;
	}
	rc = fchmod(fd, 0600) ? -errno : 0;
	if (!rc)
		rc = write_all(fd, text, (size_t)n);
	OPENSSL_cleanse(text, sizeof(text));
	if (!rc && fsync(fd))
		rc = -errno;
	close(fd);
	if (!rc && link(tmp, path) && errno != EEXIST)
		rc = -errno;
	unlink(tmp);
	return rc;
}

static bool add_cred(struct sigv4_keyring *kr, struct sl_slice id, struct sl_slice secret,
		     struct sl_slice token)
{
	if (id.len == 0 || id.len > SIGV4_KEYID_MAX || secret.len == 0 ||
	    secret.len > SIGV4_SECRET_MAX || token.len > SIGV4_TOKEN_MAX)
		return false;
	if (find_cred(kr, id) >= 0)
		return true; /* first profile naming a key wins */
	if (kr->n == SIGV4_MAX_CREDS)
		return false;
	struct sigv4_cred *c = &kr->creds[kr->n++];
	memcpy(c->id, id.ptr, id.len);
	c->id_len = id.len;
	memcpy(c->secret, secret.ptr, secret.len);
	c->secret_len = secret.len;
	if (token.len)
		memcpy(c->token, token.ptr, token.len);
	c->token_len = token.len;
	return true;
}

struct ini_state {
	bool in_section;
	struct sl_slice id, secret, token;
};

static bool ini_end_section(struct sigv4_keyring *kr, struct ini_state *st)
{
	bool ok = true;
	/* A profile holding other settings only (region, ...) is not an error. */
	if (st->id.len && st->secret.len)
		ok = add_cred(kr, st->id, st->secret, st->token);
	st->id = st->secret = st->token = (struct sl_slice){ 0 };
	return ok;
}

static bool ini_line(struct sigv4_keyring *kr, struct ini_state *st, struct sl_slice l)
{
	l = slice_trim(l);
	if (l.len && l.ptr[l.len - 1] == '\r')
		l = slice_trim((struct sl_slice){ l.ptr, l.len - 1 });
	if (l.len == 0 || l.ptr[0] == '#' || l.ptr[0] == ';')
		return true;
	if (l.ptr[0] == '[') {
		if (l.ptr[l.len - 1] != ']' || l.len < 3)
			return false;
		if (st->in_section && !ini_end_section(kr, st))
			return false;
		st->in_section = true;
		return true;
	}
	const char *eq = memchr(l.ptr, '=', l.len);
	if (!eq || !st->in_section)
		return false;
	struct sl_slice k = slice_trim((struct sl_slice){ l.ptr, (uint32_t)(eq - l.ptr) });
	struct sl_slice val = slice_trim((struct sl_slice){ eq + 1, (uint32_t)(l.ptr + l.len - eq - 1) });
	if (sl_slice_caseeq(k, "aws_access_key_id"))
		st->id = val;
	else if (sl_slice_caseeq(k, "aws_secret_access_key"))
		st->secret = val;
	else if (sl_slice_caseeq(k, "aws_session_token"))
		st->token = val;
	return true;
}

static int parse_credentials(struct sigv4_keyring *kr, const char *buf, size_t len)
{
	struct ini_state st = { 0 };
	size_t i = 0;
	uint32_t lines = 0;

	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - buf) : len;
		if (e - i > SIGV4_CRED_LINE_MAX || ++lines > SIGV4_CRED_LINES_MAX)
			return -EINVAL;
		if (!ini_line(kr, &st, (struct sl_slice){ buf + i, (uint32_t)(e - i) }))
			return -EINVAL;
		i = e + 1;
	}
	if (st.in_section && !ini_end_section(kr, &st))
		return -EINVAL;
	return kr->n ? 0 : -EINVAL;
}

static int read_credentials(struct sigv4_keyring *kr, int fd)
{
	struct stat stb;
	char *buf;
	size_t got = 0;
	int rc = 0;

	if (fstat(fd, &stb))
		return -errno;
	if (!S_ISREG(stb.st_mode))
		return -EINVAL;
	if (stb.st_mode & 077)
		return -EPERM;
	if (stb.st_size > SIGV4_CRED_FILE_MAX)
		return -EINVAL;
	buf = malloc(SIGV4_CRED_FILE_MAX);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r = read(fd, buf + got, SIGV4_CRED_FILE_MAX - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = -errno;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == SIGV4_CRED_FILE_MAX) {
			rc = -EINVAL;
			break;
		}
	}
	if (!rc)
		rc = parse_credentials(kr, buf, got);
	OPENSSL_cleanse(buf, SIGV4_CRED_FILE_MAX);
	free(buf);
	return rc;
}

struct sigv4_keyring *sigv4_keyring_load(const char *path, bool create)
{
	struct sigv4_keyring *kr;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT && create) {
		rc = create_credentials(path);
		if (rc) {
			errno = -rc;
			return NULL;
		}
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	}
	if (fd < 0)
		return NULL;
	kr = calloc(1, sizeof(*kr));
	if (!kr) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	rc = read_credentials(kr, fd);
	close(fd);
	if (rc) {
		sigv4_keyring_free(kr);
		errno = -rc;
		return NULL;
	}
	return kr;
}

void sigv4_keyring_free(struct sigv4_keyring *kr)
{
	if (!kr)
		return;
	OPENSSL_cleanse(kr, sizeof(*kr));
	free(kr);
}

uint32_t sigv4_keyring_count(const struct sigv4_keyring *kr)
{
	return kr ? kr->n : 0;
}

int sigv4_keyring_add_internal(struct sigv4_keyring *kr, char id_out[SIGV4_INTERNAL_ID_LEN + 1],
			       char secret_out[SIGV4_INTERNAL_SECRET_LEN + 1])
{
	static const char up[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	if (kr->n == SIGV4_MAX_CREDS)
		return -ENOSPC;
	/* "SLIN" so that a key id seen in a capture says what it is; 16
	 * random characters (82 bits) keep it from colliding with a profile's
	 * key, and the secret is what protects it. */
	memcpy(id_out, "SLIN", 4);
	int rc = rand_chars(id_out + 4, SIGV4_INTERNAL_ID_LEN - 4, up, 36);
	if (!rc)
		rc = rand_chars(secret_out, SIGV4_INTERNAL_SECRET_LEN, b64, 64);
	id_out[SIGV4_INTERNAL_ID_LEN] = 0;
	secret_out[SIGV4_INTERNAL_SECRET_LEN] = 0;
	if (rc)
		return -EIO;
	struct sl_slice id = { id_out, SIGV4_INTERNAL_ID_LEN };
	if (find_cred(kr, id) >= 0)
		return -EEXIST; /* a profile chose this very id: 36^-16, but never share one */
	bool added = add_cred(kr, id, (struct sl_slice){ secret_out, SIGV4_INTERNAL_SECRET_LEN },
			      (struct sl_slice){ 0 });
	BUG_ON(!added); /* room, lengths and uniqueness checked above */
	kr->creds[kr->n - 1].internal = true;
	return 0;
}
