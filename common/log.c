/* SPDX-License-Identifier: Apache-2.0 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int sl_log_level = SL_LOG_INFO;

static const char *const level_names[] = { "err", "warn", "info", "debug" };

/* Per-thread label so a line says which lcore/thread wrote it; set by the
 * thread itself at start (sl_log_thread_name). */
static __thread char thread_name[16] = "main";

void sl_log_thread_name(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
}

void sl_log(enum sl_log_level lvl, const char *fmt, ...)
{
	if ((int)lvl > sl_log_level)
		return;
	char line[1024];
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
