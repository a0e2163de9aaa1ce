/* SPDX-License-Identifier: Apache-2.0 */
/* dataplane/net/dpdk without a device: the symmetric flow hash (against
 * DPDK's own rte_softrss as the oracle), EAL argv building, and the
 * --ip / --gateway flags of common/config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <rte_thash.h>

#include "common/config.h"
#include "dataplane/net/dpdk/dpdk.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_hash_symmetric(void **state)
{
	(void)state;
	for (int i = 0; i < 100000; i++) {
		uint64_t r = next_rand(), s = next_rand();
		uint32_t a = (uint32_t)r, b = (uint32_t)(r >> 32);
		uint16_t p = (uint16_t)s, q = (uint16_t)(s >> 16);
		assert_int_equal(dpk_flow_hash(a, b, p, q), dpk_flow_hash(b, a, q, p));
	}
}

/* The folded hash must be bit-identical to full Toeplitz with the 40-byte
 * 0x6d5a key: that is what an RSS NIC computes. */
static void test_hash_is_toeplitz(void **state)
{
	(void)state;
	uint8_t key[40];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (i & 1) ? 0x5a : 0x6d;
	for (int i = 0; i < 100000; i++) {
		uint64_t r = next_rand(), s = next_rand();
		uint32_t t[3] = { (uint32_t)r, (uint32_t)(r >> 32), (uint32_t)s };
		uint32_t want = rte_softrss(t, 3, key);
		uint32_t got = dpk_flow_hash(t[0], t[1], (uint16_t)(t[2] >> 16), (uint16_t)t[2]);
		assert_int_equal(got, want);
		/* addresses only (ICMP, fragments): the NIC's IPv4 2-tuple hash */
		assert_int_equal(dpk_flow_hash(t[0], t[1], 0, 0), rte_softrss(t, 2, key));
	}
	/* not trivially constant */
	assert_int_not_equal(dpk_flow_hash(0x0a630001, 0x0a630002, 1000, 443),
			     dpk_flow_hash(0x0a630001, 0x0a630002, 1001, 443));
}

static void test_owner_spreads(void **state)
{
	(void)state;
	uint32_t count[4] = { 0 };
	for (uint16_t port = 1024; port < 1024 + 4000; port++) {
		uint32_t h = dpk_flow_hash(0x0a630001, 0x0a630002, port, 443);
		uint16_t o = dpk_flow_owner(h, 4);
		assert_true(o < 4);
		assert_int_equal(o, dpk_flow_owner(dpk_flow_hash(0x0a630002, 0x0a630001, 443, port), 4));
		count[o]++;
	}
	for (int i = 0; i < 4; i++)
		assert_true(count[i] > 500); /* 1000 expected each */
	assert_int_equal(dpk_flow_owner(12345, 1), 0);
}

static int find_arg(const struct dpk_eal_argv *a, const char *s)
{
	for (int i = 0; i < a->argc; i++)
		if (strcmp(a->argv[i], s) == 0)
			return i;
	return -1;
}

static void test_eal_argv_no_pci(void **state)
{
	(void)state;
	struct dpk_eal_argv a;
	assert_int_equal(dpk_eal_argv_build(&a, "--vdev=net_af_packet0,iface=veth1", "0@0,1@1",
					    false), 0);
	assert_string_equal(a.argv[0], "sluiced");
	assert_int_equal(find_arg(&a, "--lcores"), 1);
	assert_string_equal(a.argv[2], "0@0,1@1");
	assert_true(find_arg(&a, "--no-pci") > 0);
	assert_true(find_arg(&a, "--no-huge") > 0);
	assert_true(find_arg(&a, "--in-memory") < 0);
	assert_true(find_arg(&a, "--vdev=net_af_packet0,iface=veth1") > 0);
	assert_null(a.argv[a.argc]);

	assert_int_equal(dpk_eal_argv_build(&a, NULL, "0@0", true), 0);
	assert_true(find_arg(&a, "--no-pci") > 0);
	assert_true(find_arg(&a, "--in-memory") > 0);
	assert_true(find_arg(&a, "--no-huge") < 0);
	/* operator's memory choice wins; --no-pci not doubled */
	assert_int_equal(dpk_eal_argv_build(&a, "--no-pci --no-huge -m 256", "0@0", true), 0);
	assert_true(find_arg(&a, "--in-memory") < 0);
	int np = 0;
	for (int i = 0; i < a.argc; i++)
		np += strcmp(a.argv[i], "--no-pci") == 0;
	assert_int_equal(np, 1);
}

static void test_eal_argv_allow(void **state)
{
	(void)state;
	struct dpk_eal_argv a;
	const char *allow[] = { "-a 0000:01:00.0", "-a0000:01:00.0",
				"--allow 0000:01:00.0,rxq_pkt_pad_en=1", "--allow=0000:01:00.0" };
	for (size_t i = 0; i < 4; i++) {
		assert_true(dpk_eal_args_allow_pci(allow[i]));
		assert_int_equal(dpk_eal_argv_build(&a, allow[i], "0@0", false), 0);
		assert_true(find_arg(&a, "--no-pci") < 0);
	}
	assert_false(dpk_eal_args_allow_pci("--vdev=net_tap0 --allow-x"));
	assert_false(dpk_eal_args_allow_pci("-b 0000:01:00.0"));
	/* quoting keeps a devargs string with blanks in one argument */
	assert_int_equal(dpk_eal_argv_build(&a, "--vdev 'net_tap0,iface=a b' \"--log-level=8\"",
					    "0@0", false), 0);
	assert_true(find_arg(&a, "net_tap0,iface=a b") > 0);
	assert_true(find_arg(&a, "--log-level=8") > 0);
	/* errors */
	assert_int_equal(dpk_eal_argv_build(&a, "--vdev 'net_tap0", "0@0", false), -EINVAL);
	assert_int_equal(dpk_eal_argv_build(&a, "-l 0-3", "0@0", false), -EINVAL);
	assert_int_equal(dpk_eal_argv_build(&a, "--lcores=0@1", "0@0", false), -EINVAL);
	assert_int_equal(dpk_eal_argv_build(&a, "", "", false), -EINVAL);
	char many[1024] = "";
	for (int i = 0; i < 100; i++)
		strcat(many, "-v ");
	assert_int_equal(dpk_eal_argv_build(&a, many, "0@0", false), -E2BIG);
}

static void test_nic_cpus_no_pci(void **state)
{
	(void)state;
	unsigned cpus[8];
	/* Virtual devices only: no placement hint, and hwloc is not even loaded.
	 * (A PCI address is not tried here: hwloc 2.9's PCI discovery leaks a
	 * few allocations of its own, which LeakSanitizer would report.) */
	assert_int_equal(dpk_nic_local_cpus("--vdev=net_tap0", cpus, 8), 0);
	assert_int_equal(dpk_nic_local_cpus(NULL, cpus, 8), 0);
}

static int parse(struct sl_config *c, const char *a1, const char *a2, const char *a3,
		 const char *a4)
{
	char *argv[12] = { "sluiced", "--data-dir", "/tmp/x", "--transport", "dpdk" };
	int argc = 5;
	const char *extra[] = { a1, a2, a3, a4 };
	for (int i = 0; i < 4; i++)
		if (extra[i])
			argv[argc++] = (char *)extra[i];
	return sl_config_parse(c, argc, argv);
}

static void test_config_ip6_vlan(void **state)
{
	(void)state;
	struct sl_config c;
	static const uint8_t want[16] = {0xfd, 0, 0, 0x99, [15] = 2};
	/* IPv6 only, then dual stack with a VLAN */
	assert_int_equal(parse(&c, "--dpdk-ip6", "fd00:99::2/64", NULL, NULL), 0);
	assert_memory_equal(c.ip6_addr, want, 16);
	assert_int_equal(c.ip6_prefix_len, 64);
	assert_int_equal(c.ip4_addr, 0);
	assert_int_equal(c.dpdk_vlan, 0);
	assert_int_equal(parse(&c, "--ip=10.99.0.7/16", "--dpdk-ip6=fd00:99::2/128",
			       "--dpdk-vlan=100", NULL), 0);
	assert_int_equal(c.ip6_prefix_len, 128);
	assert_int_equal(c.dpdk_vlan, 100);
	/* refused: no prefix, bad prefix, link-local, multicast, loopback,
	 * mapped IPv4, not an address; VLAN 4095 */
	const char *bad[] = {"fd00:99::2", "fd00:99::2/0", "fd00:99::2/129", "fe80::2/64",
			     "ff02::1/64", "::1/128", "::ffff:10.0.0.1/96", "10.0.0.1/24",
			     "fd00:99::2/64x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(&c, "--dpdk-ip6", bad[i], NULL, NULL), -EINVAL);
	assert_int_equal(parse(&c, "--ip=10.99.0.7/16", "--dpdk-vlan", "4095", NULL), -EINVAL);
}

static void test_config_ip(void **state)
{
	(void)state;
	struct sl_config c;
	assert_int_equal(parse(&c, "--ip", "10.99.1.2/24", "--gateway", "10.99.1.1"), 0);
	assert_int_equal(c.ip4_addr, 0x0a630102);
	assert_int_equal(c.ip4_prefix_len, 24);
	assert_int_equal(c.ip4_gateway, 0x0a630101);
	assert_int_equal(parse(&c, "--ip=10.99.0.7/16", NULL, NULL, NULL), 0);
	assert_int_equal(c.ip4_addr, 0x0a630007);
	assert_int_equal(c.ip4_prefix_len, 16);
	assert_int_equal(c.ip4_gateway, 0);
	/* refused */
	assert_int_equal(parse(&c, NULL, NULL, NULL, NULL), -EINVAL); /* dpdk needs --ip */
	assert_int_equal(parse(&c, "--ip", "10.99.1.2", NULL, NULL), -EINVAL);
	assert_int_equal(parse(&c, "--ip", "10.99.1.2/33", NULL, NULL), -EINVAL);
	assert_int_equal(parse(&c, "--ip", "10.99.1.2/0", NULL, NULL), -EINVAL);
	assert_int_equal(parse(&c, "--ip", "10.99.1/24", NULL, NULL), -EINVAL);
	assert_int_equal(parse(&c, "--ip", "10.99.1.2/24x", NULL, NULL), -EINVAL);
	assert_int_equal(parse(&c, "--ip", "10.99.1.2/24", "--gateway", "10.99.2.1"), -EINVAL);
	assert_int_equal(parse(&c, "--ip", "10.99.1.2/24", "--gateway", "10.99.1.2"), -EINVAL);
	assert_int_equal(parse(&c, "--ip", "10.99.1.2/24", "--gateway", "bogus"), -EINVAL);
	/* the kernel transport ignores them but still parses them */
	char *argv[] = { "sluiced", "--data-dir", "/tmp/x", "--ip", "10.99.3.4/24" };
	assert_int_equal(sl_config_parse(&c, 5, argv), 0);
	assert_int_equal(c.ip4_addr, 0x0a630304);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_symmetric),
		cmocka_unit_test(test_hash_is_toeplitz),
		cmocka_unit_test(test_owner_spreads),
		cmocka_unit_test(test_eal_argv_no_pci),
		cmocka_unit_test(test_eal_argv_allow),
		cmocka_unit_test(test_nic_cpus_no_pci),
		cmocka_unit_test(test_config_ip),
		cmocka_unit_test(test_config_ip6_vlan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
