// SPDX-License-Identifier: GPL-2.0
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "view/service.h"

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t suffix_len = strlen(suffix);

	return len >= suffix_len && !memcmp(s + len - suffix_len, suffix, suffix_len);
}

/* Copies len bytes of s into out (MT_SERVICE_LEN), truncated, '_' turned into '-' if asked. */
static void copy_part(char *out, const char *s, size_t len, bool dashes)
{
	if (len >= MT_SERVICE_LEN)
		len = MT_SERVICE_LEN - 1;
	for (size_t i = 0; i < len; i++)
		out[i] = dashes && s[i] == '_' ? '-' : s[i];
	out[len] = '\0';
}

/*
 * A container component: the systemd driver's "<runtime>-<id>.scope" (cri-containerd-, crio-,
 * docker-), or the cgroupfs driver's bare id right below the pod.
 */
static void container_part(const char *s, size_t len, struct service_labels *labels)
{
	const char *dash = memrchr(s, '-', len);

	if (ends_with(s, len, ".scope") && dash) {
		len -= strlen(".scope");
		copy_part(labels->container_id, dash + 1, s + len - dash - 1, false);
	} else {
		copy_part(labels->container_id, s, len, false);
	}
}

void service__from_cgroup(const char *cgroup, struct service_labels *labels)
{
	const char *part = cgroup;
	bool below_pod = false;

	memset(labels, 0, sizeof(*labels));
	if (!cgroup || !strstr(cgroup, "kubepods")) {
		/* the innermost unit: a service in a slice, or a service's own sub-cgroup */
		for (const char *p = cgroup; p && *p; p = part) {
			const char *end = strchrnul(p, '/');

			part = *end ? end + 1 : end;
			if (ends_with(p, end - p, ".service"))
				copy_part(labels->service, p, end - p, false);
		}
		return;
	}
	for (const char *p = cgroup; *p; p = part) {
		const char *end = strchrnul(p, '/'), *pod = NULL;
		size_t len = end - p;

		part = *end ? end + 1 : end;
		if (!len)
			continue;
		if (below_pod && !labels->container_id[0]) {
			container_part(p, len, labels);
			continue;
		}
		/* "pod<uid>" (cgroupfs) or "kubepods-<qos>-pod<uid>.slice" (systemd) */
		pod = !strncmp(p, "pod", 3) ? p : memmem(p, len, "-pod", 4);
		if (!pod)
			continue;
		pod += pod == p ? 3 : 4;
		len = end - pod - (ends_with(p, end - p, ".slice") ? strlen(".slice") : 0);
		copy_part(labels->pod_uid, pod, len, true);
		below_pod = true;
	}
	if (labels->pod_uid[0])
		snprintf(labels->service, sizeof(labels->service), "pod-%.100s", labels->pod_uid);
}
