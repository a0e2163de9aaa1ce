/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for a connection of the plaintext listener
 * (--plain-listen): the input is what one client sends, handed to the real
 * connection layer (http_conn_open_plain, http_conn_on_recv) with an
 * in-memory transport that completes every send at once. Without TLS in the
 * way, the fuzzer reaches the protocol choice (the HTTP/2 preface or
 * HTTP/1.1), the HTTP/1.1 state machine (heads, bodies, pipelining,
 * 100-continue), nghttp2's session and our HTTP/2 glue (streams, budgets,
 * resets), and the SigV4 head checks of dispatch. The first byte picks the
 * size of the pieces the rest arrives in (1..255 bytes; 0: all at once);
 * then the timers run past every timeout, the peer closes, and the slot
 * must come back free.
 *
 * Seeds: corpus/fuzz_conn_plain/ (HTTP/1.1 requests, pipelined ones, an
 * HTTP/2 prior-knowledge exchange). */
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "crypto/sigv4.h"
#include "crypto/tls.h"
#include "dataplane/core/core.h"
#include "dataplane/http/http_conn.h"
#include "dataplane/http/http_internal.h" /* http_conn_close: tests may */

#define FUZZ_PUMP_ROUNDS 100000 /* sends completed per step, at most */

static struct sl_config cfg;
static struct sl_shared sh;
static struct lcore_ctx lc;

/* The one connection of the current input, as the fake transport sees it. */
static struct {
	struct conn *c;
	bool send_pending, closed, released, paused;
} g;

static int fx_init(struct lcore_ctx *l)
{
	(void)l;
	return 0;
}

static int fx_poll(struct lcore_ctx *l, uint32_t timeout_ms)
{
	(void)l;
	(void)timeout_ms;
	return 0;
}

static void fx_send(struct lcore_ctx *l, struct conn *c)
{
	(void)l;
	(void)c;
	g.send_pending = true; /* completed by pump */
}

static void fx_close(struct lcore_ctx *l, struct conn *c)
{
	(void)l;
	(void)c;
	g.closed = true; /* released by pump */
}

static void fx_rx_pause(struct lcore_ctx *l, struct conn *c, bool paused)
{
	(void)l;
	(void)c;
	g.paused = paused;
}

static void fx_nop(struct lcore_ctx *l)
{
	(void)l;
}

static const struct xprt_ops fuzz_xprt = {
	.name = "fuzz",
	.init = fx_init,
	.poll = fx_poll,
	.send = fx_send,
	.close = fx_close,
	.rx_pause = fx_rx_pause,
	.stop_accept = fx_nop,
	.wake = fx_nop,
	.fini = fx_nop,
};

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || close(fd) != 0)
		abort();
}

static char dir[] = "/tmp/fuzz_conn_plain_XXXXXX";

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) == 0 ? 0 : -1;
}

/* The temporary data directory (credentials, TLS material) goes at exit. */
static void cleanup(void)
{
	if (nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "fuzz_conn_plain: could not remove %s\n", dir);
}

static void init_once(void)
{
	if (!mkdtemp(dir) || atexit(cleanup) != 0)
		abort();
	char *argv[] = { "fuzz_conn_plain", "--data-dir", dir, "--plain-listen", "127.0.0.1:0",
			 "--max-head-bytes", "4096", "--max-body-bytes", "65536",
			 "--max-conn-buffered-mib", "1", "--max-buffered-mib", "16",
			 "--log-level", "err" };
	if (sl_config_parse(&cfg, (int)(sizeof(argv) / sizeof(argv[0])), argv) != 0)
		abort();
	char path[128];
	snprintf(path, sizeof(path), "%s/credentials", dir);
	write_file(path, "[default]\naws_access_key_id = AKIAFUZZ000000000000\n"
			 "aws_secret_access_key = fuzzSecretfuzzSecretfuzzSecretfuzzSecr\n");
	sh.keys = sigv4_keyring_load(path, false);
	snprintf(path, sizeof(path), "%s/tls", dir);
	if (!sh.keys || tls_material_ensure(path, NULL) != 0)
		abort();
	snprintf(sh.tls_cert_path, sizeof(sh.tls_cert_path), "%s/server.pem", path);
	snprintf(sh.tls_key_path, sizeof(sh.tls_key_path), "%s/server.key", path);
	sh.cfg = &cfg;
	sh.n_io = 1;
	sh.lcs = &lc;
	if (lcore_init_xprt(&lc, &sh, 0, &fuzz_xprt) != 0)
		abort();
}

/* Completes sends and the close until nothing moves. */
static void pump(void)
{
	for (int round = 0; round < FUZZ_PUMP_ROUNDS; round++) {
		bool moved = false;
		if (g.send_pending) {
			uint32_t len;
			(void)http_conn_out_ptr(g.c, &len);
			g.send_pending = false;
			http_conn_on_sent(&lc, g.c, len);
			moved = true;
		}
		if (g.closed && !g.send_pending && !g.released) {
			g.released = true;
			http_conn_released(&lc, g.c);
			moved = true;
		}
		if (!moved)
			return;
	}
	abort(); /* bytes kept moving: a loop in the connection layer */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		init_once();
		ready = true;
	}
	if (size < 1)
		return 0;
	size_t piece = data[0] == 0 ? size : data[0];
	data++;
	size--;
	memset(&g, 0, sizeof(g));
	struct addr_key key;
	http_addr_key_ip4(&key, 0x7f000001);
	lc.now_ms += 1000;
	g.c = http_conn_open_plain(&lc, -1, 0, &key, "127.0.0.1:40000");
	if (!g.c)
		abort(); /* one connection at a time: there is always room */
	for (size_t off = 0; off < size && !g.closed && !g.paused;) {
		size_t n = size - off < piece ? size - off : piece;
		http_conn_on_recv(&lc, g.c, data + off, (uint32_t)n);
		off += n;
		pump();
	}
	/* Every per-request and idle timeout passes; then the peer goes. */
	lc.now_ms += (uint64_t)cfg.idle_timeout_ms + cfg.request_timeout_ms + 1;
	http_conn_timers(&lc);
	pump();
	if (!g.closed)
		http_conn_on_eof(&lc, g.c, 0);
	pump();
	if (!g.closed)
		http_conn_close(&lc, g.c);
	pump();
	if (!g.released || http_conn_in_use(g.c))
		abort(); /* the slot must come back */
	return 0;
}
