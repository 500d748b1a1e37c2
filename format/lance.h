/*
 * lance.h - reading (and later writing) Lance datasets. Knows nothing of
 * FUSE or HTTP: bytes come through objstore/ostore.h.
 *
 * Layers, bottom up:
 *   schema    Arrow types as Lance names them ("timestamp:us:UTC"), fields
 *   array     decoded values, Arrow-like, owned by the caller
 *   file      one data file (.lance, any version): read rows of a field
 *   dataset   versions, tags, manifests, fragments, deletions, row ids
 */
#ifndef LANCE_H
#define LANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "lc.h"
#include "ostore.h"

/* ---------------------------------------------------------------- types */

enum lance_type_id {
	LANCE_T_NULL = 0,
	LANCE_T_BOOL,
	LANCE_T_INT8,
	LANCE_T_UINT8,
	LANCE_T_INT16,
	LANCE_T_UINT16,
	LANCE_T_INT32,
	LANCE_T_UINT32,
	LANCE_T_INT64,
	LANCE_T_UINT64,
	LANCE_T_FLOAT16,
	LANCE_T_FLOAT32,
	LANCE_T_FLOAT64,
	LANCE_T_UTF8,		/* string, large_string (offsets are u64 here) */
	LANCE_T_BINARY,		/* binary, large_binary, json, blobs */
	LANCE_T_FIXED_BINARY,	/* width bytes per value */
	LANCE_T_DATE32,		/* days since the epoch, int32 */
	LANCE_T_DATE64,		/* milliseconds since the epoch, int64 */
	LANCE_T_TIME32,		/* unit s or ms, int32 */
	LANCE_T_TIME64,		/* unit us or ns, int64 */
	LANCE_T_TIMESTAMP,	/* int64 in unit, tz or none */
	LANCE_T_DURATION,	/* int64 in unit */
	LANCE_T_DECIMAL128,	/* 16-byte little-endian two's complement */
	LANCE_T_DECIMAL256,	/* 32 bytes */
	LANCE_T_LIST,		/* list, large_list: one child */
	LANCE_T_FIXED_LIST,	/* fixed_size_list: width items, child type */
	LANCE_T_STRUCT,		/* children are the fields */
	LANCE_T_MAP,		/* list of struct<key, value> */
};

enum lance_time_unit {
	LANCE_UNIT_S = 0,
	LANCE_UNIT_MS,
	LANCE_UNIT_US,
	LANCE_UNIT_NS,
};

struct lance_type {
	enum lance_type_id id;
	bool large;		/* large_string, large_binary, large_list */
	bool dict;		/* dictionary-encoded; values materialized */
	enum lance_type_id dict_index;	/* the keys' integer type */
	enum lance_time_unit unit;
	int32_t width;		/* fixed_size_binary bytes, fixed_size_list n */
	int32_t precision, scale;	/* decimals */
	char *tz;		/* timestamp zone, NULL if none */
	struct lance_type *item;	/* fixed_size_list item type */
	bool bfloat16;		/* fixed_size_list:lance.bfloat16 */
	bool json;		/* "json" (lance.json): BINARY holding JSONB */
};

/* Byte width of one value of a fixed-width type; 0 for others, and for
 * bool (bit-packed). */
unsigned lance_type_width(const struct lance_type *t);

int lance_type_parse(struct lance_type *out, const char *logical,
		     struct lc_err *err) LC_MUST_USE;
void lance_type_reset(struct lance_type *t);

struct lance_kv {
	char *key;
	uint8_t *value;
	size_t value_len;
};

enum lance_blob_kind {
	LANCE_BLOB_NONE = 0,
	LANCE_BLOB_V1,		/* large_binary, lance-encoding:blob=true */
	LANCE_BLOB_V2,		/* struct ARROW:extension:name=lance.blob.v2 */
};

struct lance_field {
	char *name;
	int32_t id;
	int32_t parent_id;
	char *logical_type;	/* as stored */
	struct lance_type type;
	bool nullable;
	enum lance_blob_kind blob;
	bool packed;		/* lance-encoding:packed struct */
	struct lance_kv *metadata;
	size_t n_metadata;
	struct lance_field **children;	/* borrowed from the schema */
	size_t n_children;
	struct lance_field *parent;
};

/* The type of field f's arrays: its own, or for a blob field (v1 or v2)
 * large binary, the blob's bytes. */
const struct lance_type *lance_array_type(const struct lance_field *f);

/* The schema: fields in pre-order (parent before children, as stored). */
struct lance_schema {
	struct lance_field *fields;	/* all fields, pre-order */
	size_t n_fields;
	struct lance_field **top;	/* top-level fields in order */
	size_t n_top;
	struct lance_kv *metadata;
	size_t n_metadata;
};

const struct lance_field *lance_schema_field_by_id(
	const struct lance_schema *s, int32_t id);
const struct lance_field *lance_schema_field_by_name(
	const struct lance_schema *s, const char *name);
const char *lance_field_meta(const struct lance_field *f, const char *key);
void lance_schema_reset(struct lance_schema *s);

/* One field of a schema being built: ids are the positions in the list
 * (pre-order, parents first); parent -1 is the top level. */
struct lance_field_def {
	const char *name;
	int32_t parent;
	const char *logical_type;	/* "int64", "string", "list", ... */
	bool nullable;
};

/* A schema from `n` field definitions, checked as a manifest's is. */
int lance_schema_build(struct lance_schema *out,
		       const struct lance_field_def *defs, size_t n,
		       struct lc_err *err) LC_MUST_USE;

/* ---------------------------------------------------------------- arrays */

/*
 * Decoded values of one field for a run of rows, Arrow-like:
 *  - validity: NULL when every value is valid, else a bitmap, LSB first,
 *    1 = valid, (length + 7) / 8 bytes;
 *  - fixed-width types: `values` holds length * width bytes (bool: a
 *    bitmap, LSB first); values under nulls are unspecified;
 *  - UTF8/BINARY: `offsets` has length + 1 entries into `values`;
 *  - LIST/MAP: `offsets` has length + 1 entries into children[0];
 *  - FIXED_LIST: children[0] has length * width items;
 *  - STRUCT: one child per field, each of `length` rows.
 * `type` and `field` are borrowed from the schema the array was read with.
 */
struct lance_array {
	const struct lance_type *type;
	const struct lance_field *field;
	uint64_t length;
	uint8_t *validity;
	uint8_t *values;
	uint64_t values_len;
	uint64_t *offsets;
	struct lance_array *children;
	size_t n_children;
};

static inline bool lance_array_is_valid(const struct lance_array *a,
					uint64_t i)
{
	return !a->validity || (a->validity[i >> 3] >> (i & 7)) & 1;
}

void lance_array_reset(struct lance_array *a);
/* An array of `length` nulls shaped for `field` (a field no file holds). */
int lance_array_init_null(struct lance_array *out,
			  const struct lance_field *field, uint64_t length,
			  struct lc_err *err) LC_MUST_USE;

/* ---------------------------------------------------------------- files */

struct lance_file;

/*
 * Where a data file sits and which fields it holds, from the manifest's
 * DataFile: fields[i] lives in column column_indices[i] (2.x files).
 * `size` may be 0 (unknown).
 */
struct lance_data_file {
	char *path;		/* key relative to the store root: data/x.lance */
	int32_t *fields;
	int32_t *column_indices;
	size_t n_fields;
	size_t n_column_indices;
	uint32_t major, minor;	/* as the manifest records it */
	uint64_t size;
	bool has_base_id;
	uint32_t base_id;
};

/*
 * Open a data file. `schema` is the dataset schema (borrowed; must outlive
 * the file); `df` tells which fields the file holds. Reads the footer and
 * column metadata (a bounded amount), never the data.
 */
int lance_file_open(struct lance_file **out, struct ostore *st,
		    const struct lance_data_file *df,
		    const struct lance_schema *schema,
		    struct lc_err *err) LC_MUST_USE;
void lance_file_free(struct lance_file *f);
uint64_t lance_file_rows(const struct lance_file *f);
void lance_file_version(const struct lance_file *f, uint16_t *major,
			uint16_t *minor);

/*
 * Read rows [row, row + n) of top-level or nested `field` into `out`.
 * Blob fields (v1 and v2) come back as BINARY holding the blob bytes.
 * Costs a bounded number of range reads, never a whole-column decode.
 */
int lance_file_read(struct lance_array *out, struct lance_file *f,
		    const struct lance_field *field, uint64_t row, uint64_t n,
		    struct lc_err *err) LC_MUST_USE;

/*
 * Sizes in bytes of BINARY/UTF8 (and blob) values of rows [row, row + n),
 * with `valid[i]` false for nulls; reads offsets or descriptors only,
 * never the values, where the encoding allows.
 */
int lance_file_value_sizes(uint64_t *sizes, bool *valid, struct lance_file *f,
			   const struct lance_field *field, uint64_t row,
			   uint64_t n, struct lc_err *err) LC_MUST_USE;

/*
 * A window read's answer when the value is not stored so that a window
 * can be read on its own: nothing was written to dst and `err` was left
 * alone; read the value whole with lance_file_read (which also gives any
 * error the file holds). Negative, so it is never mistaken for an errno.
 */
#define LANCE_WINDOW_DECODE (-1)

/*
 * Bytes [off, off + len) of row `row`'s value of a top-level BINARY or
 * UTF8 field (blob v1 and v2 fields included: the blob's bytes), clipped
 * to the value's end: *got bytes land in dst (room for len), *size is the
 * value's whole size and *valid false for a null (size and got 0). A
 * window past the end gives *got 0.
 *
 * Only the offsets or descriptor of that row and the window's own bytes
 * are read, where the bytes are stored plainly: v1 var-binary pages, 2.0
 * Binary with Flat bytes (and blob v1 columns), 2.1+ full-zip variable
 * pages without per-value transforms, blob v1 (2.0, 2.1) and blob v2
 * (inline and sidecar) payloads. A full-zip value zstd-compressed on its
 * own (what lance writes once a page holds a value over 32 KiB) is
 * windowed when the window ends within its first 64 KiB, from the
 * frame's first bytes: enough to sniff a file's type. Everything else
 * (windows further into such values, other compressed values and
 * buffers, FSST, dictionaries, mini-block chunks, constant pages, nested
 * fields, values over the decoders' caps, and entries a full read would
 * refuse) is LANCE_WINDOW_DECODE.
 *
 * Where both succeed, a window read agrees with lance_file_read of the
 * same row (validity, size, bytes). A window checks what it reads as the
 * full read would, so it fails (or decodes) where the full read fails,
 * with one exception: a zstd frame damaged past the window is found only
 * by the full read. Errors are prefixed with the file and field, as
 * lance_file_read's are.
 */
int lance_file_read_window(uint8_t *dst, size_t *got, bool *valid,
			   uint64_t *size, struct lance_file *f,
			   const struct lance_field *field, uint64_t row,
			   uint64_t off, size_t len,
			   struct lc_err *err) LC_MUST_USE;

/* ---------------------------------------------------------------- writing */

/*
 * Writing one data file (format/writer.c). The file is built in memory.
 * Batches of 8192 rows or 1 MiB and more are encoded at once (values
 * copied once); smaller ones are gathered into pages of that size first.
 */
struct lance_writer;

/* A 2.1 mini-block chunk's bytes at most (its size is stored in 12 bits
 * of 8-byte words). */
#define LANCE_V21_CHUNK_MAX (32u << 10)

/* Start a data file of version major.minor (2.0, 2.1 or 2.2) holding the
 * top-level fields `top_field_ids` of `schema` (borrowed: must outlive the
 * writer). Refuses types the version cannot be written with here. */
int lance_writer_new(struct lance_writer **out,
		     const struct lance_schema *schema,
		     const int32_t *top_field_ids, size_t n, uint16_t major,
		     uint16_t minor, struct lc_err *err) LC_MUST_USE;
/* Whether the top-level field `f` can be written in file version
 * major.minor: 0, or the errno with `err` saying why. */
int lance_writer_check_field(const struct lance_field *f, uint16_t major,
			     uint16_t minor, struct lc_err *err);
/* The distinct values a dictionary of `keys`, an integer type, can
 * index (half a signed type's range); 0 for any other type. LanceDB
 * reads a data file whose dictionary column holds more distinct values,
 * over all its pages, than its keys index as an error ("Dictionary key
 * bigger than the key type"), even where each page's fit. */
uint64_t lance_dict_capacity(enum lance_type_id keys);
/* Append rows: one array per top-level field, all of the same length,
 * shaped as `struct lance_array` documents. Checks every array before
 * writing anything; after a failure half way the writer is unusable. */
int lance_writer_add(struct lance_writer *w, const struct lance_array *cols,
		     struct lc_err *err) LC_MUST_USE;
/* Build the file in `buf` (emptied first, its memory kept) instead of
 * memory of the writer's own: a caller writing many files passes one
 * buffer every time, and it stays faulted in. Call before any add. */
void lance_writer_build_in(struct lance_writer *w, struct lc_buf *buf);
/* Finish: the whole file in `*bytes` (caller frees with lc_free, unless
 * it points into a lance_writer_build_in buffer) and, if df_out, its
 * DataFile description (fields, column_indices, major/minor, size; path
 * left NULL; arrays owned by the caller). */
int lance_writer_finish(struct lance_writer *w, uint8_t **bytes,
			size_t *len, struct lance_data_file *df_out,
			struct lc_err *err) LC_MUST_USE;
void lance_writer_free(struct lance_writer *w);

/* ---------------------------------------------------------------- manifests */

enum lance_deletion_type {
	LANCE_DEL_ARROW = 0,	/* _deletions/F-R-I.arrow, Arrow IPC file */
	LANCE_DEL_BITMAP = 1,	/* _deletions/F-R-I.bin, portable roaring */
};

struct lance_deletion_file {
	bool present;
	enum lance_deletion_type type;
	uint64_t read_version;
	uint64_t id;
	uint64_t num_deleted;	/* 0 = unknown */
	bool has_base_id;
	uint32_t base_id;
};

struct lance_external_file {
	char *path;		/* relative to the dataset root */
	uint64_t offset, size;
};

struct lance_fragment {
	uint64_t id;
	uint64_t physical_rows;	/* including deleted rows */
	struct lance_data_file *files;
	size_t n_files;
	struct lance_deletion_file deletion;
	/* Stable row ids (flag 2): a serialized RowIdSequence, inline or in
	 * an external file; both empty without stable row ids. */
	uint8_t *row_ids;
	size_t row_ids_len;
	struct lance_external_file row_ids_ext;
};

struct lance_base_path {
	uint32_t id;
	char *name;		/* NULL if absent */
	bool is_dataset_root;
	char *path;		/* absolute path or URI */
};

#define LANCE_FLAG_DELETION_FILES 1u
#define LANCE_FLAG_STABLE_ROW_IDS 2u
#define LANCE_FLAG_V2_DEPRECATED 4u
#define LANCE_FLAG_TABLE_CONFIG 8u
#define LANCE_FLAG_BASE_PATHS 16u
#define LANCE_FLAG_NO_TXN_FILE 32u
#define LANCE_FLAG_COVERED_INDEX 128u
#define LANCE_FLAG_MIXED_VERSIONS 256u

struct lance_manifest {
	uint64_t version;
	int64_t timestamp_sec;	/* commit time, UTC */
	int32_t timestamp_nsec;
	struct lance_schema schema;
	struct lance_fragment *fragments;
	size_t n_fragments;
	uint64_t reader_flags, writer_flags;
	bool has_max_fragment_id;
	uint32_t max_fragment_id;
	uint64_t next_row_id;
	char *data_format;	/* "0.1", "2.0", "2.1", "2.2", ... */
	char *writer_library, *writer_version;
	struct lance_kv *config;	/* values NUL-terminated */
	size_t n_config;
	struct lance_base_path *base_paths;
	size_t n_base_paths;
	char *transaction_file;	/* relative to _transactions/, or NULL */
	bool has_index_section, has_transaction_section;
	uint64_t index_section, transaction_section;
	char *branch;		/* NULL on main */
	/* The whole manifest file, kept so a writer can carry forward what
	 * it does not interpret (index section, unknown fields). */
	uint8_t *raw;
	size_t raw_len;
};

/* Parse a manifest file's bytes (framing, footer, protobuf). Pure: no I/O.
 * Takes a copy of `buf` into `raw`. Refuses unknown reader feature flags. */
/* What names a fragment's data: a hash of its first data file's path
 * (writers name data files by random UUIDs), never 0; 0 for a fragment
 * with no file. A dataset deleted and made anew at its place numbers its
 * fragments from 0 again, but its files are others. */
uint64_t lance_fragment_key(const struct lance_fragment *f);
/* The same for a fragment whose first data file is at `path`. */
uint64_t lance_data_file_key(const char *path);
/* Whether a change made on `version` of a dataset, to a row of fragment
 * `fragment_id` whose data `key` named, was made on another table than
 * manifest `m`'s (one deleted and made anew in its place): `m` is older
 * than that version (a dataset's versions never go back), or its
 * fragment of that id holds other data files. A key of 0 (unknown) and a
 * fragment gone say nothing. */
bool lance_manifest_other_table(const struct lance_manifest *m,
				uint64_t version, uint64_t fragment_id,
				uint64_t key);
int lance_manifest_parse(struct lance_manifest **out, const uint8_t *buf,
			 size_t len, struct lc_err *err) LC_MUST_USE;
void lance_manifest_free(struct lance_manifest *m);
const char *lance_manifest_config(const struct lance_manifest *m,
				  const char *key);
/* True when `b` holds every row of `a` as `a` does: the same schema,
 * config and base paths, and `a`'s fragments first, each unchanged (data
 * files, deletion file, row ids). `b` may add fragments after them: a
 * version that only appended to `a`, or `a` itself. */
bool lance_manifest_appends(const struct lance_manifest *a,
			    const struct lance_manifest *b);

/* ---------------------------------------------------------------- deletions */

/* A fragment's deleted physical offsets, sorted ascending, no duplicates. */
struct lance_deletion {
	uint32_t *offsets;
	size_t n;
};

/* Pure parsers for the two deletion-file formats. */
int lance_deletion_parse_arrow(struct lance_deletion *out, const uint8_t *buf,
			       size_t len, struct lc_err *err) LC_MUST_USE;
int lance_deletion_parse_bitmap(struct lance_deletion *out,
				const uint8_t *buf, size_t len,
				struct lc_err *err) LC_MUST_USE;
void lance_deletion_reset(struct lance_deletion *d);
bool lance_deletion_contains(const struct lance_deletion *d, uint64_t off);
/* Pure writers of a deletion file holding `offsets` (any order, no
 * duplicates): an uncompressed Arrow IPC file, or a portable roaring
 * bitmap without run containers. */
int lance_deletion_write_arrow(uint8_t **out, size_t *len,
			       const uint32_t *offsets, size_t n,
			       struct lc_err *err) LC_MUST_USE;
int lance_deletion_write_bitmap(uint8_t **out, size_t *len,
				const uint32_t *offsets, size_t n,
				struct lc_err *err) LC_MUST_USE;

/* Expand a serialized RowIdSequence into exactly `n` row ids. Pure. */
int lance_rowids_parse(uint64_t **out, uint64_t n, const uint8_t *buf,
		       size_t len, struct lc_err *err) LC_MUST_USE;

/* ---------------------------------------------------------------- datasets */

struct lance_version_info {
	uint64_t version;
	char *manifest_key;	/* _versions/... */
};

/* All versions in _versions/, ascending; refuses mixed naming schemes.
 * ENOENT (LC_EK_NOTFOUND) when the store holds no dataset. */
int lance_list_versions(struct lance_version_info **out, size_t *n,
			struct ostore *st, struct lc_err *err) LC_MUST_USE;
void lance_versions_free(struct lance_version_info *v, size_t n);

struct lance_tag {
	char *name;
	uint64_t version;
	char *branch;		/* NULL for main */
};

/* Tags under _refs/tags/, sorted by name (a tag file removed during the
 * listing is left out; one that is no tag fails it, as in lance). */
int lance_list_tags(struct lance_tag **out, size_t *n, struct ostore *st,
		    struct lc_err *err) LC_MUST_USE;
void lance_tags_free(struct lance_tag *t, size_t n);

/*
 * A snapshot: one version of a dataset, immutable once opened and safe to
 * share between threads. It indexes the live rows from the manifest and
 * deletion files (no data is scanned) and opens data files lazily.
 *
 * Rows are named by their row number: the stable row id when the dataset
 * has stable row ids, else the physical position (the physical_rows of
 * the fragments before it plus its offset in its fragment).
 */
struct lance_snapshot;

struct lance_row_ref {
	uint64_t number;	/* stable row id or physical position */
	uint32_t frag;		/* index into manifest->fragments */
	uint64_t offset;	/* physical offset in the fragment */
};

/* `version` 0 opens the latest. */
int lance_snapshot_open(struct lance_snapshot **out, struct ostore *st,
			uint64_t version, struct lc_err *err) LC_MUST_USE;
/* The same without its rows: only lance_snapshot_manifest may be asked
 * until lance_snapshot_index has made them (which reads every deletion
 * file; not to be called by two threads at once). */
int lance_snapshot_open_manifest(struct lance_snapshot **out,
				 struct ostore *st, uint64_t version,
				 struct lc_err *err) LC_MUST_USE;
int lance_snapshot_index(struct lance_snapshot *s,
			 struct lc_err *err) LC_MUST_USE;
bool lance_snapshot_indexed(const struct lance_snapshot *s);
/* Version 0 of a dataset that has no version yet: no rows, no fields. */
int lance_snapshot_empty(struct lance_snapshot **out, struct ostore *st,
			 struct lc_err *err) LC_MUST_USE;
void lance_snapshot_free(struct lance_snapshot *s);
const struct lance_manifest *lance_snapshot_manifest(
	const struct lance_snapshot *s);
/* Live rows, in order of fragments and offsets. */
uint64_t lance_snapshot_num_rows(const struct lance_snapshot *s);
int lance_snapshot_row_at(struct lance_row_ref *out,
			  const struct lance_snapshot *s, uint64_t index,
			  struct lc_err *err) LC_MUST_USE;
/* ENOENT when no live row has that number. */
int lance_snapshot_find_row(struct lance_row_ref *out,
			    const struct lance_snapshot *s, uint64_t number,
			    struct lc_err *err) LC_MUST_USE;
/* The live row at `offset` of the fragment with id `fragment_id`, or
 * ENOENT (no such fragment or offset, or deleted in this version). */
int lance_snapshot_row_by_address(struct lance_row_ref *out,
				  const struct lance_snapshot *s,
				  uint64_t fragment_id, uint64_t offset);
/* True when the row at `offset` of the fragment with id `fragment_id`
 * exists and is not deleted in this version. */
bool lance_snapshot_row_live(const struct lance_snapshot *s,
			     uint64_t fragment_id, uint64_t offset);
/* Read physical rows [offset, offset + n) of `field` in fragment `frag`;
 * an all-null array when no data file of the fragment holds the field.
 * A data file the manifest lists that the store does not have (or that
 * lacks the field) is EIO (LC_EK_CORRUPT), never ENOENT. The same for
 * lance_snapshot_value_sizes. */
int lance_snapshot_read(struct lance_array *out, struct lance_snapshot *s,
			uint32_t frag, const struct lance_field *field,
			uint64_t offset, uint64_t n,
			struct lc_err *err) LC_MUST_USE;
int lance_snapshot_value_sizes(uint64_t *sizes, bool *valid,
			       struct lance_snapshot *s, uint32_t frag,
			       const struct lance_field *field,
			       uint64_t offset, uint64_t n,
			       struct lc_err *err) LC_MUST_USE;
/* lance_file_read_window of the physical row at `offset` of fragment
 * `frag`; a null when no data file of the fragment holds the field. */
int lance_snapshot_read_window(uint8_t *dst, size_t *got, bool *valid,
			       uint64_t *size, struct lance_snapshot *s,
			       uint32_t frag, const struct lance_field *field,
			       uint64_t offset, uint64_t off, size_t len,
			       struct lc_err *err) LC_MUST_USE;

/* ---------------------------------------------------------------- commits */

/* A new fragment: its data files are already written under data/
 * (`path` as lance_data_file has it, "data/<name>"). */
struct lance_commit_frag {
	const struct lance_data_file *files;
	size_t n_files;
	uint64_t physical_rows;
	/* Stable row ids: per row, the address (fragment id << 32 | offset)
	 * of the committed row it rewrites, whose row id and creation
	 * version it keeps, or LANCE_NEW_ROW; NULL: every row is new. */
	const uint64_t *rewrites;
};
#define LANCE_NEW_ROW UINT64_MAX

/* Rows to delete from an existing fragment, as physical offsets. */
struct lance_commit_delete {
	uint64_t fragment_id;
	const uint32_t *offsets;
	size_t n;
};

/*
 * What one commit does. `read_version` is the version the caller planned
 * against (0 creates the dataset: then `new_schema` is required, and
 * `config` and `data_format` apply). An empty `uuid` is filled in with a
 * random one, which names the transaction for lance_find_transaction.
 */
struct lance_commit {
	uint64_t read_version;
	const struct lance_commit_frag *appends;
	size_t n_appends;
	const struct lance_commit_delete *deletes;
	size_t n_deletes;
	const struct lance_schema *new_schema;
	const struct lance_kv *config;	/* values NUL-terminated */
	size_t n_config;
	const char *data_format;	/* new dataset; NULL = "2.0" */
	bool stable_row_ids;		/* new dataset */
	char uuid[37];
	/* out, on failure: a manifest put got no definite answer (a
	 * timeout, a lost reply; tried again a few times under the same
	 * uuid first), so this version may still land */
	bool unsure;
	/* out, on success: the id given to appends[0] (the others follow
	 * in order); UINT64_MAX where not known (an earlier attempt of the
	 * same transaction had landed) */
	uint64_t first_fragment_id;
};

/*
 * Commit `c` as the next version of the dataset in `st`; *new_version is
 * the version written. Versions committed since c->read_version are
 * checked: concurrent appends, and deletes of other rows, are rebased
 * over (bounded retries with jittered back-off); anything else that
 * touches the same rows or fragments, or replaces the table, fails with
 * EBUSY (LC_EK_CONFLICT) naming the other operation and its version.
 * Deletion files are written per attempt; a failed commit may leave
 * unreferenced files behind, never a partial version.
 */
int lance_commit(uint64_t *new_version, struct ostore *st,
		 struct lance_commit *c, struct lc_err *err) LC_MUST_USE;

/*
 * What other writers did to fragments after a version: a change staged
 * against a committed row of version B (its fragment and offset) may go
 * on top of a later version only if no transaction since B moved its
 * rows, rewrote their values in place or replaced the table (Overwrite,
 * Restore, Merge, DataReplacement, Rewrite, an Update of columns; also
 * a version gone, whose transaction is unknown). Deletions of rows are
 * not recorded: whether the row itself is still there is the caller's
 * check on the later version.
 */
struct lance_history;
/* The transactions of the versions in (from, to]. */
int lance_history_load(struct lance_history **out, struct ostore *st,
		       uint64_t from, uint64_t to,
		       struct lc_err *err) LC_MUST_USE;
/* 0 when the rows of fragment `frag` as of version `base` (>= from) are
 * where they were at `to`, and (`values`) hold the values they held;
 * else EBUSY (LC_EK_CONFLICT) naming the version and operation that
 * changed them, and *replaced says whether the last change of the whole
 * table replaced it with others' rows (an Overwrite or Clone; not a
 * Restore, whose version may hold the row elsewhere). */
int lance_history_check(const struct lance_history *h, uint64_t base,
			uint64_t frag, bool values, bool *replaced,
			struct lc_err *err) LC_MUST_USE;
/* Whether a version after `base` renamed, dropped or added columns (a
 * Project): the caller compares the schemas. */
bool lance_history_projected(const struct lance_history *h, uint64_t base);
void lance_history_free(struct lance_history *h);

/* Crash recovery: did a transaction with this uuid land in a version
 * after `since`? *version is that version when *found. */
int lance_find_transaction(bool *found, uint64_t *version,
			   struct ostore *st, uint64_t since,
			   const char *uuid, struct lc_err *err) LC_MUST_USE;

#endif
