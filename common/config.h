/* SPDX-License-Identifier: Apache-2.0 */
/* sluiced's configuration: every flag, its default and its bound, in one
 * table (config.c). Parsed once at start-up; read-only afterwards, so every
 * thread may read it without synchronisation. */
#ifndef SL_COMMON_CONFIG_H
#define SL_COMMON_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "common/bug.h"

#define SL_PATH_MAX 4096
/* --log-cores bound: per-io-lcore arrays are indexed by log lcore. */
#define SL_LOG_CORES_MAX 16
/* --io-cores bound: per-io-lcore arrays (DPDK tx locks, control-plane reply
 * rings, the log lcore's seal bookkeeping) are sized by it; each user
 * static_asserts its own array against it. */
#define SL_IO_CORES_MAX 64
/* --max-head-bytes and --max-body-bytes bounds: a connection's input buffer
 * (uint32_t) holds one whole head and body (dataplane/http/http_conn.c). */
#define SL_HEAD_BYTES_MIN 1024u
#define SL_HEAD_BYTES_MAX 1048576u
#define SL_BODY_BYTES_MIN 65536u
#define SL_BODY_BYTES_MAX 268435456u

struct sl_config {
	char listen_host[256];	/* "127.0.0.1", "::1", "0.0.0.0" */
	uint16_t listen_port;	/* 0 = ephemeral */
	/* --plain-listen HOST:PORT: an optional plaintext HTTP/1.1 + h2c
	 * listener (kernel transport only); "" = off. Parsed by check() into
	 * plain_host / plain_port. */
	char plain_listen[272];
	char plain_host[256];
	uint16_t plain_port;	/* 0 = ephemeral */
	char data_dir[SL_PATH_MAX];
	char transport[16];	/* "kernel" | "dpdk" */
	uint32_t io_cores;	/* io lcores, >= 1 */
	uint32_t log_cores;	/* log lcores (one journal each), >= 1 */
	uint32_t segment_mib;	/* journal segment file size */
	uint32_t max_shards_per_log; /* (stream, shard) pairs one journal indexes */
	uint32_t tail_ms;	/* read tail: records newer than this in memory; 0 = off */
	uint32_t tail_shard_kib; /* read tail memory per shard */
	uint32_t tail_mib;	/* read tail memory per journal */
	uint32_t tail_idle_ms;	/* read tail only for shards read this recently; 0 = all */
	uint32_t read_slots;	/* disk reads with io_uring: chunks held; 0 = pread */
	uint32_t read_mib;	/* disk reads with io_uring: bytes held per journal */
	uint32_t sub_wait_ms;	/* a quiet subscription's poll waits for records; 0 = off */
	uint32_t sub_poll_ms;	/* a quiet subscription's poll interval when not waiting */
	uint32_t commit_inflight; /* journal writes in flight (group commit) */
	uint32_t marker_delay_ms; /* idle-journal marker after this much idle */
	char tls_cert[SL_PATH_MAX]; /* "" = DIR/tls/server.pem */
	char tls_key[SL_PATH_MAX];  /* "" = DIR/tls/server.key */
	char tls_client_ca[SL_PATH_MAX]; /* mTLS: "" = off */
	char credentials[SL_PATH_MAX]; /* "" = DIR/credentials */
	char mirror_config[SL_PATH_MAX]; /* sluiced/mirror.h; "" = no mirror */
	char channel_config[SL_PATH_MAX]; /* sluiced/delivery.h; "" = no delivery */
	/* Master keys, data keys and the iterator key; "" = DIR/keys. Outside
	 * DIR, a copy of the data directory (a stolen or discarded disk) holds
	 * only ciphertext. */
	char keys_dir[SL_PATH_MAX];
	char account_id[16];
	char region[64]; /* the one region served: SigV4 scope and every ARN */
	/* CORS (dataplane/http/http_cors.h): "*" (any origin, as AWS), a
	 * comma-separated list of origins, or "" (off). */
	char cors_origins[2048];
	uint32_t create_delay_ms;
	uint32_t delete_delay_ms;
	uint32_t test_retention_hour_ms; /* test only; 0: a retention hour is 3600000 ms */
	uint32_t request_timeout_ms; /* first byte of a request -> whole request */
	uint32_t idle_timeout_ms;    /* keep-alive idle, and a stalled send */
	uint32_t shutdown_grace_ms;  /* in-flight requests finish within this */
	uint32_t max_conns_per_core;
	uint32_t max_conns_per_addr;	/* per io lcore; IPv6 counted per /64 */
	uint32_t max_buffered_mib;	/* request bytes buffered, per io lcore */
	uint32_t max_conn_buffered_mib;	/* request bytes buffered, per connection */
	uint32_t max_head_bytes;
	uint32_t max_body_bytes;
	uint32_t shard_limit;
	uint32_t stream_limit;
	char dpdk_args[1024];	/* extra EAL args for --transport dpdk */
	uint32_t dpdk_idle_us;	/* nap after a long run of empty polls (0: never) */
	uint32_t dpdk_ack_burst; /* 1: the userspace TCP ACKs once per receive burst */
	/* Test only: the userspace stack's seeded fault stage ("seed=1,drop=50000,
	 * dup=0,reorder=20000,reorder-us=2000,delay-us=0", rates in ppm). */
	char net_fault_rx[160], net_fault_tx[160];
	/* --transport dpdk: the userspace TCP's congestion control,
	 * "cubic" (default) | "newreno" */
	char tcp_cc[16];
	/* --transport dpdk: the userspace stack's address (host byte order). */
	uint32_t ip4_addr;	/* --ip ADDR/PREFIX; 0 = unset */
	uint8_t ip4_prefix_len;	/* 1..32 */
	uint32_t ip4_gateway;	/* --gateway GW, on the --ip subnet; 0 = none */
	uint8_t ip6_addr[16];	/* --dpdk-ip6 ADDR/PREFIX (network order); all 0 = unset */
	uint8_t ip6_prefix_len;	/* 1..128 */
	uint32_t dpdk_vlan;	/* --dpdk-vlan ID: 802.1Q VID 1..4094, 0 = untagged */
	/* Per-shard quotas (Kinesis's by default; "off" for benchmarks). */
	char quota_mode[16];	     /* "kinesis" | "off" | "custom" */
	uint32_t quota_in_bytes;     /* per shard per second, writes */
	uint32_t quota_in_records;   /* per shard per second, writes */
	uint32_t quota_out_bytes;    /* per shard per second, GetRecords */
	uint32_t quota_get_calls;    /* GetRecords calls per shard per second */
	uint32_t quota_iter_calls;   /* GetShardIterator calls per shard per second */
	char log_level[8];
	char log_format[8];	/* "text" | "json" */
	/* The admin listener (/metrics, /healthz, /readyz, /): a kernel socket
	 * whatever the transport. admin_off: --admin-listen off. */
	bool admin_off;
	bool admin_listen_set;	/* given on the command line (a bind failure is fatal) */
	char admin_host[256];
	uint16_t admin_port;	/* 0 = ephemeral, written to DIR/sluiced.admin */
	bool admin_tls;		/* serve it over TLS with the server certificate */
	char admin_token_file[SL_PATH_MAX]; /* bearer token (file mode 0600); "" = none */
	char admin_client_ca[SL_PATH_MAX];  /* require admin client certificates; "" = no */
	char metrics[8];	/* "on" | "off": the per-lcore counters */
	uint32_t audit_max_mib;	/* DIR/audit.log rotates past this */
	uint32_t audit_keep;	/* rotated files kept */
	/* The metadata store: "sqlite" (default, DIR/meta.db) or "etcd=URL"
	 * (controlplane/cp_store_etcd.c); check() splits the URL into
	 * etcd_endpoint. */
	char metadata[288];
	char etcd_endpoint[280];	/* "" = SQLite */
	char etcd_cluster[65];		/* keys under /sluice/<cluster>/ */
	char etcd_ca[SL_PATH_MAX];	/* https: CA of etcd's server certificate */
	char etcd_cert[SL_PATH_MAX];	/* https: client certificate (mTLS) */
	char etcd_key[SL_PATH_MAX];
	uint32_t etcd_timeout_ms;	/* connect, each send, each receive */
	uint32_t etcd_lease_ttl_s;	/* the node's lease (controlplane/cp_cluster.c) */
	char node_id[65];		/* "" = HOSTNAME-PORT */
};

/* Fills cfg with defaults, then applies argv. Returns 0, 1 when --help was
 * printed (caller exits 0), 2 when --version was asked (the caller prints it
 * and exits 0), or -EINVAL after printing the reason to stderr. */
int SL_MUST_CHECK sl_config_parse(struct sl_config *cfg, int argc, char **argv);

#endif
