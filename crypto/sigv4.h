/* SPDX-License-Identifier: Apache-2.0 */
/* AWS Signature Version 4 verification (AWS4-HMAC-SHA256, Authorization
 * header and presigned query-string forms) and the shared-credentials file that holds the secrets.
 *
 * Threading: a keyring is immutable after load and shared by all lcores; a
 * verifier (which caches derived signing keys per key/date/region/service) is
 * owned by one lcore. Secrets are never logged. */
#ifndef SL_CRYPTO_SIGV4_H
#define SL_CRYPTO_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bug.h"

#include "common/slice.h"

struct sigv4_keyring;
struct sigv4_verifier;

/* Loads an AWS shared-credentials file (INI: [profile] sections with
 * aws_access_key_id / aws_secret_access_key). When the file is absent and
 * create is true, writes one with a [default] profile holding a random
 * 20-character key id (AKIA...) and a random 40-character secret, mode 0600.
 * Returns NULL and sets errno on failure (ENOENT, EINVAL for a malformed file,
 * EPERM when an existing file is readable by group/other). */
struct sigv4_keyring *sigv4_keyring_load(const char *path, bool create);
void sigv4_keyring_free(struct sigv4_keyring *kr);
/* Number of credentials loaded. */
uint32_t sigv4_keyring_count(const struct sigv4_keyring *kr);

/* Adds a fresh random credential for sluiced's own client threads (the
 * mirror, channel delivery): a 20-character key id (SLIN...) and a
 * 40-character secret, written into id_out / secret_out (NUL-terminated)
 * and nowhere else: never to a file, never logged. Requests it signs are
 * verified like any other and marked sigv4_identity.internal. Call before
 * the first verifier is created (the keyring is immutable afterwards).
 * Returns 0, -ENOSPC (SIGV4_MAX_CREDS keys already), -EIO (no
 * randomness), -EEXIST (a profile holds the drawn id: try again). The
 * caller wipes secret_out once it has made its signer. */
#define SIGV4_INTERNAL_ID_LEN 20
#define SIGV4_INTERNAL_SECRET_LEN 40
int SL_MUST_CHECK sigv4_keyring_add_internal(struct sigv4_keyring *kr,
					     char id_out[SIGV4_INTERNAL_ID_LEN + 1],
					     char secret_out[SIGV4_INTERNAL_SECRET_LEN + 1]);

/* region: the one region this server serves (1..SIGV4_REGION_MAX bytes);
 * a credential scope naming any other is refused. Returns NULL and sets
 * errno: EINVAL (no keyring, empty or over-long region), ENOMEM. kr must
 * outlive it. */
#define SIGV4_REGION_MAX 63
struct sigv4_verifier *sigv4_verifier_new(const struct sigv4_keyring *kr, const char *region);
void sigv4_verifier_free(struct sigv4_verifier *v);

struct sigv4_request {
	struct sl_slice method;	  /* "POST" */
	struct sl_slice path;	  /* request-target before '?', e.g. "/" */
	struct sl_slice query;	  /* after '?', may be empty */
	const struct sl_header *hdrs;
	uint32_t nhdrs;
	const uint8_t *body;
	size_t body_len;
	int64_t now_s; /* wall clock, epoch seconds */
};

struct sigv4_identity {
	char access_key[129];
	char region[64];
	char service[64];
	bool internal; /* signed with sigv4_keyring_add_internal's credential */
};

struct sigv4_error {
	uint16_t http_status; /* 400 or 403, as AWS answers */
	const char *type;     /* e.g. "InvalidSignatureException" */
	char message[1024];   /* AWS's wording; never contains the secret */
};

/* Verifies req. Returns 0 and fills id on success; otherwise -EACCES and fills
 * err with the error AWS returns for that case:
 *   no Authorization header and no
 *   X-Amz-Algorithm query parameter     MissingAuthenticationTokenException
 *   both                                InvalidSignatureException ("Found both ...")
 *   presigned parameters missing/empty  IncompleteSignatureException ("AWS query-string
 *                                       parameters must include '...'. ...")
 *   presigned and past X-Amz-Date +
 *   X-Amz-Expires                       InvalidSignatureException ("Signature expired: ...")
 *   malformed / missing components      IncompleteSignatureException
 *   unknown access key                  UnrecognizedClientException
 *   X-Amz-Date off by more than 5 min   InvalidSignatureException ("Signature expired: ...")
 *   signature mismatch                  InvalidSignatureException
 * All are HTTP 400 (Kinesis JSON protocol). Also, in AWS's wording:
 *   no X-Amz-Date/Date, unparsable date, Credential not 5 elements,
 *   unknown algorithm                   IncompleteSignatureException
 *   scope service not "kinesis", terminator not aws4_request, scope date !=
 *   request date, scope region not the verifier's ("Credential should be
 *   scoped to a valid region, not '...'. "), host/:authority not signed
 *                                       InvalidSignatureException
 *   X-Amz-Security-Token sent for a key without aws_session_token, a wrong
 *   token, or none for a key with one  UnrecognizedClientException
 * and (our wording, AWS's not recorded) Content-Type or an x-amz-* header
 * present but not in SignedHeaders: InvalidSignatureException "'<name>' must
 * be a 'SignedHeader' in the AWS Authorization." id->region is the
 * verifier's region. When x-amz-content-sha256 is present it must equal
 * the body's SHA-256 (else a signature mismatch), so a captured signature
 * cannot be replayed with another body; UNSIGNED-PAYLOAD is refused.
 * Hot path: no malloc (fixed-size scratch in the verifier; signing keys are
 * cached per key/date/region/service, 16 slots, round robin). */
int SL_MUST_CHECK sigv4_verify(struct sigv4_verifier *v, const struct sigv4_request *req,
		 struct sigv4_identity *id, struct sigv4_error *err);

/* The part of sigv4_verify that needs no body: every check above except the
 * signature itself (and the x-amz-content-sha256 comparison), with the same
 * errors in the same order. req->body is not read. The connection layer calls
 * it once a request's head is complete, so an unauthenticated client is
 * refused before its body is buffered; sigv4_verify still runs on the whole
 * request. Returns 0 or -EACCES with err filled. No malloc, no HMAC. */
int SL_MUST_CHECK sigv4_check_head(struct sigv4_verifier *v, const struct sigv4_request *req,
		     struct sigv4_error *err);

/* Parsed Authorization header (exposed for the fuzz target and tests). */
struct sigv4_auth {
	struct sl_slice access_key, date, region, service, terminal;
	struct sl_slice signed_headers; /* "host;x-amz-date;..." */
	struct sl_slice signature;	/* 64 lowercase hex chars */
};

/* Parses "AWS4-HMAC-SHA256 Credential=.../date/region/service/aws4_request,
 * SignedHeaders=..., Signature=...". Returns 0 or -EINVAL; on -EINVAL *why
 * (may be NULL) points at a static description usable in the error message. */
int SL_MUST_CHECK sigv4_parse_auth(struct sl_slice value, struct sigv4_auth *out, const char **why);

/* ---- Presigned (query-string) authentication ---------------------------
 * The same signature carried in the query instead of an Authorization
 * header: X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders,
 * X-Amz-Signature, optionally X-Amz-Expires (1..604800 seconds; without it
 * the header form's 5-minute window applies) and X-Amz-Security-Token. The
 * canonical query string is every parameter but X-Amz-Signature; the payload
 * hash is the body's, as for a signed header (botocore's SigV4QueryAuth). The
 * region, service, Host and header-signing rules are the header form's.
 * A request naming X-Amz-Algorithm in its query is a presigned one, even
 * without a value (AWS answers it with the list of missing parameters). */
#define SIGV4_Q_ALGORITHM (1u << 0)
#define SIGV4_Q_CREDENTIAL (1u << 1)
#define SIGV4_Q_SIGNATURE (1u << 2)
#define SIGV4_Q_SIGNED_HEADERS (1u << 3)
#define SIGV4_Q_DATE (1u << 4)
#define SIGV4_Q_TOKEN_MAX 2048 /* as the keyring's aws_session_token */

/* The query's authentication parameters, percent-decoded and NUL-terminated
 * (a value that does not fit its buffer, or decodes to a NUL, is refused). */
struct sigv4_query_auth {
	uint32_t missing; /* SIGV4_Q_* of required parameters absent or empty */
	bool has_expires, has_token;
	char algorithm[32];
	char credential[512];
	char date[32];
	char expires[24];
	char signed_headers[1024];
	char signature[128];
	char token[SIGV4_Q_TOKEN_MAX + 1];
};

/* Reads the presigned parameters of query (raw, after '?'). Returns 1 when
 * the query names X-Amz-Algorithm (out filled; out->missing lists what is
 * absent or empty), 0 when it does not (not a presigned request), -E2BIG
 * when a value does not fit its buffer, -EINVAL when one decodes to a NUL
 * or a parameter is given twice. Reads at most query.len bytes; no malloc. */
int SL_MUST_CHECK sigv4_parse_query_auth(struct sl_slice query, struct sigv4_query_auth *out);

/* ---- Signing (client side; used by the load generator in perf/) ------- */

struct sigv4_signer;

#define SIGV4_SIGN_MAX_HEADERS 32
#define SIGV4_SIGN_MAX_QUERY 64
#define SIGV4_SIGN_SCRATCH_BYTES 8192 /* canonical request, without the body */

/* A signer holds one credential and scope (region, service), OpenSSL
 * contexts and the derived signing key cached for the current date. Owned by
 * one thread. Returns NULL and sets errno: EINVAL for an empty or over-long
 * (> 128 bytes key/secret, > 63 region/service) argument, ENOMEM. */
struct sigv4_signer *sigv4_signer_new(const char *access_key, const char *secret,
				      const char *region, const char *service);
void sigv4_signer_free(struct sigv4_signer *s);

/* Writes now_s as the X-Amz-Date value "YYYYMMDDTHHMMSSZ" plus a NUL. */
void sigv4_amz_date(int64_t now_s, char out[17]);

/* Writes the lowercase hex SHA-256 of data plus a NUL. Returns 0 or -EIO. */
int SL_MUST_CHECK sigv4_sha256_hex(struct sigv4_signer *s, const void *data, size_t len, char out[65]);

/* Signs req the way botocore does and writes the Authorization header value
 * (NUL-terminated) into out. Every header in req->hdrs is signed except
 * Authorization, User-Agent, Expect and X-Amzn-Trace-Id; the caller must
 * include Host and an X-Amz-Date equal to sigv4_amz_date(req->now_s).
 * For service "s3" the canonical URI is req->path as given (already
 * URI-encoded once by the caller, not normalised), as S3 wants; other
 * services get the double encoding and normalisation of sv_canonical_uri.
 * payload_sha256_hex is the body's hash (64 hex chars), or NULL to hash
 * req->body here (pass a pre-computed hash when bodies are reused).
 * Returns the length written, or -EINVAL (no Host header), -E2BIG (more than
 * SIGV4_SIGN_MAX_HEADERS headers or SIGV4_SIGN_MAX_QUERY query parameters,
 * canonical request over SIGV4_SIGN_SCRATCH_BYTES, or out too small), -EIO
 * (OpenSSL failure). No malloc. */
int SL_MUST_CHECK sigv4_sign(struct sigv4_signer *s, const struct sigv4_request *req,
	       const char *payload_sha256_hex, char *out, size_t cap);

#endif
