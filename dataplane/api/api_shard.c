/* SPDX-License-Identifier: Apache-2.0 */
/* Shard ids: the one parser and formatter (rules and sources in api.h). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "common/bug.h"
#include "dataplane/api/api.h"

/* The ShardId pattern [a-zA-Z0-9_.-]+ without '-', which separates the
 * prefix from the index. */
static bool shard_prefix_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.';
}

int api_shard_id_parse(const char *s, size_t n, uint32_t *index)
{
	const char *dash = memchr(s, '-', n);
	size_t i = 0;
	uint64_t v = 0;

	if (dash) {
		for (; s + i < dash; i++)
			if (!shard_prefix_char(s[i]))
				return -EINVAL;
		i++; /* the '-' */
	}
	if (i == n)
		return -EINVAL; /* "" or "shardId-": no index */
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > API_SHARD_INDEX_MAX) /* checked per digit: v never wraps */
			return -EINVAL;
	}
	*index = (uint32_t)v;
	return 0;
}

void api_shard_id_fmt(uint32_t index, char out[API_SHARD_ID_CAP])
{
	/* Any uint32_t has at most 10 digits, so the 12-digit field is never
	 * widened: always 20 characters. Written by hand, not snprintf: it
	 * runs for every record of every PutRecords answer. */
	memcpy(out, "shardId-", 8);
	for (int i = API_SHARD_ID_CAP - 2; i >= 8; i--) {
		out[i] = (char)('0' + index % 10u);
		index /= 10u;
	}
	out[API_SHARD_ID_CAP - 1] = '\0';
}
