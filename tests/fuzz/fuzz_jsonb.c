/* fuzz_jsonb.c - a JSON column's stored value (JSONB), which anyone who
 * can write to a dataset controls: fs/jsonb.c decodes it into meta.json.
 * The input is the value. Checks: it decodes or fails with EIO, never
 * anything else, and a failure leaves the buffer as it was; decoded text
 * is JSON; read with jansson (where it can: no integers past int64, no
 * repeated keys, no NUL characters) and encoded again, it decodes to the
 * same JSON and that encodes to the same bytes (the encoding is
 * canonical). */
#include <jansson.h>
#include <stdlib.h>

#include "jsonb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* JSON text -> JSONB -> JSON text, both kept; 0 when jansson took it. */
static int again(struct lc_buf *bin, struct lc_buf *text, json_t **j,
		 const struct lc_buf *from)
{
	struct lc_err err = { 0 };

	*j = json_loadb((const char *)from->data, from->len,
			JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	if (!*j)
		return 1;
	if (jsonb_from_json(bin, *j, &err) ||
	    jsonb_to_json(text, bin->data, bin->len, &err))
		abort();	/* what it decoded, it must take back */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lc_err err = { 0 };
	struct lc_buf text, bin1, text1, bin2, text2;
	json_t *any, *j1 = NULL, *j2 = NULL;
	json_error_t je;
	int rc;

	lc_buf_init(&text, 0);
	lc_buf_init(&bin1, 0);
	lc_buf_init(&text1, 0);
	lc_buf_init(&bin2, 0);
	lc_buf_init(&text2, 0);
	rc = jsonb_to_json(&text, data, size, &err);
	if (rc) {
		if (rc != EIO || (err.kind != LC_EK_CORRUPT &&
				  err.kind != LC_EK_UNSUPPORTED) || text.len)
			abort();
		goto out;
	}
	/* JSON it must be (big integers read as reals here; a string may
	 * hold \u0000, though jansson takes none in a key) */
	any = json_loadb((const char *)text.data, text.len, JSON_DECODE_ANY |
			 JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
	if (!any && !strstr(je.text, "NUL byte in object key"))
		abort();
	json_decref(any);
	if (again(&bin1, &text1, &j1, &text))
		goto out;
	if (again(&bin2, &text2, &j2, &text1) || !json_equal(j1, j2) ||
	    bin1.len != bin2.len || memcmp(bin1.data, bin2.data, bin1.len) ||
	    text1.len != text2.len ||
	    memcmp(text1.data, text2.data, text1.len))
		abort();
out:
	json_decref(j1);
	json_decref(j2);
	lc_buf_reset(&text);
	lc_buf_reset(&bin1);
	lc_buf_reset(&text1);
	lc_buf_reset(&bin2);
	lc_buf_reset(&text2);
	return 0;
}
