/*
 * slot_undo_test.c - a client that left its slot leaves nothing behind in
 * the kernel: its exit, later, must not take the slot from whoever holds it
 * by then. The claim raises OWNER_i with SEM_UNDO, so the release must
 * lower it with SEM_UNDO too (which cancels the undo entry); lowered
 * without, the kernel would lower OWNER_i again when the old process exits
 * and the server would see the new client of that slot vanish.
 *
 * Found by mutation testing (docs/testing.md): dropping SEM_UNDO from the
 * release failed no test, because no test kept a former client alive past
 * the next client's claim.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "src/shmchan.h"
#include "tests/testutil.h"

#define T_MS 10000

struct former_arg {
    key_t key;
    int done_wr;  /* written once it has connected and left */
    int exit_rd;  /* EOF: exit now */
    int exit_wr;  /* the test's end, closed here so that EOF can come */
};

/* Connects, leaves, reports, then lives on until told to exit. */
static int former_main(void *p)
{
    const struct former_arg *a = p;
    close(a->exit_wr);
    shmchan_client_t *cli = NULL;
    if (shmchan_client_connect(a->key, NULL, &cli, NULL) != SHMCHAN_OK) {
        return 10;
    }
    shmchan_client_disconnect(cli);
    const char one = 1;
    if (testutil_write_full(a->done_wr, &one, 1) != 0) {
        return 11;
    }
    char c;
    (void)read(a->exit_rd, &c, 1);
    return 0;
}

static void expect_event(shmchan_server_t *srv, shmchan_event_kind_t kind, shmchan_err_t reason)
{
    shmchan_event_t ev;
    uint8_t buf[16];
    assert_int_equal(shmchan_server_wait(srv, T_MS, &ev, buf, sizeof buf), SHMCHAN_OK);
    print_message("event %d (client %u, reason %s)\n", (int)ev.kind, ev.client,
                  shmchan_errname(ev.reason));
    assert_int_equal(ev.kind, kind);
    assert_int_equal(ev.client, 0);
    if (kind == SHMCHAN_EVENT_DISCONNECT) {
        assert_int_equal(ev.reason, reason);
    }
}

static void test_former_client_exit_keeps_new_client(void **state)
{
    (void)state;
    const key_t key = testutil_key(251);
    shmchan_server_options_t so;
    shmchan_server_options_init(&so);
    so.max_clients = 1; /* the next client gets the same slot */
    shmchan_server_t *srv = NULL;
    assert_int_equal(shmchan_server_create(key, &so, &srv, NULL), SHMCHAN_OK);

    int done[2], ex[2];
    assert_int_equal(pipe(done), 0);
    assert_int_equal(pipe(ex), 0);
    struct former_arg a = {key, done[1], ex[0], ex[1]};
    const pid_t pid = testutil_spawn(former_main, &a);
    assert_true(pid > 0);
    close(done[1]);
    close(ex[0]);
    char c;
    assert_int_equal(testutil_read_full(done[0], &c, 1, T_MS), 0);
    expect_event(srv, SHMCHAN_EVENT_CONNECT, SHMCHAN_OK);
    expect_event(srv, SHMCHAN_EVENT_DISCONNECT, SHMCHAN_OK);

    /* The new client of slot 0, then the former one exits. */
    shmchan_client_t *cli = NULL;
    assert_int_equal(shmchan_client_connect(key, NULL, &cli, NULL), SHMCHAN_OK);
    assert_int_equal(shmchan_client_slot(cli), 0);
    expect_event(srv, SHMCHAN_EVENT_CONNECT, SHMCHAN_OK);
    close(ex[1]);
    assert_int_equal(testutil_wait(pid, T_MS), 0);

    /* The server looks at every slot's OWNER at least once per liveness
     * period while it waits (server.c, scan_slots): a wait of ten periods
     * with nothing sent must end in TIMEOUT, not in a DISCONNECT of the
     * new client whose OWNER the former one's exit lowered. */
    shmchan_event_t ev;
    uint8_t buf[16];
    assert_int_equal(shmchan_server_wait(srv, 10 * SHMCHAN_LIVENESS_PERIOD_MS, &ev, buf,
                                         sizeof buf),
                     SHMCHAN_E_TIMEOUT);
    /* The slot is still the new client's: its messages come, and only its
     * own goodbye ends it. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(shmchan_client_send(cli, "x", 1, T_MS), SHMCHAN_OK);
        expect_event(srv, SHMCHAN_EVENT_MESSAGE, SHMCHAN_OK);
    }
    assert_int_equal(shmchan_client_check(cli), SHMCHAN_OK);
    shmchan_client_disconnect(cli);
    expect_event(srv, SHMCHAN_EVENT_DISCONNECT, SHMCHAN_OK);
    close(done[0]);
    shmchan_server_destroy(srv);
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_former_client_exit_keeps_new_client),
    };
    return cmocka_run_group_tests_name("slot_undo", tests, NULL, NULL);
}
