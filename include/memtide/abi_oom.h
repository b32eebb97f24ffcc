/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The OOM killer chose a traced process (oom:mark_victim): what bpf/oom.bpf.h captures at once,
 * before the victim and possibly its cgroup are gone. An ABI: fixed-width fields only, each
 * struct's size asserted (see abi.h).
 */
#ifndef MEMTIDE_ABI_OOM_H
#define MEMTIDE_ABI_OOM_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include "memtide/abi.h"
#include "memtide/abi_rss.h"

#define MT_OOM_PATH_DEPTH 8  /* cgroup path components captured, innermost first */
#define MT_OOM_NAME_LEN	  64 /* bytes per component, NUL included */

struct mt_oom_event {
	struct mt_proc_event head; /* type MT_EV_OOM; tgid, aspace_id and comm of the victim */
	__u64 rss_pages[MT_RSS_NR];
	__u64 total_vm_pages;
	__u64 cgroup_id;	     /* of the victim's memory cgroup (its kernfs node id) */
	__u64 memcg_usage_pages;     /* charged to that cgroup */
	__u64 memcg_limit_pages;     /* its own limit (memory.max, memory.limit_in_bytes) */
	__u64 memcg_effective_pages; /* the lowest limit on the way to the root */
	__u32 uid;
	__u32 path_depth; /* components in path; MT_OOM_PATH_DEPTH + 1 if cut */
	char path[MT_OOM_PATH_DEPTH][MT_OOM_NAME_LEN];
};
_Static_assert(sizeof(struct mt_oom_event) == 632, "struct mt_oom_event: ABI size");

#endif /* MEMTIDE_ABI_OOM_H */
