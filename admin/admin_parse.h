/* SPDX-License-Identifier: Apache-2.0 */
/* The admin listener's request-head parser: HTTP/1.x GET heads only, no
 * body, bounded, copying the few fields the admin endpoints look at. Pure:
 * no allocation, no I/O (a libFuzzer target reaches it:
 * tests/fuzz/fuzz_admin.c). */
#ifndef SL_ADMIN_PARSE_H
#define SL_ADMIN_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/bug.h"

/* A head longer than this is refused (431): the admin endpoints need a
 * request line and two headers. */
#define ADMIN_HEAD_MAX 8192

struct admin_req {
	char method[8];
	char path[256];	 /* without the query string */
	char accept[256]; /* "" when absent (or longer than this: ignored) */
	char auth[512];	 /* Authorization value, "" when absent */
	bool auth_too_long; /* an Authorization longer than auth[] (never matches) */
};

/* Parses the head at buf[0..len). Returns the head's length (through the
 * blank line, > 0), 0 when more bytes are needed (len < ADMIN_HEAD_MAX),
 * -EMSGSIZE when ADMIN_HEAD_MAX bytes hold no whole head, -EINVAL when the
 * head is malformed (bad request line, a method or path too long, a header
 * line without a colon, a control byte). */
int SL_MUST_CHECK admin_parse(const char *buf, size_t len, struct admin_req *r);

#endif
