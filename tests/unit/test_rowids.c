/* test_rowids.c - RowIdSequence expansion: LanceDB's sequences after an
 * update and a compaction, every segment kind, and hostile counts; and
 * RowVersionSequence expansion. */
#include "harness.h"
#include "lance_int.h"
#include "fixture.h"

#include "rowids.pb-c.h"

#define STABLE8 \
	"lancedb/stable.lance/_versions/18446744073709551607.manifest"

TEST(lancedb_sequences)
{
	static const uint64_t want[] = { 0, 1, 2, 4, 6, 8, 9, 10, 11, 12, 13,
					 14, 15, 16, 17, 18, 19, 5 };
	struct lc_err err = { 0 };
	struct lance_manifest *m = NULL;
	uint64_t *ids;
	size_t len;
	uint8_t *buf = fixture_read(STABLE8, &len);

	CHECK(buf);
	CHECK_OK(lance_manifest_parse(&m, buf, len, &err), &err);
	free(buf);
	/* Compacted fragment: range_with_bitmap{0..10, d7 03 minus...},
	 * range{10..20}, range{5..6} (the updated row kept its id). */
	CHECK_OK(lance_rowids_parse(&ids, 18, m->fragments[0].row_ids,
				    m->fragments[0].row_ids_len, &err), &err);
	for (size_t i = 0; i < 18; i++)
		CHECK_EQ_U64(ids[i], want[i]);
	free(ids);
	CHECK(lance_rowids_parse(&ids, 17, m->fragments[0].row_ids,
				 m->fragments[0].row_ids_len, &err) == EIO);
	CHECK(strstr(err.msg, "holds 18 ids for 17 rows") != NULL);
	lc_err_clear(&err);
	CHECK_OK(lance_rowids_parse(&ids, 3, m->fragments[1].row_ids,
				    m->fragments[1].row_ids_len, &err), &err);
	CHECK_EQ_U64(ids[0], 20);
	CHECK_EQ_U64(ids[2], 22);
	free(ids);
	lance_manifest_free(m);
}

/* Serialize a sequence of the given segments. */
static uint8_t *pack(Lpb__U64Segment **segs, size_t n, size_t *len)
{
	Lpb__RowIdSequence seq;
	uint8_t *buf;

	lpb__row_id_sequence__init(&seq);
	seq.n_segments = n;
	seq.segments = segs;
	*len = lpb__row_id_sequence__get_packed_size(&seq);
	buf = malloc(*len ? *len : 1);
	lpb__row_id_sequence__pack(&seq, buf);
	return buf;
}

static int expand(uint64_t **ids, uint64_t n, Lpb__U64Segment **segs,
		  size_t ns, struct lc_err *err)
{
	size_t len;
	uint8_t *buf = pack(segs, ns, &len);
	int rc;

	lc_err_clear(err);
	rc = lance_rowids_parse(ids, n, buf, len, err);
	free(buf);
	return rc;
}

TEST(every_segment_kind)
{
	Lpb__U64Segment s[5], *sp[5];
	Lpb__U64Segment__RangeWithHoles rh;
	Lpb__U64Segment__RangeWithBitmap rb;
	Lpb__EncodedU64Array holes, sorted, arr;
	Lpb__EncodedU64Array__U16Array u16;
	Lpb__EncodedU64Array__U32Array u32;
	Lpb__EncodedU64Array__U64Array u64;
	uint8_t hole_bytes[4], u32_bytes[8], u64_bytes[16];
	uint8_t bits[2] = { 0xd7, 0x03 };	/* 0..10 minus {3, 5} */
	struct lc_err err = { 0 };
	uint64_t *ids;
	static const uint64_t want[] = {
		100, 101, 103, 105,		/* 100..106 minus 102, 104 */
		0, 1, 2, 4, 6, 7, 8, 9,		/* bitmap */
		1000, 1070000,			/* sorted u32 */
		UINT64_MAX - 1, 42,		/* u64 array */
	};

	for (int i = 0; i < 5; i++) {
		lpb__u64_segment__init(&s[i]);
		sp[i] = &s[i];
	}
	lpb__u64_segment__range_with_holes__init(&rh);
	lpb__u64_segment__range_with_bitmap__init(&rb);
	lpb__encoded_u64_array__init(&holes);
	lpb__encoded_u64_array__init(&sorted);
	lpb__encoded_u64_array__init(&arr);
	lpb__encoded_u64_array__u16_array__init(&u16);
	lpb__encoded_u64_array__u32_array__init(&u32);
	lpb__encoded_u64_array__u64_array__init(&u64);

	u16.origin = 100;
	lc_put_le16(hole_bytes, 2);
	lc_put_le16(hole_bytes + 2, 4);
	u16.offsets.data = hole_bytes;
	u16.offsets.len = 4;
	holes.array_case = LPB__ENCODED_U64_ARRAY__ARRAY_U16_ARRAY;
	holes.u16_array = &u16;
	rh.start = 100;
	rh.end = 106;
	rh.holes = &holes;
	s[0].segment_case = LPB__U64_SEGMENT__SEGMENT_RANGE_WITH_HOLES;
	s[0].range_with_holes = &rh;

	rb.start = 0;
	rb.end = 10;
	rb.bitmap.data = bits;
	rb.bitmap.len = 2;
	s[1].segment_case = LPB__U64_SEGMENT__SEGMENT_RANGE_WITH_BITMAP;
	s[1].range_with_bitmap = &rb;

	u32.origin = 1000;
	lc_put_le32(u32_bytes, 0);
	lc_put_le32(u32_bytes + 4, 1069000);
	u32.offsets.data = u32_bytes;
	u32.offsets.len = 8;
	sorted.array_case = LPB__ENCODED_U64_ARRAY__ARRAY_U32_ARRAY;
	sorted.u32_array = &u32;
	s[2].segment_case = LPB__U64_SEGMENT__SEGMENT_SORTED_ARRAY;
	s[2].sorted_array = &sorted;

	lc_put_le64(u64_bytes, UINT64_MAX - 1);
	lc_put_le64(u64_bytes + 8, 42);
	u64.values.data = u64_bytes;
	u64.values.len = 16;
	arr.array_case = LPB__ENCODED_U64_ARRAY__ARRAY_U64_ARRAY;
	arr.u64_array = &u64;
	s[3].segment_case = LPB__U64_SEGMENT__SEGMENT_ARRAY;
	s[3].array = &arr;

	CHECK_OK(expand(&ids, 16, sp, 4, &err), &err);
	for (size_t i = 0; i < 16; i++)
		CHECK_EQ_U64(ids[i], want[i]);
	free(ids);

	/* An empty sequence holds 0 ids. */
	CHECK_OK(expand(&ids, 0, sp, 0, &err), &err);
	free(ids);

	/* Hostile variants. */
	CHECK(expand(&ids, 16, sp, 5, &err) == EIO);	/* empty segment */
	CHECK(strstr(err.msg, "unknown kind") != NULL);
	rb.bitmap.len = 1;
	CHECK(expand(&ids, 16, sp, 4, &err) == EIO);
	CHECK(strstr(err.msg, "bitmap of 1 bytes") != NULL);
	rb.bitmap.len = 2;
	lc_put_le16(hole_bytes, 5);			/* unsorted holes */
	CHECK(expand(&ids, 16, sp, 4, &err) == EIO);
	CHECK(strstr(err.msg, "unsorted") != NULL);
	lc_put_le16(hole_bytes, 9);			/* past the end */
	CHECK(expand(&ids, 16, sp, 4, &err) == EIO);
	lc_put_le16(hole_bytes, 2);
	u64.values.len = 15;				/* ragged */
	CHECK(expand(&ids, 16, sp, 4, &err) == EIO);
	CHECK(strstr(err.msg, "multiple of 8") != NULL);
	u64.values.len = 16;
	u32.origin = UINT64_MAX - 5;			/* overflow */
	CHECK(expand(&ids, 16, sp, 4, &err) == EIO);
	CHECK(strstr(err.msg, "overflows") != NULL);
	u32.origin = 1000;
	rh.end = 99;					/* backwards */
	CHECK(expand(&ids, 16, sp, 4, &err) == EIO);
	rh.end = 106;
	CHECK_OK(expand(&ids, 16, sp, 4, &err), &err);
	free(ids);
}

/* A tiny sequence claiming billions of ids never allocates them. */
TEST(huge_counts)
{
	Lpb__U64Segment s, *sp = &s;
	Lpb__U64Segment__Range r;
	struct lc_err err = { 0 };
	uint64_t *ids;

	lpb__u64_segment__init(&s);
	lpb__u64_segment__range__init(&r);
	r.start = 0;
	r.end = UINT64_MAX;
	s.segment_case = LPB__U64_SEGMENT__SEGMENT_RANGE;
	s.range = &r;
	CHECK(expand(&ids, 10, &sp, 1, &err) == EIO);
	CHECK(expand(&ids, UINT64_MAX, &sp, 1, &err) == EFBIG);
	CHECK(err.kind == LC_EK_LIMIT);
	r.end = 1u << 26;
	CHECK(expand(&ids, 1000, &sp, 1, &err) == EIO);
	/* Two ranges whose counts overflow u64 together. */
	{
		Lpb__U64Segment *two[2] = { &s, &s };

		r.end = UINT64_MAX;
		CHECK(expand(&ids, 5, two, 2, &err) == EIO);
		CHECK(strstr(err.msg, "overflow") != NULL);
	}
	CHECK(lance_rowids_parse(&ids, 1, (const uint8_t *)"\xff\xff", 2,
				 &err) == EIO);
}

struct got {
	uint64_t v[8];
	size_t n;
};

static int got_run(void *ctx, uint64_t version, uint64_t len,
		   struct lc_err *err)
{
	struct got *g = ctx;

	(void)err;
	for (uint64_t i = 0; i < len && g->n < 8; i++)
		g->v[g->n++] = version;
	return 0;
}

/* Serialize a RowVersionSequence of the given runs and walk it. */
static int versions(struct got *g, uint64_t n, Lpb__RowVersionRun **runs,
		    size_t nr, struct lc_err *err)
{
	Lpb__RowVersionSequence seq;
	uint8_t *buf;
	size_t len;
	int rc;

	lpb__row_version_sequence__init(&seq);
	seq.n_runs = nr;
	seq.runs = runs;
	len = lpb__row_version_sequence__get_packed_size(&seq);
	buf = malloc(len ? len : 1);
	lpb__row_version_sequence__pack(&seq, buf);
	lc_err_clear(err);
	g->n = 0;
	rc = lance__row_versions_runs(buf, len, n, got_run, g, err);
	free(buf);
	return rc;
}

/* Runs of a version each: their spans count rows, whatever the kind. */
TEST(row_versions)
{
	static const uint64_t want[] = { 1, 1, 1, 5, 5 };
	Lpb__RowVersionRun r[2], *rp[2] = { &r[0], &r[1] };
	Lpb__U64Segment s[2];
	Lpb__U64Segment__Range range;
	Lpb__EncodedU64Array arr;
	Lpb__EncodedU64Array__U64Array u64;
	uint8_t vals[16] = { 7, 0, 0, 0, 0, 0, 0, 0, 9 };
	struct lc_err err = { 0 };
	struct got g;

	for (int i = 0; i < 2; i++) {
		lpb__row_version_run__init(&r[i]);
		lpb__u64_segment__init(&s[i]);
		r[i].span = &s[i];
	}
	lpb__u64_segment__range__init(&range);
	range.start = 10;
	range.end = 13;
	s[0].segment_case = LPB__U64_SEGMENT__SEGMENT_RANGE;
	s[0].range = &range;
	r[0].version = 1;
	lpb__encoded_u64_array__init(&arr);
	lpb__encoded_u64_array__u64_array__init(&u64);
	u64.values.data = vals;
	u64.values.len = sizeof(vals);
	arr.array_case = LPB__ENCODED_U64_ARRAY__ARRAY_U64_ARRAY;
	arr.u64_array = &u64;
	s[1].segment_case = LPB__U64_SEGMENT__SEGMENT_SORTED_ARRAY;
	s[1].sorted_array = &arr;
	r[1].version = 5;
	CHECK_OK(versions(&g, 5, rp, 2, &err), &err);
	CHECK(g.n == 5);
	for (size_t i = 0; i < 5; i++)
		CHECK_EQ_U64(g.v[i], want[i]);
	CHECK(versions(&g, 6, rp, 2, &err) == EIO);
	CHECK(strstr(err.msg, "hold 5 rows for 6") != NULL);
	CHECK(g.n == 0);	/* counted before any run is given */
	CHECK(versions(&g, 4, rp, 2, &err) == EIO);
	/* a hostile span is counted, never expanded */
	range.start = 0;
	range.end = UINT64_MAX;
	CHECK(versions(&g, 10, rp, 2, &err) == EIO);
	CHECK(versions(&g, UINT64_MAX - 1, rp, 2, &err) == EIO);
	r[0].span = NULL;
	CHECK(versions(&g, 3, rp, 1, &err) == EIO);
	CHECK(strstr(err.msg, "without a span") != NULL);
	CHECK_OK(versions(&g, 0, rp, 0, &err), &err);
	CHECK(g.n == 0);
}

TEST_MAIN(TEST_ENTRY(lancedb_sequences), TEST_ENTRY(every_segment_kind),
	  TEST_ENTRY(huge_counts), TEST_ENTRY(row_versions))
