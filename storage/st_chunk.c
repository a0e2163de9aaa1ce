/* SPDX-License-Identifier: Apache-2.0 */
/* Chunk checksum and validation (layout in st_internal.h). */
#include <errno.h>
#include <isa-l.h>
#include <stdint.h>
#include <string.h>

#include "storage/st_internal.h"

/* ISA-L's crc32_iscsi neither inverts the seed nor the result: standard
 * CRC32C is ~crc32_iscsi(buf, len, ~0) (tested: "123456789" -> 0xE3069283). */
uint32_t st_hdr_crc(const void *p, uint64_t salt)
{
	struct st_chunk_hdr h;
	uint32_t c;

	memcpy(&h, p, sizeof(h));
	h.hdr_crc = 0;
	c = crc32_iscsi((unsigned char *)&salt, (int)sizeof(salt), 0xffffffffu);
	c = crc32_iscsi((unsigned char *)&h, (int)sizeof(h), c);
	return ~c;
}

void st_chunk_crcs(struct st_chunk_hdr *h, uint64_t salt)
{
	h->crc32c = st_crc32c((const uint8_t *)h + ST_HDR_LEN, h->total_len - ST_HDR_LEN);
	h->hdr_crc = st_hdr_crc(h, salt);
}

int st_chunk_hdr_check(const void *p, uint32_t max_len, uint64_t salt)
{
	struct st_chunk_hdr h;

	memcpy(&h, p, sizeof(h));
	if (h.magic != ST_CHUNK_MAGIC || h.version != ST_CHUNK_VERSION ||
	    h.hdr_len != ST_HDR_LEN || h.total_len < ST_HDR_LEN ||
	    h.total_len > max_len || h.payload_len != h.total_len - ST_HDR_LEN)
		return -EBADMSG;
	return st_hdr_crc(p, salt) == h.hdr_crc ? 0 : -EBADMSG;
}

int st_chunk_check(const void *p, uint64_t avail, uint64_t salt)
{
	const struct st_chunk_hdr *h = p;

	if (avail < ST_HDR_LEN ||
	    st_chunk_hdr_check(p, avail > UINT32_MAX ? UINT32_MAX : (uint32_t)avail,
			       salt) < 0)
		return -EBADMSG;
	if (st_crc32c((const uint8_t *)p + ST_HDR_LEN, h->total_len - ST_HDR_LEN) !=
	    h->crc32c)
		return -EBADMSG;
	return 0;
}

void st_chunk_pad(void *p, uint32_t len, uint64_t write_no, uint64_t dur_off,
		  uint64_t salt)
{
	struct st_chunk_hdr *h = p;

	memset(p, 0, len);
	h->magic = ST_CHUNK_MAGIC;
	h->version = ST_CHUNK_VERSION;
	h->hdr_len = ST_HDR_LEN;
	h->total_len = len;
	h->payload_len = len - ST_HDR_LEN;
	h->write_no = write_no;
	h->flags = ST_CF_PAD;
	h->dur_off = dur_off;
	st_chunk_crcs(h, salt);
}

uint32_t st_crc32c(const void *p, uint64_t len)
{
	const unsigned char *b = p;
	uint32_t c = 0xffffffffu;

	while (len > 0) {
		int n = len > (1u << 30) ? (1 << 30) : (int)len;

		c = crc32_iscsi((unsigned char *)b, n, c);
		b += n;
		len -= (uint64_t)n;
	}
	return ~c;
}
