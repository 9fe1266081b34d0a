/*
 * stress_util.h - helpers for the heavy, randomized, many-process tests in
 * tests/stress/ (on top of tests/testutil.h).
 *
 * Nothing here waits by sleeping: every wait is on an event (a pipe, a
 * pidfd, a timerfd, the channel itself) with a deadline. Code that runs in
 * forked children never calls cmocka (its longjmp would resume the parent's
 * test runner inside the child); children report through exit codes and
 * fixed-size records written to pipes.
 */
#ifndef SHMCHAN_STRESS_UTIL_H
#define SHMCHAN_STRESS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ------------------------------------------------------------- scaling */

/* Reads "--scale=N" from argv (the `_long` targets pass it) or the
 * environment variable SHMCHAN_STRESS_SCALE (for `--test_env`); default 1.
 * Every iteration count in tests/stress is multiplied by it. */
void stress_init(int argc, char **argv);
uint64_t stress_scale(void);
uint64_t stress_scaled(uint64_t base);

/* What is left of this test binary's time budget, in ms: 85% of Bazel's
 * TEST_TIMEOUT (seconds; 300 if unset) counted from stress_init. Deadlines
 * on waits use it, so a hang is reported by the test, with its details,
 * before Bazel kills the whole binary. Never less than 1000. */
int stress_budget_ms(void);

/* ---------------------------------------------------------------- time */

int64_t stress_now_ns(void);

/* --------------------------------------------------------- processes */

/* fork(); the child asks for SIGKILL when its parent dies (so a failed test
 * never leaves workers behind), runs fn(arg) and _exit()s with its value.
 * The parent remembers the pid until stress_wait reaps it. */
pid_t stress_spawn(int (*fn)(void *), void *arg);

/* testutil_wait (exit status, 128+signal, or -1 after killing a child that
 * overran timeout_ms), and forgets the pid. */
int stress_wait(pid_t pid, int timeout_ms);

/* Waits up to timeout_ms for `pid` to exit and reaps it, storing the raw
 * wait status (for WIFEXITED/WIFSIGNALED); on timeout it is SIGKILLed and
 * reaped, and -1 is returned. */
int stress_wait_raw(pid_t pid, int timeout_ms, int *wstatus);

/* SIGKILLs and reaps every child spawned and not yet reaped: a cmocka
 * teardown, so that a failed assertion does not leave workers running into
 * the next test. */
void stress_kill_all(void);

/* The cmocka teardown of every stress test: stress_kill_all. */
int stress_teardown(void **state);

/* cmocka assertions (parent only) that this test's IPC namespace holds no
 * segment, no semaphore set and no attachment. */
void stress_assert_no_ipc_left(void);

/* Waits up to timeout_ms for `pid` (our child) to exit, WITHOUT reaping it
 * (its pid stays reserved as a zombie, so nothing else can be signalled by
 * mistake under that pid). 0 when it has exited, -1 on timeout. */
int stress_wait_exited(pid_t pid, int timeout_ms);
/* The same with a timeout in nanoseconds (ppoll on a pidfd). */
int stress_wait_exited_ns(pid_t pid, int64_t timeout_ns);

/* pidfd_open(2): a descriptor that becomes readable when `pid` exits. */
int stress_pidfd_open(pid_t pid);

/* Blocks until our child `pid` is stopped (after SIGSTOP) or has exited.
 * Returns 1 if stopped, 0 if exited (not reaped), -1 on error. SIGSTOP
 * cannot be caught or blocked, so this always returns promptly. */
int stress_wait_stopped(pid_t pid);

/* An exit status as testutil_wait reports it, in words (for messages). */
const char *stress_status_text(int status, char *buf, size_t len);

/* --------------------------------------------------------------- pipes */

/* pipe2(O_CLOEXEC); 0 or -1. */
int stress_pipe(int fds[2]);
/* Whole reads and writes on pipes: testutil_read_full, testutil_write_full. */
/* 1 if fd is readable or hung up right now, else 0 (never blocks). */
int stress_fd_ready(int fd);
void stress_close(int *fd);

/* stress_close on both ends of a pipe. */
void stress_close_pair(int fds[2]);

/* ------------------------------------------------------------- messages */

/* Every test message describes itself. A message of len >= 24 bytes:
 *   [0,4)   sender id (bit 31: FIN, the sender's last message)
 *   [4,8)   len (must equal the frame's payload length)
 *   [8,16)  sequence number within the sender's stream
 *   [16,24) FNV-1a 64 over bytes [0,16) and [24,len)
 *   [24,len) pseudo-random bytes derived from (sender, seq)
 * A shorter message (0..23 bytes) cannot carry that header: its bytes are
 * derived from (sender, seq, len), so a receiver that knows the stream can
 * still check it byte for byte (and a truncated one does not match).
 * Lengths are chosen at random by the sender; the receiver needs none in
 * advance. Integers are little-endian. */
#define STRESS_MSG_HEADER 24u
#define STRESS_SENDER_FIN 0x80000000u

uint64_t stress_fnv1a64(uint64_t h, const void *p, size_t n);
#define STRESS_FNV_OFFSET 0xcbf29ce484222325ull

/* Builds the message (sender may carry STRESS_SENDER_FIN; len >= 24 then). */
void stress_msg_build(uint8_t *buf, uint32_t len, uint32_t sender, uint64_t seq);

/* A random payload length in [0, max], biased towards the edges (0, short,
 * max, max - small), or in [24, max] if full_header. */
uint32_t stress_msg_pick_len(uint64_t *rng, uint32_t max, int full_header);

/* A receiver's view of one sender's stream: exactly once, in order,
 * byte-exact. The first message (seq 0) is always >= 24 bytes and names
 * the sender. */
typedef struct stress_stream {
    uint32_t sender;
    int known;
    int resync; /* adopt the next full message's sender and seq unchecked */
    int fin;
    uint64_t next_seq;
} stress_stream_t;

void stress_stream_reset(stress_stream_t *s);

/* What stress_stream_accept found wrong. A message that fails INTEGRITY is
 * not any message a sender ever built (torn, or bytes changed after the
 * sender's checksum). One that fails ORDER is intact but not the next one
 * of this stream (lost, duplicated, reordered - or, with a hostile writer
 * in the segment, an old frame replayed by rewinding an index); messages
 * under 24 bytes carry no hash, so their mismatches count as ORDER. */
#define STRESS_BAD_INTEGRITY (-1)
#define STRESS_BAD_ORDER (-2)

/* 0 if buf[0, len) is the next message of the stream (then advances it);
 * otherwise STRESS_BAD_INTEGRITY or STRESS_BAD_ORDER with a one-line
 * reason in why[0, why_len) (why may be NULL). */
int stress_stream_accept(stress_stream_t *s, const uint8_t *buf, uint32_t len, char *why,
                         size_t why_len);

/* After an ORDER failure: take the next full message as a new start. */
void stress_stream_resync(stress_stream_t *s);

/* ----------------------------------------------------------- randomness */

/* A child's own generator state, derived from the test seed and an index. */
uint64_t stress_derive_seed(uint64_t seed, uint64_t index);
/* Uniform in [0, n) (n > 0). */
uint64_t stress_below(uint64_t *rng, uint64_t n);

/* ------------------------------------------------------------- signals */

/* Installs an empty-bodied counting handler for `signo` WITHOUT SA_RESTART
 * (every blocking system call it interrupts fails with EINTR). */
int stress_install_counting_handler(int signo);
/* How many times that handler has run in this process. */
uint64_t stress_signals_caught(void);

/* A load generator, not synchronisation: a process that sends `signo` to
 * every target every period_ns, paced by a timerfd, until stop_fd becomes
 * readable or hangs up; then writes a stress_signaller_report_t to
 * report_fd. Run it with stress_spawn(stress_signaller_main, &cfg). */
#define STRESS_SIGNALLER_MAX_TARGETS 32
typedef struct stress_signaller_cfg {
    pid_t targets[STRESS_SIGNALLER_MAX_TARGETS];
    int ntargets;
    int signo;
    int64_t period_ns;
    int stop_fd;   /* read end */
    int report_fd; /* write end */
} stress_signaller_cfg_t;

typedef struct stress_signaller_report {
    uint64_t ticks; /* timer wake-ups */
    uint64_t sent;  /* successful kill() calls */
} stress_signaller_report_t;

int stress_signaller_main(void *cfg);

#endif /* SHMCHAN_STRESS_UTIL_H */
