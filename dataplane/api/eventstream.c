/* SPDX-License-Identifier: Apache-2.0 */
#include "dataplane/api/eventstream.h"

#include <stdbool.h>
#include <string.h>

#include <isa-l.h>

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* CRC-32 as zlib computes it (ISA-L's reflected gzip polynomial, init 0). */
static uint32_t crc(uint32_t seed, const uint8_t *p, size_t n)
{
	return crc32_gzip_refl(seed, p, n);
}

static size_t headers_size(const struct es_header *h, uint32_t nh)
{
	size_t n = 0;
	for (uint32_t i = 0; i < nh; i++)
		n += 1 + strlen(h[i].name) + 1 + 2 + strlen(h[i].value);
	return n;
}

size_t es_size(const struct es_header *h, uint32_t nh, size_t payload_len)
{
	return 12 + headers_size(h, nh) + payload_len + 4;
}

/* The headers at p (headers_size bytes); false: a name/value too long. */
static bool put_headers(uint8_t *p, const struct es_header *h, uint32_t nh)
{
	for (uint32_t i = 0; i < nh; i++) {
		size_t nl = strlen(h[i].name), vl = strlen(h[i].value);
		if (nl > 255 || vl > 65535)
			return false;
		*p++ = (uint8_t)nl;
		memcpy(p, h[i].name, nl);
		p += nl;
		*p++ = 7; /* string */
		*p++ = (uint8_t)(vl >> 8);
		*p++ = (uint8_t)vl;
		memcpy(p, h[i].value, vl);
		p += vl;
	}
	return true;
}

/* Prelude and message CRC of a message whose headers (hl bytes) and
 * payload are in place at out + 12. */
static size_t seal(uint8_t *out, size_t hl, size_t payload_len)
{
	size_t total = 12 + hl + payload_len + 4;
	put32(out, (uint32_t)total);
	put32(out + 4, (uint32_t)hl);
	put32(out + 8, crc(0, out, 8));
	put32(out + total - 4, crc(0, out, total - 4));
	return total;
}

size_t es_encode(uint8_t *out, size_t cap, const struct es_header *h, uint32_t nh,
		 const void *payload, size_t payload_len)
{
	size_t hl = headers_size(h, nh), total = 12 + hl + payload_len + 4;
	if (total > cap || total > UINT32_MAX || !put_headers(out + 12, h, nh))
		return 0;
	if (payload_len)
		memcpy(out + 12 + hl, payload, payload_len);
	return seal(out, hl, payload_len);
}

size_t es_head(uint8_t *out, size_t cap, const struct es_header *h, uint32_t nh)
{
	size_t hl = headers_size(h, nh);
	if (12 + hl > cap || !put_headers(out + 12, h, nh))
		return 0;
	memset(out, 0, 12); /* the prelude: es_seal's */
	return 12 + hl;
}

size_t es_seal(uint8_t *out, size_t head_len, size_t payload_len)
{
	if (head_len < 12 || head_len + payload_len + 4 > UINT32_MAX)
		return 0;
	return seal(out, head_len - 12, payload_len);
}

int64_t es_decode(const uint8_t *in, size_t len, struct es_view *v)
{
	if (len < 12)
		return 0;
	uint32_t total = get32(in), hl = get32(in + 4);
	if (get32(in + 8) != crc(0, in, 8) || total < 16 || hl > total - 16)
		return -1;
	if (len < total)
		return 0;
	if (get32(in + total - 4) != crc(0, in, total - 4))
		return -1;
	v->headers_off = 12;
	v->headers_len = hl;
	v->payload_off = 12 + hl;
	v->payload_len = total - 16 - hl;
	return total;
}
