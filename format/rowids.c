/*
 * rowids.c - stable row id sequences (table-format.md section 5).
 *
 * A RowIdSequence lists a fragment's row ids, one per physical row in file
 * order, as segments: Range, RangeWithHoles, RangeWithBitmap (bit i % 8 of
 * byte i / 8 set = start + i present: LSB first, whatever the proto
 * comments say), SortedArray and Array (u16/u32 deltas from an origin, or
 * raw u64). We never trust a count: a first pass sums what the segments
 * hold and must equal the fragment's row count before anything is
 * expanded, and the snapshot consumes runs (id, length) rather than one
 * entry per row, so memory follows the encoded size.
 *
 * A RowVersionSequence (the version each row was created or last
 * updated at) is runs of one version over a span: a segment whose count
 * is the run's length in rows.
 */
#include "lance_int.h"

#include "rowids.pb-c.h"

/* Ids lance_rowids_parse expands at once. */
#define MAX_EXPAND (1u << 27)

/* A decoded EncodedU64Array view. */
struct u64_view {
	const uint8_t *p;
	uint64_t n;
	unsigned width;		/* 2, 4 or 8 bytes per value */
	uint64_t origin;
};

static int view_of(struct u64_view *v, const Lpb__EncodedU64Array *a,
		   const char *what, struct lc_err *err)
{
	const ProtobufCBinaryData *b;

	memset(v, 0, sizeof(*v));
	if (!a)
		return LC_CORRUPT(err, "row ids: %s without values", what);
	switch (a->array_case) {
	case LPB__ENCODED_U64_ARRAY__ARRAY_U16_ARRAY:
		b = &a->u16_array->offsets;
		v->width = 2;
		v->origin = a->u16_array->origin;
		break;
	case LPB__ENCODED_U64_ARRAY__ARRAY_U32_ARRAY:
		b = &a->u32_array->offsets;
		v->width = 4;
		v->origin = a->u32_array->origin;
		break;
	case LPB__ENCODED_U64_ARRAY__ARRAY_U64_ARRAY:
		b = &a->u64_array->values;
		v->width = 8;
		break;
	default:
		return LC_CORRUPT(err, "row ids: %s has no known encoding",
				  what);
	}
	if (b->len % v->width)
		return LC_CORRUPT(err, "row ids: %s holds %zu bytes, not a "
				  "multiple of %u", what, b->len, v->width);
	v->p = b->data;
	v->n = b->len / v->width;
	if (v->width < 8 && v->n &&
	    v->origin > UINT64_MAX - ((uint64_t)1 << (8 * v->width)))
		return LC_CORRUPT(err, "row ids: %s origin %" PRIu64
				  " overflows", what, v->origin);
	return 0;
}

static uint64_t view_at(const struct u64_view *v, uint64_t i)
{
	const uint8_t *p = v->p + i * v->width;

	switch (v->width) {
	case 2:
		return v->origin + lc_le16(p);
	case 4:
		return v->origin + lc_le32(p);
	default:
		return lc_le64(p);
	}
}

/* Coalesces consecutive ids into runs before calling back. */
struct emitter {
	lance__run_cb cb;
	void *ctx;
	uint64_t start, len;
};

static int emit(struct emitter *e, uint64_t id, uint64_t len,
		struct lc_err *err)
{
	int rc;

	if (!len)
		return 0;
	if (e->len && e->start + e->len == id && e->start <= id) {
		e->len += len;
		return 0;
	}
	if (e->len) {
		rc = e->cb(e->ctx, e->start, e->len, err);
		if (rc)
			return rc;
	}
	e->start = id;
	e->len = len;
	return 0;
}

static int emit_flush(struct emitter *e, struct lc_err *err)
{
	int rc = 0;

	if (e->len)
		rc = e->cb(e->ctx, e->start, e->len, err);
	e->len = 0;
	return rc;
}

/* Ids a segment holds; walks it when `e` is set. */
static int segment(uint64_t *count, const Lpb__U64Segment *s,
		   struct emitter *e, struct lc_err *err)
{
	struct u64_view v;
	int rc;

	*count = 0;
	switch (s->segment_case) {
	case LPB__U64_SEGMENT__SEGMENT_RANGE: {
		const Lpb__U64Segment__Range *r = s->range;

		if (r->end < r->start)
			return LC_CORRUPT(err, "row ids: range %" PRIu64 "..%"
					  PRIu64 " ends before it starts",
					  r->start, r->end);
		*count = r->end - r->start;
		return e ? emit(e, r->start, *count, err) : 0;
	}
	case LPB__U64_SEGMENT__SEGMENT_RANGE_WITH_HOLES: {
		const Lpb__U64Segment__RangeWithHoles *r =
			s->range_with_holes;
		uint64_t next;

		if (r->end < r->start)
			return LC_CORRUPT(err, "row ids: range %" PRIu64 "..%"
					  PRIu64 " ends before it starts",
					  r->start, r->end);
		rc = view_of(&v, r->holes, "range holes", err);
		if (rc)
			return rc;
		next = r->start;
		for (uint64_t i = 0; i < v.n; i++) {
			uint64_t h = view_at(&v, i);

			if (h < next || h >= r->end)
				return LC_CORRUPT(err, "row ids: hole %" PRIu64
						  " is unsorted or outside %"
						  PRIu64 "..%" PRIu64, h,
						  r->start, r->end);
			if (e) {
				rc = emit(e, next, h - next, err);
				if (rc)
					return rc;
			}
			next = h + 1;
		}
		*count = r->end - r->start - v.n;
		return e ? emit(e, next, r->end - next, err) : 0;
	}
	case LPB__U64_SEGMENT__SEGMENT_RANGE_WITH_BITMAP: {
		const Lpb__U64Segment__RangeWithBitmap *r =
			s->range_with_bitmap;
		uint64_t span;
		const uint8_t *bm = r->bitmap.data;

		if (r->end < r->start)
			return LC_CORRUPT(err, "row ids: range %" PRIu64 "..%"
					  PRIu64 " ends before it starts",
					  r->start, r->end);
		span = r->end - r->start;
		if (r->bitmap.len != span / 8 + (span % 8 != 0))
			return LC_CORRUPT(err, "row ids: a bitmap of %zu bytes"
					  " for a range of %" PRIu64,
					  r->bitmap.len, span);
		for (uint64_t i = 0; i < span; i++) {
			if (!(bm[i >> 3] >> (i & 7) & 1))
				continue;
			(*count)++;
			if (e) {
				rc = emit(e, r->start + i, 1, err);
				if (rc)
					return rc;
			}
		}
		return 0;
	}
	case LPB__U64_SEGMENT__SEGMENT_SORTED_ARRAY:
	case LPB__U64_SEGMENT__SEGMENT_ARRAY:
		rc = view_of(&v, s->segment_case ==
				 LPB__U64_SEGMENT__SEGMENT_ARRAY ?
				 s->array : s->sorted_array, "array", err);
		if (rc)
			return rc;
		*count = v.n;
		for (uint64_t i = 0; e && i < v.n; i++) {
			rc = emit(e, view_at(&v, i), 1, err);
			if (rc)
				return rc;
		}
		return 0;
	default:
		return LC_CORRUPT(err, "row ids: a segment of unknown kind");
	}
}

int lance__rowids_runs(const uint8_t *buf, size_t len, uint64_t n,
		       lance__run_cb cb, void *ctx, struct lc_err *err)
{
	Lpb__RowIdSequence *seq;
	struct emitter e = { cb, ctx, 0, 0 };
	uint64_t total = 0, c;
	int rc;

	rc = lance__pb_check(buf, len, LANCE_PB_MAX_DEPTH, "row ids", err);
	if (rc)
		return rc;
	seq = lpb__row_id_sequence__unpack(NULL, len, buf);
	if (!seq)
		return LC_CORRUPT(err, "row ids: the sequence does not parse");
	for (size_t i = 0; i < seq->n_segments; i++) {
		rc = segment(&c, seq->segments[i], NULL, err);
		if (rc)
			goto out;
		if (c > UINT64_MAX - total) {
			rc = LC_CORRUPT(err, "row ids: the count overflows");
			goto out;
		}
		total += c;
	}
	if (total != n) {
		rc = LC_CORRUPT(err, "row ids: the sequence holds %" PRIu64
				" ids for %" PRIu64 " rows", total, n);
		goto out;
	}
	for (size_t i = 0; i < seq->n_segments && !rc; i++)
		rc = segment(&c, seq->segments[i], &e, err);
	if (!rc)
		rc = emit_flush(&e, err);
out:
	lpb__row_id_sequence__free_unpacked(seq, NULL);
	return rc;
}

struct expand {
	uint64_t *ids;
	uint64_t n, want;
};

/* Allocates on the first run: runs come only once the counting pass
 * has matched `want`, so a hostile count never reaches lc_calloc. */
static int expand_run(void *ctx, uint64_t id, uint64_t len,
		      struct lc_err *err)
{
	struct expand *x = ctx;

	if (!x->ids) {
		x->ids = lc_calloc((size_t)x->want, sizeof(uint64_t));
		if (!x->ids)
			return LC_NOMEM(err);
	}
	if (len > x->want - x->n)
		return LC_CORRUPT(err, "row ids: more ids than counted");
	for (uint64_t i = 0; i < len; i++)
		x->ids[x->n++] = id + i;
	return 0;
}

int lance_rowids_parse(uint64_t **out, uint64_t n, const uint8_t *buf,
		       size_t len, struct lc_err *err)
{
	struct expand x = { NULL, 0, n };
	int rc;

	*out = NULL;
	if (n > MAX_EXPAND)
		return LC_LIMIT(err, "row ids: %" PRIu64 " ids, more than %u",
				n, MAX_EXPAND);
	rc = lance__rowids_runs(buf, len, n, expand_run, &x, err);
	if (!rc && !x.ids) {
		x.ids = lc_calloc(1, sizeof(uint64_t));
		if (!x.ids)
			rc = LC_NOMEM(err);
	}
	if (rc) {
		lc_free(x.ids);
		return rc;
	}
	*out = x.ids;
	return 0;
}

int lance__row_versions_runs(const uint8_t *buf, size_t len, uint64_t n,
			     lance__run_cb cb, void *ctx, struct lc_err *err)
{
	Lpb__RowVersionSequence *seq;
	uint64_t total = 0, c;
	int rc;

	rc = lance__pb_check(buf, len, LANCE_PB_MAX_DEPTH, "row versions",
			     err);
	if (rc)
		return rc;
	seq = lpb__row_version_sequence__unpack(NULL, len, buf);
	if (!seq)
		return LC_CORRUPT(err, "row versions: the sequence does not "
				  "parse");
	for (size_t i = 0; i < seq->n_runs && !rc; i++) {
		if (!seq->runs[i]->span)
			rc = LC_CORRUPT(err, "row versions: a run without a "
					"span");
		else if (!(rc = segment(&c, seq->runs[i]->span, NULL, err)) &&
			 c > n - total)
			rc = LC_CORRUPT(err, "row versions: the runs hold more "
					"than %" PRIu64 " rows", n);
		else if (!rc)
			total += c;
	}
	if (!rc && total != n)
		rc = LC_CORRUPT(err, "row versions: the runs hold %" PRIu64
				" rows for %" PRIu64, total, n);
	for (size_t i = 0; i < seq->n_runs && !rc; i++) {
		(void)segment(&c, seq->runs[i]->span, NULL, err);
		if (c)
			rc = cb(ctx, seq->runs[i]->version, c, err);
	}
	lpb__row_version_sequence__free_unpacked(seq, NULL);
	return rc;
}
