/*
 * sacsim.h — a Windows EMS/SAC guest's serial side, as a pure state machine
 * (docs: ../shared/docs/sac-ems.md, followed to the byte).
 *
 * Bytes the agent types go in (sacsim_input); bytes the guest prints come out
 * of the output callback, synchronously. Time is passed in by the caller (the
 * guestsim server scales it), so the same machine runs in unit tests with a
 * fake clock and in guestsim with a real one.
 *
 * It owns: the boot sequence (optional boot-manager screen, ESC[2J + SAC
 * banner + SAC>, the CMD event after cmd_delay), the SAC line editor (echo,
 * \b \b, BEL on TAB, CR/LF/CRLF, Ctrl-C, 80-char buffer, lower-casing,
 * prefix matching), every SAC command with its exact text, paging, channels
 * (Esc Tab, Esc Tab 0, ch -si/-sn/-ci/-cn, switching screen), cmd channels
 * Cmd0001… with the login dialog and a small cmd.exe (echo, ver, hostname,
 * ipconfig, exit), lock, crashdump → <BP> record + \n\r!SAC>, the !SAC>
 * console, NMI (sacsim_crash with 0x80), restart/shutdown texts, and guest
 * quirks (dropping fast repeated keys).
 * Lifecycle: sacsim_new → sacsim_boot → input/tick … → sacsim_free.
 *
 * Screens: text for a channel that is not on view is held back — the SAC
 * channel queues its events until it is viewed again (a view prints
 * \e[2J\e[1;1H\e[0m then the queued events, or \r\nSAC>); a cmd channel
 * repaint is \e[2J\e[1;1H\e[0m + the last 24 lines of its transcript, so
 * old text (e.g. an earlier "Unable to authenticate.") shows again, as on a
 * real 80x24 channel screen. Kernel output (crash record, !SAC>, shutdown
 * text) always goes straight out. With paging on, SAC output stops every
 * SACSIM_PAGE_LINES lines at ----Press <Enter> for more----; !SAC> `d`
 * every 20.
 */
#ifndef EMSAGENT_SACSIM_H
#define EMSAGENT_SACSIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SACSIM_PAGE_LINES 23 /* one 24-row screen less the prompt line */

struct sacsim_cfg {
	const char *machine_name; /* default "WIN-EMSSIM01" */
	const char *guid;         /* default a fixed lower-case GUID */
	const char *arch;         /* default "AMD64" */
	const char *os_version;   /* default "10.0" */
	const char *os_build;     /* default "20348" */
	const char *os_product;   /* default "Windows Server 2022 Datacenter" */
	bool sac_enabled;         /* false: no SAC at all (an Azure health report is the scenario's job) */
	bool boot_manager;        /* print the boot manager screen before the kernel starts */
	int64_t cmd_delay_ns;     /* boot → "EVENT: The CMD command is now available."; < 0 = never */
	bool cmd_disabled;        /* "Launching of Command Prompt channels is disabled." */
	unsigned max_channels;    /* all channels incl. SAC; default 10 */
	const char *user, *domain,
	    *password;            /* the one account that logs in; default Administrator / "" / "P@ssw0rd!" */
	const char *const *tasks; /* process names `t` lists (besides the system ones); NULL-terminated */
	bool auto_reboot; /* after a crash: the caller reboots (sacsim_wants_reboot) instead of staying at
	                     !SAC> */
	bool mirror_stop_text;  /* print the classic "*** STOP: 0x…" blue-screen text after <BP> */
	int64_t drop_repeat_ns; /* > 0: an identical key typed within this of the previous one is lost */
	bool paging;            /* paging on at boot (default off) */
};
void sacsim_cfg_default(struct sacsim_cfg *c);

enum sacsim_state {
	SACSIM_OFF,     /* before boot, or after shutdown */
	SACSIM_BOOTING, /* boot manager / kernel starting, SAC not up yet */
	SACSIM_SAC,     /* SAC running (any channel) */
	SACSIM_CRASHED, /* !SAC> */
};

typedef void (*sacsim_out_fn)(void *ctx, const void *buf, size_t n);

struct sacsim;

struct sacsim *sacsim_new(const struct sacsim_cfg *cfg, sacsim_out_fn out, void *ctx);
void sacsim_free(struct sacsim *s);
/* Power on (or reboot): prints the boot sequence; SAC is up at once (the
 * banner), the CMD event comes cmd_delay_ns later (on a tick). */
void sacsim_boot(struct sacsim *s, int64_t now);
/* Bytes the agent sent. */
void sacsim_input(struct sacsim *s, const void *buf, size_t n, int64_t now);
/* Time passes: timed events happen (CMD event, a restart's 60 s wait, …). */
void sacsim_tick(struct sacsim *s, int64_t now);
/* The next time sacsim_tick has something to do, or INT64_MAX. */
int64_t sacsim_next_deadline(const struct sacsim *s);
/* A bugcheck (crashdump uses 0xE2; an NMI 0x80; a scenario any code). */
void sacsim_crash(struct sacsim *s, uint32_t stopcode, int64_t now);
/* Scenario text printed by "the OS" (raw bytes, e.g. a stuck-stage line). */
void sacsim_print(struct sacsim *s, const void *buf, size_t n);
enum sacsim_state sacsim_state(const struct sacsim *s);
/* True once after `restart`, or a crash with auto_reboot: the caller boots again. */
bool sacsim_wants_reboot(struct sacsim *s);
/* The current channel's name ("SAC", "Cmd0001"), and how many exist. */
const char *sacsim_channel(const struct sacsim *s);
unsigned sacsim_nchannels(const struct sacsim *s);

#endif
