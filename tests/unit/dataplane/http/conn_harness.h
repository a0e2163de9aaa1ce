/* SPDX-License-Identifier: Apache-2.0 */
/* A whole io lcore in memory for the connection layer's and the handlers'
 * unit tests: real TLS (an OpenSSL client over memory BIOs, verifying the
 * generated CA), the real connection state machines, dispatch and SigV4,
 * and an in-memory transport in place of io_uring or DPDK (the transport is
 * the boundary of the unit under test: it is given to lcore_init_xprt).
 *
 * The fake transport moves bytes only when a test calls hc_pump: a send is
 * completed then (http_conn_on_sent), client ciphertext is delivered in
 * chunks of at most `chunk` bytes (http_conn_on_recv), and a close is
 * followed by http_conn_released, as a real transport would do later. */
#ifndef SL_TESTS_CONN_HARNESS_H
#define SL_TESTS_CONN_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "common/config.h"
#include "dataplane/core/core.h"

#define HC_MAX_CLIENTS 8
#define HC_KEY_ID      "AKIAHARNESS000000000"
#define HC_SECRET      "harnessSecretharnessSecretharnessSecret0"

struct harness {
	char dir[64];
	struct sl_config cfg;
	struct sl_shared sh;
	struct lcore_ctx lc;
	struct sigv4_keyring *keys;
	struct sigv4_signer *signer;
	SSL_CTX *cctx;
};

struct hclient {
	struct harness *h;
	struct conn *c;
	SSL *ssl;
	BIO *rbio, *wbio;
	uint32_t chunk;	   /* bytes per http_conn_on_recv (0: all there is) */
	uint32_t n_recv;   /* http_conn_on_recv calls made */
	bool send_pending; /* xprt_ops.send called, not completed yet */
	bool closed;	   /* xprt_ops.close called */
	bool released;	   /* http_conn_released called */
	bool paused;	   /* xprt_ops.rx_pause(true) in force */
	uint8_t *in;	   /* plaintext the client received */
	size_t in_len, in_cap;
};

/* One HTTP/1.1 response parsed out of a client's input. */
struct h1_resp {
	int status;
	char type[128]; /* __type of an error body, "" otherwise */
	char body[4096];
	size_t body_len;
	bool closes; /* Connection: close */
};

/* Sets up the lcore with extra sluiced flags (argv-style, NULL-terminated
 * list may be empty). with_ctl: a control queue (needs the EAL). */
void h_setup(struct harness *h, const char *const *extra, bool with_ctl);
void h_teardown(struct harness *h);

/* Accepts a connection and runs the TLS handshake offering alpn (wire
 * format). The connection is open afterwards. */
void hc_open(struct harness *h, struct hclient *cl, const char *alpn, unsigned alpn_len);
void hc_free(struct hclient *cl);
/* The client sends plaintext (one TLS record per 16 KiB). */
void hc_write(struct hclient *cl, const void *p, size_t n);
/* Moves bytes both ways until nothing moves. */
void hc_pump(struct hclient *cl);
/* Takes the next whole HTTP/1.1 response off the client's input: 1, or 0
 * when none is there whole. */
int hc_h1_response(struct hclient *cl, struct h1_resp *r);
/* The client saw the end of the connection (close_notify or the transport
 * closed). */
bool hc_closed(const struct hclient *cl);

/* An HTTP/1.1 request to op (X-Amz-Target Kinesis_20131202.<op>), signed
 * with the harness key unless sign is false. Returns its length. */
size_t h_request(struct harness *h, char *out, size_t cap, const char *method, const char *op,
		 const char *body, bool sign);
/* The signed headers of that request, for an HTTP/2 client: names[i],
 * values[i], n of them (at most 8; pointers into static storage). */
unsigned h_signed_headers(struct harness *h, const char *method, const char *op, const char *body,
			  bool sign, const char **names, const char **values);

#endif
