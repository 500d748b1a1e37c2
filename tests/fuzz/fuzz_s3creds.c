/* fuzz_s3creds.c - the credentials parsers (objstore/creds.c) over
 * untrusted bytes. The first byte picks the AWS ini parser (with one of
 * a few profile names) or the instance-metadata JSON parser. An input
 * holding the marker "zzsecretzz" must never see it in a message:
 * errors name lines, not their text. */
#include <string.h>

#include "s3_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const profiles[] = { "default", "work", "a b",
						"" };
	const char *p = (const char *)data + 1;
	struct lc_err err = { 0 };
	struct s3_creds c;
	int rc;

	if (size < 1)
		return 0;
	if (data[0] & 4)
		rc = s3_creds_json_parse(&c, p, size - 1, &err);
	else
		rc = s3_creds_ini_parse(&c, p, size - 1,
					profiles[data[0] & 3], &err);
	if (!rc) {
		if (!c.access_key || !c.secret || err.code)
			__builtin_trap();
		if (!(data[0] & 4) && (!c.access_key[0] || !c.secret[0]))
			__builtin_trap();
		s3_creds_reset(&c);
		return 0;
	}
	if (c.access_key || c.secret || c.token)
		__builtin_trap();	/* nothing half-filled on failure */
	if (rc != ENOMEM && !err.msg[0])
		__builtin_trap();
	if (strstr(err.msg, "zzsecretzz"))
		__builtin_trap();
	return 0;
}
