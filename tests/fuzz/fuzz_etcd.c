/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for what the etcd metadata store reads from etcd
 * (controlplane/cp_etcd.h): the HTTP/1.1 answer framing (Content-Length or
 * chunked, decoded in place) and the v3 JSON answer of a range or txn
 * (keys and values base64-decoded in place). The first byte picks the
 * parser; the HTTP path feeds a body it accepted to the JSON parser, as
 * the client does. Checked: a parsed answer lies inside the input, the
 * body inside the answer, every kv inside the buffer and NUL-terminated,
 * every range inside the kvs. Any violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controlplane/cp_etcd.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			abort();                                              \
	} while (0)

static struct json_tok toks[ETCD_TOKS_MAX];
static struct etcd_ans ans;

static void answer(char *buf, size_t len)
{
	if (etcd_answer_parse(&ans, buf, len, toks) != 0)
		return;
	CHECK(ans.n_ranges <= ETCD_RANGES_MAX && ans.n_kvs <= ETCD_KVS_MAX);
	for (uint32_t r = 0; r < ans.n_ranges; r++)
		CHECK(ans.range[r].first + ans.range[r].n <= ans.n_kvs);
	for (uint32_t i = 0; i < ans.n_kvs; i++) {
		const struct etcd_kv *kv = &ans.kvs[i];
		CHECK(kv->key_len > 0 && kv->key >= buf && kv->key + kv->key_len < buf + len);
		CHECK(kv->key[kv->key_len] == '\0' && kv->value[kv->value_len] == '\0');
		CHECK(strlen(kv->key) == kv->key_len && strlen(kv->value) == kv->value_len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > ETCD_MSG_MAX_BYTES)
		return 0;
	/* a private, writable copy: both parsers decode in place */
	char *buf = malloc(size);
	if (buf == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	size_t len = size - 1;
	if (data[0] & 1) {
		int status = 0;
		char *body = NULL;
		size_t blen = 0;
		int64_t used = etcd_http_parse(buf, len, &status, &body, &blen);
		if (used > 0) {
			CHECK((size_t)used <= len);
			CHECK(status >= 100 && status <= 599);
			CHECK(body >= buf && body + blen <= buf + used);
			answer(body, blen);
		}
	} else {
		answer(buf, len);
	}
	free(buf);
	return 0;
}
