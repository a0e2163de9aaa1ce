/* SPDX-License-Identifier: Apache-2.0 */
/* EAL argv for --transport dpdk, and hwloc's view of where the NIC sits.
 * Pure string work plus hwloc: no DPDK call, so it runs before rte_eal_init
 * and in unit tests. */
#include <errno.h>
#include <hwloc.h>
#include <stdio.h>
#include <string.h>

#include "common/bug.h"
#include "dataplane/net/dpdk/dpdk.h"

struct tok_state {
	struct dpk_eal_argv *out;
	size_t used; /* bytes of out->buf taken */
};

static int push(struct tok_state *st, const char *s, size_t len)
{
	struct dpk_eal_argv *o = st->out;
	if (o->argc >= DPK_EAL_ARGC_MAX || st->used + len + 1 > sizeof(o->buf))
		return -E2BIG;
	char *dst = o->buf + st->used;
	memcpy(dst, s, len);
	dst[len] = 0;
	st->used += len + 1;
	o->argv[o->argc++] = dst;
	o->argv[o->argc] = NULL;
	return 0;
}

static int push_str(struct tok_state *st, const char *s)
{
	return push(st, s, strlen(s));
}

/* Splits args on blanks into tok (NUL-separated, quotes removed). Calls
 * fn(arg, token) for each. Returns 0, -EINVAL (unbalanced quote), -E2BIG,
 * or fn's error. */
static int split(const char *args, int (*fn)(void *arg, const char *t), void *arg)
{
	char tok[1024];
	const char *p = args ? args : "";
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			return 0;
		size_t n = 0;
		char quote = 0;
		for (; *p && (quote || (*p != ' ' && *p != '\t' && *p != '\n')); p++) {
			if (!quote && (*p == '\'' || *p == '"')) {
				quote = *p;
				continue;
			}
			if (quote && *p == quote) {
				quote = 0;
				continue;
			}
			if (n + 1 >= sizeof(tok))
				return -E2BIG;
			tok[n++] = *p;
		}
		if (quote)
			return -EINVAL;
		tok[n] = 0;
		int rc = fn(arg, tok);
		if (rc)
			return rc;
	}
}

static bool opt_is(const char *t, const char *shortopt, const char *longopt)
{
	size_t ll = longopt ? strlen(longopt) : 0;
	if (shortopt && strncmp(t, shortopt, 2) == 0)
		return true; /* "-a X" and "-aX" */
	return longopt && strncmp(t, longopt, ll) == 0 && (t[ll] == 0 || t[ll] == '=');
}

struct scan {
	bool allow_pci, memory_chosen, no_pci, lcores;
};

static int scan_tok(void *arg, const char *t)
{
	struct scan *s = arg;
	if (opt_is(t, "-a", "--allow"))
		s->allow_pci = true;
	if (opt_is(t, NULL, "--no-pci"))
		s->no_pci = true;
	if (opt_is(t, NULL, "--no-huge") || opt_is(t, NULL, "--in-memory") ||
	    opt_is(t, "-m", NULL) || opt_is(t, NULL, "--socket-mem") ||
	    opt_is(t, NULL, "--huge-dir"))
		s->memory_chosen = true;
	if (opt_is(t, "-l", NULL) || opt_is(t, "-c", NULL) || opt_is(t, NULL, "--lcores"))
		s->lcores = true;
	return 0;
}

bool dpk_eal_args_allow_pci(const char *dpdk_args)
{
	struct scan s = { 0 };
	return split(dpdk_args, scan_tok, &s) == 0 && s.allow_pci;
}

static int push_tok(void *arg, const char *t)
{
	return push_str(arg, t);
}

int dpk_eal_argv_build(struct dpk_eal_argv *out, const char *dpdk_args, const char *lcore_map,
		       bool hugepages)
{
	struct scan s = { 0 };
	memset(out, 0, sizeof(*out));
	int rc = split(dpdk_args, scan_tok, &s);
	if (rc)
		return rc;
	if (s.lcores || !lcore_map || !lcore_map[0])
		return -EINVAL;
	struct tok_state st = { .out = out };
	rc = push_str(&st, "sluiced");
	rc = rc ? rc : push_str(&st, "--lcores");
	rc = rc ? rc : push_str(&st, lcore_map);
	/* The VM's (or host's) own NIC must never be taken: PCI scanning only
	 * when the operator named devices to allow. */
	if (!s.allow_pci && !s.no_pci)
		rc = rc ? rc : push_str(&st, "--no-pci");
	rc = rc ? rc : push_str(&st, "--no-telemetry");
	if (!s.memory_chosen) {
		/* --in-memory and --no-huge cannot be combined in DPDK 22.11. */
		if (hugepages) {
			rc = rc ? rc : push_str(&st, "--in-memory");
		} else {
			rc = rc ? rc : push_str(&st, "--no-huge");
			rc = rc ? rc : push_str(&st, "-m");
			rc = rc ? rc : push_str(&st, "512");
			rc = rc ? rc : push_str(&st, "--no-shconf");
		}
	}
	rc = rc ? rc : split(dpdk_args, push_tok, &st);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

/* The first "-a X" / "-aX" / "--allow X" / "--allow=X" value: X without
 * devargs (",key=val"). */
struct first_allow {
	bool want_value;
	char addr[64];
};

static int allow_tok(void *arg, const char *t)
{
	struct first_allow *fa = arg;
	const char *v = NULL;
	if (fa->addr[0])
		return 0;
	if (fa->want_value) {
		v = t;
		fa->want_value = false;
	} else if (strcmp(t, "-a") == 0 || strcmp(t, "--allow") == 0) {
		fa->want_value = true;
	} else if (strncmp(t, "--allow=", 8) == 0) {
		v = t + 8;
	} else if (strncmp(t, "-a", 2) == 0) {
		v = t + 2;
	}
	if (v)
		snprintf(fa->addr, sizeof(fa->addr), "%.*s", (int)strcspn(v, ","), v);
	return 0;
}

int dpk_nic_local_cpus(const char *dpdk_args, unsigned *cpus, uint32_t max)
{
	struct first_allow fa = { 0 };
	if (split(dpdk_args, allow_tok, &fa) || !fa.addr[0])
		return 0;
	hwloc_topology_t topo;
	if (hwloc_topology_init(&topo) < 0)
		return -ENODEV;
	hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
	if (hwloc_topology_load(topo) < 0) {
		hwloc_topology_destroy(topo);
		return -ENODEV;
	}
	int n = 0;
	hwloc_obj_t dev = hwloc_get_pcidev_by_busidstring(topo, fa.addr);
	hwloc_obj_t anc = dev ? hwloc_get_non_io_ancestor_obj(topo, dev) : NULL;
	if (anc && anc->cpuset) {
		int cpu;
		hwloc_bitmap_foreach_begin(cpu, anc->cpuset) {
			if ((uint32_t)n < max)
				cpus[n++] = (unsigned)cpu;
		}
		hwloc_bitmap_foreach_end();
	}
	hwloc_topology_destroy(topo);
	return n;
}
