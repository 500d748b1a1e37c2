/*
 * ingest_tool.c - the C half of the ingest interop test (check.js is the
 * LanceDB half): stages row folders and root-level files as a mount
 * would, then commits them with ingest_commit.
 *
 *   ingest_tool commit DATASET STAGING SRC [NAME_COLUMN]
 *
 * Every entry of SRC (a folder: a row folder; a file: a root-level file)
 * becomes a staged row named after it. DATASET is created (schema
 * inferred) when it holds no dataset yet, else appended to, planned on
 * its latest version. Prints {"version":N,"rows":N,"refused":N}.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ingest.h"

static void die(const char *what, const struct lc_err *err)
{
	fprintf(stderr, "ingest_tool: %s: %s\n", what, err->msg);
	exit(1);
}

static void copy(const char *from, const char *to)
{
	char cmd[9000];

	snprintf(cmd, sizeof(cmd), "cp -r '%.4000s' '%.4000s'", from, to);
	if (system(cmd)) {
		fprintf(stderr, "ingest_tool: cannot copy %s\n", from);
		exit(1);
	}
}

/* Stage SRC/<entry>: a folder's files go into the row folder, a file
 * goes in as itself (a root-level file). */
static void stage(struct staging *stg, const char *src)
{
	struct dirent **ents;
	const struct staging_info file_row = { .kind = STAGING_FILE };
	struct lc_err err = { 0 };
	int n = scandir(src, &ents, NULL, alphasort);

	if (n < 0) {
		perror(src);
		exit(1);
	}
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char from[4200], row[4200], files[4300];
		struct stat sb;
		uint64_t id;

		if (name[0] == '.')
			goto next;
		snprintf(from, sizeof(from), "%s/%s", src, name);
		if (stat(from, &sb))
			goto next;
		if (staging_row_add(&id, stg, name, S_ISDIR(sb.st_mode) ?
				    NULL : &file_row, &err))
			die(name, &err);
		staging_row_path(row, sizeof(row), stg, id);
		if (S_ISDIR(sb.st_mode)) {
			snprintf(files, sizeof(files), "%s/.", from);
			copy(files, row);
		} else {
			copy(from, row);
		}
next:
		free(ents[i]);
	}
	free(ents);
}

static void refused(void *ctx, uint64_t row, const char *name,
		    const struct lc_err *why)
{
	(void)row;
	(void)name;
	(*(int *)ctx)++;
	fprintf(stderr, "refused: %s\n", why->msg);
}

int main(int argc, char **argv)
{
	struct lc_err err = { 0 };
	struct ingest_opts o = { 0 };
	struct lance_snapshot *snap = NULL;
	struct ostore *st;
	struct staging *stg;
	uint64_t ver, rows, rv = 0;
	int nref = 0;

	if (argc < 5 || strcmp(argv[1], "commit")) {
		fprintf(stderr, "usage: ingest_tool commit DATASET STAGING SRC"
			" [NAME_COLUMN]\n");
		return 2;
	}
	o.name_column = argc > 5 ? argv[5] : NULL;
	mkdir(argv[2], 0755);
	if (ostore_local_new(&st, argv[2], &err))
		die(argv[2], &err);
	if (staging_open(&stg, argv[3], &err))
		die(argv[3], &err);
	stage(stg, argv[4]);
	if (lance_snapshot_open(&snap, st, 0, &err) == 0)
		rv = lance_snapshot_manifest(snap)->version;
	else
		snap = NULL;
	lc_err_clear(&err);
	if (ingest_commit(&ver, &rows, st, stg, rv,
			  snap ? &lance_snapshot_manifest(snap)->schema : NULL,
			  &o, refused, &nref, &err))
		die("commit", &err);
	printf("{\"version\":%" PRIu64 ",\"rows\":%" PRIu64 ",\"refused\":%d}"
	       "\n", ver, rows, nref);
	lance_snapshot_free(snap);
	staging_free(stg);
	ostore_free(st);
	return 0;
}
