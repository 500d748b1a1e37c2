/*
 * countstore.h - an object store over another that counts what is read
 * through it, so a test can tell how many bytes a call cost: its stats
 * report the reads as requests and bytes_fetched (the local and memory
 * backends count nothing themselves). A test may also give every object
 * one etag (so the read cache keeps local objects) and fail reads.
 */
#ifndef COUNTSTORE_H
#define COUNTSTORE_H

#include <stdatomic.h>

#include "ostore.h"

struct count_store {
	struct ostore base;
	struct ostore *inner;
	atomic_ullong reads, bytes;
	char *etag;		/* if set, every object's identity */
	/* if set, called before each read: nonzero fails it with that */
	int (*fail_read)(const struct ostore_obj *o, struct lc_err *err);
};

struct count_obj {
	struct ostore_obj base;
	struct ostore_obj *inner;
};

static int count_open(struct ostore *st, const char *key,
		      struct ostore_obj **out, struct lc_err *err)
{
	struct count_store *cs = (struct count_store *)st;
	struct count_obj *o = lc_calloc(1, sizeof(*o));
	int rc;

	if (!o)
		return LC_NOMEM(err);
	rc = ostore_open(&o->inner, cs->inner, key, err);
	if (rc) {
		lc_free(o);
		return rc;
	}
	o->base.st = st;
	o->base.key = o->inner->key;
	o->base.size = o->inner->size;
	o->base.etag = cs->etag ? cs->etag : o->inner->etag;
	*out = &o->base;
	return 0;
}

static int count_read(struct ostore_obj *obj, uint64_t off, size_t len,
		      void *buf, struct lc_err *err)
{
	struct count_store *cs = (struct count_store *)obj->st;
	int rc = cs->fail_read ? cs->fail_read(obj, err) : 0;

	if (rc)
		return rc;
	atomic_fetch_add(&cs->reads, 1);
	atomic_fetch_add(&cs->bytes, len);
	return ostore_read(((struct count_obj *)obj)->inner, off, len, buf,
			   err);
}

static void count_close(struct ostore_obj *obj)
{
	ostore_close(((struct count_obj *)obj)->inner);
	lc_free(obj);
}

static int count_list(struct ostore *st, const char *dir, ostore_list_cb cb,
		      void *ctx, struct lc_err *err)
{
	return ostore_list(((struct count_store *)st)->inner, dir, cb, ctx,
			   err);
}

static int count_put(struct ostore *st, const char *key, const void *data,
		     size_t len, int if_absent, struct lc_err *err)
{
	return ostore_put(((struct count_store *)st)->inner, key, data, len,
			  if_absent, err);
}

static int count_del(struct ostore *st, const char *key, struct lc_err *err)
{
	return ostore_delete(((struct count_store *)st)->inner, key, err);
}

static int count_sub(struct ostore *st, const char *dir, struct ostore **out,
		     struct lc_err *err)
{
	/* reads through a sub-store are not counted */
	return ostore_sub(out, ((struct count_store *)st)->inner, dir, err);
}

static void count_stats(struct ostore *st, struct ostore_stats *out)
{
	struct count_store *cs = (struct count_store *)st;

	out->requests += atomic_load(&cs->reads);
	out->bytes_fetched += atomic_load(&cs->bytes);
}

static void count_free(struct ostore *st)
{
	struct count_store *cs = (struct count_store *)st;

	ostore_free(cs->inner);
	lc_free(cs);
}

static const struct ostore_ops count_ops = {
	.kind = OSTORE_KIND_UNKNOWN,
	.open = count_open,
	.read = count_read,
	.close = count_close,
	.list = count_list,
	.put = count_put,
	.del = count_del,
	.sub = count_sub,
	.stats = count_stats,
	.free = count_free,
};

/* Wrap `inner` (taken over, also when this fails). */
static inline int count_store_new(struct ostore **out, struct ostore *inner,
				  struct lc_err *err)
{
	struct count_store *cs = lc_calloc(1, sizeof(*cs));

	*out = NULL;
	if (!cs) {
		ostore_free(inner);
		return LC_NOMEM(err);
	}
	cs->base.ops = &count_ops;
	cs->base.root = inner->root;
	cs->base.conf = inner->conf;
	cs->inner = inner;
	*out = &cs->base;
	return 0;
}

/* Bytes read through the store so far. */
static inline uint64_t count_store_bytes(struct ostore *st)
{
	struct ostore_stats s;

	ostore_stats(st, &s);
	return s.bytes_fetched;
}

#endif
