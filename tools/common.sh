# Shared by tools/check, tools/demo and tools/bench: install, mount, build. Sourced, not run.

MEMTIDE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$MEMTIDE_ROOT/build}

# Debian 12 packages memtide needs to build, test and run.
MEMTIDE_PACKAGES=(cmake make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev libdw-dev
	libjansson-dev libcapstone-dev zlib1g-dev python3 util-linux libiberty-dev g++ python3-numpy)

require_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "$(basename "$0"): needs root (it installs packages and loads BPF): run it with sudo" >&2
		exit 1
	fi
}

install_packages() {
	local missing=()
	for pkg in "${MEMTIDE_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "Installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

mount_kernel_fs() {
	mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing
	mountpoint -q /sys/kernel/debug || mount -t debugfs nodev /sys/kernel/debug
}

build_memtide() {
	cmake -S "$MEMTIDE_ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$BUILD_DIR" -j"$(nproc)" -- --no-print-directory >/dev/null
}

prepare() {
	require_root
	install_packages
	mount_kernel_fs
	# No network here: never let libdwfl try a debuginfod server.
	unset DEBUGINFOD_URLS
	build_memtide
}
