/* SPDX-License-Identifier: Apache-2.0 */
/* The stack against the real Linux TCP stack as its peer, over a TAP device.
 *
 * The test creates a network namespace sl-tcp-<pid> and a TAP device, moves
 * the TAP into the namespace (the kernel side, 10.99.X.1/24) and runs the
 * stack (10.99.X.2) on the frames it reads from the TAP fd, in this process.
 * Clients (tcp_peer.py) run inside the namespace with `ip netns exec`, so no
 * traffic ever reaches the machine's own interfaces. The application on top
 * of the stack echoes every byte back through tcp_send().
 *
 * argv[1] picks the group: "fast" or "slow". Exits 77 without root, TUN or
 * network namespaces. Namespace and TAP are removed at exit, on failure too. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dataplane/net/tcp/tcp_internal.h"

#define PORT 8443
#define MAX_APPS 1024

static char g_ns[32], g_tap[IFNAMSIZ];
static int g_tapfd = -1, g_x;
static char g_ip[32];

struct app {
	struct tcp_conn *c;
	uint8_t *pend;
	uint32_t pend_len, pend_cap;
	bool eof, used;
	uint64_t rx_bytes;
	uint8_t head[64]; /* first bytes received, for the crafted test */
};

struct env {
	struct net_stack *st;
	struct app apps[MAX_APPS];
	uint32_t rcv_buf;
	uint32_t accepted, closed, closed_ok, closed_reset, closed_other;
	uint64_t tx_drops;
};

static struct env g_env;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* ---- the echo application ---- */

static int tap_tx(void *ctx, const uint8_t *frame, uint32_t len)
{
	struct env *e = ctx;

	if (write(g_tapfd, frame, len) != (ssize_t)len) {
		e->tx_drops++;
		return -errno;
	}
	return 0;
}

static void *on_accept(void *ctx, struct tcp_conn *c)
{
	struct env *e = ctx;

	for (uint32_t i = 0; i < MAX_APPS; i++) {
		struct app *a = &e->apps[i];

		if (a->used)
			continue;
		if (a->pend_cap < e->rcv_buf) {
			free(a->pend);
			a->pend = malloc(e->rcv_buf);
			a->pend_cap = e->rcv_buf;
		}
		a->used = true;
		a->c = c;
		a->pend_len = 0;
		a->eof = false;
		a->rx_bytes = 0;
		e->accepted++;
		return a;
	}
	return NULL;
}

static void flush(struct app *a)
{
	if (a->pend_len) {
		int32_t n = tcp_send(a->c, a->pend, a->pend_len);

		if (n < 0)
			n = (int32_t)a->pend_len; /* peer gone: drop */
		memmove(a->pend, a->pend + n, a->pend_len - (uint32_t)n);
		a->pend_len -= (uint32_t)n;
		tcp_recved(a->c, (uint32_t)n);
	}
	if (a->pend_len == 0 && a->eof)
		tcp_shutdown(a->c);
}

static uint32_t on_data(void *cookie, const uint8_t *data, uint32_t len)
{
	struct app *a = cookie;
	uint32_t sent = 0;

	if (a->rx_bytes < sizeof(a->head))
		memcpy(a->head + a->rx_bytes, data,
		       len < sizeof(a->head) - a->rx_bytes ? len : sizeof(a->head) - a->rx_bytes);
	a->rx_bytes += len;
	if (a->pend_len == 0) {
		int32_t n = tcp_send(a->c, data, len);

		sent = n < 0 ? len : (uint32_t)n;
	}
	/* the window guarantees what we keep fits in rcv_buf */
	assert_true(a->pend_len + len - sent <= a->pend_cap);
	memcpy(a->pend + a->pend_len, data + sent, len - sent);
	a->pend_len += len - sent;
	return sent;
}

static void on_eof(void *cookie)
{
	struct app *a = cookie;

	a->eof = true;
	flush(a);
}

static void on_writable(void *cookie)
{
	flush(cookie);
}

static void on_closed(void *cookie, int err)
{
	struct app *a = cookie;
	struct env *e = &g_env;

	e->closed++;
	if (err == 0)
		e->closed_ok++;
	else if (err == -ECONNRESET)
		e->closed_reset++;
	else
		e->closed_other++;
	a->used = false;
	a->c = NULL;
}

static const struct net_ops ops = {.tx = tap_tx};
static const struct net_upcalls ups = {
	.on_accept = on_accept, .on_data = on_data, .on_eof = on_eof,
	.on_writable = on_writable, .on_closed = on_closed,
};

static void base_cfg(struct net_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	uint8_t mac[6] = {0x02, 0x00, 0x00, 0x99, (uint8_t)g_x, 0x02};

	memcpy(cfg->mac, mac, 6);
	cfg->ip = 0x0a630002u | (uint32_t)g_x << 8;
	cfg->prefix_len = 24;
	cfg->listen_ports[0] = PORT;
	cfg->max_conns = 512;
	cfg->backlog = 256;
	cfg->snd_buf_bytes = 65536;
	cfg->rcv_buf_bytes = 65536;
	cfg->time_wait_us = 1000000;
}

static void env_start(const struct net_config *cfg)
{
	struct env *e = &g_env;

	net_destroy(e->st); /* left over by a failed test */
	for (uint32_t i = 0; i < MAX_APPS; i++)
		free(e->apps[i].pend);
	memset(e, 0, sizeof(*e));
	e->rcv_buf = cfg->rcv_buf_bytes;
	e->st = net_create(cfg, &ops, &ups, e, now_us());
	assert_non_null(e->st);
}

static void env_stop(void)
{
	net_destroy(g_env.st);
	g_env.st = NULL;
}

static void pump_once(int wait_ms)
{
	struct pollfd p = {.fd = g_tapfd, .events = POLLIN};
	uint8_t frame[9100];

	poll(&p, 1, wait_ms);
	for (int i = 0; i < 512; i++) {
		ssize_t n = read(g_tapfd, frame, sizeof(frame));

		if (n <= 0)
			break;
		net_input(g_env.st, frame, (uint32_t)n, now_us());
	}
	net_timers(g_env.st, now_us());
}

static void pump_for(uint32_t ms)
{
	uint64_t end = now_us() + ms * 1000ull;

	while (now_us() < end)
		pump_once(1);
}

/* Runs the peer in the namespace while driving the stack; its exit code. */
static int run_peer(int timeout_s, const char *fmt, ...)
{
	char args[256], cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "exec ip netns exec %s /usr/bin/python3 %s %s", g_ns,
		 TCP_PEER_PY, args);
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	assert_true(pid > 0);
	uint64_t end = now_us() + (uint64_t)timeout_s * 1000000;
	int status = 0;

	for (;;) {
		pump_once(1);
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (now_us() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fprintf(stderr, "peer timed out: %s\n", args);
			return -1;
		}
	}
	pump_for(300); /* let the closing handshakes finish */
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void dump_stats(const char *what)
{
	struct net_stats s;

	net_stats(g_env.st, &s);
	fprintf(stderr,
		"[%s] rx %lu tx %lu segs in %lu out %lu rexmit %lu fast %lu rto %lu ooo %lu "
		"chack %lu oow %lu badcsum %lu cookies %lu/%lu acc %lu conns %u half %u "
		"fault drop %lu dup %lu reord %lu\n",
		what, s.rx_frames, s.tx_frames, s.tcp_rx_segs, s.tcp_tx_segs, s.tcp_retransmits,
		s.tcp_fast_retransmits, s.tcp_rto, s.tcp_ooo_segs, s.tcp_challenge_acks,
		s.tcp_out_of_window, s.rx_bad_csum, s.syn_cookies_sent, s.syn_cookies_ok,
		s.tcp_accepted, s.conns_in_use, s.half_open, s.fault_dropped,
		s.fault_duplicated, s.fault_reordered);
	for (uint32_t i = 0; i < g_env.st->cfg.max_conns && i < 8; i++) {
		const struct tcp_conn *c = &g_env.st->conns[i];

		if (c->state == TCPS_CLOSED)
			continue;
		fprintf(stderr, "  conn %u state %d una %u nxt %u max %u swnd %u cwnd %u sbuf %u "
			"rcv_nxt %u adv %u held %u ooo %u [%u,%u) sacked %u rto %u\n", i,
			c->state, c->snd_una, c->snd_nxt, c->snd_max, c->snd_wnd, c->cwnd,
			c->sbuf_len, c->rcv_nxt, c->rcv_adv - c->rcv_nxt, c->app_held, c->n_ooo,
			c->ooo[0].start, c->ooo[0].end, c->n_sacked, c->rto.rto_us);
	}
}

/* ---- tests ---- */

static void test_ping(void **state)
{
	(void)state;
	struct net_config cfg;
	struct net_stats s;

	base_cfg(&cfg);
	env_start(&cfg);
	assert_int_equal(run_peer(20, "ping %s 5", g_ip), 0);
	net_stats(g_env.st, &s);
	assert_true(s.icmp_echo >= 5);
	env_stop();
}

static void echo_case(const char *name, struct net_config *cfg, uint32_t nbytes,
		      uint32_t nconn, int timeout_s)
{
	struct net_stats s;

	env_start(cfg);
	int rc = run_peer(timeout_s, "echo %s %d %u %u", g_ip, PORT, nbytes, nconn);

	pump_for(500);
	dump_stats(name);
	net_stats(g_env.st, &s);
	assert_int_equal(rc, 0);
	assert_int_equal(g_env.accepted, nconn);
	assert_int_equal(g_env.closed_ok, nconn);
	assert_int_equal(g_env.closed, nconn);
	assert_int_equal(s.conns_in_use, 0); /* we closed second: no TIME-WAIT */
	assert_int_equal(s.half_open, 0);
	env_stop();
}

static void test_echo_1mb(void **state)
{
	(void)state;
	struct net_config cfg;

	base_cfg(&cfg);
	echo_case("echo 1 MB", &cfg, 1 << 20, 1, 30);
}

static void test_echo_200_conns(void **state)
{
	(void)state;
	struct net_config cfg;

	base_cfg(&cfg);
	echo_case("200 conns", &cfg, 100000, 200, 60);
}

static void test_rst_mid_transfer(void **state)
{
	(void)state;
	struct net_config cfg;

	base_cfg(&cfg);
	env_start(&cfg);
	int rc = run_peer(30, "rst %s %d", g_ip, PORT);

	dump_stats("rst");
	assert_int_equal(rc, 0);
	assert_int_equal(g_env.accepted, 2);
	assert_int_equal(g_env.closed_reset, 1);
	assert_int_equal(g_env.closed_ok, 1);
	env_stop();
}

static void test_crafted(void **state)
{
	(void)state;
	struct net_config cfg;
	struct net_stats s;

	base_cfg(&cfg);
	env_start(&cfg);
	int rc = run_peer(30, "craft %s %d", g_ip, PORT);

	dump_stats("craft");
	net_stats(g_env.st, &s);
	assert_int_equal(rc, 0);
	assert_true(s.rx_bad_csum >= 1);
	assert_true(s.tcp_out_of_window >= 1);
	assert_true(s.tcp_challenge_acks >= 2);
	assert_true(s.tcp_rst_tx >= 1);
	assert_int_equal(g_env.accepted, 1);
	assert_int_equal(g_env.closed_reset, 1);
	assert_int_equal(g_env.apps[0].rx_bytes, 8); /* GOOD + MORE, never BAD! / FAR! */
	assert_memory_equal(g_env.apps[0].head, "GOODMORE", 8);
	env_stop();
}

static void test_syn_flood(void **state)
{
	(void)state;
	struct net_config cfg;
	struct net_stats s;

	base_cfg(&cfg);
	cfg.backlog = 64;
	cfg.max_conns = 256;
	env_start(&cfg);
	int rc = run_peer(60, "flood %s %d 3000", g_ip, PORT);

	dump_stats("syn flood");
	net_stats(g_env.st, &s);
	assert_int_equal(rc, 0);
	assert_true(s.syn_cookies_sent > 1000);
	assert_true(s.syn_cookies_ok >= 1); /* real clients got in through cookies */
	assert_true(s.half_open <= 64);
	assert_true(s.conns_in_use <= 256);
	assert_int_equal(g_env.closed_ok, 4);
	env_stop();
}

static void test_echo_50mb(void **state)
{
	(void)state;
	struct net_config cfg;

	base_cfg(&cfg);
	cfg.snd_buf_bytes = 1 << 20;
	cfg.rcv_buf_bytes = 1 << 20;
	cfg.max_conns = 4;
	echo_case("echo 50 MB", &cfg, 50u << 20, 1, 150);
}

static void test_echo_50mb_faults(void **state)
{
	(void)state;
	struct net_config cfg;
	const struct net_fault_config f = {.drop_ppm = 50000, .dup_ppm = 20000,
					   .reorder_ppm = 20000, .reorder_us = 300};

	base_cfg(&cfg);
	cfg.snd_buf_bytes = 1 << 20;
	cfg.rcv_buf_bytes = 1 << 20;
	cfg.max_conns = 4;
	cfg.rto_min_us = 20000; /* a LAN-like minimum, or 5% loss is all timeouts */
	cfg.fault_rx = f;
	cfg.fault_rx.seed = 0x5eed1;
	cfg.fault_tx = f;
	cfg.fault_tx.seed = 0x5eed2;
	echo_case("echo 50 MB, 5% drop + dup + reorder", &cfg, 50u << 20, 1, 170);
}

/* ---- namespace and TAP ---- */

static void cleanup(void)
{
	if (g_tapfd >= 0)
		close(g_tapfd); /* a non-persistent TAP disappears with its fd */
	g_tapfd = -1;
	if (g_ns[0])
		sh("ip netns del %s 2>/dev/null", g_ns);
	g_ns[0] = 0;
}

static void on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int setup(char *why, size_t why_len)
{
	struct ifreq ifr = {0};

	if (geteuid() != 0) {
		snprintf(why, why_len, "needs root (network namespaces, TAP)");
		return -1;
	}
	g_tapfd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (g_tapfd < 0) {
		snprintf(why, why_len, "/dev/net/tun: %s", strerror(errno));
		return -1;
	}
	g_x = 100 + getpid() % 150;
	snprintf(g_tap, sizeof(g_tap), "sltap%d", getpid() % 100000);
	snprintf(g_ns, sizeof(g_ns), "sl-tcp-%d", getpid());
	snprintf(g_ip, sizeof(g_ip), "10.99.%d.2", g_x);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, g_tap, strlen(g_tap) + 1);
	if (ioctl(g_tapfd, TUNSETIFF, &ifr) < 0) {
		snprintf(why, why_len, "TUNSETIFF: %s", strerror(errno));
		g_ns[0] = 0;
		return -1;
	}
	if (sh("ip netns add %s", g_ns) != 0) {
		snprintf(why, why_len, "ip netns add failed (no namespace support?)");
		g_ns[0] = 0;
		return -1;
	}
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (sh("ip link set %s netns %s", g_tap, g_ns) ||
	    sh("ip netns exec %s ip link set lo up", g_ns) ||
	    sh("ip netns exec %s ip addr add 10.99.%d.1/24 dev %s", g_ns, g_x, g_tap) ||
	    sh("ip netns exec %s ip link set %s up", g_ns, g_tap)) {
		snprintf(why, why_len, "could not configure %s in %s", g_tap, g_ns);
		return -1;
	}
	/* no partial checksums or GSO super-segments from the kernel side */
	if (sh("ip netns exec %s ethtool -K %s tx off tso off gso off >/dev/null 2>&1", g_ns,
	       g_tap))
		fprintf(stderr, "warning: ethtool -K failed; offloads may be on\n");
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest fast[] = {
		cmocka_unit_test(test_ping),
		cmocka_unit_test(test_echo_1mb),
		cmocka_unit_test(test_echo_200_conns),
		cmocka_unit_test(test_rst_mid_transfer),
		cmocka_unit_test(test_crafted),
		cmocka_unit_test(test_syn_flood),
	};
	const struct CMUnitTest slow[] = {
		cmocka_unit_test(test_echo_50mb),
		cmocka_unit_test(test_echo_50mb_faults),
	};
	char why[128];
	bool is_slow = argc > 1 && strcmp(argv[1], "slow") == 0;

	if (setup(why, sizeof(why)) != 0) {
		cleanup();
		printf("SKIP: %s\n", why);
		return 77;
	}
	int rc = is_slow ? cmocka_run_group_tests_name("tcp_tap_slow", slow, NULL, NULL)
			 : cmocka_run_group_tests_name("tcp_tap", fast, NULL, NULL);

	cleanup();
	return rc;
}
