/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SL_DATAPLANE_CORE_EAL_H
#define SL_DATAPLANE_CORE_EAL_H

#include "common/config.h"

/* Initialises DPDK's EAL with cfg->io_cores lcores pinned to CPUs chosen with
 * hwloc (one per physical core first). Returns 0 or -errno. */
int sl_eal_init(const struct sl_config *cfg);

#endif
