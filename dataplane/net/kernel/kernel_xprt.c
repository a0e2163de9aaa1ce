/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel transport: one io_uring per io lcore, a SO_REUSEPORT listening
 * socket per lcore (the kernel spreads connections across them, and a
 * connection stays on the lcore that accepted it), multishot accept,
 * and as much again for the optional plaintext listener (--plain-listen:
 * its connections are opened with http_conn_open_plain),
 * multishot recv into a provided buffer ring, one send in flight per
 * connection, and an eventfd so other threads can wake a sleeping lcore.
 *
 * Buffer ownership: a recv buffer belongs to the kernel until its CQE; we
 * hand the bytes to the connection (TLS copies them into its BIO) and give
 * the buffer back to the ring at once, so the ring never runs dry for long
 * and no connection pins receive memory.
 *
 * Back-pressure (rx_pause): the recv is cancelled and not re-armed until the
 * connection layer resumes; the kernel's socket buffer then fills and TCP
 * closes the window. A multishot recv can post many buffers in one go, all
 * of which must then be kept; so once a connection could not take all it
 * got (ciphertext left in TLS) its multishot recv is cancelled and it reads
 * one buffer at a time (single-shot) until it can take bursts again
 * (http_conn_rx_bulk: still in the handshake, HTTP/2 not waiting for memory, or
 * a large request with room for it). What the first multishot had posted
 * when the connection backed up is still kept (see dataplane/README.md).
 *
 * Slot lifetime: a connection slot is released (http_conn_released) only when no
 * operation on it is in flight: the multishot recv has ended (final CQE
 * without IORING_CQE_F_MORE) and no send is outstanding. Closing shuts the
 * socket down, which ends the recv. */
#include <errno.h>
#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/log.h"
#include "dataplane/core/core.h"
#include "dataplane/http/http_conn.h"

#define KX_RING_ENTRIES 1024
#define KX_NBUFS 256		/* power of two (buffer ring) */
#define KX_BUF_BYTES 16384	/* one TLS record fits */
#define KX_BGID 1
#define KX_BACKLOG 1024

/* user_data: op in the top byte, connection index below (KX_ACCEPT: which
 * listener, KX_LISTEN_TLS or KX_LISTEN_PLAIN). */
enum kx_op {
	KX_ACCEPT = 1,
	KX_RECV = 2,
	KX_SEND = 3,
	KX_WAKE = 4,
	KX_CANCEL = 5,
};
#define KX_UD(op, idx) (((uint64_t)(op) << 56) | (uint64_t)(idx))
#define KX_UD_OP(ud) ((enum kx_op)((ud) >> 56))
#define KX_UD_IDX(ud) ((uint32_t)((ud) & 0xffffffffu))
enum { KX_LISTEN_TLS = 0, KX_LISTEN_PLAIN = 1, KX_LISTENERS = 2 };

struct kx_conn {
	bool recv_armed;
	bool multishot;	 /* the armed recv is multishot */
	bool cancelling; /* a cancel of the armed recv was submitted */
	bool paused;	 /* rx_pause: the recv is cancelled / not re-armed */
	bool send_inflight;
	bool closing;
};

struct kx {
	struct io_uring ring;
	int listen_fd[KX_LISTENERS];   /* -1: none (the plaintext one is optional) */
	bool accept_armed[KX_LISTENERS];
	int efd;
	uint64_t efd_val;
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	uint8_t *bufs;
	struct kx_conn *kc; /* parallel to lc->conns */
};

/* Submits queued SQEs. Returns 0 or -errno. -EAGAIN, -EBUSY (completion
 * queue overflow: reaping frees it) and -EINTR are transient: the SQEs stay
 * queued and the next submit carries them, so they count as success. */
static int SL_MUST_CHECK kx_submit(struct kx *kx)
{
	int rc = io_uring_submit(&kx->ring);
	if (rc >= 0 || rc == -EAGAIN || rc == -EBUSY || rc == -EINTR)
		return 0;
	SL_ERR("io_uring_submit failed: %s", strerror(-rc));
	return rc;
}

static struct io_uring_sqe *kx_sqe(struct kx *kx)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&kx->ring);
	if (!sqe) {
		/* SQ full: flush and retry once. A failed submit leaves the SQ
		 * full, and the BUG_ON below says so (logged by kx_submit). */
		int rc = kx_submit(kx);
		(void)rc;
		sqe = io_uring_get_sqe(&kx->ring);
	}
	BUG_ON(!sqe); /* the SQ was just emptied */
	return sqe;
}

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss,
		   socklen_t *len)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *res;
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", port);
	int rc = getaddrinfo(host, ps, &hints, &res);
	if (rc)
		return -EADDRNOTAVAIL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Listens on host:port (*actual: the port the first lcore got when port 0
 * was asked for; the others join it with SO_REUSEPORT). Returns the fd or
 * -errno. */
static int kx_listen(const char *host, uint16_t want_port, uint16_t *actual)
{
	uint16_t port = *actual ? *actual : want_port;
	struct sockaddr_storage ss;
	socklen_t sl;
	int rc = resolve(host, port, &ss, &sl);
	if (rc) {
		SL_ERR("cannot resolve listen address %s", host);
		return rc;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, KX_BACKLOG) < 0) {
		rc = -errno;
		SL_ERR("cannot listen on %s:%u: %s", host, port, strerror(-rc));
		close(fd);
		return rc;
	}
	if (!*actual) {
		struct sockaddr_storage got;
		socklen_t gl = sizeof(got);
		if (getsockname(fd, (struct sockaddr *)&got, &gl) < 0) {
			rc = -errno;
			SL_ERR("getsockname on the listener failed: %s", strerror(-rc));
			close(fd);
			return rc;
		}
		*actual = ntohs(got.ss_family == AF_INET6 ?
				((struct sockaddr_in6 *)&got)->sin6_port :
				((struct sockaddr_in *)&got)->sin_port);
	}
	return fd;
}

static int kx_setup_bufs(struct kx *kx)
{
	kx->br_bytes = KX_NBUFS * sizeof(struct io_uring_buf);
	void *br = mmap(NULL, kx->br_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE,
			-1, 0);
	if (br == MAP_FAILED)
		return -ENOMEM;
	kx->br = br;
	kx->bufs = aligned_alloc(4096, (size_t)KX_NBUFS * KX_BUF_BYTES);
	if (!kx->bufs)
		return -ENOMEM;
	struct io_uring_buf_reg reg = { .ring_addr = (unsigned long)br,
					.ring_entries = KX_NBUFS, .bgid = KX_BGID };
	int rc = io_uring_register_buf_ring(&kx->ring, &reg, 0);
	if (rc)
		return rc;
	io_uring_buf_ring_init(kx->br);
	for (unsigned i = 0; i < KX_NBUFS; i++)
		io_uring_buf_ring_add(kx->br, kx->bufs + (size_t)i * KX_BUF_BYTES, KX_BUF_BYTES,
				      (unsigned short)i, io_uring_buf_ring_mask(KX_NBUFS), (int)i);
	io_uring_buf_ring_advance(kx->br, KX_NBUFS);
	return 0;
}

static void kx_arm_accept(struct kx *kx, uint32_t which)
{
	struct io_uring_sqe *sqe = kx_sqe(kx);
	io_uring_prep_multishot_accept(sqe, kx->listen_fd[which], NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, KX_UD(KX_ACCEPT, which));
	kx->accept_armed[which] = true;
}

static void kx_arm_wake(struct kx *kx)
{
	struct io_uring_sqe *sqe = kx_sqe(kx);
	io_uring_prep_read(sqe, kx->efd, &kx->efd_val, sizeof(kx->efd_val), 0);
	io_uring_sqe_set_data64(sqe, KX_UD(KX_WAKE, 0));
}

static void kx_arm_recv(struct kx *kx, struct conn *c)
{
	struct kx_conn *k = &kx->kc[http_conn_idx(c)];
	struct io_uring_sqe *sqe = kx_sqe(kx);
	k->multishot = http_conn_rx_bulk(c);
	if (k->multishot)
		io_uring_prep_recv_multishot(sqe, http_conn_fd(c), NULL, 0, 0);
	else
		io_uring_prep_recv(sqe, http_conn_fd(c), NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = KX_BGID;
	io_uring_sqe_set_data64(sqe, KX_UD(KX_RECV, http_conn_idx(c)));
	k->recv_armed = true;
	k->cancelling = false;
}

/* Ends the armed recv early: its last completion (-ECANCELED, no F_MORE)
 * clears recv_armed; kx_on_recv then re-arms unless paused. */
static void kx_cancel_recv(struct kx *kx, struct conn *c)
{
	struct kx_conn *k = &kx->kc[http_conn_idx(c)];
	if (!k->recv_armed || k->cancelling)
		return;
	struct io_uring_sqe *sqe = kx_sqe(kx);
	io_uring_prep_cancel64(sqe, KX_UD(KX_RECV, http_conn_idx(c)), 0);
	io_uring_sqe_set_data64(sqe, KX_UD(KX_CANCEL, 0));
	k->cancelling = true;
}

static int kx_init(struct lcore_ctx *lc)
{
	struct kx *kx = calloc(1, sizeof(*kx));
	if (!kx)
		return -ENOMEM;
	kx->listen_fd[KX_LISTEN_TLS] = kx->listen_fd[KX_LISTEN_PLAIN] = kx->efd = -1;
	lc->xprt_priv = kx;
	kx->kc = calloc(lc->max_conns, sizeof(*kx->kc));
	if (!kx->kc)
		return -ENOMEM;
	struct io_uring_params p = { 0 };
	p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN;
	int rc = io_uring_queue_init_params(KX_RING_ENTRIES, &kx->ring, &p);
	if (rc < 0) {
		memset(&p, 0, sizeof(p)); /* older kernels: plain setup */
		rc = io_uring_queue_init_params(KX_RING_ENTRIES, &kx->ring, &p);
	}
	if (rc < 0) {
		SL_ERR("io_uring setup failed: %s", strerror(-rc));
		return rc;
	}
	if ((rc = kx_setup_bufs(kx)) < 0) {
		SL_ERR("io_uring buffer ring setup failed: %s", strerror(-rc));
		return rc;
	}
	kx->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (kx->efd < 0)
		return -errno;
	const struct sl_config *cfg = lc->sh->cfg;
	if ((rc = kx_listen(cfg->listen_host, cfg->listen_port, &lc->sh->actual_port)) < 0)
		return rc;
	kx->listen_fd[KX_LISTEN_TLS] = rc;
	kx_arm_accept(kx, KX_LISTEN_TLS);
	if (cfg->plain_listen[0]) {
		rc = kx_listen(cfg->plain_host, cfg->plain_port, &lc->sh->actual_plain_port);
		if (rc < 0)
			return rc;
		kx->listen_fd[KX_LISTEN_PLAIN] = rc;
		kx_arm_accept(kx, KX_LISTEN_PLAIN);
	}
	kx_arm_wake(kx);
	return kx_submit(kx);
}

/* Frees the slot once nothing is in flight on it. */
static void kx_maybe_release(struct lcore_ctx *lc, struct kx *kx, struct conn *c)
{
	struct kx_conn *k = &kx->kc[http_conn_idx(c)];
	if (!k->closing || k->recv_armed || k->send_inflight)
		return;
	close(http_conn_fd(c));
	http_conn_on_fd_closed(c);
	*k = (struct kx_conn){ 0 };
	http_conn_released(lc, c);
}

static void kx_on_accept(struct lcore_ctx *lc, struct kx *kx, struct io_uring_cqe *cqe)
{
	uint32_t which = KX_UD_IDX(cqe->user_data);
	BUG_ON(which >= KX_LISTENERS);
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		kx->accept_armed[which] = false;
		if (lc->accepting && kx->listen_fd[which] >= 0)
			kx_arm_accept(kx, which);
	}
	if (cqe->res < 0) {
		if (cqe->res != -ECANCELED && cqe->res != -EINVAL)
			SL_WARN("accept failed: %s", strerror(-cqe->res));
		return;
	}
	int fd = cqe->res;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?", peer[64];
	uint16_t port = 0;
	struct addr_key key;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0) {
		close(fd); /* already reset by the peer */
		return;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof(ip));
		port = ntohs(a6->sin6_port);
		http_addr_key_ip6(&key, a6->sin6_addr.s6_addr);
	} else {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a4->sin_addr, ip, sizeof(ip));
		port = ntohs(a4->sin_port);
		http_addr_key_ip4(&key, ntohl(a4->sin_addr.s_addr));
	}
	snprintf(peer, sizeof(peer), "%s:%u", ip, port);
	struct conn *c = which == KX_LISTEN_PLAIN ? http_conn_open_plain(lc, fd, 0, &key, peer)
						  : http_conn_open(lc, fd, 0, &key, peer);
	if (!c) {
		close(fd); /* refused (address limit, table full, draining): a reset */
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	kx_arm_recv(kx, c);
}

static void kx_on_recv(struct lcore_ctx *lc, struct kx *kx, struct io_uring_cqe *cqe)
{
	struct conn *c = http_conn_at(lc, (uint32_t)KX_UD_IDX(cqe->user_data));
	struct kx_conn *k = &kx->kc[http_conn_idx(c)];
	bool more = cqe->flags & IORING_CQE_F_MORE;
	bool cancelled = !more && cqe->res == -ECANCELED && k->cancelling;
	if (!more)
		k->recv_armed = k->cancelling = false;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		BUG_ON(bid >= KX_NBUFS);
		uint8_t *buf = kx->bufs + (size_t)bid * KX_BUF_BYTES;
		if (cqe->res > 0 && !k->closing)
			http_conn_on_recv(lc, c, buf, (uint32_t)cqe->res);
		/* TLS copied the bytes: the buffer goes straight back. */
		io_uring_buf_ring_add(kx->br, buf, KX_BUF_BYTES, (unsigned short)bid,
				      io_uring_buf_ring_mask(KX_NBUFS), 0);
		io_uring_buf_ring_advance(kx->br, 1);
	}
	if (!k->closing) {
		if (cqe->res == 0) {
			http_conn_on_eof(lc, c, 0);
		} else if (cqe->res < 0 && cqe->res != -ENOBUFS && !cancelled) {
			http_conn_on_eof(lc, c, cqe->res);
		} else if (!more && !k->closing && !k->paused && !k->recv_armed) {
			kx_arm_recv(kx, c); /* single shot done, multishot ended or cancelled */
		} else if (more && !k->closing && !http_conn_rx_bulk(c) &&
			   http_conn_rx_backlog(c)) {
			/* c could not take all it got: no more bursts, one buffer
			 * at a time from now on */
			kx_cancel_recv(kx, c);
		}
	}
	kx_maybe_release(lc, kx, c);
}

static void kx_on_send(struct lcore_ctx *lc, struct kx *kx, struct io_uring_cqe *cqe)
{
	struct conn *c = http_conn_at(lc, (uint32_t)KX_UD_IDX(cqe->user_data));
	struct kx_conn *k = &kx->kc[http_conn_idx(c)];
	k->send_inflight = false;
	if (cqe->res < 0) {
		if (!k->closing)
			http_conn_on_eof(lc, c, cqe->res);
		else
			http_conn_on_send_aborted(c);
	} else if (k->closing) {
		http_conn_on_send_aborted(c);
	} else {
		http_conn_on_sent(lc, c, (uint32_t)cqe->res);
	}
	kx_maybe_release(lc, kx, c);
}

static int kx_poll(struct lcore_ctx *lc, uint32_t timeout_ms)
{
	struct kx *kx = lc->xprt_priv;
	struct __kernel_timespec ts = { .tv_sec = timeout_ms / 1000,
					.tv_nsec = (long long)(timeout_ms % 1000) * 1000000 };
	struct io_uring_cqe *cqe;
	int rc = io_uring_submit_and_wait_timeout(&kx->ring, &cqe, 1, &ts, NULL);
	if (rc < 0 && rc != -ETIME && rc != -EINTR)
		return rc;
	int handled = 0;
	/* Handlers queue new SQEs; they are submitted on the next call. */
	while (io_uring_peek_cqe(&kx->ring, &cqe) == 0) {
		struct io_uring_cqe copy = *cqe;
		io_uring_cqe_seen(&kx->ring, cqe);
		handled++;
		switch (KX_UD_OP(copy.user_data)) {
		case KX_ACCEPT:
			kx_on_accept(lc, kx, &copy);
			break;
		case KX_RECV:
			kx_on_recv(lc, kx, &copy);
			break;
		case KX_SEND:
			kx_on_send(lc, kx, &copy);
			break;
		case KX_WAKE:
			kx_arm_wake(kx);
			break;
		case KX_CANCEL:
			break;
		default:
			BUG_ON(1);
		}
	}
	rc = kx_submit(kx);
	return rc < 0 ? rc : handled;
}

static void kx_send(struct lcore_ctx *lc, struct conn *c)
{
	struct kx *kx = lc->xprt_priv;
	struct kx_conn *k = &kx->kc[http_conn_idx(c)];
	if (k->send_inflight || k->closing)
		return;
	uint32_t len;
	const uint8_t *p = http_conn_out_ptr(c, &len);
	if (!len)
		return;
	struct io_uring_sqe *sqe = kx_sqe(kx);
	io_uring_prep_send(sqe, http_conn_fd(c), p, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, KX_UD(KX_SEND, http_conn_idx(c)));
	k->send_inflight = true;
}

static void kx_rx_pause(struct lcore_ctx *lc, struct conn *c, bool paused)
{
	struct kx *kx = lc->xprt_priv;
	struct kx_conn *k = &kx->kc[http_conn_idx(c)];
	if (k->closing || k->paused == paused)
		return;
	k->paused = paused;
	if (paused) {
		kx_cancel_recv(kx, c); /* its last completion does not re-arm */
	} else if (!k->recv_armed) {
		kx_arm_recv(kx, c);
	}
	/* else: resumed before the cancelled recv's last completion came:
	 * kx_on_recv re-arms then. */
}

static void kx_close(struct lcore_ctx *lc, struct conn *c)
{
	struct kx *kx = lc->xprt_priv;
	struct kx_conn *k = &kx->kc[http_conn_idx(c)];
	if (k->closing)
		return;
	k->closing = true;
	/* Ends the multishot recv (final CQE) and any send; the fd itself is
	 * closed only when both are back, so no CQE can name a reused fd. */
	shutdown(http_conn_fd(c), SHUT_RDWR);
	kx_maybe_release(lc, kx, c);
}

static void kx_stop_accept(struct lcore_ctx *lc)
{
	struct kx *kx = lc->xprt_priv;
	for (uint32_t w = 0; w < KX_LISTENERS; w++) {
		if (kx->listen_fd[w] < 0)
			continue;
		if (kx->accept_armed[w]) {
			struct io_uring_sqe *sqe = kx_sqe(kx);
			io_uring_prep_cancel64(sqe, KX_UD(KX_ACCEPT, w), 0);
			io_uring_sqe_set_data64(sqe, KX_UD(KX_CANCEL, 0));
		}
		/* Stop the kernel queueing connections for us at once. */
		shutdown(kx->listen_fd[w], SHUT_RD);
	}
	/* On failure the cancel stays queued for the next poll's submit. */
	int rc = kx_submit(kx);
	(void)rc;
}

static void kx_wake(struct lcore_ctx *lc)
{
	struct kx *kx = lc->xprt_priv;
	uint64_t one = 1;
	if (kx && kx->efd >= 0) {
		ssize_t n = write(kx->efd, &one, sizeof(one));
		(void)n; /* EAGAIN means a wake-up is already pending */
	}
}

static void kx_fini(struct lcore_ctx *lc)
{
	struct kx *kx = lc->xprt_priv;
	if (!kx)
		return;
	if (kx->ring.ring_fd > 0)
		io_uring_queue_exit(&kx->ring);
	for (uint32_t w = 0; w < KX_LISTENERS; w++)
		if (kx->listen_fd[w] >= 0)
			close(kx->listen_fd[w]);
	if (kx->efd >= 0)
		close(kx->efd);
	if (kx->br)
		munmap(kx->br, kx->br_bytes);
	free(kx->bufs);
	free(kx->kc);
	free(kx);
	lc->xprt_priv = NULL;
}

const struct xprt_ops kernel_xprt_ops = {
	.name = "kernel",
	.init = kx_init,
	.poll = kx_poll,
	.send = kx_send,
	.rx_pause = kx_rx_pause,
	.close = kx_close,
	.stop_accept = kx_stop_accept,
	.wake = kx_wake,
	.fini = kx_fini,
};
