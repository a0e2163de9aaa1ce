/* SPDX-License-Identifier: Apache-2.0 */
/* The admin listener: /metrics (Prometheus text 0.0.4, or OpenMetrics 1.0
 * when Accept asks for it), /healthz, /readyz and / (the status page's
 * place), on its own thread and its own kernel socket, apart from the data
 * listener (never on a DPDK port).
 *
 * Above the control plane: it reads the dataplane's counters
 * (dataplane/metrics), the control thread's heartbeat (controlplane/cp.h)
 * and the log lcores' journals' state, and serves them. It never stalls an
 * lcore: it reads their counters with relaxed loads, takes no lock an lcore
 * waits on, and is a routing-snapshot reader of its own, online only while
 * it scrapes. */
#ifndef SL_ADMIN_H
#define SL_ADMIN_H

#include <stdint.h>

struct sl_shared;
struct cp;

struct prom_buf;

struct admin_config {
	struct sl_shared *sh; /* cfg, lcores, logs, routes, TLS paths */
	struct cp *cp;
	uint16_t route_reader; /* the admin thread's routing reader index */
	const char *version;   /* sluiced's version, for sluice_build_info */
	/* More families for /metrics from a part above the layers (the mirror,
	 * sluiced/mirror.h); NULL when none. Called on the admin thread; ctx
	 * must outlive admin_stop. */
	void (*scrape_extra)(void *ctx, struct prom_buf *b);
	void *scrape_ctx;
};

struct admin;

/* Loads the token file (refused unless a regular file of mode 0600 or
 * stricter), builds the TLS server when --admin-tls, binds and listens on
 * --admin-listen, writes DIR/sluiced.admin ("HOST:PORT\n"), and starts the
 * thread. Returns NULL and sets errno: EADDRINUSE and other bind/listen
 * errors, EPERM (token file mode), EINVAL (token file empty, TLS set-up),
 * ENOMEM. */
struct admin *admin_start(const struct admin_config *ac);
/* The port bound (resolves --admin-listen port 0). */
uint16_t admin_port(const struct admin *a);
/* Stops the thread, closes every connection, removes DIR/sluiced.admin.
 * NULL is a no-op. */
void admin_stop(struct admin *a);

#endif
