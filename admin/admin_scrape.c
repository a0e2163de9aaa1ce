/* SPDX-License-Identifier: Apache-2.0 */
/* /metrics: the dataplane's families (dataplane/metrics) and the ones only
 * this level sees: the build, the process, the control thread, the admin
 * listener itself. */
#include <dirent.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin_internal.h"
#include "common/prom.h"
#include "controlplane/cp.h"
#include "dataplane/api/api.h"
#include "dataplane/core/core.h"
#include "dataplane/metrics/mx.h"
#include "dataplane/net/dpdk/dpdk.h"

#include <rte_ethdev.h>

/* More extended statistics than any PMD has; a port claiming more is
 * skipped (the scrape stays bounded). */
#define ADMIN_XSTATS_MAX 4096

/* Resident set size in bytes (/proc/self/statm's second field), 0 when
 * unreadable. */
static uint64_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long long size = 0, res = 0;
	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &res) != 2)
		res = 0;
	fclose(f);
	long page = sysconf(_SC_PAGESIZE);
	return page > 0 ? res * (uint64_t)page : 0;
}

/* Open descriptors (entries of /proc/self/fd, ours excluded), counted up to
 * a bound so a leak cannot make a scrape slow. */
static uint64_t open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	uint64_t n = 0;
	struct dirent *e;
	while (n < 10000000 && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n > 0 ? n - 1 : 0; /* the directory's own descriptor */
}

/* Control operations: calls, errors and execution time by operation (only
 * operations called at least once). */
static void scrape_control(struct prom_buf *b, struct cp *cp)
{
	static const char calls[] = "sluice_control_operations",
			  errs[] = "sluice_control_operation_errors",
			  secs[] = "sluice_control_operation_seconds";
	uint32_t n = 0;
	const struct api_op_info *t = api_op_table(&n);
	struct cp_op_stat st[API_OP__COUNT];
	for (unsigned op = 0; op < API_OP__COUNT; op++)
		cp_op_stats(cp, op, &st[op]);
	static const char *const help[3] = {
		"control operations answered by the control thread",
		"of those, answered with an error",
		"time the control thread spent executing them (rate over calls: mean latency)",
	};
	const char *const names[3] = { calls, errs, secs };
	/* A family's samples follow its TYPE line: one pass per family. One
	 * operation name per enum value (OTHER_KNOWN is never executed). */
	for (int f = 0; f < 3; f++) {
		prom_family(b, names[f], PROM_COUNTER, help[f]);
		for (uint32_t i = 0; i < n; i++) {
			unsigned op = t[i].op;
			if (op == API_OP_OTHER_KNOWN || t[i].plane != API_PLANE_CONTROL ||
			    !st[op].calls)
				continue;
			struct prom_label l = { "operation", t[i].name };
			if (f == 0)
				prom_u64(b, calls, "_total", &l, 1, st[op].calls);
			else if (f == 1)
				prom_u64(b, errs, "_total", &l, 1, st[op].errors);
			else
				prom_f64(b, secs, "_total", &l, 1, (double)st[op].us / 1e6);
		}
	}
}

/* --transport dpdk: every port's extended statistics (rte_eth_xstats_get),
 * read here, off the lcores (the PMD's counters; no lcore waits for it). */
static void scrape_xstats(struct prom_buf *b, struct sl_shared *sh)
{
	static const char xn[] = "sluice_dpdk_port_xstats";
	if (!sh->dpk)
		return;
	prom_family(b, xn, PROM_COUNTER,
		    "DPDK port extended statistics (rte_eth_xstats_get), by port and name");
	for (uint16_t p = 0; p < dpk_port_count(sh->dpk); p++) {
		const struct dpk_port_info *pi = dpk_port_info(sh->dpk, p);
		int n = pi ? rte_eth_xstats_get_names(pi->port_id, NULL, 0) : -1;
		if (n <= 0 || n > ADMIN_XSTATS_MAX)
			continue;
		struct rte_eth_xstat_name *names = calloc((size_t)n, sizeof(*names));
		struct rte_eth_xstat *vals = calloc((size_t)n, sizeof(*vals));
		int nn = names ? rte_eth_xstats_get_names(pi->port_id, names, (unsigned)n) : -1;
		int nv = vals ? rte_eth_xstats_get(pi->port_id, vals, (unsigned)n) : -1;
		for (int i = 0; nn == n && nv == n && i < n; i++) {
			if (vals[i].id >= (uint64_t)n)
				continue;
			struct prom_label l[2] = { { "port", pi->name },
						   { "name", names[vals[i].id].name } };
			prom_u64(b, xn, "_total", l, 2, vals[i].value);
		}
		free(names);
		free(vals);
	}
}

void admin_scrape(struct sl_shared *sh, struct cp *cp, struct admin_health *h,
		  const char *version, uint16_t reader, struct prom_buf *b)
{
	struct prom_label vl = { "version", version };
	prom_family(b, "sluice_build_info", PROM_GAUGE, "sluiced's version (value always 1)");
	prom_u64(b, "sluice_build_info", "", &vl, 1, 1);
	int rc = mx_scrape(b, sh, reader);
	(void)rc; /* an overflow is in b->overflow, which the caller checks */
	prom_family(b, "sluice_control_loops", PROM_COUNTER,
		    "control thread loop iterations (the /readyz heartbeat)");
	prom_u64(b, "sluice_control_loops", "_total", NULL, 0, cp_heartbeat(cp));
	scrape_control(b, cp);
	scrape_xstats(b, sh);
	prom_family(b, "sluice_admin_connections_refused", PROM_COUNTER,
		    "admin listener connections refused (all its slots busy)");
	prom_u64(b, "sluice_admin_connections_refused", "_total", NULL, 0, h->refused);
	prom_family(b, "process_resident_memory_bytes", PROM_GAUGE, "resident memory size");
	prom_u64(b, "process_resident_memory_bytes", "", NULL, 0, rss_bytes());
	prom_family(b, "process_open_fds", PROM_GAUGE, "open file descriptors");
	prom_u64(b, "process_open_fds", "", NULL, 0, open_fds());
	prom_family(b, "process_start_time_seconds", PROM_GAUGE,
		    "when the admin listener started, seconds since the epoch");
	prom_f64(b, "process_start_time_seconds", "", NULL, 0,
		 (double)h->started_wall_ms / 1000.0);
}
