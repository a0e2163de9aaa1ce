/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target for the sequence number text (storage/st.h st_seq_parse
 * over common/u128.c sl_seq56_parse and sl_u128_parse): what clients send
 * in StartingSequenceNumber, SubscribeToShard's SequenceNumber and
 * SequenceNumberForOrdering. A number that parses formats back to a text
 * that parses to the same number; a 56-digit one formats back to itself
 * exactly (one text per number). Any violation aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/st.h"

#define CHECK(c)                                                              \
	do {                                                                  \
		if (!(c))                                                     \
			abort();                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	st_seq_t v = 0, back = 0;
	char txt[ST_SEQ_STR_SIZE];

	if (st_seq_parse((const char *)data, size, &v) != 0 || !st_seq_valid(v))
		return 0;
	CHECK(st_seq_format(v, txt) == SL_SEQ56_DIGITS);
	CHECK(strlen(txt) == SL_SEQ56_DIGITS);
	CHECK(st_seq_parse(txt, SL_SEQ56_DIGITS, &back) == 0 && back == v);
	if (size == SL_SEQ56_DIGITS)
		CHECK(memcmp(txt, data, size) == 0);
	return 0;
}
