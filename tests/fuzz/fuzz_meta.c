/* fuzz_meta.c - a row's meta.json, which anyone who copies files into a
 * mount writes: fs/ingest.c turns its JSON values into every column type
 * by the VIEW.md rules (dates, times, timestamps, decimals, hex, lists,
 * structs, JSON columns' JSONB). The input is the file. Checks: the row
 * is accepted or refused (EINVAL), never anything else; an accepted row,
 * rendered back as the view renders meta.json, is accepted again and
 * renders the same (the rules and the rendering are each other's
 * inverse). */
#include "every_type.h"
#include "ingest.h"
#include "render.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lance_schema schema;
static char top[] = "/tmp/lancefs-fuzz-meta-XXXXXX";
static char row[64];	/* top/r, a row folder holding only meta.json */

static void cleanup(void)
{
	char path[96];

	snprintf(path, sizeof(path), "%s/meta.json", row);
	unlink(path);
	rmdir(row);
	rmdir(top);
}

static void setup(void)
{
	struct lc_err err = { 0 };

	if (!mkdtemp(top) ||
	    lance_schema_build(&schema, every_type_defs, EVERY_TYPE_N, &err))
		abort();
	snprintf(row, sizeof(row), "%s/r", top);
	if (mkdir(row, 0700))
		abort();
	atexit(cleanup);
}

static void put_meta(const void *p, size_t n)
{
	char path[96];
	int fd;

	snprintf(path, sizeof(path), "%s/meta.json", row);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, p, n) != (ssize_t)n || close(fd))
		abort();
}

/* Assemble the row from meta.json `p`; when accepted, its meta.json as
 * the view renders it (every column but the binary ones) into `out`.
 * 0 accepted, 1 refused (why in `err`). */
static int assemble(struct lc_buf *out, const void *p, size_t n,
		    struct lc_err *why)
{
	struct ingest_opts o = { "name", NULL, NULL, false };
	const struct lance_array *cols;
	struct lc_err err = { 0 };
	struct ingest_rows *r;
	int rc;

	put_meta(p, n);
	if (ingest_rows_new(&r, &schema, &o, false, &err))
		abort();
	rc = ingest_row(r, row, "r", false, &err);
	if (rc == EINVAL && err.kind == LC_EK_USAGE) {
		*why = err;
		ingest_rows_free(r);
		return 1;
	}
	if (rc || ingest_rows_arrays(&cols, r, &err) ||
	    lc_buf_append(out, "{", 1, &err))
		abort();
	for (size_t i = 0, k = 0; i < schema.n_top; i++) {
		const struct lance_field *f = schema.top[i];

		if ((f->type.id == LANCE_T_BINARY && !f->type.json) ||
		    f->blob != LANCE_BLOB_NONE)
			continue;
		if ((k++ && lc_buf_append(out, ",", 1, &err)) ||
		    render_json_string(out, f->name, strlen(f->name), &err) ||
		    lc_buf_append(out, ":", 1, &err) ||
		    render_json_value(out, &cols[i], 0, &err))
			abort();
	}
	if (lc_buf_append(out, "}", 1, &err))
		abort();
	ingest_rows_free(r);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lc_err why = { 0 };
	struct lc_buf once, twice;

	if (!row[0])
		setup();
	lc_buf_init(&once, 0);
	lc_buf_init(&twice, 0);
	if (!assemble(&once, data, size, &why)) {
		if (assemble(&twice, once.data, once.len, &why)) {
			fprintf(stderr, "rendered row refused (%s): %.*s\n",
				why.msg, (int)once.len,
				(const char *)once.data);
			abort();
		}
		if (once.len != twice.len ||
		    memcmp(once.data, twice.data, once.len)) {
			fprintf(stderr, "renders differ:\n%.*s\n%.*s\n",
				(int)once.len, (const char *)once.data,
				(int)twice.len, (const char *)twice.data);
			abort();
		}
	}
	lc_buf_reset(&once);
	lc_buf_reset(&twice);
	return 0;
}
