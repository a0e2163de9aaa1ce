/* SPDX-License-Identifier: Apache-2.0 */
/* Private to crypto/sigv4.c and its tests: the keyring layout and the
 * extended Authorization parser used to build AWS's exact error texts. */
#ifndef SL_CRYPTO_SIGV4_INTERNAL_H
#define SL_CRYPTO_SIGV4_INTERNAL_H

#include <stdint.h>

#include <stddef.h>

#include <stdbool.h>

#include "common/slice.h"
#include "crypto/sigv4.h"

#define SIGV4_KEYID_MAX 128	  /* fits sigv4_identity.access_key */
#define SIGV4_SECRET_MAX 128
#define SIGV4_MAX_CREDS 64	  /* profiles kept from one file */
#define SIGV4_CRED_FILE_MAX (64 * 1024)
/* aws_session_token: STS tokens run to about 1,000 characters today; room
 * for growth. A profile holding one is a session credential: requests with
 * its key must carry exactly this X-Amz-Security-Token. */
#define SIGV4_TOKEN_MAX 2048
#define SIGV4_CRED_LINE_MAX (SIGV4_TOKEN_MAX + 64)
#define SIGV4_CRED_LINES_MAX 4096

struct sigv4_cred {
	uint32_t id_len;
	uint32_t secret_len;
	char id[SIGV4_KEYID_MAX + 1];
	uint8_t secret[SIGV4_SECRET_MAX + 1];
	uint32_t token_len; /* 0: long-term key, no token accepted */
	char token[SIGV4_TOKEN_MAX + 1];
	bool internal; /* sigv4_keyring_add_internal's: sluiced's own threads */
};

struct sigv4_keyring {
	uint32_t n;
	struct sigv4_cred creds[SIGV4_MAX_CREDS];
};

/* Bits of *missing filled by sigv4_parse_auth_ex (and the verifier). */
#define SIGV4_MISSING_CREDENTIAL (1u << 0)
#define SIGV4_MISSING_SIGNATURE (1u << 1)
#define SIGV4_MISSING_SIGNED_HEADERS (1u << 2)
#define SIGV4_MISSING_DATE (1u << 3)

/* sigv4_parse_auth plus which components are missing and the raw Credential
 * value (for the "got '...'" message). Same return convention. */
int sigv4_parse_auth_ex(struct sl_slice value, struct sigv4_auth *out, uint32_t *missing,
			struct sl_slice *credential, const char **why);


/* Byte-level rules shared by the verifier (sigv4.c) and the signer
 * (sigv4_sign.c): one definition, so both canonicalise alike. */
static inline char sv_hexc(unsigned v, bool upper)
{
	return (upper ? "0123456789ABCDEF" : "0123456789abcdef")[v & 15];
}

/* Lower-case hex of in[0..n) into out[0..2n). */
static inline void sv_hex_encode(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = sv_hexc(in[i] >> 4, false);
		out[2 * i + 1] = sv_hexc(in[i], false);
	}
}

static inline int sv_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* RFC 3986 unreserved characters: never percent-encoded by SigV4. */
static inline bool sv_unreserved(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '~';
}

/* Output of the canonicalisers: n bytes at p, appended to whatever the
 * caller builds (the verifier a streaming hash, the signer its scratch). */
typedef void (*sv_put_fn)(void *ctx, const void *p, size_t n);

/* The canonical URI of a non-S3 request, the one definition for the
 * verifier (sigv4.c) and the signer (sigv4_sign.c). Services other than S3
 * sign the URI-encoding of the path as sent on the wire (clients encode
 * once, the signer encodes again), after removing empty and "." segments
 * and letting ".." drop the segment before it, as botocore's
 * normalize_url_path does: "/a/./b/../c//" -> "/a/c/". A trailing '/' is
 * kept when a segment is. Each kept byte outside RFC 3986's unreserved set
 * is written %XX (upper-case hex). seg[0..seg_cap) is the caller's scratch
 * for the kept segments. Returns 0, or -E2BIG when more than seg_cap
 * segments are kept at once (nothing useful has been written then). */
int sv_canonical_uri(struct sl_slice path, struct sl_slice *seg, uint32_t seg_cap, sv_put_fn put,
		     void *ctx);

#endif
