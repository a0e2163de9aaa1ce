/* SPDX-License-Identifier: Apache-2.0 */
/* The Kinesis_20131202 operation table and error encoding. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/bug.h"
#include "common/utf8.h"
#include "dataplane/api/api.h"

#define API_TARGET_PREFIX "Kinesis_20131202."

/* Every operation of the current Kinesis model (botocore service-2.json,
 * 39 operations), sorted by name. Operations sluice does not serve yet are
 * API_OP_OTHER_KNOWN so the dispatcher can tell "not yet" from "no such
 * operation" (UnknownOperationException). */
static const struct api_op_info api_ops[] = {
	{ "AddTagsToStream", API_OP_ADD_TAGS_TO_STREAM, API_KIND_CONTROL },
	{ "CreateStream", API_OP_CREATE_STREAM, API_KIND_CONTROL },
	{ "DecreaseStreamRetentionPeriod", API_OP_DECREASE_RETENTION, API_KIND_CONTROL },
	{ "DeleteResourcePolicy", API_OP_OTHER_KNOWN, API_KIND_CONTROL },
	{ "DeleteStream", API_OP_DELETE_STREAM, API_KIND_CONTROL },
	{ "DeregisterStreamConsumer", API_OP_DEREGISTER_CONSUMER, API_KIND_CONTROL },
	{ "DescribeAccountSettings", API_OP_DESCRIBE_ACCOUNT_SETTINGS, API_KIND_CONTROL },
	{ "DescribeLimits", API_OP_DESCRIBE_LIMITS, API_KIND_CONTROL },
	{ "DescribeStream", API_OP_DESCRIBE_STREAM, API_KIND_CONTROL },
	{ "DescribeStreamConsumer", API_OP_DESCRIBE_CONSUMER, API_KIND_CONTROL },
	{ "DescribeStreamSummary", API_OP_DESCRIBE_STREAM_SUMMARY, API_KIND_CONTROL },
	{ "DisableEnhancedMonitoring", API_OP_DISABLE_MONITORING, API_KIND_CONTROL },
	{ "EnableEnhancedMonitoring", API_OP_ENABLE_MONITORING, API_KIND_CONTROL },
	{ "GetRecords", API_OP_GET_RECORDS, API_KIND_DATA },
	{ "GetResourcePolicy", API_OP_OTHER_KNOWN, API_KIND_CONTROL },
	{ "GetShardIterator", API_OP_GET_SHARD_ITERATOR, API_KIND_DATA },
	{ "IncreaseStreamRetentionPeriod", API_OP_INCREASE_RETENTION, API_KIND_CONTROL },
	{ "ListShards", API_OP_LIST_SHARDS, API_KIND_CONTROL },
	{ "ListStreamConsumers", API_OP_LIST_CONSUMERS, API_KIND_CONTROL },
	{ "ListStreams", API_OP_LIST_STREAMS, API_KIND_CONTROL },
	{ "ListTagsForResource", API_OP_LIST_TAGS_FOR_RESOURCE, API_KIND_CONTROL },
	{ "ListTagsForStream", API_OP_LIST_TAGS_FOR_STREAM, API_KIND_CONTROL },
	{ "MergeShards", API_OP_MERGE_SHARDS, API_KIND_CONTROL },
	{ "PutRecord", API_OP_PUT_RECORD, API_KIND_DATA },
	{ "PutRecords", API_OP_PUT_RECORDS, API_KIND_DATA },
	{ "PutResourcePolicy", API_OP_OTHER_KNOWN, API_KIND_CONTROL },
	{ "RegisterStreamConsumer", API_OP_REGISTER_CONSUMER, API_KIND_CONTROL },
	{ "RemoveTagsFromStream", API_OP_REMOVE_TAGS_FROM_STREAM, API_KIND_CONTROL },
	{ "SplitShard", API_OP_SPLIT_SHARD, API_KIND_CONTROL },
	{ "StartStreamEncryption", API_OP_START_ENCRYPTION, API_KIND_CONTROL },
	{ "StopStreamEncryption", API_OP_STOP_ENCRYPTION, API_KIND_CONTROL },
	{ "SubscribeToShard", API_OP_OTHER_KNOWN, API_KIND_DATA },
	{ "TagResource", API_OP_TAG_RESOURCE, API_KIND_CONTROL },
	{ "UntagResource", API_OP_UNTAG_RESOURCE, API_KIND_CONTROL },
	{ "UpdateAccountSettings", API_OP_UPDATE_ACCOUNT_SETTINGS, API_KIND_CONTROL },
	{ "UpdateMaxRecordSize", API_OP_UPDATE_MAX_RECORD_SIZE, API_KIND_CONTROL },
	{ "UpdateShardCount", API_OP_UPDATE_SHARD_COUNT, API_KIND_CONTROL },
	{ "UpdateStreamMode", API_OP_UPDATE_STREAM_MODE, API_KIND_CONTROL },
	{ "UpdateStreamWarmThroughput", API_OP_UPDATE_WARM_THROUGHPUT, API_KIND_CONTROL },
};

const struct api_op_info *api_op_lookup(struct sl_slice target)
{
	const size_t plen = sizeof(API_TARGET_PREFIX) - 1;

	if (target.ptr == NULL || target.len <= plen || target.len > plen + 64)
		return NULL;
	if (memcmp(target.ptr, API_TARGET_PREFIX, plen) != 0)
		return NULL;
	struct sl_slice name = { target.ptr + plen, (uint32_t)(target.len - plen) };
	/* Binary search: the table is sorted (checked by the unit test). */
	size_t lo = 0, hi = SL_ARRAY_SIZE(api_ops);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		size_t n = strlen(api_ops[mid].name);
		int c = memcmp(name.ptr, api_ops[mid].name, SL_MIN(n, (size_t)name.len));
		if (c == 0)
			c = (name.len > n) - (name.len < n);
		if (c == 0)
			return &api_ops[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct api_op_info *api_op_table(uint32_t *count)
{
	*count = (uint32_t)SL_ARRAY_SIZE(api_ops);
	return api_ops;
}

void api_err_set(struct api_err *e, uint16_t status, const char *type, const char *fmt, ...)
{
	va_list ap;

	e->http_status = status;
	e->type = type;
	/* Messages quote client values: a cut one ends on a code point. */
	va_start(ap, fmt);
	utf8_vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

int api_err_encode(const struct api_err *e, char *buf, size_t cap)
{
	struct jw w;

	jw_init(&w, buf, cap);
	jw_obj_begin(&w);
	jw_key(&w, "__type");
	jw_str(&w, e->type);
	if (e->message[0] != '\0') {
		/* Coral's SerializationException spells the member "Message". */
		jw_key(&w, strcmp(e->type, "SerializationException") == 0 ? "Message"
									  : "message");
		jw_str(&w, e->message);
	}
	jw_obj_end(&w);
	if (w.overflow || w.len >= cap)
		return -1;
	buf[w.len] = '\0';
	return (int)w.len;
}
