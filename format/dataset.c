/*
 * dataset.c - a dataset's versions and tags, and the snapshot: one
 * version's manifest, deletion vectors and live-row index, with data files
 * opened lazily (table-format.md sections 1, 4, 5 and 7; VIEW.md section
 * 2 for row numbers).
 *
 * The live-row index is a list of pieces: runs of live rows that are
 * consecutive both in a fragment and in row number. Without stable row
 * ids the number is the physical position (the physical_rows of earlier
 * fragments plus the offset), so a fragment gives one piece per gap
 * between deleted rows. With stable row ids the fragment's id sequence is
 * walked as runs and cut at deleted rows. Pieces are kept in fragment
 * order (row_at bisects the running live count) and, when numbers are not
 * already ascending, an index sorted by number serves find_row. Memory is
 * proportional to the deletion files and id sequences, never to the rows.
 */
#include "lance_int.h"

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#define MAX_MANIFEST_BYTES (128u << 20)
#define MAX_DELETION_BYTES (256u << 20)
#define MAX_ROWIDS_BYTES (256u << 20)
#define MAX_TAG_BYTES (64u << 10)
#define MAX_LISTED (1u << 24)

/* ------------------------------------------------------------ versions */

struct version_list {
	struct lance_version_info *v;
	size_t n, cap;
	bool v1, v2;
	struct lc_err *err;
};

/* Part of name before the first '.' as a u64; -1 if it is not decimal. */
static int parse_u64_prefix(uint64_t *out, const char *name, size_t *digits)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; name[i] && name[i] != '.'; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(name[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	if (!i)
		return -1;
	*out = v;
	*digits = i;
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

static int version_cb(void *ctx, const struct ostore_entry *e)
{
	struct version_list *l = ctx;
	struct lance_version_info *vi;
	uint64_t num, version;
	size_t digits;

	/* Skip directories, detached versions (d<N>.manifest), temp files
	 * (x.manifest#1), the hint, and anything not numeric. */
	if (e->is_dir || e->name[0] == 'd' || !ends_with(e->name,
							 ".manifest"))
		return 0;
	if (parse_u64_prefix(&num, e->name, &digits) ||
	    strcmp(e->name + digits, ".manifest"))
		return 0;
	if (strlen(e->name) == 29) {
		version = UINT64_MAX - num;
		l->v2 = true;
	} else {
		version = num;
		l->v1 = true;
	}
	if (l->v1 && l->v2)
		return LC_CORRUPT(l->err, "_versions: found both manifest "
				  "naming schemes (%s is %s)", e->name,
				  strlen(e->name) == 29 ? "V2" : "V1");
	if (!version)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;

		if (cap > MAX_LISTED)
			return LC_LIMIT(l->err, "_versions: more than %u "
					"manifests", MAX_LISTED);
		vi = lc_realloc(l->v, cap * sizeof(*vi));
		if (!vi)
			return LC_NOMEM(l->err);
		l->v = vi;
		l->cap = cap;
	}
	vi = &l->v[l->n];
	vi->version = version;
	vi->manifest_key = lc_malloc(strlen(e->name) + 11);
	if (!vi->manifest_key)
		return LC_NOMEM(l->err);
	memcpy(vi->manifest_key, "_versions/", 10);
	strcpy(vi->manifest_key + 10, e->name);
	l->n++;
	return 0;
}

static int cmp_version(const void *a, const void *b)
{
	const struct lance_version_info *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

int lance_list_versions(struct lance_version_info **out, size_t *n,
			struct ostore *st, struct lc_err *err)
{
	struct version_list l = { .err = err };
	int rc;

	*out = NULL;
	*n = 0;
	rc = ostore_list(st, "_versions", version_cb, &l, err);
	if (rc)
		goto fail;
	if (!l.n) {
		rc = LC_NOTFOUND(err, "%s: no dataset here (_versions/ holds "
				 "no manifest)", st->root);
		goto fail;
	}
	qsort(l.v, l.n, sizeof(*l.v), cmp_version);
	for (size_t i = 1; i < l.n; i++) {
		if (l.v[i].version == l.v[i - 1].version) {
			rc = LC_CORRUPT(err, "_versions: %s and %s are both "
					"version %" PRIu64,
					l.v[i - 1].manifest_key,
					l.v[i].manifest_key, l.v[i].version);
			goto fail;
		}
	}
	*out = l.v;
	*n = l.n;
	return 0;
fail:
	lance_versions_free(l.v, l.n);
	return rc;
}

void lance_versions_free(struct lance_version_info *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		lc_free(v[i].manifest_key);
	lc_free(v);
}

/* ------------------------------------------------------------ tags */

struct tag_list {
	struct lance_tag *t;
	size_t n, cap;
	struct ostore *st;
	struct lc_err *err;
};

static int parse_tag(struct lance_tag *t, const char *key,
		     const uint8_t *buf, size_t len, struct lc_err *err)
{
	json_error_t je;
	json_t *root, *v, *b;
	int rc = 0;

	root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES,
			  &je);
	if (!root)
		return LC_CORRUPT(err, "%s: not JSON (%s, line %d)", key,
				  je.text, je.line);
	if (!json_is_object(root)) {
		rc = LC_CORRUPT(err, "%s: not a JSON object", key);
		goto out;
	}
	v = json_object_get(root, "version");
	if (!json_is_integer(v) || json_integer_value(v) <= 0) {
		rc = LC_CORRUPT(err, "%s: no positive integer \"version\"",
				key);
		goto out;
	}
	t->version = (uint64_t)json_integer_value(v);
	b = json_object_get(root, "branch");
	if (b && !json_is_null(b)) {
		if (!json_is_string(b)) {
			rc = LC_CORRUPT(err, "%s: \"branch\" is not a string",
					key);
			goto out;
		}
		t->branch = lc_strdup(json_string_value(b));
		if (!t->branch)
			rc = LC_NOMEM(err);
	}
out:
	json_decref(root);
	return rc;
}

static int tag_cb(void *ctx, const struct ostore_entry *e)
{
	struct tag_list *l = ctx;
	struct lance_tag *t;
	char key[1024];
	uint8_t *buf;
	size_t len, nlen = strlen(e->name);
	int rc;

	if (e->is_dir || e->name[0] == '.' || !ends_with(e->name, ".json") ||
	    nlen == 5)
		return 0;
	if (snprintf(key, sizeof(key), "_refs/tags/%s", e->name) >=
	    (int)sizeof(key))
		return LC_CORRUPT(l->err, "_refs/tags: name too long");
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;

		if (cap > MAX_LISTED)
			return LC_LIMIT(l->err, "_refs/tags: more than %u "
					"tags", MAX_LISTED);
		t = lc_realloc(l->t, cap * sizeof(*t));
		if (!t)
			return LC_NOMEM(l->err);
		l->t = t;
		l->cap = cap;
	}
	t = &l->t[l->n];
	memset(t, 0, sizeof(*t));
	rc = ostore_get(&buf, &len, l->st, key, MAX_TAG_BYTES, l->err);
	if (rc == ENOENT && l->err->kind == LC_EK_NOTFOUND) {
		lc_err_clear(l->err);	/* deleted since the listing */
		return 0;
	}
	if (rc)
		return rc;
	rc = parse_tag(t, key, buf, len, l->err);
	lc_free(buf);
	if (!rc) {
		t->name = lc_strndup(e->name, nlen - 5);
		if (!t->name)
			rc = LC_NOMEM(l->err);
	}
	if (rc) {
		lc_free(t->branch);
		return rc;
	}
	l->n++;
	return 0;
}

static int cmp_tag(const void *a, const void *b)
{
	return strcmp(((const struct lance_tag *)a)->name,
		      ((const struct lance_tag *)b)->name);
}

int lance_list_tags(struct lance_tag **out, size_t *n, struct ostore *st,
		    struct lc_err *err)
{
	struct tag_list l = { .st = st, .err = err };
	int rc;

	*out = NULL;
	*n = 0;
	rc = ostore_list(st, "_refs/tags", tag_cb, &l, err);
	if (rc) {
		lance_tags_free(l.t, l.n);
		return rc;
	}
	if (l.n)
		qsort(l.t, l.n, sizeof(*l.t), cmp_tag);
	*out = l.t;
	*n = l.n;
	return 0;
}

void lance_tags_free(struct lance_tag *t, size_t n)
{
	for (size_t i = 0; t && i < n; i++) {
		lc_free(t[i].name);
		lc_free(t[i].branch);
	}
	lc_free(t);
}

/* ------------------------------------------------------------ snapshot */

/* A run of live rows consecutive in their fragment and in number. */
struct piece {
	uint64_t number;	/* row number of the first row */
	uint64_t before;	/* live rows in earlier pieces */
	uint32_t frag;
	uint32_t offset;	/* physical offset of the first row */
	uint32_t count;
};

struct lance_snapshot {
	struct ostore *st;		/* borrowed: the dataset root */
	struct lance_manifest *m;
	struct lance_deletion *dels;	/* one per fragment */
	struct piece *pieces;
	size_t n_pieces, cap_pieces;
	uint32_t *by_number;	/* piece indexes by number; NULL = in order */
	uint64_t rows;
	size_t *file_base;	/* fragment -> first slot in files */
	bool indexed;		/* deletions read, pieces built */
	/* Opened lazily; protected by mu (never held across I/O). */
	struct lance_file **files;
	struct ostore **bases;	/* one per manifest base path */
	pthread_mutex_t mu;
};

static int add_piece(struct lance_snapshot *s, uint64_t number,
		     uint32_t frag, uint64_t offset, uint64_t count,
		     struct lc_err *err)
{
	struct piece *p;

	if (!count)
		return 0;
	if (s->n_pieces == s->cap_pieces) {
		size_t cap = s->cap_pieces ? s->cap_pieces * 2 : 64;

		if (cap > UINT32_MAX)
			return LC_LIMIT(err, "snapshot: too many row runs");
		p = lc_realloc(s->pieces, cap * sizeof(*p));
		if (!p)
			return LC_NOMEM(err);
		s->pieces = p;
		s->cap_pieces = cap;
	}
	p = &s->pieces[s->n_pieces++];
	p->number = number;
	p->before = s->rows;
	p->frag = frag;
	p->offset = (uint32_t)offset;
	p->count = (uint32_t)count;
	s->rows += count;
	return 0;
}

/* Adds physical rows [off, off + len) of fragment `frag`, numbered from
 * `number`, minus the deleted ones. `*di` walks the sorted deletions. */
static int add_live(struct lance_snapshot *s, uint32_t frag, uint64_t off,
		    uint64_t len, uint64_t number, size_t *di,
		    struct lc_err *err)
{
	const struct lance_deletion *d = &s->dels[frag];
	uint64_t end = off + len;
	int rc;

	while (off < end) {
		uint64_t stop = end;

		while (*di < d->n && d->offsets[*di] < off)
			(*di)++;
		if (*di < d->n && d->offsets[*di] < end)
			stop = d->offsets[*di];
		if (number > UINT64_MAX - (stop - off))
			return LC_CORRUPT(err, "snapshot: row numbers "
					  "overflow");
		rc = add_piece(s, number, frag, off, stop - off, err);
		if (rc)
			return rc;
		number += stop - off + 1;
		off = stop + 1;
	}
	return 0;
}

struct id_walk {
	struct lance_snapshot *s;
	uint32_t frag;
	uint64_t off;		/* physical offset of the next id */
	size_t di;
};

static int id_run(void *ctx, uint64_t id, uint64_t len, struct lc_err *err)
{
	struct id_walk *w = ctx;
	int rc;

	if (id > UINT64_MAX - len)
		return LC_CORRUPT(err, "row ids overflow");
	rc = add_live(w->s, w->frag, w->off, len, id, &w->di, err);
	w->off += len;
	return rc;
}

static int base_store(struct ostore **out, struct lance_snapshot *s,
		      uint32_t id, bool *dataset_root, struct lc_err *err)
{
	const struct lance_manifest *m = s->m;
	struct ostore *st = NULL;
	size_t i;
	int rc;

	for (i = 0; i < m->n_base_paths; i++)
		if (m->base_paths[i].id == id)
			break;
	if (i == m->n_base_paths)
		return LC_CORRUPT(err, "base path %u is not in the manifest",
				  id);
	*dataset_root = m->base_paths[i].is_dataset_root;
	pthread_mutex_lock(&s->mu);
	*out = s->bases[i];
	pthread_mutex_unlock(&s->mu);
	if (*out)
		return 0;
	rc = ostore_open_uri(&st, m->base_paths[i].path, s->st->conf, err);
	if (rc) {
		lc_err_prefix(err, "base path %u: ", id);
		return rc;
	}
	pthread_mutex_lock(&s->mu);
	if (s->bases[i]) {
		ostore_free(st);
		st = s->bases[i];
	} else {
		s->bases[i] = st;
	}
	pthread_mutex_unlock(&s->mu);
	*out = st;
	return 0;
}

static int load_deletion(struct lance_snapshot *s, uint32_t fi,
			 struct lc_err *err)
{
	const struct lance_fragment *f = &s->m->fragments[fi];
	const struct lance_deletion_file *df = &f->deletion;
	struct ostore *st = s->st;
	bool root = true;
	char key[128];
	uint8_t *buf;
	size_t len;
	int rc;

	if (!df->present)
		return 0;
	if (df->has_base_id) {
		rc = base_store(&st, s, df->base_id, &root, err);
		if (rc)
			return rc;
	}
	snprintf(key, sizeof(key), "%s%" PRIu64 "-%" PRIu64 "-%" PRIu64 ".%s",
		 root ? "_deletions/" : "", f->id, df->read_version, df->id,
		 df->type == LANCE_DEL_BITMAP ? "bin" : "arrow");
	rc = ostore_get(&buf, &len, st, key, MAX_DELETION_BYTES, err);
	if (rc)
		return rc;
	if (df->type == LANCE_DEL_BITMAP)
		rc = lance_deletion_parse_bitmap(&s->dels[fi], buf, len, err);
	else
		rc = lance_deletion_parse_arrow(&s->dels[fi], buf, len, err);
	lc_free(buf);
	if (!rc && s->dels[fi].n &&
	    s->dels[fi].offsets[s->dels[fi].n - 1] >= f->physical_rows)
		rc = LC_CORRUPT(err, "deletes row %u of a %" PRIu64 "-row "
				"fragment",
				s->dels[fi].offsets[s->dels[fi].n - 1],
				f->physical_rows);
	if (rc)
		lc_err_prefix(err, "%s: ", key);
	return rc;
}

/* The serialized row id sequence of a fragment, inline or external. */
static int fragment_rowids(uint8_t **own, const uint8_t **buf, size_t *len,
			   struct lance_snapshot *s,
			   const struct lance_fragment *f, struct lc_err *err)
{
	const struct lance_external_file *x = &f->row_ids_ext;
	struct ostore_obj *o;
	int rc;

	*own = NULL;
	if (!x->path) {
		if (!f->row_ids)
			return LC_CORRUPT(err, "fragment %" PRIu64 " has no "
					  "row ids, but the dataset uses "
					  "stable row ids", f->id);
		*buf = f->row_ids;
		*len = f->row_ids_len;
		return 0;
	}
	if (x->size > MAX_ROWIDS_BYTES)
		return LC_LIMIT(err, "%s: %" PRIu64 " bytes of row ids",
				x->path, x->size);
	rc = ostore_open(&o, s->st, x->path, err);
	if (rc)
		return rc;
	*own = lc_malloc((size_t)x->size);
	if (!*own)
		rc = LC_NOMEM(err);
	else
		rc = ostore_read(o, x->offset, (size_t)x->size, *own, err);
	ostore_close(o);
	if (rc) {
		lc_free(*own);
		*own = NULL;
		return rc;
	}
	*buf = *own;
	*len = (size_t)x->size;
	return 0;
}

static int cmp_piece_number(const void *a, const void *b, void *ctx)
{
	const struct piece *p = ctx;
	uint64_t x = p[*(const uint32_t *)a].number;
	uint64_t y = p[*(const uint32_t *)b].number;

	return (x > y) - (x < y);
}

static int build_index(struct lance_snapshot *s, struct lc_err *err)
{
	const struct lance_manifest *m = s->m;
	bool stable = m->reader_flags & LANCE_FLAG_STABLE_ROW_IDS;
	uint64_t position = 0;
	bool sorted = true;
	int rc;

	for (size_t i = 0; i < m->n_fragments; i++) {
		const struct lance_fragment *f = &m->fragments[i];
		size_t di = 0;

		if (!stable) {
			rc = add_live(s, (uint32_t)i, 0, f->physical_rows,
				      position, &di, err);
			if (rc)
				return rc;
			if (f->physical_rows > UINT64_MAX - position)
				return LC_CORRUPT(err, "row positions "
						  "overflow");
			position += f->physical_rows;
			continue;
		}
		{
			struct id_walk w = { s, (uint32_t)i, 0, 0 };
			const uint8_t *buf = NULL;
			uint8_t *own;
			size_t len = 0;

			rc = fragment_rowids(&own, &buf, &len, s, f, err);
			if (!rc)
				rc = lance__rowids_runs(buf, len,
							f->physical_rows,
							id_run, &w, err);
			lc_free(own);
			if (rc) {
				lc_err_prefix(err, "fragment %" PRIu64 ": ",
					      f->id);
				return rc;
			}
		}
	}
	for (size_t i = 1; i < s->n_pieces; i++)
		if (s->pieces[i].number < s->pieces[i - 1].number)
			sorted = false;
	if (!sorted) {
		s->by_number = lc_calloc(s->n_pieces, sizeof(uint32_t));
		if (!s->by_number)
			return LC_NOMEM(err);
		for (size_t i = 0; i < s->n_pieces; i++)
			s->by_number[i] = (uint32_t)i;
		qsort_r(s->by_number, s->n_pieces, sizeof(uint32_t),
			cmp_piece_number, s->pieces);
	}
	/* Stable ids must be unique among live rows. */
	for (size_t i = 1; i < s->n_pieces; i++) {
		const struct piece *a, *b;

		a = &s->pieces[s->by_number ? s->by_number[i - 1] : i - 1];
		b = &s->pieces[s->by_number ? s->by_number[i] : i];
		if (b->number - a->number < a->count)
			return LC_CORRUPT(err, "row id %" PRIu64 " belongs to "
					  "two rows", b->number);
	}
	return 0;
}

/* Fills in physical_rows where the manifest left it 0 (unknown), from the
 * fragment's first data file. */
static int fix_physical_rows(struct lance_snapshot *s, uint32_t fi,
			     struct lc_err *err)
{
	struct lance_fragment *f = &s->m->fragments[fi];
	struct ostore *st = s->st;
	struct lance_file *file;
	uint64_t rows;
	bool root;
	int rc;

	if (f->physical_rows || !f->n_files)
		return 0;
	if (f->files[0].has_base_id) {
		rc = base_store(&st, s, f->files[0].base_id, &root, err);
		if (rc)
			return rc;
	}
	rc = lance_file_open(&file, st, &f->files[0], &s->m->schema, err);
	if (rc)
		return rc;
	rows = lance_file_rows(file);
	lance_file_free(file);
	/* checked before it is kept: an index tried again skips it */
	if (rows > UINT32_MAX)
		return LC_UNSUPPORTED(err, "fragment %" PRIu64 ": %" PRIu64
				      " rows", f->id, rows);
	f->physical_rows = rows;
	return 0;
}

/*
 * The manifest of `version` by its name, V2 (as LanceDB names them now)
 * or else V1, without listing _versions (thousands of names on a store
 * where a streaming job commits); ENOENT when neither is there. `key`
 * gets the name.
 */
static int get_numbered(uint8_t **buf, size_t *len, char *key, size_t cap,
			struct ostore *st, uint64_t version,
			struct lc_err *err)
{
	int rc;

	snprintf(key, cap, "_versions/%020" PRIu64 ".manifest",
		 UINT64_MAX - version);
	rc = ostore_get(buf, len, st, key, MAX_MANIFEST_BYTES, err);
	if (rc != ENOENT || err->kind != LC_EK_NOTFOUND)
		return rc;
	lc_err_clear(err);
	snprintf(key, cap, "_versions/%" PRIu64 ".manifest", version);
	return ostore_get(buf, len, st, key, MAX_MANIFEST_BYTES, err);
}

static int listed_not_missing(int rc, const struct lance_snapshot *s,
			      uint32_t frag, struct lc_err *err);

/* Read the fragments' deletion files and build the row index; on a
 * failure what it made goes, so that it can be tried again. A file the
 * manifest names that is not there is EIO, not a missing row. */
int lance_snapshot_index(struct lance_snapshot *s, struct lc_err *err)
{
	int rc = 0;

	if (s->indexed)
		return 0;
	for (size_t i = 0; !rc && i < s->m->n_fragments; i++) {
		rc = fix_physical_rows(s, (uint32_t)i, err);
		if (!rc)
			rc = load_deletion(s, (uint32_t)i, err);
		rc = listed_not_missing(rc, s, (uint32_t)i, err);
	}
	if (!rc)
		rc = build_index(s, err);
	/* The deletion vectors are folded into the pieces. */
	for (size_t i = 0; i < s->m->n_fragments; i++)
		lance_deletion_reset(&s->dels[i]);
	if (rc) {
		lc_free(s->pieces);
		lc_free(s->by_number);
		s->pieces = NULL;
		s->by_number = NULL;
		s->n_pieces = s->cap_pieces = 0;
		s->rows = 0;
		return rc;
	}
	s->indexed = true;
	return 0;
}

bool lance_snapshot_indexed(const struct lance_snapshot *s)
{
	return s->indexed;
}

int lance_snapshot_open(struct lance_snapshot **out, struct ostore *st,
			uint64_t version, struct lc_err *err)
{
	int rc = lance_snapshot_open_manifest(out, st, version, err);

	if (!rc && (rc = lance_snapshot_index(*out, err))) {
		lance_snapshot_free(*out);
		*out = NULL;
	}
	return rc;
}

int lance_snapshot_open_manifest(struct lance_snapshot **out,
				 struct ostore *st, uint64_t version,
				 struct lc_err *err)
{
	struct lance_version_info *vs = NULL, *vi = NULL;
	struct lance_snapshot *s;
	size_t nv = 0, nfiles = 0;
	uint8_t *buf = NULL;
	char key[64];
	const char *mkey = key;
	size_t len;
	int rc;

	*out = NULL;
	s = lc_calloc(1, sizeof(*s));
	if (!s)
		return LC_NOMEM(err);
	pthread_mutex_init(&s->mu, NULL);
	s->st = st;
	rc = version ? get_numbered(&buf, &len, key, sizeof(key), st, version,
				    err) : ENOENT;
	if (rc == ENOENT && (!version || err->kind == LC_EK_NOTFOUND)) {
		/* the latest, or a version not there: the listing says
		 * which is the latest */
		lc_err_clear(err);
		rc = lance_list_versions(&vs, &nv, st, err);
		if (rc)
			goto fail;
		for (size_t i = 0; i < nv; i++)
			if (vs[i].version == version || (!version &&
							 i == nv - 1))
				vi = &vs[i];
		if (!vi) {
			rc = LC_NOTFOUND(err, "%s: version %" PRIu64 " does "
					 "not exist (latest is %" PRIu64 ")",
					 st->root, version,
					 vs[nv - 1].version);
			goto fail;
		}
		version = vi->version;
		mkey = vi->manifest_key;
		rc = ostore_get(&buf, &len, st, mkey, MAX_MANIFEST_BYTES,
				err);
	}
	if (!rc)
		rc = lance_manifest_parse(&s->m, buf, len, err);
	if (!rc && s->m->version != version)
		rc = LC_CORRUPT(err, "holds version %" PRIu64, s->m->version);
	if (rc) {
		lc_err_prefix(err, "%s: ", mkey);
		goto fail;
	}
	if (s->m->n_fragments > UINT32_MAX) {
		rc = LC_LIMIT(err, "%zu fragments", s->m->n_fragments);
		goto fail;
	}
	s->bases = lc_calloc(s->m->n_base_paths, sizeof(*s->bases));
	s->dels = lc_calloc(s->m->n_fragments, sizeof(*s->dels));
	s->file_base = lc_calloc(s->m->n_fragments, sizeof(*s->file_base));
	if (!s->bases || !s->dels || !s->file_base) {
		rc = LC_NOMEM(err);
		goto fail;
	}
	for (size_t i = 0; i < s->m->n_fragments; i++) {
		s->file_base[i] = nfiles;
		nfiles += s->m->fragments[i].n_files;
	}
	s->files = lc_calloc(nfiles, sizeof(*s->files));
	if (!s->files) {
		rc = LC_NOMEM(err);
		goto fail;
	}
	lc_free(buf);
	lance_versions_free(vs, nv);
	*out = s;
	return 0;
fail:
	lc_free(buf);
	lance_versions_free(vs, nv);
	lance_snapshot_free(s);
	return rc;
}

int lance_snapshot_empty(struct lance_snapshot **out, struct ostore *st,
			 struct lc_err *err)
{
	struct lance_snapshot *s = lc_calloc(1, sizeof(*s));

	*out = NULL;
	if (!s || !(s->m = lc_calloc(1, sizeof(*s->m)))) {
		lc_free(s);
		return LC_NOMEM(err);
	}
	pthread_mutex_init(&s->mu, NULL);
	s->st = st;
	s->indexed = true;	/* no rows */
	*out = s;
	return 0;
}

void lance_snapshot_free(struct lance_snapshot *s)
{
	size_t nfiles = 0;

	if (!s)
		return;
	if (s->m) {
		for (size_t i = 0; i < s->m->n_fragments; i++) {
			nfiles += s->m->fragments[i].n_files;
			if (s->dels)
				lance_deletion_reset(&s->dels[i]);
		}
		for (size_t i = 0; s->files && i < nfiles; i++)
			lance_file_free(s->files[i]);
		for (size_t i = 0; s->bases && i < s->m->n_base_paths; i++)
			ostore_free(s->bases[i]);
	}
	lc_free(s->files);
	lc_free(s->bases);
	lc_free(s->dels);
	lc_free(s->file_base);
	lc_free(s->pieces);
	lc_free(s->by_number);
	lance_manifest_free(s->m);
	pthread_mutex_destroy(&s->mu);
	lc_free(s);
}

const struct lance_manifest *lance_snapshot_manifest(
	const struct lance_snapshot *s)
{
	return s->m;
}

uint64_t lance_snapshot_num_rows(const struct lance_snapshot *s)
{
	return s->rows;
}

static void piece_row(struct lance_row_ref *out, const struct piece *p,
		      uint64_t k)
{
	out->number = p->number + k;
	out->frag = p->frag;
	out->offset = (uint64_t)p->offset + k;
}

int lance_snapshot_row_at(struct lance_row_ref *out,
			  const struct lance_snapshot *s, uint64_t index,
			  struct lc_err *err)
{
	size_t lo = 0, hi = s->n_pieces;

	if (index >= s->rows)
		return LC_NOTFOUND(err, "row index %" PRIu64 " of %" PRIu64,
				   index, s->rows);
	/* The last piece whose `before` is <= index. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->pieces[mid].before <= index)
			lo = mid;
		else
			hi = mid;
	}
	piece_row(out, &s->pieces[lo], index - s->pieces[lo].before);
	return 0;
}

int lance_snapshot_find_row(struct lance_row_ref *out,
			    const struct lance_snapshot *s, uint64_t number,
			    struct lc_err *err)
{
	size_t lo = 0, hi = s->n_pieces;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct piece *p = &s->pieces[s->by_number ?
						   s->by_number[mid] : mid];

		if (number < p->number) {
			hi = mid;
		} else if (number - p->number >= p->count) {
			lo = mid + 1;
		} else {
			piece_row(out, p, number - p->number);
			return 0;
		}
	}
	return LC_NOTFOUND(err, "no live row %" PRIu64, number);
}

int lance_snapshot_row_by_address(struct lance_row_ref *out,
				  const struct lance_snapshot *s,
				  uint64_t fragment_id, uint64_t offset)
{
	size_t lo = 0, hi = s->n_pieces;
	uint32_t f = 0;

	/* the deletions are in the pieces (the vectors are gone): the
	 * pieces run in fragment order, offsets rising within one */
	while (f < s->m->n_fragments && s->m->fragments[f].id != fragment_id)
		f++;
	if (f == s->m->n_fragments)
		return ENOENT;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct piece *p = &s->pieces[mid];

		if (p->frag < f ||
		    (p->frag == f && (uint64_t)p->offset + p->count <= offset))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == s->n_pieces || s->pieces[lo].frag != f ||
	    s->pieces[lo].offset > offset)
		return ENOENT;
	piece_row(out, &s->pieces[lo], offset - s->pieces[lo].offset);
	return 0;
}

bool lance_snapshot_row_live(const struct lance_snapshot *s,
			     uint64_t fragment_id, uint64_t offset)
{
	struct lance_row_ref r;

	return !lance_snapshot_row_by_address(&r, s, fragment_id, offset);
}

static const struct lance_field *top_of(const struct lance_field *f)
{
	while (f->parent)
		f = f->parent;
	return f;
}

/* Index of the fragment's data file holding `field` (or, for nested
 * fields, any field of its top-level column), or -1. */
static long file_for_field(const struct lance_snapshot *s,
			   const struct lance_fragment *f,
			   const struct lance_field *field)
{
	const struct lance_field *top = top_of(field);

	for (size_t i = 0; i < f->n_files; i++)
		for (size_t j = 0; j < f->files[i].n_fields; j++)
			if (f->files[i].fields[j] == field->id)
				return (long)i;
	for (size_t i = 0; i < f->n_files; i++) {
		for (size_t j = 0; j < f->files[i].n_fields; j++) {
			const struct lance_field *g = lance_schema_field_by_id(
				&s->m->schema, f->files[i].fields[j]);

			if (g && top_of(g) == top)
				return (long)i;
		}
	}
	return -1;
}

static int get_file(struct lance_file **out, struct lance_snapshot *s,
		    uint32_t frag, size_t idx, struct lc_err *err)
{
	const struct lance_data_file *df = &s->m->fragments[frag].files[idx];
	size_t slot = s->file_base[frag] + idx;
	struct lance_file *f;
	struct ostore *st = s->st;
	bool root;
	int rc;

	pthread_mutex_lock(&s->mu);
	*out = s->files[slot];
	pthread_mutex_unlock(&s->mu);
	if (*out)
		return 0;
	if (df->has_base_id) {
		rc = base_store(&st, s, df->base_id, &root, err);
		if (rc)
			return rc;
	}
	rc = lance_file_open(&f, st, df, &s->m->schema, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&s->mu);
	if (s->files[slot]) {
		/* Another thread opened it first; keep theirs. */
		lance_file_free(f);
		f = s->files[slot];
	} else {
		s->files[slot] = f;
	}
	pthread_mutex_unlock(&s->mu);
	*out = f;
	return 0;
}

static int check_read(const struct lance_snapshot *s, uint32_t frag,
		      uint64_t offset, uint64_t n, struct lc_err *err)
{
	if (frag >= s->m->n_fragments)
		return LC_USAGE(err, "fragment index %u of %zu", frag,
				s->m->n_fragments);
	if (!lc_range_ok(offset, n, s->m->fragments[frag].physical_rows))
		return LC_USAGE(err, "rows %" PRIu64 "+%" PRIu64 " of a %"
				PRIu64 "-row fragment", offset, n,
				s->m->fragments[frag].physical_rows);
	return 0;
}

/*
 * The manifest lists this data file as holding the field: if the store
 * has no such object (a 404, a deleted file), or the file lacks the
 * field, the dataset is damaged or its store lost data. That is EIO, not
 * ENOENT, which callers (a mount's lookup) take for "no such value" and
 * may remember as a miss.
 */
static int listed_not_missing(int rc, const struct lance_snapshot *s,
			      uint32_t frag, struct lc_err *err)
{
	char was[sizeof(err->msg)];

	if (rc != ENOENT)
		return rc;
	if (!err)
		return EIO;
	memcpy(was, err->msg, sizeof(was));
	lc_err_clear(err);
	return LC_CORRUPT(err, "fragment %" PRIu64 ": %s",
			  s->m->fragments[frag].id, was);
}

int lance_snapshot_read(struct lance_array *out, struct lance_snapshot *s,
			uint32_t frag, const struct lance_field *field,
			uint64_t offset, uint64_t n, struct lc_err *err)
{
	struct lance_file *f;
	long idx;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = check_read(s, frag, offset, n, err);
	if (rc)
		return rc;
	idx = file_for_field(s, &s->m->fragments[frag], field);
	if (idx < 0)
		return lance_array_init_null(out, field, n, err);
	rc = get_file(&f, s, frag, (size_t)idx, err);
	if (!rc)
		rc = lance_file_read(out, f, field, offset, n, err);
	return listed_not_missing(rc, s, frag, err);
}

int lance_snapshot_value_sizes(uint64_t *sizes, bool *valid,
			       struct lance_snapshot *s, uint32_t frag,
			       const struct lance_field *field,
			       uint64_t offset, uint64_t n,
			       struct lc_err *err)
{
	struct lance_file *f;
	long idx;
	int rc;

	rc = check_read(s, frag, offset, n, err);
	if (rc)
		return rc;
	idx = file_for_field(s, &s->m->fragments[frag], field);
	if (idx < 0) {
		for (uint64_t i = 0; i < n; i++) {
			sizes[i] = 0;
			valid[i] = false;
		}
		return 0;
	}
	rc = get_file(&f, s, frag, (size_t)idx, err);
	if (!rc)
		rc = lance_file_value_sizes(sizes, valid, f, field, offset, n,
					    err);
	return listed_not_missing(rc, s, frag, err);
}

int lance_snapshot_read_window(uint8_t *dst, size_t *got, bool *valid,
			       uint64_t *size, struct lance_snapshot *s,
			       uint32_t frag, const struct lance_field *field,
			       uint64_t offset, uint64_t off, size_t len,
			       struct lc_err *err)
{
	struct lance_file *f;
	long idx;
	int rc;

	*got = 0;
	*valid = false;
	*size = 0;
	rc = check_read(s, frag, offset, 1, err);
	if (rc)
		return rc;
	idx = file_for_field(s, &s->m->fragments[frag], field);
	if (idx < 0)
		return 0;	/* a column added later: null here */
	rc = get_file(&f, s, frag, (size_t)idx, err);
	if (!rc)
		rc = lance_file_read_window(dst, got, valid, size, f, field,
					    offset, off, len, err);
	return listed_not_missing(rc, s, frag, err);
}
