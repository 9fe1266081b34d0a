/* Unit tests for src/prog/resolve.c: command-line user and group texts
 * made ids, with the system's real databases (only entries every system
 * has: root, uid 0 and gid 0; numbers need no entry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cmocka.h>

#include "src/prog/args.h"
#include "src/prog/resolve.h"

#define NO_USER "shmchan-no-such-user"
#define NO_GROUP "shmchan-no-such-group"

static void test_uid(void **state)
{
    (void)state;
    uid_t uid = 777;
    assert_int_equal(shmchan_prog_resolve_uid("t", "--o", "root", &uid), SHMCHAN_PROG_EXIT_OK);
    assert_int_equal(uid, 0);
    assert_int_equal(shmchan_prog_resolve_uid("t", "--o", "54321", &uid), SHMCHAN_PROG_EXIT_OK);
    assert_int_equal(uid, 54321);
    uid = 777;
    assert_int_equal(shmchan_prog_resolve_uid("t", "--o", NO_USER, &uid), SHMCHAN_PROG_EXIT_USAGE);
    assert_int_equal(shmchan_prog_resolve_uid("t", "--o", "4294967295", &uid),
                     SHMCHAN_PROG_EXIT_USAGE);
    assert_int_equal(uid, 777); /* untouched on failure */
}

/* Each id once, in the order first given, whatever text named it. */
static void test_lists_keep_each_id_once(void **state)
{
    (void)state;
    const char *const users[] = {"54321", "root", "7", "0", "54321", "00"};
    uid_t uids[SHMCHAN_PROG_MAX_ALLOW];
    size_t n = 99;
    assert_int_equal(shmchan_prog_resolve_uids("t", "--o", users, 6, uids, SHMCHAN_PROG_MAX_ALLOW,
                                               &n),
                     SHMCHAN_PROG_EXIT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(uids[0], 54321);
    assert_int_equal(uids[1], 0);
    assert_int_equal(uids[2], 7);

    const char *const groups[] = {"root", "0", "12", "12"};
    gid_t gids[SHMCHAN_PROG_MAX_ALLOW];
    assert_int_equal(shmchan_prog_resolve_gids("t", "--o", groups, 4, gids, SHMCHAN_PROG_MAX_ALLOW,
                                               &n),
                     SHMCHAN_PROG_EXIT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(gids[0], 0);
    assert_int_equal(gids[1], 12);

    /* Empty lists. */
    assert_int_equal(shmchan_prog_resolve_gids("t", "--o", groups, 0, gids, 0, &n),
                     SHMCHAN_PROG_EXIT_OK);
    assert_int_equal(n, 0);
}

static void test_lists_fail_on_unknown_and_overflow(void **state)
{
    (void)state;
    const char *const users[] = {"1", NO_USER, "2"};
    uid_t uids[3];
    size_t n = 0;
    assert_int_equal(shmchan_prog_resolve_uids("t", "--o", users, 3, uids, 3, &n),
                     SHMCHAN_PROG_EXIT_USAGE);
    const char *const groups[] = {"1", NO_GROUP};
    gid_t gids[2];
    assert_int_equal(shmchan_prog_resolve_gids("t", "--o", groups, 2, gids, 2, &n),
                     SHMCHAN_PROG_EXIT_USAGE);
    /* More texts than room: refused before anything is written. */
    const char *const three[] = {"1", "2", "3"};
    uid_t two[2] = {55, 55};
    assert_int_equal(shmchan_prog_resolve_uids("t", "--o", three, 3, two, 2, &n),
                     SHMCHAN_PROG_EXIT_USAGE);
    assert_int_equal(two[0], 55);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uid),
        cmocka_unit_test(test_lists_keep_each_id_once),
        cmocka_unit_test(test_lists_fail_on_unknown_and_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
