/* SPDX-License-Identifier: Apache-2.0 */
/* storage_limit: the durable-write limit for compare.sh. Sequential,
 * 4 KiB-aligned O_DIRECT writes with RWF_DSYNC through io_uring, the way the
 * journal's group commit writes (storage/st_journal.c: one buffer per flush,
 * up to max_inflight flushes in flight). Reports MB/s and write latency.
 *
 *   storage_limit --file PATH [--write-bytes N] [--inflight N]
 *                 [--duration S] [--file-mb N] [--cpu N] [--prewrite 0|1]
 * The file is preallocated and rewritten in a loop; it is removed at exit.
 * --prewrite 1 writes the whole file once (and fdatasyncs it) before the
 * clock starts: fallocate leaves unwritten extents, and a durable write into
 * one also converts the extent (a metadata change, so a filesystem journal
 * commit on ext4) where a rewrite of written blocks is data and a cache
 * flush only. The journal's segments are fallocated: compare the two. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SL_MAX_INFLIGHT 64
#define SL_ALIGN 4096u
#define SL_MAX_SAMPLES (1u << 22)

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

struct opts {
	const char *path;
	uint64_t write_bytes, file_bytes;
	uint32_t inflight;
	double duration_s;
	int cpu;
	int prewrite;
};

static int parse(struct opts *o, int argc, char **argv)
{
	*o = (struct opts){ NULL, 512u * 1024u, 1024ull << 20, 2, 5.0, -1, 0 };
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--file"))
			o->path = v;
		else if (!strcmp(k, "--write-bytes"))
			o->write_bytes = strtoull(v, NULL, 10);
		else if (!strcmp(k, "--inflight"))
			o->inflight = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--duration"))
			o->duration_s = strtod(v, NULL);
		else if (!strcmp(k, "--file-mb"))
			o->file_bytes = strtoull(v, NULL, 10) << 20;
		else if (!strcmp(k, "--cpu"))
			o->cpu = atoi(v);
		else if (!strcmp(k, "--prewrite"))
			o->prewrite = atoi(v);
		else
			return -1;
	}
	/* writes are rounded up to the 4 KiB alignment O_DIRECT needs */
	o->write_bytes = (o->write_bytes + SL_ALIGN - 1) / SL_ALIGN * SL_ALIGN;
	if (!o->path || !o->write_bytes || o->write_bytes > (64u << 20) || !o->inflight ||
	    o->inflight > SL_MAX_INFLIGHT || o->duration_s <= 0 || o->duration_s > 3600 ||
	    o->file_bytes < o->write_bytes * o->inflight || o->file_bytes > (64ull << 30) ||
	    (o->prewrite != 0 && o->prewrite != 1))
		return -1;
	return 0;
}

struct slot {
	void *buf;
	uint64_t start_ns;
};

static int submit(struct io_uring *ring, int fd, struct slot *s, const struct opts *o,
		  uint64_t *off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	if (!sqe)
		return -EBUSY;
	if (*off + o->write_bytes > o->file_bytes)
		*off = 0;
	io_uring_prep_write(sqe, fd, s->buf, (unsigned)o->write_bytes, *off);
	sqe->rw_flags = RWF_DSYNC;
	io_uring_sqe_set_data(sqe, s);
	*off += o->write_bytes;
	s->start_ns = mono_ns();
	return 0;
}

/* Writes every block of the file once (plain O_DIRECT writes, one
 * fdatasync at the end): the extents are written, not unwritten. */
static int prewrite(int fd, const struct opts *o, const void *buf)
{
	for (uint64_t off = 0; off + o->write_bytes <= o->file_bytes; off += o->write_bytes) {
		errno = 0;
		if (pwrite(fd, buf, o->write_bytes, (off_t)off) != (ssize_t)o->write_bytes) {
			if (errno == 0)
				errno = EIO;
			return -1;
		}
	}
	return fdatasync(fd);
}

static void report(const struct opts *o, uint64_t writes, double el, uint64_t *lat, uint64_t n)
{
	qsort(lat, n, sizeof(*lat), cmp_u64);
	double mbs = (double)(writes * o->write_bytes) / 1e6 / el;
	printf("storage_limit write_bytes=%lu inflight=%u prewrite=%d: %.1f MB/s, %.0f writes/s, "
	       "latency p50 %.3f ms p99 %.3f ms\n",
	       (unsigned long)o->write_bytes, o->inflight, o->prewrite, mbs, (double)writes / el,
	       n ? (double)lat[n / 2] / 1e6 : 0.0, n ? (double)lat[n * 99 / 100] / 1e6 : 0.0);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct io_uring ring;
	struct slot slots[SL_MAX_INFLIGHT];
	if (parse(&o, argc, argv)) {
		fprintf(stderr, "usage: storage_limit --file PATH [--write-bytes N] [--inflight N]"
				" [--duration S] [--file-mb N] [--cpu N] [--prewrite 0|1]\n");
		return 2;
	}
	if (o.cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	int fd = open(o.path, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
	if (fd < 0 || fallocate(fd, 0, 0, (off_t)o.file_bytes)) {
		fprintf(stderr, "storage_limit: %s: %s\n", o.path, strerror(errno));
		return 1;
	}
	uint64_t *lat = malloc(sizeof(uint64_t) * SL_MAX_SAMPLES);
	if (!lat || io_uring_queue_init(SL_MAX_INFLIGHT * 2, &ring, 0)) {
		fprintf(stderr, "storage_limit: setup failed\n");
		return 1;
	}
	for (uint32_t i = 0; i < o.inflight; i++) {
		if (posix_memalign(&slots[i].buf, SL_ALIGN, o.write_bytes))
			return 1;
		memset(slots[i].buf, (int)(0x5a + i), o.write_bytes);
	}
	if (o.prewrite && prewrite(fd, &o, slots[0].buf) < 0) {
		fprintf(stderr, "storage_limit: prewrite %s: %s\n", o.path, strerror(errno));
		return 1;
	}
	uint64_t off = 0, writes = 0, nlat = 0, start = mono_ns();
	uint64_t end = start + (uint64_t)(o.duration_s * 1e9);
	for (uint32_t i = 0; i < o.inflight; i++)
		submit(&ring, fd, &slots[i], &o, &off);
	io_uring_submit(&ring);
	uint32_t pending = o.inflight;
	int rc = 0;
	while (pending) {
		struct io_uring_cqe *cqe;
		if (io_uring_wait_cqe(&ring, &cqe))
			break;
		struct slot *s = io_uring_cqe_get_data(cqe);
		uint64_t now = mono_ns();
		if (cqe->res != (int)o.write_bytes) {
			fprintf(stderr, "storage_limit: write: %s\n",
				cqe->res < 0 ? strerror(-cqe->res) : "short");
			rc = 1;
		}
		io_uring_cqe_seen(&ring, cqe);
		pending--;
		writes++;
		if (nlat < SL_MAX_SAMPLES)
			lat[nlat++] = now - s->start_ns;
		if (now < end && !rc) {
			submit(&ring, fd, s, &o, &off);
			io_uring_submit(&ring);
			pending++;
		}
	}
	report(&o, writes, (double)(mono_ns() - start) / 1e9, lat, nlat);
	io_uring_queue_exit(&ring);
	close(fd);
	unlink(o.path);
	for (uint32_t i = 0; i < o.inflight; i++)
		free(slots[i].buf);
	free(lat);
	return rc;
}
