/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for common/json.c. Parses each input with a small and a
 * large token array, checks the token tree invariants, and runs every
 * accessor on every token. Any violation aborts. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"

#define SMALL_TOKS 8u
#define BIG_TOKS 4096u

static struct json_tok small_toks[SMALL_TOKS];
static struct json_tok big_toks[BIG_TOKS];

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			abort();                                              \
	} while (0)

/* Children of container i tile [i+1, next) exactly, one level deeper. */
static void check_tree(const struct json_doc *doc)
{
	const struct json_tok *t = doc->toks;

	CHECK(doc->ntoks >= 1 && t[0].depth == 0 && t[0].next == doc->ntoks);
	for (uint32_t i = 0; i < doc->ntoks; i++) {
		uint32_t k = i + 1, n;

		CHECK(t[i].next > i && t[i].next <= doc->ntoks);
		CHECK(t[i].type >= JSON_NULL && t[i].type <= JSON_OBJECT);
		CHECK((uint64_t)t[i].start + t[i].len <= doc->len);
		if (t[i].type != JSON_ARRAY && t[i].type != JSON_OBJECT) {
			CHECK(t[i].next == i + 1 && t[i].count == 0);
			continue;
		}
		n = t[i].type == JSON_OBJECT ? 2 * t[i].count : t[i].count;
		for (uint32_t c = 0; c < n; c++) {
			CHECK(k < t[i].next && t[k].depth == t[i].depth + 1);
			if (t[i].type == JSON_OBJECT && c % 2 == 0)
				CHECK(t[k].type == JSON_STRING);
			k = t[k].next;
		}
		CHECK(k == t[i].next);
	}
}

/* json_str_unescape_prefix at every cap up to the whole: a NUL-terminated
 * prefix of the whole decoded string, ending on a code point, at most 3
 * bytes short of what fits. */
static void check_prefix(const struct json_doc *doc, uint32_t i, size_t whole_len)
{
	char *all = malloc(whole_len + 1), *pre = malloc(whole_len + 2);
	bool whole;

	CHECK(all && pre);
	CHECK(json_str_unescape(doc, i, all, whole_len + 1) == (int64_t)whole_len);
	for (size_t cap = 1; cap <= whole_len + 1 && cap <= 64; cap++) {
		size_t n = json_str_unescape_prefix(doc, i, pre, cap, &whole);
		CHECK(n < cap && pre[n] == '\0' && memcmp(pre, all, n) == 0);
		CHECK(whole == (cap == whole_len + 1) && (whole ? n == whole_len : n + 3 >= cap - 1));
		CHECK(n == whole_len || ((uint8_t)all[n] & 0xC0) != 0x80);
	}
	free(all);
	free(pre);
}

static void check_string(const struct json_doc *doc, uint32_t i, char *out, size_t cap)
{
	const struct json_tok *t = &doc->toks[i];
	int64_t n = json_str_unescape(doc, i, out, cap);
	uint32_t cps = json_str_codepoints(doc, i);

	/* Decoding never grows a string. */
	CHECK(n >= 0 && (uint64_t)n <= t->len);
	CHECK(cps <= (uint64_t)n);
	CHECK(!(t->flags & JSON_TOK_ESCAPED) == !memchr(doc->buf + t->start, '\\', t->len));
	if (t->len > 0)
		CHECK(json_str_unescape(doc, i, out, (size_t)n - (n > 0)) == (n > 0 ? -1 : 0));
	check_prefix(doc, i, (size_t)n);
}

/* Every key of every object is found again by json_obj_get, at its own value
 * or a later duplicate. */
static void check_object(const struct json_doc *doc, uint32_t obj, char *out, size_t cap)
{
	uint32_t k = obj + 1;

	for (uint32_t m = 0; m < doc->toks[obj].count; m++) {
		int64_t n = json_str_unescape(doc, k, out, cap);

		CHECK(n >= 0 && (size_t)n < cap);
		if (!memchr(out, '\0', (size_t)n)) {
			int32_t v = json_obj_get(doc, obj, out);

			CHECK(v >= (int32_t)(k + 1) && v < (int32_t)doc->toks[obj].next);
			CHECK(doc->toks[v - 1].type == JSON_STRING);
		}
		k = doc->toks[k + 1].next;
	}
	json_obj_get(doc, obj, "StreamName");
}

static void check_number(const struct json_doc *doc, uint32_t i)
{
	const struct json_tok *t = &doc->toks[i];
	const char *s = doc->buf + t->start;
	int64_t v = 0;
	int rc = json_num_i64(doc, i, &v);
	char tmp[32];
	uint32_t plain = 0;

	CHECK(rc == 0 || rc == -EINVAL || rc == -ERANGE);
	/* Plain short integers must agree with strtoll. */
	while (plain < t->len && (s[plain] == '-' || (s[plain] >= '0' && s[plain] <= '9')))
		plain++;
	if (t->len < 18 && plain == t->len) {
		memcpy(tmp, s, t->len);
		tmp[t->len] = '\0';
		CHECK(rc == 0 && v == strtoll(tmp, NULL, 10));
	}
}

static void walk(const struct json_doc *doc, char *out, size_t cap)
{
	check_tree(doc);
	for (uint32_t i = 0; i < doc->ntoks; i++) {
		switch (doc->toks[i].type) {
		case JSON_STRING:
			check_string(doc, i, out, cap);
			break;
		case JSON_NUMBER:
			check_number(doc, i);
			break;
		case JSON_OBJECT:
			check_object(doc, i, out, cap);
			break;
		default:
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct json_doc doc;
	char *out = malloc(size + 1);
	int nb, ns;

	CHECK(out);
	nb = json_parse(&doc, buf, size, big_toks, BIG_TOKS, 64, NULL);
	CHECK(nb != 0 && nb >= -JSON_E_TOOBIG);
	if (nb > 0) {
		CHECK((uint32_t)nb == doc.ntoks && doc.toks == big_toks);
		walk(&doc, out, size + 1);
	}
	ns = json_parse(&doc, buf, size, small_toks, SMALL_TOKS, 3, NULL);
	if (ns > 0) {
		/* What fits in the small array parses the same in the big one. */
		CHECK(ns == nb);
		walk(&doc, out, size + 1);
	} else if (nb > 0) {
		CHECK(ns == -JSON_E_TOKENS || ns == -JSON_E_DEPTH);
	}
	free(out);
	return 0;
}
