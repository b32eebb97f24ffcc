/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The service a process belongs to, read from its cgroup v2 path: the systemd unit
 * (".../app.service") or the Kubernetes pod and container (cgroupfs driver
 * "/kubepods/burstable/pod<uid>/<container>", systemd driver
 * ".../kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<container>.scope").
 * Pure: the path is given, so the rules can be tested on paths from real nodes.
 */
#ifndef MEMTIDE_VIEW_SERVICE_H
#define MEMTIDE_VIEW_SERVICE_H

#define MT_SERVICE_LEN 128

struct service_labels {
	char service[MT_SERVICE_LEN];	   /* "app.service", "pod-<uid>", or "" */
	char pod_uid[MT_SERVICE_LEN];	   /* the pod's UID with dashes, or "" */
	char container_id[MT_SERVICE_LEN]; /* the container runtime's id, or "" */
};

/* Fills labels from a cgroup path (NULL or "" gives empty labels). */
void service__from_cgroup(const char *cgroup, struct service_labels *labels);

#endif /* MEMTIDE_VIEW_SERVICE_H */
