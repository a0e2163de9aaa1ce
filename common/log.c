/* SPDX-License-Identifier: Apache-2.0 */
#include "common/log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int sl_log_level = SL_LOG_INFO;
/* --log-format json: one JSON object per line (set once at start-up,
 * before any thread but main runs). */
static bool log_json;

static const char *const level_names[] = { "err", "warn", "info", "debug" };

/* Per-thread label so a line says which lcore/thread wrote it; set by the
 * thread itself at start (sl_log_thread_name). */
static __thread char thread_name[16] = "main";

void sl_log_thread_name(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
}

/* msg as a JSON string body into out (cap bytes, NUL-terminated):
 * quote, backslash and control bytes escaped; bytes >= 0x80 pass (our
 * messages are UTF-8 or ASCII). Returns the length written. */
static size_t json_escape(char *out, size_t cap, const char *msg)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)msg; *p && n + 7 < cap; p++) {
		if (*p == '"' || *p == '\\') {
			out[n++] = '\\';
			out[n++] = (char)*p;
		} else if (*p == '\n') {
			out[n++] = '\\';
			out[n++] = 'n';
		} else if (*p < 0x20) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *p);
		} else {
			out[n++] = (char)*p;
		}
	}
	out[n] = 0;
	return n;
}

static void log_json_line(enum sl_log_level lvl, const char *ts, const char *msg)
{
	char esc[2048], line[2400];
	json_escape(esc, sizeof(esc), msg);
	int n = snprintf(line, sizeof(line),
			 "{\"ts\":\"%s\",\"level\":\"%s\",\"thread\":\"%s\",\"msg\":\"%s\"}\n",
			 ts, level_names[lvl], thread_name, esc);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) { /* cannot happen: esc and the rest fit */
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	fwrite(line, 1, (size_t)n, stderr);
}

void sl_log_set_format(const char *name)
{
	log_json = strcmp(name, "json") == 0;
}

void sl_log(enum sl_log_level lvl, const char *fmt, ...)
{
	if ((int)lvl > sl_log_level)
		return;
	char line[1024];
	if (log_json) {
		struct timespec ts;
		struct tm tm;
		char tsb[96];
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		snprintf(tsb, sizeof(tsb), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000);
		va_list ap;
		va_start(ap, fmt);
		int m = vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		if (m >= 0)
			log_json_line(lvl, tsb, line);
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s [%s] ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, level_names[lvl], thread_name);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line so lines from different threads never interleave. */
	fwrite(line, 1, (size_t)n, stderr);
}

int sl_log_set_level(const char *name)
{
	for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++)
		if (strcmp(name, level_names[i]) == 0) {
			sl_log_level = i;
			return 0;
		}
	return -EINVAL;
}
