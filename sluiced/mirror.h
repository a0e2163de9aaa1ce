/* SPDX-License-Identifier: Apache-2.0 */
/* Store-and-forward mirroring of local streams (at most 8) to upstream
 * Kinesis endpoints (AWS or another sluice): issue #17 item 2. See
 * sluiced/README.md, "Mirror".
 *
 * Each mirrored stream has a thread of its own, off the fast path: it reads
 * the local stream through the public GetRecords path (over loopback TLS,
 * SigV4-signed with sluiced's internal credential, made at start and kept
 * in memory only, which may read the streams and nothing else; quotas,
 * resource policies and encryption apply to it as to any consumer) and writes
 * upstream with PutRecords through OpenSSL (verified against the configured
 * CA) and our SigV4 signer. Progress per source shard is checkpointed
 * durably in DIR/mirror.NAME.ckpt (DIR/mirror.ckpt when the file names one
 * stream) after every batch the upstream acknowledged whole. */
#ifndef SL_SLUICED_MIRROR_H
#define SL_SLUICED_MIRROR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct mirror;

struct mirror_local {
	const char *data_dir; /* checkpoint file lives here */
	/* sluiced's internal credential (sigv4_keyring_add_internal): the
	 * secret is wiped by the caller once mirror_open returns */
	const char *key, *secret;
	const char *region;   /* the region the local server serves */
	const atomic_bool *stop;
};

/* Reads and checks the configuration file (must be a regular file with no
 * group/other permission bits: it holds a secret), before the server
 * serves, so a bad file stops start-up. Returns NULL and sets errno
 * (messages go to the log, never the secret). */
struct mirror *mirror_open(const char *conf_path, const struct mirror_local *loc);
/* Starts the thread once the listener (host, port) accepts. Returns 0 or
 * -errno. */
int mirror_start(struct mirror *m, const char *host, uint16_t port);
struct prom_buf;
/* Writes the sluice_mirror_* families (admin_config.scrape_extra). Any
 * thread; relaxed loads of counters the mirror thread writes. */
void mirror_scrape(void *m, struct prom_buf *b);
/* Waits for the threads (they watch *loc->stop; a call in flight sees it
 * within 50 ms) and frees them. NULL is a no-op. */
void mirror_stop(struct mirror *m);

#endif
