/* SPDX-License-Identifier: Apache-2.0 */
#include "common/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bug.h"

/* Numeric flags with their bounds: a value outside [min, max] is refused at
 * start-up rather than clamped, so an operator never runs with a setting other
 * than the one they wrote. */
struct num_flag {
	const char *name;
	size_t off;
	uint64_t min, max;
	const char *help;
};

#define OFF(f) offsetof(struct sl_config, f)
static const struct num_flag num_flags[] = {
	{ "io-cores", OFF(io_cores), 1, SL_IO_CORES_MAX, "io lcores (network, TLS, HTTP, API)" },
	{ "dpdk-idle-us", OFF(dpdk_idle_us), 0, 10000,
	  "DPDK: nap this long after a long run of empty polls (0: pure busy-poll)" },
	{ "dpdk-ack-burst", OFF(dpdk_ack_burst), 0, 1,
	  "DPDK: 1 (default) = one ACK per connection per receive burst, 0 = every 2nd segment" },
	{ "dpdk-vlan", OFF(dpdk_vlan), 0, 4094,
	  "DPDK: 802.1Q VLAN ID to tag frames with and accept (0: untagged)" },
	{ "log-cores", OFF(log_cores), 1, SL_LOG_CORES_MAX,
	  "log lcores (one journal each, DIR/log/N)" },
	/* A segment holds at least one whole write buffer (12 MiB: a 10 MiB
	 * record and its chunk framing), so 16 MiB is the floor. */
	{ "segment-mib", OFF(segment_mib), 16, 4096, "journal segment file size in MiB" },
	{ "max-shards-per-log", OFF(max_shards_per_log), 16, 1000000,
	  "shards one journal can index" },
	/* The read tail (storage/README.md, "Tail"): an hour at most (older
	 * readers are far behind: disk is fine); per shard at least one 64 KiB
	 * ring; in all at most 64 GiB per journal. */
	{ "tail-ms", OFF(tail_ms), 0, 3600000,
	  "reads of records newer than this are served from memory (0: off)" },
	{ "tail-shard-kib", OFF(tail_shard_kib), 64, 1048576,
	  "read tail: the most one shard's ring grows to, in KiB" },
	{ "tail-mib", OFF(tail_mib), 1, 65536, "read tail: memory per journal in MiB" },
	/* A day at most: a reader that slow is far behind anyway. */
	{ "tail-idle-ms", OFF(tail_idle_ms), 0, 86400000,
	  "read tail: only shards read within this long get one (0: every shard)" },
	/* Reads older than the tail (storage/st_aread.c). A chunk is at most
	 * one 12 MiB write buffer, so that is the least room that always fits
	 * one; 0 slots: synchronous pread on the log lcore, as before. */
	{ "read-slots", OFF(read_slots), 0, 64,
	  "disk reads with io_uring: chunks in flight or held per journal (0: pread)" },
	{ "read-mib", OFF(read_mib), 12, 4096,
	  "disk reads with io_uring: memory per journal in MiB" },
	/* SubscribeToShard (dataplane/ops/ops_subscribe.c): a quiet
	 * subscription's poll waits on the log lcore until records of its
	 * shard are durable, at most this long (a second at most: the io
	 * lcore sends a heartbeat event every second); 0: it polls. */
	{ "sub-wait-ms", OFF(sub_wait_ms), 0, 1000,
	  "a quiet subscription's poll waits this long for new records (0: poll)" },
	{ "sub-poll-ms", OFF(sub_poll_ms), 1, 60000,
	  "a quiet subscription not waiting polls this often" },
	/* Group commit (storage/README.md): at most this many durable writes
	 * in flight per journal (ST_MAX_INFLIGHT is 8); each costs one more
	 * 12 MiB write buffer. */
	{ "commit-inflight", OFF(commit_inflight), 1, 8,
	  "journal writes in flight per log lcore (group commit)" },
	/* At most 1 s: the window in which recovery may take damage to the
	 * newest acknowledged write for a torn tail (storage/README.md). */
	{ "marker-delay-ms", OFF(marker_delay_ms), 0, 1000,
	  "idle-journal marker write only after this many ms idle (0: at once)" },
	{ "create-delay-ms", OFF(create_delay_ms), 0, 600000, "CREATING -> ACTIVE delay" },
	{ "delete-delay-ms", OFF(delete_delay_ms), 0, 600000, "DELETING -> gone delay" },
	/* Test only: Kinesis's shortest retention is 24 h, too long for a test
	 * of what expires while a mirror's upstream is down. 0: an hour. */
	{ "test-retention-hour-ms", OFF(test_retention_hour_ms), 0, 3600000,
	  "TEST ONLY: one retention hour lasts this many ms (0: a real hour)" },
	{ "request-timeout-ms", OFF(request_timeout_ms), 100, 600000,
	  "a request must arrive whole within this (slow clients are cut off)" },
	{ "idle-timeout-ms", OFF(idle_timeout_ms), 100, 3600000,
	  "idle keep-alive connections and stalled sends are closed after this" },
	{ "shutdown-grace-ms", OFF(shutdown_grace_ms), 0, 600000,
	  "on SIGTERM, in-flight requests get this long to finish" },
	{ "max-conns-per-core", OFF(max_conns_per_core), 1, 1000000, "connections per io lcore" },
	{ "max-conns-per-addr", OFF(max_conns_per_addr), 1, 1000000,
	  "connections per source address (IPv6: per /64), per io lcore" },
	{ "max-buffered-mib", OFF(max_buffered_mib), 16, 1048576,
	  "request bytes buffered before they are whole, per io lcore (back-pressure past it)" },
	{ "max-conn-buffered-mib", OFF(max_conn_buffered_mib), 1, 1048576,
	  "request bytes one connection may buffer (HTTP/2: all its streams)" },
	{ "max-head-bytes", OFF(max_head_bytes), SL_HEAD_BYTES_MIN, SL_HEAD_BYTES_MAX,
	  "HTTP request head limit" },
	{ "max-body-bytes", OFF(max_body_bytes), SL_BODY_BYTES_MIN, SL_BODY_BYTES_MAX,
	  "HTTP request body limit" },
	{ "shard-limit", OFF(shard_limit), 1, 1000000, "open shards per account" },
	{ "quota-in-bytes", OFF(quota_in_bytes), 1024, 1u << 30,
	  "custom quota: write bytes per shard per second" },
	{ "quota-in-records", OFF(quota_in_records), 1, 10000000,
	  "custom quota: records written per shard per second" },
	{ "quota-out-bytes", OFF(quota_out_bytes), 1024, 1u << 30,
	  "custom quota: GetRecords bytes per shard per second" },
	{ "quota-get-calls", OFF(quota_get_calls), 1, 1000000,
	  "custom quota: GetRecords calls per shard per second" },
	{ "quota-iter-calls", OFF(quota_iter_calls), 1, 1000000,
	  "custom quota: GetShardIterator calls per shard per second" },
	{ "stream-limit", OFF(stream_limit), 1, 1000000, "streams per account" },
	{ "audit-max-mib", OFF(audit_max_mib), 1, 65536, "audit log size before rotation" },
	{ "audit-keep", OFF(audit_keep), 1, 1000, "rotated audit logs kept" },
	{ "etcd-timeout-ms", OFF(etcd_timeout_ms), 100, 60000,
	  "--metadata etcd: bound on connect and on each send and receive to etcd" },
	{ "etcd-lease-ttl-s", OFF(etcd_lease_ttl_s), 2, 300,
	  "--metadata etcd: this node's lease; a dead node's key and shards go after it" },
};

struct str_flag {
	const char *name;
	size_t off, size;
	const char *help;
};

#define SOFF(f) OFF(f), sizeof(((struct sl_config *)0)->f)
static const struct str_flag str_flags[] = {
	{ "data-dir", SOFF(data_dir), "data directory (required)" },
	{ "transport", SOFF(transport), "kernel (default) | dpdk" },
	{ "plain-listen", SOFF(plain_listen),
	  "HOST:PORT (port 0..65535): also serve PLAINTEXT HTTP/1.1 and HTTP/2 with prior "
	  "knowledge (h2c) there, SigV4 still required; off by default; kernel transport only" },
	{ "tls-cert", SOFF(tls_cert), "PEM certificate chain (default DIR/tls/server.pem)" },
	{ "tls-key", SOFF(tls_key), "PEM private key (default DIR/tls/server.key)" },
	{ "tls-client-ca", SOFF(tls_client_ca),
	  "require client certificates issued by this CA (mTLS); off by default" },
	{ "credentials", SOFF(credentials), "shared-credentials file (default DIR/credentials)" },
	{ "mirror-config", SOFF(mirror_config),
	  "mirror a stream to an upstream Kinesis endpoint (file, mode 0600; default off)" },
	{ "channel-config", SOFF(channel_config),
	  "deliver channels to an S3-compatible endpoint (file, mode 0600; default off)" },
	{ "keys-dir", SOFF(keys_dir),
	  "master, data and iterator keys (default DIR/keys); keep it off the data disk" },
	{ "account-id", SOFF(account_id), "12-digit account id used in ARNs" },
	{ "region", SOFF(region),
	  "region served (default us-east-1): requests signed for another are refused; "
	  "1-63 of a-z 0-9 -" },
	{ "cors-origins", SOFF(cors_origins),
	  "origins browsers may call from: * (default, any, as AWS), a comma-separated list "
	  "(https://app.example:8443,...), or '' (no CORS)" },
	{ "dpdk-args", SOFF(dpdk_args), "extra EAL arguments for --transport dpdk" },
	{ "net-fault-rx", SOFF(net_fault_rx),
	  "TESTS ONLY: seeded faults on received frames (DPDK), e.g. seed=1,drop=50000" },
	{ "net-fault-tx", SOFF(net_fault_tx),
	  "TESTS ONLY: seeded faults on sent frames (DPDK): drop, dup, reorder, reorder-us, delay-us" },
	{ "tcp-cc", SOFF(tcp_cc),
	  "DPDK transport: TCP congestion control, cubic (default, RFC 9438) | newreno" },
	{ "log-level", SOFF(log_level), "err | warn | info | debug" },
	{ "log-format", SOFF(log_format), "text (default) | json (one JSON object per line)" },
	{ "admin-token-file", SOFF(admin_token_file),
	  "admin listener: require 'Authorization: Bearer <token>' (file mode 0600)" },
	{ "admin-client-ca", SOFF(admin_client_ca),
	  "admin listener (with --admin-tls): require client certificates from this CA" },
	{ "metrics", SOFF(metrics), "on (default) | off: count metrics on the lcores" },
	{ "metadata", SOFF(metadata),
	  "sqlite (default: DIR/meta.db) | etcd=http(s)://HOST:PORT (etcd v3 >= 3.4)" },
	{ "etcd-cluster", SOFF(etcd_cluster),
	  "--metadata etcd: keys live under /sluice/<this>/ (default: default)" },
	{ "etcd-ca", SOFF(etcd_ca), "--metadata etcd=https://: CA of etcd's certificate" },
	{ "etcd-cert", SOFF(etcd_cert), "--metadata etcd=https://: client certificate (PEM)" },
	{ "etcd-key", SOFF(etcd_key), "--metadata etcd=https://: its private key (PEM)" },
	{ "node-id", SOFF(node_id),
	  "--metadata etcd: this node's name in the cluster, 1-64 of A-Z a-z 0-9 _ . - "
	  "(default: HOSTNAME-PORT)" },
	{ "quota-mode", SOFF(quota_mode),
	  "kinesis (default: Kinesis's per-shard limits) | off | custom (--quota-*)" },
};

static void set_defaults(struct sl_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
	c->listen_port = 4567;
	snprintf(c->transport, sizeof(c->transport), "kernel");
	snprintf(c->account_id, sizeof(c->account_id), "000000000000");
	snprintf(c->region, sizeof(c->region), "us-east-1");
	snprintf(c->cors_origins, sizeof(c->cors_origins), "*");
	snprintf(c->log_level, sizeof(c->log_level), "info");
	snprintf(c->log_format, sizeof(c->log_format), "text");
	snprintf(c->tcp_cc, sizeof(c->tcp_cc), "cubic");
	snprintf(c->admin_host, sizeof(c->admin_host), "127.0.0.1");
	c->admin_port = 4568;
	snprintf(c->metrics, sizeof(c->metrics), "on");
	c->io_cores = 1;
	c->dpdk_idle_us = 50;
	c->dpdk_ack_burst = 1;
	c->log_cores = 1;
	c->segment_mib = 256;
	c->max_shards_per_log = 65536;
	c->tail_ms = 10000;
	c->tail_shard_kib = 16384; /* a cap: rings grow by need within --tail-mib */
	c->tail_mib = 64;
	c->tail_idle_ms = 30000; /* 3x tail_ms: a polling reader keeps its shard's */
	c->read_slots = 16;
	c->read_mib = 32;
	c->sub_wait_ms = 500;
	c->sub_poll_ms = 200;
	c->commit_inflight = 2;
	c->create_delay_ms = 500;
	c->delete_delay_ms = 500;
	c->request_timeout_ms = 20000;
	c->idle_timeout_ms = 60000;
	c->shutdown_grace_ms = 5000;
	c->max_conns_per_core = 4096;
	/* Enough for a fleet behind one NAT, small enough that one address
	 * cannot take a whole table. */
	/* A quarter of the table: one host (or a producer fleet behind one NAT
	 * address) cannot hold it all, yet a busy gateway is not cut short. */
	c->max_conns_per_addr = 1024;
	/* 16 whole maximum-size requests at once per io lcore; small requests
	 * live in each connection's initial buffer and are not charged. */
	c->max_buffered_mib = 256;
	/* One maximum-size request over HTTP/1.1, two over HTTP/2. */
	c->max_conn_buffered_mib = 32;
	c->max_head_bytes = 16384;
	/* The largest legal PutRecords is 500 records, 10 MiB of data in all at
	 * the maximum record size; base64 makes that 13.4 MiB of JSON, plus keys
	 * and framing. 16 MiB leaves room without inviting abuse. */
	c->max_body_bytes = 16u << 20;
	c->shard_limit = 20000;
	snprintf(c->quota_mode, sizeof(c->quota_mode), "kinesis");
	c->stream_limit = 10000;
	c->audit_max_mib = 64;
	c->audit_keep = 5;
	snprintf(c->metadata, sizeof(c->metadata), "sqlite");
	snprintf(c->etcd_cluster, sizeof(c->etcd_cluster), "default");
	c->etcd_timeout_ms = 3000;
	c->etcd_lease_ttl_s = 10;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: sluiced --listen HOST:PORT --data-dir DIR [options]\n\n"
		   "  --listen HOST:PORT  address to serve HTTPS on (default 127.0.0.1:4567;\n"
		   "                      port 0 picks a free one, written to DIR/sluiced.addr)\n"
		   "  --ip ADDR/PREFIX    IPv4 address of --transport dpdk (e.g. 10.99.0.2/24)\n"
		   "  --gateway GW        IPv4 next hop off the --ip subnet (dpdk transport)\n"
		   "  --dpdk-ip6 ADDR/PREFIX  IPv6 address of --transport dpdk (e.g. fd00:99::2/64;\n"
		   "                      with --ip: dual stack; also answers on its fe80:: address)\n"
		   "  --admin-listen HOST:PORT|off  admin listener: /metrics, /healthz, /readyz\n"
		   "                      (default 127.0.0.1:4568; a kernel socket, never DPDK;\n"
		   "                      port 0 picks a free one, written to DIR/sluiced.admin)\n"
		   "  --admin-tls         serve the admin listener over TLS (server certificate)\n"
		   "  --version           print the version and exit\n");
	for (size_t i = 0; i < SL_ARRAY_SIZE(str_flags); i++)
		fprintf(f, "  --%-18s %s\n", str_flags[i].name, str_flags[i].help);
	for (size_t i = 0; i < SL_ARRAY_SIZE(num_flags); i++)
		fprintf(f, "  --%-18s %s [%llu..%llu]\n", num_flags[i].name, num_flags[i].help,
			(unsigned long long)num_flags[i].min,
			(unsigned long long)num_flags[i].max);
}

/* "HOST:PORT", "[v6]:PORT" into host[0..host_cap) and *port. */
static int parse_hostport(const char *v, char *host, size_t host_cap, uint16_t *port)
{
	const char *colon = strrchr(v, ':');
	if (!colon || colon == v)
		return -EINVAL;
	const char *h = v;
	size_t hl = (size_t)(colon - v);
	if (h[0] == '[') {
		if (hl < 3 || h[hl - 1] != ']')
			return -EINVAL;
		h++;
		hl -= 2;
	}
	if (hl >= host_cap)
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || p > 65535 || colon[1] == '-' || colon[1] == '+')
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	*port = (uint16_t)p;
	return 0;
}

static int parse_listen(struct sl_config *c, const char *v)
{
	return parse_hostport(v, c->listen_host, sizeof(c->listen_host), &c->listen_port);
}

/* --plain-listen: parsed, and refused where plaintext would weaken what the
 * operator asked for. */
static int check_plain(struct sl_config *c)
{
	if (!c->plain_listen[0])
		return 0;
	if (parse_hostport(c->plain_listen, c->plain_host, sizeof(c->plain_host),
			   &c->plain_port) < 0) {
		fprintf(stderr, "sluiced: --plain-listen wants HOST:PORT, got '%s'\n",
			c->plain_listen);
		return -EINVAL;
	}
	if (strcmp(c->transport, "kernel") != 0) {
		fprintf(stderr, "sluiced: --plain-listen is served by the kernel transport only\n");
		return -EINVAL;
	}
	if (c->tls_client_ca[0]) {
		/* Client certificates could be bypassed on the plaintext port. */
		fprintf(stderr,
			"sluiced: --plain-listen cannot be combined with --tls-client-ca\n");
		return -EINVAL;
	}
	if (c->plain_port && c->plain_port == c->listen_port &&
	    strcmp(c->plain_host, c->listen_host) == 0) {
		fprintf(stderr, "sluiced: --plain-listen must differ from --listen\n");
		return -EINVAL;
	}
	return 0;
}

/* --admin-listen HOST:PORT | off */
static int parse_admin(struct sl_config *c, const char *v)
{
	c->admin_listen_set = true;
	if (strcmp(v, "off") == 0) {
		c->admin_off = true;
		return 0;
	}
	c->admin_off = false;
	if (parse_hostport(v, c->admin_host, sizeof(c->admin_host), &c->admin_port) == 0)
		return 0;
	fprintf(stderr, "sluiced: --admin-listen wants HOST:PORT or off, got '%s'\n", v);
	return -EINVAL;
}

static int set_num(struct sl_config *c, const struct num_flag *f, const char *v)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || *end || end == v || v[0] == '-' || n < f->min || n > f->max) {
		fprintf(stderr, "sluiced: --%s must be an integer in [%llu, %llu]\n", f->name,
			(unsigned long long)f->min, (unsigned long long)f->max);
		return -EINVAL;
	}
	/* Every numeric flag is a uint32_t field (bounds above are <= 2^32-1). */
	*(uint32_t *)(void *)((char *)c + f->off) = (uint32_t)n;
	return 0;
}

static int set_str(struct sl_config *c, const struct str_flag *f, const char *v)
{
	if (strlen(v) >= f->size) {
		fprintf(stderr, "sluiced: --%s is too long\n", f->name);
		return -EINVAL;
	}
	snprintf((char *)c + f->off, f->size, "%s", v);
	return 0;
}

/* "A.B.C.D" into host byte order. */
static int parse_ip4(const char *v, uint32_t *out)
{
	struct in_addr a;
	if (inet_pton(AF_INET, v, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

/* "ADDR/PREFIX": ADDR into addr[cap), PREFIX (1..max_plen, digits only)
 * into *plen. The shape both --ip and --dpdk-ip6 take. */
static int split_prefix(const char *v, char *addr, size_t cap, unsigned long max_plen,
			unsigned long *plen)
{
	const char *slash = strchr(v, '/');
	if (!slash || (size_t)(slash - v) >= cap)
		return -EINVAL;
	memcpy(addr, v, (size_t)(slash - v));
	addr[slash - v] = 0;
	char *end;
	errno = 0;
	*plen = strtoul(slash + 1, &end, 10);
	if (errno || *end || end == slash + 1 || *plen < 1 || *plen > max_plen)
		return -EINVAL;
	return 0;
}

/* --ip "A.B.C.D/PREFIX" (the prefix is required: it decides on-link vs
 * gateway for every reply). */
static int parse_ip_prefix(struct sl_config *c, const char *v)
{
	char addr[INET_ADDRSTRLEN];
	unsigned long plen;
	uint32_t a;
	if (split_prefix(v, addr, sizeof(addr), 32, &plen) || parse_ip4(addr, &a) || a == 0)
		return -EINVAL;
	c->ip4_addr = a;
	c->ip4_prefix_len = (uint8_t)plen;
	return 0;
}

/* --dpdk-ip6 "ADDR/PREFIX": a global unicast address (the link-local one
 * comes from the MAC). */
static int parse_ip6_prefix(struct sl_config *c, const char *v)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned long plen;
	struct in6_addr a;
	if (split_prefix(v, addr, sizeof(addr), 128, &plen) ||
	    inet_pton(AF_INET6, addr, &a) != 1 || IN6_IS_ADDR_UNSPECIFIED(&a) ||
	    IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_MULTICAST(&a) || IN6_IS_ADDR_LINKLOCAL(&a) ||
	    IN6_IS_ADDR_V4MAPPED(&a))
		return -EINVAL;
	memcpy(c->ip6_addr, &a, 16);
	c->ip6_prefix_len = (uint8_t)plen;
	return 0;
}

static int apply_ip(struct sl_config *c, const char *name, const char *v)
{
	if (strcmp(name, "dpdk-ip6") == 0) {
		if (parse_ip6_prefix(c, v) == 0)
			return 0;
		fprintf(stderr, "sluiced: --dpdk-ip6 wants a global unicast ADDR/PREFIX "
				"(e.g. fd00:99::2/64), got '%s'\n", v);
		return -EINVAL;
	}
	if (strcmp(name, "ip") == 0) {
		if (parse_ip_prefix(c, v) == 0)
			return 0;
		fprintf(stderr, "sluiced: --ip wants ADDR/PREFIX (e.g. 10.99.0.2/24), got '%s'\n", v);
		return -EINVAL;
	}
	if (parse_ip4(v, &c->ip4_gateway) == 0 && c->ip4_gateway != 0)
		return 0;
	fprintf(stderr, "sluiced: --gateway wants an IPv4 address, got '%s'\n", v);
	return -EINVAL;
}

static int apply(struct sl_config *c, const char *name, const char *v)
{
	if (strcmp(name, "ip") == 0 || strcmp(name, "gateway") == 0 ||
	    strcmp(name, "dpdk-ip6") == 0)
		return apply_ip(c, name, v);
	if (strcmp(name, "admin-listen") == 0)
		return parse_admin(c, v);
	if (strcmp(name, "listen") == 0) {
		if (parse_listen(c, v) == 0)
			return 0;
		fprintf(stderr, "sluiced: --listen wants HOST:PORT, got '%s'\n", v);
		return -EINVAL;
	}
	for (size_t i = 0; i < SL_ARRAY_SIZE(num_flags); i++)
		if (strcmp(name, num_flags[i].name) == 0)
			return set_num(c, &num_flags[i], v);
	for (size_t i = 0; i < SL_ARRAY_SIZE(str_flags); i++)
		if (strcmp(name, str_flags[i].name) == 0)
			return set_str(c, &str_flags[i], v);
	fprintf(stderr, "sluiced: unknown option --%s (see --help)\n", name);
	return -EINVAL;
}

/* --metadata and the --etcd-* flags that go with it. The URL's shape is
 * checked again by the client (cp_etcd.c); here the operator gets the
 * message before anything starts. */
static int check_metadata(struct sl_config *c)
{
	const char *url = c->metadata + 5;
	size_t cl = strlen(c->etcd_cluster);
	bool https = strncmp(url, "https://", 8) == 0;

	c->etcd_endpoint[0] = '\0';
	if (strcmp(c->metadata, "sqlite") == 0) {
		if (c->etcd_ca[0] || c->etcd_cert[0] || c->etcd_key[0]) {
			fprintf(stderr, "sluiced: --etcd-ca/--etcd-cert/--etcd-key need "
					"--metadata etcd=https://...\n");
			return -EINVAL;
		}
		if (c->node_id[0]) {
			fprintf(stderr, "sluiced: --node-id needs --metadata etcd=...\n");
			return -EINVAL;
		}
		return 0;
	}
	if (strncmp(c->metadata, "etcd=", 5) != 0 ||
	    (strncmp(url, "http://", 7) != 0 && !https) || strchr(url + 7 + https, ':') == NULL) {
		fprintf(stderr, "sluiced: --metadata must be sqlite or etcd=http(s)://HOST:PORT\n");
		return -EINVAL;
	}
	for (const char *p = url; *p; p++)
		if (*p <= ' ' || *p > '~') {
			fprintf(stderr, "sluiced: --metadata etcd URL must be visible ASCII\n");
			return -EINVAL;
		}
	if (cl == 0 || strspn(c->etcd_cluster, "abcdefghijklmnopqrstuvwxyz"
					       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != cl) {
		fprintf(stderr, "sluiced: --etcd-cluster must be 1-64 of A-Z a-z 0-9 _ . -\n");
		return -EINVAL;
	}
	if ((c->etcd_ca[0] || c->etcd_cert[0] || c->etcd_key[0]) && !https) {
		fprintf(stderr, "sluiced: --etcd-ca/--etcd-cert/--etcd-key need an https:// "
				"etcd URL\n");
		return -EINVAL;
	}
	size_t nl = strlen(c->node_id);
	if (strspn(c->node_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
		    nl || nl > 64) {
		fprintf(stderr, "sluiced: --node-id must be 1-64 of A-Z a-z 0-9 _ . -\n");
		return -EINVAL;
	}
	if ((c->etcd_cert[0] != 0) != (c->etcd_key[0] != 0)) {
		fprintf(stderr, "sluiced: --etcd-cert and --etcd-key go together\n");
		return -EINVAL;
	}
	snprintf(c->etcd_endpoint, sizeof(c->etcd_endpoint), "%s", url);
	return 0;
}

static int check(struct sl_config *c)
{
	if (!c->data_dir[0]) {
		fprintf(stderr, "sluiced: --data-dir is required\n");
		return -EINVAL;
	}
	if (strcmp(c->transport, "kernel") != 0 && strcmp(c->transport, "dpdk") != 0) {
		fprintf(stderr, "sluiced: --transport must be kernel or dpdk\n");
		return -EINVAL;
	}
	if (strlen(c->account_id) != 12 || strspn(c->account_id, "0123456789") != 12) {
		fprintf(stderr, "sluiced: --account-id must be 12 digits\n");
		return -EINVAL;
	}
	/* The region is echoed in ARNs and error messages: keep it to the
	 * characters AWS region names use. */
	size_t rl = strlen(c->region);
	if (rl == 0 || rl > 63 || strspn(c->region, "abcdefghijklmnopqrstuvwxyz0123456789-") != rl ||
	    c->region[0] < 'a' || c->region[0] > 'z') {
		fprintf(stderr, "sluiced: --region must be 1-63 characters of a-z, 0-9 and '-', "
			"starting with a letter\n");
		return -EINVAL;
	}
	/* Allowed origins are echoed in a response header: visible ASCII only. */
	for (const char *p = c->cors_origins; *p; p++)
		if (*p < ' ' || *p > '~') {
			fprintf(stderr, "sluiced: --cors-origins must be visible ASCII\n");
			return -EINVAL;
		}
	if (strcmp(c->quota_mode, "kinesis") == 0) {
		/* Kinesis: 1 MiB/s and 1000 records/s in, 2 MiB/s and 5 calls/s
		 * out, GetShardIterator 5/s, per shard. */
		c->quota_in_bytes = 1u << 20;
		c->quota_in_records = 1000;
		c->quota_out_bytes = 2u << 20;
		c->quota_get_calls = 5;
		c->quota_iter_calls = 5;
	} else if (strcmp(c->quota_mode, "custom") == 0) {
		if (!c->quota_in_bytes || !c->quota_in_records || !c->quota_out_bytes ||
		    !c->quota_get_calls || !c->quota_iter_calls) {
			fprintf(stderr, "sluiced: --quota-mode custom needs every --quota-* flag\n");
			return -EINVAL;
		}
	} else if (strcmp(c->quota_mode, "off") != 0) {
		fprintf(stderr, "sluiced: --quota-mode must be kinesis, off or custom\n");
		return -EINVAL;
	}
	if (strcmp(c->tcp_cc, "cubic") != 0 && strcmp(c->tcp_cc, "newreno") != 0) {
		fprintf(stderr, "sluiced: --tcp-cc must be cubic or newreno\n");
		return -EINVAL;
	}
	if (strcmp(c->transport, "dpdk") == 0 && !c->ip4_addr && !c->ip6_prefix_len) {
		fprintf(stderr, "sluiced: --transport dpdk needs --ip ADDR/PREFIX and/or "
				"--dpdk-ip6 ADDR/PREFIX\n");
		return -EINVAL;
	}
	uint32_t mask = c->ip4_prefix_len ? ~0u << (32 - c->ip4_prefix_len) : 0;
	if (c->ip4_gateway && (!c->ip4_addr || (c->ip4_gateway & mask) != (c->ip4_addr & mask) ||
			       c->ip4_gateway == c->ip4_addr)) {
		fprintf(stderr, "sluiced: --gateway must be another address on the --ip subnet\n");
		return -EINVAL;
	}
	if (strcmp(c->transport, "dpdk") == 0 && c->listen_port == 0) {
		fprintf(stderr, "sluiced: --transport dpdk needs a fixed port (port 0 is not "
				"resolved by the userspace stack)\n");
		return -EINVAL;
	}
	uint64_t one_req_bytes = (uint64_t)c->max_head_bytes + c->max_body_bytes;
	if ((uint64_t)c->max_conn_buffered_mib << 20 < one_req_bytes) {
		fprintf(stderr, "sluiced: --max-conn-buffered-mib %u cannot hold one whole request "
				"(--max-head-bytes + --max-body-bytes = %llu bytes)\n",
			c->max_conn_buffered_mib, (unsigned long long)one_req_bytes);
		return -EINVAL;
	}
	if (c->max_buffered_mib < c->max_conn_buffered_mib) {
		fprintf(stderr, "sluiced: --max-buffered-mib must be at least "
				"--max-conn-buffered-mib\n");
		return -EINVAL;
	}
	if (strcmp(c->log_format, "text") != 0 && strcmp(c->log_format, "json") != 0) {
		fprintf(stderr, "sluiced: --log-format must be text or json\n");
		return -EINVAL;
	}
	if (strcmp(c->metrics, "on") != 0 && strcmp(c->metrics, "off") != 0) {
		fprintf(stderr, "sluiced: --metrics must be on or off\n");
		return -EINVAL;
	}
	if (c->admin_client_ca[0] && !c->admin_tls) {
		fprintf(stderr, "sluiced: --admin-client-ca needs --admin-tls\n");
		return -EINVAL;
	}
	if ((c->tls_cert[0] != 0) != (c->tls_key[0] != 0)) {
		fprintf(stderr, "sluiced: --tls-cert and --tls-key go together\n");
		return -EINVAL;
	}
	if (check_metadata(c) < 0)
		return -EINVAL;
	return check_plain(c);
}

int sl_config_parse(struct sl_config *c, int argc, char **argv)
{
	set_defaults(c);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			return 1;
		}
		if (strcmp(a, "--version") == 0)
			return 2;
		if (strcmp(a, "--admin-tls") == 0) { /* a switch: takes no value */
			c->admin_tls = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "sluiced: unexpected argument '%s'\n", a);
			return -EINVAL;
		}
		char name[64];
		const char *eq = strchr(a + 2, '=');
		const char *v;
		size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (nl >= sizeof(name)) {
			fprintf(stderr, "sluiced: unknown option '%s'\n", a);
			return -EINVAL;
		}
		memcpy(name, a + 2, nl);
		name[nl] = 0;
		if (eq) {
			v = eq + 1;
		} else {
			if (i + 1 >= argc) {
				fprintf(stderr, "sluiced: --%s needs a value\n", name);
				return -EINVAL;
			}
			v = argv[++i];
		}
		int rc = apply(c, name, v);
		if (rc)
			return rc;
	}
	return check(c);
}
