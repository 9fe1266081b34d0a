/*
 * conn.c - a connection's own objects: their keys and the server's rule for
 * taking them (see conn.h; docs/multiuser.md). Pure: no system call.
 */
#include "conn.h"

#include <stdarg.h>
#include <stdio.h>

#include "layout.h"

/* splitmix64's finaliser: every bit of the channel key moves the base. */
static uint32_t mix(uint32_t channel)
{
    uint64_t x = (uint64_t)channel + 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t)(x ^ (x >> 31));
}

/* A channel's derived keys: one per slot, then the doorbell's. */
#define KEY_WINDOW (SHMCHAN_MAX_CLIENTS_LIMIT + 1u)

/* 1 if `point` lies in the window [base, base + KEY_WINDOW) of
 * free-running 32-bit keys. */
static int in_window(uint32_t base, uint32_t point)
{
    return point - base < KEY_WINDOW;
}

static uint32_t window_base(key_t channel)
{
    const uint32_t ch = (uint32_t)channel;
    uint32_t base = mix(ch);
    /* The window must hold neither 0 (IPC_PRIVATE) nor the channel's own
     * key. Windows one stride apart are disjoint, so each of the two
     * forbidden keys spoils at most one of them: the third is clean. */
    for (int attempt = 0; attempt < 2 && (in_window(base, 0u) || in_window(base, ch)); attempt++) {
        base += 2u * KEY_WINDOW;
    }
    return base;
}

key_t shmchan_conn_key(key_t channel, uint32_t slot)
{
    return (key_t)(window_base(channel) + (slot % SHMCHAN_MAX_CLIENTS_LIMIT));
}

key_t shmchan_doorbell_key(key_t channel)
{
    return (key_t)(window_base(channel) + SHMCHAN_MAX_CLIENTS_LIMIT);
}

int shmchan_conn_allowed(const shmchan_allow_t *allow, uid_t cuid, gid_t cgid,
                         const gid_t *member_of, size_t nmember_of)
{
    if (cuid == allow->server_uid) {
        return 1;
    }
    for (size_t i = 0; i < allow->nuids; i++) {
        if (allow->uids[i] == cuid) {
            return 1;
        }
    }
    for (size_t i = 0; i < allow->ngids; i++) {
        if (allow->gids[i] == cgid) {
            return 1;
        }
        for (size_t j = 0; j < nmember_of; j++) {
            if (allow->gids[i] == member_of[j]) {
                return 1;
            }
        }
    }
    return 0;
}

static shmchan_conn_decision_t decide(shmchan_conn_decision_t d, char *why, size_t len,
                                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static shmchan_conn_decision_t decide(shmchan_conn_decision_t d, char *why, size_t len,
                                      const char *fmt, ...)
{
    if (why != NULL && len > 0) {
        va_list ap;
        va_start(ap, fmt);
        (void)vsnprintf(why, len, fmt, ap);
        va_end(ap);
    }
    return d;
}

/* A connection's set, operated on, its client's token down. */
static int token_down(const shmchan_conn_facts_t *f)
{
    return f->sem_readable && f->sem.nsems == SHMCHAN_CONN_NSEMS && f->sem.otime != 0 &&
           f->owner_value == 0;
}

int shmchan_conn_dead_for(const shmchan_conn_facts_t *f, uid_t me)
{
    return f->sem_present && token_down(f) && (f->sem.uid == me || f->sem.cuid == me);
}

shmchan_conn_decision_t shmchan_conn_judge(const shmchan_conn_facts_t *f,
                                           const shmchan_allow_t *allow, char *why, size_t len)
{
    if (why != NULL && len > 0) {
        why[0] = '\0';
    }
    const shmchan_sys_sem_info_t *sem = &f->sem;
    if (!f->sem_present) {
        return SHMCHAN_CONN_ABSENT;
    }
    /* Not given to us: a client still setting up (it gives the set away
     * last), or anyone's object at this key. Either way we have no right
     * to it and it tells us nothing; the client's hello comes later. */
    if (!f->sem_readable || sem->uid != allow->server_uid) {
        if (!f->sem_readable) {
            return decide(SHMCHAN_CONN_PENDING, why, len,
                          "set %d is not readable by us: not given to us", sem->semid);
        }
        return decide(SHMCHAN_CONN_PENDING, why, len, "set %d belongs to uid %u, not to us",
                      sem->semid, (unsigned)sem->uid);
    }
    /* Given to us with its client's token down: the kernel's undo of a
     * client that died (or one that let go without removing). We own it,
     * nobody uses it: ours to remove, whoever made it - before the uid and
     * shape rules, or a refused client that died would hold the key for
     * good. */
    if (token_down(f)) {
        return decide(SHMCHAN_CONN_DEAD, why, len,
                      "set %d: the token of uid %u's client is down (pid %d)", sem->semid,
                      (unsigned)sem->cuid, (int)f->owner_pid);
    }
    /* Who it is comes next, from cuid, which only the kernel sets: a uid
     * that may not connect is refused before anything else of it is
     * looked at (and no byte of it is ever read). */
    if (!shmchan_conn_allowed(allow, sem->cuid, sem->cgid, f->member_of, f->nmember_of)) {
        return decide(SHMCHAN_CONN_REFUSE_UID, why, len,
                      "set %d was created by uid %u (gid %u), which may not connect",
                      sem->semid, (unsigned)sem->cuid, (unsigned)sem->cgid);
    }
    if (sem->nsems != SHMCHAN_CONN_NSEMS || sem->mode != SHMCHAN_CONN_MODE || sem->otime == 0) {
        return decide(SHMCHAN_CONN_REFUSE_SHAPE, why, len,
                      "set %d: %u semaphores, mode %04o, %s (want %u, %04o, a token taken)",
                      sem->semid, sem->nsems, sem->mode,
                      sem->otime == 0 ? "never operated" : "operated", SHMCHAN_CONN_NSEMS,
                      SHMCHAN_CONN_MODE);
    }
    /* A verdict already in: an earlier server of this channel judged it
     * (it was killed, and its client has not noticed yet: it will, from
     * SERVER on its own set) - or we refused it. Taking it over would
     * answer a client that never asked us, in lanes it is using. */
    if (f->verdict_value != SHMCHAN_CONN_VERDICT_PENDING) {
        return decide(SHMCHAN_CONN_JUDGED, why, len, "set %d: verdict %d is in already",
                      sem->semid, f->verdict_value);
    }
    const shmchan_sys_shm_info_t *shm = &f->shm;
    if (!f->shm_present || !f->shm_readable) {
        return decide(SHMCHAN_CONN_REFUSE_SHAPE, why, len,
                      "set %d is given to us but the segment at its key is %s", sem->semid,
                      f->shm_present ? "not (readable: not given to us)" : "missing");
    }
    /* The segment must be the same client's (same creator uid), given to
     * us too, of exactly the size our layout says, attached by one process
     * only, and that process must be the one holding the token: a token
     * held by another process of the same uid would let the segment's
     * creator die unnoticed. */
    if (shm->uid != allow->server_uid || shm->cuid != sem->cuid || shm->mode != SHMCHAN_CONN_MODE ||
        shm->segsz != f->conn_size || shm->nattch != 1 || shm->cpid != f->owner_pid ||
        f->owner_value != 1) {
        return decide(SHMCHAN_CONN_REFUSE_SHAPE, why, len,
                      "segment %d: owner %u creator %u mode %04o size %llu attached %llu, "
                      "creator pid %d, token %d held by pid %d (want owner %u, creator %u, "
                      "%04o, %llu bytes, attached once, by the token's holder)",
                      shm->shmid, (unsigned)shm->uid, (unsigned)shm->cuid, shm->mode,
                      (unsigned long long)shm->segsz, (unsigned long long)shm->nattch,
                      (int)shm->cpid, f->owner_value, (int)f->owner_pid,
                      (unsigned)allow->server_uid, (unsigned)sem->cuid, SHMCHAN_CONN_MODE,
                      (unsigned long long)f->conn_size);
    }
    return SHMCHAN_CONN_ACCEPT;
}

void shmchan_conn_modes(const shmchan_allow_t *allow, shmchan_conn_modes_t *out)
{
    size_t other_uids = 0;
    for (size_t i = 0; i < allow->nuids; i++) {
        other_uids += allow->uids[i] != allow->server_uid;
    }
    out->doorbell_set_gid = 0;
    out->doorbell_gid = 0;
    if (other_uids == 0 && allow->ngids == 0) {
        out->server_mode = 0600;
        out->doorbell_mode = 0600;
        return;
    }
    out->server_mode = 0644; /* the header only */
    if (other_uids == 0 && allow->ngids == 1) {
        out->doorbell_mode = 0620;
        out->doorbell_set_gid = 1;
        out->doorbell_gid = allow->gids[0];
        return;
    }
    out->doorbell_mode = 0622;
}

const char *shmchan_conn_decision_name(shmchan_conn_decision_t decision)
{
    switch (decision) {
    case SHMCHAN_CONN_ABSENT:
        return "ABSENT";
    case SHMCHAN_CONN_PENDING:
        return "PENDING";
    case SHMCHAN_CONN_ACCEPT:
        return "ACCEPT";
    case SHMCHAN_CONN_REFUSE_UID:
        return "REFUSE_UID";
    case SHMCHAN_CONN_REFUSE_SHAPE:
        return "REFUSE_SHAPE";
    case SHMCHAN_CONN_DEAD:
        return "DEAD";
    case SHMCHAN_CONN_JUDGED:
        return "JUDGED";
    }
    return "?";
}
