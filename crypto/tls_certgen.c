/* SPDX-License-Identifier: Apache-2.0 */
/* Local TLS material: a private CA and a server certificate it signs, so
 * `sluiced --data-dir DIR` serves HTTPS out of the box and clients trust it
 * through AWS_CA_BUNDLE=DIR/tls/ca.pem.
 *
 * Every file is published with sl_file_replace (common/file.h): a
 * temporary given its final mode before the bytes go in, fsynced, renamed
 * into place, then the directory fsynced: a crash leaves either the old
 * state or a complete file, never half a key. */
#include "crypto/tls.h"
#include "common/file.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/log.h"

#define CA_DAYS 3650
#define LEAF_DAYS 825
#define BACKDATE_S 300 /* tolerate clients whose clock is a little behind */
#define PATH_MAX_LEN 4096

/* Serialises through a memory BIO so the bytes reach the file in one
 * atomic publish; the BIO holding a private key is wiped before release. */
static int write_pem(const char *path, EVP_PKEY *key, X509 *cert)
{
	BIO *b = BIO_new(BIO_s_secmem());
	char *data = NULL;
	int rc = -ENOMEM;

	if (!b)
		return -ENOMEM;
	if (key ? PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1
		: PEM_write_bio_X509(b, cert) == 1) {
		long n = BIO_get_mem_data(b, &data);
		rc = n > 0 ? sl_file_replace(path, data, (size_t)n, key ? 0600 : 0644)
			   : -EIO;
		if (key && n > 0)
			OPENSSL_cleanse(data, (size_t)n);
	}
	BIO_free(b);
	return rc;
}

static bool add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	if (!ext)
		return false;
	bool ok = X509_add_ext(cert, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/* Common fields: v3, random positive 128-bit serial, validity, names, key. */
static X509 *cert_skeleton(const char *cn, EVP_PKEY *key, X509 *issuer, long days)
{
	unsigned char sn[16];
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	bool ok = x && RAND_bytes(sn, sizeof(sn)) == 1;

	if (ok) {
		sn[0] &= 0x7f; /* DER INTEGER must stay positive */
		sn[0] |= 0x01; /* and non-zero */
		bn = BN_bin2bn(sn, sizeof(sn), NULL);
		ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
		     X509_set_version(x, X509_VERSION_3) == 1 &&
		     X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_S) &&
		     X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) &&
		     X509_set_pubkey(x, key) == 1;
	}
	BN_free(bn);
	X509_NAME *name = ok ? X509_get_subject_name(x) : NULL;
	ok = name && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
						(const unsigned char *)cn, -1, -1, 0) == 1;
	if (ok)
		ok = X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) == 1;
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static X509 *make_ca(EVP_PKEY *key)
{
	X509V3_CTX ctx;
	X509 *x = cert_skeleton("sluice local CA", key, NULL, CA_DAYS);
	if (!x)
		return NULL;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	bool ok = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE") &&
		  add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign") &&
		  add_ext(x, &ctx, NID_subject_key_identifier, "hash") &&
		  add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") &&
		  X509_sign(x, key, EVP_sha256()) > 0;
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* extra_host is an IP literal or a DNS name; wildcard addresses and names
 * already in the SAN are skipped. Returns -EINVAL for anything that is
 * neither (it would otherwise be spliced into the SAN configuration). */
static int san_value(const char *extra_host, char *out, size_t cap)
{
	const char *base = "IP:127.0.0.1,IP:::1,DNS:localhost";
	unsigned char addr[16];
	char host[256];

	snprintf(out, cap, "%s", base);
	if (!extra_host || !*extra_host)
		return 0;
	size_t n = strlen(extra_host);
	if (n >= sizeof(host))
		return -EINVAL;
	memcpy(host, extra_host, n + 1);
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = 0;
	}
	if (inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1) {
		if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::") ||
		    !strcmp(host, "127.0.0.1") || !strcmp(host, "::1"))
			return 0;
		snprintf(out, cap, "%s,IP:%s", base, host);
		return 0;
	}
	for (const char *p = host; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return -EINVAL;
	if (strcasecmp(host, "localhost"))
		snprintf(out, cap, "%s,DNS:%s", base, host);
	return 0;
}

static X509 *make_leaf(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, const char *san)
{
	X509V3_CTX ctx;
	X509 *x = cert_skeleton("localhost", key, ca, LEAF_DAYS);
	if (!x)
		return NULL;
	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	bool ok = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
		  add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") &&
		  add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") &&
		  add_ext(x, &ctx, NID_subject_alt_name, san) &&
		  add_ext(x, &ctx, NID_subject_key_identifier, "hash") &&
		  add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") &&
		  X509_sign(x, ca_key, EVP_sha256()) > 0;
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static X509 *load_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	return x;
}

static EVP_PKEY *load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	return k;
}

/* True when the existing server certificate already names extra_host, so
 * a restart with a different --listen address gets a matching cert. */
static bool leaf_covers(X509 *leaf, const char *extra_host)
{
	unsigned char addr[16];
	if (!extra_host || !*extra_host)
		return true;
	if (inet_pton(AF_INET, extra_host, addr) == 1 || inet_pton(AF_INET6, extra_host, addr) == 1)
		return !strcmp(extra_host, "0.0.0.0") || !strcmp(extra_host, "::") ||
		       X509_check_ip_asc(leaf, extra_host, 0) == 1;
	return X509_check_host(leaf, extra_host, 0, 0, NULL) == 1;
}

struct paths {
	char ca_pem[PATH_MAX_LEN], ca_key[PATH_MAX_LEN];
	char srv_pem[PATH_MAX_LEN], srv_key[PATH_MAX_LEN];
};

static int make_paths(const char *dir, struct paths *p)
{
	if ((size_t)snprintf(p->ca_pem, PATH_MAX_LEN, "%s/ca.pem", dir) >= PATH_MAX_LEN - 8 ||
	    (size_t)snprintf(p->ca_key, PATH_MAX_LEN, "%s/ca.key", dir) >= PATH_MAX_LEN - 8 ||
	    (size_t)snprintf(p->srv_pem, PATH_MAX_LEN, "%s/server.pem", dir) >= PATH_MAX_LEN - 8 ||
	    (size_t)snprintf(p->srv_key, PATH_MAX_LEN, "%s/server.key", dir) >= PATH_MAX_LEN - 8)
		return -ENAMETOOLONG;
	return 0;
}

/* Loads the CA, or creates it (and reports that the leaf must be reissued). */
static int ensure_ca(const struct paths *p, X509 **ca, EVP_PKEY **ca_key, bool *created)
{
	*created = false;
	if (exists(p->ca_pem) && exists(p->ca_key)) {
		*ca = load_cert(p->ca_pem);
		*ca_key = load_key(p->ca_key);
		if (!*ca || !*ca_key || X509_check_private_key(*ca, *ca_key) != 1)
			return -EINVAL;
		return 0;
	}
	*ca_key = EVP_EC_gen("P-256");
	*ca = *ca_key ? make_ca(*ca_key) : NULL;
	if (!*ca)
		return -ENOMEM;
	int rc = write_pem(p->ca_key, *ca_key, NULL);
	if (!rc)
		rc = write_pem(p->ca_pem, NULL, *ca);
	*created = rc == 0;
	if (!rc)
		SL_INFO("tls: created local CA %s", p->ca_pem);
	return rc;
}

static int ensure_leaf(const struct paths *p, X509 *ca, EVP_PKEY *ca_key, const char *extra_host,
		       bool force)
{
	char san[512];
	int rc = san_value(extra_host, san, sizeof(san));
	if (rc)
		return rc;
	if (!force && exists(p->srv_pem) && exists(p->srv_key)) {
		X509 *old = load_cert(p->srv_pem);
		bool ok = old && leaf_covers(old, extra_host);
		X509_free(old);
		if (ok)
			return 0;
	}
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *leaf = key ? make_leaf(key, ca, ca_key, san) : NULL;
	rc = leaf ? write_pem(p->srv_key, key, NULL) : -ENOMEM;
	if (!rc)
		rc = write_pem(p->srv_pem, NULL, leaf);
	if (!rc)
		SL_INFO("tls: issued server certificate %s (SAN %s)", p->srv_pem, san);
	X509_free(leaf);
	EVP_PKEY_free(key);
	return rc;
}

int tls_material_ensure(const char *dir, const char *extra_host)
{
	struct paths *p;
	X509 *ca = NULL;
	EVP_PKEY *ca_key = NULL;
	bool created;
	int rc;

	if (!dir || !*dir)
		return -EINVAL;
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	rc = make_paths(dir, p);
	if (!rc)
		rc = ensure_ca(p, &ca, &ca_key, &created);
	if (!rc)
		rc = ensure_leaf(p, ca, ca_key, extra_host, created);
	if (rc && rc != -EINVAL)
		SL_ERR("tls: cannot prepare TLS material in %s: %s", dir, strerror(-rc));
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	free(p);
	ERR_clear_error();
	return rc;
}
