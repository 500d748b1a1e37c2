/* fuzz_s3xml.c - the S3 XML replies (objstore/s3xml.c) over untrusted
 * bytes. The first byte picks the reply: a ListObjectsV2 page, an
 * <Error>, InitiateMultipartUpload's UploadId or a
 * CompleteMultipartUpload answer; the rest is the body. */
#include "s3_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A refusal carries a reason; anything else is a bug. */
static void check_refusal(int rc, const struct lc_err *err)
{
	if (rc == ENOMEM || rc == EFBIG)
		return;
	if (rc != EIO || !err->msg[0])
		__builtin_trap();
}

static void list(const char *p, size_t n)
{
	struct s3_list_page pg;
	struct lc_err err = { 0 };
	int rc = s3_xml_list(&pg, p, n, &err);

	if (rc) {
		check_refusal(rc, &err);
		if (pg.n_keys || pg.n_prefixes || pg.next_token)
			__builtin_trap();
		return;
	}
	for (size_t i = 0; i < pg.n_keys; i++)
		if (!pg.keys[i].name)
			__builtin_trap();
	for (size_t i = 0; i < pg.n_prefixes; i++)
		if (!pg.prefixes[i].name)
			__builtin_trap();
	if (pg.truncated && (!pg.next_token || !pg.next_token[0]))
		__builtin_trap();
	s3_list_page_reset(&pg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1;
	struct s3_xml_error xe;
	struct lc_err err = { 0 };
	char *id;
	int rc;

	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
		list(p, size - 1);
		break;
	case 1:
		if (s3_xml_error(&xe, p, size - 1) ||
		    strlen(xe.code) >= sizeof(xe.code))
			__builtin_trap();
		break;
	case 2:
		rc = s3_xml_upload_id(&id, p, size - 1, &err);
		if (rc)
			check_refusal(rc, &err);
		else if (!id || !id[0])
			__builtin_trap();
		lc_free(id);
		break;
	default:
		rc = s3_xml_complete(&xe, p, size - 1, &err);
		if (rc && rc != EAGAIN)
			check_refusal(rc, &err);
		break;
	}
	return 0;
}
