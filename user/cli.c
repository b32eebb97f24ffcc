// SPDX-License-Identifier: GPL-2.0
#include <argp.h>
#include <errno.h>
#include <string.h>
#include "cli.h"
#include "collect/history.h"
#include "util/units.h"
#include "view/verdict.h"

const char *argp_program_version = "memtide 0.1.0";

static const char doc[] =
	"memtide: which call stacks hold memory that keeps growing?\n\n"
	"Traces the allocator, mmap, brk and page faults of unmodified running processes with "
	"eBPF and reports, every interval, the call stacks whose outstanding (allocated, not yet "
	"freed) bytes grew the most, and those that made the most memory resident.\n"
	"\v"
	"EXAMPLES:\n"
	"  memtide -p 1234                    trace process 1234 and its descendants\n"
	"  memtide -c system.slice/app.service --per-process\n"
	"                                     trace a whole container (cgroup v2), split by "
	"process\n"
	"  memtide -p 1234 -i 10 -n 5         report the top 5 stacks every 10 s\n"
	"  memtide -p 1234 -d 60 --folded out.folded\n"
	"                                     stop after a minute, write a flamegraph input\n"
	"  memtide --json out.json --flamegraph out.svg -- python3 app.py\n"
	"                                     start a command and trace it from its first malloc\n"
	"\n"
	"The folded file is also the input of flamegraph.pl, speedscope and inferno.";

enum {
	OPT_FOLDED = 1000,
	OPT_JSON,
	OPT_FLAMEGRAPH,
	OPT_MAX_ALLOCS,
	OPT_MAX_STACKS,
	OPT_BENCH_FLOOR,
	OPT_UNWIND,
	OPT_FRAMES,
	OPT_PYTHON_ALLOCATORS,
	OPT_SAMPLE,
	OPT_NO_MAPPINGS,
	OPT_NO_FAULTS,
	OPT_NO_HEAP,
	OPT_MAX_PAGES,
	OPT_FAULT_SAMPLE,
	OPT_MAX_MAPPINGS,
	OPT_PER_PROCESS,
	OPT_INCLUDE_EXITED,
	OPT_LEAK_WINDOW,
	OPT_LEAK_WINDOWS,
	OPT_NO_RSS,
	OPT_OOM_REPORT,
	OPT_FOLDED_PEAK,
	OPT_PPROF,
	OPT_PPROF_DIR,
	OPT_PPROF_KEEP,
	OPT_PUSH,
	OPT_APP_NAME,
	OPT_PUSH_HEADER,
	OPT_PUSH_QUEUE,
	OPT_LIVE,
	OPT_NO_DEMANGLE,
	OPT_NO_EXEC_HOLD,
};

static const struct argp_option options[] = {
	{NULL, 0, NULL, 0, "Targets:", 1},
	{"pid", 'p', "PID[,PID...]", 0, "Trace these processes and all their descendants", 1},
	{"cgroup", 'c', "CGROUP", 0,
	 "Trace every process in this cgroup v2 directory and its sub-cgroups, including those "
	 "that start or move there later (a path under the cgroup2 mount, or relative to it)",
	 1},
	{NULL, 0, NULL, 0, "Reporting:", 2},
	{"interval", 'i', "SECS", 0, "Report every SECS seconds (default 5)", 2},
	{"duration", 'd', "SECS", 0, "Stop after SECS seconds (default: Ctrl-C or targets exit)",
	 2},
	{"top", 'n', "N", 0, "Stacks per report (default 10)", 2},
	{"verbose", 'v', NULL, 0, "Say more: probe placement (-v), libbpf debug output (-vv)", 2},
	{"per-process", OPT_PER_PROCESS, NULL, 0,
	 "Keep stacks of different processes apart: the report and JSON list them per process, "
	 "folded lines start with \"comm (pid)\" (default: identical stacks of all processes "
	 "are summed)",
	 2},
	{"include-exited", OPT_INCLUDE_EXITED, NULL, 0,
	 "Also show, apart, what processes held when they exited, exec'd or left: folded lines "
	 "start with \"comm [exited]\" (default with -- COMMAND; otherwise outputs show what live "
	 "processes hold)",
	 2},
	{"python-allocators", OPT_PYTHON_ALLOCATORS, NULL, 0,
	 "Also trace CPython's own allocator (PyObject_*, PyMem_*), so objects under 512 bytes, "
	 "which live in pymalloc arenas, are attributed one by one",
	 2},
	{"frames", OPT_FRAMES, "mixed|all|python", 0,
	 "Stacks through Python code: Python frames then the C code below them (mixed, the "
	 "default), every native frame with the interpreter's frames replaced (all), or Python "
	 "frames only (python)",
	 2},
	{"unwind", OPT_UNWIND, "dwarf|fp", 0,
	 "Stacks from .eh_frame tables, with frame pointers where there are none (dwarf, the "
	 "default), or from frame pointers only (fp)",
	 2},
	{"sample", OPT_SAMPLE, "BYTES", 0,
	 "Sample allocations, one per BYTES allocated on average (e.g. 512k, 2m), with unbiased "
	 "weights, so reported bytes and counts are estimates; 0 (the default) traces every one",
	 2},
	{"no-mappings", OPT_NO_MAPPINGS, NULL, 0,
	 "Do not trace mmap, munmap, mremap and brk (by default the anonymous private mappings "
	 "and the brk growth each stack holds are reported beside the heap, as kinds mmap and brk)",
	 2},
	{"no-faults", OPT_NO_FAULTS, NULL, 0,
	 "Do not trace page faults (by default the bytes each stack makes resident, 4 KiB a "
	 "fault, are reported as kind fault)",
	 2},
	{"no-heap", OPT_NO_HEAP, NULL, 0,
	 "Resident bytes by stack instead of the heap: no allocator probes and no syscall "
	 "tracepoints; each page fault's page is charged to the faulting stack until it is no "
	 "longer resident (kinds resident-anon and resident-file). The mode to leave on",
	 2},
	{"fault-sample", OPT_FAULT_SAMPLE, "N", 0,
	 "Walk the stack of one page fault in N on average, each standing for N (default 1: every "
	 "fault)",
	 2},
	{"leak-window", OPT_LEAK_WINDOW, "N", 0,
	 "Intervals per low-water window of the leak-or-spike verdict (default: sized from the "
	 "intervals seen, 2 to 8)",
	 2},
	{"leak-windows", OPT_LEAK_WINDOWS, "K", 0,
	 "Windows compared: a stack whose low-water mark rises over the last K windows is a leak "
	 "(default: as many as the intervals seen fill, 3 to 8)",
	 2},
	{"no-exec-hold", OPT_NO_EXEC_HOLD, NULL, 0,
	 "Do not stop an exec'd process, or one that dlopens new code, until its tables and "
	 "probes are in place (its first allocations then have incomplete stacks or are "
	 "missed); the stop sends its parent a SIGCHLD (CLD_STOPPED)",
	 2},
	{"no-rss", OPT_NO_RSS, NULL, 0,
	 "No RSS timelines: leave out the kmem:rss_stat program, which runs at every page fault "
	 "of the machine",
	 2},
	{"no-demangle", OPT_NO_DEMANGLE, NULL, 0,
	 "C++ and Rust function names as the ELF spells them (_ZN...), not demangled", 2},
	{NULL, 0, NULL, 0, "Outputs, written at exit:", 3},
	{"folded", OPT_FOLDED, "FILE", 0,
	 "Outstanding bytes by stack, folded: \"comm;outer;...;inner BYTES\"", 3},
	{"folded-peak", OPT_FOLDED_PEAK, "FILE", 0,
	 "The stacks holding memory at the trace's highest outstanding total, folded, with what "
	 "each held then",
	 3},
	{"json", OPT_JSON, "FILE", 0, "Final state: stacks, history, processes, drops", 3},
	{"flamegraph", OPT_FLAMEGRAPH, "FILE", 0, "SVG flamegraph of outstanding bytes by stack",
	 3},
	{"oom-report", OPT_OOM_REPORT, "FILE", 0,
	 "When the OOM killer kills a traced process, its post-mortem (cgroup, limit, RSS, top "
	 "stacks) goes to stderr and, at once, to FILE and as JSON to FILE.json",
	 3},
	{"pprof", OPT_PPROF, "FILE", 0,
	 "pprof profile (gzipped profile.proto): inuse_space/objects, alloc_space/objects and "
	 "resident_space by stack, for go tool pprof, Pyroscope, Parca",
	 3},
	{"pprof-dir", OPT_PPROF_DIR, "DIR", 0,
	 "Also a pprof profile per interval, DIR/memtide-PID-SEQ.pb.gz, keeping the newest "
	 "--pprof-keep",
	 3},
	{"pprof-keep", OPT_PPROF_KEEP, "N", 0, "Profiles kept in --pprof-dir (default 60)", 3},
	{NULL, 0, NULL, 0, "Continuous profiling and live view:", 4},
	{"push", OPT_PUSH, "URL", 0,
	 "Every interval, POST the interval's pprof profile to URL/ingest (Grafana Pyroscope, "
	 "Alloy's pyroscope.receive_http), from a thread of its own with retries",
	 4},
	{"app-name", OPT_APP_NAME, "NAME", 0, "Application name pushed (default memtide)", 4},
	{"push-header", OPT_PUSH_HEADER, "'NAME: VALUE'", 0,
	 "HTTP header sent with every push (a tenant id, an Authorization token); repeatable", 4},
	{"push-queue", OPT_PUSH_QUEUE, "N", 0,
	 "Profiles waiting to be pushed while the server is unreachable, at most (default 30); "
	 "older ones are dropped and counted",
	 4},
	{"live", OPT_LIVE, NULL, 0,
	 "Full-screen top-like view refreshed every interval (q quits, p pauses, s switches the "
	 "ranking, c collapses stacks); the text report when stdout is not a terminal",
	 4},
	{NULL, 0, NULL, 0, "Limits:", 5},
	{"max-allocs", OPT_MAX_ALLOCS, "N", 0, "Live allocations tracked at once (default 1048576)",
	 5},
	{"max-stacks", OPT_MAX_STACKS, "N", 0, "Distinct stacks stored (default 32768)", 5},
	{"max-mappings", OPT_MAX_MAPPINGS, "N", 0,
	 "Live mmap and brk ranges tracked at once (default 65536)", 5},
	{"max-pages", OPT_MAX_PAGES, "N", 0,
	 "--no-heap: resident pages charged at once (default 262144: 1 GiB, or N times that "
	 "with --fault-sample N)",
	 5},
	{"bench-floor", OPT_BENCH_FLOOR, NULL, OPTION_HIDDEN, "Attach empty programs only", 5},
	{},
};

static int parse_pids(const char *text, struct memtide_config *config)
{
	char buf[1024];
	char *saveptr = NULL;
	__u64 pid;

	if (strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	for (char *tok = strtok_r(buf, ",", &saveptr); tok; tok = strtok_r(NULL, ",", &saveptr)) {
		if (config->pid_cnt >= MT_MAX_TARGET_PIDS)
			return -E2BIG;
		if (mt_parse_u64(tok, 1, 4194304, &pid))
			return -EINVAL;
		config->pids[config->pid_cnt++] = (pid_t)pid;
	}
	return config->pid_cnt ? 0 : -EINVAL;
}

static error_t parse_opt(int key, char *arg, struct argp_state *state)
{
	struct memtide_config *config = state->input;
	__u64 number;

	switch (key) {
	case 'p':
		if (parse_pids(arg, config))
			argp_error(state, "invalid PID list '%s': expected PID[,PID...]", arg);
		break;
	case 'c':
		if (!*arg)
			argp_error(state,
				   "empty cgroup path: expected e.g. -c system.slice/app.service");
		config->cgroup = arg;
		break;
	case 'i':
		if (mt_parse_seconds(arg, 0.05, 86400, &config->interval_s))
			argp_error(state, "invalid interval '%s': expected seconds, e.g. 5", arg);
		break;
	case 'd':
		if (mt_parse_seconds(arg, 0.05, 1e9, &config->duration_s))
			argp_error(state, "invalid duration '%s': expected seconds, e.g. 60", arg);
		break;
	case 'n':
		if (mt_parse_u64(arg, 1, 100000, &number))
			argp_error(state, "invalid --top '%s': expected a count, e.g. 10", arg);
		config->top_n = number;
		break;
	case 'v':
		config->verbosity++;
		break;
	case OPT_FOLDED:
		config->folded_path = arg;
		break;
	case OPT_FOLDED_PEAK:
		config->folded_peak_path = arg;
		break;
	case OPT_JSON:
		config->json_path = arg;
		break;
	case OPT_FLAMEGRAPH:
		config->flamegraph_path = arg;
		break;
	case OPT_MAX_ALLOCS:
		if (mt_parse_u64(arg, 1024, 1U << 28, &number))
			argp_error(state, "invalid --max-allocs '%s': expected 1024..268435456",
				   arg);
		config->max_allocs = number;
		break;
	case OPT_MAX_STACKS:
		if (mt_parse_u64(arg, 64, 1U << 22, &number))
			argp_error(state, "invalid --max-stacks '%s': expected 64..4194304", arg);
		config->max_stacks = number;
		break;
	case OPT_BENCH_FLOOR:
		config->bench_floor = true;
		break;
	case OPT_SAMPLE:
		if (mt_parse_size(arg, &config->sample_bytes))
			argp_error(state, "invalid --sample '%s': expected bytes, e.g. 512k or 2m",
				   arg);
		break;
	case OPT_NO_MAPPINGS:
		config->mappings = false;
		break;
	case OPT_NO_FAULTS:
		config->faults = false;
		break;
	case OPT_NO_HEAP:
		config->no_heap = true;
		break;
	case OPT_MAX_PAGES:
		if (mt_parse_u64(arg, 64, 1U << 26, &number))
			argp_error(state, "invalid --max-pages '%s': expected 64..67108864", arg);
		config->max_resident_pages = number;
		break;
	case OPT_FAULT_SAMPLE:
		if (mt_parse_u64(arg, 1, 1U << 20, &number))
			argp_error(state,
				   "invalid --fault-sample '%s': expected 1..1048576, e.g. 16",
				   arg);
		config->fault_sample = number;
		break;
	case OPT_MAX_MAPPINGS:
		if (mt_parse_u64(arg, 64, 1U << 24, &number))
			argp_error(state, "invalid --max-mappings '%s': expected 64..16777216",
				   arg);
		config->max_mappings = number;
		break;
	case OPT_LEAK_WINDOW:
		if (mt_parse_u64(arg, 1, MT_HISTORY_LEN / 2, &number))
			argp_error(state, "invalid --leak-window '%s': expected 1..%d intervals",
				   arg, MT_HISTORY_LEN / 2);
		config->leak_window = number;
		break;
	case OPT_LEAK_WINDOWS:
		if (mt_parse_u64(arg, 2, MT_VERDICT_MAX_WINDOWS, &number))
			argp_error(state, "invalid --leak-windows '%s': expected 2..%d", arg,
				   MT_VERDICT_MAX_WINDOWS);
		config->leak_windows = number;
		break;
	case OPT_NO_RSS:
		config->no_rss = true;
		break;
	case OPT_NO_EXEC_HOLD:
		config->no_exec_hold = true;
		break;
	case OPT_NO_DEMANGLE:
		config->no_demangle = true;
		break;
	case OPT_OOM_REPORT:
		config->oom_path = arg;
		break;
	case OPT_PPROF:
		config->pprof_path = arg;
		break;
	case OPT_PPROF_DIR:
		config->pprof_dir = arg;
		break;
	case OPT_PPROF_KEEP:
		if (mt_parse_u64(arg, 1, 1000000, &number))
			argp_error(state, "invalid --pprof-keep '%s': expected 1..1000000", arg);
		config->pprof_keep = number;
		break;
	case OPT_PUSH:
		if (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8))
			argp_error(state,
				   "invalid --push '%s': expected an http:// or https:// URL, e.g. "
				   "http://pyroscope:4040",
				   arg);
		config->push_url = arg;
		break;
	case OPT_APP_NAME:
		if (!*arg || strpbrk(arg, "{}=,\"\n"))
			argp_error(state,
				   "invalid --app-name '%s': expected a name without {}=,\" e.g. "
				   "checkout",
				   arg);
		config->app_name = arg;
		break;
	case OPT_PUSH_HEADER:
		if (!strchr(arg, ':') || strpbrk(arg, "\r\n"))
			argp_error(state,
				   "invalid --push-header '%s': expected 'Name: value', e.g. "
				   "'X-Scope-OrgID: tenant1'",
				   arg);
		if (config->push_header_cnt >= MT_MAX_PUSH_HEADERS)
			argp_error(state, "too many --push-header: at most %d",
				   MT_MAX_PUSH_HEADERS);
		config->push_headers[config->push_header_cnt++] = arg;
		break;
	case OPT_PUSH_QUEUE:
		if (mt_parse_u64(arg, 1, 10000, &number))
			argp_error(state, "invalid --push-queue '%s': expected 1..10000", arg);
		config->push_queue = number;
		break;
	case OPT_LIVE:
		config->live = true;
		break;
	case OPT_PER_PROCESS:
		config->per_process = true;
		break;
	case OPT_INCLUDE_EXITED:
		config->include_exited = true;
		break;
	case OPT_PYTHON_ALLOCATORS:
		config->python_allocators = true;
		break;
	case OPT_FRAMES:
		if (!strcmp(arg, "mixed"))
			config->frames = MT_FRAMES_MIXED;
		else if (!strcmp(arg, "all"))
			config->frames = MT_FRAMES_ALL;
		else if (!strcmp(arg, "python"))
			config->frames = MT_FRAMES_PYTHON;
		else
			argp_error(state, "invalid --frames '%s': expected mixed, all or python",
				   arg);
		break;
	case OPT_UNWIND:
		config->unwind_fp = !strcmp(arg, "fp");
		if (!config->unwind_fp && strcmp(arg, "dwarf"))
			argp_error(state, "invalid --unwind '%s': expected dwarf or fp", arg);
		break;
	case ARGP_KEY_ARG:
		/* Everything from the first operand on is the command (argp stops at "--"). */
		config->command = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if (!!config->pid_cnt + !!config->command + !!config->cgroup == 0)
			argp_error(state, "nothing to trace: give -p PID, -c CGROUP or -- COMMAND");
		if (!!config->pid_cnt + !!config->command + !!config->cgroup > 1)
			argp_error(state, "give one of -p PID, -c CGROUP or -- COMMAND");
		if (config->no_heap && !config->faults)
			argp_error(state, "--no-heap traces page faults only: drop --no-faults");
		if (config->no_heap && (config->sample_bytes || config->python_allocators))
			argp_error(state, "--no-heap traces no allocator: drop --sample and "
					  "--python-allocators (--fault-sample samples faults)");
		/* resident pages say what mappings hold: no syscall tracepoints for everyone */
		if (config->no_heap)
			config->mappings = false;
		/* a command's tree has exited by the final report: what it held is the answer */
		if (config->command)
			config->include_exited = true;
		if (config->leak_window * config->leak_windows > MT_HISTORY_LEN)
			argp_error(state,
				   "--leak-window %u x --leak-windows %u spans more than the %d "
				   "intervals of history kept: make one of them smaller",
				   config->leak_window, config->leak_windows, MT_HISTORY_LEN);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int cli_parse(int argc, char **argv, struct memtide_config *config)
{
	static const struct argp argp = {
		.options = options,
		.parser = parse_opt,
		.args_doc = "[-- COMMAND [ARGS...]]",
		.doc = doc,
	};

	argp_err_exit_status = 2;
	*config = (struct memtide_config){
		.interval_s = 5,
		.top_n = 10,
		.max_allocs = 1U << 20,
		.max_stacks = 32768,
		.mappings = true,
		.faults = true,
		.fault_sample = 1,
		.max_mappings = 65536,
		.max_resident_pages = 1U << 18,
		.pprof_keep = 60,
		.app_name = "memtide",
		.push_queue = 30,
	};
	return argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, config) ? 2 : 0;
}
