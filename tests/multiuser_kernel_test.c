/*
 * multiuser_kernel_test.c - the kernel's permission rules that the
 * multi-user channel design (docs/multiuser.md) rests on, checked with three
 * real uids on the kernel CI runs on.
 *
 * The design gives each client a segment and a semaphore set of its own,
 * created by the client (the kernel records the client's uid as `cuid`, and
 * nobody can change that) and handed to the server with IPC_SET (`uid` =
 * the server's), mode 0600. Whether that isolates one client from another
 * depends on clauses of ipc(2)/semctl(2)/shmctl(2)/semop(2) that are easy
 * to misremember, so each one the design needs is a test here:
 *
 *   - an owner may give an object away (IPC_SET uid) without privilege,
 *     and both the creator and the new owner then have the owner's bits;
 *   - a third uid - even one in the client's group - gets EACCES on every
 *     operation and EPERM on IPC_SET/IPC_RMID; IPC_SET never changes cuid;
 *   - the server's set can be 0644: readable (GETVAL, IPC_STAT, a
 *     wait-for-zero semop need only read permission) but not alterable by
 *     clients, so nobody but the server moves its liveness token;
 *   - a doorbell set with mode 0622 lets others post (and, the cost written
 *     in the threat model, zero it with SETVAL) but not read, remove or
 *     re-mode it;
 *   - SEM_UNDO still releases a token the client took on a set it then gave
 *     away, and the kernel records the dying client's pid as sempid.
 *
 * Needs root outside a user namespace (setresuid to uids nobody mapped):
 * tests/BUILD tags it "local" and main() unshares an IPC namespace of its
 * own, as foreign_uid_test does. It fails, never skips, where it cannot run.
 */
/* unshare(2) and CLONE_NEWIPC are Linux extensions of <sched.h>;
 * setresuid(2)/setresgid(2) and setgroups(2) are GNU/BSD extensions. */
#define _GNU_SOURCE 1

#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/testutil.h"

/* Three uids no account uses here: the server (unprivileged, so that root's
 * CAP_IPC_OWNER proves nothing), the client, and a third user who shares
 * the client's group. */
#define SERVER_UID ((uid_t)61001)
#define CLIENT_UID ((uid_t)61002)
#define THIRD_UID ((uid_t)61003)
#define SERVER_GID ((gid_t)61001)
#define SHARED_GID ((gid_t)61002)

#define T_MS 10000
#define SEG_BYTES 4096

union semun_arg {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

/* The keys of this process's block; a forked child inherits them. */
static key_t g_key_set;
static key_t g_key_shm;

/* ---- running code as another user ------------------------------------ */

struct as_user_arg {
    uid_t uid;
    gid_t gid;
    int (*fn)(void);
};

static int as_user_main(void *p)
{
    const struct as_user_arg *a = p;
    if (testutil_become(a->uid, a->gid) != 0) {
        return 77;
    }
    return a->fn();
}

/* Runs fn as uid/gid in a child; its exit status must be 0. */
static void run_as(uid_t uid, gid_t gid, int (*fn)(void))
{
    struct as_user_arg a = {uid, gid, fn};
    const pid_t pid = testutil_spawn(as_user_main, &a);
    assert_true(pid > 0);
    const int status = testutil_wait(pid, T_MS);
    if (status == 77) {
        fail_msg("cannot change uid: run as root outside a user namespace");
    }
    assert_int_equal(status, 0);
}

/* In a child: `rc` (a syscall's result) must be `want_ok ? success : -1
 * with errno == want_errno`. Prints what differed; returns 0 or 1. */
static int expect(const char *what, int rc, int want_errno)
{
    const int got = rc == -1 ? errno : 0;
    if (got == want_errno) {
        return 0;
    }
    fprintf(stderr, "uid %u: %s: got %s, want %s\n", (unsigned)geteuid(), what,
            got == 0 ? "success" : strerror(got), want_errno == 0 ? "success" : strerror(want_errno));
    return 1;
}

static int set_id(void)
{
    return semget(g_key_set, 0, 0);
}

static int shm_id(void)
{
    return shmget(g_key_shm, 0, 0);
}

static int sem_post(int semid, unsigned short num, short op, short flags)
{
    struct sembuf b = {num, op, flags};
    return semop(semid, &b, 1);
}

static int stat_set(int semid, struct semid_ds *ds)
{
    union semun_arg arg = {.buf = ds};
    return semctl(semid, 0, IPC_STAT, arg);
}

static int stat_shm(int shmid, struct shmid_ds *ds)
{
    return shmctl(shmid, IPC_STAT, ds);
}

/* Attaches, optionally writes one byte, detaches: the result of shmat. */
static int try_attach(int shmid, int flags)
{
    void *p = shmat(shmid, NULL, flags);
    if (p == (void *)-1) {
        return -1;
    }
    if ((flags & SHM_RDONLY) == 0) {
        ((volatile unsigned char *)p)[0] = 1;
    }
    return shmdt(p);
}

/* Sets the owner uid (and gid) of both objects, keeping mode and cuid. */
static int give_away(int semid, int shmid, uid_t uid, gid_t gid)
{
    struct semid_ds sds;
    struct shmid_ds mds;
    if (stat_set(semid, &sds) != 0 || stat_shm(shmid, &mds) != 0) {
        return -1;
    }
    sds.sem_perm.uid = uid;
    sds.sem_perm.gid = gid;
    mds.shm_perm.uid = uid;
    mds.shm_perm.gid = gid;
    union semun_arg arg = {.buf = &sds};
    if (semctl(semid, 0, IPC_SET, arg) != 0) {
        return -1;
    }
    return shmctl(shmid, IPC_SET, &mds);
}

/* ---- a client's objects, given to the server -------------------------- */

/* As the client: a 0600 set of 4 and a 0600 segment, the token (sem 0)
 * taken with SEM_UNDO, both given to the server's uid. */
static int client_creates_and_gives(void)
{
    const int semid = semget(g_key_set, 4, IPC_CREAT | IPC_EXCL | 0600);
    const int shmid = shmget(g_key_shm, SEG_BYTES, IPC_CREAT | IPC_EXCL | 0600);
    if (semid < 0 || shmid < 0) {
        fprintf(stderr, "client create: %s\n", strerror(errno));
        return 1;
    }
    if (give_away(semid, shmid, SERVER_UID, SERVER_GID) != 0) {
        fprintf(stderr, "client IPC_SET uid=%u: %s\n", (unsigned)SERVER_UID, strerror(errno));
        return 1;
    }
    return 0;
}

/* The full set of owner-class operations: every one must succeed. */
static int owner_class_ops(void)
{
    const int semid = set_id();
    const int shmid = shm_id();
    struct semid_ds sds;
    struct shmid_ds mds;
    int bad = expect("semget", semid < 0 ? -1 : 0, 0) + expect("shmget", shmid < 0 ? -1 : 0, 0);
    bad += expect("semop +1 (RX)", sem_post(semid, 1, 1, 0), 0);
    bad += expect("semop -1 (RX)", sem_post(semid, 1, -1, IPC_NOWAIT), 0);
    bad += expect("GETVAL", semctl(semid, 1, GETVAL), 0);
    bad += expect("IPC_STAT set", stat_set(semid, &sds), 0);
    bad += expect("IPC_STAT segment", stat_shm(shmid, &mds), 0);
    bad += expect("shmat read-write", try_attach(shmid, 0), 0);
    if (bad == 0 && (sds.sem_perm.cuid != CLIENT_UID || sds.sem_perm.uid != SERVER_UID ||
                     mds.shm_perm.cuid != CLIENT_UID || mds.shm_perm.uid != SERVER_UID ||
                     (sds.sem_perm.mode & 0777) != 0600 || (mds.shm_perm.mode & 0777) != 0600)) {
        fprintf(stderr, "IPC_STAT: set cuid %u uid %u mode %o, segment cuid %u uid %u mode %o\n",
                (unsigned)sds.sem_perm.cuid, (unsigned)sds.sem_perm.uid,
                (unsigned)(sds.sem_perm.mode & 0777), (unsigned)mds.shm_perm.cuid,
                (unsigned)mds.shm_perm.uid, (unsigned)(mds.shm_perm.mode & 0777));
        bad++;
    }
    return bad;
}

/* Everything a third uid could try on the client's objects, each refused. */
static int third_party_ops(void)
{
    /* Looking an id up by key needs no permission (semget(2) checks only
     * the bits asked for, none here); everything after it does. */
    const int semid = set_id();
    const int shmid = shm_id();
    struct semid_ds sds;
    struct shmid_ds mds;
    union semun_arg one = {.val = 1};
    int bad = expect("semget", semid < 0 ? -1 : 0, 0) + expect("shmget", shmid < 0 ? -1 : 0, 0);
    bad += expect("semop +1", sem_post(semid, 1, 1, IPC_NOWAIT), EACCES);
    bad += expect("semop wait-for-zero", sem_post(semid, 2, 0, IPC_NOWAIT), EACCES);
    bad += expect("semop -1 on the token", sem_post(semid, 0, -1, IPC_NOWAIT), EACCES);
    bad += expect("GETVAL", semctl(semid, 0, GETVAL), EACCES);
    bad += expect("SETVAL", semctl(semid, 0, SETVAL, one), EACCES);
    bad += expect("IPC_STAT set", stat_set(semid, &sds), EACCES);
    bad += expect("IPC_STAT segment", stat_shm(shmid, &mds), EACCES);
    bad += expect("shmat read-only", try_attach(shmid, SHM_RDONLY), EACCES);
    bad += expect("shmat read-write", try_attach(shmid, 0), EACCES);
    bad += expect("IPC_RMID set", semctl(semid, 0, IPC_RMID), EPERM);
    bad += expect("IPC_RMID segment", shmctl(shmid, IPC_RMID, NULL), EPERM);
    /* IPC_SET needs owner or creator before it reads the buffer. */
    memset(&sds, 0, sizeof sds);
    sds.sem_perm.uid = THIRD_UID;
    sds.sem_perm.mode = 0666;
    union semun_arg arg = {.buf = &sds};
    bad += expect("IPC_SET set", semctl(semid, 0, IPC_SET, arg), EPERM);
    memset(&mds, 0, sizeof mds);
    mds.shm_perm.uid = THIRD_UID;
    mds.shm_perm.mode = 0666;
    bad += expect("IPC_SET segment", shmctl(shmid, IPC_SET, &mds), EPERM);
    return bad;
}

/* Removes both objects: allowed to the owner and to the creator alike. */
static int remove_both(void)
{
    return expect("IPC_RMID set", semctl(set_id(), 0, IPC_RMID), 0) +
           expect("IPC_RMID segment", shmctl(shm_id(), IPC_RMID, NULL), 0);
}

static void assert_nothing_left(void)
{
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

/* A client's objects, once given away, are the client's and the server's
 * alone: both have every right, a third uid of the client's own group none,
 * and the server (unprivileged) can remove them. */
static void test_giveaway_grants_exactly_two_uids(void **state)
{
    (void)state;
    run_as(CLIENT_UID, SHARED_GID, client_creates_and_gives);
    run_as(SERVER_UID, SERVER_GID, owner_class_ops);
    run_as(CLIENT_UID, SHARED_GID, owner_class_ops);
    run_as(THIRD_UID, SHARED_GID, third_party_ops);
    /* Root is not the third party: CAP_IPC_OWNER bypasses every check
     * (ipc(2)); a root server needs none of this, a root client is trusted
     * by the server for its own objects only. */
    run_as(SERVER_UID, SERVER_GID, remove_both);
    assert_nothing_left();
}

/* cuid is the kernel's: the new owner giving the objects on to a third
 * uid changes uid, never cuid, so the server still sees who created them. */
static int server_gives_on(void)
{
    return expect("IPC_SET to third", give_away(set_id(), shm_id(), THIRD_UID, SHARED_GID), 0);
}

static int cuid_is_client(void)
{
    struct semid_ds sds;
    struct shmid_ds mds;
    int bad = expect("IPC_STAT set", stat_set(set_id(), &sds), 0) +
              expect("IPC_STAT segment", stat_shm(shm_id(), &mds), 0);
    if (bad == 0 && (sds.sem_perm.cuid != CLIENT_UID || mds.shm_perm.cuid != CLIENT_UID)) {
        fprintf(stderr, "cuid changed: set %u segment %u\n", (unsigned)sds.sem_perm.cuid,
                (unsigned)mds.shm_perm.cuid);
        bad++;
    }
    return bad;
}

static void test_cuid_never_changes(void **state)
{
    (void)state;
    run_as(CLIENT_UID, SHARED_GID, client_creates_and_gives);
    run_as(SERVER_UID, SERVER_GID, server_gives_on);
    run_as(THIRD_UID, SHARED_GID, cuid_is_client);
    /* The creator keeps the right to remove what it created, whoever owns
     * it now: a client cleans up its own leftovers. */
    run_as(CLIENT_UID, SHARED_GID, remove_both);
    assert_nothing_left();
}

/* ---- the server's own set: readable, not alterable -------------------- */

static int server_creates_public_set(void)
{
    const int semid = semget(g_key_set, 3, IPC_CREAT | IPC_EXCL | 0644);
    const int shmid = shmget(g_key_shm, SEG_BYTES, IPC_CREAT | IPC_EXCL | 0644);
    if (semid < 0 || shmid < 0) {
        fprintf(stderr, "server create: %s\n", strerror(errno));
        return 1;
    }
    /* sem 0 stands for the liveness token, sem 1 for "not ready yet" at 0.
     * Raised without SEM_UNDO so that it outlives this short-lived creator
     * (the undo itself is test_undo_releases_given_token's subject). */
    return expect("raise token", sem_post(semid, 0, 1, 0), 0);
}

static int reader_ops(void)
{
    const int semid = set_id();
    const int shmid = shm_id();
    struct semid_ds sds;
    struct shmid_ds mds;
    union semun_arg zero = {.val = 0};
    int bad = expect("GETVAL token", semctl(semid, 0, GETVAL), 0);
    bad += expect("GETPID token", semctl(semid, 0, GETPID), 0);
    bad += expect("IPC_STAT set", stat_set(semid, &sds), 0);
    bad += expect("IPC_STAT segment", stat_shm(shmid, &mds), 0);
    /* Waiting for a semaphore to be zero only reads it (semop(2): "the
     * calling process must have read permission"), so a client can wait
     * for "ready" without any right to change it. */
    bad += expect("semop wait-for-zero", sem_post(semid, 1, 0, IPC_NOWAIT), 0);
    bad += expect("shmat read-only", try_attach(shmid, SHM_RDONLY), 0);
    bad += expect("shmat read-write", try_attach(shmid, 0), EACCES);
    bad += expect("semop -1 on the token", sem_post(semid, 0, -1, IPC_NOWAIT), EACCES);
    bad += expect("semop +1", sem_post(semid, 1, 1, IPC_NOWAIT), EACCES);
    bad += expect("SETVAL token 0", semctl(semid, 0, SETVAL, zero), EACCES);
    bad += expect("IPC_RMID set", semctl(semid, 0, IPC_RMID), EPERM);
    bad += expect("IPC_RMID segment", shmctl(shmid, IPC_RMID, NULL), EPERM);
    return bad;
}

static int token_still_held(void)
{
    const int v = semctl(set_id(), 0, GETVAL);
    if (v != 1) {
        fprintf(stderr, "token is %d, want 1\n", v);
        return 1;
    }
    return 0;
}

static void test_server_set_readable_not_alterable(void **state)
{
    (void)state;
    run_as(SERVER_UID, SERVER_GID, server_creates_public_set);
    run_as(CLIENT_UID, SHARED_GID, reader_ops);
    run_as(THIRD_UID, SHARED_GID, reader_ops);
    run_as(CLIENT_UID, SHARED_GID, token_still_held);
    run_as(SERVER_UID, SERVER_GID, remove_both);
    assert_nothing_left();
}

/* ---- a shared doorbell: anyone may ring, nobody else may read ---------- */

static int server_creates_doorbell(void)
{
    const int semid = semget(g_key_set, 2, IPC_CREAT | IPC_EXCL | 0622);
    return semid < 0 ? expect("doorbell create", -1, 0) : 0;
}

static int ringer_ops(void)
{
    const int semid = set_id();
    struct semid_ds sds;
    union semun_arg zero = {.val = 0};
    int bad = expect("semop +1 (ring)", sem_post(semid, 0, 1, IPC_NOWAIT), 0);
    bad += expect("GETVAL", semctl(semid, 0, GETVAL), EACCES);
    bad += expect("IPC_STAT", stat_set(semid, &sds), EACCES);
    /* The cost a ringer can impose, written in the threat model: it may
     * also take a ring back (-1) or SETVAL 0, a stolen wake-up. */
    bad += expect("semop -1 (steal)", sem_post(semid, 0, -1, IPC_NOWAIT), 0);
    bad += expect("SETVAL 0 (steal)", semctl(semid, 0, SETVAL, zero), 0);
    bad += expect("IPC_RMID", semctl(semid, 0, IPC_RMID), EPERM);
    memset(&sds, 0, sizeof sds);
    sds.sem_perm.uid = geteuid();
    sds.sem_perm.mode = 0666;
    union semun_arg arg = {.buf = &sds};
    bad += expect("IPC_SET", semctl(semid, 0, IPC_SET, arg), EPERM);
    return bad;
}

static int doorbell_owner_removes(void)
{
    return expect("IPC_RMID", semctl(set_id(), 0, IPC_RMID), 0);
}

static void test_doorbell_alter_only(void **state)
{
    (void)state;
    run_as(SERVER_UID, SERVER_GID, server_creates_doorbell);
    run_as(CLIENT_UID, SHARED_GID, ringer_ops);
    run_as(THIRD_UID, SHARED_GID, ringer_ops);
    run_as(SERVER_UID, SERVER_GID, doorbell_owner_removes);
    assert_nothing_left();
}

/* ---- SEM_UNDO on a set given away -------------------------------------- */

static int client_takes_token_and_gives(void)
{
    if (client_creates_and_gives() != 0) {
        return 1;
    }
    /* Taken after the give-away: the creator keeps alter permission. */
    return expect("take token (SEM_UNDO)", sem_post(set_id(), 0, 1, SEM_UNDO), 0);
}

static void test_undo_releases_given_token(void **state)
{
    (void)state;
    struct as_user_arg a = {CLIENT_UID, SHARED_GID, client_takes_token_and_gives};
    const pid_t pid = testutil_spawn(as_user_main, &a);
    assert_true(pid > 0);
    assert_int_equal(testutil_wait(pid, T_MS), 0);
    /* The client has exited: the kernel applied its undo, in its name. */
    const int semid = semget(g_key_set, 0, 0);
    assert_true(semid >= 0);
    assert_int_equal(semctl(semid, 0, GETVAL), 0);
    assert_int_equal(semctl(semid, 0, GETPID), pid);
    run_as(SERVER_UID, SERVER_GID, remove_both);
    assert_nothing_left();
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "multiuser_kernel_test: needs root (setresuid to three uids)\n");
        return 1;
    }
    if (unshare(CLONE_NEWIPC) != 0) {
        fprintf(stderr, "multiuser_kernel_test: unshare(CLONE_NEWIPC): %s\n", strerror(errno));
        return 1;
    }
    g_key_set = testutil_key(1);
    g_key_shm = testutil_key(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_giveaway_grants_exactly_two_uids, testutil_purge_fixture),
        cmocka_unit_test_setup(test_cuid_never_changes, testutil_purge_fixture),
        cmocka_unit_test_setup(test_server_set_readable_not_alterable, testutil_purge_fixture),
        cmocka_unit_test_setup(test_doorbell_alter_only, testutil_purge_fixture),
        cmocka_unit_test_setup(test_undo_releases_given_token, testutil_purge_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
