/* SPDX-License-Identifier: Apache-2.0 */
#include "crypto/policy.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"

#define POLICY_MAX_STATEMENTS 64
#define POLICY_MAX_PATTERNS 64 /* actions or resources per statement */
#define POLICY_PATTERN_MAX 512
#define POLICY_FILE_MAX (64u << 10)
#define POLICY_MAX_PROFILES 64

struct stmt {
	bool deny;
	uint32_t n_actions, n_resources;
	char actions[POLICY_MAX_PATTERNS][POLICY_PATTERN_MAX];
	char resources[POLICY_MAX_PATTERNS][POLICY_PATTERN_MAX];
};

struct policy {
	uint32_t n;
	struct stmt *s;
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

static bool any(const char (*pats)[POLICY_PATTERN_MAX], uint32_t n, const char *s, bool nocase)
{
	for (uint32_t i = 0; i < n; i++)
		if (policy_glob(pats[i], s, nocase))
			return true;
	return false;
}

enum policy_verdict policy_eval(const struct policy *p, const char *action, const char *resource)
{
	bool allowed = false;
	for (uint32_t i = 0; i < p->n; i++) {
		const struct stmt *st = &p->s[i];
		if (!any(st->actions, st->n_actions, action, true) ||
		    !any(st->resources, st->n_resources, resource, false))
			continue;
		if (st->deny)
			return POLICY_EXPLICIT_DENY;
		allowed = true;
	}
	return allowed ? POLICY_ALLOW : POLICY_IMPLICIT_DENY;
}

/* "x" or ["x", "y"] into pats. */
static int patterns(const struct json_doc *d, int32_t v, char (*pats)[POLICY_PATTERN_MAX],
		    uint32_t *n)
{
	uint32_t first = (uint32_t)v, count = 1;
	if (d->toks[v].type == JSON_ARRAY) {
		first = (uint32_t)v + 1;
		count = d->toks[v].count;
	}
	if (count == 0 || count > POLICY_MAX_PATTERNS)
		return -EINVAL;
	for (uint32_t i = 0, t = first; i < count; i++, t = d->toks[t].next) {
		if (d->toks[t].type != JSON_STRING)
			return -EINVAL;
		/* Whole or refused: a pattern cut to the buffer, or cut short
		 * by a \u0000, would match other resources than written. */
		int64_t k = json_str_unescape(d, t, pats[i], POLICY_PATTERN_MAX);
		if (k < 0 || k >= POLICY_PATTERN_MAX || memchr(pats[i], 0, (size_t)k))
			return -EINVAL;
	}
	*n = count;
	return 0;
}

struct policy *policy_parse(const char *json, size_t len, char *why, size_t why_cap)
{
	static const size_t max_toks = 8192;
	struct json_tok *toks = calloc(max_toks, sizeof(*toks));
	struct policy *p = calloc(1, sizeof(*p));
	struct json_doc d;
	const char *err = NULL;
	if (!toks || !p) {
		err = "out of memory";
		goto fail;
	}
	if (json_parse(&d, json, len, toks, max_toks, 16, NULL) < 0 ||
	    toks[0].type != JSON_OBJECT) {
		err = "not a JSON object";
		goto fail;
	}
	int32_t sv = json_obj_get(&d, 0, "Statement");
	if (sv < 0 || (toks[sv].type != JSON_ARRAY && toks[sv].type != JSON_OBJECT)) {
		err = "no Statement";
		goto fail;
	}
	uint32_t n = toks[sv].type == JSON_ARRAY ? toks[sv].count : 1;
	if (n > POLICY_MAX_STATEMENTS) {
		err = "too many statements";
		goto fail;
	}
	p->s = calloc(n ? n : 1, sizeof(*p->s));
	if (!p->s) {
		err = "out of memory";
		goto fail;
	}
	uint32_t t = toks[sv].type == JSON_ARRAY ? (uint32_t)sv + 1 : (uint32_t)sv;
	for (uint32_t i = 0; i < n; i++, t = toks[t].next) {
		struct stmt *st = &p->s[i];
		int32_t e = json_obj_get(&d, t, "Effect");
		int32_t a = json_obj_get(&d, t, "Action");
		int32_t r = json_obj_get(&d, t, "Resource");
		if (toks[t].type != JSON_OBJECT || e < 0 || a < 0 || r < 0) {
			err = "a statement needs Effect, Action and Resource";
			goto fail;
		}
		struct sl_slice ev = json_tok_slice(&d, (uint32_t)e);
		if (sl_slice_eq(ev, "Deny"))
			st->deny = true;
		else if (!sl_slice_eq(ev, "Allow")) {
			err = "Effect must be Allow or Deny";
			goto fail;
		}
		if (patterns(&d, a, st->actions, &st->n_actions) < 0 ||
		    patterns(&d, r, st->resources, &st->n_resources) < 0) {
			err = "Action and Resource are strings or arrays of strings (each "
			      "at most 511 bytes, without U+0000)";
			goto fail;
		}
	}
	p->n = n;
	free(toks);
	return p;
fail:
	if (why && why_cap)
		snprintf(why, why_cap, "%s", err);
	free(toks);
	policy_free(p);
	errno = EINVAL;
	return NULL;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	free(p->s);
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
