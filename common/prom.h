/* SPDX-License-Identifier: Apache-2.0 */
/* The Prometheus exposition writer: text format 0.0.4, or OpenMetrics 1.0
 * (the same samples; counters' families drop "_total" in TYPE/HELP, and the
 * text ends with "# EOF").
 *
 * Used by the admin listener's /metrics, off every fast path: the buffer
 * grows with realloc up to max_bytes, past which the writer stops and sets
 * overflow (the caller answers 500 rather than a truncated scrape). Label
 * values are escaped (backslash, double quote, newline), so any stream name
 * is safe to pass. */
#ifndef SL_COMMON_PROM_H
#define SL_COMMON_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum prom_type {
	PROM_COUNTER = 0,
	PROM_GAUGE = 1,
	PROM_HISTOGRAM = 2,
};

struct prom_label {
	const char *name;  /* [a-zA-Z_][a-zA-Z0-9_]*, ours, never escaped */
	const char *value; /* anything: escaped */
};

struct prom_buf {
	char *p;
	size_t len, cap, max_bytes;
	bool overflow;	  /* max_bytes reached or malloc failed: p is incomplete */
	bool openmetrics; /* OpenMetrics 1.0 instead of text 0.0.4 */
};

/* Content-Type of each format. */
#define PROM_CT_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define PROM_CT_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

void prom_init(struct prom_buf *b, size_t max_bytes, bool openmetrics);
void prom_free(struct prom_buf *b);
/* True when an Accept header value asks for OpenMetrics
 * (application/openmetrics-text, with or without parameters). */
bool prom_wants_openmetrics(const char *accept);

/* "# HELP" and "# TYPE" of a family. name is the base name: counters are
 * written name_total (its samples always are). */
void prom_family(struct prom_buf *b, const char *name, enum prom_type t, const char *help);
/* One sample line: name + suffix ("" or "_total", "_bucket", ...), the
 * labels, the value. */
void prom_u64(struct prom_buf *b, const char *name, const char *suffix,
	      const struct prom_label *labels, unsigned n_labels, uint64_t v);
void prom_f64(struct prom_buf *b, const char *name, const char *suffix,
	      const struct prom_label *labels, unsigned n_labels, double v);
/* A histogram's samples: counts[0..n_bounds] per bucket (not cumulative;
 * counts[n_bounds] is above the last bound), bounds ascending, sum. Writes
 * cumulative _bucket lines (le="+Inf" last), _sum and _count. labels get
 * one more ("le"): n_labels < PROM_LABELS_MAX. */
#define PROM_LABELS_MAX 4
void prom_histogram(struct prom_buf *b, const char *name, const struct prom_label *labels,
		    unsigned n_labels, const double *bounds, const uint64_t *counts,
		    unsigned n_bounds, double sum);
/* Ends the exposition ("# EOF" in OpenMetrics). */
void prom_end(struct prom_buf *b);
/* Appends s[0..n) escaped as a label value (exposed for the unit test). */
void prom_escape(struct prom_buf *b, const char *s, size_t n);

#endif
