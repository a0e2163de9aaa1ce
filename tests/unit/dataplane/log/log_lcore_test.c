/* SPDX-License-Identifier: Apache-2.0 */
/* A log lcore whose journal fails answers everything and exits cleanly;
 * before that, a SubscribeToShard poll at the tip waits on the log lcore
 * and is answered as soon as a record of its shard is durable.
 *
 * Real parts: the log lcore (log_lcore_run on its own thread), its journal
 * on disk with encryption at rest, the control plane (RCU reader), the
 * rte_rings. The test plays the io lcore through the rings directly.
 *
 * The fault is injected: st_poll fails only when io_uring itself fails
 * (write errors come back per token), which we cannot cause for real
 * cheaply. So after a first healthy PutRecord the test puts /dev/null in
 * place of the journal's io_uring file descriptor (dup2); the next submit
 * then fails in the kernel (io_uring_enter on a file that is no ring), and
 * st_poll returns that error to the log lcore.
 *
 * What must hold then: the PUT that was in the journal, any PUT posted
 * afterwards, and a seal from the control thread are all answered with an
 * error (-EIO: InternalFailure to a client), never left hanging, and the
 * lcore exits with the journal's error when told to stop. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_eal.h>
#include <rte_ring.h>

#include "common/clock.h"
#include "controlplane/cp.h"
#include "crypto/keyring.h"
#include "dataplane/http/http_internal.h"
#include "dataplane/log/log.h"

#define STREAM 77u
#define DEADLINE_MS 5000

static char g_dir[128];
static struct sl_config g_cfg;
static struct sl_shared g_sh;
static struct lcore_ctx g_lc;
static struct log_ctx g_lg;

static void test_wake(struct lcore_ctx *lc)
{
	(void)lc;
}

static const struct xprt_ops test_xprt = { .name = "test", .wake = test_wake };

static int64_t retention_of(void *sh, uint64_t stream_id)
{
	(void)sh;
	(void)stream_id;
	return 24 * 3600 * 1000;
}

static void *log_thread(void *arg)
{
	return (void *)(intptr_t)log_lcore_run(arg);
}

struct seal_call {
	pthread_t t;
	int rc;
	atomic_bool done;
};

static void *seal_thread(void *arg)
{
	struct seal_call *s = arg;
	st_seq_t last;
	s->rc = log_lcore_seal(&g_sh, STREAM, 0, &last);
	atomic_store(&s->done, true);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Posts m to the log lcore as an io lcore would. */
static void post(struct dp_msg *m)
{
	assert_int_equal(rte_ring_sp_enqueue(g_lg.in[0], m), 0);
	log_lcore_wake(&g_lg);
}

/* Waits (bounded) for the log lcore to return a message. */
static struct dp_msg *wait_reply(void)
{
	void *m = NULL;
	uint64_t end = sl_mono_ms() + DEADLINE_MS;
	while (rte_ring_sc_dequeue(g_lg.out[0], &m) != 0) {
		if (sl_mono_ms() > end)
			return NULL;
		sleep_ms(1);
	}
	return m;
}

static void put_init(struct dp_msg *m, struct dp_rec *r, const char *data)
{
	memset(m, 0, sizeof(*m));
	memset(r, 0, sizeof(*r));
	r->data = (const uint8_t *)data;
	r->data_len = (uint32_t)strlen(data);
	r->pk = "k";
	r->pk_len = 1;
	m->kind = DP_PUT;
	m->stream_id = STREAM;
	m->now_ms = sl_wall_ms();
	m->recs = r;
	m->n_recs = 1;
}

/* A SubscribeToShard poll of shard 0 after position `after` (log.h's
 * sub-wait list: m->sub). */
static void sub_init(struct dp_msg *m, st_seq_t after)
{
	memset(m, 0, sizeof(*m));
	m->kind = DP_GET;
	m->sub = true;
	m->stream_id = STREAM;
	m->shard_index = 0;
	m->seq = after;
	m->after = true;
	m->limit = 10000;
	m->retention_ms = 24 * 3600 * 1000;
	m->now_ms = sl_wall_ms();
	snprintf(m->stream_name, sizeof(m->stream_name), "s");
}

/* Replaces every io_uring file descriptor of this process (the journal's
 * write ring and its read ring, --read-slots) by /dev/null. Returns how
 * many. */
static int break_io_uring(void)
{
	int n = 0, null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	assert_true(null_fd >= 0);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[300], link[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		ssize_t k = readlink(path, link, sizeof(link) - 1);
		if (k <= 0)
			continue;
		link[k] = 0;
		if (strcmp(link, "anon_inode:[io_uring]") == 0) {
			assert_true(dup2(null_fd, atoi(e->d_name)) >= 0);
			n++;
		}
	}
	closedir(d);
	close(null_fd);
	return n;
}

static void test_failing_journal(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/logcore_test_XXXXXX");
	assert_non_null(mkdtemp(g_dir));
	char *argv[] = { "logcore_test", "--data-dir", g_dir, "--segment-mib", "16",
			 "--commit-inflight", "3", "--marker-delay-ms", "5", "--sub-wait-ms", "1000" };
	assert_int_equal(sl_config_parse(&g_cfg, 11, argv), 0);
	assert_int_equal(g_cfg.commit_inflight, 3);
	assert_int_equal(g_cfg.marker_delay_ms, 5); /* the journal's marker_delay_us 5000 */
	char keys[200];
	snprintf(keys, sizeof(keys), "%s/keys", g_dir);
	g_sh.kr = kr_open(keys);
	assert_non_null(g_sh.kr);
	uint32_t ver;
	assert_int_equal(kr_stream_key_new(g_sh.kr, STREAM, NULL, &ver), 0);
	g_sh.routes = route_rcu_create(2); /* io lcore 0, log lcore 0 */
	assert_non_null(g_sh.routes);
	g_sh.ctl = ctl_create(1, NULL, NULL);
	assert_non_null(g_sh.ctl);
	struct cp_config cc = { .data_dir = g_dir, .account_id = "000000000000",
				.n_log_lcores = 1, .ctl = g_sh.ctl, .routes = g_sh.routes };
	struct cp *cp = cp_start(&cc);
	assert_non_null(cp);
	g_sh.cfg = &g_cfg;
	g_sh.n_io = 1;
	g_sh.n_log = 1;
	g_sh.lcs = &g_lc;
	g_sh.logs = &g_lg;
	g_sh.retention_of = retention_of;
	g_lc.sh = &g_sh;
	g_lc.xprt = &test_xprt;
	assert_int_equal(log_lcore_init(&g_lg, &g_sh, 0), 0);
	/* Write completions wake the loop's poll(2) like a posted message
	 * (storage/README.md, "Group commit"). */
	assert_true(g_lg.wr_efd);
	pthread_t lt;
	assert_int_equal(pthread_create(&lt, NULL, log_thread, &g_lg), 0);

	/* Healthy: a record is acknowledged once durable. */
	static struct dp_msg a, b, c;
	static struct dp_rec ra, rb, rc;
	put_init(&a, &ra, "first");
	post(&a);
	assert_ptr_equal(wait_reply(), &a);
	assert_int_equal(a.status, 0);
	assert_int_equal(ra.status, 0);
	assert_true(st_seq_valid(ra.seq));

	/* A batch spread over many shards in scrambled order (the log lcore
	 * sorts it by shard, stably): each shard's records get consecutive
	 * numbers of that shard in request order. */
	static struct dp_msg w;
	static struct dp_rec rw[REC_MAX_RECORDS];
	put_init(&w, &rw[0], "wide");
	for (uint32_t i = 0; i < REC_MAX_RECORDS; i++) {
		rw[i] = rw[0];
		rw[i].shard_index = (i * 7919u) % 37u;
	}
	w.recs = rw;
	w.n_recs = REC_MAX_RECORDS;
	post(&w);
	assert_ptr_equal(wait_reply(), &w);
	assert_int_equal(w.status, 0);
	st_seq_t last[37] = { 0 };
	for (uint32_t i = 0; i < REC_MAX_RECORDS; i++) {
		uint32_t sh = rw[i].shard_index;
		assert_int_equal(rw[i].status, 0);
		assert_int_equal(st_seq_shard(rw[i].seq), sh);
		if (last[sh])
			assert_true(rw[i].seq == last[sh] + 1);
		last[sh] = rw[i].seq;
	}

	/* A subscription poll at the shard's tip waits (no empty answer at
	 * once) and is answered as soon as a record of its shard is durable,
	 * long before its 1 s wait is up. */
	static struct dp_msg sw, sw2, pw;
	static struct dp_rec rpw;
	sub_init(&sw, last[0]);
	post(&sw);
	sleep_ms(200);
	void *early = NULL;
	assert_int_equal(rte_ring_sc_dequeue(g_lg.out[0], &early), -ENOENT);
	uint64_t t0 = sl_mono_ms();
	put_init(&pw, &rpw, "wakes");
	post(&pw);
	struct dp_msg *r1 = wait_reply(), *r2 = wait_reply();
	assert_true((r1 == &pw && r2 == &sw) || (r1 == &sw && r2 == &pw));
	assert_int_equal(rpw.status, 0);
	assert_int_equal(sw.status, 0);
	assert_true(sw.sub_waited);
	assert_int_equal(sw.n_out, 1); /* woken by the record, not timed out */
	assert_true(sl_mono_ms() - t0 < 900);
	free(sw.resp);
	/* One left waiting when the journal fails is answered too. */
	sub_init(&sw2, rpw.seq);
	post(&sw2);
	sleep_ms(100);

	/* The journal's io_uring breaks (see the file comment). */
	assert_int_equal(break_io_uring(), 2);
	put_init(&b, &rb, "second");
	post(&b);
	/* Answered, not lost: the record is not acknowledged; the waiting
	 * subscription poll gets the error. */
	struct dp_msg *f1 = wait_reply(), *f2 = wait_reply();
	assert_true((f1 == &b && f2 == &sw2) || (f1 == &sw2 && f2 == &b));
	assert_int_equal(rb.status, -EIO);
	assert_int_equal(b.status, -EIO);
	assert_int_equal(sw2.status, -EIO);

	/* A seal from the control thread is answered too (it used to block
	 * forever once the log lcore had returned). */
	static struct seal_call s;
	atomic_init(&s.done, false);
	assert_int_equal(pthread_create(&s.t, NULL, seal_thread, &s), 0);
	uint64_t end = sl_mono_ms() + DEADLINE_MS;
	while (!atomic_load(&s.done) && sl_mono_ms() < end)
		sleep_ms(1);
	assert_true(atomic_load(&s.done));
	assert_int_equal(pthread_join(s.t, NULL), 0);
	assert_int_equal(s.rc, -EIO);

	/* What io lcores post afterwards gets an error at once. */
	put_init(&c, &rc, "third");
	post(&c);
	assert_ptr_equal(wait_reply(), &c);
	assert_int_equal(rc.status, -EIO);

	/* Shutdown: the lcore exits, reporting the journal's error. */
	atomic_store(&g_sh.stop_logs, true);
	log_lcore_wake(&g_lg);
	void *ret;
	assert_int_equal(pthread_join(lt, &ret), 0);
	assert_true((intptr_t)ret < 0);
	log_lcore_fini(&g_lg);
	cp_stop(cp);
	ctl_destroy(g_sh.ctl);
	route_rcu_free(g_sh.routes);
	kr_close(g_sh.kr);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	char *eal_args[] = { "logcore_test", "--no-pci", "--no-huge", "-m", "64", "--no-shconf",
			     "--log-level=lib.eal:error", "--no-telemetry", "-l", "0" };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failing_journal),
	};
	if (rte_eal_init((int)(sizeof(eal_args) / sizeof(eal_args[0])), eal_args) < 0) {
		fprintf(stderr, "rte_eal_init failed: cannot run here\n");
		return 77;
	}
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	return rc;
}
