/* SPDX-License-Identifier: Apache-2.0 */
/* Time sources. Monotonic milliseconds drive timeouts; wall-clock is only for
 * protocol fields (X-Amz-Date, timestamps in responses). */
#ifndef SL_COMMON_CLOCK_H
#define SL_COMMON_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t sl_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static inline int64_t sl_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
