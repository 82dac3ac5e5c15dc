/*
 * test_sacsim.c — the simulated SAC guest, byte for byte against
 * ../shared/docs/sac-ems.md: banner, events and their timing, the line
 * editors, every command, channels, login, paging, the <BP> record, !SAC>.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emsagent/normalize.h"
#include "emsagent/util.h"
#include "sacsim.h"

#define T0  (INT64_C(1000) * NS_PER_SEC)
#define SEC NS_PER_SEC

#define CLR    "\033[2J\033[1;1H\033[0m"
#define PROMPT "C:\\Windows\\system32>"

static const char BANNER[] = "\033[2J\r\n\r\nComputer is booting, SAC started and initialized.\r\n\r\n"
                             "Use the \"ch -?\" command for information about using channels.\r\n"
                             "Use the \"?\" command for general help.\r\n\r\n\r\nSAC>";

static const char HELP[] = "ch                   Channel management commands.  Use ch -? for more help.\r\n"
                           "cmd                  Create a Command Prompt channel.\r\n"
                           "d                    Dump the current kernel log.\r\n"
                           "f                    Toggle detailed or abbreviated tlist info.\r\n"
                           "? or help            Display this list.\r\n"
                           "i                    List all IP network numbers and their IP addresses.\r\n"
                           "i <#> <ip> <subnet> <gateway> Set IP addr., subnet and gateway.\r\n"
                           "id                   Display the computer identification information.\r\n"
                           "k <pid>              Kill the given process.\r\n"
                           "l <pid>              Lower the priority of a process to the lowest possible.\r\n"
                           "lock                 Lock access to Command Prompt channels.\r\n"
                           "m <pid> <MB-allow>   Limit the memory usage of a process to <MB-allow>.\r\n"
                           "p                    Toggle paging the display.\r\n"
                           "r <pid>              Raise the priority of a process by one.\r\n"
                           "s                    Display the current time and date (24 hour clock used).\r\n"
                           "s mm/dd/yyyy hh:mm   Set the current time and date (24 hour clock used).\r\n"
                           "t                    Tlist.\r\n"
                           "restart              Restart the system immediately.\r\n"
                           "shutdown             Shutdown the system immediately.\r\n"
                           "crashdump            Crash the system. You must have crash dump enabled.\r\n";

static const char INVALID[] =
    "A parameter was incorrect or missing.  Try the 'help' command for more details.\r\n";

static const char *const SWITCH_TAIL = "Press <esc><tab> for next channel.\r\n"
                                       "Press <esc><tab>0 to return to the SAC channel.\r\n"
                                       "Use any other key to view this channel.\r\n\r\n";

/* ---- fixture --------------------------------------------------------------- */

struct fx {
	struct buf out;
	struct sacsim *s;
	int64_t now;
};

static void collect(void *ctx, const void *p, size_t n)
{
	struct fx *f = ctx;
	buf_append(&f->out, p, n);
}

static struct fx *fx_new(const struct sacsim_cfg *cfg)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct sacsim_cfg d;
	if (!cfg) {
		sacsim_cfg_default(&d);
		cfg = &d;
	}
	f->s = sacsim_new(cfg, collect, f);
	f->now = T0;
	sacsim_boot(f->s, f->now);
	return f;
}

static void fx_free(struct fx *f)
{
	sacsim_free(f->s);
	buf_free(&f->out);
	free(f);
}

/* Drops what was printed so far. */
static void drain(struct fx *f)
{
	buf_reset(&f->out);
}

static void type(struct fx *f, const char *keys)
{
	sacsim_input(f->s, keys, strlen(keys), f->now);
}

/* Advances the clock and lets timed events happen. */
static void advance(struct fx *f, int64_t ns)
{
	f->now += ns;
	sacsim_tick(f->s, f->now);
}

/* The output since the last drain must be exactly `want`; then drains. */
static void expect_n(struct fx *f, const char *want, size_t n)
{
	const char *got = f->out.data ? f->out.data : "";
	if (f->out.len != n || memcmp(got, want, n) != 0) {
		print_error("want (%zu bytes): [%.*s]\n got (%zu bytes): [%.*s]\n", n, (int)n, want,
		            f->out.len, (int)f->out.len, got);
		fail();
	}
	drain(f);
}

static void expect(struct fx *f, const char *want)
{
	expect_n(f, want, strlen(want));
}

static bool has(const struct fx *f, const char *needle)
{
	return f->out.data && strstr(f->out.data, needle) != NULL;
}

/* A booted guest whose CMD service has registered. */
static struct fx *fx_ready(const struct sacsim_cfg *cfg)
{
	struct fx *f = fx_new(cfg);
	advance(f, 30 * SEC);
	assert_true(has(f, "EVENT: The CMD command is now available."));
	drain(f);
	return f;
}

static void open_cmd(struct fx *f)
{
	type(f, "cmd\r");
	assert_true(has(f, "The Command Prompt session was successfully launched."));
	drain(f);
}

/* ch -sn, a key, and a successful login. */
static void login(struct fx *f, const char *name)
{
	char tmp[64];
	snprintf(tmp, sizeof(tmp), "ch -sn %s\r", name);
	type(f, tmp);
	type(f, "\r");
	assert_true(has(f, "Username: "));
	type(f, "Administrator\r\rP@ssw0rd!\r");
	assert_true(has(f, PROMPT));
	drain(f);
}

/* ---- boot and events ------------------------------------------------------ */

static void test_banner(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	assert_int_equal(sacsim_state(f->s), SACSIM_SAC);
	expect(f, BANNER);
	assert_string_equal(sacsim_channel(f->s), "SAC");
	assert_int_equal(sacsim_nchannels(f->s), 1);
	fx_free(f);

	struct sacsim_cfg c;
	sacsim_cfg_default(&c);
	c.boot_manager = true;
	f = fx_new(&c);
	assert_true(f->out.len > sizeof(BANNER));
	assert_memory_equal(f->out.data, "\033[2J\033[1;1H\033[0m\033[37;40m", 19);
	assert_true(has(f, "Windows Boot Manager"));
	assert_string_equal(f->out.data + f->out.len - (sizeof(BANNER) - 1), BANNER);
	fx_free(f);
}

static void test_cmd_event_timing(void **state)
{
	(void)state;
	struct sacsim_cfg c;
	sacsim_cfg_default(&c);
	c.cmd_delay_ns = 20 * SEC;
	struct fx *f = fx_new(&c);
	drain(f);
	assert_true(sacsim_next_deadline(f->s) == T0 + 20 * SEC);
	advance(f, 20 * SEC - 1);
	expect(f, "");
	/* Before the service registers, cmd fails with the 4-line text. */
	type(f, "cmd\r");
	expect(f, "cmd\r\n"
	          "Error: Unable to launch a Command Prompt.  The service responsible for launching\r\n"
	          "       Command Prompt channels has not yet registered.  This may be because the\r\n"
	          "       service is not yet started, is disabled by the administrator, is\r\n"
	          "       malfunctioning or is unresponsive.\r\n"
	          "SAC>");
	advance(f, 1);
	expect(f, "\r\nEVENT: The CMD command is now available.\r\nSAC>");
	assert_true(sacsim_next_deadline(f->s) == INT64_MAX);
	advance(f, 100 * SEC);
	expect(f, "");
	fx_free(f);

	sacsim_cfg_default(&c);
	c.cmd_delay_ns = -1;
	f = fx_new(&c);
	drain(f);
	assert_true(sacsim_next_deadline(f->s) == INT64_MAX);
	advance(f, 3600 * SEC);
	expect(f, "");
	fx_free(f);
}

static void test_sac_disabled_and_print(void **state)
{
	(void)state;
	struct sacsim_cfg c;
	sacsim_cfg_default(&c);
	c.sac_enabled = false;
	struct fx *f = fx_new(&c);
	expect(f, "");
	assert_int_equal(sacsim_state(f->s), SACSIM_BOOTING);
	type(f, "\r\rhelp\r");
	expect(f, "");
	sacsim_print(f->s, "{\"health\":1}\r\n", 14);
	expect(f, "{\"health\":1}\r\n");
	fx_free(f);
}

/* ---- line editor -------------------------------------------------------- */

static void test_line_editor(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	drain(f);
	/* Enter on an empty line: a fresh prompt; CRLF counts once; LF alone works. */
	type(f, "\r");
	expect(f, "\r\nSAC>");
	type(f, "\r\n");
	expect(f, "\r\nSAC>");
	type(f, "\n");
	expect(f, "\r\nSAC>");
	type(f, "\r\n\r\n");
	expect(f, "\r\nSAC>\r\nSAC>");
	/* Echo, backspace, DEL, TAB. */
	type(f, "pz\b");
	expect(f, "pz\b \b");
	type(f, "x\x7f\t");
	expect(f, "x\b \b\a");
	/* Backspace on an empty line prints nothing. */
	type(f, "\b\x7f");
	expect(f, "\b \b");
	type(f, "\b");
	expect(f, "");
	type(f, "p");
	expect(f, "p");
	type(f, "\r");
	expect(f, "\r\nPaging is now ON.\r\nSAC>");
	/* Lower-casing and trimming. */
	type(f, "  P  \r");
	expect(f, "  P  \r\nPaging is now OFF.\r\nSAC>");
	/* Ctrl-C runs the line without echoing a newline. */
	type(f, "f\x03");
	expect(f, "fThread information is now ON.\r\nSAC>");
	type(f, "\x03");
	expect(f, "SAC>");
	/* Unrecognized; arrows are literal text. */
	type(f, "\033[A\r");
	expect(f, "[A\r\nUnrecognized command.  Try the 'help' command for more details.\r\nSAC>");
	fx_free(f);
}

static void test_line_limit(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	drain(f);
	char keys[90];
	memset(keys, 'a', 78);
	memcpy(keys + 78, "bc", 3);
	type(f, keys);
	char want[100];
	memset(want, 'a', 78);
	memcpy(want + 78, "\bb\bc", 5);
	expect(f, want);
	/* The buffer holds 77 a's and the c. */
	type(f, "\b");
	expect(f, "\b \b");
	type(f, "\r");
	assert_true(has(f, "Unrecognized command."));
	fx_free(f);
}

/* ---- commands ---------------------------------------------------------------- */

static void test_help_and_prefixes(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	drain(f);
	char want[4096];
	snprintf(want, sizeof(want), "?\r\n%sSAC>", HELP);
	type(f, "?\r");
	expect(f, want);
	snprintf(want, sizeof(want), "HELP\r\n%sSAC>", HELP);
	type(f, "HELP\r");
	expect(f, want);
	/* Prefix matching: tlist runs t, dir runs d, idx runs id. */
	type(f, "tlist\r");
	assert_true(has(f, "memory: 4193844 kb  uptime:"));
	drain(f);
	type(f, "dir\r");
	assert_true(has(f, " : KERNEL: (Kernel) Loaded \\SystemRoot\\system32\\ntoskrnl.exe\r\n"));
	drain(f);
	type(f, "idx\r");
	assert_true(has(f, "           Computer Name: WIN-EMSSIM01\r\n"));
	drain(f);
	/* The single letters need a blank after them. */
	type(f, "kx\r");
	expect(f, "kx\r\nUnrecognized command.  Try the 'help' command for more details.\r\nSAC>");
	type(f, "chx\r");
	expect(f, "chx\r\nUnrecognized command.  Try the 'help' command for more details.\r\nSAC>");
	type(f, "crash\r");
	expect(f, "crash\r\nUnrecognized command.  Try the 'help' command for more details.\r\nSAC>");
	fx_free(f);
}

static void test_id_i(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	drain(f);
	type(f, "id\r");
	expect(f, "id\r\n"
	          "           Computer Name: WIN-EMSSIM01\r\n"
	          "           Computer GUID: 4c4c4544-0042-3510-8051-b3c04f563532\r\n"
	          "  Processor Architecture: AMD64\r\n"
	          "            Build Number: 20348\r\n"
	          "                 Product: Windows Server 2022 Datacenter\r\n"
	          "    Applied Service Pack: None\r\n"
	          "          Version Number: 10.0\r\n"
	          "SAC>");
	type(f, "i\r");
	expect(f, "i\r\nSAC is retrieving IP Addresses...\r\n"
	          "Net: 10, Ip=10.0.2.15  Subnet=255.255.255.0  Gateway=10.0.2.2\r\nSAC>");
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"i x 1.2.3.4 255.0.0.0 1.2.3.1\r", "Error, missing network interface number.\r\n"},
	    {"i 10\r", "The specified IP address is invalid.\r\n"},
	    {"i 10 1.2.3.256 255.0.0.0 1.2.3.1\r", "The specified IP address is invalid.\r\n"},
	    {"i 10 1.2.3 255.0.0.0 1.2.3.1\r", "The specified IP address is invalid.\r\n"},
	    {"i 10 1.2.3.4 255.0.0.0.0 1.2.3.1\r", "The specified subnet mask is invalid.\r\n"},
	    {"i 10 1.2.3.4 255.0.0.0\r", "The specified gateway IP address is invalid.\r\n"},
	    {"i 10 1.2.3.4 255.0.0.0 1.2.3.1 9\r", INVALID},
	    {"i 7 1.2.3.4 255.0.0.0 1.2.3.1\r", "SAC could not set the IP Address.\r\n"},
	    {"i 10 192.168.1.20 255.255.0.0 192.168.1.1\r",
	     "SAC successfully set the IP Address, subnet mask, and gateway.\r\n"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char want[256];
		size_t n = strlen(cases[i].in);
		snprintf(want, sizeof(want), "%.*s\r\n%sSAC>", (int)(n - 1), cases[i].in, cases[i].out);
		type(f, cases[i].in);
		expect(f, want);
	}
	type(f, "i\r");
	assert_true(has(f, "Net: 10, Ip=192.168.1.20  Subnet=255.255.0.0  Gateway=192.168.1.1\r\n"));
	fx_free(f);
}

static void test_process_commands(void **state)
{
	(void)state;
	static const char *const tasks[] = {"TrustedInstaller.exe", "TiWorker.exe", NULL};
	struct sacsim_cfg c;
	sacsim_cfg_default(&c);
	c.tasks = tasks;
	struct fx *f = fx_new(&c);
	drain(f);
	type(f, "t\r");
	assert_memory_equal(f->out.data, "t\r\nmemory: 4193844 kb  uptime:  0  0:00:00.000\r\n\r\n\r\n", 51);
	assert_true(has(f, "    User Time   Kernel Time    Ws   Faults  Commit Pri Hnd Thd  Pid Name\r\n"));
	assert_true(
	    has(f, "                            65536    40960                          File Cache\r\n"));
	assert_true(has(f, " 2104 TrustedInstaller.exe\r\n"));
	assert_true(has(f, " 2212 TiWorker.exe\r\n"));
	assert_true(has(f, "  652 lsass.exe\r\n"));
	assert_false(has(f, "pid:"));
	assert_string_equal(f->out.data + f->out.len - 4, "SAC>");
	drain(f);

	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"k\r", INVALID},
	    {"k abc\r", INVALID},
	    {"k 1 2\r", INVALID},
	    {"k 9999\r", "SAC failed to terminate the process.\r\n"},
	    {"k 4\r", "SAC failed to terminate the process.\r\n"},
	    {"r 2104\r", "SAC cannot raise the priority of a process that was not previously lowered.\r\n"},
	    {"l 2104\r", "SAC successfully lowered the process priority.\r\n"},
	    {"r 2104\r", "SAC successfully raised the process priority.\r\n"},
	    {"l 9999\r", "SAC failed to lower the process priority.\r\n"},
	    {"r 9999\r", "SAC failed to raise the process priority.\r\n"},
	    {"m 2104\r", INVALID},
	    {"m 2104 0\r", INVALID},
	    {"m 2104 64\r", "SAC successfully limited the available process memory.\r\n"},
	    {"m 9999 64\r", "SAC failed to limit the available process memory.\r\n"},
	    {"k 2212\r", "SAC successfully terminated the process.\r\n"},
	    {"k 2212\r", "SAC failed to terminate the process.\r\n"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char want[256];
		size_t n = strlen(cases[i].in);
		snprintf(want, sizeof(want), "%.*s\r\n%sSAC>", (int)(n - 1), cases[i].in, cases[i].out);
		type(f, cases[i].in);
		expect(f, want);
	}
	/* The killed task is gone from t; f adds per-process thread detail. */
	type(f, "f\r");
	expect(f, "f\r\nThread information is now ON.\r\nSAC>");
	advance(f, 3723 * SEC + 45 * NS_PER_MS);
	type(f, "t\r");
	assert_true(has(f, "uptime:  0  1:02:03.045\r\n"));
	assert_false(has(f, "TiWorker.exe"));
	assert_true(has(f, "\r\npid:838 pri: 8 Hnd:  104 Pf:  24144 Ws:  10408K TrustedInstaller.exe\r\n"
	                   " tid pri Ctx Swtch StrtAddr    User Time  Kernel Time  State\r\n"));
	assert_true(has(f, "Wait:UserRequest\r\n"));
	fx_free(f);
}

static void test_time(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	drain(f);
	advance(f, 61 * SEC + 250 * NS_PER_MS);
	drain(f);
	type(f, "s\r");
	expect(f, "s\r\nDate: 05/14/2024  Time (GMT): 09:31:01:0250\r\nSAC>");
	type(f, "s 12/31/2030 23:59\r");
	expect(f, "s 12/31/2030 23:59\r\nDate: 12/31/2030  Time (GMT): 23:59\r\nSAC>");
	advance(f, 2 * SEC);
	type(f, "s\r");
	expect(f, "s\r\nDate: 12/31/2030  Time (GMT): 23:59:02:0250\r\nSAC>");
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"s 01/01/1979 00:00\r", "The year is restricted from 1980 to 2099.\r\n"},
	    {"s 01/01/2100 00:00\r", "The year is restricted from 1980 to 2099.\r\n"},
	    {"s 13/01/2020 00:00\r", INVALID},
	    {"s 02/30/2020 00:00\r", INVALID},
	    {"s 02/29/2021 00:00\r", INVALID},
	    {"s 01/01/2020 24:00\r", INVALID},
	    {"s 01/01/2020\r", INVALID},
	    {"s 1-1-2020 10:00\r", INVALID},
	    {"s 01/01/-020 10:00\r", INVALID},
	    {"s 01/01/2020 10:00x\r", INVALID},
	    {"s 2/29/2024 7:05\r", "Date: 02/29/2024  Time (GMT): 07:05\r\n"},
	    {"s 01/01/1980 00:00\r", "Date: 01/01/1980  Time (GMT): 00:00\r\n"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char want[256];
		size_t n = strlen(cases[i].in);
		snprintf(want, sizeof(want), "%.*s\r\n%sSAC>", (int)(n - 1), cases[i].in, cases[i].out);
		type(f, cases[i].in);
		expect(f, want);
	}
	type(f, "s\r");
	assert_true(has(f, "Date: 01/01/1980  Time (GMT): 00:00:00:0250\r\n"));
	fx_free(f);
}

static void test_d(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	drain(f);
	type(f, "d\r");
	static const char first[] =
	    "d\r\n09:30:00.412 : KERNEL: (Kernel) Loaded \\SystemRoot\\system32\\ntoskrnl.exe\r\n";
	assert_true(f->out.len > sizeof(first));
	assert_memory_equal(f->out.data, first, sizeof(first) - 1);
	assert_true(has(
	    f, "09:30:00.821 : KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\sacdrv.sys\r\nSAC>"));
	assert_false(has(f, "----Press"));
	fx_free(f);
}

/* ---- channels ------------------------------------------------------------------ */

static void test_ch_and_cmd(void **state)
{
	(void)state;
	struct fx *f = fx_ready(NULL);
	type(f, "ch\r");
	expect(f, "ch\r\nChannel List\r\n\r\n(Use \"ch -?\" for information on using channels)\r\n\r\n"
	          "# Status  Channel Name\r\n0 (AV)    SAC\r\nSAC>");
	type(f, "cmd\r");
	expect(f, "cmd\r\nThe Command Prompt session was successfully launched.\r\nSAC>"
	          "\r\nEVENT:   A new channel has been created.  Use \"ch -?\" for channel help.\r\n"
	          "Channel: Cmd0001\r\nSAC>");
	assert_int_equal(sacsim_nchannels(f->s), 2);
	type(f, "ch\r");
	expect(f, "ch\r\nChannel List\r\n\r\n(Use \"ch -?\" for information on using channels)\r\n\r\n"
	          "# Status  Channel Name\r\n0 (AV)    SAC\r\n1 (AV)    Cmd0001\r\nSAC>");
	type(f, "ch -?\r");
	expect(f, "ch -?\r\nChannel management commands:\r\n\r\n"
	          "ch                   List all channels.\r\n\r\n"
	          "Status Legend: (AB)\r\n"
	          "A: Channel operational status\r\n"
	          "    'A' = Channel is active.\r\n"
	          "    'I' = Channel is inactive.\r\n"
	          "B: Channel Type\r\n"
	          "    'V' = VT-UTF8 emulation.\r\n"
	          "    'R' = Raw - no emulation.\r\n\r\n"
	          "ch -si <#>           Switch to a channel by its number.\r\n"
	          "ch -sn <name>        Switch to a channel by its name.\r\n"
	          "ch -ci <#>           Close a channel by its number.\r\n"
	          "ch -cn <name>        Close a channel by its name.\r\n\r\n"
	          "Press <esc><tab> to select a channel.\r\n"
	          "Press <esc><tab>0 to return to the SAC channel.\r\nSAC>");
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"ch -si 5\r", "Error: There is no channel present at the specified index.\r\n"},
	    {"ch -si 99999\r", "Error: There is no channel present at the specified index.\r\n"},
	    {"ch -ci 7\r", "Error: There is no channel present at the specified index.\r\n"},
	    {"ch -si x\r", INVALID},
	    {"ch -si\r", INVALID},
	    {"ch -zz 1\r", INVALID},
	    {"ch -si 1 2\r", INVALID},
	    {"ch -sn Cmd0009\r", "Error: Could not find a channel with that name.\r\n"},
	    {"ch -cn nosuch\r", "Error: Could not find a channel with that name.\r\n"},
	    {"ch -ci 0\r", "Error: The SAC channel cannot be closed.\r\n"},
	    {"ch -cn SAC\r", "Error: The SAC channel cannot be closed.\r\n"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char want[256];
		size_t n = strlen(cases[i].in);
		snprintf(want, sizeof(want), "%.*s\r\n%sSAC>", (int)(n - 1), cases[i].in, cases[i].out);
		type(f, cases[i].in);
		expect(f, want);
	}
	open_cmd(f);
	assert_int_equal(sacsim_nchannels(f->s), 3);
	type(f, "ch -ci 1\r");
	expect(f, "ch -ci 1\r\nEVENT:   A channel has been closed.\r\nChannel: Cmd0001\r\nSAC>");
	type(f, "ch -cn CMD0002\r");
	expect(f, "ch -cn CMD0002\r\nEVENT:   A channel has been closed.\r\nChannel: Cmd0002\r\nSAC>");
	assert_int_equal(sacsim_nchannels(f->s), 1);
	/* Names keep counting; the free slot is reused. */
	open_cmd(f);
	type(f, "ch\r");
	assert_true(has(f, "1 (AV)    Cmd0003\r\n"));
	fx_free(f);
}

static void test_cmd_errors(void **state)
{
	(void)state;
	struct sacsim_cfg c;
	sacsim_cfg_default(&c);
	c.cmd_disabled = true;
	struct fx *f = fx_ready(&c);
	type(f, "cmd\r");
	expect(f, "cmd\r\nLaunching of Command Prompt channels is disabled.\r\nSAC>");
	fx_free(f);

	sacsim_cfg_default(&c);
	c.max_channels = 3;
	f = fx_ready(&c);
	open_cmd(f);
	open_cmd(f);
	type(f, "cmd\r");
	expect(f, "cmd\r\nThe maximum number of channels has been reached.\r\nSAC>");
	assert_int_equal(sacsim_nchannels(f->s), 3);
	fx_free(f);

	/* Default: 10 channels in all, SAC + 9. */
	f = fx_ready(NULL);
	for (int i = 0; i < 9; i++)
		open_cmd(f);
	type(f, "cmd\r");
	expect(f, "cmd\r\nThe maximum number of channels has been reached.\r\nSAC>");
	type(f, "ch\r");
	assert_true(has(f, "9 (AV)    Cmd0009\r\nSAC>"));
	fx_free(f);
}

static void test_switch_login_shell(void **state)
{
	(void)state;
	struct fx *f = fx_ready(NULL);
	open_cmd(f);
	type(f, "ch -sn cmd0001\r");
	char want[2048];
	snprintf(want, sizeof(want),
	         "ch -sn cmd0001\r\n\033[2J\033[1;1H"
	         "Name:                  Cmd0001\r\n"
	         "Description:           Command\r\n"
	         "Type:                  VT-UTF8\r\n"
	         "Channel GUID:          e203fb79-d80d-11ea-87e3-c2679e149571\r\n"
	         "Application Type GUID: 63d02271-8aa4-11d5-bccf-00b0d014a2d0\r\n\r\n%s",
	         SWITCH_TAIL);
	expect(f, want);
	/* CRLF: the CR views the channel, the LF is swallowed. */
	type(f, "\r\n");
	expect(f, CLR "Please enter login credentials.\r\nUsername: ");
	assert_string_equal(sacsim_channel(f->s), "Cmd0001");
	type(f, "Administrator\r");
	expect(f, "Administrator\r\nDomain  :");
	type(f, "\r");
	expect(f, "\r\nPassword: ");
	type(f, "P@ss\bsw0rd!\r");
	expect(f, "****\b \b******\r\n\r\nMicrosoft Windows [Version 10.0.20348.2655]\r\n"
	          "(c) Microsoft Corporation. All rights reserved.\r\n\r\n" PROMPT);
	type(f, "echo Hello World\r");
	expect(f, "echo Hello World\r\nHello World\r\n\r\n" PROMPT);
	type(f, "ECHO\r");
	expect(f, "ECHO\r\nECHO is on.\r\n\r\n" PROMPT);
	type(f, "ver\r");
	expect(f, "ver\r\n\r\nMicrosoft Windows [Version 10.0.20348.2655]\r\n\r\n" PROMPT);
	type(f, "hostname\r");
	expect(f, "hostname\r\nWIN-EMSSIM01\r\n\r\n" PROMPT);
	type(f, "ipconfig\r");
	expect(f, "ipconfig\r\n\r\nWindows IP Configuration\r\n\r\n\r\nEthernet adapter Ethernet:\r\n\r\n"
	          "   Connection-specific DNS Suffix  . : \r\n"
	          "   IPv4 Address. . . . . . . . . . . : 10.0.2.15\r\n"
	          "   Subnet Mask . . . . . . . . . . . : 255.255.255.0\r\n"
	          "   Default Gateway . . . . . . . . . : 10.0.2.2\r\n\r\n" PROMPT);
	type(f, "Foo bar\r");
	expect(f, "Foo bar\r\n'Foo' is not recognized as an internal or external command,\r\n"
	          "operable program or batch file.\r\n\r\n" PROMPT);
	type(f, "\r");
	expect(f, "\r\n" PROMPT);
	type(f, "dir\x03");
	expect(f, "dir^C\r\n" PROMPT);
	/* An Esc not followed by Tab goes to the channel (cmd ignores it). */
	type(f, "\033x\b");
	expect(f, "x\b \b");

	/* Esc Tab 0: straight back to SAC. */
	type(f, "\033\t0");
	assert_string_equal(sacsim_channel(f->s), "SAC");
	/* Esc Tab showed the next channel's screen (SAC, after the last one) first. */
	assert_non_null(strstr(f->out.data, "Name:                  SAC\r\n"));
	assert_string_equal(f->out.data + f->out.len - strlen(CLR "\r\nSAC>"), CLR "\r\nSAC>");
	drain(f);
	type(f, "t\r");
	assert_true(has(f, "File Cache"));
	drain(f);

	/* Esc Tab then any key: the channel is repainted. */
	type(f, "\033\t");
	assert_true(has(f, "Name:                  Cmd0001\r\n"));
	drain(f);
	type(f, "a");
	assert_memory_equal(f->out.data, CLR, strlen(CLR));
	assert_true(has(f, "operable program or batch file.\r\n"));
	assert_string_equal(f->out.data + f->out.len - strlen(PROMPT), PROMPT);
	drain(f);
	/* The viewing key was consumed: the line is empty. */
	type(f, "\r");
	expect(f, "\r\n" PROMPT);

	/* exit: switching screen of SAC, a key, the close event. */
	type(f, "exit\r");
	assert_memory_equal(f->out.data,
	                    "exit\r\n\033[2J\033[1;1HName:                  SAC\r\n"
	                    "Description:           Special Administration Console\r\n",
	                    94);
	assert_true(has(f, "Application Type GUID: 63d02270-8aa4-11d5-bccf-806d6172696f\r\n"));
	drain(f);
	type(f, "\r");
	expect(f, CLR "\r\nEVENT:   A channel has been closed.\r\nChannel: Cmd0001\r\nSAC>");
	assert_int_equal(sacsim_nchannels(f->s), 1);
	assert_string_equal(sacsim_channel(f->s), "SAC");
	fx_free(f);
}

static void test_esc_tab_cycle(void **state)
{
	(void)state;
	struct fx *f = fx_ready(NULL);
	open_cmd(f);
	open_cmd(f);
	type(f, "\033\t");
	assert_true(has(f, "Name:                  Cmd0001\r\n"));
	drain(f);
	type(f, "\033\t");
	assert_true(has(f, "Name:                  Cmd0002\r\n"));
	drain(f);
	type(f, "\033\t");
	assert_true(has(f, "Name:                  SAC\r\n"));
	drain(f);
	/* Viewing SAC from its screen gives a prompt. */
	type(f, " ");
	expect(f, CLR "\r\nSAC>");
	/* ch -si by index, then Esc Tab 0 from the switching screen. */
	type(f, "ch -si 2\r");
	assert_true(has(f, "Name:                  Cmd0002\r\n"));
	drain(f);
	type(f, "\033\t0");
	assert_true(has(f, "Name:                  SAC\r\n"));
	assert_string_equal(f->out.data + f->out.len - strlen(CLR "\r\nSAC>"), CLR "\r\nSAC>");
	drain(f);
	fx_free(f);

	/* Events that happen while SAC is not on view are shown on return. */

	struct sacsim_cfg c;
	sacsim_cfg_default(&c);
	c.cmd_delay_ns = 20 * SEC;
	f = fx_new(&c);
	drain(f);
	type(f, "\033\t");
	assert_true(has(f, "Name:                  SAC\r\n"));
	drain(f);
	advance(f, 20 * SEC); /* the event waits: SAC is not on view */
	expect(f, "");
	type(f, "\r");
	expect(f, CLR "\r\nEVENT: The CMD command is now available.\r\nSAC>");
	fx_free(f);
}

static void test_login_failure_and_lock(void **state)
{
	(void)state;
	struct fx *f = fx_ready(NULL);
	open_cmd(f);
	type(f, "ch -si 1\r\r");
	drain(f);
	type(f, "Administrator\r\rwrong\r");
	expect(f, "Administrator\r\nDomain  :\r\nPassword: *****\r\n"
	          "Unable to authenticate.\r\n\r\nPlease enter login credentials.\r\nUsername: ");
	/* A wrong user with the right password fails too, and the password never shows. */
	type(f, "guest\r\rP@ssw0rd!\r");
	assert_true(has(f, "Unable to authenticate."));
	assert_false(has(f, "P@ssw0rd!"));
	drain(f);
	/* Domain may be the machine name (any case). */
	type(f, "administrator\rwin-emssim01\rP@ssw0rd!\r");
	assert_true(has(f, "(c) Microsoft Corporation. All rights reserved.\r\n\r\n" PROMPT));
	assert_false(has(f, "P@ssw0rd!"));
	drain(f);
	/* Back to SAC, lock, and the channel asks again. */
	type(f, "\033\t0");
	drain(f);
	type(f, "lock\r");
	expect(f, "lock\r\nLocked access to all Command Prompt channels.\r\nSAC>");
	type(f, "ch -si 1\r");
	drain(f);
	type(f, "\r");
	expect(f, CLR "Please enter login credentials.\r\nUsername: ");
	fx_free(f);

	struct sacsim_cfg c;
	sacsim_cfg_default(&c);
	c.user = "ops";
	c.domain = "CORP";
	c.password = "s3cret";
	f = fx_ready(&c);
	open_cmd(f);
	type(f, "ch -si 1\r\r");
	drain(f);
	type(f, "Administrator\r\rP@ssw0rd!\r");
	assert_true(has(f, "Unable to authenticate."));
	drain(f);
	type(f, "ops\rcorpx\rs3cret\r");
	assert_true(has(f, "Unable to authenticate."));
	drain(f);
	type(f, "OPS\rcorp\rs3cret\r");
	assert_true(has(f, PROMPT));
	fx_free(f);

	/* The helper's path: ch -sn, a key, a login. */
	f = fx_ready(NULL);
	open_cmd(f);
	login(f, "Cmd0001");
	type(f, "hostname\r");
	expect(f, "hostname\r\nWIN-EMSSIM01\r\n\r\n" PROMPT);
	fx_free(f);
}

static void test_paging(void **state)
{
	(void)state;
	static const char *const tasks[] = {"windeploy.exe", "msoobe.exe", "sysprep.exe", NULL};
	struct sacsim_cfg c;
	sacsim_cfg_default(&c);
	c.tasks = tasks;
	c.paging = true;
	struct fx *f = fx_ready(&c);
	type(f, "t\r");
	/* 23 lines, then the more prompt. */
	size_t lines = 0;
	for (size_t i = 0; i < f->out.len; i++)
		lines += f->out.data[i] == '\n';
	assert_int_equal(lines, 1 + SACSIM_PAGE_LINES); /* the echoed Enter + one page */
	assert_string_equal(f->out.data + f->out.len - 30, "----Press <Enter> for more----");
	drain(f);
	/* Other keys do nothing while the listing waits; events wait too. */
	type(f, "xyz");
	expect(f, "");
	type(f, "\r");
	assert_memory_equal(f->out.data, "\r\n", 2);
	assert_true(has(f, "sysprep.exe\r\nSAC>"));
	assert_false(has(f, "----Press"));
	drain(f);
	/* Ctrl-C stops a listing. */
	type(f, "t\r");
	drain(f);
	type(f, "\x03");
	expect(f, "\r\nSAC>");
	/* p turns it off. */
	type(f, "p\r");
	expect(f, "p\r\nPaging is now OFF.\r\nSAC>");
	type(f, "t\r");
	assert_false(has(f, "----Press"));
	assert_true(has(f, "sysprep.exe\r\nSAC>"));
	drain(f);
	/* d (28 lines) pages too; the help list (20 lines) fits on a page. */
	type(f, "p\r");
	drain(f);
	type(f, "d\r");
	assert_true(has(f, "----Press <Enter> for more----"));
	drain(f);
	type(f, "\r\n");
	assert_true(has(f, "sacdrv.sys\r\nSAC>"));
	drain(f);
	type(f, "?\r");
	assert_false(has(f, "----Press"));
	fx_free(f);
}

/* ---- crash and !SAC> ----------------------------------------------------------- */

static const char BP_E2[] =
    "\a\a\a<?xml>\a<BP>\r\n<INSTANCE CLASSNAME=\"BLUESCREEN\">\r\n"
    "<PROPERTY NAME=\"STOPCODE\" TYPE=\"string\"><VALUE>\"0xE2\"</VALUE></PROPERTY>"
    "<machine-info>\r\n<name>WIN-EMSSIM01</name>\r\n<guid>4c4c4544-0042-3510-8051-b3c04f563532</guid>\r\n"
    "<processor-architecture>AMD64</processor-architecture>\r\n<os-version>10.0</os-version>\r\n"
    "<os-build-number>20348</os-build-number>\r\n<os-product>Windows Server 2022 Datacenter</os-product>\r\n"
    "<os-service-pack>None</os-service-pack>\r\n</machine-info>\r\n"
    "\r\n</INSTANCE>\r\n</BP>\a\n\r!SAC>";

static void test_crashdump_record(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	drain(f);
	type(f, "crashdump\r");
	char want[2048];
	snprintf(want, sizeof(want), "crashdump\r\n%s", BP_E2);
	expect(f, want);
	assert_int_equal(sacsim_state(f->s), SACSIM_CRASHED);
	assert_false(sacsim_wants_reboot(f->s));
	/* A second crash while crashed prints nothing. */
	sacsim_crash(f->s, 0x80, f->now);
	expect(f, "");
	fx_free(f);

	/* NMI: 0x80; the stop text mirror; auto-reboot. */
	struct sacsim_cfg c;
	sacsim_cfg_default(&c);
	c.mirror_stop_text = true;
	c.auto_reboot = true;
	f = fx_new(&c);
	drain(f);
	sacsim_crash(f->s, 0x80, f->now);
	assert_true(has(f, "<VALUE>\"0x80\"</VALUE></PROPERTY><machine-info>\r\n"));
	assert_true(has(f, "</BP>\a\n\r!SAC>\r\n*** STOP: 0x00000080 (0x0000000000000000,"));
	assert_string_equal(f->out.data + f->out.len - 7, "\n\r!SAC>");
	assert_true(sacsim_wants_reboot(f->s));
	assert_false(sacsim_wants_reboot(f->s));
	drain(f);
	sacsim_boot(f->s, f->now);
	expect(f, BANNER);
	assert_int_equal(sacsim_state(f->s), SACSIM_SAC);
	fx_free(f);

	/* A bugcheck before SAC is up has no machine-info. */
	sacsim_cfg_default(&c);
	c.sac_enabled = false;
	f = fx_new(&c);
	sacsim_crash(f->s, 0x7B, f->now);
	expect(f, "\a\a\a<?xml>\a<BP>\r\n<INSTANCE CLASSNAME=\"BLUESCREEN\">\r\n"
	          "<PROPERTY NAME=\"STOPCODE\" TYPE=\"string\"><VALUE>\"0x7B\"</VALUE></PROPERTY>"
	          "\r\n</INSTANCE>\r\n</BP>\a\n\r!SAC>");
	fx_free(f);
}

static void test_bang_console(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	sacsim_crash(f->s, 0xE2, f->now);
	drain(f);
	type(f, "?\r");
	expect(f, "?\r\n\r\nd        Display all log entries, paging is on.\r\n"
	          "help     Display this list.\r\n"
	          "restart  Restart the system immediately.\r\n"
	          "?        Display this list.\r\n\r\n\n\r!SAC>");
	type(f, "HELP\r\n");
	assert_true(has(f, "HELP\r\n\r\nd        Display all log entries"));
	drain(f);
	type(f, "\r");
	expect(f, "\r\n\n\r!SAC>");
	type(f, "cmd\r");
	expect(f, "cmd\r\nType ? or Help for a list of commands.\r\n\n\r!SAC>");
	/* TAB and ESC ring the bell and leave the line alone. */
	type(f, "he\t\033lp\r");
	assert_true(has(f, "he\a\alp\r\n\r\nd        Display"));
	drain(f);
	/* Ctrl-C ends the line without echo and stays in it. */
	type(f, "d\x03");
	expect(f, "dType ? or Help for a list of commands.\r\n\n\r!SAC>");
	type(f, "x\b\r");
	expect(f, "x\b \b\r\n\n\r!SAC>");
	/* d pages every 20 entries. */
	type(f, "d\r");
	size_t lines = 0;
	for (size_t i = 0; i < f->out.len; i++)
		lines += f->out.data[i] == '\n';
	assert_int_equal(lines, 1 + 20);
	assert_string_equal(f->out.data + f->out.len - 30, "----Press <Enter> for more----");
	drain(f);
	type(f, "\r");
	assert_true(has(f, "sacdrv.sys\r\n\n\r!SAC>"));
	drain(f);
	type(f, "d\r");
	drain(f);
	type(f, "\x03");
	expect(f, "\r\n\n\r!SAC>");
	/* restart: no text, a reboot a second later. */
	type(f, "restart\r");
	expect(f, "restart\r\n");
	assert_true(sacsim_next_deadline(f->s) == f->now + SEC);
	type(f, "?\r");
	expect(f, "");
	advance(f, SEC - 1);
	assert_false(sacsim_wants_reboot(f->s));
	advance(f, 1);
	assert_true(sacsim_wants_reboot(f->s));
	assert_int_equal(sacsim_state(f->s), SACSIM_OFF);
	expect(f, "");
	fx_free(f);
}

static void test_restart_shutdown(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	drain(f);
	advance(f, 10 * SEC);
	drain(f);
	type(f, "restart\r");
	expect(f, "restart\r\n\r\nSAC preparing to restart the system.\r\nSAC>");
	assert_true(sacsim_next_deadline(f->s) == T0 + 20 * SEC); /* the CMD event comes first */
	advance(f, 10 * SEC);
	drain(f);
	assert_true(sacsim_next_deadline(f->s) == T0 + 60 * SEC);
	advance(f, 40 * SEC - 1);
	expect(f, "");
	assert_int_equal(sacsim_state(f->s), SACSIM_SAC);
	advance(f, 1);
	expect(f, "\r\nThe SAC will become unavailable soon.  The computer is shutting down.\r\n\r\n");
	assert_int_equal(sacsim_state(f->s), SACSIM_OFF);
	assert_true(sacsim_wants_reboot(f->s));
	type(f, "help\r");
	expect(f, "");
	fx_free(f);

	f = fx_new(NULL);
	advance(f, 90 * SEC);
	drain(f);
	type(f, "shutdown\r");
	expect(
	    f,
	    "shutdown\r\n\r\nThe SAC will become unavailable soon.  The computer is shutting down.\r\n\r\n");
	assert_int_equal(sacsim_state(f->s), SACSIM_OFF);
	assert_false(sacsim_wants_reboot(f->s));
	fx_free(f);

	f = fx_new(NULL);
	drain(f);
	type(f, "shutdown\r");
	expect(f, "shutdown\r\n\r\nSAC preparing to shutdown the system.\r\nSAC>");
	advance(f, 60 * SEC);
	assert_true(has(f, "The computer is shutting down.\r\n\r\n"));
	assert_false(sacsim_wants_reboot(f->s));
	fx_free(f);
}

static void test_drop_repeat(void **state)
{
	(void)state;
	struct sacsim_cfg c;
	sacsim_cfg_default(&c);
	c.drop_repeat_ns = SEC;
	struct fx *f = fx_new(&c);
	drain(f);
	type(f, "ll");
	expect(f, "l");
	f->now += SEC / 2;
	type(f, "l");
	expect(f, "");
	f->now += SEC;
	type(f, "ock\r");
	expect(f, "ock\r\nLocked access to all Command Prompt channels.\r\nSAC>");
	/* Two quick Enters are one. */
	f->now += 2 * SEC;
	type(f, "\r\r");
	expect(f, "\r\nSAC>");
	fx_free(f);
}

static void test_events_wait_for_pager(void **state)
{
	(void)state;
	struct sacsim_cfg c;
	sacsim_cfg_default(&c);
	c.paging = true;
	c.cmd_delay_ns = 20 * SEC;
	struct fx *f = fx_new(&c);
	drain(f);
	type(f, "d\r");
	assert_true(has(f, "----Press <Enter> for more----"));
	drain(f);
	advance(f, 20 * SEC);
	expect(f, "");
	type(f, "\r");
	assert_true(has(f, "sacdrv.sys\r\nSAC>\r\nEVENT: The CMD command is now available.\r\nSAC>"));
	assert_string_equal(f->out.data + f->out.len - 4, "SAC>");
	fx_free(f);
}

static size_t count_lf(const struct fx *f)
{
	size_t n = 0;
	for (size_t i = 0; i < f->out.len; i++)
		n += f->out.data[i] == '\n';
	return n;
}

static void test_repaint_bounded(void **state)
{
	(void)state;
	struct fx *f = fx_ready(NULL);
	open_cmd(f);
	login(f, "Cmd0001");
	/* Far more than the kept transcript: each echo is 4 lines. */
	char cmdline[64];
	for (int i = 0; i < 600; i++) {
		snprintf(cmdline, sizeof(cmdline), "echo line%04d\r", i);
		type(f, cmdline);
	}
	type(f, "\033\t0ch -si 1\r");
	drain(f);
	type(f, "\r");
	assert_memory_equal(f->out.data, CLR, strlen(CLR));
	/* One screen: 24 rows, so 23 line feeds; the newest text is there. */
	assert_int_equal(count_lf(f), 23);
	assert_true(has(f, "echo line0599\r\nline0599\r\n\r\n" PROMPT));
	assert_false(has(f, "line0500"));
	fx_free(f);
}

static void test_split_input_and_reboot(void **state)
{
	(void)state;
	struct fx *f = fx_ready(NULL);
	open_cmd(f);
	/* Esc, Tab and 0 in separate writes still switch. */
	type(f, "\033");
	expect(f, "");
	type(f, "\t");
	assert_true(has(f, "Name:                  Cmd0001\r\n"));
	drain(f);
	type(f, "0");
	expect(f, CLR "\r\nSAC>");
	/* A CR at the end of one write and the LF at the start of the next: one Enter. */
	type(f, "p\r");
	drain(f);
	type(f, "\np\r");
	expect(f, "p\r\nPaging is now OFF.\r\nSAC>");
	/* restart after a minute; a boot starts afresh. */
	advance(f, 60 * SEC);
	type(f, "restart\r");
	assert_true(has(f, "The computer is shutting down."));
	assert_true(sacsim_wants_reboot(f->s));
	assert_int_equal(sacsim_nchannels(f->s), 0);
	drain(f);
	sacsim_boot(f->s, f->now);
	expect(f, BANNER);
	assert_int_equal(sacsim_nchannels(f->s), 1);
	type(f, "cmd\r");
	assert_true(has(f, "has not yet registered"));
	drain(f);
	advance(f, 20 * SEC);
	drain(f);
	type(f, "cmd\r");
	assert_true(has(f, "Channel: Cmd0001\r\n"));
	fx_free(f);
}


/* ---- faithfulness: the captured session ------------------------------------ */

struct lines {
	char **v;
	size_t n, cap;
};

static void on_norm(void *ctx, const struct line *ln)
{
	struct lines *l = ctx;
	/* Random per channel (the capture's own GUIDs cannot be reproduced),
	 * and the cmd.exe version banner (build numbers differ). */
	if (strncmp(ln->text, "Channel GUID:", 13) == 0 || strncmp(ln->text, "Microsoft Windows [Version", 26) == 0)
		return;
	/* Blank lines around a repaint and trailing blanks are layout, not text. */
	size_t n = ln->len;
	while (n && (ln->text[n - 1] == ' ' || ln->text[n - 1] == '\t'))
		n--;
	if (n == 0)
		return;
	xgrow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v));
	l->v[l->n++] = xstrndup(ln->text, n);
}

static void normalised(const char *p, size_t n, struct lines *out)
{
	struct norm *nm = norm_new(on_norm, NULL, out);
	norm_feed(nm, p, n, 0, 0);
	norm_finish(nm, 0, 0);
	norm_free(nm);
}

/* The session in tests/data/sac-session.log (what the agent receives: guest
 * output and the echo of what was typed) is replayed against the simulator by
 * typing the same keys at the same points; the two must read the same, line
 * for line, as the normaliser sees them. */
static void test_captured_session(void **state)
{
	(void)state;
	struct buf want = {0};
	FILE *fp = fopen("tests/data/sac-session.log", "rb");
	assert_non_null(fp);
	char chunk[4096];
	size_t k;
	while ((k = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_append(&want, chunk, k);
	fclose(fp);

	struct sacsim_cfg cfg;
	sacsim_cfg_default(&cfg);
	cfg.cmd_delay_ns = 1 * SEC;
	cfg.password = "Adm1n-Passw0rd!"; /* 15 characters, as the capture's asterisks */
	struct fx *f = fx_new(&cfg);
	advance(f, 2 * SEC);
	type(f, "ch\r");
	type(f, "cmd\r");
	advance(f, 1 * SEC);
	type(f, "ch\r");
	type(f, "ch -sn Cmd0001\r");
	type(f, "\r");
	type(f, "Administrator\r");
	type(f, "\r");
	type(f, "Adm1n-Passw0rd!\r");
	advance(f, 1 * SEC);

	struct lines a = {0}, b = {0};
	normalised(want.data, want.len, &a);
	normalised(f->out.data, f->out.len, &b);
	size_t i = 0;
	for (; i < a.n && i < b.n; i++)
		if (strcmp(a.v[i], b.v[i]) != 0)
			break;
	if (i < a.n || i < b.n) {
		print_error("first difference at normalised line %zu:\n capture:   [%s]\n simulator: [%s]\n", i + 1,
		            i < a.n ? a.v[i] : "(end)", i < b.n ? b.v[i] : "(end)");
		for (size_t j = i; j < b.n && j < i + 12; j++)
			print_error(" simulator %zu: [%s]\n", j + 1, b.v[j]);
		fail();
	}
	for (size_t j = 0; j < a.n; j++)
		free(a.v[j]);
	for (size_t j = 0; j < b.n; j++)
		free(b.v[j]);
	free(a.v);
	free(b.v);
	buf_free(&want);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_captured_session),
	    cmocka_unit_test(test_banner),
	    cmocka_unit_test(test_cmd_event_timing),
	    cmocka_unit_test(test_sac_disabled_and_print),
	    cmocka_unit_test(test_line_editor),
	    cmocka_unit_test(test_line_limit),
	    cmocka_unit_test(test_help_and_prefixes),
	    cmocka_unit_test(test_id_i),
	    cmocka_unit_test(test_process_commands),
	    cmocka_unit_test(test_time),
	    cmocka_unit_test(test_d),
	    cmocka_unit_test(test_ch_and_cmd),
	    cmocka_unit_test(test_cmd_errors),
	    cmocka_unit_test(test_switch_login_shell),
	    cmocka_unit_test(test_esc_tab_cycle),
	    cmocka_unit_test(test_login_failure_and_lock),
	    cmocka_unit_test(test_paging),
	    cmocka_unit_test(test_crashdump_record),
	    cmocka_unit_test(test_bang_console),
	    cmocka_unit_test(test_restart_shutdown),
	    cmocka_unit_test(test_drop_repeat),
	    cmocka_unit_test(test_events_wait_for_pager),
	    cmocka_unit_test(test_repaint_bounded),
	    cmocka_unit_test(test_split_input_and_reboot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
