/* SPDX-License-Identifier: Apache-2.0 */
/* The admin listener's pieces: health (admin_health.c) and the scrape
 * (admin_scrape.c), both run on the admin thread only. */
#ifndef SL_ADMIN_INTERNAL_H
#define SL_ADMIN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

/* An lcore (or the control thread) whose heartbeat has not moved for this
 * long is reported stalled. Their loops turn at least every 100 ms when
 * idle (io: LCORE_IDLE_WAIT_MS, log: LOG_IDLE_WAIT_MS, control: 0.5 ms
 * naps), so 5 s is 50 missed turns: a stall, not a slow machine (the ASan
 * build included). */
#define ADMIN_STALL_MS 5000
/* The journal directory's write probe runs at most this often. */
#define ADMIN_PROBE_EVERY_MS 1000

struct sl_shared;
struct cp;
struct prom_buf;

/* Last heartbeat seen of each lcore and of the control thread, and when it
 * last moved (monotonic ms). */
struct admin_beat {
	uint64_t beat, moved_ms;
};

struct admin_health {
	struct admin_beat io[SL_IO_CORES_MAX], log[SL_LOG_CORES_MAX], cp;
	uint64_t probe_ms; /* last probe (monotonic ms), 0: never */
	int probe_rc;	   /* its result: 0 or -errno */
	uint64_t refused;  /* admin connections refused (ADMIN_CONNS_MAX busy) */
	uint64_t started_wall_ms;
};

void admin_health_init(struct sl_shared *sh, struct cp *cp, struct admin_health *h,
		       uint64_t now_ms);
/* Samples the heartbeats (every loop of the admin thread). */
void admin_health_tick(struct sl_shared *sh, struct cp *cp, struct admin_health *h,
		       uint64_t now_ms);
/* True when ready; else why[] says what is not (one line per reason). */
bool admin_ready(struct sl_shared *sh, struct cp *cp, struct admin_health *h, char *why,
		 size_t cap);
/* Every family: the dataplane's (mx_scrape), the control plane's, the
 * process's and the build's. */
void admin_scrape(struct sl_shared *sh, struct cp *cp, struct admin_health *h,
		  const char *version, uint16_t reader, struct prom_buf *b);

/* /status.json's bounds (admin_status.c): shards listed per stream (the
 * counts are always whole), and the document's size. */
#define ADMIN_STATUS_SHARDS_MAX 256
#define ADMIN_STATUS_MAX_BYTES (4u << 20)
/* The streams, their shards and the consumers of the routing snapshot as
 * JSON of at most cap bytes (ADMIN_STATUS_MAX_BYTES; >= 512), in *out
 * (malloc, the caller frees) of *out_len bytes; reader is the caller's
 * routing-reader index, online only inside. Returns 0 or -ENOMEM. */
int admin_status_json(struct sl_shared *sh, uint16_t reader, const char *version, size_t cap,
		      char **out, size_t *out_len);

#endif
