#!/bin/sh
# linux-console.sh — prepare a Linux guest for emsagent: a kernel console on
# the first serial port, SysRq and NMI panics enabled so that `emsagent dump
# --method sysrq|nmi` can crash it on purpose, and hints for kdump so the
# crash leaves a vmcore. Dry run by default: prints what it would do.
#
# usage: linux-console.sh [--apply] [--port ttyS0] [--baud 115200]
#   --apply  write /etc/sysctl.d/90-emsagent.conf and load it (needs root);
#            the kernel command line is only advised, never edited.
set -eu

apply=0
port=ttyS0
baud=115200
conf=/etc/sysctl.d/90-emsagent.conf

usage() {
	sed -n '2,10s/^# \{0,1\}//p' "$0"
	exit "${1:-2}"
}

while [ $# -gt 0 ]; do
	case "$1" in
	--apply) apply=1 ;;
	--port) [ $# -ge 2 ] || usage; port=$2; shift ;;
	--baud) [ $# -ge 2 ] || usage; baud=$2; shift ;;
	-h | --help) usage 0 ;;
	*) echo "linux-console.sh: unknown argument: $1" >&2; usage ;;
	esac
	shift
done
case "$port" in ttyS[0-9] | ttyS[0-9][0-9] | ttyAMA[0-9] | hvc[0-9]) ;; *) echo "linux-console.sh: bad port: $port" >&2; exit 2 ;; esac
case "$baud" in 9600 | 19200 | 38400 | 57600 | 115200) ;; *) echo "linux-console.sh: bad baud rate: $baud" >&2; exit 2 ;; esac

# GRUB numbers the PC serial ports from 0 like ttyS; other ports have no unit.
case "$port" in ttyS*) unit=${port#ttyS} ;; *) unit=0 ;; esac

# The sysctls: all SysRq functions (c = crash), and panic on an NMI nobody
# claims (what a hypervisor's inject-nmi delivers) or one the hardware
# reports as unrecoverable.
settings="kernel.sysrq = 1
kernel.unknown_nmi_panic = 1
kernel.panic_on_unrecovered_nmi = 1"

cat <<EOT
== Kernel console on the serial port
Add to GRUB_CMDLINE_LINUX in /etc/default/grub:
    console=tty0 console=$port,$baud
(the last console= is the one /dev/console and panic messages use), and for
GRUB's own menu on the same port:
    GRUB_TERMINAL="console serial"
    GRUB_SERIAL_COMMAND="serial --unit=$unit --speed=$baud"
then run update-grub (Debian/Ubuntu) or grub2-mkconfig -o /boot/grub2/grub.cfg
(RHEL/Fedora) and reboot. A getty on the port: systemctl enable serial-getty@$port.

== Crash on demand (sysctl)
$settings

== kdump (keeps a vmcore after the panic)
Debian/Ubuntu: apt install kdump-tools (then reboot; check with kdump-config show)
RHEL/Fedora:   dnf install kexec-tools; systemctl enable --now kdump
Both reserve memory with crashkernel= on the kernel command line
(e.g. crashkernel=256M). The dump lands in /var/crash.
EOT

if [ "$apply" -eq 0 ]; then
	echo
	echo "Dry run: nothing changed. With --apply: write $conf and load it."
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "linux-console.sh: --apply needs root" >&2
	exit 1
fi
tmp="$conf.tmp.$$"
{
	echo "# written by emsagent's linux-console.sh: crash on SysRq c and on NMIs"
	printf '%s\n' "$settings"
} >"$tmp"
chmod 0644 "$tmp"
mv "$tmp" "$conf"
sysctl -p "$conf"
echo "Wrote and loaded $conf."
