// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "procs/table.h"
#include "python/detect.h"
#include "python/images.h"
#include "util/idtab.h"
#include "util/log.h"

struct py_image {
	int status; /* 0: not known yet, 1: found, -ENOENT: none, -ENOTSUP: not supported */
	struct python_info *info;
};

struct py_images {
	int py_procs_fd;
	struct mt_idtab images; /* struct py_image by address-space id */
};

struct py_images *py_images__new(int py_procs_fd)
{
	struct py_images *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->py_procs_fd = py_procs_fd;
	t->images = MT_IDTAB_INIT(struct py_image);
	return t;
}

void py_images__free(struct py_images *t)
{
	if (!t)
		return;
	for (size_t id = 0; id < mt_idtab__cap(&t->images); id++)
		free(((struct py_image *)mt_idtab__get(&t->images, id))->info);
	mt_idtab__free(&t->images);
	free(t);
}

void py_images__detect(struct py_images *t, const struct mt_process *proc)
{
	struct py_image *image = mt_idtab__slot(&t->images, proc->aspace_id);
	struct mt_py_proc bpf;
	char note[160] = "";
	int err;

	if (!image || image->status)
		return;
	if (!image->info) {
		image->info = calloc(1, sizeof(*image->info));
		if (!image->info)
			return;
	}
	err = python__detect(proc, image->info, &bpf, note, sizeof(note));
	if (err == -EAGAIN)
		return;
	if (!err && bpf_map_update_elem(t->py_procs_fd, &proc->aspace_id, &bpf, BPF_ANY))
		err = -errno;
	if (err) {
		free(image->info);
		image->info = NULL;
		image->status = err == -ENOENT || err == -ESRCH ? -ENOENT : -ENOTSUP;
		/* a process that exited before it was looked at is no error */
		if (image->status != -ENOENT)
			mt_warn("process %d (%s): %s\n", proc->tgid, proc->comm,
				note[0] ? note : strerror(-err));
		return;
	}
	image->status = 1;
	mt_info("process %d (%s): Python %u.%u in %s\n", proc->tgid, proc->comm,
		image->info->version >> 8, image->info->version & 0xff, image->info->module);
}

const struct python_info *py_images__get(const struct py_images *t, __u32 aspace_id)
{
	const struct py_image *image = mt_idtab__get(&t->images, aspace_id);

	return image ? image->info : NULL;
}
