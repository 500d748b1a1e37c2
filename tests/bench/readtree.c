/*
 * readtree.c - reads every regular file under a folder with N threads
 * (open, read to the end, close), as a dataloader does, and prints
 * files/s and MB/s of the reads, then on a second line the time and
 * files/s counting the walk before them (nftw, an lstat per file), and
 * on a third how the machine's CPUs spent the reads (busy, waiting for
 * the disk, idle, stolen by a VM's host). Used to compare a mount with
 * the same tree on ext4.
 *
 *   readtree [-t THREADS] [-n NAME_SUFFIX] DIR
 */
#define _XOPEN_SOURCE 700
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char **files;
static size_t n_files, cap_files;
static const char *suffix;
static atomic_size_t next;
static atomic_ullong bytes;

static int add(const char *path, const struct stat *sb, int type,
	       struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type != FTW_F)
		return 0;
	if (suffix && !strstr(path, suffix))
		return 0;
	if (n_files == cap_files) {
		cap_files = cap_files ? 2 * cap_files : 1024;
		files = realloc(files, cap_files * sizeof(*files));
	}
	files[n_files++] = strdup(path);
	return 0;
}

static void *reader(void *arg)
{
	static __thread char buf[1 << 20];
	size_t i;

	(void)arg;
	while ((i = atomic_fetch_add(&next, 1)) < n_files) {
		int fd = open(files[i], O_RDONLY);
		ssize_t n;

		if (fd < 0) {
			perror(files[i]);
			exit(1);
		}
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			atomic_fetch_add(&bytes, (unsigned long long)n);
		close(fd);
	}
	return NULL;
}

/* The machine's CPU time so far, in ticks: busy (user, nice, system, irq,
 * softirq), iowait, idle, and steal (taken by the host of a VM). */
static void cpu_ticks(unsigned long long t[4])
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
			&v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		t[0] = v[0] + v[1] + v[2] + v[5] + v[6];
		t[1] = v[4];
		t[2] = v[3];
		t[3] = v[7];
	} else {
		t[0] = t[1] = t[2] = t[3] = 0;
	}
	if (f)
		fclose(f);
}

int main(int argc, char **argv)
{
	unsigned long long c0[4], c1[4], all = 0;
	int threads = 1, opt;
	struct timespec tw, t0, t1;
	pthread_t tid[64];
	double secs;

	while ((opt = getopt(argc, argv, "t:n:")) != -1) {
		if (opt == 't')
			threads = atoi(optarg);
		else if (opt == 'n')
			suffix = optarg;
	}
	if (optind != argc - 1 || threads < 1 || threads > 64) {
		fprintf(stderr, "usage: readtree [-t N] [-n SUFFIX] DIR\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &tw);
	nftw(argv[optind], add, 64, FTW_PHYS);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cpu_ticks(c0);
	for (int i = 0; i < threads; i++)
		pthread_create(&tid[i], NULL, reader, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(tid[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cpu_ticks(c1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%zu files %.1f MB %.3f s %.0f files/s %.1f MB/s\n", n_files,
	       (double)bytes / 1e6, secs, n_files / secs,
	       (double)bytes / 1e6 / secs);
	/* the walk stats every file: on a mount that can cost a read */
	secs += (double)(t0.tv_sec - tw.tv_sec) +
		(t0.tv_nsec - tw.tv_nsec) / 1e9;
	printf("with the walk: %.3f s %.0f files/s\n", secs, n_files / secs);
	/* whether the reads were bound by the CPUs or waited (all CPUs of the
	 * machine, whoever used them) */
	for (int i = 0; i < 4; i++)
		all += c1[i] - c0[i];
	if (all)
		printf("cpu during the reads: %.0f%% busy, %.0f%% iowait, "
		       "%.0f%% idle, %.0f%% stolen\n",
		       100.0 * (c1[0] - c0[0]) / all,
		       100.0 * (c1[1] - c0[1]) / all,
		       100.0 * (c1[2] - c0[2]) / all,
		       100.0 * (c1[3] - c0[3]) / all);
	return 0;
}
