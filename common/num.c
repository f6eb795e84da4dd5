/* Decimal digits to integers, for options and decimal strings (num.h). */
#include "common/num.h"

#include <errno.h>
#include <string.h>

int num_u64(const char *s, uint64_t max, uint64_t *out)
{
	return s ? num_u64_n(s, strlen(s), max, out) : -EINVAL;
}

int num_u64_n(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (!len)
		return -EINVAL;
	for (const char *end = s + len; s < end; s++) {
		unsigned d = (unsigned)(*s - '0');
		/* Once above max a value only grows, so checking each step is enough. */
		if (d > 9 || x > (UINT64_MAX - d) / 10 || (x = x * 10 + d) > max)
			return -EINVAL;
	}
	*out = x;
	return 0;
}
