/* SPDX-License-Identifier: Apache-2.0 */
#include "common/prom.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"

void prom_init(struct prom_buf *b, size_t max_bytes, bool openmetrics)
{
	memset(b, 0, sizeof(*b));
	b->max_bytes = max_bytes;
	b->openmetrics = openmetrics;
}

void prom_free(struct prom_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Room for n more bytes (and a NUL); false (overflow set) past max_bytes. */
static bool reserve(struct prom_buf *b, size_t n)
{
	if (b->overflow)
		return false;
	if (b->len + n + 1 <= b->cap)
		return true;
	if (b->len + n + 1 > b->max_bytes) {
		b->overflow = true;
		return false;
	}
	size_t ncap = b->cap ? b->cap : 16384;
	while (ncap < b->len + n + 1)
		ncap *= 2;
	if (ncap > b->max_bytes)
		ncap = b->max_bytes;
	char *p = realloc(b->p, ncap);
	if (!p) {
		b->overflow = true;
		return false;
	}
	b->p = p;
	b->cap = ncap;
	return true;
}

static void put(struct prom_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void puts_(struct prom_buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3))) putf(struct prom_buf *b, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	BUG_ON(n < 0 || (size_t)n >= sizeof(tmp)); /* numbers only */
	put(b, tmp, (size_t)n);
}

void prom_escape(struct prom_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\\')
			put(b, "\\\\", 2);
		else if (c == '"')
			put(b, "\\\"", 2);
		else if (c == '\n')
			put(b, "\\n", 2);
		else
			put(b, &c, 1);
	}
}

bool prom_wants_openmetrics(const char *accept)
{
	return accept && strstr(accept, "application/openmetrics-text") != NULL;
}

/* HELP text: 0.0.4 escapes backslash and newline; OpenMetrics also the
 * double quote. */
static void help_escape(struct prom_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			puts_(b, "\\\\");
		else if (*s == '\n')
			puts_(b, "\\n");
		else if (*s == '"' && b->openmetrics)
			puts_(b, "\\\"");
		else
			put(b, s, 1);
	}
}

void prom_family(struct prom_buf *b, const char *name, enum prom_type t, const char *help)
{
	static const char *const types[] = { "counter", "gauge", "histogram" };
	const char *sfx = t == PROM_COUNTER && !b->openmetrics ? "_total" : "";
	puts_(b, "# HELP ");
	puts_(b, name);
	puts_(b, sfx);
	puts_(b, " ");
	help_escape(b, help);
	puts_(b, "\n# TYPE ");
	puts_(b, name);
	puts_(b, sfx);
	puts_(b, " ");
	puts_(b, types[t]);
	puts_(b, "\n");
}

static void head(struct prom_buf *b, const char *name, const char *suffix,
		 const struct prom_label *labels, unsigned n_labels)
{
	puts_(b, name);
	puts_(b, suffix);
	if (n_labels == 0) {
		puts_(b, " ");
		return;
	}
	puts_(b, "{");
	for (unsigned i = 0; i < n_labels; i++) {
		if (i)
			puts_(b, ",");
		puts_(b, labels[i].name);
		puts_(b, "=\"");
		prom_escape(b, labels[i].value, strlen(labels[i].value));
		puts_(b, "\"");
	}
	puts_(b, "} ");
}

void prom_u64(struct prom_buf *b, const char *name, const char *suffix,
	      const struct prom_label *labels, unsigned n_labels, uint64_t v)
{
	head(b, name, suffix, labels, n_labels);
	putf(b, "%llu\n", (unsigned long long)v);
}

void prom_f64(struct prom_buf *b, const char *name, const char *suffix,
	      const struct prom_label *labels, unsigned n_labels, double v)
{
	head(b, name, suffix, labels, n_labels);
	putf(b, "%.10g\n", v);
}

void prom_histogram(struct prom_buf *b, const char *name, const struct prom_label *labels,
		    unsigned n_labels, const double *bounds, const uint64_t *counts,
		    unsigned n_bounds, double sum)
{
	BUG_ON(n_labels >= PROM_LABELS_MAX);
	struct prom_label l[PROM_LABELS_MAX];
	memcpy(l, labels, n_labels * sizeof(*l));
	char le[32];
	l[n_labels] = (struct prom_label){ "le", le };
	uint64_t cum = 0;
	for (unsigned i = 0; i <= n_bounds; i++) {
		cum += counts[i];
		if (i < n_bounds)
			snprintf(le, sizeof(le), "%g", bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		prom_u64(b, name, "_bucket", l, n_labels + 1, cum);
	}
	prom_f64(b, name, "_sum", labels, n_labels, sum);
	prom_u64(b, name, "_count", labels, n_labels, cum);
}

void prom_end(struct prom_buf *b)
{
	if (b->openmetrics)
		puts_(b, "# EOF\n");
}
