/* SPDX-License-Identifier: Apache-2.0 */
/* The connection layer as a transport sees it (kernel io_uring sockets,
 * DPDK userspace TCP): upcalls for what happened on the wire, and accessors
 * for the little a transport must know about a connection. struct conn stays
 * opaque here; its fields, and the HTTP/1.1 and HTTP/2 state machines behind
 * it, are private to dataplane/http (http_internal.h). A transport never
 * writes connection state: it reports events, and the connection layer
 * decides. */
#ifndef SL_DATAPLANE_HTTP_CONN_H
#define SL_DATAPLANE_HTTP_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/http/http_admit.h"

struct conn;
struct lcore_ctx;

/* --- upcalls from a transport (http_conn.c) --- */

/* A new connection was accepted from addr (peer: "ip:port" for logs).
 * Returns the connection, or NULL when it is refused: its address is at
 * --max-conns-per-addr, or the table is full with no idle connection to
 * evict for it, or the lcore is draining (the transport then closes it). */
struct conn *http_conn_open(struct lcore_ctx *lc, int fd, uint64_t xprt_id,
			    const struct addr_key *addr, const char *peer);
/* The same for a connection of the plaintext listener (--plain-listen): no
 * TLS; HTTP/1.1, or HTTP/2 when its first bytes are the HTTP/2 preface. */
struct conn *http_conn_open_plain(struct lcore_ctx *lc, int fd, uint64_t xprt_id,
				  const struct addr_key *addr, const char *peer);
/* Ciphertext arrived. The bytes are consumed (copied into TLS) before return. */
void http_conn_on_recv(struct lcore_ctx *lc, struct conn *c, const uint8_t *data, uint32_t len);
/* The peer closed its side or the connection failed (err is 0 or -errno). */
void http_conn_on_eof(struct lcore_ctx *lc, struct conn *c, int err);
/* n bytes of c->out were sent. */
void http_conn_on_sent(struct lcore_ctx *lc, struct conn *c, uint32_t n);
/* The send in flight ended without http_conn_on_sent (it failed, or the
 * connection is closing and the result no longer matters): c's output
 * buffer is free again. */
void http_conn_on_send_aborted(struct conn *c);
/* The transport closed c's socket: http_conn_fd is -1 from now on. */
void http_conn_on_fd_closed(struct conn *c);
/* The transport has no operation in flight on c any more: free the slot. */
void http_conn_released(struct lcore_ctx *lc, struct conn *c);

/* --- accessors --- */

/* c's slot in lc's connection table, and the slot at idx (< max_conns). */
uint32_t http_conn_idx(const struct conn *c);
struct conn *http_conn_at(struct lcore_ctx *lc, uint32_t idx);
/* The socket http_conn_open was given (kernel transport), or -1. */
int http_conn_fd(const struct conn *c);
/* c is open (reading and answering), closing (the transport was asked to
 * close it: http_conn_released is due), or in use at all (not a free slot). */
bool http_conn_is_open(const struct conn *c);
bool http_conn_is_closing(const struct conn *c);
bool http_conn_in_use(const struct conn *c);
/* A send of http_conn_out_ptr's bytes is in flight (xprt_ops.send was called,
 * http_conn_on_sent has not accounted for all of it). */
bool http_conn_send_busy(const struct conn *c);
/* The bytes to send: [ptr, ptr + *len). Stable while http_conn_send_busy. */
const uint8_t *http_conn_out_ptr(const struct conn *c, uint32_t *len);
/* The connection layer wants c's reading paused (see xprt_ops.rx_pause). */
bool http_conn_rx_paused(const struct conn *c);
/* c can take a large burst right now (a buffer with CONN_RX_BULK_BYTES of
 * room, nothing waiting in TLS): a transport may then read ahead freely;
 * otherwise it should read one buffer at a time, so what arrives before a
 * pause is bounded per connection. */
bool http_conn_rx_bulk(const struct conn *c);
/* Ciphertext c has received but not yet taken (waiting inside TLS). */
uint64_t http_conn_rx_backlog(const struct conn *c);

/* --- for the io lcore (dataplane/core/lcore.c) --- */

/* Allocates lc's connection table (--max-conns-per-core plus eviction
 * spares) and its admission state. Returns 0 or -ENOMEM. */
int http_conn_table_init(struct lcore_ctx *lc);
/* Frees every slot (the transport and the log lcores have stopped) and the
 * table. Safe after a failed http_conn_table_init. */
void http_conn_table_fini(struct lcore_ctx *lc);
/* Resumes connections stopped for want of buffered-bytes budget whose
 * wants now fit, oldest first (cheap when none waits). */
void http_conn_mem_kick(struct lcore_ctx *lc);
/* Timeouts; called every ~100 ms. */
void http_conn_timers(struct lcore_ctx *lc);
/* Graceful shutdown: close idle connections, mark busy ones to close after
 * their current response. */
void http_conn_drain_all(struct lcore_ctx *lc, bool force);

#endif
