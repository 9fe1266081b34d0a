/*
 * reclaim_recheck_test.c - the look right before a reclaim
 * (shmchan_probe_reclaim, src/probe.c): a stale channel is judged, then
 * changes before the removal, and the reclaim must refuse (BUSY) and remove
 * nothing. Each change is one the re-check exists for: the liveness token
 * raised again (by a process that is not the dead server), the set's mode
 * widened, the segment's key gone (removed by someone else, still attached).
 * A control reclaims the same channel unchanged.
 *
 * Found by mutation testing (docs/testing.md): before this test, deleting
 * the token or the ownership part of the re-check failed no test.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <cmocka.h>

#include "src/layout.h"
#include "src/probe.h"
#include "src/shmchan.h"
#include "tests/testutil.h"

union semun_arg {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static key_t g_key;

static int crash_server_main(void *p)
{
    (void)p;
    shmchan_server_t *srv = NULL;
    if (shmchan_server_create(g_key, NULL, &srv, NULL) != SHMCHAN_OK) {
        return 10;
    }
    raise(SIGKILL);
    return 11;
}

/* A stale channel at g_key, judged STALE (both objects to remove). */
static void judge_stale(shmchan_probe_facts_t *f, shmchan_judgement_t *j)
{
    const pid_t pid = testutil_spawn(crash_server_main, NULL);
    assert_true(pid > 0);
    assert_int_equal(testutil_wait(pid, 10000), 128 + SIGKILL);
    assert_int_equal(shmchan_probe_gather(g_key, SHMCHAN_DEFAULT_MODE, f, NULL), SHMCHAN_OK);
    shmchan_probe_judge(f, j);
    assert_int_equal(j->verdict, SHMCHAN_VERDICT_STALE);
    assert_true(j->remove_sem && j->remove_shm);
}

static void remove_all(void)
{
    const int shmid = shmget(g_key, 0, 0);
    if (shmid >= 0) {
        (void)shmctl(shmid, IPC_RMID, NULL);
    }
    const int semid = semget(g_key, 0, 0);
    if (semid >= 0) {
        (void)semctl(semid, 0, IPC_RMID);
    }
}

/* The reclaim is refused and both objects are still there. */
static void expect_busy(const shmchan_probe_facts_t *f, const shmchan_judgement_t *j)
{
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t err = shmchan_probe_reclaim(f, j, &d);
    print_message("  reclaim: %s: %s\n", shmchan_errname(err), d.text);
    assert_int_equal(err, SHMCHAN_E_BUSY);
    struct semid_ds ds;
    union semun_arg arg = {.buf = &ds};
    assert_int_equal(semctl(f->sem.semid, 0, IPC_STAT, arg), 0);
    struct shmid_ds sds;
    assert_int_equal(shmctl(f->shm.shmid, IPC_STAT, &sds), 0);
}

static void test_unchanged_is_reclaimed(void **state)
{
    (void)state;
    shmchan_probe_facts_t f;
    shmchan_judgement_t j;
    judge_stale(&f, &j);
    assert_int_equal(shmchan_probe_reclaim(&f, &j, NULL), SHMCHAN_OK);
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

/* The token back up: whoever raised it, the server's death is no longer
 * what the kernel last recorded. */
static void test_token_raised_again(void **state)
{
    (void)state;
    shmchan_probe_facts_t f;
    shmchan_judgement_t j;
    judge_stale(&f, &j);
    struct sembuf up = {.sem_num = SHMCHAN_SEM_SERVER_ALIVE, .sem_op = 1, .sem_flg = 0};
    assert_int_equal(semop(f.sem.semid, &up, 1), 0);
    expect_busy(&f, &j);
    remove_all();
}

/* The set's mode widened: not ours by the rule any more. */
static void test_set_mode_widened(void **state)
{
    (void)state;
    shmchan_probe_facts_t f;
    shmchan_judgement_t j;
    judge_stale(&f, &j);
    struct semid_ds ds;
    union semun_arg arg = {.buf = &ds};
    assert_int_equal(semctl(f.sem.semid, 0, IPC_STAT, arg), 0);
    ds.sem_perm.mode = 0660;
    assert_int_equal(semctl(f.sem.semid, 0, IPC_SET, arg), 0);
    expect_busy(&f, &j);
    remove_all();
}

/* The segment's mode widened. */
static void test_segment_mode_widened(void **state)
{
    (void)state;
    shmchan_probe_facts_t f;
    shmchan_judgement_t j;
    judge_stale(&f, &j);
    struct shmid_ds ds;
    assert_int_equal(shmctl(f.shm.shmid, IPC_STAT, &ds), 0);
    ds.shm_perm.mode = 0606;
    assert_int_equal(shmctl(f.shm.shmid, IPC_SET, &ds), 0);
    expect_busy(&f, &j);
    remove_all();
}

/* Someone else removed the segment while a process (here: us) is still
 * attached: it lives on under IPC_PRIVATE, no longer at the key. */
static void test_segment_key_gone(void **state)
{
    (void)state;
    shmchan_probe_facts_t f;
    shmchan_judgement_t j;
    judge_stale(&f, &j);
    void *p = shmat(f.shm.shmid, NULL, SHM_RDONLY);
    assert_true(p != (void *)-1);
    assert_int_equal(shmctl(f.shm.shmid, IPC_RMID, NULL), 0);
    expect_busy(&f, &j);
    assert_int_equal(shmdt(p), 0);
    remove_all();
}

static int teardown(void **state)
{
    (void)state;
    remove_all();
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
    return 0;
}

int main(void)
{
    g_key = testutil_key(201);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_unchanged_is_reclaimed, teardown),
        cmocka_unit_test_teardown(test_token_raised_again, teardown),
        cmocka_unit_test_teardown(test_set_mode_widened, teardown),
        cmocka_unit_test_teardown(test_segment_mode_widened, teardown),
        cmocka_unit_test_teardown(test_segment_key_gone, teardown),
    };
    return cmocka_run_group_tests_name("reclaim_recheck", tests, NULL, NULL);
}
