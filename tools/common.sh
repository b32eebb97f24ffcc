# Shared by tools/check, tools/demo and tools/bench: install, mount, build. Sourced, not run.

MEMTIDE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$MEMTIDE_ROOT/build}

# Debian 12 packages memtide needs to build, test and run.
MEMTIDE_PACKAGES=(cmake make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev libdw-dev
	libjansson-dev libcapstone-dev zlib1g-dev python3 util-linux libclang-rt-14-dev
	g++ libjemalloc2 libjemalloc-dev libtcmalloc-minimal4 libgoogle-perftools-dev libmimalloc2.0
	libmimalloc-dev
	protobuf-c-compiler libprotobuf-c-dev golang-github-google-pprof-dev golang-go
	libcurl4-openssl-dev libncurses-dev tmux systemd python3-yaml
	libiberty-dev python3-numpy python3-faiss heaptrack libpng-dev gunicorn python3-flask wrk)

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

# The fuzz targets (tests/fuzz) in a tree of their own: clang, libFuzzer, ASan and UBSan.
FUZZ_BUILD_DIR=${FUZZ_BUILD_DIR:-$MEMTIDE_ROOT/build-fuzz}
build_fuzz() {
	CC=clang cmake -S "$MEMTIDE_ROOT" -B "$FUZZ_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DMEMTIDE_FUZZ=ON -DMEMTIDE_FUZZ_SECONDS="${MEMTIDE_FUZZ_SECONDS:-60}" >/dev/null
	cmake --build "$FUZZ_BUILD_DIR" -j"$(nproc)" --target fuzz_targets -- --no-print-directory \
		>/dev/null
}

prepare() {
	require_root
	install_packages
	mount_kernel_fs
	# No network here: never let libdwfl try a debuginfod server.
	unset DEBUGINFOD_URLS
	build_memtide
}
