/* SPDX-License-Identifier: Apache-2.0 */
/* Keyring for encryption at rest (prefix kr_): master keys ("KMS keys") and
 * per-stream data keys wrapped under them, persisted under DATA/keys.
 *
 * Master keys: 32 random bytes each, addressed by a KeyId in KMS form (a
 * UUID, e.g. "3f2b...-...") or by aliases ("alias/NAME"). The first kr_open
 * creates the default key with alias KR_DEFAULT_ALIAS. A KeyId argument may
 * be a key id, a key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), an alias name
 * or an alias ARN (arn:aws:kms:REGION:ACCOUNT:alias/NAME); the region and
 * account of an ARN are not checked (one local KMS).
 *
 * Data keys: per stream, versions 1, 2, ... (a new version on every
 * kr_stream_key_new: creation and rotation); every version stays until the
 * stream's keys are destroyed, so old chunks stay readable. Each is 32 random
 * bytes wrapped with AES-256-GCM under a master key (OpenSSL EVP; control
 * path only). kr_stream_key_destroy deletes them durably: crypto-erase.
 *
 * Threads: one control thread calls everything except the kr_reader_*
 * functions; each log lcore owns one kr_reader and calls kr_reader_current /
 * kr_reader_get (they match storage's st_key_for_fn / st_key_get_fn with the
 * reader as ctx). A reader keeps a small private cache of expanded keys
 * (intel-ipsec-mb gcm_key_data, expanded by init_mb_mgr_auto's code path, so
 * the storage engine must also use init_mb_mgr_auto in the same process). A
 * hit takes no lock: one atomic load of the keyring's generation, which every
 * change (new key version, destroy, enable/disable) bumps; a reader that sees
 * a new generation wipes its whole cache before looking up. A miss takes the
 * keyring mutex. The control thread never touches a reader's memory, so there
 * is no use-after-free to reason about; a destroyed key can live on in a
 * reader's cache only until that lcore's next lookup.
 *
 * Files (directory 0700, files 0600, every update write + fsync + rename +
 * directory fsync):
 *   DIR/masters               master keys (hex) and aliases, text
 *   DIR/datakeys/<016x>       one file per stream id: its wrapped data keys
 * Secrets are never logged and are wiped (OPENSSL_cleanse) when freed.
 *
 * Errors (-errno): -ENOENT unknown key/alias (KMSNotFoundException),
 * -EKEYREVOKED master key disabled (KMSDisabledException), -ENOKEY no data
 * key (stream has none, or it was destroyed), -EINVAL malformed argument,
 * -EEXIST alias taken, -ENOMEM, -EIO or an errno of a file operation. */
#ifndef SL_CRYPTO_KEYRING_H
#define SL_CRYPTO_KEYRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bug.h"

#define KR_DEFAULT_ALIAS "alias/aws/kinesis"
/* A KeyId: 36-character UUID, plus NUL. */
#define KR_KEY_ID_LEN 36
#define KR_KEY_ID_SIZE 37
/* Longest alias name ("alias/" included), as KMS. */
#define KR_ALIAS_MAX 256
/* Longest KeyId argument accepted (KMS allows 2048). */
#define KR_KEY_REF_MAX 2048
#define KR_DATA_KEY_BYTES 32

struct kr_keyring;
struct kr_reader;

/* Opens the keyring in dir (created 0700 if needed; e.g. DATA/keys), loads
 * the master keys and every stream's data keys, and creates the default
 * master key with alias KR_DEFAULT_ALIAS when there is no masters file.
 * Synchronous. Returns NULL and sets errno: EINVAL, ENOMEM, EIO a damaged
 * file (never silently replaced: data would become unreadable), or an errno
 * from mkdir/open/write/fsync/rename. */
struct kr_keyring *kr_open(const char *dir);

/* Wipes every secret and frees kr. Readers must be freed first. */
void kr_close(struct kr_keyring *kr);

/* Resolves a KeyId argument (len bytes, not NUL-terminated) to a key id.
 * Returns 0 (id_out set), -ENOENT unknown key or alias, -EINVAL malformed
 * (empty, too long, bad ARN). Does not check that the key is enabled. */
int SL_MUST_CHECK kr_resolve(struct kr_keyring *kr, const char *ref, size_t len,
	       char id_out[KR_KEY_ID_SIZE]);

/* The key id of KR_DEFAULT_ALIAS. Never fails once kr_open succeeded. */
void kr_default_key_id(struct kr_keyring *kr, char id_out[KR_KEY_ID_SIZE]);

/* Creates a new enabled master key. Returns 0 (id_out set), -ENOMEM, or a
 * file error (the key is then not created). */
int SL_MUST_CHECK kr_master_create(struct kr_keyring *kr, char id_out[KR_KEY_ID_SIZE]);

/* Points alias ("alias/NAME": 1-250 characters of [A-Za-z0-9/_-] after
 * "alias/") at the key ref resolves to. Returns 0, -EINVAL bad name,
 * -EEXIST the alias exists, -ENOENT unknown key, or a file error. */
int SL_MUST_CHECK kr_alias_create(struct kr_keyring *kr, const char *alias, const char *ref);

/* Enables or disables the master key ref resolves to. While disabled, new
 * data keys cannot be wrapped under it and kr_reader_current fails for
 * streams whose current data key it wraps (writes: KMSDisabledException).
 * Reads (kr_reader_get) keep working. Returns 0, -ENOENT, -EINVAL, or a file
 * error. */
int SL_MUST_CHECK kr_master_set_enabled(struct kr_keyring *kr, const char *ref, bool enabled);

/* 0 the key ref resolves to is enabled, -EKEYREVOKED disabled, -ENOENT,
 * -EINVAL. */
int SL_MUST_CHECK kr_master_check(struct kr_keyring *kr, const char *ref);

/* Creates the next data key version of stream_id (version 1 for a new
 * stream: CreateStream; a higher one: rotation, StartStreamEncryption,
 * StopStreamEncryption), wrapped under the master key ref resolves to (NULL:
 * the default key), and makes it the stream's current key. Durable when it
 * returns 0. Returns 0 (*version_out set if non-NULL), -ENOENT, -EINVAL,
 * -EKEYREVOKED the master key is disabled, -ERANGE version overflow, -ENOMEM,
 * or a file error (nothing changed). */
int SL_MUST_CHECK kr_stream_key_new(struct kr_keyring *kr, uint64_t stream_id, const char *ref,
		      uint32_t *version_out);

/* Crypto-erase: overwrites and unlinks the stream's data key file, fsyncs
 * the directory, wipes the keys from memory and invalidates every reader's
 * cache (it takes effect at each reader's next lookup). Returns 0 (also when
 * the stream had no keys) or a file error (the keys are then already gone
 * from memory, and the file is unlinked if possible). */
int SL_MUST_CHECK kr_stream_key_destroy(struct kr_keyring *kr, uint64_t stream_id);

/* The stream's current data key version and the master key id wrapping it
 * (for DescribeStream's KeyId). Returns 0 or -ENOKEY. */
int SL_MUST_CHECK kr_stream_key_info(struct kr_keyring *kr, uint64_t stream_id,
		       uint32_t *version_out, char master_id_out[KR_KEY_ID_SIZE]);

/* Copies the unwrapped data key (stream_id, version) into out (tests and
 * tools; the caller must wipe it). Returns 0 or -ENOKEY. */
int SL_MUST_CHECK kr_data_key_copy(struct kr_keyring *kr, uint64_t stream_id, uint32_t version,
		     uint8_t out[KR_DATA_KEY_BYTES]);

/* ---- Log lcore side -------------------------------------------------------- */

/* One per log lcore. Returns NULL and sets errno ENOMEM. */
struct kr_reader *kr_reader_new(struct kr_keyring *kr);
/* Wipes and frees r (NULL ok). */
void kr_reader_free(struct kr_reader *r);

/* st_key_for_fn: the stream's current data key version and its expanded
 * AES-256-GCM key (struct gcm_key_data). ctx is a struct kr_reader. The
 * pointer is valid until the next kr_reader_* call on this reader. Returns
 * 0, -ENOKEY the stream has no data key (destroyed or never created),
 * -EKEYREVOKED its master key is disabled. */
int SL_MUST_CHECK kr_reader_current(void *ctx, uint64_t stream_id, uint32_t *version_out,
		      const void **expanded_key_out);

/* st_key_get_fn: the expanded key of (stream_id, version), as above. Returns
 * 0 or -ENOKEY (unknown version, or the stream's keys were destroyed). */
int SL_MUST_CHECK kr_reader_get(void *ctx, uint64_t stream_id, uint32_t version,
		  const void **expanded_key_out);

#endif
