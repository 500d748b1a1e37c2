/*
 * manifest.c - a manifest file's framing and its Manifest message
 * (table-format.md sections 2.1-2.9).
 *
 * A manifest file is a run of u32-length-prefixed protobuf blobs (an
 * optional IndexSection, the Transaction, legacy dictionary values) with
 * the Manifest last, then a 16-byte footer:
 *     i64 P | u16 major = 0 | u16 minor = 2 | "LANC"
 * where P is the offset of the Manifest's u32 length, which must equal
 * size - P - 4 - 16: nothing may sit between the Manifest and the footer.
 */
#include "lance_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "table.pb-c.h"

#define FOOTER_LEN 16
/* Reader feature flags we understand (section 2.9). */
#define KNOWN_READER_FLAGS                                                \
	(LANCE_FLAG_DELETION_FILES | LANCE_FLAG_STABLE_ROW_IDS |          \
	 LANCE_FLAG_V2_DEPRECATED | LANCE_FLAG_TABLE_CONFIG |             \
	 LANCE_FLAG_BASE_PATHS | LANCE_FLAG_NO_TXN_FILE |                 \
	 LANCE_FLAG_COVERED_INDEX | LANCE_FLAG_MIXED_VERSIONS)

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = lc_strdup(s);
	if (!d)
		*oom = true;
	return d;
}

/* Lists the set bits of v as "64, 512" into buf. */
static void bit_list(char *buf, size_t len, uint64_t v)
{
	size_t used = 0;

	buf[0] = 0;
	for (int b = 0; b < 64 && used < len; b++) {
		if (!(v >> b & 1))
			continue;
		int w = snprintf(buf + used, len - used, "%s%" PRIu64,
				 used ? ", " : "", (uint64_t)1 << b);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static int check_flags(uint64_t rf, uint64_t wf, struct lc_err *err)
{
	uint64_t unknown = rf & ~(uint64_t)KNOWN_READER_FLAGS;
	char bits[160];

	if (unknown) {
		bit_list(bits, sizeof(bits), unknown);
		return LC_UNSUPPORTED(err, "manifest: reader feature flags "
				      "0x%" PRIx64 " include unknown bits (%s)",
				      rf, bits);
	}
	if ((rf & LANCE_FLAG_MIXED_VERSIONS) !=
	    (wf & LANCE_FLAG_MIXED_VERSIONS))
		return LC_CORRUPT(err, "manifest: feature flag 256 (mixed data "
				  "file versions) is set in only one of the "
				  "reader (0x%" PRIx64 ") and writer (0x%"
				  PRIx64 ") flags", rf, wf);
	return 0;
}

static const Lpb__BasePath *find_base(const Lpb__Manifest *pm, uint32_t id)
{
	for (size_t i = 0; i < pm->n_base_paths; i++)
		if (pm->base_paths[i]->id == id)
			return pm->base_paths[i];
	return NULL;
}

/* "data/<path>" under the dataset root or a dataset-root base; a plain
 * base holds the file directly under its path. */
static int data_file_key(char **out, const Lpb__Manifest *pm,
			 const Lpb__DataFile *pd, struct lc_err *err)
{
	const char *p = pd->path ? pd->path : "";
	bool plain = false;
	size_t n;

	*out = NULL;
	if (!*p)
		return LC_CORRUPT(err, "data file with an empty path");
	if (pd->has_base_id_case == LPB__DATA_FILE__HAS_BASE_ID_BASE_ID) {
		const Lpb__BasePath *b = find_base(pm, pd->base_id);

		if (!b)
			return LC_CORRUPT(err, "data file %.200s names base "
					  "path %u, which the manifest does "
					  "not list", p, pd->base_id);
		plain = !b->is_dataset_root;
	}
	if (plain) {
		*out = lc_strdup(p);
	} else {
		n = strlen(p);
		*out = lc_malloc(n + 6);
		if (*out) {
			memcpy(*out, "data/", 5);
			memcpy(*out + 5, p, n + 1);
		}
	}
	return *out ? 0 : LC_NOMEM(err);
}

static int copy_data_file(struct lance_data_file *df, const Lpb__Manifest *pm,
			  const Lpb__DataFile *pd, struct lc_err *err)
{
	int rc = data_file_key(&df->path, pm, pd, err);

	if (rc)
		return rc;
	df->fields = lc_calloc(pd->n_fields, sizeof(int32_t));
	df->column_indices = lc_calloc(pd->n_column_indices, sizeof(int32_t));
	if (!df->fields || !df->column_indices)
		return LC_NOMEM(err);
	if (pd->n_fields)
		memcpy(df->fields, pd->fields, pd->n_fields * sizeof(int32_t));
	if (pd->n_column_indices)
		memcpy(df->column_indices, pd->column_indices,
		       pd->n_column_indices * sizeof(int32_t));
	df->n_fields = pd->n_fields;
	df->n_column_indices = pd->n_column_indices;
	df->major = pd->file_major_version;
	df->minor = pd->file_minor_version;
	df->size = pd->file_size_bytes;
	df->has_base_id =
		pd->has_base_id_case == LPB__DATA_FILE__HAS_BASE_ID_BASE_ID;
	df->base_id = pd->base_id;
	return 0;
}

static int copy_fragment(struct lance_fragment *f, const Lpb__Manifest *pm,
			 const Lpb__DataFragment *pf, struct lc_err *err)
{
	int rc;

	f->id = pf->id;
	f->physical_rows = pf->physical_rows;
	if (pf->id > UINT32_MAX)
		return LC_UNSUPPORTED(err, "fragment id %" PRIu64 " does not "
				      "fit the 32 bits of a row address",
				      pf->id);
	if (pf->physical_rows > UINT32_MAX)
		return LC_UNSUPPORTED(err, "fragment %" PRIu64 " has %" PRIu64
				      " rows, more than a row address can "
				      "name", pf->id, pf->physical_rows);
	f->files = lc_calloc(pf->n_files, sizeof(*f->files));
	if (!f->files)
		return LC_NOMEM(err);
	for (size_t i = 0; i < pf->n_files; i++) {
		f->n_files = i + 1;
		rc = copy_data_file(&f->files[i], pm, pf->files[i], err);
		if (rc) {
			lc_err_prefix(err, "fragment %" PRIu64 ": ", pf->id);
			return rc;
		}
	}
	if (pf->deletion_file) {
		const Lpb__DeletionFile *d = pf->deletion_file;
		struct lance_deletion_file *o = &f->deletion;

		if (d->file_type != LPB__DELETION_FILE__KIND__ARROW_ARRAY &&
		    d->file_type != LPB__DELETION_FILE__KIND__BITMAP)
			return LC_UNSUPPORTED(err, "fragment %" PRIu64 ": "
					      "deletion file type %d",
					      pf->id, (int)d->file_type);
		o->present = true;
		o->type = d->file_type == LPB__DELETION_FILE__KIND__BITMAP ?
				  LANCE_DEL_BITMAP : LANCE_DEL_ARROW;
		o->read_version = d->read_version;
		o->id = d->id;
		o->num_deleted = d->num_deleted_rows;
		o->has_base_id = d->has_base_id_case ==
				 LPB__DELETION_FILE__HAS_BASE_ID_BASE_ID;
		o->base_id = d->base_id;
		if (o->has_base_id && !find_base(pm, o->base_id))
			return LC_CORRUPT(err, "fragment %" PRIu64 ": deletion"
					  " file names base path %u, which "
					  "the manifest does not list",
					  pf->id, o->base_id);
		if (f->physical_rows && o->num_deleted > f->physical_rows)
			return LC_CORRUPT(err, "fragment %" PRIu64 ": %" PRIu64
					  " deleted rows of %" PRIu64, pf->id,
					  o->num_deleted, f->physical_rows);
	}
	switch (pf->row_id_sequence_case) {
	case LPB__DATA_FRAGMENT__ROW_ID_SEQUENCE_INLINE_ROW_IDS:
		f->row_ids = lc_malloc(pf->inline_row_ids.len);
		if (!f->row_ids)
			return LC_NOMEM(err);
		if (pf->inline_row_ids.len)
			memcpy(f->row_ids, pf->inline_row_ids.data,
			       pf->inline_row_ids.len);
		f->row_ids_len = pf->inline_row_ids.len;
		break;
	case LPB__DATA_FRAGMENT__ROW_ID_SEQUENCE_EXTERNAL_ROW_IDS: {
		const Lpb__ExternalFile *e = pf->external_row_ids;

		if (!e->path || !*e->path)
			return LC_CORRUPT(err, "fragment %" PRIu64 ": external"
					  " row ids without a path", pf->id);
		f->row_ids_ext.path = lc_strdup(e->path);
		if (!f->row_ids_ext.path)
			return LC_NOMEM(err);
		f->row_ids_ext.offset = e->offset;
		f->row_ids_ext.size = e->size;
		break;
	}
	default:
		break;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static int check_fragment_ids(const struct lance_manifest *m,
			      struct lc_err *err)
{
	uint64_t *ids;
	int rc = 0;

	if (m->n_fragments < 2)
		return 0;
	ids = lc_calloc(m->n_fragments, sizeof(*ids));
	if (!ids)
		return LC_NOMEM(err);
	for (size_t i = 0; i < m->n_fragments; i++)
		ids[i] = m->fragments[i].id;
	qsort(ids, m->n_fragments, sizeof(*ids), cmp_u64);
	for (size_t i = 1; i < m->n_fragments; i++) {
		if (ids[i] == ids[i - 1]) {
			rc = LC_CORRUPT(err, "manifest: fragment id %" PRIu64
					" appears twice", ids[i]);
			break;
		}
	}
	lc_free(ids);
	return rc;
}

static int fill(struct lance_manifest *m, const Lpb__Manifest *pm,
		struct lc_err *err)
{
	bool oom = false;
	int rc;

	m->version = pm->version;
	if (pm->timestamp) {
		m->timestamp_sec = pm->timestamp->seconds;
		m->timestamp_nsec = pm->timestamp->nanos;
	}
	m->reader_flags = pm->reader_feature_flags;
	m->writer_flags = pm->writer_feature_flags;
	m->has_max_fragment_id = pm->has_max_fragment_id_case ==
		LPB__MANIFEST__HAS_MAX_FRAGMENT_ID_MAX_FRAGMENT_ID;
	m->max_fragment_id = pm->max_fragment_id;
	m->next_row_id = pm->next_row_id;
	m->has_index_section = pm->has_index_section_case ==
		LPB__MANIFEST__HAS_INDEX_SECTION_INDEX_SECTION;
	m->index_section = pm->index_section;
	m->has_transaction_section = pm->has_transaction_section_case ==
		LPB__MANIFEST__HAS_TRANSACTION_SECTION_TRANSACTION_SECTION;
	m->transaction_section = pm->transaction_section;
	if (pm->data_format)
		m->data_format = dup_or_null(pm->data_format->version, &oom);
	if (pm->writer_version) {
		m->writer_library = dup_or_null(pm->writer_version->library,
						&oom);
		m->writer_version = dup_or_null(pm->writer_version->version,
						&oom);
	}
	if (pm->transaction_file && *pm->transaction_file)
		m->transaction_file = dup_or_null(pm->transaction_file, &oom);
	if (pm->has_branch_case == LPB__MANIFEST__HAS_BRANCH_BRANCH)
		m->branch = dup_or_null(pm->branch, &oom);
	if (oom)
		return LC_NOMEM(err);

	rc = check_flags(m->reader_flags, m->writer_flags, err);
	if (rc)
		return rc;
	rc = lance__schema_from_pb(&m->schema, pm->fields, pm->n_fields, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < pm->n_schema_metadata; i++) {
		const Lpb__Manifest__SchemaMetadataEntry *e =
			pm->schema_metadata[i];

		rc = lance__kv_add(&m->schema.metadata,
				   &m->schema.n_metadata, e->key,
				   e->value.data, e->value.len, err);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < pm->n_config; i++) {
		const Lpb__Manifest__ConfigEntry *e = pm->config[i];
		const char *v = e->value ? e->value : "";

		rc = lance__kv_add(&m->config, &m->n_config, e->key,
				   (const uint8_t *)v, strlen(v), err);
		if (rc)
			return rc;
	}
	m->base_paths = lc_calloc(pm->n_base_paths, sizeof(*m->base_paths));
	if (!m->base_paths)
		return LC_NOMEM(err);
	for (size_t i = 0; i < pm->n_base_paths; i++) {
		const Lpb__BasePath *b = pm->base_paths[i];
		struct lance_base_path *o = &m->base_paths[i];

		m->n_base_paths = i + 1;
		o->id = b->id;
		o->is_dataset_root = b->is_dataset_root;
		o->path = dup_or_null(b->path ? b->path : "", &oom);
		if (b->has_name_case == LPB__BASE_PATH__HAS_NAME_NAME)
			o->name = dup_or_null(b->name, &oom);
		if (oom)
			return LC_NOMEM(err);
		if (!*o->path)
			return LC_CORRUPT(err, "manifest: base path %u has an "
					  "empty path", o->id);
		for (size_t j = 0; j < i; j++)
			if (m->base_paths[j].id == o->id)
				return LC_CORRUPT(err, "manifest: base path id"
						  " %u appears twice", o->id);
	}
	m->fragments = lc_calloc(pm->n_fragments, sizeof(*m->fragments));
	if (!m->fragments)
		return LC_NOMEM(err);
	for (size_t i = 0; i < pm->n_fragments; i++) {
		m->n_fragments = i + 1;
		rc = copy_fragment(&m->fragments[i], pm, pm->fragments[i], err);
		if (rc)
			return rc;
	}
	return check_fragment_ids(m, err);
}

int lance_manifest_parse(struct lance_manifest **out, const uint8_t *buf,
			 size_t len, struct lc_err *err)
{
	struct lance_manifest *m = NULL;
	Lpb__Manifest *pm = NULL;
	const uint8_t *ft;
	uint64_t pos, body;
	uint32_t mlen;
	int rc;

	*out = NULL;
	if (len < FOOTER_LEN + 4)
		return LC_CORRUPT(err, "manifest: %zu bytes is too short", len);
	ft = buf + len - FOOTER_LEN;
	if (memcmp(ft + 12, "LANC", 4))
		return LC_CORRUPT(err, "manifest: bad magic %02x%02x%02x%02x, "
				  "expected LANC", ft[12], ft[13], ft[14],
				  ft[15]);
	if (lc_le16(ft + 8) != 0)
		return LC_UNSUPPORTED(err, "manifest: footer version %u.%u",
				      lc_le16(ft + 8), lc_le16(ft + 10));
	pos = lc_le64(ft);
	body = len - FOOTER_LEN;
	if (!lc_range_ok(pos, 4, body))
		return LC_CORRUPT(err, "manifest: position %" PRIu64 " is "
				  "outside the %zu-byte file", pos, len);
	mlen = lc_le32(buf + pos);
	if (mlen != body - pos - 4)
		return LC_CORRUPT(err, "manifest: length %u at %" PRIu64
				  " does not match the %" PRIu64 " bytes "
				  "before the footer", mlen, pos,
				  body - pos - 4);
	rc = lance__pb_check(buf + pos + 4, mlen, LANCE_PB_MAX_DEPTH,
			     "manifest", err);
	if (rc)
		return rc;
	pm = lpb__manifest__unpack(NULL, mlen, buf + pos + 4);
	if (!pm)
		return LC_CORRUPT(err, "manifest: the Manifest message does "
				  "not parse");
	m = lc_calloc(1, sizeof(*m));
	if (!m) {
		rc = LC_NOMEM(err);
		goto out;
	}
	rc = fill(m, pm, err);
	if (rc)
		goto out;
	if (m->has_transaction_section &&
	    !lc_range_ok(m->transaction_section, 4, pos)) {
		rc = LC_CORRUPT(err, "manifest: transaction section at %"
				PRIu64 " is not before the manifest at %"
				PRIu64, m->transaction_section, pos);
		goto out;
	}
	if (m->has_index_section && !lc_range_ok(m->index_section, 4, pos)) {
		rc = LC_CORRUPT(err, "manifest: index section at %" PRIu64
				" is not before the manifest at %" PRIu64,
				m->index_section, pos);
		goto out;
	}
	m->raw = lc_malloc(len);
	if (!m->raw) {
		rc = LC_NOMEM(err);
		goto out;
	}
	memcpy(m->raw, buf, len);
	m->raw_len = len;
out:
	lpb__manifest__free_unpacked(pm, NULL);
	if (rc) {
		lance_manifest_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

static void data_file_reset(struct lance_data_file *df)
{
	lc_free(df->path);
	lc_free(df->fields);
	lc_free(df->column_indices);
}

void lance_manifest_free(struct lance_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_fragments; i++) {
		struct lance_fragment *f = &m->fragments[i];

		for (size_t j = 0; j < f->n_files; j++)
			data_file_reset(&f->files[j]);
		lc_free(f->files);
		lc_free(f->row_ids);
		lc_free(f->row_ids_ext.path);
	}
	lc_free(m->fragments);
	for (size_t i = 0; i < m->n_base_paths; i++) {
		lc_free(m->base_paths[i].name);
		lc_free(m->base_paths[i].path);
	}
	lc_free(m->base_paths);
	lance_schema_reset(&m->schema);
	lance__kv_free(m->config, m->n_config);
	lc_free(m->data_format);
	lc_free(m->writer_library);
	lc_free(m->writer_version);
	lc_free(m->transaction_file);
	lc_free(m->branch);
	lc_free(m->raw);
	lc_free(m);
}

const char *lance_manifest_config(const struct lance_manifest *m,
				  const char *key)
{
	for (size_t i = 0; i < m->n_config; i++)
		if (!strcmp(m->config[i].key, key))
			return (const char *)m->config[i].value;
	return NULL;
}

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool kv_same(const struct lance_kv *a, size_t na,
		    const struct lance_kv *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].key, b[i].key) ||
		    a[i].value_len != b[i].value_len ||
		    memcmp(a[i].value, b[i].value, a[i].value_len))
			return false;
	return true;
}

static bool ints_same(const int32_t *a, size_t na, const int32_t *b,
		      size_t nb)
{
	return na == nb && (!na || !memcmp(a, b, na * sizeof(*a)));
}

static bool field_same(const struct lance_field *a,
		       const struct lance_field *b)
{
	return a->id == b->id && a->parent_id == b->parent_id &&
	       a->nullable == b->nullable && str_same(a->name, b->name) &&
	       str_same(a->logical_type, b->logical_type) &&
	       kv_same(a->metadata, a->n_metadata, b->metadata,
		       b->n_metadata);
}

static bool data_file_same(const struct lance_data_file *a,
			   const struct lance_data_file *b)
{
	return str_same(a->path, b->path) &&
	       ints_same(a->fields, a->n_fields, b->fields, b->n_fields) &&
	       ints_same(a->column_indices, a->n_column_indices,
			 b->column_indices, b->n_column_indices) &&
	       a->major == b->major && a->minor == b->minor &&
	       a->size == b->size && a->has_base_id == b->has_base_id &&
	       a->base_id == b->base_id;
}

static bool fragment_same(const struct lance_fragment *a,
			  const struct lance_fragment *b)
{
	const struct lance_deletion_file *da = &a->deletion, *db = &b->deletion;

	if (a->id != b->id || a->physical_rows != b->physical_rows ||
	    a->n_files != b->n_files || da->present != db->present ||
	    (da->present &&
	     (da->type != db->type || da->id != db->id ||
	      da->read_version != db->read_version ||
	      da->has_base_id != db->has_base_id ||
	      da->base_id != db->base_id)) ||
	    a->row_ids_len != b->row_ids_len ||
	    (a->row_ids_len && memcmp(a->row_ids, b->row_ids,
				      a->row_ids_len)) ||
	    !str_same(a->row_ids_ext.path, b->row_ids_ext.path) ||
	    a->row_ids_ext.offset != b->row_ids_ext.offset ||
	    a->row_ids_ext.size != b->row_ids_ext.size)
		return false;
	for (size_t i = 0; i < a->n_files; i++)
		if (!data_file_same(&a->files[i], &b->files[i]))
			return false;
	return true;
}

bool lance_manifest_appends(const struct lance_manifest *a,
			    const struct lance_manifest *b)
{
	const struct lance_schema *sa = &a->schema, *sb = &b->schema;

	if (a == b)
		return true;
	if (sa->n_fields != sb->n_fields || b->n_fragments < a->n_fragments ||
	    a->n_base_paths != b->n_base_paths ||
	    (a->reader_flags & LANCE_FLAG_STABLE_ROW_IDS) !=
		    (b->reader_flags & LANCE_FLAG_STABLE_ROW_IDS) ||
	    !kv_same(sa->metadata, sa->n_metadata, sb->metadata,
		     sb->n_metadata) ||
	    !kv_same(a->config, a->n_config, b->config, b->n_config))
		return false;
	for (size_t i = 0; i < sa->n_fields; i++)
		if (!field_same(&sa->fields[i], &sb->fields[i]))
			return false;
	for (size_t i = 0; i < a->n_base_paths; i++) {
		const struct lance_base_path *pa = &a->base_paths[i],
					     *pb = &b->base_paths[i];

		if (pa->id != pb->id ||
		    pa->is_dataset_root != pb->is_dataset_root ||
		    !str_same(pa->name, pb->name) ||
		    !str_same(pa->path, pb->path))
			return false;
	}
	for (size_t i = 0; i < a->n_fragments; i++)
		if (!fragment_same(&a->fragments[i], &b->fragments[i]))
			return false;
	return true;
}

uint64_t lance_data_file_key(const char *path)
{
	return lc_hash_str(path) | 1;
}

uint64_t lance_fragment_key(const struct lance_fragment *f)
{
	return f->n_files ? lance_data_file_key(f->files[0].path) : 0;
}

static bool has_key(const struct lance_fragment *f, uint64_t key)
{
	for (size_t i = 0; i < f->n_files; i++)
		if (lance_data_file_key(f->files[i].path) == key)
			return true;
	return false;
}

bool lance_manifest_other_table(const struct lance_manifest *m,
				uint64_t version, uint64_t fragment_id,
				uint64_t key)
{
	if (version > m->version)
		return true;
	for (size_t i = 0; key && i < m->n_fragments; i++)
		if (m->fragments[i].id == fragment_id)
			return !has_key(&m->fragments[i], key);
	return false;
}
