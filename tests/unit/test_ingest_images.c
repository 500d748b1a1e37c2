/* test_ingest_images.c - -o validate_images in assembly: a staged row
 * whose JPEG or PNG does not decode is refused ("ROW/FILE: reason",
 * EINVAL, LC_EK_USAGE) only when the option is set; good images, other
 * files and string columns are never judged. */
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "imgfix.h"
#include "ingest.h"

static const struct lance_field_def defs[] = {
	{ "name", -1, "string", true },
	{ "image", -1, "binary", true },
	{ "caption", -1, "string", true },
};

struct fx {
	char dir[64];
	char row[128];
	struct lance_schema s;
	struct ingest_rows *r;
};

static int fx_open(struct fx *fx, bool validate, struct lc_err *err)
{
	struct ingest_opts o = { .name_column = "name",
				 .validate_images = validate };
	int rc;

	fx->r = NULL;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/lancefs-ingimg-XXXXXX");
	if (!mkdtemp(fx->dir))
		return errno;
	rc = lance_schema_build(&fx->s, defs, 3, err);
	if (!rc)
		rc = ingest_rows_new(&fx->r, &fx->s, &o, false, err);
	return rc;
}

static void fx_close(struct fx *fx)
{
	ingest_rows_free(fx->r);
	lance_schema_reset(&fx->s);
	harness_rm_rf(fx->dir);
}

/* Stage row folder `name` holding `file` with the given bytes. */
static const char *stage(struct fx *fx, const char *name, const char *file,
			 const void *p, size_t n)
{
	snprintf(fx->row, sizeof(fx->row), "%s/%s", fx->dir, name);
	harness_put_file(fx->row, file, p, n);
	return fx->row;
}

#define CHECK_REFUSED(call, errp, text)                                    \
	do {                                                               \
		lc_err_clear(errp);                                        \
		int rc__ = (call);                                         \
		if (rc__ != EINVAL || (errp)->kind != LC_EK_USAGE ||       \
		    strcmp((errp)->msg, (text))) {                         \
			fprintf(stderr, "%s:%d: rc %d, message \"%s\", "   \
				"expected \"%s\"\n", __FILE__, __LINE__,   \
				rc__, (errp)->msg, (text));                \
			harness_failed = 1;                                \
			return;                                            \
		}                                                          \
	} while (0)

TEST(corrupt_jpeg_refused_only_when_asked)
{
	struct lc_err err = { 0 };
	size_t n = 0;
	uint8_t *j = imgfix_jpeg(64, 48, TJPF_RGB, TJSAMP_420, 0, &n);
	const char *d;
	struct fx fx;

	CHECK(j);
	/* off (the default): the bytes go in as they are */
	CHECK_OK(fx_open(&fx, false, &err), &err);
	d = stage(&fx, "r1", "image.jpg", j, n / 2);
	CHECK_OK(ingest_row(fx.r, d, "r1", false, &err), &err);
	CHECK_EQ_U64(ingest_rows_count(fx.r), 1);
	fx_close(&fx);

	/* on: the same row is refused, and nothing of it is appended */
	CHECK_OK(fx_open(&fx, true, &err), &err);
	d = stage(&fx, "r1", "image.jpg", j, n / 2);
	CHECK_REFUSED(ingest_row(fx.r, d, "r1", false, &err), &err,
		      "r1/image.jpg: not a decodable JPEG: Premature end of "
		      "JPEG file");
	CHECK_EQ_U64(ingest_rows_count(fx.r), 0);
	/* a whole JPEG passes; so does one named .png (content wins) */
	d = stage(&fx, "r2", "image.jpg", j, n);
	CHECK_OK(ingest_row(fx.r, d, "r2", false, &err), &err);
	d = stage(&fx, "r3", "image.PNG", j, n);
	CHECK_OK(ingest_row(fx.r, d, "r3", false, &err), &err);
	CHECK_EQ_U64(ingest_rows_count(fx.r), 2);
	/* bytes that are no JPEG, named like one */
	d = stage(&fx, "r4", "image.jpeg", "hello", 5);
	CHECK_REFUSED(ingest_row(fx.r, d, "r4", false, &err), &err,
		      "r4/image.jpeg: not a decodable JPEG: Not a JPEG file: "
		      "starts with 0x68 0x65");
	/* other binary files and string columns are not judged */
	d = stage(&fx, "r5", "image.bin", "hello", 5);
	CHECK_OK(ingest_row(fx.r, d, "r5", false, &err), &err);
	/* a string column: FF D8 FF is checked as UTF-8, not as a JPEG */
	d = stage(&fx, "r6", "caption.txt", j, 3);
	CHECK_REFUSED(ingest_row(fx.r, d, "r6", false, &err), &err,
		      "r6/caption.txt: not valid UTF-8 (byte 0)");
	CHECK_EQ_U64(ingest_rows_count(fx.r), 3);
	fx_close(&fx);
	free(j);
}

TEST(corrupt_png_refused)
{
	struct lc_err err = { 0 };
	size_t n = 0;
	uint8_t *p = imgfix_png(16, 8, &n);
	const char *d;
	struct fx fx;

	CHECK(p);
	CHECK_OK(fx_open(&fx, true, &err), &err);
	d = stage(&fx, "a", "image.png", p, n);
	CHECK_OK(ingest_row(fx.r, d, "a", false, &err), &err);
	d = stage(&fx, "b", "image.png", p, n - 12);	/* no IEND */
	lc_err_clear(&err);
	CHECK(ingest_row(fx.r, d, "b", false, &err) == EINVAL);
	CHECK(!strncmp(err.msg, "b/image.png: PNG: no IEND chunk", 31));
	p[IMGFIX_PNG_IHDR + 21] ^= 1;			/* IHDR's CRC */
	d = stage(&fx, "c", "image.png", p, n);
	CHECK_REFUSED(ingest_row(fx.r, d, "c", false, &err), &err,
		      "c/image.png: PNG header: bad CRC");
	CHECK_EQ_U64(ingest_rows_count(fx.r), 1);
	fx_close(&fx);
	free(p);
}

/* A root-level file is named by itself: "./FILE: reason". */
TEST(root_file_refused)
{
	struct lc_err err = { 0 };
	size_t n = 0;
	uint8_t *j = imgfix_jpeg(32, 32, TJPF_GRAY, TJSAMP_GRAY, 0, &n);
	char path[256];
	struct fx fx;

	CHECK(j);
	CHECK_OK(fx_open(&fx, true, &err), &err);
	harness_put_file(fx.dir, "cat.jpg", j, n - 1);
	snprintf(path, sizeof(path), "%s/cat.jpg", fx.dir);
	CHECK_REFUSED(ingest_row(fx.r, path, "cat.jpg", true, &err), &err,
		      "cat.jpg: not a decodable JPEG: Premature end of JPEG "
		      "file");
	harness_put_file(fx.dir, "dog.jpg", j, n);
	snprintf(path, sizeof(path), "%s/dog.jpg", fx.dir);
	CHECK_OK(ingest_row(fx.r, path, "dog.jpg", true, &err), &err);
	CHECK_EQ_U64(ingest_rows_count(fx.r), 1);
	fx_close(&fx);
	free(j);
}

TEST_MAIN(TEST_ENTRY(corrupt_jpeg_refused_only_when_asked),
	  TEST_ENTRY(corrupt_png_refused), TEST_ENTRY(root_file_refused))
