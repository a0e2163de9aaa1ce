/* SPDX-License-Identifier: Apache-2.0 */
/* SubscribeToShard answer parsing for the load generator (see lg_sub.h). */
#include "perf/lg_sub.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/api/eventstream.h"

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int64_t lg_chunk_next(const char *p, uint32_t len, uint32_t *data_off, uint32_t *data_len)
{
	uint32_t scan = len < LG_CHUNK_LINE_MAX ? len : LG_CHUNK_LINE_MAX;
	const char *nl = memchr(p, '\n', scan);
	if (!nl)
		return len >= LG_CHUNK_LINE_MAX ? -1 : 0;
	uint32_t line = (uint32_t)(nl - p) + 1;
	if (line < 3 || p[line - 2] != '\r')
		return -1;
	uint64_t size = 0;
	uint32_t i = 0;
	for (int v; i < line - 2 && (v = hexval(p[i])) >= 0; i++) {
		size = size * 16 + (uint64_t)v;
		if (size > LG_SUB_MSG_MAX)
			return -1;
	}
	/* at least one digit, then the end of the line or an extension */
	if (!i || (i < line - 2 && p[i] != ';' && p[i] != ' ' && p[i] != '\t'))
		return -1;
	*data_off = line;
	*data_len = (uint32_t)size;
	if (size) {
		uint64_t total = (uint64_t)line + size + 2;
		if (len < total)
			return 0;
		if (p[line + size] != '\r' || p[line + size + 1] != '\n')
			return -1;
		return (int64_t)total;
	}
	/* The last chunk: optional trailers, then an empty line. */
	if (len - line >= 2 && p[line] == '\r' && p[line + 1] == '\n')
		return (int64_t)line + 2;
	uint32_t rest = len - line;
	uint32_t lim = rest < LG_CHUNK_TRAILER_MAX ? rest : LG_CHUNK_TRAILER_MAX;
	const char *end = memmem(p + line, lim, "\r\n\r\n", 4);
	if (!end)
		return rest >= LG_CHUNK_TRAILER_MAX ? -1 : 0;
	return (int64_t)(end - p) + 4;
}

static bool hdr_is(const uint8_t *name, uint32_t nl, const char *want)
{
	return nl == strlen(want) && !memcmp(name, want, nl);
}

int64_t lg_sub_message(const uint8_t *in, size_t len, struct lg_sub_event *ev)
{
	struct es_view v;
	/* refuse an over-long message before waiting for all of it */
	if (len >= 4 && ((uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 |
			 in[3]) > LG_SUB_MSG_MAX)
		return -1;
	int64_t t = es_decode(in, len, &v);
	if (t <= 0)
		return t;
	const uint8_t *h = in + v.headers_off, *hend = h + v.headers_len;
	const uint8_t *mtype = NULL, *etype = NULL;
	uint32_t mtl = 0, etl = 0;
	while (h < hend) {
		uint32_t nl = h[0];
		/* name length, name, type byte */
		if (!nl || (size_t)(hend - h) < 2u + nl)
			return -1;
		const uint8_t *name = h + 1;
		uint8_t type = h[1 + nl];
		h += 2 + nl;
		uint32_t vl;
		static const uint8_t fixed[10] = { 0, 0, 1, 2, 4, 8, 0, 0, 8, 16 };
		if (type > 9)
			return -1;
		if (type == 6 || type == 7) {
			if (hend - h < 2)
				return -1;
			vl = (uint32_t)h[0] << 8 | h[1];
			h += 2;
		} else {
			vl = fixed[type];
		}
		if ((size_t)(hend - h) < vl)
			return -1;
		if (type == 7 && hdr_is(name, nl, ":message-type")) {
			mtype = h;
			mtl = vl;
		} else if (type == 7 && (hdr_is(name, nl, ":event-type") ||
					 hdr_is(name, nl, ":exception-type") ||
					 hdr_is(name, nl, ":error-code"))) {
			etype = h;
			etl = vl;
		}
		h += vl;
	}
	ev->type = (const char *)etype;
	ev->type_len = etl;
	ev->payload = (const char *)in + v.payload_off;
	ev->payload_len = v.payload_len;
	if (!mtype || (mtl == 5 && !memcmp(mtype, "event", 5))) {
		if (etype && etl == 21 && !memcmp(etype, "SubscribeToShardEvent", 21))
			ev->kind = LG_EV_RECORDS;
		else if (etype && etl == 16 && !memcmp(etype, "initial-response", 16))
			ev->kind = LG_EV_INITIAL;
		else
			ev->kind = LG_EV_OTHER;
	} else {
		ev->kind = LG_EV_ERROR;
	}
	return t;
}

/* The string value of "key":"..." (key with its quotes and colon). */
static const char *json_str_at(const char *p, uint32_t len, const char *key, uint32_t *vl)
{
	size_t kl = strlen(key);
	const char *q = memmem(p, len, key, kl);
	if (!q)
		return NULL;
	q += kl;
	const char *e = memchr(q, '"', (size_t)(p + len - q));
	if (!e)
		return NULL;
	*vl = (uint32_t)(e - q);
	return q;
}

/* strtod over a bounded, not NUL-terminated span: copies at most 31 bytes. */
static double num_at(const char *q, const char *end)
{
	char buf[32];
	size_t n = (size_t)(end - q) < sizeof(buf) - 1 ? (size_t)(end - q) : sizeof(buf) - 1;
	memcpy(buf, q, n);
	buf[n] = 0;
	return strtod(buf, NULL);
}

void lg_sub_records(const char *p, uint32_t len, struct lg_sub_records *out,
		    void (*on_ts)(void *arg, double ts_s),
		    void (*on_data)(void *arg, const char *b64, uint32_t n), void *arg)
{
	const char *end = p + len, *q = p;
	memset(out, 0, sizeof(*out));
	out->millis_behind = -1;
	while ((q = memmem(q, (size_t)(end - q), "\"Data\":\"", 8))) {
		q += 8;
		const char *e = memchr(q, '"', (size_t)(end - q));
		if (!e)
			break;
		uint64_t n = (uint64_t)(e - q);
		uint64_t pad = (n >= 1 && e[-1] == '=') + (n >= 2 && e[-2] == '=');
		out->bytes += n / 4 * 3 >= pad ? n / 4 * 3 - pad : 0;
		out->nrec++;
		if (on_data)
			on_data(arg, q, (uint32_t)n);
		q = e;
	}
	for (q = p; on_ts && (q = memmem(q, (size_t)(end - q),
					 "\"ApproximateArrivalTimestamp\":", 30));) {
		q += 30;
		double ts = num_at(q, end);
		if (ts > 0)
			on_ts(arg, ts);
	}
	q = memmem(p, len, "\"MillisBehindLatest\":", 21);
	if (q) {
		double b = num_at(q + 21, end);
		if (b >= 0 && b < 1e12)
			out->millis_behind = b;
	}
	out->child_shards = memmem(p, len, "\"ChildShards\":", 14) != NULL;
	out->cont = json_str_at(p, len, "\"ContinuationSequenceNumber\":\"", &out->cont_len);
	if (!out->cont)
		out->cont_len = 0;
}
