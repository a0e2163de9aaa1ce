/* SPDX-License-Identifier: Apache-2.0 */
/* Control plane: enhanced fan-out consumers (Register/Deregister/Describe/
 * ListStreamConsumers, DeleteStream with consumers, lifecycles, the routing
 * table's consumer lookup) and Start/StopStreamEncryption with a real
 * keyring (KMSNotFound / KMSDisabled, DescribeStream's EncryptionType). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <rte_eal.h>

#include "controlplane/cp_internal.h"
#include "crypto/keyring.h"

#define ACCT "000000000000"
#define SARN "arn:aws:kinesis:us-east-1:" ACCT ":stream/s"

static char g_dir[256];
/* Created in main, shared by every test (see there). */
static struct ctl_queue *g_ctl;
static struct route_rcu *g_routes;
static char *g_out;
#define OUT_CAP (1u << 20)

static struct cp *open_cp(uint32_t create_ms, uint32_t delete_ms, struct kr_keyring *kr)
{
	struct cp_config cfg = {
		.data_dir = g_dir, .account_id = ACCT, .create_delay_ms = create_ms,
		.delete_delay_ms = delete_ms, .shard_limit = 200, .stream_limit = 50,
		.ctl = g_ctl, .routes = g_routes, .kr = kr,
	};
	struct cp *cp = cp_open(&cfg);

	assert_non_null(cp);
	return cp;
}

static uint16_t run(struct cp *cp, enum api_op op, const char *body)
{
	struct ctl_call *c = calloc(1, sizeof(*c));
	uint16_t st;

	c->op = op;
	snprintf(c->region, sizeof(c->region), "us-east-1");
	c->body = strdup(body);
	c->body_len = (uint32_t)strlen(body);
	cp_execute(cp, c);
	st = c->status;
	assert_non_null(c->resp);
	assert_true(c->resp_len < OUT_CAP);
	memcpy(g_out, c->resp, c->resp_len);
	g_out[c->resp_len] = '\0';
	ctl_call_free(c);
	return st;
}

static void ok(struct cp *cp, enum api_op op, const char *body)
{
	uint16_t st = run(cp, op, body);

	if (st != 200)
		fail_msg("%s -> %u %s", body, st, g_out);
}

static void expect_err(struct cp *cp, enum api_op op, const char *body, const char *type,
		       const char *msg)
{
	char want[4600];

	assert_int_equal(run(cp, op, body), 400);
	snprintf(want, sizeof(want), "{\"__type\":\"%s\",\"message\":\"%s\"}", type, msg);
	assert_string_equal(g_out, want);
}

static void has(const char *needle)
{
	if (strstr(g_out, needle) == NULL)
		fail_msg("missing %s in %s", needle, g_out);
}

static void fresh_dir(void)
{
	snprintf(g_dir, sizeof(g_dir), "/tmp/consumers_test_XXXXXX");
	assert_non_null(mkdtemp(g_dir));
}

static void rm_dir(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
	assert_int_equal(system(cmd), 0);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The ConsumerARN of the last answer. */
static void out_arn(char *arn, size_t cap)
{
	const char *p = strstr(g_out, "\"ConsumerARN\":\"");

	assert_non_null(p);
	p += strlen("\"ConsumerARN\":\"");
	size_t n = (size_t)(strchr(p, '"') - p);
	assert_true(n < cap);
	memcpy(arn, p, n);
	arn[n] = '\0';
}

static void register_c(struct cp *cp, const char *name, char *arn, size_t cap)
{
	char body[512];

	snprintf(body, sizeof(body), "{\"StreamARN\":\"%s\",\"ConsumerName\":\"%s\"}", SARN, name);
	ok(cp, API_OP_REGISTER_CONSUMER, body);
	if (arn)
		out_arn(arn, cap);
}

/* --- consumers --- */

static void test_register_describe_route(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_cp(0, 0, NULL);
	char arn[CP_CONSUMER_ARN_CAP], body[1024], prefix[256];

	ok(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":1}");
	register_c(cp, "c1", arn, sizeof(arn));
	has("{\"Consumer\":{\"ConsumerName\":\"c1\",\"ConsumerARN\":\"" SARN "/consumer/c1:");
	has("\"ConsumerStatus\":\"ACTIVE\",\"ConsumerCreationTimestamp\":");
	snprintf(prefix, sizeof(prefix), "%s/consumer/c1:", SARN);
	assert_memory_equal(arn, prefix, strlen(prefix));

	/* the routing table knows the ACTIVE consumer */
	const struct route_table *rt = route_get(g_routes);
	const struct route_consumer *rc = route_consumer_find(rt, arn, strlen(arn));
	assert_non_null(rc);
	assert_string_equal(rc->stream_name, "s");
	assert_string_equal(rc->name, "c1");
	assert_int_equal(rc->stream_id, route_stream_find(rt, "s", 1)->id);
	assert_null(route_consumer_find(rt, arn, strlen(arn) - 1));
	assert_null(route_consumer_find(rt, SARN, strlen(SARN)));

	snprintf(body, sizeof(body), "{\"ConsumerARN\":\"%s\"}", arn);
	ok(cp, API_OP_DESCRIBE_CONSUMER, body);
	has("{\"ConsumerDescription\":{\"ConsumerName\":\"c1\",\"ConsumerARN\":");
	has("\"StreamARN\":\"" SARN "\"}}");
	ok(cp, API_OP_DESCRIBE_CONSUMER, "{\"StreamARN\":\"" SARN "\",\"ConsumerName\":\"c1\"}");
	has(arn);
	ok(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}");
	has("\"ConsumerCount\":1,");

	expect_err(cp, API_OP_REGISTER_CONSUMER, "{\"StreamARN\":\"" SARN "\",\"ConsumerName\":"
		   "\"c1\"}", "ResourceInUseException",
		   "Consumer c1 under stream s already exists for account " ACCT ".");

	/* deregister by ARN: gone from the store and the table */
	ok(cp, API_OP_DEREGISTER_CONSUMER, body);
	assert_string_equal(g_out, ""); /* no output: an empty body */
	assert_null(route_consumer_find(route_get(g_routes), arn, strlen(arn)));
	expect_err(cp, API_OP_DESCRIBE_CONSUMER, body, "ResourceNotFoundException",
		   "Consumer c1 under stream s and account " ACCT " not found.");
	ok(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}");
	has("\"ConsumerCount\":0,");
	cp_stop(cp);
	rm_dir();
}

static void test_consumer_errors(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_cp(0, 0, NULL);

	ok(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":1}");
	expect_err(cp, API_OP_REGISTER_CONSUMER, "{\"StreamARN\":\"" SARN "\"}",
		   "ValidationException", "1 validation error detected: Value null at "
		   "'consumerName' failed to satisfy constraint: Member must not be null");
	expect_err(cp, API_OP_REGISTER_CONSUMER, "{\"ConsumerName\":\"a b\"}",
		   "ValidationException", "2 validation errors detected: Value null at "
		   "'streamARN' failed to satisfy constraint: Member must not be null; Value "
		   "'a b' at 'consumerName' failed to satisfy constraint: Member must satisfy "
		   "regular expression pattern: [a-zA-Z0-9_.-]+");
	expect_err(cp, API_OP_REGISTER_CONSUMER, "{\"StreamARN\":\"" SARN "x\",\"ConsumerName\":"
		   "\"c\"}", "ResourceNotFoundException",
		   "Stream sx under account " ACCT " not found.");
	expect_err(cp, API_OP_DESCRIBE_CONSUMER, "{\"ConsumerName\":\"c\"}",
		   "InvalidArgumentException", "ConsumerArn or both ConsumerName and StreamARN "
		   "are required for this request.");
	expect_err(cp, API_OP_DEREGISTER_CONSUMER, "{\"ConsumerARN\":\"" SARN "/c:1\"}",
		   "ValidationException", "1 validation error detected: Value '" SARN "/c:1' at "
		   "'consumerARN' failed to satisfy constraint: Member must satisfy regular "
		   "expression pattern: ^(arn):aws.*:kinesis:.*:\\\\d{12}:.*stream\\\\/"
		   "[a-zA-Z0-9_.-]+\\\\/consumer\\\\/[a-zA-Z0-9_.-]+:[0-9]+");
	expect_err(cp, API_OP_DESCRIBE_CONSUMER, "{\"ConsumerARN\":\"" SARN "/consumer/zz:5\"}",
		   "ResourceNotFoundException",
		   "Consumer zz under stream s and account " ACCT " not found.");
	expect_err(cp, API_OP_LIST_CONSUMERS, "{\"MaxResults\":0}", "ValidationException",
		   "2 validation errors detected: Value null at 'streamARN' failed to satisfy "
		   "constraint: Member must not be null; Value '0' at 'maxResults' failed to "
		   "satisfy constraint: Member must have value greater than or equal to 1");
	expect_err(cp, API_OP_LIST_CONSUMERS, "{\"StreamARN\":\"" SARN "\",\"NextToken\":\"zz\"}",
		   "InvalidArgumentException", "Invalid NextToken.");

	/* 20 per stream */
	char name[16];
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "c%02d", i);
		register_c(cp, name, NULL, 0);
	}
	expect_err(cp, API_OP_REGISTER_CONSUMER, "{\"StreamARN\":\"" SARN "\",\"ConsumerName\":"
		   "\"more\"}", "LimitExceededException",
		   "Only 20 consumers can be registered to a stream at once");
	assert_int_equal(route_get(g_routes)->n_consumers, 20);
	cp_stop(cp);
	rm_dir();
}

static void test_list_pages(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_cp(0, 0, NULL);
	char body[1024], token[700];

	ok(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":1}");
	ok(cp, API_OP_LIST_CONSUMERS, "{\"StreamARN\":\"" SARN "\"}");
	assert_string_equal(g_out, "{\"Consumers\":[]}");
	register_c(cp, "b", NULL, 0);
	register_c(cp, "a", NULL, 0);
	register_c(cp, "c", NULL, 0);
	ok(cp, API_OP_LIST_CONSUMERS, "{\"StreamARN\":\"" SARN "\",\"MaxResults\":2}");
	has("{\"Consumers\":[{\"ConsumerName\":\"a\"");
	has("},{\"ConsumerName\":\"b\"");
	assert_null(strstr(g_out, "\"ConsumerName\":\"c\""));
	const char *t = strstr(g_out, "\"NextToken\":\"");
	assert_non_null(t);
	t += strlen("\"NextToken\":\"");
	snprintf(token, sizeof(token), "%.*s", (int)(strchr(t, '"') - t), t);
	snprintf(body, sizeof(body), "{\"StreamARN\":\"%s\",\"NextToken\":\"%s\"}", SARN, token);
	ok(cp, API_OP_LIST_CONSUMERS, body);
	has("{\"Consumers\":[{\"ConsumerName\":\"c\"");
	assert_null(strstr(g_out, "NextToken"));

	/* DeleteStream with consumers */
	expect_err(cp, API_OP_DELETE_STREAM, "{\"StreamName\":\"s\"}", "ResourceInUseException",
		   "DeleteStream can't delete " SARN " because there are consumers associated "
		   "with this data stream. To delete s anyway, set the EnforceConsumerDeletion "
		   "parameter to true to force the deletion of all the consumers that are "
		   "associated with it.");
	ok(cp, API_OP_DELETE_STREAM, "{\"StreamName\":\"s\",\"EnforceConsumerDeletion\":true}");
	assert_int_equal(route_get(g_routes)->n_consumers, 0);
	/* the token belongs to the deleted incarnation */
	ok(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":1}");
	expect_err(cp, API_OP_LIST_CONSUMERS, body, "ExpiredNextTokenException",
		   "The NextToken has expired.");
	ok(cp, API_OP_LIST_CONSUMERS, "{\"StreamARN\":\"" SARN "\"}");
	assert_string_equal(g_out, "{\"Consumers\":[]}");
	cp_stop(cp);
	rm_dir();
}

/* Lifecycle delays: long enough that two back-to-back calls never straddle a
 * transition, even under ASan on a loaded 2-CPU machine (100 ms did). */
#define LIFE_MS 600

static void test_consumer_lifecycle(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_cp(LIFE_MS, LIFE_MS, NULL);
	char arn[CP_CONSUMER_ARN_CAP], body[1024], name[16];

	ok(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":1}");
	expect_err(cp, API_OP_REGISTER_CONSUMER, "{\"StreamARN\":\"" SARN "\",\"ConsumerName\":"
		   "\"c\"}", "ResourceInUseException",
		   "Stream s under account " ACCT " not ACTIVE, instead in state CREATING");
	sleep_ms(LIFE_MS + 100);
	register_c(cp, "c", arn, sizeof(arn));
	has("\"ConsumerStatus\":\"CREATING\"");
	assert_null(route_consumer_find(route_get(g_routes), arn, strlen(arn)));
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "x%d", i);
		register_c(cp, name, NULL, 0);
	}
	expect_err(cp, API_OP_REGISTER_CONSUMER, "{\"StreamARN\":\"" SARN "\",\"ConsumerName\":"
		   "\"y\"}", "LimitExceededException",
		   "Only 5 consumers can be created at the same time");
	sleep_ms(LIFE_MS + 100);
	snprintf(body, sizeof(body), "{\"ConsumerARN\":\"%s\"}", arn);
	ok(cp, API_OP_DESCRIBE_CONSUMER, body);
	has("\"ConsumerStatus\":\"ACTIVE\"");
	assert_non_null(route_consumer_find(route_get(g_routes), arn, strlen(arn)));

	/* persisted: a restart keeps it */
	cp_stop(cp);
	cp = open_cp(LIFE_MS, LIFE_MS, NULL);
	assert_non_null(route_consumer_find(route_get(g_routes), arn, strlen(arn)));
	ok(cp, API_OP_DEREGISTER_CONSUMER, body);
	ok(cp, API_OP_DESCRIBE_CONSUMER, body);
	has("\"ConsumerStatus\":\"DELETING\"");
	assert_null(route_consumer_find(route_get(g_routes), arn, strlen(arn)));
	ok(cp, API_OP_DEREGISTER_CONSUMER, body); /* again: still DELETING */
	sleep_ms(LIFE_MS + 100);
	expect_err(cp, API_OP_DESCRIBE_CONSUMER, body, "ResourceNotFoundException",
		   "Consumer c under stream s and account " ACCT " not found.");

	/* DeleteStream: the stream's consumers go DELETING with it */
	ok(cp, API_OP_DELETE_STREAM, "{\"StreamName\":\"s\",\"EnforceConsumerDeletion\":true}");
	snprintf(body, sizeof(body), "{\"StreamARN\":\"%s\",\"ConsumerName\":\"x0\"}", SARN);
	ok(cp, API_OP_DESCRIBE_CONSUMER, body);
	has("\"ConsumerStatus\":\"DELETING\"");
	sleep_ms(LIFE_MS + 100);
	expect_err(cp, API_OP_DESCRIBE_CONSUMER, body, "ResourceNotFoundException",
		   "Stream s under account " ACCT " not found.");
	cp_stop(cp);
	rm_dir();
}

/* --- encryption --- */

static struct kr_keyring *open_kr(void)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/keys", g_dir);
	struct kr_keyring *kr = kr_open(path);
	assert_non_null(kr);
	return kr;
}

#define START "{\"StreamName\":\"s\",\"EncryptionType\":\"KMS\",\"KeyId\":"

static void test_encryption(void **state)
{
	(void)state;
	fresh_dir();
	struct kr_keyring *kr = open_kr();
	struct cp *cp = open_cp(0, 0, kr);
	char id[KR_KEY_ID_SIZE], master[KR_KEY_ID_SIZE], body[512], msg[512];
	uint32_t ver;

	ok(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":1}");
	ok(cp, API_OP_DESCRIBE_STREAM, "{\"StreamName\":\"s\"}");
	has("\"EncryptionType\":\"NONE\"}}");
	uint64_t sid = route_stream_find(route_get(g_routes), "s", 1)->id;
	assert_int_equal(kr_stream_key_info(kr, sid, &ver, master), 0);
	assert_int_equal(ver, 1);

	ok(cp, API_OP_START_ENCRYPTION, START "\"alias/aws/kinesis\"}");
	assert_string_equal(g_out, ""); /* no output: an empty body */
	ok(cp, API_OP_DESCRIBE_STREAM, "{\"StreamName\":\"s\"}");
	has("\"EncryptionType\":\"KMS\",\"KeyId\":\"alias/aws/kinesis\"}}");
	ok(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}");
	has("\"EncryptionType\":\"KMS\",\"KeyId\":\"alias/aws/kinesis\",");
	assert_int_equal(kr_stream_key_info(kr, sid, &ver, master), 0);
	assert_int_equal(ver, 2);

	/* a key of our own, by ARN */
	assert_int_equal(kr_master_create(kr, id), 0);
	snprintf(body, sizeof(body), START "\"arn:aws:kms:us-east-1:%s:key/%s\"}", ACCT, id);
	ok(cp, API_OP_START_ENCRYPTION, body);
	assert_int_equal(kr_stream_key_info(kr, sid, &ver, master), 0);
	assert_int_equal(ver, 3);
	assert_string_equal(master, id);

	/* disabled */
	assert_int_equal(kr_master_set_enabled(kr, id, false), 0);
	snprintf(body, sizeof(body), START "\"%s\"}", id);
	snprintf(msg, sizeof(msg), "arn:aws:kms:us-east-1:%s:key/%s is disabled.", ACCT, id);
	expect_err(cp, API_OP_START_ENCRYPTION, body, "KMSDisabledException", msg);

	/* unknown */
	expect_err(cp, API_OP_START_ENCRYPTION, START "\"alias/nope\"}", "KMSNotFoundException",
		   "Alias arn:aws:kms:us-east-1:" ACCT ":alias/nope is not found.");
	expect_err(cp, API_OP_START_ENCRYPTION,
		   START "\"11111111-2222-3333-4444-555555555555\"}", "KMSNotFoundException",
		   "Key 'arn:aws:kms:us-east-1:" ACCT ":key/11111111-2222-3333-4444-555555555555'"
		   " does not exist");
	assert_int_equal(kr_stream_key_info(kr, sid, &ver, master), 0);
	assert_int_equal(ver, 3);

	/* StopStreamEncryption: back to the default key, NONE */
	ok(cp, API_OP_STOP_ENCRYPTION, START "\"alias/aws/kinesis\"}");
	ok(cp, API_OP_DESCRIBE_STREAM, "{\"StreamName\":\"s\"}");
	has("\"EncryptionType\":\"NONE\"}}");
	assert_null(strstr(g_out, "KeyId"));
	assert_int_equal(kr_stream_key_info(kr, sid, &ver, master), 0);
	assert_int_equal(ver, 4);
	kr_default_key_id(kr, id);
	assert_string_equal(master, id);
	cp_stop(cp);
	kr_close(kr);
	rm_dir();
}

static void test_encryption_errors(void **state)
{
	(void)state;
	fresh_dir();
	struct cp *cp = open_cp(100, 0, NULL);

	expect_err(cp, API_OP_START_ENCRYPTION,
		   "{\"StreamName\":\"s\",\"EncryptionType\":\"AES\"}",
		   "ValidationException", "2 validation errors detected: Value 'AES' at "
		   "'encryptionType' failed to satisfy constraint: Member must satisfy enum "
		   "value set: [NONE, KMS]; Value null at 'keyId' failed to satisfy constraint: "
		   "Member must not be null");
	expect_err(cp, API_OP_STOP_ENCRYPTION, "{\"StreamName\":\"s\",\"KeyId\":\"\"}",
		   "ValidationException", "2 validation errors detected: Value null at "
		   "'encryptionType' failed to satisfy constraint: Member must not be null; "
		   "Value '' at 'keyId' failed to satisfy constraint: Member must have length "
		   "greater than or equal to 1");
	expect_err(cp, API_OP_START_ENCRYPTION, START "\"k\"}", "ResourceNotFoundException",
		   "Stream s under account " ACCT " not found.");
	ok(cp, API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":1}");
	expect_err(cp, API_OP_START_ENCRYPTION, START "\"k\"}", "ResourceInUseException",
		   "Stream s under account " ACCT " not ACTIVE, instead in state CREATING");
	sleep_ms(150);
	expect_err(cp, API_OP_START_ENCRYPTION, "{\"StreamName\":\"s\",\"EncryptionType\":"
		   "\"NONE\",\"KeyId\":\"k\"}", "InvalidArgumentException",
		   "KMS is the only valid EncryptionType for this request");
	/* without a keyring the setting is recorded; UPDATING, then ACTIVE */
	ok(cp, API_OP_START_ENCRYPTION, START "\"k\"}");
	ok(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}");
	has("\"StreamStatus\":\"UPDATING\"");
	expect_err(cp, API_OP_STOP_ENCRYPTION, START "\"k\"}", "ResourceInUseException",
		   "Stream s under account " ACCT " not ACTIVE, instead in state UPDATING");
	sleep_ms(150);
	ok(cp, API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}");
	has("\"StreamStatus\":\"ACTIVE\"");
	has("\"EncryptionType\":\"KMS\",\"KeyId\":\"k\"");
	/* persisted */
	cp_stop(cp);
	cp = open_cp(100, 0, NULL);
	ok(cp, API_OP_DESCRIBE_STREAM, "{\"StreamARN\":\"" SARN "\"}");
	has("\"EncryptionType\":\"KMS\",\"KeyId\":\"k\"}}");
	cp_stop(cp);
	rm_dir();
}

int main(void)
{
	char *eal_args[] = { "consumers_test", "--no-pci", "--no-huge", "-m", "64",
			     "--no-shconf", "--log-level=lib.eal:error", "--no-telemetry", "-l",
			     "0" };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_describe_route),
		cmocka_unit_test(test_consumer_errors),
		cmocka_unit_test(test_list_pages),
		cmocka_unit_test(test_consumer_lifecycle),
		cmocka_unit_test(test_encryption),
		cmocka_unit_test(test_encryption_errors),
	};

	if (rte_eal_init((int)(sizeof(eal_args) / sizeof(eal_args[0])), eal_args) < 0) {
		fprintf(stderr, "rte_eal_init failed: cannot run here\n");
		return 77;
	}
	g_out = malloc(OUT_CAP);
	/* The dataplane's queue and publication point, as sluiced makes them:
	 * every control plane a test opens shares them (readers: 1 io lcores
	 * and one log lcore, none online, so publishing never waits). */
	g_ctl = ctl_create(1, NULL, NULL);
	g_routes = route_rcu_create(2);
	if (!g_out || !g_ctl || !g_routes) {
		fprintf(stderr, "set-up failed\n");
		return 1;
	}
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	ctl_destroy(g_ctl);
	route_rcu_free(g_routes);
	free(g_out);
	rte_eal_cleanup();
	return rc;
}
