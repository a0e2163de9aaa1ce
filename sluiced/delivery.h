/* SPDX-License-Identifier: Apache-2.0 */
/* Channel delivery to S3 (issue #17 item 1, the half after the channel
 * operations of controlplane/cp_channels.c). See sluiced/README.md,
 * "Channel delivery".
 *
 * One thread, off the fast path, like the mirror (mirror.h), with which it
 * shares sluiced/hclient.c: it learns the channels through the public
 * ListChannels/DescribeChannel and reads each channel's stream through
 * GetShardIterator/GetRecords over loopback TLS, SigV4-signed with
 * sluiced's internal credential (mirror.h); it writes objects with S3
 * PutObject (SigV4 service "s3", path-style) to the endpoint of the
 * --channel-config file, verified against its CA. Progress per channel and
 * shard is checkpointed durably in DIR/channels/ID.ckpt after S3 answered
 * 200 for the object that holds it. */
#ifndef SL_SLUICED_DELIVERY_H
#define SL_SLUICED_DELIVERY_H

#include <stdatomic.h>
#include <stdint.h>

struct delivery;
struct prom_buf;

struct delivery_local {
	const char *data_dir;	 /* checkpoints live in DIR/channels/ */
	const char *key, *secret; /* sluiced's internal credential (mirror.h) */
	const char *region;	 /* the region the local server serves */
	const atomic_bool *stop;
};

/* Reads and checks the configuration file (regular, mode 0600: it holds a
 * secret) before the server serves, so a bad file stops start-up. Returns
 * NULL and sets errno (messages to the log, never the secret). */
struct delivery *delivery_open(const char *conf_path, const struct delivery_local *loc);
/* Starts the thread once the listener (host, port) accepts. 0 or -errno. */
int delivery_start(struct delivery *d, const char *host, uint16_t port);
/* The sluice_channel_* families (admin_config.scrape_extra). Any thread. */
void delivery_scrape(void *d, struct prom_buf *b);
/* Waits for the thread (it watches *loc->stop) and frees it. NULL: no-op. */
void delivery_stop(struct delivery *d);

#endif
