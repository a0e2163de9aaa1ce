/* SPDX-License-Identifier: Apache-2.0 */
/* The Date header value (RFC 9110 §5.6.7 IMF-fixdate), formatted once per
 * second per io lcore instead of once per response: gmtime_r and the
 * formatting cost more than the rest of a response head, and the value only
 * changes once a second. Names are spelled out rather than taken from
 * strftime so the result never depends on the locale. */
#include "dataplane/http/http.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "common/bug.h"

int http_date_update(struct http_date *d, int64_t now_s)
{
	static const char wday[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)now_s;
	struct tm tm;

	if (d->len && now_s == d->sec)
		return 0;
	/* Years past 9999 would not fit the fixed width; a clock that far off
	 * is broken, and the previous value is as good as any. */
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999 ||
	    tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 || tm.tm_mon > 11)
		return d->len ? 0 : -EINVAL;
	int n = snprintf(d->str, sizeof(d->str), "%s, %02d %s %04d %02d:%02d:%02d GMT",
			 wday[tm.tm_wday], tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
	BUG_ON(n != HTTP_DATE_LEN);
	d->len = (uint8_t)n;
	d->sec = now_s;
	d->n_formatted++;
	return 1;
}
