/*
 * gen_v20_seeds.c - writes the fuzz_v20_page seed corpus from the pages of
 * the fixture files in tests/data/v20/. Not built by CMake; run by hand:
 *   cc -Iformat -Iobjstore -Ibuild/format/pb tests/fuzz/gen_v20_seeds.c \
 *     build/format/liblance_format.a build/format/liblance_pb.a \
 *     build/objstore/libostore.a -lprotobuf-c -lpthread -o /tmp/gen && \
 *   /tmp/gen tests/data tests/fuzz/corpus/v20_page
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lance_int.h"

/* fuzz type index per column, see fuzz_v20_page.c */
static const int scal_types[] = { 9, 9, 0, 0, 0, 0, 7, 7, 0, 10, 1, 1, 7, 0 };
static const int nest_types[] = { 2, 2, 3, 2, 4, 4, 11, 0, 8, 0, 2, 10, 5, 6 };
static const int img_types[] = { 3, 8 };

static int dump(const char *dir, const char *file, const int *types,
		size_t ncols, const char *out, int *seq)
{
	struct ostore *st;
	struct lance_file *f;
	struct lc_err err = { 0 };
	struct lance_data_file df = { 0 };
	struct lance_schema schema = { 0 };
	int32_t ids[32];

	for (size_t i = 0; i < ncols; i++)
		ids[i] = (int32_t)i;
	df.path = (char *)file;
	df.fields = ids;
	df.column_indices = ids;
	df.n_fields = df.n_column_indices = ncols;
	if (ostore_local_new(&st, dir, &err) ||
	    lance_file_open(&f, st, &df, &schema, &err)) {
		fprintf(stderr, "%s: %s\n", file, err.msg);
		return 1;
	}
	for (uint32_t c = 0; c < f->n_cols && c < ncols; c++) {
		for (size_t p = 0; p < f->cols[c].n_pages && p < 3; p++) {
			const struct lance_page *pg = &f->cols[c].pages[p];
			uint8_t hdr[10];
			char path[512];
			FILE *fp;

			if (pg->enc_len > 65535 || pg->length > 4096)
				continue;
			hdr[0] = (uint8_t)types[c];
			lc_put_le16(hdr + 1, (uint16_t)pg->length);
			lc_put_le16(hdr + 3, 0);
			lc_put_le16(hdr + 5, (uint16_t)pg->length);
			hdr[7] = (uint8_t)pg->n_buffers;
			lc_put_le16(hdr + 8, (uint16_t)pg->enc_len);
			snprintf(path, sizeof(path), "%s/seed-%03d", out,
				 (*seq)++);
			fp = fopen(path, "wb");
			if (!fp)
				return 1;
			fwrite(hdr, 1, 10, fp);
			fwrite(pg->enc, 1, pg->enc_len, fp);
			for (size_t b = 0; b < pg->n_buffers; b++) {
				uint64_t len = pg->buf_size[b];
				uint8_t *buf;
				uint8_t l2[2];

				if (len > 65535)
					len = 65535;
				buf = malloc(len + 1);
				if (lance__file_pread(f, pg->buf_off[b],
						      (size_t)len, buf, &err))
					return 1;
				lc_put_le16(l2, (uint16_t)len);
				fwrite(l2, 1, 2, fp);
				fwrite(buf, 1, len, fp);
				free(buf);
			}
			fclose(fp);
		}
	}
	lance_file_free(f);
	ostore_free(st);
	return 0;
}

int main(int argc, char **argv)
{
	int seq = 0;

	if (argc != 3)
		return 2;
	if (dump(argv[1], "v20/scal20.lance", scal_types, 14, argv[2], &seq) ||
	    dump(argv[1], "v20/nest20.lance", nest_types, 14, argv[2], &seq) ||
	    dump(argv[1], "v20/img20.lance", img_types, 2, argv[2], &seq))
		return 1;
	printf("%d seeds\n", seq);
	return 0;
}
