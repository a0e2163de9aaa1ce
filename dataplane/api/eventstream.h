/* SPDX-License-Identifier: Apache-2.0 */
/* application/vnd.amazon.eventstream messages (what SubscribeToShard streams):
 *
 *   total length   u32 BE  (whole message, prelude to CRC)
 *   headers length u32 BE
 *   prelude CRC    u32 BE  CRC-32 (IEEE, as zlib) of the 8 bytes above
 *   headers        repeated: name length u8, name, value type u8 (7 =
 *                  string), value length u16 BE, value
 *   payload
 *   message CRC    u32 BE  CRC-32 of everything before it
 *
 * Pure functions over caller buffers; no allocation. */
#ifndef SL_DATAPLANE_HTTP_EVENTSTREAM_H
#define SL_DATAPLANE_HTTP_EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct es_header {
	const char *name;  /* at most 255 bytes */
	const char *value; /* string value, at most 65535 bytes */
};

/* Bytes es_encode needs for these headers and payload. */
size_t es_size(const struct es_header *h, uint32_t nh, size_t payload_len);

/* Writes one message into out[0..cap). Returns its length, or 0 when it does
 * not fit (or a name/value is too long). */
size_t es_encode(uint8_t *out, size_t cap, const struct es_header *h, uint32_t nh,
		 const void *payload, size_t payload_len);

/* In place, for a payload written after the head (no copy of it): es_head
 * writes the prelude's room and the headers at out[0..cap) and returns
 * their length (0: no room, or a name/value too long); the caller writes
 * payload_len bytes after them and 4 bytes of room, and es_seal fills the
 * prelude and the message CRC. Returns the message length (0: too long). */
size_t es_head(uint8_t *out, size_t cap, const struct es_header *h, uint32_t nh);
size_t es_seal(uint8_t *out, size_t head_len, size_t payload_len);

/* Decodes one message at in[0..len) (for tests and the fuzz target): checks
 * both CRCs and the lengths. Returns the message length, 0 when more bytes
 * are needed, -1 when malformed. Headers/payload are reported as offsets. */
struct es_view {
	uint32_t headers_off, headers_len;
	uint32_t payload_off, payload_len;
};
int64_t es_decode(const uint8_t *in, size_t len, struct es_view *v);

#endif
