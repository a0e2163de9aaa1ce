/* SPDX-License-Identifier: Apache-2.0 */
/* Control requests, from the io lcores to whoever answers them (the control
 * plane's thread), and their answers back.
 *
 * The dataplane defines this queue; the control plane drains and answers it
 * (controlplane/cp.c), so the io lcores never call into the control plane.
 * An io lcore allocates a ctl_call, fills the request part and posts it on
 * one multi-producer request ring. The answering thread dequeues it
 * (ctl_requests), fills the reply part and enqueues it on the poster's
 * single-producer / single-consumer reply ring (ctl_answer), which calls the
 * wake callback so a sleeping lcore notices. Ownership of the ctl_call
 * passes to the answerer at ctl_post and back to the io lcore when
 * ctl_replies hands it out.
 *
 * Bounds: CTL_RING_SIZE - 1 calls (rte_ring keeps one slot free) in the
 * request ring and in each reply ring. Credits: an io lcore may have at most
 * CTL_LCORE_CREDITS calls posted and not yet collected. Each of them sits in
 * the request ring, with the answerer or in that lcore's reply ring, so the
 * reply ring can never be full: ctl_answer never waits and never drops, and
 * one slow lcore never stalls the answers of the others. */
#ifndef SL_DATAPLANE_CTL_H
#define SL_DATAPLANE_CTL_H

#include <stdint.h>

#include "common/bug.h"

#include "dataplane/api/api.h"

#define CTL_RING_SIZE 1024u /* request ring and each reply ring (power of 2) */
#define CTL_LCORES_MAX 1024u /* reply rings */
/* Calls one io lcore may have out (posted, not yet collected): the capacity
 * of its reply ring (rte_ring without RING_F_EXACT_SZ holds size - 1). */
#define CTL_LCORE_CREDITS (CTL_RING_SIZE - 1u)

struct ctl_queue;

struct ctl_call {
	/* request, set by the poster */
	enum api_op op;
	uint16_t lcore;	   /* whose reply ring */
	uint64_t cookie;   /* poster's, returned untouched */
	char region[64];   /* from the SigV4 credential scope; used in ARNs */
	char *body;	   /* request JSON, owned by the call (malloc) */
	uint32_t body_len;
	/* Not an operation: op's stream, named by body (its name), is missing
	 * from the routing table while the metadata is shared with other
	 * nodes. The answerer reads the store once and republishes the table
	 * when the stream is there: status 200 = look again, 404 = it is not
	 * (answer ResourceNotFoundException), resp NULL. */
	bool route_miss;
	/* reply, set by the answerer */
	uint16_t status;   /* HTTP status, 200 on success */
	char *resp;	   /* JSON body (malloc), owned by the call */
	uint32_t resp_len;
};

/* Called after an answer was enqueued on lcore's reply ring (and while a
 * full reply ring makes the answerer wait), from the answering thread. */
typedef void (*ctl_wake_fn)(void *arg, uint16_t lcore);

/* Creates the request ring and n_lcores reply rings. Needs rte_eal_init.
 * wake may be NULL (nobody sleeps). Returns NULL and sets errno: EINVAL
 * (n_lcores 0 or above CTL_LCORES_MAX), ENOMEM, or the rte_ring_create
 * error. */
struct ctl_queue *ctl_create(uint16_t n_lcores, ctl_wake_fn wake, void *wake_arg);
/* Frees the rings and every call still in them (requests nobody answered,
 * answers nobody collected): the posters and the answerer must be gone.
 * NULL is a no-op. */
void ctl_destroy(struct ctl_queue *q);

/* --- io lcore side --- */

/* Posts a call (any thread, multi-producer). Returns 0, -EINVAL when
 * call->lcore >= n_lcores, or -ENOBUFS when the request ring is full or
 * call->lcore has CTL_LCORE_CREDITS calls out already; on
 * error the caller keeps ownership (and answers LimitExceededException /
 * 503). The answer has status, resp and resp_len set; by the control
 * plane's contract resp is a JSON body (success or Kinesis error), or NULL
 * with status 500 when memory ran out. */
int SL_MUST_CHECK ctl_post(struct ctl_queue *q, struct ctl_call *call);
/* Dequeues up to max answered calls for lcore (only that lcore may call
 * this: single consumer). Returns the count; 0 for an unknown lcore. */
unsigned ctl_replies(struct ctl_queue *q, uint16_t lcore, struct ctl_call **calls,
		     unsigned max);
/* Frees a call and its body/response (all from malloc). NULL is a no-op. */
void ctl_call_free(struct ctl_call *call);

/* --- answering side (one thread) --- */

/* Dequeues up to max posted calls (single consumer). Returns the count. */
unsigned ctl_requests(struct ctl_queue *q, struct ctl_call **calls, unsigned max);
/* Enqueues an answered call on its lcore's reply ring (single producer) and
 * wakes that lcore. Never fails and never waits: the credits taken at
 * ctl_post guarantee room (asserted). */
void ctl_answer(struct ctl_queue *q, struct ctl_call *call);

#endif
