/*
 * gen.c — deterministic generator of a large, mixed serial-console log for
 * `make bench`.
 *
 * Usage: gen SIZE_BYTES SEED > file
 *
 * The output is exactly SIZE_BYTES long and depends only on (SIZE_BYTES,
 * SEED): the generator has its own PRNG (xoshiro256**, seeded through
 * splitmix64) and never reads the clock or the environment, so a benchmark
 * can be repeated byte for byte on another machine.
 *
 * What it looks like: a sequence of boots of one or more VMs on a console,
 * each boot firmware (SeaBIOS or OVMF) → boot loader (a GRUB menu drawn with
 * cursor addressing and SGR colours, or the Windows Boot Manager over EMS) →
 * an OS that runs for a while: Linux (dmesg with printk stamps, systemd
 * status lines with colour, journald/syslog lines, logins) or Windows (SAC
 * banner and events, SAC commands and their output, cmd channels repainted as
 * 80x24 VT screens, CRLF everywhere). Rare failures (kernel panic, soft
 * lockup, hung task, OOM, RCU stall, I/O errors, emergency mode, "Preparing to
 * configure Windows", update rollback, EMS <BP> bugcheck records with BEL
 * bytes) are injected at about one in 50,000 lines, so a scan has findings
 * but they are as rare as on a real fleet.
 *
 * Speed matters (1 GiB in a few seconds): text is assembled in a large
 * buffer with memcpy and hand-rolled integer formatting; no stdio formatting
 * in the hot path.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Output buffer size; writes happen in chunks of this size. */
#define OUT_CAP ((size_t)4 << 20)
/* One failure in about this many runtime lines. */
#define FAIL_ONE_IN 50000u

/* ---------------------------------------------------------------- PRNG */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	for (size_t i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: fast, good enough statistically, and fully specified. */
static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n) by multiply-shift; the bias for n < 2^32 is negligible
 * and, unlike a modulo, it is the same on every platform. */
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static inline uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

#define PICK(r, arr) ((arr)[rng_below((r), (uint32_t)ARRAY_LEN(arr))])

/* -------------------------------------------------------------- output */

struct out {
	char *buf;
	size_t len;
	uint64_t written; /* bytes already handed to stdout */
	uint64_t limit;   /* total bytes wanted */
	int err;          /* errno of a failed write, 0 when fine */
};

/* Writes the buffer, never past the limit (the last line may be cut: the
 * file is exactly the requested size). */
static void out_flush(struct out *o)
{
	size_t n = o->len;
	if (o->written + n > o->limit)
		n = (size_t)(o->limit - o->written);
	const char *p = o->buf;
	while (n > 0 && o->err == 0) {
		ssize_t w = write(STDOUT_FILENO, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			o->err = errno;
			break;
		}
		p += w;
		n -= (size_t)w;
		o->written += (uint64_t)w;
	}
	o->len = 0;
}

static inline bool out_full(const struct out *o)
{
	return o->err != 0 || o->written + o->len >= o->limit;
}

static inline void put(struct out *o, const char *s, size_t n)
{
	while (n > 0) {
		if (o->len == OUT_CAP)
			out_flush(o);
		size_t room = OUT_CAP - o->len;
		size_t k = n < room ? n : room;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
	}
}

static inline void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static inline void putc_(struct out *o, char c)
{
	if (o->len == OUT_CAP)
		out_flush(o);
	o->buf[o->len++] = c;
}

/* Decimal, at least width digits, padded on the left with pad. */
static void put_num(struct out *o, uint64_t v, unsigned width, char pad)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0 && i > 0);
	while (sizeof(tmp) - i < width && i > 0)
		tmp[--i] = pad;
	put(o, tmp + i, sizeof(tmp) - i);
}

static inline void put_u(struct out *o, uint64_t v)
{
	put_num(o, v, 0, '0');
}

static void put_hex(struct out *o, uint64_t v, unsigned digits, bool upper)
{
	const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[16];
	if (digits > 16)
		digits = 16;
	for (unsigned i = 0; i < digits; i++)
		tmp[digits - 1 - i] = d[(v >> (4 * i)) & 0xf];
	put(o, tmp, digits);
}

/* ------------------------------------------------------------ the world */

struct gen {
	struct rng r;
	struct out o;
	const char *eol; /* "\n" or "\r\n", per boot */
	size_t eol_len;
	uint64_t uptime_us; /* since this boot's kernel start */
	int64_t wall_s;     /* this boot's start, seconds since the Unix epoch */
	char host[32];
	unsigned ncpu;
	unsigned kver; /* index into kernels[] */
	uint64_t lines;
	bool boot_over; /* a failure ended the boot (panic, bugcheck, hang) */
	/* cached syslog date of the last second formatted */
	int64_t syslog_sec;
	char syslog_date[20];
};

static const char *const kernels[] = {
    "6.1.0-13-amd64", "6.1.0-18-amd64", "5.10.0-26-amd64", "5.15.0-91-generic", "6.5.0-14-generic",
};
static const char *const kernel_builds[] = {
    "#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)",
    "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)",
    "#1 SMP Debian 5.10.197-1 (2023-09-29)",
    "#101-Ubuntu SMP Tue Nov 14 13:30:08 UTC 2023",
    "#14~22.04.1-Ubuntu SMP PREEMPT_DYNAMIC Mon Nov 20 18:15:30 UTC 2",
};
static const char *const hosts[] = {
    "web-01", "web-02", "db-01", "build-07", "k8s-node-3", "k8s-node-4", "cache-2", "ci-runner-11",
};
static const char *const win_hosts[] = {
    "WIN-SQL01", "WIN-APP02", "WIN-DC01", "WIN-IIS03", "WIN-BUILD7",
};
static const char *const disks[] = {"vda", "vdb", "sda", "sdb", "nvme0n1"};
static const char *const netdevs[] = {"eth0", "ens3", "enp0s3", "ens160", "eth1"};
static const char *const comms[] = {
    "kworker/0:1", "kworker/1:2", "ksoftirqd/0", "rcu_sched",       "jbd2/vda1-8", "systemd",
    "sshd",        "postgres",    "java",        "nginx",           "dockerd",     "containerd",
    "python3",     "node",        "kubelet",     "rsyslogd",        "cron",        "bash",
    "qemu-ga",     "chronyd",     "snapd",       "containerd-shim",
};
static const char *const services[] = {
    "apt-daily.service",
    "apt-daily-upgrade.service",
    "logrotate.service",
    "man-db.service",
    "systemd-tmpfiles-clean.service",
    "fstrim.service",
    "e2scrub_all.service",
    "user@1000.service",
    "docker.service",
    "containerd.service",
    "ssh.service",
    "cron.service",
    "rsyslog.service",
    "nginx.service",
    "postgresql@15-main.service",
    "kubelet.service",
    "snapd.service",
    "chrony.service",
    "packagekit.service",
    "networkd-dispatcher.service",
    "systemd-journald.service",
    "systemd-udevd.service",
    "systemd-logind.service",
    "dbus.service",
    "qemu-guest-agent.service",
    "sysstat-collect.service",
    "phpsessionclean.service",
    "certbot.service",
    "motd-news.service",
    "unattended-upgrades.service",
};
static const char *const ksyms[] = {
    "dump_stack_lvl+0x44/0x5c",
    "panic+0x118/0x2f5",
    "mount_block_root+0x1d8/0x1f9",
    "prepare_namespace+0x136/0x165",
    "kernel_init_freeable+0x25c/0x286",
    "kernel_init+0x16/0x130",
    "ret_from_fork+0x22/0x30",
    "__schedule+0x351/0xa20",
    "schedule+0x5d/0xe0",
    "io_schedule+0x42/0x70",
    "bit_wait_io+0xd/0x60",
    "__wait_on_bit+0x2e/0x90",
    "out_of_line_wait_on_bit+0x92/0xb0",
    "jbd2_journal_commit_transaction+0x16a1/0x1a70 [jbd2]",
    "kjournald2+0xab/0x280 [jbd2]",
    "kthread+0xe8/0x110",
    "ext4_writepages+0x4f6/0xe00 [ext4]",
    "do_writepages+0xd0/0x1d0",
    "filemap_fdatawrite_wbc+0x66/0x90",
    "asm_sysvec_apic_timer_interrupt+0x16/0x20",
    "native_safe_halt+0xb/0x10",
    "default_idle+0xa/0x20",
    "do_idle+0x1eb/0x280",
    "cpu_startup_entry+0x19/0x20",
    "out_of_memory+0xe1/0x2c0",
    "__alloc_pages_slowpath.constprop.0+0xc95/0xd90",
    "__alloc_pages+0x305/0x330",
    "handle_mm_fault+0xdb/0x2d0",
    "exc_page_fault+0x76/0x170",
};

/* ---------------------------------------------------------- formatting */

static void put_ip(struct gen *g)
{
	static const unsigned first[] = {10, 172, 192, 100, 34, 52, 185};
	put_u(&g->o, PICK(&g->r, first));
	for (int i = 0; i < 3; i++) {
		putc_(&g->o, '.');
		put_u(&g->o, rng_below(&g->r, 256));
	}
}

static void put_mac(struct gen *g)
{
	for (int i = 0; i < 6; i++) {
		if (i)
			putc_(&g->o, ':');
		put_hex(&g->o, rng_below(&g->r, 256), 2, false);
	}
}

/*
 * Expands a template: "%c" cpu, "%p" pid, "%u" 0..999, "%U" 1000..9999999,
 * "%b" 0..255, "%x" 8 hex digits, "%X" 16 hex digits, "%i" IPv4, "%m" MAC, "%d" disk,
 * "%n" net device, "%s" systemd unit, "%h" host, "%w" task name, "%k"
 * kernel version, "%P" port, "%a" kernel symbol, "%%" a percent sign.
 */
static void put_tmpl(struct gen *g, const char *t)
{
	struct out *o = &g->o;
	for (;;) {
		const char *pc = strchr(t, '%');
		if (pc == NULL) {
			puts_(o, t);
			return;
		}
		put(o, t, (size_t)(pc - t));
		switch (pc[1]) {
		case 'c':
			put_u(o, rng_below(&g->r, g->ncpu));
			break;
		case 'p':
			put_u(o, rng_range(&g->r, 100, 65000));
			break;
		case 'u':
			put_u(o, rng_below(&g->r, 1000));
			break;
		case 'b':
			put_u(o, rng_below(&g->r, 256));
			break;
		case 'U':
			put_u(o, rng_range(&g->r, 1000, 9999999));
			break;
		case 'x':
			put_hex(o, rng_next(&g->r), 8, false);
			break;
		case 'X':
			put_hex(o, rng_next(&g->r), 16, false);
			break;
		case 'i':
			put_ip(g);
			break;
		case 'm':
			put_mac(g);
			break;
		case 'd':
			puts_(o, PICK(&g->r, disks));
			break;
		case 'n':
			puts_(o, PICK(&g->r, netdevs));
			break;
		case 's':
			puts_(o, PICK(&g->r, services));
			break;
		case 'h':
			puts_(o, g->host);
			break;
		case 'w':
			puts_(o, PICK(&g->r, comms));
			break;
		case 'k':
			puts_(o, kernels[g->kver]);
			break;
		case 'P':
			put_u(o, rng_range(&g->r, 1024, 65535));
			break;
		case 'a':
			puts_(o, PICK(&g->r, ksyms));
			break;
		case '%':
			putc_(o, '%');
			break;
		case '\0':
			putc_(o, '%');
			return;
		default:
			put(o, pc, 2);
			break;
		}
		t = pc + 2;
	}
}

static inline void eol(struct gen *g)
{
	put(&g->o, g->eol, g->eol_len);
	g->lines++;
}

/* Time moves on by up to max_us between two lines. */
static inline void tick(struct gen *g, uint32_t max_us)
{
	g->uptime_us += rng_below(&g->r, max_us) + 1;
}

/* "[   12.345678] " */
static void put_printk(struct gen *g)
{
	struct out *o = &g->o;
	putc_(o, '[');
	put_num(o, g->uptime_us / 1000000, 5, ' ');
	putc_(o, '.');
	put_num(o, g->uptime_us % 1000000, 6, '0');
	put(o, "] ", 2);
}

/* A kernel message line: printk stamp, text, end of line. */
static void kline(struct gen *g, const char *tmpl)
{
	put_printk(g);
	put_tmpl(g, tmpl);
	eol(g);
}

/* "Nov 21 10:15:02 host " — the syslog date is cached per second. */
static void put_syslog_prefix(struct gen *g)
{
	int64_t sec = g->wall_s + (int64_t)(g->uptime_us / 1000000);
	if (sec != g->syslog_sec) {
		static const char mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
		time_t t = (time_t)sec;
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(g->syslog_date, sizeof(g->syslog_date), "%s %2d %02d:%02d:%02d ",
		         mon[tm.tm_mon % 12], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		g->syslog_sec = sec;
	}
	puts_(&g->o, g->syslog_date);
	puts_(&g->o, g->host);
	putc_(&g->o, ' ');
}

/* ------------------------------------------------------------ firmware */

static void firmware_seabios(struct gen *g)
{
	struct out *o = &g->o;
	/* SeaBIOS and iPXE write bare LF and clear the screen first. */
	puts_(o, "\x1b"
	         "c\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)\n");
	puts_(o, "\n\niPXE (https://ipxe.org) 00:03.0 CA00 PCI2.10 PnP PMM+7EFD0FC0+7EF30FC0 CA00\n");
	puts_(o, "Press Ctrl-B to configure iPXE (PCI 00:03.0)...\r                                          "
	         "      \r\n\n\n");
	puts_(o, "Booting from Hard Disk...\n");
	g->lines += 8;
}

static void firmware_ovmf(struct gen *g)
{
	struct out *o = &g->o;
	puts_(o, "\x1b[2J\x1b[01;01H\x1b[=3h\x1b[2J\x1b[01;01H");
	puts_(o, "BdsDxe: loading Boot0001 \"UEFI QEMU HARDDISK QM00001 \" from "
	         "PciRoot(0x0)/Pci(0x1,0x1)/Ata(Secondary,Master,0x0)\r\n");
	puts_(o, "BdsDxe: starting Boot0001 \"UEFI QEMU HARDDISK QM00001 \" from "
	         "PciRoot(0x0)/Pci(0x1,0x1)/Ata(Secondary,Master,0x0)\r\n");
	g->lines += 2;
}

/* ---------------------------------------------------------------- GRUB */

/* Moves the cursor: ESC [ row ; col H */
static void cup(struct out *o, unsigned row, unsigned col)
{
	put(o, "\x1b[", 2);
	put_u(o, row);
	putc_(o, ';');
	put_u(o, col);
	putc_(o, 'H');
}

static void grub_screen(struct gen *g, bool first, unsigned secs)
{
	static const char *const entries[] = {
	    "Debian GNU/Linux",
	    "Advanced options for Debian GNU/Linux",
	    "Memory test (memtest86+x64.bin)",
	    "UEFI Firmware Settings",
	};
	struct out *o = &g->o;
	if (first) {
		puts_(o, "\x1b[0m\x1b[37m\x1b[40m\x1b[2J\x1b[01;01H");
		cup(o, 2, 28);
		puts_(o, "GNU GRUB  version 2.06-13+deb12u1");
		cup(o, 4, 2);
		puts_(o, "\x1b[0m\x1b[37m\x1b[40m+-----------------------------------------------------------"
		         "-----------------+");
		for (unsigned row = 5; row <= 16; row++) {
			cup(o, row, 2);
			putc_(o, '|');
			cup(o, row, 79);
			putc_(o, '|');
		}
		cup(o, 17, 2);
		puts_(o, "+----------------------------------------------------------------------------+");
		for (unsigned i = 0; i < ARRAY_LEN(entries); i++) {
			cup(o, 5 + i, 3);
			if (i == 0)
				puts_(o, "\x1b[0m\x1b[30m\x1b[47m*");
			else
				puts_(o, "\x1b[0m\x1b[37m\x1b[40m ");
			puts_(o, entries[i]);
			/* the highlight bar fills the row */
			size_t n = strlen(entries[i]);
			for (size_t k = n; k < 75; k++)
				putc_(o, ' ');
			puts_(o, "\x1b[0m\x1b[37m\x1b[40m");
		}
		cup(o, 18, 5);
		puts_(o, "Use the ^ and v keys to select which entry is highlighted.");
		cup(o, 19, 5);
		puts_(o, "Press enter to boot the selected OS, `e' to edit the commands");
		cup(o, 20, 5);
		puts_(o, "before booting or `c' for a command-line.");
		g->lines += 20;
	}
	cup(o, 21, 4);
	puts_(o, "The highlighted entry will be executed automatically in ");
	put_u(o, secs);
	puts_(o, "s.                 ");
	cup(o, 5, 79);
	g->lines++;
}

static void grub(struct gen *g)
{
	unsigned secs = rng_range(&g->r, 1, 5);
	grub_screen(g, true, secs);
	for (unsigned s = secs; s-- > 0;)
		grub_screen(g, false, s);
	puts_(&g->o, "\x1b[0m\x1b[37m\x1b[40m\x1b[2J\x1b[01;01H");
	puts_(&g->o, "Loading Linux ");
	puts_(&g->o, kernels[g->kver]);
	puts_(&g->o, " ...\r\nLoading initial ramdisk ...\r\n");
	g->lines += 2;
}

/* ------------------------------------------------------------ Linux boot */

static const char *const linux_boot[] = {
    "Command line: BOOT_IMAGE=/boot/vmlinuz-%k root=UUID=%x-5a1c-4e3b-9d0f-%x ro console=tty0 "
    "console=ttyS0,115200n8 quiet",
    "BIOS-provided physical RAM map:",
    "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
    "BIOS-e820: [mem 0x000000000009fc00-0x000000000009ffff] reserved",
    "BIOS-e820: [mem 0x00000000000f0000-0x00000000000fffff] reserved",
    "BIOS-e820: [mem 0x0000000000100000-0x00000000bffdcfff] usable",
    "NX (Execute Disable) protection: active",
    "SMBIOS 2.8 present.",
    "DMI: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014",
    "Hypervisor detected: KVM",
    "kvm-clock: Using msrs 4b564d01 and 4b564d00",
    "tsc: Detected %U.%u MHz processor",
    "ACPI: Early table checksum verification disabled",
    "ACPI: RSDP 0x00000000000F5A50 000014 (v00 BOCHS )",
    "Zone ranges:",
    "  DMA      [mem 0x0000000000001000-0x0000000000ffffff]",
    "  DMA32    [mem 0x0000000001000000-0x00000000ffffffff]",
    "smpboot: Allowing %c CPUs, 0 hotplug CPUs",
    "Memory: %U K/%U K available (14342K kernel code, 2334K rwdata, 9084K rodata, 2796K init, 17380K "
    "bss, 176536K reserved, 0K cma-reserved)",
    "rcu: Hierarchical RCU implementation.",
    "Console: colour VGA+ 80x25",
    "printk: console [ttyS0] enabled",
    "Calibrating delay loop (skipped) preset value.. %U.%u BogoMIPS (lpj=%U)",
    "Spectre V1 : Mitigation: usercopy/swapgs barriers and __user pointer sanitization",
    "smp: Bringing up secondary CPUs ...",
    "x86: Booting SMP configuration:",
    "smp: Brought up 1 node, %c CPUs",
    "devtmpfs: initialized",
    "clocksource: jiffies: mask: 0xffffffff max_cycles: 0xffffffff, max_idle_ns: 7645041785100000 ns",
    "NET: Registered PF_NETLINK/PF_ROUTE protocol family",
    "PCI: Using configuration type 1 for base access",
    "ACPI: Interpreter enabled",
    "pci 0000:00:01.1: [8086:7010] type 00 class 0x010180",
    "SCSI subsystem initialized",
    "clocksource: Switched to clocksource kvm-clock",
    "NET: Registered PF_INET protocol family",
    "Trying to unpack rootfs image as initramfs...",
    "Freeing initrd memory: %U K",
    "Serial: 8250/16550 driver, 4 ports, IRQ sharing enabled",
    "00:04: ttyS0 at I/O 0x3f8 (irq = 4, base_baud = 115200) is a 16550A",
    "rtc_cmos 00:05: RTC can wake from S4",
    "Freeing unused kernel image (initmem) memory: 2796K",
    "Write protecting the kernel read-only data: 26624k",
    "Run /init as init process",
    "virtio_blk virtio2: [%d] %U 512-byte logical blocks (%u GB/%u GiB)",
    " %d: %d1 %d2 < %d5 >",
    "virtio_net virtio0 %n: renamed from eth0",
    "EXT4-fs (%d1): mounted filesystem with ordered data mode. Quota mode: none.",
    "Not activating Mandatory Access Control as /sbin/tomoyo-init does not exist.",
    "systemd[1]: Inserted module 'autofs4'",
    "systemd[1]: systemd 252.19-1~deb12u1 running in system mode (+PAM +AUDIT +SELINUX +APPARMOR +IMA "
    "+SMACK +SECCOMP +GCRYPT -GNUTLS +OPENSSL +ACL +BLKID +CURL +ELFUTILS +FIDO2 +IDN2 -IDN +IPTC +KMOD "
    "+LIBCRYPTSETUP +LIBFDISK +PCRE2 -PWQUALITY +P11KIT +QRENCODE +TPM2 +BZIP2 +LZ4 +XZ +ZLIB +ZSTD "
    "-BPF_FRAMEWORK -XKBCOMMON +UTMP +SYSVINIT default-hierarchy=unified)",
    "systemd[1]: Detected virtualization kvm.",
    "systemd[1]: Detected architecture x86-64.",
    "systemd[1]: Hostname set to <%h>.",
    "EXT4-fs (%d1): re-mounted. Quota mode: none.",
    "Adding %U k swap on /dev/%d2.  Priority:-2 extents:1 across:%U k FS",
    "audit: type=1400 audit(%U.%u:%u): apparmor=\"STATUS\" operation=\"profile_load\" "
    "profile=\"unconfined\" name=\"lsb_release\" pid=%p comm=\"apparmor_parser\"",
    "IPv6: ADDRCONF(NETDEV_CHANGE): %n: link becomes ready",
    "random: crng init done",
};

static const char *const systemd_boot[] = {
    "Started Journal Service.",
    "Finished Load Kernel Modules.",
    "Finished Remount Root and Kernel File Systems.",
    "Finished Create Static Device Nodes in /dev.",
    "Started Rule-based Manager for Device Events and Files.",
    "Mounted Huge Pages File System.",
    "Mounted POSIX Message Queue File System.",
    "Mounted Kernel Debug File System.",
    "Mounted Kernel Trace File System.",
    "Finished Coldplug All udev Devices.",
    "Finished Apply Kernel Variables.",
    "Reached target Local File Systems.",
    "Finished Flush Journal to Persistent Storage.",
    "Finished Create System Users.",
    "Finished Load/Save Random Seed.",
    "Started Network Time Synchronization.",
    "Reached target System Time Set.",
    "Finished Raise network interfaces.",
    "Reached target Network.",
    "Reached target Network is Online.",
    "Started Regular background program processing daemon.",
    "Started D-Bus System Message Bus.",
    "Started System Logging Service.",
    "Started User Login Management.",
    "Started OpenBSD Secure Shell server.",
    "Started containerd container runtime.",
    "Started Docker Application Container Engine.",
    "Started Serial Getty on ttyS0.",
    "Started Getty on tty1.",
    "Reached target Login Prompts.",
    "Finished Permit User Sessions.",
    "Reached target Multi-User System.",
    "Started Daily apt download activities.",
    "Started Daily rotation of log files.",
    "Started Discard unused blocks once a week.",
    "Finished Update UTMP about System Runlevel Changes.",
};

/* "[  OK  ] Started Foo." with the colours systemd uses on a console. */
static void systemd_ok(struct gen *g, const char *what)
{
	struct out *o = &g->o;
	puts_(o, "[\x1b[0;32m  OK  \x1b[0m] ");
	const char *sp = strchr(what, ' ');
	if (sp != NULL && strncmp(what, "Reached target", 14) != 0) {
		put(o, what, (size_t)(sp - what) + 1);
		puts_(o, "\x1b[0;1;39m");
		size_t n = strlen(sp + 1);
		put(o, sp + 1, n - 1); /* without the final dot */
		puts_(o, "\x1b[0m.");
	} else {
		puts_(o, what);
	}
	eol(g);
}

static void linux_boot_seq(struct gen *g)
{
	struct out *o = &g->o;
	g->uptime_us = 0;
	put_printk(g);
	puts_(o, "Linux version ");
	puts_(o, kernels[g->kver]);
	puts_(o,
	      " (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for "
	      "Debian) 2.40) ");
	puts_(o, kernel_builds[g->kver]);
	eol(g);
	for (size_t i = 0; i < ARRAY_LEN(linux_boot); i++) {
		tick(g, 40000);
		kline(g, linux_boot[i]);
	}
	for (size_t i = 0; i < ARRAY_LEN(systemd_boot); i++) {
		const char *what = strchr(systemd_boot[i], ' ');
		/* units (not targets) announce themselves before they finish */
		if (systemd_boot[i][0] != 'R' && what != NULL && rng_below(&g->r, 3) == 0) {
			puts_(o, "         Starting \x1b[0;1;39m");
			put(o, what + 1, strlen(what + 1) - 1);
			puts_(o, "\x1b[0m...");
			eol(g);
		}
		tick(g, 80000);
		systemd_ok(g, systemd_boot[i]);
	}
	puts_(o, "\r\nDebian GNU/Linux 12 ");
	puts_(o, g->host);
	puts_(o, " ttyS0");
	eol(g);
	eol(g);
	puts_(o, g->host);
	puts_(o, " login: ");
}

/* ---------------------------------------------------------- Linux runtime */

static const char *const kmsg_runtime[] = {
    "audit: type=1400 audit(%U.%u:%u): apparmor=\"DENIED\" operation=\"open\" class=\"file\" "
    "profile=\"/usr/sbin/%w\" name=\"/proc/%p/cmdline\" pid=%p comm=\"%w\" requested_mask=\"r\" "
    "denied_mask=\"r\" fsuid=0 ouid=0",
    "IPv6: ADDRCONF(NETDEV_CHANGE): veth%x: link becomes ready",
    "docker0: port %c(veth%x) entered blocking state",
    "docker0: port %c(veth%x) entered disabled state",
    "docker0: port %c(veth%x) entered forwarding state",
    "device veth%x entered promiscuous mode",
    "device veth%x left promiscuous mode",
    "eth0: renamed from veth%x",
    "perf: interrupt took too long (%u > %u), lowering kernel.perf_event_max_sample_rate to %U",
    "loop%c: detected capacity change from 0 to %U",
    "kauditd_printk_skb: %u callbacks suppressed",
    "[UFW BLOCK] IN=%n OUT= MAC=%m SRC=%i DST=%i LEN=%u TOS=0x00 PREC=0x00 TTL=%b ID=%U PROTO=TCP "
    "SPT=%P DPT=%P WINDOW=%U RES=0x00 SYN URGP=0",
    "[UFW BLOCK] IN=%n OUT= MAC=%m SRC=%i DST=%i LEN=%u TOS=0x00 PREC=0x00 TTL=%b ID=%U DF PROTO=UDP "
    "SPT=%P DPT=%P LEN=%u",
    "nf_conntrack: default automatic helper assignment has been turned off for security reasons",
    "bpfilter: Loaded bpfilter_umh pid %p",
    "EXT4-fs (loop%c): mounted filesystem without journal. Quota mode: none.",
    "overlayfs: fs on '/var/lib/docker/overlay2/%X/diff' does not support file handles, falling back "
    "to xino=off.",
    "process '%w' launched '/bin/sh' with NULL argv: empty string added",
    "fuse: init (API version 7.38)",
    "systemd[1]: %s: Deactivated successfully.",
    "systemd[1]: Started %s.",
    "systemd[1]: Starting %s...",
    "systemd-journald[%p]: Data hash table of /var/log/journal/%X/system.journal has a fill level at "
    "75.0 (%U of %U items, %U file size, %u bytes per hash table item), suggesting rotation.",
    "sd 0:0:0:0: [%d] Synchronizing SCSI cache",
    "virtio_net virtio0 %n: XDP request %u queues but max is %u. XDP_TX and XDP_REDIRECT will operate "
    "in a slower locked tx mode.",
    "TCP: request_sock_TCP: Possible SYN flooding on port %P. Sending cookies.  Check SNMP counters.",
    "usb 1-1: new full-speed USB device number %u using uhci_hcd",
    "input: QEMU QEMU USB Tablet as /devices/pci0000:00/0000:00:01.2/usb1/1-1/1-1:1.0/0003:0627:0001.0001/"
    "input/input%u",
    "hrtimer: interrupt took %U ns",
    "clocksource: timekeeping watchdog on CPU%c: Marking clocksource 'tsc' as unstable because the "
    "skew is too large:",
    "Key type dns_resolver registered",
    "NFSD: Using nfsdcld client tracking operations.",
    "br0: port %c(tap%u) entered learning state",
    "kvm: already loaded vendor module 'kvm_intel'",
    "cgroup: cgroup: disabling cgroup2 socket matching due to net_prio or net_cls activation",
};

static const char *const syslog_runtime[] = {
    "systemd[1]: Starting %s...",
    "systemd[1]: Started %s.",
    "systemd[1]: %s: Deactivated successfully.",
    "systemd[1]: %s: Consumed %u.%uus CPU time.",
    "systemd[1]: Finished %s.",
    "CRON[%p]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
    "CRON[%p]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
    "CRON[%p]: pam_unix(cron:session): session closed for user root",
    "sshd[%p]: Accepted publickey for admin from %i port %P ssh2: ED25519 SHA256:%X%X",
    "sshd[%p]: Connection closed by authenticating user root %i port %P [preauth]",
    "sshd[%p]: Invalid user oracle from %i port %P",
    "sshd[%p]: Received disconnect from %i port %P:11: Bye Bye [preauth]",
    "sshd[%p]: Disconnected from invalid user test %i port %P [preauth]",
    "sshd[%p]: pam_unix(sshd:session): session opened for user admin(uid=1000) by (uid=0)",
    "systemd-logind[%p]: New session %u of user admin.",
    "systemd-logind[%p]: Session %u logged out. Waiting for processes to exit.",
    "systemd-logind[%p]: Removed session %u.",
    "dhclient[%p]: DHCPREQUEST for %i on %n to %i port 67",
    "dhclient[%p]: DHCPACK of %i from %i",
    "dhclient[%p]: bound to %i -- renewal in %u seconds.",
    "systemd-networkd[%p]: %n: DHCPv4 address %i/24, gateway %i acquired from %i",
    "systemd-timesyncd[%p]: Initial synchronization to time server %i:123 (2.debian.pool.ntp.org).",
    "chronyd[%p]: Selected source %i (2.debian.pool.ntp.org)",
    "chronyd[%p]: System clock wrong by %u.%u seconds",
    "dockerd[%p]: time=\"2026-11-21T10:15:02.%U\" level=info msg=\"ignoring event\" container=%X%X "
    "module=libcontainerd namespace=moby topic=/tasks/delete type=\"*events.TaskDelete\"",
    "containerd[%p]: time=\"2026-11-21T10:15:02.%U\" level=info msg=\"shim disconnected\" id=%X%X "
    "namespace=moby",
    "containerd[%p]: time=\"2026-11-21T10:15:02.%U\" level=info msg=\"loading plugin "
    "\\\"io.containerd.event.v1.publisher\\\"...\" runtime=io.containerd.runc.v2 type=io.containerd.event.v1",
    "rsyslogd[%p]: [origin software=\"rsyslogd\" swVersion=\"8.2302.0\" x-pid=\"%p\" "
    "x-info=\"https://www.rsyslog.com\"] rsyslogd was HUPed",
    "nginx[%p]: %i - - [21/Nov/2026:10:15:02 +0000] \"GET /api/v1/health HTTP/1.1\" 200 %u \"-\" "
    "\"kube-probe/1.28\"",
    "postgres[%p]: [%u-1] LOG:  checkpoint starting: time",
    "postgres[%p]: [%u-1] LOG:  checkpoint complete: wrote %u buffers (0.%u%%); 0 WAL file(s) added, 0 "
    "removed, 1 recycled; write=%u.%u s, sync=0.%u s, total=%u.%u s",
    "kubelet[%p]: I1121 10:15:02.%U    %p reconciler_common.go:%u] \"operationExecutor.UnmountVolume "
    "started for volume \\\"kube-api-access-%x\\\"\" pod=\"default/web-%x\"",
    "kubelet[%p]: I1121 10:15:02.%U    %p kubelet.go:%u] \"SyncLoop (PLEG): event for pod\" "
    "pod=\"kube-system/coredns-%x\" event={\"ID\":\"%x\",\"Type\":\"ContainerStarted\"}",
    "snapd[%p]: storehelpers.go:%u: cannot refresh: snap has no updates available: \"core22\", "
    "\"lxd\", \"snapd\"",
    "systemd-resolved[%p]: Using degraded feature set UDP instead of UDP+EDNS0 for DNS server %i.",
    "unattended-upgrade[%p]: No packages found that can be upgraded unattended and no pending "
    "auto-removals",
    "qemu-ga[%p]: info: guest-ping called",
    "sudo[%p]:    admin : TTY=pts/%u ; PWD=/home/admin ; USER=root ; COMMAND=/usr/bin/systemctl status %s",
    "kernel: [UFW BLOCK] IN=%n OUT= MAC=%m SRC=%i DST=%i LEN=%u TOS=0x00 PREC=0x00 TTL=%b ID=%U PROTO=TCP "
    "SPT=%P DPT=%P WINDOW=%U RES=0x00 SYN URGP=0",
    "kernel: docker0: port %c(veth%x) entered forwarding state",
    "waagent[%p]: 2026-11-21T10:15:02.%UZ INFO ExtHandler ExtHandler Checking for agent updates "
    "(family: Prod)",
    "systemd[1]: Reached target Timer Units.",
    "systemd[%p]: Listening on GnuPG cryptographic agent and passphrase cache.",
};

static const char *const shell_lines[] = {
    "root@%h:~# uptime",
    " 10:15:02 up %u days,  %u:%u,  1 user,  load average: 0.%u, 0.%u, 0.%u",
    "root@%h:~# df -h /",
    "Filesystem      Size  Used Avail Use%% Mounted on",
    "/dev/%d1        %uG   %uG   %uG  %u%% /",
    "root@%h:~# systemctl is-system-running",
    "running",
    "root@%h:~# free -m",
    "               total        used        free      shared  buff/cache   available",
    "Mem:            %U        %U        %U          %u         %U        %U",
    "root@%h:~# ",
};

/* One rare Linux failure; returns true when it ends the boot. */
static bool linux_failure(struct gen *g)
{
	struct out *o = &g->o;
	switch (rng_below(&g->r, 11)) {
	case 0: { /* panic: ends the boot */
		static const char *const why[] = {
		    "VFS: Unable to mount root fs on unknown-block(0,0)",
		    "Attempted to kill init! exitcode=0x00000009",
		    "Fatal exception in interrupt",
		    "softlockup: hung tasks",
		    "System is deadlocked on memory",
		    "hung_task: blocked tasks",
		};
		const char *w = PICK(&g->r, why);
		put_printk(g);
		puts_(o, "Kernel panic - not syncing: ");
		puts_(o, w);
		eol(g);
		kline(g, "CPU: %c PID: 1 Comm: swapper/0 Not tainted %k #1 Debian");
		kline(g, "Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 "
		         "04/01/2014");
		kline(g, "Call Trace:");
		kline(g, " <TASK>");
		for (unsigned i = rng_range(&g->r, 4, 10); i > 0; i--)
			kline(g, " %a");
		kline(g, " </TASK>");
		kline(g, "Kernel Offset: 0x%x from 0xffffffff81000000 (relocation range: "
		         "0xffffffff80000000-0xffffffffbfffffff)");
		put_printk(g);
		puts_(o, "---[ end Kernel panic - not syncing: ");
		puts_(o, w);
		puts_(o, " ]---");
		eol(g);
		return true;
	}
	case 1:
		kline(g, "watchdog: BUG: soft lockup - CPU#%c stuck for %us! [%w:%p]");
		kline(g, "Modules linked in: xt_conntrack nft_chain_nat xt_MASQUERADE nf_nat bridge stp llc "
		         "overlay ext4 crc16 mbcache jbd2 virtio_net virtio_blk");
		kline(g, "CPU: %c PID: %p Comm: %w Not tainted %k #1 Debian");
		kline(g, "RIP: 0010:native_safe_halt+0xb/0x10");
		for (unsigned i = rng_range(&g->r, 3, 6); i > 0; i--)
			kline(g, " %a");
		return false;
	case 2:
		kline(g, "INFO: task %w:%p blocked for more than 120 seconds.");
		kline(g, "      Not tainted %k #1 Debian");
		kline(g, "\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.");
		kline(g, "task:%w     state:D stack:0     pid:%p   ppid:2      flags:0x00004000");
		kline(g, "Call Trace:");
		for (unsigned i = rng_range(&g->r, 4, 8); i > 0; i--)
			kline(g, " %a");
		return false;
	case 3:
		kline(g,
		      "%w invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, "
		      "oom_score_adj=0");
		kline(g, "Mem-Info:");
		kline(g, "active_anon:%U inactive_anon:%U isolated_anon:0");
		kline(
		    g,
		    "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,"
		    "task_memcg=/system.slice/%s,task=%w,pid=%p,uid=0");
		kline(g, "Out of memory: Killed process %p (%w) total-vm:%UkB, anon-rss:%UkB, file-rss:0kB, "
		         "shmem-rss:0kB, UID:0 pgtables:%ukB oom_score_adj:0");
		return false;
	case 4:
		kline(g, "rcu: INFO: rcu_sched self-detected stall on CPU");
		kline(g,
		      "rcu: \t%c-....: (%U ticks this GP) idle=%x/1/0x4000000000000000 softirq=%U/%U fqs=%U");
		kline(g, "\t(t=%U jiffies g=%U q=%U ncpus=%c)");
		return false;
	case 5:
		kline(g, "I/O error, dev %d, sector %U op 0x0:(READ) flags 0x80700 phys_seg 1 prio class 2");
		kline(g, "Buffer I/O error on dev %d1, logical block %U, async page read");
		kline(
		    g,
		    "EXT4-fs error (device %d1): ext4_find_entry:1682: inode #2: comm %w: reading directory "
		    "lblock 0");
		kline(g, "EXT4-fs (%d1): Remounting filesystem read-only");
		return false;
	case 6:
		puts_(o, "[\x1b[0;1;31mFAILED\x1b[0m] Failed to start \x1b[0;1;39m");
		puts_(o, PICK(&g->r, services));
		puts_(o, "\x1b[0m.");
		eol(g);
		puts_(o, "See 'systemctl status ");
		puts_(o, PICK(&g->r, services));
		puts_(o, "' for details.");
		eol(g);
		return false;
	case 7:
		puts_(o, "You are in emergency mode. After logging in, type \"journalctl -xb\" to view");
		eol(g);
		puts_(o, "system logs, \"systemctl reboot\" to reboot, \"systemctl default\" or \"exit\"");
		eol(g);
		puts_(o, "to boot into default mode.");
		eol(g);
		puts_(o, "Give root password for maintenance");
		eol(g);
		puts_(o, "(or press Control-D to continue): ");
		return true;
	case 8:
		kline(g, "nfs: server %i not responding, still trying");
		return false;
	case 9:
		kline(g, "%w[%p]: segfault at %x ip %X sp %X error 4 in libc.so.6[%x+%x] likely on CPU %c "
		         "(core %c, socket 0)");
		return false;
	default:
		kline(g, "BUG: unable to handle page fault for address: %X");
		kline(g, "#PF: supervisor read access in kernel mode");
		kline(g, "Oops: 0000 [#1] PREEMPT SMP NOPTI");
		kline(g, "RIP: 0010:%a");
		for (unsigned i = rng_range(&g->r, 3, 6); i > 0; i--)
			kline(g, " %a");
		return false;
	}
}

static void linux_runtime(struct gen *g, uint32_t nlines)
{
	struct out *o = &g->o;
	/* The login prompt is answered first. */
	puts_(o, "root");
	eol(g);
	puts_(o, "Password: ");
	eol(g);
	puts_(o, "Linux ");
	puts_(o, g->host);
	putc_(o, ' ');
	puts_(o, kernels[g->kver]);
	puts_(o, " x86_64");
	eol(g);
	for (uint32_t i = 0; i < nlines && !out_full(o); i++) {
		tick(g, 2000000);
		if (rng_below(&g->r, FAIL_ONE_IN) == 0 && linux_failure(g)) {
			g->boot_over = true;
			return;
		}
		uint32_t k = rng_below(&g->r, 100);
		if (k < 42) {
			kline(g, PICK(&g->r, kmsg_runtime));
		} else if (k < 92) {
			put_syslog_prefix(g);
			put_tmpl(g, PICK(&g->r, syslog_runtime));
			eol(g);
		} else if (k < 97) {
			/* a service restarting shows on the console in colour */
			if (rng_below(&g->r, 2)) {
				puts_(o, "         Stopping \x1b[0;1;39m");
				put_tmpl(g, "%s");
				puts_(o, "\x1b[0m...");
				eol(g);
			}
			systemd_ok(g, PICK(&g->r, systemd_boot));
		} else {
			uint32_t start = rng_below(&g->r, (uint32_t)ARRAY_LEN(shell_lines) - 2) & ~1u;
			for (uint32_t j = start; j < start + 3 && j < ARRAY_LEN(shell_lines); j++) {
				put_tmpl(g, shell_lines[j]);
				eol(g);
			}
		}
	}
	if (out_full(o))
		return;
	/* an orderly reboot */
	puts_(o, "root@");
	puts_(o, g->host);
	puts_(o, ":~# reboot");
	eol(g);
	systemd_ok(g, "Stopped target Multi-User System.");
	systemd_ok(g, "Stopped OpenBSD Secure Shell server.");
	systemd_ok(g, "Reached target System Reboot.");
	kline(g, "reboot: Restarting system");
}

/* -------------------------------------------------------------- Windows */

static void crlf(struct gen *g)
{
	put(&g->o, "\r\n", 2);
	g->lines++;
}

static void wline(struct gen *g, const char *tmpl)
{
	put_tmpl(g, tmpl);
	crlf(g);
}

static void bootmgr_screen(struct gen *g, bool first, unsigned secs)
{
	struct out *o = &g->o;
	if (first) {
		puts_(o, "\x1b[2J\x1b[1;1H\x1b[0m\x1b[37;40m");
		cup(o, 2, 30);
		puts_(o, "\x1b[7mWindows Boot Manager\x1b[0m\x1b[37;40m");
		cup(o, 4, 3);
		puts_(o, "Choose an operating system to start, or press TAB to select a tool:");
		cup(o, 5, 3);
		puts_(o, "(Use the arrow keys to highlight your choice, then press ENTER.)");
		cup(o, 7, 5);
		puts_(o,
		      "\x1b[7mWindows Server                                                        \x1b[0m"
		      "\x1b[37;40m");
		cup(o, 14, 3);
		puts_(o, "To specify an advanced option for this choice, press F8.");
		cup(o, 17, 3);
		puts_(o, "Tools:");
		cup(o, 19, 5);
		puts_(o, "Windows Memory Diagnostic");
		cup(o, 24, 1);
		puts_(o,
		      "\x1b[7mENTER=Choose                 TAB=Menu                 ESC=Cancel              "
		      "\x1b[0m\x1b[37;40m");
		g->lines += 9;
	}
	cup(o, 15, 3);
	puts_(o, "Seconds until the highlighted choice will be started automatically: ");
	put_u(o, secs);
	putc_(o, ' ');
	g->lines++;
}

static void sac_prompt(struct gen *g)
{
	puts_(&g->o, "SAC>");
}

static void sac_event(struct gen *g, const char *text, const char *channel)
{
	crlf(g);
	wline(g, text);
	if (channel != NULL) {
		puts_(&g->o, "Channel: ");
		wline(g, channel);
	}
	sac_prompt(g);
}

static void windows_boot_seq(struct gen *g)
{
	unsigned secs = rng_range(&g->r, 3, 10);
	bootmgr_screen(g, true, secs);
	for (unsigned s = secs; s-- > 0;)
		bootmgr_screen(g, false, s);
	/* SAC starts: screen clear, banner, prompt without a newline */
	puts_(&g->o, "\x1b[2J");
	crlf(g);
	crlf(g);
	wline(g, "Computer is booting, SAC started and initialized.");
	crlf(g);
	wline(g, "Use the \"ch -?\" command for information about using channels.");
	wline(g, "Use the \"?\" command for general help.");
	crlf(g);
	crlf(g);
	sac_prompt(g);
	g->uptime_us += rng_range(&g->r, 20000000, 90000000);
	sac_event(g, "EVENT: The CMD command is now available.", NULL);
}

static const char *const win_procs[] = {
    "System",
    "Registry",
    "smss.exe",
    "csrss.exe",
    "wininit.exe",
    "services.exe",
    "lsass.exe",
    "svchost.exe",
    "svchost.exe",
    "svchost.exe",
    "svchost.exe",
    "fontdrvhost.exe",
    "winlogon.exe",
    "dwm.exe",
    "spoolsv.exe",
    "MsMpEng.exe",
    "sacsess.exe",
    "cmd.exe",
    "conhost.exe",
    "WmiPrvSE.exe",
    "TrustedInstaller.exe",
    "TiWorker.exe",
    "Memory Compression",
    "LogonUI.exe",
    "WindowsAzureGuestAgent.exe",
    "WaAppAgent.exe",
    "sqlservr.exe",
    "w3wp.exe",
    "vds.exe",
    "msdtc.exe",
    "SearchIndexer.exe",
    "taskhostw.exe",
};

static void put_cputime(struct gen *g)
{
	struct out *o = &g->o;
	put_num(o, rng_below(&g->r, 24), 3, ' ');
	putc_(o, ':');
	put_num(o, rng_below(&g->r, 60), 2, '0');
	putc_(o, ':');
	put_num(o, rng_below(&g->r, 60), 2, '0');
	putc_(o, '.');
	put_num(o, rng_below(&g->r, 1000), 3, '0');
}

static void sac_tlist(struct gen *g)
{
	struct out *o = &g->o;
	puts_(o, "memory: ");
	put_num(o, rng_range(&g->r, 1000000, 16000000), 4, ' ');
	puts_(o, " kb  uptime:");
	put_num(o, rng_below(&g->r, 30), 3, ' ');
	putc_(o, ' ');
	put_num(o, rng_below(&g->r, 24), 2, ' ');
	putc_(o, ':');
	put_num(o, rng_below(&g->r, 60), 2, '0');
	putc_(o, ':');
	put_num(o, rng_below(&g->r, 60), 2, '0');
	putc_(o, '.');
	put_num(o, rng_below(&g->r, 1000), 3, '0');
	crlf(g);
	crlf(g);
	crlf(g);
	wline(g, "PageFile: \\??\\C:\\pagefile.sys");
	wline(g, "        Current Size: %U kb  Total Used: %U kb   Peak Used %U kb");
	crlf(g);
	wline(g, " Memory:%UK Avail:%UK  TotalWs:%UK InRam Kernel:%UK P:%UK");
	wline(g, " Commit:%UK/%UK Limit:%UK Peak:%UK  Pool N:%UK P:%UK");
	crlf(g);
	wline(g, "    User Time   Kernel Time    Ws   Faults  Commit Pri Hnd Thd  Pid Name");
	wline(g, "                           %U %U                          File Cache");
	unsigned n = rng_range(&g->r, 20, 45);
	for (unsigned i = 0; i < n; i++) {
		put_cputime(g);
		putc_(o, ' ');
		put_cputime(g);
		put_num(o, rng_range(&g->r, 100, 999999), 6, ' ');
		putc_(o, ' ');
		put_num(o, rng_range(&g->r, 100, 9999999), 8, ' ');
		putc_(o, ' ');
		put_num(o, rng_range(&g->r, 100, 999999), 7, ' ');
		putc_(o, ' ');
		put_num(o, rng_range(&g->r, 1, 15), 2, ' ');
		putc_(o, ' ');
		put_num(o, rng_range(&g->r, 10, 3000), 4, ' ');
		putc_(o, ' ');
		put_num(o, rng_range(&g->r, 1, 120), 3, ' ');
		putc_(o, ' ');
		put_num(o, 4 * rng_range(&g->r, 1, 2500), 4, ' ');
		putc_(o, ' ');
		wline(g, i < ARRAY_LEN(win_procs) ? win_procs[i] : PICK(&g->r, win_procs));
	}
}

static void sac_help(struct gen *g)
{
	static const char *const help[] = {
	    "ch                   Channel management commands.  Use ch -? for more help.",
	    "cmd                  Create a Command Prompt channel.",
	    "d                    Dump the current kernel log.",
	    "f                    Toggle detailed or abbreviated tlist info.",
	    "? or help            Display this list.",
	    "i                    List all IP network numbers and their IP addresses.",
	    "i <#> <ip> <subnet> <gateway> Set IP addr., subnet and gateway.",
	    "id                   Display the computer identification information.",
	    "k <pid>              Kill the given process.",
	    "l <pid>              Lower the priority of a process to the lowest possible.",
	    "lock                 Lock access to Command Prompt channels.",
	    "m <pid> <MB-allow>   Limit the memory usage of a process to <MB-allow>.",
	    "p                    Toggle paging the display.",
	    "r <pid>              Raise the priority of a process by one.",
	    "s                    Display the current time and date (24 hour clock used).",
	    "s mm/dd/yyyy hh:mm   Set the current time and date (24 hour clock used).",
	    "t                    Tlist.",
	    "restart              Restart the system immediately.",
	    "shutdown             Shutdown the system immediately.",
	    "crashdump            Crash the system. You must have crash dump enabled.",
	};
	for (size_t i = 0; i < ARRAY_LEN(help); i++)
		wline(g, help[i]);
}

static void sac_id(struct gen *g)
{
	struct out *o = &g->o;
	puts_(o, "           Computer Name: ");
	wline(g, g->host);
	wline(g, "           Computer GUID: %x-%x-%x-%x");
	wline(g, "  Processor Architecture: AMD64");
	wline(g, "            Build Number: 20348");
	wline(g, "                 Product: Windows Server 2022 Datacenter");
	wline(g, "    Applied Service Pack: None");
	wline(g, "          Version Number: 10.0");
	wline(g, "  Time since last reboot: %u:%u:%u");
}

/* A cmd channel repainted as an 80x24 VT-UTF8 screen (Server 2016/2019). */
static void vt_screen(struct gen *g, const char *const *rows, size_t nrows)
{
	struct out *o = &g->o;
	puts_(o, "\x1b[2J\x1b[1;1H\x1b[0m\x1b[40m\x1b[37m");
	for (unsigned r = 1; r <= 24; r++) {
		cup(o, r, 1);
		size_t n = 0;
		if (r <= nrows) {
			size_t before = o->len;
			uint64_t wbefore = o->written;
			put_tmpl(g, rows[r - 1]);
			/* length of what was just expanded, even across a flush */
			n = (size_t)((o->written + o->len) - (wbefore + before));
		}
		for (; n < 80; n++)
			putc_(o, ' ');
		g->lines++;
	}
	cup(o, (unsigned)(nrows < 24 ? nrows + 1 : 24), 1);
}

static const char *const cmd_dir[] = {
    " Volume in drive C has no label.",
    " Volume Serial Number is %x",
    "",
    " Directory of C:\\Windows\\system32",
    "",
    "11/21/2026  10:15 AM    <DIR>          .",
    "11/21/2026  10:15 AM    <DIR>          ..",
    "05/08/2021  01:15 AM    <DIR>          0409",
    "11/14/2026  03:22 AM           %U aadauthhelper.dll",
    "11/14/2026  03:22 AM           %U AboveLockAppHost.dll",
    "05/08/2021  01:14 AM           %U ACCTRES.dll",
    "11/14/2026  03:22 AM           %U acledit.dll",
    "05/08/2021  01:14 AM           %U aclui.dll",
    "11/14/2026  03:23 AM           %U acppage.dll",
    "05/08/2021  01:14 AM           %U acproxy.dll",
    "11/14/2026  03:22 AM           %U ActionCenter.dll",
    "              %U File(s) %U bytes",
    "               %u Dir(s)  %U bytes free",
    "",
    "C:\\Windows\\system32>",
};
static const char *const cmd_ipconfig[] = {
    "",
    "Windows IP Configuration",
    "",
    "",
    "Ethernet adapter Ethernet:",
    "",
    "   Connection-specific DNS Suffix  . : internal.cloudapp.net",
    "   Link-local IPv6 Address . . . . . : fe80::%x:%x%%6",
    "   IPv4 Address. . . . . . . . . . . : %i",
    "   Subnet Mask . . . . . . . . . . . : 255.255.255.0",
    "   Default Gateway . . . . . . . . . : %i",
    "",
    "C:\\Windows\\system32>",
};
static const char *const cmd_tasklist[] = {
    "",
    "Image Name                     PID Session Name        Session#    Mem Usage",
    "========================= ======== ================ =========== ============",
    "System Idle Process              0 Services                   0          8 K",
    "System                           4 Services                   0      %U K",
    "Registry                       %u Services                   0     %U K",
    "smss.exe                       %u Services                   0      %U K",
    "csrss.exe                      %u Services                   0      %U K",
    "wininit.exe                    %u Services                   0      %U K",
    "services.exe                   %u Services                   0      %U K",
    "lsass.exe                      %u Services                   0     %U K",
    "svchost.exe                    %u Services                   0     %U K",
    "svchost.exe                   %U Services                   0      %U K",
    "sqlservr.exe                  %U Services                   0    %U K",
    "sacsess.exe                   %U Services                   0      %U K",
    "cmd.exe                       %U Services                   0      %U K",
    "conhost.exe                   %U Services                   0     %U K",
    "tasklist.exe                  %U Services                   0      %U K",
    "",
    "C:\\Windows\\system32>",
};

static void cmd_channel(struct gen *g, unsigned chno)
{
	struct out *o = &g->o;
	char name[16];
	snprintf(name, sizeof(name), "Cmd%04u", chno);
	puts_(o, "cmd");
	crlf(g);
	wline(g, "The Command Prompt session was successfully launched.");
	sac_prompt(g);
	sac_event(g, "EVENT:   A new channel has been created.  Use \"ch -?\" for channel help.", name);
	puts_(o, "ch -sn ");
	puts_(o, name);
	crlf(g);
	puts_(o, "Name:                  ");
	wline(g, name);
	wline(g, "Description:           Command");
	wline(g, "Type:                  VT-UTF8");
	wline(g, "Channel GUID:          %x-d80d-11ea-87e3-c2679e14957d");
	wline(g, "Application Type GUID: 63d02271-8aa4-11d5-bccf-00b0d014a2d0");
	crlf(g);
	wline(g, "Press <esc><tab> for next channel.");
	wline(g, "Press <esc><tab>0 to return to the SAC channel.");
	wline(g, "Use any other key to view this channel.");
	crlf(g);
	wline(g, "Please enter login credentials.");
	wline(g, "Username: Administrator");
	puts_(o, "Domain  :");
	crlf(g);
	wline(g, "Password: ***************");
	crlf(g);
	puts_(o, "C:\\Windows\\system32>");
	unsigned n = rng_range(&g->r, 1, 4);
	for (unsigned i = 0; i < n; i++) {
		switch (rng_below(&g->r, 3)) {
		case 0:
			vt_screen(g, cmd_dir, ARRAY_LEN(cmd_dir));
			break;
		case 1:
			vt_screen(g, cmd_ipconfig, ARRAY_LEN(cmd_ipconfig));
			break;
		default:
			vt_screen(g, cmd_tasklist, ARRAY_LEN(cmd_tasklist));
			break;
		}
		g->uptime_us += rng_range(&g->r, 1000000, 60000000);
	}
	puts_(o, "exit");
	crlf(g);
	sac_event(g, "EVENT:   A channel has been closed.", name);
}

/* A bugcheck as EMS sends it: BEL-framed <BP> record, then !SAC>, with the
 * legacy blue-screen text mirrored to the port. */
static void windows_bugcheck(struct gen *g)
{
	static const unsigned codes[] = {0xE2, 0x80, 0x7E, 0xD1, 0x50, 0xEF, 0x133, 0x1E, 0x3B, 0x9F};
	struct out *o = &g->o;
	unsigned code = PICK(&g->r, codes);
	puts_(o, "\a\a\a<?xml>\a<BP>");
	puts_(o, "\r\n<INSTANCE CLASSNAME=\"BLUESCREEN\">");
	puts_(o, "\r\n<PROPERTY NAME=\"STOPCODE\" TYPE=\"string\"><VALUE>\"0x");
	put_hex(o, code, code > 0xff ? 3 : 2, true);
	puts_(o, "\"</VALUE></PROPERTY><machine-info>\r\n<name>");
	puts_(o, g->host);
	puts_(o, "</name>\r\n<guid>");
	put_tmpl(g, "%x-0000-0000-0000-00%x");
	puts_(o, "</guid>\r\n<processor-architecture>AMD64</processor-architecture>\r\n"
	         "<os-version>10.0</os-version>\r\n<os-build-number>20348</os-build-number>\r\n"
	         "<os-product>Windows Server 2022 Datacenter</os-product>\r\n"
	         "<os-service-pack>None</os-service-pack>\r\n</machine-info>\r\n");
	puts_(o, "\r\n</INSTANCE>\r\n</BP>\a");
	puts_(o, "\n\r!SAC>");
	g->lines += 13;
	crlf(g);
	puts_(o, "*** STOP: 0x");
	put_hex(o, code, 8, true);
	wline(g, " (0x0000000000000000,0x0000000000000000,0x0000000000000000,0x0000000000000000)");
	crlf(g);
	wline(g, "Beginning dump of physical memory");
	for (unsigned pct = 0; pct <= 100; pct += rng_range(&g->r, 5, 20)) {
		puts_(o, "\rDumping physical memory to disk: ");
		put_num(o, pct, 3, ' ');
	}
	crlf(g);
	wline(g, "Physical memory dump complete.");
	wline(g, "Contact your system administrator or technical support group for further assistance.");
}

/* One rare Windows failure; returns true when it ends the boot. */
static bool windows_failure(struct gen *g)
{
	switch (rng_below(&g->r, 6)) {
	case 0:
	case 1:
		windows_bugcheck(g);
		return true;
	case 2:
		crlf(g);
		wline(g, "Preparing to configure Windows. Do not turn off your computer.");
		return true; /* the hang: nothing more until the next boot */
	case 3:
		crlf(g);
		wline(g,
		      "Windows could not finish configuring the system. To attempt to resume configuration, "
		      "restart the computer.");
		return true;
	case 4:
		crlf(g);
		wline(
		    g,
		    "Failure configuring Windows updates. Reverting changes. Do not turn off your computer.");
		return false;
	default:
		wline(g, "Error: Unable to launch a Command Prompt.  The service responsible for launching");
		wline(g,
		      "Command Prompt channels has not yet registered.  This may be because the service is");
		wline(g, "still initializing, or because the service has been disabled.  Wait a few moments");
		wline(g, "and try again, or check the status of the Special Administration Console Helper "
		         "service.");
		sac_prompt(g);
		return false;
	}
}

static void windows_runtime(struct gen *g, uint32_t nlines)
{
	struct out *o = &g->o;
	unsigned chno = 1;
	uint64_t start = g->lines;
	while (g->lines - start < nlines && !out_full(o)) {
		g->uptime_us += rng_range(&g->r, 1000000, 300000000);
		/* each step emits many lines, so the failure odds scale with the step */
		if (rng_below(&g->r, FAIL_ONE_IN / 25) == 0 && windows_failure(g)) {
			g->boot_over = true;
			return;
		}
		uint32_t k = rng_below(&g->r, 100);
		if (k < 30) {
			puts_(o, "t");
			crlf(g);
			sac_tlist(g);
		} else if (k < 38) {
			puts_(o, "i");
			crlf(g);
			wline(g, "SAC is retrieving IP Addresses...");
			crlf(g);
			wline(g, "Net: 10, Ip=%i  Subnet=255.255.255.0  Gateway=%i");
			wline(g, "Net: 11, Ip=%i  Subnet=255.255.0.0  Gateway=%i");
		} else if (k < 44) {
			puts_(o, "id");
			crlf(g);
			sac_id(g);
		} else if (k < 52) {
			puts_(o, "s");
			crlf(g);
			wline(g, "Date: 11/21/2026  Time (GMT): 10:%u:%u:0%u");
		} else if (k < 58) {
			puts_(o, "ch");
			crlf(g);
			wline(g, "Channel List");
			crlf(g);
			wline(g, "(Use \"ch -?\" for information on using channels)");
			crlf(g);
			wline(g, "# Status  Channel Name");
			wline(g, "0 (AV)    SAC");
		} else if (k < 63) {
			puts_(o, "?");
			crlf(g);
			sac_help(g);
		} else if (k < 85) {
			cmd_channel(g, chno);
			chno = chno % 9999 + 1;
			continue; /* it drew its own prompt */
		} else if (k < 90) {
			puts_(o, "d");
			crlf(g);
			for (unsigned i = rng_range(&g->r, 10, 40); i > 0; i--)
				wline(g, "KERNEL: Loaded \\SystemRoot\\System32\\drivers\\%w.sys");
		} else {
			/* an empty line re-prints the prompt */
			crlf(g);
		}
		sac_prompt(g);
	}
	if (out_full(o))
		return;
	puts_(o, "restart");
	crlf(g);
	crlf(g);
	wline(g, "The SAC will become unavailable soon.  The computer is shutting down.");
	crlf(g);
}

/* ---------------------------------------------------------------- boots */

static void boot(struct gen *g)
{
	bool windows = rng_below(&g->r, 100) < 35;
	g->boot_over = false;
	g->uptime_us = 0;
	g->wall_s += rng_range(&g->r, 600, 6 * 3600);
	g->ncpu = 1u << rng_below(&g->r, 4);
	g->kver = rng_below(&g->r, (uint32_t)ARRAY_LEN(kernels));
	snprintf(g->host, sizeof(g->host), "%s", windows ? PICK(&g->r, win_hosts) : PICK(&g->r, hosts));
	if (rng_below(&g->r, 100) < 60)
		firmware_seabios(g);
	else
		firmware_ovmf(g);
	/* runtime length varies a lot: short crash loops and long-lived boots */
	uint32_t n = rng_below(&g->r, 4) == 0 ? rng_range(&g->r, 50, 2000) : rng_range(&g->r, 5000, 120000);
	if (windows) {
		windows_boot_seq(g);
		windows_runtime(g, n);
	} else {
		bool crlf_eol = rng_below(&g->r, 100) < 40;
		g->eol = crlf_eol ? "\r\n" : "\n";
		g->eol_len = crlf_eol ? 2 : 1;
		grub(g);
		linux_boot_seq(g);
		linux_runtime(g, n);
	}
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s == '\0' || *s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno != 0)
		return -1;
	uint64_t mul = 1;
	/* accept the suffixes people type for sizes: 64M, 1G, 512K */
	switch (*end) {
	case 'K':
	case 'k':
		mul = UINT64_C(1) << 10;
		end++;
		break;
	case 'M':
	case 'm':
		mul = UINT64_C(1) << 20;
		end++;
		break;
	case 'G':
	case 'g':
		mul = UINT64_C(1) << 30;
		end++;
		break;
	default:
		break;
	}
	if (*end != '\0' || (v != 0 && mul > UINT64_MAX / v))
		return -1;
	*out = (uint64_t)v * mul;
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t size, seed;
	if (argc != 3 || parse_u64(argv[1], &size) != 0 || parse_u64(argv[2], &seed) != 0) {
		fprintf(stderr, "usage: gen SIZE_BYTES SEED > file   (SIZE may end in K, M or G)\n");
		return 2;
	}
	if (isatty(STDOUT_FILENO)) {
		fprintf(stderr, "gen: refusing to write to a terminal; redirect stdout to a file\n");
		return 2;
	}
	struct gen g;
	memset(&g, 0, sizeof(g));
	rng_seed(&g.r, seed);
	g.o.buf = malloc(OUT_CAP);
	if (g.o.buf == NULL) {
		fprintf(stderr, "gen: out of memory\n");
		return 1;
	}
	g.o.limit = size;
	g.eol = "\r\n";
	g.eol_len = 2;
	g.syslog_sec = -1;
	/* 2026-11-01T00:00:00Z, moved by the seed so two seeds differ in dates too */
	g.wall_s = INT64_C(1793491200) + (int64_t)(seed % 86400);
	while (!out_full(&g.o))
		boot(&g);
	out_flush(&g.o);
	free(g.o.buf);
	if (g.o.err != 0) {
		fprintf(stderr, "gen: write: %s\n", strerror(g.o.err));
		return 1;
	}
	fprintf(stderr, "gen: %" PRIu64 " bytes, about %" PRIu64 " lines, seed %" PRIu64 "\n", g.o.written,
	        g.lines, seed);
	return 0;
}
