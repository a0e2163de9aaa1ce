/* SPDX-License-Identifier: Apache-2.0 */
/* The server's own view of a run: loadgen scrapes sluiced's admin listener
 * (/metrics, plain HTTP) before and after, and prints what changed. */
#ifndef SL_PERF_LG_ADMIN_H
#define SL_PERF_LG_ADMIN_H

#include <stddef.h>

/* One scrape: the sample lines ("name{labels} value"), parsed. */
struct lg_scrape {
	char *text;    /* the body (malloc) */
	char **keys;   /* pointers into text: "name{labels}", NUL-terminated */
	double *vals;
	size_t n;
};

/* GET http://addr/metrics (addr "HOST:PORT"; token: a bearer token or
 * NULL). Returns 0, or -1 after printing why to stderr. */
int lg_scrape(const char *addr, const char *token, struct lg_scrape *out);
/* Prints every sluice_ sample whose value moved between a and b, limited to
 * those of the given stream (label stream="...") or of no stream. */
void lg_scrape_deltas(const struct lg_scrape *a, const struct lg_scrape *b, const char *stream);
void lg_scrape_free(struct lg_scrape *s);

#endif
