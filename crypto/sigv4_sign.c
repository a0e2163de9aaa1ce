/* SPDX-License-Identifier: Apache-2.0 */
/* SigV4 signing (AWS4-HMAC-SHA256, Authorization-header form), for clients we
 * write ourselves: the load generator in perf/.
 *
 * The canonical URI is sigv4_internal.c's, shared with the verifier. The
 * rest is written again here, on purpose: sigv4.c's canonicalisation streams
 * from a SignedHeaders list the client sent; a signer instead chooses the
 * headers and sorts them. The rules are the same (and both are checked
 * against botocore in tests/unit/crypto/): query components
 * decoded ('+' is a space) then encoded, sorted by name then value; header
 * names lower-cased and sorted, values trimmed with inner whitespace runs
 * collapsed, repeats joined with ','. The canonical request is built in a
 * fixed scratch buffer owned by the signer (no malloc per request). */
#include "crypto/sigv4.h"
#include "crypto/sigv4_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define SIGN_ALGO "AWS4-HMAC-SHA256"
#define SIGN_KEY_MAX 128
#define SIGN_SCOPE_MAX 63
#define SIGN_MAX_SEGMENTS 128

struct sign_hdr {
	struct sl_slice name, value;
};

struct sigv4_signer {
	EVP_MD *sha256;
	EVP_MD_CTX *md;
	EVP_MAC *hmac;
	EVP_MAC_CTX *mac;
	char key_id[SIGN_KEY_MAX + 1];
	uint8_t seed[4 + SIGN_KEY_MAX]; /* "AWS4" + secret */
	uint32_t seed_len;
	char region[SIGN_SCOPE_MAX + 1];
	char service[SIGN_SCOPE_MAX + 1];
	char key_date[9];	    /* date kSigning was derived for, "" if none */
	uint8_t key[32];	    /* kSigning */
	struct sign_hdr hdr[SIGV4_SIGN_MAX_HEADERS];
	struct sign_hdr qp[SIGV4_SIGN_MAX_QUERY];
	struct sl_slice seg[SIGN_MAX_SEGMENTS];
	uint32_t len;		    /* bytes used in buf */
	bool overflow;
	char buf[SIGV4_SIGN_SCRATCH_BYTES];
};

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* ---- scratch buffer --------------------------------------------------- */

static void put(struct sigv4_signer *s, const void *p, size_t n)
{
	if (n > sizeof(s->buf) - s->len) {
		s->overflow = true;
		return;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += (uint32_t)n;
}

static void putc_(struct sigv4_signer *s, uint8_t c)
{
	put(s, &c, 1);
}

static void put_enc(struct sigv4_signer *s, uint8_t c)
{
	if (sv_unreserved(c)) {
		putc_(s, c);
		return;
	}
	char e[3] = { '%', sv_hexc(c >> 4, true), sv_hexc(c & 15, true) };
	put(s, e, 3);
}

/* ---- lifecycle --------------------------------------------------------- */

void sigv4_signer_free(struct sigv4_signer *s)
{
	if (!s)
		return;
	EVP_MAC_CTX_free(s->mac);
	EVP_MAC_free(s->hmac);
	EVP_MD_CTX_free(s->md);
	EVP_MD_free(s->sha256);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

struct sigv4_signer *sigv4_signer_new(const char *access_key, const char *secret,
				      const char *region, const char *service)
{
	size_t kl = access_key ? strlen(access_key) : 0, sl = secret ? strlen(secret) : 0;
	size_t rl = region ? strlen(region) : 0, vl = service ? strlen(service) : 0;
	if (!kl || kl > SIGN_KEY_MAX || !sl || sl > SIGN_KEY_MAX || !rl ||
	    rl > SIGN_SCOPE_MAX || !vl || vl > SIGN_SCOPE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	struct sigv4_signer *s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	memcpy(s->key_id, access_key, kl);
	memcpy(s->seed, "AWS4", 4);
	memcpy(s->seed + 4, secret, sl);
	s->seed_len = (uint32_t)(4 + sl);
	memcpy(s->region, region, rl);
	memcpy(s->service, service, vl);
	s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	s->md = EVP_MD_CTX_new();
	s->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	s->mac = s->hmac ? EVP_MAC_CTX_new(s->hmac) : NULL;
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	if (!s->sha256 || !s->md || !s->mac || EVP_MAC_CTX_set_params(s->mac, p) != 1) {
		sigv4_signer_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

void sigv4_amz_date(int64_t now_s, char out[17])
{
	struct tm tm;
	time_t t = (time_t)now_s;
	gmtime_r(&t, &tm);
	if (strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16)
		memcpy(out, "00000000T000000Z", 17);
}

int sigv4_sha256_hex(struct sigv4_signer *s, const void *data, size_t len, char out[65])
{
	uint8_t dg[32];
	unsigned dl = 0;
	if (EVP_Digest(len ? data : "", len, dg, &dl, s->sha256, NULL) != 1 || dl != 32)
		return -EIO;
	sv_hex_encode(dg, 32, out);
	out[64] = 0;
	return 0;
}

static int hmac256(struct sigv4_signer *s, const void *key, size_t key_len, const void *msg,
		   size_t msg_len, uint8_t out[32])
{
	size_t olen = 0;
	if (EVP_MAC_init(s->mac, key, key_len, NULL) != 1 ||
	    EVP_MAC_update(s->mac, msg, msg_len) != 1 ||
	    EVP_MAC_final(s->mac, out, &olen, 32) != 1 || olen != 32)
		return -EIO;
	return 0;
}

/* kSigning for date (YYYYMMDD), derived once per day. */
static int signing_key(struct sigv4_signer *s, const char date[8])
{
	uint8_t k[32];
	int rc;

	if (!memcmp(s->key_date, date, 8))
		return 0;
	s->key_date[0] = 0;
	rc = hmac256(s, s->seed, s->seed_len, date, 8, k);
	if (!rc)
		rc = hmac256(s, k, 32, s->region, strlen(s->region), k);
	if (!rc)
		rc = hmac256(s, k, 32, s->service, strlen(s->service), k);
	if (!rc)
		rc = hmac256(s, k, 32, "aws4_request", 12, s->key);
	OPENSSL_cleanse(k, sizeof(k));
	if (!rc)
		memcpy(s->key_date, date, 8);
	return rc;
}

/* ---- canonical request ------------------------------------------------ */

/* sv_put_fn over the scratch buffer. */
static void put_cb(void *ctx, const void *p, size_t n)
{
	put(ctx, p, n);
}

static int put_uri(struct sigv4_signer *s, struct sl_slice path)
{
	/* S3 signs the path as sent (the caller encoded the key once), with
	 * no normalisation: "a//b" and "./" are parts of object keys there. */
	if (strcmp(s->service, "s3") == 0) {
		put(s, path.ptr, path.len);
		return 0;
	}
	return sv_canonical_uri(path, s->seg, SIGN_MAX_SEGMENTS, put_cb, s);
}

/* Decodes one wire query component ('+' is a space, %XX a byte) and
 * re-encodes it in canonical form into the scratch buffer. */
static void put_query_part(struct sigv4_signer *s, struct sl_slice p)
{
	for (uint32_t i = 0; i < p.len; i++) {
		uint8_t c = (uint8_t)p.ptr[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < p.len) {
			int hi = sv_hexval(p.ptr[i + 1]), lo = sv_hexval(p.ptr[i + 2]);
			if (hi >= 0 && lo >= 0) {
				c = (uint8_t)(hi << 4 | lo);
				i += 2;
			}
		}
		put_enc(s, c);
	}
}

/* Canonical query: each parameter's canonical "name=value" is written into
 * the scratch tail, then the list is sorted by the canonical name, value. */
static int cmp_qp(const void *pa, const void *pb)
{
	const struct sign_hdr *a = pa, *b = pb;
	uint32_t n = a->name.len < b->name.len ? a->name.len : b->name.len;
	int r = memcmp(a->name.ptr, b->name.ptr, n);
	if (r || a->name.len != b->name.len)
		return r ? r : (a->name.len < b->name.len ? -1 : 1);
	n = a->value.len < b->value.len ? a->value.len : b->value.len;
	r = memcmp(a->value.ptr, b->value.ptr, n);
	if (r || a->value.len == b->value.len)
		return r;
	return a->value.len < b->value.len ? -1 : 1;
}

static int put_query(struct sigv4_signer *s, struct sl_slice q)
{
	uint32_t n = 0, i = 0, start = s->len;

	/* Encode every parameter first, past the current end of the buffer,
	 * then append them in sorted order and drop the unsorted copies. */
	while (i < q.len) {
		uint32_t j = i;
		while (j < q.len && q.ptr[j] != '&')
			j++;
		if (j > i) {
			if (n == SIGV4_SIGN_MAX_QUERY)
				return -E2BIG;
			const char *p = q.ptr + i, *eq = memchr(p, '=', j - i);
			uint32_t nl = eq ? (uint32_t)(eq - p) : j - i;
			uint32_t a = s->len;
			put_query_part(s, (struct sl_slice){ p, nl });
			uint32_t b = s->len;
			if (eq)
				put_query_part(s, (struct sl_slice){ eq + 1, j - i - nl - 1 });
			s->qp[n].name = (struct sl_slice){ s->buf + a, b - a };
			s->qp[n].value = (struct sl_slice){ s->buf + b, s->len - b };
			n++;
		}
		i = j + 1;
	}
	if (s->overflow)
		return -E2BIG;
	qsort(s->qp, n, sizeof(s->qp[0]), cmp_qp);
	uint32_t enc_end = s->len;
	for (i = 0; i < n; i++) {
		if (i)
			putc_(s, '&');
		put(s, s->qp[i].name.ptr, s->qp[i].name.len);
		putc_(s, '=');
		put(s, s->qp[i].value.ptr, s->qp[i].value.len);
	}
	if (s->overflow)
		return -E2BIG;
	uint32_t out_len = s->len - enc_end;
	memmove(s->buf + start, s->buf + enc_end, out_len);
	s->len = start + out_len;
	return 0;
}

static int cmp_name(struct sl_slice a, struct sl_slice b)
{
	uint32_t n = a.len < b.len ? a.len : b.len;
	for (uint32_t i = 0; i < n; i++) {
		uint8_t x = lower((uint8_t)a.ptr[i]), y = lower((uint8_t)b.ptr[i]);
		if (x != y)
			return x < y ? -1 : 1;
	}
	return a.len == b.len ? 0 : (a.len < b.len ? -1 : 1);
}

static int cmp_hdr(const void *pa, const void *pb)
{
	const struct sign_hdr *a = pa, *b = pb;
	int r = cmp_name(a->name, b->name);
	/* Equal names keep wire order: compare addresses (headers come from
	 * one array, in order). */
	if (!r)
		r = a->name.ptr < b->name.ptr ? -1 : (a->name.ptr > b->name.ptr);
	return r;
}

static bool skip_header(struct sl_slice n)
{
	return sl_slice_caseeq(n, "authorization") || sl_slice_caseeq(n, "user-agent") ||
	       sl_slice_caseeq(n, "expect") || sl_slice_caseeq(n, "x-amzn-trace-id");
}

/* value trimmed, inner runs of whitespace collapsed to one space */
static void put_trimall(struct sigv4_signer *s, struct sl_slice v)
{
	bool space = false, any = false;
	for (uint32_t i = 0; i < v.len; i++) {
		char c = v.ptr[i];
		if (c == ' ' || c == '\t') {
			space = any;
			continue;
		}
		if (space)
			putc_(s, ' ');
		space = false;
		any = true;
		putc_(s, (uint8_t)c);
	}
}

/* Canonical headers, a blank line, then the signed-headers list. Returns the
 * offset and length of the signed-headers list (for the Authorization
 * value) through sh_off and sh_len. */
static int put_headers(struct sigv4_signer *s, const struct sigv4_request *req,
		       uint32_t *sh_off, uint32_t *sh_len)
{
	uint32_t n = 0;
	bool host = false;

	for (uint32_t i = 0; i < req->nhdrs; i++) {
		if (skip_header(req->hdrs[i].name))
			continue;
		if (n == SIGV4_SIGN_MAX_HEADERS)
			return -E2BIG;
		host |= sl_slice_caseeq(req->hdrs[i].name, "host");
		s->hdr[n].name = req->hdrs[i].name;
		s->hdr[n++].value = req->hdrs[i].value;
	}
	if (!host)
		return -EINVAL;
	qsort(s->hdr, n, sizeof(s->hdr[0]), cmp_hdr);
	for (uint32_t i = 0; i < n; i++) {
		bool repeat = i && !cmp_name(s->hdr[i - 1].name, s->hdr[i].name);
		if (repeat) {
			putc_(s, ',');
		} else {
			if (i)
				putc_(s, '\n');
			for (uint32_t k = 0; k < s->hdr[i].name.len; k++)
				putc_(s, lower((uint8_t)s->hdr[i].name.ptr[k]));
			putc_(s, ':');
		}
		put_trimall(s, s->hdr[i].value);
	}
	put(s, "\n\n", 2);
	*sh_off = s->len;
	for (uint32_t i = 0; i < n; i++) {
		if (i && !cmp_name(s->hdr[i - 1].name, s->hdr[i].name))
			continue;
		if (i)
			putc_(s, ';');
		for (uint32_t k = 0; k < s->hdr[i].name.len; k++)
			putc_(s, lower((uint8_t)s->hdr[i].name.ptr[k]));
	}
	*sh_len = s->len - *sh_off;
	putc_(s, '\n');
	return 0;
}

/* Builds the canonical request in s->buf; returns 0 or -errno. */
static int canonical_request(struct sigv4_signer *s, const struct sigv4_request *req,
			     const char *payload_hex, uint32_t *sh_off, uint32_t *sh_len)
{
	int rc;

	s->len = 0;
	s->overflow = false;
	put(s, req->method.ptr, req->method.len);
	putc_(s, '\n');
	if ((rc = put_uri(s, req->path)))
		return rc;
	putc_(s, '\n');
	if ((rc = put_query(s, req->query)))
		return rc;
	putc_(s, '\n');
	if ((rc = put_headers(s, req, sh_off, sh_len)))
		return rc;
	if (payload_hex) {
		put(s, payload_hex, 64);
	} else {
		char hx[65];
		if (sigv4_sha256_hex(s, req->body, req->body_len, hx))
			return -EIO;
		put(s, hx, 64);
	}
	return s->overflow ? -E2BIG : 0;
}

int sigv4_sign(struct sigv4_signer *s, const struct sigv4_request *req,
	       const char *payload_sha256_hex, char *out, size_t cap)
{
	uint32_t sh_off = 0, sh_len = 0;
	char date[17], creq_hex[65], sts[256], sig[65];
	uint8_t mac[32];

	int rc = canonical_request(s, req, payload_sha256_hex, &sh_off, &sh_len);
	if (rc)
		return rc;
	/* The signed-headers list lives in the scratch buffer, which the hash
	 * below does not modify. */
	char sh_copy[1024];
	if (sh_len >= sizeof(sh_copy))
		return -E2BIG;
	memcpy(sh_copy, s->buf + sh_off, sh_len);
	if (sigv4_sha256_hex(s, s->buf, s->len, creq_hex))
		return -EIO;
	sigv4_amz_date(req->now_s, date);
	int n = snprintf(sts, sizeof(sts), SIGN_ALGO "\n%s\n%.8s/%s/%s/aws4_request\n%s", date,
			 date, s->region, s->service, creq_hex);
	if (n < 0 || (size_t)n >= sizeof(sts))
		return -E2BIG;
	if (signing_key(s, date) || hmac256(s, s->key, 32, sts, (size_t)n, mac))
		return -EIO;
	sv_hex_encode(mac, 32, sig);
	sig[64] = 0;
	n = snprintf(out, cap,
		     SIGN_ALGO " Credential=%s/%.8s/%s/%s/aws4_request, SignedHeaders=%.*s, "
			       "Signature=%s",
		     s->key_id, date, s->region, s->service, (int)sh_len, sh_copy, sig);
	if (n < 0 || (size_t)n >= cap)
		return -E2BIG;
	return n;
}
