/* SPDX-License-Identifier: Apache-2.0 */
/* Real EAL, real PMD, kernel on the other side of a veth (or tap) pair.
 * Driven by dpdk_veth_test.sh, which makes the namespaces and runs this
 * inside the DPDK-side namespace.
 *
 *   dpdk_veth_test basic    OPTIONS -- DPDK_ARGS   one lcore: the kernel pings
 *       us (we must see its ARP request, answer it, answer the echoes: ping's
 *       exit status says the kernel took our frames), a Python UDP socket in
 *       the peer namespace must get our datagram (checksums by the layer) and
 *       must not get one with a bad checksum; then rough TX/RX rates.
 *   dpdk_veth_test dispatch OPTIONS -- DPDK_ARGS   two lcores, port with fewer
 *       RSS-less queues: the peer sends both directions of many flows; each
 *       flow must land on one lcore, its dpk_flow_owner(); ARP on both.
 * OPTIONS: --peer "CMD PREFIX" (how to run a command on the kernel side),
 *          --peer-setup "CMD" (run after the port starts), --my-ip A,
 *          --peer-ip B, --peer-if NAME, --udp-port P.
 * Exit: 0 pass, 1 fail, 77 when EAL or the port cannot come up. */
#include <errno.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/net/dpdk/dpdk.h"

#define FAIL(...)                                                       \
	do {                                                            \
		fprintf(stderr, "FAIL: " __VA_ARGS__);                  \
		fprintf(stderr, "\n");                                  \
		failures++;                                             \
	} while (0)

static int failures;
static struct dpk *d;
static const char *peer = "", *peer_setup, *peer_if = "";
static uint32_t my_ip, peer_ip;
static uint16_t udp_port = 7777;
static uint8_t my_mac[6], peer_mac[6];
static bool peer_mac_known;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static pid_t spawn(const char *cmd)
{
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Exit status of pid, or -1 while it runs. */
static int reap(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, WNOHANG) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint16_t csum16(const uint8_t *p, uint32_t len)
{
	uint32_t s = 0;
	for (uint32_t i = 0; i + 1 < len; i += 2)
		s += get16(p + i);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Ethernet + IPv4 header (checksum left to the layer) at f; returns IP len. */
static void ip_hdr(uint8_t *f, uint8_t proto, uint32_t src, uint32_t dst, uint16_t ip_len)
{
	memcpy(f, peer_mac, 6);
	memcpy(f + 6, my_mac, 6);
	put16(f + 12, 0x0800);
	uint8_t *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, ip_len);
	ip[8] = 64;
	ip[9] = proto;
	put16(ip + 10, 0xbeef); /* garbage: the layer must overwrite it */
	put32(ip + 12, src);
	put32(ip + 16, dst);
}

static int send_udp(struct dpk_lcore *lc, uint16_t dport, const char *payload, bool good_csum)
{
	uint16_t plen = (uint16_t)strlen(payload);
	struct dpk_frame f;
	int rc = dpk_tx_alloc(lc, 0, (uint16_t)(14 + 20 + 8 + plen), &f);
	if (rc)
		return rc;
	ip_hdr(f.data, 17, my_ip, peer_ip, (uint16_t)(20 + 8 + plen));
	uint8_t *u = f.data + 34;
	put16(u, 40000);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(8 + plen));
	put16(u + 6, 0x1234);
	memcpy(u + 8, payload, plen);
	if (!good_csum) {
		uint8_t *ip = f.data + 14;
		put16(ip + 10, 0);
		put16(ip + 10, csum16(ip, 20));
	}
	return dpk_tx_send(lc, &f, good_csum ? DPK_TX_IP_CSUM | DPK_TX_L4_CSUM : 0);
}

static uint32_t arp_requests_for_me, echo_requests, udp_in;

static void answer_arp(struct dpk_lcore *lc, const uint8_t *p)
{
	uint8_t r[42];
	memcpy(peer_mac, p + 22, 6);
	peer_mac_known = true;
	memcpy(r, p + 6, 6);
	memcpy(r + 6, my_mac, 6);
	put16(r + 12, 0x0806);
	memcpy(r + 14, p + 14, 6); /* htype, ptype, hlen, plen */
	put16(r + 20, 2);	   /* reply */
	memcpy(r + 22, my_mac, 6);
	put32(r + 28, my_ip);
	memcpy(r + 32, p + 22, 10); /* target: the asker's MAC and IP */
	if (dpk_tx_copy(lc, 0, r, sizeof(r), 0))
		FAIL("tx of ARP reply");
}

static void answer_echo(struct dpk_lcore *lc, const struct dpk_frame *in)
{
	struct dpk_frame f;
	if (dpk_tx_alloc(lc, 0, in->len, &f))
		return;
	memcpy(f.data, in->data + 6, 6);
	memcpy(f.data + 6, my_mac, 6);
	memcpy(f.data + 12, in->data + 12, in->len - 12);
	uint8_t *ip = f.data + 14;
	put32(ip + 12, my_ip);
	memcpy(ip + 16, in->data + 14 + 12, 4);
	uint16_t ip_len = get16(ip + 2);
	uint8_t *icmp = ip + 20;
	icmp[0] = 0; /* echo reply */
	put16(icmp + 2, 0);
	put16(icmp + 2, csum16(icmp, ip_len - 20u));
	if (dpk_tx_send(lc, &f, DPK_TX_IP_CSUM))
		FAIL("tx of echo reply");
}

/* One pass of a tiny responder: ARP for my_ip, ICMP echo, UDP counted. */
static void serve(struct dpk_lcore *lc)
{
	struct dpk_frame fr[DPK_BURST_MAX];
	uint16_t n = dpk_rx_burst(lc, fr, DPK_BURST_MAX);
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *p = fr[i].data;
		uint16_t et = fr[i].len >= 14 ? get16(p + 12) : 0;
		if (et == 0x0806 && fr[i].len >= 42 && get16(p + 20) == 1 &&
		    get32(p + 38) == my_ip) {
			arp_requests_for_me++;
			answer_arp(lc, p);
		} else if (et == 0x0800 && fr[i].len >= 42 && get32(p + 30) == my_ip) {
			if (csum16(p + 14, 20) != 0)
				FAIL("received IPv4 header with a bad checksum");
			if (p[23] == 1 && p[34] == 8) {
				echo_requests++;
				answer_echo(lc, &fr[i]);
			} else if (p[23] == 17) {
				udp_in++;
			}
		}
		dpk_frame_free(&fr[i]);
	}
	dpk_tx_flush(lc);
}

/* Serves until pid exits or timeout; returns its exit status (-1: timeout). */
static int serve_until_exit(struct dpk_lcore *lc, pid_t pid, uint32_t timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int st;
	while ((st = reap(pid)) < 0 && now_ns() < end)
		serve(lc);
	if (st < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return st;
}

static void phase_ping(struct dpk_lcore *lc)
{
	char cmd[2048], ip[INET_ADDRSTRLEN];
	struct in_addr a = { htonl(my_ip) };
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	/* ping(8) is not always installed: a raw ICMP socket in Python that
	 * checks type, id, sequence, payload and the ICMP checksum (the kernel
	 * hands raw sockets echo replies before checking it). */
	snprintf(cmd, sizeof(cmd),
		 "%s /usr/bin/python3 -c \"import socket,struct,sys,os\n"
		 "def ck(b):\n"
		 "  b+=bytes(len(b)%%2); s=sum(struct.unpack('!%%dH'%%(len(b)//2),b))\n"
		 "  while s>>16: s=(s&0xffff)+(s>>16)\n"
		 "  return ~s&0xffff\n"
		 "s=socket.socket(socket.AF_INET,socket.SOCK_RAW,socket.IPPROTO_ICMP); s.settimeout(2)\n"
		 "ok=0; ident=os.getpid()&0xffff\n"
		 "for seq in range(3):\n"
		 "  pl=b'sluice-echo-%%d'%%seq; h=struct.pack('!BBHHH',8,0,0,ident,seq)\n"
		 "  s.sendto(struct.pack('!BBHHH',8,0,ck(h+pl),ident,seq)+pl,('%s',0))\n"
		 "  try:\n"
		 "    while True:\n"
		 "      d=s.recv(2048); ic=d[(d[0]&15)*4:]\n"
		 "      if ic[0]==0 and ic[4:8]==struct.pack('!HH',ident,seq): break\n"
		 "  except socket.timeout: continue\n"
		 "  ok+= ck(ic)==0 and ic[8:]==pl\n"
		 "sys.exit(0 if ok==3 else 1)\"", peer, ip);
	int st = serve_until_exit(lc, spawn(cmd), 8000);
	printf("ping: exit %d, ARP requests for us %u, echo requests %u\n", st,
	       arp_requests_for_me, echo_requests);
	if (arp_requests_for_me < 1)
		FAIL("no ARP request for %s received", ip);
	if (echo_requests < 3)
		FAIL("%u echo requests received, want 3", echo_requests);
	if (st != 0)
		FAIL("ping from the kernel side failed (exit %d): our replies were not taken", st);
}

/* The peer's UDP socket must receive the good datagram, never the bad one. */
static void phase_udp(struct dpk_lcore *lc)
{
	char cmd[1024], ip[INET_ADDRSTRLEN];
	struct in_addr a = { htonl(peer_ip) };
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(cmd, sizeof(cmd),
		 "%s /usr/bin/python3 -c \"import socket,sys\n"
		 "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
		 "s.bind(('%s',%u)); s.settimeout(5)\n"
		 "open('/tmp/sl-dpdk-udp-ready-%d','w').close()\n"
		 "d,_=s.recvfrom(2048)\n"
		 "sys.exit(0 if d==b'sluice-dpdk-good' else 3)\"",
		 peer, ip, udp_port, (int)getpid());
	char ready[64];
	snprintf(ready, sizeof(ready), "/tmp/sl-dpdk-udp-ready-%d", (int)getpid());
	unlink(ready);
	pid_t pid = spawn(cmd);
	uint64_t end = now_ns() + 5000000000ull;
	while (access(ready, F_OK) != 0 && now_ns() < end && reap(pid) < 0)
		serve(lc);
	unlink(ready);
	if (!peer_mac_known)
		FAIL("peer MAC unknown (no ARP seen)");
	if (send_udp(lc, udp_port, "sluice-dpdk-bad", false) ||
	    send_udp(lc, udp_port, "sluice-dpdk-good", true))
		FAIL("tx of UDP datagrams");
	dpk_tx_flush(lc);
	int st = serve_until_exit(lc, pid, 6000);
	printf("udp: peer socket exit %d (0: got the good datagram, not the bad one)\n", st);
	if (st != 0)
		FAIL("peer UDP socket: exit %d", st);
}

static void phase_rates(struct dpk_lcore *lc)
{
	const uint32_t n_tx = 200000;
	struct dpk_lcore_stats s0, s1;
	dpk_lcore_stats(lc, &s0);
	uint64_t t0 = now_ns();
	for (uint32_t i = 0; i < n_tx; i++) {
		if (send_udp(lc, (uint16_t)(udp_port + 1), "sluice-dpdk-rate-test-payload", true))
			dpk_tx_flush(lc); /* -ENOBUFS: pool or stage full; count, go on */
		if ((i & 31) == 31)
			serve(lc);
	}
	while (dpk_tx_flush(lc))
		;
	uint64_t t1 = now_ns();
	dpk_lcore_stats(lc, &s1);
	uint64_t sent = s1.tx_frames - s0.tx_frames;
	printf("rate: tx %" PRIu64 " of %u frames (72 B) in %.3f s: %.0f frames/s\n", sent, n_tx,
	       (double)(t1 - t0) / 1e9, (double)sent * 1e9 / (double)(t1 - t0));
	if (sent < n_tx / 2)
		FAIL("tx took only %" PRIu64 " of %u frames", sent, n_tx);

	char cmd[1024], ip[INET_ADDRSTRLEN];
	struct in_addr a = { htonl(my_ip) };
	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(cmd, sizeof(cmd),
		 "%s /usr/bin/python3 -c \"import socket\n"
		 "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
		 "for i in range(100000): s.sendto(b'x'*32,('%s',%u))\"",
		 peer, ip, udp_port);
	udp_in = 0;
	t0 = now_ns();
	int st = serve_until_exit(lc, spawn(cmd), 30000);
	for (int i = 0; i < 1000; i++)
		serve(lc); /* drain what is queued */
	t1 = now_ns();
	printf("rate: rx %u of 100000 datagrams in %.3f s: %.0f frames/s (sender-bound)\n", udp_in,
	       (double)(t1 - t0) / 1e9, (double)udp_in * 1e9 / (double)(t1 - t0));
	if (st != 0 || udp_in < 1000)
		FAIL("rx rate: sender exit %d, %u received", st, udp_in);
}

/* --- dispatch mode: two lcores --- */

#define N_FLOWS 64
#define REPEAT 4

struct seen {
	uint32_t flow_lcore[N_FLOWS][2]; /* frames per flow per lcore */
	uint32_t bad_owner, arp[2], arp_replica[2];
	uint64_t dispatched[2];
	volatile int stop;
};
static struct seen seen;

/* Flow i: 10.99.X.(100+i):(20000+i) <-> my_ip:5000; the flow index rides in
 * the payload so both directions are matched without a table. */
static void dispatch_poll(struct dpk_lcore *lc, uint16_t me)
{
	struct dpk_frame fr[DPK_BURST_MAX];
	uint16_t n = dpk_rx_burst(lc, fr, DPK_BURST_MAX);
	for (uint16_t i = 0; i < n; i++) {
		const uint8_t *p = fr[i].data;
		if (get16(p + 12) == 0x0806) {
			seen.arp[me]++;
			seen.arp_replica[me] += !!(fr[i].flags & DPK_RX_REPLICA);
		} else if (get16(p + 12) == 0x0800 && p[23] == 17 && fr[i].len >= 14 + 28 + 4 &&
			   !memcmp(p + 42, "FLW", 3)) {
			uint8_t flow = p[45];
			uint32_t h = dpk_flow_hash(get32(p + 26), get32(p + 30), get16(p + 34),
						   get16(p + 36));
			if (flow < N_FLOWS)
				__atomic_fetch_add(&seen.flow_lcore[flow][me], 1, __ATOMIC_RELAXED);
			if (dpk_flow_owner(h, 2) != me || fr[i].hash != h)
				__atomic_fetch_add(&seen.bad_owner, 1, __ATOMIC_RELAXED);
		}
		dpk_frame_free(&fr[i]);
	}
}

static int dispatch_worker(void *arg)
{
	struct dpk_lcore *lc = dpk_lcore(d, 1);
	(void)arg;
	while (!__atomic_load_n(&seen.stop, __ATOMIC_ACQUIRE))
		dispatch_poll(lc, 1);
	return 0;
}

static void dispatch_check(void)
{
	uint32_t per_lcore[2] = { 0, 0 };
	for (int f = 0; f < N_FLOWS; f++) {
		uint32_t a = seen.flow_lcore[f][0], b = seen.flow_lcore[f][1];
		if (a + b != 2 * REPEAT)
			FAIL("flow %d: %u frames seen, want %d", f, a + b, 2 * REPEAT);
		if (a && b)
			FAIL("flow %d split over lcores (%u on 0, %u on 1)", f, a, b);
		per_lcore[b ? 1 : 0]++;
	}
	struct dpk_lcore_stats s0, s1;
	dpk_lcore_stats(dpk_lcore(d, 0), &s0);
	dpk_lcore_stats(dpk_lcore(d, 1), &s1);
	printf("dispatch: flows on lcore 0: %u, lcore 1: %u; dispatched 0->1 %" PRIu64
	       ", 1->0 %" PRIu64 "; wrong owner %u; ARP %u/%u (replicas on 1: %u); "
	       "ring drops %" PRIu64 "\n", per_lcore[0], per_lcore[1], s0.rx_dispatched,
	       s1.rx_dispatched, seen.bad_owner, seen.arp[0], seen.arp[1], seen.arp_replica[1],
	       s0.rx_ring_drops + s1.rx_ring_drops);
	if (seen.bad_owner)
		FAIL("%u frames on a lcore that is not their owner", seen.bad_owner);
	if (!per_lcore[0] || !per_lcore[1])
		FAIL("all flows on one lcore");
	if (s0.rx_dispatched + s1.rx_dispatched == 0)
		FAIL("nothing went through the dispatch rings");
	if (seen.arp[0] < 5 || seen.arp[1] < 5 || seen.arp_replica[0] || seen.arp_replica[1] < 5)
		FAIL("ARP broadcast: want 5 on each lcore, replicas flagged on lcore 1 only");
}

static int run_dispatch(void)
{
	char cmd[2048], mac[18];
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", my_mac[0], my_mac[1],
		 my_mac[2], my_mac[3], my_mac[4], my_mac[5]);
	/* Raw frames from the peer's interface: flow i forward (client ->
	 * us) and reverse (as if we were the client), plus ARP broadcasts. */
	snprintf(cmd, sizeof(cmd),
		 "%s /usr/bin/python3 -c \"import socket,struct,time\n"
		 "s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW); s.bind(('%s',0))\n"
		 "dst=bytes.fromhex('%s'.replace(':','')); src=bytes.fromhex('020000000001')\n"
		 "me=%u; net=me & 0xffffff00\n"
		 "def frame(a,b,pa,pb,i):\n"
		 "  pl=b'FLW'+bytes([i])\n"
		 "  ip=struct.pack('!BBHHHBBHII',0x45,0,28+len(pl),0,0,64,17,0,a,b)\n"
		 "  return dst+src+bytes([8,0])+ip+struct.pack('!HHHH',pa,pb,8+len(pl),0)+pl\n"
		 "for r in range(%d):\n"
		 "  for i in range(%d):\n"
		 "    c=net|(100+i); s.send(frame(c,me,20000+i,5000,i)); s.send(frame(me,c,5000,20000+i,i))\n"
		 "  time.sleep(0.05)\n"
		 "arp=b'\\xff'*6+src+bytes([8,6])+struct.pack('!HHBBH',1,0x800,6,4,1)+src+"
		 "struct.pack('!I',net|1)+bytes(6)+struct.pack('!I',me)\n"
		 "for i in range(5): s.send(arp)\"",
		 peer, peer_if, mac, my_ip, REPEAT, N_FLOWS);
	unsigned worker = rte_get_next_lcore(rte_get_main_lcore(), 1, 0);
	if (worker >= RTE_MAX_LCORE || dpk_port_info(d, 0)->n_rxq < 2) {
		fprintf(stderr, "SKIP: dispatch mode needs two EAL lcores and two RX queues\n");
		return 77;
	}
	if (rte_eal_remote_launch(dispatch_worker, NULL, worker) != 0) {
		fprintf(stderr, "FAIL: cannot launch the dispatch worker on lcore %u\n", worker);
		return 1;
	}
	pid_t pid = spawn(cmd);
	struct dpk_lcore *lc0 = dpk_lcore(d, 0);
	int st;
	uint64_t end = now_ns() + 20000000000ull;
	while ((st = reap(pid)) < 0 && now_ns() < end)
		dispatch_poll(lc0, 0);
	if (st < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	end = now_ns() + 300000000ull; /* drain */
	while (now_ns() < end)
		dispatch_poll(lc0, 0);
	__atomic_store_n(&seen.stop, 1, __ATOMIC_RELEASE);
	rte_eal_mp_wait_lcore();
	if (st != 0)
		FAIL("raw frame sender exit %d", st);
	dispatch_check();
	return 0;
}

static int parse_args(int argc, char **argv)
{
	for (int i = 2; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		struct in_addr a;
		if (!strcmp(k, "--peer"))
			peer = v;
		else if (!strcmp(k, "--peer-setup"))
			peer_setup = v;
		else if (!strcmp(k, "--peer-if"))
			peer_if = v;
		else if (!strcmp(k, "--udp-port"))
			udp_port = (uint16_t)atoi(v);
		else if (!strcmp(k, "--my-ip") && inet_pton(AF_INET, v, &a) == 1)
			my_ip = ntohl(a.s_addr);
		else if (!strcmp(k, "--peer-ip") && inet_pton(AF_INET, v, &a) == 1)
			peer_ip = ntohl(a.s_addr);
		else if (!strcmp(k, "--dpdk-args"))
			return i + 1;
		else
			return -1;
	}
	return -1;
}

/* EAL from the same builder sluiced uses, with a test lcore map. */
static int eal_start(const char *dpdk_args, bool two_lcores)
{
	struct dpk_eal_argv ea;
	int rc = dpk_eal_argv_build(&ea, dpdk_args, two_lcores ? "0@0,1@1" : "0@0", false);
	if (rc) {
		fprintf(stderr, "FAIL: EAL argv: %d\n", rc);
		return 1;
	}
	for (int i = 0; i < ea.argc; i++)
		printf("%s%s", i ? " " : "EAL: ", ea.argv[i]);
	printf("\n");
	if (rte_eal_init(ea.argc, ea.argv) < 0) {
		fprintf(stderr, "SKIP: rte_eal_init failed: %s\n", rte_strerror(rte_errno));
		return 77;
	}
	return 0;
}

static int port_up(bool two_lcores)
{
	struct dpk_conf conf = { .n_lcores = two_lcores ? 2 : 1, .rx_desc = 512,
				 .tx_desc = 512 };
	d = dpk_create(&conf);
	if (!d) {
		fprintf(stderr, "SKIP: dpk_create: %s\n", strerror(errno));
		return 77;
	}
	if (peer_setup && system(peer_setup) != 0) {
		fprintf(stderr, "FAIL: peer setup '%s'\n", peer_setup);
		return 1;
	}
	if (dpk_link_wait(d, 3000))
		FAIL("link did not come up in 3 s");
	const struct dpk_port_info *in = dpk_port_info(d, 0);
	memcpy(my_mac, in->mac, 6);
	printf("port: %s (%s) rxq %u txq %u hw_rss %d sw_dispatch %d tx csum ip %d l4 %d "
	       "rx csum %d link %d\n", in->name, in->driver, in->n_rxq, in->n_txq, in->hw_rss,
	       in->sw_dispatch, in->tx_ip_csum, in->tx_l4_csum, in->rx_csum, in->link_up);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int ai = argc >= 2 ? parse_args(argc, argv) : -1;
	if (ai < 0 || !my_ip) {
		fprintf(stderr, "usage: %s basic|dispatch OPTIONS --dpdk-args ARGS\n", argv[0]);
		return 1;
	}
	bool dispatch = strcmp(argv[1], "dispatch") == 0;
	int rc = eal_start(argv[ai], dispatch);
	rc = rc ? rc : port_up(dispatch);
	if (rc)
		return rc;
	if (dispatch) {
		rc = run_dispatch();
	} else {
		struct dpk_lcore *lc = dpk_lcore(d, 0);
		phase_ping(lc);
		if (!failures)
			phase_udp(lc);
		if (!failures)
			phase_rates(lc);
	}
	dpk_destroy(d);
	rte_eal_cleanup();
	if (rc == 77)
		return 77;
	printf("%s: %s\n", argv[1], failures ? "FAILED" : "passed");
	return failures ? 1 : 0;
}
