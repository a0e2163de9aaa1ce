/* SPDX-License-Identifier: Apache-2.0 */
/* StartStreamEncryption and StopStreamEncryption. Every stream is sealed at
 * rest under its own data key whatever these say (CreateStream makes one
 * under the default master key); Start rotates the data key to one wrapped
 * under the master key KeyId names, Stop rotates back to the default key.
 * What Kinesis reports (EncryptionType, KeyId as the caller gave it) is
 * stored in the table stream_kms. Runs on the control thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "controlplane/cp_internal.h"
#include "crypto/keyring.h"

/* The model's enum, in its order (botocore kinesis service-2.json). */
static const char *const cp_enc_types[2] = { "NONE", "KMS" };
enum { CP_ENC_KMS = 1 };

struct cp_enc {
	bool has_type, has_key;
	int32_t type;
	uint32_t key_cp;
	char type_s[64];
	char key[4 * CP_KEY_ID_CAP]; /* 2048 code points of UTF-8 */
};

/* Type pass in the model's member order, then the constraint pass. */
static int cp_enc_decode(struct cp_req *r, struct cp_enc *e)
{
	struct av *v = &r->v;
	int32_t root = av_root(v);

	r->has_name = av_get_str(v, root, "StreamName", r->name, sizeof(r->name), &r->name_cp);
	e->has_type = av_get_enum(v, root, "EncryptionType", cp_enc_types, 2, &e->type,
				  e->type_s, sizeof(e->type_s));
	e->has_key = av_get_str(v, root, "KeyId", e->key, sizeof(e->key), &e->key_cp);
	r->has_arn = av_get_str(v, root, "StreamARN", r->arn, sizeof(r->arn), &r->arn_cp);
	if (!v->ser && !v->bad_json) {
		if (r->has_name)
			cp_check_name(r, "streamName", r->name, r->name_cp);
		av_not_null(v, "encryptionType", e->has_type);
		if (e->has_type)
			av_enum(v, "encryptionType", e->type_s, e->type, cp_enc_types, 2);
		av_not_null(v, "keyId", e->has_key);
		if (e->has_key)
			av_len(v, "keyId", e->key, e->key_cp, 1, KR_KEY_REF_MAX);
		cp_check_arn(r);
	}
	if (av_finish(v, &r->err) == 0)
		return 0;
	cp_reply_err(r->call, &r->err);
	return -1;
}

/* The KMS ARN of a KeyId argument, as KMS prints it in messages. */
static void cp_kms_arn(struct cp_req *r, const char *ref, char *out, size_t cap)
{
	if (strncmp(ref, "arn:", 4) == 0)
		snprintf(out, cap, "%s", ref);
	else if (strncmp(ref, "alias/", 6) == 0)
		snprintf(out, cap, "arn:aws:kms:%s:%s:%s", r->call->region, r->cp->account_id,
			 ref);
	else
		snprintf(out, cap, "arn:aws:kms:%s:%s:key/%s", r->call->region,
			 r->cp->account_id, ref);
}

/* Keyring errors as Kinesis passes KMS's on. Texts are KMS's (NotFound:
 * botocore issue #2107 "Key 'arn:...:key/ID' does not exist"; the alias
 * and disabled texts are KMS's wording as we know it, not recorded through
 * Kinesis). */
static void cp_kms_fail(struct cp_req *r, const char *ref, int rc)
{
	char arn[CP_KEY_ID_CAP + 160], id[KR_KEY_ID_SIZE];

	cp_kms_arn(r, ref, arn, sizeof(arn));
	if (rc == -ENOENT && (strncmp(ref, "alias/", 6) == 0 || strstr(ref, ":alias/")))
		cp_fail(r, 400, "KMSNotFoundException", "Alias %s is not found.", arn);
	else if (rc == -ENOENT)
		cp_fail(r, 400, "KMSNotFoundException", "Key '%s' does not exist", arn);
	else if (rc == -EINVAL || rc == -ENAMETOOLONG)
		cp_fail(r, 400, "KMSNotFoundException", "Invalid keyId %s", ref);
	else if (rc == -EKEYREVOKED && r->cp->cfg.kr &&
		 kr_resolve(r->cp->cfg.kr, ref, strlen(ref), id) == 0)
		cp_fail(r, 400, "KMSDisabledException", "arn:aws:kms:%s:%s:key/%s is disabled.",
			r->call->region, r->cp->account_id, id);
	else if (rc == -EKEYREVOKED)
		cp_fail(r, 400, "KMSDisabledException", "%s is disabled.", arn);
	else
		cp_internal(r);
}

/* New data key version of the stream under ref (NULL: the default key). */
static int cp_enc_rotate(struct cp_req *r, const char *ref)
{
	struct kr_keyring *kr = r->cp->cfg.kr;
	uint32_t ver = 0;
	int rc;

	if (kr == NULL)
		return 0; /* unit tests without a keyring: record only */
	/* A KeyId longer than any the keyring stores cannot name a key. */
	rc = ref && strlen(ref) >= CP_KEY_ID_CAP ? -ENOENT
						  : kr_stream_key_new(kr, r->s.id, ref, &ver);
	if (rc == 0) {
		SL_INFO("stream %s: data key version %u under %s", r->s.name, ver,
			ref ? "the requested key" : KR_DEFAULT_ALIAS);
		return 0;
	}
	if (rc != -ENOENT && rc != -EINVAL && rc != -EKEYREVOKED)
		SL_ERR("stream %s: data key rotation: %s", r->s.name, strerror(-rc));
	cp_kms_fail(r, ref ? ref : KR_DEFAULT_ALIAS, rc);
	return -1;
}

void cp_stream_encryption(struct cp_req *r, bool start)
{
	struct cp_enc *e = calloc(1, sizeof(*e));
	uint32_t delay = r->cp->cfg.create_delay_ms;

	if (e == NULL) {
		cp_internal(r);
		return;
	}
	if (cp_enc_decode(r, e) || cp_resolve(r))
		goto out;
	if (e->type != CP_ENC_KMS) {
		/* Not recorded from Kinesis (kinesis-mock's wording). */
		cp_fail(r, 400, "InvalidArgumentException", "%s",
			"KMS is the only valid EncryptionType for this request");
		goto out;
	}
	if (cp_require_active(r) || cp_enc_rotate(r, start ? e->key : NULL))
		goto out;
	/* UPDATING for create_delay_ms, then ACTIVE (the lifecycle timers). */
	if (cp_store_set_encryption(r->cp->st, r->s.name, start ? e->key : NULL,
				    delay ? CP_UPDATING : CP_ACTIVE,
				    delay ? sl_wall_ms() + delay : 0))
		cp_internal(r);
	else
		cp_ok_empty(r);
out:
	free(e);
}
