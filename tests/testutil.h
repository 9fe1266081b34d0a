/*
 * testutil.h - helpers shared by the multi-process tests.
 *
 * Leak checks read /proc/sysvipc/{shm,sem} from inside the test: each Bazel
 * test runs in its own IPC namespace, so what a test sees there is exactly
 * what it (and its children) created.
 */
#ifndef SHMCHAN_TESTUTIL_H
#define SHMCHAN_TESTUTIL_H

#include <stdint.h>
#include <sys/types.h>

/* A key unlikely to collide with anything else running (pid-derived). */
key_t testutil_key(unsigned salt);

/* Number of segments / semaphore sets / total attachments visible now. */
int testutil_count_shm(void);
int testutil_count_sem(void);
long testutil_count_attach(void);

/* fork(); the child runs fn(arg) and _exit()s with its return value. */
pid_t testutil_spawn(int (*fn)(void *), void *arg);

/* waitpid with a deadline (ms). Returns the exit status (0..255), 128+sig
 * if killed by a signal, or -1 on timeout (the child is then SIGKILLed and
 * reaped, so a hung child never outlives the test). */
int testutil_wait(pid_t pid, int timeout_ms);

/* A pipe used as a one-shot event between processes. */
typedef struct testutil_event {
    int fds[2];
} testutil_event_t;
int testutil_event_init(testutil_event_t *ev);
void testutil_event_signal(testutil_event_t *ev);
/* 0 when signalled, -1 on timeout or EOF. */
int testutil_event_wait(testutil_event_t *ev, int timeout_ms);
void testutil_event_close(testutil_event_t *ev);

/* xorshift64*: deterministic, seeded from the environment variable
 * SHMCHAN_TEST_SEED if set (printed by the caller for replay). */
uint64_t testutil_seed(void);
uint64_t testutil_rand(uint64_t *state);

#endif /* SHMCHAN_TESTUTIL_H */
