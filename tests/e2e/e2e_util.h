/*
 * e2e_util.h - running the real programs (server, client, shmchanctl) as
 * separate processes from a cmocka test, and waiting on what they print.
 *
 * Every wait is on an event (a pipe becoming readable, a pidfd) with a
 * deadline; nothing sleeps for a fixed time. A child that outlives its
 * deadline is SIGKILLed and reaped, so a hung program fails its test
 * instead of hanging it.
 */
#ifndef SHMCHAN_E2E_UTIL_H
#define SHMCHAN_E2E_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The e2e tests use tests/testutil.h (keys, IPC counts, seeds) directly. */
#include "tests/testutil.h"

/* Deadline for anything a healthy program does at once (start, print a
 * line, exit after being told to). Generous: sanitizer builds on a loaded
 * 2-core machine are slow, and a deadline is a hang detector, not a
 * performance claim. */
#define E2E_DEADLINE_MS 20000

#define E2E_OUT_MAX (256u * 1024u)

typedef enum e2e_stdin {
    E2E_STDIN_PIPE = 0, /* the test writes it (e2e_write, e2e_close_stdin) */
    E2E_STDIN_NULL,     /* /dev/null */
    E2E_STDIN_TTY       /* the slave side of a pseudo-terminal the test writes */
} e2e_stdin_t;

typedef struct e2e_proc {
    pid_t pid;
    int in_fd;                 /* our end of its stdin (pipe or pty master), -1 when closed */
    int out_fd;                /* our end of its stdout, -1 at EOF */
    int err_fd;                /* our end of its stderr, -1 at EOF */
    char out[E2E_OUT_MAX + 1]; /* everything it printed, NUL-terminated */
    size_t out_len;
    char err[E2E_OUT_MAX + 1];
    size_t err_len;
    int status; /* exit code, 128+N if killed by N, -1 while running */
} e2e_proc_t;

/* Path of a program built by //src (found through the test's runfiles). */
const char *e2e_bin(const char *name);

/* Starts bin (a name for e2e_bin) with argv[1..] = args (NULL-terminated).
 * Returns 0, or -1 (the test should fail). */
int e2e_start(e2e_proc_t *p, const char *bin, const char *const *args, e2e_stdin_t in);

/* Writes all of data to its stdin. Returns 0 or -1. */
int e2e_write(e2e_proc_t *p, const void *data, size_t len);
int e2e_write_str(e2e_proc_t *p, const char *s);
void e2e_close_stdin(e2e_proc_t *p);

/* Reads its stdout (stream 1) or stderr (stream 2) until `needle` has
 * appeared in everything read so far, it closed the stream, or the
 * deadline. Returns 0 if found, -1 otherwise. */
int e2e_wait_for(e2e_proc_t *p, int stream, const char *needle, int timeout_ms);

/* Reads both streams to EOF and reaps it, within timeout_ms; a child still
 * running then is SIGKILLed. Returns its status (see e2e_proc_t.status),
 * or -1 on timeout. */
int e2e_finish(e2e_proc_t *p, int timeout_ms);

/* Sends sig and waits as e2e_finish. */
int e2e_kill_and_finish(e2e_proc_t *p, int sig, int timeout_ms);

/* Runs bin to completion with `input` (may be NULL) on a pipe as stdin.
 * Returns its status or -1. */
int e2e_run(e2e_proc_t *p, const char *bin, const char *const *args, const char *input);

/* 1 if `needle` occurs in hay[0, len). */
int e2e_contains(const char *hay, size_t len, const char *needle);

/* "0x%08x" of a key, into buf (at least 11 bytes). */
const char *e2e_key_text(key_t key, char *buf, size_t len);

/* The shmchanctl list row for key in `table` ("" if none); the columns
 * are split into at most 9 fields. Returns the number of fields. */
int e2e_list_row(const char *table, key_t key, char fields[9][32]);

/* Test teardown: SIGKILLs and reaps every child still running (a failed
 * assertion leaves its test function without finishing them), then removes
 * every SysV object whose key is in the 256-key block `key_block` (low 8
 * bits zero), so one failure does not cascade into the next test. Touches
 * nothing outside that block. */
void e2e_cleanup(key_t key_block);

/* cmocka fixtures shared by the e2e tests. setup fails unless the IPC
 * namespace is empty (every leak check reads the whole namespace: Bazel
 * gives each test its own); teardown is e2e_cleanup of the test's key
 * block (testutil_key). */
int e2e_setup(void **state);
int e2e_teardown(void **state);

/* cmocka assertion: /proc/sysvipc/{shm,sem} list nothing. */
void e2e_assert_no_ipc_left(void);

/* The seeds' lines, exactly. */
#define E2E_GREETING "Hello from the other side!"
#define E2E_GREET_SERVER_HEAD                                                                      \
    "Data written in memory: Hello from the other side!\n"                                         \
    "Waiting for client...\n"
#define E2E_GREET_CLIENT_OUT "Data read from memory: Hello from the other side!\n"
#define E2E_CHAT_SERVER_HEAD                                                                       \
    "Server: Shared memory created.\n"                                                             \
    "Server: Waiting for client...\n"
#define E2E_CHAT_CLIENT_HEAD                                                                       \
    "Client: Connected to shared memory. Type your messages (type 'exit' to quit):\n"

/* Starts `server --key=KEY extra...` and waits until it says it waits for
 * clients. Returns 0 or -1. */
int e2e_start_server(e2e_proc_t *p, key_t key, const char *const *extra);

/* Starts `client --key=KEY extra...` with the given stdin. */
int e2e_start_client(e2e_proc_t *p, key_t key, const char *const *extra, e2e_stdin_t in);

/* Runs `client --key=KEY` to completion with `input` (len bytes) on a pipe. */
int e2e_run_client(e2e_proc_t *p, key_t key, const void *input, size_t len);

/* Runs `shmchanctl args...` to completion. */
int e2e_ctl(e2e_proc_t *p, const char *const *args);

#endif /* SHMCHAN_E2E_UTIL_H */
