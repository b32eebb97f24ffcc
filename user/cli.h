/* SPDX-License-Identifier: GPL-2.0 */
/* Command line: fills struct memtide_config and nothing else (no files, processes or BPF). */
#ifndef MEMTIDE_CLI_H
#define MEMTIDE_CLI_H

#include <stdbool.h>
#include <sys/types.h>
#include <linux/types.h>
#include "symbolize/pyframes.h"

#define MT_MAX_TARGET_PIDS  64
#define MT_MAX_PUSH_HEADERS 16

struct memtide_config {
	pid_t pids[MT_MAX_TARGET_PIDS];
	int pid_cnt;
	char **command;	    /* argv of `-- COMMAND ARGS`, NULL-terminated, or NULL */
	const char *cgroup; /* -c: a cgroup v2 directory, absolute or relative to the mount */
	double interval_s;
	double duration_s; /* 0: until Ctrl-C or the targets exit */
	__u32 top_n;
	const char *folded_path;
	const char *folded_peak_path; /* --folded-peak: the stacks at the trace's peak */
	const char *json_path;
	const char *flamegraph_path;
	int verbosity;
	__u32 max_allocs;	/* live allocations tracked at once */
	__u32 max_stacks;	/* distinct stacks stored */
	bool bench_floor;	/* attach empty programs only: the benchmark's floor */
	bool unwind_fp;		/* frame pointers only: no unwind tables */
	int frames;		/* MT_FRAMES_*: which frames of a Python stack to show */
	bool python_allocators; /* probe CPython's own allocator too */
	__u64 sample_bytes;	/* --sample: mean bytes between samples; 0 = exact */
	bool per_process;	/* stacks of different processes stay apart in outputs */
	bool include_exited;	/* outputs show what gone processes held, apart (-- COMMAND: on) */
	bool mappings;		/* mmap/munmap/mremap/brk by stack (--no-mappings: off) */
	bool faults;		/* page faults by stack (--no-faults: off) */
	__u32 fault_sample;	/* walk one page fault in this many (1: every one) */
	__u32 max_mappings;	/* live mmap/brk ranges tracked at once */
	bool no_heap;		/* --no-heap: resident pages by stack, no allocator probes */
	__u32 max_resident_pages; /* --no-heap: pages charged at once */
	__u32 leak_window;	  /* intervals per low-water window (view/verdict.h); 0: adaptive */
	__u32 leak_windows;	  /* windows compared for a verdict; 0: adaptive */
	bool no_rss;		  /* no kmem:rss_stat program: no RSS timelines */
	bool no_exec_hold;	  /* exec'd images run before their tables and probes are ready */
	bool no_demangle;	  /* C++ and Rust symbols as in the ELF (--no-demangle) */
	const char *oom_path;	  /* --oom-report: post-mortems to FILE and FILE.json */
	const char *pprof_path;	  /* --pprof: gzipped profile.proto at exit */
	const char *pprof_dir;	  /* --pprof-dir: one profile per interval */
	__u32 pprof_keep;	  /* profiles kept in pprof_dir */
	const char *push_url;	  /* --push: Pyroscope-compatible server, profiles to URL/ingest */
	const char *app_name;	  /* --app-name: the application name pushed */
	const char *push_headers[MT_MAX_PUSH_HEADERS]; /* --push-header "Name: value" */
	int push_header_cnt;
	__u32 push_queue; /* profiles waiting to be pushed, at most */
	bool live;	  /* --live: full-screen view instead of interval reports */
};

/* Parses argv into *config. Returns 0, or a nonzero exit code after printing usage errors. */
int cli_parse(int argc, char **argv, struct memtide_config *config);

#endif /* MEMTIDE_CLI_H */
