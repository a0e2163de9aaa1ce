/* SPDX-License-Identifier: Apache-2.0 */
/* The etcd watch stream parser (cp_etcd_watch.h): HTTP head, chunked
 * framing and newline-delimited JSON messages, fed in pieces of any size.
 * Pure: no I/O, no clock, so the fuzzer reaches all of it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/bug.h"
#include "controlplane/cp_etcd_watch.h"

int ew_init(struct ew_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->msg = malloc(ETCD_MSG_MAX_BYTES);
	p->toks = malloc((size_t)ETCD_TOKS_MAX * sizeof(*p->toks));
	if (p->msg == NULL || p->toks == NULL) {
		ew_free(p);
		return -ENOMEM;
	}
	return 0;
}

void ew_free(struct ew_parser *p)
{
	free(p->msg);
	free(p->toks);
	p->msg = NULL;
	p->toks = NULL;
}

void ew_reset(struct ew_parser *p)
{
	p->state = EW_HEAD;
	p->head_len = 0;
	p->line_len = 0;
	p->crlf_seen = 0;
	p->chunk_left = 0;
	p->msg_len = 0;
}

/* The head is whole (it ends with CRLF CRLF): 200, chunked. Anything else
 * (etcd's gateway answers 503 until its own gRPC link is up) is refused. */
static int head_check(const struct ew_parser *p)
{
	const char *h = p->head, *end = p->head + p->head_len;
	bool chunked = false;

	if (p->head_len < 16 || memcmp(h, "HTTP/1.1 200", 12) != 0 || (h[12] != ' ' && h[12] != '\r'))
		return -EPROTO;
	for (const char *line = (const char *)memchr(h, '\n', p->head_len) + 1; line < end;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		size_t n = (size_t)(eol - line); /* the head ends with \n: never NULL */
		const char *v;

		if (n >= 18 && strncasecmp(line, "transfer-encoding:", 18) == 0) {
			for (v = line + 18; *v == ' ' || *v == '\t'; v++)
				;
			if (eol - v < 8 || strncasecmp(v, "chunked\r", 8) != 0)
				return -EPROTO;
			chunked = true;
		} else if (n >= 15 && strncasecmp(line, "content-length:", 15) == 0) {
			return -EPROTO; /* a watch never has a length */
		}
		line = eol + 1;
	}
	return chunked ? 0 : -EPROTO;
}

static bool tok_is(const struct json_doc *d, int32_t i, const char *s)
{
	size_t n = strlen(s);

	return i >= 0 && d->toks[i].type == JSON_STRING && d->toks[i].len == n &&
	       memcmp(d->buf + d->toks[i].start, s, n) == 0;
}

static int one_event(const struct json_doc *d, uint32_t it, struct ew_msg *m, ew_cb cb, void *arg)
{
	struct ew_event ev = { 0 };
	int32_t type, kv;

	if (d->toks[it].type != JSON_OBJECT)
		return -EPROTO;
	type = json_obj_get(d, it, "type");
	kv = json_obj_get(d, it, "kv");
	if (type >= 0 && !tok_is(d, type, "PUT") && !tok_is(d, type, "DELETE"))
		return -EPROTO;
	ev.del = tok_is(d, type, "DELETE");
	if (kv < 0 || d->toks[kv].type != JSON_OBJECT)
		return -EPROTO;
	if (etcd_tok_b64(d, json_obj_get(d, (uint32_t)kv, "key"), &ev.key, &ev.key_len) < 0 ||
	    etcd_tok_b64(d, json_obj_get(d, (uint32_t)kv, "value"), &ev.value, &ev.value_len) < 0 ||
	    etcd_tok_i64(d, json_obj_get(d, (uint32_t)kv, "mod_revision"), &ev.mod_rev) < 0 ||
	    ev.key_len == 0)
		return -EPROTO;
	m->n_events++;
	return cb(arg, m, &ev);
}

/* One line of the stream: one JSON message. */
static int one_msg(struct ew_parser *p, ew_cb cb, void *arg)
{
	struct json_doc d;
	struct ew_msg m = { 0 };
	int32_t res, hdr, evs;
	int n, rc;

	n = json_parse(&d, p->msg, p->msg_len, p->toks, ETCD_TOKS_MAX, 16, NULL);
	if (n == -JSON_E_TOKENS)
		return -EMSGSIZE;
	if (n < 1 || p->toks[0].type != JSON_OBJECT)
		return -EPROTO;
	if (json_obj_get(&d, 0, "error") >= 0)
		return -ECONNABORTED;
	res = json_obj_get(&d, 0, "result");
	if (res < 0 || p->toks[res].type != JSON_OBJECT)
		return -EPROTO;
	hdr = json_obj_get(&d, (uint32_t)res, "header");
	if (hdr >= 0 &&
	    (p->toks[hdr].type != JSON_OBJECT ||
	     etcd_tok_i64(&d, json_obj_get(&d, (uint32_t)hdr, "revision"), &m.revision) < 0))
		return -EPROTO;
	if (etcd_tok_i64(&d, json_obj_get(&d, (uint32_t)res, "compact_revision"),
			 &m.compact_revision) < 0)
		return -EPROTO;
	m.created = json_obj_get(&d, (uint32_t)res, "created") >= 0 &&
		    p->toks[json_obj_get(&d, (uint32_t)res, "created")].type == JSON_TRUE;
	m.canceled = json_obj_get(&d, (uint32_t)res, "canceled") >= 0 &&
		     p->toks[json_obj_get(&d, (uint32_t)res, "canceled")].type == JSON_TRUE;
	evs = json_obj_get(&d, (uint32_t)res, "events");
	if (evs >= 0) {
		if (p->toks[evs].type != JSON_ARRAY)
			return -EPROTO;
		if (p->toks[evs].count > EW_EVENTS_MAX)
			return -EMSGSIZE;
		uint32_t it = (uint32_t)evs + 1;
		for (uint32_t k = 0; k < p->toks[evs].count; k++, it = p->toks[it].next)
			if ((rc = one_event(&d, it, &m, cb, arg)) < 0)
				return rc;
	}
	return cb(arg, &m, NULL);
}

/* Chunk data: split into lines; a line is a message. Consumes all n. */
static int chunk_data(struct ew_parser *p, const char *data, size_t n, ew_cb cb, void *arg)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		int rc;

		if (take > ETCD_MSG_MAX_BYTES - p->msg_len)
			return -EMSGSIZE;
		memcpy(p->msg + p->msg_len, data, take);
		p->msg_len += take;
		data += take;
		n -= take;
		if (nl == NULL)
			break;
		data++; /* the newline */
		n--;
		if (p->msg_len > 0 && p->msg[p->msg_len - 1] == '\r')
			p->msg_len--;
		if (p->msg_len > 0 && (rc = one_msg(p, cb, arg)) < 0)
			return rc;
		p->msg_len = 0;
	}
	return 0;
}

/* A chunk-size line is whole in p->line (without CRLF). */
static int chunk_size(struct ew_parser *p)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < p->line_len && p->line[i] != ';'; i++) {
		char c = p->line[i];
		int dgt;

		if (c >= '0' && c <= '9')
			dgt = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			dgt = (c | 0x20) - 'a' + 10;
		else
			return -EPROTO;
		if (i >= 8)
			return -EMSGSIZE; /* > 4 GiB: more than any message */
		v = v * 16 + (uint64_t)dgt;
	}
	if (i == 0)
		return -EPROTO;
	p->chunk_left = v;
	p->state = v == 0 ? EW_DONE : EW_CHUNK_DATA;
	return 0;
}

static int feed(struct ew_parser *p, const char *data, size_t n, ew_cb cb, void *arg)
{
	int rc;

	while (n > 0) {
		switch (p->state) {
		case EW_HEAD:
			if (p->head_len == EW_HEAD_MAX_BYTES)
				return -EMSGSIZE;
			p->head[p->head_len++] = *data++;
			n--;
			if (p->head_len >= 4 && memcmp(p->head + p->head_len - 4, "\r\n\r\n", 4) == 0) {
				if ((rc = head_check(p)) < 0)
					return rc;
				p->state = EW_CHUNK_SIZE;
			}
			break;
		case EW_CHUNK_SIZE:
			if (*data == '\n') {
				if (p->line_len == 0 || p->line[p->line_len - 1] != '\r')
					return -EPROTO;
				p->line_len--;
				if ((rc = chunk_size(p)) < 0)
					return rc;
				p->line_len = 0;
			} else if (p->line_len == sizeof(p->line)) {
				return -EPROTO;
			} else {
				p->line[p->line_len++] = *data;
			}
			data++;
			n--;
			break;
		case EW_CHUNK_DATA: {
			size_t take = n < p->chunk_left ? n : (size_t)p->chunk_left;
			if ((rc = chunk_data(p, data, take, cb, arg)) < 0)
				return rc;
			data += take;
			n -= take;
			p->chunk_left -= take;
			if (p->chunk_left == 0) {
				p->state = EW_CHUNK_END;
				p->crlf_seen = 0;
			}
			break;
		}
		case EW_CHUNK_END:
			if (*data != "\r\n"[p->crlf_seen])
				return -EPROTO;
			data++;
			n--;
			if (++p->crlf_seen == 2)
				p->state = EW_CHUNK_SIZE;
			break;
		case EW_DONE:
			return 1; /* bytes after the last chunk: trailers, ignored */
		case EW_FAILED:
		default:
			return -EPROTO;
		}
	}
	return p->state == EW_DONE ? 1 : 0;
}

int ew_feed(struct ew_parser *p, const char *data, size_t n, ew_cb cb, void *arg)
{
	int rc;

	if (p->state == EW_FAILED)
		return -EPROTO;
	rc = feed(p, data, n, cb, arg);
	if (rc < 0)
		p->state = EW_FAILED;
	return rc;
}
