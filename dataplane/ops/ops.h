/* SPDX-License-Identifier: Apache-2.0 */
/* Layer three of HTTP: one handler per API operation, on the io lcore.
 *
 * The connection layer (dataplane/http) hands every whole request to
 * ops_dispatch, whatever its protocol; the handlers answer through the
 * connection's respond/push calls (http_internal.h), post record operations
 * to the log lcores (dataplane/log) and control operations to the control
 * thread (dataplane/ctl). Files: ops_dispatch.c (SigV4, authorisation, the
 * audit log, operation lookup, control calls), ops_data.c (record
 * operations), ops_subscribe.c (SubscribeToShard), ops_shape.c (the answers made before
 * authentication). */
#ifndef SL_DATAPLANE_OPS_H
#define SL_DATAPLANE_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/bug.h"
#include "common/slice.h"

struct conn;
struct lcore_ctx;
struct dp_msg;

/* one whole request (head + body) is in c->in; answer it or post
 * it. The body is [c->head_len, c->head_len + content_length). */
void ops_dispatch(struct lcore_ctx *lc, struct conn *c);
/* What Kinesis answers before authenticating (ops_shape.c): a method
 * other than POST, a Content-Type it does not serve (ct_ok: the
 * dispatcher's own test of the type), no or an unknown X-Amz-Target, an
 * empty body. Answers such a request and returns false; true when the
 * request may go on to authentication. */
bool ops_shape_ok(struct lcore_ctx *lc, struct conn *c, bool ct_ok);
/* The same from the head alone, for an HTTP/1.1 request whose body is still
 * to come: answers (and marks the connection to close after the answer)
 * and returns false, or returns true. */
bool ops_shape_head_ok(struct lcore_ctx *lc, struct conn *c, bool ct_ok);
struct sigv4_error;
/* An HTTP/1.1 request's head is complete and its body still to come: 0 when
 * it may go on (its body is read); 1 when it cannot be authentic and was
 * answered as Kinesis answers before authenticating (ops_shape_head_ok:
 * the connection closes after the answer); -1 when it cannot be authentic,
 * with err holding the answer (audited). */
int ops_head_check(struct lcore_ctx *lc, struct conn *c, struct sigv4_error *err);
/* An audit line for a request refused before authentication: the key it
 * claims (never verified), its target as sent (printable ASCII), type. */
void ops_audit_refusal(struct lcore_ctx *lc, const struct conn *c, const char *type,
		       uint16_t status);
struct sl_header;
/* The query (after '?') of the request whose headers are hdrs: an HTTP/2
 * stream's from its :path, else c's parsed request's. */
struct sl_slice ops_head_query(const struct conn *c, const struct sl_header *hdrs, uint32_t n);
struct sigv4_error;
/* the SigV4 checks that need no body (sigv4_check_head), run
 * when a request's head is complete and its body is still to come, so an
 * unauthenticated client is refused before its body is buffered. hdrs are
 * the request's headers (an HTTP/2 stream's own, not yet in c's slot).
 * Returns true when the request may go on; otherwise err holds the answer,
 * and when audit is set the failure is logged and audited (else the full
 * check at dispatch does it, with the same error). */
bool ops_head_ok(struct lcore_ctx *lc, const struct conn *c, const struct sl_header *hdrs,
		 uint32_t nhdrs, struct sigv4_error *err, bool audit);
/* AccessDeniedException (and an audit line) unless c's policy and the
 * resource policy of what resource names (routing snapshot) together allow
 * op's IAM action (kinesis:<op>) on resource (policy_decide: an explicit
 * Deny in either wins, else an Allow in either). Returns true when
 * allowed. */
struct api_op_info;
bool ops_authorize(struct lcore_ctx *lc, struct conn *c, const struct api_op_info *op,
		   const char *resource, const char *stream);
/* one audit line about c's current request. */
void ops_audit(struct lcore_ctx *lc, const struct conn *c, const char *principal, const char *op,
	       const char *stream, const char *result, uint16_t status);
/* answered control-plane calls for this lcore. */
void ops_poll_ctl(struct lcore_ctx *lc);

/* The request's Content-Type media type, without parameters or surrounding
 * blanks ("" when absent): the one parse every content-type check uses
 * (ops_shape.c). */
struct sl_slice ops_media_type(const struct conn *c);

/* application/x-amz-cbor-1.1 (ops_cbor.c). ops_cbor_is_cbor: c's request
 * says so in its Content-Type. ops_cbor_request: replaces c->body with its
 * JSON transcoding; false when it answered instead (malformed CBOR:
 * SerializationException; budget full: 503; no memory: 500).
 * ops_cbor_release: frees that JSON once nothing reads it (idempotent).
 * ops_cbor_respond: http_conn_respond's path for a CBOR request: the JSON
 * answer transcoded and handed to the protocol. */
bool ops_cbor_is_cbor(const struct conn *c);
bool SL_MUST_CHECK ops_cbor_request(struct lcore_ctx *lc, struct conn *c);
void ops_cbor_release(struct lcore_ctx *lc, struct conn *c);
void ops_cbor_respond(struct lcore_ctx *lc, struct conn *c, uint16_t status, const char *body,
		      uint32_t body_len, const char *rid, const char *id2);

/* True when the io lcores have a handler for op (the data plane's half of
 * the operation table, in ops_dispatch.c). */
enum api_op;
bool ops_serves(enum api_op op);

/* Record operations (ops_data.c): entries of ops_dispatch.c's handler
 * table, posted to the log lcores and answered from their replies. op is
 * the operation's descriptor. */
void ops_data_put_record(struct lcore_ctx *lc, struct conn *c, const struct api_op_info *op);
void ops_data_put_records(struct lcore_ctx *lc, struct conn *c, const struct api_op_info *op);
void ops_data_get_shard_iterator(struct lcore_ctx *lc, struct conn *c,
				 const struct api_op_info *op);
void ops_data_get_records(struct lcore_ctx *lc, struct conn *c, const struct api_op_info *op);
void ops_data_poll(struct lcore_ctx *lc);
struct route_stream;
struct route_shard;
/* Copies a closed, sealed shard's end and children into a DP_GET message
 * (nothing for an open shard or one whose seal is pending). */
/* Answers InternalFailure for a shard another node owns (route_shard.remote;
 * no forwarding yet): the message is ours (dataplane/api/README.md). */
struct ctl_call;
/* The control thread's answer to a routing miss (miss_post in ops_data.c):
 * dispatches c's request again. ops_poll_ctl calls it. */
void ops_data_miss_answered(struct lcore_ctx *lc, struct conn *c, const struct ctl_call *call);
void ops_data_remote_err(struct lcore_ctx *lc, struct conn *c, uint32_t shard,
			 const char *stream);
void ops_data_fill_closed(struct dp_msg *m, const struct route_stream *s,
			  const struct route_shard *sh);

/* SubscribeToShard (ops_subscribe.c). */
void ops_subscribe(struct lcore_ctx *lc, struct conn *c, const struct api_op_info *op);
void ops_sub_complete(struct lcore_ctx *lc, struct dp_msg *m);
void ops_sub_tick(struct lcore_ctx *lc);
/* The server stops: every live subscription ends now, cleanly (END_STREAM /
 * the zero chunk), before connections are drained. */
void ops_sub_stop_all(struct lcore_ctx *lc);
void ops_sub_free_all(struct lcore_ctx *lc);
/* GetRecords: a request carrying this header (any value), signed with
 * sluiced's own credential (conn.internal, sigv4_keyring_add_internal),
 * gets each record's stored ExplicitHashKey, so the mirror can forward it
 * upstream. From any other key the header is ignored, like every header
 * Kinesis does not know: no client can read stored hash keys. */
#define OPS_EHK_HEADER "x-sluice-explicit-hash-keys"

#define SUB_REGISTRY 1024 /* live subscriptions in the process */
/* The process-wide registry of live subscriptions (any thread; a mutex),
 * keyed by the whole (ConsumerARN, shard). Returns the slot (>= 0) for
 * ops_sub_reg_del, or -EBUSY (that consumer already reads that shard), -ENOSPC
 * (SUB_REGISTRY live subscriptions) or -ENOMEM. */
int SL_MUST_CHECK ops_sub_reg_add(const char *arn, uint32_t shard);
/* Frees a slot ops_sub_reg_add returned (once). */
void ops_sub_reg_del(int slot);
/* The registry's hash of an ARN (FNV-1a 64; exposed for its unit test). */
uint64_t ops_sub_reg_hash(const char *arn);

#endif
