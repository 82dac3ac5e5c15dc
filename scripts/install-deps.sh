#!/usr/bin/env bash
# Installs the Debian packages emsagent needs to build and test, if any are
# missing. Uses apt-get directly as root, through sudo otherwise.
# Exit status: 0 when everything is present afterwards, 1 when it is not.
set -u

# Build and unit-test libraries, then tools the test suite and bench use
# (QEMU, a static busybox and cpio boot the Linux guest of `make qemu-e2e`;
# tmux is the real terminal `make attach-e2e` types into; picocom is the
# peer `make bench-attach` compares with).
pkgs=(
	build-essential pkg-config
	libyaml-dev libvectorscan-dev libpcre2-dev libjson-c-dev libcmocka-dev
	libserialport-dev
	ripgrep
	qemu-system-x86 busybox-static cpio
	tmux picocom
)

missing=()
for p in "${pkgs[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
	run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	run=(sudo -n)
else
	echo "install-deps: missing packages (${missing[*]}) and not root, and sudo cannot run without a password;" >&2
	echo "install-deps: run as root: apt-get install ${missing[*]}" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: apt-get not found; install by hand: ${missing[*]}" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq >&2 || { echo "install-deps: apt-get update failed" >&2; exit 1; }
if ! "${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
	echo "install-deps: apt-get install failed for: ${missing[*]}" >&2
	exit 1
fi
exit 0
