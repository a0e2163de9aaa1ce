/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for crypto/policy.c: the PutResourcePolicy document is
 * client text (and identity policies come from files). Each input is parsed
 * as a resource policy and as an identity policy; what parses is evaluated
 * for a few callers, actions and resources, and the verdicts must be
 * consistent: policy_decide agrees with the two evaluations it combines. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/policy.h"

#define CHECK(c)                      \
	do {                          \
		if (!(c))             \
			abort();      \
	} while (0)

static const char *const actions[] = { "kinesis:PutRecord", "kinesis:GetRecords", "a", "" };
static const char *const resources[] = {
	"arn:aws:kinesis:us-east-1:000000000000:stream/s",
	"arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:1", "*", "r",
};
static const struct policy_caller callers[] = {
	{ "arn:aws:iam::000000000000:user/AKIA", "000000000000" },
	{ "*", "*" },
	{ "", "" },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	struct policy *r = policy_parse_resource((const char *)data, size, why, sizeof(why));
	struct policy *i = policy_parse((const char *)data, size, why, sizeof(why));

	for (size_t a = 0; a < sizeof(actions) / sizeof(actions[0]); a++)
		for (size_t s = 0; s < sizeof(resources) / sizeof(resources[0]); s++)
			for (size_t c = 0; c < sizeof(callers) / sizeof(callers[0]); c++) {
				enum policy_verdict vr =
					r ? policy_eval_resource(r, &callers[c], actions[a],
								 resources[s])
					  : POLICY_IMPLICIT_DENY;
				enum policy_verdict vi =
					i ? policy_eval(i, actions[a], resources[s]) : POLICY_ALLOW;
				struct policy_decision d = policy_decide(
					i, r, &callers[c], actions[a], resources[s]);
				bool deny = vr == POLICY_EXPLICIT_DENY ||
					    vi == POLICY_EXPLICIT_DENY;
				CHECK((d.verdict == POLICY_EXPLICIT_DENY) == deny);
				if (!deny)
					CHECK((d.verdict == POLICY_ALLOW) ==
					      (vi == POLICY_ALLOW || vr == POLICY_ALLOW));
				CHECK(!(vr == POLICY_EXPLICIT_DENY) || policy_has_deny(r));
			}
	policy_free(r);
	policy_free(i);
	return 0;
}
