/* SPDX-License-Identifier: Apache-2.0 */
/* Durable file replacement (common/file.h) on a real directory under
 * /tmp. fsync is wrapped at link time (-Wl,--wrap=fsync): the real fsync
 * still runs, the wrapper only records which inode was synced and, for a
 * directory, what the published name held at that moment, so the test can
 * see the order "file synced, renamed, directory synced". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"

#define FSYNC_LOG_MAX 16

struct fsync_rec {
	bool is_dir;
	ino_t ino;
	char target[64]; /* dir: contents of watch_name in it, "" if absent */
};

static struct fsync_rec fsync_log[FSYNC_LOG_MAX];
static unsigned fsync_n;
static const char *watch_name = "f";

int __real_fsync(int fd);
int __wrap_fsync(int fd);

int __wrap_fsync(int fd)
{
	struct stat st;
	if (fsync_n < FSYNC_LOG_MAX && fstat(fd, &st) == 0) {
		struct fsync_rec *r = &fsync_log[fsync_n++];
		memset(r, 0, sizeof(*r));
		r->is_dir = S_ISDIR(st.st_mode);
		r->ino = st.st_ino;
		if (r->is_dir) {
			int f = openat(fd, watch_name, O_RDONLY | O_CLOEXEC);
			if (f >= 0) {
				ssize_t n = read(f, r->target, sizeof(r->target) - 1);
				r->target[n > 0 ? n : 0] = '\0';
				close(f);
			}
		}
	}
	return __real_fsync(fd);
}

static char dir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/sl_file_test.XXXXXX");
	fsync_n = 0;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *out, size_t cap, const char *name)
{
	assert_true((size_t)snprintf(out, cap, "%s/%s", dir, name) < cap);
}

static void read_file(const char *path, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	ssize_t n = read(fd, out, cap - 1);
	assert_true(n >= 0);
	out[n] = '\0';
	close(fd);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Creates, then replaces; the mode is exact whatever the umask. */
static void test_replace_contents_and_mode(void **state)
{
	(void)state;
	char p[128], tmp[128], got[64];
	path_of(p, sizeof(p), "f");
	path_of(tmp, sizeof(tmp), "f.tmp");

	mode_t old = umask(0); /* would leave 0666 & ~0 if open's mode were trusted */
	assert_int_equal(sl_file_replace(p, "one", 3, 0600), 0);
	read_file(p, got, sizeof(got));
	assert_string_equal(got, "one");
	assert_int_equal(mode_of(p), 0600);

	umask(077); /* would give 0600, not the asked 0644 */
	assert_int_equal(sl_file_replace(p, "two!", 4, 0644), 0);
	umask(old);
	read_file(p, got, sizeof(got));
	assert_string_equal(got, "two!");
	assert_int_equal(mode_of(p), 0644);
	assert_false(exists(tmp));

	assert_int_equal(sl_file_replace(p, "", 0, 0600), 0); /* empty is a content */
	read_file(p, got, sizeof(got));
	assert_string_equal(got, "");
}

/* The file is synced, then the directory, and when the directory is synced
 * the name already holds the new bytes (the rename came before it). */
static void test_directory_fsync_after_rename(void **state)
{
	(void)state;
	char p[128];
	struct stat dst, fst;
	path_of(p, sizeof(p), "f");
	assert_int_equal(sl_file_replace(p, "old", 3, 0600), 0);
	fsync_n = 0;
	assert_int_equal(sl_file_replace(p, "new", 3, 0600), 0);
	assert_int_equal(stat(dir, &dst), 0);
	assert_int_equal(stat(p, &fst), 0);

	assert_int_equal(fsync_n, 2);
	assert_false(fsync_log[0].is_dir);
	assert_int_equal(fsync_log[0].ino, fst.st_ino); /* the file now named f */
	assert_true(fsync_log[1].is_dir);
	assert_int_equal(fsync_log[1].ino, dst.st_ino);
	assert_string_equal(fsync_log[1].target, "new");
}

/* The dirfd form, as the keyring and storage call it. */
static void test_replace_at(void **state)
{
	(void)state;
	char p[128], got[64];
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(sl_file_replace_at(dfd, "k", "secret", 6, 0600), 0);
	path_of(p, sizeof(p), "k");
	read_file(p, got, sizeof(got));
	assert_string_equal(got, "secret");
	assert_int_equal(mode_of(p), 0600);
	assert_int_equal(sl_file_replace_at(dfd, "", "x", 1, 0600), -EINVAL);
	assert_int_equal(sl_file_replace_at(dfd, "a/b", "x", 1, 0600), -EINVAL);
	char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(sl_file_replace_at(dfd, longname, "x", 1, 0600), -ENAMETOOLONG);
	close(dfd);
}

/* A stale temporary from a crash (mode 0644) is reused with the asked mode;
 * a symlink planted at the temporary's name is not followed. */
static void test_stale_tmp_and_symlink(void **state)
{
	(void)state;
	char p[128], tmp[128], victim[128], got[64];
	path_of(p, sizeof(p), "f");
	path_of(tmp, sizeof(tmp), "f.tmp");
	path_of(victim, sizeof(victim), "victim");

	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "stale stale", 11), 11);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);
	assert_int_equal(sl_file_replace(p, "key", 3, 0600), 0);
	assert_int_equal(mode_of(p), 0600);
	read_file(p, got, sizeof(got));
	assert_string_equal(got, "key");

	assert_int_equal(sl_file_replace(victim, "keep", 4, 0600), 0);
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(sl_file_replace(p, "evil", 4, 0600), -ELOOP);
	read_file(victim, got, sizeof(got));
	assert_string_equal(got, "keep");
	read_file(p, got, sizeof(got));
	assert_string_equal(got, "key"); /* the old file is untouched */
}

/* A failed rename (the name is a directory) leaves no temporary; a missing
 * directory is reported; a bare name means the working directory. */
static void test_errors_and_relative(void **state)
{
	(void)state;
	char p[128], tmp[128], got[64], cwd[4096];
	path_of(p, sizeof(p), "d");
	path_of(tmp, sizeof(tmp), "d.tmp");
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(sl_file_replace(p, "x", 1, 0600), -EISDIR);
	assert_false(exists(tmp));

	path_of(p, sizeof(p), "nodir/f");
	assert_int_equal(sl_file_replace(p, "x", 1, 0600), -ENOENT);

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(sl_file_replace("rel", "r", 1, 0600), 0);
	assert_int_equal(chdir(cwd), 0);
	path_of(p, sizeof(p), "rel");
	read_file(p, got, sizeof(got));
	assert_string_equal(got, "r");

	static char huge[SL_FILE_PATH_MAX + 8];
	memset(huge, 'a', sizeof(huge) - 1);
	assert_int_equal(sl_file_replace(huge, "x", 1, 0600), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replace_contents_and_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_fsync_after_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_at, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_tmp_and_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_and_relative, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
