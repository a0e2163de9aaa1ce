/* SPDX-License-Identifier: Apache-2.0 */
/* EAL start-up for both transports, with lcores placed by hwloc.
 *
 * Kernel transport: no PCI devices, no hugepage files: "--in-memory" when
 * hugepages are free, else "--no-huge -m 256" (the two cannot be combined in
 * DPDK 22.11). Either way one threading model (EAL lcores pinned to cores)
 * and one ring type serve both transports. */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <hwloc.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"
#include "common/log.h"
#include "dataplane/core/eal.h"
#include "dataplane/net/dpdk/dpdk.h"

/* lcore ids 0..io+log-1 all exist in EAL (its lcore arrays are this big). */
static_assert(SL_IO_CORES_MAX + SL_LOG_CORES_MAX <= RTE_MAX_LCORE,
	      "--io-cores + --log-cores above RTE_MAX_LCORE");

/* Free 2 MiB hugepages, from /proc/meminfo (0 when unknown). */
static long hugepages_free(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f)
		return 0;
	char line[128];
	long n = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "HugePages_Free: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Picks up to `want` CPUs: one hardware thread per physical core first (so
 * two lcores never share a core's execution units while cores are free), then
 * the siblings. Returns the number picked (>= 1) or -errno. */
static int pick_cpus(uint32_t want, unsigned *cpus)
{
	hwloc_topology_t topo;
	if (hwloc_topology_init(&topo) < 0 || hwloc_topology_load(topo) < 0)
		return -ENODEV;
	int ncores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
	uint32_t got = 0;
	/* Only CPUs this process may run on (taskset, cgroups): an operator
	 * who confines sluiced confines its lcores too. */
	cpu_set_t allowed;
	CPU_ZERO(&allowed);
	bool have_mask = sched_getaffinity(0, sizeof(allowed), &allowed) == 0;
	for (unsigned pass = 0; pass < 8 && got < want; pass++) {
		for (int i = 0; i < ncores && got < want; i++) {
			hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, (unsigned)i);
			hwloc_obj_t pu = hwloc_get_obj_inside_cpuset_by_type(
				topo, core->cpuset, HWLOC_OBJ_PU, pass);
			if (pu && (!have_mask || CPU_ISSET(pu->os_index, &allowed)))
				cpus[got++] = pu->os_index;
		}
	}
	hwloc_topology_destroy(topo);
	return got ? (int)got : -ENODEV;
}

int sl_eal_init(const struct sl_config *cfg)
{
	/* lcore ids: io lcores 0..io-1 (0 is the main thread), then log
	 * lcores. With fewer CPUs than lcores, lcores share CPUs round robin
	 * (EAL's --lcores id@cpu form): in kernel mode an idle lcore sleeps,
	 * so a small machine runs every role. */
	uint32_t total = cfg->io_cores + cfg->log_cores;
	unsigned cpus[128];
	static_assert(SL_IO_CORES_MAX + SL_LOG_CORES_MAX <= SL_ARRAY_SIZE(cpus),
		      "one CPU slot per lcore id");
	int n = pick_cpus(SL_MIN(total, (uint32_t)SL_ARRAY_SIZE(cpus)), cpus);
	if (n < 0) {
		SL_ERR("cannot read the CPU topology");
		return n;
	}
	char map[1024];
	size_t len = 0;
	for (uint32_t id = 0; id < total; id++) {
		int w = snprintf(map + len, sizeof(map) - len, "%s%u@%u", id ? "," : "", id,
				 cpus[id % (uint32_t)n]);
		if (w < 0 || (size_t)w >= sizeof(map) - len)
			return -E2BIG;
		len += (size_t)w;
	}
	if (strcmp(cfg->transport, "dpdk") == 0) {
		struct dpk_eal_argv ea;
		int rc = dpk_eal_argv_build(&ea, cfg->dpdk_args, map, hugepages_free() >= 128);
		if (rc < 0) {
			SL_ERR("--dpdk-args: %s", rc == -EINVAL ? "unbalanced quote, or lcores set "
				"there (sluice places lcores itself)" : "too long");
			return rc;
		}
		SL_INFO("EAL (dpdk): lcores %s; %d arguments", map, ea.argc);
		if (rte_eal_init(ea.argc, ea.argv) < 0) {
			SL_ERR("rte_eal_init failed: %s", rte_strerror(rte_errno));
			return -rte_errno ? -rte_errno : -EINVAL;
		}
		return 0;
	}
	char *argv[32];
	int argc = 0;
	argv[argc++] = "sluiced";
	argv[argc++] = "--lcores";
	argv[argc++] = map;
	argv[argc++] = "--no-pci";
	argv[argc++] = "--no-telemetry";
	argv[argc++] = "--log-level=lib.eal:error";
	if (hugepages_free() >= 128) {
		argv[argc++] = "--in-memory";
	} else {
		argv[argc++] = "--no-huge";
		argv[argc++] = "-m";
		argv[argc++] = "256";
		argv[argc++] = "--no-shconf";
	}
	argv[argc] = NULL;
	BUG_ON(argc >= (int)SL_ARRAY_SIZE(argv));
	SL_INFO("EAL: lcores (id@cpu) %s: %u io, %u log", map, cfg->io_cores, cfg->log_cores);
	int rc = rte_eal_init(argc, argv);
	if (rc < 0) {
		SL_ERR("rte_eal_init failed: %s", rte_strerror(rte_errno));
		return -rte_errno ? -rte_errno : -EINVAL;
	}
	return 0;
}
