/* SPDX-License-Identifier: Apache-2.0 */
/* Self-checking record data for loadgen --verify: a record carries its own
 * 64-bit id and length in a 16-byte header, and the rest of its bytes are a
 * keystream derived from the id, so a reader can check every byte of every
 * record it gets back without knowing what was put (perf/tcp_loss.sh reads
 * back what another process wrote). Private to perf/. */
#ifndef SL_PERF_LG_VERIFY_H
#define SL_PERF_LG_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Smallest record the pattern fits in: magic (4) + length (4) + id (8). */
#define LG_VERIFY_MIN_BYTES 16u

/* Fills d[0..len) with the pattern of record `id`. len >= LG_VERIFY_MIN_BYTES. */
void lg_verify_fill(uint8_t *d, uint32_t len, uint64_t id);

/* True when d[0..len) is exactly some record's pattern: the magic, a
 * length equal to len, and every byte after the header the keystream of
 * the header's id. */
bool lg_verify_check(const uint8_t *d, uint32_t len);

/* Decodes one base64 Data value and checks it. False on bad base64 too. */
bool lg_verify_b64(const char *b64, uint32_t n);

#endif
