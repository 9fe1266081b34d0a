/*
 * io.h - what the three programs share beyond argument parsing: signal
 * flags and output that reaches a pipe or a file the moment it is printed.
 * Not pure (it owns a global and calls sigaction/fwrite), hence apart from
 * args.h.
 */
#ifndef SHMCHAN_PROG_IO_H
#define SHMCHAN_PROG_IO_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

/* 0, or the number of the last SIGINT/SIGTERM/SIGHUP received. The
 * handler does nothing else (async-signal-safe); programs pass its address
 * as the library's `cancel` so blocking calls return
 * SHMCHAN_E_INTERRUPTED, and look at it between bounded waits. */
extern volatile sig_atomic_t shmchan_prog_caught_signal;

/* Installs the flag handler for SIGINT, SIGTERM and SIGHUP without
 * SA_RESTART (so poll/read/semop return EINTR at once), and ignores
 * SIGPIPE (a closed stdout must not kill a server holding IPC objects:
 * the write fails instead). Also makes stdout line buffered even when it
 * is a file or a pipe. Returns 0, or -1 with errno set. */
int shmchan_prog_setup(void);

/* "SIGINT", "SIGTERM", "SIGHUP", else "signal N" (into a static buffer). */
const char *shmchan_prog_signal_name(int sig);

/* printf to `stream`, then fflush: each status line is visible to whoever
 * reads the pipe or file as soon as it is printed. */
void shmchan_prog_say(FILE *stream, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* `prefix`, the peer's bytes data[0, len) escaped for a terminal (escape.h:
 * controls and malformed UTF-8 as \xHH, a backslash as \\, so that one
 * message is one line and no byte can act on the terminal), a newline;
 * then fflush. */
void shmchan_prog_say_bytes(FILE *stream, const char *prefix, const void *data, size_t len);

#endif /* SHMCHAN_PROG_IO_H */
