/*
 * sacsim.c — the Windows EMS/SAC guest's serial side as a state machine
 * (see sacsim.h; texts from ../shared/docs/sac-ems.md, byte for byte).
 *
 * Output model: bytes the "kernel" prints (boot, crash record, !SAC>,
 * shutdown) go straight to the port. The SAC channel and the cmd channels
 * are separate screens: text for a channel that is not on view is kept (the
 * SAC channel queues its events; a cmd channel keeps its transcript) and is
 * shown when the channel is viewed again. A cmd channel repaint is
 * \e[2J \e[1;1H \e[0m and the last 24 lines of its transcript (the real
 * guest repaints an 80x24 cell screen; a transcript tail is what a stream
 * reader sees of it). Returning to the SAC channel prints \e[2J \e[1;1H
 * \e[0m then the queued events, or \r\nSAC> when none queued.
 *
 * Paging (`p`): the SAC channel stops after every SACSIM_PAGE_LINES (23,
 * one 24-row screen less the prompt line) lines of a command's output with
 * ----Press <Enter> for more----; Enter goes on, Ctrl-C drops the rest.
 * The !SAC> `d` command pages every 20 lines, as the kernel does.
 */
#include "sacsim.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emsagent/util.h"

#define SACSIM_LINE_MAX     80  /* the SAC/!SAC line buffer */
#define SACSIM_LINE_VIS     78  /* characters kept before overwriting the last */
#define SACSIM_CMDLINE_MAX  256 /* cmd.exe line in a channel */
#define SACSIM_FIELD_MAX    64  /* login dialog fields */
#define SACSIM_BANG_PAGE    20
#define SACSIM_SCREEN_MAX   8192  /* cmd channel transcript kept for repaints */
#define SACSIM_PENDING_MAX  16384 /* SAC channel output queued while away */
#define SACSIM_MAX_TASKS    96
#define SACSIM_CHAN_LIMIT   64
#define SACSIM_REPAINT_ROWS 24

#define CLR_HOME     "\033[2J\033[1;1H\033[0m"
#define CMD_PROMPT   "C:\\Windows\\system32>"
#define SAC_APP_GUID "63d02270-8aa4-11d5-bccf-806d6172696f"
#define CMD_APP_GUID "63d02271-8aa4-11d5-bccf-00b0d014a2d0"
#define UPDATE_REV   "2655"
/* Wall clock at power-on: 2024-05-14 09:30:00 GMT. */
#define SACSIM_EPOCH_BOOT INT64_C(1715679000)

static const char MSG_INVALID[] =
    "A parameter was incorrect or missing.  Try the 'help' command for more details.\r\n";
static const char MSG_UNKNOWN[] = "Unrecognized command.  Try the 'help' command for more details.\r\n";
static const char MSG_SHUTDOWN[] =
    "The SAC will become unavailable soon.  The computer is shutting down.\r\n\r\n";
static const char MSG_MORE[] = "----Press <Enter> for more----";

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

static const char CH_HELP[] = "Channel management commands:\r\n\r\n"
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
                              "Press <esc><tab>0 to return to the SAC channel.\r\n";

static const char CMD_NOT_REGISTERED[] =
    "Error: Unable to launch a Command Prompt.  The service responsible for launching\r\n"
    "       Command Prompt channels has not yet registered.  This may be because the\r\n"
    "       service is not yet started, is disabled by the administrator, is\r\n"
    "       malfunctioning or is unresponsive.\r\n";

static const char BANG_HELP[] = "\r\nd        Display all log entries, paging is on.\r\n"
                                "help     Display this list.\r\n"
                                "restart  Restart the system immediately.\r\n"
                                "?        Display this list.\r\n\r\n";

/* The headless log `d` shows: what the kernel noted while loading drivers.
 * Offsets are ms after power-on. */
static const struct {
	unsigned ms;
	const char *text;
} BOOTLOG[] = {
    {412, "KERNEL: (Kernel) Loaded \\SystemRoot\\system32\\ntoskrnl.exe"},
    {415, "KERNEL: (Kernel) Loaded \\SystemRoot\\system32\\hal.dll"},
    {431, "KERNEL: (Kernel) Loaded \\SystemRoot\\system32\\kd.dll"},
    {447, "KERNEL: (Kernel) Loaded \\SystemRoot\\system32\\mcupdate_GenuineIntel.dll"},
    {462, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\CLFS.SYS"},
    {478, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\tm.sys"},
    {493, "KERNEL: (Kernel) Loaded \\SystemRoot\\system32\\PSHED.dll"},
    {509, "KERNEL: (Kernel) Loaded \\SystemRoot\\system32\\BOOTVID.dll"},
    {525, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\FLTMGR.SYS"},
    {540, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\msrpc.sys"},
    {556, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\ksecdd.sys"},
    {571, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\clipsp.sys"},
    {587, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\cmimcext.sys"},
    {603, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\werkernel.sys"},
    {618, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\ntosext.sys"},
    {634, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\CI.dll"},
    {650, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\cng.sys"},
    {665, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\Wdf01000.sys"},
    {681, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\WDFLDR.SYS"},
    {696, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\acpiex.sys"},
    {712, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\ACPI.sys"},
    {728, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\WMILIB.SYS"},
    {743, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\pci.sys"},
    {759, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\storport.sys"},
    {774, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\stornvme.sys"},
    {790, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\volmgr.sys"},
    {806, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\ntfs.sys"},
    {821, "KERNEL: (Kernel) Loaded \\SystemRoot\\System32\\drivers\\sacdrv.sys"},
};

/* Processes every guest has, before the scenario's own. */
static const struct {
	unsigned pid;
	const char *name;
	bool critical; /* k/l/r/m refuse it */
} SYSTASKS[] = {
    {0, "System Process", true},  {4, "System", true},          {88, "Registry", true},
    {312, "smss.exe", false},     {420, "csrss.exe", false},    {496, "wininit.exe", false},
    {504, "csrss.exe", false},    {588, "winlogon.exe", false}, {636, "services.exe", false},
    {652, "lsass.exe", false},    {760, "svchost.exe", false},  {904, "svchost.exe", false},
    {1288, "svchost.exe", false},
};

enum cmd_state { CMD_USER, CMD_DOMAIN, CMD_PASS, CMD_SHELL };

struct chan {
	bool used, is_cmd;
	bool shown; /* the login dialog has been put on screen (since creation / lock) */
	enum cmd_state st;
	char name[16];
	char guid[40];
	char user[SACSIM_FIELD_MAX], domain[SACSIM_FIELD_MAX];
	char line[SACSIM_CMDLINE_MAX];
	size_t linelen;
	struct buf screen;
};

struct task {
	unsigned pid;
	char name[64];
	bool critical, alive, lowered;
};

struct sacsim {
	struct sacsim_cfg cfg; /* strings below are owned copies */
	char *str[8];
	char **tasks_owned;
	sacsim_out_fn out;
	void *ctx;

	enum sacsim_state state;
	int64_t boot_ns;
	int64_t clock_off_s; /* `s mm/dd/yyyy hh:mm` moves the wall clock */
	bool cmd_available;
	int64_t cmd_at;       /* INT64_MAX = none pending */
	int64_t shutdown_at;  /* the restart/shutdown 60 s wait */
	bool shutdown_reboot; /* the pending one is a restart */
	int64_t bang_reboot_at;
	bool wants_reboot;
	bool paging, threads;

	/* Keyboard */
	int last_key;
	int64_t last_key_ns;
	bool last_cr;
	bool esc, after_esctab;
	bool switching;
	unsigned switch_target;

	/* SAC line editor (also used by !SAC) */
	char line[SACSIM_LINE_MAX + 1];
	size_t linelen;

	/* pager: remaining text of a paged listing */
	bool paging_wait;
	bool pager_bang; /* the !SAC> d listing */
	struct buf pager;
	size_t pager_off;

	struct buf pending; /* SAC channel text queued while it is not on view */

	struct chan chans[SACSIM_CHAN_LIMIT];
	unsigned nchan_slots;
	unsigned current;
	unsigned cmd_seq;

	struct task tasks[SACSIM_MAX_TASKS];
	size_t ntasks;
	unsigned ip[4], mask[4], gw[4];
};

/* ---- output plumbing ------------------------------------------------- */

static void emit(struct sacsim *s, const void *p, size_t n)
{
	if (n)
		s->out(s->ctx, p, n);
}

static void emits(struct sacsim *s, const char *str)
{
	emit(s, str, strlen(str));
}

static bool sac_visible(const struct sacsim *s)
{
	return s->current == 0 && !s->switching && !s->paging_wait;
}

/* Text of the SAC channel: shown now, or queued until the channel is viewed. */
static void sac_put(struct sacsim *s, const char *str)
{
	size_t n = strlen(str);
	if (sac_visible(s)) {
		emit(s, str, n);
		return;
	}
	if (s->pending.len + n <= SACSIM_PENDING_MAX)
		buf_append(&s->pending, str, n);
}

static void sac_event(struct sacsim *s, const char *text)
{
	char tmp[512];
	snprintf(tmp, sizeof(tmp), "\r\n%sSAC>", text);
	sac_put(s, tmp);
}

static void sac_flush_pending(struct sacsim *s)
{
	if (s->pending.len && sac_visible(s)) {
		emit(s, s->pending.data, s->pending.len);
		buf_reset(&s->pending);
	}
}

/* Keeps a channel's transcript bounded, cutting at a line start. */
static void screen_trim(struct buf *b)
{
	if (b->len <= SACSIM_SCREEN_MAX)
		return;
	size_t cut = b->len - SACSIM_SCREEN_MAX / 2;
	const char *nl = memchr(b->data + cut, '\n', b->len - cut);
	if (nl)
		cut = (size_t)(nl - b->data) + 1;
	memmove(b->data, b->data + cut, b->len - cut);
	b->len -= cut;
	b->data[b->len] = '\0';
}

static void chan_putn(struct sacsim *s, struct chan *c, const char *p, size_t n)
{
	buf_append(&c->screen, p, n);
	screen_trim(&c->screen);
	if (!s->switching && &s->chans[s->current] == c)
		emit(s, p, n);
}

/* Backspace in a channel: the screen shows \b \b, the transcript (what a
 * repaint shows) just loses the character. */
static void chan_erase(struct sacsim *s, struct chan *c)
{
	if (c->screen.len && c->screen.data[c->screen.len - 1] != '\n')
		c->screen.data[--c->screen.len] = '\0';
	if (!s->switching && &s->chans[s->current] == c)
		emits(s, "\b \b");
}

static void chan_put(struct sacsim *s, struct chan *c, const char *str)
{
	chan_putn(s, c, str, strlen(str));
}

/* ---- helpers ------------------------------------------------------------ */

static bool eq_nocase(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
	return *a == *b;
}

/* Decimal number of at most 9 digits, nothing else. */
static int parse_num(const char *t, unsigned long *v)
{
	size_t n = strlen(t);
	if (n == 0 || n > 9)
		return -EINVAL;
	unsigned long r = 0;
	for (size_t i = 0; i < n; i++) {
		if (t[i] < '0' || t[i] > '9')
			return -EINVAL;
		r = r * 10 + (unsigned long)(t[i] - '0');
	}
	*v = r;
	return 0;
}

static int parse_ip(const char *t, unsigned out[4])
{
	unsigned v[4];
	const char *p = t;
	for (int i = 0; i < 4; i++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		unsigned x = 0;
		int digits = 0;
		while (*p >= '0' && *p <= '9' && digits < 4) {
			x = x * 10 + (unsigned)(*p++ - '0');
			digits++;
		}
		if (x > 255 || digits > 3)
			return -EINVAL;
		v[i] = x;
		if (i < 3 && *p++ != '.')
			return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	memcpy(out, v, sizeof(v));
	return 0;
}

/* Splits a line in place at blanks; returns the number of tokens or -E2BIG. */
static int tokenize(char *line, char **tok, int max)
{
	int n = 0;
	char *p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return n;
		if (n == max)
			return -E2BIG;
		tok[n++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
}

static void trim(char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		line[--n] = '\0';
	size_t k = 0;
	while (line[k] == ' ' || line[k] == '\t')
		k++;
	memmove(line, line + k, n - k + 1);
}

static int64_t wall_secs(const struct sacsim *s, int64_t now)
{
	return SACSIM_EPOCH_BOOT + s->clock_off_s + (now - s->boot_ns) / NS_PER_SEC;
}

static struct task *task_find(struct sacsim *s, unsigned long pid)
{
	for (size_t i = 0; i < s->ntasks; i++)
		if (s->tasks[i].alive && s->tasks[i].pid == pid)
			return &s->tasks[i];
	return NULL;
}

/* ---- public configuration -------------------------------------------- */

void sacsim_cfg_default(struct sacsim_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->machine_name = "WIN-EMSSIM01";
	c->guid = "4c4c4544-0042-3510-8051-b3c04f563532";
	c->arch = "AMD64";
	c->os_version = "10.0";
	c->os_build = "20348";
	c->os_product = "Windows Server 2022 Datacenter";
	c->sac_enabled = true;
	c->cmd_delay_ns = 20 * NS_PER_SEC;
	c->max_channels = 10;
	c->user = "Administrator";
	c->domain = "";
	c->password = "P@ssw0rd!";
}

static const char *dup_or(struct sacsim *s, int slot, const char *v, const char *dflt)
{
	s->str[slot] = xstrdup(v ? v : dflt);
	return s->str[slot];
}

struct sacsim *sacsim_new(const struct sacsim_cfg *cfg, sacsim_out_fn out, void *ctx)
{
	struct sacsim *s = xcalloc(1, sizeof(*s));
	struct sacsim_cfg d;
	sacsim_cfg_default(&d);
	s->cfg = *cfg;
	s->cfg.machine_name = dup_or(s, 0, cfg->machine_name, d.machine_name);
	s->cfg.guid = dup_or(s, 1, cfg->guid, d.guid);
	s->cfg.arch = dup_or(s, 2, cfg->arch, d.arch);
	s->cfg.os_version = dup_or(s, 3, cfg->os_version, d.os_version);
	s->cfg.os_build = dup_or(s, 4, cfg->os_build, d.os_build);
	s->cfg.os_product = dup_or(s, 5, cfg->os_product, d.os_product);
	s->cfg.user = dup_or(s, 6, cfg->user, d.user);
	s->cfg.domain = dup_or(s, 7, cfg->domain, d.domain);
	s->cfg.password = cfg->password ? xstrdup(cfg->password) : xstrdup(d.password);
	if (s->cfg.max_channels == 0)
		s->cfg.max_channels = d.max_channels;
	if (s->cfg.max_channels > SACSIM_CHAN_LIMIT)
		s->cfg.max_channels = SACSIM_CHAN_LIMIT;
	size_t nt = 0;
	while (cfg->tasks && cfg->tasks[nt] && nt + ARRAY_LEN(SYSTASKS) < SACSIM_MAX_TASKS)
		nt++;
	s->tasks_owned = xcalloc(nt + 1, sizeof(char *));
	for (size_t i = 0; i < nt; i++)
		s->tasks_owned[i] = xstrdup(cfg->tasks[i]);
	s->cfg.tasks = (const char *const *)s->tasks_owned;
	s->out = out;
	s->ctx = ctx;
	s->state = SACSIM_OFF;
	s->cmd_at = s->shutdown_at = s->bang_reboot_at = INT64_MAX;
	return s;
}

static void chans_free(struct sacsim *s)
{
	for (size_t i = 0; i < SACSIM_CHAN_LIMIT; i++) {
		buf_free(&s->chans[i].screen);
		memset(&s->chans[i], 0, sizeof(s->chans[i]));
	}
}

void sacsim_free(struct sacsim *s)
{
	if (!s)
		return;
	chans_free(s);
	buf_free(&s->pager);
	buf_free(&s->pending);
	for (size_t i = 0; i < ARRAY_LEN(s->str); i++)
		free(s->str[i]);
	if (s->cfg.password) {
		/* The password is the one secret here: leave no copy in freed memory. */
		char *pw = (char *)s->cfg.password;
		memset(pw, 0, strlen(pw));
		free(pw);
	}
	for (size_t i = 0; s->tasks_owned && s->tasks_owned[i]; i++)
		free(s->tasks_owned[i]);
	free(s->tasks_owned);
	free(s);
}

/* ---- boot --------------------------------------------------------------- */

static void chan_guid(char *out, size_t n, unsigned seq)
{
	snprintf(out, n, "e203fb79-d80d-11ea-87e3-c2679e14%04x", 0x9570u + seq);
}

static void reset_runtime(struct sacsim *s, int64_t now)
{
	chans_free(s);
	buf_reset(&s->pager);
	buf_reset(&s->pending);
	s->boot_ns = now;
	s->clock_off_s = 0;
	s->cmd_available = false;
	s->cmd_at = s->shutdown_at = s->bang_reboot_at = INT64_MAX;
	s->wants_reboot = false;
	s->paging = s->cfg.paging;
	s->threads = false;
	s->last_key = -1;
	s->last_cr = s->esc = s->after_esctab = s->switching = false;
	s->paging_wait = s->pager_bang = false;
	s->linelen = 0;
	s->current = 0;
	s->cmd_seq = 0;
	s->chans[0].used = true;
	snprintf(s->chans[0].name, sizeof(s->chans[0].name), "SAC");
	chan_guid(s->chans[0].guid, sizeof(s->chans[0].guid), 0);
	s->ntasks = 0;
	for (size_t i = 0; i < ARRAY_LEN(SYSTASKS); i++) {
		struct task *t = &s->tasks[s->ntasks++];
		t->pid = SYSTASKS[i].pid;
		snprintf(t->name, sizeof(t->name), "%s", SYSTASKS[i].name);
		t->critical = SYSTASKS[i].critical;
		t->alive = true;
		t->lowered = false;
	}
	for (size_t i = 0; s->tasks_owned[i] && s->ntasks < SACSIM_MAX_TASKS; i++) {
		struct task *t = &s->tasks[s->ntasks++];
		t->pid = 2104 + 108 * (unsigned)i;
		snprintf(t->name, sizeof(t->name), "%s", s->tasks_owned[i]);
		t->critical = false;
		t->alive = true;
		t->lowered = false;
	}
	static const unsigned ip[4] = {10, 0, 2, 15}, mask[4] = {255, 255, 255, 0}, gw[4] = {10, 0, 2, 2};
	memcpy(s->ip, ip, sizeof(ip));
	memcpy(s->mask, mask, sizeof(mask));
	memcpy(s->gw, gw, sizeof(gw));
}

void sacsim_boot(struct sacsim *s, int64_t now)
{
	reset_runtime(s, now);
	s->state = SACSIM_BOOTING;
	if (s->cfg.boot_manager)
		emits(s,
		      "\033[2J\033[1;1H\033[0m\033[37;40m"
		      "\033[2;30HWindows Boot Manager"
		      "\033[4;3HChoose an operating system to start, or press TAB to select a tool:"
		      "\033[5;3H(Use the arrow keys to highlight your choice, then press ENTER.)"
		      "\033[7;5H\033[7m"
		      "Windows Server                                                    \033[0m\033[37;40m"
		      "\033[20;3HTo specify an advanced option for this choice, press F8."
		      "\033[22;3HTools:"
		      "\033[24;1HENTER=Choose                      TAB=Menu                      ESC=Cancel");
	if (!s->cfg.sac_enabled)
		return; /* no SAC: the port stays silent unless the scenario prints */
	emits(s, BANNER);
	s->state = SACSIM_SAC;
	if (s->cfg.cmd_delay_ns >= 0)
		s->cmd_at = now + s->cfg.cmd_delay_ns;
}

/* ---- crash ---------------------------------------------------------------- */

static void machine_info(const struct sacsim *s, struct buf *b)
{
	buf_printf(b,
	           "<machine-info>\r\n<name>%s</name>\r\n<guid>%s</guid>\r\n"
	           "<processor-architecture>%s</processor-architecture>\r\n"
	           "<os-version>%s</os-version>\r\n<os-build-number>%s</os-build-number>\r\n"
	           "<os-product>%s</os-product>\r\n<os-service-pack>None</os-service-pack>\r\n"
	           "</machine-info>\r\n",
	           s->cfg.machine_name, s->cfg.guid, s->cfg.arch, s->cfg.os_version, s->cfg.os_build,
	           s->cfg.os_product);
}

void sacsim_crash(struct sacsim *s, uint32_t stopcode, int64_t now)
{
	(void)now;
	if (s->state == SACSIM_OFF || s->state == SACSIM_CRASHED)
		return;
	struct buf b = {0};
	buf_printf(&b,
	           "\a\a\a<?xml>\a<BP>\r\n<INSTANCE CLASSNAME=\"BLUESCREEN\">\r\n"
	           "<PROPERTY NAME=\"STOPCODE\" TYPE=\"string\"><VALUE>\"0x%X\"</VALUE></PROPERTY>",
	           (unsigned)stopcode);
	/* SAC registers the machine-info block; a crash before SAC has none. */
	if (s->state == SACSIM_SAC)
		machine_info(s, &b);
	buf_printf(&b, "\r\n</INSTANCE>\r\n</BP>\a\n\r!SAC>");
	if (s->cfg.mirror_stop_text)
		buf_printf(&b,
		           "\r\n*** STOP: 0x%08X (0x0000000000000000,0x0000000000000000,"
		           "0x0000000000000000,0x0000000000000000)\r\n\r\n"
		           "Beginning dump of physical memory\r\n"
		           "Physical memory dump complete.\r\n"
		           "\n\r!SAC>",
		           (unsigned)stopcode);
	emit(s, b.data, b.len);
	buf_free(&b);
	chans_free(s);
	buf_reset(&s->pending);
	buf_reset(&s->pager);
	s->state = SACSIM_CRASHED;
	s->linelen = 0;
	s->paging_wait = s->switching = s->esc = s->after_esctab = false;
	s->current = 0;
	s->cmd_at = s->shutdown_at = INT64_MAX;
	if (s->cfg.auto_reboot)
		s->wants_reboot = true;
}

void sacsim_print(struct sacsim *s, const void *buf, size_t n)
{
	emit(s, buf, n);
}

/* ---- paging ----------------------------------------------------------------- */

/* Emits up to one page of the pager text; true when it all went out. */
static bool pager_page(struct sacsim *s)
{
	unsigned lines = 0, per = s->pager_bang ? SACSIM_BANG_PAGE : SACSIM_PAGE_LINES;
	const char *p = s->pager.data + s->pager_off, *end = s->pager.data + s->pager.len;
	const char *q = p;
	while (q < end && lines < per) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		q = nl ? nl + 1 : end;
		lines++;
	}
	emit(s, p, (size_t)(q - p));
	s->pager_off = (size_t)(q - s->pager.data);
	if (q < end) {
		emits(s, MSG_MORE);
		return false;
	}
	return true;
}

static void pager_done(struct sacsim *s)
{
	s->paging_wait = false;
	buf_reset(&s->pager);
	s->pager_off = 0;
	if (s->pager_bang) {
		s->pager_bang = false;
		emits(s, "\n\r!SAC>");
		return;
	}
	emits(s, "SAC>");
	sac_flush_pending(s);
}

/* A command's output, followed by the prompt; paged when paging is on. */
static void sac_reply(struct sacsim *s, const char *text, size_t n, bool paged)
{
	if (!paged || n == 0) {
		emit(s, text, n);
		emits(s, s->state == SACSIM_CRASHED ? "\n\r!SAC>" : "SAC>");
		return;
	}
	buf_reset(&s->pager);
	buf_append(&s->pager, text, n);
	s->pager_off = 0;
	s->paging_wait = true;
	if (pager_page(s))
		pager_done(s);
}

static void pager_key(struct sacsim *s, unsigned char c)
{
	if (c == '\r' || c == '\n') {
		emits(s, "\r\n");
		if (pager_page(s))
			pager_done(s);
	} else if (c == 0x03) {
		emits(s, "\r\n");
		pager_done(s);
	}
}

/* ---- channels ---------------------------------------------------------------- */

static unsigned chan_count(const struct sacsim *s)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->cfg.max_channels; i++)
		n += s->chans[i].used;
	return n;
}

static void show_switch_screen(struct sacsim *s, unsigned idx)
{
	const struct chan *c = &s->chans[idx];
	char tmp[1024];
	s->switching = true;
	s->switch_target = idx;
	snprintf(tmp, sizeof(tmp),
	         "\033[2J\033[1;1H"
	         "Name:                  %s\r\n"
	         "Description:           %s\r\n"
	         "Type:                  VT-UTF8\r\n"
	         "Channel GUID:          %s\r\n"
	         "Application Type GUID: %s\r\n\r\n"
	         "Press <esc><tab> for next channel.\r\n"
	         "Press <esc><tab>0 to return to the SAC channel.\r\n"
	         "Use any other key to view this channel.\r\n\r\n",
	         c->name, c->is_cmd ? "Command" : "Special Administration Console", c->guid,
	         c->is_cmd ? CMD_APP_GUID : SAC_APP_GUID);
	emits(s, tmp);
}

static void switch_next(struct sacsim *s)
{
	unsigned from = s->switching ? s->switch_target : s->current;
	unsigned n = s->cfg.max_channels;
	for (unsigned k = 1; k <= n; k++) {
		unsigned i = (from + k) % n;
		if (s->chans[i].used) {
			show_switch_screen(s, i);
			return;
		}
	}
}

static void login_prompt(struct sacsim *s, struct chan *c)
{
	c->st = CMD_USER;
	c->linelen = 0;
	chan_put(s, c, "Please enter login credentials.\r\nUsername: ");
}

static void view_channel(struct sacsim *s, unsigned idx)
{
	s->switching = false;
	s->current = idx;
	struct chan *c = &s->chans[idx];
	emits(s, CLR_HOME);
	if (!c->is_cmd) {
		if (s->pending.len)
			sac_flush_pending(s);
		else
			emits(s, "\r\nSAC>");
		return;
	}
	if (!c->shown) {
		c->shown = true;
		buf_reset(&c->screen);
		login_prompt(s, c);
		return;
	}
	/* Repaint: the tail of the transcript, at most one screen of rows. */
	const char *d = c->screen.data ? c->screen.data : "";
	size_t n = c->screen.len, start = n;
	unsigned rows = 0;
	while (start > 0) {
		if (d[start - 1] == '\n' && start != n && ++rows == SACSIM_REPAINT_ROWS)
			break;
		start--;
	}
	emit(s, d + start, n - start);
}

static void chan_close(struct sacsim *s, unsigned idx, bool as_event)
{
	char tmp[128];
	struct chan *c = &s->chans[idx];
	snprintf(tmp, sizeof(tmp), "EVENT:   A channel has been closed.\r\nChannel: %s\r\n", c->name);
	buf_free(&c->screen);
	memset(c, 0, sizeof(*c));
	if (as_event)
		sac_event(s, tmp);
	else
		sac_reply(s, tmp, strlen(tmp), false);
}

static int chan_by_name(const struct sacsim *s, const char *name)
{
	for (unsigned i = 0; i < s->cfg.max_channels; i++)
		if (s->chans[i].used && eq_nocase(s->chans[i].name, name))
			return (int)i;
	return -1;
}

static void cmd_ch(struct sacsim *s, char **tok, int nt)
{
	struct buf b = {0};
	if (nt == 1) {
		buf_printf(&b, "Channel List\r\n\r\n(Use \"ch -?\" for information on using channels)\r\n\r\n"
		               "# Status  Channel Name\r\n");
		for (unsigned i = 0; i < s->cfg.max_channels; i++)
			if (s->chans[i].used)
				buf_printf(&b, "%u (AV)    %s\r\n", i, s->chans[i].name);
		sac_reply(s, b.data, b.len, s->paging);
		buf_free(&b);
		return;
	}
	const char *op = tok[1];
	if (nt == 2 && strcmp(op, "-?") == 0) {
		sac_reply(s, CH_HELP, strlen(CH_HELP), s->paging);
		return;
	}
	int idx = -1;
	if (nt != 3) {
		sac_reply(s, MSG_INVALID, strlen(MSG_INVALID), false);
		return;
	}
	if (strcmp(op, "-si") == 0 || strcmp(op, "-ci") == 0) {
		unsigned long v;
		if (parse_num(tok[2], &v) < 0) {
			sac_reply(s, MSG_INVALID, strlen(MSG_INVALID), false);
			return;
		}
		if (v < s->cfg.max_channels && s->chans[v].used)
			idx = (int)v;
		if (idx < 0) {
			static const char e[] =
			    "Error: There is no channel present at the specified index.\r\n";
			sac_reply(s, e, strlen(e), false);
			return;
		}
	} else if (strcmp(op, "-sn") == 0 || strcmp(op, "-cn") == 0) {
		idx = chan_by_name(s, tok[2]);
		if (idx < 0) {
			static const char e[] = "Error: Could not find a channel with that name.\r\n";
			sac_reply(s, e, strlen(e), false);
			return;
		}
	} else {
		sac_reply(s, MSG_INVALID, strlen(MSG_INVALID), false);
		return;
	}
	if (op[1] == 's') {
		show_switch_screen(s, (unsigned)idx);
		return;
	}
	if (idx == 0) {
		static const char e[] = "Error: The SAC channel cannot be closed.\r\n";
		sac_reply(s, e, strlen(e), false);
		return;
	}
	chan_close(s, (unsigned)idx, false);
}

static void cmd_cmd(struct sacsim *s)
{
	const char *err = NULL;
	if (!s->cmd_available)
		err = CMD_NOT_REGISTERED;
	else if (s->cfg.cmd_disabled)
		err = "Launching of Command Prompt channels is disabled.\r\n";
	else if (chan_count(s) >= s->cfg.max_channels)
		err = "The maximum number of channels has been reached.\r\n";
	if (err) {
		sac_reply(s, err, strlen(err), false);
		return;
	}
	unsigned idx = 1;
	while (s->chans[idx].used)
		idx++;
	struct chan *c = &s->chans[idx];
	memset(c, 0, sizeof(*c));
	c->used = c->is_cmd = true;
	s->cmd_seq++;
	snprintf(c->name, sizeof(c->name), "Cmd%04u", s->cmd_seq % 10000);
	chan_guid(c->guid, sizeof(c->guid), s->cmd_seq);
	static const char ok[] = "The Command Prompt session was successfully launched.\r\n";
	sac_reply(s, ok, strlen(ok), false);
	char ev[160];
	snprintf(
	    ev, sizeof(ev),
	    "EVENT:   A new channel has been created.  Use \"ch -?\" for channel help.\r\nChannel: %s\r\n",
	    c->name);
	sac_event(s, ev);
}

/* ---- SAC commands ---------------------------------------------------------- */

static void cmd_t(struct sacsim *s, int64_t now)
{
	struct buf b = {0};
	int64_t up_ms = (now - s->boot_ns) / NS_PER_MS;
	long days = (long)(up_ms / 86400000), h = (long)(up_ms / 3600000 % 24),
	     m = (long)(up_ms / 60000 % 60), sec = (long)(up_ms / 1000 % 60), ms = (long)(up_ms % 1000);
	buf_printf(&b, "memory: %4ld kb  uptime:%3ld %2ld:%02ld:%02ld.%03ld\r\n\r\n\r\n", 4193844L, days, h,
	           m, sec, ms);
	buf_printf(&b, "PageFile: \\??\\C:\\pagefile.sys\r\n");
	buf_printf(&b, "        Current Size: %6ld kb  Total Used: %6ld kb   Peak Used %6ld kb\r\n", 1310720L,
	           18244L, 20480L);
	buf_printf(&b, "\r\n Memory:%7ldK Avail:%7ldK  TotalWs:%7ldK InRam Kernel:%5ldK P:%5ldK\r\n",
	           4193844L, 2871204L, 1021932L, 12288L, 98304L);
	buf_printf(&b, " Commit:%7ldK/%7ldK Limit:%7ldK Peak:%7ldK  Pool N:%5ldK P:%5ldK\r\n", 1304312L,
	           1304312L, 5504564L, 1412096L, 61440L, 159744L);
	buf_printf(&b, "\r\n    User Time   Kernel Time    Ws   Faults  Commit Pri Hnd Thd  Pid Name\r\n");
	buf_printf(&b, "                           %6ld %8ld                          File Cache\r\n", 65536L,
	           40960L);
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct task *t = &s->tasks[i];
		if (!t->alive)
			continue;
		long k = (long)t->pid;
		buf_printf(
		    &b,
		    "%3ld:%02ld:%02ld.%03ld %3ld:%02ld:%02ld.%03ld%6ld %8ld %7ld %2ld %4ld %3ld %4ld %s\r\n",
		    0L, 0L, k % 60, (k * 7) % 1000, 0L, 0L, (k / 3) % 60, (k * 13) % 1000, 4096 + k * 3,
		    1000 + k * 11, 1024 + k * 2, t->lowered ? 4L : 8L, 100 + k % 700, 1 + k % 17, k, t->name);
	}
	if (s->threads) {
		for (size_t i = 0; i < s->ntasks; i++) {
			const struct task *t = &s->tasks[i];
			if (!t->alive)
				continue;
			long k = (long)t->pid;
			buf_printf(&b, "\r\npid:%3lx pri:%2ld Hnd:%5ld Pf:%7ld Ws:%7ldK %s\r\n",
			           (unsigned long)k, t->lowered ? 4L : 8L, 100 + k % 700, 1000 + k * 11,
			           4096 + k * 3, t->name);
			buf_printf(&b, " tid pri Ctx Swtch StrtAddr    User Time  Kernel Time  State\r\n");
			buf_printf(
			    &b,
			    " %3lx  %2ld %9ld %016lX %2ld:%02ld:%02ld.%03ld %2ld:%02ld:%02ld.%03ld %s%s\r\n",
			    (unsigned long)(k + 4), 9L, 1200 + k * 5,
			    0x7FF6A1B20000UL + (unsigned long)k * 16, 0L, 0L, k % 60, 15L, 0L, 0L,
			    (k / 3) % 60, 31L, "Wait:", "UserRequest");
		}
	}
	sac_reply(s, b.data, b.len, s->paging);
	buf_free(&b);
}

static void bootlog(struct buf *b)
{
	time_t base = (time_t)SACSIM_EPOCH_BOOT;
	struct tm tm;
	gmtime_r(&base, &tm);
	for (size_t i = 0; i < ARRAY_LEN(BOOTLOG); i++) {
		unsigned ms = BOOTLOG[i].ms;
		buf_printf(b, "%02d:%02d:%02u.%03u : %s\r\n", tm.tm_hour, tm.tm_min,
		           (unsigned)tm.tm_sec + ms / 1000, ms % 1000, BOOTLOG[i].text);
	}
}

static void cmd_id(struct sacsim *s)
{
	struct buf b = {0};
	buf_printf(&b,
	           "           Computer Name: %s\r\n"
	           "           Computer GUID: %s\r\n"
	           "  Processor Architecture: %s\r\n"
	           "            Build Number: %s\r\n"
	           "                 Product: %s\r\n"
	           "    Applied Service Pack: None\r\n"
	           "          Version Number: %s\r\n",
	           s->cfg.machine_name, s->cfg.guid, s->cfg.arch, s->cfg.os_build, s->cfg.os_product,
	           s->cfg.os_version);
	sac_reply(s, b.data, b.len, s->paging);
	buf_free(&b);
}

static void cmd_i(struct sacsim *s, char **tok, int nt)
{
	char tmp[256];
	const char *msg;
	if (nt == 1) {
		snprintf(tmp, sizeof(tmp),
		         "SAC is retrieving IP Addresses...\r\n"
		         "Net: 10, Ip=%u.%u.%u.%u  Subnet=%u.%u.%u.%u  Gateway=%u.%u.%u.%u\r\n",
		         s->ip[0], s->ip[1], s->ip[2], s->ip[3], s->mask[0], s->mask[1], s->mask[2],
		         s->mask[3], s->gw[0], s->gw[1], s->gw[2], s->gw[3]);
		sac_reply(s, tmp, strlen(tmp), s->paging);
		return;
	}
	unsigned long net;
	unsigned ip[4], mask[4], gw[4];
	if (nt > 5)
		msg = MSG_INVALID;
	else if (parse_num(tok[1], &net) < 0)
		msg = "Error, missing network interface number.\r\n";
	else if (nt < 3 || parse_ip(tok[2], ip) < 0)
		msg = "The specified IP address is invalid.\r\n";
	else if (nt < 4 || parse_ip(tok[3], mask) < 0)
		msg = "The specified subnet mask is invalid.\r\n";
	else if (nt < 5 || parse_ip(tok[4], gw) < 0)
		msg = "The specified gateway IP address is invalid.\r\n";
	else if (net != 10)
		msg = "SAC could not set the IP Address.\r\n";
	else {
		memcpy(s->ip, ip, sizeof(ip));
		memcpy(s->mask, mask, sizeof(mask));
		memcpy(s->gw, gw, sizeof(gw));
		msg = "SAC successfully set the IP Address, subnet mask, and gateway.\r\n";
	}
	sac_reply(s, msg, strlen(msg), false);
}

static void cmd_pid(struct sacsim *s, char letter, char **tok, int nt)
{
	unsigned long pid, mb = 0;
	const char *msg;
	if (nt != (letter == 'm' ? 3 : 2) || parse_num(tok[1], &pid) < 0 ||
	    (letter == 'm' && (parse_num(tok[2], &mb) < 0 || mb == 0))) {
		sac_reply(s, MSG_INVALID, strlen(MSG_INVALID), false);
		return;
	}
	struct task *t = task_find(s, pid);
	bool ok = t && !t->critical;
	switch (letter) {
	case 'k':
		msg = ok ? "SAC successfully terminated the process.\r\n"
		         : "SAC failed to terminate the process.\r\n";
		if (ok)
			t->alive = false;
		break;
	case 'l':
		msg = ok ? "SAC successfully lowered the process priority.\r\n"
		         : "SAC failed to lower the process priority.\r\n";
		if (ok)
			t->lowered = true;
		break;
	case 'r':
		if (!ok)
			msg = "SAC failed to raise the process priority.\r\n";
		else if (!t->lowered)
			msg =
			    "SAC cannot raise the priority of a process that was not previously lowered.\r\n";
		else {
			t->lowered = false;
			msg = "SAC successfully raised the process priority.\r\n";
		}
		break;
	default:
		msg = ok ? "SAC successfully limited the available process memory.\r\n"
		         : "SAC failed to limit the available process memory.\r\n";
		break;
	}
	sac_reply(s, msg, strlen(msg), false);
}

/* Splits `t` at `sep` into exactly n decimal fields of 1..maxd[i] digits. */
static int split_nums(const char *t, char sep, size_t n, const unsigned *maxd, unsigned long *v)
{
	for (size_t i = 0; i < n; i++) {
		const char *e = strchr(t, sep);
		if (i + 1 == n)
			e = t + strlen(t);
		else if (!e)
			return -EINVAL;
		size_t len = (size_t)(e - t);
		char part[8];
		if (len == 0 || len > maxd[i])
			return -EINVAL;
		memcpy(part, t, len);
		part[len] = '\0';
		if (parse_num(part, &v[i]) < 0)
			return -EINVAL;
		t = e + (i + 1 < n);
	}
	return 0;
}

/* `s mm/dd/yyyy hh:mm`: the fields must be exactly that shape. */
static int parse_datetime(const char *d, const char *t, struct tm *tm)
{
	static const unsigned dmax[3] = {2, 2, 4}, tmax[2] = {2, 2};
	static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned long dv[3], tv[2];
	if (split_nums(d, '/', 3, dmax, dv) < 0 || split_nums(t, ':', 2, tmax, tv) < 0)
		return -EINVAL;
	unsigned long mo = dv[0], dd = dv[1], yy = dv[2];
	if (mo < 1 || mo > 12 || dd < 1 || dd > mdays[mo - 1] || tv[0] > 23 || tv[1] > 59)
		return -EINVAL;
	if (mo == 2 && dd == 29 && !(yy % 4 == 0 && (yy % 100 != 0 || yy % 400 == 0)))
		return -EINVAL;
	if (yy < 1980 || yy > 2099)
		return -ERANGE;
	memset(tm, 0, sizeof(*tm));
	tm->tm_year = (int)yy - 1900;
	tm->tm_mon = (int)mo - 1;
	tm->tm_mday = (int)dd;
	tm->tm_hour = (int)tv[0];
	tm->tm_min = (int)tv[1];
	return 0;
}

static void cmd_s(struct sacsim *s, char **tok, int nt, int64_t now)
{
	char tmp[128];
	if (nt == 1) {
		time_t w = (time_t)wall_secs(s, now);
		struct tm tm;
		gmtime_r(&w, &tm);
		snprintf(tmp, sizeof(tmp), "Date: %02d/%02d/%02d  Time (GMT): %02d:%02d:%02d:%04d\r\n",
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
		         (int)((now - s->boot_ns) % NS_PER_SEC / NS_PER_MS));
		sac_reply(s, tmp, strlen(tmp), false);
		return;
	}
	struct tm tm;
	int r = nt == 3 ? parse_datetime(tok[1], tok[2], &tm) : -EINVAL;
	if (r == -ERANGE) {
		static const char e[] = "The year is restricted from 1980 to 2099.\r\n";
		sac_reply(s, e, strlen(e), false);
		return;
	}
	if (r < 0) {
		sac_reply(s, MSG_INVALID, strlen(MSG_INVALID), false);
		return;
	}
	int mo = tm.tm_mon + 1, dd = tm.tm_mday, yy = tm.tm_year + 1900, hh = tm.tm_hour, mi = tm.tm_min;
	int64_t target = (int64_t)timegm(&tm);
	/* The wall clock reads `target` at `now`. */
	s->clock_off_s = target - SACSIM_EPOCH_BOOT - (now - s->boot_ns) / NS_PER_SEC;
	snprintf(tmp, sizeof(tmp), "Date: %02d/%02d/%02d  Time (GMT): %02d:%02d\r\n", mo, dd, yy, hh, mi);
	sac_reply(s, tmp, strlen(tmp), false);
}

static void cmd_power(struct sacsim *s, bool reboot, int64_t now)
{
	if (now - s->boot_ns < 60 * NS_PER_SEC) {
		/* SAC will not act before a minute of uptime: say so, act on a tick. */
		sac_event(s, reboot ? "SAC preparing to restart the system.\r\n"
		                    : "SAC preparing to shutdown the system.\r\n");
		s->shutdown_at = s->boot_ns + 60 * NS_PER_SEC;
		s->shutdown_reboot = reboot;
		return;
	}
	s->shutdown_reboot = reboot;
	s->shutdown_at = now;
	sacsim_tick(s, now);
}

static bool word_is(const char *line, const char *w)
{
	size_t n = strlen(w);
	return strncmp(line, w, n) == 0 && (line[n] == '\0' || line[n] == ' ' || line[n] == '\t');
}

static void sac_exec(struct sacsim *s, char *line, int64_t now)
{
	trim(line);
	for (char *p = line; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	char *tok[8];
	char work[SACSIM_LINE_MAX + 1];
	snprintf(work, sizeof(work), "%s", line);
	int nt = tokenize(work, tok, (int)ARRAY_LEN(tok));

	if (line[0] == '\0') {
		emits(s, "SAC>");
	} else if (line[0] == 't') {
		cmd_t(s, now);
	} else if (line[0] == '?' || strncmp(line, "help", 4) == 0) {
		sac_reply(s, HELP, strlen(HELP), s->paging);
	} else if (line[0] == 'f') {
		s->threads = !s->threads;
		const char *m =
		    s->threads ? "Thread information is now ON.\r\n" : "Thread information is now OFF.\r\n";
		sac_reply(s, m, strlen(m), false);
	} else if (line[0] == 'p') {
		s->paging = !s->paging;
		const char *m = s->paging ? "Paging is now ON.\r\n" : "Paging is now OFF.\r\n";
		sac_reply(s, m, strlen(m), false);
	} else if (strncmp(line, "id", 2) == 0) {
		cmd_id(s);
	} else if (strncmp(line, "crashdump", 9) == 0) {
		sacsim_crash(s, 0xE2, now);
	} else if (strncmp(line, "lock", 4) == 0) {
		for (unsigned i = 1; i < s->cfg.max_channels; i++) {
			struct chan *c = &s->chans[i];
			if (c->used && c->is_cmd) {
				c->shown = false;
				c->st = CMD_USER;
				c->linelen = 0;
			}
		}
		static const char m[] = "Locked access to all Command Prompt channels.\r\n";
		sac_reply(s, m, strlen(m), false);
	} else if (strncmp(line, "shutdown", 8) == 0) {
		cmd_power(s, false, now);
	} else if (strncmp(line, "restart", 7) == 0) {
		cmd_power(s, true, now);
	} else if (line[0] == 'd') {
		struct buf b = {0};
		bootlog(&b);
		sac_reply(s, b.data, b.len, s->paging);
		buf_free(&b);
	} else if (strncmp(line, "cmd", 3) == 0) {
		cmd_cmd(s);
	} else if (nt < 0 &&
	           (word_is(line, "ch") || word_is(line, "k") || word_is(line, "l") || word_is(line, "r") ||
	            word_is(line, "m") || word_is(line, "s") || word_is(line, "i"))) {
		sac_reply(s, MSG_INVALID, strlen(MSG_INVALID), false);
	} else if (word_is(line, "ch")) {
		cmd_ch(s, tok, nt);
	} else if (word_is(line, "k") || word_is(line, "l") || word_is(line, "r") || word_is(line, "m")) {
		cmd_pid(s, line[0], tok, nt);
	} else if (word_is(line, "s")) {
		cmd_s(s, tok, nt, now);
	} else if (word_is(line, "i")) {
		cmd_i(s, tok, nt);
	} else {
		sac_reply(s, MSG_UNKNOWN, strlen(MSG_UNKNOWN), false);
	}
}

/* ---- line editors --------------------------------------------------------- */

/* The SAC channel's editor. */
static void sac_key(struct sacsim *s, unsigned char c, int64_t now)
{
	if (c == '\r' || c == '\n' || c == 0x03) {
		if (c != 0x03)
			emits(s, "\r\n");
		s->line[s->linelen] = '\0';
		s->linelen = 0;
		char line[SACSIM_LINE_MAX + 1];
		memcpy(line, s->line, sizeof(line));
		sac_exec(s, line, now);
		return;
	}
	if (c == '\b' || c == 0x7f) {
		if (s->linelen) {
			s->linelen--;
			emits(s, "\b \b");
		}
		return;
	}
	if (c == '\t') {
		emits(s, "\a");
		return;
	}
	if (c < 0x20 || c >= 0x7f)
		return;
	if (s->linelen >= SACSIM_LINE_VIS) {
		s->line[s->linelen - 1] = (char)c;
		char o[2] = {'\b', (char)c};
		emit(s, o, 2);
		return;
	}
	s->line[s->linelen++] = (char)c;
	emit(s, &c, 1);
}

static void bang_exec(struct sacsim *s, char *line, int64_t now)
{
	trim(line);
	if (line[0] == '\0') {
		emits(s, "\n\r!SAC>");
	} else if (eq_nocase(line, "?") || eq_nocase(line, "help")) {
		emits(s, BANG_HELP);
		emits(s, "\n\r!SAC>");
	} else if (eq_nocase(line, "d")) {
		struct buf b = {0};
		bootlog(&b);
		s->pager_bang = true;
		sac_reply(s, b.data, b.len, true);
		buf_free(&b);
	} else if (eq_nocase(line, "restart")) {
		s->bang_reboot_at = now + NS_PER_SEC;
	} else {
		emits(s, "Type ? or Help for a list of commands.\r\n\n\r!SAC>");
	}
}

/* The !SAC> editor: like SAC's, but TAB and ESC ring the bell and Ctrl-C
 * stays in the line. */
static void bang_key(struct sacsim *s, unsigned char c, int64_t now)
{
	if (s->bang_reboot_at != INT64_MAX)
		return;
	if (s->paging_wait) {
		pager_key(s, c);
		return;
	}
	if (c == '\r' || c == '\n' || c == 0x03) {
		if (c == 0x03 && s->linelen < SACSIM_LINE_VIS)
			s->line[s->linelen++] = 0x03;
		else if (c != 0x03)
			emits(s, "\r\n");
		s->line[s->linelen] = '\0';
		s->linelen = 0;
		char line[SACSIM_LINE_MAX + 1];
		memcpy(line, s->line, sizeof(line));
		bang_exec(s, line, now);
		return;
	}
	if (c == '\t' || c == 0x1b) {
		emits(s, "\a");
		return;
	}
	sac_key(s, c, now); /* printable / BS / DEL: same rules */
}

static void cmd_shell_exec(struct sacsim *s, struct chan *c, unsigned idx)
{
	char line[SACSIM_CMDLINE_MAX];
	memcpy(line, c->line, c->linelen);
	line[c->linelen] = '\0';
	c->linelen = 0;
	trim(line);
	if (line[0] == '\0') {
		chan_put(s, c, CMD_PROMPT);
		return;
	}
	char word[SACSIM_CMDLINE_MAX];
	size_t w = 0;
	while (line[w] && line[w] != ' ' && line[w] != '\t') {
		word[w] = line[w];
		w++;
	}
	word[w] = '\0';
	const char *rest = line + w;
	while (*rest == ' ' || *rest == '\t')
		rest++;
	struct buf b = {0};
	if (eq_nocase(word, "exit")) {
		chan_close(s, idx, true);
		show_switch_screen(s, 0);
		return;
	} else if (eq_nocase(word, "echo")) {
		buf_printf(&b, "%s\r\n", *rest ? rest : "ECHO is on.");
	} else if (eq_nocase(word, "ver")) {
		buf_printf(&b, "\r\nMicrosoft Windows [Version %s.%s.%s]\r\n", s->cfg.os_version,
		           s->cfg.os_build, UPDATE_REV);
	} else if (eq_nocase(word, "hostname")) {
		buf_printf(&b, "%s\r\n", s->cfg.machine_name);
	} else if (eq_nocase(word, "ipconfig")) {
		buf_printf(&b,
		           "\r\nWindows IP Configuration\r\n\r\n\r\nEthernet adapter Ethernet:\r\n\r\n"
		           "   Connection-specific DNS Suffix  . : \r\n"
		           "   IPv4 Address. . . . . . . . . . . : %u.%u.%u.%u\r\n"
		           "   Subnet Mask . . . . . . . . . . . : %u.%u.%u.%u\r\n"
		           "   Default Gateway . . . . . . . . . : %u.%u.%u.%u\r\n",
		           s->ip[0], s->ip[1], s->ip[2], s->ip[3], s->mask[0], s->mask[1], s->mask[2],
		           s->mask[3], s->gw[0], s->gw[1], s->gw[2], s->gw[3]);
	} else {
		buf_printf(&b,
		           "'%s' is not recognized as an internal or external command,\r\n"
		           "operable program or batch file.\r\n",
		           word);
	}
	buf_printf(&b, "\r\n" CMD_PROMPT);
	chan_putn(s, c, b.data, b.len);
	buf_free(&b);
}

static void cmd_login_step(struct sacsim *s, struct chan *c)
{
	size_t n = c->linelen < SACSIM_FIELD_MAX - 1 ? c->linelen : SACSIM_FIELD_MAX - 1;
	switch (c->st) {
	case CMD_USER:
		memcpy(c->user, c->line, n);
		c->user[n] = '\0';
		c->st = CMD_DOMAIN;
		c->linelen = 0;
		chan_put(s, c, "Domain  :");
		return;
	case CMD_DOMAIN:
		memcpy(c->domain, c->line, n);
		c->domain[n] = '\0';
		c->st = CMD_PASS;
		c->linelen = 0;
		chan_put(s, c, "Password: ");
		return;
	default:
		break;
	}
	bool ok = eq_nocase(c->user, s->cfg.user) &&
	          (c->domain[0] == '\0' || eq_nocase(c->domain, s->cfg.domain) ||
	           eq_nocase(c->domain, s->cfg.machine_name)) &&
	          c->linelen == strlen(s->cfg.password) && memcmp(c->line, s->cfg.password, c->linelen) == 0;
	/* The typed password is not kept past this check. */
	memset(c->line, 0, sizeof(c->line));
	c->linelen = 0;
	memset(c->domain, 0, sizeof(c->domain));
	if (!ok) {
		chan_put(s, c, "Unable to authenticate.\r\n\r\n");
		login_prompt(s, c);
		return;
	}
	c->st = CMD_SHELL;
	char tmp[256];
	snprintf(tmp, sizeof(tmp),
	         "\r\nMicrosoft Windows [Version %s.%s.%s]\r\n(c) Microsoft Corporation. All rights "
	         "reserved.\r\n\r\n" CMD_PROMPT,
	         s->cfg.os_version, s->cfg.os_build, UPDATE_REV);
	chan_put(s, c, tmp);
}

/* Keys typed into a cmd channel on view. */
static void cmd_key(struct sacsim *s, unsigned idx, unsigned char c)
{
	struct chan *ch = &s->chans[idx];
	if (c == '\r' || c == '\n') {
		chan_put(s, ch, "\r\n");
		if (ch->st == CMD_SHELL)
			cmd_shell_exec(s, ch, idx);
		else
			cmd_login_step(s, ch);
		return;
	}
	if (c == 0x03) {
		if (ch->st == CMD_SHELL) {
			ch->linelen = 0;
			chan_put(s, ch, "^C\r\n" CMD_PROMPT);
		}
		return;
	}
	if (c == '\b' || c == 0x7f) {
		if (ch->linelen) {
			ch->linelen--;
			chan_erase(s, ch);
		}
		return;
	}
	if (c < 0x20 || c >= 0x7f || ch->linelen >= SACSIM_CMDLINE_MAX - 1)
		return;
	ch->line[ch->linelen++] = (char)c;
	char e = ch->st == CMD_PASS ? '*' : (char)c;
	chan_putn(s, ch, &e, 1);
}

/* One byte from the port, after the guest's quirks. */
static void key(struct sacsim *s, unsigned char c, int64_t now)
{
	/* CRLF counts once, whatever consumes the CR. */
	if (c == '\n' && s->last_cr) {
		s->last_cr = false;
		return;
	}
	s->last_cr = c == '\r';
	if (s->state == SACSIM_CRASHED) {
		bang_key(s, c, now);
		return;
	}
	if (s->esc) {
		s->esc = false;
		if (c == '\t') {
			switch_next(s);
			s->after_esctab = true;
			return;
		}
		if (c == 0x1b) {
			/* Esc Esc: the first is the lone one; the second may start a switch. */
			if (!s->switching && s->current != 0)
				cmd_key(s, s->current, 0x1b);
			s->esc = true;
			return;
		}
		/* Not a switch: a cmd channel gets the Esc too; SAC drops it. */
		if (!s->switching && s->current != 0)
			cmd_key(s, s->current, 0x1b);
	} else if (c == 0x1b) {
		s->esc = true;
		s->after_esctab = false;
		return;
	}
	if (s->after_esctab) {
		s->after_esctab = false;
		if (c == '0') {
			view_channel(s, 0);
			return;
		}
	}
	if (s->switching) {
		view_channel(s, s->switch_target);
		return;
	}
	if (s->paging_wait) {
		pager_key(s, c);
		return;
	}
	if (s->current == 0)
		sac_key(s, c, now);
	else
		cmd_key(s, s->current, c);
}

void sacsim_input(struct sacsim *s, const void *buf, size_t n, int64_t now)
{
	const unsigned char *p = buf;
	for (size_t i = 0; i < n; i++) {
		if (s->state == SACSIM_OFF || s->state == SACSIM_BOOTING)
			return;
		if (s->cfg.drop_repeat_ns > 0 && p[i] == s->last_key &&
		    now - s->last_key_ns < s->cfg.drop_repeat_ns)
			continue; /* the guest lost a fast repeat */
		s->last_key = p[i];
		s->last_key_ns = now;
		key(s, p[i], now);
	}
}

void sacsim_tick(struct sacsim *s, int64_t now)
{
	if (s->state == SACSIM_SAC && now >= s->cmd_at) {
		s->cmd_at = INT64_MAX;
		s->cmd_available = true;
		sac_event(s, "EVENT: The CMD command is now available.\r\n");
	}
	if (s->state == SACSIM_SAC && now >= s->shutdown_at) {
		s->shutdown_at = INT64_MAX;
		emits(s, "\r\n");
		emits(s, MSG_SHUTDOWN);
		chans_free(s);
		s->state = SACSIM_OFF;
		s->wants_reboot = s->shutdown_reboot;
	}
	if (s->state == SACSIM_CRASHED && now >= s->bang_reboot_at) {
		s->bang_reboot_at = INT64_MAX;
		s->state = SACSIM_OFF;
		s->wants_reboot = true;
	}
}

int64_t sacsim_next_deadline(const struct sacsim *s)
{
	int64_t d = INT64_MAX;
	if (s->state == SACSIM_SAC) {
		if (s->cmd_at < d)
			d = s->cmd_at;
		if (s->shutdown_at < d)
			d = s->shutdown_at;
	}
	if (s->state == SACSIM_CRASHED && s->bang_reboot_at < d)
		d = s->bang_reboot_at;
	return d;
}

enum sacsim_state sacsim_state(const struct sacsim *s)
{
	return s->state;
}

bool sacsim_wants_reboot(struct sacsim *s)
{
	bool w = s->wants_reboot;
	s->wants_reboot = false;
	return w;
}

const char *sacsim_channel(const struct sacsim *s)
{
	return s->chans[s->current].used ? s->chans[s->current].name : "SAC";
}

unsigned sacsim_nchannels(const struct sacsim *s)
{
	return s->state == SACSIM_SAC ? chan_count(s) : 0;
}
