// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include "fuzz.h"

int fuzz_memfd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_input", MFD_CLOEXEC);
	size_t done = 0;
	ssize_t n;

	if (fd < 0) {
		perror("memfd_create");
		exit(1);
	}
	while (done < size) {
		n = write(fd, data + done, size - done);
		if (n <= 0) {
			perror("write memfd");
			exit(1);
		}
		done += n;
	}
	return fd;
}
