/* SPDX-License-Identifier: Apache-2.0 */
/* The admin listener's head parser on arbitrary bytes: it must never read
 * past len, and a head it accepts must be within the bytes it was given. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A private copy of exactly size bytes, so ASan sees any overread. */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct admin_req r;
	int n = admin_parse(buf, size, &r);
	if (n > 0 && ((size_t)n > size || strlen(r.path) >= sizeof(r.path)))
		abort();
	free(buf);
	return 0;
}
