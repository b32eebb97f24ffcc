// SPDX-License-Identifier: GPL-2.0
/*
 * The driver of a fuzz target outside libFuzzer: runs LLVMFuzzerTestOneInput once per file named
 * on the command line or found in a directory named there. Fails when it found no input, so a
 * corpus that went missing cannot pass.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data;
	long size;

	if (!f || fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	/* One spare byte: malloc(0) may return NULL. */
	data = malloc(size + 1);
	if (!data || fread(data, 1, size, f) != (size_t)size) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 0;
}

static int run_dir(const char *dir, size_t *runs)
{
	struct dirent **names;
	char path[4096];
	int n, i, err = 0;

	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (!err && !stat(path, &st) && S_ISREG(st.st_mode)) {
			err = run_file(path);
			*runs += !err;
		}
		free(names[i]);
	}
	free(names);
	return err;
}

int main(int argc, char **argv)
{
	size_t runs = 0;
	struct stat st;

	for (int i = 1; i < argc; i++) {
		if (stat(argv[i], &st)) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (S_ISDIR(st.st_mode) ? run_dir(argv[i], &runs) : run_file(argv[i]))
			return 1;
		runs += !S_ISDIR(st.st_mode);
	}
	if (!runs) {
		fprintf(stderr, "replay: no input found in the arguments\n");
		return 1;
	}
	printf("replay: %zu inputs ran clean\n", runs);
	return 0;
}
