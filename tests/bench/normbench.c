/*
 * normbench.c — normaliser throughput.
 *
 * Builds ~256 MiB of console text in memory (plain log lines, CRLF and LF
 * endings, some SGR colour and cursor addressing, progress counters, an EMS
 * record now and then), then times norm_feed over it in 64 KiB reads as the
 * live loop would, and prints MB/s for plain text and for the mixed stream.
 *
 * Build by hand:
 *   cc -O2 -std=gnu11 -Iinclude tests/bench/normbench.c agent/normalize.c \
 *      agent/ems.c agent/util.c -o build/normbench && build/normbench [MiB]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emsagent/normalize.h"

#define CHUNK 65536

struct counts {
	uint64_t lines, bytes, ems;
};

static void on_line(void *ctx, const struct line *ln)
{
	struct counts *c = ctx;
	c->lines++;
	c->bytes += ln->len;
}

static void on_ems(void *ctx, const struct ems_record *rec)
{
	struct counts *c = ctx;
	(void)rec;
	c->ems++;
}

/* Deterministic pseudo-random numbers (xorshift), so runs are comparable. */
static uint32_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 32);
}

static const char *const words[] = {
    "kernel:",  "usb",     "3-1:",    "new",        "high-speed", "device",   "number",      "using",
    "xhci_hcd", "EXT4-fs", "(sda1):", "mounted",    "filesystem", "with",     "ordered",     "data",
    "mode.",    "Windows", "Boot",    "Manager",    "Starting",   "services", "systemd[1]:", "Reached",
    "target",   "Network", "ACPI:",   "PCI",        "Interrupt",  "Link",     "[LNKC]",      "enabled",
    "at",       "IRQ",     "11",      "0x0000ffff", "ok",
};

static size_t put(char *buf, size_t o, size_t cap, const char *s)
{
	size_t l = strlen(s);
	if (o + l > cap)
		return o;
	memcpy(buf + o, s, l);
	return o + l;
}

static size_t gen_line(char *buf, size_t o, size_t cap, uint64_t *seed, int mixed)
{
	unsigned nw = 4 + rnd(seed) % 12;
	if (mixed) {
		unsigned r = rnd(seed) % 100;
		if (r < 5)
			o = put(buf, o, cap, "\x1b[0m\x1b[37;40m");
		else if (r < 8)
			o = put(buf, o, cap, "\x1b[5;10H");
		else if (r < 10)
			o = put(buf, o, cap, "10%\r20%\r30%\r");
		else if (r == 10)
			o = put(
			    buf, o, cap,
			    "\a\a\a<?xml>\a<BP>\r\n<INSTANCE CLASSNAME=\"BLUESCREEN\">\r\n"
			    "<PROPERTY NAME=\"STOPCODE\" TYPE=\"string\"><VALUE>\"0xE2\"</VALUE></PROPERTY>"
			    "<machine-info>\r\n<name>VM1</name>\r\n</machine-info>\r\n\r\n</INSTANCE>\r\n</"
			    "BP>\a\n\r");
	}
	for (unsigned w = 0; w < nw; w++) {
		if (w)
			o = put(buf, o, cap, " ");
		o = put(buf, o, cap, words[rnd(seed) % (sizeof(words) / sizeof(words[0]))]);
	}
	return put(buf, o, cap, (rnd(seed) & 1) ? "\r\n" : "\n");
}

static char *gen(size_t size, int mixed, size_t *outlen)
{
	char *buf = malloc(size);
	if (!buf) {
		fputs("normbench: out of memory\n", stderr);
		exit(1);
	}
	uint64_t seed = 0x9E3779B97F4A7C15ull;
	size_t o = 0;
	while (o + 512 < size)
		o = gen_line(buf, o, size, &seed, mixed);
	*outlen = o;
	return buf;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(const char *what, const char *buf, size_t len)
{
	double best = 0;
	struct counts c;
	for (int rep = 0; rep < 3; rep++) {
		memset(&c, 0, sizeof(c));
		struct norm *n = norm_new(on_line, on_ems, &c);
		double t0 = now_s();
		for (size_t o = 0; o < len; o += CHUNK) {
			size_t k = len - o < CHUNK ? len - o : CHUNK;
			norm_feed(n, buf + o, k, 0, 0);
		}
		norm_finish(n, 0, 0);
		double dt = now_s() - t0;
		norm_free(n);
		double mbs = (double)len / dt / 1e6;
		if (mbs > best)
			best = mbs;
	}
	printf("%-6s %8.1f MB/s  (%zu MiB, %llu lines, %llu EMS records, best of 3)\n", what, best, len >> 20,
	       (unsigned long long)c.lines, (unsigned long long)c.ems);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 256;
	if (mib == 0)
		mib = 256;
	size_t len;
	char *plain = gen(mib << 20, 0, &len);
	run("plain", plain, len);
	free(plain);
	char *mixed = gen(mib << 20, 1, &len);
	run("mixed", mixed, len);
	free(mixed);
	return 0;
}
