/* Unit tests for conn.c: a connection's keys and the server's rule for
 * taking a client's objects (pure; docs/multiuser.md).
 *
 * The rule is table-driven: one well-formed connection of an allowed
 * client, then one change per row, each with the decision docs/multiuser.md
 * gives it and a phrase the reason must contain. The keys are checked for
 * the properties the design needs over many channel keys, including the
 * ones built so that the mixed window would cover 0 or the channel itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>

#include <cmocka.h>

#include "src/conn.h"
#include "src/layout.h"
#include "tests/check.h"

#define SERVER ((uid_t)1000)
#define ALICE ((uid_t)1001)
#define MALLORY ((uid_t)1002)
#define STAFF ((gid_t)50)
#define ALICE_GID ((gid_t)1001)
#define CLIENT_PID ((pid_t)4242)
#define CONN_SIZE 4672u

static const uid_t allowed_uids[] = {ALICE};
static const gid_t allowed_gids[] = {STAFF};

static shmchan_allow_t allow_alice(void)
{
    shmchan_allow_t a = {SERVER, allowed_uids, 1, NULL, 0};
    return a;
}

/* Alice's connection, set up as the client does it and given to us. */
static void good_facts(shmchan_conn_facts_t *f)
{
    memset(f, 0, sizeof *f);
    f->conn_size = CONN_SIZE;
    f->sem_present = 1;
    f->sem_readable = 1;
    f->sem.semid = 7;
    f->sem.uid = SERVER;
    f->sem.cuid = ALICE;
    f->sem.gid = ALICE_GID;
    f->sem.cgid = ALICE_GID;
    f->sem.mode = 0600;
    f->sem.nsems = SHMCHAN_CONN_NSEMS;
    f->sem.otime = 1700000000;
    f->owner_value = 1;
    f->owner_pid = CLIENT_PID;
    f->shm_present = 1;
    f->shm_readable = 1;
    f->shm.shmid = 9;
    f->shm.uid = SERVER;
    f->shm.cuid = ALICE;
    f->shm.mode = 0600;
    f->shm.segsz = CONN_SIZE;
    f->shm.nattch = 1;
    f->shm.cpid = CLIENT_PID;
}

static void expect(const shmchan_conn_facts_t *f, const shmchan_allow_t *a,
                   shmchan_conn_decision_t want, const char *phrase)
{
    char why[400];
    const shmchan_conn_decision_t got = shmchan_conn_judge(f, a, why, sizeof why);
    if (got != want) {
        fail_msg("%s: got %s, want %s (%s)", check_ctx_text(), shmchan_conn_decision_name(got),
                 shmchan_conn_decision_name(want), why);
    }
    if (phrase != NULL && strstr(why, phrase) == NULL) {
        fail_msg("%s: reason \"%s\" lacks \"%s\"", check_ctx_text(), why, phrase);
    }
}

static void test_well_formed_connection_accepted(void **state)
{
    (void)state;
    shmchan_conn_facts_t f;
    good_facts(&f);
    const shmchan_allow_t a = allow_alice();
    check_ctx_set("alice, allowed by uid");
    expect(&f, &a, SHMCHAN_CONN_ACCEPT, NULL);
    /* The server's own uid is always allowed, with no list at all. */
    f.sem.cuid = f.shm.cuid = SERVER;
    const shmchan_allow_t own = {SERVER, NULL, 0, NULL, 0};
    check_ctx_set("the server's own uid");
    expect(&f, &own, SHMCHAN_CONN_ACCEPT, NULL);
}

/* One change to a well-formed connection, and the decision it must give. */
typedef struct row {
    const char *what;
    void (*change)(shmchan_conn_facts_t *f);
    shmchan_conn_decision_t want;
    const char *phrase;
} row_t;

static void no_set(shmchan_conn_facts_t *f) { f->sem_present = 0; }
static void set_not_given(shmchan_conn_facts_t *f) { f->sem.uid = ALICE; }
static void set_given_elsewhere(shmchan_conn_facts_t *f) { f->sem.uid = MALLORY; }
static void creator_mallory(shmchan_conn_facts_t *f) { f->sem.cuid = f->shm.cuid = MALLORY; }
static void creator_root(shmchan_conn_facts_t *f) { f->sem.cuid = f->shm.cuid = 0; }
static void set_nsems(shmchan_conn_facts_t *f) { f->sem.nsems = 4; }
static void judged_before(shmchan_conn_facts_t *f) { f->verdict_value = 1; }
static void set_mode_group(shmchan_conn_facts_t *f) { f->sem.mode = 0660; }
static void set_mode_less(shmchan_conn_facts_t *f) { f->sem.mode = 0400; }
static void set_never_operated(shmchan_conn_facts_t *f) { f->sem.otime = 0; }
static void token_down(shmchan_conn_facts_t *f) { f->owner_value = 0; }
static void token_raised(shmchan_conn_facts_t *f) { f->owner_value = 2; }
static void no_segment(shmchan_conn_facts_t *f) { f->shm_present = 0; }
static void set_unreadable(shmchan_conn_facts_t *f) { f->sem_readable = 0; }
static void shm_unreadable(shmchan_conn_facts_t *f) { f->shm_readable = 0; }
static void shm_not_given(shmchan_conn_facts_t *f) { f->shm.uid = ALICE; }
static void shm_other_creator(shmchan_conn_facts_t *f) { f->shm.cuid = MALLORY; }
static void shm_mode(shmchan_conn_facts_t *f) { f->shm.mode = 0666; }
static void shm_small(shmchan_conn_facts_t *f) { f->shm.segsz = CONN_SIZE - 1; }
static void shm_large(shmchan_conn_facts_t *f) { f->shm.segsz = CONN_SIZE + 4096; }
static void shm_unattached(shmchan_conn_facts_t *f) { f->shm.nattch = 0; }
static void shm_attached_twice(shmchan_conn_facts_t *f) { f->shm.nattch = 2; }
static void token_other_pid(shmchan_conn_facts_t *f) { f->owner_pid = CLIENT_PID + 1; }

static const row_t rows[] = {
    {"no set at the key", no_set, SHMCHAN_CONN_ABSENT, NULL},
    {"set not yet given to us", set_not_given, SHMCHAN_CONN_PENDING, "belongs to uid 1001"},
    {"set given to a third uid", set_given_elsewhere, SHMCHAN_CONN_PENDING, "uid 1002"},
    {"creator not allowed", creator_mallory, SHMCHAN_CONN_REFUSE_UID, "uid 1002"},
    {"root client not allowed", creator_root, SHMCHAN_CONN_REFUSE_UID, "uid 0 "},
    {"set of 4 semaphores", set_nsems, SHMCHAN_CONN_REFUSE_SHAPE, "4 semaphores"},
    {"a verdict in already", judged_before, SHMCHAN_CONN_JUDGED, "verdict 1"},
    {"set mode 0660", set_mode_group, SHMCHAN_CONN_REFUSE_SHAPE, "mode 0660"},
    {"set mode 0400", set_mode_less, SHMCHAN_CONN_REFUSE_SHAPE, "mode 0400"},
    {"set never operated", set_never_operated, SHMCHAN_CONN_REFUSE_SHAPE, "never operated"},
    {"client's token down", token_down, SHMCHAN_CONN_DEAD, "token"},
    {"token raised to 2", token_raised, SHMCHAN_CONN_REFUSE_SHAPE, "token 2"},
    {"no segment", no_segment, SHMCHAN_CONN_REFUSE_SHAPE, "missing"},
    {"set we may not stat", set_unreadable, SHMCHAN_CONN_PENDING, "not readable"},
    {"segment we may not stat", shm_unreadable, SHMCHAN_CONN_REFUSE_SHAPE, "not given to us"},
    {"segment not given", shm_not_given, SHMCHAN_CONN_REFUSE_SHAPE, "owner 1001"},
    {"segment of another creator", shm_other_creator, SHMCHAN_CONN_REFUSE_SHAPE, "creator 1002"},
    {"segment mode 0666", shm_mode, SHMCHAN_CONN_REFUSE_SHAPE, "mode 0666"},
    {"segment one byte short", shm_small, SHMCHAN_CONN_REFUSE_SHAPE, "size 4671"},
    {"segment larger", shm_large, SHMCHAN_CONN_REFUSE_SHAPE, "size 8768"},
    {"segment not attached", shm_unattached, SHMCHAN_CONN_REFUSE_SHAPE, "attached 0"},
    {"segment attached twice", shm_attached_twice, SHMCHAN_CONN_REFUSE_SHAPE, "attached 2"},
    {"token held by another pid", token_other_pid, SHMCHAN_CONN_REFUSE_SHAPE, "held by pid 4243"},
};

static void test_each_rule(void **state)
{
    (void)state;
    const shmchan_allow_t a = allow_alice();
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        shmchan_conn_facts_t f;
        good_facts(&f);
        rows[i].change(&f);
        check_ctx_set("row %zu: %s", i, rows[i].what);
        expect(&f, &a, rows[i].want, rows[i].phrase);
    }
    check_ctx_clear();
}

/* The uid decides before the shape: a refused uid learns it is refused
 * (and the server reads nothing more of it) whatever else is wrong. */
static void test_uid_judged_before_shape(void **state)
{
    (void)state;
    const shmchan_allow_t a = allow_alice();
    shmchan_conn_facts_t f;
    good_facts(&f);
    creator_mallory(&f);
    set_nsems(&f);
    no_segment(&f);
    judged_before(&f);
    check_ctx_set("mallory, malformed, judged before");
    expect(&f, &a, SHMCHAN_CONN_REFUSE_UID, "uid 1002");
}

/* A connection given to us whose client is gone is ours to remove, whoever
 * made it: a refused client that died would otherwise hold its key for
 * good (found by review: it was refused again at every judging). */
static void test_dead_before_uid(void **state)
{
    (void)state;
    const shmchan_allow_t a = allow_alice();
    shmchan_conn_facts_t f;
    good_facts(&f);
    creator_mallory(&f);
    token_down(&f);
    check_ctx_set("mallory's connection, its client dead");
    expect(&f, &a, SHMCHAN_CONN_DEAD, "uid 1002");
}

static void test_groups(void **state)
{
    (void)state;
    const shmchan_allow_t staff = {SERVER, NULL, 0, allowed_gids, 1};
    shmchan_conn_facts_t f;
    good_facts(&f);
    check_ctx_set("alice, not in staff");
    expect(&f, &staff, SHMCHAN_CONN_REFUSE_UID, "gid 1001");
    /* Allowed by the creator's gid (the kernel's cgid)... */
    f.sem.cgid = STAFF;
    check_ctx_set("alice created it as gid staff");
    expect(&f, &staff, SHMCHAN_CONN_ACCEPT, NULL);
    /* ...or by a group of her account, though she created it as her own. */
    f.sem.cgid = ALICE_GID;
    const gid_t groups[] = {ALICE_GID, 27, STAFF};
    f.member_of = groups;
    f.nmember_of = 3;
    check_ctx_set("alice is a member of staff");
    expect(&f, &staff, SHMCHAN_CONN_ACCEPT, NULL);
    const gid_t other_groups[] = {ALICE_GID, 27};
    f.member_of = other_groups;
    f.nmember_of = 2;
    check_ctx_set("alice is a member of other groups only");
    expect(&f, &staff, SHMCHAN_CONN_REFUSE_UID, "gid 1001");
    /* The object's current gid is the owner's to set (IPC_SET): it proves
     * nothing and is not looked at. */
    f.member_of = NULL;
    f.nmember_of = 0;
    f.sem.gid = STAFF;
    check_ctx_set("gid (not cgid) set to staff");
    expect(&f, &staff, SHMCHAN_CONN_REFUSE_UID, NULL);
    check_ctx_clear();
}

/* The unmoved base of a channel's window, from the test's own copy of
 * splitmix64's finaliser (the published constants): the oracle the keys
 * are checked against. */
static uint32_t oracle_base(uint32_t ch)
{
    uint64_t x = (uint64_t)ch + 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)(x ^ (x >> 31));
}

/* The window: 256 slot keys, then the doorbell's. */
#define WINDOW (SHMCHAN_MAX_CLIENTS_LIMIT + 1u)

/* 1 if the unmoved window of `ch` holds 0 or `ch` itself. */
static int oracle_needs_move(uint32_t ch)
{
    const uint32_t base = oracle_base(ch);
    return (0u - base) < WINDOW || (ch - base) < WINDOW;
}

/* The keys of one channel, the doorbell's included: distinct, never
 * IPC_PRIVATE, never the channel's own key, the same every time, and where
 * the unmoved window is clean, exactly that window (the keys are protocol:
 * every client and server must derive the same ones). Channels are
 * sampled, plus the ones whose mixed base puts 0 or the channel itself
 * inside the window or just past it. */
static void check_channel_keys(key_t channel)
{
    key_t seen[WINDOW];
    const uint32_t base = oracle_base((uint32_t)channel);
    const int moved = oracle_needs_move((uint32_t)channel);
    for (uint32_t i = 0; i < WINDOW; i++) {
        const key_t k = i < SHMCHAN_MAX_CLIENTS_LIMIT ? shmchan_conn_key(channel, i)
                                                      : shmchan_doorbell_key(channel);
        check_ctx_set("channel 0x%08x slot %u: key 0x%08x", (unsigned)channel, i, (unsigned)k);
        CHECK(k != IPC_PRIVATE);
        CHECK(k != channel);
        CHECK(moved || (uint32_t)k == base + i);
        for (uint32_t j = 0; j < i; j++) {
            CHECK(seen[j] != k);
        }
        seen[i] = k;
    }
}

static void test_keys(void **state)
{
    (void)state;
    static const key_t fixed[] = {1, 0x53000001, (key_t)0x7FFFFFFF, (key_t)0x80000000,
                                  (key_t)0xFFFFFFFF, 0x1234};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        check_channel_keys(fixed[i]);
    }
    uint64_t x = 88172645463325252ull;
    int hit_zero = 0;
    for (int n = 0; n < 2000; n++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        const key_t ch = (key_t)(uint32_t)x;
        if (ch == IPC_PRIVATE) {
            continue;
        }
        check_channel_keys(ch);
        hit_zero |= (uint32_t)shmchan_conn_key(ch, 0) == 0u;
    }
    CHECK(!hit_zero);
    check_ctx_clear();
}

/* Channels whose first window covers 0 or themselves exist (found by
 * search below, bounded): the move to a clean window is what keeps their
 * keys valid. Without it this test fails. */
static void test_keys_of_windows_that_need_moving(void **state)
{
    (void)state;
    int found_zero = 0, found_self = 0;
    /* For a window to hold the channel itself, mix(ch) must land within
     * 256 below ch: about 1 channel in 2^24. The search is bounded and
     * only needs one of each; a channel that needs a move is checked. */
    for (uint32_t ch = 1; ch != 0 && ch < (1u << 26) && !(found_zero && found_self); ch++) {
        const uint32_t base = oracle_base(ch);
        const int covers_zero = (0u - base) < WINDOW;
        const int covers_self = (ch - base) < WINDOW;
        if ((covers_zero && !found_zero) || (covers_self && !found_self)) {
            found_zero |= covers_zero;
            found_self |= covers_self;
            check_channel_keys((key_t)ch);
        }
    }
    print_message("windows moved: one covering 0 %s, one covering the channel %s\n",
                  found_zero ? "found and checked" : "not found in the search",
                  found_self ? "found and checked" : "not found in the search");
    CHECK(found_zero || found_self);
}

/* The window's edges: channels whose unmoved window ends exactly at 0 or at
 * themselves (the doorbell's key would be IPC_PRIVATE: it must move), or
 * stops one key short of either (it must not move). Found once by a search
 * of all 2^32 keys with oracle_base (5 s): too rare (about one key in 2^32
 * each) for the bounded search above. The keys are inputs; what the test
 * expects of them comes from the oracle. */
static void test_window_edges(void **state)
{
    (void)state;
    static const struct {
        uint32_t channel;
        uint32_t zero_or_self_at; /* 0 - base, or channel - base */
        int moves;
    } edge[] = {
        {0x20d532b8u, 256, 1}, /* 0 is the doorbell's key of the unmoved window */
        {0xc658c2f5u, 257, 0}, /* 0 is just past the window */
        {0xf30d8b5bu, 257, 0}, /* the channel is just past its window */
    };
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        const uint32_t ch = edge[i].channel;
        const uint32_t base = oracle_base(ch);
        check_ctx_set("edge channel 0x%08x", (unsigned)ch);
        /* the table is what the oracle says it is */
        CHECK((0u - base) == edge[i].zero_or_self_at || (ch - base) == edge[i].zero_or_self_at);
        CHECK(oracle_needs_move(ch) == edge[i].moves);
        check_channel_keys((key_t)ch);
    }
    check_ctx_clear();
}

/* The rule "is this dead connection ours to remove" (clean --stale, the
 * server's sweeps): its client's token down, and we are its owner (it was
 * given to us) or its creator (we never gave it away). */
static void test_dead_for(void **state)
{
    (void)state;
    shmchan_conn_facts_t f;
    good_facts(&f);
    check_ctx_set("alive");
    CHECK(!shmchan_conn_dead_for(&f, SERVER));
    CHECK(!shmchan_conn_dead_for(&f, ALICE));
    token_down(&f);
    check_ctx_set("dead, given to the server");
    CHECK(shmchan_conn_dead_for(&f, SERVER)); /* owner */
    CHECK(shmchan_conn_dead_for(&f, ALICE));  /* creator */
    CHECK(!shmchan_conn_dead_for(&f, MALLORY));
    check_ctx_set("dead, never given");
    f.sem.uid = ALICE;
    CHECK(!shmchan_conn_dead_for(&f, SERVER));
    CHECK(shmchan_conn_dead_for(&f, ALICE));
    check_ctx_set("dead, not present");
    f.sem.uid = SERVER;
    f.sem_present = 0;
    CHECK(!shmchan_conn_dead_for(&f, SERVER));
    CHECK(!shmchan_conn_dead_for(&f, ALICE));
    check_ctx_set("token raised, not down");
    good_facts(&f);
    token_raised(&f);
    CHECK(!shmchan_conn_dead_for(&f, SERVER));
    check_ctx_clear();
}

static void modes_are(const shmchan_allow_t *a, unsigned server, unsigned doorbell, int set_gid,
                      gid_t gid)
{
    shmchan_conn_modes_t m;
    memset(&m, 0xA5, sizeof m);
    shmchan_conn_modes(a, &m);
    assert_int_equal(m.server_mode, server);
    assert_int_equal(m.doorbell_mode, doorbell);
    assert_int_equal(m.doorbell_set_gid, set_gid);
    if (set_gid) {
        assert_int_equal(m.doorbell_gid, gid);
    }
}

/* No bit is granted to anyone the allow list does not need. */
static void test_modes(void **state)
{
    (void)state;
    const shmchan_allow_t own = {SERVER, NULL, 0, NULL, 0};
    modes_are(&own, 0600, 0600, 0, 0);
    /* The server's own uid on its list changes nothing. */
    static const uid_t self[] = {SERVER};
    const shmchan_allow_t own_listed = {SERVER, self, 1, NULL, 0};
    modes_are(&own_listed, 0600, 0600, 0, 0);
    const shmchan_allow_t alice = allow_alice();
    modes_are(&alice, 0644, 0622, 0, 0);
    const shmchan_allow_t staff = {SERVER, NULL, 0, allowed_gids, 1};
    modes_are(&staff, 0644, 0620, 1, STAFF);
    static const gid_t two[] = {STAFF, 27};
    const shmchan_allow_t groups = {SERVER, NULL, 0, two, 2};
    modes_are(&groups, 0644, 0622, 0, 0);
    const shmchan_allow_t both = {SERVER, allowed_uids, 1, allowed_gids, 1};
    modes_are(&both, 0644, 0622, 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_well_formed_connection_accepted),
        cmocka_unit_test(test_each_rule),
        cmocka_unit_test(test_uid_judged_before_shape),
        cmocka_unit_test(test_dead_before_uid),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_keys_of_windows_that_need_moving),
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_dead_for),
        cmocka_unit_test(test_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
