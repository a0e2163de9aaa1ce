/* SPDX-License-Identifier: Apache-2.0 */
/* Borrowed byte ranges. A slice never owns its bytes: the owner is whoever
 * holds the buffer it points into (usually a connection's input buffer), and a
 * slice is valid only while that buffer is neither freed nor compacted. */
#ifndef SL_COMMON_SLICE_H
#define SL_COMMON_SLICE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

struct sl_slice {
	const char *ptr;
	uint32_t len;
};

/* One HTTP header as it appeared on the wire (name not lower-cased). */
struct sl_header {
	struct sl_slice name;
	struct sl_slice value;
};

#define SL_SLICE_LIT(s) ((struct sl_slice){ (s), (uint32_t)(sizeof(s) - 1) })

static inline bool sl_slice_eq(struct sl_slice a, const char *s)
{
	size_t n = strlen(s);
	return a.len == n && memcmp(a.ptr, s, n) == 0;
}

static inline bool sl_slice_caseeq(struct sl_slice a, const char *s)
{
	size_t n = strlen(s);
	return a.len == n && strncasecmp(a.ptr, s, n) == 0;
}

/* First header whose name matches case-insensitively, or NULL. */
static inline const struct sl_header *
sl_header_find(const struct sl_header *h, uint32_t n, const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (sl_slice_caseeq(h[i].name, name))
			return &h[i];
	return NULL;
}

#endif
