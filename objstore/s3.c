/*
 * s3.c - the S3 backend (s3://bucket/prefix, and oss://bucket/prefix for
 * Alibaba OSS through its S3 API): HEAD to open, ranged GETs straight
 * into the caller's buffer, ListObjectsV2 with a delimiter, PUT (multipart
 * above MULTIPART_PART bytes) and DELETE. Transport, signing and retries
 * live in s3http.c; this file decides what to ask and checks what came
 * back.
 *
 * Addressing: with endpoint= requests are path-style
 * (endpoint/bucket/key) unless virtual_hosted_style_request=true; without
 * one they go virtual-hosted to https://bucket.s3.REGION.amazonaws.com
 * (path-style for bucket names with dots, which break the wildcard
 * certificate). oss:// is always virtual-hosted. A virtual host whose
 * endpoint is an IP address or localhost is pinned to that address with
 * CURLOPT_RESOLVE, so bucket.localhost works with no DNS.
 *
 * Put-if-absent: If-None-Match: * (x-oss-forbid-overwrite: true for
 * OSS); 412 (409 on OSS) is EEXIST, as the local backend answers. When
 * that refusal follows a retry of our own PUT, the first attempt may have
 * landed before its answer was lost: the object is read back and, if it
 * holds our bytes, the put succeeded.
 */
#include "s3_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#define MULTIPART_PART (8u << 20)
#define MULTIPART_THREADS 4
#define LIST_PAGE_LIMIT (32u << 20)

struct s3_store {
	struct ostore base;
	struct s3_conn *c;
	char *prefix;		/* key prefix in the bucket, no '/' at ends */
};

static struct s3_store *to_s3(struct ostore *st)
{
	return (struct s3_store *)st;
}

/* ---- addressing --------------------------------------------------- */

static bool truthy(const char *v)
{
	return v && (!strcasecmp(v, "true") || !strcmp(v, "1") ||
		     !strcasecmp(v, "yes"));
}

static int bool_opt(const struct ostore_conf *conf, const char *key,
		    int *out, struct lc_err *err)
{
	const char *v = ostore_conf_get(conf, key);

	*out = -1;
	if (!v)
		return 0;
	if (truthy(v))
		*out = 1;
	else if (!strcasecmp(v, "false") || !strcmp(v, "0") ||
		 !strcasecmp(v, "no"))
		*out = 0;
	else
		return LC_USAGE(err, "%s=%s: expected true or false", key, v);
	return 0;
}

static const char *first_env(const char *a, const char *b, const char *c)
{
	const char *names[3] = { a, b, c };

	for (int i = 0; i < 3; i++) {
		const char *v = names[i] ? getenv(names[i]) : NULL;

		if (v && *v)
			return v;
	}
	return NULL;
}

static bool bucket_ok(const char *b, size_t n)
{
	if (!n || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = b[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
		      ch == '_'))
			return false;
	}
	return true;
}

/* "http(s)://host[:port][/]" into the address. */
static int parse_endpoint(struct s3_addr *a, const char *ep, bool allow_http,
			  struct lc_err *err)
{
	const char *h, *he, *p;
	char *end;

	if (!strncasecmp(ep, "https://", 8)) {
		a->https = true;
		h = ep + 8;
	} else if (!strncasecmp(ep, "http://", 7)) {
		h = ep + 7;
		if (!allow_http)
			return LC_USAGE(err, "endpoint=%s: plain HTTP needs "
					"allow_http=true", ep);
	} else {
		return LC_USAGE(err, "endpoint=%s: expected http:// or "
				"https://", ep);
	}
	if (*h == '[') {
		he = strchr(h, ']');
		if (!he)
			return LC_USAGE(err, "endpoint=%s: unclosed [", ep);
		he++;
	} else {
		he = h + strcspn(h, ":/?#@");
	}
	if (he == h)
		return LC_USAGE(err, "endpoint=%s: no host", ep);
	p = he;
	if (*p == ':') {
		unsigned long port = strtoul(p + 1, &end, 10);

		if (end == p + 1 || port == 0 || port > 65535)
			return LC_USAGE(err, "endpoint=%s: bad port", ep);
		a->port = (unsigned)port;
		p = end;
	}
	if (*p && strcmp(p, "/"))
		return LC_USAGE(err, "endpoint=%s: a path, query or user in "
				"the endpoint is not supported", ep);
	a->connect_host = lc_strndup(h, (size_t)(he - h));
	return a->connect_host ? 0 : LC_NOMEM(err);
}

/* Where a bucket.localhost or bucket.<ip> name really points. */
static const char *pinned_address(const char *host, char *buf, size_t cap)
{
	size_t n = strlen(host);
	unsigned char tmp[16];

	if (!strcasecmp(host, "localhost") ||
	    (n > 10 && !strcasecmp(host + n - 10, ".localhost")))
		return "127.0.0.1";
	if (inet_pton(AF_INET, host, tmp) == 1)
		return host;
	if (n > 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < cap) {
		memcpy(buf, host + 1, n - 2);
		buf[n - 2] = 0;
		if (inet_pton(AF_INET6, buf, tmp) == 1)
			return host;
	}
	return NULL;
}

static int finish_hosts(struct s3_addr *a, struct lc_err *err)
{
	size_t bl = strlen(a->bucket);
	unsigned port = a->port ? a->port : (a->https ? 443 : 80);
	char buf[64], tmp[600];
	const char *pin;

	/* a vhost endpoint that already names the bucket is used as is */
	if (a->vhost && !(strncasecmp(a->connect_host, a->bucket, bl) == 0 &&
			  a->connect_host[bl] == '.')) {
		snprintf(tmp, sizeof(tmp), "%s.%s", a->bucket,
			 a->connect_host);
		a->host = lc_strdup(tmp);
	} else {
		a->host = lc_strdup(a->connect_host);
	}
	if (!a->host)
		return LC_NOMEM(err);
	if (a->port)
		snprintf(tmp, sizeof(tmp), "%s:%u", a->host, a->port);
	else
		snprintf(tmp, sizeof(tmp), "%s", a->host);
	a->host_header = lc_strdup(tmp);
	if (!a->host_header)
		return LC_NOMEM(err);
	pin = pinned_address(a->connect_host, buf, sizeof(buf));
	if (a->vhost && strcmp(a->host, a->connect_host) && pin) {
		snprintf(tmp, sizeof(tmp), "%s:%u:%s", a->host, port, pin);
		a->resolve = lc_strdup(tmp);
		if (!a->resolve)
			return LC_NOMEM(err);
	}
	return 0;
}

static int parse_uri(struct s3_addr *a, const char *uri, struct lc_err *err)
{
	const char *b, *slash, *p, *e;

	if (!strncmp(uri, "s3://", 5)) {
		b = uri + 5;
	} else if (!strncmp(uri, "oss://", 6)) {
		b = uri + 6;
		a->oss = true;
	} else {
		return LC_USAGE(err, "%s: not an s3:// or oss:// URI", uri);
	}
	slash = b + strcspn(b, "/");
	if (!bucket_ok(b, (size_t)(slash - b)))
		return LC_USAGE(err, "%s: bad bucket name", uri);
	a->bucket = lc_strndup(b, (size_t)(slash - b));
	p = slash;
	while (*p == '/')
		p++;
	e = p + strlen(p);
	while (e > p && e[-1] == '/')
		e--;
	a->prefix = lc_strndup(p, (size_t)(e - p));
	if (!a->bucket || !a->prefix)
		return LC_NOMEM(err);
	lc_pct_decode(a->prefix);	/* as LanceDB names the keys */
	return 0;
}

int s3_addr_init(struct s3_addr *a, const char *uri,
		 const struct ostore_conf *conf, struct lc_err *err)
{
	const char *ep = ostore_conf_get(conf, "endpoint");
	const char *region = ostore_conf_get(conf, "region");
	bool allow_http = truthy(ostore_conf_get(conf, "allow_http")) ||
			  truthy(getenv("AWS_ALLOW_HTTP"));
	char host[300];
	int vh, rc;

	memset(a, 0, sizeof(*a));
	rc = parse_uri(a, uri, err);
	if (!rc)
		rc = bool_opt(conf, "virtual_hosted_style_request", &vh, err);
	if (rc)
		return rc;
	if (!ep)
		ep = first_env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL",
			       a->oss ? "OSS_ENDPOINT" : NULL);
	if (!region)
		region = first_env("AWS_REGION", "AWS_DEFAULT_REGION",
				   a->oss ? "OSS_REGION" : NULL);
	if (a->oss && vh == 0)
		return LC_USAGE(err, "%s: OSS takes virtual-hosted requests "
				"only (virtual_hosted_style_request=false)",
				uri);
	if (!region && a->oss && !ep)
		return LC_USAGE(err, "%s: give endpoint= or region= (e.g. "
				"region=cn-hangzhou)", uri);
	a->region = lc_strdup(region ? region : "us-east-1");
	if (!a->region)
		return LC_NOMEM(err);
	if (ep) {
		rc = parse_endpoint(a, ep, allow_http, err);
		a->vhost = a->oss || vh == 1;
	} else {
		snprintf(host, sizeof(host), a->oss ? "s3.oss-%s.aliyuncs.com"
			 : "s3.%s.amazonaws.com", a->region);
		a->https = true;
		a->connect_host = lc_strdup(host);
		rc = a->connect_host ? 0 : LC_NOMEM(err);
		/* dotted names break *.s3.amazonaws.com certificates */
		a->vhost = a->oss || (vh == 1) ||
			   (vh == -1 && !strchr(a->bucket, '.'));
	}
	if (!rc)
		rc = finish_hosts(a, err);
	return rc;
}

void s3_addr_reset(struct s3_addr *a)
{
	lc_free(a->bucket);
	lc_free(a->prefix);
	lc_free(a->host);
	lc_free(a->connect_host);
	lc_free(a->host_header);
	lc_free(a->resolve);
	lc_free(a->region);
	memset(a, 0, sizeof(*a));
}

int s3_addr_path(struct lc_buf *b, const struct s3_addr *a, const char *key,
		 struct lc_err *err)
{
	if (a->vhost)
		return lc_buf_printf(b, err, "/%s", key);
	return lc_buf_printf(b, err, "/%s%s%s", a->bucket, *key ? "/" : "",
			     key);
}

/* ---- keys --------------------------------------------------------- */

/* prefix + "/" + key into a new string (just key at the bucket root),
 * with room for one more '/' at the end (listing prefixes). */
static char *full_key(const struct s3_store *s, const char *key)
{
	size_t pl = strlen(s->prefix), kl = strlen(key);
	char *k = lc_malloc(pl + kl + 3);

	if (!k)
		return NULL;
	if (pl && kl)
		snprintf(k, pl + kl + 3, "%s/%s", s->prefix, key);
	else
		snprintf(k, pl + kl + 3, "%s%s", s->prefix, key);
	return k;
}

/* ---- open / read -------------------------------------------------- */

static int s3_open(struct ostore *st, const char *key,
		   struct ostore_obj **out, struct lc_err *err)
{
	struct s3_store *s = to_s3(st);
	struct s3_req r = { .method = "HEAD" };
	struct ostore_obj *o;
	char *fk;
	int rc;

	rc = ostore_check_key(key, err);
	if (rc)
		return rc;
	if (!*key)
		return LC_NOTFOUND(err, "%s: empty key", st->root);
	fk = full_key(s, key);
	if (!fk)
		return LC_NOMEM(err);
	r.key = fk;
	rc = s3_do(s->c, &r, err);
	if (!rc && r.status != 200)
		rc = s3_fail(s->c, &r, fk, err);
	if (!rc && !r.has_length)
		rc = S3_REMOTE(err, EIO, "%s/%s: HEAD without Content-Length",
			       st->root, key);
	if (rc)
		goto out;
	o = lc_calloc(1, sizeof(*o));
	if (!o || !(o->key = lc_strdup(key)) ||
	    (r.etag[0] && !(o->etag = lc_strdup(r.etag)))) {
		if (o)
			lc_free(o->key);
		lc_free(o);
		rc = LC_NOMEM(err);
		goto out;
	}
	o->st = st;
	o->size = r.content_length;
	*out = o;
out:
	s3_req_reset(&r);
	lc_free(fk);
	return rc;
}

/* "bytes a-b/total" */
static bool parse_range(const char *s, uint64_t *a, uint64_t *b,
			uint64_t *total)
{
	unsigned long long x, y, t;
	int n = 0;

	if (sscanf(s, "bytes %llu-%llu/%llu%n", &x, &y, &t, &n) != 3 ||
	    s[n])
		return false;
	*a = x;
	*b = y;
	*total = t;
	return true;
}

/* The answer to a ranged GET holds exactly the bytes asked, or it is
 * refused: never hand wrong bytes upward. */
static int check_range(const struct ostore_obj *o, const struct s3_req *r,
		       uint64_t off, size_t len, struct lc_err *err)
{
	uint64_t a, b, total;

	if (o->etag && r->etag[0] && strcmp(o->etag, r->etag))
		return S3_REMOTE(err, EIO, "%s/%s: replaced since it was "
				 "opened (ETag %s, now %s)", o->st->root,
				 o->key, o->etag, r->etag);
	if (r->status == 206) {
		bool parsed = parse_range(r->content_range, &a, &b, &total);

		if (parsed && total != o->size)
			return S3_REMOTE(err, EIO, "%s/%s: now %" PRIu64
					 " bytes, was %" PRIu64 " when opened",
					 o->st->root, o->key, total, o->size);
		if (!parsed || a != off || b != off + len - 1)
			return S3_REMOTE(err, EIO, "%s/%s: asked bytes %" PRIu64
					 "-%" PRIu64 ", got Content-Range "
					 "\"%s\"", o->st->root, o->key, off,
					 off + len - 1, r->content_range);
	} else if (r->status != 200 || off != 0 || len != o->size) {
		return S3_REMOTE(err, EIO, "%s/%s: ranged GET answered HTTP "
				 "%ld", o->st->root, o->key, r->status);
	}
	if (r->dst_got != len)
		return S3_REMOTE(err, EIO, "%s/%s: got %zu bytes, asked %zu",
				 o->st->root, o->key, r->dst_got, len);
	return 0;
}

static int s3_read(struct ostore_obj *o, uint64_t off, size_t len, void *buf,
		   struct lc_err *err)
{
	struct s3_store *s = to_s3(o->st);
	struct s3_req r = { .method = "GET", .dst = buf, .dst_len = len,
			    .resp_limit = 64 << 10 };
	char range[64], *fk;
	int rc;

	fk = full_key(s, o->key);
	if (!fk)
		return LC_NOMEM(err);
	snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, off,
		 off + len - 1);
	r.key = fk;
	r.hdrs[r.n_hdrs++] = (struct s3_kv){ "range", range };
	if (s->c->addr.oss)
		r.hdrs[r.n_hdrs++] = (struct s3_kv){ "x-oss-range-behavior",
						     "standard" };
	rc = s3_do(s->c, &r, err);
	if (!rc && r.status != 206 && r.status != 200)
		rc = s3_fail(s->c, &r, fk, err);
	if (!rc)
		rc = check_range(o, &r, off, len, err);
	s3_req_reset(&r);
	lc_free(fk);
	return rc;
}

static void s3_close(struct ostore_obj *o)
{
	lc_free(o->key);
	lc_free(o->etag);
	lc_free(o);
}

/* ---- list --------------------------------------------------------- */

static int list_page(struct s3_store *s, const char *pfx, const char *token,
		     struct s3_list_page *pg, const char *max_keys,
		     struct lc_err *err)
{
	struct s3_req r = { .method = "GET", .key = "",
			    .resp_limit = LIST_PAGE_LIMIT };
	int rc;

	r.query[r.n_query++] = (struct s3_kv){ "list-type", "2" };
	r.query[r.n_query++] = (struct s3_kv){ "prefix", pfx };
	r.query[r.n_query++] = (struct s3_kv){ "delimiter", "/" };
	r.query[r.n_query++] = (struct s3_kv){ "encoding-type", "url" };
	if (token)
		r.query[r.n_query++] = (struct s3_kv){ "continuation-token",
						       token };
	if (max_keys)
		r.query[r.n_query++] = (struct s3_kv){ "max-keys", max_keys };
	rc = s3_do(s->c, &r, err);
	if (!rc && r.status != 200)
		rc = s3_fail(s->c, &r, pfx, err);
	if (!rc)
		rc = s3_xml_list(pg, r.resp.data ? (char *)r.resp.data : "",
				 r.resp.len, err);
	if (rc && r.status == 200)
		lc_err_prefix(err, "%s://%s list %s: ",
			      s->c->addr.oss ? "oss" : "s3", s->c->addr.bucket,
			      pfx);
	s3_req_reset(&r);
	return rc;
}

/* Hand one page's children of `pfx` to the callback. */
static int emit(const struct s3_list_page *pg, const char *pfx,
		ostore_list_cb cb, void *ctx)
{
	size_t pl = strlen(pfx);
	int rc = 0;

	for (size_t i = 0; i < pg->n_prefixes && !rc; i++) {
		const char *n = pg->prefixes[i].name;
		size_t nl = strlen(n);
		char name[1100];
		struct ostore_entry e = { .name = name, .is_dir = 1 };

		if (nl <= pl + 1 || strncmp(n, pfx, pl) || n[nl - 1] != '/' ||
		    nl - pl - 1 >= sizeof(name))
			continue;
		memcpy(name, n + pl, nl - pl - 1);
		name[nl - pl - 1] = 0;
		rc = cb(ctx, &e);
	}
	for (size_t i = 0; i < pg->n_keys && !rc; i++) {
		const char *n = pg->keys[i].name;
		struct ostore_entry e = { .size = pg->keys[i].size,
					  .mtime = pg->keys[i].mtime };

		/* "dir/" markers list as an empty name: not an entry */
		if (strncmp(n, pfx, pl) || !n[pl] || strchr(n + pl, '/'))
			continue;
		e.name = n + pl;
		rc = cb(ctx, &e);
	}
	return rc;
}

static int s3_list(struct ostore *st, const char *dir, ostore_list_cb cb,
		   void *ctx, struct lc_err *err)
{
	struct s3_store *s = to_s3(st);
	struct s3_list_page pg;
	char *pfx = NULL, *token = NULL;
	size_t n;
	int rc;

	rc = *dir ? ostore_check_key(dir, err) : 0;
	if (rc)
		return rc;
	pfx = full_key(s, dir);
	if (!pfx)
		return LC_NOMEM(err);
	n = strlen(pfx);
	while (n && pfx[n - 1] == '/')
		pfx[--n] = 0;
	if (n) {
		/* full_key left room for this '/' */
		pfx[n] = '/';
		pfx[n + 1] = 0;
	}
	do {
		rc = list_page(s, pfx, token, &pg, NULL, err);
		if (rc)
			break;
		rc = emit(&pg, pfx, cb, ctx);
		if (!rc && pg.truncated && token &&
		    !strcmp(token, pg.next_token))
			rc = S3_REMOTE(err, EIO, "%s: listing %s repeats its "
				       "continuation token", st->root, pfx);
		lc_free(token);
		token = NULL;
		if (!rc && pg.truncated) {
			token = pg.next_token;
			pg.next_token = NULL;
		}
		s3_list_page_reset(&pg);
	} while (!rc && token);
	lc_free(token);
	lc_free(pfx);
	return rc;
}

/* ---- put ---------------------------------------------------------- */

/* After a retried conditional PUT was refused: is what is there ours? */
static bool holds_our_bytes(struct s3_store *s, const char *fk,
			    const void *data, size_t len)
{
	struct s3_req r = { .method = "GET", .key = fk,
			    .resp_limit = len + 1 };
	struct lc_err tmp = { 0 };
	bool same;

	if (s3_do(s->c, &r, &tmp)) {
		s3_req_reset(&r);
		return false;
	}
	same = r.status == 200 && r.resp.len == len &&
	       (!len || !memcmp(r.resp.data, data, len));
	s3_req_reset(&r);
	return same;
}

static bool refused_as_existing(const struct s3_store *s,
				const struct s3_req *r)
{
	if (s->c->addr.oss)
		return r->status == 409 &&
		       (!r->xerr.code[0] ||
			!strcmp(r->xerr.code, "FileAlreadyExists"));
	return r->status == 412 || r->status == 409;
}

static int put_single(struct s3_store *s, const char *key, const char *fk,
		      const void *data, size_t len, int if_absent,
		      struct lc_err *err)
{
	struct s3_req r = { .method = "PUT", .key = fk, .body = data,
			    .body_len = len, .resp_limit = 64 << 10 };
	int rc;

	if (if_absent && s->c->addr.oss)
		r.hdrs[r.n_hdrs++] = (struct s3_kv){ "x-oss-forbid-overwrite",
						     "true" };
	else if (if_absent)
		r.hdrs[r.n_hdrs++] = (struct s3_kv){ "if-none-match", "*" };
	rc = s3_do(s->c, &r, err);
	if (rc || r.status == 200)
		goto out;
	if (if_absent && refused_as_existing(s, &r)) {
		if (r.maybe_done && holds_our_bytes(s, fk, data, len))
			goto out;	/* our lost first attempt landed */
		rc = lc_err_set(err, EEXIST, LC_EK_NONE, __FILE__, __LINE__,
				"%s/%s: already exists", s->base.root, key);
		goto out;
	}
	rc = s3_fail(s->c, &r, fk, err);
	/* an attempt before had no answer and may have landed: the last
	 * one's refusal does not say it did not */
	if (if_absent && r.maybe_done && rc != EEXIST) {
		lc_err_prefix(err, "an earlier attempt may have landed: ");
		err->code = rc = ETIMEDOUT;
		err->kind = LC_EK_REMOTE;
	}
out:
	s3_req_reset(&r);
	return rc;
}

struct mp {
	struct s3_store *s;
	const char *fk;
	const char *upload_id;
	const uint8_t *data;
	size_t len;
	size_t n_parts;
	char (*etags)[130];
	atomic_size_t next;
	atomic_bool failed;
	pthread_mutex_t mu;
	struct lc_err err;	/* the first failure; protected by mu */
	int rc;
};

static int put_part(struct mp *m, size_t i, struct lc_err *err)
{
	size_t off = i * (size_t)MULTIPART_PART;
	size_t n = m->len - off < MULTIPART_PART ? m->len - off :
		   MULTIPART_PART;
	char num[24];
	struct s3_req r = { .method = "PUT", .key = m->fk,
			    .body = m->data + off, .body_len = n,
			    .resp_limit = 64 << 10 };
	int rc;

	snprintf(num, sizeof(num), "%zu", i + 1);
	r.query[r.n_query++] = (struct s3_kv){ "partNumber", num };
	r.query[r.n_query++] = (struct s3_kv){ "uploadId", m->upload_id };
	rc = s3_do(m->s->c, &r, err);
	if (!rc && r.status != 200)
		rc = s3_fail(m->s->c, &r, m->fk, err);
	if (!rc && !r.etag[0])
		rc = S3_REMOTE(err, EIO, "%s: part %zu stored without an "
			       "ETag", m->fk, i + 1);
	if (!rc)
		snprintf(m->etags[i], sizeof(m->etags[i]), "%s", r.etag);
	s3_req_reset(&r);
	return rc;
}

static void *part_worker(void *arg)
{
	struct mp *m = arg;
	size_t i;

	while (!atomic_load(&m->failed) &&
	       (i = atomic_fetch_add(&m->next, 1)) < m->n_parts) {
		struct lc_err e = { 0 };
		int rc = put_part(m, i, &e);

		if (!rc)
			continue;
		atomic_store(&m->failed, true);
		pthread_mutex_lock(&m->mu);
		if (!m->rc) {
			m->rc = rc;
			m->err = e;
		}
		pthread_mutex_unlock(&m->mu);
	}
	return NULL;
}

static int mp_initiate(struct s3_store *s, const char *fk, char **id,
		       struct lc_err *err)
{
	struct s3_req r = { .method = "POST", .key = fk,
			    .body = (const uint8_t *)"", .body_len = 0 };
	int rc;

	r.query[r.n_query++] = (struct s3_kv){ "uploads", NULL };
	rc = s3_do(s->c, &r, err);
	if (!rc && r.status != 200)
		rc = s3_fail(s->c, &r, fk, err);
	if (!rc)
		rc = s3_xml_upload_id(id, r.resp.data ? (char *)r.resp.data :
				      "", r.resp.len, err);
	s3_req_reset(&r);
	return rc;
}

static int mp_body(struct lc_buf *b, const struct mp *m, struct lc_err *err)
{
	int rc = lc_buf_printf(b, err, "<CompleteMultipartUpload>");

	for (size_t i = 0; i < m->n_parts && !rc; i++) {
		/* ETags are quoted hex: nothing to escape, but refuse
		 * anything that would need it */
		if (strpbrk(m->etags[i], "<>&"))
			return S3_REMOTE(err, EIO, "%s: odd ETag on part %zu",
					 m->fk, i + 1);
		rc = lc_buf_printf(b, err, "<Part><PartNumber>%zu</PartNumber>"
				   "<ETag>%s</ETag></Part>", i + 1,
				   m->etags[i]);
	}
	if (!rc)
		rc = lc_buf_printf(b, err, "</CompleteMultipartUpload>");
	return rc;
}

/* A retried complete that finds the upload gone: did the first land? */
static bool landed(struct s3_store *s, const char *fk, size_t len)
{
	struct s3_req r = { .method = "HEAD", .key = fk };
	struct lc_err tmp = { 0 };
	bool ok = !s3_do(s->c, &r, &tmp) && r.status == 200 &&
		  r.has_length && r.content_length == len;

	s3_req_reset(&r);
	return ok;
}

static int mp_complete(struct mp *m, struct lc_err *err)
{
	struct s3_store *s = m->s;
	struct lc_buf body;
	int rc;

	lc_buf_init(&body, 0);
	rc = mp_body(&body, m, err);
	for (unsigned tries = 0; !rc; tries++) {
		struct s3_req r = { .method = "POST", .key = m->fk,
				    .body = body.data, .body_len = body.len };
		struct s3_xml_error xe;

		r.query[r.n_query++] = (struct s3_kv){ "uploadId",
						       m->upload_id };
		rc = s3_do(s->c, &r, err);
		if (!rc && r.status == 404 && tries + r.attempts > 1 &&
		    !strcmp(r.xerr.code, "NoSuchUpload") &&
		    landed(s, m->fk, m->len)) {
			s3_req_reset(&r);
			break;
		}
		if (!rc && r.status != 200)
			rc = s3_fail(s->c, &r, m->fk, err);
		if (!rc)
			rc = s3_xml_complete(&xe, r.resp.data ?
					     (char *)r.resp.data : "",
					     r.resp.len, err);
		s3_req_reset(&r);
		if (rc != EAGAIN)
			break;
		/* 200 carrying <Error>: S3 says retry the complete */
		if (tries >= s->c->max_retries) {
			rc = S3_REMOTE(err, EIO, "%s: completing the upload "
				       "failed: %s %s", m->fk, xe.code,
				       xe.message);
			break;
		}
		rc = 0;
		atomic_fetch_add(&s->c->n_retries, 1);
		s3_backoff(tries);
	}
	lc_buf_reset(&body);
	return rc;
}

static void mp_abort(struct s3_store *s, const char *fk, const char *id)
{
	struct s3_req r = { .method = "DELETE", .key = fk };
	struct lc_err tmp = { 0 };

	r.query[r.n_query++] = (struct s3_kv){ "uploadId", id };
	/* best effort: an upload left behind expires by the bucket's
	 * rules; the reply goes either way (a failure's body too) */
	if (s3_do(s->c, &r, &tmp))
		lc_err_clear(&tmp);
	s3_req_reset(&r);
}

static int put_multipart(struct s3_store *s, const char *fk,
			 const void *data, size_t len, struct lc_err *err)
{
	struct mp m = { .s = s, .fk = fk, .data = data, .len = len };
	pthread_t th[MULTIPART_THREADS];
	size_t nt = 0, want;
	char *id = NULL;
	int rc;

	m.n_parts = (len + MULTIPART_PART - 1) / MULTIPART_PART;
	if (m.n_parts > 10000)
		return LC_LIMIT(err, "%s: %zu bytes need more than 10000 "
				"parts", fk, len);
	m.etags = lc_calloc(m.n_parts, sizeof(*m.etags));
	if (!m.etags)
		return LC_NOMEM(err);
	rc = mp_initiate(s, fk, &id, err);
	if (rc)
		goto out;
	m.upload_id = id;
	atomic_init(&m.next, 0);
	atomic_init(&m.failed, false);
	pthread_mutex_init(&m.mu, NULL);
	want = m.n_parts < MULTIPART_THREADS ? m.n_parts : MULTIPART_THREADS;
	/* this thread works too; the rest start beside it */
	for (; nt + 1 < want; nt++)
		if (lc_thread_start(&th[nt], "lancefs upload", part_worker, &m))
			break;
	part_worker(&m);
	for (size_t i = 0; i < nt; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&m.mu);
	rc = m.rc;
	if (rc)
		lc_err_set(err, m.err.code, m.err.kind, m.err.file,
			   m.err.line, "%s", m.err.msg);
	if (!rc)
		rc = mp_complete(&m, err);
	if (rc)
		mp_abort(s, fk, id);
out:
	lc_free(id);
	lc_free(m.etags);
	return rc;
}

static int s3_put(struct ostore *st, const char *key, const void *data,
		  size_t len, int if_absent, struct lc_err *err)
{
	struct s3_store *s = to_s3(st);
	char *fk;
	int rc = ostore_check_key(key, err);

	if (rc)
		return rc;
	if (!*key)
		return LC_USAGE(err, "%s: empty key", st->root);
	/* multipart has no atomic create on RGW (it ignores If-None-Match
	 * on complete); manifests are small, so refuse instead */
	if (if_absent && len > MULTIPART_PART)
		return LC_LIMIT(err, "%s/%s: a create-only put of %zu bytes; "
				"at most %u", st->root, key, len,
				MULTIPART_PART);
	fk = full_key(s, key);
	if (!fk)
		return LC_NOMEM(err);
	if (len > MULTIPART_PART)
		rc = put_multipart(s, fk, data, len, err);
	else
		rc = put_single(s, key, fk, data, len, if_absent, err);
	lc_free(fk);
	return rc;
}

static int s3_del(struct ostore *st, const char *key, struct lc_err *err)
{
	struct s3_store *s = to_s3(st);
	struct s3_req r = { .method = "DELETE" };
	char *fk;
	int rc = ostore_check_key(key, err);

	if (rc)
		return rc;
	fk = full_key(s, key);
	if (!fk)
		return LC_NOMEM(err);
	r.key = fk;
	rc = s3_do(s->c, &r, err);
	/* deleting what is not there succeeds, as unlink of ENOENT does
	 * in the local backend */
	if (!rc && !(r.status == 204 || r.status == 200 ||
		     (r.status == 404 &&
		      strcmp(r.xerr.code, "NoSuchBucket"))))
		rc = s3_fail(s->c, &r, fk, err);
	s3_req_reset(&r);
	lc_free(fk);
	return rc;
}

/* ---- store life --------------------------------------------------- */

static void s3_stats(struct ostore *st, struct ostore_stats *out)
{
	struct s3_conn *c = to_s3(st)->c;

	out->requests += atomic_load(&c->n_requests);
	out->retries += atomic_load(&c->n_retries);
	out->errors += atomic_load(&c->n_errors);
	out->bytes_fetched += atomic_load(&c->n_fetched);
	out->bytes_sent += atomic_load(&c->n_sent);
	out->in_flight += atomic_load(&c->n_in_flight);
}

static void s3_free(struct ostore *st)
{
	struct s3_store *s = to_s3(st);

	s3_conn_put(s->c);
	lc_free(s->prefix);
	lc_free(st->root);
	lc_free(s);
}

static int s3_sub(struct ostore *st, const char *dir, struct ostore **out,
		  struct lc_err *err);

static const struct ostore_ops s3_ops = {
	.kind = OSTORE_KIND_S3,
	.open = s3_open,
	.read = s3_read,
	.close = s3_close,
	.list = s3_list,
	.put = s3_put,
	.del = s3_del,
	.sub = s3_sub,
	.stats = s3_stats,
	.free = s3_free,
};

static int store_new(struct ostore **out, struct s3_conn *c,
		     const char *prefix, struct lc_err *err)
{
	struct s3_store *s = lc_calloc(1, sizeof(*s));
	size_t n;

	if (!s)
		return LC_NOMEM(err);
	n = strlen(c->addr.bucket) + strlen(prefix) + 8;
	s->prefix = lc_strdup(prefix);
	s->base.root = lc_malloc(n);
	if (!s->prefix || !s->base.root) {
		lc_free(s->prefix);
		lc_free(s->base.root);
		lc_free(s);
		return LC_NOMEM(err);
	}
	snprintf(s->base.root, n, "%s://%s%s%s", c->addr.oss ? "oss" : "s3",
		 c->addr.bucket, *prefix ? "/" : "", prefix);
	s->base.ops = &s3_ops;
	s->c = c;
	*out = &s->base;
	return 0;
}

static int s3_sub(struct ostore *st, const char *dir, struct ostore **out,
		  struct lc_err *err)
{
	struct s3_store *s = to_s3(st);
	char *p;
	size_t n;
	int rc = ostore_check_key(dir, err);

	if (rc)
		return rc;
	p = full_key(s, dir);
	if (!p)
		return LC_NOMEM(err);
	n = strlen(p);
	while (n && p[n - 1] == '/')
		p[--n] = 0;
	rc = store_new(out, s->c, p, err);
	lc_free(p);
	if (!rc)
		atomic_fetch_add(&s->c->refs, 1);
	return rc;
}

/* One cheap request, so a missing bucket or bad keys fail the mount
 * rather than the first read. A missing prefix is fine: a new dataset. */
static int probe(struct s3_store *s, struct lc_err *err)
{
	struct s3_list_page pg;
	char *pfx = full_key(s, "");
	size_t n;
	int rc;

	if (!pfx)
		return LC_NOMEM(err);
	n = strlen(pfx);
	if (n) {
		pfx[n] = '/';
		pfx[n + 1] = 0;
	}
	rc = list_page(s, pfx, NULL, &pg, "1", err);
	if (!rc)
		s3_list_page_reset(&pg);
	lc_free(pfx);
	return rc;
}

int ostore_s3_new(struct ostore **out, const char *uri,
		  const struct ostore_conf *conf, struct lc_err *err)
{
	struct s3_conn *c;
	int rc;

	*out = NULL;
	c = lc_malloc(sizeof(*c));
	if (!c)
		return LC_NOMEM(err);
	rc = s3_conn_init(c, uri, conf, err);
	if (rc) {
		s3_conn_put(c);
		return rc;
	}
	rc = store_new(out, c, c->addr.prefix, err);
	if (rc) {
		s3_conn_put(c);
		return rc;
	}
	rc = probe(to_s3(*out), err);
	if (rc) {
		ostore_free(*out);
		*out = NULL;
	}
	return rc;
}
