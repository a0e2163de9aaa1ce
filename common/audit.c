/* SPDX-License-Identifier: Apache-2.0 */
#include "common/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/json.h"
#include "common/log.h"

#define AUDIT_QUEUE 1024 /* events buffered while the writer catches up */
#define AUDIT_LINE 1024	 /* bytes per line; fields are bounded below that */

struct audit {
	char path[4096];
	uint64_t max_bytes;
	uint32_t keep;
	int fd;
	uint64_t size;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	uint32_t head, count; /* ring of lines */
	uint64_t dropped;
	char (*lines)[AUDIT_LINE];
	uint16_t lens[AUDIT_QUEUE];
};

static int audit_open_file(struct audit *a)
{
	a->fd = open(a->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (a->fd < 0)
		return -errno;
	fchmod(a->fd, 0600);
	struct stat st;
	a->size = fstat(a->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

/* audit.log -> audit.log.1 -> ... -> audit.log.keep (the oldest goes). */
static void audit_rotate(struct audit *a)
{
	char from[4200], to[4200];
	close(a->fd);
	for (uint32_t i = a->keep; i >= 1; i--) {
		snprintf(to, sizeof(to), "%s.%u", a->path, i);
		if (i == 1)
			snprintf(from, sizeof(from), "%s", a->path);
		else
			snprintf(from, sizeof(from), "%s.%u", a->path, i - 1);
		rename(from, to);
	}
	if (audit_open_file(a) < 0)
		SL_ERR("audit: cannot reopen %s", a->path);
}

static void audit_write(struct audit *a, const char *line, size_t len)
{
	if (a->fd < 0)
		return;
	if (a->size + len > a->max_bytes)
		audit_rotate(a);
	if (a->fd >= 0 && write(a->fd, line, len) == (ssize_t)len)
		a->size += len;
}

static void *audit_main(void *arg)
{
	struct audit *a = arg;
	char line[AUDIT_LINE];
	sl_log_thread_name("audit");
	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (a->count == 0 && a->dropped == 0 && !a->stop)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->count == 0 && a->dropped == 0 && a->stop)
			break;
		size_t len;
		if (a->dropped) {
			len = (size_t)snprintf(line, sizeof(line),
					       "{\"event\":\"audit-dropped\",\"count\":%llu}\n",
					       (unsigned long long)a->dropped);
			a->dropped = 0;
		} else {
			len = a->lens[a->head];
			memcpy(line, a->lines[a->head], len);
			a->head = (a->head + 1) % AUDIT_QUEUE;
			a->count--;
		}
		pthread_mutex_unlock(&a->mu);
		audit_write(a, line, len);
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

struct audit *audit_open(const char *dir, uint64_t max_bytes, uint32_t keep)
{
	struct audit *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->lines = calloc(AUDIT_QUEUE, AUDIT_LINE);
	if (!a->lines) {
		free(a);
		errno = ENOMEM;
		return NULL;
	}
	snprintf(a->path, sizeof(a->path), "%s/audit.log", dir);
	a->max_bytes = max_bytes ? max_bytes : (64u << 20);
	a->keep = keep ? keep : 5;
	int rc = audit_open_file(a);
	if (rc == 0) {
		pthread_mutex_init(&a->mu, NULL);
		pthread_cond_init(&a->cv, NULL);
		rc = -pthread_create(&a->thread, NULL, audit_main, a);
	}
	if (rc) {
		if (a->fd >= 0)
			close(a->fd);
		free(a->lines);
		free(a);
		errno = -rc;
		return NULL;
	}
	return a;
}

void audit_close(struct audit *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	if (a->fd >= 0) {
		fsync(a->fd);
		close(a->fd);
	}
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a->lines);
	free(a);
}

void audit_post(struct audit *a, const struct audit_event *e)
{
	if (!a)
		return;
	char line[AUDIT_LINE];
	struct jw w;
	char ts[96];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 now.tv_nsec / 1000000);
	jw_init(&w, line, sizeof(line) - 1);
	jw_obj_begin(&w);
	jw_key(&w, "time");
	jw_str(&w, ts);
	jw_key(&w, "principal");
	jw_str(&w, e->principal ? e->principal : "");
	jw_key(&w, "source");
	jw_str(&w, e->source ? e->source : "");
	jw_key(&w, "operation");
	jw_str(&w, e->operation ? e->operation : "");
	jw_key(&w, "stream");
	jw_str(&w, e->stream ? e->stream : "");
	jw_key(&w, "result");
	jw_str(&w, e->result ? e->result : "");
	jw_key(&w, "status");
	jw_u64(&w, e->status);
	jw_obj_end(&w);
	if (w.overflow)
		return; /* fields are bounded well below the line size */
	line[w.len++] = '\n';
	pthread_mutex_lock(&a->mu);
	if (a->count == AUDIT_QUEUE) {
		a->dropped++;
	} else {
		uint32_t slot = (a->head + a->count) % AUDIT_QUEUE;
		memcpy(a->lines[slot], line, w.len);
		a->lens[slot] = (uint16_t)w.len;
		a->count++;
	}
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}
