/*
 * sysv_fault_test.c - every SysV call the library makes, made to fail in
 * turn.
 *
 * The target links the library statically with -Wl,--wrap for shmget,
 * shmat, shmdt, shmctl, semget, semctl and semtimedop, so each call from
 * inside the library lands in a __wrap_X below. By default a wrapper counts
 * the call and passes it to the real one (__real_X); armed, it fails the
 * Nth call of one function with one errno, without calling the kernel.
 *
 * For each phase (shmchan_server_create on a free key, shmchan_client_connect
 * to a live server, shmchan_server_close with a client connected) the test
 * first counts the calls in pass-through mode, then for every call k and
 * every errno the man page documents for that function, fails call k and
 * checks:
 *   - the phase returns what src/sysv.c's errno mapping documents (the
 *     table below is written from that documentation, not computed by the
 *     library), refined where docs/lifecycle.md says so (a failed probe is
 *     FOREIGN; EEXIST on create is BUSY; EINTR is retried);
 *   - the diag carries that code and names the failing call;
 *   - no SysV object and no attachment is left that the kernel would not
 *     have left (counted in /proc/sysvipc from inside the test's own IPC
 *     namespace): every error path rolls back.
 * Mismatches are collected and printed all together, then the test fails
 * once, so one run shows every broken error path.
 */
/* semtimedop(2), SEM_STAT/SEM_INFO (semctl commands the wrapper must
 * recognise) are GNU extensions of <sys/sem.h>. */
#define _GNU_SOURCE 1

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>

#include <cmocka.h>

#include "src/layout.h"
#include "src/shmchan.h"
#include "tests/testutil.h"

/* ------------------------------------------------------------ wrappers */

union test_semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
    struct seminfo *info;
};

int __real_shmget(key_t key, size_t size, int shmflg);
void *__real_shmat(int shmid, const void *shmaddr, int shmflg);
int __real_shmdt(const void *shmaddr);
int __real_shmctl(int shmid, int cmd, struct shmid_ds *buf);
int __real_semget(key_t key, int nsems, int semflg);
int __real_semctl(int semid, int semnum, int cmd, ...);
int __real_semtimedop(int semid, struct sembuf *sops, size_t nsops,
                      const struct timespec *timeout);

int __wrap_shmget(key_t key, size_t size, int shmflg);
void *__wrap_shmat(int shmid, const void *shmaddr, int shmflg);
int __wrap_shmdt(const void *shmaddr);
int __wrap_shmctl(int shmid, int cmd, struct shmid_ds *buf);
int __wrap_semget(key_t key, int nsems, int semflg);
int __wrap_semctl(int semid, int semnum, int cmd, ...);
int __wrap_semtimedop(int semid, struct sembuf *sops, size_t nsops,
                      const struct timespec *timeout);

enum sys_fn {
    FN_SHMGET,
    FN_SHMAT,
    FN_SHMDT,
    FN_SHMCTL,
    FN_SEMGET,
    FN_SEMCTL,
    FN_SEMTIMEDOP,
    FN_COUNT
};

static const char *const k_fn_name[FN_COUNT] = {"shmget", "shmat",  "shmdt",     "shmctl",
                                                "semget", "semctl", "semtimedop"};

/* Calls per function since the last reset (the test is single-threaded). */
static unsigned g_calls[FN_COUNT];

static struct {
    int armed;
    enum sys_fn fn;
    unsigned nth;
    int err;
    int fired;
} g_fault;

/* What the failed call was asked to do: says where in the library it was. */
static struct {
    int flags;          /* shmget/semget */
    int cmd;            /* shmctl/semctl */
    size_t nops;        /* semtimedop */
    struct sembuf ops[4];
    int zero_timeout;   /* semtimedop: {0, 0}, i.e. "do not wait" */
    const void *addr;   /* shmdt */
} g_failed;

/* Live attachments of this process, so a detach the test made fail can be
 * done for real afterwards. */
#define MAX_TRACKED 16
static const void *g_attached[MAX_TRACKED];

static int inject(enum sys_fn fn)
{
    g_calls[fn]++;
    if (!g_fault.armed || g_fault.fired || g_fault.fn != fn || g_calls[fn] != g_fault.nth) {
        return 0;
    }
    g_fault.fired = 1;
    memset(&g_failed, 0, sizeof g_failed);
    return 1;
}

int __wrap_shmget(key_t key, size_t size, int shmflg)
{
    if (inject(FN_SHMGET)) {
        g_failed.flags = shmflg;
        errno = g_fault.err;
        return -1;
    }
    return __real_shmget(key, size, shmflg);
}

void *__wrap_shmat(int shmid, const void *shmaddr, int shmflg)
{
    if (inject(FN_SHMAT)) {
        g_failed.flags = shmflg;
        errno = g_fault.err;
        return (void *)-1;
    }
    void *p = __real_shmat(shmid, shmaddr, shmflg);
    if (p != (void *)-1) {
        for (int i = 0; i < MAX_TRACKED; i++) {
            if (g_attached[i] == NULL) {
                g_attached[i] = p;
                break;
            }
        }
    }
    return p;
}

int __wrap_shmdt(const void *shmaddr)
{
    if (inject(FN_SHMDT)) {
        g_failed.addr = shmaddr;
        errno = g_fault.err;
        return -1;
    }
    const int r = __real_shmdt(shmaddr);
    if (r == 0) {
        for (int i = 0; i < MAX_TRACKED; i++) {
            if (g_attached[i] == shmaddr) {
                g_attached[i] = NULL;
            }
        }
    }
    return r;
}

int __wrap_shmctl(int shmid, int cmd, struct shmid_ds *buf)
{
    if (inject(FN_SHMCTL)) {
        g_failed.cmd = cmd;
        errno = g_fault.err;
        return -1;
    }
    return __real_shmctl(shmid, cmd, buf);
}

int __wrap_semget(key_t key, int nsems, int semflg)
{
    if (inject(FN_SEMGET)) {
        g_failed.flags = semflg;
        errno = g_fault.err;
        return -1;
    }
    return __real_semget(key, nsems, semflg);
}

/* semctl(2): the fourth argument exists only for these commands; glibc's
 * own semctl reads it under the same condition. */
int __wrap_semctl(int semid, int semnum, int cmd, ...)
{
    union test_semun arg = {.buf = NULL};
    if (testutil_semctl_takes_arg(cmd)) {
        va_list ap;
        va_start(ap, cmd);
        arg = va_arg(ap, union test_semun);
        va_end(ap);
    }
    if (inject(FN_SEMCTL)) {
        g_failed.cmd = cmd;
        errno = g_fault.err;
        return -1;
    }
    return __real_semctl(semid, semnum, cmd, arg);
}

int __wrap_semtimedop(int semid, struct sembuf *sops, size_t nsops,
                      const struct timespec *timeout)
{
    if (inject(FN_SEMTIMEDOP)) {
        g_failed.nops = nsops;
        for (size_t i = 0; i < nsops && i < 4; i++) {
            g_failed.ops[i] = sops[i];
        }
        g_failed.zero_timeout =
            timeout != NULL && timeout->tv_sec == 0 && timeout->tv_nsec == 0;
        errno = g_fault.err;
        return -1;
    }
    return __real_semtimedop(semid, sops, nsops, timeout);
}

static void fault_arm(enum sys_fn fn, unsigned nth, int err)
{
    memset(g_calls, 0, sizeof g_calls);
    g_fault.armed = 1;
    g_fault.fn = fn;
    g_fault.nth = nth;
    g_fault.err = err;
    g_fault.fired = 0;
}

static void fault_disarm(void)
{
    g_fault.armed = 0;
}

/* ------------------------------------------------ what the docs promise */

/* Each errno the man pages document for each function. */
static const int k_shmget_errnos[] = {EACCES, EEXIST, EINVAL, ENFILE,
                                      ENOENT, ENOMEM, ENOSPC, EPERM};
static const int k_shmat_errnos[] = {EACCES, EIDRM, EINVAL, ENOMEM};
static const int k_shmdt_errnos[] = {EINVAL};
static const int k_shmctl_errnos[] = {EACCES, EFAULT,    EIDRM, EINVAL,
                                      ENOMEM, EOVERFLOW, EPERM, ERANGE};
static const int k_semget_errnos[] = {EACCES, EEXIST, EINVAL, ENOENT, ENOMEM, ENOSPC};
static const int k_semctl_errnos[] = {EACCES, EFAULT, EIDRM, EINVAL, EPERM, ERANGE};
static const int k_semtimedop_errnos[] = {E2BIG, EACCES, EAGAIN, EFAULT, EFBIG,
                                          EIDRM, EINTR, EINVAL, ENOMEM, ERANGE};

struct errno_list {
    const int *errnos;
    size_t count;
};

#define ERRNO_LIST(a) {a, sizeof a / sizeof a[0]}
static const struct errno_list k_errnos[FN_COUNT] = {
    ERRNO_LIST(k_shmget_errnos), ERRNO_LIST(k_shmat_errnos),  ERRNO_LIST(k_shmdt_errnos),
    ERRNO_LIST(k_shmctl_errnos), ERRNO_LIST(k_semget_errnos), ERRNO_LIST(k_semctl_errnos),
    ERRNO_LIST(k_semtimedop_errnos),
};

/* src/sysv.c, shmchan_sys_map_errno, as documented there: EEXIST "already
 * running", ENOENT not found, EACCES/EPERM permission, EIDRM closed
 * (removed), EINVAL a limit for get and "removed" for an existing id,
 * ENOSPC/ENFILE/E2BIG/ERANGE/EMFILE limits, ENOMEM memory, EAGAIN timeout, EINTR
 * interrupted, EFBIG invalid argument, anything else a system error.
 * It resembles the switch in src/sysv.c on purpose and must not share code
 * with it: an oracle taken from the code under test agrees with its bugs. */
static shmchan_err_t documented_mapping(int e, enum sys_fn fn)
{
    const int is_get = (fn == FN_SHMGET || fn == FN_SEMGET);
    switch (e) {
    case EEXIST:
        return SHMCHAN_E_ALREADY_RUNNING;
    case ENOENT:
        return SHMCHAN_E_NOT_FOUND;
    case EACCES:
    case EPERM:
        return SHMCHAN_E_PERMISSION;
    case EIDRM:
        return SHMCHAN_E_CLOSED;
    case EINVAL:
        return is_get ? SHMCHAN_E_LIMIT : SHMCHAN_E_CLOSED;
    case ENOSPC:
    case ENFILE:
    case E2BIG:
    case ERANGE:
    case EMFILE:
        return SHMCHAN_E_LIMIT;
    case ENOMEM:
        return SHMCHAN_E_NO_MEMORY;
    case EAGAIN:
        return SHMCHAN_E_TIMEOUT;
    case EINTR:
        return SHMCHAN_E_INTERRUPTED;
    case EFBIG:
        return SHMCHAN_E_INVALID_ARGUMENT;
    default:
        return SHMCHAN_E_SYSTEM;
    }
}

enum phase { PHASE_CREATE, PHASE_CONNECT, PHASE_CLOSE, PHASE_COUNT };
static const char *const k_phase_name[PHASE_COUNT] = {"server_create", "client_connect",
                                                      "server_close"};

/* Where in the library the failed call was, from its arguments. */
enum site {
    SITE_PLAIN,      /* an ordinary call: the documented mapping */
    SITE_PROBE,      /* server_create's look at the key before creating */
    SITE_CREATE,     /* shmget/semget with IPC_CREAT|IPC_EXCL */
    SITE_POST,       /* a binary wake post {sem == 0 NOWAIT, sem + 1} */
    SITE_CLAIM,      /* a client's slot claim (3 ops) */
    SITE_WAIT_READY, /* a client's {READY - 1, READY + 1} */
    SITE_REMOVE,     /* IPC_RMID */
    SITE_DETACH      /* shmdt */
};

static enum site classify(enum phase phase, enum sys_fn fn)
{
    switch (fn) {
    case FN_SHMGET:
    case FN_SEMGET:
        if ((g_failed.flags & IPC_CREAT) != 0) {
            return SITE_CREATE;
        }
        return phase == PHASE_CREATE ? SITE_PROBE : SITE_PLAIN;
    case FN_SEMTIMEDOP:
        if (g_failed.nops == 3) {
            return SITE_CLAIM;
        }
        if (g_failed.nops == 2 && g_failed.ops[0].sem_op == 0 && g_failed.ops[1].sem_op == 1) {
            return SITE_POST;
        }
        if (g_failed.nops == 2 && g_failed.ops[0].sem_num == SHMCHAN_SEM_READY &&
            g_failed.ops[0].sem_op == -1) {
            return SITE_WAIT_READY;
        }
        return SITE_PLAIN;
    case FN_SHMCTL:
    case FN_SEMCTL:
        return g_failed.cmd == IPC_RMID ? SITE_REMOVE : SITE_PLAIN;
    case FN_SHMDT:
        return SITE_DETACH;
    default:
        return SITE_PLAIN;
    }
}

struct expectation {
    shmchan_err_t err;
    shmchan_err_t also;    /* a second acceptable result (or the same) */
    const char *diag_has;  /* NULL: the failing call's name and strerror */
    int name_in_diag;      /* require the call's name and errno in the diag */
};

static struct expectation expect_for(enum phase phase, enum site site, enum sys_fn fn, int e)
{
    struct expectation x = {documented_mapping(e, fn), documented_mapping(e, fn), NULL, 1};
    if (fn == FN_SEMTIMEDOP && e == EINTR) {
        /* semop(2) is never restarted; sysv.c retries on the time left. */
        x.err = x.also = SHMCHAN_OK;
        return x;
    }
    switch (site) {
    case SITE_PROBE:
        /* ENOENT is what the kernel says for a free key anyway. Any other
         * failure leaves the key unidentifiable: lifecycle.md, "not
         * readable" -> FOREIGN, touch nothing. */
        if (e == ENOENT) {
            x.err = x.also = SHMCHAN_OK;
        } else {
            x.err = x.also = SHMCHAN_E_FOREIGN;
            x.diag_has = strerror(e);
            x.name_in_diag = 0;
        }
        break;
    case SITE_CREATE:
        if (e == EEXIST) {
            /* lifecycle.md, Create step 3: lost the race -> BUSY. */
            x.err = x.also = SHMCHAN_E_BUSY;
            x.diag_has = "another server";
            x.name_in_diag = 0;
        }
        break;
    case SITE_POST:
        if (e == EAGAIN) {
            x.err = x.also = SHMCHAN_OK; /* wake.h: already 1 is success */
        } else if (phase == PHASE_CLOSE) {
            /* Closing removes the set next, which wakes everyone anyway. */
            x.err = x.also = SHMCHAN_OK;
        }
        break;
    case SITE_CLAIM:
        if (e == EAGAIN) {
            x.err = x.also = SHMCHAN_OK; /* that slot is taken: the next one */
        }
        break;
    case SITE_WAIT_READY:
        if (e == EAGAIN) {
            /* A look that found READY not yet posted (the first one does
             * not wait) or a slice that timed out: the client waits on, in
             * slices, until its own deadline (client.c wait_ready); READY
             * is posted here, so the next slice succeeds. */
            x.err = x.also = SHMCHAN_OK;
        }
        break;
    case SITE_REMOVE:
    case SITE_DETACH:
        /* EIDRM/EINVAL: the object (or attachment) is gone already, which
         * is what close wanted; either answer is defensible. */
        if (e == EIDRM || e == EINVAL) {
            x.also = SHMCHAN_OK;
        }
        break;
    case SITE_PLAIN:
        if (fn == FN_SEMTIMEDOP && e == EAGAIN && g_failed.zero_timeout) {
            x.err = x.also = SHMCHAN_E_WOULD_BLOCK; /* sysv.h: timeout 0 */
        } else if (fn == FN_SEMGET && e == ENOENT && phase == PHASE_CONNECT) {
            x.diag_has = "no shmchan server";
            x.name_in_diag = 0;
        }
        break;
    }
    return x;
}

/* ----------------------------------------------------------- the world */

#define MAX_CLIENTS 2u

struct world {
    key_t key;
    shmchan_server_t *srv;
    shmchan_client_t *cli;
};

static unsigned g_mismatches;
static char g_case[160];

static void mismatch(const char *fmt, ...) CMOCKA_PRINTF_ATTRIBUTE(1, 2);

static void mismatch(const char *fmt, ...)
{
    char what[320];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    print_error("%s: %s\n", g_case, what);
    g_mismatches++;
}

static shmchan_err_t server_create(struct world *w, shmchan_diag_t *d)
{
    shmchan_server_options_t o;
    shmchan_server_options_init(&o);
    o.max_clients = MAX_CLIENTS;
    o.max_payload = 64;
    o.lane_capacity = 256;
    return shmchan_server_create(w->key, &o, &w->srv, d);
}

/* Pass-through set-up so the phase under test can run. */
static void prepare(enum phase phase, struct world *w)
{
    memset(w, 0, sizeof *w);
    w->key = testutil_key(1);
    if (phase == PHASE_CREATE) {
        return;
    }
    assert_int_equal(server_create(w, NULL), SHMCHAN_OK);
    if (phase == PHASE_CONNECT) {
        return;
    }
    assert_int_equal(shmchan_client_connect(w->key, NULL, &w->cli, NULL), SHMCHAN_OK);
    shmchan_event_t ev;
    assert_int_equal(shmchan_server_wait(w->srv, 5000, &ev, NULL, 0), SHMCHAN_OK);
    assert_int_equal(ev.kind, SHMCHAN_EVENT_CONNECT);
}

static shmchan_err_t run_phase(enum phase phase, struct world *w, shmchan_diag_t *d)
{
    switch (phase) {
    case PHASE_CREATE:
        return server_create(w, d);
    case PHASE_CONNECT:
        return shmchan_client_connect(w->key, NULL, &w->cli, d);
    case PHASE_CLOSE:
    default:
        return shmchan_server_close(w->srv);
    }
}

/* Ends everything the phase left alive, through the library. */
static void finish_world(struct world *w)
{
    shmchan_client_disconnect(w->cli);
    w->cli = NULL;
    shmchan_server_destroy(w->srv);
    w->srv = NULL;
}

/* Removes what the kernel kept because the test refused a removal, so the
 * next case starts from nothing. */
static void purge(key_t key)
{
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (g_attached[i] != NULL) {
            (void)__real_shmdt(g_attached[i]);
            g_attached[i] = NULL;
        }
    }
    const int shmid = __real_shmget(key, 0, 0);
    if (shmid >= 0) {
        (void)__real_shmctl(shmid, IPC_RMID, NULL);
    }
    const int semid = __real_semget(key, 0, 0);
    if (semid >= 0) {
        (void)__real_semctl(semid, 0, IPC_RMID);
    }
}

static void check_counts(int shm, int sem, long attach)
{
    const int shm_now = testutil_count_shm();
    const int sem_now = testutil_count_sem();
    const long attach_now = testutil_count_attach();
    if (shm_now != shm || sem_now != sem || attach_now != attach) {
        mismatch("left behind: %d segment(s), %d set(s), %ld attachment(s); expected %d, %d, %ld",
                 shm_now, sem_now, attach_now, shm, sem, attach);
    }
}

static void check_result(const struct expectation *x, enum phase phase, enum sys_fn fn, int e,
                         shmchan_err_t err, const shmchan_diag_t *d)
{
    if (err != x->err && err != x->also) {
        mismatch("returned %s, expected %s", shmchan_errname(err), shmchan_errname(x->err));
        return;
    }
    if (err == SHMCHAN_OK || phase == PHASE_CLOSE) {
        return; /* server_close takes no diag */
    }
    if (d->code != err) {
        mismatch("diag.code %s, returned %s (diag \"%s\")", shmchan_errname(d->code),
                 shmchan_errname(err), d->text);
    }
    if (x->diag_has != NULL && strstr(d->text, x->diag_has) == NULL) {
        mismatch("diag \"%s\" lacks \"%s\"", d->text, x->diag_has);
    }
    if (x->name_in_diag) {
        if (strstr(d->text, k_fn_name[fn]) == NULL || strstr(d->text, strerror(e)) == NULL) {
            mismatch("diag \"%s\" does not name the failing %s (%s)", d->text, k_fn_name[fn],
                     strerror(e));
        } else if (d->sys_errno != e) {
            mismatch("diag.sys_errno %d, expected %d", d->sys_errno, e);
        }
    }
}

/* What may remain after the phase, given which call failed: nothing the
 * library could have removed; what the kernel refused to remove stays. */
static void check_leftovers(enum phase phase, enum site site, enum sys_fn fn, shmchan_err_t err,
                            struct world *w)
{
    switch (phase) {
    case PHASE_CREATE:
        if (err != SHMCHAN_OK) {
            check_counts(0, 0, 0);
        }
        break;
    case PHASE_CONNECT:
        if (err != SHMCHAN_OK) {
            check_counts(1, 1, 1); /* the server's, nothing of the client */
            const int semid = shmchan_server_semid(w->srv);
            for (uint32_t s = 0; s < MAX_CLIENTS; s++) {
                const int semnum =
                    (int)(SHMCHAN_SEM_FIXED + SHMCHAN_SEM_PER_SLOT * s + SHMCHAN_SEM_SLOT_OWNER);
                const int owner = __real_semctl(semid, semnum, GETVAL);
                if (owner != 0) {
                    mismatch("slot %u still owned (OWNER = %d) after a failed connect", s, owner);
                }
            }
        }
        break;
    case PHASE_CLOSE: {
        /* The client leaves first: it may hold the last attachment. */
        shmchan_client_disconnect(w->cli);
        w->cli = NULL;
        const int refused_sem = (site == SITE_REMOVE && fn == FN_SEMCTL);
        const int refused_shm = (site == SITE_REMOVE && fn == FN_SHMCTL) || site == SITE_DETACH;
        check_counts(refused_shm, refused_sem, site == SITE_DETACH ? 1 : 0);
        break;
    }
    default:
        break;
    }
}

static void run_case(enum phase phase, enum sys_fn fn, unsigned nth, int e)
{
    (void)snprintf(g_case, sizeof g_case, "%s: %s #%u fails with %s", k_phase_name[phase],
                   k_fn_name[fn], nth, strerrorname_np(e));
    struct world w;
    prepare(phase, &w);
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    fault_arm(fn, nth, e);
    const shmchan_err_t err = run_phase(phase, &w, &d);
    fault_disarm();
    if (!g_fault.fired) {
        mismatch("the call was never made");
    } else {
        const enum site site = classify(phase, fn);
        const struct expectation x = expect_for(phase, site, fn, e);
        check_result(&x, phase, fn, e, err, &d);
        check_leftovers(phase, site, fn, err, &w);
    }
    finish_world(&w);
    purge(w.key);
    if (testutil_count_shm() != 0 || testutil_count_sem() != 0 ||
        testutil_count_attach() != 0) {
        mismatch("could not clean up after the case");
    }
}

static void run_phase_faults(enum phase phase)
{
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
    g_mismatches = 0;

    /* Pass-through: how many calls of each function does the phase make? */
    struct world w;
    prepare(phase, &w);
    memset(g_calls, 0, sizeof g_calls);
    shmchan_diag_t d;
    memset(&d, 0, sizeof d);
    const shmchan_err_t err = run_phase(phase, &w, &d);
    if (err != SHMCHAN_OK) {
        print_error("%s: %s (%s)\n", k_phase_name[phase], shmchan_errname(err), d.text);
    }
    assert_int_equal(err, SHMCHAN_OK);
    unsigned counts[FN_COUNT];
    memcpy(counts, g_calls, sizeof counts);
    finish_world(&w);
    purge(w.key);

    unsigned cases = 0;
    for (int fn = 0; fn < FN_COUNT; fn++) {
        print_message("%s: %u %s call(s)\n", k_phase_name[phase], counts[fn], k_fn_name[fn]);
        for (unsigned k = 1; k <= counts[fn]; k++) {
            for (size_t i = 0; i < k_errnos[fn].count; i++) {
                run_case(phase, (enum sys_fn)fn, k, k_errnos[fn].errnos[i]);
                cases++;
            }
        }
    }
    print_message("%s: %u injected failures, %u mismatch(es)\n", k_phase_name[phase], cases,
                  g_mismatches);
    assert_true(cases > 0);
    assert_int_equal(g_mismatches, 0);
}

static void test_server_create_faults(void **state)
{
    (void)state;
    run_phase_faults(PHASE_CREATE);
}

static void test_client_connect_faults(void **state)
{
    (void)state;
    run_phase_faults(PHASE_CONNECT);
}

static void test_server_close_faults(void **state)
{
    (void)state;
    run_phase_faults(PHASE_CLOSE);
}

/* Listing: the kernel's SHM_INFO / SEM_INFO refused is an error, never an
 * empty list that reads "no channels here" (found by mutation testing:
 * ignoring the failure of either survived). */
static void test_list_info_faults(void **state)
{
    (void)state;
    static const enum sys_fn fns[] = {FN_SHMCTL, FN_SEMCTL};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        size_t count = 99;
        shmchan_diag_t d;
        memset(&d, 0, sizeof d);
        fault_arm(fns[i], 1, EPERM);
        const shmchan_err_t err = shmchan_list(NULL, 0, &count, 1, &d);
        fault_disarm();
        print_message("list, %s #1 fails with EPERM: %s (%s)\n", k_fn_name[fns[i]],
                      shmchan_errname(err), d.text);
        assert_true(g_fault.fired);
        assert_int_equal(err, SHMCHAN_E_PERMISSION);
    }
}

/* A set that IPC_STAT could read but GETALL could not (removed in
 * between: EIDRM) is FOREIGN, and the info describes no part of it: the
 * owner and mode fields stay empty, as for any object that could not be
 * read whole, rather than half of what the probe saw (found by mutation
 * testing: filling them from the set's IPC_STAT survived). */
static void test_inspect_set_unreadable(void **state)
{
    (void)state;
    const key_t key = testutil_key(200);
    const int semid = __real_semget(key, (int)shmchan_layout_nsems(2), IPC_CREAT | IPC_EXCL | 0600);
    assert_true(semid >= 0);
    struct sembuf mark = {.sem_num = SHMCHAN_SEM_MARKER, .sem_op = SHMCHAN_SEM_MARKER_VALUE};
    assert_int_equal(semop(semid, &mark, 1), 0);
    int getall_failed = 0;
    for (unsigned nth = 1; nth <= 8 && !getall_failed; nth++) {
        shmchan_channel_info_t info;
        fault_arm(FN_SEMCTL, nth, EIDRM);
        const shmchan_err_t err = shmchan_inspect(key, &info, NULL);
        fault_disarm();
        if (!g_fault.fired || g_failed.cmd != GETALL) {
            continue;
        }
        getall_failed = 1;
        print_message("inspect, semctl #%u (GETALL) fails with EIDRM: %s: %s\n", nth,
                      shmchan_status_name(info.status), info.reason);
        assert_int_equal(err, SHMCHAN_OK);
        assert_int_equal(info.status, SHMCHAN_STATUS_FOREIGN);
        assert_int_equal(info.semid, semid);
        assert_int_equal(info.mode, 0);
    }
    assert_true(getall_failed);
    assert_int_equal(__real_semctl(semid, 0, IPC_RMID), 0);
    assert_int_equal(testutil_count_sem(), 0);
}

/* EINTR in the middle of a timed sleep is retried on the time left: the
 * call ends as it would have without the signal, not INTERRUPTED. */
static void test_eintr_in_timed_waits(void **state)
{
    (void)state;
    struct world w;
    prepare(PHASE_CLOSE, &w);
    shmchan_event_t ev;
    uint8_t buf[64];
    uint32_t len = 0;

    fault_arm(FN_SEMTIMEDOP, 1, EINTR);
    assert_int_equal(shmchan_server_wait(w.srv, 150, &ev, buf, sizeof buf), SHMCHAN_E_TIMEOUT);
    fault_disarm();
    assert_true(g_fault.fired);

    fault_arm(FN_SEMTIMEDOP, 1, EINTR);
    assert_int_equal(shmchan_client_recv(w.cli, buf, sizeof buf, &len, 150), SHMCHAN_E_TIMEOUT);
    fault_disarm();
    assert_true(g_fault.fired);

    finish_world(&w);
    purge(w.key);
    assert_int_equal(testutil_count_shm(), 0);
    assert_int_equal(testutil_count_sem(), 0);
    assert_int_equal(testutil_count_attach(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_create_faults),
        cmocka_unit_test(test_client_connect_faults),
        cmocka_unit_test(test_server_close_faults),
        cmocka_unit_test(test_eintr_in_timed_waits),
        cmocka_unit_test(test_list_info_faults),
        cmocka_unit_test(test_inspect_set_unreadable),
    };
    return cmocka_run_group_tests_name("sysv_fault", tests, NULL, NULL);
}
