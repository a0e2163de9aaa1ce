/* SPDX-License-Identifier: Apache-2.0 */
/* TLS termination with OpenSSL 3 over memory BIOs, so TLS never touches a
 * socket: the transport (io_uring or the DPDK TCP stack) moves ciphertext,
 * this layer turns it into plaintext and back.
 *
 * Policy: TLS 1.2 and 1.3 only; forward-secret AEAD suites only
 * (ECDHE-ECDSA/RSA with AES-GCM or ChaCha20-Poly1305; TLS 1.3's suites);
 * no renegotiation, no compression, no session tickets with static keys.
 *
 * Threading: a tls_server (SSL_CTX) is shared read-only; each tls_conn is
 * owned by the lcore that owns its connection. */
#ifndef SL_CRYPTO_TLS_H
#define SL_CRYPTO_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/bug.h"

struct tls_server;
struct tls_conn;

/* Ensures DIR has ca.pem, ca.key, server.pem, server.key. Missing files are
 * generated: a local CA (ECDSA P-256, 10 years) and a server certificate it
 * signs (ECDSA P-256, 825 days) with SAN 127.0.0.1, ::1, localhost and
 * extra_host (an IP or DNS name; may be NULL; 0.0.0.0 and :: are skipped).
 * Directory 0700, keys 0600, certificates 0644; each file is written to a
 * temporary and renamed, so a crash never leaves half a file. A new CA, or an
 * existing server certificate that does not name extra_host, gets the server
 * certificate reissued. Returns 0 or -errno: -EINVAL for an extra_host that
 * is neither an IP nor a DNS name or for unreadable/mismatched CA files,
 * -ENOMEM, or the errno of a failed mkdir/write/rename. */
int SL_MUST_CHECK tls_material_ensure(const char *dir, const char *extra_host);

/* ALPN protocols offered, in server preference order, wire format
 * ("\x08http/1.1"). */
struct tls_server_config {
	const char *cert_path; /* PEM chain */
	const char *key_path;  /* PEM private key */
	const char *client_ca_path; /* mTLS: require client certs from this CA; NULL = off */
	const unsigned char *alpn;
	size_t alpn_len;
};

/* Returns NULL on failure and writes a reason into err[0..errlen). Fails when
 * the files cannot be read, the key does not match the certificate, or alpn
 * is not valid wire format. No session cache, no tickets: every connection
 * does a full handshake (keep-alive makes that rare). */
struct tls_server *tls_server_new(const struct tls_server_config *cfg, char *err, size_t errlen);
void tls_server_free(struct tls_server *s);

/* Returns NULL (errno ENOMEM) on failure. */
struct tls_conn *tls_conn_new(struct tls_server *s);
/* A pass-through with the same interface and no TLS at all (the optional
 * plaintext listener, --plain-listen): fed bytes are read back unchanged,
 * written bytes are taken out unchanged. The handshake is done from the
 * start, there is no ALPN (len 0), the version is "plaintext", and
 * tls_conn_read never returns -ECONNRESET (the transport reports the peer's
 * close). The same memory-BIO bounds apply. Returns NULL (errno ENOMEM). */
struct tls_conn *tls_conn_new_plain(void);
/* Whether c came from tls_conn_new_plain. */
bool tls_conn_is_plain(const struct tls_conn *c);
void tls_conn_free(struct tls_conn *c);

/* Hands ciphertext received from the peer to TLS. Always consumes all of it
 * (memory BIO). Returns 0 or -ENOMEM. The memory BIO grows without limit:
 * the caller bounds unread ciphertext by feeding only up to its receive
 * window and calling tls_conn_read until it returns <= 0 before feeding more.
 * Likewise tls_conn_write grows the outgoing queue: drain it with
 * tls_conn_take_out before writing more. */
int SL_MUST_CHECK tls_conn_feed(struct tls_conn *c, const void *cipher, size_t len);

/* Drives the handshake and decrypts. Returns >0 plaintext bytes, 0 when more
 * ciphertext is needed (check tls_conn_pending_out: the handshake may have
 * produced output), -ECONNRESET when the peer sent close_notify, -EPROTO on a
 * fatal TLS error (an alert is queued for sending). */
ssize_t SL_MUST_CHECK tls_conn_read(struct tls_conn *c, void *buf, size_t cap);

/* Encrypts plaintext into the outgoing ciphertext queue. Returns bytes taken
 * (all of len unless an error), -EAGAIN before the handshake finished,
 * -EPROTO on fatal error. */
ssize_t SL_MUST_CHECK tls_conn_write(struct tls_conn *c, const void *buf, size_t len);

/* Ciphertext fed but not yet consumed by TLS (the caller bounds it). */
size_t tls_conn_pending_in(const struct tls_conn *c);
/* Ciphertext waiting to be sent. */
size_t tls_conn_pending_out(const struct tls_conn *c);
/* Moves up to cap bytes of waiting ciphertext into buf; returns bytes. */
size_t tls_conn_take_out(struct tls_conn *c, void *buf, size_t cap);

/* Frees the connection's TLS record buffers (~17 KB in, ~17 KB out) when
 * no record is half read or half written; the next read or write allocates
 * them again. Records are read and written with buffers kept for the life
 * of the connection (a free and malloc per record otherwise), so an idle
 * connection is trimmed with this to keep its memory small. Returns true
 * when buffers were freed (or none were held), false when they are in use
 * or c is plaintext (it has none). */
bool tls_conn_trim(struct tls_conn *c);

bool tls_conn_handshake_done(const struct tls_conn *c);
/* Selected ALPN protocol (not NUL-terminated) or len 0 when none. */
void tls_conn_alpn(const struct tls_conn *c, const unsigned char **proto, unsigned *len);
/* Negotiated version string ("TLSv1.3") and cipher name, for logs. */
const char *tls_conn_version(const struct tls_conn *c);
const char *tls_conn_cipher(const struct tls_conn *c);
/* Queues a close_notify alert. */
void tls_conn_close(struct tls_conn *c);

#endif
