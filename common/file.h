/* SPDX-License-Identifier: Apache-2.0 */
/* Durable file replacement: the one write-fsync-rename-fsync sequence behind
 * every small file sluice publishes whole (TLS material, keys, the iterator
 * key, storage's checkpoint and nonce reservation, the address file).
 *
 * The durability argument, in order:
 *   1. the bytes go to "<name>.tmp" in the same directory (same file
 *      system, so the rename is atomic) and are fsynced: the data blocks are
 *      on stable storage before any name points at them;
 *   2. the mode is set with fchmod (exact, not masked by the umask, and
 *      also applied to a stale temporary left by a crash), before the
 *      secret bytes are written;
 *   3. rename() swaps the name: a reader sees the old file or the new one,
 *      never half of one;
 *   4. the directory is fsynced: the rename itself survives a crash (without
 *      it a power loss can bring back the old file, or none at all).
 * On any error the temporary is unlinked and the old file is untouched.
 *
 * Slow path only (start-up, key rotation, checkpoints): blocking syscalls. */
#ifndef SL_COMMON_FILE_H
#define SL_COMMON_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Longest path sl_file_replace takes (PATH_MAX, with its NUL). */
#define SL_FILE_PATH_MAX 4096

/* Replaces dirfd/name with data[0..len), mode exactly `mode`, durably (see
 * the top of the file). name is one directory entry: no '/', not empty.
 * Returns 0, or -errno: -EINVAL (name empty or holding '/'), -ENAMETOOLONG
 * (name + ".tmp" longer than NAME_MAX), else the errno of the failing
 * openat/fchmod/write/fsync/close/renameat or of the directory fsync. */
__attribute__((warn_unused_result))
int sl_file_replace_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode);

/* The same for a path: its directory is the part before the last '/' ("."
 * when there is none). Returns 0 or -errno as sl_file_replace_at, plus
 * -ENAMETOOLONG (path of SL_FILE_PATH_MAX or more) and the errno of opening
 * the directory. */
__attribute__((warn_unused_result))
int sl_file_replace(const char *path, const void *data, size_t len, mode_t mode);

#endif
