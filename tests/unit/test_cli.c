// SPDX-License-Identifier: GPL-2.0
/* Command-line parsing: valid input fills the config, invalid input exits 2 with a message. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "cli.h"
#include "check.h"

static int parse(struct memtide_config *config, int argc, char **argv)
{
	return cli_parse(argc, argv, config);
}

/* argp exits on a usage error: run the parse in a child and return its exit status. */
static int parse_exit_status(int argc, char **argv)
{
	struct memtide_config config;
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		_exit(parse(&config, argc, argv));
	}
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(void)
{
	char *pids[] = {"memtide", "-p", "12,34",    "-i",    "2.5",
			"-n",	   "3",	 "--folded", "out.f", NULL};
	char *command[] = {"memtide", "-d", "7", "--", "python3", "-c", "pass", NULL};
	char *defaults[] = {"memtide", "-p", "1", NULL};
	char *verdict_opts[] = {
		"memtide",	  "-p",		 "1",	     "--leak-window", "2",
		"--leak-windows", "10",		 "--no-rss", "--oom-report",  "oom.txt",
		"--folded-peak",  "peak.folded", NULL};
	char *bad_span[] = {"memtide",	      "-p", "1", "--leak-window", "60",
			    "--leak-windows", "5",  NULL};
	char *bad[][4] = {
		{"memtide", "-p", "12x", NULL},
		{"memtide", "-p", "0", NULL},
		{"memtide", "-i", "0", NULL},
		{"memtide", "-n", "-1", NULL},
		{"memtide", NULL},
		{"memtide", "-p", "1", "ls"},
		{"memtide", "-p", "1", "--leak-window=0"},
		{"memtide", "-p", "1", "--leak-windows=1"},
		{"memtide", "-p", "1", "--fault-sample=0"},
		{"memtide", "-p", "1", "--push=ftp://pyroscope:4040"},
		{"memtide", "-p", "1", "--push-header=X-Scope-OrgID"},
		{"memtide", "-p", "1", "--app-name=shop{env=prod}"},
		{"memtide", "-p", "1", "--push-queue=0"},
		{"memtide", "-p", "1", "--pprof-keep=0"},
	};
	char *outputs[] = {"memtide",
			   "-p",
			   "1",
			   "--pprof",
			   "p.pb.gz",
			   "--pprof-dir",
			   "pd",
			   "--pprof-keep",
			   "5",
			   "--push",
			   "http://alloy:9999",
			   "--app-name",
			   "shop",
			   "--push-header",
			   "X-Scope-OrgID: t1",
			   "--push-header",
			   "Authorization: Bearer x",
			   "--push-queue",
			   "7",
			   "--live",
			   NULL};
	char *mm_off[] = {"memtide",	    "-p", "1", "--no-mappings", "--no-faults",
			  "--fault-sample", "16", NULL};
	struct memtide_config config;

	CHECK(parse(&config, 9, pids) == 0, "parse -p list");
	CHECK(config.pid_cnt == 2 && config.pids[0] == 12 && config.pids[1] == 34, "pids");
	CHECK(config.interval_s == 2.5 && config.top_n == 3, "interval and top");
	CHECK(config.folded_path && !strcmp(config.folded_path, "out.f"), "folded path");
	CHECK(!config.command, "no command with -p");

	CHECK(parse(&config, 7, command) == 0, "parse -- COMMAND");
	CHECK(config.command && !strcmp(config.command[0], "python3") &&
		      !strcmp(config.command[1], "-c") && !strcmp(config.command[2], "pass") &&
		      !config.command[3],
	      "command argv kept whole, options after it untouched");
	CHECK(config.duration_s == 7, "duration");

	CHECK(parse(&config, 3, defaults) == 0, "defaults");
	CHECK(config.interval_s == 5 && config.top_n == 10 && config.duration_s == 0 &&
		      config.max_allocs == 1U << 20,
	      "documented defaults");
	CHECK(config.mappings && config.faults && config.fault_sample == 1 &&
		      config.max_mappings == 65536,
	      "mappings and page faults traced by default, every fault walked");
	CHECK(parse(&config, 7, mm_off) == 0 && !config.mappings && !config.faults &&
		      config.fault_sample == 16,
	      "--no-mappings, --no-faults, --fault-sample");

	CHECK(config.leak_window == 0 && config.leak_windows == 0 && !config.no_rss &&
		      !config.oom_path && !config.folded_peak_path,
	      "verdict windows, RSS and OOM defaults");

	CHECK(parse(&config, 12, verdict_opts) == 0, "parse the verdict, RSS and OOM options");
	CHECK(config.leak_window == 2 && config.leak_windows == 10 && config.no_rss &&
		      config.oom_path && !strcmp(config.oom_path, "oom.txt") &&
		      config.folded_peak_path && !strcmp(config.folded_peak_path, "peak.folded"),
	      "verdict windows, --no-rss, --oom-report, --folded-peak");
	CHECK(parse_exit_status(7, bad_span) == 2, "windows spanning more than the history exit 2");

	CHECK(parse(&config, 3, defaults) == 0 && !config.pprof_path && !config.push_url &&
		      config.pprof_keep == 60 && config.push_queue == 30 &&
		      !strcmp(config.app_name, "memtide") && !config.live,
	      "pprof, push and live defaults");
	CHECK(parse(&config, 20, outputs) == 0, "parse the pprof, push and live options");
	CHECK(!strcmp(config.pprof_path, "p.pb.gz") && !strcmp(config.pprof_dir, "pd") &&
		      config.pprof_keep == 5 && !strcmp(config.push_url, "http://alloy:9999") &&
		      !strcmp(config.app_name, "shop") && config.push_header_cnt == 2 &&
		      !strcmp(config.push_headers[1], "Authorization: Bearer x") &&
		      config.push_queue == 7 && config.live,
	      "--pprof, --pprof-dir, --pprof-keep, --push, --app-name, --push-header (twice), "
	      "--push-queue, --live");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int argc = 0;

		while (argc < 4 && bad[i][argc])
			argc++;
		CHECK(parse_exit_status(argc, bad[i]) == 2, "bad input %zu exits 2", i);
	}
	return check_summary("test_cli");
}
