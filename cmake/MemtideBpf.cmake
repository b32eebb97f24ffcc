# Builds BPF objects with clang and generates a libbpf skeleton with bpftool.
#
#   memtide_bpf_skeleton(NAME <skeleton name> SOURCES <x.bpf.c>... HEADERS <x.bpf.h>...
#                        INCLUDES <dir>...)
#
# Exports an INTERFACE target <NAME>_skel carrying the skeleton's include directory.
#
# Each of HEADERS is also compiled alone, as its own translation unit with the objects' flags, as
# part of the skeleton's target: the sources include the headers in one order, which would hide a
# header that uses a name only an earlier one defines. Unused static functions are allowed there,
# since a header alone calls few of its own.

find_program(BPF_CLANG NAMES clang clang-14)
if(NOT BPF_CLANG)
	message(FATAL_ERROR "clang not found: install the Debian package 'clang'")
endif()
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin)
if(NOT BPFTOOL)
	message(FATAL_ERROR "bpftool not found: install the Debian package 'bpftool'")
endif()

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
	set(MEMTIDE_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
	set(MEMTIDE_BPF_ARCH arm64)
else()
	message(FATAL_ERROR "memtide: unsupported architecture ${CMAKE_SYSTEM_PROCESSOR}")
endif()

set(MEMTIDE_VMLINUX_BTF "/sys/kernel/btf/vmlinux" CACHE FILEPATH
	"Kernel BTF from which vmlinux.h is generated")
set(MEMTIDE_VMLINUX_DIR ${CMAKE_BINARY_DIR}/vmlinux)
add_custom_command(
	OUTPUT ${MEMTIDE_VMLINUX_DIR}/vmlinux.h
	COMMAND ${CMAKE_COMMAND} -E make_directory ${MEMTIDE_VMLINUX_DIR}
	COMMAND ${BPFTOOL} btf dump file ${MEMTIDE_VMLINUX_BTF} format c > ${MEMTIDE_VMLINUX_DIR}/vmlinux.h
	COMMENT "Generating vmlinux.h from ${MEMTIDE_VMLINUX_BTF}"
	VERBATIM)

function(memtide_bpf_skeleton)
	cmake_parse_arguments(ARG "" "NAME" "SOURCES;HEADERS;INCLUDES" ${ARGN})
	set(objects)
	set(flags -g -O2 -Wall -Werror -target bpf -mcpu=v3 -D__TARGET_ARCH_${MEMTIDE_BPF_ARCH}
		-I${MEMTIDE_VMLINUX_DIR})
	foreach(dir ${ARG_INCLUDES})
		list(APPEND flags -I${dir})
	endforeach()
	foreach(src ${ARG_SOURCES})
		get_filename_component(base ${src} NAME_WE)
		set(obj ${CMAKE_CURRENT_BINARY_DIR}/${base}.bpf.o)
		set(dep ${CMAKE_CURRENT_BINARY_DIR}/${base}.bpf.d)
		add_custom_command(
			OUTPUT ${obj}
			COMMAND ${BPF_CLANG} ${flags} -MD -MF ${dep}
				-c ${CMAKE_CURRENT_SOURCE_DIR}/${src} -o ${obj}
			DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${src} ${MEMTIDE_VMLINUX_DIR}/vmlinux.h
			DEPFILE ${dep}
			COMMENT "Compiling BPF object ${base}.bpf.o"
			VERBATIM)
		list(APPEND objects ${obj})
	endforeach()
	set(checked_headers)
	set(check_dir ${CMAKE_CURRENT_BINARY_DIR}/bpf_headers)
	foreach(header ${ARG_HEADERS})
		get_filename_component(name ${header} NAME)
		set(stamp ${check_dir}/${name}.checked)
		set(dep ${check_dir}/${name}.d)
		add_custom_command(
			OUTPUT ${stamp}
			COMMAND ${CMAKE_COMMAND} -E make_directory ${check_dir}
			COMMAND ${BPF_CLANG} ${flags} -Wno-unused-function -x c -fsyntax-only
				-MD -MF ${dep} -MT ${stamp} ${CMAKE_CURRENT_SOURCE_DIR}/${header}
			COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
			DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${header}
				${MEMTIDE_VMLINUX_DIR}/vmlinux.h
			DEPFILE ${dep}
			COMMENT "Checking that BPF header ${name} compiles alone"
			VERBATIM)
		list(APPEND checked_headers ${stamp})
	endforeach()
	list(LENGTH objects object_cnt)
	set(linked ${CMAKE_CURRENT_BINARY_DIR}/${ARG_NAME}.o)
	if(object_cnt GREATER 1)
		add_custom_command(OUTPUT ${linked}
			COMMAND ${BPFTOOL} gen object ${linked} ${objects}
			DEPENDS ${objects} VERBATIM)
	else()
		add_custom_command(OUTPUT ${linked}
			COMMAND ${CMAKE_COMMAND} -E copy ${objects} ${linked}
			DEPENDS ${objects} VERBATIM)
	endif()
	set(skel_dir ${CMAKE_CURRENT_BINARY_DIR}/skel)
	set(skel ${skel_dir}/${ARG_NAME}.skel.h)
	add_custom_command(
		OUTPUT ${skel}
		COMMAND ${CMAKE_COMMAND} -E make_directory ${skel_dir}
		COMMAND ${BPFTOOL} gen skeleton ${linked} name ${ARG_NAME} > ${skel}
		DEPENDS ${linked}
		COMMENT "Generating BPF skeleton ${ARG_NAME}.skel.h"
		VERBATIM)
	add_custom_target(${ARG_NAME}_skel_gen DEPENDS ${skel} ${checked_headers})
	add_library(${ARG_NAME}_skel INTERFACE)
	add_dependencies(${ARG_NAME}_skel ${ARG_NAME}_skel_gen)
	target_include_directories(${ARG_NAME}_skel INTERFACE ${skel_dir})
	set(${ARG_NAME}_OBJECT ${linked} PARENT_SCOPE)
endfunction()
