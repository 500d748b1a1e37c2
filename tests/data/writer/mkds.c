/*
 * mkds.c - write a one-fragment Lance dataset with format/writer.c, for
 * LanceDB to read (check_lancedb.js).
 *
 *   mkds DIR MINOR ROWS [edge|nullkid]
 *
 * DIR/data/writer-0.lance   the data file (file version 2.MINOR)
 * DIR/_versions/1.manifest  a minimal manifest (table-format.md 2.1):
 *                           u32 length + Manifest, then the 16-byte footer
 * DIR/../<name>.expected.json  what every row must read as, one JSON
 *                           object per row, as check_lancedb.js prints them
 */
#include <inttypes.h>
#include <time.h>

#include "wdata.h"
#include "ostore.h"
#include "table.pb-c.h"

static void die(const char *what, const struct lc_err *err)
{
	fprintf(stderr, "mkds: %s: %s\n", what, err ? err->msg : "");
	exit(1);
}

static uint32_t fnv1a(const uint8_t *p, uint64_t n)
{
	uint32_t h = 2166136261u;

	for (uint64_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* One value as JSON, in check_lancedb.js's normal form. */
static void json_value(FILE *o, const struct lance_field *f,
		       const struct lance_type *t,
		       const struct lance_array *a, uint64_t i)
{
	if (!lance_array_is_valid(a, i)) {
		fputs("null", o);
		return;
	}
	switch (t->id) {
	case LANCE_T_BOOL:
		fputs((a->values[i >> 3] >> (i & 7)) & 1 ? "true" : "false",
		      o);
		break;
	case LANCE_T_UINT8:
		fprintf(o, "%u", a->values[i]);
		break;
	case LANCE_T_INT32: {
		int32_t v;

		memcpy(&v, a->values + i * 4, 4);
		fprintf(o, "%" PRId32, v);
		break;
	}
	case LANCE_T_TIMESTAMP:
	case LANCE_T_INT64: {
		int64_t v;

		memcpy(&v, a->values + i * 8, 8);
		fprintf(o, "%" PRId64, v);
		break;
	}
	case LANCE_T_FLOAT32: {
		float v;

		memcpy(&v, a->values + i * 4, 4);
		fprintf(o, "%.17g", (double)v);
		break;
	}
	case LANCE_T_FLOAT64: {
		double v;

		memcpy(&v, a->values + i * 8, 8);
		fprintf(o, "%.17g", v);
		break;
	}
	case LANCE_T_DECIMAL128: {
		int64_t lo;

		/* the test values fit in 64 bits */
		memcpy(&lo, a->values + i * 16, 8);
		fprintf(o, "\"dec:%" PRId64 "\"", lo);
		break;
	}
	case LANCE_T_UTF8: {
		uint64_t s = a->offsets[i], e = a->offsets[i + 1];

		/* the test strings are plain ASCII letters and digits */
		fprintf(o, "\"%.*s\"", (int)(e - s),
			(const char *)a->values + s);
		break;
	}
	case LANCE_T_BINARY: {
		uint64_t s = a->offsets[i], e = a->offsets[i + 1];

		fprintf(o, "\"bin:%" PRIu64 ":%08x\"", e - s,
			fnv1a(a->values + s, e - s));
		break;
	}
	case LANCE_T_FIXED_BINARY:
		fprintf(o, "\"bin:%d:%08x\"", t->width,
			fnv1a(a->values + i * (uint64_t)t->width,
			      (uint64_t)t->width));
		break;
	case LANCE_T_FIXED_LIST:
		fputc('[', o);
		for (int32_t k = 0; k < t->width; k++) {
			if (k)
				fputc(',', o);
			json_value(o, NULL, t->item, &a->children[0],
				   i * (uint64_t)t->width + (uint64_t)k);
		}
		fputc(']', o);
		break;
	case LANCE_T_LIST:
		fputc('[', o);
		for (uint64_t k = a->offsets[i]; k < a->offsets[i + 1]; k++) {
			if (k > a->offsets[i])
				fputc(',', o);
			json_value(o, f->children[0], &f->children[0]->type,
				   &a->children[0], k);
		}
		fputc(']', o);
		break;
	case LANCE_T_STRUCT:
		fputc('{', o);
		for (size_t c = 0; c < f->n_children; c++) {
			fprintf(o, "%s\"%s\":", c ? "," : "",
				f->children[c]->name);
			json_value(o, f->children[c], &f->children[c]->type,
				   &a->children[c], i);
		}
		fputc('}', o);
		break;
	default:
		fprintf(stderr, "mkds: no JSON for %s\n", f ? f->name : "?");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct lc_err err = { 0 };
	struct lance_schema s = { 0 };
	struct lance_writer *w = NULL;
	struct lance_data_file df = { 0 };
	struct lance_array cols[WD_NTOP];
	struct ostore *st = NULL;
	struct wd_opts o = { .big = true };
	int32_t ids[WD_NTOP];
	uint8_t *bytes = NULL;
	size_t len = 0;
	unsigned minor;
	uint64_t rows;
	char path[4096];
	FILE *out;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: mkds DIR MINOR ROWS [edge|nullkid]\n");
		return 2;
	}
	minor = (unsigned)atoi(argv[2]);
	rows = strtoull(argv[3], NULL, 10);
	o.struct_nulls = minor > 0;
	o.edge = argc == 5 && !strcmp(argv[4], "edge");
	o.kid_null = argc == 5 && !strcmp(argv[4], "nullkid");
	if (wd_schema(&s, &err))
		die("schema", &err);
	for (size_t i = 0; i < WD_NTOP; i++) {
		ids[i] = s.top[i]->id;
		wd_column(&cols[i], &s, i, 0, rows, &o);
	}
	if (lance_writer_new(&w, &s, ids, WD_NTOP, 2, (uint16_t)minor, &err) ||
	    lance_writer_add(w, cols, &err) ||
	    lance_writer_finish(w, &bytes, &len, &df, &err))
		die("writer", &err);
	lance_writer_free(w);
	if (ostore_local_new(&st, argv[1], &err) ||
	    ostore_put(st, "data/writer-0.lance", bytes, len, 0, &err))
		die("data file", &err);
	lc_free(bytes);

	/* the manifest */
	{
		Lpb__Field pf[WD_NFIELDS], *pp[WD_NFIELDS];
		Lpb__DataFile dfile;
		Lpb__DataFile *dfp = &dfile;
		Lpb__DataFragment frag;
		Lpb__DataFragment *fragp = &frag;
		Lpb__Manifest m;
		Lpb__Timestamp ts;
		Lpb__WriterVersion wv;
		Lpb__DataStorageFormat fmt;
		char ver[8], name[] = "writer-0.lance", lib[] = "lancefs",
		     libv[] = "0.1.0", lance[] = "lance";
		size_t n = 0, plen;
		uint8_t *buf;

		lpb__data_file__init(&dfile);
		lpb__data_fragment__init(&frag);
		lpb__manifest__init(&m);
		lpb__timestamp__init(&ts);
		lpb__writer_version__init(&wv);
		lpb__data_storage_format__init(&fmt);
		for (size_t i = 0; i < WD_NFIELDS; i++) {
			lpb__field__init(&pf[i]);
			pf[i].name = (char *)wd_fields[i].name;
			pf[i].id = (int32_t)i;
			pf[i].parent_id = wd_fields[i].parent;
			pf[i].logical_type = (char *)wd_fields[i].type;
			pf[i].nullable = wd_fields[i].nullable;
			pp[i] = &pf[i];
		}
		dfile.path = name;
		dfile.fields = df.fields;
		dfile.n_fields = df.n_fields;
		dfile.column_indices = df.column_indices;
		dfile.n_column_indices = df.n_column_indices;
		dfile.file_major_version = df.major;
		dfile.file_minor_version = df.minor;
		dfile.file_size_bytes = df.size;
		frag.id = 0;
		frag.n_files = 1;
		frag.files = &dfp;
		frag.physical_rows = rows;
		snprintf(ver, sizeof(ver), "2.%u", minor);
		ts.seconds = (int64_t)time(NULL);
		wv.library = lib;
		wv.version = libv;
		fmt.file_format = lance;
		fmt.version = ver;
		m.n_fields = WD_NFIELDS;
		m.fields = pp;
		m.n_fragments = 1;
		m.fragments = &fragp;
		m.version = 1;
		m.timestamp = &ts;
		m.writer_version = &wv;
		m.data_format = &fmt;
		m.has_max_fragment_id_case =
			LPB__MANIFEST__HAS_MAX_FRAGMENT_ID_MAX_FRAGMENT_ID;
		m.max_fragment_id = 0;
		plen = lpb__manifest__get_packed_size(&m);
		buf = malloc(plen + 4 + 16);
		if (!buf)
			die("manifest", NULL);
		lc_put_le32(buf, (uint32_t)plen);
		n = 4 + lpb__manifest__pack(&m, buf + 4);
		lc_put_le64(buf + n, 0);	/* P: the manifest is at 0 */
		lc_put_le16(buf + n + 8, 0);
		lc_put_le16(buf + n + 10, 2);
		memcpy(buf + n + 12, "LANC", 4);
		if (ostore_put(st, "_versions/1.manifest", buf, n + 16, 0,
			       &err))
			die("manifest", &err);
		free(buf);
	}

	/* what LanceDB must return */
	snprintf(path, sizeof(path), "%s.expected.json", argv[1]);
	out = fopen(path, "w");
	if (!out)
		die(path, NULL);
	for (uint64_t r = 0; r < rows; r++) {
		fputc('{', out);
		for (size_t i = 0; i < WD_NTOP; i++) {
			const struct lance_field *f = s.top[i];

			fprintf(out, "%s\"%s\":", i ? "," : "", f->name);
			json_value(out, f, &f->type, &cols[i], r);
		}
		fputs("}\n", out);
	}
	if (fclose(out))
		die(path, NULL);
	for (size_t i = 0; i < WD_NTOP; i++)
		wd_free(&cols[i]);
	lc_free(df.fields);
	lc_free(df.column_indices);
	ostore_free(st);
	lance_schema_reset(&s);
	return 0;
}
