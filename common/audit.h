/* SPDX-License-Identifier: Apache-2.0 */
/* The audit log: one JSON line per control-plane call and per authentication
 * or authorisation failure: time, principal, source address, operation,
 * stream, result. Never secrets, never record data.
 *
 * Any thread may post; a line is copied into a bounded in-memory queue
 * (mutex-protected: audit events are control-plane rate, never per record)
 * and a writer thread appends it to DIR/audit.log (0600), rotating to
 * audit.log.1 .. audit.log.N when the file passes max_bytes. If the queue is
 * full the event is counted as dropped and the count is written as its own
 * line once there is room, so a gap is never silent. */
#ifndef SL_COMMON_AUDIT_H
#define SL_COMMON_AUDIT_H

#include <stdint.h>

struct audit;

/* Starts the writer. Returns NULL and sets errno on failure. */
struct audit *audit_open(const char *dir, uint64_t max_bytes, uint32_t keep);
/* Flushes what is queued and stops the writer. */
void audit_close(struct audit *a);

struct audit_event {
	const char *principal; /* access key id, or "" when unknown */
	const char *source;    /* "ip:port" */
	const char *operation; /* "CreateStream", ... */
	const char *stream;    /* "" when none */
	const char *result;    /* "OK" or the error __type */
	uint16_t status;       /* HTTP status answered */
};

/* Queues one event (never blocks on I/O). Safe from any thread. */
void audit_post(struct audit *a, const struct audit_event *e);

#endif
