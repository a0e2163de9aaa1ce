/* SPDX-License-Identifier: Apache-2.0 */
/* Sequence number text form. The bit layout is documented once, in st.h. */
#include <errno.h>

#include "storage/st.h"

int st_seq_format(st_seq_t seq, char buf[ST_SEQ_STR_SIZE])
{
	char tmp[ST_SEQ_STR_SIZE];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + (int)(seq % 10u));
		seq /= 10u;
	} while (seq != 0);
	for (int i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return n;
}

int st_seq_parse(const char *s, size_t len, st_seq_t *out)
{
	const st_seq_t max = ~(st_seq_t)0;
	st_seq_t v = 0;

	if (len == 0 || (len > 1 && s[0] == '0'))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned char)s[i] - (unsigned)'0';

		if (d > 9)
			return -EINVAL;
		/* Overflow check before v * 10 + d, without wrapping. */
		if (v > (max - d) / 10u)
			return -ERANGE;
		v = v * 10u + d;
	}
	*out = v;
	return 0;
}
