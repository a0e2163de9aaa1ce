/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for SigV4. The first input byte picks the mode:
 *   even: the rest is an Authorization header value -> sigv4_parse_auth
 *   odd:  the rest is a whole request -> sigv4_verify, laid out as
 *         "METHOD\nPATH\nQUERY\nName: value\n...\n\nBODY"
 *         (a QUERY naming X-Amz-Algorithm takes the presigned path)
 *   0x02 (even, bit 1 set): the rest is a query string ->
 *         sigv4_parse_query_auth
 * Seeds for the modes live in corpus/fuzz_sigv4/ (auth-*, req-*, query-*). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/sigv4.h"
#include "crypto/sigv4_internal.h"

#define FUZZ_MAX_HDRS 32
#define FUZZ_NOW_S 1369353600 /* 20130524T000000Z, the seeds' signing time */

static struct sigv4_keyring *kr;
static struct sigv4_verifier *ver;

static void init_once(void)
{
	static const char id[] = "AKIDEXAMPLE";
	static const char secret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
	kr = calloc(1, sizeof(*kr));
	if (!kr)
		abort();
	kr->n = 1;
	kr->creds[0].id_len = sizeof(id) - 1;
	memcpy(kr->creds[0].id, id, sizeof(id) - 1);
	kr->creds[0].secret_len = sizeof(secret) - 1;
	memcpy(kr->creds[0].secret, secret, sizeof(secret) - 1);
	ver = sigv4_verifier_new(kr, "us-east-1");
	if (!ver)
		abort();
}

static struct sl_slice next_line(const char **p, const char *end)
{
	const char *s = *p;
	const char *nl = memchr(s, '\n', (size_t)(end - s));
	const char *e = nl ? nl : end;
	*p = nl ? nl + 1 : end;
	return (struct sl_slice){ s, (uint32_t)(e - s) };
}

static void fuzz_verify(const char *p, const char *end)
{
	struct sl_header h[FUZZ_MAX_HDRS];
	struct sigv4_request req = { .now_s = FUZZ_NOW_S, .hdrs = h };
	struct sigv4_identity id;
	struct sigv4_error err;

	req.method = next_line(&p, end);
	req.path = next_line(&p, end);
	req.query = next_line(&p, end);
	while (p < end && req.nhdrs < FUZZ_MAX_HDRS) {
		struct sl_slice l = next_line(&p, end);
		if (l.len == 0)
			break;
		const char *colon = memchr(l.ptr, ':', l.len);
		uint32_t nl = colon ? (uint32_t)(colon - l.ptr) : l.len;
		h[req.nhdrs].name = (struct sl_slice){ l.ptr, nl };
		h[req.nhdrs].value = colon ? (struct sl_slice){ colon + 1, l.len - nl - 1 }
					   : (struct sl_slice){ l.ptr + l.len, 0 };
		req.nhdrs++;
	}
	req.body = (const uint8_t *)p;
	req.body_len = (size_t)(end - p);
	/* The head check must refuse whatever verify refuses for a head reason,
	 * and never accept less: when it fails, verify fails the same way. */
	struct sigv4_error herr;
	int hrc = sigv4_check_head(ver, &req, &herr);
	int rc = sigv4_verify(ver, &req, &id, &err);
	if (rc != 0 && (!err.type || !memchr(err.message, 0, sizeof(err.message))))
		abort();
	if (hrc != 0 && (rc == 0 || strcmp(herr.message, err.message) != 0))
		abort();
}

/* The presigned parameters: every value NUL-terminated inside its buffer,
 * and "missing" exactly the required ones left empty. */
static void fuzz_query(const char *p, const char *end)
{
	static struct sigv4_query_auth q; /* 4 KiB: not on the stack */
	int rc = sigv4_parse_query_auth((struct sl_slice){ p, (uint32_t)(end - p) }, &q);
	if (rc < -1000 || rc > 1)
		abort();
	if (rc != 1)
		return;
	struct {
		const char *v;
		size_t cap;
		uint32_t bit;
	} f[] = { { q.algorithm, sizeof(q.algorithm), SIGV4_Q_ALGORITHM },
		  { q.credential, sizeof(q.credential), SIGV4_Q_CREDENTIAL },
		  { q.signature, sizeof(q.signature), SIGV4_Q_SIGNATURE },
		  { q.signed_headers, sizeof(q.signed_headers), SIGV4_Q_SIGNED_HEADERS },
		  { q.date, sizeof(q.date), SIGV4_Q_DATE },
		  { q.expires, sizeof(q.expires), 0 },
		  { q.token, sizeof(q.token), 0 } };
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (!memchr(f[i].v, 0, f[i].cap))
			abort();
		if (f[i].bit && ((q.missing & f[i].bit) != 0) != (f[i].v[0] == 0))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ver)
		init_once();
	if (size == 0 || size > UINT32_MAX / 2)
		return 0;
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	if ((data[0] & 3) == 2) {
		fuzz_query(p, end);
		return 0;
	}
	if ((data[0] & 1) == 0) {
		struct sigv4_auth a;
		const char *why = NULL;
		struct sl_slice v = { p, (uint32_t)(end - p) };
		if (sigv4_parse_auth(v, &a, &why) == 0) {
			/* every component must lie inside the input */
			struct sl_slice *f[] = { &a.access_key, &a.date, &a.region, &a.service,
						 &a.terminal, &a.signed_headers, &a.signature };
			for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
				if (f[i]->len && (f[i]->ptr < p || f[i]->ptr + f[i]->len > end))
					abort();
		} else if (!why) {
			abort();
		}
		return 0;
	}
	fuzz_verify(p, end);
	return 0;
}
