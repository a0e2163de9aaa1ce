/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for what the etcd metadata store reads from etcd
 * (controlplane/cp_etcd.h): the HTTP/1.1 answer framing (Content-Length or
 * chunked, decoded in place) and the v3 JSON answer of a range or txn
 * (keys and values base64-decoded in place), and the store's record
 * decoders (controlplane/cp_store_etcd.h, cp_store_etcd_decode: stream,
 * shard, consumer, channel and policy records as read back from etcd).
 * The first byte picks the parser: odd, the HTTP framing; even with bits
 * 1-3 = K in 1..ES_REC_N, record decoder K-1 on the rest; other even
 * bytes (0 included), the JSON answer. The HTTP path feeds a body it
 * accepted to the JSON parser, and the JSON path every value it found to
 * the decoder the first byte's high nibble names, as the store does. Checked: a parsed answer lies inside the input, the body
 * inside the answer, every kv inside the buffer and NUL-terminated, every
 * range inside the kvs; the decoders check their own output (BUG_ON).
 * Any violation aborts. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controlplane/cp_etcd.h"
#include "controlplane/cp_store_etcd.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			abort();                                              \
	} while (0)

static struct json_tok toks[ETCD_TOKS_MAX];
static struct etcd_ans ans;

static void answer(char *buf, size_t len, enum es_rec kind)
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
		CHECK(cp_store_etcd_decode(kind, kv->value, kv->value_len) != -EINVAL);
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
	unsigned sel = (data[0] >> 1) & 7;
	enum es_rec kind = (enum es_rec)((data[0] >> 4) % ES_REC_N);
	if (data[0] & 1) {
		int status = 0;
		char *body = NULL;
		size_t blen = 0;
		int64_t used = etcd_http_parse(buf, len, &status, &body, &blen);
		if (used > 0) {
			CHECK((size_t)used <= len);
			CHECK(status >= 100 && status <= 599);
			CHECK(body >= buf && body + blen <= buf + used);
			answer(body, blen, kind);
		}
	} else if (sel >= 1 && sel <= ES_REC_N) {
		CHECK(cp_store_etcd_decode((enum es_rec)(sel - 1), buf, len) != -EINVAL);
	} else {
		answer(buf, len, kind);
	}
	free(buf);
	return 0;
}
