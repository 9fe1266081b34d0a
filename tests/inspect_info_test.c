/*
 * inspect_info_test.c - what shmchan_inspect, shmchan_remove_stale and
 * shmchan_list (shmchanctl's API) report, field by field:
 *   - a channel's owner, mode, size and attachments come from its segment;
 *     a set left alone is described by the set (not by a segment's empty
 *     fields);
 *   - a set still being initialised is BUSY: remove_stale refuses it with
 *     SHMCHAN_E_BUSY (shmchanctl prints the code) and leaves it;
 *   - objects without a key (IPC_PRIVATE) are nobody's channel: never
 *     listed, not even among the foreign ones; a list longer than the
 *     caller's array is counted, not written past it.
 *
 * Found by mutation testing (docs/testing.md): before this test, filling
 * the info from the wrong object, swapping remove_stale's BUSY for FOREIGN,
 * or inspecting IPC_PRIVATE objects in shmchan_list failed no test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/layout.h"
#include "src/shmchan.h"
#include "tests/testutil.h"

union test_semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static void sem_apply(int semid, unsigned short num, short op, short flags)
{
    struct sembuf b = {.sem_num = num, .sem_op = op, .sem_flg = flags};
    assert_int_equal(semop(semid, &b, 1), 0);
}

static void assert_no_ipc_left(void)
{
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

/* Our marked set, its token given back by this process, no segment: what
 * a server that died after its first semop leaves. Mode 0640, which only
 * the set has, so the info shows whose fields it took. */
static void test_set_alone_described_by_the_set(void **state)
{
    (void)state;
    const key_t key = testutil_key(1);
    const int semid = semget(key, (int)shmchan_layout_nsems(2), IPC_CREAT | IPC_EXCL | 0640);
    assert_true(semid >= 0);
    sem_apply(semid, SHMCHAN_SEM_MARKER, SHMCHAN_SEM_MARKER_VALUE, 0);
    sem_apply(semid, SHMCHAN_SEM_SERVER_ALIVE, 1, SEM_UNDO);
    sem_apply(semid, SHMCHAN_SEM_SERVER_ALIVE, -1, SEM_UNDO);

    shmchan_channel_info_t info;
    assert_int_equal(shmchan_inspect(key, &info, NULL), SHMCHAN_OK);
    print_message("  %s: %s\n", shmchan_status_name(info.status), info.reason);
    assert_int_equal(info.status, SHMCHAN_STATUS_STALE);
    assert_int_equal(info.semid, semid);
    assert_int_equal(info.shmid, -1);
    assert_int_equal(info.mode, 0640);
    assert_int_equal(info.uid, geteuid());
    assert_int_equal(info.cuid, geteuid());
    assert_int_equal(info.size, 0);
    assert_int_equal(info.server_pid, getpid());
    assert_int_equal(shmchan_remove_stale(key, 0, &info, NULL), SHMCHAN_OK);
    assert_no_ipc_left();
}

/* A live channel: size and attachments are the kernel's figures for its
 * segment; the header's parameters are filled. */
static void test_channel_described_by_its_segment(void **state)
{
    (void)state;
    const key_t key = testutil_key(2);
    shmchan_server_options_t o;
    shmchan_server_options_init(&o);
    o.max_clients = 3;
    o.max_payload = 100;
    o.lane_capacity = 1024;
    shmchan_server_t *srv = NULL;
    assert_int_equal(shmchan_server_create(key, &o, &srv, NULL), SHMCHAN_OK);
    struct shmid_ds ds;
    assert_int_equal(shmctl(shmchan_server_shmid(srv), IPC_STAT, &ds), 0);

    shmchan_channel_info_t info;
    const shmchan_err_t err = shmchan_inspect(key, &info, NULL);
    shmchan_server_destroy(srv);
    assert_int_equal(err, SHMCHAN_OK);
    print_message("  %s: size %llu, nattch %llu\n", shmchan_status_name(info.status),
                  (unsigned long long)info.size, (unsigned long long)info.nattch);
    assert_int_equal(info.status, SHMCHAN_STATUS_LIVE);
    assert_int_equal(info.size, ds.shm_segsz);
    assert_int_equal(info.nattch, ds.shm_nattch);
    assert_true(info.nattch >= 1);
    assert_int_equal(info.mode, 0600);
    assert_int_equal(info.max_clients, 3);
    assert_int_equal(info.max_payload, 100);
    assert_int_equal(info.lane_capacity, 1024);
    assert_no_ipc_left();
}

/* A set of a channel's shape that nobody has operated yet, just made: its
 * creator may be between semget and its first semop, so BUSY. */
static void test_remove_stale_refuses_busy(void **state)
{
    (void)state;
    const key_t key = testutil_key(3);
    const int semid = semget(key, (int)shmchan_layout_nsems(2), IPC_CREAT | IPC_EXCL | 0600);
    assert_true(semid >= 0);
    shmchan_channel_info_t info;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    assert_int_equal(shmchan_remove_stale(key, 0, &info, &d), SHMCHAN_E_BUSY);
    assert_int_equal(d.code, SHMCHAN_E_BUSY);
    assert_int_equal(info.status, SHMCHAN_STATUS_BUSY);
    assert_int_equal(semget(key, 0, 0), semid); /* left alone */
    assert_int_equal(semctl(semid, 0, IPC_RMID), 0);
    assert_no_ipc_left();
}

/* IPC_PRIVATE objects beside a keyed foreign segment: the list, foreign
 * included, names the keyed one and nothing without a key. */
static void test_list_skips_private_objects(void **state)
{
    (void)state;
    const key_t key = testutil_key(4);
    const int foreign = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
    assert_true(foreign >= 0);
    const int shmid = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
    assert_true(shmid >= 0);
    const int semid = semget(IPC_PRIVATE, (int)shmchan_layout_nsems(2), IPC_CREAT | 0600);
    assert_true(semid >= 0);

    shmchan_channel_info_t infos[8];
    size_t count = 0;
    const shmchan_err_t err = shmchan_list(infos, 8, &count, 1, NULL);
    assert_int_equal(shmctl(shmid, IPC_RMID, NULL), 0);
    assert_int_equal(semctl(semid, 0, IPC_RMID), 0);
    assert_int_equal(shmctl(foreign, IPC_RMID, NULL), 0);
    assert_int_equal(err, SHMCHAN_OK);
    for (size_t i = 0; i < count && i < 8; i++) {
        print_message("  listed: key 0x%08x %s\n", (unsigned)infos[i].key,
                      shmchan_status_name(infos[i].status));
        assert_int_not_equal(infos[i].key, IPC_PRIVATE);
    }
    assert_int_equal(count, 1);
    assert_int_equal(infos[0].key, key);
    assert_no_ipc_left();
}

/* More channels than room: the list counts them all and writes no entry
 * past `cap` (the entry after it keeps the test's mark). */
static void test_list_writes_at_most_cap(void **state)
{
    (void)state;
    const key_t a = testutil_key(5), b = testutil_key(6);
    const int ida = shmget(a, 4096, IPC_CREAT | IPC_EXCL | 0600);
    const int idb = shmget(b, 4096, IPC_CREAT | IPC_EXCL | 0600);
    assert_true(ida >= 0 && idb >= 0);
    shmchan_channel_info_t infos[2];
    memset(infos, 0x7e, sizeof infos);
    size_t count = 0;
    const shmchan_err_t err = shmchan_list(infos, 1, &count, 1, NULL);
    assert_int_equal(shmctl(ida, IPC_RMID, NULL), 0);
    assert_int_equal(shmctl(idb, IPC_RMID, NULL), 0);
    assert_int_equal(err, SHMCHAN_OK);
    assert_int_equal(count, 2);
    assert_true(infos[0].key == a || infos[0].key == b);
    const unsigned char *rest = (const unsigned char *)&infos[1];
    for (size_t i = 0; i < sizeof infos[1]; i++) {
        assert_int_equal(rest[i], 0x7e);
    }
    assert_no_ipc_left();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_set_alone_described_by_the_set, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_channel_described_by_its_segment, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_remove_stale_refuses_busy, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_list_skips_private_objects, testutil_purge_fixture),
        cmocka_unit_test_teardown(test_list_writes_at_most_cap, testutil_purge_fixture),
    };
    return cmocka_run_group_tests_name("inspect_info", tests, NULL, NULL);
}
