/* SPDX-License-Identifier: Apache-2.0 */
/* Kinesis Data Streams operations (protocol awsJson1_1, target prefix
 * Kinesis_20131202): the operation table, the validation toolkit that yields
 * Kinesis's exact error types and messages, and error encoding.
 *
 * Called by the io lcores (dispatch) and by the control plane (decoding and
 * validating control operations). Nothing here blocks or allocates. */
#ifndef SL_DATAPLANE_API_H
#define SL_DATAPLANE_API_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/json.h"
#include "common/slice.h"

/* Numbered so logs and metrics stay stable across versions. */
enum api_op {
	API_OP_UNKNOWN = 0,
	API_OP_CREATE_STREAM = 1,
	API_OP_DELETE_STREAM = 2,
	API_OP_DESCRIBE_STREAM = 3,
	API_OP_DESCRIBE_STREAM_SUMMARY = 4,
	API_OP_LIST_STREAMS = 5,
	API_OP_LIST_SHARDS = 6,
	API_OP_PUT_RECORD = 7,
	API_OP_PUT_RECORDS = 8,
	API_OP_GET_SHARD_ITERATOR = 9,
	API_OP_GET_RECORDS = 10,
	API_OP_INCREASE_RETENTION = 11,
	API_OP_DECREASE_RETENTION = 12,
	API_OP_OTHER_KNOWN = 13, /* a real Kinesis operation sluice does not serve yet */
	/* resharding, stream settings, tags, limits (control plane) */
	API_OP_SPLIT_SHARD = 14,
	API_OP_MERGE_SHARDS = 15,
	API_OP_UPDATE_SHARD_COUNT = 16,
	API_OP_UPDATE_STREAM_MODE = 17,
	API_OP_UPDATE_WARM_THROUGHPUT = 18,
	API_OP_UPDATE_MAX_RECORD_SIZE = 19,
	API_OP_DESCRIBE_LIMITS = 20,
	API_OP_DESCRIBE_ACCOUNT_SETTINGS = 21,
	API_OP_UPDATE_ACCOUNT_SETTINGS = 22,
	API_OP_ADD_TAGS_TO_STREAM = 23,
	API_OP_REMOVE_TAGS_FROM_STREAM = 24,
	API_OP_LIST_TAGS_FOR_STREAM = 25,
	API_OP_TAG_RESOURCE = 26,
	API_OP_UNTAG_RESOURCE = 27,
	API_OP_LIST_TAGS_FOR_RESOURCE = 28,
	API_OP_ENABLE_MONITORING = 29,
	API_OP_DISABLE_MONITORING = 30,
	/* encryption and enhanced fan-out consumers (control plane) */
	API_OP_START_ENCRYPTION = 31,
	API_OP_STOP_ENCRYPTION = 32,
	API_OP_REGISTER_CONSUMER = 33,
	API_OP_DEREGISTER_CONSUMER = 34,
	API_OP_DESCRIBE_CONSUMER = 35,
	API_OP_LIST_CONSUMERS = 36,
	API_OP_SUBSCRIBE_TO_SHARD = 37, /* enhanced fan-out push (io lcores) */
	/* resource policies and record distribution (control plane) */
	API_OP_PUT_RESOURCE_POLICY = 38,
	API_OP_GET_RESOURCE_POLICY = 39,
	API_OP_DELETE_RESOURCE_POLICY = 40,
	API_OP_UPDATE_DISTRIBUTION = 41,
	/* channels: delivery of a stream to S3 (controlplane/cp_channels.c) */
	API_OP_CREATE_CHANNEL = 42,
	API_OP_DELETE_CHANNEL = 43,
	API_OP_DESCRIBE_CHANNEL = 44,
	API_OP_LIST_CHANNELS = 45,
	API_OP_UPDATE_CHANNEL = 46,
	API_OP__COUNT
};
static_assert(API_OP__COUNT <= 64, "the operation masks (API_OP_BIT) are 64-bit");

/* Where an operation runs. */
enum api_plane {
	API_PLANE_CONTROL = 1, /* posted to the control thread */
	API_PLANE_DATA = 2,    /* served on the io/log lcores */
};

/* Facts about an operation that the dispatcher and the control plane decide
 * by, instead of each keeping its own list of operations. */
enum api_op_flag {
	/* Success changes what the routing table holds: the control plane
	 * publishes a new table before answering. */
	API_OPF_MUTATES = 1u << 0,
	/* Success closes shards: the control plane cuts over (publish,
	 * quiesce readers, seal the parents) before answering. */
	API_OPF_RESHARDS = 1u << 1,
	/* A record operation: names one stream only, and its decoder checks
	 * StreamName against StreamARN, so the dispatcher skips resolving the
	 * resource for full-access keys (hot path). */
	API_OPF_RECORD = 1u << 2,
	/* The stream is named inside the shard iterator, not in the body: the
	 * handler authorises (data.c), not the dispatcher. */
	API_OPF_AUTHZ_IN_HANDLER = 1u << 3,
};

/* rate_tps of a control operation for which Kinesis documents no rate. */
#define API_TPS_NONE UINT16_MAX

/* The operation table, one line per operation of the current Kinesis model
 * (45 operations: botocore's service-2.json and the JS SDK v3's newer
 * UpdateStreamRecordDistributionStrategy and five channel operations), sorted by name because
 * api_op_lookup() bisects it:
 *
 *   X(Name, OP, PLANE, flags, rate_tps)
 *
 * Name is the X-Amz-Target suffix, the audit log's operation and the IAM
 * action after "kinesis:". OP is the enum api_op suffix; OTHER_KNOWN marks a
 * real operation sluice does not serve yet, so the dispatcher can tell "not
 * yet" from "no such operation" (UnknownOperationException). rate_tps is
 * Kinesis's documented per-account rate of a control operation
 * (transactions per second, API reference: "This operation has a limit of
 * N transactions per second per account"; ListShards' 1000/s is documented
 * per stream and applied per account); API_TPS_NONE where none is
 * documented; 0 for data operations, whose limits are per shard (quota.c).
 *
 * Written as a list so that the handler tables of both planes can be
 * checked against it at compile time (API_OPS_CONTROL_MASK,
 * API_OPS_DATA_MASK). */
#define API_OPS(X)                                                                         \
	X(AddTagsToStream, ADD_TAGS_TO_STREAM, CONTROL, 0, 5)                              \
	X(CreateChannel, CREATE_CHANNEL, CONTROL, 0, 5)                                    \
	X(CreateStream, CREATE_STREAM, CONTROL, API_OPF_MUTATES, 5)                        \
	X(DecreaseStreamRetentionPeriod, DECREASE_RETENTION, CONTROL, API_OPF_MUTATES,     \
	  API_TPS_NONE)                                                                    \
	X(DeleteChannel, DELETE_CHANNEL, CONTROL, 0, 5)                                    \
	X(DeleteResourcePolicy, DELETE_RESOURCE_POLICY, CONTROL, API_OPF_MUTATES,          \
	  API_TPS_NONE)                                                                    \
	X(DeleteStream, DELETE_STREAM, CONTROL, API_OPF_MUTATES, 5)                        \
	X(DeregisterStreamConsumer, DEREGISTER_CONSUMER, CONTROL, API_OPF_MUTATES, 5)      \
	X(DescribeAccountSettings, DESCRIBE_ACCOUNT_SETTINGS, CONTROL, 0, API_TPS_NONE)    \
	X(DescribeChannel, DESCRIBE_CHANNEL, CONTROL, 0, 5)                                \
	X(DescribeLimits, DESCRIBE_LIMITS, CONTROL, 0, 1)                                  \
	X(DescribeStream, DESCRIBE_STREAM, CONTROL, 0, 10)                                 \
	X(DescribeStreamConsumer, DESCRIBE_CONSUMER, CONTROL, 0, 20)                       \
	X(DescribeStreamSummary, DESCRIBE_STREAM_SUMMARY, CONTROL, 0, 20)                  \
	X(DisableEnhancedMonitoring, DISABLE_MONITORING, CONTROL, API_OPF_MUTATES, API_TPS_NONE) \
	X(EnableEnhancedMonitoring, ENABLE_MONITORING, CONTROL, API_OPF_MUTATES, API_TPS_NONE) \
	X(GetRecords, GET_RECORDS, DATA, API_OPF_RECORD | API_OPF_AUTHZ_IN_HANDLER, 0)     \
	X(GetResourcePolicy, GET_RESOURCE_POLICY, CONTROL, 0, API_TPS_NONE)                \
	X(GetShardIterator, GET_SHARD_ITERATOR, DATA, API_OPF_RECORD, 0)                   \
	X(IncreaseStreamRetentionPeriod, INCREASE_RETENTION, CONTROL, API_OPF_MUTATES,     \
	  API_TPS_NONE)                                                                    \
	X(ListChannels, LIST_CHANNELS, CONTROL, 0, API_TPS_NONE)                           \
	X(ListShards, LIST_SHARDS, CONTROL, 0, 1000)                                       \
	X(ListStreamConsumers, LIST_CONSUMERS, CONTROL, 0, 5)                              \
	X(ListStreams, LIST_STREAMS, CONTROL, 0, 5)                                        \
	X(ListTagsForResource, LIST_TAGS_FOR_RESOURCE, CONTROL, 0, API_TPS_NONE)           \
	X(ListTagsForStream, LIST_TAGS_FOR_STREAM, CONTROL, 0, 5)                          \
	X(MergeShards, MERGE_SHARDS, CONTROL, API_OPF_RESHARDS, 5)                         \
	X(PutRecord, PUT_RECORD, DATA, API_OPF_RECORD, 0)                                  \
	X(PutRecords, PUT_RECORDS, DATA, API_OPF_RECORD, 0)                                \
	X(PutResourcePolicy, PUT_RESOURCE_POLICY, CONTROL, API_OPF_MUTATES, API_TPS_NONE)  \
	X(RegisterStreamConsumer, REGISTER_CONSUMER, CONTROL, API_OPF_MUTATES, 5)          \
	X(RemoveTagsFromStream, REMOVE_TAGS_FROM_STREAM, CONTROL, 0, 5)                    \
	X(SplitShard, SPLIT_SHARD, CONTROL, API_OPF_RESHARDS, 5)                           \
	X(StartStreamEncryption, START_ENCRYPTION, CONTROL, 0, API_TPS_NONE)               \
	X(StopStreamEncryption, STOP_ENCRYPTION, CONTROL, 0, API_TPS_NONE)                 \
	X(SubscribeToShard, SUBSCRIBE_TO_SHARD, DATA, 0, 0)                                \
	X(TagResource, TAG_RESOURCE, CONTROL, 0, API_TPS_NONE)                             \
	X(UntagResource, UNTAG_RESOURCE, CONTROL, 0, API_TPS_NONE)                         \
	X(UpdateAccountSettings, UPDATE_ACCOUNT_SETTINGS, CONTROL, 0, API_TPS_NONE)        \
	X(UpdateChannel, UPDATE_CHANNEL, CONTROL, 0, 5)                                    \
	X(UpdateMaxRecordSize, UPDATE_MAX_RECORD_SIZE, CONTROL, API_OPF_MUTATES,           \
	  API_TPS_NONE)                                                                    \
	X(UpdateShardCount, UPDATE_SHARD_COUNT, CONTROL, API_OPF_RESHARDS, 10)             \
	X(UpdateStreamMode, UPDATE_STREAM_MODE, CONTROL, API_OPF_MUTATES, API_TPS_NONE)    \
	X(UpdateStreamRecordDistributionStrategy, UPDATE_DISTRIBUTION, CONTROL,            \
	  API_OPF_MUTATES, API_TPS_NONE)                                                   \
	X(UpdateStreamWarmThroughput, UPDATE_WARM_THROUGHPUT, CONTROL, 0, API_TPS_NONE)

#define API_OP_BIT(op) (UINT64_C(1) << (op))
/* The served operations of one plane as a bit mask over enum api_op: each
 * plane's handler table must cover exactly these (static_assert in
 * controlplane/cp_streams.c and dataplane/ops/ops_dispatch.c). */
#define API_OP_MASK_IF_(plane, op, want)                                                   \
	| ((plane) == (want) && (op) != API_OP_OTHER_KNOWN ? API_OP_BIT(op) : UINT64_C(0))
#define API_OP_CONTROL_BIT_(name, op, plane, flags, tps)                                   \
	API_OP_MASK_IF_(API_PLANE_##plane, API_OP_##op, API_PLANE_CONTROL)
#define API_OP_DATA_BIT_(name, op, plane, flags, tps)                                      \
	API_OP_MASK_IF_(API_PLANE_##plane, API_OP_##op, API_PLANE_DATA)
#define API_OPS_CONTROL_MASK (UINT64_C(0) API_OPS(API_OP_CONTROL_BIT_))
#define API_OPS_DATA_MASK (UINT64_C(0) API_OPS(API_OP_DATA_BIT_))

/* One operation's descriptor: every per-operation decision (dispatch,
 * authorisation, audit, routing-table publication, control-op rate) reads
 * it. The handlers are not here: the control plane's cannot be named from
 * the dataplane, and the io lcores' live above this folder; each plane
 * keeps its own table indexed by enum api_op, checked against the masks
 * above. */
struct api_op_info {
	const char *name;	/* "CreateStream" */
	const char *iam_action; /* "kinesis:CreateStream": what policies are evaluated on */
	enum api_op op;
	enum api_plane plane;
	uint32_t flags;	   /* enum api_op_flag */
	uint16_t rate_tps; /* control ops: per-account rate or API_TPS_NONE; data ops: 0 */
};

/* Maps an X-Amz-Target value ("Kinesis_20131202.CreateStream") to the
 * operation, or NULL when the target is not a Kinesis operation at all
 * (-> UnknownOperationException). */
const struct api_op_info *api_op_lookup(struct sl_slice target);

/* The whole table (sorted by name), for tests and listings. */
const struct api_op_info *api_op_table(uint32_t *count);

/* The descriptor of a served operation (not API_OP_UNKNOWN or
 * API_OP_OTHER_KNOWN, which name no single operation), or NULL. A scan of
 * the table: for the control thread and tests, not the io lcores' fast path
 * (the dispatcher already holds the descriptor it looked up). */
const struct api_op_info *api_op_info(enum api_op op);

/* An error as Kinesis returns it: HTTP status, __type and message. */
struct api_err {
	uint16_t http_status;
	const char *type;
	char message[4096]; /* empty: the body carries only __type */
};

void api_err_set(struct api_err *e, uint16_t status, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Encodes e as the JSON error body, NUL-terminated. Returns bytes written
 * (without the NUL) or -1 if cap is too small. SerializationException
 * carries "Message" (capital M) as Kinesis sends it; every other type
 * "message"; an empty message is left out. */
int api_err_encode(const struct api_err *e, char *buf, size_t cap);

/* --- validation toolkit ---------------------------------------------------
 *
 * Kinesis (Coral) answers a bad request in two passes, and so does this:
 *  1. type pass: each member is checked against its model type, in the
 *     operation's order; the first mismatch is a SerializationException
 *     (HTTP 400) with Coral's text, e.g. "class java.lang.String can not be
 *     converted to an Integer" or "Start of structure or map found where not
 *     expected." A body that is not one JSON object -> SerializationException
 *     without a message.
 *  2. constraint pass: every violated constraint is recorded (at most
 *     AV_MAX_ERRORS, as Coral stops there) and reported as one
 *     ValidationException: "N validation error(s) detected: Value 'v' at
 *     'member' failed to satisfy constraint: Member must ...; Value ...".
 * Order: the caller runs av_get_* for every member first (type pass), then
 * the constraint checks in the order Kinesis reports them, then av_finish().
 * Member paths are lowerCamelCase as Kinesis prints them ("streamName",
 * "streamModeDetails.streamMode"). Nothing allocates. */

#define AV_MAX_ERRORS 10
#define AV_MAX_TOKENS 4096 /* tokens per request document */
#define AV_MAX_DEPTH 16

/* Model types, named as Coral names them in its messages. */
enum av_type {
	AV_STRING = 1,
	AV_INTEGER = 2, /* int32: values are floored and clamped into int32 */
	AV_LONG = 3,	/* int64 */
	AV_BOOLEAN = 4,
	AV_TIMESTAMP = 5, /* epoch seconds as a JSON number */
	AV_BLOB = 6,
	AV_STRUCT = 7,
	AV_LIST = 8,
	AV_MAP = 9,
};

struct av {
	struct json_doc doc;
	struct json_tok toks[AV_MAX_TOKENS];
	bool bad_json;	      /* body is not one JSON object */
	bool ser;	      /* a SerializationException is latched */
	uint32_t n_errors;    /* constraint violations recorded */
	uint32_t msg_len;
	char ser_msg[512];
	char msg[4096];	      /* "Value ... ; Value ..." joined */
};

/* Parses body into v (v is large: keep it static or on the heap, not on an
 * lcore stack). Returns 0, or -EINVAL when the body is not a JSON object
 * (v->bad_json; av_finish then yields a bare SerializationException). An
 * empty body is treated as {} (the AWS SDKs never send one; kinesalite shows
 * Kinesis answers it with SerializationException: the dispatcher decides). */
int av_parse(struct av *v, const char *body, size_t len);

/* Root object token (0) or -1 when the body did not parse. */
static inline int32_t av_root(const struct av *v)
{
	return v->bad_json ? -1 : 0;
}

/* Type-checks member `name` of object token obj (obj < 0: absent parent).
 * Returns the value's token index, or -1 when absent or JSON null (Coral
 * drops nulls) or when the type does not match (then v->ser is latched with
 * Coral's message; only the first mismatch is kept). */
int32_t av_get(struct av *v, int32_t obj, const char *name, enum av_type t);

/* av_get for a token found another way (a map's values): true when token
 * tok has model type t, else latches Coral's message as av_get does. A JSON
 * null is not of any type here (the caller decides what null means). */
bool av_type_check(struct av *v, uint32_t tok, enum av_type t);

/* Typed getters: av_get plus the value. Return true when present and of the
 * right type. Strings are unescaped into out[0..cap) (cap >= 1)
 * NUL-terminated; a string longer than cap-1 bytes is cut at a code point
 * (never inside a UTF-8 sequence; *len_cp, when not NULL, still gets the full
 * length in code points, which is what constraints compare). A \u0000 in the
 * value reads as U+FFFD, so the C string is never silently shortened. */
bool av_get_str(struct av *v, int32_t obj, const char *name, char *out, size_t cap,
		uint32_t *len_cp);
/* Integer members: floored, and clamped into int32 (AV_INTEGER) or int64
 * (AV_LONG) as Coral's TruncatingBigNumber does. */
bool av_get_int(struct av *v, int32_t obj, const char *name, enum av_type t, int64_t *out);
bool av_get_bool(struct av *v, int32_t obj, const char *name, bool *out);
/* Timestamps: epoch seconds (fraction allowed) -> milliseconds. */
bool av_get_time_ms(struct av *v, int32_t obj, const char *name, int64_t *out_ms);
/* Enum members are strings; *idx gets the index in values[] or -1 when the
 * value is not one of them (check with av_enum afterwards). */
bool av_get_enum(struct av *v, int32_t obj, const char *name, const char *const *values,
		 uint32_t n_values, int32_t *idx, char *out, size_t cap);
/* Object / array members: returns the token index or -1. */
int32_t av_get_obj(struct av *v, int32_t obj, const char *name);
int32_t av_get_arr(struct av *v, int32_t obj, const char *name);

/* --- constraint checks (record a violation, never fail) ---
 * `path` is the member path as Kinesis prints it. `present` false means the
 * member was absent or null. String values are printed as given (after
 * unescaping), numbers as integers. */
void av_not_null(struct av *v, const char *path, bool present);
/* Pattern check: match() decides; `pattern` is the text Kinesis prints. */
void av_pattern(struct av *v, const char *path, const char *value, const char *pattern,
		bool (*match)(const char *s, size_t n));
/* Length in code points: "Member must have length greater than or equal to
 * min" then "... less than or equal to max" (Coral's order). */
void av_len(struct av *v, const char *path, const char *value, uint32_t len_cp, uint32_t min,
	    uint32_t max);
/* Value range: "Member must have value greater than or equal to min" / "less
 * than or equal to max". Pass INT64_MIN / INT64_MAX for an open end. */
void av_range(struct av *v, const char *path, int64_t value, int64_t min, int64_t max);
/* "Member must satisfy enum value set: [A, B]" when idx < 0. */
void av_enum(struct av *v, const char *path, const char *value, int32_t idx,
	     const char *const *values, uint32_t n_values);
/* A violation with a caller-made value and constraint text. value NULL prints
 * null (no quotes). */
void av_violation(struct av *v, const char *path, const char *value, const char *constraint);

/* Common string members in one call: pattern (when match != NULL), then min,
 * then max length, Coral's order. */
void av_str_member(struct av *v, const char *path, const char *value, uint32_t len_cp,
		   const char *pattern, bool (*match)(const char *s, size_t n), uint32_t min,
		   uint32_t max);

/* Result of both passes: 0 when the request is valid; else fills e
 * (SerializationException or ValidationException, HTTP 400) and returns -1. */
int av_finish(struct av *v, struct api_err *e);

/* Matchers for the patterns of the Kinesis model. */
#define AV_PAT_NAME "[a-zA-Z0-9_.-]+"
#define AV_PAT_STREAM_ARN "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+"
bool av_match_name(const char *s, size_t n);
bool av_match_stream_arn(const char *s, size_t n);

/* Splits a stream ARN (already matching AV_PAT_STREAM_ARN) into its region,
 * account and stream name. Returns 0 or -EINVAL when a part is missing or too
 * long for its buffer. */
int av_split_stream_arn(const char *arn, char *region, size_t region_cap, char *account,
			size_t account_cap, char *name, size_t name_cap);

/* Where the parts of a consumer ARN are: its stream's ARN is
 * [0, stream_end), the stream name [stream, stream_end), the consumer name
 * [consumer, consumer_end). */
struct av_carn {
	size_t stream, stream_end, consumer, consumer_end;
};
/* Matches s[0..n) against the model's ConsumerARN pattern
 * (arn:aws.*:kinesis:.*:\d{12}:.*stream/NAME/consumer/NAME:DIGITS, whole
 * string) and says where its parts are. One definition for the control
 * plane's lookup and the dispatcher's authorisation. */
bool av_split_consumer_arn(const char *s, size_t n, struct av_carn *p);

/* ---- shard ids (api_shard.c): the one parser and formatter ----
 * Kinesis names a shard "shardId-" and its index in 12 digits
 * (shardId-000000000007) and takes the index back in several spellings.
 * Recorded against Kinesis (kinesalite's test/getShardIterator.js):
 * "shardId-5", "shardId-000000000005", "5", "shard-0", "a-00002147483647",
 * "-00002147483647" and "<any name>-0" all name an index; "2147483648",
 * "shardId-002147483648", "ABKLFD8" and "2.14E4" name none ("Could not find
 * shard ..."). So: an optional prefix of the ShardId pattern's characters
 * other than '-' followed by one '-', then one or more decimal digits (any
 * number of leading zeros), at most API_SHARD_INDEX_MAX. Nothing else: no
 * sign, no spaces, no second '-', no empty index ("shardId-"). The
 * control plane (reshard operations, the routing table) and the dataplane
 * (GetShardIterator, SubscribeToShard) all go through these two. */
#define API_SHARD_INDEX_MAX 2147483647u /* 2^31-1, as Kinesis */
/* "shardId-" + 12 digits + NUL; indexes up to 2^31-1 have 10 digits. */
#define API_SHARD_ID_CAP 21

/* Parses s[0..n) (not NUL-terminated: n bounds the text) into *index.
 * Returns 0, or -EINVAL when it names no index (see above); *index is
 * untouched on error. Reads at most n bytes. */
int api_shard_id_parse(const char *s, size_t n, uint32_t *index);

/* Writes "shardId-%012u" for index, NUL-terminated. Cannot fail. */
void api_shard_id_fmt(uint32_t index, char out[API_SHARD_ID_CAP]);

#endif
