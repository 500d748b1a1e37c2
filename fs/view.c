/*
 * view.c - the dataset view of VIEW.md §2 over format/'s snapshots.
 *
 * A view_ds is one dataset (the source, or one member of a database); it
 * keeps its current snapshot and the others asked for through @versions
 * and @tags. A view_snap wraps a lance_snapshot with what the view derives
 * from it once: which columns become files, which go to meta.json, the
 * row-folder names when a name column is set, and the commit time of the
 * version that added each fragment (found by bisecting the versions on
 * max_fragment_id, which only grows).
 */
#include "view.h"

#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include "kinds.h"
#include "render.h"

#define ROW_NAME_DIGITS 8
#define MAX_SNAP_CACHE 8

struct file_col {
	const struct lance_field *field;
	char *prefix;		/* the column name made safe */
	bool text;		/* <col>.txt of a string column */
	const char *fixed_ext;	/* ext.COL=, or NULL to sniff */
};

struct name_slot {
	const char *name;
	uint64_t index;		/* live-row index */
};

struct view_snap {
	atomic_int refs;
	struct view_ds *ds;
	struct lance_snapshot *ls;
	const struct lance_manifest *m;
	bool shown;		/* made for the root (cur); never for
				 * @versions or @tags, which make their own */
	unsigned tag;		/* a tag's own (view_tag_of), or 0 */
	struct file_col *cols;
	size_t n_cols;
	const struct lance_field **meta;	/* meta.json fields */
	size_t n_meta;
	/* name_column: names[i] of live row i, and an open-addressing
	 * table from name to live index; NULL without a name column.
	 * Made (names_ready) once `named`, under names_mu, at the first
	 * need for a version under @versions or @tags: one only listed or
	 * stat'ed there reads none. So are its rows (rows_ready: deletion
	 * files read, the row index built) once `indexed` */
	const char *name_col;
	atomic_bool named, indexed;
	pthread_mutex_t names_mu;
	char **names;
	struct name_slot *slots;
	size_t n_slots;
	/* commit time of the version that added each fragment, lazily */
	pthread_mutex_t mu;
	/* kinds of file column c in fragment f at [f * n_cols + c], looked
	 * up in the dataset's table on first use */
	_Atomic(struct kinds *) *kinds;
	int64_t *frag_sec;	/* protected by mu; -1 = not known yet */
	int32_t *frag_nsec;
};

struct vtime {
	uint64_t version;
	char *key;
	bool loaded;
	uint64_t max_frag;
	int64_t sec;
	int32_t nsec;
};

struct view_ds {
	struct view *v;
	char *name;		/* database member name, or NULL */
	struct ostore *st;
	struct view_snap *cur;	/* the version the root shows */
	pthread_mutex_t mu;	/* protects cur and cache; never held over I/O */
	struct view_snap *cache[MAX_SNAP_CACHE];
	/* the snapshot of each tag looked up (under mu): its own, not the
	 * version's, so that @tags/NAME and @versions/N are two folders
	 * (one folder under two names moves the kernel's cwd and dentries
	 * from one to the other, and du counts it once) */
	struct tag_snap {
		char *name;
		struct view_snap *snap;
	} *tags;
	size_t n_tags;
	/* vt_mu protects vt and n_vt. It is held while manifests
	 * load: it serializes only the first stat of each fragment's rows,
	 * never lookups or the snapshot cache */
	pthread_mutex_t vt_mu;
	struct vtime *vt;	/* every version, ascending; lazily */
	size_t n_vt;
	bool fresh;		/* may have no version yet (writable) */
	bool made;		/* its local folder made by this view */
	atomic_bool gone;	/* a member whose folder a rescan missed */
	struct kinds_table *kinds;	/* what sniffed values are */
};

/*
 * Recently read binary values that a window read cannot serve (compressed
 * or dictionary-encoded values, mini-block chunks: see
 * lance_file_read_window): a mount reads a big file in many chunks, and
 * listing a row folder sniffs a value's first bytes right before it is
 * opened, so a small cache keeps such a value from being read (and
 * decompressed) again for every chunk. Values stored plainly are read
 * window by window and never come here. Entries hold a snapshot
 * reference; bounded in entries and bytes.
 */
#define VCACHE_ENTRIES 16
#define VCACHE_BYTES (128u << 20)
#define VCACHE_MAX_VALUE (64u << 20)

struct vcache_ent {
	struct view_snap *snap;	/* a reference; NULL if the slot is free */
	uint32_t frag;
	uint64_t offset;
	int32_t field;
	bool valid;
	uint8_t *data;
	size_t len;
	uint64_t tick;
};

struct view {
	struct view_opts opts;
	view_status_fn status_fn;
	void *status_ctx;
	pthread_mutex_t err_mu;		/* protects errs, n_errs */
	char *errs[VIEW_MAX_ERRORS];	/* ring of error lines */
	uint64_t n_errs;		/* lines noted, ever */
	uint64_t n_seen;		/* errors noted, ever (status) */
	atomic_ullong vc_hits, vc_misses;
	pthread_mutex_t vc_mu;	/* protects vc, vc_bytes, vc_tick */
	struct vcache_ent vc[VCACHE_ENTRIES];
	size_t vc_bytes;
	uint64_t vc_tick;
	char *source;
	struct ostore *st;
	bool is_db;
	char **left_out;	/* members open_db could not read */
	size_t n_left_out;
	struct view_ds *single;
	pthread_rwlock_t dbs_mu;	/* protects dbs, n_dbs (mkdir adds) */
	struct view_ds **dbs;	/* sorted by name; members never go away */
	/* the same in the order they came: listing offsets, which members
	 * that come later (mkdir, refresh=) do not shift */
	struct view_ds **listed;
	size_t n_dbs;
};

static void vcache_clear(struct view *v);

/* ------------------------------------------------------------ options */

void view_opts_reset(struct view_opts *o)
{
	lc_free(o->name_column);
	for (size_t i = 0; i < o->n_text_columns; i++)
		lc_free(o->text_columns[i]);
	lc_free(o->text_columns);
	for (size_t i = 0; i < o->n_exts; i++) {
		lc_free(o->exts[i].column);
		lc_free(o->exts[i].ext);
	}
	lc_free(o->exts);
	lc_free(o->tag);
	ostore_conf_free(o->store);
	memset(o, 0, sizeof(*o));
}

static int parse_u64(uint64_t *out, const char *s)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end ? EINVAL : 0;
}

int view_split_source(char **path, struct view_opts *o, const char *src,
		      struct lc_err *err)
{
	const char *at = strrchr(src, '@'), *slash = strrchr(src, '/');
	const char *local = strncmp(src, "file://", 7) ? src : src + 7;
	struct stat sb;

	*path = NULL;
	/* a name ending in .lance is the dataset's own (team@v2.lance) */
	if (!at || (slash && at < slash) || !stat(local, &sb) ||
	    strstr(src, "://") > at || (strlen(at) > 6 &&
					!strcmp(at + strlen(at) - 6, ".lance"))) {
		*path = lc_strdup(src);
		return *path ? 0 : LC_NOMEM(err);
	}
	*path = lc_strndup(src, (size_t)(at - src));
	if (!*path)
		return LC_NOMEM(err);
	if (at[1] >= '0' && at[1] <= '9') {
		char opt[64];

		snprintf(opt, sizeof(opt), "version=%s", at + 1);
		return view_opts_parse(o, opt, err);
	}
	{
		char *opt = lc_malloc(strlen(at + 1) + 5);
		int rc;

		if (!opt)
			return LC_NOMEM(err);
		sprintf(opt, "tag=%s", at + 1);
		rc = view_opts_parse(o, opt, err);
		lc_free(opt);
		return rc;
	}
}

int view_opts_parse(struct view_opts *o, const char *opt, struct lc_err *err)
{
	const char *val = strchr(opt, '=');
	int rc;

	if (!val)
		return ENOENT;
	val++;
	if (!o->store && (rc = ostore_conf_new(&o->store, err)))
		return rc;
	rc = ostore_conf_parse(o->store, opt, err);
	if (rc != ENOENT)
		return rc;
	if (!strncmp(opt, "name_column=", 12)) {
		lc_free(o->name_column);
		o->name_column = lc_strdup(val);
		return o->name_column ? 0 : LC_NOMEM(err);
	}
	/* one of them: a tag that is missing must not fall back */
	if ((!strncmp(opt, "version=", 8) && o->tag) ||
	    (!strncmp(opt, "tag=", 4) && o->version))
		return LC_USAGE(err, "%s: a version or a tag, not both", opt);
	if (!strncmp(opt, "version=", 8)) {
		if (parse_u64(&o->version, val) || !o->version)
			return LC_USAGE(err, "version=%s: not a version "
					"number", val);
		return 0;
	}
	if (!strncmp(opt, "tag=", 4)) {
		lc_free(o->tag);
		o->tag = lc_strdup(val);
		return o->tag ? 0 : LC_NOMEM(err);
	}
	if (!strncmp(opt, "ext.", 4)) {
		size_t n = (size_t)(val - 1 - (opt + 4));
		struct view_ext *e;

		if (!n || !*val || strchr(val, '/'))
			return LC_USAGE(err, "%s: want ext.COLUMN=EXT", opt);
		if (strlen(val) > RENDER_EXT_MAX)
			return LC_USAGE(err, "%s: an extension of %d bytes at "
					"most", opt, RENDER_EXT_MAX);
		e = lc_realloc(o->exts, (o->n_exts + 1) * sizeof(*e));
		if (!e)
			return LC_NOMEM(err);
		o->exts = e;
		e += o->n_exts;
		e->column = lc_strndup(opt + 4, n);
		e->ext = lc_strdup(val);
		o->n_exts++;
		return e->column && e->ext ? 0 : LC_NOMEM(err);
	}
	if (!strncmp(opt, "text_files=", 11)) {
		if (!strcmp(val, "all")) {
			o->text_all = true;
			return 0;
		}
		/* FUSE splits -o at commas, so a list uses ':' or '+' too */
		for (const char *p = val; *p;) {
			size_t n = strcspn(p, ",:+");
			char **t;

			if (n) {
				t = lc_realloc(o->text_columns,
					       (o->n_text_columns + 1) *
						       sizeof(*t));
				if (!t)
					return LC_NOMEM(err);
				o->text_columns = t;
				t[o->n_text_columns] = lc_strndup(p, n);
				if (!t[o->n_text_columns])
					return LC_NOMEM(err);
				o->n_text_columns++;
			}
			p += n;
			if (*p)
				p++;
		}
		return 0;
	}
	return ENOENT;
}

/* ------------------------------------------------------------ snapshots */

static void names_free(struct view_snap *s)
{
	if (s->names) {
		uint64_t n = lance_snapshot_num_rows(s->ls);

		for (uint64_t i = 0; i < n; i++)
			lc_free(s->names[i]);
	}
	lc_free(s->names);
	lc_free(s->slots);
	s->names = NULL;
	s->slots = NULL;
}

static void snap_unref(struct view_snap *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (size_t i = 0; i < s->n_cols; i++)
		lc_free(s->cols[i].prefix);
	lc_free(s->cols);
	lc_free(s->meta);
	names_free(s);
	lc_free(s->kinds);
	lc_free(s->frag_sec);
	lc_free(s->frag_nsec);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->names_mu);
	lance_snapshot_free(s->ls);
	lc_free(s);
}

static struct view_snap *snap_ref(struct view_snap *s)
{
	if (s)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

/* A column shown as files; JSON columns are binary underneath (JSONB)
 * but go to meta.json as the JSON they hold. */
static bool is_binary_field(const struct lance_field *f)
{
	return f->blob != LANCE_BLOB_NONE ||
	       (f->type.id == LANCE_T_BINARY && !f->type.json);
}

static bool wants_text(const struct view_opts *o, const struct lance_field *f)
{
	if (f->type.id != LANCE_T_UTF8)
		return false;
	if (o->text_all)
		return true;
	for (size_t i = 0; i < o->n_text_columns; i++)
		if (!strcmp(o->text_columns[i], f->name))
			return true;
	return false;
}

static int classify_columns(struct view_snap *s, const struct view_opts *o,
			    bool strict, struct lc_err *err)
{
	const struct lance_schema *sc = &s->m->schema;

	s->cols = lc_calloc(sc->n_top, sizeof(*s->cols));
	s->meta = lc_calloc(sc->n_top, sizeof(*s->meta));
	if (!s->cols || !s->meta)
		return LC_NOMEM(err);
	for (size_t i = 0; i < sc->n_top; i++) {
		const struct lance_field *f = sc->top[i];
		bool bin = is_binary_field(f);

		if (!bin)
			s->meta[s->n_meta++] = f;
		if (bin || wants_text(o, f)) {
			struct file_col *c = &s->cols[s->n_cols++];

			c->field = f;
			c->text = !bin;
			c->prefix = render_column_stem(f->name);
			if (!c->prefix)
				return LC_NOMEM(err);
			for (size_t e = 0; bin && e < o->n_exts; e++)
				if (!strcmp(o->exts[e].column, f->name))
					c->fixed_ext = o->exts[e].ext;
		}
	}
	if (!strict)
		return 0;	/* a column some versions lack */
	for (size_t i = 0; i < o->n_text_columns; i++) {
		const struct lance_field *f =
			lance_schema_field_by_name(sc, o->text_columns[i]);

		if (!f || f->parent)
			return LC_USAGE(err, "text_files: no column named %s",
					o->text_columns[i]);
		if (f->type.id != LANCE_T_UTF8)
			return LC_USAGE(err, "text_files: %s is not a string "
					"column", o->text_columns[i]);
	}
	for (size_t i = 0; i < o->n_exts; i++) {
		const struct lance_field *f =
			lance_schema_field_by_name(sc, o->exts[i].column);

		if (!f || !is_binary_field(f) || f->parent)
			return LC_USAGE(err, "ext.%s: no binary column of "
					"that name", o->exts[i].column);
		if (!strcmp(f->name, "meta") && !strcmp(o->exts[i].ext, "json"))
			return LC_USAGE(err, "ext.meta=json: meta.json holds "
					"the row's other values");
	}
	return 0;
}

static struct name_slot *name_find(const struct view_snap *s,
				   const char *name)
{
	size_t mask = s->n_slots - 1;

	for (size_t i = lc_hash_str(name) & mask;; i = (i + 1) & mask) {
		struct name_slot *e = &s->slots[i];

		if (!e->name || !strcmp(e->name, name))
			return e;
	}
}

/* The text of a name-column value, or NULL for null. */
static char *name_value(const struct lance_array *a, uint64_t i)
{
	char num[32];
	const uint8_t *v;

	if (!lance_array_is_valid(a, i))
		return NULL;
	if (a->type->id == LANCE_T_UTF8)
		return render_row_name((const char *)a->values +
					       a->offsets[i],
				       (size_t)(a->offsets[i + 1] -
						a->offsets[i]));
	v = a->values + i * lance_type_width(a->type);
	switch (a->type->id) {
	case LANCE_T_INT8:
		snprintf(num, sizeof(num), "%d", (int8_t)v[0]);
		break;
	case LANCE_T_INT16:
		snprintf(num, sizeof(num), "%d", (int16_t)lc_le16(v));
		break;
	case LANCE_T_INT32:
		snprintf(num, sizeof(num), "%" PRId32, (int32_t)lc_le32(v));
		break;
	case LANCE_T_INT64:
		snprintf(num, sizeof(num), "%" PRId64, (int64_t)lc_le64(v));
		break;
	case LANCE_T_UINT8:
		snprintf(num, sizeof(num), "%u", v[0]);
		break;
	case LANCE_T_UINT16:
		snprintf(num, sizeof(num), "%u", lc_le16(v));
		break;
	case LANCE_T_UINT32:
		snprintf(num, sizeof(num), "%" PRIu32, lc_le32(v));
		break;
	default:
		snprintf(num, sizeof(num), "%" PRIu64, lc_le64(v));
		break;
	}
	return lc_strdup(num);
}

/* Room for "~<row number>" within NAME_MAX. */
static void cut_name(char *name)
{
	render_cut(name, 255 - 21);
}

/* A name no file system takes (over NAME_MAX bytes) is cut, on a
 * character, to make room for "~<row number>"; true when it was. */
static bool long_name(char *name)
{
	size_t n = strlen(name);

	if (n <= 255)
		return false;
	cut_name(name);
	return true;
}

/*
 * Row-folder names from a name column: the escaped value; a null or empty
 * value, or a value an earlier row already took, gets "~<row number>"
 * appended, which does not shift when other rows change; again while
 * that is taken too (a row named "x~2" before the second "x" of row 2).
 * Longer names than a file system takes are cut first (long_name).
 */
static int build_names(struct view_snap *s, const char *col, bool strict,
		       struct lc_err *err)
{
	const struct lance_field *f =
		lance_schema_field_by_name(&s->m->schema, col);
	uint64_t n = lance_snapshot_num_rows(s->ls), i = 0;
	int rc = 0;

	if (!f && !s->m->version)
		return 0;	/* a new dataset: no rows, no schema yet */
	if (!f || f->parent || (f->type.id != LANCE_T_UTF8 &&
				(f->type.id < LANCE_T_INT8 ||
				 f->type.id > LANCE_T_UINT64)))
		/* other versions and members than the mount's own show
		 * their rows by number */
		return strict ? LC_USAGE(err, "name_column=%s: no string "
					 "or integer column of that name",
					 col) : 0;
	s->names = lc_calloc((size_t)n + 1, sizeof(*s->names));
	s->n_slots = 16;
	while (s->n_slots < 2 * n)
		s->n_slots *= 2;
	s->slots = lc_calloc(s->n_slots, sizeof(*s->slots));
	if (!s->names || !s->slots)
		return LC_NOMEM(err);
	while (i < n) {
		struct lance_row_ref first, ref;
		struct lance_array a;
		uint64_t run = 1;

		rc = lance_snapshot_row_at(&first, s->ls, i, err);
		if (rc)
			return rc;
		/* a run of live rows with consecutive offsets in one
		 * fragment is read at once */
		while (i + run < n && run < 65536) {
			rc = lance_snapshot_row_at(&ref, s->ls, i + run, err);
			if (rc)
				return rc;
			if (ref.frag != first.frag ||
			    ref.offset != first.offset + run)
				break;
			run++;
		}
		rc = lance_snapshot_read(&a, s->ls, first.frag, f,
					 first.offset, run, err);
		if (rc)
			return rc;
		for (uint64_t k = 0; k < run; k++) {
			char *name = name_value(&a, k);
			struct name_slot *slot = NULL;
			bool cut = name && long_name(name);

			if (name && *name && !cut) {
				slot = name_find(s, name);
				if (slot->name)
					slot = NULL;
			}
			if (!slot) {
				struct lance_row_ref r;

				char *stem = name;

				rc = lance_snapshot_row_at(&r, s->ls, i + k,
							   err);
				if (stem)
					cut_name(stem);
				/* "~N", then "~N~2", "~N~3", ...: each try
				 * is new, so this ends */
				name = NULL;
				for (unsigned t = 1; !rc && (!slot ||
							     slot->name); t++) {
					size_t len;
					char tail[40];

					if (t == 1)
						snprintf(tail, sizeof(tail),
							 "~%" PRIu64, r.number);
					else
						snprintf(tail, sizeof(tail),
							 "~%" PRIu64 "~%u",
							 r.number, t);
					if (stem)
						render_cut(stem, 255 - strlen(tail));
					len = (stem ? strlen(stem) : 0) +
					      strlen(tail) + 1;
					lc_free(name);
					name = lc_malloc(len);
					if (!name) {
						rc = LC_NOMEM(err);
						break;
					}
					snprintf(name, len, "%s%s",
						 stem ? stem : "", tail);
					slot = name_find(s, name);
				}
				lc_free(stem);
				if (rc) {
					lc_free(name);
					break;
				}
			}
			if (!name) {
				rc = LC_NOMEM(err);
				break;
			}
			s->names[i + k] = name;
			if (!slot->name) {
				slot->name = name;
				slot->index = i + k;
			}
		}
		lance_array_reset(&a);
		if (rc)
			return rc;
		i += run;
	}
	return 0;
}

static int make_rows(struct view_snap *s, struct lc_err *err)
{
	return lance_snapshot_index(s->ls, err);
}

static int make_names(struct view_snap *s, struct lc_err *err)
{
	int rc = s->name_col ? build_names(s, s->name_col, false, err) : 0;

	if (rc)
		names_free(s);	/* tried again next time */
	return rc;
}

/* Run make on s once it succeeds, `done` telling (see struct view_snap):
 * the first thread does it, the others wait for it. */
static int once(const struct view_snap *cs, atomic_bool *done,
		int (*make)(struct view_snap *, struct lc_err *),
		struct lc_err *err)
{
	struct view_snap *s = (struct view_snap *)cs;
	int rc = 0;

	if (atomic_load_explicit(done, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&s->names_mu);
	if (!atomic_load_explicit(done, memory_order_relaxed) &&
	    !(rc = make(s, err)))
		atomic_store_explicit(done, true, memory_order_release);
	pthread_mutex_unlock(&s->names_mu);
	return rc;
}

/* Make s's rows, if not yet. */
static int rows_ready(const struct view_snap *s, struct lc_err *err)
{
	return once(s, (atomic_bool *)&s->indexed, make_rows, err);
}

/* Make s's names, and its rows first, if not yet. */
static int names_ready(const struct view_snap *s, struct lc_err *err)
{
	int rc = rows_ready(s, err);

	return rc ? rc : once(s, (atomic_bool *)&s->named, make_names, err);
}

/* `strict`: the mount's own dataset and version, whose columns the
 * options must name; other versions and database members may lack them
 * (a column added later, a member without it). `lazy`: its rows and
 * names are made at their first need (rows_ready, names_ready). */
static int snap_new(struct view_snap **out, struct view_ds *ds,
		    uint64_t version, bool strict, bool lazy,
		    struct lc_err *err)
{
	const struct view_opts *o = &ds->v->opts;
	struct view_snap *s;
	const char *col;
	int rc;

	*out = NULL;
	s = lc_calloc(1, sizeof(*s));
	if (!s)
		return LC_NOMEM(err);
	atomic_init(&s->refs, 1);
	atomic_init(&s->named, false);
	atomic_init(&s->indexed, false);
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->names_mu, NULL);
	s->ds = ds;
	rc = lazy ? lance_snapshot_open_manifest(&s->ls, ds->st, version, err) :
		    lance_snapshot_open(&s->ls, ds->st, version, err);
	if (rc == ENOENT && ds->fresh && !version) {
		lc_err_clear(err);
		rc = lance_snapshot_empty(&s->ls, ds->st, err);
	}
	if (rc)
		goto fail;
	s->m = lance_snapshot_manifest(s->ls);
	atomic_store(&s->indexed, lance_snapshot_indexed(s->ls));
	s->frag_sec = lc_malloc((s->m->n_fragments + 1) * sizeof(int64_t));
	s->frag_nsec = lc_calloc(s->m->n_fragments + 1, sizeof(int32_t));
	if (!s->frag_sec || !s->frag_nsec) {
		rc = LC_NOMEM(err);
		goto fail;
	}
	for (size_t i = 0; i < s->m->n_fragments; i++)
		s->frag_sec[i] = -1;
	rc = classify_columns(s, o, strict, err);
	if (rc)
		goto fail;
	s->kinds = lc_calloc(s->m->n_fragments * s->n_cols + 1,
			     sizeof(*s->kinds));
	if (!s->kinds) {
		rc = LC_NOMEM(err);
		goto fail;
	}
	col = o->name_column ? o->name_column :
			       lance_manifest_config(s->m,
						     "lancefs.name_column");
	s->name_col = col && *col ? col : NULL;
	if (!lazy) {
		rc = s->name_col ? build_names(s, col, strict, err) : 0;
		if (rc)
			goto fail;
		atomic_store(&s->named, true);
	}
	*out = s;
	return 0;
fail:
	snap_unref(s);
	return rc;
}

/* A snapshot of `version` (0 = the one the root shows), referenced.
 * Named versions never share the root's snapshot, even when it is the
 * same version: the root's may later move on (view_covers). */
static int ds_snap(struct view_snap **out, struct view_ds *ds,
		   uint64_t version, struct lc_err *err)
{
	struct view_snap *s = NULL;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&ds->mu);
	if (!version) {
		*out = snap_ref(ds->cur);
		pthread_mutex_unlock(&ds->mu);
		return 0;
	}
	for (int i = 0; i < MAX_SNAP_CACHE; i++)
		if (ds->cache[i] && ds->cache[i]->m->version == version)
			s = snap_ref(ds->cache[i]);
	pthread_mutex_unlock(&ds->mu);
	if (s) {
		*out = s;
		return 0;
	}
	rc = snap_new(&s, ds, version, false, true, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&ds->mu);
	snap_unref(ds->cache[MAX_SNAP_CACHE - 1]);
	memmove(ds->cache + 1, ds->cache,
		(MAX_SNAP_CACHE - 1) * sizeof(ds->cache[0]));
	ds->cache[0] = snap_ref(s);
	pthread_mutex_unlock(&ds->mu);
	*out = s;
	return 0;
}

/* Tag `name`'s entry in ds->tags, or NULL (under ds->mu). */
static struct tag_snap *tag_find(struct view_ds *ds, const char *name)
{
	for (size_t i = 0; i < ds->n_tags; i++)
		if (!strcmp(ds->tags[i].name, name))
			return &ds->tags[i];
	return NULL;
}

/* The root of tag `name`, at `version`: its own snapshot, kept while
 * the tag stays there. */
static int tag_root(struct vnode *out, struct view_ds *ds, const char *name,
		    uint64_t version, struct lc_err *err)
{
	struct tag_snap *t, *more;
	struct view_snap *s = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	out->kind = VN_ROOT;
	out->ds = ds;
	pthread_mutex_lock(&ds->mu);
	t = tag_find(ds, name);
	if (t && t->snap->m->version == version)
		s = snap_ref(t->snap);
	pthread_mutex_unlock(&ds->mu);
	if (s) {
		out->snap = s;
		return 0;
	}
	rc = snap_new(&s, ds, version, false, true, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&ds->mu);
	t = tag_find(ds, name);
	if (!t && (more = lc_realloc(ds->tags, (ds->n_tags + 1) *
					       sizeof(*more)))) {
		ds->tags = more;
		t = &more[ds->n_tags];
		t->snap = NULL;
		if ((t->name = lc_strdup(name)))
			ds->n_tags++;
		else
			t = NULL;
	}
	/* a tag's number is its place in the list, for the mount's life
	 * (no memory: the snapshot serves, unkept, and unnumbered past
	 * any number: view_tag_of) */
	s->tag = t ? (unsigned)(t - ds->tags) + 1 : UINT_MAX;
	if (t) {
		snap_unref(t->snap);
		t->snap = snap_ref(s);
	}
	pthread_mutex_unlock(&ds->mu);
	out->snap = s;
	return 0;
}

unsigned view_tag_of(const struct vnode *n)
{
	return n->snap ? n->snap->tag : 0;
}

int view_tag_root(struct vnode *out, struct view_ds *ds, unsigned tag,
		  uint64_t version)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&ds->mu);
	if (tag && tag <= ds->n_tags &&
	    ds->tags[tag - 1].snap->m->version == version)
		out->snap = snap_ref(ds->tags[tag - 1].snap);
	pthread_mutex_unlock(&ds->mu);
	if (!out->snap)
		return ESTALE;
	out->kind = VN_ROOT;
	out->ds = ds;
	return 0;
}

/* ------------------------------------------------------------ times */

/* The dataset's versions, listed again when `upto` is newer than the
 * newest listed (the times already loaded are kept). */
static int vt_list(struct view_ds *ds, uint64_t upto, struct lc_err *err)
{
	struct lance_version_info *vi;
	struct vtime *vt;
	size_t n, k = 0;
	int rc;

	if (ds->n_vt && ds->vt[ds->n_vt - 1].version >= upto)
		return 0;
	rc = lance_list_versions(&vi, &n, ds->st, err);
	if (rc)
		return rc;
	vt = lc_calloc(n ? n : 1, sizeof(*vt));
	if (!vt) {
		lance_versions_free(vi, n);
		return LC_NOMEM(err);
	}
	for (size_t i = 0; i < n; i++) {
		while (k < ds->n_vt && ds->vt[k].version < vi[i].version)
			k++;
		if (k < ds->n_vt && ds->vt[k].version == vi[i].version)
			vt[i] = ds->vt[k];	/* its key and loaded time */
		else
			vt[i].key = vi[i].manifest_key;
		if (vt[i].key == vi[i].manifest_key)
			vi[i].manifest_key = NULL;
		vt[i].version = vi[i].version;
	}
	for (size_t i = 0, j = 0; i < ds->n_vt; i++) {
		/* keys not carried over (versions cleaned up since) */
		while (j < n && vt[j].version < ds->vt[i].version)
			j++;
		if (j == n || vt[j].key != ds->vt[i].key)
			lc_free(ds->vt[i].key);
	}
	lc_free(ds->vt);
	ds->vt = vt;
	ds->n_vt = n;
	lance_versions_free(vi, n);
	return 0;
}

static int vt_load(struct vtime *t, struct view_ds *ds, struct lc_err *err)
{
	struct lance_manifest *m;
	uint8_t *buf;
	size_t len;
	int rc;

	if (t->loaded)
		return 0;
	rc = ostore_get(&buf, &len, ds->st, t->key, 1u << 30, err);
	if (rc)
		return rc;
	rc = lance_manifest_parse(&m, buf, len, err);
	lc_free(buf);
	if (rc)
		return rc;
	t->max_frag = m->has_max_fragment_id ? m->max_fragment_id : 0;
	for (size_t i = 0; i < m->n_fragments; i++)
		if (m->fragments[i].id > t->max_frag)
			t->max_frag = m->fragments[i].id;
	if (!m->n_fragments && !m->has_max_fragment_id)
		t->max_frag = UINT64_MAX;	/* empty: "before" every id */
	t->sec = m->timestamp_sec;
	t->nsec = m->timestamp_nsec;
	t->loaded = true;
	lance_manifest_free(m);
	return 0;
}

/* Commit time of the first version that holds fragment `frag_idx`. */
static void frag_time(int64_t *sec, int32_t *nsec, struct view_snap *s,
		      uint32_t frag_idx)
{
	struct view_ds *ds = s->ds;
	uint64_t id = s->m->fragments[frag_idx].id;
	size_t lo = 0, hi;
	struct lc_err err = { 0 };

	pthread_mutex_lock(&s->mu);
	if (s->frag_sec[frag_idx] >= 0) {
		*sec = s->frag_sec[frag_idx];
		*nsec = s->frag_nsec[frag_idx];
		pthread_mutex_unlock(&s->mu);
		return;
	}
	pthread_mutex_unlock(&s->mu);
	*sec = s->m->timestamp_sec;
	*nsec = s->m->timestamp_nsec;
	pthread_mutex_lock(&ds->vt_mu);
	if (!vt_list(ds, s->m->version, &err)) {
		/* versions up to ours; find the first whose fragments
		 * reach `id` (max_fragment_id never decreases) */
		for (hi = ds->n_vt; hi > 0 &&
				    ds->vt[hi - 1].version > s->m->version;)
			hi--;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			struct vtime *t = &ds->vt[mid];

			if (vt_load(t, ds, &err))
				break;
			if (t->max_frag != UINT64_MAX && t->max_frag >= id)
				hi = mid;
			else
				lo = mid + 1;
		}
		if (!err.code && lo < ds->n_vt && ds->vt[lo].loaded &&
		    ds->vt[lo].version <= s->m->version) {
			*sec = ds->vt[lo].sec;
			*nsec = ds->vt[lo].nsec;
		}
	}
	pthread_mutex_unlock(&ds->vt_mu);
	pthread_mutex_lock(&s->mu);
	s->frag_sec[frag_idx] = *sec;
	s->frag_nsec[frag_idx] = *nsec;
	pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------ datasets */

static void ds_free(struct view_ds *ds)
{
	if (!ds)
		return;
	snap_unref(ds->cur);
	for (int i = 0; i < MAX_SNAP_CACHE; i++)
		snap_unref(ds->cache[i]);
	for (size_t i = 0; i < ds->n_tags; i++) {
		lc_free(ds->tags[i].name);
		snap_unref(ds->tags[i].snap);
	}
	lc_free(ds->tags);
	for (size_t i = 0; i < ds->n_vt; i++)
		lc_free(ds->vt[i].key);
	lc_free(ds->vt);
	kinds_free(ds->kinds);
	ostore_free(ds->st);
	lc_free(ds->name);
	pthread_mutex_destroy(&ds->mu);
	pthread_mutex_destroy(&ds->vt_mu);
	lc_free(ds);
}

/* Takes ownership of `st`. */
static int ds_open(struct view_ds **out, struct view *v, struct ostore *st,
		   const char *name, bool fresh, struct lc_err *err)
{
	const struct view_opts *o = &v->opts;
	struct view_ds *ds;
	uint64_t version = o->version;
	int rc;

	*out = NULL;
	ds = lc_calloc(1, sizeof(*ds));
	if (!ds) {
		ostore_free(st);
		return LC_NOMEM(err);
	}
	pthread_mutex_init(&ds->mu, NULL);
	pthread_mutex_init(&ds->vt_mu, NULL);
	ds->v = v;
	ds->st = st;
	ds->fresh = fresh;
	if (name && !(ds->name = lc_strdup(name))) {
		rc = LC_NOMEM(err);
		goto fail;
	}
	rc = kinds_open(&ds->kinds, ostore_conf_get(o->store, "cache_dir"),
			st->root, err);
	if (rc)
		goto fail;
	if (o->tag) {
		struct lance_tag *tags;
		size_t n;

		rc = lance_list_tags(&tags, &n, st, err);
		if (rc)
			goto fail;
		for (size_t i = 0; i < n && !rc; i++)
			if (!strcmp(tags[i].name, o->tag) && tags[i].branch)
				rc = LC_UNSUPPORTED(err, "%s: tag %s is on branch "
						    "%s; lancefs shows the main "
						    "branch only", st->root,
						    o->tag, tags[i].branch);
			else if (!strcmp(tags[i].name, o->tag))
				version = tags[i].version;
		lance_tags_free(tags, n);
		if (rc)
			goto fail;
		if (!version) {
			rc = LC_NOTFOUND(err, "%s: no tag named %s", st->root,
					 o->tag);
			goto fail;
		}
	}
	rc = snap_new(&ds->cur, ds, version, !name, false, err);
	if (rc)
		goto fail;
	ds->cur->shown = true;
	*out = ds;
	return 0;
fail:
	ds_free(ds);
	return rc;
}

struct db_scan {
	char **names;
	size_t n;
	int rc;
};

static int db_scan_cb(void *ctx, const struct ostore_entry *e)
{
	struct db_scan *d = ctx;
	size_t len = strlen(e->name);
	char **p;

	if (!e->is_dir || len <= 6 || strcmp(e->name + len - 6, ".lance"))
		return 0;
	/* ..lance and ...lance would name the folder itself, or its
	 * parent, wherever a member's name makes a path (its staging) */
	if (!strcmp(e->name, "..lance") || !strcmp(e->name, "...lance"))
		return 0;
	p = lc_realloc(d->names, (d->n + 1) * sizeof(*p));
	if (!p)
		return d->rc = ENOMEM;
	d->names = p;
	p[d->n] = lc_strndup(e->name, len - 6);
	if (!p[d->n])
		return d->rc = ENOMEM;
	d->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int has_versions_cb(void *ctx, const struct ostore_entry *e)
{
	(void)e;
	*(bool *)ctx = true;
	return 1;
}

/* A database member: a dataset, or (`empty_ok`) an empty NAME.lance
 * folder that a mkdir made and no commit filled yet; *out stays NULL
 * for an empty folder otherwise, which shows nothing there. */
static int open_member(struct view_ds **out, struct view *v,
		       const char *name, bool fresh, bool empty_ok,
		       struct lc_err *err)
{
	char dir[4096];
	struct ostore *sub;
	bool has = false;
	int rc;

	*out = NULL;
	snprintf(dir, sizeof(dir), "%s.lance", name);
	rc = ostore_sub(&sub, v->st, dir, err);
	if (rc)
		return rc;
	if (!fresh) {
		rc = ostore_list(sub, "_versions", has_versions_cb, &has, err);
		if (rc == 1)
			rc = 0;
		if (rc) {
			ostore_free(sub);
			return rc;
		}
		fresh = !has;
		if (fresh && !empty_ok) {
			ostore_free(sub);
			return 0;
		}
	}
	return ds_open(out, v, sub, name, fresh, err);
}

static int open_db(struct view *v, struct lc_err *err)
{
	struct lc_err last = { 0 };	/* the last left out's failure */
	struct db_scan d = { 0 };
	int rc = ostore_list(v->st, "", db_scan_cb, &d, err);

	if (d.rc)
		rc = LC_NOMEM(err);
	/* a writable mount of a folder with no dataset is an empty
	 * database, where mkdir makes the first */
	if (!rc && !d.n && !v->opts.writable)
		rc = LC_NOTFOUND(err, "%s: no Lance dataset here (no "
				 "_versions/ and no *.lance folders)",
				 v->source);
	if (!rc) {
		if (d.n)
			qsort(d.names, d.n, sizeof(*d.names), cmp_str);
		v->dbs = lc_calloc(d.n + 1, sizeof(*v->dbs));
		v->listed = lc_calloc(d.n + 1, sizeof(*v->listed));
		if (!v->dbs || !v->listed)
			rc = LC_NOMEM(err);
	}
	if (!rc && !(v->left_out = lc_calloc(d.n + 1, sizeof(char *))))
		rc = LC_NOMEM(err);
	for (size_t i = 0; !rc && i < d.n; i++) {
		rc = open_member(&v->dbs[v->n_dbs], v, d.names[i], false,
				 v->opts.writable, err);
		if (rc && (err->kind == LC_EK_CORRUPT ||
			   err->kind == LC_EK_UNSUPPORTED)) {
			/* one member's bytes fail it alone: the others show,
			 * and .lancefs/errors says which and why */
			lc_err_prefix(err, "%s.lance: left out: ", d.names[i]);
			view_note_line(v, d.names[i], err);
			v->left_out[v->n_left_out++] = d.names[i];
			d.names[i] = NULL;
			last = *err;
			lc_err_clear(err);
			rc = 0;
			continue;
		}
		if (!rc && v->dbs[v->n_dbs]) {
			v->listed[v->n_dbs] = v->dbs[v->n_dbs];
			v->n_dbs++;
		}
	}
	/* none shown but those left out: the open fails, saying why */
	if (!rc && !v->n_dbs && v->n_left_out) {
		*err = last;
		rc = err->code;
	}
	for (size_t i = 0; i < d.n; i++)
		lc_free(d.names[i]);
	lc_free(d.names);
	v->is_db = true;
	return rc;
}

bool view_db_left_out(struct view *v, const char *name)
{
	for (size_t i = 0; i < v->n_left_out; i++)
		if (!strcmp(v->left_out[i], name))
			return true;
	return false;
}

static int copy_opts(struct view_opts *dst, const struct view_opts *src,
		     struct lc_err *err)
{
	memset(dst, 0, sizeof(*dst));
	dst->version = src->version;
	dst->text_all = src->text_all;
	dst->writable = src->writable;
	dst->store = src->store;	/* borrowed: see view_free */
	if ((src->name_column &&
	     !(dst->name_column = lc_strdup(src->name_column))) ||
	    (src->tag && !(dst->tag = lc_strdup(src->tag))))
		return LC_NOMEM(err);
	dst->text_columns = lc_calloc(src->n_text_columns + 1, sizeof(char *));
	dst->exts = lc_calloc(src->n_exts + 1, sizeof(*dst->exts));
	if (!dst->text_columns || !dst->exts)
		return LC_NOMEM(err);
	for (size_t i = 0; i < src->n_text_columns; i++) {
		dst->text_columns[i] = lc_strdup(src->text_columns[i]);
		if (!dst->text_columns[i])
			return LC_NOMEM(err);
		dst->n_text_columns++;
	}
	for (size_t i = 0; i < src->n_exts; i++) {
		dst->exts[i].column = lc_strdup(src->exts[i].column);
		dst->exts[i].ext = lc_strdup(src->exts[i].ext);
		dst->n_exts++;
		if (!dst->exts[i].column || !dst->exts[i].ext)
			return LC_NOMEM(err);
	}
	return 0;
}

/* A SOURCE that names one dataset: its last part ends in .lance. */
static bool names_dataset(const char *source)
{
	size_t n = strlen(source);

	while (n > 1 && source[n - 1] == '/')
		n--;
	return n > 6 && !strncmp(source + n - 6, ".lance", 6);
}

/* The local folder of dataset `name` of database `source` (NULL: of
 * dataset `source`) into out[cap]: false for an object store's, which
 * has no folders. */
static bool local_folder(char *out, size_t cap, const char *source,
			 const char *name)
{
	if (!ostore_local_path(out, cap, source))
		return false;
	if (name)
		snprintf(out + strlen(out), cap - strlen(out), "/%s.lance",
			 name);
	return true;
}

/* The folder of a new dataset (local_folder; object stores need none);
 * *made: it was not there. Its parent must exist: a typo should not make
 * folders. */
static int make_local_dir(const char *source, const char *name, bool *made,
			  struct lc_err *err)
{
	char path[4200];

	*made = false;
	if (!local_folder(path, sizeof(path), source, name))
		return 0;
	if (!mkdir(path, 0777)) {
		*made = true;
	} else if (errno == EEXIST) {
		struct stat sb;

		if (!stat(path, &sb) && !S_ISDIR(sb.st_mode))
			return LC_SYS(err, EEXIST, "%s: not a folder", path);
	} else if (errno == ENOENT) {
		return LC_NOTFOUND(err, "%s: no such folder to make a new "
				   "dataset in", path);
	} else {
		return LC_SYS(err, errno, "%s: %s", path, strerror(errno));
	}
	return 0;
}

int view_open(struct view **out, const char *source,
	      const struct view_opts *opts, struct lc_err *err)
{
	struct view *v;
	struct view_opts none = { 0 };
	bool is_ds = false, fresh, made = false;
	int rc;

	*out = NULL;
	v = lc_calloc(1, sizeof(*v));
	if (!v)
		return LC_NOMEM(err);
	pthread_mutex_init(&v->vc_mu, NULL);
	pthread_mutex_init(&v->err_mu, NULL);
	pthread_rwlock_init(&v->dbs_mu, NULL);
	rc = copy_opts(&v->opts, opts ? opts : &none, err);
	if (!rc && !(v->source = lc_strdup(source)))
		rc = LC_NOMEM(err);
	fresh = v->opts.writable && !v->opts.version && !v->opts.tag &&
		names_dataset(source);
	if (!rc && fresh)
		rc = make_local_dir(source, NULL, &made, err);
	if (!rc)
		rc = ostore_open_uri(&v->st, source, v->opts.store, err);
	if (!rc) {
		rc = ostore_list(v->st, "_versions", has_versions_cb, &is_ds,
				 err);
		if (rc == 1)	/* the callback stops at the first entry */
			rc = 0;
	}
	if (rc)
		goto fail;
	if (is_ds || fresh) {
		struct ostore *st = v->st;

		/* the dataset owns the store; the view keeps a borrowed
		 * pointer for listing */
		rc = ds_open(&v->single, v, st, NULL, fresh, err);
		v->st = NULL;
		if (rc)
			goto fail;
		v->single->made = made;
	} else if ((v->opts.version || v->opts.tag) &&
		   !names_dataset(source)) {
		rc = LC_USAGE(err, "%s: a database: each dataset numbers and "
			      "tags its own versions (give %s= with a "
			      "dataset, %s/NAME.lance)", source,
			      v->opts.tag ? "tag" : "version", source);
		goto fail;
	} else {
		rc = open_db(v, err);
		if (rc)
			goto fail;
	}
	*out = v;
	return 0;
fail:
	view_free(v);
	return rc;
}

void view_free(struct view *v)
{
	if (!v)
		return;
	vcache_clear(v);
	pthread_mutex_destroy(&v->vc_mu);
	for (int i = 0; i < VIEW_MAX_ERRORS; i++)
		lc_free(v->errs[i]);
	pthread_mutex_destroy(&v->err_mu);
	ds_free(v->single);
	for (size_t i = 0; i < v->n_dbs; i++)
		ds_free(v->dbs[i]);
	lc_free(v->dbs);
	lc_free(v->listed);
	for (size_t i = 0; i < v->n_left_out; i++)
		lc_free(v->left_out[i]);
	lc_free(v->left_out);
	pthread_rwlock_destroy(&v->dbs_mu);
	ostore_free(v->st);
	v->opts.store = NULL;	/* the caller's */
	view_opts_reset(&v->opts);
	lc_free(v->source);
	lc_free(v);
}

/* ------------------------------------------------------------ nodes */

void vnode_reset(struct vnode *n)
{
	snap_unref(n->snap);
	memset(n, 0, sizeof(*n));
}

void vnode_copy(struct vnode *dst, const struct vnode *src)
{
	*dst = *src;
	snap_ref(dst->snap);
}

const struct lance_manifest *view_manifest(const struct vnode *n)
{
	return n->snap ? n->snap->m : NULL;
}

struct ostore *view_store(const struct vnode *n)
{
	return n->ds ? n->ds->st : NULL;
}

/* The ROW node `out` of ROOT `root`: row number `a`, or with
 * `by_address` the row at offset `b` of fragment `a`; ENOENT if none. */
static int row_of(struct vnode *out, const struct vnode *root,
		  uint64_t a, uint64_t b, bool by_address, struct lc_err *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (root->kind != VN_ROOT)
		return ENOENT;
	rc = rows_ready(root->snap, err);
	if (rc)
		return rc;
	if (by_address ? lance_snapshot_row_by_address(&out->row,
						       root->snap->ls, a, b) :
			 lance_snapshot_find_row(&out->row, root->snap->ls, a,
						 NULL))
		return ENOENT;
	out->kind = VN_ROW;
	out->ds = root->ds;
	out->snap = snap_ref(root->snap);
	return 0;
}

int view_row(struct vnode *out, const struct vnode *root, uint64_t number,
	     struct lc_err *err)
{
	return row_of(out, root, number, 0, false, err);
}

int view_row_at(struct vnode *out, const struct vnode *root,
		uint64_t fragment_id, uint64_t offset, struct lc_err *err)
{
	return row_of(out, root, fragment_id, offset, true, err);
}

size_t view_file_columns(const struct vnode *n)
{
	return n->snap ? n->snap->n_cols : 0;
}

bool view_is_current(const struct vnode *n)
{
	return n->ds && n->snap == n->ds->cur;
}

static int ds_root(struct vnode *out, struct view_ds *ds, uint64_t version,
		   struct lc_err *err)
{
	memset(out, 0, sizeof(*out));
	out->kind = VN_ROOT;
	out->ds = ds;
	return ds_snap(&out->snap, ds, version, err);
}

int view_ds_root(struct vnode *out, struct view_ds *ds, uint64_t version,
		 struct lc_err *err)
{
	return ds_root(out, ds, version, err);
}

const char *view_ds_name(const struct view_ds *ds)
{
	return ds->name;
}

void view_ds_drop_unborn(struct view_ds *ds)
{
	char path[4200];
	uint64_t version;

	if (!ds->fresh || !ds->made || !ds->v->opts.writable)
		return;
	pthread_mutex_lock(&ds->mu);
	version = ds->cur->m->version;
	pthread_mutex_unlock(&ds->mu);
	if (!version &&
	    local_folder(path, sizeof(path), ds->v->source, ds->name))
		(void)rmdir(path);	/* an empty one only */
}

struct view_ds *view_single(struct view *v)
{
	return v->single;
}

int view_root(struct vnode *out, struct view *v, struct lc_err *err)
{
	memset(out, 0, sizeof(*out));
	if (v->is_db) {
		out->kind = VN_DBROOT;
		return 0;
	}
	return ds_root(out, v->single, 0, err);
}

static const char *const ctl_names[VIEW_CTL_COUNT] = { "status", "errors",
							"warmup", "commit" };

/* .lancefs/warmup and commit only where a write can reach them (a
 * read-only mount warms with -o warmup) */
static int ctl_count(const struct view *v)
{
	return v->opts.writable ? VIEW_CTL_COUNT : VIEW_CTL_WARMUP;
}

static void row_name(char *out, size_t cap, const struct view_snap *s,
		     uint64_t index, uint64_t number)
{
	if (s->names)
		snprintf(out, cap, "%s", s->names[index]);
	else
		snprintf(out, cap, "%0*" PRIu64, ROW_NAME_DIGITS, number);
}

/* The live-row index of a row folder named `name`, or ENOENT. */
static int find_row(struct lance_row_ref *out, const struct view_snap *s,
		    const char *name, struct lc_err *err)
{
	uint64_t number;
	int rc = names_ready(s, err);

	if (rc)
		return rc;
	if (s->names) {
		struct name_slot *e = name_find(s, name);

		if (!e->name)
			return ENOENT;
		return lance_snapshot_row_at(out, s->ls, e->index, err);
	}
	/* canonical names only: exactly the zero-padded form */
	if (strlen(name) < ROW_NAME_DIGITS || parse_u64(&number, name))
		return ENOENT;
	{
		char canon[32];

		snprintf(canon, sizeof(canon), "%0*" PRIu64, ROW_NAME_DIGITS,
			 number);
		if (strcmp(canon, name))
			return ENOENT;
	}
	return lance_snapshot_find_row(out, s->ls, number, NULL) ? ENOENT : 0;
}

/* Read one value of a row's column. */
static int read_value(struct lance_array *out, struct view_snap *s,
		      const struct lance_row_ref *row,
		      const struct lance_field *f, struct lc_err *err)
{
	int rc = lance_snapshot_read(out, s->ls, row->frag, f, row->offset, 1,
				     err);

	if (rc)
		lc_err_prefix(err, "row %" PRIu64 ": ", row->number);
	return rc;
}

static void vcache_drop(struct vcache_ent *e, struct view_snap **dead)
{
	*dead = e->snap;
	lc_free(e->data);
	memset(e, 0, sizeof(*e));
}

static void vcache_clear(struct view *v)
{
	for (int i = 0; i < VCACHE_ENTRIES; i++) {
		struct view_snap *dead;

		vcache_drop(&v->vc[i], &dead);
		snap_unref(dead);
	}
	v->vc_bytes = 0;
}

/* Look the value up; on a hit copy at most `max` bytes into `out`. */
/* Append bytes [off, off + max) of data (len bytes) to out. */
static int append_slice(struct lc_buf *out, const uint8_t *data, size_t len,
			uint64_t off, size_t max, struct lc_err *err)
{
	if (off >= len)
		return 0;
	len -= (size_t)off;
	return lc_buf_append(out, data + off, len < max ? len : max, err);
}

static bool vcache_get(struct lc_buf *out, bool *valid, int *rc,
		       struct view *v, struct view_snap *s,
		       const struct lance_row_ref *row, int32_t field,
		       uint64_t off, size_t max, struct lc_err *err)
{
	bool hit = false;

	pthread_mutex_lock(&v->vc_mu);
	for (int i = 0; i < VCACHE_ENTRIES && !hit; i++) {
		struct vcache_ent *e = &v->vc[i];

		if (e->snap != s || e->frag != row->frag ||
		    e->offset != row->offset || e->field != field)
			continue;
		hit = true;
		e->tick = ++v->vc_tick;
		*valid = e->valid;
		*rc = append_slice(out, e->data, e->len, off, max, err);
	}
	pthread_mutex_unlock(&v->vc_mu);
	return hit;
}

/* Keeps `data` (an lc_malloc'd value of `len` bytes), or frees it. */
static void vcache_put(struct view *v, struct view_snap *s,
		       const struct lance_row_ref *row, int32_t field,
		       bool valid, uint8_t *data, size_t len)
{
	struct view_snap *dead[VCACHE_ENTRIES] = { 0 };
	struct vcache_ent *slot = NULL;
	int n_dead = 0;

	if (len > VCACHE_MAX_VALUE) {
		lc_free(data);
		return;
	}
	pthread_mutex_lock(&v->vc_mu);
	for (;;) {
		struct vcache_ent *lru = NULL;

		slot = NULL;
		for (int i = 0; i < VCACHE_ENTRIES; i++) {
			struct vcache_ent *e = &v->vc[i];

			if (!e->snap && !slot)
				slot = e;
			if (e->snap && (!lru || e->tick < lru->tick))
				lru = e;
		}
		if (slot && v->vc_bytes + len <= VCACHE_BYTES)
			break;
		if (!lru)
			break;
		v->vc_bytes -= lru->len;
		vcache_drop(lru, &dead[n_dead++]);
	}
	if (slot) {
		slot->snap = snap_ref(s);
		slot->frag = row->frag;
		slot->offset = row->offset;
		slot->field = field;
		slot->valid = valid;
		slot->data = data;
		slot->len = len;
		slot->tick = ++v->vc_tick;
		v->vc_bytes += len;
		data = NULL;
	}
	pthread_mutex_unlock(&v->vc_mu);
	lc_free(data);
	for (int i = 0; i < n_dead; i++)
		snap_unref(dead[i]);	/* never free under the lock */
}

/* Reads asking for more than this (a whole file: view_read_file) learn
 * the value's size first, so that `out` is sized once. */
#define WINDOW_PROBE (1u << 20)

/*
 * Append bytes [off, off + max) of a row's value to `out` straight from
 * where the file stores them, reading only that window (and the value's
 * offsets or descriptor). LANCE_WINDOW_DECODE, with `out` as it was, when
 * the value is not stored so.
 */
static int window_value(struct lc_buf *out, bool *valid, struct view_snap *s,
			const struct lance_row_ref *row,
			const struct lance_field *f, uint64_t off, size_t max,
			struct lc_err *err)
{
	uint64_t size;
	size_t want = max, got;
	int rc;

	if (max > WINDOW_PROBE) {
		rc = lance_snapshot_read_window(NULL, &got, valid, &size,
						s->ls, row->frag, f,
						row->offset, off, 0, err);
		if (rc || !*valid)
			return rc;
		want = off >= size ? 0 :
		       size - off < max ? (size_t)(size - off) : max;
	}
	rc = lc_buf_reserve(out, want, err);
	if (rc)
		return rc;
	rc = lance_snapshot_read_window(out->data + out->len, &got, valid,
					&size, s->ls, row->frag, f,
					row->offset, off, want, err);
	if (!rc)
		out->len += got;
	return rc;
}

/* Append bytes [off, off + max) of a row's binary or string value to
 * `out`; `valid` false for a null. A value stored plainly is read window
 * by window; any other is read whole once and kept in the value cache,
 * and only the slice is copied: a mount reads a big value in many
 * chunks. */
static int file_value(struct lc_buf *out, bool *valid, struct view_snap *s,
		      const struct lance_row_ref *row,
		      const struct lance_field *f, uint64_t off, size_t max,
		      struct lc_err *err)
{
	struct view *v = s->ds->v;
	struct lance_array a;
	uint8_t *p = NULL;
	size_t len = 0;
	int rc;

	rc = window_value(out, valid, s, row, f, off, max, err);
	if (rc != LANCE_WINDOW_DECODE) {
		if (rc)
			lc_err_prefix(err, "row %" PRIu64 ": ", row->number);
		return rc;
	}
	if (vcache_get(out, valid, &rc, v, s, row, f->id, off, max, err)) {
		atomic_fetch_add(&v->vc_hits, 1);
		return rc;
	}
	atomic_fetch_add(&v->vc_misses, 1);
	rc = read_value(&a, s, row, f, err);
	if (rc)
		return rc;
	*valid = lance_array_is_valid(&a, 0);
	if (*valid) {
		/* the value's buffer moves to the cache: no copy */
		len = (size_t)(a.offsets[1] - a.offsets[0]);
		if (a.offsets[0])
			memmove(a.values, a.values + a.offsets[0], len);
		p = a.values;
		a.values = NULL;
	}
	lance_array_reset(&a);
	rc = append_slice(out, p, len, off, max, err);
	vcache_put(v, s, row, f->id, *valid, p, len);
	return rc;
}

/* The size of a row's value, and whether it is valid: from a zero-length
 * window where the file says it without decoding (2.1+ zstd values
 * declare their length up front), else from the value sizes, which may
 * decode the value. */
static int value_size(uint64_t *size, bool *valid, struct view_snap *s,
		      const struct lance_row_ref *row,
		      const struct lance_field *f, struct lc_err *err)
{
	size_t got;
	int rc = lance_snapshot_read_window(NULL, &got, valid, size, s->ls,
					    row->frag, f, row->offset, 0, 0,
					    err);

	if (rc == LANCE_WINDOW_DECODE)
		rc = lance_snapshot_value_sizes(size, valid, s->ls, row->frag,
						f, row->offset, 1, err);
	return rc;
}

/* The record of what file column `c`'s values in fragment `frag` are,
 * kept by the data file that holds them; NULL if none does (all null). */
static struct kinds *kinds_of(struct view_snap *s, uint32_t frag,
			      const struct file_col *c)
{
	_Atomic(struct kinds *) *slot =
		&s->kinds[frag * s->n_cols + (size_t)(c - s->cols)];
	const struct lance_fragment *fr = &s->m->fragments[frag];
	struct kinds *k = atomic_load(slot);

	for (size_t i = 0; !k && i < fr->n_files; i++) {
		const struct lance_data_file *df = &fr->files[i];

		for (size_t j = 0; !k && j < df->n_fields; j++)
			if (df->fields[j] == c->field->id)
				k = kinds_get(s->ds->kinds, df->path,
					      df->size, c->field->id,
					      fr->physical_rows);
	}
	if (k)
		atomic_store(slot, k);	/* the same pointer in a race */
	return k;
}

/* Whether a row holds file column `c`, and its extension: sniffed from
 * its first bytes once, then known from the data file's kinds. */
static int file_present(bool *present, const char **ext, struct view_snap *s,
			const struct lance_row_ref *row, const struct file_col *c,
			struct lc_err *err)
{
	struct lc_buf head;
	struct kinds *k;
	unsigned kind;
	bool valid;
	int rc;

	*ext = c->text ? "txt" : c->fixed_ext;
	if (*ext) {
		uint64_t size;

		rc = value_size(&size, &valid, s, row, c->field, err);
		*present = !rc && valid;
		return rc;
	}
	k = kinds_of(s, row->frag, c);
	kind = k ? kinds_at(k, row->offset) : KIND_UNKNOWN;
	if (kind == KIND_UNKNOWN) {
		lc_buf_init(&head, 0);
		rc = file_value(&head, &valid, s, row, c->field, 0, 32, err);
		if (!rc)
			kind = !valid ? KIND_NULL :
			       KIND_EXT0 + render_sniff(head.data, head.len);
		lc_buf_reset(&head);
		if (rc)
			return rc;
		if (k)
			kinds_set(s->ds->kinds, k, row->offset, kind);
	}
	*present = kind != KIND_NULL;
	if (*present)
		*ext = render_sniff_exts[kind - KIND_EXT0];
	return 0;
}

static int lookup_in_row(struct vnode *out, const struct vnode *dir,
			 const char *name, struct lc_err *err)
{
	struct view_snap *s = dir->snap;

	if (!strcmp(name, "meta.json")) {
		vnode_copy(out, dir);
		out->kind = VN_FILE;
		out->file = VIEW_META_JSON;
		return 0;
	}
	for (size_t i = 0; i < s->n_cols; i++) {
		const struct file_col *c = &s->cols[i];
		size_t plen = strlen(c->prefix);
		const char *ext;
		bool present;
		int rc;

		if (strncmp(name, c->prefix, plen) || name[plen] != '.')
			continue;
		rc = file_present(&present, &ext, s, &dir->row, c, err);
		if (rc)
			return rc;
		if (!present || strcmp(name + plen + 1, ext))
			continue;
		vnode_copy(out, dir);
		out->kind = VN_FILE;
		out->file = (int)i;
		return 0;
	}
	return ENOENT;
}

/* Where `name` is, or would go, in the sorted members; dbs_mu held. */
static size_t db_pos(struct view *v, const char *name, bool *found)
{
	size_t lo = 0, hi = v->n_dbs;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, v->dbs[mid]->name);

		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static struct view_ds *db_find(struct view *v, const char *name)
{
	struct view_ds *ds = NULL;
	bool found;
	size_t i;

	pthread_rwlock_rdlock(&v->dbs_mu);
	i = db_pos(v, name, &found);
	if (found)
		ds = v->dbs[i];
	pthread_rwlock_unlock(&v->dbs_mu);
	return ds;
}

/* Member `ds` (not there yet) in its place (dbs_mu held for writing). */
static int db_insert(struct view *v, struct view_ds *ds, struct lc_err *err)
{
	struct view_ds **p = lc_realloc(v->dbs, (v->n_dbs + 1) * sizeof(*p));
	bool found;
	size_t i;

	if (p)
		v->dbs = p;
	if (p && (p = lc_realloc(v->listed, (v->n_dbs + 1) * sizeof(*p))))
		v->listed = p;
	if (!p)
		return LC_NOMEM(err);
	v->listed[v->n_dbs] = ds;
	i = db_pos(v, ds->name, &found);
	memmove(v->dbs + i + 1, v->dbs + i, (v->n_dbs - i) * sizeof(*p));
	v->dbs[i] = ds;
	v->n_dbs++;
	return 0;
}

/* The member at listing position i (in the order members came), or
 * NULL past the end. */
static struct view_ds *db_at(struct view *v, uint64_t i)
{
	struct view_ds *ds = NULL;

	pthread_rwlock_rdlock(&v->dbs_mu);
	if (i < v->n_dbs)
		ds = v->listed[i];
	pthread_rwlock_unlock(&v->dbs_mu);
	return ds;
}

int view_db_mkdir(struct view_ds **out, struct view *v, const char *name,
		  struct lc_err *err)
{
	struct view_ds *ds = NULL;
	bool found, made = false;
	int rc;

	*out = NULL;
	if (!v->is_db || !v->opts.writable)
		return EROFS;
	if (strlen(name) > NAME_MAX - strlen(".lance"))
		return ENAMETOOLONG;	/* its folder's name would be */
	/* what LanceDB opens as a table name */
	if (!*name || *name == '.' ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789_-.") != strlen(name))
		return LC_USAGE(err, "%s: not a dataset name (LanceDB opens "
				"letters, digits, _, - and . only)", name);
	pthread_rwlock_wrlock(&v->dbs_mu);
	db_pos(v, name, &found);
	if (found) {
		rc = EEXIST;
		goto out;
	}
	/* a local database gets the folder now (the store opens it);
	 * an object store needs none */
	rc = make_local_dir(v->source, name, &made, err);
	/* another writer may have made that dataset since the mount last
	 * looked: it is a member now, and the mkdir EEXIST */
	if (!rc)
		rc = open_member(&ds, v, name, false, true, err);
	if (!rc)
		rc = db_insert(v, ds, err);
	if (!rc && !ds->fresh) {
		rc = EEXIST;	/* listed now: the list holds it */
	} else if (!rc) {
		ds->made = made;
		*out = ds;
	} else {
		ds_free(ds);
	}
out:
	pthread_rwlock_unlock(&v->dbs_mu);
	return rc;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Members whose folder the scan `d` did not list are gone (not shown,
 * not refreshed) until it lists them again; one made by a mkdir here
 * stays (on an object store it has no object before its first commit).
 * Whether any member went or came back. */
static bool mark_gone(struct view *v, struct db_scan *d)
{
	bool moved = false;

	if (d->n)	/* none: names may be NULL, which qsort must not get */
		qsort(d->names, d->n, sizeof(*d->names), cmp_name);
	pthread_rwlock_rdlock(&v->dbs_mu);
	for (size_t i = 0; i < v->n_dbs; i++) {
		struct view_ds *ds = v->dbs[i];
		const char *key = ds->name;
		bool gone = !ds->fresh &&
			    (!d->n || !bsearch(&key, d->names, d->n,
					       sizeof(*d->names), cmp_name));

		moved |= atomic_exchange(&ds->gone, gone) != gone;
	}
	pthread_rwlock_unlock(&v->dbs_mu);
	return moved;
}

int view_db_rescan(bool *added, struct view *v, struct lc_err *err)
{
	struct db_scan d = { 0 };
	int rc;

	*added = false;
	if (!v->is_db)
		return 0;
	rc = ostore_list(v->st, "", db_scan_cb, &d, err);
	/* the database's folder deleted since: its members went with it
	 * (one made anew at its path is another folder, not followed) */
	if (rc == ESTALE) {
		lc_err_clear(err);
		rc = 0;
	}
	if (d.rc)
		rc = LC_NOMEM(err);
	if (!rc)
		*added = mark_gone(v, &d);
	for (size_t i = 0; !rc && i < d.n; i++) {
		struct view_ds *ds;
		bool found;

		if (db_find(v, d.names[i]))
			continue;
		/* one being made (no version yet, or not whole) waits for
		 * the next look */
		if (open_member(&ds, v, d.names[i], false, false, err) ||
		    !ds) {
			lc_err_clear(err);
			continue;
		}
		pthread_rwlock_wrlock(&v->dbs_mu);
		db_pos(v, d.names[i], &found);	/* a mkdir meanwhile */
		rc = found ? EEXIST : db_insert(v, ds, err);
		pthread_rwlock_unlock(&v->dbs_mu);
		if (rc)
			ds_free(ds);
		else
			*added = true;
		if (rc == EEXIST)
			rc = 0;
	}
	for (size_t i = 0; i < d.n; i++)
		lc_free(d.names[i]);
	lc_free(d.names);
	return rc;
}

bool view_ds_gone(struct view_ds *ds)
{
	return atomic_load(&ds->gone);
}

struct view_ds *view_db_member(struct view *v, size_t i)
{
	return db_at(v, i);
}

static void note_at(struct view *v, const struct vnode *n, const char *name,
		    const struct lc_err *err);

int view_lookup(struct vnode *out, struct view *v, const struct vnode *dir,
		const char *name, struct lc_err *err)
{
	uint64_t version;
	int rc;

	memset(out, 0, sizeof(*out));
	switch (dir->kind) {
	case VN_DBROOT: {
		struct view_ds *ds = db_find(v, name);

		return ds && !view_ds_gone(ds) ? ds_root(out, ds, 0, err) :
						 ENOENT;
	}
	case VN_ROOT:
		/* hidden entries only at a dataset's own root */
		if (dir->snap == dir->ds->cur) {
			if (!strcmp(name, ".lancefs")) {
				out->kind = VN_CTL;
				out->ds = dir->ds;
				out->snap = snap_ref(dir->snap);
				return 0;
			}
			if (!strcmp(name, "@versions") ||
			    !strcmp(name, "@tags")) {
				out->kind = name[1] == 'v' ? VN_VERSIONS :
							     VN_TAGS;
				out->ds = dir->ds;
				out->snap = snap_ref(dir->snap);
				return 0;
			}
		}
		rc = find_row(&out->row, dir->snap, name, err);
		if (rc)
			return rc;
		out->kind = VN_ROW;
		out->ds = dir->ds;
		out->snap = snap_ref(dir->snap);
		return 0;
	case VN_VERSIONS:
		if (parse_u64(&version, name) || !version)
			return ENOENT;
		{
			char canon[32];

			snprintf(canon, sizeof(canon), "%" PRIu64, version);
			if (strcmp(canon, name))
				return ENOENT;
		}
		rc = ds_root(out, dir->ds, version, err);
		if (rc == ENOENT)
			lc_err_clear(err);
		return rc;
	case VN_TAGS: {
		struct lance_tag *tags;
		size_t n;

		version = 0;
		rc = lance_list_tags(&tags, &n, dir->ds->st, err);
		if (rc)
			return rc;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(tags[i].name, name) && !tags[i].branch)
				version = tags[i].version;
		lance_tags_free(tags, n);
		if (!version)
			return ENOENT;
		return tag_root(out, dir->ds, name, version, err);
	}
	case VN_ROW:
		rc = lookup_in_row(out, dir, name, err);
		/* a file whose kind or size could not be read (its data file
		 * gone, the store down): a failure to list, as a read's */
		if (rc && rc != ENOENT)
			note_at(v, dir, name, err);
		return rc;
	case VN_CTL:
		for (int i = 0; i < ctl_count(v); i++)
			if (!strcmp(name, ctl_names[i])) {
				vnode_copy(out, dir);
				out->kind = VN_CTLFILE;
				out->file = i;
				return 0;
			}
		return ENOENT;
	default:
		return ENOTDIR;
	}
}

int view_resolve(struct vnode *out, struct view *v, const char *path,
		 struct lc_err *err)
{
	struct vnode cur, next;
	const char *p = path;
	int rc = view_root(&cur, v, err);

	while (!rc && *p) {
		char name[1024];
		size_t n = strcspn(p, "/");

		if (n >= sizeof(name)) {
			rc = ENAMETOOLONG;
			break;
		}
		memcpy(name, p, n);
		name[n] = 0;
		p += n;
		while (*p == '/')
			p++;
		if (!n || !strcmp(name, "."))
			continue;
		rc = view_lookup(&next, v, &cur, name, err);
		vnode_reset(&cur);
		cur = next;
	}
	if (rc) {
		vnode_reset(&cur);
		return rc;
	}
	*out = cur;
	return 0;
}

static int list_root(const struct vnode *dir, uint64_t start, view_dir_cb cb,
		     void *ctx, struct lc_err *err)
{
	struct view_snap *s = dir->snap;
	int rc = names_ready(s, err);
	uint64_t n = rc ? 0 : lance_snapshot_num_rows(s->ls);

	for (uint64_t i = start; !rc && i < n; i++) {
		struct vnode node = { .kind = VN_ROW, .ds = dir->ds,
				      .snap = s };
		char name[1024];

		rc = lance_snapshot_row_at(&node.row, s->ls, i, err);
		if (rc)
			break;
		row_name(name, sizeof(name), s, i, node.row.number);
		rc = cb(ctx, i, name, &node);
	}
	return rc;
}

static int list_row(const struct vnode *dir, uint64_t start, view_dir_cb cb,
		    void *ctx, struct lc_err *err)
{
	struct view_snap *s = dir->snap;
	uint64_t index = 0;
	int rc = 0;

	for (size_t i = 0; !rc && i <= s->n_cols; i++) {
		struct vnode node;
		char name[1200];

		vnode_copy(&node, dir);
		node.kind = VN_FILE;
		if (i == s->n_cols) {
			node.file = VIEW_META_JSON;
			snprintf(name, sizeof(name), "meta.json");
		} else {
			const char *ext;
			bool present;

			node.file = (int)i;
			rc = file_present(&present, &ext, s, &dir->row,
					  &s->cols[i], err);
			if (rc || !present) {
				vnode_reset(&node);
				continue;
			}
			snprintf(name, sizeof(name), "%s.%s",
				 s->cols[i].prefix, ext);
		}
		if (index++ >= start)
			rc = cb(ctx, index - 1, name, &node);
		vnode_reset(&node);
	}
	return rc;
}

/* @versions and @tags are not listed at the root, but list their own
 * entries, so `ls @versions` shows what can be opened. */
static int list_versions(const struct vnode *dir, uint64_t start,
			 view_dir_cb cb, void *ctx, struct lc_err *err)
{
	struct lance_version_info *vi;
	size_t n;
	int rc = lance_list_versions(&vi, &n, dir->ds->st, err);

	if (rc)
		return rc;
	for (size_t i = start; !rc && i < n; i++) {
		struct vnode node = { .kind = VN_ROOT, .ds = dir->ds };
		char name[32];

		snprintf(name, sizeof(name), "%" PRIu64, vi[i].version);
		rc = cb(ctx, i, name, &node);
	}
	lance_versions_free(vi, n);
	return rc;
}

static int list_tags(const struct vnode *dir, uint64_t start, view_dir_cb cb,
		     void *ctx, struct lc_err *err)
{
	struct lance_tag *tags;
	size_t n;
	int rc = lance_list_tags(&tags, &n, dir->ds->st, err);

	if (rc)
		return rc;
	for (size_t i = start; !rc && i < n; i++) {
		struct vnode node = { .kind = VN_ROOT, .ds = dir->ds };

		/* a branch's versions are not the main line's: not shown */
		if (!tags[i].branch)
			rc = cb(ctx, i, tags[i].name, &node);
	}
	lance_tags_free(tags, n);
	return rc;
}

int view_readdir(struct view *v, const struct vnode *dir, uint64_t start,
		 view_dir_cb cb, void *ctx, struct lc_err *err)
{
	switch (dir->kind) {
	case VN_DBROOT:
		for (uint64_t i = start;; i++) {
			struct view_ds *ds = db_at(v, i);
			struct vnode node;
			int rc;

			if (!ds)
				break;
			if (view_ds_gone(ds))
				continue;
			rc = ds_root(&node, ds, 0, err);
			if (!rc)
				rc = cb(ctx, i, ds->name, &node);
			vnode_reset(&node);
			if (rc)
				return rc;
		}
		return 0;
	case VN_ROOT:
	case VN_ROW: {
		int rc = dir->kind == VN_ROOT ?
				 list_root(dir, start, cb, ctx, err) :
				 list_row(dir, start, cb, ctx, err);

		/* what the store failed at (1: a callback stops) */
		if (rc > 1 && err->code)
			view_note_error(v, dir, err);
		return rc;
	}
	case VN_VERSIONS:
		return list_versions(dir, start, cb, ctx, err);
	case VN_TAGS:
		return list_tags(dir, start, cb, ctx, err);
	case VN_CTL:
		for (uint64_t i = start; i < (uint64_t)ctl_count(v); i++) {
			struct vnode node;
			int rc;

			vnode_copy(&node, dir);
			node.kind = VN_CTLFILE;
			node.file = (int)i;
			rc = cb(ctx, i, ctl_names[i], &node);
			vnode_reset(&node);
			if (rc)
				return rc;
		}
		return 0;
	default:
		return ENOTDIR;
	}
}

static int render_meta(struct lc_buf *b, struct view_snap *s,
		       const struct lance_row_ref *row, struct lc_err *err)
{
	int rc = lc_buf_append(b, "{", 1, err);

	for (size_t i = 0; !rc && i < s->n_meta; i++) {
		const struct lance_field *f = s->meta[i];
		struct lance_array a;

		if (i)
			rc = lc_buf_append(b, ",", 1, err);
		if (!rc)
			rc = render_json_string(b, f->name, strlen(f->name),
						err);
		if (!rc)
			rc = lc_buf_append(b, ":", 1, err);
		if (!rc)
			rc = read_value(&a, s, row, f, err);
		if (!rc) {
			rc = render_json_value(b, &a, 0, err);
			lance_array_reset(&a);
		}
	}
	if (!rc)
		rc = lc_buf_append(b, "}\n", 2, err);
	return rc;
}

int view_file_name(char *out, size_t cap, const struct vnode *n,
		   struct lc_err *err)
{
	const struct file_col *c;
	const char *ext;
	bool present;
	int rc;

	if (n->kind != VN_FILE)
		return EINVAL;
	if (n->file == VIEW_META_JSON) {
		snprintf(out, cap, "meta.json");
		return 0;
	}
	c = &n->snap->cols[n->file];
	rc = file_present(&present, &ext, n->snap, &n->row, c, err);
	if (rc)
		return rc;
	if (!present)
		return ENOENT;
	snprintf(out, cap, "%s.%s", c->prefix, ext);
	return 0;
}

int view_row_name(char *out, size_t cap, const struct vnode *n,
		  struct lc_err *err)
{
	const struct view_snap *s = n->snap;
	uint64_t lo = 0, hi;
	int rc = names_ready(s, err);

	if (rc)
		return rc;
	if (!s->names) {
		row_name(out, cap, s, 0, n->row.number);
		return 0;
	}
	/* live rows are in (fragment, offset) order */
	hi = lance_snapshot_num_rows(s->ls);
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		struct lance_row_ref r;

		rc = lance_snapshot_row_at(&r, s->ls, mid, err);
		if (rc)
			return rc;
		if (r.frag == n->row.frag && r.offset == n->row.offset) {
			snprintf(out, cap, "%s", s->names[mid]);
			return 0;
		}
		if (r.frag < n->row.frag ||
		    (r.frag == n->row.frag && r.offset < n->row.offset))
			lo = mid + 1;
		else
			hi = mid;
	}
	return ENOENT;
}

void view_row_where(uint64_t *version, uint64_t *fragment_id,
		    uint64_t *offset, const struct vnode *n)
{
	*version = n->snap->m->version;
	*fragment_id = n->snap->m->fragments[n->row.frag].id;
	*offset = n->row.offset;
}

uint64_t view_row_key(const struct vnode *n)
{
	return lance_fragment_key(&n->snap->m->fragments[n->row.frag]);
}

bool view_other_table(const struct vnode *root, uint64_t version,
		      uint64_t fragment_id, uint64_t key)
{
	return lance_manifest_other_table(root->snap->m, version, fragment_id,
					  key);
}

int view_root_at(struct vnode *out, struct view *v, uint64_t version,
		 struct lc_err *err)
{
	memset(out, 0, sizeof(*out));
	if (v->is_db)
		return ENOENT;
	return ds_root(out, v->single, version, err);
}

int view_ds_refresh(bool *changed, struct view_ds *ds, struct lc_err *err)
{
	struct lance_version_info *vi;
	struct view_snap *s, *old;
	uint64_t latest, cur;
	size_t n;
	int rc;

	*changed = false;
	if (ds->v->opts.version || ds->v->opts.tag)
		return 0;
	pthread_mutex_lock(&ds->mu);
	cur = ds->cur->m->version;
	pthread_mutex_unlock(&ds->mu);
	rc = lance_list_versions(&vi, &n, ds->st, err);
	/* still no first version (its folder maybe removed: ESTALE) */
	if ((rc == ENOENT || rc == ESTALE) && ds->fresh && !cur) {
		lc_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	latest = n ? vi[n - 1].version : 0;
	lance_versions_free(vi, n);
	if (latest <= cur)
		return 0;
	rc = snap_new(&s, ds, latest, false, false, err);
	if (rc)
		return rc;
	s->shown = true;
	/* callers race (refresh=, a commit's follow): the view only moves
	 * on, never back to an older version one of them found */
	pthread_mutex_lock(&ds->mu);
	old = s;
	if (latest > ds->cur->m->version) {
		old = ds->cur;
		ds->cur = s;
		*changed = true;
	}
	pthread_mutex_unlock(&ds->mu);
	snap_unref(old);	/* ds->cur's old reference, or the loser's */
	return 0;
}

bool view_shown(const struct vnode *n)
{
	return n->snap && n->snap->shown;
}

/* The columns shown as files and in meta.json follow from the schema
 * and the mount's options alone, so equal schemas show the same ones. */
bool view_covers(const struct vnode *a, const struct vnode *b)
{
	return a->ds && a->ds == b->ds && view_shown(a) && view_shown(b) &&
	       lance_manifest_appends(a->snap->m, b->snap->m);
}

bool view_same_row(const struct vnode *a, const struct vnode *b)
{
	return a->snap->m->fragments[a->row.frag].id ==
		       b->snap->m->fragments[b->row.frag].id &&
	       a->row.offset == b->row.offset;
}

void view_set_status_fn(struct view *v, view_status_fn fn, void *ctx)
{
	v->status_fn = fn;
	v->status_ctx = ctx;
}

uint64_t view_error_count(struct view *v)
{
	uint64_t n;

	pthread_mutex_lock(&v->err_mu);
	n = v->n_seen;
	pthread_mutex_unlock(&v->err_mu);
	return n;
}

/* The path of a node inside its dataset, for error lines. */
static void node_path(char *out, size_t cap, const struct vnode *n)
{
	char row[1100];

	out[0] = 0;
	if (n->kind != VN_ROW && n->kind != VN_FILE)
		return;
	/* names not made yet are not made for an error line: the number */
	if (atomic_load_explicit(&n->snap->named, memory_order_acquire) &&
	    n->snap->names) {
		struct name_slot *e = NULL;
		uint64_t idx = 0;

		/* names are indexed by live row: find ours */
		for (size_t i = 0; i < n->snap->n_slots && !e; i++) {
			struct lance_row_ref r;

			if (!n->snap->slots[i].name)
				continue;
			idx = n->snap->slots[i].index;
			if (!lance_snapshot_row_at(&r, n->snap->ls, idx,
						   NULL) &&
			    r.number == n->row.number)
				e = &n->snap->slots[i];
		}
		snprintf(row, sizeof(row), "%s", e ? e->name : "?");
	} else {
		snprintf(row, sizeof(row), "%0*" PRIu64, ROW_NAME_DIGITS,
			 n->row.number);
	}
	if (n->kind == VN_ROW)
		snprintf(out, cap, "%s", row);
	else if (n->file == VIEW_META_JSON)
		snprintf(out, cap, "%s/meta.json", row);
	else
		snprintf(out, cap, "%s/%s.*", row,
			 n->snap->cols[n->file].prefix);
}

/* view_note_error's, for the entry `name` of folder n (NULL: n). */
static void note_at(struct view *v, const struct vnode *n, const char *name,
		    const struct lc_err *err)
{
	/* a database mount's members share one list: which one's */
	const char *ds = n->ds ? n->ds->name : NULL;
	char rel[1200], path[2600];

	node_path(rel, sizeof(rel), n);
	snprintf(path, sizeof(path), "%s%s%s%s%s", ds ? ds : "",
		 ds && *rel ? "/" : "", rel, name ? "/" : "", name ? name : "");
	view_note_line(v, path, err);
}

void view_note_error(struct view *v, const struct vnode *n,
		     const struct lc_err *err)
{
	note_at(v, n, NULL, err);
}

void view_note_line(struct view *v, const char *path,
		    const struct lc_err *err)
{
	char *line;
	size_t len;

	len = strlen(path) + strlen(err->msg) + 8;
	line = lc_malloc(len);
	if (!line)
		return;
	snprintf(line, len, "%s\t%s\n", *path ? path : "-", err->msg);
	pthread_mutex_lock(&v->err_mu);
	v->n_seen++;
	/* the same failure again (a refused row tried again, a file read
	 * again) is listed once: one line a refused row, as VIEW.md has;
	 * it moves to the end, the latest failures last (lancefs commit
	 * shows those its commit noted) */
	for (uint64_t i = v->n_errs > VIEW_MAX_ERRORS ?
			  v->n_errs - VIEW_MAX_ERRORS : 0;
	     i < v->n_errs; i++)
		if (!strcmp(v->errs[i % VIEW_MAX_ERRORS], line)) {
			char *same = v->errs[i % VIEW_MAX_ERRORS];

			for (uint64_t j = i; j + 1 < v->n_errs; j++)
				v->errs[j % VIEW_MAX_ERRORS] =
					v->errs[(j + 1) % VIEW_MAX_ERRORS];
			v->errs[(v->n_errs - 1) % VIEW_MAX_ERRORS] = same;
			pthread_mutex_unlock(&v->err_mu);
			lc_free(line);
			return;
		}
	lc_free(v->errs[v->n_errs % VIEW_MAX_ERRORS]);
	v->errs[v->n_errs % VIEW_MAX_ERRORS] = line;
	v->n_errs++;
	pthread_mutex_unlock(&v->err_mu);
}

int view_errors(struct lc_buf *b, struct view *v, struct lc_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&v->err_mu);
	for (uint64_t i = v->n_errs > VIEW_MAX_ERRORS ?
			  v->n_errs - VIEW_MAX_ERRORS : 0;
	     !rc && i < v->n_errs; i++) {
		const char *line = v->errs[i % VIEW_MAX_ERRORS];

		rc = lc_buf_append(b, line, strlen(line), err);
	}
	pthread_mutex_unlock(&v->err_mu);
	return rc;
}

void view_say_errors(struct view *v, FILE *out)
{
	struct lc_buf b;

	lc_buf_init(&b, 0);
	if (!view_errors(&b, v, &(struct lc_err){ 0 })) {
		const char *l = (const char *)b.data, *end = l + b.len;

		while (l < end) {
			const char *nl = memchr(l, '\n', (size_t)(end - l));
			const char *tab = memchr(l, '\t', (size_t)(end - l));

			if (!nl)
				break;
			if (tab && tab < nl)
				l = tab + 1;	/* the message names it */
			fprintf(out, "lancefs: %.*s\n", (int)(nl - l), l);
			l = nl + 1;
		}
	}
	lc_buf_reset(&b);
}

static int render_ctl(struct lc_buf *b, struct view *v, const struct vnode *n,
		      struct lc_err *err)
{
	const struct lance_manifest *m;
	struct view_snap *cur;
	int rc = 0;

	if (n->file == VIEW_CTL_COMMIT || n->file == VIEW_CTL_WARMUP)
		return 0;	/* written to, never read */
	if (n->file == VIEW_CTL_ERRORS)
		return view_errors(b, v, err);
	/* the version the dataset's root shows now, not the one the file
	 * was looked up in (the kernel may hold it across commits) */
	rc = ds_snap(&cur, n->ds, 0, err);
	if (rc)
		return rc;
	m = cur->m;
	rc = rows_ready(cur, err);
	if (!rc)
		rc = lc_buf_append(b, "{\"source\":", 10, err);
	if (!rc) {
		/* a database member's own URI */
		const char *src = n->ds->name ? n->ds->st->root : v->source;

		rc = render_json_string(b, src, strlen(src), err);
	}
	if (!rc)
		rc = lc_buf_printf(b, err, ",\"version\":%" PRIu64
				   ",\"rows\":%" PRIu64 ",\"data_format\":",
				   m->version,
				   lance_snapshot_num_rows(cur->ls));
	if (!rc)
		rc = render_json_string(b, m->data_format ? m->data_format :
					"", m->data_format ?
					strlen(m->data_format) : 0, err);
	if (!rc)
		rc = lc_buf_printf(b, err, ",\"errors\":%" PRIu64
				   ",\"value_cache\":{\"hits\":%llu,"
				   "\"misses\":%llu,\"bytes\":%zu}",
				   view_error_count(v),
				   (unsigned long long)atomic_load(&v->vc_hits),
				   (unsigned long long)atomic_load(&v->vc_misses),
				   v->vc_bytes);
	if (!rc) {
		/* the object store's requests and its cache (a database's
		 * members share their store's counters) */
		struct ostore_stats st;

		ostore_stats(v->st ? v->st : n->ds->st, &st);
		rc = lc_buf_printf(b, err, ",\"store\":{\"requests\":%"
				   PRIu64 ",\"retries\":%" PRIu64
				   ",\"failed_requests\":%" PRIu64
				   ",\"bytes_fetched\":%" PRIu64
				   ",\"bytes_sent\":%" PRIu64
				   ",\"in_flight\":%" PRIu64
				   ",\"cache_hits\":%" PRIu64
				   ",\"cache_misses\":%" PRIu64
				   ",\"disk_hits\":%" PRIu64
				   ",\"cache_mem_bytes\":%" PRIu64
				   ",\"cache_disk_bytes\":%" PRIu64
				   ",\"warm_done\":%" PRIu64
				   ",\"warm_total\":%" PRIu64
				   ",\"warm_pending\":%" PRIu64
				   ",\"warm_failed\":%" PRIu64 "}",
				   st.requests, st.retries, st.errors,
				   st.bytes_fetched, st.bytes_sent,
				   st.in_flight, st.hits, st.misses,
				   st.disk_hits, st.mem_bytes, st.disk_bytes,
				   st.warm_done, st.warm_total,
				   st.warm_pending, st.warm_failed);
	}
	snap_unref(cur);
	if (!rc && v->status_fn)
		rc = v->status_fn(v->status_ctx, b, err);
	if (!rc)
		rc = lc_buf_append(b, "}\n", 2, err);
	return rc;
}

int view_read_range(struct lc_buf *out, struct view *v, const struct vnode *n,
		    uint64_t off, size_t len, struct lc_err *err)
{
	struct lc_buf whole;
	bool valid;
	int rc;

	if (n->kind != VN_FILE && n->kind != VN_CTLFILE)
		return EISDIR;
	if (n->kind == VN_FILE && n->file != VIEW_META_JSON) {
		rc = file_value(out, &valid, n->snap, &n->row,
				n->snap->cols[n->file].field, off, len, err);
		if (rc)
			view_note_error(v, n, err);
		return rc;
	}
	/* meta.json and control files are small: render, then slice */
	lc_buf_init(&whole, 0);
	rc = n->kind == VN_CTLFILE ? render_ctl(&whole, v, n, err) :
				     render_meta(&whole, n->snap, &n->row, err);
	if (rc && n->kind == VN_FILE)
		view_note_error(v, n, err);
	if (!rc)
		rc = append_slice(out, whole.data, whole.len, off, len, err);
	lc_buf_reset(&whole);
	return rc;
}

int view_read_file(struct lc_buf *out, struct view *v, const struct vnode *n,
		   struct lc_err *err)
{
	return view_read_range(out, v, n, 0, SIZE_MAX, err);
}

int view_getattr(struct view_attr *out, struct view *v, const struct vnode *n,
		 struct lc_err *err)
{
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->nlink = 1;
	if (n->snap) {
		out->mtime_sec = n->snap->m->timestamp_sec;
		out->mtime_nsec = n->snap->m->timestamp_nsec;
	}
	switch (n->kind) {
	case VN_CTLFILE: {
		struct lc_buf b;

		lc_buf_init(&b, 0);
		rc = render_ctl(&b, v, n, err);
		out->size = b.len;
		lc_buf_reset(&b);
		return rc;
	}
	case VN_DBROOT:
	case VN_ROOT:
	case VN_VERSIONS:
	case VN_TAGS:
	case VN_CTL:
		out->is_dir = true;
		out->nlink = 2;
		return 0;
	case VN_ROW:
		out->is_dir = true;
		out->nlink = 2;
		frag_time(&out->mtime_sec, &out->mtime_nsec, n->snap,
			  n->row.frag);
		return 0;
	case VN_FILE:
		frag_time(&out->mtime_sec, &out->mtime_nsec, n->snap,
			  n->row.frag);
		if (n->file == VIEW_META_JSON) {
			struct lc_buf b;

			lc_buf_init(&b, 0);
			rc = render_meta(&b, n->snap, &n->row, err);
			out->size = b.len;
			lc_buf_reset(&b);
		} else {
			bool valid;

			rc = value_size(&out->size, &valid, n->snap, &n->row,
					n->snap->cols[n->file].field, err);
		}
		if (rc)
			view_note_error(v, n, err);
		return rc;
	default:
		return EINVAL;
	}
}
