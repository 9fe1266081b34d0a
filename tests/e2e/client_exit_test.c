/*
 * client_exit_test.c - the client program's exit status 3 ("no server at
 * KEY, or the server went away") on the two connect outcomes other than
 * "nothing at the key" (client_test covers that one): a channel whose
 * server never became ready, and a stale channel whose server is dead;
 * and once connected, on being dropped by the server (its lane corrupted).
 * docs/programs.md promises 3 for all; 1 would tell a script to give up
 * on a channel that a restarted server will bring back.
 *
 * Found by mutation testing (docs/testing.md): before this test, exiting 1
 * on any of these outcomes failed no test.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <cmocka.h>

#include "src/lane.h"
#include "src/layout.h"
#include "src/shm_atomic.h"
#include "src/shmchan.h"
#include "tests/peer_map.h"
#include "tests/e2e/e2e_util.h"

static e2e_proc_t client;
static e2e_proc_t server;

/* A semaphore set of the right shape, never touched: to a client, a server
 * between semget and its first semop, which never gets further. */
static void test_server_never_ready(void **state)
{
    (void)state;
    const key_t key = testutil_key(31);
    const int semid = semget(key, 8, IPC_CREAT | IPC_EXCL | 0600);
    assert_true(semid >= 0);
    const char *const quick[] = {"--timeout=200", NULL};
    assert_int_equal(e2e_start_client(&client, key, quick, E2E_STDIN_NULL), 0);
    assert_int_equal(e2e_finish(&client, E2E_DEADLINE_MS), 3);
    assert_true(e2e_contains(client.err, client.err_len, "did not become ready"));
    assert_int_equal(semctl(semid, 0, IPC_RMID), 0);
    e2e_assert_no_ipc_left();
}

static int crash_server_main(void *p)
{
    shmchan_server_t *srv = NULL;
    if (shmchan_server_create(*(const key_t *)p, NULL, &srv, NULL) != SHMCHAN_OK) {
        return 10;
    }
    raise(SIGKILL);
    return 11;
}

/* A stale channel: its server died without a word (SIGKILL). */
static void test_server_dead(void **state)
{
    (void)state;
    key_t key = testutil_key(32);
    const pid_t pid = testutil_spawn(crash_server_main, &key);
    assert_true(pid > 0);
    assert_int_equal(testutil_wait(pid, E2E_DEADLINE_MS), 128 + SIGKILL);
    const char *const quick[] = {"--timeout=200", NULL};
    assert_int_equal(e2e_start_client(&client, key, quick, E2E_STDIN_NULL), 0);
    assert_int_equal(e2e_finish(&client, E2E_DEADLINE_MS), 3);
    assert_true(e2e_contains(client.err, client.err_len, "is dead"));
    e2e_cleanup(key & ~(key_t)0xff);
    e2e_assert_no_ipc_left();
}

/* The server program drops a client whose lane is corrupt (a head past the
 * lane's capacity, written here in the connected client's name) and marks
 * its slot; the client program, idle at its prompt, sees that at its next
 * look and leaves with 3: for it, the server went away. */
static void test_dropped_by_server(void **state)
{
    (void)state;
    const key_t key = testutil_key(33);
    assert_int_equal(e2e_start_server(&server, key, NULL), 0);
    assert_int_equal(e2e_start_client(&client, key, NULL, E2E_STDIN_PIPE), 0);
    assert_int_equal(e2e_wait_for(&client, 1, E2E_CHAT_CLIENT_HEAD, E2E_DEADLINE_MS), 0);

    peer_map_t m;
    assert_int_equal(peer_attach(key, 0, &m), 0);
    uint8_t *ctl = peer_ctl(&m, 0, SHMCHAN_SLOT_OFF_C2S_CTL); /* the one client: slot 0 */
    const uint32_t head = shmchan_shm_load_u32_acquire(ctl + SHMCHAN_LANE_OFF_HEAD);
    shmchan_shm_store_u32_release(ctl + SHMCHAN_LANE_OFF_HEAD,
                                  head + m.layout.params.lane_capacity + SHMCHAN_FRAME_HEADER_SIZE);
    assert_int_equal(shmdt(m.base), 0);
    /* Wake the server, as a client's send does (it also looks unwoken). */
    struct sembuf wake[2] = {
        {.sem_num = SHMCHAN_SEM_SERVER_WAKE, .sem_op = 0, .sem_flg = IPC_NOWAIT},
        {.sem_num = SHMCHAN_SEM_SERVER_WAKE, .sem_op = 1, .sem_flg = 0},
    };
    (void)semop(semget(key, 0, 0), wake, 2);

    assert_int_equal(e2e_wait_for(&server, 2, "dropped client 0", E2E_DEADLINE_MS), 0);
    assert_int_equal(e2e_finish(&client, E2E_DEADLINE_MS), 3);
    assert_true(e2e_contains(client.err, client.err_len, "dropped this client"));
    (void)e2e_kill_and_finish(&server, SIGTERM, E2E_DEADLINE_MS);
    e2e_assert_no_ipc_left();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_server_never_ready, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_server_dead, e2e_setup, e2e_teardown),
        cmocka_unit_test_setup_teardown(test_dropped_by_server, e2e_setup, e2e_teardown),
    };
    return cmocka_run_group_tests_name("client_exit", tests, NULL, NULL);
}
