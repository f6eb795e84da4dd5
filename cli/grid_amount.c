/*
 * TFT amounts: text with at most 7 decimals <-> planck (10^-7 TFT), exactly.
 * Floating point never touches an amount.
 */
#include <errno.h>
#include <string.h>

#include "cli/grid.h"
#include "common/zerr.h"

#define U128_MAX (~(scale_u128)0)

int cli_tft_parse(const char *s, scale_u128 *planck)
{
	scale_u128 v = 0;
	size_t i = 0, ndigits = 0, ndec = 0;

	if (!s)
		return ZE_MALFORMED;
	for (; s[i] >= '0' && s[i] <= '9'; i++, ndigits++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (U128_MAX - d) / 10)
			return ZE_TOOBIG;
		v = v * 10 + d;
	}
	if (ndigits == 0)
		return ZE_MALFORMED; /* empty, sign, ".5" */
	if (s[i] == '.') {
		i++;
		/* Count every decimal: junk after them is malformed rather
		 * than "too precise". */
		for (; s[i] >= '0' && s[i] <= '9'; i++)
			ndec++;
		if (ndec == 0)
			return ZE_MALFORMED; /* "1." */
	}
	if (s[i] != '\0')
		return ZE_MALFORMED;
	if (ndec > CLI_TFT_DECIMALS)
		return -ERANGE;
	/* Scale the integer part, then add the decimals padded to 7 digits. */
	scale_u128 frac = 0;
	const char *d = strchr(s, '.');
	for (size_t k = 0; k < CLI_TFT_DECIMALS; k++) {
		unsigned digit = d && k < ndec ? (unsigned)(d[1 + k] - '0') : 0;
		frac = frac * 10 + digit;
	}
	if (v > (U128_MAX - frac) / CLI_TFT_PLANCK)
		return ZE_TOOBIG;
	*planck = v * CLI_TFT_PLANCK + frac;
	return 0;
}

void cli_tft_format(scale_u128 planck, char out[CLI_TFT_STRLEN])
{
	char digits[40], padded[40 + CLI_TFT_DECIMALS];
	size_t n, pad, len, ipart;

	scale_u128_str(planck, digits);
	n = strlen(digits);
	/* At least one digit before the point. */
	pad = n < CLI_TFT_DECIMALS + 1 ? CLI_TFT_DECIMALS + 1 - n : 0;
	memset(padded, '0', pad);
	memcpy(padded + pad, digits, n);
	len = pad + n;
	ipart = len - CLI_TFT_DECIMALS;
	memcpy(out, padded, ipart);
	out[ipart] = '.';
	memcpy(out + ipart + 1, padded + ipart, CLI_TFT_DECIMALS);
	out[len + 1] = '\0';
}
