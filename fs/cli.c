/*
 * cli.c - the lancefs command line (CLI.md): info, ls, cat. `ls` and `cat`
 * walk the same view the mount serves.
 *
 * Exit status: 0 success, 1 a user error (bad usage, no such path or
 * dataset), 2 an I/O or data error.
 */
#include <getopt.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mount.h"
#include "view.h"

static const char usage_text[] =
	"usage: lancefs COMMAND [ARGS]\n"
	"\n"
	"  lancefs info [--json] [-o OPTS] SOURCE\n"
	"                                       versions, schema, fragments\n"
	"  lancefs ls [-l] [-o OPTS] SOURCE [PATH]\n"
	"                                       list a folder of the view\n"
	"  lancefs cat [-o OPTS] SOURCE PATH    write a file of the view\n"
	"  lancefs mount [-f] [-d] [-o OPTS] SOURCE MOUNTPOINT\n"
	"  lancefs umount MOUNTPOINT            commit staged rows, unmount\n"
	"  lancefs commit MOUNTPOINT            commit staged rows now\n"
	"  lancefs warmup [--wait] MOUNTPOINT   fill cache_dir= with the data\n"
	"  lancefs status [--json] MOUNTPOINT   the mount's .lancefs/status\n"
	"\n"
	"SOURCE is a dataset (/data/photos.lance, file:///data/photos.lance,\n"
	"s3://bucket/prefix/photos.lance, oss://bucket/...) or a folder of\n"
	"datasets; a dataset may end in @N or @TAG.\n"
	"OPTS: name_column=COL, text_files=COL[:COL...]|all, ext.COL=EXT,\n"
	"      version=N, tag=NAME; mount also: ro, refresh=SEC, staging_dir=,\n"
	"      commit_delay=SEC, commit_rows=N, commit_bytes=N, file_column=,\n"
	"      format_version=2.0|2.1|2.2, validate_images, warmup, threads=N;\n"
	"      object stores: endpoint=URL, region=, access_key_id=,\n"
	"      secret_access_key=, session_token=, credentials_file=, profile=,\n"
	"      allow_http=true, virtual_hosted_style_request=true, ca_file=,\n"
	"      cache_size=, cache_dir=, cache_dir_size=.  See lancefs(1).\n";

static int exit_code(const struct lc_err *err)
{
	switch (err->kind) {
	case LC_EK_USAGE:
	case LC_EK_NOTFOUND:
	case LC_EK_NONE:
		return 1;
	default:
		return err->code == ENOENT ? 1 : 2;
	}
}

static int fail(const struct lc_err *err, const char *fallback)
{
	fprintf(stderr, "lancefs: %s\n", err->code ? err->msg : fallback);
	return exit_code(err);
}

/* -o OPTS, its secrets then hidden from ps(1) (a cat of a big file on
 * S3 runs a while). */
static int parse_opts(struct view_opts *o, char *arg, struct lc_err *err)
{
	size_t len = strlen(arg);
	int rc = 0;

	for (char *tok = strtok(arg, ","); tok && !rc;
	     tok = strtok(NULL, ",")) {
		rc = view_opts_parse(o, tok, err);
		if (rc == ENOENT)
			rc = LC_USAGE(err, "unknown option -o %s", tok);
	}
	ostore_conf_hide_secrets(arg, len);
	return rc;
}

static int open_view(struct view **v, const char *src, struct view_opts *o,
		     struct lc_err *err)
{
	char *path;
	int rc = view_split_source(&path, o, src, err);

	if (!rc)
		rc = view_open(v, path, o, err);
	lc_free(path);
	if (!rc)
		view_say_errors(*v, stderr);	/* a database member left out */
	return rc;
}

static void fmt_time(char *out, size_t cap, int64_t sec)
{
	time_t t = (time_t)sec;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

struct ls_ctx {
	struct view *v;
	const struct vnode *dir;	/* the folder listed */
	bool long_fmt;
	struct lc_err *err;
};

static int ls_cb(void *ctx, uint64_t index, const char *name,
		 const struct vnode *node)
{
	struct ls_ctx *c = ctx;
	struct view_attr a;
	char when[32];
	int rc;

	(void)index;
	if (!c->long_fmt) {
		printf("%s\n", name);
		return 0;
	}
	if (node->kind == VN_ROOT && !node->snap && c->dir) {
		/* an @versions or @tags entry: its version, as a lookup
		 * (the mount's) has it */
		struct vnode full;

		rc = view_lookup(&full, c->v, c->dir, name, c->err);
		if (!rc) {
			rc = view_getattr(&a, c->v, &full, c->err);
			vnode_reset(&full);
		}
	} else {
		rc = view_getattr(&a, c->v, node, c->err);
	}
	if (rc)
		return rc;
	fmt_time(when, sizeof(when), a.mtime_sec);
	printf("%s %12" PRIu64 " %s %s\n",
	       a.is_dir ? "dr-xr-xr-x" : "-r--r--r--", a.size, when, name);
	return 0;
}

static int cmd_ls(int argc, char **argv)
{
	struct view_opts o = { 0 };
	struct lc_err err = { 0 };
	struct ls_ctx c = { .err = &err };
	struct vnode node;
	struct view *v = NULL;
	int opt, rc;

	optind = 1;
	while ((opt = getopt(argc, argv, "lo:")) != -1) {
		if (opt == 'l')
			c.long_fmt = true;
		else if (opt == 'o' && !(rc = parse_opts(&o, optarg, &err)))
			continue;
		else
			goto usage;
	}
	if (argc - optind < 1 || argc - optind > 2)
		goto usage;
	rc = open_view(&v, argv[optind], &o, &err);
	if (rc)
		goto out;
	c.v = v;
	rc = view_resolve(&node, v, argc - optind == 2 ? argv[optind + 1] : "",
			  &err);
	if (rc == ENOENT && !err.code)
		LC_NOTFOUND(&err, "%s: no such file or folder in the view",
			    argv[optind + 1]);
	if (rc)
		goto out;
	if (node.kind == VN_FILE || node.kind == VN_CTLFILE) {
		const char *p = argv[optind + 1], *base = strrchr(p, '/');

		rc = ls_cb(&c, 0, base ? base + 1 : p, &node);
	} else {
		c.dir = &node;
		rc = view_readdir(v, &node, 0, ls_cb, &c, &err);
	}
	vnode_reset(&node);
	/* a full disk or a closed pipe is an error too */
	if (!rc && (fflush(stdout) || ferror(stdout)))
		rc = LC_SYS(&err, errno ? errno : EIO, "standard output: %s",
			    strerror(errno ? errno : EIO));
out:
	view_free(v);
	view_opts_reset(&o);
	return rc ? fail(&err, strerror(rc)) : 0;
usage:
	view_opts_reset(&o);
	if (err.code)
		return fail(&err, "");
	fputs(usage_text, stderr);
	return 1;
}

static int cmd_cat(int argc, char **argv)
{
	struct view_opts o = { 0 };
	struct lc_err err = { 0 };
	struct vnode node;
	struct view *v = NULL;
	struct lc_buf b;
	int opt, rc;

	optind = 1;
	while ((opt = getopt(argc, argv, "o:")) != -1) {
		if (opt == 'o' && !(rc = parse_opts(&o, optarg, &err)))
			continue;
		view_opts_reset(&o);
		if (err.code)
			return fail(&err, "");
		fputs(usage_text, stderr);
		return 1;
	}
	if (argc - optind != 2) {
		view_opts_reset(&o);
		fputs(usage_text, stderr);
		return 1;
	}
	lc_buf_init(&b, 0);
	rc = open_view(&v, argv[optind], &o, &err);
	if (rc)
		goto out;
	rc = view_resolve(&node, v, argv[optind + 1], &err);
	if (rc == ENOENT && !err.code)
		LC_NOTFOUND(&err, "%s: no such file in the view",
			    argv[optind + 1]);
	if (rc)
		goto out;
	if (node.kind != VN_FILE && node.kind != VN_CTLFILE)
		rc = LC_USAGE(&err, "%s: is a folder", argv[optind + 1]);
	else
		rc = view_read_file(&b, v, &node, &err);
	vnode_reset(&node);
	if (!rc && b.len && fwrite(b.data, 1, b.len, stdout) != b.len)
		rc = LC_SYS(&err, EIO, "writing to standard output failed");
	if (!rc && fflush(stdout))
		rc = LC_SYS(&err, EIO, "writing to standard output failed");
out:
	lc_buf_reset(&b);
	view_free(v);
	view_opts_reset(&o);
	return rc ? fail(&err, strerror(rc)) : 0;
}

/* ------------------------------------------------------------ info */

static json_t *kv_json(const struct lance_kv *kv, size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, kv[i].key,
				    json_stringn((const char *)kv[i].value,
						 kv[i].value_len));
	return o;
}

static json_t *field_json(const struct lance_field *f)
{
	json_t *o = json_pack("{s:s, s:i, s:s, s:b}", "name", f->name, "id",
			      (json_int_t)f->id, "type",
			      f->logical_type ? f->logical_type : "",
			      "nullable", f->nullable);

	if (f->blob != LANCE_BLOB_NONE)
		json_object_set_new(o, "blob",
				    json_string(f->blob == LANCE_BLOB_V1 ?
						"v1" : "v2"));
	if (f->n_metadata)
		json_object_set_new(o, "metadata",
				    kv_json(f->metadata, f->n_metadata));
	if (f->n_children) {
		json_t *c = json_array();

		for (size_t i = 0; i < f->n_children; i++)
			json_array_append_new(c, field_json(f->children[i]));
		json_object_set_new(o, "children", c);
	}
	return o;
}

static json_t *dataset_json(const struct vnode *root, struct lc_err *err)
{
	const struct lance_manifest *m = view_manifest(root);
	struct lance_version_info *vi;
	struct lance_tag *tags;
	json_t *o, *arr;
	uint64_t live = 0;
	size_t n;

	o = json_object();
	json_object_set_new(o, "version", json_integer((json_int_t)m->version));
	json_object_set_new(o, "timestamp",
			    json_integer((json_int_t)m->timestamp_sec));
	json_object_set_new(o, "data_format",
			    json_string(m->data_format ? m->data_format : ""));
	if (m->writer_library)
		json_object_set_new(o, "writer",
				    json_sprintf("%s %s", m->writer_library,
						 m->writer_version ?
						 m->writer_version : ""));
	json_object_set_new(o, "reader_feature_flags",
			    json_integer((json_int_t)m->reader_flags));
	json_object_set_new(o, "writer_feature_flags",
			    json_integer((json_int_t)m->writer_flags));
	arr = json_array();
	for (size_t i = 0; i < m->schema.n_top; i++)
		json_array_append_new(arr, field_json(m->schema.top[i]));
	json_object_set_new(o, "schema", arr);
	arr = json_array();
	for (size_t i = 0; i < m->n_fragments; i++) {
		const struct lance_fragment *fr = &m->fragments[i];
		json_t *files = json_array(), *fo;

		for (size_t j = 0; j < fr->n_files; j++)
			json_array_append_new(files, json_pack(
				"{s:s, s:o, s:I}", "path", fr->files[j].path,
				"file_version",
				json_sprintf("%u.%u", fr->files[j].major,
					     fr->files[j].minor),
				"size", (json_int_t)fr->files[j].size));
		fo = json_pack("{s:I, s:I, s:I, s:o}", "id",
			       (json_int_t)fr->id, "physical_rows",
			       (json_int_t)fr->physical_rows, "deleted_rows",
			       (json_int_t)fr->deletion.num_deleted, "files",
			       files);
		json_array_append_new(arr, fo);
		live += fr->physical_rows - fr->deletion.num_deleted;
	}
	json_object_set_new(o, "fragments", arr);
	json_object_set_new(o, "rows", json_integer((json_int_t)live));
	if (m->n_config)
		json_object_set_new(o, "config",
				    kv_json(m->config, m->n_config));
	if (!lance_list_versions(&vi, &n, view_store(root), err)) {
		arr = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(arr, json_integer(
				(json_int_t)vi[i].version));
		json_object_set_new(o, "versions", arr);
		lance_versions_free(vi, n);
	}
	if (!lance_list_tags(&tags, &n, view_store(root), err)) {
		json_t *t = json_object();

		for (size_t i = 0; i < n; i++)
			json_object_set_new(t, tags[i].name, json_integer(
				(json_int_t)tags[i].version));
		json_object_set_new(o, "tags", t);
		lance_tags_free(tags, n);
	}
	return o;
}

static void print_info_text(json_t *o, const char *indent)
{
	const char *key;
	json_t *val;

	json_object_foreach(o, key, val) {
		if (json_is_array(val) && !strcmp(key, "schema")) {
			size_t i;
			json_t *f;

			printf("%sschema:\n", indent);
			json_array_foreach(val, i, f)
				printf("%s  %s: %s%s\n", indent,
				       json_string_value(json_object_get(f,
								"name")),
				       json_string_value(json_object_get(f,
								"type")),
				       json_is_true(json_object_get(f,
							"nullable")) ?
					       "" : " not null");
		} else if (json_is_array(val) && !strcmp(key, "fragments")) {
			size_t i;
			json_t *f;

			printf("%sfragments: %zu\n", indent,
			       json_array_size(val));
			json_array_foreach(val, i, f) {
				size_t j;
				json_t *file;

				printf("%s  %" JSON_INTEGER_FORMAT ": %"
				       JSON_INTEGER_FORMAT " rows, %"
				       JSON_INTEGER_FORMAT " deleted\n", indent,
				       json_integer_value(json_object_get(f,
								"id")),
				       json_integer_value(json_object_get(f,
							"physical_rows")),
				       json_integer_value(json_object_get(f,
							"deleted_rows")));
				json_array_foreach(json_object_get(f, "files"),
						   j, file)
					printf("%s    %s (file version %s, %"
					       JSON_INTEGER_FORMAT " bytes)\n",
					       indent,
					       json_string_value(json_object_get(
						       file, "path")),
					       json_string_value(json_object_get(
						       file, "file_version")),
					       json_integer_value(
						       json_object_get(file,
								       "size")));
			}
		} else if (json_is_object(val) && !strcmp(key, "datasets")) {
			const char *name;
			json_t *ds;
			char deeper[64];

			snprintf(deeper, sizeof(deeper), "%s    ", indent);
			printf("%sdatasets: %zu\n", indent,
			       json_object_size(val));
			json_object_foreach(val, name, ds) {
				printf("%s  %s:\n", indent, name);
				print_info_text(ds, deeper);
			}
		} else {
			char *s = json_dumps(val, JSON_ENCODE_ANY |
						       JSON_COMPACT |
						       JSON_REAL_PRECISION(15));

			printf("%s%s: %s\n", indent, key, s ? s : "?");
			free(s);
		}
	}
}

struct db_info {
	struct view *v;
	json_t *all;
	struct lc_err *err;
};

static int info_db_cb(void *ctx, uint64_t index, const char *name,
		      const struct vnode *node)
{
	struct db_info *d = ctx;

	(void)index;
	json_object_set_new(d->all, name, dataset_json(node, d->err));
	return 0;
}

static int cmd_info(int argc, char **argv)
{
	struct view_opts o = { 0 };
	struct lc_err err = { 0 };
	struct view *v = NULL;
	struct vnode root;
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	bool as_json = false;
	json_t *out = NULL;
	int opt, rc;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:", longopts, NULL)) != -1) {
		if (opt == 'j')
			as_json = true;
		else if (opt != 'o' || (rc = parse_opts(&o, optarg, &err)))
			break;
	}
	if (opt != -1 || argc - optind != 1) {
		view_opts_reset(&o);
		if (err.code)
			return fail(&err, "");
		fputs(usage_text, stderr);
		return 1;
	}
	rc = open_view(&v, argv[optind], &o, &err);
	if (!rc)
		rc = view_root(&root, v, &err);
	if (rc)
		goto out;
	if (root.kind == VN_DBROOT) {
		struct db_info d = { v, json_object(), &err };

		rc = view_readdir(v, &root, 0, info_db_cb, &d, &err);
		out = json_pack("{s:s, s:o}", "database", argv[optind],
				"datasets", d.all);
	} else {
		out = dataset_json(&root, &err);
		json_object_set_new(out, "source",
				    json_string(argv[optind]));
	}
	vnode_reset(&root);
	/* a listing of versions or tags that failed is an error, not an
	 * info without them */
	if (!rc && err.code)
		rc = err.code;
	if (rc)
		goto out;
	if (as_json) {
		char *s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		puts(s);
		free(s);
	} else {
		print_info_text(out, "");
	}
out:
	json_decref(out);
	view_free(v);
	view_opts_reset(&o);
	return rc ? fail(&err, strerror(rc)) : 0;
}

static bool is_command(const char *s)
{
	static const char *const cmds[] = { "ls", "cat", "info", "mount",
					    "umount", "commit", "status",
					    "warmup", "help", NULL };

	for (int i = 0; cmds[i]; i++)
		if (!strcmp(s, cmds[i]))
			return true;
	return false;
}

int lancefs_cli(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	struct stat sb;

	base = base ? base + 1 : argv[0];
	if (!strcmp(base, "mount.lancefs"))
		return lancefs_mount_helper(argc, argv);
	/* mount.fuse3 runs `lancefs SOURCE DIR -o OPTS` */
	if (argc >= 3 && argv[1][0] != '-' && !is_command(argv[1]) &&
	    !stat(argv[2], &sb) && S_ISDIR(sb.st_mode))
		return lancefs_mount_helper(argc, argv);
	if (argc < 2) {
		fputs(usage_text, stderr);
		return 1;
	}
	/* lancefs help, lancefs --help, lancefs COMMAND ... --help */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") ||
		    (i <= 2 && !strcmp(argv[i], "-h")) ||
		    (i == 1 && !strcmp(argv[i], "help"))) {
			fputs(usage_text, stdout);
			return 0;
		}
	if (!strcmp(argv[1], "ls"))
		return cmd_ls(argc - 1, argv + 1);
	if (!strcmp(argv[1], "cat"))
		return cmd_cat(argc - 1, argv + 1);
	if (!strcmp(argv[1], "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(argv[1], "mount"))
		return lancefs_mount_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "umount"))
		return lancefs_umount_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "commit"))
		return lancefs_commit_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "warmup"))
		return lancefs_warmup_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return lancefs_status_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--version")) {
		puts("lancefs 0.1.0");
		return 0;
	}
	fprintf(stderr, "lancefs: unknown command %s\n", argv[1]);
	fputs(usage_text, stderr);
	return 1;
}
