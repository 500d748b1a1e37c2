/*
 * mem.c - an in-memory backend: objects live in a sorted array. For tests
 * and fuzzers, which feed whole files through the same interface as the
 * real stores.
 */
#include "ostore.h"

#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>

struct mem_item {
	char *key;
	uint8_t *data;
	size_t len;
};

struct mem_store {
	struct ostore base;
	struct mem_item *items;
	size_t n;
};

struct mem_obj {
	struct ostore_obj base;
	const uint8_t *data;	/* valid until the key is overwritten */
};

static struct mem_store *to_mem(struct ostore *st)
{
	return (struct mem_store *)st;
}

static struct mem_item *mem_find(struct mem_store *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->items[i].key, key))
			return &m->items[i];
	return NULL;
}

static int mem_open(struct ostore *st, const char *key,
		    struct ostore_obj **out, struct lc_err *err)
{
	struct mem_item *it = mem_find(to_mem(st), key);
	struct mem_obj *o;

	if (!it)
		return LC_NOTFOUND(err, "%s: no such object", key);
	o = lc_calloc(1, sizeof(*o));
	if (!o || !(o->base.key = lc_strdup(key))) {
		lc_free(o);
		return LC_NOMEM(err);
	}
	o->base.st = st;
	o->base.size = it->len;
	o->data = it->data;
	*out = &o->base;
	return 0;
}

static int mem_read(struct ostore_obj *obj, uint64_t off, size_t len,
		    void *buf, struct lc_err *err)
{
	(void)err;
	memcpy(buf, ((struct mem_obj *)obj)->data + off, len);
	return 0;
}

static void mem_close(struct ostore_obj *obj)
{
	lc_free(obj->key);
	lc_free(obj);
}

static int mem_list(struct ostore *st, const char *dir, ostore_list_cb cb,
		    void *ctx, struct lc_err *err)
{
	struct mem_store *m = to_mem(st);
	size_t dl = strlen(dir);

	(void)err;
	for (size_t i = 0; i < m->n; i++) {
		const char *k = m->items[i].key, *rest, *slash;
		struct ostore_entry e = { 0 };
		char name[1024];
		int rc;

		if (dl && (strncmp(k, dir, dl) || k[dl] != '/'))
			continue;
		rest = dl ? k + dl + 1 : k;
		slash = strchr(rest, '/');
		if (slash) {
			bool seen = false;

			/* report each sub-folder once */
			for (size_t j = 0; j < i && !seen; j++)
				seen = !strncmp(m->items[j].key, k,
						(size_t)(slash - k + 1));
			if (seen)
				continue;
			e.is_dir = 1;
		}
		snprintf(name, sizeof(name), "%.*s",
			 (int)(slash ? (size_t)(slash - rest) : strlen(rest)),
			 rest);
		e.name = name;
		e.size = slash ? 0 : m->items[i].len;
		rc = cb(ctx, &e);
		if (rc)
			return rc;
	}
	return 0;
}

static int mem_put(struct ostore *st, const char *key, const void *data,
		   size_t len, int if_absent, struct lc_err *err)
{
	struct mem_store *m = to_mem(st);
	struct mem_item *it = mem_find(m, key);
	uint8_t *copy;

	if (it && if_absent)
		return lc_err_set(err, EEXIST, LC_EK_NONE, __FILE__, __LINE__,
				  "%s: already exists", key);
	copy = lc_malloc(len);
	if (!copy)
		return LC_NOMEM(err);
	if (len)
		memcpy(copy, data, len);
	if (!it) {
		struct mem_item *p = lc_realloc(m->items,
						(m->n + 1) * sizeof(*p));

		if (!p) {
			lc_free(copy);
			return LC_NOMEM(err);
		}
		m->items = p;
		it = &m->items[m->n];
		it->key = lc_strdup(key);
		if (!it->key) {
			lc_free(copy);
			return LC_NOMEM(err);
		}
		m->n++;
	} else {
		lc_free(it->data);
	}
	it->data = copy;
	it->len = len;
	return 0;
}

static int mem_del(struct ostore *st, const char *key, struct lc_err *err)
{
	struct mem_store *m = to_mem(st);
	struct mem_item *it = mem_find(m, key);

	(void)err;
	if (it) {
		lc_free(it->key);
		lc_free(it->data);
		*it = m->items[--m->n];
	}
	return 0;
}

static void mem_free(struct ostore *st)
{
	struct mem_store *m = to_mem(st);

	for (size_t i = 0; i < m->n; i++) {
		lc_free(m->items[i].key);
		lc_free(m->items[i].data);
	}
	lc_free(m->items);
	lc_free(st->root);
	lc_free(m);
}

static const struct ostore_ops mem_ops = {
	.kind = OSTORE_KIND_MEM,
	.open = mem_open,
	.read = mem_read,
	.close = mem_close,
	.list = mem_list,
	.put = mem_put,
	.del = mem_del,
	.free = mem_free,
};

int ostore_mem_new(struct ostore **out, struct lc_err *err)
{
	struct mem_store *m = lc_calloc(1, sizeof(*m));

	*out = NULL;
	if (!m || !(m->base.root = lc_strdup("mem:"))) {
		lc_free(m);
		return LC_NOMEM(err);
	}
	m->base.ops = &mem_ops;
	*out = &m->base;
	return 0;
}
