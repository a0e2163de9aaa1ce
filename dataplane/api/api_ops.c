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

/* The descriptor of each operation, from the one list in api.h (sorted by
 * name; the unit test checks the order). The IAM action is "kinesis:" and
 * the name by construction. */
#define API_OP_INFO_(n, o, p, f, t)                                                        \
	{ .name = #n, .iam_action = "kinesis:" #n, .op = API_OP_##o, .plane = API_PLANE_##p, \
	  .flags = (f), .rate_tps = (t) },
static const struct api_op_info api_ops[] = { API_OPS(API_OP_INFO_) };
#undef API_OP_INFO_

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

const struct api_op_info *api_op_info(enum api_op op)
{
	if (op == API_OP_UNKNOWN || op == API_OP_OTHER_KNOWN || op >= API_OP__COUNT)
		return NULL;
	for (size_t i = 0; i < SL_ARRAY_SIZE(api_ops); i++)
		if (api_ops[i].op == op)
			return &api_ops[i];
	return NULL;
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
