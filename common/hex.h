/* SPDX-License-Identifier: Apache-2.0 */
/* Lower-case hex text, the form of the opaque pagination tokens the control
 * plane hands out (ListStreams, ListShards, ListStreamConsumers,
 * ListChannels): the token is the hex of a small bounded plain text, so a
 * client can only hand back what it was given or something that decodes
 * to a name the caller validates again.
 *
 * One codec for the writer (controlplane) and every reader (the control
 * plane's handlers and dataplane/ops' authorisation, which reads the stream
 * a ListShards NextToken names): what one side accepts the other does.
 * Only lower case is read, as only lower case is written. Nothing
 * allocates. */
#ifndef SL_COMMON_HEX_H
#define SL_COMMON_HEX_H

#include <stddef.h>

#include "bug.h"

/* Writes the lower-case hex of in[0..n) and a NUL into out, which must hold
 * 2 * n + 1 bytes. Cannot fail. */
void sl_hex_encode(char *out, const void *in, size_t n);

/* Decodes the n characters of in (lower-case hex, n even) into out and a
 * NUL after them; out holds cap bytes, so at most cap - 1 are decoded.
 * Returns the decoded length, or -EINVAL for an odd n, a character that
 * is not 0-9 or a-f, or a result that does not fit (out is then
 * unspecified). The decoded bytes may contain a NUL: callers that want a
 * string check the length they get against strlen. */
SL_MUST_CHECK long sl_hex_decode(char *out, size_t cap, const char *in, size_t n);

#endif
