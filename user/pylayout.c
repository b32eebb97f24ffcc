// SPDX-License-Identifier: GPL-2.0
#include "pylayout.h"

#define NONE MT_PY_NONE

/* glibc x86-64: pthread_getspecific reads specific_1stblock[key].data at TP + 0x310 + key*16 + 8 */
#define GLIBC_TSD 0x310

static const struct py_layout layouts[] = {
	{ .version = 0x0308, .runtime_tss_key = 1392, .runtime_interp_head = 32,
	  .bpf = { .tsd_offset = GLIBC_TSD, .ts_thread_id = 176, .ts_frame = 24,
		   .cframe_current = NONE, .fr_code = 32, .fr_back = 24, .fr_instr = 104,
		   .fr_owner = NONE, .fr_is_entry = NONE, .owner_shim = 0xff },
	  .co_argcount = 16, .co_flags = 36, .co_firstlineno = 40, .co_filename = 104,
	  .co_name = 112, .co_linetable = 120, .unicode_ascii_data = 48,
	  .unicode_compact_data = 72 },
	{ .version = 0x0309, .runtime_tss_key = 584, .runtime_interp_head = 32,
	  .bpf = { .tsd_offset = GLIBC_TSD, .ts_thread_id = 176, .ts_frame = 24,
		   .cframe_current = NONE, .fr_code = 32, .fr_back = 24, .fr_instr = 104,
		   .fr_owner = NONE, .fr_is_entry = NONE, .owner_shim = 0xff },
	  .co_argcount = 16, .co_flags = 36, .co_firstlineno = 40, .co_filename = 104,
	  .co_name = 112, .co_linetable = 120, .unicode_ascii_data = 48,
	  .unicode_compact_data = 72 },
	{ .version = 0x030a, .runtime_tss_key = 584, .runtime_interp_head = 32,
	  .bpf = { .tsd_offset = GLIBC_TSD, .ts_thread_id = 176, .ts_frame = 24,
		   .cframe_current = NONE, .fr_code = 32, .fr_back = 24, .fr_instr = 96,
		   .fr_owner = NONE, .fr_is_entry = NONE, .owner_shim = 0xff },
	  .co_argcount = 16, .co_flags = 36, .co_firstlineno = 40, .co_filename = 104,
	  .co_name = 112, .co_linetable = 120, .unicode_ascii_data = 48,
	  .unicode_compact_data = 72 },
	{ .version = 0x030b, .runtime_tss_key = 592, .runtime_interp_head = 40,
	  .bpf = { .tsd_offset = GLIBC_TSD, .ts_thread_id = 152, .ts_frame = 56,
		   .cframe_current = 8, .fr_code = 32, .fr_back = 48, .fr_instr = 56,
		   .fr_owner = 69, .fr_is_entry = 68, .co_code_adaptive = 184, .instr_is_ptr = 1,
		   .owner_shim = 0xff },
	  .co_argcount = 56, .co_flags = 48, .co_firstlineno = 72, .co_filename = 112,
	  .co_name = 120, .co_qualname = 128, .co_linetable = 136, .unicode_ascii_data = 48,
	  .unicode_compact_data = 72 },
	{ .version = 0x030c, .runtime_tss_key = 1544, .runtime_interp_head = 40,
	  .bpf = { .tsd_offset = GLIBC_TSD, .ts_thread_id = 136, .ts_frame = 56,
		   .cframe_current = 0, .fr_code = 0, .fr_back = 8, .fr_instr = 56,
		   .fr_owner = 70, .fr_is_entry = NONE, .co_code_adaptive = 192, .instr_is_ptr = 1,
		   .owner_shim = 3 },
	  .co_argcount = 52, .co_flags = 48, .co_firstlineno = 68, .co_filename = 112,
	  .co_name = 120, .co_qualname = 128, .co_linetable = 136, .unicode_ascii_data = 40,
	  .unicode_compact_data = 56 },
	{ .version = 0x030d, .runtime_tss_key = 2160, .runtime_interp_head = 632,
	  .bpf = { .tsd_offset = GLIBC_TSD, .ts_thread_id = 152, .ts_frame = 72,
		   .cframe_current = NONE, .fr_code = 0, .fr_back = 8, .fr_instr = 56,
		   .fr_owner = 70, .fr_is_entry = NONE, .co_code_adaptive = 200, .instr_is_ptr = 1,
		   .owner_shim = 3 },
	  .co_argcount = 52, .co_flags = 48, .co_firstlineno = 68, .co_filename = 112,
	  .co_name = 120, .co_qualname = 128, .co_linetable = 136, .unicode_ascii_data = 40,
	  .unicode_compact_data = 56 },
};

const struct py_layout *py_layout_for(__u32 version)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		if (layouts[i].version == version)
			return &layouts[i];
	}
	return NULL;
}
