/* Unit tests for account.c: user and group names to ids, and back.
 *
 * They rely on the accounts every Debian system has (root = 0, group root
 * = 0, nobody = 65534, group nogroup = 65534), which Bazel's sandbox sees
 * in the host's /etc/passwd and /etc/group; and on a uid nobody has.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "src/account.h"

#define UNUSED_UID ((uid_t)61234)

static void uid_is(const char *text, uid_t want)
{
    uid_t got = 12345;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    if (shmchan_account_uid(text, &got, &d) != SHMCHAN_OK) {
        fail_msg("'%s': %s", text, d.text);
    }
    assert_int_equal(got, want);
}

static void uid_refused(const char *text, const char *phrase)
{
    uid_t got = 12345;
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    assert_int_equal(shmchan_account_uid(text, &got, &d), SHMCHAN_E_INVALID_ARGUMENT);
    assert_int_equal(got, 12345);
    if (strstr(d.text, phrase) == NULL) {
        fail_msg("'%s': message \"%s\" lacks \"%s\"", text, d.text, phrase);
    }
}

static void test_users(void **state)
{
    (void)state;
    uid_is("root", 0);
    uid_is("nobody", 65534);
    uid_is("0", 0);
    uid_is("65534", 65534);
    /* A number needs no account: a uid is what the kernel attests. */
    uid_is("61234", UNUSED_UID);
    uid_is("59", 59); /* every digit */
    uid_is("4294967294", (uid_t)4294967294u);
    uid_refused("no-such-user-shmchan", "user 'no-such-user-shmchan': no such user");
    /* Not numbers, and no account has these names. */
    uid_refused("-1", "user '-1'");
    uid_refused("+5", "user '+5'");
    uid_refused("1000x", "user '1000x'");
    uid_refused("", "user ''");
    /* (uid_t)-1 is "no change" to chown(2), never an id; above it, no id. */
    uid_refused("4294967295", "user '4294967295'");
    uid_refused("99999999999", "user '99999999999'");
    uid_t out;
    assert_int_equal(shmchan_account_uid(NULL, &out, NULL), SHMCHAN_E_INVALID_ARGUMENT);
}

static void test_groups(void **state)
{
    (void)state;
    gid_t g = 12345;
    assert_int_equal(shmchan_account_gid("root", &g, NULL), SHMCHAN_OK);
    assert_int_equal(g, 0);
    assert_int_equal(shmchan_account_gid("nogroup", &g, NULL), SHMCHAN_OK);
    assert_int_equal(g, 65534);
    assert_int_equal(shmchan_account_gid("61234", &g, NULL), SHMCHAN_OK);
    assert_int_equal(g, 61234);
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    g = 12345;
    assert_int_equal(shmchan_account_gid("no-such-group-shmchan", &g, &d),
                     SHMCHAN_E_INVALID_ARGUMENT);
    assert_int_equal(g, 12345);
    assert_non_null(strstr(d.text, "group 'no-such-group-shmchan': no such group"));
    assert_int_equal(shmchan_account_gid(NULL, &g, NULL), SHMCHAN_E_INVALID_ARGUMENT);
}

static void test_names_and_memberships(void **state)
{
    (void)state;
    char name[64];
    shmchan_account_user_name(0, name, sizeof name);
    assert_string_equal(name, "root");
    shmchan_account_user_name(UNUSED_UID, name, sizeof name);
    assert_string_equal(name, "");
    gid_t groups[8];
    const size_t n = shmchan_account_groups(0, groups, 8);
    assert_true(n >= 1);
    int has_root = 0;
    for (size_t i = 0; i < n && i < 8; i++) {
        has_root |= groups[i] == 0;
    }
    assert_true(has_root);
    assert_int_equal(shmchan_account_groups(UNUSED_UID, groups, 8), 0);
    /* Never a write past what is asked for, nor past what there is: the
     * entries not filled keep their canaries. */
    const gid_t canary = (gid_t)0xC0FFEE;
    for (size_t cap = 0; cap <= 8; cap++) {
        for (size_t i = 0; i < 8; i++) {
            groups[i] = canary;
        }
        const size_t got = shmchan_account_groups(0, groups, cap);
        assert_int_equal(got, n);
        for (size_t i = 0; i < 8; i++) {
            if ((i < cap && i < n) != (groups[i] != canary)) {
                fail_msg("cap %zu: entry %zu %s", cap, i,
                         groups[i] != canary ? "written" : "not written");
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_users),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_names_and_memberships),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
