/*
 * term.h — the local terminal of `emsagent attach`: raw mode in, and the
 * settings given back on every way out.
 *
 * term_raw saves the settings of fd (a terminal) and switches it to raw
 * mode; term_restore puts them back exactly (what `stty -g` printed before
 * is what it prints after) and is safe to call twice, from atexit, and from
 * a signal handler. Fatal signals (SEGV, BUS, ILL, FPE, ABRT) restore the
 * terminal and then die as they would have. SIGTERM/SIGHUP/SIGINT are the
 * caller's to handle through the loop; SIGKILL cannot be caught by anyone.
 *
 * The saved settings live in one static of this file: a signal handler can
 * reach nothing else, and a process has one controlling terminal.
 */
#ifndef EMSAGENT_TERM_H
#define EMSAGENT_TERM_H

#include <stdbool.h>
#include <stddef.h>

/* 0, or -errno (fd is not a terminal: -ENOTTY). */
int term_raw(int fd);
/* Gives the saved settings back (no-op when none are held). Also resets
 * what a guest may have left switched on in the terminal: colours, a
 * hidden cursor. */
void term_restore(void);
bool term_is_raw(void);
/* write(2) until all of buf is out or an error other than EINTR/EAGAIN:
 * 0 or -errno. For the terminal, which is written blocking. */
int term_write_all(int fd, const void *buf, size_t n);

#endif
