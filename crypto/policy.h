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
 * Loaded once at start-up; read-only afterwards, shared by all lcores.
 *
 * Resource policies (PutResourcePolicy on a stream or consumer ARN) are the
 * same language plus Principal: "*" or {"AWS": ARN | account id | [...]}.
 * sluice names a credential arn:aws:iam::ACCOUNT:user/ACCESS_KEY_ID (the
 * ARN in AccessDeniedException messages); the account is --account-id.
 * Statement members other than Sid, Effect, Action, Resource (and Principal
 * in a resource policy) are refused with a reason, Condition above all:
 * ignoring a condition would grant more than the policy says.
 *
 * A request is decided on both (policy_decide), as IAM decides a request
 * within one account: an explicit Deny in either wins; otherwise an Allow
 * in either suffices (a resource policy's Allow must name the caller itself
 * or "*": naming the account only delegates to the identity policy). */
#ifndef SL_CRYPTO_POLICY_H
#define SL_CRYPTO_POLICY_H

#include <stdbool.h>
#include <stddef.h>

struct policy_set;
struct policy;

#define POLICY_MAX_STATEMENTS 64 /* statements per policy */

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

/* Who is asking, for a resource policy's Principal. */
struct policy_caller {
	const char *user_arn; /* arn:aws:iam::ACCOUNT:user/ACCESS_KEY_ID */
	const char *account;  /* ACCOUNT (12 digits) */
};

/* A resource policy's verdict for who: EXPLICIT_DENY when a Deny statement
 * names who (itself, "*" or its account) and matches; ALLOW when an Allow
 * statement names who itself or "*" and matches; else IMPLICIT_DENY. */
enum policy_verdict policy_eval_resource(const struct policy *p, const struct policy_caller *who,
					 const char *action, const char *resource);

/* Which policy decided (for the AccessDeniedException message and audit). */
enum policy_by {
	POLICY_BY_NONE = 0,	/* full-access key, no resource policy said no */
	POLICY_BY_IDENTITY = 1, /* the key's sluice_policy */
	POLICY_BY_RESOURCE = 2, /* the stream's or consumer's resource policy */
};

struct policy_decision {
	enum policy_verdict verdict;
	enum policy_by by;
};

/* Both policies together. identity NULL: a full-access key (an implicit
 * Allow); resource NULL: the resource has no policy. */
struct policy_decision policy_decide(const struct policy *identity, const struct policy *resource,
				     const struct policy_caller *who, const char *action,
				     const char *arn);

/* True when p has a Deny statement (NULL: false). */
bool policy_has_deny(const struct policy *p);

/* Parses one identity policy document (exposed for tests). NULL + errno
 * EINVAL, *why saying what is wrong. */
struct policy *policy_parse(const char *json, size_t len, char *why, size_t why_cap);
/* Parses one resource policy document (Principal required in every
 * statement). NULL + errno EINVAL, *why saying what is wrong. At most
 * POLICY_MAX_STATEMENTS statements; the caller bounds the size. */
struct policy *policy_parse_resource(const char *json, size_t len, char *why, size_t why_cap);
void policy_free(struct policy *p);

/* Glob match with '*' and '?' (exposed for tests). */
bool policy_glob(const char *pat, const char *s, bool nocase);

#endif
