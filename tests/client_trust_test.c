/*
 * client_trust_test.c - the client's own checks of what it finds at a key,
 * each made to fail alone on a channel assembled by hand (tests/handmade.h):
 * permission bits beyond 0600 on the set or on the segment, a header that
 * names another semaphore set, a set with the shape of another layout.
 * The handmade channel with nothing wrong is accepted first, so each
 * refusal is about the property that test broke. The foreign-uid cases need
 * a second real uid and live in foreign_uid_test.c.
 *
 * Found by mutation testing (docs/testing.md): before this test, deleting
 * any one of these checks from src/client.c failed no test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ipc.h>

#include <cmocka.h>

#include "src/shmchan.h"
#include "tests/handmade.h"
#include "tests/testutil.h"

/* The client's verdict on the channel at `key`; `what` must appear in the
 * diagnostic of a refusal (which object the client blamed). */
static void expect_connect(key_t key, shmchan_err_t expect, const char *what)
{
    shmchan_client_options_t o;
    shmchan_client_options_init(&o);
    o.connect_timeout_ms = 0; /* everything is ready already */
    shmchan_client_t *cli = NULL;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t err = shmchan_client_connect(key, &o, &cli, &d);
    print_message("  connect: %s: %s\n", shmchan_errname(err), d.text);
    shmchan_client_disconnect(cli);
    assert_int_equal(err, expect);
    if (what != NULL) {
        assert_non_null(strstr(d.text, what));
    }
}

static void build(key_t key, const handmade_spec_t *spec)
{
    assert_int_equal(handmade_build(key, spec), 0);
}

static void assert_no_ipc_left(void)
{
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
    assert_int_equal(testutil_count_attach(), 0);
}

/* The control: nothing wrong, the client connects. */
static void test_handmade_channel_accepted(void **state)
{
    (void)state;
    const key_t key = testutil_key(191);
    const handmade_spec_t spec = {0};
    build(key, &spec);
    expect_connect(key, SHMCHAN_OK, NULL);
    /* Fewer permission bits than 0600 grant nothing more: accepted. */
    assert_int_equal(handmade_set_mode(key, 0, 0400), 0);
    assert_int_equal(handmade_set_mode(key, 1, 0400), 0);
    expect_connect(key, SHMCHAN_OK, NULL);
    handmade_remove(key);
    assert_no_ipc_left();
}

/* Any bit beyond 0600, on either object, and the client refuses: a group
 * or world that may alter the set can forge the server's liveness, one that
 * may write the segment can write the lanes (docs/threat-model.md). */
static void test_extra_mode_bits_refused(void **state)
{
    (void)state;
    const key_t key = testutil_key(192);
    static const unsigned modes[] = {0660, 0606, 0700, 0640, 0604, 0610};
    const handmade_spec_t spec = {0};
    build(key, &spec);
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        print_message("mode %04o on the set:\n", modes[i]);
        assert_int_equal(handmade_set_mode(key, 0, modes[i]), 0);
        expect_connect(key, SHMCHAN_E_FOREIGN, "semaphore set");
        assert_int_equal(handmade_set_mode(key, 0, 0600), 0);
        print_message("mode %04o on the segment:\n", modes[i]);
        assert_int_equal(handmade_set_mode(key, 1, modes[i]), 0);
        expect_connect(key, SHMCHAN_E_FOREIGN, "segment");
        assert_int_equal(handmade_set_mode(key, 1, 0600), 0);
    }
    expect_connect(key, SHMCHAN_OK, NULL);
    handmade_remove(key);
    assert_no_ipc_left();
}

/* A header naming another set: the segment and the set at the key are not
 * one channel (one may be an impostor's), so the client stops. */
static void test_header_names_other_set(void **state)
{
    (void)state;
    const key_t key = testutil_key(193);
    const handmade_spec_t spec = {.header_names_other_set = 1};
    build(key, &spec);
    expect_connect(key, SHMCHAN_E_FOREIGN, "names semaphore set");
    handmade_remove(key);
    assert_no_ipc_left();
}

/* A set with one slot's semaphores more than the header's layout. */
static void test_set_shape_differs_from_header(void **state)
{
    (void)state;
    const key_t key = testutil_key(194);
    const handmade_spec_t spec = {.set_one_slot_more = 1};
    build(key, &spec);
    expect_connect(key, SHMCHAN_E_FOREIGN, "names semaphore set");
    handmade_remove(key);
    assert_no_ipc_left();
}

/* A liveness token at 0 that no process ever operated (GETPID 0: no pid
 * recorded, or one outside our pid namespace) proves nothing (probe.h, the
 * one rule): the client connects rather than call the channel dead or fail
 * (found by mutation testing: treating a pid of 0 as an error survived). */
static void test_token_never_operated(void **state)
{
    (void)state;
    const key_t key = testutil_key(195);
    const handmade_spec_t spec = {.token_untouched = 1};
    build(key, &spec);
    expect_connect(key, SHMCHAN_OK, NULL);
    handmade_remove(key);
    assert_no_ipc_left();
}

static int teardown(void **state)
{
    (void)state;
    for (unsigned salt = 191; salt <= 195; salt++) {
        handmade_remove(testutil_key(salt));
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_handmade_channel_accepted, teardown),
        cmocka_unit_test_teardown(test_extra_mode_bits_refused, teardown),
        cmocka_unit_test_teardown(test_header_names_other_set, teardown),
        cmocka_unit_test_teardown(test_set_shape_differs_from_header, teardown),
        cmocka_unit_test_teardown(test_token_never_operated, teardown),
    };
    return cmocka_run_group_tests_name("client_trust", tests, NULL, NULL);
}
