/* test_ingest.c - staged rows become Lance rows: assembly by the
 * meta.json rules (each checked as the inverse of the view's rendering),
 * refusals and their messages, schema inference, commits into a
 * LanceDB-written dataset and into a new one (read back by our reader and
 * view), and kill -9 between recording a batch and finishing it. */
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "fixture.h"
#include "ingest.h"
#include "render.h"
#include "staging.h"
#include "view.h"

/* ------------------------------------------------------------ helpers */

static void puts_file(const char *dir, const char *name, const char *text)
{
	harness_put_file(dir, name, text, strlen(text));
}

#include "every_type.h"


/* meta.json of the good row: exactly what the view renders back. */
static const char good_meta[] =
	"{\"id\":7,\"i8\":-128,\"u16\":65535,"
	"\"i64\":-9223372036854775808,\"u64\":9223372036854775807,"
	"\"f16\":1.5,\"f32\":0.1,\"f64\":2.5e-300,\"b\":true,"
	"\"d32\":\"2024-02-29\",\"d64\":\"1969-12-31\","
	"\"t32\":\"23:59:59.123\",\"t64\":\"00:00:01.000001\","
	"\"ts\":\"2024-05-01T12:34:56.789012Z\","
	"\"tsn\":\"1900-01-01T00:00:00.000000001\","
	"\"dec\":\"-12345678.90\",\"fsb\":\"00ff10ab\","
	"\"vec\":[1.0,-2.5,3.0],\"l\":[1,2,3],"
	"\"st\":{\"a\":5,\"s\":\"x\\u00e9\"},\"dur\":-5,"
	"\"doc\":{\"z\":[9007199254740993,-2,0.5,\"\\u00e9\",null,true],"
	"\"a\":{}}}";

/* The value of column `col` in row `row`, as the view renders it. */
static const char *rendered(const struct lance_array *cols,
			    const struct lance_schema *s, const char *col,
			    uint64_t row)
{
	static char out[4096];
	struct lc_buf b;
	struct lc_err err = { 0 };

	for (size_t i = 0; i < s->n_top; i++) {
		if (strcmp(s->top[i]->name, col))
			continue;
		lc_buf_init(&b, 0);
		if (render_json_value(&b, &cols[i], row, &err) ||
		    lc_buf_append(&b, "", 1, &err))
			snprintf(out, sizeof(out), "error: %s", err.msg);
		else
			snprintf(out, sizeof(out), "%s", (char *)b.data);
		lc_buf_reset(&b);
		return out;
	}
	return "(no column)";
}

struct fx {
	char dir[64];
	struct lance_schema s;
	struct ingest_rows *r;
};

/* A scratch folder and rows of the schema `defs` (name column "name"). */
static int fx_open_defs(struct fx *fx, const struct lance_field_def *defs,
			size_t n, struct lc_err *err)
{
	struct ingest_opts o = { "name", NULL, NULL, false };
	int rc;

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/lancefs-ingest-XXXXXX");
	if (!mkdtemp(fx->dir))
		return errno;
	rc = lance_schema_build(&fx->s, defs, n, err);
	if (!rc)
		rc = ingest_rows_new(&fx->r, &fx->s, &o, false, err);
	return rc;
}

static int fx_open(struct fx *fx, struct lc_err *err)
{
	return fx_open_defs(fx, every_type_defs, EVERY_TYPE_N, err);
}

static void fx_close(struct fx *fx)
{
	ingest_rows_free(fx->r);
	lance_schema_reset(&fx->s);
	harness_rm_rf(fx->dir);
}

/* A row folder under fx->dir holding meta.json `meta` (and id if the
 * test does not care). */
static const char *row_dir(struct fx *fx, const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	mkdir(path, 0755);
	return path;
}

/* Assemble a folder holding only meta.json `meta`; returns the errno and
 * leaves the message in err. */
static int try_meta(struct fx *fx, const char *name, const char *meta,
		    struct lc_err *err)
{
	const char *d = row_dir(fx, name);

	lc_err_clear(err);
	puts_file(d, "meta.json", meta);
	return ingest_row(fx->r, d, name, false, err);
}

#define CHECK_REFUSED(call, errp, text)                                    \
	do {                                                               \
		int rc__ = (call);                                         \
		if (rc__ != EINVAL || !strstr((errp)->msg, (text))) {      \
			fprintf(stderr, "%s:%d: rc %d, message \"%s\", "   \
				"expected \"%s\"\n", __FILE__, __LINE__,   \
				rc__, (errp)->msg, (text));                \
			harness_failed = 1;                                \
			return;                                            \
		}                                                          \
	} while (0)

/* An empty file marked as a spare the staging left (staging.h). */
static void put_spare(const char *dir, const char *name)
{
	struct timespec t[2] = { { 0, UTIME_OMIT }, { 1700000000,
						     STAGING_SPARE_NSEC } };
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && futimens(fd, t) == 0);
	close(fd);
}

/* ------------------------------------------------------------ assembly */

TEST(assemble_every_type)
{
	static const uint8_t jpg[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J',
				       'F', 'I', 'F', 0, 0xff, 0xd9 };
	struct lc_err err = { 0 };
	const struct lance_array *cols;
	struct fx fx;
	const char *d;
	const char *want[][2] = {
		{ "name", "\"cat_001\"" }, { "caption", "\"a cat\\n\"" },
		{ "id", "7" }, { "i8", "-128" }, { "u16", "65535" },
		{ "i64", "-9223372036854775808" },
		{ "u64", "9223372036854775807" }, { "f16", "1.5" },
		{ "f32", "0.1" }, { "f64", "2.5e-300" }, { "b", "true" },
		{ "d32", "\"2024-02-29\"" }, { "d64", "\"1969-12-31\"" },
		{ "t32", "\"23:59:59.123\"" }, { "t64", "\"00:00:01.000001\"" },
		{ "ts", "\"2024-05-01T12:34:56.789012Z\"" },
		{ "tsn", "\"1900-01-01T00:00:00.000000001\"" },
		{ "dec", "\"-12345678.90\"" }, { "fsb", "\"00ff10ab\"" },
		{ "vec", "[1.0,-2.5,3.0]" }, { "l", "[1,2,3]" },
		{ "st", "{\"a\":5,\"s\":\"x\xc3\xa9\"}" }, { "dur", "-5" },
		/* JSON columns come back with their keys sorted */
		{ "doc", "{\"a\":{},\"z\":[9007199254740993,-2,0.5,"
			 "\"\xc3\xa9\",null,true]}" },
	};

	CHECK_OK(fx_open(&fx, &err), &err);
	d = row_dir(&fx, "cat_001");
	harness_put_file(d, "image.jpg", jpg, sizeof(jpg));
	puts_file(d, "caption.txt", "a cat\n");
	puts_file(d, "meta.json", good_meta);
	/* ignored: Finder and Explorer droppings, the staging's .name */
	puts_file(d, ".DS_Store", "x");
	puts_file(d, "Thumbs.db", "x");
	puts_file(d, "._image.jpg", "x");
	puts_file(d, ".name", "cat_001");
	CHECK_OK(ingest_row(fx.r, d, "cat_001", false, &err), &err);
	/* a second row: nulls where nothing sets a column */
	d = row_dir(&fx, "r2");
	puts_file(d, "meta.json", "{\"id\":1,\"st\":null,\"l\":null,"
		  "\"name\":\"from meta\"}");
	/* spare files the staging left in the folder: none of the row's */
	put_spare(d, "image.jpg");
	put_spare(d, "no_such_column.bin");
	CHECK_OK(ingest_row(fx.r, d, "r2", false, &err), &err);
	CHECK_EQ_U64(ingest_rows_count(fx.r), 2);
	CHECK_OK(ingest_rows_arrays(&cols, fx.r, &err), &err);
	/* binary bytes as they came */
	CHECK_EQ_U64(cols[1].offsets[1], sizeof(jpg));
	CHECK(!memcmp(cols[1].values, jpg, sizeof(jpg)));
	CHECK(lance_array_is_valid(&cols[1], 0));
	CHECK(!lance_array_is_valid(&cols[1], 1));
	/* every meta.json value renders back as it was written */
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK_STR(rendered(cols, &fx.s, want[i][0], 0), want[i][1]);
	CHECK_STR(rendered(cols, &fx.s, "name", 1), "\"from meta\"");
	CHECK_STR(rendered(cols, &fx.s, "st", 1), "null");
	CHECK_STR(rendered(cols, &fx.s, "l", 1), "null");
	CHECK_STR(rendered(cols, &fx.s, "ts", 1), "null");
	CHECK_STR(rendered(cols, &fx.s, "vec", 1), "null");
	CHECK_STR(rendered(cols, &fx.s, "doc", 1), "null");
	fx_close(&fx);
}

TEST(assemble_refusals)
{
	struct lc_err err = { 0 };
	const struct lance_array *cols;
	struct fx fx;
	const char *d;

	CHECK_OK(fx_open(&fx, &err), &err);
	CHECK_REFUSED(try_meta(&fx, "r1", "{\"id\":1,", &err), &err,
		      "r1/meta.json: bad JSON at line 1");
	CHECK_REFUSED(try_meta(&fx, "r2", "[1]", &err), &err,
		      "r2/meta.json: expected one JSON object, found an array");
	CHECK_REFUSED(try_meta(&fx, "r3", "{\"id\":1,\"i8\":\"x\"}", &err),
		      &err, "r3/meta.json: column 'i8': expected an integer, "
		      "found a string");
	CHECK_REFUSED(try_meta(&fx, "r4", "{\"id\":1,\"i8\":128}", &err),
		      &err, "column 'i8': 128 is out of range for int8");
	CHECK_REFUSED(try_meta(&fx, "r5", "{\"id\":1,\"u16\":-1}", &err),
		      &err, "column 'u16': -1 is out of range for uint16");
	CHECK_REFUSED(try_meta(&fx, "r6", "{\"i8\":1}", &err), &err,
		      "r6: missing required column 'id'");
	CHECK_REFUSED(try_meta(&fx, "r7", "{\"id\":null}", &err), &err,
		      "column 'id': null, and it is not nullable");
	CHECK_REFUSED(try_meta(&fx, "r8", "{\"id\":1,\"nope\":1}", &err),
		      &err, "r8/meta.json: no column named 'nope'");
	CHECK_REFUSED(try_meta(&fx, "r9", "{\"id\":1,\"vec\":[1,2]}", &err),
		      &err, "column 'vec': an array of 2 items, the column "
		      "holds exactly 3");
	CHECK_REFUSED(try_meta(&fx, "r11", "{\"id\":1,\"d32\":\"2023-02-29\"}",
			       &err), &err,
		      "column 'd32': '2023-02-29' is not a YYYY-MM-DD date");
	CHECK_REFUSED(try_meta(&fx, "r12", "{\"id\":1,\"t32\":\"12:00:00.1234\"}",
			       &err), &err, "more fraction digits than the "
		      "column's unit");
	CHECK_REFUSED(try_meta(&fx, "r13", "{\"id\":1,\"ts\":\"2024-01-01\"}",
			       &err), &err, "is not an ISO 8601 timestamp");
	CHECK_REFUSED(try_meta(&fx, "r14", "{\"id\":1,\"dec\":\"1.234\"}",
			       &err), &err, "'1.234' has more than 2 fraction "
		      "digits");
	CHECK_REFUSED(try_meta(&fx, "r15", "{\"id\":1,\"dec\":\"123456789\"}",
			       &err), &err, "does not fit decimal(10, 2)");
	CHECK_REFUSED(try_meta(&fx, "r16", "{\"id\":1,\"fsb\":\"00FF10AB\"}",
			       &err), &err, "not a lowercase hex string (byte 2)");
	CHECK_REFUSED(try_meta(&fx, "r16b", "{\"id\":1,\"fsb\":\"000g10ab\"}",
			       &err), &err, "not a lowercase hex string (byte 3)");
	CHECK_REFUSED(try_meta(&fx, "r17", "{\"id\":1,\"fsb\":\"00ff\"}",
			       &err), &err, "2 bytes of hex, the column holds 4");
	CHECK_REFUSED(try_meta(&fx, "r18", "{\"id\":1,\"st\":{\"z\":1}}",
			       &err), &err,
		      "column 'st': no field 'z' in the struct");
	CHECK_REFUSED(try_meta(&fx, "r19", "{\"id\":1,\"st\":{\"a\":\"1\"}}",
			       &err), &err, "column 'st.a': expected an "
		      "integer, found a string");
	CHECK_REFUSED(try_meta(&fx, "r20", "{\"id\":1,\"l\":[1,2.5]}", &err),
		      &err, "column 'l[1]': expected an integer, found a "
		      "number");
	CHECK_REFUSED(try_meta(&fx, "r21", "{\"id\":1,\"image\":\"00\"}",
			       &err), &err, "column 'image' is binary: it "
		      "comes from a file image.<ext>");
	CHECK_REFUSED(try_meta(&fx, "r22", "{\"id\":1,\"b\":1}", &err), &err,
		      "column 'b': expected true or false, found an integer");
	CHECK_REFUSED(try_meta(&fx, "r23", "{\"id\":1,\"f16\":70000}", &err),
		      &err, "70000 is out of range for halffloat");
	CHECK_REFUSED(try_meta(&fx, "r24", "{\"id\":1,\"id\":2}", &err), &err,
		      "bad JSON");
	{
		char deep[300] = "{\"id\":1,\"doc\":";
		size_t n = strlen(deep);

		for (int i = 0; i < 129; i++)
			deep[n++] = '[';
		for (int i = 0; i < 129; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		deep[n] = 0;
		CHECK_REFUSED(try_meta(&fx, "r25", deep, &err), &err,
			      "r25/meta.json: column 'doc': JSON nested "
			      "deeper than 128");
	}

	/* files: no such column, strings only from .txt, UTF-8, twice */
	lc_err_clear(&err);
	d = row_dir(&fx, "f1");
	puts_file(d, "meta.json", "{\"id\":1}");
	puts_file(d, "photo.jpg", "x");
	CHECK_REFUSED(ingest_row(fx.r, d, "f1", false, &err), &err,
		      "f1/photo.jpg: no column named 'photo'");
	lc_err_clear(&err);
	d = row_dir(&fx, "f2");
	puts_file(d, "meta.json", "{\"id\":1}");
	puts_file(d, "caption.md", "x");
	CHECK_REFUSED(ingest_row(fx.r, d, "f2", false, &err), &err,
		      "f2/caption.md: column 'caption' is a string: only "
		      "caption.txt sets it");
	lc_err_clear(&err);
	d = row_dir(&fx, "f3");
	puts_file(d, "meta.json", "{\"id\":1}");
	puts_file(d, "caption.txt", "ok \xc3\x28");
	CHECK_REFUSED(ingest_row(fx.r, d, "f3", false, &err), &err,
		      "f3/caption.txt: not valid UTF-8 (byte 3)");
	lc_err_clear(&err);
	d = row_dir(&fx, "f4");
	puts_file(d, "meta.json", "{\"id\":1,\"caption\":\"a\"}");
	puts_file(d, "caption.txt", "b");
	CHECK_REFUSED(ingest_row(fx.r, d, "f4", false, &err), &err,
		      "column 'caption' is set by both caption.txt and "
		      "meta.json");
	lc_err_clear(&err);
	d = row_dir(&fx, "f5");
	puts_file(d, "meta.json", "{\"id\":1}");
	puts_file(d, "i8.txt", "1");
	CHECK_REFUSED(ingest_row(fx.r, d, "f5", false, &err), &err,
		      "f5/i8.txt: column 'i8' is int8: set it in meta.json");
	lc_err_clear(&err);
	d = row_dir(&fx, "f5b");
	puts_file(d, "meta.json", "{\"id\":1}");
	puts_file(d, "doc.json", "{}");
	CHECK_REFUSED(ingest_row(fx.r, d, "f5b", false, &err), &err,
		      "f5b/doc.json: column 'doc' is json: set it in "
		      "meta.json");
	lc_err_clear(&err);
	d = row_dir(&fx, "f6");
	puts_file(d, "meta.json", "{\"id\":1}");
	puts_file(d, "image.jpg", "1");
	puts_file(d, "image.png", "2");
	CHECK_REFUSED(ingest_row(fx.r, d, "f6", false, &err), &err,
		      "column 'image' is set by both image.jpg and image.png");
	lc_err_clear(&err);
	d = row_dir(&fx, "f7");
	puts_file(d, "meta.json", "{\"id\":1}");
	mkdir("/tmp", 0755);
	{
		char sub[300];

		snprintf(sub, sizeof(sub), "%s/sub", d);
		mkdir(sub, 0755);
	}
	CHECK_REFUSED(ingest_row(fx.r, d, "f7", false, &err), &err,
		      "f7/sub: only regular files go in a row folder");
	lc_err_clear(&err);

	/* a file bigger than a value may be: refused before it is read
	 * (a sparse file of 2^31 bytes, one more than 32-bit offsets
	 * hold), the file named once */
	d = row_dir(&fx, "big");
	puts_file(d, "meta.json", "{\"id\":1}");
	{
		char path[300];
		int fd;

		snprintf(path, sizeof(path), "%s/image.jpg", d);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		CHECK(fd >= 0 && ftruncate(fd, 1ll << 31) == 0);
		close(fd);
	}
	CHECK_REFUSED(ingest_row(fx.r, d, "big", false, &err), &err,
		      "big/image.jpg: larger than 2147483647 bytes");
	CHECK(!strstr(err.msg, "image.jpg: big/"));
	lc_err_clear(&err);

	d = row_dir(&fx, "bad\xff");
	puts_file(d, "meta.json", "{\"id\":1}");
	CHECK_REFUSED(ingest_row(fx.r, d, "bad\xff", false, &err), &err,
		      "the row name is not valid UTF-8 (byte 3)");
	lc_err_clear(&err);

	/* nothing of the refused rows was kept (f3's caption and f6's
	 * image.jpg were read before the refusal); good rows still go in */
	CHECK_EQ_U64(ingest_rows_count(fx.r), 0);
	CHECK_OK(try_meta(&fx, "ok", "{\"id\":3,\"l\":[4]}", &err), &err);
	d = row_dir(&fx, "ok2");
	puts_file(d, "meta.json", "{\"id\":4}");
	puts_file(d, "image.jpg", "IMG");
	puts_file(d, "caption.txt", "cap");
	CHECK_OK(ingest_row(fx.r, d, "ok2", false, &err), &err);
	CHECK_OK(ingest_rows_arrays(&cols, fx.r, &err), &err);
	CHECK_EQ_U64(cols[1].offsets[1], 0);
	CHECK_EQ_U64(cols[1].offsets[2], 3);
	CHECK(!memcmp(cols[1].values, "IMG", 3));
	CHECK_STR(rendered(cols, &fx.s, "caption", 0), "null");
	CHECK_STR(rendered(cols, &fx.s, "caption", 1), "\"cap\"");
	CHECK_STR(rendered(cols, &fx.s, "name", 1), "\"ok2\"");
	CHECK_EQ_U64(cols[21].length, 2);
	CHECK_EQ_U64(cols[21].children[0].length, 1);
	CHECK_EQ_U64(cols[22].children[0].length, 2);
	CHECK_EQ_U64(cols[20].children[0].length, 6);
	CHECK_STR(rendered(cols, &fx.s, "l", 0), "[4]");
	CHECK_STR(rendered(cols, &fx.s, "name", 0), "\"ok\"");
	fx_close(&fx);
}

/* Nulls of fixed-width columns of any width: a fixed_size_binary(64)
 * (a SHA-512, say) left out of a row or set to null. */
/* Values at the ends of their types, as the view shows them, assemble
 * back to the same values: uint64 past int64, the first instant of int64
 * nanoseconds, a date64 off midnight, a vector holding a null, a JSON
 * integer past int64, 76-digit decimals; integers past int64 where only
 * a number fits are refused naming the column. */
TEST(assemble_edge_values)
{
	static const struct lance_field_def defs[] = {
		{ "name", -1, "string", true },
		{ "id", -1, "int32", false },
		{ "d", -1, "decimal:256:76:20", true },
	};
	static const char meta[] =
		"{\"id\":1,\"u64\":18446744073709551615,"
		"\"tsn\":\"1677-09-21T00:12:43.145224192\","
		"\"d64\":\"2024-01-02T03:04:05.123\",\"vec\":[1.0,null,2.0],"
		"\"f64\":18446744073709551616,\"doc\":[18446744073709551615],"
		"\"caption\":\"\\u000042\\u0000\"}";
	static const char *const dec[] = {
		"\"99999999999999999999999999999999999999999999999999999999."
		"99999999999999999999\"",
		"\"-99999999999999999999999999999999999999999999999999999999."
		"99999999999999999999\"",
		"\"0.00000000000000000001\"",
	};
	struct lc_err err = { 0 };
	const struct lance_array *cols;
	char text[160];
	struct fx fx;

	CHECK_OK(fx_open(&fx, &err), &err);
	CHECK_OK(try_meta(&fx, "r1", meta, &err), &err);
	CHECK_REFUSED(try_meta(&fx, "r2", "{\"id\":1,\"u64\":"
			       "18446744073709551616}", &err), &err,
		      "column 'u64': 18446744073709551616 is out of range "
		      "for uint64");
	CHECK_REFUSED(try_meta(&fx, "r3", "{\"id\":1,\"i64\":"
			       "9223372036854775808}", &err), &err,
		      "column 'i64': 9223372036854775808 is out of range "
		      "for int64");
	CHECK_REFUSED(try_meta(&fx, "r4", "{\"id\":1,\"caption\":"
			       "-9223372036854775809}", &err), &err,
		      "column 'caption': expected a string, found the "
		      "integer -9223372036854775809");
	CHECK_REFUSED(try_meta(&fx, "r5", "{\"id\":1,\"doc\":{\"a\":"
			       "-9223372036854775809}}", &err), &err,
		      "does not fit in 64 bits");
	CHECK_OK(ingest_rows_arrays(&cols, fx.r, &err), &err);
	CHECK_STR(rendered(cols, &fx.s, "u64", 0), "18446744073709551615");
	CHECK_STR(rendered(cols, &fx.s, "tsn", 0),
		  "\"1677-09-21T00:12:43.145224192\"");
	CHECK_STR(rendered(cols, &fx.s, "d64", 0),
		  "\"2024-01-02T03:04:05.123\"");
	CHECK_STR(rendered(cols, &fx.s, "vec", 0), "[1.0,null,2.0]");
	CHECK_STR(rendered(cols, &fx.s, "f64", 0), "1.8446744073709552e+19");
	CHECK_STR(rendered(cols, &fx.s, "doc", 0), "[18446744073709551615]");
	CHECK_STR(rendered(cols, &fx.s, "caption", 0),
		  "\"\\u000042\\u0000\"");
	fx_close(&fx);

	CHECK_OK(fx_open_defs(&fx, defs, 3, &err), &err);
	for (size_t i = 0; i < sizeof(dec) / sizeof(dec[0]); i++) {
		char row[8];

		snprintf(row, sizeof(row), "d%zu", i);
		snprintf(text, sizeof(text), "{\"id\":1,\"d\":%s}", dec[i]);
		CHECK_OK(try_meta(&fx, row, text, &err), &err);
	}
	snprintf(text, sizeof(text), "{\"id\":1,\"d\":\"1%s\"}",
		 "00000000000000000000000000000000000000000000000000000000");
	CHECK_REFUSED(try_meta(&fx, "big", text, &err), &err,
		      "does not fit decimal(76, 20)");
	CHECK_OK(ingest_rows_arrays(&cols, fx.r, &err), &err);
	for (size_t i = 0; i < sizeof(dec) / sizeof(dec[0]); i++)
		CHECK_STR(rendered(cols, &fx.s, "d", i), dec[i]);
	fx_close(&fx);
}

TEST(assemble_wide_fixed)
{
	static const struct lance_field_def defs[] = {
		{ "name", -1, "string", true },
		{ "sha", -1, "fixed_size_binary:64", true },
	};
	struct ingest_opts o = { "name", NULL, NULL, false };
	struct lc_err err = { 0 };
	const struct lance_array *cols;
	struct ingest_rows *r;
	struct lance_schema s;
	char dir[] = "/tmp/lancefs-ingest-XXXXXX", row[300], meta[300];
	char hex[129];

	CHECK(mkdtemp(dir));
	for (int i = 0; i < 64; i++)
		snprintf(hex + 2 * i, 3, "%02x", i * 3);
	CHECK_OK(lance_schema_build(&s, defs, 2, &err), &err);
	CHECK_OK(ingest_rows_new(&r, &s, &o, true, &err), &err);
	snprintf(meta, sizeof(meta), "{\"sha\":\"%s\"}", hex);
	snprintf(row, sizeof(row), "%s/set", dir);
	puts_file(row, "meta.json", meta);
	CHECK_OK(ingest_row(r, row, "set", false, &err), &err);
	snprintf(row, sizeof(row), "%s/null", dir);
	puts_file(row, "meta.json", "{\"sha\":null}");
	CHECK_OK(ingest_row(r, row, "null", false, &err), &err);
	snprintf(row, sizeof(row), "%s/none", dir);
	puts_file(row, "meta.json", "{}");
	CHECK_OK(ingest_row(r, row, "none", false, &err), &err);
	CHECK_OK(ingest_rows_arrays(&cols, r, &err), &err);
	snprintf(meta, sizeof(meta), "\"%s\"", hex);
	CHECK_STR(rendered(cols, &s, "sha", 0), meta);
	CHECK_STR(rendered(cols, &s, "sha", 1), "null");
	CHECK_STR(rendered(cols, &s, "sha", 2), "null");
	ingest_rows_free(r);
	lance_schema_reset(&s);
	harness_rm_rf(dir);
}

/* The largest float and halffloat come back in: the view renders them
 * with the fewest digits that read back as them (3.4028235e+38 is above
 * FLT_MAX as a double), and a copy out and in must not be refused. Past
 * them, refused. */
TEST(assemble_float_limits)
{
	struct lc_err err = { 0 };
	const struct lance_array *cols;
	struct fx fx;

	CHECK_OK(fx_open(&fx, &err), &err);
	CHECK_OK(try_meta(&fx, "max", "{\"id\":1,\"f32\":3.4028235e+38,"
			  "\"f16\":65519}", &err), &err);
	CHECK_OK(try_meta(&fx, "min", "{\"id\":2,\"f32\":-3.4028235e+38,"
			  "\"vec\":[1e-45,0,-1]}", &err), &err);
	CHECK_OK(ingest_rows_arrays(&cols, fx.r, &err), &err);
	CHECK_STR(rendered(cols, &fx.s, "f32", 0), "3.4028235e+38");
	CHECK_STR(rendered(cols, &fx.s, "f16", 0), "65500.0");
	CHECK_STR(rendered(cols, &fx.s, "f32", 1), "-3.4028235e+38");
	CHECK_STR(rendered(cols, &fx.s, "vec", 1), "[1e-45,0.0,-1.0]");
	CHECK_REFUSED(try_meta(&fx, "over", "{\"id\":3,\"f32\":3.4028236e+38}",
			       &err), &err, "out of range for float");
	CHECK_REFUSED(try_meta(&fx, "overh", "{\"id\":4,\"f16\":65520}",
			       &err), &err, "out of range for halffloat");
	fx_close(&fx);
}

TEST(assemble_root_file)
{
	struct lc_err err = { 0 };
	const struct lance_array *cols;
	struct fx fx;
	char path[300];

	/* two binary columns: the file column decides */
	CHECK_OK(fx_open(&fx, &err), &err);
	snprintf(path, sizeof(path), "%s/dog.png", fx.dir);
	puts_file(fx.dir, "dog.png", "\x89PNG");
	CHECK_REFUSED(ingest_row(fx.r, path, "dog.png", true, &err), &err,
		      "dog.png: the dataset has more than one binary column");
	CHECK(strncmp(err.msg, "dog.png: ", 9) == 0);
	ingest_rows_free(fx.r);
	{
		struct ingest_opts o = { "name", "bin2", NULL, false };

		CHECK_OK(ingest_rows_new(&fx.r, &fx.s, &o, false, &err), &err);
	}
	lc_err_clear(&err);
	/* id is not nullable: a root-level file cannot set it */
	CHECK_REFUSED(ingest_row(fx.r, path, "dog.png", true, &err), &err,
		      "dog.png: missing required column 'id'");
	fx_close(&fx);

	/* a dataset with one binary column */
	{
		static const struct lance_field_def defs[] = {
			{ "name", -1, "string", true },
			{ "img", -1, "large_binary", true },
			{ "n", -1, "int64", true },
		};
		struct lance_schema s;
		struct ingest_rows *r;
		struct ingest_opts o = { "name", NULL, NULL, false };

		CHECK_OK(lance_schema_build(&s, defs, 3, &err), &err);
		CHECK_OK(ingest_rows_new(&r, &s, &o, true, &err), &err);
		snprintf(fx.dir, sizeof(fx.dir), "/tmp/lancefs-ingest-XXXXXX");
		CHECK(mkdtemp(fx.dir));
		snprintf(path, sizeof(path), "%s/dog.2.png", fx.dir);
		puts_file(fx.dir, "dog.2.png", "\x89PNG");
		CHECK_OK(ingest_row(r, path, "dog.2.png", true, &err), &err);
		CHECK_OK(ingest_rows_arrays(&cols, r, &err), &err);
		CHECK_STR(rendered(cols, &s, "name", 0), "\"dog.2\"");
		CHECK_EQ_U64(cols[1].offsets[1], 4);
		CHECK(!memcmp(cols[1].values, "\x89PNG", 4));
		CHECK_STR(rendered(cols, &s, "n", 0), "null");
		ingest_rows_free(r);
		lance_schema_reset(&s);
		harness_rm_rf(fx.dir);
	}
}

/* Files of columns whose names the view escapes (a "/", a leading
 * "."), named as the view shows them, set those columns. */
TEST(assemble_escaped_column_files)
{
	static const struct lance_field_def defs[] = {
		{ "name", -1, "string", true },
		{ "a/b", -1, "binary", true },
		{ ".c", -1, "string", true },
	};
	struct lc_err err = { 0 };
	const struct lance_array *cols;
	const char *d;
	struct fx fx;

	CHECK_OK(fx_open_defs(&fx, defs, 3, &err), &err);
	d = row_dir(&fx, "r");
	puts_file(d, "a%2Fb.jpg", "\xff\xd8\xff");
	puts_file(d, "%2Ec.txt", "dot");
	CHECK_OK(ingest_row(fx.r, d, "r", false, &err), &err);
	CHECK_OK(ingest_rows_arrays(&cols, fx.r, &err), &err);
	CHECK_EQ_U64(cols[1].offsets[1], 3);
	CHECK(!memcmp(cols[1].values, "\xff\xd8\xff", 3));
	CHECK_STR(rendered(cols, &fx.s, ".c", 0), "\"dot\"");
	fx_close(&fx);
}

/* A map's entries are {"key", "value"} objects, as the view shows them,
 * whatever the entries' fields are named (arrow-rs: keys, values); a
 * key may not be null. */
TEST(assemble_map)
{
	static const struct lance_field_def defs[] = {
		{ "name", -1, "string", true },
		{ "m", -1, "map", true },
		{ "entries", 1, "struct", false },
		{ "keys", 2, "string", false },
		{ "values", 2, "int32", true },
	};
	static const char m[] = "[{\"key\":\"a\",\"value\":1},"
				"{\"key\":\"b\",\"value\":null}]";
	struct lc_err err = { 0 };
	const struct lance_array *cols;
	char meta[128];
	struct fx fx;

	CHECK_OK(fx_open_defs(&fx, defs, 5, &err), &err);
	snprintf(meta, sizeof(meta), "{\"m\":%s}", m);
	CHECK_OK(try_meta(&fx, "r", meta, &err), &err);
	CHECK_OK(ingest_rows_arrays(&cols, fx.r, &err), &err);
	CHECK_STR(rendered(cols, &fx.s, "m", 0), m);
	CHECK_REFUSED(try_meta(&fx, "q", "{\"m\":[{\"key\":null,"
			       "\"value\":1}]}", &err), &err,
		      "column 'm[0].key': null, and it is not nullable");
	fx_close(&fx);
}

/* An integer name column takes the folder name as a number. */
TEST(assemble_int_name)
{
	static const struct lance_field_def defs[] = {
		{ "num", -1, "int64", false },
		{ "s", -1, "string", true },
	};
	struct lance_schema s;
	struct ingest_rows *r;
	struct ingest_opts o = { "num", NULL, NULL, false };
	struct lc_err err = { 0 };
	const struct lance_array *cols;
	char dir[] = "/tmp/lancefs-ingest-XXXXXX", row[300];

	CHECK(mkdtemp(dir));
	CHECK_OK(lance_schema_build(&s, defs, 2, &err), &err);
	CHECK_OK(ingest_rows_new(&r, &s, &o, false, &err), &err);
	snprintf(row, sizeof(row), "%s/42", dir);
	puts_file(row, "s.txt", "hi");
	CHECK_OK(ingest_row(r, row, "42", false, &err), &err);
	snprintf(row, sizeof(row), "%s/x", dir);
	puts_file(row, "s.txt", "hi");
	CHECK_REFUSED(ingest_row(r, row, "x", false, &err), &err,
		      "the name column 'num' is int64 and 'x' is not an "
		      "integer");
	CHECK_OK(ingest_rows_arrays(&cols, r, &err), &err);
	CHECK_STR(rendered(cols, &s, "num", 0), "42");
	CHECK_STR(rendered(cols, &s, "s", 0), "\"hi\"");
	ingest_rows_free(r);
	lance_schema_reset(&s);
	harness_rm_rf(dir);
}

/* ------------------------------------------------------------ inference */

TEST(infer_schema)
{
	char dir[] = "/tmp/lancefs-ingest-XXXXXX", a[300], b[300], f[300];
	struct ingest_src src[3];
	struct lance_schema s;
	struct lc_err err = { 0 };
	char got[1024] = "";

	CHECK(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(f, sizeof(f), "%s/c.jpg", dir);
	puts_file(a, "image.jpg", "\xff\xd8\xff");
	puts_file(a, "notes.txt", "n");
	puts_file(a, "meta.json", "{\"label\":\"cat\",\"n\":1,\"score\":1,"
		  "\"ok\":true,\"tags\":[\"x\"],\"box\":{\"x\":1,\"y\":2},"
		  "\"nothing\":null}");
	puts_file(b, "meta.json", "{\"score\":0.5,\"box\":{\"w\":1.5},"
		  "\"vec\":[1,2.5]}");
	puts_file(b, ".DS_Store", "x");
	puts_file(dir, "c.jpg", "\xff\xd8\xff");
	src[0] = (struct ingest_src){ a, "a", false };
	src[1] = (struct ingest_src){ b, "b", false };
	src[2] = (struct ingest_src){ f, "c.jpg", true };
	CHECK_OK(ingest_infer_schema(&s, src, 3, NULL, &err), &err);
	for (size_t i = 0; i < s.n_fields; i++) {
		char one[128];

		snprintf(one, sizeof(one), "%s%s:%s:%d%s", i ? " " : "",
			 s.fields[i].name, s.fields[i].logical_type,
			 s.fields[i].parent_id, s.fields[i].nullable ? "" :
			 "!");
		strcat(got, one);
	}
	CHECK_STR(got, "name:string:-1 image:binary:-1 label:string:-1 "
		  "n:int64:-1 score:double:-1 ok:bool:-1 tags:list:-1 "
		  "item:string:6 box:struct:-1 x:int64:8 y:int64:8 "
		  "w:double:8 nothing:string:-1 notes:string:-1 "
		  "vec:list:-1 item:double:14");
	lance_schema_reset(&s);
	/* only root-level files: a "file" binary column */
	CHECK_OK(ingest_infer_schema(&s, &src[2], 1, NULL, &err), &err);
	CHECK_EQ_U64(s.n_top, 2);
	CHECK_STR(s.top[1]->name, "file");
	CHECK_STR(s.top[1]->logical_type, "binary");
	lance_schema_reset(&s);
	/* a folder that cannot be read is left to assembly to report: no
	 * error stays behind (a later one would keep its text and kind) */
	src[0] = (struct ingest_src){ "/nonexistent/lancefs-row", "x", false };
	lc_err_clear(&err);
	CHECK_OK(ingest_infer_schema(&s, src, 3, NULL, &err), &err);
	CHECK_EQ_U64(err.code, 0);
	lance_schema_reset(&s);
	harness_rm_rf(dir);
}

/* ------------------------------------------------------------ commits */

struct refusals {
	int n;
	char last[600];
};

static void on_refused(void *ctx, uint64_t row, const char *name,
		       const struct lc_err *why)
{
	struct refusals *r = ctx;

	(void)row;
	(void)name;
	r->n++;
	snprintf(r->last, sizeof(r->last), "%s", why->msg);
}

static void stage_file(struct staging *stg, uint64_t id, const char *name,
		       const void *p, size_t n)
{
	char dir[4200];

	staging_row_path(dir, sizeof(dir), stg, id);
	harness_put_file(dir, name, p, n);
}

static void stage_text(struct staging *stg, uint64_t id, const char *name,
		       const char *text)
{
	stage_file(stg, id, name, text, strlen(text));
}

static int count_staged(void *ctx, uint64_t id, const char *name)
{
	(void)id;
	(void)name;
	(*(int *)ctx)++;
	return 0;
}

static const uint8_t png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
			       1, 2, 3 };

/* A view file's bytes. */
static int view_bytes(struct lc_buf *out, struct view *v, const char *path,
		      struct lc_err *err)
{
	struct vnode n = { 0 };
	int rc = view_resolve(&n, v, path, err);

	if (rc)
		return rc;
	rc = view_read_file(out, v, &n, err);
	vnode_reset(&n);
	return rc;
}

/* An empty folder for a new dataset (new.lance) and a staging beside
 * it, in a temporary folder. */
struct newds {
	char dir[32];
	char ds[300];
	struct ostore *st;
	struct staging *stg;
};

static void newds_open(struct newds *d)
{
	struct lc_err err = { 0 };
	char sd[300];

	memset(d, 0, sizeof(*d));
	strcpy(d->dir, "/tmp/lancefs-ingest-XXXXXX");
	CHECK(mkdtemp(d->dir));
	snprintf(d->ds, sizeof(d->ds), "%s/new.lance", d->dir);
	snprintf(sd, sizeof(sd), "%s/staging", d->dir);
	CHECK(mkdir(d->ds, 0755) == 0);
	CHECK_OK(ostore_local_new(&d->st, d->ds, &err), &err);
	CHECK_OK(staging_open(&d->stg, sd, &err), &err);
}

static void newds_close(struct newds *d)
{
	staging_free(d->stg);
	ostore_free(d->st);
	harness_rm_rf(d->dir);
}

TEST(commit_new_dataset)
{
	struct newds d;
	struct lc_err err = { 0 };
	struct ostore *st;
	struct staging *stg;
	struct lance_snapshot *snap;
	const struct lance_manifest *m;
	struct refusals ref = { 0 };
	struct view *v;
	struct lc_buf b;
	const struct staging_info file_row = { .kind = STAGING_FILE };
	uint64_t id, ver, n;
	int left = 0;

	newds_open(&d);
	if (harness_failed)
		return;
	st = d.st;
	stg = d.stg;
	CHECK_OK(staging_row_new(&id, stg, "cat_001", &err), &err);
	stage_file(stg, id, "image.png", png, sizeof(png));
	stage_text(stg, id, "meta.json", "{\"label\":\"cat\",\"score\":0.5}");
	CHECK_OK(staging_row_new(&id, stg, "dog_002", &err), &err);
	stage_file(stg, id, "image.png", png, 4);
	stage_text(stg, id, "meta.json", "{\"label\":\"dog\",\"score\":2}");
	CHECK_OK(staging_row_new(&id, stg, "bad", &err), &err);
	stage_text(stg, id, "meta.json", "{\"label\":");
	/* a root-level file */
	CHECK_OK(staging_row_add(&id, stg, "bird.png", &file_row, &err),
		 &err);
	stage_file(stg, id, "bird.png", png, 9);

	CHECK_OK(ingest_commit(&ver, &n, st, stg, 0, NULL, NULL, on_refused,
			       &ref, &err), &err);
	CHECK_EQ_U64(ver, 1);
	CHECK_EQ_U64(n, 3);
	CHECK_EQ_U64(ref.n, 1);
	CHECK(strstr(ref.last, "bad/meta.json: bad JSON"));
	CHECK_OK(staging_rows(stg, count_staged, &left, &err), &err);
	CHECK_EQ_U64(left, 1);

	CHECK_OK(lance_snapshot_open(&snap, st, 0, &err), &err);
	m = lance_snapshot_manifest(snap);
	CHECK_EQ_U64(lance_snapshot_num_rows(snap), 3);
	CHECK_STR(m->data_format, "2.0");
	CHECK_STR(lance_manifest_config(m, "lancefs.name_column"), "name");
	CHECK_EQ_U64(m->schema.n_top, 4);
	CHECK_STR(m->schema.top[0]->name, "name");
	CHECK_STR(m->schema.top[1]->name, "image");
	CHECK_STR(m->schema.top[1]->logical_type, "binary");
	CHECK_STR(m->schema.top[2]->name, "label");
	CHECK_STR(m->schema.top[3]->logical_type, "double");
	lance_snapshot_free(snap);

	/* our view shows the rows under the names the user gave */
	CHECK_OK(view_open(&v, d.ds, NULL, &err), &err);
	lc_buf_init(&b, 0);
	CHECK_OK(view_bytes(&b, v, "cat_001/image.png", &err), &err);
	CHECK_EQ_U64(b.len, sizeof(png));
	CHECK(!memcmp(b.data, png, sizeof(png)));
	lc_buf_reset(&b);
	CHECK_OK(view_bytes(&b, v, "dog_002/meta.json", &err), &err);
	{
		const char *want = "{\"name\":\"dog_002\",\"label\":\"dog\","
				   "\"score\":2.0}\n";

		CHECK_EQ_U64(b.len, strlen(want));
		CHECK(!memcmp(b.data, want, b.len));
	}
	lc_buf_reset(&b);
	CHECK_OK(view_bytes(&b, v, "bird/image.png", &err), &err);
	CHECK_EQ_U64(b.len, 9);
	lc_buf_reset(&b);
	view_free(v);

	/* an append: the name column comes from the dataset's config; a
	 * folder named like the one file it holds is a folder all the
	 * same (mkdir image.png, then image.png/image.png) */
	CHECK_OK(staging_row_new(&id, stg, "fish_003", &err), &err);
	stage_text(stg, id, "meta.json", "{\"label\":\"fish\"}");
	CHECK_OK(staging_row_new(&id, stg, "image.png", &err), &err);
	stage_file(stg, id, "image.png", png, sizeof(png));
	CHECK_OK(lance_snapshot_open(&snap, st, 0, &err), &err);
	CHECK_OK(ingest_commit(&ver, &n, st, stg, 1,
			       &lance_snapshot_manifest(snap)->schema, NULL,
			       on_refused, &ref, &err), &err);
	lance_snapshot_free(snap);
	CHECK_EQ_U64(ver, 2);
	CHECK_EQ_U64(n, 2);
	CHECK_EQ_U64(ref.n, 2);		/* "bad" again; it stays staged */
	CHECK_OK(view_open(&v, d.ds, NULL, &err), &err);
	lc_buf_init(&b, 0);
	CHECK_OK(view_bytes(&b, v, "fish_003/meta.json", &err), &err);
	{
		const char *want = "{\"name\":\"fish_003\",\"label\":"
				   "\"fish\",\"score\":null}\n";

		CHECK_EQ_U64(b.len, strlen(want));
		CHECK(!memcmp(b.data, want, b.len));
	}
	lc_buf_reset(&b);
	CHECK_OK(view_bytes(&b, v, "image.png/image.png", &err), &err);
	CHECK_EQ_U64(b.len, sizeof(png));
	CHECK(!memcmp(b.data, png, sizeof(png)));
	lc_buf_reset(&b);
	view_free(v);
	newds_close(&d);
}

/* A store whose data file puts fail from the `fail_from`th on (0:
 * never), counting them; the puts run on the commit's put thread. */
static int (*inner_put)(struct ostore *, const char *, const void *, size_t,
			int, struct lc_err *);
static atomic_int data_puts, fail_from;

static int failing_put(struct ostore *st, const char *key, const void *data,
		       size_t len, int if_absent, struct lc_err *err)
{
	if (!strncmp(key, "data/", 5)) {
		int k = atomic_fetch_add(&data_puts, 1) + 1;

		if (atomic_load(&fail_from) && k >= atomic_load(&fail_from))
			return LC_SYS(err, EIO, "%s: injected failure", key);
	}
	return inner_put(st, key, data, len, if_absent, err);
}

/* Row i's image: JPEG's signature (the view names it .jpg), then bytes
 * of its own. */
static void fill_image(uint8_t *img, size_t size, int i)
{
	static const uint8_t soi[] = { 0xff, 0xd8, 0xff, 0xe0 };

	for (size_t k = 0; k < size; k++)
		img[k] = (uint8_t)(k * 31 + (size_t)i * 7 + k / 4093);
	memcpy(img, soi, sizeof(soi));
}

/* A new dataset keeps the shapes of its rows' values (a list of objects,
 * a list of lists) in every file version; one nested deeper than the
 * writer goes becomes a string column (lancefs(1)), the row that set it
 * so is refused with the column named, the others commit; and
 * format_version "stable" is recorded as the version it stands for. */
TEST(infer_writable)
{
	static const char *fmts[] = { NULL, "stable" };
	char deep[64] = "{\"label\":\"c\",\"deep\":";
	size_t dl = strlen(deep);

	for (int k = 0; k < 17; k++)
		deep[dl++] = '[';
	deep[dl++] = '1';
	for (int k = 0; k < 17; k++)
		deep[dl++] = ']';
	deep[dl++] = '}';
	deep[dl] = 0;
	for (size_t k = 0; k < 2; k++) {
		struct newds d;
		struct ingest_opts o = { NULL, NULL, fmts[k], false };
		struct lc_err err = { 0 };
		struct ostore *st;
		struct staging *stg;
		struct lance_snapshot *snap;
		const struct lance_manifest *m;
		const struct lance_field *f;
		struct refusals ref = { 0 };
		uint64_t id, ver, n;

		newds_open(&d);
		if (harness_failed)
			return;
		st = d.st;
		stg = d.stg;
		CHECK_OK(staging_row_new(&id, stg, "a", &err), &err);
		stage_text(stg, id, "meta.json",
			   "{\"label\":\"a\",\"tags\":[{\"k\":1}]}");
		CHECK_OK(staging_row_new(&id, stg, "b", &err), &err);
		stage_text(stg, id, "meta.json",
			   "{\"label\":\"b\",\"words\":[[\"x\"],[\"y\"]]}");
		CHECK_OK(staging_row_new(&id, stg, "c", &err), &err);
		stage_text(stg, id, "meta.json", deep);
		CHECK_OK(ingest_commit(&ver, &n, st, stg, 0, NULL, &o,
				       on_refused, &ref, &err), &err);
		CHECK_EQ_U64(ver, 1);
		CHECK_EQ_U64(n, 2);
		CHECK_EQ_U64(ref.n, 1);
		CHECK(strstr(ref.last, "c/meta.json: column 'deep"));
		CHECK_OK(lance_snapshot_open(&snap, st, 0, &err), &err);
		m = lance_snapshot_manifest(snap);
		CHECK_STR(m->data_format, fmts[k] ? "2.2" : "2.0");
		f = lance_schema_field_by_name(&m->schema, "tags");
		CHECK(f && !strcmp(f->logical_type, "list") &&
		      f->n_children == 1 &&
		      !strcmp(f->children[0]->logical_type, "struct"));
		f = lance_schema_field_by_name(&m->schema, "words");
		CHECK(f && !strcmp(f->logical_type, "list") &&
		      f->n_children == 1 &&
		      !strcmp(f->children[0]->logical_type, "list"));
		f = lance_schema_field_by_name(&m->schema, "deep");
		CHECK(f && !strcmp(f->logical_type, "string"));
		lance_snapshot_free(snap);
		newds_close(&d);
	}
}

/* Row-folder names stay unique when a "~<row number>" name is taken by
 * a row's own name: rows named x~2, x, x show as x~2, x, x~2~2. */
TEST(view_names_stay_unique)
{
	struct newds d;
	struct lc_err err = { 0 };
	struct ostore *st;
	struct staging *stg;
	struct refusals ref = { 0 };
	struct view *v;
	struct vnode node;
	uint64_t id, ver, n;

	newds_open(&d);
	if (harness_failed)
		return;
	st = d.st;
	stg = d.stg;
	CHECK_OK(staging_row_new(&id, stg, "x~2", &err), &err);
	stage_text(stg, id, "meta.json", "{\"n\":0}");
	CHECK_OK(staging_row_new(&id, stg, "a", &err), &err);
	stage_text(stg, id, "meta.json", "{\"n\":1,\"name\":\"x\"}");
	CHECK_OK(staging_row_new(&id, stg, "b", &err), &err);
	stage_text(stg, id, "meta.json", "{\"n\":2,\"name\":\"x\"}");
	CHECK_OK(ingest_commit(&ver, &n, st, stg, 0, NULL, NULL, on_refused,
			       &ref, &err), &err);
	CHECK_EQ_U64(n, 3);
	CHECK_OK(view_open(&v, d.ds, NULL, &err), &err);
	CHECK_OK(view_resolve(&node, v, "x~2", &err), &err);
	vnode_reset(&node);
	CHECK_OK(view_resolve(&node, v, "x", &err), &err);
	vnode_reset(&node);
	CHECK_OK(view_resolve(&node, v, "x~2~2", &err), &err);
	vnode_reset(&node);
	view_free(v);
	newds_close(&d);
}

/* A long name cut to make room for "~<row number>" whose cut form a
 * row already holds as its own value: the listing ends (it looped) with
 * a name of its own. Row 0 is named P~1, row 1 a longer P (cut to P). */
TEST(view_names_of_cut_names_stay_unique)
{
	char p234[235], long_name[301], meta[400], want[260];
	struct newds d;
	struct lc_err err = { 0 };
	struct refusals ref = { 0 };
	struct view *v;
	struct vnode node;
	uint64_t id, ver, n;

	memset(p234, 'y', 234);
	p234[234] = 0;
	memset(long_name, 'y', 300);
	long_name[300] = 0;
	newds_open(&d);
	if (harness_failed)
		return;
	CHECK_OK(staging_row_new(&id, d.stg, "a", &err), &err);
	snprintf(meta, sizeof(meta), "{\"n\":0,\"name\":\"%s~1\"}", p234);
	stage_text(d.stg, id, "meta.json", meta);
	CHECK_OK(staging_row_new(&id, d.stg, "b", &err), &err);
	snprintf(meta, sizeof(meta), "{\"n\":1,\"name\":\"%s\"}",
		 long_name);
	stage_text(d.stg, id, "meta.json", meta);
	CHECK_OK(ingest_commit(&ver, &n, d.st, d.stg, 0, NULL, NULL,
			       on_refused, &ref, &err), &err);
	CHECK_EQ_U64(n, 2);
	CHECK_OK(view_open(&v, d.ds, NULL, &err), &err);
	snprintf(want, sizeof(want), "%s~1", p234);
	CHECK_OK(view_resolve(&node, v, want, &err), &err);
	vnode_reset(&node);
	snprintf(want, sizeof(want), "%s~1~2", p234);
	CHECK_OK(view_resolve(&node, v, want, &err), &err);
	vnode_reset(&node);
	view_free(v);
	newds_close(&d);
}

/* 40 rows of 1 MiB make three fragments (16, 16, 8 MiB), each stored
 * while the next is built. A put failing half way fails the commit:
 * nothing is committed and every row stays staged; the next commit
 * stores them all, each row's bytes as staged. */
TEST(commit_many_fragments)
{
	enum { ROWS = 40, SIZE = 1 << 20 };
	char dir[] = "/tmp/lancefs-ingest-XXXXXX", ds[300], sd[300];
	struct lc_err err = { 0 };
	struct ostore *st;
	struct staging *stg;
	struct lance_snapshot *snap;
	struct refusals ref = { 0 };
	struct ostore_ops ops;
	struct view *v;
	struct lc_buf b;
	uint8_t *img = malloc(SIZE);
	uint64_t id, ver, n;
	int left = 0;

	CHECK(img && mkdtemp(dir));
	snprintf(ds, sizeof(ds), "%s/big.lance", dir);
	snprintf(sd, sizeof(sd), "%s/staging", dir);
	mkdir(ds, 0755);
	CHECK_OK(ostore_local_new(&st, ds, &err), &err);
	CHECK_OK(staging_open(&stg, sd, &err), &err);
	for (int i = 0; i < ROWS; i++) {
		char name[32];

		fill_image(img, SIZE, i);
		snprintf(name, sizeof(name), "img_%03d", i);
		CHECK_OK(staging_row_new(&id, stg, name, &err), &err);
		stage_file(stg, id, "image.jpg", img, SIZE);
	}
	ops = *st->ops;
	inner_put = ops.put;
	ops.put = failing_put;
	st->ops = &ops;

	/* the second put fails while the third fragment is built; the
	 * last fails while nothing else runs */
	for (int bad = 2; bad <= 3; bad++) {
		atomic_store(&fail_from, bad);
		atomic_store(&data_puts, 0);
		lc_err_clear(&err);
		CHECK(ingest_commit(&ver, &n, st, stg, 0, NULL, NULL,
				    on_refused, &ref, &err) == EIO);
		CHECK(strstr(err.msg, "injected failure"));
		CHECK_EQ_U64(ver, 0);
		left = 0;
		CHECK_OK(staging_rows(stg, count_staged, &left, &err), &err);
		CHECK_EQ_U64(left, ROWS);
		CHECK(lance_snapshot_open(&snap, st, 0, &err) != 0);
	}

	atomic_store(&fail_from, 0);
	atomic_store(&data_puts, 0);
	lc_err_clear(&err);
	CHECK_OK(ingest_commit(&ver, &n, st, stg, 0, NULL, NULL, on_refused,
			       &ref, &err), &err);
	CHECK_EQ_U64(ver, 1);
	CHECK_EQ_U64(n, ROWS);
	CHECK_EQ_U64(atomic_load(&data_puts), 3);
	CHECK_OK(lance_snapshot_open(&snap, st, 0, &err), &err);
	CHECK_EQ_U64(lance_snapshot_manifest(snap)->n_fragments, 3);
	CHECK_EQ_U64(lance_snapshot_num_rows(snap), ROWS);
	lance_snapshot_free(snap);

	CHECK_OK(view_open(&v, ds, NULL, &err), &err);
	for (int i = 0; i < ROWS; i += 13) {
		char path[64];

		fill_image(img, SIZE, i);
		snprintf(path, sizeof(path), "img_%03d/image.jpg", i);
		lc_buf_init(&b, 0);
		CHECK_OK(view_bytes(&b, v, path, &err), &err);
		CHECK_EQ_U64(b.len, SIZE);
		CHECK(!memcmp(b.data, img, SIZE));
		lc_buf_reset(&b);
	}
	view_free(v);
	ostore_free(st);
	staging_free(stg);
	free(img);
	harness_rm_rf(dir);
}

/* Append to a copy of a LanceDB-written 2.2 dataset. */
TEST(commit_append_lancedb)
{
	char dir[] = "/tmp/lancefs-ingest-XXXXXX", ds[300], sd[300];
	struct lc_err err = { 0 };
	struct ostore *st;
	struct staging *stg;
	struct lance_snapshot *snap, *after;
	const struct lance_manifest *m;
	struct lance_array a;
	struct refusals ref = { 0 };
	uint64_t id, ver, n, before, rv;
	const struct lance_field *fs;

	CHECK(mkdtemp(dir));
	snprintf(ds, sizeof(ds), "%s/stable.lance", dir);
	snprintf(sd, sizeof(sd), "%s/staging", dir);
	CHECK(fixture_copy("lancedb/stable.lance", ds) == 0);
	CHECK_OK(ostore_local_new(&st, ds, &err), &err);
	CHECK_OK(staging_open(&stg, sd, &err), &err);
	CHECK_OK(lance_snapshot_open(&snap, st, 0, &err), &err);
	m = lance_snapshot_manifest(snap);
	before = lance_snapshot_num_rows(snap);
	rv = m->version;
	CHECK_OK(staging_row_new(&id, stg, "a", &err), &err);
	stage_text(stg, id, "meta.json", "{\"id\":1.5,\"s\":\"x\"}");
	CHECK_OK(staging_row_new(&id, stg, "b", &err), &err);
	stage_file(stg, id, "s.txt", "why", 3);
	CHECK_OK(staging_row_new(&id, stg, "c", &err), &err);
	stage_text(stg, id, "meta.json", "{\"id\":\"1\"}");
	CHECK_OK(ingest_commit(&ver, &n, st, stg, rv, &m->schema, NULL,
			       on_refused, &ref, &err), &err);
	CHECK_EQ_U64(ver, rv + 1);
	CHECK_EQ_U64(n, 2);
	CHECK_EQ_U64(ref.n, 1);
	CHECK(strstr(ref.last, "c/meta.json: column 'id': expected a number,"
		     " found a string"));
	CHECK_OK(lance_snapshot_open(&after, st, 0, &err), &err);
	CHECK_EQ_U64(lance_snapshot_num_rows(after), before + 2);
	m = lance_snapshot_manifest(after);
	fs = lance_schema_field_by_name(&m->schema, "s");
	CHECK_OK(lance_snapshot_read(&a, after,
				     (uint32_t)(m->n_fragments - 1), fs, 0,
				     2, &err), &err);
	CHECK_EQ_U64(a.offsets[1], 1);
	CHECK_EQ_U64(a.offsets[2], 4);
	CHECK(!memcmp(a.values, "xwhy", 4));
	lance_array_reset(&a);
	CHECK_EQ_U64(m->fragments[m->n_fragments - 1].files[0].major, 2);
	CHECK_EQ_U64(m->fragments[m->n_fragments - 1].files[0].minor, 2);
	lance_snapshot_free(after);
	lance_snapshot_free(snap);
	staging_free(stg);
	ostore_free(st);
	harness_rm_rf(dir);
}

static void die_at_1(int point)
{
	if (point == 1)
		kill(getpid(), SIGKILL);
}

static void die_at_2(int point)
{
	if (point == 2)
		kill(getpid(), SIGKILL);
}

struct crash {
	char dir[32], ds[300], sd[300];
	struct ostore *st;
	struct staging *stg;
};

/* Three staged rows of a new dataset, a commit of them killed (kill -9)
 * at `hook`, and the staging opened again as the next mount does. */
static void crash_setup(struct crash *c, void (*hook)(int))
{
	struct lc_err err = { 0 };
	uint64_t ver = 0, n = 0;
	int status;
	pid_t pid;

	snprintf(c->dir, sizeof(c->dir), "/tmp/lancefs-ingest-XXXXXX");
	CHECK(mkdtemp(c->dir));
	snprintf(c->ds, sizeof(c->ds), "%s/c.lance", c->dir);
	snprintf(c->sd, sizeof(c->sd), "%s/staging", c->dir);
	mkdir(c->ds, 0755);
	CHECK_OK(ostore_local_new(&c->st, c->ds, &err), &err);
	CHECK_OK(staging_open(&c->stg, c->sd, &err), &err);
	for (int i = 0; i < 3; i++) {
		char name[16];
		uint64_t id;

		snprintf(name, sizeof(name), "r%d", i);
		CHECK_OK(staging_row_new(&id, c->stg, name, &err), &err);
		stage_text(c->stg, id, "meta.json", "{\"k\":1}");
	}
	pid = fork();
	if (pid == 0) {
		ingest__test_hook = hook;
		if (ingest_commit(&ver, &n, c->st, c->stg, 0, NULL, NULL, NULL,
				  NULL, NULL))
			_exit(1);
		_exit(2);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	staging_free(c->stg);
	CHECK_OK(staging_open(&c->stg, c->sd, &err), &err);
}

/* The dataset holds the three rows once, in version 1, and the staging
 * holds nothing: no row, no batch record. */
static void crash_check(struct crash *c)
{
	struct lc_err err = { 0 };
	struct lance_snapshot *snap;
	struct staging_batch *unsure = NULL;
	size_t landed, n_unsure;
	int left = 0;

	CHECK_OK(lance_snapshot_open(&snap, c->st, 0, &err), &err);
	CHECK_EQ_U64(lance_snapshot_num_rows(snap), 3);
	CHECK_EQ_U64(lance_snapshot_manifest(snap)->version, 1);
	lance_snapshot_free(snap);
	CHECK_OK(staging_rows(c->stg, count_staged, &left, &err), &err);
	CHECK_EQ_U64(left, 0);
	CHECK_OK(ingest_recover(&landed, &unsure, &n_unsure, c->st, c->stg,
				&err), &err);
	CHECK_EQ_U64(landed + n_unsure, 0);
	lc_free(unsure);
	staging_free(c->stg);
	ostore_free(c->st);
	harness_rm_rf(c->dir);
}

/* Commit the rows of `b`, an attempt of unknown outcome, again under its
 * own id, from staging `stg`: it settles, in version 1. */
static void commit_again(struct crash *c, struct staging *stg,
			 const struct staging_batch *b)
{
	struct lc_err err = { 0 };
	struct ingest_attempt a = { .since = b->read_version };
	uint64_t ver = 0, n = 0;

	memcpy(a.uuid, b->uuid, sizeof(a.uuid));
	CHECK_OK(ingest_commit_rows(&ver, &n, c->st, stg, b->rows, b->n_rows,
				    0, &a, NULL, NULL, NULL, NULL, NULL, NULL,
				    &err),
		 &err);
	CHECK_EQ_U64(ver, 1);
	CHECK_EQ_U64(n, 3);
	CHECK_STR(a.uuid, "");
}

/* kill -9 after the batch is recorded (before or after the commit
 * lands), then recovery and the commit the next mount makes: every row
 * exactly once. */
static void crash_case(void (*hook)(int), size_t want_landed)
{
	struct crash c;
	struct lc_err err = { 0 };
	struct staging_batch *unsure = NULL;
	size_t landed, n_unsure;
	int left = 0;

	crash_setup(&c, hook);
	CHECK_OK(ingest_recover(&landed, &unsure, &n_unsure, c.st, c.stg,
				&err), &err);
	CHECK_EQ_U64(landed, want_landed);
	CHECK_EQ_U64(n_unsure, 1 - want_landed);
	CHECK_OK(staging_rows(c.stg, count_staged, &left, &err), &err);
	CHECK_EQ_U64(left, want_landed ? 0 : 3);
	if (n_unsure) {
		/* what may not have landed goes again, under its own id */
		commit_again(&c, c.stg, &unsure[0]);
		staging_batch_reset(&unsure[0]);
	}
	lc_free(unsure);
	crash_check(&c);
}

/* The daemon dies while its manifest put is in flight; the next mount
 * does not find it and is about to commit the rows again when the first
 * put lands after all. Under the same transaction id the commit finds
 * the late version is its own: every row once. (Under a new id this
 * commit fails, as the dataset it would create exists; on a dataset
 * that existed it would add the rows a second time.) */
TEST(crash_late_landing)
{
	struct crash c;
	char sd2[300], cmd[700];
	struct lc_err err = { 0 };
	struct staging *stg2;
	struct staging_batch *unsure = NULL;
	size_t landed, n_unsure;

	crash_setup(&c, die_at_1);
	CHECK_OK(ingest_recover(&landed, &unsure, &n_unsure, c.st, c.stg,
				&err), &err);
	CHECK_EQ_U64(n_unsure, 1);
	/* the put in flight lands: the same rows under the same id, made
	 * from a copy of the staging as it was */
	snprintf(sd2, sizeof(sd2), "%s/staging2", c.dir);
	snprintf(cmd, sizeof(cmd), "cp -a %s %s", c.sd, sd2);
	CHECK(system(cmd) == 0);
	CHECK_OK(staging_open(&stg2, sd2, &err), &err);
	commit_again(&c, stg2, &unsure[0]);
	staging_free(stg2);
	/* the next mount's commit finds that version is its own */
	commit_again(&c, c.stg, &unsure[0]);
	staging_batch_reset(&unsure[0]);
	lc_free(unsure);
	crash_check(&c);
}

TEST(crash_before_commit)
{
	crash_case(die_at_1, 0);
}

TEST(crash_after_commit)
{
	crash_case(die_at_2, 1);
}

TEST_MAIN(TEST_ENTRY(assemble_every_type), TEST_ENTRY(assemble_refusals),
	  TEST_ENTRY(assemble_float_limits), TEST_ENTRY(assemble_wide_fixed),
	  TEST_ENTRY(assemble_edge_values), TEST_ENTRY(assemble_root_file),
	  TEST_ENTRY(assemble_escaped_column_files), TEST_ENTRY(assemble_map), TEST_ENTRY(assemble_int_name),
	  TEST_ENTRY(infer_schema), TEST_ENTRY(commit_new_dataset),
	  TEST_ENTRY(infer_writable), TEST_ENTRY(view_names_stay_unique),
	  TEST_ENTRY(view_names_of_cut_names_stay_unique),
	  TEST_ENTRY(commit_many_fragments),
	  TEST_ENTRY(commit_append_lancedb), TEST_ENTRY(crash_before_commit),
	  TEST_ENTRY(crash_late_landing),
	  TEST_ENTRY(crash_after_commit))
