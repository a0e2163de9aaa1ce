/* SPDX-License-Identifier: Apache-2.0 */
#include "crypto/policy.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/json.h"
#include "common/log.h"

#define POLICY_MAX_PATTERNS 64 /* actions, resources or principals per statement */
#define POLICY_PATTERN_MAX 512
#define POLICY_FILE_MAX (64u << 10)
#define POLICY_MAX_PROFILES 64

/* What a statement lists: actions, resources, principals. */
enum { PL_ACTION = 0, PL_RESOURCE = 1, PL_PRINCIPAL = 2, PL__COUNT = 3 };

/* Compact: a statement's patterns are offsets into the policy's one string
 * arena (a resource policy lives in the routing snapshot of every stream
 * that has one, so a fixed 2 x 64 x 512-byte block per statement would cost
 * megabytes per stream). */
struct stmt {
	bool deny;
	bool any_principal;	 /* Principal "*" or {"AWS": "*"} */
	uint16_t n[PL__COUNT];	 /* patterns of each list */
	uint32_t first[PL__COUNT]; /* index of the first in policy.off */
};

struct policy {
	uint32_t n;	    /* statements */
	bool resource;	    /* a resource policy (has Principal) */
	bool has_deny;	    /* some statement is a Deny */
	struct stmt *s;
	uint32_t *off;	    /* pattern i starts at arena + off[i], NUL-terminated */
	uint32_t n_off;
	char *arena;
};

struct policy_set {
	uint32_t n;
	char keys[POLICY_MAX_PROFILES][129];
	struct policy *pol[POLICY_MAX_PROFILES];
};

bool policy_glob(const char *pat, const char *s, bool nocase)
{
	/* Iterative matcher with one backtrack point: linear in practice. */
	const char *star = NULL, *retry = NULL;
	while (*s) {
		char pc = nocase ? (char)tolower((unsigned char)*pat) : *pat;
		char sc = nocase ? (char)tolower((unsigned char)*s) : *s;
		if (*pat == '*') {
			star = pat++;
			retry = s;
		} else if (*pat && (*pat == '?' || pc == sc)) {
			pat++;
			s++;
		} else if (star) {
			pat = star + 1;
			s = ++retry;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == 0;
}

static const char *pat_at(const struct policy *p, const struct stmt *st, int list, uint32_t i)
{
	return p->arena + p->off[st->first[list] + i];
}

static bool any(const struct policy *p, const struct stmt *st, int list, const char *s,
		bool nocase)
{
	for (uint32_t i = 0; i < st->n[list]; i++)
		if (policy_glob(pat_at(p, st, list, i), s, nocase))
			return true;
	return false;
}

enum policy_verdict policy_eval(const struct policy *p, const char *action, const char *resource)
{
	bool allowed = false;
	for (uint32_t i = 0; i < p->n; i++) {
		const struct stmt *st = &p->s[i];
		if (!any(p, st, PL_ACTION, action, true) ||
		    !any(p, st, PL_RESOURCE, resource, false))
			continue;
		if (st->deny)
			return POLICY_EXPLICIT_DENY;
		allowed = true;
	}
	return allowed ? POLICY_ALLOW : POLICY_IMPLICIT_DENY;
}

/* How a statement's Principal names the caller: not at all, as a member of
 * its account (the account id or arn:aws:iam::ACCOUNT:root), or itself
 * ("*" or its own user ARN). Principals match exactly, as IAM's do: no
 * wildcards other than "*" alone. */
enum pr_match { PR_NONE = 0, PR_ACCOUNT = 1, PR_SELF = 2 };

static enum pr_match principal_match(const struct policy *p, const struct stmt *st,
				     const struct policy_caller *who)
{
	char root[64];
	enum pr_match m = st->any_principal ? PR_SELF : PR_NONE;
	snprintf(root, sizeof(root), "arn:aws:iam::%s:root", who->account);
	for (uint32_t i = 0; i < st->n[PL_PRINCIPAL] && m != PR_SELF; i++) {
		const char *pr = pat_at(p, st, PL_PRINCIPAL, i);
		if (strcmp(pr, who->user_arn) == 0)
			m = PR_SELF;
		else if (strcmp(pr, who->account) == 0 || strcmp(pr, root) == 0)
			m = PR_ACCOUNT;
	}
	return m;
}

enum policy_verdict policy_eval_resource(const struct policy *p, const struct policy_caller *who,
					 const char *action, const char *resource)
{
	bool allowed = false;
	for (uint32_t i = 0; i < p->n; i++) {
		const struct stmt *st = &p->s[i];
		enum pr_match m = principal_match(p, st, who);
		if (m == PR_NONE || !any(p, st, PL_ACTION, action, true) ||
		    !any(p, st, PL_RESOURCE, resource, false))
			continue;
		/* A Deny naming the account binds everyone in it; an Allow
		 * naming only the account delegates to the identity policies
		 * (IAM's rule for a same-account resource policy) and grants
		 * nothing by itself. */
		if (st->deny)
			return POLICY_EXPLICIT_DENY;
		if (m == PR_SELF)
			allowed = true;
	}
	return allowed ? POLICY_ALLOW : POLICY_IMPLICIT_DENY;
}

struct policy_decision policy_decide(const struct policy *identity, const struct policy *resource,
				     const struct policy_caller *who, const char *action,
				     const char *arn)
{
	struct policy_decision d = { POLICY_ALLOW, POLICY_BY_NONE };
	enum policy_verdict vi = identity ? policy_eval(identity, action, arn) : POLICY_ALLOW;
	enum policy_verdict vr =
		resource ? policy_eval_resource(resource, who, action, arn) : POLICY_IMPLICIT_DENY;
	if (vi == POLICY_EXPLICIT_DENY) {
		d.verdict = POLICY_EXPLICIT_DENY;
		d.by = POLICY_BY_IDENTITY;
	} else if (vr == POLICY_EXPLICIT_DENY) {
		d.verdict = POLICY_EXPLICIT_DENY;
		d.by = POLICY_BY_RESOURCE;
	} else if (vi == POLICY_ALLOW) {
		d.by = identity ? POLICY_BY_IDENTITY : POLICY_BY_NONE;
	} else if (vr == POLICY_ALLOW) {
		d.by = POLICY_BY_RESOURCE;
	} else {
		d.verdict = POLICY_IMPLICIT_DENY;
		d.by = POLICY_BY_IDENTITY;
	}
	return d;
}

bool policy_has_deny(const struct policy *p)
{
	return p && p->has_deny;
}

/* Parser state: the token array, the arena being filled, the error. */
struct pp {
	struct json_doc d;
	struct policy *p;
	size_t arena_used, arena_cap;
	uint32_t off_cap;
	const char *err;
	char err_buf[160];
};

/* Appends string token t to the arena; -EINVAL when it is too long or holds
 * a U+0000. */
static int add_string(struct pp *x, uint32_t t)
{
	if (x->d.toks[t].type != JSON_STRING || x->p->n_off == x->off_cap)
		return -EINVAL;
	/* Whole or refused: a pattern cut to the buffer, or cut short by a
	 * \u0000, would match other resources than written. */
	size_t room = x->arena_cap - x->arena_used;
	char *out = x->p->arena + x->arena_used;
	int64_t k = json_str_unescape(&x->d, t, out, SL_MIN(room, (size_t)POLICY_PATTERN_MAX));
	if (k < 0 || k >= POLICY_PATTERN_MAX || (size_t)k >= room || memchr(out, 0, (size_t)k))
		return -EINVAL;
	out[k] = 0;
	x->p->off[x->p->n_off++] = (uint32_t)x->arena_used;
	x->arena_used += (size_t)k + 1;
	return 0;
}

/* "x" or ["x", "y"] into list `list` of st. */
static int patterns(struct pp *x, int32_t v, struct stmt *st, int list)
{
	const struct json_tok *toks = x->d.toks;
	uint32_t first = (uint32_t)v, count = 1;
	if (toks[v].type == JSON_ARRAY) {
		first = (uint32_t)v + 1;
		count = toks[v].count;
	}
	if (count == 0 || count > POLICY_MAX_PATTERNS)
		return -EINVAL;
	st->first[list] = x->p->n_off;
	for (uint32_t i = 0, t = first; i < count; i++, t = toks[t].next)
		if (add_string(x, t) < 0)
			return -EINVAL;
	st->n[list] = (uint16_t)count;
	return 0;
}

/* Principal: "*", or {"AWS": "..." | [...]}. Other principal types
 * (Service, Federated, CanonicalUser) name nothing sluice authenticates. */
static int principal(struct pp *x, int32_t v, struct stmt *st)
{
	const struct json_tok *toks = x->d.toks;
	if (toks[v].type == JSON_STRING) {
		if (!sl_slice_eq(json_tok_slice(&x->d, (uint32_t)v), "*"))
			return -EINVAL;
		st->any_principal = true;
		return 0;
	}
	if (toks[v].type != JSON_OBJECT || toks[v].count != 1)
		return -EINVAL;
	int32_t aws = json_obj_get(&x->d, (uint32_t)v, "AWS");
	if (aws < 0 || patterns(x, aws, st, PL_PRINCIPAL) < 0)
		return -EINVAL;
	for (uint32_t i = 0; i < st->n[PL_PRINCIPAL]; i++)
		if (strcmp(pat_at(x->p, st, PL_PRINCIPAL, i), "*") == 0)
			st->any_principal = true;
	return 0;
}

/* Members of a statement other than these are refused, not ignored: an
 * ignored Condition or NotResource would grant more than was written. */
static int statement_members(struct pp *x, uint32_t t, bool resource)
{
	const struct json_doc *d = &x->d;
	for (uint32_t k = t + 1, i = 0; i < d->toks[t].count; i++, k = d->toks[k + 1].next) {
		struct sl_slice key = json_tok_slice(d, k);
		if (sl_slice_eq(key, "Effect") || sl_slice_eq(key, "Action") ||
		    sl_slice_eq(key, "Resource") || sl_slice_eq(key, "Sid") ||
		    (resource && sl_slice_eq(key, "Principal")))
			continue;
		if (sl_slice_eq(key, "Condition")) {
			uint32_t c = k + 1;
			char op[64] = "", ck[128] = "";
			if (d->toks[c].type == JSON_OBJECT && d->toks[c].count > 0) {
				uint32_t inner = d->toks[c + 2].type == JSON_OBJECT &&
						 d->toks[c + 2].count > 0 ? c + 3 : 0;
				(void)json_str_unescape_prefix(d, c + 1, op, sizeof(op), NULL);
				if (inner)
					(void)json_str_unescape_prefix(d, inner, ck, sizeof(ck),
								       NULL);
			}
			snprintf(x->err_buf, sizeof(x->err_buf),
				 "Condition is not supported (operator '%s', key '%s'): sluice "
				 "evaluates no condition keys", op, ck);
			x->err = x->err_buf;
			return -EINVAL;
		}
		char name[48];
		(void)json_str_unescape_prefix(d, k, name, sizeof(name), NULL);
		snprintf(x->err_buf, sizeof(x->err_buf), "statement member '%s' is not supported",
			 name);
		x->err = x->err_buf;
		return -EINVAL;
	}
	return 0;
}

static int statement(struct pp *x, uint32_t t, struct stmt *st, bool resource)
{
	const struct json_doc *d = &x->d;
	if (d->toks[t].type != JSON_OBJECT) {
		x->err = "a statement must be an object";
		return -EINVAL;
	}
	if (statement_members(x, t, resource) < 0)
		return -EINVAL;
	int32_t e = json_obj_get(d, t, "Effect");
	int32_t a = json_obj_get(d, t, "Action");
	int32_t r = json_obj_get(d, t, "Resource");
	int32_t pr = resource ? json_obj_get(d, t, "Principal") : 0;
	if (e < 0 || a < 0 || r < 0 || pr < 0) {
		x->err = resource ? "a statement needs Effect, Principal, Action and Resource"
				  : "a statement needs Effect, Action and Resource";
		return -EINVAL;
	}
	struct sl_slice ev = json_tok_slice(d, (uint32_t)e);
	if (d->toks[e].type == JSON_STRING && sl_slice_eq(ev, "Deny"))
		st->deny = true;
	else if (d->toks[e].type != JSON_STRING || !sl_slice_eq(ev, "Allow")) {
		x->err = "Effect must be Allow or Deny";
		return -EINVAL;
	}
	if (patterns(x, a, st, PL_ACTION) < 0 || patterns(x, r, st, PL_RESOURCE) < 0) {
		x->err = "Action and Resource are strings or arrays of strings (each "
			 "at most 511 bytes, without U+0000)";
		return -EINVAL;
	}
	if (resource && principal(x, pr, st) < 0) {
		x->err = "Principal must be \"*\" or {\"AWS\": ARN or account id, or a list "
			 "of them} (each at most 511 bytes)";
		return -EINVAL;
	}
	return 0;
}

static struct policy *parse(const char *json, size_t len, bool resource, char *why,
			    size_t why_cap)
{
	static const size_t max_toks = 8192;
	struct json_tok *toks = calloc(max_toks, sizeof(*toks));
	struct pp x = { .p = calloc(1, sizeof(*x.p)) };
	if (!toks || !x.p || len > POLICY_FILE_MAX) {
		x.err = toks && x.p ? "policy too large" : "out of memory";
		goto fail;
	}
	if (json_parse(&x.d, json, len, toks, max_toks, 16, NULL) < 0 ||
	    toks[0].type != JSON_OBJECT) {
		x.err = "not a JSON object";
		goto fail;
	}
	int32_t sv = json_obj_get(&x.d, 0, "Statement");
	if (sv < 0 || (toks[sv].type != JSON_ARRAY && toks[sv].type != JSON_OBJECT)) {
		x.err = "no Statement";
		goto fail;
	}
	uint32_t n = toks[sv].type == JSON_ARRAY ? toks[sv].count : 1;
	if (n > POLICY_MAX_STATEMENTS) {
		x.err = "too many statements";
		goto fail;
	}
	/* Every pattern is a string token, decoded no longer than its text:
	 * the document's length bounds the arena, its tokens the offsets. */
	x.arena_cap = len + 1;
	x.off_cap = (uint32_t)x.d.ntoks;
	x.p->s = calloc(n ? n : 1, sizeof(*x.p->s));
	x.p->off = calloc(x.off_cap, sizeof(*x.p->off));
	x.p->arena = malloc(x.arena_cap);
	if (!x.p->s || !x.p->off || !x.p->arena) {
		x.err = "out of memory";
		goto fail;
	}
	uint32_t t = toks[sv].type == JSON_ARRAY ? (uint32_t)sv + 1 : (uint32_t)sv;
	for (uint32_t i = 0; i < n; i++, t = toks[t].next) {
		if (statement(&x, t, &x.p->s[i], resource) < 0)
			goto fail;
		x.p->has_deny |= x.p->s[i].deny;
	}
	x.p->n = n;
	x.p->resource = resource;
	free(toks);
	return x.p;
fail:
	if (why && why_cap)
		snprintf(why, why_cap, "%s", x.err);
	free(toks);
	policy_free(x.p);
	errno = EINVAL;
	return NULL;
}

struct policy *policy_parse(const char *json, size_t len, char *why, size_t why_cap)
{
	return parse(json, len, false, why, why_cap);
}

struct policy *policy_parse_resource(const char *json, size_t len, char *why, size_t why_cap)
{
	return parse(json, len, true, why, why_cap);
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	free(p->s);
	free(p->off);
	free(p->arena);
	free(p);
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static struct policy *load_file(const char *path, char *why, size_t why_cap)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(why, why_cap, "cannot open policy file %s", path);
		errno = ENOENT;
		return NULL;
	}
	char *buf = malloc(POLICY_FILE_MAX);
	size_t n = buf ? fread(buf, 1, POLICY_FILE_MAX, f) : 0;
	fclose(f);
	struct policy *p = buf ? policy_parse(buf, n, why, why_cap) : NULL;
	free(buf);
	return p;
}

/* Finishes one profile: pairs its key with its policy. */
static int flush_profile(struct policy_set *ps, const char *dir, const char *key,
			 const char *file, char *why, size_t why_cap)
{
	if (!key[0] || !file[0])
		return 0;
	if (ps->n == POLICY_MAX_PROFILES) {
		snprintf(why, why_cap, "too many profiles with policies");
		return -EINVAL;
	}
	char path[4096];
	if (file[0] == '/')
		snprintf(path, sizeof(path), "%s", file);
	else
		snprintf(path, sizeof(path), "%s/%s", dir, file);
	struct policy *p = load_file(path, why, why_cap);
	if (!p)
		return -errno;
	snprintf(ps->keys[ps->n], sizeof(ps->keys[0]), "%s", key);
	ps->pol[ps->n++] = p;
	return 0;
}

struct policy_set *policy_set_load(const char *cred_path, char *why, size_t why_cap)
{
	struct policy_set *ps = calloc(1, sizeof(*ps));
	FILE *f = fopen(cred_path, "r");
	if (!ps || !f) {
		if (f)
			fclose(f);
		free(ps);
		snprintf(why, why_cap, "cannot read %s", cred_path);
		errno = ENOENT;
		return NULL;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", cred_path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof(dir), ".");
	char line[4096], key[129] = "", file[1024] = "";
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *l = trim(line);
		if (*l == '[') {
			rc = flush_profile(ps, dir, key, file, why, why_cap);
			key[0] = file[0] = 0;
			continue;
		}
		char *eq = strchr(l, '=');
		if (!eq || *l == '#' || *l == ';')
			continue;
		*eq = 0;
		char *k = trim(l), *v = trim(eq + 1);
		if (strcmp(k, "aws_access_key_id") == 0)
			snprintf(key, sizeof(key), "%s", v);
		else if (strcmp(k, "sluice_policy") == 0)
			snprintf(file, sizeof(file), "%s", v);
	}
	fclose(f);
	if (rc == 0)
		rc = flush_profile(ps, dir, key, file, why, why_cap);
	if (rc) {
		policy_set_free(ps);
		errno = -rc;
		return NULL;
	}
	return ps;
}

void policy_set_free(struct policy_set *ps)
{
	if (!ps)
		return;
	for (uint32_t i = 0; i < ps->n; i++)
		policy_free(ps->pol[i]);
	free(ps);
}

const struct policy *policy_for(const struct policy_set *ps, const char *access_key)
{
	for (uint32_t i = 0; ps && i < ps->n; i++)
		if (strcmp(ps->keys[i], access_key) == 0)
			return ps->pol[i];
	return NULL;
}
