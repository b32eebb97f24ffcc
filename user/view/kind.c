// SPDX-License-Identifier: GPL-2.0
#include "view/kind.h"

const char *mt_kind_name(__u32 kind)
{
	static const char *const names[MT_KIND_NR] = {
		[MT_KIND_HEAP] = "heap",
		[MT_KIND_MMAP] = "mmap",
		[MT_KIND_BRK] = "brk",
		[MT_KIND_FAULT] = "fault",
	};

	return kind < MT_KIND_NR ? names[kind] : "?";
}

bool mt_kind_outstanding(__u32 kind)
{
	return kind != MT_KIND_FAULT;
}
