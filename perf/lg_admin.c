/* SPDX-License-Identifier: Apache-2.0 */
#include "perf/lg_admin.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LG_SCRAPE_MAX (64u << 20)
#define LG_SCRAPE_TIMEOUT_MS 10000

/* The whole answer of one GET (the server closes after it). */
static char *http_get(const char *addr, const char *token, size_t *len)
{
	char host[256], path_req[1024];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return NULL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return NULL;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	freeaddrinfo(ai);
	int n = snprintf(path_req, sizeof(path_req),
			 "GET /metrics HTTP/1.1\r\nHost: %s\r\n%s%s%sConnection: close\r\n\r\n",
			 addr, token ? "Authorization: Bearer " : "", token ? token : "",
			 token ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(path_req) || write(fd, path_req, (size_t)n) != n) {
		close(fd);
		return NULL;
	}
	size_t cap = 1 << 16, used = 0;
	char *buf = malloc(cap + 1);
	/* Bounded: LG_SCRAPE_MAX bytes, each read within the timeout. */
	while (buf) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, LG_SCRAPE_TIMEOUT_MS) <= 0)
			break;
		if (used == cap) {
			char *g = cap < LG_SCRAPE_MAX ? realloc(buf, 2 * cap + 1) : NULL;
			if (!g)
				break;
			buf = g;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + used, cap - used);
		if (r <= 0)
			break;
		used += (size_t)r;
	}
	close(fd);
	if (buf) {
		buf[used] = 0;
		*len = used;
	}
	return buf;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int lg_scrape(const char *addr, const char *token, struct lg_scrape *out)
{
	memset(out, 0, sizeof(*out));
	size_t len = 0;
	out->text = http_get(addr, token, &len);
	if (!out->text || strncmp(out->text, "HTTP/1.1 200", 12) != 0) {
		fprintf(stderr, "loadgen: cannot scrape http://%s/metrics\n", addr);
		return -1;
	}
	char *body = strstr(out->text, "\r\n\r\n");
	size_t lines = 0;
	for (char *p = body; p && *p; p++)
		lines += *p == '\n';
	out->keys = calloc(lines + 1, sizeof(*out->keys));
	out->vals = calloc(lines + 1, sizeof(*out->vals));
	if (!body || !out->keys || !out->vals)
		return -1;
	char *save = NULL;
	for (char *l = strtok_r(body + 4, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *sp = strrchr(l, ' ');
		if (l[0] == '#' || !sp)
			continue;
		*sp = 0;
		out->keys[out->n] = l;
		out->vals[out->n] = strtod(sp + 1, NULL);
		out->n++;
	}
	/* Sorted by key (unique in an exposition) for lg_scrape_deltas'
	 * bsearch: keys and values sorted together through a side array. */
	char **k = out->keys;
	double *v = out->vals;
	struct kv {
		char *k;
		double v;
	} *kv = calloc(out->n + 1, sizeof(*kv));
	if (!kv)
		return -1;
	for (size_t i = 0; i < out->n; i++)
		kv[i] = (struct kv){ k[i], v[i] };
	qsort(kv, out->n, sizeof(*kv), cmp_key);
	for (size_t i = 0; i < out->n; i++) {
		k[i] = kv[i].k;
		v[i] = kv[i].v;
	}
	free(kv);
	return 0;
}

void lg_scrape_deltas(const struct lg_scrape *a, const struct lg_scrape *b, const char *stream)
{
	char want[200];
	snprintf(want, sizeof(want), "stream=\"%s\"", stream);
	printf("  server's view (sluiced /metrics, after - before):\n");
	for (size_t i = 0; i < b->n; i++) {
		const char *key = b->keys[i];
		if (strncmp(key, "sluice_", 7) != 0 || strstr(key, "_bucket{"))
			continue;
		if (strstr(key, "stream=\"") && !strstr(key, want))
			continue;
		char *const *f = bsearch(&key, a->keys, a->n, sizeof(*a->keys), cmp_key);
		double before = f ? a->vals[f - a->keys] : 0;
		double d = b->vals[i] - before;
		if (d != 0)
			printf("    %-90s %.15g\n", key, d);
	}
}

void lg_scrape_free(struct lg_scrape *s)
{
	free(s->text);
	free(s->keys);
	free(s->vals);
	memset(s, 0, sizeof(*s));
}
