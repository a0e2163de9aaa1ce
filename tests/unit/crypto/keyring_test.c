/* SPDX-License-Identifier: Apache-2.0 */
/* Keyring: default key, reload, KeyId forms and aliases, disable, unknown
 * keys, data key rotation, crypto-erase, file modes, reader caches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/keyring.h"

static void mkdtemp_(char *buf, size_t n)
{
	snprintf(buf, n, "/tmp/kr-test-XXXXXX");
	if (!mkdtemp(buf))
		abort();
}

static void rmrf(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "rm -rf %s failed\n", dir);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 0777;
}

static int resolve(struct kr_keyring *kr, const char *ref, char id[KR_KEY_ID_SIZE])
{
	return kr_resolve(kr, ref, strlen(ref), id);
}

static void test_default_and_reload(void **state)
{
	(void)state;
	char base[64], dir[128], path[256], id[KR_KEY_ID_SIZE], id2[KR_KEY_ID_SIZE];
	char ref[256];
	struct kr_keyring *kr;

	mkdtemp_(base, sizeof(base));
	snprintf(dir, sizeof(dir), "%s/keys", base);
	kr = kr_open(dir);
	assert_non_null(kr);
	kr_default_key_id(kr, id);
	assert_int_equal(strlen(id), KR_KEY_ID_LEN);
	assert_true(id[8] == '-' && id[13] == '-' && id[14] == '4' && id[23] == '-');
	/* Every KeyId form names the same key. */
	assert_int_equal(resolve(kr, KR_DEFAULT_ALIAS, id2), 0);
	assert_string_equal(id, id2);
	assert_int_equal(resolve(kr, id, id2), 0);
	assert_string_equal(id, id2);
	snprintf(ref, sizeof(ref), "arn:aws:kms:us-east-1:123456789012:key/%s", id);
	assert_int_equal(resolve(kr, ref, id2), 0);
	assert_string_equal(id, id2);
	assert_int_equal(resolve(kr, "arn:aws:kms:eu-west-1:000000000000:alias/aws/kinesis",
				 id2), 0);
	assert_string_equal(id, id2);
	/* Unknown and malformed. */
	assert_int_equal(resolve(kr, "alias/nope", id2), -ENOENT);
	assert_int_equal(resolve(kr, "00000000-0000-4000-8000-000000000000", id2), -ENOENT);
	assert_int_equal(resolve(kr, "garbage", id2), -ENOENT);
	assert_int_equal(resolve(kr, "arn:aws:kms:us-east-1:1:bucket/x", id2), -EINVAL);
	assert_int_equal(resolve(kr, "arn:aws:s3", id2), -EINVAL);
	assert_int_equal(kr_resolve(kr, "", 0, id2), -EINVAL);
	/* Modes: directories 0700, files 0600. */
	assert_int_equal(mode_of(dir), 0700);
	snprintf(path, sizeof(path), "%s/masters", dir);
	assert_int_equal(mode_of(path), 0600);
	snprintf(path, sizeof(path), "%s/datakeys", dir);
	assert_int_equal(mode_of(path), 0700);
	assert_int_equal(kr_stream_key_new(kr, 7, NULL, NULL), 0);
	snprintf(path, sizeof(path), "%s/datakeys/%016x", dir, 7);
	assert_int_equal(mode_of(path), 0600);
	kr_close(kr);
	/* Reload: same default key, not a new one. */
	kr = kr_open(dir);
	assert_non_null(kr);
	kr_default_key_id(kr, id2);
	assert_string_equal(id, id2);
	uint32_t v = 0;

	assert_int_equal(kr_stream_key_info(kr, 7, &v, id2), 0);
	assert_int_equal(v, 1);
	assert_string_equal(id, id2);
	kr_close(kr);
	/* A damaged masters file is refused, never replaced. */
	snprintf(path, sizeof(path), "%s/masters", dir);
	FILE *f = fopen(path, "a");

	assert_non_null(f);
	fputs("junk line\n", f);
	fclose(f);
	assert_null(kr_open(dir));
	assert_int_equal(errno, EIO);
	rmrf(base);
}

static void test_masters_aliases_disable(void **state)
{
	(void)state;
	char base[64], id[KR_KEY_ID_SIZE], id2[KR_KEY_ID_SIZE], def[KR_KEY_ID_SIZE];
	struct kr_keyring *kr;
	uint32_t v;

	mkdtemp_(base, sizeof(base));
	kr = kr_open(base);
	assert_non_null(kr);
	kr_default_key_id(kr, def);
	assert_int_equal(kr_master_create(kr, id), 0);
	assert_string_not_equal(id, def);
	assert_int_equal(kr_alias_create(kr, "alias/mine", id), 0);
	assert_int_equal(kr_alias_create(kr, "alias/mine", def), -EEXIST);
	assert_int_equal(kr_alias_create(kr, "mine", def), -EINVAL);
	assert_int_equal(kr_alias_create(kr, "alias/bad name", def), -EINVAL);
	assert_int_equal(kr_alias_create(kr, "alias/x", "alias/none"), -ENOENT);
	assert_int_equal(resolve(kr, "alias/mine", id2), 0);
	assert_string_equal(id, id2);
	/* Disable: new data keys under it fail, writers of its streams fail. */
	assert_int_equal(kr_stream_key_new(kr, 1, "alias/mine", &v), 0);
	assert_int_equal(v, 1);
	struct kr_reader *r = kr_reader_new(kr);
	const void *xk;

	assert_non_null(r);
	assert_int_equal(kr_reader_current(r, 1, &v, &xk), 0);
	assert_int_equal(kr_master_check(kr, "alias/mine"), 0);
	assert_int_equal(kr_master_set_enabled(kr, "alias/mine", false), 0);
	assert_int_equal(kr_master_check(kr, "alias/mine"), -EKEYREVOKED);
	assert_int_equal(kr_stream_key_new(kr, 2, id, NULL), -EKEYREVOKED);
	assert_int_equal(kr_reader_current(r, 1, &v, &xk), -EKEYREVOKED);
	assert_int_equal(kr_reader_get(r, 1, 1, &xk), 0); /* reads go on */
	assert_int_equal(kr_stream_key_new(kr, 2, "alias/unknown", NULL), -ENOENT);
	kr_reader_free(r);
	kr_close(kr);
	/* All of it survives a reload. */
	kr = kr_open(base);
	assert_non_null(kr);
	assert_int_equal(resolve(kr, "alias/mine", id2), 0);
	assert_string_equal(id, id2);
	assert_int_equal(kr_master_check(kr, id), -EKEYREVOKED);
	assert_int_equal(kr_master_set_enabled(kr, id, true), 0);
	assert_int_equal(kr_stream_key_new(kr, 2, id, NULL), 0);
	kr_close(kr);
	rmrf(base);
}

static void test_rotate_destroy(void **state)
{
	(void)state;
	char base[64], path[256], mid[KR_KEY_ID_SIZE], other[KR_KEY_ID_SIZE];
	uint8_t k1[32], k2[32], k1b[32];
	struct kr_keyring *kr;
	struct kr_reader *r;
	const void *xk1, *xk;
	uint32_t v;

	mkdtemp_(base, sizeof(base));
	kr = kr_open(base);
	assert_non_null(kr);
	r = kr_reader_new(kr);
	assert_non_null(r);
	assert_int_equal(kr_reader_current(r, 5, &v, &xk), -ENOKEY);
	assert_int_equal(kr_stream_key_new(kr, 5, NULL, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(kr_reader_current(r, 5, &v, &xk1), 0);
	assert_int_equal(v, 1);
	assert_int_equal(kr_master_create(kr, other), 0);
	/* Rotation under another master key: version 2 is current, 1 stays. */
	assert_int_equal(kr_stream_key_new(kr, 5, other, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(kr_reader_current(r, 5, &v, &xk), 0);
	assert_int_equal(v, 2);
	assert_int_equal(kr_stream_key_info(kr, 5, &v, mid), 0);
	assert_string_equal(mid, other);
	assert_int_equal(kr_data_key_copy(kr, 5, 1, k1), 0);
	assert_int_equal(kr_data_key_copy(kr, 5, 2, k2), 0);
	assert_memory_not_equal(k1, k2, 32);
	assert_int_equal(kr_reader_get(r, 5, 1, &xk), 0);
	assert_int_equal(kr_reader_get(r, 5, 3, &xk), -ENOKEY);
	/* Reload unwraps the same keys. */
	kr_reader_free(r);
	kr_close(kr);
	kr = kr_open(base);
	assert_non_null(kr);
	r = kr_reader_new(kr);
	assert_int_equal(kr_data_key_copy(kr, 5, 1, k1b), 0);
	assert_memory_equal(k1, k1b, 32);
	assert_int_equal(kr_reader_get(r, 5, 2, &xk), 0);
	/* Destroy: file gone, lookups fail at once (cache dropped). */
	assert_int_equal(kr_stream_key_new(kr, 6, NULL, NULL), 0);
	assert_int_equal(kr_stream_key_destroy(kr, 5), 0);
	assert_int_equal(kr_reader_get(r, 5, 2, &xk), -ENOKEY);
	assert_int_equal(kr_reader_current(r, 5, &v, &xk), -ENOKEY);
	assert_int_equal(kr_data_key_copy(kr, 5, 1, k1b), -ENOKEY);
	assert_int_equal(kr_stream_key_info(kr, 5, &v, mid), -ENOKEY);
	assert_int_equal(kr_reader_current(r, 6, &v, &xk), 0);
	snprintf(path, sizeof(path), "%s/datakeys/%016x", base, 5);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(kr_stream_key_destroy(kr, 5), 0); /* idempotent */
	kr_reader_free(r);
	kr_close(kr);
	kr = kr_open(base);
	assert_non_null(kr);
	assert_int_equal(kr_data_key_copy(kr, 5, 1, k1b), -ENOKEY);
	assert_int_equal(kr_data_key_copy(kr, 6, 1, k1b), 0);
	kr_close(kr);
	rmrf(base);
}

/* A wrapped key that was tampered with does not unwrap: open fails. */
static void test_tampered_datakey(void **state)
{
	(void)state;
	char base[64], path[256];
	struct kr_keyring *kr;
	FILE *f;
	char buf[512];
	size_t n;

	mkdtemp_(base, sizeof(base));
	kr = kr_open(base);
	assert_non_null(kr);
	assert_int_equal(kr_stream_key_new(kr, 9, NULL, NULL), 0);
	kr_close(kr);
	snprintf(path, sizeof(path), "%s/datakeys/%016x", base, 9);
	f = fopen(path, "r+");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	assert_true(n > 20);
	/* Flip a hex digit of the wrapped blob (last char before newline). */
	buf[n - 2] = buf[n - 2] == '0' ? '1' : '0';
	fseek(f, 0, SEEK_SET);
	fwrite(buf, 1, n, f);
	fclose(f);
	assert_null(kr_open(base));
	assert_int_equal(errno, EIO);
	rmrf(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_and_reload),
		cmocka_unit_test(test_masters_aliases_disable),
		cmocka_unit_test(test_rotate_destroy),
		cmocka_unit_test(test_tampered_datakey),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
