/* SPDX-License-Identifier: Apache-2.0 */
/* Durable file replacement; the argument is in file.h. */
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* write() until done: a regular file may take less than asked (a signal, a
 * full quota); 0 bytes written is reported as -EIO, not retried forever. */
static int file_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int sl_file_replace_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode)
{
	char tmp[NAME_MAX + 1];
	int rc = 0;

	if (name[0] == '\0' || strchr(name, '/'))
		return -EINVAL;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= sizeof(tmp))
		return -ENAMETOOLONG;
	/* O_NOFOLLOW: a link planted at the temporary's name must not redirect
	 * the write (the directories are 0700, this is belt and braces). */
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) < 0)
		rc = -errno;
	if (rc == 0)
		rc = file_write_all(fd, data, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) < 0)
		rc = -errno;
	if (rc < 0) {
		(void)unlinkat(dirfd, tmp, 0); /* best effort: the error is rc */
		return rc;
	}
	if (fsync(dirfd) < 0)
		return -errno; /* the new file is in place, maybe not durably */
	return 0;
}

int sl_file_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	char dir[SL_FILE_PATH_MAX];
	size_t n = strnlen(path, sizeof(dir));
	const char *slash = memrchr(path, '/', n);

	if (n == sizeof(dir))
		return -ENAMETOOLONG;
	if (!slash) {
		memcpy(dir, ".", 2);
	} else {
		size_t dl = slash == path ? 1 : (size_t)(slash - path); /* "/x": dir "/" */
		memcpy(dir, path, dl);
		dir[dl] = '\0';
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int rc = sl_file_replace_at(dfd, slash ? slash + 1 : path, data, len, mode);
	if (close(dfd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}
