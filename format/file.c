/*
 * file.c - opening a data file: the footer, the 2.x column metadata, the
 * field -> column map, and dispatch to the per-version decoders.
 *
 * Both container generations end in u16 major, u16 minor, "LANC":
 *   v1  (major 0, minor 0..2): 16-byte footer, i64 metadata position
 *   2.x (0.3, 2.0, 2.1, 2.2, 2.3): 40-byte footer
 *     u64 column-metadata start, u64 CMO table, u64 GBO table,
 *     u32 global buffers, u32 columns, u16 major, u16 minor, "LANC"
 * (file-format.md sections 2.1 and 6). One tail read normally covers the
 * footer, the offset tables, every ColumnMetadata and global buffer 0.
 */
#include "lance_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "file.pb-c.h"
#include "file2.pb-c.h"

#define TAIL_GUESS (64u << 10)
#define FOOTER2_LEN 40
#define FOOTER1_LEN 16

int lance__file_pread(struct lance_file *f, uint64_t off, size_t len,
		      void *buf, struct lc_err *err)
{
	return ostore_read(f->obj, off, len, buf, err);
}

int lance__file_column(const struct lance_file *f, int32_t field_id)
{
	for (size_t i = 0; i < f->n_map; i++)
		if (f->map_field[i] == field_id)
			return f->map_col[i];
	return -1;
}

const struct lance_page *lance__page_for_row(const struct lance_column *col,
					     uint64_t row, size_t *index)
{
	size_t lo = 0, hi = col->n_pages;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct lance_page *p = &col->pages[mid];

		if (row < p->first_row)
			hi = mid;
		else if (row - p->first_row >= p->length)
			lo = mid + 1;
		else {
			if (index)
				*index = mid;
			return p;
		}
	}
	return NULL;
}

int lance__page_buffer(uint8_t **out, struct lance_file *f,
		       const struct lance_page *p, size_t idx,
		       struct lc_err *err)
{
	uint8_t *buf;
	int rc;

	*out = NULL;
	if (idx >= p->n_buffers)
		return LC_CORRUPT(err, "%s: page has %zu buffers, wanted "
				  "buffer %zu", f->path, p->n_buffers, idx);
	if (p->buf_size[idx] > LANCE_MAX_VALUE_BYTES)
		return LC_LIMIT(err, "%s: page buffer of %" PRIu64 " bytes",
				f->path, p->buf_size[idx]);
	buf = lc_malloc((size_t)p->buf_size[idx]);
	if (!buf)
		return LC_NOMEM(err);
	rc = lance__file_pread(f, p->buf_off[idx], (size_t)p->buf_size[idx],
			       buf, err);
	if (rc) {
		lc_free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

/* Unwrap Encoding{direct{Any}} into a type_url and value bytes; the
 * pointers stay owned by the unpacked ColumnMetadata. */
static int unwrap_encoding(const char **url, const uint8_t **val,
			   size_t *len, Lpb__Encoding *enc, void **any_out,
			   const char *what, struct lc_err *err)
{
	Lpb__AnyMessage *any;
	int rc;

	*url = "";
	*val = NULL;
	*len = 0;
	*any_out = NULL;
	if (!enc)
		return 0;
	if (enc->location_case != LPB__ENCODING__LOCATION_DIRECT)
		return LC_UNSUPPORTED(err, "%s: only direct encodings are "
				      "supported (got case %d)", what,
				      (int)enc->location_case);
	rc = lance__pb_check(enc->direct->encoding.data,
			     enc->direct->encoding.len, LANCE_PB_MAX_DEPTH,
			     what, err);
	if (rc)
		return rc;
	any = lpb__any_message__unpack(NULL, enc->direct->encoding.len,
				       enc->direct->encoding.data);
	if (!any)
		return LC_CORRUPT(err, "%s: bad encoding Any", what);
	*url = any->type_url;
	*val = any->value.data;
	*len = any->value.len;
	*any_out = any;
	return 0;
}

/* Owned Any messages, freed with the file. */
struct any_list {
	void **items;
	size_t n, cap;
};

static int any_keep(struct any_list *l, void *any, struct lc_err *err)
{
	if (!any)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void **p = lc_realloc(l->items, cap * sizeof(*p));

		if (!p) {
			lpb__any_message__free_unpacked(any, NULL);
			return LC_NOMEM(err);
		}
		l->items = p;
		l->cap = cap;
	}
	l->items[l->n++] = any;
	return 0;
}

struct v2_state {
	struct any_list anys;
};

static int parse_columns(struct lance_file *f, const uint8_t *region,
			 uint64_t region_off, uint64_t cmo_off,
			 struct any_list *anys, struct lc_err *err)
{
	int rc;

	f->cols = lc_calloc(f->n_cols, sizeof(*f->cols));
	if (!f->cols)
		return LC_NOMEM(err);
	for (uint32_t c = 0; c < f->n_cols; c++) {
		const uint8_t *e = region + (cmo_off - region_off) + 16 * c;
		uint64_t pos = lc_le64(e), size = lc_le64(e + 8);
		struct lance_column *col = &f->cols[c];
		Lpb__ColumnMetadata *cm;
		char what[64];
		void *any;
		uint64_t row = 0;

		snprintf(what, sizeof(what), "column %u metadata", c);
		if (pos < region_off || pos - region_off > cmo_off - region_off ||
		    size > cmo_off - pos)
			return LC_CORRUPT(err, "%s: column %u metadata at %"
					  PRIu64 "+%" PRIu64 " is outside the "
					  "metadata region", f->path, c, pos,
					  size);
		rc = lance__pb_check(region + (pos - region_off), (size_t)size,
				     LANCE_PB_MAX_DEPTH, what, err);
		if (rc)
			return rc;
		cm = lpb__column_metadata__unpack(NULL, (size_t)size,
						  region + (pos - region_off));
		if (!cm)
			return LC_CORRUPT(err, "%s: column %u metadata does "
					  "not parse", f->path, c);
		col->meta = cm;
		rc = unwrap_encoding(&col->type_url, &col->enc, &col->enc_len,
				     cm->encoding, &any, what, err);
		if (!rc)
			rc = any_keep(anys, any, err);
		if (rc)
			return rc;
		col->pages = lc_calloc(cm->n_pages, sizeof(*col->pages));
		if (!col->pages)
			return LC_NOMEM(err);
		col->n_pages = cm->n_pages;
		for (size_t i = 0; i < cm->n_pages; i++) {
			Lpb__ColumnMetadata__Page *pg = cm->pages[i];
			struct lance_page *p = &col->pages[i];

			if (pg->n_buffer_offsets != pg->n_buffer_sizes)
				return LC_CORRUPT(err, "%s: column %u page %zu"
						  ": %zu buffer offsets but %zu"
						  " sizes", f->path, c, i,
						  pg->n_buffer_offsets,
						  pg->n_buffer_sizes);
			for (size_t b = 0; b < pg->n_buffer_offsets; b++)
				if (!lc_range_ok(pg->buffer_offsets[b],
						 pg->buffer_sizes[b],
						 f->obj->size))
					return LC_CORRUPT(err, "%s: column %u "
						"page %zu buffer %zu (%" PRIu64
						"+%" PRIu64 ") is past the end"
						" of the file", f->path, c, i,
						b, pg->buffer_offsets[b],
						pg->buffer_sizes[b]);
			p->n_buffers = pg->n_buffer_offsets;
			p->buf_off = pg->buffer_offsets;
			p->buf_size = pg->buffer_sizes;
			p->length = pg->length;
			p->first_row = row;
			if (pg->length > UINT64_MAX - row)
				return LC_CORRUPT(err, "%s: column %u page "
						  "lengths overflow", f->path,
						  c);
			row += pg->length;
			snprintf(what, sizeof(what), "column %u page %zu", c,
				 i);
			rc = unwrap_encoding(&p->type_url, &p->enc,
					     &p->enc_len, pg->encoding, &any,
					     what, err);
			if (!rc)
				rc = any_keep(anys, any, err);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int open_v2(struct lance_file *f, const uint8_t *tail,
		   uint64_t tail_off, struct lc_err *err)
{
	uint64_t size = f->obj->size, end = size - FOOTER2_LEN;
	const uint8_t *ft = tail + (end - tail_off);
	uint64_t cm_start = lc_le64(ft), cmo = lc_le64(ft + 8);
	uint64_t gbo = lc_le64(ft + 16), lo, gb0_pos, gb0_size;
	uint32_t n_gbufs = lc_le32(ft + 24);
	uint8_t *region = NULL;
	const uint8_t *base;
	struct v2_state *vs;
	Lpb__FileDescriptor *fd;
	int rc;

	f->n_cols = lc_le32(ft + 28);
	if (cm_start > end || cmo > end || gbo > end ||
	    f->n_cols > (end - cmo) / 16 || n_gbufs < 1 ||
	    n_gbufs > (end - gbo) / 16 || cm_start > cmo)
		return LC_CORRUPT(err, "%s: footer offsets (%" PRIu64 ", %"
				  PRIu64 ", %" PRIu64 ", %u columns, %u "
				  "global buffers) do not fit a %" PRIu64
				  "-byte file", f->path, cm_start, cmo, gbo,
				  f->n_cols, n_gbufs, size);
	/* Where the metadata region starts: the lowest of the column
	 * metadata and the tables. */
	lo = cm_start;
	if (gbo < lo)
		lo = gbo;
	if (end - lo > LANCE_MAX_META_BYTES)
		return LC_LIMIT(err, "%s: %" PRIu64 " bytes of metadata",
				f->path, end - lo);
	if (lo >= tail_off) {
		base = tail + (lo - tail_off);
	} else {
		region = lc_malloc((size_t)(end - lo));
		if (!region)
			return LC_NOMEM(err);
		rc = lance__file_pread(f, lo, (size_t)(end - lo), region,
				       err);
		if (rc)
			goto out;
		base = region;
	}
	/* Global buffer 0: the FileDescriptor, for the row count. */
	gb0_pos = lc_le64(base + (gbo - lo));
	gb0_size = lc_le64(base + (gbo - lo) + 8);
	if (!lc_range_ok(gb0_pos, gb0_size, size) ||
	    gb0_size > LANCE_MAX_META_BYTES) {
		rc = LC_CORRUPT(err, "%s: global buffer 0 at %" PRIu64 "+%"
				PRIu64 " is outside the file", f->path,
				gb0_pos, gb0_size);
		goto out;
	}
	{
		uint8_t *gb = NULL;
		const uint8_t *gp;

		if (gb0_pos >= lo && gb0_size <= end - gb0_pos) {
			gp = base + (gb0_pos - lo);
		} else {
			gb = lc_malloc((size_t)gb0_size);
			if (!gb) {
				rc = LC_NOMEM(err);
				goto out;
			}
			rc = lance__file_pread(f, gb0_pos, (size_t)gb0_size,
					       gb, err);
			if (rc) {
				lc_free(gb);
				goto out;
			}
			gp = gb;
		}
		rc = lance__pb_check(gp, (size_t)gb0_size, LANCE_PB_MAX_DEPTH,
				     "file descriptor", err);
		fd = rc ? NULL : lpb__file_descriptor__unpack(
					 NULL, (size_t)gb0_size, gp);
		lc_free(gb);
		if (rc)
			goto out;
		if (!fd) {
			rc = LC_CORRUPT(err, "%s: file descriptor does not "
					"parse", f->path);
			goto out;
		}
		f->rows = fd->length;
		lpb__file_descriptor__free_unpacked(fd, NULL);
	}
	vs = lc_calloc(1, sizeof(*vs));
	if (!vs) {
		rc = LC_NOMEM(err);
		goto out;
	}
	f->container = vs;
	rc = parse_columns(f, base, lo, cmo, &vs->anys, err);
out:
	lc_free(region);
	return rc;
}

static void free_v2(struct lance_file *f)
{
	struct v2_state *vs = f->container;

	for (uint32_t c = 0; f->cols && c < f->n_cols; c++) {
		lc_free(f->cols[c].pages);
		if (f->cols[c].meta)
			lpb__column_metadata__free_unpacked(f->cols[c].meta,
							    NULL);
	}
	lc_free(f->cols);
	if (vs) {
		for (size_t i = 0; i < vs->anys.n; i++)
			lpb__any_message__free_unpacked(vs->anys.items[i],
							NULL);
		lc_free(vs->anys.items);
		lc_free(vs);
	}
}

static int build_map(struct lance_file *f, const struct lance_data_file *df,
		     struct lc_err *err)
{
	f->map_field = lc_calloc(df->n_fields, sizeof(int32_t));
	f->map_col = lc_calloc(df->n_fields, sizeof(int32_t));
	if (!f->map_field || !f->map_col)
		return LC_NOMEM(err);
	for (size_t i = 0; i < df->n_fields; i++) {
		int32_t col = -1;

		if (df->fields[i] < 0)
			continue;	/* tombstoned or unassigned ids */
		if (f->kind != LANCE_FILE_V1) {
			if (df->n_column_indices != df->n_fields)
				return LC_CORRUPT(err, "%s: %zu fields but %zu"
						  " column indices", f->path,
						  df->n_fields,
						  df->n_column_indices);
			col = df->column_indices[i];
			if (col >= 0 && (uint32_t)col >= f->n_cols)
				return LC_CORRUPT(err, "%s: field %d in "
						  "column %d, file has %u",
						  f->path, df->fields[i], col,
						  f->n_cols);
		}
		f->map_field[f->n_map] = df->fields[i];
		f->map_col[f->n_map] = col;
		f->n_map++;
	}
	return 0;
}

int lance_file_open(struct lance_file **out, struct ostore *st,
		    const struct lance_data_file *df,
		    const struct lance_schema *schema, struct lc_err *err)
{
	struct lance_file *f;
	uint64_t size, tail_off;
	uint8_t *tail = NULL;
	size_t tail_len;
	int rc;

	*out = NULL;
	f = lc_calloc(1, sizeof(*f));
	if (!f)
		return LC_NOMEM(err);
	pthread_mutex_init(&f->mu, NULL);
	f->st = st;
	f->schema = schema;
	f->path = lc_strdup(df->path);
	if (!f->path) {
		rc = LC_NOMEM(err);
		goto fail;
	}
	rc = ostore_open(&f->obj, st, df->path, err);
	if (rc)
		goto fail;
	size = f->obj->size;
	if (df->size && df->size != size) {
		rc = LC_CORRUPT(err, "%s: %" PRIu64 " bytes, the manifest "
				"says %" PRIu64, f->path, size, df->size);
		goto fail;
	}
	if (size < FOOTER1_LEN) {
		rc = LC_CORRUPT(err, "%s: %" PRIu64 " bytes is too short for "
				"a Lance file", f->path, size);
		goto fail;
	}
	tail_len = size < TAIL_GUESS ? (size_t)size : TAIL_GUESS;
	tail_off = size - tail_len;
	tail = lc_malloc(tail_len);
	if (!tail) {
		rc = LC_NOMEM(err);
		goto fail;
	}
	rc = lance__file_pread(f, tail_off, tail_len, tail, err);
	if (rc)
		goto fail;
	if (memcmp(tail + tail_len - 4, "LANC", 4)) {
		rc = LC_CORRUPT(err, "%s: no LANC magic at the end (found "
				"%02x%02x%02x%02x)", f->path,
				tail[tail_len - 4], tail[tail_len - 3],
				tail[tail_len - 2], tail[tail_len - 1]);
		goto fail;
	}
	f->major = lc_le16(tail + tail_len - 8);
	f->minor = lc_le16(tail + tail_len - 6);
	if (f->major == 0 && f->minor <= 2)
		f->kind = LANCE_FILE_V1;
	else if ((f->major == 0 && f->minor == 3) ||
		 (f->major == 2 && f->minor == 0))
		f->kind = LANCE_FILE_V20;
	else if (f->major == 2 && f->minor >= 1 && f->minor <= 3)
		f->kind = LANCE_FILE_V21;
	else {
		rc = LC_UNSUPPORTED(err, "%s: data file version %u.%u is not "
				    "supported", f->path, f->major, f->minor);
		goto fail;
	}
	if (f->kind != LANCE_FILE_V1 && size < FOOTER2_LEN) {
		rc = LC_CORRUPT(err, "%s: %" PRIu64 " bytes is too short for "
				"a Lance 2.x file", f->path, size);
		goto fail;
	}
	if (f->kind == LANCE_FILE_V1) {
		rc = build_map(f, df, err);
		if (!rc)
			rc = lance__v1_open(f, tail, tail_len, err);
	} else {
		rc = open_v2(f, tail, tail_off, err);
		if (!rc)
			rc = build_map(f, df, err);
	}
	if (rc)
		goto fail;
	lc_free(tail);
	*out = f;
	return 0;
fail:
	lc_free(tail);
	lance_file_free(f);
	return rc;
}

void lance_file_free(struct lance_file *f)
{
	if (!f)
		return;
	if (f->dec_free)
		f->dec_free(f);
	if (f->kind != LANCE_FILE_V1)
		free_v2(f);
	ostore_close(f->obj);
	lc_free(f->map_field);
	lc_free(f->map_col);
	lc_free(f->path);
	pthread_mutex_destroy(&f->mu);
	lc_free(f);
}

uint64_t lance_file_rows(const struct lance_file *f)
{
	return f->rows;
}

void lance_file_version(const struct lance_file *f, uint16_t *major,
			uint16_t *minor)
{
	*major = f->major;
	*minor = f->minor;
}

static int check_rows(struct lance_file *f, uint64_t row, uint64_t n,
		      struct lc_err *err)
{
	if (!lc_range_ok(row, n, f->rows))
		return LC_CORRUPT(err, "%s: rows %" PRIu64 "..%" PRIu64
				  " asked of a %" PRIu64 "-row file", f->path,
				  row, row + n, f->rows);
	return 0;
}

int lance_file_read(struct lance_array *out, struct lance_file *f,
		    const struct lance_field *field, uint64_t row, uint64_t n,
		    struct lc_err *err)
{
	int rc = check_rows(f, row, n, err);

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	switch (f->kind) {
	case LANCE_FILE_V1:
		rc = lance__v1_read(out, f, field, row, n, err);
		break;
	case LANCE_FILE_V20:
		rc = lance__v20_read(out, f, field, row, n, err);
		break;
	default:
		rc = lance__v21_read(out, f, field, row, n, err);
		break;
	}
	if (rc) {
		lance_array_reset(out);
		lc_err_prefix(err, "%s: field %s: ", f->path, field->name);
	}
	return rc;
}

int lance_file_value_sizes(uint64_t *sizes, bool *valid, struct lance_file *f,
			   const struct lance_field *field, uint64_t row,
			   uint64_t n, struct lc_err *err)
{
	int rc = check_rows(f, row, n, err);

	if (rc)
		return rc;
	switch (f->kind) {
	case LANCE_FILE_V1:
		rc = lance__v1_sizes(sizes, valid, f, field, row, n, err);
		break;
	case LANCE_FILE_V20:
		rc = lance__v20_sizes(sizes, valid, f, field, row, n, err);
		break;
	default:
		rc = lance__v21_sizes(sizes, valid, f, field, row, n, err);
		break;
	}
	if (rc)
		lc_err_prefix(err, "%s: field %s: ", f->path, field->name);
	return rc;
}

int lance_file_read_window(uint8_t *dst, size_t *got, bool *valid,
			   uint64_t *size, struct lance_file *f,
			   const struct lance_field *field, uint64_t row,
			   uint64_t off, size_t len, struct lc_err *err)
{
	struct lance_win w = { dst, off, len, 0, false, 0 };
	int rc;

	*got = 0;
	*valid = false;
	*size = 0;
	if (len && !dst)
		return LC_USAGE(err, "a window of %zu bytes with nowhere to "
				"put them", len);
	rc = check_rows(f, row, 1, err);
	if (rc)
		return rc;
	/* Nested fields carry their parents' validity and offsets: those
	 * are for the full decoders. */
	if (field->parent || (field->blob == LANCE_BLOB_NONE &&
			      field->type.id != LANCE_T_BINARY &&
			      field->type.id != LANCE_T_UTF8))
		return LANCE_WINDOW_DECODE;
	switch (f->kind) {
	case LANCE_FILE_V1:
		rc = lance__v1_window(&w, f, field, row, err);
		break;
	case LANCE_FILE_V20:
		rc = lance__v20_window(&w, f, field, row, err);
		break;
	default:
		rc = lance__v21_window(&w, f, field, row, err);
		break;
	}
	if (rc > 0)
		lc_err_prefix(err, "%s: field %s: ", f->path, field->name);
	if (rc)
		return rc;
	*got = w.got;
	*valid = w.valid;
	*size = w.valid ? w.size : 0;
	return 0;
}

int lance__sizes_by_decode(uint64_t *sizes, bool *valid,
			   struct lance_file *f,
			   const struct lance_field *field, uint64_t row,
			   uint64_t n, struct lc_err *err)
{
	struct lance_array a;
	int rc = lance_file_read(&a, f, field, row, n, err);

	if (rc)
		return rc;
	if (!a.offsets || a.length != n) {
		lance_array_reset(&a);
		return LC_UNSUPPORTED(err, "%s: field %s has no variable-width"
				      " values to size", f->path,
				      field->name);
	}
	for (uint64_t i = 0; i < n; i++) {
		valid[i] = lance_array_is_valid(&a, i);
		sizes[i] = a.offsets[i + 1] - a.offsets[i];
	}
	lance_array_reset(&a);
	return 0;
}
