#!/usr/bin/env bash
# tests/e2e/guest/build-guest.sh — prepares the Linux guest the QEMU
# end-to-end tests boot: Debian's stock kernel image (extracted from the
# package, never installed: installing would pull ~400 MB of modules and run
# initramfs tools for nothing) and a small busybox initramfs whose /init is
# written below. Results are cached under build/guest/ and rebuilt only when
# this script changes or a part is missing.
#
# Usage: tests/e2e/guest/build-guest.sh [OUTDIR]   (default: build/guest)
# Prints the output directory on success. Exit status: 0 ready, 1 failed,
# 3 a needed tool or package is not available (callers turn that into SKIP);
# the reason is on stderr.
set -u
export LC_ALL=C

ROOT=$(cd "$(dirname "$0")/../../.." && pwd) || exit 1
OUT=${1:-$ROOT/build/guest}
SELF=$ROOT/tests/e2e/guest/build-guest.sh

skip() {
	echo "build-guest: $*" >&2
	exit 3
}
die() {
	echo "build-guest: $*" >&2
	exit 1
}

mkdir -p "$OUT" || die "cannot create $OUT"
OUT=$(cd "$OUT" && pwd) || exit 1

# ---------------------------------------------------------------- kernel

# The kernel is cached by package name: it only changes when the mirror's
# linux-image-amd64 points at a newer ABI, and a stale one still works.
kernel_ok() { [ -s "$OUT/vmlinuz" ]; }
if ! kernel_ok; then
	for t in apt-get apt-cache dpkg-deb tar; do
		command -v "$t" >/dev/null 2>&1 || skip "$t not found: cannot fetch the Debian kernel"
	done
	# linux-image-amd64 is the metapackage; its dependency names the current
	# versioned image (linux-image-6.1.0-NN-amd64).
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1)
	[ -n "$pkg" ] || skip "apt-cache knows no linux-image-amd64 (run apt-get update?)"
	tmp=$(mktemp -d "$OUT/dl.XXXXXX") || die "mktemp failed"
	# apt-get download writes into the working directory; as root it may warn
	# that the _apt user cannot write there, which is harmless.
	if ! (cd "$tmp" && apt-get download -q "$pkg" >"$tmp/apt.log" 2>&1); then
		tail -n 5 "$tmp/apt.log" >&2
		rm -rf "$tmp"
		skip "apt-get download $pkg failed (no network to the Debian mirror?)"
	fi
	debs=("$tmp"/*.deb)
	deb=${debs[0]}
	[ -f "$deb" ] || { rm -rf "$tmp"; die "apt-get download left no .deb"; }
	# Only ./boot: the modules are not needed (8250 console, SysRq, devtmpfs
	# and gzip initrd support are built into Debian's kernel).
	if ! dpkg-deb --fsys-tarfile "$deb" | (cd "$tmp" && tar -x ./boot); then
		rm -rf "$tmp"
		die "cannot extract ./boot from $deb"
	fi
	kernels=("$tmp"/boot/vmlinuz-*)
	vmlinuz=${kernels[0]}
	[ -f "$vmlinuz" ] || { rm -rf "$tmp"; die "$deb holds no boot/vmlinuz-*"; }
	if ! mv "$vmlinuz" "$OUT/vmlinuz.new" || ! mv "$OUT/vmlinuz.new" "$OUT/vmlinuz"; then
		die "cannot store the kernel"
	fi
	echo "${vmlinuz##*/}" >"$OUT/kernel-version"
	rm -rf "$tmp"
fi

# ---------------------------------------------------------------- initramfs

initrd_ok() { [ -s "$OUT/initramfs.cpio.gz" ] && [ "$OUT/initramfs.cpio.gz" -nt "$SELF" ]; }
if ! initrd_ok; then
	for t in cpio gzip; do
		command -v "$t" >/dev/null 2>&1 || skip "$t not found (apt-get install cpio)"
	done
	bb=
	for c in /bin/busybox /usr/bin/busybox; do
		[ -x "$c" ] || continue
		# A dynamically linked busybox would need its libraries in the image.
		if od -An -c -N 4096 "$c" | tr -d ' \n' | grep -q 'ld-linux'; then continue; fi
		bb=$c
		break
	done
	[ -n "$bb" ] || skip "no static busybox (apt-get install busybox-static)"

	tmp=$(mktemp -d "$OUT/rootfs.XXXXXX") || die "mktemp failed"
	mkdir -p "$tmp"/{bin,sbin,dev,proc,sys,tmp,root} || die "mkdir failed"
	cp "$bb" "$tmp/bin/busybox" || die "cannot copy $bb"
	# Applets as symlinks: the shell, and what /init and an interactive test use.
	for a in sh ash cat echo ls mount umount mkdir sleep sysctl setsid cttyhack \
		grep sed tr dmesg ps uname true false test printf; do
		ln -s busybox "$tmp/bin/$a" || die "cannot link $a"
	done
	ln -s ../bin/busybox "$tmp/sbin/poweroff"
	ln -s ../bin/busybox "$tmp/sbin/reboot"

	# /init is PID 1: it must never exit (the kernel would panic with
	# "Attempted to kill init", which tests would mistake for their own crash).
	cat >"$tmp/init" <<'INIT'
#!/bin/sh
# emsagent e2e guest: PID 1 of a busybox initramfs.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# The default SysRq mask lacks the crash bit; tests need BREAK+c to work.
echo 1 >/proc/sys/kernel/sysrq
# An NMI must panic (QMP inject-nmi is the tests' crash button), not be
# shrugged off with "Dazed and confused, but trying to continue".
sysctl -w kernel.unknown_nmi_panic=1 >/dev/null
sysctl -w kernel.panic_on_unrecovered_nmi=1 >/dev/null

mode=shell
for arg in $(cat /proc/cmdline); do
	case $arg in
	emsagent.mode=*) mode=${arg#emsagent.mode=} ;;
	esac
done

echo "EMSAGENT-GUEST up: mode=$mode kernel=$(uname -r)"

case $mode in
stuck)
	echo "EMSAGENT-STUCK"
	while :; do sleep 3600; done
	;;
progress)
	i=1
	while [ $i -le 10 ]; do
		echo "EMSAGENT-PROGRESS step $i/10"
		sleep 0.2
		i=$((i + 1))
	done
	echo "EMSAGENT-PROGRESS stopped"
	while :; do sleep 3600; done
	;;
*)
	# A shell with ttyS0 as its controlling terminal; respawned if it exits.
	while :; do
		setsid cttyhack sh
		echo "EMSAGENT-GUEST shell exited, restarting"
		sleep 1
	done
	;;
esac
INIT
	chmod 755 "$tmp/init"
	# newc is the only cpio format the kernel unpacks; entries owned by root.
	if ! (cd "$tmp" && find . -print | sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -9 >"$OUT/initramfs.cpio.gz.new"; then
		rm -rf "$tmp"
		die "cpio/gzip of the initramfs failed"
	fi
	mv "$OUT/initramfs.cpio.gz.new" "$OUT/initramfs.cpio.gz" || die "cannot store the initramfs"
	rm -rf "$tmp"
fi

echo "$OUT"
