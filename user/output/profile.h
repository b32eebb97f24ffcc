/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The view as a pprof profile (profile.proto, compiled by protobuf-c at build time): what
 * --pprof, --pprof-dir and --push send. One sample per view row (a stack and process, or the
 * stacks of processes with the same command summed), values as Go's heap profile has them:
 * alloc_objects, alloc_space (since the start), inuse_objects, inuse_space (now), plus
 * resident_space (bytes made resident by page faults since the start) when faults are traced.
 * Labels: pid, comm, kind, cgroup and the service, pod and container the cgroup names.
 * Locations carry function, file and line; Python frames sit in the mapping "[python]".
 * Mappings are the modules by name (no build ids: the frames do not carry them).
 */
#ifndef MEMTIDE_OUTPUT_PROFILE_H
#define MEMTIDE_OUTPUT_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

struct view;

/* The sample types in value order; PROFILE_RESIDENT_SPACE only when faults are traced. */
enum profile_value {
	PROFILE_ALLOC_OBJECTS,
	PROFILE_ALLOC_SPACE,
	PROFILE_INUSE_OBJECTS,
	PROFILE_INUSE_SPACE,
	PROFILE_RESIDENT_SPACE,
	PROFILE_VALUE_NR,
};

struct profile_baseline;

struct profile_opts {
	__s64 time_ns;	   /* wall clock of the profile's end, as Unix nanoseconds */
	__s64 duration_ns; /* what it covers */
	/*
	 * NULL: alloc_* and resident_space count since the start, as Go's heap profile does (a
	 * file stands alone). Else they count since the last profile encoded with this baseline,
	 * which is then moved on: what a continuous-profiling server sums over time (Pyroscope's
	 * Go SDK sends its heap profiles so, through godeltaprof). inuse_* are levels either way.
	 */
	struct profile_baseline *since;
};

/* An empty baseline: the first profile encoded with it counts from the start. NULL on ENOMEM. */
struct profile_baseline *profile_baseline__new(void);
void profile_baseline__free(struct profile_baseline *baseline); /* NULL-safe */

/* The serialized (not yet compressed) profile.proto of the view. 0 or -ENOMEM. */
int profile__encode(const struct view *view, const struct profile_opts *opts, uint8_t **buf,
		    size_t *len);

#endif /* MEMTIDE_OUTPUT_PROFILE_H */
