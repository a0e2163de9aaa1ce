/* SPDX-License-Identifier: Apache-2.0 */
/* The per-address connection count (admit.h): linear probing with
 * backward-shift deletion (no tombstones, so probe chains never rot under
 * churn), sized at start-up for every connection slot at load <= 1/2. */
#include "dataplane/http/http_admit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static uint64_t mix64(uint64_t x)
{
	/* splitmix64's finaliser: every input bit reaches every output bit. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* Keyed with a per-table secret so that clients cannot choose addresses that
 * collide (they pick IPv6 sources freely). Not a MAC: it only has to keep
 * probe chains short, and the load factor bounds them anyway. */
static uint32_t addr_hash(const struct addr_table *t, const struct addr_key *k)
{
	uint64_t a, b;
	memcpy(&a, k->b, 8);
	memcpy(&b, k->b + 8, 8);
	return (uint32_t)mix64(mix64(a ^ t->seed[0]) ^ b ^ t->seed[1]);
}

int http_addr_table_init(struct addr_table *t, uint32_t max_addrs, uint32_t limit_per_addr)
{
	memset(t, 0, sizeof(*t));
	if (!max_addrs || !limit_per_addr || max_addrs > (1u << 30))
		return -EINVAL;
	uint32_t n = 2;
	while (n < 2 * max_addrs)
		n *= 2;
	t->slots = calloc(n, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->mask = n - 1;
	t->limit = limit_per_addr;
	t->max_addrs = max_addrs;
	if (getrandom(t->seed, sizeof(t->seed), GRND_NONBLOCK) != sizeof(t->seed)) {
		/* No entropy yet (early boot): the address spread still works,
		 * only collision-resistance against chosen sources is weaker. */
		t->seed[0] = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ull;
		t->seed[1] = (uint64_t)(uintptr_t)t->slots;
	}
	return 0;
}

void http_addr_table_fini(struct addr_table *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* The slot holding k, or the empty slot where it would go. */
static uint32_t addr_find(const struct addr_table *t, const struct addr_key *k)
{
	uint32_t i = addr_hash(t, k) & t->mask;
	/* Load <= 1/2 guarantees an empty slot, so the probe ends; the bound
	 * makes that visible. */
	for (uint32_t probes = 0; probes <= t->mask; probes++) {
		const struct addr_slot *s = &t->slots[i];
		if (!s->n || memcmp(&s->key, k, sizeof(*k)) == 0)
			return i;
		i = (i + 1) & t->mask;
	}
	BUG_ON(1); /* the table was sized so this cannot happen */
	return 0;
}

int http_addr_acquire(struct addr_table *t, const struct addr_key *k)
{
	struct addr_slot *s = &t->slots[addr_find(t, k)];
	if (s->n >= t->limit)
		return -EMFILE;
	if (!s->n) {
		BUG_ON(t->n_addrs >= t->max_addrs); /* more connections than slots */
		s->key = *k;
		t->n_addrs++;
	}
	s->n++;
	return 0;
}

void http_addr_release(struct addr_table *t, const struct addr_key *k)
{
	uint32_t i = addr_find(t, k);
	struct addr_slot *s = &t->slots[i];
	BUG_ON(!s->n);
	if (--s->n)
		return;
	t->n_addrs--;
	/* Backward-shift deletion: pull later members of the probe chain into
	 * the hole when the hole lies between their home slot and them. */
	uint32_t hole = i;
	for (uint32_t j = (i + 1) & t->mask; t->slots[j].n; j = (j + 1) & t->mask) {
		uint32_t home = addr_hash(t, &t->slots[j].key) & t->mask;
		if (((j - home) & t->mask) >= ((j - hole) & t->mask)) {
			t->slots[hole] = t->slots[j];
			t->slots[j].n = 0;
			hole = j;
		}
	}
	t->slots[hole].n = 0;
}

uint32_t http_addr_count(const struct addr_table *t, const struct addr_key *k)
{
	return t->slots[addr_find(t, k)].n;
}

void http_addr_key_ip4(struct addr_key *k, uint32_t ip)
{
	memset(k, 0, sizeof(*k));
	k->b[10] = k->b[11] = 0xff;
	k->b[12] = (uint8_t)(ip >> 24);
	k->b[13] = (uint8_t)(ip >> 16);
	k->b[14] = (uint8_t)(ip >> 8);
	k->b[15] = (uint8_t)ip;
}

void http_addr_key_ip6(struct addr_key *k, const uint8_t ip6[16])
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	memset(k, 0, sizeof(*k));
	if (memcmp(ip6, v4mapped, sizeof(v4mapped)) == 0) {
		memcpy(k->b, ip6, 16); /* an IPv4 peer on a dual-stack socket */
		return;
	}
	memcpy(k->b, ip6, 8); /* the /64 */
}
