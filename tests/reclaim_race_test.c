/*
 * reclaim_race_test.c - reclaim and rollback at the worst moments
 * (docs/lifecycle.md "Key already taken", "Rollback").
 *
 * Linked with -Wl,--wrap for semctl, shmctl and shmat (statically, so the
 * calls made inside the library are the wrapped ones). Unarmed, a wrapper
 * passes the call through; armed, it acts out one moment a real system can
 * produce but a test cannot time:
 *   - another cleaner removes a stale channel between our probe and our
 *     reclaim (`clean --stale` or a second server, racing);
 *   - a server is killed between the two removals of its rollback;
 *   - the id we stat'ed names a bigger set by the time we GETALL it;
 *   - the race lost again and again (a new stale channel each time);
 *   - a kernel that reports another size for the segment we created;
 *   - the server's own set id naming a smaller set at its next scan;
 *   - a process attaching a lone stale segment between probe and reclaim.
 * Each test failed on the code before the fix, or with the mutant, it
 * names (docs/testing.md).
 */
/* SEM_STAT/SEM_INFO are GNU extensions of <sys/sem.h>. */
#define _GNU_SOURCE 1

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/shmchan.h"
#include "tests/testutil.h"

#define T_MS 10000

union test_semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
    struct seminfo *info;
};

int __real_semctl(int semid, int semnum, int cmd, ...);
int __real_shmctl(int shmid, int cmd, struct shmid_ds *buf);
void *__real_shmat(int shmid, const void *shmaddr, int shmflg);
int __wrap_semctl(int semid, int semnum, int cmd, ...);
int __wrap_shmctl(int shmid, int cmd, struct shmid_ds *buf);
void *__wrap_shmat(int shmid, const void *shmaddr, int shmflg);

static struct {
    /* Another cleaner: at the next GETVAL (the reclaim's re-check; the probe
     * reads values with GETALL), remove everything at this key first. */
    int race_key_armed;
    key_t race_key;
    /* A killed rollback: the next shmat fails, and the first IPC_RMID after
     * that is carried out, then the process exits at once. */
    int kill_in_rollback;
    /* A grown set: right after the first IPC_STAT of `grow_semid`, the id
     * names a set of GROWN_NSEMS semaphores: a later IPC_STAT says so, and
     * a GETALL would write that many. */
    int grow_semid;
    int grow_stats;
    int getall_overflow; /* GETALL called while the set looked grown */
    /* Races lost in a row: at each of the next `races_left` GETVALs,
     * remove everything at race_key and leave a new stale channel there
     * (another cleaner won, then another server started and died). */
    int races_left;
    int races_run;
    /* The next IPC_STAT of a segment reports it 4096 bytes bigger. */
    int shm_size_lie;
    /* From now on, IPC_STAT of shrink_semid reports one slot's semaphores
     * fewer (GETALL still writes them all: the buffer has room). */
    int shrink_semid;
    int shrink_stats;
    /* At the second IPC_STAT of attach_shmid (the reclaim's re-check; the
     * probe made the first), attach it first: someone came. */
    int attach_shmid;
    int attach_stats;
    void *attached;
} g;

#define GROWN_NSEMS 4000

static void leave_new_stale_channel(key_t key);

static void remove_everything_at(key_t key)
{
    const int semid = semget(key, 0, 0);
    if (semid >= 0) {
        (void)__real_semctl(semid, 0, IPC_RMID);
    }
    const int shmid = shmget(key, 0, 0);
    if (shmid >= 0) {
        (void)__real_shmctl(shmid, IPC_RMID, NULL);
    }
}

int __wrap_semctl(int semid, int semnum, int cmd, ...)
{
    union test_semun arg = {.buf = NULL};
    if (testutil_semctl_takes_arg(cmd)) {
        va_list ap;
        va_start(ap, cmd);
        arg = va_arg(ap, union test_semun);
        va_end(ap);
    }
    if (cmd == GETVAL && g.race_key_armed) {
        g.race_key_armed = 0;
        remove_everything_at(g.race_key);
    }
    if (cmd == GETVAL && g.races_left > 0) {
        g.races_left--;
        g.races_run++;
        remove_everything_at(g.race_key);
        leave_new_stale_channel(g.race_key);
    }
    if (cmd == IPC_RMID && g.kill_in_rollback == 2) {
        const int r = __real_semctl(semid, semnum, cmd);
        _exit(r == 0 ? 0 : 1);
    }
    if (g.shrink_semid > 0 && semid == g.shrink_semid && cmd == IPC_STAT) {
        const int r = __real_semctl(semid, semnum, cmd, arg);
        if (r == 0) {
            g.shrink_stats++;
            arg.buf->sem_nsems -= 4;
        }
        return r;
    }
    if (g.grow_semid > 0 && semid == g.grow_semid) {
        if (cmd == IPC_STAT) {
            const int r = __real_semctl(semid, semnum, cmd, arg);
            if (r == 0 && g.grow_stats++ >= 1) {
                arg.buf->sem_nsems = GROWN_NSEMS;
            }
            return r;
        }
        if (cmd == GETALL && g.grow_stats >= 1) {
            g.getall_overflow = 1;
        }
    }
    return __real_semctl(semid, semnum, cmd, arg);
}

int __wrap_shmctl(int shmid, int cmd, struct shmid_ds *buf)
{
    if (cmd == IPC_STAT && g.attach_shmid > 0 && shmid == g.attach_shmid &&
        ++g.attach_stats == 2) {
        g.attached = __real_shmat(shmid, NULL, SHM_RDONLY);
    }
    if (cmd == IPC_STAT && g.shm_size_lie) {
        g.shm_size_lie = 0;
        const int r = __real_shmctl(shmid, cmd, buf);
        if (r == 0) {
            buf->shm_segsz += 4096;
        }
        return r;
    }
    if (cmd == IPC_RMID && g.kill_in_rollback == 2) {
        const int r = __real_shmctl(shmid, cmd, buf);
        _exit(r == 0 ? 0 : 1);
    }
    return __real_shmctl(shmid, cmd, buf);
}

void *__wrap_shmat(int shmid, const void *shmaddr, int shmflg)
{
    if (g.kill_in_rollback == 1) {
        g.kill_in_rollback = 2;
        errno = ENOMEM;
        return (void *)-1;
    }
    return __real_shmat(shmid, shmaddr, shmflg);
}

static int teardown(void **state)
{
    (void)state;
    memset(&g, 0, sizeof g);
    testutil_purge_key_block(testutil_key(0));
    return 0;
}

static void assert_no_ipc_left(void)
{
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
    assert_int_equal(testutil_count_attach(), 0);
}

/* A server that dies without a word: the kernel gives its token back. */
static int die_serving_main(void *p)
{
    const key_t key = *(const key_t *)p;
    shmchan_server_t *srv = NULL;
    if (shmchan_server_create(key, NULL, &srv, NULL) != SHMCHAN_OK) {
        return 1;
    }
    _exit(0);
}

/* As die_serving_main, in a child forked from inside a wrapper: the
 * child's copy of the wrappers' state must not act again. */
static int die_serving_unarmed_main(void *p)
{
    memset(&g, 0, sizeof g);
    return die_serving_main(p);
}

static void leave_new_stale_channel(key_t key)
{
    key_t k = key;
    const pid_t pid = testutil_spawn(die_serving_unarmed_main, &k);
    if (pid > 0) {
        (void)testutil_wait(pid, T_MS);
    }
}

static void leave_stale_channel(key_t key)
{
    key_t k = key;
    const pid_t pid = testutil_spawn(die_serving_main, &k);
    assert_true(pid > 0);
    assert_int_equal(testutil_wait(pid, T_MS), 0);
    shmchan_channel_info_t info;
    assert_int_equal(shmchan_inspect(key, &info, NULL), SHMCHAN_OK);
    assert_int_equal(info.status, SHMCHAN_STATUS_STALE);
}

/* Someone else reclaimed the stale channel between our probe and our
 * re-check: not our failure; probe again, find the key free, create. */
static void test_reclaim_race_lost_to_another_cleaner(void **state)
{
    (void)state;
    const key_t key = testutil_key(1);
    leave_stale_channel(key);
    g.race_key = key;
    g.race_key_armed = 1;
    shmchan_server_t *srv = NULL;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t err = shmchan_server_create(key, NULL, &srv, &d);
    print_message("server_create after a lost reclaim race: %s: %s\n", shmchan_errname(err),
                  d.text);
    assert_int_equal(g.race_key_armed, 0); /* the race was run */
    assert_int_equal(err, SHMCHAN_OK);
    assert_non_null(srv);
    assert_string_equal(d.text, ""); /* the lost race left no stale text */
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

/* A creation that failed after shmget, killed between the two removals of
 * its rollback: what is left must be reclaimable by the next server. */
static int rollback_killed_main(void *p)
{
    const key_t key = *(const key_t *)p;
    g.kill_in_rollback = 1;
    shmchan_server_t *srv = NULL;
    (void)shmchan_server_create(key, NULL, &srv, NULL);
    return 2; /* the rollback never removed anything: the wrapper did not run */
}

static void test_rollback_killed_between_removals(void **state)
{
    (void)state;
    const key_t key = testutil_key(2);
    key_t k = key;
    const pid_t pid = testutil_spawn(rollback_killed_main, &k);
    assert_true(pid > 0);
    assert_int_equal(testutil_wait(pid, T_MS), 0);
    const int left = testutil_count_shm() + testutil_count_sem();
    print_message("objects left by the killed rollback: %d segment(s), %d set(s)\n",
                  testutil_count_shm(), testutil_count_sem());
    assert_int_equal(left, 1);

    shmchan_server_t *srv = NULL;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t err = shmchan_server_create(key, NULL, &srv, &d);
    print_message("server_create over the leftover: %s: %s\n", shmchan_errname(err), d.text);
    assert_int_equal(err, SHMCHAN_OK);
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

/* The id names a bigger set by the time of GETALL: the count that sizes the
 * buffer is asked for right before it, and a set that no longer fits is
 * refused instead of read. */
static void test_getall_sized_by_the_kernel_now(void **state)
{
    (void)state;
    const key_t key = testutil_key(3);
    shmchan_server_t *srv = NULL;
    assert_int_equal(shmchan_server_create(key, NULL, &srv, NULL), SHMCHAN_OK);
    g.grow_semid = shmchan_server_semid(srv);
    shmchan_channel_info_t info;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    (void)shmchan_inspect(key, &info, &d);
    print_message("inspect with a grown set: %s (%s); GETALL on it: %s\n",
                  shmchan_status_name(info.status), info.reason,
                  g.getall_overflow ? "called" : "not called");
    assert_int_equal(g.getall_overflow, 0);
    assert_true(g.grow_stats >= 1); /* the library looked at the set */
    assert_int_not_equal(info.status, SHMCHAN_STATUS_STALE);
    g.grow_semid = 0;
    shmchan_server_destroy(srv);
    assert_no_ipc_left();
}

/* Every reclaim loses its race (CLOSED: the object gone), and each time
 * a new stale channel is at the key: the server gives up after three
 * probes (CLEAR_KEY_ATTEMPTS, src/server.c) with BUSY, not the CLOSED of
 * the last race, and does not try a fourth time. */
static void test_reclaim_race_lost_three_times(void **state)
{
    (void)state;
    const key_t key = testutil_key(4);
    leave_stale_channel(key);
    g.race_key = key;
    g.races_left = 3;
    shmchan_server_t *srv = NULL;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t err = shmchan_server_create(key, NULL, &srv, &d);
    print_message("server_create, every reclaim race lost: %s after %d races: %s\n",
                  shmchan_errname(err), g.races_run, d.text);
    shmchan_server_destroy(srv);
    assert_int_equal(g.races_run, 3);
    assert_int_equal(err, SHMCHAN_E_BUSY);
    /* The third race's stale channel is still there, and reclaimable. */
    shmchan_channel_info_t info;
    assert_int_equal(shmchan_remove_stale(key, 0, &info, NULL), SHMCHAN_OK);
    assert_no_ipc_left();
}

/* The kernel's size for the segment just created is not the layout's:
 * LAYOUT_SIZE, and the rollback leaves nothing. */
static void test_created_segment_of_another_size(void **state)
{
    (void)state;
    const key_t key = testutil_key(5);
    g.shm_size_lie = 1;
    shmchan_server_t *srv = NULL;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t err = shmchan_server_create(key, NULL, &srv, &d);
    print_message("server_create, segment reported 4096 bytes bigger: %s: %s\n",
                  shmchan_errname(err), d.text);
    shmchan_server_destroy(srv);
    assert_int_equal(g.shm_size_lie, 0); /* the lie was told */
    assert_int_equal(err, SHMCHAN_E_LAYOUT_SIZE);
    assert_int_equal(d.code, SHMCHAN_E_LAYOUT_SIZE);
    assert_no_ipc_left();
}

/* The server's set id names a set of another shape at a scan (its set
 * was removed and the id reused): not our set any more, FOREIGN, rather
 * than slots judged from values that are not the set's. */
static void test_server_set_of_another_shape(void **state)
{
    (void)state;
    const key_t key = testutil_key(6);
    shmchan_server_t *srv = NULL;
    assert_int_equal(shmchan_server_create(key, NULL, &srv, NULL), SHMCHAN_OK);
    g.shrink_semid = shmchan_server_semid(srv);
    shmchan_event_t ev;
    uint8_t buf[64];
    const shmchan_err_t err = shmchan_server_wait(srv, 200, &ev, buf, sizeof buf);
    const int stats = g.shrink_stats;
    g.shrink_semid = 0;
    print_message("server_wait on a shrunk set: %s\n", shmchan_errname(err));
    shmchan_server_destroy(srv);
    assert_true(stats >= 1); /* the scan looked */
    assert_int_equal(err, SHMCHAN_E_FOREIGN);
    assert_no_ipc_left();
}

/* A segment alone (its server died, its set was removed by hand), judged
 * stale because nobody is attached: a process that attaches between the
 * probe and the reclaim makes that verdict false, so nothing is removed. */
static void test_lone_segment_attached_before_reclaim(void **state)
{
    (void)state;
    const key_t key = testutil_key(7);
    leave_stale_channel(key);
    const int semid = semget(key, 0, 0);
    assert_true(semid >= 0);
    assert_int_equal(__real_semctl(semid, 0, IPC_RMID), 0);
    const int shmid = shmget(key, 0, 0);
    assert_true(shmid >= 0);
    g.attach_shmid = shmid;
    shmchan_channel_info_t info;
    const shmchan_err_t err = shmchan_remove_stale(key, 0, &info, NULL);
    g.attach_shmid = 0;
    const int still_there = shmget(key, 0, 0) == shmid;
    if (g.attached != NULL && g.attached != (void *)-1) {
        (void)shmdt(g.attached);
    }
    print_message("remove_stale, lone segment attached before the reclaim: %s (%s)\n",
                  shmchan_errname(err), info.reason);
    assert_int_equal(g.attach_stats >= 2, 1); /* the attach happened */
    assert_int_equal(err, SHMCHAN_E_BUSY);
    assert_true(still_there);
    assert_int_equal(shmctl(shmid, IPC_RMID, NULL), 0);
    assert_no_ipc_left();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_reclaim_race_lost_to_another_cleaner, teardown),
        cmocka_unit_test_teardown(test_rollback_killed_between_removals, teardown),
        cmocka_unit_test_teardown(test_getall_sized_by_the_kernel_now, teardown),
        cmocka_unit_test_teardown(test_reclaim_race_lost_three_times, teardown),
        cmocka_unit_test_teardown(test_created_segment_of_another_size, teardown),
        cmocka_unit_test_teardown(test_server_set_of_another_shape, teardown),
        cmocka_unit_test_teardown(test_lone_segment_attached_before_reclaim, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
