/*
 * testutil.h - helpers shared by the multi-process tests.
 *
 * Leak checks read /proc/sysvipc/{shm,sem} from inside the test: each Bazel
 * test runs in its own IPC namespace, so what a test sees there is exactly
 * what it (and its children) created.
 */
#ifndef SHMCHAN_TESTUTIL_H
#define SHMCHAN_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A key unlikely to collide with anything else running: 0x53, then the low
 * 16 bits of the pid, then salt's low 8 bits. testutil_key(0) is the base of
 * this process's block of 256 keys. */
key_t testutil_key(unsigned salt);

/* Number of segments / semaphore sets / total attachments visible now. */
int testutil_count_shm(void);
int testutil_count_sem(void);
long testutil_count_attach(void);

/* Removes every segment and semaphore set whose key lies in the 256-key
 * block of key_block (its low 8 bits are ignored): what a failed test
 * left behind. Touches nothing outside that block. */
void testutil_purge_key_block(key_t key_block);

/* A cmocka setup or teardown (the signature is cmocka's; this header does
 * not include it): purges this process's key block, so that what one test
 * left behind never meets the next. Always returns 0. */
int testutil_purge_fixture(void **state);

/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
int64_t testutil_now_ms(void);

/* fork(); the child runs fn(arg) and _exit()s with its return value. */
/* In a child only: becomes uid/gid for good (supplementary groups dropped
 * first, then real, effective and saved gid, then uid: once the uid is
 * dropped, setgroups needs a privilege the process no longer has; a setuid
 * as root alone keeps root's supplementary groups, which would grant group
 * access the test does not mean to give). 0, or -1 with errno and a line
 * on stderr. */
int testutil_become(uid_t uid, gid_t gid);

pid_t testutil_spawn(int (*fn)(void *), void *arg);

/* waitpid with a deadline (ms). Returns the exit status (0..255), 128+sig
 * if killed by a signal, or -1 on timeout (the child is then SIGKILLed and
 * reaped, so a hung child never outlives the test). */
int testutil_wait(pid_t pid, int timeout_ms);

/* A pipe used as an event between processes: each signal lets one wait
 * return (several may wait on one event). */
typedef struct testutil_event {
    int fds[2];
} testutil_event_t;
int testutil_event_init(testutil_event_t *ev);
void testutil_event_signal(testutil_event_t *ev);
/* 0 when signalled, -1 on timeout or EOF. */
int testutil_event_wait(testutil_event_t *ev, int timeout_ms);
void testutil_event_close(testutil_event_t *ev);

/* Reads exactly n bytes before the deadline (ms). 0 on success, -1 on
 * timeout, EOF or error. */
int testutil_read_full(int fd, void *dst, size_t n, int timeout_ms);
/* Writes all n bytes (EINTR retried). 0 on success, -1 on error. */
int testutil_write_full(int fd, const void *src, size_t n);

/* 1 if semctl(2) command `cmd` takes the fourth (union semun) argument: a
 * -Wl,--wrap=semctl wrapper must know whether to read it from its varargs. */
int testutil_semctl_takes_arg(int cmd);

/* xorshift64*: deterministic, seeded from the environment variable
 * SHMCHAN_TEST_SEED if set (printed by the caller for replay). */
uint64_t testutil_seed(void);
uint64_t testutil_rand(uint64_t *state);

#endif /* SHMCHAN_TESTUTIL_H */
