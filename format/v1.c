/*
 * v1.c - decoder for legacy v1 data files (footer 0.0 .. 0.2),
 * file-format.md section 6.
 *
 * Layout: a 16-byte footer (i64 metadata position, u16 major, u16 minor,
 * "LANC"); at the metadata position a u32 length and a V1Metadata
 * message with the cumulative batch row counts and the page-table
 * position. The page table holds (i64 position, i64 length) for every
 * (field id in [min_id, max_id], batch), field-major. Pages:
 *   fixed width   length values at position (fixed-size lists flattened)
 *   bool          LSB-first bitmap
 *   string/binary length + 1 i64 absolute file offsets at position; the
 *                 value bytes sit elsewhere in the file
 *   list          length + 1 i32 (large: i64) offsets into the batch's
 *                 page of the child field
 *   struct        no page; children have pages
 * v1 stores no validity: fixed-width values read as stored, and an empty
 * string/binary in a nullable field reads as null (Lance's own rule).
 *
 * The state (batch offsets and the page table) is read at open and is
 * immutable afterwards, so reads need no lock.
 */
#include "lance_int.h"

#include "file.pb-c.h"
#include "table.pb-c.h"

#define FOOTER1_LEN 16
#define MAX_PAGE_TABLE (64u << 20)
#define MAX_V1_ROWS (1ull << 31)

/* A dictionary field's values, from the file's embedded manifest. */
struct v1_dict {
	int32_t field;
	uint64_t offset, length;	/* Field.dictionary: where, how many */
	struct lance_array values;	/* decoded lazily, under f->mu */
	bool loaded;
};

struct v1_state {
	uint64_t *batch;	/* n_batches + 1 cumulative row counts */
	size_t n_batches;
	int32_t min_id, max_id;
	uint8_t *table;		/* 16 bytes per (field, batch) */
	struct v1_dict *dicts;
	size_t n_dicts;
};

static void v1_free(struct lance_file *f)
{
	struct v1_state *s = f->dec;

	if (!s)
		return;
	lc_free(s->batch);
	lc_free(s->table);
	for (size_t i = 0; i < s->n_dicts; i++)
		lance_array_reset(&s->dicts[i].values);
	lc_free(s->dicts);
	lc_free(s);
	f->dec = NULL;
}

static int load_meta(Lpb__V1Metadata **out, struct lance_file *f,
		     const uint8_t *tail, size_t tail_len, uint64_t pos,
		     struct lc_err *err)
{
	uint64_t size = ostore_size(f->obj), end = size - FOOTER1_LEN;
	uint64_t tail_off = size - tail_len, len;
	uint8_t hdr[4], *buf = NULL;
	const uint8_t *p;
	int rc;

	*out = NULL;
	if (pos > end || end - pos < 4)
		return LC_CORRUPT(err, "%s: v1 metadata at %" PRIu64 " is "
				  "outside the %" PRIu64 "-byte file", f->path,
				  pos, size);
	if (pos >= tail_off) {
		memcpy(hdr, tail + (pos - tail_off), 4);
	} else {
		rc = lance__file_pread(f, pos, 4, hdr, err);
		if (rc)
			return rc;
	}
	len = lc_le32(hdr);
	if (len > end - pos - 4)
		return LC_CORRUPT(err, "%s: v1 metadata of %" PRIu64 " bytes "
				  "at %" PRIu64 " runs past the footer",
				  f->path, len, pos);
	if (pos + 4 >= tail_off) {
		p = tail + (pos + 4 - tail_off);
	} else {
		buf = lc_malloc((size_t)len);
		if (!buf)
			return LC_NOMEM(err);
		rc = lance__file_pread(f, pos + 4, (size_t)len, buf, err);
		if (rc)
			goto out;
		p = buf;
	}
	rc = lance__pb_check(p, (size_t)len, LANCE_PB_MAX_DEPTH,
			     "v1 metadata", err);
	if (rc)
		goto out;
	*out = lpb__v1_metadata__unpack(NULL, (size_t)len, p);
	if (!*out)
		rc = LC_CORRUPT(err, "%s: v1 metadata does not parse",
				f->path);
out:
	lc_free(buf);
	return rc;
}

static bool has_dict_field(const struct lance_file *f)
{
	for (size_t i = 0; i < f->n_map; i++) {
		const struct lance_field *fl =
			lance_schema_field_by_id(f->schema, f->map_field[i]);

		if (fl && fl->type.dict)
			return true;
	}
	return false;
}

/*
 * Legacy dictionary values are written into the data file with the plain
 * or var-binary encoders, and the file's embedded manifest (at
 * manifest_position: u32 length + Manifest) records, per dictionary
 * field, where (offset) and how many values (length).
 */
static int load_dict_refs(struct lance_file *f, struct v1_state *s,
			  uint64_t pos, struct lc_err *err)
{
	uint64_t size = ostore_size(f->obj), len;
	Lpb__Manifest *m = NULL;
	uint8_t hdr[4], *buf = NULL;
	int rc;

	if (!pos || !lc_range_ok(pos, 4, size))
		return LC_CORRUPT(err, "%s: dictionary fields but no embedded "
				  "manifest (at %" PRIu64 ")", f->path, pos);
	rc = lance__file_pread(f, pos, 4, hdr, err);
	if (rc)
		return rc;
	len = lc_le32(hdr);
	if (!lc_range_ok(pos + 4, len, size))
		return LC_CORRUPT(err, "%s: embedded manifest of %" PRIu64
				  " bytes runs past the file", f->path, len);
	buf = lc_malloc(len ? (size_t)len : 1);
	if (!buf)
		return LC_NOMEM(err);
	rc = lance__file_pread(f, pos + 4, (size_t)len, buf, err);
	if (!rc)
		rc = lance__pb_check(buf, (size_t)len, LANCE_PB_MAX_DEPTH,
				     "embedded manifest", err);
	if (!rc && !(m = lpb__manifest__unpack(NULL, (size_t)len, buf)))
		rc = LC_CORRUPT(err, "%s: embedded manifest does not parse",
				f->path);
	if (!rc) {
		s->dicts = lc_calloc(m->n_fields + 1, sizeof(*s->dicts));
		if (!s->dicts)
			rc = LC_NOMEM(err);
	}
	for (size_t i = 0; !rc && i < m->n_fields; i++) {
		const Lpb__Field *fl = m->fields[i];

		if (!fl->dictionary || fl->dictionary->offset < 0 ||
		    fl->dictionary->length < 0)
			continue;
		s->dicts[s->n_dicts].field = fl->id;
		s->dicts[s->n_dicts].offset = (uint64_t)fl->dictionary->offset;
		s->dicts[s->n_dicts].length = (uint64_t)fl->dictionary->length;
		s->n_dicts++;
	}
	if (m)
		lpb__manifest__free_unpacked(m, NULL);
	lc_free(buf);
	return rc;
}

int lance__v1_open(struct lance_file *f, const uint8_t *tail,
		   size_t tail_len, struct lc_err *err)
{
	const uint8_t *ft = tail + tail_len - FOOTER1_LEN;
	uint64_t size = ostore_size(f->obj), n_entries, tlen;
	Lpb__V1Metadata *md = NULL;
	struct v1_state *s;
	int rc;

	s = lc_calloc(1, sizeof(*s));
	if (!s)
		return LC_NOMEM(err);
	f->dec = s;
	f->dec_free = v1_free;
	rc = load_meta(&md, f, tail, tail_len, lc_le64(ft), err);
	if (rc)
		return rc;
	if (md->n_batch_offsets < 1 || md->batch_offsets[0] != 0) {
		rc = LC_CORRUPT(err, "%s: v1 batch offsets must start at 0 "
				"(%zu given)", f->path, md->n_batch_offsets);
		goto out;
	}
	s->n_batches = md->n_batch_offsets - 1;
	s->batch = lc_malloc(md->n_batch_offsets * sizeof(uint64_t));
	if (!s->batch) {
		rc = LC_NOMEM(err);
		goto out;
	}
	for (size_t i = 0; i < md->n_batch_offsets; i++) {
		int32_t v = md->batch_offsets[i];

		if (v < 0 || (i && (uint64_t)v < s->batch[i - 1])) {
			rc = LC_CORRUPT(err, "%s: v1 batch offset %zu is %d, "
					"after %" PRIu64, f->path, i, v,
					i ? s->batch[i - 1] : 0);
			goto out;
		}
		s->batch[i] = (uint64_t)v;
	}
	f->rows = s->batch[s->n_batches];
	if (!f->n_map) {
		rc = LC_CORRUPT(err, "%s: the manifest lists no fields for "
				"this v1 file", f->path);
		goto out;
	}
	s->min_id = s->max_id = f->map_field[0];
	for (size_t i = 1; i < f->n_map; i++) {
		if (f->map_field[i] < s->min_id)
			s->min_id = f->map_field[i];
		if (f->map_field[i] > s->max_id)
			s->max_id = f->map_field[i];
	}
	n_entries = (uint64_t)(s->max_id - s->min_id + 1) * s->n_batches;
	if (n_entries > MAX_PAGE_TABLE / 16) {
		rc = LC_LIMIT(err, "%s: v1 page table of %" PRIu64 " entries",
			      f->path, n_entries);
		goto out;
	}
	tlen = n_entries * 16;
	if (!lc_range_ok(md->page_table_position, tlen, size)) {
		rc = LC_CORRUPT(err, "%s: v1 page table at %" PRIu64 "+%"
				PRIu64 " is past the end of the file",
				f->path, md->page_table_position, tlen);
		goto out;
	}
	s->table = lc_malloc((size_t)tlen);
	if (!s->table) {
		rc = LC_NOMEM(err);
		goto out;
	}
	rc = lance__file_pread(f, md->page_table_position, (size_t)tlen,
			       s->table, err);
	if (!rc && has_dict_field(f))
		rc = load_dict_refs(f, s, md->manifest_position, err);
out:
	lpb__v1_metadata__free_unpacked(md, NULL);
	return rc;
}

/* The page of field `id` in batch `b`: position and value count. */
static int page_of(uint64_t *pos, uint64_t *len, struct lance_file *f,
		   int32_t id, size_t b, struct lc_err *err)
{
	const struct v1_state *s = f->dec;
	const uint8_t *e;
	int64_t p, l;

	if (id < s->min_id || id > s->max_id)
		return LC_NOTFOUND(err, "field %d is not in this v1 file "
				   "(ids %d..%d)", id, s->min_id, s->max_id);
	e = s->table + 16 * ((uint64_t)(id - s->min_id) * s->n_batches + b);
	p = (int64_t)lc_le64(e);
	l = (int64_t)lc_le64(e + 8);
	if (p < 0 || l < 0 || (uint64_t)p > ostore_size(f->obj))
		return LC_CORRUPT(err, "field %d batch %zu: page (%" PRId64
				  ", %" PRId64 ") is outside the file", id, b,
				  p, l);
	*pos = (uint64_t)p;
	*len = (uint64_t)l;
	return 0;
}

/* Read [off, off + len) of the file into a new allocation. */
static int fetch(uint8_t **out, struct lance_file *f, uint64_t off,
		 uint64_t len, struct lc_err *err)
{
	int rc;

	*out = NULL;
	if (!lc_range_ok(off, len, ostore_size(f->obj)))
		return LC_CORRUPT(err, "bytes %" PRIu64 "+%" PRIu64 " are past"
				  " the end of the file", off, len);
	if (len > LANCE_MAX_VALUE_BYTES)
		return LC_LIMIT(err, "a %" PRIu64 "-byte read", len);
	*out = lc_malloc(len ? (size_t)len : 1);
	if (!*out)
		return LC_NOMEM(err);
	rc = lance__file_pread(f, off, (size_t)len, *out, err);
	if (rc) {
		lc_free(*out);
		*out = NULL;
	}
	return rc;
}

/* Offsets [a, e] of a page of `w`-byte signed offsets, widened. */
static int read_offsets(uint64_t **out, struct lance_file *f, uint64_t pos,
			unsigned w, uint64_t a, uint64_t e,
			struct lc_err *err)
{
	uint8_t *raw;
	uint64_t *o;
	int rc;

	*out = NULL;
	rc = fetch(&raw, f, pos + a * w, (e - a + 1) * w, err);
	if (rc)
		return rc;
	o = lc_malloc(((size_t)(e - a) + 1) * sizeof(*o));
	if (!o) {
		lc_free(raw);
		return LC_NOMEM(err);
	}
	for (uint64_t i = 0; i <= e - a; i++) {
		int64_t v = w == 8 ? (int64_t)lc_le64(raw + 8 * i)
				   : (int32_t)lc_le32(raw + 4 * i);

		if (v < 0 || (i && (uint64_t)v < o[i - 1])) {
			rc = LC_CORRUPT(err, "offset %" PRIu64 " is %" PRId64
					" (after %" PRIu64 ")", a + i, v,
					i ? o[i - 1] : 0);
			break;
		}
		o[i] = (uint64_t)v;
	}
	lc_free(raw);
	if (rc) {
		lc_free(o);
		return rc;
	}
	*out = o;
	return 0;
}

static int read_piece(struct lance_array *out, struct lance_file *f,
		      const struct lance_field *field,
		      const struct lance_type *type, size_t b, uint64_t a,
		      uint64_t e, bool sizes_only, int depth,
		      struct lc_err *err);

static int var_piece(struct lance_array *out, struct lance_file *f,
		     const struct lance_field *field, uint64_t pos,
		     uint64_t a, uint64_t e, bool sizes_only,
		     struct lc_err *err)
{
	uint64_t *o, n = e - a;
	int rc;

	rc = read_offsets(&o, f, pos, 8, a, e, err);
	if (rc)
		return rc;
	if (!lc_range_ok(o[0], o[n] - o[0], ostore_size(f->obj))) {
		rc = LC_CORRUPT(err, "values at %" PRIu64 "..%" PRIu64 " are "
				"past the end of the file", o[0], o[n]);
		goto out;
	}
	if (!sizes_only) {
		rc = fetch(&out->values, f, o[0], o[n] - o[0], err);
		if (rc)
			goto out;
		out->values_len = o[n] - o[0];
	}
	for (uint64_t i = 0; i < n; i++) {
		if (field && field->nullable && o[i + 1] == o[i]) {
			if (!out->validity) {
				size_t nb = (size_t)((n + 7) / 8);

				out->validity = lc_malloc(nb ? nb : 1);
				if (!out->validity) {
					rc = LC_NOMEM(err);
					goto out;
				}
				memset(out->validity, 0xff, nb ? nb : 1);
			}
			out->validity[i >> 3] &= (uint8_t)~(1u << (i & 7));
		}
	}
	for (uint64_t i = n + 1; i-- > 0;)
		o[i] -= o[0];
	out->offsets = o;
	o = NULL;
out:
	lc_free(o);
	return rc;
}

static int list_piece(struct lance_array *out, struct lance_file *f,
		      const struct lance_field *field, uint64_t pos,
		      size_t b, uint64_t a, uint64_t e, int depth,
		      struct lc_err *err)
{
	const struct lance_field *child;
	uint64_t *o, n = e - a, lo;
	int rc;

	if (field->n_children != 1)
		return LC_CORRUPT(err, "list field with %zu children",
				  field->n_children);
	child = field->children[0];
	rc = read_offsets(&o, f, pos, field->type.large ? 8 : 4, a, e, err);
	if (rc)
		return rc;
	lo = o[0];
	out->children = lc_calloc(1, sizeof(*out->children));
	if (!out->children) {
		rc = LC_NOMEM(err);
		goto out;
	}
	out->n_children = 1;
	rc = read_piece(&out->children[0], f, child, &child->type, b, lo,
			o[n], false, depth + 1, err);
	if (rc)
		goto out;
	for (uint64_t i = 0; i <= n; i++)
		o[i] -= lo;
	out->offsets = o;
	o = NULL;
out:
	lc_free(o);
	return rc;
}

static int page_of(uint64_t *pos, uint64_t *len, struct lance_file *f,
		   int32_t id, size_t b, struct lc_err *err);

/* The decoded dictionary of `field`, loaded once. */
static int dict_values(const struct lance_array **out, struct lance_file *f,
		       const struct lance_field *field, struct lc_err *err)
{
	struct v1_state *s = f->dec;
	struct v1_dict *d = NULL;
	struct lance_type vt = field->type;
	struct lance_array a = { 0 };
	int rc = 0;

	for (size_t i = 0; i < s->n_dicts; i++)
		if (s->dicts[i].field == field->id)
			d = &s->dicts[i];
	if (!d)
		return LC_CORRUPT(err, "dictionary field %d has no dictionary "
				  "in the embedded manifest", field->id);
	pthread_mutex_lock(&f->mu);
	if (d->loaded) {
		*out = &d->values;
		pthread_mutex_unlock(&f->mu);
		return 0;
	}
	pthread_mutex_unlock(&f->mu);
	vt.dict = false;
	if (d->length > MAX_V1_ROWS)
		return LC_LIMIT(err, "a dictionary of %" PRIu64 " values",
				d->length);
	a.length = d->length;
	if (vt.id == LANCE_T_UTF8 || vt.id == LANCE_T_BINARY) {
		rc = var_piece(&a, f, NULL, d->offset, 0, d->length, false,
			       err);
	} else {
		unsigned w = lance_type_width(&vt);

		if (!w)
			rc = LC_UNSUPPORTED(err, "a dictionary of type %d",
					    (int)vt.id);
		else
			rc = fetch(&a.values, f, d->offset, d->length * w,
				   err);
		a.values_len = d->length * w;
	}
	if (rc) {
		lance_array_reset(&a);
		return rc;
	}
	pthread_mutex_lock(&f->mu);
	if (!d->loaded) {
		d->values = a;
		d->loaded = true;
		memset(&a, 0, sizeof(a));
	}
	*out = &d->values;
	pthread_mutex_unlock(&f->mu);
	lance_array_reset(&a);
	return 0;
}

/* Keys [a, e) of a dictionary page, materialized as values. Legacy keys
 * are 0-based; nulls were stored as key 0, and Lance reads them back as
 * the first value, as we do. */
static int dict_piece(struct lance_array *out, struct lance_file *f,
		      const struct lance_field *field, size_t b, uint64_t a,
		      uint64_t e, struct lc_err *err)
{
	const struct lance_type *t = &field->type;
	struct lance_type kt = { .id = t->dict_index };
	const struct lance_array *dv = NULL;
	uint64_t pos, len, n = e - a, total = 0;
	unsigned kw = lance_type_width(&kt), vw = lance_type_width(t);
	bool var = t->id == LANCE_T_UTF8 || t->id == LANCE_T_BINARY;
	uint8_t *keys = NULL;
	int rc;

	if (!kw || (!var && !vw))
		return LC_UNSUPPORTED(err, "dictionary of type %d keyed by "
				      "type %d", (int)t->id, (int)kt.id);
	rc = dict_values(&dv, f, field, err);
	if (!rc)
		rc = page_of(&pos, &len, f, field->id, b, err);
	if (!rc && e > len)
		rc = LC_CORRUPT(err, "field %d batch %zu: keys %" PRIu64 "..%"
				PRIu64 " of a %" PRIu64 "-key page", field->id,
				b, a, e, len);
	if (!rc)
		rc = fetch(&keys, f, pos + a * kw, n * kw, err);
	if (rc)
		return rc;
	for (uint64_t i = 0; i < n && !rc; i++) {
		uint64_t k = kw == 1 ? keys[i] : kw == 2 ? lc_le16(keys + 2 * i)
			     : kw == 4 ? lc_le32(keys + 4 * i)
				       : lc_le64(keys + 8 * i);

		if (k >= dv->length)
			rc = LC_CORRUPT(err, "dictionary key %" PRIu64 " of %"
					PRIu64 " values", k, dv->length);
		else if (var)
			total += dv->offsets[k + 1] - dv->offsets[k];
	}
	if (!rc && var && !(out->offsets = lc_malloc(((size_t)n + 1) *
						     sizeof(uint64_t))))
		rc = LC_NOMEM(err);
	if (!rc && !(out->values = lc_malloc(var ? (size_t)total + 1 :
					      (size_t)(n * vw) + 1)))
		rc = LC_NOMEM(err);
	for (uint64_t i = 0, at = 0; !rc && i < n; i++) {
		uint64_t k = kw == 1 ? keys[i] : kw == 2 ? lc_le16(keys + 2 * i)
			     : kw == 4 ? lc_le32(keys + 4 * i)
				       : lc_le64(keys + 8 * i);

		if (var) {
			uint64_t l = dv->offsets[k + 1] - dv->offsets[k];

			out->offsets[i] = at;
			memcpy(out->values + at, dv->values + dv->offsets[k],
			       (size_t)l);
			at += l;
			out->offsets[i + 1] = at;
		} else {
			memcpy(out->values + i * vw, dv->values + k * vw, vw);
		}
	}
	out->values_len = var ? total : n * vw;
	lc_free(keys);
	return rc;
}

/* Bits [a, a + n) of the bitmap at `pos`, as a bitmap of n bits. */
static int bits_piece(uint8_t **out, uint64_t *out_len, struct lance_file *f,
		      uint64_t pos, uint64_t a, uint64_t n,
		      struct lc_err *err)
{
	uint8_t *raw;
	size_t nb = (size_t)((n + 7) / 8);
	int rc = fetch(&raw, f, pos + a / 8, (a + n + 7) / 8 - a / 8, err);

	if (rc)
		return rc;
	*out = lc_calloc(1, nb ? nb : 1);
	if (!*out) {
		lc_free(raw);
		return LC_NOMEM(err);
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t k = (a & 7) + i;

		if ((raw[k >> 3] >> (k & 7)) & 1)
			(*out)[i >> 3] |= (uint8_t)(1u << (i & 7));
	}
	*out_len = nb;
	lc_free(raw);
	return 0;
}

/*
 * Values [a, e) of batch `b`'s page of `field` (rows, or items below a
 * list). `type` is the field's type, or an item type inside a fixed-size
 * list (field NULL).
 */
static int read_piece(struct lance_array *out, struct lance_file *f,
		      const struct lance_field *field,
		      const struct lance_type *type, size_t b, uint64_t a,
		      uint64_t e, bool sizes_only, int depth,
		      struct lc_err *err)
{
	uint64_t pos = 0, len = 0, n = e - a, w = 0;
	int rc;

	out->type = type;
	out->field = field;
	out->length = n;
	if (depth > 32)
		return LC_LIMIT(err, "fields nested deeper than 32");
	if (n > MAX_V1_ROWS)
		return LC_LIMIT(err, "%" PRIu64 " values in one read", n);
	if (type->dict && field)
		return dict_piece(out, f, field, b, a, e, err);
	if (type->id == LANCE_T_NULL) {	/* no data: every value null */
		out->validity = lc_calloc(1, (size_t)(n + 7) / 8 + 1);
		return out->validity ? 0 : LC_NOMEM(err);
	}
	if (type->id == LANCE_T_STRUCT) {
		if (!field)
			return LC_CORRUPT(err, "struct without a field");
		out->children = lc_calloc(field->n_children ?
					  field->n_children : 1,
					  sizeof(*out->children));
		if (!out->children)
			return LC_NOMEM(err);
		out->n_children = field->n_children;
		for (size_t i = 0; i < field->n_children; i++) {
			const struct lance_field *ch = field->children[i];

			rc = read_piece(&out->children[i], f, ch, &ch->type,
					b, a, e, false, depth + 1, err);
			if (rc)
				return rc;
		}
		return 0;
	}
	if (!field)
		return LC_CORRUPT(err, "nested item without a field");
	rc = page_of(&pos, &len, f, field->id, b, err);
	if (rc)
		return rc;
	if (e > len)
		return LC_CORRUPT(err, "field %d batch %zu: values %" PRIu64
				  "..%" PRIu64 " of a %" PRIu64 "-value page",
				  field->id, b, a, e, len);
	switch (type->id) {
	case LANCE_T_UTF8:
	case LANCE_T_BINARY:
		return var_piece(out, f, field, pos, a, e, sizes_only, err);
	case LANCE_T_LIST:
	case LANCE_T_MAP:
		return list_piece(out, f, field, pos, b, a, e, depth, err);
	case LANCE_T_BOOL:
		return bits_piece(&out->values, &out->values_len, f, pos, a, n,
				  err);
	case LANCE_T_FIXED_LIST: {
		const struct lance_type *it = type->item;
		uint64_t d = type->width > 0 ? (uint64_t)type->width : 0;
		bool bits = it && it->id == LANCE_T_BOOL;

		if (!it || !d || (!bits && !lance_type_width(it)))
			return LC_UNSUPPORTED(err, "v1 fixed-size list of a "
					      "type %d item",
					      it ? (int)it->id : -1);
		w = bits ? 1 : lance_type_width(it);
		if (e > LANCE_MAX_VALUE_BYTES / (d * w))
			return LC_LIMIT(err, "fixed-size list of %" PRIu64
					" x %" PRIu64 " items", e, d);
		out->children = lc_calloc(1, sizeof(*out->children));
		if (!out->children)
			return LC_NOMEM(err);
		out->n_children = 1;
		out->children[0].type = it;
		out->children[0].length = n * d;
		if (bits)	/* items in a bitmap */
			return bits_piece(&out->children[0].values,
					  &out->children[0].values_len, f, pos,
					  a * d, n * d, err);
		rc = fetch(&out->children[0].values, f, pos + a * d * w,
			   n * d * w, err);
		if (!rc)
			out->children[0].values_len = n * d * w;
		return rc;
	}
	default:
		w = lance_type_width(type);
		if (!w)
			return LC_UNSUPPORTED(err, "v1 field of type %d",
					      (int)type->id);
		if (e > LANCE_MAX_VALUE_BYTES / w)
			return LC_LIMIT(err, "%" PRIu64 " values", e);
		rc = fetch(&out->values, f, pos + a * w, n * w, err);
		if (!rc)
			out->values_len = n * w;
		return rc;
	}
}

static int read_rows(struct lance_array *out, struct lance_file *f,
		     const struct lance_field *field, uint64_t row,
		     uint64_t n, bool sizes_only, struct lc_err *err)
{
	const struct v1_state *s = f->dec;
	uint64_t end = row + n;
	size_t lo = 0, hi = s->n_batches;
	int rc = 0;

	out->type = &field->type;
	out->field = field;
	if (lance__file_column(f, field->id) == -1 &&
	    field->type.id != LANCE_T_STRUCT) {
		bool listed = false;

		for (size_t i = 0; i < f->n_map; i++)
			listed |= f->map_field[i] == field->id;
		if (!listed)
			return LC_NOTFOUND(err, "field %d (%s) is not in this "
					   "file", field->id, field->name);
	}
	/* first batch with batch[b + 1] > row */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->batch[mid + 1] <= row)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t b = lo; b < s->n_batches && s->batch[b] < end; b++) {
		struct lance_array part = { 0 };
		uint64_t a = row > s->batch[b] ? row - s->batch[b] : 0;
		uint64_t e = (end < s->batch[b + 1] ? end : s->batch[b + 1]) -
			     s->batch[b];

		rc = read_piece(&part, f, field, &field->type, b, a, e,
				sizes_only, 0, err);
		if (!rc)
			rc = lance__array_append(out, &part, err);
		lance_array_reset(&part);
		if (rc) {
			lc_err_prefix(err, "batch %zu: ", b);
			return rc;
		}
	}
	if (n == 0 && !out->offsets &&
	    (field->type.id == LANCE_T_UTF8 ||
	     field->type.id == LANCE_T_BINARY ||
	     field->type.id == LANCE_T_LIST)) {
		out->offsets = lc_calloc(1, sizeof(uint64_t));
		if (!out->offsets)
			return LC_NOMEM(err);
	}
	if (out->length != n)
		return LC_CORRUPT(err, "read %" PRIu64 " rows, wanted %"
				  PRIu64, out->length, n);
	return 0;
}

int lance__v1_read(struct lance_array *out, struct lance_file *f,
		   const struct lance_field *field, uint64_t row, uint64_t n,
		   struct lc_err *err)
{
	return read_rows(out, f, field, row, n, false, err);
}

int lance__v1_sizes(uint64_t *sizes, bool *valid, struct lance_file *f,
		    const struct lance_field *field, uint64_t row, uint64_t n,
		    struct lc_err *err)
{
	struct lance_array a = { 0 };
	int rc;

	if (field->type.id != LANCE_T_UTF8 && field->type.id != LANCE_T_BINARY)
		return lance__sizes_by_decode(sizes, valid, f, field, row, n,
					      err);
	rc = read_rows(&a, f, field, row, n, true, err);
	for (uint64_t i = 0; !rc && i < n; i++) {
		valid[i] = lance_array_is_valid(&a, i);
		sizes[i] = a.offsets[i + 1] - a.offsets[i];
	}
	lance_array_reset(&a);
	return rc;
}

/*
 * A window of one var-binary value: its two absolute offsets, then the
 * window's bytes. Dictionary pages hold keys: those decode.
 */
int lance__v1_window(struct lance_win *w, struct lance_file *f,
		     const struct lance_field *field, uint64_t row,
		     struct lc_err *err)
{
	const struct v1_state *s = f->dec;
	size_t lo = 0, hi = s->n_batches, b;
	uint64_t pos, len, a, *o, size;
	bool listed = false;
	size_t n;
	int rc;

	if (field->type.dict || (field->type.id != LANCE_T_UTF8 &&
				 field->type.id != LANCE_T_BINARY))
		return LANCE_WINDOW_DECODE;
	for (size_t i = 0; i < f->n_map; i++)
		listed |= f->map_field[i] == field->id;
	if (!listed)
		return LANCE_WINDOW_DECODE;
	while (lo < hi) {	/* the batch holding row, as read_rows */
		size_t mid = lo + (hi - lo) / 2;

		if (s->batch[mid + 1] <= row)
			lo = mid + 1;
		else
			hi = mid;
	}
	b = lo;
	if (b >= s->n_batches || s->batch[b] > row)
		return LANCE_WINDOW_DECODE;
	a = row - s->batch[b];
	rc = page_of(&pos, &len, f, field->id, b, err);
	if (!rc && a >= len)
		return LANCE_WINDOW_DECODE;
	if (!rc)
		rc = read_offsets(&o, f, pos, 8, a, a + 1, err);
	if (rc) {
		lc_err_prefix(err, "batch %zu: ", b);
		return rc;
	}
	size = o[1] - o[0];
	if (!lc_range_ok(o[0], size, ostore_size(f->obj)) ||
	    size > LANCE_MAX_VALUE_BYTES) {
		lc_free(o);
		return LANCE_WINDOW_DECODE;
	}
	/* v1 keeps no validity: an empty value of a nullable field is a
	 * null, as var_piece reads it */
	w->valid = !(field->nullable && size == 0);
	w->size = size;
	n = lance__win_clip(w, size);
	rc = n ? lance__file_pread(f, o[0] + w->off, n, w->dst, err) : 0;
	lc_free(o);
	if (rc)
		return rc;
	w->got = n;
	return 0;
}
