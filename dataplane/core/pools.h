/* SPDX-License-Identifier: Apache-2.0 */
/* The io lcore's pools of per-request objects (common/pool.h): what the
 * record path (PutRecord(s), GetRecords, GetShardIterator, and any request
 * over HTTP/2) would otherwise malloc and free for every request or every
 * connection. Each is bounded; when one is exhausted the request gets a
 * Kinesis-shaped 503 or, for an HTTP/2 stream, RST_STREAM REFUSED_STREAM
 * (retryable back-pressure).
 *
 * Not pooled, on purpose: control operations (dispatch.c's ctl_call and its
 * body copy: a few per second at most, and they go to another thread), the
 * connection input/output buffers (per connection, grown by doubling and
 * charged to the buffered-bytes budget, see admit.h), HTTP/2 request bodies
 * and response buffers (sized to each request, charged likewise), and
 * SubscribeToShard events (made by the log lcore, one per second per
 * subscription). */
#ifndef SL_DATAPLANE_CORE_POOLS_H
#define SL_DATAPLANE_CORE_POOLS_H

#include <stdint.h>

#include "common/bug.h"

struct lcore_ctx;

/* GetRecords response buffers, handed with the request to the log lcore,
 * which encodes into it (growing it with realloc past this size, rare:
 * then the pool forgets it and the io lcore frees it). 64 KiB as before. */
#define LCORE_GET_BUF_BYTES (64u << 10)
/* GetRecords in flight (posted or held for credits) per io lcore; past it
 * the request is answered 503 ServiceUnavailable (the SDKs retry it). Four
 * per connection slot would be silly; this is well above what credits let
 * through at once and caps a burst at 64 MiB per io lcore. */
#define LCORE_GET_BUFS_MAX 1024u
/* Idle objects each pool keeps for the next requests; more are freed. */
#define LCORE_POOL_KEEP 64u
/* HTTP/2 streams (with their 16 KiB header buffers) alive per io lcore;
 * past it a new stream is refused (REFUSED_STREAM). */
#define LCORE_H2_STREAMS_MAX 16384u

/* dp_req (data.c) and h2 stream (conn_h2.c) sizes, private to their files. */
uint32_t ops_dp_req_bytes(void);
uint32_t http_h2_stream_bytes(void);

/* Sets up lc's pools (nothing is allocated until used). Needs lc->max_conns.
 * Returns 0 or -EINVAL. */
SL_MUST_CHECK int lcore_pools_init(struct lcore_ctx *lc);
/* Frees what the pools hold; logs objects still out (shutdown only). */
void lcore_pools_fini(struct lcore_ctx *lc);

#endif
