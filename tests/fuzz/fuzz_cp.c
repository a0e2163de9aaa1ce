/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the control plane's request decoders (controlplane/
 * cp_*.c with the dataplane/api validation toolkit): each input is the JSON
 * body of every control-plane operation in turn, run by cp_execute against a
 * real metadata store (SQLite in a temporary directory, on tmpfs when there
 * is one), without the control thread or any network. A stream "s" with a
 * tag and a consumer, and an on-demand stream "od" (channels), are (re)made
 * before each input so that requests naming them reach past validation into
 * the operations.
 *
 * Every answer must be one JSON object (json_parse is strict: valid UTF-8,
 * so a message cut inside a sequence fails here), 200 or a 4xx with a
 * string __type. A 500 means the control plane failed on client input (its
 * own output overflowing, a store error): that is a bug too. ASan and UBSan
 * catch the rest (over-reads of unterminated buffers, uninitialised
 * reads show up as invalid answers). */
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>

#include "common/json.h"
#include "controlplane/cp_internal.h"
#include "dataplane/api/api.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "CHECK failed: %s (line %d)\n", #c,   \
				__LINE__);                                    \
			abort();                                              \
		}                                                             \
	} while (0)

#define FUZZ_BODY_MAX (256u << 10) /* larger bodies teach nothing new */
#define FUZZ_TOKS 8192

static struct cp *g_cp;
static char g_dir[64];
static enum api_op g_ops[API_OP__COUNT];
static uint32_t g_n_ops;
static struct json_tok g_toks[FUZZ_TOKS];
static const char *g_op_name[API_OP__COUNT];

static struct ctl_call *run(enum api_op op, const char *body, size_t len)
{
	struct ctl_call *c = calloc(1, sizeof(*c));

	CHECK(c != NULL);
	c->op = op;
	c->lcore = 0;
	snprintf(c->region, sizeof(c->region), "us-east-1");
	c->body = malloc(len + 1);
	CHECK(c->body != NULL);
	memcpy(c->body, body, len);
	c->body[len] = '\0';
	c->body_len = (uint32_t)len;
	cp_execute(g_cp, c);
	return c;
}

static void run_str(enum api_op op, const char *body)
{
	ctl_call_free(run(op, body, strlen(body)));
}

static void check_answer(const struct ctl_call *c)
{
	struct json_doc d;
	int32_t t;

	CHECK(c->resp != NULL);
	/* An operation without output answers 200 with an empty body, as
	 * Kinesis does; every other answer is a JSON object. */
	if (c->status == 200 && c->resp_len == 0)
		return;
	if (c->resp_len == 0 || c->status == 500 || json_parse(&d, c->resp, c->resp_len, g_toks, FUZZ_TOKS, 16,
					   NULL) < 1 || g_toks[0].type != JSON_OBJECT) {
		fprintf(stderr, "%s answered %u: %.*s\n", g_op_name[c->op], c->status,
			(int)(c->resp_len < 2000 ? c->resp_len : 2000), c->resp);
		abort();
	}
	if (c->status == 200)
		return;
	CHECK(c->status >= 400 && c->status < 500);
	t = json_obj_get(&d, 0, "__type");
	CHECK(t >= 0 && g_toks[t].type == JSON_STRING && g_toks[t].len > 0);
}

/* The stream most seeds name, with something in it (again after an input
 * deleted it), and an on-demand stream "od" that channels can be created
 * on (CreateChannel refuses provisioned ones). */
static void seed_state(void)
{
	struct ctl_call *c = run(API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"od\"}", 17);
	bool there = c->status == 200;

	ctl_call_free(c);
	if (!there)
		run_str(API_OP_CREATE_STREAM, "{\"StreamName\":\"od\",\"StreamModeDetails\":"
			"{\"StreamMode\":\"ON_DEMAND\"}}");
	c = run(API_OP_DESCRIBE_STREAM_SUMMARY, "{\"StreamName\":\"s\"}", 16);
	there = c->status == 200;
	ctl_call_free(c);
	if (there)
		return;
	run_str(API_OP_CREATE_STREAM, "{\"StreamName\":\"s\",\"ShardCount\":2}");
	run_str(API_OP_ADD_TAGS_TO_STREAM, "{\"StreamName\":\"s\",\"Tags\":{\"k\":\"v\"}}");
	run_str(API_OP_REGISTER_CONSUMER, "{\"StreamARN\":\"arn:aws:kinesis:us-east-1:"
		"000000000000:stream/s\",\"ConsumerName\":\"c\"}");
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static struct ctl_queue *g_ctl;
static struct route_rcu *g_routes;

static void fini(void)
{
	if (g_cp)
		cp_stop(g_cp);
	g_cp = NULL;
	ctl_destroy(g_ctl);
	route_rcu_free(g_routes);
	if (g_dir[0])
		(void)nftw(g_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *eal_args[] = { "fuzz_cp", "--no-pci", "--no-huge", "-m", "64", "--no-shconf",
			     "--log-level=lib.eal:error", "--log-level=user1:error",
			     "--no-telemetry", "-l", "0" };
	const struct api_op_info *tab;
	uint32_t n;

	(void)argc;
	(void)argv;
	CHECK(rte_eal_init((int)(sizeof(eal_args) / sizeof(eal_args[0])), eal_args) >= 0);
	snprintf(g_dir, sizeof(g_dir), "%s/fuzz_cp_XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	CHECK(mkdtemp(g_dir) != NULL);
	/* No delays (every transition at once), bounded growth: the fuzzer
	 * creates streams, shards, tags and consumers as it finds them. */
	struct cp_config cfg = {
		.data_dir = g_dir, .account_id = "000000000000", .shard_limit = 64,
		.stream_limit = 16, .n_log_lcores = 1,
	};
	/* cp_open needs a queue and a publication point; calls run directly. */
	cfg.ctl = g_ctl = ctl_create(1, NULL, NULL);
	cfg.routes = g_routes = route_rcu_create(1);
	CHECK(g_ctl != NULL && g_routes != NULL);
	g_cp = cp_open(&cfg);
	CHECK(g_cp != NULL);
	atexit(fini);
	tab = api_op_table(&n);
	for (uint32_t i = 0; i < n; i++) {
		if (tab[i].plane != API_PLANE_CONTROL)
			continue;
		g_ops[g_n_ops++] = tab[i].op;
		g_op_name[tab[i].op] = tab[i].name;
	}
	CHECK(g_n_ops > 30);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_BODY_MAX)
		return 0;
	seed_state();
	for (uint32_t i = 0; i < g_n_ops; i++) {
		struct ctl_call *c = run(g_ops[i], (const char *)data, size);
		check_answer(c);
		ctl_call_free(c);
	}
	return 0;
}
