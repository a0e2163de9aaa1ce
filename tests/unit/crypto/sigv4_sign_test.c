/* SPDX-License-Identifier: Apache-2.0 */
/* The client-side signer (crypto/sigv4_sign.c): for every vector signed by
 * botocore (gen_sigv4_vectors.py, argv[1]) our Authorization value must be
 * byte-identical to botocore's, and sigv4_verify must accept what we sign. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/sigv4.h"

#define MAX_VEC 16
#define MAX_HDR 32

static const char KEY_ID[] = "AKIDEXAMPLE";
static const char SECRET[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

struct vec {
	char name[64];
	char method[16];
	char *path, *query, *body, *auth;
	size_t body_len;
	uint32_t nh;
	char *hname[MAX_HDR], *hval[MAX_HDR];
	int64_t t;
};

static struct vec vecs[MAX_VEC];
static uint32_t nvec;
static char tmpdir[] = "/tmp/sigv4_sign_test.XXXXXX";

static char *unhex(const char *h, size_t *len)
{
	size_t n = strcmp(h, "-") ? strlen(h) / 2 : 0;
	char *out = calloc(1, n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned b;
		if (sscanf(h + 2 * i, "%2x", &b) == 1)
			out[i] = (char)b;
	}
	if (len)
		*len = n;
	return out;
}

static void add_header(struct vec *v, const char *line)
{
	char a[4096], b[4096];
	if (v->nh >= MAX_HDR || sscanf(line, "%4095s %4095s", a, b) != 2)
		return;
	char *n = unhex(a, NULL), *val = unhex(b, NULL);
	if (!strcasecmp(n, "authorization")) {
		v->auth = val; /* botocore's answer; not given to our signer */
		free(n);
		return;
	}
	v->hname[v->nh] = n;
	v->hval[v->nh++] = val;
}

/* Returns 0, 77 when the generator could not import botocore, 1 on error. */
static int load_vectors(const char *path)
{
	static char line[8192];
	FILE *f = fopen(path, "r");
	struct vec *v = NULL;
	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f)) {
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
		} else if (line[0] == 'H') {
			add_header(v, line + 2);
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
	struct sl_header h[MAX_HDR + 1];
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

/* Region from the vector's credential scope: KEY/DATE/REGION/SERVICE/... */
static void scope_region(const char *auth, char *out, size_t cap)
{
	const char *p = strstr(auth, "Credential=");
	assert_non_null(p);
	for (int i = 0; i < 2; i++) {
		p = strchr(p, '/');
		assert_non_null(p);
		p++;
	}
	size_t n = strcspn(p, "/");
	snprintf(out, cap, "%.*s", (int)n, p);
}

static struct sigv4_keyring *keyring(void)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/credentials", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "[default]\naws_access_key_id=%s\naws_secret_access_key=%s\n", KEY_ID, SECRET);
	fclose(f);
	chmod(path, 0600);
	struct sigv4_keyring *kr = sigv4_keyring_load(path, false);
	assert_non_null(kr);
	return kr;
}

static void verify_ok(struct sigv4_verifier *v, struct built *b, const char *auth)
{
	struct sigv4_identity id;
	struct sigv4_error err;
	b->h[b->req.nhdrs].name = S("Authorization");
	b->h[b->req.nhdrs].value = S(auth);
	b->req.nhdrs++;
	int rc = sigv4_verify(v, &b->req, &id, &err);
	b->req.nhdrs--;
	if (rc)
		fail_msg("verify: %s: %s", err.type, err.message);
	assert_string_equal(id.access_key, KEY_ID);
}

static void test_equals_botocore_and_verifies(void **state)
{
	(void)state;
	struct sigv4_keyring *kr = keyring();
	for (uint32_t i = 0; i < nvec; i++) {
		char region[64], out[1024], hx[65];
		struct built b;
		/* Presigned vectors carry no Authorization header: the signer
		 * makes only the header form. */
		if (strncmp(vecs[i].name, "presigned", 9) == 0)
			continue;
		assert_non_null(vecs[i].auth);
		scope_region(vecs[i].auth, region, sizeof(region));
		struct sigv4_signer *s = sigv4_signer_new(KEY_ID, SECRET, region, "kinesis");
		assert_non_null(s);
		build(&vecs[i], &b);
		int n = sigv4_sign(s, &b.req, NULL, out, sizeof(out));
		if (n < 0)
			fail_msg("%s: sign %d", vecs[i].name, n);
		assert_int_equal((size_t)n, strlen(out));
		if (strcmp(out, vecs[i].auth))
			fail_msg("%s:\n ours %s\n boto %s", vecs[i].name, out, vecs[i].auth);
		/* pre-hashed payload gives the same signature */
		assert_int_equal(sigv4_sha256_hex(s, b.req.body, b.req.body_len, hx), 0);
		assert_int_equal(sigv4_sign(s, &b.req, hx, out, sizeof(out)), n);
		assert_string_equal(out, vecs[i].auth);
		/* The verifier serves the vector's region; the session-token
		 * vector needs a session keyring (sigv4_test covers it). */
		struct sigv4_verifier *v = sigv4_verifier_new(kr, region);
		assert_non_null(v);
		if (strcmp(vecs[i].name, "session_token") != 0)
			verify_ok(v, &b, out);
		sigv4_verifier_free(v);
		sigv4_signer_free(s);
	}
	sigv4_keyring_free(kr);
}

/* A POST of body to X-Amz-Target target at the current time, as perf/
 * sends one: Host, X-Amz-Date (written into date), X-Amz-Target and h3,
 * unsigned. b->req points into b and at date and body. */
static void live_request(struct built *b, char date[17], const char *target,
			 struct sl_header h3, const char *body)
{
	memset(b, 0, sizeof(*b));
	b->req.now_s = (int64_t)time(NULL);
	sigv4_amz_date(b->req.now_s, date);
	b->h[0] = (struct sl_header){ S("Host"), S("127.0.0.1:4567") };
	b->h[1] = (struct sl_header){ S("X-Amz-Date"), S(date) };
	b->h[2] = (struct sl_header){ S("X-Amz-Target"), S(target) };
	b->h[3] = h3;
	b->req.method = S("POST");
	b->req.path = S("/");
	b->req.hdrs = b->h;
	b->req.nhdrs = 4;
	b->req.body = (const uint8_t *)body;
	b->req.body_len = strlen(body);
}

/* A PutRecords request as perf/ sends it, at the current time: the verifier
 * (not only botocore's fixed-date vectors) accepts it; a changed body not. */
static void test_live_request(void **state)
{
	(void)state;
	struct sigv4_keyring *kr = keyring();
	struct sigv4_verifier *v = sigv4_verifier_new(kr, "us-east-1");
	struct sigv4_signer *s = sigv4_signer_new(KEY_ID, SECRET, "us-east-1", "kinesis");
	char date[17], auth[512];
	char body[] = "{\"StreamName\":\"s\",\"Records\":[{\"Data\":\"AAAA\",\"PartitionKey\":\"k\"}]}";
	struct built b;
	live_request(&b, date, "Kinesis_20131202.PutRecords",
		     (struct sl_header){ S("Content-Type"), S("application/x-amz-json-1.1") }, body);
	assert_true(sigv4_sign(s, &b.req, NULL, auth, sizeof(auth)) > 0);
	assert_non_null(strstr(auth, "SignedHeaders=content-type;host;x-amz-date;x-amz-target,"));
	verify_ok(v, &b, auth);

	body[20] = 'B';
	struct sigv4_identity id;
	struct sigv4_error err;
	b.h[4] = (struct sl_header){ S("Authorization"), S(auth) };
	b.req.nhdrs = 5;
	assert_int_equal(sigv4_verify(v, &b.req, &id, &err), -EACCES);
	assert_string_equal(err.type, "InvalidSignatureException");

	/* errors: no host, output too small, bad constructor arguments */
	b.req.nhdrs = 4;
	b.h[0].name = S("Hostx");
	assert_int_equal(sigv4_sign(s, &b.req, NULL, auth, sizeof(auth)), -EINVAL);
	b.h[0].name = S("Host");
	assert_int_equal(sigv4_sign(s, &b.req, NULL, auth, 20), -E2BIG);
	assert_null(sigv4_signer_new("", SECRET, "us-east-1", "kinesis"));
	assert_int_equal(errno, EINVAL);
	sigv4_signer_free(s);
	sigv4_verifier_free(v);
	sigv4_keyring_free(kr);
}

/* Signs a live GetRecords-like request with (key, secret) and verifies it
 * with v; returns the identity. */
static struct sigv4_identity sign_and_verify(struct sigv4_verifier *v, const char *key,
					     const char *secret)
{
	struct sigv4_signer *s = sigv4_signer_new(key, secret, "us-east-1", "kinesis");
	assert_non_null(s);
	char date[17], auth[512];
	static const char body[] = "{\"ShardIterator\":\"x\"}";
	struct built b;
	live_request(&b, date, "Kinesis_20131202.GetRecords",
		     (struct sl_header){ S("x-sluice-explicit-hash-keys"), S("1") }, body);
	assert_true(sigv4_sign(s, &b.req, NULL, auth, sizeof(auth)) > 0);
	sigv4_signer_free(s);
	b.h[4] = (struct sl_header){ S("Authorization"), S(auth) };
	b.req.nhdrs = 5;
	struct sigv4_identity id;
	struct sigv4_error err;
	int rc = sigv4_verify(v, &b.req, &id, &err);
	if (rc)
		fail_msg("verify: %s: %s", err.type, err.message);
	return id;
}

/* sluiced's internal credential: a fresh random key id and secret, told
 * apart from the file's keys by the verifier; the keyring has a bound. */
static void test_internal_credential(void **state)
{
	(void)state;
	struct sigv4_keyring *kr = keyring();
	char id[SIGV4_INTERNAL_ID_LEN + 1], sec[SIGV4_INTERNAL_SECRET_LEN + 1];
	char id2[SIGV4_INTERNAL_ID_LEN + 1], sec2[SIGV4_INTERNAL_SECRET_LEN + 1];
	assert_int_equal(sigv4_keyring_add_internal(kr, id, sec), 0);
	assert_int_equal(strlen(id), SIGV4_INTERNAL_ID_LEN);
	assert_int_equal(strlen(sec), SIGV4_INTERNAL_SECRET_LEN);
	assert_memory_equal(id, "SLIN", 4);
	assert_int_equal(strspn(id + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), 16);
	assert_int_equal(sigv4_keyring_count(kr), 2);
	/* a second draw differs (random, not derived from anything) */
	assert_int_equal(sigv4_keyring_add_internal(kr, id2, sec2), 0);
	assert_string_not_equal(id, id2);
	assert_string_not_equal(sec, sec2);
	struct sigv4_verifier *v = sigv4_verifier_new(kr, "us-east-1");
	assert_non_null(v);
	struct sigv4_identity who = sign_and_verify(v, id, sec);
	assert_true(who.internal);
	assert_string_equal(who.access_key, id);
	who = sign_and_verify(v, KEY_ID, SECRET);
	assert_false(who.internal);
	sigv4_verifier_free(v);
	/* bounded: SIGV4_MAX_CREDS keys in all */
	int rc = 0;
	for (int i = 0; i < 100 && rc == 0; i++)
		rc = sigv4_keyring_add_internal(kr, id2, sec2);
	assert_int_equal(rc, -ENOSPC);
	sigv4_keyring_free(kr);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : getenv("SIGV4_VECTORS");
	if (!path) {
		fprintf(stderr, "usage: %s VECTOR_FILE\n", argv[0]);
		return 1;
	}
	int rc = load_vectors(path);
	if (rc == 77) {
		fprintf(stderr, "skip: botocore not importable, no vectors\n");
		return 77;
	}
	if (rc) {
		fprintf(stderr, "cannot load vectors from %s\n", path);
		return 1;
	}
	if (!mkdtemp(tmpdir))
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equals_botocore_and_verifies),
		cmocka_unit_test(test_live_request),
		cmocka_unit_test(test_internal_credential),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	return rc;
}
