/* SPDX-License-Identifier: Apache-2.0 */
/* Keyring for encryption at rest: master keys, aliases, wrapped per-stream
 * data keys, and the log lcores' lookup caches. See keyring.h for the thread
 * model and crypto/README.md ("Keyring") for the files.
 *
 * Only the control thread changes the keyring, so it reads the tables without
 * the mutex; it takes the mutex only to publish a change (and does its file
 * I/O outside it), so a log lcore that misses its cache waits for a few
 * memory operations, never for an fsync. Readers read the tables only under
 * the mutex. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/bug.h"
#include "common/file.h"
#include "common/log.h"
#include "crypto/keyring.h"

#define KR_MASTERS "masters"
#define KR_DKDIR "datakeys"
#define KR_MASTERS_HDR "sluice-keyring 1"
#define KR_DK_HDR "sluice-datakeys 1"
#define KR_FILE_MAX (16u << 20)
/* Wrapped data key: 12-byte nonce, 32-byte ciphertext, 16-byte tag. */
#define KR_WRAP_BYTES 60

struct kr_master {
	char id[KR_KEY_ID_SIZE];
	bool enabled;
	int64_t created_s;
	uint8_t key[32];
};

struct kr_alias {
	char name[KR_ALIAS_MAX + 1];
	char id[KR_KEY_ID_SIZE];
};

struct kr_dkey {
	uint32_t version;
	char master[KR_KEY_ID_SIZE];
	uint8_t wrapped[KR_WRAP_BYTES];
	uint8_t key[KR_DATA_KEY_BYTES];
};

/* Versions ascending; the last one is current. */
struct kr_stream {
	uint64_t id;
	uint32_t n;
	struct kr_dkey *v;
};

struct kr_keyring {
	int dirfd, dkfd;
	pthread_mutex_t mu;
	_Atomic uint64_t gen; /* bumped (under mu) by every change */
	IMB_MGR *imb;	      /* key expansion for readers, under mu */
	struct kr_master *m;
	uint32_t nm;
	struct kr_alias *a;
	uint32_t na;
	struct kr_stream *s;
	uint32_t ns;
};

/* ---- Small helpers ---------------------------------------------------------- */

static void hex_enc(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int hex_dec(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -EIO;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EIO;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* 8-4-4-4-12 lowercase hex. */
static bool id_valid(const char *s, size_t len)
{
	if (len != KR_KEY_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : hex_val(s[i]) < 0)
			return false;
	}
	return true;
}

static int id_new(char out[KR_KEY_ID_SIZE])
{
	uint8_t u[16];
	char h[33];

	if (RAND_bytes(u, sizeof(u)) != 1)
		return -EIO;
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40); /* version 4 */
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	hex_enc(u, sizeof(u), h);
	snprintf(out, KR_KEY_ID_SIZE, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12,
		 h + 16, h + 20);
	return 0;
}

static bool alias_valid(const char *a, size_t len)
{
	if (len <= 6 || len > KR_ALIAS_MAX || strncmp(a, "alias/", 6) != 0)
		return false;
	for (size_t i = 6; i < len; i++) {
		char c = a[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static void bump(struct kr_keyring *kr)
{
	atomic_fetch_add_explicit(&kr->gen, 1, memory_order_release);
}

/* Reads dirfd/name into a NUL-terminated buffer (caller cleanses + frees).
 * Returns 0, -ENOENT, -EIO, -ENOMEM. */
static int file_get(int dirfd, const char *name, char **out, size_t *len_out)
{
	struct stat st;
	char *buf;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	if (fstat(fd, &st) < 0 || st.st_size > KR_FILE_MAX) {
		close(fd);
		return -EIO;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	ssize_t r = pread(fd, buf, (size_t)st.st_size, 0);

	close(fd);
	if (r != st.st_size) {
		free(buf);
		return -EIO;
	}
	buf[r] = '\0';
	*out = buf;
	*len_out = (size_t)r;
	return 0;
}

static void buf_free(char *buf, size_t cap)
{
	if (buf) {
		OPENSSL_cleanse(buf, cap);
		free(buf);
	}
}

/* ---- Lookups (control thread, or under mu) ------------------------------- */

static struct kr_master *master_find(struct kr_keyring *kr, const char *id)
{
	for (uint32_t i = 0; i < kr->nm; i++)
		if (strcmp(kr->m[i].id, id) == 0)
			return &kr->m[i];
	return NULL;
}

static struct kr_alias *alias_find(struct kr_keyring *kr, const char *name, size_t len)
{
	for (uint32_t i = 0; i < kr->na; i++)
		if (strlen(kr->a[i].name) == len && memcmp(kr->a[i].name, name, len) == 0)
			return &kr->a[i];
	return NULL;
}

static struct kr_stream *stream_find(struct kr_keyring *kr, uint64_t id)
{
	for (uint32_t i = 0; i < kr->ns; i++)
		if (kr->s[i].id == id)
			return &kr->s[i];
	return NULL;
}

static const struct kr_dkey *dkey_find(struct kr_keyring *kr, uint64_t stream,
				       uint32_t version)
{
	const struct kr_stream *s = stream_find(kr, stream);

	for (uint32_t i = 0; s && i < s->n; i++)
		if (s->v[i].version == version)
			return &s->v[i];
	return NULL;
}

/* Strips "arn:aws:kms:REGION:ACCOUNT:" from an ARN. Returns the resource
 * ("key/ID" or "alias/NAME") or NULL when ref is an ARN of another form. */
static const char *arn_resource(const char *ref, size_t len, size_t *rlen)
{
	const char *p = ref + 12, *end = ref + len;

	if (len < 12 || memcmp(ref, "arn:aws:kms:", 12) != 0)
		return NULL;
	for (int colons = 0; colons < 2; colons++) {
		const char *c = memchr(p, ':', (size_t)(end - p));

		if (!c)
			return NULL;
		p = c + 1;
	}
	*rlen = (size_t)(end - p);
	return p;
}

int kr_resolve(struct kr_keyring *kr, const char *ref, size_t len,
	       char id_out[KR_KEY_ID_SIZE])
{
	const struct kr_alias *al;
	size_t rlen = len;

	if (!ref || len == 0 || len > KR_KEY_REF_MAX || memchr(ref, '\0', len))
		return -EINVAL;
	if (len >= 4 && memcmp(ref, "arn:", 4) == 0) {
		ref = arn_resource(ref, len, &rlen);
		if (!ref)
			return -EINVAL;
		if (rlen > 4 && memcmp(ref, "key/", 4) == 0) {
			ref += 4;
			rlen -= 4;
		} else if (rlen <= 6 || memcmp(ref, "alias/", 6) != 0) {
			return -EINVAL;
		}
	}
	if (rlen > 6 && memcmp(ref, "alias/", 6) == 0) {
		al = alias_find(kr, ref, rlen);
		if (!al)
			return -ENOENT;
		memcpy(id_out, al->id, KR_KEY_ID_SIZE);
		return 0;
	}
	if (!id_valid(ref, rlen))
		return -ENOENT;
	memcpy(id_out, ref, KR_KEY_ID_LEN);
	id_out[KR_KEY_ID_LEN] = '\0';
	return master_find(kr, id_out) ? 0 : -ENOENT;
}

void kr_default_key_id(struct kr_keyring *kr, char id_out[KR_KEY_ID_SIZE])
{
	const struct kr_alias *al = alias_find(kr, KR_DEFAULT_ALIAS,
					       strlen(KR_DEFAULT_ALIAS));

	memcpy(id_out, al ? al->id : "", al ? KR_KEY_ID_SIZE : 1);
}

/* ---- Masters file ------------------------------------------------------- */

#define KR_MLINE (4 + KR_KEY_ID_LEN + 4 + 24 + 65 + 8)
#define KR_ALINE (7 + KR_ALIAS_MAX + KR_KEY_ID_LEN + 8)

/* Writes the masters file from the given tables (the caller's new state). */
static int masters_save(struct kr_keyring *kr, const struct kr_master *m, uint32_t nm,
			const struct kr_alias *a, uint32_t na)
{
	size_t cap = 64 + (size_t)nm * KR_MLINE + (size_t)na * KR_ALINE, len;
	char *buf = malloc(cap), hex[65];
	int rc;

	if (!buf)
		return -ENOMEM;
	len = (size_t)snprintf(buf, cap, "%s\n", KR_MASTERS_HDR);
	for (uint32_t i = 0; i < nm; i++) {
		hex_enc(m[i].key, sizeof(m[i].key), hex);
		len += (size_t)snprintf(buf + len, cap - len, "key %s %d %lld %s\n",
					m[i].id, m[i].enabled ? 1 : 0,
					(long long)m[i].created_s, hex);
	}
	OPENSSL_cleanse(hex, sizeof(hex));
	for (uint32_t i = 0; i < na; i++)
		len += (size_t)snprintf(buf + len, cap - len, "alias %s %s\n",
					a[i].name, a[i].id);
	rc = sl_file_replace_at(kr->dirfd, KR_MASTERS, buf, len, 0600);
	buf_free(buf, cap);
	return rc;
}

static int master_line(struct kr_keyring *kr, char *line)
{
	char id[KR_KEY_ID_SIZE + 1], hex[66];
	int en;
	long long created;
	struct kr_master *nm = realloc(kr->m, (kr->nm + 1) * sizeof(*nm));
	int rc = 0;

	if (!nm)
		return -ENOMEM;
	kr->m = nm;
	if (sscanf(line, "key %37s %d %lld %65s", id, &en, &created, hex) != 4 ||
	    !id_valid(id, strlen(id)) || (en != 0 && en != 1))
		rc = -EIO;
	struct kr_master *k = &kr->m[kr->nm];

	if (rc == 0)
		rc = hex_dec(hex, k->key, sizeof(k->key));
	OPENSSL_cleanse(hex, sizeof(hex));
	if (rc < 0)
		return rc;
	memcpy(k->id, id, KR_KEY_ID_SIZE);
	k->enabled = en == 1;
	k->created_s = created;
	kr->nm++;
	return 0;
}

static int alias_line(struct kr_keyring *kr, char *line)
{
	char name[KR_ALIAS_MAX + 2], id[KR_KEY_ID_SIZE + 1];
	struct kr_alias *na = realloc(kr->a, (kr->na + 1) * sizeof(*na));

	if (!na)
		return -ENOMEM;
	kr->a = na;
	if (sscanf(line, "alias %257s %37s", name, id) != 2 ||
	    !alias_valid(name, strlen(name)) || !id_valid(id, strlen(id)))
		return -EIO;
	/* alias_valid bounded the length to KR_ALIAS_MAX. */
	memcpy(kr->a[kr->na].name, name, strlen(name) + 1);
	memcpy(kr->a[kr->na].id, id, KR_KEY_ID_SIZE);
	kr->na++;
	return 0;
}

static int masters_load(struct kr_keyring *kr)
{
	char *buf, *save = NULL, *line;
	size_t len;
	int rc = file_get(kr->dirfd, KR_MASTERS, &buf, &len);

	if (rc < 0)
		return rc;
	line = strtok_r(buf, "\n", &save);
	if (!line || strcmp(line, KR_MASTERS_HDR) != 0)
		rc = -EIO;
	while (rc == 0 && (line = strtok_r(NULL, "\n", &save)) != NULL) {
		if (strncmp(line, "key ", 4) == 0)
			rc = master_line(kr, line);
		else if (strncmp(line, "alias ", 6) == 0)
			rc = alias_line(kr, line);
		else
			rc = -EIO;
	}
	buf_free(buf, len);
	if (rc == 0 && !alias_find(kr, KR_DEFAULT_ALIAS, strlen(KR_DEFAULT_ALIAS)))
		rc = -EIO;
	for (uint32_t i = 0; rc == 0 && i < kr->na; i++)
		if (!master_find(kr, kr->a[i].id))
			rc = -EIO;
	if (rc < 0)
		SL_ERR("keyring: %s is damaged", KR_MASTERS);
	return rc;
}

/* Builds a new master key in *k (not yet in any table). */
static int master_make(struct kr_master *k)
{
	memset(k, 0, sizeof(*k));
	if (id_new(k->id) < 0 || RAND_bytes(k->key, sizeof(k->key)) != 1)
		return -EIO;
	k->enabled = true;
	k->created_s = (int64_t)time(NULL);
	return 0;
}

int kr_master_create(struct kr_keyring *kr, char id_out[KR_KEY_ID_SIZE])
{
	struct kr_master *nm = malloc((kr->nm + 1) * sizeof(*nm));
	int rc;

	if (!nm)
		return -ENOMEM;
	memcpy(nm, kr->m, kr->nm * sizeof(*nm));
	rc = master_make(&nm[kr->nm]);
	if (rc == 0)
		rc = masters_save(kr, nm, kr->nm + 1, kr->a, kr->na);
	if (rc < 0) {
		OPENSSL_cleanse(nm, (kr->nm + 1) * sizeof(*nm));
		free(nm);
		return rc;
	}
	memcpy(id_out, nm[kr->nm].id, KR_KEY_ID_SIZE);
	pthread_mutex_lock(&kr->mu);
	struct kr_master *old = kr->m;
	uint32_t oldn = kr->nm;

	kr->m = nm;
	kr->nm++;
	bump(kr);
	pthread_mutex_unlock(&kr->mu);
	OPENSSL_cleanse(old, oldn * sizeof(*old));
	free(old);
	return 0;
}

int kr_alias_create(struct kr_keyring *kr, const char *alias, const char *ref)
{
	char id[KR_KEY_ID_SIZE];
	struct kr_alias *na;
	size_t len = alias ? strlen(alias) : 0;
	int rc;

	if (!alias_valid(alias ? alias : "", len) || !ref)
		return -EINVAL;
	if (alias_find(kr, alias, len))
		return -EEXIST;
	rc = kr_resolve(kr, ref, strlen(ref), id);
	if (rc < 0)
		return rc;
	na = malloc((kr->na + 1) * sizeof(*na));
	if (!na)
		return -ENOMEM;
	memcpy(na, kr->a, kr->na * sizeof(*na));
	memcpy(na[kr->na].name, alias, len + 1);
	memcpy(na[kr->na].id, id, KR_KEY_ID_SIZE);
	rc = masters_save(kr, kr->m, kr->nm, na, kr->na + 1);
	if (rc < 0) {
		free(na);
		return rc;
	}
	pthread_mutex_lock(&kr->mu);
	struct kr_alias *old = kr->a;

	kr->a = na;
	kr->na++;
	pthread_mutex_unlock(&kr->mu);
	free(old);
	return 0;
}

int kr_master_set_enabled(struct kr_keyring *kr, const char *ref, bool enabled)
{
	char id[KR_KEY_ID_SIZE];
	struct kr_master *k;
	int rc = ref ? kr_resolve(kr, ref, strlen(ref), id) : -EINVAL;

	if (rc < 0)
		return rc;
	k = master_find(kr, id);
	if (k->enabled == enabled)
		return 0;
	/* Save the new state from a copy (readers may look at the table),
	 * then publish it. */
	struct kr_master *copy = malloc(kr->nm * sizeof(*copy));

	if (!copy)
		return -ENOMEM;
	memcpy(copy, kr->m, kr->nm * sizeof(*copy));
	copy[k - kr->m].enabled = enabled;
	rc = masters_save(kr, copy, kr->nm, kr->a, kr->na);
	OPENSSL_cleanse(copy, kr->nm * sizeof(*copy));
	free(copy);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&kr->mu);
	k->enabled = enabled;
	bump(kr);
	pthread_mutex_unlock(&kr->mu);
	return 0;
}

int kr_master_check(struct kr_keyring *kr, const char *ref)
{
	char id[KR_KEY_ID_SIZE];
	int rc = ref ? kr_resolve(kr, ref, strlen(ref), id) : -EINVAL;

	if (rc < 0)
		return rc;
	const struct kr_master *m = master_find(kr, id);

	/* Every alias names a loaded master and masters are never removed,
	 * so this holds today; an error beats a NULL dereference if it stops. */
	if (!m)
		return -ENOENT;
	return m->enabled ? 0 : -EKEYREVOKED;
}

/* ---- Data keys ------------------------------------------------------------ */

/* The AAD of every wrapped data key on disk holds stream and version in
 * host order, defined as little-endian: a big-endian build could unwrap no
 * existing key. */
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "wrapped-key AAD is little-endian");

static void wrap_aad(uint8_t aad[48], uint64_t stream, uint32_t version,
		     const char *master_id)
{
	memcpy(aad, "SLDK", 4);
	memcpy(aad + 4, &stream, 8);
	memcpy(aad + 12, &version, 4);
	memcpy(aad + 16, master_id, 32); /* first 32 chars: 128 random bits */
}

/* AES-256-GCM key wrap (or unwrap when enc is false) of the data key. */
static int wrap(const struct kr_master *m, uint64_t stream, struct kr_dkey *d, bool enc)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t aad[48], *w = d->wrapped;
	int n = 0, ok;

	if (!c)
		return -ENOMEM;
	wrap_aad(aad, stream, d->version, m->id);
	ok = (!enc || RAND_bytes(w, 12) == 1) &&
	     EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, m->key, w, enc ? 1 : 0) == 1 &&
	     EVP_CipherUpdate(c, NULL, &n, aad, sizeof(aad)) == 1;
	if (ok && enc)
		ok = EVP_CipherUpdate(c, w + 12, &n, d->key, 32) == 1 &&
		     EVP_CipherFinal_ex(c, w + 44, &n) == 1 &&
		     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, w + 44) == 1;
	else if (ok)
		ok = EVP_CipherUpdate(c, d->key, &n, w + 12, 32) == 1 &&
		     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, w + 44) == 1 &&
		     EVP_CipherFinal_ex(c, d->key + 32, &n) == 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok)
		OPENSSL_cleanse(d->key, sizeof(d->key));
	return ok ? 0 : -EIO;
}

static void dk_name(uint64_t stream, char name[24])
{
	snprintf(name, 24, "%016llx", (unsigned long long)stream);
}

static int dk_save(struct kr_keyring *kr, uint64_t stream, const struct kr_dkey *v,
		   uint32_t n)
{
	size_t cap = 64 + (size_t)n * (32 + KR_KEY_ID_LEN + 2 * KR_WRAP_BYTES), len;
	char *buf = malloc(cap), hex[2 * KR_WRAP_BYTES + 1], name[24];
	int rc;

	if (!buf)
		return -ENOMEM;
	len = (size_t)snprintf(buf, cap, "%s\n", KR_DK_HDR);
	for (uint32_t i = 0; i < n; i++) {
		hex_enc(v[i].wrapped, KR_WRAP_BYTES, hex);
		len += (size_t)snprintf(buf + len, cap - len, "dk %u %s %s\n",
					v[i].version, v[i].master, hex);
	}
	dk_name(stream, name);
	rc = sl_file_replace_at(kr->dkfd, name, buf, len, 0600);
	buf_free(buf, cap);
	return rc;
}

int kr_stream_key_new(struct kr_keyring *kr, uint64_t stream_id, const char *ref,
		      uint32_t *version_out)
{
	char id[KR_KEY_ID_SIZE];
	struct kr_stream *s = stream_find(kr, stream_id);
	uint32_t n = s ? s->n : 0;
	struct kr_dkey *v;
	int rc = 0;

	if (ref)
		rc = kr_resolve(kr, ref, strlen(ref), id);
	else
		kr_default_key_id(kr, id);
	if (rc < 0)
		return rc;
	const struct kr_master *m = master_find(kr, id);

	/* As in kr_master_check: unreachable while masters are never removed. */
	if (!m)
		return -ENOENT;
	if (!m->enabled)
		return -EKEYREVOKED;
	if (n > 0 && s->v[n - 1].version == UINT32_MAX)
		return -ERANGE;
	if (!s) {
		/* Under mu: realloc may move the table readers search. */
		pthread_mutex_lock(&kr->mu);
		struct kr_stream *ns = realloc(kr->s, (kr->ns + 1) * sizeof(*ns));

		if (ns)
			kr->s = ns;
		pthread_mutex_unlock(&kr->mu);
		if (!ns)
			return -ENOMEM;
	}
	v = malloc((n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (n)
		memcpy(v, s->v, n * sizeof(*v));
	struct kr_dkey *d = &v[n];

	memset(d, 0, sizeof(*d));
	d->version = n ? v[n - 1].version + 1 : 1;
	memcpy(d->master, id, KR_KEY_ID_SIZE);
	rc = RAND_bytes(d->key, sizeof(d->key)) == 1 ? 0 : -EIO;
	if (rc == 0)
		rc = wrap(m, stream_id, d, true);
	if (rc == 0)
		rc = dk_save(kr, stream_id, v, n + 1);
	if (rc < 0) {
		OPENSSL_cleanse(v, (n + 1) * sizeof(*v));
		free(v);
		return rc;
	}
	if (version_out)
		*version_out = d->version;
	pthread_mutex_lock(&kr->mu);
	struct kr_dkey *old = s ? s->v : NULL;

	if (!s) {
		s = &kr->s[kr->ns++];
		s->id = stream_id;
	}
	s->v = v;
	s->n = n + 1;
	bump(kr);
	pthread_mutex_unlock(&kr->mu);
	if (old) {
		OPENSSL_cleanse(old, n * sizeof(*old));
		free(old);
	}
	return 0;
}

/* Overwrites a file with zeros and fsyncs it before it is unlinked, so its
 * blocks do not keep the wrapped keys (best effort on flash: see README). */
static int dk_erase(struct kr_keyring *kr, const char *name)
{
	static const uint8_t zero[4096];
	struct stat st;
	int fd = openat(kr->dkfd, name, O_WRONLY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	for (off_t off = 0; rc == 0 && off < st.st_size;) {
		size_t n = SL_MIN(sizeof(zero), (size_t)(st.st_size - off));
		ssize_t w = pwrite(fd, zero, n, off);

		if (w <= 0)
			rc = w < 0 ? -errno : -EIO;
		else
			off += w;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (unlinkat(kr->dkfd, name, 0) < 0 && rc == 0)
		rc = -errno;
	if (fsync(kr->dkfd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

int kr_stream_key_destroy(struct kr_keyring *kr, uint64_t stream_id)
{
	struct kr_stream *s = stream_find(kr, stream_id);
	struct kr_dkey *old = NULL;
	uint32_t oldn = 0;
	char name[24];

	/* Memory first: reads fail from every reader's next lookup on. */
	pthread_mutex_lock(&kr->mu);
	if (s) {
		old = s->v;
		oldn = s->n;
		*s = kr->s[--kr->ns];
	}
	bump(kr);
	pthread_mutex_unlock(&kr->mu);
	if (old) {
		OPENSSL_cleanse(old, oldn * sizeof(*old));
		free(old);
	}
	dk_name(stream_id, name);
	return dk_erase(kr, name);
}

int kr_stream_key_info(struct kr_keyring *kr, uint64_t stream_id,
		       uint32_t *version_out, char master_id_out[KR_KEY_ID_SIZE])
{
	const struct kr_stream *s = stream_find(kr, stream_id);

	if (!s || s->n == 0)
		return -ENOKEY;
	if (version_out)
		*version_out = s->v[s->n - 1].version;
	if (master_id_out)
		memcpy(master_id_out, s->v[s->n - 1].master, KR_KEY_ID_SIZE);
	return 0;
}

int kr_data_key_copy(struct kr_keyring *kr, uint64_t stream_id, uint32_t version,
		     uint8_t out[KR_DATA_KEY_BYTES])
{
	const struct kr_dkey *d = dkey_find(kr, stream_id, version);

	if (!d)
		return -ENOKEY;
	memcpy(out, d->key, KR_DATA_KEY_BYTES);
	return 0;
}

/* ---- Open / close ----------------------------------------------------------- */

static int dk_line(struct kr_keyring *kr, struct kr_stream *s, char *line)
{
	char id[KR_KEY_ID_SIZE + 1], hex[2 * KR_WRAP_BYTES + 2];
	unsigned int ver;
	struct kr_dkey *nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
	const struct kr_master *m;

	if (!nv)
		return -ENOMEM;
	s->v = nv;
	struct kr_dkey *d = &s->v[s->n];

	memset(d, 0, sizeof(*d));
	if (sscanf(line, "dk %u %37s %121s", &ver, id, hex) != 3 || ver == 0 ||
	    (s->n && ver <= s->v[s->n - 1].version) || !id_valid(id, strlen(id)) ||
	    hex_dec(hex, d->wrapped, KR_WRAP_BYTES) < 0)
		return -EIO;
	d->version = ver;
	memcpy(d->master, id, KR_KEY_ID_SIZE);
	m = master_find(kr, id);
	if (!m || wrap(m, s->id, d, false) < 0)
		return -EIO;
	s->n++;
	return 0;
}

static int dk_load_one(struct kr_keyring *kr, const char *name)
{
	char *buf, *save = NULL, *line, *end;
	size_t len;
	uint64_t id = strtoull(name, &end, 16);
	int rc;

	if (strlen(name) != 16 || *end)
		return 0; /* a leftover *.tmp of an interrupted write */
	rc = file_get(kr->dkfd, name, &buf, &len);
	if (rc < 0)
		return rc;
	struct kr_stream *ns = realloc(kr->s, (kr->ns + 1) * sizeof(*ns));

	if (!ns) {
		buf_free(buf, len);
		return -ENOMEM;
	}
	kr->s = ns;
	struct kr_stream *s = &kr->s[kr->ns++];

	*s = (struct kr_stream){ .id = id };
	line = strtok_r(buf, "\n", &save);
	rc = (line && strcmp(line, KR_DK_HDR) == 0) ? 0 : -EIO;
	while (rc == 0 && (line = strtok_r(NULL, "\n", &save)) != NULL)
		rc = dk_line(kr, s, line);
	if (rc == 0 && s->n == 0)
		rc = -EIO;
	buf_free(buf, len);
	if (rc < 0)
		SL_ERR("keyring: data keys of stream %016llx are damaged",
		       (unsigned long long)id);
	return rc;
}

static int dk_load(struct kr_keyring *kr)
{
	int fd = dup(kr->dkfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int rc = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (rc == 0 && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			rc = dk_load_one(kr, de->d_name);
	closedir(d);
	return rc;
}

static int dir_open(int at, const char *path)
{
	int fd;

	if (mkdirat(at, path, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* An existing directory may have been made with a wider mode. */
	if (fchmod(fd, 0700) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static int first_key(struct kr_keyring *kr)
{
	struct kr_master k;
	struct kr_alias a = { .name = KR_DEFAULT_ALIAS };
	int rc = master_make(&k);

	memcpy(a.id, k.id, KR_KEY_ID_SIZE);
	if (rc == 0)
		rc = masters_save(kr, &k, 1, &a, 1);
	if (rc == 0)
		rc = masters_load(kr);
	OPENSSL_cleanse(&k, sizeof(k));
	return rc;
}

static int kr_init(struct kr_keyring *kr, const char *dir)
{
	int rc;

	kr->dirfd = dir_open(AT_FDCWD, dir);
	if (kr->dirfd < 0)
		return kr->dirfd;
	kr->dkfd = dir_open(kr->dirfd, KR_DKDIR);
	if (kr->dkfd < 0)
		return kr->dkfd;
	kr->imb = alloc_mb_mgr(0);
	if (!kr->imb)
		return -ENOMEM;
	init_mb_mgr_auto(kr->imb, NULL);
	if (imb_get_errno(kr->imb) != 0)
		return -ENOTSUP;
	rc = masters_load(kr);
	if (rc == -ENOENT)
		rc = first_key(kr);
	if (rc == 0)
		rc = dk_load(kr);
	return rc;
}

struct kr_keyring *kr_open(const char *dir)
{
	struct kr_keyring *kr;
	int rc;

	if (!dir) {
		errno = EINVAL;
		return NULL;
	}
	kr = calloc(1, sizeof(*kr));
	if (!kr) {
		errno = ENOMEM;
		return NULL;
	}
	kr->dirfd = kr->dkfd = -1;
	pthread_mutex_init(&kr->mu, NULL);
	rc = kr_init(kr, dir);
	if (rc < 0) {
		kr_close(kr);
		errno = -rc;
		return NULL;
	}
	return kr;
}

void kr_close(struct kr_keyring *kr)
{
	if (!kr)
		return;
	for (uint32_t i = 0; i < kr->ns; i++) {
		OPENSSL_cleanse(kr->s[i].v, kr->s[i].n * sizeof(*kr->s[i].v));
		free(kr->s[i].v);
	}
	free(kr->s);
	if (kr->m)
		OPENSSL_cleanse(kr->m, kr->nm * sizeof(*kr->m));
	free(kr->m);
	free(kr->a);
	if (kr->imb)
		free_mb_mgr(kr->imb);
	if (kr->dkfd >= 0)
		close(kr->dkfd);
	if (kr->dirfd >= 0)
		close(kr->dirfd);
	pthread_mutex_destroy(&kr->mu);
	free(kr);
}

/* ---- Readers (log lcores) --------------------------------------------------- */

#define KR_RSLOTS 64u

struct kr_rslot {
	struct gcm_key_data xk; /* 64-byte aligned */
	uint64_t stream;
	uint32_t version;
	bool valid;
};

struct kr_rcur {
	uint64_t stream;
	uint32_t version;
	bool valid;
};

struct kr_reader {
	struct kr_rslot slot[KR_RSLOTS];
	struct kr_rcur cur[KR_RSLOTS];
	struct kr_keyring *kr;
	uint64_t gen;
};

static uint32_t slot_of(uint64_t stream, uint32_t version)
{
	uint64_t h = (stream ^ ((uint64_t)version << 40)) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(h >> 58); /* 64 slots */
}

static void reader_wipe(struct kr_reader *r)
{
	for (uint32_t i = 0; i < KR_RSLOTS; i++) {
		if (r->slot[i].valid)
			OPENSSL_cleanse(&r->slot[i].xk, sizeof(r->slot[i].xk));
		r->slot[i].valid = false;
		r->cur[i].valid = false;
	}
}

/* Drops the whole cache when the keyring changed since the last look. */
static void reader_sync(struct kr_reader *r)
{
	uint64_t g = atomic_load_explicit(&r->kr->gen, memory_order_acquire);

	if (g != r->gen) {
		reader_wipe(r);
		r->gen = g;
	}
}

struct kr_reader *kr_reader_new(struct kr_keyring *kr)
{
	size_t sz = (sizeof(struct kr_reader) + 63) & ~(size_t)63;
	struct kr_reader *r = aligned_alloc(64, sz);

	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	memset(r, 0, sizeof(*r));
	r->kr = kr;
	r->gen = atomic_load_explicit(&kr->gen, memory_order_acquire);
	return r;
}

void kr_reader_free(struct kr_reader *r)
{
	if (!r)
		return;
	OPENSSL_cleanse(r, sizeof(*r));
	free(r);
}

int kr_reader_get(void *ctx, uint64_t stream_id, uint32_t version,
		  const void **expanded_key_out)
{
	struct kr_reader *r = ctx;
	struct kr_keyring *kr = r->kr;
	struct kr_rslot *sl;
	const struct kr_dkey *d;

	reader_sync(r);
	sl = &r->slot[slot_of(stream_id, version)];
	if (sl->valid && sl->stream == stream_id && sl->version == version) {
		*expanded_key_out = &sl->xk;
		return 0;
	}
	pthread_mutex_lock(&kr->mu);
	reader_sync(r); /* gen only changes under mu: now consistent */
	d = dkey_find(kr, stream_id, version);
	if (!d) {
		pthread_mutex_unlock(&kr->mu);
		return -ENOKEY;
	}
	IMB_AES256_GCM_PRE(kr->imb, d->key, &sl->xk);
	sl->stream = stream_id;
	sl->version = version;
	sl->valid = true;
	pthread_mutex_unlock(&kr->mu);
	*expanded_key_out = &sl->xk;
	return 0;
}

int kr_reader_current(void *ctx, uint64_t stream_id, uint32_t *version_out,
		      const void **expanded_key_out)
{
	struct kr_reader *r = ctx;
	struct kr_keyring *kr = r->kr;
	struct kr_rcur *c;

	reader_sync(r);
	c = &r->cur[slot_of(stream_id, 0)];
	if (!c->valid || c->stream != stream_id) {
		int rc = 0;

		pthread_mutex_lock(&kr->mu);
		reader_sync(r);
		const struct kr_stream *s = stream_find(kr, stream_id);

		const struct kr_master *m =
			s && s->n ? master_find(kr, s->v[s->n - 1].master) : NULL;

		if (!s || s->n == 0 || !m) {
			/* No data key, or its master is gone: nothing can wrap. */
			rc = -ENOKEY;
		} else if (!m->enabled) {
			rc = -EKEYREVOKED;
		} else {
			c->stream = stream_id;
			c->version = s->v[s->n - 1].version;
			c->valid = true;
		}
		pthread_mutex_unlock(&kr->mu);
		if (rc < 0)
			return rc;
	}
	*version_out = c->version;
	return kr_reader_get(ctx, stream_id, c->version, expanded_key_out);
}
