/* SPDX-License-Identifier: Apache-2.0 */
/* The DPDK port layer: EAL arguments, ports, queues, mempools, and per io
 * lcore bursts of raw Ethernet frames. Everything DPDK-specific stays behind
 * this header (no rte_* type appears here), so the userspace TCP stack above
 * it (dataplane/net/tcp) sees only frames: (data, len, opaque handle).
 *
 * Threading: dpk_create() and dpk_destroy() run on the main thread with no
 * lcore polling. A struct dpk_lcore belongs to one io lcore: only that lcore
 * calls the dpk_rx_* / dpk_tx_* / dpk_frame_* functions on it. Crossing
 * lcores happens inside this layer, over rte_rings (software dispatch).
 *
 * Flow ownership: a TCP connection lives on one io lcore, the owner of its
 * 4-tuple, dpk_flow_owner(dpk_flow_hash(...)). The same function decides
 * (a) which queue hardware RSS delivers to (symmetric Toeplitz key, RETA
 * programmed to match) and (b) where software dispatch sends a frame, so the
 * stack may compute the owner itself and will always agree with the NIC. */
#ifndef SL_DATAPLANE_NET_DPDK_H
#define SL_DATAPLANE_NET_DPDK_H

#include <stdbool.h>
#include <stdint.h>

#define DPK_MAX_PORTS 4
#define DPK_MAX_LCORES 64
#define DPK_BURST_MAX 32	/* frames per dpk_rx_burst() call, at most */
#define DPK_TX_STAGE 256	/* frames staged per lcore before a forced flush */
#define DPK_RETA_SIZE 128	/* owner = (hash % DPK_RETA_SIZE) % n_lcores */
#define DPK_FRAME_MAX 1514	/* Ethernet frame without FCS at MTU 1500 */

/* ---------------------------------------------------------------------- */
/* Flow hash: symmetric Toeplitz, the function the NIC computes.          */

/* Toeplitz over (saddr, daddr, sport, dport) with the 40-byte key made of
 * 0x6d5a repeated (Woo and Park, "Scalable TCP Session Monitoring with
 * Symmetric RSS"). With a key of period 16 bits, the 32-bit window that input
 * bit j selects depends only on j mod 16, and Toeplitz is linear over GF(2):
 * so the hash of the 12-byte tuple equals the hash of its 16-bit XOR fold.
 * XOR commutes, hence hash(a, b) == hash(b, a) for both addresses and ports.
 * The result is bit-identical to rte_softrss() with that key (tested) and to
 * the hash an RSS NIC reports for IPv4/TCP and IPv4/UDP.
 * All arguments are in host byte order. For IPv4 without ports (ICMP,
 * fragments) pass sport = dport = 0: the NIC's IPv4 2-tuple hash is then
 * the same value, as the zero bytes contribute nothing. */
static inline uint32_t dpk_flow_hash(uint32_t saddr, uint32_t daddr, uint16_t sport,
				     uint16_t dport)
{
	uint32_t a = saddr ^ daddr;
	uint16_t fold = (uint16_t)((a >> 16) ^ a ^ sport ^ dport);
	const uint64_t pattern = 0x6d5a6d5a6d5a6d5aull;
	uint32_t h = 0;
	for (unsigned j = 0; j < 16; j++) /* bit j counted from the MSB */
		if (fold & (0x8000u >> j))
			h ^= (uint32_t)((pattern << j) >> 32);
	return h;
}

/* The io lcore (0..n_lcores-1) that owns a flow with this hash. */
static inline uint16_t dpk_flow_owner(uint32_t hash, uint16_t n_lcores)
{
	return (uint16_t)((hash % DPK_RETA_SIZE) % (n_lcores ? n_lcores : 1));
}

/* ---------------------------------------------------------------------- */
/* EAL arguments (pure string work: callable before EAL exists).          */

#define DPK_EAL_ARGC_MAX 64

struct dpk_eal_argv {
	int argc;
	char *argv[DPK_EAL_ARGC_MAX + 1]; /* argv[argc] == NULL */
	char buf[2048];			  /* the strings argv points into */
};

/* Builds the EAL argv for --transport dpdk: "sluiced --lcores MAP", then
 * "--no-pci" unless the operator's args allow PCI devices (-a / --allow),
 * "--no-telemetry", a memory choice unless the operator made one
 * (--in-memory with free hugepages, else --no-huge -m 512 --no-shconf), and
 * then the operator's dpdk_args split on blanks ('...' and "..." quote).
 * lcore_map is EAL's --lcores value that sluice computed ("0@0,1@1").
 * Errors: -EINVAL on an unbalanced quote or when dpdk_args set the lcores
 * themselves (-l, -c, --lcores: sluice owns the mapping), -E2BIG when the
 * arguments do not fit. */
int dpk_eal_argv_build(struct dpk_eal_argv *out, const char *dpdk_args, const char *lcore_map,
		       bool hugepages);

/* True when dpdk_args explicitly allow PCI devices (-a / --allow). */
bool dpk_eal_args_allow_pci(const char *dpdk_args);

/* CPUs local to the NUMA node of the first PCI device that dpdk_args allow
 * (-a BUS:DEV.FN), found with hwloc, so io lcores can be placed next to the
 * NIC. Writes up to max CPU numbers to cpus. Returns the count, 0 when there
 * is no PCI device (virtual devices: any CPU will do) or hwloc does not know
 * it, or -ENODEV when the topology cannot be read. */
int dpk_nic_local_cpus(const char *dpdk_args, unsigned *cpus, uint32_t max);

/* ---------------------------------------------------------------------- */
/* Ports (after rte_eal_init).                                            */

struct dpk;	   /* every port, pool and ring; one per process */
struct dpk_lcore;  /* one io lcore's view: its queues, staging, rings */

struct dpk_conf {
	uint16_t n_lcores;	  /* io lcores, ids 0..n_lcores-1; 1..DPK_MAX_LCORES */
	uint16_t rx_desc;	  /* descriptors per RX queue; 0 = 1024 */
	uint16_t tx_desc;	  /* descriptors per TX queue; 0 = 1024 */
	uint32_t ring_size;	  /* software dispatch ring per lcore; 0 = 1024 */
	bool force_sw_dispatch;	  /* tests: dispatch in software despite RSS */
};

struct dpk_port_info {
	uint16_t port_id;	/* DPDK's */
	char name[64];		/* "net_af_packet0" */
	char driver[32];	/* "net_af_packet" */
	uint8_t mac[6];
	int32_t numa_node;	/* where its mempool lives (0 when unknown) */
	uint16_t n_rxq, n_txq;	/* queues set up */
	bool hw_rss;		/* symmetric RSS spreads flows over n_lcores queues */
	bool sw_dispatch;	/* frames are re-dispatched by dpk_flow_owner() */
	bool tx_ip_csum;	/* the NIC fills IPv4 header checksums */
	bool tx_l4_csum;	/* the NIC fills TCP and UDP checksums */
	bool rx_csum;		/* the NIC reports verified checksums */
	bool link_up;
	uint32_t link_speed_mbps;
	uint16_t mtu;
};

/* Sets up every ethdev EAL probed (vdevs from --vdev, PCI devices from -a):
 * queues, one mempool per NUMA node that holds a port, RSS with the symmetric
 * key when the port offers it for n_lcores queues, otherwise as many queues
 * as it has (at most n_lcores) plus software dispatch rings; checksum
 * offloads when offered. Starts the ports. Returns NULL with errno: ENODEV
 * (no port), EINVAL (bad conf), ENOMEM (pool or ring), EIO (a port refused
 * its configuration; the reason is logged). */
struct dpk *dpk_create(const struct dpk_conf *conf);

/* Stops and closes the ports, frees pools and rings. NULL is a no-op. */
void dpk_destroy(struct dpk *d);

uint16_t dpk_port_count(const struct dpk *d);
/* Refreshes the link state and returns the port's info (NULL if out of range). */
const struct dpk_port_info *dpk_port_info(struct dpk *d, uint16_t port);
/* Waits until every port's link is up or timeout_ms passes.
 * Returns 0, or -ETIMEDOUT. */
int dpk_link_wait(struct dpk *d, uint32_t timeout_ms);
/* io lcore idx's handle (NULL if out of range). */
struct dpk_lcore *dpk_lcore(struct dpk *d, uint16_t idx);

/* ---------------------------------------------------------------------- */
/* Frames (per io lcore, hot path: no allocation but mbufs).              */

/* rx frame flags */
#define DPK_RX_IP_CSUM_OK 0x1u	/* the NIC verified the IPv4 header checksum */
#define DPK_RX_L4_CSUM_OK 0x2u	/* the NIC verified the TCP/UDP checksum */
#define DPK_RX_REPLICA 0x4u	/* a copy of a broadcast (ARP...) also given to
				 * lcore 0: learn from it, do not answer it */
/* tx frame flags (dpk_tx_send): the layer fills the checksum, by offload
 * when the port has it, in software otherwise. IPv4 without options or with;
 * no VLAN tag. The stack may leave the checksum fields at any value. */
#define DPK_TX_IP_CSUM 0x10u
#define DPK_TX_L4_CSUM 0x20u	/* TCP or UDP, from the IPv4 protocol field */

struct dpk_frame {
	uint8_t *data;	/* Ethernet header first; rx frames are read-only */
	uint16_t len;	/* bytes at data */
	uint16_t port;	/* dpk port index, 0..dpk_port_count()-1 */
	uint32_t flags;	/* DPK_RX_* on receive, DPK_TX_* on transmit */
	uint32_t hash;	/* dpk_flow_hash() of the frame (0 for non-IPv4) */
	void *mb;	/* the buffer behind data: pass the frame back to release it */
};

/* Receives up to cap (<= DPK_BURST_MAX) frames this lcore owns: from its own
 * RX queues and from the dispatch ring other lcores fill. Each returned frame
 * must be released with dpk_frame_free(), in any order, on this lcore.
 * Frames pass the fault hook (if set) before they are returned.
 * Returns the count (0 when idle). */
uint16_t dpk_rx_burst(struct dpk_lcore *lc, struct dpk_frame *f, uint16_t cap);

/* Releases a received frame, or a transmit frame that will not be sent. */
void dpk_frame_free(struct dpk_frame *f);

/* Copies f into a new buffer (for the fault stage's duplication).
 * Returns 0 or -ENOBUFS. */
int dpk_frame_dup(struct dpk_lcore *lc, const struct dpk_frame *f, struct dpk_frame *out);

/* Allocates a transmit frame of len bytes (<= DPK_FRAME_MAX) on the port's
 * NUMA node; build the frame in place at f->data. Returns 0, -EMSGSIZE, or
 * -ENOBUFS (pool empty: drop and let TCP retransmit). */
int dpk_tx_alloc(struct dpk_lcore *lc, uint16_t port, uint16_t len, struct dpk_frame *f);

/* Queues f (from dpk_tx_alloc; len may have shrunk) for transmission with
 * DPK_TX_* flags; the frame belongs to the layer from then on, even on
 * error. Flushes on its own when DPK_TX_STAGE frames are staged.
 * Returns 0, -EINVAL (checksum asked of a frame that is not IPv4/TCP|UDP),
 * or -ENOBUFS (staging full and the NIC would not take more: dropped). */
int dpk_tx_send(struct dpk_lcore *lc, struct dpk_frame *f, uint32_t flags);

/* dpk_tx_alloc + memcpy + dpk_tx_send. Same errors. */
int dpk_tx_copy(struct dpk_lcore *lc, uint16_t port, const void *data, uint16_t len,
		uint32_t flags);

/* Hands staged frames to the NIC (call once per poll-loop iteration). Frames
 * the NIC does not take stay staged for the next call. Returns the number
 * handed over. */
uint16_t dpk_tx_flush(struct dpk_lcore *lc);

/* ---------------------------------------------------------------------- */
/* Test-only fault stage hook and counters.                               */

/* Called on every receive burst (after dispatch, before frames are returned)
 * and on every flush (before frames reach the NIC), also with n == 0 so held
 * frames can be let go. f[0..n) are the frames; the function may drop
 * (dpk_frame_free), duplicate (dpk_frame_dup), reorder, or hold frames back
 * and return them in a later call; it returns the count now in f, <= cap. */
struct dpk_fault {
	uint16_t (*rx)(void *arg, struct dpk_lcore *lc, struct dpk_frame *f, uint16_t n,
		       uint16_t cap);
	uint16_t (*tx)(void *arg, struct dpk_lcore *lc, struct dpk_frame *f, uint16_t n,
		       uint16_t cap);
	void *arg;
};

/* Installs (or with NULL removes) the hook; fault must outlive its use. */
void dpk_lcore_set_fault(struct dpk_lcore *lc, const struct dpk_fault *fault);

struct dpk_lcore_stats {
	uint64_t rx_frames;	  /* returned by dpk_rx_burst */
	uint64_t rx_dispatched;	  /* read from a queue, sent to another lcore */
	uint64_t rx_ring_drops;	  /* dispatch ring full */
	uint64_t rx_bad;	  /* multi-segment or runt frames dropped */
	uint64_t tx_frames;	  /* taken by the NIC */
	uint64_t tx_drops;	  /* staging full */
	uint64_t tx_nobufs;	  /* dpk_tx_alloc found the pool empty */
};

void dpk_lcore_stats(const struct dpk_lcore *lc, struct dpk_lcore_stats *out);
uint16_t dpk_lcore_idx(const struct dpk_lcore *lc);

#endif
