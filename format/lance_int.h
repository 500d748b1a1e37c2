/*
 * lance_int.h - private to format/: the data-file container shared by the
 * per-version decoders (v1.c, v20.c, v21.c) and the protobuf helpers.
 */
#ifndef LANCE_INT_H
#define LANCE_INT_H

#include <pthread.h>

#include "lance.h"

/* Protobuf nesting we accept from files; protobuf-c itself recurses. */
#define LANCE_PB_MAX_DEPTH 64
/* Caps on metadata we load from a data file. */
#define LANCE_MAX_META_BYTES (256u << 20)
#define LANCE_MAX_VALUE_BYTES (1ull << 32)

/* Refuse wire data nested deeper than max_depth (or not wire data at the
 * top level). Pure; run it before handing untrusted bytes to protobuf-c. */
int lance__pb_check(const uint8_t *buf, size_t len, int max_depth,
		    const char *what, struct lc_err *err) LC_MUST_USE;

/* ---------------------------------------------------------- 2.x container */

/* One page of a 2.x column, from ColumnMetadata.Page. */
struct lance_page {
	uint64_t length;	/* rows (2.0 list items: items) */
	uint64_t first_row;	/* sum of the lengths of earlier pages */
	size_t n_buffers;
	const uint64_t *buf_off;	/* absolute file offsets */
	const uint64_t *buf_size;
	/* The page encoding: the Any's type_url and value bytes. */
	const char *type_url;
	const uint8_t *enc;
	size_t enc_len;
	void *decoded;		/* decoder-owned parsed encoding, or NULL */
};

struct lance_column {
	struct lance_page *pages;
	size_t n_pages;
	/* ColumnEncoding Any (values{}, blob{}, ...) */
	const char *type_url;
	const uint8_t *enc;
	size_t enc_len;
	void *meta;		/* the unpacked Lpb__ColumnMetadata */
};

enum lance_file_kind {
	LANCE_FILE_V1 = 1,	/* footer 0.0 .. 0.2 */
	LANCE_FILE_V20,		/* footer 0.3 or 2.0 */
	LANCE_FILE_V21,		/* footer 2.1, 2.2, 2.3 (structural) */
};

struct lance_file {
	struct ostore *st;	/* borrowed */
	struct ostore_obj *obj;
	char *path;
	const struct lance_schema *schema;	/* borrowed */
	enum lance_file_kind kind;
	uint16_t major, minor;
	uint64_t rows;
	/* field id -> column index, from DataFile.fields/column_indices */
	int32_t *map_field;
	int32_t *map_col;
	size_t n_map;
	/* 2.x: every column's pages */
	struct lance_column *cols;
	uint32_t n_cols;
	void *container;	/* file.c's own state (owned protobufs) */
	/* Decoder state (v1: page table; 2.x: page caches), owned by the
	 * decoder of f->kind, freed by dec_free if set. */
	void *dec;
	void (*dec_free)(struct lance_file *f);
	pthread_mutex_t mu;	/* protects dec caches; never held over I/O */
};

/* Column holding `field_id`, or -1. */
int lance__file_column(const struct lance_file *f, int32_t field_id);
/* Read file bytes [off, off + len) into buf. */
int lance__file_pread(struct lance_file *f, uint64_t off, size_t len,
		      void *buf, struct lc_err *err) LC_MUST_USE;
/* Read a page buffer whole into a new allocation (caller frees). */
int lance__page_buffer(uint8_t **out, struct lance_file *f,
		       const struct lance_page *p, size_t idx,
		       struct lc_err *err) LC_MUST_USE;
/* Page of `col` holding `row` (by first_row/length), or NULL. */
const struct lance_page *lance__page_for_row(const struct lance_column *col,
					     uint64_t row, size_t *index);

/* Per-version decoders: open extra state, read, and size values. */
int lance__v1_open(struct lance_file *f, const uint8_t *tail,
		   size_t tail_len, struct lc_err *err) LC_MUST_USE;
int lance__v1_read(struct lance_array *out, struct lance_file *f,
		   const struct lance_field *field, uint64_t row, uint64_t n,
		   struct lc_err *err) LC_MUST_USE;
int lance__v1_sizes(uint64_t *sizes, bool *valid, struct lance_file *f,
		    const struct lance_field *field, uint64_t row, uint64_t n,
		    struct lc_err *err) LC_MUST_USE;

int lance__v20_read(struct lance_array *out, struct lance_file *f,
		    const struct lance_field *field, uint64_t row, uint64_t n,
		    struct lc_err *err) LC_MUST_USE;
int lance__v20_sizes(uint64_t *sizes, bool *valid, struct lance_file *f,
		     const struct lance_field *field, uint64_t row, uint64_t n,
		     struct lc_err *err) LC_MUST_USE;

/*
 * Pure 2.0 page decode (no I/O), for the fuzzer and tests: rows [a, b) of
 * a page of `page_rows` rows whose ArrayEncoding bytes are `enc` and whose
 * buffers are bufs[i] (sizes[i] bytes). A List page yields a LIST array
 * with offsets and validity but no children.
 */
int lance__v20_decode_page(struct lance_array *out,
			   const struct lance_type *type,
			   const struct lance_field *field,
			   const uint8_t *enc, size_t enc_len,
			   const uint8_t *const *bufs, const uint64_t *sizes,
			   size_t n_bufs, uint64_t page_rows, uint64_t a,
			   uint64_t b, struct lc_err *err) LC_MUST_USE;

int lance__v21_read(struct lance_array *out, struct lance_file *f,
		    const struct lance_field *field, uint64_t row, uint64_t n,
		    struct lc_err *err) LC_MUST_USE;
/* Pure 2.1+ page decode for the fuzzer: parse a PageLayout (enc) over
 * in-memory page buffers and decode rows [row, row + n) of a `rows`-row
 * page, then throw the result away. */
int lance__v21_page_decode(const uint8_t *enc, size_t enc_len,
			   uint64_t rows, const uint8_t *const *bufs,
			   const uint64_t *sizes, size_t n_bufs, uint64_t row,
			   uint64_t n, struct lc_err *err) LC_MUST_USE;
int lance__v21_sizes(uint64_t *sizes, bool *valid, struct lance_file *f,
		     const struct lance_field *field, uint64_t row, uint64_t n,
		     struct lc_err *err) LC_MUST_USE;

/* ---------------------------------------------------------- window reads */

/* One window read (lance_file_read_window): what is asked, and what the
 * decoder found. */
struct lance_win {
	uint8_t *dst;
	uint64_t off;
	size_t len;
	size_t got;
	bool valid;
	uint64_t size;
};

/* How many bytes of a value of `size` bytes the window takes. */
static inline size_t lance__win_clip(const struct lance_win *w,
				     uint64_t size)
{
	if (w->off >= size)
		return 0;
	return size - w->off < w->len ? (size_t)(size - w->off) : w->len;
}

/* Per-version window reads: 0, an errno, or LANCE_WINDOW_DECODE. The
 * field is top-level and BINARY, UTF8 or a blob (checked by file.c). */
int lance__v1_window(struct lance_win *w, struct lance_file *f,
		     const struct lance_field *field, uint64_t row,
		     struct lc_err *err);
int lance__v20_window(struct lance_win *w, struct lance_file *f,
		      const struct lance_field *field, uint64_t row,
		      struct lc_err *err);
int lance__v21_window(struct lance_win *w, struct lance_file *f,
		      const struct lance_field *field, uint64_t row,
		      struct lc_err *err);

/* Pure page-level window reads for the fuzzers: row `row` of a page as
 * lance__v20_decode_page and lance__v21_page_decode take it. */
int lance__v20_page_window(struct lance_win *w, const uint8_t *enc,
			   size_t enc_len, const uint8_t *const *bufs,
			   const uint64_t *sizes, size_t n_bufs,
			   uint64_t page_rows, uint64_t row,
			   struct lc_err *err);
int lance__v21_page_window(struct lance_win *w, const uint8_t *enc,
			   size_t enc_len, uint64_t rows,
			   const uint8_t *const *bufs, const uint64_t *sizes,
			   size_t n_bufs, uint64_t row, struct lc_err *err);

/* Append decoded rows `src` to `dst` of the same shape (validity, values,
 * offsets rebased, children appended); an empty `dst` takes `src` over.
 * `src` keeps its buffers for the caller to reset. */
int lance__array_append(struct lance_array *dst, struct lance_array *src,
			struct lc_err *err) LC_MUST_USE;

/* Generic fallback for *_sizes: decode the values and measure them. */
int lance__sizes_by_decode(uint64_t *sizes, bool *valid,
			   struct lance_file *f,
			   const struct lance_field *field, uint64_t row,
			   uint64_t n, struct lc_err *err) LC_MUST_USE;

/* ---------------------------------------------------------- schema */

struct Lpb__Field;

/* Build a schema from a manifest's (or file's) flat Field list: parents
 * resolved by id, children in list order, types parsed, blob kinds set.
 * Refuses duplicate ids, unknown parents, cycles and children of
 * non-nested types. */
int lance__schema_from_pb(struct lance_schema *out,
			  struct Lpb__Field *const *fields, size_t n,
			  struct lc_err *err) LC_MUST_USE;
/* Append a key/value pair (value copied and NUL-terminated). */
int lance__kv_add(struct lance_kv **kv, size_t *n, const char *key,
		  const uint8_t *val, size_t len,
		  struct lc_err *err) LC_MUST_USE;
void lance__kv_free(struct lance_kv *kv, size_t n);

/* ---------------------------------------------------------- row ids */

/* Called with consecutive ids [id, id + len) in physical row order. */
typedef int (*lance__run_cb)(void *ctx, uint64_t id, uint64_t len,
			     struct lc_err *err);
/* Walk a serialized RowIdSequence as runs of consecutive ids. The ids
 * are counted first: unless they number exactly n, this fails before
 * the first callback. Memory does not depend on n. */
int lance__rowids_runs(const uint8_t *buf, size_t len, uint64_t n,
		       lance__run_cb cb, void *ctx,
		       struct lc_err *err) LC_MUST_USE;
/* Walk a serialized RowVersionSequence as runs (version, length) in
 * physical row order, called back with the version as `id`; the runs
 * must cover exactly n rows (counted first). */
int lance__row_versions_runs(const uint8_t *buf, size_t len, uint64_t n,
			     lance__run_cb cb, void *ctx,
			     struct lc_err *err) LC_MUST_USE;

/* ------------------------------------------------ shared decompression */

/* Largest buffer a decompressor will produce (one page value or block). */
#define LANCE_MAX_DECOMP_BYTES (1ull << 31)

enum lance_comp {
	LANCE_COMP_ZSTD = 1,	/* u64 length + zstd frame, or a bare frame */
	LANCE_COMP_LZ4,		/* u32 length + LZ4 block */
};

/* Decompress one general-compressed buffer (file-format.md 4.7.10) into a
 * new exactly sized allocation of at most `cap` bytes. Pure. */
int lance__decompress(uint8_t **out, size_t *out_len, enum lance_comp comp,
		      const uint8_t *in, size_t in_len, size_t cap,
		      struct lc_err *err) LC_MUST_USE;
/* Declared decompressed size of such a buffer, from its header only. */
int lance__decompressed_size(uint64_t *out, enum lance_comp comp,
			     const uint8_t *in, size_t in_len,
			     struct lc_err *err) LC_MUST_USE;

/* Reads bytes [off, off + len) of some stored buffer into dst. */
typedef int (*lance__read_fn)(void *ctx, uint64_t off, size_t len,
			      uint8_t *dst, struct lc_err *err);

/*
 * Bytes [off, off + len) of what a zstd-compressed buffer of in_len bytes
 * (either framing) decompresses to, from its first bytes only: `rd`
 * fetches the input in growing pieces, so this costs about off + len
 * bytes plus one zstd block (at most 128 KiB) of input. *total is the
 * size the framing declares, *got the bytes put in dst (0 past the end).
 * A window that ends past `cap`, a bad header or frame, or a frame that
 * ends short is LANCE_WINDOW_DECODE (nothing set in err).
 */
int lance__zstd_window(uint8_t *dst, size_t *got, uint64_t *total,
		       uint64_t off, size_t len, size_t cap, uint64_t in_len,
		       lance__read_fn rd, void *ctx,
		       struct lc_err *err) LC_MUST_USE;

/* FastLanes (file-format.md 4.8): unpack one block of 1024 values of
 * t bits (8/16/32/64) packed to w bits (0..t) from 128 * w bytes into
 * 1024 little-endian t-bit words at `out`. Pure, no checks on w or t. */
void lance__fl_unpack(unsigned t, unsigned w, const uint8_t *in,
		      uint8_t *out);

/* FSST (file-format.md 4.7.5). */
struct lance_fsst {
	uint8_t sym[255][8];
	uint8_t len[255];
	unsigned n;
	bool on;	/* encoder_on: false = strings stored raw */
};
int lance__fsst_parse(struct lance_fsst *out, const uint8_t *tab,
		      size_t len, struct lc_err *err) LC_MUST_USE;
/* Decoded length of one compressed string, or SIZE_MAX if corrupt. */
size_t lance__fsst_decoded_len(const struct lance_fsst *t,
			       const uint8_t *in, size_t len);
/* Decode into out (room for lance__fsst_decoded_len bytes). */
void lance__fsst_decode(const struct lance_fsst *t, const uint8_t *in,
			size_t len, uint8_t *out);

#endif
