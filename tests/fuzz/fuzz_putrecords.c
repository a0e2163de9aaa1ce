/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for dataplane/api/api_records.c (PutRecords and
 * PutRecord decoding) and common/base64.c. Each input is decoded as a body;
 * a valid one must yield descriptors inside the body with bounded lengths,
 * data equal to a scalar re-decode, and hashes that match the keys. Any
 * violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "dataplane/api/records.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			abort();                                              \
	} while (0)

static struct av v;
static struct api_err e;
static struct rec_put_req req;
static struct rec_desc d[REC_MAX_RECORDS];

static void check_desc(const char *body, size_t len, const struct rec_desc *r)
{
	CHECK((const char *)r->pk >= body && r->pk + r->pk_len <= body + len);
	CHECK(r->pk_len >= 1 && r->pk_len <= 1024);
	CHECK(r->data_len <= REC_DATA_MAX_BYTES);
	if (r->data_len)
		CHECK((const char *)r->data >= body &&
		      (const char *)r->data + r->data_len <= body + len);
	if (!r->explicit_hash)
		CHECK(r->hash == route_hash_pk(r->pk, r->pk_len));
}

static void check_valid(const char *body, size_t len)
{
	uint64_t sum = 0;

	CHECK(req.n_records >= 1 && req.n_records <= REC_MAX_RECORDS);
	for (uint32_t i = 0; i < req.n_records; i++) {
		check_desc(body, len, &d[i]);
		sum += (uint64_t)d[i].data_len + d[i].pk_len;
	}
	CHECK(sum == req.total_bytes && sum <= len);
	CHECK(rec_put_check(&req, true, REC_DATA_MAX_BYTES, &e) == 0 || e.message[0] != '\0');
}

/* Every base64 decoder agrees with the scalar reference, in place too. */
static void check_base64(const uint8_t *data, size_t size)
{
	uint8_t *a = malloc(size + 1), *b = malloc(size + 1);
	size_t oa = 0, ob = 0;

	CHECK(a && b);
	int64_t ra = b64_decode_scalar(a, (const char *)data, size, &oa);
	memcpy(b, data, size);
	int64_t rb = b64_decode(b, (const char *)b, size, &ob);
	CHECK(ra == rb);
	if (ra >= 0)
		CHECK(memcmp(a, b, (size_t)ra) == 0);
	else
		CHECK(oa == ob);
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body;

	if (size > (1u << 20))
		return 0;
	check_base64(data, size);
	body = malloc(size + 1);
	CHECK(body);
	memcpy(body, data, size);
	if (rec_decode_put_records(&v, body, size, REC_DATA_MAX_BYTES, &req, d, REC_MAX_RECORDS,
				   &e) == 0)
		check_valid(body, size);
	else
		CHECK(e.type != NULL);
	memcpy(body, data, size);
	if (rec_decode_put_record(&v, body, size, REC_DATA_MAX_BYTES, &req, d, &e) == 0) {
		CHECK(req.n_records == 1);
		check_valid(body, size);
	}
	free(body);
	return 0;
}
