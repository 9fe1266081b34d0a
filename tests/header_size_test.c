/*
 * header_size_test.c - segments at and under the size of a channel header,
 * as the client and the probe (shmchan_inspect) see them.
 *
 * A segment smaller than the header cannot hold one: the client refuses it
 * by its size (LAYOUT_SIZE) and the probe never attaches it, so it is
 * judged like a segment whose header is not written yet. A segment of
 * exactly the header's size can hold a header: both read it, and what they
 * find (here: no magic, as a server that died before publishing leaves) is
 * what decides.
 *
 * Found by mutation testing (docs/testing.md): before this test, moving
 * either bound by one, or swapping the client's error code, failed no test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <cmocka.h>

#include "src/layout.h"
#include "src/shmchan.h"
#include "tests/testutil.h"

static void sem_apply(int semid, unsigned short num, short op, short flags)
{
    struct sembuf b = {.sem_num = num, .sem_op = op, .sem_flg = flags};
    assert_int_equal(semop(semid, &b, 1), 0);
}

/* A marked set of a 2-slot channel, READY posted. token_released: the
 * token taken and given back with SEM_UNDO by this process, as the kernel
 * does at a server's exit; else raised for good (a live server). */
static int make_set(key_t key, int token_released)
{
    const int semid = semget(key, (int)shmchan_layout_nsems(2), IPC_CREAT | IPC_EXCL | 0600);
    assert_true(semid >= 0);
    sem_apply(semid, SHMCHAN_SEM_MARKER, SHMCHAN_SEM_MARKER_VALUE, 0);
    sem_apply(semid, SHMCHAN_SEM_SERVER_ALIVE, 1, SEM_UNDO);
    if (token_released) {
        sem_apply(semid, SHMCHAN_SEM_SERVER_ALIVE, -1, SEM_UNDO);
    }
    sem_apply(semid, SHMCHAN_SEM_READY, 1, 0);
    return semid;
}

/* A zeroed segment of ours of `size` bytes (no header written). */
static int make_segment(key_t key, size_t size)
{
    const int shmid = shmget(key, size, IPC_CREAT | IPC_EXCL | 0600);
    assert_true(shmid >= 0);
    return shmid;
}

static void remove_at_key(key_t key)
{
    const int shmid = shmget(key, 0, 0);
    if (shmid >= 0) {
        (void)shmctl(shmid, IPC_RMID, NULL);
    }
    const int semid = semget(key, 0, 0);
    if (semid >= 0) {
        (void)semctl(semid, 0, IPC_RMID);
    }
}

static void assert_no_ipc_left(void)
{
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

static shmchan_err_t connect_once(key_t key, shmchan_diag_t *d)
{
    shmchan_client_options_t o;
    shmchan_client_options_init(&o);
    o.connect_timeout_ms = 0; /* READY is posted already */
    shmchan_client_t *cli = NULL;
    memset(d, 0, sizeof *d);
    const shmchan_err_t err = shmchan_client_connect(key, &o, &cli, d);
    print_message("  connect: %s: %s\n", shmchan_errname(err), d->text);
    shmchan_client_disconnect(cli);
    return err;
}

/* One byte short of a header: refused by its size, before it is attached. */
static void test_client_segment_under_header_size(void **state)
{
    (void)state;
    const key_t key = testutil_key(1);
    (void)make_set(key, 0);
    (void)make_segment(key, SHMCHAN_LAYOUT_HEADER_SIZE - 1);
    shmchan_diag_t d;
    assert_int_equal(connect_once(key, &d), SHMCHAN_E_LAYOUT_SIZE);
    assert_int_equal(d.code, SHMCHAN_E_LAYOUT_SIZE);
    assert_non_null(strstr(d.text, "cannot hold a channel"));
    remove_at_key(key);
    assert_no_ipc_left();
}

/* Exactly a header's size: big enough to read, so the client reads it and
 * refuses it for what it holds (no magic), not for its size. */
static void test_client_segment_of_header_size(void **state)
{
    (void)state;
    const key_t key = testutil_key(2);
    (void)make_set(key, 0);
    (void)make_segment(key, SHMCHAN_LAYOUT_HEADER_SIZE);
    shmchan_diag_t d;
    assert_int_equal(connect_once(key, &d), SHMCHAN_E_LAYOUT_MAGIC);
    remove_at_key(key);
    assert_no_ipc_left();
}

/* Too small for a header, no set, someone attached: as a segment whose
 * header is not written yet, BUSY (never attached by the probe, so never
 * read and called "not shmchan's"). */
static void test_probe_segment_under_header_size_attached(void **state)
{
    (void)state;
    const key_t key = testutil_key(3);
    const int shmid = make_segment(key, SHMCHAN_LAYOUT_HEADER_SIZE - 1);
    void *p = shmat(shmid, NULL, SHM_RDONLY);
    assert_true(p != (void *)-1);
    shmchan_channel_info_t info;
    const shmchan_err_t err = shmchan_inspect(key, &info, NULL);
    /* Detached before any assertion: a failure must not leave the segment
     * attached for the next test's leak check. */
    assert_int_equal(shmdt(p), 0);
    assert_int_equal(err, SHMCHAN_OK);
    print_message("  %s: %s\n", shmchan_status_name(info.status), info.reason);
    assert_int_equal(info.status, SHMCHAN_STATUS_BUSY);
    assert_non_null(strstr(info.reason, "no shmchan header yet"));
    remove_at_key(key);
    assert_no_ipc_left();
}

/* Exactly a header's size, no magic, beside our marked set whose token this
 * process (the segment's creator) gave back: a server that died before
 * publishing its header (docs/lifecycle.md). The probe reads the header
 * (no magic), so the channel is STALE and reclaimed. */
static void test_probe_segment_of_header_size_left_by_dead_server(void **state)
{
    (void)state;
    const key_t key = testutil_key(4);
    (void)make_set(key, 1);
    (void)make_segment(key, SHMCHAN_LAYOUT_HEADER_SIZE);
    shmchan_channel_info_t info;
    assert_int_equal(shmchan_inspect(key, &info, NULL), SHMCHAN_OK);
    print_message("  %s: %s\n", shmchan_status_name(info.status), info.reason);
    assert_int_equal(info.status, SHMCHAN_STATUS_STALE);
    assert_non_null(strstr(info.reason, "died while initialising"));
    assert_int_equal(shmchan_remove_stale(key, 0, &info, NULL), SHMCHAN_OK);
    assert_no_ipc_left();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_client_segment_under_header_size, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_client_segment_of_header_size, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_probe_segment_under_header_size_attached,
                                  testutil_purge_fixture),
        cmocka_unit_test_teardown(test_probe_segment_of_header_size_left_by_dead_server,
                                  testutil_purge_fixture),
    };
    return cmocka_run_group_tests_name("header_size", tests, NULL, NULL);
}
