/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the shard ownership record's decoders
 * (controlplane/cp_own.h): the key after the cluster prefix and the value,
 * both read from etcd's watch and ranges (bytes another node, or anyone
 * with write access to etcd, wrote). Checked: a parsed key formats back to
 * the same bytes; a parsed value names a valid id that formats and parses
 * back to the same record. Any violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controlplane/cp_own.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			abort();                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	uint64_t sid;
	uint32_t shard;
	char rel[CP_OWN_REL_CAP], node[CP_OWN_NODE_MAX + 1], node2[CP_OWN_NODE_MAX + 1];
	char v[CP_OWN_NODE_MAX + 64];
	int64_t lease, lease2;

	if (cp_own_rel_parse(s, size, &sid, &shard) == 0) {
		size_t n = cp_own_rel_fmt(sid, shard, rel);
		CHECK(n == size && memcmp(rel, s, n) == 0);
	}
	if (cp_own_value_parse(s, size, node, &lease) == 0) {
		size_t len = strlen(node);
		CHECK(len >= 1 && len <= CP_OWN_NODE_MAX);
		int n = cp_own_value_fmt(node, lease, v, sizeof(v));
		CHECK(n > 0);
		CHECK(cp_own_value_parse(v, (size_t)n, node2, &lease2) == 0);
		CHECK(strcmp(node, node2) == 0 && lease == lease2);
	}
	(void)cp_own_pick((const char *const[]){ "a", "b" }, 2, size, (uint32_t)size);
	return 0;
}
