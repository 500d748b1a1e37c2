/*
 * s3xml.c - the XML bodies S3 answers with, parsed by expat: a
 * ListObjectsV2 page, an <Error>, InitiateMultipartUpload's UploadId and
 * CompleteMultipartUpload's result (which may be an <Error> sent with
 * status 200). The bytes come from the network: pure functions over
 * (ptr, len), every text and count capped, no DOCTYPE accepted, fuzzed by
 * tests/fuzz/fuzz_s3xml.c.
 *
 * One small walker serves all of them: it keeps the path of open
 * elements ("/ListBucketResult/Contents/Key") and the text of the
 * innermost one, and hands each closing element to a per-reply function.
 */
#include "s3_int.h"

#include <stdio.h>
#include <stdlib.h>

#include <expat.h>

#define XML_MAX_DEPTH 16
#define XML_MAX_TEXT (64 << 10)	/* an encoded 1024-byte key is 3 KiB */
#define XML_MAX_ITEMS 100000	/* S3 pages hold at most 1000 */

struct walker {
	XML_Parser p;
	char path[512];
	size_t plen[XML_MAX_DEPTH + 1];
	int depth;
	bool too_deep;		/* elements past the cap are ignored */
	struct lc_buf text;
	int rc;
	struct lc_err *err;
	const char *root;	/* the root element expected, or NULL */
	char got_root[64];
	int (*on_end)(struct walker *w, const char *path, const char *text,
		      size_t len);
	void *ctx;
};

static void fail(struct walker *w, int rc)
{
	if (!w->rc)
		w->rc = rc;
	XML_StopParser(w->p, XML_FALSE);
}

static void XMLCALL on_start(void *ud, const XML_Char *name,
			     const XML_Char **attrs)
{
	struct walker *w = ud;
	size_t n = strlen(name), at = w->plen[w->depth];

	(void)attrs;
	if (w->rc)
		return;
	if (w->depth == 0)
		snprintf(w->got_root, sizeof(w->got_root), "%s", name);
	if (w->depth >= XML_MAX_DEPTH || n + 1 >= sizeof(w->path) - at) {
		fail(w, LC_CORRUPT(w->err, "xml: elements nested too deep"));
		return;
	}
	w->path[at] = '/';
	memcpy(w->path + at + 1, name, n + 1);
	w->depth++;
	w->plen[w->depth] = at + 1 + n;
	lc_buf_reset(&w->text);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct walker *w = ud;
	int rc;

	(void)name;
	if (w->rc || !w->depth)
		return;
	rc = w->on_end(w, w->path, w->text.data ? (char *)w->text.data : "",
		       w->text.len);
	if (rc)
		fail(w, rc);
	w->depth--;
	w->path[w->plen[w->depth]] = 0;
	lc_buf_reset(&w->text);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct walker *w = ud;

	if (w->rc || len <= 0)
		return;
	if (w->text.len + (size_t)len > XML_MAX_TEXT) {
		fail(w, LC_CORRUPT(w->err, "xml: element text over %d bytes",
				   XML_MAX_TEXT));
		return;
	}
	if (lc_buf_append(&w->text, s, (size_t)len, w->err))
		fail(w, ENOMEM);
}

/* S3 never sends a DOCTYPE; refusing it rules out entity expansion. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name,
			       const XML_Char *sysid, const XML_Char *pubid,
			       int has_internal)
{
	struct walker *w = ud;

	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal;
	fail(w, LC_CORRUPT(w->err, "xml: unexpected DOCTYPE"));
}

static int walk(struct walker *w, const char *xml, size_t len)
{
	enum XML_Status st;

	if (len > INT32_MAX)
		return LC_LIMIT(w->err, "xml: reply of %zu bytes", len);
	w->p = XML_ParserCreate("UTF-8");
	if (!w->p)
		return LC_NOMEM(w->err);
	lc_buf_init(&w->text, 0);
	XML_SetUserData(w->p, w);
	XML_SetElementHandler(w->p, on_start, on_end);
	XML_SetCharacterDataHandler(w->p, on_text);
	XML_SetStartDoctypeDeclHandler(w->p, on_doctype);
	st = XML_Parse(w->p, xml, (int)len, XML_TRUE);
	if (st != XML_STATUS_OK && !w->rc)
		w->rc = LC_CORRUPT(w->err, "xml: %s at line %lu",
				   XML_ErrorString(XML_GetErrorCode(w->p)),
				   (unsigned long)
				   XML_GetCurrentLineNumber(w->p));
	if (!w->rc && w->root && strcmp(w->got_root, w->root))
		w->rc = LC_CORRUPT(w->err, "xml: expected <%s>, got <%.60s>",
				   w->root, w->got_root);
	XML_ParserFree(w->p);
	lc_buf_reset(&w->text);
	return w->rc;
}

static int dup_text(char **out, const char *text, size_t len,
		    struct lc_err *err)
{
	lc_free(*out);
	*out = lc_strndup(text, len);
	return *out ? 0 : LC_NOMEM(err);
}

static int parse_u64(uint64_t *out, const char *s, size_t len)
{
	uint64_t v = 0;

	if (!len || len > 20)
		return EIO;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return EIO;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int64_t s3_parse_iso8601(const char *s)
{
	struct tm tm = { 0 };
	int n = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6
	    || n < 19)
		return 0;
	if (tm.tm_year < 1970 || tm.tm_year > 9999 || tm.tm_mon < 1 ||
	    tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

int s3_url_decode(char **out, const char *s, size_t n, struct lc_err *err)
{
	char *d = lc_malloc(n + 1);
	size_t j = 0;

	*out = NULL;
	if (!d)
		return LC_NOMEM(err);
	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '+') {
			d[j++] = ' ';
			continue;
		}
		if (s[i] != '%') {
			d[j++] = s[i];
			continue;
		}
		hi = n - i >= 3 ? lc_hexval(s[i + 1]) : -1;
		lo = n - i >= 3 ? lc_hexval(s[i + 2]) : -1;
		/* a NUL inside a key would cut it short in every C string */
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			lc_free(d);
			return LC_CORRUPT(err, "listing: bad %%-escape in a "
					  "key");
		}
		d[j++] = (char)(hi << 4 | lo);
		i += 2;
	}
	d[j] = 0;
	*out = d;
	return 0;
}

/* ---- ListObjectsV2 ------------------------------------------------ */

struct list_ctx {
	struct s3_list_page *page;
	struct s3_list_item cur;
	bool url_encoded;
	size_t cap_keys, cap_prefixes;
};

static int push_item(struct s3_list_item **arr, size_t *n, size_t *cap,
		     struct s3_list_item *it, struct lc_err *err)
{
	if (*n >= XML_MAX_ITEMS)
		return LC_LIMIT(err, "listing: more than %d entries in one "
				"page", XML_MAX_ITEMS);
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct s3_list_item *p = lc_realloc(*arr, nc * sizeof(*p));

		if (!p)
			return LC_NOMEM(err);
		*arr = p;
		*cap = nc;
	}
	(*arr)[(*n)++] = *it;
	memset(it, 0, sizeof(*it));
	return 0;
}

static int list_end(struct walker *w, const char *path, const char *text,
		    size_t len)
{
	struct list_ctx *c = w->ctx;
	struct s3_list_page *pg = c->page;

	if (!strcmp(path, "/ListBucketResult/Contents/Key"))
		return dup_text(&c->cur.name, text, len, w->err);
	if (!strcmp(path, "/ListBucketResult/Contents/Size")) {
		if (parse_u64(&c->cur.size, text, len))
			return LC_CORRUPT(w->err, "listing: bad <Size>");
		return 0;
	}
	if (!strcmp(path, "/ListBucketResult/Contents/LastModified")) {
		c->cur.mtime = s3_parse_iso8601(text);
		return 0;
	}
	if (!strcmp(path, "/ListBucketResult/CommonPrefixes/Prefix"))
		return dup_text(&c->cur.name, text, len, w->err);
	if (!strcmp(path, "/ListBucketResult/Contents") ||
	    !strcmp(path, "/ListBucketResult/CommonPrefixes")) {
		bool is_key = !strcmp(path, "/ListBucketResult/Contents");

		if (!c->cur.name)
			return LC_CORRUPT(w->err, "listing: an entry without "
					  "a name");
		if (is_key)
			return push_item(&pg->keys, &pg->n_keys, &c->cap_keys,
					 &c->cur, w->err);
		c->cur.size = 0;
		c->cur.mtime = 0;
		return push_item(&pg->prefixes, &pg->n_prefixes,
				 &c->cap_prefixes, &c->cur, w->err);
	}
	if (!strcmp(path, "/ListBucketResult/IsTruncated")) {
		pg->truncated = len == 4 && !memcmp(text, "true", 4);
		return 0;
	}
	if (!strcmp(path, "/ListBucketResult/NextContinuationToken"))
		return dup_text(&pg->next_token, text, len, w->err);
	if (!strcmp(path, "/ListBucketResult/EncodingType"))
		c->url_encoded = len == 3 && !memcmp(text, "url", 3);
	return 0;
}

static int decode_names(struct s3_list_item *it, size_t n,
			struct lc_err *err)
{
	for (size_t i = 0; i < n; i++) {
		char *d;
		int rc = s3_url_decode(&d, it[i].name, strlen(it[i].name),
				       err);

		if (rc)
			return rc;
		lc_free(it[i].name);
		it[i].name = d;
	}
	return 0;
}

void s3_list_page_reset(struct s3_list_page *p)
{
	for (size_t i = 0; i < p->n_keys; i++)
		lc_free(p->keys[i].name);
	for (size_t i = 0; i < p->n_prefixes; i++)
		lc_free(p->prefixes[i].name);
	lc_free(p->keys);
	lc_free(p->prefixes);
	lc_free(p->next_token);
	memset(p, 0, sizeof(*p));
}

int s3_xml_list(struct s3_list_page *out, const char *xml, size_t len,
		struct lc_err *err)
{
	struct list_ctx c = { .page = out };
	struct walker w = { .err = err, .root = "ListBucketResult",
			    .on_end = list_end, .ctx = &c };
	int rc;

	memset(out, 0, sizeof(*out));
	rc = walk(&w, xml, len);
	lc_free(c.cur.name);
	/* Keys are decoded only when the server says it encoded them: one
	 * that ignores encoding-type=url sends them raw. */
	if (!rc && c.url_encoded)
		rc = decode_names(out->keys, out->n_keys, err);
	if (!rc && c.url_encoded)
		rc = decode_names(out->prefixes, out->n_prefixes, err);
	if (!rc && out->truncated && (!out->next_token || !*out->next_token))
		rc = LC_CORRUPT(err, "listing: truncated page without a "
				"continuation token");
	if (rc)
		s3_list_page_reset(out);
	return rc;
}

/* ---- <Error> ------------------------------------------------------ */

static void copy_field(char *dst, size_t cap, const char *text, size_t len)
{
	size_t j = 0;

	/* printable ASCII only: this text ends up in log lines */
	for (size_t i = 0; i < len && j + 1 < cap; i++) {
		unsigned char ch = (unsigned char)text[i];

		dst[j++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	dst[j] = 0;
}

static int error_end(struct walker *w, const char *path, const char *text,
		     size_t len)
{
	struct s3_xml_error *e = w->ctx;

	if (!strcmp(path, "/Error/Code"))
		copy_field(e->code, sizeof(e->code), text, len);
	else if (!strcmp(path, "/Error/Message"))
		copy_field(e->message, sizeof(e->message), text, len);
	else if (!strcmp(path, "/Error/RequestId"))
		copy_field(e->request_id, sizeof(e->request_id), text, len);
	else if (!strcmp(path, "/Error"))
		e->present = true;
	return 0;
}

int s3_xml_error(struct s3_xml_error *out, const char *xml, size_t len)
{
	struct walker w = { .on_end = error_end, .ctx = out };

	memset(out, 0, sizeof(*out));
	if (walk(&w, xml, len) || strcmp(w.got_root, "Error"))
		memset(out, 0, sizeof(*out));
	return 0;
}

/* ---- multipart ---------------------------------------------------- */

struct upload_ctx {
	char *id;
};

static int upload_end(struct walker *w, const char *path, const char *text,
		      size_t len)
{
	struct upload_ctx *c = w->ctx;

	if (!strcmp(path, "/InitiateMultipartUploadResult/UploadId"))
		return dup_text(&c->id, text, len, w->err);
	return 0;
}

int s3_xml_upload_id(char **out, const char *xml, size_t len,
		     struct lc_err *err)
{
	struct upload_ctx c = { 0 };
	struct walker w = { .err = err, .root = "InitiateMultipartUploadResult",
			    .on_end = upload_end, .ctx = &c };
	int rc = walk(&w, xml, len);

	if (!rc && (!c.id || !*c.id))
		rc = LC_CORRUPT(err, "multipart: no UploadId in the reply");
	if (rc) {
		lc_free(c.id);
		c.id = NULL;
	}
	*out = c.id;
	return rc;
}

static int complete_end(struct walker *w, const char *path, const char *text,
			size_t len)
{
	(void)w;
	(void)path;
	(void)text;
	(void)len;
	return 0;
}

int s3_xml_complete(struct s3_xml_error *e, const char *xml, size_t len,
		    struct lc_err *err)
{
	struct walker w = { .err = err, .on_end = complete_end };
	int rc;

	memset(e, 0, sizeof(*e));
	rc = walk(&w, xml, len);
	if (rc)
		return rc;
	if (!strcmp(w.got_root, "CompleteMultipartUploadResult"))
		return 0;
	if (!strcmp(w.got_root, "Error")) {
		s3_xml_error(e, xml, len);
		return EAGAIN;
	}
	return LC_CORRUPT(err, "multipart: unexpected <%.60s> completing an "
			  "upload", w.got_root);
}
