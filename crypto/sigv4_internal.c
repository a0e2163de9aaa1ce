/* SPDX-License-Identifier: Apache-2.0 */
/* Canonicalisation shared by the SigV4 verifier and signer (see
 * sigv4_internal.h): one copy, so both sign alike. */
#include <errno.h>

#include "crypto/sigv4_internal.h"

/* Writes seg URI-encoded: runs of unreserved bytes in one put, each other
 * byte as %XX. */
static void sv_put_encoded(struct sl_slice seg, sv_put_fn put, void *ctx)
{
	uint32_t run = 0;

	for (uint32_t k = 0; k < seg.len; k++) {
		uint8_t c = (uint8_t)seg.ptr[k];
		if (sv_unreserved(c))
			continue;
		if (k > run)
			put(ctx, seg.ptr + run, k - run);
		char e[3] = { '%', sv_hexc(c >> 4, true), sv_hexc(c & 15, true) };
		put(ctx, e, 3);
		run = k + 1;
	}
	if (seg.len > run)
		put(ctx, seg.ptr + run, seg.len - run);
}

int sv_canonical_uri(struct sl_slice path, struct sl_slice *seg, uint32_t seg_cap, sv_put_fn put,
		     void *ctx)
{
	uint32_t nseg = 0, i = 0;

	while (i < path.len) {
		uint32_t j = i;
		while (j < path.len && path.ptr[j] != '/')
			j++;
		struct sl_slice s = { path.ptr + i, j - i };
		if (s.len == 0 || sl_slice_eq(s, ".")) {
			/* dropped */
		} else if (sl_slice_eq(s, "..")) {
			if (nseg)
				nseg--;
		} else {
			if (nseg == seg_cap)
				return -E2BIG;
			seg[nseg++] = s;
		}
		i = j + 1;
	}
	put(ctx, "/", 1);
	for (i = 0; i < nseg; i++) {
		if (i)
			put(ctx, "/", 1);
		sv_put_encoded(seg[i], put, ctx);
	}
	if (nseg && path.ptr[path.len - 1] == '/')
		put(ctx, "/", 1);
	return 0;
}
