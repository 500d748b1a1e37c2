/*
 * commit_tool.c - the C half of the commit interop test (check.js is the
 * LanceDB half). Commits through lance_commit and prints what our reader
 * sees, so LanceDB can be compared with it:
 *
 *   commit_tool make FIXTURES OUT   copies LanceDB fixtures to OUT and
 *                                   commits appends, deletes (arrow and
 *                                   bitmap), a dropped fragment, stable
 *                                   row ids and a new dataset
 *   commit_tool append DATASET      appends a copy of the first fragment
 *   commit_tool delete DATASET FRAG_ID OFFSET
 *   commit_tool update DATASET FRAG_ID OFFSET   both in one commit
 *   commit_tool expect DATASET      every version as JSON: version, rows,
 *                                   _rowid of each row in scan order
 *
 * New fragments reuse copies of the dataset's own data files, so the data
 * is valid for its schema by construction.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lance.h"

static int die(const char *what, const struct lc_err *err)
{
	fprintf(stderr, "commit_tool: %s: %s\n", what, err->msg);
	exit(1);
}

static struct ostore *open_store(const char *dir)
{
	struct ostore *st;
	struct lc_err err = { 0 };

	mkdir(dir, 0755);
	if (ostore_local_new(&st, dir, &err))
		die(dir, &err);
	return st;
}

static struct lance_snapshot *snap(struct ostore *st, uint64_t v)
{
	struct lance_snapshot *s;
	struct lc_err err = { 0 };

	if (lance_snapshot_open(&s, st, v, &err))
		die("snapshot", &err);
	return s;
}

/* Copies of fragment `fi`'s files of `from`'s latest version into st. */
static void like_fragment(struct lance_commit_frag *out,
			  struct lance_data_file *files, struct ostore *st,
			  struct ostore *from, size_t fi)
{
	static unsigned seq;
	struct lance_snapshot *s = snap(from, 0);
	const struct lance_fragment *f =
		&lance_snapshot_manifest(s)->fragments[fi];
	struct lc_err err = { 0 };

	for (size_t i = 0; i < f->n_files && i < 4; i++) {
		uint8_t *buf;
		size_t len;
		char path[256];

		/* Unique across runs of this tool on one dataset. */
		snprintf(path, sizeof(path), "data/lancefs-%ld-%u-%zu.lance",
			 (long)getpid(), seq++, i);
		if (ostore_get(&buf, &len, from, f->files[i].path, 1u << 30,
			       &err) ||
		    ostore_put(st, path, buf, len, 0, &err))
			die(f->files[i].path, &err);
		free(buf);
		files[i] = f->files[i];
		files[i].path = strdup(path);
		files[i].fields = malloc(f->files[i].n_fields *
					 sizeof(int32_t) + 1);
		files[i].column_indices = malloc(
			f->files[i].n_column_indices * sizeof(int32_t) + 1);
		memcpy(files[i].fields, f->files[i].fields,
		       f->files[i].n_fields * sizeof(int32_t));
		memcpy(files[i].column_indices, f->files[i].column_indices,
		       f->files[i].n_column_indices * sizeof(int32_t));
		files[i].size = len;
	}
	memset(out, 0, sizeof(*out));
	out->files = files;
	out->n_files = f->n_files < 4 ? f->n_files : 4;
	out->physical_rows = f->physical_rows;
	lance_snapshot_free(s);
}

static void free_files(struct lance_data_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(files[i].path);
		free(files[i].fields);
		free(files[i].column_indices);
	}
}

static uint64_t latest_version(struct ostore *st)
{
	struct lance_snapshot *s = snap(st, 0);
	uint64_t v = lance_snapshot_manifest(s)->version;

	lance_snapshot_free(s);
	return v;
}

static uint64_t commit(struct ostore *st, struct lance_commit *c)
{
	struct lc_err err = { 0 };
	uint64_t v;

	if (lance_commit(&v, st, c, &err))
		die("commit", &err);
	for (size_t i = 0; i < c->n_appends; i++)
		free_files((struct lance_data_file *)c->appends[i].files,
			   c->appends[i].n_files);
	return v;
}

static uint64_t append(struct ostore *st, size_t fi)
{
	struct lance_data_file files[4];
	struct lance_commit_frag nf;
	struct lance_commit c = { 0 };

	like_fragment(&nf, files, st, st, fi);
	c.read_version = latest_version(st);
	c.appends = &nf;
	c.n_appends = 1;
	return commit(st, &c);
}

static uint64_t delete_rows(struct ostore *st, uint64_t frag,
			    const uint32_t *rows, size_t n)
{
	struct lance_commit_delete d = { frag, rows, n };
	struct lance_commit c = { 0 };

	c.read_version = latest_version(st);
	c.deletes = &d;
	c.n_deletes = 1;
	return commit(st, &c);
}

/* Delete one row and append a fragment in one commit (an Update). */
static uint64_t update(struct ostore *st, uint64_t frag, uint32_t row)
{
	struct lance_commit_delete d = { frag, &row, 1 };
	struct lance_data_file files[4];
	struct lance_commit_frag nf;
	struct lance_commit c = { 0 };

	like_fragment(&nf, files, st, st, 0);
	c.read_version = latest_version(st);
	c.deletes = &d;
	c.n_deletes = 1;
	c.appends = &nf;
	c.n_appends = 1;
	return commit(st, &c);
}

static void copy_dir(const char *from, const char *to)
{
	char cmd[12400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%.4096s' && cp -r '%.4096s' "
		 "'%.4096s'", to, from, to);
	if (system(cmd)) {
		fprintf(stderr, "commit_tool: cannot copy %s\n", from);
		exit(1);
	}
}

static struct ostore *fixture(const char *fixtures, const char *out,
			      const char *name, const char *as)
{
	char from[4096], to[4096];

	snprintf(from, sizeof(from), "%s/%s.lance", fixtures, name);
	snprintf(to, sizeof(to), "%s/%s.lance", out, as);
	copy_dir(from, to);
	return open_store(to);
}

static void make(const char *fixtures, const char *out)
{
	struct ostore *st;
	uint32_t rows[8];

	mkdir(out, 0755);

	/* V1 names, arrow deletion vectors: append, delete rows of old and
	 * new fragments, then every live row of fragment 3 (dropped). */
	st = fixture(fixtures, out, "v1names", "append");
	append(st, 0);					/* v8 */
	rows[0] = 0;
	rows[1] = 7;
	delete_rows(st, 1, rows, 2);			/* v9 */
	rows[0] = 4;
	delete_rows(st, 4, rows, 1);			/* v10 */
	for (uint32_t i = 0; i < 5; i++)
		rows[i] = i;
	delete_rows(st, 3, rows, 5);			/* v11 */
	ostore_free(st);

	/* Stable row ids (V2 names), then a delete in the new fragment. */
	st = fixture(fixtures, out, "stable", "stable");
	append(st, 1);					/* v9 */
	rows[0] = 1;
	delete_rows(st, 5, rows, 1);			/* v10 */
	ostore_free(st);

	/* A roaring deletion vector grows. */
	st = fixture(fixtures, out, "bitmap", "bitmap");
	rows[0] = 6001;
	rows[1] = 6009;
	delete_rows(st, 0, rows, 2);			/* v3 */
	ostore_free(st);

	/* A dataset we create, with v1names' schema and data. */
	{
		char src[4096], to[4096];
		struct ostore *from;
		struct lance_snapshot *s;
		struct lance_data_file files[4];
		struct lance_commit_frag nf;
		struct lance_commit c = { 0 };

		char cmd[4200];

		snprintf(to, sizeof(to), "%s/created.lance", out);
		snprintf(cmd, sizeof(cmd), "rm -rf '%.4096s'", to);
		if (system(cmd))
			exit(1);
		snprintf(src, sizeof(src), "%s/v1names.lance", fixtures);
		from = open_store(src);
		st = open_store(to);
		s = snap(from, 0);
		like_fragment(&nf, files, st, from, 0);
		c.new_schema = &lance_snapshot_manifest(s)->schema;
		c.data_format = lance_snapshot_manifest(s)->data_format;
		c.appends = &nf;
		c.n_appends = 1;
		commit(st, &c);				/* v1 */
		lance_snapshot_free(s);
		ostore_free(from);
		rows[0] = 2;
		delete_rows(st, 0, rows, 1);		/* v2 */
		append(st, 0);				/* v3 */
		ostore_free(st);
	}
}

static void expect(const char *dir)
{
	struct ostore *st = open_store(dir);
	struct lance_version_info *vs;
	struct lc_err err = { 0 };
	size_t nv;

	if (lance_list_versions(&vs, &nv, st, &err))
		die(dir, &err);
	printf("[");
	for (size_t i = 0; i < nv; i++) {
		struct lance_snapshot *s = snap(st, vs[i].version);
		const struct lance_manifest *m = lance_snapshot_manifest(s);
		bool stable = m->reader_flags & LANCE_FLAG_STABLE_ROW_IDS;
		uint64_t n = lance_snapshot_num_rows(s);

		printf("%s\n{\"version\":%" PRIu64 ",\"rows\":%" PRIu64
		       ",\"writer\":\"%s\",\"rowids\":[", i ? "," : "",
		       vs[i].version, n,
		       m->writer_library ? m->writer_library : "");
		for (uint64_t k = 0; k < n; k++) {
			struct lance_row_ref r;
			uint64_t id;

			if (lance_snapshot_row_at(&r, s, k, &err))
				die("row_at", &err);
			id = stable ? r.number :
			     m->fragments[r.frag].id << 32 | r.offset;
			printf("%s\"%" PRIu64 "\"", k ? "," : "", id);
		}
		printf("]}");
		lance_snapshot_free(s);
	}
	printf("]\n");
	lance_versions_free(vs, nv);
	ostore_free(st);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "make")) {
		make(argv[2], argv[3]);
	} else if (argc == 3 && !strcmp(argv[1], "append")) {
		struct ostore *st = open_store(argv[2]);

		printf("%" PRIu64 "\n", append(st, 0));
		ostore_free(st);
	} else if (argc == 5 && !strcmp(argv[1], "delete")) {
		struct ostore *st = open_store(argv[2]);
		uint32_t row = (uint32_t)strtoul(argv[4], NULL, 10);

		printf("%" PRIu64 "\n", delete_rows(st,
			strtoull(argv[3], NULL, 10), &row, 1));
		ostore_free(st);
	} else if (argc == 5 && !strcmp(argv[1], "update")) {
		struct ostore *st = open_store(argv[2]);

		printf("%" PRIu64 "\n", update(st, strtoull(argv[3], NULL, 10),
			(uint32_t)strtoul(argv[4], NULL, 10)));
		ostore_free(st);
	} else if (argc == 3 && !strcmp(argv[1], "expect")) {
		expect(argv[2]);
	} else {
		fprintf(stderr, "usage: commit_tool make FIXTURES OUT | append "
			"DIR | delete|update DIR FRAG OFFSET | expect DIR\n");
		return 2;
	}
	return 0;
}
