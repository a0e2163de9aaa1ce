/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SL_SLUICED_EAL_H
#define SL_SLUICED_EAL_H

#include "common/config.h"

/* Initialises DPDK's EAL with io_cores + log_cores lcores pinned to CPUs
 * chosen with hwloc (one per physical core first; shared round robin when
 * there are fewer CPUs). lcore ids: io 0..io-1, log io..io+log-1.
 * Returns 0 or -errno. */
int sl_eal_init(const struct sl_config *cfg);

#endif
