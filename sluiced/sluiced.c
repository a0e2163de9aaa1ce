/* SPDX-License-Identifier: Apache-2.0 */
/* sluiced: start-up, wiring and shutdown. Everything here runs once.
 *
 * This is the one place that knows both the control plane and the
 * dataplane: it creates the dataplane's control queue (dataplane/ctl) and
 * routing publication point (dataplane/route), hands them to the control
 * plane (cp_start) and to the lcores (struct sl_shared), and tears them down
 * after both have stopped. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "admin/admin.h"
#include "common/config.h"
#include "common/file.h"
#include "common/log.h"
#include "controlplane/cp.h"
#include "controlplane/cp_store_etcd.h"
#include "common/audit.h"
#include "crypto/keyring.h"
#include "crypto/policy.h"
#include "crypto/sigv4.h"
#include "crypto/tls.h"
#include "dataplane/core/core.h"
#include "dataplane/ctl/ctl.h"
#include "dataplane/log/log.h"
#include "sluiced/eal.h"
#include "sluiced/delivery.h"
#include "sluiced/mirror.h"
#include "dataplane/net/dpdk/dpdk.h"
#include "dataplane/route/route.h"
#include "version.h"

static struct sl_shared g_sh;
static struct lcore_ctx *g_lcs;
static uint32_t g_nlcs;
static struct log_ctx *g_logs;
static struct cp *g_cp; /* the control plane: only sluiced holds it */
static struct mirror *g_mirror; /* --mirror-config, NULL when off */
static struct delivery *g_delivery; /* --channel-config, NULL when off */

/* The admin listener takes one extra scrape: the mirror's and delivery's. */
static void scrape_extra(void *ctx, struct prom_buf *b)
{
	(void)ctx;
	if (g_mirror)
		mirror_scrape(g_mirror, b);
	if (g_delivery)
		delivery_scrape(g_delivery, b);
}
static struct admin *g_admin; /* the admin listener, NULL when off */
static char g_version[128];

/* "0.1.0", or "0.1.0 (git describe)" when built from a checkout that says
 * something else. */
static const char *version(void)
{
	if (strcmp(SL_VCS_VERSION, SL_PROJECT_VERSION) == 0)
		snprintf(g_version, sizeof(g_version), "%s", SL_PROJECT_VERSION);
	else
		snprintf(g_version, sizeof(g_version), "%s (%s)", SL_PROJECT_VERSION,
			 SL_VCS_VERSION);
	return g_version;
}

/* The admin listener (--admin-listen). A default address that is taken
 * (another sluiced on this host) costs only the listener, with a warning;
 * one given on the command line must work. Returns 0 or -errno. */
static int start_admin(const struct sl_config *cfg)
{
	if (cfg->admin_off)
		return 0;
	struct admin_config ac = {
		.sh = &g_sh, .cp = g_cp, .version = version(),
		/* readers: io lcores, log lcores, then this one */
		.route_reader = (uint16_t)(g_nlcs + cfg->log_cores),
		.scrape_extra = g_mirror || g_delivery ? scrape_extra : NULL,
	};
	g_admin = admin_start(&ac);
	if (g_admin)
		return 0;
	int rc = -errno;
	if (cfg->admin_listen_set || rc != -EADDRINUSE)
		return rc;
	SL_WARN("admin listener: %s:%u is taken; serving without it (give --admin-listen)",
		cfg->admin_host, cfg->admin_port);
	return 0;
}

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		atomic_fetch_add(&g_sh.tls_gen, 1); /* lcores reload at their next tick */
	else
		atomic_store_explicit(&g_sh.stop, true, memory_order_release);
	for (uint32_t i = 0; i < g_nlcs; i++)
		if (g_lcs[i].xprt)
			g_lcs[i].xprt->wake(&g_lcs[i]); /* write() to an eventfd */
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[SL_PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Creates dir (and its parents) 0700 if missing, then makes sure it is a
 * directory owned by us that nobody else can enter: an existing one with
 * group or other bits is tightened to 0700 (logged), one owned by another
 * user is refused. Everything sluice keeps (journals, metadata, keys,
 * credentials) lives under such a directory, so a permissive mode left by
 * an earlier install or a careless mkdir must not leak it. Returns 0 or
 * -errno (-EPERM: another owner; -ENOTDIR). */
static int secure_dir(const char *dir)
{
	int rc = mkdir_p(dir, 0700);
	if (rc < 0)
		return rc;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
	} else if (!S_ISDIR(st.st_mode)) {
		rc = -ENOTDIR;
	} else if (st.st_uid != geteuid()) {
		SL_ERR("%s belongs to uid %u, not to us (uid %u): refusing to use it", dir,
		       (unsigned)st.st_uid, (unsigned)geteuid());
		rc = -EPERM;
	} else if (st.st_mode & 077) {
		if (fchmod(fd, 0700) < 0) {
			rc = -errno;
		} else {
			SL_WARN("%s was mode %04o: tightened to 0700", dir,
				(unsigned)(st.st_mode & 07777));
			rc = 0;
		}
	}
	close(fd);
	return rc;
}

/* The address clients reach the userspace stack at (sluiced.addr, the
 * certificate): the IPv6 one ("[..]") when --listen names an IPv6 host or
 * there is no --ip, else the IPv4 one. */
static void dpdk_host(const struct sl_config *cfg, char *out, size_t cap)
{
	char a[INET6_ADDRSTRLEN];
	uint32_t ip = cfg->ip4_addr;
	if (cfg->ip6_prefix_len && (!ip || strchr(cfg->listen_host, ':')) &&
	    inet_ntop(AF_INET6, cfg->ip6_addr, a, sizeof(a))) {
		snprintf(out, cap, "[%s]", a);
		return;
	}
	snprintf(out, cap, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
		 ip & 0xff);
}

/* "HOST:PORT" clients reach the API at (sluiced.addr, the node key in
 * etcd): its length, or -ENAMETOOLONG. */
static int main_addr(const struct sl_config *cfg, uint16_t port, char *line, size_t cap)
{
	int n;

	if (strcmp(cfg->transport, "dpdk") == 0) {
		char host[INET6_ADDRSTRLEN + 2];
		dpdk_host(cfg, host, sizeof(host));
		n = snprintf(line, cap, "%s:%u", host, port);
	} else {
		bool v6 = strchr(cfg->listen_host, ':') != NULL;
		n = snprintf(line, cap, v6 ? "[%s]:%u" : "%s:%u", cfg->listen_host, port);
	}
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : n;
}

/* --metadata etcd: this node's membership and the watch (cp_cluster.c).
 * The node id defaults to HOSTNAME-PORT, the host name cut to what the
 * id allows, so nodes on one machine differ by their ports. */
static int start_cluster(const struct sl_config *cfg, const struct cp_store_etcd_cfg *ecfg)
{
	char addr[300], id[65], host[64] = "";
	int rc = main_addr(cfg, g_sh.actual_port, addr, sizeof(addr));

	if (rc < 0)
		return rc;
	if (cfg->node_id[0]) {
		snprintf(id, sizeof(id), "%s", cfg->node_id);
	} else {
		if (gethostname(host, sizeof(host) - 1) < 0 || host[0] == '\0')
			snprintf(host, sizeof(host), "node");
		host[strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")] =
			'\0';
		snprintf(id, sizeof(id), "%.50s-%u", host[0] ? host : "node", g_sh.actual_port);
	}
	struct cp_cluster_cfg cc = { .etcd = ecfg, .node_id = id, .addr = addr,
				     .lease_ttl_s = cfg->etcd_lease_ttl_s };
	return cp_cluster_start(g_cp, &cc);
}

/* DIR/sluiced.addr holds "HOST:PORT\n" once the server accepts connections;
 * published with sl_file_replace so a reader never sees half a line.
 * DIR/sluiced.plain.addr the same for --plain-listen (removed when off, so
 * it never names a port of an earlier run). */
static int write_addr_file(const struct sl_config *cfg, uint16_t port)
{
	char path[SL_PATH_MAX + 32], line[sizeof(cfg->listen_host) + 16]; /* + "[]:65535\n" */
	int n;
	snprintf(path, sizeof(path), "%s/sluiced.plain.addr", cfg->data_dir);
	if (cfg->plain_listen[0]) {
		bool v6 = strchr(cfg->plain_host, ':') != NULL;
		n = snprintf(line, sizeof(line), v6 ? "[%s]:%u\n" : "%s:%u\n", cfg->plain_host,
			     g_sh.actual_plain_port);
		if (n < 0 || (size_t)n >= sizeof(line))
			return -ENAMETOOLONG;
		int rc = sl_file_replace(path, line, (size_t)n, 0644);
		if (rc < 0)
			return rc;
	} else if (unlink(path) < 0 && errno != ENOENT) {
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/sluiced.addr", cfg->data_dir);
	n = main_addr(cfg, port, line, sizeof(line) - 1);
	if (n < 0)
		return n;
	line[n++] = '\n';
	return sl_file_replace(path, line, (size_t)n, 0644);
}

static int lcore_main(void *arg)
{
	return lcore_run(arg);
}

static int log_main(void *arg)
{
	return log_lcore_run(arg);
}

/* The shard-iterator MAC key: 32 random bytes in KEYS/iterator.key
 * (0600), kept across restarts so iterators stay valid for their 5 minutes. */
static int load_iter_key(const char *dir, uint8_t key[32])
{
	char path[SL_PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/iterator.key", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, key, 32);
		close(fd);
		return n == 32 ? 0 : -EINVAL;
	}
	if (RAND_bytes(key, 32) != 1)
		return -EIO;
	return sl_file_replace(path, key, 32, 0600);
}

/* st_retention_fn for the journals: a stream's retention, or -1 when it is
 * gone (deleted: its data may all go). Runs on a log lcore, which is a
 * routing-table reader. */
static int64_t retention_of(void *arg, uint64_t stream_id)
{
	struct sl_shared *sh = arg;
	const struct route_table *rt = route_get(sh->routes);
	for (uint32_t i = 0; i < rt->n_streams; i++)
		if (rt->streams[i].id == stream_id)
			return (int64_t)rt->streams[i].retention_hours * 3600 * 1000;
	return -1;
}

/* Fills the certificate paths (generating a local CA and server certificate
 * on first start unless --tls-cert is given) and checks they load. */
static int setup_tls(const struct sl_config *cfg)
{
	char dir[SL_PATH_MAX + 8];
	if (cfg->tls_cert[0]) {
		snprintf(g_sh.tls_cert_path, sizeof(g_sh.tls_cert_path), "%s", cfg->tls_cert);
		snprintf(g_sh.tls_key_path, sizeof(g_sh.tls_key_path), "%s", cfg->tls_key);
	} else {
		snprintf(dir, sizeof(dir), "%s/tls", cfg->data_dir);
		/* The certificate names the address clients connect to: the
		 * userspace stack's --ip in DPDK mode. */
		char host[64];
		if (strcmp(cfg->transport, "dpdk") == 0)
			dpdk_host(cfg, host, sizeof(host));
		else
			snprintf(host, sizeof(host), "%.63s", cfg->listen_host);
		int rc = tls_material_ensure(dir, host);
		if (rc < 0) {
			SL_ERR("cannot create TLS material in %s: %s", dir, strerror(-rc));
			return rc;
		}
		snprintf(g_sh.tls_cert_path, sizeof(g_sh.tls_cert_path), "%s/server.pem", dir);
		snprintf(g_sh.tls_key_path, sizeof(g_sh.tls_key_path), "%s/server.key", dir);
	}
	g_sh.cfg = cfg;
	struct tls_server *probe = lcore_tls_server(&g_sh);
	if (!probe)
		return -EINVAL;
	tls_server_free(probe);
	return 0;
}

/* The keys directory: secured like the data directory. A data directory
 * that already holds streams (DIR/meta.db) but a keys directory without
 * master keys means the operator pointed --keys-dir at the wrong place (or
 * forgot it): starting would mint new master keys and leave every encrypted
 * stream unreadable, so refuse instead. */
static int check_keys_dir(const struct sl_config *cfg, const char *kdir)
{
	char meta[SL_PATH_MAX + 16], masters[SL_PATH_MAX + 16];
	snprintf(meta, sizeof(meta), "%s/meta.db", cfg->data_dir);
	snprintf(masters, sizeof(masters), "%s/masters", kdir);
	if (access(meta, F_OK) == 0 && access(masters, F_OK) != 0 && errno == ENOENT) {
		SL_ERR("%s holds streams but %s has no master keys: give the --keys-dir "
		       "they were created with", cfg->data_dir, kdir);
		return -ENOENT;
	}
	int rc = secure_dir(kdir);
	if (rc < 0)
		SL_ERR("cannot use %s as the keys directory: %s", kdir, strerror(-rc));
	return rc;
}

static struct sigv4_keyring *load_keys(const struct sl_config *cfg)
{
	char path[SL_PATH_MAX + 32];
	if (cfg->credentials[0])
		snprintf(path, sizeof(path), "%s", cfg->credentials);
	else
		snprintf(path, sizeof(path), "%s/credentials", cfg->data_dir);
	struct sigv4_keyring *kr = sigv4_keyring_load(path, !cfg->credentials[0]);
	if (!kr)
		SL_ERR("cannot load credentials from %s: %s", path, strerror(errno));
	return kr;
}

static int run(const struct sl_config *cfg)
{
	int rc;
	/* First: a peer that goes away mid-write must give EPIPE, never kill
	 * the process, and the control plane (etcd), the mirror and delivery
	 * clients write to sockets from their start on. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		SL_ERR("cannot ignore SIGPIPE: %s", strerror(errno));
		return 1;
	}
	if ((rc = secure_dir(cfg->data_dir)) < 0) {
		SL_ERR("cannot use %s as the data directory: %s", cfg->data_dir, strerror(-rc));
		return 1;
	}
	char kdir[SL_PATH_MAX + 8];
	if (cfg->keys_dir[0])
		snprintf(kdir, sizeof(kdir), "%s", cfg->keys_dir);
	else
		snprintf(kdir, sizeof(kdir), "%s/keys", cfg->data_dir);
	if ((rc = check_keys_dir(cfg, kdir)) < 0)
		return 1;
	char addr_path[SL_PATH_MAX + 32];
	snprintf(addr_path, sizeof(addr_path), "%s/sluiced.addr", cfg->data_dir);
	unlink(addr_path);
	if (setup_tls(cfg) < 0)
		return 1;
	struct sigv4_keyring *kr = load_keys(cfg);
	if (!kr)
		return 1;
	g_sh.keys = kr;
	char cred_path[SL_PATH_MAX + 32], why[256] = "";
	if (cfg->credentials[0])
		snprintf(cred_path, sizeof(cred_path), "%s", cfg->credentials);
	else
		snprintf(cred_path, sizeof(cred_path), "%s/credentials", cfg->data_dir);
	struct policy_set *policies = policy_set_load(cred_path, why, sizeof(why));
	if (!policies) {
		SL_ERR("access policies: %s", why);
		return 1;
	}
	g_sh.policies = policies;
	if (cfg->mirror_config[0]) {
		struct mirror_local ml = { .data_dir = cfg->data_dir, .credentials = cred_path,
					   .region = cfg->region, .stop = &g_sh.stop };
		if (!(g_mirror = mirror_open(cfg->mirror_config, &ml)))
			return 1;
	}
	if (cfg->channel_config[0]) {
		struct delivery_local dl = { .data_dir = cfg->data_dir, .credentials = cred_path,
					     .region = cfg->region, .stop = &g_sh.stop };
		if (!(g_delivery = delivery_open(cfg->channel_config, &dl)))
			return 1;
	}
	g_sh.audit = audit_open(cfg->data_dir, (uint64_t)cfg->audit_max_mib << 20, cfg->audit_keep);
	if (!g_sh.audit) {
		SL_ERR("cannot open the audit log in %s: %s", cfg->data_dir, strerror(errno));
		return 1;
	}
	g_sh.cfg = cfg;
	if ((rc = load_iter_key(kdir, g_sh.iter_key)) < 0) {
		SL_ERR("cannot create the iterator key: %s", strerror(-rc));
		return 1;
	}
	g_sh.kr = kr_open(kdir);
	if (!g_sh.kr) {
		SL_ERR("cannot open the keyring in %s: %s", kdir, strerror(errno));
		return 1;
	}
	if (sl_eal_init(cfg) < 0)
		return 1;
	if (strcmp(cfg->transport, "dpdk") == 0) {
		g_sh.dpk = dpk_create(&(struct dpk_conf){ .n_lcores = (uint16_t)cfg->io_cores });
		if (!g_sh.dpk) {
			SL_ERR("DPDK ports: %s (give a port with --dpdk-args --vdev=...)",
			       strerror(errno));
			return 1;
		}
		if (dpk_link_wait(g_sh.dpk, 5000) < 0)
			SL_WARN("DPDK: link not up after 5 s; serving anyway");
		g_sh.actual_port = cfg->listen_port; /* the stack listens on it */
	}
	g_nlcs = cfg->io_cores;
	g_lcs = calloc(g_nlcs, sizeof(*g_lcs));
	g_logs = calloc(cfg->log_cores, sizeof(*g_logs));
	if (!g_lcs || !g_logs)
		return 1;
	g_sh.n_io = (uint16_t)cfg->io_cores;
	g_sh.n_log = (uint16_t)cfg->log_cores;
	g_sh.lcs = g_lcs;
	g_sh.logs = g_logs;
	g_sh.retention_of = retention_of;
	/* Routing readers: io lcores 0..n-1, then log lcores n..n+m-1, then
	 * the admin listener's scrape. */
	g_sh.routes = route_rcu_create(g_nlcs + cfg->log_cores + 1);
	if (!g_sh.routes) {
		SL_ERR("routing table: %s", strerror(errno));
		return 1;
	}
	g_sh.ctl = ctl_create((uint16_t)g_nlcs, lcore_wake_cb, g_lcs);
	if (!g_sh.ctl) {
		SL_ERR("control request queue: %s", strerror(errno));
		return 1;
	}
	/* --metadata etcd=URL: the etcd store instead of DIR/meta.db */
	struct cp_store_etcd_cfg ecfg = {
		.etcd = { .endpoint = cfg->etcd_endpoint, .ca = cfg->etcd_ca,
			  .cert = cfg->etcd_cert, .key = cfg->etcd_key,
			  .timeout_ms = cfg->etcd_timeout_ms },
		.cluster = cfg->etcd_cluster,
	};
	struct cp_config cc = {
		.data_dir = cfg->data_dir,
		.account_id = cfg->account_id,
		.create_delay_ms = cfg->create_delay_ms,
		.delete_delay_ms = cfg->delete_delay_ms,
		.shard_limit = cfg->shard_limit,
		.stream_limit = cfg->stream_limit,
		.n_log_lcores = (uint16_t)cfg->log_cores,
		.ctl = g_sh.ctl,
		.routes = g_sh.routes,
		.ctl_rate_limits = strcmp(cfg->quota_mode, "off") != 0,
		.seal = log_lcore_seal,
		.seal_arg = &g_sh,
		.kr = g_sh.kr,
		.etcd = cfg->etcd_endpoint[0] ? &ecfg : NULL,
	};
	g_cp = cp_start(&cc);
	if (!g_cp) {
		SL_ERR("control plane failed to start: %s", strerror(errno));
		return 1;
	}
	for (uint32_t i = 0; i < cfg->log_cores; i++)
		if ((rc = log_lcore_init(&g_logs[i], &g_sh, (uint16_t)i)) < 0) {
			SL_ERR("log lcore %u setup failed: %s", i, strerror(-rc));
			return 1;
		}
	for (uint32_t i = 0; i < g_nlcs; i++)
		if ((rc = lcore_init(&g_lcs[i], &g_sh, (uint16_t)i)) < 0) {
			SL_ERR("io lcore %u setup failed: %s", i, strerror(-rc));
			return 1;
		}
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Before sluiced.addr: whoever waits for that file finds the admin
	 * listener's (sluiced.admin) already there. */
	if ((rc = start_admin(cfg)) < 0) {
		SL_ERR("admin listener: %s", strerror(-rc));
		return 1;
	}
	if (cfg->etcd_endpoint[0] && (rc = start_cluster(cfg, &ecfg)) < 0) {
		SL_ERR("cluster membership: %s", strerror(-rc));
		return 1;
	}
	if ((rc = write_addr_file(cfg, g_sh.actual_port)) < 0) {
		SL_ERR("cannot write %s: %s", addr_path, strerror(-rc));
		return 1;
	}
	SL_INFO("sluiced serving https://%s:%u (%u io lcores, transport %s)", cfg->listen_host,
		g_sh.actual_port, g_nlcs, cfg->transport);
	if (cfg->plain_listen[0]) {
		bool v6 = strchr(cfg->plain_host, ':') != NULL;
		SL_WARN("sluiced also serving PLAINTEXT http://%s%s%s:%u (--plain-listen: HTTP/1.1 "
			"and h2c, no TLS: requests, records and responses cross the network "
			"unencrypted; SigV4 is still required)", v6 ? "[" : "", cfg->plain_host,
			v6 ? "]" : "", g_sh.actual_plain_port);
	}
	/* lcore ids follow sl_eal_init: io 1..io-1 on workers, then logs. A
	 * launch that fails stops everything through the normal shutdown
	 * (nothing may post to a log lcore that does not run). */
	int launch_rc = 0;
	for (uint32_t i = 0; i < cfg->log_cores && launch_rc == 0; i++)
		if ((launch_rc = rte_eal_remote_launch(log_main, &g_logs[i], g_nlcs + i)) != 0)
			SL_ERR("cannot start log lcore %u: %s", i, strerror(-launch_rc));
	for (uint32_t i = 1; i < g_nlcs && launch_rc == 0; i++)
		if ((launch_rc = rte_eal_remote_launch(lcore_main, &g_lcs[i], i)) != 0)
			SL_ERR("cannot start io lcore %u: %s", i, strerror(-launch_rc));
	if (launch_rc != 0)
		atomic_store_explicit(&g_sh.stop, true, memory_order_release);
	/* After the lcores are launched: the mirror and delivery read through
	 * the listener (a wildcard listen address is dialled on loopback). */
	bool any = strcmp(cfg->listen_host, "0.0.0.0") == 0 || strcmp(cfg->listen_host, "::") == 0;
	const char *lhost = !any ? cfg->listen_host : cfg->listen_host[0] == ':' ? "::1" : "127.0.0.1";
	if (launch_rc == 0 && g_mirror &&
	    (launch_rc = mirror_start(g_mirror, lhost, g_sh.actual_port)) < 0)
		atomic_store_explicit(&g_sh.stop, true, memory_order_release);
	if (launch_rc == 0 && g_delivery &&
	    (launch_rc = delivery_start(g_delivery, lhost, g_sh.actual_port)) < 0)
		atomic_store_explicit(&g_sh.stop, true, memory_order_release);
	rc = lcore_run(&g_lcs[0]);
	for (uint32_t i = 1; i < g_nlcs; i++)
		if (rte_eal_wait_lcore(i) < 0)
			rc = -EIO;
	/* Every io lcore has drained (no message is out): now the journals
	 * flush, checkpoint and close. */
	atomic_store_explicit(&g_sh.stop_logs, true, memory_order_release);
	for (uint32_t i = 0; i < cfg->log_cores; i++)
		log_lcore_wake(&g_logs[i]);
	/* A log lcore whose journal failed returns its error: exit 1. */
	for (uint32_t i = 0; i < cfg->log_cores; i++)
		if (rte_eal_wait_lcore(g_nlcs + i) < 0)
			rc = -EIO;
	if (launch_rc != 0)
		rc = launch_rc;
	admin_stop(g_admin); /* it reads the lcores' counters: before they go */
	g_admin = NULL;
	/* After the admin thread (it scrapes the mirror's counters); the
	 * mirror has seen stop and its last call is answered or failed. */
	mirror_stop(g_mirror);
	g_mirror = NULL;
	delivery_stop(g_delivery);
	g_delivery = NULL;
	unlink(addr_path);
	for (uint32_t i = 0; i < cfg->log_cores; i++)
		log_lcore_fini(&g_logs[i]);
	cp_stop(g_cp);
	kr_close(g_sh.kr); /* after every reader (log lcores) is gone */
	for (uint32_t k = 0; k < g_nlcs; k++)
		lcore_fini(&g_lcs[k]);
	/* Every poster, reader and the answerer are gone. */
	ctl_destroy(g_sh.ctl);
	route_rcu_free(g_sh.routes);
	free(g_lcs);
	free(g_logs);
	sigv4_keyring_free(kr);
	policy_set_free(policies);
	audit_close(g_sh.audit);
	dpk_destroy(g_sh.dpk);
	rte_eal_cleanup();
	SL_INFO("sluiced stopped");
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	static struct sl_config cfg;
	int rc = sl_config_parse(&cfg, argc, argv);
	if (rc == 2) {
		printf("sluiced %s\n", version());
		return 0;
	}
	if (rc)
		return rc > 0 ? 0 : 2;
	sl_log_set_level(cfg.log_level);
	sl_log_set_format(cfg.log_format);
	umask(077); /* every file we create is ours alone unless chmod'ed */
	return run(&cfg);
}
