/* test_schema.c - logical type strings and the schema built from Fields. */
#include "harness.h"
#include "lance_int.h"
#include "fixture.h"

#include "file.pb-c.h"

static int parse(struct lance_type *t, const char *s)
{
	struct lc_err err = { 0 };

	return lance_type_parse(t, s, &err);
}

TEST(scalars)
{
	static const struct {
		const char *s;
		enum lance_type_id id;
		bool large;
		unsigned width;
	} cases[] = {
		{ "null", LANCE_T_NULL, false, 0 },
		{ "bool", LANCE_T_BOOL, false, 0 },
		{ "int8", LANCE_T_INT8, false, 1 },
		{ "uint8", LANCE_T_UINT8, false, 1 },
		{ "int16", LANCE_T_INT16, false, 2 },
		{ "uint16", LANCE_T_UINT16, false, 2 },
		{ "int32", LANCE_T_INT32, false, 4 },
		{ "uint32", LANCE_T_UINT32, false, 4 },
		{ "int64", LANCE_T_INT64, false, 8 },
		{ "uint64", LANCE_T_UINT64, false, 8 },
		{ "halffloat", LANCE_T_FLOAT16, false, 2 },
		{ "float", LANCE_T_FLOAT32, false, 4 },
		{ "double", LANCE_T_FLOAT64, false, 8 },
		{ "string", LANCE_T_UTF8, false, 0 },
		{ "large_string", LANCE_T_UTF8, true, 0 },
		{ "binary", LANCE_T_BINARY, false, 0 },
		{ "large_binary", LANCE_T_BINARY, true, 0 },
		{ "json", LANCE_T_BINARY, true, 0 },
		{ "struct", LANCE_T_STRUCT, false, 0 },
		{ "list", LANCE_T_LIST, false, 0 },
		{ "large_list", LANCE_T_LIST, true, 0 },
		{ "list.struct", LANCE_T_LIST, false, 0 },
		{ "large_list.struct", LANCE_T_LIST, true, 0 },
		{ "map", LANCE_T_MAP, false, 0 },
		{ "date32:day", LANCE_T_DATE32, false, 4 },
		{ "date64:ms", LANCE_T_DATE64, false, 8 },
		{ "fixed_size_binary:16", LANCE_T_FIXED_BINARY, false, 16 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct lance_type t;

		CHECK(parse(&t, cases[i].s) == 0);
		CHECK_EQ_U64(t.id, cases[i].id);
		CHECK_EQ_U64(t.large, cases[i].large);
		CHECK_EQ_U64(lance_type_width(&t), cases[i].width);
		/* JSON columns are large_binary holding JSONB */
		CHECK_EQ_U64(t.json, !strcmp(cases[i].s, "json"));
		lance_type_reset(&t);
	}
}

TEST(temporal)
{
	struct lance_type t;

	CHECK(parse(&t, "time32:s") == 0);
	CHECK(t.id == LANCE_T_TIME32 && t.unit == LANCE_UNIT_S);
	CHECK(parse(&t, "time32:ms") == 0 && t.unit == LANCE_UNIT_MS);
	CHECK(parse(&t, "time64:us") == 0);
	CHECK(t.id == LANCE_T_TIME64 && t.unit == LANCE_UNIT_US);
	CHECK(parse(&t, "time64:ns") == 0 && t.unit == LANCE_UNIT_NS);
	CHECK(parse(&t, "duration:ms") == 0);
	CHECK(t.id == LANCE_T_DURATION && t.unit == LANCE_UNIT_MS);
	CHECK(parse(&t, "timestamp:us:-") == 0);
	CHECK(t.id == LANCE_T_TIMESTAMP && t.unit == LANCE_UNIT_US);
	CHECK(t.tz == NULL);
	CHECK(parse(&t, "timestamp:ns:UTC") == 0);
	CHECK_STR(t.tz, "UTC");
	lance_type_reset(&t);
	CHECK(parse(&t, "timestamp:s:+05:30") == 0);
	CHECK_STR(t.tz, "+05:30");
	lance_type_reset(&t);
	CHECK(t.tz == NULL);
	/* time32 has no us/ns, time64 no s/ms */
	CHECK(parse(&t, "time32:us") == EIO);
	CHECK(parse(&t, "time64:s") == EIO);
	CHECK(parse(&t, "timestamp:xs:-") == EIO);
	CHECK(parse(&t, "timestamp:us") == EIO);
}

TEST(decimal_dict)
{
	struct lance_type t;

	CHECK(parse(&t, "decimal:128:10:2") == 0);
	CHECK(t.id == LANCE_T_DECIMAL128 && t.precision == 10 &&
	      t.scale == 2);
	CHECK_EQ_U64(lance_type_width(&t), 16);
	CHECK(parse(&t, "decimal:256:76:-3") == 0);
	CHECK(t.id == LANCE_T_DECIMAL256 && t.scale == -3);
	CHECK(parse(&t, "decimal:64:10:2") == EIO);
	CHECK(parse(&t, "decimal:128:39:2") == EIO);
	CHECK(parse(&t, "dict:string:int32:false") == 0);
	CHECK(t.id == LANCE_T_UTF8 && t.dict);
	CHECK(parse(&t, "dict:large_binary:uint8:false") == 0);
	CHECK(t.id == LANCE_T_BINARY && t.large && t.dict);
	CHECK(parse(&t, "dict:string:float:false") == EIO);
	CHECK(parse(&t, "dict:struct:int32:false") == EIO);
	CHECK(parse(&t, "dict:string:int32") == EIO);
}

TEST(fixed_size_list)
{
	struct lance_type t;

	CHECK(parse(&t, "fixed_size_list:float:128") == 0);
	CHECK(t.id == LANCE_T_FIXED_LIST && t.width == 128);
	CHECK(t.item && t.item->id == LANCE_T_FLOAT32);
	lance_type_reset(&t);
	CHECK(parse(&t, "fixed_size_list:fixed_size_list:int8:2:3") == 0);
	CHECK(t.width == 3 && t.item->id == LANCE_T_FIXED_LIST);
	CHECK(t.item->width == 2 && t.item->item->id == LANCE_T_INT8);
	lance_type_reset(&t);
	CHECK(parse(&t, "fixed_size_list:lance.bfloat16:8") == 0);
	CHECK(t.bfloat16 && t.width == 8);
	CHECK(t.item->id == LANCE_T_FIXED_BINARY && t.item->width == 2);
	lance_type_reset(&t);
	CHECK(parse(&t, "fixed_size_list:timestamp:us:+01:00:4") == 0);
	CHECK(t.width == 4 && t.item->id == LANCE_T_TIMESTAMP);
	CHECK_STR(t.item->tz, "+01:00");
	lance_type_reset(&t);
	CHECK(parse(&t, "fixed_size_list:float:0") == EIO);
	CHECK(parse(&t, "fixed_size_list:float:-1") == EIO);
	CHECK(parse(&t, "fixed_size_list:float:99999999999") == EIO);
	CHECK(parse(&t, "fixed_size_list:4") == EIO);
	CHECK(parse(&t, "fixed_size_list:bogus:4") == EIO);
}

TEST(hostile_types)
{
	static const char *bad[] = {
		"", "int", "int32 ", "INT32", "fixed_size_binary:",
		"fixed_size_binary:0", "fixed_size_binary:x",
		"date32:ms", "date64:day", "duration", "duration:h",
		"list:int32", "decimal:128:10", "dict::int32:false",
		"timestamp", ":", "::::", "decimal:128", "decimal",
		"dict:string", "dict:string:int32:maybe", "timestamp:us:",
	};
	struct lc_err err = { 0 };
	struct lance_type t;
	char deep[2048] = "";

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		lc_err_clear(&err);
		CHECK(lance_type_parse(&t, bad[i], &err) == EIO);
		CHECK(err.kind == LC_EK_UNSUPPORTED ||
		      err.kind == LC_EK_CORRUPT);
	}
	lc_err_clear(&err);
	CHECK(lance_type_parse(&t, "wat", &err) == EIO);
	CHECK(strstr(err.msg, "unknown logical type 'wat'") != NULL);
	/* Deep nesting is refused, not recursed without bound. */
	for (int i = 0; i < 100; i++)
		strcat(deep, "fixed_size_list:");
	strcat(deep, "int8");
	for (int i = 0; i < 100; i++)
		strcat(deep, ":2");
	lc_err_clear(&err);
	CHECK(lance_type_parse(&t, deep, &err) == EIO);
	CHECK(strstr(err.msg, "nested deeper") != NULL);
}

static struct lance_manifest *load(const char *rel)
{
	struct lc_err err = { 0 };
	struct lance_manifest *m = NULL;
	size_t len;
	uint8_t *buf = fixture_read(rel, &len);

	if (buf && lance_manifest_parse(&m, buf, len, &err))
		fprintf(stderr, "%s: %s\n", rel, err.msg);
	free(buf);
	return m;
}

TEST(lancedb_types)
{
	struct lance_manifest *m = load(
		"lancedb/types.lance/_versions/18446744073709551614.manifest");
	const struct lance_schema *s;
	const struct lance_field *f;

	CHECK(m);
	s = &m->schema;
	CHECK_EQ_U64(s->n_fields, 44);
	CHECK_EQ_U64(s->n_top, 35);
	CHECK_STR((const char *)s->metadata[0].value, "lancefs");
	CHECK_STR(s->metadata[0].key, "owner");
	for (size_t i = 0; i < s->n_fields; i++)
		CHECK_EQ_U64(s->fields[i].id, i);
	f = lance_schema_field_by_name(s, "i32");
	CHECK(f && f->type.id == LANCE_T_INT32 && !f->nullable);
	f = lance_schema_field_by_name(s, "vv");
	CHECK(f && f->type.width == 2 && f->type.item->width == 2);
	f = lance_schema_field_by_name(s, "tsz");
	CHECK(f && f->type.unit == LANCE_UNIT_NS);
	CHECK_STR(f->type.tz, "UTC");
	f = lance_schema_field_by_name(s, "dict");
	CHECK(f && f->type.dict && f->type.id == LANCE_T_UTF8);
	f = lance_schema_field_by_name(s, "dec");
	CHECK(f && f->type.precision == 10 && f->type.scale == 2);
	f = lance_schema_field_by_name(s, "st");
	CHECK(f && f->n_children == 2);
	CHECK_STR(f->children[1]->name, "y");
	CHECK(f->children[1]->parent == f);
	f = lance_schema_field_by_name(s, "st.y");
	CHECK(f && f->id == 32);
	f = lance_schema_field_by_name(s, "ls2");
	CHECK(f && f->type.id == LANCE_T_LIST && f->n_children == 1);
	CHECK_STR(f->logical_type, "list.struct");
	CHECK(f->children[0]->type.id == LANCE_T_STRUCT);
	CHECK_EQ_U64(f->children[0]->n_children, 2);
	f = lance_schema_field_by_name(s, "m");
	CHECK(f && f->type.id == LANCE_T_MAP);
	CHECK(f->children[0]->n_children == 2);
	CHECK_STR(f->children[0]->children[0]->name, "key");
	f = lance_schema_field_by_id(s, 43);
	CHECK(f && f->blob == LANCE_BLOB_V1);
	CHECK_STR(lance_field_meta(f, "lance-encoding:blob"), "true");
	CHECK(lance_schema_field_by_name(s, "lbin")->blob == LANCE_BLOB_NONE);
	CHECK(lance_schema_field_by_name(s, "nope") == NULL);
	CHECK(lance_schema_field_by_name(s, "st.nope") == NULL);
	CHECK(lance_schema_field_by_id(s, 44) == NULL);
	lance_manifest_free(m);
}

TEST(lancedb_blob_v2)
{
	struct lance_manifest *m = load(
		"lancedb/blobv2.lance/_versions/18446744073709551614.manifest");
	const struct lance_field *f;

	CHECK(m);
	f = lance_schema_field_by_name(&m->schema, "video");
	CHECK(f && f->blob == LANCE_BLOB_V2 && f->type.id == LANCE_T_STRUCT);
	CHECK_EQ_U64(f->n_children, 2);
	CHECK_STR(f->children[0]->name, "data");
	CHECK_STR(f->children[1]->name, "uri");
	CHECK(f->children[0]->blob == LANCE_BLOB_NONE);
	CHECK(!f->packed);
	lance_manifest_free(m);
}

/* Build Fields by hand: name, id, parent, type. */
struct spec {
	const char *name;
	int32_t id, parent;
	const char *type;
};

static int build(struct lance_schema *s, const struct spec *sp, size_t n,
		 struct lc_err *err)
{
	Lpb__Field fields[16], *ptrs[16];

	for (size_t i = 0; i < n; i++) {
		lpb__field__init(&fields[i]);
		fields[i].name = (char *)sp[i].name;
		fields[i].id = sp[i].id;
		fields[i].parent_id = sp[i].parent;
		fields[i].logical_type = (char *)sp[i].type;
		ptrs[i] = &fields[i];
	}
	return lance__schema_from_pb(s, ptrs, n, err);
}

TEST(hostile_schemas)
{
	struct lance_schema s;
	struct lc_err err = { 0 };
	const struct spec dup[] = {
		{ "a", 0, -1, "int32" }, { "b", 0, -1, "int32" },
	};
	const struct spec orphan[] = {
		{ "a", 0, -1, "struct" }, { "b", 1, 7, "int32" },
	};
	const struct spec cycle[] = {
		{ "a", 0, 1, "struct" }, { "b", 1, 0, "struct" },
	};
	const struct spec leafparent[] = {
		{ "a", 0, -1, "int32" }, { "b", 1, 0, "int32" },
	};
	const struct spec list2[] = {
		{ "a", 0, -1, "list" }, { "b", 1, 0, "int32" },
		{ "c", 2, 0, "int32" },
	};
	const struct spec badtype[] = { { "a", 0, -1, "int33" } };
	const struct spec negid[] = { { "a", -2, -1, "int32" } };
	const struct spec ok[] = {
		{ "s", 0, -1, "struct" }, { "x", 1, 0, "int32" },
		{ "l", 2, -1, "list" }, { "item", 3, 2, "string" },
	};

	CHECK(build(&s, dup, 2, &err) == EIO);
	CHECK(strstr(err.msg, "field id 0 is used by") != NULL);
	lc_err_clear(&err);
	CHECK(build(&s, orphan, 2, &err) == EIO);
	CHECK(strstr(err.msg, "unknown parent 7") != NULL);
	lc_err_clear(&err);
	CHECK(build(&s, cycle, 2, &err) == EIO);
	CHECK(strstr(err.msg, "cycle") != NULL);
	lc_err_clear(&err);
	CHECK(build(&s, leafparent, 2, &err) == EIO);
	CHECK(strstr(err.msg, "has no children") != NULL);
	lc_err_clear(&err);
	CHECK(build(&s, list2, 3, &err) == EIO);
	CHECK(strstr(err.msg, "has 2 children, expected 1") != NULL);
	lc_err_clear(&err);
	CHECK(build(&s, badtype, 1, &err) == EIO);
	CHECK(strstr(err.msg, "int33") != NULL);
	lc_err_clear(&err);
	CHECK(build(&s, negid, 1, &err) == EIO);
	lc_err_clear(&err);
	CHECK_OK(build(&s, ok, 4, &err), &err);
	CHECK_EQ_U64(s.n_top, 2);
	CHECK(s.top[1]->children[0]->type.id == LANCE_T_UTF8);
	lance_schema_reset(&s);
	lance_schema_reset(&s);	/* twice is fine */
}

TEST(alloc_failures)
{
	/* Every allocation of a schema build may fail; none may leak or
	 * crash (ASan checks). */
	const struct spec ok[] = {
		{ "s", 0, -1, "struct" }, { "x", 1, 0, "timestamp:us:UTC" },
		{ "v", 2, -1, "fixed_size_list:float:4" },
	};
	for (unsigned long n = 1; n < 40; n++) {
		struct lance_schema s;
		struct lc_err err = { 0 };
		int rc;

		lc_alloc_fail_after(n);
		rc = build(&s, ok, 3, &err);
		lc_alloc_fail_after(0);
		if (!rc) {
			lance_schema_reset(&s);
			break;
		}
		CHECK(rc == ENOMEM);
	}
}

TEST_MAIN(TEST_ENTRY(scalars), TEST_ENTRY(temporal),
	  TEST_ENTRY(decimal_dict), TEST_ENTRY(fixed_size_list),
	  TEST_ENTRY(hostile_types), TEST_ENTRY(lancedb_types),
	  TEST_ENTRY(lancedb_blob_v2), TEST_ENTRY(hostile_schemas),
	  TEST_ENTRY(alloc_failures))
