/* SPDX-License-Identifier: Apache-2.0 */
/* CORS decisions (see http_cors.h for what and why): pure functions of the
 * configuration and a request's parsed headers, so the request-parser fuzz
 * target reaches them (tests/fuzz/fuzz_http.c); answering a preflight on a
 * connection is http_cors_conn.c. */
#include "dataplane/http/http_cors.h"

#include <string.h>

#include "common/bug.h"

#define LIT(s) ((struct sl_slice){ (s), sizeof(s) - 1 })
/* Names as AWS writes them over HTTP/1.1; HTTP/2 wants them in lower case
 * (RFC 9113 8.2.1), and nghttp2 copies both when a response is submitted. */
#define HDR(n, v) ((struct sl_header){ lower ? lc_name(n) : LIT(n), (v) })

static struct sl_slice lc_name(const char *name)
{
	static const char *const names[][2] = {
		{ "Access-Control-Allow-Origin", "access-control-allow-origin" },
		{ "Vary", "vary" },
		{ "Access-Control-Expose-Headers", "access-control-expose-headers" },
		{ "Access-Control-Allow-Methods", "access-control-allow-methods" },
		{ "Access-Control-Allow-Headers", "access-control-allow-headers" },
		{ "Access-Control-Max-Age", "access-control-max-age" },
	};
	for (size_t i = 0; i < SL_ARRAY_SIZE(names); i++)
		if (strcmp(names[i][0], name) == 0)
			return (struct sl_slice){ names[i][1], strlen(names[i][1]) };
	BUG_ON(1); /* every name above has its lower-case twin */
	return (struct sl_slice){ name, strlen(name) };
}

struct sl_slice http_cors_match(const char *origins, struct sl_slice origin)
{
	struct sl_slice none = { origins, 0 };
	if (!origin.len)
		return none;
	/* Walks the list once; its length is bounded by the flag's size
	 * (struct sl_config), never by the request. */
	const char *p = origins;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *e = p;
		while (*e && *e != ',')
			e++;
		size_t n = (size_t)(e - p);
		while (n && p[n - 1] == ' ')
			n--;
		if (n == 1 && p[0] == '*')
			return LIT("*");
		/* Origins are compared as the browser serialises them (the
		 * Fetch standard): byte for byte. */
		if (n && n == origin.len && memcmp(p, origin.ptr, n) == 0)
			return (struct sl_slice){ p, n };
		p = e;
	}
	return none;
}

struct sl_slice http_cors_allow(const char *origins, const struct sl_header *hdrs,
				uint32_t nhdrs)
{
	const struct sl_header *o = origins[0] ? sl_header_find(hdrs, nhdrs, "origin") : NULL;
	return o ? http_cors_match(origins, o->value) : (struct sl_slice){ "", 0 };
}

uint32_t http_cors_headers(struct sl_slice allow, const struct sl_header *hdrs, uint32_t nhdrs,
			   bool preflight, bool lower, struct sl_header out[HTTP_CORS_HDRS_MAX])
{
	if (!allow.len)
		return 0;
	uint32_t n = 0;
	out[n++] = HDR("Access-Control-Allow-Origin", allow);
	/* A named origin is echoed: caches between the browser and us must
	 * not hand one origin's answer to another. */
	if (!(allow.len == 1 && allow.ptr[0] == '*'))
		out[n++] = HDR("Vary", LIT("Origin"));
	out[n++] = HDR("Access-Control-Expose-Headers", LIT(HTTP_CORS_EXPOSE));
	if (preflight) {
		/* As AWS: the method and headers asked for are allowed (the
		 * signature is what protects the request, not this list). */
		const struct sl_header *m =
			sl_header_find(hdrs, nhdrs, "access-control-request-method");
		const struct sl_header *h =
			sl_header_find(hdrs, nhdrs, "access-control-request-headers");
		/* An empty value is not a method: nothing to allow, and an
		 * empty response header is not sent. */
		if (m && m->value.len)
			out[n++] = HDR("Access-Control-Allow-Methods", m->value);
		if (h && h->value.len)
			out[n++] = HDR("Access-Control-Allow-Headers", h->value);
		out[n++] = HDR("Access-Control-Max-Age", LIT(HTTP_CORS_MAX_AGE_S));
	}
	BUG_ON(n > HTTP_CORS_HDRS_MAX);
	return n;
}
