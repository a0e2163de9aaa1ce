/* SPDX-License-Identifier: Apache-2.0 */
/* /readyz: listening, every lcore's loop turning, the control thread
 * turning, every journal healthy and its directory writable. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "admin/admin_internal.h"
#include "common/clock.h"
#include "controlplane/cp.h"
#include "dataplane/core/core.h"
#include "dataplane/log/log.h"

static uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void beat(struct admin_beat *b, uint64_t v, uint64_t now_ms)
{
	if (v != b->beat) {
		b->beat = v;
		b->moved_ms = now_ms;
	}
}

void admin_health_init(struct sl_shared *sh, struct cp *cp, struct admin_health *h,
		       uint64_t now_ms)
{
	memset(h, 0, sizeof(*h));
	h->started_wall_ms = (uint64_t)sl_wall_ms();
	for (uint16_t i = 0; i < sh->n_io; i++)
		h->io[i] = (struct admin_beat){ ld(&sh->lcs[i].loops), now_ms };
	for (uint16_t i = 0; i < sh->n_log; i++)
		h->log[i] = (struct admin_beat){ ld(&sh->logs[i].loops), now_ms };
	h->cp = (struct admin_beat){ cp_heartbeat(cp), now_ms };
}

void admin_health_tick(struct sl_shared *sh, struct cp *cp, struct admin_health *h,
		       uint64_t now_ms)
{
	for (uint16_t i = 0; i < sh->n_io; i++)
		beat(&h->io[i], ld(&sh->lcs[i].loops), now_ms);
	for (uint16_t i = 0; i < sh->n_log; i++)
		beat(&h->log[i], ld(&sh->logs[i].loops), now_ms);
	beat(&h->cp, cp_heartbeat(cp), now_ms);
}

/* Writes and syncs a small file where the journals live: a full or
 * read-only disk fails here before the next segment cannot be made. */
static int probe(const char *data_dir)
{
	char path[SL_PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/log/.readyz-probe", data_dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	static const char block[4096];
	ssize_t n = write(fd, block, sizeof(block));
	int rc = n < 0 ? -errno : (size_t)n != sizeof(block) ? -ENOSPC : 0;
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	close(fd);
	unlink(path);
	return rc;
}

static void __attribute__((format(printf, 4, 5)))
why_add(char *why, size_t cap, size_t *len, const char *fmt, ...)
{
	if (*len >= cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(why + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
}

bool admin_ready(struct sl_shared *sh, struct cp *cp, struct admin_health *h, char *why,
		 size_t cap)
{
	uint64_t now = sl_mono_ms();
	admin_health_tick(sh, cp, h, now);
	size_t len = 0;
	why[0] = 0;
	if (atomic_load_explicit(&sh->stop, memory_order_relaxed))
		why_add(why, cap, &len, "shutting down\n");
	if (sh->actual_port == 0 || !__atomic_load_n(&sh->lcs[0].accepting, __ATOMIC_RELAXED))
		why_add(why, cap, &len, "not listening\n");
	for (uint16_t i = 0; i < sh->n_io; i++)
		if (now - h->io[i].moved_ms > ADMIN_STALL_MS)
			why_add(why, cap, &len, "io lcore %u stalled for %llu ms\n", i,
				(unsigned long long)(now - h->io[i].moved_ms));
	for (uint16_t i = 0; i < sh->n_log; i++) {
		if (now - h->log[i].moved_ms > ADMIN_STALL_MS)
			why_add(why, cap, &len, "log lcore %u stalled for %llu ms\n", i,
				(unsigned long long)(now - h->log[i].moved_ms));
		if (__atomic_load_n(&sh->logs[i].failed, __ATOMIC_RELAXED))
			why_add(why, cap, &len, "journal %u failed: writes are refused\n", i);
	}
	if (now - h->cp.moved_ms > ADMIN_STALL_MS)
		why_add(why, cap, &len, "control plane not answering for %llu ms\n",
			(unsigned long long)(now - h->cp.moved_ms));
	if (h->probe_ms == 0 || now - h->probe_ms >= ADMIN_PROBE_EVERY_MS) {
		h->probe_rc = probe(sh->cfg->data_dir);
		h->probe_ms = now;
	}
	if (h->probe_rc < 0)
		why_add(why, cap, &len, "journal directory %s/log not writable: %s\n",
			sh->cfg->data_dir, strerror(-h->probe_rc));
	return len == 0;
}
