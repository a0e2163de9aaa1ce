/* SPDX-License-Identifier: Apache-2.0 */
/* Access policies: which principal (access key) may call which Kinesis
 * action on which stream.
 *
 * A profile in the credentials file may name a policy with
 *     sluice_policy = readonly.json
 * (a path, relative to the credentials file's directory unless absolute).
 * The policy is an IAM-style JSON subset:
 *     {"Version": "2012-10-17",
 *      "Statement": [{"Effect": "Allow" | "Deny",
 *                     "Action": "kinesis:Get*" | ["kinesis:PutRecord", ...],
 *                     "Resource": "arn:aws:kinesis:*:*:stream/orders-*" | [...]}]}
 * Evaluation as IAM: an explicit Deny wins; otherwise some Allow must match;
 * otherwise the call is denied. Actions match case-insensitively, resources
 * case-sensitively; '*' and '?' are wildcards. A profile without
 * sluice_policy has full access (the generated [default] profile is the
 * appliance's administrator).
 *
 * Loaded once at start-up; read-only afterwards, shared by all lcores. */
#ifndef SL_CRYPTO_POLICY_H
#define SL_CRYPTO_POLICY_H

#include <stdbool.h>
#include <stddef.h>

struct policy_set;
struct policy;

/* Reads the sluice_policy entries of a shared-credentials file. Returns NULL
 * and sets errno: ENOENT (file or policy file missing), EINVAL (a policy that
 * does not parse; *why names the problem). A file without policies gives an
 * empty set. */
struct policy_set *policy_set_load(const char *credentials_path, char *why, size_t why_cap);
void policy_set_free(struct policy_set *ps);

/* The policy of an access key, or NULL for full access. */
const struct policy *policy_for(const struct policy_set *ps, const char *access_key);

enum policy_verdict {
	POLICY_ALLOW = 0,
	POLICY_IMPLICIT_DENY = 1, /* no statement allows it */
	POLICY_EXPLICIT_DENY = 2, /* a Deny statement matches */
};

/* action: "kinesis:PutRecord"; resource: a stream ARN or "*". */
enum policy_verdict policy_eval(const struct policy *p, const char *action, const char *resource);

/* Parses one policy document (exposed for tests). NULL + errno EINVAL. */
struct policy *policy_parse(const char *json, size_t len, char *why, size_t why_cap);
void policy_free(struct policy *p);

/* Glob match with '*' and '?' (exposed for tests). */
bool policy_glob(const char *pat, const char *s, bool nocase);

#endif
