/* SPDX-License-Identifier: Apache-2.0 */
/* The canonical URI both the SigV4 verifier and the signer use
 * (crypto/sigv4_internal.h). Expected values are botocore's:
 *   quote(botocore.utils.normalize_url_path(p), safe='/~')
 * computed with /usr/bin/python3, never by our own code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "crypto/sigv4_internal.h"

struct out {
	char buf[256];
	size_t len;
	unsigned calls;
};

static void put(void *ctx, const void *p, size_t n)
{
	struct out *o = ctx;
	assert_true(o->len + n < sizeof(o->buf));
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	o->buf[o->len] = '\0';
	o->calls++;
}

static void test_botocore_vectors(void **state)
{
	(void)state;
	static const struct {
		const char *path, *want;
	} v[] = {
		{ "/", "/" },
		{ "", "/" },
		{ "/a/./b/../c//", "/a/c/" },
		{ "/..", "/" },
		{ "/a/b/../../..", "/" },
		{ "/%2F x", "/%252F%20x" },
		{ "//a//b", "/a/b" },
		{ "/a/b/", "/a/b/" },
		{ "/~user/a+b=c", "/~user/a%2Bb%3Dc" },
		{ "/a/%20/.", "/a/%2520" },
		{ "/.../x", "/.../x" },
		{ "/a/b/..", "/a" },
	};
	struct sl_slice seg[8];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct out o = { .len = 0 };
		struct sl_slice p = { v[i].path, (uint32_t)strlen(v[i].path) };
		assert_int_equal(sv_canonical_uri(p, seg, 8, put, &o), 0);
		assert_string_equal(o.buf, v[i].want);
	}
}

/* Unreserved runs go out in one piece (the verifier hashes what it gets). */
static void test_runs(void **state)
{
	(void)state;
	struct sl_slice seg[4];
	struct out o = { .len = 0 };
	struct sl_slice p = { "/abcdef", 7 };
	assert_int_equal(sv_canonical_uri(p, seg, 4, put, &o), 0);
	assert_string_equal(o.buf, "/abcdef");
	assert_int_equal(o.calls, 2); /* "/" and "abcdef" */
}

/* More kept segments than the scratch holds: -E2BIG, whatever ".." would
 * later remove (the bound is on what is held at once). */
static void test_segment_bound(void **state)
{
	(void)state;
	struct sl_slice seg[2];
	struct out o = { .len = 0 };
	struct sl_slice ok = { "/a/b/../c", 9 }, bad = { "/a/b/c/..", 9 };
	assert_int_equal(sv_canonical_uri(ok, seg, 2, put, &o), 0);
	assert_string_equal(o.buf, "/a/c");
	o.len = 0;
	assert_int_equal(sv_canonical_uri(bad, seg, 2, put, &o), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_botocore_vectors),
		cmocka_unit_test(test_runs),
		cmocka_unit_test(test_segment_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
