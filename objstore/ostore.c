/* ostore.c - URI parsing and the thin dispatch over backends. */
#include "ostore.h"
#include "s3_int.h"

#include <stdio.h>
#include <stdlib.h>

int ostore_check_key(const char *key, struct lc_err *err)
{
	const char *p = key;

	/* Keys come from manifests: refuse anything that climbs out. */
	if (*p == '/')
		return LC_CORRUPT(err, "%s: absolute key", key);
	while (*p) {
		if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || !p[2]))
			return LC_CORRUPT(err, "%s: key leaves the dataset",
					  key);
		p = strchr(p, '/');
		if (!p)
			break;
		p++;
	}
	return 0;
}

bool ostore_local_path(char *out, size_t cap, const char *uri)
{
	bool file = !strncmp(uri, "file://", 7);

	if (!file && strstr(uri, "://"))
		return false;
	snprintf(out, cap, "%s", file ? uri + 7 : uri);
	if (file)
		lc_pct_decode(out);	/* %-escaped, as Lance reads it */
	return true;
}

int ostore_open_uri(struct ostore **out, const char *uri,
		    const struct ostore_conf *conf, struct lc_err *err)
{
	const char *p = uri;
	char *path;
	int rc;

	*out = NULL;
	if (!strncmp(p, "s3://", 5) || !strncmp(p, "oss://", 6)) {
		rc = ostore_s3_new(out, uri, conf, err);
		goto opened;
	}
	if (!strncmp(p, "file://", 7)) {
		p += 7;
		if (*p != '/')
			return LC_USAGE(err, "%s: a file:// URI needs an "
					"absolute path", uri);
	} else if (strstr(p, "://")) {
		return lc_err_set(err, EPROTONOSUPPORT, LC_EK_USAGE,
				  __FILE__, __LINE__, "%s: unsupported URI "
				  "scheme (s3://, oss://, file:// or a path)",
				  uri);
	}
	if (!*p)
		return LC_USAGE(err, "empty dataset path");
	if (!(path = lc_malloc(strlen(uri) + 1)))
		return LC_NOMEM(err);
	(void)ostore_local_path(path, strlen(uri) + 1, uri);
	rc = ostore_local_new(out, path, err);
	lc_free(path);
opened:
	if (!rc)
		(*out)->conf = conf;
	/* Remote stores read through the cache; local files have the
	 * kernel's page cache. */
	if (!rc && (*out)->ops->kind != OSTORE_KIND_LOCAL &&
	    (*out)->ops->kind != OSTORE_KIND_MEM)
		rc = ostore_cache_wrap(out, *out, conf, err);
	return rc;
}

int ostore_sub(struct ostore **out, struct ostore *st, const char *dir,
	       struct lc_err *err)
{
	int rc;

	*out = NULL;
	if (!st->ops->sub)
		return LC_UNSUPPORTED(err, "%s: sub-stores of this backend",
				      st->root);
	rc = st->ops->sub(st, dir, out, err);
	if (!rc && !(*out)->conf)
		(*out)->conf = st->conf;
	return rc;
}

void ostore_stats(struct ostore *st, struct ostore_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (st && st->ops->stats)
		st->ops->stats(st, out);
}

void ostore_free(struct ostore *st)
{
	if (st)
		st->ops->free(st);
}

int ostore_open(struct ostore_obj **out, struct ostore *st, const char *key,
		struct lc_err *err)
{
	*out = NULL;
	return st->ops->open(st, key, out, err);
}

int ostore_read(struct ostore_obj *o, uint64_t off, size_t len, void *buf,
		struct lc_err *err)
{
	if (!lc_range_ok(off, len, o->size))
		return LC_CORRUPT(err, "%s: read of %zu bytes at %" PRIu64
				  " past its end (%" PRIu64 " bytes)",
				  o->key, len, off, o->size);
	if (!len)
		return 0;
	return o->st->ops->read(o, off, len, buf, err);
}

void ostore_close(struct ostore_obj *o)
{
	if (o)
		o->st->ops->close(o);
}

int ostore_get(uint8_t **out, size_t *len, struct ostore *st,
	       const char *key, size_t limit, struct lc_err *err)
{
	struct ostore_obj *o;
	uint8_t *buf;
	int rc;

	*out = NULL;
	*len = 0;
	rc = ostore_open(&o, st, key, err);
	if (rc)
		return rc;
	if (o->size > limit) {
		rc = LC_LIMIT(err, "%s: %" PRIu64 " bytes, more than the "
			      "%zu allowed", key, o->size, limit);
		goto out;
	}
	buf = lc_malloc((size_t)o->size + 1);
	if (!buf) {
		rc = LC_NOMEM(err);
		goto out;
	}
	rc = ostore_read(o, 0, (size_t)o->size, buf, err);
	if (rc) {
		lc_free(buf);
		goto out;
	}
	buf[o->size] = 0;
	*out = buf;
	*len = (size_t)o->size;
out:
	ostore_close(o);
	return rc;
}

int ostore_list(struct ostore *st, const char *dir, ostore_list_cb cb,
		void *ctx, struct lc_err *err)
{
	return st->ops->list(st, dir, cb, ctx, err);
}

int ostore_put(struct ostore *st, const char *key, const void *data,
	       size_t len, int if_absent, struct lc_err *err)
{
	return st->ops->put(st, key, data, len, if_absent, err);
}

int ostore_delete(struct ostore *st, const char *key, struct lc_err *err)
{
	return st->ops->del(st, key, err);
}
