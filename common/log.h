/* SPDX-License-Identifier: Apache-2.0 */
/* Logging to stderr, one line per call, with a level and the lcore id.
 * Never pass secrets or record data to these functions. */
#ifndef SL_COMMON_LOG_H
#define SL_COMMON_LOG_H

enum sl_log_level {
	SL_LOG_ERR = 0,
	SL_LOG_WARN = 1,
	SL_LOG_INFO = 2,
	SL_LOG_DEBUG = 3,
};

extern int sl_log_level;

void sl_log(enum sl_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parses "err|warn|info|debug"; returns 0 or -EINVAL. */
int sl_log_set_level(const char *name);

/* "text" (default) or "json": one JSON object per line with ts, level,
 * thread and msg (--log-format). Call once, before other threads start. */
void sl_log_set_format(const char *name);

/* Names the calling thread in its log lines (at most 15 characters). */
void sl_log_thread_name(const char *name);

#define SL_ERR(...) sl_log(SL_LOG_ERR, __VA_ARGS__)
#define SL_WARN(...) sl_log(SL_LOG_WARN, __VA_ARGS__)
#define SL_INFO(...) sl_log(SL_LOG_INFO, __VA_ARGS__)
#define SL_DEBUG(...)                                                          \
	do {                                                                   \
		if (sl_log_level >= SL_LOG_DEBUG)                              \
			sl_log(SL_LOG_DEBUG, __VA_ARGS__);                     \
	} while (0)

#endif
