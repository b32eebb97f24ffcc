/* SPDX-License-Identifier: GPL-2.0 */
/* The Python fuzz targets: the versions they cover and fuzz_pycode's memory image. */
#ifndef MEMTIDE_TESTS_FUZZ_PYTHON_H
#define MEMTIDE_TESTS_FUZZ_PYTHON_H

#include <linux/types.h>

/* Far below where mmap places things unasked, above mmap_min_addr, in ASan's low memory. */
#define FUZZ_PYCODE_IMAGE_BASE 0x10000000ul
#define FUZZ_PYCODE_IMAGE_MAX  (1u << 20)

/* The input's first byte, modulo FUZZ_PY_VERSIONS, picks one of these. */
static const __u32 fuzz_py_versions[] = {0x0308, 0x0309, 0x030a, 0x030b, 0x030c, 0x030d};
#define FUZZ_PY_VERSIONS (sizeof(fuzz_py_versions) / sizeof(fuzz_py_versions[0]))

#endif /* MEMTIDE_TESTS_FUZZ_PYTHON_H */
