/* SPDX-License-Identifier: Apache-2.0 */
/* Assertions in tiers (HAProxy bug.h, TigerBeetle):
 *  BUG_ON(cond)    always on: an invariant whose violation means memory or
 *                  on-disk state can no longer be trusted; aborts.
 *  DBG_BUG_ON(c)   hot-path checks: compiled out with NDEBUG (release) but still
 *                  type-checked, so they never rot.
 *  static_assert   struct layouts and constant relations. */
#ifndef SL_COMMON_BUG_H
#define SL_COMMON_BUG_H

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#define SL_LIKELY(x) __builtin_expect(!!(x), 1)
#define SL_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define BUG_ON(cond)                                                          \
	do {                                                                  \
		if (SL_UNLIKELY(cond)) {                                      \
			fprintf(stderr, "BUG at %s:%d: %s\n", __FILE__,        \
				__LINE__, #cond);                             \
			abort();                                              \
		}                                                             \
	} while (0)

#ifdef NDEBUG
#define DBG_BUG_ON(cond) ((void)sizeof(!(cond)))
#else
#define DBG_BUG_ON(cond) BUG_ON(cond)
#endif

/* On functions returning 0/-errno (or a count/-errno): a caller that drops
 * the result is a compile error (warnings are errors), so failures are
 * handled or explicitly ignored with a comment saying why. */
#define SL_MUST_CHECK __attribute__((warn_unused_result))

#define SL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SL_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
