/* SPDX-License-Identifier: Apache-2.0 */
/* The calls the connection layer makes on a tcp_conn (BSD's tcp_usrreq):
 * send, receive-window credit, shutdown, close, abort, accessors. */
#include <errno.h>

#include "dataplane/net/tcp/tcp_internal.h"

static bool can_send_state(const struct tcp_conn *c)
{
	return c->state == TCPS_ESTABLISHED || c->state == TCPS_CLOSE_WAIT;
}

int32_t tcp_send(struct tcp_conn *c, const uint8_t *data, uint32_t len)
{
	if (c->state == TCPS_CLOSED || c->closed_up)
		return -ENOTCONN;
	if (c->shut_wr || !can_send_state(c))
		return -EPIPE;
	uint32_t n = SL_MIN(len, tcp_sbuf_free(c));

	n = SL_MIN(n, (uint32_t)INT32_MAX);
	for (uint32_t done = 0; done < n;) { /* into the ring, maybe wrapping */
		uint32_t off = (c->data_seq + c->sbuf_len) & c->smask;
		uint32_t k = SL_MIN(n - done, c->smask + 1 - off);

		memcpy(c->sbuf + off, data + done, k);
		c->sbuf_len += k;
		done += k;
	}
	if (n < len)
		c->want_writable = true;
	if (n)
		tcp_output(c, false);
	return (int32_t)n;
}

void tcp_recved(struct tcp_conn *c, uint32_t n)
{
	if (c->state == TCPS_CLOSED)
		return;
	uint32_t before = tcp_rcv_window(c);

	c->app_held -= SL_MIN(n, c->app_held);
	uint32_t adv = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t now_wnd = tcp_rcv_window(c);

	/* receiver SWS avoidance (RFC 9293 3.8.6.2.2): announce only a real
	 * opening, and always the reopening of a zero window */
	if (now_wnd > before &&
	    (now_wnd - adv >= SL_MIN((c->rmask + 1) / 2, (uint32_t)c->mss) || adv == 0) &&
	    c->state != TCPS_SYN_RECEIVED && c->state != TCPS_TIME_WAIT) {
		if (c->st->cfg.ack_burst)
			tcp_ack_soon(c); /* with the burst's other ACKs */
		else
			tcp_send_ack(c);
	}
}

void tcp_shutdown(struct tcp_conn *c)
{
	if (c->state == TCPS_CLOSED || c->shut_wr)
		return;
	switch (c->state) {
	case TCPS_ESTABLISHED:
		c->state = TCPS_FIN_WAIT_1;
		break;
	case TCPS_CLOSE_WAIT:
		c->state = TCPS_LAST_ACK;
		break;
	default:
		return;
	}
	c->shut_wr = true;
	c->fin_seq = c->data_seq + c->sbuf_len;
	tcp_output(c, false);
}

void tcp_close(struct tcp_conn *c)
{
	c->app_closed = true;
	c->app_held = 0; /* nothing more will be read: open the window */
	tcp_shutdown(c);
}

void tcp_abort(struct tcp_conn *c)
{
	if (c->state == TCPS_CLOSED)
		return;
	tcp_send_seg(c, c->snd_nxt, 0, TH_RST | TH_ACK);
	tcp_conn_drop(c, -ECONNABORTED);
}

uint32_t tcp_send_space(const struct tcp_conn *c)
{
	return c->state == TCPS_CLOSED ? 0 : tcp_sbuf_free(c);
}

void tcp_peer(const struct tcp_conn *c, uint32_t *ip, uint16_t *port)
{
	*ip = c->rip;
	*port = c->rport;
}

bool tcp_peer6(const struct tcp_conn *c, uint8_t ip6[16])
{
	if (c->v6)
		memcpy(ip6, c->rip6, 16);
	return c->v6;
}

uint16_t tcp_local_port(const struct tcp_conn *c)
{
	return c->lport;
}
