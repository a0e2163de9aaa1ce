/* SPDX-License-Identifier: Apache-2.0 */
/* SigV4 verification against signatures computed by botocore (the oracle):
 * gen_sigv4_vectors.py writes the vectors at build time, argv[1] names the
 * file. Also the credentials-file keyring. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/bug.h"
#include "crypto/sigv4.h"
#include "crypto/sigv4_internal.h"

#define MAX_VEC 16
#define MAX_HDR 32

struct vec {
	char name[64];
	char method[16];
	char *path, *query, *body;
	size_t body_len;
	uint32_t nh;
	char *hname[MAX_HDR], *hval[MAX_HDR];
	int64_t t;
};

static struct vec vecs[MAX_VEC];
static uint32_t nvec;
static const char *vec_path;
static char tmpdir[] = "/tmp/sigv4_test.XXXXXX";

static const char MISMATCH[] =
	"The request signature we calculated does not match the signature you provided. "
	"Check your AWS Secret Access Key and signing method. Consult the service "
	"documentation for details.";

static char *unhex(const char *h, size_t *len)
{
	size_t n = strcmp(h, "-") ? strlen(h) / 2 : 0;
	char *out = calloc(1, n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned b;
		sscanf(h + 2 * i, "%2x", &b);
		out[i] = (char)b;
	}
	if (len)
		*len = n;
	return out;
}

/* Returns 0, or 77 when the generator could not import botocore. */
static int load_vectors(const char *path)
{
	static char line[8192];
	FILE *f = fopen(path, "r");
	struct vec *v = NULL;
	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f)) {
		char a[4096], b[4096];
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "SKIP", 4)) {
			fclose(f);
			return 77;
		}
		if (line[0] == 'V' && nvec < MAX_VEC) {
			v = &vecs[nvec++];
			snprintf(v->name, sizeof(v->name), "%.63s", line + 2);
		} else if (!v) {
			continue;
		} else if (line[0] == 'M') {
			snprintf(v->method, sizeof(v->method), "%.15s", line + 2);
		} else if (line[0] == 'P') {
			v->path = unhex(line + 2, NULL);
		} else if (line[0] == 'Q') {
			v->query = unhex(line + 2, NULL);
		} else if (line[0] == 'B') {
			v->body = unhex(line + 2, &v->body_len);
		} else if (line[0] == 'T') {
			v->t = strtoll(line + 2, NULL, 10);
		} else if ((line[0] == 'H' || line[0] == 'L') && v->nh < MAX_HDR &&
			   sscanf(line + 2, "%4095s %4095s", a, b) == 2) {
			v->hname[v->nh] = unhex(a, NULL);
			v->hval[v->nh] = unhex(b, NULL);
			v->nh++;
		}
	}
	fclose(f);
	return nvec ? 0 : 1;
}

static struct sl_slice S(const char *s)
{
	return (struct sl_slice){ s, (uint32_t)strlen(s) };
}

struct built {
	struct sl_header h[MAX_HDR];
	struct sigv4_request req;
};

static void build(const struct vec *v, struct built *b)
{
	memset(b, 0, sizeof(*b));
	for (uint32_t i = 0; i < v->nh; i++) {
		b->h[i].name = S(v->hname[i]);
		b->h[i].value = S(v->hval[i]);
	}
	b->req.method = S(v->method);
	b->req.path = S(v->path);
	b->req.query = S(v->query);
	b->req.hdrs = b->h;
	b->req.nhdrs = v->nh;
	b->req.body = (const uint8_t *)v->body;
	b->req.body_len = v->body_len;
	b->req.now_s = v->t;
}

static struct sl_header *find_hdr(struct built *b, const char *name)
{
	for (uint32_t i = 0; i < b->req.nhdrs; i++)
		if (sl_slice_caseeq(b->h[i].name, name))
			return &b->h[i];
	return NULL;
}

static struct vec *vec_named(const char *name)
{
	for (uint32_t i = 0; i < nvec; i++)
		if (!strcmp(vecs[i].name, name))
			return &vecs[i];
	fail_msg("no vector %s", name);
	return NULL;
}

static struct sigv4_keyring *keyring_with(const char *id, const char *secret)
{
	char path[256], text[512];
	snprintf(path, sizeof(path), "%s/cred-%s-%u", tmpdir, id, (unsigned)strlen(secret));
	unlink(path);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	snprintf(text, sizeof(text), "[default]\naws_access_key_id=%s\naws_secret_access_key=%s\n",
		 id, secret);
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
	struct sigv4_keyring *kr = sigv4_keyring_load(path, false);
	assert_non_null(kr);
	return kr;
}

static struct sigv4_keyring *good_kr(void)
{
	return keyring_with("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
}

/* sigv4_verify by a verifier for region; the head-only check must agree
 * with it whenever it refuses (same error), and never refuse what verify
 * accepts. */
static int verify_region(struct sigv4_keyring *kr, const char *region, struct built *b,
			 struct sigv4_error *err, struct sigv4_identity *id)
{
	struct sigv4_verifier *v = sigv4_verifier_new(kr, region);
	struct sigv4_error herr;
	assert_non_null(v);
	memset(err, 0, sizeof(*err));
	int hrc = sigv4_check_head(v, &b->req, &herr);
	int rc = sigv4_verify(v, &b->req, id, err);
	if (hrc) {
		assert_int_equal(hrc, -EACCES);
		assert_int_equal(rc, -EACCES);
		assert_string_equal(herr.type, err->type);
		assert_string_equal(herr.message, err->message);
	}
	sigv4_verifier_free(v);
	return rc;
}

static int verify_with(struct sigv4_keyring *kr, struct built *b, struct sigv4_error *err,
		       struct sigv4_identity *id)
{
	return verify_region(kr, "us-east-1", b, err, id);
}

/* Vectors that the plain keyring and a us-east-1 verifier accept. */
static bool plain_vector(const struct vec *v)
{
	return strncmp(v->name, "late_", 5) != 0 && strcmp(v->name, "session_token") != 0 &&
	       strcmp(v->name, "presigned_token") != 0;
}

static void expect_err(struct sigv4_keyring *kr, struct built *b, const char *type,
		       const char *msg)
{
	struct sigv4_error err;
	struct sigv4_identity id;
	assert_int_equal(verify_with(kr, b, &err, &id), -EACCES);
	assert_int_equal(err.http_status, 400);
	assert_string_equal(err.type, type);
	if (msg)
		assert_string_equal(err.message, msg);
}

static void test_vectors_ok(void **state)
{
	(void)state;
	struct sigv4_keyring *kr = good_kr();
	struct sigv4_verifier *us = sigv4_verifier_new(kr, "us-east-1");
	struct sigv4_verifier *eu = sigv4_verifier_new(kr, "eu-west-1");
	for (uint32_t i = 0; i < nvec; i++) {
		struct built b;
		struct sigv4_identity id;
		struct sigv4_error err;
		if (!plain_vector(&vecs[i]))
			continue;
		bool is_eu = strcmp(vecs[i].name, "list_streams_eu") == 0;
		build(&vecs[i], &b);
		/* twice: the second run takes the signing key from the cache */
		for (int k = 0; k < 2; k++) {
			int rc = sigv4_verify(is_eu ? eu : us, &b.req, &id, &err);
			if (rc)
				fail_msg("%s: %s: %s", vecs[i].name, err.type, err.message);
		}
		assert_string_equal(id.access_key, "AKIDEXAMPLE");
		assert_string_equal(id.service, "kinesis");
		assert_string_equal(id.region, is_eu ? "eu-west-1" : "us-east-1");
	}
	sigv4_verifier_free(eu);
	sigv4_verifier_free(us);
	sigv4_keyring_free(kr);
}

/* Issue 11: only the configured region is accepted in the credential scope
 * (a request signed for us-west-2 deleted a stream whose Deny named
 * us-east-1). AWS's wording. */
static void test_region_scope(void **state)
{
	(void)state;
	struct sigv4_keyring *kr = good_kr();
	struct built b;
	build(vec_named("list_streams_eu"), &b);
	expect_err(kr, &b, "InvalidSignatureException",
		   "Credential should be scoped to a valid region, not 'eu-west-1'. ");
	build(vec_named("put_record"), &b);
	struct sigv4_error err;
	struct sigv4_identity id;
	assert_int_equal(verify_region(kr, "eu-west-1", &b, &err, &id), -EACCES);
	assert_string_equal(err.message,
			    "Credential should be scoped to a valid region, not 'us-east-1'. ");
	assert_int_equal(verify_region(kr, "us-east-1", &b, &err, &id), 0);
	assert_string_equal(id.region, "us-east-1");
	/* constructor bounds */
	char longr[80];
	memset(longr, 'a', sizeof(longr));
	longr[64] = 0;
	errno = 0;
	assert_null(sigv4_verifier_new(kr, longr));
	assert_int_equal(errno, EINVAL);
	assert_null(sigv4_verifier_new(kr, ""));
	assert_null(sigv4_verifier_new(kr, NULL));
	assert_null(sigv4_verifier_new(NULL, "us-east-1"));
	longr[63] = 0;
	struct sigv4_verifier *v = sigv4_verifier_new(kr, longr);
	assert_non_null(v);
	sigv4_verifier_free(v);
	sigv4_keyring_free(kr);
}

/* Issue 11: X-Amz-Target and every x-amz-* header must be signed
 * (Content-Type need not be: see must_be_signed). Each vector is a valid
 * botocore signature over the other headers with one header added
 * afterwards (the attack: DescribeStreamSummary re-sent as DeleteStream). */
static void test_unsigned_required_headers(void **state)
{
	(void)state;
	static const struct {
		const char *vec, *name;
	} cases[] = {
		{ "late_target", "X-Amz-Target" },
		{ "late_amz_header", "x-amz-meta-anything" },
	};
	struct sigv4_keyring *kr = good_kr();
	for (uint32_t i = 0; i < SL_ARRAY_SIZE(cases); i++) {
		struct built b;
		struct sigv4_error err;
		struct sigv4_identity id;
		char want[160];
		build(vec_named(cases[i].vec), &b);
		snprintf(want, sizeof(want),
			 "'%s' must be a 'SignedHeader' in the AWS Authorization.", cases[i].name);
		expect_err(kr, &b, "InvalidSignatureException", want);
		/* The same request without the added header is authentic: the
		 * refusal is about the unsigned header alone. */
		b.req.nhdrs--;
		assert_int_equal(verify_with(kr, &b, &err, &id), 0);
	}
	/* Content-Type may stay unsigned, as AWS allows (the JS SDK v2 never
	 * signs it): the vector with it added late is authentic. */
	struct built b;
	struct sigv4_error err;
	struct sigv4_identity id;
	build(vec_named("late_content_type"), &b);
	assert_int_equal(verify_with(kr, &b, &err, &id), 0);
	sigv4_keyring_free(kr);
}

static struct sigv4_keyring *keyring_token(const char *token)
{
	char path[256], text[512];
	snprintf(path, sizeof(path), "%s/cred-token", tmpdir);
	unlink(path);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	snprintf(text, sizeof(text),
		 "[session]\naws_access_key_id=AKIDEXAMPLE\n"
		 "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY\n"
		 "aws_session_token = %s\n", token);
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
	struct sigv4_keyring *kr = sigv4_keyring_load(path, false);
	assert_non_null(kr);
	return kr;
}

/* Issue 11: X-Amz-Security-Token is refused unless the key is a session
 * credential with exactly that token (it used to be ignored). */
static void test_session_token(void **state)
{
	(void)state;
	static const char bad[] = "The security token included in the request is invalid.";
	struct built b;
	struct sigv4_error err;
	struct sigv4_identity id;
	struct sigv4_keyring *kr = good_kr();
	build(vec_named("session_token"), &b);
	expect_err(kr, &b, "UnrecognizedClientException", bad); /* long-term key */
	sigv4_keyring_free(kr);

	kr = keyring_token("FQoGZXIvYXdzEXAMPLEsessionTOKEN/+=");
	assert_int_equal(verify_with(kr, &b, &err, &id), 0);
	build(vec_named("put_record"), &b); /* session key without its token */
	expect_err(kr, &b, "UnrecognizedClientException", bad);
	sigv4_keyring_free(kr);

	kr = keyring_token("FQoGZXIvYXdzEXAMPLEsessionTOKEN/+X");
	build(vec_named("session_token"), &b);
	expect_err(kr, &b, "UnrecognizedClientException", bad);
	sigv4_keyring_free(kr);
}

/* The head check needs no body: a flipped body passes it (the signature
 * is checked later by sigv4_verify), everything else is refused alike
 * (verify_region compares the two on every refusal). */
static void test_check_head(void **state)
{
	(void)state;
	struct sigv4_keyring *kr = good_kr();
	struct sigv4_verifier *v = sigv4_verifier_new(kr, "us-east-1");
	struct sigv4_error err;
	struct built b;
	build(vec_named("put_record"), &b);
	b.req.body = NULL;
	b.req.body_len = 0;
	assert_int_equal(sigv4_check_head(v, &b.req, &err), 0);
	b.req.now_s += 6 * 60;
	assert_int_equal(sigv4_check_head(v, &b.req, &err), -EACCES);
	assert_string_equal(err.type, "InvalidSignatureException");
	build(vec_named("late_target"), &b);
	assert_int_equal(sigv4_check_head(v, &b.req, &err), -EACCES);
	build(vec_named("list_streams_eu"), &b);
	assert_int_equal(sigv4_check_head(v, &b.req, &err), -EACCES);
	b.req.nhdrs = 0;
	assert_int_equal(sigv4_check_head(v, &b.req, &err), -EACCES);
	assert_string_equal(err.type, "MissingAuthenticationTokenException");
	sigv4_verifier_free(v);
	sigv4_keyring_free(kr);
}

static void test_flip_body(void **state)
{
	(void)state;
	struct sigv4_keyring *kr = good_kr();
	const char *names[] = { "put_record", "content_sha256", "header_spaces" };
	for (uint32_t i = 0; i < 3; i++) {
		struct vec *v = vec_named(names[i]);
		struct built b;
		build(v, &b);
		char *copy = malloc(v->body_len);
		memcpy(copy, v->body, v->body_len);
		copy[3] ^= 1;
		b.req.body = (const uint8_t *)copy;
		expect_err(kr, &b, "InvalidSignatureException", MISMATCH);
		free(copy);
	}
	sigv4_keyring_free(kr);
}

static void test_flip_header_and_signature(void **state)
{
	(void)state;
	struct sigv4_keyring *kr = good_kr();
	struct built b;
	build(vec_named("put_record"), &b);
	struct sl_header *t = find_hdr(&b, "x-amz-target");
	char tv[128];
	snprintf(tv, sizeof(tv), "%.*s", (int)t->value.len, t->value.ptr);
	tv[t->value.len - 1] ^= 1;
	t->value = S(tv);
	expect_err(kr, &b, "InvalidSignatureException", MISMATCH);

	build(vec_named("put_record"), &b);
	struct sl_header *a = find_hdr(&b, "authorization");
	char av[512];
	snprintf(av, sizeof(av), "%.*s", (int)a->value.len, a->value.ptr);
	av[strlen(av) - 1] = av[strlen(av) - 1] == '0' ? '1' : '0';
	a->value = S(av);
	expect_err(kr, &b, "InvalidSignatureException", MISMATCH);

	/* An extra, unsigned header does not matter; a changed signed one does. */
	build(vec_named("header_spaces"), &b);
	struct sl_header *c = find_hdr(&b, "x-custom");
	c->value = S("a b c");
	struct sigv4_error err;
	struct sigv4_identity id;
	assert_int_equal(verify_with(kr, &b, &err, &id), 0);
	c->value = S("a b  c d");
	expect_err(kr, &b, "InvalidSignatureException", MISMATCH);
	sigv4_keyring_free(kr);
}

static void test_wrong_secret_unknown_key(void **state)
{
	(void)state;
	struct built b;
	build(vec_named("put_record"), &b);
	struct sigv4_keyring *kr =
		keyring_with("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ");
	expect_err(kr, &b, "InvalidSignatureException", MISMATCH);
	sigv4_keyring_free(kr);
	kr = keyring_with("AKIDOTHER", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
	expect_err(kr, &b, "UnrecognizedClientException",
		   "The security token included in the request is invalid.");
	sigv4_keyring_free(kr);
}

/* Kinesis's 5-minute window (issue 11: it was 15). */
static void test_clock_skew(void **state)
{
	(void)state;
	struct sigv4_keyring *kr = good_kr();
	struct built b;
	struct sigv4_error err;
	struct sigv4_identity id;
	build(vec_named("put_record"), &b);
	b.req.now_s += 4 * 60;
	assert_int_equal(verify_with(kr, &b, &err, &id), 0);
	b.req.now_s += 60; /* exactly 5 minutes is still fine */
	assert_int_equal(verify_with(kr, &b, &err, &id), 0);
	b.req.now_s += 1;
	expect_err(kr, &b, "InvalidSignatureException",
		   "Signature expired: 20130524T000000Z is now earlier than 20130524T000001Z "
		   "(20130524T000501Z - 5 min.)");
	b.req.now_s = vec_named("put_record")->t + 6 * 60;
	expect_err(kr, &b, "InvalidSignatureException",
		   "Signature expired: 20130524T000000Z is now earlier than 20130524T000100Z "
		   "(20130524T000600Z - 5 min.)");
	b.req.now_s = vec_named("put_record")->t - 4 * 60;
	assert_int_equal(verify_with(kr, &b, &err, &id), 0);
	b.req.now_s = vec_named("put_record")->t - 5 * 60 - 1;
	expect_err(kr, &b, "InvalidSignatureException",
		   "Signature not yet current: 20130524T000000Z is still later than "
		   "20130523T235959Z (20130523T235459Z + 5 min.)");

	/* Date header fallback when X-Amz-Date is absent */
	build(vec_named("put_record"), &b);
	struct sl_header *d = find_hdr(&b, "x-amz-date");
	d->name = S("Date");
	d->value = S("Fri, 24 May 2013 00:00:00 GMT");
	b.req.now_s += 3600;
	expect_err(kr, &b, "InvalidSignatureException",
		   "Signature expired: 20130524T000000Z is now earlier than 20130524T005500Z "
		   "(20130524T010000Z - 5 min.)");
	sigv4_keyring_free(kr);
}

static void test_missing_and_malformed(void **state)
{
	(void)state;
	struct sigv4_keyring *kr = good_kr();
	struct built b;
	build(vec_named("put_record"), &b);
	struct sl_header *a = find_hdr(&b, "authorization");
	a->name = S("X-Not-Authorization");
	expect_err(kr, &b, "MissingAuthenticationTokenException", "Missing Authentication Token");

	build(vec_named("put_record"), &b);
	a = find_hdr(&b, "authorization");
	const char *cred = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20130524/us-east-1/kinesis/"
			   "aws4_request";
	a->value = S(cred);
	char want[1024];
	snprintf(want, sizeof(want),
		 "Authorization header requires 'Signature' parameter. Authorization header "
		 "requires 'SignedHeaders' parameter. Authorization=%s",
		 cred);
	expect_err(kr, &b, "IncompleteSignatureException", want);

	/* no X-Amz-Date and no Date either */
	find_hdr(&b, "x-amz-date")->name = S("X-Amz-Dat");
	a->value = S("AWS4-HMAC-SHA256 Signature=abc");
	expect_err(kr, &b, "IncompleteSignatureException",
		   "Authorization header requires 'Credential' parameter. Authorization header "
		   "requires 'SignedHeaders' parameter. Authorization header requires existence "
		   "of either a 'X-Amz-Date' or a 'Date' header. "
		   "Authorization=AWS4-HMAC-SHA256 Signature=abc");

	build(vec_named("put_record"), &b);
	a = find_hdr(&b, "authorization");
	a->value = S("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20130524/us-east-1/kinesis, "
		     "SignedHeaders=host;x-amz-date, Signature=00");
	expect_err(kr, &b, "IncompleteSignatureException",
		   "Credential must have exactly 5 slash-delimited elements, e.g. "
		   "keyid/date/region/service/term, got "
		   "'AKIDEXAMPLE/20130524/us-east-1/kinesis'");

	a->value = S("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20130524/us-east-1/dynamodb/"
		     "aws4_request, SignedHeaders=host;x-amz-date, Signature=00");
	expect_err(kr, &b, "InvalidSignatureException",
		   "Credential should be scoped to correct service: 'kinesis'. ");
	a->value = S("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20130523/us-east-1/kinesis/"
		     "aws4_request, SignedHeaders=host;x-amz-date, Signature=00");
	expect_err(kr, &b, "InvalidSignatureException",
		   "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
		   "date from HTTP: '20130523' != '20130524', from '20130524T000000Z'.");
	a->value = S("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20130524/us-east-1/kinesis/"
		     "aws4_request, SignedHeaders=content-type;x-amz-date, Signature=00");
	expect_err(kr, &b, "InvalidSignatureException",
		   "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
	find_hdr(&b, "x-amz-date")->value = S("2013-05-24");
	expect_err(kr, &b, "IncompleteSignatureException", NULL);
	sigv4_keyring_free(kr);
}

/* Replaces the first occurrence of from in b's query by to (one buffer
 * per call site: static, the slices point into it). */
static void query_sub(struct built *b, char *buf, size_t cap, const char *from, const char *to)
{
	char q[2048];
	snprintf(q, sizeof(q), "%.*s", (int)b->req.query.len, b->req.query.ptr);
	char *at = strstr(q, from);
	assert_non_null(at);
	snprintf(buf, cap, "%.*s%s%s", (int)(at - q), q, to, at + strlen(from));
	b->req.query = S(buf);
}

/* Issue 13 item 4: presigned (query-string) authentication, botocore's
 * SigV4QueryAuth as the oracle. */
static void test_presigned(void **state)
{
	(void)state;
	static char q1[2048], q2[2048], q3[2048], q4[2048], q5[2048];
	struct sigv4_keyring *kr = good_kr();
	struct sigv4_error err;
	struct sigv4_identity id;
	struct built b;
	const struct vec *v = vec_named("presigned");

	build(v, &b);
	assert_null(find_hdr(&b, "authorization"));
	assert_int_equal(verify_with(kr, &b, &err, &id), 0);
	/* X-Amz-Expires=300 is the window, to the second. */
	b.req.now_s = v->t + 300;
	assert_int_equal(verify_with(kr, &b, &err, &id), 0);
	b.req.now_s = v->t + 301;
	expect_err(kr, &b, "InvalidSignatureException",
		   "Signature expired: 20130524T000000Z is now earlier than 20130524T000001Z "
		   "(20130524T000501Z - 300 sec.)");
	b.req.now_s = v->t - 5 * 60 - 1;
	expect_err(kr, &b, "InvalidSignatureException",
		   "Signature not yet current: 20130524T000000Z is still later than "
		   "20130523T235959Z (20130523T235459Z + 5 min.)");

	/* The body is covered, as with a header signature. */
	build(v, &b);
	char *copy = malloc(v->body_len);
	assert_non_null(copy);
	memcpy(copy, v->body, v->body_len);
	copy[3] ^= 1;
	b.req.body = (const uint8_t *)copy;
	expect_err(kr, &b, "InvalidSignatureException", MISMATCH);
	free(copy);

	/* A mangled signature, a widened expiry, another region. */
	build(v, &b);
	query_sub(&b, q1, sizeof(q1), "X-Amz-Signature=", "X-Amz-Signature=0");
	expect_err(kr, &b, "InvalidSignatureException", MISMATCH);
	build(v, &b);
	query_sub(&b, q2, sizeof(q2), "X-Amz-Expires=300", "X-Amz-Expires=3000");
	expect_err(kr, &b, "InvalidSignatureException", MISMATCH);
	query_sub(&b, q3, sizeof(q3), "X-Amz-Expires=3000", "X-Amz-Expires=604801");
	expect_err(kr, &b, "IncompleteSignatureException",
		   "X-Amz-Expires must be less than a week (in seconds); that is, the given "
		   "X-Amz-Expires must be less than 604800 seconds");
	build(v, &b);
	query_sub(&b, q4, sizeof(q4), "us-east-1", "us-west-2");
	expect_err(kr, &b, "InvalidSignatureException",
		   "Credential should be scoped to a valid region, not 'us-west-2'. ");
	build(v, &b);
	query_sub(&b, q5, sizeof(q5), "X-Amz-Date=", "X-Amz-Dat=");
	expect_err(kr, &b, "IncompleteSignatureException",
		   "AWS query-string parameters must include 'X-Amz-Date'. Re-examine the "
		   "query-string parameters.");

	/* Both forms at once (kinesalite's recorded text), and neither. */
	build(vec_named("put_record"), &b);
	b.req.query = S("X-Amz-Algorithm");
	expect_err(kr, &b, "InvalidSignatureException",
		   "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' "
		   "as HTTP header.");
	find_hdr(&b, "authorization")->name = S("X-Not-Authorization");
	expect_err(kr, &b, "IncompleteSignatureException",
		   "AWS query-string parameters must include 'X-Amz-Algorithm'. AWS "
		   "query-string parameters must include 'X-Amz-Credential'. AWS query-string "
		   "parameters must include 'X-Amz-Signature'. AWS query-string parameters must "
		   "include 'X-Amz-SignedHeaders'. AWS query-string parameters must include "
		   "'X-Amz-Date'. Re-examine the query-string parameters.");
	b.req.query = S("X-Amz-Credential=a&X-Amz-Signature=b&X-Amz-SignedHeaders=c&X-Amz-Date=d");
	expect_err(kr, &b, "MissingAuthenticationTokenException", "Missing Authentication Token");
	b.req.query = S("X-Amz-Algorithm=AWS4-HMAC-SHA1&X-Amz-Credential=a&X-Amz-Signature=b&"
			"X-Amz-SignedHeaders=c&X-Amz-Date=d");
	expect_err(kr, &b, "IncompleteSignatureException",
		   "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'");
	sigv4_keyring_free(kr);

	/* The session token travels in the query too. */
	build(vec_named("presigned_token"), &b);
	kr = good_kr();
	expect_err(kr, &b, "UnrecognizedClientException",
		   "The security token included in the request is invalid.");
	sigv4_keyring_free(kr);
	kr = keyring_token("FQoGZXIvYXdzEXAMPLEsessionTOKEN/+=");
	assert_int_equal(verify_with(kr, &b, &err, &id), 0);
	sigv4_keyring_free(kr);
}

static void test_parse_query_auth(void **state)
{
	(void)state;
	static struct sigv4_query_auth q;
	char big[1200];

	assert_int_equal(sigv4_parse_query_auth(S(""), &q), 0);
	assert_int_equal(sigv4_parse_query_auth(S("a=b&X-Amz-Date=1"), &q), 0);
	assert_int_equal(sigv4_parse_query_auth(S("x-amz-algorithm=A"), &q), 0); /* case */
	assert_int_equal(sigv4_parse_query_auth(S("X-Amz-Algorithm"), &q), 1);
	assert_int_equal(q.missing, SIGV4_Q_ALGORITHM | SIGV4_Q_CREDENTIAL | SIGV4_Q_SIGNATURE |
					    SIGV4_Q_SIGNED_HEADERS | SIGV4_Q_DATE);
	assert_int_equal(sigv4_parse_query_auth(
				 S("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F2013"
				   "0524%2fus-east-1%2Fkinesis%2Faws4_request&X-Amz-Date=2013"
				   "0524T000000Z&X-Amz-SignedHeaders=host%3Bx-amz-target&"
				   "X-Amz-Signature=ab&X-Amz-Security-Token=a+b%2B%3D&X-Amz-"
				   "Expires=60&z=%00"),
				 &q),
			 1);
	assert_int_equal(q.missing, 0);
	assert_string_equal(q.credential, "AK/20130524/us-east-1/kinesis/aws4_request");
	assert_string_equal(q.signed_headers, "host;x-amz-target");
	assert_string_equal(q.token, "a b+=");
	assert_true(q.has_token && q.has_expires);
	assert_string_equal(q.expires, "60");
	/* A stray '%' is kept as is; an empty value counts as missing. */
	assert_int_equal(sigv4_parse_query_auth(S("X-Amz-Algorithm=%4&X-Amz-Date="), &q), 1);
	assert_string_equal(q.algorithm, "%4");
	assert_true(q.missing & SIGV4_Q_DATE);
	/* Twice, a NUL, too long: refused (only when presigned). */
	assert_int_equal(sigv4_parse_query_auth(S("X-Amz-Algorithm=a&X-Amz-Date=1&X-Amz-Date=2"),
					       &q),
			 -EINVAL);
	assert_int_equal(sigv4_parse_query_auth(S("X-Amz-Date=1&X-Amz-Date=2"), &q), 0);
	assert_int_equal(sigv4_parse_query_auth(S("X-Amz-Algorithm=a%00b"), &q), -EINVAL);
	memset(big, 'a', sizeof(big));
	memcpy(big, "X-Amz-Algorithm=x&X-Amz-SignedHeaders=", 38);
	assert_int_equal(sigv4_parse_query_auth((struct sl_slice){ big, sizeof(big) }, &q),
			 -E2BIG);
}

static void test_parse_auth(void **state)
{
	(void)state;
	struct sigv4_auth a;
	const char *why = NULL;
	const char *v = "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/kinesis/aws4_request,"
			"SignedHeaders=host;x-amz-date,Signature=0123";
	assert_int_equal(sigv4_parse_auth(S(v), &a, &why), 0);
	assert_true(sl_slice_eq(a.access_key, "AKID"));
	assert_true(sl_slice_eq(a.date, "20130524"));
	assert_true(sl_slice_eq(a.region, "us-east-1"));
	assert_true(sl_slice_eq(a.service, "kinesis"));
	assert_true(sl_slice_eq(a.terminal, "aws4_request"));
	assert_true(sl_slice_eq(a.signed_headers, "host;x-amz-date"));
	assert_true(sl_slice_eq(a.signature, "0123"));
	assert_int_equal(sigv4_parse_auth(S("Bearer abc"), &a, &why), -EINVAL);
	assert_non_null(why);
	assert_int_equal(sigv4_parse_auth(S(""), &a, NULL), -EINVAL);
	assert_int_equal(sigv4_parse_auth(S("AWS4-HMAC-SHA512 Credential=a/b/c/d/e, "
					    "SignedHeaders=host, Signature=00"),
					  &a, &why),
			 -EINVAL);
}

/* ---- credentials file ------------------------------------------------- */

static void test_credentials_create(void **state)
{
	(void)state;
	char path[256], buf[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/credentials", tmpdir);
	unlink(path);
	errno = 0;
	assert_null(sigv4_keyring_load(path, false));
	assert_int_equal(errno, ENOENT);

	struct sigv4_keyring *kr = sigv4_keyring_load(path, true);
	assert_non_null(kr);
	assert_int_equal(sigv4_keyring_count(kr), 1);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	const struct sigv4_cred *c = &kr->creds[0];
	assert_int_equal(c->id_len, 20);
	assert_memory_equal(c->id, "AKIA", 4);
	for (uint32_t i = 4; i < 20; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", c->id[i]));
	assert_int_equal(c->secret_len, 40);
	for (uint32_t i = 0; i < 40; i++)
		assert_true(c->secret[i] && strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
						   "wxyz0123456789+/",
						   c->secret[i]));
	FILE *f = fopen(path, "r");
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	assert_non_null(strstr(buf, "[default]"));

	struct sigv4_keyring *kr2 = sigv4_keyring_load(path, true);
	assert_non_null(kr2);
	assert_int_equal(kr2->creds[0].id_len, 20);
	assert_memory_equal(kr2->creds[0].id, c->id, 20);
	assert_memory_equal(kr2->creds[0].secret, c->secret, 40);
	sigv4_keyring_free(kr2);
	sigv4_keyring_free(kr);

	chmod(path, 0640);
	errno = 0;
	assert_null(sigv4_keyring_load(path, true));
	assert_int_equal(errno, EPERM);
	chmod(path, 0604);
	assert_null(sigv4_keyring_load(path, false));
	assert_int_equal(errno, EPERM);
}

static void write_file(const char *path, const char *text)
{
	unlink(path);
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, 0600);
}

static void test_credentials_parse(void **state)
{
	(void)state;
	char path[256];
	snprintf(path, sizeof(path), "%s/cred-parse", tmpdir);
	write_file(path, "# comment\n; another\n\n  [default]  \r\n"
			 "  aws_access_key_id   =   AKIAONE  \n"
			 "aws_secret_access_key=secret/one+\n"
			 "region = us-east-1\n"
			 "[profile other]\n"
			 "AWS_SECRET_ACCESS_KEY = s2\n"
			 "aws_access_key_id = AKIATWO\n"
			 "[regiononly]\nregion=eu-west-1\n");
	struct sigv4_keyring *kr = sigv4_keyring_load(path, false);
	assert_non_null(kr);
	assert_int_equal(sigv4_keyring_count(kr), 2);
	assert_int_equal(kr->creds[0].id_len, 7);
	assert_memory_equal(kr->creds[0].id, "AKIAONE", 7);
	assert_int_equal(kr->creds[0].secret_len, 11);
	assert_memory_equal(kr->creds[0].secret, "secret/one+", 11);
	assert_memory_equal(kr->creds[1].id, "AKIATWO", 7);
	sigv4_keyring_free(kr);

	const char *bad[] = {
		"aws_access_key_id = x\n",		 /* key before any section */
		"[default]\njust some words\n",		 /* not key = value */
		"[default\naws_access_key_id=x\n",	 /* unterminated header */
		"[default]\nregion=us-east-1\n",	 /* no credentials at all */
	};
	for (uint32_t i = 0; i < 4; i++) {
		write_file(path, bad[i]);
		errno = 0;
		assert_null(sigv4_keyring_load(path, false));
		assert_int_equal(errno, EINVAL);
	}
	char big[4096]; /* a line over SIGV4_CRED_LINE_MAX */
	memset(big, 'a', sizeof(big));
	memcpy(big, "[default]\nx=", 12);
	big[sizeof(big) - 1] = 0;
	write_file(path, big);
	assert_null(sigv4_keyring_load(path, false));
	assert_int_equal(errno, EINVAL);
}

static int cleanup_tmp(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	vec_path = argc > 1 ? argv[1] : getenv("SIGV4_VECTORS");
	if (!vec_path) {
		fprintf(stderr, "usage: %s VECTOR_FILE\n", argv[0]);
		return 1;
	}
	int rc = load_vectors(vec_path);
	if (rc == 77) {
		fprintf(stderr, "skip: botocore not importable, no vectors\n");
		return 77;
	}
	if (rc) {
		fprintf(stderr, "cannot load vectors from %s\n", vec_path);
		return 1;
	}
	if (!mkdtemp(tmpdir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_ok),
		cmocka_unit_test(test_flip_body),
		cmocka_unit_test(test_flip_header_and_signature),
		cmocka_unit_test(test_wrong_secret_unknown_key),
		cmocka_unit_test(test_clock_skew),
		cmocka_unit_test(test_region_scope),
		cmocka_unit_test(test_unsigned_required_headers),
		cmocka_unit_test(test_session_token),
		cmocka_unit_test(test_check_head),
		cmocka_unit_test(test_missing_and_malformed),
		cmocka_unit_test(test_parse_auth),
		cmocka_unit_test(test_presigned),
		cmocka_unit_test(test_parse_query_auth),
		cmocka_unit_test(test_credentials_create),
		cmocka_unit_test(test_credentials_parse),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	cleanup_tmp();
	return rc;
}
