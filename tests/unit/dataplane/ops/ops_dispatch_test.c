/* SPDX-License-Identifier: Apache-2.0 */
/* The dispatcher (ops_dispatch.c) behind a real connection (real TLS, the
 * HTTP/1.1 state machine, an in-memory transport: ../http/conn_harness.h):
 * an unsigned request is refused with MissingAuthenticationTokenException,
 * an unknown X-Amz-Target with UnknownOperationException, and a control
 * operation is posted on the control queue (dataplane/ctl, real rte_rings)
 * and answered to the client once the control side replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <rte_eal.h>

#include "dataplane/ctl/ctl.h"
#include "dataplane/http/http_conn.h"
#include "dataplane/ops/ops.h"

#include "../http/conn_harness.h"

#define ALPN_H1 "\x08http/1.1"

static struct harness g_h;

static int setup(void **state)
{
	(void)state;
	h_setup(&g_h, NULL, true);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_teardown(&g_h);
	return 0;
}

/* Sends one request and returns its answer (which must be there). */
static void ask(struct hclient *cl, const char *method, const char *op, const char *body, bool sign,
		struct h1_resp *r)
{
	char req[4096];
	size_t n = h_request(&g_h, req, sizeof(req), method, op, body, sign);
	hc_write(cl, req, n);
	hc_pump(cl);
	assert_int_equal(hc_h1_response(cl, r), 1);
}

static void test_unsigned(void **state)
{
	(void)state;
	struct hclient cl;
	hc_open(&g_h, &cl, ALPN_H1, sizeof(ALPN_H1) - 1);
	struct h1_resp r;
	ask(&cl, "POST", "ListStreams", "{}", false, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.type, "MissingAuthenticationTokenException");
	/* Nothing reached the control plane. */
	struct ctl_call *calls[4];
	assert_int_equal(ctl_requests(g_h.sh.ctl, calls, 4), 0);
	hc_free(&cl);
}

static void test_bad_target(void **state)
{
	(void)state;
	struct hclient cl;
	hc_open(&g_h, &cl, ALPN_H1, sizeof(ALPN_H1) - 1);
	struct h1_resp r;
	ask(&cl, "POST", "NoSuchOperation", "{}", true, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.type, "UnknownOperationException");
	/* Kinesis's answer carries no message. */
	assert_string_equal(r.body, "{\"__type\":\"UnknownOperationException\"}");
	/* And it is made before authentication, as Kinesis makes it. */
	ask(&cl, "POST", "NoSuchOperation", "{}", false, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(r.type, "UnknownOperationException");
	struct ctl_call *calls[4];
	assert_int_equal(ctl_requests(g_h.sh.ctl, calls, 4), 0);
	hc_free(&cl);
}

static void test_control_op_posted(void **state)
{
	(void)state;
	struct hclient cl;
	hc_open(&g_h, &cl, ALPN_H1, sizeof(ALPN_H1) - 1);
	char req[4096];
	size_t n = h_request(&g_h, req, sizeof(req), "POST", "ListStreams", "{\"Limit\":3}", true);
	hc_write(&cl, req, n);
	hc_pump(&cl);
	struct h1_resp r;
	assert_int_equal(hc_h1_response(&cl, &r), 0); /* waits for the control plane */

	struct ctl_call *calls[4];
	assert_int_equal(ctl_requests(g_h.sh.ctl, calls, 4), 1);
	struct ctl_call *call = calls[0];
	assert_int_equal(call->op, API_OP_LIST_STREAMS);
	assert_int_equal(call->lcore, 0);
	assert_int_equal(call->body_len, 11);
	assert_memory_equal(call->body, "{\"Limit\":3}", 11);
	assert_string_equal(call->region, g_h.cfg.region);
	assert_int_equal(call->cookie >> 32, http_conn_idx(cl.c));

	static const char answer[] = "{\"HasMoreStreams\":false,\"StreamNames\":[]}";
	call->status = 200;
	call->resp = strdup(answer);
	assert_non_null(call->resp);
	call->resp_len = sizeof(answer) - 1;
	ctl_answer(g_h.sh.ctl, call);
	ops_poll_ctl(&g_h.lc);
	hc_pump(&cl);
	assert_int_equal(hc_h1_response(&cl, &r), 1);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, sizeof(answer) - 1);
	assert_memory_equal(r.body, answer, r.body_len);
	assert_false(r.closes);

	/* The connection goes on with the next request. */
	ask(&cl, "POST", "NoSuchOperation", "{}", true, &r);
	assert_string_equal(r.type, "UnknownOperationException");
	hc_free(&cl);
}

int main(void)
{
	char *eal_args[] = {"ops_dispatch_test",
			    "--no-pci",
			    "--no-huge",
			    "-m",
			    "64",
			    "--no-shconf",
			    "--log-level=lib.eal:error",
			    "--no-telemetry",
			    "-l",
			    "0"};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unsigned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_target, setup, teardown),
		cmocka_unit_test_setup_teardown(test_control_op_posted, setup, teardown),
	};
	if (rte_eal_init((int)(sizeof(eal_args) / sizeof(eal_args[0])), eal_args) < 0) {
		fprintf(stderr, "rte_eal_init failed: cannot run here\n");
		return 77;
	}
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	return rc;
}
