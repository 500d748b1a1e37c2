/*
 * commit.c - new versions of a dataset (table-format.md sections 3, 2.9-
 * 2.11 and 8, the writer checklist).
 *
 * One attempt: list _versions/, load the transaction of every version
 * after the caller's read version and check it against ours, build
 * manifest latest+1 from the latest manifest's own protobuf (so fields we
 * do not interpret, known or unknown to protobuf-c, are carried forward),
 * write the deletion files and _transactions/{read}-{uuid}.txn, then put
 * the manifest if absent. EEXIST means somebody else took latest+1: back
 * off and do it all again on top of theirs. A put left without a definite
 * answer is tried again the same way, under the same uuid, which the next
 * attempt finds if that put landed after all.
 *
 * Memory: every allocation of an attempt goes to a pool freed at its end;
 * protobuf messages we change are shallow copies pointing into the
 * unpacked latest manifest, which is freed last, untouched.
 */
#include "lance_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rowids.pb-c.h"
#include "table.pb-c.h"
#include "transaction.pb-c.h"

#define MAX_MANIFEST_BYTES (128u << 20)
#define MAX_TXN_BYTES (64u << 20)
#define MAX_DELETION_BYTES (256u << 20)
#define MAX_ATTEMPTS 20
#define UNSURE_TRIES 4	/* again after an unanswered put, 0-3 s apart */
/* Deleted rows above which a vector is written as a roaring bitmap. */
#define ARROW_MAX_DELETED 5000
#define FOOTER_LEN 16
/* Writer feature flags we can write under (section 2.9). */
#define KNOWN_WRITER_FLAGS                                                \
	(LANCE_FLAG_DELETION_FILES | LANCE_FLAG_STABLE_ROW_IDS |          \
	 LANCE_FLAG_V2_DEPRECATED | LANCE_FLAG_TABLE_CONFIG |             \
	 LANCE_FLAG_BASE_PATHS | LANCE_FLAG_NO_TXN_FILE |                 \
	 LANCE_FLAG_COVERED_INDEX | LANCE_FLAG_MIXED_VERSIONS)

/* ------------------------------------------------------------ pool */

struct pool {
	void **p;
	size_t n, cap;
};

static void *pool_keep(struct pool *pl, void *p)
{
	void **np;

	if (!p)
		return NULL;
	if (pl->n == pl->cap) {
		size_t cap = pl->cap ? pl->cap * 2 : 32;

		np = lc_realloc(pl->p, cap * sizeof(*np));
		if (!np) {
			lc_free(p);
			return NULL;
		}
		pl->p = np;
		pl->cap = cap;
	}
	pl->p[pl->n++] = p;
	return p;
}

static void *pool_calloc(struct pool *pl, size_t n, size_t size)
{
	return pool_keep(pl, lc_calloc(n ? n : 1, size));
}

static char *pool_printf(struct pool *pl, const char *fmt, ...)
	LC_PRINTF(2, 3);
static char *pool_printf(struct pool *pl, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	s = pool_keep(pl, lc_malloc((size_t)n + 1));
	if (!s)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

static void pool_reset(struct pool *pl)
{
	for (size_t i = 0; i < pl->n; i++)
		lc_free(pl->p[i]);
	lc_free(pl->p);
	memset(pl, 0, sizeof(*pl));
}

/* ------------------------------------------------------------ helpers */

static int random_u64(uint64_t *out, struct lc_err *err)
{
	return lc_random(out, sizeof(*out), err);
}

static const char *op_name(Lpb__Transaction__OperationCase op)
{
	switch (op) {
	case LPB__TRANSACTION__OPERATION_APPEND: return "Append";
	case LPB__TRANSACTION__OPERATION_DELETE: return "Delete";
	case LPB__TRANSACTION__OPERATION_OVERWRITE: return "Overwrite";
	case LPB__TRANSACTION__OPERATION_CREATE_INDEX: return "CreateIndex";
	case LPB__TRANSACTION__OPERATION_REWRITE: return "Rewrite";
	case LPB__TRANSACTION__OPERATION_MERGE: return "Merge";
	case LPB__TRANSACTION__OPERATION_RESTORE: return "Restore";
	case LPB__TRANSACTION__OPERATION_RESERVE_FRAGMENTS:
		return "ReserveFragments";
	case LPB__TRANSACTION__OPERATION_UPDATE: return "Update";
	case LPB__TRANSACTION__OPERATION_PROJECT: return "Project";
	case LPB__TRANSACTION__OPERATION_UPDATE_CONFIG: return "UpdateConfig";
	case LPB__TRANSACTION__OPERATION_DATA_REPLACEMENT:
		return "DataReplacement";
	case LPB__TRANSACTION__OPERATION_CLONE: return "Clone";
	case LPB__TRANSACTION__OPERATION_UPDATE_BASES: return "UpdateBases";
	default: return "an operation we do not know";
	}
}

static const char *our_op(const struct lance_commit *c)
{
	if (!c->read_version)
		return "Overwrite (create)";
	if (c->n_deletes && c->n_appends)
		return "Update";
	return c->n_deletes ? "Delete" : "Append";
}

static char *manifest_key(struct pool *pl, bool v2, uint64_t version)
{
	if (v2)
		return pool_printf(pl, "_versions/%020" PRIu64 ".manifest",
				   UINT64_MAX - version);
	return pool_printf(pl, "_versions/%" PRIu64 ".manifest", version);
}

/* ------------------------------------------------------------ versions */

/* One version's manifest: parsed (checked) and as protobuf. */
struct version {
	uint64_t version;
	struct lance_manifest *m;
	Lpb__Manifest *pm;
	size_t pos;		/* offset of the Manifest's u32 length */
};

static void version_reset(struct version *v)
{
	lance_manifest_free(v->m);
	lpb__manifest__free_unpacked(v->pm, NULL);
	memset(v, 0, sizeof(*v));
}

static int version_load(struct version *v, struct ostore *st,
			const struct lance_version_info *vi,
			struct lc_err *err)
{
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	memset(v, 0, sizeof(*v));
	v->version = vi->version;
	rc = ostore_get(&buf, &len, st, vi->manifest_key, MAX_MANIFEST_BYTES,
			err);
	if (!rc)
		rc = lance_manifest_parse(&v->m, buf, len, err);
	lc_free(buf);
	if (!rc && v->m->version != vi->version)
		rc = LC_CORRUPT(err, "holds version %" PRIu64,
				v->m->version);
	if (rc) {
		lc_err_prefix(err, "%s: ", vi->manifest_key);
		version_reset(v);
		return rc;
	}
	/* lance_manifest_parse checked the framing. */
	v->pos = (size_t)lc_le64(v->m->raw + v->m->raw_len - FOOTER_LEN);
	v->pm = lpb__manifest__unpack(NULL, lc_le32(v->m->raw + v->pos),
				      v->m->raw + v->pos + 4);
	if (!v->pm) {
		version_reset(v);
		return LC_NOMEM(err);
	}
	return 0;
}

/* The transaction that made version v: inline, else its file. */
static int version_txn(Lpb__Transaction **out, struct ostore *st,
		       const struct version *v, struct lc_err *err)
{
	const struct lance_manifest *m = v->m;
	const uint8_t *p;
	uint8_t *own = NULL;
	size_t len;
	int rc;

	*out = NULL;
	if (m->has_transaction_section) {
		uint64_t ts = m->transaction_section;

		len = lc_le32(m->raw + ts);
		if (!lc_range_ok(ts + 4, len, v->pos))
			return LC_CORRUPT(err, "version %" PRIu64 ": inline "
					  "transaction of %zu bytes overruns "
					  "the manifest", v->version, len);
		p = m->raw + ts + 4;
	} else if (m->transaction_file) {
		char key[512];

		if (snprintf(key, sizeof(key), "_transactions/%s",
			     m->transaction_file) >= (int)sizeof(key))
			return LC_CORRUPT(err, "version %" PRIu64 ": "
					  "transaction file name too long",
					  v->version);
		rc = ostore_get(&own, &len, st, key, MAX_TXN_BYTES, err);
		if (rc)
			return rc;
		p = own;
	} else {
		return LC_CONFLICT(err, "version %" PRIu64 " records no "
				   "transaction, so what it changed is "
				   "unknown", v->version);
	}
	rc = lance__pb_check(p, len, LANCE_PB_MAX_DEPTH, "transaction", err);
	if (!rc) {
		*out = lpb__transaction__unpack(NULL, len, p);
		if (!*out)
			rc = LC_CORRUPT(err, "version %" PRIu64 ": the "
					"transaction does not parse",
					v->version);
	}
	lc_free(own);
	return rc;
}

/* ------------------------------------------------------------ history */

/*
 * What one transaction did to rows where they were, by fragment: the
 * one reading of Lance's operations (section 3.5) that both a commit's
 * conflict check (check_txn, for the fragments it deletes from) and a
 * staged change's history (lance_history_check) go by.
 */
enum hist_kind {
	HK_GONE,	/* the fragments' rows all deleted, or removed */
	HK_DELETED,	/* some of their rows deleted (new deletion files) */
	HK_MOVED,	/* their rows moved to other fragments */
	HK_VALUES,	/* values rewritten in place: rows stay */
	HK_SCHEMA,	/* columns renamed, dropped or added: every row's
			 * values stay, under the new schema's names */
	HK_ALL,		/* the table replaced, or what happened unknown */
};

struct hist_entry {
	uint64_t version;
	const char *op;
	const char *what;	/* "<what> fragment N" */
	enum hist_kind kind;
	bool replaced;		/* HK_ALL: Overwrite, Clone */
	bool restored;		/* HK_ALL: Restore */
	uint64_t *frags;
	size_t n_frags;
};

struct lance_history {
	struct hist_entry *v;
	size_t n;
};

static void history_reset(struct lance_history *h)
{
	for (size_t i = 0; i < h->n; i++)
		lc_free(h->v[i].frags);
	lc_free(h->v);
	h->v = NULL;
	h->n = 0;
}

void lance_history_free(struct lance_history *h)
{
	if (!h)
		return;
	history_reset(h);
	lc_free(h);
}

static struct hist_entry *hist_add(struct lance_history *h,
				   uint64_t version, const char *op,
				   const char *what, enum hist_kind kind)
{
	struct hist_entry *e, *v = lc_realloc(h->v, (h->n + 1) * sizeof(*v));

	if (!v)
		return NULL;
	h->v = v;
	e = &v[h->n++];
	memset(e, 0, sizeof(*e));
	e->version = version;
	e->op = op;
	e->what = what;
	e->kind = kind;
	return e;
}

static int hist_frag(struct hist_entry *e, uint64_t id)
{
	uint64_t *v = lc_realloc(e->frags, (e->n_frags + 1) * sizeof(*v));

	if (!v)
		return ENOMEM;
	e->frags = v;
	e->frags[e->n_frags++] = id;
	return 0;
}

static int hist_frags(struct hist_entry *e, Lpb__DataFragment *const *f,
		      size_t n)
{
	int rc = e ? 0 : ENOMEM;

	for (size_t i = 0; !rc && i < n; i++)
		rc = hist_frag(e, f[i]->id);
	return rc;
}

static int hist_ids(struct hist_entry *e, const uint64_t *ids, size_t n)
{
	int rc = e ? 0 : ENOMEM;

	for (size_t i = 0; !rc && i < n; i++)
		rc = hist_frag(e, ids[i]);
	return rc;
}

/* What transaction `t` of version v did, added to h: 0 or ENOMEM. An
 * Append commutes with all but Overwrite and Restore (HK_ALL). */
static int hist_txn(struct lance_history *h, const Lpb__Transaction *t,
		    uint64_t v)
{
	const char *op = op_name(t->operation_case);
	struct hist_entry *e;
	int rc = 0;

	switch (t->operation_case) {
	case LPB__TRANSACTION__OPERATION_APPEND:
	case LPB__TRANSACTION__OPERATION_CREATE_INDEX:
	case LPB__TRANSACTION__OPERATION_RESERVE_FRAGMENTS:
	case LPB__TRANSACTION__OPERATION_UPDATE_CONFIG:
	case LPB__TRANSACTION__OPERATION_UPDATE_BASES:
		return 0;
	case LPB__TRANSACTION__OPERATION_PROJECT:
		/* no fragment's rows: commutes with every commit of ours */
		return hist_add(h, v, op, "changed the columns of",
				HK_SCHEMA) ? 0 : ENOMEM;
	case LPB__TRANSACTION__OPERATION_DELETE: {
		const Lpb__Transaction__Delete *d = t->delete_;

		rc = hist_ids(hist_add(h, v, op, "deleted all rows of",
				       HK_GONE),
			      d->deleted_fragment_ids,
			      d->n_deleted_fragment_ids);
		if (!rc)
			rc = hist_frags(hist_add(h, v, op, "deleted rows of",
						 HK_DELETED),
					d->updated_fragments,
					d->n_updated_fragments);
		return rc;
	}
	case LPB__TRANSACTION__OPERATION_UPDATE: {
		const Lpb__Transaction__Update *u = t->update;

		rc = hist_ids(hist_add(h, v, op, "removed", HK_GONE),
			      u->removed_fragment_ids,
			      u->n_removed_fragment_ids);
		/* values rewritten in place (new data files, the rows where
		 * they were): copies of those rows hold the old ones */
		if (!rc && (u->update_mode ==
				    LPB__TRANSACTION__UPDATE_MODE__REWRITE_COLUMNS ||
			    u->n_fields_modified))
			rc = hist_frags(hist_add(h, v, op, "rewrote columns of",
						 HK_VALUES),
					u->updated_fragments,
					u->n_updated_fragments);
		if (!rc)
			rc = hist_frags(hist_add(h, v, op, "deleted rows of",
						 HK_DELETED),
					u->updated_fragments,
					u->n_updated_fragments);
		return rc;
	}
	case LPB__TRANSACTION__OPERATION_REWRITE: {
		const Lpb__Transaction__Rewrite *r = t->rewrite;

		e = hist_add(h, v, op, "rewrote", HK_MOVED);
		rc = hist_frags(e, r->old_fragments, r->n_old_fragments);
		for (size_t i = 0; !rc && i < r->n_groups; i++)
			rc = hist_frags(e, r->groups[i]->old_fragments,
					r->groups[i]->n_old_fragments);
		return rc;
	}
	case LPB__TRANSACTION__OPERATION_MERGE:
		return hist_frags(hist_add(h, v, op, "rewrote", HK_VALUES),
				  t->merge->fragments, t->merge->n_fragments);
	case LPB__TRANSACTION__OPERATION_DATA_REPLACEMENT: {
		const Lpb__Transaction__DataReplacement *d =
			t->data_replacement;

		e = hist_add(h, v, op, "replaced data files of", HK_VALUES);
		rc = e ? 0 : ENOMEM;
		for (size_t i = 0; !rc && i < d->n_replacements; i++)
			rc = hist_frag(e, d->replacements[i]->fragment_id);
		return rc;
	}
	default:	/* Overwrite, Restore, Clone, and ops we cannot read */
		if (!(e = hist_add(h, v, op, "replaced", HK_ALL)))
			return ENOMEM;
		e->replaced = t->operation_case ==
				      LPB__TRANSACTION__OPERATION_OVERWRITE ||
			      t->operation_case ==
				      LPB__TRANSACTION__OPERATION_CLONE;
		e->restored = t->operation_case ==
			      LPB__TRANSACTION__OPERATION_RESTORE;
		return 0;
	}
}

/* ------------------------------------------------------------ conflicts */

/* Who last touched each fragment we delete from, since read_version. */
struct touch {
	uint64_t version;	/* 0: nobody */
	const char *op;
};

static long find_delete(const struct lance_commit *c, uint64_t frag)
{
	for (size_t i = 0; i < c->n_deletes; i++)
		if (c->deletes[i].fragment_id == frag)
			return (long)i;
	return -1;
}

/*
 * Can `c` go on top of transaction `t` (version v)? Not when it changed
 * a fragment we delete from in any way but deleting rows (hist_txn), or
 * replaced the table; deleted rows are merged with ours (compared when
 * the vectors are merged), and `touch` notes who deleted them.
 */
static int check_txn(const struct lance_commit *c, struct touch *touch,
		     const Lpb__Transaction *t, uint64_t v,
		     struct lc_err *err)
{
	struct lance_history h = { 0 };
	int rc = hist_txn(&h, t, v) ? LC_NOMEM(err) : 0;

	for (size_t i = 0; !rc && i < h.n; i++) {
		const struct hist_entry *e = &h.v[i];

		if (e->kind == HK_ALL) {
			rc = LC_CONFLICT(err, "this %s conflicts with the "
					 "concurrent %s at version %" PRIu64,
					 our_op(c), e->op, v);
			break;
		}
		for (size_t j = 0; !rc && j < e->n_frags; j++) {
			long k = find_delete(c, e->frags[j]);

			if (k < 0)
				continue;
			if (e->kind == HK_DELETED) {
				touch[k].version = v;
				touch[k].op = e->op;
			} else {
				rc = LC_CONFLICT(err, "this %s conflicts with "
						 "the concurrent %s at version "
						 "%" PRIu64 ", which %s "
						 "fragment %" PRIu64,
						 our_op(c), e->op, v, e->what,
						 e->frags[j]);
			}
		}
	}
	history_reset(&h);
	return rc;
}

/* ------------------------------------------------------------ build */

/* One attempt's state. */
struct attempt {
	struct pool pl;
	struct version latest;	/* version 0: creating */
	bool v2;
	uint64_t next;		/* the version we write */
	uint64_t first_frag;	/* the id of the first fragment appended */
	struct touch *touch;
	/* Saved pointers of latest.pm we replace, restored before free. */
	bool saved;
	Lpb__DataFragment **frags;
	size_t n_frags;
	Lpb__Timestamp *ts;
	Lpb__WriterVersion *wv;
	char *txn_file;
	Lpb__DataStorageFormat *df;
	Lpb__Manifest fresh;	/* the manifest of a new dataset */
};

static Lpb__Manifest *attempt_pm(struct attempt *a)
{
	return a->latest.pm ? a->latest.pm : &a->fresh;
}

/* The fragment's current deletion vector. */
static int load_deletion(struct lance_deletion *out, struct ostore *st,
			 const Lpb__DataFragment *f, struct lc_err *err)
{
	const Lpb__DeletionFile *d = f->deletion_file;
	bool bitmap;
	char key[128];
	uint8_t *buf;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!d)
		return 0;
	if (d->has_base_id_case == LPB__DELETION_FILE__HAS_BASE_ID_BASE_ID)
		return LC_UNSUPPORTED(err, "fragment %" PRIu64 ": deleting "
				      "from a fragment whose deletion file "
				      "lives in another base", f->id);
	bitmap = d->file_type == LPB__DELETION_FILE__KIND__BITMAP;
	snprintf(key, sizeof(key), "_deletions/%" PRIu64 "-%" PRIu64 "-%"
		 PRIu64 ".%s", f->id, d->read_version, d->id,
		 bitmap ? "bin" : "arrow");
	rc = ostore_get(&buf, &len, st, key, MAX_DELETION_BYTES, err);
	if (rc)
		return rc;
	if (bitmap)
		rc = lance_deletion_parse_bitmap(out, buf, len, err);
	else
		rc = lance_deletion_parse_arrow(out, buf, len, err);
	lc_free(buf);
	if (rc)
		lc_err_prefix(err, "%s: ", key);
	return rc;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/*
 * The id of our deletion file for fragment `frag` built on version
 * `latest`: random across writers (our uuid is), the same on every
 * attempt on that version, whose file then holds the same rows. So an
 * attempt after an unanswered manifest put rewrites the files and the
 * transaction the first attempt wrote, byte for byte, and whichever of
 * the two lands names what is there.
 */
static uint64_t deletion_id(const struct lance_commit *c, uint64_t latest,
			    uint64_t frag)
{
	char tail[48];

	snprintf(tail, sizeof(tail), "/%" PRIu64 "/%" PRIu64, latest, frag);
	return lc_hash_str_from(lc_hash_str(c->uuid), tail);
}

/*
 * Fragment `f` after deleting `del`: a shallow copy with a new deletion
 * file holding old and new rows, or *out NULL when no row is left.
 */
static int delete_rows(Lpb__DataFragment **out, struct attempt *a,
		       struct ostore *st, const struct lance_commit *c,
		       const Lpb__DataFragment *f,
		       const struct lance_commit_delete *del,
		       const struct touch *touch, struct lc_err *err)
{
	struct lance_deletion old;
	Lpb__DataFragment *nf;
	Lpb__DeletionFile *df;
	uint32_t *all = NULL;
	uint8_t *bytes = NULL;
	size_t n = 0, len = 0;
	bool bitmap;
	uint64_t id;
	char *key;
	int rc;

	*out = NULL;
	if (!f->physical_rows)
		return LC_UNSUPPORTED(err, "fragment %" PRIu64 ": its row "
				      "count is not recorded", f->id);
	rc = load_deletion(&old, st, f, err);
	if (rc)
		return rc;
	all = lc_calloc(old.n + del->n + 1, sizeof(*all));
	if (!all) {
		rc = LC_NOMEM(err);
		goto out;
	}
	if (old.n)
		memcpy(all, old.offsets, old.n * sizeof(*all));
	n = old.n;
	for (size_t i = 0; i < del->n; i++) {
		uint32_t r = del->offsets[i];

		if (r >= f->physical_rows) {
			rc = LC_USAGE(err, "fragment %" PRIu64 " has %" PRIu64
				      " rows; cannot delete row %u", f->id,
				      f->physical_rows, r);
			goto out;
		}
		if (lance_deletion_contains(&old, r)) {
			if (touch->version)
				rc = LC_CONFLICT(err, "this %s conflicts with "
						 "the concurrent %s at "
						 "version %" PRIu64 ", which "
						 "deleted row %u of fragment %"
						 PRIu64 " too", our_op(c),
						 touch->op, touch->version, r,
						 f->id);
			else
				rc = LC_CONFLICT(err, "row %u of fragment %"
						 PRIu64 " is already deleted",
						 r, f->id);
			goto out;
		}
		all[n++] = r;
	}
	qsort(all, n, sizeof(*all), cmp_u32);
	for (size_t i = 1; i < n; i++) {
		if (all[i] == all[i - 1]) {
			rc = LC_USAGE(err, "fragment %" PRIu64 ": row %u is "
				      "deleted twice", f->id, all[i]);
			goto out;
		}
	}
	if (n == f->physical_rows)
		goto out;	/* the whole fragment goes */

	/* Once a bitmap, always a bitmap (section 4.1). */
	bitmap = n > ARROW_MAX_DELETED || (f->deletion_file &&
		 f->deletion_file->file_type ==
		 LPB__DELETION_FILE__KIND__BITMAP);
	id = deletion_id(c, a->latest.version, f->id);
	rc = bitmap ? lance_deletion_write_bitmap(&bytes, &len, all, n, err)
		    : lance_deletion_write_arrow(&bytes, &len, all, n, err);
	if (rc)
		goto out;
	key = pool_printf(&a->pl, "_deletions/%" PRIu64 "-%" PRIu64 "-%"
			  PRIu64 ".%s", f->id, c->read_version, id,
			  bitmap ? "bin" : "arrow");
	nf = pool_calloc(&a->pl, 1, sizeof(*nf));
	df = pool_calloc(&a->pl, 1, sizeof(*df));
	if (!key || !nf || !df) {
		rc = LC_NOMEM(err);
		goto out;
	}
	rc = ostore_put(st, key, bytes, len, 0, err);
	if (rc)
		goto out;
	lpb__deletion_file__init(df);
	df->file_type = bitmap ? LPB__DELETION_FILE__KIND__BITMAP :
				 LPB__DELETION_FILE__KIND__ARROW_ARRAY;
	df->read_version = c->read_version;
	df->id = id;
	df->num_deleted_rows = n;
	*nf = *f;
	nf->deletion_file = df;
	*out = nf;
out:
	lance_deletion_reset(&old);
	lc_free(all);
	lc_free(bytes);
	return rc;
}

/* A DataFile message for one of the caller's files. */
static int data_file_pb(Lpb__DataFile *out, const struct lance_data_file *df,
			struct lc_err *err)
{
	const char *p = df->path ? df->path : "";

	if (!strncmp(p, "data/", 5))
		p += 5;
	if (!*p || strchr(p, '/'))
		return LC_USAGE(err, "data file \"%.200s\" is not a file name "
				"under data/", df->path ? df->path : "");
	if (df->n_column_indices && df->n_column_indices != df->n_fields)
		return LC_USAGE(err, "data file %.200s: %zu fields but %zu "
				"column indices", p, df->n_fields,
				df->n_column_indices);
	if (df->has_base_id)
		return LC_USAGE(err, "data file %.200s: new files must live "
				"under the dataset's own data/", p);
	lpb__data_file__init(out);
	out->path = (char *)p;
	out->n_fields = df->n_fields;
	out->fields = df->fields;
	out->n_column_indices = df->n_column_indices;
	out->column_indices = df->column_indices;
	out->file_major_version = df->major;
	out->file_minor_version = df->minor;
	out->file_size_bytes = df->size;
	return 0;
}

/* A new file must have the dataset's storage version (section 2.6),
 * unless the dataset allows mixed versions (flag 256). */
static int check_file_version(const Lpb__Manifest *pm,
			      const struct lance_data_file *df,
			      struct lc_err *err)
{
	const char *v = pm->data_format && pm->data_format->version ?
			pm->data_format->version : "";
	unsigned major, minor;
	bool ok;

	if (pm->writer_feature_flags & LANCE_FLAG_MIXED_VERSIONS ||
	    sscanf(v, "%u.%u", &major, &minor) != 2)
		return 0;
	/* "0.1" (legacy) datasets hold 0.x files. */
	ok = major ? df->major == major && df->minor == minor :
		     df->major == 0;
	if (!ok)
		return LC_USAGE(err, "data file %.200s is version %u.%u; the "
				"dataset stores %.20s", df->path, df->major,
				df->minor, v);
	return 0;
}

/* A Range segment [start, end) in the pool, or NULL. */
static Lpb__U64Segment *range_seg(struct pool *pl, uint64_t start,
				  uint64_t end)
{
	Lpb__U64Segment *seg = pool_calloc(pl, 1, sizeof(*seg));
	Lpb__U64Segment__Range *r = pool_calloc(pl, 1, sizeof(*r));

	if (!seg || !r)
		return NULL;
	lpb__u64_segment__init(seg);
	lpb__u64_segment__range__init(r);
	r->start = start;
	r->end = end;
	seg->segment_case = LPB__U64_SEGMENT__SEGMENT_RANGE;
	seg->range = r;
	return seg;
}

/* A serialized RowIdSequence of `ids`: a Range per run of consecutive
 * ids. */
static int ids_pb(ProtobufCBinaryData *out, struct pool *pl,
		  const uint64_t *ids, size_t n, struct lc_err *err)
{
	Lpb__RowIdSequence s = LPB__ROW_ID_SEQUENCE__INIT;
	size_t runs = 0;

	for (size_t i = 0; i < n; i++)
		runs += !i || ids[i] != ids[i - 1] + 1;
	s.segments = pool_calloc(pl, runs, sizeof(*s.segments));
	if (!s.segments)
		return LC_NOMEM(err);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && ids[j] == ids[j - 1] + 1; j++)
			;
		if (!(s.segments[s.n_segments++] =
			      range_seg(pl, ids[i], ids[j - 1] + 1)))
			return LC_NOMEM(err);
	}
	out->len = lpb__row_id_sequence__get_packed_size(&s);
	out->data = pool_calloc(pl, out->len, 1);
	if (!out->data)
		return LC_NOMEM(err);
	lpb__row_id_sequence__pack(&s, out->data);
	return 0;
}

/* A serialized RowVersionSequence of `v`: a run per stretch of rows of
 * one version, its span their positions (as lance writes them). */
static int versions_pb(ProtobufCBinaryData *out, struct pool *pl,
		       const uint64_t *v, size_t n, struct lc_err *err)
{
	Lpb__RowVersionSequence s = LPB__ROW_VERSION_SEQUENCE__INIT;
	size_t runs = 0;

	for (size_t i = 0; i < n; i++)
		runs += !i || v[i] != v[i - 1];
	s.runs = pool_calloc(pl, runs, sizeof(*s.runs));
	if (!s.runs)
		return LC_NOMEM(err);
	for (size_t i = 0, j; i < n; i = j) {
		Lpb__RowVersionRun *run = pool_calloc(pl, 1, sizeof(*run));

		for (j = i + 1; j < n && v[j] == v[i]; j++)
			;
		if (!run)
			return LC_NOMEM(err);
		lpb__row_version_run__init(run);
		if (!(run->span = range_seg(pl, i, j)))
			return LC_NOMEM(err);
		run->version = v[i];
		s.runs[s.n_runs++] = run;
	}
	out->len = lpb__row_version_sequence__get_packed_size(&s);
	out->data = pool_calloc(pl, out->len, 1);
	if (!out->data)
		return LC_NOMEM(err);
	lpb__row_version_sequence__pack(&s, out->data);
	return 0;
}

/* A row an update rewrites, in a stable-row-id dataset: where it was,
 * and the id and creation version its new row keeps. */
struct keep {
	uint64_t addr;		/* fragment id << 32 | offset, version read */
	size_t frag, row;	/* c->appends[frag], its row */
	uint64_t id, created;
	bool found;		/* else it gets a new id */
};

static int cmp_keep_addr(const void *x, const void *y)
{
	const struct keep *a = x, *b = y;

	return a->addr < b->addr ? -1 : a->addr > b->addr;
}

static int cmp_keep_row(const void *x, const void *y)
{
	const struct keep *a = x, *b = y;

	if (a->frag != b->frag)
		return a->frag < b->frag ? -1 : 1;
	return a->row < b->row ? -1 : a->row > b->row;
}

/* A walk of one fragment's runs (ids or versions) over its keeps, which
 * are in offset order. */
struct keep_walk {
	struct keep *k;
	size_t i, n;
	uint64_t pos;
	bool ids;
};

static int keep_run(void *ctx, uint64_t v, uint64_t len, struct lc_err *err)
{
	struct keep_walk *w = ctx;

	(void)err;
	for (; w->i < w->n && (w->k[w->i].addr & 0xffffffffu) < w->pos + len;
	     w->i++) {
		struct keep *k = &w->k[w->i];

		if (w->ids) {
			k->id = v + ((k->addr & 0xffffffffu) - w->pos);
			k->found = true;
		} else {
			k->created = v;
		}
	}
	w->pos += len;
	return 0;
}

/*
 * The ids and creation versions the rows updates rewrite keep, for
 * every row of c->appends that names one (stable row ids), sorted by
 * (append, row). Each fragment's sequences are walked once, nothing is
 * expanded. A row of a fragment without inline ids (lance writes none
 * elsewhere) gets a new id.
 */
static int keeps_find(struct keep **out, size_t *n_out, struct attempt *a,
		      const struct lance_commit *c, struct lc_err *err)
{
	struct keep *k;
	size_t n = 0;
	int rc = 0;

	*out = NULL;
	*n_out = 0;
	for (size_t i = 0; i < c->n_appends; i++)
		for (uint64_t r = 0; c->appends[i].rewrites &&
				     r < c->appends[i].physical_rows; r++)
			n += c->appends[i].rewrites[r] != LANCE_NEW_ROW;
	if (!n)
		return 0;
	if (!(k = pool_calloc(&a->pl, n, sizeof(*k))))
		return LC_NOMEM(err);
	n = 0;
	for (size_t i = 0; i < c->n_appends; i++)
		for (uint64_t r = 0; c->appends[i].rewrites &&
				     r < c->appends[i].physical_rows; r++)
			if (c->appends[i].rewrites[r] != LANCE_NEW_ROW) {
				k[n].addr = c->appends[i].rewrites[r];
				k[n].frag = i;
				k[n].row = (size_t)r;
				k[n++].created = 1;	/* none: lance's 1 */
			}
	qsort(k, n, sizeof(*k), cmp_keep_addr);
	for (size_t g = 0, e; g < n && !rc; g = e) {
		uint64_t frag = k[g].addr >> 32;
		const Lpb__DataFragment *f = NULL;
		struct keep_walk w = { k + g, 0, 0, 0, true };

		for (e = g; e < n && k[e].addr >> 32 == frag; e++)
			;
		w.n = e - g;
		for (size_t j = 0; j < a->n_frags && !f; j++)
			if (a->frags[j]->id == frag)
				f = a->frags[j];
		/* gone: the caller's conflict check */
		if (!f || f->row_id_sequence_case !=
			  LPB__DATA_FRAGMENT__ROW_ID_SEQUENCE_INLINE_ROW_IDS)
			continue;
		rc = lance__rowids_runs(f->inline_row_ids.data,
					f->inline_row_ids.len,
					f->physical_rows, keep_run, &w, err);
		if (!rc && f->created_at_version_sequence_case ==
		    LPB__DATA_FRAGMENT__CREATED_AT_VERSION_SEQUENCE_INLINE_CREATED_AT_VERSIONS) {
			w.i = 0;
			w.pos = 0;
			w.ids = false;
			rc = lance__row_versions_runs(
				f->inline_created_at_versions.data,
				f->inline_created_at_versions.len,
				f->physical_rows, keep_run, &w, err);
		}
		if (rc)
			lc_err_prefix(err, "fragment %" PRIu64 ": ", frag);
	}
	if (rc)
		return rc;
	qsort(k, n, sizeof(*k), cmp_keep_row);
	*out = k;
	*n_out = n;
	return 0;
}

/* Row ids and row versions of new fragment `f`, c->appends[fi], in a
 * stable-row-id dataset: rewritten rows keep their ids and creation
 * versions (*keep, consumed in order), new ones take ids from
 * *next_row_id; every row was last updated at this version (lance's
 * Append and Update do the same). */
static int stable_meta(Lpb__DataFragment *f, const struct lance_commit_frag *cf,
		       size_t fi, struct attempt *a, const struct keep **keep,
		       const struct keep *keep_end, uint64_t *next_row_id,
		       struct lc_err *err)
{
	struct pool *pl = &a->pl;
	size_t n = (size_t)cf->physical_rows;
	uint64_t *ids = pool_calloc(pl, n, sizeof(*ids));
	uint64_t *created = pool_calloc(pl, n, sizeof(*created));
	uint64_t *updated = pool_calloc(pl, n, sizeof(*updated));
	int rc;

	if (!ids || !created || !updated)
		return LC_NOMEM(err);
	for (size_t r = 0; r < n; r++) {
		const struct keep *k = NULL;

		if (*keep < keep_end && (*keep)->frag == fi &&
		    (*keep)->row == r)
			k = (*keep)++;
		if (k && k->found && k->id >= *next_row_id)
			return LC_CORRUPT(err, "fragment %" PRIu64 ": row id %"
					  PRIu64 " is past the dataset's next "
					  "row id", k->addr >> 32, k->id);
		if (k && k->found) {
			ids[r] = k->id;
			created[r] = k->created;
		} else {
			if (*next_row_id == UINT64_MAX)
				return LC_LIMIT(err, "row ids are exhausted");
			ids[r] = (*next_row_id)++;
			created[r] = a->next;
		}
		updated[r] = a->next;
	}
	rc = ids_pb(&f->inline_row_ids, pl, ids, n, err);
	if (!rc)
		rc = versions_pb(&f->inline_created_at_versions, pl, created,
				 n, err);
	if (!rc)
		rc = versions_pb(&f->inline_last_updated_at_versions, pl,
				 updated, n, err);
	if (rc)
		return rc;
	f->row_id_sequence_case =
		LPB__DATA_FRAGMENT__ROW_ID_SEQUENCE_INLINE_ROW_IDS;
	f->created_at_version_sequence_case =
	LPB__DATA_FRAGMENT__CREATED_AT_VERSION_SEQUENCE_INLINE_CREATED_AT_VERSIONS;
	f->last_updated_at_version_sequence_case =
	LPB__DATA_FRAGMENT__LAST_UPDATED_AT_VERSION_SEQUENCE_INLINE_LAST_UPDATED_AT_VERSIONS;
	return 0;
}

/* Fields of the Manifest for a new dataset from the caller's schema. */
static int schema_pb(Lpb__Manifest *pm, struct pool *pl,
		     const struct lance_schema *s, struct lc_err *err)
{
	pm->fields = pool_calloc(pl, s->n_fields, sizeof(*pm->fields));
	pm->schema_metadata = pool_calloc(pl, s->n_metadata,
					  sizeof(*pm->schema_metadata));
	if (!pm->fields || !pm->schema_metadata)
		return LC_NOMEM(err);
	for (size_t i = 0; i < s->n_fields; i++) {
		const struct lance_field *f = &s->fields[i];
		Lpb__Field *pf = pool_calloc(pl, 1, sizeof(*pf));
		const char *ext;

		if (!pf)
			return LC_NOMEM(err);
		lpb__field__init(pf);
		pf->name = f->name;
		pf->id = f->id;
		pf->parent_id = f->parent_id;
		pf->logical_type = f->logical_type;
		pf->nullable = f->nullable;
		ext = lance_field_meta(f, "ARROW:extension:name");
		if (ext)
			pf->extension_name = (char *)ext;
		pf->metadata = pool_calloc(pl, f->n_metadata,
					   sizeof(*pf->metadata));
		if (!pf->metadata)
			return LC_NOMEM(err);
		for (size_t j = 0; j < f->n_metadata; j++) {
			Lpb__Field__MetadataEntry *e =
				pool_calloc(pl, 1, sizeof(*e));

			if (!e)
				return LC_NOMEM(err);
			lpb__field__metadata_entry__init(e);
			e->key = f->metadata[j].key;
			e->value.data = f->metadata[j].value;
			e->value.len = f->metadata[j].value_len;
			pf->metadata[pf->n_metadata++] = e;
		}
		pm->fields[pm->n_fields++] = pf;
	}
	for (size_t i = 0; i < s->n_metadata; i++) {
		Lpb__Manifest__SchemaMetadataEntry *e =
			pool_calloc(pl, 1, sizeof(*e));

		if (!e)
			return LC_NOMEM(err);
		lpb__manifest__schema_metadata_entry__init(e);
		e->key = s->metadata[i].key;
		e->value.data = s->metadata[i].value;
		e->value.len = s->metadata[i].value_len;
		pm->schema_metadata[pm->n_schema_metadata++] = e;
	}
	return 0;
}

static int fresh_manifest(struct attempt *a, const struct lance_commit *c,
			  struct lc_err *err)
{
	Lpb__Manifest *pm = &a->fresh;
	Lpb__DataStorageFormat *df;
	int rc;

	lpb__manifest__init(pm);
	if (!c->new_schema || !c->new_schema->n_fields)
		return LC_USAGE(err, "creating a dataset needs a schema");
	rc = schema_pb(pm, &a->pl, c->new_schema, err);
	if (rc)
		return rc;
	pm->config = pool_calloc(&a->pl, c->n_config, sizeof(*pm->config));
	df = pool_calloc(&a->pl, 1, sizeof(*df));
	if (!pm->config || !df)
		return LC_NOMEM(err);
	for (size_t i = 0; i < c->n_config; i++) {
		Lpb__Manifest__ConfigEntry *e =
			pool_calloc(&a->pl, 1, sizeof(*e));

		if (!e)
			return LC_NOMEM(err);
		lpb__manifest__config_entry__init(e);
		e->key = c->config[i].key;
		e->value = (char *)c->config[i].value;
		pm->config[pm->n_config++] = e;
	}
	lpb__data_storage_format__init(df);
	df->file_format = (char *)"lance";
	df->version = (char *)(c->data_format ? c->data_format : "2.0");
	pm->data_format = df;
	if (c->stable_row_ids)
		pm->reader_feature_flags = pm->writer_feature_flags =
			LANCE_FLAG_STABLE_ROW_IDS;
	return 0;
}

/* The transaction's operation; fragments as the manifest has them,
 * appended ones as lance writes them (ids 0, no row ids or versions). */
static int txn_op(Lpb__Transaction *t, struct attempt *a,
		  const struct lance_commit *c, Lpb__DataFragment **upd,
		  size_t n_upd, uint64_t *gone, size_t n_gone,
		  Lpb__DataFragment **added, struct lc_err *err)
{
	Lpb__DataFragment **add = pool_calloc(&a->pl, c->n_appends,
					      sizeof(*add));
	struct pool *pl = &a->pl;

	if (!add)
		return LC_NOMEM(err);
	for (size_t i = 0; i < c->n_appends; i++) {
		add[i] = pool_calloc(pl, 1, sizeof(**add));
		if (!add[i])
			return LC_NOMEM(err);
		*add[i] = *added[i];
		add[i]->id = 0;
		add[i]->row_id_sequence_case =
			LPB__DATA_FRAGMENT__ROW_ID_SEQUENCE__NOT_SET;
		add[i]->created_at_version_sequence_case =
			LPB__DATA_FRAGMENT__CREATED_AT_VERSION_SEQUENCE__NOT_SET;
		add[i]->last_updated_at_version_sequence_case =
		LPB__DATA_FRAGMENT__LAST_UPDATED_AT_VERSION_SEQUENCE__NOT_SET;
	}
	if (!c->read_version) {
		Lpb__Transaction__Overwrite *o = pool_calloc(pl, 1,
							     sizeof(*o));
		Lpb__Manifest *pm = attempt_pm(a);

		if (!o)
			return LC_NOMEM(err);
		lpb__transaction__overwrite__init(o);
		o->n_fragments = c->n_appends;
		o->fragments = added;
		o->n_schema = pm->n_fields;
		o->schema = pm->fields;
		/* Same wire shape as the Manifest's map entries. */
		o->n_schema_metadata = pm->n_schema_metadata;
		o->schema_metadata = (void *)pm->schema_metadata;
		o->n_config_upsert_values = pm->n_config;
		o->config_upsert_values = (void *)pm->config;
		t->operation_case = LPB__TRANSACTION__OPERATION_OVERWRITE;
		t->overwrite = o;
	} else if (c->n_appends && (n_upd || n_gone)) {
		Lpb__Transaction__Update *u = pool_calloc(pl, 1, sizeof(*u));

		if (!u)
			return LC_NOMEM(err);
		lpb__transaction__update__init(u);
		u->n_removed_fragment_ids = n_gone;
		u->removed_fragment_ids = gone;
		u->n_updated_fragments = n_upd;
		u->updated_fragments = upd;
		u->n_new_fragments = c->n_appends;
		u->new_fragments = add;
		u->update_mode = LPB__TRANSACTION__UPDATE_MODE__REWRITE_ROWS;
		t->operation_case = LPB__TRANSACTION__OPERATION_UPDATE;
		t->update = u;
	} else if (n_upd || n_gone) {
		Lpb__Transaction__Delete *d = pool_calloc(pl, 1, sizeof(*d));

		if (!d)
			return LC_NOMEM(err);
		lpb__transaction__delete__init(d);
		d->n_updated_fragments = n_upd;
		d->updated_fragments = upd;
		d->n_deleted_fragment_ids = n_gone;
		d->deleted_fragment_ids = gone;
		t->operation_case = LPB__TRANSACTION__OPERATION_DELETE;
		t->delete_ = d;
	} else {
		Lpb__Transaction__Append *ap = pool_calloc(pl, 1,
							   sizeof(*ap));

		if (!ap)
			return LC_NOMEM(err);
		lpb__transaction__append__init(ap);
		ap->n_fragments = c->n_appends;
		ap->fragments = add;
		t->operation_case = LPB__TRANSACTION__OPERATION_APPEND;
		t->append = ap;
	}
	return 0;
}

/* Recompute the feature flags from the content (section 2.9). */
static void set_flags(Lpb__Manifest *pm)
{
	uint64_t sticky = LANCE_FLAG_STABLE_ROW_IDS |
			  LANCE_FLAG_COVERED_INDEX |
			  LANCE_FLAG_MIXED_VERSIONS;
	uint64_t r = pm->reader_feature_flags & sticky;
	uint64_t w = pm->writer_feature_flags & sticky;

	for (size_t i = 0; i < pm->n_fragments; i++) {
		if (pm->fragments[i]->deletion_file) {
			r |= LANCE_FLAG_DELETION_FILES;
			w |= LANCE_FLAG_DELETION_FILES;
			break;
		}
	}
	if (pm->n_base_paths) {
		r |= LANCE_FLAG_BASE_PATHS;
		w |= LANCE_FLAG_BASE_PATHS;
	}
	if (pm->n_config)
		w |= LANCE_FLAG_TABLE_CONFIG;
	pm->reader_feature_flags = r;
	pm->writer_feature_flags = w;
}

/* Bytes of the latest manifest file kept verbatim at the start of ours:
 * legacy dictionary values, which fields point at by offset. */
static size_t kept_prefix(const struct version *v)
{
	size_t end = v->pos;

	if (!v->m)
		return 0;
	if (v->m->has_index_section && v->m->index_section < end)
		end = (size_t)v->m->index_section;
	if (v->m->has_transaction_section &&
	    v->m->transaction_section < end)
		end = (size_t)v->m->transaction_section;
	return end;
}

/*
 * Serialize [kept prefix][IndexSection][Transaction][Manifest][footer].
 * Sets the section offsets in pm first.
 */
static int manifest_file(uint8_t **out, size_t *out_len,
			 const struct version *v, Lpb__Manifest *pm,
			 const uint8_t *txn, size_t txn_len,
			 struct lc_err *err)
{
	size_t pre = kept_prefix(v), idx = 0, idx_off = 0, man_len, total, o;
	uint8_t *buf;

	if (v->m && v->m->has_index_section) {
		uint64_t is = v->m->index_section;

		idx = lc_le32(v->m->raw + is);
		if (!lc_range_ok(is + 4, idx, v->pos))
			return LC_CORRUPT(err, "version %" PRIu64 ": index "
					  "section overruns the manifest",
					  v->version);
		idx_off = (size_t)is;
		idx += 4;
		pm->has_index_section_case =
			LPB__MANIFEST__HAS_INDEX_SECTION_INDEX_SECTION;
		pm->index_section = pre;
	} else {
		pm->has_index_section_case =
			LPB__MANIFEST__HAS_INDEX_SECTION__NOT_SET;
	}
	pm->has_transaction_section_case =
		LPB__MANIFEST__HAS_TRANSACTION_SECTION_TRANSACTION_SECTION;
	pm->transaction_section = pre + idx;
	man_len = lpb__manifest__get_packed_size(pm);
	if (man_len > UINT32_MAX || txn_len > UINT32_MAX)
		return LC_LIMIT(err, "manifest of %zu bytes", man_len);
	total = pre + idx + 4 + txn_len + 4 + man_len + FOOTER_LEN;
	buf = lc_malloc(total);
	if (!buf)
		return LC_NOMEM(err);
	if (pre)
		memcpy(buf, v->m->raw, pre);
	o = pre;
	if (idx)
		memcpy(buf + o, v->m->raw + idx_off, idx);
	o += idx;
	lc_put_le32(buf + o, (uint32_t)txn_len);
	memcpy(buf + o + 4, txn, txn_len);
	o += 4 + txn_len;
	lc_put_le64(buf + total - FOOTER_LEN, o);
	lc_put_le32(buf + o, (uint32_t)man_len);
	lpb__manifest__pack(pm, buf + o + 4);
	o += 4 + man_len;
	lc_put_le16(buf + o + 8, 0);
	lc_put_le16(buf + o + 10, 2);
	memcpy(buf + o + 12, "LANC", 4);
	*out = buf;
	*out_len = total;
	return 0;
}

/* Restore what we swapped into the latest manifest, then free it all. */
static void attempt_reset(struct attempt *a)
{
	Lpb__Manifest *pm = a->latest.pm;

	if (pm && a->saved) {
		pm->fragments = a->frags;
		pm->n_fragments = a->n_frags;
		pm->timestamp = a->ts;
		pm->writer_version = a->wv;
		pm->transaction_file = a->txn_file;
		pm->data_format = a->df;
	}
	version_reset(&a->latest);
	pool_reset(&a->pl);
	lc_free(a->touch);
	memset(a, 0, sizeof(*a));
}

/*
 * Version `v`'s transaction, newer than c->read_version: our own
 * (*done, *landed), or one ours must rebase over. A new dataset rebases
 * over nothing: any version not ours is a conflict.
 */
static int check_version(bool *done, uint64_t *landed, struct attempt *a,
			 struct ostore *st, const struct version *v,
			 const struct lance_commit *c, struct lc_err *err)
{
	Lpb__Transaction *t = NULL;
	int rc = version_txn(&t, st, v, err);

	if (!rc && t->uuid && !strcmp(t->uuid, c->uuid)) {
		*done = true;
		*landed = v->version;
	} else if (!rc && !c->read_version) {
		rc = LC_CONFLICT(err, "%s: a dataset already exists there "
				 "(version %" PRIu64 ")", st->root,
				 v->version);
	} else if (!rc) {
		rc = check_txn(c, a->touch, t, v->version, err);
	}
	lpb__transaction__free_unpacked(t, NULL);
	return rc;
}

/*
 * Load the latest version and check every transaction since
 * c->read_version. *done is set when our own uuid is among them.
 */
static int attempt_load(struct attempt *a, bool *done, uint64_t *landed,
			struct ostore *st, const struct lance_commit *c,
			struct lc_err *err)
{
	struct lance_version_info *vs = NULL;
	struct lc_err lerr = { 0 };
	size_t nv = 0;
	int rc;

	*done = false;
	a->touch = lc_calloc(c->n_deletes + 1, sizeof(*a->touch));
	if (!a->touch)
		return LC_NOMEM(err);
	rc = lance_list_versions(&vs, &nv, st, &lerr);
	if (rc == ENOENT && lerr.kind == LC_EK_NOTFOUND) {
		if (c->read_version)
			return LC_NOTFOUND(err, "%s: no dataset to commit "
					   "version %" PRIu64 " on", st->root,
					   c->read_version + 1);
		a->v2 = true;
		a->next = 1;
		return fresh_manifest(a, c, err);
	}
	if (rc) {
		*err = lerr;
		return rc;
	}
	a->v2 = strlen(vs[nv - 1].manifest_key) == 10 + 29;
	if (c->read_version > vs[nv - 1].version) {
		rc = LC_USAGE(err, "read version %" PRIu64 " is past the "
			      "latest version %" PRIu64, c->read_version,
			      vs[nv - 1].version);
		goto out;
	}
	/* a version gone (cleaned up) hides its transaction (an Overwrite
	 * or Restore conflicts even with appends): the commit is planned
	 * again on the latest */
	for (uint64_t i = 0, want = c->read_version + 1;
	     c->read_version && i < nv; i++) {
		if (vs[i].version < want)
			continue;
		if (vs[i].version != want) {
			rc = LC_CONFLICT(err, "%s: version %" PRIu64 " is gone, "
					 "so this %s cannot be checked against "
					 "it", st->root, want, our_op(c));
			goto out;
		}
		want++;
	}
	/* oldest first; the latest stays loaded for the attempt */
	for (size_t i = 0; i + 1 < nv; i++) {
		struct version v;

		if (vs[i].version <= c->read_version)
			continue;
		rc = version_load(&v, st, &vs[i], err);
		if (!rc)
			rc = check_version(done, landed, a, st, &v, c, err);
		version_reset(&v);
		if (rc || *done)
			goto out;
	}
	rc = version_load(&a->latest, st, &vs[nv - 1], err);
	if (!rc && a->latest.version > c->read_version)
		rc = check_version(done, landed, a, st, &a->latest, c, err);
	if (rc || *done)
		goto out;
	if (a->latest.m->writer_flags & ~(uint64_t)KNOWN_WRITER_FLAGS) {
		rc = LC_UNSUPPORTED(err, "version %" PRIu64 ": writer feature "
				    "flags 0x%" PRIx64 " include bits this "
				    "writer does not know",
				    a->latest.version,
				    a->latest.m->writer_flags);
		goto out;
	}
	a->next = a->latest.version + 1;
out:
	lance_versions_free(vs, nv);
	return rc;
}

/* Build and write everything but the manifest; *file is the manifest. */
static int attempt_build(uint8_t **file, size_t *file_len, char **txn_key,
			 struct attempt *a, struct ostore *st,
			 const struct lance_commit *c, struct lc_err *err)
{
	Lpb__Manifest *pm = attempt_pm(a);
	Lpb__Transaction t = LPB__TRANSACTION__INIT;
	Lpb__Timestamp *ts;
	Lpb__WriterVersion *wv;
	Lpb__DataFragment **frags, **upd, **added;
	struct keep *keeps = NULL;
	const struct keep *kp;
	size_t n_keeps = 0;
	uint64_t *gone, next_id = 0, row_id;
	size_t nf = 0, n_upd = 0, n_gone = 0, txn_len;
	bool stable = pm->reader_feature_flags & LANCE_FLAG_STABLE_ROW_IDS;
	struct pool *pl = &a->pl;
	struct timespec now;
	uint8_t *txn;
	int rc;

	a->saved = true;
	a->frags = pm->fragments;
	a->n_frags = pm->n_fragments;
	a->ts = pm->timestamp;
	a->wv = pm->writer_version;
	a->txn_file = pm->transaction_file;
	a->df = pm->data_format;

	frags = pool_calloc(pl, a->n_frags + c->n_appends, sizeof(*frags));
	upd = pool_calloc(pl, c->n_deletes, sizeof(*upd));
	gone = pool_calloc(pl, c->n_deletes, sizeof(*gone));
	added = pool_calloc(pl, c->n_appends, sizeof(*added));
	ts = pool_calloc(pl, 1, sizeof(*ts));
	wv = pool_calloc(pl, 1, sizeof(*wv));
	if (!frags || !upd || !gone || !added || !ts || !wv)
		return LC_NOMEM(err);
	if (stable && (rc = keeps_find(&keeps, &n_keeps, a, c, err)))
		return rc;
	kp = keeps;

	/* Deletes, fragment by fragment. */
	for (size_t i = 0; i < c->n_deletes; i++) {
		bool found = false;

		for (size_t j = i + 1; j < c->n_deletes; j++)
			if (c->deletes[j].fragment_id ==
			    c->deletes[i].fragment_id)
				return LC_USAGE(err, "fragment %" PRIu64
						" is listed twice among the "
						"deletes",
						c->deletes[i].fragment_id);
		for (size_t j = 0; j < a->n_frags; j++)
			if (a->frags[j]->id == c->deletes[i].fragment_id)
				found = true;
		if (!found && a->touch[i].version)
			return LC_CONFLICT(err, "this %s conflicts with the "
					   "concurrent %s at version %" PRIu64
					   ": fragment %" PRIu64 " is gone",
					   our_op(c), a->touch[i].op,
					   a->touch[i].version,
					   c->deletes[i].fragment_id);
		if (!found)
			return LC_CONFLICT(err, "fragment %" PRIu64 " is not "
					   "in version %" PRIu64,
					   c->deletes[i].fragment_id,
					   a->latest.version);
	}
	for (size_t j = 0; j < a->n_frags; j++) {
		Lpb__DataFragment *f = a->frags[j], *nfr;
		long k = find_delete(c, f->id);

		if (f->id >= next_id)
			next_id = f->id + 1;
		if (k < 0 || !c->deletes[k].n) {
			frags[nf++] = f;
			continue;
		}
		rc = delete_rows(&nfr, a, st, c, f, &c->deletes[k],
				 &a->touch[k], err);
		if (rc)
			return rc;
		if (nfr) {
			frags[nf++] = nfr;
			upd[n_upd++] = nfr;
		} else {
			gone[n_gone++] = f->id;
		}
	}

	/* Appends: ids after max_fragment_id, row ids from next_row_id. */
	if (pm->has_max_fragment_id_case ==
	    LPB__MANIFEST__HAS_MAX_FRAGMENT_ID_MAX_FRAGMENT_ID &&
	    (uint64_t)pm->max_fragment_id + 1 > next_id)
		next_id = (uint64_t)pm->max_fragment_id + 1;
	row_id = pm->next_row_id;
	a->first_frag = next_id;
	for (size_t i = 0; i < c->n_appends; i++) {
		const struct lance_commit_frag *cf = &c->appends[i];
		Lpb__DataFragment *f = pool_calloc(pl, 1, sizeof(*f));
		Lpb__DataFile *files = pool_calloc(pl, cf->n_files,
						   sizeof(*files));
		Lpb__DataFile **fp = pool_calloc(pl, cf->n_files,
						 sizeof(*fp));

		if (!f || !files || !fp)
			return LC_NOMEM(err);
		if (!cf->n_files || !cf->physical_rows ||
		    cf->physical_rows > UINT32_MAX)
			return LC_USAGE(err, "new fragment %zu: %zu files, %"
					PRIu64 " rows", i, cf->n_files,
					cf->physical_rows);
		if (next_id > UINT32_MAX)
			return LC_LIMIT(err, "fragment ids are exhausted");
		lpb__data_fragment__init(f);
		for (size_t j = 0; j < cf->n_files; j++) {
			rc = check_file_version(pm, &cf->files[j], err);
			if (!rc)
				rc = data_file_pb(&files[j], &cf->files[j],
						  err);
			if (rc)
				return rc;
			fp[j] = &files[j];
		}
		f->id = next_id++;
		f->n_files = cf->n_files;
		f->files = fp;
		f->physical_rows = cf->physical_rows;
		if (stable && (rc = stable_meta(f, cf, i, a, &kp, keeps + n_keeps,
					       &row_id, err)))
			return rc;
		added[i] = f;
		frags[nf++] = f;
	}
	pm->fragments = frags;
	pm->n_fragments = nf;
	if (next_id) {
		pm->has_max_fragment_id_case =
			LPB__MANIFEST__HAS_MAX_FRAGMENT_ID_MAX_FRAGMENT_ID;
		pm->max_fragment_id = (uint32_t)(next_id - 1);
	}
	if (stable)
		pm->next_row_id = row_id;
	pm->version = a->next;
	clock_gettime(CLOCK_REALTIME, &now);
	lpb__timestamp__init(ts);
	ts->seconds = now.tv_sec;
	ts->nanos = (int32_t)now.tv_nsec;
	pm->timestamp = ts;
	lpb__writer_version__init(wv);
	wv->library = (char *)"lancefs";
	wv->version = (char *)"0.1.0";
	pm->writer_version = wv;
	set_flags(pm);
	pm->transaction_file = pool_printf(pl, "%" PRIu64 "-%s.txn",
					   c->read_version, c->uuid);
	*txn_key = pool_printf(pl, "_transactions/%s", pm->transaction_file);
	if (!pm->transaction_file || !*txn_key)
		return LC_NOMEM(err);

	t.read_version = c->read_version;
	t.uuid = (char *)c->uuid;
	rc = txn_op(&t, a, c, upd, n_upd, gone, n_gone, added, err);
	if (rc)
		return rc;
	txn_len = lpb__transaction__get_packed_size(&t);
	txn = pool_calloc(pl, txn_len, 1);
	if (!txn)
		return LC_NOMEM(err);
	lpb__transaction__pack(&t, txn);
	rc = ostore_put(st, *txn_key, txn, txn_len, 0, err);
	if (rc)
		return rc;
	return manifest_file(file, file_len, &a->latest, pm, txn, txn_len,
			     err);
}

/* Sleep before attempt `n` (1-based): jittered, doubling, capped. */
static void back_off(unsigned n)
{
	uint64_t r = 0, cap_us = 5000u << (n < 8 ? n : 8);
	struct timespec ts;

	if (random_u64(&r, NULL))
		r = (uint64_t)n * 7919;
	r %= cap_us;
	ts.tv_sec = (time_t)(r / 1000000);
	ts.tv_nsec = (long)(r % 1000000) * 1000;
	nanosleep(&ts, NULL);
}

static void write_hint(struct ostore *st, uint64_t version)
{
	char body[48];
	int n;

	/* Only stores that do not list lexically (section 1.3). */
	if (st->ops->kind != OSTORE_KIND_LOCAL)
		return;
	n = snprintf(body, sizeof(body), "{\"version\":%" PRIu64 "}",
		     version);
	if (ostore_put(st, "_versions/latest_version_hint.json", body,
		       (size_t)n, 0, NULL)) {
		/* Best effort: readers fall back to listing. */
	}
}

int lance_commit(uint64_t *new_version, struct ostore *st,
		 struct lance_commit *c, struct lc_err *err)
{
	struct attempt a;
	int rc = 0;

	*new_version = 0;
	c->unsure = false;
	c->first_fragment_id = UINT64_MAX;
	memset(&a, 0, sizeof(a));
	if (!c->uuid[0]) {
		rc = lc_uuid(c->uuid, err);
		if (rc)
			return rc;
	}
	if (memchr(c->uuid, 0, sizeof(c->uuid)) == NULL ||
	    strlen(c->uuid) != 36 || strchr(c->uuid, '/'))
		return LC_USAGE(err, "transaction id \"%.36s\" is not a "
				"hyphenated uuid", c->uuid);
	if (!c->read_version && c->n_deletes)
		return LC_USAGE(err, "a new dataset has no rows to delete");
	if (!c->n_appends && !c->n_deletes && c->read_version)
		return LC_USAGE(err, "nothing to commit");

	for (unsigned n = 1, unsure = 0;; n++) {
		uint8_t *file = NULL;
		size_t file_len = 0;
		char *txn_key = NULL, *key;
		bool done = false, sent = false;
		uint64_t landed = 0;

		rc = attempt_load(&a, &done, &landed, st, c, err);
		if (!rc && done) {
			*new_version = landed;
			attempt_reset(&a);
			return 0;
		}
		if (!rc)
			rc = attempt_build(&file, &file_len, &txn_key, &a, st,
					   c, err);
		key = rc ? NULL : manifest_key(&a.pl, a.v2, a.next);
		if (!rc && !key)
			rc = LC_NOMEM(err);
		if (!rc) {
			sent = true;
			rc = ostore_put(st, key, file, file_len, 1, err);
		}
		lc_free(file);
		if (!rc) {
			*new_version = a.next;
			c->first_fragment_id = a.first_frag;
			attempt_reset(&a);
			write_hint(st, *new_version);
			return 0;
		}
		attempt_reset(&a);
		/* A put without a definite answer (a timeout, a lost reply)
		 * may have landed, or land later still. The next attempt
		 * finds it by our uuid, or takes that version's name first:
		 * the transaction lands once. Under a new uuid, its rows
		 * could land twice. A timeout before the manifest's put (a
		 * listing, the transaction file) is tried again too, but
		 * leaves nothing that could land. */
		if (rc == ETIMEDOUT && err->kind == LC_EK_REMOTE) {
			if (sent)
				c->unsure = true;
			if (unsure == UNSURE_TRIES)
				return rc;
			if (unsure) {
				struct timespec ts = { .tv_sec = unsure };

				nanosleep(&ts, NULL);
			}
			unsure++;
			lc_err_clear(err);
			continue;
		}
		if (rc != EEXIST)
			return rc;
		lc_err_clear(err);
		if (n >= MAX_ATTEMPTS)	/* timeouts count too */
			return LC_CONFLICT(err, "%s: gave up after %u attempts"
					   ": other writers kept committing "
					   "first", st->root, n);
		back_off(n);
	}
}

/* ------------------------------------------------------------ recovery */

/* ------------------------------------------------------------ history */

int lance_history_load(struct lance_history **out, struct ostore *st,
		       uint64_t from, uint64_t to, struct lc_err *err)
{
	struct lance_history *h = lc_calloc(1, sizeof(*h));
	struct lance_version_info *vs = NULL;
	uint64_t want = from + 1;
	size_t nv = 0;
	int rc;

	*out = NULL;
	if (!h)
		return LC_NOMEM(err);
	rc = lance_list_versions(&vs, &nv, st, err);
	for (size_t i = 0; !rc && i < nv && want <= to; i++) {
		Lpb__Transaction *t = NULL;
		struct lc_err terr = { 0 };
		struct version v;

		if (vs[i].version < want)
			continue;
		if (vs[i].version != want) {
			/* gone: unknown, as seen from any base before the
			 * last of them */
			uint64_t last = vs[i].version - 1 < to ?
						vs[i].version - 1 : to;

			if (!hist_add(h, last, "a version gone", "may have "
				      "changed", HK_ALL)) {
				rc = LC_NOMEM(err);
				break;
			}
			want = vs[i].version;
			if (want > to)
				break;
		}
		rc = version_load(&v, st, &vs[i], err);
		if (rc)
			break;
		if (version_txn(&t, st, &v, &terr)) {
			/* none recorded (or unreadable): unknown */
			if (terr.kind != LC_EK_CONFLICT &&
			    terr.kind != LC_EK_CORRUPT) {
				*err = terr;
				rc = terr.code;
			} else if (!hist_add(h, v.version, "no transaction "
					     "recorded", "may have changed",
					     HK_ALL)) {
				rc = LC_NOMEM(err);
			}
		} else if (hist_txn(h, t, v.version)) {
			rc = LC_NOMEM(err);
		}
		lpb__transaction__free_unpacked(t, NULL);
		version_reset(&v);
		want++;
	}
	if (!rc && want <= to)	/* `to` itself is gone */
		rc = LC_CONFLICT(err, "%s: version %" PRIu64 " is gone",
				 st->root, to);
	lance_versions_free(vs, nv);
	if (rc) {
		lance_history_free(h);
		return rc;
	}
	*out = h;
	return 0;
}

int lance_history_check(const struct lance_history *h, uint64_t base,
			uint64_t frag, bool values, bool *replaced,
			struct lc_err *err)
{
	int rc = 0;

	*replaced = false;
	for (size_t i = 0; i < h->n; i++) {
		const struct hist_entry *e = &h->v[i];
		bool hit = e->kind == HK_ALL;

		/* rows deleted are the caller's check on the later version;
		 * the columns, on the schemas (lance_history_projected) */
		if (e->version <= base || e->kind == HK_GONE ||
		    e->kind == HK_DELETED || e->kind == HK_SCHEMA ||
		    (e->kind == HK_VALUES && !values))
			continue;
		for (size_t k = 0; !hit && k < e->n_frags; k++)
			hit = e->frags[k] == frag;
		if (!hit)
			continue;
		/* the first says what changed; the last table-wide one
		 * says whether the rows now are another table's (a
		 * compaction, then an Overwrite), not a Restore of a
		 * version that may hold the row moved */
		if (e->replaced || e->restored)
			*replaced = e->replaced;
		if (rc)
			continue;
		if (e->kind == HK_ALL)
			rc = LC_CONFLICT(err, "version %" PRIu64 " %s the "
					 "table (%s)", e->version, e->what,
					 e->op);
		else
			rc = LC_CONFLICT(err, "the %s at version %" PRIu64
					 " %s fragment %" PRIu64, e->op,
					 e->version, e->what, frag);
	}
	return rc;
}

bool lance_history_projected(const struct lance_history *h, uint64_t base)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->v[i].version > base && h->v[i].kind == HK_SCHEMA)
			return true;
	return false;
}

int lance_find_transaction(bool *found, uint64_t *version,
			   struct ostore *st, uint64_t since,
			   const char *uuid, struct lc_err *err)
{
	struct lance_version_info *vs = NULL;
	size_t nv = 0, ulen = strlen(uuid);
	int rc;

	*found = false;
	*version = 0;
	rc = lance_list_versions(&vs, &nv, st, err);
	if (rc)
		return rc;
	for (size_t i = 0; !rc && !*found && i < nv; i++) {
		const char *tf;
		struct version v;
		Lpb__Transaction *t = NULL;

		if (vs[i].version <= since)
			continue;
		rc = version_load(&v, st, &vs[i], err);
		if (rc)
			break;
		/* "{read}-{uuid}.txn" names it without reading it. */
		tf = v.m->transaction_file;
		if (tf && strlen(tf) > ulen + 4 &&
		    !strcmp(tf + strlen(tf) - 4, ".txn")) {
			if (!strncmp(tf + strlen(tf) - 4 - ulen, uuid, ulen) &&
			    tf[strlen(tf) - 5 - ulen] == '-')
				*found = true;
		} else {
			rc = version_txn(&t, st, &v, err);
			if (!rc && t->uuid && !strcmp(t->uuid, uuid))
				*found = true;
			lpb__transaction__free_unpacked(t, NULL);
		}
		if (*found)
			*version = v.version;
		version_reset(&v);
	}
	lance_versions_free(vs, nv);
	return rc;
}
